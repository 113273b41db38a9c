"""The worked example's flow test files, played through the interpreter alone (scripted events).

Every `*.test.yaml` beside the templates runs here, so the example is proven with no switch;
the runtime's fssim-backed runner (`fscc flow test`, tests/ivr/test_flow_files.py) reads the
same files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr_flows import actions as a
from ivr_flows.loader import load_flow
from ivr_flows.testfile import check_expectations, load_case, play_scripted

TEMPLATES = Path(__file__).resolve().parents[2] / "ivr_flows" / "templates"
CASES = sorted(TEMPLATES.glob("*.test.yaml"))


def test_every_path_of_the_example_has_a_test_file():
    names = {p.name.split(".")[1] for p in CASES if p.name.startswith("hotline_10086.")}
    assert {"vip", "bill_known", "bill_account", "plan_change", "complaint", "agent",
            "after_hours_callback", "after_hours_voicemail"} <= names


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_flow_file(path: Path):
    case = load_case(path)
    flow = load_flow(case.flow_file)
    run = play_scripted(flow, case)
    assert check_expectations(case, run) == []


def test_the_service_password_never_leaves_the_interpreter_except_to_the_crm():
    case = load_case(TEMPLATES / "hotline_10086.bill_account.test.yaml")
    run = play_scripted(load_flow(case.flow_file), case)
    pin = "123456"
    webhook = run.of_type(a.Webhook)[0]
    assert webhook.body == {"account": "88001234", "pin": pin}  # only the CRM's verify call has it
    assert pin not in repr(webhook)
    everything = "".join(repr(x) for x in run.actions) + repr(run.trace) + repr(run.state)
    assert pin not in everything
    assert all(pin not in v for v in run.channel.values())
    masked = [type(x).__name__ for x in run.actions if isinstance(x, (a.MaskRecording, a.UnmaskRecording, a.GetDigits))]
    assert masked == ["GetDigits", "GetDigits", "GetDigits", "MaskRecording", "GetDigits", "UnmaskRecording"]


def test_the_tenant_calendar_from_settings_reaches_the_flow(tmp_path):
    """A holiday in fscc.yaml closes the agent lines; the CRM URL setting feeds the webhooks."""
    from dataclasses import replace

    from fs_scripts.settings import load_settings

    config = tmp_path / "fscc.yaml"
    config.write_text(
        "tenants:\n  acme:\n    name: \"ACME: mobile\\nnodes: {}\"\n    timezone: Europe/Berlin\n"
        "ivr:\n  crm_api_url: http://crm.test/api\n  calendars:\n    acme:\n      holidays: ['2026-11-23']\n"
        "      weekly: {mon: ['09:00-17:00']}\n", encoding="utf-8")
    settings = load_settings(config, environ={})
    flow = load_flow(TEMPLATES / "hotline_10086.yaml.j2", settings, tenant="acme")
    assert flow.tenant == "acme"
    assert flow.description.startswith("ACME: mobile\nnodes: {} hotline")  # a value, never structure
    assert flow.nodes["agent_hours"].timezone == "Europe/Berlin" and flow.nodes["agent_hours"].holidays == ("2026-11-23",)
    assert flow.nodes["open_work_order"].url == "http://crm.test/api/work-orders"
    case = load_case(TEMPLATES / "hotline_10086.agent.test.yaml")
    run = play_scripted(flow, replace(case, at="2026-11-23 10:00", timezone="Europe/Berlin"))
    assert run.state.path[3:7] == ("main_menu:0", "agent_hours", "after_hours:t/t", "voicemail")  # a holiday
    run = play_scripted(flow, replace(case, at="2026-11-30 10:00", timezone="Europe/Berlin"))
    assert run.state.path[-3:] == ("agent_hours", "agent_queue:answered", "survey")
