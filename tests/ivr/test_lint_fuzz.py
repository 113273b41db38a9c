"""Whatever an author does to a template, lint answers with FILE:LINE:COL problems inside the
file (or a clean bill), never a traceback (hypothesis mutates the worked example)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr_flows.lint import lint_file

EXAMPLE = (Path(__file__).resolve().parents[2] / "ivr_flows" / "templates" / "hotline_10086.yaml.j2").read_text(
    encoding="utf-8")
LINES = EXAMPLE.split("\n")
JUNK = st.sampled_from(["{{", "}}", "{%", "%}", "{% if %}", "{{ nope }}", ":", "- ", "  ", "\t", "'", '"', "[", "]",
                        "{", "}", "&a", "*a", "!!python/object:os.system", "type: menu", "next: nowhere", "#",
                        "{{ tenant.__class__ }}", "{% include 'x' %}", "\x00", "é", "if: 1 +", "- if: x.y"])


@st.composite
def mutated(draw):
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "insert", "edit"]))
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "insert":
            lines.insert(i, draw(JUNK))
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(JUNK) + lines[i][at:]
    return "\n".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_mutated_example_gets_placed_problems_never_a_crash(tmp_path, text):
    path = tmp_path / "flow.yaml.j2"
    path.write_text(text, encoding="utf-8")
    problems = lint_file(path)
    line_count = text.count("\n") + 1
    for p in problems:
        assert p.file == str(path), p
        assert 1 <= p.line <= line_count, p
        assert p.column >= 1 and p.message, p


def test_a_control_character_is_placed(tmp_path):
    path = tmp_path / "nul.yaml.j2"
    path.write_text("flow: x\nstart: a\nnodes:\n  a:\x00\n    type: hangup\n", encoding="utf-8")
    assert [str(p) for p in lint_file(path)] == [f"{path}:4:5: YAML: character U+0000 is not allowed"]
