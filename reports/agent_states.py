"""Agent state spans from what is recorded: activity changes plus the contacts agents handled. Pure.

Why two inputs: the ACD records an agent's chosen activity (available, break, offline, and
the engine's wrap-up), but an agent stays "available" in the ACD's sense while talking on a
channel with spare capacity; the contacts say exactly when the agent talked (answered_at to
answered_at + talk + hold) and wrapped up (+ ACW). Laying the contacts over the activity
timeline gives the spans occupancy needs: handling where a contact says so, otherwise the
chosen activity. Handling wins over any activity (an agent on a call was staffed, whatever
the activity log says), and talking wins over wrap-up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from reports.facts import AgentState, AgentStateSpan, ContactFacts, Outcome

#: ACD worker activities (acd.model.WorkerActivity values) -> report states
ACTIVITY_STATES: dict[str, AgentState] = {
    "available": AgentState.AVAILABLE,
    "on-demand": AgentState.AVAILABLE,
    "break": AgentState.BREAK,
    "wrap-up": AgentState.WRAP_UP,
    "offline": AgentState.OFFLINE,
    "reserved": AgentState.RESERVED,
    "busy": AgentState.BUSY,
}


@dataclass(frozen=True)
class ActivityChange:
    """Agent `agent` of `tenant` switched to `activity` at epoch second `at`."""

    tenant: str
    agent: str
    activity: str
    at: float

    @property
    def state(self) -> AgentState:
        try:
            return ACTIVITY_STATES[self.activity]
        except KeyError:
            return AgentState.parse(self.activity)


def build_spans(changes: Iterable[ActivityChange], contacts: Iterable[ContactFacts], end: float) -> list[AgentStateSpan]:
    """Spans per agent from its activity changes (each lasting until the next, the last until
    `end`), with the handling time of its answered contacts laid over them."""
    base: dict[tuple[str, str], list[tuple[float, AgentState]]] = defaultdict(list)
    for change in changes:
        base[(change.tenant, change.agent)].append((change.at, change.state))
    handling: dict[tuple[str, str], list[tuple[float, float, AgentState]]] = defaultdict(list)
    for c in contacts:
        if c.outcome is not Outcome.ANSWERED or not c.agent or c.answered_at is None:
            continue
        talk_end = c.answered_at + c.talk_s + c.hold_s
        handling[(c.tenant, c.agent)].append((c.answered_at, talk_end, AgentState.BUSY))
        if c.acw_s > 0:
            handling[(c.tenant, c.agent)].append((talk_end, talk_end + c.acw_s, AgentState.WRAP_UP))

    spans: list[AgentStateSpan] = []
    for tenant, agent in sorted(set(base) | set(handling)):
        spans.extend(_sweep(tenant, agent, base.get((tenant, agent), []), handling.get((tenant, agent), []), end))
    return spans


def _sweep(tenant: str, agent: str, timeline: list[tuple[float, AgentState]],
           overlays: list[tuple[float, float, AgentState]], end: float) -> list[AgentStateSpan]:
    """One pass over the agent's change points: O(n log n) in its changes and contacts."""
    events: dict[float, list[tuple[str, AgentState]]] = defaultdict(list)
    for at, state in timeline:
        events[min(at, end)].append(("base", state))
    for start, stop, state in overlays:
        if start < end and stop > start:
            events[start].append(("open", state))
            events[min(stop, end)].append(("close", state))
    points = sorted(events)
    spans: list[AgentStateSpan] = []
    base_state: AgentState | None = None
    active = {AgentState.BUSY: 0, AgentState.WRAP_UP: 0}
    for point, following in zip(points, points[1:] + [end], strict=True):
        for kind, state in events[point]:
            if kind == "base":
                base_state = state
            else:
                active[state] += 1 if kind == "open" else -1
        if following <= point:
            continue
        state = AgentState.BUSY if active[AgentState.BUSY] else AgentState.WRAP_UP if active[AgentState.WRAP_UP] else base_state
        if state is None:
            continue
        if spans and spans[-1].state is state and spans[-1].end == point:
            spans[-1] = AgentStateSpan(tenant, agent, state, spans[-1].start, following)
        else:
            spans.append(AgentStateSpan(tenant, agent, state, point, following))
    return spans


#: how long after a contact ends its agent's wrap-up may begin and still be the contact's ACW
ACW_START_TOLERANCE_S = 30.0


def attribute_acw(contacts: Iterable[ContactFacts], changes: Iterable[ActivityChange],
                  tolerance_s: float = ACW_START_TOLERANCE_S) -> list[ContactFacts]:
    """Contacts with their after-call work as the agent activity log measured it (see
    measured_acw); a contact whose wrap-up is not in the log keeps the CRM's figure."""
    out = list(contacts)
    for index, seconds in measured_acw(out, changes, tolerance_s).items():
        out[index] = replace(out[index], acw_s=seconds)
    return out


def measured_acw(contacts: Sequence[ContactFacts], changes: Iterable[ActivityChange],
                 tolerance_s: float = ACW_START_TOLERANCE_S) -> dict[int, float]:
    """{index in `contacts`: seconds of wrap-up the agent activity log recorded for it}.

    Why: a call's CDR is written when the call hangs up, and wrap-up starts then, so the CDR
    cannot say when wrap-up ended. crm_sync's `acw_s` is therefore the wrap-up fscc *gave*
    the agent (the queue's wrap-up seconds, `fscc_wrapup_s` on the agent leg), and an agent
    who pressed ready sooner worked less than that. The ACD records the agent's real wrap-up:
    the first `wrap-up` change of the contact's agent from the contact's answer to
    `tolerance_s` after its end is that contact's wrap-up, lasting until the agent's next
    change. Each wrap-up is given to one contact at most.
    """
    wrapups: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    timeline: dict[tuple[str, str], list[ActivityChange]] = defaultdict(list)
    for change in changes:
        timeline[(change.tenant, change.agent)].append(change)
    for key, agent_changes in timeline.items():
        agent_changes.sort(key=lambda c: c.at)
        for this, following in zip(agent_changes, agent_changes[1:], strict=False):
            if this.state is AgentState.WRAP_UP and following.at > this.at:
                wrapups[key].append((this.at, following.at))
    claimed: set[tuple[str, str, float]] = set()
    measured: dict[int, float] = {}
    for index in sorted(range(len(contacts)), key=lambda i: contacts[i].answered_at or contacts[i].offered_at):
        contact = contacts[index]
        if not (contact.outcome is Outcome.ANSWERED and contact.agent
                and contact.answered_at is not None and contact.ended_at is not None):
            continue
        key = (contact.tenant, contact.agent)
        for begin, finish in wrapups.get(key, ()):
            if (*key, begin) in claimed or begin < contact.answered_at:
                continue
            if begin > contact.ended_at + tolerance_s:
                break
            claimed.add((*key, begin))
            measured[index] = finish - begin
            break
    return measured
