"""The target/filter expression language (acd/expr.py): exact results, exact error columns."""

from __future__ import annotations

import pytest

from acd.errors import ExprError
from acd.expr import BoolOp, Compare, Literal, Name, Not, compile_expr, tokenize

AGENT = {
    "id": "1001",
    "skills": {"billing": 4, "sales": 1, "tech-support": 5},
    "languages": ["en", "zh"],
    "team": "north",
    "level": 2.5,
    "vip_desk": True,
    "customer": {"segment": "gold"},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("skills.billing >= 3", True),
        ("skills.billing >= 5", False),
        ("skills.billing > 4", False),
        ("skills.billing == 4", True),
        ("skills.billing != 4", False),
        ("skills.sales < 2", True),
        ("skills.sales <= 1", True),
        ("skills.tech-support == 5", True),  # '-' inside a name, as in skill names
        ("'zh' in languages", True),
        ("'fr' in languages", False),
        ("'fr' not in languages", True),
        ("'billing' in skills", True),  # a key of a mapping
        ("'cooking' in skills", False),
        ("'or' in team", True),  # substring of a string
        ("team in ['north', 'south']", True),
        ("team in []", False),
        ("level > 2", True),  # float against int
        ("level == 2.5", True),
        ("customer.segment in ['gold', 'platinum']", True),
        ("vip_desk", True),
        ("vip_desk == true", True),
        ("not vip_desk", False),
        ("skills.billing >= 3 and ('fr' in languages or team == 'north')", True),
        ("skills.billing >= 3 and 'fr' in languages or team == 'south'", False),  # and binds tighter
        ("not (skills.sales >= 3) and not 'fr' in languages", True),
        ("true", True),
        ("false or null", False),
        ("id == '1001'", True),
        ("level > -1", True),  # negative numbers
        ("skills.sales >= -1 and skills.sales < 0", False),
    ],
)
def test_evaluation_is_exact(source: str, expected: bool) -> None:
    assert compile_expr(source).matches(AGENT) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("skills.cooking >= 3", False),  # a missing name is null: never orders
        ("skills.cooking < 3", False),
        ("skills.cooking == null", True),
        ("missing.deep.path == null", True),
        ("team.name == 'x'", False),  # a path through a string is null, not an error
        ("team > 3", False),  # mixed kinds never order
        ("3 < team", False),
        ("skills.billing == '4'", False),  # no coercion between text and number
        ("vip_desk == 1", False),  # a boolean is not a number
        ("true == 1", False),
        ("false != 0", True),
        ("skills.billing in [true, 4]", True),
        ("1 in [true]", False),
        ("['a'] in skills", False),  # unhashable left side: false, not a crash
        ("'en' in level", False),  # container of the wrong kind
        ("skills > 3", False),
    ],
)
def test_evaluation_is_total(source: str, expected: bool) -> None:
    """A worker without a skill simply does not match: no expression raises at evaluation."""
    assert compile_expr(source).matches(AGENT) is expected


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("", 1, "empty expression"),
        ("skills.billing >=", 18, "expected a value, found the end of the expression"),
        ("(skills.billing >= 3", 21, "expected ')', found the end"),
        ("a == 1 == 2", 8, "chained comparisons are not allowed: use 'and'"),
        ("a & b", 3, "unexpected character '&'"),
        ("open('x')", 5, "unexpected '(' after a complete expression"),
        ("team in [team]", 9, "list items must be literals (numbers, strings, true/false)"),
        ("not", 4, "expected a value, found the end of the expression"),
        ("'unterminated", 1, "unexpected character \"'\""),
        ("a == 1 b", 8, "unexpected 'b' after a complete expression"),
        ("__import__('os').system('x')", 17, "unexpected character '.'"),  # whole text tokenized first
        ("a; b", 2, "unexpected character ';'"),
    ],
)
def test_errors_name_the_column(source: str, column: int, message: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    assert (info.value.column, info.value.message) == (column, message)
    assert f"column {column}: {message}" in str(info.value)
    assert str(info.value).endswith(" " * (column - 1) + "^")


def test_limits_on_length_and_depth() -> None:
    with pytest.raises(ExprError, match="longer than 2000"):
        compile_expr("a == 1 or " * 300 + "true")
    with pytest.raises(ExprError, match="nested deeper than 50"):
        compile_expr("(" * 60 + "true" + ")" * 60)
    with pytest.raises(ExprError, match="nested deeper than 50"):
        compile_expr("not " * 60 + "true")
    assert compile_expr("(" * 40 + "true" + ")" * 40).matches({}) is True
    with pytest.raises(ExprError, match="must be text"):
        compile_expr(3)  # type: ignore[arg-type]


def test_tree_shape_and_names() -> None:
    expr = compile_expr("skills.billing >= 3 and not 'zh' in languages")
    assert expr.tree == BoolOp(
        "and",
        (
            Compare(">=", Name(("skills", "billing")), Literal(3), 16),
            Not(Compare("in", Literal("zh"), Name(("languages",)), 34)),
        ),
    )
    assert expr.names() == frozenset({("skills", "billing"), ("languages",)})


def test_strings_escape_and_keywords() -> None:
    assert compile_expr(r"name == 'it\'s'").matches({"name": "it's"})
    assert compile_expr('name == "say \\"hi\\""').matches({"name": 'say "hi"'})
    # keywords are whole tokens only: a name that starts with one is a name
    assert compile_expr("notes == 'x' and index == 1 and order == 2").matches({"notes": "x", "index": 1, "order": 2})
    kinds = [(t.kind, t.text) for t in tokenize("a.b not in [1, 'x']")]
    assert kinds == [("name", "a.b"), ("keyword", "not"), ("keyword", "in"), ("op", "["), ("number", "1"),
                     ("op", ","), ("string", "'x'"), ("op", "]"), ("end", "")]


def test_dunder_paths_read_only_mappings() -> None:
    """Names are paths into the attribute mapping, never Python attributes."""
    assert compile_expr("skills.__class__ == null").matches(AGENT)
    assert compile_expr("team.__len__ == null").matches(AGENT)
