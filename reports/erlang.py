"""Erlang C: how many agents a queue needs, and what service it gets with a given number.

The M/M/N model: Poisson arrivals, exponential handle times, N identical agents, callers
who never hang up. It is the industry's staffing baseline (every WFM tool starts here),
and it is what the demo's cross-check measures the router against.

Why no factorials: A**N / N! overflows a float near N = 170. Everything here goes through
the Erlang B recurrence

    B(0) = 1,    B(n) = A * B(n-1) / (n + A * B(n-1))

whose terms stay in [0, 1], and then C = N * B / (N - A * (1 - B)). That is exact in
exact arithmetic, loses no precision at 1,000+ agents or thousands of Erlangs, and costs
O(N); a staffing search walks the same recurrence once, so it is O(N) overall too.

Pure: standard library only. Times are in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "StaffingRow",
    "asa_s",
    "erlang_b",
    "erlang_c",
    "occupancy",
    "required_agents",
    "service_level",
    "staffing_row",
    "staffing_table",
    "traffic_erlangs",
]


def traffic_erlangs(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered load A = arrival rate x mean handle time (calls per interval -> Erlangs)."""
    if interval_s <= 0:
        raise ValueError(f"interval must be positive, got {interval_s} s")
    if calls < 0 or aht_s <= 0:
        raise ValueError(f"need calls >= 0 and AHT > 0, got calls={calls}, aht={aht_s} s")
    return calls * aht_s / interval_s


def _check(traffic: float, agents: int) -> None:
    if traffic < 0 or not math.isfinite(traffic):
        raise ValueError(f"traffic must be a finite number of Erlangs >= 0, got {traffic}")
    if agents < 0:
        raise ValueError(f"agents must be 0 or more, got {agents}")


def _erlang_b_series(traffic: float) -> Iterator[tuple[int, float]]:
    """(n, B(n)) for n = 0, 1, 2, ... by the recurrence (each term in [0, 1])."""
    blocking = 1.0
    n = 0
    yield n, blocking
    while True:
        n += 1
        blocking = traffic * blocking / (n + traffic * blocking)
        yield n, blocking


def erlang_b(traffic: float, agents: int) -> float:
    """Erlang B: the probability that all `agents` are busy in a loss system (no queue)."""
    _check(traffic, agents)
    for n, blocking in _erlang_b_series(traffic):
        if n == agents:
            return blocking
    raise AssertionError("unreachable")


def _c_from_b(traffic: float, agents: int, blocking: float) -> float:
    if agents <= traffic:
        return 1.0  # unstable queue: every caller waits (and the wait grows without bound)
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C: P(wait > 0), the probability that an arriving caller has to queue."""
    return _c_from_b(traffic, agents, erlang_b(traffic, agents))


def asa_s(traffic: float, agents: int, aht_s: float) -> float:
    """Average speed of answer over all callers (those who did not wait count as 0 s)."""
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic, agents) * aht_s / (agents - traffic)


def _sl(p_wait: float, traffic: float, agents: int, aht_s: float, threshold_s: float) -> float:
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - p_wait * math.exp(-(agents - traffic) * threshold_s / aht_s))


def service_level(traffic: float, agents: int, aht_s: float, threshold_s: float) -> float:
    """SL(T) = P(wait <= T) = 1 - C * exp(-(N - A) * T / AHT), as a fraction 0..1."""
    return _sl(erlang_c(traffic, agents), traffic, agents, aht_s, threshold_s)


def occupancy(traffic: float, agents: int) -> float:
    """The share of staffed time agents spend handling contacts: A / N (capped at 1)."""
    _check(traffic, agents)
    if agents == 0:
        return 1.0
    return min(1.0, traffic / agents)


@dataclass(frozen=True)
class StaffingRow:
    """What N agents give for one traffic load. `service_level` is a fraction 0..1."""

    agents: int
    traffic_erlangs: float
    p_wait: float
    asa_s: float
    service_level: float
    occupancy: float

    def meets(self, target_fraction: float) -> bool:
        return self.agents > self.traffic_erlangs and self.service_level >= target_fraction


def _row(traffic: float, agents: int, blocking: float, aht_s: float, threshold_s: float) -> StaffingRow:
    p_wait = _c_from_b(traffic, agents, blocking)
    asa = math.inf if agents <= traffic else p_wait * aht_s / (agents - traffic)
    return StaffingRow(
        agents=agents,
        traffic_erlangs=traffic,
        p_wait=p_wait,
        asa_s=asa,
        service_level=_sl(p_wait, traffic, agents, aht_s, threshold_s),
        occupancy=occupancy(traffic, agents),
    )


def staffing_row(traffic: float, agents: int, aht_s: float, threshold_s: float) -> StaffingRow:
    """Every Erlang C figure for one staffing level."""
    return _row(traffic, agents, erlang_b(traffic, agents), aht_s, threshold_s)


def staffing_table(traffic: float, aht_s: float, threshold_s: float, agents_from: int, agents_to: int) -> list[StaffingRow]:
    """Rows for agents_from..agents_to inclusive, computed in one pass of the recurrence."""
    _check(traffic, agents_from)
    if agents_to < agents_from:
        raise ValueError(f"empty staffing range {agents_from}..{agents_to}")
    rows: list[StaffingRow] = []
    for n, blocking in _erlang_b_series(traffic):
        if n >= agents_from:
            rows.append(_row(traffic, n, blocking, aht_s, threshold_s))
        if n >= agents_to:
            return rows
    raise AssertionError("unreachable")


def required_agents(
    traffic: float, aht_s: float, threshold_s: float, target_fraction: float, max_occupancy: float = 1.0
) -> StaffingRow:
    """The smallest staffing whose SL(T) reaches `target_fraction` (and occupancy <= max_occupancy).

    Walks the Erlang B recurrence upward once; SL(T) rises monotonically with N above A, so the
    first N that meets the target is the answer.
    """
    _check(traffic, 0)
    if not 0.0 < target_fraction < 1.0:
        raise ValueError(f"a service-level target must be strictly between 0 and 100 %, got {target_fraction * 100:g} %")
    if not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max occupancy must be in (0, 1], got {max_occupancy}")
    for n, blocking in _erlang_b_series(traffic):
        if n == 0 or n <= traffic or traffic / n > max_occupancy:
            continue
        row = _row(traffic, n, blocking, aht_s, threshold_s)
        if row.service_level >= target_fraction:
            return row
    raise AssertionError("unreachable")
