"""The demo's population and traffic: customers, agents, and the calls of a day part.

Pure and seeded, so a demo run is reproducible and the figures can be reasoned about:
Poisson arrivals (exponential gaps), the seven customer tiers in the mix a Chinese carrier's
hotline sees, callers' patience (exponential: some abandon), lognormal talk times (the shape
measured in real contact centers: most calls short, a long tail), and what each caller wants
from the IVR as the digits they will press.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from acd.tiers import Tier

#: share of callers per tier (global VIPs are few; prepaid and standard contracts are most)
TIER_MIX: dict[Tier, float] = {
    Tier.GLOBAL_VIP: 0.03, Tier.ENTERPRISE: 0.07, Tier.LONG_DISTANCE_ROAMING: 0.08, Tier.STANDARD_CONTRACT: 0.32,
    Tier.PREPAID_BRAND: 0.15, Tier.PREPAID: 0.25, Tier.OTHER_NETWORK: 0.10,
}


@dataclass(frozen=True)
class Intent:
    """What a caller wants, as the digits they press, one chunk per prompt that asks."""

    name: str
    dtmf: str
    weight: float


@dataclass(frozen=True)
class TrafficProfile:
    hours: float = 1.0
    calls_per_hour: float = 300.0
    mean_patience_s: float = 180.0  # how long a caller waits in the queue before giving up (mean)
    talk_median_s: float = 150.0
    talk_sigma: float = 0.6  # of the lognormal's underlying normal
    repeat_caller_share: float = 0.15  # callers who are not in the CRM yet come from other networks
    intents: tuple[Intent, ...] = ()
    talk_distribution: str = "lognormal"  # or "exponential" (mean talk_median_s): Erlang C's premise
    tier_mix: tuple[tuple[Tier, float], ...] = tuple(TIER_MIX.items())


@dataclass(frozen=True)
class PlannedCall:
    at_s: float  # simulated seconds after the demo's start
    caller_number: str
    tier: Tier
    intent: str
    dtmf: str
    patience_s: float
    talk_s: float


@dataclass(frozen=True)
class DemoCustomer:
    customer_id: str
    name: str
    tier: Tier
    number: str


@dataclass(frozen=True)
class DemoAgent:
    agent_id: str
    extension: str
    skills: dict[str, int]
    languages: tuple[str, ...]
    answer_after_s: float
    no_answer_share: float = field(default=0.0)


def customers(seed: int, per_tier: int = 40) -> list[DemoCustomer]:
    """Known customers of every tier (other-network callers are mostly unknown numbers)."""
    rng = random.Random(seed)
    out: list[DemoCustomer] = []
    surnames = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu".split()
    for tier in Tier:
        for i in range(per_tier):
            number = f"13{rng.randint(5, 9)}{rng.randint(10_000_000, 99_999_999)}"
            out.append(DemoCustomer(f"C{int(tier)}{i:04d}", f"{rng.choice(surnames)} {tier.name.title()} {i}", tier, number))
    return out


def agents(count: int, queues: list[str], seed: int, languages: tuple[str, ...] = ("zh", "en")) -> list[DemoAgent]:
    """`count` agents; every agent serves the general queue, most have one or two specialties,
    a few senior ones serve the VIP queue. Extensions from 1001 up."""
    rng = random.Random(seed)
    out: list[DemoAgent] = []
    special = [q for q in queues if q not in ("general",)]
    for i in range(count):
        skills = {q: rng.randint(1, 3) for q in queues if q == "general"}
        for q in rng.sample(special, k=min(len(special), rng.choice((1, 2, 2, 3)))):
            skills[q] = rng.randint(2, 5)
        if "vip" in queues and i % 5 == 0:
            skills["vip"] = 5
        langs = languages if i % 3 else languages[:1]
        out.append(DemoAgent(f"agent{1001 + i}", str(1001 + i), skills, tuple(langs),
                             answer_after_s=round(rng.uniform(1.0, 4.0), 1)))
    return out


def plan_calls(profile: TrafficProfile, known: list[DemoCustomer], seed: int) -> list[PlannedCall]:
    """A Poisson stream of calls over `profile.hours`, in arrival order."""
    rng = random.Random(seed)
    rate_per_s = profile.calls_per_hour / 3600.0
    horizon = profile.hours * 3600.0
    by_tier: dict[Tier, list[DemoCustomer]] = {}
    for c in known:
        by_tier.setdefault(c.tier, []).append(c)
    if profile.talk_distribution not in ("lognormal", "exponential"):
        raise ValueError(f"talk_distribution must be lognormal or exponential, got {profile.talk_distribution!r}")
    tiers, weights = zip(*profile.tier_mix, strict=True)
    intents = profile.intents or (Intent("agent", "1,0", 1.0),)
    calls: list[PlannedCall] = []
    t = rng.expovariate(rate_per_s) if rate_per_s > 0 else horizon
    while t < horizon:
        tier = rng.choices(tiers, weights)[0]
        if tier is Tier.OTHER_NETWORK and rng.random() > profile.repeat_caller_share:
            number = f"1{rng.choice('357')}{rng.randint(100_000_000, 999_999_999)}"  # unknown: not in the CRM
        else:
            number = rng.choice(by_tier[tier]).number
        intent = rng.choices(intents, [i.weight for i in intents])[0]
        if profile.talk_distribution == "exponential":
            talk = rng.expovariate(1 / profile.talk_median_s)
        else:
            talk = math.exp(math.log(profile.talk_median_s) + profile.talk_sigma * rng.gauss(0, 1))
        calls.append(PlannedCall(round(t, 3), number, tier, intent.name, intent.dtmf,
                                 round(rng.expovariate(1 / profile.mean_patience_s), 1), round(talk, 1)))
        t += rng.expovariate(rate_per_s)
    return calls
