"""Creating outgoing legs: loopback pairs, directory users (agent phones), error/ endpoints.

The loopback event order follows ../shared/fs-captures/bgapi_originate_park.json (CODEC x2,
CHANNEL_UUID when origination_uuid is given, CHANNEL_OUTGOING, states, CHANNEL_CREATE,
CHANNEL_ORIGINATE, ... then the B-leg's dialplan). A user leg fails the way the switch fails
it: SUBSCRIBER_ABSENT (unknown user) and USER_NOT_REGISTERED without creating a channel;
USER_BUSY, CALL_REJECTED and NO_ANSWER after ringing.
"""

from __future__ import annotations

import logging
import uuid as uuid_mod
from typing import TYPE_CHECKING

import gevent

from fssim.channel import PCMU, CallerProfile, Channel, ChannelGone, Codec
from fssim.dialstring import DialStringError, Target, parse_dial_string, parse_originate
from fssim.directory import AgentBehaviour
from fssim.registrations import phone_address
from fssim.routing import route_loop
from fssim.sip import SipLeg, apply
from fssim.states import CallState, ChannelState

if TYPE_CHECKING:  # pragma: no cover
    from fssim.core import SimCore

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0


class OriginateFailure(Exception):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def _caller_id(variables: dict[str, str], originator: Channel | None) -> tuple[str, str]:
    name = variables.get("origination_caller_id_name")
    number = variables.get("origination_caller_id_number")
    if originator is not None:
        name = name if name is not None else originator.profile.caller_id_name
        number = number if number is not None else originator.profile.caller_id_number
    return name or "", number or "0000000000"


def create_leg(core: SimCore, target: Target, global_vars: dict[str, str], *,
               originator: Channel | None = None, after_answer: list[tuple[str, str]] | None = None,
               extension: tuple[str, str, str] | None = None) -> Channel:
    """Create and start the leg for one dial-string target; raises OriginateFailure when the
    switch would fail without a channel. The returned leg rings; see `await_answer`."""
    variables = {**global_vars, **target.variables}
    endpoint = target.endpoint
    kind, _, rest = endpoint.partition("/")
    if kind == "loopback":
        return _loopback(core, rest, variables, originator, after_answer, extension)
    if kind == "user":
        user, _, domain = rest.partition("@")
        domain = domain or core.directory.domain
        if originator is not None:
            originator.set_var("dialed_user", user)
            originator.set_var("dialed_domain", domain)
        behaviour = core.directory.get(user)
        if behaviour is None:
            raise OriginateFailure("SUBSCRIBER_ABSENT")
        if not behaviour.registered:
            raise OriginateFailure("USER_NOT_REGISTERED")
        return _phone_leg(core, f"sofia/internal/{user}@{domain}", user, behaviour, variables,
                          originator, after_answer, extension)
    if kind == "error":
        raise OriginateFailure(rest or "NORMAL_TEMPORARY_FAILURE")
    if kind == "sofia":
        number = rest.rsplit("/", 1)[-1].split("@")[0]
        behaviour = core.directory.get(number) or AgentBehaviour()
        if not behaviour.registered:
            raise OriginateFailure("USER_NOT_REGISTERED")
        return _phone_leg(core, f"sofia/{rest}", number, behaviour, variables, originator,
                          after_answer, extension)
    raise OriginateFailure("CHAN_NOT_IMPLEMENTED")


def await_answer(originator: Channel | None, legs: list[Channel], timeout_s: float) -> tuple[Channel | None, str]:
    """Ring legs together: the first to answer wins, the others are cancelled.
    Returns (winner, "") or (None, cause)."""
    clock = legs[0].core.clock
    deadline = clock.now() + timeout_s
    cause = "NO_ANSWER"
    while True:
        for leg in legs:
            if leg.answered_at is not None and leg.is_up:
                for other in legs:
                    if other is not leg and other.is_up:
                        other.hangup("LOSE_RACE")
                return leg, ""
        alive = [leg for leg in legs if leg.is_up]
        if not alive:
            return None, legs[-1].hangup_cause or cause
        if originator is not None and not originator.is_up:
            for leg in alive:
                leg.hangup("ORIGINATOR_CANCEL")
            return None, "ORIGINATOR_CANCEL"
        remaining = deadline - clock.now()
        if remaining <= 0:
            for leg in alive:
                leg.hangup("NO_ANSWER")
            return None, "NO_ANSWER"
        waits = [leg.answered_event for leg in alive] + [leg.hungup_event for leg in alive]
        if originator is not None:
            waits.append(originator.hungup_event)
        gevent.wait(waits, timeout=clock.wall_seconds(remaining), count=1)


