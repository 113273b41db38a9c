"""`fscc crm-sync`: put it in cron. Exit 0 all synced, 1 some files quarantined, 2 configuration
or database error (nothing moved). Imports neither gevent nor the ESL layer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crm_sync.sync import SyncOptions, run_sync
from fs_scripts.errors import FsccError


def options_from_settings(config: str | None, spool: str | None, db: str | None) -> SyncOptions:
    from fs_scripts.embedded import db_url
    from fs_scripts.settings import load_settings

    settings = load_settings(config)
    crm = settings.crm
    return SyncOptions(
        spool_dir=Path(spool) if spool else Path(settings.spool_dir),
        db_url=db or db_url(settings),
        batch_size=crm.batch_size,
        short_abandon_s=crm.short_abandon_s,
        settle_s=crm.settle_s,
        encoded_values=crm.encoded_values,
        archive_dir=crm.archive_dir,
        quarantine_dir=crm.quarantine_dir,
        recordings_dir=Path(settings.recordings_dir),
        parse_helper_min_files=crm.parse_helper_min_files,
    )


@click.command("crm-sync")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None, help="fscc.yaml to read.")
@click.option("--spool", type=click.Path(file_okay=False), default=None, help="CDR spool (default: spool_dir).")
@click.option("--db", default=None, help="CRM database URL (default: db_url, else SQLite under data_dir).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def crm_sync(config: str | None, spool: str | None, db: str | None, as_json: bool) -> None:
    """Move the switch's CDR spool into the CRM store: each leg exactly once."""
    try:
        report = run_sync(options_from_settings(config, spool, db))
    except FsccError as exc:
        if as_json:
            click.echo(json.dumps({"error": exc.code, "message": str(exc), "exit_code": exc.exit_code}))
        click.echo(f"fscc crm-sync: error [{exc.code}]: {exc}", err=True)
        sys.exit(exc.exit_code)
    click.echo(json.dumps(report.as_dict()) if as_json else report.line())
    sys.exit(report.exit_code)


if __name__ == "__main__":
    crm_sync()
