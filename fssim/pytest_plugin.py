"""pytest fixtures for testing against fssim over real TCP (tests/conftest.py loads this).

    def test_something(fssim):              # started, fast clock, tmp spool; stopped after
        conn = InboundConnection("127.0.0.1", fssim.esl_port, "ClueCon")
        ...

    def test_other(fssim_factory):          # your own options; every one is stopped after
        sim = fssim_factory(dialplan=path, clock=make_clock("fast", scale=100))

The simulator runs in greenlets of the test's own thread: talk to it with gevent sockets
(the fscc ESL layer uses them); a blocking stdlib socket would starve it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fs_scripts.clock import make_clock
from fssim.simulator import Simulator

#: simulated seconds per wall second in the `fssim` fixture
TEST_CLOCK_SCALE = 20.0


@pytest.fixture
def fssim_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Simulator]]:
    """Make started simulators with any Simulator(...) options; all are stopped at teardown."""
    made: list[Simulator] = []

    def make(**kwargs: Any) -> Simulator:
        base = tmp_path_factory.mktemp("fssim")
        kwargs.setdefault("spool_dir", Path(base) / "cdr")
        kwargs.setdefault("recordings_dir", Path(base) / "recordings")
        kwargs.setdefault("clock", make_clock("fast", scale=TEST_CLOCK_SCALE))
        kwargs.setdefault("esl_port", 0)
        sim = Simulator(**kwargs)
        sim.start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def fssim(fssim_factory: Callable[..., Simulator]) -> Simulator:
    """An in-process fssim on a free port with the fast clock and a temporary CDR spool."""
    return fssim_factory()
