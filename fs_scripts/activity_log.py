"""Agent activity transitions, from the ACD's activity stream into the log and the JSON-lines file.

Why a stream: an agent's activity is changed only by the ACD's Lua scripts (login, ready and
break through `acd.router.Router`; wrap-up, its end by the timer, the no-answer break by
`tick`, `complete`, `refuse`...), all through lib.lua's `set_activity`, which appends each
change to one capped stream per tenant (`<prefix>activity`: worker, from, to, reason, at,
seq). Reading that stream, rather than polling every worker's hash, sees every transition
exactly once, however short the state, at the cost of one XREAD per batch whatever the staff.

`ActivityFollower` reads the stream from its last entry id (kept in Redis per node, so a
restarted `fscc serve` resumes where it stopped), checks each transition against the Enum
transition table of `acd.model`, logs it with structured `extra` fields and appends it to the
activity log `reports` reads (`reports.source.ActivityLogWriter`).

Falling behind: the stream keeps at least `max_entries` entries. A follower away for longer
finds a hole in the sequence numbers; it logs a warning naming how many transitions were lost
and between which times, then writes the current activity of each worker that changed during
the hole and not since (from the worker hashes, the live snapshot): the spans inside the hole
are lost, the states after it are right. Delivery to the file is at least once: a crash
between writing lines and saving the cursor writes those lines again on restart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.model import WORKER_TRANSITIONS, WorkerActivity
from reports.source import ActivityLogWriter

logger = logging.getLogger(__name__)

#: entries the stream keeps at least (XADD MAXLEN ~): a follower may be this far behind
DEFAULT_MAX_ENTRIES = 100_000
#: entries read per XREAD
DEFAULT_BATCH = 500


@dataclass(frozen=True)
class ActivityTransition:
    """One entry of the activity stream. `at` is the ACD's (simulated) clock, never Redis TIME."""

    entry_id: str
    seq: int
    worker: str
    before: WorkerActivity
    after: WorkerActivity
    reason: str
    at: float

    @property
    def legal(self) -> bool:
        """What the Enum table of acd.model allows (the scripts enforce the same table)."""
        return self.after in WORKER_TRANSITIONS[self.before]


def parse_entry(entry_id: Any, fields: Mapping[Any, Any]) -> ActivityTransition:
    """A stream entry as the scripts write it. Raises ValueError naming the entry when a field
    is missing or not what the model knows."""
    data = {_text(k): _text(v) for k, v in fields.items()}
    eid = _text(entry_id)
    try:
        at = float(data["at"])
        if not math.isfinite(at):
            raise ValueError(f"at is {data['at']!r}")
        return ActivityTransition(eid, int(data["seq"]), data["worker"], WorkerActivity(data["from"]),
                                  WorkerActivity(data["to"]), data.get("reason", ""), at)
    except KeyError as exc:
        raise ValueError(f"activity entry {eid}: missing field {exc}") from None
    except ValueError as exc:
        raise ValueError(f"activity entry {eid}: {exc}") from None


