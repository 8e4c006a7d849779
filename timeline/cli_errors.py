"""What the `timeline` command prints when something goes wrong: one line, never a traceback.

- `OneLineGroup` (the command's typer group): an option error (an unknown option, a missing
  `--branch`, `--seed 1.5`) is `timeline: error: ...` on one line, exit 2, whatever the width of
  the terminal, instead of click's usage box.
- `run_guarded(job)` runs a command's body: a `TimelineError` prints its lines (exit 2); Ctrl-C,
  SIGTERM and SIGHUP end the run with 130, 143 and 129; a standard output that cannot be written
  (a closed pipe, /dev/full) is one line on stderr (exit 2); any other exception is one line
  asking to report it (exit 1).
- `echo` prints text from input files with non-printable characters escaped
  (`timeline.io.text.printable`), so no escape sequence reaches the terminal raw.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from timeline.errors import TimelineError
from timeline.io.text import printable

try:  # typer >= 0.20 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

PREFIX = "timeline: error: "
REPORT = "please report it with the command and the input files"
_SIGNALS = {"SIGTERM": (143, "terminated"), "SIGHUP": (129, "hung up")}


class StdoutGone(Exception):
    """Standard output cannot be written (a closed pipe, a full device)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))


def echo(text: str = "", err: bool = False) -> None:
    """Print `text` as one line, every non-printable character (a line break too) escaped."""
    try:
        typer.echo(printable(text), err=err)
    except OSError as error:
        if err:
            raise
        raise StdoutGone(error) from None


def _say_error(lines: Sequence[str]) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be gone
        for line in lines:
            echo(PREFIX + " ".join(line.split()), err=True)


class Terminated(BaseException):
    """Raised from the SIGTERM and SIGHUP handlers so that cleanup runs as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _silence_stdout() -> None:
    """Point the process's stdout at /dev/null so the final flush at exit cannot fail."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def exit_code_of(err: BaseException) -> tuple[int, list[str]]:
    """The exit code and the error lines for an exception that escaped a command."""
    if isinstance(err, TimelineError):
        return err.exit_code, list(err.lines)
    if isinstance(err, StdoutGone):
        _silence_stdout()
        return 2, [f"<stdout>: cannot write ({err}); fix: send the output to a file or a terminal"]
    if isinstance(err, OSError):
        place = err.filename or "a file"
        reason = err.strerror or str(err)
        return 2, [f"{place}: cannot be used ({reason}); fix: check the path"]
    detail = " ".join(f"{type(err).__name__}: {err}".split())[:300]
    return 1, [f"internal error ({detail}); fix: {REPORT}"]


def run_guarded(job: Callable[[], None]) -> None:
    """Run `job`, turning errors and signals into one line and an exit code."""
    handled = [getattr(signal, name) for name in _SIGNALS if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, _on_signal) for sig in handled}
    try:
        job()
    except KeyboardInterrupt:
        _say_error_plain("timeline: interrupted; no partial outputs were left")
        raise typer.Exit(130) from None
    except Terminated as err:
        code, word = _SIGNALS.get(signal.Signals(err.signum).name, (128 + err.signum, "stopped"))
        _say_error_plain(f"timeline: {word}; no partial outputs were left")
        raise typer.Exit(code) from None
    except (typer.Exit, typer.Abort, click_exceptions.ClickException):
        raise
    except Exception as err:  # the last resort: one line, never a traceback
        code, lines = exit_code_of(err)
        _say_error(lines)
        raise typer.Exit(code) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say_error_plain(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        echo(line, err=True)


class OneLineGroup(TyperGroup):
    """The command group: usage errors in one line (`timeline: error: ...`), exit 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click_exceptions.NoArgsIsHelpError as err:  # `timeline` alone: the help
            if err.format_message().strip():  # (rich has printed it already)
                typer.echo(err.format_message())
            result = err.exit_code
        except click_exceptions.UsageError as err:
            command = err.ctx.command_path if err.ctx is not None else "timeline"
            message = " ".join(err.format_message().split()).rstrip(".")
            _say_error([f"{message}; fix: see '{command} --help'"])
            result = err.exit_code
        except click_exceptions.ClickException as err:
            _say_error([err.format_message()])
            result = err.exit_code
        except typer.Abort:
            _say_error_plain("timeline: aborted")
            result = 1
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)
