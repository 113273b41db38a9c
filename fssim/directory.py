"""Directory users and how each simulated agent phone behaves.

Why per-agent behaviour: the ACD's correctness shows in what happens when an agent does not
answer, is busy, rejects, or is not registered at all; each of those gives the hangup cause
the real switch gives (captures: USER_NOT_REGISTERED for a known unregistered user,
SUBSCRIBER_ABSENT for an unknown one; NO_ANSWER, USER_BUSY, CALL_REJECTED from SIP).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentBehaviour:
    """What the phone of a directory user does when called.

    registered=False -> USER_NOT_REGISTERED without a leg; busy -> USER_BUSY; reject ->
    CALL_REJECTED; answer_after_s=None -> rings until the caller's timeout (NO_ANSWER);
    talk_s -> the agent hangs up that long after answering (None: stays until the other side
    hangs up); hangup_after_s -> the agent hangs up that long after the leg was created,
    whatever its state (before answer it is a CALL_REJECTED, after answer a normal clearing).
    """

    registered: bool = True
    answer_after_s: float | None = 2.0
    busy: bool = False
    reject: bool = False
    talk_s: float | None = None
    hangup_after_s: float | None = None
    register_expires_s: float = 3600.0

    def failure_cause(self) -> str | None:
        """The cause that ends the attempt before any answer, or None if it will ring."""
        if not self.registered:
            return "USER_NOT_REGISTERED"
        if self.busy:
            return "USER_BUSY"
        if self.reject:
            return "CALL_REJECTED"
        return None


#: The recording switch's directory (../shared/fs-captures/directory-default.xml): users that
#: exist but are not registered until a test or the demo gives them a behaviour.
DEFAULT_USERS = ("1001", "1002", "1009")


class Directory:
    """Known users -> behaviour. Unknown users give SUBSCRIBER_ABSENT."""

    def __init__(self, users: tuple[str, ...] | list[str] = DEFAULT_USERS, domain: str = "127.0.0.1") -> None:
        self.domain = domain
        self._agents: dict[str, AgentBehaviour] = {u: AgentBehaviour(registered=False) for u in users}

    def set(self, user: str, behaviour: AgentBehaviour) -> None:
        self._agents[str(user)] = behaviour

    def remove(self, user: str) -> None:
        self._agents.pop(str(user), None)

    def get(self, user: str) -> AgentBehaviour | None:
        return self._agents.get(str(user))

    def users(self) -> dict[str, AgentBehaviour]:
        return dict(self._agents)
