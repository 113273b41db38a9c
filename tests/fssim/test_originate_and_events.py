"""originate (loopback, agent phones with every behaviour, dial-string variables, inline apps),
BACKGROUND_JOB, the shape and order of a leg's events, and the two clocks agreeing."""

from __future__ import annotations

import pytest

from fs_scripts.clock import make_clock
from fs_scripts.esl.frames import parse_event
from fssim import AgentBehaviour
from fssim.api_commands import run_api
from fssim.testing import connect

UUID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.mark.parametrize(("behaviour", "expected"), [
    (AgentBehaviour(answer_after_s=0.5), "+OK"),
    (AgentBehaviour(answer_after_s=None), "-ERR NO_ANSWER\n"),
    (AgentBehaviour(busy=True), "-ERR USER_BUSY\n"),
    (AgentBehaviour(reject=True), "-ERR CALL_REJECTED\n"),
    (AgentBehaviour(registered=False), "-ERR USER_NOT_REGISTERED\n"),
    (None, "-ERR SUBSCRIBER_ABSENT\n"),
])
def test_agent_phone_behaviours_give_the_switchs_causes(fssim, behaviour, expected) -> None:
    user = "1001" if behaviour is not None else "4711"
    if behaviour is not None:
        fssim.set_agent(user, behaviour)
    result = run_api(fssim, "originate", f"{{originate_timeout=3}}user/{user} &park")
    assert result.startswith(expected)
    if expected == "+OK":
        leg = fssim.find(result.split()[1])
        assert leg.name == "sofia/internal/1001@127.0.0.1" and leg.answered_at is not None
        assert leg.get_var("sip_to_tag") and leg.get_var("rtp_use_codec_name") == "PCMU"
    else:
        fssim.wait_for(lambda: not fssim.channels, 5)


def test_ringing_agent_causes_reach_the_cdr(fssim) -> None:
    fssim.set_agent("1002", AgentBehaviour(busy=True))
    assert run_api(fssim, "originate", f"{{origination_uuid={UUID}}}user/1002 &park") == "-ERR USER_BUSY\n"
    fssim.wait_for(lambda: (fssim.spool_dir / f"{UUID}.cdr.json").is_file(), 5)
    text = (fssim.spool_dir / f"{UUID}.cdr.json").read_text()
    assert '"hangup_cause":"USER_BUSY"' in text and '"sip_term_status":"486"' in text


def test_dial_string_variables_and_caller_id_reach_the_legs(fssim) -> None:
    arg = (f"{{origination_uuid={UUID},origination_caller_id_number=13800138000,"
           f"origination_caller_id_name='Zhang San',fscc_task=t-1,note='a\\,b'}}loopback/5901/default &park")
    assert run_api(fssim, "originate", arg) == f"+OK {UUID}\n"
    a = fssim.find(UUID)
    b = fssim.find(a.get_var("other_loopback_leg_uuid"))
    assert a.get_var("fscc_task") == "t-1" and a.get_var("note") == "a,b"
    assert (b.profile.caller_id_number, b.profile.caller_id_name) == ("13800138000", "Zhang San")
    assert b.get_var("fscc_task") == "t-1"  # the loopback B-leg gets the dial-string variables too


def test_inline_playback_then_the_leg_ends(fssim) -> None:
    result = run_api(fssim, "originate", f"{{origination_uuid={UUID}}}loopback/5901/default "
                                          "&playback(tone_stream://%(1500,0,440))")
    assert result == f"+OK {UUID}\n"
    fssim.wait_for(lambda: not fssim.channels, 5)
    names = [e.name for e in fssim.events if e.unique_id == UUID and e.name.startswith("PLAYBACK")]
    assert names == ["PLAYBACK_START", "PLAYBACK_STOP"]
    text = (fssim.spool_dir / f"{UUID}.cdr.json").read_text()
    assert '"last_app":"playback"' in text and '"hangup_cause":"NORMAL_CLEARING"' in text


def test_bgapi_originate_reports_by_background_job(fssim) -> None:
    client = connect(fssim)
    assert client.command("event plain BACKGROUND_JOB").reply_text.startswith("+OK")
    client.send(b"bgapi originate loopback/5900/default &park\nJob-UUID: my-own-job\n\n")
    frame, _ = client.until(lambda f: f.content_type == "command/reply")
    assert frame.reply_text == "+OK Job-UUID: my-own-job" and frame.get("Job-UUID") == "my-own-job"
    assert run_api(fssim, "hupall", "NORMAL_CLEARING") == "+OK\n"  # 5900 parks unanswered: end it
    job = client.wait_event("BACKGROUND_JOB")
    assert job.job_uuid == "my-own-job" and job.get("Job-Command") == "originate"
    assert job.get("Job-Command-Arg") == "loopback/5900/default &park"
    assert job.body.startswith("-ERR ")


