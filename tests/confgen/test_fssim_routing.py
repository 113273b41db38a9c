"""The rendered dialplan loaded by fssim (`dialplan=`), calls placed and observed over real TCP.

fssim runs `dialplan/fscc.xml` as the switch would; a fake `fscc serve` accepts the outbound
event socket, and an inbound event-socket client watches the channel events. Nothing here
talks to fssim but through its sockets, except placing the carrier's call.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import gevent
import gevent.server
import gevent.socket
import pytest

from fs_scripts.confgen.render import render
from fs_scripts.esl import commands, frames
from fs_scripts.settings import Settings
from fssim.directory import AgentBehaviour

from .conftest import EXAMPLE_ENV

PASSWORD = EXAMPLE_ENV["FSCC_ESL__PASSWORD"]


class EslClient:
    """A minimal inbound event-socket client on gevent sockets: auth, subscribe, collect events."""

    def __init__(self, port: int) -> None:
        self.sock = gevent.socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = frames.FrameReader()
        self.replies: list[frames.Frame] = []
        self.events: list[frames.Event] = []
        self.greenlet = gevent.spawn(self._read)
        self._wait(lambda: self.replies and self.replies[0].content_type == "auth/request")
        self.command(commands.auth(PASSWORD))
        self.command(commands.event("plain", "CHANNEL_EXECUTE", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE"))

    def _read(self) -> None:
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            for frame in self.reader.feed(data):
                if frames.is_event(frame):
                    self.events.append(frames.parse_event(frame))
                else:
                    self.replies.append(frame)

    def _wait(self, predicate, timeout_s: float = 5.0) -> None:  # noqa: ANN001
        with gevent.Timeout(timeout_s, AssertionError("no answer from fssim")):
            while not predicate():
                gevent.sleep(0.005)

    def command(self, raw: bytes) -> frames.Frame:
        count = len(self.replies)
        self.sock.sendall(raw)
        self._wait(lambda: len(self.replies) > count)
        reply = self.replies[count]
        assert reply.reply_text.startswith("+OK"), reply.reply_text
        return reply

    def hangup_of(self, uuid: str, timeout_s: float = 10.0) -> frames.Event:
        def found() -> frames.Event | None:
            return next((e for e in self.events if e.name == "CHANNEL_HANGUP_COMPLETE" and e.unique_id == uuid), None)

        self._wait(lambda: found() is not None, timeout_s)
        return found()

    def executed(self, uuid: str) -> list[tuple[str, str]]:
        return [(e.get("Application") or "", e.get("Application-Data") or "")
                for e in self.events if e.name == "CHANNEL_EXECUTE" and e.unique_id == uuid]

    def close(self) -> None:
        self.greenlet.kill()
        self.sock.close()


class FakeServe:
    """Stands in for `fscc serve`: accepts the switch's outbound socket, says `connect`, keeps the
    channel data it gets back, and hangs the call up."""

    def __init__(self) -> None:
        self.connects: list[frames.Event] = []
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.address[1]

    def _handle(self, sock: gevent.socket.socket, _address: object) -> None:
        reader = frames.FrameReader()
        sock.sendall(commands.connect())
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for frame in reader.feed(data):
                if frame.content_type == "command/reply" and frame.get("Event-Name") == "CHANNEL_DATA":
                    self.connects.append(frames.event_from_headers(frame))
                    sock.sendall(commands.sendmsg_hangup("NORMAL_CLEARING"))

    def stop(self) -> None:
        self.server.stop()


def _free_port() -> int:
    """A port where nothing listens (bound, then closed): fscc serve is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render_for(settings: Settings, serve_port: int, out: Path) -> Path:
    settings = dataclasses.replace(settings, serve=dataclasses.replace(settings.serve, port=serve_port))
    render(settings, out, EXAMPLE_ENV, source_name="fscc.example.yaml")
    return out / "dialplan" / "fscc.xml"


@pytest.fixture
def serve() -> Iterator[FakeServe]:
    fake = FakeServe()
    yield fake
    fake.stop()


@pytest.fixture
def switch(fssim_factory, example_settings, serve: FakeServe, tmp_path: Path):
    sim = fssim_factory(password=PASSWORD, dialplan=_render_for(example_settings, serve.port, tmp_path))
    client = EslClient(sim.esl_port)
    yield sim, client
    client.close()


@pytest.mark.parametrize(
    ("did", "tenant", "flow"),
    [("+8610086", "hotline", "hotline_10086.yaml.j2"), ("861008799", "hotline", "hotline_10086.yaml.j2"),
     ("+862188886666", "acme", "acme_main.yaml.j2")],
)
def test_each_did_reaches_fscc_serve_with_tenant_and_flow(switch, serve: FakeServe, did: str, tenant: str, flow: str) -> None:
    sim, esl = switch
    uuid = sim.place_call(destination=did, caller_id_number="13800138000", context="fscc_inbound")
    hangup = esl.hangup_of(uuid)
    assert len(serve.connects) == 1
    data = serve.connects[0]
    assert data.unique_id == uuid
    assert data.variable("fscc_tenant") == tenant and data.variable("fscc_flow") == flow
    assert data.get("Caller-Destination-Number") == did
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert ("playback", "ivr/ivr-call_cannot_be_completed_as_dialed.wav") not in esl.executed(uuid)


def test_unknown_did_is_refused(switch, serve: FakeServe) -> None:
    sim, esl = switch
    uuid = sim.place_call(destination="+861099999999", context="fscc_inbound")
    assert esl.hangup_of(uuid).get("Hangup-Cause") == "UNALLOCATED_NUMBER"
    assert serve.connects == []


