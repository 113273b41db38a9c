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


# ---------------------------------------------------------------------------------------------
# A scripted peer that replays the real capture frames over real TCP.

import re  # noqa: E402

import gevent  # noqa: E402
import gevent.socket  # noqa: E402
from gevent.event import Event as GEvent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

from fs_scripts.esl.frames import FrameReader, parse_event  # noqa: E402

_ID_HEADER = re.compile(rb"^(Job-UUID|Event-UUID): (\S+)$", re.M)
_APP = re.compile(rb"\nexecute-app-name: (\S+)")


class Exchange:
    """One client command of a capture and the server frames that followed it."""

    def __init__(self, command: bytes | None, replies: list[bytes]) -> None:
        self.command = command
        self.replies = replies

    @property
    def word(self) -> str:
        return (self.command or b"").split(b"\n", 1)[0].decode()


def exchanges(frames: list[dict]) -> list[Exchange]:
    """Cut a capture into (greeting) + one Exchange per c2s frame."""
    out = [Exchange(None, [])]
    for frame in frames:
        raw = frame["raw"].encode("utf-8")
        if frame["dir"] == "c2s":
            out.append(Exchange(raw, []))
        else:
            out[-1].replies.append(raw)
    return out


class Replayer:
    """Answers the client's N-th command with the s2c frames that followed the N-th c2s frame.

    Ids the client chooses (Job-UUID, Event-UUID) differ from the captured ones; every later
    server byte has the captured id replaced by the client's (same length, so Content-Length
    stays right). `drop_after=k` closes the socket after answering k commands, `silent_after=k`
    stops answering (to test timeouts). `close_at_end` closes after the last exchange.
    """

    def __init__(self, script: list[Exchange], *, close_at_end: bool = False,
                 drop_after: int | None = None, silent_after: int | None = None) -> None:
        self.script = script
        self.close_at_end = close_at_end
        self.drop_after = drop_after
        self.silent_after = silent_after
        self.received: list[bytes] = []
        self.done = GEvent()

    def run(self, sock) -> None:
        subst: dict[bytes, bytes] = {}
        pending = [b"".join(ex.replies) for ex in self.script]
        try:
            if pending[0]:
                sock.sendall(pending[0])
            reader = FrameReader()
            index = 0
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for frame in reader.feed(data):
                    raw = frame.to_bytes()
                    self.received.append(raw)
                    index += 1
                    if self.silent_after is not None and index > self.silent_after:
                        continue
                    if index >= len(self.script):
                        continue
                    expected = self.script[index]
                    self._learn_ids(expected, raw, pending[index:], subst)
                    out = pending[index]
                    for old, new in subst.items():
                        out = out.replace(old, new)
                    if out:
                        sock.sendall(out)
                    if self.drop_after is not None and index >= self.drop_after:
                        return
                    if self.close_at_end and index == len(self.script) - 1:
                        return
        except OSError:
            return
        finally:
            try:
                sock.close()
            finally:
                self.done.set()

    @staticmethod
    def _learn_ids(expected: Exchange, got: bytes, rest: list[bytes], subst: dict[bytes, bytes]) -> None:
        got_ids = dict(_ID_HEADER.findall(got.split(b"\n\n", 1)[0]))
        want_ids = dict(_ID_HEADER.findall((expected.command or b"").split(b"\n\n", 1)[0]))
        for name, new in got_ids.items():
            old = want_ids.get(name)
            if old is None:
                old = _captured_id(name, got, rest, subst)
            if old is not None and len(old) == len(new) and old != new:
                subst[old] = new


def _captured_id(name: bytes, command: bytes, rest: list[bytes], subst: dict[bytes, bytes]) -> bytes | None:
    """The id the switch chose where the captured command had none: the Job-UUID of the
    reply, or the Application-UUID of the next execute of the same application."""
    frames = FrameReader().feed(b"".join(rest))
    if name == b"Job-UUID":
        return next((f.get_raw("Job-UUID") for f in frames if f.get_raw("Job-UUID")), None)
    app = _APP.search(command)
    for frame in frames:
        if frame.get_raw("Content-Type") != b"text/event-plain":
            continue
        event = parse_event(frame)
        if event.name == "CHANNEL_EXECUTE" and app and event.get("Application") == app.group(1).decode():
            found = (event.application_uuid or "").encode()
            if found and found not in subst:
                return found
    return None


class ReplayServer:
    """The switch's inbound socket, played back: a StreamServer on port 0 running Replayers.

    `scripts` is one script per accepted connection, in order (a restarted switch is the
    next script); `kill_clients()` drops every live connection from the server side.
    """

    def __init__(self, scripts: list[Replayer]) -> None:
        self.scripts = list(scripts)
        self.used: list[Replayer] = []
        self.connected = GEvent()
        self._socks: list = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()

    @property
    def port(self) -> int:
        return self.server.server_port

    def _handle(self, sock, _address) -> None:
        if not self.scripts:
            sock.close()
            return
        replayer = self.scripts.pop(0)
        self.used.append(replayer)
        self._socks.append(sock)
        self.connected.set()
        replayer.run(sock)

    def kill_clients(self) -> None:
        for sock in self._socks:
            try:
                sock.shutdown(2)
            except OSError:
                pass
        self._socks.clear()

    def stop(self) -> None:
        self.kill_clients()
        self.server.stop(timeout=1)


def replay_switch_to(address: tuple[str, int], replayer: Replayer) -> gevent.Greenlet:
    """The switch's outbound side: connect to our OutboundServer and replay a capture."""

    def run() -> None:
        sock = gevent.socket.create_connection(address, timeout=5)
        sock.settimeout(None)
        replayer.run(sock)

    return gevent.spawn(run)


@pytest.fixture
def replay_server():
    """Factory: ReplayServer(scripts); every server started is stopped after the test."""
    servers: list[ReplayServer] = []

    def make(*scripts: Replayer) -> ReplayServer:
        server = ReplayServer(list(scripts))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def esl_tools():
    """The replay helpers, for tests that build their own scripts."""

    class Tools:
        Exchange = Exchange
        Replayer = Replayer
        exchanges = staticmethod(exchanges)
        replay_switch_to = staticmethod(replay_switch_to)

    return Tools
