"""The report's charts, drawn from an output folder: PNG and SVG bytes, byte-identical per input.

Charts (each where its files are present):

- `charts/stopped` plants stopped over time, every branch on one plot: median line and
  P10-P90 band (bands.csv), or the single run (timeline.csv);
- `charts/value_lost` cumulative value added lost per branch (each plant's own share of the
  output it could not make, so a part is not counted again inside the product), the same way;
- `charts/stopped_share_<branch>` per plant, the share of runs stopped each day, a heat strip
  per plant (a probabilistic Gantt; one run: its episodes of reduced output, darker for a
  deeper cut), plants grouped by sector, a chosen `group` first;
- `charts/policy` per branch: US and Chinese tariffs, number of licensed elements, and when
  the extraterritorial rule is on;
- `charts/flows` the monthly flow index of Chinese rare earths (share of normal supply
  delivered), world and US, in the history branch (flows_bands.csv: P50 and P10-P90; one run:
  flows.csv);
- `charts/buffers_<branch>` days of cover needed vs now (buffers.csv at the top of the output
  folder, rows of that branch; or a buffers.csv in the branch folder);
- `charts/tornado_<branch>` the parameters that move the result most (sensitivity.csv).

Readable in black and white: each branch has its own line style and hatch besides its colour
(Okabe-Ito, colour-blind safe), heat strips use one ramp of rising darkness. Every chart marks
the branch point and the key dates with labelled vertical lines. Figures are drawn with
matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), with a fixed
SVG hash salt and no dates in the metadata, so the same files give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from timeline.reports import fmt
from timeline.reports.common import (  # noqa: F401  (re-exported: charts' public names)
    _parse_date,
    cores,
    metric_format,
    metric_text,
    order_plants,
    plants,
    signed_share,
    slug,
    span,
)
from timeline.reports.files import Branch, Outputs, load

#: Okabe-Ito, in the order branches take them (yellow last: weak on white).
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)), "-")
HATCHES = ("//", "\\\\", "xx", "..", "++", "oo", "--", "||")
#: White to near-black through Okabe-Ito orange and vermillion: darker means more runs stopped.
HEAT = LinearSegmentedColormap.from_list(
    "timeline_heat", ["#FFFFFF", "#F5C46B", "#E69F00", "#D55E00", "#4A1800"]
)
MAX_PLANTS = 80  # rows in a heat-strip chart; the rest are in the report's tables
MAX_BARS = 40

DPI = 150
_RC = {
    "svg.hashsalt": "timeline-report",
    "svg.fonttype": "none",  # text stays text: smaller, searchable, faster
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titley": 1.0,  # a fixed title place: no costly automatic placement
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "hatch.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
}
_PT = 1 / 72  # inches per point


@dataclass(frozen=True)
class Mark:
    """A labelled vertical line: the branch point or a key date."""

    date: dt.date
    label: str
    branch_point: bool = False


@dataclass(frozen=True)
class Style:
    color: str
    linestyle: object
    hatch: str


def style(index: int) -> Style:
    """The colour, line style and hatch of the `index`-th branch."""
    i = index % len(OKABE_ITO)
    return Style(OKABE_ITO[i], LINESTYLES[i], HATCHES[i])


def _short(text: str, size: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[: size - 3].rstrip() + "..."


def marks(branches: Iterable[Branch]) -> list[Mark]:
    """The branch point and key dates of these branches, one mark per date."""
    labels: dict[dt.date, list[str]] = {}
    point: dt.date | None = None
    for branch in branches:
        point = point or _parse_date(branch.meta.get("branch_point"))
        for item in branch.meta.get("key_dates") or []:
            if not isinstance(item, dict):
                continue
            day = _parse_date(item.get("date"))
            title = _short(item.get("title") or item.get("event_id") or "", 34)
            if day is not None and title and title not in labels.setdefault(day, []):
                labels[day].append(title)
    if point is not None:
        labels.setdefault(point, []).append("branch point")
    out = []
    for day in sorted(labels):
        text = f"{day:%b} {day.day}: " + " / ".join(labels[day])
        out.append(Mark(day, text, branch_point=day == point))
    return out


# --- drawing helpers ---------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _layout(fig: Figure, left: float, right: float, top: float, bottom: float) -> None:
    """Margins in inches."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
    )


def _title(fig: Figure, title: str, subtitle: str = "") -> None:
    height = fig.get_size_inches()[1]
    fig.text(0.01, 1 - 0.08 / height, title, ha="left", va="top", fontsize=11, weight="bold")
    if subtitle:
        fig.text(0.01, 1 - 0.30 / height, subtitle, ha="left", va="top", fontsize=8, color="#333")


def _marks_height(items: list[Mark]) -> float:
    """Inches above an axes taken by the mark labels."""
    return (len(items) * 10 + 6) * _PT if items else 0.0


