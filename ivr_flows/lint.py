"""`fscc flow lint`: everything wrong with a flow file, each as FILE:LINE:COL: message.

The loader already reports template, YAML and schema problems (missing targets among them)
on the template line. On top of a flow that loads, lint checks the shape of the graph, which
the schema cannot see node by node and which the interpreter would only meet on a live call:

- unreachable nodes (nothing leads to them from `start`);
- menus without a timeout path (`on_timeout`): the caller who keys nothing is hung up on;
- loops without an exit: a cycle no node of which can leave it or end the call, so the caller
  goes round forever (the interpreter stops instant loops after 200 nodes; a loop through a
  menu or a play has no such guard).

Pure apart from reading the template.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ivr_flows.errors import Problem
from ivr_flows.loader import Locator, loader_for
from ivr_flows.schema import (
    CallbackNode,
    CollectNode,
    Flow,
    HangupNode,
    MenuNode,
    Node,
    QueueNode,
    RecordNode,
    SetNode,
    SurveyNode,
    TransferNode,
)


def lint_file(path: str | Path, settings: Any = None, tenant: str = "default") -> list[Problem]:
    """Every problem of one flow file, sorted by place; file names shown as given."""
    if not Path(path).is_file():
        return [Problem(str(path), 1, 1, "no such file")]
    if Path(path).name.endswith(".test.yaml"):
        return _lint_test_file(path)
    loader = loader_for(path, settings, tenant)
    flow, problems, locator = loader.check_located(path)
    if flow is not None:
        problems = problems + graph_problems(flow, locator)
        prompt_set = loader.context.get("prompts")
        if isinstance(prompt_set, dict):
            problems += prompt_problems(flow, prompt_set, locator)
    return [_shown(p, path) for p in sorted(problems, key=lambda p: (p.file, p.line, p.column, p.message))]


def _lint_test_file(path: str | Path) -> list[Problem]:
    """A flow test file (flowtest_format.md): its own shape, and that its flow file exists."""
    from ivr_flows.errors import FlowSyntaxError
    from ivr_flows.testfile import load_case

    try:
        case = load_case(path)
    except FlowSyntaxError as exc:
        return [_shown(p, path) for p in exc.problems]
    if not case.flow_file.is_file():
        return [Problem(str(path), 1, 1, f"flow file {case.flow_file} does not exist")]
    return []


def _shown(problem: Problem, given: str | Path) -> Problem:
    """Absolute paths as the author typed them (or relative to the current directory)."""
    file = problem.file
    if Path(file) == Path(given).resolve():
        file = str(given)
    else:
        try:
            file = os.path.relpath(file) if Path(file).is_absolute() and Path(file).is_relative_to(Path.cwd()) else file
        except ValueError:
            pass
    return Problem(file, problem.line, problem.column, problem.message, problem.severity)


def graph_problems(flow: Flow, locator: Locator) -> list[Problem]:
    problems: list[Problem] = []
    reachable = _reachable(flow)
    for node_id in flow.nodes:
        if node_id not in reachable:
            problems.append(locator.problem(("nodes", node_id), f"node {node_id!r} is unreachable from start {flow.start!r}"))
    for node in flow.nodes.values():
        if isinstance(node, MenuNode) and node.on_timeout is None:
            problems.append(locator.problem(
                ("nodes", node.id), f"menu {node.id!r} has no timeout path (on_timeout): a caller who keys nothing is hung up"))
    for loop in _loops_without_exit(flow):
        problems.append(locator.problem(
            ("nodes", loop[0]), f"loop without an exit through {', '.join(loop)}: none of them leads out or ends the call"))
    return problems


def flow_languages(flow: Flow) -> list[str]:
    """The languages a call can be in: the flow's own and every `set` of `language`."""
    found = [flow.language]
    for node in flow.nodes.values():
        value = node.vars.get("language") if isinstance(node, SetNode) else None
        if isinstance(value, str) and value not in found:
            found.append(value)
    return found


def prompt_problems(flow: Flow, prompt_set: dict[str, dict[str, str]], locator: Locator) -> list[Problem]:
    """Warnings: a prompt with no text in a language the flow can speak has no file to play."""
    languages = flow_languages(flow)
    out = []
    for node in flow.nodes.values():
        for name in dict.fromkeys(node.prompts()):
            missing = [lang for lang in languages if name in prompt_set and lang not in prompt_set[name]]
            if missing:
                out.append(locator.problem(("nodes", node.id), f"prompt {name!r} has no {'/'.join(missing)} text "
                                           "(fscc prompts build makes no file for it)", severity="warning"))
    return out


def _reachable(flow: Flow) -> set[str]:
    seen = {flow.start}
    todo = [flow.start]
    while todo:
        for _, target in flow.nodes[todo.pop()].targets():
            if target not in seen and target in flow.nodes:
                seen.add(target)
                todo.append(target)
    return seen


def can_end(node: Node) -> bool:
    """Whether a node can end the call by itself (not counting the caller hanging up)."""
    if isinstance(node, (HangupNode, TransferNode)):
        return True
    if isinstance(node, MenuNode):
        return node.on_timeout is None  # the last timeout ends the call (failed)
    if isinstance(node, CollectNode):
        return node.on_failure is None
    if isinstance(node, QueueNode):
        return node.answered is None or node.on_failed is None or node.on_max_wait is None
    if isinstance(node, (RecordNode, CallbackNode, SurveyNode)):
        return node.next is None
    return False


def _loops_without_exit(flow: Flow) -> list[list[str]]:
    """Strongly connected components with a cycle, no edge out and no node that can end."""
    graph = {nid: [t for _, t in node.targets() if t in flow.nodes] for nid, node in flow.nodes.items()}
    order = list(flow.nodes)
    found = []
    for component in _components(graph, order):
        members = set(component)
        cyclic = len(component) > 1 or component[0] in graph[component[0]]
        if not cyclic:
            continue
        leaves = any(t not in members for n in component for t in graph[n])
        if leaves or any(can_end(flow.nodes[n]) for n in component):
            continue
        found.append(_cycle_order(component, graph, flow))
    return found


def _components(graph: dict[str, list[str]], order: Iterable[str]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (flows can be long)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            if i < len(edges):
                work.append((node, i + 1))
                nxt = edges[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def _cycle_order(component: list[str], graph: dict[str, list[str]], flow: Flow) -> list[str]:
    """The component's nodes in the order a caller would walk them, from its first node in the file."""
    members = set(component)
    first = next(n for n in flow.nodes if n in members)
    walk = [first]
    while True:
        nxt = next((t for t in graph[walk[-1]] if t in members and t not in walk), None)
        if nxt is None:
            break
        walk.append(nxt)
    walk += [n for n in flow.nodes if n in members and n not in walk]
    return walk
