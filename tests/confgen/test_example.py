"""fscc.example.yaml covers every top-level section of Settings, commented, and loads."""

from __future__ import annotations

import dataclasses
import re
import typing

import yaml

from fs_scripts.confgen.config import DeploySettings
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


def _missing_fields(cls: type, node: object, path: str) -> list[str]:
    """Fields of dataclass `cls` that the example never sets at `path` (every entry of a
    mapping or list of dataclasses counts: a field set in any one of them is shown)."""
    hints = typing.get_type_hints(cls)
    missing = []
    for f in dataclasses.fields(cls):
        here = f"{path}.{f.name}"
        if not isinstance(node, dict) or f.name not in node:
            missing.append(here)
            continue
        kind, args, value = hints[f.name], typing.get_args(hints[f.name]), node[f.name]
        if dataclasses.is_dataclass(kind):
            missing += _missing_fields(kind, value, here)
        elif args and dataclasses.is_dataclass(args[-1]) and isinstance(value, (dict, list)):
            entries = list(value.values()) if isinstance(value, dict) else value
            gaps = [set(_missing_fields(args[-1], entry, here + "[]")) for entry in entries]
            missing += sorted(set.intersection(*gaps)) if gaps else [here + "[]"]
    return missing


def test_every_deploy_key_is_shown_in_the_example() -> None:
    """`fscc conf render` is driven by deploy: every key of it, at every depth, has an example."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert _missing_fields(DeploySettings, data["deploy"], "deploy") == []
