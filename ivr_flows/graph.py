"""`fscc flow graph`: a flow as a diagram.

`.dot` is written natively (Graphviz text). `.svg` / `.png` go through Graphviz's `dot` when
it is installed, because its layout is the best; when it is not (CI, a laptop without the
Debian package), the same graph is laid out in ranks here and drawn with matplotlib, which
is already a dependency, so the command works everywhere. SVG text stays text (searchable).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections import deque
from pathlib import Path

from ivr_flows.schema import Flow, Node, yaml_key

logger = logging.getLogger(__name__)

FORMATS = ("dot", "svg", "png")
_SHAPES = {
    "menu": "diamond", "collect": "parallelogram", "branch": "diamond", "hours": "diamond",
    "queue": "box3d", "hangup": "doublecircle", "transfer": "cds", "play": "note",
    "voicemail": "tab", "record": "tab", "callback": "tab", "webhook": "component",
    "survey": "folder", "lookup": "cylinder", "set": "box",
}
_COLOURS = {
    "menu": "#fde9b0", "branch": "#fde9b0", "hours": "#fde9b0", "queue": "#c7e3ff", "hangup": "#f4c2c2",
    "transfer": "#f4c2c2", "collect": "#d8f0d2", "lookup": "#e6dcf5", "webhook": "#e6dcf5",
}


class GraphError(ValueError):
    pass


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def edges(flow: Flow) -> list[tuple[str, str, str]]:
    """(from, to, label) for every pair of nodes one leads to the other, the ways joined
    (`options 1, on_timeout`), with the labels in YAML spelling (`else`, not `else_`)."""
    joined: dict[tuple[str, str], list[str]] = {}
    for nid, node in flow.nodes.items():
        for label, target in node.targets():
            head, sep, rest = label.partition(" ")
            joined.setdefault((nid, target), []).append(yaml_key(head) + sep + rest)
    return [(src, dst, ", ".join(labels)) for (src, dst), labels in joined.items()]


def _label(node: Node) -> str:
    return f"{node.id}\n({node.type})"


def to_dot(flow: Flow) -> str:
    lines = [f"digraph {_quote(flow.name)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10, style=filled, fillcolor="#ffffff"];',
             '  edge [fontname="Helvetica", fontsize=9];',
             '  "__start__" [label="start", shape=circle, fillcolor="#333333", fontcolor="#ffffff"];',
             f"  \"__start__\" -> {_quote(flow.start)};"]
    for node in flow.nodes.values():
        lines.append(f"  {_quote(node.id)} [label={_quote(_label(node))}, shape={_SHAPES.get(node.type, 'box')}, "
                     f"fillcolor={_quote(_COLOURS.get(node.type, '#ffffff'))}];")
    for src, dst, label in edges(flow):
        lines.append(f"  {_quote(src)} -> {_quote(dst)} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(flow: Flow, out: str | Path, engine: str = "auto") -> str:
    """Write the diagram; the format comes from the suffix. Returns the engine used."""
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise GraphError(f"{out}: unknown format {fmt!r} (use .dot, .svg or .png)")
    if fmt == "dot":
        out.write_text(to_dot(flow), encoding="utf-8")
        return "dot-text"
    if engine in ("auto", "graphviz") and shutil.which("dot"):
        proc = subprocess.run(["dot", f"-T{fmt}", "-o", str(out)], input=to_dot(flow).encode(),
                              capture_output=True, timeout=60, check=False)
        if proc.returncode == 0:
            return "graphviz"
        logger.warning("dot failed (%s); drawing with matplotlib", proc.stderr.decode(errors="replace").strip())
    elif engine == "graphviz":
        raise GraphError("the Graphviz 'dot' program is not installed")
    draw_matplotlib(flow, out, fmt)
    return "matplotlib"


def layers(flow: Flow) -> dict[str, int]:
    """Rank of each node: its BFS distance from start; unreachable nodes go below the rest."""
    rank = {flow.start: 0}
    todo = deque([flow.start])
    while todo:
        nid = todo.popleft()
        for _, target in flow.nodes[nid].targets():
            if target in flow.nodes and target not in rank:
                rank[target] = rank[nid] + 1
                todo.append(target)
    bottom = max(rank.values(), default=0) + 1
    for nid in flow.nodes:
        rank.setdefault(nid, bottom)
    return rank


def draw_matplotlib(flow: Flow, out: Path, fmt: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    rank = layers(flow)
    by_rank: dict[int, list[str]] = {}
    for nid in flow.nodes:
        by_rank.setdefault(rank[nid], []).append(nid)
    width = max(len(v) for v in by_rank.values())
    depth = max(by_rank) + 1
    pos: dict[str, tuple[float, float]] = {}
    for r, ids in by_rank.items():
        offset = (width - len(ids)) / 2
        for i, nid in enumerate(ids):
            pos[nid] = ((offset + i) * 2.6, -r * 1.6)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(max(6.0, width * 2.4), max(4.0, depth * 1.3)))
        try:
            box_w, box_h = 2.1, 0.7
            for src, dst, label in edges(flow):
                if dst not in pos:
                    continue
                (x1, y1), (x2, y2) = pos[src], pos[dst]
                rad = 0.0 if y2 < y1 else 0.4  # back edges (loops) curve so they do not hide forward ones
                ax.annotate("", xy=(x2, y2 + box_h / 2 if y2 < y1 else y2), xytext=(x1, y1 - box_h / 2),
                            arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 0.8,
                                        "connectionstyle": f"arc3,rad={rad}"})
                ax.text((x1 + x2) / 2, (y1 + y2) / 2, label, fontsize=6, color="#333333", ha="center",
                        va="center", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
            for nid, (x, y) in pos.items():
                node = flow.nodes[nid]
                edge = "#000000" if nid == flow.start else "#666666"
                ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                            boxstyle="round,pad=0.02", fc=_COLOURS.get(node.type, "#ffffff"),
                                            ec=edge, lw=1.6 if nid == flow.start else 0.8))
                ax.text(x, y + 0.1, nid, ha="center", va="center", fontsize=8, fontweight="bold")
                ax.text(x, y - 0.17, node.type, ha="center", va="center", fontsize=6, color="#444444")
            xs = [p[0] for p in pos.values()]
            ys = [p[1] for p in pos.values()]
            ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
            ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
            ax.set_title(f"flow {flow.name}", fontsize=10)
            ax.axis("off")
            fig.savefig(out, format=fmt, bbox_inches="tight", dpi=110)
        finally:
            plt.close(fig)
