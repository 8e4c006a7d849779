"""A small but realistic synthetic output folder, written without the engine.

`write_outputs(out)` writes what `timeline simulate --branch all --runs N` (plus the buffer and
sensitivity commands) leaves in `out/`, in the real output contract: compare.csv, paired.csv
(both directions of every pair), buffers.csv and sensitivity.csv at the top, and per branch
run.json, bands.csv, stopped_share.csv, firm_risk.csv, runs.csv, flows_bands.csv and the files
of the replayed run 0 (timeline.csv, firms.csv, stoppages.csv, flows.csv, events.csv).

Each plant's output rate is drawn per run and day from a seeded generator (1 full, 0 stopped,
in between curtailed: a curtailment leads into each stop); every table is derived from those
draws, so the tables agree with each other as the real ones do (same trunk before the branch
point in every branch, paired runs). Money is counted as value added: each plant's lost output
times its sector's value-added share; gross output lost is in the single-run files only.
Quantiles are numpy's `inverted_cdf` (a value some run had), as in the engine.

`write_outputs(out, runs=1)` writes what a one-run simulation leaves: run.json and the
single-run files, and with all branches compare.csv with the single run's columns.

Run as a script to write a folder to look at: `uv run python tests/report_fixtures.py OUT`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from timeline.io.output import csv_bytes

START = dt.date(2025, 4, 1)
DAYS = 640
BRANCH_POINT = dt.date(2025, 10, 30)
BRANCH_DAY = (BRANCH_POINT - START).days
AT_RISK_DAYS = 14
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
CURTAILED_RATE = 0.4  # output rate while a plant runs short before a stop

BRANCHES = {
    # id: (title, severity after the branch point, summary)
    "history": ("What happened", 0.8, "Busan truce: the Oct 9 controls are suspended for a year."),
    "concede": ("US concedes", 1.3, "The US lifts chip controls; China keeps licensing slow."),
    "deescalate": ("Both de-escalate", 0.5, "General licences; tariffs back to 10%."),
    "decouple": ("Decoupling", 2.2, "Talks fail: 100% tariffs and the extraterritorial rule."),
}
KEY_DATES = (
    ("2025-10-25", "kl-talks", "Kuala Lumpur talks"),
    ("2025-10-30", "busan-summit", "Xi-Trump summit in Busan"),
    ("2025-11-01", "tariff-deadline-nov1", "US 100% tariff deadline"),
    ("2025-12-01", "rare-earth-rules-dec1", "China's Oct 9 rules take effect"),
)
OUTCOMES = {
    "history": ("talks held", "truce agreed", "tariff cut to 10%", "rules suspended"),
    "concede": ("talks held", "US concedes", "tariff dropped", "rules apply, slow review"),
    "deescalate": ("talks held", "both step back", "tariff cut", "general licences"),
    "decouple": ("talks fail", "summit cancelled", "100% tariff applies", "rules apply in full"),
}
EVIL_NAME = '<script>alert("x")</script> Motors & Co'
#: Each sector's value-added share (as run.json's `value_added_share[...]`).
VALUE_ADDED_SHARE = {
    "magnets": 0.4,
    "automotive-tier1": 0.3,
    "automotive-oem": 0.15,
    "defence": 0.4,
    "wind": 0.3,
    "electronics": 0.25,
}
#: Monthly flow index of world buyers before the branch point (2025 as reported, roughly).
TRUNK_FLOW = (0.5, 0.26, 0.62, 1.06, 1.15, 1.18, 1.0)
DESTINATIONS = ("US", "EU", "JP", "world")


@dataclass(frozen=True)
class Firm:
    id: str
    name: str
    sector: str
    country: str
    group: str
    daily_output_usd: int
    exposure: float  # chance of a stoppage before the branch point

    @property
    def value_added_share(self) -> float:
        for prefix, share in VALUE_ADDED_SHARE.items():
            if self.sector.startswith(prefix):
                return share
        return 0.35


FIRMS = (
    Firm("jp-magnet", "Japanese NdFeB magnet maker", "magnets", "JP", "", 1_600_000, 0.5),
    Firm("us-magnet", "US mine-to-magnet plant", "magnets", "US", "watch", 900_000, 0.1),
    Firm("de-motor", "German traction-motor maker", "automotive-tier1-motors", "DE", "", 8e6, 0.7),
    Firm("us-eps", "=SUM(A1) steering systems", "automotive-tier1-eps", "US", "watch", 5e6, 0.6),
    Firm("fr-body", EVIL_NAME, "automotive-tier1-body-motors", "FR", "", 3_000_000, 0.8),
    Firm("us-oem", "US car assembly plant", "automotive-oem", "US", "watch", 120e6, 0.6),
    Firm("de-oem", "German car assembly plant", "automotive-oem", "DE", "", 150e6, 0.5),
    Firm("us-missile", "US missile seeker line", "defence", "US", "", 20e6, 0.3),
    Firm("dk-wind", "Danish wind turbine plant", "wind", "DK", "", 25e6, 0.2),
    Firm("kr-phone", "Korean handset plant", "electronics", "KR", "", 60e6, 0.1),
)


def _date(day: int | float) -> str:
    if day is None or not np.isfinite(day):
        return ""
    return (START + dt.timedelta(days=int(day))).isoformat()


def _month_starts() -> list[dt.date]:
    months, day = [], START
    while day <= START + dt.timedelta(days=DAYS - 1):
        months.append(day)
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return months


def _stop(rate: np.ndarray, start: int, end: int, lead: int, floor: int) -> None:
    """A stop on [start, end) led by `lead` curtailed days (never before `floor`)."""
    rate[max(start - lead, floor) : start] = np.minimum(
        rate[max(start - lead, floor) : start], CURTAILED_RATE
    )
    rate[start:end] = 0.0


def _draw(runs: int, seed: int) -> dict[str, np.ndarray]:
    """Per branch, an output rate[run, firm, day] array (1 full, 0 stopped). Runs are paired:
    the same trunk draws in every branch."""
    n = len(FIRMS)
    trunk = np.ones((runs, n, DAYS))
    rng = np.random.default_rng([seed, 1])
    for r in range(runs):
        for f, firm in enumerate(FIRMS):
            if rng.random() < firm.exposure:
                start = int(rng.integers(18, 150))
                length = int(rng.integers(10, 90))
                lead = int(rng.integers(0, 10))
                _stop(trunk[r, f], start, min(start + length, BRANCH_DAY), lead, 0)
    out = {}
    for b, (_, severity, _) in enumerate(BRANCHES.values()):
        rate = trunk.copy()
        rng = np.random.default_rng([seed, 2, b])
        for r in range(runs):
            for f, firm in enumerate(FIRMS):
                if rng.random() < min(0.95, firm.exposure * severity):
                    start = BRANCH_DAY + int(rng.integers(12, 220))
                    length = int(rng.integers(15, int(40 + 120 * severity)))
                    lead = int(rng.integers(0, 10))
                    _stop(rate[r, f], start, min(start + length, DAYS), lead, BRANCH_DAY)
        out[list(BRANCHES)[b]] = rate
    return out


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) stretches where mask[day] is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _episodes(rate: np.ndarray) -> list[tuple[int, int]]:
    """Episodes of reduced output: stretches where a firm's rate[day] is below 1."""
    return _stretches(rate < 1)


