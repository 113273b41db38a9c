"""The `acd:` section of fscc.yaml: agents, queues and workflows (owned by the ACD).

Agents are declared here once; `fscc conf render` reads the same entries to write the
FreeSWITCH directory users, so an agent's extension and its routing profile never drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.model import Strategy, TaskOrder
from fs_scripts.typed_config import check


def _positive(value: float) -> bool:
    return value > 0


def _not_negative(value: float) -> bool:
    return value >= 0


@dataclass(frozen=True)
class AgentSettings:
    """One agent (a TaskRouter worker) as configured; live state lives in Redis."""

    name: str = ""
    tenant: str = "default"
    extension: str = field(default="", metadata=check(lambda v: v == "" or v.isdigit(), "digits only (a SIP extension)"))
    contact: str = ""  # dial string to reach the agent; empty: user/<extension>@<tenant domain>
    password_env: str = ""  # FSCC_SECRET_* variable holding the SIP password; never the password
    skills: dict[str, int] = field(default_factory=dict)  # skill -> level 1..5
    languages: tuple[str, ...] = ()
    capacity: dict[str, int] = field(default_factory=lambda: {"voice": 1})
    attributes: dict[str, str] = field(default_factory=dict)  # more worker attributes (team, site, ...)


@dataclass(frozen=True)
class QueueSettings:
    """One task queue. `target` is an expression over worker attributes (acd/expr.py):
    the worker's `skills` mapping, `languages` list and every key of its `attributes`."""

    target: str = "true"
    strategy: Strategy = Strategy.LONGEST_IDLE
    order: TaskOrder = TaskOrder.FIFO
    ranking_skill: str = ""  # most-skilled: whose level ranks the workers; empty: the queue name
    ring_all_max: int = field(default=5, metadata=check(lambda v: 1 <= v <= 100, "1..100 workers"))
    wrapup_s: float = field(default=0.0, metadata=check(_not_negative, "seconds >= 0"))
    reservation_timeout_s: float = field(default=20.0, metadata=check(_positive, "a positive number of seconds"))
    service_level_s: float = field(default=20.0, metadata=check(_positive, "a positive number of seconds"))


@dataclass(frozen=True)
class TargetSettings:
    """One step of a workflow filter; `expression` narrows the queue's workers further."""

    queue: str = ""
    expression: str = ""
    timeout_s: float = field(default=0.0, metadata=check(_not_negative, "seconds >= 0 (0: for ever)"))
    skip_if_no_workers: bool = False
    priority: int | None = None


@dataclass(frozen=True)
class FilterSettings:
    """Tasks whose attributes match `expression` go through `targets` in order."""

    name: str = ""
    expression: str = "true"
    targets: tuple[TargetSettings, ...] = ()


@dataclass(frozen=True)
class WorkflowSettings:
    filters: tuple[FilterSettings, ...] = ()
    default_queue: str = ""  # where tasks no filter matches wait; empty: enqueue fails for them


@dataclass(frozen=True)
class AcdSettings:
    """Routing configuration; changeable at run time through the router as well."""

    agents: dict[str, AgentSettings] = field(default_factory=dict)  # agent id -> agent
    queues: dict[str, QueueSettings] = field(default_factory=dict)  # queue name -> queue
    workflows: dict[str, WorkflowSettings] = field(default_factory=dict)  # workflow name -> workflow
    no_answer_limit: int = field(default=3, metadata=check(lambda v: v >= 1, "at least 1"))
    no_answer_delay_s: float = field(default=10.0, metadata=check(_not_negative, "seconds >= 0"))
    busy_delay_s: float = field(default=30.0, metadata=check(_not_negative, "seconds >= 0"))
    reject_delay_s: float = field(default=5.0, metadata=check(_not_negative, "seconds >= 0"))
    resume_window_s: float = field(default=0.0, metadata=check(_not_negative, "seconds >= 0 (0: callers never resume)"))
    node_ttl_s: float = field(default=10.0, metadata=check(_positive, "a positive number of seconds"))
    tier_priority: dict[str, int] = field(default_factory=dict)  # tier (1-7 or name) -> priority override
