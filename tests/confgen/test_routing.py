"""The rendered dialplan, run by fssim's mod_dialplan_xml evaluator: DIDs, agents, outbound guards."""

from __future__ import annotations

from pathlib import Path

import pytest

from fs_scripts.confgen.render import render
from fssim.dialplan import Dialplan, DialplanAction, Hunt, expand

from .conftest import EXAMPLE_ENV


@pytest.fixture
def dp(example_settings, tmp_path: Path) -> Dialplan:
    render(example_settings, tmp_path, EXAMPLE_ENV, source_name="fscc.example.yaml")
    return Dialplan.from_file(tmp_path / "dialplan" / "fscc.xml")


def _run(hunt: Hunt) -> list[tuple[str, str]]:
    """What the channel would execute: inline ones already ran; data expanded as at run time."""
    variables = dict(hunt.variables)
    return [(a.application, expand(a.data, variables)) for a in hunt.actions if not a.inline]


def _inbound(dp: Dialplan, number: str) -> list[DialplanAction]:
    return dp.route("fscc_inbound", {"destination_number": number, "caller_id_number": "13800138000"})


@pytest.mark.parametrize(
    ("number", "tenant", "flow", "extension"),
    [
        ("+8610086", "hotline", "hotline_10086.yaml.j2", "fscc_did_cmcc_1"),
        ("8610086", "hotline", "hotline_10086.yaml.j2", "fscc_did_cmcc_1"),  # carriers drop the +
        ("+861008712", "hotline", "hotline_10086.yaml.j2", "fscc_did_cmcc_2"),  # the pattern
        ("+862188886666", "acme", "acme_main.yaml.j2", "fscc_did_acme_sbc_1"),
    ],
)
def test_each_did_goes_to_fscc_serve_with_tenant_and_flow(dp: Dialplan, number: str, tenant: str, flow: str, extension: str) -> None:
    actions = _inbound(dp, number)
    apps = [(a.application, a.data) for a in actions]
    assert apps[:4] == [
        ("set", f"fscc_tenant={tenant}"),
        ("set", f"fscc_flow={flow}"),
        ("set", "socket_resume=true"),
        ("socket", "127.0.0.1:8040 async full"),
    ]
    assert {a.extension for a in actions} == {extension}


def test_fallback_after_the_socket_announcement_and_voicemail(dp: Dialplan) -> None:
    actions = [(a.application, a.data) for a in _inbound(dp, "+8610086")]
    after_socket = actions[actions.index(("socket", "127.0.0.1:8040 async full")) + 1:]
    assert after_socket == [
        ("set", "fscc_fallback=serve-unavailable"),
        ("answer", ""),
        ("playback", "ivr/ivr-call_cannot_be_completed_as_dialed.wav"),
        ("voicemail", "default ${domain_name} 9000"),
        ("hangup", "NORMAL_TEMPORARY_FAILURE"),
    ]


def test_fallback_to_another_number_goes_through_the_tenants_outbound_rules(dp: Dialplan) -> None:
    actions = [(a.application, a.data) for a in _inbound(dp, "+862188886666")]
    assert ("transfer", "+8613900139000 XML fscc_outbound") in actions
    hunt = dp.hunt("fscc_outbound", {"destination_number": "+8613900139000"}, {"fscc_tenant": "acme"})
    assert ("bridge", "sofia/gateway/acme_sbc/013900139000") in _run(hunt)  # acme_sbc takes national numbers


def test_unknown_did_is_unallocated(dp: Dialplan) -> None:
    assert [(a.application, a.data) for a in _inbound(dp, "+861099999999")] == [("hangup", "UNALLOCATED_NUMBER")]


def test_agent_extension_rings_the_agent_of_the_same_tenant(dp: Dialplan) -> None:
    hunt = dp.hunt("fscc_agents", {"destination_number": "1001"}, {"fscc_tenant": "hotline", "domain_name": "pbx.example"})
    assert _run(hunt) == [("set", "hangup_after_bridge=true"), ("bridge", "user/1001@pbx.example")]
    acme = dp.hunt("fscc_agents", {"destination_number": "2001"}, {"fscc_tenant": "acme"})
    assert ("bridge", "user/2001@acme.example.com") in _run(acme)
    # another tenant's extension is not reachable: 2001 is acme's, the hotline has no 2001
    other = dp.hunt("fscc_agents", {"destination_number": "2001"}, {"fscc_tenant": "hotline"})
    assert [a.application for a in other.actions] == ["transfer"]  # goes to the outbound rules instead
    assert dp.route("fscc_agents", {"destination_number": "*97"}, {"fscc_tenant": "hotline"})[0].data == "UNALLOCATED_NUMBER"


