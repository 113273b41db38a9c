"""The wrap-up end of a contact when its CDRs carry only the agent leg's fscc_wrapup_s (the
switch writes a leg's CDR at hangup, before the wrap-up ends): pure parse and summarize."""

from __future__ import annotations

import json

import pytest

from crm_sync.cdr import parse_cdr, summarize_contact
from crm_sync.errors import CdrError
from fs_scripts import cdr_vars
from fssim.cdr import cdr_from_parts

T0 = 1_800_000_000


def _leg(uuid: str, *, start: float, bridge: float = 0, end: float, **variables: str):
    us = {"start_uepoch": int((T0 + start) * 1e6), "end_uepoch": int((T0 + end) * 1e6),
          "answer_uepoch": int((T0 + bridge) * 1e6) if bridge else 0,
          "bridge_uepoch": int((T0 + bridge) * 1e6) if bridge else 0}
    doc = cdr_from_parts(uuid, {"uuid": uuid, **{k: str(v) for k, v in us.items()}, **variables}, {},
                         {"caller_id_number": "1300", "destination_number": "5000"})
    return parse_cdr(json.dumps(doc), f"{uuid}.cdr.json")


def _contact(agent_vars: dict[str, str], *, agent_bridged: bool = True):
    caller = _leg("c-1", start=0, bridge=20, end=80, **{cdr_vars.TENANT: "default", cdr_vars.QUEUE: "q",
                                                         cdr_vars.ANSWERED_AT: str(T0 + 20)})
    agent = _leg("a-1", start=15, bridge=20 if agent_bridged else 0, end=81,
                 **{cdr_vars.AGENT: "bob", cdr_vars.CALLER_UUID: "c-1", **agent_vars})
    return summarize_contact([caller, agent])


def test_the_wrap_up_ends_the_queue_s_seconds_after_the_agent_leg() -> None:
    s = _contact({cdr_vars.WRAPUP_S: "30.000"})
    assert s.wrapup_end_at == pytest.approx(T0 + 81 + 30)
    assert s.acw_s == 30.0


def test_a_stamped_wrap_up_end_wins_over_the_planned_one() -> None:
    s = _contact({cdr_vars.WRAPUP_S: "30.000", cdr_vars.WRAPUP_END_AT: str(T0 + 91)})
    assert s.wrapup_end_at == T0 + 91 and s.acw_s == 10.0


def test_an_agent_leg_that_never_talked_gives_no_after_call_work() -> None:
    s = _contact({cdr_vars.WRAPUP_S: "30.000"}, agent_bridged=False)
    assert s.wrapup_end_at is None and s.acw_s == 0.0


def test_a_bad_wrap_up_time_is_refused_naming_the_file() -> None:
    with pytest.raises(CdrError, match=r"a-1\.cdr\.json.*fscc_wrapup_s is not a number"):
        _contact({cdr_vars.WRAPUP_S: "half a minute"})
