"""One call from a CRM store to a finished report: the text KPI table, and report.html with charts.

Why this module: `fscc report` and `fscc demo` both need "read the window, lay the agent
activity over the contacts, compute the KPIs, format them"; doing it in one place means the
demo prints exactly what `fscc report` would print for the same window, with the same
definitions. The steps stay separate underneath (source -> agent_states -> kpi ->
formats / plots / html), so each is tested on its own.

Agent activity (for occupancy and the agent-state chart) is not in the CDRs: pass it as a
JSON-lines log (`agent_log`, the format `reports.source.ActivityLogWriter` writes) or as
`ActivityChange` records (`activity`). The log also measures after-call work, which the
CDRs cannot carry (`reports.agent_states.measured_acw`: a call's CDR is written at hangup,
before its wrap-up ends, so the CRM holds the wrap-up fscc gave, not the one the agent
took). Without a log, occupancy is "-", the agent-state chart says that no activity was
recorded, and ACW (so AHT) is what the CRM holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import peewee

from reports.agent_states import ActivityChange, build_spans, measured_acw
from reports.config import ReportSettings
from reports.facts import AgentStateSpan, ContactFacts
from reports.formats import as_csv, as_json, as_table
from reports.kpi import ALL, DIMENSIONS, Kpis, check_interval_s, compute_kpis
from reports.source import ReportSourceError, read_activity_log, read_contacts

logger = logging.getLogger(__name__)

__all__ = ["ReportData", "ReportPaths", "kpi_table", "load_report", "write_report", "write_report_files"]


@dataclass(frozen=True)
class ReportData:
    """Everything one report window holds: the inputs and the KPI rows computed from them."""

    contacts: tuple[ContactFacts, ...]
    spans: tuple[AgentStateSpan, ...]
    rows: tuple[Kpis, ...]
    rules: ReportSettings
    interval_s: int
    tz: ZoneInfo
    tenant: str | None


@dataclass(frozen=True)
class ReportPaths:
    """What `write_report` wrote. `plots` maps each chart's caption to its PNG, in reading order."""

    out_dir: Path
    html: Path
    csv: Path
    json: Path
    plots: dict[str, Path] = field(default_factory=dict)


