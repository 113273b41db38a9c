"""Call recording: policy, file paths, and the switch commands that start, mask and stop it.

Two halves, kept apart on purpose:

* Pure (no I/O): `decide(policy, rng)` says whether a bridged call is recorded (always, never,
  a sampled percentage for quality inspection, or only on the agent's demand) and which
  consent prompt the caller hears first; `recording_path(template, ...)` builds
  `tenant/YYYY/MM/DD/uuid.wav` from parts that a caller or a config author may influence, so
  every part is reduced to `[A-Za-z0-9._-]` and can never climb out of the recordings
  directory (`..`, `/`, a leading dot) or split the ESL command (spaces, CR/LF, `${`).
* I/O through an `api(command, *args) -> str` callable (InboundConnection.api: it builds the
  command with fs_scripts/esl/commands.py and raises CommandFailed on -ERR):
  `start_recording`, `stop_recording`, `mask`, `unmask`, `on_record_stop`.

How the recording reaches the CRM: `start_recording` puts the path on the caller's channel
(`fscc_recording_path`) as soon as the switch accepted `uuid_record start`, so the CDR names
the file however the call ends. `on_record_stop` (the RECORD_STOP handler) adds duration,
size and sha256 while the channel is still up (the recording was stopped at unbridge or by
the agent). When the caller hangs up first, the switch closes the recording while tearing
the channel down and writes the CDR before any ESL client could answer the event; the CDR
still carries the switch's own `record_ms` / `record_file_size`, and crm-sync takes duration
and size from those and the hash from the file (crm_sync/recordings.py).

Stereo: `RECORD_STEREO=true` on the channel that records puts what that channel sends (the
caller) on the left and what it hears (the agent, once bridged) on the right.
Masking (`uuid_record <uuid> mask <path>`, switch_ivr_record_session_mask: SMBF_MASK on the
media bug) keeps the recording running but writes silence, so card digits typed or spoken
during a `sensitive` collect node are never on tape.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fs_scripts import cdr_vars
from fs_scripts.errors import FsccError
from fs_scripts.esl import commands
from fs_scripts.esl.errors import CommandArgumentError, CommandFailed
from fs_scripts.recording_config import RecordingMode, RecordingPolicy

logger = logging.getLogger(__name__)

Api = Callable[..., str]

TEMPLATE_FIELDS = frozenset({"tenant", "queue", "agent", "uuid", "yyyy", "mm", "dd", "hh"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}\Z")
MAX_COMPONENT = 64
UNDEFINED = "_undef_"  # what uuid_getvar answers for a variable that is not set


class RecordingError(FsccError):
    code = "recording"
    exit_code = 1


class RecordingPathError(RecordingError):
    """A path template or a recording path that could leave the recordings directory."""

    code = "recording-path"
    exit_code = 2


# ------------------------------------------------------------------------------- policy (pure)

@dataclass(frozen=True)
class RecordingDecision:
    record_at_bridge: bool  # start recording when the agent is bridged
    on_demand: bool  # the agent may start it later
    consent_prompt: str  # play this to the caller before the recording starts ("" = none)
    reason: str  # always / never / sampled-in / sampled-out / on-demand


def decide(policy: RecordingPolicy, rng: random.Random) -> RecordingDecision:
    """Whether to record one call. `rng` is the only source of chance (seed it for tests and
    for reproducible sampling); it is drawn from only for sampled policies."""
    prompt = policy.consent_prompt
    if policy.mode is RecordingMode.ALWAYS:
        return RecordingDecision(True, False, prompt, "always")
    if policy.mode is RecordingMode.NEVER:
        return RecordingDecision(False, False, "", "never")
    if policy.mode is RecordingMode.ON_DEMAND:
        return RecordingDecision(False, True, prompt, "on-demand")
    sampled = rng.random() * 100.0 < policy.sample_percent
    return RecordingDecision(sampled, False, prompt if sampled else "", "sampled-in" if sampled else "sampled-out")


def call_rng(seed: str | int, call_uuid: str) -> random.Random:
    """A random source for one call: the same seed and call always sample the same way."""
    return random.Random(f"{seed}:{call_uuid}")


# ------------------------------------------------------------------------------- paths (pure)

def safe_component(value: object) -> str:
    """One path component from any text: only [A-Za-z0-9._-], no leading dot, never empty."""
    text = _UNSAFE.sub("_", str(value))[:MAX_COMPONENT].lstrip(".")
    return text or "_"


def check_template(template: str) -> str:
    """Refuse a template that could escape the recordings directory or break a command."""
    if not template or template.startswith(("/", "\\")) or "\\" in template:
        raise RecordingPathError(f"recording.path_template {template!r}: must be a relative path with '/'")
    if any(c in template for c in " \t\r\n\x00") or "${" in template:
        raise RecordingPathError(f"recording.path_template {template!r}: no spaces, line breaks or '${{'")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RecordingPathError(f"recording.path_template {template!r}: {exc}") from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            raise RecordingPathError(
                f"recording.path_template {template!r}: unknown field {{{name}}}; use "
                + " ".join(f"{{{f}}}" for f in sorted(TEMPLATE_FIELDS)))
    if any(p in ("", ".", "..") for p in template.split("/")):
        raise RecordingPathError(f"recording.path_template {template!r}: no empty, '.' or '..' segments")
    if not template.endswith(".wav") or "{uuid}" not in template:
        raise RecordingPathError(f"recording.path_template {template!r}: must contain {{uuid}} and end in .wav")
    return template


def recording_path(template: str, *, tenant: str, call_uuid: str, when: datetime, queue: str = "",
                   agent: str = "") -> str:
    """The recording's path relative to the recordings directory, e.g. `acme/2026/11/22/<uuid>.wav`.

    `when` is an aware datetime in the tenant's timezone (the folder is the tenant's day)."""
    check_template(template)
    values = {
        "tenant": safe_component(tenant), "queue": safe_component(queue), "agent": safe_component(agent),
        "uuid": safe_component(call_uuid), "yyyy": f"{when.year:04d}", "mm": f"{when.month:02d}",
        "dd": f"{when.day:02d}", "hh": f"{when.hour:02d}",
    }
    rendered = template.format_map(values)
    if rendered.startswith("/") or any(p in ("", ".", "..") for p in rendered.split("/")):  # pragma: no cover - by construction
        raise RecordingPathError(f"recording path {rendered!r} leaves the recordings directory")
    return rendered


def local_time(epoch_s: float, tz_name: str | None) -> datetime:
    """`epoch_s` in the tenant's timezone (UTC when the name is empty or unknown)."""
    tz: Any = timezone.utc
    if tz_name:
        try:
            from zoneinfo import ZoneInfo

            tz = ZoneInfo(tz_name)
        except Exception:  # unknown zone or no tzdata: UTC, said once per call
            logger.warning("unknown timezone %r: recording folders use UTC", tz_name)
    return datetime.fromtimestamp(epoch_s, tz)


