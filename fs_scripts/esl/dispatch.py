"""Event handlers by name and CUSTOM subclass, run off the reader greenlet.

Why a separate greenlet: a handler that blocks (it calls `api()`, sleeps, writes to Redis)
must never stop the reader, or the reply it waits for could never be read. Handlers of one
connection run one after the other in a single dispatcher greenlet, in wire order (so a
handler sees CHANNEL_ANSWER before CHANNEL_HANGUP of the same call); work that should run
concurrently spawns its own greenlet. A handler exception is logged with the event and
never stops the dispatcher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent
from gevent.queue import Queue

from fs_scripts.esl.frames import Event

logger = logging.getLogger(__name__)

Handler = Callable[[Event], object]


class Dispatcher:
    """Handlers registered per event name, per CUSTOM subclass, and for every event."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._by_name: dict[str, list[Handler]] = {}
        self._by_subclass: dict[str, list[Handler]] = {}
        self._any: list[Handler] = []
        self._queue: Queue = Queue()
        self._greenlet = gevent.spawn(self._run)
        self._greenlet.name = f"esl-dispatch-{name}"

    def on(self, event_name: str, handler: Handler) -> None:
        self._by_name.setdefault(event_name, []).append(handler)

    def on_custom(self, subclass: str, handler: Handler) -> None:
        self._by_subclass.setdefault(subclass, []).append(handler)

    def on_any(self, handler: Handler) -> None:
        self._any.append(handler)

    def remove_any(self, handler: Handler) -> None:
        if handler in self._any:
            self._any.remove(handler)

    @property
    def has_handlers(self) -> bool:
        return bool(self._by_name or self._by_subclass or self._any)

    def submit(self, events: list[Event]) -> None:
        """Queue a batch (called from the reader greenlet; never blocks)."""
        self._queue.put(events)

    def _run(self) -> None:
        by_name = self._by_name
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            for event in batch:
                name = event.name
                handlers = by_name.get(name)
                if handlers:
                    for handler in handlers:
                        self._call(handler, event)
                if name == "CUSTOM" and self._by_subclass:
                    for handler in self._by_subclass.get(event.subclass or "", ()):
                        self._call(handler, event)
                for handler in self._any:
                    self._call(handler, event)

    def _call(self, handler: Handler, event: Event) -> None:
        try:
            handler(event)
        except Exception:
            logger.exception(
                "%s: handler %r failed on %s (Unique-ID %s)",
                self.name, handler, event.name, event.unique_id,
            )

    def stop(self) -> None:
        self._queue.put(None)

    def join(self, timeout_s: float | None = None) -> None:
        self._greenlet.join(timeout=timeout_s)
