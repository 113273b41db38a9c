"""Report figures: ours beside a peer measured in the same run on the same machine.

    python bench/reports_bench.py [--contacts 40000] [--agents 200] [--traffic 5000]

1. Erlang C staffing search: `required_agents` (one pass of the Erlang B recurrence) beside the
   textbook search that evaluates Erlang C afresh for every N (here in log space with lgamma,
   the usual way to avoid the factorial overflow; a naive factorial version cannot reach
   N > 170 at all). Same answer checked.
2. KPIs for a day: `compute_kpis` (every figure, four cuts, 15-minute intervals, occupancy
   from agent spans) beside SQLite computing a subset itself with one GROUP BY (offered,
   answered, abandoned, ASA and SL per queue x interval) over the same rows in memory: the
   "let the database do it" baseline. Ours computes far more; the ratio says what it costs.
3. Reading the CRM store: `read_contacts` rows/s from a SQLite file built with crm_sync's models.

The last line is machine-readable:
staffing_ratio=.. kpi_rows_per_s=.. sql_rows_per_s=.. kpi_vs_sql=.. read_rows_per_s=..
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from reports import erlang  # noqa: E402
from reports.config import ReportSettings  # noqa: E402
from reports.facts import AgentState, AgentStateSpan, ContactFacts, Outcome  # noqa: E402
from reports.kpi import compute_kpis  # noqa: E402

T0 = 1795363200.0  # 2026-11-23 00:00 Asia/Shanghai
DAY = 86400.0


def _best(fn, repeat: int = 3) -> tuple[float, object]:
    best, value = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def _log_erlang_c(traffic: float, agents: int) -> float:
    logs = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents)]
    log_top = agents * math.log(traffic) - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    peak = max(max(logs), log_top)
    total = sum(math.exp(v - peak) for v in logs) + math.exp(log_top - peak)
    return math.exp(log_top - peak) / total


def _textbook_required(traffic: float, aht_s: float, threshold_s: float, target: float) -> int:
    n = math.floor(traffic) + 1
    while True:
        sl = 1 - _log_erlang_c(traffic, n) * math.exp(-(n - traffic) * threshold_s / aht_s)
        if sl >= target:
            return n
        n += 1


def bench_staffing(traffic: float) -> float:
    ours_s, ours = _best(lambda: erlang.required_agents(traffic, 240, 20, 0.8).agents)
    peer_s, peer = _best(lambda: _textbook_required(traffic, 240, 20, 0.8), repeat=1)
    assert ours == peer, (ours, peer)
    print(f"staffing for {traffic:g} Erlangs -> {ours} agents: ours {ours_s * 1000:.2f} ms, "
          f"textbook per-N log-space search {peer_s * 1000:.1f} ms ({peer_s / ours_s:.0f}x)")
    return peer_s / ours_s


def make_day(contacts: int, agents: int, seed: int = 1) -> tuple[list[ContactFacts], list[AgentStateSpan]]:
    rng = random.Random(seed)
    queues = ("billing", "plans", "complaints", "roaming")
    facts = []
    for i in range(contacts):
        at = T0 + rng.random() * DAY
        outcome = rng.choices((Outcome.ANSWERED, Outcome.ABANDONED, Outcome.SELF_SERVICE, Outcome.CALLBACK),
                              (80, 10, 8, 2))[0]
        answered = outcome is Outcome.ANSWERED
        facts.append(ContactFacts(
            tenant="default", queue=None if outcome is Outcome.SELF_SERVICE else rng.choice(queues),
            tier=rng.randint(1, 7), agent=f"{rng.randint(1, agents):04d}" if answered else None, channel="voice",
            offered_at=at, answered_at=None, abandoned_at=None, ended_at=None, wait_s=rng.expovariate(1 / 25),
            talk_s=rng.lognormvariate(5, 0.6) if answered else 0.0, hold_s=0.0, acw_s=30.0 if answered else 0.0,
            outcome=outcome, contact_id=str(i)))
    spans = []
    states = (AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP, AgentState.BREAK)
    for a in range(agents):
        t = T0 + 8 * 3600
        while t < T0 + 18 * 3600:
            length = rng.expovariate(1 / 240)
            spans.append(AgentStateSpan("default", f"{a + 1:04d}", rng.choice(states), t, t + length))
            t += length
    return facts, spans


def bench_kpis(facts: list[ContactFacts], spans: list[AgentStateSpan]) -> tuple[float, float]:
    rules = ReportSettings()
    ours_s, rows = _best(lambda: compute_kpis(facts, spans, rules=rules, interval_s=900, start=T0, end=T0 + DAY), repeat=1)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE c (queue TEXT, offered_at REAL, outcome TEXT, wait_s REAL)")
    db.executemany("INSERT INTO c VALUES (?, ?, ?, ?)", [(f.queue, f.offered_at, f.outcome.value, f.wait_s) for f in facts])
    sql = """SELECT queue, CAST((offered_at - ?) / 900 AS INTEGER) AS bucket, COUNT(*),
                    SUM(outcome = 'answered'), SUM(outcome = 'abandoned' AND wait_s >= 5),
                    AVG(CASE WHEN outcome = 'answered' THEN wait_s END),
                    1.0 * SUM(outcome = 'answered' AND wait_s <= 20) / NULLIF(SUM(outcome = 'answered'), 0)
             FROM c GROUP BY queue, bucket"""
    peer_s, _ = _best(lambda: db.execute(sql, (T0,)).fetchall())
    print(f"KPIs for a day of {len(facts)} contacts, {len(spans)} agent spans -> {len(rows)} rows: ours {ours_s:.2f} s "
          f"({len(facts) / ours_s:,.0f} contacts/s); SQLite GROUP BY subset {peer_s * 1000:.0f} ms "
          f"({len(facts) / peer_s:,.0f} contacts/s)")
    return len(facts) / ours_s, len(facts) / peer_s


def bench_read(facts: list[ContactFacts]) -> float:
    from crm_sync.models import Contact, open_database
    from reports.source import read_contacts

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'crm.sqlite3'}")
        with db.bind_ctx([Contact]), db.atomic():
            for f in facts:
                Contact.insert(key=f.contact_id, tenant=f.tenant, channel="voice", direction="inbound", ani="1", dnis="2",
                               queue=f.queue or "", agent=f.agent or "", tier=f.tier, started_at=f.offered_at - 30,
                               enqueued_at=f.offered_at, ended_at=f.offered_at + 100, wait_s=f.wait_s, talk_s=f.talk_s,
                               acw_s=f.acw_s, outcome=f.outcome.value).execute()
        seconds, rows = _best(lambda: read_contacts(db, T0, T0 + DAY))
        db.close()
    print(f"read_contacts from SQLite: {len(rows)} rows in {seconds:.2f} s ({len(rows) / seconds:,.0f} rows/s)")
    return len(rows) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=40_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--traffic", type=float, default=5000.0, help="Erlangs for the staffing search")
    args = parser.parse_args()
    staffing_ratio = bench_staffing(args.traffic)
    facts, spans = make_day(args.contacts, args.agents)
    ours, sql = bench_kpis(facts, spans)
    read = bench_read(facts)
    print(f"staffing_ratio={staffing_ratio:.1f} kpi_rows_per_s={ours:.0f} sql_rows_per_s={sql:.0f} "
          f"kpi_vs_sql={ours / sql:.3f} read_rows_per_s={read:.0f}")


if __name__ == "__main__":
    main()
