"""Write a run's files safely: all or nothing, and never over a folder this tool did not write.

A branch's files are written into a hidden temporary folder beside the target, then swapped in
with renames, so a killed run leaves either the previous complete folder or none. A folder is
"ours" when it holds a `run.json` whose `tool` is `timeline`; any other non-empty folder is
refused unless `force` is set. Text cells that a spreadsheet would read as a formula are
neutralised (OWASP CSV injection): a leading `'` is added; numbers are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from timeline.errors import TimelineError

TOOL = "timeline"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start like a formula with `'`; numeric columns are untouched."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """RFC 4180 CSV: CRLF line ends, so a cell holding CR or LF is quoted and stays one cell."""
    text = neutralise(frame).to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%d")
    return text.encode("utf-8")


def is_ours(folder: Path) -> bool:
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("tool") == TOOL


def check_target(folder: Path, force: bool) -> None:
    """Refuse a non-empty folder this tool did not write, unless `force`."""
    if folder.exists() and not folder.is_dir():
        raise TimelineError(folder, "", "exists and is not a folder", "choose another --out")
    if folder.is_dir() and any(folder.iterdir()) and not is_ours(folder) and not force:
        raise TimelineError(
            folder,
            "",
            "folder is not empty and was not written by timeline",
            "choose another --out, or pass --force to replace it",
        )


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during a block of file operations, then deliver them.

    A rename or a clean-up cut in half is what leaves stray temporary files; a signal that
    arrives meanwhile takes effect as soon as the block is done (or has failed).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in held
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
    return TimelineError(
        place,
        "",
        f"cannot write outputs ({err.strerror})",
        "free some space or choose a writable --out",
    )


def write_folder(folder: Path, files: dict[str, bytes], force: bool = False) -> None:
    """Replace `folder` with exactly `files` (name -> content), atomically as far as possible."""
    check_target(folder, force)
    parent = folder.parent
    with signals_deferred():
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=parent))
        except OSError as err:
            raise _unwritable(parent, err) from None
        old = parent / f".{folder.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
        try:
            for name, content in files.items():
                with open(tmp / name, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
            if folder.exists():
                folder.rename(old)
            tmp.rename(folder)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if old.exists() and not folder.exists():
                old.rename(folder)
            raise _unwritable(folder, err) from None
        shutil.rmtree(old, ignore_errors=True)


def write_file(path: Path, content: bytes) -> None:
    """Write one file atomically (temporary file in the same folder, then rename)."""
    with signals_deferred():
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(tmp, path)
        except OSError as err:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise _unwritable(path, err) from None


def run_json(meta: dict[str, object]) -> bytes:
    return (json.dumps({"tool": TOOL, **meta}, indent=2, sort_keys=True) + "\n").encode()
