"""Fold run outcomes into an ensemble, then into tables: bands, firm risks, runs, comparisons.

Quantiles are the inverted empirical CDF: q90 is the smallest value that at least 90% of runs
stay at or under (numpy's `inverted_cdf`), so every quantile is a value some run produced. A
firm that never stops has first-stop day +inf: a first-stop quantile that is "never" is blank.
Memory: per branch, runs x days for the four daily series and runs x firms for the per-firm
figures; the share of runs in which each firm is stopped is a running count (firms x days).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from timeline.ensemble.outcome import DAILY, Outcome
from timeline.model.scenario import Scenario
from timeline.results.metrics import FLOW_DESTINATIONS

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
HEADLINES = (
    "first_stop_day",
    "peak_firms_stopped",
    "value_added_lost_usd",
    "first_stop_since_branch_day",
    "peak_firms_stopped_since_branch",
    "value_added_lost_since_branch_usd",
    "firms_ever_stopped",
)


def q(values: np.ndarray, p: float | tuple[float, ...], axis: int = 0) -> np.ndarray:
    return np.quantile(values, p, axis=axis, method="inverted_cdf")


@dataclass
class BranchEnsemble:
    """The runs of one branch."""

    branch: str
    daily: np.ndarray  # (runs, len(DAILY), days)
    headlines: np.ndarray  # (runs, len(HEADLINES)); days as floats, inf = never
    first_stop: np.ndarray  # (runs, firms) float, inf = never
    days_stopped: np.ndarray
    value_lost: np.ndarray
    first_stop_since: np.ndarray
    days_stopped_since: np.ndarray
    value_lost_since: np.ndarray
    stopped_count: np.ndarray  # (firms, days + 1): running difference counts
    flows: np.ndarray  # (runs, destinations, months)

    def add(self, outcome: Outcome, branch_day: int) -> None:
        i = outcome.replicate
        self.daily[i] = outcome.daily
        h = outcome.headline(branch_day)
        self.headlines[i] = [h[name] for name in HEADLINES]
        self.first_stop[i] = np.where(outcome.first_stop >= 0, outcome.first_stop, np.inf)
        self.days_stopped[i] = outcome.days_stopped
        self.value_lost[i] = outcome.value_lost
        self.first_stop_since[i] = np.where(
            outcome.first_stop_since >= 0, outcome.first_stop_since, np.inf
        )
        self.days_stopped_since[i] = outcome.days_stopped_since
        self.value_lost_since[i] = outcome.value_lost_since
        firm, start, end = outcome.stopped
        np.add.at(self.stopped_count, (firm, start), 1)
        np.add.at(self.stopped_count, (firm, end), -1)
        self.flows[i] = outcome.flows


@dataclass
class Ensemble:
    """Paired runs of several branches of one scenario."""

    scenario: Scenario
    branches: tuple[str, ...]
    runs: int
    seed: int
    days: int
    by_branch: dict[str, BranchEnsemble] = field(default_factory=dict)

    @classmethod
    def empty(cls, scenario: Scenario, branches: tuple[str, ...], runs: int, seed: int):
        days = (scenario.end - scenario.start).days + 1
        n = len(scenario.firms)
        months = (
            (scenario.end.year - scenario.start.year) * 12
            + (scenario.end.month - scenario.start.month)
            + 1
        )
        ens = cls(scenario, branches, runs, seed, days)
        for b in branches:
            ens.by_branch[b] = BranchEnsemble(
                b,
                np.zeros((runs, len(DAILY), days)),
                np.zeros((runs, len(HEADLINES))),
                *(np.zeros((runs, n)) for _ in range(6)),
                np.zeros((n, days + 1), dtype=np.int64),
                np.full((runs, len(FLOW_DESTINATIONS), months), np.nan),
            )
        return ens

    @property
    def branch_day(self) -> int:
        return (self.scenario.branch_point - self.scenario.start).days

    def add(self, first: int, outcomes: dict[str, list[Outcome]]) -> None:
        for branch, items in outcomes.items():
            for outcome in items:
                self.by_branch[branch].add(outcome, self.branch_day)

    def finish(self) -> Ensemble:
        return self

    def branch(self, branch: str) -> BranchEnsemble:
        return self.by_branch[branch]

    def date(self, day: float) -> dt.date | None:
        if not np.isfinite(day):
            return None
        return self.scenario.start + dt.timedelta(days=int(day))

    def _dates(self, days) -> pd.Series:
        return pd.Series([self.date(d) for d in np.atleast_1d(days)], dtype="datetime64[ns]")

    # --- tables -----------------------------------------------------------------------------
    def bands(self, branch: str) -> pd.DataFrame:
        """date, metric, q10, q25, q50, q75, q90, mean: one row per date and metric."""
        b = self.by_branch[branch]
        dates = pd.date_range(self.scenario.start, periods=self.days, freq="D")
        frames = []
        for k, metric in enumerate(DAILY):
            values = b.daily[:, k, :]
            qs = q(values, QUANTILES)
            frame = pd.DataFrame({"date": dates, "metric": metric})
            for p, row in zip(QUANTILES, qs, strict=True):
                frame[f"q{round(p * 100)}"] = row
            frame["mean"] = values.mean(axis=0)
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        money = out["metric"].str.endswith("usd")
        for col in ("q10", "q25", "q50", "q75", "q90", "mean"):
            out[col] = np.where(money, out[col].round(0), out[col].round(3))
        return out.sort_values(["date", "metric"], kind="stable").reset_index(drop=True)

    def stopped_share(self, branch: str) -> pd.DataFrame:
        """firm_id, start_date, end_date (inclusive), share_stopped: run-length encoded."""
        b = self.by_branch[branch]
        share = np.cumsum(b.stopped_count, axis=1)[:, : self.days] / self.runs
        rows = []
        for f, firm in enumerate(self.scenario.firms):
            s = share[f]
            change = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
            ends = np.r_[change[1:], self.days]
            for a, e in zip(change.tolist(), ends.tolist(), strict=True):
                if s[a] > 0:
                    rows.append((firm.id, a, e - 1, round(float(s[a]), 4)))
        frame = pd.DataFrame(rows, columns=["firm_id", "start", "end", "share_stopped"])
        base = pd.Timestamp(self.scenario.start)
        frame.insert(1, "start_date", base + pd.to_timedelta(frame.pop("start"), unit="D"))
        frame.insert(2, "end_date", base + pd.to_timedelta(frame.pop("end"), unit="D"))
        return frame

    def firm_risk(self, branch: str) -> pd.DataFrame:
        b = self.by_branch[branch]
        firms = self.scenario.firms
        day_of = lambda d: (d - self.scenario.start).days  # noqa: E731
        end_2025 = day_of(dt.date(2025, 12, 31))
        end_q1 = day_of(dt.date(2026, 3, 31))
        first = b.first_stop
        frame = pd.DataFrame(
            {
                "firm_id": [f.id for f in firms],
                "name": [f.name for f in firms],
                "sector": [f.sector for f in firms],
                "country": [f.country for f in firms],
                "group": [f.group for f in firms],
                "p_stop": np.isfinite(first).mean(axis=0).round(4),
                "p_stop_by_2025_12_31": (first <= end_2025).mean(axis=0).round(4),
                "p_stop_by_2026_03_31": (first <= end_q1).mean(axis=0).round(4),
            }
        )
        for p in (0.1, 0.5, 0.9):
            frame[f"first_stop_q{round(p * 100)}"] = self._dates(q(first, p))
        for name, values in (("days_stopped", b.days_stopped), ("value_lost_usd", b.value_lost)):
            for p in (0.1, 0.5, 0.9):
                col = f"{name}_q{round(p * 100)}"
                frame[col] = q(values, p).round(0).astype("int64")
        frame["p_stop_since_branch"] = np.isfinite(b.first_stop_since).mean(axis=0).round(4)
        frame["first_stop_since_branch_q50"] = self._dates(q(b.first_stop_since, 0.5))
        frame["days_stopped_since_branch_q50"] = (
            q(b.days_stopped_since, 0.5).round(0).astype("int64")
        )
        frame["value_lost_since_branch_usd_q50"] = (
            q(b.value_lost_since, 0.5).round(0).astype("int64")
        )
        return frame

    def runs_frame(self, branch: str) -> pd.DataFrame:
        b = self.by_branch[branch]
        h = b.headlines
        return pd.DataFrame(
            {
                "run": np.arange(self.runs),
                "seed": self.seed,
                "first_stop_date": self._dates(h[:, 0]),
                "peak_firms_stopped": h[:, 1].astype("int64"),
                "value_added_lost_usd": h[:, 2].round(0).astype("int64"),
                "first_stop_since_branch_date": self._dates(h[:, 3]),
                "peak_firms_stopped_since_branch": h[:, 4].astype("int64"),
                "value_added_lost_since_branch_usd": h[:, 5].round(0).astype("int64"),
                "firms_ever_stopped": h[:, 6].astype("int64"),
            }
        )

    def compare(self) -> pd.DataFrame:
        """One row per branch: P10, P50, P90 of the headline figures."""
        rows = []
        for branch in self.branches:
            b = self.by_branch[branch]
            h = np.where(np.isnan(b.headlines), np.inf, b.headlines)
            row: dict[str, object] = {
                "branch": branch,
                "title": self.scenario.branch(branch).title,
                "runs": self.runs,
            }
            for k, name in enumerate(HEADLINES):
                label = name.replace("_day", "")
                for p in (0.1, 0.5, 0.9):
                    value = q(h[:, k], p)
                    key = f"{label}_q{round(p * 100)}"
                    row[key] = self.date(value) if name.endswith("_day") else round(float(value))
            row["p_any_stop_since_branch"] = round(float(np.isfinite(h[:, 3]).mean()), 4)
            rows.append(row)
        frame = pd.DataFrame(rows)
        for col in frame.columns:
            if col.startswith("first_stop"):
                frame[col] = pd.to_datetime(frame[col])
        return frame

    def paired(self) -> pd.DataFrame:
        """Differences between branches in the same runs: branch minus versus."""
        metrics = {
            "value_added_lost_since_branch_usd": 5,
            "peak_firms_stopped_since_branch": 4,
        }
        rows = []
        for a in self.branches:
            for v in self.branches:
                if a == v:
                    continue
                for metric, k in metrics.items():
                    diff = self.by_branch[a].headlines[:, k] - self.by_branch[v].headlines[:, k]
                    rows.append(
                        {
                            "branch": a,
                            "versus": v,
                            "metric": metric,
                            "q10": round(float(q(diff, 0.1))),
                            "q50": round(float(q(diff, 0.5))),
                            "q90": round(float(q(diff, 0.9))),
                            "mean": round(float(diff.mean())),
                            "p_worse": round(float((diff > 0).mean()), 4),
                        }
                    )
        return pd.DataFrame(rows)

    def flows(self, branch: str) -> pd.DataFrame:
        """Monthly flow index by destination: q10, q50, q90 over runs."""
        b = self.by_branch[branch]
        start = pd.Timestamp(self.scenario.start).to_period("M")
        rows = []
        for k, dest in enumerate(FLOW_DESTINATIONS):
            values = b.flows[:, k, :]
            if np.isnan(values).all():
                continue
            qs = q(values, (0.1, 0.5, 0.9))
            for month in range(values.shape[1]):
                rows.append(
                    (
                        (start + month).to_timestamp(),
                        dest,
                        *(round(float(x), 4) for x in qs[:, month]),
                    )
                )
        frame = pd.DataFrame(rows, columns=["month", "destination", "q10", "q50", "q90"])
        frame["month"] = pd.to_datetime(frame["month"]).astype("datetime64[ns]")
        return frame
