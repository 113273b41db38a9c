"""`fscc recordings`: recording retention and legal hold, for cron and for the compliance officer.

    fscc recordings prune --older-than 90d [--config fscc.yaml] [--db URL] [--dry-run] [--json]
    fscc recordings hold PATH... / fscc recordings release PATH...

Exit codes as `fscc crm-sync`: 0 all good, 1 some files refused or not deletable, 2
configuration or database error (nothing deleted).
"""

from __future__ import annotations

import json
import sys

import click

from fs_scripts.errors import FsccError


def _settings(config: str | None):  # noqa: ANN202 - fs_scripts.settings.Settings, imported lazily
    from fs_scripts.settings import load_settings

    return load_settings(config)


def _db(settings, db: str | None) -> str:  # noqa: ANN001
    from fs_scripts.embedded import db_url

    return db or db_url(settings)


def _fail(exc: FsccError, as_json: bool, what: str) -> None:
    if as_json:
        click.echo(json.dumps({"error": exc.code, "message": str(exc), "exit_code": exc.exit_code}))
    click.echo(f"fscc recordings {what}: error [{exc.code}]: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group("recordings")
def recordings() -> None:
    """Recording retention and legal hold."""


@recordings.command("prune")
@click.option("--older-than", "older_than", default="0d", show_default=True,
              help="Never delete a recording younger than this (90d, 12h, 2w); the tenant's retention also applies.")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None, help="fscc.yaml to read.")
@click.option("--db", default=None, help="CRM database URL (default: db_url, else SQLite under data_dir).")
@click.option("--recordings-dir", "recordings_dir", type=click.Path(file_okay=False), default=None,
              help="Where the recordings are (default: recordings_dir of fscc.yaml).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def prune_command(older_than: str, config: str | None, db: str | None, recordings_dir: str | None,
                  dry_run: bool, as_json: bool) -> None:
    """Delete recordings past their tenant's retention (never one under legal hold) and mark
    them deleted in the CRM."""
    from pathlib import Path

    from crm_sync.retention import PruneOptions, parse_age, prune, tenant_retention

    try:
        settings = _settings(config)
        rec = settings.recording
        options = PruneOptions(
            db_url=_db(settings, db),
            recordings_dir=Path(recordings_dir) if recordings_dir else Path(settings.recordings_dir),
            older_than_s=parse_age(older_than),
            retention_days=tenant_retention({name: t.retention_days for name, t in rec.tenants.items()},
                                            rec.default.retention_days),
            dry_run=dry_run,
        )
        from fs_scripts.clock import REAL_CLOCK

        report = prune(options, now=REAL_CLOCK.now())
    except FsccError as exc:
        _fail(exc, as_json, "prune")
        return
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        for path in report.would_delete:
            click.echo(f"would delete {path}")
        for path in report.refused:
            click.echo(f"refused {path}: outside the recordings directory", err=True)
        for error in report.errors:
            click.echo(f"error {error}", err=True)
        click.echo(report.line())
    sys.exit(report.exit_code)


def _set_hold(paths: tuple[str, ...], config: str | None, db: str | None, hold: bool, as_json: bool) -> None:
    from crm_sync.retention import set_legal_hold

    what = "hold" if hold else "release"
    try:
        settings = _settings(config)
        changed, unknown = set_legal_hold(_db(settings, db), list(paths), hold)
    except FsccError as exc:
        _fail(exc, as_json, what)
        return
    if as_json:
        click.echo(json.dumps({"changed": changed, "unknown": unknown, "exit_code": 1 if unknown else 0}))
    else:
        for path in unknown:
            click.echo(f"unknown recording {path}", err=True)
        click.echo(f"{'held' if hold else 'released'} {changed} recordings")
    sys.exit(1 if unknown else 0)


@recordings.command("hold")
@click.argument("paths", nargs=-1, required=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None, help="fscc.yaml to read.")
@click.option("--db", default=None, help="CRM database URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def hold_command(paths: tuple[str, ...], config: str | None, db: str | None, as_json: bool) -> None:
    """Put recordings (by path, as the CRM lists them) under legal hold: prune keeps them."""
    _set_hold(paths, config, db, True, as_json)


@recordings.command("release")
@click.argument("paths", nargs=-1, required=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None, help="fscc.yaml to read.")
@click.option("--db", default=None, help="CRM database URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def release_command(paths: tuple[str, ...], config: str | None, db: str | None, as_json: bool) -> None:
    """Lift the legal hold of recordings."""
    _set_hold(paths, config, db, False, as_json)
