"""Turn one run into the planners' tables (pandas, typed: dates are datetime64 with NaT).

Day-by-day columns come from change points (see `timeline.results.metrics`); nothing loops over
firms x days. Money is in whole US dollars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from timeline.engine.world import RunResult
from timeline.model.scenario import Scenario
from timeline.results import events as ev
from timeline.results import metrics as m

EVENT_COLUMNS = ev.EVENT_COLUMNS
STOPPAGE_COLUMNS = [
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
]
FIRM_COLUMNS = [
    "firm_id",
    "name",
    "sector",
    "country",
    "group",
    "end_use",
    "first_cut_date",
    "first_stop_date",
    "first_curtailed_date",
    "days_stopped",
    "days_curtailed",
    "output_lost_usd",
    "value_added_lost_usd",
    "made_up_usd",
    "first_stop_since_branch_date",
    "days_stopped_since_branch",
    "value_added_lost_since_branch_usd",
    "time_to_survive_days",
    "time_to_recover_days",
    "risk_exposure_index",
]
COMPARE_COLUMNS = [
    "branch",
    "first_stop_date",
    "peak_firms_stopped",
    "peak_date",
    "output_lost_usd",
    "value_added_lost_usd",
    "firms_ever_stopped",
    "first_stop_since_branch_date",
    "peak_firms_stopped_since_branch",
    "peak_since_branch_date",
    "value_added_lost_since_branch_usd",
    "firms_stopped_at_end",
]


def dates(result: RunResult, days) -> pd.Series:
    """Day numbers (NaN for none) -> datetime64 dates (NaT for none)."""
    days = pd.Series(days, dtype="Float64")
    base = pd.Timestamp(result.start)
    out = base + pd.to_timedelta(days.astype("float64"), unit="D")
    return out.astype("datetime64[ns]")


def events_frame(result: RunResult, scenario: Scenario) -> pd.DataFrame:
    frame = pd.DataFrame(ev.rows(result, scenario), columns=["day", *EVENT_COLUMNS[1:]])
    frame.insert(0, "date", dates(result, frame["day"]))
    return frame.drop(columns="day")[EVENT_COLUMNS]


def _values(scenario: Scenario) -> m.FirmValues:
    return m.FirmValues.of(scenario)


def stoppages_frame(result: RunResult, scenario: Scenario) -> pd.DataFrame:
    values = _values(scenario)
    eps = m.episodes(result, values)
    made = m.made_up(eps, values, scenario.parameters.makeup_rate.value, result.days)
    ids = result.firm_ids
    frame = pd.DataFrame(
        {
            "firm_id": [ids[e.firm] for e in eps],
            "start_date": dates(result, [e.start for e in eps]),
            "full_output_date": dates(result, [e.end if e.ended else None for e in eps]),
            "days": pd.array([e.end - e.start for e in eps], dtype="int64"),
            "days_stopped": pd.array([e.days_stopped for e in eps], dtype="int64"),
            "min_output_rate": [round(e.min_rate, 3) for e in eps],
            "output_lost_usd": np.round([e.output_lost_usd for e in eps]).astype("int64"),
            "value_added_lost_usd": np.round([e.value_added_lost_usd for e in eps]).astype("int64"),
            "made_up_usd": np.round(made).astype("int64"),
            "cause": [ev.cause_text(e.cause, scenario) for e in eps],
        },
        columns=STOPPAGE_COLUMNS,
    )
    return frame.sort_values(["start_date", "firm_id"], kind="stable").reset_index(drop=True)


def timeline_frame(result: RunResult, scenario: Scenario) -> pd.DataFrame:
    days = result.days
    changes = (
        pd.DataFrame([{"day": day, **state.flat()} for day, state in result.policy_changes])
        .drop_duplicates("day", keep="last")
        .set_index("day")
    )
    policy = changes.reindex(range(days)).ffill().reset_index(drop=True)
    policy = policy.astype(changes.dtypes.to_dict())
    d = m.daily(result, _values(scenario))
    frame = pd.DataFrame({"date": dates(result, range(days)), "branch": result.branch})
    frame = pd.concat([frame, policy], axis=1)
    frame["firms_stopped"] = d.firms_stopped
    frame["firms_curtailed"] = d.firms_curtailed
    frame["firms_at_risk"] = d.firms_at_risk
    lost = np.round(d.output_lost_usd).astype("int64")
    added = np.round(d.value_added_lost_usd).astype("int64")
    frame["output_lost_usd"] = lost
    frame["value_added_lost_usd"] = added
    frame["cumulative_value_added_lost_usd"] = np.cumsum(added)
    return frame


def firms_frame(result: RunResult, scenario: Scenario) -> pd.DataFrame:
    values = _values(scenario)
    s = m.spans(result)
    eps = m.episodes(result, values, s)
    made = m.made_up(eps, values, scenario.parameters.makeup_rate.value, result.days)
    n = len(scenario.firms)
    branch_day = (scenario.branch_point - scenario.start).days
    f = m.per_firm(s, n, branch_day, values)
    added = f.value_lost
    made_by_firm = np.bincount([e.firm for e in eps], made, minlength=n) if eps else np.zeros(n)
    cut = np.array([result.first_cut.get(i, np.nan) for i in range(n)], dtype=float)
    recovered = np.array([result.recovered.get(i, np.nan) for i in range(n)], dtype=float)
    worst = added.max() if n else 0
    firms = scenario.firms
    return pd.DataFrame(
        {
            "firm_id": [f.id for f in firms],
            "name": [f.name for f in firms],
            "sector": [f.sector for f in firms],
            "country": [f.country for f in firms],
            "group": [f.group for f in firms],
            "end_use": [f.end_use for f in firms],
            "first_cut_date": dates(result, cut),
            "first_stop_date": dates(result, f.first_stop),
            "first_curtailed_date": dates(result, f.first_curtailed),
            "days_stopped": f.days_stopped,
            "days_curtailed": f.days_curtailed,
            "output_lost_usd": np.round(f.output_lost).astype("int64"),
            "value_added_lost_usd": np.round(added).astype("int64"),
            "made_up_usd": np.round(made_by_firm).astype("int64"),
            "first_stop_since_branch_date": dates(result, f.first_stop_since),
            "days_stopped_since_branch": f.days_stopped_since,
            "value_added_lost_since_branch_usd": np.round(f.value_lost_since).astype("int64"),
            "time_to_survive_days": pd.array(f.first_stop - cut, dtype="Float64").astype("Int64"),
            "time_to_recover_days": pd.array(recovered - cut, dtype="Float64").astype("Int64"),
            "risk_exposure_index": np.round(added / worst, 3) if worst else np.zeros(n),
        },
        columns=FIRM_COLUMNS,
    )


def flows_frame(result: RunResult, scenario: Scenario) -> pd.DataFrame:
    """Monthly share of normal direct Chinese rare-earth supply delivered, by destination.

    Weighted by each buyer's normal purchases from China (re_tonnes_per_year x china_share);
    above 1 while buyers restock. Columns: month, destination (US, EU, ... and world),
    flow_index.
    """
    months = m.month_index(result.start, result.days)
    index = m.monthly_flows(result, scenario, months)
    first = pd.Timestamp(result.start).to_period("M")
    rows = [
        ((first + k).to_timestamp(), name, round(float(index[d, k]), 4))
        for d, name in enumerate(m.FLOW_DESTINATIONS)
        if not np.isnan(index[d]).all()
        for k in range(index.shape[1])
    ]
    frame = pd.DataFrame(rows, columns=["month", "destination", "flow_index"])
    frame["month"] = pd.to_datetime(frame["month"]).astype("datetime64[ns]")
    return frame.sort_values(["month", "destination"], kind="stable").reset_index(drop=True)


def summary(result: RunResult, scenario: Scenario, timeline: pd.DataFrame | None = None) -> dict:
    """The headline figures of one run (a row of compare.csv for a single run)."""
    timeline = timeline_frame(result, scenario) if timeline is None else timeline
    branch_day = (scenario.branch_point - result.start).days
    s = m.spans(result)
    stopped = s.rate <= 1e-9
    stops = np.sort(s.start[stopped])
    # a stop still running at the branch point counts from the branch point (as in firms.csv)
    later = np.sort(np.maximum(s.start[stopped & (s.end > branch_day)], branch_day))
    after = timeline.iloc[max(branch_day, 0) :]
    peak, peak_date = _peak(timeline)
    peak_after, peak_after_date = _peak(after)
    iso = lambda day: result.date(int(day)).isoformat()  # noqa: E731
    return {
        "branch": result.branch,
        "first_stop_date": iso(stops[0]) if len(stops) else "",
        "peak_firms_stopped": peak,
        "peak_date": peak_date,
        "output_lost_usd": int(timeline["output_lost_usd"].sum()),
        "value_added_lost_usd": int(timeline["value_added_lost_usd"].sum()),
        "firms_ever_stopped": int(len(set(s.firm[s.rate <= 1e-9].tolist()))),
        "first_stop_since_branch_date": iso(later[0]) if len(later) else "",
        "peak_firms_stopped_since_branch": peak_after,
        "peak_since_branch_date": peak_after_date,
        "value_added_lost_since_branch_usd": int(after["value_added_lost_usd"].sum()),
        "firms_stopped_at_end": int(timeline["firms_stopped"].iloc[-1]) if len(timeline) else 0,
    }


def _peak(timeline: pd.DataFrame) -> tuple[int, str]:
    """The highest number of firms stopped and its first date ('' when none ever stop)."""
    if timeline.empty or timeline["firms_stopped"].max() == 0:
        return 0, ""
    row = timeline["firms_stopped"].idxmax()
    return int(timeline.loc[row, "firms_stopped"]), timeline.loc[row, "date"].date().isoformat()
