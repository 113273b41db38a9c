"""Replay a real FreeSWITCH capture against fssim and list every difference.

A capture (../shared/fs-captures/<scenario>.json) holds the client's frames (c2s) and the
switch's (s2c) of one or more connections. The replay sends the client's frames to fssim
over real TCP (inbound: fssim listens; outbound: fssim connects to a replay server that plays
the client), in the capture's order, and before each client frame waits until fssim has sent
what the real switch had sent by then. Each real frame is then paired with one of fssim's
(same message type, same event name and leg) and compared:

* message types and, for events, event names and their order per leg;
* header names, in order, outside the `variable_*` block (the switch fixes that order);
* `variable_*` names as a set;
* values where they are not run-time facts (states, causes, application names and data,
  reply texts, bodies) after UUIDs, dates and digit runs are normalised;
* value encoding: a value that reads the same must be encoded the same (URL-encoding in plain
  events and in the outbound connect reply).

UUIDs the client learned from the switch (a B-leg's id used in `uuid_recv_dtmf`) are mapped
from the capture's to fssim's as frames are paired. Timing-only facts (durations, stamps,
sequence numbers, addresses, host names) are not compared.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent.server import StreamServer

from fs_scripts.esl.frames import Frame, FrameReader, parse_event

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}[ T%20]*\d{2}(:|%3A)\d{2}(:|%3A)\d{2}")
_DIGITS_RE = re.compile(r"\d+")

#: headers whose values are run-time facts (never compared)
RUNTIME_HEADERS = frozenset({
    "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6",
    "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence",
    "Event-Calling-Line-Number", "Content-Length",
})
#: headers whose values are compared (normalised) between real and simulated events
COMPARED_VALUES = ("Event-Name", "Event-Subclass", "Channel-State", "Channel-Call-State", "Answer-State",
                   "Hangup-Cause", "Call-Direction", "Application", "Application-Data",
                   "Application-Response", "DTMF-Digit", "DTMF-Source", "Original-Channel-Call-State",
                   "Playback-File-Type", "Playback-File-Path", "Playback-Status", "Record-File-Path",
                   "Record-Completion-Cause", "Job-Command", "Job-Command-Arg", "API-Command",
                   "API-Command-Argument", "Caller-Destination-Number", "Caller-Context",
                   "Other-Type", "Socket-Mode", "Control", "Reply-Text", "Content-Type",
                   "Content-Disposition", "Linger-Time", "Channel-Name", "Caller-Source")


def normalise(text: str) -> str:
    text = UUID_RE.sub("<uuid>", text)
    text = _DATE_RE.sub("<date>", text)
    return _DIGITS_RE.sub("N", text)


@dataclass(frozen=True)
class Difference:
    scenario: str
    kind: str  # missing, extra, header-order, variables, value, encoding, body
    where: str  # e.g. "CHANNEL_EXECUTE loopback/5901-b"
    detail: str

    def __str__(self) -> str:
        return f"{self.scenario}: {self.kind} at {self.where}: {self.detail}"


@dataclass
class Expected:
    """One real s2c frame and what it is."""

    frame: Frame
    signature: tuple[str, ...]
    raw: str
    index: int = 0  # position in the capture's stream of this connection


def leg_of(channel_name: str | None) -> str:
    """`loopback/5901-a` -> `loopback-a`; sofia/... -> `sofia`: the leg role, not its number."""
    if not channel_name:
        return ""
    if channel_name.startswith("loopback/"):
        return "loopback-" + channel_name.rsplit("-", 1)[-1]
    return channel_name.split("/", 1)[0]


def signature(frame: Frame) -> tuple[str, ...]:
    ctype = frame.content_type
    if ctype.startswith("text/event"):
        event = parse_event(frame)
        return ("event", event.name, event.get("Event-Subclass") or event.get("CC-Action") or "",
                leg_of(event.get("Channel-Name")))
    if ctype == "command/reply" and frame.get("Event-Name") == "CHANNEL_DATA":
        return ("connect",)
    if ctype == "text/disconnect-notice":
        return ("notice", frame.get("Content-Disposition") or "")
    return (ctype,)


def _frames_of(raw_frames: list[dict[str, Any]]) -> list[tuple[str, float, Frame | bytes]]:
    out = []
    for item in raw_frames:
        data = item["raw"].encode("utf-8")
        if item["dir"] == "s2c":
            frames = FrameReader().feed(data)
            for frame in frames:
                out.append(("s2c", item["t"], frame))
        else:
            out.append(("c2s", item["t"], data))
    return out


@dataclass
class ConnectionPlan:
    name: str
    items: list[tuple[str, float, Any]]
    segments: list[list[Expected]] = field(default_factory=list)  # s2c before c2s #i; last = after
    sends: list[tuple[float, bytes]] = field(default_factory=list)

    def build(self) -> None:
        current: list[Expected] = []
        for position, (direction, t, payload) in enumerate(self.items):
            if direction == "s2c":
                current.append(Expected(payload, signature(payload), payload.to_bytes().decode("utf-8", "replace"),
                                        position))
            else:
                self.segments.append(current)
                current = []
                self.sends.append((t, payload))
        self.segments.append(current)


class LiveConnection:
    """fssim's side of one connection, read in the background."""

    def __init__(self, sock, name: str) -> None:
        self.sock = sock
        self.name = name
        self.received: list[Frame] = []
        self.closed = False
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        reader = FrameReader()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.received.extend(reader.feed(data))
        except OSError:
            pass
        self.closed = True

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


