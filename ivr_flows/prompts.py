"""`fscc prompts build`: every prompt of the prompt set as an 8 kHz mono 16-bit WAV.

Flows play prompts by name; the runner plays `<prompts_dir>/<language>/<name>.wav`. This
command makes those files from the texts in the prompt set (`ivr_flows/templates/prompts/
prompts.yaml`, or `ivr.prompts_file`), so a fresh switch has something to play for every
prompt before a studio recording replaces it:

- with espeak-ng installed (Debian package `espeak-ng`), the text is spoken; espeak writes
  22.05 kHz, which is low-passed and resampled here to the 8 kHz telephony rate (numpy,
  already installed with matplotlib);
- without it, a short tone whose pitch is derived from the prompt name (so two prompts
  sound different), written with the standard `wave` module.

A manifest beside the files (`.built.json`) records what each file was made from, so a
rebuild only redoes prompts whose text or engine changed. Files are replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import wave
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import click

from ivr_flows.errors import FlowError

logger = logging.getLogger(__name__)

RATE_HZ = 8000
TONE_MS = 400
MANIFEST = ".built.json"
#: prompt-set language -> espeak-ng voice
VOICES = {"zh": "cmn", "en": "en-us", "yue": "yue"}


class PromptBuildError(FlowError):
    code = "prompts-build"


@dataclass
class BuildReport:
    engine: str
    out_dir: Path
    built: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def tone_samples(name: str, rate_hz: int = RATE_HZ, duration_ms: int = TONE_MS) -> array:
    """A sine between 400 and 1000 Hz chosen by the name, with 20 ms fades (no clicks)."""
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    freq = 400 + digest % 600
    count = rate_hz * duration_ms // 1000
    fade = rate_hz // 50
    out = array("h")
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        out.append(int(12000 * envelope * math.sin(2 * math.pi * freq * i / rate_hz)))
    return out


def resample(samples: array, from_hz: int, to_hz: int = RATE_HZ) -> array:
    """Windowed-sinc low-pass at the new Nyquist, then linear interpolation onto the new grid."""
    import numpy as np

    if from_hz == to_hz:
        return array("h", samples)
    x = np.asarray(samples, dtype=np.float64)
    if to_hz < from_hz:
        cutoff = 0.45 * to_hz / from_hz  # a little under Nyquist, in cycles per input sample
        taps = np.arange(-32, 33)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
        x = np.convolve(x, kernel / kernel.sum(), mode="same")
    count = int(len(x) * to_hz / from_hz)
    y = np.interp(np.arange(count) * from_hz / to_hz, np.arange(len(x)), x)
    return array("h", np.clip(np.round(y), -32768, 32767).astype(np.int16).tolist())


def read_wav(path: Path) -> tuple[array, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise PromptBuildError(f"{path}: expected 16-bit samples, got {8 * w.getsampwidth()}-bit")
        frames = array("h", w.readframes(w.getnframes()))
        channels, rate = w.getnchannels(), w.getframerate()
    if channels > 1:  # keep the first channel
        frames = frames[::channels]
    return frames, rate


def write_wav(path: Path, samples: array, rate_hz: int = RATE_HZ) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".wav")
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate_hz)
            w.writeframes(samples.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def espeak_samples(text: str, language: str, binary: str) -> array:
    """Speak `text` with espeak-ng (text on stdin: never parsed as options) at 8 kHz."""
    voice = VOICES.get(language, language)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        proc = subprocess.run([binary, "-v", voice, "-w", str(out), "--stdin"], input=text.encode("utf-8"),
                              capture_output=True, timeout=60, check=False)
        if proc.returncode != 0 or not out.exists():
            raise PromptBuildError(f"espeak-ng -v {voice} failed: {proc.stderr.decode(errors='replace').strip()}")
        samples, rate = read_wav(out)
    return resample(samples, rate, RATE_HZ)


def build_prompts(prompt_set: dict[str, dict[str, str]], out_dir: Path, *, engine: str = "auto",
                  languages: tuple[str, ...] = (), force: bool = False) -> BuildReport:
    """Write `<out_dir>/<language>/<name>.wav` for every prompt text."""
    binary = espeak_binary() if engine in ("auto", "espeak") else None
    if engine == "espeak" and binary is None:
        raise PromptBuildError("espeak-ng is not installed (Debian: apt install espeak-ng)")
    used = "espeak-ng" if binary else "tone"
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    report = BuildReport(used, out_dir)
    for name, texts in sorted(prompt_set.items()):
        for language, text in sorted(texts.items()):
            if languages and language not in languages:
                continue
            target = out_dir / language / f"{name}.wav"
            key = f"{language}/{name}"
            fingerprint = hashlib.sha256(f"{used}\0{RATE_HZ}\0{text}".encode()).hexdigest()
            if not force and manifest.get(key) == fingerprint and target.exists():
                report.unchanged.append(target)
                continue
            samples = espeak_samples(text, language, binary) if binary else tone_samples(name)
            write_wav(target, samples)
            manifest[key] = fingerprint
            report.built.append(target)
            logger.info("prompt %s (%s) -> %s", name, used, target)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return report


@click.group("prompts")
def prompts() -> None:
    """IVR prompts: the audio files flows play."""


@prompts.command("build")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="fscc.yaml to read (ivr.prompts_file, ivr.prompts_dir, data_dir).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory. Default: ivr.prompts_dir, else <data_dir>/prompts.")
@click.option("--engine", type=click.Choice(["auto", "espeak", "tone"]), default="auto", show_default=True,
              help="auto: espeak-ng when installed, else a short tone.")
@click.option("--lang", "languages", multiple=True, help="Only these languages (repeatable).")
@click.option("--force", is_flag=True, help="Rebuild even the files that are up to date.")
def build_command(config_path: Path | None, out_dir: Path | None, engine: str, languages: tuple[str, ...],
                  force: bool) -> None:
    """Render each prompt's text to an 8 kHz mono 16-bit WAV: <out>/<language>/<name>.wav."""
    from fs_scripts.settings import load_settings
    from ivr_flows.loader import load_prompt_set

    settings = load_settings(config_path)
    prompt_set = load_prompt_set(Path(settings.ivr.prompts_file) if settings.ivr.prompts_file else None)
    target = out_dir or Path(settings.ivr.prompts_dir or Path(settings.data_dir) / "prompts")
    report = build_prompts(prompt_set, target, engine=engine, languages=languages, force=force)
    click.echo(f"{len(report.built)} built, {len(report.unchanged)} unchanged ({report.engine}) in {report.out_dir}")
