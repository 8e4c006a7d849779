"""Reliability (issue 8) beyond the bad-input corpus: files that are not regular files, paths
that cannot be resolved, the output set as one unit, user files in our folders, permissions,
leftovers, option errors, terminal safety, a standard output that cannot be written; and firm
tables from Excel (issue 10): .xlsx, every defect listed at once, `x_` columns, size settings.

Most tests run the CLI in process (typer's CliRunner). A test that could hang on the code it
guards against runs under `deadline`, which fails it after a few seconds instead.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import shutil
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import timeline.io.output as output
from timeline.cli import app
from timeline.io.firmsio import read_firms
from timeline.io.text import UNSAFE
from timeline.run import run_branch, write_runs

CORPUS = Path(__file__).parent / "bad_inputs"
SMALL = CORPUS / "base"  # a valid three-firm scenario with one branch, `base`
FILES = ["events.csv", "firms.csv", "flows.csv", "run.json", "stoppages.csv", "timeline.csv"]
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX only")


def invoke(*args: object, **kwargs):
    return CliRunner().invoke(app, [str(arg) for arg in args], **kwargs)


def one_line_error(result, code: int = 2) -> str:
    """Exit `code`, no traceback, exactly one line `timeline: error: ...; fix: ...`."""
    out = result.output
    assert result.exit_code == code, out or repr(result.exception)
    assert "Traceback" not in out, out
    assert out.count("\n") == 1 and out.startswith("timeline: error: "), out
    assert "; fix: " in out, out
    return out


@pytest.fixture
def deadline():
    """Fail (rather than hang) a test still running after 20 seconds."""

    def expired(signum, frame):
        raise TimeoutError("the command waited for ever")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def memory_cap():
    """Fail (MemoryError) rather than exhaust the machine: at most 1 GB more address space."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as handle:
        used = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = used + 2**30
    resource.setrlimit(
        resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard)
    )
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def scenario_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "scenario"
    shutil.copytree(SMALL, folder)
    return folder


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


# --- 1. files that are not regular files ------------------------------------------------------


