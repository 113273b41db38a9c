"""frames.py and commands.py against every real FreeSWITCH 1.11 transcript.

Server side: every s2c message of every capture (and aux connection) is framed, typed and,
for events, parsed; url_encode and the event encoders rebuild the switch's bytes exactly.
Client side: every c2s command is rebuilt byte-for-byte from structured arguments by the
builders, except the few the captures made on purpose to provoke an error (listed below).
"""

from __future__ import annotations

import re

import pytest

from fs_scripts.esl import commands as c
from fs_scripts.esl.errors import CommandArgumentError
from fs_scripts.esl.frames import (
    FrameReader,
    encode_event_json,
    encode_event_plain,
    encode_message,
    event_from_headers,
    is_event,
    parse_event,
    url_decode,
    url_encode,
)


def connections(capture: dict) -> list[tuple[str, list[dict]]]:
    """(label, frames) of the main connection and of every aux connection."""
    out = [("main", capture["frames"])]
    out += [(aux.get("name", "aux"), aux["frames"]) for aux in capture.get("aux_connections", [])]
    return out


KNOWN_TYPES = {
    "auth/request", "command/reply", "api/response", "text/event-plain", "text/event-json",
    "text/event-xml", "text/disconnect-notice", "text/rude-rejection", "log/data",
}


def _s2c(frames: list[dict]) -> list[bytes]:
    return [f["raw"].encode("utf-8") for f in frames if f["dir"] == "s2c"]


def _all_server_frames(captures):
    for name, capture in captures.items():
        for label, frames in connections(capture):
            raws = _s2c(frames)
            yield name, label, raws, FrameReader().feed(b"".join(raws))


def test_every_server_message_frames_exactly(captures):
    total = 0
    for name, label, raws, frames in _all_server_frames(captures):
        assert len(frames) == len(raws), (name, label)
        for raw, frame in zip(raws, frames, strict=True):
            assert frame.to_bytes() == raw, (name, label, raw[:80])
            assert frame.content_type in KNOWN_TYPES, (name, frame.content_type)
            total += 1
    assert total > 600


def test_framing_survives_odd_read_sizes(captures):
    raws = _s2c(captures["outbound_long_arg"]["frames"]) + _s2c(captures["callcenter"]["frames"])
    wire = b"".join(raws)
    for size in (1, 7, 1000, 4096, 65536):
        reader = FrameReader()
        out = []
        for i in range(0, len(wire), size):
            out.extend(reader.feed(wire[i:i + size]))
        assert [f.to_bytes() for f in out] == raws, size


def test_every_event_parses_and_reads_like_a_handler(captures):
    seen_formats = set()
    names = set()
    for name, _label, _raws, frames in _all_server_frames(captures):
        for frame in frames:
            if not is_event(frame):
                continue
            event = parse_event(frame)
            seen_formats.add(event.format)
            headers = event.headers()
            assert headers and event.name, name
            assert event.name == dict(headers)["Event-Name"]
            assert event.get("Event-Sequence", "").isdigit()
            names.add(event.name)
            if event.name == "CUSTOM":
                assert event.subclass == "callcenter::info" and event.get("CC-Action")
            if event.name == "BACKGROUND_JOB":
                assert event.job_uuid and event.body.startswith(("+OK", "-ERR"))
            if event.name.startswith("CHANNEL_EXECUTE"):
                assert event.get("Application")
    assert seen_formats == {"plain", "json"}
    assert {"CHANNEL_CREATE", "CHANNEL_EXECUTE_COMPLETE", "BACKGROUND_JOB", "DTMF", "CUSTOM",
            "RECORD_STOP", "CHANNEL_HANGUP_COMPLETE", "CODEC", "CHANNEL_BRIDGE"} <= names


def test_duplicate_headers_are_kept_in_plain_and_json(captures):
    for scenario in ("bgapi_originate_park", "event_json_call"):
        dup_codec = dup_cause = False
        for frame in FrameReader().feed(b"".join(_s2c(captures[scenario]["frames"]))):
            if not is_event(frame):
                continue
            names = [k for k, _ in parse_event(frame).headers()]
            dup_codec |= names.count("Channel-Write-Codec-Name") == 2
            dup_cause |= names.count("Hangup-Cause") == 2
        assert dup_codec and dup_cause, scenario


def test_url_encode_reproduces_every_encoded_value_of_the_switch(captures):
    checked = 0
    for _name, _label, _raws, frames in _all_server_frames(captures):
        for frame in frames:
            if frame.content_type == "text/event-plain":
                block = frame.body.split(b"\n\n", 1)[0]
            elif frame.content_type == "command/reply" and frame.get_raw("Event-Name"):
                block = frame.raw_headers  # outbound connect reply: values are encoded too
            else:
                continue
            for line in block.split(b"\n"):
                raw = line.partition(b": ")[2].decode("utf-8")
                assert url_encode(url_decode(raw)) == raw, line[:100]
                checked += 1
    assert checked > 25000


def test_event_encoders_rebuild_the_switch_bytes(captures):
    plain = json_ = 0
    for _name, _label, _raws, frames in _all_server_frames(captures):
        for frame in frames:
            if frame.content_type == "text/event-plain":
                event = parse_event(frame)
                assert encode_event_plain(event.headers(), event.body_bytes) == frame.to_bytes()
                plain += 1
            elif frame.content_type == "text/event-json":
                event = parse_event(frame)
                assert encode_event_json(event.headers(), event.body) == frame.to_bytes()
                json_ += 1
            elif frame.content_type == "command/reply" and frame.get_raw("Event-Name"):
                rebuilt = encode_message(frame.headers(), encode_values=True)
                assert rebuilt == frame.to_bytes()
                assert event_from_headers(frame).unique_id
            elif not is_event(frame):
                assert encode_message(frame.headers(), frame.body) == frame.to_bytes()
    assert plain > 300 and json_ > 40


