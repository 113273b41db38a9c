"""The charts carry what a reader needs: data equal to the KPIs, titles with the period, axis labels
with units, legends, the target line. Checked on the matplotlib figures themselves."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from matplotlib.colors import to_hex

from reports.config import ReportSettings
from reports.facts import AgentState, AgentStateSpan, ContactFacts, Outcome
from reports.kpi import compute_kpis
from reports.plots import (
    agent_state_counts,
    agent_states_figure,
    service_level_figure,
    volume_figure,
    wait_figure,
)

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc).timestamp()
RULES = ReportSettings()


def _c(at_s: float, outcome: Outcome, wait: float) -> ContactFacts:
    return ContactFacts(tenant="default", queue="billing", tier=4, agent="a1" if outcome is Outcome.ANSWERED else None,
                        channel="voice", offered_at=T0 + at_s, answered_at=None, abandoned_at=None, ended_at=None,
                        wait_s=wait, talk_s=60 if outcome is Outcome.ANSWERED else 0, hold_s=0, acw_s=0, outcome=outcome)


A, AB = Outcome.ANSWERED, Outcome.ABANDONED
# 08:00: 4 answered (3 within 20 s), 1 abandoned at 30 s, 1 short abandon, 1 self-service -> SL 3/5 = 60 %
# 08:15: nothing; 08:30: 2 answered within 20 s -> 100 %
CONTACTS = [_c(10, A, 2), _c(20, A, 15), _c(30, A, 20), _c(40, A, 45), _c(50, AB, 30), _c(60, AB, 2),
            _c(70, Outcome.SELF_SERVICE, 0), _c(1810, A, 1), _c(1820, A, 5)]
ROWS = compute_kpis(CONTACTS, rules=RULES, interval_s=900, start=T0, end=T0 + 2700, tz=UTC)


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_volume_bars_are_the_kpi_counts():
    fig = volume_figure(ROWS, UTC)
    ax = fig.axes[0]
    assert ax.get_title() == "Contacts per 15-minute interval, 2026-11-22 08:00-08:45 (UTC)"
    assert ax.get_xlabel() == "interval start (local time, UTC)" and ax.get_ylabel() == "contacts per interval"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["08:00", "08:15", "08:30"]
    offered, answered, abandoned = ([round(p.get_height()) for p in c.patches] for c in ax.containers)
    assert offered == [7, 0, 2] and answered == [4, 0, 2] and abandoned == [1, 0, 0]
    assert _legend(ax) == ["offered (every contact, incl. IVR self-service)", "answered",
                           "abandoned (short abandons excluded)"]


def test_service_level_bars_target_line_and_empty_interval():
    fig = service_level_figure(ROWS, RULES, UTC)
    ax = fig.axes[0]
    bars = ax.containers[0].patches
    assert [round(p.get_height(), 6) for p in bars] == [60.0, 0.0, 100.0]
    assert [to_hex(p.get_facecolor()) for p in bars] == ["#d62728", "#d62728", "#2ca02c"]  # missed, (none), met
    target = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(target) == 1 and list(target[0].get_ydata()) == [80, 80]
    texts = [t.get_text() for t in ax.texts]
    assert "no calls" in texts and "60%" in texts and "100%" in texts  # the empty interval is not a 0 % bar
    assert _legend(ax) == ["target met", "target missed", "target 80%"]
    assert "answered within 20 s (abandons-ignored)" in ax.get_title() and "(%)" in ax.get_ylabel()


def test_wait_distribution_counts_and_cumulative_share():
    fig = wait_figure(CONTACTS, RULES, "2026-11-22 08:00-08:45 (UTC)")
    ax, cumulative = fig.axes
    assert ax.get_title() == ("Queue wait before answer or abandon, 2026-11-22 08:00-08:45 (UTC): "
                              "5 of 6 answered within 20 s")
    assert ax.get_xlabel().startswith("wait in queue x (seconds") and ax.get_ylabel() == "contacts per bin"
    # stacked histogram: the top layer's bars reach the total per bin; all 8 queued contacts are there
    top_layer = ax.containers[-1].patches
    assert sum(p.get_y() + p.get_height() for p in top_layer) == 8
    threshold = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert list(threshold[0].get_xdata()) == [20, 20]
    share = cumulative.get_lines()[0]
    xs, ys = np.asarray(share.get_xdata()), np.asarray(share.get_ydata())
    assert ys[-1] == 100.0
    assert ys[np.searchsorted(xs, 20, side="right") - 1] == pytest.approx(5 / 6 * 100)  # SL(20) of answered
    assert _legend(ax)[-1] == "answered within x s (cumulative %, right axis)"
    # the answer at exactly 20 s is drawn left of the threshold line (within T), like the KPI counts it
    answered_bars = ax.containers[0].patches
    left_of_line = sum(p.get_height() for p in answered_bars if p.get_x() + p.get_width() <= 20 + 1e-6)
    assert left_of_line == 5
    assert "short abandon, under 5 s (1)" in _legend(ax)


def test_agent_state_counts_and_chart():
    spans = [AgentStateSpan("default", "a1", AgentState.AVAILABLE, T0, T0 + 60),
             AgentStateSpan("default", "a1", AgentState.BUSY, T0 + 60, T0 + 180),
             AgentStateSpan("default", "a2", AgentState.BREAK, T0 + 30, T0 + 120),
             AgentStateSpan("default", "a2", AgentState.OFFLINE, T0 + 120, T0 + 180)]
    times, counts = agent_state_counts(spans, T0, T0 + 180, 30)
    assert list(times - T0) == [0, 30, 60, 90, 120, 150]
    assert list(counts[AgentState.AVAILABLE]) == [1, 1, 0, 0, 0, 0]
    assert list(counts[AgentState.BUSY]) == [0, 0, 1, 1, 1, 1]
    assert list(counts[AgentState.BREAK]) == [0, 1, 1, 1, 0, 0]
    ax = agent_states_figure(spans, UTC).axes[0]
    assert _legend(ax) == ["busy", "available", "break"]  # only states someone was in; offline is not logged in
    assert ax.get_title() == "Agents by state, 2026-11-22 08:00-08:03 (UTC)"
    assert ax.get_ylabel() == "agents logged in" and ax.get_xlabel() == "time (local, UTC)"
    empty = agent_states_figure([], UTC).axes[0]
    assert empty.get_title() == "Agents by state: no agent activity recorded for the period"
