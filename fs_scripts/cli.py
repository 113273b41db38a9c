"""The `fscc` command.

Subcommands live with the subsystem they drive (`fssim/cli.py`, `acd/cli.py`, ...) and are
imported only when invoked: `fscc --help` stays fast, and `fscc crm-sync` under cron never
imports gevent or the ESL layer. A subcommand whose module is not importable (an optional
extra missing) is listed with the reason instead of breaking the whole command.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any

import click

from fs_scripts import __version__
from fs_scripts.errors import FsccError

#: command name -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, str] = {
    "conf": "fs_scripts.confgen.cli:conf",
    "sim": "fssim.cli:sim",
    "serve": "fs_scripts.service:serve_command",
    "flow": "ivr_flows.cli:flow",
    "prompts": "ivr_flows.prompts:prompts",
    "agent": "acd.cli:agent",
    "queue": "acd.cli:queue",
    "crm-sync": "crm_sync.cli:crm_sync",
    "recordings": "fs_scripts.recording_cli:recordings",
    "report": "reports.cli:report",
    "staffing": "reports.cli:staffing",
    "demo": "fs_scripts.demo:demo",
}


def _module_exists(target: str) -> bool:
    module_name = target.split(":", 1)[0]
    return importlib.util.find_spec(module_name) is not None


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in SUBCOMMANDS.items() if _module_exists(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None or not _module_exists(target):
            return None
        module_name, attr = target.split(":", 1)
        try:
            return getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            reason = f"unavailable: {exc}"

            @click.command(cmd_name, help=reason)
            def unavailable() -> None:
                raise click.ClickException(reason)

            return unavailable


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="fscc")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """fscc: an open-source multimedia contact-center engine inside FreeSWITCH.

    IVR flows as Jinja templates, skills-based routing in Redis, recording hooks, a CRM
    store fed from the switch's CDRs, and KPIs a manager trusts.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: fscc's own errors become a message and their exit code."""
    try:
        return cli.main(args=argv, prog_name="fscc", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except FsccError as exc:
        click.echo(f"fscc: error [{exc.code}]: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
