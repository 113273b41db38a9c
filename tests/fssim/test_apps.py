"""Dialplan applications, one extension each, run by carrier calls: their events, the
variables they leave, the times they take on the simulated clock, and the CDR they end in."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from urllib.parse import unquote

import pytest

from fs_scripts.clock import make_clock
from fssim import AgentBehaviour
from fssim.wav import write_wav

DIALPLAN = r"""<include>
  <context name="t">
    <extension name="media">
      <condition field="destination_number" expression="^media$">
        <action application="pre_answer"/>
        <action application="answer"/>
        <action application="playback" data="${prompt}"/>
        <action application="playback" data="tone_stream://%(500,250,440);loops=2"/>
        <action application="playback" data="silence_stream://700"/>
        <action application="playback" data="/no/such/file.wav"/>
        <action application="sleep" data="400"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="vars">
      <condition field="destination_number" expression="^vars$">
        <action application="set" data="a=1"/>
        <action application="export" data="b=2"/>
        <action application="unset" data="a"/>
        <action application="set" data="c=${b}-x"/>
        <action application="answer"/>
        <action application="bridge" data="user/1001"/>
        <action application="set" data="after_bridge=yes"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="digits">
      <condition field="destination_number" expression="^digits$">
        <action application="answer"/>
        <action application="play_and_get_digits" data="1 4 2 3000 # silence_stream://500 silence_stream://200 choice ^\d+$"/>
        <action application="read" data="1 1 silence_stream://100 second 2000 #"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="pin">
      <condition field="destination_number" expression="^pin$">
        <action application="answer"/>
        <action application="read" data="1 1 silence_stream://100 menu 2000 #"/>
        <action application="set" data="sensitive_dtmf=true"/>
        <action application="read" data="4 6 silence_stream://100 pin 2000 #"/>
        <action application="unset" data="sensitive_dtmf"/>
        <action application="read" data="1 1 silence_stream://100 after 2000 #"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="xfer">
      <condition field="destination_number" expression="^xfer$">
        <action application="answer"/>
        <action application="transfer" data="landing XML t"/>
      </condition>
    </extension>
    <extension name="landing">
      <condition field="destination_number" expression="^landing$">
        <action application="set" data="landed=yes"/>
        <action application="hangup" data="USER_BUSY"/>
      </condition>
    </extension>
    <extension name="rec">
      <condition field="destination_number" expression="^rec$">
        <action application="answer"/>
        <action application="set" data="RECORD_STEREO=true"/>
        <action application="record_session" data="${rec_path}"/>
        <action application="sleep" data="1500"/>
        <action application="stop_record_session" data="${rec_path}"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="limited">
      <condition field="destination_number" expression="^limited$">
        <action application="answer"/>
        <action application="limit" data="hash acd q1 1"/>
        <action application="park"/>
      </condition>
    </extension>
    <extension name="limit_exceeded">
      <condition field="destination_number" expression="^limit_exceeded$">
        <action application="set" data="exceeded=yes"/>
        <action application="hangup" data="USER_BUSY"/>
      </condition>
    </extension>
    <extension name="limited_cause">
      <condition field="destination_number" expression="^limited_cause$">
        <action application="limit" data="hash acd q2 1 !NORMAL_CIRCUIT_CONGESTION"/>
        <action application="answer"/>
        <action application="park"/>
      </condition>
    </extension>
    <extension name="limited_xfer">
      <condition field="destination_number" expression="^limited_xfer$">
        <action application="limit" data="hash acd q3 1 landing XML t"/>
        <action application="answer"/>
        <action application="park"/>
      </condition>
    </extension>
    <extension name="rated">
      <condition field="destination_number" expression="^rated$">
        <action application="limit" data="hash acd cps 2/20 !CALL_REJECTED"/>
        <action application="answer"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="busy">
      <condition field="destination_number" expression="^busy$">
        <action application="respond" data="486 Busy Here"/>
      </condition>
    </extension>
    <extension name="bridge_fails">
      <condition field="destination_number" expression="^bridge_fails$">
        <action application="set" data="continue_on_fail=true"/>
        <action application="bridge" data="user/1009"/>
        <action application="set" data="failed_with=${originate_disposition}"/>
        <action application="bridge" data="user/4242"/>
        <action application="hangup" data="${originate_disposition}"/>
      </condition>
    </extension>
    <extension name="voicemail">
      <condition field="destination_number" expression="^voicemail$">
        <action application="answer"/>
        <action application="set" data="playback_terminators=#"/>
        <action application="record" data="${vm_path} ${vm_max_s} 200 ${vm_silence_s}"/>
        <action application="say" data="en number pronounced 12345"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="masked">
      <condition field="destination_number" expression="^masked$">
        <action application="answer"/>
        <action application="record_session" data="${rec_path}"/>
        <action application="sleep" data="500"/>
        <action application="record_session_mask" data="${rec_path}"/>
        <action application="sleep" data="1000"/>
        <action application="record_session_unmask" data="${rec_path}"/>
        <action application="sleep" data="500"/>
        <action application="hangup"/>
      </condition>
    </extension>
  </context>
