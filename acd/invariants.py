"""Check the routing state of one tenant in Redis against the invariants the Lua scripts keep.

Why a checker that reads everything: the scripts never scan (that is the point of them);
this does, once, after a test or a stress run, to prove nothing went wrong in between. It
reads with SCAN and pipelines, so it also works on a state with tens of thousands of tasks.
It returns the violations as text (empty: all good) rather than asserting, so the same
checker can be pointed at the deliberately naive router and must find something there.

Invariants (the same as the header of acd/lua/lib.lua):
  * every task is pending, reserved, assigned, wrapping, completed or canceled;
  * a pending task is in exactly one pending set (its queue and channel), with its score,
    and has no pending reservation; nothing else is in a pending set;
  * a reserved task has at least one pending reservation, each for a different worker, and
    more than one only in a ring-all queue;
  * an assigned or wrapping task has exactly one accepted reservation, to its worker, and
    holds capacity on that worker only; no task is ever accepted twice;
  * a worker's used:<channel> equals the live tasks it holds on that channel and never
    exceeds its capacity; used_total is their sum;
  * a worker in an available set is eligible for that queue and offerable on that channel;
  * the counters tasks:<state> and workers:<activity> equal what is stored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import redis

from acd.store import tenant_prefix

TASK_STATES = ("pending", "reserved", "assigned", "wrapping", "completed", "canceled")
OFFERABLE = ("available", "on-demand")
PHONE = ("voice", "callback")


def _s(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _scan_hashes(client: redis.Redis, prefix: str, suffix: str = "") -> dict[str, dict[str, str]]:
    """All hashes `<prefix><id><suffix>` with no ':' in the id (sub-keys such as task:<id>:res excluded)."""
    start, end = len(prefix), -len(suffix) if suffix else None
    keys = [k for k in (_s(k) for k in client.scan_iter(match=prefix + "*" + suffix, count=2000))
            if ":" not in k[start:end]]
    out: dict[str, dict[str, str]] = {}
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.hgetall(key)
        for key, data in zip(chunk, pipe.execute(), strict=True):
            out[key[start:end]] = {_s(a): _s(b) for a, b in data.items()}
    return out


def check(client: redis.Redis, tenant: str = "default", limit: int = 50) -> list[str]:
    """Every violation found (at most `limit` of them, then a count of the rest)."""
    p = tenant_prefix(tenant)
    problems: list[str] = []
    tasks = _scan_hashes(client, p + "task:")
    reservations = _scan_hashes(client, p + "res:")
    workers = _scan_hashes(client, p + "w:")
    strategies = {rq: data.get("strategy", "longest-idle") for rq, data in _scan_hashes(client, p + "q:", ":cfg").items()}

    pending_sets: dict[str, dict[str, float]] = {}
    avail_sets: dict[str, set[str]] = {}
    set_keys = [_s(k) for k in client.scan_iter(match=p + "q:*", count=2000)]
    pipe = client.pipeline(transaction=False)
    zkeys = [k for k in set_keys if ":pending:" in k or ":avail:" in k]
    for key in zkeys:
        pipe.zrange(key, 0, -1, withscores=True)
    for key, members in zip(zkeys, pipe.execute(), strict=True):
        rest = key[len(p + "q:"):]
        if ":pending:" in rest:
            pending_sets[rest] = {_s(m): float(s) for m, s in members}
        else:
            avail_sets[rest] = {_s(m) for m, _ in members}

    pipe = client.pipeline(transaction=False)
    wids = sorted(workers)
    for wid in wids:
        pipe.smembers(p + "w:" + wid + ":tasks")
        pipe.smembers(p + "w:" + wid + ":queues")
    replies = pipe.execute()
    wtasks = {wid: {_s(t) for t in replies[2 * i]} for i, wid in enumerate(wids)}
    wqueues = {wid: {_s(q) for q in replies[2 * i + 1]} for i, wid in enumerate(wids)}

    def bad(text: str) -> None:
        problems.append(text)

    # ---- tasks and where they sit
    in_pending: dict[str, list[str]] = defaultdict(list)
    for key, members in pending_sets.items():
        for tid in members:
            in_pending[tid].append(key)
    res_by_task: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for rid, data in reservations.items():
        res_by_task[data.get("task", "")].append((rid, data))
    holders: dict[str, list[str]] = defaultdict(list)
    for wid, tids in wtasks.items():
        for tid in tids:
            holders[tid].append(wid)

    for tid, data in tasks.items():
        state = data.get("state", "")
        if state not in TASK_STATES:
            bad(f"task {tid}: unknown state {state!r}")
            continue
        res = res_by_task.get(tid, [])
        pending_res = [(rid, r) for rid, r in res if r.get("state") == "pending"]
        accepted = [(rid, r) for rid, r in res if r.get("state") == "accepted"]
        if len(accepted) > 1:
            bad(f"task {tid}: accepted twice ({', '.join(sorted(rid for rid, _ in accepted))})")
        expected_key = f"{data.get('queue')}:pending:{data.get('channel')}"
        where = in_pending.get(tid, [])
        if state == "pending":
            if where != [expected_key]:
                bad(f"task {tid}: pending but in pending sets {where} (expected {expected_key})")
            elif pending_sets[expected_key][tid] != float(data.get("score", "nan")):
                bad(f"task {tid}: pending score {pending_sets[expected_key][tid]} != task score {data.get('score')}")
        elif where:
            bad(f"task {tid}: {state} but still in pending sets {where}")
        if state in ("pending", "completed", "canceled") and pending_res:
            bad(f"task {tid}: {state} with pending reservations {[rid for rid, _ in pending_res]}")
        if state == "reserved":
            if not pending_res:
                bad(f"task {tid}: reserved without a pending reservation")
            workers_of = [r.get("worker") for _, r in pending_res]
            if len(set(workers_of)) != len(workers_of):
                bad(f"task {tid}: reserved twice for one worker {workers_of}")
            if len(pending_res) > 1 and strategies.get(data.get("queue", "")) != "ring-all":
                bad(f"task {tid}: {len(pending_res)} pending reservations outside ring-all")
            if sorted(holders.get(tid, [])) != sorted(w for w in workers_of if w):
                bad(f"task {tid}: reserved by {sorted(workers_of)} but capacity held by {sorted(holders.get(tid, []))}")
        if state in ("assigned", "wrapping"):
            if len(accepted) != 1 or accepted[0][1].get("worker") != data.get("worker"):
                bad(f"task {tid}: {state} to {data.get('worker')} with accepted reservations {accepted}")
            if pending_res:
                bad(f"task {tid}: {state} with pending reservations {[rid for rid, _ in pending_res]}")
            if holders.get(tid, []) != [data.get("worker")]:
                bad(f"task {tid}: {state} to {data.get('worker')} but capacity held by {holders.get(tid, [])}")
        if state in ("pending", "completed", "canceled") and holders.get(tid):
            bad(f"task {tid}: {state} but capacity held by {holders[tid]}")
    for key, members in pending_sets.items():
        for tid in members:
            if tasks.get(tid, {}).get("state") != "pending":
                bad(f"pending set {key}: task {tid} is {tasks.get(tid, {}).get('state', 'missing')}")
    for rid, data in reservations.items():
        if data.get("state") == "pending" and tasks.get(data.get("task", ""), {}).get("state") != "reserved":
            bad(f"reservation {rid}: pending but its task {data.get('task')} is "
                f"{tasks.get(data.get('task', ''), {}).get('state', 'missing')}")

    # ---- workers: capacity and availability
    for wid, data in workers.items():
        channels = [c for c in data.get("channels", "").split(",") if c]
        total = 0
        held = Counter(tasks.get(t, {}).get("channel", "?") for t in wtasks.get(wid, set()))
        for ch in channels:
            used, cap = int(data.get(f"used:{ch}", 0)), int(data.get(f"cap:{ch}", 0))
            total += used
            if used > cap:
                bad(f"worker {wid}: {used} {ch} tasks over capacity {cap}")
            if used != held.get(ch, 0):
                bad(f"worker {wid}: used:{ch}={used} but holds {held.get(ch, 0)} {ch} tasks")
            if used < 0:
                bad(f"worker {wid}: used:{ch}={used} below zero")
        if int(data.get("used_total", 0)) != total:
            bad(f"worker {wid}: used_total={data.get('used_total')} != {total}")
        for tid in wtasks.get(wid, set()):
            if tasks.get(tid, {}).get("state") not in ("reserved", "assigned", "wrapping"):
                bad(f"worker {wid}: holds task {tid} which is {tasks.get(tid, {}).get('state', 'missing')}")
    for key, members in avail_sets.items():
        rq, ch = key.rsplit(":avail:", 1)
        for wid in members:
            data = workers.get(wid, {})
            offerable = (
                data.get("activity") in OFFERABLE
                and data.get("delayed") != "1"
                and (data.get("registered") == "1" or ch not in PHONE)
                and int(data.get(f"used:{ch}", 0)) < int(data.get(f"cap:{ch}", 0))
            )
            if not offerable or rq not in wqueues.get(wid, set()):
                bad(f"available set {key}: worker {wid} is not offerable there")

    # ---- counters
    counters = {_s(k): int(v) for k, v in client.hgetall(p + "counters").items()}
    by_state = Counter(d.get("state") for d in tasks.values())
    for state in TASK_STATES:
        if counters.get(f"tasks:{state}", 0) != by_state.get(state, 0):
            bad(f"counter tasks:{state}={counters.get(f'tasks:{state}', 0)} but {by_state.get(state, 0)} tasks are {state}")
    by_activity = Counter(d.get("activity", "offline") for d in workers.values())
    for activity in set(by_activity) | {k.split(":", 1)[1] for k in counters if k.startswith("workers:")}:
        if counters.get(f"workers:{activity}", 0) != by_activity.get(activity, 0):
            bad(f"counter workers:{activity}={counters.get(f'workers:{activity}', 0)} "
                f"but {by_activity.get(activity, 0)} workers are {activity}")
    if len(problems) > limit:
        return problems[:limit] + [f"... and {len(problems) - limit} more"]
    return problems
