"""Events in the shapes FreeSWITCH 1.11 gives them (header names and order from the captures).

Why header lists and not dicts: the switch emits headers in a fixed order and sometimes twice
(CODEC's write-codec headers, CHANNEL_HANGUP_COMPLETE's Hangup-Cause), and the conformance
test compares names and order with ../shared/fs-captures. The layout is the switch's:

    common block   (switch_event.c: Event-Name .. Event-Sequence)
    event prefix   (Old-Unique-ID, Original-Channel-Call-State, Bridge-A-Unique-ID, ...)
    channel block  (switch_channel_event_set_basic_data: Channel-State .. codecs)
    caller profile (Caller-*, only non-empty optional fields, as switch_caller_profile_event_set_data)
    other leg      (Other-Type + Other-Leg-*, when the channel has an originator/originatee)
    variables      (variable_*, only for the event types that carry extended data)
    event suffix   (Application*, DTMF-*, Playback-*, Record-*, ...)

Encoding to the wire (plain/json/xml) is done by fs_scripts.esl.frames; an event caches its
encoded bytes per format so that one event sent to 1,000 listeners is encoded once.
"""

from __future__ import annotations

import itertools
import socket
import time
import uuid as uuid_mod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fs_scripts.clock import Clock

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import CallerProfile, Channel

Headers = list[tuple[str, str]]

#: (Event-Calling-File, Event-Calling-Function, Event-Calling-Line-Number) seen in the captures.
CALLING_SITE: dict[str, tuple[str, str, int]] = {
    "API": ("switch_loadable_module.c", "switch_api_execute", 2954),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1569),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", 3279),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3848),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3730),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3733),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 302),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2018),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1588),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2949),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2972),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3447),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2409),
    "CHANNEL_UUID": ("switch_core_session.c", "switch_core_session_set_uuid", 2056),
    "CHANNEL_HOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", 1133),
    "CHANNEL_UNHOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", 1133),
    "CODEC": ("switch_core_codec.c", "switch_core_session_set_read_codec", 300),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 678),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1649),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2023),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1482),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1241),
    "CUSTOM": ("fssim", "fssim_inject", 1),
    # mod_sofia's registration events (CUSTOM; the key is the site, not the event name)
    "sofia::register": ("sofia_reg.c", "sofia_reg_handle_register_token", 1993),
    "sofia::expire": ("sofia_reg.c", "sofia_reg_del_callback", 724),
}

#: Event types that carry the channel variables (switch_channel_event_set_extended_data).
WITH_VARIABLES = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER", "CHANNEL_PARK",
    "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "CALL_UPDATE", "CHANNEL_DATA",
    "PLAYBACK_START", "PLAYBACK_STOP", "RECORD_START", "RECORD_STOP", "CHANNEL_HOLD",
    "CHANNEL_UNHOLD", "CUSTOM",
})

#: The event list `myevents` subscribes (mod_event_socket.c); no CALLSTATE, no PLAYBACK_*.
MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})

#: Every event name `event plain <NAME>` accepts (switch_event.c EVENT_NAMES, the common ones).
KNOWN_EVENT_NAMES = frozenset({
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
    "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE",
    "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING",
    "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE",
    "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND",
    "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
    "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START",
    "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA",
    "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
    "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT",
    "SHUTDOWN_REQUESTED", "ALL",
})


@dataclass
class SimEvent:
    """One fired event: header list in wire order, optional body, cached encodings."""

    name: str
    headers: Headers
    body: str = ""
    subclass: str | None = None
    unique_id: str | None = None
    _encoded: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def encoded(self, fmt: str) -> bytes:
        """The complete ESL message for a `text/event-<fmt>` listener (encoded once)."""
        cached = self._encoded.get(fmt)
        if cached is None:
            from fs_scripts.esl import frames

            encoder = {"plain": frames.encode_event_plain, "json": frames.encode_event_json,
                       "xml": frames.encode_event_xml}[fmt]
            cached = encoder(self.headers, self.body)
            self._encoded[fmt] = cached
        return cached


