"""Ensembles: many paired runs per branch, serial, on a process pool or on Dask.

The ensemble's tables (bands, stopped_share, firm_risk, runs, flows_bands, compare, paired) are
checked against figures computed here from the single runs that `run_branch(...,
replicate=i)` gives, with numpy's `inverted_cdf` quantiles; against each other; and for
identical bytes whatever runs them. Small run counts keep this file fast.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from conftest import approval, event, firm, key_events, make_scenario
from dask.distributed import Client, LocalCluster

from timeline.ensemble.runner import run_ensemble
from timeline.io.output import csv_bytes
from timeline.run import run_branch, simulate_branches, simulation_files

RUNS = 8
COMMAND, CREATED = "timeline simulate (test)", "2026-01-01T00:00:00+00:00"
QUANTILES = ("q10", "q25", "q50", "q75", "q90")
ENSEMBLE_FILES = ("bands.csv", "stopped_share.csv", "firm_risk.csv", "runs.csv", "flows_bands.csv")
SINGLE_FILES = ("events.csv", "timeline.csv", "firms.csv", "stoppages.csv", "flows.csv")
DAILY = (
    "firms_stopped",
    "firms_at_risk",
    "value_added_lost_usd",
    "cumulative_value_added_lost_usd",
)
EPS = 1e-9


def q(values, p):
    return np.quantile(np.asarray(values, dtype=float), p, axis=0, method="inverted_cdf")


def read(content: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content), keep_default_na=False, dtype=str)


def number(column: pd.Series) -> np.ndarray:
    return column.replace("", "nan").astype(float).to_numpy()


def day_numbers(column: pd.Series, start) -> np.ndarray:
    """ISO dates -> day numbers from `start`; blank (never) -> +inf."""
    dates = pd.to_datetime(column.replace("", None))
    days = (dates - pd.Timestamp(start)).dt.days.astype(float)
    return days.fillna(np.inf).to_numpy()


def files_of(sim) -> tuple[dict[str, dict[str, bytes]], dict[str, bytes]]:
    return simulation_files(sim, COMMAND, CREATED)


def daily_rates(result) -> np.ndarray:
    """(firms, days) output rate at the end of each day, by a plain loop over `rates`."""
    out = np.ones((len(result.firm_ids), result.days))
    for day, firm_index, rate, _cause in result.rates:
        out[firm_index, day:] = rate
    return out


# --- a tiny scenario whose branches differ for one firm only ---------------------------------

CONTROL = event(
    "dy-control", "2025-05-01", effects={"licensed_elements": ["Dy"], "review_working_days": 10}
)
TB_CONTROL = event("tb-control", "2025-11-14", effects={"licensed_elements_add": ["Tb"]})
BASE = {"id": "base", "title": "base", "summary": "no change", "source": "test"}
HARSH = {
    "id": "harsh",
    "title": "harsh",
    "summary": "China stops approving US licences",
    "source": "test",
    "add": [event("us-approvals-stop", "2025-11-03", effects={"approval": {"US": {"civil": 0.0}}})],
}


def paired_scenario():
    """A German and a US plant on Chinese Dy and Tb, approvals at 50% with spread-out reviews;
    branch `harsh` stops approvals for the US only, so the German plant cannot tell the
    branches apart."""
    plants = [
        firm(
            country.lower(),
            country=country,
            elements=["Dy", "Tb"],
            china_share=1.0,
            inventory_days=20,
            lead_time_days=10,
        )
        for country in ("DE", "US")
    ]
    return make_scenario(
        plants,
        events=[*key_events(), CONTROL, TB_CONTROL],
        branches=[BASE, HARSH],
        approval=approval(0.5, 0.5),
        review_spread=2.0,
    )


def spanning_scenario():
    """One plant that stops in June and is still stopped at the branch point (no approvals)."""
    control = event(
        "dy-control",
        "2025-06-01",
        effects={"licensed_elements": ["Dy"], "review_working_days": 200},
    )
    plants = [firm("a", elements=["Dy"], china_share=1.0, inventory_days=10), firm("b")]
    return make_scenario(plants, events=[*key_events(), control], approval=approval(0.0, 0.0))


@pytest.fixture(scope="module")
def tiny():
    return paired_scenario()


@pytest.fixture(scope="module")
def tiny_sim(tiny):
    return simulate_branches(tiny, "all", runs=12, seed=5, jobs=1)


@pytest.fixture(scope="module")
def tiny_singles(tiny, tiny_sim):
    return {
        b: [run_branch(tiny, b, 5, replicate=i) for i in range(tiny_sim.runs)]
        for b in tiny_sim.branches
    }


# --- the default scenario ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def serial(default_scenario):
    return simulate_branches(default_scenario, "all", runs=RUNS, seed=0, jobs=1)


@pytest.fixture(scope="module")
def serial_files(serial):
    return files_of(serial)


def test_simulation_files_are_the_ensemble_set(serial_files, default_scenario):
    """Each branch folder holds the replayed run's five tables, the five ensemble tables and
    run.json; the top level compare.csv and paired.csv."""
    folders, top = serial_files
    assert sorted(folders) == sorted(default_scenario.branch_ids)
    for files in folders.values():
        assert sorted(files) == sorted([*SINGLE_FILES, *ENSEMBLE_FILES, "run.json"])
    assert sorted(top) == ["compare.csv", "paired.csv"]


def test_bands_quantiles_are_ordered(serial_files, default_scenario):
    """In every bands.csv, each row has q10 <= q25 <= q50 <= q75 <= q90, and one row per day
    and metric."""
    folders, _ = serial_files
    days = (default_scenario.end - default_scenario.start).days + 1
    for branch, files in folders.items():
        bands = read(files["bands.csv"])
        assert list(bands.columns) == ["date", "metric", *QUANTILES, "mean"]
        assert len(bands) == days * len(DAILY), branch
        assert sorted(set(bands["metric"])) == sorted(DAILY)
        values = np.column_stack([number(bands[c]) for c in QUANTILES])
        assert np.isfinite(values).all()
        assert (np.diff(values, axis=1) >= 0).all(), branch
        assert values.max() > 0


def test_compare_quantiles_are_ordered(serial_files, default_scenario):
    """In compare.csv, each headline has q10 <= q50 <= q90 (a blank date is 'never', later
    than any date), and the probability is in [0, 1]."""
    _, top = serial_files
    compare = read(top["compare.csv"])
    assert list(compare["branch"]) == list(default_scenario.branch_ids)
    assert set(compare["runs"]) == {str(RUNS)}
    stems = sorted({c.rsplit("_q", 1)[0] for c in compare.columns if c.endswith("_q50")})
    assert len(stems) == 7
    for stem in stems:
        cols = [f"{stem}_q10", f"{stem}_q50", f"{stem}_q90"]
        if stem.startswith("first_stop"):
            values = np.column_stack(
                [day_numbers(compare[c], default_scenario.start) for c in cols]
            )
        else:
            values = np.column_stack([number(compare[c]) for c in cols])
        assert (values[:, 0] <= values[:, 1]).all() and (values[:, 1] <= values[:, 2]).all(), stem
    p = number(compare["p_any_stop_since_branch"])
    assert ((p >= 0) & (p <= 1)).all()


def test_other_quantile_tables_are_ordered(serial_files, default_scenario):
    """firm_risk (first stop, days stopped, value lost), flows_bands and paired.csv have
    q10 <= q50 <= q90 in every row."""
    folders, top = serial_files
    for files in folders.values():
        risk = read(files["firm_risk.csv"])
        first = [
            day_numbers(risk[f"first_stop_q{p}"], default_scenario.start) for p in (10, 50, 90)
        ]
        assert (first[0] <= first[1]).all() and (first[1] <= first[2]).all()
        for stem in ("days_stopped", "value_lost_usd"):
            v = [number(risk[f"{stem}_q{p}"]) for p in (10, 50, 90)]
            assert (v[0] <= v[1]).all() and (v[1] <= v[2]).all(), stem
        flows = read(files["flows_bands.csv"])
        assert len(flows) > 0
        v = [number(flows[c]) for c in ("q10", "q50", "q90")]
        assert (v[0] <= v[1]).all() and (v[1] <= v[2]).all()
    paired = read(top["paired.csv"])
    v = [number(paired[c]) for c in ("q10", "q50", "q90")]
    assert (v[0] <= v[1]).all() and (v[1] <= v[2]).all()


def test_runs_csv_has_one_row_per_run(serial_files):
    """runs.csv has one row per run, numbered 0..runs-1, with the base seed."""
    folders, _ = serial_files
    for files in folders.values():
        runs = read(files["runs.csv"])
        assert list(runs["run"]) == [str(i) for i in range(RUNS)]
        assert set(runs["seed"]) == {"0"}


def test_firm_risk_probabilities(serial_files, default_scenario):
    """firm_risk.csv: one row per firm; every probability in [0, 1], a multiple of 1/runs, and
    p_stop_by_2025_12_31 <= p_stop_by_2026_03_31 <= p_stop."""
    folders, _ = serial_files
    for files in folders.values():
        risk = read(files["firm_risk.csv"])
        assert list(risk["firm_id"]) == [f.id for f in default_scenario.firms]
        columns = ["p_stop", "p_stop_by_2025_12_31", "p_stop_by_2026_03_31", "p_stop_since_branch"]
        for column in columns:
            p = number(risk[column])
            assert ((p >= 0) & (p <= 1)).all(), column
            assert np.allclose(p * RUNS, np.round(p * RUNS), atol=RUNS * 1e-4), column
        by_2025 = number(risk["p_stop_by_2025_12_31"])
        by_q1 = number(risk["p_stop_by_2026_03_31"])
        p_stop = number(risk["p_stop"])
        assert (by_2025 <= by_q1).all() and (by_q1 <= p_stop).all()
        assert p_stop.max() > 0


def test_runs_are_paired_before_the_branch_point(serial, default_scenario):
    """Run i of every branch uses the same draws: before the branch point nothing differs
    between branches, so each firm's first stop, capped at the branch day, is the same in run i
    of every branch; and it is not the same in every run (the check has something to see)."""
    branch_day = (default_scenario.branch_point - default_scenario.start).days
    capped = {
        b: np.minimum(serial.ensemble.branch(b).first_stop, branch_day) for b in serial.branches
    }
    first = capped[serial.branches[0]]
    for b in serial.branches[1:]:
        assert np.array_equal(capped[b], first), b
    assert any(len(set(first[:, f])) > 1 for f in range(first.shape[1]))


def test_runs_csv_rows_are_the_single_runs(serial_files, default_scenario):
    """Row i of a branch's runs.csv is the headline of `run_branch(..., replicate=i)`: same
    dates and counts, money to the dollar rounding of the daily rows."""
    folders, _ = serial_files
    for branch in ("history", "decouple"):
        runs = read(folders[branch]["runs.csv"])
        for i in (0, RUNS - 1):
            run = run_branch(default_scenario, branch, 0, replicate=i)
            _same_headline(runs.iloc[i], run)


def _same_headline(row: pd.Series, run) -> None:
    summary = run.summary
    for column in (
        "first_stop_date",
        "peak_firms_stopped",
        "first_stop_since_branch_date",
        "peak_firms_stopped_since_branch",
        "firms_ever_stopped",
    ):
        assert row[column] == str(summary[column]), column
    for column in ("value_added_lost_usd", "value_added_lost_since_branch_usd"):
        assert abs(int(row[column]) - summary[column]) <= run.result.days / 2, column


def test_runs_csv_rows_are_the_single_runs_when_a_stop_spans_the_branch_point():
    """A plant stopped since June and still stopped at the branch point: the ensemble's runs.csv
    and the single run's summary (compare.csv of --runs 1, the printed table) must give the same
    first stop since the branch point."""
    scenario = spanning_scenario()
    sim = simulate_branches(scenario, "base", runs=3, seed=0, jobs=1)
    runs = read(files_of(sim)[0]["base"]["runs.csv"])
    run = run_branch(scenario, "base", 0, replicate=0)
    firms = run.firms.set_index("firm_id")
    assert pd.notna(firms.loc["a", "first_stop_date"])
    _same_headline(runs.iloc[0], run)


def test_paired_differences_from_runs_csv(serial_files):
    """paired.csv's value-added difference between two branches is the quantile of the run-by-
    run differences of their runs.csv rows; branch minus versus is minus versus minus branch in
    the mean, and p_worse of the two directions adds up to at most 1."""
    folders, top = serial_files
    paired = read(top["paired.csv"]).set_index(["branch", "versus", "metric"])
    metric = "value_added_lost_since_branch_usd"
    a, v = "decouple", "history"
    diff = number(read(folders[a]["runs.csv"])[metric]) - number(
        read(folders[v]["runs.csv"])[metric]
    )
    row = paired.loc[(a, v, metric)]
    for p in (10, 50, 90):
        assert abs(float(row[f"q{p}"]) - q(diff, p / 100)) <= 2, p
    assert float(row["p_worse"]) == pytest.approx((diff > 0).mean())
    back = paired.loc[(v, a, metric)]
    assert abs(float(row["mean"]) + float(back["mean"])) <= 1
    assert float(row["p_worse"]) + float(back["p_worse"]) <= 1


# --- the ensemble's tables from the single runs (tiny scenario) -------------------------------


def test_tiny_branches_are_paired(tiny_sim, tiny):
    """The German plant's first stop in run i is the same in both branches (the branches
    differ only for the US), and differs between runs; the US plant's does differ between the
    branches in some run (the branches matter)."""
    ids = [f.id for f in tiny.firms]
    de, us = ids.index("de"), ids.index("us")
    base = tiny_sim.ensemble.branch("base").first_stop
    harsh = tiny_sim.ensemble.branch("harsh").first_stop
    assert np.array_equal(base[:, de], harsh[:, de])
    assert len(set(base[:, de])) > 1
    assert not np.array_equal(base[:, us], harsh[:, us])


def test_tiny_bands_from_single_runs(tiny_sim, tiny_singles):
    """bands.csv is, day by day, the inverted-CDF quantiles and the mean of the single runs'
    timelines."""
    folders, _ = files_of(tiny_sim)
    for branch, singles in tiny_singles.items():
        bands = read(folders[branch]["bands.csv"])
        for metric in DAILY:
            got = bands[bands["metric"] == metric]
            values = np.array([run.timeline[metric].to_numpy(float) for run in singles])
            tolerance = 0 if metric.startswith("firms") else values.shape[1]
            for name, p in zip(QUANTILES, (0.1, 0.25, 0.5, 0.75, 0.9), strict=True):
                assert np.abs(number(got[name]) - q(values, p)).max() <= tolerance, (metric, name)
            mean = values.mean(axis=0)
            assert np.abs(number(got["mean"]) - mean).max() <= max(tolerance, 5e-4), metric


def test_tiny_stopped_share_from_single_runs(tiny_sim, tiny_singles, tiny):
    """stopped_share.csv, expanded day by day, is the share of runs in which the firm is at
    rate 0 that day (blank rows: share 0)."""
    folders, _ = files_of(tiny_sim)
    for branch, singles in tiny_singles.items():
        stopped = np.mean([daily_rates(run.result) <= EPS for run in singles], axis=0)
        assert stopped.max() > 0
        table = read(folders[branch]["stopped_share.csv"])
        got = np.zeros_like(stopped)
        start = pd.Timestamp(tiny.start)
        ids = [f.id for f in tiny.firms]
        for row in table.itertuples():
            a = (pd.Timestamp(row.start_date) - start).days
            b = (pd.Timestamp(row.end_date) - start).days
            got[ids.index(row.firm_id), a : b + 1] = float(row.share_stopped)
        assert np.abs(got - stopped).max() <= 1e-4


def test_tiny_firm_risk_from_single_runs(tiny_sim, tiny_singles, tiny):
    """firm_risk.csv: p_stop and the by-date probabilities are shares of runs, first stop and
    days stopped are the inverted-CDF quantiles over the single runs' firms tables."""
    folders, _ = files_of(tiny_sim)
    start = pd.Timestamp(tiny.start)
    for branch, singles in tiny_singles.items():
        risk = read(folders[branch]["firm_risk.csv"])
        first = np.array(
            [
                ((run.firms["first_stop_date"] - start).dt.days).astype(float).fillna(np.inf)
                for run in singles
            ]
        )
        end_2025 = (pd.Timestamp("2025-12-31") - start).days
        end_q1 = (pd.Timestamp("2026-03-31") - start).days
        for column, share in (
            ("p_stop", np.isfinite(first).mean(axis=0)),
            ("p_stop_by_2025_12_31", (first <= end_2025).mean(axis=0)),
            ("p_stop_by_2026_03_31", (first <= end_q1).mean(axis=0)),
        ):
            assert np.abs(number(risk[column]) - share).max() <= 5e-5, column
        for p in (10, 50, 90):
            assert np.array_equal(
                day_numbers(risk[f"first_stop_q{p}"], tiny.start), q(first, p / 100)
            )
            days = np.array([run.firms["days_stopped"].to_numpy() for run in singles])
            assert np.array_equal(number(risk[f"days_stopped_q{p}"]), q(days, p / 100))


