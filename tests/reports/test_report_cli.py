"""`fscc report` as a subprocess against a real SQLite CRM store; charts and report.html checked."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc).timestamp()


def run_fscc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fs_scripts.cli", *args], capture_output=True, text=True,
                          timeout=90, cwd=cwd)


@pytest.fixture
def store(add, crm_db_url, tmp_path):
    """08:00-08:15: 3 answered (8 s, 20 s, 40 s), 1 abandoned at 30 s, 1 short abandon; 08:15-08:30: 1 answered at 2 s."""
    add(started_at=T0 + 10, enqueued_at=T0 + 30, agent_answered_at=T0 + 38, queue="billing", agent="1001", tier=1,
        wait_s=8, talk_s=100, hold_s=10, acw_s=30, outcome="answered")
    add(started_at=T0 + 40, enqueued_at=T0 + 60, agent_answered_at=T0 + 80, queue="billing", agent="1002", tier=4,
        wait_s=20, talk_s=200, acw_s=20, outcome="answered")
    add(started_at=T0 + 100, enqueued_at=T0 + 120, agent_answered_at=T0 + 160, queue="sales<b>", agent="1001", tier=4,
        wait_s=40, talk_s=60, outcome="answered")
    add(started_at=T0 + 200, enqueued_at=T0 + 220, abandoned_at=T0 + 250, queue="billing", tier=7, wait_s=30, outcome="abandoned")
    add(started_at=T0 + 300, enqueued_at=T0 + 320, abandoned_at=T0 + 322, queue="billing", tier=7, wait_s=2, outcome="short-abandoned")
    add(started_at=T0 + 15 * 60 + 5, enqueued_at=T0 + 15 * 60 + 25, agent_answered_at=T0 + 15 * 60 + 27, queue="billing",
        agent="1002", tier=1, wait_s=2, talk_s=50, outcome="answered")
    log = tmp_path / "agents.jsonl"
    log.write_text("\n".join(json.dumps({"tenant": "default", "agent": a, "activity": "available", "at": T0}) for a in ("1001", "1002"))
                   + "\n", encoding="utf-8")
    return crm_db_url, log


@pytest.mark.pg_times
def test_json_report_has_every_kpi_named(store):
    url, log = store
    result = run_fscc("report", "--db", url, "--from", "2026-11-22T08:00", "--to", "2026-11-22T08:30", "--tz", "UTC",
                      "--interval", "15m", "--format", "json", "--agent-log", str(log))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["definitions"]["service_level_variant"] == "abandons-ignored"
    assert data["definitions"]["short_abandon_s"] == 5
    rows = {(r["dimension"], r["key"], r["interval"]): r for r in data["rows"]}
    first = rows[("all", "all", "2026-11-22 08:00")]
    assert (first["offered"], first["answered"], first["abandoned"], first["short_abandoned"]) == (5, 3, 1, 1)
    assert first["sl_answered"] == pytest.approx(2 / 3)  # 8 s and 20 s within 20 s
    assert first["sl_abandons_negative"] == pytest.approx(2 / 4)
    assert first["sl_abandons_met"] == pytest.approx(2 / 4)  # the abandon at 30 s is after T
    assert first["sl_abandons_ignored"] == pytest.approx(2 / 4)
    assert first["asa_s"] == pytest.approx((8 + 20 + 40) / 3)
    assert first["aht_s"] == pytest.approx((140 + 220 + 60) / 3)
    assert first["abandon_rate"] == pytest.approx(1 / 4)
    # both agents staffed all 900 s. 1001: busy 38-148, wrap-up 148-178, busy 160-220 (a second
    # contact while wrapping up: counted once) = 182 s; 1002: busy 80-280, wrap-up 280-300 = 220 s
    assert first["occupancy"] == pytest.approx((182 + 220) / 1800)
    second = rows[("all", "all", "2026-11-22 08:15")]
    assert (second["offered"], second["answered"], second["sl_abandons_ignored"]) == (1, 1, 1.0)
    total = rows[("all", "all", "total")]
    assert total["offered"] == 6 and total["sl_abandons_ignored"] == pytest.approx(3 / 5)
    assert rows[("queue", "sales<b>", "total")]["answered"] == 1
    assert rows[("tier", "7", "total")]["abandoned"] == 1
    assert rows[("agent", "1002", "total")]["answered"] == 2


def test_table_and_csv(store):
    url, _ = store
    table = run_fscc("report", "--db", url, "--tz", "UTC", "--by", "all,queue")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("service level: abandons-ignored, target 80% within 20 s")
    header = lines[1].split()
    assert header[:4] == ["by", "key", "interval", "offered"]
    total = next(line for line in lines if line.startswith("all") and "total" in line).split()
    assert total[3:6] == ["6", "4", "1"]  # offered, answered, abandoned
    assert "60.0" in total  # SL 3/5
    assert any(line.startswith("queue") and "sales<b>" in line for line in lines)
    # the four definitions for the period, the headline marked: A=4 (3 within 20 s), Ab=1 (after T)
    assert lines[-1] == ("service level of the whole period by definition: answered 75.0%, abandons-negative 60.0%, "
                         "abandons-met 60.0%, abandons-ignored 60.0% (headline)")
    result = run_fscc("report", "--db", url, "--tz", "UTC", "--format", "csv", "--by", "queue")
    assert result.returncode == 0, result.stderr
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["key"] for r in records} == {"billing", "sales<b>"}
    billing_total = next(r for r in records if r["key"] == "billing" and r["interval"] == "total")
    assert billing_total["offered"] == "5" and billing_total["occupancy"] == ""
    # billing: answered at 8, 20 and 2 s (all within 20 s), abandoned at 30 s, short abandon apart
    assert float(billing_total["sl_abandons_met"]) == pytest.approx(3 / 4)
    assert {"sl_answered", "sl_abandons_negative", "sl_abandons_met", "sl_abandons_ignored"} <= set(records[0])


@pytest.mark.parametrize("crm_db_url", ["sqlite"], indirect=True)  # the backends are covered by the tests above
def test_settings_change_the_definitions(store, tmp_path):
    url, _ = store
    config = tmp_path / "fscc.yaml"
    config.write_text("reports:\n  service_level_variant: answered\n  short_abandon_s: 0\n  service_level_threshold_s: 30\n",
                      encoding="utf-8")
    result = run_fscc("report", "--db", url, "--tz", "UTC", "--format", "json", "--by", "all", "--config", str(config))
    assert result.returncode == 0, result.stderr
    total = json.loads(result.stdout)["rows"][-1]
    # short abandons off: the 2 s abandon counts; within 30 s: 8, 20, 2 answered of 4
    assert (total["abandoned"], total["short_abandoned"]) == (2, 0)
    assert total["service_level_variant"] == "answered" and total["service_level"] == pytest.approx(3 / 4)


@pytest.mark.parametrize("crm_db_url", ["sqlite"], indirect=True)  # refused before the store is read
def test_bad_input_is_reported(store, tmp_path):
    url, _ = store
    bad = run_fscc("report", "--db", url, "--from", "yesterday")
    assert bad.returncode == 2 and "is not a time" in bad.stderr
    bad = run_fscc("report", "--db", url, "--interval", "7m")
    assert bad.returncode == 2 and "divide a day" in bad.stderr
    bad = run_fscc("report", "--db", url, "--by", "skill")
    assert bad.returncode == 2 and "unknown cut" in bad.stderr
    bad = run_fscc("report", "--db", url, "--tz", "Mars/Olympus")
    assert bad.returncode == 2 and "unknown timezone" in bad.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("reports:\n  interval_min: 20\n", encoding="utf-8")
    bad = run_fscc("report", "--db", url, "--config", str(config))
    assert bad.returncode == 2 and "line 2: reports.interval_min: expected 15, 30 or 60 minutes" in bad.stderr


@pytest.mark.parametrize("crm_db_url", ["sqlite"], indirect=True)  # the backends are covered by the tests above
def test_empty_store_says_so(crm_db, crm_db_url):
    result = run_fscc("report", "--db", crm_db_url)
    assert result.returncode == 0, result.stderr
    assert "no contacts in the period" in result.stdout


@pytest.mark.parametrize("crm_db_url", ["sqlite"], indirect=True)  # the backends are covered by the tests above
def test_plots_and_html(store, tmp_path):
    url, log = store
    out = tmp_path / "out"
    result = run_fscc("report", "--db", url, "--tz", "UTC", "--agent-log", str(log), "--plot", str(out),
                      "--from", "2026-11-22T08:00", "--to", "2026-11-22T09:00")
    assert result.returncode == 0, result.stderr
    for name in ("volume.png", "service_level.png", "wait_times.png", "agent_states.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "sales&lt;b&gt;" in page and "sales<b>" not in page
    assert page.count("<img ") == 4 and 'src="volume.png"' in page


@pytest.mark.parametrize("crm_db_url", ["sqlite"], indirect=True)
def test_agent_log_defaults_to_the_one_fscc_serve_keeps(store, tmp_path):
    url, log = store
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = tmp_path / "fscc.yaml"
    config.write_text(f"data_dir: {data_dir}\n", encoding="utf-8")
    args = ("report", "--db", url, "--tz", "UTC", "--format", "json", "--by", "all", "--config", str(config),
            "--from", "2026-11-22T08:00", "--to", "2026-11-22T08:30")
    without = run_fscc(*args)
    assert without.returncode == 0, without.stderr
    assert json.loads(without.stdout)["rows"][-1]["occupancy"] is None  # no log anywhere: unknown
    (data_dir / "agent-activity.jsonl").write_text(log.read_text(encoding="utf-8"), encoding="utf-8")
    found = run_fscc(*args)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["rows"][-1]["occupancy"] == pytest.approx((182 + 220 + 50) / 3600)
