"""EslCallControl + FlowRunner against fssim over real TCP (outbound socket, mod_json_cdr files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runtime_flows import hang_up_when, socket_dialplan, write_flow

from fs_scripts import cdr_vars
from fs_scripts.esl.frames import url_decode
from fs_scripts.esl.outbound import OutboundServer
from fssim.directory import AgentBehaviour
from ivr_flows.esl_call import SCRATCH_VAR, EslCallControl
from ivr_flows.ports import FixedExtensionQueue
from ivr_flows.runner import FlowRunner, RunResult

PIN = "246813"


@pytest.fixture
def engine(fssim_factory, tmp_path):
    """An outbound server running the kitchen-sink flow, and an fssim whose dialplan calls it."""
    flow = write_flow(tmp_path)
    results: list[RunResult] = []
    calls: list[EslCallControl] = []
    holder = {}

    def handler(session):
        call = EslCallControl(session)
        calls.append(call)
        runner = FlowRunner(flow, call, queue=FixedExtensionQueue("user/1001"), clock=holder["sim"].clock)
        results.append(runner.run())

    server = OutboundServer(handler, port=0)
    server.start()
    sim = fssim_factory(dialplan=socket_dialplan(tmp_path, server.address[1]))
    holder["sim"] = sim
    yield sim, results, calls
    server.stop(timeout_s=1)


def _cdr(sim, uuid: str) -> dict:
    """The leg's mod_json_cdr file, variables URL-decoded (mod_json_cdr encodes them)."""
    path = Path(sim.spool_dir) / f"{uuid}.cdr.json"
    cdr = json.loads(path.read_text(encoding="utf-8"))
    cdr["variables"] = {k: url_decode(v) if isinstance(v, str) else v for k, v in cdr["variables"].items()}
    return cdr


def test_full_flow_over_esl(engine):
    sim, results, calls = engine
    sim.set_agent("1001", AgentBehaviour(answer_after_s=1.0, talk_s=2.0))
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf=f"1,{PIN}#")
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    result = results[0]
    assert result.reason == "normal", result.trace
    assert result.outcome == "answered"
    assert result.path == ("welcome", "main_menu:1", "ask_pin", "mark", "route", "agents:answered", "goodbye")
    assert calls[0].uuid == uuid and calls[0].session.uuid == uuid
    text = "\n".join(map(str, result.trace))
    assert PIN not in text and "***" in text
    cdr = _cdr(sim, uuid)
    variables = cdr["variables"]
    assert variables[cdr_vars.FLOW] == "runtime_kitchen_sink"
    assert variables[cdr_vars.PATH] == "welcome>main_menu:1>ask_pin>mark>route>agents:answered>goodbye"
    assert variables[cdr_vars.OUTCOME] == "answered"
    assert variables[cdr_vars.FLOW_END] == "normal"
    assert variables["ivr_marker"] == "pin-entered"
    assert SCRATCH_VAR not in variables
    # the switch itself logs every DTMF digit in digits_dialed (see esl_call's docstring);
    # no other variable of the CDR may hold the PIN
    leaked = {k: v for k, v in variables.items() if PIN in str(v) and k != "digits_dialed"}
    assert leaked == {}


def test_caller_hangs_up_in_the_menu(engine):
    sim, results, _calls = engine
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000")
    hang_up_when(sim, uuid, "CHANNEL_EXECUTE", "play_and_get_digits")  # in the main menu
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    result = results[0]
    assert result.reason == "caller-hangup"
    assert result.outcome == "abandoned"
    assert result.node == "main_menu"
    variables = _cdr(sim, uuid)["variables"]
    assert variables[cdr_vars.OUTCOME] == "abandoned"
    assert variables[cdr_vars.FLOW_END] == "caller-hangup"
    assert variables[cdr_vars.PATH].split(">")[-1].split(":")[0] == result.node


def test_sensitive_digits_stay_out_of_digits_dialed(engine):
    sim, results, _calls = engine
    sim.set_agent("1001", AgentBehaviour(answer_after_s=0.5, talk_s=0.5))
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf=f"1,{PIN}#")
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    variables = _cdr(sim, uuid)["variables"]
    assert variables["digits_dialed"].startswith("1")  # the menu key is logged ...
    assert PIN not in variables["digits_dialed"]  # ... the PIN, keyed with sensitive_dtmf=true, is not


