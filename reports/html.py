"""report.html: the KPI tables and the charts in one self-contained folder.

Every value put into the page goes through `html.escape` (queue names, agent ids and tenant
names are configuration or caller-adjacent data; a queue called `<script>` must print as
text). The PNGs are copied beside report.html and referenced by file name, so the folder can
be zipped, mailed or served as it is.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from reports.config import ReportSettings, ServiceLevelVariant
from reports.formats import columns, definitions_line, interval_label, pct_text
from reports.kpi import ALL, Kpis

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
tr.total td { font-weight: bold; background: #fafafa; }
figure { margin: 0 0 2em 0; }
figcaption { font-weight: bold; margin-bottom: 0.4em; }
p.definitions { color: #555; }
"""

_TEXT_COLUMNS = {"tenant", "by", "key", "interval"}


def _table(rows: Sequence[Kpis], rules: ReportSettings, tz: ZoneInfo) -> str:
    if not rows:
        return "<p>No contacts in the period.</p>"
    cols = columns(tz, rules, tenants=len({r.tenant for r in rows}) > 1)
    head = "".join(f"<th>{escape(h)}</th>" for h, _ in cols)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="text">{escape(fn(row))}</td>' if h in _TEXT_COLUMNS else f"<td>{escape(fn(row))}</td>"
            for h, fn in cols
        )
        css = ' class="total"' if row.interval_start is None else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def _service_level_table(rows: Sequence[Kpis], rules: ReportSettings, tz: ZoneInfo) -> str:
    """The whole center's service level by each of the four definitions, per interval and total."""
    center = [r for r in rows if r.dimension == ALL]
    if not center:
        return ""
    variants = list(ServiceLevelVariant)
    head = "".join(f"<th>{escape(v.value)}{' (headline)' if v is rules.service_level_variant else ''}</th>" for v in variants)
    body = []
    for row in center:
        cells = "".join(f"<td>{escape(pct_text(row.service_level_of(v)))}</td>" for v in variants)
        css = ' class="total"' if row.interval_start is None else ""
        tenant = f"{escape(row.tenant)} " if len({r.tenant for r in center}) > 1 else ""
        body.append(f'<tr{css}><td class="text">{tenant}{escape(interval_label(row, tz))}</td>{cells}</tr>')
    return (f"<h3>Service level within {rules.service_level_threshold_s} s by definition (%)</h3>\n"
            f'<p class="definitions">answered: A_T / A; abandons-negative: A_T / (A + Ab); abandons-met: '
            f"(A_T + Ab_T) / (A + Ab); abandons-ignored: A_T / (A + Ab - Ab_T); short abandons "
            f"(under {rules.short_abandon_s} s) excluded from all four.</p>\n"
            f"<table>\n<thead><tr><th>interval</th>{head}</tr></thead>\n<tbody>\n" + "\n".join(body)
            + "\n</tbody>\n</table>")


def write_html(
    out_dir: Path | str,
    kpi_tables: Mapping[str, Sequence[Kpis]],
    plots: Mapping[str, Path] | Sequence[Path],
    *,
    rules: ReportSettings | None = None,
    tz: ZoneInfo | None = None,
    title: str = "fscc contact-center report",
) -> Path:
    """Write `out_dir/report.html` with one table per `kpi_tables` entry (heading -> rows) and
    the PNGs of `plots` (caption -> path, or paths captioned by file name) after the first
    table: headline figures, then the charts, then the detail. Returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rules = rules or ReportSettings()
    tz = tz or ZoneInfo("UTC")
    items = plots.items() if isinstance(plots, Mapping) else [(Path(p).stem.replace("_", " "), p) for p in plots]
    interval_s = next((r.interval_s for rows in kpi_tables.values() for r in rows), rules.interval_min * 60)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="definitions">{escape(definitions_line(rules, interval_s, tz))}. '
        f"Generated {escape(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
    ]
    charts: list[str] = ["<h2>Charts</h2>"] if items else []
    for caption, path in items:
        source = Path(path)
        target = out / source.name
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        charts.append(f'<figure><figcaption>{escape(caption)}</figcaption>'
                      f'<img src="{escape(quote(target.name), quote=True)}" alt="{escape(caption, quote=True)}"></figure>')
    # the headline table, then the charts, then the detail tables (queues, tiers, agents)
    for number, (heading, rows) in enumerate(kpi_tables.items()):
        parts.append(f"<h2>{escape(heading)}</h2>")
        parts.append(_table(rows, rules, tz))
        if number == 0:
            parts.append(_service_level_table(rows, rules, tz))
            parts.extend(charts)
    if not kpi_tables:
        parts.extend(charts)
    parts.append("</body></html>")
    report = out / "report.html"
    report.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return report