def _first(stopped: np.ndarray, since: int = 0) -> np.ndarray:
    """First stopped day per leading index (inf when never), counting from `since`."""
    window = stopped[..., since:]
    any_ = window.any(axis=-1)
    return np.where(any_, window.argmax(axis=-1) + since, np.inf)


def _q(values: np.ndarray, q: float, axis: int | None = None) -> np.ndarray | float:
    """The engine's quantile: numpy's inverted_cdf, `inf` for "never"."""
    out = np.quantile(values, q, axis=axis, method="inverted_cdf")
    return out if axis is not None else float(out)


def _at_risk(stopped: np.ndarray) -> np.ndarray:
    risk = np.zeros_like(stopped)
    for r in range(stopped.shape[0]):
        for f in range(stopped.shape[1]):
            for start, _ in _stretches(stopped[r, f]):
                # a firm cannot see a cut that comes after the branch point before it
                first = BRANCH_DAY if start >= BRANCH_DAY else 0
                risk[r, f, max(first, start - AT_RISK_DAYS) : start] = True
    return risk & ~stopped


def _lost(rate: np.ndarray, per_day: np.ndarray) -> np.ndarray:
    """Money lost per [run,] firm and day: the shortfall times the firm's daily value."""
    return (1.0 - rate) * per_day[:, None]