@posix_only
@pytest.mark.parametrize("where", ["scenario", "--firms", "firms in scenario", "catalog"])
def test_a_fifo_as_an_input_is_refused_at_once(where, tmp_path, deadline):
    """A FIFO named as the scenario, the --firms table, or a file the scenario names: one line,
    exit 2, no waiting for a writer that never comes."""
    folder = scenario_copy(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    args: list[object] = ["validate", folder]
    if where == "scenario":
        args = ["validate", fifo]
    elif where == "--firms":
        args = ["validate", folder, "--firms", fifo]
    else:
        name = "firms.csv" if where == "firms in scenario" else "catalog.yaml"
        (folder / name).unlink()
        os.mkfifo(folder / name)
    out = one_line_error(invoke(*args))
    assert "FIFO" in out


@pytest.mark.parametrize("how", ["scenario", "--firms"])
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_a_character_device_is_refused_not_read_without_end(how, tmp_path, deadline, memory_cap):
    """/dev/zero passes a size check (size 0) but is not a regular file: refused unread."""
    args = (
        ["validate", "/dev/zero"]
        if how == "scenario"
        else ["validate", SMALL, "--firms", "/dev/zero"]
    )
    out = one_line_error(invoke(*args))
    assert "/dev/zero: is a device" in out


@posix_only
@pytest.mark.parametrize("name", ["run.json", "compare.csv"])
def test_a_fifo_where_an_earlier_output_is_expected_does_not_hang(name, tmp_path, deadline):
    """A FIFO at out/base/run.json or at out/compare.csv: refused in one line (the folder or
    file is not ours), nothing changed, no waiting."""
    out = tmp_path / "out"
    target = out / "base" / name if name == "run.json" else out / name
    target.parent.mkdir(parents=True)
    os.mkfifo(target)
    args = ["simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out]
    one_line_error(invoke(*args))
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert sorted(p.name for p in out.iterdir()) == ["base" if name == "run.json" else name]


# --- 3. paths that cannot be resolved -------------------------------------------------------


def bad_paths(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    (tmp_path / "a-file").write_text("x\n")
    return {
        "loop": tmp_path / "loop-a",
        "through-a-file": tmp_path / "a-file" / "x",
        "name-too-long": tmp_path / ("n" * 300),
    }


@pytest.mark.parametrize("kind", ["loop", "through-a-file", "name-too-long"])
@pytest.mark.parametrize("role", ["scenario", "--firms", "--out", "catalog"])
def test_a_path_that_cannot_be_resolved_is_one_line(kind, role, tmp_path):
    """A symlink loop, a path through a file, an over-long name: as the scenario, the --firms
    table, the --out folder or a file named in scenario.yaml, one line and exit 2."""
    path = bad_paths(tmp_path)[kind]
    folder = scenario_copy(tmp_path)
    out = tmp_path / "out"
    if role == "scenario":
        args = ["simulate", "--runs", "1", "--branch", "base", "--scenario", path, "--out", out]
    elif role == "--firms":
        args = [
            "simulate",
            "--runs",
            "1",
            "--branch",
            "base",
            "--scenario",
            folder,
            "--firms",
            path,
        ]
    elif role == "--out":
        args = ["simulate", "--runs", "1", "--branch", "base", "--scenario", folder, "--out", path]
    else:
        text = (folder / "scenario.yaml").read_text()
        (folder / "scenario.yaml").write_text(
            text.replace("catalog: catalog.yaml", f"catalog: {path}")
        )
        args = ["simulate", "--runs", "1", "--branch", "base", "--scenario", folder, "--out", out]
    one_line_error(invoke(*args))
    assert not out.exists()


# --- 8. the output set is one unit -----------------------------------------------------------


def two_branch_scenario(folder: Path) -> Path:
    """base/ with a second branch, `other` (a copy of `base`)."""
    shutil.copytree(SMALL, folder)
    (folder / "branches" / "other.yaml").write_text(
        (folder / "branches" / "base.yaml").read_text().replace("id: base", "id: other")
    )
    text = (folder / "scenario.yaml").read_text()
    (folder / "scenario.yaml").write_text(
        text.replace(
            "  - branches/base.yaml\n", "  - branches/base.yaml\n  - branches/other.yaml\n"
        )
    )
    return folder


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """Runs of both branches of a two-branch scenario with seeds 0 and 1."""
    from timeline.io.loader import load_scenario

    scenario = load_scenario(two_branch_scenario(tmp_path_factory.mktemp("two") / "scenario"))
    return {seed: [run_branch(scenario, b, seed) for b in ("base", "other")] for seed in (0, 1)}


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file under `out` (hidden ones included) -> its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def written(runs, tmp_path: Path, name: str) -> dict[str, bytes]:
    out = tmp_path / name
    write_runs(runs, out, {}, compare=True)
    return snapshot(out)


def test_a_full_disk_mid_way_leaves_the_previous_set_whole(two_sets, tmp_path, monkeypatch):
    """ENOSPC on any file of a --branch all write: one error naming space, and every branch
    folder and compare.csv are still the previous run's, byte for byte; nothing hidden left."""
    old = written(two_sets[0], tmp_path, "old")
    real_write = os.write
    total = len(old)
    for failing in range(1, total + 1):
        out = tmp_path / f"out-{failing}"
        shutil.copytree(tmp_path / "old", out)
        count = [0]

        def full(fd, data, failing=failing, count=count):
            count[0] += 1
            if count[0] == failing:
                raise OSError(28, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", full)
        with pytest.raises(output.TimelineError) as caught:
            write_runs(two_sets[1], out, {}, compare=True)
        monkeypatch.setattr(os, "write", real_write)
        assert "free some space" in str(caught.value)
        assert snapshot(out) == old, f"file {failing} of {total}"
        assert hidden(out) == []


def test_an_interrupt_at_any_step_leaves_all_old_or_all_new(two_sets, tmp_path, monkeypatch):
    """Ctrl-C at each rename, fsync or removal of a --branch all write over a previous one: the
    four folders and compare.csv are all the old run's or all the new one's, never a mix."""
    old = written(two_sets[0], tmp_path, "old")
    new = written(two_sets[1], tmp_path, "new")
    steps: list[str] = []
    at = [0]

    def step(name, original):
        def wrapper(*args, **kwargs):
            steps.append(name)
            if len(steps) == at[0]:
                os.kill(os.getpid(), signal.SIGINT)
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "fsync", step("fsync", os.fsync))
    monkeypatch.setattr(Path, "rename", step("rename", Path.rename))
    monkeypatch.setattr(shutil, "rmtree", step("rmtree", shutil.rmtree))
    shutil.copytree(tmp_path / "old", tmp_path / "count")
    write_runs(two_sets[1], tmp_path / "count", {}, compare=True)
    total = len(steps)
    assert total >= 15  # 11 files written, a commit rename, 3 entries swapped, 2 removals
    for n in range(1, total + 1):
        out = tmp_path / f"out-{n}"
        shutil.copytree(tmp_path / "old", out)
        steps.clear()
        at[0] = n
        with pytest.raises(KeyboardInterrupt):
            write_runs(two_sets[1], out, {}, compare=True)
        assert snapshot(out) in (old, new), f"step {n} ({steps[n - 1]})"
    at[0] = 0


def test_a_second_run_waits_for_the_lock_then_writes_its_whole_set(two_sets, tmp_path):
    """While another process holds the lock on --out, a run waits; once the lock is released it
    writes its whole set."""
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / output.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    releaser = threading.Timer(0.5, lambda: os.close(fd))
    releaser.start()
    started = time.monotonic()
    write_runs(two_sets[1], out, {}, compare=True)
    assert time.monotonic() - started >= 0.4
    releaser.join()
    assert snapshot(out) == written(two_sets[1], tmp_path, "new")


def test_a_run_that_cannot_get_the_lock_is_refused_in_one_line(tmp_path, monkeypatch):
    """If the lock stays held, the run is refused with one line naming --out; nothing written."""
    monkeypatch.setattr(output, "LOCK_WAIT", 0.3)
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / output.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = invoke(
            "simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out
        )
    finally:
        os.close(fd)
    line = one_line_error(result)
    assert f"{out}: another timeline run is writing outputs here" in line
    assert sorted(p.name for p in out.iterdir()) == [output.LOCK]


def test_runs_racing_on_one_out_each_write_a_whole_set(two_sets, tmp_path):
    """Runs writing the same --out at the same moment (threads, each with its own lock file
    descriptor, as two processes would have) are serialised: both succeed, and after each round
    the result is one run's whole set, never a mix, with nothing hidden left."""
    sets = {seed: written(runs, tmp_path, f"ref-{seed}") for seed, runs in two_sets.items()}
    out = tmp_path / "out"
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            start.wait()
            write_runs(two_sets[seed], out, {}, compare=True)
        except BaseException as err:  # reported below
            errors.append(err)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, as two processes would interleave
    try:
        for _ in range(4):
            threads = [threading.Thread(target=run, args=(seed,)) for seed in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert snapshot(out) in (sets[0], sets[1])
            assert hidden(out) == []
    finally:
        sys.setswitchinterval(interval)


# --- 9. user files inside our folders --------------------------------------------------------


@pytest.mark.parametrize("extra", ["notes.txt", "charts/plot.png"])
def test_a_user_file_in_our_folder_is_kept_unless_force(extra, tmp_path):
    """notes.txt or charts/ added to our output folder: the next run is refused in one line
    naming it, and the file stays; with --force the folder is replaced."""
    out = tmp_path / "out"
    args = ["simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out]
    assert invoke(*args).exit_code == 0
    meta = json.loads((out / "base" / "run.json").read_text())
    assert meta["files"] == FILES
    user = out / "base" / extra
    user.parent.mkdir(exist_ok=True)
    user.write_text("mine\n")
    line = one_line_error(invoke(*args, "--seed", "1"))
    assert extra.split("/")[0] in line and "--force" in line
    assert user.read_text() == "mine\n"
    assert json.loads((out / "base" / "run.json").read_text())["seed"] == 0
    assert invoke(*args, "--seed", "1", "--force").exit_code == 0
    assert sorted(p.name for p in (out / "base").iterdir()) == FILES


def test_a_user_file_beside_our_folders_is_left_alone(tmp_path):
    """Files of the user's directly in --out (not in a branch folder) are neither refused nor
    touched."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    assert (
        invoke(
            "simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out
        ).exit_code
        == 0
    )
    assert (out / "notes.txt").read_text() == "mine\n"
    listed = sorted(p.name for p in out.iterdir())
    assert listed == ["base", "charts", "compare.csv", "notes.txt", "report.html"]


# --- 10. permissions follow the umask ---------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_are_created_with_the_umask(umask, tmp_path):
    """Folders 0777 and files 0666 less the umask, compare.csv included (not 0700 / 0600)."""
    previous = os.umask(umask)
    try:
        out = tmp_path / "out"
        assert (
            invoke(
                "simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out
            ).exit_code
            == 0
        )
    finally:
        os.umask(previous)
    for path in [out, out / "base"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask, path
    for path in [out / "compare.csv", *(out / "base").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


# --- 11. leftovers -----------------------------------------------------------------------------


def test_leftovers_of_a_killed_run_are_cleared_by_the_next(tmp_path):
    """What SIGKILL leaves (a staging folder of this version, `.<branch>.tmp-*` of the
    previous one, a stale lock file) is removed by the next run; a user's hidden file stays."""
    out = tmp_path / "out"
    args = ["simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out]
    assert invoke(*args).exit_code == 0
    for name in [".timeline-tmp-123-abcd", ".base.tmp-k2j4h5g6", ".base.old-a1b2c3d4"]:
        (out / name).mkdir()
        (out / name / "events.csv").write_text("partial")
    (out / ".compare.csv.x8y7z6w5").write_text("partial")
    (out / output.LOCK).write_text("")
    (out / ".mine").write_text("keep\n")
    assert invoke(*args, "--seed", "1").exit_code == 0
    assert hidden(out) == [".mine"]
    assert sorted(p.name for p in (out / "base").iterdir()) == FILES


def test_a_swap_cut_short_by_sigkill_is_rolled_forward(two_sets, tmp_path):
    """A run killed after its commit point (some folders moved in, some not) is completed by
    the next run's start: the set is then entirely that run's, before the new one is written."""
    old = written(two_sets[0], tmp_path, "old")
    new = written(two_sets[1], tmp_path, "new")
    out = tmp_path / "out"
    shutil.copytree(tmp_path / "old", out)
    swap, moved = out / ".timeline-swap-1-feed", out / ".timeline-old-1-feed"
    shutil.copytree(tmp_path / "new", swap)
    moved.mkdir()
    for name in ["base", "compare.csv"]:  # the first two entries swapped before the kill
        (out / name).rename(moved / name)
        (swap / name).rename(out / name)
    assert snapshot(out) not in (old, new)
    output._recover(out)
    assert snapshot(out) == new


# --- 11. SIGHUP like SIGTERM ---------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_sighup_during_a_write_is_held_then_ends_the_run_like_sigterm(sig, two_sets, tmp_path):
    """SIGHUP arriving mid-write is held until the set is complete (like SIGTERM), then ends
    the command with 128 + n and one line."""
    out = tmp_path / "out"
    real = output._stage

    def stage_then_signal(*args):
        os.kill(os.getpid(), sig)
        return real(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output, "_stage", stage_then_signal)
        result = invoke(
            "simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out
        )
    assert result.exit_code == 128 + sig, result.output
    assert result.output.count("\n") == 1 and "no partial outputs" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["base", "compare.csv"]


# --- 12. option errors in one line -----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--branch", "base", "--seed", "1.5"],
        ["simulate"],
        ["simulate", "--branch", "base", "--bogus"],
        ["simulate", "--branch", "base", "--firms"],
        ["events"],
        ["nosuchcommand"],
    ],
    ids=["seed-1.5", "missing-branch", "unknown-option", "firms-without-value", "events", "cmd"],
)
@pytest.mark.parametrize("columns", ["1", "200"])
def test_an_option_error_is_one_line_whatever_the_width(args, columns):
    """Option errors: `timeline: error: ...` in one line, exit 2, even with COLUMNS=1."""
    one_line_error(invoke(*args, env={"COLUMNS": columns}))


def test_an_unreadable_firms_path_is_one_line(tmp_path):
    """--firms naming a folder: one line, exit 2, COLUMNS=1 or not."""
    result = invoke("validate", SMALL, "--firms", tmp_path, env={"COLUMNS": "1"})
    assert "is a folder" in one_line_error(result)


# --- 13. control characters never reach the terminal or a CSV raw ------------------------------


def test_a_path_with_an_escape_sequence_is_printed_escaped(tmp_path):
    """A path holding a terminal-title sequence and a right-to-left override is echoed with
    escapes in the error line."""
    path = tmp_path / "bad\x1b]0;owned\x07\u202ename"
    line = one_line_error(invoke("validate", path))
    assert not UNSAFE.search(line.rstrip("\n"))
    assert "\\x1b]0;owned\\x07\\u202ename" in line


def test_csv_output_escapes_control_characters_of_a_scenario_built_in_code():
    """A scenario built in code (not loaded) with an escape in a firm name: events.csv and
    firms.csv hold `\\x1b`, not the raw character; tab, CR and LF stay (quoted)."""
    from conftest import event, firm, key_events, make_scenario

    scenario = make_scenario(
        [firm("f", name="Evil\x1b]0;x\x07\u202e\r\nname", elements=["Dy"], china_share=1.0)],
        events=[*key_events(), event("dy", "2025-05-01", effects={"licensed_elements": ["Dy"]})],
    )
    files = run_branch(scenario, "base", 0).files()
    for name in ("events.csv", "firms.csv"):
        text = files[name].decode()
        assert not UNSAFE.search(text), name
        assert "Evil\\x1b]0;x\\x07\\u202e\r\nname" in text, name


# --- 14. a standard output that cannot be written ---------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_on_dev_full_is_one_line_after_the_files_are_written(tmp_path):
    """stdout on /dev/full (the real command, in this process): the files are written, then
    one line on stderr, exit 2, no traceback."""
    out = tmp_path / "out"
    errors = io.StringIO()
    args = [
        "simulate",
        "--runs",
        "1",
        "--branch",
        "base",
        "--scenario",
        str(SMALL),
        "--out",
        str(out),
    ]
    with (
        open("/dev/full", "w") as full,
        contextlib.redirect_stdout(full),
        contextlib.redirect_stderr(errors),
        pytest.raises(SystemExit) as exited,
    ):
        app(args, prog_name="timeline")
    assert exited.value.code == 2, errors.getvalue()
    text = errors.getvalue()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    assert text.startswith("timeline: error: <stdout>: cannot write (No space left on device)")
    assert sorted(p.name for p in (out / "base").iterdir()) == FILES


def test_an_unexpected_error_is_one_line_asking_to_report_it(tmp_path, monkeypatch):
    """A bug (any exception that is not a user error): one line, exit 1, nothing written."""
    import timeline.run

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    # the command imports it from timeline.run when it runs (not at import: no pandas for --help)
    monkeypatch.setattr(timeline.run, "simulate_branches", broken)
    out = tmp_path / "out"
    line = one_line_error(
        invoke("simulate", "--runs", "1", "--branch", "base", "--scenario", SMALL, "--out", out),
        code=1,
    )
    assert "internal error (ZeroDivisionError: a bug)" in line and "report" in line
    assert not out.exists()


def test_a_bug_while_writing_leaves_the_previous_set_and_no_leftovers(tmp_path, monkeypatch):
    """An unexpected exception half-way through staging the files: one line, exit 1, the
    previous outputs untouched and no hidden folder left."""
    out = tmp_path / "out"
    args = ["simulate", "--runs", "1", "--branch", "all", "--scenario", SMALL, "--out", out]
    assert invoke(*args).exit_code == 0
    before = snapshot(out)
    real, calls = output._write, []

    def broken(path, content):
        calls.append(path)
        if len(calls) == 3:
            raise ZeroDivisionError("a bug")
        real(path, content)

    monkeypatch.setattr(output, "_write", broken)
    assert "internal error" in one_line_error(invoke(*args, "--seed", "1"), code=1)
    assert snapshot(out) == before
    assert hidden(out) == []


# --- issue 10: firm tables from Excel ----------------------------------------------------------


def base_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO((SMALL / "firms.csv").read_text())))


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def numeric(cell: str) -> object:
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell


def test_an_xlsx_firm_table_is_read_as_its_csv_twin(tmp_path):
    """The base table saved as .xlsx (numbers as numbers) gives the same firms as the CSV, and
    `simulate --firms table.xlsx` runs."""
    table = xlsx(tmp_path / "firms.xlsx", [[numeric(c) for c in r] for r in base_rows()])
    assert read_firms(table) == read_firms(SMALL / "firms.csv")
    out = tmp_path / "out"
    result = invoke(
        "simulate",
        "--runs",
        "1",
        "--branch",
        "base",
        "--scenario",
        SMALL,
        "--firms",
        table,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output


def test_a_damaged_xlsx_is_one_line(tmp_path):
    """A file named .xlsx that is not a workbook: one line, exit 2."""
    table = tmp_path / "firms.xlsx"
    table.write_bytes(b"PK\x03\x04 not really a zip")
    assert "Excel workbook" in one_line_error(invoke("validate", SMALL, "--firms", table))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_defect_of_a_table_is_listed_at_once(fmt, tmp_path):
    """Three defects in three rows: three lines, each with its row, column and fix, exit 2,
    nothing written."""
    rows = base_rows()
    rows[1][5] = "lots"  # china_share of row 2
    rows[2][8] = "-5"  # daily_output_usd of row 3
    rows[3][10] = "ghost-maker:3"  # suppliers of row 4
    if fmt == "csv":
        table = tmp_path / "firms.csv"
        with open(table, "w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    else:
        table = xlsx(tmp_path / "firms.xlsx", rows)
    out = tmp_path / "out"
    result = invoke(
        "simulate",
        "--runs",
        "1",
        "--branch",
        "base",
        "--scenario",
        SMALL,
        "--firms",
        table,
        "--out",
        out,
    )
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3, result.output
    assert all(line.startswith(f"timeline: error: {table}: row ") for line in lines)
    assert all("; fix: " in line for line in lines)
    assert "row 2, column china_share" in lines[0]
    assert "row 3, column daily_output_usd" in lines[1]
    assert "row 4, column suppliers" in lines[2] and "ghost-maker" in lines[2]
    assert not out.exists()


def test_a_long_list_of_defects_is_capped(tmp_path):
    """25 bad rows: 20 lines, then one saying how many more."""
    header, *body = base_rows()
    rows = [header] + [[f"f{n}", *body[0][1:5], "lots", *body[0][6:]] for n in range(25)]
    table = tmp_path / "firms.csv"
    with open(table, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = invoke("validate", SMALL, "--firms", table)
    lines = result.output.splitlines()
    assert result.exit_code == 2 and len(lines) == 21, result.output
    assert lines[-1] == f"timeline: error: {table}: and 5 more problem(s) like these"


def test_x_columns_are_ignored_and_other_extra_columns_refused(tmp_path):
    """`x_notes` is the user's column (ignored); `notes` is refused naming it."""
    header, *body = base_rows()
    for extra, ok in [("x_notes", True), ("notes", False)]:
        table = tmp_path / f"{extra}.csv"
        with open(table, "w", newline="") as handle:
            csv.writer(handle).writerows([[*header, extra]] + [[*r, "a note"] for r in body])
        if ok:
            assert read_firms(table) == read_firms(SMALL / "firms.csv")
        else:
            line = one_line_error(invoke("validate", SMALL, "--firms", table))
            assert "row 1" in line and "unknown column(s) notes" in line and "x_" in line


def test_optional_columns_may_be_left_out_and_supplier_shares_are_read(tmp_path):
    """Columns with a default in the Firm model (end_use here) may be absent; a supplier cell
    `firm:days:share` sets the link's share; a share above 1 is refused."""
    header, *body = base_rows()
    keep = [i for i, name in enumerate(header) if name != "end_use"]
    rows = [[r[i] for i in keep] for r in [header, *body]]
    rows[3][header.index("suppliers") - 1] = "motor-maker:10:0.25"
    table = tmp_path / "firms.csv"
    with open(table, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    firms = read_firms(table)
    assert [f.end_use for f in firms] == ["civil"] * 3
    assert firms[2].suppliers[0].share == 0.25
    table.write_text(table.read_text().replace("motor-maker:10:0.25", "motor-maker:10:1.5"))
    assert "column suppliers" in one_line_error(invoke("validate", SMALL, "--firms", table))


def test_size_caps_are_settings(tmp_path, monkeypatch):
    """TIMELINE_MAX_FIRMS and TIMELINE_MAX_INPUT_BYTES lower the caps; a bad value is one line."""
    monkeypatch.setenv("TIMELINE_MAX_FIRMS", "2")
    assert "more than 2 firms" in one_line_error(invoke("validate", SMALL))
    monkeypatch.setenv("TIMELINE_MAX_FIRMS", "3")
    assert invoke("validate", SMALL).exit_code == 0
    monkeypatch.setenv("TIMELINE_MAX_INPUT_BYTES", "200")
    assert "over the 200 bytes limit" in one_line_error(invoke("validate", SMALL))
    monkeypatch.setenv("TIMELINE_MAX_INPUT_BYTES", "lots")
    assert "$TIMELINE_MAX_INPUT_BYTES" in one_line_error(invoke("validate", SMALL))


def test_firms_whose_output_overflows_the_totals_are_refused(monkeypatch):
    """Output a day that, summed over firms and the horizon, would wrap the int64 totals: refused
    at load time naming the column, though each firm is within its own bound. (The limit is
    lowered here to the base table's $4.3m a day over 456 days, instead of 11,000 firms.)"""
    import timeline.io.loader as loader

    assert loader.MAX_TOTAL_OUTPUT_USD == 2**62
    monkeypatch.setattr(loader, "MAX_TOTAL_OUTPUT_USD", 4_300_000 * 456)
    line = one_line_error(invoke("validate", SMALL))
    assert "firms.csv: column daily_output_usd" in line and "too much to count" in line
    monkeypatch.setattr(loader, "MAX_TOTAL_OUTPUT_USD", 4_300_000 * 456 + 1)
    assert invoke("validate", SMALL).exit_code == 0
