"""The outbound Event Socket server: the dialplan's `socket 127.0.0.1:8040 async full` makes the
switch connect to us, one TCP connection per call, and fscc drives that call.

Why gevent.server.StreamServer and not greenswitch's OutboundESLServer: greenswitch puts the
listening socket in non-blocking mode and polls `accept()` with a 100 ms sleep, so a call
waits up to 100 ms before its first command (p99 ~100 ms in bench/esl_bench.py);
StreamServer accepts from the event loop the moment the socket is readable. greenswitch's
session also matches CHANNEL_EXECUTE_COMPLETE by application NAME, which goes wrong when
two executes of the same app overlap (outbound_event_lock.json: without event-lock the
second playback starts inside the first and completes first). We match by Application-UUID:
every execute sends a fresh `Event-UUID` and waits for the completion carrying it back.

A caller hang-up surfaces as one exception, CallerHangup, from every wait: the channel's
CHANNEL_HANGUP, a disconnect notice, or the socket closing after either. Every wait has a
timeout (EslTimeout). With `linger`, the socket stays open after the hang-up: `getvar` and
`wait_event(..., after_hangup=True)` still work until the final disconnect notice.
"""

from __future__ import annotations

import logging
import uuid as _uuid
from collections.abc import Callable

import gevent
from gevent.event import AsyncResult
from gevent.server import StreamServer

from fs_scripts.esl import commands
from fs_scripts.esl.dispatch import Dispatcher, Handler
from fs_scripts.esl.errors import (
    CallerHangup,
    CommandFailed,
    ConnectionLost,
    EslError,
    EslTimeout,
)
from fs_scripts.esl.frames import Event, Frame, event_from_headers
from fs_scripts.esl.transport import Transport, first_line

logger = logging.getLogger(__name__)

_HANGUP_EVENTS = ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE")


class Execution(AsyncResult):
    """The pending CHANNEL_EXECUTE_COMPLETE of one execute; `event_uuid` is the id sent with it."""

    def __init__(self, event_uuid: str, app: str) -> None:
        super().__init__()
        self.event_uuid = event_uuid
        self.app = app


class _Waiter:
    __slots__ = ("predicate", "result", "after_hangup")

    def __init__(self, predicate: Callable[[Event], bool], after_hangup: bool) -> None:
        self.predicate = predicate
        self.result = AsyncResult()
        self.after_hangup = after_hangup