def _bands(rate: np.ndarray, added: np.ndarray) -> pd.DataFrame:
    stopped = rate <= 0
    lost = _lost(rate, added).sum(axis=1)
    series = {
        "firms_stopped": stopped.sum(axis=1),
        "firms_at_risk": _at_risk(stopped).sum(axis=1),
        "value_added_lost_usd": lost,
        "cumulative_value_added_lost_usd": np.cumsum(lost, axis=1),
    }
    parts = []
    for metric, values in series.items():
        qs = np.stack([_q(values, p, axis=0) for p in QUANTILES])
        digits = 0 if metric.endswith("usd") else 3
        part = pd.DataFrame(qs.T.round(digits), columns=["q10", "q25", "q50", "q75", "q90"])
        part.insert(0, "metric", metric)
        part.insert(0, "date", [_date(d) for d in range(DAYS)])
        part["mean"] = values.mean(axis=0).round(digits)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["date", "metric"], kind="stable").reset_index(drop=True)


def _stopped_share(stopped: np.ndarray) -> pd.DataFrame:
    rows = []
    shares = stopped.mean(axis=0)
    for f, firm in enumerate(FIRMS):
        values = shares[f]
        change = np.flatnonzero(np.diff(values) != 0) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [DAYS]]) - 1
        for start, end in zip(starts, ends, strict=True):
            if values[start] > 0:
                rows.append([firm.id, _date(start), _date(end), round(float(values[start]), 4)])
    return pd.DataFrame(rows, columns=["firm_id", "start_date", "end_date", "share_stopped"])


def _by(day: dt.date) -> int:
    return (day - START).days


def _firm_risk(rate: np.ndarray, added: np.ndarray) -> pd.DataFrame:
    stopped = rate <= 0
    first = _first(stopped)
    first_after = _first(stopped, BRANCH_DAY)
    days = stopped.sum(axis=2)
    days_after = stopped[:, :, BRANCH_DAY:].sum(axis=2)
    lost = (1.0 - rate) * added[None, :, None]
    value = lost.sum(axis=2)
    value_after = lost[:, :, BRANCH_DAY:].sum(axis=2)
    rows = []
    for f, firm in enumerate(FIRMS):
        rows.append(
            {
                "firm_id": firm.id,
                "name": firm.name,
                "sector": firm.sector,
                "country": firm.country,
                "group": firm.group,
                "p_stop": float(np.isfinite(first[:, f]).mean()),
                "p_stop_by_2025_12_31": float((first[:, f] <= _by(dt.date(2025, 12, 31))).mean()),
                "p_stop_by_2026_03_31": float((first[:, f] <= _by(dt.date(2026, 3, 31))).mean()),
                **{f"first_stop_q{q}": _date(_q(first[:, f], q / 100)) for q in (10, 50, 90)},
                **{f"days_stopped_q{q}": round(_q(days[:, f], q / 100)) for q in (10, 50, 90)},
                **{f"value_lost_usd_q{q}": round(_q(value[:, f], q / 100)) for q in (10, 50, 90)},
                "p_stop_since_branch": float(np.isfinite(first_after[:, f]).mean()),
                "first_stop_since_branch_q50": _date(_q(first_after[:, f], 0.5)),
                "days_stopped_since_branch_q50": round(_q(days_after[:, f], 0.5)),
                "value_lost_since_branch_usd_q50": round(_q(value_after[:, f], 0.5)),
            }
        )
    return pd.DataFrame(rows)


