"""Bad input is refused through the CLI: exit code 2, one line naming file, place and fix.

The corpus is in `tests/bad_inputs/`: `base/` is a minimal valid scenario folder (scenario.yaml,
catalog.yaml with the four key events, branches/base.yaml, firms.csv, calendar.yaml), and each
`cases/<case>/` holds only the file(s) that differ from it, with exactly one defect. A test copies
`base/` into a temporary folder, lays the case over it and runs `timeline validate` and
`timeline simulate` on the result. The huge-file case is generated at test time (not committed).
"""

from __future__ import annotations

import builtins
import os
import pathlib
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from timeline.cli import app
from timeline.io.text import UNSAFE

CORPUS = Path(__file__).parent / "bad_inputs"
BASE = CORPUS / "base"
CASES = CORPUS / "cases"
ACCEPTED = CORPUS / "accepted"  # tables once refused, now read: same firms as base/
MESSAGE = re.compile(r"^timeline: error: (?P<body>.+); fix: (?P<fix>\S.*)$")


@dataclass(frozen=True)
class Case:
    """A defect: the file the message must name, and where in it (None: the whole file)."""

    name: str
    file: str
    where: str | None

    def __str__(self) -> str:
        return self.name


BAD_CASES = [
    # YAML syntax and safety
    Case("yaml-malformed", "catalog.yaml", r"line (9|10)\b"),
    Case("yaml-duplicate-key", "scenario.yaml", r"line 7\b.*duplicate key 'end'"),
    Case("yaml-python-tag", "scenario.yaml", r"line 3\b"),
    Case("yaml-alias-bomb", "catalog.yaml", r"events\[4\]\.title"),
    Case("yaml-deep-nesting", "scenario.yaml", None),
    # the scenario's fields
    Case("unknown-field", "catalog.yaml", r"line 8, events\[0\]\.severity"),
    Case("wrong-type", "scenario.yaml", r"line 25, initial_policy\.review_working_days"),
    Case("date-not-iso", "catalog.yaml", r"line 12, events\[1\]\.date.*25/10/2025"),
    Case("date-impossible", "catalog.yaml", r"line 4, events\[0\]\.date.*2025-02-30"),
    Case("end-before-start", "scenario.yaml", r"line 6, end\b"),
    Case("branch-point-outside-horizon", "scenario.yaml", r"line 7, branch_point\b"),
    Case("unknown-element", "catalog.yaml", r"events\[0\]\.effects\.licensed_elements.*Xx"),
    Case("calendar-holiday-is-workday", "calendar.yaml", r"line \d+|workdays|holidays"),
    Case("firms-path-missing", "scenario.yaml", r"firms\b.*data/no-such-firms\.csv"),
    # events and branches
    Case("event-outside-horizon", "catalog.yaml", r"event cn-licensing\b.*2027-04-04"),
    Case("after-unknown-event", "catalog.yaml", r"event follow-up\b.*rare-earth-rules-dec2"),
    Case("after-cycle", "catalog.yaml", r"event chain-[ab]\b.*cycle"),
    Case("duplicate-event-id", "catalog.yaml", r"line 41, events\[6\]\.id.*cn-licensing"),
    Case("key-event-missing", "catalog.yaml", r"events\b.*busan-summit"),
    Case("branch-cancels-unknown", "branches/base.yaml", r"event no-such-event\b"),
    Case("branch-cancels-key-event", "branches/base.yaml", r"line 9, cancel\b"),
    Case("branch-changes-history", "branches/base.yaml", r"event cn-licensing\b"),
    Case("duplicate-branch-id", "branches/copy.yaml", r"line 1, id\b"),
    # the firm table
    Case("firms-missing-column", "firms.csv", r"row 1\b.*ramp_days"),
    Case("firms-non-numeric", "firms.csv", r"row 3, column daily_output_usd\b"),
    Case("firms-negative-inventory", "firms.csv", r"row 2, column inventory_days\b"),
    Case("firms-share-above-one", "firms.csv", r"row 2, column china_share\b"),
    Case("firms-unknown-supplier", "firms.csv", r"row 4, column suppliers\b.*gearbox-maker"),
    Case("firms-supplier-cycle", "firms.csv", r"column suppliers\b.*cycle"),
    Case("firms-bad-supplier-syntax", "firms.csv", r"row 3, column suppliers\b"),
    Case("firms-duplicate-id", "firms.csv", r"row 4, column id\b.*motor-maker"),
    Case("firms-ragged-row", "firms.csv", r"row 4\b"),
    Case("firms-latin1", "firms.csv", r"line 3\b.*UTF-8"),
    Case("firms-empty", "firms.csv", None),
    # unbounded numbers (issue 8, class 4)
    Case("after-days-huge", "catalog.yaml", r"line 36, events\[5\]\.after\.days\b.*3660"),
    Case("after-days-negative-huge", "catalog.yaml", r"line 36, events\[5\]\.after\.days\b"),
    Case("working-days-huge", "catalog.yaml", r"line 36, events\[5\]\.after\.working_days\b"),
    Case("review-working-days-huge", "scenario.yaml", r"line 25, initial_policy\.review_work"),
    Case("effects-review-days-huge", "catalog.yaml", r"line 10, events\[0\]\.effects\.review"),
    Case("end-far-future", "scenario.yaml", r"line 6, end\b.*3000-01-01"),
    Case("firms-output-infinite", "firms.csv", r"row 3, column daily_output_usd\b.*'inf'"),
    Case("firms-output-huge", "firms.csv", r"row 3, column daily_output_usd\b"),
    # parameters without ranges, booleans as numbers (class 5)
    Case("restock-rate-negative", "scenario.yaml", r"line 15, parameters\.restock_rate\b"),
    Case("restock-rate-nan", "scenario.yaml", r"line 15, parameters\.restock_rate\.value\b"),
    Case("at-risk-days-negative", "scenario.yaml", r"line 18, parameters\.at_risk_days\b"),
    Case("days-boolean", "catalog.yaml", r"line 36, events\[5\]\.after\.working_days\b.*True"),
    Case("review-days-boolean", "scenario.yaml", r"line 25, initial_policy\.review_working_days"),
    # CSV quoting and over-long cells (classes 2 and 14)
    Case("firms-unterminated-quote", "firms.csv", r"row 2\b.*never closed"),
    Case("firms-cell-too-long", "firms.csv", r"row 4\b.*longer than"),
    Case("firms-quote-closed-rows-later", "firms.csv", r"row 2\b.*from row 2 to row 4"),
    # duplicates that would silently win (class 6)
    Case("firms-duplicate-column", "firms.csv", r"row 1\b.*'china_share' is given 2 times"),
    Case("firms-duplicate-supplier", "firms.csv", r"row 4, column suppliers\b.*'motor-maker'"),
    # an empty branch list (class 7)
    Case("no-branches", "scenario.yaml", r"line 9, branches\b"),
    # control characters from input files (class 13)
    Case("control-title-escape", "catalog.yaml", r"line 19, events\[2\]\.title\b.*\\x1b"),
    Case("control-header-escape", "firms.csv", r"row 1\b.*column 2\b.*\\x1b"),
    Case("control-bidi-title", "branches/base.yaml", r"line 2, title\b.*\\u202e"),
    Case("control-raw-escape-yaml", "catalog.yaml", r"line 19\b.*\\x1b"),
    Case("yaml-binary-control", "catalog.yaml", r"line 19, events\[2\]\.title\b.*binary"),
    Case("yaml-list-key", "scenario.yaml", r"line 3, column 3\b.*plain name"),
    Case("firms-control-cell", "firms.csv", r"row 3, column name\b.*\\x1b"),
    # key events, reserved ids, duplicate added ids (class 14)
    Case("key-events-out-of-order", "branches/base.yaml", r"event rare-earth-rules-dec1\b"),
    Case("branch-id-all", "branches/base.yaml", r"line 1, id\b.*reserved"),
    Case("branch-add-duplicate-id", "branches/base.yaml", r"line 15, add\[1\]\.id\b.*'extra'"),
]
FIRM_CASES = [case for case in BAD_CASES if case.file == "firms.csv"]


