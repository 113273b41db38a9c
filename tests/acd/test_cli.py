"""`fscc agent` and `fscc queue` run through the real `fscc` command against a real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from acd.cli import duration, percent, table
from acd.router import Router
from acd.stats import StatsRecorder
from fs_scripts.cli import cli
from fs_scripts.settings import load_settings


@pytest.fixture
def config(tmp_path, redis_server, redis_client):
    path = tmp_path / "fscc.yaml"
    path.write_text(textwrap.dedent(f"""\
        redis_url: unix://{redis_server.socket_file}
        data_dir: {tmp_path / "data"}
        tenants:
          default: {{name: Default}}
          acme: {{name: ACME}}
        acd:
          agents:
            "1001": {{extension: "1001", skills: {{billing: 3}}}}
            "1002": {{extension: "1002", skills: {{billing: 2, vip: 1}}}}
            "2001": {{extension: "2001", tenant: acme, skills: {{billing: 5}}}}
          queues:
            billing: {{target: "skills.billing >= 1", service_level_s: 20}}
            vip: {{target: "skills.vip >= 1", service_level_s: 10}}
        """), encoding="utf-8")
    return str(path)


def fscc(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_formatting_helpers() -> None:
    assert [duration(None), duration(4.4), duration(65), duration(3600 + 61)] == ["-", "4s", "1m05s", "1h01m"]
    assert [percent(None), percent(0.8125)] == ["-", "81.2%"]
    assert table(["NAME", "N"], [["ab", "1"], ["c", "10"]]) == "NAME   N\nab     1\nc     10"


def test_agent_state_changes_go_through_the_router(config, redis_client) -> None:
    result = fscc("agent", "--config", config, "login", "1001")  # not in Redis yet: written from the settings
    assert result.exit_code == 0, result.output
    assert result.output == ("agent 1001: offline -> break (login) [login] -- phone not registered: "
                             "no calls until it registers\n")
    router = Router(redis_client, load_settings(config).acd)
    assert router.worker_state("1001")["activity"] == "break"
    router.set_registered("1001", True)
    assert fscc("agent", "-c", config, "ready", "1001").output == "agent 1001: break -> available [ready]\n"
    assert fscc("agent", "-c", config, "break", "1001", "lunch").output == \
        "agent 1001: available -> break (lunch) [break]\n"
    assert fscc("agent", "-c", config, "ready", "1001", "--on-demand").output == \
        "agent 1001: break -> on-demand [ready]\n"
    assert fscc("agent", "logout", "1001", "--config", config).output == \
        "agent 1001: on-demand -> offline [logout]\n"  # options after the subcommand work too
    again = fscc("agent", "-c", config, "logout", "1001")
    assert again.exit_code == 1
    assert "[illegal-transition] worker 1001: cannot go from offline to offline" in again.output
    assert router.worker_state("1001")["activity"] == "offline"


def test_unknown_ids_are_named_with_their_exit_codes(config, tmp_path) -> None:
    unknown_agent = fscc("agent", "-c", config, "status", "9999")
    assert unknown_agent.exit_code == 3
    assert "[unknown-agent] unknown agent '9999' in tenant 'default'" in unknown_agent.output
    assert fscc("agent", "-c", config, "login", "9999").exit_code == 3
    not_yet = fscc("agent", "-c", config, "status", "1002")  # configured, never logged in nor served
    assert not_yet.exit_code == 3 and "'1002' in tenant 'default': configured, but not in the routing state" in not_yet.output
    # 2001 belongs to acme: found there by default, unknown when asked for in another tenant
    assert fscc("agent", "-c", config, "login", "2001").output.startswith("agent 2001: offline -> break")
    other = fscc("agent", "-c", config, "--tenant", "default", "ready", "2001")
    assert other.exit_code == 3 and "unknown agent '2001' in tenant 'default'" in other.output
    unknown_queue = fscc("queue", "-c", config, "show", "nope")
    assert unknown_queue.exit_code == 3 and "[unknown-queue] unknown queue 'nope'" in unknown_queue.output
    unknown_tenant = fscc("queue", "-c", config, "--tenant", "nobody", "list")
    assert unknown_tenant.exit_code == 3 and "unknown tenant 'nobody'" in unknown_tenant.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("acd:\n  no_answer_limit: 0\n", encoding="utf-8")
    bad = fscc("queue", "-c", str(broken), "list")
    assert bad.exit_code == 2 and "broken.yaml" in bad.output and "acd.no_answer_limit" in bad.output
    assert fscc("agent", "-c", config, "break", "1001", "").exit_code == 2  # an empty reason code
    no_redis = tmp_path / "no-redis.yaml"
    no_redis.write_text("redis_url: redis://127.0.0.1:1/0\n", encoding="utf-8")
    down = fscc("queue", "-c", str(no_redis), "list")
    assert down.exit_code == 2 and "[backend-unavailable] redis at redis://127.0.0.1:1/0" in down.output


def test_an_empty_routing_state_says_so(config) -> None:
    result = CliRunner().invoke(cli, ["queue", "-c", config, "list"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split()[0] == "QUEUE" and len(result.stdout.splitlines()) == 1
    assert "no queue of tenant 'default' in the routing state" in result.stderr
    assert "no agent of tenant 'default'" in CliRunner().invoke(cli, ["agent", "-c", config, "list"]).stderr


def test_queue_and_agent_figures_from_the_live_state(config, redis_client) -> None:
    settings = load_settings(config)
    router = Router(redis_client, settings.acd, tenant="default", node_id="node-1")
    router.sync_config(agents=["1001", "1002"])
    router.set_registered("1001", True)
    router.ready("1001")
    router.take_break("1002", "training")
    first = router.enqueue("task-1", {}, queue="billing")  # rings at 1001
    router.enqueue("task-2", {"tier": 1}, queue="billing")
    stats = StatsRecorder(redis_client, "default")
    stats.record_answered("billing", 12.0, "1001")
    stats.record_answered("billing", 30.0, "1001")
    stats.record_abandoned("billing", 25.0)

    listed = json.loads(fscc("queue", "-c", config, "list", "--json").output)
    billing = {q["queue"]: q for q in listed}["billing"]
    assert billing["waiting"] == 2
    assert billing["agents_by_state"] == {"available": 0, "reserved": 1, "busy": 0, "wrap-up": 0, "break": 1,
                                          "unregistered": 0, "offline": 0}
    assert billing["last_60"]["counts"]["answered"] == 2 and billing["last_60"]["counts"]["abandoned"] == 1
    assert billing["service_level_60"] == pytest.approx(1 / 3)
    text = fscc("queue", "-c", config, "list").output.splitlines()
    assert text[0].split() == ["QUEUE", "WAITING", "LONGEST", "SL15", "SL60", "ANS60", "ABD60", "AVAILABLE", "LOGGED-IN"]
    assert text[1].split()[:2] == ["billing", "2"] and text[1].split()[3:] == ["33.3%", "33.3%", "2", "1", "0", "2"]
    assert text[2].split()[:5] == ["vip", "0", "0s", "-", "-"]

    shown = fscc("queue", "-c", config, "show", "billing")
    assert shown.exit_code == 0, shown.output
    assert "waiting      2" in shown.output and "abandoned 1 (+0 short)" in shown.output
    rows = {line.split()[0]: line.split() for line in shown.output.splitlines() if line.startswith("task-")}
    assert rows["task-1"][1] == "reserved" and rows["task-1"][-1] == "1001"
    assert rows["task-2"][1] == "pending" and rows["task-2"][-1] == "-"
    assert first.reservations

    status = json.loads(fscc("agent", "-c", config, "status", "1001", "--json").output)
    assert (status["state"], status["registered"], status["answered_60"], status["asa_60_s"]) == ("reserved", True, 2, 21.0)
    assert status["tasks"] == ["task-1"] and status["queues"] == ["billing"]
    agents = fscc("agent", "-c", config, "list").output.splitlines()
    assert [line.split()[0] for line in agents] == ["AGENT", "1001", "1002"]  # acme's 2001 is not listed
    assert agents[2].split()[1:3] == ["break", "training"]


def test_the_installed_command_exits_with_the_error_code(config) -> None:
    run = subprocess.run([sys.executable, "-m", "fs_scripts.cli", "queue", "--config", config, "show", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3
    assert "unknown queue 'nope' in tenant 'default'" in run.stderr
