"""FreeSWITCH's XML dialplan, evaluated the way mod_dialplan_xml does it (pure, no I/O but reading).

Why a faithful evaluator: fscc renders its dialplan from YAML, and fssim runs that rendered
XML so that the tests route calls through exactly what a real switch would load. The
semantics below follow `mod_dialplan_xml.c` (`dialplan_hunt`, `parse_exten`),
`switch_regex.c` (`switch_regex_perform`, `switch_perform_substitution`) and
`switch_channel_expand_variables` in `switch_channel.c`:

* The context is found by name, else the context `global`; no context: no route.
* Extensions are tried in document order (with `auto_hunt=true`, first the one whose
  name is the destination number). An extension "matches" when its condition walk
  returns true; hunting stops there unless the extension has `continue="true"`.
* Every condition is evaluated in order. A condition with a `field` matches its PCRE
  `expression` against the caller-profile field, or against the expanded value when
  the field contains `$` (`${sip_h_X-Foo}`). `expression` itself is `${}`-expanded
  first. `/re/i` and `/re/s` flag syntax and Asterisk-style `_NXXX.` patterns work
  as in the switch. A condition without a field is absolute (true).
  `regex="all|any|xor"` conditions evaluate their `<regex>` children.
* On a match the actions are appended (their `data` gets `$1`..`$N` / `${N}` replaced by
  the captures, only when the expression has a `(`: that is the switch's own rule);
  on a mismatch the anti-actions are appended unsubstituted, and a mismatch that has
  anti-actions still counts as a match of the extension.
* `break`: `on-false` (default) stops the walk of this extension's conditions after a
  false condition, `on-true` after a true one, `always` after any, `never` never.
* Nested `<condition>` inside a condition are walked recursively when the outer one
  matched (`require-nested` as in the switch).
* Actions and anti-actions with `inline="true"` run at hunt time in the switch. Here,
  the variable-setting ones (`set`, `unset`, `export`, `multiset`) are applied to the
  hunt's working copy of the variables, so later conditions see them, exactly as on
  a real switch; all inline actions are returned with `inline=True` in the order they
  ran, and the caller (the simulated channel) applies them before the others.
* Actions already appended by an extension that in the end did not match stay in the
  list: the switch keeps them too (one caller extension is built for the whole hunt).

`${var}` expansion of action data is the channel's job at execution time, as in the
switch; `expand(data, variables)` does it with the switch's rules: `${var}`,
`${var:offset:length}`, variable names that are themselves expanded, `\\$` for a
literal dollar, `\\\\` for a backslash, and `${func(args)}` API calls through an
optional `functions` mapping (unknown functions expand to nothing, like a failed API).
A variable's value is inserted as it is, never expanded again.

Not supported (a DialplanError says so when a file uses them): time-of-day conditions
(`wday`, `hour`, `time-of-day`, ...).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fs_scripts.errors import FsccError

logger = logging.getLogger(__name__)

__all__ = [
    "Dialplan",
    "DialplanAction",
    "DialplanError",
    "Hunt",
    "ROUTING_EXEC_APPS",
    "expand",
    "substitute_captures",
    "switch_true",
]

#: applications FreeSWITCH lets run inline at hunt time (flag SAF_ROUTING_EXEC); the
#: switch refuses any other application with inline="true" and skips it
ROUTING_EXEC_APPS = frozenset({
    "set", "unset", "export", "multiset", "multiunset", "push", "unshift", "log",
    "set_global", "set_profile_var", "set_user", "event", "eval", "hash", "limit_hash",
    "set_zombie_exec", "verbose_events", "cng_plc", "sched_cancel", "set_audio_level",
})

#: condition attributes that make it a date/time condition (switch_xml_std_datetime_check)
_TIME_ATTRIBUTES = frozenset({
    "year", "yday", "mon", "mday", "week", "mweek", "wday", "hour", "minute",
    "minute-of-day", "time-of-day", "date-time", "tod_tz_offset",
})

_BREAKS = ("on-true", "on-false", "always", "never")


class DialplanError(FsccError):
    """A dialplan file that cannot be loaded: names the source and the line."""

    code = "bad-dialplan"
    exit_code = 2


@dataclass(frozen=True)
class DialplanAction:
    """One application the hunt selected, with its data as the switch would store it."""

    application: str
    data: str = ""
    inline: bool = False
    extension: str = ""  # name of the extension that added it (for tests and logs)


@dataclass(frozen=True)
class Hunt:
    """The full result of one hunt: what `route` returns plus how it got there."""

    actions: tuple[DialplanAction, ...]
    variables: dict[str, str]  # the variables after inline actions ran
    matched: tuple[str, ...]  # names of the extensions that matched, in order
    context: str | None  # the context actually used (may be "global"), None if none


def switch_true(value: str | None) -> bool:
    """FreeSWITCH's switch_true(): yes/on/true/t/enabled/active/allow or a non-zero number."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    try:
        return int(text) != 0
    except ValueError:
        return False


