"""The `timeline` command through typer's CliRunner: exit codes, files written, what it prints.

Ensembles here use a handful of runs on one worker (`--runs 5 --jobs 1`) to stay fast.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from timeline.cli import DEFAULT_RUNS, app
from timeline.run import run_branch

BRANCHES = ("history", "concede", "deescalate", "decouple")
SINGLE_FILES = {"events.csv", "timeline.csv", "firms.csv", "stoppages.csv", "flows.csv"}
ENSEMBLE_FILES = {
    "bands.csv",
    "stopped_share.csv",
    "firm_risk.csv",
    "runs.csv",
    "flows_bands.csv",
}
KEY_EVENTS = ("kl-talks", "busan-summit", "tariff-deadline-nov1", "rare-earth-rules-dec1")
SMALL = ("--runs", "5", "--jobs", "1")
REPORT = {"report.html", "charts"}  # written beside the branch folders by default


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def simulate(runner: CliRunner, out, *args: str):
    return runner.invoke(app, ["simulate", "--out", str(out), *args])


def names(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


def meta(folder) -> dict:
    return json.loads((folder / "run.json").read_text())


def assert_one_line_error(result, *words: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr naming `words`, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("timeline: error: ")
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_default_runs_is_an_ensemble():
    """Without --runs, simulate runs an ensemble (more than one paired run)."""
    assert DEFAULT_RUNS > 1


def test_simulate_one_branch_ensemble(runner, tmp_path):
    """`--branch decouple --runs 5` writes the replayed run's tables, the ensemble's tables and
    run.json into out/decouple, and nothing else there (report.html and charts/ beside it);
    it prints P50 (P10-P90) and the key dates."""
    result = simulate(runner, tmp_path, "--branch", "decouple", *SMALL)
    assert result.exit_code == 0, result.output
    assert names(tmp_path) == {"decouple", *REPORT}
    folder = tmp_path / "decouple"
    assert names(folder) == SINGLE_FILES | ENSEMBLE_FILES | {"run.json"}
    info = meta(folder)
    assert (info["tool"], info["branch"], info["seed"]) == ("timeline", "decouple", 0)
    assert (info["runs"], info["replay"], info["status"]) == (5, 0, "complete")
    assert sorted(info["files"]) == sorted(names(folder))
    runs = pd.read_csv(folder / "runs.csv")
    assert list(runs["run"]) == [0, 1, 2, 3, 4]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("US-China rare-earth confrontation")
    assert "5 paired runs per branch, seed 0" in lines[0]
    assert any(line.split()[:1] == ["decouple"] for line in lines)
    for key in KEY_EVENTS:
        assert key in result.stdout


def test_simulate_all_branches_ensemble(runner, tmp_path):
    """`--branch all --runs 5` writes a folder per branch, compare.csv (one row per branch, 5
    runs each) and paired.csv (every ordered pair of branches), and the report."""
    result = simulate(runner, tmp_path, "--branch", "all", *SMALL)
    assert result.exit_code == 0, result.output
    assert names(tmp_path) == {*BRANCHES, "compare.csv", "paired.csv", *REPORT}
    for branch in BRANCHES:
        assert names(tmp_path / branch) == SINGLE_FILES | ENSEMBLE_FILES | {"run.json"}
        assert meta(tmp_path / branch)["branch"] == branch
    compare = pd.read_csv(tmp_path / "compare.csv")
    assert list(compare["branch"]) == list(BRANCHES)
    assert set(compare["runs"]) == {5}
    paired = pd.read_csv(tmp_path / "paired.csv")
    pairs = set(zip(paired["branch"], paired["versus"], strict=True))
    assert pairs == {(a, b) for a in BRANCHES for b in BRANCHES if a != b}
    assert "Paired differences" in result.stdout
    for branch in BRANCHES:
        assert branch in result.stdout


def test_simulate_one_run(runner, tmp_path, default_scenario):
    """`--runs 1` writes one trajectory: the five tables and run.json, exactly the files of
    `run_branch(seed)`; no ensemble tables."""
    result = simulate(runner, tmp_path, "--branch", "decouple", "--runs", "1", "--seed", "3")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "decouple"
    assert names(folder) == SINGLE_FILES | {"run.json"}
    expected = run_branch(default_scenario, "decouple", 3).files()
    for name, content in expected.items():
        assert (folder / name).read_bytes() == content, name
    assert (meta(folder)["runs"], meta(folder)["seed"]) == (1, 3)
    assert "one run (seed 3, run 0)" in result.stdout


def test_simulate_all_one_run_writes_compare(runner, tmp_path):
    """`--branch all --runs 1` writes the branch folders and compare.csv (no paired.csv)."""
    result = simulate(runner, tmp_path, "--branch", "all", "--runs", "1", "--no-report")
    assert result.exit_code == 0, result.output
    assert names(tmp_path) == {*BRANCHES, "compare.csv"}
    assert list(pd.read_csv(tmp_path / "compare.csv")["branch"]) == list(BRANCHES)


def test_replay_writes_that_run(runner, tmp_path, default_scenario):
    """`--runs 5 --replay 3` writes run 3's trajectory: the same bytes as
    `run_branch(..., replicate=3)`, which differ from run 0's."""
    result = simulate(runner, tmp_path, "--branch", "decouple", *SMALL, "--replay", "3")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "decouple"
    expected = run_branch(default_scenario, "decouple", 0, replicate=3).files()
    for name, content in expected.items():
        assert (folder / name).read_bytes() == content, name
    assert meta(folder)["replay"] == 3
    first = run_branch(default_scenario, "decouple", 0, replicate=0).files()
    assert first["events.csv"] != expected["events.csv"]


