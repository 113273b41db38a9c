"""The Event Socket wire, pure: bytes <-> whole messages <-> events. No sockets, stdlib only.

A message is a block of `Name: value` lines ended by an empty line, then exactly
`Content-Length` BYTES of body when that header is present (captures README, facts 1-4).
Events come in three bodies: `text/event-plain` (itself a header block with URL-encoded values,
optionally followed by its own Content-Length body), `text/event-json` (one JSON object,
duplicate keys kept) and `text/event-xml`.

Two rules shape this module:

* Split first, decode after. A header value is cut at the raw `\\n` before anything is
  URL-decoded, so a caller name `Mallory%0AEvent-Name: X` stays ONE value (containing a
  newline) and can never become a header. greenswitch's `ESLEvent.parse_data` decodes the
  whole block first and can be forged that way; we never do.
* Lazy. The reader frames by Content-Length with `bytes.find`, and an event keeps its raw
  bytes: reading `Event-Name` is one `find`, and a header is located, cut and decoded only
  when somebody reads it. That is what makes dispatch cheap (see bench/esl_bench.py); a
  full decoded list is built only when `headers()` is called.

The encoders at the end (`encode_message`, `encode_event_*`) are the server side, used by fssim;
they are the inverse of the parsers and are round-trip tested against the real captures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from json.decoder import scanstring
from xml.etree import ElementTree
from xml.sax.saxutils import escape as _xml_escape

from fs_scripts.esl.errors import FrameError

__all__ = [
    "Event",
    "Frame",
    "FrameReader",
    "encode_event",
    "encode_event_json",
    "encode_event_plain",
    "encode_event_xml",
    "encode_message",
    "event_from_headers",
    "is_event",
    "parse_event",
    "url_decode",
    "url_encode",
]

#: A header block longer than this without its blank line is garbage, not a slow peer.
#: The largest real one (outbound `connect` reply, ~110 headers, lines up to 10 KB) is far below.
MAX_HEADER_BLOCK_BYTES = 1 << 20
#: The largest body we accept; real frames stay under 30 KB, `api` output can be a few MB.
MAX_BODY_BYTES = 64 << 20

# ---------------------------------------------------------------------------------------------
# URL encoding, exactly as FreeSWITCH does it.

#: switch_utils.h SWITCH_URL_UNSAFE. switch_url_encode_opt (src/switch_utils.c) writes %XX
#: (upper-case hex) for these, for every byte < 0x20 and every byte > 0x7E; everything else,
#: including `/ ( ) , ' * ! $ ~`, is copied. `%` itself is unsafe, so it is always re-encoded.
_URL_UNSAFE = b'\r\n #%&+:;<=>?@[\\]^`{|}"'
_ENCODE_TABLE = tuple(
    f"%{b:02X}" if (b < 0x20 or b > 0x7E or b in _URL_UNSAFE) else chr(b) for b in range(256)
)
_NEEDS_ENCODE = re.compile(r'[^\x20-\x7e]|[\r\n #%&+:;<=>?@\[\\\]^`{|}"]')
_PCT_HEX = re.compile(rb"%([0-9A-Fa-f]{2})")


def url_encode(text: str) -> str:
    """FreeSWITCH's switch_url_encode of `text` (UTF-8 bytes; surrogate escapes kept as bytes).

    Used for event header values (plain and xml events, the outbound connect reply).
    """
    if not _NEEDS_ENCODE.search(text):
        return text
    table = _ENCODE_TABLE
    return "".join([table[b] for b in text.encode("utf-8", "surrogateescape")])


def url_decode(text: str) -> str:
    """Inverse of url_encode: every `%XX` (two hex digits, any case) becomes that byte.

    A `%` not followed by two hex digits is kept as it is. The bytes are read as UTF-8; bytes
    that are not valid UTF-8 are kept as surrogate escapes so that nothing is lost and
    url_encode(url_decode(x)) gives the original bytes back.
    """
    if "%" not in text:
        return text
    raw = _PCT_HEX.sub(_unhex, text.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "surrogateescape")


def _unhex(match: re.Match[bytes]) -> bytes:
    return bytes((int(match.group(1), 16),))


def _decode_raw(value: bytes) -> str:
    text = value.decode("utf-8", "surrogateescape")
    return url_decode(text) if "%" in text else text


# ---------------------------------------------------------------------------------------------
# Header blocks (shared by Frame and the plain Event): raw bytes, found with bytes.find.


_KEY_CACHE: dict[str, tuple[bytes, bytes]] = {}


def _keys(name: str) -> tuple[bytes, bytes]:
    """(`Name: `, `\nName: `) as bytes, cached: lookups run per event, names repeat."""
    keys = _KEY_CACHE.get(name)
    if keys is None:
        start = name.encode("utf-8", "surrogateescape") + b": "
        keys = (start, b"\n" + start)
        if len(_KEY_CACHE) < 4096:
            _KEY_CACHE[name] = keys
    return keys


def _find_raw(block: bytes, name: str, limit: int) -> bytes | None:
    """The raw (undecoded) value of the first `name: ` line within block[:limit], exact case.

    A value never holds a raw `\\n` (it is what ends a line), so `\\nName: ` can only match at
    the start of a line; a URL-encoded value cannot hold `: ` either.
    """
    start_key, line_key = _keys(name)
    if block.startswith(start_key):
        start = len(start_key)
    else:
        pos = block.find(line_key, 0, limit)
        if pos < 0:
            return None
        start = pos + len(line_key)
    end = block.find(b"\n", start, limit)
    if end < 0:
        end = limit
    return block[start:end]


def _split_block(block: bytes) -> list[tuple[bytes, bytes]]:
    """Every `name: value` line of a header block, raw, in order, duplicates kept."""
    pairs = []
    for line in block.split(b"\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            # FreeSWITCH never sends this; keep it visible rather than dropping it.
            pairs.append((line, b""))
            continue
        if value.startswith(b" "):
            value = value[1:]
        pairs.append((name, value))
    return pairs


class _HeaderIndex:
    """Case-insensitive lookup, built once, only when an exact-case find missed."""

    __slots__ = ("first",)

    def __init__(self, pairs: Iterable[tuple[str, bytes | str]]) -> None:
        first: dict[str, bytes | str] = {}
        for name, value in pairs:
            first.setdefault(name.lower(), value)
        self.first = first


# ---------------------------------------------------------------------------------------------
# Frames


class Frame:
    """One ESL message: the header block (without its blank line) and the body bytes."""

    __slots__ = ("raw_headers", "body", "_index")

    def __init__(self, raw_headers: bytes, body: bytes = b"") -> None:
        self.raw_headers = raw_headers
        self.body = body
        self._index: _HeaderIndex | None = None

    def get_raw(self, name: str) -> bytes | None:
        """The undecoded value of the first header `name` (case-insensitive), or None."""
        block = self.raw_headers
        value = _find_raw(block, name, len(block))
        if value is not None:
            return value
        if self._index is None:
            self._index = _HeaderIndex(
                (n.decode("utf-8", "surrogateescape"), v) for n, v in _split_block(block)
            )
        found = self._index.first.get(name.lower())
        return found if isinstance(found, bytes) else None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The URL-decoded value of the first header `name` (case-insensitive)."""
        value = self.get_raw(name)
        return default if value is None else _decode_raw(value)

    def headers(self) -> list[tuple[str, str]]:
        """All headers, decoded, in order, duplicates kept."""
        return [
            (n.decode("utf-8", "surrogateescape"), _decode_raw(v))
            for n, v in _split_block(self.raw_headers)
        ]

    @property
    def content_type(self) -> str:
        value = self.get_raw("Content-Type")
        return "" if value is None else value.decode("ascii", "replace")

    @property
    def body_text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def reply_text(self) -> str:
        """`Reply-Text` of a command/reply (decoded: the outbound connect reply encodes it)."""
        return self.get("Reply-Text", "") or ""

    def to_bytes(self) -> bytes:
        """The message as it was on the wire (Content-Length is part of raw_headers)."""
        return self.raw_headers + b"\n\n" + self.body

    def __repr__(self) -> str:
        return f"<Frame {self.content_type or '?'} headers={len(self.raw_headers)}B body={len(self.body)}B>"


