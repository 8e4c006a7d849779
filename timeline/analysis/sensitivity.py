"""Sensitivity: how much the answer moves when one uncertain input moves across its range.

Each calibrated parameter (priors.yaml) is set to its prior's P10 and then its P90, each spread
factor (scenario.yaml `uncertainty:`) and each number the files give as a distribution are
fixed at their P10 and P90, and each key event after the
trunk is moved 14 days earlier and later; everything else stays as in the scenario. For every
setting the same paired runs are made, and the effect is the change in the median value added
lost after the branch point (or, for a `firm`, in its probability of a stop after the branch
point). Settings that would break the scenario (key events out of order) are reported as such.
The rows, sorted by the size of the effect, are the data of a tornado chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from timeline.engine.world import simulate
from timeline.errors import TimelineError
from timeline.model.scenario import KEY_EVENTS, Scenario
from timeline.results.metrics import FirmValues, spans

SHIFT_DAYS = 14


@dataclass(frozen=True)
class Setting:
    parameter: str
    low_label: str
    high_label: str
    low: Scenario | None
    high: Scenario | None


def measure(scenario: Scenario, branch: str, runs: int, seed: int, firm: str | None) -> float:
    """Median value added lost after the branch point, or a firm's P(stop after it)."""
    values = FirmValues.of(scenario)
    branch_day = (scenario.branch_point - scenario.start).days
    index = [f.id for f in scenario.firms].index(firm) if firm else -1
    out = []
    for replicate in range(runs):
        s = spans(simulate(scenario, branch, seed, replicate=replicate, record=False))
        if firm:
            out.append(float(((s.firm == index) & (s.rate <= 1e-9) & (s.end > branch_day)).any()))
        else:
            start = np.maximum(s.start, branch_day)
            length = np.clip(s.end - start, 0, None)
            out.append(float(((1 - s.rate) * length * values.value_added[s.firm]).sum()))
    return float(np.mean(out)) if firm else float(np.quantile(out, 0.5, method="inverted_cdf"))


def settings(scenario: Scenario, priors) -> list[Setting]:
    out: list[Setting] = []
    for name, prior in priors.parameters.items() if priors else []:
        lo, hi = prior.prior.ppf(0.1), prior.prior.ppf(0.9)
        out.append(
            Setting(
                name,
                f"P10 {lo:.3g}",
                f"P90 {hi:.3g}",
                _fixed(scenario, prior.path, round(lo, 4)),
                _fixed(scenario, prior.path, round(hi, 4)),
            )
        )
    for field, spread in scenario.uncertainty.items():
        lo, hi = spread.factor.ppf(0.1), spread.factor.ppf(0.9)
        out.append(
            Setting(
                f"{field} (spread factor)",
                f"x{lo:.2f}",
                f"x{hi:.2f}",
                _try(scenario, {f"uncertainty.{field}.factor": _point(lo)}),
                _try(scenario, {f"uncertainty.{field}.factor": _point(hi)}),
            )
        )
    calibrated = set(scenario.posterior[0]) if scenario.posterior else set()
    for path, dist in scenario.drawn:
        if path in calibrated:
            continue
        lo, hi = dist.ppf(0.1), dist.ppf(0.9)
        alone = scenario.model_copy(
            update={"drawn": tuple(d for d in scenario.drawn if d[0] != path)}
        )
        out.append(
            Setting(
                f"{path} (drawn)",
                f"P10 {lo:.3g}",
                f"P90 {hi:.3g}",
                _try(alone, {path: float(lo)}),
                _try(alone, {path: float(hi)}),
            )
        )
    for key in KEY_EVENTS[1:]:
        event = next((e for e in scenario.events if e.id == key), None)
        if event is None or event.date is None:
            continue
        out.append(
            Setting(
                f"{key} date",
                f"-{SHIFT_DAYS} days",
                f"+{SHIFT_DAYS} days",
                _try(scenario, {f"events[{key}].date": event.date - dt.timedelta(SHIFT_DAYS)}),
                _try(scenario, {f"events[{key}].date": event.date + dt.timedelta(SHIFT_DAYS)}),
            )
        )
    return out


def _fixed(scenario: Scenario, path: str, value: float) -> Scenario | None:
    """The scenario with one calibrated parameter fixed, in every posterior set (or alone)."""
    if scenario.posterior:
        sets = tuple({**dict(s), path: value} for s in scenario.posterior)
        return scenario.model_copy(update={"posterior": sets})
    return _try(scenario, {path: value})


def _point(value: float) -> dict[str, object]:
    return {"dist": "uniform", "low": float(value), "high": float(value) * (1 + 1e-9) + 1e-12}


def _try(scenario: Scenario, changes: dict[str, object]) -> Scenario | None:
    try:
        return scenario.with_overrides(changes)
    except TimelineError:
        return None


def sensitivity(
    scenario: Scenario,
    branch: str,
    priors=None,
    runs: int = 40,
    seed: int = 0,
    firm: str | None = None,
    progress: Callable[[int], None] | None = None,
):
    """The tornado table of one branch (pandas DataFrame)."""
    import pandas as pd

    if firm and firm not in [f.id for f in scenario.firms]:
        raise TimelineError("--firm", "", f"unknown firm {firm!r}", "use an id of the table")
    base = measure(scenario, branch, runs, seed, firm)
    rows = []
    for setting in settings(scenario, priors):
        values = []
        for variant in (setting.low, setting.high):
            values.append(None if variant is None else measure(variant, branch, runs, seed, firm))
            if progress:
                progress(1)
        lo, hi = values
        effect = (hi - lo) if lo is not None and hi is not None else np.nan
        rows.append(
            {
                "branch": branch,
                "parameter": setting.parameter,
                "low_label": setting.low_label,
                "high_label": setting.high_label,
                "metric": f"p_stop_since_branch[{firm}]"
                if firm
                else ("value_added_lost_since_branch_usd_q50"),
                "baseline": round(base, 4),
                "value_at_low": round(lo, 4) if lo is not None else np.nan,
                "value_at_high": round(hi, 4) if hi is not None else np.nan,
                "effect": round(effect, 4) if effect == effect else np.nan,
                "note": "" if lo is not None and hi is not None else "setting breaks the scenario",
            }
        )
    frame = pd.DataFrame(rows)
    order = frame["effect"].abs().fillna(-1).sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)
