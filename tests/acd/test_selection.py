"""The pure routing rules: strategies, task order, priority from tier, workflow plans, transitions."""

from __future__ import annotations

import pytest

from acd.config import (
    AcdSettings,
    AgentSettings,
    FilterSettings,
    QueueSettings,
    TargetSettings,
    WorkflowSettings,
)
from acd.errors import IllegalTransition, RoutingConfigError
from acd.model import (
    PRIORITY_SPAN,
    RESERVATION_TRANSITIONS,
    TASK_TRANSITIONS,
    WORKER_TRANSITIONS,
    Queue,
    ReservationState,
    Strategy,
    TaskOrder,
    TaskState,
    Worker,
    WorkerActivity,
    check_transition,
    lua_transition_tables,
    order_score,
)
from acd.routing import build_plan, worker_attributes
from acd.selection import occupancy_percent, random_score, select_workers, worker_score
from acd.tiers import Tier, priority_for_tier


def _w(wid: str, *, idle: float = 0.0, skill: int = 0, used: int = 0, cap: int = 1, chat_used: int = 0,
       activity: WorkerActivity = WorkerActivity.AVAILABLE, registered: bool = True, rr: int = 0) -> Worker:
    return Worker(
        worker_id=wid, attributes={"skills": {"billing": skill}}, capacity={"voice": cap, "chat": 3},
        activity=activity, registered=registered, used={"voice": used, "chat": chat_used},
        idle_since={"voice": idle, "chat": idle}, last_offer_seq={"billing": rr},
    )


POOL = [
    _w("a", idle=300.0, skill=2, chat_used=2, rr=7),
    _w("b", idle=100.0, skill=5, chat_used=0, rr=9),
    _w("c", idle=200.0, skill=5, chat_used=1, rr=0),
    _w("d", idle=50.0, skill=1, chat_used=3, rr=3),
]


def _ids(workers: list[Worker]) -> list[str]:
    return [w.worker_id for w in workers]


@pytest.mark.parametrize(
    ("strategy", "channel", "expected"),
    [
        (Strategy.LONGEST_IDLE, "voice", ["b"]),  # without d (idle since 50): b, idle since 100
        (Strategy.ROUND_ROBIN, "voice", ["c"]),  # never offered from this queue (seq 0) first
        (Strategy.MOST_SKILLED, "voice", ["b"]),  # b and c have level 5; b idle longer (since 100)
        (Strategy.LEAST_OCCUPIED, "chat", ["b"]),  # 0 of 4 used
        (Strategy.RING_ALL, "voice", ["d", "b", "c"]),  # ring_all_max 3, longest idle first
    ],
)
def test_each_strategy_picks_exactly(strategy: Strategy, channel: str, expected: list[str]) -> None:
    queue = Queue("billing", strategy=strategy, ranking_skill="billing", ring_all_max=3)
    pool = [w for w in POOL if w.worker_id != "d"] if strategy is Strategy.LONGEST_IDLE else POOL
    assert _ids(select_workers(queue, pool, channel)) == expected


def test_longest_idle_is_the_earliest_idle_since() -> None:
    queue = Queue("billing")
    assert _ids(select_workers(queue, POOL, "voice")) == ["d"]  # idle since t=50: the longest
    assert [worker_score(queue, w, "voice") for w in POOL] == [300.0, 100.0, 200.0, 50.0]


def test_scores_of_ranked_strategies() -> None:
    most = Queue("billing", strategy=Strategy.MOST_SKILLED, ranking_skill="billing")
    assert worker_score(most, POOL[1], "voice") == -5 * PRIORITY_SPAN + 100.0
    least = Queue("billing", strategy=Strategy.LEAST_OCCUPIED)
    # a: 0 voice + 2 chat of 1 + 3 = 50 %; d: 3 of 4 = 75 %
    assert [occupancy_percent(w.used, w.capacity) for w in POOL] == [50, 0, 25, 75]
    assert worker_score(least, POOL[0], "chat") == 50 * PRIORITY_SPAN + 300.0
    assert occupancy_percent({"voice": 1}, {}) == 100
    assert occupancy_percent({"chat": 2}, {"chat": 3}) == 66  # whole percent, floor, as in Lua


