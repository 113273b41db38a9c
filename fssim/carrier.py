"""An inbound call from a SIP carrier: a `sofia/...` leg that runs the dialplan.

This is how the engine's IVR gets its calls in tests and in the demo: `Simulator.place_call`
(or `api fssim_call`) creates the leg, the dialplan (usually `socket ... async full`) runs,
and the caller's behaviour is scripted: DTMF at given times or fed to each input
application, and an optional hangup after some seconds (the caller giving up).
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import gevent

from fssim.channel import PCMU, CallerProfile, Channel
from fssim.routing import route_loop
from fssim.sip import SipLeg, apply
from fssim.states import CallState, ChannelState

if TYPE_CHECKING:  # pragma: no cover
    from fssim.core import SimCore

DtmfScript = Sequence[tuple[float, str]] | str | None

#: the sofia profile carrier calls arrive on, and the switch's SIP port
SIP_PROFILE = "external"
SIP_PORT = 5080


def place_inbound_call(core: SimCore, *, destination: str, caller_id_number: str = "0000000000",
                       caller_id_name: str = "", context: str = "public", dtmf: DtmfScript = None,
                       variables: Mapping[str, str] | None = None, hangup_after_s: float | None = None,
                       network_addr: str = "127.0.0.1", network_port: int = 5060,
                       uuid: str | None = None) -> Channel:
    uuid = uuid or str(uuid_mod.uuid4())
    user = caller_id_number or "anonymous"
    name = f"sofia/{SIP_PROFILE}/{user}@{network_addr}"
    now = core.info.now_us()
    profile = CallerProfile(uuid=uuid, chan_name=name, destination_number=destination, direction="inbound",
                            logical_direction="inbound", username=user, dialplan="XML",
                            caller_id_name=caller_id_name, caller_id_number=caller_id_number,
                            orig_caller_id_name=caller_id_name, orig_caller_id_number=caller_id_number,
                            ani=caller_id_number, network_addr=network_addr, source="mod_sofia", context=context)
    profile.times.created = profile.times.profile_created = now
    ch = Channel(core, name=name, direction="inbound", profile=profile, uuid=uuid, codec=PCMU, hit_dialplan=True)
    ch.sip = SipLeg(profile=SIP_PROFILE, local_ip=core.info.ipv4, local_port=SIP_PORT, remote_user=user,
                    remote_ip=network_addr, remote_port=network_port, call_id=f"{uuid}@{network_addr}")
    apply(ch, ch.sip.invite_variables(destination=destination, caller_id_name=caller_id_name, invite_us=now,
                                      channel_name=name, uuid=uuid, session_id=ch.session_id))
    for key, value in (variables or {}).items():
        ch.set_var(key, value)
    if isinstance(dtmf, str):
        ch.dtmf_chunks = [chunk for chunk in dtmf.split(",") if chunk]
    core.add_channel(ch)
    ch.run_state(ChannelState.CS_INIT)
    ch.running_state = ChannelState.CS_ROUTING
    ch.fire("CHANNEL_CREATE")
    ch.state = ChannelState.CS_ROUTING
    ch.set_callstate(CallState.RINGING)
    ch.fire("CHANNEL_STATE")
    if dtmf is not None and not isinstance(dtmf, str):
        gevent.spawn(_timed_dtmf, ch, list(dtmf))
    if hangup_after_s is not None:
        gevent.spawn(_caller_hangs_up, ch, hangup_after_s)
    ch.start(route_loop)
    return ch


def _timed_dtmf(ch: Channel, script: list[tuple[float, str]]) -> None:
    """Digits `after_s` simulated seconds after the answer (the caller presses keys)."""
    ch.answered_event.wait()
    start = ch.core.clock.now()
    for after_s, digits in sorted(script, key=lambda item: item[0]):
        delay = start + after_s - ch.core.clock.now()
        if delay > 0:
            ch.core.clock.sleep(delay)
        if not ch.is_up:
            return
        ch.receive_dtmf(digits, source="RTP")


def _caller_hangs_up(ch: Channel, after_s: float) -> None:
    ch.core.clock.sleep(after_s)
    if ch.is_up:
        ch.remote_hangup("NORMAL_CLEARING")
