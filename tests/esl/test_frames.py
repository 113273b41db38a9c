"""frames.py on hand-made edge cases; the real transcripts are in test_captures.py."""

from __future__ import annotations

import pytest

from fs_scripts.esl.errors import FrameError
from fs_scripts.esl.frames import (
    MAX_HEADER_BLOCK_BYTES,
    Frame,
    FrameReader,
    encode_event_json,
    encode_event_plain,
    encode_event_xml,
    encode_message,
    event_from_headers,
    is_event,
    parse_event,
    url_decode,
    url_encode,
)

CHANNEL = [
    ("Event-Name", "CHANNEL_CREATE"),
    ("Unique-ID", "1bc460a4-190c-4187-b38c-ae15f529f6ac"),
    ("Caller-Caller-ID-Name", "张三 <a@b>"),
    ("variable_sip_h_X-Note", "50% off & more: {x}"),
]


def test_url_encode_matches_the_captured_switch_examples():
    # Captures README fact 5, and the values seen in the transcripts.
    assert url_encode("2026-11-22 13:19:24") == "2026-11-22%2013%3A19%3A24"
    assert url_encode("Sun, 22 Nov 2026 13:19:24 GMT") == "Sun,%2022%20Nov%202026%2013%3A19%3A24%20GMT"
    assert url_encode("{origination_uuid=x}loopback/5901/default &park") == (
        "%7Borigination_uuid%3Dx%7Dloopback/5901/default%20%26park"
    )
    assert url_encode("+OK\n") == "%2BOK%0A"
    assert url_encode("2001:db8::10") == "2001%3Adb8%3A%3A10"
    assert url_encode("#") == "%23" and url_encode("\\d+") == "%5Cd%2B"
    assert url_encode("a/b(c),d'e*f!g~h$") == "a/b(c),d'e*f!g~h$"
    assert url_encode("tone_stream://%(1000,0,600)") == "tone_stream%3A//%25(1000,0,600)"
    assert url_encode("张") == "%E5%BC%A0"
    assert url_encode("\x7f\x01\t") == "%7F%01%09"


def test_url_decode_is_the_inverse_and_keeps_bad_escapes():
    for text in ["", "plain", "张三 <a@b>", "%0A", "50% off", "\x00\xff", "a%zzb", "%"]:
        assert url_decode(url_encode(text)) == text
    assert url_decode("a%zzb%4") == "a%zzb%4"
    assert url_decode("%e5%bc%a0") == "张"
    # Bytes that are not UTF-8 survive a round trip instead of being replaced.
    assert url_encode(url_decode("%FF%FE")) == "%FF%FE"


def test_reader_frames_by_bytes_not_characters():
    body = "张三说：你好\n".encode()
    wire = encode_message([("Content-Type", "api/response")], body) + b"Content-Type: auth/request\n\n"
    frames = FrameReader().feed(wire)
    assert [f.content_type for f in frames] == ["api/response", "auth/request"]
    assert frames[0].body == body and frames[0].body_text == "张三说：你好\n"
    assert frames[0].get("Content-Length") == str(len(body))


def test_reader_accepts_any_split_of_the_stream():
    wire = (
        encode_event_plain(CHANNEL, body="+OK done\n")
        + b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        + encode_event_json(CHANNEL)
    )
    whole = FrameReader().feed(wire)
    assert len(whole) == 3
    reader = FrameReader()
    pieces = []
    for i in range(len(wire)):
        pieces.extend(reader.feed(wire[i:i + 1]))
    assert [f.to_bytes() for f in pieces] == [f.to_bytes() for f in whole]
    assert reader.pending_bytes == 0


def test_reader_skips_blank_lines_between_commands_and_reads_client_bodies():
    wire = b"\n\nsendmsg\ncall-command: execute\ncontent-type: text/plain\ncontent-length: 3\n\nabc" + b"exit\n\n"
    frames = FrameReader().feed(wire)
    assert [f.raw_headers.split(b"\n")[0] for f in frames] == [b"sendmsg", b"exit"]
    assert frames[0].body == b"abc"
    assert frames[0].get("Content-Type") == "text/plain"


@pytest.mark.parametrize("value", [b"abc", b"-5", b"1e3", b""])
def test_bad_content_length_is_a_frame_error_naming_it(value):
    with pytest.raises(FrameError, match="Content-Length"):
        FrameReader().feed(b"Content-Type: api/response\nContent-Length: " + value + b"\n\n")


