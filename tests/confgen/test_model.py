"""Cross-section rules, secrets, the ClueCon refusal, and values that try to break out."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs_scripts.confgen.model import DeployConfigError, Numbering, build_model, to_e164
from fs_scripts.confgen.render import render
from fs_scripts.errors import SettingsError
from fs_scripts.settings import load_settings
from fssim.dialplan import Dialplan, expand

from .conftest import write_config

BASE = {
    "esl": {"password": "a-long-esl-password"},
    "spool_dir": "/var/spool/fscc/cdr",
    "tenants": {"t1": {"name": "T1"}},
    "deploy": {
        "python_path": "/opt/fscc/site-packages",
        "trunks": {"tr": {"proxy": "198.51.100.1", "ip_addresses": ["198.51.100.1"],
                          "dids": [{"number": "+861011112222", "tenant": "t1", "flow": "main.yaml.j2"}]}},
        "outbound": {"t1": {"caller_id_number": "+861011112222", "caller_id_name": "T One",
                            "routes": [{"trunk": "tr", "allow": [r"^\+861[3-9]\d{9}$"]}]}},
    },
    "acd": {"agents": {"a1": {"name": "Agent One", "tenant": "t1", "extension": "1001", "password_env": "FSCC_SECRET_A1"}}},
}
ENV = {"FSCC_SECRET_A1": "pw-a1"}


def _merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _settings(tmp_path: Path, patch: dict | None = None):
    path = write_config(tmp_path, yaml.safe_dump(_merge(BASE, patch or {}), allow_unicode=True))
    return load_settings(path, environ={})


def _problems(tmp_path: Path, patch: dict, env: dict | None = None, **kwargs) -> list[str]:
    with pytest.raises(DeployConfigError) as info:
        build_model(_settings(tmp_path, patch), ENV if env is None else env, **kwargs)
    assert info.value.exit_code == 2
    return info.value.problems


def test_base_config_builds(tmp_path: Path) -> None:
    model = build_model(_settings(tmp_path), ENV)
    assert [d.tenant for d in model.dids] == ["t1"] and model.agents[0].password == "pw-a1"


def test_default_esl_password_is_refused_unless_allowed(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {"esl": {"password": "ClueCon"}})
    assert problems[0].startswith("esl.password: is FreeSWITCH's default 'ClueCon'")
    assert "CVE-2019-19492" in problems[0] and "--allow-default-password" in problems[0]
    model = build_model(_settings(tmp_path, {"esl": {"password": "ClueCon"}}), ENV, allow_default_password=True)
    assert model.esl_password == "ClueCon"


def test_cross_section_problems_name_their_key_paths(tmp_path: Path) -> None:
    patch = {
        "deploy": {
            "trunks": {"tr": {"dids": [{"number": "+861011112222", "tenant": "nobody"},
                                       {"number": "861011112222", "tenant": "t1", "fallback": "missing"}]}},
            "outbound": {"t1": {"caller_id_number": "+861011112222", "routes": [{"trunk": "nope", "allow": ["^x$"]}]},
                         "ghost": {"caller_id_number": "+861011112222"}},
        },
        "acd": {"agents": {"a1": {"tenant": "t1", "extension": "1001", "password_env": "FSCC_SECRET_MISSING"},
                           "a2": {"tenant": "t1", "extension": "1001", "password_env": "FSCC_SECRET_A1"},
                           "a3": {"tenant": "t1", "extension": "1003"}}},
    }
    problems = "\n".join(_problems(tmp_path, patch))
    for expected in (
        "deploy.trunks.tr.dids.0.tenant: unknown tenant 'nobody'",
        "deploy.trunks.tr.dids.1.fallback: unknown fallback 'missing'",
        "deploy.trunks.tr.dids.1.number: 861011112222 is already routed by deploy.trunks.tr.dids.0",
        "deploy.outbound.t1.routes.0.trunk: unknown trunk 'nope'",
        "deploy.outbound.ghost: unknown tenant 'ghost'",
        "acd.agents.a1.password_env: the environment variable FSCC_SECRET_MISSING is not set",
        "acd.agents.a2.extension: 1001 is already the extension of acd.agents.a1",
        "acd.agents.a3.password_env: required for an agent with an extension",
    ):
        assert expected in problems


def test_stock_context_names_are_refused(tmp_path: Path) -> None:
    assert any(p.startswith("deploy.agent_context: 'default' is a context of FreeSWITCH's stock dialplan")
               for p in _problems(tmp_path, {"deploy": {"agent_context": "default"}}))


def test_unsafe_secret_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {}, env={"FSCC_SECRET_A1": "pw$${domain}"})
    assert problems == ["acd.agents.a1.password_env: the value of FSCC_SECRET_A1: '$${' is not allowed (FreeSWITCH's pre-processor would replace it)"]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"deploy": {"outbound": {"t1": {"caller_id_name": "Evil\n<action application=\"bridge\"/>"}}}},
         "deploy.outbound.t1.caller_id_name: expected text without control characters or backslashes"),
        ({"deploy": {"trunks": {"tr": {"dids": [{"number": "+861011112222", "tenant": "t1", "flow": "a\"/><action application=\"bridge\""}]}}}},
         "deploy.trunks.tr.dids.0.flow: expected a flow file name without spaces"),
        ({"deploy": {"trunks": {"tr": {"proxy": "evil\"/><param name=\"x"}}}},
         "deploy.trunks.tr.proxy: expected host or host:port"),
        ({"deploy": {"outbound": {"t1": {"routes": [{"trunk": "tr", "allow": ["^${system(id)}$"]}]}}}},
         "deploy.outbound.t1.routes.0.allow: expected a non-empty list of regular expressions"),
        ({"deploy": {"outbound": {"t1": {"caller_id_number": 861011112222}}}},
         "deploy.outbound.t1.caller_id_number: expected an E.164 number such as '+861012345678' (quote it"),
    ],
)
def test_values_that_would_break_out_are_refused_with_their_key_path(tmp_path: Path, patch: dict, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        _settings(tmp_path, patch)
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert any(p.startswith("line ") for p in info.value.problems)


def test_identifiers_from_other_sections_are_checked_before_they_reach_the_dialplan(tmp_path: Path) -> None:
    patch = {"tenants": {'t"1': {"name": "x"}}, "deploy": {"trunks": {'tr<1': {"proxy": "198.51.100.1", "ip_addresses": ["198.51.100.1"]}}}}
    problems = "\n".join(_problems(tmp_path, patch))
    assert "tenants.t\"1: a tenant id must be letters, digits" in problems
    assert "deploy.trunks.tr<1: a trunk name must be letters, digits" in problems


HOSTILE = 'Evil" /><action application="bridge" data="sofia/gateway/x/1"/> ${system(rm -rf /)} $${domain} {x} & <'


def test_hostile_text_stays_text_in_xml_and_dialplan(tmp_path: Path) -> None:
    patch = {"deploy": {"outbound": {"t1": {"caller_id_name": HOSTILE}},
                        "fallbacks": {"default": {"announcement": HOSTILE}}},
             "acd": {"agents": {"a1": {"name": 'Ann "the <boss>" & co'}}}}
    _, files = render(_settings(tmp_path, patch), tmp_path / "out", ENV)
    dp = Dialplan.from_file(tmp_path / "out" / "dialplan" / "fscc.xml")
    out = dp.hunt("fscc_outbound", {"destination_number": "13800138000"}, {"fscc_tenant": "t1"})
    run = [(a.application, expand(a.data, out.variables)) for a in out.actions if not a.inline]
    assert ("set", "effective_caller_id_name=" + HOSTILE) in run
    assert [app for app, _ in run] == ["set", "limit", "limit", "set", "set", "set", "bridge"]
    assert run[-1] == ("bridge", "sofia/gateway/tr/+8613800138000")
    inbound = dp.route("fscc_inbound", {"destination_number": "+861011112222"})
    assert ("playback", HOSTILE) in [(a.application, expand(a.data, {})) for a in inbound]
    assert [a.application for a in inbound].count("bridge") == 0
    user = ET.parse(tmp_path / "out/directory/default/fscc_a1.xml").getroot().find("user")
    assert {v.get("name"): v.get("value") for v in user.iter("variable")}["effective_caller_id_name"] == 'Ann "the <boss>" & co'


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory: pytest.TempPathFactory):
    return _settings(tmp_path_factory.mktemp("base"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"), min_size=1, max_size=40))
def test_any_caller_id_name_renders_to_one_set_action(base_settings, name: str) -> None:
    rules = dataclasses.replace(base_settings.deploy.outbound["t1"], caller_id_name=name)
    deploy = dataclasses.replace(base_settings.deploy, outbound={"t1": rules})
    _, files = render(dataclasses.replace(base_settings, deploy=deploy), None, ENV)
    text = next(f.text for f in files if f.path == "dialplan/fscc.xml")
    dp = Dialplan.from_string(text)
    out = dp.hunt("fscc_outbound", {"destination_number": "13800138000"}, {"fscc_tenant": "t1", "system": "X"})
    sets = [expand(a.data, out.variables) for a in out.actions if a.application == "set" and a.data.startswith("effective_caller_id_name=")]
    assert sets == ["effective_caller_id_name=" + name]
    # the route's seven actions and nothing more: no text can add an action
    assert [a.application for a in out.actions if not a.inline] == ["set", "limit", "limit", "set", "set", "set", "bridge"]


@pytest.mark.parametrize(
    ("number", "e164"),
    [("+8613800138000", "+8613800138000"), ("008613800138000", "+8613800138000"), ("013800138000", "+8613800138000"),
     ("13800138000", "+8613800138000"), ("02112345678", "+862112345678"), ("12", None), ("+0123", None)],
)
def test_to_e164(number: str, e164: str | None) -> None:
    assert to_e164(number, Numbering("86", "0", "00", 7)) == e164


def test_fallback_to_an_agent_extension_rings_it_in_the_tenant(tmp_path: Path) -> None:
    patch = {"deploy": {"fallbacks": {"default": {"announcement": "", "transfer_to": "1001", "hangup_cause": "USER_BUSY"}}}}
    render(_settings(tmp_path, patch), tmp_path / "out", ENV)
    dp = Dialplan.from_file(tmp_path / "out" / "dialplan" / "fscc.xml")
    inbound = [(a.application, a.data) for a in dp.route("fscc_inbound", {"destination_number": "861011112222"})]
    assert inbound[-3:] == [("set", "fscc_fallback=serve-unavailable"), ("transfer", "1001 XML fscc_agents"), ("hangup", "USER_BUSY")]
    agent = dp.route("fscc_agents", {"destination_number": "1001"}, {"fscc_tenant": "t1"})
    assert [(a.application, a.data) for a in agent][-1] == ("bridge", "user/1001@${domain_name}")
