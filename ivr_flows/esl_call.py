"""CallControl over an outbound Event Socket session: how a flow drives a call under `fscc serve`.

Every command is built by `fs_scripts.esl.commands` (the one place ESL text is written), so a
value a caller controls (digits, a caller name copied into a variable) can never add a header
or a second command, nor be expanded by the switch (`${...}` is refused there).

Digits, and why they never sit in a channel variable that reaches the CDR:
`play_and_get_digits` can only hand its result back through a channel variable. We name a
scratch variable (`SCRATCH_VAR`), and queue an `unset` of it (and of the `<var>_invalid` twin
that newer switches fill on a regex failure) right behind the collect, with event-lock, in the
same round trip. The switch runs the `unset` in the channel's own thread the moment the collect
ends, with no network round trip in between; we read the digits from the collect's
CHANNEL_EXECUTE_COMPLETE event (it carries the channel variables, over our socket only). A
`getvar` followed by a separate `unset` would leave the value on the channel for a whole round
trip, long enough for a hang-up to write it into the CDR. The same path serves non-sensitive
collects: one mechanism, and no `ivr_digits` noise in every CDR. The value does travel in
that CHANNEL_EXECUTE_COMPLETE (and in the `multiset`'s CHANNEL_EXECUTE), as those events carry
the channel variables: only ESL clients subscribed to EXECUTE events of this channel see it
(this call's own socket; fscc's inbound connection takes no EXECUTE events). Reading the
digits from DTMF events instead is not possible for a sensitive collect: the switch fires no
DTMF event for a digit received under `sensitive_dtmf` (below).

The other way digits reach a CDR is the switch's own `digits_dialed` (every key the leg
received, written at hang-up: capture `dtmf.cdr.2.loopback-5903-b.json`, `"123%23"`). The
runner sets `sensitive_dtmf=true` around a sensitive collect: switch_channel_queue_dtmf then
flags the digits DTMF_FLAG_SENSITIVE and switch_channel_dequeue_dtmf keeps them out of the
dtmf log that becomes `digits_dialed` (and fires no DTMF event for them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from gevent import socket as gsocket

from fs_scripts import cdr_vars, recording
from fs_scripts.esl import commands
from fs_scripts.esl.errors import CallerHangup, ConnectionLost, EslTimeout, NotConnected
from fs_scripts.esl.outbound import OutboundSession
from ivr_flows.ports import CallControl, CallerHungUp

logger = logging.getLogger(__name__)

SCRATCH_VAR = "ivr_collect_scratch"
#: the switch accepts whatever keys were pressed; validating is the interpreter's job, so the
#: path can show what the caller really pressed (`main_menu:9`) instead of a timeout
ANY_KEYS = "^[0-9*#A-D]+$"
NO_PROMPT = "silence_stream://10"
#: channel profile fields a flow reads as variables (CHANNEL_DATA carries them as Caller-* headers)
PROFILE_FIELDS = {
    "caller_id_number": "Caller-Caller-ID-Number",
    "caller_id_name": "Caller-Caller-ID-Name",
    "destination_number": "Caller-Destination-Number",
    "ani": "Caller-ANI",
    "network_addr": "Caller-Network-Addr",
    "uuid": "Unique-ID",
}

T = TypeVar("T")


class EslCallControl(CallControl):
    """`ports.CallControl` for one call behind the outbound socket.

    `session` is the OutboundSession (kept as `.session`: the ACD voice gateway uses it for
    hold music, DTMF events and uuid_setvar). When it has not been connected yet, this does
    `connect` + `myevents` + `linger` (what `fscc serve` does before handing it over).
    """

    #: the runner's webhook client connects with this: never blocks the gevent hub
    create_connection = staticmethod(gsocket.create_connection)

    def __init__(self, session: OutboundSession, *, command_timeout_s: float = 10.0) -> None:
        self.session = session
        self.command_timeout_s = command_timeout_s
        if session.channel_data is None:
            self._call(session.connect)
            self._call(session.myevents, "plain")
            self._call(session.linger)
        self._bridge_prepared = False

    # ------------------------------------------------------------------ plumbing
    def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one session operation; a gone caller (or socket) becomes ports.CallerHungUp."""
        try:
            return func(*args, **kwargs)
        except CallerHangup as exc:
            raise CallerHungUp(exc.cause or "") from exc
        except (ConnectionLost, NotConnected) as exc:
            raise CallerHungUp("socket-closed") from exc

    def _execute(self, app: str, arg: str | None = None, timeout_s: float | None = None) -> Any:
        return self._call(self.session.execute, app, arg, timeout_s=timeout_s)

    # ------------------------------------------------------------------ CallControl
    @property
    def uuid(self) -> str:
        return self.session.uuid or ""

    def variables(self) -> dict[str, str]:
        data = self.session.channel_data
        if data is None:
            return {}
        out: dict[str, str] = {}
        for name, value in data.headers():
            if name.startswith("variable_"):
                out.setdefault(name[len("variable_"):], value)
        for var, header in PROFILE_FIELDS.items():
            value = data.get(header)
            if value is not None and var not in out:
                out[var] = value
        return out

    def get_variable(self, name: str) -> str | None:
        value = self._call(self.session.getvar, name)
        return None if value in (None, "", "_undef_") else value

    def set_variable(self, name: str, value: str) -> None:
        self._execute("set", commands.set_arg(name, value), self.command_timeout_s)

    def answer(self) -> None:
        self._execute("answer")

    def playback(self, source: str) -> None:
        self._execute("playback", commands.playback_arg(source))

    def say(self, language: str, kind: str, method: str, text: str) -> None:
        # say <module>[:<lang>] <type> <method> <text>  (mod_dptools say_function)
        self._execute("say", commands.app_arg(language, kind, method, text))

    def play_and_get_digits(self, *, prompt: str, invalid_prompt: str, min_digits: int, max_digits: int,
                            tries: int, timeout_ms: int, terminators: str, regex: str | None) -> str:
        arg = commands.play_and_get_digits_arg(
            min_digits, max_digits, max(1, tries), timeout_ms, terminators or "none", prompt or NO_PROMPT,
            invalid_prompt or NO_PROMPT, SCRATCH_VAR, regex or ANY_KEYS, timeout_ms)
        collect = self._call(self.session.execute_async, "play_and_get_digits", arg)
        # queued behind the collect (event-lock): runs in the switch as soon as it ends
        unset = self._call(self.session.execute_async, "multiset",
                           commands.app_arg(f"{SCRATCH_VAR}=", f"{SCRATCH_VAR}_invalid="))
        done = self._wait(collect)
        self._wait(unset)
        return done.get("variable_" + SCRATCH_VAR) or ""

    def _wait(self, execution: Any) -> Any:
        try:
            return self._call(execution.get, timeout=self.session.execute_timeout_s)
        except gevent.Timeout as exc:
            raise EslTimeout(f"{self.session.name}: {execution.app} did not complete") from exc

    def record(self, path: str, max_s: int, silence_threshold: int, silence_s: int) -> str:
        # record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>]
        self._execute("record", commands.app_arg(commands.record_session_arg(path), str(int(max_s)),
                                                 str(int(silence_threshold)), str(int(silence_s))))
        return path

    def bridge(self, dial_string: str) -> str:
        """Bridge and wait for the bridge to end. `SUCCESS` when the far end answered (even if
        the caller hung up during the conversation: the call WAS answered), else the cause."""
        if not self._bridge_prepared:
            # a failed bridge must not hang the caller up (the flow has a fallback), and the
            # flow goes on after the agent hangs up (survey)
            self._execute("multiset", commands.app_arg("continue_on_fail=true", "hangup_after_bridge=false"),
                          self.command_timeout_s)
            self._bridge_prepared = True
        bridged: list[Any] = []
        watcher = gevent.spawn(self._mark_answered_on_bridge, bridged)
        try:
            done = self._execute("bridge", commands.bridge_arg(dial_string))
        except CallerHungUp:
            gevent.sleep(0)  # a CHANNEL_BRIDGE read in the same chunk as the hang-up is seen first
            if bridged:
                return "SUCCESS"
            raise
        finally:
            if bridged:
                watcher.join(self.command_timeout_s)  # never cut an API request in half
            else:
                watcher.kill(block=True)
        if bridged or done.get("variable_last_bridge_to") or done.get("variable_bridge_uuid"):
            return "SUCCESS"
        return (done.get("variable_originate_disposition") or done.get("variable_DIALSTATUS")
                or done.get("variable_originate_failed_cause") or "NO_ANSWER")

    def _mark_answered_on_bridge(self, bridged: list[Any]) -> None:
        """The far end answered: the call is `answered` whatever happens next. Written at once
        with uuid_setvar (an API call does not queue behind the running bridge), because the
        caller usually hangs up first, and after that no `set` reaches the channel: without
        this, everyone who hung up on the agent would be counted as abandoned in the CDR.
        (The ACD gateway does the same for the legs it bridges.)"""
        try:
            event = self.session.wait_event(lambda e: e.name == "CHANNEL_BRIDGE" and e.unique_id == self.uuid,
                                            self.session.execute_timeout_s, after_hangup=True)
        except (CallerHangup, EslTimeout):
            return
        bridged.append(event)
        try:
            self.session.api("uuid_setvar", self.uuid, cdr_vars.OUTCOME, "answered")
        except Exception:  # the channel is already gone: nothing left to write on
            logger.debug("%s: could not mark the bridged call answered", self.session.name, exc_info=True)

    def transfer(self, destination: str, dialplan: str = "XML", context: str = "default") -> None:
        """Send the call to another extension. `resume` first: a channel whose outbound socket
        closes without it is hung up when it leaves the socket application (fssim does exactly
        that on a transfer), while with it the channel goes on into the new extension."""
        resume = getattr(self.session, "resume", None)
        if resume is not None:
            self._call(resume)
        else:  # OutboundSession has no public resume() yet: the same checked request it uses
            self._call(self.session._checked, commands.resume())
        try:
            self._execute("transfer", commands.transfer_arg(destination, dialplan, context), self.command_timeout_s)
        except CallerHungUp:
            pass  # the channel left us for its new extension: what a transfer is for

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self._call(self.session.hangup, cause)

    def sleep(self, ms: int) -> None:
        self._execute("sleep", str(int(ms)))

    def mask_recording(self) -> None:
        """Silence on tape from now on, if the call is being recorded (fs_scripts.recording:
        `uuid_record <uuid> mask <path>`, an API call that works whatever app is running)."""
        self._call(recording.mask, self.session.api, self.uuid)

    def unmask_recording(self) -> None:
        self._call(recording.unmask, self.session.api, self.uuid)


__all__ = ["EslCallControl", "SCRATCH_VAR"]
