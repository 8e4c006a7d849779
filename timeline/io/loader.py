"""Build a validated `Scenario` from its files, or raise one `TimelineError` naming the defect.

`scenario.yaml` names the other files, relative to itself: the event catalog, one file per
branch, the firm table (CSV) and the working-day calendar. Every cross-reference is checked
here, so the engine can trust what it gets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
from pathlib import Path

from pydantic import Field, ValidationError

from timeline.errors import TimelineError, dotted, explain
from timeline.io import guard
from timeline.io.firmsio import MAX_BYTES as FIRMS_MAX_BYTES
from timeline.io.firmsio import read_firms
from timeline.io.slips import check_slips
from timeline.io.uncertainyaml import (
    branch_distributions,
    catalog_distributions,
    check_support,
    scenario_distributions,
)
from timeline.io.yamlio import MAX_BYTES, MAX_INPUT_ENV, YamlDoc, read_yaml
from timeline.model.bounds import MAX_DAYS
from timeline.model.checks import ScenarioError
from timeline.model.scenario import (
    KEY_EVENTS,
    Branch,
    Event,
    Firm,
    Scenario,
    ScenarioSettings,
    Text,
    WorkingCalendar,
    _Strict,
)

_SOURCE_TREE_SCENARIO = Path(__file__).resolve().parents[2] / "events" / "scenario.yaml"


def default_scenario_path() -> Path:
    """The built-in scenario: `events/` of the repository when run from a source tree, else the
    copy shipped inside the package (`timeline/scenario_data/`, added to the wheel)."""
    if _SOURCE_TREE_SCENARIO.is_file():
        return _SOURCE_TREE_SCENARIO
    shipped = importlib.resources.files("timeline") / "scenario_data" / "scenario.yaml"
    return Path(str(shipped))


RESERVED_BRANCH_IDS = ("all",)  # `--branch all` runs every branch
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2199, 12, 31)  # dates the tables can hold
MAX_TOTAL_OUTPUT_USD = 2**62  # lost output summed over firms and days must fit an int64


class ScenarioFile(ScenarioSettings):
    """The top-level file: the scenario's settings and the names of its other files."""

    posterior: Text | None = None  # written by `timeline calibrate`; used when present

    catalog: Text
    branches: tuple[Text, ...] = Field(min_length=1)
    firms: Text
    calendar: Text


class CatalogFile(_Strict):
    events: tuple[Event, ...]


def scenario_path(path: str | Path | None) -> Path:
    """A scenario file from a user's path: a file, or a folder holding scenario.yaml."""
    if path is None:
        return default_scenario_path()
    path = Path(path)
    return path / "scenario.yaml" if guard.kind(path) == "folder" else path


def _referenced(base: Path, name: str, parent: Path, field: str) -> Path:
    path = guard.absolute(base.parent / name)
    if guard.kind(path) == "missing":
        raise TimelineError(
            parent,
            field,
            f"{field} file {path} does not exist",
            f"create it or correct the path (relative to {parent.name})",
        )
    return path


