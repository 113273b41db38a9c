"""The `socket` application: fssim connects out to the engine, as mod_event_socket does.

`socket host:port [async] [full]`. The client speaks first (`connect`) and gets the channel
data as a command/reply with URL-encoded values, `Socket-Mode` and `Control` last. Async:
every sendmsg is acknowledged at once and runs in the channel (which sits in park).
Sync (no `async`): the sendmsg runs in the socket's greenlet and the `+OK` comes when it is
done, events of it after the reply. Not `full`: only the channel's own commands.
After hangup: the remaining events, then a disconnect notice (or a linger notice, and the
disconnect notice when the linger time is over).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gevent
from gevent import socket as gsocket
from gevent.event import Event

from fs_scripts.esl.frames import Frame, encode_message
from fssim import events as ev
from fssim.session import EslSession

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

logger = logging.getLogger(__name__)

#: commands a socket without `full` accepts (the rest: "-ERR command not found", as captured)
SINGLE_CHANNEL_COMMANDS = frozenset({"connect", "myevents", "sendmsg", "getvar", "exit", "resume",
                                     "nolinger", "noevents", "nixevent", "filter", "divert_events"})
DEFAULT_LINGER_S = 600


class OutboundSession(EslSession):
    kind = "outbound"

    def __init__(self, channel: Channel, sock, *, async_: bool, full: bool) -> None:
        super().__init__(channel.core, sock)  # the core is the Simulator
        self.channel = channel
        self.async_mode = async_
        self.full = full
        self.connected = Event()
        self.linger_s: float | None = None
        self.resume = False
        self.finished = Event()
        self._held: list[bytes] | None = None  # sync mode: events held until the reply
        self._done_after_hangup = False
        channel.core.add_listener(self, channel.uuid)

    # -------------------------------------------------------------- events
    def deliver(self, event: ev.SimEvent) -> None:
        if self.closed or self._done_after_hangup:
            return
        mine = event.unique_id == self.channel.uuid
        if mine and not self.async_mode and event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            # synchronous sockets saw no hangup events, only the disconnect notice
            if event.name == "CHANNEL_HANGUP":
                self._after_hangup()
            return
        sub = self.subscription
        if sub.fmt is not None and sub.wants(event):
            data = event.encoded(sub.fmt)
            if self._held is not None:
                self._held.append(data)
            else:
                self.send(data)
        if mine and event.name == "CHANNEL_HANGUP_COMPLETE":
            self._after_hangup()

    def _after_hangup(self) -> None:
        if self._done_after_hangup:
            return
        self._done_after_hangup = True
        if self.linger_s is not None:
            self.send(encode_message([
                ("Content-Type", "text/disconnect-notice"),
                ("Controlled-Session-UUID", self.channel.uuid),
                ("Content-Disposition", "linger"),
                ("Channel-Name", self.channel.name),
                ("Linger-Time", str(int(self.linger_s))),
                ("Content-Length", "0"),
            ]))

            def end_linger() -> None:
                self.channel.core.clock.sleep(self.linger_s or 0)
                self._final_disconnect()

            gevent.spawn(end_linger)
        else:
            self._final_disconnect()

    def _final_disconnect(self) -> None:
        if self.closed:
            return
        self.disconnect_notice(self.disconnect_headers())
        self.close()

    def disconnect_headers(self) -> list[tuple[str, str]]:
        return [("Controlled-Session-UUID", self.channel.uuid), ("Content-Disposition", "disconnect")]

    def close(self) -> None:
        if not self.closed:
            self.channel.core.remove_listener(self, self.channel.uuid)
        super().close()
        self.finished.set()
        self.channel.wake()

    def on_client_gone(self) -> None:
        self.close()

    # -------------------------------------------------------------- commands
    def handle(self, frame: Frame) -> None:
        line = self.command_line(frame)
        command, _, args = line.partition(" ")
        command = command.lower()
        if not self.full and command not in SINGLE_CHANNEL_COMMANDS:
            self.reply("-ERR command not found")
            return
        if command == "connect":
            self.send(self.channel_data_reply())
            self.connected.set()
        elif command == "myevents":
            fmt = args.strip().split()[0].lower() if args.strip() else "plain"
            self.subscription.myevents(self.channel.uuid, fmt)
            self.reply("+OK Events Enabled")
        elif command == "linger":
            seconds = args.strip()
            self.linger_s = float(seconds) if seconds.isdigit() else DEFAULT_LINGER_S
            self.reply(f"+OK will linger {int(self.linger_s)} seconds")
        elif command == "nolinger":
            self.linger_s = None
            self.reply("+OK will not linger")
        elif command == "getvar":
            value = self.channel.get_var(args.strip())
            if value is None:
                self.reply("-ERR command not found")
            else:
                self.reply(value.encode("utf-8")[:511].decode("utf-8", "ignore"))
        elif command == "resume":
            self.resume = True
            self.reply("+OK")
        elif command == "sendmsg":
            target = args.strip()
            if target and target != self.channel.uuid:
                self.cmd_sendmsg(target, frame)
            else:
                self.cmd_sendmsg(self.channel.uuid, frame, channel=self.channel)
        elif command == "api":
            if args == "":
                self.reply("-ERR command not found")
            else:
                self.cmd_api(args)
        elif command == "bgapi":
            self.cmd_bgapi(args, frame)
        elif command == "event":
            self.cmd_event(args)
        elif command == "nixevent":
            self.reply(self.subscription.nixevent(args))
        elif command == "noevents":
            self.reply(self.subscription.noevents())
        elif command == "filter":
            self.reply(self.subscription.filter(args.strip()))
        elif command == "divert_events":
            self.reply("+OK events diverted" if args.strip().lower() == "on" else "+OK events not diverted")
        elif command == "exit":
            self.cmd_exit()
        else:
            self.reply("-ERR command not found")

    def dispatch_execute(self, ch: Channel, message, frame: Frame) -> None:
        if self.async_mode or ch is not self.channel:
            super().dispatch_execute(ch, message, frame)
            return
        if (self.raw_header(frame, "async") or "").strip().lower() == "true":
            # acknowledged, never run while the synchronous socket holds the channel
            self.reply("+OK")
            return
        self._held = []
        try:
            ch.process_message(message)
        finally:
            held, self._held = self._held, None
        self.reply("+OK")
        for data in held:
            self.send(data)

    def channel_data_reply(self) -> bytes:
        ch = self.channel
        headers = ch.core.info.common("CHANNEL_DATA")
        headers += ev.profile_headers("Channel", ch.profile)
        headers += ev.channel_headers(ch, with_variables=True)
        headers += [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"),
                    ("Socket-Mode", "async" if self.async_mode else "static"),
                    ("Control", "full" if self.full else "single-channel")]
        return encode_message(headers, encode_values=True)


def socket_app(ch: Channel, data: str) -> None:
    """Connect to host:port and hand the channel to that socket until it is done with it."""
    parts = data.split()
    if not parts or ":" not in parts[0]:
        logger.error("channel %s: socket: expected host:port, got %r", ch.uuid, data)
        return
    host, _, port_text = parts[0].rpartition(":")
    flags = {p.lower() for p in parts[1:]}
    ch.set_var("socket_host", host)
    try:
        sock = gsocket.create_connection((host, int(port_text)), timeout=5)
        sock.settimeout(None)
    except (OSError, ValueError) as exc:
        logger.error("channel %s: socket %s: cannot connect: %s", ch.uuid, parts[0], exc)
        return
    session = OutboundSession(ch, sock, async_="async" in flags, full="full" in flags)
    ch.core.outbound_sessions.append(session)
    ch.outbound_sessions.append(session)
    gevent.spawn(session.read_loop)
    try:
        # the client speaks first; the channel waits for `connect`
        while ch.is_up and not session.connected.is_set() and not session.finished.is_set():
            gevent.wait([session.connected, session.finished, ch.hungup_event], count=1)
        if session.async_mode and ch.is_up and not session.finished.is_set():
            ch.parked = True
            ch.fire("CHANNEL_PARK")
        ch.wait(None, breakable=False, messages=session.async_mode, until=session.finished.is_set)
        if ch.parked:
            ch.parked = False
            ch.fire("CHANNEL_UNPARK")
        if ch.is_up and not session.resume:
            ch.hangup("NORMAL_CLEARING")
    finally:
        try:
            ch.core.outbound_sessions.remove(session)
        except ValueError:
            pass
