"""The report's PNG charts: volume, service level against target, wait times, agent states.

Each chart must read without explanation: a title that says what and when, axis labels with
units, a legend, the target drawn where there is one. Figures are built with
`matplotlib.figure.Figure` and rendered by the Agg canvas directly, never through pyplot:
no global figure state, no GUI backend, safe in a server process and in parallel tests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from reports.config import ReportSettings
from reports.facts import AgentState, AgentStateSpan, ContactFacts, Outcome
from reports.kpi import ALL, Kpis, is_short_abandon

logger = logging.getLogger(__name__)

STATE_COLORS = {
    AgentState.BUSY: "#1f77b4",
    AgentState.WRAP_UP: "#9467bd",
    AgentState.RESERVED: "#bcbd22",
    AgentState.AVAILABLE: "#2ca02c",
    AgentState.BREAK: "#ff7f0e",
}
DPI = 110


def _figure() -> Figure:
    fig = Figure(figsize=(10, 4.8), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    logger.debug("wrote %s", path)
    return path


def _interval_rows(rows: Sequence[Kpis], tenant: str | None) -> list[Kpis]:
    chosen = [r for r in rows if r.dimension == ALL and r.interval_start is not None and (tenant is None or r.tenant == tenant)]
    return sorted(chosen, key=lambda r: r.interval_start or 0.0)


def _period(rows: Sequence[Kpis], tz: ZoneInfo) -> str:
    if not rows:
        return "no data"
    first = datetime.fromtimestamp(rows[0].interval_start or 0.0, tz)
    last = datetime.fromtimestamp((rows[-1].interval_start or 0.0) + rows[-1].interval_s, tz)
    same_day = first.date() == last.date() or (last - first).total_seconds() <= 86400 and last.strftime("%H:%M") == "00:00"
    end = last.strftime("%H:%M") if same_day else last.strftime("%Y-%m-%d %H:%M")
    return f"{first:%Y-%m-%d %H:%M}-{end} ({tz})"


def _interval_labels(rows: Sequence[Kpis], tz: ZoneInfo) -> list[str]:
    return [datetime.fromtimestamp(r.interval_start or 0.0, tz).strftime("%H:%M") for r in rows]


def _thin_ticks(ax, labels: list[str], x: np.ndarray) -> None:
    step = max(1, len(labels) // 16)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(labels[::step], rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")


def volume_figure(rows: Sequence[Kpis], tz: ZoneInfo, tenant: str | None = None) -> Figure:
    """Offered, answered and abandoned contacts per interval (grouped bars)."""
    data = _interval_rows(rows, tenant)
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(data))
    width = 0.27
    series = [("offered (every contact, incl. IVR self-service)", [r.offered for r in data], "#7f7f7f"),
              ("answered", [r.answered for r in data], "#2ca02c"),
              ("abandoned (short abandons excluded)", [r.abandoned for r in data], "#d62728")]
    for i, (label, values, color) in enumerate(series):
        ax.bar(x + (i - 1) * width, values, width, label=label, color=color)
    minutes = data[0].interval_s // 60 if data else 0
    ax.set_title(f"Contacts per {minutes}-minute interval, {_period(data, tz)}")
    ax.set_xlabel(f"interval start (local time, {tz})")
    ax.set_ylabel("contacts per interval")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _thin_ticks(ax, _interval_labels(data, tz), x)
    ax.set_ylim(0, max([1] + [r.offered for r in data]) * 1.3)  # headroom: the legend never hides a bar
    ax.legend(loc="upper left", ncols=3, fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return fig


def service_level_figure(rows: Sequence[Kpis], rules: ReportSettings, tz: ZoneInfo, tenant: str | None = None) -> Figure:
    """Service level per interval (the configured variant) against the target line."""
    data = _interval_rows(rows, tenant)
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(data))
    target = rules.service_level_target_pct
    values = [None if r.service_level is None else r.service_level * 100 for r in data]
    met = [v is not None and v >= target for v in values]
    heights = [0.0 if v is None else v for v in values]
    colors = ["#2ca02c" if ok else "#d62728" for ok in met]
    ax.bar(x, heights, 0.7, color=colors)
    for xi, v in zip(x, values, strict=True):
        if v is None:  # nothing answered or abandoned: no service level, which is not 0 %
            ax.text(xi, 2, "no calls", ha="center", va="bottom", rotation=90, fontsize=8, color="#7f7f7f")
        elif len(data) <= 24:  # the figure itself, so a 0 % bar is seen, not missed
            ax.text(xi, v + 1, f"{v:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.axhline(target, color="black", linestyle="--", linewidth=1.2)
    ax.legend(handles=[Patch(color="#2ca02c", label="target met"), Patch(color="#d62728", label="target missed"),
                       Line2D([], [], color="black", linestyle="--", label=f"target {target:g}%")],
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.set_title(f"Service level: answered within {rules.service_level_threshold_s} s "
                 f"({rules.service_level_variant.value}), {_period(data, tz)}")
    ax.set_xlabel(f"interval start (local time, {tz})")
    ax.set_ylabel(f"contacts answered within {rules.service_level_threshold_s} s (%)")
    _thin_ticks(ax, _interval_labels(data, tz), x)
    ax.grid(axis="y", alpha=0.3)
    return fig


def wait_figure(contacts: Sequence[ContactFacts], rules: ReportSettings, period: str = "") -> Figure:
    """How long callers waited before an agent answered or they gave up (stacked histogram), with
    the share of answered contacts answered within each wait on a second axis: a manager reads
    off the service level any other threshold would have given."""
    answered = [c.wait_s for c in contacts if c.outcome is Outcome.ANSWERED]
    abandoned = [c.wait_s for c in contacts if c.outcome in (Outcome.ABANDONED, Outcome.SHORT_ABANDONED)
                 and not is_short_abandon(c, rules.short_abandon_s)]
    short = [c.wait_s for c in contacts if is_short_abandon(c, rules.short_abandon_s)]
    fig = _figure()
    ax = fig.add_subplot()
    everything = answered + abandoned + short
    top = max(everything, default=0.0)
    threshold = rules.service_level_threshold_s
    bin_s = max(1.0, float(np.ceil(max(top, threshold * 2) / 40)))
    bins = np.arange(0.0, max(top, threshold * 2) + bin_s, bin_s)
    # numpy bins are closed on the left; "within T" is wait <= T, so a wait of exactly T must
    # land in the bin left of the threshold line: close the bins on the right instead
    bins[1:] += 1e-9
    ax.hist([answered, abandoned, short], bins=bins, stacked=True, color=["#2ca02c", "#d62728", "#ff9896"],
            label=[f"answered ({len(answered)})", f"abandoned ({len(abandoned)})",
                   f"short abandon, under {rules.short_abandon_s} s ({len(short)})"])
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label=f"service-level threshold {threshold} s")
    handles, labels = ax.get_legend_handles_labels()
    if answered:
        cumulative = ax.twinx()
        xs = np.sort(np.asarray(answered))
        shares = np.arange(1, len(xs) + 1) / len(xs) * 100
        line, = cumulative.step(np.concatenate(([0.0], xs, [bins[-1]])), np.concatenate(([0.0], shares, [100.0])),
                                where="post", color="#1f3a93", linewidth=1.5,
                                label="answered within x s (cumulative %, right axis)")
        cumulative.set_ylim(0, 105)
        cumulative.yaxis.set_major_formatter(PercentFormatter(100))
        cumulative.set_ylabel("share of answered contacts answered within x s")
        handles.append(line)
        labels.append(line.get_label())
    within = sum(1 for w in answered if w <= threshold)
    when = f", {period}" if period else ""
    ax.set_title(f"Queue wait before answer or abandon{when}: {within} of {len(answered)} answered within {threshold} s")
    ax.set_xlabel(f"wait in queue x (seconds, {bin_s:g} s bins)")
    ax.set_ylabel("contacts per bin")
    ax.set_xlim(0, bins[-1])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(handles, labels, loc="center right", fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return fig


def agent_state_counts(spans: Sequence[AgentStateSpan], start: float, end: float, step_s: float) -> tuple[np.ndarray, dict[AgentState, np.ndarray]]:
    """Sample times and, per state, how many agents were in it at each sample (pure numpy)."""
    times = np.arange(start, end, step_s)
    counts = {state: np.zeros(len(times)) for state in STATE_COLORS}
    for span in spans:
        if span.state not in counts:
            continue
        lo = np.searchsorted(times, span.start, side="left")
        hi = np.searchsorted(times, span.end, side="left")
        counts[span.state][lo:hi] += 1
    return times, counts


def agent_states_figure(spans: Sequence[AgentStateSpan], tz: ZoneInfo, tenant: str | None = None) -> Figure:
    """Logged-in agents by state over time (stacked area, sampled at most 600 times)."""
    chosen = [s for s in spans if tenant is None or s.tenant == tenant]
    fig = _figure()
    ax = fig.add_subplot()
    if chosen:
        start = min(s.start for s in chosen)
        end = max(s.end for s in chosen)
        step_s = max(1.0, (end - start) / 600)
        times, counts = agent_state_counts(chosen, start, end, step_s)
        stamps = [datetime.fromtimestamp(t, tz) for t in times]
        states = [s for s in STATE_COLORS if counts[s].any()]  # a state nobody was in is legend clutter
        ax.stackplot(stamps, *[counts[s] for s in states], labels=[s.value for s in states],
                     colors=[STATE_COLORS[s] for s in states], step="post")
        ax.xaxis.set_major_locator(AutoDateLocator(tz=tz))
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=tz))
        ax.set_title(f"Agents by state, {stamps[0]:%Y-%m-%d %H:%M}-{datetime.fromtimestamp(end, tz):%H:%M} ({tz})")
        ax.legend(loc="upper left", ncols=5)
        ax.set_ylim(0, max(1.0, float(sum(counts.values()).max())) * 1.25)
    else:
        ax.set_title("Agents by state: no agent activity recorded for the period")
        ax.text(0.5, 0.5, "no agent activity log given", ha="center", va="center", transform=ax.transAxes, color="#7f7f7f")
    ax.set_xlabel(f"time (local, {tz})")
    ax.set_ylabel("agents logged in")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    return fig


def write_plots(out_dir: Path, rows: Sequence[Kpis], contacts: Sequence[ContactFacts], spans: Sequence[AgentStateSpan],
                rules: ReportSettings, tz: ZoneInfo, tenant: str | None = None) -> dict[str, Path]:
    """All four charts into `out_dir`; returns caption -> PNG path, in reading order."""
    out_dir = Path(out_dir)
    if tenant is None:
        tenants = {r.tenant for r in rows} | {c.tenant for c in contacts}
        if len(tenants) > 1:
            raise ValueError(f"the data holds several tenants ({', '.join(sorted(tenants))}): plot one at a time")
    contacts = [c for c in contacts if tenant is None or c.tenant == tenant]
    period = _period(_interval_rows(rows, tenant), tz)
    return {
        "Contacts offered, answered and abandoned per interval": _save(volume_figure(rows, tz, tenant), out_dir / "volume.png"),
        "Service level per interval against target": _save(service_level_figure(rows, rules, tz, tenant),
                                                            out_dir / "service_level.png"),
        "Wait-time distribution": _save(wait_figure(contacts, rules, period), out_dir / "wait_times.png"),
        "Agent states over time": _save(agent_states_figure(spans, tz, tenant), out_dir / "agent_states.png"),
    }
