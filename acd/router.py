"""The routing API the engine calls: enqueue, agent state, reservation outcomes, time passing.

Why a thin layer over the scripts: the decisions that need no shared state (which
workflow filter a task matches, its priority from the customer tier, which queues a worker
is eligible for) are pure and made here in Python from the RoutingPlan; everything that
reads and writes shared state is one Lua script (acd/store.py). The router never reads a
value to write it back. It blocks on Redis round trips only: under `fscc serve` the
redis-py socket is gevent-patched, elsewhere (CLI, tests, bench) it is a plain client.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from acd.config import AcdSettings, AgentSettings
from acd.errors import IllegalTransition, UnknownEntity
from acd.model import (
    Reservation,
    ReservationState,
    TaskState,
    Worker,
    WorkerActivity,
    check_transition,
)
from acd.routing import RoutingPlan, Step, agent_capacity, build_plan, worker_attributes
from acd.store import Store
from fs_scripts.clock import Clock

logger = logging.getLogger(__name__)

REFUSALS = (ReservationState.REJECTED, ReservationState.BUSY, ReservationState.TIMEOUT)
TICK_FIELDS = ("timeouts", "delays_ended", "escalations", "wrapups_ended", "nodes_recovered", "resumes_expired",
               "node_tasks")


@dataclass(frozen=True)
class EnqueueResult:
    task_id: str
    state: TaskState
    enqueued_at: float
    resumed: bool
    reservations: tuple[str, ...]


@dataclass(frozen=True)
class Offer:
    """A reservation as the node owning the contact receives it (from its inbox)."""

    reservation_id: str
    task_id: str
    worker_id: str
    contact: str

    @classmethod
    def decode(cls, raw: bytes | str) -> Offer:
        rid, tid, wid, contact = json.loads(raw)
        return cls(rid, tid, wid, contact)


@dataclass
class Router:
    client: redis.Redis
    settings: AcdSettings = field(default_factory=AcdSettings)
    clock: Clock = field(default_factory=Clock)
    tenant: str = "default"
    node_id: str = "node-1"
    plan: RoutingPlan | None = None

    def __post_init__(self) -> None:
        self.store = Store(self.client, self.tenant)
        if self.plan is None:
            self.plan = build_plan(self.settings)

    # ------------------------------------------------------------ configuration
    def sync_config(self, agents: Iterable[str] | None = None) -> None:
        """Write queues and (all or the named) agents of the settings into Redis; live state is kept."""
        assert self.plan is not None
        now = self.clock.now()
        for key, queue in self.plan.queues.items():
            self.store.run("queue", now, key, self.plan.base_of[key], json.dumps({
                "strategy": queue.strategy.value, "order": queue.order.value,
                "ranking_skill": queue.ranking_skill, "ring_all_max": queue.ring_all_max,
                "wrapup_s": queue.wrapup_s, "reservation_timeout_s": queue.reservation_timeout_s,
                "service_level_s": queue.service_level_s,
            }))
        wanted = set(agents) if agents is not None else None
        for agent_id, agent in self.settings.agents.items():
            if wanted is None or agent_id in wanted:
                self.upsert_worker(agent_id, agent)

    def upsert_worker(self, worker_id: str, agent: AgentSettings) -> None:
        """Create or update a worker; its queue eligibility is computed here, once."""
        self.store.run("worker", self.clock.now(), *self._worker_args(worker_id, agent))

    def _worker_args(self, worker_id: str, agent: AgentSettings) -> tuple[Any, ...]:
        assert self.plan is not None
        attributes = worker_attributes(worker_id, agent)
        queues = self.plan.eligible_queues(attributes)
        logger.debug("worker %s eligible for %s", worker_id, queues)
        contact = agent.contact or (f"user/{agent.extension}" if agent.extension else "")
        seed = random.Random(worker_id).randrange(1, 2**31)
        return (worker_id, contact, json.dumps(agent_capacity(agent)), json.dumps(dict(agent.skills)),
                json.dumps(queues), json.dumps(attributes), seed)

    # ------------------------------------------------------------ tasks
    def enqueue(
        self,
        task_id: str,
        attributes: Mapping[str, Any],
        *,
        channel: str = "voice",
        workflow: str | None = None,
        queue: str | None = None,
        resume_key: str = "",
        inherit_task: str = "",
    ) -> EnqueueResult:
        """Route a new task by `workflow` (its filters) or straight into `queue`."""
        args = self._enqueue_args(task_id, attributes, channel, workflow, queue, resume_key, inherit_task)
        reply = self.store.run("enqueue", self.clock.now(), *args)
        state, enqueued_at, resumed, *reservations = reply
        logger.info("enqueue %s (%s, priority %s)", task_id, _t(state), args[3])
        return EnqueueResult(task_id, TaskState(_t(state)), float(enqueued_at), bool(int(resumed)), tuple(_t(r) for r in reservations))

    def _enqueue_args(self, task_id: str, attributes: Mapping[str, Any], channel: str, workflow: str | None,
                      queue: str | None, resume_key: str, inherit_task: str) -> tuple[Any, ...]:
        """The pure half of enqueue: workflow filter, priority from the tier, the steps as JSON."""
        assert self.plan is not None
        steps: tuple[Step, ...] = self.plan.route(workflow, attributes) if workflow else self.plan.steps_for_queue(queue or "")
        priority = self.plan.priority(attributes)
        steps_json = json.dumps([[s.routing_queue, s.timeout_s, 1 if s.skip_if_no_workers else 0, s.priority] for s in steps])
        return (task_id, channel, self.node_id, priority, steps_json, json.dumps(dict(attributes), default=str),
                resume_key, inherit_task)

    def batch(self) -> RouterBatch:
        """Queue several operations and send them in one round trip (each still one atomic script)."""
        return RouterBatch(self)

    def cancel(self, task_id: str, reason: str, resume_key: str = "") -> tuple[str, ...]:
        reply = self.store.run("cancel", self.clock.now(), task_id, reason, resume_key, self.settings.resume_window_s)
        logger.info("cancel %s (%s)", task_id, reason)
        return tuple(_t(r) for r in reply[1:])

    def complete(self, task_id: str, wrapup_s: float | None = None) -> TaskState:
        reply = self.store.run("complete", self.clock.now(), task_id, -1.0 if wrapup_s is None else float(wrapup_s))
        return TaskState(_t(reply[0]))

    def wrapup_done(self, task_id: str) -> None:
        self.store.run("wrapup_done", self.clock.now(), task_id)

    # ------------------------------------------------------------ reservations
    def accept(self, reservation_id: str) -> tuple[str, str, tuple[str, ...]]:
        """Returns (task id, worker id, rescinded reservation ids)."""
        tid, wid, *rescinded = self.store.run("accept", self.clock.now(), reservation_id)
        logger.info("accept %s: task %s -> worker %s", reservation_id, _t(tid), _t(wid))
        return _t(tid), _t(wid), tuple(_t(r) for r in rescinded)

    def refuse(self, reservation_id: str, outcome: ReservationState) -> str:
        """Reject, busy or timeout: the task goes back to the head of its place."""
        if outcome not in REFUSALS:
            raise ValueError(f"a refusal is one of {[r.value for r in REFUSALS]}, got {outcome}")
        reply = self.store.run("refuse", self.clock.now(), *self._refuse_args(reservation_id, outcome))
        logger.info("%s %s: task %s back to waiting", outcome.value, reservation_id, _t(reply[0]))
        return _t(reply[0])

    def _refuse_args(self, reservation_id: str, outcome: ReservationState) -> tuple[Any, ...]:
        s = self.settings
        return (reservation_id, outcome.value, s.reject_delay_s, s.busy_delay_s, s.no_answer_delay_s, s.no_answer_limit)

    def reject(self, reservation_id: str) -> str:
        return self.refuse(reservation_id, ReservationState.REJECTED)

    def busy(self, reservation_id: str) -> str:
        return self.refuse(reservation_id, ReservationState.BUSY)

    def timeout(self, reservation_id: str) -> str:
        return self.refuse(reservation_id, ReservationState.TIMEOUT)

    # ------------------------------------------------------------ workers
    def set_activity(self, worker_id: str, activity: WorkerActivity | str, reason: str = "") -> WorkerActivity:
        """Returns the previous activity. The transition table is checked in Python and in Lua."""
        wanted = WorkerActivity(activity)
        current = self.worker_state(worker_id).get("activity", "offline")
        if wanted is WorkerActivity.WRAP_UP:  # the engine's alone: it needs a task and a timer
            logger.warning("illegal worker transition %s: %s -> %s", worker_id, current, wanted.value)
            raise IllegalTransition("worker", worker_id, current, wanted.value)
        check_transition("worker", worker_id, current, wanted)
        reply = self.store.run("activity", self.clock.now(), worker_id, wanted.value, reason)
        logger.info("worker %s: %s -> %s %s", worker_id, _t(reply[0]), wanted.value, reason)
        return WorkerActivity(_t(reply[0]))

    def login(self, worker_id: str) -> WorkerActivity:
        """Logged in, not yet ready: on break with reason `login`."""
        return self.set_activity(worker_id, WorkerActivity.BREAK, "login")

    def ready(self, worker_id: str, on_demand: bool = False) -> WorkerActivity:
        return self.set_activity(worker_id, WorkerActivity.ON_DEMAND if on_demand else WorkerActivity.AVAILABLE)

    def take_break(self, worker_id: str, reason: str = "break") -> WorkerActivity:
        return self.set_activity(worker_id, WorkerActivity.BREAK, reason)

    def logout(self, worker_id: str) -> WorkerActivity:
        return self.set_activity(worker_id, WorkerActivity.OFFLINE)

    def set_registered(self, worker_id: str, registered: bool) -> None:
        """From sofia::register / unregister / expire: an unregistered phone is never offered a call."""
        self.store.run("register", self.clock.now(), worker_id, 1 if registered else 0)

    # ------------------------------------------------------------ time and liveness
    def heartbeat(self, ttl_s: float | None = None) -> None:
        """This node is alive for `ttl_s` more (simulated) seconds; also a TTL key for operators."""
        ttl = self.settings.node_ttl_s if ttl_s is None else ttl_s
        self.store.run("heartbeat", self.clock.now(), self.node_id, ttl)
        self.client.set(self.store.key("node", self.node_id, "alive"), "1",
                        px=max(1, int(self.clock.wall_seconds(ttl) * 1000)))

    def tick(self, limit: int = 100) -> dict[str, int]:
        reply = self.store.run("tick", self.clock.now(), *self._tick_args(limit))
        return dict(zip(TICK_FIELDS, (int(x) for x in reply), strict=True))

    def _tick_args(self, limit: int) -> tuple[Any, ...]:
        s = self.settings
        return (limit, s.reject_delay_s, s.busy_delay_s, s.no_answer_delay_s, s.no_answer_limit, self.node_id)

    def inbox_key(self, node_id: str | None = None) -> str:
        return self.store.key("node", node_id or self.node_id, "inbox")

    def pop_offers(self, max_items: int = 100) -> list[Offer]:
        """Non-blocking read of this node's inbox (the gevent dispatcher uses BLPOP instead)."""
        raw = self.client.lpop(self.inbox_key(), max_items) or []
        return [Offer.decode(r) for r in raw]

    # ------------------------------------------------------------ reads
    def task_state(self, task_id: str) -> dict[str, str]:
        data = self.store.hash("task", task_id)
        if not data:
            raise UnknownEntity("task", task_id)
        return data

    def worker_state(self, worker_id: str) -> dict[str, str]:
        data = self.store.hash("w", worker_id)
        if not data:
            raise UnknownEntity("worker", worker_id)
        return data

    def reservation(self, reservation_id: str) -> Reservation:
        data = self.store.hash("res", reservation_id)
        if not data:
            raise UnknownEntity("reservation", reservation_id)
        return Reservation(reservation_id, data["task"], data["worker"], ReservationState(data["state"]),
                           float(data["created"]), float(data["expires"]), data.get("node", ""), data.get("queue", ""))

    def worker(self, worker_id: str) -> Worker:
        data = self.worker_state(worker_id)
        channels = [c for c in data.get("channels", "").split(",") if c]
        return Worker(
            worker_id=worker_id, tenant=self.tenant, attributes=json.loads(data.get("attrs") or "{}"),
            capacity={c: int(data.get(f"cap:{c}", 0)) for c in channels}, contact=data.get("contact", ""),
            activity=WorkerActivity(data.get("activity", "offline")), reason=data.get("reason", ""),
            registered=data.get("registered") == "1", used={c: int(data.get(f"used:{c}", 0)) for c in channels},
            idle_since={c: float(data.get(f"idle:{c}", 0)) for c in channels},
            last_offer_seq={k[3:]: int(v) for k, v in data.items() if k.startswith("rr:")},
        )

    def worker_ids(self) -> list[str]:
        return self.store.members("workers")


