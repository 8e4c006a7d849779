"""Event-date slips (issue 6): an event's `slip_days`, a number or a distribution, delays it by
round(slip_days) calendar days; events dated after it follow; a distribution is drawn per run,
keyed by its place (the same in every branch), and its whole range is checked at load."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from conftest import drawn_in_run_json, event, firm, key_events, make_scenario
from pydantic import ValidationError
from typer.testing import CliRunner

from timeline.cli import app
from timeline.engine.params import scenario_for
from timeline.engine.trace import Kind
from timeline.engine.world import simulate
from timeline.ensemble.runner import run_ensemble
from timeline.io.loader import default_scenario_path, load_scenario
from timeline.model.schedule import resolve

D = dt.date.fromisoformat
SEP = "cn-tighter-scrutiny-sep"  # catalog, 2025-09-01 (trunk)
SEP_SLIP = f"events[{SEP}].slip_days"
BANK = "us-bank-sanctions"  # decouple adds it on 2026-02-02; cn-halts-us-licences follows +7
BANK_SLIP = f"branches[decouple].add[{BANK}].slip_days"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def _slip(path: Path, event_id: str, date: str, slip: str) -> None:
    """Give an event dated `date` in this file the line `slip_days: <slip>`."""
    _edit(
        path,
        f"  - id: {event_id}\n    date: {date}\n",
        f"  - id: {event_id}\n    date: {date}\n    slip_days: {slip}\n",
    )


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """The built-in scenario, no posterior, with a trunk event's and a branch event's date
    uncertain."""
    target = tmp_path / "events"
    shutil.copytree(default_scenario_path().parent, target)
    _edit(target / "scenario.yaml", "posterior: posterior.yaml\n", "")
    _slip(target / "catalog.yaml", SEP, "2025-09-01", "{dist: uniform, low: 0, high: 20}")
    _slip(target / "branches" / "decouple.yaml", BANK, "2026-02-02", "triangular(0 10 40)")
    return target


def _dates(scenario, branch: str) -> dict[str, dt.date]:
    return {item.event.id: item.date for item in resolve(scenario, branch)}


# --- the schedule ----------------------------------------------------------------------------


def test_a_slip_moves_the_event_and_the_events_dated_after_it():
    """A slip of 4.6 days moves its event 5 days; an event 3 working days after it follows
    (from the slipped date, on the calendar), and so does one 2 calendar days after that."""
    events = [
        *key_events(),
        event("a", "2025-06-02", slip_days=4.6),  # a Monday -> Saturday 2025-06-07
        event("b", None, after={"event": "a", "working_days": 3}),
        event("c", None, after={"event": "b", "days": 2}),
        event("d", "2025-06-02", slip_days=2.5),  # round() to even: 2 days
    ]
    dates = _dates(make_scenario([firm("f")], events=events), "base")
    assert dates["a"] == D("2025-06-07")
    assert dates["b"] == D("2025-06-11")  # Mon 9, Tue 10, Wed 11
    assert dates["c"] == D("2025-06-13")
    assert dates["d"] == D("2025-06-04")


def test_a_slipped_relative_event_moves_from_its_resolved_date():
    events = [
        *key_events(),
        event("a", "2025-06-02"),
        event("b", None, after={"event": "a", "days": 7}, slip_days=3),
    ]
    assert _dates(make_scenario([firm("f")], events=events), "base")["b"] == D("2025-06-12")


def test_a_negative_slip_is_refused():
    with pytest.raises(ValidationError, match="slip_days -1 is negative"):
        make_scenario([firm("f")], events=[*key_events(), event("a", "2025-06-02", slip_days=-1)])


def test_a_scenario_without_slips_keeps_its_fingerprint(folder, default_scenario):
    """Writing slip_days: 0 changes nothing, the fingerprint included (outputs carry it)."""
    plain = folder.parent / "plain"
    shutil.copytree(default_scenario_path().parent, plain)
    _slip(plain / "catalog.yaml", SEP, "2025-09-01", "0")
    assert load_scenario(plain).fingerprint == default_scenario.fingerprint


# --- drawn per run ---------------------------------------------------------------------------


def test_the_loaded_scenario_holds_the_median_slip(folder):
    scenario = load_scenario(folder)
    assert [path for path, _ in scenario.drawn] == [SEP_SLIP, BANK_SLIP]
    [sep] = [e for e in scenario.events if e.id == SEP]
    assert sep.slip_days == 10
    assert _dates(scenario, "history")[SEP] == D("2025-09-11")
    result = CliRunner().invoke(app, ["events", "--branch", "history", "--scenario", folder])
    assert result.exit_code == 0
    assert re.search(rf"^2025-09-11 +\d+ {SEP} ", result.output, re.MULTILINE)


def test_slips_are_drawn_per_run_keyed_and_repeatable(folder):
    scenario = load_scenario(folder)

    def slipped(seed: int, replicate: int) -> tuple[int, int]:
        dates = _dates(scenario_for(scenario, seed, replicate), "decouple")
        return (dates[SEP] - D("2025-09-01")).days, (dates[BANK] - D("2026-02-02")).days

    drawn = [slipped(0, r) for r in range(30)]
    assert all(0 <= sep <= 20 and 0 <= bank <= 40 for sep, bank in drawn)
    assert len({sep for sep, _ in drawn}) >= 10
    assert len({bank for _, bank in drawn}) >= 10
    assert slipped(0, 7) == drawn[7]
    assert [slipped(1, r) for r in range(30)] != drawn
    chosen = scenario_for(scenario, 0, 3)
    [sep] = [e for e in chosen.events if e.id == SEP]
    assert drawn[3][0] == round(sep.slip_days)


def test_a_slipped_anchor_moves_its_relative_events_in_every_run(folder):
    scenario = load_scenario(folder)
    for replicate in range(10):
        dates = _dates(scenario_for(scenario, 0, replicate), "decouple")
        assert dates["cn-halts-us-licences"] == dates[BANK] + dt.timedelta(days=7)


def test_the_engine_applies_a_slipped_event_on_its_drawn_day(folder):
    scenario = load_scenario(folder)
    for replicate in (0, 1):
        result = simulate(scenario, "decouple", 0, replicate=replicate)
        dates = _dates(scenario_for(scenario, 0, replicate), "decouple")
        [day] = [
            r.day
            for r in result.records
            if r.kind == Kind.POLICY and result.schedule[r.a].event.id == BANK
        ]
        assert result.date(day) == dates[BANK]


def test_slips_are_paired_across_branches(folder):
    """A catalog event's slip is the same in every branch of a run: the trunk's records match
    up to the branch point, and the slipped date is the same in every branch."""
    scenario = load_scenario(folder)
    point = (scenario.branch_point - scenario.start).days
    for replicate in (2, 3):
        chosen = scenario_for(scenario, 0, replicate)
        assert len({_dates(chosen, b)[SEP] for b in scenario.branch_ids}) == 1

    def trunk(branch: str, replicate: int) -> list:
        result = simulate(scenario, branch, 0, replicate=replicate)
        return [r for r in result.records if r.day < point]

    assert trunk("history", 3) == trunk("decouple", 3)
    assert (
        _dates(scenario_for(scenario, 0, 2), "history")[SEP]
        != _dates(scenario_for(scenario, 0, 3), "history")[SEP]
    )


def test_ensembles_with_slips_do_not_depend_on_jobs(folder):
    scenario = load_scenario(folder)
    one = run_ensemble(scenario, ["decouple"], 6, seed=2, jobs=1)
    two = run_ensemble(scenario, ["decouple"], 6, seed=2, jobs=2)
    assert one.runs_frame("decouple").equals(two.runs_frame("decouple"))
    assert one.bands("decouple").equals(two.bands("decouple"))


def test_run_json_and_the_event_log_show_the_slips(folder, tmp_path):
    scenario = load_scenario(folder)
    drawn = drawn_in_run_json(scenario, tmp_path / "out", runs=1)
    assert drawn == {
        f"{SEP_SLIP} (drawn per run)": "uniform(0, 20)",
        f"{BANK_SLIP} (drawn per run)": "triangular(0, 10, 40)",
    }
    log = (tmp_path / "out" / "decouple" / "events.csv").read_text()
    slip = (_dates(scenario_for(scenario, 0, 0), "decouple")[BANK] - D("2026-02-02")).days
    [row] = [line for line in log.splitlines() if f",{BANK}," in line]
    assert f"slipped {slip} days past its stated date" in row


def test_sensitivity_fixes_a_slip_at_its_p10_and_p90(folder):
    from timeline.analysis.sensitivity import settings

    scenario = load_scenario(folder)
    rows = {s.parameter: s for s in settings(scenario, None)}
    bank = rows[f"{BANK_SLIP} (drawn)"]
    assert (bank.low_label, bank.high_label) == ("P10 6.32", "P90 29")
    assert _dates(bank.low, "decouple")[BANK] == D("2026-02-08")
    assert _dates(bank.high, "decouple")[BANK] == D("2026-03-03")
    assert BANK_SLIP not in [p for p, _ in bank.low.drawn]


def test_an_override_may_give_a_catalog_event_on_the_branch_point_a_slip(folder):
    """busan-summit is on the branch point: a branch may let it slip (its own key)."""
    _edit(
        folder / "branches" / "decouple.yaml",
        "  busan-summit:\n",
        "  busan-summit:\n    slip_days: choice(0 1)\n",
    )
    scenario = load_scenario(folder)
    assert "branches[decouple].override.busan-summit.slip_days" in dict(scenario.drawn)
    days = {_dates(scenario_for(scenario, 0, r), "decouple")["busan-summit"] for r in range(12)}
    assert days == {D("2025-10-30"), D("2025-10-31")}
    assert {_dates(scenario_for(scenario, 0, r), "history")["busan-summit"] for r in range(12)} == {
        D("2025-10-30")
    }


# --- checked over the whole range at load ----------------------------------------------------


def _refused(folder: Path, file: str, *patterns: str) -> str:
    result = CliRunner().invoke(app, ["validate", str(folder)])
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert output.count("\n") == 1, output
    assert output.startswith(f"timeline: error: {folder / file}: line "), output
    assert "; fix: " in output
    for pattern in patterns:
        assert re.search(pattern, output), output
    return output


def test_a_trunk_slip_that_can_reach_the_branch_point_is_refused(folder):
    _slip(folder / "catalog.yaml", "kl-talks", "2025-10-25", "uniform(0 10)")
    _refused(
        folder,
        "catalog.yaml",
        r"uniform\(0, 10\) can move event kl-talks from 2025-10-25 to 2025-11-04",
        r"across the branch point 2025-10-30",
    )


def test_a_trunk_slip_that_reaches_exactly_the_branch_point_is_refused(folder):
    _slip(folder / "catalog.yaml", "kl-talks", "2025-10-25", "choice(0 5)")
    _refused(folder, "catalog.yaml", "to 2025-10-30, across the branch point")


def test_a_trunk_slip_that_stays_before_the_branch_point_is_accepted(folder):
    _slip(folder / "catalog.yaml", "kl-talks", "2025-10-25", "uniform(0 4.4)")
    assert CliRunner().invoke(app, ["validate", str(folder)]).exit_code == 0


def test_a_slip_moving_a_following_trunk_event_across_the_branch_point_is_refused(folder):
    """An event 30 days after SEP, itself unslipped, would cross the branch point."""
    _edit(
        folder / "catalog.yaml",
        "  - id: madrid-talks\n    date: 2025-09-14\n",
        f"  - id: madrid-talks\n    after: {{event: {SEP}, days: 55}}\n",
    )
    _refused(folder, "catalog.yaml", rf"event madrid-talks \(after {SEP}\)", "branch point")


def test_a_branch_slip_past_the_horizon_is_refused(folder):
    _edit(folder / "branches" / "decouple.yaml", "triangular(0 10 40)", "uniform(0 400)")
    _refused(
        folder,
        "branches/decouple.yaml",
        f"can move event {BANK} to 2027-03-09, outside the horizon",
    )


@pytest.mark.parametrize(
    ("slip", "problem"),
    [
        ("uniform(-2 3)", "can reach -2, an event that comes earlier"),
        ("-2", "slip_days -2 is negative"),
        ("lognormal(3 9)", "has no upper limit"),
    ],
)
def test_a_negative_or_unbounded_slip_is_refused(folder, slip, problem):
    _slip(folder / "catalog.yaml", "kl-talks", "2025-10-25", slip)
    _refused(folder, "catalog.yaml", "slip_days", re.escape(problem))


def test_a_slip_that_can_put_a_key_event_after_the_next_is_refused(folder):
    _edit(
        folder / "branches" / "decouple.yaml",
        "  tariff-deadline-nov1:\n",
        "  tariff-deadline-nov1:\n    slip_days: uniform(0 40)\n",
    )
    _refused(
        folder,
        "branches/decouple.yaml",
        "key event tariff-deadline-nov1 .* after rare-earth-rules-dec1",
    )
