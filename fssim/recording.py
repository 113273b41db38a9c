"""record_session / uuid_record: RECORD_START, RECORD_STOP and a real WAV on disk.

The WAV's length is the simulated time the recording ran, so `record_ms` and the file agree
(as they do on the switch). Recordings still running when the leg hangs up are stopped
before CHANNEL_HANGUP_COMPLETE, like the switch's media bug closing on hangup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


def start_recording(ch: Channel, path: str, limit_s: float | None = None) -> None:
    from fssim.apps import recordings_path

    if path in ch.recordings:
        return
    rec = ActiveRecording(path, recordings_path(ch, path), ch.core.clock.now(), limit_s)
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
    duration_s = max(0.0, ch.core.clock.now() - rec.started)
    try:
        samples, size = write_wav(rec.real_path, duration_s)
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