def _run_figures(rate: np.ndarray, added: np.ndarray, seed: int) -> pd.DataFrame:
    """runs.csv, with hidden columns (`_...`) kept for compare.csv and paired.csv."""
    stopped = rate <= 0
    count = stopped.sum(axis=1)
    lost = _lost(rate, added).sum(axis=1)
    first = _first(stopped.any(axis=1))
    first_after = _first(stopped.any(axis=1), BRANCH_DAY)
    return pd.DataFrame(
        {
            "run": np.arange(len(rate)),
            "seed": seed,
            "first_stop_date": [_date(d) for d in first],
            "peak_firms_stopped": count.max(axis=1),
            "value_added_lost_usd": lost.sum(axis=1).round().astype("int64"),
            "first_stop_since_branch_date": [_date(d) for d in first_after],
            "peak_firms_stopped_since_branch": count[:, BRANCH_DAY:].max(axis=1),
            "value_added_lost_since_branch_usd": lost[:, BRANCH_DAY:]
            .sum(axis=1)
            .round()
            .astype("int64"),
            "firms_ever_stopped": stopped.any(axis=2).sum(axis=1),
            "_first": first,
            "_first_after": first_after,
        }
    )


def _compare_row(branch: str, runs: pd.DataFrame) -> dict[str, object]:
    row: dict[str, object] = {"branch": branch, "title": BRANCHES[branch][0], "runs": len(runs)}
    columns = {
        "first_stop": ("_first", _date),
        "peak_firms_stopped": ("peak_firms_stopped", round),
        "value_added_lost_usd": ("value_added_lost_usd", round),
        "first_stop_since_branch": ("_first_after", _date),
        "peak_firms_stopped_since_branch": ("peak_firms_stopped_since_branch", round),
        "value_added_lost_since_branch_usd": ("value_added_lost_since_branch_usd", round),
        "firms_ever_stopped": ("firms_ever_stopped", round),
    }
    for name, (column, kind) in columns.items():
        for q in (10, 50, 90):
            row[f"{name}_q{q}"] = kind(_q(runs[column].to_numpy(dtype=float), q / 100))
    row["p_any_stop_since_branch"] = round(float(np.isfinite(runs["_first_after"]).mean()), 4)
    return row


