"""The seams between a running flow and the rest of fscc.

The interpreter (pure) asks for actions; the runner carries them out through these ports.
Each has more than one implementation, which is why they are interfaces and not classes:

- `CallControl`: the call itself. `EslCallControl` (an outbound ESL session, `fscc serve`) and
  `ModPythonCallControl` (FreeSWITCH's mod_python3 `session`, a switch thread, no gevent).
- `QueueGateway`: the `queue` node hands the call to the ACD and waits for the outcome.
  `fs_scripts.acd_voice.AcdQueueGateway` (Redis router, agent leg over the inbound socket);
  `FixedExtensionQueue` here (bridge to one dial string) for a box with no ACD.
- `CustomerDirectory`: who is calling. `crm_sync.directory.CrmCustomerDirectory`.
- `TaskSink`: voicemails and callbacks that become work for an agent (the ACD's task side).

The request/result records of the queue port are the interpreter's own `Enqueue` action and
`QueueOutcome` event (ivr_flows/actions.py): one shape, no copies to keep in step.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ivr_flows.actions import CreateTask, Enqueue, QueueOutcome


class CallerHungUp(Exception):
    """The caller is gone. Every CallControl method may raise it; the runner ends the flow."""

    def __init__(self, cause: str = "") -> None:
        super().__init__(cause or "caller hung up")
        self.cause = cause


class CallControl(abc.ABC):
    """One call, as a flow sees it. Methods block until the switch has done the thing."""

    @property
    @abc.abstractmethod
    def uuid(self) -> str: ...

    @abc.abstractmethod
    def variables(self) -> dict[str, str]:
        """The channel variables at flow start (caller number and name, destination, ...)."""

    @abc.abstractmethod
    def get_variable(self, name: str) -> str | None: ...

    @abc.abstractmethod
    def set_variable(self, name: str, value: str) -> None:
        """A channel variable: it reaches the CDR, so never a sensitive value."""

    @abc.abstractmethod
    def answer(self) -> None: ...

    @abc.abstractmethod
    def playback(self, source: str) -> None:
        """A file path or a `tone_stream://` / `silence_stream://` / `say:` source."""

    @abc.abstractmethod
    def say(self, language: str, kind: str, method: str, text: str) -> None:
        """FreeSWITCH's `say` (number, currency, date...)."""

    @abc.abstractmethod
    def play_and_get_digits(self, *, prompt: str, invalid_prompt: str, min_digits: int, max_digits: int,
                            tries: int, timeout_ms: int, terminators: str, regex: str | None) -> str:
        """Digits the caller pressed ('' on timeout). The result never lands in a channel
        variable that reaches the CDR when the caller is entering a sensitive value."""

    @abc.abstractmethod
    def record(self, path: str, max_s: int, silence_threshold: int, silence_s: int) -> str: ...

    @abc.abstractmethod
    def bridge(self, dial_string: str) -> str:
        """Bridge to a built dial string; returns the outcome cause (`SUCCESS` or a hangup cause)."""

    @abc.abstractmethod
    def transfer(self, destination: str, dialplan: str = "XML", context: str = "default") -> None: ...

    @abc.abstractmethod
    def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...

    @abc.abstractmethod
    def sleep(self, ms: int) -> None: ...

    @abc.abstractmethod
    def mask_recording(self) -> None:
        """Stop putting the caller's audio on tape (payment card digits)."""

    @abc.abstractmethod
    def unmask_recording(self) -> None: ...


@runtime_checkable
class QueueGateway(Protocol):
    def wait_in_queue(self, call: CallControl, request: Enqueue) -> QueueOutcome:
        """Enqueue the call, keep the caller company (hold music, announcements, exit keys,
        callback offer) and return when an agent answered or the wait ended otherwise."""


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: str
    name: str
    tier: int  # acd.tiers.Tier value, 1..7
    phones: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class CustomerDirectory(Protocol):
    def by_number(self, tenant: str, number: str) -> CustomerInfo | None: ...

    def by_account(self, tenant: str, account_id: str) -> CustomerInfo | None: ...


@runtime_checkable
class TaskSink(Protocol):
    def create_task(self, call_uuid: str, task: CreateTask) -> str:
        """Queue a voicemail or callback for an agent; returns the task id."""


class FixedExtensionQueue:
    """A QueueGateway with no ACD: bridge the caller to one dial string (a hunt group, an
    operator). The outcome is `answered` or `failed`; nobody waits in line."""

    def __init__(self, dial_string: str) -> None:
        self.dial_string = dial_string

    def wait_in_queue(self, call: CallControl, request: Enqueue) -> QueueOutcome:
        cause = call.bridge(self.dial_string)
        return QueueOutcome("answered" if cause == "SUCCESS" else "failed")
