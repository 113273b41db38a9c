"""The uuid_* APIs, show and status over a real inbound Event Socket, on parked loopback legs
of the capture dialplan (5901: answer + park, 5902: answer + endless tone)."""

from __future__ import annotations

import json
import uuid as uuid_module
import wave

import pytest

from fssim.testing import connect

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def _parked(client, exten: str = "5901", **variables: str) -> tuple[str, str]:
    """originate loopback/<exten> &park; returns (A-leg uuid, B-leg uuid running the dialplan)."""
    a = str(uuid_module.uuid4())
    extra = "".join(f",{k}={v}" for k, v in variables.items())
    assert client.command(f"api originate {{origination_uuid={a}{extra}}}loopback/{exten}/default &park").body_text \
        == f"+OK {a}\n"
    b = client.command(f"api uuid_getvar {a} other_loopback_leg_uuid").body_text
    return a, b


@pytest.fixture
def client(fssim):
    c = connect(fssim)
    yield c
    c.close()


def test_status_and_show_channels(fssim, client) -> None:
    status = client.command("api status").body_text
    assert status.startswith("UP 0 years, ") and "FreeSWITCH (Version 1.11.1" in status
    assert "0 session(s) - peak" in status
    a, b = _parked(client)
    assert "2 session(s) since startup" in client.command("api status").body_text
    plain = client.command("api show channels").body_text.split("\n")
    assert plain[0].startswith("uuid,direction,created,created_epoch,name,state,cid_name")
    assert plain[-2] == "2 total." and plain[-3] == ""
    rows = json.loads(client.command("api show channels as json").body_text)["rows"]
    by_uuid = {row["uuid"]: row for row in rows}
    assert by_uuid[a]["name"] == "loopback/5901-a" and by_uuid[a]["direction"] == "outbound"
    assert by_uuid[b]["application"] == "park" and by_uuid[b]["dest"] == "5901"
    assert client.command("api show channels count").body_text == "\n2 total.\n"
    assert client.command("api show nonsense").body_text == "-ERR Cannot find nonsense\n"


def test_getvar_setvar_and_errors(client) -> None:
    a, _b = _parked(client, my_var="hello")
    assert client.command(f"api uuid_getvar {a} my_var").body_text == "hello"
    assert client.command(f"api uuid_setvar {a} other two words").body_text == "+OK\n"
    assert client.command(f"api uuid_getvar {a} other").body_text == "two words"
    assert client.command(f"api uuid_setvar {a} other").body_text == "+OK\n"  # no value: unset
    assert client.command(f"api uuid_getvar {a} other").body_text == "_undef_"
    for command in ("uuid_getvar {} x", "uuid_setvar {} x 1", "uuid_transfer {} 5901", "uuid_break {}",
                    "uuid_recv_dtmf {} 1", "uuid_hold {}", "uuid_record {} start /tmp/x.wav", "uuid_kill {}"):
        assert client.command("api " + command.format(UNKNOWN)).body_text == "-ERR No such channel!\n", command
    assert client.command("api uuid_getvar").body_text == "-USAGE: <uuid> <var>\n"


def test_uuid_kill_with_a_cause_ends_both_loopback_legs(fssim, client) -> None:
    assert client.command("event plain CHANNEL_HANGUP_COMPLETE").reply_text.startswith("+OK")
    a, b = _parked(client)
    assert client.command(f"api uuid_kill {a} USER_BUSY").body_text == "+OK\n"
    causes = {}
    while len(causes) < 2:
        event = client.wait_event("CHANNEL_HANGUP_COMPLETE")
        causes[event.unique_id] = event.get("Hangup-Cause")
    assert causes == {a: "USER_BUSY", b: "USER_BUSY"}


def test_uuid_transfer_moves_a_parked_leg_to_another_extension(fssim, client) -> None:
    assert client.command("event plain CHANNEL_EXECUTE CHANNEL_UNPARK").reply_text.startswith("+OK")
    _a, b = _parked(client)
    assert client.command(f"api uuid_transfer {b} 5902 XML default").body_text == "+OK\n"
    assert client.wait_event("CHANNEL_UNPARK", b).unique_id == b
    executed = client.wait_event("CHANNEL_EXECUTE", b)
    while executed.get("Application") != "endless_playback":
        executed = client.wait_event("CHANNEL_EXECUTE", b)
    assert executed.get("Caller-Destination-Number") == "5902"


def test_uuid_break_stops_the_playback(client) -> None:
    assert client.command("event plain PLAYBACK_START PLAYBACK_STOP").reply_text.startswith("+OK")
    _a, b = _parked(client, "5902")
    client.wait_event("PLAYBACK_START", b)
    assert client.command(f"api uuid_break {b}").body_text == "+OK\n"
    assert client.wait_event("PLAYBACK_STOP", b).get("Playback-Status") == "break"
    client.wait_event("PLAYBACK_START", b)  # endless_playback starts over, as on the switch


