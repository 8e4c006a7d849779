"""What the terminal shows: the printed summary of a simulation, and a progress bar.

The branch-dependent part (from the branch point on) comes first; ranges are `P50 (P10-P90)`;
money in one style ($850m, $5.3bn). The progress bar (rich) is drawn on stderr, only when
stderr is a terminal.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from timeline.cli_errors import echo
from timeline.ensemble.aggregate import HEADLINES, q
from timeline.model.scenario import KEY_EVENTS
from timeline.run import Simulation


def money(usd: float) -> str:
    """$0, $850k, $12.3m, $5.3bn, $1.2tn: one style whatever the magnitude."""
    if not math.isfinite(usd):
        return "-"
    sign = "-" if usd < 0 else ""
    usd = abs(usd)
    for limit, unit in ((1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if usd >= limit:
            value = usd / limit
            return f"{sign}${value:.1f}{unit}" if value < 100 else f"{sign}${value:.0f}{unit}"
    return f"{sign}${usd:.0f}"


def band(values: np.ndarray, fmt: Callable[[float], str]) -> str:
    """`P50 (P10-P90)`, or the single value when all three agree."""
    lo, mid, hi = (float(q(values, p)) for p in (0.1, 0.5, 0.9))
    if fmt(lo) == fmt(hi):
        return fmt(mid)
    return f"{fmt(mid)} ({fmt(lo)}-{fmt(hi)})"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def print_summary(sim: Simulation) -> None:
    scenario = sim.scenario
    start = scenario.start

    def date(day: float) -> str:
        if not math.isfinite(day):
            return "never"
        import datetime as dt

        return (start + dt.timedelta(days=int(day))).isoformat()

    count = lambda v: f"{v:.0f}"  # noqa: E731
    echo(
        f"{scenario.title}: {len(scenario.firms)} firms; "
        + (
            f"{sim.runs} paired runs per branch, seed {sim.seed}"
            if sim.runs > 1
            else f"one run (seed {sim.seed}, run {sim.replay})"
        )
    )
    if sim.ensemble is None:
        rows = [
            [
                "branch",
                "first stop",
                "peak stopped",
                "value added lost",
                "since " + scenario.branch_point.isoformat() + ": first stop",
                "value lost",
            ]
        ]
        for branch, run in sim.replays.items():
            s = run.summary
            rows.append(
                [
                    branch,
                    s["first_stop_date"] or "never",
                    str(s["peak_firms_stopped"]),
                    money(s["value_added_lost_usd"]),
                    s["first_stop_since_branch_date"] or "never",
                    money(s["value_added_lost_since_branch_usd"]),
                ]
            )
    else:
        who = f"plants of group {sim.group!r}" if sim.group else "all plants"
        echo(f"From the branch point ({scenario.branch_point}) on, {who}; P50 (P10-P90) over runs:")
        k = {name: i for i, name in enumerate(HEADLINES)}
        rows = [
            [
                "branch",
                "first stop",
                "plants stopped at peak",
                "value added lost",
                "P(any stop)",
                "whole horizon: value added lost",
            ]
        ]
        for branch in sim.branches:
            h = sim.ensemble.branch(branch).headlines
            since = np.where(
                np.isnan(h[:, k["first_stop_since_branch_day"]]),
                np.inf,
                h[:, k["first_stop_since_branch_day"]],
            )
            rows.append(
                [
                    branch,
                    band(since, date),
                    band(h[:, k["peak_firms_stopped_since_branch"]], count),
                    band(h[:, k["value_added_lost_since_branch_usd"]], money),
                    f"{np.isfinite(since).mean():.0%}",
                    band(h[:, k["value_added_lost_usd"]], money),
                ]
            )
    for line in _table(rows):
        echo("  " + line.rstrip())
    if sim.ensemble is not None and len(sim.branches) > 1:
        paired = sim.ensemble.paired()
        wanted = paired[paired["metric"] == "value_added_lost_since_branch_usd"]
        echo("Paired differences in value added lost since the branch point:")
        for row in wanted.itertuples():
            if sim.branches.index(row.branch) < sim.branches.index(row.versus):
                echo(
                    f"  {row.branch} minus {row.versus}: {money(row.q50)} "
                    f"({money(row.q10)} to {money(row.q90)}); "
                    f"{row.branch} worse in {row.p_worse:.0%} of runs"
                )
    if len(sim.branches) == 1:
        echo("Key dates:")
        for item in sim.replays[sim.branches[0]].result.schedule:
            if item.event.id in KEY_EVENTS:
                outcome = " ".join(item.event.outcome.split())
                echo(f"  {item.date} {item.event.id}" + (f": {outcome}" if outcome else ""))


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for `total` runs, or None (no terminal, or no work)."""
    if total <= 0 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("runs", total=total, rate="")
        import time

        begun = time.monotonic()

        def advance(n: int) -> None:
            done = bar.tasks[0].completed + n
            rate = done / max(time.monotonic() - begun, 1e-9)
            bar.update(task, advance=n, rate=f"{rate:,.0f} runs/s")

        yield advance


@contextmanager
def status(text: str, shown: bool = True) -> Iterator[None]:
    """One line on stderr while a step runs (`text...`), erased when it ends; only when
    stderr is a terminal. No thread: safe around code that forks worker processes."""
    if not shown or not sys.stderr.isatty():
        yield
        return
    try:
        sys.stderr.write(f"{text}...\r")
        sys.stderr.flush()
    except OSError:
        pass
    try:
        yield
    finally:
        try:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
        except OSError:
            pass