@pytest.mark.parametrize(("runs", "replay"), [("5", "5"), ("1", "1")])
def test_replay_out_of_range_exits_2(runner, tmp_path, runs, replay):
    """A --replay that is not one of the runs is a one-line error, exit 2, nothing written."""
    out = tmp_path / "out"
    result = simulate(runner, out, "--branch", "decouple", "--runs", runs, "--replay", replay)
    assert_one_line_error(result, "--replay")
    assert not out.exists()


def test_unknown_branch_exits_2(runner, tmp_path):
    """An unknown branch is one line naming it and the valid branches; exit 2; nothing
    written."""
    out = tmp_path / "out"
    result = simulate(runner, out, "--branch", "nope", *SMALL)
    assert_one_line_error(result, "nope", *BRANCHES)
    assert not out.exists()


def test_until_with_several_runs_exits_2(runner, tmp_path):
    """`--until` cuts one trajectory short: with --runs > 1 it is a one-line error, exit 2."""
    out = tmp_path / "out"
    result = simulate(runner, out, "--branch", "decouple", *SMALL, "--until", "2025-12-01")
    assert_one_line_error(result, "--until", "--runs 1")
    assert not out.exists()


def test_until_with_one_run_shortens_timeline(runner, tmp_path):
    """`--runs 1 --until` ends the written timeline on that date."""
    result = simulate(
        runner, tmp_path, "--branch", "history", "--runs", "1", "--until", "2025-11-30"
    )
    assert result.exit_code == 0, result.output
    timeline = pd.read_csv(tmp_path / "history" / "timeline.csv")
    assert timeline["date"].iloc[0] == "2025-04-01"
    assert timeline["date"].iloc[-1] == "2025-11-30"
    assert len(timeline) == 244


@pytest.mark.parametrize("until", ["2025-02-30", "2025-03-31"])
def test_until_not_a_date_or_before_start_exits_2(runner, tmp_path, until):
    """`--until` that is not a date, or before the start, is a one-line error, exit 2."""
    out = tmp_path / "out"
    result = simulate(runner, out, "--branch", "history", "--runs", "1", "--until", until)
    assert_one_line_error(result, "--until", until)
    assert not out.exists()


def test_runs_below_one_exits_2(runner, tmp_path):
    """`--runs 0` is an option error: one line, exit 2."""
    result = simulate(runner, tmp_path / "out", "--branch", "decouple", "--runs", "0")
    assert_one_line_error(result, "--runs")


