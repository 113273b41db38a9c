"""`fscc prompts build`: 8 kHz mono 16-bit WAVs, tone fallback, espeak-ng path, rebuild rules."""

from __future__ import annotations

import math
import os
import stat
import sys
import wave
from array import array
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr_flows.loader import load_prompt_set
from ivr_flows.prompts import (
    PromptBuildError,
    build_prompts,
    prompts,
    read_wav,
    resample,
    tone_samples,
)


def wav_info(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def zero_crossings(samples) -> int:
    return sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FSCC_CONFIG", raising=False)
    return tmp_path


def test_build_with_tones_writes_every_prompt_of_the_packaged_set(in_tmp):
    result = CliRunner().invoke(prompts, ["build", "--engine", "tone", "-o", "out"])
    assert result.exit_code == 0, result.output
    prompt_set = load_prompt_set()
    count = sum(len(texts) for texts in prompt_set.values())
    assert result.output == f"{count} built, 0 unchanged (tone) in out\n"
    for name, texts in prompt_set.items():
        for lang in texts:
            path = in_tmp / "out" / lang / f"{name}.wav"
            assert wav_info(path) == (8000, 1, 2, 3200)
    main = read_wav(in_tmp / "out" / "zh" / "main_menu.wav")[0]
    bye = read_wav(in_tmp / "out" / "zh" / "goodbye.wav")[0]
    assert max(main) > 10000 and abs(main[0]) < 100 and abs(main[-1]) < 1000  # audible, faded in and out
    assert zero_crossings(main) != zero_crossings(bye)  # two prompts do not sound alike
    again = CliRunner().invoke(prompts, ["build", "--engine", "tone", "-o", "out"])
    assert again.output == f"0 built, {count} unchanged (tone) in out\n"
    forced = CliRunner().invoke(prompts, ["build", "--engine", "tone", "-o", "out", "--force", "--lang", "en"])
    assert forced.output == f"{len([1 for t in prompt_set.values() if 'en' in t])} built, 0 unchanged (tone) in out\n"


def test_default_output_is_data_dir_prompts_and_a_changed_text_is_rebuilt(in_tmp):
    (in_tmp / "p.yaml").write_text("hello: {en: Hello}\nbye: {en: Bye, zh: 再见}\n", encoding="utf-8")
    (in_tmp / "fscc.yaml").write_text(f"data_dir: {in_tmp / 'data'}\nivr:\n  prompts_file: {in_tmp / 'p.yaml'}\n",
                                      encoding="utf-8")
    result = CliRunner().invoke(prompts, ["build", "--engine", "tone"])
    assert result.exit_code == 0, result.output
    assert result.output == f"3 built, 0 unchanged (tone) in {in_tmp / 'data' / 'prompts'}\n"
    (in_tmp / "p.yaml").write_text("hello: {en: Hello there}\nbye: {en: Bye, zh: 再见}\n", encoding="utf-8")
    report = build_prompts(load_prompt_set(in_tmp / "p.yaml"), in_tmp / "data" / "prompts", engine="tone")
    assert report.built == [in_tmp / "data" / "prompts" / "en" / "hello.wav"] and len(report.unchanged) == 2


FAKE_ESPEAK = r'''#!{python}
"""Stand-in for espeak-ng: writes a 22.05 kHz 300 Hz sine as long as the text, as espeak does."""
import math, sys, wave
args = sys.argv[1:]
text = sys.stdin.buffer.read().decode("utf-8")
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(repr(args) + "\t" + text + "\n")
out = args[args.index("-w") + 1]
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    n = 2205 * len(text)
    w.writeframes(b"".join(int(8000 * math.sin(2 * math.pi * 300 * i / 22050)).to_bytes(2, "little", signed=True)
                           for i in range(n)))
'''


def test_espeak_ng_when_installed_text_on_stdin_and_resampled_to_8khz(in_tmp, monkeypatch):
    bindir = in_tmp / "bin"
    bindir.mkdir()
    log = in_tmp / "espeak.log"
    fake = bindir / "espeak-ng"
    fake.write_text(FAKE_ESPEAK.format(python=sys.executable, log=str(log)), encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    prompt_set = {"welcome": {"zh": "欢迎致电", "en": "--help; rm -rf /"}}
    report = build_prompts(prompt_set, in_tmp / "out")
    assert report.engine == "espeak-ng" and len(report.built) == 2
    calls = sorted(log.read_text(encoding="utf-8").splitlines())
    assert calls[0].startswith("['-v', 'cmn', '-w', ") and calls[0].endswith("'--stdin']\t欢迎致电")
    assert calls[1].startswith("['-v', 'en-us', '-w', ") and calls[1].endswith("'--stdin']\t--help; rm -rf /")
    rate, channels, width, frames = wav_info(in_tmp / "out" / "zh" / "welcome.wav")
    assert (rate, channels, width) == (8000, 1, 2)
    assert frames == int(2205 * 4 * 8000 / 22050)  # same duration: 0.4 s
    samples = read_wav(in_tmp / "out" / "zh" / "welcome.wav")[0]
    # 300 Hz for 0.4 s: 240 zero crossings, whatever the sample rate
    assert abs(zero_crossings(samples) - 240) <= 4


def test_espeak_engine_requested_but_missing(in_tmp, monkeypatch):
    monkeypatch.setenv("PATH", str(in_tmp))
    with pytest.raises(PromptBuildError, match="espeak-ng is not installed"):
        build_prompts({"a": {"en": "a"}}, in_tmp / "out", engine="espeak")


def test_resample_keeps_the_voice_band_and_removes_what_8khz_cannot_hold():
    def sine(freq, rate, seconds=0.5):
        return array("h", (int(10000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(rate * seconds))))

    low = resample(sine(1000, 22050), 22050)
    assert len(low) == 4000 and abs(zero_crossings(low) - 1000) <= 4 and max(low[100:-100]) > 9000
    high = resample(sine(6000, 22050), 22050)  # above the 4 kHz Nyquist of telephony: must not alias to 2 kHz
    assert max(abs(s) for s in high[100:-100]) < 1500
    assert resample(array("h", [1, 2, 3]), 8000) == array("h", [1, 2, 3])


def test_tone_length_and_range():
    tone = tone_samples("x", 8000, 250)
    assert len(tone) == 2000 and -32768 <= min(tone) and max(tone) <= 32767
