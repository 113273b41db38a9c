"""The outbound socket (`socket host:port [async] [full]`) driven by fscc's own OutboundServer
over real TCP: the connect data, async and sync execution, linger, and caller-controlled values
that must stay values."""

from __future__ import annotations

import gevent
import pytest
from gevent.queue import Queue

from fs_scripts.esl.errors import CallerHangup
from fs_scripts.esl.outbound import OutboundServer

DIALPLAN = """<include><context name="public">
  <extension name="async"><condition field="destination_number" expression="^4000$">
    <action application="socket" data="127.0.0.1:{port} async full"/>
  </condition></extension>
  <extension name="sync"><condition field="destination_number" expression="^4001$">
    <action application="socket" data="127.0.0.1:{port}"/>
  </condition></extension>
</context></include>"""


@pytest.fixture
def app_and_sim(fssim_factory, tmp_path):
    """An OutboundServer whose handler is set per test, and an fssim routing 4000/4001 to it."""
    handlers: Queue = Queue()
    results: Queue = Queue()

    def handle(session) -> None:
        handler = handlers.get(timeout=5)
        try:
            results.put(handler(session))
        except Exception as exc:  # handed to the test, which asserts on it
            results.put(exc)

    server = OutboundServer(handle)
    server.start()
    dialplan = tmp_path / "dialplan.xml"
    dialplan.write_text(DIALPLAN.format(port=server.address[1]))
    sim = fssim_factory(dialplan=dialplan)
    yield sim, handlers, results
    server.stop()


def test_connect_carries_the_channel_and_caller_values_stay_values(app_and_sim) -> None:
    sim, handlers, results = app_and_sim
    hostile_name = "Evil\nContent-Type: command/reply\nReply-Text: +OK %0A 100%"

    def handler(session):
        data = session.connect()
        session.myevents()
        session.execute("answer")
        session.execute("playback", "tone_stream://%(500,0,440)")
        session.hangup()
        return data

    handlers.put(handler)
    uuid = sim.place_call("4000", caller_id_number="13800138000", caller_id_name=hostile_name)
    data = results.get(timeout=10)
    assert data.unique_id == uuid
    assert data.get("Caller-Caller-ID-Name") == hostile_name  # decoded back exactly, one header
    assert data.get("variable_sip_from_display") == hostile_name
    assert data.get("Socket-Mode") == "async" and data.get("Control") == "full"
    sim.wait_for(lambda: sim.find(uuid) is None, 5)
    assert (sim.spool_dir / f"{uuid}.cdr.json").is_file()
    # the name could not add a header: one Content-Type, one Reply-Text, both the switch's
    names = [name for name, _ in data.headers()]
    assert names.count("Content-Type") == 1 and names.count("Reply-Text") == 1
    assert data.get("Reply-Text") == "+OK\n" and data.get("Content-Type") == "command/reply"


def test_sync_socket_answers_execute_only_when_done(app_and_sim) -> None:
    sim, handlers, results = app_and_sim

    def handler(session):
        session.connect()
        started = sim.clock.now()
        reply = session._checked(b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                                 b"execute-app-arg: tone_stream://%(2000,0,440)\n\n")
        elapsed = sim.clock.now() - started
        session.hangup()
        return reply, elapsed

    handlers.put(handler)
    uuid = sim.place_call("4001")
    reply, elapsed = results.get(timeout=10)
    assert reply.startswith("+OK") and elapsed >= 1.95  # the +OK came after the 2 s playback
    sim.wait_for(lambda: sim.find(uuid) is None, 5)


def test_linger_keeps_the_socket_after_the_caller_hangs_up(app_and_sim) -> None:
    sim, handlers, results = app_and_sim

    def handler(session):
        session.connect()
        session.myevents()
        session.linger(3)
        session.execute("answer")
        try:
            session.execute("playback", "tone_stream://%(20000,0,440)")
        except CallerHangup:
            pass
        gevent.sleep(0.05)
        return session.getvar("hangup_cause"), session.getvar("sip_hangup_disposition"), session.lingering

    handlers.put(handler)
    uuid = sim.place_call("4000", hangup_after_s=1.0)
    cause, disposition, lingering = results.get(timeout=10)
    assert (cause, disposition) == ("NORMAL_CLEARING", "recv_bye")
    assert lingering
    sim.wait_for(lambda: sim.find(uuid) is None, 5)
