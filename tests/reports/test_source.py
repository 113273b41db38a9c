"""Reading report inputs: contacts from a real SQLite CRM store, agent activity from JSON lines."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from reports.agent_states import ActivityChange, build_spans
from reports.facts import AgentState, ContactFacts, Outcome
from reports.source import ReportSourceError, read_activity_log, read_contacts

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.pg_times
def test_contact_rows_become_facts(crm_db, add):
    add(key="k-answered", started_at=T0 - 30, enqueued_at=T0, agent_answered_at=T0 + 12, queue="billing",
        agent="1001", tier=2, wait_s=12, talk_s=100, hold_s=5, acw_s=20, outcome="answered", ended_at=T0 + 117)
    add(key="k-self", started_at=T0 + 60, outcome="self-service")
    facts = read_contacts(crm_db)
    assert [f.contact_id for f in facts] == ["k-answered", "k-self"]
    answered, self_service = facts
    assert answered == ContactFacts(
        tenant="default", queue="billing", tier=2, agent="1001", channel="voice", offered_at=T0,
        answered_at=T0 + 12, abandoned_at=None, ended_at=T0 + 117, wait_s=12, talk_s=100, hold_s=5, acw_s=20,
        outcome=Outcome.ANSWERED, contact_id="k-answered")
    # never queued: offered when it arrived; empty queue/agent read as None
    assert self_service.offered_at == T0 + 60 and self_service.queue is None and self_service.agent is None


@pytest.mark.pg_times
def test_window_is_by_time_offered_not_time_started(crm_db, add):
    add(key="ivr-long", started_at=T0 - 600, enqueued_at=T0 + 5, outcome="abandoned", wait_s=30)  # started before, offered inside
    add(key="queued-before", started_at=T0 - 60, enqueued_at=T0 - 1, outcome="abandoned", wait_s=30)
    add(key="inside", started_at=T0 + 100, outcome="self-service")
    add(key="at-end", started_at=T0 + 900, outcome="self-service")  # [start, end): excluded
    add(key="other-tenant", tenant="acme", started_at=T0 + 10, outcome="self-service")
    got = [f.contact_id for f in read_contacts(crm_db, T0, T0 + 900, tenant="default")]
    assert got == ["ivr-long", "inside"]
    assert {f.contact_id for f in read_contacts(crm_db, T0, T0 + 900)} == {"ivr-long", "inside", "other-tenant"}


def test_unknown_outcome_names_the_contact(crm_db, add):
    add(key="k-bad", started_at=T0, outcome="hung-up")
    with pytest.raises(ReportSourceError, match="contact k-bad: unknown contact outcome 'hung-up'") as info:
        read_contacts(crm_db)
    assert info.value.exit_code == 2


def test_activity_log_reads_and_names_bad_lines(tmp_path):
    path = tmp_path / "agents.jsonl"
    path.write_text(json.dumps({"tenant": "default", "agent": "1001", "activity": "available", "at": T0}) + "\n\n"
                    + json.dumps({"agent": "1002", "activity": "break", "at": T0 + 5}) + "\n", encoding="utf-8")
    assert read_activity_log(path) == [ActivityChange("default", "1001", "available", T0),
                                       ActivityChange("default", "1002", "break", T0 + 5)]
    path.write_text(json.dumps({"agent": "1001", "activity": "available", "at": T0}) + "\n"
                    + json.dumps({"agent": "1001", "activity": "dancing", "at": T0}) + "\n", encoding="utf-8")
    with pytest.raises(ReportSourceError, match=r"agents.jsonl:2: bad agent activity line: unknown agent state 'dancing'"):
        read_activity_log(path)
    path.write_text('{"agent": "1001", "at": 1}\n', encoding="utf-8")
    with pytest.raises(ReportSourceError, match=r"agents.jsonl:1: .*missing key 'activity'"):
        read_activity_log(path)
    path.write_text('{"agent": "1001", \n', encoding="utf-8")
    with pytest.raises(ReportSourceError, match=r"agents.jsonl:1: bad agent activity line"):
        read_activity_log(path)
    with pytest.raises(ReportSourceError, match="cannot read the agent activity log"):
        read_activity_log(tmp_path / "missing.jsonl")


def _answered(agent: str, at: float, talk: float, hold: float = 0.0, acw: float = 0.0) -> ContactFacts:
    return ContactFacts(tenant="default", queue="q", tier=None, agent=agent, channel="voice", offered_at=at - 5,
                        answered_at=at, abandoned_at=None, ended_at=at + talk + hold, wait_s=5, talk_s=talk,
                        hold_s=hold, acw_s=acw, outcome=Outcome.ANSWERED)


def test_spans_lay_contacts_over_activity():
    changes = [ActivityChange("default", "1001", "available", T0),
               ActivityChange("default", "1001", "break", T0 + 600),
               ActivityChange("default", "1001", "available", T0 + 700),
               ActivityChange("default", "1001", "offline", T0 + 900)]
    contacts = [_answered("1001", T0 + 100, talk=80, hold=20, acw=30),  # busy 100-200, wrap-up 200-230
                _answered("1001", T0 + 220, talk=50)]  # a second channel while wrapping: busy wins 220-270
    spans = [(s.state, s.start - T0, s.end - T0) for s in build_spans(changes, contacts, T0 + 1000)]
    assert spans == [
        (AgentState.AVAILABLE, 0, 100), (AgentState.BUSY, 100, 200), (AgentState.WRAP_UP, 200, 220),
        (AgentState.BUSY, 220, 270), (AgentState.AVAILABLE, 270, 600), (AgentState.BREAK, 600, 700),
        (AgentState.AVAILABLE, 700, 900), (AgentState.OFFLINE, 900, 1000),
    ]


def test_spans_without_activity_and_past_the_horizon():
    # a call with no activity log still shows as handling; everything is cut at `end`
    spans = build_spans([], [_answered("7", T0, talk=100, acw=50)], T0 + 120)
    assert [(s.agent, s.state, s.start - T0, s.end - T0) for s in spans] == [
        ("7", AgentState.BUSY, 0, 100), ("7", AgentState.WRAP_UP, 100, 120)]
    assert build_spans([ActivityChange("default", "8", "wrap-up", T0)], [], T0 + 10)[0].state is AgentState.WRAP_UP


def test_acw_is_the_wrap_up_the_activity_log_measured():
    from reports.agent_states import attribute_acw

    changes = [ActivityChange("default", "1001", "available", T0),
               ActivityChange("default", "1001", "wrap-up", T0 + 201),  # after c1 (ended 200)
               ActivityChange("default", "1001", "available", T0 + 231),
               ActivityChange("default", "1001", "wrap-up", T0 + 500),  # after c2 (ended 470)
               ActivityChange("default", "1001", "break", T0 + 545),
               ActivityChange("default", "1002", "wrap-up", T0 + 200),  # another agent's
               ActivityChange("default", "1002", "available", T0 + 260),
               ActivityChange("default", "1003", "wrap-up", T0 + 700),  # too late for c4 (ended 600)
               ActivityChange("default", "1003", "available", T0 + 720)]
    c1 = _answered("1001", T0 + 100, talk=100)
    c2 = _answered("1001", T0 + 300, talk=150, hold=20)
    c3 = _answered("1002", T0 + 150, talk=50, acw=90)  # the CRM's planned 90 s; the agent was ready after 60
    c4 = _answered("1003", T0 + 500, talk=100, acw=30)  # no wrap-up of its own in the log: the CRM's stands
    got = attribute_acw([c2, c1, c3, c4], changes)
    assert [c.acw_s for c in got] == [45, 30, 60, 30]  # order kept; c2: 500-545, c1: 201-231, c3: 200-260
    assert got[0].handle_s == 150 + 20 + 45
    assert attribute_acw([c1], []) == [c1]


def test_float32_time_columns_are_detected_and_warned_about(crm_db, crm_db_url, add, caplog):
    from reports.source import imprecise_time_columns

    add(key="k", started_at=T0, outcome="self-service")
    if crm_db_url.startswith("sqlite"):
        assert imprecise_time_columns(crm_db) == []  # SQLite REAL is a double
        return
    # set the schema both ways explicitly, whatever crm_sync's migrations chose
    for column in ("started_at", "ended_at", "enqueued_at", "agent_answered_at", "abandoned_at", "answered_at",
                   "wrapup_end_at"):
        crm_db.execute_sql(f"ALTER TABLE contact ALTER COLUMN {column} TYPE double precision")
    assert imprecise_time_columns(crm_db) == []
    crm_db.execute_sql("ALTER TABLE contact ALTER COLUMN started_at TYPE real")
    crm_db.execute_sql("ALTER TABLE contact ALTER COLUMN ended_at TYPE real")
    crm_db.execute_sql("ALTER TABLE contact ALTER COLUMN wait_s TYPE real")  # a duration, not a time point
    assert imprecise_time_columns(crm_db) == ["ended_at", "started_at"]
    with caplog.at_level("WARNING", logger="reports.source"):
        read_contacts(crm_db)
    assert "keeps ended_at, started_at as PostgreSQL real (float32)" in caplog.text