def test_messages_the_issue_names_are_all_seen(captures):
    seen = set()
    for _name, _label, _raws, frames in _all_server_frames(captures):
        for frame in frames:
            ctype = frame.content_type
            if ctype == "text/disconnect-notice":
                ctype += "+" + (frame.get("Content-Disposition") or "none")
            seen.add(ctype)
    assert {"auth/request", "command/reply", "api/response", "text/event-plain", "text/event-json",
            "text/disconnect-notice+none", "text/disconnect-notice+linger",
            "text/disconnect-notice+disconnect"} <= seen


# ---------------------------------------------------------------------------------------------
# Client commands, rebuilt from structured arguments

#: c2s frames the captures sent on purpose to get an error; our builders refuse to write them.
DELIBERATELY_MALFORMED = {
    b"api  status\n\n": ("command", ""),  # two spaces: empty command word
    b"api\n\n": ("command", ""),
    b"filter Unique-ID\n\n": ("value", None),
}

_VARS = re.compile(r"\{([^}]*)\}(\S+) (\S+)\Z")


def _originate_args(text: str) -> str:
    """Rebuild `originate` arguments with dial_string() + originate()."""
    match = _VARS.match(text)
    assert match, text
    variables = dict(kv.split("=", 1) for kv in match.group(1).split(","))
    return c.originate(c.dial_string(match.group(2), variables), match.group(3))


def _rebuild(raw: bytes) -> bytes:
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    first = lines[0]
    word, _, rest = first.partition(" ")
    if word == "sendmsg":
        hdrs = dict(line.split(": ", 1) for line in lines[1:])
        uuid = rest or None
        if hdrs["call-command"] == "hangup":
            return c.sendmsg_hangup(hdrs["hangup-cause"], uuid=uuid)
        arg = hdrs.get("execute-app-arg")
        threshold = 1 << 20
        if body:
            arg, threshold = body.decode("utf-8"), 0
        return c.sendmsg_execute(
            hdrs["execute-app-name"], arg, uuid=uuid, event_uuid=hdrs.get("Event-UUID"),
            event_lock=hdrs.get("event-lock") == "true", async_=hdrs.get("async") == "true",
            body_threshold=threshold,
        )
    simple = {"connect": c.connect, "exit": c.exit, "noevents": c.noevents, "myevents": c.myevents}
    if word in simple and not rest:
        return simple[word]()
    if word == "auth":
        return c.auth(rest)
    if word in ("api", "bgapi"):
        cmd, _, args = rest.partition(" ")
        job = lines[1].split(": ", 1)[1] if len(lines) > 1 else None
        if cmd == "originate":
            args = _originate_args(args)
        if cmd == "callcenter_config" and "{" in args:
            prefix, _, dial = args.rpartition(" ")
            m = re.match(r"\{([^}]*)\}(\S+)\Z", dial)
            args = prefix + " " + c.dial_string(m.group(2), dict(kv.split("=", 1) for kv in m.group(1).split(",")))
        builder_args = (args,) if args else ()
        if word == "api":
            return c.api(cmd, *builder_args)
        return c.bgapi(cmd, *builder_args, job_uuid=job)
    if word == "event":
        fmt, *names = rest.split(" ")
        return c.event(fmt, *names)
    if word == "filter":
        parts = rest.split(" ")
        if parts[0] == "delete":
            return c.filter_delete(*parts[1:])
        return c.filter(parts[0], parts[1] if len(parts) > 1 else None)
    if word == "nixevent":
        return c.nixevent(*rest.split(" ")) if rest else c.nixevent()
    if word == "linger":
        return c.linger(int(rest)) if rest else c.linger()
    if word == "getvar":
        return c.getvar(rest)
    raise AssertionError(f"no builder mapping for {raw[:80]!r}")


def test_every_client_command_is_rebuilt_byte_for_byte(captures):
    rebuilt = refused = 0
    for name, capture in captures.items():
        for _label, frames in connections(capture):
            for frame in frames:
                if frame["dir"] != "c2s":
                    continue
                raw = frame["raw"].encode("utf-8")
                if raw in DELIBERATELY_MALFORMED or raw == b"nixevent\n\n":
                    with pytest.raises(CommandArgumentError):
                        _rebuild(raw)
                    refused += 1
                    continue
                assert _rebuild(raw) == raw, (name, raw[:120])
                rebuilt += 1
    assert rebuilt >= 180 and refused == 4


def test_feed_messages_agrees_with_feed_on_every_capture(captures):
    """The reader loop's fast path: switch-shaped events come straight back as Events, the
    rest as Frames; same messages as feed() + parse_event, whatever the read size."""
    events = 0
    for name, label, raws, frames in _all_server_frames(captures):
        wire = b"".join(raws)
        for size in (97, 65536):
            reader = FrameReader()
            messages = []
            for i in range(0, len(wire), size):
                messages.extend(reader.feed_messages(wire[i:i + size]))
            assert len(messages) == len(frames), (name, label, size)
            for frame, message in zip(frames, messages, strict=True):
                if is_event(frame):
                    event = parse_event(frame)
                    assert type(message) is type(event), (name, frame.content_type)
                    assert message.headers() == event.headers() and message.body == event.body
                    assert (message.name, message.unique_id) == (event.name, event.unique_id)
                    events += size == 97
                else:
                    assert message.to_bytes() == frame.to_bytes()
    assert events > 350
