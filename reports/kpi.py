"""Contact-center KPIs by the industry's definitions, per queue, tier, agent and interval. Pure.

The rules, each a choice a manager must be able to look up:

- A contact belongs to the interval in which it was offered (`offered_at`), however long it
  lasts: a call offered at 09:14:50 and answered at 09:15:30 counts in 09:00-09:15. Agent
  state time, by contrast, is split at interval boundaries (occupancy is about time).
- "Within T" means wait <= T: a call answered or abandoned at exactly 20.0 s meets 80/20.
- A short abandon is an abandon after less than `short_abandon_s` of waiting (strictly less;
  0 turns the rule off). Both `abandoned` and `short-abandoned` outcomes are re-decided here
  from `wait_s`: crm_sync labels short abandons with the threshold in force at sync time, and
  a manager who changes `reports.short_abandon_s` must see it in the next report without
  re-syncing. Short abandons are removed from both sides of every rate (abandonment and all
  four service levels) and reported apart (`short_abandoned`, `short_abandon_rate`).
- Service level comes in the four variants of `ServiceLevelVariant`; `service_level` is the
  configured one (default `abandons-ignored`, see reports/config.py for why).
- ASA averages the wait of answered contacts only. AHT averages talk + hold + ACW of answered
  contacts; ACW, talk and hold averages are over the same contacts.
- Abandonment rate = abandoned / (answered + abandoned), short abandons excluded from both;
  short-abandon rate = short / (answered + abandoned + short). Callbacks, voicemail,
  self-service, transfers and failures are counted, and are in neither rate.
- Occupancy = (busy + wrap-up) / (available + reserved + busy + wrap-up) agent time; breaks and
  offline time are not staffed time. It exists for the whole center and per agent; a queue or
  a tier has no agent time of its own, so their occupancy is None.
- A ratio with an empty denominator is None (shown as "-"), never 0: an interval with no
  answered calls has no ASA, it does not have an ASA of 0 s.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reports.config import ReportSettings, ServiceLevelVariant
from reports.facts import (
    HANDLING_STATES,
    STAFFED_STATES,
    AgentState,
    AgentStateSpan,
    ContactFacts,
    Outcome,
)

__all__ = [
    "ALL",
    "DIMENSIONS",
    "AgentState",
    "AgentStateSpan",
    "ContactFacts",
    "Kpis",
    "Outcome",
    "ServiceLevelVariant",
    "compute_kpis",
    "interval_start",
    "interval_starts",
    "occupancy",
    "summarize",
]

#: the dimensions a report can be cut by; "all" is the whole tenant
ALL = "all"
DIMENSIONS = (ALL, "queue", "tier", "agent")
NONE_KEY = "-"  # the key of contacts with no queue / tier / agent


@dataclass(frozen=True)
class Kpis:
    """Every KPI of one group of contacts (one tenant x dimension key x interval).

    `interval_start` is None for the row that totals the whole period. Rates and service
    levels are fractions 0..1, durations seconds; None where the denominator is empty.
    """

    tenant: str
    dimension: str
    key: str
    interval_start: float | None
    interval_s: int
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    callbacks: int
    voicemail: int
    self_service: int
    transferred: int
    failed: int
    answered_within_t: int
    abandoned_within_t: int
    sl_answered: float | None
    sl_abandons_negative: float | None
    sl_abandons_met: float | None
    sl_abandons_ignored: float | None
    service_level: float | None
    service_level_variant: ServiceLevelVariant
    asa_s: float | None
    aht_s: float | None
    avg_talk_s: float | None
    avg_hold_s: float | None
    avg_acw_s: float | None
    max_wait_s: float | None
    abandon_rate: float | None
    short_abandon_rate: float | None
    occupancy: float | None

    def service_level_of(self, variant: ServiceLevelVariant) -> float | None:
        return {
            ServiceLevelVariant.ANSWERED: self.sl_answered,
            ServiceLevelVariant.ABANDONS_NEGATIVE: self.sl_abandons_negative,
            ServiceLevelVariant.ABANDONS_MET: self.sl_abandons_met,
            ServiceLevelVariant.ABANDONS_IGNORED: self.sl_abandons_ignored,
        }[variant]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


ABANDON_OUTCOMES = frozenset({Outcome.ABANDONED, Outcome.SHORT_ABANDONED})


def is_short_abandon(contact: ContactFacts, short_abandon_s: float) -> bool:
    """An abandon too quick to count (wait strictly below the threshold), whatever its label."""
    return contact.outcome in ABANDON_OUTCOMES and contact.wait_s < short_abandon_s


def service_levels(answered: int, answered_within_t: int, abandoned: int, abandoned_within_t: int) -> dict[ServiceLevelVariant, float | None]:
    """The four formulas over counts that already exclude short abandons."""
    return {
        ServiceLevelVariant.ANSWERED: _ratio(answered_within_t, answered),
        ServiceLevelVariant.ABANDONS_NEGATIVE: _ratio(answered_within_t, answered + abandoned),
        ServiceLevelVariant.ABANDONS_MET: _ratio(answered_within_t + abandoned_within_t, answered + abandoned),
        ServiceLevelVariant.ABANDONS_IGNORED: _ratio(answered_within_t, answered + abandoned - abandoned_within_t),
    }


def occupancy(spans: Iterable[AgentStateSpan], start: float, end: float) -> float | None:
    """Handling time over staffed time of the spans, clipped to [start, end)."""
    handling = staffed = 0.0
    for span in spans:
        seconds = span.overlap_s(start, end)
        if span.state in STAFFED_STATES:
            staffed += seconds
        if span.state in HANDLING_STATES:
            handling += seconds
    return _ratio(handling, staffed)


def summarize(
    contacts: Sequence[ContactFacts],
    rules: ReportSettings,
    *,
    tenant: str = "",
    dimension: str = ALL,
    key: str = ALL,
    interval_start: float | None = None,
    interval_s: int = 0,
    occupancy_value: float | None = None,
) -> Kpis:
    """The KPIs of one group of contacts (the caller decides the grouping)."""
    threshold_s = rules.service_level_threshold_s
    counts: dict[Outcome, int] = defaultdict(int)
    answered: list[ContactFacts] = []
    answered_within_t = abandoned = abandoned_within_t = short = 0
    for contact in contacts:
        if contact.outcome in ABANDON_OUTCOMES:
            if is_short_abandon(contact, rules.short_abandon_s):
                short += 1
            else:
                abandoned += 1
                abandoned_within_t += contact.wait_s <= threshold_s
            continue
        counts[contact.outcome] += 1
        if contact.outcome is Outcome.ANSWERED:
            answered.append(contact)
            answered_within_t += contact.wait_s <= threshold_s
    levels = service_levels(len(answered), answered_within_t, abandoned, abandoned_within_t)
    waits = [c.wait_s for c in contacts if c.outcome is Outcome.ANSWERED or c.outcome in ABANDON_OUTCOMES]
    return Kpis(
        tenant=tenant,
        dimension=dimension,
        key=key,
        interval_start=interval_start,
        interval_s=interval_s,
        offered=len(contacts),
        answered=len(answered),
        abandoned=abandoned,
        short_abandoned=short,
        callbacks=counts[Outcome.CALLBACK],
        voicemail=counts[Outcome.VOICEMAIL],
        self_service=counts[Outcome.SELF_SERVICE],
        transferred=counts[Outcome.TRANSFERRED],
        failed=counts[Outcome.FAILED],
        answered_within_t=answered_within_t,
        abandoned_within_t=abandoned_within_t,
        sl_answered=levels[ServiceLevelVariant.ANSWERED],
        sl_abandons_negative=levels[ServiceLevelVariant.ABANDONS_NEGATIVE],
        sl_abandons_met=levels[ServiceLevelVariant.ABANDONS_MET],
        sl_abandons_ignored=levels[ServiceLevelVariant.ABANDONS_IGNORED],
        service_level=levels[rules.service_level_variant],
        service_level_variant=rules.service_level_variant,
        asa_s=_mean([c.wait_s for c in answered]),
        aht_s=_mean([c.handle_s for c in answered]),
        avg_talk_s=_mean([c.talk_s for c in answered]),
        avg_hold_s=_mean([c.hold_s for c in answered]),
        avg_acw_s=_mean([c.acw_s for c in answered]),
        max_wait_s=max(waits) if waits else None,
        abandon_rate=_ratio(abandoned, len(answered) + abandoned),
        short_abandon_rate=_ratio(short, len(answered) + abandoned + short),
        occupancy=occupancy_value,
    )


def check_interval_s(interval_s: int) -> int:
    if interval_s <= 0 or interval_s % 60 or 86400 % interval_s:
        raise ValueError(f"an interval must be whole minutes that divide a day (15m, 30m, 60m), got {interval_s} s")
    return interval_s


def interval_start(t: float, interval_s: int, tz: ZoneInfo | None = None) -> float:
    """The start of the interval holding `t`, aligned to local midnight in `tz` (UTC if None)."""
    local = datetime.fromtimestamp(t, tz or ZoneInfo("UTC"))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    seconds_into_day = (local - midnight).total_seconds()
    return (midnight + timedelta(seconds=(seconds_into_day // interval_s) * interval_s)).timestamp()


def interval_starts(start: float, end: float, interval_s: int, tz: ZoneInfo | None = None) -> list[float]:
    """Every interval start from the one holding `start` up to (not including) `end`."""
    first = interval_start(start, interval_s, tz)
    count = max(0, int(-(-(end - first) // interval_s)))
    return [first + i * interval_s for i in range(count)]


def _key(contact: ContactFacts, dimension: str) -> str:
    if dimension == ALL:
        return ALL
    value = {"queue": contact.queue, "tier": contact.tier, "agent": contact.agent}[dimension]
    return NONE_KEY if value is None or value == "" else str(value)


def _sort_key(key: str) -> tuple[int, str]:
    return (1, key) if key == NONE_KEY else (0, key.zfill(8) if key.isdigit() else key)


def compute_kpis(
    contacts: Iterable[ContactFacts],
    spans: Iterable[AgentStateSpan] = (),
    *,
    rules: ReportSettings,
    interval_s: int,
    start: float | None = None,
    end: float | None = None,
    tz: ZoneInfo | None = None,
    dimensions: Sequence[str] = DIMENSIONS,
    totals: bool = True,
) -> list[Kpis]:
    """KPI rows per tenant x dimension x key x interval, plus a whole-period total per key.

    Contacts offered outside [start, end) are left out. With `start`/`end` given, the "all"
    dimension has a row for every interval in between, empty ones included (a quiet interval
    is a fact worth seeing); other dimensions list only the intervals where a key had contacts.
    Rows come sorted by tenant, dimension (in `dimensions` order), key, interval (total last).
    """
    check_interval_s(interval_s)
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown report dimension(s) {', '.join(unknown)}: expected some of {', '.join(DIMENSIONS)}")
    rows_in = [c for c in contacts if (start is None or c.offered_at >= start) and (end is None or c.offered_at < end)]
    spans_in = list(spans)
    if not rows_in and (start is None or end is None):
        return []
    lo = start if start is not None else min(c.offered_at for c in rows_in)
    hi = end if end is not None else max(c.offered_at for c in rows_in) + 1e-6
    all_starts = interval_starts(lo, hi, interval_s, tz)

    tenants = sorted({c.tenant for c in rows_in} | {s.tenant for s in spans_in})
    # one pass over contacts and spans: (tenant, dimension, key) -> interval start -> contacts / agent time
    groups: dict[tuple[str, str, str], dict[float, list[ContactFacts]]] = defaultdict(lambda: defaultdict(list))
    bucket_of = _bucket_cache(interval_s, tz)
    for contact in rows_in:
        bucket = bucket_of(contact.offered_at)
        for dimension in dimensions:
            groups[(contact.tenant, dimension, _key(contact, dimension))][bucket].append(contact)
    agent_time: dict[tuple[str, str, str], dict[float, list[float]]] = defaultdict(dict)
    for span in spans_in:
        _add_agent_time((agent_time[(span.tenant, ALL, ALL)], agent_time[(span.tenant, "agent", span.agent)]),
                        span, all_starts, interval_s)

    out: list[Kpis] = []
    for tenant in tenants:
        for dimension in dimensions:
            keys = {k for (t, d, k) in groups if t == tenant and d == dimension}
            if dimension == "agent":  # an agent who was staffed but took nothing is still on the report
                keys |= {a for (t, d, a) in agent_time if t == tenant and d == "agent"}
            for key in [ALL] if dimension == ALL else sorted(keys, key=_sort_key):
                own = groups.get((tenant, dimension, key), {})
                times = agent_time.get((tenant, dimension, key)) if dimension in (ALL, "agent") else None
                if dimension == ALL:
                    starts = all_starts
                else:
                    starts = sorted(set(own) | {b for b, (_, staffed) in (times or {}).items() if staffed})
                everything: list[ContactFacts] = []
                for bucket in starts:
                    members = own.get(bucket, [])
                    everything.extend(members)
                    occ = _occupancy_of(times, [bucket])
                    out.append(summarize(members, rules, tenant=tenant, dimension=dimension, key=key,
                                         interval_start=bucket, interval_s=interval_s, occupancy_value=occ))
                if totals:
                    occ = _occupancy_of(times, all_starts)
                    out.append(summarize(everything, rules, tenant=tenant, dimension=dimension, key=key,
                                         interval_start=None, interval_s=interval_s, occupancy_value=occ))
    return out


def _add_agent_time(owners: Sequence[dict[float, list[float]]], span: AgentStateSpan, starts: Sequence[float],
                    interval_s: int) -> None:
    """Add the span's handling and staffed seconds to each interval it overlaps (O(intervals it spans)),
    for each owner (the whole center and the agent)."""
    handling = span.state in HANDLING_STATES
    staffed = span.state in STAFFED_STATES
    if not starts or not (handling or staffed):
        return
    first = starts[0]
    lo = max(0, int((span.start - first) // interval_s))
    hi = min(len(starts) - 1, int((span.end - first) // interval_s))
    for index in range(lo, hi + 1):
        bucket = starts[index]
        seconds = min(span.end, bucket + interval_s) - max(span.start, bucket)
        if seconds <= 0:
            continue
        for into in owners:
            totals = into.get(bucket)
            if totals is None:
                totals = into[bucket] = [0.0, 0.0]
            if handling:
                totals[0] += seconds
            if staffed:
                totals[1] += seconds


def _bucket_cache(interval_s: int, tz: ZoneInfo | None) -> Callable[[float], float]:
    """`interval_start` memoized per UTC slot of gcd(interval, 15 min) seconds.

    Every UTC offset in use since the 1970s is a whole number of 15-minute steps (Nepal's
    +05:45 too), and offset changes happen on such boundaries, so all instants of one slot share an
    interval: one datetime conversion per slot instead of one per contact.
    """
    slot_s = math.gcd(interval_s, 900)
    cache: dict[int, float] = {}

    def bucket(t: float) -> float:
        slot = int(t // slot_s)
        found = cache.get(slot)
        if found is None:
            found = cache[slot] = interval_start(slot * slot_s, interval_s, tz)
        return found

    return bucket


def _occupancy_of(times: dict[float, list[float]] | None, buckets: Sequence[float]) -> float | None:
    if times is None:
        return None
    handling = sum(times[b][0] for b in buckets if b in times)
    staffed = sum(times[b][1] for b in buckets if b in times)
    return _ratio(handling, staffed)
