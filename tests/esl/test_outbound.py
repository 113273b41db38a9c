"""OutboundServer/OutboundSession over real TCP: the 'switch' side replays the real transcripts."""

from __future__ import annotations

import re
import time

import gevent
import pytest
from gevent.event import AsyncResult

from fs_scripts.esl.errors import CallerHangup, CommandFailed, EslTimeout
from fs_scripts.esl.outbound import OutboundServer

pytestmark = pytest.mark.timeout(30)

_EVENT_UUID = re.compile(rb"\nEvent-UUID: \S+")


def _run_call(captures, esl_tools, scenario: str, handler, *, script=None, **replay_kw):
    """Serve one call: the replayed switch connects, `handler(session)` drives it.

    Returns (handler result or exception, replayer, session).
    """
    script = script or esl_tools.exchanges(captures[scenario]["frames"])
    outcome = AsyncResult()
    sessions = []

    def wrapped(session):
        sessions.append(session)
        try:
            outcome.set(handler(session))
        except BaseException as exc:
            outcome.set_exception(exc)
            raise

    server = OutboundServer(wrapped, command_timeout_s=5, execute_timeout_s=10)
    server.start()
    replayer = esl_tools.Replayer(script, **replay_kw)
    try:
        esl_tools.replay_switch_to(server.address, replayer)
        try:
            value = outcome.get(timeout=15)
        except Exception as exc:  # the test inspects it
            value = exc
        replayer.done.wait(5)
    finally:
        server.stop(timeout_s=1)
    return value, replayer, sessions[0]


def _without_ids(data: bytes) -> bytes:
    return _EVENT_UUID.sub(b"", data)


def test_connect_myevents_answer_playback_hangup(captures, esl_tools):
    def call(session):
        data = session.connect()
        assert data.name == "CHANNEL_DATA"
        assert data.get("Channel-Name") == "loopback/3000-b"
        assert data.variable("current_application_data") == "127.0.0.1:8084 async full"
        session.myevents()
        answered = session.execute("answer", event_lock=False)
        played = session.execute("playback", "tone_stream://%(1000,0,600)", event_lock=False)
        session.hangup()
        return answered, played

    (answered, played), replayer, session = _run_call(
        captures, esl_tools, "outbound_connect_myevents_answer_playback_hangup", call, close_at_end=True
    )
    assert answered.get("Application") == "answer"
    assert played.get("Application") == "playback"
    assert played.application_uuid and played.application_uuid != answered.application_uuid
    assert session.uuid == session.channel_data.unique_id == played.unique_id
    sent = [_without_ids(c) for c in replayer.received]
    captured = [_without_ids(ex.command) for ex in replayer.script if ex.command]
    assert sent == captured
    # After the hang-up the disconnect notice (no linger) ends the session.
    deadline = time.monotonic() + 2
    while not session.disconnected and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert session.hung_up and session.disconnected and not session.lingering
    with pytest.raises(CallerHangup):
        session.execute("answer")


def test_completion_is_matched_by_application_uuid_not_app_name(captures, esl_tools):
    """outbound_event_lock: without event-lock the 2nd playback runs inside the 1st and
    completes FIRST; each execute must still get its own completion."""

    def call(session):
        session.connect()
        session.myevents()
        session.execute("answer")
        outer = session.execute_async("playback", "tone_stream://%(1500,0,440)", event_lock=False)
        inner = session.execute_async("playback", "tone_stream://%(500,0,880)", event_lock=False)
        results = (outer.get(timeout=5), inner.get(timeout=5))
        locked_1 = session.execute_async("playback", "tone_stream://%(1500,0,440)")
        locked_2 = session.execute_async("playback", "tone_stream://%(500,0,880)")
        session_results = results + (locked_1.get(timeout=5), locked_2.get(timeout=5))
        session.hangup()
        return session_results, (outer.event_uuid, inner.event_uuid, locked_1.event_uuid, locked_2.event_uuid)

    value, replayer, _session = _run_call(captures, esl_tools, "outbound_event_lock", call, close_at_end=True)
    (outer_ev, inner_ev, l1, l2), ids = value
    # The inner (second) playback completed first on the wire; each got its own completion.
    assert int(inner_ev.get("Event-Sequence")) < int(outer_ev.get("Event-Sequence"))
    assert [outer_ev.application_uuid, inner_ev.application_uuid, l1.application_uuid, l2.application_uuid] == list(ids)
    assert outer_ev.get("Application-Data") == "tone_stream://%(1500,0,440)"
    assert inner_ev.get("Application-Data") == "tone_stream://%(500,0,880)"
    assert b"event-lock: true" in replayer.received[5] and b"event-lock" not in replayer.received[3]


