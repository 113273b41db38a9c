"""crm_sync.cdr on the real FreeSWITCH CDRs and on fscc-shaped ones (pure: no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_sync.cdr import LegRecord, Outcome, group_legs, leg_recording, parse_cdr, summarize_contact
from crm_sync.errors import CdrError
from fs_scripts import cdr_vars


def _legs(captures_dir: Path, scenario: str) -> list[LegRecord]:
    files = sorted(captures_dir.glob(f"{scenario}.cdr.*.json"))
    assert files, scenario
    return [parse_cdr(f.read_bytes(), f.name) for f in files]


def test_every_capture_cdr_parses(captures_dir: Path) -> None:
    files = sorted(captures_dir.glob("*.cdr.*.json"))
    assert len(files) >= 40
    legs = [parse_cdr(f.read_bytes(), f.name) for f in files]
    assert len({leg.uuid for leg in legs}) == len(legs)
    assert all(leg.start_us > 1_700_000_000_000_000 and leg.end_us >= leg.start_us for leg in legs)


def test_values_are_url_decoded_after_json_split(captures_dir: Path) -> None:
    leg = _legs(captures_dir, "uuid_bridge_two_parked_legs")[0]
    assert leg.caller_id_name == "Outbound Call"  # callflow profile: not encoded
    raw = json.loads((captures_dir / "uuid_bridge_two_parked_legs.cdr.1.loopback-5901-a.json").read_text())
    assert raw["variables"]["original_caller_id_name"] == "Outbound%20Call"
    doc = raw.copy()
    doc["variables"] = dict(raw["variables"], fscc_disposition="paid%0Aforged%3A%20header")
    leg = parse_cdr(json.dumps(doc), "x.cdr.json")
    assert leg.var(cdr_vars.DISPOSITION) == "paid\nforged: header"  # stays inside its own value


def test_answered_call(captures_dir: Path) -> None:
    legs = _legs(captures_dir, "bgapi_originate_park")
    [contact] = group_legs(legs)
    s = summarize_contact(contact)
    assert s.outcome is Outcome.ANSWERED
    assert s.leg_count == 2
    assert s.caller_leg == "065c9668-27ea-4ccc-8635-4847418937ef"  # the loopback B-leg ran the dialplan
    assert s.ani == "0000000000" and s.dnis == "5901"
    assert s.answered_at == pytest.approx(1795353564.643333)


def test_unanswered_call(captures_dir: Path) -> None:
    [contact] = group_legs(_legs(captures_dir, "bgapi_originate_park_unanswered"))
    s = summarize_contact(contact)
    assert s.outcome is Outcome.FAILED
    assert s.hangup_cause == "NO_ANSWER" and s.answered_at is None
    assert s.wait_s == pytest.approx(4.24, abs=0.01)  # rang from start to the hangup


def test_bridged_a_b_pair_is_one_contact(captures_dir: Path) -> None:
    legs = _legs(captures_dir, "uuid_bridge_two_parked_legs")
    contacts = group_legs(legs)
    assert len(contacts) == 1 and len(contacts[0]) == 4  # two loopback pairs joined by the bridge
    s = summarize_contact(contacts[0])
    assert s.outcome is Outcome.ANSWERED
    assert s.caller_leg == "3f3c33d7-c317-4541-9062-de1cbcb2a4b6"  # the half of the bridge originator
    assert s.ani == "2001"
    a = next(leg for leg in legs if leg.uuid == "de5ab702-6e54-4095-96ee-221bde2a2a01")
    assert "ad88dfc9-d180-46d8-afba-2df6ae9755f1" in a.links and "3f3c33d7-c317-4541-9062-de1cbcb2a4b6" in a.links


def test_callcenter_member_served_and_member_abandoned(captures_dir: Path) -> None:
    contacts = [summarize_contact(c) for c in group_legs(_legs(captures_dir, "callcenter"))]
    by_ani = {s.ani: s for s in contacts}
    served, gave_up = by_ani["5551001"], by_ani["5551002"]
    assert served.outcome is Outcome.ANSWERED and served.leg_count == 3
    assert served.queue == "support@default" and served.agent == "agent1@default"
    assert served.agent_leg == "f982bb01-8ba0-402a-b84f-bc4c6f8907ad"
    assert served.wait_s == pytest.approx(1.0) and served.talk_s > 2
    assert gave_up.outcome is Outcome.SHORT_ABANDONED and gave_up.wait_s == pytest.approx(2.0)
    assert summarize_contact(_legs(captures_dir, "callcenter")[3:], short_abandon_s=1).outcome is Outcome.ABANDONED


def test_failed_bridge_after_answer(captures_dir: Path) -> None:
    [contact] = group_legs(_legs(captures_dir, "outbound_bridge_to_user_fails"))
    assert summarize_contact(contact).outcome is Outcome.FAILED


def _parse_all(docs: list[dict]) -> list[LegRecord]:
    return [parse_cdr(json.dumps(d), f"{i}.cdr.json") for i, d in enumerate(docs)]


def test_fscc_variables_drive_the_contact(cdrs) -> None:
    legs = _parse_all(cdrs.fscc_call(wait_s=12, talk_s=60, wrapup_s=30, customer_id="C42", tier=2,
                                     recording={"path": "default/2026/11/22/x.wav", "size": 960044}))
    s = summarize_contact(legs)
    assert s.outcome is Outcome.ANSWERED and s.queue == "billing" and s.agent == "1001"
    assert s.customer_id == "C42" and s.tier == 2 and s.authenticated
    assert (s.wait_s, s.talk_s, s.acw_s) == (12.0, 60.0, 30.0)
    assert s.flow_path == "welcome>menu>queue" and s.ani == "13800138000" and s.dnis == "10086"
    rec = leg_recording(legs[0])
    assert rec is not None and rec.size_bytes == 960044 and rec.duration_ms == 60000


@pytest.mark.parametrize("outcome,wait,expected", [
    ("abandoned", 3, Outcome.SHORT_ABANDONED), ("abandoned", 30, Outcome.ABANDONED),
    ("callback", 30, Outcome.CALLBACK), ("voicemail", 30, Outcome.VOICEMAIL),
    ("self-service", 0, Outcome.SELF_SERVICE), ("failed", 0, Outcome.FAILED),
])
def test_outcomes(cdrs, outcome: str, wait: float, expected: Outcome) -> None:
    assert summarize_contact(_parse_all(cdrs.fscc_call(outcome=outcome, wait_s=wait))).outcome is expected


@pytest.mark.parametrize("text,needle", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not"),
    (b"[]", "expected a JSON object"),
    (b'{"callflow": []}', "no 'variables' object"),
    (b'{"variables": {"start_uepoch": "1"}}', "no leg uuid"),
    (b'{"variables": {"uuid": "u1"}}', "start_uepoch is missing"),
    (b'{"variables": {"uuid": "u1", "start_uepoch": "abc"}}', "start_uepoch is not an integer"),
    (b'{"variables": {"uuid": "u1", "start_uepoch": "10", "end_uepoch": "5"}}', "before start_uepoch"),
    (b'{"variables": {"uuid": "u1", "start_uepoch": "10", "fscc_tier": "9"}}', "fscc_tier is '9'"),
    (b'{"variables": {"uuid": "u1", "start_uepoch": "10", "fscc_outcome": "won"}}', "fscc_outcome is 'won'"),
    (b'{"variables": {"uuid": "u1", "start_uepoch": "10", "fscc_wait_s": "soon"}}', "fscc_wait_s is not a number"),
])
def test_errors_name_the_file_and_the_problem(text: bytes, needle: str) -> None:
    with pytest.raises(CdrError) as err:
        parse_cdr(text, "spool/abc.cdr.json")
    assert str(err.value).startswith("spool/abc.cdr.json: ") and needle in str(err.value)


def test_record_round_trips_through_json(captures_dir: Path) -> None:
    for leg in _legs(captures_dir, "callcenter"):
        assert LegRecord.from_json(leg.to_json()) == leg


def _uuid_bridge_and_callcenter_legs() -> list[LegRecord]:
    root = Path(__file__).resolve().parents[2]
    for captures in (root.parent / "shared" / "fs-captures", root / "shared" / "fs-captures"):
        if captures.is_dir():
            return _legs(captures, "uuid_bridge_two_parked_legs") + _legs(captures, "callcenter")
    raise RuntimeError("captures missing")


MIXED_LEGS = _uuid_bridge_and_callcenter_legs()


@settings(max_examples=40, deadline=None)
@given(st.permutations(MIXED_LEGS))
def test_grouping_and_summary_do_not_depend_on_leg_order(legs) -> None:
    got = {summarize_contact(c).key: summarize_contact(c) for c in group_legs(legs)}
    reference = {summarize_contact(c).key: summarize_contact(c) for c in group_legs(MIXED_LEGS)}
    assert got == reference and len(got) == 3
