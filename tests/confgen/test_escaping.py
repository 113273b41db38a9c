"""The escaping rules, checked against the switch's own expansion (fssim.dialplan.expand)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fs_scripts.confgen.escaping import (
    UnsafeValue,
    any_of,
    dialplan_literal,
    exact_number_regex,
    literal_regex,
    xml_value,
)
from fs_scripts.confgen.render import comment_text
from fssim.dialplan import compile_expression, expand

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"), max_size=60)


@given(_text)
def test_dialplan_literal_expands_back_to_the_value(value: str) -> None:
    # the data is expanded when the action runs; whatever the value holds, it comes back as text
    data = "effective_caller_id_name=" + dialplan_literal(value)
    variables = {"system": "INJECTED", "domain": "INJECTED", "x": "INJECTED"}
    assert expand(data, variables, {"system": lambda _: "INJECTED"}) == "effective_caller_id_name=" + value


@pytest.mark.parametrize("value", ["${system(rm -rf /)}", "$${domain}", "a$b", "${x}${x}", "price: $5", "{a=b}"])
def test_dialplan_literal_neutralises_expansion_and_preprocessor(value: str) -> None:
    escaped = dialplan_literal(value)
    assert "$${" not in escaped  # the pre-processor never sees its marker
    assert re.search(r"(?<!\\)\$", escaped) is None  # every dollar is escaped
    assert expand(escaped, {"x": "BAD", "domain": "BAD"}) == value


@pytest.mark.parametrize("value", ["line\nbreak", "cr\rhere", "tab\there", "nul\x00", "back\\slash"])
def test_dialplan_literal_refuses_control_characters_and_backslashes(value: str) -> None:
    with pytest.raises(UnsafeValue):
        dialplan_literal(value)


@pytest.mark.parametrize("value", ["a${b}", "a$${b}", "x\ny"])
def test_xml_value_refuses_what_the_switch_would_rewrite(value: str) -> None:
    with pytest.raises(UnsafeValue):
        xml_value(value)
    assert xml_value('pa$$w<o>"rd&') == 'pa$$w<o>"rd&'  # the rest is the XML layer's job


def test_number_and_literal_regexes() -> None:
    regex = compile_expression(exact_number_regex("+8610086"))
    assert regex.search("8610086") and regex.search("+8610086")
    assert not regex.search("86100861") and not regex.search("x8610086")
    with pytest.raises(UnsafeValue):
        exact_number_regex("10086|.*")
    assert compile_expression("^" + literal_regex("a.b-c") + "$").search("a.b-c")
    assert not compile_expression("^" + literal_regex("a.b-c") + "$").search("aXb-c")
    both = compile_expression(any_of([r"^\+861\d{10}$", r"^\+852\d{8}$"]))
    assert both.search("+8613800138000") and both.search("+85221234567") and not both.search("+4420")


def test_comment_text_cannot_close_a_comment() -> None:
    assert "--" not in comment_text("evil-->--->")
    assert comment_text("a\nb") == "a b"