def inside(root: Path, path: Path) -> bool:
    """True if `path` resolves to a place under `root` (symlinks followed)."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------- switch I/O

def _check_uuid(call_uuid: str) -> str:
    if not isinstance(call_uuid, str) or not _UUID.match(call_uuid):
        raise CommandArgumentError("call_uuid", call_uuid, "a channel uuid ([A-Za-z0-9-])")
    return call_uuid


def _check_path(path: str) -> str:
    text = commands.record_session_arg(str(path))  # no CR/LF, no spaces, no ${
    if ";" in text:
        raise CommandArgumentError("path", path, "no ';' (uuid_setvar_multi separates variables with it)")
    return text


def start_recording(api: Api, call_uuid: str, path: str | Path, *, stereo: bool = True,
                    make_dirs: bool = True) -> str:
    """Record the call on `call_uuid` (the caller's leg) into `path` (absolute, as the switch
    sees it). In stereo the caller is left, the agent right. Returns the path.

    Raises RecordingError when the switch refuses (no such channel, cannot open the file)."""
    uuid = _check_uuid(call_uuid)
    target = _check_path(str(path))
    if make_dirs and Path(target).is_absolute():
        # fscc serve runs beside the switch; FreeSWITCH's file open creates missing folders
        # too, this only keeps a non-writable recordings directory from failing silently
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            logger.warning("call %s: cannot create %s: %s", uuid, Path(target).parent, exc)
    try:
        if stereo:
            api("uuid_setvar", uuid, "RECORD_STEREO", "true")
        api("uuid_record", uuid, "start", target)
        api("uuid_setvar", uuid, cdr_vars.RECORDING_PATH, target)
    except CommandFailed as exc:
        raise RecordingError(f"call {uuid}: cannot start recording {target}: {exc}") from exc
    logger.info("call %s: recording to %s", uuid, target)
    return target


def stop_recording(api: Api, call_uuid: str, path: str | Path | None = None) -> bool:
    """Stop the recording (`path` None: the one start_recording put on the call). False when
    nothing was recording (already stopped, or the call is gone)."""
    uuid = _check_uuid(call_uuid)
    target = _current_path(api, uuid) if path is None else _check_path(str(path))
    if not target:
        return False
    try:
        api("uuid_record", uuid, "stop", target)
    except CommandFailed as exc:
        logger.info("call %s: stop recording %s: %s", uuid, target, str(exc).strip())
        return False
    return True


def mask(api: Api, call_uuid: str, path: str | Path | None = None) -> bool:
    """Write silence into the recording from now on (a `sensitive` collect node starts).
    False when the call is not being recorded (nothing to mask)."""
    return _mask(api, call_uuid, path, "mask")


def unmask(api: Api, call_uuid: str, path: str | Path | None = None) -> bool:
    """Record live audio again (the sensitive node is over)."""
    return _mask(api, call_uuid, path, "unmask")


def _mask(api: Api, call_uuid: str, path: str | Path | None, action: str) -> bool:
    uuid = _check_uuid(call_uuid)
    target = _current_path(api, uuid) if path is None else _check_path(str(path))
    if not target:
        return False
    try:
        api("uuid_record", uuid, action, target)
    except CommandFailed as exc:
        logger.info("call %s: %s recording %s: %s", uuid, action, target, str(exc).strip())
        return False
    return True


def _current_path(api: Api, uuid: str) -> str:
    try:
        value = api("uuid_getvar", uuid, cdr_vars.RECORDING_PATH).strip()
    except CommandFailed:
        return ""
    return "" if value in ("", UNDEFINED) else _check_path(value)


@dataclass(frozen=True)
class StoppedRecording:
    call_uuid: str
    path: str
    duration_ms: int
    size_bytes: int
    sha256: str  # "" when the file cannot be read from here
    on_call: bool  # the variables reached the channel (False: the call was already gone)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _hash_off_hub(path: str) -> str:
    """Hash in gevent's thread pool when running under gevent: a long file read must not
    stall every other call's greenlet."""
    try:
        import gevent

        return gevent.get_hub().threadpool.apply(file_sha256, (path,))
    except ImportError:  # pragma: no cover - mod_python3 side has no gevent
        return file_sha256(path)


