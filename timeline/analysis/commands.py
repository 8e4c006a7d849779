"""The planner's commands (`timeline buffer`, `timeline sensitivity`) end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from timeline.analysis import buffers as buf
from timeline.analysis.calibrate import read_priors
from timeline.analysis.sensitivity import sensitivity
from timeline.errors import TimelineError
from timeline.io.loader import load_scenario, scenario_path
from timeline.io.output import csv_bytes, write_file
from timeline.run import branch_ids
from timeline.summary import money, progress_bar


def run_buffer(
    scenario: Path | None,
    firms: Path | None,
    branch: str,
    confidence: float,
    firm_ids: list[str],
    group: str | None,
    runs: int,
    seed: int,
    re_only: bool,
    out: Path,
) -> None:
    loaded = load_scenario(scenario, firms)
    ids = branch_ids(loaded, branch)
    chosen = list(firm_ids) or [f.id for f in loaded.firms if group and f.group == group]
    if not chosen:
        raise TimelineError(
            "--firm", "", "no plant chosen", "name plants with --firm ID or a --group of the table"
        )
    answers = []
    with progress_bar(len(chosen) * len(ids) * 10) as advance:
        for b in ids:
            for firm_id in chosen:
                answers.append(
                    buf.size_buffer(
                        loaded, b, firm_id, confidence, runs, seed, re_only, progress=advance
                    )
                )
    frame = buf.answers_frame(answers)
    write_file(Path(out) / "buffers.csv", csv_bytes(frame))
    typer.echo(
        f"Stocks needed to keep each plant running after {loaded.branch_point} in "
        f"{confidence:.0%} of {runs} paired runs (multiple found to within "
        f"{answers[0].tolerance:.0%}):"
    )
    for a in answers:
        needed = "not within 32x its stock" if a.days_needed is None else f"{a.days_needed:g} days"
        typer.echo(
            f"  {a.branch:<11} {a.firm_id:<28} now {a.days_of_cover_now:g} days "
            f"(P(stop) {a.p_stop_now:.0%}) -> needs {needed}"
        )
    typer.echo(f"Wrote {Path(out) / 'buffers.csv'}")


def run_sensitivity(
    scenario: Path | None,
    firms: Path | None,
    branch: str,
    firm: str | None,
    runs: int,
    seed: int,
    out: Path,
) -> None:
    loaded = load_scenario(scenario, firms)
    ids = branch_ids(loaded, branch)
    priors_path = scenario_path(scenario).parent / "priors.yaml"
    priors = read_priors(priors_path) if priors_path.exists() else None
    frames = []
    count = (len(priors.parameters) if priors else 0) + len(loaded.uncertainty) + 3
    with progress_bar(2 * count * len(ids)) as advance:
        for b in ids:
            frames.append(sensitivity(loaded, b, priors, runs, seed, firm, advance))
    frame = pd.concat(frames, ignore_index=True)
    write_file(Path(out) / "sensitivity.csv", csv_bytes(frame))
    fmt = (lambda v: f"{v:.0%}") if firm else money
    for row in frame.head(12).itertuples():
        if row.effect == row.effect:
            typer.echo(
                f"  {row.branch:<11} {row.parameter:<34} {row.low_label:>12} -> "
                f"{fmt(row.value_at_low)}   {row.high_label:>12} -> {fmt(row.value_at_high)}"
            )
    typer.echo(f"Wrote {Path(out) / 'sensitivity.csv'}")
