"""Agent activity changes from the live ACD state into the JSON-lines log reports read.

The ACD's Lua scripts keep each worker's current activity and the time it began
(`activity`, `activity_since` in the worker's hash) but no history; occupancy, ACW and the
agents-by-state chart need the history. `ActivityFollower.poll()` runs on every heartbeat of
`fscc serve`: one pipelined read of every worker of the tenant, and a log line for each
worker whose activity (or its start time) changed since the last poll. The line carries the
exact `activity_since`, so spans are exact; only a state that began and ended between two
polls (shorter than the heartbeat) is missed, which a report at 15-minute resolution cannot see.
"""

from __future__ import annotations

import logging
from typing import Any

from reports.source import ActivityLogWriter

logger = logging.getLogger(__name__)


class ActivityFollower:
    def __init__(self, router: Any, writer: ActivityLogWriter) -> None:
        self.router = router
        self.writer = writer
        self._seen: dict[str, tuple[str, str]] = {}

    def poll(self) -> int:
        """Write the changes since the last poll; returns how many."""
        ids = self.router.worker_ids()
        if not ids:
            return 0
        pipe = self.router.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.hmget(self.router.store.key("w", worker_id), "activity", "activity_since")
        written = 0
        for worker_id, (activity, since) in zip(ids, pipe.execute(), strict=True):
            if activity is None:
                continue
            current = (_text(activity), _text(since or b""))
            if self._seen.get(worker_id) == current:
                continue
            self._seen[worker_id] = current
            at = float(current[1]) if current[1] else self.router.clock.now()  # never changed: as of now
            self.writer.record(self.router.tenant, worker_id, current[0], at)
            written += 1
        return written


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