@pytest.mark.parametrize("dialed", ["13800138000", "+8613800138000", "008613800138000", "013800138000"])
def test_outbound_national_number_through_the_trunk_with_guards(dp: Dialplan, dialed: str) -> None:
    agent_leg = dp.route("fscc_agents", {"destination_number": dialed}, {"fscc_tenant": "hotline"})
    assert [(a.application, a.data) for a in agent_leg] == [("transfer", f"{dialed} XML fscc_outbound")]
    hunt = dp.hunt("fscc_outbound", {"destination_number": dialed}, {"fscc_tenant": "hotline"})
    assert hunt.variables["fscc_dialed_e164"] == "+8613800138000"
    assert _run(hunt) == [
        ("set", "fscc_trunk=cmcc"),
        ("limit", "hash fscc_trunk_calls cmcc 60 !NORMAL_CIRCUIT_CONGESTION"),
        ("limit", "hash fscc_trunk_cps cmcc 10/1 !NORMAL_CIRCUIT_CONGESTION"),
        ("set", "effective_caller_id_name=China Mobile 10086"),
        ("set", "effective_caller_id_number=+8610086"),
        ("set", "hangup_after_bridge=true"),
        ("bridge", "sofia/gateway/cmcc/+8613800138000"),
    ]


@pytest.mark.parametrize("dialed", ["0044207946000", "+442079460000", "+85221234567"])
def test_international_number_is_barred_when_not_enabled(dp: Dialplan, dialed: str) -> None:
    hunt = dp.hunt("fscc_outbound", {"destination_number": dialed}, {"fscc_tenant": "hotline"})
    assert _run(hunt) == [("hangup", "OUTGOING_CALL_BARRED")]


def test_international_route_enabled_for_one_destination_only(dp: Dialplan) -> None:
    hk = dp.hunt("fscc_outbound", {"destination_number": "+85221234567"}, {"fscc_tenant": "acme"})
    assert ("bridge", "sofia/gateway/cmcc/+85221234567") in _run(hk)
    uk = dp.hunt("fscc_outbound", {"destination_number": "+442079460000"}, {"fscc_tenant": "acme"})
    assert _run(uk) == [("hangup", "OUTGOING_CALL_BARRED")]


def test_number_outside_the_allow_list_is_barred(dp: Dialplan) -> None:
    # a national number that is neither a mobile (1[3-9]...) nor a landline: not in the allow-list
    hunt = dp.hunt("fscc_outbound", {"destination_number": "+8610012345678"}, {"fscc_tenant": "hotline"})
    assert _run(hunt) == [("hangup", "OUTGOING_CALL_BARRED")]


def test_garbage_and_unknown_tenants(dp: Dialplan) -> None:
    assert _run(dp.hunt("fscc_outbound", {"destination_number": "12"}, {"fscc_tenant": "hotline"})) == [("hangup", "INVALID_NUMBER_FORMAT")]
    assert _run(dp.hunt("fscc_outbound", {"destination_number": "+8613800138000"}, {})) == [("hangup", "OUTGOING_CALL_BARRED")]
    # a preset fscc_dialed_e164 cannot smuggle a number past the normalisation
    smuggled = dp.hunt("fscc_outbound", {"destination_number": "x"}, {"fscc_tenant": "hotline", "fscc_dialed_e164": "+8613800138000"})
    assert _run(smuggled) == [("hangup", "INVALID_NUMBER_FORMAT")]


@pytest.mark.parametrize(
    ("requested", "presented"),
    [("+862188886667", "+862188886667"), ("02188886667", "+862188886667"), ("00862188886668", "+862188886668"),
     ("+8613999999999", "+862188886666"), ("021888866", "+862188886666"), (None, "+862188886666")],
)
def test_owned_caller_id_policy(dp: Dialplan, requested: str | None, presented: str) -> None:
    variables = {"fscc_tenant": "acme"} | ({"fscc_outbound_caller_id": requested} if requested else {})
    hunt = dp.hunt("fscc_outbound", {"destination_number": "02112345678"}, variables)
    run = _run(hunt)
    assert ("set", f"effective_caller_id_number={presented}") in run
    assert run[-1] == ("bridge", "sofia/gateway/acme_sbc/02112345678")
