"""Fixtures of the engine tests. The queue end-to-end tests start a flow that sends every caller straight to the
`support` queue (the engine's default flow), a dialplan that hands 5000 to its outbound socket, and `fscc serve`'s
Service beside fssim over real TCP, on a fast clock."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from acd.config import AcdSettings
from crm_sync.models import open_database
from fs_scripts.clock import Clock, make_clock
from fs_scripts.service import Service
from fs_scripts.settings import Settings
from ivr_flows.config import IvrSettings

# the IVR tests' dialplan writer (tests/ivr/runtime_flows.py; --import-mode=importlib: loaded by path)
_spec = importlib.util.spec_from_file_location("ivr_runtime_flows", Path(__file__).parent.parent / "ivr" / "runtime_flows.py")
_runtime_flows = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runtime_flows)

FLOW = """\
flow: queue_only
tenant: default
language: en
start: agents
nodes:
  agents:
    type: queue
    queue: support
    announce_every_s: 0
    max_wait_s: 600
    answered: goodbye
    on_failed: goodbye
    on_max_wait: goodbye
  goodbye:
    type: hangup
"""


def queue_settings(tmp_path: Path, acd: AcdSettings) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "queue_only.yaml.j2").write_text(FLOW, encoding="utf-8")
    return dataclasses.replace(
        Settings(), data_dir=tmp_path / "data", spool_dir=tmp_path / "spool", recordings_dir=tmp_path / "rec",
        acd=acd, ivr=IvrSettings(flows_dir=str(flows), default_flow="queue_only.yaml.j2"),
    )


@contextlib.contextmanager
def running_engine(tmp_path: Path, redis_client, fssim_factory: Callable, acd: AcdSettings, users: list[str],
                   scale: float) -> Iterator[tuple[Service, object, Settings, Clock]]:
    """Service listening, fssim dialing into it, the Service connected to fssim's ESL port."""
    clock = make_clock("fast", scale=scale)
    settings = queue_settings(tmp_path, acd)
    database = open_database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    service = Service(settings, clock, redis_client=redis_client, database=database, node_id="e2e",
                      listen_port=0).listen()
    sim = fssim_factory(dialplan=_runtime_flows.socket_dialplan(tmp_path, service.address[1], destination="5000"),
                        clock=clock,
                        spool_dir=settings.spool_dir, users=users)
    service.settings = dataclasses.replace(settings, esl=dataclasses.replace(settings.esl, port=sim.esl_port))
    service.connect()
    try:
        yield service, sim, settings, clock
    finally:
        service.stop()


def cdr_variables(spool: Path, uuid: str) -> dict[str, str]:
    """The channel variables of a leg's CDR file, URL-decoded (json_cdr encode-values=true)."""
    data = json.loads((spool / f"{uuid}.cdr.json").read_text())
    return {k: urllib.parse.unquote(v) for k, v in data["variables"].items()}


@pytest.fixture
def start_queue_engine(tmp_path: Path, redis_client, fssim_factory):
    """start(acd, users, scale) -> (service, sim, settings, clock); stopped after the test."""
    with contextlib.ExitStack() as stack:
        def start(acd: AcdSettings, users: list[str], scale: float):
            return stack.enter_context(running_engine(tmp_path, redis_client, fssim_factory, acd, users, scale))

        yield start


@pytest.fixture
def read_cdr_variables():
    """cdr_variables(spool, uuid), for the tests (importlib import mode: conftest is not importable)."""
    return cdr_variables
