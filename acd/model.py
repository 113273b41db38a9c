"""The ACD model after Twilio TaskRouter: tasks, workers, queues, workflows, reservations (pure).

Why a model module beside the Lua scripts: the scripts are the only writers of live state,
but the rules they follow (which state may follow which, how a task is ordered, how a
worker ranks under each strategy) are stated here once, in Python, where they can be read
and unit-tested. The transition tables below are rendered into the Lua prelude
(`acd/store.py`), so Redis enforces exactly the table written here, and an illegal
transition raises `IllegalTransition` on both sides, logged with the ids involved.

Standard library only.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from acd.errors import IllegalTransition

logger = logging.getLogger(__name__)


class TaskState(str, enum.Enum):
    PENDING = "pending"
    RESERVED = "reserved"
    ASSIGNED = "assigned"
    WRAPPING = "wrapping"
    COMPLETED = "completed"
    CANCELED = "canceled"


class WorkerActivity(str, enum.Enum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    ON_DEMAND = "on-demand"  # offered like available; after one task (and its wrap-up) goes on break
    BREAK = "break"  # with a reason code (lunch, training, no-answer, on-demand, ...)
    WRAP_UP = "wrap-up"  # after-call work: set by the engine, ends by timer or by the agent


class ReservationState(str, enum.Enum):
    PENDING = "pending"  # offered, ringing
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMEOUT = "timeout"  # ring no answer
    BUSY = "busy"  # the agent's phone was busy
    RESCINDED = "rescinded"  # another worker won (ring-all) or the task went away
    CANCELED = "canceled"  # the task was canceled while offered


class Strategy(str, enum.Enum):
    LONGEST_IDLE = "longest-idle"
    ROUND_ROBIN = "round-robin"
    MOST_SKILLED = "most-skilled"
    LEAST_OCCUPIED = "least-occupied"
    RANDOM = "random"
    RING_ALL = "ring-all"


class TaskOrder(str, enum.Enum):
    FIFO = "fifo"
    LIFO = "lifo"


#: Which state may follow which. Keep the Lua side in step: store.py renders these tables.
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.RESERVED, TaskState.CANCELED}),
    TaskState.RESERVED: frozenset({TaskState.PENDING, TaskState.ASSIGNED, TaskState.CANCELED}),
    TaskState.ASSIGNED: frozenset({TaskState.WRAPPING, TaskState.COMPLETED}),
    TaskState.WRAPPING: frozenset({TaskState.COMPLETED}),
    TaskState.COMPLETED: frozenset(),
    TaskState.CANCELED: frozenset(),
}

_ANY_AGENT_CHOICE = frozenset({WorkerActivity.OFFLINE, WorkerActivity.AVAILABLE, WorkerActivity.ON_DEMAND, WorkerActivity.BREAK})
WORKER_TRANSITIONS: dict[WorkerActivity, frozenset[WorkerActivity]] = {
    WorkerActivity.OFFLINE: frozenset({WorkerActivity.AVAILABLE, WorkerActivity.ON_DEMAND, WorkerActivity.BREAK}),
    WorkerActivity.AVAILABLE: _ANY_AGENT_CHOICE - {WorkerActivity.AVAILABLE} | {WorkerActivity.WRAP_UP},
    WorkerActivity.ON_DEMAND: _ANY_AGENT_CHOICE - {WorkerActivity.ON_DEMAND} | {WorkerActivity.WRAP_UP},
    # a break reason may change (lunch -> training): break -> break is allowed
    WorkerActivity.BREAK: _ANY_AGENT_CHOICE | {WorkerActivity.WRAP_UP},
    WorkerActivity.WRAP_UP: _ANY_AGENT_CHOICE,
}

RESERVATION_TRANSITIONS: dict[ReservationState, frozenset[ReservationState]] = {
    ReservationState.PENDING: frozenset(set(ReservationState) - {ReservationState.PENDING}),
    **{s: frozenset() for s in ReservationState if s is not ReservationState.PENDING},
}

#: Activities in which a worker is offered tasks.
OFFERABLE = frozenset({WorkerActivity.AVAILABLE, WorkerActivity.ON_DEMAND})
#: Task states that still hold a place somewhere (not final).
LIVE_TASK_STATES = frozenset({TaskState.PENDING, TaskState.RESERVED, TaskState.ASSIGNED, TaskState.WRAPPING})

_TABLES: dict[str, Mapping[Any, frozenset[Any]]] = {
    "task": TASK_TRANSITIONS,
    "worker": WORKER_TRANSITIONS,
    "reservation": RESERVATION_TRANSITIONS,
}
_ENUMS: dict[str, type[enum.Enum]] = {"task": TaskState, "worker": WorkerActivity, "reservation": ReservationState}


def check_transition(kind: str, entity_id: str, current: Any, wanted: Any) -> Any:
    """Return `wanted` (as its Enum) if the table allows it, else log and raise IllegalTransition."""
    enum_cls = _ENUMS[kind]
    cur, new = enum_cls(current), enum_cls(wanted)
    if new not in _TABLES[kind][cur]:
        logger.warning("illegal %s transition %s: %s -> %s", kind, entity_id, cur.value, new.value)
        raise IllegalTransition(kind, entity_id, cur.value, new.value)
    logger.debug("%s %s: %s -> %s", kind, entity_id, cur.value, new.value)
    return new


def lua_transition_tables() -> str:
    """The three tables as Lua string constants, prepended to every script (one source of truth).

    Why strings and not Lua tables: a table constructor runs on every script call, a string
    constant is built once when Redis compiles the script; lib.lua's `allowed` searches
    " from>to " in it.
    """

    def table(name: str, transitions: Mapping[Any, frozenset[Any]]) -> str:
        pairs = [f"{state.value}>{n.value}" for state, nexts in transitions.items()
                 for n in sorted(nexts, key=lambda s: s.value)]
        return f'local {name} = " {" ".join(pairs)} "\n'

    return (
        table("TASK_NEXT", TASK_TRANSITIONS)
        + table("WORKER_NEXT", WORKER_TRANSITIONS)
        + table("RES_NEXT", RESERVATION_TRANSITIONS)
    )


# ---------------------------------------------------------------- records

#: Default capacity per channel (voice 1, chat 3); a worker's own capacity overrides it.
DEFAULT_CAPACITY: dict[str, int] = {"voice": 1, "chat": 3, "sms": 5, "email": 5, "callback": 1, "voicemail": 2}
#: Channels that ring a phone: a worker whose phone is not registered is never offered them.
PHONE_CHANNELS = frozenset({"voice", "callback"})
CHANNELS = frozenset(DEFAULT_CAPACITY)
#: Priority range: task order scores are (PRIORITY_MAX - priority) * PRIORITY_SPAN + time.
PRIORITY_MAX = 1000
PRIORITY_SPAN = 1e10  # larger than any epoch in seconds until the year 2286


@dataclass(frozen=True)
class Task:
    """One contact to route. `attributes` is what workflow filters see (tier, language, skills...)."""

    task_id: str
    tenant: str
    channel: str
    queue: str
    priority: int
    enqueued_at: float
    attributes: Mapping[str, Any] = field(default_factory=dict)
    state: TaskState = TaskState.PENDING
    workflow: str = ""
    node: str = ""


def order_score(priority: int, enqueued_at: float, order: TaskOrder = TaskOrder.FIFO) -> float:
    """The sorted-set score of a pending task: lower is served first.

    Priority dominates; within a priority FIFO serves the oldest and LIFO the newest. A task
    that comes back (timeout, reject) keeps this score, so it returns to the head of its place.
    """
    if not 0 <= priority <= PRIORITY_MAX:
        raise ValueError(f"priority must be 0..{PRIORITY_MAX}, got {priority}")
    rank = (PRIORITY_MAX - priority) * PRIORITY_SPAN
    return rank + (enqueued_at if order is TaskOrder.FIFO else PRIORITY_SPAN - 1 - enqueued_at)


@dataclass(frozen=True)
class Worker:
    """An agent as routing sees it: attributes for target expressions, capacity, live counters."""

    worker_id: str
    tenant: str = "default"
    attributes: Mapping[str, Any] = field(default_factory=dict)  # skills, languages, anything else
    capacity: Mapping[str, int] = field(default_factory=lambda: {"voice": 1})
    contact: str = ""
    activity: WorkerActivity = WorkerActivity.OFFLINE
    reason: str = ""
    registered: bool = False
    used: Mapping[str, int] = field(default_factory=dict)
    idle_since: Mapping[str, float] = field(default_factory=dict)
    last_offer_seq: Mapping[str, int] = field(default_factory=dict)  # queue -> round-robin sequence

    def skill(self, name: str) -> int:
        skills = self.attributes.get("skills") or {}
        try:
            return int(skills.get(name, 0))
        except (TypeError, ValueError):
            return 0

    def free(self, channel: str) -> int:
        return int(self.capacity.get(channel, 0)) - int(self.used.get(channel, 0))

    def occupancy(self) -> float:
        total = sum(int(c) for c in self.capacity.values())
        return (sum(int(u) for u in self.used.values()) / total) if total else 1.0

    def offerable(self, channel: str) -> bool:
        """The pure rule the scripts keep: activity, registration (phone channels) and a free slot."""
        if self.activity not in OFFERABLE or self.free(channel) <= 0:
            return False
        return self.registered or channel not in PHONE_CHANNELS


@dataclass(frozen=True)
class Queue:
    """A task queue: who may serve it (`target` over worker attributes) and how it is served."""

    name: str
    target: str = "true"  # expression over worker attributes (acd/expr.py)
    strategy: Strategy = Strategy.LONGEST_IDLE
    order: TaskOrder = TaskOrder.FIFO
    ranking_skill: str = ""  # most-skilled: the skill whose level ranks workers
    ring_all_max: int = 5  # ring-all: how many workers are reserved at once
    wrapup_s: float = 0.0  # after-call work time per queue
    reservation_timeout_s: float = 20.0
    service_level_s: float = 20.0


@dataclass(frozen=True)
class Target:
    """One step of a workflow filter: a queue, an optional extra worker expression, a timeout."""

    queue: str
    expression: str = ""  # extra condition over worker attributes, AND-ed with the queue's target
    timeout_s: float = 0.0  # 0: wait here for ever
    skip_if_no_workers: bool = False  # go straight on when no worker of this target is available
    priority: int | None = None  # override the task's priority while at this target


@dataclass(frozen=True)
class Filter:
    """Tasks matching `expression` (over task attributes) follow `targets` in order."""

    name: str
    expression: str
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Workflow:
    name: str
    filters: tuple[Filter, ...]
    default_target: Target | None = None


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    task_id: str
    worker_id: str
    state: ReservationState
    created_at: float
    expires_at: float
    node: str = ""
    queue: str = ""  # the routing queue the task was offered from

    @property
    def expires(self) -> float:
        """When the offer rings out (the name the voice gateway reads)."""
        return self.expires_at
