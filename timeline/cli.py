"""The `timeline` command: a thin layer over `timeline.run` and `timeline.io.loader`.

Every user error is a `TimelineError`: printed as one line on stderr, exit code 2, no
traceback; option errors too, and anything unexpected is one line, exit 1 (see
`timeline.cli_errors`). SIGINT, SIGTERM and SIGHUP end a run with 130, 143 and 129 and leave no
partial files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from timeline.cli_errors import OneLineGroup, echo, run_guarded
from timeline.errors import TimelineError
from timeline.io.loader import load_scenario
from timeline.model.schedule import ALL, branch_ids, resolve

# `timeline.run` and `timeline.summary` (pandas, about 2 s to import) are imported by the
# commands that run simulations: `--help`, `branches`, `events` and `validate` need neither.


def _plain(command: Any) -> None:
    """Help without type labels: every option and argument shows its metavar (PATH, N, DATE)
    alone, never typer's `<path>` or `<int range>`; a required argument reads `OUT_DIR` in the
    usage line, an optional one `[PATH]`."""
    for param in getattr(command, "params", ()):
        if param.metavar is None:
            continue
        param.display_type = lambda ctx: ""  # no `<type>` after the name
        if param.param_type_name == "argument":
            name = param.metavar if param.required else f"[{param.metavar}]"
            param._usage_display_name = lambda name=name: name
    for sub in getattr(command, "commands", {}).values():
        _plain(sub)


class PlainHelpGroup(OneLineGroup):
    """The command group: one-line usage errors (`OneLineGroup`) and plain help (`_plain`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain(self)


app = typer.Typer(
    help="Dated impact timelines for a trade conflict, by outcome branch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no rich panels
    cls=PlainHelpGroup,
)


def _version(value: bool) -> None:
    if value:
        from timeline.run import package_version

        echo(f"timeline {package_version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Dated impact timelines for a trade conflict, by outcome branch.

    Start with: timeline simulate --branch all
    """


ScenarioOpt = Annotated[
    Path | None,
    typer.Option(
        "--scenario",
        metavar="PATH",
        help="Scenario file or folder (default: the built-in events/).",
    ),
]
FirmsOpt = Annotated[
    Path | None,
    typer.Option(
        "--firms",
        metavar="PATH",
        help="Firm table (CSV, .xlsx or .parquet) replacing the scenario's own.",
    ),
]


def _guard(job: Callable[[], None]) -> None:
    """Run `job`, turning user errors, surprises and signals into one line and an exit code."""
    run_guarded(job)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TimelineError(
            option, "", f"{value!r} is not a date", "use an ISO date such as 2026-03-31"
        ) from None


DEFAULT_RUNS = 200


@app.command()
def simulate(
    branch: Annotated[
        str, typer.Option(metavar="BRANCH", help="Branch id, or 'all' for every branch.")
    ],
    scenario: ScenarioOpt = None,
    firms: FirmsOpt = None,
    runs: Annotated[
        int,
        typer.Option(
            min=1, max=100_000, metavar="N", help="Paired runs per branch (1: one trajectory)."
        ),
    ] = DEFAULT_RUNS,
    seed: Annotated[
        int, typer.Option(min=0, metavar="SEED", help="Base seed of the keyed random streams.")
    ] = 0,
    jobs: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Worker processes (default: all cores).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Address of a Dask scheduler (tcp://HOST:8786) to run the runs on.",
        ),
    ] = None,
    replay: Annotated[
        int,
        typer.Option(
            min=0, metavar="RUN", help="Which run's full timeline to write (default: run 0)."
        ),
    ] = 0,
    out: Annotated[
        Path, typer.Option(metavar="DIR", help="Output folder; each branch writes a subfolder.")
    ] = Path("outputs"),
    until: Annotated[
        str | None, typer.Option(metavar="DATE", help="Stop on this date (ISO); with --runs 1.")
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            metavar="GROUP",
            help="Count only this group's plants in the summary, bands and compare.",
        ),
    ] = None,
    start_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="DATE",
            help="Start the plants on this date (ISO) in the --state given.",
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH", help="State file (CSV or .xlsx): each plant's stocks and licences."
        ),
    ] = None,
    save_state: Annotated[
        str | None,
        typer.Option(
            metavar="DATE", help="Also write each branch's state on this date (ISO), run --replay."
        ),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            help="Write report.html and charts/ of the branches run (--no-report: CSV and "
            "run.json only, and an earlier report is left as it was)."
        ),
    ] = True,
    charts: Annotated[
        bool,
        typer.Option(help="Draw charts/ (PNG and SVG) for the report (--no-charts: no images)."),
    ] = True,
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMATS",
            help="Comma-separated: csv (always written), xlsx (report.xlsx, a sheet per table), "
            "parquet (parquet/, every table).",
        ),
    ] = "csv",
    force: Annotated[bool, typer.Option(help="Replace a folder timeline did not write.")] = False,
) -> None:
    """Simulate one branch (or all): many paired runs, bands and risks, and one full timeline.

    Example: timeline simulate --branch all --runs 500 --out outputs
    """

    def job() -> None:
        from timeline.run import save_state as state_file_of
        from timeline.run import simulate_branches, write_simulation
        from timeline.summary import print_summary, progress_bar, status

        last = _date(until, "--until")
        loaded = load_scenario(scenario, firms)
        if last is not None and last < loaded.start:
            raise TimelineError(
                "--until",
                "",
                f"{last} is before the start {loaded.start}",
                "give a date inside the scenario's horizon",
            )
        if last is not None and runs > 1:
            raise TimelineError(
                "--until", "", "--until cuts one trajectory short", "use it with --runs 1"
            )
        wanted = _formats(formats)
        ids = branch_ids(loaded, branch)
        asked = ALL if branch == ALL else ids
        start = _start(loaded, start_from, state)
        saved = _date(save_state, "--save-state")
        # drawing the charts needs matplotlib (about a second to import): import it while
        # the ensemble's worker processes run, once they are all started
        preload = _Preload(report and charts and scheduler is None and jobs != 1)
        with progress_bar(runs * len(ids) if runs > 1 else 0) as advance:

            def progress(n: int) -> None:
                preload.start()
                if advance:
                    advance(n * len(ids))

            sim = simulate_branches(
                loaded,
                asked,
                runs,
                seed,
                jobs,
                scheduler,
                replay,
                last,
                progress=progress,
                group=group,
                start=start,
            )
        preload.join()  # before the charts' processes fork
        command = " ".join(["timeline", *sys.argv[1:]])
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        extra = {}
        if saved is not None:
            if not loaded.start <= saved <= loaded.end:
                raise TimelineError(
                    "--save-state", "", f"{saved} is outside the horizon", "give a date inside it"
                )
            extra = {b: {"state.csv": state_file_of(loaded, b, seed, replay, saved)} for b in ids}
        with status("drawing charts/ and report.html", shown=report):
            written = write_simulation(
                sim,
                out,
                command,
                created,
                force,
                extra,
                report=report,
                charts=charts,
                jobs=jobs,
                formats=wanted,
            )
        print_summary(sim)
        shown = [p for p in written if p.parent == out]  # branch folders, compare.csv, report
        if any(p.parent == out / "charts" for p in written):
            shown.append(out / "charts")
        echo("Wrote " + ", ".join(f"{p}" for p in shown))

    _guard(job)


FORMATS = ("csv", "xlsx", "parquet")


def _formats(text: str) -> frozenset[str]:
    """`--format csv,xlsx,parquet` -> the set named (CSV is always written)."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise TimelineError(
            "--format",
            "",
            f"unknown format {unknown[0]!r}" if unknown else "no format given",
            "give a comma-separated list of csv, xlsx, parquet",
        )
    return frozenset(names) | {"csv"}


class _Preload:
    """Import the report's modules on a thread, once, if `wanted`: while the ensemble's worker
    processes (forked before `start` is first called) do the work, the main process is idle.
    `join` waits for it; a failed import is left for the real one to report."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.wanted and self.thread is None:
            self.thread = threading.Thread(target=self._load, name="preload", daemon=True)
            self.thread.start()

    @staticmethod
    def _load() -> None:
        with contextlib.suppress(Exception):
            import timeline.reports.build  # noqa: F401  (the page)
            import timeline.reports.charts  # noqa: F401  (matplotlib)

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _start(loaded, start_from: str | None, state: Path | None):
    """(date, FirmStarts) from --from and --state, or None (each run starts from its trunk)."""
    from timeline.io.statefile import read_state

    day = _date(start_from, "--from")
    if state is not None and day is None:
        raise TimelineError("--state", "", "a state file needs a start date", "add --from DATE")
    if day is None:
        return None
    if not loaded.start <= day <= loaded.end:
        raise TimelineError("--from", "", f"{day} is outside the horizon", "give a date inside it")
    if state is None:
        return None  # the state on that day is each run's own trunk state: the full run
    return (day, read_state(state, loaded, day))


@app.command()
def calibrate(
    priors: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH", help="Priors and targets (default: the scenario's priors.yaml)."
        ),
    ] = None,
    scenario: ScenarioOpt = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Worker processes (default: all cores).")
    ] = None,
    out: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder for fit.csv and all_sets.csv.")
    ] = Path("outputs/calibration"),
    posterior: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Where to write the posterior (default: posterior.yaml by the scenario).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace files timeline did not write.")] = False,
) -> None:
    """Fit the uncertain parameters to the 2025 flow index and licence statistics.

    Example: timeline calibrate --jobs 2
    """

    def job() -> None:
        from timeline.analysis.calibrate_run import run_calibration

        run_calibration(scenario, priors, jobs, out, posterior, force)

    _guard(job)


@app.command()
def buffer(
    branch: Annotated[str, typer.Option(metavar="BRANCH", help="Branch id, or 'all'.")],
    firm: Annotated[
        list[str] | None, typer.Option(metavar="FIRM", help="Plant id (repeat for several).")
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(metavar="GROUP", help="Every plant of this group (firm table column)."),
    ] = None,
    confidence: Annotated[
        float,
        typer.Option(
            min=0.5, max=0.99, metavar="SHARE", help="Share of runs the plant must survive."
        ),
    ] = 0.9,
    runs: Annotated[
        int, typer.Option(min=5, max=10_000, metavar="N", help="Paired runs per candidate.")
    ] = 50,
    seed: Annotated[int, typer.Option(min=0, metavar="SEED", help="Base seed.")] = 0,
    re_only: Annotated[
        bool, typer.Option(help="Scale only the rare-earth stock, not the parts buffers.")
    ] = False,
    scenario: ScenarioOpt = None,
    firms: FirmsOpt = None,
    out: Annotated[Path, typer.Option(metavar="DIR", help="Folder for buffers.csv.")] = Path(
        "outputs"
    ),
) -> None:
    """How many days of stock a plant needs to get through a branch.

    Example: timeline buffer --branch decouple --firm us-traction-motor --confidence 0.9
    """

    def job() -> None:
        from timeline.analysis.commands import run_buffer

        run_buffer(scenario, firms, branch, confidence, firm or [], group, runs, seed, re_only, out)

    _guard(job)


@app.command()
def sensitivity(
    branch: Annotated[str, typer.Option(metavar="BRANCH", help="Branch id, or 'all'.")],
    firm: Annotated[
        str | None,
        typer.Option(metavar="FIRM", help="Measure this plant's P(stop) instead of value lost."),
    ] = None,
    runs: Annotated[
        int, typer.Option(min=5, max=10_000, metavar="N", help="Paired runs per setting.")
    ] = 40,
    seed: Annotated[int, typer.Option(min=0, metavar="SEED", help="Base seed.")] = 0,
    scenario: ScenarioOpt = None,
    firms: FirmsOpt = None,
    out: Annotated[Path, typer.Option(metavar="DIR", help="Folder for sensitivity.csv.")] = Path(
        "outputs"
    ),
) -> None:
    """What the answer is most sensitive to: each input at its P10 and P90, key dates +-14 days.

    Example: timeline sensitivity --branch decouple
    """

    def job() -> None:
        from timeline.analysis.commands import run_sensitivity

        run_sensitivity(scenario, firms, branch, firm, runs, seed, out)

    _guard(job)


@app.command()
def branches(scenario: ScenarioOpt = None) -> None:
    """List the branches of the scenario.

    Example: timeline branches
    """

    def job() -> None:
        loaded = load_scenario(scenario)
        for branch in loaded.branches:
            echo(f"{branch.id:<12} {branch.title}")
            echo(f"{'':<12} {' '.join(branch.summary.split())}")

    _guard(job)


@app.command()
def events(
    branch: Annotated[str, typer.Option(metavar="BRANCH", help="Branch id.")],
    scenario: ScenarioOpt = None,
) -> None:
    """Print the resolved, dated schedule of a branch (policy events only).

    Example: timeline events --branch decouple
    """

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
            echo(
                f"{item.date} {item.seq:>3} {event.id:<28} {event.kind:<14} "
                f"{event.actor:<6} {event.title}"
            )

    _guard(job)


@app.command()
def validate(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="PATH", help="Scenario file or folder (default: the built-in events/)."
        ),
    ] = None,
    firms: FirmsOpt = None,
) -> None:
    """Check a scenario (and optionally a firm table) without running it.

    Example: timeline validate events --firms events/examples/my_firms.csv
    """

    def job() -> None:
        loaded = load_scenario(path, firms)
        echo(
            f"ok: {loaded.id}: {len(loaded.events)} catalog events, "
            f"{len(loaded.branches)} branches ({', '.join(loaded.branch_ids)}), "
            f"{len(loaded.firms)} firms"
        )

    _guard(job)


@app.command()
def report(
    out_dir: Annotated[
        Path, typer.Argument(metavar="OUT_DIR", help="Output folder of `timeline simulate`.")
    ],
    group: Annotated[
        str | None, typer.Option(metavar="GROUP", help="Show the plants of this firm group first.")
    ] = None,
    excel: Annotated[bool, typer.Option(help="Also write report.xlsx.")] = False,
    parquet: Annotated[bool, typer.Option(help="Also write parquet/ (every table).")] = False,
    charts: Annotated[
        bool, typer.Option(help="Draw charts/ (PNG and SVG) for the report (--no-charts: none).")
    ] = True,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Processes drawing the charts (default: the free cores)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace a report.html timeline did not write.")
    ] = False,
) -> None:
    """Rebuild report.html and charts/ from every branch folder (and buffers.csv,
    sensitivity.csv) in an output folder.

    Example: timeline report outputs --group watchlist --excel
    """

    def job() -> None:
        from timeline.reports.build import write_report  # matplotlib only when needed

        written = write_report(
            out_dir, group, excel=excel, parquet=parquet, charts=charts, jobs=jobs, force=force
        )
        typer.echo(f"Wrote {out_dir / 'report.html'} and {len(written) - 1} other files")

    _guard(job)


firms_app = typer.Typer(
    help="Firm tables: generate synthetic networks.\n\n"
    "Example: timeline firms generate --n 430 --out firms.csv",
    no_args_is_help=True,
)
app.add_typer(firms_app, name="firms")


@firms_app.command("generate")
def firms_generate(
    n: Annotated[
        int, typer.Option("--n", min=1, max=10_000_000, metavar="N", help="Number of firms.")
    ],
    out: Annotated[Path, typer.Option(metavar="PATH", help="File to write (.csv or .parquet).")],
    seed: Annotated[int, typer.Option(min=0, metavar="SEED", help="Seed of the sample.")] = 0,
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="csv or parquet (default: by the suffix)."),
    ] = None,
    scenario: ScenarioOpt = None,
) -> None:
    """Sample a network of N firms from the scenario's firm archetypes (no supplier cycles).

    Example: timeline firms generate --n 4300 --seed 1 --out firms-4300.parquet
    """

    def job() -> None:
        from timeline.io import firmsio, guard, yamlio
        from timeline.io.generate import generate_firms, write_firms

        archetypes = load_scenario(scenario).firms
        written = write_firms(generate_firms(archetypes, n, seed), out, fmt)
        echo(f"Wrote {out}: {n:,} firms ({written}) from {len(archetypes)} archetypes, seed {seed}")
        size = out.stat().st_size
        if n > guard.setting(firmsio.MAX_FIRMS_ENV, firmsio.MAX_FIRMS):
            echo(f"To read it with --firms, set {firmsio.MAX_FIRMS_ENV}={n}")
        if size > guard.setting(yamlio.MAX_INPUT_ENV, firmsio.MAX_BYTES):
            echo(f"To read it with --firms, set {yamlio.MAX_INPUT_ENV}={size}")

    _guard(job)
