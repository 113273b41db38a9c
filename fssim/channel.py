"""One simulated call leg: its caller profile, variables, states, and the greenlet that runs it.

Why one greenlet per leg: in the switch every session has its own thread running the state
machine; applications block that thread (playback, park), and messages from the outside
(sendmsg, uuid_kill, uuid_break, DTMF) are queued to it and picked up where the switch picks
them up (inside park, between frames of a playback, between dialplan applications). fssim
does the same with a greenlet, a message queue and one wake-up event, so the order of events
per leg follows the real switch's.
"""

from __future__ import annotations

import logging
import time
import uuid as uuid_mod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import AsyncResult, Event

from fssim import events as ev
from fssim.dialplan import switch_true
from fssim.states import (
    CallState,
    ChannelState,
    check_callstate_transition,
    q850,
)

if TYPE_CHECKING:  # pragma: no cover
    from fssim.core import SimCore
    from fssim.sip import SipLeg

logger = logging.getLogger(__name__)


class ChannelGone(Exception):
    """Raised inside a leg's greenlet when the leg has been hung up and must unwind."""


@dataclass
class ProfileTimes:
    """Microsecond timestamps of a caller profile (0 = never)."""

    created: int = 0
    profile_created: int = 0
    answered: int = 0
    progress: int = 0
    progress_media: int = 0
    hangup: int = 0
    transfer: int = 0
    resurrect: int = 0
    bridged: int = 0
    last_hold: int = 0
    hold_accum: int = 0


@dataclass
class CallerProfile:
    """switch_caller_profile_t: who called whom, and when each thing happened."""

    uuid: str
    chan_name: str
    destination_number: str
    direction: str = "inbound"
    logical_direction: str = "inbound"
    username: str = ""
    dialplan: str = "xml"
    caller_id_name: str = ""
    caller_id_number: str = "0000000000"
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = "0000000000"
    callee_id_name: str = ""
    callee_id_number: str = ""
    ani: str = "0000000000"
    aniii: str = ""
    network_addr: str = ""
    rdnis: str = ""
    source: str = "mod_loopback"
    context: str = "default"
    transfer_source: str = ""
    profile_index: int = 1
    times: ProfileTimes = field(default_factory=ProfileTimes)
    extension_name: str = ""
    extension_apps: list[tuple[str, str]] = field(default_factory=list)
    #: the profile got a caller extension (dialplan hit, inline apps, uuid_bridge's park); the
    #: CDR lists `extension` only then, as mod_json_cdr does (a failed originate has none)
    has_extension: bool = False

    def copy(self) -> CallerProfile:
        return replace(self, times=replace(self.times), extension_apps=list(self.extension_apps))


@dataclass(frozen=True)
class Codec:
    name: str = "L16"
    rate: int = 8000
    bit_rate: int = 128000


PCMU = Codec("PCMU", 8000, 64000)


@dataclass
class Message:
    """A queued instruction for a leg (sendmsg execute/hangup, transfer, bridge)."""

    kind: str  # execute | hangup | callback
    app: str = ""
    arg: str = ""
    event_uuid: str | None = None
    event_lock: bool = False
    loops: int = 1
    cause: str = "NORMAL_CLEARING"
    done: AsyncResult | None = None
    callback: Callable[[], None] | None = None


#: Apps during which a queued message may run even with event-lock (the switch's park loop).
MESSAGE_LOOP_APPS = frozenset({"park", "socket"})


