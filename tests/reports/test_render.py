"""The demo's entry points (reports.render.kpi_table / write_report) over a realistic CRM store."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from reports.config import ReportSettings
from reports.kpi import compute_kpis
from reports.render import ReportPaths, kpi_table, load_report, write_report
from reports.source import ActivityLogWriter, ReportSourceError, read_activity_log

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = 1795395600.0  # 09:00 Asia/Shanghai, the simulated morning's start
END = START + 2 * 3600


def _expected(morning):
    """The KPIs computed straight from the simulation's own records, not through the store."""
    from reports.agent_states import ActivityChange, build_spans
    from reports.facts import ContactFacts, Outcome

    data, _ = morning
    facts = [ContactFacts(tenant=r["tenant"], queue=r["queue"] or None, tier=r["tier"], agent=r["agent"] or None,
                          channel="voice", offered_at=r.get("enqueued_at", r["started_at"]),
                          answered_at=r.get("agent_answered_at"), abandoned_at=r.get("abandoned_at"),
                          ended_at=r["ended_at"], wait_s=r.get("wait_s", 0.0), talk_s=r.get("talk_s", 0.0),
                          hold_s=r.get("hold_s", 0.0), acw_s=r.get("acw_s", 0.0), outcome=Outcome.parse(r["outcome"]),
                          contact_id=r["key"]) for r in data.contacts]
    changes = [ActivityChange(*a) for a in data.activity]
    spans = build_spans(changes, facts, END)
    return compute_kpis(facts, spans, rules=ReportSettings(), interval_s=900, start=START, end=END, tz=SHANGHAI)


@pytest.mark.pg_times
def test_load_report_equals_the_kpis_of_the_simulation(crm_db, morning):
    data, log = morning
    report = load_report(crm_db, start=START, end=END, interval_s=900, tz="Asia/Shanghai", agent_log=log)
    assert len(report.contacts) == len(data.contacts)
    assert list(report.rows) == _expected(morning)
    whole = [r for r in report.rows if r.dimension == "all" and r.interval_start is None][0]
    assert whole.offered == len(data.contacts)
    assert whole.answered == sum(1 for r in data.contacts if r["outcome"] == "answered")
    assert 0.3 < whole.occupancy < 1.0  # agents were staffed and busy part of the time


@pytest.mark.pg_times
def test_kpi_table_has_intervals_for_the_center_and_totals_for_the_cuts(crm_db, morning):
    _, log = morning
    text = kpi_table(crm_db, start=START, end=END, interval_s=900, tz="Asia/Shanghai", agent_log=log)
    lines = text.splitlines()
    assert lines[0].startswith("service level: abandons-ignored, target 80% within 20 s")
    assert "15-minute intervals in Asia/Shanghai" in lines[0]
    center = [line for line in lines if line.startswith("all ")]
    assert len(center) == 8 + 1  # eight 15-minute intervals 09:00-11:00 local, and the total
    assert "09:00" in center[0] and "10:45" in center[7] and "total" in center[8]
    for line in center:  # offered = answered + abandoned + short + callback + self-service + other
        cells = line.split()
        assert int(cells[-13]) == sum(int(v) for v in cells[-12:-6]), line
    for cut in ("queue", "tier", "agent"):
        rows = [line for line in lines if line.startswith(cut + " ")]
        assert rows and all("total" in line for line in rows), cut
    assert {line.split()[1] for line in lines if line.startswith("queue ")} == {"billing", "complaints", "plans", "-"}
    # the total line agrees with the full computation
    total = next(r for r in _expected(morning) if r.dimension == "all" and r.interval_start is None)
    assert center[8].split()[3:6] == [str(total.offered), str(total.answered), str(total.abandoned)]
    assert f"{total.service_level * 100:.1f}" in center[8].split()


def test_write_report_writes_page_charts_and_data(crm_db, morning, tmp_path):
    _, log = morning
    out = tmp_path / "demo-out"
    paths = write_report(crm_db, out, start=START, end=END, interval_s=1800, tz="Asia/Shanghai",
                         title="fscc demo: 10086 hotline", agent_log=log)
    assert isinstance(paths, ReportPaths) and paths.out_dir == out and paths.html == out / "report.html"
    assert [p.name for p in paths.plots.values()] == ["volume.png", "service_level.png", "wait_times.png",
                                                      "agent_states.png"]
    for png in paths.plots.values():
        data = png.read_bytes()
        assert png.parent == out and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    page = paths.html.read_text(encoding="utf-8")
    rows = json.loads(paths.json.read_text(encoding="utf-8"))["rows"]
    assert "<title>fscc demo: 10086 hotline</title>" in page
    assert page.count("<img ") == 4
    order = [page.index(f"<h2>{h}</h2>") for h in ("Whole center", "Charts", "By queue", "By tier", "By agent")]
    assert order == sorted(order)  # headline table, charts, then the detail
    assert "<h3>Service level within 20 s by definition (%)</h3>" in page
    assert "<th>abandons-ignored (headline)</th>" in page and "<th>abandons-met</th>" in page
    total = next(r for r in rows if r["dimension"] == "all" and r["interval"] == "total")
    cells = "".join(f"<td>{total[k] * 100:.1f}</td>" for k in ("sl_answered", "sl_abandons_negative", "sl_abandons_met",
                                                               "sl_abandons_ignored"))
    assert f'<tr class="total"><td class="text">total</td>{cells}</tr>' in page
    center = [r for r in rows if r["dimension"] == "all" and r["interval"] != "total"]
    assert [r["interval"][-5:] for r in center] == ["09:00", "09:30", "10:00", "10:30"]  # 30-minute intervals
    assert paths.csv.read_text(encoding="utf-8").splitlines()[0].startswith("interval,tenant,dimension,key")


