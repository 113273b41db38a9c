"""A stand-in for FreeSWITCH's mod_python3 `freeswitch` module, driving a real fssim channel.

Under mod_python3, `handler(session, args)` gets a `freeswitch.Session`: the SWIG wrapper of
`PYTHON::Session : CoreSession` (src/mod/languages/mod_python3/freeswitch_python.h,
src/include/switch_cpp.h, src/switch_cpp.cpp). Its methods run in the channel's own thread
and block until done. This stand-in has the same method names, argument orders, defaults and
return types for the subset fscc uses, and does each thing to a live fssim channel over a
real inbound Event Socket connection, so code written for mod_python3 is tested against the
simulated switch over TCP:

| CoreSession (switch_cpp.cpp)                           | here, over ESL                                 |
|--------------------------------------------------------|------------------------------------------------|
| answer() -> int: switch_channel_answer                 | sendmsg execute answer                          |
| preAnswer() -> int                                     | sendmsg execute pre_answer                      |
| hangup(cause="normal_clearing"): str2cause, any case    | sendmsg hangup (cause upper-cased)              |
| setVariable(var, val); val None/"" unsets               | api uuid_setvar <uuid> <var> [val]              |
| getVariable(var) -> str or None (NULL); caller profile  | api uuid_getvar (`_undef_` -> None)             |
|   fields such as caller_id_number are found too         |                                                |
| execute(app, data=None): switch_core_session_execute_app| sendmsg execute, wait for ITS EXECUTE_COMPLETE  |
| streamFile(file, starting_sample_count=0) -> int        | sendmsg execute playback                        |
| sleep(ms, sync=0) -> int                                | sendmsg execute sleep                           |
| say(tosay, module_name, say_type, say_method,          | sendmsg execute say "<module> <type> <method>   |
|     say_gender=None): switch_ivr_say                    |   [gender] <text>"                             |
| playAndGetDigits(min, max, tries, timeout, terminators, | sendmsg execute play_and_get_digits; see below  |
|   audio_files, bad_input_audio_files, digits_regex,     |                                                |
|   var_name=None, digit_timeout=0,                       |                                                |
|   transfer_on_failure=None) -> str (the digits)         |                                                |
| recordFile(file_name, time_limit=0, silence_threshold=0,| sendmsg execute record                          |
|   silence_hits=0) -> int                                |                                                |
| transfer(extension, dialplan=None, context=None) -> int | api uuid_transfer                               |
| ready() -> bool: switch_channel_ready                   | no CHANNEL_HANGUP seen for the uuid             |
| answered() -> bool                                      | CHANNEL_ANSWER seen / answered at attach time   |
| hangupCause() -> str                                    | Hangup-Cause of CHANNEL_HANGUP                  |
| get_uuid() / .uuid                                      | the channel's uuid                              |

Where the stand-in cannot be the switch, and says so:
- The real `playAndGetDigits(var_name=None)` keeps the digits in a C buffer and sets no
  variable. Over ESL the application can only hand them back through a variable, so the
  stand-in names a scratch variable and queues an `unset` of it right behind the collect
  (event-lock: it runs in the channel the moment the collect ends) and reads the digits
  from the collect's CHANNEL_EXECUTE_COMPLETE.
- In the real switch, the channel's thread runs the Python handler, so after a hang-up the
  CDR is written only once `handler` returns (variables set after the hang-up are in it).
  fssim writes the CDR at hang-up; a `setVariable` after that is a no-op here.
- The channel must be parked (dialplan `park`) for the stand-in to drive it, as a parked
  channel runs what `sendmsg` sends it; mod_python3 instead runs inside the dialplan.
"""

from __future__ import annotations

import logging
import uuid as uuid_mod

import gevent
from gevent.event import AsyncResult

from fs_scripts.esl import commands
from fs_scripts.esl.errors import CommandFailed, EslTimeout
from fs_scripts.esl.frames import Event
from fs_scripts.esl.inbound import InboundConnection

logger = logging.getLogger(__name__)

SCRATCH_VAR = "modpython_standin_digits"
_CHANNEL_EVENTS = ("CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ANSWER")


def consoleLog(level: str, message: str) -> None:  # noqa: N802 - the freeswitch module's name
    """freeswitch.consoleLog(level, msg): the switch's log; here Python logging."""
    logger.log(logging.getLevelName(str(level).upper()) if str(level).upper() in
               ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else logging.INFO, "%s", message.rstrip("\n"))