class Replay:
    """Drive one scenario; collect pairs and differences."""

    def __init__(self, scenario: str, capture: dict[str, Any], wait_s: float = 6.0) -> None:
        self.scenario = scenario
        self.capture = capture
        self.wait_s = wait_s
        self.plans: dict[str, ConnectionPlan] = {}
        self.plans["main"] = ConnectionPlan("main", _frames_of(capture["frames"]))
        for index, aux in enumerate(capture.get("aux_connections") or []):
            self.plans[f"aux{index}"] = ConnectionPlan(f"aux{index}", _frames_of(aux["frames"]))
        for plan in self.plans.values():
            plan.build()
        self.uuid_map: dict[str, str] = {}
        self._mapped_sim_ids: set[str] = set()
        self.pairs: list[tuple[Expected, Frame | None, str, int]] = []
        self.extras: list[tuple[str, Frame]] = []
        self.differences: list[Difference] = []
        self._never_sent: set[tuple[str, ...]] = set()

    # -------------------------------------------------------------- matching
    def _match_segment(self, live: LiveConnection, used: set[int], segment: list[Expected], plan_name: str,
                       deadline: float) -> None:
        pending = list(segment)
        while pending:
            # a kind of frame fssim already failed to send once (mod_callcenter's events) is
            # matched if it is there, but not waited for again: it is reported missing either way
            if all(exp.signature in self._never_sent for exp in pending):
                deadline = min(deadline, time.monotonic() + 0.05)
            progressed = False
            for exp in list(pending):
                for index, frame in enumerate(live.received):
                    if index in used:
                        continue
                    if signature(frame) == exp.signature and self._same_leg(exp.frame, frame):
                        used.add(index)
                        self._learn_uuids(exp.frame, frame)
                        self.pairs.append((exp, frame, plan_name, index))
                        pending.remove(exp)
                        progressed = True
                        break
            if not pending:
                return
            if time.monotonic() > deadline or (live.closed and not progressed):
                if live.closed or time.monotonic() > deadline:
                    for exp in pending:
                        self.pairs.append((exp, None, plan_name, -1))
                        self._never_sent.add(exp.signature)
                    return
            if not progressed:
                gevent.sleep(0.01)

    def _same_leg(self, real: Frame, sim: Frame) -> bool:
        """Pair events of the same leg: a real Unique-ID already paired must meet its fssim one."""
        if not real.content_type.startswith("text/event"):
            return True
        real_id, sim_id = parse_event(real).unique_id, parse_event(sim).unique_id
        if not real_id or not sim_id:
            return True
        mapped = self.uuid_map.get(real_id)
        if mapped is not None:
            return mapped == sim_id
        return sim_id not in self._mapped_sim_ids

    def _learn_uuids(self, real: Frame, sim: Frame) -> None:
        if not real.content_type.startswith("text/event"):
            return
        a, b = parse_event(real), parse_event(sim)
        for name in ("Unique-ID", "Other-Leg-Unique-ID"):
            ra, sb = a.get(name), b.get(name)
            if ra and sb and UUID_RE.fullmatch(ra) and ra not in self.uuid_map and sb not in self._mapped_sim_ids:
                self.uuid_map[ra] = sb
                self._mapped_sim_ids.add(sb)

    def _translate(self, data: bytes) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        text = UUID_RE.sub(lambda m: self.uuid_map.get(m.group(0), m.group(0)), text)
        return text.encode("utf-8", "surrogateescape")

    # -------------------------------------------------------------- running
    def run(self, connect_main, connect_aux) -> list[Difference]:
        """`connect_main()` -> LiveConnection (inbound: dial fssim; outbound: accept fssim),
        `connect_aux()` -> LiveConnection for aux connections (always inbound)."""
        timeline = []
        for name, plan in self.plans.items():
            for index, (t, data) in enumerate(plan.sends):
                timeline.append((t, name, index, data))
        timeline.sort(key=lambda item: (item[0], item[1] != "main"))
        lives: dict[str, LiveConnection] = {}
        used: dict[str, set[int]] = defaultdict(set)
        matched_upto: dict[str, int] = defaultdict(int)
        lives["main"] = connect_main()
        for _t, name, index, data in timeline:
            if name not in lives:
                lives[name] = connect_aux()
            live, plan = lives[name], self.plans[name]
            while matched_upto[name] <= index:
                self._match_segment(live, used[name], plan.segments[matched_upto[name]], name,
                                    time.monotonic() + self.wait_s)
                matched_upto[name] += 1
            if live.closed:
                break
            try:
                live.send(self._translate(data))
            except OSError:
                break
        for name, plan in self.plans.items():
            live = lives.get(name)
            if live is None:
                continue
            while matched_upto[name] < len(plan.segments):
                self._match_segment(live, used[name], plan.segments[matched_upto[name]], name,
                                    time.monotonic() + self.wait_s)
                matched_upto[name] += 1
            gevent.sleep(0.05)
            for index, frame in enumerate(live.received):
                if index not in used[name]:
                    self.extras.append((name, frame))
        for live in lives.values():
            try:
                live.sock.close()
            except OSError:
                pass
        self.compare()
        return self.differences

    # -------------------------------------------------------------- comparing
    def _diff(self, kind: str, where: str, detail: str) -> None:
        self.differences.append(Difference(self.scenario, kind, where, detail))

    def compare(self) -> None:
        for exp, got, _plan, _index in self.pairs:
            where = " ".join(part for part in exp.signature if part)
            if got is None:
                self._diff("missing", where, "fssim never sent it")
                continue
            self._compare_frames(where, exp.frame, got)
        for name, frame in self.extras:
            sig = signature(frame)
            self._diff("extra", " ".join(part for part in sig if part), f"fssim sent it on {name}; the switch did not")
        self._compare_event_order()

    def _compare_event_order(self) -> None:
        """Per leg, fssim must send the paired events in the capture's order (legs interleave
        differently: that is a race on the switch too, so only the order within a leg counts)."""
        by_leg: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for exp, got, plan, got_index in self.pairs:
            if got is None or exp.signature[0] != "event":
                continue
            event = parse_event(exp.frame)
            by_leg[f"{plan}:{event.unique_id or '-'}"].append((exp.index, got_index, event.name))
        for key, items in by_leg.items():
            items.sort()
            sim_order = [got for _, got, _ in items]
            if sim_order != sorted(sim_order):
                real_names = [name for _, _, name in items]
                sim_names = [name for _, _, name in sorted(items, key=lambda item: item[1])]
                self._diff("order", key.split(":")[0] + " " + leg_of(None), f"real {real_names} vs fssim {sim_names}")

    def _compare_frames(self, where: str, real: Frame, sim: Frame) -> None:
        if real.content_type != sim.content_type:
            self._diff("type", where, f"{real.content_type!r} vs {sim.content_type!r}")
            return
        if real.content_type.startswith("text/event"):
            self._compare_events(where, real, sim)
            return
        real_names = [n for n, _ in real.headers() if not n.startswith("variable_")]
        sim_names = [n for n, _ in sim.headers() if not n.startswith("variable_")]
        if real.get("Event-Name") == "CHANNEL_DATA":
            self._compare_header_lists(where, real.headers(), sim.headers(), raw_real=real, raw_sim=sim)
            return
        if _names_key(real_names) != _names_key(sim_names):
            self._diff("header-order", where, f"{real_names} vs {sim_names}")
        for name in ("Reply-Text", "Content-Disposition", "Job-UUID", "Linger-Time", "Channel-Name"):
            rv, sv = real.get(name), sim.get(name)
            if rv is not None and name != "Channel-Name" and normalise(rv) != normalise(sv or ""):
                self._diff("value", where, f"{name}: {rv!r} vs {sv!r}")
        if normalise(real.body_text) != normalise(sim.body_text):
            if not _same_json_shape(real.body_text, sim.body_text):
                self._diff("body", where, f"{normalise(real.body_text)!r} vs {normalise(sim.body_text)!r}")

    def _compare_events(self, where: str, real_frame: Frame, sim_frame: Frame) -> None:
        real, sim = parse_event(real_frame), parse_event(sim_frame)
        self._compare_header_lists(where, real.headers(), sim.headers(),
                                   raw_real=real_frame if real_frame.content_type == "text/event-plain" else None,
                                   raw_sim=sim_frame if sim_frame.content_type == "text/event-plain" else None)
        if normalise(real.body) != normalise(sim.body):
            self._diff("body", where, f"{real.body[:120]!r} vs {sim.body[:120]!r}")

    def _compare_header_lists(self, where: str, real: list[tuple[str, str]], sim: list[tuple[str, str]],
                              raw_real: Frame | None, raw_sim: Frame | None) -> None:
        real_fixed = [n for n, _ in real if not n.startswith("variable_") and n != "_body"]
        sim_fixed = [n for n, _ in sim if not n.startswith("variable_") and n != "_body"]
        if real_fixed != sim_fixed:
            self._diff("header-order", where, _list_diff(real_fixed, sim_fixed))
        real_vars = {n for n, _ in real if n.startswith("variable_")}
        sim_vars = {n for n, _ in sim if n.startswith("variable_")}
        if real_vars != sim_vars:
            missing, extra = sorted(real_vars - sim_vars), sorted(sim_vars - real_vars)
            self._diff("variables", where, f"missing {missing} extra {extra}")
        real_first = dict(reversed(real))
        sim_first = dict(reversed(sim))
        for name in COMPARED_VALUES:
            if name in real_first and name in sim_first:
                rv, sv = real_first[name], sim_first[name]
                if name == "Channel-Name":
                    if leg_of(rv) != leg_of(sv):
                        self._diff("value", where, f"{name}: {rv!r} vs {sv!r}")
                    continue
                if normalise(rv) != normalise(sv):
                    self._diff("value", where, f"{name}: {rv!r} vs {sv!r}")
        if raw_real is not None and raw_sim is not None:
            self._compare_encoding(where, raw_real, raw_sim, real_first, sim_first)

    def _compare_encoding(self, where: str, real_frame: Frame, sim_frame: Frame,
                          real_first: dict[str, str], sim_first: dict[str, str]) -> None:
        real_raw = _raw_values(real_frame)
        sim_raw = _raw_values(sim_frame)
        for name, value in real_first.items():
            if name in RUNTIME_HEADERS or sim_first.get(name) != value:
                continue
            if name in real_raw and name in sim_raw and real_raw[name] != sim_raw[name]:
                self._diff("encoding", where, f"{name}: {real_raw[name]!r} vs {sim_raw[name]!r}")


