"""Several OS processes hammer one Redis at random, one is killed -9 midway; then every
invariant is checked over the whole state (acd/invariants.py).

The control: the same checker, run after the same storm driven through the deliberately
naive router (acd/naive.py: reads in Python, writes back), must find violations; and the
naive router run by a single process must not (so what it finds comes from the races).
Sizes: >= 100,000 operations against the Lua router; a few thousand against the naive one.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter

import pytest
import redis

from acd import stress
from acd.invariants import check

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def quiet_redis(redis_server, redis_client) -> redis.Redis:
    """The session's emptied server, without RDB snapshots (their fork costs time under load)."""
    redis_client.config_set("save", "")
    return redis_client


def _storm(server, cfg: stress.StressConfig, kind: str, n_procs: int, ops_each: int,
           kill_one: bool) -> tuple[list[tuple[int, dict, dict]], int]:
    ctx = multiprocessing.get_context("spawn")
    results, progress, halfway = ctx.Queue(), ctx.Value("q", 0), ctx.Event()
    halfway_at = n_procs * ops_each * 2 // 5
    procs = [ctx.Process(target=stress.hammer, args=(server.socket_file, cfg, kind, i, n_procs, ops_each,
                                                      progress, results, halfway, halfway_at), daemon=True)
             for i in range(n_procs)]
    for proc in procs:
        proc.start()
    killed = 0
    if kill_one:
        assert halfway.wait(timeout=240), "the storm never got halfway"
        os.kill(procs[0].pid, signal.SIGKILL)
        killed = 1
    tallies = [results.get(timeout=240) for _ in range(n_procs - killed)]
    for proc in procs:
        proc.join(timeout=60)
    if kill_one:
        assert procs[0].exitcode == -signal.SIGKILL
    return tallies, progress.value


def _state_counts(client: redis.Redis, tenant: str = "default") -> Counter:
    prefix = f"fscc:{{{tenant}}}:task:"
    keys = [k for k in client.scan_iter(match=prefix + "*", count=5000) if b":" not in k[len(prefix):]]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hget(key, "state")
    return Counter(v.decode() for v in pipe.execute())


def test_lua_router_keeps_every_invariant_under_five_processes_and_a_kill(redis_server, quiet_redis) -> None:
    cfg = stress.StressConfig(seed=7)
    stress.setup(quiet_redis, cfg, "lua")
    started = time.monotonic()
    tallies, done = _storm(redis_server, cfg, "lua", n_procs=5, ops_each=25_000, kill_one=True)
    elapsed = time.monotonic() - started
    ok, refused = Counter(), Counter()
    for _, o, r in tallies:
        ok.update(o)
        refused.update(r)
    assert done >= 100_000, done  # the survivors' 100,000 plus what the killed one did
    assert sum(ok.values()) + sum(refused.values()) >= 100_000
    for op in stress.OPS:  # every kind of operation really happened, not only refusals
        assert ok[op] > 100, (op, ok, refused)
    settled = stress.drain(quiet_redis, cfg, "lua")
    assert settled["nodes_recovered"] >= 1  # at least the killed node's work was adopted
    assert check(quiet_redis) == []
    states = _state_counts(quiet_redis)
    assert set(states) <= {"pending", "assigned", "completed", "canceled"}, states  # nothing left half-offered
    counters = {k.decode(): int(v) for k, v in quiet_redis.hgetall("fscc:{default}:counters").items()}
    assert counters["tasks:enqueued"] == sum(states.values())
    assert counters["reservations:accepted"] >= ok["accept"]  # the killed node's accepts are in Redis too
    print(f"\n{done} operations by 5 processes (one killed -9) in {elapsed:.1f} s; ok {dict(ok)}; "
          f"refused {dict(refused)}; final tasks {dict(states)}")


def test_the_checker_catches_the_naive_router(redis_server, quiet_redis) -> None:
    cfg = stress.StressConfig(seed=11, workers=12)
    stress.setup(quiet_redis, cfg, "naive")
    _storm(redis_server, cfg, "naive", n_procs=4, ops_each=700, kill_one=False)
    stress.drain(quiet_redis, cfg, "naive")
    violations = check(quiet_redis, limit=1000)
    assert violations, "the invariant checker found nothing wrong with a racy router: it has no teeth"
    kinds = {v.split(":")[0].split(" ")[0] for v in violations}
    print(f"\nnaive router, 4 processes: {len(violations)} violations, e.g. {violations[:3]}; kinds {kinds}")


def test_the_naive_router_alone_keeps_the_invariants(redis_server, quiet_redis) -> None:
    """Without concurrency the naive router is correct: what the checker finds above is the races."""
    cfg = stress.StressConfig(seed=11, workers=12)
    stress.setup(quiet_redis, cfg, "naive")
    stress.hammer(redis_server.socket_file, cfg, "naive", 0, 1, 600)
    stress.drain(quiet_redis, cfg, "naive")
    assert check(quiet_redis) == []
