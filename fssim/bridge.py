"""Bridging two legs: the `bridge` application and `uuid_bridge`, with their events.

Who hangs up whom (the switch's rules): with the `bridge` application the callee is hung up
when the caller goes, and the caller continues its dialplan when the callee goes (unless
`hangup_after_bridge=true`); legs joined by `uuid_bridge` go down together.
"""

from __future__ import annotations

import logging
import uuid as uuid_mod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fssim.channel import Message
from fssim.dialplan import switch_true
from fssim.dialstring import DialStringError, parse_dial_string
from fssim.originate import OriginateFailure, await_answer, claim, create_leg
from fssim.states import ChannelState

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

logger = logging.getLogger(__name__)


def start_bridge(a: Channel, b: Channel, mode: str) -> None:
    now = a.core.clock.now()
    a.bridge_partner, b.bridge_partner = b, a
    a.bridge_mode = b.bridge_mode = mode
    a.bridge_a_side, b.bridge_a_side = True, False
    a.other_leg = ("originatee", b)
    b.other_leg = ("originator", a)
    for leg, other in ((a, b), (b, a)):
        leg.bridged_at = now
        leg.profile.times.bridged = leg.now_us()
        if mode == "app":
            leg.set_var("last_bridge_to", other.uuid)
            leg.set_var("bridge_channel", other.name)
            leg.set_var("bridge_uuid", other.uuid)
            leg.set_var("signal_bond", other.uuid)
    if mode == "app":
        a.set_var("last_bridge_role", "originator")
        b.set_var("last_bridge_role", "originatee")
    a.fire("CHANNEL_BRIDGE", prefix=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    for leg in (a, b):
        leg.wake()


def end_bridge(gone: Channel, partner: Channel) -> None:
    """Called while `gone` tears down: CHANNEL_UNBRIDGE once, then the partner's fate."""
    if gone.bridge_partner is None:
        return
    a, b = (gone, partner) if gone.bridge_a_side else (partner, gone)
    gone.bridge_partner = None
    partner.bridge_partner = None
    if gone.bridge_mode == "uuid":
        b.set_var("last_bridge_hangup_cause", gone.hangup_cause)
        if partner.is_up:
            partner.hangup(gone.hangup_cause)
        a.set_var("bridge_to", None)
    a.set_var("bridge_hangup_cause", gone.hangup_cause)
    a.fire("CHANNEL_UNBRIDGE", prefix=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    if gone.bridge_mode == "uuid":
        if b is gone:
            b.set_var("bridge_hangup_cause", gone.hangup_cause)
        else:
            # the switch's bridge thread sets it on the surviving leg only after that leg's
            # CHANNEL_HANGUP_COMPLETE: its DESTROY shows it, its CDR does not (capture)
            b.after_reporting_vars.append(("bridge_hangup_cause", gone.hangup_cause))
        b.set_var("call_uuid", b.uuid)
    if not partner.is_up:
        return
    if gone.bridge_mode == "app" and partner is a:
        partner.wake()  # the caller's bridge application returns
        return
    partner.hangup(gone.hangup_cause if gone.hangup_cause != "ORIGINATOR_CANCEL" else "NORMAL_CLEARING")


def bridge_app(a: Channel, data: str) -> None:
    """`bridge <dial string>`: ring, then either bridge or record why it failed."""
    try:
        dial = parse_dial_string(data)
    except DialStringError as exc:
        _fail(a, "INVALID_NUMBER_FORMAT", str(exc))
        return
    timeout_s = float(a.get_var("call_timeout") or dial.variables.get("leg_timeout") or
                      dial.variables.get("originate_timeout") or 60)
    cause = "NO_ANSWER"
    for group in dial.groups:
        legs: list[Channel] = []
        for target in group:
            try:
                legs.append(create_leg(a.core, target, dial.variables, originator=a))
            except OriginateFailure as exc:
                cause = exc.cause
        if not legs:
            continue
        winner, cause = await_answer(a, legs, timeout_s)
        if winner is not None:
            if not a.answered_at:
                a.answer()
            claim(winner)
            start_bridge(a, winner, "app")
            a.wait(None, breakable=False, messages=False, until=lambda w=winner: a.bridge_partner is not w)
            if a.is_up and switch_true(a.get_var("hangup_after_bridge")):
                a.hangup("NORMAL_CLEARING")
            return
        if not a.is_up:
            return
    _fail(a, cause, "")


def _fail(a: Channel, cause: str, why: str) -> None:
    if why:
        logger.info("bridge on %s failed: %s", a.uuid, why)
    a.set_var("originate_disposition", cause)
    a.set_var("DIALSTATUS", cause)
    a.set_var("originate_failed_cause", cause)
    if not switch_true(a.get_var("continue_on_fail")) and a.is_up:
        a.hangup(cause)


def uuid_bridge(a: Channel, b: Channel) -> None:
    """Both legs leave what they run (park), each runs `uuid_bridge`, then CHANNEL_BRIDGE
    fires once for the first leg; the legs stay bridged until one goes, then both go.
    As in the switch, each leg is transferred into the bridge: a second caller profile with a
    Transfer-Source, and the original_* / transfer_* variables."""
    from gevent.event import Event

    second_ready = Event()
    now = a.core.clock.now()
    b_callee = (b.profile.callee_id_name, b.profile.callee_id_number)
    for leg, other, first in ((a, b, True), (b, a, False)):
        source = f"{int(now)}:{uuid_mod.uuid4()}:uuid_br:{other.uuid}"
        if first:
            leg.set_var("uuid_bridge", other.uuid)
        leg.set_var("bridge_channel", other.name)
        leg.set_var("bridge_uuid", other.uuid)
        leg.set_var("signal_bond", other.uuid)
        leg.set_var("original_destination_number", leg.profile.destination_number)
        leg.set_var("original_caller_id_name", leg.profile.caller_id_name)
        leg.set_var("original_caller_id_number", leg.profile.caller_id_number)
        leg.set_var("transfer_history", source)
        leg.set_var("transfer_source", source)
        new = leg.profile.copy()
        new.profile_index = leg.profile.profile_index + 1
        new.transfer_source = source
        new.callee_id_name, new.callee_id_number = b_callee
        new.times.profile_created = leg.now_us()
        new.times.transfer = 0
        leg.profile.times.transfer = leg.now_us()
        new.extension_name, new.extension_apps = "park", []
        leg.profile = new
        leg.profiles.append(new)
        leg.other_leg = ("originatee", other) if first else ("originator", other)
        leg.unpark_requested = True
        leg.state = ChannelState.CS_EXECUTE
        leg.running_state = ChannelState.CS_HIBERNATE
        leg.request_break()
        leg.queue_message(Message("callback", callback=_bridge_runner(leg, other, first, second_ready)))


def _bridge_runner(leg: Channel, other: Channel, first: bool, second_ready: Any) -> Callable[[], None]:
    def run() -> None:
        leg.state = ChannelState.CS_SOFT_EXECUTE
        leg.running_state = ChannelState.CS_SOFT_EXECUTE
        leg.other_leg = ("originatee", other) if first else ("originator", other)
        if first:
            leg.set_var("uuid_bridge", None)
        leg.fire("CHANNEL_EXECUTE", suffix=[("Application", "uuid_bridge"), ("Application-Data", other.uuid)])
        if first:
            second_ready.wait(timeout=other.core.clock.wall_seconds(5.0))
            if leg.is_up and other.is_up:
                start_bridge(leg, other, "uuid")
                leg.set_var("bridge_to", other.uuid)
                leg.set_var("last_bridge_to", other.uuid)
                leg.set_var("last_sent_callee_id_name", leg.profile.callee_id_name)
                leg.set_var("last_sent_callee_id_number", leg.profile.callee_id_number)
                leg.set_var("last_bridge_role", "originator")
                other.set_var("call_uuid", leg.uuid)
                other.set_var("last_bridge_to", leg.uuid)
                other.set_var("last_sent_callee_id_name", leg.profile.caller_id_name)
                other.set_var("last_sent_callee_id_number", leg.profile.caller_id_number)
            elif leg.is_up:
                leg.hangup(other.hangup_cause or "NORMAL_CLEARING")
        else:
            second_ready.set()
            leg.state = ChannelState.CS_EXCHANGE_MEDIA
            leg.running_state = ChannelState.CS_EXCHANGE_MEDIA
            leg.wait(None, breakable=False, messages=False,
                     until=lambda: not other.is_up or leg.bridge_partner is not None)
        leg.wait(None, breakable=False, messages=False, until=lambda: leg.bridge_partner is None)

    return run
