"""acd/registrations.py: the pure parsing of mod_sofia's events and of `show registrations`,
then the follower over real TCP against fssim with the routing state in a real Redis."""

from __future__ import annotations

import pytest

from acd.config import AcdSettings, AgentSettings, QueueSettings
from acd.registrations import (
    Registration,
    RegistrationChange,
    RegistrationFollower,
    RegistrationsUnreadable,
    RegistrationTable,
    SipIdentity,
    build_directory,
    parse_registration_event,
    parse_registrations,
    sip_identity,
)
from acd.router import Router
from fs_scripts.esl.inbound import InboundConnection

# ------------------------------------------------------------------ pure


@pytest.mark.parametrize(("agent", "expected"), [
    (AgentSettings(extension="1001"), SipIdentity("1001")),
    (AgentSettings(extension="1001", contact="user/2001@cc.example"), SipIdentity("2001", "cc.example")),
    (AgentSettings(contact="user/2002"), SipIdentity("2002")),
    (AgentSettings(contact="sofia/internal/2003@10.0.0.5:5060"), SipIdentity("2003", "10.0.0.5:5060")),
    (AgentSettings(extension="1001", contact="sofia/gateway/carrier/13800138000"), None),
    (AgentSettings(contact="loopback/9000/default"), None),
    (AgentSettings(), None),
])
def test_sip_identity_of_an_agent(agent, expected) -> None:
    assert sip_identity(agent) == expected


def test_directory_follows_only_the_routers_tenant() -> None:
    settings = AcdSettings(agents={
        "a1": AgentSettings(extension="1001"),
        "a2": AgentSettings(extension="1002", contact="user/1002@cc.example"),
        "a3": AgentSettings(contact="sofia/gateway/gw/13800138000"),
        "b1": AgentSettings(extension="1001", tenant="acme"),
    })
    directory = build_directory(settings, "default")
    assert directory.workers_of("1001", "anything.example") == ("a1",)
    assert directory.workers_of("1002", "cc.example") == ("a2",)
    assert directory.workers_of("1002", "CC.Example") == ("a2",)  # domains are case-insensitive
    assert directory.workers_of("1002", "other.example") == ()
    assert directory.never_register == ("a3",)
    assert build_directory(settings, "acme").workers_of("1001", "x") == ("b1",)
    pinned = build_directory(settings, "acme", domain="acme.example")
    assert pinned.workers_of("1001", "acme.example") == ("b1",) and pinned.workers_of("1001", "x") == ()
    plain = build_directory({"1001": "w1", "1002@cc.example": "w2"}, "default")
    assert plain.identity_of == {"w1": SipIdentity("1001"), "w2": SipIdentity("1002", "cc.example")}


def _headers(pairs: dict[str, str]):
    return pairs.get


def test_events_are_read_by_mod_sofias_field_names() -> None:
    register = {"profile-name": "internal", "from-user": "1001", "from-host": "cc.example",
                "contact": '"user" <sip:1001@10.0.0.9:5060>', "call-id": "abc@10.0.0.9", "expires": "3600",
                "to-user": "1001", "to-host": "cc.example", "username": "1001", "realm": "cc.example"}
    assert parse_registration_event("sofia::register", _headers(register)) == \
        RegistrationChange(True, "1001", "cc.example", "abc@10.0.0.9", "sofia::register")
    unregister = {"profile-name": "internal", "from-user": "1001", "from-host": "cc.example", "call-id": "abc", "expires": "0"}
    assert parse_registration_event("sofia::unregister", _headers(unregister)).registered is False
    expire = {"profile-name": "internal", "call-id": "abc", "user": "1001", "host": "cc.example", "expires": "1700000000"}
    assert parse_registration_event("sofia::expire", _headers(expire)) == \
        RegistrationChange(False, "1001", "cc.example", "abc", "sofia::expire")
    assert parse_registration_event("sofia::register", _headers({"from-host": "x"})) is None
    assert parse_registration_event("sofia::gateway_state", _headers(register)) is None


def test_show_registrations_json_as_the_switch_writes_it() -> None:
    assert parse_registrations('{"row_count":0}') == []  # no rows key at all when empty
    assert parse_registrations('{"row_count": 0}\n') == []
    text = ('{"row_count":2,"rows":[{"reg_user":"1001","realm":"cc.example","token":"abc@10.0.0.9",'
            '"url":"sofia/internal/sip:1001@10.0.0.9:5060","expires":"1700003600","network_ip":"10.0.0.9",'
            '"network_port":"5060","network_proto":"udp","hostname":"fs1","metadata":""},'
            '{"reg_user":"","realm":"x"}]}')
    assert parse_registrations(text) == [
        Registration("1001", "cc.example", "abc@10.0.0.9", "sofia/internal/sip:1001@10.0.0.9:5060", 1700003600, "10.0.0.9")]
    for bad in ("-ERR Cannot find registrations\n", "[]", '{"rows": []}', '{"row_count":1,"rows":{"a":1}}'):
        with pytest.raises(RegistrationsUnreadable, match="show registrations"):
            parse_registrations(bad)