def test_every_case_folder_is_in_the_table():
    """Each folder under cases/ is tested, and each tested case has its folder."""
    assert sorted(p.name for p in CASES.iterdir()) == sorted(case.name for case in BAD_CASES)


# --- helpers ---------------------------------------------------------------------------------


def scenario_with(tmp_path: Path, case: str | None = None) -> Path:
    """A copy of base/ in `tmp_path`, with the files of cases/<case>/ laid over it."""
    folder = tmp_path / "scenario"
    shutil.copytree(BASE, folder)
    if case is not None:
        shutil.copytree(CASES / case, folder, dirs_exist_ok=True)
    return folder


def invoke(*args: object):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def assert_refused(result, file: Path, where: str | None) -> re.Match:
    """Exit 2 with one line `timeline: error: <file>: <where>: <problem>; fix: <fix>`."""
    output = result.output
    assert result.exit_code == 2, output or repr(result.exception)
    assert "Traceback" not in output, output
    assert not UNSAFE.search(output.rstrip("\n")), repr(output)  # no raw escape, no override
    assert output.endswith("\n") and output.count("\n") == 1, output
    match = MESSAGE.match(output.rstrip("\n"))
    assert match, output
    body = match["body"]
    assert body.startswith(f"{file}: "), output
    if where is not None:
        assert re.search(where, body.removeprefix(f"{file}: ")), output
    return match


