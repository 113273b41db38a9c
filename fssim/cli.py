"""`fscc sim`: run the simulated switch as its own process until SIGTERM / SIGINT.

Why a process of its own: the demo and tests that want isolation talk to it exactly as
`fscc serve` talks to a real FreeSWITCH, over the inbound Event Socket; everything else
(agents, carrier calls, registrations) is driven through the simulator-only `api fssim_*`
commands (fssim/README.md). It prints `fssim listening on HOST:PORT` on stderr once the port is
bound (port 0 gives a free one, and that line names it), so a parent process can wait for it.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from fs_scripts.errors import FsccError

logger = logging.getLogger(__name__)


class SimStartError(FsccError):
    """fssim could not start (the port is taken, a directory is not writable)."""

    code = "sim-start"
    exit_code = 2


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the inbound Event Socket.")
@click.option("--esl-port", type=click.IntRange(0, 65535), default=8021, show_default=True,
              help="Inbound Event Socket port (0: any free port, printed when ready).")
@click.option("--password", default="ClueCon", show_default=True, help="Event Socket password.")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where the mod_json_cdr files (<uuid>.cdr.json) are written.")
@click.option("--dialplan", "dialplan", type=click.Path(dir_okay=True, exists=True, path_type=Path), default=None,
              help="FreeSWITCH XML dialplan (a file or a directory of *.xml) run for new channels; "
                   "default: the capture switch's extensions (fssim/default_dialplan.xml).")
@click.option("--clock", "clock_kind", type=click.Choice(["real", "fast"]), default="real", show_default=True,
              help="fast: ring, playback and talk time pass as scaled simulated time.")
@click.option("--clock-scale", type=float, default=60.0, show_default=True,
              help="Simulated seconds per wall second with --clock fast.")
@click.option("--clock-epoch", type=float, default=None, help="Simulated start time (Unix seconds).")
@click.option("--recordings", "recordings_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Base directory for relative recording paths.")
@click.option("--domain", default="127.0.0.1", show_default=True,
              help="The directory's domain: ${domain_name} and the realm agent phones register in.")
@click.option("--agent", "agents", multiple=True, metavar="USER",
              help="A directory user whose phone is registered and answers after 2 s (repeatable); "
                   "tune with `api fssim_agent` over the Event Socket.")
def sim(host: str, esl_port: int, password: str, spool_dir: Path, dialplan: Path | None, clock_kind: str,
        clock_scale: float, clock_epoch: float | None, recordings_dir: Path | None, domain: str,
        agents: tuple[str, ...]) -> None:
    """Run fssim, an ESL-speaking FreeSWITCH simulator, until SIGTERM or SIGINT."""
    import gevent
    import gevent.event

    from fs_scripts.clock import make_clock
    from fssim.directory import DEFAULT_USERS, AgentBehaviour
    from fssim.simulator import Simulator

    try:
        clock = make_clock(clock_kind, clock_scale, clock_epoch)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--clock-scale") from exc
    try:
        spool_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimStartError(f"--spool {spool_dir}: {exc.strerror or exc}") from exc
    users = tuple(dict.fromkeys((*DEFAULT_USERS, *agents)))
    simulator = Simulator(password=password, spool_dir=spool_dir, dialplan=dialplan, clock=clock, host=host,
                          esl_port=esl_port, recordings_dir=recordings_dir, users=users, domain=domain)
    try:
        simulator.start()
    except OSError as exc:
        raise SimStartError(f"cannot listen on {host}:{esl_port}: {exc.strerror or exc}") from exc
    for user in agents:
        simulator.set_agent(user, AgentBehaviour())
    click.echo(f"fssim listening on {host}:{simulator.esl_port}", err=True)
    stopped = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopped.set)
    gevent.signal_handler(signal.SIGINT, stopped.set)
    try:
        stopped.wait()
    finally:
        logger.info("fssim stopping: hanging up %d channel(s)", len(simulator.channels))
        simulator.stop()
        click.echo("fssim stopped", err=True)
