"""Wrap-up end to end through fssim over TCP with `fscc serve`'s Service: the agent leg's CDR
carries the queue's after-call work (fscc_wrapup_s, set at origination, since the switch writes
the CDR at hangup, before any wrap-up ends), crm-sync gives the contact its ACW and wrap-up end,
and the agent activity log holds the wrap-up's real start and end, once each (exact even when
the agent ends the wrap-up early, which no CDR can say)."""

from __future__ import annotations

import gevent
import pytest

from crm_sync.models import Contact, open_database
from crm_sync.sync import SyncOptions, run_sync
from fs_scripts import cdr_vars
from fssim.directory import AgentBehaviour
from reports.agent_states import attribute_acw
from reports.source import read_activity_log, read_contacts

SCALE = 20.0
WRAPUP_S = 30.0

def _acd():
    from acd.config import AcdSettings, AgentSettings, QueueSettings

    return AcdSettings(agents={"bob": AgentSettings(name="Bob", extension="1002", skills={"support": 3})},
                       queues={"support": QueueSettings(target="skills.support >= 1", wrapup_s=WRAPUP_S)})


@pytest.fixture
def engine(start_queue_engine):
    return start_queue_engine(_acd(), ["1002"], SCALE)


def _talk(service, sim, number: str) -> tuple[str, str]:
    """One call answered by Bob and ended by the caller; returns (caller uuid, agent leg uuid)."""
    caller = sim.place_call(destination="5000", caller_id_number=number, context="public")
    bridged = []
    sim.wait_for(lambda: bridged.extend(e.get("Other-Leg-Unique-ID") for e in sim.events
                                        if e.name == "CHANNEL_BRIDGE" and e.get("Unique-ID") == caller) or bridged,
                 timeout_s=15)
    gevent.sleep(0.1)
    sim.channels[caller].hangup("NORMAL_CLEARING")
    sim.wait_for(lambda: not sim.channels, timeout_s=10)
    return caller, bridged[0]


def _bob(service) -> list[tuple[str, float]]:
    return [(c.activity, c.at) for c in read_activity_log(service.activity_log_path) if c.agent == "bob"]


def test_the_cdr_carries_the_wrap_up_and_the_activity_log_its_real_end(engine, read_cdr_variables) -> None:
    service, sim, settings, clock = engine
    router = service.routers["default"]
    sim.set_agent("1002", AgentBehaviour(answer_after_s=0.5))
    router.set_registered("bob", True)
    router.ready("bob")

    first, first_agent = _talk(service, sim, "13800138000")
    # the timer ends the first wrap-up (tick, from the housekeeping loop): Bob is offered again
    sim.wait_for(lambda: [a for a, _ in _bob(service)][-2:] == ["wrap-up", "available"], timeout_s=15)
    second, second_agent = _talk(service, sim, "13900139000")
    sim.wait_for(lambda: router.worker_state("bob")["activity"] == "wrap-up", timeout_s=10)
    early = clock.now()
    router.ready("bob")  # done with the notes before the timer: ends the wrap-up early
    sim.wait_for(lambda: len(_bob(service)) == 5, timeout_s=10)
    sim.wait_for(lambda: service.stats.calls_finished == 2, timeout_s=10)

    # the activity log: each transition once, the wrap-ups' true starts and ends
    log = _bob(service)
    assert [a for a, _ in log] == ["available", "wrap-up", "available", "wrap-up", "available"]
    wrap1, end1, wrap2, end2 = (at for _, at in log[1:])
    assert end1 - wrap1 == pytest.approx(WRAPUP_S, abs=2 * service.settings.serve.heartbeat_s + 1)
    assert end1 - wrap1 >= WRAPUP_S
    assert end2 == pytest.approx(early, abs=1.0) and end2 - wrap2 < WRAPUP_S / 2

    # the agent legs' CDRs: the queue's after-call work, set at origination
    leg_end = {}
    for agent_leg in (first_agent, second_agent):
        leg = read_cdr_variables(settings.spool_dir, agent_leg)
        assert leg[cdr_vars.AGENT] == "bob" and leg[cdr_vars.WRAPUP_S] == "30.000"
        assert cdr_vars.WRAPUP_END_AT not in leg  # nothing can stamp it before the switch writes the CDR
        leg_end[agent_leg] = int(leg["end_uepoch"]) / 1e6

    report = run_sync(SyncOptions(spool_dir=settings.spool_dir,
                                  db_url=f"sqlite:///{settings.data_dir.parent / 'crm.sqlite3'}",
                                  recordings_dir=settings.recordings_dir))
    assert report.quarantined == 0
    database = open_database(f"sqlite:///{settings.data_dir.parent / 'crm.sqlite3'}")
    with database.bind_ctx([Contact]):
        contacts = {c.ani: c for c in Contact.select()}
    for number, agent_leg in (("13800138000", first_agent), ("13900139000", second_agent)):
        contact = contacts[number]
        assert contact.outcome == "answered" and contact.agent == "bob"
        assert contact.acw_s == WRAPUP_S
        assert contact.wrapup_end_at == pytest.approx(leg_end[agent_leg] + WRAPUP_S, abs=0.001)
    # the timer-ended wrap-up: the CDR's planned end is the log's end (within a housekeeping tick)
    assert contacts["13800138000"].wrapup_end_at == pytest.approx(end1, abs=2 * service.settings.serve.heartbeat_s + 1)

    # the report: ACW as the agent worked it, from the activity log (the CRM's figure is the plan)
    facts = {c.contact_id: c for c in attribute_acw(read_contacts(database), read_activity_log(service.activity_log_path))}
    by_number = {number: facts[contacts[number].key] for number in ("13800138000", "13900139000")}
    assert by_number["13800138000"].acw_s == pytest.approx(end1 - wrap1)
    assert by_number["13900139000"].acw_s == pytest.approx(end2 - wrap2) and end2 - wrap2 < WRAPUP_S / 2
