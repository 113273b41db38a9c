"""The inbound Event Socket client: fscc connects to the switch (:8021), authenticates, runs
`api`/`bgapi`, subscribes to events and keeps that state across switch restarts.

Behaviour the rest of fscc relies on:

* `api()` returns the body text and raises CommandFailed when it starts with -ERR/-USAGE.
* `bgapi()` sends a Job-UUID of our own (the switch honours a client-supplied one, captures
  fact 11) and registers the waiter BEFORE the command is written, so a BACKGROUND_JOB that
  arrives before the command/reply, or before other events of the call, is never missed.
* When the socket drops, every command and job in flight fails at once with ConnectionLost;
  then (reconnect=True) the client reconnects with exponential backoff (0.1 s doubling up to
  `max_backoff_s`, with jitter), authenticates, and re-sends every subscription and filter.
* Every wait has a timeout (EslTimeout).

greenswitch is not used here, on purpose: its ESLEvent URL-decodes the whole block before
splitting lines (a caller name with %0A forges headers), its `send()` has no timeout and hangs
forever when the socket drops (the pending AsyncResult is never failed), it reads the socket
line by line, and it has no reconnect. What it does well (gevent sockets, a reader greenlet
apart from handler greenlets) is kept here in transport.py and dispatch.py.
"""

from __future__ import annotations

import logging
import random
import uuid as _uuid
from collections.abc import Callable, Iterator

import gevent
import gevent.socket
from gevent.event import AsyncResult
from gevent.event import Event as GEvent

from fs_scripts.esl import commands
from fs_scripts.esl.dispatch import Dispatcher, Handler
from fs_scripts.esl.errors import (
    AuthFailed,
    CommandFailed,
    ConnectionLost,
    EslError,
    EslTimeout,
    NotConnected,
)
from fs_scripts.esl.frames import Event, Frame
from fs_scripts.esl.transport import Transport, first_line

logger = logging.getLogger(__name__)

_FAIL_PREFIXES = ("-ERR", "-USAGE")
_JOB_FILTER = ("Event-Name", "BACKGROUND_JOB")
MIN_BACKOFF_S = 0.1


class JobResult(AsyncResult):
    """The pending result of a bgapi job; `job_uuid` is the id sent with it."""

    def __init__(self, job_uuid: str) -> None:
        super().__init__()
        self.job_uuid = job_uuid


def _failed(text: str) -> bool:
    return text.startswith(_FAIL_PREFIXES)


def backoff_delays(min_s: float, max_s: float, rng: random.Random | None = None) -> Iterator[float]:
    """Seconds to wait before each reconnect attempt: `min_s` doubling up to `max_s`, each
    with +-20 % jitter so that many engines do not hit a restarted switch in the same
    instant. Endless; the reconnect loop stops taking from it once connected."""
    rng = rng or random.Random()
    delay = min_s
    while True:
        yield delay * rng.uniform(0.8, 1.2)
        delay = min(delay * 2, max_s)


