"""Faults around the outputs: interrupted runs, foreign folders, unwritable places, CSV formulas.

The interrupt tests run `timeline simulate --branch all` on the default scenario in a child
process and send it SIGINT or SIGTERM. Importing pandas takes a few seconds, far longer than the
run itself (load ~0.2 s, simulate ~0.4 s, write ~0.2 s), so the child first imports the CLI,
says "ready" and waits for a line on stdin; the delays below count from that line, so they land
in loading, simulating and writing. The children are started together and import in parallel.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import event, firm, key_events, make_scenario
from typer.testing import CliRunner

import timeline.io.output
from timeline.cli import app
from timeline.io.output import csv_bytes
from timeline.run import run_branch, write_runs

BRANCHES = ("history", "concede", "deescalate", "decouple")
FILES = ["events.csv", "firms.csv", "flows.csv", "run.json", "stoppages.csv", "timeline.csv"]
SMALL = Path(__file__).parent / "bad_inputs" / "base"  # a valid three-firm scenario
GATED = (
    "import sys\n"
    "from timeline.cli import app\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "app()\n"
)
UNGATED = "from timeline.cli import app\napp()\n"


def invoke(*args: object):
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A complete `--branch all` output of the default scenario, seed 0."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = invoke("simulate", "--runs", "1", "--branch", "all", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".")) if out.exists() else []


def assert_complete(folder: Path, reference: Path) -> None:
    """All five files; run.json of ours, status complete; CSVs byte-equal to the reference."""
    assert sorted(p.name for p in folder.iterdir()) == FILES, folder
    meta = json.loads((folder / "run.json").read_text())
    assert (meta["tool"], meta["status"]) == ("timeline", "complete"), folder
    for name in FILES:
        if name.endswith(".csv"):
            expected = (reference / folder.name / name).read_bytes()
            assert (folder / name).read_bytes() == expected, folder / name


def assert_complete_or_absent(out: Path, reference: Path) -> None:
    """Every branch folder is absent or complete, compare.csv too, and no hidden temporary
    folder holding files is left (an empty one may be: see the in-process test below)."""
    assert [name for name in hidden(out) if any((out / name).rglob("*"))] == []
    for branch in BRANCHES:
        if (out / branch).exists():
            assert_complete(out / branch, reference)
    if (out / "compare.csv").exists():
        assert (out / "compare.csv").read_bytes() == (reference / "compare.csv").read_bytes()


# --- interrupted runs (child processes) -----------------------------------------------------


@dataclass(frozen=True)
class Kill:
    signal: signal.Signals
    when: float | str  # seconds after "go", or the prefix of a temporary folder to wait for
    previous: bool  # a complete output of an earlier run is already in --out

    def __str__(self) -> str:
        when = self.when.strip(".-") if isinstance(self.when, str) else f"{self.when}s"
        return f"{self.signal.name}-{when}-{'over-previous' if self.previous else 'fresh'}"


FIRST_WRITE = ".timeline-tmp-"  # the output set being staged (all branches in one folder)
LAST_WRITE = ".timeline-swap-"  # staged and committed: the swap into place is under way
KILLS = [
    Kill(signal.SIGINT, 0.1, False),  # loading the scenario
    Kill(signal.SIGTERM, 0.35, False),  # simulating
    Kill(signal.SIGINT, FIRST_WRITE, False),
    Kill(signal.SIGTERM, LAST_WRITE, False),
    Kill(signal.SIGTERM, 0.1, True),
    Kill(signal.SIGINT, 0.35, True),
    Kill(signal.SIGINT, LAST_WRITE, True),
    Kill(signal.SIGTERM, FIRST_WRITE, True),
    Kill(signal.SIGHUP, FIRST_WRITE, True),  # a closed terminal ends a run like SIGTERM
]


@dataclass
class Child:
    proc: subprocess.Popen
    out: Path


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """One waiting child per entry of KILLS, started together so that they import in parallel."""
    pool = []
    for _ in KILLS:
        out = tmp_path_factory.mktemp("killed") / "out"
        command = [
            sys.executable,
            "-c",
            GATED,
            "simulate",
            "--runs",
            "1",
            "--branch",
            "all",
            "--out",
            str(out),
        ]
        proc = subprocess.Popen(
            command,
            cwd=out.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        pool.append(Child(proc, out))
    for child in pool:  # all imported: the kills below do not compete with imports for CPU
        assert child.proc.stdout.readline() == "ready\n", child.proc.communicate()
    yield list(pool)
    for child in pool:
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.communicate()


def wait_for(child: Child, prefix: str, limit: float = 30.0) -> None:
    """Return as soon as an entry starting with `prefix` is in --out (or the child has ended)."""
    deadline = time.monotonic() + limit
    while child.proc.poll() is None and time.monotonic() < deadline:
        try:
            if any(name.startswith(prefix) for name in os.listdir(child.out)):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.0005)


def allowed_exit_codes(sig: signal.Signals) -> set[int]:
    # 128 + n from the CLI's handlers; -n if the signal came before they were installed (Python
    # then dies of the signal itself, which a shell also reports as 128 + n); 0 if it finished.
    return {0, 128 + sig, -sig}


@pytest.mark.slow
@pytest.mark.parametrize("kill", KILLS, ids=str)
def test_an_interrupted_run_leaves_each_branch_complete_or_absent(kill, children, reference):
    """After SIGINT/SIGTERM, each branch folder is complete (old or new) or absent, no hidden
    temporary folder with files in it is left, and outputs of an earlier run stay complete."""
    child = children.pop()
    if kill.previous:
        shutil.copytree(reference, child.out)
    child.proc.stdin.write("go\n")
    child.proc.stdin.flush()
    if isinstance(kill.when, str):
        wait_for(child, kill.when)
    else:
        time.sleep(kill.when)
    child.proc.send_signal(kill.signal)
    _, stderr = child.proc.communicate(timeout=60)
    code = child.proc.returncode
    assert code in allowed_exit_codes(kill.signal), stderr
    if code == 128 + kill.signal:  # typer's own 130 (a signal before the command ran) is silent
        assert "Traceback" not in stderr and stderr.count("\n") <= 1, stderr
    assert_complete_or_absent(child.out, reference)
    if kill.previous:
        for branch in BRANCHES:
            assert_complete(child.out / branch, reference)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "after"),
    [(signal.SIGINT, 0.2), (signal.SIGTERM, 0.5), (signal.SIGINT, 1.0)],
    ids=["SIGINT-0.2s", "SIGTERM-0.5s", "SIGINT-1.0s"],
)
def test_a_signal_while_starting_up_writes_nothing(sig, after, tmp_path):
    """A signal during start-up (imports) ends the run with nothing written to --out."""
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-c",
        UNGATED,
        "simulate",
        "--runs",
        "1",
        "--branch",
        "all",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode in allowed_exit_codes(sig)
    if proc.returncode != 0:
        assert not out.exists()


# --- interrupted writes (injected at each filesystem step, in process) ------------------------


class Interrupter:
    """Send this process SIGINT (Ctrl-C) at the `at`-th filesystem step of a write.

    A step is an fsync, rename, replace or rmtree (the signal comes just before it), or the
    creation of a temporary folder or file (just after it, before the caller has its name): the
    places where a signal can arrive between two states on disk. A real signal is sent, not an
    exception raised, so code that defers signals during a critical section is judged fairly.
    """

    def __init__(self, at: int | None) -> None:
        self.at = at
        self.steps: list[str] = []

    def _step(self, name: str, target: object) -> None:
        self.steps.append(f"{name} {target}")
        if self.at is not None and len(self.steps) == self.at:
            os.kill(os.getpid(), signal.SIGINT)

    def before(self, name: str, original):
        def step(*args, **kwargs):
            self._step(name, args[0])
            return original(*args, **kwargs)

        return step

    def after(self, name: str, original):
        def step(*args, **kwargs):
            made = original(*args, **kwargs)
            self._step(f"{name} made", made)
            return made

        return step

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(os, "fsync", self.before("fsync", os.fsync))
        monkeypatch.setattr(os, "replace", self.before("replace", os.replace))
        monkeypatch.setattr(Path, "rename", self.before("rename", Path.rename))
        monkeypatch.setattr(shutil, "rmtree", self.before("rmtree", shutil.rmtree))
        monkeypatch.setattr(tempfile, "mkdtemp", self.after("mkdtemp", tempfile.mkdtemp))
        monkeypatch.setattr(tempfile, "mkstemp", self.after("mkstemp", tempfile.mkstemp))


@pytest.fixture(scope="module")
def small_runs():
    from timeline.io.loader import load_scenario

    scenario = load_scenario(SMALL)
    return [run_branch(scenario, "base", 0)]


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-previous"])
def test_an_interrupt_at_any_write_step_leaves_complete_outputs_and_no_temporary_folder(
    previous, small_runs, tmp_path, monkeypatch
):
    """Ctrl-C at each step of a write (see `Interrupter`): the branch folder is complete (old or
    new) or absent, compare.csv likewise, and no hidden temporary folder or file is left."""
    reference = tmp_path / "reference"
    write_runs(small_runs, reference, {}, compare=True)
    if previous:
        shutil.copytree(reference, tmp_path / "count")
    with monkeypatch.context() as patch:
        counter = Interrupter(None)
        counter.install(patch)
        write_runs(small_runs, tmp_path / "count", {}, compare=True)
    total = len(counter.steps)
    assert total >= 8  # a temporary folder, five files, a rename, compare.csv
    problems = []
    for at in range(1, total + 1):
        out = tmp_path / f"out-{at}"
        if previous:
            shutil.copytree(reference, out)
        with monkeypatch.context() as patch:
            interrupter = Interrupter(at)
            interrupter.install(patch)
            with pytest.raises(KeyboardInterrupt):
                write_runs(small_runs, out, {}, compare=True)
        step = interrupter.steps[at - 1].replace(str(out), "<out>")
        if hidden(out):
            problems.append(f"{step}: left {hidden(out)}")
        written = previous or (out / "base").exists()
        if written and sorted(p.name for p in (out / "base").iterdir()) != FILES:
            problems.append(f"{step}: base/ incomplete")
        compare = out / "compare.csv"
        if compare.exists() and compare.read_bytes() != (reference / "compare.csv").read_bytes():
            problems.append(f"{step}: compare.csv differs")
    assert not problems, "\n".join(problems)


# --- foreign and earlier output folders -----------------------------------------------------


def test_a_folder_not_written_by_timeline_is_not_replaced_without_force(tmp_path):
    """out/base holding someone's file: exit 2 naming the folder; with --force it is replaced."""
    out = tmp_path / "out"
    (out / "base").mkdir(parents=True)
    (out / "base" / "notes.txt").write_text("my notes\n")
    args = ["simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert f"{out / 'base'}: " in result.output and "--force" in result.output
    assert (out / "base" / "notes.txt").read_text() == "my notes\n"
    assert sorted(p.name for p in (out / "base").iterdir()) == ["notes.txt"]
    result = invoke(*args, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "base").iterdir()) == FILES


