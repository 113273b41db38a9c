"""The public face of fssim: start an ESL-speaking switch on a port, drive it, inspect it.

    sim = Simulator(password="ClueCon", spool_dir=tmp, clock=make_clock("fast"))
    sim.start()                       # sim.esl_port is the real port (0 allowed)
    sim.set_agent("1001", AgentBehaviour(answer_after_s=2))
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000")
    sim.wait_for(lambda: not sim.channels, timeout_s=5)
    sim.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import gevent

from fs_scripts.clock import Clock, make_clock
from fssim import events as ev
from fssim.carrier import DtmfScript, place_inbound_call
from fssim.core import SimCore
from fssim.directory import DEFAULT_USERS, AgentBehaviour
from fssim.registrations import Registration
from fssim.server import InboundServer

logger = logging.getLogger(__name__)


class SimTimeout(AssertionError):
    """wait_for ran out of time (an AssertionError, so a test failing on it reads naturally)."""


class Simulator(SimCore):
    def __init__(self, password: str = "ClueCon", spool_dir: Path | str | None = None,
                 dialplan: Path | str | None = None, clock: Clock | None = None, host: str = "127.0.0.1",
                 esl_port: int = 0, recordings_dir: Path | str | None = None, *,
                 users: Iterable[str] = DEFAULT_USERS, sound_dirs: Iterable[Path] = (),
                 hostname: str | None = None, domain: str = "127.0.0.1") -> None:
        """`domain`: the directory's domain (`${domain_name}`, the realm phones register in)."""
        super().__init__(clock=clock or make_clock("real"), spool_dir=Path(spool_dir) if spool_dir else None,
                         recordings_dir=Path(recordings_dir) if recordings_dir else None, dialplan=dialplan,
                         hostname=hostname, users=users, sound_dirs=sound_dirs, domain=domain)
        self.password = password
        self.host = host
        self.esl_port = esl_port
        self.peak_sessions = 0
        self._server: InboundServer | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Simulator:
        self._server = InboundServer(self, self.host, self.esl_port)
        self._server.start()
        self.esl_port = self._server.address[1]
        logger.info("fssim listening on %s:%s", self.host, self.esl_port)
        return self

    def stop(self) -> None:
        """Hang up every leg (their CDRs are written), close every connection."""
        self.registrar.stop()
        for ch in list(self.channels.values()):
            ch.hangup("SYSTEM_SHUTDOWN")
        for ch in list(self.channels.values()):
            ch.destroyed.wait(timeout=2)
        for session in list(self.outbound_sessions):
            session.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ driving
    def set_agent(self, user: str, behaviour: AgentBehaviour) -> None:
        """Give a directory user's phone a behaviour. A change of `registered` is the phone
        registering (sofia::register) or unregistering (sofia::unregister), as on the switch."""
        user = str(user)
        old = self.directory.get(user)
        self.directory.set(user, behaviour)
        was_registered = self.registrar.get(user) is not None
        if behaviour.registered and not was_registered:
            self.registrar.register(user, behaviour.register_expires_s)
        elif not behaviour.registered and was_registered:
            self.registrar.unregister(user)
        elif behaviour.registered and old is not None and old.register_expires_s != behaviour.register_expires_s:
            self.registrar.register(user, behaviour.register_expires_s)

    def remove_agent(self, user: str) -> None:
        """The user leaves the directory (SUBSCRIBER_ABSENT from now on); a registered phone
        unregisters first."""
        self.registrar.unregister(str(user))
        self.directory.remove(str(user))

    def expire_registration(self, user: str) -> bool:
        """The phone stops refreshing (unplugged): its binding runs out (sofia::expire) and
        calls to it fail with USER_NOT_REGISTERED. False if it was not registered."""
        user = str(user)
        if not self.registrar.expire(user):
            return False
        behaviour = self.directory.get(user)
        if behaviour is not None:
            self.directory.set(user, replace(behaviour, registered=False))
        return True

    @property
    def registrations(self) -> list[Registration]:
        """The live bindings (what `show registrations` lists), oldest first."""
        return self.registrar.all()

    def place_call(self, destination: str, caller_id_number: str = "0000000000", caller_id_name: str = "",
                   context: str = "public", dtmf: DtmfScript = None, variables: Mapping[str, str] | None = None,
                   hangup_after_s: float | None = None, uuid: str | None = None) -> str:
        """A carrier call arrives; returns the new leg's uuid (the dialplan runs in its greenlet)."""
        ch = place_inbound_call(self, destination=destination, caller_id_number=caller_id_number,
                                caller_id_name=caller_id_name, context=context, dtmf=dtmf,
                                variables=variables, hangup_after_s=hangup_after_s, uuid=uuid)
        self.peak_sessions = max(self.peak_sessions, len(self.channels))
        return ch.uuid

    def inject_event(self, headers: list[tuple[str, str]], body: str = "") -> ev.SimEvent:
        """Fire an event to the subscribed clients. `Event-Name` (default CUSTOM) and
        `Event-Subclass` in `headers` choose its type; the common headers are added."""
        name = "CUSTOM"
        subclass = None
        rest = []
        for key, value in headers:
            if key == "Event-Name":
                name = value
            elif key == "Event-Subclass":
                subclass = value
            else:
                rest.append((key, value))
        event = ev.plain_event(self.info, name, rest, body, subclass=subclass)
        self.fire(event)
        return event

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Yield to the hub until `predicate()` holds (wall seconds); SimTimeout otherwise."""
        deadline = gevent.get_hub().loop.now() + timeout_s
        delay = 0.001
        while not predicate():
            if gevent.get_hub().loop.now() > deadline:
                raise SimTimeout(f"condition not met within {timeout_s}s")
            gevent.sleep(delay)
            delay = min(delay * 2, 0.02)

    def events_named(self, name: str) -> list[ev.SimEvent]:
        return [e for e in self.events if e.name == name]
