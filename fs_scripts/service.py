"""`fscc serve`: the process that runs beside FreeSWITCH and handles its calls.

One process holds:
- the outbound socket server: the dialplan's `socket` application hands each call here,
  and a greenlet runs the call's IVR flow (`ivr_flows.runner.FlowRunner`) over it;
- one inbound Event Socket connection (`fs_scripts.esl.inbound`) for what is not one call's
  business: originating agent legs, registrations, hang-ups of agent legs;
- per tenant, the ACD router (Redis) with this node's offer inbox, and the voice gateway
  that a flow's `queue` node waits in (`fs_scripts.acd_voice`);
- housekeeping greenlets: the node heartbeat (so other nodes can take over the reservations
  of a dead one) and the router tick (reservation timeouts, wrap-up ends, break returns), and
  per tenant the follower of the agent activity stream (fs_scripts/activity_log.py).

Why gevent throughout: a contact center is thousands of mostly idle calls; one greenlet per
call keeps each flow a plain sequential program. `serve_command` monkey-patches before
anything opens a socket, so redis-py and peewee cooperate with the hub.

The wiring lives in `Service` (constructed from Settings and a Clock) so that `fscc demo`
and the end-to-end tests run exactly what `fscc serve` runs, in-process.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from fs_scripts.clock import Clock, make_clock
from fs_scripts.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class CallRecord:
    """What the service remembers of a finished flow (for `fscc demo` progress and tests)."""

    uuid: str
    tenant: str
    flow: str
    outcome: str
    reason: str
    node: str | None


@dataclass
class ServiceStats:
    calls_started: int = 0
    calls_finished: int = 0
    flow_errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Service:
    """Everything `fscc serve` runs, startable in-process (demo, tests) or from the command."""

    def __init__(self, settings: Settings, clock: Clock | None = None, *, redis_client: Any = None,
                 database: Any = None, node_id: str = "", listen_port: int | None = None,
                 on_call_done: Callable[[CallRecord], None] | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.node_id = node_id or settings.serve.node_id or f"{socket.gethostname()}-{os.getpid()}"
        self.listen_port = settings.serve.port if listen_port is None else listen_port
        self._redis = redis_client
        self._database = database
        self.on_call_done = on_call_done
        self.stats = ServiceStats()
        self.routers: dict[str, Any] = {}
        self.inboxes: dict[str, Any] = {}
        self.gateways: dict[str, Any] = {}
        self.inbound: Any = None
        self.outbound: Any = None
        self.directory: Any = None
        self._flows: dict[tuple[str, str], Any] = {}
        self._greenlets: list[Any] = []
        self._extras: list[Any] = []
        self._activity: list[Any] = []
        from ivr_flows.runner import prompt_resolver

        self.resolve_prompt = prompt_resolver(settings)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> Service:
        """Listen, then connect: `fscc serve` does both at once."""
        return self.listen().connect()

    def listen(self) -> Service:
        """Open the outbound socket first: its address is what the switch's dialplan names
        (`fscc demo` renders the dialplan only once it knows the port)."""
        from fs_scripts.esl.outbound import OutboundServer

        self.outbound = OutboundServer(self.handle_call, self.settings.serve.host, self.listen_port,
                                       command_timeout_s=self.settings.esl.command_timeout_s)
        self.outbound.start()
        return self

    def connect(self) -> Service:
        """Redis, the CRM, the switch's inbound socket, the routers and the housekeeping."""
        import gevent

        from acd.router import Router
        from crm_sync.models import open_database
        from fs_scripts.acd_voice import (
            AcdQueueGateway,
            AgentLegTracker,
            OfferInbox,
            VoiceQueueOptions,
        )
        from fs_scripts.embedded import db_url, open_redis
        from fs_scripts.esl.inbound import InboundConnection

        esl = self.settings.esl
        client = self._redis if self._redis is not None else open_redis(self.settings)
        self._redis = client
        if self._database is None:
            self._database = open_database(db_url(self.settings))
        self.directory = self._make_directory()
        self.inbound = InboundConnection(esl.host, esl.port, esl.password, connect_timeout_s=esl.connect_timeout_s,
                                         command_timeout_s=esl.command_timeout_s,
                                         max_backoff_s=esl.reconnect_max_backoff_s)
        self.inbound.connect()
        self.legs = AgentLegTracker(self.inbound)
        recorder = self._recorder()
        options = VoiceQueueOptions(outbound_context=self.settings.deploy.outbound_context)
        for tenant in self.settings.tenants:
            router = Router(client, self.settings.acd, self.clock, tenant, self.node_id)
            router.sync_config([a for a, agent in self.settings.acd.agents.items() if agent.tenant == tenant])
            router.heartbeat()
            inbox = OfferInbox(router)
            gateway = AcdQueueGateway(router, inbox, self.inbound, self.clock, options, legs=self.legs,
                                      stats=self._stats_recorder(client, tenant),
                                      resolve_prompt=self.resolve_prompt, recorder=recorder)
            inbox.unclaimed_handler = gateway.handle_unclaimed
            inbox.start()
            self.routers[tenant], self.inboxes[tenant], self.gateways[tenant] = router, inbox, gateway
        self._preload_flows()
        self._follow_registrations()
        self._follow_activity()
        self._greenlets.append(gevent.spawn(self._housekeeping))
        logger.info("fscc serve node %s: outbound socket on %s:%d, switch at %s:%d, tenants %s",
                    self.node_id, *self.outbound.address, esl.host, esl.port, ", ".join(self.routers))
        return self

    def stop(self) -> None:
        import gevent

        if self.outbound is not None:
            self.outbound.stop(timeout_s=2)
        for inbox in self.inboxes.values():
            inbox.stop()
        gevent.killall(self._greenlets, block=False)
        for extra in self._extras:
            stop = getattr(extra, "stop", None) or getattr(extra, "close", None)
            if stop:
                stop()
        if self.inbound is not None:
            self.inbound.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.outbound.address

    # ------------------------------------------------------------------ one call
    def handle_call(self, session: Any) -> None:
        """The outbound socket's handler: one greenlet per call, from connect to the flow's end."""
        from ivr_flows.esl_call import EslCallControl
        from ivr_flows.runner import FlowRunner

        data = session.connect()
        session.myevents("plain")
        session.linger()
        tenant = data.variable("fscc_tenant") or "default"
        if tenant not in self.gateways:
            logger.warning("call %s: unknown tenant %r, handled as 'default'", session.uuid, tenant)
            tenant = "default" if "default" in self.gateways else next(iter(self.gateways))
        flow_name = data.variable("fscc_flow") or self._flow_for(data.get("Caller-Destination-Number") or "")
        self.stats.calls_started += 1
        record = CallRecord(session.uuid or "", tenant, flow_name, "failed", "error", None)
        try:
            flow = self._flow(flow_name, tenant)
            call = EslCallControl(session)
            runner = FlowRunner(flow, call, queue=self.gateways[tenant], directory=self.directory,
                                tasks=self.gateways[tenant], clock=self.clock, settings=self.settings,
                                tenant=tenant, resolve_prompt=self.resolve_prompt,
                                load_flow=lambda name: self._flow(name, tenant))
            result = runner.run()
            record.outcome, record.reason, record.node = result.outcome, result.reason, result.node
        except Exception:
            self.stats.flow_errors += 1
            logger.exception("call %s: flow %s failed", session.uuid, flow_name)
            session.hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            self.stats.calls_finished += 1
            self.stats.outcomes[record.outcome] = self.stats.outcomes.get(record.outcome, 0) + 1
            if self.on_call_done is not None:
                self.on_call_done(record)

    def _preload_flows(self) -> None:
        """Render every configured flow for every tenant now: a template error shows at start-up,
        and the first callers do not wait for a render."""
        names = {self.settings.ivr.default_flow, *self.settings.ivr.flows_by_destination.values()}
        for tenant in self.routers:
            for name in sorted(n for n in names if n):
                try:
                    self._flow(name, tenant)
                except Exception:
                    logger.exception("flow %s for tenant %s does not load", name, tenant)

    def _flow_for(self, destination: str) -> str:
        return self.settings.ivr.flows_by_destination.get(destination, self.settings.ivr.default_flow)

    def _flow(self, name: str, tenant: str) -> Any:
        """Flows are rendered once per tenant and kept: a template render per call would cost
        more than the call's whole routing."""
        key = (name, tenant)
        if key not in self._flows:
            from ivr_flows.loader import flows_dir, load_flow

            self._flows[key] = load_flow(Path(flows_dir(self.settings)) / name, self.settings, tenant)
        return self._flows[key]

    # ------------------------------------------------------------------ pieces
    def _make_directory(self) -> Any:
        from crm_sync.directory import CrmCustomerDirectory
        from crm_sync.models import migrate

        migrate(self._database)
        return CrmCustomerDirectory(self._database)

    def _recorder(self) -> Any:
        """Recording at bridge (fs_scripts/recording.py): per tenant and queue policy, stereo,
        and on RECORD_STOP the path, duration, size and sha256 set on the call for its CDR."""
        from fs_scripts import recording

        api = self.inbound.api
        self.inbound.subscribe("RECORD_STOP")
        self.inbound.on("RECORD_STOP", lambda event: recording.on_record_stop(event, api))
        return recording.BridgeRecorder(self.settings.recording, Path(self.settings.recordings_dir), api, self.clock,
                                        timezones={n: t.timezone for n, t in self.settings.tenants.items()},
                                        seed=self.node_id)

    def _stats_recorder(self, client: Any, tenant: str) -> Any:
        try:
            from acd.stats import StatsRecorder
        except ImportError:
            return None
        reports = self.settings.reports
        return StatsRecorder(client, tenant, self.clock, short_abandon_s=reports.short_abandon_s,
                             variant=reports.service_level_variant)

    def _follow_registrations(self) -> None:
        """Agents whose phone is not registered are never offered a call (acd/registrations.py)."""
        try:
            from acd.registrations import RegistrationFollower
        except ImportError:
            logger.warning("acd.registrations is not available: registrations are not followed")
            return
        for tenant, router in self.routers.items():
            settings = self.settings.tenants.get(tenant)
            follower = RegistrationFollower(self.inbound, router, self.settings.acd,
                                            domain=settings.domain if settings is not None else "")
            follower.start()
            self._extras.append(follower)

    @property
    def activity_log_path(self) -> Path:
        return Path(self.settings.data_dir) / "agent-activity.jsonl"

    def _follow_activity(self) -> None:
        """Agent state history for occupancy and the agents-by-state chart: every transition of
        every tenant's activity stream, logged and written to one file (fs_scripts/activity_log.py)."""
        from fs_scripts.activity_log import ActivityFollower
        from reports.source import ActivityLogWriter

        self._activity_writer = ActivityLogWriter(self.activity_log_path)
        self._activity = [ActivityFollower(router, self._activity_writer) for router in self.routers.values()]
        for follower in self._activity:
            follower.start()
        self._extras.extend(self._activity)  # stopped before the writer they write to
        self._extras.append(self._activity_writer)

    def _housekeeping(self) -> None:
        """Heartbeat and tick every `serve.heartbeat_s` simulated seconds, for every tenant."""
        import gevent

        while True:
            for tenant, router in self.routers.items():
                try:
                    router.heartbeat()
                    router.tick()
                except Exception:  # Redis away for a moment: keep beating, log it
                    logger.exception("housekeeping for tenant %s", tenant)
            gevent.sleep(max(0.05, self.clock.wall_seconds(self.settings.serve.heartbeat_s)))


# ---------------------------------------------------------------------- the command
@click.command("serve")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="fscc.yaml (default: $FSCC_CONFIG, else built-in defaults).")
@click.option("--clock", "clock_kind", type=click.Choice(["real", "fast"]), default="real", show_default=True,
              help="fast: scaled simulation time, to run against `fscc sim --clock fast`.")
@click.option("--clock-scale", type=float, default=60.0, show_default=True)
@click.option("--clock-epoch", type=float, default=None, help="Simulated start time (Unix seconds).")
@click.option("--port", "listen_port", type=int, default=None, help="Outbound socket port (default: serve.port).")
def serve_command(config_path: str | None, clock_kind: str, clock_scale: float, clock_epoch: float | None,
                  listen_port: int | None) -> None:
    """Handle the switch's calls: IVR flows over the outbound socket, queueing in Redis."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from fs_scripts.settings import load_settings

    settings = load_settings(config_path)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = Service(settings, make_clock(clock_kind, clock_scale, clock_epoch), listen_port=listen_port).start()
    host, port = service.address
    click.echo(f"fscc serve listening on {host}:{port}", err=True)
    stopped = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopped.set)
    gevent.signal_handler(signal.SIGINT, stopped.set)
    stopped.wait()
    service.stop()