def commands(folder: Path, out: Path) -> list[list[object]]:
    return [
        ["validate", folder],
        ["simulate", "--runs", "1", "--branch", "base", "--scenario", folder, "--out", out],
    ]


# --- the corpus ----------------------------------------------------------------------------


def test_the_base_scenario_is_valid(tmp_path):
    """base/ validates, simulates (exit 0) and writes its outputs: the cases differ only by
    their defect."""
    folder = scenario_with(tmp_path)
    out = tmp_path / "out"
    result = invoke("validate", folder)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: bad-inputs-base: 6 catalog events"), result.output
    result = invoke(
        "simulate", "--runs", "1", "--branch", "base", "--scenario", folder, "--out", out
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "base").iterdir()) == [
        "events.csv",
        "firms.csv",
        "flows.csv",
        "run.json",
        "stoppages.csv",
        "timeline.csv",
    ]


@pytest.mark.parametrize("case", BAD_CASES, ids=str)
def test_a_bad_input_is_refused_in_one_line_naming_file_place_and_fix(case, tmp_path, monkeypatch):
    """validate and simulate both exit 2 with one line naming the file, where and how to fix,
    and simulate creates no output folder."""
    monkeypatch.chdir(tmp_path)  # anything a defect might write lands here
    folder = scenario_with(tmp_path, case.name)
    out = tmp_path / "out"
    for args in commands(folder, out):
        assert_refused(invoke(*args), folder / case.file, case.where)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario"]


@pytest.mark.parametrize("case", FIRM_CASES, ids=str)
def test_a_bad_firm_table_given_with_firms_is_refused(case, tmp_path):
    """`--firms <bad csv>` over the valid base scenario: the message names that csv."""
    table = CASES / case.name / "firms.csv"
    out = tmp_path / "out"
    args = ["--firms", table]
    assert_refused(invoke("validate", BASE, *args), table.resolve(), case.where)
    result = invoke(
        "simulate", "--runs", "1", "--branch", "base", "--scenario", BASE, *args, "--out", out
    )
    assert_refused(result, table.resolve(), case.where)
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(p.name for p in ACCEPTED.iterdir()))
def test_a_firm_table_from_excel_is_read_as_the_same_firms(case, tmp_path):
    """A table with a UTF-8 byte-order mark, or `;`-separated with decimal commas (Excel in
    many European locales), is accepted: validate says ok and the firms equal base/'s."""
    from timeline.io.firmsio import read_firms

    table = ACCEPTED / case / "firms.csv"
    result = invoke("validate", BASE, "--firms", table)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("3 firms"), result.output
    assert read_firms(table) == read_firms(BASE / "firms.csv")


