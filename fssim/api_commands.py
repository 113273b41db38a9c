"""`api` / `bgapi` commands: text in, text out, worded as FreeSWITCH 1.11 words them.

Every command is `func(sim, arg, session) -> str` (the api/response body). After it runs an
API event fires (API-Command, API-Command-Argument), as switch_api_execute does.
Simulator-only commands start with `fssim_` (see fssim/README.md); they are how an
out-of-process `fscc sim` is driven over a plain inbound connection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fssim import events as ev

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import Channel
    from fssim.simulator import Simulator

logger = logging.getLogger(__name__)

ApiFunc = Callable[["Simulator", str, Any], str]
API_COMMANDS: dict[str, ApiFunc] = {}

VERSION = "FreeSWITCH Version 1.11.1-release+git~20260526T204126Z~c2c59645f6~64bit (git c2c5964 2026-05-26 20:41:26Z 64bit)"
NO_CHANNEL = "-ERR No such channel!\n"


def api(name: str) -> Callable[[ApiFunc], ApiFunc]:
    def register(func: ApiFunc) -> ApiFunc:
        API_COMMANDS[name] = func
        return func

    return register


def run_api(sim: Simulator, command: str, arg: str, session: Any = None) -> str:
    func = API_COMMANDS.get(command)
    if func is None:
        result = f"-ERR {command} Command not found!\n"
    else:
        try:
            result = func(sim, arg, session)
        except Exception as exc:  # a simulator bug must still answer the client
            logger.exception("api %s %s failed", command, arg)
            result = f"-ERR {exc}\n"
    headers = [("API-Command", command)]
    if arg:
        headers.append(("API-Command-Argument", arg))
    sim.fire(ev.plain_event(sim.info, "API", headers))
    return result


def _channel(sim: Simulator, uuid: str) -> Channel | None:
    return sim.find(uuid) if uuid else None


# ------------------------------------------------------------------------------ core
@api("status")
def status(sim: Simulator, arg: str, session: Any) -> str:
    up_s = max(0.0, sim.clock.now() - sim.info.started_at)
    days, rest = divmod(int(up_s), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    frac = up_s - int(up_s)
    ms, us = int(frac * 1000), int(frac * 1_000_000) % 1000
    count = len(sim.channels)
    return (
        f"UP 0 years, {days} days, {hours} hours, {minutes} minutes, {seconds} seconds, {ms} milliseconds, {us} microseconds\n"
        "FreeSWITCH (Version 1.11.1-release git c2c5964 2026-05-26 20:41:26Z 64bit) is ready\n"
        f"{sim.sessions_since_startup} session(s) since startup\n"
        f"{count} session(s) - peak {max(count, sim.peak_sessions)}, last 5min {count} \n"
        "0 session(s) per Sec out of max 100, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/99.33\n"
        "Current Stack Size/Max 240K/8192K\n"
    )


@api("version")
def version(sim: Simulator, arg: str, session: Any) -> str:
    return VERSION + "\n"


@api("originate")
def originate(sim: Simulator, arg: str, session: Any) -> str:
    from fssim.originate import originate as do_originate

    return do_originate(sim, arg)


@api("global_getvar")
def global_getvar(sim: Simulator, arg: str, session: Any) -> str:
    return sim.global_vars.get(arg.strip(), "")


@api("global_setvar")
def global_setvar(sim: Simulator, arg: str, session: Any) -> str:
    name, _, value = arg.partition("=")
    sim.global_vars[name.strip()] = value.strip()
    return "+OK\n"


@api("hupall")
def hupall(sim: Simulator, arg: str, session: Any) -> str:
    cause = arg.split()[0] if arg.split() else "MANAGER_REQUEST"
    for ch in list(sim.channels.values()):
        ch.hangup(cause)
    return "+OK\n"


# ------------------------------------------------------------------------------ uuid_*
@api("uuid_kill")
def uuid_kill(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if not parts:
        return "-USAGE: <uuid> [cause]\n"
    ch = _channel(sim, parts[0])
    if ch is None or not ch.is_up:
        return NO_CHANNEL
    ch.hangup(parts[1] if len(parts) > 1 else "NORMAL_CLEARING")
    return "+OK\n"


@api("uuid_exists")
def uuid_exists(sim: Simulator, arg: str, session: Any) -> str:
    ch = _channel(sim, arg.strip())
    return "true" if ch is not None and ch.is_up else "false"


@api("uuid_answer")
def uuid_answer(sim: Simulator, arg: str, session: Any) -> str:
    ch = _channel(sim, arg.strip())
    if ch is None:
        return NO_CHANNEL
    from fssim.channel import Message

    ch.queue_message(Message("callback", callback=ch.answer))
    return "+OK\n"


@api("uuid_getvar")
def uuid_getvar(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <var>\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    value = ch.get_var(parts[1])
    return "_undef_" if value is None else value


@api("uuid_setvar")
def uuid_setvar(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split(" ", 2)
    if len(parts) < 2 or not parts[1]:
        return "-USAGE: <uuid> <var> [value]\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    ch.set_var(parts[1], parts[2] if len(parts) > 2 else None)
    return "+OK\n"


@api("uuid_setvar_multi")
def uuid_setvar_multi(sim: Simulator, arg: str, session: Any) -> str:
    uuid, _, rest = arg.partition(" ")
    ch = _channel(sim, uuid)
    if ch is None:
        return NO_CHANNEL
    for item in rest.split(";"):
        name, _, value = item.partition("=")
        if name:
            ch.set_var(name.strip(), value or None)
    return "+OK\n"


@api("uuid_bridge")
def uuid_bridge(sim: Simulator, arg: str, session: Any) -> str:
    from fssim.bridge import uuid_bridge as do_bridge

    parts = arg.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = _channel(sim, parts[0]), _channel(sim, parts[1])
    if a is None or not a.is_up:
        return f"-ERR Invalid uuid {parts[0]}\n"
    if b is None or not b.is_up:
        return f"-ERR no such channel {parts[1]}\n"
    do_bridge(a, b)
    return f"+OK {b.uuid}\n"


@api("uuid_transfer")
def uuid_transfer(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    rest = parts[1:]
    legs = [ch]
    if rest[0] in ("-bleg", "-both"):
        other = ch.bridge_partner
        legs = ([other] if other else []) if rest[0] == "-bleg" else [ch] + ([other] if other else [])
        rest = rest[1:]
    if not rest:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    for leg in legs:
        leg.transfer(rest[0], rest[1] if len(rest) > 1 else "XML", rest[2] if len(rest) > 2 else None)
    return "+OK\n"


@api("uuid_break")
def uuid_break(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if not parts:
        return "-USAGE: <uuid> [all]\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    if not ch.parked:
        ch.request_break()
    return "+OK\n"


@api("uuid_recv_dtmf")
def uuid_recv_dtmf(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    import gevent

    def later() -> None:
        ch.core.clock.sleep(0.02)
        ch.receive_dtmf(parts[1], source="APP")

    gevent.spawn(later)
    return f"+OK {ch.uuid} received DTMF {parts[1]}.\n"


@api("uuid_send_dtmf")
def uuid_send_dtmf(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    digits = parts[1].split("@")[0]
    far = ch.loopback_partner or ch.bridge_partner
    if far is not None:
        far.receive_dtmf(digits, source="INBAND_AUDIO")
    return "+OK\n"


@api("uuid_hold")
def uuid_hold(sim: Simulator, arg: str, session: Any) -> str:
    from fssim.states import CallState

    parts = arg.split()
    mode = "on"
    if parts and parts[0] in ("off", "toggle"):
        mode = parts.pop(0)
    if not parts:
        return "-USAGE: [off|toggle] <uuid> [<display>]\n"
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    held = ch.callstate == CallState.HELD
    hold = (mode == "on") or (mode == "toggle" and not held)
    if hold and not held:
        ch.start_hold()
    elif not hold and held:
        ch.end_hold(fire=True)
    return "+OK Success\n"


@api("uuid_record")
def uuid_record(sim: Simulator, arg: str, session: Any) -> str:
    from fssim.recording import start_recording, stop_recording

    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    parts = arg.split()
    if len(parts) < 3:
        return usage
    ch = _channel(sim, parts[0])
    if ch is None:
        return NO_CHANNEL
    action, path = parts[1], parts[2]
    if action == "start":
        limit = float(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
        start_recording(ch, path, limit)
        return "+OK Success\n"
    if action == "stop":
        if path == "all":
            for p in list(ch.recordings):
                stop_recording(ch, p)
            return "+OK Success\n"
        return "+OK Success\n" if stop_recording(ch, path) else "-ERR Cannot stop record session!\n"
    if action in ("mask", "unmask"):
        from fssim.recording import mask_recording

        if mask_recording(ch, path, action == "mask"):
            return "+OK Success\n"
        return "-ERR Cannot mask recording session!\n"
    return usage


@api("uuid_dump")
def uuid_dump(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    ch = _channel(sim, parts[0]) if parts else None
    if ch is None:
        return NO_CHANNEL
    headers = ev.channel_headers(ch, with_variables=True)
    if len(parts) > 1 and parts[1] == "json":
        return json.dumps(dict(headers))
    from fs_scripts.esl.frames import url_encode

    return "".join(f"{k}: {url_encode(v)}\n" for k, v in headers)


@api("limit_usage")
def limit_usage(sim: Simulator, arg: str, session: Any) -> str:
    parts = arg.split()
    if len(parts) < 3:
        return "-USAGE: <backend> <realm> <id>\n"
    return str(len(sim.limits.get((parts[1], parts[2]), ())))


# ------------------------------------------------------------------------------ show
_CHANNEL_COLUMNS = ("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,"
                    "application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,"
                    "write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,"
                    "accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,"
                    "sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,"
                    "initial_dest,initial_dialplan,initial_context").split(",")
_CALL_COLUMNS = ("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,"
                 "presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,"
                 "call_uuid,hostname,sent_callee_name,sent_callee_num,b_uuid,b_direction,b_created,"
                 "b_created_epoch,b_name,b_state,b_cid_name,b_cid_num,b_ip_addr,b_dest,b_presence_id,"
                 "b_presence_data,b_accountcode,b_callstate,b_callee_name,b_callee_num,b_callee_direction,"
                 "b_sent_callee_name,b_sent_callee_num,call_created_epoch").split(",")


def _channel_row(sim: Simulator, ch: Channel) -> dict[str, str]:
    p, first = ch.profile, ch.profiles[0]
    outbound = ch.direction == "outbound"
    row = {
        "uuid": ch.uuid, "direction": ch.direction,
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ch.created_at)),
        "created_epoch": str(int(ch.created_at)), "name": ch.name, "state": ch.state.name,
        "cid_name": p.caller_id_name, "cid_num": p.caller_id_number, "ip_addr": p.network_addr,
        "dest": p.destination_number, "application": ch.current_app, "application_data": ch.current_app_data,
        "dialplan": p.dialplan, "context": p.context, "read_codec": ch.codec.name,
        "read_rate": str(ch.codec.rate), "read_bit_rate": str(ch.codec.bit_rate),
        "write_codec": ch.codec.name, "write_rate": str(ch.codec.rate), "write_bit_rate": str(ch.codec.bit_rate),
        "secure": "", "hostname": sim.info.hostname, "presence_id": ch.presence_id, "presence_data": "",
        "accountcode": ch.get_var("accountcode") or "", "callstate": ch.callstate.name,
        "callee_name": p.callee_id_name, "callee_num": p.callee_id_number,
        "callee_direction": "RECV" if outbound and ch.get_var("channel_cid_flipped") else "",
        "call_uuid": ch.uuid if outbound else "", "sent_callee_name": "", "sent_callee_num": "",
        "initial_cid_name": first.orig_caller_id_name, "initial_cid_num": first.orig_caller_id_number,
        "initial_ip_addr": first.network_addr, "initial_dest": first.destination_number,
        "initial_dialplan": first.dialplan, "initial_context": first.context,
    }
    return row


def _call_row(sim: Simulator, ch: Channel) -> dict[str, str]:
    row = _channel_row(sim, ch)
    out = {k: row.get(k, "") for k in _CALL_COLUMNS}
    b = ch.bridge_partner if ch.bridge_a_side else None
    if b is not None:
        brow = _channel_row(sim, b)
        for k in _CALL_COLUMNS:
            if k.startswith("b_") and k[2:] in brow:
                out[k] = brow[k[2:]]
        out["call_created_epoch"] = str(int(ch.bridged_at or 0))
    return out


@api("show")
def show(sim: Simulator, arg: str, session: Any) -> str:
    words = arg.split()
    if not words:
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|...\n"
    what = words[0]
    as_json = words[-2:] == ["as", "json"]
    channels = sorted(sim.channels.values(), key=lambda c: c.created_at)
    if what == "channels":
        if len(words) > 1 and words[1] == "count":
            return f"\n{len(channels)} total.\n"
        columns, rows = _CHANNEL_COLUMNS, [_channel_row(sim, c) for c in channels]
    elif what == "registrations":
        from fssim.registrations import TABLE_COLUMNS

        columns, rows = TABLE_COLUMNS, sim.registrar.rows()
    elif what == "calls":
        columns = _CALL_COLUMNS
        rows = [_call_row(sim, c) for c in channels if c.bridge_partner is None or c.bridge_a_side]
    else:
        return f"-ERR Cannot find {what}\n"
    if as_json:
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": [{k: r.get(k, "") for k in columns} for r in rows]},
                          separators=(",", ":"), ensure_ascii=False)
    lines = [",".join(columns)] + [",".join(r.get(k, "") for k in columns) for r in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


# ------------------------------------------------------------------------------ simulator control
@api("fssim_agent")
def fssim_agent(sim: Simulator, arg: str, session: Any) -> str:
    """fssim_agent <user> [registered=true] [answer_after_s=2|never] [busy=false] [reject=false]
    [talk_s=N] [hangup_after_s=N] [register_expires_s=3600] | fssim_agent <user> delete |
    fssim_agent <user> expire | fssim_agent list"""
    from fssim.control import parse_agent_command

    return parse_agent_command(sim, arg)


@api("fssim_call")
def fssim_call(sim: Simulator, arg: str, session: Any) -> str:
    """fssim_call <destination> [caller_id_number=..] [caller_id_name=..] [context=public]
    [dtmf=1,2,0#] [hangup_after_s=N] [var_<name>=<value> ...]  -> +OK <uuid>"""
    from fssim.control import parse_call_command

    return parse_call_command(sim, arg)


@api("fssim_status")
def fssim_status(sim: Simulator, arg: str, session: Any) -> str:
    return json.dumps({"channels": len(sim.channels), "events": sim.event_count,
                       "sessions_since_startup": sim.sessions_since_startup,
                       "cdrs": len(sim.cdr_paths), "clock_scale": sim.clock.scale}) + "\n"
