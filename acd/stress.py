"""Many OS processes hammering one routing state at random: the concurrency proof of issue 6.

Why here and not in the test: the workers run in separate processes (multiprocessing,
spawn), so their code must be importable; the bench reuses the same configuration. Each
process is one engine node: it enqueues tasks, makes agents ready or takes them on break,
and accepts, rejects, times out, cancels and completes whatever ids it picks at random,
including ones other processes own (so every race between two nodes is tried). Refused
operations (an accept of a rescinded reservation, a complete of a canceled task) are
expected and counted; anything else is an error. `drain` then stops time-dependent work
so that the invariant checker sees a settled state.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from acd.config import AcdSettings, AgentSettings, QueueSettings
from acd.errors import AcdError
from acd.model import ReservationState, Strategy
from acd.naive import NaiveRouter
from acd.router import Router
from fs_scripts.clock import Clock

QUEUES = {"lo": Strategy.LONGEST_IDLE, "ring": Strategy.RING_ALL, "occ": Strategy.LEAST_OCCUPIED}
OPS = ("enqueue", "ready", "break", "accept", "reject", "timeout", "cancel", "complete", "tick")
WEIGHTS = (24, 9, 3, 22, 8, 4, 8, 16, 6)


@dataclass(frozen=True)
class StressConfig:
    workers: int = 40
    tenant: str = "default"
    reservation_timeout_s: float = 0.5
    wrapup_s: float = 0.3
    node_ttl_s: float = 1.0
    seed: int = 1


def settings(cfg: StressConfig) -> AcdSettings:
    """Three queues (longest-idle with wrap-up, ring-all, least-occupied); agents in 1-3 of them."""
    queues = {
        "lo": QueueSettings(target="skills.lo >= 1", wrapup_s=cfg.wrapup_s, reservation_timeout_s=cfg.reservation_timeout_s),
        "ring": QueueSettings(target="skills.ring >= 1", strategy=Strategy.RING_ALL, ring_all_max=3,
                              reservation_timeout_s=cfg.reservation_timeout_s),
        "occ": QueueSettings(target="skills.occ >= 1", strategy=Strategy.LEAST_OCCUPIED,
                             reservation_timeout_s=cfg.reservation_timeout_s),
    }
    rng = random.Random(cfg.seed)
    agents = {}
    for i in range(cfg.workers):
        skills = {q: rng.randint(1, 5) for q in QUEUES if rng.random() < 0.6} or {"lo": 1}
        agents[f"w{i}"] = AgentSettings(extension=str(2000 + i), skills=skills, capacity={"voice": 1, "chat": 3})
    return AcdSettings(agents=agents, queues=queues, no_answer_limit=3, no_answer_delay_s=0.1,
                       busy_delay_s=0.1, reject_delay_s=0.05, node_ttl_s=cfg.node_ttl_s)


def setup(client: redis.Redis, cfg: StressConfig, kind: str) -> None:
    """Write the configuration once, from the parent; every agent registered and offline."""
    acd = settings(cfg)
    if kind == "lua":
        router = Router(client, acd, Clock(), cfg.tenant, "setup")
        router.sync_config()
        for wid in acd.agents:
            router.set_registered(wid, True)
    else:
        naive = NaiveRouter(client, Clock(), cfg.tenant, "setup", cfg.reservation_timeout_s)
        naive.setup({q: s.value for q, s in QUEUES.items()},
                    {wid: ([q for q in QUEUES if a.skills.get(q, 0) >= 1], dict(a.capacity)) for wid, a in acd.agents.items()})


def make_router(client: redis.Redis, cfg: StressConfig, kind: str, node: str, clock: Clock | None = None) -> Any:
    clock = clock or Clock()
    if kind == "lua":
        return Router(client, settings(cfg), clock, cfg.tenant, node)
    return NaiveRouter(client, clock, cfg.tenant, node, cfg.reservation_timeout_s)


@dataclass
class Tally:
    ok: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.ok.values()) + sum(self.refused.values())


def hammer(socket_path: str, cfg: StressConfig, kind: str, index: int, n_procs: int, n_ops: int,
           progress: Any = None, results: Any = None, halfway: Any = None, halfway_at: int = 0) -> Tally:
    """One process's share: `n_ops` random operations. The Lua router sends them in pipelined
    batches of random size (1-32; each operation still one atomic script); the naive router
    one by one, as it must. `progress` (a shared counter) lets the parent pick the moment of
    its kill -9 (`halfway`, an Event, is set once `halfway_at` operations are done in all);
    `results` (a queue) receives the tally."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # refusals are expected here by the thousand; they are tallied
    try:
        return _hammer(socket_path, cfg, kind, index, n_procs, n_ops, progress, results, halfway, halfway_at)
    finally:
        logging.disable(previous)


