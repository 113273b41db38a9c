"""The flow language: node types, their fields, and validation of rendered YAML data.

A flow is a mapping of node ids to nodes; each node names the nodes it can lead to. The
validation here is pure (standard library, `ivr_flows.expr`, `acd.tiers`) and reports every
problem as (key path, message); the loader turns a key path into FILE:LINE:COL in the
template. Graph checks that need the whole flow (unreachable nodes, loops without an exit)
live in `ivr_flows.lint`, because a flow with them still runs.

Node fields are declared once, as dataclass fields; metadata marks the fields that name other
nodes (`ref`), hold expressions (`expr`) or prompt names (`prompt`), which is what lint, the
graph and the interpreter walk.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from acd.tiers import Tier
from fs_scripts import cdr_vars
from ivr_flows import expr as expr_lang
from ivr_flows.errors import ExpressionError

Path = tuple[str, ...]
SchemaProblem = tuple[Path, str]
#: a problem path ending in (AT_COLUMN, "n") is about character n of the scalar at the path before
AT_COLUMN = "@column"

OUTCOMES = ("answered", "abandoned", "self-service", "callback", "voicemail", "failed", "transferred")
SAY_KINDS = ("number", "digits", "money", "date", "time", "items")
DTMF_KEYS = frozenset("0123456789*#")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_HOURS = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CAUSE = re.compile(r"^[A-Z_]{3,40}$")
#: fscc_* names the interpreter itself publishes: a flow must not write them behind its back
ENGINE_VARS = frozenset({cdr_vars.FLOW, cdr_vars.PATH, cdr_vars.OUTCOME, cdr_vars.TIER, cdr_vars.CUSTOMER_ID,
                         cdr_vars.AUTHENTICATED, cdr_vars.LANGUAGE, cdr_vars.FLOW_END, cdr_vars.SURVEY,
                         cdr_vars.QUEUE, cdr_vars.CALLBACK_NUMBER})
#: every fscc_* name of the CDR contract
CONTRACT_VARS = frozenset(v for k, v in vars(cdr_vars).items() if k.isupper() and isinstance(v, str) and v.startswith("fscc_"))


def _ref(**kw: Any) -> Any:
    return field(metadata={"ref": True}, **kw)


def _expr_field(**kw: Any) -> Any:
    return field(metadata={"expr": True}, **kw)


def _prompt_field(**kw: Any) -> Any:
    return field(metadata={"prompt": True}, **kw)


# ---------------------------------------------------------------- parts of nodes


@dataclass(frozen=True)
class PlayItem:
    """One thing a `play` node plays: a prompt by name, `say` of a value, a tone or silence."""

    kind: str  # prompt | say | tone | silence
    value: str  # prompt name, expression, tone spec, or milliseconds
    say_as: str = "number"
    expr: expr_lang.Expression | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Case:
    condition: expr_lang.Expression = _expr_field()
    next: str = _ref()


@dataclass(frozen=True)
class SurveyQuestion:
    name: str
    prompt: str = _prompt_field()
    min: int = 1
    max: int = 5


# ---------------------------------------------------------------- nodes


@dataclass(frozen=True, kw_only=True)
class Node:
    id: str
    type: str

    def targets(self) -> list[tuple[str, str]]:
        """(label, node id) of every node this one can lead to, in declaration order."""
        found: list[tuple[str, str]] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.metadata.get("ref"):
                if isinstance(value, str):
                    found.append((f.name, value))
                elif isinstance(value, Mapping):
                    found.extend((f"{f.name} {k}", v) for k, v in value.items())
            elif f.name == "cases":
                found.extend((f"if {c.condition.source}", c.next) for c in value)
        return found

    def prompts(self) -> list[str]:
        names: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("prompt") and value:
                names.append(value)
            elif f.name == "items":
                names.extend(i.value for i in value if i.kind == "prompt")
            elif f.name == "questions":
                names.extend(q.prompt for q in value)
        return names


@dataclass(frozen=True, kw_only=True)
class PlayNode(Node):
    items: tuple[PlayItem, ...]
    next: str = _ref()


@dataclass(frozen=True, kw_only=True)
class MenuNode(Node):
    prompt: str = _prompt_field()
    options: dict[str, str] = _ref()
    timeout_s: float = 5.0
    tries: int = 3
    timeout_prompt: str | None = _prompt_field(default=None)
    invalid_prompt: str | None = _prompt_field(default=None)
    on_timeout: str | None = _ref(default=None)
    on_invalid: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class CollectNode(Node):
    prompt: str = _prompt_field()
    into: str
    min_digits: int = 1
    max_digits: int = 20
    terminator: str = "#"
    regex: str | None = None
    tries: int = 3
    timeout_s: float = 5.0
    invalid_prompt: str | None = _prompt_field(default=None)
    sensitive: bool = False
    next: str = _ref()
    on_failure: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class SetNode(Node):
    vars: dict[str, Any] = field(default_factory=dict)
    compute: dict[str, expr_lang.Expression] = _expr_field(default_factory=dict)
    channel: dict[str, str] = field(default_factory=dict)
    channel_compute: dict[str, expr_lang.Expression] = _expr_field(default_factory=dict)
    next: str = _ref()


@dataclass(frozen=True, kw_only=True)
class BranchNode(Node):
    cases: tuple[Case, ...]
    else_: str = _ref()


@dataclass(frozen=True, kw_only=True)
class HoursNode(Node):
    timezone: str
    weekly: dict[str, tuple[str, ...]]
    holidays: tuple[str, ...] = ()
    open: str = _ref()
    closed: str = _ref()
    holiday: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class LookupNode(Node):
    by: str = "caller"  # caller | account
    key: expr_lang.Expression | None = _expr_field(default=None)
    authenticate: bool = False
    found: str = _ref()
    not_found: str = _ref()


@dataclass(frozen=True, kw_only=True)
class QueueNode(Node):
    queue: str
    skills: dict[str, int] = field(default_factory=dict)
    priority: int | None = None
    priority_by_tier: dict[str, int] = field(default_factory=dict)
    moh: str = "local_stream://moh"
    announce_prompt: str | None = _prompt_field(default=None)
    announce_every_s: float = 30.0
    callback_offer_after_s: float | None = None
    max_wait_s: float = 600.0
    exit_keys: dict[str, str] = _ref(default_factory=dict)
    answered: str | None = _ref(default=None)
    on_max_wait: str | None = _ref(default=None)
    on_callback: str | None = _ref(default=None)
    on_failed: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class TransferNode(Node):
    to: str  # extension | flow | external
    destination: str
    context: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordNode(Node):
    """`voicemail` (the message becomes a task; outcome voicemail) and `record` (into a variable)."""

    prompt: str | None = _prompt_field(default=None)
    max_s: int = 120
    silence_threshold: int = 200
    silence_s: int = 5
    beep: bool = True
    queue: str | None = None
    into: str | None = None
    next: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class CallbackNode(Node):
    number: expr_lang.Expression | None = _expr_field(default=None)
    queue: str = "callback"
    prompt: str | None = _prompt_field(default=None)
    next: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class WebhookNode(Node):
    url: str
    method: str = "POST"
    body: dict[str, expr_lang.Expression] = _expr_field(default_factory=dict)
    timeout_s: float = 3.0
    into: str | None = None
    next: str = _ref()
    on_error: str = _ref()


@dataclass(frozen=True, kw_only=True)
class SurveyNode(Node):
    questions: tuple[SurveyQuestion, ...]
    thanks_prompt: str | None = _prompt_field(default=None)
    timeout_s: float = 5.0
    next: str | None = _ref(default=None)


@dataclass(frozen=True, kw_only=True)
class HangupNode(Node):
    cause: str = "NORMAL_CLEARING"
    outcome: str | None = None


NODE_TYPES: dict[str, type[Node]] = {
    "play": PlayNode,
    "menu": MenuNode,
    "collect": CollectNode,
    "set": SetNode,
    "branch": BranchNode,
    "hours": HoursNode,
    "lookup": LookupNode,
    "queue": QueueNode,
    "transfer": TransferNode,
    "voicemail": RecordNode,
    "record": RecordNode,
    "callback": CallbackNode,
    "webhook": WebhookNode,
    "survey": SurveyNode,
    "hangup": HangupNode,
}

#: YAML key -> field name where Python keywords get in the way
_KEY_ALIASES = {"else": "else_", "if": "condition", "play": "items"}
_FIELD_KEYS = {v: k for k, v in _KEY_ALIASES.items()}

#: the roots an expression may read; `secret` only where a value may leave the switch
#: to a CRM or webhook (never a channel variable)
EXPRESSION_ROOTS = frozenset(
    {"vars", "customer", "call", "channel", "now", "tiers", "tier", "language", "authenticated", "secret"}
)


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: dict[str, Node]
    tenant: str = "default"
    description: str = ""
    language: str = "en"
    variables: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # file the flow came from (for errors and the CDR's fscc_flow)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


# ---------------------------------------------------------------- validation


def yaml_key(name: str) -> str:
    return _FIELD_KEYS.get(name, name)


def build_flow(data: Any, source: str = "", prompt_names: set[str] | None = None) -> tuple[Flow | None, list[SchemaProblem]]:
    """Validate rendered YAML data into a Flow; every problem is (key path, message)."""
    problems: list[SchemaProblem] = []
    if not isinstance(data, Mapping):
        return None, [((), "a flow must be a mapping with 'flow', 'start' and 'nodes'")]
    known = {"flow", "start", "nodes", "tenant", "description", "language", "variables"}
    for key in data:
        if key not in known:
            problems.append(((str(key),), f"unknown key {key!r} (known: {', '.join(sorted(known))})"))
    name = data.get("flow")
    if not isinstance(name, str) or not name:
        problems.append((("flow",), "'flow' must be the flow's name (text)"))
    nodes_data = data.get("nodes")
    nodes: dict[str, Node] = {}
    if not isinstance(nodes_data, Mapping) or not nodes_data:
        problems.append((("nodes",), "'nodes' must be a mapping of node id -> node"))
    else:
        for node_id, node_data in nodes_data.items():
            node_id = str(node_id)
            path = ("nodes", node_id)
            if not _ID.match(node_id):
                problems.append((path, f"node id {node_id!r} must start with a letter and hold only letters, digits and _"))
                continue
            node = _build_node(node_id, node_data, path, problems)
            if node is not None:
                nodes[node_id] = node
    start = data.get("start")
    if not isinstance(start, str):
        problems.append((("start",), "'start' must name the first node"))
    elif isinstance(nodes_data, Mapping) and start not in nodes_data:
        problems.append((("start",), f"start node {start!r} does not exist"))
    variables = data.get("variables", {}) or {}
    if not isinstance(variables, Mapping):
        problems.append((("variables",), "'variables' must be a mapping"))
        variables = {}
    language = data.get("language", "en")
    # references to nodes that do not exist
    for node_id, node in nodes.items():
        for label, target in node.targets():
            if target not in nodes_data:
                problems.append((_ref_path(node, label), f"node {node_id!r}: {label.split(' ')[0]} -> {target!r}: no such node"))
        if prompt_names is not None:
            for pname in node.prompts():
                if pname not in prompt_names:
                    problems.append((("nodes", node_id), f"node {node_id!r}: unknown prompt {pname!r}"))
    if problems:
        return None, problems
    return Flow(name=name, start=start, nodes=nodes, tenant=str(data.get("tenant", "default")),
                description=str(data.get("description", "")), language=str(language),
                variables=dict(variables), source=source), []


def _ref_path(node: Node, label: str) -> Path:
    head, _, rest = label.partition(" ")
    base = ("nodes", node.id)
    if head == "if":
        for i, case in enumerate(getattr(node, "cases", ())):
            if f"if {case.condition.source}" == label:
                return base + ("cases", str(i), "next")
        return base
    if rest:
        return base + (yaml_key(head), rest)
    return base + (yaml_key(head),)


def _build_node(node_id: str, data: Any, path: Path, problems: list[SchemaProblem]) -> Node | None:
    if not isinstance(data, Mapping):
        problems.append((path, f"node {node_id!r} must be a mapping with a 'type'"))
        return None
    node_type = data.get("type")
    cls = NODE_TYPES.get(node_type) if isinstance(node_type, str) else None
    if cls is None:
        problems.append((path + ("type",), f"node {node_id!r}: unknown type {node_type!r} (one of {', '.join(NODE_TYPES)})"))
        return None
    before = len(problems)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("id", "type")}
    for key in data:
        if key == "type":
            continue
        if _KEY_ALIASES.get(str(key), str(key)) not in fields:
            known = ", ".join(sorted(yaml_key(n) for n in fields))
            problems.append((path + (str(key),), f"node {node_id!r}: unknown key {key!r} for a {node_type} node (known: {known})"))
    before = len(problems)  # an unknown key does not hide the node's other problems
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = yaml_key(name)
        if key not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append((path, f"node {node_id!r}: a {node_type} node needs {key!r}"))
            continue
        kwargs[name] = _convert(name, hints[name], data[key], path + (key,), node_id, f, problems)
    if len(problems) > before:
        return None
    node = cls(id=node_id, type=node_type, **kwargs)
    _check_node(node, path, problems)
    return node


def _convert(name: str, hint: Any, value: Any, path: Path, node_id: str, f: Any, problems: list[SchemaProblem]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    where = f"node {node_id!r}: {path[-1]}"
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        return _convert(name, hint, value, path, node_id, f, problems)
    if name == "items":
        return _play_items(value, path, node_id, problems)
    if hint is expr_lang.Expression:
        return _expression(value, path, where, problems)
    if origin is tuple:
        if not isinstance(value, list):
            problems.append((path, f"{where} must be a list"))
            return ()
        return tuple(_convert(name, args[0], item, path + (str(i),), node_id, f, problems) for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            problems.append((path, f"{where} must be a mapping"))
            return {}
        return {str(k): _convert(name, args[1], v, path + (str(k),), node_id, f, problems) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            problems.append((path, f"{where} must be a mapping"))
            return None
        sub_hints = typing.get_type_hints(hint)
        sub_fields = {x.name: x for x in dataclasses.fields(hint)}
        kwargs = {}
        for key in value:
            if _KEY_ALIASES.get(str(key), str(key)) not in sub_fields:
                problems.append((path + (str(key),), f"{where}: unknown key {key!r}"))
        for sub_name, sf in sub_fields.items():
            key = yaml_key(sub_name)
            if key not in value:
                if sf.default is dataclasses.MISSING:
                    problems.append((path, f"{where} needs {key!r}"))
                continue
            kwargs[sub_name] = _convert(sub_name, sub_hints[sub_name], value[key], path + (key,), node_id, sf, problems)
        try:
            return hint(**kwargs)
        except TypeError:
            return None
    if hint is Any:
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            problems.append((path, f"{where} must be text, a number or true/false"))
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        problems.append((path, f"{where} must be true or false, got {value!r}"))
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append((path, f"{where} must be a whole number, got {value!r}"))
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        problems.append((path, f"{where} must be a number, got {value!r}"))
    elif hint is str:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
        problems.append((path, f"{where} must be text, got {value!r}"))
    return None


def _expression(value: Any, path: Path, where: str, problems: list[SchemaProblem]) -> expr_lang.Expression | None:
    if isinstance(value, bool) or value is None:
        value = {True: "true", False: "false", None: "null"}[value]
    try:
        parsed = expr_lang.parse(str(value))
    except ExpressionError as exc:
        problems.append((path + (AT_COLUMN, str(exc.column)), f"{where}: {exc}"))
        return None
    for parts in sorted(parsed.names()):
        if parts[0] not in EXPRESSION_ROOTS:
            found = re.search(rf"(?<![\w.]){re.escape(parts[0])}\b", parsed.source)
            at = (AT_COLUMN, str(found.start() if found else 0))
            problems.append((path + at, f"{where}: unknown name {parts[0]!r} in {parsed.source!r} (known: {', '.join(sorted(EXPRESSION_ROOTS))})"))
    return parsed


def _play_items(value: Any, path: Path, node_id: str, problems: list[SchemaProblem]) -> tuple[PlayItem, ...]:
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.append((path, f"node {node_id!r}: play must be a list of prompts, say, tone or silence_ms"))
        return ()
    items: list[PlayItem] = []
    for i, item in enumerate(value):
        sub = path + (str(i),)
        if isinstance(item, str):
            items.append(PlayItem("prompt", item))
        elif isinstance(item, Mapping) and "say" in item:
            say_as = str(item.get("as", "number"))
            if say_as not in SAY_KINDS:
                problems.append((sub + ("as",), f"node {node_id!r}: say as {say_as!r}: expected one of {', '.join(SAY_KINDS)}"))
            extra = set(item) - {"say", "as"}
            if extra:
                problems.append((sub, f"node {node_id!r}: unknown key(s) {', '.join(sorted(map(str, extra)))} beside say"))
            parsed = _expression(item["say"], sub + ("say",), f"node {node_id!r}: say", problems)
            if parsed is not None:
                items.append(PlayItem("say", parsed.source, say_as, parsed))
        elif isinstance(item, Mapping) and "tone" in item and len(item) == 1:
            items.append(PlayItem("tone", str(item["tone"])))
        elif isinstance(item, Mapping) and "silence_ms" in item and len(item) == 1:
            ms = item["silence_ms"]
            if not isinstance(ms, int) or isinstance(ms, bool) or not 0 < ms <= 60000:
                problems.append((sub, f"node {node_id!r}: silence_ms must be 1..60000, got {ms!r}"))
            else:
                items.append(PlayItem("silence", str(ms)))
        elif isinstance(item, Mapping) and "prompt" in item and len(item) == 1:
            items.append(PlayItem("prompt", str(item["prompt"])))
        else:
            problems.append((sub, f"node {node_id!r}: a play item is a prompt name or one of say, tone, silence_ms"))
    return tuple(items)


def _check_node(node: Node, path: Path, problems: list[SchemaProblem]) -> None:
    """Value rules that the field types alone do not say."""
    nid = node.id

    def bad(key: str, message: str) -> None:
        problems.append((path + (key,), f"node {nid!r}: {message}"))

    if isinstance(node, MenuNode):
        for digit in node.options:
            if len(digit) != 1 or digit not in DTMF_KEYS:
                bad("options", f"option {digit!r} is not one DTMF key (0-9, *, #)")
        if not node.options:
            bad("options", "a menu needs at least one option")
        if node.tries < 1:
            bad("tries", f"tries must be at least 1, got {node.tries}")
        if not 0 < node.timeout_s <= 60:
            bad("timeout_s", f"timeout_s must be in (0, 60], got {node.timeout_s}")
    elif isinstance(node, CollectNode):
        if not _VAR.match(node.into):
            bad("into", f"into {node.into!r} is not a variable name")
        if not 1 <= node.min_digits <= node.max_digits <= 128:
            bad("max_digits", f"need 1 <= min_digits <= max_digits <= 128, got {node.min_digits}..{node.max_digits}")
        if node.terminator and any(c not in DTMF_KEYS for c in node.terminator):
            bad("terminator", f"terminator {node.terminator!r} must be DTMF keys")
        if node.regex is not None:
            try:
                re.compile(node.regex)
            except re.error as exc:
                bad("regex", f"regex {node.regex!r} does not compile: {exc}")
        if node.tries < 1:
            bad("tries", f"tries must be at least 1, got {node.tries}")
    elif isinstance(node, SetNode):
        for name in list(node.vars) + list(node.compute):
            if not _VAR.match(name):
                bad("vars", f"{name!r} is not a variable name")
        for name, parsed in node.compute.items():
            if parsed is not None and any(p[0] == "secret" for p in parsed.names()):
                bad("compute", f"{name}: a sensitive value (secret.*) cannot be copied into a variable")
        for name in list(node.channel) + list(node.channel_compute):
            if not _VAR.match(name):
                bad("channel", f"{name!r} is not a channel variable name")
        for name in list(node.channel) + list(node.channel_compute):
            if name in ENGINE_VARS:
                bad("channel", f"{name!r} is set by the engine itself (the CDR contract); use vars or another name")
            elif name.startswith("fscc_") and name not in CONTRACT_VARS:
                bad("channel", f"{name!r} is not a name of the CDR contract (fs_scripts/cdr_vars.py); fscc_* names are reserved")
        for name, parsed in node.channel_compute.items():
            if parsed is not None and any(p[0] == "secret" for p in parsed.names()):
                bad("channel_compute", f"{name}: a sensitive value (secret.*) cannot reach a channel variable")
    elif isinstance(node, BranchNode):
        if not node.cases:
            bad("cases", "a branch needs at least one case")
    elif isinstance(node, HoursNode):
        try:
            import zoneinfo

            zoneinfo.ZoneInfo(node.timezone)
        except Exception:
            bad("timezone", f"unknown timezone {node.timezone!r}")
        for day, spans in node.weekly.items():
            if day not in WEEKDAYS:
                bad("weekly", f"weekly day {day!r}: expected one of {', '.join(WEEKDAYS)}")
            for span in spans:
                m = _HOURS.match(span)
                if not m or (m.group(1), m.group(2)) >= (m.group(3), m.group(4)):
                    bad("weekly", f"{day} hours {span!r}: expected HH:MM-HH:MM with start before end")
        for day in node.holidays:
            if not _DATE.match(day):
                bad("holidays", f"holiday {day!r}: expected YYYY-MM-DD")
    elif isinstance(node, LookupNode):
        if node.by not in ("caller", "account"):
            bad("by", f"by must be caller or account, got {node.by!r}")
        if node.by == "account" and node.key is None:
            bad("key", "a lookup by account needs 'key' (an expression such as vars.account)")
    elif isinstance(node, QueueNode):
        for tier_name in node.priority_by_tier:
            try:
                Tier.parse(tier_name)
            except ValueError as exc:
                bad("priority_by_tier", str(exc))
        for digit in node.exit_keys:
            if len(digit) != 1 or digit not in DTMF_KEYS:
                bad("exit_keys", f"exit key {digit!r} is not one DTMF key")
        for skill, level in node.skills.items():
            if level is not None and not 1 <= level <= 5:
                bad("skills", f"skill {skill} level must be 1..5, got {level}")
        if node.max_wait_s <= 0:
            bad("max_wait_s", f"max_wait_s must be positive, got {node.max_wait_s}")
    elif isinstance(node, CallbackNode):
        if node.number is not None and any(p[0] == "secret" for p in node.number.names()):
            bad("number", "a sensitive value (secret.*) cannot become the callback number (it reaches the CDR)")
    elif isinstance(node, PlayNode):
        for i, item in enumerate(node.items):
            if item.expr is not None and any(p[0] == "secret" for p in item.expr.names()):
                problems.append((path + ("play", str(i), "say"), f"node {nid!r}: a sensitive value (secret.*) cannot be said back"))
    elif isinstance(node, TransferNode):
        if node.to not in ("extension", "flow", "external"):
            bad("to", f"to must be extension, flow or external, got {node.to!r}")
        if node.to in ("extension", "external") and not re.fullmatch(r"\+?[0-9*#]{1,32}", node.destination):
            bad("destination", f"destination {node.destination!r} must be a number")
    elif isinstance(node, RecordNode):
        if node.type == "record" and not node.into:
            bad("into", "a record node needs 'into' (the variable that receives the file path)")
        if not 1 <= node.max_s <= 3600:
            bad("max_s", f"max_s must be 1..3600, got {node.max_s}")
    elif isinstance(node, WebhookNode):
        if node.method not in ("GET", "POST"):
            bad("method", f"method must be GET or POST, got {node.method!r}")
        if not re.match(r"^https?://", node.url):
            bad("url", f"url {node.url!r} must start with http:// or https://")
        if not 0 < node.timeout_s <= 30:
            bad("timeout_s", f"timeout_s must be in (0, 30], got {node.timeout_s}")
    elif isinstance(node, SurveyNode):
        if not node.questions:
            bad("questions", "a survey needs at least one question")
        for q in node.questions:
            if q is not None and not 0 <= q.min <= q.max <= 9:
                bad("questions", f"question {q.name}: need 0 <= min <= max <= 9")
    elif isinstance(node, HangupNode):
        if not _CAUSE.match(node.cause):
            bad("cause", f"cause {node.cause!r} is not a hangup cause such as NORMAL_CLEARING")
        if node.outcome is not None and node.outcome not in OUTCOMES:
            bad("outcome", f"outcome {node.outcome!r}: expected one of {', '.join(OUTCOMES)}")
