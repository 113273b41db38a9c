"""Parsing dial strings and originate arguments the way switch_ivr_originate reads them (pure).

`{a=1,b='x,y'}[leg=1]loopback/5901/default,user/1001|user/1002`: global `{}` variables,
per-leg `[]` variables, `,` = ring together, `|` = try one after the other. Commas inside
quotes or escaped as `\\,` stay in the value, as in the switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DialStringError(ValueError):
    """A dial string or originate argument fssim cannot read (names the text)."""


@dataclass(frozen=True)
class Target:
    endpoint: str  # loopback/5901/default, user/1001@127.0.0.1, error/USER_BUSY, ...
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DialString:
    variables: dict[str, str]
    # sequential groups; each group rings its targets together
    groups: list[list[Target]]


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quotes/brackets, honouring backslash escapes."""
    parts, buf, depth, quote = [], [], 0, False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i:i + 2])
            i += 2
            continue
        if ch == "'":
            quote = not quote
        elif not quote and ch in "{[<":
            depth += 1
        elif not quote and ch in "}]>":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def parse_vars(body: str) -> dict[str, str]:
    """`a=1,b='x,y',c=p\\,q` -> dict (quotes stripped, `\\,` unescaped)."""
    out: dict[str, str] = {}
    if not body.strip():
        return out
    for item in _split_top(body, ","):
        if not item:
            continue
        if "=" not in item:
            raise DialStringError(f"variable without '=' in {{{body}}}: {item!r}")
        name, value = item.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        out[name.strip()] = value.replace("\\,", ",")
    return out


def _take_block(text: str, open_ch: str, close_ch: str) -> tuple[str | None, str]:
    text = text.lstrip()
    if not text.startswith(open_ch):
        return None, text
    depth, quote = 0, False
    for i, ch in enumerate(text):
        if ch == "'":
            quote = not quote
        elif not quote and ch == open_ch:
            depth += 1
        elif not quote and ch == close_ch:
            depth -= 1
            if depth == 0:
                return text[1:i], text[i + 1:]
    raise DialStringError(f"unterminated {open_ch} in dial string {text!r}")


def parse_dial_string(text: str) -> DialString:
    text = text.strip()
    if not text:
        raise DialStringError("empty dial string")
    global_vars: dict[str, str] = {}
    while True:
        block, rest = _take_block(text, "{", "}")
        if block is None:
            block, rest = _take_block(text, "<", ">")
        if block is None:
            break
        global_vars.update(parse_vars(block))
        text = rest
    groups: list[list[Target]] = []
    for seq in _split_top(text, "|"):
        group = []
        for item in _split_top(seq, ","):
            item = item.strip()
            if not item:
                continue
            leg_vars: dict[str, str] = {}
            block, rest = _take_block(item, "[", "]")
            if block is not None:
                leg_vars = parse_vars(block)
                item = rest.strip()
            block, rest = _take_block(item, "{", "}")
            if block is not None:
                leg_vars.update(parse_vars(block))
                item = rest.strip()
            if "/" not in item:
                raise DialStringError(f"endpoint without '/' in dial string: {item!r}")
            group.append(Target(item, leg_vars))
        if group:
            groups.append(group)
    if not groups:
        raise DialStringError(f"no endpoint in dial string {text!r}")
    return DialString(global_vars, groups)


@dataclass(frozen=True)
class OriginateArgs:
    dial_string: str
    inline_apps: list[tuple[str, str]] | None  # &park / &playback(x)
    extension: str | None
    dialplan: str
    context: str
    cid_name: str | None
    cid_number: str | None
    timeout_s: float | None


def parse_inline_apps(text: str) -> list[tuple[str, str]]:
    """`&park`, `&park()`, `&playback(/x.wav)`, `park,playback:x inline` (comma list)."""
    text = text.strip()
    if text.startswith("&"):
        text = text[1:]
        if "(" in text and text.endswith(")"):
            name, arg = text.split("(", 1)
            return [(name.strip(), arg[:-1])]
        if " " in text:
            name, arg = text.split(" ", 1)
            return [(name, arg.strip())]
        return [(text, "")]
    apps = []
    for item in _split_top(text, ","):
        name, _, arg = item.partition(":")
        apps.append((name.strip(), arg))
    return apps


def parse_originate(arg: str) -> OriginateArgs:
    """`<dial> <exten|&app> [dialplan] [context] [cid_name] [cid_num] [timeout]`."""
    arg = arg.strip()
    parts = _split_top(arg, " ")
    parts = [p for p in parts if p != ""]
    if len(parts) < 2:
        raise DialStringError("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]")
    dial, target, rest = parts[0], parts[1], parts[2:]
    if target.startswith("&") and "(" in target and not target.endswith(")"):
        # the app argument contained spaces: glue it back
        idx = 2
        while idx < len(parts) and not target.endswith(")"):
            target += " " + parts[idx]
            idx += 1
        rest = parts[idx:]
    inline = parse_inline_apps(target) if target.startswith("&") else None
    extension = None if inline is not None else target
    dialplan = rest[0] if len(rest) > 0 else "XML"
    context = rest[1] if len(rest) > 1 else "default"
    cid_name = rest[2] if len(rest) > 2 else None
    cid_number = rest[3] if len(rest) > 3 else None
    timeout = float(rest[4]) if len(rest) > 4 else None
    return OriginateArgs(dial, inline, extension, dialplan, context, cid_name, cid_number, timeout)
