"""The core a notebook or the CLI calls: run branches, build the tables, write the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from timeline.engine.world import RunResult, simulate
from timeline.ensemble.aggregate import Ensemble
from timeline.ensemble.runner import Progress, run_ensemble
from timeline.errors import TimelineError
from timeline.io.output import csv_bytes, run_json, write_output_set
from timeline.model.scenario import KEY_EVENTS, Scenario
from timeline.model.schedule import ALL, branch_ids  # noqa: F401  (re-exported)
from timeline.results import tables


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


def run_branch(
    scenario: Scenario,
    branch: str,
    seed: int = 0,
    until: dt.date | str | None = None,
    replicate: int = 0,
    start: tuple | None = None,
) -> BranchRun:
    """Run one replicate of one branch and build its tables. `start`: (date, FirmStarts)."""
    result = simulate(
        scenario,
        branch,
        seed,
        until,
        replicate,
        start_from=start[0] if start else None,
        starts=start[1] if start else None,
    )
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


@dataclass
class Simulation:
    """What `simulate` made: per branch the replayed run's tables, and the ensemble (runs > 1)."""

    scenario: Scenario
    branches: list[str]
    seed: int
    runs: int
    replay: int
    replays: dict[str, BranchRun]
    ensemble: Ensemble | None
    group: str | None = None
    compare: bool = False  # write compare.csv (asked for every branch)

    def branch_files(self, branch: str) -> dict[str, bytes]:
        files = self.replays[branch].files()
        if self.ensemble is not None:
            e = self.ensemble
            files["bands.csv"] = csv_bytes(e.bands(branch))
            files["stopped_share.csv"] = csv_bytes(e.stopped_share(branch))
            files["firm_risk.csv"] = csv_bytes(e.firm_risk(branch))
            files["runs.csv"] = csv_bytes(e.runs_frame(branch))
            files["flows_bands.csv"] = csv_bytes(e.flows(branch))
        return files

    def top_files(self) -> dict[str, bytes]:
        if len(self.branches) < 2 and not self.compare:
            return {}
        if self.ensemble is None:
            return {"compare.csv": csv_bytes(compare_frame(list(self.replays.values())))}
        if len(self.branches) < 2:
            return {"compare.csv": csv_bytes(self.ensemble.compare())}
        return {
            "compare.csv": csv_bytes(self.ensemble.compare()),
            "paired.csv": csv_bytes(self.ensemble.paired()),
        }


def simulate_branches(
    scenario: Scenario,
    branches: list[str] | str,
    runs: int = 1,
    seed: int = 0,
    jobs: int | None = None,
    scheduler: str | None = None,
    replay: int = 0,
    until: dt.date | str | None = None,
    progress: Progress | None = None,
    group: str | None = None,
    start: tuple | None = None,
) -> Simulation:
    """Run `runs` paired replicates of each branch (`all` for every branch) and replay run
    `replay` of each in full (events, timeline, firms, stoppages, flows)."""
    ids = branch_ids(scenario, branches) if isinstance(branches, str) else list(branches)
    if not 0 <= replay < max(runs, 1):
        raise TimelineError(
            "--replay", "", f"run {replay} is not among runs 0..{runs - 1}", "pick a run in range"
        )
    ensemble = None
    if runs > 1:
        ensemble = run_ensemble(
            scenario, ids, runs, seed, jobs, scheduler, progress, group=group, start=start
        )
    replays = {b: run_branch(scenario, b, seed, until, replicate=replay, start=start) for b in ids}
    everything = isinstance(branches, str) and branches == ALL
    return Simulation(scenario, ids, seed, runs, replay, replays, ensemble, group, everything)


def save_state(scenario: Scenario, branch: str, seed: int, replicate: int, day: dt.date) -> bytes:
    """The state file of one run on `day` (each plant's stocks, licences, output rate)."""
    from timeline.engine.params import scenario_for
    from timeline.engine.start import starts_of
    from timeline.engine.streams import Streams
    from timeline.engine.world import World
    from timeline.io.statefile import state_csv

    variant = scenario_for(scenario, seed, replicate)
    days = (variant.end - variant.start).days + 1
    world = World(variant, branch, Streams(seed, replicate), days, record=False)
    world.start()
    world.run_day((day - variant.start).days)
    return state_csv(starts_of(world), scenario)


