"""Live per-queue and per-agent figures: waiting, longest wait, service level over the last
15 and 60 minutes, answered and abandoned counts, agents by state.

Why a recorder of its own beside the routing scripts: a contact's outcome (answered by an
agent after W seconds, abandoned after W seconds) is known for certain only on the voice side,
when the bridge is up or the caller's leg is gone; the routing state in Redis forgets a task's
wait once it is finished. So the voice gateway calls `StatsRecorder.record_answered` /
`record_abandoned`, and each call adds to one time bucket (a Redis hash per queue and per
minute, with an expiry): O(1) per call, a bounded number of keys, nothing to clean up. The
readers sum the last 15 or 60 buckets; the live figures (who is waiting since when, which agent
is in which state) are read from the routing keys the Lua scripts keep (acd/store.py), never
written. Why not one sorted-set member per contact (as the routing scripts' own `q:<queue>:sl`
list): a busy queue's hour is tens of thousands of members, read and parsed in full for every
figure; 60 small hashes are the same answer (bench/acd_stats_bench.py: ~30x faster to read,
~100x smaller).

Keys (prefix `fscc:{<tenant>}:`, beside the routing keys):

    stats:q:<queue>:<minute>     hash  ans, ans_t, ans_wait, ab, ab_t, ab_short, ab_wait
    stats:agents:<minute>        hash  ans:<agent>, ans_wait:<agent>
                                 (<minute> = epoch seconds // 60; both expire after 62 minutes)

Reading the agents' states for the queue figures costs one SORT .. GET over the workers set
(their fields fetched server-side in one reply), the pending reservations (what rings now) and
each worker's eligible queues (cached 30 s: they change only with the worker's profile); the
states are then reused for `agent_cache_s` (2 s), so announcing the expected wait to many
callers does not walk every agent for each of them.

The definitions are those of the reports (reports/kpi.py), so the wallboard and the next
morning's report never disagree on what "service level" means:

- "within T" is wait <= T, T being the queue's `service_level_s` (acd/config.py QueueSettings,
  as written into Redis by `Router.sync_config`);
- an abandon after less than `short_abandon_s` of waiting is a short abandon: counted apart,
  in no rate;
- the headline service level is the configured `ServiceLevelVariant` (default
  `abandons-ignored`: A_T / (A + Ab - Ab_T)); all four variants are available;
- a ratio with nothing under it is None, never 0.

A window of 15 minutes is the current minute and the 14 before it (minute buckets aligned to
the epoch), so a figure moves at most once a minute at its far edge.

Layout: the pure computation first (buckets, windows, agent state), then the Redis I/O
(`StatsRecorder`).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from acd.config import QueueSettings
from acd.errors import StoreError, UnknownEntity
from acd.model import DEFAULT_CAPACITY, OFFERABLE, PHONE_CHANNELS, WorkerActivity
from acd.store import tenant_prefix
from fs_scripts.clock import Clock
from reports.config import ServiceLevelVariant
from reports.kpi import service_levels

logger = logging.getLogger(__name__)

BUCKET_S = 60  # one hash per queue (and per agent) per minute of simulated time
WINDOWS_MIN = (15, 60)  # the windows every QueueStats carries
#: how long a bucket is kept (simulated seconds): the longest window plus two buckets of slack
RETAIN_S = max(WINDOWS_MIN) * 60 + 2 * BUCKET_S
DEFAULT_SERVICE_LEVEL_S = QueueSettings().service_level_s
DEFAULT_SHORT_ABANDON_S = 5.0  # as reports.short_abandon_s
#: how long (simulated seconds) a queue's threshold read from Redis is reused before re-reading
THRESHOLD_CACHE_S = 60.0
#: how long (wall seconds) the workers' queue eligibility is reused; it changes only with a
#: worker's profile, and a worker not seen before forces a re-read
MEMBERSHIP_CACHE_S = 30.0

# bucket hash fields
F_ANSWERED = "ans"
F_ANSWERED_WITHIN = "ans_t"
F_ANSWERED_WAIT = "ans_wait"
F_ABANDONED = "ab"
F_ABANDONED_WITHIN = "ab_t"
F_SHORT_ABANDONED = "ab_short"
F_ABANDONED_WAIT = "ab_wait"
_FLOAT_FIELDS = frozenset({F_ANSWERED_WAIT, F_ABANDONED_WAIT})


# ================================================================== pure computation

def bucket_of(t: float, bucket_s: int = BUCKET_S) -> int:
    """The index of the bucket holding time `t` (epoch seconds)."""
    return int(t // bucket_s)


def window_buckets(now: float, minutes: int, bucket_s: int = BUCKET_S) -> range:
    """The bucket indexes of the last `minutes`: the current bucket and the ones before it."""
    n = max(1, int(minutes * 60 // bucket_s))
    last = bucket_of(now, bucket_s)
    return range(last - n + 1, last + 1)


@dataclass(frozen=True)
class OutcomeCounts:
    """What was recorded in one bucket or summed over a window. Short abandons are apart:
    `abandoned` and `abandoned_within` never include them."""

    answered: int = 0
    answered_within: int = 0
    answered_wait_s: float = 0.0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandoned: int = 0
    abandoned_wait_s: float = 0.0

    def __add__(self, other: OutcomeCounts) -> OutcomeCounts:
        return OutcomeCounts(
            self.answered + other.answered, self.answered_within + other.answered_within,
            self.answered_wait_s + other.answered_wait_s, self.abandoned + other.abandoned,
            self.abandoned_within + other.abandoned_within, self.short_abandoned + other.short_abandoned,
            self.abandoned_wait_s + other.abandoned_wait_s,
        )

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> OutcomeCounts:
        """From a bucket hash as Redis returns it (bytes or str keys and values)."""
        data = {_text(k): _text(v) for k, v in raw.items()}

        def i(name: str) -> int:
            return int(float(data.get(name, 0) or 0))

        def f(name: str) -> float:
            return float(data.get(name, 0) or 0)

        return cls(i(F_ANSWERED), i(F_ANSWERED_WITHIN), f(F_ANSWERED_WAIT), i(F_ABANDONED),
                   i(F_ABANDONED_WITHIN), i(F_SHORT_ABANDONED), f(F_ABANDONED_WAIT))


def answered_fields(wait_s: float, threshold_s: float) -> dict[str, float]:
    """The bucket increments for one answered contact."""
    fields: dict[str, float] = {F_ANSWERED: 1, F_ANSWERED_WAIT: wait_s}
    if wait_s <= threshold_s:
        fields[F_ANSWERED_WITHIN] = 1
    return fields


def abandoned_fields(wait_s: float, threshold_s: float, short_abandon_s: float) -> dict[str, float]:
    """The bucket increments for one abandoned contact (a short abandon counts only as such)."""
    if wait_s < short_abandon_s:
        return {F_SHORT_ABANDONED: 1}
    fields: dict[str, float] = {F_ABANDONED: 1, F_ABANDONED_WAIT: wait_s}
    if wait_s <= threshold_s:
        fields[F_ABANDONED_WITHIN] = 1
    return fields


def sum_window(buckets: Mapping[int, OutcomeCounts], indexes: Iterable[int]) -> OutcomeCounts:
    total = OutcomeCounts()
    for index in indexes:
        counts = buckets.get(index)
        if counts is not None:
            total = total + counts
    return total


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class WindowFigures:
    """The outcome figures of one window (15 or 60 minutes)."""

    minutes: int
    counts: OutcomeCounts
    variant: ServiceLevelVariant
    service_levels: Mapping[ServiceLevelVariant, float | None]

    @classmethod
    def of(cls, minutes: int, counts: OutcomeCounts, variant: ServiceLevelVariant) -> WindowFigures:
        levels = service_levels(counts.answered, counts.answered_within, counts.abandoned, counts.abandoned_within)
        return cls(minutes, counts, variant, levels)

    @property
    def service_level(self) -> float | None:
        """The headline service level (fraction 0..1) in the configured variant."""
        return self.service_levels[self.variant]

    @property
    def answered(self) -> int:
        return self.counts.answered

    @property
    def abandoned(self) -> int:
        return self.counts.abandoned

    @property
    def short_abandoned(self) -> int:
        return self.counts.short_abandoned

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer: mean wait of the answered contacts."""
        return _ratio(self.counts.answered_wait_s, self.counts.answered)

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned / (answered + abandoned), short abandons in neither."""
        return _ratio(self.counts.abandoned, self.counts.answered + self.counts.abandoned)


class LiveAgentState(str, enum.Enum):
    """What a supervisor sees of an agent right now (the reports' agent states, plus
    `unregistered`: ready, but the phone is not registered, so no call is offered)."""

    AVAILABLE = "available"
    RESERVED = "reserved"  # a contact is being offered (ringing)
    BUSY = "busy"  # handling a contact
    WRAP_UP = "wrap-up"
    BREAK = "break"
    UNREGISTERED = "unregistered"
    OFFLINE = "offline"


def live_agent_state(activity: WorkerActivity, registered: bool, capacity: Mapping[str, int],
                     holding: int, ringing: int) -> LiveAgentState:
    """One agent's state from its routing fields: `holding` live contacts (ringing, talking or
    in wrap-up), `ringing` of them still offered.

    Order matters: offline wins, then wrap-up; an agent holding a contact is busy (or reserved
    while it only rings) whatever its activity, since a break taken mid-call starts after it.
    """
    if activity is WorkerActivity.OFFLINE:
        return LiveAgentState.OFFLINE
    if activity is WorkerActivity.WRAP_UP:
        return LiveAgentState.WRAP_UP
    if holding > ringing:
        return LiveAgentState.BUSY
    if ringing > 0:
        return LiveAgentState.RESERVED
    if activity is WorkerActivity.BREAK:
        return LiveAgentState.BREAK
    phone = any(int(capacity.get(ch, 0)) > 0 for ch in PHONE_CHANNELS)
    if activity in OFFERABLE and phone and not registered:
        return LiveAgentState.UNREGISTERED
    return LiveAgentState.AVAILABLE


def parse_activity(value: str | None) -> WorkerActivity:
    try:
        return WorkerActivity(value or "offline")
    except ValueError:
        return WorkerActivity.OFFLINE


def count_states(states: Iterable[LiveAgentState]) -> dict[str, int]:
    """Agents per state, every state present (zeros included), keyed by the state's value."""
    counts = {s.value: 0 for s in LiveAgentState}
    for state in states:
        counts[state.value] += 1
    return counts


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


