"""A seeded, realistic morning at a hotline, as CRM rows and agent activity changes (test data).

Not the demo (which goes through the switch and the router): this is a small FCFS queue
simulation used to give the reports a realistic CRM store to read, and the charts something
worth looking at. Arrivals are Poisson with a rate that ramps up and down by interval; tiers
follow a carrier's seven-tier mix; some callers are served by the IVR, some hang up (a few
within seconds: short abandons), some ask for a callback; agents answer in arrival order,
talk for a lognormal time, sometimes hold, wrap up, and each takes one 15-minute break.

FCFS with abandonment is simulated exactly by "virtual waiting time": a caller is answered
when the first agent frees up, unless their patience runs out first, in which case they leave
without using an agent.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

TIER_MIX = ((1, 0.03), (2, 0.07), (3, 0.15), (4, 0.35), (5, 0.20), (6, 0.12), (7, 0.08))
QUEUE_MIX = (("billing", 0.5), ("plans", 0.3), ("complaints", 0.2))


@dataclass
class Morning:
    contacts: list[dict] = field(default_factory=list)  # Contact column values
    activity: list[tuple[str, str, str, float]] = field(default_factory=list)  # tenant, agent, activity, at


def _pick(rng: random.Random, mix: tuple[tuple[object, float], ...]) -> object:
    x = rng.random() * sum(w for _, w in mix)
    for value, weight in mix:
        x -= weight
        if x <= 0:
            return value
    return mix[-1][0]


def simulate(start: float, *, hours: float = 2.0, agents: int = 14, seed: int = 7, tenant: str = "default",
             calls_per_hour: tuple[float, ...] = (180, 260, 340, 380, 320, 240, 200, 160)) -> Morning:
    """`calls_per_hour` gives the arrival rate of each 15-minute stretch (repeated if short)."""
    rng = random.Random(seed)
    end = start + hours * 3600
    morning = Morning()
    names = [f"10{i + 1:02d}" for i in range(agents)]
    free: list[tuple[float, str]] = [(start, a) for a in names]
    heapq.heapify(free)
    breaks = {a: start + 1200 + i * (hours * 3600 - 2400) / max(1, agents) for i, a in enumerate(names)}
    for a in names:
        morning.activity.append((tenant, a, "available", start))

    t = start
    number = 0
    while True:
        rate = calls_per_hour[int((t - start) // 900) % len(calls_per_hour)] / 3600
        t += rng.expovariate(rate)
        if t >= end:
            break
        number += 1
        ivr_s = rng.uniform(15, 45)
        started = t - ivr_s
        tier = _pick(rng, TIER_MIX)
        row = {"key": f"{number:08d}-0000-4000-8000-{seed:012d}", "tenant": tenant, "tier": tier,
               "started_at": started, "queue": "", "agent": ""}
        if rng.random() < 0.15:  # the IVR served the caller (balance, plan info)
            row.update(outcome="self-service", ended_at=t + rng.uniform(20, 90))
            row["started_at"] = t
            morning.contacts.append(row)
            continue
        queue = _pick(rng, QUEUE_MIX)
        patience = rng.uniform(0.5, 5) if rng.random() < 0.05 else rng.expovariate(1 / 150)
        callback_at = 60.0 if rng.random() < 0.04 else math.inf
        row.update(queue=queue, enqueued_at=t)
        free_at, agent = heapq.heappop(free)
        while free_at >= breaks[agent] or (t >= breaks[agent]):  # the agent's break comes first
            leave = max(free_at, breaks[agent])
            morning.activity.append((tenant, agent, "break", leave))
            morning.activity.append((tenant, agent, "available", leave + 900))
            breaks[agent] = math.inf
            heapq.heappush(free, (leave + 900, agent))
            free_at, agent = heapq.heappop(free)
        wait = max(0.0, free_at - t)
        if wait > min(patience, callback_at):
            heapq.heappush(free, (free_at, agent))
            if callback_at < patience:
                row.update(outcome="callback", wait_s=callback_at, ended_at=t + callback_at + 20)
            else:
                row.update(outcome="abandoned" if patience >= 5 else "short-abandoned", wait_s=patience,
                           abandoned_at=t + patience, ended_at=t + patience)
            morning.contacts.append(row)
            continue
        talk = rng.lognormvariate(math.log(150), 0.6)
        hold = rng.uniform(10, 60) if rng.random() < 0.2 else 0.0
        acw = rng.uniform(15, 45)
        answered = t + wait
        row.update(outcome="answered", agent=agent, wait_s=wait, agent_answered_at=answered, talk_s=talk,
                   hold_s=hold, acw_s=acw, ended_at=answered + talk + hold, wrapup_end_at=answered + talk + hold + acw)
        heapq.heappush(free, (answered + talk + hold + acw, agent))
        morning.contacts.append(row)
    for a in names:
        morning.activity.append((tenant, a, "offline", end))
    morning.activity.sort(key=lambda item: item[3])
    return morning
