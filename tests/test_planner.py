"""The planner's questions: buffer sizing, sensitivity, groups, and calibration on tiny inputs.

The tiny scenario: a Dy control on 2025-05-01 that is never approved before the branch point,
one exposed plant whose stock varies by run (inventory spread), so the share of runs that stop
after the branch point falls as its stock grows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import approval, event, firm, key_events, make_scenario

from timeline.analysis import buffers as buf
from timeline.analysis import calibrate as cal
from timeline.analysis.sensitivity import sensitivity
from timeline.ensemble.runner import run_ensemble
from timeline.errors import TimelineError
from timeline.model.scenario import Scenario

RUNS = 20


def tiny() -> Scenario:
    control = event(
        "dy-control",
        "2025-09-01",
        effects={"licensed_elements": ["Dy"], "review_working_days": 60, "review_spread": 2.0},
    )
    scenario = make_scenario(
        [
            firm(
                "exposed",
                elements=["Dy"],
                china_share=1.0,
                inventory_days=40.0,
                lead_time_days=10,
                group="mine",
            ),
            firm("safe", group="other"),
        ],
        events=[*key_events(), control],
        approval=approval(civil=0.5),
    )
    data = scenario.model_dump()
    data["uncertainty"] = {
        "inventory_days": {
            "factor": {"dist": "uniform", "low": 0.5, "high": 1.5},
            "assumption": "test",
        }
    }
    return Scenario.build(data)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return tiny()


def test_the_tiny_plant_stops_after_the_branch_point_in_some_runs(scenario):
    """The fixture is informative: some but not all runs stop the plant after the branch."""
    p = buf.p_stop_after_branch(scenario, "base", 0, RUNS, 0)
    assert 0.0 < p <= 1.0


def test_more_stock_never_raises_the_stop_share(scenario):
    """With the same paired runs, a larger multiple of stock never stops the plant more often."""
    shares = [
        buf.p_stop_after_branch(buf.scaled(scenario, "exposed", m, False), "base", 0, RUNS, 0)
        for m in (0.5, 1.0, 2.0, 4.0, 8.0)
    ]
    assert shares == sorted(shares, reverse=True)


@pytest.mark.parametrize("confidence", [0.8, 0.9])
def test_the_answer_keeps_the_stop_share_at_or_under_one_minus_confidence(scenario, confidence):
    """Re-running with the answer's stocks gives a stop share at or under 1 - confidence."""
    answer = buf.size_buffer(scenario, "base", "exposed", confidence, RUNS, 0)
    assert answer.multiple is not None
    rerun = buf.p_stop_after_branch(
        buf.scaled(scenario, "exposed", answer.multiple, False), "base", 0, RUNS, 0
    )
    assert rerun <= 1 - confidence + 1e-9
    assert answer.p_stop_at_answer == pytest.approx(rerun)
    assert answer.days_needed == pytest.approx(40.0 * answer.multiple, abs=0.1)


def test_buffer_is_monotone_in_confidence(scenario):
    """A higher confidence never needs less stock."""
    needed = [
        buf.size_buffer(scenario, "base", "exposed", c, RUNS, 0).multiple for c in (0.6, 0.8, 0.95)
    ]
    assert all(n is not None for n in needed)
    assert needed == sorted(needed)


def test_an_unknown_firm_is_one_clear_error(scenario):
    """Sizing the buffer of a plant that is not in the table is a TimelineError."""
    with pytest.raises(TimelineError, match="unknown firm"):
        buf.size_buffer(scenario, "base", "nope", 0.9, RUNS, 0)


def test_sensitivity_rows_are_sorted_by_effect(scenario):
    """The tornado table lists each spread and key date, largest absolute effect first."""
    frame = sensitivity(scenario, "base", None, runs=10, seed=0, firm="exposed")
    effects = frame["effect"].dropna().abs().tolist()
    assert effects == sorted(effects, reverse=True)
    assert "inventory_days (spread factor)" in set(frame["parameter"])
    row = frame[frame["parameter"] == "inventory_days (spread factor)"].iloc[0]
    assert row["value_at_low"] >= row["value_at_high"]  # less stock, more stops


def test_group_counts_only_its_plants(scenario):
    """With --group, the headline figures count only the group's plants."""
    mine = run_ensemble(scenario, ["base"], 10, 0, jobs=1, group="mine").branch("base")
    other = run_ensemble(scenario, ["base"], 10, 0, jobs=1, group="other").branch("base")
    assert mine.daily[:, 0, :].max() >= 1  # the exposed plant stops in some run
    assert other.daily[:, 0, :].max() == 0  # the safe plant never does
    # the per-firm figures still cover every plant
    np.testing.assert_array_equal(mine.first_stop, other.first_stop)


