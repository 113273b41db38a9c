"""Every `ivr_flows/templates/*.test.yaml`, played by `fscc flow test`'s engine: the runner over
real ESL against fssim (digits as DTMF over a second connection, the CDR read back)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fssim.apps import APPLICATIONS
from ivr_flows import actions as a
from ivr_flows.flowtest import run_flow_test
from ivr_flows.loader import load_flow
from ivr_flows.testfile import load_case, play_scripted

TEMPLATES = Path(__file__).resolve().parents[2] / "ivr_flows" / "templates"
CASES = sorted(TEMPLATES.glob("*.test.yaml"))


def _switch_apps_needed(path: Path) -> set[str]:
    """The dialplan applications this case makes the runner use beyond the basic ones."""
    case = load_case(path)
    run = play_scripted(load_flow(case.flow_file), case)
    needed = set()
    if any(item[0] == "say" for play in run.of_type(a.Play) for item in play.items):
        needed.add("say")
    if run.of_type(a.Record):
        needed.add("record")
    return needed


def test_there_are_flow_files():
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.name.removesuffix(".test.yaml") for p in CASES])
def test_flow_file(path: Path):
    missing = sorted(_switch_apps_needed(path) - set(APPLICATIONS))
    if missing:
        pytest.xfail(f"fssim has no {', '.join(missing)} application yet (the flow would wait for it forever)")
    case = load_case(path)
    result = run_flow_test(path, timeout_s=30)
    assert result.problems == (), "\n".join([*result.problems, *map(str, result.trace)])
    assert list(result.path) == [str(p) for p in case.expect["path"]]
    assert result.outcome == case.expect["outcome"]
    if result.reason == "caller-hangup":
        # the last entry may be decided after the channel is gone (`queue:abandoned`): the CDR
        # holds the path up to the node the caller left in
        assert ">".join(result.path).startswith(result.cdr["fscc_path"])
        assert result.cdr["fscc_path"].split(">")[-1].split(":")[0] == result.node
    else:
        assert result.cdr["fscc_path"] == ">".join(result.path)
    assert result.cdr["fscc_outcome"] == result.outcome


def test_a_template_with_arguments(tmp_path):
    """`fscc flow test FILE.yaml.j2 --dtmf ... --caller ... --at ...`: no test file, the trace printed."""
    result = run_flow_test(TEMPLATES / "hotline_10086.yaml.j2", dtmf="2,0", caller="13700137000",
                           at="2026-11-23 10:00")
    assert result.ended_normally
    assert result.path[:4] == ("choose_language:2", "english", "identify:not-found", "main_menu:0")
    assert result.outcome == "answered"
    assert any("queue" in entry.action for entry in result.trace)


def test_fscc_flow_test_command(tmp_path):
    """The dialplan author's command (ivr_flows/cli.py) over this engine: trace printed, exit 0
    on a normal end, 1 when the caller hung up."""
    from click.testing import CliRunner

    from fs_scripts.cli import cli

    runner = CliRunner()
    done = runner.invoke(cli, ["flow", "test", str(TEMPLATES / "hotline_10086.vip.test.yaml")])
    assert done.exit_code == 0, done.output
    assert "vip_queue: queue vip" in done.output
    assert done.output.strip().splitlines()[-1].startswith("outcome: answered (normal)")
    hung = runner.invoke(cli, ["flow", "test", str(TEMPLATES / "hotline_10086.hangup_in_menu.test.yaml")])
    assert hung.exit_code == 0, hung.output  # the hang-up is what that test file expects
    assert "FAIL" not in hung.output
    assert "outcome: abandoned (caller-hangup) at main_menu" in hung.output