# ================================================================== records

@dataclass(frozen=True)
class QueueStats:
    """One queue right now. `waiting` counts contacts not yet answered (pending or ringing)."""

    queue: str
    tenant: str
    at: float  # when these figures were read (simulated epoch seconds)
    service_level_s: float  # the threshold T of this queue
    waiting: int
    longest_wait_s: float  # 0 when nobody waits
    last_15: WindowFigures
    last_60: WindowFigures
    agents_by_state: Mapping[str, int]  # LiveAgentState value -> agents eligible for this queue
    recent_handle_s: float | None  # mean handle time of the last (up to 100) completed contacts

    @property
    def service_level_15(self) -> float | None:
        return self.last_15.service_level

    @property
    def service_level_60(self) -> float | None:
        return self.last_60.service_level

    @property
    def agents(self) -> int:
        return sum(self.agents_by_state.values())


@dataclass(frozen=True)
class AgentStats:
    """One agent right now, with what it answered in the last 15 and 60 minutes."""

    agent_id: str
    tenant: str
    at: float
    state: LiveAgentState
    activity: WorkerActivity
    reason: str
    in_activity_s: float | None  # since the last activity change; None if never changed
    registered: bool
    capacity: Mapping[str, int]
    used: Mapping[str, int]
    queues: tuple[str, ...]  # configured queues it is eligible for
    tasks: tuple[str, ...]  # live task ids it holds
    no_answer_streak: int  # consecutive ring-no-answers
    offers: int  # reservations ever offered to it
    answered_15: int
    answered_60: int
    asa_60_s: float | None  # mean wait of the contacts it answered in the last hour