def _draw_marks(
    ax: Axes, items: list[Mark], labels: bool = True, color: str = "#222", lift: float = 0
) -> None:
    """Vertical lines at the marks, labelled above the axes (call after the x limits are set);
    `lift` points more above it (to clear an axes title)."""
    for i, mark in enumerate(items):
        x = mdates.date2num(mark.date)
        width, style_ = (1.3, "-") if mark.branch_point else (0.8, (0, (4, 2)))
        ax.axvline(x, color=color, linewidth=width, linestyle=style_, zorder=1.5, alpha=0.85)
        if labels:
            row = len(items) - 1 - i  # earliest on top
            low, high = ax.get_xlim()
            right = (x - low) > 0.65 * (high - low)  # late dates: the label runs leftwards
            ax.annotate(
                mark.label,
                xy=(x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 3 + lift + 10 * row),
                textcoords="offset points",
                fontsize=7,
                ha="right" if right else "left",
                va="bottom",
                weight="bold" if mark.branch_point else "normal",
                annotation_clip=False,
                arrowprops={
                    "arrowstyle": "-",
                    "color": "#777",
                    "linewidth": 0.5,
                    "relpos": (1, 0) if right else (0, 0),
                    "shrinkA": 0,
                    "shrinkB": 0,
                },
            )


def _date_axis(ax: Axes, start: dt.date | None, end: dt.date | None) -> None:
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    if start and end:
        ax.set_xlim(mdates.date2num(start), mdates.date2num(end + dt.timedelta(days=1)))


def _money_axis(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: fmt.money(value)))


def _end_labels(ax: Axes, items: list[tuple[float, str, str]]) -> None:
    """Label lines at the right edge: (y, text, colour), nudged apart so none overlap."""
    if not items:
        return
    fig = ax.get_figure()
    to_px = ax.transData
    gap = 9 * fig.dpi / 72
    placed = sorted((to_px.transform((0, y))[1], text, colour) for y, text, colour in items)
    ys: list[float] = []
    for y, _, _ in placed:
        ys.append(max(y, ys[-1] + gap) if ys else y)
    inv = ax.transData.inverted()
    for (_, text, colour), y in zip(placed, ys, strict=True):
        ax.annotate(
            text,
            xy=(1.0, inv.transform((0, y))[1]),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=7.5,
            color=_darker(colour),
            va="center",
            annotation_clip=False,
        )


def _darker(colour: str, by: float = 0.45) -> tuple[float, float, float]:
    """The colour mixed with black, for text that must read in grey print too."""
    red, green, blue = mpl.colors.to_rgb(colour)
    return (red * (1 - by), green * (1 - by), blue * (1 - by))


def _save(fig: Figure, name: str) -> dict[str, bytes]:
    out = {}
    for kind, metadata in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=kind, dpi=DPI, metadata=metadata)
        out[f"charts/{name}.{kind}"] = buffer.getvalue()
    return out


# --- (a), (b): fan charts ---------------------------------------------------------------


def has_metric(branch: Branch, metric: str) -> bool:
    """Whether bands.csv or timeline.csv of a branch holds this metric."""
    bands = branch.table("bands")
    if bands is not None and "metric" in bands.columns and (bands["metric"] == metric).any():
        return True
    timeline = branch.table("timeline")
    return timeline is not None and metric in timeline.columns


def _series(branch: Branch, metric: str) -> tuple[pd.DataFrame, bool] | None:
    """(date, q10, q50, q90) for a metric: bands.csv, else the single run. Bool: has band."""
    bands = branch.table("bands")
    if bands is not None and {"date", "metric", "q50"} <= set(bands.columns):
        rows = bands[bands["metric"] == metric].sort_values("date", kind="stable")
        if not rows.empty:
            banded = {"q10", "q90"} <= set(rows.columns) and (
                branch.runs > 1 or bool((rows["q10"] != rows["q90"]).any())
            )
            frame = rows[["date", "q50"]].copy()
            frame["q10"] = rows["q10"] if banded else rows["q50"]
            frame["q90"] = rows["q90"] if banded else rows["q50"]
            return frame.reset_index(drop=True), banded
    timeline = branch.table("timeline")
    if timeline is not None and {"date", metric} <= set(timeline.columns):
        frame = timeline[["date"]].copy()
        frame["q50"] = frame["q10"] = frame["q90"] = timeline[metric].astype(float)
        return frame, False
    return None


def _shared_trunk(frames: list[pd.DataFrame], point: dt.date | None) -> pd.DataFrame | None:
    """The part before the branch point, when every branch has the same one (paired runs)."""
    if point is None or len(frames) < 2:
        return None
    cut = np.datetime64(point)
    parts = [f[f["date"].to_numpy() <= cut].reset_index(drop=True) for f in frames]
    first = parts[0]
    if len(first) < 2:
        return None
    columns = ["q10", "q50", "q90"]
    for part in parts[1:]:
        if len(part) != len(first) or not (part["date"] == first["date"]).all():
            return None
        head = part[columns].to_numpy(dtype=float)[:-1]  # the branch point day may differ
        if not np.allclose(head, first[columns].to_numpy(dtype=float)[:-1], equal_nan=True):
            return None
    return first


def _band(ax: Axes, frame: pd.DataFrame, colour: str, hatch: str) -> None:
    ax.fill_between(
        frame["date"].to_numpy(),
        frame["q10"].to_numpy(dtype=float),
        frame["q90"].to_numpy(dtype=float),
        facecolor=mpl.colors.to_rgba(colour, 0.13),
        edgecolor=mpl.colors.to_rgba(colour, 0.5),
        hatch=hatch,
        linewidth=0,
        step="post",
        zorder=2,
    )


