"""What inbound and outbound Event Socket connections share: framing, replies, commands.

Framing and encoding are fs_scripts.esl.frames' (the same code the engine uses to read);
this module decides what to answer. One writer greenlet per connection drains a queue, so
replies and events leave in the order they were produced and a slow client never blocks a
channel's greenlet.
"""

from __future__ import annotations

import itertools
import logging
import socket as _stdsocket
import uuid as uuid_mod
from typing import TYPE_CHECKING

import gevent
from gevent.queue import Queue

from fs_scripts.esl.frames import Frame, FrameReader, encode_message
from fssim import events as ev
from fssim.subscriptions import Subscription

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel
    from fssim.simulator import Simulator

logger = logging.getLogger(__name__)

DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
_connection_ids = itertools.count(1)
_CLOSE = object()


class EslSession:
    """One TCP connection speaking ESL from the switch's side."""

    kind = "esl"

    def __init__(self, sim: Simulator, sock) -> None:
        self.sim = sim
        self.sock = sock
        try:  # as mod_event_socket does: small replies and events must not wait for an ACK (Nagle)
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.connection_id = f"{self.kind}-{next(_connection_ids)}"
        self.reader = FrameReader()
        self.subscription = Subscription()
        self.closed = False
        self._out: Queue = Queue()
        self._writer = gevent.spawn(self._write_loop)
        self._listening_globally = False

    # ------------------------------------------------------------------ output
    def send(self, data: bytes) -> None:
        if not self.closed:
            self._out.put(data)

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self.send(encode_message([("Content-Type", "command/reply"), ("Reply-Text", text)] + (extra or [])))

    def api_response(self, body: str) -> None:
        self.send(encode_message([("Content-Type", "api/response"), ("Content-Length", "")], body))

    def close(self) -> None:
        """Flush what is queued, then close the socket."""
        if self.closed:
            return
        self.closed = True
        self._out.put(_CLOSE)
        self.sim.remove_listener(self)

    def join_writer(self, timeout_s: float) -> None:
        self._writer.join(timeout=timeout_s)

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._out.get()
                if item is _CLOSE:
                    break
                chunks = [item]
                while not self._out.empty() and len(chunks) < 256:
                    nxt = self._out.peek()
                    if nxt is _CLOSE:
                        break
                    chunks.append(self._out.get())
                self.sock.sendall(b"".join(chunks))
        except OSError as exc:
            logger.debug("%s: send failed: %s", self.connection_id, exc)
        finally:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ events
    def deliver(self, event: ev.SimEvent) -> None:
        sub = self.subscription
        if not self.closed and sub.fmt is not None and sub.wants(event):
            self.send(event.encoded(sub.fmt))

    def listen_globally(self) -> None:
        if not self._listening_globally:
            self._listening_globally = True
            self.sim.add_listener(self)

    # ------------------------------------------------------------------ input
    def read_loop(self) -> None:
        try:
            while not self.closed:
                data = self.sock.recv(65536)
                if not data:
                    break
                for frame in self.reader.feed(data):
                    self.sim.received.append((self.connection_id, frame))
                    self.handle(frame)
                    if self.closed:
                        break
        except OSError as exc:
            logger.debug("%s: read failed: %s", self.connection_id, exc)
        except Exception:
            logger.exception("%s: command handling failed", self.connection_id)
        finally:
            self.on_client_gone()

    def on_client_gone(self) -> None:
        self.close()

    def handle(self, frame: Frame) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def command_line(frame: Frame) -> str:
        first = frame.raw_headers.split(b"\n", 1)[0]
        return first.decode("utf-8", "surrogateescape").rstrip("\r")

    @staticmethod
    def raw_header(frame: Frame, name: str) -> str | None:
        """Client headers are taken as sent (the switch does not URL-decode them)."""
        value = frame.get_raw(name)
        return None if value is None else value.decode("utf-8", "surrogateescape")

    # ------------------------------------------------------------------ shared commands
    def cmd_api(self, args: str) -> None:
        from fssim.api_commands import run_api

        command, _, arg = args.partition(" ")
        self.api_response(run_api(self.sim, command, arg, self))

    def cmd_bgapi(self, args: str, frame: Frame) -> None:
        from fssim.api_commands import run_api

        job_uuid = self.raw_header(frame, "Job-UUID") or str(uuid_mod.uuid4())
        command, _, arg = args.partition(" ")
        self.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])

        def job() -> None:
            result = run_api(self.sim, command, arg, self)
            headers = [("Job-UUID", job_uuid), ("Job-Command", command)]
            if arg:
                headers.append(("Job-Command-Arg", arg))
            self.sim.fire(ev.plain_event(self.sim.info, "BACKGROUND_JOB", headers, result))

        gevent.spawn(job)

    def cmd_event(self, args: str) -> None:
        self.reply(self.subscription.event(args))
        if self.subscription.fmt is not None:
            self.listen_globally()

    def cmd_sendmsg(self, uuid: str, frame: Frame, channel: Channel | None = None) -> None:
        from fssim.channel import Message

        ch = channel if channel is not None else self.sim.find(uuid)
        if ch is None:
            self.reply(f"-ERR invalid session id [{uuid}]")
            return
        command = (self.raw_header(frame, "call-command") or "").strip().lower()
        if command == "execute":
            message = self.execute_message(frame)
            if message is None:
                self.reply("-ERR no application specified")
                return
            self.dispatch_execute(ch, message, frame)
            return
        if command == "hangup":
            cause = (self.raw_header(frame, "hangup-cause") or "NORMAL_CLEARING").strip()
            self.reply("+OK")
            ch.hangup(cause)
            return
        if command in ("unicast", "nomedia", "xferext", "unhold", "hold"):
            self.reply("+OK")
            return
        ch.queue_message(Message("callback", callback=lambda: None))
        self.reply("+OK")

    def execute_message(self, frame: Frame):
        from fssim.channel import Message

        app = (self.raw_header(frame, "execute-app-name") or "").strip()
        if not app:
            return None
        arg = self.raw_header(frame, "execute-app-arg")
        if arg is None and frame.body and (self.raw_header(frame, "content-type") or "").startswith("text/plain"):
            arg = frame.body.decode("utf-8", "surrogateescape")
        loops_text = (self.raw_header(frame, "loops") or "1").strip()
        return Message("execute", app=app, arg=arg or "", event_uuid=self.raw_header(frame, "Event-UUID"),
                       event_lock=(self.raw_header(frame, "event-lock") or "").strip().lower() == "true",
                       loops=int(loops_text) if loops_text.isdigit() else 1)

    def dispatch_execute(self, ch: Channel, message, frame: Frame) -> None:
        self.reply("+OK")
        ch.queue_message(message)

    def disconnect_notice(self, extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", "text/disconnect-notice")] + (extra or []) + [("Content-Length", "")]
        self.send(encode_message(headers, DISCONNECT_BODY))

    def cmd_exit(self) -> None:
        self.reply("+OK bye")
        self.disconnect_notice(self.disconnect_headers())
        self.close()

    def disconnect_headers(self) -> list[tuple[str, str]]:
        return []
