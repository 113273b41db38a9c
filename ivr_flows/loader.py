"""Flow templates -> validated Flow: sandboxed Jinja, then YAML, then the schema.

Errors point at the line the author wrote, not at the rendered YAML. The mapping is built at
render time: a Jinja extension (`_LineMarkers.filter_stream`) appends an invisible marker
`\\x1f<file>\\x1f<line>\\x1e` before every newline of the template's literal text, so every
rendered line ends with the template file and line whose newline produced it, through loops,
macros and includes. The markers are stripped before YAML parsing and kept as a line table.
A line whose newline came from an expression's value (no marker) belongs to the next marked
line, which is the template line holding that expression.

Render-time errors (undefined names under StrictUndefined, sandbox violations) are placed by
the traceback Jinja rewrites to template files and lines.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.ext import Extension
from jinja2.lexer import Token
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ivr_flows.errors import FlowSyntaxError, Problem
from ivr_flows.schema import AT_COLUMN, Flow, build_flow

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
PROMPTS_FILE = TEMPLATES_DIR / "prompts" / "prompts.yaml"

_MARK_START, _MARK_SEP, _MARK_END = "\x1f", "\x1f", "\x1e"
_MARKER = re.compile("\x1f([^\x1f\x1e]*)\x1f(\\d+)\x1e")


class _LineMarkers(Extension):
    """Marks every literal newline of a template with its file and line (see the module doc)."""

    def filter_stream(self, stream: Any) -> Any:
        filename = stream.filename or stream.name or "<template>"
        for token in stream:
            if token.type == "data" and "\n" in token.value:
                parts = token.value.split("\n")
                text = "".join(
                    f"{part}{_MARK_START}{filename}{_MARK_SEP}{token.lineno + i}{_MARK_END}\n"
                    for i, part in enumerate(parts[:-1])
                )
                yield Token(token.lineno, "data", text + parts[-1])
            else:
                yield token


def _autoescape(name: str | None) -> bool:
    """XML output (dialplan fragments a flow might render) is escaped; YAML flows are not HTML."""
    return bool(name) and (name.endswith(".xml") or name.endswith(".xml.j2"))


def make_environment(search_path: Path) -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(search_path)),
        undefined=jinja2.StrictUndefined,
        autoescape=_autoescape,
        extensions=[_LineMarkers],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Rendered:
    """Rendered YAML text (markers stripped) and, per rendered line, (template file, line)."""

    text: str
    origins: tuple[tuple[str, int], ...]

    def origin(self, line0: int) -> tuple[str, int]:
        if not self.origins:
            return ("<template>", 1)
        return self.origins[min(max(line0, 0), len(self.origins) - 1)]


def strip_markers(raw: str) -> Rendered:
    lines = raw.split("\n")
    clean: list[str] = []
    origins: list[tuple[str, int] | None] = []
    for line in lines:
        found = _MARKER.findall(line)
        clean.append(_MARKER.sub("", line))
        origins.append((found[-1][0], int(found[-1][1])) if found else None)
    # unmarked lines belong to the next marked one (the expression whose value held the newline)
    following: tuple[str, int] | None = None
    for i in range(len(origins) - 1, -1, -1):
        if origins[i] is None:
            origins[i] = following
        else:
            following = origins[i]
    previous: tuple[str, int] | None = None
    for i, origin in enumerate(origins):  # trailing unmarked lines: the last marked one
        if origin is None:
            origins[i] = previous
        previous = origins[i]
    return Rendered("\n".join(clean), tuple(o or ("<template>", 1) for o in origins))


class FlowLoader:
    """Loads flow templates of one directory with one Jinja context (tenant, calendar, prompts)."""

    def __init__(self, search_path: Path, context: Mapping[str, Any]) -> None:
        self.search_path = Path(search_path)
        self.env = make_environment(self.search_path)
        self.context = dict(context)
        self._sources: dict[str, list[str]] = {}

    # -- public

    def load(self, path: str | Path) -> Flow:
        """The validated Flow, or FlowSyntaxError listing every problem as FILE:LINE:COL."""
        flow, problems = self.check(path)
        if flow is None:
            raise FlowSyntaxError(problems)
        return flow

    def check(self, path: str | Path) -> tuple[Flow | None, list[Problem]]:
        flow, problems, _ = self.check_located(path)
        return flow, problems

    def check_located(self, path: str | Path) -> tuple[Flow | None, list[Problem], Locator]:
        """Like `check`, plus a Locator that places further findings (lint's graph checks)
        on the template line of any key of the rendered flow."""
        path = self._resolve(path)
        try:
            rendered = self.render(path)
        except FlowSyntaxError as exc:
            return None, exc.problems, Locator(self, None, {}, str(path))
        return self._parse(rendered, str(path))

    def render(self, path: str | Path) -> Rendered:
        path = self._resolve(path)
        display = str(path)
        try:
            name = str(path.relative_to(self.search_path))
        except ValueError:
            raise FlowSyntaxError([Problem(display, 1, 1, f"not under the flows directory {self.search_path}")]) from None
        try:
            template = self.env.get_template(name)
            raw = template.render(self.context)
        except jinja2.TemplateSyntaxError as exc:
            file = exc.filename or display
            line = exc.lineno or 1
            raise FlowSyntaxError([Problem(file, line, self._first_column(file, line), f"template syntax: {exc.message}")]) from exc
        except jinja2.TemplateNotFound as exc:
            file, line = self._render_frame(exc, display)
            raise FlowSyntaxError([Problem(file, line, self._column_of(file, line, exc.name), f"template not found: {exc.name}")]) from exc
        except (jinja2.UndefinedError, SecurityError) as exc:
            file, line = self._render_frame(exc, display)
            m = re.search(r"'([^']+)'", str(exc))
            col = self._column_of(file, line, m.group(1)) if m else self._first_column(file, line)
            kind = "undefined" if isinstance(exc, jinja2.UndefinedError) else "not allowed in the sandbox"
            raise FlowSyntaxError([Problem(file, line, col, f"template {kind}: {exc}")]) from exc
        except OSError as exc:
            raise FlowSyntaxError([Problem(display, 1, 1, f"cannot read: {exc.strerror or exc}")]) from exc
        except Exception as exc:  # a filter raising on bad data: still placed in the template
            file, line = self._render_frame(exc, display)
            raise FlowSyntaxError([Problem(file, line, self._first_column(file, line), f"template error: {type(exc).__name__}: {exc}")]) from exc
        return strip_markers(raw)

    def parse(self, rendered: Rendered, display: str) -> tuple[Flow | None, list[Problem]]:
        flow, problems, _ = self._parse(rendered, display)
        return flow, problems

    def _parse(self, rendered: Rendered, display: str) -> tuple[Flow | None, list[Problem], Locator]:
        no_positions = Locator(self, rendered, {}, display)
        try:
            loader = yaml.SafeLoader(rendered.text)
        except yaml.reader.ReaderError as exc:  # a control character, checked before any parsing
            before = rendered.text[: max(exc.position, 0)]
            line0 = before.count("\n")
            col0 = len(before) - (before.rfind("\n") + 1)
            return None, [self._place(rendered, line0, col0, f"YAML: character U+{exc.character:04X} is not allowed")], no_positions
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or str(exc)
            if mark is None:
                return None, [Problem(display, 1, 1, f"YAML: {problem}")], no_positions
            return None, [self._place(rendered, mark.line, mark.column, f"YAML: {problem}")], no_positions
        except yaml.YAMLError as exc:
            return None, [Problem(display, 1, 1, f"YAML: {exc}")], no_positions
        finally:
            loader.dispose()
        positions: dict[tuple[str, ...], tuple[int, int]] = {}
        problems: list[Problem] = []
        _positions(node, (), positions, problems, rendered, self)
        flow, schema_problems = build_flow(data, source=Path(display).name, prompt_names=self.prompt_names())
        for path, message in schema_problems:
            line0, col0 = _nearest(positions, path)
            problems.append(self._place(rendered, line0, col0, message))
        locator = Locator(self, rendered, positions, display)
        if problems:
            return None, _sorted(problems), locator
        return flow, [], locator

    def prompt_names(self) -> set[str] | None:
        prompts = self.context.get("prompts")
        return set(prompts) if isinstance(prompts, Mapping) else None

    # -- placing problems in the template

    def _resolve(self, path: str | Path) -> Path:
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = self.search_path / path
        return path.resolve()

    def _place(self, rendered: Rendered, line0: int, col0: int, message: str) -> Problem:
        file, line = rendered.origin(line0)
        rendered_lines = rendered.text.split("\n")
        rendered_line = rendered_lines[line0] if 0 <= line0 < len(rendered_lines) else ""
        source_line = self._source_line(file, line)
        if rendered_line == source_line:
            col = col0 + 1
        else:
            word = re.match(r"[^\s:,\[\]{}]+", rendered_line[col0:]) if col0 < len(rendered_line) else None
            idx = source_line.find(word.group(0)) if word else -1
            col = idx + 1 if idx >= 0 else self._first_column(file, line)
        return Problem(file, line, col, message)

    def _source_line(self, file: str, line: int) -> str:
        if file not in self._sources:
            try:
                self._sources[file] = Path(file).read_text(encoding="utf-8").split("\n")
            except OSError:
                self._sources[file] = []
        lines = self._sources[file]
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def _first_column(self, file: str, line: int) -> int:
        text = self._source_line(file, line)
        return len(text) - len(text.lstrip()) + 1

    def _column_of(self, file: str, line: int, needle: str | None) -> int:
        text = self._source_line(file, line)
        idx = text.find(needle) if needle else -1
        return idx + 1 if idx >= 0 else self._first_column(file, line)

    def _render_frame(self, exc: BaseException, display: str) -> tuple[str, int]:
        """The innermost traceback frame that Jinja rewrote to a template file and line."""
        found = (display, 1)
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename.startswith(str(self.search_path)) or frame.filename == display:
                if not frame.filename.endswith(".py"):
                    found = (frame.filename, frame.lineno or 1)
        return found


@dataclass(frozen=True)
class Locator:
    """Places a message about a key path of the rendered flow (`("nodes", "menu", "options")`)
    on the template line and column that produced it; the file's first line when unknown."""

    loader: FlowLoader
    rendered: Rendered | None
    positions: dict[tuple[str, ...], tuple[int, int]]
    display: str

    def problem(self, path: tuple[str, ...], message: str, severity: str = "error") -> Problem:
        if self.rendered is None or not self.positions:
            return Problem(self.display, 1, 1, message, severity)
        line0, col0 = _nearest(self.positions, path)
        placed = self.loader._place(self.rendered, line0, col0, message)
        return Problem(placed.file, placed.line, placed.column, message, severity)


def _positions(node: Any, path: tuple[str, ...], out: dict, problems: list[Problem], rendered: Rendered, loader: FlowLoader) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = path + (key,)
            if key in seen:
                problems.append(loader._place(rendered, key_node.start_mark.line, key_node.start_mark.column,
                                              f"duplicate key {'.'.join(sub)}"))
            seen.add(key)
            out[sub] = (key_node.start_mark.line, key_node.start_mark.column)
            _value_position(value_node, sub, out)
            _positions(value_node, sub, out, problems, rendered, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[path + (str(i),)] = (item.start_mark.line, item.start_mark.column)
            _value_position(item, path + (str(i),), out)
            _positions(item, path + (str(i),), out, problems, rendered, loader)


def _value_position(node: Any, path: tuple[str, ...], out: dict) -> None:
    """Where a one-line scalar's text starts (inside its quotes), for columns within a value."""
    if isinstance(node, yaml.ScalarNode) and node.start_mark.line == node.end_mark.line:
        quoted = 1 if node.style in ("'", '"') else 0
        out[path + ("@value",)] = (node.start_mark.line, node.start_mark.column + quoted)


def _nearest(positions: dict[tuple[str, ...], tuple[int, int]], path: tuple[str, ...]) -> tuple[int, int]:
    if len(path) >= 2 and path[-2] == AT_COLUMN:
        value = positions.get(path[:-2] + ("@value",))
        if value is not None:
            return (value[0], value[1] + int(path[-1]))
        path = path[:-2]
    for n in range(len(path), 0, -1):
        if path[:n] in positions:
            return positions[path[:n]]
    return (0, 0)


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line, p.column))