def test_an_unknown_group_is_one_clear_error(scenario):
    """A group no plant belongs to is refused."""
    with pytest.raises(TimelineError, match="no plant is in group"):
        run_ensemble(scenario, ["base"], 2, 0, jobs=1, group="nobody")


PRIORS = """
parameters:
  review:
    path: events[dy-control].effects.review_working_days
    prior: {dist: uniform, low: 5, high: 80}
    assumption: test
flows:
  source: test
  US: {2025-09: 0.5, 2025-10: 0.2}
licences:
  - {destination: US, by: 2025-10-20, approved_share: 0.3, source: test}
method: {sets: 8, runs: 4, accept: 3, seed: 1, branch: base}
"""


def test_calibration_accepts_the_closest_sets_and_is_reproducible(tmp_path: Path):
    """The accepted sets are the smallest distances; the same seed gives the same sample."""
    scenario = tiny()
    data = scenario.model_dump()
    data["firms"][0]["re_tonnes_per_year"] = 100.0
    scenario = Scenario.build(data)
    path = tmp_path / "priors.yaml"
    path.write_text(PRIORS, encoding="utf-8")
    priors = cal.read_priors(path)
    first = cal.calibrate(scenario, priors, jobs=1)
    again = cal.calibrate(scenario, priors, jobs=1)
    assert [r.distance for r in first] == [r.distance for r in again]
    best = cal.accepted(first, priors)
    assert len(best) == 3
    worst_kept = max(r.distance for r in best)
    assert all(r.distance >= worst_kept for r in first if r not in best)
    values = [r.values["review"] for r in first]
    assert all(5 <= v <= 80 for v in values)
    # Latin hypercube: one draw in each eighth of the prior's range
    strata = sorted(int((v - 5) / 75 * 8) for v in values)
    assert strata == list(range(8))


def test_a_recheck_reruns_the_closest_sets_on_fresh_draws_and_accepts_among_them(
    tmp_path: Path,
):
    """With `recheck`, the closest screened sets are run again (`recheck_runs` fresh replicates,
    not the screening's) and the posterior is chosen by those reruns alone; serial and parallel
    agree."""
    scenario = tiny()
    data = scenario.model_dump()
    data["firms"][0]["re_tonnes_per_year"] = 100.0
    scenario = Scenario.build(data)
    path = tmp_path / "priors.yaml"
    path.write_text(
        PRIORS.replace("accept: 3,", "accept: 3, recheck: 4, recheck_runs: 6,"), encoding="utf-8"
    )
    priors = cal.read_priors(path)
    screened = cal.calibrate(
        scenario,
        priors.model_copy(update={"method": priors.method.model_copy(update={"recheck": 0})}),
    )
    results = cal.calibrate(scenario, priors, jobs=1)
    closest = sorted(screened, key=lambda r: (r.distance, r.index))[:4]
    assert sorted(r.index for r in results if r.rechecked) == sorted(r.index for r in closest)
    for r in results:
        runs = 6 if r.rechecked else 4
        assert r.flows_runs.shape[0] == runs
    # the rerun's replicates are fresh: its first runs are not the screening's
    again = {r.index: r for r in results}
    rerun = cal.evaluate(scenario, priors, closest[0].index, closest[0].values, 6, 4)
    np.testing.assert_array_equal(rerun.flows_runs, again[closest[0].index].flows_runs)
    best = cal.accepted(results, priors)
    assert len(best) == 3 and all(r.rechecked for r in best)
    kept = max(r.distance for r in best)
    assert all(r.distance >= kept for r in results if r.rechecked and r not in best)
    parallel = cal.calibrate(scenario, priors, jobs=2)
    assert [r.distance for r in parallel] == [r.distance for r in results]
    with pytest.raises(ValueError, match="recheck must be 0 or at least accept"):
        cal.Method(accept=8, recheck=4)


def test_a_posterior_file_round_trips_into_the_scenario(tmp_path: Path):
    """The posterior written by calibrate is read back as per-run overrides."""
    import yaml

    scenario = tiny()
    path = tmp_path / "priors.yaml"
    path.write_text(PRIORS, encoding="utf-8")
    priors = cal.read_priors(path)
    results = cal.calibrate(scenario, priors, jobs=1)
    text = cal.posterior_yaml(priors, cal.accepted(results, priors), {"created_at": "x"})
    doc = yaml.safe_load(text)
    sets = tuple(item["overrides"] for item in doc["accepted"])
    with_posterior = scenario.model_copy(update={"posterior": sets})
    for j, overrides in enumerate(sets):
        variant = with_posterior.variant(j)
        control = next(e for e in variant.events if e.id == "dy-control")
        assert control.effects.review_working_days == pytest.approx(
            overrides["events[dy-control].effects.review_working_days"]
        )