class ActivityFollower:
    """Follows one tenant's activity stream into the log and the activity file.

    `poll()` reads everything appended since the last call without blocking; `start()` runs a
    greenlet that does so continuously (XREAD BLOCK when the socket is gevent-patched, as under
    `fscc serve`; a short poll otherwise, so an unpatched hub is never held for a second).
    """

    def __init__(self, router: Any, writer: ActivityLogWriter, *, max_entries: int = DEFAULT_MAX_ENTRIES,
                 batch: int = DEFAULT_BATCH, idle_wall_s: float = 0.05) -> None:
        if max_entries < 1 or batch < 1:
            raise ValueError("max_entries and batch must be at least 1")
        self.router = router
        self.writer = writer
        self.batch = batch
        self.idle_wall_s = idle_wall_s
        self.client = router.client
        self.tenant = router.tenant
        self.key = router.store.key("activity")
        self.cursor_key = router.store.key("activity", "cursor", router.node_id)
        self.client.set(router.store.key("activity", "maxlen"), int(max_entries))
        saved = {_text(k): _text(v) for k, v in self.client.hgetall(self.cursor_key).items()}
        self.last_id = saved.get("id", "0-0")
        self.last_seq: int | None = int(saved["seq"]) if "seq" in saved else None
        self.last_at = float(saved["at"]) if "at" in saved else -math.inf
        self.written = 0
        self.lost = 0
        self.gaps = 0
        self.invalid = 0
        self._greenlet: Any = None

    # ------------------------------------------------------------------ reading
    def poll(self, max_batches: int = 100) -> int:
        """Handle what was appended since the last call (at most max_batches * batch entries,
        so one call stays bounded); returns how many entries were handled."""
        total = 0
        for _ in range(max_batches):
            handled = self.read(block_ms=None)
            total += handled
            if handled < self.batch:
                break
        return total

    def read(self, block_ms: int | None = None) -> int:
        """One XREAD of at most `batch` entries after the cursor; BLOCK only when asked."""
        reply = self.client.xread({self.key: self.last_id}, count=self.batch, block=block_ms)
        entries = reply[0][1] if reply else []
        if not entries:
            return 0
        for entry_id, fields in entries:
            self._handle(entry_id, fields)
        self.client.hset(self.cursor_key, mapping={"id": self.last_id, "seq": self.last_seq or 0, "at": repr(self.last_at)})
        return len(entries)

    def start(self) -> None:
        import gevent

        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop following, after one last non-blocking read: what happened up to the stop is
        in the file before it is closed."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=2)
            self._greenlet = None
        try:
            self.poll()
        except Exception:
            logger.exception("last read of the agent activity stream %s", self.key)

    def _run(self) -> None:
        import gevent
        from gevent import monkey

        blocking = monkey.is_module_patched("socket")
        while True:
            try:
                if blocking:
                    self.read(block_ms=1000)
                elif not self.poll():
                    gevent.sleep(self.idle_wall_s)
            except Exception:  # Redis away for a moment: the cursor is where it was, try again
                logger.exception("following the agent activity stream %s", self.key)
                gevent.sleep(1)

    # ------------------------------------------------------------------ one entry
    def _handle(self, entry_id: Any, fields: Mapping[Any, Any]) -> None:
        try:
            t = parse_entry(entry_id, fields)
        except ValueError as exc:
            self.invalid += 1
            self.last_id = _text(entry_id)
            logger.error("agent activity: %s; skipped", exc, extra={"tenant": self.tenant, "stream_id": _text(entry_id)})
            return
        expected = (self.last_seq or 0) + 1
        if t.seq > expected:
            self._gap(expected, t)
        self.last_id, self.last_seq = t.entry_id, t.seq
        extra = {"tenant": self.tenant, "worker": t.worker, "activity_from": t.before.value,
                 "activity_to": t.after.value, "reason": t.reason, "at": t.at, "seq": t.seq, "stream_id": t.entry_id}
        if not t.legal:
            self.invalid += 1
            logger.error("agent %s: %s -> %s is not in the worker transition table", t.worker, t.before.value,
                         t.after.value, extra=extra)
        else:
            logger.info("agent %s: %s -> %s%s", t.worker, t.before.value, t.after.value,
                        f" ({t.reason})" if t.reason else "", extra=extra)
        self._write(t.worker, t.after.value, t.at)

    def _gap(self, expected: int, first: ActivityTransition) -> None:
        """Entries `expected` .. first.seq - 1 were trimmed before this follower read them."""
        missing = first.seq - expected
        extra = {"tenant": self.tenant, "lost": missing, "seq_from": expected, "seq_to": first.seq - 1,
                 "after": self.last_at, "before": first.at}
        if self.last_seq is None:
            logger.info("agent activity stream %s: history before seq %d is no longer kept; "
                        "starting from the workers' current activities", self.key, first.seq, extra=extra)
        else:
            self.gaps += 1
            self.lost += missing
            logger.warning("agent activity stream %s: %d transitions lost (seq %d..%d, between %.3f and %.3f): "
                           "this follower fell behind the stream's cap; the current activities of the workers "
                           "that changed meanwhile are taken from their hashes", self.key, missing, expected,
                           first.seq - 1, self.last_at, first.at, extra=extra)
        self._resync(self.last_at, first.at)

    def _resync(self, after: float, before: float) -> None:
        """Write the current activity of each worker whose last change fell inside the hole
        (after < activity_since < before); one who changed again since is in the stream.
        Reads every worker: O(staff), but only when a hole is found."""
        ids = self.router.worker_ids()
        if not ids:
            return
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.hmget(self.router.store.key("w", worker_id), "activity", "activity_since")
        for worker_id, (activity, since) in zip(ids, pipe.execute(), strict=True):
            if activity is None or since is None:
                continue
            at = float(since)
            if after < at < before:
                self._write(worker_id, _text(activity), at)

    def _write(self, worker: str, activity: str, at: float) -> None:
        self.writer.record(self.tenant, worker, activity, at)
        self.written += 1
        self.last_at = max(self.last_at, at)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
