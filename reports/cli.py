"""`fscc report` (KPIs from the CRM store) and `fscc staffing` (Erlang C).

Heavy imports (peewee models, matplotlib) happen inside the commands, so `fscc staffing` and
`fscc --help` stay quick.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from reports import erlang
from reports.units import parse_duration_s, parse_service_level

logger = logging.getLogger(__name__)

#: the agent activity log `fscc serve` keeps under data_dir (fs_scripts/service.py)
AGENT_ACTIVITY_LOG = "agent-activity.jsonl"


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


def parse_time_point(text: str, tz: ZoneInfo, option: str) -> float:
    """Epoch seconds from `1763798400`, `2026-11-22`, `2026-11-22T08:00` (local to `tz`) or with an offset."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a time: use 2026-11-22T08:00, 2026-11-22 or epoch seconds",
                                 param_hint=option) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def _report_zone(explicit: str | None, rules_zone: str, settings: Any, tenant: str | None) -> ZoneInfo:
    name = explicit or rules_zone
    if not name:
        tenants = settings.tenants
        chosen = tenants.get(tenant or "default") or (next(iter(tenants.values())) if len(tenants) == 1 else None)
        name = chosen.timezone if chosen else "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown timezone {name!r}", param_hint="--tz") from None


@click.command("report")
@click.option("--from", "from_text", help="Start (inclusive): 2026-11-22T08:00, 2026-11-22, or epoch seconds. Default: the first contact.")
@click.option("--to", "to_text", help="End (exclusive), same forms. Default: after the last contact.")
@click.option("--interval", "interval_s", default=None, callback=_duration, help="15m, 30m or 60m. Default: reports.interval_min.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--by", "by_text", default="all,queue,tier,agent", show_default=True, help="Cuts, comma-separated: all, queue, tier, agent.")
@click.option("--tenant", default=None, help="Only this tenant's contacts.")
@click.option("--tz", "tz_name", default=None, help="Timezone of interval boundaries and naive --from/--to. Default: reports.timezone, else the tenant's.")
@click.option("--agent-log", "agent_log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON-lines agent activity changes, for occupancy, ACW and the agent-state chart. "
                   "Default: data_dir/agent-activity.jsonl (what `fscc serve` writes) when it exists.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the PNG charts and report.html into this folder.")
@click.option("--db", "db_url", default=None, help="CRM database URL (sqlite:///path, postgresql://...). Default: the configured one.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="fscc.yaml to read.")
def report(from_text: str | None, to_text: str | None, interval_s: float | None, fmt: str, by_text: str,
           tenant: str | None, tz_name: str | None, agent_log: Path | None, plot_dir: Path | None,
           db_url: str | None, config_path: Path | None) -> None:
    """Service level (four named variants), ASA, AHT, ACW, abandonment, occupancy and counts,
    per queue, tier, agent and interval, from the CRM store.

    A contact counts in the interval in which it was offered. The definitions in force are
    printed with every report (see `reports:` in fscc.yaml).
    """
    from fs_scripts.embedded import db_url as configured_db_url
    from fs_scripts.settings import load_settings
    from reports.formats import as_csv, as_json, as_table
    from reports.kpi import DIMENSIONS, check_interval_s
    from reports.render import load_report, write_report_files

    settings = load_settings(config_path)
    rules = settings.reports
    tz = _report_zone(tz_name, rules.timezone, settings, tenant)
    seconds = int(interval_s) if interval_s is not None else rules.interval_min * 60
    try:
        check_interval_s(seconds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--interval") from None
    dimensions = tuple(d.strip() for d in by_text.split(",") if d.strip())
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown or not dimensions:
        raise click.BadParameter(f"unknown cut(s) {', '.join(unknown) or '(none)'}: use some of {', '.join(DIMENSIONS)}", param_hint="--by")
    start = parse_time_point(from_text, tz, "--from") if from_text else None
    end = parse_time_point(to_text, tz, "--to") if to_text else None
    if start is not None and end is not None and end <= start:
        raise click.BadParameter("--to must be after --from", param_hint="--to")

    if agent_log is None and (Path(settings.data_dir) / AGENT_ACTIVITY_LOG).is_file():
        agent_log = Path(settings.data_dir) / AGENT_ACTIVITY_LOG
    data = load_report(db_url or configured_db_url(settings), start=start, end=end, interval_s=seconds, tz=tz,
                       tenant=tenant, rules=rules, agent_log=agent_log, dimensions=dimensions)
    rows = data.rows
    logger.info("report: %d contacts, %d agent state spans, %d rows", len(data.contacts), len(data.spans), len(rows))
    if fmt == "csv":
        click.echo(as_csv(rows, tz), nl=False)
    elif fmt == "json":
        click.echo(as_json(rows, rules, seconds, tz))
    else:
        click.echo(as_table(rows, rules, seconds, tz), nl=False)
    if plot_dir is not None:
        tenants = sorted({c.tenant for c in data.contacts})
        if tenant is None and len(tenants) > 1:
            raise click.BadParameter(f"the period holds several tenants ({', '.join(tenants)}): choose one for the charts",
                                     param_hint="--tenant")
        try:
            paths = write_report_files(data, plot_dir)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"wrote {paths.html} and {len(paths.plots)} charts", err=True)
