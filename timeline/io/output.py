"""Write a run's output set as one unit, never over files this tool did not write.

`write_output_set` writes every branch folder and top-level file of a run together:

1. it takes an exclusive lock (`fcntl.flock`) on `<out>/.timeline.lock`: a second run writing
   the same folder waits up to `LOCK_WAIT` seconds, then is refused in one line;
2. it finishes or clears what a run killed outright (SIGKILL, a power cut) left behind;
3. it checks every target before writing anything. A folder is replaced only when it is empty
   or ours: it holds a `run.json` whose `tool` is `timeline`, and nothing that run.json's
   `files` does not list (a user's notes.txt or charts/ are never deleted). A top-level file is
   replaced only when its first line starts as ours does. `force` lifts both checks;
4. it stages everything in one hidden folder `.timeline-tmp-<id>` inside `out`, fsyncs each
   file, and renames the folder to `.timeline-swap-<id>`: the commit point;
5. it moves each old entry into `.timeline-old-<id>` and the new one into place, then deletes
   the old ones. A run killed during these renames is rolled forward by the next run (step 2).

SIGINT, SIGTERM and SIGHUP are held from step 2 to the end (a few milliseconds a branch) and
take effect right after; a failure (a full disk) leaves the previous set as it was. Files and
folders are created with modes 0666 and 0777 less the umask. Text cells that a spreadsheet would
read as a formula are neutralised (OWASP CSV injection): a leading `'` is added; numbers are
left alone; control characters that input may not hold are escaped (`timeline.io.text`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd

from timeline.errors import TimelineError
from timeline.io import guard
from timeline.io.text import UNSAFE, csv_safe

TOOL = "timeline"
LOCK = ".timeline.lock"
STAGE, SWAP, OLD = ".timeline-tmp-", ".timeline-swap-", ".timeline-old-"
LOCK_WAIT = 5.0  # seconds a run waits for another one writing the same folder
# Before run.json listed its files, a branch folder held exactly these.
LEGACY_FILES = frozenset({"events.csv", "timeline.csv", "firms.csv", "stoppages.csv", "run.json"})
# What earlier versions left when killed: `.<branch>.tmp-XXXXXXXX`, `.<branch>.old-XXXXXXXX`
# (tempfile.mkdtemp) and `.compare.csv.XXXXXXXX` (tempfile.mkstemp).
_LEGACY = re.compile(r"^\.(?P<name>[a-z0-9][a-z0-9-]*)\.(?P<kind>tmp|old)-[a-z0-9_]{8}$")
_LEGACY_FILE = re.compile(r"^\.compare\.csv\.[a-z0-9_]{8}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HELD = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _cell(value: object) -> object:
    if not isinstance(value, str):
        return value
    if UNSAFE.search(value):
        value = csv_safe(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start like a formula with `'` and escape control characters;
    numeric columns are untouched."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_cell)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """RFC 4180 CSV: CRLF line ends, so a cell holding CR or LF is quoted and stays one cell."""
    text = neutralise(frame).to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%d")
    return text.encode("utf-8")


def run_json(meta: dict[str, object]) -> bytes:
    return (json.dumps({"tool": TOOL, **meta}, indent=2, sort_keys=True) + "\n").encode()


# --- what is ours ------------------------------------------------------------------------------


def listed_files(folder: Path) -> frozenset[str] | None:
    """The entries our run.json in `folder` says it wrote, or None if the folder is not ours."""
    try:
        meta = json.loads(guard.read_bytes(folder / "run.json", 1 << 20))
    except (TimelineError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("tool") != TOOL:
        return None
    files = meta.get("files")
    if isinstance(files, list) and all(isinstance(name, str) for name in files):
        return frozenset(files) | {"run.json"}
    return LEGACY_FILES


def is_ours(folder: Path) -> bool:
    return listed_files(folder) is not None


def check_target(folder: Path, force: bool) -> None:
    """Refuse a folder this tool may not replace (see the module docstring), unless `force`."""
    what = guard.kind(folder, follow=False)
    if what == "missing" or (what == "link" and force):
        return
    if what == "link":
        raise TimelineError(
            folder,
            "",
            "is a symbolic link, not a folder timeline wrote",
            "choose another --out, or pass --force to replace the link (not what it points to)",
        )
    if what != "folder":
        raise TimelineError(folder, "", "exists and is not a folder", "choose another --out")
    try:
        entries = sorted(os.listdir(folder))
    except OSError as err:
        raise guard.os_error(folder, err) from None
    if not entries or force:
        return
    listed = listed_files(folder)
    if listed is None:
        raise TimelineError(
            folder,
            "",
            "folder is not empty and was not written by timeline",
            "choose another --out, or pass --force to replace it",
        )
    extra = [name for name in entries if name not in listed]
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise TimelineError(
            folder,
            "",
            f"holds {shown}, which timeline did not write",
            "move them elsewhere, or pass --force to replace the folder and them",
        )


def _first_cells(content: bytes) -> list[bytes]:
    return content.split(b"\n", 1)[0].rstrip(b"\r").split(b",")[:2]


# The first two header cells of the top-level files timeline writes in any of its forms:
# compare.csv of one run per branch, and of an ensemble; paired.csv of an ensemble.
OUR_HEADS: dict[str, tuple[list[bytes], ...]] = {
    "compare.csv": ([b"branch", b"first_stop_date"], [b"branch", b"title"]),
    "paired.csv": ([b"branch", b"versus"],),
}


def _is_our_file(path: Path, head: bytes, content: bytes) -> bool:
    cells = _first_cells(head)
    return bool(head) and (cells == _first_cells(content) or cells in OUR_HEADS.get(path.name, ()))


def _stale(out: Path, files: dict[str, bytes]) -> list[Path]:
    """Top-level files of ours from an earlier, other kind of run that this set does not
    replace (paired.csv of an ensemble when one run per branch is written): removed after
    the set is written, so no table of another run is left beside it."""
    out_paths = []
    for name, heads in OUR_HEADS.items():
        path = out / name
        if name in files or "compare.csv" not in files or guard.kind(path, follow=False) != "file":
            continue
        try:
            head = guard.read_bytes(path, 1 << 20)
        except TimelineError:
            continue
        if _first_cells(head) in heads:
            out_paths.append(path)
    return out_paths


def _check_file(path: Path, content: bytes, force: bool) -> None:
    """Refuse a top-level file that is a folder, or (without `force`) not ours: ours starts
    with the same first two header cells as `content`."""
    what = guard.kind(path, follow=False)
    if what == "missing":
        return
    if what == "folder":
        raise TimelineError(path, "", "is a folder, not a file", "choose another --out")
    if force:
        return
    try:
        head = guard.read_bytes(path, 1 << 20) if what == "file" else b""
    except TimelineError:
        head = b""
    if not _is_our_file(path, head, content):
        raise TimelineError(
            path,
            "",
            "exists and was not written by timeline",
            "choose another --out, or pass --force to replace it",
        )


# --- signals, lock, errors -----------------------------------------------------------------


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP during a block of file operations, then deliver them.

    A rename or a clean-up cut in half is what leaves stray temporary files; a signal that
    arrives meanwhile takes effect as soon as the block is done (or has failed).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in _HELD
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            handler = previous[received[0]]
            if callable(handler):
                handler(received[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(received[0])


def _unwritable(place: Path, err: OSError) -> TimelineError:
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = "free some space, or choose another --out"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a writable --out, or change its permissions"
    else:
        fix = "check the --out path"
    return TimelineError(place, "", f"cannot write outputs ({err.strerror or err})", fix)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on `out` (through its lock file); remove the file when done.

    The lock file is removed while still locked; a run that opened it before the removal sees
    that the path no longer names the file it locked, and tries again.
    """
    path = out / LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o666)
        except OSError as err:
            raise _unwritable(path, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = os.fstat(fd)
            now = os.stat(path, follow_symlinks=False)
            if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
                break
        except (BlockingIOError, FileNotFoundError):
            pass
        except OSError as err:
            os.close(fd)
            raise _unwritable(path, err) from None
        os.close(fd)
        if time.monotonic() > deadline:
            raise TimelineError(
                out,
                "",
                "another timeline run is writing outputs here",
                "wait for it to finish, or choose another --out",
            )
        time.sleep(0.05)
    try:
        yield
    finally:
        with suppress(OSError):
            os.unlink(path)
        os.close(fd)


# --- the transaction ---------------------------------------------------------------------


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()


def _roll_forward(out: Path, swap: Path, old: Path) -> None:
    """Move each entry of the committed `swap` into `out`, the entry it replaces into `old`."""
    if not old.exists():
        os.mkdir(old, 0o777)
    for name in sorted(os.listdir(swap)):
        target = out / name
        if os.path.lexists(target) and not os.path.lexists(old / name):
            target.rename(old / name)
        if not os.path.lexists(target):
            (swap / name).rename(target)
    shutil.rmtree(old)
    shutil.rmtree(swap)


def _recover(out: Path) -> None:
    """Finish (roll forward) a committed swap a killed run left; remove its other leftovers."""
    entries = sorted(os.listdir(out))
    for name in entries:
        if name.startswith(SWAP) and (out / name).is_dir():
            token = name.removeprefix(SWAP)
            _roll_forward(out, out / name, out / f"{OLD}{token}")
    for name in sorted(os.listdir(out)):
        legacy = _LEGACY.match(name)
        if name.startswith((STAGE, SWAP, OLD)) or _LEGACY_FILE.match(name):
            _remove(out / name)
        elif legacy and legacy["kind"] == "old" and not os.path.lexists(out / legacy["name"]):
            (out / name).rename(out / legacy["name"])  # an old version's interrupted swap
        elif legacy:
            _remove(out / name)


def _write(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(stage: Path, folders: dict[str, dict[str, bytes]], files: dict[str, bytes]) -> None:
    os.mkdir(stage, 0o777)
    for name, contents in folders.items():
        os.mkdir(stage / name, 0o777)
        for file_name, content in contents.items():
            _write(stage / name / file_name, content)
    for name, content in files.items():
        _write(stage / name, content)


def _swap(out: Path, swap: Path, old: Path) -> None:
    """Move the staged entries in, the replaced ones into `old`. On a failure, undo what was
    done and remove both; if even that fails, leave them for the next run to roll forward."""
    os.mkdir(old, 0o777)
    done: list[str] = []
    try:
        for name in sorted(os.listdir(swap)):
            if os.path.lexists(out / name):
                (out / name).rename(old / name)
            done.append(name)
            (swap / name).rename(out / name)
    except OSError:
        for name in reversed(done):
            if not os.path.lexists(swap / name):
                (out / name).rename(swap / name)
            if os.path.lexists(old / name):
                (old / name).rename(out / name)
        _remove(swap)
        _remove(old)
        raise
    _remove(old)
    _remove(swap)


def _check_names(folders: dict[str, dict[str, bytes]], files: dict[str, bytes]) -> None:
    names = [*folders, *files, *(n for contents in folders.values() for n in contents)]
    bad = [n for n in names if not n or n.startswith(".") or "/" in n or "\\" in n]
    if bad or len(set(folders) | set(files)) != len(folders) + len(files):
        raise ValueError(f"output names must be distinct plain names: {bad or names}")


def write_output_set(
    out: Path, folders: dict[str, dict[str, bytes]], files: dict[str, bytes], force: bool
) -> list[Path]:
    """Write `folders` (name -> {file name -> bytes}) and top-level `files` into `out` as one
    transaction (see the module docstring); return the paths written, folders first."""
    _check_names(folders, files)
    what = guard.kind(out)
    if what not in ("missing", "folder"):
        raise TimelineError(out, "", "exists and is not a folder", "choose another --out")
    created, done = what == "missing", False
    try:
        if created:
            os.makedirs(out, 0o777, exist_ok=True)
        with _locked(out), signals_deferred():
            _transaction(out, folders, files, force)
        done = True
    except OSError as err:
        raise _unwritable(out, err) from None
    finally:
        if created and not done:
            with suppress(OSError):
                os.rmdir(out)
    return [out / name for name in folders] + [out / name for name in files]


def _transaction(
    out: Path, folders: dict[str, dict[str, bytes]], files: dict[str, bytes], force: bool
) -> None:
    _recover(out)
    for name in folders:
        check_target(out / name, force)
    for name, content in files.items():
        _check_file(out / name, content, force)
    stale = _stale(out, files)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    stage, swap, old = out / f"{STAGE}{token}", out / f"{SWAP}{token}", out / f"{OLD}{token}"
    try:
        _stage(stage, folders, files)
        stage.rename(swap)  # the commit point: from here on, a later run rolls forward
    except BaseException as err:
        _remove(stage)
        if isinstance(err, OSError):
            raise _unwritable(out, err) from None
        raise
    try:
        _swap(out, swap, old)
        for path in stale:
            path.unlink(missing_ok=True)
    except OSError as err:
        raise _unwritable(out, err) from None


# --- a single file --------------------------------------------------------------------------


def write_file(path: Path, content: bytes) -> None:
    """Replace one file atomically (staged in the same folder, then renamed into place)."""
    write_output_set(path.parent, {}, {path.name: content}, force=True)
