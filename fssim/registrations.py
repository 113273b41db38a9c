"""Agent phones registering with the simulated switch: mod_sofia's events and the core's table.

Why: the ACD must not offer a call to an agent whose phone is not registered, and it learns
that the way it would from the switch: CUSTOM `sofia::register` (every REGISTER, refreshes
included), `sofia::unregister` (REGISTER with Expires: 0) and `sofia::expire` (the binding ran
out), plus `show registrations [as json]` at start-up. Header names and order are mod_sofia's
(sofia_reg.c: sofia_reg_handle_register_token, sofia_reg_del_callback); the table is the core's
`registrations` (switch_core_add_registration: reg_user, realm, token, url, expires,
network_ip, network_port, network_proto, hostname, metadata), one row per binding.

A registered simulated phone refreshes its binding every half expiry (as SIP phones do), so a
long simulated day does not expire agents that a test or the demo left registered;
`expire(user)` stops the phone, and the switch expires the binding (`sofia::expire`).
What is not simulated: the PRESENCE_IN / MESSAGE_QUERY events sofia also fires, NAT detection,
authentication challenges.
"""

from __future__ import annotations

import logging
import uuid as uuid_mod
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import gevent

from fssim import events as ev

if TYPE_CHECKING:  # pragma: no cover
    from fssim.core import SimCore

logger = logging.getLogger(__name__)

PROFILE = "internal"
#: sofia's sip-expires-late-margin default: the core row outlives the binding by this much
LATE_MARGIN_S = 60
USER_AGENT = "fssim-phone/1.0"
TABLE_COLUMNS = ("reg_user", "realm", "token", "url", "expires", "network_ip", "network_port",
                 "network_proto", "hostname", "metadata")



@dataclass(frozen=True)
class Registration:
    """One binding (one Call-ID) of a SIP user."""

    user: str
    realm: str
    call_id: str
    network_ip: str
    network_port: int
    expires_s: int  # what the phone asked for (the events' `expires`)
    registered_at: int  # epoch seconds of the last REGISTER (refreshes move it)
    profile: str = PROFILE
    user_agent: str = USER_AGENT
    network_proto: str = "udp"

    @property
    def contact(self) -> str:
        return f'"{self.user}" <sip:{self.user}@{self.network_ip}:{self.network_port}>'

    @property
    def url(self) -> str:
        """The core table's url: sofia/<profile>/<proto>:<contact URI>."""
        return f"sofia/{self.profile}/sip:{self.user}@{self.network_ip}:{self.network_port}"

    @property
    def expires_at(self) -> int:
        return self.registered_at + self.expires_s + LATE_MARGIN_S

    def row(self, hostname: str) -> dict[str, str]:
        return {"reg_user": self.user, "realm": self.realm, "token": self.call_id, "url": self.url,
                "expires": str(self.expires_at), "network_ip": self.network_ip,
                "network_port": str(self.network_port), "network_proto": self.network_proto,
                "hostname": hostname, "metadata": ""}


def phone_address(user: str) -> tuple[str, int]:
    """Where the simulated phone of `user` listens: its own port on the loopback."""
    port = 5060 + 2 + (int(user) % 1000 if user.isdigit() else sum(map(ord, user)) % 1000)
    return "127.0.0.1", port


class Registrar:
    """The switch's registrations; fires the sofia events through the core's event bus."""

    def __init__(self, core: SimCore) -> None:
        self.core = core
        self._bindings: dict[str, Registration] = {}  # user -> its phone's binding
        self._refreshers: dict[str, gevent.Greenlet] = {}

    # ------------------------------------------------------------------ queries
    def get(self, user: str) -> Registration | None:
        return self._bindings.get(str(user))

    def all(self) -> list[Registration]:
        return sorted(self._bindings.values(), key=lambda r: (r.registered_at, r.user))

    def rows(self) -> list[dict[str, str]]:
        return [r.row(self.core.info.hostname) for r in self.all()]

    # ------------------------------------------------------------------ changes
    def register(self, user: str, expires_s: float = 3600.0) -> Registration:
        """The phone sends REGISTER: a new binding (new Call-ID) or a refresh of its binding."""
        user = str(user)
        now = int(self.core.clock.now())
        old = self._bindings.get(user)
        if old is not None:
            reg = replace(old, registered_at=now, expires_s=int(expires_s))
        else:
            ip, port = phone_address(user)
            reg = Registration(user=user, realm=self.core.directory.domain,
                               call_id=f"{uuid_mod.uuid4()}@{ip}", network_ip=ip, network_port=port,
                               expires_s=max(1, int(expires_s)), registered_at=now)
        self._bindings[user] = reg
        self._fire_register(reg, refresh=old is not None)
        if user not in self._refreshers:
            self._refreshers[user] = gevent.spawn(self._refresh_loop, user)
        return reg

    def unregister(self, user: str) -> bool:
        """The phone sends REGISTER with Expires: 0 (logged out, switched off cleanly)."""
        reg = self._drop(user)
        if reg is None:
            return False
        self.core.fire(ev.plain_event(self.core.info, "CUSTOM", [
            ("profile-name", reg.profile), ("username", reg.user), ("from-user", reg.user),
            ("from-host", reg.realm), ("contact", reg.contact), ("call-id", reg.call_id),
            ("rpid", "unknown"), ("realm", reg.realm), ("expires", "0"),
        ], subclass="sofia::unregister", site="sofia::register"))
        return True

    def expire(self, user: str) -> bool:
        """The phone stopped refreshing (unplugged, lost network): the binding runs out."""
        reg = self._drop(user)
        if reg is None:
            return False
        self.core.fire(ev.plain_event(self.core.info, "CUSTOM", [
            ("profile-name", reg.profile), ("call-id", reg.call_id), ("user", reg.user),
            ("host", reg.realm), ("contact", reg.contact), ("expires", str(reg.expires_at)),
            ("user-agent", reg.user_agent), ("realm", reg.realm),
        ], subclass="sofia::expire", site="sofia::expire"))
        return True

    def stop(self) -> None:
        for greenlet in self._refreshers.values():
            greenlet.kill(block=False)
        self._refreshers.clear()

    # ------------------------------------------------------------------ internals
    def _drop(self, user: str) -> Registration | None:
        greenlet = self._refreshers.pop(str(user), None)
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=False)
        return self._bindings.pop(str(user), None)

    def _refresh_loop(self, user: str) -> None:
        """A SIP phone re-registers at half its expiry."""
        while True:
            reg = self._bindings.get(user)
            if reg is None:
                return
            self.core.clock.sleep(reg.expires_s / 2)
            if self._bindings.get(user) is None:
                return
            self.register(user, reg.expires_s)

    def _fire_register(self, reg: Registration, refresh: bool) -> None:
        headers = [
            ("profile-name", reg.profile), ("from-user", reg.user), ("from-host", reg.realm),
            ("presence-hosts", "n/a"), ("contact", reg.contact), ("call-id", reg.call_id),
            ("rpid", "unknown"), ("status", f"Registered({reg.network_proto.upper()})"),
            ("expires", str(reg.expires_s)), ("to-user", reg.user), ("to-host", reg.realm),
            ("network-ip", reg.network_ip), ("network-port", str(reg.network_port)),
            ("username", reg.user), ("realm", reg.realm), ("user-agent", reg.user_agent),
        ]
        if refresh:
            headers.append(("update-reg", "true"))
        self.core.fire(ev.plain_event(self.core.info, "CUSTOM", headers, subclass="sofia::register",
                                      site="sofia::register"))