@dataclass(frozen=True)
class WaitingTask:
    """A contact waiting in a queue (pending, or reserved while an agent's phone rings)."""

    task_id: str
    routing_queue: str
    state: str
    channel: str
    priority: int
    enqueued_at: float
    waited_s: float
    offered_to: tuple[str, ...]  # workers whose phones ring for it (reserved only)


#: the worker hash fields the figures need (channels beyond these have no capacity shown)
_WORKER_FIELDS = ("activity", "reason", "activity_since", "registered", "channels", "used_total", "noanswer",
                  "offers", *(f"{kind}:{ch}" for ch in sorted(DEFAULT_CAPACITY) for kind in ("cap", "used")))


@dataclass(frozen=True)
class _WorkerSnapshot:
    worker_id: str
    fields: Mapping[str, str]
    routing_queues: frozenset[str]
    task_states: Mapping[str, str]

    @property
    def activity(self) -> WorkerActivity:
        return parse_activity(self.fields.get("activity"))

    @property
    def channels(self) -> list[str]:
        return [c for c in self.fields.get("channels", "").split(",") if c]

    @property
    def capacity(self) -> dict[str, int]:
        return {c: int(float(self.fields.get(f"cap:{c}", 0) or 0)) for c in self.channels}

    @property
    def used(self) -> dict[str, int]:
        return {c: int(float(self.fields.get(f"used:{c}", 0) or 0)) for c in self.channels}

    @property
    def state(self) -> LiveAgentState:
        states = list(self.task_states.values())
        holding = sum(1 for st in states if st in ("reserved", "assigned", "wrapping"))
        return live_agent_state(self.activity, self.fields.get("registered") == "1", self.capacity,
                                holding, states.count("reserved"))


