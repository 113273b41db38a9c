"""`fscc agent` and `fscc queue`: agent state changes and live queue figures from the shell.

    fscc agent login AGENT            logged in, not ready yet (break, reason "login")
    fscc agent ready AGENT            available (--on-demand: one contact, then break)
    fscc agent break AGENT [REASON]   not ready, with a reason code (default "break")
    fscc agent logout AGENT           offline
    fscc agent status AGENT           state, registration, load, answers in the last 15/60 min
    fscc agent list                   every agent of the tenant
    fscc queue list                   every queue: waiting, longest wait, SL 15/60 min, agents
    fscc queue show QUEUE             one queue in full, with who waits and who can answer

Every command reads and writes the same live routing state as `fscc serve` (Redis: the
configured `redis_url`, else the embedded server under `data_dir`), so a state change here
is seen by every node at once and goes through the same transition table and Lua scripts.
`--json` prints the figures as JSON for scripts and wallboards.

Errors name the agent or queue and exit non-zero: 3 for an unknown agent, queue or tenant,
1 for a state change the transition table forbids, 2 for bad settings or no Redis.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from acd.errors import UnknownEntity
from fs_scripts.errors import FsccError

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class UnknownAgent(UnknownEntity):
    code = "unknown-agent"
    exit_code = 3

    def __init__(self, agent_id: str, tenant: str, configured: bool = False) -> None:
        super().__init__("agent", agent_id)
        if configured:
            why = "configured, but not in the routing state yet (`fscc agent login` or `fscc serve` puts it there)"
        else:
            why = "not in acd.agents of the settings and not in the routing state"
        self.args = (f"unknown agent {agent_id!r} in tenant {tenant!r}: {why}",)


class UnknownQueue(UnknownEntity):
    code = "unknown-queue"
    exit_code = 3

    def __init__(self, queue: str, tenant: str, known: Sequence[str], configured: bool = False) -> None:
        super().__init__("queue", queue)
        hint = " (it is in the settings but not yet in the routing state: has `fscc serve` run?)" if configured else ""
        self.args = (f"unknown queue {queue!r} in tenant {tenant!r}{hint} (known: {', '.join(known) or 'none'})",)


class UnknownTenant(UnknownEntity):
    code = "unknown-tenant"
    exit_code = 3

    def __init__(self, tenant: str, known: Sequence[str]) -> None:
        super().__init__("tenant", tenant)
        self.args = (f"unknown tenant {tenant!r} (tenants of the settings: {', '.join(known)})",)


class CliError(click.ClickException):
    """An fscc error shown the click way, keeping its code and exit code."""

    def __init__(self, error: FsccError) -> None:
        super().__init__(f"[{error.code}] {error}")
        self.exit_code = error.exit_code


# ================================================================== formatting (pure)

def duration(seconds: float | None) -> str:
    """12s, 3m05s, 2h01m; '-' for None."""
    if seconds is None:
        return "-"
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.1f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns two spaces apart; a column of numbers (or '-') is right-aligned, header too,
    except the first (ids)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    numeric = [i > 0 and bool(rows) and all(r[i][:1].isdigit() or r[i] == "-" for r in rows)
               for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if right else cell.ljust(w)
                         for cell, w, right in zip(cells, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _load(used: Mapping[str, int], capacity: Mapping[str, int]) -> str:
    return " ".join(f"{ch} {used.get(ch, 0)}/{n}" for ch, n in sorted(capacity.items())) or "-"


def agents_table(agents: Sequence[Any]) -> str:
    rows = [[a.agent_id, a.state.value, a.reason or "-", duration(a.in_activity_s), "yes" if a.registered else "no",
             _load(a.used, a.capacity), str(a.answered_15), str(a.answered_60), ",".join(a.queues) or "-"]
            for a in agents]
    return table(["AGENT", "STATE", "REASON", "FOR", "REGISTERED", "LOAD", "ANS15", "ANS60", "QUEUES"], rows)


def agent_detail(a: Any) -> str:
    lines = [
        f"agent      {a.agent_id} (tenant {a.tenant})",
        f"state      {a.state.value} (activity {a.activity.value}{', reason ' + a.reason if a.reason else ''}, "
        f"for {duration(a.in_activity_s)})",
        f"registered {'yes' if a.registered else 'no'}",
        f"load       {_load(a.used, a.capacity)}",
        f"tasks      {', '.join(a.tasks) or '-'}",
        f"queues     {', '.join(a.queues) or '-'}",
        f"answered   {a.answered_15} in 15 min, {a.answered_60} in 60 min (ASA {duration(a.asa_60_s)})",
        f"no-answers {a.no_answer_streak} in a row (offers in all: {a.offers})",
    ]
    return "\n".join(lines)


def _agents_summary(by_state: Mapping[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in by_state.items() if v) or "none"


def queues_table(queues: Sequence[Any]) -> str:
    rows = [[q.queue, str(q.waiting), duration(q.longest_wait_s), percent(q.service_level_15),
             percent(q.service_level_60), str(q.last_60.answered), str(q.last_60.abandoned),
             str(q.agents_by_state.get("available", 0)), str(q.agents - q.agents_by_state.get("offline", 0))]
            for q in queues]
    return table(["QUEUE", "WAITING", "LONGEST", "SL15", "SL60", "ANS60", "ABD60", "AVAILABLE", "LOGGED-IN"], rows)


def queue_detail(q: Any, waiting: Sequence[Any], agents: Sequence[Any]) -> str:
    lines = [f"queue        {q.queue} (tenant {q.tenant}), service level: answered within {q.service_level_s:g}s"]
    lines.append(f"waiting      {q.waiting}, longest {duration(q.longest_wait_s)}")
    for w in (q.last_15, q.last_60):
        lines.append(
            f"last {w.minutes:<2} min  SL {percent(w.service_level)} ({w.variant.value}), answered {w.answered}, "
            f"abandoned {w.abandoned} (+{w.short_abandoned} short), ASA {duration(w.asa_s)}, "
            f"abandon rate {percent(w.abandon_rate)}")
    lines.append(f"handle time  {duration(q.recent_handle_s)} (recent mean)")
    lines.append(f"agents       {_agents_summary(q.agents_by_state)}")
    if waiting:
        lines += ["", table(["TASK", "STATE", "CHANNEL", "PRIORITY", "WAITED", "RINGING"],
                            [[t.task_id, t.state, t.channel, str(t.priority), duration(t.waited_s),
                              ",".join(t.offered_to) or "-"] for t in waiting])]
    if agents:
        lines += ["", agents_table(agents)]
    return "\n".join(lines)


def to_json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            out = {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            for name in ("service_level", "asa_s", "abandon_rate", "service_level_15", "service_level_60"):
                if hasattr(type(v), name):
                    out[name] = plain(getattr(v, name))
            return out
        if isinstance(v, enum.Enum):
            return v.value
        if isinstance(v, Mapping):
            return {plain(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), indent=2, sort_keys=True)


# ================================================================== plumbing

@dataclass
class Options:
    """--config / --tenant, given before the subcommand (`fscc agent -c F ready A`) or after it
    (`fscc agent ready A -c F`); after wins."""

    config_path: str | None
    tenant: str | None

    def merged(self, config_path: str | None, tenant: str | None) -> Options:
        return Options(config_path or self.config_path, tenant or self.tenant)


@dataclass
class Session:
    settings: Any
    tenant: str
    router: Any
    stats: Any


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except FsccError as exc:
        raise CliError(exc) from exc


def _session(options: Options, agent_id: str | None = None) -> Session:
    """Settings, tenant, Redis, router and stats reader for one command."""
    from acd.router import Router
    from acd.stats import StatsRecorder
    from fs_scripts.clock import Clock
    from fs_scripts.embedded import open_redis
    from fs_scripts.settings import load_settings

    settings = load_settings(options.config_path or os.environ.get("FSCC_CONFIG") or None)
    tenant = options.tenant
    if tenant is None:
        configured = settings.acd.agents.get(agent_id) if agent_id else None
        tenant = configured.tenant if configured else "default"
    if tenant not in settings.tenants:
        raise UnknownTenant(tenant, sorted(settings.tenants))
    client = open_redis(settings)
    clock = Clock()
    router = Router(client, settings.acd, clock, tenant, f"cli-{os.getpid()}")
    stats = StatsRecorder(client, tenant, clock, short_abandon_s=float(settings.reports.short_abandon_s),
                          variant=settings.reports.service_level_variant, agent_cache_s=0)
    return Session(settings, tenant, router, stats)


def _known_worker(session: Session, agent_id: str) -> None:
    """The agent must exist in the routing state; a configured one not yet there is written
    there from the settings (with the queues), as `fscc serve` would at start-up."""
    if agent_id in set(session.router.worker_ids()):
        return
    configured = session.settings.acd.agents.get(agent_id)
    if configured is None or configured.tenant != session.tenant:
        raise UnknownAgent(agent_id, session.tenant)
    session.router.sync_config(agents=[agent_id])
    logger.info("agent %s written to the routing state from the settings", agent_id)


def _common_options(f: F) -> F:
    f = click.option("--tenant", "-t", default=None,
                     help="Tenant (default: the agent's configured tenant, else 'default').")(f)
    f = click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="fscc.yaml to read (default: $FSCC_CONFIG, else ./fscc.yaml if present).")(f)
    return f


def _change(options: Options, agent_id: str, action: Callable[[Any, str], Any], label: str) -> None:
    with _errors():
        session = _session(options, agent_id)
        _known_worker(session, agent_id)
        before = action(session.router, agent_id)
        after = session.router.worker(agent_id)
        reason = f" ({after.reason})" if after.reason else ""
        registered = "" if after.registered else " -- phone not registered: no calls until it registers"
        click.echo(f"agent {agent_id}: {before.value} -> {after.activity.value}{reason} [{label}]{registered}")


# ================================================================== fscc agent

@click.group("agent")
@_common_options
@click.pass_context
def agent(ctx: click.Context, config_path: str | None, tenant: str | None) -> None:
    """Agent state: login, ready, break, logout; status and list from the live routing state."""
    ctx.obj = Options(config_path, tenant)


@agent.command("login")
@click.argument("agent_id", metavar="AGENT")
@_common_options
@click.pass_obj
def agent_login(options: Options, agent_id: str, config_path: str | None, tenant: str | None) -> None:
    """Log AGENT in (not ready yet: break with reason 'login')."""
    _change(options.merged(config_path, tenant), agent_id, lambda r, a: r.login(a), "login")


@agent.command("ready")
@click.argument("agent_id", metavar="AGENT")
@click.option("--on-demand", is_flag=True, help="Take one contact, then go on break.")
@_common_options
@click.pass_obj
def agent_ready(options: Options, agent_id: str, on_demand: bool, config_path: str | None, tenant: str | None) -> None:
    """Make AGENT available for contacts."""
    _change(options.merged(config_path, tenant), agent_id, lambda r, a: r.ready(a, on_demand=on_demand), "ready")


@agent.command("break")
@click.argument("agent_id", metavar="AGENT")
@click.argument("reason", required=False, default="break")
@_common_options
@click.pass_obj
def agent_break(options: Options, agent_id: str, reason: str, config_path: str | None, tenant: str | None) -> None:
    """Put AGENT on break with a REASON code (lunch, training, ...; default 'break')."""
    if not reason.strip() or any(c in reason for c in "\r\n"):
        raise click.BadParameter("a reason code is one line of text", param_hint="REASON")
    _change(options.merged(config_path, tenant), agent_id, lambda r, a: r.take_break(a, reason.strip()), "break")


@agent.command("logout")
@click.argument("agent_id", metavar="AGENT")
@_common_options
@click.pass_obj
def agent_logout(options: Options, agent_id: str, config_path: str | None, tenant: str | None) -> None:
    """Log AGENT out (offline)."""
    _change(options.merged(config_path, tenant), agent_id, lambda r, a: r.logout(a), "logout")


@agent.command("status")
@click.argument("agent_id", metavar="AGENT")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_common_options
@click.pass_obj
def agent_status(options: Options, agent_id: str, as_json: bool, config_path: str | None, tenant: str | None) -> None:
    """Live state of AGENT: activity, registration, load, recent answers."""
    with _errors():
        session = _session(options.merged(config_path, tenant), agent_id)
        try:
            figures = session.stats.agent_stats(agent_id)
        except UnknownEntity:
            configured = session.settings.acd.agents.get(agent_id)
            raise UnknownAgent(agent_id, session.tenant, configured is not None
                               and configured.tenant == session.tenant) from None
        click.echo(to_json(figures) if as_json else agent_detail(figures))


@agent.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_common_options
@click.pass_obj
def agent_list(options: Options, as_json: bool, config_path: str | None, tenant: str | None) -> None:
    """Every agent of the tenant in the routing state."""
    with _errors():
        session = _session(options.merged(config_path, tenant))
        agents = session.stats.all_agents()
        click.echo(to_json(agents) if as_json else agents_table(agents))
        if not agents and not as_json:
            click.echo(f"no agent of tenant {session.tenant!r} in the routing state (has `fscc serve` run, "
                       f"or `fscc agent login`?)", err=True)


# ================================================================== fscc queue

@click.group("queue")
@_common_options
@click.pass_context
def queue(ctx: click.Context, config_path: str | None, tenant: str | None) -> None:
    """Live queue figures: waiting, longest wait, service level over 15/60 minutes, agents."""
    ctx.obj = Options(config_path, tenant)


@queue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_common_options
@click.pass_obj
def queue_list(options: Options, as_json: bool, config_path: str | None, tenant: str | None) -> None:
    """Every queue of the tenant."""
    with _errors():
        session = _session(options.merged(config_path, tenant))
        queues = session.stats.all_queues()
        click.echo(to_json(queues) if as_json else queues_table(queues))
        if not queues and not as_json:
            click.echo(f"no queue of tenant {session.tenant!r} in the routing state (has `fscc serve` run?)", err=True)


@queue.command("show")
@click.argument("queue_name", metavar="QUEUE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 10_000),
              help="At most this many waiting contacts listed.")
@_common_options
@click.pass_obj
def queue_show(options: Options, queue_name: str, as_json: bool, limit: int, config_path: str | None,
               tenant: str | None) -> None:
    """QUEUE in full: figures, the contacts waiting, the agents who can answer."""
    with _errors():
        session = _session(options.merged(config_path, tenant))
        known = session.stats.queue_names()
        if queue_name not in known:
            raise UnknownQueue(queue_name, session.tenant, known, queue_name in session.settings.acd.queues)
        figures = session.stats.queue_stats(queue_name)
        waiting = session.stats.waiting_tasks(queue_name, limit) if limit else []
        agents = [a for a in session.stats.all_agents() if queue_name in a.queues]
        if as_json:
            click.echo(to_json({"queue": figures, "waiting": waiting, "agents": agents}))
        else:
            click.echo(queue_detail(figures, waiting, agents))