def test_a_run_json_of_another_tool_does_not_make_a_folder_ours(tmp_path):
    """A run.json whose tool is not timeline: the folder is refused without --force."""
    out = tmp_path / "out"
    (out / "base").mkdir(parents=True)
    (out / "base" / "run.json").write_text('{"tool": "other", "status": "complete"}\n')
    result = invoke(
        "simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out
    )
    assert result.exit_code == 2, result.output
    assert (out / "base" / "run.json").read_text() == '{"tool": "other", "status": "complete"}\n'


def test_a_foreign_compare_csv_stops_branch_all_before_anything_is_written(tmp_path):
    """--branch all with a compare.csv not written by timeline: exit 2, no branch folder."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "compare.csv").write_text("quarter,revenue\nQ1,100\n")
    result = invoke("simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out)
    assert result.exit_code == 2, result.output
    assert "compare.csv" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["compare.csv"]
    assert (out / "compare.csv").read_text() == "quarter,revenue\nQ1,100\n"


def test_a_folder_written_by_timeline_is_replaced_whole(tmp_path):
    """Running again over our own output replaces the folder; with --force a stray file in it
    disappears too (without --force it is refused: see test_reliability)."""
    out = tmp_path / "out"
    args = ["simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out]
    assert invoke(*args).exit_code == 0
    (out / "base" / "stray.txt").write_text("left from an earlier version\n")
    result = invoke(*args, "--seed", "1", "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "base").iterdir()) == FILES
    assert json.loads((out / "base" / "run.json").read_text())["seed"] == 1
    assert hidden(out) == []


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    """--out/<branch> being a regular file: exit 2, the file is untouched."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "base").write_text("a file, not a folder\n")
    result = invoke(
        "simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out
    )
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert (out / "base").read_text() == "a file, not a folder\n"


