"""Shared fixtures: the built-in scenario (loaded once) and a builder for tiny scenarios."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from timeline.io.loader import load_scenario
from timeline.model.scenario import Scenario

D = dt.date.fromisoformat


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return load_scenario()


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
