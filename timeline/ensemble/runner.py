"""Run many replicates of several branches: serially, on a local process pool, or on Dask.

The unit of work is a batch of replicates, all branches each (so run i of every branch is made
in one place from the same keyed draws: paired). A batch returns `Outcome`s, small arrays; the
caller folds them into an `Ensemble` in replicate order, so the result does not depend on the
number of workers or the scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from timeline.engine.world import simulate
from timeline.ensemble.aggregate import Ensemble
from timeline.ensemble.outcome import Outcome, outcome_of
from timeline.model.scenario import Scenario
from timeline.results.metrics import FirmValues, month_index

Progress = Callable[[int], None]  # called with the number of runs just finished


@dataclass(frozen=True)
class Batch:
    first: int
    last: int  # exclusive


def batches(runs: int, size: int) -> list[Batch]:
    return [Batch(i, min(i + size, runs)) for i in range(0, runs, size)]


def run_batch(
    scenario: Scenario,
    branches: tuple[str, ...],
    seed: int,
    batch: Batch,
    group: str | None = None,
    start: tuple | None = None,
) -> dict[str, list[Outcome]]:
    """Replicates batch.first .. batch.last - 1 of every branch. `start`: (day, FirmStarts)."""
    days = (scenario.end - scenario.start).days + 1
    values = FirmValues.of(scenario)
    months = month_index(scenario.start, days)
    out: dict[str, list[Outcome]] = {b: [] for b in branches}
    for replicate in range(batch.first, batch.last):
        for branch in branches:
            result = simulate(
                scenario,
                branch,
                seed,
                replicate=replicate,
                record=False,
                start_from=start[0] if start else None,
                starts=start[1] if start else None,
            )
            out[branch].append(outcome_of(result, scenario, values, months, group))
    return out


_SCENARIO: Scenario | None = None


def _init(scenario: Scenario) -> None:
    global _SCENARIO
    _SCENARIO = scenario


def _pool_batch(
    branches: tuple[str, ...], seed: int, batch: Batch, group: str | None, start: tuple | None
) -> dict[str, list[Outcome]]:
    assert _SCENARIO is not None
    return run_batch(_SCENARIO, branches, seed, batch, group, start)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_ensemble(
    scenario: Scenario,
    branches: tuple[str, ...] | list[str],
    runs: int,
    seed: int = 0,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    batch_size: int | None = None,
    group: str | None = None,
    start: tuple | None = None,
) -> Ensemble:
    """`runs` paired replicates of each branch; `jobs` processes (default: all cores), or the
    Dask cluster at `scheduler`. Byte-identical results whatever `jobs` and the scheduler."""
    branches = tuple(branches)
    for branch in branches:
        scenario.branch(branch)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    size = batch_size or max(1, min(25, runs // (4 * jobs) or 1))
    work = batches(runs, size)
    ensemble = Ensemble.empty(scenario, branches, runs, seed)
    if group is not None and group not in {f.group for f in scenario.firms}:
        from timeline.errors import TimelineError

        groups = sorted({f.group for f in scenario.firms if f.group}) or ["(none)"]
        raise TimelineError(
            "--group",
            "",
            f"no plant is in group {group!r}",
            f"use a group of the firm table: {', '.join(groups)}",
        )
    for batch, outcomes in _results(scenario, branches, seed, work, jobs, scheduler, group, start):
        ensemble.add(batch.first, outcomes)
        if progress is not None:
            progress(batch.last - batch.first)
    return ensemble.finish()


def _results(
    scenario: Scenario,
    branches: tuple[str, ...],
    seed: int,
    work: list[Batch],
    jobs: int,
    scheduler: str | None,
    group: str | None = None,
    start: tuple | None = None,
) -> Iterator[tuple[Batch, dict[str, list[Outcome]]]]:
    if scheduler is not None:
        yield from _dask(scenario, branches, seed, work, scheduler, group, start)
    elif jobs == 1 or len(work) == 1:
        for batch in work:
            yield batch, run_batch(scenario, branches, seed, batch, group, start)
    else:
        with ProcessPoolExecutor(jobs, initializer=_init, initargs=(scenario,)) as pool:
            futures = {pool.submit(_pool_batch, branches, seed, b, group, start): b for b in work}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def _dask(
    scenario: Scenario,
    branches: tuple[str, ...],
    seed: int,
    work: list[Batch],
    address: str,
    group: str | None = None,
    start: tuple | None = None,
) -> Iterator[tuple[Batch, dict[str, list[Outcome]]]]:
    from timeline.errors import TimelineError

    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise TimelineError(
            "--scheduler",
            "",
            "Dask is not installed",
            "install the extra: pip install 'timeline[dask]' (or uv sync --extra dask)",
        ) from None
    own = isinstance(address, str)  # else a Client given by the caller (tests, notebooks)
    try:
        client = Client(address, timeout="10s") if own else address
    except OSError as err:
        raise TimelineError(
            "--scheduler",
            "",
            f"cannot reach the Dask scheduler at {address} ({err})",
            "start the cluster or correct the address (e.g. tcp://10.0.0.5:8786)",
        ) from None
    try:
        shared = client.scatter(scenario, broadcast=True)
        futures = {
            client.submit(run_batch, shared, branches, seed, b, group, start, pure=False): b
            for b in work
        }
        for future in dask_completed(list(futures)):
            yield futures[future], future.result()
    finally:
        if own:
            client.close()
