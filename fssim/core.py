"""The simulated switch's shared state: channels, event bus, directory, dialplan, spool.

Why separate from the sockets: apps, APIs and the channel state machine only need this
core; the inbound server and the outbound socket client are listeners on its event bus.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fs_scripts.clock import Clock
from fssim import events as ev
from fssim.directory import DEFAULT_USERS, Directory

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

logger = logging.getLogger(__name__)


class Listener(Protocol):
    def deliver(self, event: ev.SimEvent) -> None: ...


class SimCore:
    """Everything a simulated FreeSWITCH knows; no sockets here."""

    def __init__(self, *, clock: Clock, spool_dir: Path | None = None, recordings_dir: Path | None = None,
                 dialplan: Path | str | None = None, hostname: str | None = None,
                 users: Iterable[str] = DEFAULT_USERS, sound_dirs: Iterable[Path] = (),
                 keep_events: int = 200_000, domain: str = "127.0.0.1") -> None:
        self.clock = clock
        self.info = ev.CoreInfo(clock, hostname)
        self.spool_dir = Path(spool_dir) if spool_dir else None
        self.recordings_dir = Path(recordings_dir) if recordings_dir else None
        self.sound_dirs = [Path(p) for p in sound_dirs]
        self.directory = Directory(tuple(users), domain=domain)
        from fssim.registrations import Registrar

        self.registrar = Registrar(self)
        self.global_vars: dict[str, str] = {
            "domain": self.directory.domain,
            "domain_name": self.directory.domain,
            "hostname": self.info.hostname,
        }
        from fssim.routing import Router

        self.router = Router.load(dialplan)
        self._channels: dict[str, Channel] = {}
        self._listeners: list[Listener] = []
        self._uuid_listeners: dict[str, list[Listener]] = {}
        self.events: deque[ev.SimEvent] = deque(maxlen=keep_events)
        self.event_count = 0
        self._session_ids = 0
        self.sessions_since_startup = 0
        self.limits: dict[tuple[str, str], set[str]] = {}  # limit hash: legs holding (realm, resource)
        self.limit_rates: dict[tuple[str, str], list[int]] = {}  # limit hash N/interval: [rate_usage, last_check]
        self.cdr_paths: list[Path] = []
        self.api_hooks: dict[str, Callable[..., str]] = {}
        self.callcenter: Any = None
        self.received: list[tuple[str, Any]] = []  # (connection id, Frame) of every client frame
        self.outbound_sessions: list[Any] = []

    # ----------------------------------------------------------- channels
    @property
    def channels(self) -> dict[str, Channel]:
        return dict(self._channels)

    def next_session_id(self) -> int:
        self._session_ids += 1
        self.sessions_since_startup += 1
        return self._session_ids

    def add_channel(self, channel: Channel) -> None:
        self._channels[channel.uuid] = channel

    def rename_channel(self, channel: Channel, new_uuid: str) -> None:
        self._channels.pop(channel.uuid, None)
        channel.uuid = new_uuid
        self._channels[new_uuid] = channel

    def find(self, uuid: str) -> Channel | None:
        return self._channels.get(uuid.strip())

    def channel_hung_up(self, channel: Channel) -> None:
        """After CHANNEL_HANGUP_COMPLETE: the leg leaves the session hash and its CDR is written."""
        self._channels.pop(channel.uuid, None)
        for key in list(self.limits):
            self.limits[key].discard(channel.uuid)
        if self.spool_dir is not None:
            from fssim.cdr import build_cdr, write_cdr

            try:
                self.cdr_paths.append(write_cdr(self.spool_dir, build_cdr(channel, self)))
            except OSError:
                logger.exception("could not write the CDR of %s", channel.uuid)

    # ----------------------------------------------------------- events
    def add_listener(self, listener: Listener, uuid: str | None = None) -> None:
        """`uuid`: the listener only wants that channel's events (an outbound socket's
        myevents), so it is not asked about every other event (1,000 sockets stay cheap)."""
        if uuid is None:
            if listener not in self._listeners:
                self._listeners.append(listener)
        else:
            self._uuid_listeners.setdefault(uuid, []).append(listener)

    def remove_listener(self, listener: Listener, uuid: str | None = None) -> None:
        if uuid is None:
            if listener in self._listeners:
                self._listeners.remove(listener)
            return
        listeners = self._uuid_listeners.get(uuid)
        if listeners and listener in listeners:
            listeners.remove(listener)
            if not listeners:
                del self._uuid_listeners[uuid]

    def fire(self, event: ev.SimEvent) -> None:
        self.events.append(event)
        self.event_count += 1
        targets = list(self._listeners)
        if event.unique_id is not None and event.unique_id in self._uuid_listeners:
            targets += self._uuid_listeners[event.unique_id]
        for listener in targets:
            try:
                listener.deliver(event)
            except Exception:
                logger.exception("listener %r failed on %s", listener, event.name)
