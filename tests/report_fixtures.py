"""A small but realistic synthetic output folder, written without the engine.

`write_outputs(out)` writes what `timeline simulate --branch all --runs N` (plus the buffers
and sensitivity commands) leaves in `out/`: compare.csv, paired.csv, sensitivity.csv and per
branch run.json, bands.csv, stopped_share.csv, firm_risk.csv, runs.csv, buffers.csv (some
branches), and the single-trajectory files of run 0. Stoppages are drawn per run and firm from
a seeded generator; every table is then derived from those draws, so the tables agree with
each other as the real ones do (same trunk before the branch point in every branch, paired runs).

`write_outputs(out, runs=1)` writes what a one-run simulation leaves: run.json and the
single-trajectory files only.

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


@dataclass(frozen=True)
class Firm:
    id: str
    name: str
    sector: str
    country: str
    group: str
    daily_output_usd: int
    exposure: float  # chance of a stoppage before the branch point


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


def _draw(runs: int, seed: int) -> dict[str, np.ndarray]:
    """Per branch, a stopped[run, firm, day] array. Runs are paired: same trunk draws."""
    n = len(FIRMS)
    trunk = np.zeros((runs, n, DAYS), dtype=bool)
    rng = np.random.default_rng([seed, 1])
    for r in range(runs):
        for f, firm in enumerate(FIRMS):
            if rng.random() < firm.exposure:
                start = int(rng.integers(18, 150))
                length = int(rng.integers(10, 90))
                trunk[r, f, start : min(start + length, BRANCH_DAY)] = True
    out = {}
    for b, (_, severity, _) in enumerate(BRANCHES.values()):
        stopped = trunk.copy()
        rng = np.random.default_rng([seed, 2, b])
        for r in range(runs):
            for f, firm in enumerate(FIRMS):
                if rng.random() < min(0.95, firm.exposure * severity):
                    start = BRANCH_DAY + int(rng.integers(12, 220))
                    length = int(rng.integers(15, int(40 + 120 * severity)))
                    stopped[r, f, start : min(start + length, DAYS)] = True
        out[list(BRANCHES)[b]] = stopped
    return out


def _episodes(stopped: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) stretches where a firm's stopped[day] is True."""
    edges = np.diff(np.concatenate([[0], stopped.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _first(stopped: np.ndarray, since: int = 0) -> np.ndarray:
    """First stopped day per leading index (inf when never), counting from `since`."""
    window = stopped[..., since:]
    any_ = window.any(axis=-1)
    return np.where(any_, window.argmax(axis=-1) + since, np.inf)


def _q(values: np.ndarray, q: float) -> float:
    """Quantile with `inf` for "never": the lower value, so a date or count stays whole."""
    return float(np.quantile(values, q, method="lower"))


def _at_risk(stopped: np.ndarray) -> np.ndarray:
    risk = np.zeros_like(stopped)
    for r in range(stopped.shape[0]):
        for f in range(stopped.shape[1]):
            for start, _ in _episodes(stopped[r, f]):
                # a firm cannot see a cut that comes after the branch point before it
                first = BRANCH_DAY if start >= BRANCH_DAY else 0
                risk[r, f, max(first, start - AT_RISK_DAYS) : start] = True
    return risk & ~stopped


def _bands(stopped: np.ndarray, daily: np.ndarray) -> pd.DataFrame:
    series = {
        "firms_stopped": stopped.sum(axis=1),
        "firms_at_risk": _at_risk(stopped).sum(axis=1),
        "output_lost_usd": (stopped * daily[None, :, None]).sum(axis=1),
    }
    series["cumulative_output_lost_usd"] = np.cumsum(series["output_lost_usd"], axis=1)
    parts = []
    for order, (metric, values) in enumerate(series.items()):
        qs = np.quantile(values, QUANTILES, axis=0).round(2)
        part = pd.DataFrame(qs.T, columns=["q10", "q25", "q50", "q75", "q90"])
        part.insert(0, "metric", metric)
        part.insert(0, "date", [_date(d) for d in range(DAYS)])
        part["mean"] = values.mean(axis=0).round(2)
        part["_order"] = order
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["date", "_order"], kind="stable").reset_index(drop=True)
    return frame.drop(columns="_order")


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


def _firm_risk(stopped: np.ndarray, daily: np.ndarray) -> pd.DataFrame:
    first = _first(stopped)
    first_after = _first(stopped, BRANCH_DAY)
    days = stopped.sum(axis=2)
    days_after = stopped[:, :, BRANCH_DAY:].sum(axis=2)
    rows = []
    for f, firm in enumerate(FIRMS):
        lost = days[:, f] * daily[f]
        lost_after = days_after[:, f] * daily[f]
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
                **{f"days_stopped_q{q}": _q(days[:, f], q / 100) for q in (10, 50, 90)},
                **{f"value_lost_usd_q{q}": _q(lost, q / 100) for q in (10, 50, 90)},
                "p_stop_since_branch": float(np.isfinite(first_after[:, f]).mean()),
                "first_stop_since_branch_q50": _date(_q(first_after[:, f], 0.5)),
                "days_stopped_since_branch_q50": _q(days_after[:, f], 0.5),
                "value_lost_since_branch_usd_q50": _q(lost_after, 0.5),
            }
        )
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column.startswith(("days_stopped", "value_lost")):
            frame[column] = frame[column].astype("int64")
    return frame


