"""`fscc flow ...`: the dialplan author's tools (lint, graph, test).

`lint` and `graph` are pure (template in, text or a picture out). `test` plays a flow against
the switch simulator through the runtime's `ivr_flows.flowtest`, imported only when it runs so
that `fscc flow lint` never imports gevent or the ESL layer.
"""

from __future__ import annotations

from pathlib import Path

import click

CONFIG = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="fscc.yaml to read (tenant calendars, prompt set). Default: the usual lookup.")
TENANT = click.option("--tenant", default="default", show_default=True, help="Tenant whose context the template sees.")


def _settings(config_path: Path | None):
    from fs_scripts.settings import load_settings

    return load_settings(config_path)


@click.group("flow")
def flow() -> None:
    """IVR flows: check, draw and play flow templates."""


@flow.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@CONFIG
@TENANT
def lint_command(files: tuple[Path, ...], config_path: Path | None, tenant: str) -> None:
    """Check flow templates: template, YAML and schema errors, unreachable nodes, missing
    targets, menus without a timeout path, loops without an exit.

    Prints FILE:LINE:COL: message (the line in the template); exits 1 when anything is wrong.
    """
    from ivr_flows.lint import lint_file

    settings = _settings(config_path)
    errors = 0
    for path in files:
        problems = lint_file(path, settings, tenant)
        for problem in problems:
            click.echo(str(problem) if problem.severity == "error" else
                       f"{problem.file}:{problem.line}:{problem.column}: {problem.severity}: {problem.message}")
        errors += sum(p.severity == "error" for p in problems)
        if not problems:
            click.echo(f"{path}: ok", err=True)
    if errors:
        click.echo(f"{errors} problem(s) in {len(files)} file(s)", err=True)
        raise SystemExit(1)


@flow.command("graph")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="flow.svg, flow.png or flow.dot")
@click.option("--engine", type=click.Choice(["auto", "graphviz", "matplotlib"]), default="auto", show_default=True,
              help="auto: Graphviz's dot when installed, else matplotlib.")
@CONFIG
@TENANT
def graph_command(file: Path, output: Path, engine: str, config_path: Path | None, tenant: str) -> None:
    """Draw a flow (.dot natively; .svg/.png with Graphviz, else matplotlib)."""
    from ivr_flows.graph import GraphError, write_graph
    from ivr_flows.loader import load_flow

    flow_obj = load_flow(file, _settings(config_path), tenant)
    try:
        used = write_graph(flow_obj, output, engine)
    except GraphError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{output} ({len(flow_obj.nodes)} nodes, {used})")


def _vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected k=v", param_hint="--var")
        out[key] = value
    return out


@flow.command("test")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dtmf", default=None, help='Digits per prompt, comma separated: "1,2,0#" (an empty group times out).')
@click.option("--caller", default=None, help="Caller number (default 13800138000; a *.test.yaml has its own).")
@click.option("--var", "var_pairs", multiple=True, help="Flow variable k=v (repeatable).")
@click.option("--at", default=None, help='Local time of the call, "2026-11-23 21:00" (default: now).')
@CONFIG
@TENANT
def test_command(file: Path, dtmf: str | None, caller: str | None, var_pairs: tuple[str, ...], at: str | None,
                 config_path: Path | None, tenant: str) -> None:
    """Play a flow template or a *.test.yaml against the simulated switch over real ESL with
    scripted digits; print the trace (node, action, result). A template passes when its flow
    ends normally; a *.test.yaml when every expectation it states holds (a test of a caller
    hanging up in the menu passes when the caller's hang-up is what it expected)."""
    from ivr_flows import flowtest  # the runtime's engine: gevent and ESL only when asked for

    result = flowtest.run_flow_test(file, dtmf=dtmf, caller=caller, vars=_vars(var_pairs), at=at,
                                    settings=_settings(config_path), tenant=tenant)
    for entry in result.trace:
        click.echo(str(entry))
    click.echo(f"outcome: {result.outcome} ({result.reason}) at {result.node}; path: {'>'.join(result.path)}")
    for problem in result.problems:
        click.echo(f"FAIL: {problem}")
    failed = bool(result.problems) if file.name.endswith(".test.yaml") else not result.ended_normally
    if failed:
        raise SystemExit(1)
