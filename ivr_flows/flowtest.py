"""`fscc flow test`: play one flow against the switch simulator over real ESL.

    result = run_flow_test("ivr_flows/templates/hotline_10086.vip.test.yaml")
    result = run_flow_test("my_flow.yaml.j2", dtmf="1,2,0#", caller="13800138000", at="2026-11-23 21:00")

What runs is what `fscc serve` runs, minus the ACD: an fssim on a free port whose dialplan
hands the call to an outbound socket server (port 0) running `FlowRunner` over
`EslCallControl`. The caller's behaviour comes over a separate inbound ESL connection, as a
carrier's would: each `play_and_get_digits` the flow starts gets the next digit group as
`uuid_recv_dtmf` (an empty group: the caller keys nothing and the prompt times out), and
`hangup_at` sends `uuid_kill` at the first wait of that node. The CDR the simulator writes is
read back, so `expect.channel` is checked against what the switch really recorded.

The world the flow talks to is the test file's (ivr_flows/flowtest_format.md): its customers
are the directory, its webhooks are served by a real HTTP server on a free port (the flow is
rendered with `ivr.crm_api_url` pointing there), its voicemails and callbacks land in a list.
Queues: `answered` really bridges to a simulated agent phone (`user/1001`, answers at once),
`failed` to one that is not registered (`user/1009`); the ACD-only outcomes (`max-wait`,
`callback`, `exit-key:K`) are given after a moment of hold tone, and `abandoned` hangs the
caller up while on hold.

A `*.test.yaml` is played as written (`dtmf` and `at` given here override it); a template is
played with the arguments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import tempfile
import uuid as uuid_mod
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult
from gevent.pywsgi import WSGIServer

from fs_scripts.clock import make_clock
from fs_scripts.esl.frames import url_decode
from fs_scripts.esl.inbound import InboundConnection
from fs_scripts.esl.outbound import OutboundServer
from fs_scripts.settings import Settings
from fssim.directory import AgentBehaviour
from fssim.simulator import Simulator
from ivr_flows import actions as a
from ivr_flows.config import IvrSettings
from ivr_flows.esl_call import EslCallControl
from ivr_flows.interpreter import State
from ivr_flows.loader import load_flow
from ivr_flows.ports import CallControl, CallerHungUp, CustomerInfo
from ivr_flows.runner import FlowRunner, RunResult, TraceEntry
from ivr_flows.testfile import FlowTestCase, ScriptedRun, check_expectations, load_case, parse_dtmf

logger = logging.getLogger(__name__)

CLOCK_SCALE = 20.0  # simulated seconds per wall second: a 5 s menu timeout takes 0.25 s
ANSWERING_AGENT = "1001"
ABSENT_AGENT = "1009"
WAIT_APPS = frozenset({"play_and_get_digits", "playback", "bridge", "record", "sleep", "say", "endless_playback"})
HOLD_TONE = "tone_stream://%(1000,0,440)"
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FlowTestResult:
    """How the played call went; `passed` when it ended and every expectation held."""

    name: str
    outcome: str
    reason: str
    node: str | None
    path: tuple[str, ...]
    trace: tuple[TraceEntry, ...]
    cdr: dict[str, str] = field(default_factory=dict)  # the caller leg's CDR variables, decoded
    problems: tuple[str, ...] = ()  # expectations of a *.test.yaml that did not hold
    uuid: str = ""

    @property
    def ended_normally(self) -> bool:
        return self.reason in ("normal", "transferred")

    @property
    def passed(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- the scripted world


class ScriptedDirectory:
    """The test file's customers: `by: caller` matches phones, `by: account` the accounts."""

    def __init__(self, case: FlowTestCase) -> None:
        self.case = case

    def by_number(self, tenant: str, number: str) -> CustomerInfo | None:
        return next((c for c in self.case.customers if number in c.phones), None)

    def by_account(self, tenant: str, account_id: str) -> CustomerInfo | None:
        wanted = self.case.accounts.get(account_id)
        return next((c for c in self.case.customers if c.customer_id == wanted), None)