def _run_figures(stopped: np.ndarray, daily: np.ndarray, seed: int) -> pd.DataFrame:
    count = stopped.sum(axis=1)
    lost = (stopped * daily[None, :, None]).sum(axis=1)
    first = _first(stopped.any(axis=1))
    return pd.DataFrame(
        {
            "run": np.arange(len(stopped)),
            "seed": seed + np.arange(len(stopped)),
            "first_stop_date": [_date(d) for d in first],
            "peak_firms_stopped": count.max(axis=1),
            "output_lost_usd": lost.sum(axis=1).astype("int64"),
            "output_lost_since_branch_usd": lost[:, BRANCH_DAY:].sum(axis=1).astype("int64"),
            "firms_ever_stopped": stopped.any(axis=2).sum(axis=1),
            # kept for compare.csv, dropped before writing runs.csv:
            "_first_after": _first(stopped.any(axis=1), BRANCH_DAY),
            "_first": first,
            "_peak_after": count[:, BRANCH_DAY:].max(axis=1),
        }
    )


def _compare_row(branch: str, runs: pd.DataFrame) -> dict[str, object]:
    row: dict[str, object] = {"branch": branch, "title": BRANCHES[branch][0], "runs": len(runs)}
    columns = {
        "first_stop": ("_first", _date),
        "peak_firms_stopped": ("peak_firms_stopped", int),
        "output_lost_usd": ("output_lost_usd", int),
        "first_stop_since_branch": ("_first_after", _date),
        "peak_firms_stopped_since_branch": ("_peak_after", int),
        "output_lost_since_branch_usd": ("output_lost_since_branch_usd", int),
    }
    for name, (column, kind) in columns.items():
        for q in (10, 50, 90):
            row[f"{name}_q{q}"] = kind(_q(runs[column].to_numpy(dtype=float), q / 100))
    row["p_any_stop_since_branch"] = float(np.isfinite(runs["_first_after"]).mean())
    return row