def _paired(figures: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every ordered pair of branches, as the engine writes them."""
    rows = []
    metrics = ("value_added_lost_since_branch_usd", "peak_firms_stopped_since_branch")
    for branch in figures:
        for versus in figures:
            if branch == versus:
                continue
            for metric in metrics:
                a = figures[branch][metric].to_numpy(dtype=float)
                diff = a - figures[versus][metric].to_numpy(dtype=float)
                rows.append(
                    {
                        "branch": branch,
                        "versus": versus,
                        "metric": metric,
                        "q10": round(_q(diff, 0.1)),
                        "q50": round(_q(diff, 0.5)),
                        "q90": round(_q(diff, 0.9)),
                        "mean": round(float(diff.mean())),
                        "p_worse": round(float((diff > 0).mean()), 4),
                    }
                )
    return pd.DataFrame(rows)


def _flow_draws(runs: int, seed: int, branch: str) -> np.ndarray:
    """flow[run, destination, month]: share of normal Chinese supply delivered."""
    months = len(_month_starts())
    severity = BRANCHES[branch][1]
    rng = np.random.default_rng([seed, 3])  # the trunk: the same in every branch
    noise = rng.normal(0, 0.08, size=(runs, len(DESTINATIONS), months))
    after = np.random.default_rng([seed, 4, list(BRANCHES).index(branch)])
    later = after.normal(0, 0.05, size=(runs, len(DESTINATIONS), months))
    flow = np.ones((runs, len(DESTINATIONS), months))
    for m in range(months):
        if m < len(TRUNK_FLOW):
            flow[:, :, m] = TRUNK_FLOW[m] + noise[:, :, m]
        else:
            level = max(0.05, 1.0 - 0.35 * max(severity - 0.8, 0))
            flow[:, :, m] = level + later[:, :, m]
            if branch == "decouple":
                flow[:, DESTINATIONS.index("US"), m] = 0.05 + later[:, 0, m] / 5
    return np.clip(flow, 0, None).round(4)


def _flows_bands(flow: np.ndarray) -> pd.DataFrame:
    rows = []
    for d, destination in enumerate(DESTINATIONS):
        for m, month in enumerate(_month_starts()):
            qs = [round(_q(flow[:, d, m], p), 4) for p in (0.1, 0.5, 0.9)]
            rows.append((month.isoformat(), destination, *qs))
    return pd.DataFrame(rows, columns=["month", "destination", "q10", "q50", "q90"])


def _flows(flow: np.ndarray) -> pd.DataFrame:
    rows = []
    for m, month in enumerate(_month_starts()):
        for d, destination in sorted(enumerate(DESTINATIONS), key=lambda item: item[1]):
            rows.append((month.isoformat(), destination, float(flow[0, d, m])))
    return pd.DataFrame(rows, columns=["month", "destination", "flow_index"])


def _policy(branch: str) -> pd.DataFrame:
    dates = [_date(d) for d in range(DAYS)]
    frame = pd.DataFrame({"date": dates, "branch": branch})
    day = np.arange(DAYS)
    us = np.select([day < 1, day < 40, day < 190], [20.0, 145.0, 30.0], 30.0)
    cn = np.select([day < 3, day < 40], [0.0, 125.0], 10.0)
    elements = np.where(day < 3, "", "Dy Gd Lu Sc Sm Tb Y")
    extra = (day >= _by(dt.date(2025, 10, 9))) & (day < BRANCH_DAY)
    general = np.full(DAYS, "", dtype=object)
    nov1 = _by(dt.date(2025, 11, 1))
    dec1 = _by(dt.date(2025, 12, 1))
    if branch == "decouple":
        us = np.where(day >= nov1, 130.0, us)
        cn = np.where(day >= nov1, 125.0, cn)
        elements = np.where(day >= dec1, "Dy Er Eu Gd Ho Lu Sc Sm Tb Tm Y Yb", elements)
        extra = extra | (day >= dec1)
    elif branch == "deescalate":
        us = np.where(day >= nov1, 20.0, us)
        general = np.where(day >= dec1, "gl-us-suppliers", general)
    elif branch == "concede":
        extra = extra | (day >= dec1)
    else:  # history
        us = np.where(day >= nov1, 20.0, us)
    frame["us_tariff_on_cn_pct"] = us
    frame["cn_tariff_on_us_pct"] = cn
    frame["re_licensed_elements"] = elements
    frame["re_review_working_days"] = 45.0
    frame["re_general_licences"] = general
    frame["re_extraterritorial"] = extra
    frame["us_chip_controls"] = True
    return frame


def _single(rate: np.ndarray, daily: np.ndarray, added: np.ndarray, branch: str):
    """Run 0 in the single-run format: timeline, firms, stoppages, events, and its summary."""
    run = rate[0]
    stopped = run <= 0
    timeline = _policy(branch)
    output = _lost(run, daily).sum(axis=0).round().astype("int64")
    value = _lost(run, added).sum(axis=0).round().astype("int64")
    timeline["firms_stopped"] = stopped.sum(axis=0)
    timeline["firms_curtailed"] = ((run > 0) & (run < 1)).sum(axis=0)
    timeline["firms_at_risk"] = _at_risk(stopped[None])[0].sum(axis=0)
    timeline["output_lost_usd"] = output
    timeline["value_added_lost_usd"] = value
    timeline["cumulative_value_added_lost_usd"] = np.cumsum(value)
    stops, firms, events = [], [], []
    for f, firm in enumerate(FIRMS):
        for start, end in _episodes(run[f]):
            short = 1.0 - run[f, start:end]
            stops.append(
                {
                    "firm_id": firm.id,
                    "start_date": _date(start),
                    "full_output_date": _date(end) if end < DAYS else "",
                    "days": int(end - start),
                    "days_stopped": int(stopped[f, start:end].sum()),
                    "min_output_rate": round(float(run[f, start:end].min()), 3),
                    "output_lost_usd": round(float(short.sum() * daily[f])),
                    "value_added_lost_usd": round(float(short.sum() * added[f])),
                    "made_up_usd": round(float(min(short.sum(), 5) * daily[f] * 0.1)),
                    "cause": "rare-earth supply short",
                }
            )
            events.append([_date(start), 0, "", "firm-curtailed", "", firm.id, "curtailed", "", ""])
        first_stop = _first(stopped[f])
        first_curtailed = _first((run[f] > 0) & (run[f] < 1))
        first_after = _first(stopped[f], BRANCH_DAY)
        lost = 1.0 - run[f]
        firms.append(
            {
                "firm_id": firm.id,
                "name": firm.name,
                "sector": firm.sector,
                "country": firm.country,
                "group": firm.group,
                "end_use": "defence" if firm.sector == "defence" else "civil",
                "first_cut_date": _date(4),
                "first_stop_date": _date(first_stop),
                "first_curtailed_date": _date(first_curtailed),
                "days_stopped": int(stopped[f].sum()),
                "days_curtailed": int(((run[f] > 0) & (run[f] < 1)).sum()),
                "output_lost_usd": round(float(lost.sum() * daily[f])),
                "value_added_lost_usd": round(float(lost.sum() * added[f])),
                "made_up_usd": 0,
                "first_stop_since_branch_date": _date(first_after),
                "days_stopped_since_branch": int(stopped[f, BRANCH_DAY:].sum()),
                "value_added_lost_since_branch_usd": round(
                    float(lost[BRANCH_DAY:].sum() * added[f])
                ),
                "time_to_survive_days": int(first_stop - 4) if np.isfinite(first_stop) else "",
                "time_to_recover_days": 60,
                "risk_exposure_index": 0.0,
            }
        )
    firms_frame = pd.DataFrame(firms)
    worst = firms_frame["value_added_lost_usd"].max()
    if worst:
        firms_frame["risk_exposure_index"] = (firms_frame["value_added_lost_usd"] / worst).round(3)
    for date, event_id, title in KEY_DATES:
        events.append([date, 0, event_id, "talks", "US+CN", "", title, "", "article"])
    columns = ["date", "seq", "event_id", "kind", "actor", "subject", "title", "detail", "source"]
    events_frame = pd.DataFrame(events, columns=columns).sort_values("date", kind="stable")
    events_frame["seq"] = range(len(events_frame))
    stoppages = pd.DataFrame(
        stops,
        columns=[
            "firm_id",
            "start_date",
            "full_output_date",
            "days",
            "days_stopped",
            "min_output_rate",
            "output_lost_usd",
            "value_added_lost_usd",
            "made_up_usd",
            "cause",
        ],
    ).sort_values(["start_date", "firm_id"], kind="stable")
    count = timeline["firms_stopped"].to_numpy()
    any_stop = stopped.any(axis=0)
    first, first_after = _first(any_stop), _first(any_stop, BRANCH_DAY)
    peak_after = int(count[BRANCH_DAY:].max())
    summary = {
        "branch": branch,
        "first_stop_date": _date(first),
        "peak_firms_stopped": int(count.max()),
        "peak_date": _date(int(count.argmax())) if count.max() else "",
        "output_lost_usd": int(output.sum()),
        "value_added_lost_usd": int(value.sum()),
        "firms_ever_stopped": int(stopped.any(axis=1).sum()),
        "first_stop_since_branch_date": _date(first_after),
        "peak_firms_stopped_since_branch": peak_after,
        "peak_since_branch_date": _date(BRANCH_DAY + int(count[BRANCH_DAY:].argmax()))
        if peak_after
        else "",
        "value_added_lost_since_branch_usd": int(value[BRANCH_DAY:].sum()),
        "firms_stopped_at_end": int(count[-1]),
    }
    tables = {
        "timeline": timeline,
        "firms": firms_frame,
        "stoppages": stoppages,
        "events": events_frame,
    }
    return tables, summary


def _state() -> pd.DataFrame:
    """A `--save-state` file: an input for `--from`, not a result (the report ignores it)."""
    return pd.DataFrame(
        {
            "firm_id": [firm.id for firm in FIRMS],
            "output_rate": 1,
            "re_days_of_cover": 30.0,
            "buffers": "",
            "licence_direct": "pending since 2025-10-01",
            "licence_other": "none",
        }
    )


def _buffers(rate: np.ndarray, branch: str) -> pd.DataFrame:
    """buffers.csv of `timeline buffer --branch BRANCH --group watch`, plus one plant that no
    multiple saves (days_needed blank)."""
    rows = []
    shares = (rate[:, :, BRANCH_DAY:] <= 0).any(axis=2).mean(axis=0)
    for f, firm in enumerate(FIRMS):
        if firm.group != "watch" and firm.id != "de-oem":
            continue
        now = float(10 + 7 * f)
        multiple = None if firm.id == "de-oem" else round(1 + 8 * float(shares[f]), 2)
        rows.append(
            {
                "firm_id": firm.id,
                "branch": branch,
                "confidence": 0.9,
                "days_of_cover_now": now,
                "days_needed": None if multiple is None else round(now * multiple, 1),
                "multiple": multiple,
                "p_stop_now": round(float(shares[f]), 4),
                "p_stop_at_answer": 0.35 if multiple is None else 0.075,
                "runs": rate.shape[0],
                "tolerance": 0.05,
            }
        )
    return pd.DataFrame(rows)


def _sensitivity() -> pd.DataFrame:
    metric = "value_added_lost_since_branch_usd_q50"
    rows = [
        ("decouple", "licence_valid_days", "P10 118", "P90 338", 12e9, 16e9, 10e9),
        ("decouple", "restock_rate", "P10 0.105", "P90 0.545", 12e9, 13.1e9, 11.6e9),
        ("decouple", "inventory_days (spread factor)", "x0.72", "x1.28", 12e9, 12.8e9, 11.2e9),
        ("decouple", "rare-earth-rules-dec1 date", "-14 days", "+14 days", 12e9, 12.7e9, 12.4e9),
        ("decouple", "september_us_approval", "P10 0.27", "P90 0.83", 12e9, 12e9, 12e9),
        ("decouple", "busan-summit date", "-14 days", "+14 days", 12e9, None, None),
        ("history", "licence_valid_days", "P10 118", "P90 338", 2e8, 4.2e8, 1.1e8),
        ("history", "export_pipeline_days", "P10 3", "P90 27", 2e8, 2.6e8, 1.5e8),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "branch",
            "parameter",
            "low_label",
            "high_label",
            "baseline",
            "value_at_low",
            "value_at_high",
        ],
    )
    frame.insert(4, "metric", metric)
    frame["effect"] = frame["value_at_high"] - frame["value_at_low"]
    frame["note"] = np.where(frame["effect"].isna(), "setting breaks the scenario", "")
    order = frame["effect"].abs().fillna(-1).sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _parameters() -> list[dict[str, object]]:
    parameters: list[dict[str, object]] = [
        {"name": "restock_rate", "value": 0.3, "source": "assumption: 0.3 days a day; calibrated"},
        {"name": "at_risk_days", "value": 14.0, "source": "assumption: two weeks"},
        {
            "name": "export_pipeline_days",
            "value": 10.0,
            "source": "MOFCOM: 45 working days; declared exports keep leaving (calibrated)",
        },
        {"name": "licence_valid_days", "value": 180.0, "source": "assumption: calibrated"},
    ]
    parameters += [
        {"name": f"value_added_share[{sector}]", "value": share, "source": "assumption: order"}
        for sector, share in VALUE_ADDED_SHARE.items()
    ]
    parameters += [
        {
            "name": "inventory_days (factor per firm and run)",
            "value": "triangular(0.5, 1, 1.5)",
            "source": "assumption: FIRMS.md priors <unaudited>",
        },
        {
            "name": "lead_time_days (factor per firm and run)",
            "value": "uniform(0.8, 1.2)",
            "source": "assumption: sea freight varies by a fifth",
        },
    ]
    return parameters


def _run_json(branch: str, runs: int, seed: int, summary: dict, files: list[str]) -> bytes:
    title, _, summary_text = BRANCHES[branch]
    meta = {
        "tool": "timeline",
        "branch": branch,
        "branch_title": title,
        "branch_summary": summary_text,
        "scenario_id": "us-china-rare-earths-2025",
        "scenario_title": "US-China rare-earth confrontation, autumn 2025 (synthetic fixture)",
        "scenario_fingerprint": "0123456789abcdef",
        "scenario_files": {"scenario.yaml": "0" * 64},
        "seed": seed,
        "runs": runs,
        "replay": 0,
        "version": "0.1.0",
        "created_at": "2025-11-02T09:00:00+00:00",
        "command": f"timeline simulate --branch all --runs {runs}",
        "start": START.isoformat(),
        "end": _date(DAYS - 1),
        "branch_point": BRANCH_POINT.isoformat(),
        "key_dates": [
            {"date": date, "event_id": event_id, "title": title, "outcome": outcome}
            for (date, event_id, title), outcome in zip(KEY_DATES, OUTCOMES[branch], strict=True)
        ],
        "parameters": _parameters(),
        "software": {
            "python": "3.11.7",
            "simpy": "4.1.1",
            "numpy": "2.4.6",
            "pandas": "3.1.1",
            "timeline": "0.1.0",
        },
        "status": "complete",
        "summary": summary,
        "files": files,
    }
    return (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()


def write_outputs(
    out: Path,
    runs: int = 40,
    seed: int = 0,
    optional: bool = True,
    branches: tuple[str, ...] = tuple(BRANCHES),
) -> Path:
    """Write the synthetic output folder into `out` (created) and return it.

    `runs=1` writes only what a one-run simulation writes. `optional` adds buffers.csv (rows
    of decouple, at the top) and sensitivity.csv, and a state.csv in history's folder.
    `branches` other than all: no compare.csv (as `simulate --branch NAME`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    daily = np.array([firm.daily_output_usd for firm in FIRMS], dtype=float)
    added = daily * np.array([firm.value_added_share for firm in FIRMS])
    draws = _draw(runs, seed)
    figures: dict[str, pd.DataFrame] = {}
    summaries: dict[str, dict] = {}
    for branch, rate in draws.items():
        if branch not in branches:
            continue
        folder = out / branch
        folder.mkdir(exist_ok=True)
        single, summaries[branch] = _single(rate, daily, added, branch)
        files = {name + ".csv": frame for name, frame in single.items()}
        flow = _flow_draws(runs, seed, branch)
        files["flows.csv"] = _flows(flow)
        figures[branch] = _run_figures(rate, added, seed)
        if runs > 1:
            files["bands.csv"] = _bands(rate, added)
            files["stopped_share.csv"] = _stopped_share(rate <= 0)
            files["firm_risk.csv"] = _firm_risk(rate, added)
            files["runs.csv"] = figures[branch].loc[:, ~figures[branch].columns.str[0].isin(["_"])]
            files["flows_bands.csv"] = _flows_bands(flow)
        if optional and branch == "history":
            files["state.csv"] = _state()
        for name, frame in files.items():
            (folder / name).write_bytes(csv_bytes(frame))
        meta = _run_json(branch, runs, seed, summaries[branch], sorted([*files, "run.json"]))
        (folder / "run.json").write_bytes(meta)
    if set(branches) == set(BRANCHES):
        if runs > 1:
            compare = pd.DataFrame([_compare_row(b, figures[b]) for b in BRANCHES])
            (out / "paired.csv").write_bytes(csv_bytes(_paired(figures)))
        else:
            compare = pd.DataFrame([summaries[b] for b in BRANCHES])
        (out / "compare.csv").write_bytes(csv_bytes(compare))
        if optional and runs > 1:
            (out / "buffers.csv").write_bytes(csv_bytes(_buffers(draws["decouple"], "decouple")))
            (out / "sensitivity.csv").write_bytes(csv_bytes(_sensitivity()))
    return out


if __name__ == "__main__":  # pragma: no cover - a helper for looking at reports by hand
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/fixture")
    write_outputs(target, runs=int(sys.argv[2]) if len(sys.argv) > 2 else 40)
    print(f"wrote {target}")
