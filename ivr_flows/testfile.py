"""Flow test files (`*.test.yaml`, see flowtest_format.md): reading them, playing one through
the interpreter alone with every event scripted, and checking what came out.

Why a scripted player beside the fssim-backed `fscc flow test`: it proves a flow's logic in
milliseconds with no switch, and it is the reference the runner's results must agree with
(the same file, the same expectations, the same checks: `check_expectations`).
Pure: reads the test file and the template, no sockets.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from acd.tiers import Tier
from fs_scripts import cdr_vars
from ivr_flows import actions as a
from ivr_flows.errors import FlowSyntaxError, Problem
from ivr_flows.interpreter import State, step
from ivr_flows.ports import CustomerInfo
from ivr_flows.schema import Flow

MAX_PROMPTS = 200
QUEUE_OUTCOMES = ("answered", "abandoned", "max-wait", "failed", "callback")
_KNOWN = {"flow", "name", "caller", "caller_name", "destination", "at", "timezone", "dtmf", "vars", "channel",
          "customers", "queue", "webhooks", "hangup_at", "expect"}
_EXPECT = {"path", "outcome", "end", "tasks", "queue", "transfer", "channel", "played"}


@dataclass(frozen=True)
class FlowTestCase:
    file: Path
    flow_file: Path
    name: str
    caller: str
    at: str
    caller_name: str = ""
    destination: str = "10086"
    timezone: str = "Asia/Shanghai"
    dtmf: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)
    channel: dict[str, str] = field(default_factory=dict)
    customers: tuple[CustomerInfo, ...] = ()
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> customer id
    queue: dict[str, str] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    hangup_at: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def start_epoch(self) -> float:
        local = dt.datetime.fromisoformat(self.at).replace(tzinfo=zoneinfo.ZoneInfo(self.timezone))
        return local.timestamp()

    def call(self) -> dict[str, str]:
        return {"uuid": f"flowtest-{self.file.stem}", "caller_id_number": self.caller,
                "caller_id_name": self.caller_name, "destination_number": self.destination}


def parse_dtmf(text: str | None) -> tuple[str, ...]:
    """`"1,,8800123#"` -> ("1", "", "8800123#"): one group per digit prompt, "" a timeout."""
    if text is None or str(text) == "":
        return ()
    return tuple(part.strip() for part in str(text).split(","))


def load_case(path: str | Path) -> FlowTestCase:
    """Read and check one test file; FlowSyntaxError names FILE:LINE:COL of every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise FlowSyntaxError([Problem(str(path), 1, 1, f"cannot read: {exc.strerror or exc}")]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FlowSyntaxError([Problem(str(path), line, col, f"YAML: {exc.problem}")]) from exc
    marks = {}
    if isinstance(root, yaml.MappingNode):
        marks = {str(k.value): (k.start_mark.line + 1, k.start_mark.column + 1) for k, _ in root.value}
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        line, col = marks.get(key, (1, 1))
        problems.append(Problem(str(path), line, col, message))

    if not isinstance(data, Mapping):
        raise FlowSyntaxError([Problem(str(path), 1, 1, "a flow test is a mapping (see ivr_flows/flowtest_format.md)")])
    for key in data:
        if key not in _KNOWN:
            bad(str(key), f"unknown key {key!r} (known: {', '.join(sorted(_KNOWN))})")
    for key in ("flow", "caller", "at", "expect"):
        if key not in data:
            problems.append(Problem(str(path), 1, 1, f"missing {key!r}"))
    expect = data.get("expect") or {}
    if not isinstance(expect, Mapping):
        bad("expect", "'expect' must be a mapping")
        expect = {}
    for key in expect:
        if key not in _EXPECT:
            bad("expect", f"expect: unknown key {key!r} (known: {', '.join(sorted(_EXPECT))})")
    for key in ("path", "outcome"):
        if key not in expect and "expect" in data:
            bad("expect", f"expect needs {key!r}")
    for key in ("vars", "channel", "queue", "webhooks"):
        if data.get(key) is not None and not isinstance(data.get(key), Mapping):
            bad(key, f"{key!r} must be a mapping")
            data = {**data, key: None}
    if data.get("customers") is not None and not isinstance(data.get("customers"), list):
        bad("customers", "'customers' must be a list")
        data = {**data, "customers": None}
    if "path" in expect and not isinstance(expect["path"], list):
        bad("expect", "expect: 'path' must be a list of path entries")
    timezone = str(data.get("timezone", "Asia/Shanghai"))
    try:
        zoneinfo.ZoneInfo(timezone)
    except Exception:
        bad("timezone", f"unknown timezone {timezone!r}")
        timezone = "UTC"
    try:
        dt.datetime.fromisoformat(str(data.get("at", "")))
    except ValueError:
        bad("at", f"at {data.get('at')!r}: expected 'YYYY-MM-DD HH:MM'")
    customers: list[CustomerInfo] = []
    accounts: dict[str, str] = {}
    for i, c in enumerate(data.get("customers") or []):
        if not isinstance(c, Mapping):
            bad("customers", f"customers[{i}]: expected a mapping with id, name, tier, phones, accounts")
            continue
        try:
            info = CustomerInfo(customer_id=str(c["id"]), name=str(c.get("name", "")), tier=int(Tier.parse(c.get("tier", 4))),
                                phones=tuple(str(p) for p in c.get("phones", ())), attributes=dict(c.get("attributes") or {}))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            bad("customers", f"customers[{i}]: {exc}")
            continue
        customers.append(info)
        accounts.update({str(acc): info.customer_id for acc in c.get("accounts", ())})
    queue = {str(k): str(v) for k, v in (data.get("queue") or {}).items()}
    for name, outcome in queue.items():
        if outcome not in QUEUE_OUTCOMES and not outcome.startswith("exit-key:"):
            bad("queue", f"queue {name}: outcome {outcome!r}: expected one of {', '.join(QUEUE_OUTCOMES)} or exit-key:<key>")
    if problems:
        raise FlowSyntaxError(sorted(problems, key=lambda p: (p.line, p.column)))
    return FlowTestCase(
        file=path, flow_file=(path.parent / str(data["flow"])), name=str(data.get("name", path.stem)),
        caller=str(data["caller"]), at=str(data["at"]), caller_name=str(data.get("caller_name", "")),
        destination=str(data.get("destination", "10086")), timezone=timezone, dtmf=parse_dtmf(data.get("dtmf")),
        vars={str(k): v for k, v in (data.get("vars") or {}).items()},
        channel={str(k): str(v) for k, v in (data.get("channel") or {}).items()},
        customers=tuple(customers), accounts=accounts, queue=queue,
        webhooks={str(k): dict(v) if isinstance(v, Mapping) else {} for k, v in (data.get("webhooks") or {}).items()},
        hangup_at=data.get("hangup_at"), expect=dict(expect),
    )


@dataclass
class ScriptedRun:
    """Everything the interpreter asked for, in order, and how the call ended."""

    state: State
    end: a.End | None = None
    actions: list[a.Action] = field(default_factory=list)
    trace: list[tuple[str, str, str]] = field(default_factory=list)  # (node, action, result)
    channel: dict[str, str] = field(default_factory=dict)
    played: list[str] = field(default_factory=list)

    def of_type(self, kind: type) -> list[Any]:
        return [x for x in self.actions if isinstance(x, kind)]


def _keyed(group: str, action: a.GetDigits) -> str:
    digits = group
    for i, ch in enumerate(group):
        if ch in action.terminators:
            digits = group[:i]
            break
    return digits[: action.max_digits]


def _customer(case: FlowTestCase, lookup: a.Lookup) -> CustomerInfo | None:
    if lookup.by == "account":
        wanted = case.accounts.get(lookup.key)
        return next((c for c in case.customers if c.customer_id == wanted), None)
    return next((c for c in case.customers if lookup.key in c.phones), None)


def _queue_outcome(case: FlowTestCase, request: a.Enqueue, now: float) -> a.QueueOutcome:
    outcome = case.queue.get(request.queue, "answered")
    if outcome.startswith("exit-key:"):
        return a.QueueOutcome("exit-key", exit_key=outcome.split(":", 1)[1], now=now)
    agent = "agent-1" if outcome == "answered" else None
    return a.QueueOutcome(outcome, agent_id=agent, task_id=f"task-{request.queue}", now=now)


def play_scripted(flow: Flow, case: FlowTestCase) -> ScriptedRun:
    """Run `flow` for `case`, answering every action from the file (see the format doc)."""
    now = case.start_epoch
    state, batch = step(flow, None, a.Start(case.call(), dict(case.channel), now, case.timezone, dict(case.vars)))
    run = ScriptedRun(state)
    digits = list(case.dtmf)
    prompts = 0
    while True:
        node = state.node or ""
        run.actions.extend(batch)
        for action in batch:
            if isinstance(action, a.SetVar):
                run.channel[action.name] = action.value
            elif isinstance(action, a.Play):
                run.played.extend(item[1] if item[0] == "prompt" else f"say:{item[1]}"
                                  for item in action.items if item[0] in ("prompt", "say"))
            elif isinstance(action, a.GetDigits):
                run.played.append(action.prompt)
            if isinstance(action, a.End):
                run.end = action
                run.trace.append((str(action.node), repr(action), ""))
                run.state = state
                return run
        last = batch[-1] if batch else None
        now += 1.0
        if case.hangup_at is not None and node == case.hangup_at:
            event: a.Event = a.CallerGone(now, "NORMAL_CLEARING")
        elif isinstance(last, a.GetDigits):
            prompts += 1
            if prompts > MAX_PROMPTS:
                raise AssertionError(f"{case.file}: more than {MAX_PROMPTS} digit prompts: a loop without an exit?")
            event = a.Digits(_keyed(digits.pop(0) if digits else "", last), now, last.sensitive)
        elif isinstance(last, a.Lookup):
            event = a.LookupResult.of(_customer(case, last), now)
        elif isinstance(last, a.Enqueue):
            event = _queue_outcome(case, last, now)
        elif isinstance(last, a.Record):
            event = a.RecordResult(f"/var/lib/fscc/recordings/{case.call()['uuid']}-{len(run.actions)}.wav", now)
        elif isinstance(last, a.Webhook):
            reply = case.webhooks.get(last.url, {"ok": False})
            event = a.WebhookResult(bool(reply.get("ok")), dict(reply.get("data") or {}), "" if reply.get("ok") else "scripted failure", now)
        else:
            event = a.Done(now)
        run.trace.append((node, repr(last) if last is not None else "", repr(event)))
        state, batch = step(flow, state, event)


def check_expectations(case: FlowTestCase, run: ScriptedRun) -> list[str]:
    """Every way `run` differs from `case.expect`; empty when the test passes."""
    exp = case.expect
    out: list[str] = []
    if run.end is None:
        return ["the flow did not end"]
    path = list(run.state.path)
    if "path" in exp and path != [str(p) for p in exp["path"]]:
        out.append(f"path: expected {cdr_vars.PATH_SEPARATOR.join(map(str, exp['path']))}, got {cdr_vars.PATH_SEPARATOR.join(path)}")
    if "outcome" in exp and run.end.outcome != exp["outcome"]:
        out.append(f"outcome: expected {exp['outcome']}, got {run.end.outcome}")
    if "end" in exp and run.end.reason != exp["end"]:
        out.append(f"end: expected {exp['end']}, got {run.end.reason}")
    if "tasks" in exp:
        kinds = [t.kind for t in run.of_type(a.CreateTask)]
        if kinds != list(exp["tasks"] or []):
            out.append(f"tasks: expected {exp['tasks']}, got {kinds}")
    if "queue" in exp:
        enqueues = run.of_type(a.Enqueue)
        if not enqueues:
            out.append("queue: expected an enqueue, the flow queued nothing")
        else:
            names = {f.name for f in fields(a.Enqueue)}
            got = enqueues[-1]
            for key, want in (exp["queue"] or {}).items():
                attr = "queue" if key == "name" else key
                have = getattr(got, attr) if attr in names else "<no such field>"
                if have != want:
                    out.append(f"queue.{key}: expected {want!r}, got {have!r}")
    if "transfer" in exp:
        moves = [{"kind": x.kind, "destination": x.destination} for x in run.of_type(a.Transfer)]
        moves += [{"kind": "flow", "destination": x.name} for x in run.of_type(a.RunFlow)]
        want = exp["transfer"]
        if (want is None and moves) or (want is not None and (not moves or any(moves[-1].get(k) != str(v) for k, v in want.items()))):
            out.append(f"transfer: expected {want}, got {moves[-1] if moves else None}")
    for name, want in (exp.get("channel") or {}).items():
        if run.channel.get(name) != str(want):
            out.append(f"channel {name}: expected {want!r}, got {run.channel.get(name)!r}")
    if "played" in exp:
        rest = iter(run.played)
        missing = [p for p in exp["played"] if not any(str(p) == q for q in rest)]
        if missing:
            out.append(f"played: {missing[0]!r} not played in order (played: {', '.join(run.played)})")
    return out