def load_scenario(path: str | Path | None = None, firms: str | Path | None = None) -> Scenario:
    """Load, validate and cross-check a scenario; `firms` replaces its firm table.

    `path` is a scenario file or a folder holding `scenario.yaml` (default: the built-in one).
    """
    firms = Path(firms) if firms is not None else None
    top_path = scenario_path(path)
    top = read_yaml(top_path)
    drawn = scenario_distributions(top)
    spec: ScenarioFile = top.validate(ScenarioFile)
    if spec.end <= spec.start:
        raise top.error(
            ("end",),
            f"end {spec.end} is not after start {spec.start}",
            "make end a later date than start",
        )
    for field, day in (("start", spec.start), ("end", spec.end)):
        if not EARLIEST <= day <= LATEST:
            raise top.error(
                (field,), f"{field} {day} is outside {EARLIEST}..{LATEST}", "use a nearer date"
            )
    if (spec.end - spec.start).days + 1 > MAX_DAYS:
        raise top.error(
            ("end",),
            f"the horizon {spec.start}..{spec.end} is over {MAX_DAYS} days (about ten years)",
            "bring end closer to start",
        )
    if not spec.start <= spec.branch_point <= spec.end:
        raise top.error(
            ("branch_point",),
            f"branch point {spec.branch_point} is outside {spec.start}..{spec.end}",
            "put it between start and end",
        )

    catalog_path = _referenced(top_path, spec.catalog, top_path, "catalog")
    catalog_doc = read_yaml(catalog_path)
    drawn += catalog_distributions(catalog_doc)
    catalog: CatalogFile = catalog_doc.validate(CatalogFile)
    _check_unique(catalog_doc, catalog.events)
    missing = [key for key in KEY_EVENTS if key not in {e.id for e in catalog.events}]
    if missing:
        raise TimelineError(
            catalog_path,
            "events",
            f"key event(s) {', '.join(missing)} missing",
            "keep these four ids in the catalog: " + ", ".join(KEY_EVENTS),
        )

    branch_docs = []
    for index, name in enumerate(spec.branches):
        doc = read_yaml(_referenced(top_path, name, top_path, f"branches[{index}]"))
        drawn += branch_distributions(doc)
        branch_docs.append((doc, doc.validate(Branch)))
    seen: dict[str, Path] = {}
    for doc, branch in branch_docs:
        if branch.id in seen:
            raise doc.error(
                ("id",),
                f"branch id {branch.id!r} also used by {seen[branch.id]}",
                "give each branch its own id",
            )
        seen[branch.id] = doc.path
        if branch.id in RESERVED_BRANCH_IDS:
            raise doc.error(
                ("id",),
                f"branch id {branch.id!r} is reserved (--branch all runs every branch)",
                "give the branch another id",
            )
        _check_unique(doc, branch.add, "add")
        for key in KEY_EVENTS:
            if key in branch.cancel:
                raise doc.error(
                    ("cancel",),
                    f"branch cancels key event {key!r}",
                    "override its outcome and effects instead of cancelling it",
                )

    calendar_path = _referenced(top_path, spec.calendar, top_path, "calendar")
    calendar = read_yaml(calendar_path).validate(WorkingCalendar)
    firms_path = (
        guard.absolute(firms) if firms else _referenced(top_path, spec.firms, top_path, "firms")
    )
    firm_table = read_firms(firms_path)
    _check_total_output(firms_path, firm_table, (spec.end - spec.start).days + 1)

    limit = guard.setting(MAX_INPUT_ENV, max(MAX_BYTES, FIRMS_MAX_BYTES))
    hashes = {
        _relative(p, top_path.parent): hashlib.sha256(guard.read_bytes(p, limit)).hexdigest()
        for p in [top_path, catalog_path, calendar_path, firms_path]
        + [d.path for d, _ in branch_docs]
    }
    posterior = _posterior(top_path, spec.posterior) if spec.posterior else ()
    parts = {
        "catalog": catalog_path,
        "firms": firms_path,
        **{f"branch:{b.id}": d.path for d, b in branch_docs},
    }
    try:
        scenario = Scenario(
            **{name: getattr(spec, name) for name in ScenarioSettings.model_fields},
            events=catalog.events,
            branches=tuple(branch for _, branch in branch_docs),
            firms=firm_table,
            calendar=calendar,
            file_hashes=hashes,
            posterior=posterior,
            drawn=tuple((path, dist) for path, dist, _, _ in drawn),
        )
    except ScenarioError as err:
        raise TimelineError(
            parts.get(err.part, top_path), err.where, err.problem, err.fix
        ) from None
    except ValidationError as err:
        loc, problem, fix = explain(err.errors()[0])
        raise TimelineError(top_path, dotted(loc), problem, fix) from None
    check_slips(scenario, drawn)
    check_support(scenario, drawn)
    return scenario


def _posterior(top_path: Path, name: str) -> tuple[dict[str, float], ...]:
    """The accepted parameter sets of a calibration, as scenario overrides (none if the file
    does not exist yet: run `timeline calibrate`)."""
    path = top_path.parent / name
    if not path.exists():
        return ()
    doc = read_yaml(path)
    accepted = doc.data.get("accepted")
    if doc.data.get("tool") != "timeline" or not isinstance(accepted, list) or not accepted:
        raise doc.error(
            ("accepted",),
            "not a posterior written by timeline calibrate",
            "run timeline calibrate again, or remove posterior: from scenario.yaml",
        )
    out = []
    for index, item in enumerate(accepted):
        overrides = item.get("overrides") if isinstance(item, dict) else None
        if not isinstance(overrides, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in overrides.values()
        ):
            raise doc.error(
                ("accepted", index, "overrides"),
                "overrides must map scenario paths to numbers",
                "run timeline calibrate again",
            )
        out.append({str(k): float(v) for k, v in overrides.items()})
    return tuple(out)


def _relative(path: Path, base: Path) -> str:
    """A file's name relative to the scenario folder (its bare name when elsewhere)."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name


def _check_unique(doc: YamlDoc, events: tuple[Event, ...], field: str = "events") -> None:
    seen: dict[str, int] = {}
    for index, event in enumerate(events):
        if event.id in seen:
            raise doc.error(
                (field, index, "id"),
                f"duplicate event id {event.id!r}",
                f"rename it; {field}[{seen[event.id]}] already uses it",
            )
        seen[event.id] = index


def _check_total_output(path: Path, firms: tuple[Firm, ...], days: int) -> None:
    """Lost output, summed over every firm and day of the horizon, must stay countable."""
    total = sum(round(firm.daily_output_usd) for firm in firms) * days
    if total >= MAX_TOTAL_OUTPUT_USD:
        raise TimelineError(
            path,
            "column daily_output_usd",
            f"the firms' output adds up to ${total / days:,.0f} a day, too much to count over "
            f"{days} days",
            "give daily_output_usd in US dollars a day (the table's total must stay under "
            f"${MAX_TOTAL_OUTPUT_USD // days:,} a day)",
        )
