"""FlowRunner beyond the kitchen-sink call: flows handing over to flows, transfers out of the
flow, webhooks over real HTTP (gevent sockets and, as under mod_python3, the stdlib's)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gevent
import pytest
from gevent import socket as gsocket
from gevent.pywsgi import WSGIServer
from runtime_flows import write_flow

from fs_scripts import cdr_vars
from fs_scripts.esl.frames import url_decode
from fs_scripts.esl.outbound import OutboundServer
from fs_scripts.settings import Settings
from ivr_flows import actions as a
from ivr_flows.config import IvrSettings
from ivr_flows.esl_call import EslCallControl
from ivr_flows.ports import FixedExtensionQueue
from ivr_flows.runner import FlowRunner, HttpWebhookClient, RunResult

FIRST = """\
flow: first
tenant: default
language: en
start: hello
nodes:
  hello:
    type: play
    play: [vip_welcome]
    next: choose
  choose:
    type: menu
    prompt: main_menu
    options: {"1": to_second, "2": to_desk}
    timeout_s: 2
    tries: 1
    on_timeout: to_desk
  to_second:
    type: transfer
    to: flow
    destination: second
  to_desk:
    type: transfer
    to: extension
    destination: "5000"
"""

SECOND = """\
flow: second
tenant: default
language: en
start: bye
nodes:
  bye:
    type: play
    play: [goodbye]
    next: done
  done:
    type: hangup
    outcome: self-service
"""

DIALPLAN = """<include>
  <context name="public">
    <extension name="engine">
      <condition field="destination_number" expression="^10086$">
        <action application="socket" data="127.0.0.1:{port} async full"/>
      </condition>
    </extension>
  </context>
  <context name="default">
    <extension name="desk">
      <condition field="destination_number" expression="^5000$">
        <action application="set" data="reached_desk=yes"/>
        <action application="hangup"/>
      </condition>
    </extension>
  </context>
