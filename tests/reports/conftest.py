"""Report fixtures: a real SQLite CRM store built with crm_sync's own models and migrations."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from crm_sync.models import Contact, open_database

_keys = itertools.count(1)


def add_contact(db, **fields) -> Contact:
    """Insert one Contact row; every column the reports do not care about gets a plain default."""
    row = {
        "key": f"00000000-0000-0000-0000-{next(_keys):012d}", "tenant": "default", "channel": "voice",
        "direction": "inbound", "ani": "13800138000", "dnis": "10086", "queue": "", "agent": "", "tier": None,
        "answered_at": None, "enqueued_at": None, "agent_answered_at": None, "abandoned_at": None,
        "wait_s": 0.0, "talk_s": 0.0, "hold_s": 0.0, "acw_s": 0.0,
    }
    row.update(fields)
    row.setdefault("ended_at", row["started_at"] + 60)
    with db.bind_ctx([Contact]):
        return Contact.create(**row)


@pytest.fixture
def crm_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crm.sqlite3'}"


@pytest.fixture
def crm_db(crm_db_url: str):
    db = open_database(crm_db_url)
    yield db
    db.close()


@pytest.fixture
def add(crm_db):
    """`add(started_at=..., outcome=..., ...)` inserts a Contact into the test's CRM store."""
    return lambda **fields: add_contact(crm_db, **fields)
