"""A deliberately naive router: the same keys and rules as the Lua scripts, but read in Python
and written back, command by command, with no atomicity.

Why it exists: it is the baseline of bench/acd_bench.py and the control of the concurrency
test. Run by one process it keeps every invariant (tests/acd/test_concurrency.py checks
that); run by several processes at once it hands one agent two calls and one call to two
agents, which is exactly what the invariant checker (acd/invariants.py) must catch. Do not
use it for anything else.

It keeps the key layout of acd/lua/lib.lua (so the same checker reads both) for the subset
it implements: longest-idle and ring-all selection, FIFO order, capacity per channel,
reservations with a deadline, accept, reject, timeout, cancel, complete (no wrap-up, no
workflows, no registration).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from acd.errors import IllegalTransition, UnknownEntity
from acd.model import PRIORITY_MAX, PRIORITY_SPAN
from acd.store import tenant_prefix
from fs_scripts.clock import Clock

OFFERABLE = ("available", "on-demand")


def _s(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else ("" if value is None else str(value))


class NaiveRouter:
    """Router-like methods (enqueue, ready, take_break, accept, reject, timeout, cancel, complete, tick)."""

    def __init__(self, client: redis.Redis, clock: Clock, tenant: str = "default", node_id: str = "node-1",
                 reservation_timeout_s: float = 20.0) -> None:
        self.client, self.clock, self.node_id = client, clock, node_id
        self.p = tenant_prefix(tenant)
        self.reservation_timeout_s = reservation_timeout_s

    def k(self, *parts: str) -> str:
        return self.p + ":".join(parts)

    # ------------------------------------------------------------ setup (single process)
    def setup(self, queues: Mapping[str, str], workers: Mapping[str, tuple[list[str], dict[str, int]]]) -> None:
        """queues: name -> strategy; workers: id -> (eligible queues, capacity per channel)."""
        c = self.client.pipeline(transaction=False)
        for name, strategy in queues.items():
            c.hset(self.k("q", name, "cfg"), mapping={"strategy": strategy, "order": "fifo", "base": name,
                                                      "ring_all_max": 3})
            c.sadd(self.k("queues"), name)
        for wid, (wqueues, capacity) in workers.items():
            fields: dict[str, Any] = {"activity": "offline", "reason": "", "registered": "1", "used_total": 0,
                                      "channels": ",".join(sorted(capacity)), "cap_total": sum(capacity.values())}
            for ch, n in capacity.items():
                fields[f"cap:{ch}"] = n
                fields[f"used:{ch}"] = 0
                fields[f"idle:{ch}"] = 0
            c.hset(self.k("w", wid), mapping=fields)
            c.sadd(self.k("workers"), wid)
            if wqueues:
                c.sadd(self.k("w", wid, "queues"), *wqueues)
            c.hincrby(self.k("counters"), "workers:offline", 1)
        c.execute()

    # ------------------------------------------------------------ helpers
    def _count(self, name: str, by: int = 1) -> None:
        self.client.hincrby(self.k("counters"), name, by)

    def _set_task_state(self, tid: str, old: str, new: str) -> None:
        self.client.hset(self.k("task", tid), "state", new)
        self._count(f"tasks:{old}", -1)
        self._count(f"tasks:{new}", 1)

    def _offerable(self, wid: str, ch: str) -> bool:
        activity, used, cap = self.client.hmget(self.k("w", wid), "activity", f"used:{ch}", f"cap:{ch}")
        return _s(activity) in OFFERABLE and int(used or 0) < int(cap or 0)

    def _queues(self, wid: str) -> list[str]:
        return sorted(_s(q) for q in self.client.smembers(self.k("w", wid, "queues")))

    def _sync_avail(self, wid: str) -> None:
        channels = _s(self.client.hget(self.k("w", wid), "channels")).split(",")
        for ch in channels:
            ok = self._offerable(wid, ch)
            idle = float(self.client.hget(self.k("w", wid), f"idle:{ch}") or 0)
            for rq in self._queues(wid):
                if ok:
                    self.client.zadd(self.k("q", rq, "avail", ch), {wid: idle})
                else:
                    self.client.zrem(self.k("q", rq, "avail", ch), wid)

    def _reserve(self, tid: str, wid: str) -> str:
        c = self.client
        ch, rq, state = (_s(x) for x in c.hmget(self.k("task", tid), "channel", "queue", "state"))
        if state == "pending":
            self._set_task_state(tid, "pending", "reserved")
            c.zrem(self.k("q", rq, "pending", ch), tid)
        rid = f"r{c.incr(self.k('seq:res'))}"
        now = self.clock.now()
        c.hset(self.k("res", rid), mapping={"task": tid, "worker": wid, "state": "pending", "created": now,
                                            "expires": now + self.reservation_timeout_s, "node": self.node_id,
                                            "channel": ch, "queue": rq})
        c.zadd(self.k("deadlines"), {rid: now + self.reservation_timeout_s})
        c.sadd(self.k("task", tid, "res"), rid)
        # read, add one in Python, write back: the race this module exists to show
        used = int(c.hget(self.k("w", wid), f"used:{ch}") or 0)
        total = int(c.hget(self.k("w", wid), "used_total") or 0)
        c.hset(self.k("w", wid), mapping={f"used:{ch}": used + 1, "used_total": total + 1})
        c.sadd(self.k("w", wid, "tasks"), tid)
        self._count("reservations:created")
        self._sync_avail(wid)
        c.rpush(self.k("node", self.node_id, "inbox"), json.dumps([rid, tid, wid, ""]))
        return rid

    def _release(self, tid: str, wid: str) -> None:
        c = self.client
        if c.sismember(self.k("w", wid, "tasks"), tid):
            c.srem(self.k("w", wid, "tasks"), tid)
            ch = _s(c.hget(self.k("task", tid), "channel"))
            used = int(c.hget(self.k("w", wid), f"used:{ch}") or 0)
            total = int(c.hget(self.k("w", wid), "used_total") or 0)
            c.hset(self.k("w", wid), mapping={f"used:{ch}": used - 1, "used_total": total - 1,
                                              f"idle:{ch}": self.clock.now()})

    def _match_task(self, tid: str) -> list[str]:
        ch, rq, state = (_s(x) for x in self.client.hmget(self.k("task", tid), "channel", "queue", "state"))
        if state != "pending":
            return []
        want = 3 if _s(self.client.hget(self.k("q", rq, "cfg"), "strategy")) == "ring-all" else 1
        made: list[str] = []
        for wid in (_s(w) for w in self.client.zrange(self.k("q", rq, "avail", ch), 0, want - 1)):
            if self._offerable(wid, ch):
                made.append(self._reserve(tid, wid))
        return made

    def _match_worker(self, wid: str) -> None:
        channels = _s(self.client.hget(self.k("w", wid), "channels")).split(",")
        for ch in channels:
            for _ in range(10):
                if not self._offerable(wid, ch):
                    break
                best, best_score = None, None
                for rq in self._queues(wid):
                    head = self.client.zrange(self.k("q", rq, "pending", ch), 0, 0, withscores=True)
                    if head and (best_score is None or head[0][1] < best_score):
                        best, best_score = _s(head[0][0]), head[0][1]
                if best is None:
                    break
                self._reserve(best, wid)
        self._sync_avail(wid)

    def _end_reservation(self, rid: str, new: str) -> tuple[str, str]:
        c = self.client
        tid, wid = (_s(x) for x in c.hmget(self.k("res", rid), "task", "worker"))
        c.hset(self.k("res", rid), mapping={"state": new, "ended": self.clock.now()})
        c.zrem(self.k("deadlines"), rid)
        c.srem(self.k("task", tid, "res"), rid)
        self._count(f"reservations:{new}")
        self._release(tid, wid)
        return tid, wid

    # ------------------------------------------------------------ the API the stress test drives
    def enqueue(self, task_id: str, attributes: Mapping[str, Any], *, channel: str = "voice",
                queue: str | None = None, **_: Any) -> list[str]:
        now = self.clock.now()
        priority = int(attributes.get("priority", 50))
        score = (PRIORITY_MAX - priority) * PRIORITY_SPAN + now
        rq = queue or ""
        self.client.hset(self.k("task", task_id), mapping={
            "state": "pending", "channel": channel, "queue": rq, "score": repr(score), "enqueued_at": now,
            "node": self.node_id, "base_priority": priority, "step": 1})
        self._count("tasks:pending")
        self._count("tasks:enqueued")
        self.client.zadd(self.k("q", rq, "pending", channel), {task_id: score})
        return self._match_task(task_id)

    def set_activity(self, wid: str, new: str, reason: str = "") -> str:
        cur = _s(self.client.hget(self.k("w", wid), "activity")) or "offline"
        if cur == new and new != "break":
            raise IllegalTransition("worker", wid, cur, new)
        self.client.hset(self.k("w", wid), mapping={"activity": new, "reason": reason})
        self._count(f"workers:{cur}", -1)
        self._count(f"workers:{new}", 1)
        if new in OFFERABLE:
            self._match_worker(wid)
        else:
            self._sync_avail(wid)
        return cur

    def refuse(self, rid: str, outcome: Any) -> str:
        return self._refuse(rid, getattr(outcome, "value", outcome))

    def ready(self, wid: str) -> str:
        return self.set_activity(wid, "available")

    def take_break(self, wid: str, reason: str = "break") -> str:
        return self.set_activity(wid, "break", reason)

    def accept(self, rid: str) -> tuple[str, str]:
        state, tid, wid = (_s(x) for x in self.client.hmget(self.k("res", rid), "state", "task", "worker"))
        if not state:
            raise UnknownEntity("reservation", rid)
        if state != "pending":
            raise IllegalTransition("reservation", rid, state, "accepted")
        self.client.hset(self.k("res", rid), mapping={"state": "accepted", "ended": self.clock.now()})
        self.client.zrem(self.k("deadlines"), rid)
        self.client.srem(self.k("task", tid, "res"), rid)
        self._count("reservations:accepted")
        others = [_s(r) for r in self.client.smembers(self.k("task", tid, "res"))]
        for other in others:
            self._end_reservation(other, "rescinded")
        task_state = _s(self.client.hget(self.k("task", tid), "state"))
        self._set_task_state(tid, task_state, "assigned")
        self.client.hset(self.k("task", tid), "worker", wid)
        for other in others:
            self._match_worker(_s(self.client.hget(self.k("res", other), "worker")))
        return tid, wid

    def _refuse(self, rid: str, kind: str) -> str:
        state = _s(self.client.hget(self.k("res", rid), "state"))
        if not state:
            raise UnknownEntity("reservation", rid)
        if state != "pending":
            raise IllegalTransition("reservation", rid, state, kind)
        tid, wid = self._end_reservation(rid, kind)
        if not self.client.scard(self.k("task", tid, "res")):
            ch, rq, score = (_s(x) for x in self.client.hmget(self.k("task", tid), "channel", "queue", "score"))
            self._set_task_state(tid, "reserved", "pending")
            self.client.zadd(self.k("q", rq, "pending", ch), {tid: float(score)})
            self._match_task(tid)
        self._match_worker(wid)
        return tid

    def reject(self, rid: str) -> str:
        return self._refuse(rid, "rejected")

    def timeout(self, rid: str) -> str:
        return self._refuse(rid, "timeout")

    def cancel(self, tid: str, reason: str = "", resume_key: str = "") -> None:
        state, ch, rq = (_s(x) for x in self.client.hmget(self.k("task", tid), "state", "channel", "queue"))
        if not state:
            raise UnknownEntity("task", tid)
        if state not in ("pending", "reserved"):
            raise IllegalTransition("task", tid, state, "canceled")
        freed = []
        if state == "pending":
            self.client.zrem(self.k("q", rq, "pending", ch), tid)
        else:
            for rid in [_s(r) for r in self.client.smembers(self.k("task", tid, "res"))]:
                freed.append(self._end_reservation(rid, "canceled")[1])
        self._set_task_state(tid, state, "canceled")
        for wid in freed:
            self._match_worker(wid)

    def complete(self, tid: str, wrapup_s: float | None = None) -> str:
        state, wid = (_s(x) for x in self.client.hmget(self.k("task", tid), "state", "worker"))
        if not state:
            raise UnknownEntity("task", tid)
        if state != "assigned":
            raise IllegalTransition("task", tid, state, "completed")
        self._set_task_state(tid, state, "completed")
        self._release(tid, wid)
        self._match_worker(wid)
        return "completed"

    def tick(self, limit: int = 100) -> dict[str, int]:
        due = [_s(r) for r in self.client.zrangebyscore(self.k("deadlines"), "-inf", self.clock.now(), 0, limit)]
        done = 0
        for rid in due:
            try:
                self.timeout(rid)
                done += 1
            except IllegalTransition:
                self.client.zrem(self.k("deadlines"), rid)
        return {"timeouts": done}

    def heartbeat(self, ttl_s: float | None = None) -> None:
        """Nodes are not tracked by the naive router."""