def _paired(figures: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    metrics = {
        "output_lost_since_branch_usd": "output_lost_since_branch_usd",
        "peak_firms_stopped_since_branch": "_peak_after",
    }
    for branch in BRANCHES:
        if branch == "history":
            continue
        for metric, column in metrics.items():
            diff = (figures[branch][column] - figures["history"][column]).to_numpy(dtype=float)
            rows.append(
                {
                    "branch": branch,
                    "versus": "history",
                    "metric": metric,
                    "q10": _q(diff, 0.1),
                    "q50": _q(diff, 0.5),
                    "q90": _q(diff, 0.9),
                    "mean": round(float(diff.mean()), 2),
                    "p_worse": float((diff > 0).mean()),
                }
            )
    return pd.DataFrame(rows)


def _policy(branch: str) -> pd.DataFrame:
    dates = [_date(d) for d in range(DAYS)]
    frame = pd.DataFrame({"date": dates, "branch": branch})
    day = np.arange(DAYS)
    us = np.select([day < 1, day < 40, day < 190], [20.0, 145.0, 30.0], 30.0)
    cn = np.select([day < 3, day < 40], [0.0, 125.0], 10.0)
    elements = np.where(day < 3, "", "Sm Gd Tb Dy Lu Sc Y")
    extra = (day >= _by(dt.date(2025, 10, 9))) & (day < BRANCH_DAY)
    nov1 = _by(dt.date(2025, 11, 1))
    dec1 = _by(dt.date(2025, 12, 1))
    if branch == "decouple":
        us = np.where(day >= nov1, 130.0, us)
        cn = np.where(day >= nov1, 125.0, cn)
        elements = np.where(day >= dec1, "Sm Gd Tb Dy Lu Sc Y Ho Er Tm Eu Yb", elements)
        extra = extra | (day >= dec1)
    elif branch == "deescalate":
        us = np.where(day >= nov1, 20.0, us)
        elements = np.where(day >= dec1, "Dy Tb", elements)
    elif branch == "concede":
        extra = extra | (day >= dec1)
    else:  # history
        us = np.where(day >= nov1, 20.0, us)
    frame["us_tariff_on_cn_pct"] = us
    frame["cn_tariff_on_us_pct"] = cn
    frame["re_licensed_elements"] = elements
    frame["re_review_working_days"] = 45
    frame["re_extraterritorial"] = extra
    frame["us_chip_controls"] = True
    return frame


def _single(stopped: np.ndarray, daily: np.ndarray, branch: str) -> dict[str, pd.DataFrame]:
    """Run 0 in the single-trajectory format: timeline, firms, stoppages, events."""
    run = stopped[0]
    timeline = _policy(branch)
    lost = (run * daily[:, None]).sum(axis=0).astype("int64")
    timeline["firms_stopped"] = run.sum(axis=0)
    timeline["firms_at_risk"] = _at_risk(run[None])[0].sum(axis=0)
    timeline["output_lost_usd"] = lost
    timeline["cumulative_output_lost_usd"] = np.cumsum(lost)
    stops, firms, events = [], [], []
    for f, firm in enumerate(FIRMS):
        episodes = _episodes(run[f])
        for start, end in episodes:
            restart = _date(end) if end < DAYS else ""
            stops.append([firm.id, _date(start), restart, end - start, (end - start) * daily[f]])
            events.append([_date(start), 0, "", "firm-stopped", "", firm.id, "stopped", "", ""])
        firms.append(
            [
                firm.id,
                firm.name,
                firm.sector,
                firm.country,
                "civil",
                _date(episodes[0][0]) if episodes else "",
                int(run[f].sum()),
                int(run[f].sum() * daily[f]),
            ]
        )
    for date, event_id, title in KEY_DATES:
        events.append([date, 0, event_id, "talks", "US+CN", "", title, "", "article"])
    events_frame = pd.DataFrame(
        events,
        columns=[
            "date",
            "seq",
            "event_id",
            "kind",
            "actor",
            "subject",
            "title",
            "detail",
            "source",
        ],
    ).sort_values("date", kind="stable")
    events_frame["seq"] = range(1, len(events_frame) + 1)
    stoppages = pd.DataFrame(
        stops, columns=["firm_id", "stop_date", "restart_date", "days", "output_lost_usd"]
    )
    stoppages["cause"] = "rare-earth supply cut"
    firms_frame = pd.DataFrame(
        firms,
        columns=[
            "firm_id",
            "name",
            "sector",
            "country",
            "end_use",
            "first_stop_date",
            "days_stopped",
            "output_lost_usd",
        ],
    )
    return {
        "timeline": timeline,
        "firms": firms_frame,
        "stoppages": stoppages.sort_values(["stop_date", "firm_id"], kind="stable"),
        "events": events_frame,
    }


def _buffers(stopped: np.ndarray, branch: str) -> pd.DataFrame:
    rows = []
    shares = stopped[:, :, BRANCH_DAY:].any(axis=2).mean(axis=0)
    for f, firm in enumerate(FIRMS):
        rows.append(
            {
                "firm_id": firm.id,
                "branch": branch,
                "confidence": 0.9,
                "days_of_cover_now": 10 + 7 * f,
                "days_needed": int(round(20 + 200 * shares[f])),
                "p_stop_now": round(float(shares[f]), 4),
                "p_stop_at_answer": 0.1 if shares[f] > 0.1 else round(float(shares[f]), 4),
                "runs": stopped.shape[0],
            }
        )
    return pd.DataFrame(rows)


def _sensitivity() -> pd.DataFrame:
    rows = [
        ("decouple", "review_working_days", "30 days", "60 days", 80e9, 150e9),
        ("decouple", "restock_rate", "0.25", "1.0", 140e9, 95e9),
        ("decouple", "inventory_days", "x0.5", "x2", 160e9, 120e9),
        ("decouple", "approval_US_civil", "0.2", "0.8", 125e9, 110e9),
        ("history", "review_working_days", "30 days", "60 days", 30e9, 52e9),
        ("history", "restock_rate", "0.25", "1.0", 48e9, 36e9),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["branch", "parameter", "low_label", "high_label", "value_at_low", "value_at_high"],
    )
    frame["effect"] = frame["value_at_high"] - frame["value_at_low"]
    order = frame["effect"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _run_json(branch: str, runs: int, seed: int, summary: dict, files: list[str]) -> bytes:
    title, _, summary_text = BRANCHES[branch]
    meta = {
        "tool": "timeline",
        "branch": branch,
        "branch_title": title,
        "branch_summary": summary_text,
        "scenario_id": "us-china-rare-earths-2025",
        "scenario_title": "US-China rare-earth confrontation, autumn 2025 (synthetic fixture)",
        "seed": seed,
        "runs": runs,
        "replay": False,
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
        "parameters": [
            {"name": "restock_rate", "value": 0.5, "source": "assumption: half a day a day"},
            {
                "name": "review_working_days",
                "value": "triangular(30, 45, 60)",
                "source": "MOFCOM: 45 working days",
            },
            {"name": "at_risk_days", "value": 14, "source": "assumption"},
            {
                "name": "inventory_days",
                "value": "per firm x uniform(0.8, 1.2)",
                "source": "FIRMS.md priors <unaudited>",
            },
        ],
        "software": {
            "python": "3.11.7",
            "simpy": "4.1.1",
            "numpy": "2.4.6",
            "pandas": "3.1.1",
            "timeline": "0.1.0",
        },
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

    `runs=1` writes only what a one-run simulation writes. `optional` adds buffers.csv (for
    decouple only) and sensitivity.csv. `branches` other than all: no compare.csv (as
    `simulate --branch NAME`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    daily = np.array([firm.daily_output_usd for firm in FIRMS], dtype="int64")
    draws = _draw(runs, seed)
    figures: dict[str, pd.DataFrame] = {}
    for branch, stopped in draws.items():
        if branch not in branches:
            continue
        folder = out / branch
        folder.mkdir(exist_ok=True)
        files = {name + ".csv": frame for name, frame in _single(stopped, daily, branch).items()}
        figures[branch] = _run_figures(stopped, daily, seed)
        if runs > 1:
            files["bands.csv"] = _bands(stopped, daily)
            files["stopped_share.csv"] = _stopped_share(stopped)
            files["firm_risk.csv"] = _firm_risk(stopped, daily)
            files["runs.csv"] = figures[branch].loc[:, ~figures[branch].columns.str[0].isin(["_"])]
            if optional and branch == "decouple":
                files["buffers.csv"] = _buffers(stopped, branch)
        summary = {k: v for k, v in _compare_row(branch, figures[branch]).items() if k != "title"}
        for name, frame in files.items():
            (folder / name).write_bytes(csv_bytes(frame))
        meta = _run_json(branch, runs, seed, summary, sorted([*files, "run.json"]))
        (folder / "run.json").write_bytes(meta)
    if runs > 1 and set(branches) == set(BRANCHES):
        compare = pd.DataFrame([_compare_row(b, figures[b]) for b in BRANCHES])
        (out / "compare.csv").write_bytes(csv_bytes(compare))
        (out / "paired.csv").write_bytes(csv_bytes(_paired(figures)))
        if optional:
            (out / "sensitivity.csv").write_bytes(csv_bytes(_sensitivity()))
    return out


if __name__ == "__main__":  # pragma: no cover - a helper for looking at reports by hand
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/fixture")
    write_outputs(target, runs=int(sys.argv[2]) if len(sys.argv) > 2 else 40)
    print(f"wrote {target}")
