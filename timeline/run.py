"""The core a notebook or the CLI calls: run branches, build the tables, write the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from timeline.engine.world import RunResult, simulate
from timeline.errors import TimelineError
from timeline.io.output import csv_bytes, run_json, write_output_set
from timeline.model.scenario import Scenario
from timeline.results import tables

ALL = "all"


@dataclass
class BranchRun:
    """One branch's result and its tables."""

    result: RunResult
    events: pd.DataFrame
    timeline: pd.DataFrame
    firms: pd.DataFrame
    stoppages: pd.DataFrame

    @property
    def summary(self) -> dict[str, object]:
        return tables.summary(self.result, self.timeline)

    def files(self) -> dict[str, bytes]:
        return {
            "events.csv": csv_bytes(self.events),
            "timeline.csv": csv_bytes(self.timeline),
            "firms.csv": csv_bytes(self.firms),
            "stoppages.csv": csv_bytes(self.stoppages),
        }


def package_version() -> str:
    try:
        return version("timeline")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def branch_ids(scenario: Scenario, branch: str) -> list[str]:
    """`all` -> every branch; a known id -> itself; otherwise a one-line error."""
    if branch == ALL:
        return list(scenario.branch_ids)
    if branch not in scenario.branch_ids:
        raise TimelineError(
            "--branch",
            "",
            f"unknown branch {branch!r}",
            f"use one of: {', '.join(scenario.branch_ids)}, or all",
        )
    return [branch]


def run_branch(
    scenario: Scenario, branch: str, seed: int = 0, until: dt.date | None = None
) -> BranchRun:
    result = simulate(scenario, branch, seed, until)
    return BranchRun(
        result,
        tables.events_frame(result),
        tables.timeline_frame(result),
        tables.firms_frame(result),
        tables.stoppages_frame(result),
    )


def compare_frame(runs: list[BranchRun]) -> pd.DataFrame:
    return pd.DataFrame([run.summary for run in runs], columns=tables.COMPARE_COLUMNS)


def write_runs(
    runs: list[BranchRun],
    out: Path,
    meta: dict[str, object],
    force: bool = False,
    compare: bool = False,
) -> list[Path]:
    """Write each branch into `out/<branch>/` (and `out/compare.csv`) as one output set (see
    `timeline.io.output.write_output_set`); return what was written."""
    folders: dict[str, dict[str, bytes]] = {}
    for run in runs:
        files = run.files()
        info = {
            **meta,
            "branch": run.result.branch,
            "seed": run.result.seed,
            "scenario_id": run.result.scenario.id,
            "scenario_files": run.result.scenario.file_hashes,
            "version": package_version(),
            "status": "complete",
            "summary": run.summary,
            "files": sorted([*files, "run.json"]),
        }
        folders[run.result.branch] = {**files, "run.json": run_json(info)}
    top = {"compare.csv": csv_bytes(compare_frame(runs))} if compare else {}
    return write_output_set(out, folders, top, force)