def test_tiny_runs_csv_rows_are_the_single_runs(tiny_sim, tiny_singles):
    """Every row of runs.csv (seed 5) is the headline of the single run of that replicate."""
    folders, _ = files_of(tiny_sim)
    for branch, singles in tiny_singles.items():
        runs = read(folders[branch]["runs.csv"])
        assert list(runs["run"]) == [str(i) for i in range(len(singles))]
        assert set(runs["seed"]) == {"5"}
        for i, run in enumerate(singles):
            _same_headline(runs.iloc[i], run)


def test_flows_bands_from_single_runs(default_scenario):
    """flows_bands.csv is the inverted-CDF quantiles of the single runs' flows.csv, month by
    month and destination by destination (to the fourth decimal each is rounded to)."""
    runs = 5
    sim = simulate_branches(default_scenario, "decouple", runs=runs, seed=0, jobs=1)
    bands = read(files_of(sim)[0]["decouple"]["flows_bands.csv"])
    singles = [run_branch(default_scenario, "decouple", 0, replicate=i).flows for i in range(runs)]
    keys = list(zip(singles[0]["month"], singles[0]["destination"], strict=True))
    for flows in singles:
        assert list(zip(flows["month"], flows["destination"], strict=True)) == keys
    values = np.array([flows["flow_index"].to_numpy() for flows in singles])
    got = bands.set_index(["month", "destination"])
    index = [(m.strftime("%Y-%m-%d"), d) for m, d in keys]
    assert sorted(index) == sorted(got.index)
    for name, p in (("q10", 0.1), ("q50", 0.5), ("q90", 0.9)):
        expected = q(values, p)
        assert np.abs(number(got.loc[index, name]) - expected).max() <= 1.5e-4, name


