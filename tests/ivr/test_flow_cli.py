"""`fscc flow test`: the click command over the runtime's fssim-backed engine (real ESL)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ivr_flows.cli import flow

TEMPLATES = Path(__file__).resolve().parents[2] / "ivr_flows" / "templates"


def run(*args: str):
    return CliRunner().invoke(flow, ["test", *args])


def test_a_test_file_that_holds_exits_0_and_prints_the_trace(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = run(str(TEMPLATES / "hotline_10086.vip.test.yaml"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "choose_language: answer"
    assert "identify: lookup by caller 13800138000 -> found C1001" in lines
    assert lines[-1] == ("outcome: answered (normal) at survey; path: "
                         "choose_language:1>mandarin>identify:found>vip_check>vip_welcome>vip_queue:answered>survey")


def test_a_template_with_digits_caller_time_and_variables(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = run(str(TEMPLATES / "hotline_10086.yaml.j2"), "--dtmf", "2,9,,9", "--caller", "13700137000",
                 "--at", "2026-11-23 10:00", "--var", "campaign=autumn")
    assert result.exit_code == 0, result.output
    assert "main_menu: get digits main_menu -> timeout" in result.output
    assert result.output.splitlines()[-1] == (
        "outcome: answered (normal) at survey; path: "
        "choose_language:2>english>identify:not-found>main_menu:9/t/9>agent_hours>agent_queue:answered>survey")


def test_an_expectation_that_fails_exits_1_and_says_why(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    case = (TEMPLATES / "hotline_10086.vip.test.yaml").read_text(encoding="utf-8")
    case = case.replace("flow: hotline_10086.yaml.j2", f"flow: {TEMPLATES / 'hotline_10086.yaml.j2'}")
    case = case.replace("  outcome: answered", "  outcome: voicemail")
    (tmp_path / "wrong.test.yaml").write_text(case, encoding="utf-8")
    result = run("wrong.test.yaml")
    assert result.exit_code == 1
    assert "FAIL: outcome: expected voicemail, got answered" in result.output.splitlines()


def test_a_normal_end_does_not_pass_a_test_file_whose_expectations_fail(monkeypatch, tmp_path):
    """The call ends normally (answered), but what the switch recorded in the CDR and what the queue
    was asked for differ from the file: exit 1, one FAIL line per expectation, after the outcome."""
    monkeypatch.chdir(tmp_path)
    case = (TEMPLATES / "hotline_10086.vip.test.yaml").read_text(encoding="utf-8")
    case = case.replace("flow: hotline_10086.yaml.j2", f"flow: {TEMPLATES / 'hotline_10086.yaml.j2'}")
    case = case.replace("fscc_survey: satisfaction=5", "fscc_survey: satisfaction=4")
    case = case.replace("skills: {vip: 1}", "skills: {vip: 2}")
    (tmp_path / "cdr.test.yaml").write_text(case, encoding="utf-8")
    result = run("cdr.test.yaml")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-3:] == [
        "outcome: answered (normal) at survey; path: "
        "choose_language:1>mandarin>identify:found>vip_check>vip_welcome>vip_queue:answered>survey",
        "FAIL: queue.skills: expected {'vip': 2}, got {'vip': 1}",
        "FAIL: channel fscc_survey: expected 'satisfaction=4', got 'satisfaction=5'",
    ]


def test_a_bad_variable_is_a_usage_error():
    result = run(str(TEMPLATES / "hotline_10086.yaml.j2"), "--var", "novalue")
    assert result.exit_code == 2
    assert "'novalue': expected k=v" in result.output
