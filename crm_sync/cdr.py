"""mod_json_cdr files -> frozen leg records -> contact summaries. Pure: standard library only.

mod_json_cdr writes one JSON object per channel (leg). With `encode-values=true` (how fscc
renders json_cdr.conf, and how the captures in ../shared/fs-captures were taken) every value
under `variables` is URL-encoded; the caller profiles under `callflow` are not. We decode only
the variables we read, after the JSON is split into keys, never the raw text (the same
split-before-decode rule as the ESL parser: an encoded quote or newline stays inside its value).

A contact (one customer interaction) is the set of legs linked to each other by the switch's
own pointers: `bridge_uuid`, `signal_bond`, `last_bridge_to` (bridged legs),
`other_loopback_leg_uuid` (the two halves of a loopback channel) and `originating_leg_uuid` /
`originator` (a B-leg names the leg that originated it). `leg_links` returns those pointers;
the store joins them (union-find) because a contact's legs can arrive in different files,
batches and runs. `summarize_contact` is the one place that turns a contact's legs into its
outcome, time points and durations; the store calls it again whenever a contact gains a leg,
so the result never depends on the order in which legs arrived.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from operator import attrgetter
from typing import Any
from urllib.parse import unquote

from crm_sync.errors import CdrError
from fs_scripts import cdr_vars

#: variables holding the UUID of another leg of the same contact
LINK_VARIABLES = (
    "bridge_uuid",
    "signal_bond",
    "last_bridge_to",
    "other_loopback_leg_uuid",
    "originating_leg_uuid",
    "originator",
    cdr_vars.CALLER_UUID,  # an agent leg the ACD rang for a caller, answered or not
)

#: hangup causes with which a caller who was never connected simply gave up (not a failure)
CALLER_GAVE_UP_CAUSES = frozenset({"ORIGINATOR_CANCEL", "NORMAL_CLEARING", "LOSE_RACE", "NORMAL_UNSPECIFIED"})

_FSCC_VARS = tuple(
    getattr(cdr_vars, name) for name in dir(cdr_vars)
    if name.isupper() and isinstance(getattr(cdr_vars, name), str) and getattr(cdr_vars, name).startswith("fscc_")
)
_CC_VARS = (
    "cc_queue", "cc_agent", "cc_side", "cc_cause", "cc_cancel_reason", "cc_member_uuid",
    "cc_queue_joined_epoch", "cc_queue_answered_epoch", "cc_queue_canceled_epoch", "cc_queue_terminated_epoch",
    # the switch's own account of the last recording (set at RECORD_STOP, before the CDR is
    # written): what completes a recording whose fscc_recording_* variables came too late
    "record_ms", "record_file_size",
)
_FSCC_SET = frozenset(_FSCC_VARS)
_CC_SET = frozenset(_CC_VARS)
_TIME_VARS = {
    "start_us": ("start_uepoch", "created_time"),
    "answer_us": ("answer_uepoch", "answered_time"),
    "bridge_us": ("bridge_uepoch", "bridged_time"),
    "end_us": ("end_uepoch", "hangup_time"),
}
#: every variable parse_cdr reads for every leg
_READ_SET = frozenset(
    ("uuid", "direction", "channel_name", "hold_accum_usec", "billmsec", "hangup_cause", "hangup_cause_q850",
     "loopback_leg", "last_bridge_role")
    + tuple(var_name for var_name, _ in _TIME_VARS.values()) + LINK_VARIABLES + _FSCC_VARS + _CC_VARS
)


class Outcome(str, enum.Enum):
    """How a contact ended, from the customer's point of view."""

    ANSWERED = "answered"  # an agent (or the called party) talked with the customer
    ABANDONED = "abandoned"  # the caller gave up while waiting
    SHORT_ABANDONED = "short-abandoned"  # gave up within the short-abandon threshold (not counted against SL)
    SELF_SERVICE = "self-service"  # the IVR served the caller, no agent needed
    CALLBACK = "callback"  # the caller left the queue for a callback
    VOICEMAIL = "voicemail"  # the caller left a message
    FAILED = "failed"  # never connected: no answer, busy, no route, unregistered agent ...