def _names_key(names: list[str]) -> list[str]:
    return names


def _list_diff(real: list[str], sim: list[str]) -> str:
    missing = [n for n in real if n not in sim]
    extra = [n for n in sim if n not in real]
    if missing or extra:
        return f"missing {missing} extra {extra}"
    for index, (a, b) in enumerate(zip(real, sim, strict=False)):
        if a != b:
            return f"order differs at #{index}: {a!r} vs {b!r}"
    return f"counts differ: {len(real)} vs {len(sim)}"


def _raw_values(frame: Frame) -> dict[str, str]:
    """First raw (still encoded) value per header, from a plain event body or a header block."""
    block = frame.body if frame.content_type == "text/event-plain" else frame.raw_headers
    head = block.split(b"\n\n", 1)[0]
    out: dict[str, str] = {}
    for line in head.split(b"\n"):
        name, sep, value = line.partition(b": ")
        if sep:
            out.setdefault(name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
    return out


def _same_json_shape(a: str, b: str) -> bool:
    try:
        ja, jb = json.loads(a), json.loads(b)
    except ValueError:
        return False

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value[:1]]
        return type(value).__name__

    return shape(ja) == shape(jb)


# ------------------------------------------------------------------------------ drivers
def load_capture(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def replay_inbound(sim, scenario: str, capture: dict[str, Any], wait_s: float = 6.0) -> Replay:
    replay = Replay(scenario, capture, wait_s)

    def dial() -> LiveConnection:
        return LiveConnection(gsocket.create_connection(("127.0.0.1", sim.esl_port)), "inbound")

    replay.run(dial, dial)
    return replay


class OutboundReplayServer:
    """Accepts fssim's outbound connection and hands it to the replay."""

    def __init__(self) -> None:
        self.accepted: gevent.queue.Queue = gevent.queue.Queue()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()

    @property
    def port(self) -> int:
        return self.server.server_port

    def _handle(self, sock, address) -> None:
        done = gevent.event.Event()
        self.accepted.put((sock, done))
        done.wait()

    def stop(self) -> None:
        self.server.stop(timeout=1)


def replay_outbound(sim, scenario: str, capture: dict[str, Any], server: OutboundReplayServer,
                    trigger, wait_s: float = 6.0) -> Replay:
    """`trigger()` makes fssim place the call whose dialplan sockets to `server`."""
    replay = Replay(scenario, capture, wait_s)
    handles = []

    def accept() -> LiveConnection:
        gevent.spawn(trigger)
        sock, done = server.accepted.get(timeout=wait_s)
        handles.append(done)
        return LiveConnection(sock, "outbound")

    def dial() -> LiveConnection:
        return LiveConnection(gsocket.create_connection(("127.0.0.1", sim.esl_port)), "inbound")

    try:
        replay.run(accept, dial)
    finally:
        for done in handles:
            done.set()
    return replay


# ------------------------------------------------------------------------------ CDRs
def _cdr_role(cdr: dict[str, Any]) -> str:
    return leg_of(cdr.get("variables", {}).get("channel_name", "").replace("%40", "@").replace("%3A", ":"))


def _shape_keys(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a CDR, lists collapsed to their first element."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            if prefix.endswith("variables"):
                continue
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            out |= _shape_keys(sub, path)
    elif isinstance(value, list) and value:
        out |= _shape_keys(value[-1], prefix + "[]")
    return out


_CDR_COMPARED_VALUES = ("hangup_cause", "direction", "loopback_leg", "last_app")


def compare_cdrs(scenario: str, real_files: list[Path], sim_files: list[Path]) -> list[Difference]:
    """Pair real and simulated mod_json_cdr files by leg role and compare their shape:
    the key paths (callflow, caller_profile, times, app_log...) and the variable names."""
    diffs: list[Difference] = []
    real = [json.loads(p.read_text()) for p in real_files]
    sim = [json.loads(p.read_text()) for p in sim_files]
    sim_by_role: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cdr in sim:
        sim_by_role[_cdr_role(cdr)].append(cdr)
    for path, cdr in zip(real_files, real, strict=True):
        role = _cdr_role(cdr)
        where = f"cdr {path.name}"
        if not sim_by_role.get(role):
            diffs.append(Difference(scenario, "cdr-missing", where, f"no simulated CDR for a {role} leg"))
            continue
        candidates = sim_by_role[role]
        # the closest simulated leg of that role: same variable names, then same causes/apps
        # (two legs of one role can share a variable set and differ only in hangup_cause)
        other = min(candidates, key=lambda c: (
            len(set(cdr["variables"]) ^ set(c["variables"])),
            sum(cdr["variables"].get(k) != c["variables"].get(k) for k in _CDR_COMPARED_VALUES)))
        candidates.remove(other)
        real_shape, sim_shape = _shape_keys(cdr), _shape_keys(other)
        if real_shape != sim_shape:
            diffs.append(Difference(scenario, "cdr-shape", where,
                                    f"missing {sorted(real_shape - sim_shape)} extra {sorted(sim_shape - real_shape)}"))
        real_vars, sim_vars = set(cdr["variables"]), set(other["variables"])
        if real_vars != sim_vars:
            diffs.append(Difference(scenario, "cdr-variables", where,
                                    f"missing {sorted(real_vars - sim_vars)} extra {sorted(sim_vars - real_vars)}"))
        for key in _CDR_COMPARED_VALUES:
            rv, sv = cdr["variables"].get(key), other["variables"].get(key)
            if rv is not None and rv != sv:
                diffs.append(Difference(scenario, "cdr-value", where, f"{key}: {rv!r} vs {sv!r}"))
        real_encoded = {k: v for k, v in cdr["variables"].items() if "%" in v}
        for key, value in real_encoded.items():
            sv = other["variables"].get(key)
            if sv is not None and url_decode_safe(sv) == url_decode_safe(value) and sv != value:
                diffs.append(Difference(scenario, "cdr-encoding", where, f"{key}: {value!r} vs {sv!r}"))
    for role, rest in sim_by_role.items():
        for cdr in rest:
            diffs.append(Difference(scenario, "cdr-extra", f"cdr {role}",
                                    f"fssim wrote a CDR for {cdr['variables'].get('channel_name')} the switch did not"))
    return diffs


def url_decode_safe(text: str) -> str:
    from fs_scripts.esl.frames import url_decode

    return url_decode(text)
