"""Agent phones registering: mod_sofia's CUSTOM events and `show registrations`, over real TCP.

Header names and order are mod_sofia's (sofia_reg.c), the table columns the core's
`registrations` table; see fssim/registrations.py.
"""

from __future__ import annotations

import json

from fs_scripts.clock import make_clock
from fs_scripts.esl.frames import parse_event
from fssim import AgentBehaviour
from fssim.testing import connect

REGISTER_HEADERS = ["profile-name", "from-user", "from-host", "presence-hosts", "contact", "call-id", "rpid",
                    "status", "expires", "to-user", "to-host", "network-ip", "network-port", "username",
                    "realm", "user-agent"]
SUBSCRIBE = "event plain CUSTOM sofia::register sofia::unregister sofia::expire"


def _custom_headers(event) -> list[str]:
    """The event's own headers: those after the common block (which ends at Event-Sequence)."""
    names = [name for name, _ in event.headers()]
    return names[names.index("Event-Sequence") + 1:]


def test_set_agent_registers_and_unregisters_with_sofias_events(fssim):
    client = connect(fssim)
    assert client.command(SUBSCRIBE).reply_text == "+OK event listener enabled plain"
    fssim.set_agent("1001", AgentBehaviour(registered=True))
    frame, _ = client.until(lambda f: f.content_type == "text/event-plain")
    assert frame.body.startswith(b"Event-Subclass: sofia%3A%3Aregister\nEvent-Name: CUSTOM\n")
    event = parse_event(frame)
    assert event.subclass == "sofia::register"
    assert _custom_headers(event) == REGISTER_HEADERS
    call_id = event.get("call-id")
    assert (event.get("from-user"), event.get("from-host"), event.get("expires")) == ("1001", "127.0.0.1", "3600")
    assert event.get("contact") == f'"1001" <sip:1001@{event.get("network-ip")}:{event.get("network-port")}>'
    assert event.get("status") == "Registered(UDP)"

    # a behaviour change that keeps the phone registered sends no REGISTER
    fssim.set_agent("1001", AgentBehaviour(registered=True, answer_after_s=5))
    fssim.set_agent("1001", AgentBehaviour(registered=False))
    event = client.wait_event("CUSTOM")
    assert event.subclass == "sofia::unregister"
    assert _custom_headers(event) == ["profile-name", "username", "from-user", "from-host", "contact",
                                      "call-id", "rpid", "realm", "expires"]
    assert (event.get("from-user"), event.get("call-id"), event.get("expires")) == ("1001", call_id, "0")
    assert client.command("api originate user/1001 &park").body_text == "-ERR USER_NOT_REGISTERED\n"


def test_show_registrations_plain_and_as_json(fssim):
    client = connect(fssim)
    assert client.command("api show registrations as json").body_text == '{"row_count": 0}\n'
    assert client.command("api show registrations").body_text == (
        "reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata\n\n0 total.\n")
    fssim.set_agent("1001", AgentBehaviour())
    fssim.set_agent("1002", AgentBehaviour(register_expires_s=600))
    table = json.loads(client.command("api show registrations as json").body_text)
    assert table["row_count"] == 2
    rows = {row["reg_user"]: row for row in table["rows"]}
    assert list(rows["1001"]) == ["reg_user", "realm", "token", "url", "expires", "network_ip", "network_port",
                                  "network_proto", "hostname", "metadata"]
    binding = {r.user: r for r in fssim.registrations}
    row = rows["1002"]
    assert row["realm"] == "127.0.0.1" and row["token"] == binding["1002"].call_id
    assert row["url"] == f"sofia/internal/sip:1002@{row['network_ip']}:{row['network_port']}"
    assert row["network_proto"] == "udp" and row["hostname"] == fssim.info.hostname
    # expires is absolute: registration time + Expires + sofia's late margin (60 s)
    assert int(row["expires"]) == binding["1002"].registered_at + 600 + 60
    plain = client.command("api show registrations").body_text.split("\n")
    assert plain[0].startswith("reg_user,realm,token") and plain[-2] == "2 total."
    assert sorted(line.split(",")[0] for line in plain[1:3]) == ["1001", "1002"]