_FSCC_OUTCOMES = frozenset({"answered", "abandoned", "self-service", "callback", "voicemail", "failed", "transferred"})


@dataclass(frozen=True)
class LegRecord:
    """One leg (one mod_json_cdr file), with only what the CRM needs, decoded and typed.

    Times are integer microseconds since the epoch as the switch wrote them (0 = never).
    `fscc` are the fscc_* variables, `cc` mod_callcenter's cc_* and the switch's record_ms /
    record_file_size, as sorted (name, value) pairs.
    """

    uuid: str
    source: str
    direction: str  # inbound / outbound, as the switch sees the channel
    channel_name: str
    caller_id_number: str
    caller_id_name: str
    ani: str
    destination_number: str
    context: str
    start_us: int
    answer_us: int
    bridge_us: int
    end_us: int
    hold_us: int
    billsec_ms: int
    hangup_cause: str
    hangup_cause_q850: str
    loopback_leg: str  # "A", "B" or ""
    last_bridge_role: str
    links: tuple[str, ...]
    fscc: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]

    def var(self, name: str, default: str = "") -> str:
        """An fscc_* or cc_* variable of this leg."""
        return self._vars.get(name, default)

    @cached_property
    def _vars(self) -> dict[str, str]:
        # built once per leg: summarizing a contact reads each leg's variables many times
        return dict(self.cc + self.fscc)

    @property
    def answered(self) -> bool:
        return self.answer_us > 0

    def to_json(self) -> str:
        # computed once (the parse helper computes it, see __reduce__); a flat dict of the fields
        # in declaration order (tuples become lists): dataclasses.asdict deep-copies every nested
        # tuple, and sorting the keys doubled the cost for nothing
        text = self.__dict__.get("_json")
        if text is None:
            text = self.__dict__["_json"] = _ENCODER.encode(dict(zip(_LEG_FIELDS, _LEG_VALUES(self), strict=True)))
        return text

    def __reduce__(self) -> tuple:
        # what the parse helper (crm_sync/reader.py) sends: the fields and the JSON text the
        # store writes, so that the process writing the store neither encodes it nor runs the
        # frozen __init__ again; not the cached variable dict (rebuilt on first use)
        return (_rebuild_leg, (_LEG_VALUES(self), self.to_json()))

    @classmethod
    def from_json(cls, text: str) -> LegRecord:
        data = json.loads(text)
        data["links"] = tuple(data["links"])
        data["fscc"] = tuple(tuple(p) for p in data["fscc"])
        data["cc"] = tuple(tuple(p) for p in data["cc"])
        return cls(**data)


def _rebuild_leg(values: tuple, text: str) -> LegRecord:
    leg = object.__new__(LegRecord)
    leg.__dict__.update(zip(_LEG_FIELDS, values, strict=True))
    leg.__dict__["_json"] = text
    return leg