def test_caller_hangup_during_playback_with_linger(captures, esl_tools):
    def call(session):
        session.connect()
        session.myevents()
        session.linger(4)
        session.execute("answer")
        with pytest.raises(CallerHangup) as info:
            session.execute("playback", "tone_stream://%(20000,0,440)")
        assert info.value.cause == "NORMAL_CLEARING"
        assert session.hung_up and session.lingering and not session.disconnected
        # Lingering: the channel is gone but the socket still answers.
        assert session.getvar("hangup_cause") == "NORMAL_CLEARING"
        assert session.getvar("sip_hangup_disposition") == "recv_bye"
        with pytest.raises(CommandFailed, match="No such channel"):
            session.api("uuid_getvar", session.uuid, "hangup_cause")
        with pytest.raises(CallerHangup):
            session.wait_event(lambda ev: True, timeout_s=2, after_hangup=True)
        return session.hangup_cause

    cause, replayer, session = _run_call(captures, esl_tools, "outbound_linger", call, close_at_end=True)
    assert cause == "NORMAL_CLEARING"
    assert session.disconnected
    assert replayer.received[2] == b"linger 4\n\n"


def test_hangup_surfaces_as_caller_hangup_from_the_handler(captures, esl_tools):
    """A handler that never catches CallerHangup: the server logs it as the normal end."""

    def call(session):
        session.connect()
        session.myevents()
        session.linger(4)
        session.execute("answer")
        session.execute("playback", "tone_stream://%(20000,0,440)")
        raise AssertionError("not reached")

    value, _replayer, session = _run_call(captures, esl_tools, "outbound_linger", call)
    assert isinstance(value, CallerHangup)
    assert session.closed


def test_execute_timeout_and_reply_timeout(captures, esl_tools):
    script = esl_tools.exchanges(captures["outbound_connect_myevents_answer_playback_hangup"]["frames"])
    answer = script[3]
    answer.replies[:] = answer.replies[:1]  # +OK, but the application never completes

    def call(session):
        session.connect()
        session.myevents()
        started = time.monotonic()
        with pytest.raises(EslTimeout, match="answer did not complete"):
            session.execute("answer", timeout_s=0.3)
        assert time.monotonic() - started < 2
        with pytest.raises(EslTimeout):
            session.wait_event(lambda ev: ev.name == "CHANNEL_ANSWER", timeout_s=0.1)
        session.command_timeout_s = 0.2
        with pytest.raises(EslTimeout, match="no reply"):
            session.getvar("x")  # the replay has nothing left to answer with
        return True

    value, _replayer, _session = _run_call(captures, esl_tools, "", call, script=script[:4])
    assert value is True


def test_sync_mode_reply_after_the_application(captures, esl_tools):
    """outbound_sync_mode: the +OK comes only after the playback, events after the reply."""

    def call(session):
        session.connect()
        session.myevents()
        with pytest.raises(CommandFailed):
            session.api("status")
        return session.execute("answer")

    script = esl_tools.exchanges(captures["outbound_sync_mode"]["frames"])
    order = [ex.word for ex in script]
    script = [script[0], script[1], script[2], script[order.index("api status")], script[order.index("sendmsg")]]
    value, _replayer, _session = _run_call(captures, esl_tools, "", call, script=script)
    assert value.get("Application") == "answer"
