"""Distributions written in place of a scenario number, in the YAML files.

A parameter's `value` in `scenario.yaml`, any number in an event's `effects` and an event's
`slip_days` (catalog and branch files: added events and overrides) may be a distribution in
the YAML notation of `timeline.model.uncertain`, e.g. `review_working_days: {dist: triangular,
low: 30, mode: 45, high: 60}`, or the cell notation as text, `triangular(30 45 60)`. Each is
replaced by its median in the data that is validated (so the scenario as loaded is a plain one), and
recorded as (path, distribution), the path in `Scenario.with_overrides` notation; every run then
draws its own value (see `timeline.engine.params.scenario_for`).
"""

from __future__ import annotations

import math
from typing import Any

from timeline.errors import TimelineError
from timeline.io.yamlio import YamlDoc
from timeline.model.scenario import Scenario
from timeline.model.uncertain import (
    Distribution,
    looks_like_distribution,
    parse_cell,
    parse_mapping,
)

Found = list[tuple[str, Distribution, YamlDoc, tuple]]  # path, distribution, file, place


def _key(item: Any, index: int) -> str:
    return str(item["id"]) if isinstance(item, dict) and "id" in item else str(index)


def _walk(doc: YamlDoc, node: Any, path: str, loc: tuple, found: Found) -> None:
    """Replace every {dist: ...} mapping under `node` by its median, recording it."""
    items = node.items() if isinstance(node, dict) else enumerate(node or ())
    for key, value in list(items):
        if isinstance(node, dict):
            here, where = f"{path}.{key}", (*loc, key)
        else:
            here, where = f"{path}[{_key(value, key)}]", (*loc, key)
        if (isinstance(value, dict) and "dist" in value) or (
            isinstance(value, str) and looks_like_distribution(value)
        ):
            try:
                dist = parse_mapping(value) if isinstance(value, dict) else parse_cell(value)
            except ValueError as err:
                raise doc.error(where, str(err).split("; ")[0], _fix(err)) from None
            node[key] = float(dist.ppf(0.5))
            found.append((here, dist, doc, where))
        elif isinstance(value, dict | list):
            _walk(doc, value, here, where, found)


def _fix(err: ValueError) -> str:
    parts = str(err).split("; ", 1)
    return parts[1] if len(parts) > 1 else "see the README, 'Uncertain inputs'"


def scenario_distributions(doc: YamlDoc) -> Found:
    """scenario.yaml: distributions given as a parameter's value."""
    found: Found = []
    parameters = doc.data.get("parameters") if isinstance(doc.data, dict) else None
    if isinstance(parameters, dict):
        for name, parameter in parameters.items():
            if isinstance(parameter, dict) and "value" in parameter:
                only = {"value": parameter.get("value")}
                _walk(doc, only, f"parameters.{name}", ("parameters", name), found)
                parameter["value"] = only["value"]
    return found


def _slip(doc: YamlDoc, event: dict, path: str, loc: tuple, found: Found) -> None:
    """An event's (or an override's) `slip_days` given as a distribution: recorded and replaced
    by its median, like an effect's number; its range must be bounded and never negative."""
    if "slip_days" not in event:
        return
    only = {"slip_days": event["slip_days"]}
    before = len(found)
    _walk(doc, only, path, loc, found)
    event["slip_days"] = only["slip_days"]
    for _, dist, _, where in found[before:]:
        low, high = dist.support
        if low < 0:
            raise doc.error(
                where,
                f"{dist.describe()} can reach {low:g}, an event that comes earlier",
                "give slips >= 0: date the event at its earliest and let it slip later",
            )
        if not math.isfinite(high):
            raise doc.error(
                where,
                f"{dist.describe()} has no upper limit, so the event could leave the horizon",
                "use triangular(low mode high), uniform(low high) or choice(...) for a slip",
            )


def _events(doc: YamlDoc, events: Any, path: str, loc: tuple, found: Found) -> None:
    if not isinstance(events, list):
        return
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        if isinstance(event.get("effects"), dict):
            where = f"{path}[{_key(event, index)}].effects"
            _walk(doc, event["effects"], where, (*loc, index, "effects"), found)
        _slip(doc, event, f"{path}[{_key(event, index)}]", (*loc, index), found)


def catalog_distributions(doc: YamlDoc) -> Found:
    """catalog.yaml: distributions in events' effects and slips."""
    found: Found = []
    if isinstance(doc.data, dict):
        _events(doc, doc.data.get("events"), "events", ("events",), found)
    return found


def branch_distributions(doc: YamlDoc) -> Found:
    """A branch file: distributions in added events' and overrides' effects and slips."""
    found: Found = []
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return found
    prefix = f"branches[{data['id']}]"
    _events(doc, data.get("add"), f"{prefix}.add", ("add",), found)
    override = data.get("override")
    if isinstance(override, dict):
        for event_id, change in override.items():
            if not isinstance(change, dict):
                continue
            if isinstance(change.get("effects"), dict):
                where = f"{prefix}.override.{event_id}.effects"
                _walk(doc, change["effects"], where, ("override", event_id, "effects"), found)
            _slip(doc, change, f"{prefix}.override.{event_id}", ("override", event_id), found)
    return found


def check_support(scenario: Scenario, found: Found) -> None:
    """Every distribution's whole range must be a valid value where it stands: the scenario is
    checked with each one at its lowest and highest value (the 99.99th percentile when it has
    no upper limit), the others at their medians."""
    for path, dist, doc, where in found:
        low, high = dist.support
        if not math.isfinite(high):
            high = dist.ppf(0.9999)
        for x in (low, high):
            try:
                scenario.with_overrides({path: float(x)})
            except TimelineError as err:
                problem = err.problem[:1].lower() + err.problem[1:]
                raise doc.error(
                    where,
                    f"{dist.describe()} can reach {x:g}, where {problem}",
                    "narrow the distribution to values the field accepts",
                ) from None