# ---------------------------------------------------------------- context


def load_prompt_set(path: Path | None = None) -> dict[str, dict[str, str]]:
    """Prompt name -> {language: text}. The names are what flows play; texts feed `prompts build`."""
    path = path or PROMPTS_FILE
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FlowSyntaxError([Problem(str(path), getattr(getattr(exc, "problem_mark", None), "line", 0) + 1, 1,
                                       f"prompt set: {exc}")]) from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise FlowSyntaxError([Problem(str(path), 1, 1, "prompt set: expected name -> {language: text}")])
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in data.items()}


def template_context(settings: Any = None, tenant: str = "default") -> dict[str, Any]:
    """What every flow template sees: tenant, business calendar, prompt set, tiers, ivr settings."""
    from acd.tiers import Tier
    from ivr_flows.config import CalendarSettings, IvrSettings

    ivr = settings.ivr if settings is not None else IvrSettings()
    tenants = settings.tenants if settings is not None else {}
    tenant_settings = tenants.get(tenant)
    tenant_tz = tenant_settings.timezone if tenant_settings is not None else "Asia/Shanghai"
    calendar = ivr.calendars.get(tenant, CalendarSettings())
    prompts_file = Path(ivr.prompts_file) if ivr.prompts_file else None
    return {
        "tenant": {
            "id": tenant,
            "name": tenant_settings.name if tenant_settings is not None else tenant,
            "timezone": tenant_tz,
            "domain": tenant_settings.domain if tenant_settings is not None else "",
        },
        "calendar": {
            "timezone": calendar.timezone or tenant_tz,
            "weekly": {day: list(spans) for day, spans in calendar.weekly.items()},
            "holidays": list(calendar.holidays),
        },
        "prompts": load_prompt_set(prompts_file),
        "tiers": {t.name.lower(): int(t) for t in Tier},
        "ivr": {"extension_context": ivr.extension_context, "outbound_context": ivr.outbound_context,
                "crm_api_url": ivr.crm_api_url},
    }


def flows_dir(settings: Any = None) -> Path:
    if settings is not None and settings.ivr.flows_dir:
        return Path(settings.ivr.flows_dir)
    return TEMPLATES_DIR


def loader_for(path: str | Path, settings: Any = None, tenant: str = "default",
               context_overrides: Mapping[str, Any] | None = None) -> FlowLoader:
    """A loader whose search path is the file's own directory (so includes beside it work)."""
    path = Path(path)
    search = path.resolve().parent if path.exists() else flows_dir(settings)
    context = template_context(settings, tenant)
    context.update(context_overrides or {})
    return FlowLoader(search, context)


def load_flow(path: str | Path, settings: Any = None, tenant: str = "default") -> Flow:
    return loader_for(path, settings, tenant).load(path)