# ---------------------------------------------------------------------------------- loopback
def _loopback(core: SimCore, rest: str, variables: dict[str, str], originator: Channel | None,
              after_answer: list[tuple[str, str]] | None, extension: tuple[str, str, str] | None) -> Channel:
    parts = rest.split("/")
    exten = parts[0]
    context = parts[1] if len(parts) > 1 and parts[1] else "default"
    dialplan = parts[2] if len(parts) > 2 and parts[2] else "xml"
    cid_name, cid_number = _caller_id(variables, originator)

    def profile(uuid: str, name: str, direction: str) -> CallerProfile:
        now = core.info.now_us()
        p = CallerProfile(uuid=uuid, chan_name=name, destination_number=exten, direction=direction,
                          logical_direction=direction, dialplan=dialplan.lower() if dialplan.upper() == "XML" else dialplan,
                          caller_id_name=cid_name, caller_id_number=cid_number, orig_caller_id_name=cid_name,
                          orig_caller_id_number=cid_number, callee_id_name="Outbound Call",
                          callee_id_number="default", ani=cid_number, source="mod_loopback", context=context)
        p.times.created = p.times.profile_created = now
        return p

    a_name, b_name = f"loopback/{exten}-a", f"loopback/{exten}-b"
    a = Channel(core, name=f"loopback/{rest}-a", direction="outbound", profile=profile("", a_name, "outbound"),
                codec=Codec())
    a.profile.uuid = a.uuid
    a.set_var("direction", "outbound")
    a.set_var("is_outbound", "true")
    a.set_var("session_id", str(a.session_id))
    _codec_vars(a)
    core.add_channel(a)
    for event in _codec_events(a):
        core.fire(event)
    a.name = a_name
    a.set_var("channel_name", a_name)
    wanted = variables.get("origination_uuid")
    a.running_state = ChannelState.CS_INIT
    if wanted and wanted != a.uuid:
        old = a.uuid
        core.rename_channel(a, wanted)
        a.profile.uuid = wanted
        a.set_var("uuid", wanted)
        a.set_var("call_uuid", wanted)
        a.fire("CHANNEL_UUID", prefix=[("Old-Unique-ID", old)])
    else:
        a.set_var("uuid", a.uuid)
        a.set_var("call_uuid", a.uuid)
    _dial_vars(a, variables)
    a.set_var("originate_early_media", "true")
    a.set_var("originate_endpoint", "loopback")
    a.fire("CHANNEL_OUTGOING", with_variables=False)
    a.run_state(ChannelState.CS_INIT)

    b = Channel(core, name=b_name, direction="inbound", profile=profile("", b_name, "inbound"), hit_dialplan=True)
    b.profile.uuid = b.uuid
    b.set_var("direction", "inbound")
    b.set_var("uuid", b.uuid)
    b.set_var("call_uuid", b.uuid)
    b.set_var("session_id", str(b.session_id))
    b.set_var("channel_name", b_name)
    _codec_vars(b)
    _dial_vars(b, variables)
    a.set_var("other_loopback_leg_uuid", b.uuid)
    a.set_var("loopback_leg", "A")
    b.set_var("other_loopback_leg_uuid", a.uuid)
    b.set_var("loopback_leg", "B")
    a.loopback_partner, b.loopback_partner = b, a
    core.add_channel(b)
    for event in _codec_events(b):
        core.fire(event)

    a.running_state = ChannelState.CS_ROUTING
    a.fire("CHANNEL_CREATE")
    if originator is None:
        a.fire("CHANNEL_ORIGINATE")
    a.run_state(ChannelState.CS_ROUTING)
    a.run_state(ChannelState.CS_CONSUME_MEDIA)
    a.other_leg = ("originator", originator) if originator is not None else None

    b.run_state(ChannelState.CS_INIT)
    b.running_state = ChannelState.CS_ROUTING
    b.fire("CHANNEL_CREATE")
    b.state = ChannelState.CS_ROUTING
    b.set_callstate(CallState.RINGING)
    b.fire("CHANNEL_STATE")

    a.start(lambda leg: _a_leg_body(leg, after_answer, extension))
    b.start(route_loop)
    return a


def _codec_vars(ch: Channel) -> None:
    ch.set_var("read_codec", ch.codec.name)
    ch.set_var("read_rate", str(ch.codec.rate))
    ch.set_var("write_codec", ch.codec.name)
    ch.set_var("write_rate", str(ch.codec.rate))


