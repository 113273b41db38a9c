"""acd/stats.py: the pure figures by hand, then recorder + readers on a real Redis with a
clock the test moves (every figure below is computed by hand from the recorded outcomes)."""

from __future__ import annotations

import pytest

from acd.config import AcdSettings, AgentSettings, QueueSettings
from acd.errors import UnknownEntity
from acd.model import WorkerActivity
from acd.router import Router
from acd.stats import (
    BUCKET_S,
    LiveAgentState,
    OutcomeCounts,
    StatsRecorder,
    WindowFigures,
    abandoned_fields,
    answered_fields,
    bucket_of,
    live_agent_state,
    sum_window,
    window_buckets,
)
from fs_scripts.clock import Clock
from reports.config import ServiceLevelVariant

B = 30_000_000  # a bucket index; T0 is 30 s into it
T0 = B * BUCKET_S + 30.0


class ManualClock(Clock):
    """A Clock whose `now` moves only when the test says so."""

    def __init__(self, start: float) -> None:
        super().__init__(scale=1.0, epoch=start)
        object.__setattr__(self, "t", float(start))

    def now(self) -> float:
        return self.t  # type: ignore[attr-defined]

    def advance(self, seconds: float) -> None:
        object.__setattr__(self, "t", self.t + seconds)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ pure

def test_buckets_and_windows_are_minutes_aligned_to_the_epoch() -> None:
    assert bucket_of(T0) == B
    assert bucket_of(B * 60.0) == B and bucket_of(B * 60.0 - 0.001) == B - 1
    assert window_buckets(T0, 15) == range(B - 14, B + 1)
    assert window_buckets(T0, 60) == range(B - 59, B + 1)


def test_outcome_fields_follow_the_report_definitions() -> None:
    assert answered_fields(20.0, 20.0) == {"ans": 1, "ans_wait": 20.0, "ans_t": 1}  # exactly T is within
    assert answered_fields(20.5, 20.0) == {"ans": 1, "ans_wait": 20.5}
    assert abandoned_fields(4.9, 20.0, 5.0) == {"ab_short": 1}  # short: strictly below
    assert abandoned_fields(5.0, 20.0, 5.0) == {"ab": 1, "ab_wait": 5.0, "ab_t": 1}
    assert abandoned_fields(21.0, 20.0, 5.0) == {"ab": 1, "ab_wait": 21.0}
    assert abandoned_fields(1.0, 20.0, 0.0) == {"ab": 1, "ab_wait": 1.0, "ab_t": 1}  # 0 turns the rule off


def test_window_figures_reproduce_the_icmi_worked_example() -> None:
    counts = OutcomeCounts(answered=1000, answered_within=860, abandoned=60, abandoned_within=20)
    figures = WindowFigures.of(60, counts, ServiceLevelVariant.ABANDONS_IGNORED)
    levels = {v: round(100 * s, 1) for v, s in figures.service_levels.items()}
    assert levels == {ServiceLevelVariant.ANSWERED: 86.0, ServiceLevelVariant.ABANDONS_NEGATIVE: 81.1,
                      ServiceLevelVariant.ABANDONS_MET: 83.0, ServiceLevelVariant.ABANDONS_IGNORED: 82.7}
    assert figures.service_level == figures.service_levels[ServiceLevelVariant.ABANDONS_IGNORED]
    assert figures.abandon_rate == pytest.approx(60 / 1060)


def test_an_empty_window_has_no_ratios_rather_than_zeros() -> None:
    figures = WindowFigures.of(15, OutcomeCounts(short_abandoned=3), ServiceLevelVariant.ABANDONS_IGNORED)
    assert figures.service_level is None and figures.asa_s is None and figures.abandon_rate is None
    assert figures.short_abandoned == 3


def test_sum_window_ignores_buckets_outside_it() -> None:
    buckets = {1: OutcomeCounts(answered=1), 2: OutcomeCounts(answered=2, answered_wait_s=3.0), 9: OutcomeCounts(answered=100)}
    assert sum_window(buckets, range(0, 3)) == OutcomeCounts(answered=3, answered_wait_s=3.0)


