"""Escaping of YAML values for the two languages they are rendered into: XML and the dialplan.

Why two layers: a value in `<action application="set" data="..."/>` is first read by the
switch's XML parser (and before that by its pre-processor, which replaces `$${name}`
anywhere in the file text), then stored as application data that the channel `${}`-expands
when the action runs. Jinja's autoescape handles the XML layer (`"` `<` `>` `&` `'`). The
functions here handle the rest:

* `dialplan_literal`: for text placed in action data. `$` becomes `\\$`, which the switch's
  expansion turns back into `$` (switch_channel_expand_variables), so `${system(...)}` in a
  caller-ID name stays text, and `$${...}` can no longer reach the pre-processor. Control
  characters and backslashes are refused rather than escaped: they have no business in a
  name, and a backslash would need expansion to run to be decoded, which depends on the
  rest of the data.
* `xml_value`: for values the switch reads as plain parameters (passwords, directory
  variables): control characters, `$${` (pre-processor) and `${` (expansion) are refused.
* `exact_number_regex` / `any_of`: regular expressions built from validated numbers and
  patterns, never from free text.

Pure: standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["UnsafeValue", "any_of", "dialplan_literal", "exact_number_regex", "xml_value"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeValue(ValueError):
    """A value that cannot be rendered safely; the message says why (the caller adds the key path)."""


def dialplan_literal(value: object) -> str:
    """`value` as dialplan application data that expands back to exactly `value`."""
    text = str(value)
    if _CONTROL.search(text):
        raise UnsafeValue(f"control characters (newline, tab, ...) are not allowed: {text!r}")
    if "\\" in text:
        raise UnsafeValue(f"backslashes are not allowed: {text!r}")
    return text.replace("$", "\\$")


def xml_value(value: object) -> str:
    """`value` for an XML parameter the switch does not expand: refuse what it would rewrite."""
    text = str(value)
    if _CONTROL.search(text):
        raise UnsafeValue(f"control characters (newline, tab, ...) are not allowed: {text!r}")
    if "$${" in text:
        raise UnsafeValue("'$${' is not allowed (FreeSWITCH's pre-processor would replace it)")
    if "${" in text:
        raise UnsafeValue("'${' is not allowed (FreeSWITCH would expand it as a variable)")
    return text


def exact_number_regex(number: str) -> str:
    """An anchored regex for one number; a leading + is optional on the wire (carriers differ)."""
    digits = number[1:] if number.startswith("+") else number
    if not digits.isdigit() or not digits.isascii():
        raise UnsafeValue(f"not a number: {number!r}")
    return f"^\\+?{digits}$"


def any_of(patterns: Iterable[str]) -> str:
    """One regex matching when any of `patterns` matches (each kept whole in a group)."""
    parts = [f"(?:{p})" for p in patterns]
    if not parts:
        raise UnsafeValue("no patterns")
    return parts[0] if len(parts) == 1 else "|".join(parts)


def literal_regex(text: str) -> str:
    """`text` matched literally (tenant ids, E.164 numbers): PCRE-escaped, ASCII only."""
    return "".join(c if c.isalnum() and c.isascii() or c == "_" else "\\" + c for c in text)