_CONTENT_LENGTH_KEYS = (b"Content-Length: ", b"content-length: ")


def _content_length(block: bytes) -> int:
    """The Content-Length of a header block (0 when absent); FrameError when it is not a number."""
    raw = None
    for key in _CONTENT_LENGTH_KEYS:
        if block.startswith(key):
            start = len(key)
        else:
            pos = block.find(b"\n" + key)
            if pos < 0:
                continue
            start = pos + 1 + len(key)
        end = block.find(b"\n", start)
        raw = block[start:] if end < 0 else block[start:end]
        break
    else:
        lower = block.lower()
        if b"content-length:" not in lower:
            return 0
        for name, value in _split_block(block):
            if name.strip().lower() == b"content-length":
                raw = value
                break
        if raw is None:
            return 0
    raw = raw.strip()
    return _LENGTHS.get(raw) or _parse_length(raw, block[:120])


_LENGTHS: dict[bytes, int] = {}  # Content-Length digits -> int; event sizes repeat


def _parse_length(raw_length: bytes, context: bytes) -> int:
    """A Content-Length value, checked against the digits-only rule and the size limit;
    remembered (up to 8192 of them) because int() of bytes costs more than a dict lookup
    and the switch's event sizes repeat. `context`: the message's start, for the error."""
    if not raw_length.isdigit():
        raise FrameError(f"bad Content-Length {raw_length[:40]!r} in {context!r}")
    length = int(raw_length)
    if length > MAX_BODY_BYTES:
        raise FrameError(f"Content-Length {length} exceeds the {MAX_BODY_BYTES}-byte limit")
    if len(_LENGTHS) < 8192:
        _LENGTHS[raw_length] = length
    return length


