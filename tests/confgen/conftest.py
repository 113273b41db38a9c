"""Fixtures of the confgen tests: the repository's example fscc.yaml and its secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fs_scripts.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "fscc.example.yaml"

#: what /etc/fscc/secrets.env would hold for the example (never in the YAML)
EXAMPLE_SECRETS = {
    "FSCC_SECRET_TRUNK_CMCC": "trunk-pw-cmcc",
    "FSCC_SECRET_AGENT_1001": "agent-pw-1001",
    "FSCC_SECRET_AGENT_1002": "agent-pw-1002",
    "FSCC_SECRET_AGENT_ACME_2001": "agent-pw-2001",
}
EXAMPLE_ENV = {"FSCC_ESL__PASSWORD": "esl-Secret-4-tests", **EXAMPLE_SECRETS}


@pytest.fixture
def example_settings() -> Settings:
    return load_settings(EXAMPLE, environ={"FSCC_ESL__PASSWORD": EXAMPLE_ENV["FSCC_ESL__PASSWORD"]})


def write_config(tmp_path: Path, text: str, name: str = "fscc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
