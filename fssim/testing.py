"""A minimal raw ESL client for tests against fssim (gevent socket), keeping every frame.

Raw on purpose: the conformance and wire tests must see exactly what fssim sent, not what a
client library made of it.
"""

from __future__ import annotations

from gevent import socket as gsocket

from fs_scripts.esl.frames import Frame, FrameReader, parse_event


class RawClient:
    def __init__(self, port: int, host: str = "127.0.0.1", sock=None) -> None:
        self.sock = sock or gsocket.create_connection((host, port))
        self.reader = FrameReader()
        self.pending: list[Frame] = []
        self.backlog: list[Frame] = []  # events that arrived before a command's reply
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_frame(self, timeout_s: float = 5.0) -> Frame:
        self.sock.settimeout(timeout_s)
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                self.closed = True
                raise EOFError("connection closed by fssim")
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def until(self, predicate, timeout_s: float = 5.0) -> tuple[Frame, list[Frame]]:
        seen = []
        while True:
            frame = self.next_frame(timeout_s)
            seen.append(frame)
            if predicate(frame):
                return frame, seen

    def command(self, text: str, timeout_s: float = 5.0) -> Frame:
        """Send a command and return its reply; events that arrive first are kept for later."""
        self.send(text.encode() + b"\n\n")
        frame, seen = self.until(lambda f: f.content_type in ("command/reply", "api/response"), timeout_s)
        self.backlog.extend(seen[:-1])
        return frame

    def wait_event(self, name: str, uuid: str | None = None, timeout_s: float = 5.0):
        def match(frame: Frame) -> bool:
            if not frame.content_type.startswith("text/event"):
                return False
            event = parse_event(frame)
            return event.name == name and (uuid is None or event.unique_id == uuid)

        for index, frame in enumerate(self.backlog):
            if match(frame):
                del self.backlog[: index + 1]
                return parse_event(frame)
        self.backlog.clear()
        frame, _ = self.until(match, timeout_s)
        return parse_event(frame)

    def close(self) -> None:
        self.sock.close()


def connect(sim, auth: bool = True) -> RawClient:
    client = RawClient(sim.esl_port)
    assert client.next_frame().content_type == "auth/request"
    if auth:
        assert client.command("auth " + sim.password).reply_text == "+OK accepted"
    return client