_LEG_FIELDS = tuple(f.name for f in fields(LegRecord))
_LEG_VALUES = attrgetter(*_LEG_FIELDS)
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def parse_cdr(raw: bytes | str, source: str, *, encoded_values: bool = True) -> LegRecord:
    """Parse one mod_json_cdr file's content. Raises CdrError naming `source` and what is wrong."""
    try:
        doc = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise CdrError(source, f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise CdrError(source, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(doc, dict):
        raise CdrError(source, f"expected a JSON object, got {type(doc).__name__}")
    variables = doc.get("variables")
    if not isinstance(variables, dict):
        raise CdrError(source, "no 'variables' object (is this a mod_json_cdr file?)")
    profile, times = _first_profile(doc, source)
    # one pass over the variables this parser always reads (the present ones only: a leg has
    # about 100 variables, we want 25): decoded once, looked up from a plain dict after that
    def var(name: str) -> str:
        value = variables.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise CdrError(source, f"variable {name!r} is not a string: {value!r}")
        return unquote(value) if encoded_values and "%" in value else value

    found = {name: var(name) for name in _READ_SET.intersection(variables) if variables[name] is not None}

    get = found.get
    uuid = get("uuid") or str(profile.get("uuid") or "")
    if not uuid:
        raise CdrError(source, "no leg uuid (variables.uuid and callflow caller_profile.uuid are both missing)")
    stamps: dict[str, int] = {}
    for field_name, (var_name, time_name) in _TIME_VARS.items():
        text = get(var_name) or str(times.get(time_name) or "0")
        stamps[field_name] = _int(text, source, var_name)
    if stamps["start_us"] <= 0:
        raise CdrError(source, "start_uepoch is missing or zero: the leg has no start time")
    if stamps["end_us"] and stamps["end_us"] < stamps["start_us"]:
        raise CdrError(source, f"end_uepoch {stamps['end_us']} is before start_uepoch {stamps['start_us']}")
    links = tuple(sorted({v for n in LINK_VARIABLES if (v := get(n)) and v != uuid}))
    # an empty value is no value (a decoded value is empty only when the raw one was)
    fscc = tuple(sorted((n, v) for n in _FSCC_SET.intersection(found) if (v := found[n])))
    cc = tuple(sorted((n, v) for n in _CC_SET.intersection(found) if (v := found[n])))
    record = LegRecord(
        uuid=uuid,
        source=source,
        direction=get("direction", "") or str((doc.get("channel_data") or {}).get("direction") or ""),
        channel_name=get("channel_name", "") or str(profile.get("chan_name") or ""),
        caller_id_number=str(profile.get("caller_id_number") or var("caller_id_number")),
        caller_id_name=str(profile.get("caller_id_name") or var("caller_id_name")),
        ani=str(profile.get("ani") or var("ani")),
        destination_number=str(profile.get("destination_number") or var("destination_number")),
        context=str(profile.get("context") or ""),
        hold_us=_int(get("hold_accum_usec") or "0", source, "hold_accum_usec"),
        billsec_ms=_int(get("billmsec") or "0", source, "billmsec"),
        hangup_cause=get("hangup_cause", ""),
        hangup_cause_q850=get("hangup_cause_q850", ""),
        loopback_leg=get("loopback_leg", ""),
        last_bridge_role=get("last_bridge_role", ""),
        links=links,
        fscc=fscc,
        cc=cc,
        **stamps,
    )
    _validate_fscc(record)
    return record


def _first_profile(doc: Mapping[str, Any], source: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The caller profile the leg was created with: the last entry of `callflow` (newest first)."""
    callflow = doc.get("callflow")
    if callflow is None:
        return {}, {}
    if isinstance(callflow, dict):  # older switches write a single object
        callflow = [callflow]
    if not isinstance(callflow, list) or not all(isinstance(c, dict) for c in callflow):
        raise CdrError(source, "'callflow' is neither an object nor a list of objects")
    if not callflow:
        return {}, {}
    first = callflow[-1]
    profile = first.get("caller_profile") or {}
    times = first.get("times") or {}
    if not isinstance(profile, dict) or not isinstance(times, dict):
        raise CdrError(source, "callflow caller_profile/times are not objects")
    # the newest profile holds the final hangup time
    newest_times = callflow[0].get("times") or {}
    merged = dict(times)
    if isinstance(newest_times, dict) and newest_times.get("hangup_time") not in (None, "0", ""):
        merged["hangup_time"] = newest_times["hangup_time"]
    return profile, merged


def _int(text: str, source: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CdrError(source, f"{name} is not an integer: {text!r}") from None


def _float_var(leg: LegRecord, name: str) -> float | None:
    text = leg.var(name)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise CdrError(leg.source, f"{name} is not a number: {text!r}") from None


_NUMBER_VARS = (cdr_vars.ENQUEUED_AT, cdr_vars.OFFERED_AT, cdr_vars.ANSWERED_AT, cdr_vars.ABANDONED_AT,
                cdr_vars.WRAPUP_END_AT, cdr_vars.WRAPUP_S, cdr_vars.WAIT_S, cdr_vars.RECORDING_DURATION_MS,
                cdr_vars.RECORDING_SIZE)


def _validate_fscc(leg: LegRecord) -> None:
    values = leg._vars
    outcome = values.get(cdr_vars.OUTCOME)
    if outcome and outcome not in _FSCC_OUTCOMES:
        raise CdrError(leg.source, f"{cdr_vars.OUTCOME} is {outcome!r}, expected one of {', '.join(sorted(_FSCC_OUTCOMES))}")
    tier = values.get(cdr_vars.TIER)
    if tier and not (tier.isdigit() and 1 <= int(tier) <= 7):
        raise CdrError(leg.source, f"{cdr_vars.TIER} is {tier!r}, expected 1..7")
    for name in _NUMBER_VARS:
        if name in values:
            _float_var(leg, name)


@dataclass(frozen=True)
class RecordingInfo:
    """A recording named by the fscc_recording_* variables of one leg."""

    leg_uuid: str
    path: str
    duration_ms: int
    size_bytes: int
    sha256: str


def leg_recording(leg: LegRecord) -> RecordingInfo | None:
    """The recording fscc started on this leg. Duration and size come from fscc's RECORD_STOP
    hook when it reached the call, else from the switch's own record_ms / record_file_size
    (the caller hung up first and the CDR was written before the hook could answer)."""
    path = leg.var(cdr_vars.RECORDING_PATH)
    if not path:
        return None
    duration = _float_var(leg, cdr_vars.RECORDING_DURATION_MS)
    size = _float_var(leg, cdr_vars.RECORDING_SIZE)
    return RecordingInfo(
        leg_uuid=leg.uuid,
        path=path,
        duration_ms=int(duration if duration is not None else _float_cc(leg, "record_ms")),
        size_bytes=int(size if size is not None else _float_cc(leg, "record_file_size")),
        sha256=leg.var(cdr_vars.RECORDING_SHA256),
    )


def _float_cc(leg: LegRecord, name: str) -> float:
    try:
        return float(leg.var(name) or 0)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class ContactSummary:
    """What the CRM stores about one contact, computed from all of its legs. Times: epoch seconds."""

    key: str  # the smallest leg UUID: stable however the legs arrived
    caller_leg: str
    agent_leg: str | None
    tenant: str
    channel: str
    direction: str
    ani: str
    dnis: str
    flow: str
    flow_path: str
    queue: str
    agent: str
    customer_id: str
    tier: int | None
    authenticated: bool
    started_at: float
    answered_at: float | None
    enqueued_at: float | None
    agent_answered_at: float | None
    abandoned_at: float | None
    ended_at: float
    wrapup_end_at: float | None
    wait_s: float
    talk_s: float
    hold_s: float
    acw_s: float
    outcome: Outcome
    hangup_cause: str
    disposition: str
    work_order_id: str
    callback_number: str
    leg_count: int


def _first_float(legs: Iterable[LegRecord], name: str) -> float | None:
    for leg in legs:
        value = _float_var(leg, name)
        if value is not None:
            return value
    return None


#: a leg with any of these fscc variables is one fscc handled (ranked first as the caller)
_CALLER_MARKS = frozenset({cdr_vars.TENANT, cdr_vars.FLOW, cdr_vars.OUTCOME})


def _pick_caller_leg(legs: list[LegRecord]) -> LegRecord:
    """The customer's leg: the one fscc put its variables on, else mod_callcenter's member leg,
    else the inbound leg whose loopback half originated the bridge, else the earliest inbound leg."""
    if len(legs) == 1:
        return legs[0]
    by_uuid = {leg.uuid: leg for leg in legs}

    def rank(leg: LegRecord) -> tuple:
        has_fscc = not _CALLER_MARKS.isdisjoint(leg._vars)
        member = leg.var("cc_side") == "member"
        partner_originated = leg.last_bridge_role == "originator" or (leg.loopback_leg == "B" and any(
            by_uuid[u].last_bridge_role == "originator" for u in leg.links if u in by_uuid))
        return (not has_fscc, not member, leg.direction != "inbound", not partner_originated, leg.start_us, leg.uuid)

    return min(legs, key=rank)


def _pick_agent_leg(legs: list[LegRecord], caller: LegRecord) -> LegRecord | None:
    candidates = [leg for leg in legs if leg.uuid != caller.uuid and (leg.var("cc_side") == "agent" or leg.var(cdr_vars.AGENT))]
    if not candidates:
        candidates = [leg for leg in legs if leg.uuid != caller.uuid and leg.bridge_us and leg.direction == "outbound" and not leg.loopback_leg]
    return min(candidates, key=lambda leg: (leg.start_us, leg.uuid)) if candidates else None


def summarize_contact(legs: Iterable[LegRecord], *, short_abandon_s: float = 5.0) -> ContactSummary:
    """The contact's record from all its legs (any order; same result for the same set of legs)."""
    legs = sorted(legs, key=lambda leg: (leg.start_us, leg.uuid))
    if not legs:
        raise ValueError("a contact needs at least one leg")
    caller = _pick_caller_leg(legs)
    agent_leg = _pick_agent_leg(legs, caller)
    ordered = [caller] + [leg for leg in legs if leg is not caller]  # the caller's own variables win
    # each variable's first non-empty value in that order, looked up once per name below
    first: dict[str, str] = {}
    for leg in reversed(ordered):
        first.update({k: v for k, v in leg._vars.items() if v})

    started_at = min(leg.start_us for leg in legs) / 1e6
    ended_at = max((leg.end_us for leg in legs), default=0) / 1e6 or started_at
    answered_at = caller.answer_us / 1e6 if caller.answered else None
    enqueued_at = _first_float_of(first, ordered, cdr_vars.ENQUEUED_AT) or _float_or_none(first.get("cc_queue_joined_epoch"))
    agent_answered_at = _first_float_of(first, ordered, cdr_vars.ANSWERED_AT) or _float_or_none(first.get("cc_queue_answered_epoch"))
    if agent_answered_at is None and agent_leg is not None and agent_leg.answered:
        agent_answered_at = (agent_leg.bridge_us or agent_leg.answer_us) / 1e6
    abandoned_at = _first_float_of(first, ordered, cdr_vars.ABANDONED_AT) or _float_or_none(first.get("cc_queue_canceled_epoch"))
    wrapup_end_at = _first_float_of(first, ordered, cdr_vars.WRAPUP_END_AT)
    hold_s = max(leg.hold_us for leg in legs) / 1e6

    wait_s = _first_float_of(first, ordered, cdr_vars.WAIT_S)
    if wait_s is None:
        if enqueued_at is not None:
            wait_s = (agent_answered_at or abandoned_at or ended_at) - enqueued_at
        elif not any(leg.answered for leg in legs):
            wait_s = ended_at - started_at  # ringing the whole time
        else:
            wait_s = 0.0
    wait_s = max(0.0, wait_s)
    agent_end = (agent_leg.end_us / 1e6) if agent_leg is not None and agent_leg.end_us else ended_at
    talk_s = max(0.0, agent_end - agent_answered_at - hold_s) if agent_answered_at is not None else 0.0
    acw_s = max(0.0, wrapup_end_at - agent_end) if wrapup_end_at is not None else 0.0
    if wrapup_end_at is None:  # the usual case: the switch writes the CDR before the wrap-up ends
        wrapup_end_at, acw_s = _planned_wrapup(legs)

    tier_text = first.get(cdr_vars.TIER, "")
    queue = first.get(cdr_vars.QUEUE, "") or first.get("cc_queue", "")
    agent = first.get(cdr_vars.AGENT, "") or first.get("cc_agent", "")
    flow = first.get(cdr_vars.FLOW, "")
    outcome = _classify(
        legs, caller, fscc_outcome=first.get(cdr_vars.OUTCOME, ""), cc_cause=first.get("cc_cause", ""),
        enqueued=enqueued_at is not None, agent_answered=agent_answered_at is not None, flow=flow,
        wait_s=wait_s, short_abandon_s=short_abandon_s,
    )
    return ContactSummary(
        key=legs[0].uuid if len(legs) == 1 else min(leg.uuid for leg in legs),
        caller_leg=caller.uuid,
        agent_leg=agent_leg.uuid if agent_leg else None,
        tenant=first.get(cdr_vars.TENANT, "") or "default",
        channel=first.get(cdr_vars.CHANNEL, "") or "voice",
        direction="inbound" if caller.direction == "inbound" else "outbound",
        ani=caller.caller_id_number or caller.ani,
        dnis=caller.destination_number,
        flow=flow,
        flow_path=first.get(cdr_vars.PATH, ""),
        queue=queue,
        agent=agent,
        customer_id=first.get(cdr_vars.CUSTOMER_ID, ""),
        tier=int(tier_text) if tier_text else None,
        authenticated=first.get(cdr_vars.AUTHENTICATED, "") == "true",
        started_at=started_at,
        answered_at=answered_at,
        enqueued_at=enqueued_at,
        agent_answered_at=agent_answered_at,
        abandoned_at=abandoned_at,
        ended_at=ended_at,
        wrapup_end_at=wrapup_end_at,
        wait_s=round(wait_s, 3),
        talk_s=round(talk_s, 3),
        hold_s=round(hold_s, 3),
        acw_s=round(acw_s, 3),
        outcome=outcome,
        hangup_cause=caller.hangup_cause,
        disposition=first.get(cdr_vars.DISPOSITION, ""),
        work_order_id=first.get(cdr_vars.WORK_ORDER_ID, ""),
        callback_number=first.get(cdr_vars.CALLBACK_NUMBER, ""),
        leg_count=len(legs),
    )


def _planned_wrapup(legs: Iterable[LegRecord]) -> tuple[float | None, float]:
    """(end, seconds) of the after-call work fscc gave the agent who talked: the wrap-up timer
    starts when the talk ends, so it ends `fscc_wrapup_s` after the bridged agent leg did. An
    agent ready sooner ended it early; that is in the agent activity log, in no CDR."""
    talked = [leg for leg in legs if leg.bridge_us and leg.end_us and leg.var(cdr_vars.WRAPUP_S)]
    if not talked:
        return None, 0.0
    leg = max(talked, key=lambda leg: (leg.bridge_us, leg.uuid))
    seconds = max(0.0, _float_var(leg, cdr_vars.WRAPUP_S) or 0.0)
    return leg.end_us / 1e6 + seconds, seconds


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _first_float_of(first: Mapping[str, str], ordered: list[LegRecord], name: str) -> float | None:
    """`_first_float(ordered, name)` from the merged first values; the legs only to name the
    one whose value is not a number."""
    text = first.get(name)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return _first_float(ordered, name)  # raises CdrError naming that leg


def _classify(
    legs: list[LegRecord], caller: LegRecord, *, fscc_outcome: str, cc_cause: str, enqueued: bool,
    agent_answered: bool, flow: str, wait_s: float, short_abandon_s: float,
) -> Outcome:
    """fscc's own verdict first, then mod_callcenter's, then what the switch's stamps say."""

    def abandoned() -> Outcome:
        return Outcome.SHORT_ABANDONED if wait_s < short_abandon_s else Outcome.ABANDONED

    bridged = any(leg.bridge_us for leg in legs)
    if fscc_outcome == "abandoned":
        return abandoned()
    if fscc_outcome == "transferred":
        return Outcome.ANSWERED if bridged or agent_answered else Outcome.SELF_SERVICE
    if fscc_outcome:
        return Outcome(fscc_outcome)
    if cc_cause == "cancel":
        return abandoned()
    if agent_answered or cc_cause == "answered" or bridged:
        return Outcome.ANSWERED
    if enqueued:
        return abandoned()
    if caller.answered:
        if caller.hangup_cause and caller.hangup_cause not in CALLER_GAVE_UP_CAUSES:
            return Outcome.FAILED  # answered by the switch, then a bridge failed (USER_NOT_REGISTERED, ...)
        return Outcome.SELF_SERVICE if flow else Outcome.ANSWERED
    if caller.hangup_cause in CALLER_GAVE_UP_CAUSES and caller.direction == "inbound":
        return abandoned()
    return Outcome.FAILED


def group_legs(legs: Iterable[LegRecord]) -> list[list[LegRecord]]:
    """Split legs into contacts by their links (union-find), each contact's legs sorted by start."""
    legs = list(legs)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for leg in legs:
        for other in leg.links:
            a, b = find(leg.uuid), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        find(leg.uuid)
    groups: dict[str, list[LegRecord]] = {}
    for leg in legs:
        groups.setdefault(find(leg.uuid), []).append(leg)
    return [sorted(g, key=lambda leg: (leg.start_us, leg.uuid)) for _, g in sorted(groups.items())]