class InboundConnection:
    """A client of the switch's inbound event socket. Use from gevent greenlets only."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        connect_timeout_s: float = 5,
        command_timeout_s: float = 10,
        reconnect: bool = True,
        max_backoff_s: float = 30,
        event_format: str = "json",
        job_timeout_s: float = 120,
        min_backoff_s: float = MIN_BACKOFF_S,
    ) -> None:
        if event_format not in ("plain", "json", "xml"):
            raise ValueError(f"event_format must be plain, json or xml, not {event_format!r}")
        self.host = host
        self.port = port
        self._password = password
        self.connect_timeout_s = connect_timeout_s
        self.command_timeout_s = command_timeout_s
        self.reconnect = reconnect
        self.max_backoff_s = max_backoff_s
        self.min_backoff_s = min_backoff_s
        self.event_format = event_format
        self.job_timeout_s = job_timeout_s
        self.name = f"esl-inbound {host}:{port}"
        self._transport: Transport | None = None
        self._jobs: dict[str, JobResult] = {}
        self._event_names: list[str] = []  # subscribed event names (CUSTOM not included)
        self._subclasses: list[str] = []  # subscribed CUSTOM subclasses
        self._filters: list[tuple[str, str]] = []
        self._jobs_wanted = False  # a bgapi was made: BACKGROUND_JOB must keep passing
        self._dispatcher = Dispatcher(self.name)
        self._connected = GEvent()
        self._auth_request = GEvent()
        self._closing = False
        self._reconnector: gevent.Greenlet | None = None
        self.connects = 0  # how many times a connection was established (1 + reconnects)
        self.reconnect_attempts = 0  # attempts made in the current (or last) outage
        self._rejection: str | None = None  # text of a text/rude-rejection (the switch's ACL said no)

    # -- state -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until authenticated and re-subscribed; EslTimeout if that takes longer."""
        if not self._connected.wait(timeout=timeout_s):
            raise EslTimeout(f"{self.name}: not connected within {timeout_s}s")
        return True

    # -- connecting --------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect, authenticate and subscribe. Raises AuthFailed, ConnectionLost or EslTimeout.

        Only the first connection is made here; later ones are made by the reconnect loop.
        """
        self._closing = False
        self._open()

    def _open(self) -> None:
        try:
            sock = gevent.socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        except OSError as exc:
            raise ConnectionLost(f"{self.name}: cannot connect: {exc}") from exc
        sock.settimeout(None)
        self._auth_request.clear()
        self._rejection = None
        transport = Transport(
            sock,
            name=self.name,
            on_events=self._on_events,
            on_notice=self._on_notice,
            on_closed=self._on_closed,
        )
        self._transport = transport
        transport.start()
        try:
            if not self._auth_request.wait(timeout=self.connect_timeout_s):
                raise EslTimeout(f"{self.name}: no auth/request within {self.connect_timeout_s}s")
            if self._rejection is not None:
                raise ConnectionLost(
                    f"{self.name}: the switch refused this address ({self._rejection!r}): add it to "
                    "the event socket's apply-inbound-acl list (deploy.event_socket.allow)"
                )
            if transport.closed:
                raise ConnectionLost(f"{self.name}: the switch closed the connection before auth")
            reply = transport.request(commands.auth(self._password), self.command_timeout_s)
            text = reply.reply_text
            if not text.startswith("+OK"):
                raise AuthFailed(f"{self.name}: authentication refused: {text}")
            self._send_subscriptions(transport)
        except BaseException:
            transport.abort()
            raise
        self.connects += 1
        self._connected.set()
        logger.info("%s: connected (connection #%d)", self.name, self.connects)

    def _send_subscriptions(self, transport: Transport) -> None:
        words = self._event_words(self._event_names, self._subclasses)
        if words:
            self._check(transport.request(commands.event(self.event_format, *words), self.command_timeout_s), "event")
        for header, value in self._filters:
            self._check(transport.request(commands.filter(header, value), self.command_timeout_s), "filter")

    def close(self) -> None:
        """Say `exit`, close the socket, stop reconnecting. Commands in flight fail."""
        self._closing = True
        if self._reconnector is not None:
            self._reconnector.kill(block=False)
        transport = self._transport
        if transport is not None and not transport.closed:
            try:
                transport.request(commands.exit(), min(self.command_timeout_s, 1.0))
            except EslError:
                pass
            transport.abort()
            transport.join(2.0)
        self._connected.clear()
        self._dispatcher.stop()

    def __enter__(self) -> InboundConnection:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reader callbacks --------------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            if event.name == "BACKGROUND_JOB":
                job = self._jobs.pop(event.job_uuid or "", None)
                if job is not None:
                    body = event.body
                    if _failed(body):
                        job.set_exception(CommandFailed(body, f"bgapi {event.get('Job-Command', '')}"))
                    else:
                        job.set(body)
        if self._dispatcher.has_handlers:
            self._dispatcher.submit(events)

    def _on_notice(self, frame: Frame) -> None:
        ctype = frame.content_type
        if ctype == "auth/request":
            self._auth_request.set()
        elif ctype == "text/disconnect-notice":
            logger.info("%s: disconnect notice: %s", self.name, frame.body_text.strip())
        elif ctype == "text/rude-rejection":
            # mod_event_socket sends this instead of auth/request when the client's address
            # is not in the inbound ACL, then closes the socket.
            self._rejection = frame.body_text.strip() or "rejected"
            logger.error("%s: rejected by the switch (event socket ACL): %s", self.name, self._rejection)
            self._auth_request.set()
        elif ctype != "log/data":
            logger.warning("%s: unexpected %s message", self.name, ctype)

    def _on_closed(self, transport: Transport, exc: BaseException | None) -> None:
        if transport is not self._transport:
            return
        self._connected.clear()
        jobs, self._jobs = self._jobs, {}
        for job_uuid, job in jobs.items():
            job.set_exception(ConnectionLost(f"{self.name}: connection lost while job {job_uuid} was running"))
        if self._closing:
            return
        logger.warning("%s: connection lost%s", self.name, f": {exc}" if exc else "")
        if self.reconnect and (self._reconnector is None or self._reconnector.dead):
            self._reconnector = gevent.spawn(self._reconnect_loop)

    def _reconnect_loop(self) -> None:
        self.reconnect_attempts = 0
        for delay in backoff_delays(self.min_backoff_s, self.max_backoff_s):
            gevent.sleep(delay)
            if self._closing:
                return
            self.reconnect_attempts += 1
            try:
                self._open()
                return
            except AuthFailed:
                logger.error("%s: password refused after reconnect; giving up", self.name)
                return
            except EslError as exc:
                logger.info("%s: reconnect attempt %d failed (next in up to %.1fs): %s",
                            self.name, self.reconnect_attempts, min(delay * 2, self.max_backoff_s) * 1.2, exc)

    # -- commands ----------------------------------------------------------------------------

    def _live(self) -> Transport:
        transport = self._transport
        if transport is None or transport.closed or not self._connected.is_set():
            raise NotConnected(f"{self.name}: not connected")
        return transport

    @staticmethod
    def _check(frame: Frame, what: str) -> Frame:
        text = frame.reply_text
        if _failed(text):
            raise CommandFailed(text, what)
        return frame

    def send_raw(self, data: bytes, *, timeout_s: float | None = None) -> Frame:
        """Send bytes built by fs_scripts.esl.commands; return the reply frame (unchecked)."""
        return self._live().request(data, timeout_s or self.command_timeout_s)

    def api(self, command: str, *args: object, timeout_s: float | None = None) -> str:
        data = commands.api(command, *args)
        frame = self.send_raw(data, timeout_s=timeout_s)
        text = frame.body_text if frame.content_type == "api/response" else frame.reply_text
        if _failed(text):
            raise CommandFailed(text, first_line(data))
        return text

    def _ensure_job_events(self) -> None:
        """Make sure BACKGROUND_JOB events reach this connection, or no bgapi could finish.

        The switch delivers an event to a listener only if it subscribed to it
        (mod_event_socket.c event_handler checks each listener's event list) and, once the
        listener has filters, only if one of them matches (positive filters are OR-ed). So
        the first bgapi subscribes BACKGROUND_JOB (unless ALL is subscribed) and, when there
        are filters, adds `filter Event-Name BACKGROUND_JOB`. Both are remembered and re-sent
        after a reconnect like the caller's own; without them every job would end in EslTimeout.
        """
        if "ALL" not in self._event_names and "BACKGROUND_JOB" not in self._event_names:
            self.subscribe("BACKGROUND_JOB")
        self._jobs_wanted = True
        if self._filters and _JOB_FILTER not in self._filters:
            self._add_filter(*_JOB_FILTER)

    def bgapi_async(self, command: str, *args: object, timeout_s: float | None = None) -> JobResult:
        """Start a background job; the AsyncResult gets its BACKGROUND_JOB body (or error)."""
        self._ensure_job_events()
        job_uuid = str(_uuid.uuid4())
        data = commands.bgapi(command, *args, job_uuid=job_uuid)
        job = JobResult(job_uuid)
        self._jobs[job_uuid] = job
        try:
            frame = self.send_raw(data, timeout_s=timeout_s)
            self._check(frame, first_line(data))
        except BaseException:
            self._jobs.pop(job_uuid, None)
            raise
        return job

    def bgapi(self, command: str, *args: object, timeout_s: float | None = None) -> str:
        """Run a background job and wait for its result (the BACKGROUND_JOB body).

        Raises CommandFailed when the body starts with -ERR (e.g. `-ERR NO_ANSWER\\n`),
        EslTimeout after `timeout_s` (default job_timeout_s), ConnectionLost on a drop.
        """
        job = self.bgapi_async(command, *args)
        wait_s = timeout_s or self.job_timeout_s
        try:
            return job.get(timeout=wait_s)
        except gevent.Timeout as exc:
            self._jobs.pop(job.job_uuid, None)
            raise EslTimeout(f"{self.name}: bgapi {command} gave no result within {wait_s}s") from exc

    @staticmethod
    def _event_words(names: list[str], subclasses: list[str]) -> list[str]:
        return names + (["CUSTOM", *subclasses] if subclasses else [])

    def subscribe(self, *event_names: str) -> None:
        """Add events to the subscription; idempotent, remembered and re-sent after reconnect.

        Words after `CUSTOM` (and any word holding `::`) are CUSTOM subclasses, as in the
        switch's own `event` command: `subscribe("CHANNEL_CREATE", "CUSTOM", "callcenter::info")`.
        """
        names: list[str] = []
        subclasses: list[str] = []
        in_custom = False
        for word in event_names:
            if word == "CUSTOM":
                in_custom = True
            elif in_custom or "::" in word:
                if word not in self._subclasses and word not in subclasses:
                    subclasses.append(word)
            elif word not in self._event_names and word not in names:
                names.append(word)
        words = self._event_words(names, subclasses)
        if not words:
            return
        data = commands.event(self.event_format, *words)  # validates before remembering
        self._event_names.extend(names)
        self._subclasses.extend(subclasses)
        if self.connected:
            self._check(self.send_raw(data), "event")

    def filter(self, header: str, value: str) -> None:
        """Let only events whose `header` equals `value` through (several filters: any of them).

        Remembered and re-sent after a reconnect. Once bgapi has been used, the first filter
        also brings `filter Event-Name BACKGROUND_JOB`, so job results keep arriving.
        """
        if self._jobs_wanted and not self._filters and (header, value) != _JOB_FILTER:
            self._add_filter(*_JOB_FILTER)
        self._add_filter(header, value)

    def _add_filter(self, header: str, value: str) -> None:
        data = commands.filter(header, value)
        if (header, value) in self._filters:
            return
        self._filters.append((header, value))
        if self.connected:
            self._check(self.send_raw(data), "filter")

    def on(self, event_name: str, handler: Handler) -> None:
        self._dispatcher.on(event_name, handler)

    def on_custom(self, subclass: str, handler: Handler) -> None:
        self._dispatcher.on_custom(subclass, handler)

    def on_any(self, handler: Handler) -> None:
        self._dispatcher.on_any(handler)

    def sendmsg(self, uuid: str, msg_bytes: bytes) -> str:
        """Send a `sendmsg` built by commands.sendmsg_execute/sendmsg_hangup to channel `uuid`.

        A message built without a uuid gets it here; one built for another uuid is refused.
        """
        head, sep, rest = msg_bytes.partition(b"\n")
        if head == b"sendmsg":
            msg_bytes = commands.sendmsg_head(uuid).encode() + sep + rest
        elif head != b"sendmsg " + uuid.encode():
            raise ValueError(f"sendmsg for {uuid}: message is {head[:60]!r}, not built for this uuid")
        frame = self.send_raw(msg_bytes)
        return self._check(frame, f"sendmsg {uuid}").reply_text

    def wait_event(self, predicate: Callable[[Event], bool], timeout_s: float) -> Event:
        """Wait for the next event matching `predicate` (registered through on_any)."""
        result = AsyncResult()

        def check(event: Event) -> None:
            if not result.ready() and predicate(event):
                result.set(event)

        self._dispatcher.on_any(check)
        try:
            return result.get(timeout=timeout_s)
        except gevent.Timeout as exc:
            raise EslTimeout(f"{self.name}: no matching event within {timeout_s}s") from exc
        finally:
            self._dispatcher.remove_any(check)
