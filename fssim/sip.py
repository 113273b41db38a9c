"""What mod_sofia puts on a SIP leg: the INVITE's variables, the answer's, the hangup's, RTP stats.

Why: an engine (and the CRM sync) reads `sip_*`, `rtp_*` and `*_media_*` variables and the CDR's
`callStats`; a simulated SIP leg that lacked them would let code pass against fssim that fails
on the switch. Names, order and value formats follow a real sofia leg
(../shared/fs-captures/outbound_linger.json: the `connect` reply and the CDR of a SIPp caller).
fssim has no RTP: the media figures are what a caller that sends no audio (as SIPp did) and a
switch that sends one 20 ms PCMU frame per ptime while answered would produce.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel

PTIME_MS = 20
RTP_PACKET_BYTES = 172  # 160 bytes of PCMU per 20 ms + 12 bytes of RTP header

Vars = list[tuple[str, str]]

#: hangup cause -> (SIP final response, Q.850 cause) of a phone that refuses the call
REFUSE_STATUS = {"USER_BUSY": ("486", "17"), "CALL_REJECTED": ("603", "21"),
                 "NO_USER_RESPONSE": ("408", "18")}


def _display(name: str) -> str:
    """A display name as sofia writes it into sip_full_from: bare token, or quoted."""
    if name and all(c.isalnum() or c in "-_.!%*+`'~" for c in name):
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass
class SipLeg:
    """The SIP side of one sofia leg (inbound from a caller, or outbound to a phone)."""

    profile: str
    local_ip: str
    local_port: int
    remote_user: str
    remote_ip: str
    remote_port: int
    call_id: str
    from_tag: str = field(default_factory=lambda: f"{random.randrange(10**8)}SIMTag001")
    to_tag: str = field(default_factory=lambda: "".join(random.choices("abcdefghjkmnpqrstuvwxyzABCDEFGH0123456789", k=13)))
    local_media_port: int = field(default_factory=lambda: random.randrange(16384, 32768, 2))
    remote_media_port: int = 6000
    ssrc: str = field(default_factory=lambda: str(random.randrange(1, 2**32)))
    remote_hangup: bool = False

    @property
    def profile_url(self) -> str:
        return f"sip:mod_sofia@{self.local_ip}:{self.local_port}"

    def _remote_sdp(self) -> str:
        return (f"v=0\r\no=user1 53655765 2353687637 IN IP4 {self.remote_ip}\r\ns=-\r\nc=IN IP4 {self.remote_ip}\r\nt=0 0\r\n"
                f"m=audio {self.remote_media_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

    def _local_sdp(self, now_s: int) -> str:
        return (f"v=0\r\no=FreeSWITCH {now_s} {now_s + 1} IN IP4 {self.local_ip}\r\ns=FreeSWITCH\r\n"
                f"c=IN IP4 {self.local_ip}\r\nt=0 0\r\nm=audio {self.local_media_port} RTP/AVP 0\r\n"
                "a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n")

    # ------------------------------------------------------------------ inbound INVITE
    def invite_variables(self, *, destination: str, caller_id_name: str, invite_us: int,
                         channel_name: str, uuid: str, session_id: int) -> Vars:
        """The variables of an inbound leg when its dialplan starts, in sofia's order."""
        user, rip, rport = self.remote_user, self.remote_ip, self.remote_port
        lip, lport = self.local_ip, self.local_port
        from_uri = f"{user}@{rip}:{rport}"
        to_uri = f"{destination}@{lip}:{lport}"
        return [
            ("direction", "inbound"), ("uuid", uuid), ("session_id", str(session_id)),
            ("sip_from_user", user), ("sip_from_port", str(rport)), ("sip_from_uri", from_uri),
            ("sip_from_host", rip), ("video_media_flow", "disabled"), ("text_media_flow", "disabled"),
            ("channel_name", channel_name), ("sip_call_id", self.call_id),
            ("sip_local_network_addr", lip), ("sip_network_ip", rip), ("sip_network_port", str(rport)),
            ("sip_invite_stamp", str(invite_us)), ("sip_received_ip", rip),
            ("sip_received_port", str(rport)), ("sip_via_protocol", "udp"),
            ("sip_from_user_stripped", user), ("sip_from_tag", self.from_tag),
            ("sofia_profile_name", self.profile), ("sofia_profile_url", self.profile_url),
            ("recovery_profile_name", self.profile),
            ("sip_full_via", f"SIP/2.0/UDP {rip}:{rport};branch=z9hG4bK-{self.from_tag[:8]}-1-0"),
            ("sip_from_display", caller_id_name),
            ("sip_full_from", f"{_display(caller_id_name or user)} <sip:{from_uri}>;tag={self.from_tag}"),
            ("sip_to_display", destination), ("sip_full_to", f"{destination} <sip:{to_uri}>"),
            ("sip_req_user", destination), ("sip_req_port", str(lport)), ("sip_req_uri", to_uri),
            ("sip_req_host", lip), ("sip_to_user", destination), ("sip_to_port", str(lport)),
            ("sip_to_uri", to_uri), ("sip_to_host", lip), ("sip_contact_user", user),
            ("sip_contact_port", str(rport)), ("sip_contact_uri", from_uri), ("sip_contact_host", rip),
            ("sip_subject", "Call"), ("sip_via_host", rip), ("sip_via_port", str(rport)),
            ("max_forwards", "70"), ("switch_r_sdp", self._remote_sdp()),
            ("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"),
            ("rtp_use_codec_string", "PCMU,PCMA"), ("remote_video_media_flow", "inactive"),
            ("remote_text_media_flow", "inactive"), ("remote_audio_media_flow", "sendrecv"),
            ("audio_media_flow", "sendrecv"), ("remote_media_ip", rip),
            ("remote_media_port", str(self.remote_media_port)), ("rtp_audio_recv_pt", "0"),
            ("rtp_use_codec_name", "PCMU"), ("rtp_use_codec_rate", "8000"),
            ("rtp_use_codec_ptime", str(PTIME_MS)), ("rtp_use_codec_channels", "1"),
            ("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c"), ("read_codec", "PCMU"),
            ("original_read_codec", "PCMU"), ("read_rate", "8000"), ("original_read_rate", "8000"),
            ("write_codec", "PCMU"), ("write_rate", "8000"), ("dtmf_type", "info"),
            ("endpoint_disposition", "RECEIVED"),
        ]

    # ------------------------------------------------------------------ outbound INVITE
    def outgoing_variables(self, *, domain: str) -> Vars:
        """An INVITE sent to a registered phone (`user/NNNN` resolved to its contact)."""
        contact = f"{self.remote_user}@{self.remote_ip}:{self.remote_port}"
        return [
            ("sip_profile_name", self.profile), ("video_media_flow", "disabled"),
            ("text_media_flow", "disabled"), ("sip_destination_url", f"sip:{contact}"),
            ("audio_media_flow", "sendrecv"), ("sip_outgoing_contact_uri", f"<sip:mod_sofia@{self.local_ip}:{self.local_port}>"),
            ("sip_req_uri", contact), ("sofia_profile_name", self.profile),
            ("recovery_profile_name", self.profile), ("sofia_profile_url", self.profile_url),
            ("sip_local_network_addr", self.local_ip), ("sip_network_ip", self.remote_ip),
            ("sip_network_port", str(self.remote_port)), ("sip_to_user", self.remote_user),
            ("sip_to_host", domain), ("sip_call_id", self.call_id),
        ]

    def phone_answer_variables(self) -> Vars:
        """The phone's 200 OK: its SDP and the codec sofia negotiated from it."""
        return [
            ("switch_r_sdp", self._remote_sdp()), ("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"),
            ("rtp_use_codec_string", "PCMU,PCMA"), ("remote_audio_media_flow", "sendrecv"),
            ("rtp_audio_recv_pt", "0"), ("rtp_use_codec_name", "PCMU"), ("rtp_use_codec_rate", "8000"),
            ("rtp_use_codec_ptime", str(PTIME_MS)), ("rtp_use_codec_channels", "1"),
            ("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c"), ("original_read_codec", "PCMU"),
            ("original_read_rate", "8000"), ("dtmf_type", "rfc2833"),
        ]

    # ------------------------------------------------------------------ answer / hangup
    def answer_variables(self, now_s: int) -> Vars:
        """200 OK with our SDP: the local media and the dialog's tags."""
        return [
            ("rtp_local_sdp_str", self._local_sdp(now_s)), ("local_media_ip", self.local_ip),
            ("local_media_port", str(self.local_media_port)), ("advertised_media_ip", self.local_ip),
            ("rtp_use_timer_name", "soft"), ("rtp_use_pt", "0"), ("rtp_use_ssrc", self.ssrc),
            ("remote_media_ip", self.remote_ip), ("remote_media_port", str(self.remote_media_port)),
        ]

    def ack_variables(self) -> Vars:
        """The ACK of our 200 OK completes the dialog (it arrives after the answering app ended)."""
        return [("endpoint_disposition", "ANSWER"), ("sip_to_tag", self.to_tag), ("sip_from_tag", self.from_tag),
                ("sip_cseq", "1"), ("sip_call_id", self.call_id)]

    def remote_hangup_variables(self, answered: bool) -> tuple[Vars, Vars]:
        """The far end sent BYE (answered) or CANCEL (ringing): what sofia records before the
        leg's CHANNEL_HANGUP, and what right after it (the disposition, as captured)."""
        self.remote_hangup = True
        if not answered:
            return [], [("sip_hangup_disposition", "recv_cancel")]
        return ([("sip_term_status", "200"), ("proto_specific_hangup_cause", "sip:200"), ("sip_term_cause", "16")],
                [("sip_hangup_disposition", "recv_bye")])

    def remote_refuse_variables(self, cause: str) -> Vars:
        """The phone answered the INVITE with an error (486 Busy Here, 603 Decline, ...)."""
        self.remote_hangup = True
        status, q850 = REFUSE_STATUS.get(cause, ("480", "18"))
        return [("sip_term_status", status), ("proto_specific_hangup_cause", f"sip:{status}"),
                ("sip_term_cause", q850), ("sip_hangup_disposition", "recv_refuse")]

    def local_hangup_variables(self, answered: bool, inbound: bool) -> Vars:
        """The switch ends the dialog (sofia_on_hangup): BYE, or refuses / cancels the INVITE."""
        if self.remote_hangup:
            return []
        if answered:
            return [("sip_hangup_disposition", "send_bye")]
        return [("sip_hangup_disposition", "send_refuse" if inbound else "send_cancel")]


