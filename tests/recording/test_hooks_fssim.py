"""The recording hooks over real TCP against fssim: uuid_record, RECORD_STOP, CDR variables, WAV files."""

from __future__ import annotations

import json
import uuid as uuid_module
import wave
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from fs_scripts import cdr_vars, recording
from fs_scripts.esl import commands
from fs_scripts.esl.errors import CommandArgumentError
from fs_scripts.esl.inbound import InboundConnection
from fs_scripts.recording_config import (
    RecordingMode,
    RecordingPolicy,
    RecordingSettings,
    TenantRecording,
)
from fssim.directory import AgentBehaviour

pytestmark = pytest.mark.timeout(60)


def _connect(sim) -> InboundConnection:
    conn = InboundConnection("127.0.0.1", sim.esl_port, "ClueCon", event_format="plain", reconnect=False,
                             command_timeout_s=5)
    conn.connect()
    conn.subscribe("BACKGROUND_JOB", "RECORD_START", "RECORD_STOP", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE")
    return conn


def bridged_call(sim, conn: InboundConnection, agent: str = "1001") -> tuple[str, str]:
    """A carrier caller parked on 5901 and an agent phone originated and bridged to it, as the
    voice queue does (originate the agent leg to &park, then uuid_bridge)."""
    sim.set_agent(agent, AgentBehaviour(answer_after_s=1.0))
    caller = sim.place_call("5901", caller_id_number="13800138000")
    sim.wait_for(lambda: sim.find(caller) is not None and sim.find(caller).answered_at is not None, 5)
    agent_uuid = str(uuid_module.uuid4())
    dial = commands.dial_string(f"user/{agent}", {"origination_uuid": agent_uuid})
    assert conn.bgapi("originate", commands.originate(dial, "&park"), timeout_s=10).startswith("+OK")
    conn.api("uuid_bridge", caller, agent_uuid)
    return caller, agent_uuid


def _cdr(sim, uuid: str) -> dict:
    sim.wait_for(lambda: (sim.spool_dir / f"{uuid}.cdr.json").is_file(), 5)
    doc = json.loads((sim.spool_dir / f"{uuid}.cdr.json").read_text())
    return {k: unquote(v) for k, v in doc["variables"].items()}


def test_recording_stopped_during_the_call_lands_in_the_cdr(fssim, tmp_path: Path) -> None:
    conn = _connect(fssim)
    caller, agent_uuid = bridged_call(fssim, conn)
    path = fssim.recordings_dir / "acme" / "2026" / "11" / "22" / f"{caller}.wav"
    stops = []
    conn.on("RECORD_STOP", lambda e: stops.append(recording.on_record_stop(e, conn.api)))
    assert recording.start_recording(conn.api, caller, path) == str(path)
    assert conn.api("uuid_getvar", caller, "RECORD_STEREO") == "true"
    assert conn.api("uuid_getvar", caller, cdr_vars.RECORDING_PATH) == str(path)
    fssim.clock.sleep(4.0)
    assert recording.stop_recording(conn.api, caller) is True  # the agent's stop button, a transfer ...
    fssim.wait_for(lambda: stops, 5)
    stopped = stops[0]
    assert stopped is not None and stopped.on_call and stopped.path == str(path)
    assert path.is_file() and stopped.size_bytes == path.stat().st_size
    assert stopped.sha256 == recording.file_sha256(path)
    with wave.open(str(path)) as wav:
        frames, rate = wav.getnframes(), wav.getframerate()
    assert abs(stopped.duration_ms - frames * 1000 // rate) <= 1 and stopped.duration_ms >= 3500
    conn.api("uuid_kill", agent_uuid)  # the agent hangs up: uuid_bridge'd partner goes too
    variables = _cdr(fssim, caller)
    assert variables[cdr_vars.RECORDING_PATH] == str(path)
    assert variables[cdr_vars.RECORDING_DURATION_MS] == str(stopped.duration_ms)
    assert variables[cdr_vars.RECORDING_SIZE] == str(path.stat().st_size)
    assert variables[cdr_vars.RECORDING_SHA256] == recording.file_sha256(path)
    assert variables["RECORD_STEREO"] == "true"
    assert recording.stop_recording(conn.api, caller, path) is False  # the call is gone
    conn.close()


def _frames(path, start_s: float, seconds: float) -> tuple[int, bytes]:
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        wav.setpos(int(rate * start_s))
        return wav.getnchannels(), wav.readframes(int(rate * seconds))


def test_the_wav_is_stereo_caller_left(fssim) -> None:
    conn = _connect(fssim)
    caller, _agent = bridged_call(fssim, conn)
    path = fssim.recordings_dir / "stereo" / f"{caller}.wav"
    recording.start_recording(conn.api, caller, path)
    fssim.clock.sleep(1.0)
    recording.stop_recording(conn.api, caller)
    fssim.wait_for(path.is_file, 5)
    channels, data = _frames(path, 0.0, 0.5)
    assert channels == 2
    left = [int.from_bytes(data[i:i + 2], "little", signed=True) for i in range(0, len(data), 4)]
    right = [int.from_bytes(data[i + 2:i + 4], "little", signed=True) for i in range(0, len(data), 4)]
    assert any(left) and any(right) and left != right  # two different sides, not one copied
    mono = fssim.recordings_dir / "mono" / f"{caller}.wav"
    conn.api("uuid_setvar", caller, "RECORD_STEREO", "false")  # stereo=False leaves the channel's choice
    recording.start_recording(conn.api, caller, mono, stereo=False)
    fssim.clock.sleep(0.5)
    recording.stop_recording(conn.api, caller, mono)
    fssim.wait_for(mono.is_file, 5)
    assert _frames(mono, 0.0, 0.1)[0] == 1
    conn.close()


def test_caller_hangs_up_first_the_path_is_still_in_the_cdr(fssim) -> None:
    """The switch writes the CDR before an ESL client can answer RECORD_STOP: the path (set at
    start) and the switch's own record_ms / record_file_size are what the CDR carries."""
    conn = _connect(fssim)
    caller, _agent = bridged_call(fssim, conn)
    path = fssim.recordings_dir / "t" / f"{caller}.wav"
    stops = []
    conn.on("RECORD_STOP", lambda e: stops.append(recording.on_record_stop(e, conn.api)))
    recording.start_recording(conn.api, caller, path)
    fssim.clock.sleep(2.0)
    conn.api("uuid_kill", caller)
    fssim.wait_for(lambda: stops, 5)
    variables = _cdr(fssim, caller)
    assert variables[cdr_vars.RECORDING_PATH] == str(path)
    assert int(variables["record_ms"]) >= 1500 and int(variables["record_file_size"]) == path.stat().st_size
    assert stops[0].path == str(path) and stops[0].sha256 == recording.file_sha256(path)
    conn.close()


def test_mask_and_unmask_reach_the_running_recording(fssim) -> None:
    conn = _connect(fssim)
    caller, _agent = bridged_call(fssim, conn)
    assert recording.mask(conn.api, caller) is False  # nothing recording yet: nothing to mask
    path = fssim.recordings_dir / "m" / f"{caller}.wav"
    recording.start_recording(conn.api, caller, path)
    assert recording.mask(conn.api, caller) is True
    assert recording.unmask(conn.api, caller) is True
    assert recording.mask(conn.api, caller, fssim.recordings_dir / "other.wav") is False  # not that file
    recording.stop_recording(conn.api, caller)
    conn.close()


def test_masked_span_is_silent_and_the_rest_is_not(fssim) -> None:
    conn = _connect(fssim)
    caller, _agent = bridged_call(fssim, conn)
    path = fssim.recordings_dir / "silence" / f"{caller}.wav"
    now = fssim.clock.now
    start_a = now()
    recording.start_recording(conn.api, caller, path)
    start_b = now()
    fssim.clock.sleep(1.5)
    mask_a = now()
    assert recording.mask(conn.api, caller)  # a sensitive collect node starts: card digits
    mask_b = now()
    fssim.clock.sleep(3.0)
    unmask_a = now()
    assert recording.unmask(conn.api, caller)
    unmask_b = now()
    fssim.clock.sleep(1.5)
    stop_a = now()
    recording.stop_recording(conn.api, caller)
    fssim.wait_for(path.is_file, 5)
    # each command took effect somewhere between the clock readings around it (the fast clock
    # runs on while a loaded machine schedules us): judge only the spans that are certain
    silent_from, silent_to = mask_b - start_a, unmask_a - start_b
    assert silent_to - silent_from > 0.5, "machine too slow for this test's clock"
    assert not any(_frames(path, silent_from, silent_to - silent_from)[1])
    assert any(_frames(path, 0.0, max(0.05, mask_a - start_b))[1])
    assert any(_frames(path, unmask_b - start_a, max(0.05, stop_a - unmask_b - (start_b - start_a)))[1])
    conn.close()


def test_hostile_uuid_and_path_never_reach_the_wire(fssim) -> None:
    conn = _connect(fssim)
    caller, _agent = bridged_call(fssim, conn)
    for bad_path in ("/tmp/a b.wav", "/tmp/x.wav\napi hupall", "/tmp/${base_dir}.wav", "/tmp/a;b=c.wav"):
        with pytest.raises(CommandArgumentError):
            recording.start_recording(conn.api, caller, bad_path, make_dirs=False)
    for bad_uuid in (f"{caller} stop all", "x\ny", "", "../x"):
        with pytest.raises(CommandArgumentError):
            recording.start_recording(conn.api, bad_uuid, "/tmp/y.wav", make_dirs=False)
    assert fssim.find(caller) is not None and not fssim.find(caller).recordings
    with pytest.raises(recording.RecordingError):
        recording.start_recording(conn.api, str(uuid_module.uuid4()), fssim.recordings_dir / "n.wav")
    conn.close()


def test_bridge_recorder_follows_the_policy(fssim) -> None:
    conn = _connect(fssim)
    settings = RecordingSettings(tenants={"acme": TenantRecording(
        default=RecordingPolicy(RecordingMode.ALWAYS),
        queues={"vip": RecordingPolicy(RecordingMode.ON_DEMAND), "pay": RecordingPolicy(RecordingMode.NEVER)})})
    recorder = recording.BridgeRecorder(settings, fssim.recordings_dir, conn.api, fssim.clock,
                                        timezones={"acme": "Asia/Shanghai"})
    decisions = {}
    for queue in ("billing", "vip", "pay"):
        caller, agent_uuid = bridged_call(fssim, conn)
        decisions[queue] = (caller, recorder(caller, agent_uuid, SimpleNamespace(tenant="acme", queue=queue)))
    caller, decision = decisions["billing"]
    assert decision.record_at_bridge and list(fssim.find(caller).recordings)[0].startswith(
        str(fssim.recordings_dir.resolve() / "acme"))
    caller, decision = decisions["vip"]
    assert decision.on_demand and not fssim.find(caller).recordings
    started = recorder.start_on_demand(caller)
    assert started and started.endswith(f"{caller}.wav") and list(fssim.find(caller).recordings) == [started]
    assert recorder.start_on_demand(caller) is None  # once
    caller, decision = decisions["pay"]
    assert decision.reason == "never" and not fssim.find(caller).recordings
    assert recorder.start_on_demand(caller) is None
    conn.close()


def test_bridge_recorder_names_the_agent_and_announces(fssim) -> None:
    conn = _connect(fssim)
    settings = RecordingSettings(
        path_template="{tenant}/{agent}/{yyyy}{mm}{dd}/{uuid}.wav",
        tenants={"acme": TenantRecording(
            default=RecordingPolicy(RecordingMode.SAMPLED, 100.0, consent_prompt="ivr/recorded.wav"),
            queues={"pay": RecordingPolicy(RecordingMode.NEVER, consent_prompt="ivr/recorded.wav")})})
    recorder = recording.BridgeRecorder(settings, fssim.recordings_dir, conn.api, fssim.clock, seed="x")
    assert recorder.announcement("acme", "billing") == "ivr/recorded.wav"
    assert recorder.announcement("acme", "pay") == ""
    caller, agent_uuid = bridged_call(fssim, conn)
    conn.api("uuid_setvar", caller, cdr_vars.AGENT, "../1001 x")  # as the voice queue sets it; hostile here
    decision = recorder(caller, agent_uuid, SimpleNamespace(tenant="acme", queue="billing"))
    assert decision.record_at_bridge and decision.reason == "sampled-in" and decision.consent_prompt
    started = list(fssim.find(caller).recordings)[0]
    assert started.startswith(str(fssim.recordings_dir.resolve() / "acme" / "_1001_x")) and started.endswith(
        f"/{caller}.wav")
    conn.close()
