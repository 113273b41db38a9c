"""The inputs of every KPI: one row per contact, one span per agent state. Pure records.

A `ContactFacts` is what the CRM store knows about one finished contact, already reduced to
what the KPIs need; `reports/source.py` builds them from the CRM models, the tests build them
by hand. An `AgentStateSpan` is one stretch of time an agent spent in one state: occupancy
cannot be computed from contacts alone, because the time an agent sat idle and ready leaves
no contact behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """How a contact ended, from the customer's side (`fscc_outcome`)."""

    ANSWERED = "answered"  # an agent took it
    ABANDONED = "abandoned"  # the customer hung up while queued
    SHORT_ABANDONED = "short-abandoned"  # hung up so soon it never was a real attempt
    SELF_SERVICE = "self-service"  # the IVR served it; never queued
    CALLBACK = "callback"  # left the queue for a scheduled callback
    VOICEMAIL = "voicemail"  # left the queue to leave a message
    FAILED = "failed"  # a technical failure (no route, switch error)
    TRANSFERRED = "transferred"  # sent out of the center (cdr_vars lists it; counted apart)

    @classmethod
    def parse(cls, value: object) -> Outcome:
        text = str(value).strip().lower().replace("_", "-")
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(o.value for o in cls)
            raise ValueError(f"unknown contact outcome {value!r}: expected one of {known}") from None


class AgentState(str, Enum):
    """The agent states occupancy needs. Staffed = available + reserved + busy + wrap-up."""

    AVAILABLE = "available"  # ready and idle
    RESERVED = "reserved"  # a contact is ringing at the agent
    BUSY = "busy"  # talking (or holding) with a customer
    WRAP_UP = "wrap-up"  # after-call work
    BREAK = "break"  # logged in, not ready (lunch, training, no-answer penalty)
    OFFLINE = "offline"

    @classmethod
    def parse(cls, value: object) -> AgentState:
        text = str(value).strip().lower().replace("_", "-")
        aliases = {"idle": "available", "ready": "available", "ringing": "reserved", "talking": "busy",
                   "wrapping": "wrap-up", "wrapup": "wrap-up", "acw": "wrap-up", "not-ready": "break"}
        try:
            return cls(aliases.get(text, text))
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown agent state {value!r}: expected one of {known}") from None


HANDLING_STATES = frozenset({AgentState.BUSY, AgentState.WRAP_UP})
STAFFED_STATES = frozenset({AgentState.AVAILABLE, AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP})


@dataclass(frozen=True)
class ContactFacts:
    """One finished contact. Times are epoch seconds; durations are seconds.

    `offered_at` is when the contact reached the center (entered the queue, or for a
    self-service call, when the IVR took it): the contact belongs to the interval that holds
    this instant, however long it lasts. `wait_s` is the time queued before an agent answered
    or the customer left (0 when it never queued).
    """

    tenant: str
    queue: str | None
    tier: int | None
    agent: str | None
    channel: str
    offered_at: float
    answered_at: float | None
    abandoned_at: float | None
    ended_at: float | None
    wait_s: float
    talk_s: float
    hold_s: float
    acw_s: float
    outcome: Outcome
    contact_id: str = ""  # for error messages and drill-down; not used by any KPI

    def __post_init__(self) -> None:
        where = f"contact {self.contact_id or '?'}"
        if not isinstance(self.outcome, Outcome):
            raise TypeError(f"{where}: outcome must be an Outcome, got {self.outcome!r}")
        for name in ("wait_s", "talk_s", "hold_s", "acw_s"):
            value = getattr(self, name)
            if value is None or value < 0:
                raise ValueError(f"{where}: {name} must be 0 or more seconds, got {value!r}")

    @property
    def handle_s(self) -> float:
        """Talk + hold + after-call work: what AHT averages."""
        return self.talk_s + self.hold_s + self.acw_s


@dataclass(frozen=True)
class AgentStateSpan:
    """Agent `agent` was in `state` from `start` (inclusive) to `end` (exclusive), epoch seconds."""

    tenant: str
    agent: str
    state: AgentState
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"agent {self.agent}: state span {self.state.value} ends before it starts ({self.start} > {self.end})")

    def overlap_s(self, start: float, end: float) -> float:
        """Seconds of this span inside [start, end)."""
        return max(0.0, min(self.end, end) - max(self.start, start))