def unwritable_out(tmp_path: Path) -> Path:
    """An --out that cannot be written: under a read-only folder, or (as root, where
    permissions do not stop writes) under a regular file."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        (locked / "probe").mkdir()
    except PermissionError:
        return locked / "out"
    (locked / "probe").rmdir()
    locked.chmod(0o755)
    (tmp_path / "a-file").write_text("not a folder\n")
    return tmp_path / "a-file" / "out"


def test_an_unwritable_output_location_gives_one_line_and_exit_2(tmp_path):
    """No traceback: exit 2 and one line saying it cannot write there."""
    out = unwritable_out(tmp_path)
    try:
        result = invoke(
            "simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out
        )
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert result.exit_code == 2, result.output or repr(result.exception)
    assert result.output.startswith("timeline: error: "), result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "fix: " in result.output


# --- spreadsheet safety ---------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"]


def firm_table(path: Path, names: list[str]) -> Path:
    """Three firms of base/ renamed; all buy Dy/Tb from China, so all stop and are logged."""
    rows = list(csv.reader(io.StringIO((SMALL / "firms.csv").read_text())))
    for row, name in zip(rows[1:], names, strict=False):
        row[1] = name
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC).writerows(rows)
    path.write_text(buffer.getvalue(), newline="")
    return path


@pytest.mark.parametrize("name", FORMULAS)
def test_a_firm_name_that_looks_like_a_formula_is_written_with_a_leading_quote(name, tmp_path):
    """In firms.csv and in events.csv titles the name starts with `'`; numbers are untouched."""
    table = firm_table(tmp_path / "firms.csv", [name, "Motor maker", "Car plant"])
    out = tmp_path / "out"
    args = ["--scenario", SMALL, "--firms", table, "--out", out]
    result = invoke("simulate", "--runs", "1", "--branch", "base", *args)
    assert result.exit_code == 0, result.output
    with open(out / "base" / "firms.csv", newline="") as handle:
        firms = list(csv.DictReader(handle))
    assert firms[0]["name"] == "'" + name
    assert [f["name"] for f in firms[1:]] == ["Motor maker", "Car plant"]
    for row in firms:
        for column in ("days_stopped", "output_lost_usd"):
            assert row[column].isdigit(), (column, row[column])
        assert row["time_to_survive_days"] == "" or row["time_to_survive_days"].isdigit()
    with open(out / "base" / "events.csv", newline="") as handle:
        titles = [
            r["title"]
            for r in csv.DictReader(handle)
            if r["subject"] == "magnet-maker" and r["kind"] == "firm"
        ]
    assert titles and all(title.startswith(f"'{name} ") for title in titles), titles


def test_csv_export_quotes_formula_text_but_leaves_numbers_alone():
    """Text starting with = + - @ or tab gets `'`; negative ints, floats and Int64 stay as they
    are."""
    frame = pd.DataFrame(
        {
            "text": ["=1+2", "+1", "-x", "@A1", "\tx", "plain", "-5", "a=b"],
            "ints": [-1, 2, -3, 4, -5, 6, -7, 8],
            "floats": [-0.5, 1.0, -2.25, 3.0, -4.0, 5.0, -6.5, 7.0],
            "nullable": pd.array([-1, None, 3, -4, 5, -6, 7, -8], dtype="Int64"),
        }
    )
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode(), newline="")))
    quoted = ["'=1+2", "'+1", "'-x", "'@A1", "'\tx", "plain", "'-5", "a=b"]
    assert [r[0] for r in rows[1:]] == quoted
    assert [r[1] for r in rows[1:]] == ["-1", "2", "-3", "4", "-5", "6", "-7", "8"]
    assert [r[2] for r in rows[1:]] == ["-0.5", "1.0", "-2.25", "3.0", "-4.0", "5.0", "-6.5", "7.0"]
    assert [r[3] for r in rows[1:]] == ["-1", "", "3", "-4", "5", "-6", "7", "-8"]


def test_a_text_cell_with_a_line_break_reads_back_as_one_cell():
    """A carriage return or line feed inside a text cell is quoted: the file keeps one row per
    record (a bare CR ends the row in Excel and breaks Python's csv reader)."""
    texts = ["\rstarts with CR", "a\rb", "a\nb", "a\r\nb"]
    frame = pd.DataFrame({"text": texts, "n": [1, 2, 3, 4]})
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode(), newline="")))
    assert len(rows) == 5, rows
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert [r[0] for r in rows[1:]] == ["'" + texts[0], *texts[1:]]


