"""The `timeline` command: a thin layer over `timeline.run` and `timeline.io.loader`.

Every user error is a `TimelineError`: printed as one line on stderr, exit code 2, no
traceback. SIGINT and SIGTERM end a run with 130 and 143 and leave no partial files.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from timeline.errors import TimelineError
from timeline.io.loader import load_scenario
from timeline.model.scenario import KEY_EVENTS, Scenario
from timeline.model.schedule import resolve
from timeline.run import ALL, BranchRun, branch_ids, run_branch, write_runs

app = typer.Typer(
    help="Dated impact timelines for a trade conflict, by outcome branch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ScenarioOpt = Annotated[
    Path | None,
    typer.Option("--scenario", help="Scenario file or folder (default: the built-in events/)."),
]
FirmsOpt = Annotated[
    Path | None, typer.Option("--firms", help="Firm table CSV replacing the scenario's own.")
]


class Terminated(BaseException):
    """Raised from the SIGTERM handler so that cleanup runs as for Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _guard(job: Callable[[], None]) -> None:
    """Run `job`, turning user errors and signals into exit codes."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        job()
    except TimelineError as err:
        typer.echo(f"timeline: error: {err}", err=True)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("timeline: interrupted; no partial outputs were left", err=True)
        raise typer.Exit(130) from None
    except Terminated:
        typer.echo("timeline: terminated; no partial outputs were left", err=True)
        raise typer.Exit(143) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TimelineError(
            option, "", f"{value!r} is not a date", "use an ISO date such as 2026-03-31"
        ) from None


@app.command()
def simulate(
    branch: Annotated[str, typer.Option(help="Branch id, or 'all' for every branch.")],
    scenario: ScenarioOpt = None,
    firms: FirmsOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the run's random streams.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder; each branch writes a subfolder.")] = (
        Path("outputs")
    ),
    until: Annotated[str | None, typer.Option(help="Stop on this date (ISO).")] = None,
    force: Annotated[bool, typer.Option(help="Replace a folder timeline did not write.")] = False,
) -> None:
    """Simulate one branch (or all) and write dated timelines as CSV."""

    def job() -> None:
        last = _date(until, "--until")
        loaded = load_scenario(scenario, firms)
        if last is not None and last < loaded.start:
            raise TimelineError(
                "--until",
                "",
                f"{last} is before the start {loaded.start}",
                "give a date inside the scenario's horizon",
            )
        runs = [run_branch(loaded, b, seed, last) for b in branch_ids(loaded, branch)]
        meta = {
            "command": " ".join(["timeline", *sys.argv[1:]]),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        written = write_runs(runs, out, meta, force, compare=branch == "all")
        _print_summary(loaded, runs)
        typer.echo("Wrote " + ", ".join(f"{p}" for p in written))

    _guard(job)


def _money(usd: int) -> str:
    return f"${usd / 1e9:,.2f}bn" if usd >= 1e8 else f"${usd / 1e6:,.1f}m"


def _print_summary(scenario: Scenario, runs: list[BranchRun]) -> None:
    branch_point = scenario.branch_point.isoformat()
    typer.echo(f"{scenario.title}: {len(scenario.firms)} firms, seed {runs[0].result.seed}")
    typer.echo(f"{'':<12} {'first':<11} {'peak stopped':<19} {'output':>10} | from {branch_point}:")
    typer.echo(
        f"{'branch':<12} {'stop':<11} {'':<19} {'lost':>10} | {'first stop':<11} "
        f"{'peak stopped':<19} {'output lost':>11} {'stopped at end':>14}"
    )
    for run in runs:
        s = run.summary
        peak = f"{s['peak_firms_stopped']} on {s['peak_date'] or '-'}"
        later = f"{s['peak_firms_stopped_since_branch']} on {s['peak_since_branch_date'] or '-'}"
        typer.echo(
            f"{s['branch']:<12} {s['first_stop_date'] or '-':<11} {peak:<19} "
            f"{_money(s['total_output_lost_usd']):>10} | "
            f"{s['first_stop_since_branch_date'] or '-':<11} {later:<19} "
            f"{_money(s['output_lost_since_branch_usd']):>11} {s['firms_stopped_at_end']:>14}"
        )
    if len(runs) == 1:
        typer.echo("Key dates:")
        for item in runs[0].result.schedule:
            if item.event.id in KEY_EVENTS:
                outcome = f": {item.event.outcome.strip()}" if item.event.outcome else ""
                typer.echo(f"  {item.date} {item.event.id}{outcome}")


@app.command()
def branches(scenario: ScenarioOpt = None) -> None:
    """List the branches of the scenario."""

    def job() -> None:
        loaded = load_scenario(scenario)
        for branch in loaded.branches:
            typer.echo(f"{branch.id:<12} {branch.title}")
            typer.echo(f"{'':<12} {' '.join(branch.summary.split())}")

    _guard(job)


@app.command()
def events(
    branch: Annotated[str, typer.Option(help="Branch id.")],
    scenario: ScenarioOpt = None,
) -> None:
    """Print the resolved, dated schedule of a branch (policy events only)."""

    def job() -> None:
        loaded = load_scenario(scenario)
        if branch == ALL:
            raise TimelineError(
                "--branch",
                "",
                "events lists one branch at a time",
                f"use one of: {', '.join(loaded.branch_ids)}",
            )
        branch_ids(loaded, branch)  # an unknown branch is an error
        for item in resolve(loaded, branch):
            event = item.event
            typer.echo(
                f"{item.date} {item.seq:>3} {event.id:<28} {event.kind:<14} "
                f"{event.actor:<6} {event.title}"
            )

    _guard(job)


@app.command()
def validate(
    path: Annotated[Path | None, typer.Argument(help="Scenario file or folder.")] = None,
    firms: FirmsOpt = None,
) -> None:
    """Check a scenario (and optionally a firm table) without running it."""

    def job() -> None:
        loaded = load_scenario(path, firms)
        typer.echo(
            f"ok: {loaded.id}: {len(loaded.events)} catalog events, "
            f"{len(loaded.branches)} branches ({', '.join(loaded.branch_ids)}), "
            f"{len(loaded.firms)} firms"
        )

    _guard(job)


@app.command()
def report(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of `timeline simulate`.")],
    group: Annotated[
        str | None, typer.Option(help="Show the plants of this firm group first.")
    ] = None,
    excel: Annotated[bool, typer.Option(help="Also write report.xlsx.")] = False,
    parquet: Annotated[bool, typer.Option(help="Also write parquet/ (every table).")] = False,
) -> None:
    """Rebuild report.html and charts/ from the files in an output folder.

    Example: timeline report outputs --group watchlist --excel
    """

    def job() -> None:
        from timeline.reports.build import write_report  # matplotlib only when needed

        written = write_report(out_dir, group, excel=excel, parquet=parquet)
        typer.echo(f"Wrote {out_dir / 'report.html'} and {len(written) - 1} other files")

    _guard(job)