@pytest.mark.parametrize(("activity", "registered", "capacity", "holding", "ringing", "expected"), [
    (WorkerActivity.OFFLINE, True, {"voice": 1}, 0, 0, LiveAgentState.OFFLINE),
    (WorkerActivity.AVAILABLE, True, {"voice": 1}, 0, 0, LiveAgentState.AVAILABLE),
    (WorkerActivity.ON_DEMAND, True, {"voice": 1}, 0, 0, LiveAgentState.AVAILABLE),
    (WorkerActivity.AVAILABLE, False, {"voice": 1}, 0, 0, LiveAgentState.UNREGISTERED),
    (WorkerActivity.AVAILABLE, False, {"chat": 3}, 0, 0, LiveAgentState.AVAILABLE),  # no phone needed
    (WorkerActivity.AVAILABLE, True, {"voice": 1}, 1, 1, LiveAgentState.RESERVED),
    (WorkerActivity.AVAILABLE, True, {"voice": 1, "chat": 3}, 2, 1, LiveAgentState.BUSY),
    (WorkerActivity.BREAK, True, {"voice": 1}, 1, 0, LiveAgentState.BUSY),  # the break starts after the call
    (WorkerActivity.BREAK, False, {"voice": 1}, 0, 0, LiveAgentState.BREAK),
    (WorkerActivity.WRAP_UP, True, {"voice": 1}, 1, 0, LiveAgentState.WRAP_UP),
])
def test_live_agent_state(activity, registered, capacity, holding, ringing, expected) -> None:
    assert live_agent_state(activity, registered, capacity, holding, ringing) is expected


# ------------------------------------------------------------------ on Redis

