"""The interpreter, node type by node type: exact action lists for scripted events. Pure."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

import pytest

from fs_scripts import cdr_vars
from ivr_flows import actions as a
from ivr_flows.interpreter import MAX_PASS_THROUGH, State, cdr_values, step
from ivr_flows.schema import build_flow

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
MON_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()  # a Monday, 10:00 in Shanghai
CALLER = "13800138000"


def make_flow(nodes: dict, start: str | None = None, **extra):
    data = {"flow": "t", "start": start or next(iter(nodes)), "nodes": nodes, **extra}
    flow, problems = build_flow(data, source="t.yaml.j2")
    assert problems == []
    return flow


def begin(flow, *, caller=CALLER, channel=None, now=MON_10, vars=None):
    call = {"uuid": "u-1", "caller_id_number": caller, "caller_id_name": "", "destination_number": "10086"}
    return step(flow, None, a.Start(call, channel or {}, now, "Asia/Shanghai", vars or {}))


def V(name: str, value: str) -> a.SetVar:
    return a.SetVar(name, value)


def opening(path: str, language: str = "en") -> list[a.Action]:
    return [a.Answer(), V("fscc_flow", "t"), V("fscc_path", path), V("fscc_outcome", "abandoned"),
            V("fscc_language", language)]


def ending(path: str, outcome: str, reason: str = "normal", cause: str | None = "NORMAL_CLEARING",
           node: str = "bye") -> list[a.Action]:
    out: list[a.Action] = [V("fscc_path", path), V("fscc_outcome", outcome), V("fscc_flow_end", reason)]
    if cause:
        out.append(a.Hangup(cause))
    return out + [a.End(outcome, reason, node)]


BYE = {"type": "hangup"}


# ---------------------------------------------------------------- play


def test_play_prompts_say_tone_silence_then_next():
    flow = make_flow({
        "hello": {"type": "play", "play": ["welcome", {"say": "vars.amount", "as": "money"},
                                           {"say": "now.date", "as": "date"}, {"tone": "%(200,0,800)"},
                                           {"silence_ms": 500}], "next": "bye"},
        "bye": BYE,
    }, variables={"amount": "12.50"})
    state, actions = begin(flow)
    items = (("prompt", "welcome"), ("say", "12.50", "money"), ("say", "2026-11-23", "date"),
             ("tone", "%(200,0,800)"), ("silence", "500"))
    assert actions == opening("hello") + [a.Play(items, "en")]
    state, actions = step(flow, state, a.Done(MON_10 + 3))
    assert actions == ending("hello>bye", "self-service")
    assert state.finished and state.end_reason == "normal"
    assert step(flow, state, a.Done()) == (state, [])  # a finished flow asks for nothing more


# ---------------------------------------------------------------- menu

MENU = {
    "menu": {"type": "menu", "prompt": "main", "options": {"1": "one", "0": "bye"}, "timeout_s": 4, "tries": 3,
             "timeout_prompt": "no_input", "invalid_prompt": "invalid", "on_timeout": "late", "on_invalid": "wrong"},
    "one": {"type": "hangup", "outcome": "self-service"},
    "late": {"type": "hangup", "outcome": "failed"},
    "wrong": {"type": "hangup", "outcome": "failed", "cause": "CALL_REJECTED"},
    "bye": BYE,
}
ASK = a.GetDigits("main", 1, 1, 4000, "", None, False, "en")


def test_menu_asks_one_digit_and_follows_the_option():
    flow = make_flow(MENU)
    state, actions = begin(flow)
    assert actions == opening("menu") + [ASK]
    state, actions = step(flow, state, a.Digits("1"))
    assert actions == ending("menu:1>one", "self-service", node="one")


def test_menu_retries_with_their_own_prompts_then_exits_on_timeout():
    flow = make_flow(MENU)
    state, _ = begin(flow)
    state, actions = step(flow, state, a.Digits(""))
    assert actions == [V("fscc_path", "menu:t"), a.Play((("prompt", "no_input"),), "en"), ASK]
    state, actions = step(flow, state, a.Digits("7"))
    assert actions == [V("fscc_path", "menu:t/7"), a.Play((("prompt", "invalid"),), "en"), ASK]
    state, actions = step(flow, state, a.Digits(""))  # third failure: tries exhausted, it was a timeout
    assert actions == ending("menu:t/7/t>late", "failed", node="late")


def test_menu_exits_to_on_invalid_after_n_wrong_keys():
    flow = make_flow({**MENU, "menu": {**MENU["menu"], "tries": 2}})
    state, _ = begin(flow)
    state, _ = step(flow, state, a.Digits("5"))
    state, actions = step(flow, state, a.Digits("#"))
    assert actions == ending("menu:5/#>wrong", "failed", cause="CALL_REJECTED", node="wrong")


def test_menu_without_exit_paths_ends_failed_and_without_retry_prompts_just_asks_again():
    flow = make_flow({"menu": {"type": "menu", "prompt": "main", "options": {"1": "bye"}, "tries": 2}, "bye": BYE})
    state, _ = begin(flow)
    state, actions = step(flow, state, a.Digits("9"))
    assert actions == [V("fscc_path", "menu:9"), a.GetDigits("main", 1, 1, 5000, "", None, False, "en")]
    state, actions = step(flow, state, a.Digits(""))
    assert actions == ending("menu:9/t", "failed", node="menu")


# ---------------------------------------------------------------- collect

COLLECT = {
    "acct": {"type": "collect", "prompt": "enter_account", "into": "account", "min_digits": 4, "max_digits": 8,
             "terminator": "#", "regex": "^8[0-9]+$", "tries": 2, "timeout_s": 7, "invalid_prompt": "invalid",
             "next": "bye", "on_failure": "agent"},
    "agent": {"type": "hangup", "outcome": "failed"},
    "bye": BYE,
}
ASK_ACCT = a.GetDigits("enter_account", 4, 8, 7000, "#", "^8[0-9]+$", False, "en")


def test_collect_valid_digits_land_in_the_variable_and_the_path():
    flow = make_flow(COLLECT)
    state, actions = begin(flow)
    assert actions == opening("acct") + [ASK_ACCT]
    state, actions = step(flow, state, a.Digits("88001234"))
    assert state.vars["account"] == "88001234"
    assert actions == ending("acct:88001234>bye", "self-service")


@pytest.mark.parametrize("bad", ["123", "812345678", "78001234", ""])
def test_collect_too_short_too_long_regex_mismatch_timeout_retry_then_on_failure(bad):
    flow = make_flow(COLLECT)
    state, _ = begin(flow)
    state, actions = step(flow, state, a.Digits(bad))
    mark = bad or "t"
    assert actions == [V("fscc_path", f"acct:{mark}"), a.Play((("prompt", "invalid"),), "en"), ASK_ACCT]
    state, actions = step(flow, state, a.Digits(bad))
    assert actions == ending(f"acct:{mark}/{mark}>agent", "failed", node="agent")
    assert "account" not in state.vars


def test_collect_without_on_failure_ends_failed():
    flow = make_flow({"acct": {**COLLECT["acct"], "tries": 1, "on_failure": None}, "bye": BYE})
    state, _ = begin(flow)
    state, actions = step(flow, state, a.Digits("1"))
    assert actions == ending("acct:1", "failed", node="acct")


SECRET = "4111111111111111"
CARD = {
    "card": {"type": "collect", "prompt": "enter_card", "into": "card", "min_digits": 16, "max_digits": 16,
             "tries": 2, "invalid_prompt": "invalid", "sensitive": True, "next": "pay"},
    "pay": {"type": "webhook", "url": "https://pay.example/charge", "body": {"card": "secret.card"},
            "next": "bye", "on_error": "bye"},
    "bye": BYE,
}
ASK_CARD = a.GetDigits("enter_card", 1 * 16, 16, 5000, "#", None, True, "en")


def test_sensitive_collect_masks_the_recording_and_keeps_the_value_out_of_path_vars_and_cdr(caplog):
    caplog.set_level(logging.DEBUG)
    flow = make_flow(CARD)
    state, actions = begin(flow)
    assert actions == opening("card") + [a.MaskRecording(), ASK_CARD]
    state, actions = step(flow, state, a.Digits("1234", sensitive=True))  # too short: retry, masked again
    assert actions == [a.UnmaskRecording(), a.Play((("prompt", "invalid"),), "en"), a.MaskRecording(), ASK_CARD]
    state, actions = step(flow, state, a.Digits(SECRET, sensitive=True))
    assert actions == [V("fscc_path", "card>pay"), a.UnmaskRecording(),
                       a.Webhook("POST", "https://pay.example/charge", {"card": SECRET}, 3.0)]
    assert state.secrets == {"card": SECRET}
    assert "card" not in state.vars and "1234" not in ">".join(state.path)
    assert SECRET not in repr(state) and SECRET not in repr(actions) and SECRET not in repr(a.Digits(SECRET, sensitive=True))
    assert all(SECRET not in v for v in cdr_values(state).values())
    state, actions = step(flow, state, a.WebhookResult(True))
    assert not any(isinstance(x, a.SetVar) and SECRET in x.value for x in actions)
    assert SECRET not in caplog.text


def test_a_sensitive_value_cannot_be_copied_to_a_variable_said_or_made_a_channel_variable():
    def problems(node):
        return [m for _, m in build_flow({"flow": "t", "start": "n", "nodes": {"n": node, "bye": BYE}})[1]]

    assert problems({"type": "set", "compute": {"x": "secret.card"}, "next": "bye"}) == [
        "node 'n': x: a sensitive value (secret.*) cannot be copied into a variable"]
    assert problems({"type": "set", "channel_compute": {"x": "secret.card"}, "next": "bye"}) == [
        "node 'n': x: a sensitive value (secret.*) cannot reach a channel variable"]
    assert problems({"type": "play", "play": [{"say": "secret.card"}], "next": "bye"}) == [
        "node 'n': a sensitive value (secret.*) cannot be said back"]
    assert problems({"type": "callback", "number": "secret.card"}) == [
        "node 'n': a sensitive value (secret.*) cannot become the callback number (it reaches the CDR)"]


def test_failing_expression_over_a_secret_is_logged_without_its_values(caplog):
    flow = make_flow({
        "card": {**CARD["card"], "next": "check"},
        "check": {"type": "branch", "cases": [{"if": "secret.card > 5 - 'x'", "next": "bye"}], "else": "bye"},
        "bye": BYE,
    })
    state, _ = begin(flow)
    with caplog.at_level(logging.WARNING, logger="ivr_flows.interpreter"):
        state, actions = step(flow, state, a.Digits(SECRET, sensitive=True))
    assert "secret.card > 5 - 'x'" in caplog.text and SECRET not in caplog.text
    assert actions[-1] == a.End("self-service", "normal", "bye")


# ---------------------------------------------------------------- set, branch, hours


def test_set_variables_computed_values_language_and_channel_variables():
    flow = make_flow({
        "s": {"type": "set", "vars": {"language": "zh", "n": 2}, "compute": {"m": "vars.n * 10 + 1"},
              "channel": {"my_flag": "on"}, "channel_compute": {"my_caller": "call.caller_id_number"}, "next": "p"},
        "p": {"type": "play", "play": [{"say": "vars.m"}], "next": "bye"},
        "bye": BYE,
    })
    state, actions = begin(flow)
    assert state.vars == {"language": "zh", "n": 2, "m": 21} and state.language == "zh"
    assert actions == [a.Answer(), V("fscc_flow", "t"), V("fscc_path", "s>p"), V("fscc_outcome", "abandoned"),
                       V("fscc_language", "zh"), V("my_flag", "on"), V("my_caller", CALLER),
                       a.Play((("say", "21", "number"),), "zh")]


def test_set_refuses_fscc_names_the_engine_owns_or_the_contract_lacks():
    def problems(channel):
        node = {"type": "set", "channel": channel, "next": "bye"}
        return [m for _, m in build_flow({"flow": "t", "start": "n", "nodes": {"n": node, "bye": BYE}})[1]]

    assert problems({"fscc_outcome": "answered"}) == [
        "node 'n': 'fscc_outcome' is set by the engine itself (the CDR contract); use vars or another name"]
    assert problems({"fscc_made_up": "1"}) == [
        "node 'n': 'fscc_made_up' is not a name of the CDR contract (fs_scripts/cdr_vars.py); fscc_* names are reserved"]
    assert problems({"fscc_recording_consent": "yes", "fscc_disposition": "x", "my_var": "1"}) == []


def test_branch_on_customer_tier_and_time_else():
    flow = make_flow({
        "b": {"type": "branch", "cases": [{"if": "tier == tiers.global_vip", "next": "vip"},
                                          {"if": "now.hour >= 21 or vars.force_late", "next": "late"}],
              "else": "bye"},
        "vip": {"type": "hangup", "outcome": "answered"},
        "late": {"type": "hangup", "outcome": "voicemail"},
        "bye": BYE,
    })
    assert begin(flow, channel={"fscc_tier": "1"})[1][-1] == a.End("answered", "normal", "vip")
    assert begin(flow)[1][-1] == a.End("self-service", "normal", "bye")
    assert begin(flow, vars={"force_late": True})[1][-1] == a.End("voicemail", "normal", "late")
    late = dt.datetime(2026, 11, 23, 21, 30, tzinfo=SH).timestamp()
    assert begin(flow, now=late)[1][-1] == a.End("voicemail", "normal", "late")


HOURS = {
    "h": {"type": "hours", "timezone": "Asia/Shanghai", "weekly": {"mon": ["08:00-12:00", "13:00-20:00"],
                                                                   "sat": ["09:00-17:00"]},
          "holidays": ["2026-10-01"], "open": "open", "closed": "closed", "holiday": "holiday"},
    "open": {"type": "hangup", "outcome": "answered"},
    "closed": {"type": "hangup", "outcome": "voicemail"},
    "holiday": {"type": "hangup", "outcome": "callback"},
}


@pytest.mark.parametrize(("local", "target"), [
    (dt.datetime(2026, 11, 23, 8, 0), "open"),  # start of a span is open
    (dt.datetime(2026, 11, 23, 12, 30), "closed"),  # lunch
    (dt.datetime(2026, 11, 23, 19, 59), "open"),
    (dt.datetime(2026, 11, 23, 20, 0), "closed"),  # end of a span is closed
    (dt.datetime(2026, 11, 24, 10, 0), "closed"),  # tuesday: no hours
    (dt.datetime(2026, 11, 28, 10, 0), "open"),  # saturday
    (dt.datetime(2026, 10, 1, 10, 0), "holiday"),  # a Thursday, national day
])
def test_hours_weekly_spans_and_holidays(local, target):
    flow = make_flow(HOURS)
    _, actions = begin(flow, now=local.replace(tzinfo=SH).timestamp())
    assert actions[-1].node == target
    assert actions[1:3] == [V("fscc_flow", "t"), V("fscc_path", f"h>{target}")]


def test_hours_read_the_clock_in_their_own_timezone_and_holiday_falls_back_to_closed():
    ny = {"h": {**HOURS["h"], "timezone": "America/New_York", "holiday": None}, **{k: v for k, v in HOURS.items() if k != "h"}}
    flow = make_flow(ny)
    # 2026-11-23 22:00 in Shanghai is 09:00 Monday in New York: open there
    _, actions = begin(flow, now=dt.datetime(2026, 11, 23, 22, 0, tzinfo=SH).timestamp())
    assert actions[-1].node == "open"
    # 10:00 Monday in Shanghai is Sunday 21:00 in New York: closed there
    assert begin(flow)[1][-1].node == "closed"
    holiday = dt.datetime(2026, 10, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York")).timestamp()
    assert begin(flow, now=holiday)[1][-1].node == "closed"


# ---------------------------------------------------------------- lookup

LOOKUP = {
    "who": {"type": "lookup", "by": "caller", "found": "acct", "not_found": "acct"},
    "acct": {"type": "lookup", "by": "account", "key": "vars.account", "authenticate": True,
             "found": "bye", "not_found": "bye"},
    "bye": BYE,
}


def test_lookup_by_caller_then_by_account_authenticates_and_publishes_tier_and_customer():
    flow = make_flow(LOOKUP)
    state, actions = begin(flow, vars={"account": "88001234"})
    assert actions == opening("who") + [a.Lookup("caller", CALLER, "default")]
    state, actions = step(flow, state, a.LookupResult({"id": "C1", "name": "Li", "tier": "prepaid"}))
    assert state.customer["id"] == "C1" and state.tier == 6 and not state.authenticated
    assert actions == [V("fscc_path", "who:found>acct"), V("fscc_tier", "6"), V("fscc_customer_id", "C1"),
                       a.Lookup("account", "88001234", "default")]
    state, actions = step(flow, state, a.LookupResult({"id": "C1", "name": "Li", "tier": 2}))
    assert state.authenticated and state.tier == 2
    assert actions == [V("fscc_path", "who:found>acct:found>bye"), V("fscc_outcome", "self-service"),
                       V("fscc_tier", "2"), V("fscc_authenticated", "true"), V("fscc_flow_end", "normal"),
                       a.Hangup("NORMAL_CLEARING"), a.End("self-service", "normal", "bye")]


def test_lookup_not_found_keeps_the_caller_unknown():
    flow = make_flow(LOOKUP)
    state, _ = begin(flow, vars={"account": "1"})
    state, actions = step(flow, state, a.LookupResult(None))
    assert state.customer is None and state.tier is None
    assert actions == [V("fscc_path", "who:not-found>acct"), a.Lookup("account", "1", "default")]


def test_the_authenticated_flag_and_tier_travel_with_the_call_into_the_next_flow():
    flow = make_flow({"b": {"type": "branch", "cases": [{"if": "authenticated and tier == 2", "next": "ok"}],
                            "else": "bye"}, "ok": {"type": "hangup", "outcome": "answered"}, "bye": BYE})
    channel = {"fscc_authenticated": "true", "fscc_tier": "2", "fscc_customer_id": "C9"}
    state, actions = begin(flow, channel=channel)
    assert state.authenticated and state.customer == {"id": "C9", "tier": 2}
    assert actions[-1] == a.End("answered", "normal", "ok")
    assert not begin(flow, channel={"fscc_authenticated": "yes"})[0].authenticated


def test_lookup_result_of_customer_info_flattens_attributes():
    from ivr_flows.ports import CustomerInfo

    info = CustomerInfo("C1", "Li", 4, ("139",), {"balance": "1.00"})
    assert a.LookupResult.of(info).customer == {"balance": "1.00", "id": "C1", "name": "Li", "tier": 4,
                                                "phones": ["139"], "attributes": {"balance": "1.00"}}
    assert a.LookupResult.of(None).customer is None


def test_a_lookup_key_read_from_a_secret_is_never_printed():
    flow = make_flow({"card": {**CARD["card"], "next": "who"},
                      "who": {"type": "lookup", "by": "account", "key": "secret.card", "found": "bye",
                              "not_found": "bye"}, "bye": BYE})
    state, _ = begin(flow)
    _, actions = step(flow, state, a.Digits(SECRET, sensitive=True))
    assert actions[-1] == a.Lookup("account", SECRET, "default", True)
    assert SECRET not in repr(actions[-1])


# ---------------------------------------------------------------- queue

QUEUE = {
    "q": {"type": "queue", "queue": "billing", "skills": {"billing": 3}, "priority_by_tier": {"prepaid": 35},
          "announce_prompt": "hold", "announce_every_s": 20, "callback_offer_after_s": 60, "max_wait_s": 300,
          "exit_keys": {"9": "vm"}, "answered": "survey", "on_max_wait": "vm", "on_callback": "cb",
          "on_failed": "vm"},
    "survey": {"type": "survey", "questions": [{"name": "sat", "prompt": "rate"}]},
    "vm": {"type": "voicemail", "queue": "vmq"},
    "cb": {"type": "hangup"},
}


def enqueue(tier: int, priority: int, customer=None, authenticated=False) -> a.Enqueue:
    return a.Enqueue(
        tenant="default", queue="billing", skills={"billing": 3}, language="en", tier=tier, priority=priority,
        customer_id=customer, moh="local_stream://moh", announce_prompt="hold", announce_every_s=20.0,
        attributes={"caller_id_number": CALLER, "call_uuid": "u-1", "language": "en",
                    "tier": tier if customer or tier != 7 else None, "flow": "t", "customer_id": customer,
                    "authenticated": authenticated},
        exit_keys=("9",), callback_offer_after_s=60.0, max_wait_s=300.0)


@pytest.mark.parametrize(("tier", "priority"), [(1, 100), (2, 80), (3, 60), (4, 50), (5, 40), (6, 35), (7, 10)])
def test_queue_turns_the_tier_into_priority(tier, priority):
    flow = make_flow(QUEUE)
    state, actions = begin(flow, channel={"fscc_tier": str(tier), "fscc_customer_id": "C1"})
    assert actions == [a.Answer(), V("fscc_flow", "t"), V("fscc_path", "q"), V("fscc_outcome", "abandoned"),
                       V("fscc_language", "en"), V("fscc_tier", str(tier)), V("fscc_customer_id", "C1"),
                       V("fscc_queue", "billing"), enqueue(tier, priority, "C1")]


def test_queue_unknown_caller_is_other_network_and_explicit_priority_wins():
    flow = make_flow(QUEUE)
    assert begin(flow)[1][-1] == enqueue(7, 10)
    fixed = make_flow({**QUEUE, "q": {**QUEUE["q"], "priority": 77}})
    assert begin(fixed, channel={"fscc_tier": "1"})[1][-1].priority == 77


def test_queue_answered_goes_on_to_the_survey_and_the_outcome_is_answered():
    flow = make_flow(QUEUE)
    state, _ = begin(flow)
    state, actions = step(flow, state, a.QueueOutcome("answered", agent_id="1001"))
    assert actions == [V("fscc_path", "q:answered>survey"), V("fscc_outcome", "answered"),
                       a.GetDigits("rate", 1, 1, 5000, "", "^[1-5]$", False, "en")]
    state, actions = step(flow, state, a.Digits("4"))
    assert actions == [V("fscc_survey", "sat=4"), V("fscc_flow_end", "normal"), a.Hangup("NORMAL_CLEARING"),
                       a.End("answered", "normal", "survey")]


@pytest.mark.parametrize(("event", "path", "node"), [
    (a.QueueOutcome("exit-key", exit_key="9"), "q:exit-key>vm", "vm"),
    (a.QueueOutcome("max-wait"), "q:max-wait>vm", "vm"),
    (a.QueueOutcome("failed"), "q:failed>vm", "vm"),
    (a.QueueOutcome("exit-key", exit_key="5"), "q:exit-key>vm", "vm"),  # not an exit key: on_failed
])
def test_queue_exits_to_voicemail(event, path, node):
    flow = make_flow(QUEUE)
    state, _ = begin(flow)
    state, actions = step(flow, state, event)
    assert actions == [V("fscc_path", path), a.Record(120, 200, 5, True)]


def test_queue_callback_and_abandon():
    flow = make_flow(QUEUE)
    state, _ = begin(flow)
    done, actions = step(flow, state, a.QueueOutcome("callback"))
    assert actions == [V("fscc_path", "q:callback>cb"), V("fscc_outcome", "callback"),
                       V("fscc_callback_number", CALLER), V("fscc_flow_end", "normal"),
                       a.Hangup("NORMAL_CLEARING"), a.End("callback", "normal", "cb")]
    done, actions = step(flow, state, a.QueueOutcome("abandoned"))
    assert actions == [V("fscc_path", "q:abandoned"), V("fscc_flow_end", "caller-hangup"),
                       a.End("abandoned", "caller-hangup", "q")]


def test_queue_without_exits_ends_failed():
    flow = make_flow({"q": {"type": "queue", "queue": "general"}})
    state, _ = begin(flow)
    _, actions = step(flow, state, a.QueueOutcome("max-wait"))
    assert actions == ending("q:max-wait", "failed", node="q")


# ---------------------------------------------------------------- transfer, voicemail/record, callback


@pytest.mark.parametrize(("node", "action"), [
    ({"type": "transfer", "to": "extension", "destination": "1001"}, a.Transfer("extension", "1001", None)),
    ({"type": "transfer", "to": "external", "destination": "+8613800138000", "context": "outbound"},
     a.Transfer("external", "+8613800138000", "outbound")),
    ({"type": "transfer", "to": "flow", "destination": "english.yaml.j2"}, a.RunFlow("english.yaml.j2", {"x": 1})),
])
def test_transfer_ends_the_flow_without_hanging_up(node, action):
    flow = make_flow({"t": node}, variables={"x": 1})
    _, actions = begin(flow)
    assert actions == [a.Answer(), V("fscc_flow", "t"), V("fscc_path", "t"), V("fscc_outcome", "transferred"),
                       V("fscc_language", "en"), V("fscc_flow_end", "transferred"), action,
                       a.End("transferred", "transferred", "t")]


def test_voicemail_becomes_a_task_and_record_fills_a_variable():
    flow = make_flow({
        "rec": {"type": "record", "into": "memo", "max_s": 30, "beep": False, "next": "vm"},
        "vm": {"type": "voicemail", "prompt": "leave", "queue": "vm-billing", "max_s": 60, "silence_s": 3},
    })
    state, actions = begin(flow)
    assert actions == opening("rec") + [a.Record(30, 200, 5, False)]
    state, actions = step(flow, state, a.RecordResult("/r/memo.wav"))
    assert state.vars["memo"] == "/r/memo.wav"
    assert actions == [V("fscc_path", "rec>vm"), a.Play((("prompt", "leave"),), "en"), a.Record(60, 200, 3, True)]
    state, actions = step(flow, state, a.RecordResult("/r/vm.wav"))
    task = a.CreateTask("voicemail", "default", "vm-billing", {
        "caller_id_number": CALLER, "call_uuid": "u-1", "language": "en", "tier": None, "flow": "t",
        "customer_id": None, "recording_path": "/r/vm.wav"})
    assert actions == [V("fscc_outcome", "voicemail"), V("fscc_flow_end", "normal"), task,
                       a.Hangup("NORMAL_CLEARING"), a.End("voicemail", "normal", "vm")]


def test_callback_schedules_a_task_for_the_number_and_plays_the_confirmation():
    flow = make_flow({"cb": {"type": "callback", "number": "vars.other", "prompt": "ok", "next": "bye"}, "bye": BYE},
                     variables={"other": "13900139000"})
    state, actions = begin(flow)
    task = a.CreateTask("callback", "default", "callback", {
        "caller_id_number": CALLER, "call_uuid": "u-1", "language": "en", "tier": None, "flow": "t",
        "customer_id": None, "number": "13900139000"})
    assert actions == [a.Answer(), V("fscc_flow", "t"), V("fscc_path", "cb"), V("fscc_outcome", "callback"),
                       V("fscc_language", "en"), V("fscc_callback_number", "13900139000"), task,
                       a.Play((("prompt", "ok"),), "en")]
    _, actions = step(flow, state, a.Done())
    assert actions == [V("fscc_path", "cb>bye"), V("fscc_flow_end", "normal"), a.Hangup("NORMAL_CLEARING"),
                       a.End("callback", "normal", "bye")]
    default = make_flow({"cb": {"type": "callback"}})
    assert begin(default)[0].callback_number == CALLER


# ---------------------------------------------------------------- webhook, survey, hangup

HOOK = {
    "w": {"type": "webhook", "url": "https://crm.example/orders", "body": {"who": "call.caller_id_number",
                                                                          "n": "1 + 1"},
          "timeout_s": 2, "into": "order", "next": "say", "on_error": "fallback"},
    "say": {"type": "play", "play": [{"say": "vars.order.id", "as": "digits"}], "next": "bye"},
    "fallback": {"type": "hangup", "outcome": "failed"},
    "bye": BYE,
}


def test_webhook_success_stores_the_reply_and_failure_takes_the_fallback_branch():
    flow = make_flow(HOOK)
    state, actions = begin(flow)
    assert actions == opening("w") + [a.Webhook("POST", "https://crm.example/orders", {"who": CALLER, "n": 2}, 2.0)]
    ok, actions = step(flow, state, a.WebhookResult(True, {"id": "42"}))
    assert ok.vars["order"] == {"id": "42"}
    assert actions == [V("fscc_path", "w:ok>say"), a.Play((("say", "42", "digits"),), "en")]
    _, actions = step(flow, state, a.WebhookResult(False, error="timeout"))
    assert actions == ending("w:error>fallback", "failed", node="fallback")


def test_survey_records_valid_answers_skips_invalid_and_thanks():
    flow = make_flow({"s": {"type": "survey", "questions": [{"name": "a", "prompt": "qa"},
                                                            {"name": "b", "prompt": "qb", "min": 0, "max": 9}],
                            "thanks_prompt": "thanks", "timeout_s": 3, "next": "bye"}, "bye": BYE})
    state, actions = begin(flow)
    assert actions[-1] == a.GetDigits("qa", 1, 1, 3000, "", "^[1-5]$", False, "en")
    state, actions = step(flow, state, a.Digits("7"))  # out of range: not recorded
    assert actions == [a.GetDigits("qb", 1, 1, 3000, "", "^[0-9]$", False, "en")]
    state, actions = step(flow, state, a.Digits("0"))
    assert actions == [V("fscc_survey", "b=0"), a.Play((("prompt", "thanks"),), "en")]
    _, actions = step(flow, state, a.Done())
    assert actions == ending("s>bye", "self-service")


def test_survey_ends_whatever_comes_back_after_the_thanks_prompt():
    flow = make_flow({"s": {"type": "survey", "questions": [{"name": "a", "prompt": "qa"}], "thanks_prompt": "thanks"}})
    state, _ = begin(flow)
    state, actions = step(flow, state, a.Digits("5"))
    assert actions[-1] == a.Play((("prompt", "thanks"),), "en")
    _, actions = step(flow, state, a.Digits(""))  # a runner that answers a Play with digits: no crash
    assert actions[-1] == a.End("self-service", "normal", "s")


def test_hangup_with_cause_and_outcome():
    flow = make_flow({"h": {"type": "hangup", "cause": "USER_BUSY", "outcome": "failed"}})
    _, actions = begin(flow)
    assert actions == [a.Answer(), V("fscc_flow", "t"), V("fscc_path", "h"), V("fscc_outcome", "failed"),
                       V("fscc_language", "en"), V("fscc_flow_end", "normal"), a.Hangup("USER_BUSY"),
                       a.End("failed", "normal", "h")]


# ---------------------------------------------------------------- hang-ups, loops, CDR


def test_caller_hangup_anywhere_ends_the_flow_where_it_was():
    flow = make_flow(MENU)
    state, _ = begin(flow)
    state, _ = step(flow, state, a.Digits("8"))
    state, actions = step(flow, state, a.CallerGone(cause="NORMAL_CLEARING"))
    assert actions == [a.End("abandoned", "caller-hangup", "menu")]
    assert state.finished and state.path == ("menu:8",)
    assert state.published[cdr_vars.PATH] == "menu:8" and state.published[cdr_vars.OUTCOME] == "abandoned"


def test_a_loop_of_instant_nodes_ends_failed_instead_of_spinning():
    flow = make_flow({"a1": {"type": "set", "vars": {"x": 1}, "next": "b1"},
                      "b1": {"type": "branch", "cases": [{"if": "true", "next": "a1"}], "else": "a1"}})
    state, actions = begin(flow)
    assert len(state.path) == MAX_PASS_THROUGH
    assert actions[-2:] == [a.Hangup("NORMAL_CLEARING"), a.End("failed", "error", "b1")]
    assert state.published[cdr_vars.FLOW_END] == "error"


def test_step_needs_start_first():
    flow = make_flow(MENU)
    with pytest.raises(ValueError, match="Start"):
        step(flow, None, a.Digits("1"))


def test_cdr_values_name_only_cdr_vars_and_skip_unknowns():
    state = State(flow="hotline", path=("a:1", "b"), language="zh", tier=3, customer={"id": "C7"},
                  authenticated=True, outcome="answered", queue="vip", survey=("sat=5",), end_reason="normal",
                  callback_number="139")
    assert cdr_values(state) == {
        cdr_vars.FLOW: "hotline", cdr_vars.PATH: "a:1>b", cdr_vars.OUTCOME: "answered", cdr_vars.LANGUAGE: "zh",
        cdr_vars.TIER: "3", cdr_vars.CUSTOMER_ID: "C7", cdr_vars.AUTHENTICATED: "true",
        cdr_vars.CALLBACK_NUMBER: "139", cdr_vars.QUEUE: "vip", cdr_vars.SURVEY: "sat=5",
        cdr_vars.FLOW_END: "normal"}
    assert cdr_values(State(flow="f")) == {cdr_vars.FLOW: "f", cdr_vars.PATH: "", cdr_vars.OUTCOME: "abandoned",
                                           cdr_vars.LANGUAGE: "en"}


def test_the_interpreter_and_the_authoring_tools_import_no_io_layer():
    """Same flow in a greenlet and in a FreeSWITCH thread: no gevent, sockets or network clients."""
    import subprocess
    import sys

    code = ("import sys, ivr_flows.interpreter, ivr_flows.loader, ivr_flows.lint, ivr_flows.testfile, ivr_flows.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('gevent', 'socket', 'greenswitch', 'redis', 'peewee', 'http', 'ssl', 'fssim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