# ------------------------------------------------------------------------------------ event order
SMOKE = """<include><context name="t">
  <extension name="smoke"><condition field="destination_number" expression="^smoke$">
    <action application="answer"/>
    <action application="playback" data="tone_stream://%(300,0,440)"/>
    <action application="set" data="done=yes"/>
    <action application="hangup"/>
  </condition></extension>
</context></include>"""


def _leg_sequence(sim, uuid: str) -> list[tuple[str, str]]:
    out = []
    for event in sim.events:
        if event.unique_id != uuid:
            continue
        headers = dict(event.headers)
        detail = {"CHANNEL_STATE": headers.get("Channel-State"),
                  "CHANNEL_CALLSTATE": headers.get("Channel-Call-State")}.get(event.name, headers.get("Application"))
        detail = detail or ""
        out.append((event.name, detail))
    return out


def _run_smoke(sim) -> list[tuple[str, str]]:
    uuid = sim.place_call(destination="smoke", context="t", caller_id_number="13800138000")
    sim.wait_for(lambda: sim.find(uuid) is None, 10)
    return _leg_sequence(sim, uuid)


def test_a_legs_events_come_in_the_switchs_order(fssim_factory, tmp_path) -> None:
    dialplan = tmp_path / "smoke.xml"
    dialplan.write_text(SMOKE)
    sim = fssim_factory(dialplan=dialplan)
    client = connect(sim)
    assert client.command("event plain ALL").reply_text.startswith("+OK")
    sequence = _run_smoke(sim)
    # the life of an inbound leg as the switch reports it (compare outbound_linger.json's sofia leg)
    assert sequence == [
        ("CHANNEL_STATE", "CS_INIT"), ("CHANNEL_CREATE", ""), ("CHANNEL_CALLSTATE", "RINGING"),
        ("CHANNEL_STATE", "CS_ROUTING"), ("CHANNEL_STATE", "CS_EXECUTE"),
        ("CHANNEL_EXECUTE", "answer"), ("CHANNEL_ANSWER", ""), ("CHANNEL_CALLSTATE", "ACTIVE"),
        ("CHANNEL_EXECUTE_COMPLETE", "answer"),
        ("CHANNEL_EXECUTE", "playback"), ("PLAYBACK_START", ""), ("PLAYBACK_STOP", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "playback"),
        ("CHANNEL_EXECUTE", "set"), ("CHANNEL_EXECUTE_COMPLETE", "set"),
        ("CHANNEL_EXECUTE", "hangup"), ("CHANNEL_HANGUP", ""), ("CHANNEL_EXECUTE_COMPLETE", "hangup"),
        ("CHANNEL_STATE", "CS_HANGUP"), ("CHANNEL_CALLSTATE", "HANGUP"), ("CHANNEL_STATE", "CS_REPORTING"),
        ("CHANNEL_HANGUP_COMPLETE", ""), ("CHANNEL_DESTROY", ""), ("CHANNEL_STATE", "CS_DESTROY"),
    ]
    # on the wire: each EXECUTE and its COMPLETE share the Application-UUID; sequence numbers rise
    frames = []
    while True:
        frame = client.next_frame()
        event = parse_event(frame)
        frames.append(event)
        if event.name == "CHANNEL_DESTROY":
            break
    pairs = {}
    for event in frames:
        if event.name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"):
            pairs.setdefault(event.get("Application-UUID"), []).append(event.name)
    assert all(v == ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"] for v in pairs.values()) and len(pairs) == 4
    sequence_numbers = [int(e.get("Event-Sequence")) for e in frames]
    assert sequence_numbers == sorted(sequence_numbers) and len(set(sequence_numbers)) == len(sequence_numbers)
    hangup_complete = next(e for e in frames if e.name == "CHANNEL_HANGUP_COMPLETE")
    assert hangup_complete.get("variable_done") == "yes"
    assert [v for k, v in hangup_complete.headers() if k == "Hangup-Cause"] == ["NORMAL_CLEARING"] * 2


def test_real_and_fast_clocks_give_the_same_events_in_the_same_order(fssim_factory, tmp_path) -> None:
    dialplan = tmp_path / "smoke.xml"
    dialplan.write_text(SMOKE)
    real = _run_smoke(fssim_factory(dialplan=dialplan, clock=make_clock("real")))
    fast = _run_smoke(fssim_factory(dialplan=dialplan, clock=make_clock("fast", scale=100)))
    assert real == fast and len(real) > 20
