"""Whatever the switch and the caller send back, the example flow never crashes, always ends,
and a sensitive value never reaches a channel variable or a printed action (hypothesis)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr_flows import actions as a
from ivr_flows.interpreter import step
from ivr_flows.loader import load_flow

EXAMPLE = load_flow(Path(__file__).resolve().parents[2] / "ivr_flows" / "templates" / "hotline_10086.yaml.j2")
PIN = "555555"
OTHER_KEYS = "1234678909*#"  # never 5: any 5 in a channel variable could only come from the PIN
CHANNEL_NAMES = {"fscc_recording_consent", "fscc_work_order_id"}

digits = st.text(alphabet=OTHER_KEYS, max_size=12)
customers = st.one_of(st.none(), st.fixed_dictionaries({
    "id": st.sampled_from(["C1", "C2"]), "name": st.just("Li"), "tier": st.integers(1, 7),
    "balance": st.sampled_from(["1.00", "12.30"]), "bill": st.just("8.00")}))
queue_outcomes = st.builds(a.QueueOutcome, st.sampled_from(["answered", "abandoned", "max-wait", "exit-key",
                                                            "callback", "failed", "nonsense"]),
                           exit_key=st.sampled_from([None, "1", "9"]))
webhooks = st.builds(a.WebhookResult, st.booleans(), st.just({"id": "WO-1"}))
anything = st.one_of(st.builds(a.Done), st.builds(a.Digits, digits), st.builds(a.LookupResult, customers),
                     queue_outcomes, webhooks, st.builds(a.RecordResult, st.just("/r/x.wav")))


def answer(data, last: a.Action | None) -> a.Event:
    """Mostly what the runner would send for `last`; sometimes anything at all; rarely a hang-up."""
    roll = data.draw(st.integers(0, 99))
    if roll < 2:
        return a.CallerGone()
    if roll < 6:
        return data.draw(anything)
    if isinstance(last, a.GetDigits):
        if last.sensitive:
            return a.Digits(data.draw(st.sampled_from([PIN, "", "12"])), sensitive=True)
        if last.max_digits == 1:
            return a.Digits(data.draw(st.sampled_from(["1", "2", "3", "0", "9", ""])))
        fitting = st.text(alphabet="12346789", min_size=last.min_digits, max_size=last.max_digits)
        return a.Digits(data.draw(st.one_of(fitting, digits)))
    if isinstance(last, a.Lookup):
        return a.LookupResult(data.draw(customers))
    if isinstance(last, a.Enqueue):
        return data.draw(queue_outcomes)
    if isinstance(last, a.Webhook):
        return data.draw(webhooks)
    if isinstance(last, a.Record):
        return a.RecordResult("/r/x.wav")
    return a.Done()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), caller=st.sampled_from(["13800138000", "13700137000"]),
       hour=st.integers(0, 23), weekday=st.integers(0, 6))
def test_random_calls_through_the_example(data, caller, hour, weekday):
    now = 1795399200.0 + weekday * 86400 + hour * 3600  # 2026-11-23 (Mon) 00:00 Shanghai + offsets
    state, batch = step(EXAMPLE, None, a.Start({"uuid": "u", "caller_id_number": caller}, {}, now, "Asia/Shanghai"))
    seen: list[a.Action] = list(batch)
    for _ in range(200):
        if any(isinstance(x, a.End) for x in batch):
            break
        state, batch = step(EXAMPLE, state, answer(data, batch[-1] if batch else None))
        seen.extend(batch)
    else:
        raise AssertionError(f"no end after 200 events; path {state.path}")
    assert state.finished and step(EXAMPLE, state, a.Done()) == (state, [])
    ends = [x for x in seen if isinstance(x, a.End)]
    assert len(ends) == 1 and ends[0].outcome in ("answered", "abandoned", "self-service", "callback", "voicemail",
                                                  "failed", "transferred")
    for action in seen:
        if isinstance(action, a.SetVar):
            assert action.name.startswith("fscc_") and "5" * 6 not in action.value
            assert action.name in CHANNEL_NAMES or action.name in state.published
        if not isinstance(action, a.Webhook):  # the CRM's verify call is the one place the PIN goes
            assert PIN not in repr(action)
    assert PIN not in repr(state) and PIN not in ">".join(state.path)
    masks = [type(x).__name__ for x in seen if isinstance(x, (a.MaskRecording, a.UnmaskRecording))]
    # every mask is lifted before the next one, except when the caller hung up while masked
    assert all(m != n for m, n in zip(masks, masks[1:], strict=False))
