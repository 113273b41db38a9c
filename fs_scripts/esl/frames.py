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
    if not raw.isdigit():
        raise FrameError(f"bad Content-Length {raw[:40]!r} in header block {block[:120]!r}")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise FrameError(f"Content-Length {length} exceeds the {MAX_BODY_BYTES}-byte limit")
    return length


class FrameReader:
    """Incremental splitter: feed it whatever recv() returned, get back the whole messages.

    Works in both directions (fssim reads client commands with it: `sendmsg` with a
    `content-length` body is framed the same way). Messages are cut from the received bytes
    with `find` and slices. Event messages start with `Content-Length: N` (captures README
    fact 2); that line is read in place, the general header scan is the fallback. A body
    that spans many reads is collected as a list of chunks and joined once, so a 5 MB api
    response in 64 KB reads costs one copy, not eighty.
    """

    __slots__ = ("_rest", "_chunks", "_have", "_want")

    def __init__(self) -> None:
        self._rest = b""  # an incomplete message (or the start of one)
        self._chunks: list[bytes] = []  # reads collected while a known-size message completes
        self._have = 0
        self._want = 0  # bytes the incomplete message needs in all (0: not known yet)

    def feed(self, data: bytes) -> list[Frame]:
        """Append `data`; return every message it completed, in order (possibly none)."""
        if self._want:
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._want:
                return []
            data = b"".join(self._chunks)
            self._chunks = []
            self._want = 0
        elif self._rest:
            data = self._rest + bytes(data)
        else:
            data = bytes(data)
        frames: list[Frame] = []
        append = frames.append
        pos = 0
        size = len(data)
        find = data.find
        while pos < size:
            if data.startswith(b"Content-Length: ", pos):
                # Fast path: an event (or any message that leads with its length).
                nl = find(b"\n", pos + 16)
                if nl < 0:
                    break
                raw_length = data[pos + 16:nl]
                if not raw_length.isdigit():
                    raise FrameError(f"bad Content-Length {raw_length[:40]!r} in {data[pos:pos + 120]!r}")
                length = int(raw_length)
                if data.startswith(b"\n", nl + 1):
                    sep = nl
                else:
                    sep = find(b"\n\n", nl)
                    if sep < 0:
                        if size - pos > MAX_HEADER_BLOCK_BYTES:
                            raise FrameError(f"header block longer than {MAX_HEADER_BLOCK_BYTES} bytes without a blank line; starts {data[pos:pos + 120]!r}")
                        break
                end = sep + 2 + length
                if length > MAX_BODY_BYTES:
                    raise FrameError(f"Content-Length {length} exceeds the {MAX_BODY_BYTES}-byte limit")
                if end > size:
                    self._want = end - pos
                    break
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
        rest = data[pos:] if pos < size else b""
        if self._want:
            self._chunks = [rest]
            self._have = len(rest)
            self._rest = b""
        else:
            self._rest = rest
        return frames

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


class PlainEvent(Event):
    """A `text/event-plain` body (or the header block of the outbound connect reply).

    Keeps the raw bytes; `get` finds `\\nName: ` with one `bytes.find`, cuts the value at the
    next raw LF and only then URL-decodes it. This is the hot path of event dispatch.
    """

    __slots__ = ("_raw", "_hend", "_lower")

    format = "plain"

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._name = None
        self._index = None
        self._lower: bytes | None = None
        hend = raw.find(b"\n\n")
        self._hend = len(raw) if hend < 0 else hend

    def get(self, name: str, default: str | None = None) -> str | None:
        raw = self._raw
        hend = self._hend
        start_key, line_key = _keys(name)
        if raw.startswith(start_key):
            start = len(start_key)
        else:
            pos = raw.find(line_key, 0, hend)
            if pos < 0:
                return self._get_any_case(name, default)
            start = pos + len(line_key)
        end = raw.find(b"\n", start, hend)
        value = raw[start:hend if end < 0 else end]
        if b"%" in value:
            return url_decode(value.decode("utf-8", "surrogateescape"))
        return value.decode("utf-8", "surrogateescape")

    def _get_any_case(self, name: str, default: str | None) -> str | None:
        lower = self._lower
        if lower is None:
            lower = self._lower = self._raw[: self._hend].lower()  # ASCII-only: same offsets
        start_key, line_key = _keys(name.lower())
        if lower.startswith(start_key):
            start = len(start_key)
        else:
            pos = lower.find(line_key)
            if pos < 0:
                return default
            start = pos + len(line_key)
        end = lower.find(b"\n", start)
        return _decode_raw(self._raw[start:len(lower) if end < 0 else end])

    def _lookup(self, name: str) -> str | None:
        return self.get(name)

    def raw_value(self, name: str) -> bytes | None:
        """The undecoded bytes of header `name` (exact case); for dispatch without decoding."""
        return _find_raw(self._raw, name, self._hend)

    @property
    def name(self) -> str:
        name = self._name
        if name is None:
            raw = self._raw
            if raw.startswith(b"Event-Name: "):
                end = raw.find(b"\n", 12)
                value = raw[12:end] if end >= 0 else raw[12:]
                name = _decode_raw(value)
            else:
                name = self.get("Event-Name", "") or ""
            self._name = name
        return name

    @property
    def unique_id(self) -> str | None:
        return self.get("Unique-ID")

    def variable(self, name: str, default: str | None = None) -> str | None:
        return self.get("variable_" + name, default)

    def headers(self) -> list[tuple[str, str]]:
        return [
            (n.decode("utf-8", "surrogateescape"), _decode_raw(v))
            for n, v in _split_block(self._raw[: self._hend])
        ]

    @property
    def body(self) -> str:
        return self.body_bytes.decode("utf-8", "replace")

    @property
    def body_bytes(self) -> bytes:
        if self._hend >= len(self._raw):
            return b""
        length_raw = _find_raw(self._raw, "Content-Length", self._hend)
        start = self._hend + 2
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


def parse_event(frame: Frame) -> Event:
    """The Event carried by a text/event-plain, -json or -xml frame (parsed lazily)."""
    if frame.raw_headers.endswith(b"\nContent-Type: text/event-plain"):  # how the switch sends it
        return PlainEvent(frame.body)
    ctype = frame.get_raw("Content-Type")
    if ctype == b"text/event-plain":
        return PlainEvent(frame.body)
    if ctype == b"text/event-json":
        try:
            text = frame.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError(f"text/event-json body is not UTF-8: {exc}") from exc
        return JsonEvent(text)
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