def test_an_unknown_branch_on_the_command_line_is_refused(tmp_path):
    """`--branch nope`: exit 2, the message names the option and lists the branches."""
    out = tmp_path / "out"
    result = invoke("simulate", "--runs", "1", "--branch", "nope", "--scenario", BASE, "--out", out)
    match = assert_refused(result, Path("--branch"), r"unknown branch 'nope'")
    assert "base" in match["fix"]
    assert not out.exists()


def test_the_python_tag_runs_nothing(tmp_path, monkeypatch):
    """`!!python/object/apply:os.system` is refused before it could run its command."""
    monkeypatch.chdir(tmp_path)
    folder = scenario_with(tmp_path, "yaml-python-tag")
    assert "python/object/apply:os.system" in (folder / "scenario.yaml").read_text()
    result = invoke("validate", folder)
    assert result.exit_code == 2
    assert "remove the tag" in result.output
    assert not list(tmp_path.rglob("python-tag-ran"))


# --- a huge firm table --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_table(tmp_path_factory) -> Path:
    """A well-formed firm table of 52 MB: the base rows, repeated with new ids (not committed)."""
    header, *body = (BASE / "firms.csv").read_text().splitlines()
    per_copy = sum(len(line) + 1 for line in body)
    copies = 52_000_000 // per_copy + 1
    rows = [row.split(",", 1) for row in body]
    lines = [f"{firm_id}-{n},{rest}" for n in range(copies) for firm_id, rest in rows]
    path = tmp_path_factory.mktemp("huge") / "firms.csv"
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    assert path.stat().st_size > 50_000_000
    return path


@pytest.fixture
def opened(monkeypatch) -> list[Path]:
    """The files the code under test opens or reads (through open() or pathlib)."""
    seen: list[Path] = []

    def spy(original):
        def wrapper(file, *args, **kwargs):
            if isinstance(file, str | pathlib.PurePath):
                seen.append(Path(file).resolve())
            return original(file, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(builtins, "open", spy(builtins.open))
    for name in ("open", "read_bytes", "read_text"):
        monkeypatch.setattr(pathlib.Path, name, spy(getattr(pathlib.Path, name)))
    return seen


@pytest.mark.parametrize("how", ["--firms", "scenario"])
def test_a_huge_firm_table_is_refused_quickly_without_being_read(how, huge_table, tmp_path, opened):
    """A firm table over 50 MB is refused in well under a second, by its size alone."""
    folder = scenario_with(tmp_path)
    table = huge_table
    if how == "scenario":
        table = folder / "firms.csv"
        table.unlink()
        os.link(huge_table, table)
    extra = ["--firms", table] if how == "--firms" else []
    out = tmp_path / "out"
    opened.clear()
    started = time.perf_counter()
    result = invoke(
        "simulate", "--runs", "1", "--branch", "base", "--scenario", folder, *extra, "--out", out
    )
    elapsed = time.perf_counter() - started
    match = assert_refused(result, table.resolve(), None)
    assert "MB" in match["body"]
    assert table.resolve() not in opened
    assert elapsed < 2.0
    assert not out.exists()


# --- where files are looked for ---------------------------------------------------------------


def test_the_firm_table_is_found_relative_to_the_scenario_file_not_the_cwd(tmp_path, monkeypatch):
    """From another working folder, with a decoy firms.csv there, the scenario's own table is
    used (3 firms), whether the scenario is named by a relative or an absolute path."""
    scenario_with(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "firms.csv").write_text("not a firm table\n")
    monkeypatch.chdir(elsewhere)
    for path in (Path("../project/scenario"), tmp_path / "project" / "scenario" / "scenario.yaml"):
        result = invoke("validate", path)
        assert result.exit_code == 0, result.output
        assert result.output.rstrip().endswith("3 firms"), result.output