class OutboundSession:
    """One call handed to us by the switch. Created by OutboundServer, used by one handler."""

    def __init__(
        self,
        sock,
        address: tuple,
        *,
        command_timeout_s: float = 10,
        execute_timeout_s: float = 3600,
    ) -> None:
        self.address = address
        self.command_timeout_s = command_timeout_s
        self.execute_timeout_s = execute_timeout_s
        self.name = f"esl-outbound {address[0]}:{address[1]}"
        self.channel_data: Event | None = None
        self.uuid: str | None = None
        self.hung_up = False
        self.hangup_cause: str | None = None
        self.lingering = False
        self.disconnected = False
        self._executions: dict[str, Execution] = {}
        self._waiters: list[_Waiter] = []
        self._dispatcher: Dispatcher | None = None
        self._transport = Transport(
            sock,
            name=self.name,
            on_events=self._on_events,
            on_notice=self._on_notice,
            on_closed=self._on_closed,
            make_lost_error=self._lost_error,
        )
        self._transport.start()

    # -- errors ------------------------------------------------------------------------------

    def _lost_error(self, message: str) -> EslError:
        if self.hung_up or self.disconnected:
            return CallerHangup(self.uuid, self.hangup_cause)
        return ConnectionLost(message)

    def _raise_if_gone(self) -> None:
        if self.hung_up:
            raise CallerHangup(self.uuid, self.hangup_cause)
        if self._transport.closed:
            raise self._lost_error(f"{self.name}: socket closed")

    # -- reader callbacks --------------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            name = event.name
            if name == "CHANNEL_EXECUTE_COMPLETE":
                app_uuid = event.application_uuid
                if app_uuid is not None:
                    result = self._executions.pop(app_uuid, None)
                    if result is not None:
                        result.set(event)
            elif name in _HANGUP_EVENTS and (self.uuid is None or event.unique_id == self.uuid):
                if not self.hung_up:
                    self.hangup_cause = event.get("Hangup-Cause")
                    self._mark_hung_up()
            if self._waiters:
                for waiter in list(self._waiters):
                    if not waiter.result.ready() and waiter.predicate(event):
                        waiter.result.set(event)
        if self._dispatcher is not None:
            self._dispatcher.submit(events)

    def _on_notice(self, frame: Frame) -> None:
        if frame.content_type != "text/disconnect-notice":
            if frame.content_type not in ("log/data",):
                logger.warning("%s: unexpected %s message", self.name, frame.content_type)
            return
        disposition = frame.get("Content-Disposition")
        if disposition == "linger":
            self.lingering = True
            logger.debug("%s: channel %s gone, lingering %s s", self.name, self.uuid, frame.get("Linger-Time"))
        else:
            self.disconnected = True
        self._mark_hung_up()
        if self.disconnected:
            self._fail_waiters(after_hangup_too=True)

    def _on_closed(self, transport: Transport, exc: BaseException | None) -> None:
        self.disconnected = True
        if not self.hung_up:
            # The switch closes the socket only when the call is over (or when told to exit).
            self._mark_hung_up()
        self._fail_waiters(after_hangup_too=True)
        if self._dispatcher is not None:
            self._dispatcher.stop()

    def _mark_hung_up(self) -> None:
        self.hung_up = True
        error = CallerHangup(self.uuid, self.hangup_cause)
        executions, self._executions = self._executions, {}
        for result in executions.values():
            result.set_exception(error)
        self._fail_waiters(after_hangup_too=False)

    def _fail_waiters(self, *, after_hangup_too: bool) -> None:
        for waiter in list(self._waiters):
            if not waiter.result.ready() and (after_hangup_too or not waiter.after_hangup):
                waiter.result.set_exception(CallerHangup(self.uuid, self.hangup_cause))

    # -- commands ----------------------------------------------------------------------------

    def _request(self, data: bytes, timeout_s: float | None = None) -> Frame:
        return self._transport.request(data, timeout_s or self.command_timeout_s)

    def _checked(self, data: bytes, timeout_s: float | None = None) -> str:
        frame = self._request(data, timeout_s)
        text = frame.reply_text
        if text.startswith(("-ERR", "-USAGE")):
            raise CommandFailed(text, first_line(data))
        return text

    def connect(self) -> Event:
        """Send `connect`; the reply carries the channel's data (CHANNEL_DATA, encoded values)."""
        frame = self._request(commands.connect())
        if not (frame.get("Reply-Text") or "").startswith("+OK"):
            raise CommandFailed(frame.get("Reply-Text") or "", "connect")
        self.channel_data = event_from_headers(frame)
        self.uuid = self.channel_data.unique_id
        self.name = f"esl-outbound {self.uuid}"
        self._transport.name = self.name
        return self.channel_data

    def myevents(self, fmt: str = "plain") -> None:
        self._checked(commands.myevents(fmt))

    def linger(self, seconds: int | None = None) -> None:
        self._checked(commands.linger(seconds))

    def execute(
        self,
        app: str,
        arg: str | None = None,
        *,
        timeout_s: float | None = None,
        event_lock: bool = True,
    ) -> Event:
        """Run a dialplan application and wait for ITS CHANNEL_EXECUTE_COMPLETE.

        Needs `myevents` (or an event subscription) so that the completion is delivered.
        Raises CallerHangup if the channel hangs up first, EslTimeout after `timeout_s`
        (default execute_timeout_s), CommandFailed if the switch refuses the sendmsg.
        """
        result = self._start_execute(app, arg, event_lock=event_lock)
        wait_s = timeout_s or self.execute_timeout_s
        try:
            return result.get(timeout=wait_s)
        except gevent.Timeout as exc:
            self._executions.pop(result.event_uuid, None)
            raise EslTimeout(f"{self.name}: {app} did not complete within {wait_s}s") from exc

    def _start_execute(self, app: str, arg: str | None, *, event_lock: bool) -> Execution:
        self._raise_if_gone()
        event_uuid = str(_uuid.uuid4())
        data = commands.sendmsg_execute(app, arg, event_uuid=event_uuid, event_lock=event_lock)
        result = Execution(event_uuid, app)
        self._executions[event_uuid] = result  # before sending: the completion may come first
        try:
            self._checked(data)
        except BaseException:
            self._executions.pop(event_uuid, None)
            raise
        return result

    def execute_async(self, app: str, arg: str | None = None, *, event_lock: bool = True) -> Execution:
        """Send the execute now; the AsyncResult gets its CHANNEL_EXECUTE_COMPLETE (or error)."""
        return self._start_execute(app, arg, event_lock=event_lock)

    def set_var(self, name: str, value: str) -> None:
        self.execute("set", commands.set_arg(name, value), timeout_s=self.command_timeout_s)

    def getvar(self, name: str) -> str | None:
        """The variable's value (raw, not URL-encoded; cut at 511 bytes by the switch), or None."""
        frame = self._request(commands.getvar(name))
        raw = frame.get_raw("Reply-Text")
        text = "" if raw is None else raw.decode("utf-8", "replace")
        if text.startswith("-ERR"):
            return None
        return text

    def api(self, command: str, *args: object) -> str:
        data = commands.api(command, *args)
        frame = self._request(data)
        text = frame.body_text if frame.content_type == "api/response" else frame.reply_text
        if text.startswith(("-ERR", "-USAGE")):
            raise CommandFailed(text, first_line(data))
        return text

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the channel up (no-op when it is already gone)."""
        if self.hung_up or self._transport.closed:
            return
        try:
            self._checked(commands.sendmsg_hangup(cause))
        except CallerHangup:
            pass

    def wait_event(
        self, predicate: Callable[[Event], bool], timeout_s: float, *, after_hangup: bool = False
    ) -> Event:
        """The next event of this channel matching `predicate`.

        Raises CallerHangup once the channel is gone, unless `after_hangup` (with linger: wait
        for CHANNEL_HANGUP_COMPLETE, say), which then waits until the final disconnect.
        """
        if self.disconnected or (self.hung_up and not after_hangup):
            raise CallerHangup(self.uuid, self.hangup_cause)
        waiter = _Waiter(predicate, after_hangup)
        self._waiters.append(waiter)
        try:
            return waiter.result.get(timeout=timeout_s)
        except gevent.Timeout as exc:
            raise EslTimeout(f"{self.name}: no matching event within {timeout_s}s") from exc
        finally:
            self._waiters.remove(waiter)

    def on(self, event_name: str, handler: Handler) -> None:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(self.name)
        self._dispatcher.on(event_name, handler)

    def close(self) -> None:
        """Close our side of the socket; the switch continues the dialplan (or hangs up)."""
        self._transport.abort()
        self._transport.join(1.0)

    @property
    def closed(self) -> bool:
        return self._transport.closed


SessionHandler = Callable[[OutboundSession], object]


class OutboundServer:
    """Accepts the switch's outbound connections; runs `handler(session)` per call.

    The handler gets an un-connected session; its first line is `session.connect()`.
    A CallerHangup escaping the handler is the normal end of a call (logged at INFO);
    anything else is logged with the channel uuid. The socket is closed when the handler returns.
    """

    def __init__(
        self,
        handler: SessionHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        command_timeout_s: float = 10,
        execute_timeout_s: float = 3600,
        max_calls: int | None = None,
    ) -> None:
        self.handler = handler
        self.command_timeout_s = command_timeout_s
        self.execute_timeout_s = execute_timeout_s
        spawn = "default" if max_calls is None else max_calls
        self._server = StreamServer((host, port), self._handle, spawn=spawn)
        self.sessions_started = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return host, port

    def start(self) -> None:
        self._server.start()
        logger.info("outbound ESL server listening on %s:%d", *self.address)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self, timeout_s: float = 5) -> None:
        self._server.stop(timeout=timeout_s)

    def _handle(self, sock, address) -> None:
        self.sessions_started += 1
        session = OutboundSession(
            sock, address, command_timeout_s=self.command_timeout_s, execute_timeout_s=self.execute_timeout_s
        )
        try:
            self.handler(session)
        except CallerHangup as exc:
            logger.info("%s: call ended by hang-up: %s", session.name, exc)
        except Exception:
            logger.exception("%s: call handler failed", session.name)
        finally:
            session.close()