def _band_handle(colour: str, hatch: str, line: mpl.lines.Line2D) -> tuple[Patch, object]:
    patch = Patch(
        facecolor=mpl.colors.to_rgba(colour, 0.13),
        edgecolor=mpl.colors.to_rgba(colour, 0.5),
        hatch=hatch,
        linewidth=0,
    )
    return (patch, line)


def _fan(
    outputs: Outputs, metric: str, name: str, title: str, ylabel: str, money: bool
) -> dict[str, bytes]:
    data = [(i, b, _series(b, metric)) for i, b in enumerate(outputs.branches)]
    data = [(i, b, s) for i, b, s in data if s is not None]
    if not data:
        return {}
    items = marks(outputs.branches)
    point = _parse_date(outputs.meta.get("branch_point"))
    trunk = _shared_trunk([frame for _, _, (frame, _) in data], point)
    rows = (len(data) + (trunk is not None) + 1) // 2
    fig = _figure(10, 5.4 + 0.17 * rows)
    _layout(fig, 0.85, 1.7, 0.62 + _marks_height(items), 0.6 + 0.17 * rows)
    ax = fig.add_subplot()
    handles: list[object] = []
    names: list[str] = []
    banded_any = any(banded for _, _, (_, banded) in data)
    if trunk is not None:
        if banded_any:
            _band(ax, trunk, "#555555", "")
        y = trunk["q50"].to_numpy(dtype=float)
        ax.step(trunk["date"].to_numpy(), y, where="post", color="#333", lw=1.8, zorder=3)
        line = mpl.lines.Line2D([], [], color="#333", lw=1.8)
        handles.append(_band_handle("#555555", "", line) if banded_any else line)
        names.append("all branches, before the branch point")
    labels = []
    for index, branch, (frame, banded) in data:
        st = style(index)
        if trunk is not None:
            frame = frame[frame["date"].to_numpy() >= np.datetime64(point)]
        if banded:
            _band(ax, frame, st.color, st.hatch)
        y = frame["q50"].to_numpy(dtype=float)
        x = frame["date"].to_numpy()
        ax.step(x, y, where="post", color=st.color, linestyle=st.linestyle, linewidth=1.8, zorder=3)
        if len(y):
            end = fmt.money(y[-1]) if money else fmt.count(y[-1])
            labels.append((float(y[-1]), f"{branch.id} {end}", st.color))
        line = mpl.lines.Line2D([], [], color=st.color, linestyle=st.linestyle, linewidth=1.8)
        handles.append(_band_handle(st.color, st.hatch, line) if banded else line)
        names.append(f"{branch.id}: {_short(branch.title, 30)}")
    start, end = span(outputs)
    _date_axis(ax, start, end)
    ax.set_ylim(bottom=0)
    if money:
        _money_axis(ax)
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    _draw_marks(ax, items)
    ax.legend(
        handles,
        names,
        loc="upper left",
        bbox_to_anchor=(0, -0.3 / (fig.get_size_inches()[1] - 2)),
        ncols=2,
        handlelength=3,
        borderaxespad=0,
    )
    _end_labels(ax, labels)
    what = "median line, P10-P90 band" if banded_any else "one run"
    runs = max(b.runs for _, b, _ in data)
    _title(fig, title, f"{what}; {runs} run{'s' if runs != 1 else ''} per branch")
    return _save(fig, name)


def stopped_chart(outputs: Outputs) -> dict[str, bytes]:
    """(a) Plants stopped over time, all branches on one plot."""
    return _fan(
        outputs, "firms_stopped", "stopped", "Plants stopped", "plants stopped", money=False
    )


#: The cumulative money metric of bands.csv and timeline.csv, and its labels; the last is the
#: draft contract's name, read only when a folder has nothing newer.
VALUE_METRICS = (
    ("cumulative_value_added_lost_usd", "Cumulative value added lost", "value added lost (USD)"),
    ("cumulative_output_lost_usd", "Cumulative value of output lost", "output lost (USD)"),
)


def value_lost_chart(outputs: Outputs) -> dict[str, bytes]:
    """(b) Cumulative value added lost per branch."""
    for metric, title, ylabel in VALUE_METRICS:
        if any(has_metric(b, metric) for b in outputs.branches):
            return _fan(outputs, metric, "value_lost", title, ylabel, money=True)
    return {}


# --- (c): probabilistic Gantt ----------------------------------------------------------


