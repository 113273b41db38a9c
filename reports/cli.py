"""`fscc report` (KPIs from the CRM store) and `fscc staffing` (Erlang C)."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import click

from reports import erlang
from reports.units import parse_duration_s, parse_service_level

logger = logging.getLogger(__name__)


def _duration(ctx: click.Context, param: click.Parameter, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration_s(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _service_level(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        return parse_service_level(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@click.command("staffing")
@click.option("--calls", type=click.FloatRange(min=0), required=True, help="Contacts expected in one interval.")
@click.option("--interval", "interval_s", default="30m", callback=_duration, show_default=True, help="Interval length: 900, 15m, 30m, 1h.")
@click.option("--aht", "aht_s", required=True, callback=_duration, help="Average handle time (talk + hold + ACW): 240, 240s, 4m.")
@click.option("--sl", "target", default="80/20", callback=_service_level, show_default=True, help="Service-level target PERCENT/SECONDS.")
@click.option("--max-occupancy", type=click.FloatRange(min=0, max=100, min_open=True), default=100.0, show_default=True,
              help="Also require occupancy at or below this percentage.")
@click.option("--from", "agents_from", type=click.IntRange(min=1), default=None, help="First staffing level shown (default: just above the load).")
@click.option("--to", "agents_to", type=click.IntRange(min=1), default=None, help="Last staffing level shown (default: a few above the answer).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def staffing(calls: float, interval_s: float, aht_s: float, target: tuple[float, float], max_occupancy: float,
             agents_from: int | None, agents_to: int | None, fmt: str) -> None:
    """Erlang C: P(wait), ASA, service level and occupancy for a range of staffing, and the
    smallest staffing that meets the service-level target.

    The M/M/N model (Poisson arrivals, exponential handle times, no abandons): the usual
    planning baseline. Agents on the phones, before shrinkage (breaks, training, absence).
    """
    target_fraction, threshold_s = target
    traffic = erlang.traffic_erlangs(calls, interval_s, aht_s)
    best = erlang.required_agents(traffic, aht_s, threshold_s, target_fraction, max_occupancy / 100.0)
    first = agents_from or max(1, math.floor(traffic) + 1, best.agents - 5)
    last = agents_to or max(first, best.agents + 6)
    if last < first:
        raise click.BadParameter(f"--to {last} is below --from {first}", param_hint="--to")
    rows = erlang.staffing_table(traffic, aht_s, threshold_s, first, last)
    if fmt == "json":
        def as_dict(row: erlang.StaffingRow) -> dict[str, Any]:
            return {"agents": row.agents, "p_wait": row.p_wait, "asa_s": _finite(row.asa_s),
                    "service_level": row.service_level, "occupancy": row.occupancy,
                    "meets_target": row.meets(target_fraction) and row.occupancy <= max_occupancy / 100.0}

        click.echo(json.dumps({
            "calls": calls, "interval_s": interval_s, "aht_s": aht_s, "traffic_erlangs": traffic,
            "target": {"service_level": target_fraction, "threshold_s": threshold_s, "max_occupancy": max_occupancy / 100.0},
            "rows": [as_dict(r) for r in rows], "required": as_dict(best),
        }, indent=2))
        return
    click.echo(f"{calls:g} contacts per {interval_s / 60:g} min x AHT {aht_s:g} s = {traffic:.2f} Erlangs")
    click.echo(f"{'agents':>6} {'P(wait)':>8} {'ASA s':>9} {'SL %':>7} {'occ %':>6}")
    for row in rows:
        asa = f"{row.asa_s:9.2f}" if math.isfinite(row.asa_s) else f"{'inf':>9}"
        mark = "  <- smallest meeting the target" if row.agents == best.agents else ""
        click.echo(f"{row.agents:>6} {row.p_wait:8.4f} {asa} {row.service_level * 100:7.2f} {row.occupancy * 100:6.1f}{mark}")
    cap = f" at occupancy <= {max_occupancy:g}%" if max_occupancy < 100 else ""
    click.echo(f"smallest staffing meeting {target_fraction * 100:g}% answered within {threshold_s:g} s{cap}: "
               f"{best.agents} agents (P(wait) {best.p_wait:.4f}, ASA {best.asa_s:.2f} s, "
               f"SL {best.service_level * 100:.2f} %, occupancy {best.occupancy * 100:.1f} %)")
