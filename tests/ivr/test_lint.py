"""`fscc flow lint` on broken templates: exact messages, placed on the TEMPLATE's lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr_flows.cli import flow
from ivr_flows.lint import lint_file

TEMPLATES = Path(__file__).resolve().parents[2] / "ivr_flows" / "templates"

KNOWN_TYPES = "play, menu, collect, set, branch, hours, lookup, queue, transfer, voicemail, record, callback, webhook, survey, hangup"

CASES = {
    "syntax": (
        "flow: broken\nstart: a\nnodes:\n{% for x in [1, 2] %}\n  a{{ x }}:\n    type: hangup\n{% endfor\n",
        ["syntax.yaml.j2:7:1: template syntax: unexpected end of template, expected 'end of statement block'."],
    ),
    "undefined": (
        "flow: u\nstart: a\nnodes:\n  a:\n    type: hours\n    timezone: {{ calendar.timezone }}\n"
        "    weekly: {{ calender.weekly | tojson }}\n    open: b\n    closed: b\n  b:\n    type: hangup\n",
        ["undefined.yaml.j2:7:16: template undefined: 'calender' is undefined"],
    ),
    "sandbox": (
        "flow: x\nstart: a\nnodes:\n  a:\n    type: hangup\n    cause: {{ tenant.__class__.__mro__ }}\n",
        ["sandbox.yaml.j2:6:22: template not allowed in the sandbox: access to attribute '__class__' of 'dict' object is unsafe."],
    ),
    "yaml": (
        "flow: y\nstart: a\nnodes:\n  a:\n    type: play\n    play: [welcome\n    next: b\n",
        ["yaml.yaml.j2:7:9: YAML: expected ',' or ']', but got ':'"],
    ),
    "schema": (
        "{# a comment\n   over two lines #}\nflow: s\nstart: menu\nnodes:\n  menu:\n    type: menu\n"
        "    prompt: main_menu\n    options: {\"1\": one, \"12\": two}\n    tries: 0\n    on_timeout: menu\n"
        "  {% for n in [\"one\", \"two\"] %}\n  {{ n }}:\n    type: plya\n  {% endfor %}\n"
        "  three:\n    type: collect\n    prompt: enter_pin\n    into: pin\n    max_digits: 4\n    min_digits: 6\n"
        "    next: nowhere\n    colour: red\n",
        ["schema.yaml.j2:9:5: node 'menu': option '12' is not one DTMF key (0-9, *, #)",
         "schema.yaml.j2:10:5: node 'menu': tries must be at least 1, got 0",
         f"schema.yaml.j2:14:5: node 'one': unknown type 'plya' (one of {KNOWN_TYPES})",
         f"schema.yaml.j2:14:5: node 'two': unknown type 'plya' (one of {KNOWN_TYPES})",
         "schema.yaml.j2:20:5: node 'three': need 1 <= min_digits <= max_digits <= 128, got 6..4",
         "schema.yaml.j2:22:5: node 'three': next -> 'nowhere': no such node",
         "schema.yaml.j2:23:5: node 'three': unknown key 'colour' for a collect node (known: into, invalid_prompt, "
         "max_digits, min_digits, next, on_failure, prompt, regex, sensitive, terminator, timeout_s, tries)"],
    ),
    "macro": (
        "{% macro queue_node(id, q, next) %}\n  {{ id }}:\n    type: queue\n    queue: {{ q }}\n    max_wait_s: -5\n"
        "    answered: {{ next }}\n{% endmacro %}\nflow: m\nstart: q1\nnodes:\n{{ queue_node('q1', 'billing', 'bye') }}\n"
        "{{ queue_node('q2', 'vip', 'bye') }}\n  bye:\n    type: hangup\n",
        ["macro.yaml.j2:5:5: node 'q1': max_wait_s must be positive, got -5.0",
         "macro.yaml.j2:5:5: node 'q2': max_wait_s must be positive, got -5.0"],
    ),
    "targets_in_a_loop": (
        "flow: q\nstart: a\nnodes:\n  a:\n    type: hangup\n{% for q in ['x', 'y'] %}\n  q_{{ q }}:\n"
        "    type: queue\n    queue: {{ q }}\n    answered: done_{{ q }}\n{% endfor %}\n",
        ["targets_in_a_loop.yaml.j2:10:5: node 'q_x': answered -> 'done_x': no such node",
         "targets_in_a_loop.yaml.j2:10:5: node 'q_y': answered -> 'done_y': no such node"],
    ),
    "expression": (
        "flow: e\nstart: b\nnodes:\n  b:\n    type: branch\n    cases:\n      - if: \"tier == = 1\"\n"
        "        next: c\n      - if: os.system\n        next: c\n    else: c\n  c:\n    type: hangup\n",
        ["expression.yaml.j2:7:22: node 'b': if: unexpected character '=' at column 9 of 'tier == = 1'",
         "expression.yaml.j2:9:13: node 'b': if: unknown name 'os' in 'os.system' (known: authenticated, call, "
         "channel, customer, language, now, secret, tier, tiers, vars)"],
    ),
    "prompt": (
        "flow: p\nstart: a\nnodes:\n  a:\n    type: play\n    play: [welcom]\n    next: b\n  b:\n    type: hangup\n",
        ["prompt.yaml.j2:4:3: node 'a': unknown prompt 'welcom'"],
    ),
    "graph": (
        "flow: g\nstart: menu\nnodes:\n  menu:\n    type: menu\n    prompt: main_menu\n"
        "    options: {\"1\": info, \"2\": again}\n    on_invalid: info\n  info:\n    type: play\n    play: [goodbye]\n"
        "    next: again\n  again:\n    type: set\n    vars: {x: 1}\n    next: menu\n  orphan:\n    type: hangup\n",
        ["graph.yaml.j2:4:3: menu 'menu' has no timeout path (on_timeout): a caller who keys nothing is hung up",
         "graph.yaml.j2:17:3: node 'orphan' is unreachable from start 'menu'"],
    ),
    "loop": (
        "flow: l\nstart: menu\nnodes:\n  menu:\n    type: menu\n    prompt: main_menu\n"
        "    options: {\"1\": info}\n    on_timeout: menu\n    on_invalid: info\n  info:\n    type: play\n"
        "    play: [goodbye]\n    next: menu\n",
        ["loop.yaml.j2:4:3: loop without an exit through menu, info: none of them leads out or ends the call"],
    ),
}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FSCC_CONFIG", raising=False)
    return tmp_path


@pytest.mark.parametrize("name", list(CASES))
def test_lint_messages(in_tmp, name):
    text, expected = CASES[name]
    (in_tmp / f"{name}.yaml.j2").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(flow, ["lint", f"{name}.yaml.j2"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == expected


def test_a_problem_in_an_included_file_names_that_file(in_tmp):
    (in_tmp / "main.yaml.j2").write_text(
        "flow: inc\nstart: a\nnodes:\n  a:\n    type: play\n    play: [goodbye]\n    next: b\n"
        "{% include 'part.yaml.j2' %}\n", encoding="utf-8")
    (in_tmp / "part.yaml.j2").write_text("  b:\n    type: hangup\n    cause: bye now\n", encoding="utf-8")
    problems = [str(p) for p in lint_file("main.yaml.j2")]
    assert problems == ["part.yaml.j2:3:5: node 'b': cause 'bye now' is not a hangup cause such as NORMAL_CLEARING"]


def test_several_files_clean_and_broken_exit_1_and_report_each(in_tmp):
    text, expected = CASES["prompt"]
    (in_tmp / "prompt.yaml.j2").write_text(text, encoding="utf-8")
    example = TEMPLATES / "hotline_10086.yaml.j2"
    result = CliRunner().invoke(flow, ["lint", str(example), "prompt.yaml.j2"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == expected
    assert f"{example}: ok" in result.stderr and "1 problem(s) in 2 file(s)" in result.stderr


def test_the_worked_example_is_clean():
    result = CliRunner().invoke(flow, ["lint", str(TEMPLATES / "hotline_10086.yaml.j2")])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_a_missing_file_is_an_error_with_its_name(in_tmp):
    result = CliRunner().invoke(flow, ["lint", "nope.yaml.j2"])
    assert result.exit_code == 1
    assert result.stdout == "nope.yaml.j2:1:1: no such file\n"


def test_a_prompt_without_text_in_a_language_the_flow_speaks_is_a_warning(in_tmp):
    (in_tmp / "prompts.yaml").write_text("hello: {zh: 你好, en: Hello}\nbye: {zh: 再见}\n", encoding="utf-8")
    (in_tmp / "fscc.yaml").write_text(f"ivr:\n  prompts_file: {in_tmp / 'prompts.yaml'}\n", encoding="utf-8")
    (in_tmp / "w.yaml.j2").write_text(
        "flow: w\nlanguage: zh\nstart: en\nnodes:\n  en:\n    type: set\n    vars: {language: en}\n    next: hi\n"
        "  hi:\n    type: play\n    play: [hello, bye]\n    next: end\n  end:\n    type: hangup\n", encoding="utf-8")
    result = CliRunner().invoke(flow, ["lint", "w.yaml.j2"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "w.yaml.j2:9:3: warning: prompt 'bye' has no en text (fscc prompts build makes no file for it)\n"


def test_test_files_are_checked_as_test_files(in_tmp):
    (in_tmp / "a.test.yaml").write_text('flow: gone.yaml.j2\ncaller: "1"\nat: "2026-11-23 10:00"\n'
                                        "expect: {path: [x], outcome: answered}\n", encoding="utf-8")
    (in_tmp / "b.test.yaml").write_text('flow: gone.yaml.j2\ncaller: "1"\nat: "2026-11-23 10:00"\ncolor: red\n'
                                        "expect: {path: [x], outcome: answered}\n", encoding="utf-8")
    result = CliRunner().invoke(flow, ["lint", "a.test.yaml", "b.test.yaml"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "a.test.yaml:1:1: flow file gone.yaml.j2 does not exist",
        "b.test.yaml:4:1: unknown key 'color' (known: at, caller, caller_name, channel, customers, destination, dtmf, "
        "expect, flow, hangup_at, name, queue, timezone, vars, webhooks)"]
    clean = CliRunner().invoke(flow, ["lint", *map(str, sorted(TEMPLATES.glob("hotline_10086.*")))])
    assert clean.exit_code == 0, clean.output
