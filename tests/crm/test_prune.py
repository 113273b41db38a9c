"""`fscc recordings prune` / hold / release against SQLite and a real PostgreSQL (db_url fixture)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_sync.errors import SyncConfigError
from crm_sync.models import MODELS, Recording, open_database
from crm_sync.retention import parse_age
from fs_scripts.recording_cli import recordings

DAY = 86400.0


@pytest.fixture
def setup(tmp_path: Path, db_url: str):
    root = tmp_path / "recordings"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    config = tmp_path / "fscc.yaml"
    config.write_text(
        f"recordings_dir: {root}\n"
        "recording:\n"
        "  default: {retention_days: 60}\n"
        "  tenants:\n"
        "    keep: {retention_days: 365}\n"
        "    short: {retention_days: 30}\n", encoding="utf-8")
    now = time.time()
    rows = {
        "old": ("default", 100, False), "held": ("default", 400, True), "young": ("default", 10, False),
        "keep-old": ("keep", 100, False), "keep-older": ("keep", 400, False),
        "short-mid": ("short", 40, False), "short-old": ("short", 95, False), "gone": ("default", 100, False),
        "dir": ("default", 100, False),
    }
    paths = {}
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        for name, (tenant, age_days, hold) in rows.items():
            path = root / tenant / "2026" / f"{name}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            if name == "dir":
                path.mkdir()  # cannot be unlinked: an I/O error the row must survive
            elif name != "gone":
                path.write_bytes(b"RIFF" + b"\0" * 996)
            paths[name] = path
            Recording.create(path=str(path), tenant=tenant, leg_uuid=name, recorded_at=now - age_days * DAY,
                             legal_hold=hold, size_bytes=1000)
        forged = outside / "not-a-recording.txt"
        forged.write_text("precious")
        Recording.create(path=str(forged), tenant="default", leg_uuid="forged", recorded_at=now - 200 * DAY)
        Recording.create(path="default/relative.wav", tenant="default", leg_uuid="rel", recorded_at=now - 200 * DAY)
        (root / "default" / "relative.wav").write_bytes(b"x" * 10)
    db.close()
    paths["forged"] = forged
    paths["relative"] = root / "default" / "relative.wav"
    return config, paths, root


def _state(db_url: str) -> dict[str, tuple[bool, bool]]:
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        out = {r.leg_uuid: (r.deleted_at is not None, r.legal_hold) for r in Recording.select()}
    db.close()
    return out


def _run(*args: str):
    return CliRunner().invoke(recordings, list(args))


def test_prune_respects_retention_legal_hold_and_the_recordings_dir(setup, db_url: str) -> None:
    config, paths, root = setup
    dry = _run("prune", "--older-than", "90d", "--config", str(config), "--db", db_url, "--dry-run")
    assert dry.exit_code == 1, dry.output  # the forged path is refused even in a dry run
    assert f"would delete {paths['old']}" in dry.output and "would delete" in dry.output
    assert all(p.exists() for name, p in paths.items() if name != "gone")
    assert not any(deleted for deleted, _ in _state(db_url).values())

    result = _run("prune", "--older-than", "90d", "--config", str(config), "--db", db_url, "--json")
    assert result.exit_code == 1, result.output + result.stderr
    report = json.loads(result.stdout)
    assert report["deleted"] == 4 and report["missing"] == 1 and report["held"] == 1
    assert report["refused"] == [str(paths["forged"])] and len(report["errors"]) == 1
    assert report["bytes_freed"] == 3 * 1000 + 10
    state = _state(db_url)
    deleted = {name for name, (d, _) in state.items() if d}
    assert deleted == {"old", "keep-older", "short-old", "gone", "rel"}
    for name in ("old", "keep-older", "short-old", "relative"):
        assert not paths[name].exists()
    for name in ("held", "young", "keep-old", "short-mid", "dir", "forged"):
        assert paths[name].exists(), name
    assert paths["forged"].read_text() == "precious"

    again = _run("prune", "--older-than", "90d", "--config", str(config), "--db", db_url)
    assert again.exit_code == 1 and again.stdout.strip().startswith("deleted 0 recordings")


def test_tenant_retention_alone_and_hold_release(setup, db_url: str) -> None:
    config, paths, _root = setup
    held = _run("hold", str(paths["young"]), str(paths["short-mid"]), "/no/such.wav", "--config", str(config),
                "--db", db_url)
    assert held.exit_code == 1 and "held 2 recordings" in held.output and "/no/such.wav" in held.stderr
    released = _run("release", str(paths["held"]), "--config", str(config), "--db", db_url, "--json")
    assert released.exit_code == 0 and json.loads(released.stdout)["changed"] == 1
    # without --older-than only each tenant's retention counts: short (30 d) loses its 40-day one
    # unless held, the released 400-day one goes
    result = _run("prune", "--config", str(config), "--db", db_url, "--json")
    report = json.loads(result.stdout)
    state = _state(db_url)
    assert state["held"] == (True, False) and not paths["held"].exists()
    assert state["short-mid"] == (False, True) and paths["short-mid"].exists()
    assert state["young"] == (False, True)
    assert state["keep-old"] == (False, False)
    assert report["held"] == 1  # short-mid


def test_bad_input_exits_2_and_changes_nothing(setup, db_url: str, tmp_path: Path) -> None:
    config, paths, _root = setup
    bad_age = _run("prune", "--older-than", "ninety days", "--config", str(config), "--db", db_url)
    assert bad_age.exit_code == 2 and "--older-than" in bad_age.stderr
    bad_db = _run("prune", "--older-than", "1d", "--config", str(config), "--db", "postgresql://nobody@127.0.0.1:1/x",
                  "--json")
    assert bad_db.exit_code == 2 and json.loads(bad_db.stdout)["error"] == "crm-database"
    no_dir = _run("prune", "--config", str(config), "--db", db_url, "--recordings-dir", str(tmp_path / "nope"))
    assert no_dir.exit_code == 2
    assert not any(deleted for deleted, _ in _state(db_url).values())
    assert paths["old"].exists()


@pytest.mark.parametrize(("text", "seconds"), [("90d", 90 * DAY), ("12h", 43200), ("2w", 14 * DAY), ("30", 30 * DAY),
                                                ("45m", 2700), ("3600s", 3600), ("1.5d", 1.5 * DAY)])
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "-1d", "90 days", "1y"])
def test_parse_age_refuses(text: str) -> None:
    with pytest.raises(SyncConfigError):
        parse_age(text)
