"""ModPythonCallControl + FlowRunner through the mod_python3 stand-in, against fssim over TCP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gevent
from runtime_flows import hang_up_when, park_dialplan, write_flow

from fs_scripts import cdr_vars, modpython
from fs_scripts.esl.frames import url_decode
from fs_scripts.settings import Settings
from fssim.directory import AgentBehaviour
from fssim.modpython_standin import SCRATCH_VAR, Session
from ivr_flows.config import IvrSettings
from ivr_flows.ports import FixedExtensionQueue

PIN = "975310"
ROOT = Path(__file__).resolve().parents[2]


def test_modpython_imports_no_gevent():
    """mod_python3 runs the flow in a switch thread: nothing on its path may pull gevent in."""
    code = (
        "import sys\n"
        "import fs_scripts.modpython\n"
        "import ivr_flows.runner, ivr_flows.loader, ivr_flows.interpreter\n"
        "import fs_scripts.settings, fs_scripts.embedded, crm_sync.directory, crm_sync.models\n"
        "bad = sorted(m for m in sys.modules if m == 'gevent' or m.startswith('gevent.'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _cdr(sim, uuid: str) -> dict[str, str]:
    path = Path(sim.spool_dir) / f"{uuid}.cdr.json"
    variables = json.loads(path.read_text(encoding="utf-8"))["variables"]
    return {k: url_decode(v) if isinstance(v, str) else v for k, v in variables.items()}


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", ivr=IvrSettings(flows_dir=str(tmp_path)))


def test_full_flow_through_the_standin(fssim_factory, tmp_path):
    write_flow(tmp_path)
    sim = fssim_factory(dialplan=park_dialplan(tmp_path))
    sim.set_agent("1001", AgentBehaviour(answer_after_s=1.0, talk_s=2.0))
    uuid = sim.place_call(destination="10086", caller_id_number="13900139000", dtmf=f"1,{PIN}#")
    session = Session(uuid, "127.0.0.1", sim.esl_port)
    try:
        result = modpython.run_call(session, "runtime_kitchen_sink", settings=_settings(tmp_path),
                                    queue=FixedExtensionQueue("user/1001"), clock=sim.clock)
    finally:
        session.destroy()
    assert result.reason == "normal", [str(t) for t in result.trace]
    assert result.outcome == "answered"
    assert result.path == ("welcome", "main_menu:1", "ask_pin", "mark", "route", "agents:answered", "goodbye")
    assert PIN not in "\n".join(map(str, result.trace))
    sim.wait_for(lambda: (Path(sim.spool_dir) / f"{uuid}.cdr.json").exists(), timeout_s=10)
    variables = _cdr(sim, uuid)
    assert variables[cdr_vars.FLOW] == "runtime_kitchen_sink"
    assert variables[cdr_vars.PATH] == "welcome>main_menu:1>ask_pin>mark>route>agents:answered>goodbye"
    assert variables[cdr_vars.OUTCOME] == "answered"
    assert variables[cdr_vars.FLOW_END] == "normal"
    assert variables["ivr_marker"] == "pin-entered"
    assert SCRATCH_VAR not in variables
    assert {k: v for k, v in variables.items() if PIN in str(v) and k != "digits_dialed"} == {}


def test_caller_hangs_up_midway_through_the_standin(fssim_factory, tmp_path):
    write_flow(tmp_path)
    sim = fssim_factory(dialplan=park_dialplan(tmp_path))
    uuid = sim.place_call(destination="10086", caller_id_number="13900139000")
    gevent.spawn(hang_up_when, sim, uuid, "CHANNEL_EXECUTE", "play_and_get_digits")  # in the main menu
    session = Session(uuid, "127.0.0.1", sim.esl_port)
    try:
        result = modpython.run_call(session, "runtime_kitchen_sink", settings=_settings(tmp_path),
                                    queue=FixedExtensionQueue("user/1001"), clock=sim.clock)
    finally:
        session.destroy()
    assert result.reason == "caller-hangup"
    assert result.outcome == "abandoned"
    assert result.node == "main_menu"
    sim.wait_for(lambda: (Path(sim.spool_dir) / f"{uuid}.cdr.json").exists(), timeout_s=10)
    variables = _cdr(sim, uuid)
    assert variables[cdr_vars.FLOW_END] == "caller-hangup"
    assert variables[cdr_vars.OUTCOME] == "abandoned"
    assert variables[cdr_vars.PATH].split(">")[-1].split(":")[0] == result.node


def test_handler_entry_point_reads_fscc_yaml(fssim_factory, tmp_path, monkeypatch):
    """`handler(session, args)` as mod_python3 calls it: settings from FSCC_CONFIG, the flow by name,
    the queue node bridged to ivr.queue_extension."""
    write_flow(tmp_path)
    config = tmp_path / "fscc.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nivr:\n  flows_dir: {tmp_path}\n  queue_extension: user/1002\n",
                      encoding="utf-8")
    for key in [k for k in os.environ if k.startswith("FSCC_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("FSCC_CONFIG", str(config))
    sim = fssim_factory(dialplan=park_dialplan(tmp_path))
    sim.set_agent("1002", AgentBehaviour(answer_after_s=0.5, talk_s=1.0))
    uuid = sim.place_call(destination="10086", caller_id_number="13900139000", dtmf="1,4321#")
    session = Session(uuid, "127.0.0.1", sim.esl_port)
    try:
        modpython.handler(session, "runtime_kitchen_sink")
    finally:
        session.destroy()
    sim.wait_for(lambda: (Path(sim.spool_dir) / f"{uuid}.cdr.json").exists(), timeout_s=10)
    variables = _cdr(sim, uuid)
    assert variables[cdr_vars.PATH].endswith("agents:answered>goodbye")
    assert variables[cdr_vars.OUTCOME] == "answered"
