"""What one run of one branch contributes to an ensemble: small numpy arrays, no event log.

Computed next to the engine (in the worker), so a batch of runs ships a few kilobytes per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timeline.engine.world import RunResult
from timeline.model.policy import DESTINATIONS, destination_of
from timeline.model.scenario import Scenario
from timeline.results import metrics as m

DAILY = (
    "firms_stopped",
    "firms_at_risk",
    "value_added_lost_usd",
    "cumulative_value_added_lost_usd",
)
FLOW_DESTINATIONS = (*DESTINATIONS, "world")


@dataclass
class Outcome:
    """One run of one branch, reduced to what bands, risks and comparisons need."""

    replicate: int
    daily: np.ndarray  # (len(DAILY), days) float64
    first_stop: np.ndarray  # per firm: first day at rate 0, -1 if never
    days_stopped: np.ndarray
    value_lost: np.ndarray  # value added lost, per firm
    first_stop_since: np.ndarray  # first stop day on or after the branch point, -1 if none
    days_stopped_since: np.ndarray
    value_lost_since: np.ndarray
    stopped: tuple[np.ndarray, np.ndarray, np.ndarray]  # (firm, start, end) of rate-0 spans
    flows: np.ndarray  # (len(FLOW_DESTINATIONS), months) monthly flow index, NaN where none

    def headline(self, branch_day: int) -> dict[str, float]:
        stops = self.first_stop[self.first_stop >= 0]
        since = self.first_stop_since[self.first_stop_since >= 0]
        return {
            "first_stop_day": float(stops.min()) if len(stops) else np.nan,
            "peak_firms_stopped": float(self.daily[0].max()) if self.daily.size else 0.0,
            "value_added_lost_usd": float(self.daily[2].sum()),
            "first_stop_since_branch_day": float(since.min()) if len(since) else np.nan,
            "peak_firms_stopped_since_branch": float(self.daily[0, branch_day:].max())
            if self.daily.shape[1] > branch_day
            else 0.0,
            "value_added_lost_since_branch_usd": float(self.daily[2, branch_day:].sum()),
            "firms_ever_stopped": float((self.first_stop >= 0).sum()),
        }


def month_index(start, days: int) -> np.ndarray:
    """The month number (0 = the start's month) of each day."""
    import datetime as dt

    first = start.year * 12 + start.month - 1
    out = np.empty(days, dtype=np.int64)
    for day in range(days):
        d = start + dt.timedelta(days=day)
        out[day] = d.year * 12 + d.month - 1 - first
    return out


def monthly_flows(result: RunResult, scenario: Scenario, months: np.ndarray) -> np.ndarray:
    """Monthly share of normal direct Chinese supply delivered, per destination and world,
    weighted by each buyer's normal purchases from China (re_tonnes_per_year x china_share)."""
    firms = scenario.firms
    days = result.days
    weight = np.array([f.re_tonnes_per_year * f.china_share for f in firms], dtype=float)
    dest = np.array([FLOW_DESTINATIONS.index(destination_of(f.country)) for f in firms])
    nd = len(FLOW_DESTINATIONS)
    base = np.zeros(nd)
    np.add.at(base, dest, weight)
    base[-1] = weight.sum()
    # delivered(t) per destination = base + sum over change points of weight * (share - prev)
    delta = np.zeros((nd, days + 1))
    prev = np.ones(len(firms))
    for day, firm, share in result.flows:
        w = weight[firm] * (share - prev[firm])
        prev[firm] = share
        if w:
            delta[dest[firm], day] += w
            delta[-1, day] += w
    delivered = base[:, None] + np.cumsum(delta, axis=1)[:, :days]
    count = np.bincount(months, minlength=months.max() + 1).astype(float)
    out = np.full((nd, len(count)), np.nan)
    for k in range(nd):
        if base[k] > 0:
            out[k] = np.bincount(months, delivered[k], minlength=len(count)) / count / base[k]
    return out


def _with_risk(result: RunResult, risk: list) -> RunResult:
    from dataclasses import replace

    return replace(result, at_risk=risk)


def outcome_of(
    result: RunResult,
    scenario: Scenario,
    values: m.FirmValues,
    months: np.ndarray,
    group: str | None = None,
) -> Outcome:
    """The outcome of a run; with `group`, the daily series (and so the headline figures) count
    only that group's plants, while the per-firm figures cover every plant."""
    n = len(scenario.firms)
    branch_day = (scenario.branch_point - scenario.start).days
    s = m.spans(result)
    if group is None:
        d = m.daily(result, values, s)
    else:
        members = np.array([f.group == group for f in scenario.firms])
        keep = members[s.firm]
        mine = m.Spans(s.firm[keep], s.start[keep], s.end[keep], s.rate[keep], s.cause[keep])
        risk = [r for r in result.at_risk if members[r[0]]]
        d = m.daily(_with_risk(result, risk), values, mine)
    daily = np.vstack(
        [
            d.firms_stopped,
            d.firms_at_risk,
            d.value_added_lost_usd,
            np.cumsum(d.value_added_lost_usd),
        ]
    ).astype(np.float64)
    stopped = s.rate <= 1e-9
    length = s.end - s.start
    later_start = np.maximum(s.start, branch_day)
    later_len = np.clip(s.end - later_start, 0, None)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, s.firm[stopped], s.start[stopped])
    since_mask = stopped & (later_len > 0)
    first_since = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_since, s.firm[since_mask], later_start[since_mask])
    big = np.iinfo(np.int64).max
    return Outcome(
        result.replicate,
        daily,
        np.where(first == big, -1, first),
        np.bincount(s.firm, length * stopped, minlength=n).astype(np.int64),
        np.bincount(s.firm, (1 - s.rate) * length * values.value_added[s.firm], minlength=n),
        np.where(first_since == big, -1, first_since),
        np.bincount(s.firm, later_len * stopped, minlength=n).astype(np.int64),
        np.bincount(s.firm, (1 - s.rate) * later_len * values.value_added[s.firm], minlength=n),
        (s.firm[stopped], s.start[stopped], s.end[stopped]),
        monthly_flows(result, scenario, months),
    )