def test_dtmf_received_and_sent(client) -> None:
    assert client.command("event plain DTMF").reply_text.startswith("+OK")
    a, b = _parked(client)
    assert client.command(f"api uuid_recv_dtmf {b} 12#").body_text == f"+OK {b} received DTMF 12#.\n"
    got = [client.wait_event("DTMF", b) for _ in range(3)]
    assert [(e.get("DTMF-Digit"), e.get("DTMF-Source"), e.get("DTMF-Duration")) for e in got] == [
        ("1", "APP", "2000"), ("2", "APP", "2000"), ("#", "APP", "2000")]
    assert client.command(f"api uuid_send_dtmf {a} 9").body_text == "+OK\n"
    assert client.wait_event("DTMF", b).get("DTMF-Digit") == "9"  # heard by the far end


def test_hold_and_unhold_accumulate_hold_time(fssim, client) -> None:
    assert client.command("event plain CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_CALLSTATE").reply_text.startswith("+OK")
    _a, b = _parked(client)
    assert client.command(f"api uuid_hold {b}").body_text == "+OK Success\n"
    client.wait_event("CHANNEL_HOLD", b)
    assert client.wait_event("CHANNEL_CALLSTATE", b).get("Channel-Call-State") == "HELD"
    fssim.clock.sleep(1.5)
    assert client.command(f"api uuid_hold toggle {b}").body_text == "+OK Success\n"
    client.wait_event("CHANNEL_UNHOLD", b)
    assert client.wait_event("CHANNEL_CALLSTATE", b).get("Channel-Call-State") == "ACTIVE"
    assert client.command(f"api uuid_hold {b}").body_text == "+OK Success\n"  # held again until hangup
    fssim.clock.sleep(1.0)
    client.command(f"api uuid_kill {b}")
    fssim.wait_for(lambda: (fssim.spool_dir / f"{b}.cdr.json").is_file(), 5)
    variables = json.loads((fssim.spool_dir / f"{b}.cdr.json").read_text())["variables"]
    assert 2500 <= int(variables["hold_accum_ms"]) <= 6000  # both holds, the second up to the hangup
    assert int(variables["hold_accum_usec"]) // 1000 == int(variables["hold_accum_ms"])
    assert int(variables["last_hold_epoch"]) > 0


def test_uuid_record_start_mask_stop(fssim, client, tmp_path) -> None:
    assert client.command("event plain RECORD_START RECORD_STOP").reply_text.startswith("+OK")
    _a, b = _parked(client, "5902")
    path = tmp_path / "r.wav"
    assert client.command(f"api uuid_record {b} mask {path}").body_text == "-ERR Cannot mask recording session!\n"
    assert client.command(f"api uuid_record {b} start {path}").body_text == "+OK Success\n"
    assert client.wait_event("RECORD_START", b).get("Record-File-Path") == str(path)
    fssim.clock.sleep(0.5)
    assert client.command(f"api uuid_record {b} mask {path}").body_text == "+OK Success\n"
    fssim.clock.sleep(1.0)
    assert client.command(f"api uuid_record {b} unmask {path}").body_text == "+OK Success\n"
    fssim.clock.sleep(0.5)
    assert client.command(f"api uuid_record {b} stop {path}").body_text == "+OK Success\n"
    stop = client.wait_event("RECORD_STOP", b)
    assert stop.get("Record-Completion-Cause") and int(stop.get("variable_record_ms")) >= 1900
    assert client.command(f"api uuid_record {b} stop {path}").body_text == "-ERR Cannot stop record session!\n"
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        wav.setpos(int(rate * 0.9))
        masked = wav.readframes(int(rate * 0.3))
        wav.setpos(int(rate * 0.1))
        heard = wav.readframes(int(rate * 0.3))
    assert masked == bytes(len(masked)) and heard != bytes(len(heard))


def test_uuid_bridge_two_parked_legs_and_show_calls(fssim, client) -> None:
    assert client.command("event plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE").reply_text \
        .startswith("+OK")
    a1, _b1 = _parked(client)
    a2, _b2 = _parked(client)
    assert client.command(f"api uuid_bridge {a1} {UNKNOWN}").body_text == f"-ERR no such channel {UNKNOWN}\n"
    assert client.command(f"api uuid_bridge {a1} {a2}").body_text == f"+OK {a2}\n"
    bridge = client.wait_event("CHANNEL_BRIDGE")
    assert (bridge.get("Bridge-A-Unique-ID"), bridge.get("Bridge-B-Unique-ID")) == (a1, a2)
    calls = json.loads(client.command("api show calls as json").body_text)
    pair = [row for row in calls["rows"] if row["uuid"] == a1]
    assert pair and pair[0]["b_uuid"] == a2
    assert client.command(f"api uuid_kill {a1}").body_text == "+OK\n"
    assert client.wait_event("CHANNEL_UNBRIDGE").get("Bridge-B-Unique-ID") == a2
    fssim.wait_for(lambda: not fssim.channels, 5)  # the partner and both loopback B-legs went too