class Session:
    """`freeswitch.Session` for the fssim channel `uuid` (see the module docstring)."""

    def __init__(self, uuid: str, host: str = "127.0.0.1", port: int = 8021, password: str = "ClueCon", *,
                 timeout_s: float = 600.0) -> None:
        self.uuid = uuid
        self.timeout_s = timeout_s
        self._pending: dict[str, AsyncResult] = {}
        self._hangup_cause: str | None = None
        self._answered = False
        self._esl = InboundConnection(host, port, password, event_format="plain", reconnect=False)
        self._esl.on_any(self._on_event)
        self._esl.connect()
        self._esl.filter("Unique-ID", uuid)
        self._esl.subscribe(*_CHANNEL_EVENTS)
        if self._esl.api("uuid_exists", uuid).strip() != "true":
            self._hangup_cause = "NO_SUCH_CHANNEL"
        else:
            self._answered = (self._getvar("answer_epoch") or "0") not in ("0", "")

    # ------------------------------------------------------------------ events
    def _on_event(self, event: Event) -> None:
        if event.unique_id != self.uuid:
            return
        name = event.name
        if name == "CHANNEL_EXECUTE_COMPLETE":
            pending = self._pending.pop(event.application_uuid or "", None)
            if pending is not None:
                pending.set(event)
        elif name == "CHANNEL_ANSWER":
            self._answered = True
        elif name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE") and self._hangup_cause is None:
            self._hangup_cause = event.get("Hangup-Cause") or "NORMAL_CLEARING"
            pending, self._pending = self._pending, {}
            for result in pending.values():
                result.set(None)

    # ------------------------------------------------------------------ running apps
    def _start(self, app: str, data: str | None) -> AsyncResult:
        event_uuid = str(uuid_mod.uuid4())
        result = AsyncResult()
        if self._hangup_cause is not None:
            result.set(None)
            return result
        self._pending[event_uuid] = result
        try:
            self._esl.sendmsg(self.uuid, commands.sendmsg_execute(app, data or None, event_uuid=event_uuid,
                                                                  event_lock=True))
        except CommandFailed:
            self._pending.pop(event_uuid, None)
            result.set(None)
        return result

    def _run(self, app: str, data: str | None = None) -> Event | None:
        """Execute and wait for its completion; None when the channel went away first."""
        result = self._start(app, data)
        try:
            return result.get(timeout=self.timeout_s)
        except gevent.Timeout as exc:
            raise EslTimeout(f"stand-in session {self.uuid}: {app} did not complete in {self.timeout_s}s") from exc

    def _getvar(self, name: str) -> str | None:
        try:
            text = self._esl.api("uuid_getvar", self.uuid, name)
        except CommandFailed:
            return None
        return None if text in ("_undef_", "") else text

    # ------------------------------------------------------------------ CoreSession
    def get_uuid(self) -> str:
        return self.uuid

    def ready(self) -> bool:
        return self._hangup_cause is None

    def answered(self) -> bool:
        return self._answered

    def hangupCause(self) -> str:  # noqa: N802
        return self._hangup_cause or ""

    def answer(self) -> int:
        return 1 if self._run("answer") is not None else 0

    def preAnswer(self) -> int:  # noqa: N802
        return 1 if self._run("pre_answer") is not None else 0

    def hangup(self, cause: str = "normal_clearing") -> None:
        if self._hangup_cause is None:
            try:
                self._esl.sendmsg(self.uuid, commands.sendmsg_hangup(str(cause).upper()))
            except CommandFailed:
                pass

    def setVariable(self, var: str, val: str | None) -> None:  # noqa: N802
        if self._hangup_cause is not None:
            return  # fssim has written the CDR already (module docstring)
        args = [self.uuid, var] + ([val] if val not in (None, "") else [])
        try:
            self._esl.api("uuid_setvar", *args)
        except CommandFailed:
            logger.debug("stand-in %s: uuid_setvar %s refused", self.uuid, var)

    def getVariable(self, var: str) -> str | None:  # noqa: N802
        return self._getvar(var)

    def execute(self, app: str, data: str | None = None) -> None:
        self._run(app, data)

    def streamFile(self, file: str, starting_sample_count: int = 0) -> int:  # noqa: N802
        done = self._run("playback", file)
        return 1 if done is not None and done.get("Application-Response") == "FILE PLAYED" else 0

    def sleep(self, ms: int, sync: int = 0) -> int:
        return 1 if self._run("sleep", str(int(ms))) is not None else 0

    def say(self, tosay: str, module_name: str, say_type: str, say_method: str,
            say_gender: str | None = None) -> None:
        parts = [module_name, say_type, say_method] + ([say_gender] if say_gender else []) + [tosay]
        self._run("say", commands.app_arg(*parts))

    def playAndGetDigits(self, min_digits: int, max_digits: int, max_tries: int, timeout: int,  # noqa: N802
                         terminators: str, audio_files: str, bad_input_audio_files: str, digits_regex: str,
                         var_name: str | None = None, digit_timeout: int = 0,
                         transfer_on_failure: str | None = None) -> str:
        name = var_name or SCRATCH_VAR
        arg = commands.play_and_get_digits_arg(
            int(min_digits), int(max_digits), int(max_tries), int(timeout), terminators or "none",
            audio_files or "silence_stream://10", bad_input_audio_files or "silence_stream://10", name,
            digits_regex or "^.*$", int(digit_timeout or timeout))
        if transfer_on_failure:
            arg += " " + commands.app_arg(transfer_on_failure)
        collect = self._start("play_and_get_digits", arg)
        if var_name is None:
            self._start("multiset", commands.app_arg(f"{SCRATCH_VAR}=", f"{SCRATCH_VAR}_invalid="))
        try:
            done = collect.get(timeout=self.timeout_s)
        except gevent.Timeout as exc:
            raise EslTimeout(f"stand-in session {self.uuid}: play_and_get_digits did not complete") from exc
        return "" if done is None else (done.get("variable_" + name) or "")

    def recordFile(self, file_name: str, time_limit: int = 0, silence_threshold: int = 0,  # noqa: N802
                   silence_hits: int = 0) -> int:
        done = self._run("record", commands.app_arg(file_name, str(int(time_limit)), str(int(silence_threshold)),
                                                    str(int(silence_hits))))
        return 1 if done is not None else 0

    def transfer(self, extension: str, dialplan: str | None = None, context: str | None = None) -> int:
        args = [self.uuid, extension] + [x for x in (dialplan, context) if x]
        try:
            self._esl.api("uuid_transfer", *args)
        except CommandFailed:
            return 0
        return 1

    def destroy(self) -> None:
        """Let go of the channel (CoreSession::destroy); closes the ESL connection."""
        self._esl.close()


__all__ = ["Session", "consoleLog", "SCRATCH_VAR"]
