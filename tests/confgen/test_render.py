"""The rendered tree: every file parses, matches the golden files, and says what the switch needs."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fs_scripts.confgen.model import FSCC_MODULES
from fs_scripts.confgen.render import render

from .conftest import EXAMPLE_ENV

GOLDEN = Path(__file__).with_name("golden")


@pytest.fixture
def tree(example_settings, tmp_path: Path) -> Path:
    render(example_settings, tmp_path, EXAMPLE_ENV, source_name="fscc.example.yaml")
    return tmp_path


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_rendered_xml_file_parses(tree: Path) -> None:
    xml_files = [p for p in tree.rglob("*.xml")]
    assert len(xml_files) == 10
    for path in xml_files:
        ET.parse(path)  # raises on a broken file


def test_golden_files(tree: Path) -> None:
    """The example renders byte for byte as reviewed. Regenerate: UPDATE_GOLDEN=1 pytest tests/confgen."""
    rendered = _files(tree)
    if os.environ.get("UPDATE_GOLDEN"):
        for rel, text in rendered.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    golden = _files(GOLDEN)
    assert sorted(rendered) == sorted(golden)
    for rel, text in rendered.items():
        assert text == golden[rel], f"{rel} differs from tests/confgen/golden/{rel}"


def test_the_tree_drops_into_a_conf_directory(tree: Path) -> None:
    assert {p.name for p in tree.iterdir()} == {"autoload_configs", "dialplan", "directory", "sip_profiles", "systemd"}


def test_files_with_secrets_are_private(tree: Path) -> None:
    for rel in ("autoload_configs/event_socket.conf.xml", "sip_profiles/fscc_trunks.xml",
                "directory/default/fscc_zhang.wei.xml", "directory/fscc_acme.xml"):
        assert stat.S_IMODE((tree / rel).stat().st_mode) == 0o600, rel
    assert stat.S_IMODE((tree / "dialplan/fscc.xml").stat().st_mode) == 0o644


def _params(path: Path) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in ET.parse(path).getroot().iter("param")}


def test_event_socket_on_loopback_with_acl_and_the_configured_password(tree: Path) -> None:
    params = _params(tree / "autoload_configs/event_socket.conf.xml")
    assert params == {
        "nat-map": "false", "listen-ip": "127.0.0.1", "listen-port": "8021",
        "password": "esl-Secret-4-tests", "apply-inbound-acl": "fscc_esl", "stop-on-bind-error": "true",
    }
    acl = ET.parse(tree / "autoload_configs/acl.conf.xml").getroot()
    esl = next(x for x in acl.iter("list") if x.get("name") == "fscc_esl")
    assert esl.get("default") == "deny"
    assert [n.get("cidr") for n in esl] == ["127.0.0.1/32", "::1/128"]


def test_json_cdr_writes_both_legs_encoded_into_the_spool_without_http(tree: Path) -> None:
    root = ET.parse(tree / "autoload_configs/json_cdr.conf.xml").getroot()
    assert root.get("name") == "json_cdr.conf"
    params = _params(tree / "autoload_configs/json_cdr.conf.xml")
    assert params["log-dir"] == "/var/spool/fscc/cdr"
    assert params["log-b-leg"] == "true" and params["encode-values"] == "true"
    assert "url" not in params and "cred" not in params


def test_python_conf_is_the_name_mod_python3_reads(tree: Path) -> None:
    assert ET.parse(tree / "autoload_configs/python3.conf.xml").getroot().get("name") == "python.conf"
    dropin = (tree / "systemd/freeswitch.service.d/fscc-python.conf").read_text()
    assert "Environment=PYTHONPATH=/opt/fscc/lib/python3.11/site-packages" in dropin


def test_modules_include_what_fscc_needs(tree: Path) -> None:
    loaded = [m.get("module") for m in ET.parse(tree / "autoload_configs/modules.conf.xml").getroot().iter("load")]
    assert loaded[: len(FSCC_MODULES)] == list(FSCC_MODULES)
    assert loaded[-1] == "mod_opus"  # deploy.extra_modules
    for needed in ("mod_event_socket", "mod_json_cdr", "mod_python3", "mod_sofia", "mod_hash", "mod_dialplan_xml"):
        assert needed in loaded


def test_trunk_gateways(tree: Path) -> None:
    root = ET.parse(tree / "sip_profiles/fscc_trunks.xml").getroot()
    gateways = {g.get("name"): g for g in root.iter("gateway")}
    assert set(gateways) == {"cmcc", "acme_sbc"}
    cmcc = {p.get("name"): p.get("value") for p in gateways["cmcc"].iter("param")}
    assert cmcc["register"] == "true" and cmcc["password"] == "trunk-pw-cmcc" and cmcc["ping"] == "30"
    assert cmcc["caller-id-in-from"] == "true" and cmcc["context"] == "fscc_inbound"
    codecs = {v.get("name"): v.get("value") for v in gateways["cmcc"].iter("variable")}
    assert codecs["absolute_codec_string"] == "PCMA,PCMU,G729"
    sbc = {p.get("name"): p.get("value") for p in gateways["acme_sbc"].iter("param")}
    assert sbc["register"] == "false"
    settings = {p.get("name"): p.get("value") for p in root.find("profile/settings")}
    assert settings["apply-inbound-acl"] == "fscc_trunks" and settings["context"] == "fscc_inbound"
    acl = ET.parse(tree / "autoload_configs/acl.conf.xml").getroot()
    trunks = next(x for x in acl.iter("list") if x.get("name") == "fscc_trunks")
    assert [n.get("cidr") for n in trunks] == ["203.0.113.10/32", "203.0.113.11/32"]


def test_agents_become_directory_users_with_passwords_from_the_environment(tree: Path) -> None:
    user = ET.parse(tree / "directory/default/fscc_zhang.wei.xml").getroot().find("user")
    assert user.get("id") == "1001"
    assert user.find("params/param").get("value") == "agent-pw-1001"
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert variables["user_context"] == "fscc_agents"
    assert variables["fscc_tenant"] == "hotline" and variables["fscc_agent"] == "zhang.wei"
    domain = ET.parse(tree / "directory/fscc_acme.xml").getroot().find("domain")
    assert domain.get("name") == "acme.example.com"
    assert [u.get("id") for u in domain.iter("user")] == ["2001"]


def test_the_serve_unit_is_shipped(tree: Path) -> None:
    unit = (tree / "systemd/fscc-serve.service").read_text()
    assert "ExecStart=/usr/local/bin/fscc serve" in unit and "[Install]" in unit