def test_expired_binding_fires_sofia_expire_and_calls_fail(fssim):
    client = connect(fssim)
    fssim.set_agent("1002", AgentBehaviour(answer_after_s=0.5))
    expires_at = fssim.registrar.get("1002").expires_at
    assert client.command(SUBSCRIBE).reply_text.startswith("+OK")
    assert fssim.expire_registration("1002") is True
    event = client.wait_event("CUSTOM")
    assert event.subclass == "sofia::expire"
    assert _custom_headers(event) == ["profile-name", "call-id", "user", "host", "contact", "expires",
                                      "user-agent", "realm"]
    assert (event.get("user"), event.get("host"), event.get("expires")) == ("1002", "127.0.0.1", str(expires_at))
    assert event.get("Event-Calling-Function") == "sofia_reg_del_callback"
    assert fssim.expire_registration("1002") is False
    assert client.command("api show registrations as json").body_text == '{"row_count": 0}\n'
    assert client.command("api originate user/1002 &park").body_text == "-ERR USER_NOT_REGISTERED\n"
    # the phone comes back: a new binding with a new Call-ID, and it can be called again
    fssim.set_agent("1002", AgentBehaviour(answer_after_s=0.5))
    again = client.wait_event("CUSTOM")
    assert again.subclass == "sofia::register" and again.get("call-id") != event.get("call-id")
    assert client.command("api originate user/1002 &park").body_text.startswith("+OK ")


def test_a_registered_phone_refreshes_before_its_binding_expires(fssim_factory):
    sim = fssim_factory(clock=make_clock("fast", scale=200))
    client = connect(sim)
    assert client.command("event json CUSTOM sofia::register").reply_text == "+OK event listener enabled json"
    sim.set_agent("1009", AgentBehaviour(register_expires_s=60))
    first = client.wait_event("CUSTOM")
    assert first.get("update-reg") is None
    refresh = client.wait_event("CUSTOM", timeout_s=3)  # 30 simulated seconds later
    assert refresh.get("update-reg") == "true" and refresh.get("call-id") == first.get("call-id")
    assert len(sim.registrations) == 1


def test_registration_is_drivable_over_esl_alone(fssim):
    """An out-of-process `fscc sim` is controlled through simulator-only api commands."""
    client = connect(fssim)
    assert client.command(SUBSCRIBE).reply_text.startswith("+OK")
    assert client.command("api fssim_agent 1009 registered=true answer_after_s=1").body_text == "+OK\n"
    assert client.wait_event("CUSTOM").subclass == "sofia::register"
    assert client.command("api fssim_agent 1009 expire").body_text == "+OK\n"
    assert client.wait_event("CUSTOM").subclass == "sofia::expire"
    assert client.command("api fssim_agent 1009 expire").body_text == "-ERR 1009 is not registered\n"
    assert client.command("api fssim_agent 1009 registered=true").body_text == "+OK\n"
    assert client.wait_event("CUSTOM").subclass == "sofia::register"
    assert client.command("api fssim_agent 1009 delete").body_text == "+OK\n"
    assert client.wait_event("CUSTOM").subclass == "sofia::unregister"
    assert client.command("api originate user/1009 &park").body_text == "-ERR SUBSCRIBER_ABSENT\n"


def test_the_directory_domain_is_the_realm(fssim_factory):
    sim = fssim_factory(domain="cc.example")
    client = connect(sim)
    assert client.command(SUBSCRIBE).reply_text.startswith("+OK")
    sim.set_agent("1001", AgentBehaviour())
    event = client.wait_event("CUSTOM")
    assert (event.get("from-host"), event.get("realm"), event.get("to-host")) == ("cc.example",) * 3
    row = json.loads(client.command("api show registrations as json").body_text)["rows"][0]
    assert row["realm"] == "cc.example"
    assert client.command("api global_getvar domain_name").body_text == "cc.example"
    assert client.command("api originate user/1001@cc.example &park").body_text.startswith("+OK")
