"""One self-contained `report.html` from an output folder: the answer first, then the evidence.

Order: the answer (branches side by side: first stop, plants stopped at peak, value added lost,
each as P50 (P10 to P90), and the paired differences), the key dates, the charts, a table per
plant, buffers and sensitivity where present, and a reporting section after the STRESS-DES
guidelines for discrete-event simulation studies (purpose and scope, logic, data and
parameters, experimentation, implementation, what the model leaves out).

Self-contained: images are inline base64 PNG, styles inline, no script, no request leaves the
file. Every text that comes from the output files is escaped. Built for print too: A4 and
Letter (`@page` margins, no fixed widths), tables and figures kept whole where they fit.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from timeline.reports import fmt
from timeline.reports.common import (
    metric_format,
    metric_text,
    order_plants,
    plants,
    slug,
    span,
)
from timeline.reports.files import Branch, Outputs, load

Cell = str  # HTML already escaped
#: How a report.html of timeline starts its generator tag (what marks the file as ours).
GENERATOR = '<meta name="generator" content="timeline'
_ISO = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def e(value: Any) -> str:
    """Escaped text of any value; missing -> `-`."""
    if not isinstance(value, str) and fmt.is_missing(value):
        return fmt.MISSING
    return html.escape(str(value), quote=True)


def _first_stop(value: Any) -> str:
    return "no stop" if fmt.is_missing(value) else fmt.date(value)


# --- headline figures ------------------------------------------------------------------

#: compare.csv's measures: (column stem, label, formatter).
MEASURES: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("first_stop_since_branch", "First plant stops", _first_stop),
    ("peak_firms_stopped_since_branch", "Plants stopped at the peak", fmt.count),
    ("value_added_lost_since_branch_usd", "Value added lost", fmt.money),
)
MEASURES_ALL: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("first_stop", "First plant stops", _first_stop),
    ("peak_firms_stopped", "Plants stopped at the peak", fmt.count),
    ("value_added_lost_usd", "Value added lost", fmt.money),
    ("firms_ever_stopped", "Plants that ever stop", fmt.count),
)
#: Shown only where the outputs have it (one run): the gross value of output lost.
SECONDARY = (("output_lost_usd", "Gross output lost (parts counted again in products)", fmt.money),)


def _quantiles(values: pd.Series, dates: bool = False) -> dict[str, Any]:
    """q10/q50/q90 as compare.csv has them (numpy's `inverted_cdf`: a value some run had),
    with "never" (a missing date) counted as later than any date."""
    if dates:
        days = values.map(lambda v: np.inf if pd.isna(v) else pd.Timestamp(v).toordinal())
        out = {}
        for q in (10, 50, 90):
            points = days.to_numpy(dtype=float)
            value = float(np.quantile(points, q / 100, method="inverted_cdf"))
            out[f"q{q}"] = None if np.isinf(value) else dt.date.fromordinal(int(value))
        return out
    numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if not len(numbers):
        return {"q10": None, "q50": None, "q90": None}
    return {
        f"q{q}": float(np.quantile(numbers, q / 100, method="inverted_cdf")) for q in (10, 50, 90)
    }


#: One-run figures (compare.csv of `--runs 1` and run.json's summary) by stem.
SINGLE_RUN_KEYS = {
    "first_stop": "first_stop_date",
    "peak_firms_stopped": "peak_firms_stopped",
    "value_added_lost_usd": "value_added_lost_usd",
    "firms_ever_stopped": "firms_ever_stopped",
    "output_lost_usd": "output_lost_usd",
    "first_stop_since_branch": "first_stop_since_branch_date",
    "peak_firms_stopped_since_branch": "peak_firms_stopped_since_branch",
    "value_added_lost_since_branch_usd": "value_added_lost_since_branch_usd",
}
#: runs.csv's columns by stem: (column, is a date).
_RUNS_COLUMNS = {
    "first_stop": ("first_stop_date", True),
    "peak_firms_stopped": ("peak_firms_stopped", False),
    "value_added_lost_usd": ("value_added_lost_usd", False),
    "first_stop_since_branch": ("first_stop_since_branch_date", True),
    "peak_firms_stopped_since_branch": ("peak_firms_stopped_since_branch", False),
    "value_added_lost_since_branch_usd": ("value_added_lost_since_branch_usd", False),
    "firms_ever_stopped": ("firms_ever_stopped", False),
}


def headline(outputs: Outputs) -> dict[str, dict[str, Any]]:
    """Per branch, a row of compare.csv's columns (`<stem>_q10/q50/q90`, ...).

    Taken from compare.csv; what it lacks from runs.csv (quantiles over runs), then from
    one-run figures (compare.csv of one run or run.json's summary: P10 = P50 = P90).
    """
    compare = outputs.table("compare")
    given: dict[str, dict[str, Any]] = {}
    if compare is not None and "branch" in compare:
        given = {str(row["branch"]): row for row in compare.to_dict("records")}
    rows = {}
    for branch in outputs.branches:
        row = {"branch": branch.id, "title": branch.title, "runs": branch.runs}
        row.update(given.get(branch.id, {}))
        runs = branch.table("runs")
        for stem, (column, dates) in _RUNS_COLUMNS.items():
            if f"{stem}_q50" in row or runs is None or column not in runs or not len(runs):
                continue
            for q, value in _quantiles(runs[column], dates).items():
                row[f"{stem}_{q}"] = value
        since = "first_stop_since_branch_date"
        if (
            "p_any_stop_since_branch" not in row
            and runs is not None
            and since in runs
            and len(runs)
        ):
            row["p_any_stop_since_branch"] = float(runs[since].notna().mean())
        summary = branch.meta.get("summary")
        # run.json's summary is the replayed run: the answer of a one-run folder only
        summary = summary if isinstance(summary, dict) and branch.runs <= 1 else {}
        for stem, key in SINGLE_RUN_KEYS.items():
            if f"{stem}_q50" in row:
                continue
            for source in (given.get(branch.id, {}), summary):
                if f"{stem}_q50" in source:
                    row.update({f"{stem}_q{q}": source.get(f"{stem}_q{q}") for q in (10, 50, 90)})
                    break
                if key in source:
                    row.update({f"{stem}_q{q}": source[key] for q in (10, 50, 90)})
                    break
        rows[branch.id] = row
    return rows


def band_cell(row: dict[str, Any], stem: str, show: Callable[[Any], str]) -> str:
    """`P50 (P10 to P90)` of one measure of one branch, or `-` when it is not there."""
    if f"{stem}_q50" not in row:
        return fmt.MISSING
    return fmt.band(row.get(f"{stem}_q50"), row.get(f"{stem}_q10"), row.get(f"{stem}_q90"), show)


# --- small HTML builders ---------------------------------------------------------------


def table(
    header: list[str],
    rows: Iterable[list[Cell]],
    cls: str = "",
    caption: str = "",
    numeric: Iterable[int] = (),
) -> str:
    """A table of cells that are already escaped HTML. `numeric`: columns aligned right."""
    right = set(numeric)
    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}>"]
    if caption:
        out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>")
    out += [f"<th{' class=num' if i in right else ''}>{h}</th>" for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        row = [_ISO.sub(r'<span class="d">\1</span>', c) for c in row]
        cells = [f"<td{' class=num' if i in right else ''}>{c}</td>" for i, c in enumerate(row)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def figure(png: bytes, alt: str, caption: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    attr = f' class="{cls}"' if cls else ""
    return (
        f'<figure{attr}><img src="data:image/png;base64,{data}" alt="{e(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _meta(branch: Branch, key: str) -> Any:
    return branch.meta.get(key)


def _branch_head(branch: Branch) -> str:
    head = f"<span class=bid>{e(branch.id)}</span>"
    if branch.title != branch.id:
        head += f"<br><span class=bt>{e(branch.title)}</span>"
    return head


# --- sections --------------------------------------------------------------------------


def answer_section(outputs: Outputs) -> str:
    rows = headline(outputs)
    branches = [b for b in outputs.branches if b.id in rows]
    point = _meta(outputs.first, "branch_point")
    start, end = span(outputs)
    parts = ['<section id="answer"><h2>The answer</h2>']
    parts.append(lead_sentence(outputs, rows))
    if len(branches) == 1:
        parts.append(
            f"<p class=lead>This report covers one branch, <b>{e(branches[0].id)}</b>: no "
            "other branch beside it and no paired differences. For every branch side by side "
            "and their differences in the same runs, run <code>timeline simulate --branch "
            "all</code>.</p>"
        )
    header = ["", *[_branch_head(b) for b in branches]]
    body: list[list[Cell]] = []
    since = f"From the branch point ({e(point)}) on" if point else "From the branch point on"
    body.append([f"<b>{since}</b>", *["" for _ in branches]])
    for stem, label, show in MEASURES:
        body.append([e(label), *[e(band_cell(rows[b.id], stem, show)) for b in branches]])
    if any("p_any_stop_since_branch" in rows[b.id] for b in branches):
        cells = [e(fmt.share(rows[b.id].get("p_any_stop_since_branch"))) for b in branches]
        body.append([e("Chance that any plant stops"), *cells])
    body.append([f"<b>Whole horizon ({e(start)} to {e(end)})</b>", *["" for _ in branches]])
    for stem, label, show in MEASURES_ALL:
        body.append([e(label), *[e(band_cell(rows[b.id], stem, show)) for b in branches]])
    for stem, label, show in SECONDARY:
        if any(f"{stem}_q50" in rows[b.id] for b in branches):
            cells = [
                f"<span class=sub>{e(band_cell(rows[b.id], stem, show))}</span>" for b in branches
            ]
            body.append([f"<span class=sub>{e(label)}</span>", *cells])
    body.append([e("Runs"), *[e(fmt.count(rows[b.id].get("runs", b.runs))) for b in branches]])
    parts.append(table(header, body, cls="answer", numeric=range(1, len(header))))
    parts.append(
        "<p class=note><i>Value added lost</i>: each plant's own share of the output it could "
        "not make (its output value times its sector's value-added share), so a motor is not "
        "counted again inside the car; output made up later is deferred, not lost.</p>"
    )
    runs = max(b.runs for b in outputs.branches)
    if runs > 1:
        parts.append(
            f"<p class=note>Each figure is the median over {runs} runs per branch, P50, with the "
            "range that holds the middle 80% of runs in brackets (P10 to P90). Runs are paired: "
            "run <i>i</i> draws the same random numbers in every branch, so branches differ only "
            "by what happens in them. A first stop shown as <i>no stop</i> means that share of "
            "runs has no stop by the end of the horizon.</p>"
        )
    else:
        parts.append(
            "<p class=note>One run per branch: each figure is that run's; there is no range. "
            "Run more (the ensemble) before reading differences between branches.</p>"
        )
    parts.append(paired_block(outputs))
    parts.append("</section>")
    return "\n".join(parts)


def _metric(metric: str) -> tuple[str, Callable[[Any], str]]:
    labels = {
        "value_added_lost_since_branch_usd": "Value added lost since the branch point",
        "value_added_lost_usd": "Value added lost",
        "output_lost_since_branch_usd": "Value of output lost since the branch point",
        "output_lost_usd": "Gross output lost",
        "peak_firms_stopped_since_branch": "Plants stopped at the peak since the branch point",
        "peak_firms_stopped": "Plants stopped at the peak",
        "firms_ever_stopped": "Plants that ever stop",
    }
    show = fmt.signed_money if metric.endswith("_usd") else fmt.signed_count
    return labels.get(metric, metric.replace("_", " ").capitalize()), show


PAIRED_MAIN = "value_added_lost_since_branch_usd"


def paired_rows(paired: pd.DataFrame) -> list[dict[str, Any]]:
    """paired.csv's rows, each pair of branches once: paired.csv has both directions (`a
    minus b` and `b minus a`); the direction kept is the one in which the first branch loses
    more value added (P50 of the difference at least 0), else the file's first."""
    records = paired.to_dict("records")
    by_key = {(str(r["branch"]), str(r["versus"]), str(r["metric"])): r for r in records}
    pairs: list[tuple[str, str]] = []
    for r in records:
        a, b = str(r["branch"]), str(r["versus"])
        if (a, b) not in pairs and (b, a) not in pairs:
            pairs.append((a, b))
    out = []
    for a, b in pairs:
        main, mirror = by_key.get((a, b, PAIRED_MAIN)), by_key.get((b, a, PAIRED_MAIN))
        if main is not None and mirror is not None:
            q50 = main.get("q50")
            if not fmt.is_missing(q50) and float(q50) < 0:
                a, b = b, a
        out += [r for r in records if (str(r["branch"]), str(r["versus"])) == (a, b)]
    return out


def paired_block(outputs: Outputs) -> str:
    paired = outputs.table("paired")
    needed = {"branch", "versus", "metric", "q10", "q50", "q90"}
    if paired is None or paired.empty or not needed <= set(paired.columns):
        return ""
    body = []
    for row in paired_rows(paired):
        label, show = _metric(str(row["metric"]))
        body.append(
            [
                f"<b>{e(row['branch'])}</b> minus {e(row['versus'])}",
                e(label),
                e(fmt.band(row["q50"], row["q10"], row["q90"], show)),
                e(show(row.get("mean"))),
                e(fmt.share(row.get("p_worse"))),
            ]
        )
    return (
        "<h3>Paired differences between branches</h3>"
        + table(
            ["Branches", "Measure", "Difference P50 (P10 to P90)", "Mean", "Worse in"],
            body,
            cls="paired",
            numeric=(2, 3, 4),
        )
        + "<p class=note>The difference is taken run by run (same run in both branches); each "
        "pair once, the branch that loses more value added first. <i>Worse in</i>: the share "
        "of runs in which the first branch is worse than the second.</p>"
    )


def lead_sentence(outputs: Outputs, rows: dict[str, dict[str, Any]]) -> str:
    """One plain sentence: which branch loses most and least since the branch point."""
    stem = "value_added_lost_since_branch_usd"
    values = {
        b: float(r[f"{stem}_q50"])
        for b, r in rows.items()
        if not fmt.is_missing(r.get(f"{stem}_q50"))
    }
    if len(values) < 2:
        return ""
    worst = max(values, key=lambda b: values[b])
    best = min(values, key=lambda b: values[b])
    if values[worst] == values[best]:
        return (
            '<p class="lead">From the branch point on, every branch loses the same median '
            f"value added: {e(fmt.money(values[worst]))}.</p>"
        )
    text = (
        f"From the branch point on, <b>{e(worst)}</b> loses the most value added: "
        f"{e(band_cell(rows[worst], stem, fmt.money))}; <b>{e(best)}</b> the least: "
        f"{e(band_cell(rows[best], stem, fmt.money))}."
    )
    paired = outputs.table("paired")
    if paired is not None and {"branch", "versus", "metric", "p_worse"} <= set(paired.columns):
        match = paired[(paired["branch"] == worst) & (paired["metric"] == stem)]
        best_first = match["versus"].astype(str) == best
        match = pd.concat([match[best_first], match[~best_first]])
        for row in match.to_dict("records")[:1]:
            text += (
                f" {e(worst)} is worse than {e(row['versus'])} in "
                f"{e(fmt.share(row['p_worse']))} of paired runs."
            )
    return f'<p class="lead">{text}</p>'


def key_dates_section(outputs: Outputs) -> str:
    order: list[str] = []
    info: dict[str, dict[str, Any]] = {}
    per_branch: dict[str, dict[str, dict[str, Any]]] = {}
    for branch in outputs.branches:
        per_branch[branch.id] = {}
        for item in branch.meta.get("key_dates") or []:
            if not isinstance(item, dict):
                continue
            key = str(item.get("event_id") or item.get("title") or "")
            if key not in info:
                order.append(key)
                info[key] = item
            per_branch[branch.id][key] = item
    if not order:
        return ""
    position = {k: i for i, k in enumerate(order)}
    order.sort(key=lambda k: (str(info[k].get("date") or ""), position[k]))
    body = []
    for key in order:
        cells = []
        for branch in outputs.branches:
            item = per_branch[branch.id].get(key)
            if item is None:
                cells.append(fmt.MISSING)
                continue
            text = e(item.get("outcome") or "")
            if str(item.get("date")) != str(info[key].get("date")):
                text = f"<b>{e(item.get('date'))}</b>: {text}"
            cells.append(text)
        body.append([e(info[key].get("date")), f"{e(info[key].get('title'))}", *cells])
    header = ["Date", "Event", *[_branch_head(b) for b in outputs.branches]]
    point = _meta(outputs.first, "branch_point")
    note = (
        f"<p class=note>The branches share everything before the branch point ({e(point)}); "
        "what happens at each key date is the branch's outcome.</p>"
    )
    return (
        '<section id="key-dates"><h2>Key dates</h2>'
        + table(header, body, cls="dates")
        + note
        + "</section>"
    )


def _caption(name: str, outputs: Outputs) -> tuple[str, str]:
    """(alt text, caption HTML) of a chart file."""
    runs = max(b.runs for b in outputs.branches)
    band = (
        "Line: median over runs; shaded band: P10 to P90. "
        "Before the branch point all branches share the same runs (grey)."
        if runs > 1
        else "One run per branch."
    )
    marks = "Vertical lines: the branch point (solid) and the key dates (dashed)."
    if name == "stopped":
        return "Plants stopped over time, per branch", f"Plants stopped on each day. {band} {marks}"
    if name == "value_lost":
        return (
            "Cumulative value added lost, per branch",
            "Value added lost (each plant's own share of the output it could not make), added "
            f"up from the start. {band} {marks}",
        )
    if name == "flows":
        return (
            "Chinese rare-earth supply delivered each month",
            "The flow index: the share of normal direct Chinese rare-earth supply delivered "
            "each month, weighted by each buyer's normal purchases, for all buyers (world) and "
            "US buyers; above 100% while buyers restock. "
            + (
                "Line: median over runs; shaded band: P10 to P90."
                if runs > 1
                else "One run (the replayed run)."
            ),
        )
    if name == "policy":
        return (
            "Policy timeline per branch",
            "The policy in force each day: additional tariffs (left axis), the number of "
            "rare-earth elements under China's licensing (right axis), and when the "
            f"extraterritorial rule applies (hatched strip). {marks}",
        )
    for prefix in ("stopped_share_", "buffers_", "tornado_"):
        if name.startswith(prefix):
            branch = _branch_by_slug(outputs, name.removeprefix(prefix))
            bid = e(branch.id if branch else name.removeprefix(prefix))
            if prefix == "stopped_share_":
                what = (
                    "day by day, the share of runs in which it is stopped (darker: more runs)"
                    if runs > 1
                    else "its episodes of reduced output in the one run, darker for a deeper cut "
                    "(darkest: stopped)"
                )
                return (
                    f"When each plant stops, {bid}",
                    f"Branch <b>{bid}</b>: for each plant, {what}. Plants are grouped by "
                    f"sector. {marks}",
                )
            if prefix == "buffers_":
                return (
                    f"Buffers needed, {bid}",
                    f"Branch <b>{bid}</b>: days of cover each plant needs (hatched) to keep "
                    "running after the branch point at the stated confidence, against what it "
                    "holds now (solid).",
                )
            return (
                f"Sensitivity, {bid}",
                f"Branch <b>{bid}</b>: the result with each parameter at its low (circle) and "
                "high (square) value, the dashed line at the base runs; the widest bars matter "
                "most.",
            )
    return name, e(name)


def _branch_by_slug(outputs: Outputs, value: str) -> Branch | None:
    for branch in outputs.branches:
        if slug(branch.id) == value:
            return branch
    return None


def _chart_rank(outputs: Outputs, name: str) -> tuple[int, int, str]:
    """Charts in reading order: all-branch charts, heat strips, policy, flows, buffers, tornados;
    per-branch charts in branch order."""
    kinds = ("stopped", "value_lost", "stopped_share_", "policy", "flows", "buffers_", "tornado_")
    for rank, kind in enumerate(kinds):
        if name == kind or (kind.endswith("_") and name.startswith(kind)):
            branch = _branch_by_slug(outputs, name.removeprefix(kind))
            index = outputs.branches.index(branch) if branch else len(outputs.branches)
            return rank, index, name
    return len(kinds), 0, name


def charts_section(outputs: Outputs, charts: dict[str, bytes]) -> str:
    names = [k.removeprefix("charts/").removesuffix(".png") for k in charts if k.endswith(".png")]
    names.sort(key=lambda name: _chart_rank(outputs, name))
    if not names:
        return ""
    parts = ['<section id="charts"><h2>Charts</h2>']
    for name in names:
        alt, caption = _caption(name, outputs)
        tall = " tall" if name.startswith("stopped_share_") or name == "policy" else ""
        parts.append(figure(charts[f"charts/{name}.png"], alt, caption, cls=f"chart{tall}"))
    parts.append("</section>")
    return "\n".join(parts)


def _ordered(frame: pd.DataFrame, group: str | None) -> list[str]:
    return [fid for _, rows in order_plants(frame, group) for fid in rows["firm_id"]]


def plants_section(outputs: Outputs, group: str | None) -> str:
    parts = ['<section id="plants"><h2>Plants</h2>']
    risk = {b.id: b.table("firm_risk") for b in outputs.branches}
    risk = {k: v for k, v in risk.items() if v is not None and "firm_id" in v}
    single = {b.id: b.table("firms") for b in outputs.branches}
    single = {k: v for k, v in single.items() if v is not None and "firm_id" in v}
    info = pd.concat([plants(b) for b in outputs.branches], ignore_index=True)
    info = info.drop_duplicates("firm_id").reset_index(drop=True)
    if info.empty:
        return ""
    names = dict(zip(info["firm_id"], info["name"], strict=True))
    ids = _ordered(info, group)
    with_group = info["group"].astype(str).str.strip().ne("").any()
    lookup = info.set_index("firm_id")
    if risk:
        branches = [b for b in outputs.branches if b.id in risk]
        indexed = {k: v.drop_duplicates("firm_id").set_index("firm_id") for k, v in risk.items()}
        header = ["Plant", "Sector", "Country", *(["Group"] if with_group else [])]
        header += [f"{_branch_head(b)}" for b in branches]
        body = []
        for fid in ids:
            row = [e(names[fid]), e(lookup.at[fid, "sector"]), e(_country(indexed, fid))]
            if with_group:
                row.append(e(lookup.at[fid, "group"]))
            for b in branches:
                table_ = indexed[b.id]
                if fid not in table_.index:
                    row.append(fmt.MISSING)
                    continue
                r = table_.loc[fid]
                p = fmt.share(r.get("p_stop_since_branch"))
                lost = fmt.money(r.get("value_lost_since_branch_usd_q50"))
                row.append(f"{e(p)}<br><span class=sub>{e(lost)}</span>")
            body.append(row)
        parts.append(
            "<h3>Across branches, from the branch point on</h3>"
            + table(header, body, cls="plants", numeric=range(len(header) - len(branches), 99))
            + "<p class=note>Per branch: the chance that the plant stops after the branch "
            "point, and below it the median value added it loses after the branch "
            "point.</p>"
        )
        for b in branches:
            parts.append(_risk_table(b, indexed[b.id], ids, names))
    elif single:
        branches = [b for b in outputs.branches if b.id in single]
        indexed = {k: v.drop_duplicates("firm_id").set_index("firm_id") for k, v in single.items()}
        header = ["Plant", "Sector", *[_branch_head(b) for b in branches]]
        body = []
        for fid in ids:
            row = [e(names[fid]), e(lookup.at[fid, "sector"])]
            for b in branches:
                table_ = indexed[b.id]
                if fid not in table_.index:
                    row.append(fmt.MISSING)
                    continue
                r = table_.loc[fid]
                first = _first_stop(r.get("first_stop_date"))
                days = f"{fmt.count(r.get('days_stopped'))} days stopped"
                if not fmt.is_missing(r.get("days_curtailed")):
                    days += f", {fmt.count(r.get('days_curtailed'))} curtailed"
                value = "value_added_lost_usd" if "value_added_lost_usd" in r else "output_lost_usd"
                lost = fmt.money(r.get(value))
                row.append(f"{e(first)}<br><span class=sub>{e(days)}; {e(lost)}</span>")
            body.append(row)
        parts.append(
            table(header, body, cls="plants", numeric=range(2, 99))
            + "<p class=note>One run per branch: the plant's first stop, then its days "
            "stopped and curtailed (running below full output) and the value added it loses "
            "over the whole horizon.</p>"
        )
    else:
        return ""
    parts.append("</section>")
    return "\n".join(parts)


def _country(indexed: dict[str, pd.DataFrame], fid: str) -> str:
    for frame in indexed.values():
        if fid in frame.index and "country" in frame:
            return str(frame.at[fid, "country"])
    return ""


_BY = re.compile(r"^p_stop_by_(\d{4})_(\d{2})_(\d{2})$")


def _band_of(row: pd.Series, stem: str, show: Callable[[Any], str]) -> str:
    return fmt.band(row.get(f"{stem}_q50"), row.get(f"{stem}_q10"), row.get(f"{stem}_q90"), show)


def _risk_table(branch: Branch, frame: pd.DataFrame, ids: list[str], names: dict) -> str:
    by = [c for c in frame.columns if _BY.match(str(c))]
    header = ["Plant", "Chance of a stop"]
    header += ["by " + "-".join(_BY.match(c).groups()) for c in by]  # type: ignore[union-attr]
    header += ["First stop P50 (P10 to P90)", "Days stopped", "Value added lost"]
    body = []
    for fid in ids:
        if fid not in frame.index:
            continue
        r = frame.loc[fid]
        row = [e(names.get(fid, fid)), e(fmt.share(r.get("p_stop")))]
        row += [e(fmt.share(r.get(c))) for c in by]
        row += [
            e(_band_of(r, "first_stop", _first_stop)),
            e(_band_of(r, "days_stopped", fmt.count)),
            e(_band_of(r, "value_lost_usd", fmt.money)),
        ]
        body.append(row)
    return f"<h3>Branch {e(branch.id)}: {e(branch.title)} (whole horizon)</h3>" + table(
        header, body, cls="risk", numeric=range(1, len(header))
    )


def buffers_section(outputs: Outputs) -> str:
    parts = []
    for branch in outputs.branches:
        frame = outputs.buffers(branch)
        if frame is None:
            continue
        names = dict(zip(plants(branch)["firm_id"], plants(branch)["name"], strict=True))
        frame = frame.copy()
        now = pd.to_numeric(frame.get("days_of_cover_now"), errors="coerce")
        need = pd.to_numeric(frame.get("days_needed"), errors="coerce")
        frame["_gap"] = (need - now).fillna(np.inf)
        frame = frame.sort_values(["_gap", "firm_id"], ascending=[False, True], kind="stable")
        body = []
        for r in frame.to_dict("records"):
            needed = r.get("days_needed")
            missing = fmt.is_missing(needed)
            multiple = r.get("multiple")
            body.append(
                [
                    e(names.get(r["firm_id"], r["firm_id"])),
                    e(fmt.count(r.get("days_of_cover_now"))),
                    e("not found" if missing else fmt.count(needed)),
                    e(fmt.MISSING if fmt.is_missing(multiple) else f"{float(multiple):g}x"),
                    e(fmt.MISSING if missing else fmt.signed_count(r.get("_gap"))),
                    e(fmt.share(r.get("p_stop_now"))),
                    e(fmt.share(r.get("p_stop_at_answer"))),
                ]
            )
        confidence = frame["confidence"].dropna() if "confidence" in frame else pd.Series()
        level = f" at {fmt.share(confidence.iloc[0])} confidence" if len(confidence) else ""
        how = []
        runs = frame["runs"].dropna() if "runs" in frame else pd.Series()
        if len(runs):
            how.append(f"{fmt.count(runs.iloc[0])} paired runs per candidate")
        tolerance = frame["tolerance"].dropna() if "tolerance" in frame else pd.Series()
        if len(tolerance):
            how.append(f"multiple found to {float(tolerance.iloc[0]) * 100:g}%")
        parts.append(
            f"<h3>Branch {e(branch.id)}{e(level)}</h3>"
            + table(
                [
                    "Plant",
                    "Days of cover now",
                    "Days needed",
                    "Multiple of now",
                    "Shortfall",
                    "Chance of a stop now",
                    "with the days needed",
                ],
                body,
                cls="buffers",
                numeric=range(1, 7),
            )
            + (f"<p class=note>{e('; '.join(how).capitalize())}.</p>" if how else "")
        )
    if not parts:
        return ""
    return (
        '<section id="buffers"><h2>Buffers</h2><p class=note>Days of cover each plant needs so '
        "that it does not stop after the branch point, at the stated confidence, against what "
        "it holds now: its rare-earth stock and parts buffers scaled together by one multiple "
        "(the smallest that is enough), the same paired runs for every candidate. "
        "<i>Not found</i>: no multiple up to 32 times its stocks is enough.</p>"
        + "\n".join(parts)
        + "</section>"
    )


def sensitivity_section(outputs: Outputs) -> str:
    frame = outputs.table("sensitivity")
    needed = {"branch", "parameter", "low_label", "high_label", "value_at_low", "value_at_high"}
    if frame is None or frame.empty or not needed <= set(frame.columns):
        return ""
    body = []
    metrics: list[str] = []
    for r in frame.to_dict("records"):
        metric = "" if fmt.is_missing(r.get("metric")) else str(r.get("metric"))
        if metric not in metrics:
            metrics.append(metric)
        show, signed = metric_format(metric)
        effect = r.get("effect")
        if "effect" not in r:
            effect = r["value_at_high"] - r["value_at_low"]
        note = "" if fmt.is_missing(r.get("note")) else str(r.get("note"))
        body.append(
            [
                e(r["branch"]),
                e(r["parameter"]),
                f"{e(r['low_label'])} to {e(r['high_label'])}",
                e(show(r["value_at_low"])),
                e(show(r["value_at_high"])),
                e(signed(effect)),
                e(note) if note else "",
            ]
        )
    what = "; ".join(metric_text(m) for m in metrics if m) or "the result"
    base = ""
    if "baseline" in frame and "branch" in frame:
        firsts = frame.drop_duplicates("branch")
        items = []
        for r in firsts.to_dict("records"):
            show, _ = metric_format("" if fmt.is_missing(r.get("metric")) else str(r["metric"]))
            items.append(f"{e(r['branch'])} {e(show(r.get('baseline')))}")
        base = f" In the base runs: {', '.join(items)}."
    return (
        '<section id="sensitivity"><h2>Sensitivity</h2>'
        + f"<p class=note>Result: {e(what)}.{base}</p>"
        + table(
            [
                "Branch",
                "Parameter",
                "Low to high",
                "Result at low",
                "Result at high",
                "Effect",
                "Note",
            ],
            body,
            cls="sens",
            numeric=(3, 4, 5),
        )
        + "<p class=note>Each calibrated parameter moved alone from its prior's P10 to its "
        "P90, each spread factor fixed at its P10 and P90, each key date moved 14 days earlier "
        "and later, all else as in the base runs (the same paired runs); sorted by the size of "
        "the effect. A setting that would put the key events out of order breaks the scenario "
        "and has no result.</p></section>"
    )


# --- reporting (STRESS-DES) -----------------------------------------------------------

LOGIC = (
    "Time runs in whole days from the scenario's start. A policy process applies each "
    "branch's dated events to the policy state: US and Chinese additional tariffs, China's "
    "rare-earth licensing (which elements need a licence, the review time in Chinese working "
    "days and its spread, the chance of approval by destination and end use, general "
    "licences for named groups, and whether the extraterritorial rule applies), and the US "
    "measures.",
    "Each plant is one process. It holds stocks in days of cover: its rare-earth input and a "
    "buffer of each supplier's part. An input arrives at a share of normal; the plant's output "
    "rate is set by its scarcest input: an input with stock supports full output, an empty one "
    "caps the rate at what arrives (the plant is curtailed), and rate 0 is a stop. A stopped "
    "plant restarts when every input holds a few days of cover again or flows fully, after "
    "its restart ramp.",
    "A buyer's rare-earth purchases run through channels (direct from China or not, civil or "
    "defence). A channel whose elements are licensed applies; the review takes a drawn number "
    "of China's working days, the decision approves with the chance in force that day, a "
    "denial is followed by a re-review, and an approved licence covers one cargo: it lapses "
    "after a drawn number of days, and the buyer files for the next one some working days "
    "before. Goods already shipped, and exports already declared, keep arriving for a while "
    "after a cut; after an approval goods arrive by air or by sea.",
    "A supplier that is curtailed or stopped cuts its customers' supply of its part by its "
    "share of that part; they drain their buffer of it and are curtailed or stop in turn.",
    "Lost output is valued gross (each plant's output value) and as value added (times its "
    "sector's value-added share), so that a part is not counted again inside the product; "
    "output made up later, once a plant runs fully again, is deferred, not lost.",
    "Branches share the events before the branch point; after it, each branch adds, cancels "
    "or re-dates events. The four key dates are in every branch; what happens at them is the "
    "branch's outcome.",
)
LEAVES_OUT = (
    "Prices, substitution between materials, new suppliers qualified during the horizon, "
    "smuggling and stockpile releases.",
    "Demand: lost output is valued at the plant's normal daily output (and value-added share), "
    "whatever the market would have taken.",
    "A stopped plant does not bank partial deliveries beyond its cap; suppliers' parts refill "
    "at the same restock rate as rare earths; the output rate follows the scarcest input "
    "exactly (no minimum viable rate).",
    "How long one cargo's licence lasts, how early the next is filed and which US automotive "
    "buyers the June 2025 temporary licences reached are calibrated, not reported figures.",
    "The firm table and approval chances are priors (labelled assumptions) or values "
    "calibrated to 2025's export and licence statistics, not audited firm data; read branches "
    "against each other rather than as forecasts of absolute losses.",
)


def method_section(outputs: Outputs) -> str:
    meta = outputs.meta
    parts = ['<section id="method"><h2>How this was made</h2>']
    parts.append(
        "<p class=note>Reported after the STRESS-DES guidelines for discrete-event simulation "
        "studies (Monks et al., 2019).</p>"
    )
    title = e(meta.get("scenario_title") or meta.get("scenario_id") or "the scenario")
    parts.append(
        "<h3>1. Purpose and scope</h3>"
        f"<p>A discrete-event simulation of <b>{title}</b> (scenario "
        f"<code>{e(meta.get('scenario_id'))}</code>), from {e(meta.get('start'))} to "
        f"{e(meta.get('end'))}, split into branches at {e(meta.get('branch_point'))}. It tells "
        "supply-chain planners which plants stop, when, for how long and what output is lost "
        "under each outcome, so that they can compare branches and size buffers. Outputs: "
        "plants stopped, curtailed and at risk per day, value added lost (and gross output "
        "lost), each plant's episodes of reduced output, and the monthly flow of Chinese rare "
        "earths by destination.</p>"
    )
    branches = [
        [f"<b>{e(b.id)}</b>", e(b.title), e(b.meta.get("branch_summary") or "")]
        for b in outputs.branches
    ]
    parts.append(table(["Branch", "Title", "Summary"], branches, cls="branches"))
    parts.append("<h3>2. Logic in plain words</h3><ul>")
    parts += [f"<li>{e(text)}</li>" for text in LOGIC]
    parts.append("</ul>")
    parts.append("<h3>3. Parameters and data</h3>")
    parameters = meta.get("parameters") or []
    if parameters:
        body = [
            [f"<code>{e(p.get('name'))}</code>", e(_value(p.get("value"))), e(p.get("source"))]
            for p in parameters
            if isinstance(p, dict)
        ]
        parts.append(table(["Parameter", "Value or distribution", "Source"], body, cls="params"))
    else:
        parts.append("<p>run.json lists no parameters.</p>")
    parts.append(
        "<p>Plants, their stocks, suppliers and outputs come from the scenario's firm table; "
        "events and their dates from the scenario's event files, each with its source or "
        "labelled assumption.</p>"
    )
    parts.append("<h3>4. Experimentation</h3>")
    body = []
    for b in outputs.branches:
        body.append(
            [
                f"<b>{e(b.id)}</b>",
                e(fmt.count(b.runs)),
                e(b.meta.get("seed")),
                e("yes" if b.meta.get("replay") else "no"),
                e(b.meta.get("created_at")),
                f"<code>{e(b.meta.get('command'))}</code>",
            ]
        )
    parts.append(
        table(["Branch", "Runs", "Seed", "Replay", "Created", "Command"], body, cls="runs")
    )
    parts.append(
        "<p>No warm-up: each run starts from the scenario's initial state on its start date and "
        "runs to its end date. With more than one run, run <i>i</i> of every branch uses the "
        "same seed and random draws (paired runs); the figures are quantiles over runs (P10, "
        "P50, P90). Inputs are uncertain: the runs draw the calibrated parameter sets (the "
        "posterior of <code>timeline calibrate</code>, fitted to 2025's monthly export index and "
        "licence statistics; run <i>i</i> takes set <i>i</i> modulo their number), and in an "
        "ensemble each run draws the spread factors of inventories, parts buffers and lead "
        "times once per plant. For a calibrated parameter, section 3 lists the scenario "
        "file's value; the runs use the posterior sets' values instead.</p>"
    )
    parts.append("<h3>5. Implementation</h3>")
    software = meta.get("software") or {}
    if isinstance(software, dict) and software:
        body = [[e(k), e(v)] for k, v in software.items()]
        parts.append(table(["Software", "Version"], body, cls="software"))
    parts.append(
        "<p>Event-driven: each plant is a SimPy process that sleeps until its next change. "
        "Each run has one seed; each plant draws from its own stream derived from the seed and "
        "its id, so the same inputs and seed give the same outputs. Policy events on one day "
        "run first, in a fixed order, then plants react.</p>"
    )
    parts.append(
        f"<h3>6. Code</h3><p>timeline {e(meta.get('version'))}; rerun with the command above "
        "and the same scenario files.</p>"
    )
    parts.append("<h3>7. What the model leaves out</h3><ul>")
    parts += [f"<li>{e(text)}</li>" for text in LEAVES_OUT]
    parts.append("</ul></section>")
    return "\n".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- page ------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #111; background: #fff; margin: 0 auto; padding: 24px; max-width: 1100px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; margin: 1.6em 0 .5em; padding-bottom: .2em; border-bottom: 2px solid #111; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
p.meta, p.note, figcaption, .sub { color: #444; font-size: .9em; }
p.lead { font-size: 1.1em; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4em 1.2em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; font-size: .9em; }
caption { text-align: left; font-weight: bold; }
th, td { border: 1px solid #bbb; padding: .25em .45em; text-align: left; vertical-align: top; }
thead th { background: #eee; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.answer td:first-child { font-weight: normal; white-space: nowrap; }
.bid { font-weight: bold; } .bt { font-weight: normal; color: #444; font-size: .9em; }
figure { margin: 1em 0 1.6em; }
figure img { display: block; width: 100%; height: auto; border: 1px solid #ddd; }
code { font-size: .92em; }
span.d { white-space: nowrap; }
footer { margin-top: 2em; color: #555; font-size: .85em; }
@page { margin: 14mm 12mm; }
@media print {
  body { font-size: 9.5pt; padding: 0; max-width: none; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  table { font-size: 8pt; }
  thead { display: table-header-group; }
  tr, figure, table.answer, table.paired, table.dates { break-inside: avoid;
    page-break-inside: avoid; }
  figure.tall img { max-height: 245mm; width: auto; max-width: 100%; margin: 0 auto; }
  figure img { border: none; }
  section#method { break-before: page; page-break-before: always; }
}
"""


def render_report(outputs: Outputs, charts: dict[str, bytes], group: str | None = None) -> bytes:
    """The report of already-read outputs and already-drawn charts, as UTF-8 bytes."""
    meta = outputs.meta
    title = str(meta.get("scenario_title") or meta.get("scenario_id") or "timeline")
    sections = [
        answer_section(outputs),
        key_dates_section(outputs),
        charts_section(outputs, charts),
        plants_section(outputs, group),
        buffers_section(outputs),
        sensitivity_section(outputs),
        method_section(outputs),
    ]
    names = {
        "answer": "The answer",
        "key-dates": "Key dates",
        "charts": "Charts",
        "plants": "Plants",
        "buffers": "Buffers",
        "sensitivity": "Sensitivity",
        "method": "How this was made",
    }
    present = [k for k in names if any(s.startswith(f'<section id="{k}"') for s in sections)]
    nav = "".join(f'<li><a href="#{k}">{names[k]}</a></li>' for k in present)
    runs = max(b.runs for b in outputs.branches)
    subtitle = (
        f"{len(outputs.branches)} branch{'es' if len(outputs.branches) != 1 else ''}, "
        f"{runs} run{'s' if runs != 1 else ''} per branch, seed {meta.get('seed')}, "
        f"timeline {meta.get('version')}, created {meta.get('created_at')}"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{GENERATOR} {e(meta.get("version"))}">
<title>{e(title)}: impact report</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{e(title)}</h1>
<p class="meta">Impact report: {e(subtitle)}</p>
<nav><ul>{nav}</ul></nav>
</header>
<main>
{"".join(s + chr(10) for s in sections if s)}</main>
<footer>Written by timeline from the files in this folder; rebuild with
<code>timeline report {e(outputs.folder.name)}</code>.</footer>
</body>
</html>
"""
    return page.encode("utf-8")


def build_report(
    out_dir: Path, group: str | None = None, charts: dict[str, bytes] | None = None
) -> bytes:
    """`report.html` of an output folder, as bytes. Pure except for reading the folder.

    `charts` (from `write_charts`) saves drawing them again; `group` puts the plants of that
    firm group first.
    """
    outputs = load(out_dir)
    if charts is None:
        from timeline.reports.charts import render  # matplotlib

        charts = render(outputs, group)
    return render_report(outputs, charts, group)