def media_stats(answered_ms: int, remote_sends_audio: bool = False) -> dict[str, dict[str, Any]]:
    """callStats.audio of a leg answered for `answered_ms` (fssim sends one frame per ptime)."""
    frames = max(0, answered_ms // PTIME_MS)
    received = frames if remote_sends_audio else 0
    inbound = {
        "raw_bytes": received * RTP_PACKET_BYTES, "media_bytes": received * RTP_PACKET_BYTES,
        "packet_count": received, "media_packet_count": received, "skip_packet_count": frames - received,
        "jitter_packet_count": 0, "dtmf_packet_count": 0, "cng_packet_count": 0, "flush_packet_count": 0,
        "largest_jb_size": 0, "jitter_min_variance": 0, "jitter_max_variance": 0, "jitter_loss_rate": 0,
        "jitter_burst_rate": 0, "mean_interval": 0, "flaw_total": 0, "quality_percentage": 100, "mos": 4.5,
    }
    outbound = {
        "raw_bytes": frames * RTP_PACKET_BYTES, "media_bytes": frames * RTP_PACKET_BYTES,
        "packet_count": frames, "media_packet_count": frames, "skip_packet_count": 0,
        "dtmf_packet_count": 0, "cng_packet_count": 0, "rtcp_packet_count": 0, "rtcp_octet_count": 0,
    }
    return {"inbound": inbound, "outbound": outbound}


_FLOAT_STATS = frozenset({"jitter_min_variance", "jitter_max_variance", "jitter_loss_rate",
                          "jitter_burst_rate", "mean_interval", "quality_percentage", "mos"})


def media_stat_variables(stats: dict[str, dict[str, Any]]) -> Vars:
    """The rtp_audio_* variables sofia sets at hangup from the same figures (floats as %.2f)."""
    out: Vars = []
    for key, value in stats["inbound"].items():
        out.append((f"rtp_audio_in_{key}", f"{value:.2f}" if key in _FLOAT_STATS else str(value)))
    for key, value in stats["outbound"].items():
        if key.startswith("rtcp_"):
            out.append((f"rtp_audio_{key}", str(value)))
        else:
            out.append((f"rtp_audio_out_{key}", str(value)))
    return out


def apply(channel: Channel, variables: Vars) -> None:
    for name, value in variables:
        channel.set_var(name, value)
