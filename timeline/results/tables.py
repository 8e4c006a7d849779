"""Turn a `RunResult` into the planners' tables (pandas), vectorised over state changes.

Day-by-day columns come from change points: policy snapshots are forward-filled, and the
number of firms stopped or at risk and the output lost are cumulative sums of +/- changes on
the days episodes open and close. Nothing loops over firms x days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from timeline.engine.world import RunResult

EVENT_COLUMNS = ["date", "seq", "event_id", "kind", "actor", "subject", "title", "detail", "source"]
STOPPAGE_COLUMNS = ["firm_id", "stop_date", "restart_date", "days", "output_lost_usd", "cause"]
FIRM_COLUMNS = [
    "firm_id",
    "name",
    "sector",
    "country",
    "end_use",
    "first_cut_date",
    "first_stop_date",
    "days_stopped",
    "output_lost_usd",
    "time_to_survive_days",
    "time_to_recover_days",
    "risk_exposure_index",
]
COMPARE_COLUMNS = [
    "branch",
    "first_stop_date",
    "peak_firms_stopped",
    "peak_date",
    "total_output_lost_usd",
    "firms_ever_stopped",
    "first_stop_since_branch_date",
    "peak_firms_stopped_since_branch",
    "peak_since_branch_date",
    "output_lost_since_branch_usd",
    "firms_stopped_at_end",
]


def _dates(result: RunResult, days: pd.Series) -> pd.Series:
    base = pd.Timestamp(result.start)
    return (base + pd.to_timedelta(days, unit="D")).dt.strftime("%Y-%m-%d")


def events_frame(result: RunResult) -> pd.DataFrame:
    frame = pd.DataFrame(result.log, columns=["day", *EVENT_COLUMNS[1:]])
    frame.insert(0, "date", _dates(result, frame["day"].astype("int64")))
    return frame.drop(columns="day")[EVENT_COLUMNS]


def _episodes(result: RunResult) -> pd.DataFrame:
    # Whole dollars a day, so per-day, per-episode and per-firm totals add up exactly.
    output = {firm.id: round(firm.daily_output_usd) for firm in result.scenario.firms}
    rows = [
        (e.firm_id, e.stop_day, e.restart_day, e.cause, output[e.firm_id]) for e in result.episodes
    ]
    frame = pd.DataFrame(rows, columns=["firm_id", "stop", "restart", "cause", "daily"])
    frame["end"] = frame["restart"].fillna(result.days).astype("int64")
    frame["days"] = frame["end"] - frame["stop"]
    frame["lost"] = (frame["days"] * frame["daily"]).astype("int64")
    return frame


def stoppages_frame(result: RunResult) -> pd.DataFrame:
    ep = _episodes(result)
    restart = ep["restart"].astype("Int64")
    frame = pd.DataFrame(
        {
            "firm_id": ep["firm_id"],
            "stop_date": _dates(result, ep["stop"]),
            "restart_date": _dates(result, restart.fillna(0)).where(restart.notna(), ""),
            "days": ep["days"],
            "output_lost_usd": ep["lost"],
            "cause": ep["cause"],
        }
    )
    return frame.sort_values(["stop_date", "firm_id"], kind="stable").reset_index(drop=True)


def _counts(days: int, starts: pd.Series, ends: pd.Series, weights=None) -> np.ndarray:
    """Per day, the (weighted) number of intervals [start, end) covering it."""
    w = np.ones(len(starts)) if weights is None else np.asarray(weights, dtype=float)
    delta = np.zeros(days + 1)
    np.add.at(delta, np.asarray(starts, dtype=int), w)
    np.add.at(delta, np.asarray(ends, dtype=int), -w)
    return np.cumsum(delta)[:days]


def timeline_frame(result: RunResult) -> pd.DataFrame:
    days = result.days
    changes = (
        pd.DataFrame([{"day": day, **state.flat()} for day, state in result.policy_changes])
        .drop_duplicates("day", keep="last")
        .set_index("day")
    )
    policy = changes.reindex(range(days)).ffill().reset_index(drop=True)
    policy = policy.astype(changes.dtypes.to_dict())
    ep = _episodes(result)
    risk = pd.DataFrame(result.at_risk, columns=["firm_id", "start", "end"])
    lost = _counts(days, ep["stop"], ep["end"], ep["daily"]).round().astype("int64")
    frame = pd.DataFrame(
        {
            "date": _dates(result, pd.Series(range(days))),
            "branch": result.branch,
        }
    )
    frame = pd.concat([frame, policy], axis=1)
    frame["firms_stopped"] = _counts(days, ep["stop"], ep["end"]).astype("int64")
    frame["firms_at_risk"] = _counts(days, risk["start"], risk["end"]).astype("int64")
    frame["output_lost_usd"] = lost
    frame["cumulative_output_lost_usd"] = np.cumsum(lost)
    return frame


def firms_frame(result: RunResult) -> pd.DataFrame:
    ep = _episodes(result)
    per_firm = ep.groupby("firm_id").agg(
        first_stop=("stop", "min"), days_stopped=("days", "sum"), lost=("lost", "sum")
    )
    firms = pd.DataFrame(
        [(f.id, f.name, f.sector, f.country, f.end_use) for f in result.scenario.firms],
        columns=["firm_id", "name", "sector", "country", "end_use"],
    ).set_index("firm_id")
    frame = firms.join(per_firm)
    cut = pd.Series(result.first_cut, dtype="Int64").reindex(frame.index)
    recovered = pd.Series(result.recovered, dtype="Int64").reindex(frame.index)
    first_stop = frame["first_stop"].astype("Int64")
    frame["first_cut_date"] = _optional_dates(result, cut)
    frame["first_stop_date"] = _optional_dates(result, first_stop)
    frame["days_stopped"] = frame["days_stopped"].fillna(0).astype("int64")
    frame["output_lost_usd"] = frame["lost"].fillna(0).astype("int64")
    frame["time_to_survive_days"] = first_stop - cut
    frame["time_to_recover_days"] = recovered - cut
    worst = frame["output_lost_usd"].max()
    frame["risk_exposure_index"] = (frame["output_lost_usd"] / worst).round(3) if worst else 0.0
    return frame.reset_index()[FIRM_COLUMNS]


def _optional_dates(result: RunResult, days: pd.Series) -> pd.Series:
    return _dates(result, days.fillna(0).astype("int64")).where(days.notna().to_numpy(), "")


def summary(result: RunResult, timeline: pd.DataFrame | None = None) -> dict[str, object]:
    """The headline figures of one branch (one row of compare.csv).

    The `*_since_branch` figures count from the branch point on, where branches differ.
    """
    timeline = timeline_frame(result) if timeline is None else timeline
    branch_day = (result.scenario.branch_point - result.start).days
    stops = sorted(e.stop_day for e in result.episodes)
    later = [day for day in stops if day >= branch_day]
    after = timeline.iloc[max(branch_day, 0) :]
    peak, peak_date = _peak(timeline)
    peak_after, peak_after_date = _peak(after)
    return {
        "branch": result.branch,
        "first_stop_date": result.date(stops[0]).isoformat() if stops else "",
        "peak_firms_stopped": peak,
        "peak_date": peak_date,
        "total_output_lost_usd": int(timeline["output_lost_usd"].sum()),
        "firms_ever_stopped": len({e.firm_id for e in result.episodes}),
        "first_stop_since_branch_date": result.date(later[0]).isoformat() if later else "",
        "peak_firms_stopped_since_branch": peak_after,
        "peak_since_branch_date": peak_after_date,
        "output_lost_since_branch_usd": int(after["output_lost_usd"].sum()),
        "firms_stopped_at_end": int(timeline["firms_stopped"].iloc[-1]) if len(timeline) else 0,
    }


def _peak(timeline: pd.DataFrame) -> tuple[int, str]:
    """The highest number of firms stopped and its first date ('' when none ever stop)."""
    if timeline.empty or timeline["firms_stopped"].max() == 0:
        return 0, ""
    row = timeline["firms_stopped"].idxmax()
    return int(timeline.loc[row, "firms_stopped"]), str(timeline.loc[row, "date"])