class RecordingTaskSink:
    def __init__(self) -> None:
        self.tasks: list[a.CreateTask] = []

    def create_task(self, call_uuid: str, task: a.CreateTask) -> str:
        self.tasks.append(task)
        return f"task-{len(self.tasks)}"


class ScriptedQueue:
    """A QueueGateway giving each queue the outcome the test file names (see module docstring)."""

    def __init__(self, outcomes: dict[str, str]) -> None:
        self.outcomes = outcomes
        self.hang_up: Any = None  # set by run_flow_test: kills the caller leg over ESL

    def wait_in_queue(self, call: CallControl, request: a.Enqueue) -> a.QueueOutcome:
        outcome = self.outcomes.get(request.queue, "answered")
        if outcome == "answered":
            cause = call.bridge(f"user/{ANSWERING_AGENT}")
            if cause == "SUCCESS":
                return a.QueueOutcome("answered", agent_id=ANSWERING_AGENT, task_id=f"task-{request.queue}")
            return a.QueueOutcome("failed")
        if outcome == "failed":
            call.bridge(f"user/{ABSENT_AGENT}")
            return a.QueueOutcome("failed")
        if outcome == "abandoned":
            gevent.spawn_later(0.05, self.hang_up)
            try:
                call.playback(HOLD_TONE)
                call.playback(HOLD_TONE)
            except CallerHungUp:
                pass
            return a.QueueOutcome("abandoned", task_id=f"task-{request.queue}")
        call.playback(HOLD_TONE)
        if outcome.startswith("exit-key:"):
            return a.QueueOutcome("exit-key", exit_key=outcome.split(":", 1)[1], task_id=f"task-{request.queue}")
        return a.QueueOutcome(outcome, task_id=f"task-{request.queue}")


