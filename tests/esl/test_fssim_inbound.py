"""InboundConnection against a real fssim over TCP: json subscriptions, CUSTOM subclass
handlers, filters, and a switch restart on the same port (reconnect with backoff, then the
same subscriptions and filters again, as the engine needs after a FreeSWITCH restart)."""

from __future__ import annotations

import gevent
import pytest
from gevent.queue import Empty, Queue

from fs_scripts.esl.errors import CommandFailed, NotConnected
from fs_scripts.esl.frames import JsonEvent
from fs_scripts.esl.inbound import InboundConnection

pytestmark = pytest.mark.timeout(30)


def _probe(sim, seq: int, passes: bool) -> None:
    sim.inject_event([("Event-Subclass", "fscc::probe"), ("X-Probe", "yes" if passes else "no"),
                      ("X-Seq", str(seq)), ("X-Caller-Name", "Mallory%0AEvent-Name: X")])


def _next(queue: Queue, timeout_s: float = 5.0):
    try:
        return queue.get(timeout=timeout_s)
    except Empty:
        raise AssertionError("no event arrived") from None


def test_json_custom_handlers_and_filter_survive_a_switch_restart(fssim_factory) -> None:
    sim = fssim_factory()
    port = sim.esl_port
    got: Queue = Queue()
    conn = InboundConnection("127.0.0.1", port, "ClueCon", event_format="json",
                             command_timeout_s=5, min_backoff_s=0.05, max_backoff_s=0.4)
    conn.on_custom("fscc::probe", got.put)
    conn.on_custom("fscc::other", lambda ev: got.put(("wrong handler", ev)))
    conn.connect()
    conn.subscribe("CUSTOM", "fscc::probe")
    conn.filter("X-Probe", "yes")
    assert conn.api("status").startswith("UP ")
    assert conn.bgapi("status", timeout_s=5).startswith("UP ")
    with pytest.raises(CommandFailed, match="-ERR"):
        conn.api("no_such_command")

    _probe(sim, 1, passes=False)  # filtered out by the switch
    _probe(sim, 2, passes=True)
    event = _next(got)
    assert isinstance(event, JsonEvent) and event.format == "json"
    assert event.subclass == "fscc::probe" and event.get("X-Seq") == "2"
    assert event.get("X-Caller-Name") == "Mallory%0AEvent-Name: X"  # a value, never a header

    # The switch goes away: the connection notices, commands fail at once with our error,
    # and the reconnect loop keeps trying, further apart each time, while nobody listens.
    sim.stop()
    with gevent.Timeout(5, AssertionError("the drop was not noticed")):
        while conn.connected:
            gevent.sleep(0.01)
    with pytest.raises(NotConnected):
        conn.api("status")
    with gevent.Timeout(5, AssertionError("no reconnect attempts while the switch was down")):
        while conn.reconnect_attempts < 3:
            gevent.sleep(0.01)

    # FreeSWITCH comes back on the same port: same subscription (json), same filter.
    restarted = fssim_factory(esl_port=port)
    conn.wait_connected(5)
    assert conn.connects == 2
    _probe(restarted, 3, passes=False)
    _probe(restarted, 4, passes=True)
    event = _next(got)
    assert isinstance(event, JsonEvent) and event.get("X-Seq") == "4"
    with pytest.raises(AssertionError):
        _next(got, 0.3)  # seq 3 never arrives: the filter was re-sent too
    assert conn.api("status").startswith("UP ")
    assert conn.bgapi("status", timeout_s=5).startswith("UP ")  # job results pass the filters
    conn.close()
