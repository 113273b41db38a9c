"""`fscc conf`: FreeSWITCH's configuration and dialplan from one fscc.yaml.

    fscc conf render --config fscc.yaml --out DIR   write the tree that drops into a conf directory
    fscc conf check  --config fscc.yaml             validate everything render would, write nothing

Both exit non-zero on a broken configuration, printing every problem with its key path
(and the YAML line when the problem is in one value).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from fs_scripts.errors import FsccError


class ConfError(click.ClickException):
    """An fscc error shown the click way, keeping its exit code (2 for a bad configuration)."""

    def __init__(self, error: FsccError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


def _render(config_path: str | None, out_dir: Path | None, allow_default_password: bool):  # noqa: ANN202
    from fs_scripts.confgen.render import render
    from fs_scripts.settings import load_settings

    chosen = config_path or os.environ.get("FSCC_CONFIG") or "fscc.yaml"
    try:
        settings = load_settings(chosen)
        return render(settings, out_dir, allow_default_password=allow_default_password, source_name=Path(chosen).name)
    except FsccError as exc:
        raise ConfError(exc) from exc


_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="fscc.yaml to read (default: $FSCC_CONFIG, else ./fscc.yaml).",
)
_password_option = click.option(
    "--allow-default-password", is_flag=True,
    help="Accept esl.password 'ClueCon' (a lab switch only: CVE-2019-19492).",
)


@click.group("conf")
def conf() -> None:
    """FreeSWITCH configuration and dialplan rendered from fscc.yaml."""


@conf.command("render")
@_config_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the tree into (created if missing; rendered files are replaced).")
@_password_option
def render_command(config_path: str | None, out_dir: Path, allow_default_password: bool) -> None:
    """Write autoload_configs/, dialplan/, directory/, sip_profiles/ and systemd/ into OUT."""
    model, files = _render(config_path, out_dir, allow_default_password)
    for warning in model.warnings:
        click.echo(f"warning: {warning}", err=True)
    for f in files:
        click.echo(str(out_dir / f.path))
    click.echo(f"{len(files)} files written. Copy autoload_configs/, dialplan/, directory/ and sip_profiles/ "
               f"into {model.freeswitch_conf_dir} and run `fs_cli -x reloadxml` (a new SIP profile, module "
               "or event socket password needs a FreeSWITCH restart); systemd/ holds the units.", err=True)


@conf.command("check")
@_config_option
@_password_option
def check_command(config_path: str | None, allow_default_password: bool) -> None:
    """Validate fscc.yaml as `render` would (secrets included), without writing anything."""
    model, files = _render(config_path, None, allow_default_password)
    for warning in model.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"OK: {len(files)} files would be rendered "
               f"({len(model.dids)} DID routes, {len(model.agents)} agents, {len(model.trunks)} trunks)")