def test_a_firm_name_with_a_carriage_return_keeps_firms_csv_one_row_per_firm(tmp_path):
    """A quoted firm name holding a CR is valid input; firms.csv still reads back as 3 firms."""
    table = firm_table(tmp_path / "firms.csv", ["Magnet\rmaker", "Motor maker", "Car plant"])
    out = tmp_path / "out"
    args = ["--scenario", SMALL, "--firms", table, "--out", out]
    result = invoke("simulate", "--runs", "1", "--branch", "base", *args)
    assert result.exit_code == 0, result.output
    with open(out / "base" / "firms.csv", newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    assert names == ["Magnet\rmaker", "Motor maker", "Car plant"]


def test_engine_numbers_reach_the_csv_unchanged(tmp_path):
    """Every numeric column of the written files equals the in-memory table, sign included."""
    scenario = make_scenario(
        [firm("m", name="-minus", elements=["Dy"], china_share=1.0, inventory_days=5)],
        events=[*key_events(), event("dy", "2025-05-01", effects={"licensed_elements": ["Dy"]})],
    )
    run = run_branch(scenario, "base", 0)
    for name, frame in [("firms.csv", run.firms), ("timeline.csv", run.timeline)]:
        written = pd.read_csv(io.BytesIO(run.files()[name]))
        for column in frame.select_dtypes("number").columns:
            expected = frame[column].astype(float).fillna(-0.125).tolist()
            assert written[column].astype(float).fillna(-0.125).tolist() == expected, column
    assert timeline.io.output.neutralise(run.firms).loc[0, "name"] == "'-minus"
