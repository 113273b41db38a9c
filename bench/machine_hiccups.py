"""How often this machine stops running a busy process, with one and with every CPU busy.

    python bench/machine_hiccups.py [--seconds 5] [--gap-ms 0.2]

Why: latency benches here (acd_bench, esl_bench) report p99 and p99.9 in the low
milliseconds, and on a shared virtual machine the host can stall a vCPU for that long.
This measures it with no fscc code at all: a process pinned to one CPU spins reading the
clock and records every gap longer than --gap-ms (a time it was not running). It runs once
with only that CPU busy (the baseline), then with every CPU spinning at once (the case of
a bench whose client, agent side and Redis are all busy). If the second row has stalls the
first does not, a bench that keeps every CPU busy carries them in its tail.

The last line is machine readable:
    one_busy_stalls_1ms=.. all_busy_stalls_1ms=.. all_busy_max_ms=.. all_busy_lost_pct=..
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time


def spin(cpu: int, seconds: float, gap_s: float, out) -> None:  # noqa: ANN001
    """Spin on `cpu` for `seconds`; put (gaps over gap_s, wall seconds) on `out`."""
    os.sched_setaffinity(0, {cpu})
    gaps: list[float] = []
    start = last = time.perf_counter()
    end = start + seconds
    while last < end:
        now = time.perf_counter()
        if now - last > gap_s:
            gaps.append(now - last)
        last = now
    out.put((cpu, gaps, last - start))


def run(cpus: list[int], seconds: float, gap_s: float) -> dict[int, tuple[list[float], float]]:
    out: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=spin, args=(cpu, seconds, gap_s, out)) for cpu in cpus]
    for proc in procs:
        proc.start()
    results = {}
    for _ in procs:
        cpu, gaps, wall = out.get(timeout=seconds + 30)
        results[cpu] = (gaps, wall)
    for proc in procs:
        proc.join()
    return results


def summary(label: str, results: dict[int, tuple[list[float], float]]) -> tuple[int, float, float]:
    """Print one row per CPU; return (stalls over 1 ms, longest ms, % of time lost) over all."""
    stalls = 0
    longest = lost = wall_total = 0.0
    for cpu, (gaps, wall) in sorted(results.items()):
        over_1ms = sum(1 for g in gaps if g > 0.001)
        stalls += over_1ms
        longest = max([longest] + [g * 1e3 for g in gaps])
        lost += sum(gaps)
        wall_total += wall
        print(f"{label:22} cpu {cpu}: {len(gaps):5d} stalls, {over_1ms:4d} over 1 ms, longest "
              f"{max(gaps, default=0) * 1e3:6.2f} ms, {sum(gaps) / wall * 100:5.2f} % of the time not running")
    return stalls, longest, (lost / wall_total * 100 if wall_total else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--gap-ms", type=float, default=0.2)
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    gap_s = args.gap_ms / 1e3
    print(f"machine: {len(cpus)} CPUs usable, load average {os.getloadavg()[0]:.1f}; stalls are gaps over "
          f"{args.gap_ms} ms in a spinning process, {args.seconds:.0f} s per run")
    one = {}
    for cpu in cpus:  # the baseline: one CPU busy at a time
        one.update(run([cpu], args.seconds, gap_s))
    one_stalls, _, _ = summary("one CPU busy", one)
    all_stalls, all_max, all_lost = summary("every CPU busy", run(cpus, args.seconds, gap_s))
    print(f"one_busy_stalls_1ms={one_stalls} all_busy_stalls_1ms={all_stalls} all_busy_max_ms={all_max:.2f} "
          f"all_busy_lost_pct={all_lost:.2f}")


if __name__ == "__main__":
    main()
