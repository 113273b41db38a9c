"""mod_json_cdr files for tests, in the shape of the real captures (../shared/fs-captures).

A fscc call is the caller's inbound leg, carrying the fscc_* variables the engine set, and,
when an agent answered, the agent's outbound leg bridged to it (bridge_uuid / signal_bond /
last_bridge_to on both, originating_leg_uuid on the agent leg), as mod_json_cdr writes them
with encode-values=true.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from pathlib import Path
from urllib.parse import quote

from fs_scripts import cdr_vars

T0 = 1_795_353_600.0  # 2026-11-22 (the captures' day)


def _us(t: float | None) -> str:
    return str(int(round(t * 1e6))) if t else "0"


def leg_cdr(uuid: str, *, direction: str, cid: str, dest: str, start: float, answer: float | None, end: float,
            bridge: float | None = None, hangup_cause: str = "NORMAL_CLEARING", variables: dict | None = None,
            channel_name: str | None = None, hold_s: float = 0.0) -> dict:
    v = {
        "direction": direction, "uuid": uuid, "channel_name": channel_name or f"sofia/internal/{cid}@192.0.2.10",
        "caller_id": f'"{cid}" <{cid}>', "hangup_cause": hangup_cause, "start_uepoch": _us(start),
        "answer_uepoch": _us(answer), "bridge_uepoch": _us(bridge), "end_uepoch": _us(end),
        "hold_accum_usec": str(int(hold_s * 1e6)), "start_stamp": "2026-11-22 13:19:40",
        "billmsec": str(int((end - answer) * 1000) if answer else 0),
    }
    v.update(variables or {})
    return {
        "core-uuid": "fa868a4b-4bc0-4ce1-b50f-8e57ecc9d8f4",
        "switchname": "fs1",
        "channel_data": {"state": "CS_REPORTING", "direction": direction, "state_number": "11", "flags": "", "caps": ""},
        "callStats": {},
        "variables": {k: quote(str(val), safe="") for k, val in v.items()},
        "app_log": {"applications": []},
        "callflow": [{
            "dialplan": "xml", "profile_index": "1", "extension": {"name": dest, "applications": []},
            "caller_profile": {"username": "", "dialplan": "xml", "caller_id_name": cid, "ani": cid, "aniii": "",
                               "caller_id_number": cid, "network_addr": "192.0.2.20", "rdnis": "",
                               "destination_number": dest, "uuid": uuid, "source": "mod_sofia",
                               "context": "public", "chan_name": v["channel_name"]},
            "times": {"created_time": _us(start), "profile_created_time": _us(start), "progress_time": "0",
                      "progress_media_time": "0", "answered_time": _us(answer), "bridged_time": _us(bridge),
                      "last_hold_time": "0", "hold_accum_time": "0", "hangup_time": _us(end),
                      "resurrect_time": "0", "transfer_time": "0"},
        }],
    }


def fscc_call(*, ani: str = "13800138000", did: str = "10086", start: float = T0, tenant: str = "default",
              outcome: str = "answered", wait_s: float = 12.0, talk_s: float = 60.0, agent: str = "1001",
              queue: str = "billing", customer_id: str = "", tier: int | None = None, recording: dict | None = None,
              work_order_id: str = "", flow: str = "10086.j2", caller_uuid: str | None = None,
              agent_uuid: str | None = None, wrapup_s: float = 0.0) -> list[dict]:
    """The CDRs of one fscc call: caller leg, plus the agent leg if `outcome` is answered."""
    caller_uuid = caller_uuid or str(uuid_module.uuid4())
    ivr_s = 20.0
    enq = start + ivr_s
    fv = {cdr_vars.TENANT: tenant, cdr_vars.CHANNEL: "voice", cdr_vars.FLOW: flow,
          cdr_vars.PATH: "welcome>menu>queue", cdr_vars.OUTCOME: outcome}
    if customer_id:
        fv[cdr_vars.CUSTOMER_ID] = customer_id
        fv[cdr_vars.AUTHENTICATED] = "true"
    if tier is not None:
        fv[cdr_vars.TIER] = str(tier)
    if work_order_id:
        fv[cdr_vars.WORK_ORDER_ID] = work_order_id
    if outcome == "self-service":
        end = start + ivr_s
        return [leg_cdr(caller_uuid, direction="inbound", cid=ani, dest=did, start=start, answer=start + 0.5,
                        end=end, variables=fv)]
    fv.update({cdr_vars.QUEUE: queue, cdr_vars.ENQUEUED_AT: cdr_vars.format_time(enq),
               cdr_vars.WAIT_S: f"{wait_s:.3f}"})
    if outcome != "answered":
        fv[cdr_vars.ABANDONED_AT] = cdr_vars.format_time(enq + wait_s)
        return [leg_cdr(caller_uuid, direction="inbound", cid=ani, dest=did, start=start, answer=start + 0.5,
                        end=enq + wait_s, variables=fv)]
    agent_uuid = agent_uuid or str(uuid_module.uuid4())
    answered = enq + wait_s
    end = answered + talk_s
    fv.update({cdr_vars.AGENT: agent, cdr_vars.ANSWERED_AT: cdr_vars.format_time(answered)})
    if wrapup_s:
        fv[cdr_vars.WRAPUP_END_AT] = cdr_vars.format_time(end + wrapup_s)
    if recording:
        fv.update({cdr_vars.RECORDING_PATH: recording["path"],
                   cdr_vars.RECORDING_DURATION_MS: str(recording.get("duration_ms", int(talk_s * 1000))),
                   cdr_vars.RECORDING_SIZE: str(recording.get("size", 1000)),
                   cdr_vars.RECORDING_SHA256: recording.get("sha256", "0" * 64)})
    bridge_vars = {"bridge_uuid": agent_uuid, "signal_bond": agent_uuid, "last_bridge_to": agent_uuid,
                   "last_bridge_role": "originator"}
    caller = leg_cdr(caller_uuid, direction="inbound", cid=ani, dest=did, start=start, answer=start + 0.5,
                     end=end, bridge=answered, variables={**fv, **bridge_vars})
    agent_leg = leg_cdr(agent_uuid, direction="outbound", cid=ani, dest=agent, start=answered - 3, answer=answered,
                        end=end, bridge=answered, channel_name=f"sofia/internal/{agent}@192.0.2.30",
                        variables={"bridge_uuid": caller_uuid, "signal_bond": caller_uuid,
                                   "last_bridge_to": caller_uuid, "originating_leg_uuid": caller_uuid,
                                   cdr_vars.AGENT: agent, cdr_vars.TENANT: tenant})
    return [caller, agent_leg]


def write(spool: Path, cdr: dict, name: str | None = None) -> Path:
    path = spool / (name or f"{cdr['variables']['uuid']}.cdr.json")
    path.write_text(json.dumps(cdr), encoding="utf-8")
    return path


def capture_to_spool(captures_dir: Path, spool: Path, scenario: str | None = None) -> list[Path]:
    """Copy capture CDRs into `spool` under the switch's own naming (<uuid>.cdr.json)."""
    out = []
    for src in sorted(captures_dir.glob(f"{scenario or '*'}.cdr.*.json")):
        doc = json.loads(src.read_text())
        out.append(write(spool, doc))
    return out