def share_matrix(branch: Branch, ids: list[str], start: dt.date, days: int) -> np.ndarray | None:
    """plants x days: the share of runs stopped (stopped_share.csv, else the one run)."""
    index = {firm: i for i, firm in enumerate(ids)}
    matrix = np.zeros((len(ids), days))
    base = np.datetime64(start, "D")

    def fill(firm: str, first: object, last: object, value: float) -> None:
        if firm not in index or pd.isna(first):
            return
        a = int((np.datetime64(first, "D") - base).astype(int))
        b = days - 1 if pd.isna(last) else int((np.datetime64(last, "D") - base).astype(int))
        matrix[index[firm], max(a, 0) : max(min(b + 1, days), 0)] = value

    share = branch.table("stopped_share")
    if share is not None and {"firm_id", "start_date", "end_date", "share_stopped"} <= set(
        share.columns
    ):
        # thousands of periods: day numbers in one go, then one slice each, in file order
        rows = share["firm_id"].astype(str).map(index)
        first = pd.to_datetime(share["start_date"]).to_numpy("datetime64[D]")
        last = pd.to_datetime(share["end_date"]).to_numpy("datetime64[D]")
        keep = (rows.notna() & ~np.isnat(first)).to_numpy()
        a = np.maximum((first[keep] - base).astype(np.int64), 0)
        ends = np.where(np.isnat(last[keep]), base + (days - 1), last[keep])
        b = np.maximum(np.minimum((ends - base).astype(np.int64) + 1, days), 0)
        values = share["share_stopped"].to_numpy(dtype=float)[keep]
        for row, lo, hi, value in zip(
            rows[keep].astype(int).tolist(), a.tolist(), b.tolist(), values.tolist(), strict=True
        ):
            matrix[row, lo:hi] = value
        return matrix
    stoppages = branch.table("stoppages")
    if stoppages is not None and {"firm_id", "start_date", "full_output_date"} <= set(stoppages):
        # episodes of reduced output, shaded by their deepest cut (1: stopped at some point)
        has_rate = "min_output_rate" in stoppages.columns
        for row in stoppages.itertuples(index=False):
            end = row.full_output_date
            last = end - pd.Timedelta(days=1) if pd.notna(end) else None
            rate = float(row.min_output_rate) if has_rate else 0.0
            cut = 1.0 - (rate if np.isfinite(rate) else 0.0)
            fill(str(row.firm_id), row.start_date, last, min(max(cut, 0.0), 1.0))
        return matrix
    if stoppages is not None and {"firm_id", "stop_date", "restart_date"} <= set(stoppages):
        for row in stoppages.itertuples(index=False):
            last = row.restart_date - pd.Timedelta(days=1) if pd.notna(row.restart_date) else None
            fill(str(row.firm_id), row.stop_date, last, 1.0)
        return matrix
    return None


def stopped_share_chart(outputs: Outputs, branch: Branch, group: str | None) -> dict[str, bytes]:
    """(c) One branch: per plant, the share of runs stopped each day."""
    start, end = span(outputs)
    table = plants(branch)
    if start is None or end is None or table.empty:
        return {}
    days = (end - start).days + 1
    matrix = share_matrix(branch, table["firm_id"].tolist(), start, days)
    if matrix is None:
        return {}
    note = ""
    if len(table) > MAX_PLANTS:  # keep the plants stopped most, and the chosen group
        weight = pd.Series(matrix.sum(axis=1), index=table.index)
        keep = weight.sort_values(ascending=False, kind="stable").index[:MAX_PLANTS]
        chosen = table.index[table["group"] == group] if group else table.index[:0]
        table = table.loc[sorted(set(keep) | set(chosen))]
        note = f"; the {len(table)} plants stopped most (all plants are in the tables)"
    rows: list[np.ndarray] = []
    labels: list[tuple[str, bool]] = []
    position = {firm: i for i, firm in enumerate(plants(branch)["firm_id"])}
    for title, section in order_plants(table, group):
        rows.append(np.full(days, np.nan))
        labels.append((_short(title, 44), True))
        for firm in section.itertuples(index=False):
            rows.append(matrix[position[firm.firm_id]])
            labels.append((_short(firm.name, 44), False))
    heat = np.vstack(rows)
    items = marks([branch])
    height = 1.25 + _marks_height(items) + 0.19 * len(rows)
    fig = _figure(10, height)
    _layout(fig, 3.0, 0.3, 0.62 + _marks_height(items), 0.85)
    ax = fig.add_subplot()
    x0, x1 = mdates.date2num(start), mdates.date2num(end + dt.timedelta(days=1))
    cmap = HEAT.with_extremes(bad="#FFFFFF")
    image = ax.imshow(
        np.ma.masked_invalid(heat),
        aspect="auto",
        interpolation="nearest",
        cmap=cmap,
        vmin=0,
        vmax=1,
        extent=(x0, x1, len(rows), 0),
    )
    ax.grid(False)
    ax.set_yticks(np.arange(len(rows)) + 0.5)
    ax.set_yticklabels([text for text, _ in labels])
    for tick, (_, header) in zip(ax.get_yticklabels(), labels, strict=True):
        if header:
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0, labelsize=7.5)
    for i, (_, header) in enumerate(labels):
        if header and i:
            ax.axhline(i, color="#888", linewidth=0.6)
    _date_axis(ax, start, end)
    _draw_marks(ax, items, color="#000")
    ensemble = branch.table("stopped_share") is not None
    cax = fig.add_axes((0.55, 0.22 / height, 0.4, 0.1 / height))
    bar = fig.colorbar(image, cax=cax, orientation="horizontal")
    bar.set_label(
        "share of runs in which the plant is stopped"
        if ensemble
        else "deepest cut of output in the episode (100%: stopped)",
        fontsize=7.5,
    )
    bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.share(v)))
    bar.ax.tick_params(labelsize=7)
    what = "share of runs stopped" if ensemble else "one run: episodes of reduced output"
    head = "When each plant stops" if ensemble else "When each plant runs short"
    _title(fig, f"{head}: {branch.id}", f"{_short(branch.title, 60)}; {what}{note}")
    return _save(fig, f"stopped_share_{slug(branch.id)}")