def test_a_user_stays_registered_while_any_of_its_registrations_remains() -> None:
    table = RegistrationTable()
    assert table.apply(RegistrationChange(True, "1001", "h", "a", "sofia::register"))
    assert table.apply(RegistrationChange(True, "1001", "h", "b", "sofia::register"))  # a second phone
    assert table.apply(RegistrationChange(True, "1001", "h", "b", "sofia::register"))  # a refresh
    assert table.apply(RegistrationChange(False, "1001", "h", "a", "sofia::unregister"))
    assert not table.apply(RegistrationChange(False, "1001", "h", "b", "sofia::expire"))
    table.apply(RegistrationChange(True, "1001", "h", "c", "sofia::register"))
    assert not table.apply(RegistrationChange(False, "1001", "h", "", "sofia::expire"))  # no Call-ID: all gone
    assert table.keys() == []


# ------------------------------------------------------------------ over TCP with fssim and Redis

SETTINGS = AcdSettings(
    agents={
        "1001": AgentSettings(extension="1001", skills={"billing": 3}),
        "1002": AgentSettings(extension="1002", contact="user/1002@cc.example", skills={"billing": 3}),
        "mobile": AgentSettings(contact="sofia/gateway/carrier/13800138000", skills={"billing": 1}),
        "acme-1001": AgentSettings(extension="1001", tenant="acme", skills={"billing": 3}),
    },
    queues={"billing": QueueSettings(target="skills.billing >= 1")},
)


@pytest.fixture
def router(redis_client) -> Router:
    r = Router(redis_client, SETTINGS, tenant="default")
    r.sync_config(agents=["1001", "1002", "mobile"])
    return r


@pytest.fixture
def inbound(fssim):
    conn = InboundConnection("127.0.0.1", fssim.esl_port, "ClueCon", connect_timeout_s=5, command_timeout_s=5)
    conn.connect()
    yield conn
    conn.close()


def _register(fssim, user: str, host: str, call_id: str) -> None:
    fssim.inject_event([("Event-Subclass", "sofia::register"), ("profile-name", "internal"), ("from-user", user),
                        ("from-host", host), ("contact", f'"user" <sip:{user}@10.0.0.9:5060>'),
                        ("call-id", call_id), ("rpid", "unknown"), ("expires", "3600"), ("to-user", user),
                        ("to-host", host)])


def _unregister(fssim, user: str, host: str, call_id: str) -> None:
    fssim.inject_event([("Event-Subclass", "sofia::unregister"), ("profile-name", "internal"), ("from-user", user),
                        ("from-host", host), ("contact", f'"user" <sip:{user}@10.0.0.9:5060>'),
                        ("call-id", call_id), ("rpid", "unknown"), ("expires", "0")])


def _expire(fssim, user: str, host: str, call_id: str) -> None:
    fssim.inject_event([("Event-Subclass", "sofia::expire"), ("profile-name", "internal"), ("call-id", call_id),
                        ("user", user), ("host", host), ("contact", f'"user" <sip:{user}@10.0.0.9:5060>'),
                        ("expires", "1700000000"), ("user-agent", "Yealink SIP-T46S")])


def _registered(router: Router, worker_id: str) -> bool:
    return router.worker(worker_id).registered


def test_events_over_tcp_drive_the_registered_flag(fssim, inbound, router) -> None:
    follower = RegistrationFollower(inbound, router, SETTINGS, resync_check_s=0.05).start()
    try:
        fssim.wait_for(lambda: _registered(router, "mobile"), 5)  # a gateway agent never registers
        _register(fssim, "1001", "10.0.0.1", "call-a")
        fssim.wait_for(lambda: _registered(router, "1001"), 5)
        _register(fssim, "1001", "10.0.0.1", "call-b")  # a second phone of the same agent
        _unregister(fssim, "1001", "10.0.0.1", "call-a")
        _register(fssim, "1002", "other.example", "call-c")  # not the agent's domain
        _register(fssim, "1002", "cc.example", "call-d")
        fssim.wait_for(lambda: _registered(router, "1002"), 5)
        assert _registered(router, "1001")  # call-b remains
        _expire(fssim, "1001", "10.0.0.1", "call-b")
        fssim.wait_for(lambda: not _registered(router, "1001"), 5)
        _unregister(fssim, "1002", "cc.example", "call-d")
        fssim.wait_for(lambda: not _registered(router, "1002"), 5)
        assert _registered(router, "mobile")
    finally:
        follower.stop()