class WebhookServer:
    """A real HTTP server on a free port answering the test file's webhooks by path."""

    def __init__(self, replies: dict[str, dict[str, Any]]) -> None:
        self.replies = replies  # path -> {ok, data}
        self.requests: list[tuple[str, str]] = []
        self._server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)

    def start(self) -> str:
        self._server.start()
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.stop(timeout=1)

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        self.requests.append((environ.get("REQUEST_METHOD", ""), path))
        reply = self.replies.get(path)
        if reply is None:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "no such webhook in the test file"}']
        if not reply.get("ok"):
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [b'{"error": "scripted failure"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(reply.get("data") or {}).encode("utf-8")]


# ---------------------------------------------------------------- the caller


class Caller:
    """The caller's side over an inbound ESL connection: digits per prompt, hang-up at a node."""

    def __init__(self, esl: InboundConnection, uuid: str, groups: tuple[str, ...], hangup_at: str | None) -> None:
        self.esl = esl
        self.uuid = uuid
        self.groups = list(groups)
        self.hangup_at = hangup_at
        self.prompts = 0
        self.armed = False
        self.killed = False

    def on_event(self, event: Any) -> None:
        if event.unique_id != self.uuid or event.name != "CHANNEL_EXECUTE":
            return
        app = event.get("Application") or ""
        data = event.get("Application-Data") or ""
        if app == "set" and data.startswith("fscc_path="):
            last = data.split("=", 1)[1].rsplit(">", 1)[-1]
            self.armed = self.hangup_at is not None and last == self.hangup_at
            return
        if app not in WAIT_APPS:
            return
        if self.armed and not self.killed:
            self.hang_up()
            return
        if app == "play_and_get_digits":
            self.prompts += 1
            group = self.groups.pop(0) if self.groups else ""
            if group:
                self.esl.api("uuid_recv_dtmf", self.uuid, group)

    def hang_up(self) -> None:
        if not self.killed:
            self.killed = True
            try:
                self.esl.api("uuid_kill", self.uuid, "NORMAL_CLEARING")
            except Exception:  # already gone
                logger.debug("flow test: uuid_kill %s failed", self.uuid, exc_info=True)


# ---------------------------------------------------------------- running one


def _case_for_template(path: Path, dtmf: str, caller: str | None, vars: dict[str, Any] | None, at: str | None,
                       timezone: str) -> FlowTestCase:
    when = at or dt.datetime.now(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")
    return FlowTestCase(file=path, flow_file=path, name=path.name, caller=caller or "13800138000", at=when,
                        timezone=timezone, dtmf=parse_dtmf(dtmf), vars=dict(vars or {}))


def run_flow_test(path: str | Path, dtmf: str | None = None, caller: str | None = None,
                  vars: dict[str, Any] | None = None, at: str | None = None, *, settings: Settings | None = None,
                  tenant: str = "default", timeout_s: float = DEFAULT_TIMEOUT_S) -> FlowTestResult:
    """Play `path` (a `*.test.yaml` or a flow template) through fssim; see the module docstring."""
    path = Path(path)
    base_settings = settings or Settings()
    if path.name.endswith(".test.yaml"):
        case = load_case(path)
        if dtmf:
            case = dataclasses.replace(case, dtmf=parse_dtmf(dtmf))
        if at:
            case = dataclasses.replace(case, at=at)
        if vars:
            case = dataclasses.replace(case, vars={**case.vars, **vars})
    else:
        zone = base_settings.tenants[tenant].timezone if tenant in base_settings.tenants else "UTC"
        case = _case_for_template(path, dtmf or "", caller, vars, at, zone)
    with tempfile.TemporaryDirectory(prefix="fscc-flowtest-") as tmp:
        return _play(case, base_settings, tenant, Path(tmp), timeout_s)


def _webhook_replies(case: FlowTestCase, default_base: str) -> dict[str, dict[str, Any]]:
    """Test-file URLs under the configured CRM API base -> paths on our server."""
    out = {}
    for url, reply in case.webhooks.items():
        if url.startswith(default_base):
            out["/fscc-api" + url[len(default_base):]] = reply
        else:
            logger.warning("flow test %s: webhook %s is not under ivr.crm_api_url %s; it cannot be served",
                           case.file, url, default_base)
    return out


def _play(case: FlowTestCase, settings: Settings, tenant: str, tmp: Path, timeout_s: float) -> FlowTestResult:
    webhooks = WebhookServer(_webhook_replies(case, settings.ivr.crm_api_url))
    api_base = webhooks.start() + "/fscc-api"
    ivr = dataclasses.replace(settings.ivr, crm_api_url=api_base) if settings.ivr else IvrSettings(crm_api_url=api_base)
    settings = dataclasses.replace(settings, ivr=ivr, data_dir=tmp / "data", recordings_dir=tmp / "recordings")
    flow = load_flow(case.flow_file, settings, tenant)
    clock = make_clock("fast", scale=CLOCK_SCALE, epoch=case.start_epoch)
    queue = ScriptedQueue(case.queue)
    tasks = RecordingTaskSink()
    outcome: AsyncResult = AsyncResult()
    runners: list[FlowRunner] = []

    def handler(session: Any) -> None:
        try:
            call = EslCallControl(session)
            runner = FlowRunner(flow, call, queue=queue, directory=ScriptedDirectory(case), tasks=tasks, clock=clock,
                                settings=settings, tenant=tenant, timezone=case.timezone, vars=case.vars)
            runners.append(runner)
            outcome.set(runner.run())
        except BaseException as exc:
            outcome.set_exception(exc)
            raise

    server = OutboundServer(handler, port=0)
    server.start()
    dialplan = tmp / "dialplan.xml"
    dialplan.write_text(_DIALPLAN.format(port=server.address[1]), encoding="utf-8")
    sim = Simulator(spool_dir=tmp / "cdr", dialplan=dialplan, clock=clock, recordings_dir=tmp / "recordings")
    sim.start()
    esl: InboundConnection | None = None
    try:
        sim.set_agent(ANSWERING_AGENT, AgentBehaviour(registered=True, answer_after_s=0.5, talk_s=1.0))
        uuid = str(uuid_mod.uuid4())
        esl = InboundConnection("127.0.0.1", sim.esl_port, sim.password, event_format="plain", reconnect=False)
        caller = Caller(esl, uuid, case.dtmf, case.hangup_at)
        esl.on_any(caller.on_event)
        esl.connect()
        esl.filter("Unique-ID", uuid)
        esl.subscribe("CHANNEL_EXECUTE")
        queue.hang_up = caller.hang_up
        variables = {str(k): str(v) for k, v in case.channel.items()}
        sim.place_call(destination=case.destination, caller_id_number=case.caller, caller_id_name=case.caller_name,
                       context="public", variables=variables, uuid=uuid)
        try:
            result: RunResult = outcome.get(timeout=timeout_s)
        except gevent.Timeout:
            result = _stuck(runners, flow.name, timeout_s)
            caller.hang_up()
        cdr_path = tmp / "cdr" / f"{uuid}.cdr.json"
        if uuid in sim.channels:
            caller.hang_up()  # a transfer left the call in the dialplan: the test is over
        sim.wait_for(cdr_path.exists, timeout_s=10)
        cdr = _cdr_variables(cdr_path)
    finally:
        if esl is not None:
            esl.close()
        sim.stop()
        server.stop(timeout_s=1)
        webhooks.stop()
    problems = tuple(check_expectations(case, _as_scripted(result, tasks, cdr))) if case.expect else ()
    if result.reason == "error" and result.trace and result.trace[-1].action.startswith("stuck"):
        problems = (result.trace[-1].result, *problems)
    return FlowTestResult(name=case.name, outcome=result.outcome, reason=result.reason, node=result.node,
                          path=result.path, trace=result.trace, cdr=cdr, problems=problems, uuid=uuid)


_DIALPLAN = """<include>
  <context name="public">
    <extension name="flow_test">
      <condition field="destination_number" expression="^.+$">
        <action application="socket" data="127.0.0.1:{port} async full"/>
      </condition>
    </extension>
  </context>
</include>
"""


def _stuck(runners: list[FlowRunner], flow_name: str, timeout_s: float) -> RunResult:
    """The flow did not end in time (a switch application that never completes, a loop):
    what it had done so far, ended as an error that names where it hung."""
    runner = runners[0] if runners else None
    trace = tuple(runner.trace) if runner else ()
    state = runner._state if runner else None
    node = state.node if state else None
    last = str(trace[-1]) if trace else "nothing"
    why = f"the flow did not end within {timeout_s:g} s; stuck in node {node} after: {last}"
    trace += (TraceEntry(node, "stuck", why),)
    return RunResult(flow=flow_name, outcome="failed", reason="error", node=node, path=state.path if state else (),
                     trace=trace, played=tuple(runner.played) if runner else ())


def _cdr_variables(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: url_decode(v) if isinstance(v, str) else str(v) for k, v in (data.get("variables") or {}).items()}


def _as_scripted(result: RunResult, tasks: RecordingTaskSink, cdr: dict[str, str]) -> ScriptedRun:
    """The runner's result in the shape `testfile.check_expectations` reads (one checker for
    both engines). `channel` is the switch's CDR, not what the runner meant to set."""
    actions: list[a.Action] = [*result.enqueued, *tasks.tasks]
    if result.transfer is not None:
        if result.transfer.kind == "flow":
            actions.append(a.RunFlow(result.transfer.destination))
        else:
            actions.append(result.transfer)
    state = State(flow=result.flow, node=result.node, path=result.path)
    return ScriptedRun(state=state, end=a.End(result.outcome, result.reason, result.node), actions=actions,
                       channel=dict(cdr), played=list(result.played))


__all__ = ["run_flow_test", "FlowTestResult", "ScriptedDirectory", "ScriptedQueue", "WebhookServer"]