# ================================================================== Redis I/O

@dataclass
class StatsRecorder:
    """Records outcomes (voice side) and reads live figures (CLI, wallboard, announcements).

    `thresholds` overrides the per-queue service-level threshold; otherwise it is read from the
    queue's routing config in Redis (`service_level_s`, written by Router.sync_config), falling
    back to QueueSettings' default. Safe to share between greenlets; under `fscc serve` the
    client's socket is gevent-patched.
    """

    client: redis.Redis
    tenant: str = "default"
    clock: Clock = field(default_factory=Clock)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    short_abandon_s: float = DEFAULT_SHORT_ABANDON_S
    variant: ServiceLevelVariant = ServiceLevelVariant.ABANDONS_IGNORED
    #: agents' states are reused for this many wall seconds by the queue readers (0: always
    #: read): announcements to many callers must not each walk every agent
    agent_cache_s: float = 2.0

    def __post_init__(self) -> None:
        self.prefix = tenant_prefix(self.tenant)
        self._threshold_cache: dict[str, tuple[float, float]] = {}  # queue -> (threshold, read at)
        self._ttl_bucket = -1
        self._ttl_keys: set[str] = set()  # keys of the current bucket already given their expiry
        self._agent_cache: tuple[float, list[tuple[frozenset[str], LiveAgentState]]] | None = None
        self._membership_cache: tuple[float, dict[str, frozenset[str]]] | None = None

    # ------------------------------------------------------------ keys
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def queue_bucket_key(self, queue: str, bucket: int) -> str:
        return self.key("stats", "q", queue, str(bucket))

    def agents_bucket_key(self, bucket: int) -> str:
        """One hash per minute for all agents: `ans:<agent>`, `ans_wait:<agent>`."""
        return self.key("stats", "agents", str(bucket))

    def _ttl_ms(self) -> int:
        return max(60_000, int(self.clock.wall_seconds(RETAIN_S) * 1000))

    # ------------------------------------------------------------ recording (O(1) each)
    def record_answered(self, queue: str, wait_s: float, agent_id: str) -> None:
        """An agent answered a contact of `queue` after `wait_s` seconds in queue."""
        wait = _wait(wait_s, queue)
        bucket = bucket_of(self.clock.now())
        self._write(bucket, [
            (self.queue_bucket_key(queue, bucket), answered_fields(wait, self.threshold(queue))),
            (self.agents_bucket_key(bucket), {f"{F_ANSWERED}:{agent_id}": 1, f"{F_ANSWERED_WAIT}:{agent_id}": wait}),
        ])
        logger.debug("stats %s: answered by %s after %.1fs", queue, agent_id, wait)

    def record_abandoned(self, queue: str, wait_s: float) -> None:
        """The caller hung up while waiting in `queue` after `wait_s` seconds."""
        wait = _wait(wait_s, queue)
        bucket = bucket_of(self.clock.now())
        fields = abandoned_fields(wait, self.threshold(queue), self.short_abandon_s)
        self._write(bucket, [(self.queue_bucket_key(queue, bucket), fields)])
        logger.debug("stats %s: abandoned after %.1fs", queue, wait)

    def _write(self, bucket: int, updates: list[tuple[str, dict[str, float]]]) -> None:
        """One MULTI: the increments, and each key's expiry the first time this recorder
        writes it (a bucket key is written for one minute, then only read)."""
        if bucket != self._ttl_bucket:
            self._ttl_bucket, self._ttl_keys = bucket, set()
        pipe = self.client.pipeline(transaction=True)
        fresh = []
        for key, fields in updates:
            for name, value in fields.items():
                if name.split(":", 1)[0] in _FLOAT_FIELDS:
                    pipe.hincrbyfloat(key, name, float(value))
                else:
                    pipe.hincrby(key, name, int(value))
            if key not in self._ttl_keys:
                pipe.pexpire(key, self._ttl_ms())
                fresh.append(key)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable recording stats: {exc}") from exc
        self._ttl_keys.update(fresh)

    def threshold(self, queue: str) -> float:
        """The queue's service-level threshold T in seconds."""
        if queue in self.thresholds:
            return float(self.thresholds[queue])
        now = self.clock.now()
        cached = self._threshold_cache.get(queue)
        if cached is not None and now - cached[1] < THRESHOLD_CACHE_S:
            return cached[0]
        try:
            raw = self.client.hget(self.key("q", queue, "cfg"), "service_level_s")
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading queue {queue!r}: {exc}") from exc
        value = float(_text(raw)) if raw else DEFAULT_SERVICE_LEVEL_S
        self._threshold_cache[queue] = (value, now)
        return value

    # ------------------------------------------------------------ reading
    def queue_names(self) -> list[str]:
        """The configured queues of the tenant (routing queues folded into their base)."""
        return sorted(self._routing_queues())

    def queue_stats(self, queue: str) -> QueueStats:
        """Live figures of one configured queue; UnknownEntity if the tenant has no such queue."""
        routing = self._routing_queues()
        if queue not in routing:
            raise UnknownEntity("queue", queue)
        return self._queues_stats({queue: routing[queue]}, self._cached_states())[0]

    def all_queues(self) -> list[QueueStats]:
        """Every configured queue of the tenant, by name; the agents are read once for all."""
        return self._queues_stats(self._routing_queues(), self._cached_states())

    def waiting_tasks(self, queue: str, limit: int = 100) -> list[WaitingTask]:
        """The contacts waiting in a configured queue, longest-waiting first (at most `limit`)."""
        routing = self._routing_queues()
        if queue not in routing:
            raise UnknownEntity("queue", queue)
        now = self.clock.now()
        try:
            pipe = self.client.pipeline(transaction=False)
            for rq in routing[queue]:
                pipe.zrange(self.key("q", rq, "since"), 0, limit - 1, withscores=True)
            heads = [(rq, _text(t), float(s)) for rq, items in zip(routing[queue], pipe.execute(), strict=True)
                     for t, s in items]
            heads = sorted(heads, key=lambda h: h[2])[:limit]
            pipe = self.client.pipeline(transaction=False)
            for _, tid, _ in heads:
                pipe.hmget(self.key("task", tid), "state", "channel", "priority")
                pipe.smembers(self.key("task", tid, "res"))
            raw = pipe.execute()
            pipe = self.client.pipeline(transaction=False)
            for i in range(len(heads)):
                for rid in sorted(raw[2 * i + 1]):
                    pipe.hget(self.key("res", _text(rid)), "worker")
            workers = iter(pipe.execute())
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading queue {queue!r}: {exc}") from exc
        out = []
        for i, (rq, tid, enqueued_at) in enumerate(heads):
            state, channel, priority = (_text(x) if x is not None else "" for x in raw[2 * i])
            offered = tuple(sorted(_text(next(workers)) for _ in raw[2 * i + 1]))
            out.append(WaitingTask(tid, rq, state, channel, int(float(priority or 0)), enqueued_at,
                                   max(0.0, now - enqueued_at), offered))
        return out

    def agent_stats(self, agent_id: str) -> AgentStats:
        """Live state and recent answers of one agent; UnknownEntity if there is no such worker."""
        snapshots = self._workers([agent_id])
        if not snapshots:
            raise UnknownEntity("worker", agent_id)
        return self._agents_stats(snapshots)[0]

    def all_agents(self) -> list[AgentStats]:
        return self._agents_stats(self._workers())

    # ------------------------------------------------------------ reading: internals
    def _routing_queues(self) -> dict[str, list[str]]:
        """configured queue -> its routing queues (itself and the derived `queue+hash` ones)."""
        try:
            members = sorted(_text(m) for m in self.client.smembers(self.key("queues")))
            pipe = self.client.pipeline(transaction=False)
            for rq in members:
                pipe.hget(self.key("q", rq, "cfg"), "base")
            bases = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading queues: {exc}") from exc
        out: dict[str, list[str]] = {}
        for rq, base in zip(members, bases, strict=True):
            out.setdefault(_text(base) if base else rq, []).append(rq)
        return out

    def _cached_states(self) -> list[tuple[frozenset[str], LiveAgentState]]:
        """Every worker's (routing queues, state), reused for `agent_cache_s` wall seconds."""
        now = time.monotonic()
        if self._agent_cache is not None and now - self._agent_cache[0] < self.agent_cache_s:
            return self._agent_cache[1]
        states = self._agent_states()
        self._agent_cache = (now, states)
        return states

    def _agent_states(self) -> list[tuple[frozenset[str], LiveAgentState]]:
        """The states the queue figures need, read without one command per worker: one SORT ..
        GET over the workers set (the fields, server-side), the pending reservations (what
        rings now: as many as calls being offered), and each worker's queues, which change
        only when its profile does and are re-read every `MEMBERSHIP_CACHE_S`."""
        prefix = self.key("w", "*->")
        fields = ("activity", "registered", "used_total", *(f"cap:{ch}" for ch in sorted(PHONE_CHANNELS)))
        try:
            rows = self.client.sort(self.key("workers"), by="nosort", get=["#", *(prefix + f for f in fields)],
                                    groups=True)
        except redis.ResponseError:  # a server that refuses GET patterns: one read per worker instead
            logger.info("SORT .. GET refused; reading the workers one by one", exc_info=True)
            return [(w.routing_queues, w.state) for w in self._workers()]
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading workers: {exc}") from exc
        try:
            rids = self.client.zrange(self.key("deadlines"), 0, -1)
            pipe = self.client.pipeline(transaction=False)
            for rid in rids:
                pipe.hmget(self.key("res", _text(rid)), "worker", "state")
            ringing: dict[str, int] = {}
            for worker, state in pipe.execute():
                if worker is not None and _text(state or b"") == "pending":
                    ringing[_text(worker)] = ringing.get(_text(worker), 0) + 1
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading workers: {exc}") from exc
        membership = self._membership([_text(r[0]) for r in rows if r[1] is not None])
        out = []
        for row in rows:
            if row[1] is None:
                continue
            wid = _text(row[0])
            activity, registered, used_total = parse_activity(_text(row[1])), row[2] == b"1" or row[2] == "1", row[3]
            capacity = {ch: int(float(_text(v))) for ch, v in zip(sorted(PHONE_CHANNELS), row[4:], strict=True) if v}
            holding = int(float(_text(used_total))) if used_total else 0
            out.append((membership.get(wid, frozenset()),
                        live_agent_state(activity, registered, capacity, holding, ringing.get(wid, 0))))
        return out

    def _membership(self, ids: list[str]) -> dict[str, frozenset[str]]:
        """worker id -> its routing queues, re-read when stale or when a worker is new."""
        now = time.monotonic()
        cached = self._membership_cache
        if cached is not None and now - cached[0] < MEMBERSHIP_CACHE_S and set(ids) <= cached[1].keys():
            return cached[1]
        try:
            pipe = self.client.pipeline(transaction=False)
            for wid in ids:
                pipe.smembers(self.key("w", wid, "queues"))
            sets = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading worker queues: {exc}") from exc
        membership = {wid: frozenset(_text(q) for q in qs) for wid, qs in zip(ids, sets, strict=True)}
        self._membership_cache = (now, membership)
        return membership

    def _workers(self, only: list[str] | None = None) -> list[_WorkerSnapshot]:
        """Every worker (or the named ones) with its queues and the states of its live tasks.
        Pipelined: one round trip for the fields and queues, one more for the tasks of the
        workers holding any (usually few), whatever the number of workers."""
        try:
            if only is None:
                ids = sorted(_text(m) for m in self.client.smembers(self.key("workers")))
            else:
                ids = list(only)
            pipe = self.client.pipeline(transaction=False)
            for wid in ids:
                pipe.hmget(self.key("w", wid), _WORKER_FIELDS)
                pipe.smembers(self.key("w", wid, "queues"))
            raw = pipe.execute()
            found: list[tuple[str, dict[str, str], frozenset[str]]] = []
            for i, wid in enumerate(ids):
                values, queues = raw[2 * i], raw[2 * i + 1]
                if values[0] is None:  # no activity: no such worker
                    continue
                fields = {name: _text(v) for name, v in zip(_WORKER_FIELDS, values, strict=True) if v is not None}
                found.append((wid, fields, frozenset(_text(q) for q in queues)))
            loaded = [wid for wid, fields, _ in found if int(float(fields.get("used_total", 0) or 0)) > 0]
            pipe = self.client.pipeline(transaction=False)
            for wid in loaded:
                pipe.smembers(self.key("w", wid, "tasks"))
            tasks_of = {wid: sorted(_text(t) for t in tasks) for wid, tasks in zip(loaded, pipe.execute(), strict=True)}
            pipe = self.client.pipeline(transaction=False)
            for wid in loaded:
                for tid in tasks_of[wid]:
                    pipe.hget(self.key("task", tid), "state")
            states = iter(pipe.execute())
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading workers: {exc}") from exc
        return [_WorkerSnapshot(wid, fields, queues, {tid: _text(next(states) or b"") for tid in tasks_of.get(wid, ())})
                for wid, fields, queues in found]

    def _queues_stats(self, routing: Mapping[str, list[str]],
                      agents: list[tuple[frozenset[str], LiveAgentState]]) -> list[QueueStats]:
        now = self.clock.now()
        hour = window_buckets(now, 60)
        names = sorted(routing)
        try:
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                for rq in routing[name]:
                    pipe.zcard(self.key("q", rq, "since"))
                    pipe.zrange(self.key("q", rq, "since"), 0, 0, withscores=True)
                for b in hour:
                    pipe.hgetall(self.queue_bucket_key(name, b))
                pipe.lrange(self.key("q", name, "aht"), 0, -1)
            raw = iter(pipe.execute())
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading queue figures: {exc}") from exc
        out = []
        for name in names:
            waiting, oldest = 0, None
            for _ in routing[name]:
                waiting += int(next(raw))
                head = next(raw)
                if head:
                    oldest = head[0][1] if oldest is None else min(oldest, head[0][1])
            buckets = {b: OutcomeCounts.from_hash(next(raw)) for b in hour}
            handle = mean(float(_text(x)) for x in next(raw))
            mine = set(routing[name])
            states = [state for queues, state in agents if queues & mine]
            out.append(QueueStats(
                queue=name, tenant=self.tenant, at=now, service_level_s=self.threshold(name),
                waiting=waiting, longest_wait_s=max(0.0, now - float(oldest)) if oldest is not None else 0.0,
                last_15=WindowFigures.of(15, sum_window(buckets, window_buckets(now, 15)), self.variant),
                last_60=WindowFigures.of(60, sum_window(buckets, hour), self.variant),
                agents_by_state=count_states(states), recent_handle_s=handle,
            ))
        return out

    def _agents_stats(self, workers: list[_WorkerSnapshot]) -> list[AgentStats]:
        now = self.clock.now()
        hour = window_buckets(now, 60)
        last_15 = set(window_buckets(now, 15))
        routing = self._routing_queues()
        base_of = {rq: base for base, rqs in routing.items() for rq in rqs}
        try:
            pipe = self.client.pipeline(transaction=False)
            for b in hour:
                if len(workers) == 1:
                    wid = workers[0].worker_id
                    pipe.hmget(self.agents_bucket_key(b), [f"{F_ANSWERED}:{wid}", f"{F_ANSWERED_WAIT}:{wid}"])
                else:
                    pipe.hgetall(self.agents_bucket_key(b))
            raw = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"redis unavailable reading agent figures: {exc}") from exc
        answered: dict[tuple[str, int], int] = {}
        waits: dict[tuple[str, int], float] = {}
        for b, data in zip(hour, raw, strict=True):
            if len(workers) == 1:
                data = {f"{F_ANSWERED}:{workers[0].worker_id}": data[0], f"{F_ANSWERED_WAIT}:{workers[0].worker_id}": data[1]}
            for name, value in data.items():
                if value is None:
                    continue
                kind, _, wid = _text(name).partition(":")
                if kind == F_ANSWERED:
                    answered[(wid, b)] = int(_text(value))
                elif kind == F_ANSWERED_WAIT:
                    waits[(wid, b)] = float(_text(value))
        out = []
        for w in workers:
            wid = w.worker_id
            answered_60 = sum(answered.get((wid, b), 0) for b in hour)
            wait_60 = sum(waits.get((wid, b), 0.0) for b in hour)
            since = w.fields.get("activity_since")
            out.append(AgentStats(
                agent_id=wid, tenant=self.tenant, at=now, state=w.state, activity=w.activity,
                reason=w.fields.get("reason", ""),
                in_activity_s=max(0.0, now - float(since)) if since else None,
                registered=w.fields.get("registered") == "1", capacity=w.capacity, used=w.used,
                queues=tuple(sorted({base_of.get(rq, rq) for rq in w.routing_queues})),
                tasks=tuple(w.task_states), no_answer_streak=int(float(w.fields.get("noanswer", 0) or 0)),
                offers=int(float(w.fields.get("offers", 0) or 0)),
                answered_15=sum(answered.get((wid, b), 0) for b in last_15), answered_60=answered_60,
                asa_60_s=_ratio(wait_60, answered_60),
            ))
        return out


def _wait(wait_s: float, queue: str) -> float:
    """Waits come from two clocks (enqueue on one node, answer on another): a small negative
    value is clock skew, counted as 0; NaN or infinity is a caller's bug."""
    wait = float(wait_s)
    if wait != wait or wait in (float("inf"), float("-inf")):
        raise ValueError(f"queue {queue!r}: wait must be a finite number of seconds, got {wait_s!r}")
    if wait < 0:
        logger.debug("queue %s: negative wait %.3fs counted as 0", queue, wait)
        return 0.0
    return wait


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
