"""Erlang C against the published worked example and an independent log-space oracle."""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import erlang


def _erlang_c_exact(traffic: Fraction, agents: int) -> Fraction:
    """The textbook formula with factorials, in exact arithmetic (small N only)."""
    top = traffic**agents / math.factorial(agents) * Fraction(agents, agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


def _erlang_c_logspace(traffic: float, agents: int) -> float:
    """An independent oracle for huge N: the same formula with lgamma and log-sum-exp."""
    logs = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents)]
    log_top = agents * math.log(traffic) - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    peak = max(max(logs), log_top)
    total = sum(math.exp(v - peak) for v in logs) + math.exp(log_top - peak)
    return math.exp(log_top - peak) / total


def test_published_worked_example_48_erlangs_55_agents():
    traffic = erlang.traffic_erlangs(calls=360, interval_s=1800, aht_s=240)
    assert traffic == 48
    row = erlang.staffing_row(traffic, 55, aht_s=240, threshold_s=20)
    assert round(row.p_wait, 4) == 0.2387
    assert round(row.asa_s, 2) == 8.18
    assert round(row.service_level * 100, 2) == 86.68
    assert row.occupancy == pytest.approx(48 / 55)


def test_smallest_staffing_for_80_20_is_54():
    best = erlang.required_agents(48, aht_s=240, threshold_s=20, target_fraction=0.80)
    assert best.agents == 54
    assert best.service_level >= 0.80
    assert erlang.service_level(48, 53, 240, 20) < 0.80


def test_matches_exact_factorial_formula_for_small_n():
    for traffic, agents in [(Fraction(1, 2), 1), (Fraction(3), 4), (Fraction(48), 55), (Fraction(99, 10), 12)]:
        exact = _erlang_c_exact(traffic, agents)
        assert erlang.erlang_c(float(traffic), agents) == pytest.approx(float(exact), rel=1e-12)


def test_erlang_b_known_value():
    # B(A=2, N=3) = (8/6) / (1 + 2 + 2 + 8/6) = 4/19
    assert erlang.erlang_b(2, 3) == pytest.approx(4 / 19, rel=1e-14)


@pytest.mark.parametrize("traffic,agents", [(1000.0, 1030), (2500.0, 2550), (4800.0, 4900), (9000.0, 9100)])
def test_stable_for_thousands_of_agents(traffic, agents):
    p_wait = erlang.erlang_c(traffic, agents)
    assert 0.0 < p_wait < 1.0
    assert p_wait == pytest.approx(_erlang_c_logspace(traffic, agents), rel=1e-9)
    sl = erlang.service_level(traffic, agents, 240, 20)
    assert 0.0 < sl <= 1.0 and math.isfinite(erlang.asa_s(traffic, agents, 240))


def test_required_agents_at_thousands_of_erlangs_is_the_first_that_meets():
    best = erlang.required_agents(5000, aht_s=240, threshold_s=20, target_fraction=0.8)
    assert best.service_level >= 0.8
    assert erlang.service_level(5000, best.agents - 1, 240, 20) < 0.8
    assert best.agents > 5000


def test_unstable_and_degenerate_cases():
    assert erlang.erlang_c(10, 10) == 1.0  # N <= A: everybody waits forever
    assert erlang.asa_s(10, 9, 180) == math.inf
    assert erlang.service_level(10, 10, 180, 20) == 0.0
    assert erlang.erlang_c(0, 1) == 0.0
    assert erlang.required_agents(0, 180, 20, 0.8).agents == 1
    with pytest.raises(ValueError, match="strictly between"):
        erlang.required_agents(10, 180, 20, 1.0)
    with pytest.raises(ValueError, match="agents must be"):
        erlang.erlang_b(10, -1)
    with pytest.raises(ValueError, match="interval must be positive"):
        erlang.traffic_erlangs(10, 0, 180)


def test_max_occupancy_cap_raises_staffing():
    plain = erlang.required_agents(48, 240, 20, 0.8)
    capped = erlang.required_agents(48, 240, 20, 0.8, max_occupancy=0.85)
    assert plain.agents == 54 and capped.agents == 57  # 48/57 = 0.842 <= 0.85 < 48/56
    assert capped.occupancy <= 0.85


def test_table_is_one_pass_and_equals_single_rows():
    table = erlang.staffing_table(48, 240, 20, 50, 60)
    assert [r.agents for r in table] == list(range(50, 61))
    for row in table:
        single = erlang.staffing_row(48, row.agents, 240, 20)
        assert row == single


@settings(max_examples=200, deadline=None)
@given(traffic=st.floats(min_value=0.1, max_value=300), extra=st.integers(min_value=1, max_value=60))
def test_more_agents_never_worse(traffic, extra):
    agents = math.floor(traffic) + extra
    here = erlang.staffing_row(traffic, agents, 200, 20)
    more = erlang.staffing_row(traffic, agents + 1, 200, 20)
    assert 0.0 <= more.p_wait <= here.p_wait <= 1.0
    assert more.service_level >= here.service_level
    assert more.asa_s <= here.asa_s


def run_fscc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fs_scripts.cli", *args], capture_output=True, text=True, timeout=60)


def test_staffing_command_prints_range_and_answer():
    result = run_fscc("staffing", "--calls", "360", "--interval", "30m", "--aht", "240", "--sl", "80/20")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "48.00 Erlangs" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert lines["55"][1:4] == ["0.2387", "8.18", "86.68"]
    assert lines["54"][1:4] == ["0.3013", "12.05", "81.72"]
    assert "53" in lines and "60" in lines
    assert "smallest staffing meeting 80% answered within 20 s: 54 agents" in out


def test_staffing_command_json_and_bad_input():
    import json

    result = run_fscc("staffing", "--calls", "360", "--interval", "30m", "--aht", "240", "--sl", "80/20", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["required"]["agents"] == 54 and data["traffic_erlangs"] == 48
    assert any(r["agents"] == 55 and round(r["p_wait"], 4) == 0.2387 for r in data["rows"])
    bad = run_fscc("staffing", "--calls", "360", "--interval", "30x", "--aht", "240", "--sl", "80/20")
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    bad = run_fscc("staffing", "--calls", "360", "--interval", "30m", "--aht", "240", "--sl", "120/20")
    assert bad.returncode == 2 and "between 0 and 100" in bad.stderr
