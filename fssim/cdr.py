"""mod_json_cdr files: one JSON object per leg, written when the leg ends (atomically).

Shape as ../shared/fs-captures/*.cdr.*.json: `core-uuid`, `switchname`, `channel_data`,
`callStats`, `variables` (values URL-encoded: the switch runs with encode-values=true),
`app_log` and `callflow` (caller profiles newest first, times in microseconds). The CRM sync
reads nothing but these files, so the fscc_* variables the engine sets travel in here.
`cdr_from_parts` builds the same shape from plain data (the CRM benchmark makes 50,000 legs
with it without running calls).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs_scripts.esl.frames import url_encode

if TYPE_CHECKING:  # pragma: no cover
    from fssim.channel import CallerProfile, Channel
    from fssim.core import SimCore

TIME_KEYS = ("created_time", "profile_created_time", "progress_time", "progress_media_time",
             "answered_time", "bridged_time", "last_hold_time", "hold_accum_time", "hangup_time",
             "resurrect_time", "transfer_time")


def profile_dict(p: CallerProfile) -> dict[str, Any]:
    return {
        "username": p.username, "dialplan": p.dialplan, "caller_id_name": p.caller_id_name,
        "ani": p.ani, "aniii": p.aniii, "caller_id_number": p.caller_id_number,
        "network_addr": p.network_addr, "rdnis": p.rdnis, "destination_number": p.destination_number,
        "uuid": p.uuid, "source": p.source, "context": p.context, "chan_name": p.chan_name,
    }


def times_dict(p: CallerProfile) -> dict[str, str]:
    t = p.times
    values = (t.created, t.profile_created, t.progress, t.progress_media, t.answered, t.bridged,
              t.last_hold, t.hold_accum, t.hangup, t.resurrect, t.transfer)
    return {k: str(v) for k, v in zip(TIME_KEYS, values, strict=True)}


def cdr_from_parts(uuid: str, variables: Mapping[str, str], times: Mapping[str, int | str],
                   caller_profile: Mapping[str, str], *, core_uuid: str = "", switchname: str = "fssim",
                   direction: str = "inbound", extension_name: str = "",
                   applications: Sequence[tuple[str, str]] = (), app_log: Sequence[tuple[str, str, int]] = (),
                   other: tuple[str, Sequence[Mapping[str, str]]] | None = None,
                   dialplan: str = "xml", profile_index: int = 1) -> dict[str, Any]:
    """A mod_json_cdr object from plain parts (pure). `times` uses the callflow key names."""
    profile = dict(caller_profile)
    profile.setdefault("uuid", uuid)
    if other is not None:
        kind, profiles = other
        profile[kind] = {f"{kind}_caller_profiles": [dict(p) for p in profiles]}
    extension: dict[str, Any] = {"name": extension_name or profile.get("destination_number", ""),
                                 "applications": [{"app_name": a, "app_data": d} for a, d in applications]}
    flow = {
        "dialplan": dialplan,
        "profile_index": str(profile_index),
        "extension": extension,
        "caller_profile": profile,
        "times": {k: str(times.get(k, 0)) for k in TIME_KEYS},
    }
    return {
        "core-uuid": core_uuid,
        "switchname": switchname,
        "channel_data": {"state": "CS_REPORTING", "direction": direction, "state_number": "11",
                         "flags": "0=1;1=1;40=1;42=1;55=1;160=1", "caps": ""},
        "callStats": {},
        "variables": {k: url_encode(str(v)) for k, v in variables.items()},
        "app_log": {"applications": [{"app_name": a, "app_data": d, "app_stamp": str(s)} for a, d, s in app_log]},
        "callflow": [flow],
    }


def build_cdr(channel: Channel, core: SimCore | None = None) -> dict[str, Any]:
    """The CDR of a finished leg (called after CHANNEL_HANGUP_COMPLETE)."""
    core = core or channel.core
    flows = []
    for profile in reversed(channel.profiles):
        caller = profile_dict(profile)
        if profile is channel.profile and channel.other_leg is not None:
            kind, other = channel.other_leg
            caller[kind] = {f"{kind}_caller_profiles": [profile_dict(other.profile)]}
        flow: dict[str, Any] = {"dialplan": profile.dialplan, "profile_index": str(profile.profile_index)}
        if profile.has_extension:  # mod_json_cdr writes it only when the profile got an extension
            extension: dict[str, Any] = {
                "name": profile.extension_name or profile.destination_number,
                "applications": [{"app_name": a, "app_data": d} for a, d in profile.extension_apps],
            }
            if channel.hit_dialplan and profile.extension_name and channel.direction == "inbound":
                extension["number"] = profile.destination_number
            flow["extension"] = extension
        flow["caller_profile"] = caller
        flow["times"] = times_dict(profile)
        flows.append(flow)
    cdr: dict[str, Any] = {
        "core-uuid": core.info.core_uuid,
        "switchname": core.info.hostname,
        "channel_data": {"state": "CS_REPORTING", "direction": channel.direction, "state_number": "11",
                         "flags": "0=1;1=1;40=1;42=1;55=1;160=1", "caps": ""},
        "callStats": channel.call_stats,
        "variables": {k: url_encode(v) for k, v in channel.variables.items()},
    }
    if channel.app_log:  # no application ran (a failed originate's leg): no app_log at all
        cdr["app_log"] = {"applications": [_app_log_entry(a, d, s, dp) for a, d, s, dp in channel.app_log]}
    cdr["callflow"] = flows
    return cdr


def _app_log_entry(app: str, data: str, stamp: int, from_dialplan: bool) -> dict[str, str]:
    """The switch lists app_data for dialplan applications always, for others only when set."""
    entry = {"app_name": app}
    if data or from_dialplan:
        entry["app_data"] = data
    entry["app_stamp"] = str(stamp)
    return entry


def write_cdr(spool_dir: str | Path, cdr: Mapping[str, Any]) -> Path:
    """`<uuid>.cdr.json` in `spool_dir`, via a temp file and rename: a reader (crm-sync) never
    sees half a file."""
    spool = Path(spool_dir)
    spool.mkdir(parents=True, exist_ok=True)
    uuid = cdr["callflow"][0]["caller_profile"]["uuid"] if cdr.get("callflow") else cdr.get("variables", {}).get("uuid")
    target = spool / f"{uuid}.cdr.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{uuid}.", suffix=".tmp", dir=spool)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(cdr, fh, separators=(",", ":"), ensure_ascii=False)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