def test_random_strategy_follows_the_scripted_hash() -> None:
    queue = Queue("billing", strategy=Strategy.RANDOM)
    values = {"a": random_score(44490, 0), "b": random_score(1, 0), "c": random_score(3, 0), "d": random_score(2, 0)}
    # 44490 * 48271 wraps past the modulus 2**31 - 1: a ranks second, not last
    assert values == {"a": 93143.0, "b": 48271.0, "c": 144813.0, "d": 96542.0}
    assert _ids(select_workers(queue, POOL, "voice", values)) == ["b"]
    ring = Queue("billing", strategy=Strategy.RING_ALL, ring_all_max=4)
    assert _ids(select_workers(ring, POOL, "voice")) == ["d", "b", "c", "a"]
    # after one offer each worker's score moves (the seed is combined with its offer count)
    assert random_score(11, 1) == float(((11 + 7919) * 48271) % 2147483647)
    big = random_score(2**31 - 2, 10**6)  # stays exact: below 2**53 at every step
    assert big == float((((2**31 - 2 + 7919 * 10**6) % 2147483647) * 48271) % 2147483647)


def test_ties_fall_to_the_worker_id() -> None:
    queue = Queue("billing")
    same = [_w("z", idle=10.0), _w("m", idle=10.0), _w("q", idle=10.0)]
    assert _ids(select_workers(Queue("billing", strategy=Strategy.RING_ALL, ring_all_max=5), same, "voice")) == ["m", "q", "z"]
    assert _ids(select_workers(queue, same, "voice")) == ["m"]


def test_only_offerable_workers_are_selected() -> None:
    queue = Queue("billing", strategy=Strategy.RING_ALL, ring_all_max=10)
    pool = [
        _w("busy", idle=1.0, used=1),  # voice capacity 1 used
        _w("brk", idle=2.0, activity=WorkerActivity.BREAK),
        _w("off", idle=3.0, activity=WorkerActivity.OFFLINE),
        _w("wrap", idle=4.0, activity=WorkerActivity.WRAP_UP),
        _w("unreg", idle=5.0, registered=False),
        _w("od", idle=6.0, activity=WorkerActivity.ON_DEMAND),
        _w("ok", idle=7.0),
    ]
    assert _ids(select_workers(queue, pool, "voice")) == ["od", "ok"]
    # chat rings no phone: an unregistered worker may take chats; capacity 3 per worker
    assert _ids(select_workers(queue, pool, "chat")) == ["busy", "unreg", "od", "ok"]
    assert pool[0].free("voice") == 0 and pool[0].free("chat") == 3


def test_fifo_lifo_and_priority_order() -> None:
    assert order_score(50, 1000.0) < order_score(50, 1001.0)  # FIFO: older first
    assert order_score(50, 1001.0, TaskOrder.LIFO) < order_score(50, 1000.0, TaskOrder.LIFO)  # LIFO: newer first
    assert order_score(100, 5000.0) < order_score(50, 1000.0)  # priority dominates time
    assert order_score(100, 5000.0, TaskOrder.LIFO) < order_score(99, 9000.0, TaskOrder.LIFO)
    assert order_score(50, 1_700_000_000.0) == 950 * PRIORITY_SPAN + 1_700_000_000.0
    assert order_score(0, 1.0, TaskOrder.LIFO) == 1000 * PRIORITY_SPAN + PRIORITY_SPAN - 2.0
    with pytest.raises(ValueError, match="0..1000"):
        order_score(1001, 1.0)


def _settings(**kw) -> AcdSettings:
    queues = {
        "billing": QueueSettings(target="skills.billing >= 1"),
        "vip": QueueSettings(target="skills.billing >= 4 and 'en' in languages", strategy=Strategy.MOST_SKILLED),
        "overflow": QueueSettings(target="true"),
    }
    flows = {
        "inbound": WorkflowSettings(
            filters=(
                FilterSettings(name="vip", expression="tier <= 2", targets=(
                    TargetSettings(queue="vip", timeout_s=20, priority=900),
                    TargetSettings(queue="billing", expression="skills.billing >= 3", timeout_s=30, skip_if_no_workers=True),
                    TargetSettings(queue="overflow"),
                )),
                FilterSettings(name="zh", expression="language == 'zh'", targets=(TargetSettings(queue="billing"),)),
            ),
            default_queue="overflow",
        )
    }
    return AcdSettings(queues=queues, workflows=flows, **kw)


def test_priority_from_tier() -> None:
    plan = build_plan(_settings(tier_priority={"prepaid": 35, "7": 1}))
    assert [priority_for_tier(t) for t in Tier] == [100, 80, 60, 50, 40, 30, 10]
    assert plan.priority({"tier": 1}) == 100
    assert plan.priority({"tier": "global_vip"}) == 100
    assert plan.priority({"tier": "6"}) == 35  # overridden by name
    assert plan.priority({"tier": 7}) == 1  # overridden by number
    assert plan.priority({}) == 50
    assert plan.priority({"tier": 1, "priority": 5000}) == 1000  # explicit, clamped
    with pytest.raises(ValueError, match="unknown customer tier"):
        plan.priority({"tier": "gold"})


