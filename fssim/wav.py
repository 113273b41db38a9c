"""Real WAV files: read a prompt's duration from its header, write a recording.

Why a real file: recording tests and the CRM sync check that `record_session` produced a
playable WAV whose size and duration match `record_ms` / `record_samples`; an empty file
would hide bugs. The written audio is a quiet 440 Hz tone so a human listening hears that
something was recorded, at 8 kHz 16-bit mono like the switch's L16 default.
"""

from __future__ import annotations

import math
import os
import struct
import wave
from pathlib import Path


class WavError(ValueError):
    """A file that is not a readable PCM WAV (names the path)."""


def wav_duration_s(path: str | Path) -> float:
    """Duration from the header (frames / rate); raises WavError naming the file."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return wav.getnframes() / float(rate) if rate else 0.0
    except (wave.Error, EOFError, struct.error) as exc:
        raise WavError(f"{path}: not a PCM WAV file: {exc}") from exc


def tone_samples(n_samples: int, rate: int = 8000, freq_hz: float = 440.0, amplitude: int = 3000) -> bytes:
    """n_samples of 16-bit little-endian mono sine."""
    step = 2 * math.pi * freq_hz / rate
    return b"".join(struct.pack("<h", int(amplitude * math.sin(step * i))) for i in range(n_samples))


def write_wav(path: str | Path, duration_s: float, rate: int = 8000, freq_hz: float = 440.0, *,
              channels: int = 1, silent_spans: tuple[tuple[float, float], ...] = ()) -> tuple[int, int]:
    """Write a 16-bit WAV of `duration_s` atomically. Returns (samples per channel, file size).

    `channels=2` is the switch's RECORD_STEREO layout (caller left, far end right: here the
    same tone, the right a fifth higher so the two are told apart); `silent_spans` are
    (start_s, end_s) offsets written as digital silence (a masked stretch: uuid_record mask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = max(0, int(round(duration_s * rate)))
    left = tone_samples(rate, rate, freq_hz)  # one second, repeated
    period = left
    if channels == 2:
        right = tone_samples(rate, rate, freq_hz * 1.5)
        period = b"".join(left[i:i + 2] + right[i:i + 2] for i in range(0, len(left), 2))
    frame_bytes = 2 * channels
    silent = sorted((max(0, int(a * rate)), min(samples, int(b * rate))) for a, b in silent_spans if b > a)
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        position = 0
        while position < samples:
            chunk = min(samples - position, rate - position % rate)
            span = next(((a, b) for a, b in silent if a <= position < b), None)
            if span is not None:
                chunk = min(chunk, span[1] - position)
                wav.writeframes(bytes(chunk * frame_bytes))
            else:
                upcoming = [a for a, _ in silent if a > position]
                if upcoming:
                    chunk = min(chunk, upcoming[0] - position)
                offset = (position % rate) * frame_bytes
                wav.writeframes(period[offset: offset + chunk * frame_bytes])
            position += chunk
    os.replace(tmp, path)
    return samples, path.stat().st_size