def _settings() -> AcdSettings:
    return AcdSettings(
        agents={
            "1001": AgentSettings(extension="1001", skills={"billing": 3}),
            "1002": AgentSettings(extension="1002", skills={"billing": 2}),
            "1003": AgentSettings(extension="1003", skills={"billing": 1}),
            "1004": AgentSettings(extension="1004", skills={"billing": 5, "vip": 5}),
            "1005": AgentSettings(extension="1005", skills={"vip": 4}),
        },
        queues={
            "billing": QueueSettings(target="skills.billing >= 1", service_level_s=20.0),
            "vip": QueueSettings(target="skills.vip >= 1", service_level_s=10.0),
        },
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def router(redis_client, clock) -> Router:
    r = Router(redis_client, _settings(), clock, "default", "node-1")
    r.sync_config()
    return r


@pytest.fixture
def stats(redis_client, clock, router) -> StatsRecorder:
    return StatsRecorder(redis_client, "default", clock, agent_cache_s=0)


def test_outcomes_land_in_the_15_and_60_minute_windows(stats, clock) -> None:
    stats.record_answered("billing", 10.0, "1001")  # within T=20
    stats.record_answered("billing", 25.0, "1002")  # not within
    stats.record_abandoned("billing", 3.0)  # short abandon
    stats.record_abandoned("billing", 15.0)  # abandoned within T
    stats.record_abandoned("billing", 40.0)  # abandoned after T
    clock.advance(20 * 60)
    stats.record_answered("billing", 5.0, "1001")

    figures = stats.queue_stats("billing")
    assert figures.service_level_s == 20.0
    last_15, last_60 = figures.last_15, figures.last_60
    assert (last_15.answered, last_15.abandoned, last_15.short_abandoned) == (1, 0, 0)
    assert last_15.service_level == 1.0 and last_15.asa_s == 5.0
    assert (last_60.answered, last_60.abandoned, last_60.short_abandoned) == (3, 2, 1)
    assert last_60.counts.answered_within == 2 and last_60.counts.abandoned_within == 1
    assert last_60.service_level == pytest.approx(2 / (3 + 2 - 1))  # abandons-ignored
    assert last_60.service_levels[ServiceLevelVariant.ABANDONS_NEGATIVE] == pytest.approx(2 / 5)
    assert last_60.asa_s == pytest.approx((10 + 25 + 5) / 3)
    assert last_60.abandon_rate == pytest.approx(2 / 5)
    assert figures.service_level_60 == last_60.service_level and figures.service_level_15 == 1.0

    clock.advance(45 * 60)  # T0 + 65 min: the first minute has left the hour
    later = stats.queue_stats("billing")
    assert (later.last_60.answered, later.last_60.abandoned) == (1, 0)
    assert later.last_15.answered == 0 and later.last_15.service_level is None


def test_window_edges_are_exact_to_the_bucket(stats, clock) -> None:
    stats.record_answered("billing", 1.0, "1001")  # bucket B
    clock.advance(14 * 60 + 29)  # last second of bucket B+14: B is still in the 15 minutes
    assert stats.queue_stats("billing").last_15.answered == 1
    clock.advance(1)  # bucket B+15
    assert stats.queue_stats("billing").last_15.answered == 0
    assert stats.queue_stats("billing").last_60.answered == 1


def test_threshold_comes_from_each_queue_config(redis_client, clock, stats) -> None:
    stats.record_answered("vip", 15.0, "1005")  # vip T=10: not within
    stats.record_answered("billing", 15.0, "1001")  # billing T=20: within
    assert stats.queue_stats("vip").last_15.service_level == 0.0
    assert stats.queue_stats("billing").last_15.service_level == 1.0
    overridden = StatsRecorder(redis_client, "default", clock, thresholds={"vip": 30.0})
    overridden.record_answered("vip", 15.0, "1005")
    assert stats.queue_stats("vip").last_15.counts.answered_within == 1


def test_buckets_expire_and_recording_is_constant_size(redis_client, stats) -> None:
    for wait in range(50):
        stats.record_answered("billing", float(wait), "1001")
    keys = sorted(k.decode() for k in redis_client.keys("fscc:{default}:stats:*"))
    assert keys == [f"fscc:{{default}}:stats:agents:{B}", f"fscc:{{default}}:stats:q:billing:{B}"]
    for key in keys:
        assert 0 < redis_client.pttl(key) <= (60 * 60 + 2 * BUCKET_S) * 1000
    assert stats.queue_stats("billing").last_15.counts == OutcomeCounts(
        answered=50, answered_within=21, answered_wait_s=float(sum(range(50))))


def test_live_waiting_longest_wait_and_agents_by_state(router, stats, clock) -> None:
    router.set_registered("1001", True)
    router.ready("1001")
    router.login("1002")  # break, reason login
    router.ready("1003")  # ready, but the phone is not registered
    router.set_registered("1004", True)  # logged out: offline
    router.set_registered("1005", True)
    router.ready("1005")  # vip only

    first = router.enqueue("t1", {}, queue="billing")
    assert first.reservations  # offered to 1001 at once
    clock.advance(5)
    router.enqueue("t2", {}, queue="billing")
    clock.advance(5)
    router.enqueue("t3", {}, queue="billing")
    clock.advance(20)  # T0 + 30

    figures = stats.queue_stats("billing")
    assert figures.waiting == 3 and figures.longest_wait_s == 30.0
    assert figures.agents_by_state == {"available": 0, "reserved": 1, "busy": 0, "wrap-up": 0, "break": 1,
                                       "unregistered": 1, "offline": 1}
    assert figures.agents == 4
    vip = stats.queue_stats("vip")
    assert vip.waiting == 0 and vip.longest_wait_s == 0.0
    assert vip.agents_by_state["available"] == 1 and vip.agents_by_state["offline"] == 1

    # the one-command read and the per-worker read (its fallback) see the same states
    fast = sorted((sorted(q), st.value) for q, st in stats._agent_states())
    assert fast == sorted((sorted(w.routing_queues), w.state.value) for w in stats._workers())
    router.accept(first.reservations[0])
    stats.record_answered("billing", 30.0, "1001")
    figures = stats.queue_stats("billing")
    assert figures.waiting == 2 and figures.longest_wait_s == 25.0  # t2 is the oldest now
    assert figures.agents_by_state["busy"] == 1 and figures.agents_by_state["reserved"] == 0
    assert figures.recent_handle_s is None

    clock.advance(100)
    router.complete("t1", wrapup_s=0)
    assert stats.queue_stats("billing").recent_handle_s == 100.0
    assert [q.queue for q in stats.all_queues()] == ["billing", "vip"]


def test_agent_stats(router, stats, clock) -> None:
    router.set_registered("1001", True)
    router.ready("1001")
    clock.advance(40)
    stats.record_answered("billing", 12.0, "1001")
    clock.advance(16 * 60)
    stats.record_answered("billing", 8.0, "1001")
    agent = stats.agent_stats("1001")
    assert agent.state is LiveAgentState.AVAILABLE and agent.activity is WorkerActivity.AVAILABLE
    assert agent.in_activity_s == 40 + 16 * 60
    assert agent.registered and agent.capacity == {"voice": 1} and agent.used == {"voice": 0}
    assert agent.queues == ("billing",)
    assert (agent.answered_15, agent.answered_60, agent.asa_60_s) == (1, 2, 10.0)
    both = {a.agent_id: a for a in stats.all_agents()}
    assert sorted(both) == ["1001", "1002", "1003", "1004", "1005"]
    assert both["1004"].queues == ("billing", "vip") and both["1004"].state is LiveAgentState.OFFLINE


def test_queue_readers_reuse_the_agents_for_a_moment(redis_client, router, clock) -> None:
    cached = StatsRecorder(redis_client, "default", clock, agent_cache_s=3600)
    assert cached.queue_stats("billing").agents_by_state["offline"] == 4
    router.login("1001")
    assert cached.queue_stats("billing").agents_by_state["offline"] == 4  # the cached states
    assert StatsRecorder(redis_client, "default", clock, agent_cache_s=0).queue_stats("billing").agents_by_state["break"] == 1


def test_unknown_ids_and_bad_waits_are_named(stats) -> None:
    with pytest.raises(UnknownEntity, match="queue 'nope'"):
        stats.queue_stats("nope")
    with pytest.raises(UnknownEntity, match="worker '9999'"):
        stats.agent_stats("9999")
    with pytest.raises(ValueError, match="queue 'billing'"):
        stats.record_answered("billing", float("nan"), "1001")
    stats.record_abandoned("billing", -0.2)  # clock skew between nodes: counted as a 0 s wait
    assert stats.queue_stats("billing").last_15.short_abandoned == 1


def test_tenants_do_not_see_each_other(redis_client, clock, stats) -> None:
    stats.record_answered("billing", 1.0, "1001")
    other_router = Router(redis_client, _settings(), clock, "acme", "node-1")
    other_router.sync_config()
    other = StatsRecorder(redis_client, "acme", clock)
    assert other.queue_stats("billing").last_15.answered == 0
    assert stats.queue_stats("billing").last_15.answered == 1


def test_waiting_tasks_longest_first_with_who_rings(router, stats, clock) -> None:
    router.set_registered("1001", True)
    router.ready("1001")
    router.enqueue("t1", {}, queue="billing")  # rings at 1001
    clock.advance(10)
    router.enqueue("t2", {"tier": 1}, queue="billing")  # higher priority, but waited less
    clock.advance(5)
    router.enqueue("t3", {}, queue="billing", channel="chat")
    waiting = stats.waiting_tasks("billing")
    assert [(t.task_id, t.state, t.channel, t.waited_s, t.offered_to) for t in waiting] == [
        ("t1", "reserved", "voice", 15.0, ("1001",)),
        ("t2", "pending", "voice", 5.0, ()),
        ("t3", "pending", "chat", 0.0, ()),
    ]
    assert waiting[1].priority > waiting[0].priority
    assert [t.task_id for t in stats.waiting_tasks("billing", limit=2)] == ["t1", "t2"]
    assert stats.waiting_tasks("vip") == []
    with pytest.raises(UnknownEntity, match="queue 'nope'"):
        stats.waiting_tasks("nope")