def _codec_events(ch: Channel):
    from fssim.events import codec_events

    saved_state, saved_running = ch.state, ch.running_state
    ch.state, ch.running_state = ChannelState.CS_NONE, ChannelState.CS_NEW
    out = codec_events(ch.core.info, ch)
    ch.state, ch.running_state = saved_state, saved_running
    return out


def _dial_vars(ch: Channel, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        ch.set_var(name, value)


def _a_leg_body(a: Channel, after_answer: list[tuple[str, str]] | None,
                extension: tuple[str, str, str] | None) -> None:
    a.wait(None, messages=False, breakable=False, until=lambda: a.answered_at is not None)
    if not a.is_up:
        raise ChannelGone
    _run_after_answer(a, after_answer, extension)


def claim(leg: Channel) -> None:
    """The originator takes the answered leg: a loopback A-leg flips its caller ID first
    (CALL_UPDATE comes before the originate's API/BACKGROUND_JOB events, as captured)."""
    if leg.loopback_partner is not None and leg.get_var("channel_cid_flipped") is None:
        _flip_cid(leg)
    leg.claimed.set()


def _flip_cid(a: Channel) -> None:
    """switch_channel_flip_cid: the A-leg now shows the callee as its caller (CALL_UPDATE)."""
    p = a.profile
    a.set_var("endpoint_disposition", "ANSWER")
    if p.caller_id_name:
        a.set_var("pre_transfer_caller_id_name", p.caller_id_name)
    a.set_var("pre_transfer_caller_id_number", p.caller_id_number)
    a.set_var("channel_cid_flipped", "yes")
    p.caller_id_name, p.callee_id_name = p.callee_id_name, p.caller_id_name
    p.caller_id_number, p.callee_id_number = p.callee_id_number, p.caller_id_number
    a.hit_dialplan = True
    a.fire("CALL_UPDATE", prefix=[("Direction", "RECV")])


def _run_after_answer(leg: Channel, after_answer: list[tuple[str, str]] | None,
                      extension: tuple[str, str, str] | None) -> None:
    """Once the originate (or bridge) has claimed the answered leg: run the inline apps,
    route to the extension, or just stay up (a bridged callee)."""
    while leg.is_up and not leg.claimed.is_set():
        gevent.wait([leg.claimed, leg.hungup_event], count=1)
    if not leg.is_up:
        raise ChannelGone
    if after_answer is not None:
        if after_answer:
            leg.profile.extension_name = after_answer[0][0]
            leg.profile.extension_apps = list(after_answer)
            leg.profile.has_extension = True
        leg.run_state(ChannelState.CS_EXECUTE)
        leg.run_applications(after_answer)
    elif extension is not None:
        exten, dialplan, context = extension
        leg.hit_dialplan = True
        leg.profile.destination_number = exten
        leg.profile.context = context
        leg.run_state(ChannelState.CS_ROUTING)
        route_loop(leg)
    else:
        leg.state = ChannelState.CS_EXCHANGE_MEDIA
        leg.running_state = ChannelState.CS_EXCHANGE_MEDIA
        leg.wait(None, breakable=False)


# ---------------------------------------------------------------------------------- phones
def _phone_leg(core: SimCore, name: str, user: str, behaviour: AgentBehaviour, variables: dict[str, str],
               originator: Channel | None, after_answer: list[tuple[str, str]] | None,
               extension: tuple[str, str, str] | None) -> Channel:
    cid_name, cid_number = _caller_id(variables, originator)
    uuid = variables.get("origination_uuid") or str(uuid_mod.uuid4())
    now = core.info.now_us()
    profile = CallerProfile(uuid=uuid, chan_name=name, destination_number=user, direction="outbound",
                            logical_direction="outbound", username=user, dialplan="XML",
                            caller_id_name=cid_name, caller_id_number=cid_number,
                            orig_caller_id_name=cid_name, orig_caller_id_number=cid_number,
                            callee_id_name="Outbound Call", callee_id_number=user, ani=cid_number,
                            network_addr="127.0.0.1", source="mod_sofia",
                            context=originator.profile.context if originator else "default")
    profile.times.created = profile.times.profile_created = now
    leg = Channel(core, name=name, direction="outbound", profile=profile, uuid=uuid, codec=PCMU)
    leg.has_codecs = False
    leg.set_var("direction", "outbound")
    leg.set_var("is_outbound", "true")
    leg.set_var("uuid", leg.uuid)
    leg.set_var("session_id", str(leg.session_id))
    binding = core.registrar.get(user)
    remote_ip, remote_port = (binding.network_ip, binding.network_port) if binding else phone_address(user)
    leg.sip = SipLeg(profile="internal", local_ip=core.info.ipv4, local_port=5060, remote_user=user,
                     remote_ip=remote_ip, remote_port=remote_port, call_id=f"{uuid}@{core.info.ipv4}")
    leg.set_var("channel_name", name)
    apply(leg, leg.sip.outgoing_variables(domain=core.directory.domain))
    leg.set_var("dialed_user", user)
    _dial_vars(leg, variables)
    if originator is not None:
        leg.other_leg = ("originator", originator)
        originator.originatee_profiles.append(profile)
        for key, value in originator.exported.items():
            leg.set_var(key, value)
    core.add_channel(leg)
    leg.run_state(ChannelState.CS_INIT)
    leg.fire("CHANNEL_OUTGOING", with_variables=False)
    leg.running_state = ChannelState.CS_ROUTING
    leg.fire("CHANNEL_CREATE")
    leg.fire("CHANNEL_ORIGINATE")
    leg.run_state(ChannelState.CS_ROUTING)
    leg.run_state(ChannelState.CS_CONSUME_MEDIA)
    leg.start(lambda ch: _phone_body(ch, behaviour, after_answer, extension))
    return leg


def _phone_body(leg: Channel, behaviour: AgentBehaviour, after_answer: list[tuple[str, str]] | None,
                extension: tuple[str, str, str] | None) -> None:
    clock = leg.core.clock
    if behaviour.hangup_after_s is not None:
        def hang_later() -> None:
            clock.sleep(behaviour.hangup_after_s)
            if leg.is_up:
                leg.remote_hangup("NORMAL_CLEARING" if leg.answered_at else "CALL_REJECTED")

        gevent.spawn(hang_later)
    failure = behaviour.failure_cause()
    if failure:
        leg.wait(0.05, messages=False, breakable=False)
        apply(leg, leg.sip.remote_refuse_variables(failure))
        leg.hangup(failure)
        raise ChannelGone
    leg.set_callstate(CallState.RINGING)
    leg.fire("CHANNEL_PROGRESS")
    if behaviour.answer_after_s is None:
        leg.wait(None, messages=False, breakable=False)
        raise ChannelGone
    if leg.wait(behaviour.answer_after_s, messages=False, breakable=False) == "hangup":
        raise ChannelGone
    leg.has_codecs = True
    apply(leg, leg.sip.phone_answer_variables())
    _codec_vars(leg)
    leg.mark_answered()
    apply(leg, leg.sip.ack_variables())  # we ACK the phone's 200 OK at once
    if behaviour.talk_s is not None:
        def end_talk() -> None:
            clock.sleep(behaviour.talk_s)
            if leg.is_up:
                leg.remote_hangup("NORMAL_CLEARING")

        gevent.spawn(end_talk)
    _run_after_answer(leg, after_answer, extension)


# ---------------------------------------------------------------------------------- the API
def originate(core: SimCore, arg: str) -> str:
    """`api originate ...`: blocks until answered or failed; '+OK <uuid>\\n' or '-ERR <CAUSE>\\n'."""
    try:
        args = parse_originate(arg)
        dial = parse_dial_string(args.dial_string)
    except DialStringError as exc:
        text = str(exc)
        return text + "\n" if text.startswith("-USAGE") else "-ERR INVALID_NUMBER_FORMAT\n"
    variables = dict(dial.variables)
    if args.cid_name is not None:
        variables.setdefault("origination_caller_id_name", args.cid_name)
    if args.cid_number is not None:
        variables.setdefault("origination_caller_id_number", args.cid_number)
    timeout_s = args.timeout_s or float(variables.get("originate_timeout") or DEFAULT_TIMEOUT_S)
    extension = None
    if args.extension is not None:
        extension = (args.extension, args.dialplan, args.context)
    cause = "NO_ANSWER"
    for group in dial.groups:
        legs = []
        for target in group:
            try:
                legs.append(create_leg(core, target, variables, after_answer=args.inline_apps, extension=extension))
            except OriginateFailure as exc:
                cause = exc.cause
        if not legs:
            continue
        winner, cause = await_answer(None, legs, timeout_s)
        if winner is not None:
            claim(winner)
            return f"+OK {winner.uuid}\n"
    return f"-ERR {cause}\n"
