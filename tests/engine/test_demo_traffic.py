"""The demo's traffic generator: the statistics it promises (Poisson arrivals, tier mix,
lognormal talk) hold, and a seed reproduces a run."""

from __future__ import annotations

import math
import statistics

from acd.tiers import Tier
from fs_scripts.demo_traffic import TIER_MIX, Intent, TrafficProfile, agents, customers, plan_calls


def test_arrivals_are_poisson_at_the_asked_rate() -> None:
    known = customers(1)
    calls = plan_calls(TrafficProfile(hours=20, calls_per_hour=300), known, seed=3)
    assert 5700 < len(calls) < 6300  # 6,000 expected, sd ~77
    gaps = [b.at_s - a.at_s for a, b in zip(calls, calls[1:], strict=False)]
    mean = statistics.fmean(gaps)
    assert abs(mean - 12.0) < 0.5
    # exponential gaps: standard deviation equals the mean
    assert abs(statistics.pstdev(gaps) / mean - 1) < 0.06
    assert all(a.at_s <= b.at_s for a, b in zip(calls, calls[1:], strict=False))


def test_tier_mix_and_known_numbers() -> None:
    known = customers(1)
    numbers = {c.number: c.tier for c in known}
    calls = plan_calls(TrafficProfile(hours=20, calls_per_hour=300), known, seed=4)
    for tier, share in TIER_MIX.items():
        seen = sum(1 for c in calls if c.tier is tier) / len(calls)
        assert abs(seen - share) < 0.02, tier
    for c in calls:
        if c.tier is not Tier.OTHER_NETWORK:
            assert numbers[c.caller_number] is c.tier


def test_talk_times_are_lognormal_around_the_median() -> None:
    calls = plan_calls(TrafficProfile(hours=20, calls_per_hour=300, talk_median_s=150, talk_sigma=0.6),
                       customers(1), seed=5)
    logs = [math.log(c.talk_s) for c in calls]
    assert abs(math.exp(statistics.median(logs)) - 150) < 8
    assert abs(statistics.pstdev(logs) - 0.6) < 0.03


def test_intents_follow_their_weights_and_the_seed_reproduces() -> None:
    intents = (Intent("a", "1,0", 3), Intent("b", "1,1", 1))
    profile = TrafficProfile(hours=10, calls_per_hour=400, intents=intents)
    calls = plan_calls(profile, customers(2), seed=9)
    share_a = sum(1 for c in calls if c.intent == "a") / len(calls)
    assert abs(share_a - 0.75) < 0.03
    assert calls == plan_calls(profile, customers(2), seed=9)
    assert calls != plan_calls(profile, customers(2), seed=10)


def test_agents_cover_every_queue() -> None:
    queues = ["billing", "complaints", "general", "vip"]
    staff = agents(20, queues, seed=1)
    assert len({a.extension for a in staff}) == 20
    for q in queues:
        assert any(q in a.skills for a in staff), q
    assert all(1 <= level <= 5 for a in staff for level in a.skills.values())
