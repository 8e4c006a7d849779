"""Calibration: fit the uncertain parameters named in a priors file to observed 2025 targets.

Method (simple, stated, fits 2 cores): a Latin-hypercube sample of `sets` parameter sets from
the priors; each set runs `runs` replicates of the `history` branch up to the end of the last
target month; the score of a set is the root mean square of (simulated median - observed) over
the monthly flow-index targets and the licence statistics (each with its weight); the `accept`
sets with the smallest distance are the posterior (approximate Bayesian computation by
rejection). With `recheck`, the closest `recheck` sets are first run again `recheck_runs` times
on fresh replicates and the posterior is chosen by those reruns alone, so that a set is not kept
for one lucky screening. Only flows and licence statistics are fitted: stop dates are what the model
predicts, never a target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from timeline.engine.world import RunResult, simulate
from timeline.model.policy import destination_of
from timeline.model.scenario import Scenario
from timeline.model.uncertain import Distribution
from timeline.results.metrics import FLOW_DESTINATIONS, month_index, monthly_flows


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prior(_Strict):
    path: str
    prior: Distribution
    source: str | None = None
    assumption: str | None = None


class LicenceTarget(_Strict):
    destination: str
    by: dt.date
    approved_share: float = Field(ge=0, le=1)
    weight: float = Field(default=1.0, gt=0, le=10)
    source: str


class Method(_Strict):
    sets: int = Field(default=48, ge=2, le=10_000)
    runs: int = Field(default=12, ge=1, le=10_000)
    accept: int = Field(default=8, ge=1)
    seed: int = Field(default=0, ge=0)
    branch: str = "history"  # the replay of what happened
    # The `recheck` closest sets are run again `recheck_runs` times on fresh draws and scored
    # on those alone, so a set is not kept for a lucky screening (0: no recheck).
    recheck: int = Field(default=0, ge=0, le=10_000)
    recheck_runs: int = Field(default=50, ge=1, le=10_000)

    @model_validator(mode="after")
    def _recheck_covers_accept(self) -> Method:
        if self.recheck and self.recheck < self.accept:
            raise ValueError("recheck must be 0 or at least accept")
        return self


class Priors(_Strict):
    parameters: dict[str, Prior]
    flows: dict[str, object]
    licences: tuple[LicenceTarget, ...] = ()
    method: Method = Method()

    def flow_targets(self) -> list[tuple[str, str, float]]:
        """(destination, YYYY-MM, observed index)."""
        out = []
        for dest, months in self.flows.items():
            if dest == "source" or not isinstance(months, dict):
                continue
            out += [(dest, str(month), float(value)) for month, value in months.items()]
        return out


@dataclass
class SetResult:
    index: int
    values: dict[str, float]
    flows: np.ndarray  # (targets,) medians
    flows_runs: np.ndarray  # (runs, targets)
    licences: np.ndarray  # (runs, licence targets)
    distance: float
    rechecked: bool = False


def sample(priors: Priors) -> list[dict[str, float]]:
    """A Latin-hypercube sample of the priors: `sets` parameter sets."""
    n = priors.method.sets
    rng = np.random.default_rng(np.random.SeedSequence(priors.method.seed))
    names = sorted(priors.parameters)
    columns = {}
    for name in names:
        strata = rng.permutation(n)
        u = (strata + rng.random(n)) / n
        columns[name] = [float(priors.parameters[name].prior.ppf(float(x))) for x in u]
    return [{name: round(columns[name][i], 4) for name in names} for i in range(n)]


def overrides(priors: Priors, values: dict[str, float]) -> dict[str, float]:
    return {priors.parameters[name].path: value for name, value in values.items()}


def _last_day(priors: Priors) -> dt.date:
    months = [dt.date.fromisoformat(m + "-01") for _, m, _ in priors.flow_targets()]
    last = max(months + [t.by for t in priors.licences])
    return (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def licence_shares(result: RunResult, scenario: Scenario, targets) -> np.ndarray:
    dest = [destination_of(f.country) for f in scenario.firms]
    out = np.full(len(targets), np.nan)
    for k, t in enumerate(targets):
        by = (t.by - scenario.start).days
        filed = [f for f in result.filings if dest[f[0]] == t.destination and f[2] <= by]
        if filed:
            out[k] = sum(1 for f in filed if 0 <= f[3] <= by) / len(filed)
    return out


def evaluate(
    scenario: Scenario,
    priors: Priors,
    index: int,
    values: dict[str, float],
    runs: int | None = None,
    first_run: int = 0,
) -> SetResult:
    """Run one parameter set `runs` times (replicates `first_run`, `first_run` + 1, ...;
    default: the method's runs from 0) and score it against the targets."""
    runs = priors.method.runs if runs is None else runs
    variant = scenario.model_copy(update={"posterior": ()}).with_overrides(
        overrides(priors, values)
    )
    until = _last_day(priors)
    targets = priors.flow_targets()
    days = (until - variant.start).days + 1
    months = month_index(variant.start, days)
    first = variant.start.year * 12 + variant.start.month - 1
    flows = np.zeros((runs, len(targets)))
    lic = np.zeros((runs, len(priors.licences)))
    for run in range(runs):
        result = simulate(
            variant,
            priors.method.branch,
            priors.method.seed,
            until,
            replicate=first_run + run,
            record=False,
        )
        monthly = monthly_flows(result, variant, months)
        for k, (dest, month, _) in enumerate(targets):
            m = int(month[:4]) * 12 + int(month[5:7]) - 1 - first
            flows[run, k] = monthly[FLOW_DESTINATIONS.index(dest), m]
        lic[run] = licence_shares(result, variant, priors.licences)
    result = score(priors, index, values, flows, lic)
    result.rechecked = first_run > 0
    return result


def score(priors, index, values, flows, lic) -> SetResult:
    observed = np.array([v for _, _, v in priors.flow_targets()])
    med = np.nanmedian(flows, axis=0)
    errors = list((med - observed) ** 2)
    weights = [1.0] * len(errors)
    for k, t in enumerate(priors.licences):
        sim = np.nanmedian(lic[:, k]) if not np.isnan(lic[:, k]).all() else 0.0
        errors.append((sim - t.approved_share) ** 2)
        weights.append(t.weight)
    distance = float(np.sqrt(np.dot(errors, weights) / sum(weights)))
    return SetResult(index, values, med, flows, lic, round(distance, 6))


_STATE: tuple[Scenario, Priors] | None = None


def _init(scenario: Scenario, priors: Priors) -> None:
    global _STATE
    _STATE = (scenario, priors)


def _task(task: tuple) -> SetResult:
    """In a worker: `evaluate` one (index, values, runs, first_run)."""
    assert _STATE is not None
    return evaluate(_STATE[0], _STATE[1], *task)


def calibrate(
    scenario: Scenario,
    priors: Priors,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[SetResult]:
    """Every sampled set, scored, in sample order (the same whatever `jobs`). With a recheck,
    the closest sets of the screening are replaced by their rerun on fresh draws."""
    sets = sample(priors)
    if jobs <= 1:
        return _screen_and_recheck(
            sets,
            priors.method,
            lambda tasks: (evaluate(scenario, priors, *t) for t in tasks),
            progress,
        )
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=(scenario, priors)) as pool:
        return _screen_and_recheck(
            sets, priors.method, lambda tasks: pool.map(_task, tasks), progress
        )


def _screen_and_recheck(sets, method: Method, run, progress) -> list[SetResult]:
    """Score every set; with a recheck, replace the closest by their rerun on fresh draws.
    `run(tasks)` yields each task's SetResult in task order."""

    def run_all(tasks: list[tuple]) -> list[SetResult]:
        out = []
        for result in run(tasks):
            out.append(result)
            if progress:
                progress(1)
        return out

    results = run_all([(i, values, None, 0) for i, values in enumerate(sets)])
    if method.recheck:
        closest = sorted(results, key=lambda r: (r.distance, r.index))[: method.recheck]
        again = run_all([(r.index, r.values, method.recheck_runs, method.runs) for r in closest])
        for r in again:
            results[r.index] = r
    return results


def accepted(results: list[SetResult], priors: Priors) -> list[SetResult]:
    """The `accept` closest sets; with a recheck, the closest by their rerun alone."""
    pool = [r for r in results if r.rechecked] or results
    ordered = sorted(pool, key=lambda r: (r.distance, r.index))
    return ordered[: priors.method.accept]


def fit_rows(priors: Priors, best: list[SetResult]) -> list[dict[str, object]]:
    """target, observed, simulated P50 and P10-P90 over the posterior's runs pooled."""
    flows = np.vstack([r.flows_runs for r in best])
    rows = []
    for k, (dest, month, obs) in enumerate(priors.flow_targets()):
        v = flows[:, k]
        rows.append(_row(f"flow index {dest} {month}", obs, v))
    lic = np.vstack([r.licences for r in best]) if priors.licences else None
    for k, t in enumerate(priors.licences):
        rows.append(_row(f"approved share {t.destination} by {t.by}", t.approved_share, lic[:, k]))
    return rows


def _row(target: str, observed: float, values: np.ndarray) -> dict[str, object]:
    values = values[~np.isnan(values)]
    q = (
        (lambda p: round(float(np.quantile(values, p, method="inverted_cdf")), 3))
        if len(values)
        else (lambda p: float("nan"))
    )
    return {
        "target": target,
        "observed": observed,
        "simulated_q50": q(0.5),
        "simulated_q10": q(0.1),
        "simulated_q90": q(0.9),
        "error_q50": round(q(0.5) - observed, 3) if len(values) else float("nan"),
    }


def posterior_yaml(priors: Priors, best: list[SetResult], provenance: dict[str, object]) -> str:
    """The posterior file: accepted sets as scenario overrides, with provenance."""
    import yaml

    doc = {
        "tool": "timeline",
        "kind": "posterior",
        **provenance,
        "method": priors.method.model_dump(),
        "accepted": [
            {
                "distance": r.distance,
                "parameters": r.values,
                "overrides": overrides(priors, r.values),
            }
            for r in best
        ],
    }
    header = (
        "# Written by `timeline calibrate`: the accepted parameter sets (the posterior).\n"
        "# Ensembles use them by default: run i takes set i modulo their number.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def read_priors(path: Path) -> Priors:
    from timeline.io.yamlio import read_yaml

    return read_yaml(path).validate(Priors)