_PLAIN_EVENT_HEAD = b"Content-Type: text/event-plain\n\n"
_JSON_EVENT_HEAD = b"Content-Type: text/event-json\n\n"


class FrameReader:
    """Incremental splitter: feed it whatever recv() returned, get back the whole messages.

    Works in both directions (fssim reads client commands with it: `sendmsg` with a
    `content-length` body is framed the same way). Messages are cut from the received bytes
    with `find` and slices. Event messages start with `Content-Length: N` (captures README
    fact 2); that line is read in place, the general header scan is the fallback. A body
    that spans many reads is collected as a list of chunks and joined once, so a 5 MB api
    response in 64 KB reads costs one copy, not eighty.

    `feed` returns Frames. `feed_messages` is the reader loop's variant: an event in the
    exact shape the switch sends (`Content-Length: N\\nContent-Type: text/event-plain|json`)
    comes back as its Event straight away, skipping the Frame and the Content-Type lookup;
    everything else is a Frame. Same bytes, same cuts: only the wrapping differs.
    """

    __slots__ = ("_rest", "_chunks", "_have", "_want")

    def __init__(self) -> None:
        self._rest = b""  # an incomplete message (or the start of one)
        self._chunks: list[bytes] = []  # reads collected while a known-size message completes
        self._have = 0
        self._want = 0  # bytes the incomplete message needs in all (0: not known yet)

    def feed(self, data: bytes) -> list[Frame]:
        """Append `data`; return every message it completed, in order (possibly none)."""
        return self._feed(data, False)  # type: ignore[return-value]

    def feed_messages(self, data: bytes) -> list[Frame | Event]:
        """Like feed, but plain and json events in the switch's own shape come back as Events."""
        return self._feed(data, True)

    def _feed(self, data: bytes, events: bool) -> list:
        if type(data) is not bytes:
            data = bytes(data)
        out: list = []
        append = out.append
        pos = 0
        if self._want:
            need = self._want - self._have
            if len(data) < need:
                self._chunks.append(data)
                self._have += len(data)
                return out
            # Complete the pending message from the head of `data`; the rest is read in
            # place below, so a large read is not copied again.
            self._chunks.append(data[:need])
            whole = b"".join(self._chunks)
            self._chunks = []
            self._want = self._have = 0
            self._rest = b""
            for message in self._cut(whole, events):
                append(message)
            pos = need
            if pos == len(data):
                return out
        elif self._rest:
            data = self._rest + data
            self._rest = b""
        rest_at = self._cut_into(data, pos, events, append)
        if rest_at < len(data):
            rest = data[rest_at:]
            if self._want:
                self._chunks = [rest]
                self._have = len(rest)
            else:
                self._rest = rest
        return out

    def _cut(self, data: bytes, events: bool) -> list:
        """The messages of exactly one complete message's bytes (a pending one just finished)."""
        found: list = []
        rest_at = self._cut_into(data, 0, events, found.append)
        if rest_at != len(data) or self._want:  # cannot happen: `data` is one whole message
            raise FrameError(f"message of {len(data)} bytes did not frame as one; starts {data[:120]!r}")
        return found

    def _cut_into(self, data: bytes, pos: int, events: bool, append) -> int:  # noqa: ANN001
        """Append every whole message of data[pos:]; return where the incomplete rest starts
        (setting _want when its total size is already known)."""
        size = len(data)
        find = data.find
        # Slice comparisons instead of startswith(x, pos): bytes methods parse their
        # arguments the slow way, and this loop runs once per event.
        while pos < size:
            if data[pos:pos + 16] == b"Content-Length: ":
                # Fast path: an event (or any message that leads with its length).
                nl = find(b"\n", pos + 16)
                if nl < 0:
                    break
                raw_length = data[pos + 16:nl]
                length = _LENGTHS.get(raw_length)
                if length is None:
                    length = _parse_length(raw_length, data[pos:pos + 120])
                kind = None
                head = data[nl + 1:nl + 33]
                if head == _PLAIN_EVENT_HEAD:
                    sep = nl + 31
                    kind = PlainEvent
                elif head[:31] == _JSON_EVENT_HEAD:
                    sep = nl + 30
                    kind = _json_event
                elif head[:1] == b"\n":
                    sep = nl
                else:
                    sep = find(b"\n\n", nl)
                    if sep < 0:
                        if size - pos > MAX_HEADER_BLOCK_BYTES:
                            raise FrameError(f"header block longer than {MAX_HEADER_BLOCK_BYTES} bytes without a blank line; starts {data[pos:pos + 120]!r}")
                        break
                end = sep + 2 + length
                if end > size:
                    self._want = end - pos
                    break
                if events and kind is not None:
                    append(kind(data[sep + 2:end]))
                else:
                    append(Frame(data[pos:sep], data[sep + 2:end]))
                pos = end
                continue
            if data[pos] == 0x0A:
                # Stray blank lines between messages (clients send them) are not messages.
                pos += 1
                continue
            sep = find(b"\n\n", pos)
            if sep < 0:
                if size - pos > MAX_HEADER_BLOCK_BYTES:
                    raise FrameError(
                        f"header block longer than {MAX_HEADER_BLOCK_BYTES} bytes without a blank "
                        f"line; starts {data[pos:pos + 120]!r}"
                    )
                break
            headers = data[pos:sep]
            length = _content_length(headers)
            end = sep + 2 + length
            if end > size:
                self._want = end - pos
                break
            append(Frame(headers, data[sep + 2:end]))
            pos = end
        return pos

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet part of a whole message."""
        return self._have if self._want else len(self._rest)


# ---------------------------------------------------------------------------------------------
# Events


class Event:
    """One event, whatever its wire form. Subclasses keep the raw bytes and read lazily."""

    __slots__ = ("_name", "_index")

    format = "?"

    def __init__(self) -> None:
        self._name: str | None = None
        self._index: _HeaderIndex | None = None

    # Subclasses provide these two.
    def _lookup(self, name: str) -> str | None:  # exact-case fast path
        raise NotImplementedError

    def headers(self) -> list[tuple[str, str]]:
        """All headers, decoded, in order, duplicates kept (the event body is not a header)."""
        raise NotImplementedError

    @property
    def body(self) -> str:
        return ""

    def get(self, name: str, default: str | None = None) -> str | None:
        """The decoded value of the first header `name`; exact case first, then any case."""
        value = self._lookup(name)
        if value is not None:
            return value
        if self._index is None:
            self._index = _HeaderIndex(self.headers())
        found = self._index.first.get(name.lower())
        return default if found is None else str(found)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self.get("Event-Name", "") or ""
        return self._name

    @property
    def subclass(self) -> str | None:
        return self.get("Event-Subclass")

    @property
    def unique_id(self) -> str | None:
        return self.get("Unique-ID")

    def variable(self, name: str, default: str | None = None) -> str | None:
        return self.get("variable_" + name, default)

    @property
    def job_uuid(self) -> str | None:
        return self.get("Job-UUID")

    @property
    def application_uuid(self) -> str | None:
        return self.get("Application-UUID")

    def __repr__(self) -> str:
        sub = f" {self.subclass}" if self.name == "CUSTOM" else ""
        return f"<{type(self).__name__} {self.name}{sub} {self.unique_id or ''}>"


_CL_LINE = b"\nContent-Length: "
_EVENT_NAMES: dict[bytes, str] = {}  # raw Event-Name value -> decoded
_VAR_KEYS: dict[str, tuple[bytes, bytes, str]] = {}  # variable name -> (start key, line key, header name)


class PlainEvent(Event):
    """A `text/event-plain` body (or the header block of the outbound connect reply).

    Keeps the raw bytes; `get` finds `\\nName: ` with one `bytes.find`, cuts the value at the
    next raw LF and only then URL-decodes it. This is the hot path of event dispatch.

    Where the header block ends is settled lazily, because finding the first blank line
    (`find(b"\\n\\n")`) costs more than everything else a handler does: a two-byte needle
    whose first byte starts every line. A block carries a body only after its own
    `Content-Length` line (the switch writes it last, then the blank line, then the body). So
    a match is certainly a header when no `\\nContent-Length: ` line comes before it, which a
    long-needle `find` over the bytes up to the match settles (`_in_block`; bytes already
    searched are not searched again). When one does come before it, the block end is found
    exactly, and a match beyond it (in the body, which may hold caller text) is not a
    header. An event without any Content-Length line has no body: its block runs to the end
    (FreeSWITCH never writes a blank line inside a block: a value's LF is sent as %0A), and
    `headers()` reads that same block.
    """

    __slots__ = ("_raw", "_hend", "_clean", "_lower", "_first", "name")

    format = "plain"

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._lower: bytes | None = None
        self._hend = -1  # end of the header block; -1: not settled yet
        self._clean = 0  # no `\nContent-Length: ` line starts before this offset
        # The name is read by every dispatch: settle it now (a plain attribute, no property).
        # The switch writes Event-Name first, except for CUSTOM events (Event-Subclass first).
        # `_first` is the first line's `Name: `, so lookups need not test startswith each time.
        if raw[:12] == b"Event-Name: ":
            self._first = b"Event-Name: "
            end = raw.find(b"\n", 12)
            value = raw[12:end] if end >= 0 else raw[12:]
            name = _EVENT_NAMES.get(value)
            if name is None:
                name = _decode_raw(value)
                if len(_EVENT_NAMES) < 1024:  # the switch has ~100 event names
                    _EVENT_NAMES[value] = name
            self.name = name
        else:
            nl = raw.find(b"\n")
            colon = raw.find(b": ", 0, len(raw) if nl < 0 else nl)
            self._first = raw[:colon + 2] if colon > 0 else b"\n"
            if raw[:16] == b"Content-Length: ":
                self._block_end()  # a first line the partial search cannot see: settle it now
            self.name = self.get("Event-Name", "") or ""

    def _in_block(self, pos: int) -> bool:
        """Whether a `\\nName: ` match at `pos` is a header line. While the block end is not
        settled, only the bytes up to the match are searched for a `\\nContent-Length: ` line
        (a body can only follow one); without one the match is a header, and later lookups
        need not search those bytes again."""
        hend = self._hend
        if hend >= 0:
            return pos < hend
        if self._raw.find(_CL_LINE, self._clean, pos + 17) < 0:
            self._clean = pos
            return True
        return pos < self._block_end()

    def _block_end(self) -> int:
        hend = self._hend
        if hend < 0:
            raw = self._raw
            if raw[:16] != b"Content-Length: " and raw.find(_CL_LINE, self._clean) < 0:
                hend = len(raw)
                while hend and raw[hend - 1] == 0x0A:
                    hend -= 1
            else:
                hend = raw.find(b"\n\n")
                if hend < 0:
                    hend = len(raw)
            self._hend = hend
        return hend

    def get(self, name: str, default: str | None = None) -> str | None:
        keys = _KEY_CACHE.get(name) or _keys(name)
        return self._value(keys[0], keys[1], name, default)

    def _value(self, start_key: bytes, line_key: bytes, name: str, default: str | None) -> str | None:
        """The exact-case lookup of get(), with the search keys already made."""
        raw = self._raw
        if start_key == self._first:
            start = len(start_key)
        else:
            pos = raw.find(line_key)
            if pos < 0:
                return self._get_any_case(name, default)
            if pos >= self._clean:  # _in_block(), inlined: this runs for nearly every read
                if self._hend < 0 and raw.find(_CL_LINE, self._clean, pos + 17) < 0:
                    self._clean = pos
                elif not self._in_block(pos):  # in the event's body, not a header
                    return self._get_any_case(name, default)
            start = pos + len(line_key)
        end = raw.find(b"\n", start)
        value = raw[start:end] if end >= 0 else raw[start:]
        if 37 in value:  # b"%"; an int operand skips bytes.__contains__'s slow path
            return url_decode(value.decode("utf-8", "surrogateescape"))
        return value.decode("utf-8", "surrogateescape")

    def _get_any_case(self, name: str, default: str | None) -> str | None:
        """The exact-case lookup missed: look again ignoring case (as switch_event_get_header
        does). The lower-cased copy is searched before the block end is settled, so a header
        that is simply absent costs one `lower()` and one `find`."""
        lower = self._lower
        if lower is None:
            lower = self._lower = self._raw.lower()  # ASCII-only: same offsets
        start_key, line_key = _keys(name.lower())
        if lower.startswith(start_key):
            start = len(start_key)
        else:
            pos = lower.find(line_key)
            if pos < 0 or pos >= self._block_end():
                return default
            start = pos + len(line_key)
        end = lower.find(b"\n", start)
        return _decode_raw(self._raw[start:len(lower) if end < 0 else end])

    def _lookup(self, name: str) -> str | None:
        return self.get(name)

    def raw_value(self, name: str) -> bytes | None:
        """The undecoded bytes of header `name` (exact case); for dispatch without decoding."""
        return _find_raw(self._raw, name, self._block_end())

    @property
    def unique_id(self) -> str | None:
        # _value() inlined: handlers read this on every event.
        raw = self._raw
        pos = raw.find(b"\nUnique-ID: ")
        if pos < 0 or self._first == b"Unique-ID: ":
            return self._value(b"Unique-ID: ", b"\nUnique-ID: ", "Unique-ID", None)
        if pos >= self._clean:  # _in_block(), inlined
            if self._hend < 0 and raw.find(_CL_LINE, self._clean, pos + 17) < 0:
                self._clean = pos
            elif not self._in_block(pos):
                return self._value(b"Unique-ID: ", b"\nUnique-ID: ", "Unique-ID", None)
        end = raw.find(b"\n", pos + 12)
        value = raw[pos + 12:end] if end >= 0 else raw[pos + 12:]
        if 37 in value:  # b"%"; an int operand skips bytes.__contains__'s slow path
            return url_decode(value.decode("utf-8", "surrogateescape"))
        return value.decode("utf-8", "surrogateescape")

    def variable(self, name: str, default: str | None = None) -> str | None:
        keys = _VAR_KEYS.get(name)
        if keys is None:
            full = "variable_" + name
            keys = (*_keys(full), full)
            if len(_VAR_KEYS) < 4096:
                _VAR_KEYS[name] = keys
        return self._value(keys[0], keys[1], keys[2], default)

    def headers(self) -> list[tuple[str, str]]:
        return [
            (n.decode("utf-8", "surrogateescape"), _decode_raw(v))
            for n, v in _split_block(self._raw[: self._block_end()])
        ]

    @property
    def body(self) -> str:
        return self.body_bytes.decode("utf-8", "replace")

    @property
    def body_bytes(self) -> bytes:
        hend = self._block_end()
        if hend >= len(self._raw) - 2:
            return b""
        length_raw = _find_raw(self._raw, "Content-Length", hend)
        start = hend + 2
        if length_raw is None or not length_raw.strip().isdigit():
            return self._raw[start:]
        return self._raw[start:start + int(length_raw)]


_JSON_ARRAY_SEP = "|:"


class JsonEvent(Event):
    """A `text/event-json` body: values are JSON strings, duplicate keys are kept."""

    __slots__ = ("_text", "_pairs")

    format = "json"

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text
        self._pairs: list[tuple[str, object]] | None = None

    def _lookup(self, name: str) -> str | None:
        text = self._text
        key = '"' + name + '":'
        pos = text.find(key)
        # A real key follows `{` or `,` (cJSON prints no spaces); a match inside a string
        # value cannot, because every quote inside a string is escaped.
        while pos > 0 and text[pos - 1] not in "{,":
            pos = text.find(key, pos + 1)
        if pos < 0:
            return None
        start = pos + len(key)
        if text.startswith('"', start):
            try:
                return scanstring(text, start + 1)[0]
            except ValueError:
                return None
        value = self._all().get(name)
        return None if value is None else _json_value(value)

    def _all(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in self._load():
            out.setdefault(k, v)
        return out

    def _load(self) -> list[tuple[str, object]]:
        if self._pairs is None:
            try:
                pairs = json.loads(self._text, object_pairs_hook=_pairs_hook)
            except ValueError as exc:
                raise FrameError(f"text/event-json body is not JSON: {exc}; starts {self._text[:120]!r}") from exc
            if not isinstance(pairs, list):
                raise FrameError(f"text/event-json body is not an object: {self._text[:120]!r}")
            self._pairs = pairs
        return self._pairs

    def headers(self) -> list[tuple[str, str]]:
        return [(k, _json_value(v)) for k, v in self._load() if k != "_body"]

    @property
    def body(self) -> str:
        for k, v in self._load():
            if k == "_body":
                return _json_value(v)
        return ""


def _pairs_hook(pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    return pairs


def _json_value(value: object) -> str:
    """A JSON header value as the plain form would show it (arrays as FreeSWITCH ARRAY::)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and not (value and isinstance(value[0], tuple)):
        return "ARRAY::" + _JSON_ARRAY_SEP.join(_json_value(v) for v in value)
    if value is None:
        return ""
    return json.dumps(value)


class XmlEvent(Event):
    """A `text/event-xml` body: `<event><headers><Name>url-encoded</Name>...</headers><body>`."""

    __slots__ = ("_xml", "_pairs", "_body")

    format = "xml"

    def __init__(self, xml: bytes) -> None:
        super().__init__()
        self._xml = xml
        self._pairs: list[tuple[str, str]] | None = None
        self._body = ""

    def _load(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            try:
                root = ElementTree.fromstring(self._xml)
            except ElementTree.ParseError as exc:
                raise FrameError(f"text/event-xml body is not XML: {exc}; starts {self._xml[:120]!r}") from exc
            heads = root.find("headers")
            # Parse the XML first, decode each value after: the same split-before-decode rule.
            self._pairs = [
                (child.tag, url_decode(child.text or "")) for child in (heads if heads is not None else ())
            ]
            body = root.find("body")
            self._body = body.text or "" if body is not None else ""
        return self._pairs

    def _lookup(self, name: str) -> str | None:
        for k, v in self._load():
            if k == name:
                return v
        return None

    def headers(self) -> list[tuple[str, str]]:
        return list(self._load())

    @property
    def body(self) -> str:
        self._load()
        return self._body


_EVENT_TYPES = {
    b"text/event-plain": PlainEvent,
    b"text/event-json": None,
    b"text/event-xml": XmlEvent,
}


def _json_event(body: bytes) -> JsonEvent:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"text/event-json body is not UTF-8: {exc}") from exc
    return JsonEvent(text)


def parse_event(frame: Frame) -> Event:
    """The Event carried by a text/event-plain, -json or -xml frame (parsed lazily)."""
    if frame.raw_headers.endswith(b"\nContent-Type: text/event-plain"):  # how the switch sends it
        return PlainEvent(frame.body)
    ctype = frame.get_raw("Content-Type")
    if ctype == b"text/event-plain":
        return PlainEvent(frame.body)
    if ctype == b"text/event-json":
        return _json_event(frame.body)
    if ctype == b"text/event-xml":
        return XmlEvent(frame.body)
    raise FrameError(f"not an event frame: Content-Type {ctype!r}")


def event_from_headers(frame: Frame) -> Event:
    """The channel data carried in a frame's own headers (outbound `connect` reply)."""
    return PlainEvent(frame.raw_headers)


def is_event(frame: Frame) -> bool:
    ctype = frame.get_raw("Content-Type")
    return ctype is not None and ctype.startswith(b"text/event-")


# ---------------------------------------------------------------------------------------------
# Server side (fssim): the inverse of the parsers.

HeaderList = Sequence[tuple[str, str]]


def _check_header(name: str, value: str, encode_values: bool) -> None:
    if not name or any(c in name for c in "\r\n:") or name != name.strip():
        raise FrameError(f"bad header name {name!r}")
    if not encode_values and ("\n" in value or "\r" in value):
        raise FrameError(f"header {name!r}: a raw value cannot hold CR/LF: {value[:60]!r}")


def encode_message(
    headers: HeaderList, body: bytes | str = b"", encode_values: bool = False
) -> bytes:
    """One ESL message: the header lines, Content-Length (appended) when there is a body, body.

    `encode_values=True` URL-encodes every value (the outbound connect reply does this:
    `Reply-Text: %2BOK%0A`); otherwise values go as they are and CR/LF in one is refused.
    A Content-Length given in `headers` is kept where it is (the linger notice has `0`).
    """
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    lines = []
    has_length = False
    for name, value in headers:
        _check_header(name, value, encode_values)
        if name.lower() == "content-length":
            has_length = True
            value = str(len(data))
        lines.append(f"{name}: {url_encode(value) if encode_values else value}\n")
    if data and not has_length:
        lines.append(f"Content-Length: {len(data)}\n")
    return "".join(lines).encode("utf-8", "surrogateescape") + b"\n" + data


def _event_block(headers: HeaderList) -> list[str]:
    out = []
    for name, value in headers:
        _check_header(name, value, True)
        if name == "Content-Length":
            continue  # recomputed from the body
        out.append(f"{name}: {url_encode(value)}\n")
    return out


def encode_event_plain(headers: HeaderList, body: str | bytes = "") -> bytes:
    """A complete text/event-plain message, as mod_event_socket writes it."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    lines = _event_block(headers)
    if data:
        lines.append(f"Content-Length: {len(data)}\n")
    inner = "".join(lines).encode("utf-8", "surrogateescape") + b"\n" + data
    return (
        f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode("ascii") + inner
    )


def encode_event_json(headers: HeaderList, body: str = "") -> bytes:
    """A complete text/event-json message; duplicate header names stay duplicate keys."""
    parts = []
    for name, value in headers:
        if name in ("Content-Length", "_body"):
            continue
        parts.append(_json_str(name) + ":" + _json_str(value))
    text_body = body.decode("utf-8") if isinstance(body, bytes) else body
    if text_body:
        parts.append(f'"Content-Length":"{len(text_body.encode("utf-8"))}"')
        parts.append('"_body":' + _json_str(text_body))
    inner = ("{" + ",".join(parts) + "}").encode("utf-8")
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-json\n\n".encode("ascii") + inner


def _json_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def encode_event_xml(headers: HeaderList, body: str = "") -> bytes:
    """A complete text/event-xml message (switch_event_xmlize: URL-encoded values as text)."""
    lines = ["<event>\n  <headers>\n"]
    for name, value in headers:
        _check_header(name, value, True)
        if name == "Content-Length" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
            if name == "Content-Length":
                continue
            raise FrameError(f"header name {name!r} cannot be an XML element name")
        lines.append(f"    <{name}>{_xml_escape(url_encode(value))}</{name}>\n")
    text_body = body.decode("utf-8") if isinstance(body, bytes) else body
    bad = _XML_INVALID.search(text_body)
    if bad:
        raise FrameError(f"an event-xml body cannot carry {bad.group()!r} (not an XML 1.0 character)")
    if text_body:
        lines.append(f"    <Content-Length>{len(text_body.encode('utf-8'))}</Content-Length>\n")
    lines.append("  </headers>\n")
    if text_body:
        lines.append(f"  <body>{_xml_escape(text_body, {chr(13): '&#13;'})}</body>\n")
    lines.append("</event>")
    inner = "".join(lines).encode("utf-8", "surrogateescape")
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-xml\n\n".encode("ascii") + inner


def encode_event(fmt: str, headers: HeaderList, body: str = "") -> bytes:
    """Dispatch on the subscription format (`plain`, `json`, `xml`)."""
    if fmt == "plain":
        return encode_event_plain(headers, body)
    if fmt == "json":
        return encode_event_json(headers, body)
    if fmt == "xml":
        return encode_event_xml(headers, body)
    raise ValueError(f"unknown event format {fmt!r} (plain, json or xml)")
