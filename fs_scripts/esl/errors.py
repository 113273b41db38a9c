"""Every exception the Event Socket layer raises on purpose.

    FsccError                       (fs_scripts.errors)
    └── EslError                    anything from the ESL layer; `code`, `exit_code`
        ├── FrameError              bytes from the peer that are not a valid ESL message
        ├── CommandArgumentError    a builder refused an argument (also a ValueError)
        ├── NotConnected            a command was issued with no live connection
        ├── ConnectionLost          the socket dropped; every command in flight fails with it
        ├── EslTimeout              a wait ran past its timeout (also a TimeoutError)
        ├── AuthFailed              the switch answered `-ERR invalid` to `auth`
        ├── CommandFailed           a reply or api body that starts with -ERR / -USAGE
        └── CallerHangup            outbound: the controlled channel is gone

Why our own tree: callers (IVR runner, ACD, service) must be able to tell "the caller hung up"
from "the switch went away" from "I built a bad command" without knowing about sockets,
gevent or greenswitch. Foreign errors (OSError, gevent.Timeout, socket.timeout) are translated
where they are met, with `raise ... from exc`, so nothing else leaks out of fs_scripts.esl.
"""

from __future__ import annotations

from fs_scripts.errors import FsccError


class EslError(FsccError):
    """Base of every deliberate error of the Event Socket layer."""

    code = "esl-error"
    exit_code = 3


class FrameError(EslError):
    """The peer sent bytes that are not an ESL message (bad Content-Length, endless header block)."""

    code = "esl-bad-frame"


class CommandArgumentError(EslError, ValueError):
    """A command builder refused an argument; names the argument and the offending character."""

    code = "esl-bad-argument"

    def __init__(self, argument: str, value: object, problem: str) -> None:
        self.argument = argument
        self.value = value
        self.problem = problem
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"ESL argument {argument}={shown}: {problem}")


class NotConnected(EslError):
    """A command was issued while no connection to the switch is up."""

    code = "esl-not-connected"


class ConnectionLost(EslError):
    """The socket to the switch dropped; commands that were waiting for a reply fail with this."""

    code = "esl-connection-lost"


class EslTimeout(EslError, TimeoutError):
    """A reply, job result or event did not arrive within its timeout."""

    code = "esl-timeout"


class AuthFailed(EslError):
    """The switch refused the password (`-ERR invalid`); FreeSWITCH closes the socket after it."""

    code = "esl-auth-failed"
    exit_code = 4


class CommandFailed(EslError):
    """A command/reply or api/response whose text starts with -ERR or -USAGE.

    `reply` carries the switch's text unchanged (e.g. `-ERR NO_ROUTE_DESTINATION\\n`);
    `command` is what was sent (first line), for the log.
    """

    code = "esl-command-failed"

    def __init__(self, reply: str, command: str = "") -> None:
        self.reply = reply
        self.command = command
        where = f" ({command})" if command else ""
        super().__init__(f"{reply.strip()}{where}")


class CallerHangup(EslError):
    """Outbound session: the controlled channel hung up (CHANNEL_HANGUP or disconnect notice)."""

    code = "esl-caller-hangup"

    def __init__(self, uuid: str | None, cause: str | None = None) -> None:
        self.uuid = uuid
        self.cause = cause
        super().__init__(f"channel {uuid or '?'} hung up ({cause or 'unknown cause'})")
