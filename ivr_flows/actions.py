"""What the interpreter asks for (actions) and what the runner tells it back (events).

Frozen records, pure. An action whose result the flow needs (`GetDigits`, `Lookup`, `Enqueue`,
`Record`, `Webhook`) is always the LAST of a batch; the runner feeds its result back as the next
event, or `Done` when the batch had none. A caller hang-up anywhere becomes `CallerGone`.
Sensitive digits print as `***` in every repr, so a trace or log line can never show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Start:
    call: dict[str, Any]  # uuid, caller_id_number, caller_id_name, destination_number
    channel: dict[str, str] = field(default_factory=dict)  # channel variables at flow start
    now: float = 0.0
    timezone: str = "UTC"
    vars: dict[str, Any] = field(default_factory=dict)  # handed over by a previous flow


@dataclass(frozen=True)
class Done:
    now: float = 0.0


@dataclass(frozen=True)
class Digits:
    value: str
    now: float = 0.0
    sensitive: bool = False

    def __repr__(self) -> str:
        shown = "***" if self.sensitive and self.value else repr(self.value)
        return f"Digits({shown})"


@dataclass(frozen=True)
class LookupResult:
    """customer: {"id", "name", "tier", "phones", "attributes"} plus the attributes at the top
    level (so a flow reads `customer.balance`); None when the directory does not know the key."""

    customer: dict[str, Any] | None
    now: float = 0.0

    @classmethod
    def of(cls, info: Any, now: float = 0.0) -> LookupResult:
        """From a `ports.CustomerInfo` (or None), the one shape every runner must feed back."""
        if info is None:
            return cls(None, now)
        attributes = dict(getattr(info, "attributes", {}) or {})
        record = {**attributes, "id": info.customer_id, "name": info.name, "tier": int(info.tier),
                  "phones": list(getattr(info, "phones", ()) or ()), "attributes": attributes}
        return cls(record, now)


@dataclass(frozen=True)
class QueueOutcome:
    outcome: str  # answered, abandoned, max-wait, exit-key, callback, failed
    agent_id: str | None = None
    task_id: str | None = None
    exit_key: str | None = None
    wait_s: float = 0.0
    now: float = 0.0


@dataclass(frozen=True)
class RecordResult:
    path: str
    now: float = 0.0


@dataclass(frozen=True)
class WebhookResult:
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    now: float = 0.0


@dataclass(frozen=True)
class CallerGone:
    now: float = 0.0
    cause: str = ""


Event = Start | Done | Digits | LookupResult | QueueOutcome | RecordResult | WebhookResult | CallerGone

# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Play:
    """items: ("prompt", name) | ("say", text, kind) | ("tone", spec) | ("silence", ms)."""

    items: tuple[tuple[str, ...], ...]
    language: str = "en"


@dataclass(frozen=True)
class GetDigits:
    prompt: str
    min_digits: int = 1
    max_digits: int = 1
    timeout_ms: int = 5000
    terminators: str = ""
    regex: str | None = None
    sensitive: bool = False
    language: str = "en"


@dataclass(frozen=True)
class SetVar:
    """A channel variable (reaches the CDR). Never carries a sensitive value."""

    name: str
    value: str


@dataclass(frozen=True)
class MaskRecording:
    pass


@dataclass(frozen=True)
class UnmaskRecording:
    pass


@dataclass(frozen=True)
class Lookup:
    by: str  # caller | account
    key: str
    tenant: str = "default"
    sensitive: bool = False  # the key came from a sensitive collect: never printed

    def __repr__(self) -> str:
        shown = "***" if self.sensitive else repr(self.key)
        return f"Lookup(by={self.by!r}, key={shown}, tenant={self.tenant!r})"


@dataclass(frozen=True)
class Enqueue:
    tenant: str
    queue: str
    skills: dict[str, int]
    language: str
    tier: int
    priority: int
    customer_id: str | None
    attributes: dict[str, Any]
    moh: str
    announce_prompt: str | None
    announce_every_s: float
    exit_keys: tuple[str, ...]
    callback_offer_after_s: float | None
    max_wait_s: float


@dataclass(frozen=True)
class Transfer:
    kind: str  # extension | external
    destination: str
    context: str | None = None  # None: the runner's configured context for the kind


@dataclass(frozen=True)
class RunFlow:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    max_s: int
    silence_threshold: int
    silence_s: int
    beep: bool


@dataclass(frozen=True)
class CreateTask:
    """A voicemail or callback that an agent must handle later (the ACD's task side)."""

    kind: str  # voicemail | callback
    tenant: str
    queue: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Webhook:
    method: str
    url: str
    body: dict[str, Any] = field(repr=False, default_factory=dict)  # may hold secrets: never printed
    timeout_s: float = 3.0


@dataclass(frozen=True)
class Hangup:
    cause: str = "NORMAL_CLEARING"


@dataclass(frozen=True)
class End:
    """The flow is over: how (`reason`), with which outcome, at which node."""

    outcome: str
    reason: str  # normal | caller-hangup | transferred | error
    node: str | None


Action = (Answer | Play | GetDigits | SetVar | MaskRecording | UnmaskRecording | Lookup | Enqueue | Transfer
          | RunFlow | Record | CreateTask | Webhook | Hangup | End)

#: actions whose result the next event carries
WAITING = (GetDigits, Lookup, Enqueue, Record, Webhook)
