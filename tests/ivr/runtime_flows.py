"""Flows and dialplans shared by the runtime tests (runner, ESL and mod_python3 adapters)."""

from __future__ import annotations

from pathlib import Path

from ivr_flows.loader import load_flow
from ivr_flows.schema import Flow

#: play / menu / collect (sensitive) / set / branch / queue / hangup, in one flow
KITCHEN_SINK = """\
flow: runtime_kitchen_sink
tenant: default
language: en
start: welcome
nodes:
  welcome:
    type: play
    play: [vip_welcome, {tone: "%(100,0,440)"}, {silence_ms: 50}]
    next: main_menu
  main_menu:
    type: menu
    prompt: main_menu
    options: {"1": ask_pin, "2": goodbye}
    timeout_s: 5  # longer than the hang-up tests' 4 s: their caller leaves in the first wait
    tries: 2
    on_timeout: goodbye
  ask_pin:
    type: collect
    prompt: enter_pin
    into: pin
    min_digits: 4
    max_digits: 6
    terminator: "#"
    tries: 2
    timeout_s: 3
    sensitive: true
    next: mark
    on_failure: goodbye
  mark:
    type: set
    vars: {checked: "yes"}
    channel: {ivr_marker: "pin-entered"}
    next: route
  route:
    type: branch
    cases:
      - if: vars.checked == "yes"
        next: agents
    else: goodbye
  agents:
    type: queue
    queue: support
    max_wait_s: 30
    answered: goodbye
    on_failed: goodbye
  goodbye:
    type: hangup
"""


def write_flow(directory: Path, text: str = KITCHEN_SINK, name: str = "runtime_kitchen_sink.yaml.j2") -> Flow:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return load_flow(path)


def socket_dialplan(directory: Path, port: int, destination: str = "10086") -> Path:
    """public -> default -> `socket` to the engine; agents as `user/NNNN` extensions."""
    path = directory / "dialplan.xml"
    path.write_text(f"""<include>
  <context name="public">
    <extension name="to_engine">
      <condition field="destination_number" expression="^{destination}$">
        <action application="socket" data="127.0.0.1:{port} async full"/>
      </condition>
    </extension>
  </context>
</include>
""", encoding="utf-8")
    return path


def park_dialplan(directory: Path, destination: str = "10086") -> Path:
    """What mod_python3 tests need: the call sits in the switch while the stand-in drives it."""
    path = directory / "dialplan_park.xml"
    path.write_text(f"""<include>
  <context name="public">
    <extension name="to_python">
      <condition field="destination_number" expression="^{destination}$">
        <action application="park"/>
      </condition>
    </extension>
  </context>
</include>
""", encoding="utf-8")
    return path


def hang_up_when(sim, uuid: str, event_name: str, application: str | None = None, timeout_s: float = 20) -> None:
    """The caller hangs up (`uuid_kill` over an inbound ESL connection) as soon as the channel
    fires `event_name` (for CHANNEL_EXECUTE: of `application`): driven by what the call does,
    not by a clock that a loaded machine would outrun."""
    from fs_scripts.esl.inbound import InboundConnection

    def seen() -> bool:
        return any(e.name == event_name and e.unique_id == uuid
                   and (application is None or e.get("Application") == application) for e in sim.events)

    sim.wait_for(seen, timeout_s=timeout_s)
    conn = InboundConnection("127.0.0.1", sim.esl_port, sim.password, reconnect=False)
    conn.connect()
    try:
        conn.api("uuid_kill", uuid, "NORMAL_CLEARING")
    finally:
        conn.close()
