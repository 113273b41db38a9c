"""Inbound ESL basics over real TCP: auth, api, bgapi, events, errors, CDR files."""

from __future__ import annotations

from fssim.testing import connect

UUID = "11111111-2222-3333-4444-555555555555"


def test_bad_password_is_answered_and_closed(fssim):
    client = connect(fssim, auth=False)
    assert client.command("auth nope").reply_text == "-ERR invalid"
    notice = client.next_frame()
    assert notice.content_type == "text/disconnect-notice"
    assert notice.body_text == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    client.sock.settimeout(2)
    assert client.sock.recv(10) == b""


def test_commands_before_auth_are_refused_but_connection_stays(fssim):
    client = connect(fssim, auth=False)
    assert client.command("api status").reply_text == "-ERR command not found"
    assert client.command("event plain ALL").reply_text == "-ERR command not found"
    assert client.command("auth ClueCon").reply_text == "+OK accepted"
    assert client.command("api version").body_text.startswith("FreeSWITCH Version 1.11.1")


def test_api_errors_word_for_word(fssim):
    client = connect(fssim)
    assert client.command("api no_such_command a b").body_text == "-ERR no_such_command Command not found!\n"
    assert client.command("api  status").body_text == "-ERR  Command not found!\n"
    assert client.command(f"api uuid_kill {UUID}").body_text == "-ERR No such channel!\n"
    assert client.command("api uuid_kill").body_text == "-USAGE: <uuid> [cause]\n"
    assert client.command("api").reply_text == "-ERR command not found"
    assert client.command("api originate loopback/99999/default &park").body_text == "-ERR NO_ROUTE_DESTINATION\n"
    assert client.command("api show channels as json").body_text == '{"row_count": 0}\n'


def test_bgapi_originate_park_kill_events_and_cdrs(fssim):
    client = connect(fssim)
    assert client.command("event plain ALL").reply_text == "+OK event listener enabled plain"
    reply = client.command(f"bgapi originate {{origination_uuid={UUID}}}loopback/5901/default &park")
    job = reply.get("Job-UUID")
    assert reply.reply_text == f"+OK Job-UUID: {job}"
    background = client.wait_event("BACKGROUND_JOB")
    assert background.body == f"+OK {UUID}\n" and background.job_uuid == job
    client.wait_event("CHANNEL_PARK", UUID)
    listing = client.command("api show channels as json").body_text
    assert '"row_count":2' in listing and UUID in listing
    assert client.command(f"api uuid_kill {UUID}").body_text == "+OK\n"
    client.wait_event("CHANNEL_DESTROY", UUID)
    fssim.wait_for(lambda: not fssim.channels and len(fssim.cdr_paths) == 2, 5)
    names = sorted(p.name for p in fssim.spool_dir.iterdir())
    assert f"{UUID}.cdr.json" in names and len(names) == 2


def test_event_json_carries_body_and_filter_limits_to_one_uuid(fssim):
    client = connect(fssim)
    assert client.command("event json CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB").reply_text == \
        "+OK event listener enabled json"
    assert client.command(f"filter Unique-ID {UUID}").reply_text == f"+OK filter added. [Unique-ID]=[{UUID}]"
    assert client.command("filter Unique-ID").reply_text == "-ERR invalid syntax"
    assert client.command(f"api originate {{origination_uuid={UUID}}}loopback/5901/default &park").body_text == f"+OK {UUID}\n"
    created = client.wait_event("CHANNEL_CREATE")
    assert created.unique_id == UUID
    client.command(f"api uuid_kill {UUID}")
    done = client.wait_event("CHANNEL_HANGUP_COMPLETE")
    assert done.unique_id == UUID and done.get("variable_hangup_cause") == "NORMAL_CLEARING"
    assert client.command(f"filter delete Unique-ID {UUID}").reply_text == f"+OK filter deleted. [Unique-ID][{UUID}]"
    assert client.command("nixevent").reply_text == "-ERR no keywords supplied"
    assert client.command("noevents").reply_text == "+OK no longer listening for events"
    assert client.command("noevents").reply_text == "-ERR not listening for events"
    assert client.command("exit").reply_text == "+OK bye"
    assert client.next_frame().content_type == "text/disconnect-notice"


def test_received_keeps_what_clients_sent_and_inject_event_reaches_subscribers(fssim):
    client = connect(fssim)
    assert client.command("event plain CUSTOM fscc::test").reply_text == "+OK event listener enabled plain"
    client.command("api uuid_getvar nobody x")
    sent = [frame for _cid, frame in fssim.received]
    lines = [frame.raw_headers.decode().split("\n")[0] for frame in sent]
    assert lines[-3:] == ["auth ClueCon", "event plain CUSTOM fscc::test", "api uuid_getvar nobody x"]
    fssim.inject_event([("Event-Subclass", "fscc::test"), ("Who", "Zhang San\nX: y")], body="hello")
    event = client.wait_event("CUSTOM")
    assert event.get("Event-Subclass") == "fscc::test" and event.get("Who") == "Zhang San\nX: y"
    assert event.get("X") is None and event.body == "hello"  # the value stayed one header
    assert fssim.events_named("CUSTOM")[-1].subclass == "fscc::test"
