"""record_session / uuid_record: RECORD_START, RECORD_STOP and a real WAV on disk.

The WAV's length is the simulated time the recording ran, so `record_ms` and the file agree
(as they do on the switch). Recordings still running when the leg hangs up are stopped
before CHANNEL_HANGUP_COMPLETE, like the switch's media bug closing on hangup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import gevent

from fssim.wav import write_wav

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

logger = logging.getLogger(__name__)


@dataclass
class ActiveRecording:
    path: str  # as the client gave it (Record-File-Path)
    real_path: Path  # where fssim writes it
    started: float
    limit_s: float | None
    stereo: bool = False  # RECORD_STEREO was true when it started
    masked_since: float | None = None  # uuid_record mask: silence from then until unmask
    masked: list[tuple[float, float]] = field(default_factory=list)  # closed masked spans (offsets, s)

    def mask(self, now: float) -> None:
        if self.masked_since is None:
            self.masked_since = now

    def unmask(self, now: float) -> None:
        if self.masked_since is not None:
            self.masked.append((self.masked_since - self.started, now - self.started))
            self.masked_since = None


def start_recording(ch: Channel, path: str, limit_s: float | None = None) -> None:
    from fssim.apps import recordings_path

    if path in ch.recordings:
        return
    from fssim.dialplan import switch_true

    rec = ActiveRecording(path, recordings_path(ch, path), ch.core.clock.now(), limit_s,
                          stereo=switch_true(ch.get_var("RECORD_STEREO")))
    ch.recordings[path] = rec
    if _stop_on_hangup not in ch.hangup_hooks:
        ch.hangup_hooks.insert(0, _stop_on_hangup)
    ch.fire("RECORD_START", suffix=[("Record-File-Path", path)])
    if limit_s:
        def stop_at_limit() -> None:
            ch.core.clock.sleep(limit_s)
            if ch.recordings.get(path) is rec:
                stop_recording(ch, path, "success-maxtime")

        gevent.spawn(stop_at_limit)


def stop_recording(ch: Channel, path: str, cause: str = "success-maxtime") -> bool:
    """False when nothing records to `path` ("-ERR Cannot stop record session!")."""
    rec = ch.recordings.pop(path, None)
    if rec is None:
        return False
    now = ch.core.clock.now()
    duration_s = max(0.0, now - rec.started)
    rec.unmask(now)
    try:
        samples, size = write_wav(rec.real_path, duration_s, channels=2 if rec.stereo else 1,
                                  silent_spans=tuple(rec.masked))
    except OSError as exc:
        logger.error("channel %s: cannot write recording %s: %s", ch.uuid, rec.real_path, exc)
        samples, size = 0, 0
    ch.set_var("record_file_size", str(size))
    ch.set_var("record_samples", str(samples))
    ch.set_var("record_seconds", str(samples // 8000))
    ch.set_var("record_ms", str(samples // 8))
    ch.set_var("record_completion_cause", cause)
    ch.fire("RECORD_STOP", suffix=[("Record-File-Path", path), ("Record-Completion-Cause", cause)])
    return True


def _stop_on_hangup(ch: Channel) -> None:
    for path in list(ch.recordings):
        stop_recording(ch, path)


def mask_recording(ch: Channel, path: str, masked: bool) -> bool:
    """uuid_record mask|unmask: the recording writes silence while masked (SMBF_MASK)."""
    rec = ch.recordings.get(path)
    if rec is None:
        return False
    (rec.mask if masked else rec.unmask)(ch.core.clock.now())
    return True


def _terminators(ch: Channel) -> str:
    value = ch.get_var("playback_terminators") or ""
    if value.lower() == "any":
        return "1234567890*#"
    return "" if value.lower() == "none" else value


def record_file(ch: Channel, path: str, *, limit_s: float | None, silence_after_s: float | None,
                speaks_s: float) -> str:
    """The `record` application (switch_ivr_record_file): RECORD_START, record until the limit,
    silence, a terminator, a break or hangup; the WAV (tone while the caller talks, then
    silence); record_seconds / record_ms / record_samples; RECORD_STOP (no completion cause:
    the switch's record_file sends none). Returns why it stopped."""
    from fssim.apps import recordings_path

    real_path = recordings_path(ch, path)
    ch.fire("RECORD_START", suffix=[("Record-File-Path", path)])
    started = ch.core.clock.now()
    ends = [t for t in (limit_s, silence_after_s) if t]
    terminators = _terminators(ch)
    reason = ""
    while ch.is_up:
        remaining = (min(ends) - (ch.core.clock.now() - started)) if ends else None
        reason = ch.wait(remaining, dtmf=bool(terminators), breakable=True)
        if reason != "dtmf":
            break
        digit = ch.dtmf_buffer.popleft()
        if digit in terminators:
            ch.set_var("playback_terminator_used", digit)
            reason = "terminator"
            break
    duration_s = max(0.0, ch.core.clock.now() - started)
    try:
        samples, _size = write_wav(real_path, duration_s, silent_spans=((speaks_s, duration_s),))
    except OSError as exc:
        logger.error("channel %s: cannot write recording %s: %s", ch.uuid, real_path, exc)
        samples = 0
    ch.set_var("record_seconds", str(samples // 8000))
    ch.set_var("record_ms", str(samples // 8))
    ch.set_var("record_samples", str(samples))
    ch.fire("RECORD_STOP", suffix=[("Record-File-Path", path)])
    return reason
