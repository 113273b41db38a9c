"""KPI rows as text: an aligned table for people, CSV for spreadsheets, JSON for programs. Pure.

The table shows the headline figures; CSV and JSON carry every field, all four service-level
variants by name, and the definitions in force, so a number is never separated from what
it means.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from reports.config import ReportSettings, ServiceLevelVariant
from reports.kpi import ALL, Kpis

#: (header, function of a row -> text) for the human table and the HTML report
Column = tuple[str, Any]


def pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def interval_label(row: Kpis, tz: ZoneInfo) -> str:
    if row.interval_start is None:
        return "total"
    start = datetime.fromtimestamp(row.interval_start, tz)
    return start.strftime("%Y-%m-%d %H:%M")


def columns(tz: ZoneInfo, rules: ReportSettings, tenants: bool = False) -> list[Column]:
    """The headline columns, in the order a manager reads them."""
    cols: list[Column] = [("tenant", lambda r: r.tenant)] if tenants else []
    return cols + [
        ("by", lambda r: r.dimension),
        ("key", lambda r: r.key),
        ("interval", lambda r: interval_label(r, tz)),
        ("offered", lambda r: str(r.offered)),
        ("answered", lambda r: str(r.answered)),
        ("abandoned", lambda r: str(r.abandoned)),
        ("short ab.", lambda r: str(r.short_abandoned)),
        ("callback", lambda r: str(r.callbacks)),
        ("self-svc", lambda r: str(r.self_service)),
        ("other", lambda r: str(r.voicemail + r.transferred + r.failed)),  # so the counts add up to offered
        (f"SL% {rules.service_level_threshold_s}s", lambda r: pct_text(r.service_level)),
        ("ASA s", lambda r: _secs(r.asa_s)),
        ("AHT s", lambda r: _secs(r.aht_s)),
        ("ACW s", lambda r: _secs(r.avg_acw_s)),
        ("aband.%", lambda r: pct_text(r.abandon_rate)),
        ("occ.%", lambda r: pct_text(r.occupancy)),
    ]


def definitions(rules: ReportSettings, interval_s: int, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "service_level_variant": rules.service_level_variant.value,
        "service_level_threshold_s": rules.service_level_threshold_s,
        "service_level_target_pct": rules.service_level_target_pct,
        "short_abandon_s": rules.short_abandon_s,
        "interval_min": interval_s // 60,
        "timezone": str(tz),
        "interval_rule": "a contact belongs to the interval in which it was offered",
    }


def definitions_line(rules: ReportSettings, interval_s: int, tz: ZoneInfo) -> str:
    return (f"service level: {rules.service_level_variant.value}, target {rules.service_level_target_pct:g}% "
            f"within {rules.service_level_threshold_s} s; abandons under {rules.short_abandon_s} s are short "
            f"(reported apart); other = voicemail + transferred + failed; {interval_s // 60}-minute intervals in {tz}, "
            f"by time offered")


def as_table(rows: Sequence[Kpis], rules: ReportSettings, interval_s: int, tz: ZoneInfo) -> str:
    if not rows:
        return "no contacts in the period\n"
    cols = columns(tz, rules, tenants=len({r.tenant for r in rows}) > 1)
    cells = [[fn(r) for _, fn in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(cols)]
    text_cols = {"tenant", "by", "key", "interval"}

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if h in text_cols else v.rjust(w) for v, w, (h, _) in zip(values, widths, cols, strict=True)).rstrip()

    out = [definitions_line(rules, interval_s, tz), line([h for h, _ in cols]), line(["-" * w for w in widths])]
    # a blank line between groups of several rows (a key's intervals), and where the cut
    # changes; one-line groups (period totals only) stay together
    previous = None
    previous_size = 0
    for row, values in zip(rows, cells, strict=True):
        group = (row.tenant, row.dimension, row.key)
        if previous is not None and group != previous:
            if previous_size > 1 or group[:2] != previous[:2]:
                out.append("")
            previous_size = 0
        previous = group
        previous_size += 1
        out.append(line(values))
    several = len({r.tenant for r in rows}) > 1
    footer = [service_level_line(r, rules, several) for r in rows if r.dimension == ALL and r.interval_start is None]
    if footer:
        out.append("")
        out.extend(footer)
    return "\n".join(out) + "\n"


def service_level_line(row: Kpis, rules: ReportSettings, with_tenant: bool = False) -> str:
    """The period's service level by each of the four definitions, the headline one marked."""
    parts = []
    for variant in ServiceLevelVariant:
        mark = " (headline)" if variant is rules.service_level_variant else ""
        parts.append(f"{variant.value} {pct_text(row.service_level_of(variant))}%{mark}")
    who = f" of {row.tenant}" if with_tenant else ""
    return f"service level{who} of the whole period by definition: " + ", ".join(parts)


def _record(row: Kpis, tz: ZoneInfo) -> dict[str, Any]:
    data = dataclasses.asdict(row)
    data["service_level_variant"] = row.service_level_variant.value
    data["interval"] = interval_label(row, tz)
    return data


def as_csv(rows: Sequence[Kpis], tz: ZoneInfo) -> str:
    buffer = io.StringIO()
    names = ["interval"] + [f.name for f in dataclasses.fields(Kpis)]
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in _record(row, tz).items()})
    return buffer.getvalue()


def as_json(rows: Sequence[Kpis], rules: ReportSettings, interval_s: int, tz: ZoneInfo) -> str:
    return json.dumps({"definitions": definitions(rules, interval_s, tz), "rows": [_record(r, tz) for r in rows]}, indent=2)