@pytest.mark.parametrize("crm_db_url", ["sqlite"], indirect=True)  # backend-independent; charts are slow to draw
def test_without_an_activity_log_occupancy_is_unknown(crm_db, morning, tmp_path):
    report = load_report(crm_db, start=START, end=END, tz=SHANGHAI)
    assert report.spans == ()
    assert all(r.occupancy is None for r in report.rows)  # not 100 %: idle time was never recorded
    paths = write_report(crm_db, tmp_path / "out", start=START, end=END, tz=SHANGHAI)
    assert paths.plots["Agent states over time"].stat().st_size > 5_000


def test_database_url_and_tenant_filter(crm_db_url, morning, add, tmp_path):
    add(tenant="acme", started_at=START + 100, outcome="self-service")
    with pytest.raises(ValueError, match="several tenants"):
        write_report(crm_db_url, tmp_path / "mixed", start=START, end=END)
    paths = write_report(crm_db_url, tmp_path / "one", start=START, end=END, tenant="default")
    assert paths.html.exists()
    text = kpi_table(crm_db_url, start=START, end=END, tenant="acme", dimensions=("all",))
    total = next(line for line in text.splitlines() if "total" in line)
    assert total.split()[3] == "1"  # offered: the one acme contact


def test_bad_arguments(crm_db):
    with pytest.raises(ReportSourceError, match="unknown timezone 'Mars/Olympus'"):
        kpi_table(crm_db, start=START, end=END, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="must end after it starts"):
        kpi_table(crm_db, start=END, end=START)
    with pytest.raises(ValueError, match="divide a day"):
        kpi_table(crm_db, start=START, end=END, interval_s=420)


def test_activity_log_writer_round_trips_and_refuses_unknown_activities(tmp_path):
    path = tmp_path / "logs" / "agents.jsonl"
    with ActivityLogWriter(path) as writer:
        writer.record("hotline", "1001", "available", START)
        writer.record("hotline", 1002, "wrap-up", START + 1.5)
        with pytest.raises(ValueError, match="unknown agent state 'dancing'"):
            writer.record("hotline", "1001", "dancing", START + 2)
    with ActivityLogWriter(path) as writer:  # appends
        writer.record("hotline", "1001", "offline", START + 3)
    assert [(c.agent, c.activity, c.at - START) for c in read_activity_log(path)] == [
        ("1001", "available", 0.0), ("1002", "wrap-up", 1.5), ("1001", "offline", 3.0)]


@pytest.mark.pg_times
def test_acw_and_aht_come_from_the_activity_log_when_the_cdr_has_none(crm_db, add, tmp_path):
    add(key="k1", started_at=START, enqueued_at=START + 20, agent_answered_at=START + 30, ended_at=START + 130,
        queue="billing", agent="1001", wait_s=10, talk_s=100, outcome="answered")
    log = tmp_path / "agents.jsonl"
    with ActivityLogWriter(log) as writer:
        writer.record("default", "1001", "available", START)
        writer.record("default", "1001", "wrap-up", START + 131)
        writer.record("default", "1001", "available", START + 171)
    report = load_report(crm_db, start=START, end=START + 900, agent_log=log, dimensions=("all",))
    total = report.rows[-1]
    assert (total.avg_acw_s, total.aht_s) == (40, 140)
    assert total.occupancy == pytest.approx((100 + 40) / 900)
    assert load_report(crm_db, start=START, end=START + 900, dimensions=("all",)).rows[-1].aht_s == 100


def test_an_early_ready_beats_the_planned_wrap_up(crm_db, add, tmp_path):
    # crm_sync gave the contact the queue's 30 s of after-call work; the agent was ready after 10
    add(key="k1", started_at=START, enqueued_at=START + 20, agent_answered_at=START + 30, ended_at=START + 130,
        queue="billing", agent="1001", wait_s=10, talk_s=100, acw_s=30, wrapup_end_at=START + 160, outcome="answered")
    log = tmp_path / "agents.jsonl"
    with ActivityLogWriter(log) as writer:
        writer.record("default", "1001", "available", START)
        writer.record("default", "1001", "wrap-up", START + 130)
        writer.record("default", "1001", "available", START + 140)
    total = load_report(crm_db, start=START, end=START + 900, agent_log=log, dimensions=("all",)).rows[-1]
    assert (total.avg_acw_s, total.aht_s) == (10, 110)
    assert total.occupancy == pytest.approx((100 + 10) / 900)
    # without the log, the plan is all there is
    assert load_report(crm_db, start=START, end=START + 900, dimensions=("all",)).rows[-1].aht_s == 130