def _zone(tz: ZoneInfo | str | None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportSourceError(f"unknown timezone {tz!r}: use an IANA name such as Asia/Shanghai") from None


def load_report(
    database: peewee.Database | str,
    *,
    start: float | None,
    end: float | None,
    interval_s: int = 900,
    tz: ZoneInfo | str | None = "UTC",
    tenant: str | None = None,
    rules: ReportSettings | None = None,
    agent_log: Path | str | None = None,
    activity: Iterable[ActivityChange] = (),
    dimensions: Sequence[str] = DIMENSIONS,
) -> ReportData:
    """Read contacts offered in [start, end) (epoch seconds) and compute every KPI row.

    `database` is an open peewee database (left open) or a CRM URL (opened and closed here).
    Intervals of `interval_s` (900, 1800 or 3600) are aligned to local midnight in `tz`.
    `start`/`end` None: from the first contact offered / to just after the last one.
    """
    from crm_sync.models import open_database

    if start is not None and end is not None and end <= start:
        raise ValueError(f"a report window must end after it starts ({start} >= {end})")
    check_interval_s(int(interval_s))
    rules = rules or ReportSettings()
    zone = _zone(tz)
    owned = isinstance(database, str)
    db = open_database(database) if owned else database
    try:
        contacts = read_contacts(db, start, end, tenant)
    finally:
        if owned:
            db.close()
    changes = list(activity)
    if agent_log is not None:
        changes.extend(read_activity_log(Path(agent_log)))
    changes = [c for c in changes if tenant is None or c.tenant == tenant]
    horizon = end if end is not None else max([c.ended_at or c.offered_at for c in contacts] + [c.at for c in changes],
                                              default=0.0)
    if start is None and contacts:
        start = min(c.offered_at for c in contacts)
    if end is None and contacts:
        end = max(c.offered_at for c in contacts) + 1e-3
    # Without any activity record, spans would hold only handling time and occupancy would
    # read 100 %: say "unknown" instead.
    # ACW as the agent's wrap-up activity measured it, not the wrap-up the CRM says was given
    # (see measured_acw). A measured wrap-up is in the spans already, as activity: only the
    # other contacts' ACW is laid over them (the CRM's planned one would cover an early ready).
    measured = measured_acw(contacts, changes) if changes else {}
    overlay = [replace(c, acw_s=0.0) if i in measured else c for i, c in enumerate(contacts)]
    spans = build_spans(changes, overlay, horizon) if changes else []
    contacts = [replace(c, acw_s=measured[i]) if i in measured else c for i, c in enumerate(contacts)]
    rows = compute_kpis(contacts, spans, rules=rules, interval_s=int(interval_s), start=start, end=end, tz=zone,
                        dimensions=dimensions) if start is not None and end is not None else []
    logger.info("report %s..%s: %d contacts, %d agent state spans, %d rows", start, end, len(contacts), len(spans),
                len(rows))
    return ReportData(tuple(contacts), tuple(spans), tuple(rows), rules, int(interval_s), zone, tenant)


def _headline_rows(rows: Sequence[Kpis], intervals_for: Sequence[str]) -> list[Kpis]:
    return [r for r in rows if r.dimension in intervals_for or r.interval_start is None]


def kpi_table(
    database: peewee.Database | str,
    *,
    start: float,
    end: float,
    interval_s: int = 900,
    tz: ZoneInfo | str | None = "UTC",
    tenant: str | None = None,
    rules: ReportSettings | None = None,
    agent_log: Path | str | None = None,
    activity: Iterable[ActivityChange] = (),
    dimensions: Sequence[str] = DIMENSIONS,
    intervals_for: Sequence[str] = (ALL,),
) -> str:
    """The KPI table as text, as `fscc report --format table` prints it.

    The whole center gets a row per interval plus the period total; queues, tiers and agents
    get their period totals only (`intervals_for` names the cuts that also get per-interval
    rows), so the table stays readable at the end of a demo. The first line states the
    definitions in force (service-level variant and target, short-abandon threshold, interval).
    """
    data = load_report(database, start=start, end=end, interval_s=interval_s, tz=tz, tenant=tenant, rules=rules,
                       agent_log=agent_log, activity=activity, dimensions=dimensions)
    return as_table(_headline_rows(data.rows, intervals_for), data.rules, data.interval_s, data.tz)


def write_report(
    database: peewee.Database | str,
    out_dir: Path | str,
    *,
    start: float,
    end: float,
    interval_s: int = 900,
    tz: ZoneInfo | str | None = "UTC",
    title: str = "fscc contact-center report",
    tenant: str | None = None,
    rules: ReportSettings | None = None,
    agent_log: Path | str | None = None,
    activity: Iterable[ActivityChange] = (),
) -> ReportPaths:
    """Write report.html, the four PNG charts, kpi.csv and kpi.json into `out_dir`.

    The charts need one tenant: give `tenant` when the store holds several (ValueError
    otherwise). report.html holds a table per cut (all, queue, tier, agent) with every
    interval, and the charts beside it; the folder is self-contained.
    """
    data = load_report(database, start=start, end=end, interval_s=interval_s, tz=tz, tenant=tenant, rules=rules,
                       agent_log=agent_log, activity=activity)
    return write_report_files(data, out_dir, title=title)


def write_report_files(data: ReportData, out_dir: Path | str, *, title: str = "fscc contact-center report") -> ReportPaths:
    """The files of `write_report` from KPIs already computed (what `fscc report --plot` uses)."""
    from reports.html import write_html
    from reports.plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(out, data.rows, data.contacts, data.spans, data.rules, data.tz, data.tenant)
    cuts = [d for d in DIMENSIONS if any(r.dimension == d for r in data.rows)]
    tables = {f"By {d}" if d != ALL else "Whole center": [r for r in data.rows if r.dimension == d] for d in cuts}
    html = write_html(out, tables, plots, rules=data.rules, tz=data.tz, title=title)
    csv_path = out / "kpi.csv"
    csv_path.write_text(as_csv(data.rows, data.tz), encoding="utf-8")
    json_path = out / "kpi.json"
    json_path.write_text(as_json(data.rows, data.rules, data.interval_s, data.tz), encoding="utf-8")
    return ReportPaths(out_dir=out, html=html, csv=csv_path, json=json_path, plots=dict(plots))