def on_record_stop(event: Any, api: Api, *, resolve: Callable[[str], Path] | None = None) -> StoppedRecording | None:
    """RECORD_STOP handler: put path, duration, size and sha256 on the call so its CDR carries
    them. Only for recordings started by `start_recording` (the event's fscc_recording_path
    names the file); others (voicemail `record`, ...) are ignored and give None.

    `resolve` maps the switch's path to a local one (default: the same path)."""
    uuid = event.get("Unique-ID") or ""
    path = event.get("Record-File-Path") or ""
    if not uuid or not path or event.get(f"variable_{cdr_vars.RECORDING_PATH}") != path:
        return None
    local = (resolve or Path)(path)
    duration_ms = _int(event.get("variable_record_ms"))
    size = _int(event.get("variable_record_file_size"))
    sha256 = ""
    try:
        if not size:
            size = local.stat().st_size
        sha256 = _hash_off_hub(str(local))
    except OSError as exc:
        logger.warning("call %s: cannot read recording %s for its hash: %s", uuid, local, exc)
    values = {cdr_vars.RECORDING_PATH: path, cdr_vars.RECORDING_DURATION_MS: str(duration_ms),
              cdr_vars.RECORDING_SIZE: str(size)}
    if sha256:
        values[cdr_vars.RECORDING_SHA256] = sha256
    on_call = True
    try:
        _check_uuid(uuid)
        _check_path(path)
        api("uuid_setvar_multi", uuid, ";".join(f"{k}={v}" for k, v in values.items()))
    except CommandFailed as exc:
        on_call = False  # the caller hung up: crm-sync reads record_ms / record_file_size instead
        logger.info("call %s gone before its recording variables were set (%s); crm-sync completes them",
                    uuid, str(exc).strip())
    except CommandArgumentError as exc:
        logger.warning("RECORD_STOP with unusable uuid or path: %s", exc)
        return None
    return StoppedRecording(uuid, path, duration_ms, size, sha256, on_call)


