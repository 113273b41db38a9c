"""The flow interpreter: `step(flow, state, event) -> (state, actions)`. Pure: no I/O, no gevent.

One step finishes the node the call is in with the event that came back (digits, a lookup
result, the end of a playback) and enters the next node, returning what the runner must do
there. Nodes that need nothing from the switch (`set`, `branch`, `hours`) are passed through
within the same step. Because the state says which node the call is in while the switch
works, a caller hang-up at any point ends the flow at that node, and the path up to it is
already on the channel: the CDR-reaching variables (`fscc_path`, `fscc_outcome`, ...) are
re-published whenever they change, and `fscc_outcome` reads `abandoned` until the flow
decides otherwise, so a hang-up needs no last-moment write to a channel that is gone.

Sensitive `collect` values live in `State.secrets` (excluded from repr) and are never put in
the path, a variable or a channel variable.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from dataclasses import dataclass, field, replace
from typing import Any

from acd.tiers import Tier, priority_for_tier
from fs_scripts import cdr_vars
from ivr_flows import actions as a
from ivr_flows.errors import ExpressionError
from ivr_flows.schema import (
    BranchNode,
    CallbackNode,
    CollectNode,
    Flow,
    HangupNode,
    HoursNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    RecordNode,
    SetNode,
    SurveyNode,
    TransferNode,
    WebhookNode,
)

logger = logging.getLogger(__name__)

TIER_NAMES = {t.name.lower(): int(t) for t in Tier}
MAX_PASS_THROUGH = 200  # set/branch/hours nodes in one step: more is a loop without an exit
UNKNOWN_CALLER_TIER = Tier.OTHER_NETWORK  # a caller the CRM does not know queues behind every known one


@dataclass(frozen=True)
class State:
    flow: str
    node: str | None = None
    path: tuple[str, ...] = ()
    call: dict[str, Any] = field(default_factory=dict)
    channel: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    customer: dict[str, Any] | None = None
    tier: int | None = None
    language: str = "en"
    authenticated: bool = False
    outcome: str | None = None
    callback_number: str | None = None
    queue: str | None = None
    survey: tuple[str, ...] = ()
    attempt: int = 0
    question: int = 0
    now: float = 0.0
    timezone: str = "UTC"
    steps: int = 0
    finished: bool = False
    end_reason: str | None = None
    published: dict[str, str] = field(default_factory=dict)


def step(flow: Flow, state: State | None, event: a.Event) -> tuple[State, list[a.Action]]:
    """Advance the call by one event; see the module docstring."""
    if isinstance(event, a.Start):
        state = _initial(flow, event)
        return _publish(*_goto(flow, state, flow.start, [a.Answer()]))
    if state is None:
        raise ValueError("the first event of a flow must be Start")
    if state.finished:
        return state, []
    state = replace(state, now=getattr(event, "now", state.now) or state.now, steps=state.steps + 1)
    if isinstance(event, a.CallerGone):
        outcome = state.outcome or "abandoned"
        done = replace(state, finished=True, end_reason="caller-hangup", outcome=outcome)
        return done, [a.End(outcome, "caller-hangup", state.node)]
    node = flow.nodes[state.node]
    handler = _RESOLVE.get(type(node))
    new_state, actions = handler(flow, state, node, event)
    return _publish(new_state, actions)


# ---------------------------------------------------------------- state helpers


def _initial(flow: Flow, event: a.Start) -> State:
    channel = {str(k): str(v) for k, v in event.channel.items()}
    tier = None
    if channel.get(cdr_vars.TIER, "").isdigit():
        tier = int(channel[cdr_vars.TIER])
    customer = None
    if channel.get(cdr_vars.CUSTOMER_ID):
        customer = {"id": channel[cdr_vars.CUSTOMER_ID], "tier": tier}
    return State(
        flow=flow.name,
        call=dict(event.call),
        channel=channel,
        vars={**flow.variables, **event.vars},
        customer=customer,
        tier=tier,
        language=str(event.vars.get("language") or channel.get(cdr_vars.LANGUAGE) or flow.language),
        authenticated=channel.get(cdr_vars.AUTHENTICATED) == "true",  # the flag travels with the call
        now=event.now,
        timezone=event.timezone,
    )


def context(state: State) -> dict[str, Any]:
    """What expressions can read (see `schema.EXPRESSION_ROOTS`)."""
    local = _local_time(state)
    return {
        "vars": state.vars,
        "customer": state.customer or {},
        "call": state.call,
        "channel": state.channel,
        "now": {"hour": local.hour, "minute": local.minute, "weekday": local.weekday(),
                "date": local.date().isoformat(), "time": local.strftime("%H:%M"), "epoch": state.now},
        "tiers": TIER_NAMES,
        "tier": state.tier,
        "language": state.language,
        "authenticated": state.authenticated,
        "secret": state.secrets,
    }


def _local_time(state: State, timezone: str | None = None) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(timezone or state.timezone)
    return dt.datetime.fromtimestamp(state.now, tz)


def cdr_values(state: State) -> dict[str, str]:
    """The fscc_* channel variables this state stands for (never a sensitive value)."""
    values = {
        cdr_vars.FLOW: state.flow,
        cdr_vars.PATH: cdr_vars.PATH_SEPARATOR.join(state.path),
        cdr_vars.OUTCOME: state.outcome or "abandoned",
        cdr_vars.LANGUAGE: state.language,
    }
    if state.tier is not None:
        values[cdr_vars.TIER] = str(state.tier)
    if state.customer and state.customer.get("id"):
        values[cdr_vars.CUSTOMER_ID] = str(state.customer["id"])
    if state.authenticated:
        values[cdr_vars.AUTHENTICATED] = "true"
    if state.callback_number:
        values[cdr_vars.CALLBACK_NUMBER] = state.callback_number
    if state.queue:
        values[cdr_vars.QUEUE] = state.queue
    if state.survey:
        values[cdr_vars.SURVEY] = ";".join(state.survey)
    if state.end_reason:
        values[cdr_vars.FLOW_END] = state.end_reason
    return values


def _publish(state: State, actions: list[a.Action]) -> tuple[State, list[a.Action]]:
    """Prepend SetVar for every fscc_* value that changed, so the CDR is right at any moment."""
    values = cdr_values(state)
    changed = [a.SetVar(k, v) for k, v in values.items() if state.published.get(k) != v]
    if not changed:
        return state, actions
    state = replace(state, published={**state.published, **values})
    # the Answer of the first step goes first; variables before the node's own actions
    head = [x for x in actions[:1] if isinstance(x, a.Answer)]
    return state, head + changed + actions[len(head):]


def _mark(state: State, suffix: str) -> State:
    """Append what the caller pressed to the last path entry: `main_menu:1`, `main_menu:9/1`."""
    if not state.path:
        return state
    last = state.path[-1]
    entry = f"{last}/{suffix}" if ":" in last else f"{last}:{suffix}"
    return replace(state, path=state.path[:-1] + (entry,))


def _end(state: State, outcome: str | None, reason: str = "normal", hangup: str | None = "NORMAL_CLEARING",
         actions: list[a.Action] | None = None) -> tuple[State, list[a.Action]]:
    final = outcome or state.outcome or "self-service"
    state = replace(state, finished=True, end_reason=reason, outcome=final)
    out = list(actions or [])
    state, out = _publish(state, out)
    if hangup:
        out.append(a.Hangup(hangup))
    out.append(a.End(final, reason, state.node))
    return state, out


# ---------------------------------------------------------------- entering nodes


def _goto(flow: Flow, state: State, node_id: str | None, actions: list[a.Action]) -> tuple[State, list[a.Action]]:
    """Enter `node_id`, passing through instantaneous nodes, until one needs the switch."""
    actions = list(actions)
    for _ in range(MAX_PASS_THROUGH):
        if node_id is None:
            return _end(state, None, actions=actions)
        node = flow.nodes[node_id]
        state = replace(state, node=node_id, path=state.path + (node_id,), attempt=0, question=0)
        if isinstance(node, SetNode):
            state, extra = _do_set(state, node)
            actions += extra
            node_id = node.next
        elif isinstance(node, BranchNode):
            node_id = _choose(state, node)
        elif isinstance(node, HoursNode):
            node_id = _hours(state, node)
        else:
            state, extra = _enter(flow, state, node)
            return state, actions + extra
    logger.error("flow %s: more than %d nodes without input from %s; ending", flow.name, MAX_PASS_THROUGH, node_id)
    return _end(state, "failed", reason="error", actions=actions)


def _enter(flow: Flow, state: State, node: Node) -> tuple[State, list[a.Action]]:
    lang = state.language
    if isinstance(node, PlayNode):
        return state, [a.Play(_play_items(state, node), lang)]
    if isinstance(node, MenuNode):
        return state, [_menu_digits(node, lang)]
    if isinstance(node, CollectNode):
        return state, _collect_actions(node, lang, retry=False)
    if isinstance(node, LookupNode):
        key = state.call.get("caller_id_number", "") if node.by == "caller" else _eval(state, node.key, "")
        return state, [a.Lookup(node.by, str(key or ""), flow.tenant, _reads_secret(node.key))]
    if isinstance(node, QueueNode):
        return replace(state, queue=node.queue), [_enqueue(flow, state, node)]
    if isinstance(node, TransferNode):
        if node.to == "flow":
            return _end(state, "transferred", reason="transferred", hangup=None,
                        actions=[a.RunFlow(node.destination, dict(state.vars))])
        return _end(state, "transferred", reason="transferred", hangup=None,
                    actions=[a.Transfer(node.to, node.destination, node.context)])
    if isinstance(node, RecordNode):
        out: list[a.Action] = [a.Play(((("prompt", node.prompt),)), lang)] if node.prompt else []
        return state, out + [a.Record(node.max_s, node.silence_threshold, node.silence_s, node.beep)]
    if isinstance(node, CallbackNode):
        number = str(_eval(state, node.number, None) or state.call.get("caller_id_number", ""))
        state = replace(state, outcome="callback", callback_number=number)
        out = [a.CreateTask("callback", flow.tenant, node.queue, _task_attributes(state, {"number": number}))]
        out.append(a.Play((("prompt", node.prompt),), lang) if node.prompt else a.Play((("silence", "100"),), lang))
        return state, out
    if isinstance(node, WebhookNode):
        body = {k: _eval(state, v, None) for k, v in node.body.items()}
        return state, [a.Webhook(node.method, node.url, body, node.timeout_s)]
    if isinstance(node, SurveyNode):
        return state, [_survey_digits(node, 0, lang)]
    if isinstance(node, HangupNode):
        return _end(state, node.outcome, hangup=node.cause)
    raise AssertionError(f"no entry for {type(node).__name__}")


def _reads_secret(expression: Any) -> bool:
    return expression is not None and any(parts[0] == "secret" for parts in expression.names())


def _eval(state: State, expression: Any, default: Any) -> Any:
    if expression is None:
        return default
    try:
        return expression.evaluate(context(state))
    except ExpressionError as exc:
        # the message may quote the values compared: never log it when a secret was read
        shown = f"{expression.source!r} failed" if _reads_secret(expression) else str(exc)
        logger.warning("flow %s node %s: %s", state.flow, state.node, shown)
        return default


def _play_items(state: State, node: PlayNode) -> tuple[tuple[str, ...], ...]:
    items: list[tuple[str, ...]] = []
    for item in node.items:
        if item.kind == "say":
            value = _eval(state, item.expr, "")
            items.append(("say", "" if value is None else str(value), item.say_as))
        else:
            items.append((item.kind, item.value))
    return tuple(items)


def _menu_digits(node: MenuNode, lang: str) -> a.GetDigits:
    return a.GetDigits(node.prompt, 1, 1, int(node.timeout_s * 1000), "", None, False, lang)


def _collect_actions(node: CollectNode, lang: str, retry: bool) -> list[a.Action]:
    out: list[a.Action] = []
    if retry and node.invalid_prompt:
        out.append(a.Play((("prompt", node.invalid_prompt),), lang))
    if node.sensitive:
        out.append(a.MaskRecording())
    out.append(a.GetDigits(node.prompt, node.min_digits, node.max_digits, int(node.timeout_s * 1000),
                           node.terminator, node.regex, node.sensitive, lang))
    return out


def _survey_digits(node: SurveyNode, index: int, lang: str) -> a.GetDigits:
    q = node.questions[index]
    return a.GetDigits(q.prompt, 1, 1, int(node.timeout_s * 1000), "", f"^[{q.min}-{q.max}]$", False, lang)


def _task_attributes(state: State, extra: dict[str, Any]) -> dict[str, Any]:
    attrs = {"caller_id_number": state.call.get("caller_id_number", ""), "call_uuid": state.call.get("uuid", ""),
             "language": state.language, "tier": state.tier, "flow": state.flow,
             "customer_id": (state.customer or {}).get("id")}
    attrs.update(extra)
    return attrs


def _enqueue(flow: Flow, state: State, node: QueueNode) -> a.Enqueue:
    tier = state.tier if state.tier is not None else int(UNKNOWN_CALLER_TIER)
    priority = node.priority
    if priority is None:
        by_tier = {int(Tier.parse(k)): v for k, v in node.priority_by_tier.items()}
        priority = by_tier.get(tier, priority_for_tier(tier))
    return a.Enqueue(
        tenant=flow.tenant, queue=node.queue, skills=dict(node.skills), language=state.language, tier=tier,
        priority=priority, customer_id=(state.customer or {}).get("id"),
        attributes=_task_attributes(state, {"authenticated": state.authenticated}),
        moh=node.moh, announce_prompt=node.announce_prompt, announce_every_s=node.announce_every_s,
        exit_keys=tuple(node.exit_keys), callback_offer_after_s=node.callback_offer_after_s,
        max_wait_s=node.max_wait_s,
    )


def _do_set(state: State, node: SetNode) -> tuple[State, list[a.Action]]:
    new_vars = dict(state.vars)
    new_vars.update(node.vars)
    ctx_state = replace(state, vars=new_vars)
    for name, expression in node.compute.items():
        new_vars[name] = _eval(ctx_state, expression, None)
    state = replace(state, vars=new_vars)
    if "language" in node.vars or "language" in node.compute:
        state = replace(state, language=str(new_vars["language"]))
    out = [a.SetVar(k, str(v)) for k, v in node.channel.items()]
    for name, expression in node.channel_compute.items():
        value = _eval(state, expression, None)
        out.append(a.SetVar(name, "" if value is None else str(value)))
    return state, out


def _choose(state: State, node: BranchNode) -> str:
    for case in node.cases:
        if _eval(state, case.condition, False):
            return case.next
    return node.else_


def _hours(state: State, node: HoursNode) -> str:
    local = _local_time(state, node.timezone)
    if local.date().isoformat() in node.holidays:
        return node.holiday or node.closed
    now_hm = local.strftime("%H:%M")
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    for span in node.weekly.get(day, ()):
        start, end = span.split("-")
        if start <= now_hm < end:
            return node.open
    return node.closed


# ---------------------------------------------------------------- resolving nodes with their result


def _resolve_play(flow: Flow, state: State, node: PlayNode, event: a.Event) -> tuple[State, list[a.Action]]:
    return _goto(flow, state, node.next, [])


def _resolve_menu(flow: Flow, state: State, node: MenuNode, event: a.Event) -> tuple[State, list[a.Action]]:
    digits = event.value if isinstance(event, a.Digits) else ""
    if digits in node.options:
        return _goto(flow, _mark(state, digits), node.options[digits], [])
    timed_out = digits == ""
    state = replace(_mark(state, "t" if timed_out else digits), attempt=state.attempt + 1)
    if state.attempt < node.tries:
        retry_prompt = node.timeout_prompt if timed_out else node.invalid_prompt
        out: list[a.Action] = [a.Play((("prompt", retry_prompt),), state.language)] if retry_prompt else []
        return state, out + [_menu_digits(node, state.language)]
    target = node.on_timeout if timed_out else (node.on_invalid or node.on_timeout)
    if target is None:
        return _end(state, "failed")
    return _goto(flow, state, target, [])


def _resolve_collect(flow: Flow, state: State, node: CollectNode, event: a.Event) -> tuple[State, list[a.Action]]:
    digits = event.value if isinstance(event, a.Digits) else ""
    pre: list[a.Action] = [a.UnmaskRecording()] if node.sensitive else []
    valid = node.min_digits <= len(digits) <= node.max_digits and (node.regex is None or re.fullmatch(node.regex, digits))
    if valid:
        if node.sensitive:
            state = replace(state, secrets={**state.secrets, node.into: digits})
        else:
            state = replace(_mark(state, digits), vars={**state.vars, node.into: digits})
        return _goto(flow, state, node.next, pre)
    state = replace(state if node.sensitive else _mark(state, digits or "t"), attempt=state.attempt + 1)
    if state.attempt < node.tries:
        return state, pre + _collect_actions(node, state.language, retry=True)
    if node.on_failure is None:
        state, out = _end(state, "failed")
        return state, pre + out
    return _goto(flow, state, node.on_failure, pre)


def _resolve_lookup(flow: Flow, state: State, node: LookupNode, event: a.Event) -> tuple[State, list[a.Action]]:
    customer = event.customer if isinstance(event, a.LookupResult) else None
    if not customer:
        return _goto(flow, _mark(state, "not-found"), node.not_found, [])
    tier = customer.get("tier")
    state = replace(
        _mark(state, "found"),
        customer=dict(customer),
        tier=int(Tier.parse(tier)) if tier is not None else state.tier,
        authenticated=state.authenticated or node.authenticate,
    )
    return _goto(flow, state, node.found, [])


def _resolve_queue(flow: Flow, state: State, node: QueueNode, event: a.Event) -> tuple[State, list[a.Action]]:
    result = event if isinstance(event, a.QueueOutcome) else a.QueueOutcome("failed")
    state = _mark(state, result.outcome)
    if result.outcome == "answered":
        state = replace(state, outcome="answered")
        if node.answered:
            return _goto(flow, state, node.answered, [])
        return _end(state, "answered")
    if result.outcome == "abandoned":
        return _end(replace(state, outcome="abandoned"), "abandoned", reason="caller-hangup", hangup=None)
    if result.outcome == "exit-key" and result.exit_key in node.exit_keys:
        return _goto(flow, state, node.exit_keys[result.exit_key], [])
    if result.outcome == "callback":
        state = replace(state, outcome="callback", callback_number=state.call.get("caller_id_number"))
        return _goto(flow, state, node.on_callback, []) if node.on_callback else _end(state, "callback")
    if result.outcome == "max-wait" and node.on_max_wait:
        return _goto(flow, state, node.on_max_wait, [])
    if node.on_failed:
        return _goto(flow, state, node.on_failed, [])
    return _end(state, "failed")


def _resolve_record(flow: Flow, state: State, node: RecordNode, event: a.Event) -> tuple[State, list[a.Action]]:
    path = event.path if isinstance(event, a.RecordResult) else ""
    out: list[a.Action] = []
    if node.type == "voicemail":
        state = replace(state, outcome="voicemail")
        out.append(a.CreateTask("voicemail", flow.tenant, node.queue or "voicemail",
                                _task_attributes(state, {"recording_path": path})))
    if node.into:
        state = replace(state, vars={**state.vars, node.into: path})
    return _goto(flow, state, node.next, out)


def _resolve_callback(flow: Flow, state: State, node: CallbackNode, event: a.Event) -> tuple[State, list[a.Action]]:
    return _goto(flow, state, node.next, [])


def _resolve_webhook(flow: Flow, state: State, node: WebhookNode, event: a.Event) -> tuple[State, list[a.Action]]:
    if isinstance(event, a.WebhookResult) and event.ok:
        if node.into:
            state = replace(state, vars={**state.vars, node.into: dict(event.data)})
        return _goto(flow, _mark(state, "ok"), node.next, [])
    return _goto(flow, _mark(state, "error"), node.on_error, [])


def _resolve_survey(flow: Flow, state: State, node: SurveyNode, event: a.Event) -> tuple[State, list[a.Action]]:
    if isinstance(event, a.Done) or state.question >= len(node.questions):  # the thanks prompt finished
        return _goto(flow, state, node.next, [])
    digits = event.value if isinstance(event, a.Digits) else ""
    q = node.questions[state.question]
    if len(digits) == 1 and digits.isdigit() and q.min <= int(digits) <= q.max:
        state = replace(state, survey=state.survey + (f"{q.name}={digits}",))
    index = state.question + 1
    state = replace(state, question=index)
    if index < len(node.questions):
        return state, [_survey_digits(node, index, state.language)]
    if node.thanks_prompt:
        return state, [a.Play((("prompt", node.thanks_prompt),), state.language)]
    return _goto(flow, state, node.next, [])


_RESOLVE = {
    PlayNode: _resolve_play,
    MenuNode: _resolve_menu,
    CollectNode: _resolve_collect,
    LookupNode: _resolve_lookup,
    QueueNode: _resolve_queue,
    RecordNode: _resolve_record,
    CallbackNode: _resolve_callback,
    WebhookNode: _resolve_webhook,
    SurveyNode: _resolve_survey,
}

__all__ = ["State", "step", "context", "cdr_values"]