class Channel:
    """A leg. Created by the originate / place_call code, run by `start()`."""

    def __init__(self, core: SimCore, *, name: str, direction: str, profile: CallerProfile,
                 uuid: str | None = None, codec: Codec | None = None,
                 hit_dialplan: bool = False) -> None:
        self.core = core
        self.uuid = uuid or str(uuid_mod.uuid4())
        self.name = name
        self.direction = direction
        self.profile = profile
        self.profiles: list[CallerProfile] = [profile]
        self.codec = codec or Codec()
        self.has_codecs = True
        self.hit_dialplan = hit_dialplan
        self.presence_id = ""
        self.state = ChannelState.CS_NONE
        self.running_state = ChannelState.CS_NEW
        self.callstate = CallState.DOWN
        self.answer_state = "ringing"
        self.hangup_cause = ""
        self.variables: dict[str, str] = {}
        self.session_id = core.next_session_id()
        self.created_at = core.clock.now()
        self.answered_at: float | None = None
        self.progress_at: float | None = None
        self.bridged_at: float | None = None
        self.hangup_at: float | None = None
        self.app_log: list[tuple[str, str, int, bool]] = []  # (app, data, stamp, from dialplan)
        self.current_app = ""
        self.current_app_data = ""
        self.application_stack: list[str] = []
        self.parked = False
        self.loopback_partner: Channel | None = None
        self.bridge_partner: Channel | None = None
        self.other_leg: tuple[str, Channel] | None = None  # ("originator"|"originatee", leg)
        self.originatee_profiles: list[CallerProfile] = []
        self.dtmf_buffer: deque[str] = deque()
        self.dtmf_script: list[tuple[float, str]] = []
        self.digits_dialed = ""
        self.messages: deque[Message] = deque()
        self.recordings: dict[str, Any] = {}
        self.limits: list[tuple[str, str, str]] = []
        self.hangup_hooks: list[Callable[[Channel], None]] = []
        self.outbound_sessions: list[Any] = []
        self.transfer_pending = False
        self._wake = Event()
        self._break = False
        self._busy = 0
        self._greenlet: gevent.Greenlet | None = None
        self.torn_down = Event()
        self.hungup_event = Event()
        self.claimed = Event()
        self.exported: dict[str, str] = {}
        self.unpark_requested = False
        self.bridge_mode = ""  # "app" (A ran bridge) or "uuid" (uuid_bridge)
        self.bridge_a_side = False
        self.destroyed = Event()
        self.answered_event = Event()
        self.body: Callable[[Channel], None] | None = None
        self.sip: SipLeg | None = None  # set on sofia legs (fssim.sip)
        self.call_stats: dict[str, Any] = {}  # the CDR's callStats (RTP figures of a sofia leg)
        #: variables set after CHANNEL_HANGUP_COMPLETE (the CDR is already written by then)
        self.after_reporting_vars: list[tuple[str, str]] = []
        self._hold_started_us: int | None = None

    # ---------------------------------------------------------------- identity and vars
    def __repr__(self) -> str:
        return f"<Channel {self.name} {self.uuid} {self.state.name}>"

    @property
    def is_up(self) -> bool:
        return not self.hangup_cause

    def set_var(self, name: str, value: str | None) -> None:
        """Set moves the variable to the end, as the switch's event-backed variable list does."""
        self.variables.pop(name, None)
        if value is not None and value != "":
            self.variables[name] = str(value)

    def get_var(self, name: str, default: str | None = None) -> str | None:
        return self.variables.get(name, default)

    def expand(self, text: str) -> str:
        from fssim.expand import expand_for_channel

        return expand_for_channel(text, self)

    def other_leg_profile(self) -> tuple[str, CallerProfile] | None:
        if self.other_leg is None:
            return None
        kind, leg = self.other_leg
        return kind, leg.profile

    def now_us(self) -> int:
        return int(self.core.clock.now() * 1_000_000)

    # ---------------------------------------------------------------- events
    def fire(self, name: str, *, prefix: ev.Headers | None = None, suffix: ev.Headers | None = None,
             with_variables: bool | None = None, body: str = "", subclass: str | None = None) -> ev.SimEvent:
        event = ev.channel_event(self.core.info, name, self, prefix=prefix, suffix=suffix,
                                 with_variables=with_variables, body=body, subclass=subclass)
        self.core.fire(event)
        return event

    def run_state(self, state: ChannelState, number: ChannelState | None = None) -> None:
        """The state machine runs `state`: Channel-State changes and CHANNEL_STATE fires."""
        self.state = state
        self.running_state = number or state
        if state == ChannelState.CS_EXECUTE:
            self.set_var("call_uuid", self.uuid)
        self.fire("CHANNEL_STATE")

    def set_callstate(self, new: CallState) -> None:
        old = self.callstate
        if old == new:
            return
        check_callstate_transition(self.uuid, old, new)
        self.callstate = new
        self.fire("CHANNEL_CALLSTATE", prefix=[("Original-Channel-Call-State", old.name),
                                               ("Channel-Call-State-Number", str(new.value))])

    # ---------------------------------------------------------------- answer
    def pre_answer(self) -> None:
        if self.progress_at is not None or self.answered_at is not None or not self.is_up:
            return
        self.progress_at = self.core.clock.now()
        self.profile.times.progress_media = self.now_us()
        self.answer_state = "early"
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.set_callstate(CallState.EARLY)

    def mark_answered(self) -> None:
        """CHANNEL_ANSWER then CHANNEL_CALLSTATE ACTIVE (the order of the captures)."""
        if self.answered_at is not None or not self.is_up:
            return
        self.answered_at = self.core.clock.now()
        self.profile.times.answered = self.now_us()
        self.answer_state = "answered"
        if self.sip is not None:
            from fssim.sip import apply

            apply(self, self.sip.answer_variables(int(self.answered_at)))
        self.fire("CHANNEL_ANSWER")
        self.set_callstate(CallState.ACTIVE)
        self.answered_event.set()
        self._wake.set()

    def answer(self) -> None:
        """The answer application: a loopback B-leg answers its A-leg first, as mod_loopback does."""
        if self.answered_at is not None or not self.is_up:
            return
        partner = self.loopback_partner
        if partner is not None and partner.answered_at is None and partner.is_up:
            partner.mark_answered()
        self.mark_answered()
        self.set_var("endpoint_disposition", "ANSWER")

    # ---------------------------------------------------------------- messages & waiting
    def wake(self) -> None:
        self._wake.set()

    def queue_message(self, message: Message) -> None:
        self.messages.append(message)
        self._wake.set()

    def request_break(self) -> None:
        self._break = True
        self._wake.set()

    def receive_dtmf(self, digits: str, source: str = "APP") -> None:
        """DTMF arrives: one DTMF event per digit, buffered for the running application.

        As switch_channel_queue_dtmf / switch_channel_dequeue_dtmf: a digit received while the
        channel has `sensitive_dtmf` true (read per digit, at queue time) is flagged
        DTMF_FLAG_SENSITIVE, so the application still gets it but no DTMF event is fired and it
        stays out of the dtmf log (`digits_dialed`): a PIN must not leak to event listeners or CDRs.
        """
        for digit in digits:
            if not self.is_up:
                return
            self.dtmf_buffer.append(digit)
            if switch_true(self.get_var("sensitive_dtmf")):
                continue
            self.digits_dialed += digit
            self.fire("DTMF", suffix=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"),
                                      ("DTMF-Source", source)], with_variables=False)
        self._wake.set()

    def _runnable_message(self) -> Message | None:
        if not self.messages:
            return None
        head = self.messages[0]
        if head.kind == "execute" and head.event_lock and self._busy > 0:
            return None
        return self.messages.popleft()

    def process_message(self, message: Message) -> None:
        if message.kind == "hangup":
            self.hangup(message.cause)
        elif message.kind == "execute":
            try:
                loops = max(1, message.loops)
                for loop in range(1, loops + 1):
                    if not self.is_up:
                        break
                    self.set_var("current_loop", str(loop))
                    self.set_var("total_loops", str(loops))
                    self.execute(message.app, message.arg, message.event_uuid)
                self.set_var("current_loop", None)
                self.set_var("total_loops", None)
            finally:
                if message.done is not None:
                    message.done.set(True)
        elif message.kind == "callback" and message.callback is not None:
            message.callback()

    def wait(self, sim_seconds: float | None, *, dtmf: bool = False, breakable: bool = True,
             messages: bool = True, until: Callable[[], bool] | None = None) -> str:
        """Block this leg for simulated seconds. Returns why it woke:
        'timeout', 'hangup', 'break', 'transfer', 'dtmf' or 'ready' (`until()` became true). Queued messages run inside the wait, and the
        time they take does not count (a playback resumes after a nested execute)."""
        clock = self.core.clock
        remaining = sim_seconds
        while True:
            self._wake.clear()
            if not self.is_up:
                return "hangup"
            if until is not None and until():
                return "ready"
            if self.transfer_pending:
                return "transfer"
            if breakable and self._break:
                self._break = False
                return "break"
            if dtmf and self.dtmf_buffer:
                return "dtmf"
            if messages:
                message = self._runnable_message()
                if message is not None:
                    self.process_message(message)
                    continue
            if remaining is not None and remaining <= 0:
                return "timeout"
            started = clock.now()
            self._wake.wait(None if remaining is None else clock.wall_seconds(remaining))
            if remaining is not None:
                remaining -= clock.now() - started

    def drain_messages(self) -> None:
        """Run the messages that waited for the running application (event-lock)."""
        while self.is_up:
            message = self._runnable_message()
            if message is None:
                return
            self.process_message(message)

    # ---------------------------------------------------------------- applications
    def execute(self, app: str, data: str = "", app_uuid: str | None = None, *, from_dialplan: bool = False) -> str:
        """switch_core_session_exec: EXECUTE, the app, EXECUTE_COMPLETE with the response."""
        from fssim.apps import APPLICATIONS, AppError

        if not self.is_up and app not in ("hangup",):
            return "_none_"
        func = APPLICATIONS.get(app)
        data = self.expand(data or "")
        if func is None:
            logger.warning("channel %s: invalid application %s", self.uuid, app)
            return "-ERR invalid application"
        app_uuid = app_uuid or str(uuid_mod.uuid4())
        self.set_var("current_application_response", None)
        self.set_var("current_application_data", data or None)
        self.set_var("current_application", app)
        self.current_app, self.current_app_data = app, data
        self.application_stack.append(app)
        self.app_log.append((app, data, self.now_us(), from_dialplan))
        app_headers: ev.Headers = [("Application", app)]
        if data:
            app_headers.append(("Application-Data", data))
        self.fire("CHANNEL_EXECUTE", suffix=app_headers + [("Application-UUID", app_uuid)])
        busy = app not in MESSAGE_LOOP_APPS
        if busy:
            self._busy += 1
        response = "_none_"
        try:
            result = func(self, data)
            if result:
                response = result
        except AppError as exc:
            logger.info("channel %s: %s %s failed: %s", self.uuid, app, data, exc)
        finally:
            if busy:
                self._busy -= 1
            self.application_stack.pop()
        if response != "_none_":
            self.set_var("current_application_response", response)
        # the switch reports the variable, so a nested app's response shows on the outer one
        response = self.get_var("current_application_response") or "_none_"
        self.fire("CHANNEL_EXECUTE_COMPLETE",
                  suffix=app_headers + [("Application-Response", response), ("Application-UUID", app_uuid)])
        if self.sip is not None and self.answered_at is not None and self.get_var("sip_to_tag") is None:
            from fssim.sip import apply

            apply(self, self.sip.ack_variables())  # the caller's ACK to our 200 OK
        return response

    def run_applications(self, apps: list[tuple[str, str]], *, from_dialplan: bool = False) -> None:
        """Execute a list (an extension or an inline `&app` / `app1,app2 inline`), then drain."""
        for app, data in apps:
            if not self.is_up:
                return
            self.execute(app, data, from_dialplan=from_dialplan)
            self.drain_messages()
            if self.transfer_pending:
                return

    # ---------------------------------------------------------------- lifecycle
    def start(self, body: Callable[[Channel], None]) -> None:
        self.body = body
        self._greenlet = gevent.spawn(self._thread)

    def _thread(self) -> None:
        try:
            if self.body is not None:
                self.body(self)
            if self.is_up:
                # the extension ran out of applications
                self.hangup("NORMAL_CLEARING")
        except ChannelGone:
            pass
        except Exception:  # a simulator bug must not leave a zombie leg
            logger.exception("channel %s crashed", self.uuid)
            if self.is_up:
                self.hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            self._teardown()

    def remote_hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """The far end hangs up (a SIP BYE / CANCEL): sofia records it, then the leg goes."""
        if not self.is_up:
            return False
        if self.sip is None:
            self.set_var("sip_hangup_disposition", "recv_bye")
            return self.hangup(cause)
        from fssim.sip import apply

        before, after = self.sip.remote_hangup_variables(self.answered_at is not None)
        apply(self, before)
        done = self.hangup(cause)
        apply(self, after)
        return done

    def hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """switch_channel_hangup: CHANNEL_HANGUP now, the rest when the leg's greenlet unwinds."""
        if not self.is_up:
            return False
        self.hangup_cause = cause or "NORMAL_CLEARING"
        self.hangup_at = self.core.clock.now()
        self.profile.times.hangup = self.now_us()
        self.answer_state = "hangup"
        self.running_state = ChannelState.CS_HANGUP
        self.fire("CHANNEL_HANGUP")
        self.hungup_event.set()
        self._wake.set()
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._teardown)
        return True

    def _teardown(self) -> None:
        if self.torn_down.is_set():
            return
        self.torn_down.set()
        if self.is_up:
            self.hangup("NORMAL_CLEARING")
        bridged = self.bridge_partner
        if bridged is not None and self.bridge_mode == "uuid" and self.bridge_a_side:
            from fssim.bridge import end_bridge

            end_bridge(self, bridged)
        self.run_state(ChannelState.CS_HANGUP)
        if self.sip is not None:  # sofia_on_hangup: BYE / CANCEL / refuse
            from fssim.sip import apply

            apply(self, self.sip.local_hangup_variables(self.answered_at is not None, self.direction == "inbound"))
        self.set_callstate(CallState.HANGUP)
        for hook in list(self.hangup_hooks):
            try:
                hook(self)
            except Exception:
                logger.exception("hangup hook failed on %s", self.uuid)
        partner = self.loopback_partner
        if partner is not None and partner.is_up:
            partner.hangup(self.hangup_cause)
        bridged = self.bridge_partner
        if bridged is not None:
            from fssim.bridge import end_bridge

            end_bridge(self, bridged)
        self.run_state(ChannelState.CS_REPORTING)
        self._set_final_variables()
        self.fire("CHANNEL_HANGUP_COMPLETE", prefix=[("Hangup-Cause", self.hangup_cause)])
        self.core.channel_hung_up(self)
        for name, value in self.after_reporting_vars:
            self.set_var(name, value)
        self.running_state = ChannelState.CS_DESTROY
        self.fire("CHANNEL_DESTROY")
        self.state = ChannelState.CS_DESTROY
        self.fire("CHANNEL_STATE")
        self.destroyed.set()

    def _set_final_variables(self) -> None:
        """switch_channel_set_timestamps + the CDR variables, in the switch's order."""
        created = self.created_at
        end = self.hangup_at or self.core.clock.now()
        answered = self.answered_at
        bridged = self.bridged_at
        progress = self.progress_at

        def stamp(t: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))

        def us(t: float | None) -> int:
            return int(t * 1_000_000) if t else 0

        self.set_var("hangup_cause", self.hangup_cause)
        self.set_var("hangup_cause_q850", str(q850(self.hangup_cause)))
        self.set_var("digits_dialed", self.digits_dialed or "none")
        self.set_var("start_stamp", stamp(created))
        self.set_var("profile_start_stamp", stamp(created))
        if answered:
            self.set_var("answer_stamp", stamp(answered))
        if bridged:
            self.set_var("bridge_stamp", stamp(bridged))
        if progress:
            self.set_var("progress_media_stamp", stamp(progress))
        self.set_var("end_stamp", stamp(end))
        self.end_hold()  # still on hold at hangup: the hold lasted until then
        last_hold_us = self.profile.times.last_hold
        hold_us = self.profile.times.hold_accum
        for name, t in (("start", created), ("profile_start", created), ("answer", answered),
                        ("bridge", bridged)):
            self.set_var(f"{name}_epoch", str(int(t)) if t else "0")
            self.set_var(f"{name}_uepoch", str(us(t)))
        self.set_var("last_hold_epoch", str(last_hold_us // 1_000_000))
        self.set_var("last_hold_uepoch", str(last_hold_us))
        self.set_var("hold_accum_seconds", str(hold_us // 1_000_000))
        self.set_var("hold_accum_usec", str(hold_us))
        self.set_var("hold_accum_ms", str(hold_us // 1000))
        for name, t in (("resurrect", None), ("progress", None), ("progress_media", progress),
                        ("end", end)):
            self.set_var(f"{name}_epoch", str(int(t)) if t else "0")
            self.set_var(f"{name}_uepoch", str(us(t)))
        if self.app_log:
            self.set_var("last_app", self.app_log[-1][0])
            if self.app_log[-1][1]:
                self.set_var("last_arg", self.app_log[-1][1])
        p = self.profile
        if p.caller_id_name and p.caller_id_name != p.caller_id_number:
            caller_id = f'"{p.caller_id_name}" <{p.caller_id_number}>'
        else:
            caller_id = p.caller_id_number
        self.set_var("caller_id", caller_id)
        total_us = us(end) - us(created)
        bill_us = us(end) - us(answered) if answered else 0
        progress_media_us = us(progress) - us(created) if progress else 0
        answer_us = us(answered) - us(created) if answered else 0
        wait_us = answer_us
        for unit, div in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            total = "duration" if unit == "sec" else ("mduration" if unit == "msec" else "uduration")
            self.set_var(total, str(total_us // div))
            self.set_var(f"bill{unit}", str(bill_us // div))
            self.set_var(f"progress{unit}", "0")
            self.set_var(f"answer{unit}", str(answer_us // div))
            self.set_var(f"wait{unit}", str(wait_us // div))
            self.set_var(f"progress_media{unit}", str(progress_media_us // div))
            self.set_var(f"flow_bill{unit}", str(bill_us // div if answered else total_us // div))
        if self.loopback_partner is not None:
            self.set_var("is_loopback", "1")
        if self.sip is not None:
            from fssim.sip import media_stat_variables, media_stats

            stats = media_stats(bill_us // 1000)
            self.call_stats = {"audio": stats}
            for name, value in media_stat_variables(stats):
                self.set_var(name, value)

    # ---------------------------------------------------------------- hold
    def start_hold(self) -> bool:
        """uuid_hold: CHANNEL_HOLD, call state HELD; the hold time starts (last_hold)."""
        if self.callstate == CallState.HELD or not self.is_up:
            return False
        self.profile.times.last_hold = self.now_us()
        self._hold_started_us = self.profile.times.last_hold
        self.fire("CHANNEL_HOLD")
        self.set_callstate(CallState.HELD)
        return True

    def end_hold(self, fire: bool = False) -> bool:
        """uuid_hold off: the time on hold is added to hold_accum (the CDR's hold_accum_*)."""
        started = self._hold_started_us
        if started is None:
            return False
        self._hold_started_us = None
        self.profile.times.hold_accum += max(0, self.now_us() - started)
        if fire and self.is_up:
            self.fire("CHANNEL_UNHOLD")
            self.set_callstate(CallState.ACTIVE)
        return True

    def transfer(self, destination: str, dialplan: str = "XML", context: str | None = None) -> None:
        """uuid_transfer / transfer app: a new caller profile; the running application stops
        and the leg's routing loop runs the dialplan again (fssim.routing.route_loop)."""
        new = self.profile.copy()
        new.destination_number = destination
        new.context = context or self.profile.context
        new.dialplan = dialplan.lower() if dialplan.upper() == "XML" else dialplan
        new.profile_index = self.profile.profile_index + 1
        new.times = ProfileTimes(created=self.profile.times.created, profile_created=self.now_us(),
                                 answered=self.profile.times.answered)
        self.profile.times.transfer = self.now_us()
        new.extension_name, new.extension_apps, new.has_extension = "", [], False
        self.profile = new
        self.profiles.append(new)
        self.transfer_pending = True
        self._wake.set()
