"""`timeline calibrate` end to end: load, sample, score, write the posterior and the fit table."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
import typer

from timeline.analysis import calibrate as cal
from timeline.ensemble.runner import default_jobs
from timeline.errors import TimelineError
from timeline.io.loader import load_scenario, scenario_path
from timeline.io.output import csv_bytes, write_file
from timeline.run import package_version
from timeline.summary import progress_bar


def run_calibration(
    scenario: Path | None,
    priors: Path | None,
    jobs: int | None,
    out: Path,
    posterior: Path | None,
    force: bool,
) -> None:
    top = scenario_path(scenario)
    priors_path = Path(priors) if priors else top.parent / "priors.yaml"
    spec = cal.read_priors(priors_path)
    loaded = load_scenario(scenario)
    target = Path(posterior) if posterior else top.parent / "posterior.yaml"
    _check_ours(target, force)
    jobs = default_jobs() if jobs is None else jobs
    with progress_bar(spec.method.sets + spec.method.recheck) as advance:
        results = cal.calibrate(loaded, spec, jobs, advance)
    best = cal.accepted(results, spec)
    provenance = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": package_version(),
        "command": " ".join(["timeline", *sys.argv[1:]]),
        "scenario_fingerprint": loaded.model_copy(update={"posterior": ()}).fingerprint,
        "priors_file": priors_path.name,
        "targets": [f"flow index {d} {m}" for d, m, _ in spec.flow_targets()]
        + [f"approved share {t.destination} by {t.by}" for t in spec.licences],
        "distance": "root mean square of (simulated median - observed), licence targets weighted",
    }
    fit = pd.DataFrame(cal.fit_rows(spec, best))
    sets = pd.DataFrame(
        [
            {
                "set": r.index,
                "distance": r.distance,
                "rechecked": r.rechecked,
                **r.values,
                **{
                    f"sim {dest} {month}": round(float(v), 4)
                    for (dest, month, _), v in zip(spec.flow_targets(), r.flows, strict=True)
                },
            }
            for r in results
        ]
    ).sort_values(["distance", "set"])
    write_file(out / "fit.csv", csv_bytes(fit))
    write_file(out / "all_sets.csv", csv_bytes(sets))
    write_file(target, cal.posterior_yaml(spec, best, provenance).encode())
    again = (
        f", the closest {spec.method.recheck} rerun {spec.method.recheck_runs} times"
        if spec.method.recheck
        else ""
    )
    typer.echo(
        f"{len(results)} sets x {spec.method.runs} runs{again}; accepted {len(best)} "
        f"(distance {best[0].distance:.3f} to {best[-1].distance:.3f})"
    )
    for row in fit.itertuples():
        typer.echo(
            f"  {row.target:<38} observed {row.observed:>5.2f}  simulated {row.simulated_q50:>5.2f}"
            f" ({row.simulated_q10:.2f}-{row.simulated_q90:.2f})"
        )
    typer.echo(f"Wrote {target}, {out / 'fit.csv'}, {out / 'all_sets.csv'}")


def _check_ours(path: Path, force: bool) -> None:
    if force or not path.exists():
        return
    try:
        head = path.read_text(encoding="utf-8")[:400]
    except (OSError, UnicodeDecodeError):
        head = ""
    if "timeline calibrate" not in head:
        raise TimelineError(
            path,
            "",
            "exists and was not written by timeline calibrate",
            "choose another --posterior, or pass --force to replace it",
        )
