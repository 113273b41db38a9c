"""The `deploy:` section of fscc.yaml: what `fscc conf render` writes into FreeSWITCH's conf tree
(event socket, inbound DID routes, SIP trunks, outbound rules).

Per-value rules (types, ranges, the character sets that keep a value from breaking out of the
XML or the dialplan) are `check(...)` metadata here, so `fscc conf check` reports them with
the YAML line. Rules that span sections (a DID's tenant must exist, a route's trunk must be
declared, a secret must be in the environment) are in `fs_scripts.confgen.model`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from fs_scripts.typed_config import check

#: names that end up inside dialplan data, file names and XML attributes: no escaping games
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")
_CIDR = re.compile(r"^[0-9a-fA-F:.]+(/\d{1,3})?$")
_DID = re.compile(r"^\+?\d{3,20}$")
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")
E164_EXPECTED = "an E.164 number such as '+861012345678' (quote it: YAML reads +86... as a plain number)"
_CODEC = re.compile(r"^[A-Za-z0-9.@-]{2,32}$")
_CAUSE = re.compile(r"^[A-Z][A-Z_]{2,40}$")
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x1f\x7f\\]")


def identifier(value: str) -> bool:
    return bool(IDENTIFIER.match(value))


def plain_text(value: str) -> bool:
    """Free text (a caller-ID name, a sound file path): any character but control characters and
    backslashes. The rest (`"` `<` `&` `$` `{`) is escaped when rendered."""
    return not _FORBIDDEN_IN_TEXT.search(value)


def regex_ok(value: str) -> bool:
    """A PCRE the dialplan can carry as it is: compiles, and contains nothing FreeSWITCH's
    variable expansion would rewrite before matching (`${`, `\\$`, `\\'`)."""
    if not value or "${" in value or "\\$" in value or "\\'" in value or re.search(r"[\x00-\x1f\x7f]", value):
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


TEXT = "text without control characters or backslashes"
IDENT = "a name of letters, digits, '_', '.' or '-' (up to 64, starting with a letter or digit)"


@dataclass(frozen=True)
class EventSocketDeploy:
    """mod_event_socket, rendered from `esl.host`/`esl.port`/`esl.password` plus these."""

    # CIDRs allowed to connect; rendered as the ACL list `fscc_esl`
    allow: tuple[str, ...] = field(
        default=("127.0.0.1/32", "::1/128"),
        metadata=check(lambda v: len(v) > 0 and all(_CIDR.match(c) for c in v), "a non-empty list of addresses or CIDRs"),
    )


@dataclass(frozen=True)
class NumberingPlan:
    """How dialed numbers and caller IDs are brought to E.164 (`+<country><national number>`)."""

    country_code: str = field(default="86", metadata=check(lambda v: v.isdigit() and 1 <= len(v) <= 3, "1-3 digits"))
    national_prefix: str = field(default="0", metadata=check(lambda v: v == "" or (v.isdigit() and len(v) <= 2), "0-2 digits"))
    international_prefix: str = field(default="00", metadata=check(lambda v: v.isdigit() and 2 <= len(v) <= 4, "2-4 digits"))
    # national significant numbers shorter than this are not numbers to send to a carrier
    min_national_digits: int = field(default=7, metadata=check(lambda v: 3 <= v <= 14, "3-14 digits"))


@dataclass(frozen=True)
class FallbackSettings:
    """What a caller gets when `fscc serve` cannot take the call (the `socket` app failed)."""

    announcement: str = field(default="", metadata=check(plain_text, TEXT))  # sound file played first
    voicemail_box: str = field(default="", metadata=check(lambda v: v == "" or v.isdigit(), "digits (a voicemail box)"))
    transfer_to: str = field(default="", metadata=check(lambda v: v == "" or bool(_DID.match(v)), "a number: digits, optionally with a leading +"))
    hangup_cause: str = field(default="NORMAL_TEMPORARY_FAILURE", metadata=check(lambda v: bool(_CAUSE.match(v)), "a FreeSWITCH hangup cause such as NORMAL_TEMPORARY_FAILURE"))

    def __post_init__(self) -> None:
        if self.voicemail_box and self.transfer_to:
            raise ValueError("a fallback has either voicemail_box or transfer_to, not both")


@dataclass(frozen=True)
class DidRoute:
    """One inbound number (or a pattern of numbers) of a trunk, and who answers it."""

    number: str = field(default="", metadata=check(lambda v: v == "" or bool(_DID.match(v)), "a number: digits, optionally with a leading +"))
    pattern: str = field(default="", metadata=check(lambda v: v == "" or regex_ok(v), "a regular expression without ${, \\$ or control characters"))
    tenant: str = field(default="default", metadata=check(identifier, IDENT))
    flow: str = field(default="", metadata=check(lambda v: v == "" or plain_text(v) and " " not in v, "a flow file name without spaces"))
    fallback: str = field(default="default", metadata=check(identifier, IDENT))  # name in deploy.fallbacks

    def __post_init__(self) -> None:
        if bool(self.number) == bool(self.pattern):
            raise ValueError("a DID has exactly one of number (exact) or pattern (regular expression)")


@dataclass(frozen=True)
class TrunkSettings:
    """A carrier's SIP trunk: one sofia gateway, its DIDs and its outbound limits."""

    proxy: str = field(default="", metadata=check(lambda v: bool(_HOST_PORT.match(v)), "host or host:port"))
    realm: str = field(default="", metadata=check(lambda v: v == "" or bool(_HOST_PORT.match(v)), "host or host:port"))
    register: bool = False  # False: IP authentication, the carrier's addresses go to `ip_addresses`
    username: str = field(default="", metadata=check(lambda v: v == "" or re.match(r"^[A-Za-z0-9_.+~-]{1,64}$", v) is not None, "a SIP user name (letters, digits, _ . + ~ -)"))
    password_env: str = field(default="", metadata=check(lambda v: v == "" or v.startswith("FSCC_SECRET_") and identifier(v), "the name of an FSCC_SECRET_* environment variable"))
    from_domain: str = field(default="", metadata=check(lambda v: v == "" or bool(_HOST_PORT.match(v)), "host or host:port"))
    caller_id_in_from: bool = True
    transport: Literal["udp", "tcp"] = "udp"
    codecs: tuple[str, ...] = field(default=("PCMA", "PCMU"), metadata=check(lambda v: len(v) > 0 and all(_CODEC.match(c) for c in v), "a non-empty list of codec names such as PCMA, G729"))
    ping_s: int = field(default=30, metadata=check(lambda v: v == 0 or 5 <= v <= 3600, "0 (off) or 5-3600 seconds"))
    ip_addresses: tuple[str, ...] = field(default=(), metadata=check(lambda v: all(_CIDR.match(c) for c in v), "addresses or CIDRs"))
    max_concurrent: int = field(default=30, metadata=check(lambda v: 1 <= v <= 100000, "1-100000 calls"))
    max_cps: int = field(default=5, metadata=check(lambda v: 1 <= v <= 10000, "1-10000 calls per second"))
    number_format: Literal["e164", "e164-no-plus", "national"] = "e164"  # how the dialed number is sent
    dids: tuple[DidRoute, ...] = ()

    def __post_init__(self) -> None:
        if self.register and not (self.username and self.password_env):
            raise ValueError("a registering trunk needs username and password_env")
        if not self.register and not self.ip_addresses:
            raise ValueError("an IP-authenticated trunk (register: false) needs ip_addresses of the carrier")