def test_endless_header_block_is_a_frame_error():
    reader = FrameReader()
    reader.feed(b"Content-Type: x\n")
    with pytest.raises(FrameError, match="without a blank line"):
        reader.feed(b"X: " + b"a" * MAX_HEADER_BLOCK_BYTES)


def test_encoded_newline_in_a_value_never_becomes_a_header():
    headers = [
        ("Event-Name", "CHANNEL_CREATE"),
        ("Caller-Caller-ID-Name", "Mallory\nEvent-Name: HACKED\nUnique-ID: forged"),
        ("Unique-ID", "real"),
    ]
    wire = encode_event_plain(headers)
    assert b"Mallory%0AEvent-Name%3A%20HACKED" in wire
    # Already-encoded text from a caller is encoded again (% -> %25), never passed through.
    sneaky = encode_event_plain([("Event-Name", "X"), ("Caller-Caller-ID-Name", "Mallory%0AEvent-Name: Y")])
    assert b"Mallory%250AEvent-Name%3A%20Y" in sneaky
    (frame,) = FrameReader().feed(wire)
    event = parse_event(frame)
    assert event.name == "CHANNEL_CREATE"
    assert event.unique_id == "real"
    assert event.get("Caller-Caller-ID-Name") == headers[1][1]
    assert event.headers() == headers


def test_a_header_raw_value_is_one_line_even_when_a_literal_percent_0a_arrives():
    # A peer that sends %0A inside a value (as FreeSWITCH does for LF): one header, decoded after.
    raw = b"Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\nCC-Agent: Mallory%0AEvent-Name: X\n\n"
    event = parse_event(Frame(b"Content-Type: text/event-plain", raw))
    assert event.name == "CUSTOM" and event.subclass == "callcenter::info"
    assert event.get("CC-Agent") == "Mallory\nEvent-Name: X"
    assert len(event.headers()) == 3


def test_plain_event_body_is_not_searched_for_headers():
    wire = encode_event_plain(
        [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "j1")],
        body="-ERR x\nEvent-Name: FORGED\nUnique-ID: u\n",
    )
    event = parse_event(FrameReader().feed(wire)[0])
    assert event.name == "BACKGROUND_JOB" and event.job_uuid == "j1"
    assert event.unique_id is None
    assert event.body == "-ERR x\nEvent-Name: FORGED\nUnique-ID: u\n"


def test_get_is_case_insensitive_after_an_exact_miss():
    event = parse_event(FrameReader().feed(encode_event_plain(CHANNEL))[0])
    assert event.get("unique-id") == CHANNEL[1][1]
    assert event.get("VARIABLE_SIP_H_X-NOTE") == "50% off & more: {x}"
    assert event.variable("sip_h_X-Note") == "50% off & more: {x}"
    assert event.get("missing", "d") == "d"
    assert "Unique-ID" in event and "missing" not in event
    with pytest.raises(KeyError):
        event["missing"]


@pytest.mark.parametrize("encoder", [encode_event_plain, encode_event_json, encode_event_xml])
def test_every_format_round_trips_headers_duplicates_and_body(encoder):
    headers = CHANNEL + [("Hangup-Cause", "NORMAL_CLEARING"), ("Hangup-Cause", "NORMAL_CLEARING")]
    body = "+OK 张三\n<&>\"'"
    (frame,) = FrameReader().feed(encoder(headers, body))
    assert is_event(frame)
    event = parse_event(frame)
    assert event.name == "CHANNEL_CREATE"
    assert event.unique_id == CHANNEL[1][1]
    got = [(k, v) for k, v in event.headers() if k != "Content-Length"]
    assert got == headers
    assert event.body == body


def test_json_lookup_ignores_keys_inside_string_values():
    wire = encode_event_json([
        ("Event-Name", "CUSTOM"),
        ("X-Trap", '","Unique-ID":"forged'),
        ("Unique-ID", "real"),
    ])
    event = parse_event(FrameReader().feed(wire)[0])
    assert event.unique_id == "real"
    assert event.get("X-Trap") == '","Unique-ID":"forged'


def test_bad_json_and_xml_bodies_are_frame_errors():
    bad_json = Frame(b"Content-Type: text/event-json", b'{"Event-Name":"X", broken')
    event = parse_event(bad_json)
    assert event.name == "X"  # dispatch still works on the raw name
    with pytest.raises(FrameError, match="not JSON"):
        event.headers()
    with pytest.raises(FrameError, match="not XML"):
        parse_event(Frame(b"Content-Type: text/event-xml", b"<event><head")).headers()
    with pytest.raises(FrameError, match="not an event"):
        parse_event(Frame(b"Content-Type: command/reply"))


