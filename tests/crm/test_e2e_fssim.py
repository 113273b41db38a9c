"""End to end through fssim: calls bridged to agents (originate + uuid_bridge over ESL, as the
voice queue does) are recorded by the recording hooks; the switch writes the CDRs; crm-sync puts
the contacts, legs and recordings in the CRM (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid as uuid_module
from types import SimpleNamespace

import pytest

from crm_sync.models import MODELS, Contact, Leg, Recording, open_database
from crm_sync.sync import SyncOptions, run_sync
from fs_scripts import cdr_vars, recording
from fs_scripts.esl import commands
from fs_scripts.esl.inbound import InboundConnection
from fs_scripts.recording_config import (
    RecordingMode,
    RecordingPolicy,
    RecordingSettings,
    TenantRecording,
)
from fssim.directory import AgentBehaviour

pytestmark = pytest.mark.timeout(90)


def _queue_vars(sim, tenant: str, queue: str, agent: str | None, outcome: str) -> dict[str, str]:
    now = sim.clock.now()
    values = {cdr_vars.TENANT: tenant, cdr_vars.CHANNEL: "voice", cdr_vars.FLOW: "hotline.yaml.j2",
              cdr_vars.PATH: "welcome>menu>queue", cdr_vars.QUEUE: queue, cdr_vars.OUTCOME: outcome,
              cdr_vars.ENQUEUED_AT: cdr_vars.format_time(now - 8)}
    if agent:
        values.update({cdr_vars.AGENT: agent, cdr_vars.ANSWERED_AT: cdr_vars.format_time(now), cdr_vars.WAIT_S: "8.000"})
    else:
        values.update({cdr_vars.ABANDONED_AT: cdr_vars.format_time(now), cdr_vars.WAIT_S: "8.000"})
    return values


def _set(conn: InboundConnection, uuid: str, values: dict[str, str]) -> None:
    conn.api("uuid_setvar_multi", uuid, ";".join(f"{k}={v}" for k, v in values.items()))


def _caller(sim, number: str) -> str:
    caller = sim.place_call("5901", caller_id_number=number)
    sim.wait_for(lambda: sim.find(caller) is not None and sim.find(caller).answered_at is not None, 5)
    return caller


def _agent_leg(conn: InboundConnection, agent: str) -> str:
    agent_uuid = str(uuid_module.uuid4())
    dial = commands.dial_string(f"user/{agent}", {"origination_uuid": agent_uuid})
    assert conn.bgapi("originate", commands.originate(dial, "&park"), timeout_s=10).startswith("+OK")
    return agent_uuid


def test_recorded_calls_land_in_the_crm_with_their_recordings(fssim_factory, db_url: str) -> None:
    sim = fssim_factory()
    for agent in ("1001", "1002", "1009"):
        sim.set_agent(agent, AgentBehaviour(answer_after_s=1.0))
    conn = InboundConnection("127.0.0.1", sim.esl_port, "ClueCon", reconnect=False, command_timeout_s=5)
    conn.connect()
    conn.subscribe("BACKGROUND_JOB", "RECORD_STOP")
    stops = []
    conn.on("RECORD_STOP", lambda e: stops.append(recording.on_record_stop(e, conn.api)))
    settings = RecordingSettings(tenants={"acme": TenantRecording(
        default=RecordingPolicy(RecordingMode.ALWAYS), queues={"pay": RecordingPolicy(RecordingMode.NEVER)})})
    recorder = recording.BridgeRecorder(settings, sim.recordings_dir, conn.api, sim.clock)

    # 1: answered by 1001, a card number masked, recording stopped before the agent hangs up
    served = _caller(sim, "13800138001")
    agent1 = _agent_leg(conn, "1001")
    conn.api("uuid_bridge", served, agent1)
    _set(conn, served, _queue_vars(sim, "acme", "billing", "1001", "answered"))
    assert recorder(served, agent1, SimpleNamespace(tenant="acme", queue="billing")).record_at_bridge
    sim.clock.sleep(2)
    assert recording.mask(conn.api, served) and recording.unmask(conn.api, served)
    sim.clock.sleep(2)
    assert recording.stop_recording(conn.api, served)
    sim.wait_for(lambda: len(stops) == 1, 5)
    conn.api("uuid_kill", agent1)

    # 2: answered by 1002, the caller hangs up while recording: the CDR is written first
    hung = _caller(sim, "13800138002")
    agent2 = _agent_leg(conn, "1002")
    conn.api("uuid_bridge", hung, agent2)
    _set(conn, hung, _queue_vars(sim, "acme", "billing", "1002", "answered"))
    recorder(hung, agent2, SimpleNamespace(tenant="acme", queue="billing"))
    sim.clock.sleep(3)
    conn.api("uuid_kill", hung)

    # 3: a queue that is never recorded; 4: a caller who gave up waiting
    private = _caller(sim, "13800138003")
    agent3 = _agent_leg(conn, "1009")
    conn.api("uuid_bridge", private, agent3)
    _set(conn, private, _queue_vars(sim, "acme", "pay", "1009", "answered"))
    assert recorder(private, agent3, SimpleNamespace(tenant="acme", queue="pay")).reason == "never"
    sim.clock.sleep(1)
    conn.api("uuid_kill", private)
    gave_up = _caller(sim, "13800138004")
    _set(conn, gave_up, _queue_vars(sim, "acme", "billing", None, "abandoned"))
    conn.api("uuid_kill", gave_up)

    sim.wait_for(lambda: not sim.channels and len(stops) == 2, 10)
    conn.close()
    cdr_files = sorted(sim.spool_dir.glob("*.cdr.json"))
    assert len(cdr_files) == 7

    report = run_sync(SyncOptions(spool_dir=sim.spool_dir, db_url=db_url, recordings_dir=sim.recordings_dir))
    assert (report.legs, report.contacts, report.quarantined) == (7, 4, 0)
    db = open_database(db_url)
    with db.bind_ctx(MODELS):
        by_ani = {c.ani: c for c in Contact.select()}
        assert set(by_ani) == {"13800138001", "13800138002", "13800138003", "13800138004"}
        one = by_ani["13800138001"]
        assert (one.outcome, one.queue, one.agent, one.tenant, one.leg_count) == ("answered", "billing", "1001", "acme", 2)
        assert {leg.uuid for leg in one.legs} == {served, agent1}
        rec1 = Recording.get(Recording.leg_uuid == served)
        file1 = sim.recordings_dir.resolve() / "acme"
        assert rec1.contact_id == one.id and rec1.tenant == "acme" and rec1.path.startswith(str(file1))
        assert rec1.path == stops[0].path and rec1.sha256 == recording.file_sha256(rec1.path)
        assert rec1.duration_ms == stops[0].duration_ms and rec1.duration_ms >= 3500
        assert rec1.size_bytes == stops[0].size_bytes and not rec1.legal_hold and rec1.deleted_at is None

        two = by_ani["13800138002"]
        assert (two.outcome, two.agent, two.leg_count) == ("answered", "1002", 2)
        rec2 = Recording.get(Recording.leg_uuid == hung)
        assert rec2.contact_id == two.id
        # completed by crm-sync from the switch's record_ms / record_file_size and the file itself
        assert rec2.sha256 == recording.file_sha256(rec2.path)
        assert rec2.size_bytes == len(open(rec2.path, "rb").read()) and rec2.duration_ms >= 2500

        assert by_ani["13800138003"].outcome == "answered"
        assert not Recording.select().where(Recording.contact == by_ani["13800138003"].id).exists()
        assert by_ani["13800138004"].outcome == "abandoned" and by_ani["13800138004"].leg_count == 1
        assert Recording.select().count() == 2
        assert Leg.select().count() == 7
    db.close()

    # a second run over the archived-and-copied files changes nothing
    again = run_sync(SyncOptions(spool_dir=sim.spool_dir, db_url=db_url, recordings_dir=sim.recordings_dir))
    assert (again.legs, again.quarantined) == (0, 0)
