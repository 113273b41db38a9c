"""Fixtures of the ESL tests: the real FreeSWITCH transcripts, loaded once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def load_captures(captures_dir: Path) -> dict[str, dict]:
    """Every `<scenario>.json` transcript (not the CDR files), by scenario file stem."""
    out = {}
    for path in sorted(captures_dir.glob("*.json")):
        if ".cdr." in path.name:
            continue
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="session")
def captures(captures_dir: Path) -> dict[str, dict]:
    data = load_captures(captures_dir)
    assert len(data) >= 20, f"expected the full capture set in {captures_dir}, found {sorted(data)}"
    return data
