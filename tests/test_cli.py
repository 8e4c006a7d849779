"""The `timeline` command through typer's CliRunner: exit codes, files written, what it prints."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from timeline.cli import app

BRANCHES = ("history", "concede", "deescalate", "decouple")
RUN_FILES = {"events.csv", "timeline.csv", "firms.csv", "stoppages.csv", "run.json"}
KEY_EVENTS = ("kl-talks", "busan-summit", "tariff-deadline-nov1", "rare-earth-rules-dec1")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def simulate(runner: CliRunner, out, *args: str):
    return runner.invoke(app, ["simulate", "--out", str(out), *args])


def test_simulate_one_branch(runner, tmp_path):
    """`simulate --branch decouple` writes the four CSVs and run.json into out/decouple."""
    result = simulate(runner, tmp_path, "--branch", "decouple")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "decouple").iterdir()} == RUN_FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decouple"]
    meta = json.loads((tmp_path / "decouple" / "run.json").read_text())
    assert (meta["tool"], meta["branch"], meta["seed"]) == ("timeline", "decouple", 0)


def test_simulate_prints_summary(runner, tmp_path):
    """`simulate` prints a summary table: title, a header, a row for the branch, key dates."""
    result = simulate(runner, tmp_path, "--branch", "decouple")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("US-China rare-earth confrontation")
    assert any(line.startswith("branch ") for line in lines)
    assert any(line.startswith("decouple ") for line in lines)
    for key in KEY_EVENTS:
        assert key in result.stdout


def test_simulate_all_branches(runner, tmp_path):
    """`--branch all` writes one folder per branch and compare.csv with one row per branch."""
    result = simulate(runner, tmp_path, "--branch", "all")
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {*BRANCHES, "compare.csv"}
    for branch in BRANCHES:
        assert {p.name for p in (tmp_path / branch).iterdir()} == RUN_FILES
    compare = pd.read_csv(tmp_path / "compare.csv")
    assert sorted(compare["branch"]) == sorted(BRANCHES)
    for branch in BRANCHES:
        assert branch in result.stdout


def test_unknown_branch_exits_2(runner, tmp_path):
    """An unknown branch exits 2, names the valid branches, and writes nothing."""
    out = tmp_path / "out"
    result = simulate(runner, out, "--branch", "nope")
    assert result.exit_code == 2, result.output
    assert "nope" in result.stderr
    for branch in BRANCHES:
        assert branch in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_branches_lists_ids(runner):
    """`branches` lists the four branch ids, one per entry."""
    result = runner.invoke(app, ["branches"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.stdout.splitlines() if not line[:1].isspace()]
    assert sorted(listed) == sorted(BRANCHES)


def test_events_in_date_order(runner):
    """`events --branch history` lists the schedule, key events included, in date order."""
    result = runner.invoke(app, ["events", "--branch", "history"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    dates = [row[0] for row in rows]
    ids = [row[2] for row in rows]
    assert dates == sorted(dates)
    assert [int(row[1]) for row in rows] == list(range(len(rows)))
    positions = [ids.index(key) for key in KEY_EVENTS]
    assert positions == sorted(positions)
    assert dates[ids.index("kl-talks")] == "2025-10-25"
    assert "kl-consensus-announced" in ids  # history's own added event


def test_events_unknown_branch_exits_2(runner):
    """`events` with an unknown branch exits 2 and names the valid branches."""
    result = runner.invoke(app, ["events", "--branch", "nope"])
    assert result.exit_code == 2, result.output
    assert "decouple" in result.stderr


def test_validate_ok(runner):
    """`validate` on the built-in scenario prints ok and exits 0."""
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok:")


def test_simulate_twice_replaces_folder(runner, tmp_path):
    """A second run into the same out replaces the branch folder this tool wrote; a file the
    user added there stops it (exit 2, nothing changed) unless --force."""
    first = simulate(runner, tmp_path, "--branch", "decouple", "--seed", "1")
    assert first.exit_code == 0, first.output
    again = simulate(runner, tmp_path, "--branch", "decouple", "--seed", "3")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "decouple" / "run.json").read_text())["seed"] == 3
    (tmp_path / "decouple" / "stale.txt").write_text("left from before")
    refused = simulate(runner, tmp_path, "--branch", "decouple", "--seed", "2")
    assert refused.exit_code == 2, refused.output
    assert "stale.txt" in refused.stderr and "--force" in refused.stderr
    assert json.loads((tmp_path / "decouple" / "run.json").read_text())["seed"] == 3
    second = simulate(runner, tmp_path, "--branch", "decouple", "--seed", "2", "--force")
    assert second.exit_code == 0, second.output
    assert {p.name for p in (tmp_path / "decouple").iterdir()} == RUN_FILES
    assert json.loads((tmp_path / "decouple" / "run.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decouple"]  # no temporary folders


def test_foreign_folder_refused(runner, tmp_path):
    """A non-empty folder timeline did not write is refused with exit 2 and left untouched."""
    foreign = tmp_path / "decouple"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = simulate(runner, tmp_path, "--branch", "decouple")
    assert result.exit_code == 2, result.output
    assert "--force" in result.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert (foreign / "notes.txt").read_text() == "mine"


def test_foreign_folder_replaced_with_force(runner, tmp_path):
    """With --force a foreign folder is replaced by the run's files."""
    foreign = tmp_path / "decouple"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = simulate(runner, tmp_path, "--branch", "decouple", "--force")
    assert result.exit_code == 0, result.output
    assert {p.name for p in foreign.iterdir()} == RUN_FILES


def test_until_option_shortens_timeline(runner, tmp_path):
    """`--until` ends the written timeline on that date."""
    result = simulate(runner, tmp_path, "--branch", "history", "--until", "2025-11-30")
    assert result.exit_code == 0, result.output
    timeline = pd.read_csv(tmp_path / "history" / "timeline.csv")
    assert timeline["date"].iloc[-1] == "2025-11-30"
