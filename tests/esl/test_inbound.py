"""InboundConnection over real TCP against a peer replaying the real FreeSWITCH transcripts."""

from __future__ import annotations

import time

import gevent
import pytest

from fs_scripts.esl import commands
from fs_scripts.esl.errors import (
    AuthFailed,
    CommandFailed,
    ConnectionLost,
    EslTimeout,
    NotConnected,
)
from fs_scripts.esl.inbound import InboundConnection

pytestmark = pytest.mark.timeout(30)


def _client(server, **kw) -> InboundConnection:
    kw.setdefault("event_format", "plain")
    kw.setdefault("command_timeout_s", 5)
    return InboundConnection("127.0.0.1", server.port, kw.pop("password", "ClueCon"), **kw)


def _commands_of(exchanges) -> list[bytes]:
    return [ex.command for ex in exchanges if ex.command is not None]


def test_auth_ok_and_exit(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["auth_ok"]["frames"])
    server = replay_server(esl_tools.Replayer(script, close_at_end=True))
    conn = _client(server, reconnect=False)
    conn.connect()
    assert conn.connected and conn.connects == 1
    conn.close()
    assert not conn.connected
    assert server.used[0].received == _commands_of(script)


def test_auth_bad_raises_and_does_not_retry(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["auth_bad"]["frames"])
    server = replay_server(esl_tools.Replayer(script, close_at_end=True))
    conn = _client(server, password="WrongPassword", reconnect=True)
    with pytest.raises(AuthFailed, match="-ERR invalid"):
        conn.connect()
    assert not conn.connected
    gevent.sleep(0.3)
    assert len(server.used) == 1 and server.used[0].received == _commands_of(script)


def test_api_bodies_and_failures(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["api_unknown_command"]["frames"])
    status = esl_tools.exchanges(captures["api_status"]["frames"])
    server = replay_server(esl_tools.Replayer(script), esl_tools.Replayer(status))
    with _client(server, reconnect=False) as conn:
        with pytest.raises(CommandFailed) as info:
            conn.api("no_such_command", "arg1", "arg2")
        assert info.value.reply == "-ERR no_such_command Command not found!\n"
        # The capture's deliberately malformed commands, sent raw: replies stay in step.
        assert conn.send_raw(b"api  status\n\n").body_text == "-ERR  Command not found!\n"
        assert conn.send_raw(b"api\n\n").reply_text == "-ERR command not found"
    with _client(server, reconnect=False) as conn:
        text = conn.api("status")
        assert text.startswith("UP 0 years") and "is ready" in text


def test_bgapi_result_is_matched_by_job_uuid_among_events(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["bgapi_originate_park"]["frames"])
    server = replay_server(esl_tools.Replayer(script, close_at_end=True))
    conn = _client(server, reconnect=False)
    seen: list[str] = []
    conn.on_any(lambda ev: seen.append(ev.name))
    conn.connect()
    conn.subscribe("ALL")
    dial = commands.dial_string("loopback/5901/default", {"origination_uuid": "1bc460a4-190c-4187-b38c-ae15f529f6ac"})
    result = conn.bgapi("originate", commands.originate(dial, "&park"), timeout_s=5)
    assert result == "+OK 1bc460a4-190c-4187-b38c-ae15f529f6ac\n"
    assert conn.bgapi("uuid_kill", "1bc460a4-190c-4187-b38c-ae15f529f6ac", timeout_s=5) == "+OK\n"
    conn.send_raw(commands.noevents())
    conn.close()
    sent = server.used[0].received
    assert sent[1] == b"event plain ALL\n\n"
    assert sent[2].startswith(b"bgapi originate {origination_uuid=1bc460a4")
    assert b"\nJob-UUID: " in sent[2] and b"\nJob-UUID: " in sent[3]
    assert seen.count("BACKGROUND_JOB") == 2
    assert {"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"} <= set(seen)


def test_background_job_before_the_bgapi_reply_is_not_lost(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["bgapi_originate_park_unanswered"]["frames"])
    bg = next(ex for ex in script if ex.word.startswith("bgapi originate"))
    job = next(r for r in bg.replies if b"Event-Name: BACKGROUND_JOB" in r)
    bg.replies.remove(job)
    bg.replies.insert(0, job)  # the job result first, then the command/reply
    server = replay_server(esl_tools.Replayer(script))
    with _client(server, reconnect=False) as conn:
        conn.subscribe("ALL")
        dial = commands.dial_string(
            "loopback/5900/default",
            {"origination_uuid": "ea3a1e30-8350-492e-87ed-5da949b3b150", "originate_timeout": "5"},
        )
        with pytest.raises(CommandFailed) as info:
            conn.bgapi("originate", commands.originate(dial, "&park"), timeout_s=5)
        assert info.value.reply == "-ERR NO_ANSWER\n"


def test_events_interleaved_with_replies_and_custom_handlers(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["callcenter"]["frames"])
    server = replay_server(esl_tools.Replayer(script))
    actions: list[str] = []
    conn = _client(server, reconnect=False)
    conn.on_custom("callcenter::info", lambda ev: actions.append(ev.get("CC-Action")))
    conn.connect()
    conn.subscribe("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
                   "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB", "CUSTOM", "callcenter::info")
    replies = []
    for ex in script[3:]:
        word = ex.command.decode().rstrip("\n")
        if not word.startswith("api callcenter_config"):
            break
        rest = word[len("api callcenter_config "):]
        try:
            replies.append(conn.api("callcenter_config", rest))
        except CommandFailed as exc:
            replies.append(exc.reply)
    # Each reply is the body captured right after its own command, despite the events between.
    expected = [
        next(r for r in ex.replies if r.startswith(b"Content-Type: api/response")).split(b"\n\n", 1)[1].decode()
        for ex in script[3:3 + len(replies)]
    ]
    assert len(replies) == 11 and replies == expected
    assert replies[0] == "+OK\n"
    assert "-ERR Agent not found!" in "".join(replies) or "Invalid" in "".join(replies)
    deadline = time.monotonic() + 2
    while "agent-contact-change" not in actions and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert "agent-add" in actions and "agent-contact-change" in actions
    conn.close()


