"""Follow the agents' phone registrations, so that an agent whose phone is not registered is
never offered a call.

Why follow the switch instead of dialing and failing: an originate to an unregistered user
fails at once with USER_NOT_REGISTERED, but only after the agent was reserved, the caller's
place held and the ring timeout logic started. mod_sofia tells us beforehand: it fires
CUSTOM `sofia::register` when a phone registers (and at every refresh), `sofia::unregister`
when it sends REGISTER with Expires: 0, and `sofia::expire` when the registration runs out.
The router keeps a worker's `registered` flag, and the Lua matcher never offers a phone
channel (voice, callback) to an unregistered worker.

Field names are mod_sofia's own (sofia_reg.c): register and unregister carry `from-user` /
`from-host` (the registered SIP user and its domain) and `call-id`; expire carries `user` /
`host` and `call-id`. A phone may hold several registrations at once (multiple-registrations
on the profile), each with its own Call-ID: the agent counts as registered while any remains.

At start-up (and after every reconnect of the event socket, when events may have been
missed) the current state is read with `show registrations as json`: the core's
`registrations` table, whose columns are reg_user, realm, token (the Call-ID), url, expires,
network_ip, network_port, network_proto, hostname and metadata. With no registrations the
switch answers `{"row_count":0}` with no `rows` key at all. Every mapped agent absent from it
is marked unregistered.

Which agent a SIP user is: from the `acd.agents` settings (acd/config.py). An agent with a
`contact` of `user/<u>[@<domain>]` or `sofia/<profile>/<u>[@<host>]` is SIP user <u>;
otherwise (no contact) its `extension`. An agent reached through a gateway or any other
endpoint that never registers with this switch (a mobile number, loopback) cannot register;
such agents are marked registered once at start-up and otherwise left alone, or they could
never be offered a call.

Nothing here is sent to the switch but the fixed `show registrations as json`; the event
values (SIP headers the phone chose) are only used as dictionary keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from acd.config import AcdSettings, AgentSettings
from acd.errors import AcdError, UnknownEntity
from fs_scripts.errors import FsccError

logger = logging.getLogger(__name__)

SUBCLASS_REGISTER = "sofia::register"
SUBCLASS_UNREGISTER = "sofia::unregister"
SUBCLASS_EXPIRE = "sofia::expire"
SUBCLASSES = (SUBCLASS_REGISTER, SUBCLASS_UNREGISTER, SUBCLASS_EXPIRE)
ANY_HOST = ""


class RegistrationsUnreadable(AcdError):
    """`show registrations as json` answered something that is not the table."""

    code = "registrations-unreadable"
    exit_code = 2


# ================================================================== pure: who is who

@dataclass(frozen=True)
class SipIdentity:
    """The SIP user an agent's phone registers as; `host` is ANY_HOST when any domain will do.
    Users compare exactly (SIP user parts are case-sensitive), domains in lower case."""

    user: str
    host: str = ANY_HOST


def sip_identity(agent: AgentSettings) -> SipIdentity | None:
    """The registration that makes this agent reachable, or None if its endpoint never
    registers with this switch (a gateway, a loopback, an external number)."""
    contact = agent.contact.strip()
    if not contact:
        return SipIdentity(agent.extension) if agent.extension else None
    kind, _, rest = contact.partition("/")
    if kind == "user" and rest:
        user, _, host = rest.partition("@")
        return SipIdentity(user, host.lower()) if user else None
    if kind == "sofia" and rest:
        profile, _, target = rest.partition("/")
        if profile in ("gateway", "external") or not target or "/" in target:
            return None
        user, _, host = target.partition("@")
        return SipIdentity(user, host.lower()) if user else None
    return None


@dataclass(frozen=True)
class Directory:
    """SIP user -> worker ids, and the workers that never register."""

    by_identity: Mapping[SipIdentity, tuple[str, ...]]
    never_register: tuple[str, ...]
    identity_of: Mapping[str, SipIdentity]  # worker id -> the SIP identity it is followed by

    def workers_of(self, user: str, host: str) -> tuple[str, ...]:
        """The workers a registration of user@host stands for (exact domain, else any domain)."""
        return self.by_identity.get(SipIdentity(user, host.lower()), ()) + self.by_identity.get(SipIdentity(user, ANY_HOST), ())


def build_directory(source: AcdSettings | Mapping[str, str], tenant: str, domain: str = "") -> Directory:
    """From the `acd` settings (agents of `tenant` only) or a plain mapping SIP user -> worker id.
    `domain` (the tenant's SIP domain) pins agents whose contact names no domain: two tenants
    may then both have an extension 1001."""
    by_identity: dict[SipIdentity, list[str]] = {}
    never: list[str] = []
    if isinstance(source, AcdSettings):
        for agent_id, agent in sorted(source.agents.items()):
            if agent.tenant != tenant:
                continue
            identity = sip_identity(agent)
            if identity is None:
                never.append(agent_id)
                continue
            if domain and identity.host == ANY_HOST:
                identity = SipIdentity(identity.user, domain.lower())
            by_identity.setdefault(identity, []).append(agent_id)
        if source.agents and not by_identity and not never:
            tenants = sorted({a.tenant for a in source.agents.values()})
            logger.warning("tenant %s has no agent in acd.agents (their tenants: %s): no registration is followed",
                           tenant, ", ".join(tenants))
    else:
        for user, worker_id in sorted(source.items()):
            name, _, host = user.partition("@")
            identity = SipIdentity(name, host.lower())
            by_identity.setdefault(identity, []).append(worker_id)
    identity_of = {w: identity for identity, ws in by_identity.items() for w in ws}
    return Directory({k: tuple(v) for k, v in by_identity.items()}, tuple(never), identity_of)


# ================================================================== pure: the wire

@dataclass(frozen=True)
class RegistrationChange:
    """One sofia::register / unregister / expire event, reduced to what routing needs."""

    registered: bool
    user: str
    host: str
    token: str  # the registration's Call-ID; "" if the event had none
    subclass: str


def parse_registration_event(subclass: str | None, get: Any) -> RegistrationChange | None:
    """`get(name)` reads a header of the event. None for an event that names no user."""
    if subclass == SUBCLASS_REGISTER:
        registered = True
        user, host = get("from-user"), get("from-host")
    elif subclass == SUBCLASS_UNREGISTER:
        registered = False
        user, host = get("from-user"), get("from-host")
    elif subclass == SUBCLASS_EXPIRE:
        registered = False
        user, host = get("user") or get("from-user"), get("host") or get("from-host")
    else:
        return None
    if not user:
        logger.warning("%s event without a user: ignored", subclass)
        return None
    return RegistrationChange(registered, user, (host or "").lower(), get("call-id") or "", subclass)


@dataclass(frozen=True)
class Registration:
    """One row of `show registrations`."""

    user: str
    realm: str
    token: str
    url: str = ""
    expires: int = 0
    network_ip: str = ""


def parse_registrations(text: str) -> list[Registration]:
    """The body of `show registrations as json`. Rows without a user are skipped (logged);
    anything that is not the table raises RegistrationsUnreadable with what came."""
    body = text.strip()
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise RegistrationsUnreadable(f"show registrations: not JSON: {body[:200]!r}") from exc
    if not isinstance(data, dict) or "row_count" not in data:
        raise RegistrationsUnreadable(f"show registrations: no row_count in {body[:200]!r}")
    rows = data.get("rows") or []
    if not isinstance(rows, list):
        raise RegistrationsUnreadable(f"show registrations: rows is not a list in {body[:200]!r}")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("reg_user"):
            logger.warning("show registrations: row %d has no reg_user: skipped (%r)", i, row)
            continue
        try:
            expires = int(float(row.get("expires") or 0))
        except (TypeError, ValueError):
            expires = 0
        out.append(Registration(str(row["reg_user"]), str(row.get("realm") or "").lower(), str(row.get("token") or ""),
                                str(row.get("url") or ""), expires, str(row.get("network_ip") or "")))
    return out


class RegistrationTable:
    """Live registrations per SIP user (user, host) -> Call-IDs: registered while any remains.
    Pure state; the follower turns its answers into router calls."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], set[str]] = {}

    def apply(self, change: RegistrationChange) -> bool:
        """Returns whether user@host is registered after the change."""
        key = (change.user, change.host)
        tokens = self._tokens.setdefault(key, set())
        if change.registered:
            tokens.add(change.token)
        elif change.token and change.token in tokens and len(tokens) > 1:
            tokens.discard(change.token)
        else:  # the last one, or an event without a Call-ID: nothing of this user is left
            tokens.clear()
        if not tokens:
            del self._tokens[key]
        return bool(tokens)

    def replace(self, key: tuple[str, str], tokens: Iterable[str]) -> None:
        wanted = set(tokens)
        if wanted:
            self._tokens[key] = wanted
        else:
            self._tokens.pop(key, None)

    def keys(self) -> list[tuple[str, str]]:
        return list(self._tokens)

    def tokens(self, user: str, host: str) -> frozenset[str]:
        return frozenset(self._tokens.get((user, host), ()))

    def registered(self, user: str, host: str) -> bool:
        return bool(self._tokens.get((user, host)))

    def hosts_of(self, user: str) -> list[str]:
        return [h for (u, h), tokens in self._tokens.items() if u == user and tokens]


# ================================================================== the follower (I/O)

class RegistrationFollower:
    """Keeps `router`'s workers' registered flags in step with the switch.

    `inbound` is an fs_scripts.esl.inbound.InboundConnection (connected or not yet);
    `directory_map` the `acd` settings (the agents of router.tenant are followed) or a mapping
    SIP user (optionally user@domain) -> worker id; `domain` the tenant's SIP domain, if agents
    of several tenants share extensions. Use from gevent greenlets.
    """

    def __init__(self, inbound: Any, router: Any, directory_map: AcdSettings | Mapping[str, str], *,
                 domain: str = "", resync_check_s: float = 1.0, full_resync_s: float = 600.0) -> None:
        self.inbound = inbound
        self.router = router
        self.directory = build_directory(directory_map, getattr(router, "tenant", "default"), domain)
        self.table = RegistrationTable()
        self.resync_check_s = resync_check_s
        self.full_resync_s = full_resync_s
        self.syncs = 0  # completed start-up / reconnect syncs
        self._synced_connection = -1
        self._syncing = False
        self._touched: set[str] = set()
        self._stopped = False
        self._greenlet: Any = None

    # ------------------------------------------------------------ life cycle
    def start(self) -> RegistrationFollower:
        """Subscribe first, then read the current registrations (so no change falls between)."""
        import gevent

        self._stopped = False
        for subclass in SUBCLASSES:
            self.inbound.on_custom(subclass, self._on_event)
        self.inbound.subscribe("CUSTOM", *SUBCLASSES)
        for worker_id in self.directory.never_register:
            self._set(worker_id, True, "its endpoint never registers")
        try:
            self.sync()
        except (FsccError, OSError):
            logger.exception("tenant %s: reading the registrations at start-up failed; retrying",
                             self._tenant)
        self._greenlet = gevent.spawn(self._watch)
        return self

    def stop(self) -> None:
        self._stopped = True
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    @property
    def _tenant(self) -> str:
        return str(getattr(self.router, "tenant", "default"))

    def _watch(self) -> None:
        """Resync after every reconnect (events may have been missed) and every full_resync_s."""
        import gevent

        waited = 0.0
        while not self._stopped:
            gevent.sleep(self.resync_check_s)
            waited += self.resync_check_s
            reconnected = self.inbound.connected and getattr(self.inbound, "connects", 0) != self._synced_connection
            if reconnected or waited >= self.full_resync_s:
                try:
                    self.sync()
                    waited = 0.0
                except (FsccError, OSError):
                    logger.warning("tenant %s: registration resync failed; will retry", self._tenant, exc_info=True)

    # ------------------------------------------------------------ the snapshot
    def sync(self) -> None:
        """Read `show registrations` and make every followed worker agree with it. Users whose
        events arrived while the table was being read keep what the events said (newer)."""
        connection = getattr(self.inbound, "connects", 0)
        self._syncing, self._touched = True, set()
        try:
            rows = parse_registrations(self.inbound.api("show", "registrations", "as", "json"))
            snapshot: dict[tuple[str, str], set[str]] = {}
            for row in rows:
                snapshot.setdefault((row.user, row.realm), set()).add(row.token)
            for key in set(self.table.keys()) | set(snapshot):
                if key[0] not in self._touched:
                    self.table.replace(key, snapshot.get(key, ()))
            for worker_id, identity in sorted(self.directory.identity_of.items()):
                if identity.user not in self._touched:
                    self._set(worker_id, self._registered(identity), "show registrations")
        finally:
            self._syncing = False
        self._synced_connection = connection
        self.syncs += 1
        followed = self.directory.identity_of
        logger.info("tenant %s: %d registration(s) read; %d of %d followed agent(s) registered", self._tenant,
                    len(rows), sum(1 for i in followed.values() if self._registered(i)), len(followed))

    def _registered(self, identity: SipIdentity) -> bool:
        if identity.host != ANY_HOST:
            return self.table.registered(identity.user, identity.host)
        return bool(self.table.hosts_of(identity.user))

    # ------------------------------------------------------------ events
    def _on_event(self, event: Any) -> None:
        if self._stopped:
            return
        change = parse_registration_event(event.subclass, event.get)
        if change is None:
            return
        if self._syncing:
            self._touched.add(change.user)
        self.table.apply(change)
        workers = self.directory.workers_of(change.user, change.host)
        if not workers:
            logger.debug("%s for %s@%s: no agent of tenant %s", change.subclass, change.user, change.host, self._tenant)
            return
        for worker_id in workers:
            registered = self._registered(self.directory.identity_of[worker_id])
            if registered != change.registered:
                logger.info("%s for %s@%s (%s): other registrations remain", change.subclass, change.user,
                            change.host, worker_id)
            self._set(worker_id, registered, change.subclass)

    def _set(self, worker_id: str, registered: bool, why: str) -> None:
        try:
            self.router.set_registered(worker_id, registered)
        except UnknownEntity:
            logger.warning("tenant %s: agent %s is configured but not in the routing state; %s ignored",
                           self._tenant, worker_id, why)
            return
        logger.info("agent %s (tenant %s): %s (%s)", worker_id, self._tenant,
                    "registered" if registered else "not registered", why)
