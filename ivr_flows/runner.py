"""The flow runner: the pure interpreter's actions carried out on a real call, results fed back.

    result = FlowRunner(flow, EslCallControl(session), queue=gateway, directory=crm,
                        tasks=gateway, clock=clock, settings=settings, tenant="default").run()

One loop: `interpreter.step(flow, state, event)` returns actions; each is done through a port
(`CallControl`, `QueueGateway`, `CustomerDirectory`, `TaskSink`, an HTTP webhook client); the
result of the batch's waiting action (digits, a lookup, the queue's outcome...) is the next
event, `Done` when the batch had none. The runner does no I/O of its own besides the webhook
HTTP request, and imports no gevent: the same code runs in a gevent greenlet (`fscc serve`)
and in a FreeSWITCH thread (mod_python3). The webhook client takes its `create_connection`
from the CallControl when it has one (EslCallControl gives gevent's), else the stdlib's.

Caller hang-up: any port may raise `ports.CallerHungUp`; the runner feeds `CallerGone` and the
interpreter ends the flow at the node the caller was in. The CDR variables are already on
the channel (the interpreter re-publishes `fscc_path` / `fscc_outcome` as they change); the
runner sets `fscc_flow_end=caller-hangup` at the start, so a channel that vanishes mid-flow
says so in its CDR, and the interpreter's own publication overwrites it on a normal end.
Trailing variable writes after a hang-up are still attempted (mod_python3 can still set them
before the CDR is written; over ESL the channel refuses them, which is fine).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fs_scripts import cdr_vars
from fs_scripts.clock import Clock
from ivr_flows import actions as a
from ivr_flows import interpreter
from ivr_flows.ports import CallControl, CallerHungUp, CustomerDirectory, QueueGateway, TaskSink
from ivr_flows.schema import Flow

logger = logging.getLogger(__name__)

MAX_NESTED_FLOWS = 8  # RunFlow -> RunFlow -> ...: more is a loop between flows
#: `say` kinds of the flow language -> FreeSWITCH say type and method (mod_say_*)
SAY_TYPES = {
    "number": ("NUMBER", "pronounced"),
    "digits": ("NUMBER", "iterated"),
    "money": ("CURRENCY", "pronounced"),
    "date": ("CURRENT_DATE", "pronounced"),
    "time": ("CURRENT_TIME", "pronounced"),
    "items": ("ITEMS", "pronounced"),
}
#: FreeSWITCH's switch_channel_queue_dtmf flags digits received while this is true as
#: DTMF_FLAG_SENSITIVE: no DTMF event, no log line, and not in `digits_dialed` (the CDR's
#: record of every key pressed), so a PIN typed in a sensitive collect stays off the CDR
SENSITIVE_DTMF = "sensitive_dtmf"
BEEP = "tone_stream://%(500,0,1000)"
MASK = "***"


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class TraceEntry:
    """One thing the runner did: in which node, what, and what came of it (never a secret)."""

    node: str | None
    action: str
    result: str = ""

    def __str__(self) -> str:
        arrow = f" -> {self.result}" if self.result else ""
        return f"{self.node or '-'}: {self.action}{arrow}"


@dataclass(frozen=True)
class RunResult:
    flow: str
    outcome: str
    reason: str  # normal | caller-hangup | transferred | error
    node: str | None
    path: tuple[str, ...] = ()
    trace: tuple[TraceEntry, ...] = ()
    transfer: a.Transfer | None = None
    tasks: tuple[tuple[str, str], ...] = ()  # (kind, task id)
    enqueued: tuple[a.Enqueue, ...] = ()
    played: tuple[str, ...] = ()  # prompt names (digit prompts too) and "say:<text>", in order
    channel: dict[str, str] = field(default_factory=dict)  # the fscc_* variables last published

    @property
    def ended_normally(self) -> bool:
        """The flow reached an end of its own (not a hang-up, not an error)."""
        return self.reason in ("normal", "transferred")


# ---------------------------------------------------------------- webhooks


class WebhookClient(Protocol):
    def call(self, request: a.Webhook) -> a.WebhookResult:
        """Never raises for a failed request: the failure is a result (the flow's on_error)."""


class HttpWebhookClient:
    """A webhook call over http.client with a hard timeout; thread-free.

    `create_connection` decides the concurrency world: gevent's under `fscc serve` (never
    blocks the hub), the stdlib's in a mod_python3 thread. The body may hold a secret (a PIN
    sent to the CRM for checking): it is sent, never logged; errors name the URL only.
    """

    def __init__(self, create_connection: Callable[..., Any] | None = None) -> None:
        self.create_connection = create_connection

    def call(self, request: a.Webhook) -> a.WebhookResult:
        url = urllib.parse.urlsplit(request.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            return a.WebhookResult(False, error=f"unsupported webhook URL {request.url!r}")
        conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(url.hostname, url.port, timeout=request.timeout_s)
        if self.create_connection is not None:
            conn._create_connection = self.create_connection  # type: ignore[attr-defined]
        target = url.path or "/"
        if url.query:
            target += "?" + url.query
        method = request.method.upper()
        body = None
        headers = {"Accept": "application/json"}
        if method not in ("GET", "HEAD", "DELETE"):
            body = json.dumps(request.body, default=str).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read(1_000_000)
        except (OSError, http.client.HTTPException) as exc:
            return a.WebhookResult(False, error=f"{method} {request.url}: {type(exc).__name__}: {exc}")
        finally:
            conn.close()
        if not 200 <= response.status < 300:
            return a.WebhookResult(False, error=f"{method} {request.url}: HTTP {response.status}")
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return a.WebhookResult(False, error=f"{method} {request.url}: the reply is not JSON")
        return a.WebhookResult(True, data if isinstance(data, dict) else {"value": data})


# ---------------------------------------------------------------- prompts


def prompt_resolver(settings: Any = None) -> Callable[[str, str], str]:
    """Prompt name + language -> the file the switch plays (`fscc prompts build` output:
    `<prompts_dir>/<lang>/<name>.wav`, else `<prompts_dir>/<name>.wav`). Streams and absolute
    paths pass through."""
    if settings is not None:
        base = Path(settings.ivr.prompts_dir or Path(settings.data_dir) / "prompts")
    else:
        base = Path("fscc-data") / "prompts"

    def resolve(name: str, language: str) -> str:
        if not name or "://" in name or name.startswith("/"):
            return name
        for candidate in (base / language / f"{name}.wav", base / f"{name}.wav"):
            if candidate.exists():
                return str(candidate.resolve())
        return str((base / language / f"{name}.wav").resolve())

    return resolve


# ---------------------------------------------------------------- the runner


class FlowRunner:
    """Runs one flow on one call to its end; see the module docstring."""

    def __init__(
        self,
        flow: Flow,
        call: CallControl,
        *,
        queue: QueueGateway,
        directory: CustomerDirectory | None = None,
        tasks: TaskSink | None = None,
        clock: Clock | None = None,
        settings: Any = None,
        tenant: str | None = None,
        webhooks: WebhookClient | None = None,
        resolve_prompt: Callable[[str, str], str] | None = None,
        load_flow: Callable[[str], Flow] | None = None,
        timezone: str | None = None,
        vars: Mapping[str, Any] | None = None,
        max_steps: int | None = None,
    ) -> None:
        self.flow = flow
        self.call = call
        self.queue = queue
        self.directory = directory
        self.tasks = tasks
        self.clock = clock or Clock()
        self.settings = settings
        self.tenant = tenant or flow.tenant
        self.webhooks = webhooks or HttpWebhookClient(getattr(call, "create_connection", None))
        self.resolve_prompt = resolve_prompt or prompt_resolver(settings)
        self._load_flow = load_flow
        self.timezone = timezone or self._tenant_timezone()
        self.vars = dict(vars or {})
        self.max_steps = max_steps or (settings.ivr.max_steps if settings is not None else 1000)
        self.trace: list[TraceEntry] = []
        self.played: list[str] = []
        self.created: list[tuple[str, str]] = []
        self.enqueued: list[a.Enqueue] = []
        self.transferred: a.Transfer | None = None
        self.hung_up: str | None = None  # the cause, once the caller is gone
        self._state: interpreter.State | None = None
        self._records = 0

    def _tenant_timezone(self) -> str:
        if self.settings is None:
            return "UTC"
        tenant = self.settings.tenants.get(self.tenant)
        return tenant.timezone if tenant is not None else "UTC"

    # ------------------------------------------------------------------ the loop
    def run(self) -> RunResult:
        flow = self.flow
        start_vars = dict(self.vars)
        self._safe_set(cdr_vars.FLOW_END, "caller-hangup")
        end: a.End | None = None
        for _depth in range(MAX_NESTED_FLOWS):
            try:
                end, next_flow = self._run_one(flow, start_vars)
            except Exception:
                logger.exception("call %s: flow %s failed at node %s", self.call.uuid, flow.name,
                                 self._state.node if self._state else None)
                end = self._fail("the runner failed; see the log")
                break
            if next_flow is None:
                break
            flow, start_vars = next_flow
        else:
            logger.error("call %s: more than %d flows handed on; ending", self.call.uuid, MAX_NESTED_FLOWS)
            end = self._fail(f"more than {MAX_NESTED_FLOWS} flows handed on")
        assert end is not None
        state = self._state
        return RunResult(
            flow=state.flow if state else flow.name, outcome=end.outcome, reason=end.reason, node=end.node,
            path=state.path if state else (), trace=tuple(self.trace), transfer=self.transferred,
            tasks=tuple(self.created), enqueued=tuple(self.enqueued), played=tuple(self.played),
            channel=dict(state.published) if state else {},
        )

    def _run_one(self, flow: Flow, start_vars: dict[str, Any]) -> tuple[a.End, tuple[Flow, dict[str, Any]] | None]:
        """One flow to its End; returns the End and, for RunFlow, the flow to run next."""
        self._state = None
        event: a.Event = a.Start(call=self._call_info(), channel=self._channel(), now=self.clock.now(),
                                 timezone=self.timezone, vars=start_vars)
        for _ in range(self.max_steps):
            state, actions = interpreter.step(flow, self._state, event)
            self._state = state
            result_event: a.Event | None = None
            next_flow: tuple[Flow, dict[str, Any]] | None = None
            for action in actions:
                if isinstance(action, a.End):
                    self.trace.append(TraceEntry(action.node, f"end {action.reason}", action.outcome))
                    return action, next_flow
                if self.hung_up is not None:
                    # the caller is gone: only the trailing variable writes are still worth trying
                    if isinstance(action, a.SetVar):
                        self._safe_set(action.name, action.value)
                    result_event = a.CallerGone(self.clock.now(), self.hung_up)
                    continue
                try:
                    outcome = self._do(flow, state, action)
                except CallerHungUp as gone:
                    # the rest of the batch still runs in hung-up mode: its End (when the flow
                    # had already decided) or its trailing variable writes
                    self.hung_up = gone.cause or "caller hung up"
                    self.trace.append(TraceEntry(state.node, _describe(action), f"caller hung up ({self.hung_up})"))
                    result_event = a.CallerGone(self.clock.now(), gone.cause)
                    continue
                if isinstance(outcome, tuple):  # RunFlow
                    next_flow = outcome
                elif outcome is not None:
                    result_event = outcome
            if state.finished:  # ended without an End in the batch (defensive: the interpreter always sends one)
                end = a.End(state.outcome or "failed", state.end_reason or "normal", state.node)
                self.trace.append(TraceEntry(end.node, f"end {end.reason}", end.outcome))
                return end, next_flow
            event = result_event if result_event is not None else a.Done(self.clock.now())
        logger.error("call %s: flow %s took more than %d steps; ending", self.call.uuid, flow.name, self.max_steps)
        return self._fail(f"more than {self.max_steps} steps"), None

    def _fail(self, why: str) -> a.End:
        """End the call as an error: the CDR says so (and where), the caller is not left in silence."""
        node = self._state.node if self._state else None
        outcome = (self._state.outcome if self._state else None) or "failed"
        self.trace.append(TraceEntry(node, "error", why))
        self._safe_set(cdr_vars.OUTCOME, outcome)
        self._safe_set(cdr_vars.FLOW_END, "error")
        self._safe_hangup("NORMAL_TEMPORARY_FAILURE")
        return a.End(outcome, "error", node)

    def _call_info(self) -> dict[str, Any]:
        variables = self._initial_variables = self._safe(self.call.variables, {})
        return {
            "uuid": self.call.uuid,
            "caller_id_number": variables.get("caller_id_number", ""),
            "caller_id_name": variables.get("caller_id_name", ""),
            "destination_number": variables.get("destination_number", ""),
        }

    def _channel(self) -> dict[str, str]:
        return dict(getattr(self, "_initial_variables", {}) or {})

    # ------------------------------------------------------------------ actions
    def _do(self, flow: Flow, state: interpreter.State, action: a.Action) -> Any:
        """Carry out one action; returns the event it produced (or None, or a RunFlow target)."""
        node = state.node
        call = self.call
        if isinstance(action, a.Answer):
            call.answer()
            self._trace(node, "answer")
        elif isinstance(action, a.SetVar):
            call.set_variable(action.name, action.value)
            self._trace(node, f"set {action.name}={action.value}")
        elif isinstance(action, a.Play):
            self._play(node, action)
        elif isinstance(action, a.GetDigits):
            return self._get_digits(node, action)
        elif isinstance(action, a.MaskRecording):
            call.mask_recording()
            self._trace(node, "mask recording")
        elif isinstance(action, a.UnmaskRecording):
            call.unmask_recording()
            self._trace(node, "unmask recording")
        elif isinstance(action, a.Lookup):
            return self._lookup(node, action)
        elif isinstance(action, a.Enqueue):
            self.enqueued.append(action)
            outcome = self.queue.wait_in_queue(call, action)
            self._trace(node, f"queue {action.queue} (priority {action.priority}, tier {action.tier})",
                        outcome.outcome + (f" agent {outcome.agent_id}" if outcome.agent_id else ""))
            return dataclasses.replace(outcome, now=self.clock.now())
        elif isinstance(action, a.Transfer):
            self._transfer(node, action)
        elif isinstance(action, a.RunFlow):
            target = self._flow_named(action.name)
            self.transferred = a.Transfer("flow", action.name)
            self._trace(node, f"run flow {action.name}")
            return target, dict(action.vars)
        elif isinstance(action, a.Record):
            return self._record(node, action)
        elif isinstance(action, a.CreateTask):
            self._create_task(node, action)
        elif isinstance(action, a.Webhook):
            result = self.webhooks.call(action)
            self._trace(node, f"webhook {action.method} {action.url}", "ok" if result.ok else f"error: {result.error}")
            if not result.ok:
                logger.warning("call %s: webhook failed: %s", call.uuid, result.error)
            return dataclasses.replace(result, now=self.clock.now())
        elif isinstance(action, a.Hangup):
            call.hangup(action.cause)
            self._trace(node, f"hangup {action.cause}")
        else:  # pragma: no cover - a new action type without a runner branch
            raise TypeError(f"the runner cannot carry out {type(action).__name__}")
        return None

    def _trace(self, node: str | None, action: str, result: str = "") -> None:
        self.trace.append(TraceEntry(node, action, result))

    def _play(self, node: str | None, action: a.Play) -> None:
        for item in action.items:
            kind = item[0]
            if kind == "prompt":
                self.played.append(item[1])
                self.call.playback(self.resolve_prompt(item[1], action.language))
                self._trace(node, f"play {item[1]}")
            elif kind == "say":
                text, say_as = item[1], item[2] if len(item) > 2 else "number"
                say_type, method = SAY_TYPES.get(say_as, ("NUMBER", "pronounced"))
                self.played.append(f"say:{text}")
                if text:
                    self.call.say(action.language, say_type, method, text)
                self._trace(node, f"say {say_as} {text}")
            elif kind == "tone":
                self.call.playback("tone_stream://" + item[1])
                self._trace(node, f"tone {item[1]}")
            elif kind == "silence":
                self.call.playback(f"silence_stream://{int(float(item[1]))}")
                self._trace(node, f"silence {item[1]} ms")
            else:
                raise ValueError(f"unknown play item {kind!r}")

    def _get_digits(self, node: str | None, action: a.GetDigits) -> a.Digits:
        # tries=1 and no regex at the switch: retries, their prompts and validation are the
        # interpreter's, so the path records what the caller really pressed
        if action.sensitive:
            self.call.set_variable(SENSITIVE_DTMF, "true")
        try:
            digits = self.call.play_and_get_digits(
                prompt=self.resolve_prompt(action.prompt, action.language), invalid_prompt="",
                min_digits=min(1, action.min_digits), max_digits=max(1, action.max_digits), tries=1,
                timeout_ms=action.timeout_ms, terminators=action.terminators, regex=None)
        finally:
            if action.sensitive:
                self._safe_set(SENSITIVE_DTMF, "")
        self.played.append(action.prompt)
        shown = (MASK if digits else "timeout") if action.sensitive else (digits or "timeout")
        self._trace(node, f"get digits {action.prompt}" + (" (sensitive)" if action.sensitive else ""), shown)
        return a.Digits(digits, self.clock.now(), action.sensitive)

    def _lookup(self, node: str | None, action: a.Lookup) -> a.LookupResult:
        info = None
        if self.directory is not None and action.key:
            if action.by == "caller":
                info = self.directory.by_number(action.tenant, action.key)
            else:
                info = self.directory.by_account(action.tenant, action.key)
        key = MASK if action.sensitive else action.key
        self._trace(node, f"lookup by {action.by} {key}", f"found {info.customer_id}" if info else "not found")
        return a.LookupResult.of(info, self.clock.now())

    def _transfer(self, node: str | None, action: a.Transfer) -> None:
        ivr = getattr(self.settings, "ivr", None)
        if action.kind == "external":
            context = action.context or (ivr.outbound_context if ivr else "outbound")
        else:
            context = action.context or (ivr.extension_context if ivr else "default")
        self.transferred = dataclasses.replace(action, context=context)
        self.call.transfer(action.destination, "XML", context)
        self._trace(node, f"transfer {action.kind} {action.destination} XML {context}")

    def _flow_named(self, name: str) -> Flow:
        if self._load_flow is not None:
            return self._load_flow(name)
        from ivr_flows.loader import flows_dir, load_flow

        file_name = name if name.endswith(".j2") else f"{name}.yaml.j2"
        return load_flow(flows_dir(self.settings) / file_name, self.settings, self.tenant)

    def _record(self, node: str | None, action: a.Record) -> a.RecordResult:
        if action.beep:
            self.call.playback(BEEP)
        self._records += 1
        base = Path(self.settings.recordings_dir) if self.settings is not None else Path("fscc-data") / "recordings"
        path = str((base / self.tenant / "voicemail" / f"{self.call.uuid}-{self._records}.wav").resolve())
        recorded = self.call.record(path, action.max_s, action.silence_threshold, action.silence_s)
        self._trace(node, f"record up to {action.max_s} s", recorded)
        return a.RecordResult(recorded, self.clock.now())

    def _create_task(self, node: str | None, action: a.CreateTask) -> None:
        if self.tasks is None:
            logger.warning("call %s: a %s task for queue %s, but no task sink is wired", self.call.uuid,
                           action.kind, action.queue)
            self._trace(node, f"create {action.kind} task in {action.queue}", "no task sink")
            return
        task_id = self.tasks.create_task(self.call.uuid, action)
        self.created.append((action.kind, task_id))
        self._trace(node, f"create {action.kind} task in {action.queue}", task_id)

    # ------------------------------------------------------------------ best effort
    def _safe(self, func: Callable[[], Any], default: Any) -> Any:
        try:
            return func()
        except CallerHungUp:
            return default

    def _safe_set(self, name: str, value: str) -> None:
        try:
            self.call.set_variable(name, value)
        except CallerHungUp:
            pass
        except Exception:
            logger.warning("call %s: could not set %s", self.call.uuid, name, exc_info=True)

    def _safe_hangup(self, cause: str) -> None:
        try:
            self.call.hangup(cause)
        except Exception:
            logger.debug("call %s: hangup after failure failed", self.call.uuid, exc_info=True)


def _describe(action: a.Action) -> str:
    """A short text for the trace; the actions' own reprs already hide sensitive values."""
    if isinstance(action, a.GetDigits):
        return f"get digits {action.prompt}" + (" (sensitive)" if action.sensitive else "")
    if isinstance(action, a.Play):
        return "play " + " ".join(item[1] if item[0] != "say" else f"say:{item[1]}" for item in action.items)
    if isinstance(action, a.Enqueue):
        return f"queue {action.queue}"
    return repr(action)


__all__ = ["FlowRunner", "RunResult", "TraceEntry", "WebhookClient", "HttpWebhookClient", "prompt_resolver", "SAY_TYPES"]
