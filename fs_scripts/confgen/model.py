"""From Settings (+ the secrets in the environment) to what the templates render (pure).

The templates only lay things out; every decision (which regex a DID becomes, where a
tenant's agents live, which caller ID a tenant presents, whether a password may be used)
is made here, where it can be tested without Jinja. `build_model` checks the rules that span
sections (a DID's tenant must exist, a route's trunk must be declared, a secret must be set)
and raises `DeployConfigError` listing every problem with its key path, so one run of
`fscc conf check` shows them all.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fs_scripts.confgen.config import IDENTIFIER, FallbackSettings, TrunkSettings
from fs_scripts.confgen.escaping import (
    UnsafeValue,
    any_of,
    dialplan_literal,
    exact_number_regex,
    literal_regex,
    xml_value,
)
from fs_scripts.errors import FsccError
from fs_scripts.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_ESL_PASSWORD = "ClueCon"

#: the modules fscc needs, in the load order of FreeSWITCH's stock modules.conf.xml
FSCC_MODULES = (
    "mod_console", "mod_logfile",  # loggers
    "mod_event_socket", "mod_json_cdr",  # event handlers: ESL for fscc, the CDR spool for crm-sync
    "mod_sofia", "mod_loopback",  # endpoints
    "mod_commands", "mod_dptools", "mod_db", "mod_hash", "mod_expr", "mod_voicemail",  # applications
    "mod_dialplan_xml",
    "mod_g723_1", "mod_g729", "mod_amr",  # codecs (pass-through)
    "mod_sndfile", "mod_native_file", "mod_local_stream", "mod_tone_stream",  # files and streams
    "mod_python3",  # flows inside the switch (fs_scripts.modpython)
    "mod_say_en", "mod_say_zh",
)

#: hangup causes the rendered dialplan uses (Q.850 names as FreeSWITCH spells them)
CAUSE_BARRED = "OUTGOING_CALL_BARRED"  # 52: a destination the tenant may not call
CAUSE_INVALID_NUMBER = "INVALID_NUMBER_FORMAT"  # 28: a dialed string that is no number
CAUSE_UNKNOWN_DID = "UNALLOCATED_NUMBER"  # 1: a carrier sent a number nobody configured
CAUSE_TRUNK_FULL = "NORMAL_CIRCUIT_CONGESTION"  # 34: max concurrent calls or CPS of a trunk


class DeployConfigError(FsccError):
    """fscc.yaml cannot be rendered: every problem, each with its key path."""

    code = "bad-deploy-config"
    exit_code = 2

    def __init__(self, problems: list[str], source: str = "fscc.yaml") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class Fallback:
    name: str
    announcement: str  # dialplan-escaped
    voicemail_box: str
    transfer_to: str
    hangup_cause: str


@dataclass(frozen=True)
class InboundDid:
    name: str  # extension name suffix: trunk and position, e.g. carrier1_1
    trunk: str
    expression: str  # regex over destination_number
    exact: bool  # one number (sorted before the patterns)
    tenant: str
    tenant_dp: str  # dialplan-escaped
    flow_dp: str  # dialplan-escaped; "" = the engine's default flow
    fallback: Fallback
    voicemail_domain: str


@dataclass(frozen=True)
class AgentUser:
    id: str
    tenant: str
    tenant_regex: str
    extension: str
    name: str  # for XML parameters (checked, not dialplan-escaped)
    password: str
    domain: str  # "" = the switch's default domain
    dial_string_dp: str  # dialplan-escaped


@dataclass(frozen=True)
class DirectoryDomain:
    """Agents of tenants that have their own SIP domain (directory/fscc_<tenant>.xml)."""

    tenant: str
    domain: str
    agents: tuple[AgentUser, ...]


@dataclass(frozen=True)
class Trunk:
    name: str
    proxy: str
    realm: str
    register: bool
    username: str
    password: str
    from_domain: str
    caller_id_in_from: bool
    transport: str
    codecs: str  # comma-separated
    ping_s: int
    ip_addresses: tuple[str, ...]
    max_concurrent: int
    max_cps: int
    dial_variable: str  # what follows sofia/gateway/<name>/ in the bridge


@dataclass(frozen=True)
class Route:
    index: int
    trunk: Trunk
    allow_regex: str
    international: bool


@dataclass(frozen=True)
class TenantOutboundRules:
    tenant: str
    tenant_regex: str
    caller_id_number: str
    caller_id_name_dp: str
    policy: str
    owned_regex: str  # "" when the policy is fixed
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Numbering:
    country_code: str
    national_prefix: str
    international_prefix: str
    min_national_digits: int


@dataclass(frozen=True)
class RenderModel:
    """Everything the templates need, already validated and escaped."""

    source_name: str
    freeswitch_conf_dir: str
    esl_host: str
    esl_port: int
    esl_password: str
    esl_allow: tuple[str, ...]
    serve_address: str
    socket_resume: bool
    spool_dir: str
    python_path: str
    modules: tuple[str, ...]
    inbound_context: str
    agent_context: str
    outbound_context: str
    trunk_profile_port: int
    default_domain: str
    numbering: Numbering
    dids: tuple[InboundDid, ...]
    default_domain_agents: tuple[AgentUser, ...]
    directory_domains: tuple[DirectoryDomain, ...]
    agents: tuple[AgentUser, ...]
    trunks: tuple[Trunk, ...]
    outbound: tuple[TenantOutboundRules, ...]
    warnings: tuple[str, ...]


def default_python_path() -> str:
    """Where the installed fscc packages are importable from (site-packages or the checkout)."""
    import fs_scripts

    return str(Path(fs_scripts.__file__).resolve().parent.parent)


def to_e164(number: str, numbering: Numbering) -> str | None:
    """A dialed or configured number in E.164, by the same rules the rendered dialplan applies."""
    digits = number.strip()
    if re.fullmatch(r"\+[1-9]\d{5,14}", digits):
        return digits
    intl, natl, cc = numbering.international_prefix, numbering.national_prefix, numbering.country_code
    low = numbering.min_national_digits
    if digits.startswith(intl) and re.fullmatch(r"[1-9]\d{5,14}", digits[len(intl):]):
        return "+" + digits[len(intl):]
    if natl and digits.startswith(natl) and re.fullmatch(rf"[1-9]\d{{{low - 1},13}}", digits[len(natl):]):
        return f"+{cc}{digits[len(natl):]}"
    if re.fullmatch(rf"[1-9]\d{{{low - 1},13}}", digits):
        return f"+{cc}{digits}"
    return None


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.warnings: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def safe(self, path: str, fn: Callable[[str], str], value: str) -> str:
        try:
            return fn(value)
        except UnsafeValue as exc:
            self.add(path, str(exc))
            return ""


def _serve_address(settings: Settings) -> str:
    if settings.deploy.serve_address:
        return settings.deploy.serve_address
    host = settings.serve.host
    if host in ("0.0.0.0", "", "::"):  # fscc serve listens everywhere; the switch dials loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{settings.serve.port}"


def _tenant_domain(settings: Settings, tenant: str) -> str:
    t = settings.tenants.get(tenant)
    return t.domain if t is not None and t.domain else ""


def build_model(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    allow_default_password: bool = False,
    source_name: str = "fscc.yaml",
) -> RenderModel:
    """Validate across sections and compute the render model; raise DeployConfigError if broken."""
    environ = os.environ if environ is None else environ
    p = _Problems()
    deploy = settings.deploy
    numbering = Numbering(
        deploy.numbering.country_code, deploy.numbering.national_prefix,
        deploy.numbering.international_prefix, deploy.numbering.min_national_digits,
    )

    # -- tenants (their section belongs to the foundation; the names reach the dialplan here)
    for tenant_id, tenant in settings.tenants.items():
        if not IDENTIFIER.match(tenant_id):
            p.add(f"tenants.{tenant_id}", "a tenant id must be letters, digits, '_', '.' or '-'")
        if tenant.domain and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", tenant.domain):
            p.add(f"tenants.{tenant_id}.domain", f"not a SIP domain name: {tenant.domain!r}")

    # -- event socket
    password = settings.esl.password
    if password == DEFAULT_ESL_PASSWORD and not allow_default_password:
        p.add("esl.password", "is FreeSWITCH's default 'ClueCon', which anyone can guess (CVE-2019-19492): "
              "set FSCC_ESL__PASSWORD, or pass --allow-default-password for a lab switch")
    elif not password:
        p.add("esl.password", "is empty")
    else:
        p.safe("esl.password", xml_value, password)
        if " " in password:
            p.add("esl.password", "must not contain spaces")
        elif len(password) < 12 and password != DEFAULT_ESL_PASSWORD:
            p.warnings.append("esl.password: shorter than 12 characters")
    host = settings.esl.host
    if not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        p.add("esl.host", f"not an address: {host!r}")
    elif host not in ("127.0.0.1", "::1", "localhost"):
        p.warnings.append(f"esl.host: the event socket will listen on {host}, not on loopback; "
                          "deploy.event_socket.allow decides who may connect")

    spool = Path(settings.spool_dir)
    if not spool.is_absolute():
        p.warnings.append(f"spool_dir: {str(spool)!r} is relative; rendered as {str(spool.resolve())!r} "
                          "(mod_json_cdr would put a relative path under FreeSWITCH's log directory)")
        spool = spool.resolve()
    p.safe("spool_dir", xml_value, str(spool))
    python_path = deploy.python_path or default_python_path()
    p.safe("deploy.python_path", xml_value, python_path)

    # -- contexts
    contexts = {"deploy.inbound_context": deploy.inbound_context, "deploy.agent_context": deploy.agent_context,
                "deploy.outbound_context": deploy.outbound_context}
    if len(set(contexts.values())) != 3:
        p.add("deploy", "inbound_context, agent_context and outbound_context must be three different names")
    for key, name in contexts.items():
        if name in ("default", "public", "features", "skinny-patterns"):
            p.add(key, f"{name!r} is a context of FreeSWITCH's stock dialplan; fscc renders its own contexts")
    # the IVR transfers into these contexts (when its settings name them): say so if they differ
    for ivr_key, rendered in (("extension_context", deploy.agent_context), ("outbound_context", deploy.outbound_context)):
        wanted = getattr(settings.ivr, ivr_key, None)
        if wanted is not None and wanted != rendered:
            p.warnings.append(f"ivr.{ivr_key} is {wanted!r}, but the dialplan renders that part into {rendered!r}")

    # -- fallbacks
    fallbacks: dict[str, Fallback] = {}
    for name, fb in deploy.fallbacks.items():
        path = f"deploy.fallbacks.{name}"
        if not IDENTIFIER.match(name):
            p.add(path, "a fallback name must be letters, digits, '_', '.' or '-'")
            continue
        fallbacks[name] = _fallback(name, fb, numbering, p, path)

    # -- trunks
    trunks: dict[str, Trunk] = {}
    for name, trunk in deploy.trunks.items():
        path = f"deploy.trunks.{name}"
        if not IDENTIFIER.match(name):
            p.add(path, "a trunk name must be letters, digits, '_', '.' or '-'")
            continue
        trunks[name] = _trunk(name, trunk, environ, p, path)

    # -- DIDs
    dids: list[InboundDid] = []
    seen_numbers: dict[str, str] = {}
    for name, trunk in deploy.trunks.items():
        for i, did in enumerate(trunk.dids):
            path = f"deploy.trunks.{name}.dids.{i}"
            if did.tenant not in settings.tenants:
                p.add(f"{path}.tenant", f"unknown tenant {did.tenant!r} (tenants: {', '.join(sorted(settings.tenants))})")
            if did.fallback not in fallbacks:
                p.add(f"{path}.fallback", f"unknown fallback {did.fallback!r} (deploy.fallbacks: {', '.join(sorted(fallbacks))})")
            if did.number:
                key = did.number.lstrip("+")
                if key in seen_numbers:
                    p.add(f"{path}.number", f"{did.number} is already routed by {seen_numbers[key]}")
                seen_numbers[key] = path
                expression = exact_number_regex(did.number)
            else:
                expression = did.pattern
            if did.tenant in settings.tenants and did.fallback in fallbacks:
                dids.append(InboundDid(
                    name=f"{name}_{i + 1}", trunk=name, expression=expression, exact=bool(did.number), tenant=did.tenant,
                    tenant_dp=p.safe(f"{path}.tenant", dialplan_literal, did.tenant),
                    flow_dp=p.safe(f"{path}.flow", dialplan_literal, did.flow),
                    fallback=fallbacks[did.fallback],
                    voicemail_domain=_tenant_domain(settings, did.tenant) or deploy.default_domain or "${domain_name}",
                ))
    # exact numbers first: a pattern must never shadow a number routed on its own
    dids.sort(key=lambda d: not d.exact)
    for transfer_fb in fallbacks.values():
        if transfer_fb.transfer_to and not deploy.outbound and not settings.acd.agents:
            p.warnings.append(f"deploy.fallbacks.{transfer_fb.name}.transfer_to: no outbound rules or agents to reach it")

    # -- agents (declared by the ACD in acd.agents; fscc conf renders their SIP users)
    agents: list[AgentUser] = []
    seen_ext: dict[tuple[str, str], str] = {}
    for agent_id, agent in settings.acd.agents.items():
        path = f"acd.agents.{agent_id}"
        if not agent.extension:
            continue
        if not IDENTIFIER.match(agent_id):
            p.add(path, "an agent id must be letters, digits, '_', '.' or '-'")
            continue
        if agent.tenant not in settings.tenants:
            p.add(f"{path}.tenant", f"unknown tenant {agent.tenant!r}")
            continue
        domain = _tenant_domain(settings, agent.tenant)
        key = (domain, agent.extension)
        if key in seen_ext:
            p.add(f"{path}.extension", f"{agent.extension} is already the extension of {seen_ext[key]} in the same SIP domain")
        seen_ext[key] = path
        secret = _secret(agent.password_env, environ, p, f"{path}.password_env", "an agent with an extension")
        if agent.contact:
            dial_dp = p.safe(f"{path}.contact", dialplan_literal, agent.contact)
        else:  # the default domain is the switch's global ${domain_name}, expanded when the call runs
            at = domain or deploy.default_domain
            dial_dp = f"user/{agent.extension}@" + (dialplan_literal(at) if at else "${domain_name}")
        agents.append(AgentUser(
            id=agent_id, tenant=agent.tenant, tenant_regex=literal_regex(agent.tenant),
            extension=agent.extension, name=p.safe(f"{path}.name", xml_value, agent.name or agent_id),
            password=secret, domain=domain, dial_string_dp=dial_dp,
        ))

    # -- outbound rules per tenant
    outbound: list[TenantOutboundRules] = []
    for tenant_id, rules in deploy.outbound.items():
        path = f"deploy.outbound.{tenant_id}"
        if tenant_id not in settings.tenants:
            p.add(path, f"unknown tenant {tenant_id!r} (tenants: {', '.join(sorted(settings.tenants))})")
            continue
        if not rules.caller_id_number:
            p.add(f"{path}.caller_id_number", "required: the number this tenant presents on outbound calls")
        if rules.caller_id_policy == "owned" and not rules.owned_numbers:
            p.add(f"{path}.owned_numbers", "required by caller_id_policy 'owned': the numbers the tenant may present")
        routes = []
        for i, route in enumerate(rules.routes):
            if route.trunk not in trunks:
                p.add(f"{path}.routes.{i}.trunk", f"unknown trunk {route.trunk!r} (deploy.trunks: {', '.join(sorted(trunks)) or 'none'})")
                continue
            routes.append(Route(i + 1, trunks[route.trunk], any_of(route.allow), route.international))
        if not rules.routes:
            p.warnings.append(f"{path}.routes: none; every outbound call of {tenant_id} is refused")
        owned = (rules.caller_id_number, *rules.owned_numbers) if rules.caller_id_policy == "owned" else ()
        outbound.append(TenantOutboundRules(
            tenant=tenant_id, tenant_regex=literal_regex(tenant_id),
            caller_id_number=rules.caller_id_number,
            caller_id_name_dp=p.safe(f"{path}.caller_id_name", dialplan_literal, rules.caller_id_name),
            policy=rules.caller_id_policy,
            owned_regex=("^(?:" + "|".join(literal_regex(n) for n in dict.fromkeys(owned)) + ")$") if owned else "",
            routes=tuple(routes),
        ))

    if p.items:
        raise DeployConfigError(p.items, source_name)

    default_agents = tuple(a for a in agents if not a.domain)
    by_tenant: dict[str, list[AgentUser]] = {}
    for a in agents:
        if a.domain:
            by_tenant.setdefault(a.tenant, []).append(a)
    return RenderModel(
        source_name=source_name, freeswitch_conf_dir=deploy.freeswitch_conf_dir,
        esl_host=settings.esl.host, esl_port=settings.esl.port, esl_password=password,
        esl_allow=deploy.event_socket.allow,
        serve_address=_serve_address(settings), socket_resume=deploy.socket_resume,
        spool_dir=str(spool), python_path=python_path,
        modules=tuple(dict.fromkeys(FSCC_MODULES + deploy.extra_modules)),
        inbound_context=deploy.inbound_context, agent_context=deploy.agent_context,
        outbound_context=deploy.outbound_context, trunk_profile_port=deploy.trunk_profile_port,
        default_domain=deploy.default_domain, numbering=numbering,
        dids=tuple(dids), default_domain_agents=default_agents,
        directory_domains=tuple(
            DirectoryDomain(t, _tenant_domain(settings, t), tuple(members)) for t, members in sorted(by_tenant.items())
        ),
        agents=tuple(agents), trunks=tuple(trunks.values()), outbound=tuple(outbound),
        warnings=tuple(p.warnings),
    )


def _secret(env_name: str, environ: Mapping[str, str], p: _Problems, path: str, who: str) -> str:
    if not env_name:
        p.add(path, f"required for {who}: the name of the FSCC_SECRET_* variable holding the SIP password")
        return ""
    if not env_name.startswith("FSCC_SECRET_"):
        p.add(path, f"{env_name!r} is not an FSCC_SECRET_* variable name")
        return ""
    value = environ.get(env_name)
    if not value:
        p.add(path, f"the environment variable {env_name} is not set (the password is never written in fscc.yaml)")
        return ""
    try:
        return xml_value(value)
    except UnsafeValue as exc:
        p.add(path, f"the value of {env_name}: {exc}")
        return ""


def _fallback(name: str, fb: FallbackSettings, numbering: Numbering, p: _Problems, path: str) -> Fallback:
    transfer = ""
    if fb.transfer_to:
        if len(fb.transfer_to.lstrip("+")) <= 6:  # an internal extension: dialed as it is
            transfer = fb.transfer_to
        else:
            transfer = to_e164(fb.transfer_to, numbering) or ""
            if not transfer:
                p.add(f"{path}.transfer_to", f"{fb.transfer_to!r} is not a number the numbering plan understands")
    return Fallback(
        name=name,
        announcement=p.safe(f"{path}.announcement", dialplan_literal, fb.announcement),
        voicemail_box=fb.voicemail_box, transfer_to=transfer, hangup_cause=fb.hangup_cause,
    )


def _trunk(name: str, trunk: TrunkSettings, environ: Mapping[str, str], p: _Problems, path: str) -> Trunk:
    password = ""
    if trunk.register or trunk.password_env:
        password = _secret(trunk.password_env, environ, p, f"{path}.password_env", "a registering trunk")
    dial = {"e164": "${fscc_dialed_e164}", "e164-no-plus": "${fscc_dialed_e164:1}",
            "national": "${fscc_dialed_national}"}[trunk.number_format]
    return Trunk(
        name=name, proxy=trunk.proxy, realm=trunk.realm or trunk.proxy.split(":")[0], register=trunk.register,
        username=trunk.username or "fscc", password=password or "not-used",
        from_domain=trunk.from_domain, caller_id_in_from=trunk.caller_id_in_from, transport=trunk.transport,
        codecs=",".join(trunk.codecs), ping_s=trunk.ping_s, ip_addresses=trunk.ip_addresses,
        max_concurrent=trunk.max_concurrent, max_cps=trunk.max_cps, dial_variable=dial,
    )