</include>
"""


@pytest.fixture
def sim(fssim_factory, tmp_path):
    path = tmp_path / "dialplan.xml"
    path.write_text(DIALPLAN, encoding="utf-8")
    return fssim_factory(dialplan=path, clock=make_clock("fast", scale=10))


def run_call(sim, destination: str, **kwargs) -> str:
    uuid = sim.place_call(destination=destination, context="t", **kwargs)
    sim.wait_for(lambda: sim.find(uuid) is None, 15)
    return uuid


def events_of(sim, uuid: str, *names: str):
    return [e for e in sim.events if e.unique_id == uuid and (not names or e.name in names)]


def header(event, name: str) -> str | None:
    return next((v for k, v in event.headers if k == name), None)


def stamp_s(event) -> float:
    return int(header(event, "Event-Date-Timestamp")) / 1e6


def cdr_vars(sim, uuid: str) -> dict[str, str]:
    doc = json.loads((sim.spool_dir / f"{uuid}.cdr.json").read_text())
    return {k: unquote(v) for k, v in doc["variables"].items()}


def test_media_apps_take_the_time_their_media_lasts(sim, tmp_path: Path) -> None:
    prompt = tmp_path / "welcome.wav"
    write_wav(prompt, 1.25)
    uuid = run_call(sim, "media", variables={"prompt": str(prompt)})
    names = [e.name for e in events_of(sim, uuid, "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER")]
    assert names == ["CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER"]
    starts = events_of(sim, uuid, "PLAYBACK_START")
    stops = events_of(sim, uuid, "PLAYBACK_STOP")
    assert [header(e, "Playback-File-Path") for e in starts] == [
        str(prompt), "tone_stream://%(500,250,440);loops=2", "silence_stream://700"]  # the missing file never starts
    assert [header(e, "Playback-Status") for e in stops] == ["done"] * 3
    for start, stop, expected in zip(starts, stops, (1.25, 1.5, 0.7), strict=True):
        # never shorter than the media; longer only by scheduling delays on a loaded machine
        assert expected - 0.05 <= stamp_s(stop) - stamp_s(start) <= expected + 2.0
    completes = events_of(sim, uuid, "CHANNEL_EXECUTE_COMPLETE")
    responses = [(header(e, "Application"), header(e, "Application-Response")) for e in completes]
    assert responses[2:6] == [("playback", "FILE PLAYED")] * 3 + [("playback", "FILE NOT FOUND")]
    variables = cdr_vars(sim, uuid)
    assert 650 <= int(variables["playback_ms"]) <= 2700  # the last one played: 700 ms of silence
    assert variables["hangup_cause"] == "NORMAL_CLEARING" and variables["last_app"] == "hangup"
    assert int(variables["billmsec"]) >= 1250 + 1500 + 700 + 400 - 100


def test_set_export_unset_and_bridge_to_an_agent(sim) -> None:
    sim.set_agent("1001", AgentBehaviour(answer_after_s=1.0, talk_s=2.0))
    uuid = run_call(sim, "vars")
    caller = cdr_vars(sim, uuid)
    assert "a" not in caller and caller["b"] == "2" and caller["c"] == "2-x" and caller["export_vars"] == "b"
    assert caller["after_bridge"] == "yes"  # the agent hung up: the caller's dialplan went on
    agent_uuid = caller["bridge_uuid"]
    agent = cdr_vars(sim, agent_uuid)
    assert agent["b"] == "2" and "c" not in agent  # only the exported variable crosses
    assert agent["sip_hangup_disposition"] == "recv_bye"  # the agent's phone sent BYE
    bridge = events_of(sim, uuid, "CHANNEL_BRIDGE")
    assert len(bridge) == 1 and header(bridge[0], "Other-Leg-Unique-ID") == agent_uuid
    assert [e.name for e in events_of(sim, uuid, "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE")] == [
        "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"]
    talk = stamp_s(events_of(sim, uuid, "CHANNEL_UNBRIDGE")[0]) - stamp_s(bridge[0])
    assert 1.9 <= talk <= 4.5


def test_play_and_get_digits_and_read_take_the_callers_digits(sim) -> None:
    uuid = run_call(sim, "digits", dtmf="12#,7")
    variables = cdr_vars(sim, uuid)
    assert variables["choice"] == "12" and variables["second"] == "7"
    assert variables["read_result"] == "success" and variables["read_terminator_used"] == "#"
    digits = [header(e, "DTMF-Digit") for e in events_of(sim, uuid, "DTMF")]
    assert digits == ["1", "2", "#", "7"]
    assert {header(e, "DTMF-Source") for e in events_of(sim, uuid, "DTMF")} == {"RTP"}


def test_sensitive_dtmf_digits_reach_the_app_but_no_event_nor_digits_dialed(sim) -> None:
    """switch_channel_queue_dtmf flags digits DTMF_FLAG_SENSITIVE while `sensitive_dtmf` is true:
    the application reads them, but no DTMF event carries them and the dtmf log leaves them out."""
    uuid = run_call(sim, "pin", dtmf="1,4321#,9")
    variables = cdr_vars(sim, uuid)
    assert (variables["menu"], variables["pin"], variables["after"]) == ("1", "4321", "9")
    assert [header(e, "DTMF-Digit") for e in events_of(sim, uuid, "DTMF")] == ["1", "9"]
    assert variables["digits_dialed"] == "19"


def test_play_and_get_digits_gives_up_after_its_tries(sim) -> None:
    uuid = run_call(sim, "digits")
    variables = cdr_vars(sim, uuid)
    assert variables["read_result"] == "timeout" and "choice" not in variables
    # two tries of (0.5 s prompt + 3 s timeout + 0.2 s invalid prompt), then read's 0.1 + 2 s
    assert int(variables["billsec"]) >= 9


def test_transfer_starts_a_new_caller_profile(sim) -> None:
    uuid = run_call(sim, "xfer")
    doc = json.loads((sim.spool_dir / f"{uuid}.cdr.json").read_text())
    assert [flow["caller_profile"]["destination_number"] for flow in doc["callflow"]] == ["landing", "xfer"]
    assert doc["variables"]["landed"] == "yes" and doc["variables"]["hangup_cause"] == "USER_BUSY"
    assert [e.name for e in events_of(sim, uuid, "CHANNEL_STATE") if header(e, "Channel-State") == "CS_ROUTING"] \
        == ["CHANNEL_STATE"] * 2


def test_record_session_writes_a_real_stereo_wav(sim, tmp_path: Path) -> None:
    target = tmp_path / "rec" / "call.wav"
    target.parent.mkdir()
    uuid = run_call(sim, "rec", variables={"rec_path": str(target)})
    assert [header(e, "Record-File-Path") for e in events_of(sim, uuid, "RECORD_START", "RECORD_STOP")] == \
        [str(target)] * 2
    with wave.open(str(target)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 8000 and wav.getsampwidth() == 2
        seconds = wav.getnframes() / 8000
    variables = cdr_vars(sim, uuid)
    assert 1.45 <= seconds <= 3.5
    assert int(variables["record_ms"]) == int(seconds * 1000)
    assert int(variables["record_file_size"]) == target.stat().st_size


def test_limit_hash_refuses_the_call_over_the_maximum(sim) -> None:
    first = sim.place_call(destination="limited", context="t")
    sim.wait_for(lambda: sim.find(first) is not None and sim.find(first).parked, 5)
    second = run_call(sim, "limited")
    variables = cdr_vars(sim, second)  # no destination given: transferred to `limit_exceeded`
    assert variables["hangup_cause"] == "USER_BUSY" and variables["exceeded"] == "yes"
    from fssim.api_commands import run_api

    assert run_api(sim, "limit_usage", "hash acd q1") == "1"
    sim.find(first).hangup()
    sim.wait_for(lambda: sim.find(first) is None, 5)
    assert run_api(sim, "limit_usage", "hash acd q1") == "0"  # released with the leg


def test_limit_over_the_maximum_hangs_up_with_a_bang_cause_or_transfers(sim) -> None:
    from fssim.api_commands import run_api

    holders = [sim.place_call(destination=dest, context="t") for dest in ("limited_cause", "limited_xfer")]
    sim.wait_for(lambda: all(sim.find(u) is not None and sim.find(u).parked for u in holders), 5)
    refused = run_call(sim, "limited_cause")
    variables = cdr_vars(sim, refused)
    assert variables["hangup_cause"] == "NORMAL_CIRCUIT_CONGESTION"
    assert "answer_stamp" not in variables and "landed" not in variables  # hung up on the spot
    moved = run_call(sim, "limited_xfer")
    variables = cdr_vars(sim, moved)
    assert variables["landed"] == "yes" and variables["hangup_cause"] == "USER_BUSY"
    assert run_api(sim, "limit_usage", "hash acd q2") == "1"  # the refused legs took nothing
    for uuid in holders:
        sim.find(uuid).hangup()
    sim.wait_for(lambda: all(sim.find(u) is None for u in holders), 5)
    assert run_api(sim, "limit_usage", "hash acd q2") == "0"
    again = run_call(sim, "limited_cause", hangup_after_s=0.5)  # released: the next call gets through
    assert cdr_vars(sim, again)["hangup_cause"] == "NORMAL_CLEARING"


def test_limit_max_per_interval_is_a_rate_not_a_concurrency(sim) -> None:
    """`2/20`: two calls per 20 s window, even though each is over before the next one comes."""
    first, second, third = (run_call(sim, "rated") for _ in range(3))
    assert [cdr_vars(sim, u)["hangup_cause"] for u in (first, second, third)] == \
        ["NORMAL_CLEARING", "NORMAL_CLEARING", "CALL_REJECTED"]
    assert cdr_vars(sim, second)["limit_rate"] == "2"
    sim.clock.sleep(21)  # the window is over
    fourth = run_call(sim, "rated")
    variables = cdr_vars(sim, fourth)
    assert variables["hangup_cause"] == "NORMAL_CLEARING" and variables["limit_rate"] == "1"


def test_respond_refuses_without_answering(sim) -> None:
    uuid = run_call(sim, "busy")
    variables = cdr_vars(sim, uuid)
    assert variables["hangup_cause"] == "USER_BUSY" and "answer_stamp" not in variables
    assert variables["sip_hangup_disposition"] == "send_refuse"
    assert not events_of(sim, uuid, "CHANNEL_ANSWER")


def test_failed_bridges_set_the_cause_and_continue_on_fail(sim) -> None:
    uuid = run_call(sim, "bridge_fails")
    variables = cdr_vars(sim, uuid)
    assert variables["failed_with"] == "USER_NOT_REGISTERED"  # 1009 exists but is not registered
    assert variables["originate_disposition"] == "SUBSCRIBER_ABSENT"  # 4242 does not exist
    assert variables["DIALSTATUS"] == "SUBSCRIBER_ABSENT"
    assert variables["hangup_cause"] == "SUBSCRIBER_ABSENT"


@pytest.mark.parametrize(("variables", "dtmf", "expected_s", "terminator"), [
    ({"vm_max_s": "3", "vm_silence_s": "0"}, None, 3.0, None),  # no silence detection: the time limit
    ({"vm_max_s": "30", "vm_silence_s": "2", "fssim_caller_speaks_s": "1.5"}, None, 3.5, None),  # talk, then silence
    ({"vm_max_s": "30", "vm_silence_s": "0"}, [(1.0, "#")], 1.0, "#"),  # the caller ends it with #
])
def test_record_app_ends_like_the_switchs(sim, tmp_path: Path, variables, dtmf, expected_s, terminator) -> None:
    target = tmp_path / "vm.wav"
    uuid = run_call(sim, "voicemail", variables={"vm_path": str(target), **variables}, dtmf=dtmf)
    assert [e.name for e in events_of(sim, uuid, "RECORD_START", "RECORD_STOP")] == ["RECORD_START", "RECORD_STOP"]
    stop = events_of(sim, uuid, "RECORD_STOP")[0]
    assert header(stop, "Record-Completion-Cause") is None  # switch_ivr_record_file sends none
    with wave.open(str(target)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert expected_s - 0.05 <= seconds <= expected_s + 2.0
    recorded = cdr_vars(sim, uuid)
    assert int(recorded["record_ms"]) == int(seconds * 1000)
    assert recorded.get("playback_terminator_used") == terminator
    say = [e for e in events_of(sim, uuid, "CHANNEL_EXECUTE_COMPLETE") if header(e, "Application") == "say"]
    assert len(say) == 1  # say ran after the recording


def test_record_session_mask_apps_write_silence(sim, tmp_path: Path) -> None:
    target = tmp_path / "masked.wav"
    run_call(sim, "masked", variables={"rec_path": str(target)})
    with wave.open(str(target)) as wav:
        rate = wav.getframerate()
        wav.setpos(int(rate * 0.8))
        masked = wav.readframes(int(rate * 0.4))
        wav.setpos(int(rate * 0.1))
        heard = wav.readframes(int(rate * 0.3))
    assert masked == bytes(len(masked)) and heard != bytes(len(heard))
