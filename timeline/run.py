"""The core a notebook or the CLI calls: run branches, build the tables, write the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from timeline.engine.world import RunResult, simulate
from timeline.errors import TimelineError
from timeline.io.output import check_target, csv_bytes, run_json, write_file, write_folder
from timeline.model.scenario import Scenario
from timeline.results import tables

ALL = "all"


@dataclass
class BranchRun:
    """One run of one branch and its tables (typed DataFrames)."""

    result: RunResult
    scenario: Scenario
    events: pd.DataFrame
    timeline: pd.DataFrame
    firms: pd.DataFrame
    stoppages: pd.DataFrame
    flows: pd.DataFrame

    @property
    def summary(self) -> dict[str, object]:
        return tables.summary(self.result, self.scenario, self.timeline)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "events": self.events,
            "timeline": self.timeline,
            "firms": self.firms,
            "stoppages": self.stoppages,
            "flows": self.flows,
        }

    def files(self) -> dict[str, bytes]:
        return {f"{name}.csv": csv_bytes(frame) for name, frame in self.tables().items()}


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
    scenario: Scenario,
    branch: str,
    seed: int = 0,
    until: dt.date | str | None = None,
    replicate: int = 0,
) -> BranchRun:
    """Run one replicate of one branch and build its tables."""
    result = simulate(scenario, branch, seed, until, replicate)
    return tables_of(result, scenario)


def tables_of(result: RunResult, scenario: Scenario) -> BranchRun:
    return BranchRun(
        result,
        scenario,
        tables.events_frame(result, scenario),
        tables.timeline_frame(result, scenario),
        tables.firms_frame(result, scenario),
        tables.stoppages_frame(result, scenario),
        tables.flows_frame(result, scenario),
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
    """Write each branch into `out/<branch>/` (and `out/compare.csv`); return what was written."""
    folders = [out / run.result.branch for run in runs]
    for folder in folders:  # refuse before writing anything
        check_target(folder, force)
    compare_path = out / "compare.csv"
    if compare:
        _check_compare(compare_path, force)
    for run, folder in zip(runs, folders, strict=True):
        info = {
            **meta,
            "branch": run.result.branch,
            "seed": run.result.seed,
            "replicate": run.result.replicate,
            "scenario_id": run.scenario.id,
            "scenario_fingerprint": run.scenario.fingerprint,
            "scenario_files": run.scenario.file_hashes,
            "version": package_version(),
            "status": "complete",
            "summary": run.summary,
        }
        write_folder(folder, {**run.files(), "run.json": run_json(info)}, force)
    written = list(folders)
    if compare:
        write_file(compare_path, csv_bytes(compare_frame(runs)))
        written.append(compare_path)
    return written


def _check_compare(path: Path, force: bool) -> None:
    if not path.exists() or force:
        return
    header = ",".join(tables.COMPARE_COLUMNS[:2])  # ours, whatever version wrote it
    try:
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError):
        first = ""
    if not first.startswith(header):
        raise TimelineError(
            path,
            "",
            "exists and was not written by timeline",
            "choose another --out, or pass --force to replace it",
        )
