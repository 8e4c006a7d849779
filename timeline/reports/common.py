"""What the charts and the page share, without matplotlib: branch and plant lists, the
horizon, file-name slugs, how a sensitivity metric is named and formatted, the cores to use.

Kept apart from `timeline.reports.charts` so that a report without charts (`--no-charts`)
never imports matplotlib.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

import pandas as pd

from timeline.reports import fmt
from timeline.reports.files import Branch, Outputs


def slug(text: str) -> str:
    """A file-name-safe form of a branch id."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "branch"


def _parse_date(value: object) -> dt.date | None:
    if fmt.is_missing(value):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def span(outputs: Outputs) -> tuple[dt.date | None, dt.date | None]:
    """The horizon: run.json's start and end, else the dates of timeline.csv or bands.csv."""
    meta = outputs.meta
    start, end = _parse_date(meta.get("start")), _parse_date(meta.get("end"))
    if start and end:
        return start, end
    for branch in outputs.branches:
        for name in ("timeline", "bands"):
            table = branch.table(name)
            if table is not None and "date" in table and table["date"].notna().any():
                first, last = table["date"].min(), table["date"].max()
                return start or first.date(), end or last.date()
    return start, end


def plants(branch: Branch) -> pd.DataFrame:
    """The plants of a branch: firm_id, name, sector, group (firm_risk.csv, else firms.csv)."""
    for name in ("firm_risk", "firms"):
        table = branch.table(name)
        if table is not None and "firm_id" in table.columns:
            frame = pd.DataFrame({"firm_id": table["firm_id"].astype(str)})
            for column in ("name", "sector", "group"):
                values = table[column] if column in table.columns else ""
                frame[column] = pd.Series(values, index=table.index).fillna("").astype(str)
            frame.loc[frame["name"] == "", "name"] = frame["firm_id"]
            return frame.drop_duplicates("firm_id").reset_index(drop=True)
    return pd.DataFrame(columns=["firm_id", "name", "sector", "group"])


def order_plants(frame: pd.DataFrame, group: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Sections of plants: the given group first (if any plant is in it), then each sector."""
    frame = frame.sort_values(["sector", "name", "firm_id"], kind="stable")
    sections = []
    if group:
        chosen = frame["group"] == group
        if chosen.any():
            sections.append((f"group: {group}", frame[chosen]))
            frame = frame[~chosen]
    for sector, rows in frame.groupby("sector", sort=True):
        sections.append((str(sector) or "no sector", rows))
    return sections


def metric_text(metric: str) -> str:
    """A sensitivity.csv `metric` in words."""
    found = re.match(r"^p_stop_since_branch\[(.*)\]$", metric)
    if found:
        return f"chance that {found.group(1)} stops after the branch point"
    labels = {
        "value_added_lost_since_branch_usd_q50": "value added lost since the branch point (P50)",
        "output_lost_since_branch_usd": "output lost since the branch point",
    }
    return labels.get(metric, metric.replace("_", " "))


def metric_format(metric: str) -> tuple[Any, Any]:
    """(formatter, signed formatter) of a sensitivity.csv `metric`'s values."""
    if metric.startswith("p_"):
        return fmt.share, signed_share
    if "_usd" in metric or not metric:
        return fmt.money, fmt.signed_money
    return fmt.count, fmt.signed_count


def signed_share(value: Any) -> str:
    """A difference of probabilities in percentage points: `+12 pts`, `-3 pts`, `0 pts`."""
    if fmt.is_missing(value):
        return fmt.MISSING
    points = float(value) * 100
    return f"{'+' if round(points) > 0 else ''}{points:.0f} pts"


def cores() -> int:
    """The cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def free_cores() -> int:
    """The cores not already busy: `cores()` less the load of the last minute (rounded down),
    at least 1. Several processes draw charts faster only where cores are free; on a machine
    whose cores are taken they would add work and save no time."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores()
    return max(1, cores() - int(load))
