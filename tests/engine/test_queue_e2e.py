"""The ACD end to end, through fssim over real TCP, with `fscc serve`'s Service unchanged.

A caller's flow reaches a `queue` node; the router (Lua in a real Redis) reserves an agent;
the voice gateway rings the agent with `bgapi originate`, bridges on answer, and writes every
time point on the caller's channel; the switch's CDRs carry them; crm-sync puts the contacts
in SQLite. Agents who let the phone ring out are charged a no-answer and go on break; a
caller who hangs up while waiting is an abandoned contact with the reason on the CDR.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import gevent
import pytest

from crm_sync.models import Contact, Recording, open_database
from crm_sync.sync import SyncOptions, run_sync
from fs_scripts import cdr_vars
from fssim.directory import AgentBehaviour

SCALE = 20.0


def _acd():
    from acd.config import AcdSettings, AgentSettings, QueueSettings

    return AcdSettings(
        agents={"ann": AgentSettings(name="Ann", extension="1001", skills={"support": 3}),
                "bob": AgentSettings(name="Bob", extension="1002", skills={"support": 3})},
        queues={"support": QueueSettings(target="skills.support >= 1", wrapup_s=0.0, reservation_timeout_s=10.0)},
        no_answer_limit=1,
    )


@pytest.fixture
def engine(start_queue_engine):
    service, sim, settings, _ = start_queue_engine(_acd(), ["1001", "1002"], SCALE)
    return service, sim, settings


def _bridged(sim, uuid: str) -> bool:
    return any(e.name == "CHANNEL_BRIDGE" and uuid in (e.get("Unique-ID"), e.get("Other-Leg-Unique-ID"))
               for e in sim.events)


def test_no_answer_then_answer_then_abandon(engine, read_cdr_variables) -> None:
    service, sim, settings = engine
    router = service.routers["default"]
    sim.set_agent("1001", AgentBehaviour(answer_after_s=None))  # Ann lets it ring
    sim.set_agent("1002", AgentBehaviour(answer_after_s=1.0))
    for agent in ("ann", "bob"):
        router.set_registered(agent, True)
        router.login(agent)
    router.ready("ann")  # Ann has been idle longest: she is offered first
    gevent.sleep(0.05)
    router.ready("bob")

    answered = sim.place_call(destination="5000", caller_id_number="13800138000", context="public")
    sim.wait_for(lambda: _bridged(sim, answered), timeout_s=15)
    assert router.worker_state("ann")["activity"] == "break"
    assert router.worker_state("ann")["reason"] == "no-answer"
    sim.wait_for(lambda: any(e.name == "RECORD_START" and e.get("Unique-ID") == answered for e in sim.events),
                 timeout_s=10)  # the recording runs from the bridge
    gevent.sleep(0.1)
    sim.channels[answered].hangup("NORMAL_CLEARING")  # the caller ends the talk
    sim.wait_for(lambda: answered not in sim.channels, timeout_s=10)

    router.take_break("bob", "lunch")  # nobody left to answer
    abandoned = sim.place_call(destination="5000", caller_id_number="13900139000", context="public")
    sim.wait_for(lambda: router.task_state(abandoned) if _exists(router, abandoned) else False, timeout_s=10)
    gevent.sleep(0.2)
    sim.channels[abandoned].hangup("NORMAL_CLEARING")
    sim.wait_for(lambda: not sim.channels, timeout_s=10)
    sim.wait_for(lambda: service.stats.calls_finished == 2, timeout_s=10)

    caller = read_cdr_variables(settings.spool_dir, answered)
    assert caller[cdr_vars.QUEUE] == "support"
    assert caller[cdr_vars.AGENT] == "bob"
    assert caller[cdr_vars.RESERVATION_OUTCOME] == "accepted"
    assert caller[cdr_vars.OUTCOME] == "answered"
    enqueued, offered, answered_at = (float(caller[v]) for v in (cdr_vars.ENQUEUED_AT, cdr_vars.OFFERED_AT,
                                                                 cdr_vars.ANSWERED_AT))
    assert enqueued <= offered <= answered_at
    assert answered_at - enqueued >= 10 * 0.8  # Ann's ring ran out first (10 s reservation)
    assert float(caller[cdr_vars.WAIT_S]) == pytest.approx(answered_at - enqueued, abs=0.01)

    rings = [read_cdr_variables(settings.spool_dir, p.name.split(".")[0]) for p in settings.spool_dir.glob("*.cdr.json")]
    ann_legs = [v for v in rings if v.get(cdr_vars.AGENT) == "ann" and v.get(cdr_vars.CALLER_UUID) == answered]
    assert ann_legs and all(v["hangup_cause"] in ("NO_ANSWER", "ORIGINATOR_CANCEL") for v in ann_legs)
    assert ann_legs[0][cdr_vars.TASK_ID] == answered

    gone = read_cdr_variables(settings.spool_dir, abandoned)
    assert gone[cdr_vars.CANCEL_REASON] == "caller-hangup"  # written while the caller waited
    assert cdr_vars.ENQUEUED_AT in gone and cdr_vars.ANSWERED_AT not in gone
    assert cdr_vars.CANCEL_REASON not in caller
    assert router.task_state(abandoned)["state"] == "canceled"

    report = run_sync(SyncOptions(spool_dir=settings.spool_dir, db_url=f"sqlite:///{settings.data_dir.parent / 'crm.sqlite3'}",
                                  recordings_dir=settings.recordings_dir))
    assert report.quarantined == 0
    database = open_database(f"sqlite:///{settings.data_dir.parent / 'crm.sqlite3'}")
    with database.bind_ctx([Contact, Recording]):
        contacts = {c.ani: c for c in Contact.select()}
        recordings = list(Recording.select())
    assert set(contacts) == {"13800138000", "13900139000"}  # Ann's unanswered ring joined the first one
    talked = contacts["13800138000"]
    assert talked.outcome == "answered" and talked.agent == "bob"
    assert contacts["13900139000"].outcome in ("abandoned", "short-abandoned")
    # recorded from the bridge (default policy: always), linked to the answered contact
    assert len(recordings) == 1 and recordings[0].contact_id == talked.id
    wav = Path(recordings[0].path)
    assert wav.is_file() and wav.is_relative_to(settings.recordings_dir)
    assert recordings[0].sha256 == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert recordings[0].size_bytes == wav.stat().st_size > 44


def _exists(router, task_id: str) -> bool:
    from acd.errors import AcdError

    try:
        router.task_state(task_id)
        return True
    except AcdError:
        return False
