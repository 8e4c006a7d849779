"""Guarded access to every file the tool reads or inspects, inputs and earlier outputs alike.

Only regular files are read: a FIFO, a device or a socket is refused at once (the file is
opened with O_NONBLOCK and checked with fstat), so nothing waits for ever or reads without end.
At most `limit` bytes are read. Every OSError (missing, a folder, no permission, a symbolic-link
loop, a path through a file, a name too long, ...) becomes one `TimelineError` line.

Size caps are settings: `setting("TIMELINE_MAX_INPUT_BYTES", default)` reads the environment
at each call, so a caller can raise or lower a cap without code.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Literal

from timeline.errors import TimelineError

Kind = Literal["missing", "file", "folder", "link", "other"]

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOENT: ("file not found", "check the path"),
    errno.EISDIR: ("is a folder, not a file", "name a file"),
    errno.EACCES: ("cannot be read (permission denied)", "check its permissions"),
    errno.EPERM: ("cannot be read (operation not permitted)", "check its permissions"),
    errno.ELOOP: (
        "the path holds a symbolic-link loop",
        "point the link at a real file, or name the file itself",
    ),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.ENAMETOOLONG: ("the path, or a name in it, is too long", "use a shorter path"),
    errno.ENXIO: ("is a socket or a device, not a regular file", "name a regular file"),
}


def setting(name: str, default: int) -> int:
    """A positive whole-number setting from the environment variable `name`, else `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise TimelineError(
            f"${name}",
            "",
            f"{raw!r} is not a positive whole number",
            f"unset it, or give a number such as {default}",
        )
    return value


def os_error(path: object, err: OSError) -> TimelineError:
    """One line for an OSError met while reading or inspecting `path`."""
    problem, fix = _REASONS.get(
        err.errno or 0, (f"cannot be read ({err.strerror or err})", "check the path")
    )
    return TimelineError(path, "", problem, fix)


def size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _too_big(path: object, size: int, limit: int) -> TimelineError:
    return TimelineError(
        path,
        "",
        f"file is {size_text(size)}, over the {size_text(limit)} limit",
        "split the file or remove unused rows (or raise TIMELINE_MAX_INPUT_BYTES)",
    )


def _mode_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them, or a `TimelineError`."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        raise os_error(path, err) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise TimelineError(path, "", "is a folder, not a file", "name a file")
        if not stat.S_ISREG(info.st_mode):
            raise TimelineError(
                path,
                "",
                f"is {_mode_name(info.st_mode)}, not a regular file",
                "name a regular file",
            )
        if info.st_size > limit:
            raise _too_big(path, info.st_size, limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # it grew while we read it
            raise _too_big(path, len(data), limit)
        return data
    except OSError as err:
        raise os_error(path, err) from None
    finally:
        os.close(fd)


def kind(path: Path, follow: bool = True) -> Kind:
    """What is at `path`, without reading it: missing, file, folder, link (when not following
    links) or other (FIFO, device, socket). Any other OSError is a `TimelineError`."""
    try:
        info = os.stat(path, follow_symlinks=follow)
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        raise os_error(path, err) from None
    if stat.S_ISLNK(info.st_mode):
        return "link"
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    return "file" if stat.S_ISREG(info.st_mode) else "other"


def absolute(path: Path) -> Path:
    """`path` made absolute, symbolic links resolved where they can be (never an exception)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop, a name too long: reading it will say which
        return Path(os.path.abspath(path))
