"""Builders for every command fscc sends on the Event Socket, pure: structured arguments in,
exact bytes out. This is the ONLY place ESL commands are written (team rule).

Why so strict: a command is a header block ended by a blank line, so one LF in an argument
ends the command and whatever follows is read as a new header or a new command. Every
argument is therefore checked here, once:

* CR, LF and NUL are refused everywhere (`CommandArgumentError` naming the argument).
* Words that the switch parses as tokens (command names, event names, header names, hangup
  causes, variable names, uuids) must be tokens: no spaces or separators.
* Values that land inside a FreeSWITCH list are escaped the way FreeSWITCH unescapes them
  (switch_separate_string / cleanup_separated_string in switch_utils.c): `\\` -> `\\\\`,
  `,` -> `\\,`, `'` -> `\\'`. What has no escape there is refused: `{` `}` `[` `]` (the
  bracket finder, switch_find_end_paren, does not honour escapes), `^^` (switches the list
  delimiter) and `${` (variable and API expansion when the application runs).

greenswitch formats `execute-app-arg: %s` with no check at all; plivo pastes REST input into
`conference` commands. Ours cannot be made to send a second header or a second command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fs_scripts.esl.errors import CommandArgumentError

__all__ = [
    "api",
    "app_arg",
    "auth",
    "bgapi",
    "bridge_arg",
    "connect",
    "dial_string",
    "divert_events",
    "escape_list_value",
    "event",
    "exit",
    "export_arg",
    "filter",
    "filter_delete",
    "getvar",
    "linger",
    "myevents",
    "nixevent",
    "noevents",
    "nolinger",
    "originate",
    "play_and_get_digits_arg",
    "quote_word",
    "playback_arg",
    "record_session_arg",
    "resume",
    "sendmsg_execute",
    "sendmsg_hangup",
    "sendmsg_head",
    "set_arg",
    "transfer_arg",
]

_TOKEN = re.compile(r"[A-Za-z0-9_.:@/+\-]+\Z")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_:.\-]+\Z")
_HEADER_NAME = re.compile(r"[A-Za-z0-9_\-]+\Z")
_VAR_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_CAUSE = re.compile(r"[A-Z0-9_]+\Z")
_FORMATS = ("plain", "json", "xml")
_LINE_BREAKERS = ("\r", "\n", "\x00")


def _text(argument: str, value: object) -> str:
    """`value` as a str with no CR/LF/NUL; the one check every argument goes through."""
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise CommandArgumentError(argument, value, f"expected text, got {type(value).__name__}")
    for ch in _LINE_BREAKERS:
        if ch in value:
            raise CommandArgumentError(
                argument, value, f"contains {ch!r}; a line break would end the command"
            )
    return value


def _token(argument: str, value: object, pattern: re.Pattern[str] = _TOKEN) -> str:
    text = _text(argument, value)
    if not pattern.match(text):
        bad = next((c for c in text if not pattern.match(c)), text[:1] or "empty")
        raise CommandArgumentError(
            argument, value, f"must be one word of [{pattern.pattern[1:-4]}]; found {bad!r}"
        )
    return text


def _words(argument: str, values: tuple[object, ...]) -> str:
    """Free-text arguments joined by spaces (the switch reads the rest of the line)."""
    return " ".join(_text(f"{argument}[{i}]", v) for i, v in enumerate(values))


def _cmd(line: str) -> bytes:
    return (line + "\n\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Connection-level commands


def auth(password: str) -> bytes:
    return _cmd("auth " + _text("password", password))


def api(command: str, *args: object) -> bytes:
    """`api <command> <args...>`: the reply is an api/response whose body is the output."""
    line = "api " + _token("command", command)
    rest = _words("args", args)
    return _cmd(line + (" " + rest if rest else ""))


def bgapi(command: str, *args: object, job_uuid: str | None = None) -> bytes:
    """`bgapi`; with `job_uuid` the switch uses our id for the BACKGROUND_JOB (fact 11)."""
    line = "bgapi " + _token("command", command)
    rest = _words("args", args)
    if rest:
        line += " " + rest
    if job_uuid is not None:
        line += "\nJob-UUID: " + _token("job_uuid", job_uuid)
    return _cmd(line)


def event(fmt: str, *names: str) -> bytes:
    """`event plain|json|xml NAME... [CUSTOM sub1 sub2]` (every word after CUSTOM is a subclass)."""
    if fmt not in _FORMATS:
        raise CommandArgumentError("fmt", fmt, "must be plain, json or xml")
    if not names:
        raise CommandArgumentError("names", names, "at least one event name (or ALL)")
    words = [_token(f"names[{i}]", n, _EVENT_NAME) for i, n in enumerate(names)]
    return _cmd(f"event {fmt} " + " ".join(words))


def filter(header: str, value: str) -> bytes:  # noqa: A001 - the ESL command's name
    """`filter <header> <value>`: only events whose header equals value pass."""
    name = _token("header", header, _HEADER_NAME)
    text = _text("value", value)
    if not text:
        raise CommandArgumentError("value", value, "empty (the switch answers -ERR invalid syntax)")
    return _cmd(f"filter {name} {text}")


def filter_delete(header: str, value: str | None = None) -> bytes:
    name = _token("header", header, _HEADER_NAME)
    if value is None:
        return _cmd(f"filter delete {name}")
    return _cmd(f"filter delete {name} {_text('value', value)}")


def nixevent(*names: str) -> bytes:
    if not names:
        raise CommandArgumentError("names", names, "at least one event name")
    return _cmd("nixevent " + " ".join(_token(f"names[{i}]", n, _EVENT_NAME) for i, n in enumerate(names)))


def noevents() -> bytes:
    return _cmd("noevents")


def linger(seconds: int | None = None) -> bytes:
    """`linger [seconds]`: keep the outbound socket open after hangup to get the last events."""
    if seconds is None:
        return _cmd("linger")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise CommandArgumentError("seconds", seconds, "a whole number of seconds >= 0")
    return _cmd(f"linger {seconds}")


def nolinger() -> bytes:
    return _cmd("nolinger")


def myevents(fmt: str = "plain", uuid: str | None = None) -> bytes:
    """`myevents` (outbound: the controlled channel) or `myevents <uuid> <fmt>` (inbound).

    Outbound with the default plain format sends the bare word, exactly as the captures do.
    """
    if fmt not in _FORMATS:
        raise CommandArgumentError("fmt", fmt, "must be plain, json or xml")
    if uuid is not None:
        return _cmd(f"myevents {_token('uuid', uuid)} {fmt}")
    return _cmd("myevents" if fmt == "plain" else f"myevents {fmt}")


def connect() -> bytes:
    return _cmd("connect")


def exit() -> bytes:  # noqa: A001 - the ESL command's name
    return _cmd("exit")


def getvar(name: str) -> bytes:
    return _cmd("getvar " + _token("name", name, _VAR_NAME))


def resume() -> bytes:
    return _cmd("resume")


def divert_events(on: bool) -> bytes:
    return _cmd("divert_events " + ("on" if on else "off"))


# --------------------------------------------------------------------------------------------
# sendmsg


def sendmsg_head(uuid: str | None) -> str:
    """The first line of a sendmsg: `sendmsg` (outbound, own channel) or `sendmsg <uuid>`."""
    return "sendmsg" if uuid is None else "sendmsg " + _token("uuid", uuid)


def sendmsg_execute(
    app: str,
    arg: str | None = None,
    *,
    uuid: str | None = None,
    event_uuid: str | None = None,
    event_lock: bool = False,
    loops: int | None = None,
    async_: bool = False,
    body_threshold: int = 2048,
) -> bytes:
    """`sendmsg [uuid]` + `call-command: execute`. Header order is the captures' order.

    An argument longer than `body_threshold` UTF-8 bytes goes as a `content-type: text/plain`
    body instead of an `execute-app-arg` header (fact 15); CR/LF are refused either way, as
    no dialplan application takes a multi-line argument and a body would hide them.
    `event_uuid` comes back as Application-UUID in CHANNEL_EXECUTE[_COMPLETE].
    """
    lines = [sendmsg_head(uuid), "call-command: execute", "execute-app-name: " + _token("app", app)]
    body = b""
    if arg is not None:
        text = _text("arg", arg)
        data = text.encode("utf-8")
        # The switch strips leading spaces from a header value; a body keeps them.
        if len(data) > body_threshold or text.startswith(" "):
            body = data
        elif text:
            lines.append("execute-app-arg: " + text)
    if loops is not None:
        if isinstance(loops, bool) or not isinstance(loops, int) or loops < 1:
            raise CommandArgumentError("loops", loops, "a whole number >= 1")
        lines.append(f"loops: {loops}")
    if event_lock:
        lines.append("event-lock: true")
    if event_uuid is not None:
        lines.append("Event-UUID: " + _token("event_uuid", event_uuid))
    if async_:
        lines.append("async: true")
    if body:
        lines.append("content-type: text/plain")
        lines.append(f"content-length: {len(body)}")
        return ("\n".join(lines) + "\n\n").encode("utf-8") + body
    return _cmd("\n".join(lines))


def sendmsg_hangup(cause: str = "NORMAL_CLEARING", *, uuid: str | None = None) -> bytes:
    head = sendmsg_head(uuid)
    return _cmd(f"{head}\ncall-command: hangup\nhangup-cause: {_token('cause', cause, _CAUSE)}")


# --------------------------------------------------------------------------------------------
# Values inside FreeSWITCH lists: dial strings and application arguments


def escape_list_value(argument: str, value: object) -> str:
    """A channel-variable value for a `{k=v,...}` / `[k=v,...]` block, escaped or refused.

    FreeSWITCH reads such a block (switch_event_create_brackets) with two passes of
    switch_separate_string, each followed by cleanup_separated_string: first split on `,`,
    then each item split once on `=`. Both passes drop unescaped single quotes, trim spaces
    and turn `\\\\` `\\'` `\\,` `\\s` into `\\` `'` `,` space. So the value is escaped for
    the `=` pass (`\\`, `'`, and every space as `\\s`), then for the `,` pass (`\\`, `'`, `,`),
    and arrives intact (tests/esl/test_properties.py replays both passes, ported from
    switch_utils.c). What has no escape is refused: `{ } [ ]` (switch_find_end_paren counts
    them without looking at escapes), `^^` (switches the delimiter), `${` (expansion), and
    the empty value (FreeSWITCH silently ignores `k=`).
    """
    text = _text(argument, value)
    for bad, why in (
        ("${", "starts a variable/API expansion"),
        ("^^", "changes the list delimiter"),
        ("{", "opens a variable block; FreeSWITCH has no escape for it"),
        ("}", "closes a variable block; FreeSWITCH has no escape for it"),
        ("[", "opens a per-leg variable block; FreeSWITCH has no escape for it"),
        ("]", "closes a per-leg variable block; FreeSWITCH has no escape for it"),
    ):
        if bad in text:
            raise CommandArgumentError(argument, value, f"contains {bad!r}, which {why}")
    if not text:
        raise CommandArgumentError(argument, value, "empty (FreeSWITCH ignores `name=`); leave the variable out")
    for_eq = text.replace("\\", "\\\\").replace("'", "\\'").replace(" ", "\\s")
    return for_eq.replace("\\", "\\\\").replace("'", "\\'").replace(",", "\\,")


def _var_block(argument: str, variables: Mapping[str, object] | None, open_: str, close: str) -> str:
    if not variables:
        return ""
    items = []
    for key, value in variables.items():
        name = _token(f"{argument} key", key, _VAR_NAME)
        items.append(f"{name}={escape_list_value(f'{argument}[{key}]', value)}")
    return open_ + ",".join(items) + close


def dial_string(
    endpoint: str,
    variables: Mapping[str, object] | None = None,
    leg_variables: Mapping[str, object] | None = None,
) -> str:
    """`{k=v,...}[k=v,...]endpoint`; values escaped per FreeSWITCH rules, endpoint checked.

    The endpoint (`user/1001`, `sofia/gateway/gw/+8613800000000`, `loopback/5901/default`)
    is configuration, not caller input: it must be one word without list separators.
    """
    ep = _text("endpoint", endpoint)
    if not ep or any(c in ep for c in " ,{}[]'|^") or "${" in ep:
        raise CommandArgumentError(
            "endpoint", endpoint, "must be one endpoint without spaces, quotes, `,` `|` `{}` `[]` `^` or `${`"
        )
    return _var_block("variables", variables, "{", "}") + _var_block("leg_variables", leg_variables, "[", "]") + ep


def quote_word(argument: str, value: object) -> str:
    """One argument of an API that splits its text on spaces (originate, callcenter_config).

    FreeSWITCH splits such text with switch_separate_string(' '): a backslash protects the next
    character and single quotes group; each word is then cleaned (quotes dropped, `\\\\` ->
    `\\`, `\\'` -> `'`). So a word holding a space, quote or backslash is sent as
    `'...'` with `\\` and `'` backslash-escaped, and comes out of that pass unchanged.
    """
    text = _text(argument, value)
    if not text:
        raise CommandArgumentError(argument, value, "empty")
    if not any(ch in text for ch in " '\\\"\t"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def originate(
    dial_string: str,
    destination: str,
    *,
    dialplan: str | None = None,
    context: str | None = None,
    cid_name: str | None = None,
    cid_number: str | None = None,
    timeout_s: int | None = None,
) -> str:
    """The argument text of `api|bgapi originate`: `<dial> &park` or `<dial> EXT [XML ctx ...]`.

    `destination` is an extension (`5901`) or an inline application (`&park`, `&park()`,
    `&playback(file)`). The dial string is quoted as one word when it holds spaces or quotes
    (quote_word), so caller names in its variables survive both FreeSWITCH passes: the
    space split of the API arguments, then the `,` split of the `{}` block. The positional
    fields after the destination must be single words; give caller names through
    `origination_caller_id_name` in the dial string's variables instead.
    """
    dial = quote_word("dial_string", dial_string)
    dest = _text("destination", destination)
    if dest.startswith("&"):
        if not re.fullmatch(r"&[A-Za-z0-9_]+(\([^\s()]*\))?", dest):
            raise CommandArgumentError("destination", destination, "inline app must look like &app or &app(arg) without spaces")
    else:
        dest = _token("destination", dest)
    fields = [dialplan, context, cid_name, cid_number, None if timeout_s is None else str(int(timeout_s))]
    while fields and fields[-1] is None:
        fields.pop()
    defaults = ["XML", "default", "undef", "undef", "60"]
    words = [dial, dest]
    for i, (value, default) in enumerate(zip(fields, defaults, strict=False)):
        label = ("dialplan", "context", "cid_name", "cid_number", "timeout_s")[i]
        words.append(default if value is None else _token(label, value))
    return " ".join(words)


def app_arg(*parts: object) -> str:
    """Space-joined application arguments, each checked (CR/LF, `${`); not list-escaped."""
    out = []
    for i, part in enumerate(parts):
        text = _text(f"parts[{i}]", part)
        if "${" in text:
            raise CommandArgumentError(f"parts[{i}]", part, "contains '${', which would be expanded when the app runs")
        out.append(text)
    return " ".join(out)


def set_arg(name: str, value: object) -> str:
    """Argument of `set`: `name=value`; the value may be caller text (checked, not expanded)."""
    return f"{_token('name', name, _VAR_NAME)}={_caller_value('value', value)}"


def export_arg(name: str, value: object) -> str:
    return set_arg(name, value)


def _caller_value(argument: str, value: object) -> str:
    text = _text(argument, value)
    if "${" in text:
        raise CommandArgumentError(argument, value, "contains '${', which would be expanded when the app runs")
    return text


def playback_arg(path: str) -> str:
    """A file or stream for `playback`; one path, no expansion, no list separators."""
    text = _caller_value("path", path)
    if not text:
        raise CommandArgumentError("path", path, "empty")
    return text


def play_and_get_digits_arg(
    min_digits: int,
    max_digits: int,
    tries: int,
    timeout_ms: int,
    terminators: str,
    prompt: str,
    invalid_prompt: str,
    var_name: str,
    regexp: str,
    digit_timeout_ms: int,
) -> str:
    """`play_and_get_digits` argument; every field checked, none may be empty or the string
    "None" (greenswitch sends "None" for unset ones)."""
    ints = {"min_digits": min_digits, "max_digits": max_digits, "tries": tries,
            "timeout_ms": timeout_ms, "digit_timeout_ms": digit_timeout_ms}
    for label, v in ints.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise CommandArgumentError(label, v, "a whole number >= 0")
    words = {
        "terminators": terminators, "prompt": prompt, "invalid_prompt": invalid_prompt,
        "var_name": var_name, "regexp": regexp,
    }
    checked = {}
    for label, v in words.items():
        text = _caller_value(label, v)
        if not text or " " in text:
            raise CommandArgumentError(label, v, "one word, not empty")
        checked[label] = text
    _token("var_name", var_name, _VAR_NAME)
    return " ".join([
        str(min_digits), str(max_digits), str(tries), str(timeout_ms), checked["terminators"],
        checked["prompt"], checked["invalid_prompt"], checked["var_name"], checked["regexp"],
        str(digit_timeout_ms),
    ])


def bridge_arg(*dial_strings: str, simultaneous: bool = False) -> str:
    """`bridge` targets: failover `|` or simultaneous `,` between dial strings built by
    dial_string() (whose values are already escaped)."""
    if not dial_strings:
        raise CommandArgumentError("dial_strings", dial_strings, "at least one")
    parts = [_caller_value(f"dial_strings[{i}]", d) for i, d in enumerate(dial_strings)]
    return ("," if simultaneous else "|").join(parts)


def record_session_arg(path: str) -> str:
    text = _caller_value("path", path)
    if not text or " " in text:
        raise CommandArgumentError("path", path, "one path without spaces")
    return text


def transfer_arg(extension: str, dialplan: str = "XML", context: str = "default") -> str:
    return " ".join([_token("extension", extension), _token("dialplan", dialplan), _token("context", context)])