def test_simulate_twice_replaces_folder(runner, tmp_path):
    """A second run into the same out replaces the branch folder this tool wrote; a file the
    user added there stops it (exit 2, nothing changed) unless --force."""
    one = ("--branch", "decouple", "--runs", "1")
    first = simulate(runner, tmp_path, *one, "--seed", "1")
    assert first.exit_code == 0, first.output
    again = simulate(runner, tmp_path, "--branch", "decouple", *SMALL, "--seed", "3")
    assert again.exit_code == 0, again.output
    assert meta(tmp_path / "decouple")["seed"] == 3
    assert "runs.csv" in names(tmp_path / "decouple")
    (tmp_path / "decouple" / "stale.txt").write_text("left from before")
    refused = simulate(runner, tmp_path, *one, "--seed", "2")
    assert_one_line_error(refused, "stale.txt", "--force")
    assert meta(tmp_path / "decouple")["seed"] == 3
    second = simulate(runner, tmp_path, *one, "--seed", "2", "--force")
    assert second.exit_code == 0, second.output
    assert names(tmp_path / "decouple") == SINGLE_FILES | {"run.json"}
    assert meta(tmp_path / "decouple")["seed"] == 2
    assert names(tmp_path) == {"decouple", *REPORT}  # no temporary folders


def test_branches_lists_ids(runner):
    """`branches` lists the four branch ids, each with its title, then its summary indented."""
    result = runner.invoke(app, ["branches"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    listed = [line.split()[0] for line in lines if not line[:1].isspace()]
    assert listed == list(BRANCHES)
    assert len(lines) == 2 * len(BRANCHES)


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
    assert dates[ids.index("busan-summit")] == "2025-10-30"


@pytest.mark.parametrize("branch", ["nope", "all"])
def test_events_needs_one_known_branch(runner, branch):
    """`events` with an unknown branch, or `all`, is one line naming the branches, exit 2."""
    result = runner.invoke(app, ["events", "--branch", branch])
    assert_one_line_error(result, "decouple")


def test_validate_ok(runner, default_scenario):
    """`validate` on the built-in scenario prints one ok line with its counts and exits 0."""
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ok: {default_scenario.id}: ")
    assert f"{len(default_scenario.firms)} firms" in lines[0]
    assert f"{len(default_scenario.branches)} branches" in lines[0]


def test_validate_missing_path_exits_2(runner, tmp_path):
    """`validate` of a path that does not exist is one line, exit 2."""
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert_one_line_error(result, "missing.yaml")


# --- help ----------------------------------------------------------------------------------

#: A type label typer would print next to a name: `<str>`, `<int range>`, `<list[str]>`,
#: `<path>`, and the braces it puts around a required argument in the usage line.
TYPE_LABEL = re.compile(r"<[a-z][a-z_ \[\]]*>|\{[A-Za-z_]+\}")


def commands(command, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every command and group of the CLI with its argument list (`()`: `timeline` itself)."""
    found = [(prefix, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += commands(sub, (*prefix, name))
    return found


def stray_labels(text: str) -> list[str]:
    return TYPE_LABEL.findall(text)


def test_the_label_check_finds_typer_labels():
    """The check below can fail: a plain typer app's help has the labels it looks for."""
    demo = typer.Typer(rich_markup_mode=None)

    @demo.command()
    def run(
        out: Annotated[Path, typer.Argument()],
        n: Annotated[int, typer.Option(min=1)] = 1,
        name: Annotated[list[str] | None, typer.Option()] = None,
    ) -> None:
        """Demo."""

    text = CliRunner().invoke(demo, ["--help"]).output
    assert {"<int range>", "<list[str]>", "<path>"} <= set(stray_labels(text)), text


def test_help_of_every_command_is_plain_with_one_example():
    """`--help` of every command and group: no type labels, every option named by its
    metavar (BRANCH, PATH, N, DATE, ...), and one example for each command."""
    every = commands(typer.main.get_command(app))
    assert {("simulate",), ("report",), ("firms", "generate")} <= {path for path, _ in every}
    for path, command in every:
        result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        assert not stray_labels(text), (path, stray_labels(text), text)
        for param in command.params:
            if not getattr(param, "is_flag", False) and param.name not in ("help", "version"):
                assert param.metavar and param.metavar.isupper(), (path, param.name)
                shown = param.opts[0] + " " + param.metavar if param.opts[0][0] == "-" else ""
                assert param.metavar in text and shown in text, (path, param.name, text)
        if path:  # each command (the top level has its own "Start with")
            assert text.count("Example: timeline ") == 1, (path, text)


# --- the report, written by default ---------------------------------------------------------

ONE_BRANCH_CHARTS = {"stopped", "value_lost", "stopped_share_decouple", "policy", "flows"}


def chart_files(out) -> dict[str, bytes]:
    folder = out / "charts"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def without_provenance(out) -> bytes:
    """report.html with the run's command and creation time (run.json) blanked out."""
    page = (out / "report.html").read_text(encoding="utf-8")
    info = meta(out / "decouple")
    for text in (info["command"], info["created_at"]):
        page = page.replace(html.escape(text, quote=True), "-")
    return page.encode()


def test_default_run_writes_report_and_charts_the_same_for_any_jobs(runner, tmp_path):
    """A default simulate writes report.html and charts/ (PNG and SVG of each chart) beside
    the branch folder; the report covers the branch run and says there is no other. Charts
    and report are byte-identical with --jobs 1 and 2 (the page apart from the command line
    and the time it names)."""
    one, two = tmp_path / "a" / "out", tmp_path / "b" / "out"  # the page names the folder
    for out, jobs in ((one, "1"), (two, "2")):
        result = simulate(runner, out, "--branch", "decouple", "--runs", "6", "--jobs", jobs)
        assert result.exit_code == 0, result.output
        assert f"{out / 'report.html'}" in result.stdout and f"{out / 'charts'}" in result.stdout
    charts = chart_files(one)
    assert set(charts) == {f"{n}.{kind}" for n in ONE_BRANCH_CHARTS for kind in ("png", "svg")}
    assert charts == chart_files(two)
    assert without_provenance(one) == without_provenance(two)
    page = (one / "report.html").read_text(encoding="utf-8")
    assert page.count("<img ") == len(ONE_BRANCH_CHARTS)
    assert "This report covers one branch, <b>decouple</b>" in page
    assert "6 runs per branch" in page
    assert not any(p.name.startswith(".") for p in one.rglob("*"))  # no temporary files


def test_no_charts_and_no_report(runner, tmp_path):
    """`--no-charts`: report.html without images and no charts/; `--no-report`: neither, and
    an earlier report is left as it was."""
    quick = ("--branch", "decouple", "--runs", "1")
    result = simulate(runner, tmp_path, *quick, "--no-charts")
    assert result.exit_code == 0, result.output
    assert names(tmp_path) == {"decouple", "report.html"}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="answer"' in page and "<img" not in page
    before = (tmp_path / "report.html").read_bytes()
    result = simulate(runner, tmp_path, *quick, "--seed", "4", "--no-report")
    assert result.exit_code == 0, result.output
    assert names(tmp_path) == {"decouple", "report.html"}
    assert (tmp_path / "report.html").read_bytes() == before
    assert meta(tmp_path / "decouple")["seed"] == 4
    fresh = tmp_path / "fresh"
    result = simulate(runner, fresh, *quick, "--no-report")
    assert result.exit_code == 0, result.output
    assert names(fresh) == {"decouple"}


def test_report_covers_the_branches_run_and_keeps_user_files(runner, tmp_path):
    """After `--branch all`, a run of one branch writes the report of that branch: the other
    branches' heat strips of ours go, a file of the user's in charts/ stays."""
    result = simulate(runner, tmp_path, "--branch", "all", "--runs", "1")
    assert result.exit_code == 0, result.output
    assert {f"stopped_share_{b}.png" for b in BRANCHES} <= set(chart_files(tmp_path))
    (tmp_path / "charts" / "mine.png").write_bytes(b"not ours")
    result = simulate(runner, tmp_path, "--branch", "decouple", "--runs", "1")
    assert result.exit_code == 0, result.output
    kept = set(chart_files(tmp_path))
    assert kept == {f"{n}.{k}" for n in ONE_BRANCH_CHARTS for k in ("png", "svg")} | {"mine.png"}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "This report covers one branch" in page and "stopped_share_history" not in page
    assert names(tmp_path) >= {*BRANCHES, "compare.csv"}  # other branch folders are left


def test_someone_elses_report_html_is_not_replaced(runner, tmp_path):
    """A report.html timeline did not write stops the run before anything is written (exit 2,
    one line); --no-report leaves it alone and --force replaces it."""
    (tmp_path / "report.html").write_text("<html>my own notes</html>")
    quick = ("--branch", "decouple", "--runs", "1")
    refused = simulate(runner, tmp_path, *quick)
    assert_one_line_error(refused, "report.html", "--force")
    assert names(tmp_path) == {"report.html"}
    assert simulate(runner, tmp_path, *quick, "--no-report").exit_code == 0
    assert (tmp_path / "report.html").read_text() == "<html>my own notes</html>"
    assert simulate(runner, tmp_path, *quick, "--force").exit_code == 0
    assert 'id="answer"' in (tmp_path / "report.html").read_text(encoding="utf-8")