# --- the same bytes whatever runs them ----------------------------------------------------------


def test_process_pool_gives_the_same_bytes(default_scenario, serial_files):
    """Two worker processes (`jobs=2`) give byte-identical files to the serial run."""
    pooled = simulate_branches(default_scenario, "all", runs=RUNS, seed=0, jobs=2)
    assert files_of(pooled) == serial_files


def test_batching_does_not_change_the_ensemble(tiny):
    """Batches of 1, 5 (uneven) or all runs, serial or pooled: the same tables."""
    results = [
        run_ensemble(tiny, ["base", "harsh"], 12, seed=1, jobs=jobs, batch_size=size)
        for jobs, size in ((1, 12), (1, 5), (2, 1), (2, 5))
    ]

    def tables(ens):
        out = [csv_bytes(ens.compare()), csv_bytes(ens.paired())]
        for b in ("base", "harsh"):
            out += [
                csv_bytes(ens.bands(b)),
                csv_bytes(ens.firm_risk(b)),
                csv_bytes(ens.runs_frame(b)),
            ]
            out.append(csv_bytes(ens.stopped_share(b)))
        return out

    first = tables(results[0])
    for other in results[1:]:
        assert tables(other) == first


@pytest.fixture(scope="module")
def dask_client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def test_dask_client_gives_the_same_bytes(default_scenario, serial_files, dask_client):
    """A Dask `Client` (local cluster, two worker processes) passed as `scheduler=` gives
    byte-identical files to the serial run."""
    distributed = simulate_branches(
        default_scenario, "all", runs=RUNS, seed=0, scheduler=dask_client
    )
    assert files_of(distributed) == serial_files


