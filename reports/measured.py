"""What one queue actually delivered over a window, in Erlang C's terms, with error bars. Pure.

For checking the model against the machine: Erlang C predicts P(wait), ASA and SL(T) from
the arrival rate, the mean handle time and the staffing; `measure_queue` reads the same four
figures off the contacts, plus the inputs to feed the model (arrival rate, mean handle time).

Why error bars: waits in a queue are strongly correlated (one long call delays everyone
behind it), so the naive binomial error of a measured service level is far too narrow. The
half-widths here come from batch means: the window is cut into `batches` equal stretches by
time offered, each stretch gives one estimate, and the spread of those estimates (Student's t,
95 %) bounds the mean. A test that asserts `|measured - predicted| <= half_width + model
slack` is then a statement about the system, not about luck.

How wide in practice (exact M/M/N simulations, 20 seeds each): 4 Erlangs on 6 agents with a
30 s AHT, 4 simulated hours, SL(10 s) predicted 85.4 %: median half-width 6.6 points, and the
measured SL fell outside its own half-width for 2 seeds in 20 (short batches are correlated,
so the interval is a little optimistic: budget 1.5 x half-width). 48 Erlangs on 55 agents,
AHT 240 s, 40 hours: about 5 points. Short handle times buy precision per wall-clock second.

Definitions match Erlang C's, which assume nobody abandons: ASA and SL(T) are over answered
contacts (`wait_s <= T` is within), P(wait) is the share of answered contacts that waited more
than `waited_over_s`. Abandons, if any, are counted so a caller can see the premise failed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reports.facts import ContactFacts, Outcome

__all__ = ["MeasuredService", "measure_queue"]

#: two-sided 95 % Student t quantiles by degrees of freedom (1..30); 1.96 beyond
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclass(frozen=True)
class MeasuredService:
    """Measured figures of one queue over [start, end). Fractions 0..1, times in seconds.

    A figure is None when nothing was answered; a half-width is None when fewer than two
    batches had answered contacts.
    """

    queue: str | None  # None: every queue
    start: float
    end: float
    threshold_s: float
    offered: int
    answered: int
    abandoned: int  # any abandon, short or not: Erlang C assumes there are none
    arrival_rate_per_s: float  # offered / window length: the model's lambda
    aht_s: float | None  # mean talk + hold + ACW of answered contacts: the model's 1/mu
    asa_s: float | None
    service_level: float | None  # answered within threshold_s / answered
    p_wait: float | None  # answered that waited more than waited_over_s / answered
    asa_half_width_s: float | None
    service_level_half_width: float | None
    batches_used: int

    @property
    def traffic_erlangs(self) -> float | None:
        """Offered load A = lambda x AHT, for `reports.erlang`."""
        return None if self.aht_s is None else self.arrival_rate_per_s * self.aht_s


def _half_width(values: Sequence[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return t * math.sqrt(variance / n)


def measure_queue(
    contacts: Iterable[ContactFacts],
    *,
    queue: str | None,
    start: float,
    end: float,
    threshold_s: float = 20.0,
    waited_over_s: float = 0.0,
    tenant: str | None = None,
    batches: int = 10,
) -> MeasuredService:
    """ASA, SL(threshold_s), P(wait) and the model inputs for `queue`, from contacts offered in
    [start, end) (of `tenant`, or any). `queue=None` pools every queued contact (one agent pool
    serving all queues). Discard a warm-up by starting the window after it."""
    if end <= start:
        raise ValueError(f"the window must end after it starts ({start} >= {end})")
    if batches < 1:
        raise ValueError(f"need at least one batch, got {batches}")
    chosen = [c for c in contacts if (c.queue == queue if queue is not None else c.queue is not None)
              and start <= c.offered_at < end
              and (tenant is None or c.tenant == tenant)]
    answered = [c for c in chosen if c.outcome is Outcome.ANSWERED]
    abandoned = sum(1 for c in chosen if c.outcome in (Outcome.ABANDONED, Outcome.SHORT_ABANDONED))

    def figures(group: Sequence[ContactFacts]) -> tuple[float, float, float]:
        n = len(group)
        return (sum(c.wait_s for c in group) / n,
                sum(1 for c in group if c.wait_s <= threshold_s) / n,
                sum(1 for c in group if c.wait_s > waited_over_s) / n)

    width = (end - start) / batches
    per_batch: list[list[ContactFacts]] = [[] for _ in range(batches)]
    for c in answered:
        per_batch[min(batches - 1, int((c.offered_at - start) // width))].append(c)
    batch_figures = [figures(group) for group in per_batch if group]
    asa = sl = p_wait = None
    if answered:
        asa, sl, p_wait = figures(answered)
    return MeasuredService(
        queue=queue, start=start, end=end, threshold_s=threshold_s,
        offered=len(chosen), answered=len(answered), abandoned=abandoned,
        arrival_rate_per_s=len(chosen) / (end - start),
        aht_s=sum(c.handle_s for c in answered) / len(answered) if answered else None,
        asa_s=asa, service_level=sl, p_wait=p_wait,
        asa_half_width_s=_half_width([f[0] for f in batch_figures]),
        service_level_half_width=_half_width([f[1] for f in batch_figures]),
        batches_used=len(batch_figures),
    )
