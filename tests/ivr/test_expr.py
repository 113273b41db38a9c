"""The safe expression language: what it computes, and that it cannot reach Python."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr_flows.errors import ExpressionError
from ivr_flows.expr import evaluate, parse

VARS = {"vars": {"n": 3, "s": "42", "lang": "zh", "langs": ["zh", "en"], "none": None},
        "customer": {"tier": 1, "attributes": {"plan": "gold"}}, "tiers": {"global_vip": 1}, "items": [10, 20]}


@pytest.mark.parametrize(("text", "value"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-vars.n + 1", -2), ("7 % 4", 3), ("7 / 2", 3.5),
    ("vars.s == 42", True), ("vars.s > 41.5", True),  # channel variables are text: compared as numbers
    ("'a' + 'b'", "ab"), ('"it\\\'s"', "it's"),
    ("customer.tier == tiers.global_vip", True), ("customer.attributes.plan == 'gold'", True),
    ("vars.lang in vars.langs", True), ("'fr' not in vars.langs", True), ("'4' in vars.s", True),
    ("vars.n in [1, 2, 3]", True), ("'3' in [1, 2, 3]", True), ("'plan' in customer.attributes", True),
    ("not vars.n == 3 or false", False), ("true and not false", True), ("vars.none == null", True),
    ("items.1", 20), ("items.5", None), ("vars.missing.deeper", None),
    ("vars.missing < 3", False), ("vars.missing >= 3", False), ("null in vars.langs", False), ("1 in null", False),
])
def test_values(text, value):
    assert evaluate(text, VARS) == value


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty expression"),
    ("1 +", "unexpected 'end of expression' at column 4 of '1 +'"),
    ("vars.n ==", "unexpected 'end of expression' at column 10 of 'vars.n =='"),
    ("(1", "expected ')', got 'the end' at column 3 of '(1'"),
    ("a b", "unexpected 'b' at column 3 of 'a b'"),
    ("vars.n; 1", "unexpected character ';' at column 7 of 'vars.n; 1'"),
    ("a.", "expected a name after '.' at column 3 of 'a.'"),
])
def test_syntax_errors_name_the_column(text, message):
    with pytest.raises(ExpressionError) as err:
        parse(text)
    assert str(err.value) == message


@pytest.mark.parametrize("text", [
    "__import__('os').system('id')",  # calls do not exist
    "().__class__.__bases__[0].__subclasses__()",
    "vars['n']",  # no subscripts
    "lambda: 1",
    "vars.n if true else 0",
    "x = 1",
    "`id`",
])
def test_python_is_out_of_reach(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_dotted_names_walk_mappings_only_never_python_attributes():
    class Obj:
        secret = "leak"

    assert evaluate("vars.__class__", VARS) is None
    assert evaluate("vars.n.__class__", VARS) is None
    assert evaluate("obj.secret", {"obj": Obj()}) is None
    assert evaluate("s.upper", {"s": "abc"}) is None
    assert evaluate("d.keys", {"d": {"a": 1}}) is None


@pytest.mark.parametrize(("text", "message"), [
    ("1 / 0", "division by zero"),
    ("'a' - 1", "cannot compute 'a' - 1"),
    ("-'a'", "cannot negate 'a'"),
    ("vars.langs < 1", "cannot compare ['zh', 'en'] < 1"),
    ("1 in 2", "'in' needs a list, text or mapping on its right, got 2"),
])
def test_evaluation_errors(text, message):
    with pytest.raises(ExpressionError) as err:
        evaluate(text, VARS)
    assert str(err.value) == f"{message} at column 1 of {text!r}"


def test_limits_on_length_and_nesting():
    with pytest.raises(ExpressionError, match="longer than 2000"):
        parse("1 + " * 600 + "1")
    with pytest.raises(ExpressionError, match="nested deeper than 50"):
        parse("(" * 60 + "1" + ")" * 60)
    with pytest.raises(ExpressionError, match="nested deeper than 50"):
        parse("not " * 60 + "true")


def test_names_lists_every_dotted_name():
    assert parse("customer.tier == tiers.global_vip and vars.x in [vars.y, 1]").names() == {
        ("customer", "tier"), ("tiers", "global_vip"), ("vars", "x"), ("vars", "y")}

PIECES = st.sampled_from(["vars.n", "vars.s", "customer.tier", "1", "2.5", "'x'", "null", "true", "==", "!=", "<",
                          ">=", "in", "not", "and", "or", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".",
                          "vars.langs", "items.0", "__class__", "'", "\\", "é", " "])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=12).map(" ".join) | st.text(max_size=30))
def test_any_text_parses_or_raises_expression_error_and_evaluates_the_same_way(text):
    try:
        parsed = parse(text)
    except ExpressionError:
        return
    try:
        parsed.evaluate(VARS)
    except ExpressionError:
        pass