def test_workflow_filters_give_ordered_steps() -> None:
    plan = build_plan(_settings())
    vip_steps = plan.route("inbound", {"tier": 1, "language": "zh"})  # first matching filter wins
    derived = vip_steps[1].routing_queue
    assert derived.startswith("billing+") and len(derived) == len("billing+") + 8
    assert [(s.routing_queue, s.timeout_s, s.skip_if_no_workers, s.priority) for s in vip_steps] == [
        ("vip", 20, False, 900), (derived, 30, True, None), ("overflow", 0.0, False, None)]
    assert [s.routing_queue for s in plan.route("inbound", {"tier": 4, "language": "zh"})] == ["billing"]
    assert [s.routing_queue for s in plan.route("inbound", {"tier": 4})] == ["overflow"]
    assert plan.queues[derived].target == "(skills.billing >= 1) and (skills.billing >= 3)"
    assert plan.base_of[derived] == "billing"
    with pytest.raises(RoutingConfigError, match="unknown workflow 'nope'"):
        plan.route("nope", {})
    # eligibility is computed against every routing queue, once per attribute change
    agent = worker_attributes("1001", AgentSettings(skills={"billing": 3}, languages=("en",)))
    assert plan.eligible_queues(agent) == sorted(["billing", derived, "overflow"])
    agent5 = worker_attributes("1002", AgentSettings(skills={"billing": 5}, languages=("en",)))
    assert plan.eligible_queues(agent5) == sorted(["billing", derived, "overflow", "vip"])


def test_bad_routing_config_lists_every_problem() -> None:
    bad = AcdSettings(
        queues={"a": QueueSettings(target="skills.x >="), "b+c": QueueSettings()},
        workflows={"w": WorkflowSettings(filters=(
            FilterSettings(expression="tier ==", targets=(TargetSettings(queue="zzz"),)),
            FilterSettings(expression="true", targets=()),
        ), default_queue="nope")},
    )
    with pytest.raises(RoutingConfigError) as info:
        build_plan(bad)
    text = str(info.value)
    for fragment in (
        "acd.queues.a.target: column 12: expected a value",
        "acd.queues.b+c: a queue name may not be empty or contain '+' or ':'",
        "acd.workflows.w.filters.0.expression: column 8",
        "acd.workflows.w.filters.0.targets.0.queue: unknown queue 'zzz'",
        "acd.workflows.w.filters.1.targets: a filter needs at least one target",
        "acd.workflows.w.default_queue: unknown queue 'nope'",
    ):
        assert fragment in text


@pytest.mark.parametrize(
    ("kind", "current", "wanted", "ok"),
    [
        ("worker", WorkerActivity.OFFLINE, WorkerActivity.AVAILABLE, True),
        ("worker", WorkerActivity.OFFLINE, WorkerActivity.WRAP_UP, False),  # only the engine, after a task
        ("worker", WorkerActivity.AVAILABLE, WorkerActivity.AVAILABLE, False),
        ("worker", WorkerActivity.BREAK, WorkerActivity.BREAK, True),  # lunch -> training
        ("worker", WorkerActivity.WRAP_UP, WorkerActivity.AVAILABLE, True),
        ("worker", WorkerActivity.WRAP_UP, WorkerActivity.WRAP_UP, False),
        ("task", TaskState.PENDING, TaskState.ASSIGNED, False),  # always through a reservation
        ("task", TaskState.RESERVED, TaskState.PENDING, True),
        ("task", TaskState.ASSIGNED, TaskState.CANCELED, False),
        ("task", TaskState.COMPLETED, TaskState.PENDING, False),
        ("reservation", ReservationState.PENDING, ReservationState.TIMEOUT, True),
        ("reservation", ReservationState.ACCEPTED, ReservationState.RESCINDED, False),
    ],
)
def test_transitions_follow_the_tables(kind: str, current, wanted, ok: bool, caplog) -> None:
    if ok:
        assert check_transition(kind, "id-1", current.value, wanted.value) is wanted
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(kind, "id-1", current, wanted)
        assert (info.value.kind, info.value.entity_id, info.value.current, info.value.wanted) == (
            kind, "id-1", current.value, wanted.value)
        assert f"illegal {kind} transition id-1" in caplog.text


def test_lua_tables_are_rendered_from_the_model() -> None:
    lua = lua_transition_tables()
    assert 'local TASK_NEXT = " pending>canceled pending>reserved reserved>assigned reserved>canceled reserved>pending ' in lua
    assert " wrap-up>available wrap-up>break wrap-up>offline wrap-up>on-demand " in lua
    assert " accepted>" not in lua  # a reservation that ended never changes again
    assert lua.count(">") == sum(len(v) for v in TASK_TRANSITIONS.values()) + sum(
        len(v) for v in WORKER_TRANSITIONS.values()) + sum(len(v) for v in RESERVATION_TRANSITIONS.values())
