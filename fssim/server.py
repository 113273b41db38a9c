"""The inbound Event Socket (mod_event_socket's listener on port 8021), on gevent StreamServer.

Replies are worded as FreeSWITCH 1.11 words them (../shared/fs-captures): a wrong password
gets `-ERR invalid`, a disconnect notice and the socket closed; commands before `auth` get
`-ERR command not found` and the connection stays open.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gevent.server import StreamServer

from fs_scripts.esl.frames import Frame, encode_message
from fssim.session import EslSession

if TYPE_CHECKING:  # pragma: no cover
    from fssim.simulator import Simulator

logger = logging.getLogger(__name__)


class InboundSession(EslSession):
    kind = "inbound"

    def __init__(self, sim: Simulator, sock) -> None:
        super().__init__(sim, sock)
        self.authed = False
        self.send(encode_message([("Content-Type", "auth/request")]))

    def handle(self, frame: Frame) -> None:
        line = self.command_line(frame)
        command, _, args = line.partition(" ")
        command = command.lower()
        if not self.authed:
            if command == "auth":
                if args.strip() == self.sim.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    self.reply("-ERR invalid")
                    self.disconnect_notice()
                    self.close()
            else:
                self.reply("-ERR command not found")
            return
        if command == "api":
            if args == "":
                self.reply("-ERR command not found")
            else:
                self.cmd_api(args)
        elif command == "bgapi":
            if not args.strip():
                self.reply("-ERR command not found")
            else:
                self.cmd_bgapi(args, frame)
        elif command == "event":
            self.cmd_event(args)
        elif command == "myevents":
            parts = args.split()
            uuid = next((p for p in parts if p.lower() not in ("plain", "json", "xml")), None)
            fmt = next((p.lower() for p in parts if p.lower() in ("plain", "json", "xml")), "plain")
            if uuid is None:
                self.reply("-ERR invalid uuid")
                return
            self.subscription.myevents(uuid, fmt)
            self.listen_globally()
            self.reply("+OK Events Enabled")
        elif command == "nixevent":
            self.reply(self.subscription.nixevent(args))
        elif command == "noevents":
            self.reply(self.subscription.noevents())
        elif command == "filter":
            self.reply(self.subscription.filter(args.strip()))
        elif command == "sendmsg":
            self.cmd_sendmsg(args.strip(), frame)
        elif command == "sendevent":
            self.cmd_sendevent(args.strip(), frame)
        elif command == "divert_events":
            self.reply("+OK events diverted" if args.strip().lower() == "on" else "+OK events not diverted")
        elif command == "log":
            self.reply(f"+OK log level {args.strip() or 'debug'} [7]")
        elif command == "nolog":
            self.reply("+OK no longer logging")
        elif command == "linger":
            self.reply("+OK will linger")
        elif command == "nolinger":
            self.reply("+OK will not linger")
        elif command == "exit":
            self.cmd_exit()
        else:
            self.reply("-ERR command not found")

    def cmd_sendevent(self, name: str, frame: Frame) -> None:
        from fssim import events as ev

        event_name = name.split()[0].upper() if name else "CUSTOM"
        headers = [(k, v) for k, v in frame.headers()[1:] if k.lower() != "content-length"]
        subclass = dict(headers).get("Event-Subclass")
        headers = [(k, v) for k, v in headers if k != "Event-Subclass"]
        self.sim.fire(ev.plain_event(self.sim.info, event_name, headers, frame.body_text, subclass=subclass))
        self.reply("+OK")


class InboundServer:
    """Accepts ESL clients; each connection gets its own InboundSession greenlet."""

    def __init__(self, sim: Simulator, host: str, port: int) -> None:
        self.sim = sim
        self.server = StreamServer((host, port), self._handle)
        self.sessions: list[InboundSession] = []

    def start(self) -> None:
        self.server.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[0], self.server.server_port

    def stop(self) -> None:
        for session in list(self.sessions):
            session.close()
        self.server.stop(timeout=1)

    def _handle(self, sock, address) -> None:
        session = InboundSession(self.sim, sock)
        self.sessions.append(session)
        try:
            session.read_loop()
            # StreamServer closes the socket when this handler returns: flush first
            session.join_writer(timeout_s=5)
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
