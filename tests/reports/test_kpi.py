"""KPIs against hand-computed figures. Every expected number below is worked out in the comments."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from reports.config import ReportSettings, ServiceLevelVariant
from reports.kpi import (
    AgentState,
    AgentStateSpan,
    ContactFacts,
    Outcome,
    compute_kpis,
    interval_start,
    interval_starts,
    service_levels,
    summarize,
)

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc).timestamp()  # 08:00 UTC
MIN = 60.0
RULES = ReportSettings()  # 80/20, short abandon < 5 s, abandons-ignored, 15 min


def contact(cid: str, at_s: float, outcome: Outcome, *, queue: str | None = "billing", tier: int | None = 4,
            agent: str | None = None, wait: float = 0.0, talk: float = 0.0, hold: float = 0.0, acw: float = 0.0,
            tenant: str = "default") -> ContactFacts:
    offered = T0 + at_s
    answered = offered + wait if outcome is Outcome.ANSWERED else None
    abandoned = offered + wait if outcome in (Outcome.ABANDONED, Outcome.SHORT_ABANDONED) else None
    return ContactFacts(tenant=tenant, queue=queue, tier=tier, agent=agent, channel="voice", offered_at=offered,
                        answered_at=answered, abandoned_at=abandoned, ended_at=offered + wait + talk + hold,
                        wait_s=wait, talk_s=talk, hold_s=hold, acw_s=acw, outcome=outcome, contact_id=cid)


A, AB, SAB = Outcome.ANSWERED, Outcome.ABANDONED, Outcome.SHORT_ABANDONED
CONTACTS = [
    # interval 1: 08:00-08:15
    contact("c1", 1 * MIN, A, tier=1, agent="a1", wait=10, talk=100, hold=20, acw=30),  # handle 150
    contact("c2", 2 * MIN, A, tier=4, agent="a2", wait=20, talk=200, acw=10),  # wait exactly T: met; handle 210
    contact("c3", 3 * MIN, A, queue="sales", agent="a1", wait=45, talk=60),  # handle 60
    contact("c4", 4 * MIN, AB, wait=3),  # short abandon (3 < 5)
    contact("c5", 5 * MIN, AB, tier=7, wait=20),  # abandoned exactly at T: within T
    contact("c6", 6 * MIN, AB, queue="sales", tier=7, wait=50),  # abandoned after T
    contact("c7", 7 * MIN, Outcome.SELF_SERVICE, queue=None),
    contact("c8", 8 * MIN, Outcome.CALLBACK, tier=1, wait=60),
    # offered 08:14:59, answered 08:15:30: belongs to 08:00-08:15 (the interval it was offered in)
    contact("c10", 14 * MIN + 59, A, queue="sales", tier=1, agent="a2", wait=31, talk=90, hold=10, acw=20),  # handle 120
    # interval 2: 08:15-08:30 is empty
    # interval 3: 08:30-08:45 all abandoned
    contact("c11", 31 * MIN, AB, wait=30),
    contact("c12", 40 * MIN, AB, wait=25),
    # outside the window [08:00, 08:45): left out
    contact("late", 45 * MIN, A, agent="a1", wait=1, talk=10),
    contact("early", -1, A, agent="a1", wait=1, talk=10),
]

SPANS = [
    AgentStateSpan("default", "a1", AgentState.AVAILABLE, T0, T0 + 5 * MIN),
    AgentStateSpan("default", "a1", AgentState.BUSY, T0 + 5 * MIN, T0 + 10 * MIN),
    AgentStateSpan("default", "a1", AgentState.WRAP_UP, T0 + 10 * MIN, T0 + 12 * MIN),
    AgentStateSpan("default", "a1", AgentState.BREAK, T0 + 12 * MIN, T0 + 20 * MIN),
    AgentStateSpan("default", "a1", AgentState.AVAILABLE, T0 + 20 * MIN, T0 + 40 * MIN),
    AgentStateSpan("default", "a2", AgentState.BUSY, T0, T0 + 14 * MIN),
    AgentStateSpan("default", "a2", AgentState.RESERVED, T0 + 14 * MIN, T0 + 16 * MIN),
    AgentStateSpan("default", "a2", AgentState.BUSY, T0 + 16 * MIN, T0 + 18 * MIN),
    AgentStateSpan("default", "a2", AgentState.OFFLINE, T0 + 18 * MIN, T0 + 30 * MIN),
]


@pytest.fixture(scope="module")
def rows():
    result = compute_kpis(CONTACTS, SPANS, rules=RULES, interval_s=900, start=T0, end=T0 + 45 * MIN)
    return {(r.dimension, r.key, None if r.interval_start is None else round((r.interval_start - T0) / MIN)): r
            for r in result}


def test_first_interval_counts(rows):
    r = rows[("all", "all", 0)]
    assert r.interval_s == 900
    # c1..c8 and c10 (c10 offered 08:14:59 though answered 08:15:30)
    assert r.offered == 9
    assert (r.answered, r.abandoned, r.short_abandoned) == (4, 2, 1)
    assert (r.callbacks, r.self_service, r.voicemail, r.failed, r.transferred) == (1, 1, 0, 0, 0)
    assert (r.answered_within_t, r.abandoned_within_t) == (2, 1)  # c1, c2 (=20 s); c5 (=20 s)


def test_first_interval_every_service_level_variant(rows):
    r = rows[("all", "all", 0)]
    assert r.sl_answered == pytest.approx(2 / 4)  # A_T / A
    assert r.sl_abandons_negative == pytest.approx(2 / 6)  # A_T / (A + Ab)
    assert r.sl_abandons_met == pytest.approx(3 / 6)  # (A_T + Ab_T) / (A + Ab)
    assert r.sl_abandons_ignored == pytest.approx(2 / 5)  # A_T / (A + Ab - Ab_T)
    assert r.service_level == r.sl_abandons_ignored
    assert r.service_level_variant is ServiceLevelVariant.ABANDONS_IGNORED


def test_first_interval_times_and_rates(rows):
    r = rows[("all", "all", 0)]
    assert r.asa_s == pytest.approx((10 + 20 + 45 + 31) / 4)  # 26.5: answered only (not c8's 60 s)
    assert r.aht_s == pytest.approx((150 + 210 + 60 + 120) / 4)  # 135
    assert r.avg_talk_s == pytest.approx((100 + 200 + 60 + 90) / 4)
    assert r.avg_hold_s == pytest.approx((20 + 0 + 0 + 10) / 4)
    assert r.avg_acw_s == pytest.approx((30 + 10 + 0 + 20) / 4)
    assert r.max_wait_s == 50  # c6; callbacks are not waits for an agent
    assert r.abandon_rate == pytest.approx(2 / 6)  # short abandon out of both sides
    assert r.short_abandon_rate == pytest.approx(1 / 7)
    # a1: 300 busy + 120 wrap-up of 720 staffed; a2: 840 busy of 840 + 60 reserved
    assert r.occupancy == pytest.approx((420 + 840) / (720 + 900))


def test_empty_interval(rows):
    r = rows[("all", "all", 15)]
    assert r.offered == r.answered == r.abandoned == r.short_abandoned == 0
    assert r.sl_answered is r.sl_abandons_negative is r.sl_abandons_met is r.sl_abandons_ignored is None
    assert r.asa_s is r.aht_s is r.abandon_rate is r.max_wait_s is None
    # agent time still happened: a1 600 s available; a2 60 s reserved + 120 s busy
    assert r.occupancy == pytest.approx(120 / (600 + 180))


def test_all_abandoned_interval(rows):
    r = rows[("all", "all", 30)]
    assert (r.offered, r.answered, r.abandoned, r.abandoned_within_t) == (2, 0, 2, 0)
    assert r.sl_answered is None  # no answered contact: undefined, not 0 and not 100
    assert r.sl_abandons_negative == r.sl_abandons_met == r.sl_abandons_ignored == 0.0
    assert r.abandon_rate == 1.0
    assert r.asa_s is None and r.aht_s is None
    assert r.occupancy == 0.0  # a1 available 600 s, handling nothing


def test_period_total(rows):
    r = rows[("all", "all", None)]
    assert r.offered == 11  # "late" and "early" are outside the window
    assert (r.answered, r.abandoned, r.short_abandoned, r.abandoned_within_t) == (4, 4, 1, 1)
    assert r.sl_abandons_ignored == pytest.approx(2 / 7)
    assert r.abandon_rate == pytest.approx(4 / 8)
    assert r.occupancy == pytest.approx((420 + 840 + 120) / (720 + 900 + 600 + 180 + 600))


def test_per_queue(rows):
    billing = rows[("queue", "billing", 0)]  # c1 c2 c4 c5 c8
    assert (billing.offered, billing.answered, billing.abandoned, billing.short_abandoned, billing.callbacks) == (5, 2, 1, 1, 1)
    assert billing.sl_abandons_ignored == 1.0  # 2 / (2 + 1 - 1)
    assert billing.sl_abandons_negative == pytest.approx(2 / 3)
    assert billing.sl_abandons_met == 1.0
    assert billing.occupancy is None  # queues have no agent time of their own
    sales = rows[("queue", "sales", 0)]  # c3 c6 c10
    assert (sales.answered, sales.abandoned, sales.answered_within_t) == (2, 1, 0)
    assert sales.sl_abandons_ignored == 0.0 and sales.asa_s == pytest.approx(38.0)
    assert rows[("queue", "-", 0)].self_service == 1  # c7 never queued
    assert ("queue", "sales", 15) not in rows  # only intervals where the key had contacts
    assert rows[("queue", "billing", 30)].abandoned == 2
    assert rows[("queue", "billing", None)].offered == 7


def test_per_tier(rows):
    assert rows[("tier", "1", 0)].offered == 3  # c1 c8 c10
    assert rows[("tier", "4", 0)].offered == 4  # c2 c3 c4 c7
    seven = rows[("tier", "7", 0)]  # c5 (at T) c6 (after T)
    assert (seven.abandoned, seven.abandoned_within_t, seven.answered) == (2, 1, 0)
    assert seven.sl_abandons_ignored == 0.0 and seven.sl_abandons_met == 0.5


def test_per_agent(rows):
    a1 = rows[("agent", "a1", 0)]  # c1, c3
    assert a1.answered == 2 and a1.aht_s == pytest.approx((150 + 60) / 2)
    assert a1.occupancy == pytest.approx(420 / 720)
    a2 = rows[("agent", "a2", 0)]  # c2, c10
    assert a2.aht_s == pytest.approx((210 + 120) / 2) and a2.occupancy == pytest.approx(840 / 900)
    # staffed with no contacts: still a row, for occupancy
    assert rows[("agent", "a1", 15)].answered == 0 and rows[("agent", "a1", 15)].occupancy == 0.0
    assert rows[("agent", "a2", 15)].occupancy == pytest.approx(120 / 180)
    assert ("agent", "a2", 30) not in rows  # offline all interval
    assert rows[("agent", "a1", None)].occupancy == pytest.approx(420 / (720 + 600 + 600))
    assert rows[("agent", "-", 0)].offered == 5  # c4 c5 c6 c7 c8


def test_published_icmi_example_for_the_four_formulas():
    levels = service_levels(answered=1000, answered_within_t=860, abandoned=60, abandoned_within_t=20)
    assert levels[ServiceLevelVariant.ANSWERED] == pytest.approx(0.860)
    assert levels[ServiceLevelVariant.ABANDONS_NEGATIVE] == pytest.approx(860 / 1060)  # 81.1 %
    assert levels[ServiceLevelVariant.ABANDONS_MET] == pytest.approx(880 / 1060)  # 83.0 %
    assert levels[ServiceLevelVariant.ABANDONS_IGNORED] == pytest.approx(860 / 1040)  # 82.7 %


@pytest.mark.parametrize("variant,expected", [
    (ServiceLevelVariant.ANSWERED, 2 / 4), (ServiceLevelVariant.ABANDONS_NEGATIVE, 2 / 6),
    (ServiceLevelVariant.ABANDONS_MET, 3 / 6), (ServiceLevelVariant.ABANDONS_IGNORED, 2 / 5),
])
def test_configured_variant_is_the_headline(variant, expected):
    rules = replace(RULES, service_level_variant=variant)
    r = summarize(CONTACTS[:9], rules)
    assert r.service_level == pytest.approx(expected) and r.service_level_of(variant) == r.service_level


def test_short_abandon_is_decided_by_wait_and_threshold():
    group = [
        contact("x1", 0, AB, wait=4.999),  # short
        contact("x2", 0, AB, wait=5.0),  # exactly the threshold: a real abandon
        contact("x3", 0, SAB, wait=8.0),  # labelled short at sync time with another threshold: real here
        contact("x4", 0, SAB, wait=1.0),  # short
        contact("x5", 0, A, wait=2.0),  # quick answers are never "short"
    ]
    r = summarize(group, RULES)
    assert (r.short_abandoned, r.abandoned, r.answered) == (2, 2, 1)
    assert r.abandon_rate == pytest.approx(2 / 3) and r.short_abandon_rate == pytest.approx(2 / 5)
    off = summarize(group, replace(RULES, short_abandon_s=0))
    assert (off.short_abandoned, off.abandoned) == (0, 4)


def test_threshold_is_inclusive():
    group = [contact("y1", 0, A, wait=20.0), contact("y2", 0, A, wait=20.001), contact("y3", 0, AB, wait=20.0)]
    r = summarize(group, RULES)
    assert (r.answered_within_t, r.abandoned_within_t) == (1, 1)
    assert r.sl_abandons_ignored == pytest.approx(1 / 2) and r.sl_abandons_met == pytest.approx(2 / 3)


def test_contact_at_a_boundary_belongs_to_the_next_interval():
    assert interval_start(T0 + 15 * MIN, 900) == T0 + 15 * MIN
    assert interval_start(T0 + 15 * MIN - 0.001, 900) == T0
    rows = compute_kpis([contact("b", 15 * MIN, A, wait=1)], rules=RULES, interval_s=900, start=T0, end=T0 + 30 * MIN)
    by_start = {r.interval_start: r.offered for r in rows if r.dimension == "all"}
    assert by_start == {T0: 0, T0 + 15 * MIN: 1, None: 1}


@pytest.mark.parametrize("interval_s", [900, 1800, 3600])
def test_intervals_of_15_30_60_minutes(interval_s):
    rows = compute_kpis(CONTACTS, rules=RULES, interval_s=interval_s, start=T0, end=T0 + 60 * MIN, dimensions=("all",))
    per_interval = [r for r in rows if r.interval_start is not None]
    assert len(per_interval) == 3600 // interval_s
    assert sum(r.offered for r in per_interval) == 12  # the window 08:00-09:00 takes in "late" (08:45)
    assert rows[-1].interval_start is None and rows[-1].offered == 12


def test_intervals_align_to_local_time():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local hours start at :30 UTC
    t = datetime(2026, 11, 22, 8, 10, tzinfo=timezone.utc).timestamp()
    assert interval_start(t, 3600, kolkata) == datetime(2026, 11, 22, 7, 30, tzinfo=timezone.utc).timestamp()
    assert interval_start(t, 3600) == T0
    assert interval_starts(T0, T0 + 3600, 1800) == [T0, T0 + 1800]


def test_tenants_are_kept_apart():
    rows = compute_kpis([contact("t1", 0, A, wait=1), contact("t2", 0, AB, wait=30, tenant="other")],
                        rules=RULES, interval_s=900, dimensions=("all",), totals=False)
    assert [(r.tenant, r.answered, r.abandoned) for r in rows] == [("default", 1, 0), ("other", 0, 1)]


def test_no_contacts_and_no_window_is_empty():
    assert compute_kpis([], rules=RULES, interval_s=900) == []


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="divide a day"):
        compute_kpis(CONTACTS, rules=RULES, interval_s=7 * 60)
    with pytest.raises(ValueError, match="unknown report dimension"):
        compute_kpis(CONTACTS, rules=RULES, interval_s=900, dimensions=("skill",))
    with pytest.raises(ValueError, match="contact c99: talk_s"):
        contact("c99", 0, A, talk=-1)
    with pytest.raises(ValueError, match="unknown contact outcome 'hung-up'"):
        Outcome.parse("hung-up")
    with pytest.raises(ValueError, match="agent a9: state span"):
        AgentStateSpan("default", "a9", AgentState.BUSY, 10.0, 5.0)
    assert Outcome.parse("Self_Service") is Outcome.SELF_SERVICE
    assert AgentState.parse("ringing") is AgentState.RESERVED


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York",
                                  "Australia/Lord_Howe"])
@pytest.mark.parametrize("interval_s", [300, 900, 1800, 3600])
def test_memoized_buckets_equal_interval_start_across_dst(zone, interval_s):
    import random

    from reports.kpi import _bucket_cache

    tz = ZoneInfo(zone)
    bucket = _bucket_cache(interval_s, tz)
    rng = random.Random(interval_s)
    # a year around two DST changes (New York: 2026-03-08 and 2026-11-01; Lord Howe shifts by 30 min)
    year = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    times = [year + rng.random() * 365 * 86400 for _ in range(3000)]
    for change in (datetime(2026, 3, 8, 7, tzinfo=timezone.utc), datetime(2026, 11, 1, 6, tzinfo=timezone.utc),
                   datetime(2026, 4, 4, 15, tzinfo=timezone.utc)):
        times += [change.timestamp() + d for d in (-0.5, 0.0, 0.25, 899.9, 900.0, 1799.0)]
    for t in times:
        assert bucket(t) == interval_start(t, interval_s, tz), (zone, interval_s, t)