def test_reconnect_with_backoff_resubscribes_and_fails_inflight(captures, replay_server, esl_tools):
    frames = captures["filter_and_nixevent"]["frames"]
    script = esl_tools.exchanges(frames)
    by_word = {ex.word.split(" ")[0]: ex for ex in reversed(script) if ex.command}
    first = esl_tools.Replayer(script[:3] + [by_word["filter"], by_word["api"]], silent_after=3)
    second = esl_tools.Replayer(script[:3] + [by_word["filter"]])
    server = replay_server(first, second)
    conn = _client(server, reconnect=True, min_backoff_s=0.05, max_backoff_s=0.2)
    conn.connect()
    conn.subscribe("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE")
    conn.filter("Unique-ID", "c0847084-18da-4399-8962-435af3ae5423")
    # A command in flight when the switch goes away fails at once, not after its timeout.
    pending = gevent.spawn(conn.api, "status", timeout_s=20)
    gevent.sleep(0.1)
    started = time.monotonic()
    server.kill_clients()
    with pytest.raises(ConnectionLost):
        pending.get(timeout=5)
    assert time.monotonic() - started < 1.0
    with pytest.raises(NotConnected):
        conn.api("status")
    conn.wait_connected(5)
    assert conn.connects == 2
    resent = server.used[1].received
    assert resent[0] == b"auth ClueCon\n\n"
    assert resent[1] == b"event plain CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE\n\n"
    assert resent[2] == b"filter Unique-ID c0847084-18da-4399-8962-435af3ae5423\n\n"
    conn.close()


def test_inflight_bgapi_job_fails_when_the_socket_drops(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["bgapi_originate_park"]["frames"])
    bg = script[3]
    bg.replies[:] = bg.replies[:1]  # the +OK Job-UUID reply, then nothing: the switch dies
    server = replay_server(esl_tools.Replayer(script[:4], drop_after=3))
    conn = _client(server, reconnect=False)
    conn.connect()
    conn.subscribe("ALL")
    job = conn.bgapi_async("originate", "loopback/5901/default &park")
    with pytest.raises(ConnectionLost):
        job.get(timeout=5)
    conn.close()


def test_every_wait_times_out(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["api_status"]["frames"])
    server = replay_server(esl_tools.Replayer(script, silent_after=1))
    conn = _client(server, reconnect=False, command_timeout_s=0.2)
    conn.connect()
    started = time.monotonic()
    with pytest.raises(EslTimeout, match="api status"):
        conn.api("status")
    assert time.monotonic() - started < 1.5
    with pytest.raises(EslTimeout):
        conn.wait_event(lambda ev: True, timeout_s=0.1)
    conn.close()
    with pytest.raises(EslTimeout):
        conn.wait_connected(0.1)
    # Nobody listening: the connect itself fails fast with our own exception.
    server.stop()
    with pytest.raises(ConnectionLost):
        _client(server, reconnect=False, connect_timeout_s=0.5).connect()


def test_bgapi_job_timeout(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["bgapi_originate_park"]["frames"])
    script[3].replies[:] = script[3].replies[:1]  # reply, but the job never reports
    server = replay_server(esl_tools.Replayer(script[:4]))
    with _client(server, reconnect=False) as conn:
        conn.subscribe("ALL")
        with pytest.raises(EslTimeout, match="bgapi originate"):
            conn.bgapi("originate", "loopback/5901/default &park", timeout_s=0.3)


def test_handler_exception_does_not_stop_delivery(captures, replay_server, esl_tools):
    script = esl_tools.exchanges(captures["bgapi_originate_park"]["frames"])
    server = replay_server(esl_tools.Replayer(script))
    conn = _client(server, reconnect=False)
    got: list[str] = []

    def broken(_event):
        raise RuntimeError("handler bug")

    conn.on("CHANNEL_CREATE", broken)
    conn.on("CHANNEL_CREATE", lambda ev: got.append(ev.unique_id))
    conn.connect()
    conn.subscribe("ALL")
    conn.bgapi("originate", "{origination_uuid=1bc460a4-190c-4187-b38c-ae15f529f6ac}loopback/5901/default &park", timeout_s=5)
    deadline = time.monotonic() + 2
    while len(got) < 2 and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert len(got) == 2
    conn.close()


def test_backoff_doubles_up_to_the_cap_with_jitter():
    import itertools
    import random

    from fs_scripts.esl.inbound import backoff_delays

    delays = list(itertools.islice(backoff_delays(0.1, 3.0, random.Random(1)), 9))
    nominal = [0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0, 3.0]
    for got, want in zip(delays, nominal, strict=True):
        assert 0.8 * want <= got <= 1.2 * want


def test_rude_rejection_is_a_clear_error(replay_server, esl_tools):
    """The switch's ACL refuses our address: it sends text/rude-rejection instead of
    auth/request and closes (mod_event_socket); connect() says so instead of timing out."""
    rejection = b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
    server = replay_server(esl_tools.Replayer([esl_tools.Exchange(None, [rejection])], close_at_end=True,
                                              drop_after=0))
    conn = _client(server, reconnect=False, connect_timeout_s=2)
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="refused this address.*Access Denied"):
        conn.connect()
    assert time.monotonic() - started < 1.5
    assert not conn.connected
