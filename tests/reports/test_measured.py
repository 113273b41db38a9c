"""measure_queue: hand-computed figures, and an exact M/M/N simulation measured against Erlang C."""

from __future__ import annotations

import heapq
import math
import random
import statistics

import pytest

from reports import erlang
from reports.facts import ContactFacts, Outcome
from reports.measured import measure_queue

T0 = 1_800_000_000.0


def _c(at_s: float, wait: float, outcome: Outcome = Outcome.ANSWERED, queue: str | None = "billing", talk: float = 100.0,
       tenant: str = "default", acw: float = 0.0) -> ContactFacts:
    answered = outcome is Outcome.ANSWERED
    return ContactFacts(tenant=tenant, queue=queue, tier=None, agent="1001" if answered else None, channel="voice",
                        offered_at=T0 + at_s, answered_at=T0 + at_s + wait if answered else None, abandoned_at=None,
                        ended_at=None, wait_s=wait, talk_s=talk if answered else 0.0, hold_s=0.0,
                        acw_s=acw if answered else 0.0, outcome=outcome)


def test_hand_computed_figures_and_filters():
    contacts = [
        _c(10, 0.0, talk=100), _c(20, 12.0, talk=200, acw=20), _c(30, 25.0, talk=60),  # first half
        _c(70, 20.0, talk=80), _c(80, 0.0, talk=40),  # second half
        _c(90, 50.0, Outcome.ABANDONED),
        _c(50, 1.0, queue="sales"), _c(50, 1.0, tenant="acme"),  # other queue / tenant
        _c(100, 1.0),  # at the end of the window: out
    ]
    m = measure_queue(contacts, queue="billing", start=T0, end=T0 + 100, threshold_s=20, tenant="default", batches=2)
    assert (m.offered, m.answered, m.abandoned) == (6, 5, 1)
    assert m.arrival_rate_per_s == pytest.approx(6 / 100)
    assert m.asa_s == pytest.approx((0 + 12 + 25 + 20 + 0) / 5)
    assert m.service_level == pytest.approx(4 / 5)  # 20.0 s is within
    assert m.p_wait == pytest.approx(3 / 5)  # waited more than 0 s
    assert m.aht_s == pytest.approx((100 + 220 + 60 + 80 + 40) / 5)
    assert m.traffic_erlangs == pytest.approx(6 / 100 * 100)
    # batches: [0, 50) ASA 37/3, SL 2/3; [50, 100) ASA 10, SL 1 -> t(1 df) = 12.706 x sd / sqrt(2)
    assert m.batches_used == 2
    assert m.asa_half_width_s == pytest.approx(12.706 * statistics.stdev([37 / 3, 10]) / math.sqrt(2))
    assert m.service_level_half_width == pytest.approx(12.706 * statistics.stdev([2 / 3, 1]) / math.sqrt(2))
    assert measure_queue(contacts, queue="sales", start=T0, end=T0 + 100).asa_half_width_s is None  # one batch
    pooled = measure_queue(contacts + [_c(5, 0.0, Outcome.SELF_SERVICE, queue=None)], queue=None, start=T0,
                           end=T0 + 100, tenant="default")
    assert (pooled.offered, pooled.answered) == (7, 6)  # billing and sales; the IVR-only contact never queued


def test_nothing_answered_and_bad_windows():
    m = measure_queue([_c(5, 40, Outcome.ABANDONED)], queue="billing", start=T0, end=T0 + 60)
    assert (m.answered, m.asa_s, m.service_level, m.aht_s, m.traffic_erlangs) == (0, None, None, None, None)
    with pytest.raises(ValueError, match="must end after it starts"):
        measure_queue([], queue="billing", start=T0, end=T0)
    with pytest.raises(ValueError, match="at least one batch"):
        measure_queue([], queue="billing", start=T0, end=T0 + 1, batches=0)


def _mmn(traffic: float, agents: int, aht_s: float, hours: float, seed: int) -> list[ContactFacts]:
    """M/M/N, first come first served, nobody abandons: each caller takes the first agent to free up."""
    rng = random.Random(seed)
    rate = traffic / aht_s
    free = [T0] * agents
    t = T0
    out = []
    while True:
        t += rng.expovariate(rate)
        if t >= T0 + hours * 3600:
            return out
        starts = max(t, heapq.heappop(free))
        talk = rng.expovariate(1 / aht_s)
        heapq.heappush(free, starts + talk)
        out.append(_c(t - T0, starts - t, talk=talk))


def test_measured_mmn_queue_agrees_with_erlang_c_published_example():
    """48 Erlangs, 55 agents, AHT 240 s: P(wait) 0.2387, ASA 8.18 s, SL(20 s) 86.68 %.

    Tolerance: the 95 % batch-means half-width of the measurement plus 1 % (SL, P(wait)) or
    0.5 s (ASA) of slack; the first hour is warm-up (the queue starts empty)."""
    contacts = _mmn(48, 55, 240, hours=41, seed=11)
    m = measure_queue(contacts, queue="billing", start=T0 + 3600, end=T0 + 41 * 3600, threshold_s=20, batches=20)
    predicted = erlang.staffing_row(48, 55, aht_s=240, threshold_s=20)
    assert m.answered > 25_000 and m.traffic_erlangs == pytest.approx(48, rel=0.03)
    assert abs(m.service_level - predicted.service_level) <= m.service_level_half_width + 0.01
    assert abs(m.asa_s - predicted.asa_s) <= m.asa_half_width_s + 0.5
    assert abs(m.p_wait - predicted.p_wait) <= 0.03
    # Waits at 87 % occupancy are correlated over hours: even 40 simulated hours leave a half-width
    # of a few percent (a naive binomial error would claim 0.4 %). That is what a cross-check must budget.
    assert 0.004 < m.service_level_half_width < 0.06