</include>
"""


def _cdr(sim, uuid: str) -> dict[str, str]:
    path = Path(sim.spool_dir) / f"{uuid}.cdr.json"
    variables = json.loads(path.read_text(encoding="utf-8"))["variables"]
    return {k: url_decode(v) if isinstance(v, str) else v for k, v in variables.items()}


@pytest.fixture
def two_flows(fssim_factory, tmp_path):
    write_flow(tmp_path, SECOND, "second.yaml.j2")  # found by name through ivr.flows_dir
    first = write_flow(tmp_path, FIRST, "first.yaml.j2")
    settings = Settings(data_dir=tmp_path / "data", ivr=IvrSettings(flows_dir=str(tmp_path), extension_context="default"))
    results: list[RunResult] = []
    holder = {}

    def handler(session):
        runner = FlowRunner(first, EslCallControl(session), queue=FixedExtensionQueue("user/1001"),
                            clock=holder["sim"].clock, settings=settings)
        results.append(runner.run())

    server = OutboundServer(handler, port=0)
    server.start()
    dialplan = tmp_path / "dialplan.xml"
    dialplan.write_text(DIALPLAN.replace("{port}", str(server.address[1])), encoding="utf-8")
    sim = fssim_factory(dialplan=dialplan)
    holder["sim"] = sim
    yield sim, results
    server.stop(timeout_s=1)


def test_a_flow_hands_the_call_to_another_flow(two_flows):
    sim, results = two_flows
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf="1")
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    result = results[0]
    assert (result.flow, result.outcome, result.reason, result.path) == ("second", "self-service", "normal",
                                                                        ("bye", "done"))
    assert any(entry.action == "run flow second" for entry in result.trace)
    assert result.transfer == a.Transfer("flow", "second")
    variables = _cdr(sim, uuid)
    assert variables[cdr_vars.FLOW] == "second"
    assert variables[cdr_vars.OUTCOME] == "self-service"
    assert variables[cdr_vars.FLOW_END] == "normal"


def test_a_transfer_leaves_the_flow_for_the_dialplan(two_flows):
    sim, results = two_flows
    uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf="2")
    sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    result = results[0]
    assert (result.outcome, result.reason, result.node) == ("transferred", "transferred", "to_desk")
    assert result.transfer == a.Transfer("extension", "5000", "default")
    assert result.ended_normally
    variables = _cdr(sim, uuid)
    assert variables["reached_desk"] == "yes"  # the extension the flow sent the call to ran
    assert variables[cdr_vars.OUTCOME] == "transferred"
    assert variables[cdr_vars.FLOW_END] == "transferred"


# ---------------------------------------------------------------- webhooks


@pytest.fixture
def http_server():
    """A gevent WSGI server on a free port: /ok echoes, /fail is a 500, /slow takes 2 s, /text is not JSON."""
    seen: list[tuple[str, str, bytes]] = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], body))
        path = environ["PATH_INFO"]
        if path == "/slow":
            gevent.sleep(2)
        if path == "/fail":
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"boom"]
        if path == "/text":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"verified": True, "got": json.loads(body or b"{}")}).encode()]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.stop(timeout=1)


def test_webhook_ok_sends_json_and_reads_json(http_server):
    base, seen = http_server
    client = HttpWebhookClient(gsocket.create_connection)
    result = client.call(a.Webhook("POST", base + "/ok?x=1", {"account": "88001234", "pin": "123456"}, 2.0))
    assert result.ok and result.data == {"verified": True, "got": {"account": "88001234", "pin": "123456"}}
    assert seen[0][:2] == ("POST", "/ok")


@pytest.mark.parametrize(("path", "timeout_s", "error"), [
    ("/fail", 2.0, "HTTP 500"),
    ("/text", 2.0, "not JSON"),
    ("/slow", 0.2, "timeout"),
])
def test_webhook_failures_are_results_not_exceptions(http_server, caplog, path, timeout_s, error):
    base, _seen = http_server
    caplog.set_level(logging.DEBUG)
    client = HttpWebhookClient(gsocket.create_connection)
    started = gevent.get_hub().loop.now()
    result = client.call(a.Webhook("POST", base + path, {"pin": "987654"}, timeout_s))
    assert not result.ok
    assert error in result.error.lower() or error in result.error
    assert gevent.get_hub().loop.now() - started < 1.5
    assert "987654" not in caplog.text and "987654" not in result.error


def test_webhook_refused_and_bad_urls():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    client = HttpWebhookClient(gsocket.create_connection)
    refused = client.call(a.Webhook("GET", f"http://127.0.0.1:{port}/x", {}, 1.0))
    assert not refused.ok and "ConnectionRefused" in refused.error
    assert "unsupported" in client.call(a.Webhook("POST", "ftp://example/x", {}, 1.0)).error


def test_webhook_with_stdlib_sockets_as_under_mod_python():
    """No gevent on this path: a threaded stdlib HTTP server, the client's default sockets."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            reply = json.dumps({"echo": body}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = HttpWebhookClient().call(a.Webhook("POST", f"http://127.0.0.1:{server.server_port}/w", {"a": 1}, 2.0))
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok and result.data == {"echo": {"a": 1}}


def test_a_failing_port_ends_the_call_as_an_error(fssim_factory, tmp_path, caplog):
    """A bug behind a port (here the queue) must not leave the caller in silence: the call is
    hung up with NORMAL_TEMPORARY_FAILURE and the CDR says the flow ended in error, and where."""
    from runtime_flows import socket_dialplan

    class BrokenQueue:
        def wait_in_queue(self, call, request):
            raise RuntimeError("the router is down")

    flow = write_flow(tmp_path)
    results: list[RunResult] = []
    holder = {}

    def handler(session):
        results.append(FlowRunner(flow, EslCallControl(session), queue=BrokenQueue(), clock=holder["sim"].clock).run())

    server = OutboundServer(handler, port=0)
    server.start()
    try:
        sim = fssim_factory(dialplan=socket_dialplan(tmp_path, server.address[1]))
        holder["sim"] = sim
        uuid = sim.place_call(destination="10086", caller_id_number="13800138000", dtmf="1,2468#")
        sim.wait_for(lambda: results and uuid not in sim.channels, timeout_s=20)
    finally:
        server.stop(timeout_s=1)
    result = results[0]
    assert (result.reason, result.node) == ("error", "agents")
    assert "the router is down" in caplog.text
    variables = _cdr(sim, uuid)
    assert variables[cdr_vars.FLOW_END] == "error"
    assert variables[cdr_vars.OUTCOME] == "failed"
    assert variables["hangup_cause"] == "NORMAL_TEMPORARY_FAILURE"
    assert variables[cdr_vars.PATH].endswith(">agents")
