"""`fscc sim` as a separate process: it prints its port, speaks ESL, writes CDRs, stops on signals."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import gevent
import pytest
from gevent import subprocess

from fs_scripts.esl.inbound import InboundConnection
from fssim.testing import RawClient

READY = re.compile(r"fssim listening on ([\d.]+):(\d+)")


def _fscc(*args: str) -> list[str]:
    return [sys.executable, "-m", "fs_scripts.cli", *args]


class SimProcess:
    """`fscc sim` in a child process (gevent.subprocess: reading its pipes yields to the hub)."""

    def __init__(self, tmp_path: Path, *extra: str) -> None:
        self.spool = tmp_path / "spool"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            _fscc("sim", "--esl-port", "0", "--spool", str(self.spool), "--clock", "fast", "--clock-scale", "50",
                  *extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.port = self._wait_ready()

    def _wait_ready(self) -> int:
        seen = []
        with gevent.Timeout(20, AssertionError(f"fscc sim never became ready: {seen}")):
            while True:
                line = self.proc.stderr.readline().decode()
                if not line:
                    raise AssertionError(f"fscc sim exited ({self.proc.wait()}): {''.join(seen)}")
                seen.append(line)
                match = READY.search(line)
                if match:
                    return int(match.group(2))

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        rest = self.proc.stderr.read().decode()
        return self.proc.returncode, rest


@pytest.fixture
def sim_process(tmp_path):
    proc = SimProcess(tmp_path, "--agent", "1001")
    yield proc
    if proc.proc.poll() is None:
        proc.stop(signal.SIGKILL)


def test_sim_process_speaks_esl_and_stops_on_sigterm(sim_process):
    conn = InboundConnection("127.0.0.1", sim_process.port, "ClueCon", connect_timeout_s=5, command_timeout_s=5)
    conn.connect()
    try:
        assert "FreeSWITCH (Version 1.11.1" in conn.api("status")
        rows = json.loads(conn.api("show", "registrations", "as", "json"))
        assert [row["reg_user"] for row in rows["rows"]] == ["1001"]
        result = conn.api("originate", "loopback/5901/default", "&park")
        assert result.startswith("+OK ")
        uuid = result.split()[1]
        assert conn.api("uuid_kill", uuid) == "+OK\n"
    finally:
        conn.close()
    spool = sim_process.spool
    with gevent.Timeout(10):
        while len(list(spool.glob("*.cdr.json"))) < 2:
            gevent.sleep(0.05)
    assert (spool / f"{uuid}.cdr.json").is_file()
    code, rest = sim_process.stop(signal.SIGTERM)
    assert code == 0 and "fssim stopped" in rest


def test_sigint_hangs_up_live_calls_and_writes_their_cdrs(sim_process):
    client = RawClient(sim_process.port)
    assert client.next_frame().content_type == "auth/request"
    assert client.command("auth ClueCon").reply_text == "+OK accepted"
    reply = client.command("api fssim_call 5901 context=default caller_id_number=13800138000").body_text
    assert reply.startswith("+OK ")
    uuid = reply.split()[1]
    assert client.command(f"api uuid_getvar {uuid} sip_from_user").body_text == "13800138000"
    client.close()
    code, _ = sim_process.stop(signal.SIGINT)
    assert code == 0
    cdr = json.loads((sim_process.spool / f"{uuid}.cdr.json").read_text())
    assert cdr["variables"]["hangup_cause"] == "SYSTEM_SHUTDOWN"


def test_bad_dialplan_and_taken_port_fail_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<include>\n  <context name='x'>\n    <extension>\n</include>\n")
    done = subprocess.run(_fscc("sim", "--esl-port", "0", "--spool", str(tmp_path / "s"), "--dialplan", str(bad)),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert f"{bad}:4:" in done.stderr and "bad-dialplan" in done.stderr

    holder = SimProcess(tmp_path)
    try:
        taken = subprocess.run(_fscc("sim", "--esl-port", str(holder.port), "--spool", str(tmp_path / "s2")),
                               capture_output=True, text=True, timeout=30)
        assert taken.returncode == 2
        assert f"cannot listen on 127.0.0.1:{holder.port}" in taken.stderr
    finally:
        holder.stop()
