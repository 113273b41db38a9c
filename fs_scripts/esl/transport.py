"""One Event Socket connection on gevent: ordered writes, a reader greenlet, FIFO reply matching.

Shared by the inbound client (inbound.py) and each outbound session (outbound.py). The switch
answers commands strictly in order (captures README fact 8), so a reply is matched to the
oldest command still waiting; events and notices can arrive between a command and its reply
and go elsewhere. When the socket drops, every command still waiting fails AT ONCE with the
exception the owner chooses (ConnectionLost, or CallerHangup for an outbound call) instead of
hanging: greenswitch's `send()` waits on an AsyncResult that nobody ever sets in that case.

Reading: `recv(256 KiB)` into FrameReader, so a burst of events costs one system call and a
few `bytes.find`, and events are handed to the owner in batches (one per read).
"""

from __future__ import annotations

import logging
import socket as _stdsocket
from collections import deque
from collections.abc import Callable

import gevent
from gevent.event import AsyncResult
from gevent.lock import Semaphore

from fs_scripts.esl.errors import ConnectionLost, EslError, EslTimeout, FrameError, NotConnected
from fs_scripts.esl.frames import Event, Frame, FrameReader, parse_event

logger = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
_REPLY_TYPES = (b"command/reply", b"api/response")


def first_line(data: bytes) -> str:
    """The command word(s) of a command, for logs and errors (never the password)."""
    line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
    return "auth ***" if line.startswith("auth ") else line[:120]


class Transport:
    """A connected socket speaking ESL. The owner gives three callbacks:

    `on_events(list[Event])` in the reader greenlet, for every batch of events (keep it short:
    resolve waiters, queue to handlers); `on_notice(Frame)` for auth/request, disconnect
    notices, rude rejection and log data; `on_closed(transport, exc | None)` once, after the socket
    is gone and every waiting command has been failed with `make_lost_error()`.
    """

    def __init__(
        self,
        sock: _stdsocket.socket,
        *,
        name: str,
        on_events: Callable[[list[Event]], None],
        on_notice: Callable[[Frame], None],
        on_closed: Callable[[Transport, BaseException | None], None],
        make_lost_error: Callable[[str], EslError] = ConnectionLost,
    ) -> None:
        self.sock = sock
        self.name = name
        self._on_events = on_events
        self._on_notice = on_notice
        self._on_closed = on_closed
        self.make_lost_error = make_lost_error
        self._pending: deque[tuple[AsyncResult, str]] = deque()
        self._send_lock = Semaphore()
        self._reader: gevent.Greenlet | None = None
        self.closed = False
        self._finished = False
        try:
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a unix socket in a test): nothing to tune
            pass

    def start(self) -> None:
        self._reader = gevent.spawn(self._read_loop)
        self._reader.name = f"esl-reader-{self.name}"

    # -- writing -----------------------------------------------------------------------------

    def request(self, data: bytes, timeout_s: float) -> Frame:
        """Send one command and wait for its command/reply or api/response frame."""
        result = self.send(data, timeout_s, expect_reply=True)
        assert result is not None
        try:
            return result.get(timeout=timeout_s)
        except gevent.Timeout as exc:
            raise EslTimeout(f"{self.name}: no reply to {first_line(data)!r} within {timeout_s}s") from exc

    def send(self, data: bytes, timeout_s: float, *, expect_reply: bool = True) -> AsyncResult | None:
        """Write a command; when it gets a reply, return the AsyncResult that will hold it."""
        if self.closed:
            raise NotConnected(f"{self.name}: not connected; cannot send {first_line(data)!r}")
        result = AsyncResult() if expect_reply else None
        with self._send_lock:
            if self.closed:
                raise NotConnected(f"{self.name}: not connected; cannot send {first_line(data)!r}")
            if result is not None:
                self._pending.append((result, first_line(data)))
            try:
                with gevent.Timeout(timeout_s, EslTimeout(f"{self.name}: writing {first_line(data)!r} took over {timeout_s}s")):
                    self.sock.sendall(data)
            except OSError as exc:
                self.abort(exc)
                raise self.make_lost_error(f"{self.name}: socket failed while sending {first_line(data)!r}: {exc}") from exc
            except EslTimeout as exc:
                # A half-written command leaves the stream unusable: drop the connection.
                self.abort(exc)
                raise
        return result

    # -- reading -----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        reader = FrameReader()
        recv = self.sock.recv
        error: BaseException | None = None
        try:
            while True:
                data = recv(READ_SIZE)
                if not data:
                    break
                events: list[Event] = []
                for frame in reader.feed_messages(data):
                    if frame.__class__ is not Frame:  # an event, already recognised by the reader
                        events.append(frame)
                        continue
                    ctype = frame.get_raw("Content-Type")
                    if ctype is not None and ctype.startswith(b"text/event-"):
                        events.append(parse_event(frame))
                        continue
                    if events:
                        self._on_events(events)
                        events = []
                    if ctype in _REPLY_TYPES:
                        self._deliver_reply(frame)
                    else:
                        self._on_notice(frame)
                if events:
                    self._on_events(events)
        except (OSError, FrameError) as exc:
            error = exc
            if not self.closed:
                logger.warning("%s: connection failed: %s", self.name, exc)
        except gevent.GreenletExit:
            error = None
        finally:
            self._finish(error)

    def _deliver_reply(self, frame: Frame) -> None:
        if not self._pending:
            logger.warning("%s: reply with no command waiting: %r", self.name, frame.raw_headers[:200])
            return
        result, _command = self._pending.popleft()
        result.set(frame)

    # -- closing -----------------------------------------------------------------------------

    def abort(self, exc: BaseException | None = None) -> None:
        """Close the socket now; the reader fails what is waiting and reports on_closed."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(_stdsocket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._reader is None or self._reader.dead:
            self._finish(exc)

    def _finish(self, error: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        reason = f"{self.name}: connection closed" + (f" ({error})" if error else "")
        while self._pending:
            result, command = self._pending.popleft()
            result.set_exception(self.make_lost_error(f"{reason} while waiting for the reply to {command!r}"))
        self._on_closed(self, error)

    def join(self, timeout_s: float | None = None) -> None:
        if self._reader is not None:
            self._reader.join(timeout=timeout_s)
