"""Which events a connection receives: `event`, `nixevent`, `noevents`, `filter` (pure).

Modelled on mod_event_socket's listener: an event list indexed by event type plus a hash of
CUSTOM subclasses, and filters. Quirks kept on purpose because the switch has them:
`event plain ALL` sends every event, and a later `nixevent X` does not stop X (the ALL entry
stays set); `CUSTOM` followed by subclass names only passes those subclasses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fssim.events import KNOWN_EVENT_NAMES, MYEVENTS, SimEvent

FORMATS = ("plain", "json", "xml")


@dataclass
class Subscription:
    fmt: str | None = None
    names: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)
    filters: list[tuple[str, str]] = field(default_factory=list)
    my_uuid: str | None = None  # myevents: only this channel's events

    @property
    def listening(self) -> bool:
        return self.fmt is not None and (bool(self.names) or bool(self.subclasses))

    def event(self, args: str) -> str:
        """`event [plain|json|xml] NAME ... [CUSTOM sub ...]` -> Reply-Text."""
        words = args.split()
        fmt = "plain"
        if words and words[0].lower() in FORMATS:
            fmt = words.pop(0).lower()
        custom = False
        count = 0
        for word in words:
            if custom:
                self.subclasses.add(word)
                count += 1
                continue
            name = word.upper()
            if name == "CUSTOM":
                custom = True
                self.names.add("CUSTOM")
                count += 1
            elif name == "ALL":
                self.names |= KNOWN_EVENT_NAMES
                count += 1
            elif name in KNOWN_EVENT_NAMES:
                self.names.add(name)
                count += 1
        if not count:
            return "-ERR no keywords supplied"
        self.fmt = fmt
        return f"+OK event listener enabled {fmt}"

    def myevents(self, uuid: str, fmt: str = "plain") -> None:
        self.fmt = fmt if fmt in FORMATS else "plain"
        self.my_uuid = uuid
        self.names |= MYEVENTS

    def nixevent(self, args: str) -> str:
        words = args.split()
        if not words:
            return "-ERR no keywords supplied"
        custom = False
        for word in words:
            if custom:
                self.subclasses.discard(word)
                continue
            name = word.upper()
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.names.clear()
                self.subclasses.clear()
            else:
                # with ALL set the switch still sends it: keep the ALL marker
                self.names.discard(name)
        return "+OK events nixed"

    def noevents(self) -> str:
        if self.fmt is None:
            return "-ERR not listening for events"
        self.fmt = None
        self.names.clear()
        self.subclasses.clear()
        return "+OK no longer listening for events"

    def filter(self, args: str) -> str:
        words = args.split(" ", 2) if args else []
        if words and words[0] == "delete":
            rest = args[len("delete"):].strip()
            if not rest:
                return "-ERR invalid syntax"
            header, _, value = rest.partition(" ")
            if header == "all":
                self.filters.clear()
                return "+OK filter deleted."
            if value:
                self.filters = [f for f in self.filters if f != (header, value)]
                return f"+OK filter deleted. [{header}][{value}]"
            self.filters = [f for f in self.filters if f[0] != header]
            return f"+OK filter deleted. [{header}]"
        header, _, value = args.partition(" ")
        if not header or not value:
            return "-ERR invalid syntax"
        self.filters.append((header, value))
        return f"+OK filter added. [{header}]=[{value}]"

    def wants(self, event: SimEvent) -> bool:
        if self.fmt is None:
            return False
        if self.my_uuid is not None and event.unique_id != self.my_uuid:
            return False
        if "ALL" in self.names:
            passed = True
        elif event.name in self.names:
            passed = event.name != "CUSTOM" or not event.subclass or event.subclass in self.subclasses
        else:
            passed = False
        if not passed:
            return False
        if self.filters:
            return any(_filter_match(event, h, v) for h, v in self.filters)
        return True


def _filter_match(event: SimEvent, header: str, value: str) -> bool:
    actual = event.get(header)
    if actual is None:
        return False
    if len(value) > 2 and value.startswith("/") and value.endswith("/"):
        return re.search(value[1:-1], actual) is not None
    return actual == value
