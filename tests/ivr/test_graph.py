"""`fscc flow graph`: .dot text, and .svg/.png that parse and show every node (matplotlib
fallback always tested, so it holds on CI without Graphviz)."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr_flows.cli import flow as flow_cli
from ivr_flows.graph import GraphError, edges, layers, to_dot, write_graph
from ivr_flows.loader import load_flow

EXAMPLE = Path(__file__).resolve().parents[2] / "ivr_flows" / "templates" / "hotline_10086.yaml.j2"


@pytest.fixture(scope="module")
def example():
    return load_flow(EXAMPLE)


def parse_dot(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Just enough of the DOT grammar for what to_dot writes: node and edge statements."""
    assert text.startswith('digraph "') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}") == 1
    q = r'"((?:[^"\\]|\\.)*)"'
    nodes, arcs = set(), set()
    for line in text.splitlines()[1:-1]:
        line = line.strip()
        if m := re.fullmatch(rf"{q} -> {q}(?: \[label={q}\])?;", line):
            arcs.add((m.group(1), m.group(2)))
        elif m := re.fullmatch(rf"{q} \[label={q}, shape=\w+, fillcolor={q}\];", line):
            nodes.add(m.group(1))
        elif not re.fullmatch(r"(rankdir=TB|node \[.*\]|edge \[.*\]|\"__start__\" \[.*\]);", line):
            raise AssertionError(f"not DOT: {line!r}")
    return nodes, arcs


def test_dot_has_every_node_and_edge(example, tmp_path):
    out = tmp_path / "flow.dot"
    assert write_graph(example, out) == "dot-text"
    nodes, arcs = parse_dot(out.read_text())
    assert nodes == set(example.nodes)
    assert ("__start__", "choose_language") in arcs
    assert {(s, d) for s, d, _ in edges(example)} <= arcs
    assert '"main_menu" -> "bill_identified" [label="options 1"];' in out.read_text()
    assert '"vip_check" -> "main_menu" [label="else"];' in out.read_text()
    assert '"choose_language" -> "mandarin" [label="options 1, on_timeout, on_invalid"];' in out.read_text()


def test_dot_quotes_what_it_must(tmp_path):
    from ivr_flows.schema import build_flow

    f, problems = build_flow({"flow": 'say "hi"', "start": "a", "nodes": {
        "a": {"type": "branch", "cases": [{"if": "vars.x == \"q\"", "next": "b"}], "else": "b"}, "b": {"type": "hangup"}}})
    assert problems == []
    text = to_dot(f)
    assert text.startswith('digraph "say \\"hi\\"" {')
    assert '"a" -> "b" [label="if vars.x == \\"q\\", else"];' in text
    parse_dot(text)


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return [t.strip() for el in root.iter() for t in (el.text, *(c.text for c in el)) if t and t.strip()]


def test_matplotlib_svg_parses_and_names_every_node(example, tmp_path):
    out = tmp_path / "flow.svg"
    assert write_graph(example, out, engine="matplotlib") == "matplotlib"
    texts = set(svg_texts(out))
    assert set(example.nodes) <= texts
    assert "flow hotline_10086" in texts


def test_matplotlib_png_is_a_png_of_a_sensible_size(example, tmp_path):
    import matplotlib.image

    out = tmp_path / "flow.png"
    assert write_graph(example, out, engine="matplotlib") == "matplotlib"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(out)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300


def test_auto_uses_graphviz_when_installed_else_matplotlib(example, tmp_path):
    out = tmp_path / "flow.svg"
    used = write_graph(example, out)
    assert used == ("graphviz" if shutil.which("dot") else "matplotlib")
    texts = " ".join(svg_texts(out))
    assert all(nid in texts for nid in example.nodes)


def test_layers_put_start_first_and_unreachable_last():
    from ivr_flows.schema import build_flow

    f, _ = build_flow({"flow": "x", "start": "a", "nodes": {
        "a": {"type": "play", "play": ["p"], "next": "b"}, "b": {"type": "hangup"}, "c": {"type": "hangup"}}})
    assert layers(f) == {"a": 0, "b": 1, "c": 2}


def test_cli_graph_and_unknown_format(tmp_path):
    runner = CliRunner()
    result = runner.invoke(flow_cli, ["graph", str(EXAMPLE), "-o", str(tmp_path / "f.png"), "--engine", "matplotlib"])
    assert result.exit_code == 0, result.output
    assert result.output == f"{tmp_path / 'f.png'} (34 nodes, matplotlib)\n"
    result = runner.invoke(flow_cli, ["graph", str(EXAMPLE), "-o", str(tmp_path / "f.jpg")])
    assert result.exit_code == 1
    assert "unknown format 'jpg' (use .dot, .svg or .png)" in result.output
    with pytest.raises(GraphError):
        write_graph(load_flow(EXAMPLE), tmp_path / "f.gif")
