"""Dialplan applications: what each does to a leg, its events, and its Application-Response.

Each application is `func(channel, data) -> response | None` and runs in the leg's greenlet
(or, for a synchronous outbound socket, in the socket's greenlet, as the switch does).
Waiting is always `channel.wait(...)`, so hangups, uuid_break, DTMF and queued messages
interrupt it exactly where the switch checks for them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fssim import media
from fssim.dialplan import switch_true

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

logger = logging.getLogger(__name__)

App = Callable[["Channel", str], "str | None"]
APPLICATIONS: dict[str, App] = {}


class AppError(Exception):
    """An application could not do its job (bad arguments); logged, the call goes on."""


def app(name: str) -> Callable[[App], App]:
    def register(func: App) -> App:
        APPLICATIONS[name] = func
        return func

    return register


# --------------------------------------------------------------------------- call control
@app("answer")
def answer(ch: Channel, data: str) -> None:
    ch.answer()


@app("pre_answer")
def pre_answer(ch: Channel, data: str) -> None:
    ch.pre_answer()


@app("ring_ready")
def ring_ready(ch: Channel, data: str) -> None:
    from fssim.states import CallState

    if ch.callstate == CallState.DOWN:
        ch.set_callstate(CallState.RINGING)


@app("hangup")
def hangup(ch: Channel, data: str) -> None:
    ch.hangup(data.strip() or "NORMAL_CLEARING")


@app("park")
def park(ch: Channel, data: str) -> None:
    """CHANNEL_PARK, then wait (running queued messages) until hangup, break or transfer."""
    ch.parked = True
    ch.fire("CHANNEL_PARK")
    try:
        ch.wait(None, breakable=True, until=lambda: ch.unpark_requested)
        ch.unpark_requested = False
    finally:
        ch.parked = False
        ch.fire("CHANNEL_UNPARK")


@app("echo")
def echo(ch: Channel, data: str) -> None:
    ch.wait(None, breakable=True)


@app("sleep")
def sleep(ch: Channel, data: str) -> None:
    try:
        ms = float(data.strip() or 0)
    except ValueError as exc:
        raise AppError(f"sleep: not a number of milliseconds: {data!r}") from exc
    ch.wait(ms / 1000.0, breakable=True)


@app("transfer")
def transfer(ch: Channel, data: str) -> None:
    parts = data.split()
    if not parts:
        raise AppError("transfer: no destination")
    dest = parts[0]
    dialplan = parts[1] if len(parts) > 1 else "XML"
    context = parts[2] if len(parts) > 2 else None
    ch.transfer(dest, dialplan, context)


@app("respond")
def respond(ch: Channel, data: str) -> None:
    code_text = data.strip().split(" ", 1)[0]
    try:
        code = int(code_text)
    except ValueError as exc:
        raise AppError(f"respond: not a SIP code: {data!r}") from exc
    if code in (180,):
        ring_ready(ch, "")
    elif code in (183,):
        ch.pre_answer()
    elif 200 <= code < 300:
        ch.answer()
    elif code >= 300:
        ch.hangup(SIP_CAUSES.get(code, "NORMAL_TEMPORARY_FAILURE"))


#: sip code -> hangup cause (sofia_glue_sip_cause_to_freeswitch)
SIP_CAUSES = {
    404: "UNALLOCATED_NUMBER", 480: "NO_USER_RESPONSE", 486: "USER_BUSY", 487: "ORIGINATOR_CANCEL",
    403: "CALL_REJECTED", 603: "CALL_REJECTED", 503: "NORMAL_TEMPORARY_FAILURE", 408: "RECOVERY_ON_TIMER_EXPIRE",
    410: "NUMBER_CHANGED", 484: "INVALID_NUMBER_FORMAT", 488: "INCOMPATIBLE_DESTINATION",
    500: "NORMAL_TEMPORARY_FAILURE", 502: "NETWORK_OUT_OF_ORDER", 600: "USER_BUSY", 604: "NO_ROUTE_DESTINATION",
}


# --------------------------------------------------------------------------- variables
def _split_assignment(data: str) -> tuple[str, str]:
    name, _, value = data.partition("=")
    name = name.strip()
    if not name:
        raise AppError(f"no variable name in {data!r}")
    return name, value


@app("set")
def set_(ch: Channel, data: str) -> None:
    name, value = _split_assignment(data)
    ch.set_var(name, value or None)


@app("export")
def export(ch: Channel, data: str) -> None:
    name, value = _split_assignment(data)
    nolocal = name.startswith("nolocal:")
    name = name[len("nolocal:"):] if nolocal else name
    if not nolocal:
        ch.set_var(name, value or None)
    names = [n for n in (ch.get_var("export_vars") or "").split(",") if n]
    if name not in names:
        names.append(name)
    ch.set_var("export_vars", ",".join(names))
    ch.exported[name] = value


@app("unset")
def unset(ch: Channel, data: str) -> None:
    ch.set_var(data.strip(), None)


@app("multiset")
def multiset(ch: Channel, data: str) -> None:
    text = data
    if text.startswith("^^"):
        sep, text = text[2], text[3:]
    else:
        sep = " "
    for item in text.split(sep):
        if item:
            set_(ch, item)


@app("log")
def log(ch: Channel, data: str) -> None:
    logger.info("channel %s log: %s", ch.uuid, data)


@app("info")
def info(ch: Channel, data: str) -> None:
    logger.info("channel %s info: %s", ch.uuid, ch.variables)


# --------------------------------------------------------------------------- media
def play_file(ch: Channel, path: str, *, dtmf_stops: bool = False) -> str:
    """switch_ivr_play_file: PLAYBACK_START, the media time, PLAYBACK_STOP, playback_* vars.
    Returns 'done', 'break', 'dtmf', 'hangup' or 'notfound'."""
    resolved = media.resolve(path, ch.core.sound_dirs)
    if resolved.duration_s is None:
        logger.info("channel %s: file not found: %s", ch.uuid, path)
        return "notfound"
    suffix = [("Playback-File-Type", resolved.file_type), ("Playback-File-Path", path)]
    ch.fire("PLAYBACK_START", suffix=suffix)
    started = ch.core.clock.now()
    terminators = ch.get_var("playback_terminators") or ""
    reason = ch.wait(resolved.duration_s if not resolved.endless else None, dtmf=dtmf_stops or bool(terminators),
                     breakable=True)
    if reason == "dtmf" and not dtmf_stops:
        # only a playback terminator ends a plain playback
        if ch.dtmf_buffer and ch.dtmf_buffer[0] in terminators:
            ch.dtmf_buffer.popleft()
        else:
            reason = ch.wait(max(0.0, resolved.duration_s - (ch.core.clock.now() - started)), breakable=True)
    played_s = min(ch.core.clock.now() - started, resolved.duration_s if not resolved.endless else 1e12)
    samples = int(round(played_s * 8000))
    ch.set_var("playback_last_offset_pos", str(samples))
    ch.set_var("playback_seconds", str(int(played_s)))
    ch.set_var("playback_ms", str(int(round(played_s * 1000))))
    ch.set_var("playback_samples", str(samples))
    ch.fire("PLAYBACK_STOP", suffix=suffix + [("Playback-Status", "break" if reason in ("break", "dtmf") else "done")])
    return {"timeout": "done"}.get(reason, reason)


@app("playback")
def playback(ch: Channel, data: str) -> str:
    result = play_file(ch, data.strip())
    if result == "notfound":
        return "FILE NOT FOUND"
    return "PLAYBACK ERROR" if result == "hangup" else "FILE PLAYED"


@app("say")
def say(ch: Channel, data: str) -> None:
    """mod_dptools `say <module> <type> <method> [gender] <text>` (mod_say_en, mod_say_zh...):
    the switch speaks from its sound files; here it takes about as long as speaking them
    (0.4 s per digit or word), breakable like a playback."""
    parts = data.split(None, 3)
    if len(parts) < 4:
        raise AppError(f"say: expected '<module> <type> <method> <text>', got {data!r}")
    module, say_type, method, rest = parts
    words = rest.split(None, 1)
    if len(words) == 2 and words[0].upper() in ("FEMININE", "MASCULINE", "NEUTER"):
        rest = words[1]
    spoken = sum(1 for c in rest if c.isdigit()) if say_type.upper() in ("NUMBER", "DIGITS", "ITEMS") \
        else len(rest.split())
    ch.wait(max(0.4, 0.4 * spoken), breakable=True)


@app("endless_playback")
def endless_playback(ch: Channel, data: str) -> str:
    """mod_dptools: play again while the channel is up; a break (uuid_break) restarts it."""
    while ch.is_up and not ch.transfer_pending:
        result = play_file(ch, data.strip())
        if result == "notfound":
            return "FILE NOT FOUND"
        if result in ("hangup", "transfer"):
            break
    return "PLAYBACK ERROR" if not ch.is_up else "FILE PLAYED"


@app("gentones")
def gentones(ch: Channel, data: str) -> None:
    play_file(ch, "tone_stream://" + data)


def _deliver_scripted_dtmf(ch: Channel) -> None:
    """A per-call DTMF script given as "1,2,0#": one chunk per input application."""
    script = getattr(ch, "dtmf_chunks", None)
    if script:
        chunk = script.pop(0)
        import gevent

        def later() -> None:
            ch.core.clock.sleep(0.2)
            ch.receive_dtmf(chunk, source="RTP")

        gevent.spawn(later)


def collect_digits(ch: Channel, max_digits: int, terminators: str, first_timeout_s: float,
                   digit_timeout_s: float) -> tuple[str, str]:
    """Digits until max, a terminator, or a timeout. Returns (digits, terminator used)."""
    digits = ""
    timeout = first_timeout_s
    while ch.is_up and len(digits) < max_digits:
        if not ch.dtmf_buffer:
            reason = ch.wait(timeout, dtmf=True, breakable=False)
            if reason != "dtmf":
                break
        digit = ch.dtmf_buffer.popleft()
        if digit in terminators:
            return digits, digit
        digits += digit
        timeout = digit_timeout_s
    return digits, ""


@app("play_and_get_digits")
def play_and_get_digits(ch: Channel, data: str) -> str:
    args = data.split(" ")
    if len(args) < 9:
        raise AppError(f"play_and_get_digits: needs 9+ arguments, got {len(args)}: {data!r}")
    try:
        min_d, max_d, tries, timeout_ms = int(args[0]), int(args[1]), int(args[2]), int(args[3])
    except ValueError as exc:
        raise AppError(f"play_and_get_digits: bad numbers in {data!r}") from exc
    terminators, prompt, invalid, var_name, regex = args[4], args[5], args[6], args[7], args[8]
    digit_timeout_ms = int(args[9]) if len(args) > 9 and args[9].isdigit() else timeout_ms
    transfer_on_failure = args[10] if len(args) > 10 else ""
    if terminators == "none":
        terminators = ""
    _deliver_scripted_dtmf(ch)
    for _attempt in range(max(1, tries)):
        if not ch.is_up:
            break
        if not ch.dtmf_buffer and prompt:
            play_file(ch, prompt, dtmf_stops=True)
        digits, term = collect_digits(ch, max_d, terminators, timeout_ms / 1000.0, digit_timeout_ms / 1000.0)
        if term:
            ch.set_var("read_terminator_used", term)
        valid = len(digits) >= min_d and (not regex or re.search(regex, digits) is not None)
        if valid:
            ch.set_var("read_result", "success")
            ch.set_var(var_name, digits)
            return "_none_"
        if ch.is_up and invalid:
            play_file(ch, invalid, dtmf_stops=True)
    ch.set_var("read_result", "failure" if ch.is_up else "timeout")
    ch.set_var(var_name, None)
    if transfer_on_failure and ch.is_up:
        parts = transfer_on_failure.split()
        ch.transfer(parts[0], parts[1] if len(parts) > 1 else "XML", parts[2] if len(parts) > 2 else None)
    return "_none_"


@app("read")
def read(ch: Channel, data: str) -> str:
    """read <min> <max> <sound> <var> <timeout_ms> <terminators>"""
    args = data.split(" ")
    if len(args) < 6:
        raise AppError(f"read: needs 6 arguments: {data!r}")
    min_d, max_d, prompt, var_name, timeout_ms, terminators = (
        int(args[0]), int(args[1]), args[2], args[3], int(args[4]), args[5])
    _deliver_scripted_dtmf(ch)
    if prompt and not ch.dtmf_buffer:
        play_file(ch, prompt, dtmf_stops=True)
    digits, term = collect_digits(ch, max_d, terminators, timeout_ms / 1000.0, timeout_ms / 1000.0)
    if term:
        ch.set_var("read_terminator_used", term)
    if len(digits) >= min_d:
        ch.set_var("read_result", "success")
        ch.set_var(var_name, digits)
    else:
        ch.set_var("read_result", "timeout")
    return "_none_"


# --------------------------------------------------------------------------- recording
@app("record_session")
def record_session(ch: Channel, data: str) -> None:
    from fssim.recording import start_recording

    parts = data.split()
    if not parts:
        raise AppError("record_session: no path")
    limit_s = float(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    start_recording(ch, parts[0], limit_s)


@app("stop_record_session")
def stop_record_session(ch: Channel, data: str) -> None:
    from fssim.recording import stop_recording

    path = data.strip()
    if path in ("all", ""):
        for p in list(ch.recordings):
            stop_recording(ch, p)
    else:
        stop_recording(ch, path)


@app("record_session_mask")
def record_session_mask(ch: Channel, data: str) -> None:
    from fssim.recording import mask_recording

    mask_recording(ch, data.strip(), True)


@app("record_session_unmask")
def record_session_unmask(ch: Channel, data: str) -> None:
    from fssim.recording import mask_recording

    mask_recording(ch, data.strip(), False)


#: simulator-only channel variable: how long the simulated caller talks into a `record`
#: before falling silent (default 0: a caller that says nothing, as SIPp sends no audio)
CALLER_SPEAKS_VAR = "fssim_caller_speaks_s"


@app("record")
def record(ch: Channel, data: str) -> None:
    """record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>] (switch_ivr_record_file).

    Ends at the time limit, on hangup, uuid_break, a DTMF in `playback_terminators`, or when
    the caller has been silent for <silence_hits> seconds with a threshold set (the simulated
    caller talks for `fssim_caller_speaks_s` seconds, then is silent)."""
    from fssim.recording import record_file

    parts = data.split()
    if not parts:
        raise AppError("record: no path")
    try:
        limit_s = float(parts[1]) if len(parts) > 1 else 0.0
        thresh = float(parts[2]) if len(parts) > 2 else 0.0
        hits_s = float(parts[3]) if len(parts) > 3 else 3.0
        speaks_s = float(ch.get_var(CALLER_SPEAKS_VAR) or 0)
    except ValueError as exc:
        raise AppError(f"record: bad numbers in {data!r}") from exc
    record_file(ch, parts[0], limit_s=limit_s or None,
                silence_after_s=(speaks_s + hits_s) if thresh > 0 and hits_s > 0 else None, speaks_s=speaks_s)


# --------------------------------------------------------------------------- limit
@app("limit")
def limit(ch: Channel, data: str) -> None:
    """limit hash <realm> <resource> [<max>[/<interval>] [<transfer dest> [dialplan [context]] | !<CAUSE>]]

    As mod_dptools' limit app over mod_hash's limit_incr_hash: `max` alone caps the legs holding
    the resource at once (released when the leg hangs up); `max/interval` is a rate instead,
    at most `max` calls per window of `interval` seconds (the window starts with the first call
    after the previous one expired; concurrency is then only counted, not capped); `-` or no max
    only counts. Over the limit: `!CAUSE` hangs the leg up with that cause, anything else is a
    transfer destination (default `limit_exceeded`, in the leg's own dialplan and context).
    """
    parts = data.split()
    if len(parts) < 3:
        raise AppError(f"limit: usage: hash <realm> <resource> [<max>[/<interval>]] [<transfer>|!<cause>]: {data!r}")
    backend, realm, resource = parts[0], parts[1], parts[2]
    if backend != "hash":
        raise AppError(f"limit: only the hash backend is simulated, got {backend!r}")
    max_calls, interval = -1, 0
    if len(parts) > 3 and not parts[3].startswith("-"):
        max_text, _, interval_text = parts[3].partition("/")
        max_calls = max(0, _atoi(max_text))
        interval = _atoi(interval_text)
    xfer = parts[4] if len(parts) > 4 else "limit_exceeded"
    if not _limit_incr_hash(ch, realm, resource, max_calls, interval):
        if xfer.startswith("!"):
            ch.hangup(xfer[1:])
        else:
            ch.transfer(xfer, parts[5] if len(parts) > 5 else "XML", parts[6] if len(parts) > 6 else None)


def _atoi(text: str) -> int:
    """C atoi(): the leading integer of the text, 0 when there is none (as the switch parses max)."""
    match = re.match(r"\s*[-+]?\d+", text)
    return int(match.group()) if match else 0


def _limit_incr_hash(ch: Channel, realm: str, resource: str, max_calls: int, interval: int) -> bool:
    """mod_hash limit_incr_hash: False when over the limit (nothing counted then)."""
    key = (realm, resource)
    holders = ch.core.limits.setdefault(key, set())
    increment = ch.uuid not in holders  # a leg re-checking a resource it holds is not counted twice
    rate = ch.core.limit_rates.setdefault(key, [0, 0])  # [rate_usage, last_check epoch s]
    if interval > 0:
        now = int(ch.core.clock.now())
        if rate[1] <= now - interval:
            rate[0], rate[1] = 1, now
        else:
            rate[0] += 1  # counted even when refused, as mod_hash does
            if max_calls >= 0 and rate[0] > max_calls:
                logger.info("limit: %s_%s exceeds the rate of %d/%ds", realm, resource, max_calls, interval)
                return False
    elif max_calls >= 0 and len(holders) + increment > max_calls:
        logger.info("limit: %s_%s is already at its maximum (%d)", realm, resource, len(holders))
        return False
    if increment:
        holders.add(ch.uuid)
        ch.limits.append(("hash", realm, resource))
    ch.set_var("limit_realm", realm)
    ch.set_var("limit_id", resource)
    for name, value in (("limit_usage", len(holders)), ("limit_rate", rate[0])):
        ch.set_var(name, str(value))
        ch.set_var(f"{name}_{realm}_{resource}", str(value))
    return True


# --------------------------------------------------------------------------- bridge & socket
@app("bridge")
def bridge(ch: Channel, data: str) -> None:
    from fssim.bridge import bridge_app

    bridge_app(ch, data)


@app("socket")
def socket_app(ch: Channel, data: str) -> None:
    from fssim.outbound import socket_app as run

    run(ch, data)


def continue_on_fail(ch: Channel) -> bool:
    return switch_true(ch.get_var("continue_on_fail"))


def recordings_path(ch: Channel, path: str) -> Path:
    """Where a recording really goes: as given, or below --recordings when relative or when
    the given absolute directory does not exist here (a path written for a real switch)."""
    target = Path(path)
    base = ch.core.recordings_dir
    if not target.is_absolute():
        return (base or Path.cwd()) / target
    if base is not None and not target.parent.is_dir():
        return base / target.name
    return target
