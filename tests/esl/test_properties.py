"""Property tests (hypothesis) over caller-controlled values.

What a caller controls (caller-ID name, SIP headers, DTMF, chat text) is thrown at every
encoder and builder: `%0A`, raw CR/LF, `,` `'` `{` `}` `^^` `${...}`, 64 KB values, 张三.
The properties: no forged header, no extra frame or command, no crash; a builder either
escapes so that FreeSWITCH's own parser gives the value back, or raises CommandArgumentError.

FreeSWITCH's parser for dial strings is modelled below by porting switch_separate_string,
cleanup_separated_string and switch_find_end_paren from src/switch_utils.c (1.10/1.11).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs_scripts.esl import commands as c
from fs_scripts.esl.errors import CommandArgumentError, FrameError
from fs_scripts.esl.frames import (
    Frame,
    FrameReader,
    encode_event_json,
    encode_event_plain,
    encode_event_xml,
    is_event,
    parse_event,
    url_decode,
    url_encode,
)

NASTY = ["%0A", "%0a", "\n", "\r", "\r\n", ",", "'", '"', "{", "}", "[", "]", "^^", "^^:", "${x}",
         "$${y}", "${system(id)}", "张三", ": ", "Event-Name: X", "\\", "\\n", "\\s", " ", "%",
         "%25", "=", "|", "&", "\x00", "\t", "Content-Length: 5", "\n\n", "sendmsg\n",
         "\nUnique-ID: forged\n", "\nContent-Length: 3\n\nabc", "\nJob-UUID: j-forged\n"]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: The dial-string model runs FreeSWITCH's splitting in pure Python, 4 passes over up to
#: 200 KB of escaped text: fewer examples keep the test at a few seconds.
SLOW_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

plain_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
caller_value = st.one_of(
    plain_text,
    st.lists(st.one_of(st.sampled_from(NASTY), plain_text), max_size=8).map("".join),
    st.builds(lambda a, n: a * n, st.sampled_from(["a", "张", "%0A", ",'", "x\n"]), st.integers(16000, 65536)),
)


# ---------------------------------------------------------------------------------------------
# Server side: encode -> frame -> parse


@SETTINGS
@given(value=caller_value, body=caller_value)
def test_event_encoders_never_let_a_value_become_a_header(value, body):
    headers = [("Event-Name", "CHANNEL_CREATE"), ("Caller-Caller-ID-Name", value), ("Unique-ID", "u-1")]
    for encoder in (encode_event_plain, encode_event_json, encode_event_xml):
        if encoder is encode_event_xml and re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", body):
            with pytest.raises(FrameError, match="XML 1.0"):
                encoder(headers, body)
            continue
        wire = encoder(headers, body) + b"Content-Type: auth/request\n\n"
        frames = FrameReader().feed(wire)
        assert len(frames) == 2, encoder.__name__
        assert frames[1].content_type == "auth/request"
        event = parse_event(frames[0])
        assert event.name == "CHANNEL_CREATE"
        assert event.unique_id == "u-1"
        assert event.get("Caller-Caller-ID-Name") == value
        assert [k for k, _ in event.headers() if k != "Content-Length"] == [k for k, _ in headers]
        assert event.body == body


@SLOW_SETTINGS
@given(value=caller_value, body=caller_value, cuts=st.lists(st.integers(7, 9000), min_size=1, max_size=6))
def test_feed_messages_cuts_exactly_like_feed(value, body, cuts):
    """The reader loop's fast path (events straight from the reader) sees the same messages,
    cut at the same bytes, as feed() + parse_event, however the reads are split."""
    headers = [("Event-Name", "BACKGROUND_JOB"), ("Caller-Caller-ID-Name", value), ("Job-UUID", "j-1")]
    wire = (encode_event_plain(headers, body) + b"Content-Type: command/reply\nReply-Text: +OK\n\n"
            + encode_event_json(headers, body) + encode_event_plain(headers[:1]))
    plain, fast = FrameReader(), FrameReader()
    framed, messages = [], []
    pos = 0
    for cut in cuts * (1 + len(wire) // sum(cuts)):
        framed.extend(plain.feed(wire[pos:pos + cut]))
        messages.extend(fast.feed_messages(wire[pos:pos + cut]))
        pos += cut
        if pos >= len(wire):
            break
    assert len(framed) == len(messages) == 4
    for frame, message in zip(framed, messages, strict=True):
        if is_event(frame):
            assert not isinstance(message, Frame)
            event = parse_event(frame)
            assert (message.name, message.job_uuid, message.body) == (event.name, event.job_uuid, event.body)
            assert message.headers() == event.headers()
            assert message.unique_id is None  # a forged Unique-ID line in the body is not a header
        else:
            assert message.to_bytes() == frame.to_bytes()
    assert messages[0].get("Caller-Caller-ID-Name") == value and messages[0].body == body


@SETTINGS
@given(value=caller_value)
def test_url_encoding_round_trips_and_never_emits_separators(value):
    encoded = url_encode(value)
    assert url_decode(encoded) == value
    assert not any(ch in encoded for ch in "\r\n :")


@SETTINGS
@given(data=st.binary(max_size=2000), cut=st.integers(1, 64))
def test_reader_on_garbage_raises_our_error_or_frames(data, cut):
    reader = FrameReader()
    try:
        for i in range(0, len(data), cut):
            for frame in reader.feed(data[i:i + cut]):
                frame.headers()
                frame.content_type  # noqa: B018 - must not raise
    except Exception as exc:  # only our own error type may come out
        assert isinstance(exc, FrameError), repr(exc)


# ---------------------------------------------------------------------------------------------
# Client side: builders


def _one_command(data: bytes) -> bytes:
    """The wire bytes must be exactly ONE message; returns its header block."""
    frames = FrameReader().feed(data)
    assert len(frames) == 1 and frames[0].to_bytes() == data.lstrip(b"\n")
    return frames[0].raw_headers


def _try(build):
    try:
        return build()
    except CommandArgumentError:
        return None


@SETTINGS
@given(value=caller_value)
def test_line_builders_escape_or_refuse(value):
    builds = {
        "api": lambda: c.api("uuid_setvar", "u-1", "x", value),
        "bgapi": lambda: c.bgapi("uuid_setvar", "u-1", value, job_uuid="j-1"),
        "filter": lambda: c.filter("Caller-Caller-ID-Name", value),
        "auth": lambda: c.auth(value),
        "getvar": lambda: c.getvar(value),
        "event": lambda: c.event("plain", value),
        "hangup": lambda: c.sendmsg_hangup(value),
    }
    for name, build in builds.items():
        data = _try(build)
        if data is None:
            continue
        head = _one_command(data)
        lines = head.split(b"\n")
        assert len(lines) == (2 if name == "bgapi" else 3 if name == "hangup" else 1), name
        assert value.encode("utf-8") in head or name in ("event",)


@SETTINGS
@given(value=caller_value, threshold=st.sampled_from([0, 64, 2048]))
def test_sendmsg_execute_escapes_or_refuses(value, threshold):
    data = _try(lambda: c.sendmsg_execute("playback", value, uuid="u-1", event_uuid="e-1", body_threshold=threshold))
    if data is None:
        assert any(ch in value for ch in "\r\n\x00")
        return
    frames = FrameReader().feed(data)
    assert len(frames) == 1
    frame = frames[0]
    expected = ["sendmsg u-1", "call-command", "execute-app-name"]
    if frame.body:
        expected += ["Event-UUID", "content-type", "content-length"]
    elif value:
        expected += ["execute-app-arg", "Event-UUID"]
    else:
        expected += ["Event-UUID"]
    assert [k for k, _ in frame.headers()] == expected
    arg = frame.body.decode() if frame.body else (frame.get_raw("execute-app-arg") or b"").decode()
    assert arg == value
    assert frame.get("Event-UUID") == "e-1"


# --- a port of FreeSWITCH's string splitting (src/switch_utils.c) ----------------------------

_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def fs_cleanup(s: str, delim: str) -> str:
    """cleanup_separated_string()"""
    i = 0
    while i < len(s) and s[i] == " ":
        i += 1
    out: list[str] = []
    end = None
    inside = False
    last_quote = s.rfind("'")  # strchr(ptr + 1, '\'') is "a quote comes later"
    while i < len(s):
        ch = s[i]
        escaped = False
        if ch == "\\" and i + 1 < len(s):
            e = s[i + 1]
            if e in ("'", '"', "\\") or (delim and e == delim) or _UNESCAPE.get(e, e) != e:
                out.append(_UNESCAPE.get(e, e) if e not in ("'", '"', "\\", delim) else e)
                end = len(out)
                i += 1
                escaped = True
        if not escaped:
            if ch == "'" and (inside or last_quote > i):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(ch)
                if ch != " " or inside:
                    end = len(out)
        i += 1
    return "".join(out if end is None else out[:end])


def fs_separate(s: str, delim: str, limit: int = 1024) -> list[str]:
    """switch_separate_string()"""
    if s.startswith("^^") and len(s) > 3:
        delim, s = s[2], s[3:]
    if delim == " ":
        starts: list[int] = []
        cuts: dict[int, int] = {}
        state, i, inside = "START", 0, False
        while i < len(s) and len(starts) < limit:
            if state == "START":
                starts.append(i)
                state = "SKIP"
            elif state == "SKIP":
                if s[i] == " ":
                    i += 1
                else:
                    state = "FIND"
            elif state == "FIND":
                if s[i] == "\\":
                    i += 1
                elif s[i] == "'":
                    inside = not inside
                elif s[i] == " " and not inside:
                    cuts[len(starts) - 1] = i
                    state = "END"
                i += 1
            elif s[i] == " ":
                i += 1
            else:
                state = "START"
        return [fs_cleanup(s[st:cuts.get(k, len(s))], "") for k, st in enumerate(starts)]
    inside, i = False, 0
    last_quote = s.rfind("'")
    bounds: list[int] = [0]
    while i < len(s) and len(bounds) <= limit - 1:
        ch = s[i]
        if ch == "\\":
            i += 1
        elif ch == "'" and (inside or last_quote > i):
            inside = not inside
        elif ch == delim and not inside:
            bounds.append(i + 1)
        i += 1
    pieces = []
    for n, b in enumerate(bounds):
        e = bounds[n + 1] - 1 if n + 1 < len(bounds) else len(s)
        pieces.append(s[b:e])
    if pieces and pieces[-1] == "" and len(pieces) > 1:
        pieces.pop()  # the C loop never starts a part at the terminating NUL
    return [fs_cleanup(p, delim) for p in pieces] if s else []


def fs_find_end_paren(s: str, open_: str, close: str) -> int | None:
    depth = 0
    for i, ch in enumerate(s):
        if i == 0:
            if ch != open_:
                return None
            depth = 1
            continue
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i
    return None


def fs_dial(dial: str) -> tuple[dict[str, str], dict[str, str], str]:
    """switch_event_create_brackets() for `{...}` then `[...]`, as originate/bridge read them."""
    blocks = []
    for open_, close in (("{", "}"), ("[", "]")):
        found: dict[str, str] = {}
        if dial.startswith(open_):
            end = fs_find_end_paren(dial, open_, close)
            assert end is not None, dial
            for item in fs_separate(dial[1:end], ","):
                kv = fs_separate(item, "=", 2)
                if len(kv) == 2:
                    found[kv[0]] = kv[1]
            dial = dial[end + 1:]
        blocks.append(found)
    return blocks[0], blocks[1], dial


def test_the_port_reads_the_captured_dial_strings():
    argv = fs_separate("{origination_uuid=0a306970,origination_caller_id_name=Alice}loopback/5901/default &park", " ")
    assert argv == ["{origination_uuid=0a306970,origination_caller_id_name=Alice}loopback/5901/default", "&park"]
    assert fs_dial(argv[0]) == ({"origination_uuid": "0a306970", "origination_caller_id_name": "Alice"}, {}, "loopback/5901/default")
    # callcenter.json: quoting groups words ('On Break').
    assert fs_separate("agent set status agent1@default 'On Break'", " ")[-1] == "On Break"


@SLOW_SETTINGS
@given(name=caller_value, number=caller_value)
def test_dial_string_values_survive_freeswitch_parsing(name, number):
    variables = {"origination_caller_id_name": name, "origination_caller_id_number": number}
    dial = _try(lambda: c.dial_string("sofia/gateway/gw1/+8613800000000", variables, {"leg_timeout": "20"}))
    if dial is None:
        bad = ("\r", "\n", "\x00", "{", "}", "[", "]", "^^", "${")
        assert any(b in v for v in (name, number) for b in bad) or "" in (name, number)
        return
    # As the bridge application reads it (dial string as the whole argument) ...
    global_vars, leg_vars, endpoint = fs_dial(dial)
    assert global_vars == variables and leg_vars == {"leg_timeout": "20"}
    assert endpoint == "sofia/gateway/gw1/+8613800000000"
    # ... and as `api originate` reads it: first split on spaces, then the brackets.
    arg = c.originate(dial, "&park")
    argv = fs_separate(arg, " ")
    assert len(argv) == 2 and argv[1] == "&park"
    assert fs_dial(argv[0]) == (variables, {"leg_timeout": "20"}, endpoint)
    # And the api command carrying it is one line.
    _one_command(c.api("originate", arg))


@pytest.mark.parametrize("value", ["O'Brien, Jr.", "  spaced  ", "a\\nb", "x=y", "50% ,off'", "张三 李四"])
def test_dial_string_examples(value):
    dial = c.dial_string("user/1001", {"origination_caller_id_name": value})
    assert fs_dial(fs_separate(c.originate(dial, "&park"), " ")[0])[0] == {"origination_caller_id_name": value}


@SETTINGS
@given(value=caller_value)
def test_quote_word_survives_the_space_split_of_api_arguments(value):
    """callcenter_config / originate split their text on spaces (switch_separate_string):
    a quoted word comes out of that split as exactly one word, unchanged."""
    word = _try(lambda: c.quote_word("value", value))
    if word is None:
        assert value == "" or any(ch in value for ch in "\r\n\x00")
        return
    assert fs_separate(f"agent set status {word} x", " ") == ["agent", "set", "status", value, "x"]
    _one_command(c.api("callcenter_config", f"agent set status {word}"))


@SETTINGS
@given(value=caller_value)
def test_application_argument_helpers_escape_or_refuse(value):
    """set/export/playback/record_session/bridge/app_arg: caller text never carries a line
    break or a `${` expansion into the switch; what is accepted reaches execute-app-arg intact."""
    builds = {
        "set_arg": lambda: c.set_arg("fscc_caller_note", value),
        "export_arg": lambda: c.export_arg("fscc_caller_note", value),
        "playback_arg": lambda: c.playback_arg(value),
        "record_session_arg": lambda: c.record_session_arg(value),
        "bridge_arg": lambda: c.bridge_arg(value),
        "app_arg": lambda: c.app_arg("a", value),
    }
    for name, build in builds.items():
        arg = _try(build)
        if arg is None:
            assert (any(ch in value for ch in "\r\n\x00") or "${" in value or value == ""
                    or (name == "record_session_arg" and " " in value)), name
            continue
        assert not any(ch in arg for ch in "\r\n\x00") and "${" not in arg, name
        (frame,) = FrameReader().feed(c.sendmsg_execute("set", arg, event_uuid="e-1"))
        sent = frame.body.decode() if frame.body else (frame.get_raw("execute-app-arg") or b"").decode()
        assert sent == arg and frame.get("Event-UUID") == "e-1", name