class CoreInfo:
    """What every event's common block says about the switch itself."""

    def __init__(self, clock: Clock, hostname: str | None = None, ipv4: str = "127.0.0.1",
                 ipv6: str = "::1") -> None:
        self.clock = clock
        self.core_uuid = str(uuid_mod.uuid4())
        self.hostname = hostname or socket.gethostname()
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self._sequence = itertools.count(1)
        self.started_at = clock.now()
        self.sessions_since_startup = 0

    def now_us(self) -> int:
        return int(self.clock.now() * 1_000_000)

    def common(self, name: str, subclass: str | None = None, site: str | None = None) -> Headers:
        now = self.clock.now()
        file_, func, line = CALLING_SITE.get(site or name, ("fssim", "fssim", 0))
        headers: Headers = []
        if subclass is not None:
            headers.append(("Event-Subclass", subclass))
        headers += [
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", file_),
            ("Event-Calling-Function", func),
            ("Event-Calling-Line-Number", str(line)),
            ("Event-Sequence", str(next(self._sequence))),
        ]
        return headers


def profile_headers(prefix: str, profile: CallerProfile, *, with_index: bool = True) -> Headers:
    """switch_caller_profile_event_set_data: optional fields only when non-empty."""
    p = profile
    out: Headers = [(f"{prefix}-Direction", p.direction),
                    (f"{prefix}-Logical-Direction", p.logical_direction)]
    if p.username:
        out.append((f"{prefix}-Username", p.username))
    out.append((f"{prefix}-Dialplan", p.dialplan))
    if p.caller_id_name:
        out.append((f"{prefix}-Caller-ID-Name", p.caller_id_name))
    out.append((f"{prefix}-Caller-ID-Number", p.caller_id_number))
    if p.orig_caller_id_name:
        out.append((f"{prefix}-Orig-Caller-ID-Name", p.orig_caller_id_name))
    out.append((f"{prefix}-Orig-Caller-ID-Number", p.orig_caller_id_number))
    if p.callee_id_name:
        out.append((f"{prefix}-Callee-ID-Name", p.callee_id_name))
    if p.callee_id_number:
        out.append((f"{prefix}-Callee-ID-Number", p.callee_id_number))
    if p.network_addr:
        out.append((f"{prefix}-Network-Addr", p.network_addr))
    out.append((f"{prefix}-ANI", p.ani))
    if p.aniii:
        out.append((f"{prefix}-ANI-II", p.aniii))
    if p.rdnis:
        out.append((f"{prefix}-RDNIS", p.rdnis))
    out += [(f"{prefix}-Destination-Number", p.destination_number),
            (f"{prefix}-Unique-ID", p.uuid),
            (f"{prefix}-Source", p.source)]
    if p.transfer_source and with_index:
        out.append((f"{prefix}-Transfer-Source", p.transfer_source))
    out += [(f"{prefix}-Context", p.context),
            (f"{prefix}-Channel-Name", p.chan_name)]
    if with_index:
        out.append((f"{prefix}-Profile-Index", str(p.profile_index)))
    t = p.times
    out += [
        (f"{prefix}-Profile-Created-Time", str(t.profile_created)),
        (f"{prefix}-Channel-Created-Time", str(t.created)),
        (f"{prefix}-Channel-Answered-Time", str(t.answered)),
        (f"{prefix}-Channel-Progress-Time", str(t.progress)),
        (f"{prefix}-Channel-Progress-Media-Time", str(t.progress_media)),
        (f"{prefix}-Channel-Hangup-Time", str(t.hangup)),
        (f"{prefix}-Channel-Transfer-Time", str(t.transfer)),
        (f"{prefix}-Channel-Resurrect-Time", str(t.resurrect)),
        (f"{prefix}-Channel-Bridged-Time", str(t.bridged)),
        (f"{prefix}-Channel-Last-Hold", str(t.last_hold)),
        (f"{prefix}-Channel-Hold-Accum", str(t.hold_accum)),
        (f"{prefix}-Screen-Bit", "true"),
        (f"{prefix}-Privacy-Hide-Name", "false"),
        (f"{prefix}-Privacy-Hide-Number", "false"),
    ]
    return out


def codec_headers(channel: Channel) -> Headers:
    if not channel.has_codecs:
        return []
    c = channel.codec
    return [
        ("Channel-Read-Codec-Name", c.name), ("Channel-Read-Codec-Rate", str(c.rate)),
        ("Channel-Read-Codec-Bit-Rate", str(c.bit_rate)),
        ("Channel-Write-Codec-Name", c.name), ("Channel-Write-Codec-Rate", str(c.rate)),
        ("Channel-Write-Codec-Bit-Rate", str(c.bit_rate)),
    ]