def test_an_unregistered_agent_is_never_offered_a_call(fssim, inbound, router) -> None:
    follower = RegistrationFollower(inbound, router, SETTINGS, resync_check_s=0.05).start()
    try:
        router.ready("1001")  # "mobile" stays offline: only 1001 could take the call
        waiting = router.enqueue("call-1", {}, queue="billing")
        assert waiting.reservations == ()  # ready, but the phone is not registered
        _register(fssim, "1001", "10.0.0.1", "call-a")
        fssim.wait_for(lambda: router.task_state("call-1")["state"] == "reserved", 5)
        offers = router.pop_offers()
        assert [(o.task_id, o.worker_id) for o in offers] == [("call-1", "1001")]
        router.accept(offers[0].reservation_id)
        router.complete("call-1", wrapup_s=0)
        _expire(fssim, "1001", "10.0.0.1", "call-a")
        fssim.wait_for(lambda: not _registered(router, "1001"), 5)
        assert router.enqueue("call-2", {}, queue="billing").reservations == ()
    finally:
        follower.stop()


# ------------------------------------------------------------------ against fssim's registrar

FSSIM_SETTINGS = AcdSettings(
    agents={
        "1001": AgentSettings(extension="1001", skills={"billing": 3}),
        "1002": AgentSettings(extension="1002", skills={"billing": 3}),
        "1009": AgentSettings(contact="user/1009@127.0.0.1", skills={"billing": 3}),  # fssim's domain
        "mobile": AgentSettings(contact="sofia/gateway/carrier/13800138000", skills={"billing": 1}),
    },
    queues={"billing": QueueSettings(target="skills.billing >= 1")},
)


@pytest.fixture
def sim_router(redis_client) -> Router:
    r = Router(redis_client, FSSIM_SETTINGS, tenant="default")
    r.sync_config()
    return r


def test_start_up_reads_show_registrations_and_phones_drive_the_flag(fssim, inbound, sim_router) -> None:
    from fssim.directory import AgentBehaviour

    fssim.set_agent("1001", AgentBehaviour(registered=True))  # registered before fscc starts
    sim_router.set_registered("1002", True)  # stale: left over from before a restart
    follower = RegistrationFollower(inbound, sim_router, FSSIM_SETTINGS, resync_check_s=0.05).start()
    try:
        assert follower.syncs == 1
        assert {w: _registered(sim_router, w) for w in ("1001", "1002", "1009", "mobile")} == \
            {"1001": True, "1002": False, "1009": False, "mobile": True}
        fssim.set_agent("1009", AgentBehaviour(registered=True))
        fssim.wait_for(lambda: _registered(sim_router, "1009"), 5)
        assert fssim.expire_registration("1001")
        fssim.wait_for(lambda: not _registered(sim_router, "1001"), 5)
        fssim.set_agent("1009", AgentBehaviour(registered=False))  # REGISTER with Expires: 0
        fssim.wait_for(lambda: not _registered(sim_router, "1009"), 5)
    finally:
        follower.stop()


def test_refreshes_keep_one_registration(fssim, inbound, sim_router) -> None:
    from fssim.directory import AgentBehaviour

    follower = RegistrationFollower(inbound, sim_router, FSSIM_SETTINGS, resync_check_s=0.05).start()
    try:
        fssim.set_agent("1001", AgentBehaviour(registered=True, register_expires_s=2.0))  # refresh every 1 s
        fssim.wait_for(lambda: len(fssim.events_named("CUSTOM")) >= 4, 5)
        assert _registered(sim_router, "1001")
        assert follower.table.keys() == [("1001", "127.0.0.1")]
        assert follower.table.tokens("1001", "127.0.0.1") == {fssim.registrations[0].call_id}  # refreshes: one binding
    finally:
        follower.stop()


def test_a_change_missed_while_disconnected_is_caught_up_after_the_reconnect(fssim, sim_router) -> None:
    from fssim.directory import AgentBehaviour

    conn = InboundConnection("127.0.0.1", fssim.esl_port, "ClueCon", connect_timeout_s=5, command_timeout_s=5,
                             min_backoff_s=0.05)
    conn.connect()
    fssim.set_agent("1001", AgentBehaviour(registered=True))
    follower = RegistrationFollower(conn, sim_router, FSSIM_SETTINGS, resync_check_s=0.05).start()
    try:
        assert _registered(sim_router, "1001") and follower.syncs == 1
        for session in list(fssim._server.sessions):  # the switch drops the event socket
            session.close()
        assert fssim.expire_registration("1001")  # sofia::expire fires while nobody listens
        fssim.wait_for(lambda: follower.syncs == 2, 10)
        assert conn.connects == 2
        assert not _registered(sim_router, "1001")
    finally:
        follower.stop()
        conn.close()
