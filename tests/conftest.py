"""Shared fixtures: the built-in scenario (loaded once) and a builder for tiny scenarios."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from timeline.io.loader import load_scenario
from timeline.model.scenario import Scenario

D = dt.date.fromisoformat


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return load_scenario()


def drawn_in_run_json(scenario: Scenario, out: Path, runs: int) -> dict[str, str]:
    """Simulate `decouple`, write its files under `out`, and return what its run.json lists
    as drawn per run (parameter name -> distribution)."""
    from timeline.run import simulate_branches, write_simulation

    sim = simulate_branches(scenario, "decouple", runs=runs, seed=0, jobs=1)
    write_simulation(sim, out, "test", "2026-01-01T00:00:00+00:00")
    meta = json.loads((out / "decouple" / "run.json").read_text())
    return {p["name"]: p["value"] for p in meta["parameters"] if "drawn" in p["name"]}


def approval(civil: float = 1.0, defence: float = 1.0) -> dict[str, dict[str, float]]:
    """The same approval probabilities for every destination."""
    return {
        d: {"civil": civil, "defence": defence} for d in ("US", "EU", "JP", "KR", "IN", "other")
    }


def firm(id: str, **fields: Any) -> dict[str, Any]:
    """A firm record with harmless defaults: no Chinese exposure, 30 days of cover."""
    base: dict[str, Any] = {
        "id": id,
        "name": id,
        "sector": "automotive-test",
        "country": "US",
        "elements": [],
        "china_share": 0.0,
        "china_content_share": 0.0,
        "inventory_days": 30.0,
        "daily_output_usd": 1_000_000.0,
        "end_use": "civil",
        "suppliers": [],
        "lead_time_days": 10,
        "ramp_days": 3,
        "source": "test",
    }
    base.update(fields)
    return base


def event(id: str, date: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": id,
        "date": date,
        "title": id,
        "actor": "CN",
        "kind": "export-control",
        "source": "test",
    }
    base.update(fields)
    return base


def key_events() -> list[dict[str, Any]]:
    return [
        event("kl-talks", "2025-10-25", kind="talks"),
        event("busan-summit", "2025-10-30", kind="summit"),
        event("tariff-deadline-nov1", "2025-11-01", kind="deadline"),
        event("rare-earth-rules-dec1", "2025-12-01"),
    ]


def make_scenario(
    firms: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
    branches: list[dict[str, Any]] | None = None,
    start: str = "2025-04-01",
    end: str = "2026-06-30",
    **policy: Any,
) -> Scenario:
    """A small scenario in code. `events` default to the four key events only."""
    initial = {
        "us_tariff_on_cn_pct": 20,
        "cn_tariff_on_us_pct": 0,
        "licensed_elements": [],
        "review_working_days": 45,
        "approval": approval(),
    }
    initial.update(policy)
    return Scenario.model_validate(
        {
            "id": "test",
            "title": "test scenario",
            "source": "test",
            "start": start,
            "end": end,
            "branch_point": "2025-10-30",
            "initial_policy": initial,
            "initial_policy_source": "test",
            "parameters": {
                "restock_rate": {"value": 0.5, "assumption": "test"},
                "at_risk_days": {"value": 14, "assumption": "test"},
            },
            "events": key_events() if events is None else events,
            "branches": branches
            or [{"id": "base", "title": "base", "summary": "no change", "source": "test"}],
            "firms": firms,
            "calendar": {"name": "weekends only", "source": "test", "holidays": []},
        }
    )


# --- helpers for the engine tests (test_engine, test_mechanisms, test_state, test_properties) ---

START = D("2025-04-01")  # make_scenario's default start (day 0)


def day_of(date: str) -> int:
    """The day number of an ISO date in a scenario that starts on make_scenario's default."""
    return (D(date) - START).days


def working_days_after(start: dt.date, n: int, holidays: frozenset[dt.date] = frozenset()):
    """The date on which `n` working days (Mon-Fri, less `holidays`) after `start` have passed,
    counted by a plain day loop (the day of `start` itself does not count)."""
    day = start
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            n -= 1
    return day


def whole_days(x: float) -> int:
    """The first whole number of days >= x (a plant notices an empty stock on a whole day)."""
    return math.ceil(x - 1e-9)


def working_days_before(end: dt.date, n: int, holidays: frozenset[dt.date] = frozenset()):
    """The working day from which `n` working days (Mon-Fri, less `holidays`) run to `end`,
    counted by a plain day loop backwards."""
    day = end
    while n > 0:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            n -= 1
    return day


def with_parameters(scenario: Scenario, **values: float) -> Scenario:
    """`scenario` with some of its Parameters (restart_threshold_days, air_freight_share, ...)
    set to plain numbers."""
    return scenario.with_overrides(
        {f"parameters.{name}": {"value": v, "assumption": "test"} for name, v in values.items()}
    )


def horizon(scenario: Scenario) -> int:
    """The number of days a full run covers (start to end inclusive)."""
    return (scenario.end - scenario.start).days + 1


def run_world(scenario: Scenario, branch: str = "base", seed: int = 0, replicate: int = 0):
    """A started `World` of one branch, not yet run (call `.run(until=day)` on it), built as
    `simulate` builds it: on the replicate's variant of the scenario (its posterior set)."""
    from timeline.engine.streams import Streams
    from timeline.engine.world import World

    variant = scenario.variant(replicate)
    world = World(variant, branch, Streams(seed, replicate), horizon(scenario))
    world.start()
    return world


def daily_rates(result) -> list[list[float]]:
    """Each firm's output rate on each day of a `RunResult`, by a plain loop over `rates`:
    a firm runs at 1 until its first change; of several changes on one day the last holds."""
    out = [[1.0] * result.days for _ in result.firm_ids]
    for day, firm_index, rate, _cause in result.rates:  # in time order
        row = out[firm_index]
        for d in range(day, result.days):
            row[d] = rate
    return out


def firm_rates(result, firm_id: str) -> list[tuple[int, float, str]]:
    """One firm's rate changes as (day, rate rounded to 1e-9, cause): the cause is 're' (rare
    earths) or a supplier's id below full rate, '' at full rate (where it means nothing)."""
    ids = result.firm_ids
    index = ids.index(firm_id)
    return [
        (day, round(rate, 9), "" if rate >= 1 - 1e-9 else "re" if cause < 0 else ids[cause])
        for day, f, rate, cause in result.rates
        if f == index
    ]


def firm_records(result, firm_id: str, *kinds) -> list:
    """One firm's trace records, optionally only of the given `Kind`s."""
    index = result.firm_ids.index(firm_id)
    return [r for r in result.records if r.firm == index and (not kinds or r.kind in kinds)]