def channel_basic_headers(channel: Channel, *, state: str | None = None) -> Headers:
    """switch_channel_event_set_basic_data, up to and including Answer-State / Hangup-Cause."""
    ch = channel
    out: Headers = [
        ("Channel-State", state or ch.state.name),
        ("Channel-Call-State", ch.callstate.name),
        ("Channel-State-Number", str(ch.running_state.number)),
        ("Channel-Name", ch.name),
        ("Unique-ID", ch.uuid),
        ("Call-Direction", ch.direction),
        ("Presence-Call-Direction", ch.direction),
        ("Channel-HIT-Dialplan", "true" if ch.hit_dialplan else "false"),
    ]
    if ch.presence_id:
        out.append(("Channel-Presence-ID", ch.presence_id))
    out += [("Channel-Call-UUID", ch.uuid), ("Answer-State", ch.answer_state)]
    if ch.hangup_cause:
        out.append(("Hangup-Cause", ch.hangup_cause))
    return out


def channel_headers(channel: Channel, *, with_variables: bool, with_profile: bool = True) -> Headers:
    out = channel_basic_headers(channel) + codec_headers(channel)
    if with_profile:
        out += profile_headers("Caller", channel.profile)
        other = channel.other_leg_profile()
        if other is not None:
            kind, prof = other
            out.append(("Other-Type", kind))
            out += profile_headers("Other-Leg", prof, with_index=False)
    if with_variables:
        out += [(f"variable_{k}", v) for k, v in channel.variables.items()]
    return out


def channel_event(core: CoreInfo, name: str, channel: Channel, *, prefix: Headers | None = None,
                  suffix: Headers | None = None, body: str = "", subclass: str | None = None,
                  with_variables: bool | None = None) -> SimEvent:
    """An event about one channel, laid out as the switch lays it out."""
    headers = core.common(name, subclass)
    if prefix:
        headers += prefix
    if with_variables is None:
        with_variables = name in WITH_VARIABLES
    headers += channel_headers(channel, with_variables=with_variables)
    if suffix:
        headers += suffix
    return SimEvent(name, headers, body, subclass, channel.uuid)


def codec_events(core: CoreInfo, channel: Channel) -> list[SimEvent]:
    """The two CODEC events a new channel fires while its codecs are set (basic data only)."""
    c = channel.codec
    read = core.common("CODEC") + channel_basic_headers(channel) + [
        ("Channel-Read-Codec-Name", c.name), ("Channel-Read-Codec-Rate", str(c.rate)),
        ("Channel-Read-Codec-Bit-Rate", str(c.bit_rate)),
        ("channel-read-codec-name", c.name), ("channel-read-codec-rate", str(c.rate)),
        ("channel-read-codec-bit-rate", str(c.bit_rate)),
    ]
    write_common = core.common("CODEC")
    write_common = [(k, v) if k not in ("Event-Calling-Function", "Event-Calling-Line-Number")
                    else (k, "switch_core_session_set_write_codec" if k == "Event-Calling-Function" else "471")
                    for k, v in write_common]
    write = write_common + channel_basic_headers(channel) + [
        ("Channel-Read-Codec-Name", c.name), ("Channel-Read-Codec-Rate", str(c.rate)),
        ("Channel-Read-Codec-Bit-Rate", str(c.bit_rate)),
        ("Channel-Write-Codec-Name", c.name), ("Channel-Write-Codec-Rate", str(c.rate)),
        ("Channel-Write-Codec-Bit-Rate", str(c.bit_rate)),
        ("Channel-Write-Codec-Name", c.name), ("Channel-Write-Codec-Rate", str(c.rate)),
        ("Channel-Write-codec-bit-rate", str(c.bit_rate)),
    ]
    return [SimEvent("CODEC", read, "", None, channel.uuid), SimEvent("CODEC", write, "", None, channel.uuid)]


def plain_event(core: CoreInfo, name: str, headers: Headers, body: str = "",
                subclass: str | None = None, site: str | None = None) -> SimEvent:
    """An event not about a channel (API, BACKGROUND_JOB, CUSTOM injected by a test)."""
    return SimEvent(name, core.common(name, subclass, site) + list(headers), body, subclass,
                    dict(headers).get("Unique-ID"))


def as_dict(event: SimEvent) -> dict[str, Any]:
    """First value of each header (for assertions in tests)."""
    out: dict[str, Any] = {}
    for k, v in event.headers:
        out.setdefault(k, v)
    return out
