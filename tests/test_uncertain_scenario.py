"""Scenario numbers given as distributions in the YAML files (issue 6, uncertain inputs):
a parameter's value, an event's effect, a branch's override; the loaded scenario holds their
medians, each run draws its own value from its keyed stream, the same in every branch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import drawn_in_run_json

from timeline.engine.params import scenario_for
from timeline.engine.world import simulate
from timeline.ensemble.runner import run_ensemble
from timeline.errors import TimelineError
from timeline.io.loader import default_scenario_path, load_scenario

SEP = "events[cn-tighter-scrutiny-sep].effects"
AIR = "parameters.air_freight_share.value"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """The built-in scenario with three numbers made uncertain, and no posterior."""
    target = tmp_path / "events"
    shutil.copytree(default_scenario_path().parent, target)
    _edit(target / "scenario.yaml", "posterior: posterior.yaml\n", "")
    _edit(
        target / "scenario.yaml",
        "  air_freight_share:\n    value: 0.5\n",
        "  air_freight_share:\n    value: {dist: uniform, low: 0.2, high: 0.8}\n",
    )
    _edit(
        target / "catalog.yaml",
        "      review_working_days: 40\n      review_spread: 1.3\n",
        "      review_working_days: {dist: triangular, low: 30, mode: 40, high: 60}\n"
        "      review_spread: 1.3\n",
    )
    _edit(
        target / "catalog.yaml",
        "        US: {civil: 0.5}\n        EU: {civil: 0.75}\n",
        "        US: {civil: {dist: beta, alpha: 2, beta: 2}}\n        EU: {civil: 0.75}\n",
    )
    return target


def test_the_loaded_scenario_holds_medians_and_names_every_distribution(folder):
    scenario = load_scenario(folder)
    paths = [path for path, _ in scenario.drawn]
    assert paths == [AIR, f"{SEP}.review_working_days", f"{SEP}.approval.US.civil"]
    assert scenario.parameters.air_freight_share.value == pytest.approx(0.5)
    [sep] = [e for e in scenario.events if e.id == "cn-tighter-scrutiny-sep"]
    assert sep.effects.approval["US"].civil == pytest.approx(0.5)
    assert 30 < sep.effects.review_working_days < 60


def test_each_run_draws_its_own_values_within_range_and_repeatably(folder):
    scenario = load_scenario(folder)

    def values(seed: int, replicate: int) -> tuple[float, float]:
        chosen = scenario_for(scenario, seed, replicate)
        [sep] = [e for e in chosen.events if e.id == "cn-tighter-scrutiny-sep"]
        assert chosen.drawn == ()
        return chosen.parameters.air_freight_share.value, sep.effects.review_working_days

    drawn = [values(0, r) for r in range(30)]
    assert all(0.2 <= air <= 0.8 and 30 <= days <= 60 for air, days in drawn)
    assert len({air for air, _ in drawn}) == 30
    assert values(0, 7) == drawn[7]
    assert values(1, 7) != drawn[7]
    below = sum(days < 40 for _, days in drawn)  # triangular(30 40 60): P(< 40) = 1/3
    assert 3 <= below <= 18


def test_a_calibrated_path_keeps_the_posteriors_value(folder):
    scenario = load_scenario(folder)
    calibrated = scenario.model_copy(update={"posterior": ({AIR: 0.33},)})
    for replicate in range(5):
        chosen = scenario_for(calibrated, 0, replicate)
        assert chosen.parameters.air_freight_share.value == 0.33
    assert scenario_for(scenario, 0, 0).parameters.air_freight_share.value != 0.33


def test_draws_are_paired_across_branches(folder):
    """Before the branch point every branch is the trunk: with drawn numbers, run r of two
    branches has the same records up to then, and another replicate has other records."""
    scenario = load_scenario(folder)
    point = (scenario.branch_point - scenario.start).days

    def trunk(branch: str, replicate: int) -> list:
        result = simulate(scenario, branch, 0, replicate=replicate)
        return [r for r in result.records if r.day < point]

    assert trunk("history", 3) == trunk("decouple", 3)
    assert trunk("history", 3) != trunk("history", 4)


def test_ensembles_with_drawn_numbers_do_not_depend_on_jobs(folder):
    scenario = load_scenario(folder)
    one = run_ensemble(scenario, ["decouple"], 6, seed=2, jobs=1)
    two = run_ensemble(scenario, ["decouple"], 6, seed=2, jobs=2)
    assert one.runs_frame("decouple").equals(two.runs_frame("decouple"))
    assert one.bands("decouple").equals(two.bands("decouple"))


@pytest.mark.parametrize(
    ("dist", "problem"),
    [
        ("{dist: uniform, low: -5, high: 50}", "can reach -5"),
        ("{dist: uniform, low: 50, high: 5}", "low 50 is not below high 5"),
        ("{dist: unifrm, low: 3, high: 5}", "dist 'unifrm'"),
        ("{dist: lognormal, median: 40, p90: 80000}", "can reach"),
    ],
)
def test_a_bad_distribution_is_one_error_naming_file_line_and_fix(folder, dist, problem):
    _edit(
        folder / "catalog.yaml",
        "{dist: triangular, low: 30, mode: 40, high: 60}",
        dist,
    )
    with pytest.raises(TimelineError) as caught:
        load_scenario(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'catalog.yaml'}: line ")
    assert "review_working_days" in message
    assert problem in message
    assert "fix:" in message


def test_the_cell_notation_works_as_text_in_yaml(folder):
    _edit(
        folder / "catalog.yaml",
        "{dist: triangular, low: 30, mode: 40, high: 60}",
        '"triangular(30 40 60)"',
    )
    scenario = load_scenario(folder)
    [(path, dist)] = [(p, d) for p, d in scenario.drawn if p.endswith("review_working_days")]
    assert (dist.low, dist.mode, dist.high) == (30, 40, 60)


def test_run_json_lists_each_drawn_number_with_its_distribution(folder, tmp_path):
    drawn = drawn_in_run_json(load_scenario(folder), tmp_path / "out", runs=2)
    assert drawn[f"{AIR} (drawn per run)"] == "uniform(0.2, 0.8)"
    assert len(drawn) == 3


# --- a supplier link's buffer days as a distribution in the firm table -----------------------


def _firm_table(tmp_path: Path, suppliers: str) -> tuple[Path, str, str]:
    from timeline.io.firmsio import read_firms

    source = default_scenario_path().parent / "firms.csv"
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    assert "suppliers" in header
    table = tmp_path / "firms.csv"
    table.write_text("\n".join(lines) + "\n")
    base = {f.id: f for f in read_firms(table)}
    buyer = next(f for f in base.values() if len(f.suppliers) >= 1 and not f.elements)
    text = table.read_text()
    old = " ".join(
        f"{link.firm}:{link.buffer_days:g}" + ("" if link.share == 1 else f":{link.share:g}")
        for link in buyer.suppliers
    )
    assert text.count(old) >= 1, old
    first = buyer.suppliers[0].firm
    new = old.replace(f"{first}:{buyer.suppliers[0].buffer_days:g}", f"{first}:{suppliers}", 1)
    table.write_text(text.replace(old, new, 1))
    return table, buyer.id, first


def test_a_suppliers_buffer_may_be_a_distribution_drawn_per_run(tmp_path):
    from timeline.engine.params import draw_params
    from timeline.engine.streams import Streams
    from timeline.io.firmsio import read_firms

    table, buyer_id, supplier = _firm_table(tmp_path, "triangular(2 5 20)")
    [buyer] = [f for f in read_firms(table) if f.id == buyer_id]
    assert buyer.suppliers[0].buffer_days.describe() == "triangular(2, 5, 20)"
    scenario = load_scenario(None, firms=table)
    index = [f.id for f in scenario.firms].index(buyer_id)
    bare = scenario.model_copy(update={"uncertainty": {}})  # the cell's draw alone
    drawn = [draw_params(bare, Streams(0, r))[index].buffers[0] for r in range(20)]
    assert all(2 <= d <= 20 for d in drawn)
    assert len(set(drawn)) == 20
    assert drawn == [draw_params(bare, Streams(0, r))[index].buffers[0] for r in range(20)]
    simulate(scenario, "decouple", 0, replicate=1)  # runs


def test_a_bad_buffer_distribution_names_row_column_and_fix(tmp_path):
    table, _, _ = _firm_table(tmp_path, "triangular(-2 5 20)")
    with pytest.raises(TimelineError) as caught:
        load_scenario(None, firms=table)
    message = str(caught.value)
    assert "column suppliers" in message
    assert "can reach -2" in message
    assert "fix:" in message


def test_sensitivity_fixes_each_drawn_number_at_its_p10_and_p90(folder):
    from timeline.analysis.sensitivity import settings

    scenario = load_scenario(folder)
    rows = {s.parameter: s for s in settings(scenario, None)}
    air = rows[f"{AIR} (drawn)"]
    assert (air.low_label, air.high_label) == ("P10 0.26", "P90 0.74")
    assert air.low.parameters.air_freight_share.value == pytest.approx(0.26)
    assert air.high.parameters.air_freight_share.value == pytest.approx(0.74)
    assert AIR not in [p for p, _ in air.low.drawn]
    assert len(air.low.drawn) == 2
