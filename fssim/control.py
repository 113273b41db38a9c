"""The simulator-only API commands (`api fssim_agent ...`, `api fssim_call ...`), parsed.

They exist so that an out-of-process `fscc sim` is fully drivable through a plain inbound
ESL connection, with the same effect as the Python API (`set_agent`, `place_call`).
Arguments are `key=value` words; values cannot contain spaces (use %20, URL-decoded here).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import unquote

from fssim.directory import AgentBehaviour

if TYPE_CHECKING:  # pragma: no cover
    from fssim.simulator import Simulator

_TRUE = ("1", "true", "yes", "on")


def _kv(words: list[str]) -> dict[str, str]:
    out = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {word!r}")
        out[key] = unquote(value)
    return out


def _seconds(value: str | None) -> float | None:
    if value is None or value.lower() in ("never", "none", ""):
        return None
    return float(value)


def parse_agent_command(sim: Simulator, arg: str) -> str:
    words = arg.split()
    if not words:
        return "-USAGE: fssim_agent <user> [registered=true] [answer_after_s=N|never] [busy=false] [reject=false] [talk_s=N] [hangup_after_s=N] [register_expires_s=3600] | <user> delete | <user> expire | list\n"
    if words[0] == "list":
        return json.dumps({u: b.__dict__ for u, b in sim.directory.users().items()}) + "\n"
    user = words[0]
    if len(words) > 1 and words[1] == "delete":
        sim.remove_agent(user)
        return "+OK\n"
    if len(words) > 1 and words[1] == "expire":
        return "+OK\n" if sim.expire_registration(user) else f"-ERR {user} is not registered\n"
    try:
        kv = _kv(words[1:])
        behaviour = AgentBehaviour(
            registered=kv.get("registered", "true").lower() in _TRUE,
            answer_after_s=_seconds(kv.get("answer_after_s", "2")),
            busy=kv.get("busy", "false").lower() in _TRUE,
            reject=kv.get("reject", "false").lower() in _TRUE,
            talk_s=_seconds(kv.get("talk_s")),
            hangup_after_s=_seconds(kv.get("hangup_after_s")),
            register_expires_s=float(kv.get("register_expires_s", "3600")),
        )
    except ValueError as exc:
        return f"-ERR {exc}\n"
    sim.set_agent(user, behaviour)
    return "+OK\n"


def parse_call_command(sim: Simulator, arg: str) -> str:
    words = arg.split()
    if not words:
        return "-USAGE: fssim_call <destination> [caller_id_number=..] [caller_id_name=..] [context=public] [dtmf=1,2#] [hangup_after_s=N] [var_<name>=<value>]\n"
    try:
        kv = _kv(words[1:])
    except ValueError as exc:
        return f"-ERR {exc}\n"
    variables = {k[4:]: v for k, v in kv.items() if k.startswith("var_")}
    uuid = sim.place_call(
        destination=words[0],
        caller_id_number=kv.get("caller_id_number", "0000000000"),
        caller_id_name=kv.get("caller_id_name", ""),
        context=kv.get("context", "public"),
        dtmf=kv.get("dtmf"),
        variables=variables,
        hangup_after_s=_seconds(kv.get("hangup_after_s")),
    )
    return f"+OK {uuid}\n"