def test_dask_scheduler_address_gives_the_same_ensemble(tiny, dask_client):
    """The scheduler's address as a string works too (the runner opens and closes its own
    client) and gives the same tables as a serial run; the caller's client stays open."""
    address = dask_client.scheduler.address
    serial = files_of(simulate_branches(tiny, "all", runs=6, seed=2, jobs=1))
    remote = files_of(simulate_branches(tiny, "all", runs=6, seed=2, scheduler=address))
    assert remote == serial
    assert dask_client.status == "running"


# --- --replay ----------------------------------------------------------------------------------


def test_replay_writes_the_single_run_of_that_replicate(default_scenario, serial_files):
    """`replay=N` writes exactly the five files of `run_branch(..., replicate=N)` in each
    branch folder; the ensemble's files are those of the same runs replayed at 0."""
    replay = 5
    sim = simulate_branches(default_scenario, "all", runs=RUNS, seed=0, jobs=1, replay=replay)
    folders, top = files_of(sim)
    base_folders, base_top = serial_files
    assert top == base_top
    for branch, files in folders.items():
        single = run_branch(default_scenario, branch, 0, replicate=replay).files()
        assert {name: files[name] for name in SINGLE_FILES} == single
        assert {name: files[name] for name in ENSEMBLE_FILES} == {
            name: base_folders[branch][name] for name in ENSEMBLE_FILES
        }
    other = run_branch(default_scenario, "decouple", 0, replicate=0).files()
    assert other["events.csv"] != folders["decouple"]["events.csv"]
