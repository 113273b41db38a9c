"""Which worker gets a task: the pure rule of every strategy, as a sort key (lower wins).

Why a score and not a comparison function: the live state keeps one Redis sorted set of
available workers per queue and channel, scored by exactly `worker_score`, so that taking
the best worker is a ZRANGE of one element (O(log n)) instead of a scan. The Lua scripts
compute the same numbers (`acd/lua/lib.lua`, `score_for`); `tests/acd` checks that Redis
picks what `select_workers` picks for every strategy. Ties fall to the worker id, as they
do in a sorted set. Pure, standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from acd.model import PRIORITY_SPAN, Queue, Strategy, Worker


def worker_score(queue: Queue, worker: Worker, channel: str, random_value: float = 0.0) -> float:
    """The sorted-set score of `worker` in `queue`'s available set for `channel`."""
    idle = float(worker.idle_since.get(channel, 0.0))
    strategy = queue.strategy
    if strategy in (Strategy.LONGEST_IDLE, Strategy.RING_ALL):
        return idle
    if strategy is Strategy.ROUND_ROBIN:
        # the queue's offer sequence when this worker was last offered from it: never offered first
        return float(worker.last_offer_seq.get(queue.name, 0))
    if strategy is Strategy.MOST_SKILLED:
        return -worker.skill(queue.ranking_skill) * PRIORITY_SPAN + idle
    if strategy is Strategy.LEAST_OCCUPIED:
        return occupancy_percent(worker.used, worker.capacity) * PRIORITY_SPAN + idle
    if strategy is Strategy.RANDOM:
        return random_value
    raise ValueError(f"unknown strategy {strategy!r}")


_MINSTD_MOD = 2147483647


def random_score(seed: int, offers: int) -> float:
    """The random strategy's score, as lib.lua computes it: a Park-Miller step over (seed, offers).

    Redis scripts may not draw random numbers freely (replication replays them), so the
    randomness is a hash of the worker's seed and its offer count, which changes after
    every offer. Every product stays below 2**53, so Lua's doubles and Python agree exactly.
    """
    x = (int(seed) + int(offers) * 7919) % _MINSTD_MOD
    return float((x * 48271) % _MINSTD_MOD)


def occupancy_percent(used: Mapping[str, int], capacity: Mapping[str, int]) -> int:
    """Whole percent of all channels' capacity in use (integer, so Lua and Python agree exactly)."""
    total = sum(int(v) for v in capacity.values())
    if total <= 0:
        return 100
    return (100 * sum(int(v) for v in used.values())) // total


def select_workers(
    queue: Queue,
    candidates: Iterable[Worker],
    channel: str,
    random_values: Mapping[str, float] | None = None,
) -> list[Worker]:
    """The workers to reserve for one task: one, or up to `ring_all_max` for ring-all.

    Only offerable workers (activity, registration, free capacity) are considered; the
    caller has already restricted `candidates` to workers eligible for the queue.
    """
    random_values = random_values or {}
    ranked = sorted(
        (w for w in candidates if w.offerable(channel)),
        key=lambda w: (worker_score(queue, w, channel, random_values.get(w.worker_id, 0.0)), w.worker_id),
    )
    count = max(1, queue.ring_all_max) if queue.strategy is Strategy.RING_ALL else 1
    return ranked[:count]