def run_meta(sim: Simulation, branch: str, command: str, created_at: str) -> dict[str, object]:
    """The provenance of one branch folder (run.json)."""
    scenario = sim.scenario
    b = scenario.branch(branch)
    replay = sim.replays[branch]
    params = scenario.parameters
    parameters = [
        {"name": name, "value": p.value, "source": p.source or f"assumption: {p.assumption}"}
        for name, p in (
            ("restock_rate", params.restock_rate),
            ("at_risk_days", params.at_risk_days),
            ("restart_threshold_days", params.restart_threshold_days),
            ("makeup_rate", params.makeup_rate),
            ("air_freight_share", params.air_freight_share),
            ("air_freight_days", params.air_freight_days),
            ("export_pipeline_days", params.export_pipeline_days),
            ("licence_valid_days", params.licence_valid_days),
            ("licence_valid_spread", params.licence_valid_spread),
            ("renew_ahead_working_days", params.renew_ahead_working_days),
        )
    ]
    parameters += [
        {
            "name": f"{path} (drawn per run)",
            "value": dist.describe(),
            "source": "the scenario files give a distribution (see docs/uncertain.md)",
        }
        for path, dist in scenario.drawn
    ]
    if scenario.posterior:
        for path in sorted(scenario.posterior[0]):
            values = sorted(s[path] for s in scenario.posterior)
            parameters.append(
                {
                    "name": f"{path} (calibrated)",
                    "value": f"posterior: {len(values)} sets, {values[0]:g} to {values[-1]:g}",
                    "source": "timeline calibrate (events/posterior.yaml): run i takes set i mod "
                    f"{len(values)}",
                }
            )
    parameters += [
        {
            "name": f"value_added_share[{sector}]",
            "value": p.value,
            "source": p.source or f"assumption: {p.assumption}",
        }
        for sector, p in params.value_added_share.items()
    ]
    for name, spread in scenario.uncertainty.items():
        parameters.append(
            {
                "name": f"{name} (factor per firm and run)",
                "value": spread.factor.describe(),
                "source": spread.source or f"assumption: {spread.assumption}",
            }
        )
    key_dates = [
        {
            "date": item.date.isoformat(),
            "event_id": item.event.id,
            "title": item.event.title,
            "outcome": " ".join(item.event.outcome.split()),
        }
        for item in replay.result.schedule
        if item.event.id in KEY_EVENTS
    ]
    return {
        "branch": branch,
        "branch_title": b.title,
        "branch_summary": " ".join(b.summary.split()),
        "scenario_id": scenario.id,
        "scenario_title": scenario.title,
        "scenario_fingerprint": scenario.fingerprint,
        "scenario_files": scenario.file_hashes,
        "seed": sim.seed,
        "runs": sim.runs,
        "replay": sim.replay,
        "version": package_version(),
        "command": command,
        "created_at": created_at,
        "start": scenario.start.isoformat(),
        "end": scenario.end.isoformat(),
        "branch_point": scenario.branch_point.isoformat(),
        "key_dates": key_dates,
        "parameters": parameters,
        "software": software_versions(),
        "status": "complete",
        "summary": _jsonable(replay.summary),
    }


def software_versions() -> dict[str, str]:
    import platform

    out = {"python": platform.python_version(), "timeline": package_version()}
    for name in ("simpy", "numpy", "pandas", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out


def _jsonable(summary: dict[str, object]) -> dict[str, object]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in summary.items()}


def simulation_files(
    sim: Simulation,
    command: str,
    created_at: str,
    extra: dict[str, dict[str, bytes]] | None = None,
) -> tuple[dict[str, dict[str, bytes]], dict[str, bytes]]:
    """Every file of a simulation: branch folder -> {name -> bytes}, and the top-level files."""
    folders = {}
    for branch in sim.branches:
        files = {**sim.branch_files(branch), **(extra or {}).get(branch, {})}
        meta = run_meta(sim, branch, command, created_at)
        meta["files"] = sorted([*files, "run.json"])
        files["run.json"] = run_json(meta)
        folders[branch] = files
    return folders, sim.top_files()


def write_simulation(
    sim: Simulation,
    out: Path,
    command: str,
    created_at: str,
    force: bool = False,
    extra: dict[str, dict[str, bytes]] | None = None,
    report: bool = False,
    charts: bool = True,
    jobs: int | None = None,
    formats: frozenset[str] = frozenset(),
) -> list[Path]:
    """Write a simulation's files under `out` (plus `extra` files per branch folder).

    `formats`: besides the CSV files, "xlsx" writes `report.xlsx` (a sheet per table) and
    "parquet" writes `parquet/` (every table), as `timeline report --excel --parquet`.

    `report`: also `report.html` and, with `charts`, `charts/` (as `timeline report`, but of
    this simulation's branches only), drawn before anything is written and written right
    after the output set; `jobs` processes draw the charts (default: the cores not already
    busy)."""
    folders, top = simulation_files(sim, command, created_at, extra)
    pages: dict[str, bytes] = {}
    exports: dict[str, bytes] = {}
    if report or formats - {"csv"}:
        from timeline.reports.files import from_files

        outputs = from_files(Path(out), folders, top)
    if report:
        from timeline.reports.build import check_report_target, report_of
        from timeline.reports.common import free_cores

        pages = report_of(outputs, sim.group, charts=charts, jobs=jobs or free_cores())
        check_report_target(Path(out), force, skip="--no-report")
    if formats - {"csv"}:
        from timeline.reports.export import parquet_files, xlsx_for  # openpyxl, pyarrow

        if "xlsx" in formats:
            exports["report.xlsx"] = xlsx_for(outputs)
        if "parquet" in formats:
            exports.update(parquet_files(outputs))
    written = write_output_set(Path(out), folders, top, force)
    if pages or exports:
        from timeline.reports.build import write_files

        if pages:
            written += write_files(Path(out), pages)
        if exports:
            written += write_files(Path(out), exports, prune=False)
    return written


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
            "replicate": run.result.replicate,
            "scenario_id": run.scenario.id,
            "scenario_fingerprint": run.scenario.fingerprint,
            "scenario_files": run.scenario.file_hashes,
            "version": package_version(),
            "status": "complete",
            "summary": run.summary,
            "files": sorted([*files, "run.json"]),
        }
        folders[run.result.branch] = {**files, "run.json": run_json(info)}
    top = {"compare.csv": csv_bytes(compare_frame(runs))} if compare else {}
    return write_output_set(out, folders, top, force)