def _int(text: str | None) -> int:
    try:
        return int(float(text)) if text else 0
    except ValueError:
        return 0


# ------------------------------------------------------------------------------- the bridge hook

class BridgeRecorder:
    """What the voice queue calls when it bridges a caller to an agent:
    `recorder(caller_uuid, agent_uuid, request)` with the queue's Enqueue request (tenant, queue).

    Decides by the tenant's and queue's policy, builds the path under `recordings_dir` and
    starts a stereo recording on the caller's leg. Remembers on-demand calls so that
    `start_on_demand(caller_uuid)` (the agent's button) can start one later."""

    def __init__(self, settings: Any, recordings_dir: Path, api: Api, clock: Any, *,
                 timezones: Mapping[str, str] | None = None, seed: str | int = 0) -> None:
        self.settings = settings  # fs_scripts.recording_config.RecordingSettings
        self.recordings_dir = Path(recordings_dir).resolve()
        self.api = api
        self.clock = clock
        self.timezones = dict(timezones or {})
        self.seed = seed
        self._on_demand: dict[str, tuple[str, str, str]] = {}  # caller uuid -> (tenant, queue, agent)

    def path_for(self, tenant: str, queue: str, agent: str, caller_uuid: str) -> Path:
        rel = recording_path(self.settings.path_template, tenant=tenant, queue=queue, agent=agent,
                             call_uuid=caller_uuid, when=local_time(self.clock.now(), self.timezones.get(tenant)))
        path = self.recordings_dir / rel
        if not inside(self.recordings_dir, path):  # pragma: no cover - a symlink planted in the tree
            raise RecordingPathError(f"recording path {path} leaves {self.recordings_dir}")
        return path

    def announcement(self, tenant: str, queue: str) -> str:
        """The consent prompt to play to the caller before the agent is bridged ("" = none):
        the queue's policy may record this call (for a sampled policy: it might)."""
        policy = self.settings.policy(tenant, queue)
        return "" if policy.mode is RecordingMode.NEVER else policy.consent_prompt

    def _agent_of(self, caller_uuid: str, request: Any) -> str:
        agent = str(getattr(request, "agent", "") or "")
        if agent or "{agent}" not in self.settings.path_template:
            return agent
        try:  # the voice queue sets fscc_agent on the caller before it bridges
            value = self.api("uuid_getvar", _check_uuid(caller_uuid), cdr_vars.AGENT).strip()
        except CommandFailed:
            return ""
        return "" if value == UNDEFINED else value

    def __call__(self, caller_uuid: str, agent_uuid: str, request: Any) -> RecordingDecision:
        tenant, queue = getattr(request, "tenant", "default"), getattr(request, "queue", "")
        agent = self._agent_of(caller_uuid, request)
        decision = decide(self.settings.policy(tenant, queue), call_rng(self.seed, caller_uuid))
        logger.info("call %s (%s/%s): recording %s", caller_uuid, tenant, queue, decision.reason)
        if decision.record_at_bridge:
            start_recording(self.api, caller_uuid, self.path_for(tenant, queue, agent, caller_uuid),
                            stereo=self.settings.stereo)
        elif decision.on_demand:
            self._on_demand[caller_uuid] = (tenant, queue, agent)
        return decision

    def start_on_demand(self, caller_uuid: str) -> str | None:
        """The agent asked to record: start it if the call's policy allows. Returns the path."""
        parts = self._on_demand.pop(caller_uuid, None)
        if parts is None:
            return None
        tenant, queue, agent = parts
        return start_recording(self.api, caller_uuid, self.path_for(tenant, queue, agent, caller_uuid),
                               stereo=self.settings.stereo)

    def forget(self, caller_uuid: str) -> None:
        self._on_demand.pop(caller_uuid, None)
