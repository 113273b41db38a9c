"""fscc.example.yaml covers every top-level section of Settings, commented, and loads."""

from __future__ import annotations

import dataclasses
import re

import yaml

from fs_scripts.settings import Settings, load_settings

from .conftest import EXAMPLE


def test_every_top_level_settings_field_is_in_the_example() -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    fields = [f.name for f in dataclasses.fields(Settings)]
    missing = [name for name in fields if name not in data]
    assert not missing, f"fscc.example.yaml lacks the sections {missing}"
    assert set(data) <= set(fields)


def test_every_top_level_section_is_commented() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for f in dataclasses.fields(Settings):
        line = next(i for i, line in enumerate(text.splitlines()) if re.match(rf"^{f.name}:", line))
        around = text.splitlines()[max(0, line - 3): line + 1]
        assert any("#" in part for part in around), f"section {f.name} has no comment near it"


def test_the_example_loads_and_keeps_its_numbers() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert set(settings.tenants) == {"hotline", "acme"}
    assert settings.deploy.outbound["hotline"].caller_id_number == "+8610086"
    assert settings.deploy.trunks["cmcc"].dids[0].number == "+8610086"
    assert settings.acd.agents["zhang.wei"].extension == "1001"
    assert settings.acd.agents["zhang.wei"].password_env == "FSCC_SECRET_AGENT_1001"
    assert "password:" not in EXAMPLE.read_text(encoding="utf-8").split("deploy:")[1]  # no secret in the YAML
