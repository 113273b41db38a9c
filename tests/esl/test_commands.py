"""commands.py: what each builder writes, and what it refuses."""

from __future__ import annotations

import pytest

from fs_scripts.esl import commands as c
from fs_scripts.esl.errors import CommandArgumentError
from fs_scripts.esl.frames import FrameReader


def test_connection_commands():
    assert c.auth("Clue Con") == b"auth Clue Con\n\n"
    assert c.api("status") == b"api status\n\n"
    assert c.api("uuid_kill", "u1", "USER_BUSY") == b"api uuid_kill u1 USER_BUSY\n\n"
    assert c.bgapi("status", job_uuid="j-1") == b"bgapi status\nJob-UUID: j-1\n\n"
    assert c.event("json", "CHANNEL_CREATE", "CUSTOM", "callcenter::info") == (
        b"event json CHANNEL_CREATE CUSTOM callcenter::info\n\n"
    )
    assert c.filter("Unique-ID", "u 1") == b"filter Unique-ID u 1\n\n"
    assert c.filter_delete("Unique-ID") == b"filter delete Unique-ID\n\n"
    assert c.linger() == b"linger\n\n" and c.linger(4) == b"linger 4\n\n"
    assert c.nolinger() == b"nolinger\n\n"
    assert c.myevents() == b"myevents\n\n"
    assert c.myevents("json") == b"myevents json\n\n"
    assert c.myevents("plain", uuid="u1") == b"myevents u1 plain\n\n"
    assert c.getvar("hangup_cause") == b"getvar hangup_cause\n\n"
    assert c.resume() == b"resume\n\n"
    assert c.divert_events(True) == b"divert_events on\n\n"
    assert c.divert_events(False) == b"divert_events off\n\n"


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: c.auth("x\nexit"), "password"),
        (lambda: c.api("status\n"), "command"),
        (lambda: c.api("uuid kill"), "command"),
        (lambda: c.api("uuid_kill", "u\r\nexit"), "args[0]"),
        (lambda: c.bgapi("status", job_uuid="j\nEvent-Name: X"), "job_uuid"),
        (lambda: c.event("yaml", "ALL"), "fmt"),
        (lambda: c.event("plain", "ALL CHANNEL_CREATE"), "names[0]"),
        (lambda: c.filter("Unique ID", "x"), "header"),
        (lambda: c.linger(-1), "seconds"),
        (lambda: c.getvar("a b"), "name"),
        (lambda: c.sendmsg_execute("play back"), "app"),
        (lambda: c.sendmsg_execute("playback", "a\nb"), "arg"),
        (lambda: c.sendmsg_execute("playback", "a", uuid="u\nx"), "uuid"),
        (lambda: c.sendmsg_hangup("normal clearing"), "cause"),
        (lambda: c.dial_string("user/1001", {"origination_caller_id_name": "a}b"}), "variables[origination_caller_id_name]"),
        (lambda: c.dial_string("user/1001", {"x": "^^:a:b"}), "variables[x]"),
        (lambda: c.dial_string("user/1001", {"x": "${system(id)}"}), "variables[x]"),
        (lambda: c.dial_string("user/1001", {"bad key": "v"}), "variables key"),
        (lambda: c.dial_string("user/1001,user/1002"), "endpoint"),
        (lambda: c.originate("user/1001", "&park", cid_name="Mallory X"), "cid_name"),
        (lambda: c.set_arg("name", "${sofia_contact(x)}"), "value"),
        (lambda: c.app_arg("ok", "a\rb"), "parts[1]"),
    ],
)
def test_refusals_name_the_argument(build, argument):
    with pytest.raises(CommandArgumentError) as info:
        build()
    assert info.value.argument == argument
    assert argument in str(info.value)
    assert isinstance(info.value, ValueError)


def test_sendmsg_execute_header_order_and_body_form():
    assert c.sendmsg_execute(
        "playback", "tone_stream://%(500,0,880)", event_uuid="e1", event_lock=True, loops=2, async_=True
    ) == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        b"execute-app-arg: tone_stream://%(500,0,880)\nloops: 2\nevent-lock: true\n"
        b"Event-UUID: e1\nasync: true\n\n"
    )
    long_arg = "张三" * 2000
    wire = c.sendmsg_execute("log", long_arg, uuid="u1", event_uuid="e2")
    (frame,) = FrameReader().feed(wire)
    assert frame.get("content-type") == "text/plain"
    assert frame.body.decode() == long_arg
    assert b"execute-app-arg" not in frame.raw_headers
    assert c.sendmsg_hangup("USER_BUSY", uuid="u1") == (
        b"sendmsg u1\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n"
    )


def test_dial_string_escapes_what_freeswitch_unescapes():
    dial = c.dial_string(
        "sofia/gateway/gw1/+8613800000000",
        {"origination_caller_id_name": "O'Brien, Jr. \\ 张三", "origination_uuid": "u1"},
        {"leg_timeout": 20},
    )
    # Escaped for the `=` pass, then for the `,` pass (see test_properties.py for the model).
    assert dial == (
        r"{origination_caller_id_name=O\\\'Brien\,\\sJr.\\s\\\\\\s张三,origination_uuid=u1}"
        "[leg_timeout=20]sofia/gateway/gw1/+8613800000000"
    )
    quoted = "'" + dial.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert c.originate(dial, "&park") == quoted + " &park"
    assert c.originate("user/1001", "5901", context="default") == "user/1001 5901 XML default"
    assert c.originate("user/1001", "&park()", timeout_s=30) == (
        "user/1001 &park() XML default undef undef 30"
    )


def test_app_arg_helpers():
    assert c.set_arg("fscc_queue", "billing, vip") == "fscc_queue=billing, vip"
    assert c.playback_arg("/sounds/welcome.wav") == "/sounds/welcome.wav"
    assert c.play_and_get_digits_arg(2, 5, 3, 7000, "#", "tone_stream://%(300,0,600)",
                                     "silence_stream://250", "my_digits", "\\d+", 3000) == (
        "2 5 3 7000 # tone_stream://%(300,0,600) silence_stream://250 my_digits \\d+ 3000"
    )
    with pytest.raises(CommandArgumentError):
        c.play_and_get_digits_arg(2, 5, 3, 7000, "#", "None x", "s", "v", "r", 1)
    assert c.bridge_arg("user/1001", "user/1002") == "user/1001|user/1002"
    assert c.bridge_arg("user/1001", "user/1002", simultaneous=True) == "user/1001,user/1002"
    assert c.transfer_arg("5901") == "5901 XML default"
    assert c.record_session_arg("/rec/a.wav") == "/rec/a.wav"
