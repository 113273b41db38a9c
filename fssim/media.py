"""How long a playback lasts: WAV headers, `tone_stream://` and `silence_stream://` specs.

Why parse them: the engine's timing (IVR prompts, ring and talk durations under the fast
clock) depends on playback lengths, so fssim takes them from the same places the switch
does instead of a constant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fssim.wav import WavError, wav_duration_s

_TONE_SEGMENT = re.compile(r"%\(([^)]*)\)")
_LOOPS = re.compile(r"(?:^|;)loops=(-?\d+)")


@dataclass(frozen=True)
class Media:
    """A resolved playback: file type for PLAYBACK_* events, duration, or None if not found."""

    path: str
    file_type: str
    duration_s: float | None  # None: file not found
    endless: bool = False


def tone_duration_s(spec: str) -> tuple[float, bool]:
    """`%(on,off,freq...)` segments summed (ms), times `loops=N`; loops=-1 means endless."""
    total_ms = 0.0
    for seg in _TONE_SEGMENT.findall(spec):
        parts = [p.strip() for p in seg.split(",")]
        try:
            on = float(parts[0]) if parts and parts[0] else 0.0
            off = float(parts[1]) if len(parts) > 1 and parts[1] else 0.0
        except ValueError:
            continue
        total_ms += on + off
    loops_match = _LOOPS.search(spec)
    loops = int(loops_match.group(1)) if loops_match else 1
    if loops < 0:
        return total_ms / 1000.0, True
    return total_ms * max(1, loops) / 1000.0, False


def resolve(path: str, sound_dirs: list[Path] | None = None) -> Media:
    """Find what `path` plays and for how long."""
    if path.startswith("tone_stream://"):
        seconds, endless = tone_duration_s(path[len("tone_stream://"):])
        return Media(path, "tone_stream", seconds, endless)
    if path.startswith("silence_stream://"):
        spec = path[len("silence_stream://"):].split(",")[0]
        try:
            ms = float(spec)
        except ValueError:
            ms = 0.0
        if ms < 0:
            return Media(path, "silence_stream", 0.0, True)
        return Media(path, "silence_stream", ms / 1000.0)
    candidates = [Path(path)]
    if not Path(path).is_absolute():
        candidates += [Path(d) / path for d in (sound_dirs or [])]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return Media(path, candidate.suffix.lstrip(".") or "file", wav_duration_s(candidate))
            except WavError:
                return Media(path, candidate.suffix.lstrip(".") or "file", None)
    return Media(path, Path(path).suffix.lstrip(".") or "file", None)
