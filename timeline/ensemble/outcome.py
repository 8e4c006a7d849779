"""What one run of one branch contributes to an ensemble: small numpy arrays, no event log.

Computed next to the engine (in the worker), so a batch of runs ships a few kilobytes per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timeline.engine.world import RunResult
from timeline.model.scenario import Scenario
from timeline.results import metrics as m
from timeline.results.metrics import monthly_flows

DAILY = (
    "firms_stopped",
    "firms_at_risk",
    "value_added_lost_usd",
    "cumulative_value_added_lost_usd",
)


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
    f = m.per_firm(s, n, branch_day, values)
    return Outcome(
        result.replicate,
        daily,
        np.nan_to_num(f.first_stop, nan=-1).astype(np.int64),
        f.days_stopped,
        f.value_lost,
        np.nan_to_num(f.first_stop_since, nan=-1).astype(np.int64),
        f.days_stopped_since,
        f.value_lost_since,
        (s.firm[f.stopped], s.start[f.stopped], s.end[f.stopped]),
        monthly_flows(result, scenario, months),
    )