def test_agent_extension_rings_the_agent(switch) -> None:
    sim, esl = switch
    sim.set_agent("1001", AgentBehaviour(registered=True, answer_after_s=0.5))
    uuid = sim.place_call(destination="1001", context="fscc_agents", variables={"fscc_tenant": "hotline"},
                          hangup_after_s=3)
    esl.hangup_of(uuid, timeout_s=15)
    bridges = [e for e in esl.events if e.name == "CHANNEL_BRIDGE" and e.unique_id == uuid]
    assert len(bridges) == 1
    assert bridges[0].get("Other-Leg-Channel-Name", "").startswith("sofia/internal/1001@")


def test_outbound_number_goes_out_through_the_trunk(switch) -> None:
    sim, esl = switch
    uuid = sim.place_call(destination="013800138000", context="fscc_agents", variables={"fscc_tenant": "hotline"},
                          hangup_after_s=3)
    esl.hangup_of(uuid, timeout_s=15)
    executed = esl.executed(uuid)
    assert ("transfer", "013800138000 XML fscc_outbound") in executed
    assert ("limit", "hash fscc_trunk_calls cmcc 60 !NORMAL_CIRCUIT_CONGESTION") in executed
    assert ("set", "effective_caller_id_number=+8610086") in executed
    assert ("bridge", "sofia/gateway/cmcc/+8613800138000") in executed
    bridges = [e for e in esl.events if e.name == "CHANNEL_BRIDGE" and e.unique_id == uuid]
    assert bridges and bridges[0].get("Other-Leg-Channel-Name") == "sofia/gateway/cmcc/+8613800138000"


def test_outbound_call_is_refused_with_congestion_when_the_trunk_is_full(
        fssim_factory, example_settings, serve: FakeServe, tmp_path: Path) -> None:
    """The trunk's max_concurrent is the rendered `limit hash fscc_trunk_calls`: one call over it
    is hung up with NORMAL_CIRCUIT_CONGESTION before any bridge, and the slot frees with the hangup."""
    deploy = example_settings.deploy
    trunks = {**deploy.trunks, "cmcc": dataclasses.replace(deploy.trunks["cmcc"], max_concurrent=1)}
    settings = dataclasses.replace(example_settings, deploy=dataclasses.replace(deploy, trunks=trunks))
    sim = fssim_factory(password=PASSWORD, dialplan=_render_for(settings, serve.port, tmp_path))
    esl = EslClient(sim.esl_port)
    try:
        hotline = {"fscc_tenant": "hotline"}
        talking = sim.place_call(destination="013800138000", context="fscc_agents", variables=hotline)
        esl._wait(lambda: any(e.name == "CHANNEL_BRIDGE" and e.unique_id == talking for e in esl.events))
        refused = sim.place_call(destination="013900139000", context="fscc_agents", variables=hotline)
        assert esl.hangup_of(refused).get("Hangup-Cause") == "NORMAL_CIRCUIT_CONGESTION"
        executed = esl.executed(refused)
        assert ("limit", "hash fscc_trunk_calls cmcc 1 !NORMAL_CIRCUIT_CONGESTION") in executed
        assert not [a for a in executed if a[0] == "bridge"]
        sent = len(esl.replies)
        esl.sock.sendall(commands.api("uuid_kill", talking))  # the caller's call ends: its slot frees
        esl._wait(lambda: len(esl.replies) > sent)
        assert esl.replies[sent].body.startswith(b"+OK"), esl.replies[sent].body
        esl.hangup_of(talking)
        freed = sim.place_call(destination="013900139000", context="fscc_agents", variables=hotline,
                               hangup_after_s=3)
        assert esl.hangup_of(freed, timeout_s=15).get("Hangup-Cause") == "NORMAL_CLEARING"
        assert any(e.name == "CHANNEL_BRIDGE" and e.unique_id == freed for e in esl.events)
    finally:
        esl.close()


@pytest.mark.parametrize("dialed", ["0044207946000", "+442079460000"])
def test_international_number_is_refused_with_outgoing_call_barred(switch, dialed: str) -> None:
    sim, esl = switch
    uuid = sim.place_call(destination=dialed, context="fscc_agents", variables={"fscc_tenant": "hotline"})
    assert esl.hangup_of(uuid).get("Hangup-Cause") == "OUTGOING_CALL_BARRED"
    assert not [a for a in esl.executed(uuid) if a[0] == "bridge"]


def test_fallback_when_no_fscc_serve_listens(fssim_factory, example_settings, tmp_path: Path) -> None:
    down = _free_port()
    dialplan = _render_for(example_settings, down, tmp_path)
    sim = fssim_factory(password=PASSWORD, dialplan=dialplan)
    esl = EslClient(sim.esl_port)
    try:
        # acme's fallback: an announcement, then the duty manager's mobile through acme's own outbound rules
        uuid = sim.place_call(destination="+862188886666", caller_id_number="13800138000", context="fscc_inbound",
                              hangup_after_s=4)
        hangup = esl.hangup_of(uuid, timeout_s=15)
        executed = esl.executed(uuid)
        socket_at = executed.index(("socket", f"127.0.0.1:{down} async full"))
        after = executed[socket_at + 1:]
        assert after[:4] == [
            ("set", "fscc_fallback=serve-unavailable"),
            ("answer", ""),
            ("playback", "/usr/share/fscc/sounds/acme-please-hold.wav"),
            ("transfer", "+8613900139000 XML fscc_outbound"),
        ]
        assert ("bridge", "sofia/gateway/acme_sbc/013900139000") in after
        assert hangup.variable("fscc_fallback") == "serve-unavailable"
        assert hangup.get("Hangup-Cause") != "DESTINATION_OUT_OF_ORDER"
    finally:
        esl.close()