@dataclass(frozen=True)
class OutboundRoute:
    """Destinations a tenant may call through one trunk."""

    trunk: str = field(default="", metadata=check(identifier, IDENT))
    # regular expressions over the E.164 number (`+8613800138000`); a number must match one
    allow: tuple[str, ...] = field(default=(), metadata=check(lambda v: len(v) > 0 and all(regex_ok(p) for p in v), "a non-empty list of regular expressions over E.164 numbers"))
    international: bool = False  # False: only numbers of the home country (numbering.country_code)


@dataclass(frozen=True)
class TenantOutbound:
    """A tenant's outbound rules: which caller ID it presents and where it may call."""

    caller_id_number: str = field(default="", metadata=check(lambda v: bool(_E164.match(v)), E164_EXPECTED))
    caller_id_name: str = field(default="", metadata=check(plain_text, TEXT))
    # fixed: always caller_id_number; owned: the requested fscc_outbound_caller_id when it is
    # one of owned_numbers, else caller_id_number
    caller_id_policy: Literal["fixed", "owned"] = "fixed"
    owned_numbers: tuple[str, ...] = field(default=(), metadata=check(lambda v: all(_E164.match(n) for n in v), "a list of " + E164_EXPECTED))
    routes: tuple[OutboundRoute, ...] = ()


def _default_fallbacks() -> dict[str, FallbackSettings]:
    return {"default": FallbackSettings(announcement="ivr/ivr-call_cannot_be_completed_as_dialed.wav")}


@dataclass(frozen=True)
class DeploySettings:
    freeswitch_conf_dir: str = "/etc/freeswitch"  # where the rendered tree is meant to be copied
    # SIP domain of tenants without their own; empty: the switch's (its global ${domain_name})
    default_domain: str = field(default="", metadata=check(lambda v: v == "" or bool(_HOST_PORT.match(v)), "a SIP domain name"))
    inbound_context: str = field(default="fscc_inbound", metadata=check(identifier, IDENT))  # carrier calls
    agent_context: str = field(default="fscc_agents", metadata=check(identifier, IDENT))  # agent phones and agent extensions
    outbound_context: str = field(default="fscc_outbound", metadata=check(identifier, IDENT))  # guarded external calls
    serve_address: str = field(default="", metadata=check(lambda v: v == "" or bool(_HOST_PORT.match(v)) and ":" in v, "host:port"))  # empty: serve.host:serve.port
    trunk_profile_port: int = field(default=5080, metadata=check(lambda v: 0 < v < 65536, "a UDP/TCP port 1-65535"))
    socket_resume: bool = True  # if fscc serve drops a call without hanging up, continue to the fallback
    python_path: str = field(default="", metadata=check(lambda v: plain_text(v) and '"' not in v, TEXT + " and without quotes"))  # empty: where fscc is installed
    extra_modules: tuple[str, ...] = field(default=(), metadata=check(lambda v: all(re.match(r"^mod_[a-z0-9_]+$", m) for m in v), "module names such as mod_opus"))
    event_socket: EventSocketDeploy = EventSocketDeploy()
    numbering: NumberingPlan = NumberingPlan()
    fallbacks: dict[str, FallbackSettings] = field(default_factory=_default_fallbacks)
    trunks: dict[str, TrunkSettings] = field(default_factory=dict)  # trunk name -> trunk
    outbound: dict[str, TenantOutbound] = field(default_factory=dict)  # tenant id -> rules