def test_encode_message_shapes_like_the_switch():
    assert encode_message([("Content-Type", "command/reply"), ("Reply-Text", "+OK accepted")]) == (
        b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    )
    notice = encode_message(
        [("Content-Type", "text/disconnect-notice"), ("Controlled-Session-UUID", "u"),
         ("Content-Disposition", "linger"), ("Channel-Name", "sofia/internal/sipp@127.0.0.1:5070"),
         ("Linger-Time", "4"), ("Content-Length", "0")]
    )
    assert notice.endswith(b"Linger-Time: 4\nContent-Length: 0\n\n")
    connect_reply = encode_message(
        [("Event-Name", "CHANNEL_DATA"), ("Content-Type", "command/reply"), ("Reply-Text", "+OK\n")],
        encode_values=True,
    )
    assert connect_reply.endswith(b"Content-Type: command/reply\nReply-Text: %2BOK%0A\n\n")
    (frame,) = FrameReader().feed(connect_reply)
    assert frame.reply_text == "+OK\n"
    assert event_from_headers(frame).name == "CHANNEL_DATA"
    with pytest.raises(FrameError):
        encode_message([("Reply-Text", "a\nb")])
    with pytest.raises(FrameError):
        encode_message([("Bad: name", "x")])


@pytest.mark.parametrize(
    "headers, body",
    [
        ([("Content-Type", "text/rude-rejection")], b"Access Denied, go away.\n"),
        ([("Content-Type", "log/data"), ("Log-Level", "7"), ("Text-Channel", "3")], "日志 line\n".encode()),
        ([("Content-Type", "text/disconnect-notice"), ("Controlled-Session-UUID", "u"),
          ("Content-Disposition", "disconnect")], b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"),
    ],
)
def test_other_message_types_frame(headers, body):
    (frame,) = FrameReader().feed(encode_message(headers, body))
    assert frame.content_type == headers[0][1]
    assert frame.body == body
    assert frame.headers()[: len(headers)] == headers


@pytest.mark.parametrize("block_has_length", [True, False])
def test_a_header_name_in_the_body_is_never_a_header(block_has_length):
    """Plain events settle where their header block ends lazily (frames.PlainEvent): a key
    that appears only in the body, e.g. in a caller's chat text, must not be found."""
    body = "hi\nUnique-ID: forged\nContent-Length: 3\n\nabc\nvariable_x: y\n"
    headers = [("Event-Name", "MESSAGE"), ("X-Trap", "a")]
    wire = encode_event_plain(headers, body if block_has_length else "")
    (frame,) = FrameReader().feed(wire)
    for event in (parse_event(frame), FrameReader().feed_messages(wire)[0]):
        assert event.name == "MESSAGE" and event.get("X-Trap") == "a"
        assert event.unique_id is None and event.variable("x") is None
        assert event.get("unique-id") is None  # nor through the any-case lookup
        assert [k for k, _ in event.headers()] == ["Event-Name", "X-Trap"] + (["Content-Length"] if block_has_length else [])
        assert event.body == (body if block_has_length else "")


def test_custom_event_name_and_header_block_of_the_connect_reply():
    custom = encode_event_plain([("Event-Subclass", "callcenter::info"), ("Event-Name", "CUSTOM"),
                                 ("CC-Action", "agent-offering")])
    event = FrameReader().feed_messages(custom)[0]
    assert (event.name, event.subclass, event.get("CC-Action")) == ("CUSTOM", "callcenter::info", "agent-offering")
    reply = encode_message([("Event-Name", "CHANNEL_DATA"), ("Unique-ID", "u1"),
                            ("Content-Type", "command/reply"), ("Reply-Text", "+OK\n")], encode_values=True)
    data = event_from_headers(FrameReader().feed(reply)[0])
    assert (data.name, data.unique_id, data.get("Reply-Text")) == ("CHANNEL_DATA", "u1", "+OK\n")


def test_first_of_duplicate_headers_wins_even_on_the_first_line():
    wire = encode_event_plain([("Unique-ID", "first"), ("Event-Name", "X"), ("Unique-ID", "second"),
                               ("variable_v", "1"), ("variable_v", "2")])
    for event in (parse_event(FrameReader().feed(wire)[0]), FrameReader().feed_messages(wire)[0]):
        assert event.unique_id == "first" and event.get("Unique-ID") == "first"
        assert event.name == "X" and event.variable("v") == "1"
