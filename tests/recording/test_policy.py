"""Recording policy and paths: pure functions, no I/O."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fs_scripts.recording import (
    RecordingPathError,
    call_rng,
    check_template,
    decide,
    local_time,
    recording_path,
    safe_component,
)
from fs_scripts.recording_config import (
    RecordingMode,
    RecordingPolicy,
    RecordingSettings,
    TenantRecording,
)
from fs_scripts.settings import load_settings

WHEN = datetime(2026, 11, 22, 13, 19, 40, tzinfo=timezone.utc)
UUID = "c4f2f6d3-8d94-467e-aa71-1bf451874cb5"


def test_always_never_on_demand() -> None:
    rng = random.Random(1)
    always = decide(RecordingPolicy(RecordingMode.ALWAYS, consent_prompt="ivr/recorded.wav"), rng)
    assert (always.record_at_bridge, always.on_demand, always.consent_prompt, always.reason) == \
        (True, False, "ivr/recorded.wav", "always")
    never = decide(RecordingPolicy(RecordingMode.NEVER, consent_prompt="ivr/recorded.wav"), rng)
    assert (never.record_at_bridge, never.on_demand, never.consent_prompt) == (False, False, "")
    demand = decide(RecordingPolicy(RecordingMode.ON_DEMAND, consent_prompt="p.wav"), rng)
    assert (demand.record_at_bridge, demand.on_demand, demand.consent_prompt, demand.reason) == \
        (False, True, "p.wav", "on-demand")


def test_sampling_follows_the_percentage_and_the_seed() -> None:
    policy = RecordingPolicy(RecordingMode.SAMPLED, sample_percent=20.0)
    rng = random.Random(42)
    picks = [decide(policy, rng).record_at_bridge for _ in range(10_000)]
    assert 1800 <= sum(picks) <= 2200
    again = random.Random(42)
    assert [decide(policy, again).record_at_bridge for _ in range(10_000)] == picks
    assert not any(decide(RecordingPolicy(RecordingMode.SAMPLED, sample_percent=0.0), rng).record_at_bridge
                   for _ in range(500))
    assert all(decide(RecordingPolicy(RecordingMode.SAMPLED, sample_percent=100.0), rng).record_at_bridge
               for _ in range(500))
    # the same call with the same seed samples the same way on any node, any run
    first = decide(policy, call_rng("s1", UUID))
    assert all(decide(policy, call_rng("s1", UUID)) == first for _ in range(5))
    out = decide(RecordingPolicy(RecordingMode.SAMPLED, sample_percent=0.0, consent_prompt="p.wav"), rng)
    assert (out.reason, out.consent_prompt) == ("sampled-out", "")


def test_policy_by_tenant_and_queue() -> None:
    settings = RecordingSettings(
        default=TenantRecording(default=RecordingPolicy(RecordingMode.ALWAYS)),
        tenants={"acme": TenantRecording(default=RecordingPolicy(RecordingMode.SAMPLED, 10.0),
                                         queues={"payments": RecordingPolicy(RecordingMode.NEVER)},
                                         retention_days=365)},
    )
    assert settings.policy("acme", "payments").mode is RecordingMode.NEVER
    assert settings.policy("acme", "billing").mode is RecordingMode.SAMPLED
    assert settings.policy("acme").mode is RecordingMode.SAMPLED
    assert settings.policy("other", "payments").mode is RecordingMode.ALWAYS
    assert settings.tenant("acme").retention_days == 365 and settings.tenant("x").retention_days == 90


def test_settings_from_yaml_with_line_numbered_errors(tmp_path) -> None:
    good = tmp_path / "fscc.yaml"
    good.write_text(
        "recording:\n"
        "  tenants:\n"
        "    acme:\n"
        "      default: {mode: sampled, sample_percent: 25, consent_prompt: ivr/recorded.wav}\n"
        "      queues:\n"
        "        vip: {mode: on-demand}\n"
        "      retention_days: 30\n", encoding="utf-8")
    rec = load_settings(good, environ={}).recording
    assert rec.policy("acme", "vip").mode is RecordingMode.ON_DEMAND
    assert rec.policy("acme").sample_percent == 25 and rec.tenant("acme").retention_days == 30
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "recording:\n"
        "  path_template: '../{uuid}.wav'\n"
        "  default:\n"
        "    default: {mode: sometimes, sample_percent: 120}\n", encoding="utf-8")
    from fs_scripts.errors import SettingsError

    with pytest.raises(SettingsError) as info:
        load_settings(bad, environ={})
    text = str(info.value)
    assert "line 2" in text and "recording.path_template" in text
    assert "sometimes" in text and "sample_percent" in text


def test_path_from_template() -> None:
    assert recording_path("{tenant}/{yyyy}/{mm}/{dd}/{uuid}.wav", tenant="acme", call_uuid=UUID, when=WHEN) == \
        f"acme/2026/11/22/{UUID}.wav"
    assert recording_path("{tenant}/{queue}/{agent}/{yyyy}{mm}{dd}-{hh}-{uuid}.wav", tenant="t", queue="vip",
                          agent="1001", call_uuid=UUID, when=WHEN) == f"t/vip/1001/20261122-13-{UUID}.wav"
    # the tenant's day, not UTC's: 23:30 UTC is already the next day in Shanghai
    late = local_time(datetime(2026, 11, 22, 23, 30, tzinfo=timezone.utc).timestamp(), "Asia/Shanghai")
    assert recording_path("{tenant}/{yyyy}/{mm}/{dd}/{uuid}.wav", tenant="a", call_uuid=UUID, when=late) == \
        f"a/2026/11/23/{UUID}.wav"


@pytest.mark.parametrize("template", [
    "/abs/{uuid}.wav", "../{uuid}.wav", "{tenant}/../{uuid}.wav", "{tenant}/{uuid}.mp3", "{tenant}/x.wav",
    "{tenant.__class__}/{uuid}.wav", "{tenant!r}/{uuid}.wav", "{tenant:>10}/{uuid}.wav", "{secret}/{uuid}.wav",
    "a b/{uuid}.wav", "${base_dir}/{uuid}.wav", "a\\b/{uuid}.wav", "{tenant/{uuid}.wav", "./{uuid}.wav", "",
])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(RecordingPathError):
        check_template(template)


@pytest.mark.parametrize("hostile", ["..", ".", "../../etc", "/etc/passwd", "a b", "x\ny", "${uuid}", "a;b", "", "é"])
def test_hostile_components_stay_inside(hostile: str) -> None:
    path = recording_path("{tenant}/{queue}/{uuid}.wav", tenant=hostile, queue=hostile, call_uuid=hostile, when=WHEN)
    parts = path.split("/")
    assert len(parts) == 3 and all(p and not p.startswith(".") for p in parts)
    assert all(c.isalnum() and c.isascii() or c in "._-" for c in path.replace("/", ""))


@given(st.text(max_size=200))
def test_any_component_is_one_safe_segment(value: str) -> None:
    out = safe_component(value)
    assert out and "/" not in out and not out.startswith(".") and len(out) <= 64
    assert all((c.isascii() and c.isalnum()) or c in "._-" for c in out)