class RouterBatch:
    """Router operations queued and sent in one pipeline (see `Router.batch`).

    Why: a round trip costs more than a script on a loaded machine, and the engine's tick
    loop, the bench and the concurrency test issue many independent operations at once.
    Each operation is still its own atomic script; `execute()` returns, in order, each raw
    script reply or the AcdError that script raised. The transition table is enforced by
    the scripts (no Python pre-read here, so a batch never reads before it writes).
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.calls: list[tuple[str, float, tuple[Any, ...]]] = []

    def _add(self, name: str, *args: Any) -> RouterBatch:
        self.calls.append((name, self.router.clock.now(), args))
        return self

    def enqueue(self, task_id: str, attributes: Mapping[str, Any], *, channel: str = "voice", workflow: str | None = None,
                queue: str | None = None, resume_key: str = "", inherit_task: str = "") -> RouterBatch:
        return self._add("enqueue", *self.router._enqueue_args(task_id, attributes, channel, workflow, queue,
                                                               resume_key, inherit_task))

    def cancel(self, task_id: str, reason: str, resume_key: str = "") -> RouterBatch:
        return self._add("cancel", task_id, reason, resume_key, self.router.settings.resume_window_s)

    def complete(self, task_id: str, wrapup_s: float | None = None) -> RouterBatch:
        return self._add("complete", task_id, -1.0 if wrapup_s is None else float(wrapup_s))

    def accept(self, reservation_id: str) -> RouterBatch:
        return self._add("accept", reservation_id)

    def refuse(self, reservation_id: str, outcome: ReservationState) -> RouterBatch:
        if outcome not in REFUSALS:
            raise ValueError(f"a refusal is one of {[r.value for r in REFUSALS]}, got {outcome}")
        return self._add("refuse", *self.router._refuse_args(reservation_id, outcome))

    def set_activity(self, worker_id: str, activity: WorkerActivity | str, reason: str = "") -> RouterBatch:
        return self._add("activity", worker_id, WorkerActivity(activity).value, reason)

    def tick(self, limit: int = 100) -> RouterBatch:
        return self._add("tick", *self.router._tick_args(limit))

    def upsert_worker(self, worker_id: str, agent: AgentSettings) -> RouterBatch:
        return self._add("worker", *self.router._worker_args(worker_id, agent))

    def set_registered(self, worker_id: str, registered: bool) -> RouterBatch:
        return self._add("register", worker_id, 1 if registered else 0)

    def heartbeat(self, ttl_s: float | None = None) -> RouterBatch:
        ttl = self.router.settings.node_ttl_s if ttl_s is None else ttl_s
        return self._add("heartbeat", self.router.node_id, ttl)

    def execute(self) -> list[Any]:
        calls, self.calls = self.calls, []
        return self.router.store.run_many(calls)


def _t(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