def _hammer(socket_path: str, cfg: StressConfig, kind: str, index: int, n_procs: int, n_ops: int,
            progress: Any, results: Any, halfway: Any, halfway_at: int) -> Tally:
    client = redis.Redis(unix_socket_path=socket_path)
    node = f"p{index}"
    router = make_router(client, cfg, kind, node)
    rng = random.Random(cfg.seed * 1000 + index)
    workers = [f"w{i}" for i in range(cfg.workers)]
    key = router.store.key if kind == "lua" else router.k
    seq_key, inbox = key("seq:res"), key("node", node, "inbox")
    offers: list[str] = []  # reservation ids offered to this node, not yet acted on
    accepted: list[str] = []  # task ids this node saw accepted
    tally = Tally()
    enqueued = 0
    last_beat = 0.0
    done = 0

    def pick(pool: list[str], fallback: str) -> str:
        """Mostly something live that this node knows of; sometimes any id (races with peers)."""
        if pool and rng.random() < 0.75:
            return pool.pop(rng.randrange(len(pool)))
        return fallback

    while done < n_ops:
        pipe = client.pipeline(transaction=False)
        pipe.get(seq_key)
        pipe.lpop(inbox, 64)
        seq_raw, popped = pipe.execute()
        seq = int(seq_raw or 0)
        offers.extend(json.loads(raw)[0] for raw in popped or [])
        del offers[:-300]
        size = min(n_ops - done, rng.randint(1, 32))
        target: Any = router.batch() if kind == "lua" else router
        ops: list[str] = []
        now = time.monotonic()
        if now - last_beat > cfg.node_ttl_s / 4:
            router.heartbeat()
            last_beat = now
        for _ in range(size):
            op = rng.choices(OPS, WEIGHTS)[0]
            ops.append(op)
            rid = pick(offers, f"r{rng.randint(max(1, seq - 30), max(1, seq + 2))}")
            tid = f"p{rng.randrange(n_procs)}-{rng.randint(max(0, enqueued - 60), max(0, enqueued))}"
            try:
                if op == "enqueue":
                    tid = f"{node}-{enqueued}"
                    enqueued += 1
                    target.enqueue(tid, {"tier": rng.randint(1, 7)}, channel=rng.choice(("voice", "chat")),
                                   queue=rng.choice(tuple(QUEUES)))
                elif op == "ready":
                    target.set_activity(rng.choice(workers), "available")
                elif op == "break":
                    target.set_activity(rng.choice(workers), "break", rng.choice(("lunch", "training")))
                elif op == "accept":
                    reply = target.accept(rid)
                    if kind != "lua":
                        accepted.append(reply[0])
                elif op == "reject":
                    target.refuse(rid, ReservationState.REJECTED)
                elif op == "timeout":
                    target.refuse(rid, ReservationState.TIMEOUT)
                elif op == "cancel":
                    target.cancel(tid, rng.choice(("caller-hangup", "max-wait")))
                elif op == "complete":
                    target.complete(pick(accepted, tid))
                else:
                    target.tick(50)
                if kind != "lua":
                    tally.ok[op] += 1
            except AcdError:
                tally.refused[op] += 1
        if kind == "lua":
            for op, reply in zip(ops, target.execute(), strict=True):
                if isinstance(reply, AcdError):
                    tally.refused[op] += 1
                    continue
                tally.ok[op] += 1
                if op == "accept":
                    accepted.append(reply[0].decode())
        del accepted[:-300]
        done += size
        if progress is not None:
            with progress.get_lock():
                progress.value += size
                total = progress.value
            if halfway is not None and total >= halfway_at:
                halfway.set()
        if rng.random() < 0.02:
            time.sleep(rng.random() * 0.003)  # random timing: let the other processes overtake
    if results is not None:
        results.put((index, dict(tally.ok), dict(tally.refused)))
    client.close()
    return tally


def drain(client: redis.Redis, cfg: StressConfig, kind: str) -> dict[str, int]:
    """Settle the state after the storm: every agent on break, then time jumps far ahead so every
    offer rings out, every wrap-up ends and every silent node is recovered. Returns what the
    final ticks did."""
    far = Clock(scale=1.0, epoch=time.time() + 100_000.0)
    router = make_router(client, cfg, kind, "drainer", far)
    for i in range(cfg.workers):
        try:
            router.take_break(f"w{i}", "drain")
        except AcdError:
            pass
    router.heartbeat(1e9)
    done: Counter = Counter()
    while True:
        step = router.tick(1000)
        done.update(step)
        if not any(step.values()):
            return dict(done)