def test_caller_hangs_up_on_the_agent_is_answered_not_abandoned(engine):
    """Most calls end with the caller hanging up on the agent: that is an answered call."""
    sim, results, _calls = engine
    sim.set_agent("1001", AgentBehaviour(answer_after_s=0.5, talk_s=None))
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf=f"1,{PIN}#")
    hang_up_when(sim, uuid, "CHANNEL_BRIDGE")  # talking to the agent
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    result = results[0]
    assert "agents:answered" in result.path
    assert result.outcome == "answered"
    # the caller went first: the bridge ended with the hang-up, the next command found no channel
    assert any("caller hung up" in entry.result for entry in result.trace)
    variables = _cdr(sim, uuid)["variables"]
    assert variables[cdr_vars.OUTCOME] == "answered"
    assert variables.get("last_bridge_to") or variables.get("bridge_uuid")


def test_no_agent_takes_the_failure_branch(engine):
    sim, results, _calls = engine  # user/1001 is not registered: USER_NOT_REGISTERED
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf=f"1,{PIN}#")
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    result = results[0]
    assert result.path[-2:] == ("agents:failed", "goodbye")
    assert result.reason == "normal"
    assert _cdr(sim, uuid)["variables"][cdr_vars.OUTCOME] == "self-service"


def test_caller_text_cannot_add_a_header_or_expand(fssim_factory, tmp_path):
    """Whatever a flow copies from the caller into a variable goes through commands.py: a line
    break or a `${...}` is refused before a byte is sent, and the call goes on."""
    from fs_scripts.esl.errors import CommandArgumentError

    outcomes: list[object] = []

    def handler(session):
        call = EslCallControl(session)
        for value in ("Zhang\nevent-lock: false", "${system(id)}", "ok\r\n\r\nsendmsg"):
            try:
                call.set_variable("caller_note", value)
                outcomes.append("sent")
            except CommandArgumentError:
                outcomes.append("refused")
        call.set_variable("caller_note", "Zhang San, 13800138000")
        outcomes.append(call.get_variable("caller_note"))
        call.hangup()

    server = OutboundServer(handler, port=0)
    server.start()
    try:
        sim = fssim_factory(dialplan=socket_dialplan(tmp_path, server.address[1]))
        uuid = sim.place_call(destination="10086", caller_id_number="13800138000")
        sim.wait_for(lambda: len(outcomes) == 4 and uuid not in sim.channels, timeout_s=10)
    finally:
        server.stop(timeout_s=1)
    assert outcomes == ["refused", "refused", "refused", "Zhang San, 13800138000"]
    sent = b"".join(frame.raw_headers + frame.body for _cid, frame in sim.received)
    assert b"system(id)" not in sent and b"event-lock: false" not in sent


def test_a_recorded_call_is_masked_while_the_pin_is_keyed(fssim_factory, tmp_path):
    """With a recording running, the sensitive collect is wrapped in uuid_record mask/unmask."""
    from fs_scripts import recording

    flow = write_flow(tmp_path)
    results: list[RunResult] = []
    target = tmp_path / "rec" / "call.wav"
    holder = {}

    def handler(session):
        call = EslCallControl(session)
        recording.start_recording(session.api, call.uuid, target, stereo=False)
        runner = FlowRunner(flow, call, queue=FixedExtensionQueue("user/1009"), clock=holder["sim"].clock)
        results.append(runner.run())

    server = OutboundServer(handler, port=0)
    server.start()
    try:
        sim = fssim_factory(dialplan=socket_dialplan(tmp_path, server.address[1]))
        holder["sim"] = sim
        uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf=f"1,{PIN}#")
        sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    finally:
        server.stop(timeout_s=1)
    lines = [frame.raw_headers.decode() for _cid, frame in sim.received]
    mask_at = next(i for i, text in enumerate(lines) if text.startswith(f"api uuid_record {uuid} mask "))
    unmask_at = next(i for i, text in enumerate(lines) if text.startswith(f"api uuid_record {uuid} unmask "))
    pin_at = next(i for i, text in enumerate(lines) if "play_and_get_digits" in text and "enter_pin" in text)
    assert mask_at < pin_at < unmask_at
    assert results[0].path[:3] == ("welcome", "main_menu:1", "ask_pin")