def test_a_trunk_state_continued_in_each_branch_equals_the_full_run(default_scenario):
    """A snapshot of the trunk at the branch point, continued in any branch, reproduces that
    branch's full run after the branch point, run by run (records and rates)."""
    import pickle

    from timeline.engine.streams import Streams
    from timeline.engine.world import World, run_on, simulate

    s = default_scenario
    branch_day = (s.branch_point - s.start).days
    days = (s.end - s.start).days + 1
    for replicate in (0, 1):
        world = World(s.variant(replicate), "history", Streams(0, replicate), days)
        world.start()
        world.run(until=branch_day)
        state = pickle.loads(pickle.dumps(world.snapshot()))
        for branch in s.branch_ids:
            full = simulate(s, branch, 0, replicate=replicate)
            on = run_on(s, branch, state)
            assert [r for r in on.rates if r[0] >= branch_day] == [
                r for r in full.rates if r[0] >= branch_day
            ]
            assert on.records == full.records


def test_starting_from_a_date_reports_nothing_before_it(default_scenario):
    """With --from and a state, no plant stops before that date, and a plant given no stock
    and no licence falls below full output on that very day."""
    import datetime as dt

    from timeline.engine.start import FirmStart, LicenceStart
    from timeline.engine.world import simulate

    s = default_scenario
    day = dt.date(2025, 10, 30)
    d = (day - s.start).days
    starts = [
        FirmStart(
            "us-traction-motor",
            re_days_of_cover=0.0,
            direct=LicenceStart("pending", since=d),
            other=LicenceStart(),
        )
    ]
    result = simulate(s, "decouple", 0, start_from=day, starts=starts)
    assert all(r[0] >= d for r in result.rates)
    index = result.firm_ids.index("us-traction-motor")
    first = min(r[0] for r in result.rates if r[1] == index)
    assert first == d


def test_a_state_file_round_trips(default_scenario, tmp_path):
    """The state file a run writes is read back to the same plant states."""
    import datetime as dt

    from timeline.io.statefile import read_state, state_csv
    from timeline.run import save_state

    day = dt.date(2025, 10, 30)
    data = save_state(default_scenario, "history", 0, 0, day)
    path = tmp_path / "state.csv"
    path.write_bytes(data)
    starts = read_state(path, default_scenario, day)
    assert len(starts) == len(default_scenario.firms)
    assert state_csv(starts, default_scenario) == data


def test_a_state_file_from_excel_reads_as_the_csv(default_scenario, tmp_path):
    """The same state saved as an .xlsx workbook (numbers as numbers, empty cells empty) reads
    to the same plant states as the CSV; a wrong firm id is one line naming the row."""
    import csv
    import datetime as dt
    import io

    import openpyxl

    from timeline.errors import TimelineError
    from timeline.io.statefile import read_state, state_csv
    from timeline.run import save_state

    day = dt.date(2025, 10, 30)
    data = save_state(default_scenario, "history", 0, 0, day)
    rows = list(csv.reader(io.StringIO(data.decode())))
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([float(c) if c.replace(".", "", 1).isdigit() else (c or None) for c in row])
    path = tmp_path / "state.xlsx"
    book.save(path)
    starts = read_state(path, default_scenario, day)
    assert state_csv(starts, default_scenario) == data
    sheet.cell(row=3, column=1, value="nobody")
    book.save(path)
    with pytest.raises(TimelineError, match="row 3, column firm_id"):
        read_state(path, default_scenario, day)


def test_a_distribution_in_a_firm_table_cell_is_drawn_once_per_firm_and_run(tmp_path):
    """inventory_days given as triangular(15 30 60) varies between runs within its range and is
    the same in every branch of one run."""
    from timeline.engine.params import draw_params
    from timeline.engine.streams import Streams

    scenario = tiny()
    data = scenario.model_dump()
    data["firms"][0]["inventory_days"] = "triangular(15 30 60)"
    data["uncertainty"] = {}
    s = Scenario.build(data)
    values = [draw_params(s, Streams(0, r))[0].inventory for r in range(30)]
    assert all(15 <= v <= 60 for v in values)
    assert len(set(values)) > 20
    assert draw_params(s, Streams(0, 3))[0].inventory == values[3]