# ----------------------------------------------------------------------------- expansion

VariableLookup = Callable[[str], "str | None"]


def expand(
    data: str,
    variables: Mapping[str, str] | VariableLookup,
    functions: Mapping[str, Callable[[str], str]] | None = None,
) -> str:
    """Expand `${...}` in `data` the way switch_channel_expand_variables does.

    `variables` is a mapping or a lookup function (name -> value or None). `functions`
    maps API names to callables for `${name(args)}`; an unknown one expands to "".
    """
    lookup: VariableLookup = variables.get if isinstance(variables, Mapping) else variables
    return _expand(data, lookup, functions or {}, 0)


def _expand(data: str, lookup: VariableLookup, functions: Mapping[str, Callable[[str], str]], depth: int) -> str:
    if not data or ("${" not in data and "\\$" not in data and "\\'" not in data):
        return data
    if depth > 50:  # the switch would recurse until the stack gives up; we stop politely
        raise DialplanError(f"variable expansion nested too deeply in {data[:60]!r}")
    out: list[str] = []
    n = len(data)
    i = 0
    while i < n:
        ch = data[i]
        if ch == "\\" and i + 1 < n:
            nxt = data[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "'":
                i += 2
                continue
            if nxt == "\\":
                out.append("\\")
                i += 2
                continue
        if ch == "$" and i + 1 < n and data[i + 1] == "{":
            name, i = _take_braced(data, i + 2)
            out.append(_expand_one(name, lookup, functions, depth))
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _take_braced(data: str, start: int) -> tuple[str, int]:
    """From just after `${`, return (inner text, index after the matching `}`)."""
    level = 1
    j = start
    while j < len(data):
        c = data[j]
        if c == "}":
            level -= 1
            if level == 0:
                return data[start:j], j + 1
        elif c == "{" and j != start:
            level += 1
        j += 1
    return data[start:], len(data)  # unterminated: the switch takes the rest as the name


def _expand_one(name: str, lookup: VariableLookup, functions: Mapping[str, Callable[[str], str]], depth: int) -> str:
    paren = name.find("(")
    if paren >= 0:
        func = name[:paren].rstrip(" ")
        args, level = [], 1
        for c in name[paren + 1:]:
            if c == "(":
                level += 1
            elif c == ")":
                level -= 1
                if level == 0:
                    break
            args.append(c)
        func = _expand(func, lookup, functions, depth + 1)
        arg_text = _expand("".join(args), lookup, functions, depth + 1)
        handler = functions.get(func)
        if handler is None:
            logger.debug("expand: no API function %r, expands to nothing", func)
            return ""
        return str(handler(arg_text))
    name = _expand(name, lookup, functions, depth + 1)
    offset = length = 0
    if ":" in name:
        name, _, rest = name.partition(":")
        offset = _atoi(rest)
        if ":" in rest:
            length = _atoi(rest.split(":", 1)[1])
    value = lookup(name)
    if value is None:
        return ""
    value = str(value)
    if offset >= 0:
        value = "" if offset > len(value) else value[offset:]
    elif -offset <= len(value):
        value = value[len(value) + offset:]
    if 0 < length < len(value):
        value = value[:length]
    return value


def _atoi(text: str) -> int:
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def substitute_captures(data: str, match: re.Match[str] | None) -> str:
    """Replace `$N` / `${N}` by regex captures as switch_perform_substitution does.

    A `$` not followed by a digit (or `${` not followed by digits and `}`) stays literal,
    so `${var}` survives for the channel to expand later. A capture that did not take
    part in the match, or a number beyond the groups, becomes "".
    """
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        ch = data[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        j = i + 1
        brace = j < n and data[j] == "{"
        if brace:
            j += 1
        k = j
        while k < n and data[k].isdigit() and data[k].isascii():
            k += 1
        if k == j or (brace and (k >= n or data[k] != "}")):
            out.append("$")
            i += 1
            continue
        number = int(data[j:k][:9])
        i = k + 1 if brace else k
        if match is not None and number <= (match.re.groups or 0):
            out.append(match.group(number) or "")
    return "".join(out)


# ----------------------------------------------------------------------------- regex

_AST = {"N": "[2-9]", "X": "[0-9]", "Z": "[1-9]", ".": ".+", "!": ".*"}


def _ast2regex(pattern: str) -> str:
    """Asterisk-style `_NXXXXXX` pattern (without the `_`) to a regex, as switch_ast2regex."""
    out = ["^"]
    in_class = False
    for c in pattern:
        if c == "[":
            in_class = True
            out.append(c)
        elif c == "]":
            in_class = False
            out.append(c)
        elif in_class:
            out.append(c)
        elif c in _AST:
            out.append(_AST[c])
        else:
            out.append(re.escape(c))
    out.append("$")
    return "".join(out)


_regex_cache: dict[str, re.Pattern[str] | None] = {}


def compile_expression(expression: str) -> re.Pattern[str] | None:
    """Compile a dialplan expression like switch_regex_perform; None if it does not compile."""
    if expression in _regex_cache:
        return _regex_cache[expression]
    text, flags = expression, re.ASCII
    if text.startswith("_"):
        text = _ast2regex(text[1:])
    if text.startswith("/"):
        body, slash, opts = text[1:].rpartition("/")
        if not slash:
            logger.error("dialplan regex %r: missing ending '/' delimiter", expression)
            _regex_cache[expression] = None
            return None
        text = body
        if "i" in opts:
            flags |= re.IGNORECASE
        if "s" in opts:
            flags |= re.DOTALL
    try:
        compiled: re.Pattern[str] | None = re.compile(_pcre_to_python(text), flags)
    except re.error as exc:
        logger.error("dialplan regex %r does not compile: %s", expression, exc)
        compiled = None
    if len(_regex_cache) > 4096:
        _regex_cache.clear()
    _regex_cache[expression] = compiled
    return compiled


def _pcre_to_python(text: str) -> str:
    # PCRE's `$` matches at the very end or before a final newline, like Python's; named
    # groups `(?<name>...)` need Python's `(?P<name>...)` spelling.
    return re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", text)


# ----------------------------------------------------------------------------- the dialplan


@dataclass
class _HuntState:
    fields: Mapping[str, str]
    variables: dict[str, str]
    functions: Mapping[str, Callable[[str], str]]
    actions: list[DialplanAction] = field(default_factory=list)

    def lookup(self, name: str) -> str | None:
        value = self.variables.get(name)
        if value is None:
            value = self.fields.get(name)
        return value

    def expand(self, text: str) -> str:
        return _expand(text, self.lookup, self.functions, 0)


class Dialplan:
    """A loaded XML dialplan: contexts of extensions, ready to route calls."""

    def __init__(self, contexts: list[tuple[str, ET.Element]], source: str) -> None:
        self._contexts = contexts
        self.source = source

    # -- loading

    @classmethod
    def from_string(cls, xml_text: str, source: str = "<string>", globals_: Mapping[str, str] | None = None) -> Dialplan:
        """Parse dialplan XML (`<include>`, `<document>` or a bare `<context>` root).

        `$${name}` pre-processor variables are replaced from `globals_` first, as the
        switch does when it loads the file; unknown ones are left as they are.
        """
        text = _preprocess(xml_text, globals_ or {})
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            line, column = exc.position
            raise DialplanError(f"{source}:{line}:{column}: not well-formed XML: {exc}") from exc
        contexts = [(c.get("name", ""), c) for c in _find_contexts(root)]
        if not contexts:
            raise DialplanError(f"{source}: no <context> element")
        _validate(contexts, source)
        return cls(contexts, source)

    @classmethod
    def from_file(cls, path: str | Path, globals_: Mapping[str, str] | None = None) -> Dialplan:
        """Load one file, or every `*.xml` under a directory (sorted, like the switch's include)."""
        path = Path(path)
        files = sorted(path.rglob("*.xml")) if path.is_dir() else [path]
        contexts: list[tuple[str, ET.Element]] = []
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise DialplanError(f"{file}: cannot read: {exc.strerror or exc}") from exc
            contexts.extend(cls.from_string(text, source=str(file), globals_=globals_)._contexts)
        if not contexts:
            raise DialplanError(f"{path}: no dialplan files")
        return cls(contexts, str(path))

    @property
    def contexts(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._contexts)

    def extensions(self, context: str) -> tuple[str, ...]:
        element = self._context(context)
        return tuple(x.get("name", "") for x in element.findall("extension")) if element is not None else ()

    def _context(self, name: str) -> ET.Element | None:
        for context_name, element in self._contexts:  # the first with the name wins, as in the switch
            if context_name == name:
                return element
        return None

    # -- routing

    def route(
        self,
        context: str,
        fields: Mapping[str, str],
        variables: Mapping[str, str] | None = None,
        functions: Mapping[str, Callable[[str], str]] | None = None,
    ) -> list[DialplanAction]:
        """The actions the switch would run for this call; [] means NO_ROUTE_DESTINATION."""
        return list(self.hunt(context, fields, variables, functions).actions)

    def hunt(
        self,
        context: str,
        fields: Mapping[str, str],
        variables: Mapping[str, str] | None = None,
        functions: Mapping[str, Callable[[str], str]] | None = None,
    ) -> Hunt:
        """Route and also report the variables after inline actions and the matched extensions."""
        fields = {"context": context, **fields}
        state = _HuntState(fields=fields, variables=dict(variables or {}), functions=functions or {})
        used = context
        xcontext = self._context(context)
        if xcontext is None:
            xcontext, used = self._context("global"), "global"
        if xcontext is None:
            logger.warning("dialplan %s: context %s not found", self.source, context)
            return Hunt((), state.variables, (), None)
        extensions = xcontext.findall("extension")
        start = 0
        if switch_true(state.variables.get("auto_hunt")):
            destination = fields.get("destination_number", "")
            for index, xexten in enumerate(extensions):
                if xexten.get("name") == destination:
                    start = index
                    break
        matched: list[str] = []
        for xexten in extensions[start:]:
            name = xexten.get("name") or "UNKNOWN"
            if _parse_exten(state, xexten, name, 0):
                matched.append(name)
                if not switch_true(xexten.get("continue")):
                    break
        return Hunt(tuple(state.actions), state.variables, tuple(matched), used)


def _preprocess(text: str, globals_: Mapping[str, str]) -> str:
    if "$${" not in text:
        return text
    return re.sub(r"\$\$\{([^}]*)\}", lambda m: globals_.get(m.group(1), m.group(0)), text)


def _find_contexts(root: ET.Element) -> Iterable[ET.Element]:
    if root.tag == "context":
        return [root]
    if root.tag == "document":
        found: list[ET.Element] = []
        for section in root.findall("section"):
            if section.get("name") == "dialplan":
                found.extend(section.iter("context"))
        return found
    return list(root.iter("context"))


def _validate(contexts: list[tuple[str, ET.Element]], source: str) -> None:
    for name, xcontext in contexts:
        for xexten in xcontext.findall("extension"):
            for xcond in xexten.iter("condition"):
                used = _TIME_ATTRIBUTES.intersection(xcond.attrib)
                if used:
                    raise DialplanError(
                        f"{source}: context {name!r} extension {xexten.get('name')!r}: "
                        f"date/time conditions ({', '.join(sorted(used))}) are not supported by fssim"
                    )
                brk = xcond.get("break")
                if brk is not None and brk.lower() not in _BREAKS:
                    logger.warning("%s: extension %r: unknown break=%r (the switch uses on-false)", source, xexten.get("name"), brk)


def _action_data(xaction: ET.Element) -> str:
    text = xaction.text or ""
    return text if text.strip() else xaction.get("data", "")


def _loop_count(xaction: ET.Element) -> int:
    loop = xaction.get("loop")
    return _atoi(loop) if loop is not None else 1


def _run_inline(state: _HuntState, application: str, data: str, extension: str) -> None:
    """Run an inline action at hunt time, as exec_app in mod_dialplan_xml."""
    if application not in ROUTING_EXEC_APPS:
        logger.error("dialplan: %s cannot be executed inline (extension %s)", application, extension)
        return
    expanded = state.expand(data)  # switch_core_session_exec expands the argument
    state.actions.append(DialplanAction(application, data, inline=True, extension=extension))
    if application in ("set", "export"):
        name, sep, value = expanded.partition("=")
        if application == "export" and name.startswith("nolocal:"):
            return
        name = name.strip()
        if not name:
            return
        if not sep or value == "" or value == "_undef_":
            state.variables.pop(name, None)
        else:
            state.variables[name] = value
    elif application == "unset":
        state.variables.pop(expanded.strip(), None)
    elif application == "multiset":
        for part in _split_multiset(expanded):
            name, sep, value = part.partition("=")
            if name and sep and value:
                state.variables[name] = value
            elif name:
                state.variables.pop(name, None)


def _split_multiset(data: str) -> list[str]:
    # `multiset ^^:a=1:b=2` uses the delimiter after ^^; plain `multiset a=1 b=2` splits on spaces
    if data.startswith("^^") and len(data) > 2:
        return [p for p in data[3:].split(data[2]) if p]
    return [p for p in data.split(" ") if p]


def _add(state: _HuntState, xaction: ET.Element, data: str, extension: str) -> None:
    application = xaction.get("application", "")
    inline = switch_true(xaction.get("inline"))
    for _ in range(_loop_count(xaction)):
        if inline:
            _run_inline(state, application, data, extension)
        else:
            state.actions.append(DialplanAction(application, data, inline=False, extension=extension))


def _field_data(state: _HuntState, field_name: str) -> str:
    if "$" in field_name:
        return state.expand(field_name)
    return state.fields.get(field_name) or ""


def _set_dp_match(state: _HuntState, match: re.Match[str], var: str) -> None:
    values = [match.group(i) for i in range((match.lastindex or 0) + 1)]
    values = [v for v in values if v is not None]
    state.variables.pop(var, None)
    if len(values) == 1:
        state.variables[var] = values[0]
    elif values:
        state.variables[var] = "ARRAY::" + "|:".join(values)


def _parse_exten(state: _HuntState, xexten: ET.Element, name: str, recur: int) -> bool:
    """parse_exten of mod_dialplan_xml: walk the conditions, append actions, say if it matched."""
    if recur > 100:
        logger.error("dialplan: recursion limit in extension %s", name)
        return False
    require_nested = True
    if recur and xexten.get("require-nested") is not None:
        require_nested = switch_true(xexten.get("require-nested"))
    proceed = False
    for xcond in xexten.findall("condition"):
        brk = (xcond.get("break") or "on-false").lower()
        if brk not in _BREAKS:
            brk = "on-false"
        anti_action = True
        match: re.Match[str] | None = None
        substitute = False
        regex_rule = xcond.get("regex")
        if regex_rule is not None:
            proceed, anti_action, match, substitute = _regex_children(state, xcond, regex_rule.lower())
        else:
            xexpr = xcond.find("expression")
            expression = (xexpr.text or "") if xexpr is not None else xcond.get("expression", "")
            expression = state.expand(expression)
            field_name = xcond.get("field")
            if field_name is not None:
                subject = _field_data(state, field_name)
                compiled = compile_expression(expression)
                match = compiled.search(subject) if compiled is not None else None
                proceed = match is not None
                if proceed:
                    anti_action = False
                substitute = "(" in expression
            else:
                anti_action = False
                proceed = True
        if anti_action:
            for xaction in xcond.findall("anti-action"):
                _add(state, xaction, _action_data(xaction), name)
                proceed = True
        else:
            if substitute and match is not None:
                _set_dp_match(state, match, "DP_MATCH")
            for xaction in xcond.findall("action"):
                data = _action_data(xaction)
                if substitute:
                    data = substitute_captures(data, match)
                _add(state, xaction, data, name)
        if (not anti_action and brk == "on-true") or (anti_action and brk == "on-false") or brk == "always":
            break
        if proceed and xcond.find("condition") is not None:
            if not _parse_exten(state, xcond, name, recur + 1):
                proceed = False
                if brk == "never":
                    continue
                break
    if not require_nested:
        proceed = True
    return proceed


def _regex_children(
    state: _HuntState, xcond: ET.Element, rule: str
) -> tuple[bool, bool, re.Match[str] | None, bool]:
    """A `regex="all|any|xor"` condition: returns (proceed, anti_action, captures, substitute)."""
    all_ = rule == "all"
    xor = rule == "xor"
    passed = failed = total = 0
    proceed = False
    saved: re.Match[str] | None = None
    saved_proceed = False
    substitute = False
    for key in [k for k in state.variables if k.startswith("DP_REGEX_MATCH")]:
        del state.variables[key]
    for xregex in xcond.findall("regex"):
        xexpr = xregex.find("expression")
        expression = (xexpr.text or "") if xexpr is not None else xregex.get("expression", "")
        expression = state.expand(expression)
        total += 1
        field_name = xregex.get("field")
        match = None
        if field_name is not None:
            subject = _field_data(state, field_name)
            compiled = compile_expression(expression)
            match = compiled.search(subject) if compiled is not None else None
            proceed = match is not None
            if proceed:
                passed += 1
                if not all_ and not xor:
                    if "(" in expression:  # the switch keeps this match for substitution
                        saved, saved_proceed, substitute = match, proceed, True
                    break
            else:
                failed += 1
                if all_ and not xor:
                    break
        else:
            passed += 1
            proceed = True
            if not all_ and not xor:
                break
        if field_name is not None and "(" in expression:
            if match is not None:
                _set_dp_match(state, match, f"DP_REGEX_MATCH_{total}")
            saved, saved_proceed, substitute = match, proceed, True
    if substitute:
        proceed = saved_proceed
    if xor:
        anti_action = passed != 1
    else:
        anti_action = not ((all_ and not failed) or (not all_ and passed))
    return proceed, anti_action, saved, substitute