# --- (d): policy timeline --------------------------------------------------------------


def policy_chart(outputs: Outputs) -> dict[str, bytes]:
    """(d) Per branch: US and Chinese tariffs, licensed elements, extraterritorial rule."""
    branches = [(i, b, b.table("timeline")) for i, b in enumerate(outputs.branches)]
    branches = [(i, b, t) for i, b, t in branches if t is not None and "date" in t.columns]
    if not branches:
        return {}
    items = marks(outputs.branches)
    panel = 1.7
    lift = 13  # points between the first panel's title and the mark labels above it
    head = 0.95 + _marks_height(items) + lift * _PT
    height = head + panel * len(branches) + 0.35 * (len(branches) - 1) + 0.45
    fig = _figure(10, height)
    _layout(fig, 0.85, 0.85, head, 0.45)
    axes = fig.subplots(len(branches), 1, sharex=True, squeeze=False)[:, 0]
    fig.subplots_adjust(hspace=0.35 * len(branches) / max(1, height - 1.4))
    start, end = span(outputs)
    top = 0.0
    for frame in (t for _, _, t in branches):
        for column in ("us_tariff_on_cn_pct", "cn_tariff_on_us_pct"):
            if column in frame:
                top = max(top, float(pd.to_numeric(frame[column], errors="coerce").max()))
    count_top = 1
    for _, _, frame in branches:
        if "re_licensed_elements" in frame:
            count_top = max(count_top, int(_element_count(frame).max()))
    for n, (ax, (_, branch, frame)) in enumerate(zip(axes, branches, strict=True)):
        x = frame["date"].to_numpy()
        if "us_tariff_on_cn_pct" in frame:
            ax.step(x, frame["us_tariff_on_cn_pct"], where="post", color=OKABE_ITO[0], lw=1.6)
        if "cn_tariff_on_us_pct" in frame:
            ax.step(
                x, frame["cn_tariff_on_us_pct"], where="post", color=OKABE_ITO[1], lw=1.6, ls="--"
            )
        ax.set_ylim(0, max(10.0, top * 1.12))
        ax.set_ylabel("tariff %")
        if "re_licensed_elements" in frame:
            twin = ax.twinx()
            twin.step(x, _element_count(frame), where="post", color=OKABE_ITO[2], lw=1.6, ls=":")
            twin.set_ylim(0, count_top * 1.25)
            twin.yaxis.set_major_locator(MaxNLocator(integer=True))
            twin.set_ylabel("licensed elements", color="#005c46")
            twin.spines["right"].set_visible(True)
            twin.grid(False)
        if "re_extraterritorial" in frame:
            on = frame["re_extraterritorial"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            ax.fill_between(
                x,
                0,
                0.1,
                where=on,
                step="post",
                transform=ax.get_xaxis_transform(),
                facecolor="#BBBBBB",
                edgecolor="#333333",
                hatch="////",
                linewidth=0,
            )
        ax.set_title(f"{branch.id}: {_short(branch.title, 60)}", loc="left", fontsize=9)
        _date_axis(ax, start, end)
        _draw_marks(ax, items, labels=n == 0, lift=lift)
    handles = [
        mpl.lines.Line2D([], [], color=OKABE_ITO[0], lw=1.6),
        mpl.lines.Line2D([], [], color=OKABE_ITO[1], lw=1.6, ls="--"),
        mpl.lines.Line2D([], [], color=OKABE_ITO[2], lw=1.6, ls=":"),
        Patch(facecolor="#BBBBBB", edgecolor="#333333", hatch="////", linewidth=0),
    ]
    fig.legend(
        handles,
        [
            "US tariff on China (%)",
            "China tariff on US (%)",
            "elements under licence (right axis)",
            "extraterritorial rule on",
        ],
        loc="upper left",
        bbox_to_anchor=(0.01, 1 - 0.42 / height),
        ncols=4,
        fontsize=7.5,
    )
    _title(fig, "Policy timeline per branch")
    return _save(fig, "policy")


def _element_count(frame: pd.DataFrame) -> np.ndarray:
    values = frame["re_licensed_elements"].fillna("").astype(str)
    return np.array([len(v.split()) for v in values], dtype=float)


# --- (e): flows --------------------------------------------------------------------------

#: Destinations drawn in the flows chart, with their line style index.
FLOW_DESTINATIONS = ("world", "US")


def _flows_branch(outputs: Outputs) -> Branch | None:
    """The branch whose flows are drawn: history if it has them, else the first that does."""
    have = [b for b in outputs.branches if _flow_series(b, "world") or _flow_series(b, "US")]
    for branch in have:
        if branch.id == "history":
            return branch
    return have[0] if have else None


def _flow_series(branch: Branch, destination: str) -> tuple[pd.DataFrame, bool] | None:
    """(month, q10, q50, q90) of one destination: flows_bands.csv, else flows.csv (one run)."""
    bands = branch.table("flows_bands")
    if bands is not None and {"month", "destination", "q50"} <= set(bands.columns):
        rows = bands[bands["destination"].astype(str) == destination]
        rows = rows[rows["month"].notna()].sort_values("month", kind="stable")
        if not rows.empty:
            frame = rows[["month", "q50"]].astype({"q50": float}).reset_index(drop=True)
            banded = {"q10", "q90"} <= set(rows.columns) and branch.runs > 1
            for q in ("q10", "q90"):
                source = rows[q] if banded else rows["q50"]
                frame[q] = source.astype(float).to_numpy()
            return frame, banded
    flows = branch.table("flows")
    if flows is not None and {"month", "destination", "flow_index"} <= set(flows.columns):
        rows = flows[flows["destination"].astype(str) == destination]
        rows = rows[rows["month"].notna()].sort_values("month", kind="stable")
        if not rows.empty:
            frame = rows[["month"]].reset_index(drop=True)
            values = rows["flow_index"].astype(float).to_numpy()
            frame["q50"] = frame["q10"] = frame["q90"] = values
            return frame, False
    return None


def _month_steps(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Month starts plus the start of the month after the last, and the values repeated once
    more at the end, for a step drawing that covers the last month too."""
    months = frame["month"].to_numpy(dtype="datetime64[D]")
    after = (pd.Timestamp(months[-1]) + pd.offsets.MonthBegin(1)).to_datetime64()
    x = np.append(months, np.datetime64(after, "D"))
    values = pd.concat([frame, frame.iloc[[-1]]], ignore_index=True)
    return x, values


def flows_chart(outputs: Outputs) -> dict[str, bytes]:
    """(e) The monthly flow index of Chinese rare earths, world and US, in one branch."""
    branch = _flows_branch(outputs)
    if branch is None:
        return {}
    series = [(d, _flow_series(branch, d)) for d in FLOW_DESTINATIONS]
    series = [(d, s) for d, s in series if s is not None]
    items = [m for m in marks([branch]) if m.branch_point]
    top_margin, bottom_margin = 0.62 + _marks_height(items), 0.72
    fig = _figure(10, 3.75 + _marks_height(items))
    _layout(fig, 0.85, 1.2, top_margin, bottom_margin)
    axes_height = fig.get_size_inches()[1] - top_margin - bottom_margin
    ax = fig.add_subplot()
    handles: list[object] = []
    names: list[str] = []
    labels = []
    top = 1.2
    banded_any = False
    for index, (destination, (frame, banded)) in enumerate(series):
        st = style(index)
        x, values = _month_steps(frame)
        if banded:
            banded_any = True
            ax.fill_between(
                x,
                values["q10"].to_numpy(dtype=float),
                values["q90"].to_numpy(dtype=float),
                facecolor=mpl.colors.to_rgba(st.color, 0.13),
                edgecolor=mpl.colors.to_rgba(st.color, 0.5),
                hatch=st.hatch,
                linewidth=0,
                step="post",
                zorder=2,
            )
        y = values["q50"].to_numpy(dtype=float)
        ax.step(x, y, where="post", color=st.color, linestyle=st.linestyle, lw=1.8, zorder=3)
        top = max(top, float(np.nanmax(values["q90"].to_numpy(dtype=float))) * 1.08)
        labels.append((float(y[-1]), f"{destination} {y[-1] * 100:.0f}%", st.color))
        line = mpl.lines.Line2D([], [], color=st.color, linestyle=st.linestyle, linewidth=1.8)
        handles.append(_band_handle(st.color, st.hatch, line) if banded else line)
        names.append("world (all buyers)" if destination == "world" else f"{destination} buyers")
    ax.axhline(1.0, color="#555", linewidth=0.8, zorder=1.6)
    ax.annotate(
        "normal supply",
        xy=(0.0, 1.0),
        xycoords=("axes fraction", "data"),
        xytext=(3, 2),
        textcoords="offset points",
        fontsize=7,
        color="#333",
        va="bottom",
    )
    start, end = span(outputs)
    _date_axis(ax, start, end)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value * 100:.0f}%"))
    ax.set_ylabel("share of normal supply")
    _draw_marks(ax, items)
    ax.legend(
        handles,
        names,
        loc="upper left",
        bbox_to_anchor=(0, -0.36 / axes_height),
        ncols=2,
        handlelength=3,
        borderaxespad=0,
    )
    _end_labels(ax, labels)
    what = (
        f"median line, P10-P90 band over {branch.runs} runs"
        if banded_any
        else "one run (the replayed run)"
    )
    _title(
        fig,
        f"Chinese rare-earth supply delivered, by month: {branch.id}",
        f"flow index: share of normal direct supply delivered (above 100% while buyers restock); "
        f"{what}",
    )
    return _save(fig, "flows")


# --- (f): buffers and sensitivity --------------------------------------------------------


def buffers_chart(outputs: Outputs, branch: Branch) -> dict[str, bytes]:
    """(f) Days of cover needed vs held now, per plant (buffers.csv)."""
    table = outputs.buffers(branch)
    if table is None or not {"firm_id", "days_of_cover_now", "days_needed"} <= set(table.columns):
        return {}
    names = dict(zip(plants(branch)["firm_id"], plants(branch)["name"], strict=True))
    frame = table.copy()
    frame["now"] = pd.to_numeric(frame["days_of_cover_now"], errors="coerce").astype(float)
    frame["needed"] = pd.to_numeric(frame["days_needed"], errors="coerce").astype(float)
    # a plant no multiple saves (days_needed blank) has the largest shortfall
    frame["gap"] = (frame["needed"] - frame["now"]).fillna(np.inf)
    frame = frame.sort_values(["gap", "firm_id"], ascending=[False, True], kind="stable")
    frame = frame.head(MAX_BARS).iloc[::-1].reset_index(drop=True)
    if frame.empty:
        return {}
    height = 1.75 + 0.3 * len(frame)
    fig = _figure(10, height)
    _layout(fig, 3.0, 1.6, 0.75, 0.9)
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    now = frame["now"].fillna(0).to_numpy(dtype=float)
    needed = frame["needed"].to_numpy(dtype=float)
    ax.barh(
        y,
        np.nan_to_num(needed),
        height=0.7,
        facecolor="white",
        edgecolor="#000",
        hatch="////",
        lw=0.6,
    )
    ax.barh(y, now, height=0.4, color=OKABE_ITO[0])
    multiple = (
        pd.to_numeric(frame["multiple"], errors="coerce")
        if "multiple" in frame
        else frame["needed"] / frame["now"].replace(0, np.nan)
    )
    for i, row in frame.iterrows():
        if np.isfinite(row["needed"]):
            times = multiple.iloc[i]
            text = f"{fmt.count(row['needed'])} days"
            if np.isfinite(times):
                text += f" ({times:g}x now)"
            x = max(row["needed"], row["now"])
        else:
            text = "no multiple tried was enough"
            x = row["now"]
        ax.annotate(
            text,
            xy=(x, i),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
            annotation_clip=False,
        )
    ax.set_xlim(0, max(1.0, float(np.nanmax(np.r_[needed, now]))) * 1.05)
    ax.set_yticks(y)
    ax.set_yticklabels([_short(names.get(f, f), 44) for f in frame["firm_id"].astype(str)])
    ax.tick_params(axis="y", labelsize=7.5, length=0)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("days of cover")
    fig.legend(
        [
            Patch(facecolor="white", edgecolor="#000", hatch="////", lw=0.6),
            Patch(color=OKABE_ITO[0]),
        ],
        ["days of cover needed", "days of cover now"],
        loc="lower right",
        bbox_to_anchor=(0.99, 0.02),
        ncols=2,
    )
    confidence = ""
    if "confidence" in frame and frame["confidence"].notna().any():
        confidence = f" at {fmt.share(frame['confidence'].dropna().iloc[0])} confidence"
    runs = ""
    if "runs" in frame and frame["runs"].notna().any():
        runs = f"; {fmt.count(frame['runs'].dropna().iloc[0])} paired runs per candidate"
    _title(
        fig,
        f"Buffers needed{confidence}: {branch.id}",
        f"to keep running after the branch point; plants sorted by shortfall{runs}",
    )
    return _save(fig, f"buffers_{slug(branch.id)}")


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def tornado_chart(sensitivity: pd.DataFrame, branch: str) -> dict[str, bytes]:
    """(f) The parameters that move the result most: value at the low and high setting.

    One metric per chart (the branch's first in the file); settings that break the scenario
    (no value) are counted in the subtitle and listed in the report's table.
    """
    rows = sensitivity[sensitivity["branch"].astype(str) == branch].copy()
    metric = ""
    if "metric" in rows and not rows.empty:
        metric = str(rows["metric"].fillna("").astype(str).iloc[0])
        rows = rows[rows["metric"].fillna("").astype(str) == metric]
    rows["low"] = _numbers(rows, "value_at_low")
    rows["high"] = _numbers(rows, "value_at_high")
    whole = np.isfinite(rows["low"]) & np.isfinite(rows["high"])
    broken = int((~whole).sum())
    rows = rows[whole]
    if rows.empty:
        return {}
    effect = _numbers(rows, "effect")
    rows["size"] = effect.abs().where(np.isfinite(effect), (rows["high"] - rows["low"]).abs())
    rows = rows.sort_values("size", ascending=False, kind="stable").head(15).iloc[::-1]
    show, _ = metric_format(metric)
    baseline = _numbers(rows, "baseline").dropna()
    base = float(baseline.iloc[0]) if len(baseline) else None
    height = 1.9 + 0.42 * len(rows)
    fig = _figure(10, height)
    _layout(fig, 2.4, 0.5, 0.75, 1.05)
    ax = fig.add_subplot()
    for y, row in enumerate(rows.itertuples(index=False)):
        low, high = float(row.low), float(row.high)
        up = high >= low
        colour, hatch = (OKABE_ITO[1], "////") if up else (OKABE_ITO[0], "....")
        ax.barh(
            y,
            abs(high - low),
            left=min(low, high),
            height=0.55,
            facecolor=mpl.colors.to_rgba(colour, 0.35),
            edgecolor=colour,
            hatch=hatch,
            lw=0.8,
        )
        ax.plot([low], [y], marker="o", color="#000", ms=4)
        ax.plot([high], [y], marker="s", color="#000", ms=4)
        for value, label, left in ((low, row.low_label, up), (high, row.high_label, not up)):
            ax.annotate(
                f"{_short(label, 18)}: {show(value)}",
                xy=(value, y),
                xytext=(-5 if left else 5, 0),
                textcoords="offset points",
                ha="right" if left else "left",
                va="center",
                fontsize=7,
            )
    if base is not None:
        ax.axvline(base, color="#333", linewidth=0.9, linestyle=(0, (4, 2)), zorder=1.5)
        ax.annotate(
            f"base {show(base)}",
            xy=(base, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            annotation_clip=False,
        )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(p, 32) for p in rows["parameter"].astype(str)])
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="y", visible=False)
    values = [*rows["low"], *rows["high"], *([base] if base is not None else [])]
    lo, hi = float(min(values)), float(max(values))
    pad = (hi - lo) * 0.35 or abs(hi) * 0.2 or 1.0
    ax.set_xlim(lo - pad, hi + pad)
    if show is not fmt.count:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: show(value)))
    label = metric_text(metric) if metric else "value added lost since the branch point"
    ax.set_xlabel(f"{label} (circle: low setting, square: high setting)")
    fig.legend(
        [
            Patch(
                facecolor=mpl.colors.to_rgba(OKABE_ITO[1], 0.35),
                edgecolor=OKABE_ITO[1],
                hatch="////",
            ),
            Patch(
                facecolor=mpl.colors.to_rgba(OKABE_ITO[0], 0.35),
                edgecolor=OKABE_ITO[0],
                hatch="....",
            ),
        ],
        ["high setting raises the result", "high setting lowers it"],
        loc="lower right",
        bbox_to_anchor=(0.99, 0.02),
        ncols=2,
    )
    subtitle = "each parameter at its low and high value, all else as in the base runs"
    if broken:
        subtitle += f"; {broken} setting{'s' if broken != 1 else ''} break the scenario (table)"
    _title(fig, f"What moves the result most: {branch}", subtitle)
    return _save(fig, f"tornado_{slug(branch)}")


# --- entry -----------------------------------------------------------------------------


Chart = tuple[str, Callable[[], dict[str, bytes]]]  # (name, draw it)


def plan(outputs: Outputs, group: str | None = None) -> list[Chart]:
    """Every chart the outputs may allow, in file order, each as (name, draw)."""
    charts: list[Chart] = [
        ("stopped", lambda: stopped_chart(outputs)),
        ("value_lost", lambda: value_lost_chart(outputs)),
    ]
    for branch in outputs.branches:
        charts.append(
            (f"stopped_share_{branch.id}", partial(stopped_share_chart, outputs, branch, group))
        )
    charts.append(("policy", lambda: policy_chart(outputs)))
    charts.append(("flows", lambda: flows_chart(outputs)))
    for branch in outputs.branches:
        charts.append((f"buffers_{branch.id}", partial(buffers_chart, outputs, branch)))
    sensitivity = outputs.table("sensitivity")
    needed = {"branch", "parameter", "low_label", "high_label", "value_at_low", "value_at_high"}
    if sensitivity is not None and needed <= set(sensitivity.columns):
        for branch in outputs.branches:
            charts.append((f"tornado_{branch.id}", partial(tornado_chart, sensitivity, branch.id)))
    return charts


def _cost(chart: Chart) -> int:
    """Heavier charts first when several processes draw: heat strips, then the policy panels."""
    name = chart[0]
    return 0 if name.startswith("stopped_share_") else 1 if name == "policy" else 2


_SHARED: list[Chart] = []  # the plan, inherited by forked workers


def _worker() -> None:
    """A drawing process leaves Ctrl-C to its parent (which stops the pool) and dies of
    SIGTERM and SIGHUP plainly, without the parent's handlers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def _draw(index: int) -> dict[str, bytes]:
    with mpl.rc_context(_RC):
        return _SHARED[index][1]()


def render(outputs: Outputs, group: str | None = None, jobs: int = 1) -> dict[str, bytes]:
    """Every chart the outputs allow, as file name -> bytes (PNG and SVG of each).

    `jobs` > 1 draws them in that many forked processes (on Linux; elsewhere here): the same
    bytes in the same order as drawn here, in less time on several free cores.
    """
    charts = plan(outputs, group)
    order = sorted(range(len(charts)), key=lambda i: (_cost(charts[i]), i))
    jobs = min(jobs, len(charts))
    drawn: dict[int, dict[str, bytes]] = {}
    if jobs > 1 and sys.platform.startswith("linux"):  # fork is safe there (not on macOS)
        _SHARED[:] = charts
        pool = ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("fork"), initializer=_worker
        )
        try:
            drawn = dict(zip(order, pool.map(_draw, order), strict=True))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            _SHARED.clear()
        pool.shutdown()
    else:
        with mpl.rc_context(_RC):
            drawn = {i: charts[i][1]() for i in order}
    files: dict[str, bytes] = {}
    for i in range(len(charts)):
        files.update(drawn[i])
    return files


def write_charts(out_dir: Path, group: str | None = None) -> dict[str, bytes]:
    """The charts of an output folder: `{"charts/stopped.png": b"...", ...}`.

    Pure except for reading the folder: the caller writes the files (the CLI does, atomically).
    `group` puts the plants of that firm group first in the heat-strip charts.
    """
    return render(load(out_dir), group)
