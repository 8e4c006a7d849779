"""Saved state: a run split at any day by `World.snapshot()` / pickle / `World.restore()` goes on
exactly as a straight run, and results and scenarios survive a pickle round trip."""

from __future__ import annotations

import pickle

import pytest
from conftest import approval, event, firm, horizon, key_events, make_scenario, run_world

from timeline.engine.trace import Kind
from timeline.engine.world import World, simulate


def busy_scenario():
    """Everything that holds a timer across days: goods in transit, pending and re-dated
    reviews, re-reviews, restorations by air or sea, ramps, restocking, lifted controls, a
    general licence, magnet suppliers and parts, uncertain decisions and firm numbers."""
    events = [
        *key_events(),
        event(
            "control",
            "2025-05-01",
            effects={
                "licensed_elements": ["Dy", "Tb"],
                "review_working_days": 20,
                "review_spread": 2.0,
                "rereview_working_days": 8,
            },
        ),
        event("faster", "2025-05-14", effects={"review_working_days": 6}),
        event("rule", "2025-06-02", effects={"extraterritorial": True}),
        event(
            "gl",
            "2025-07-01",
            effects={"general_licences_add": [{"id": "gl-jp", "destinations": ["JP"]}]},
        ),
        event("rule-off", "2025-07-15", effects={"extraterritorial": False}),
        event("lift-tb", "2025-08-01", effects={"licensed_elements_remove": ["Tb"]}),
        event("gl-end", "2025-09-01", effects={"general_licences_remove": ["gl-jp"]}),
    ]
    firms = [
        firm(
            "magnets",
            sector="magnets-x",
            country="JP",
            elements=["Dy", "Tb"],
            china_share=0.7,
            china_content_share=0.3,
            inventory_days=12.0,
            lead_time_days=6,
        ),
        firm(
            "motor",
            elements=["Dy"],
            china_share=0.3,
            china_content_share=0.5,
            inventory_days=8.0,
            defence_share=0.2,
            suppliers=[{"firm": "magnets", "buffer_days": 15.0, "share": 0.5}],
        ),
        firm(
            "car",
            suppliers=[
                {"firm": "motor", "buffer_days": 4.0, "share": 0.8},
                {"firm": "magnets", "buffer_days": 2.0, "share": 0.2},
            ],
            ramp_days=5,
        ),
        firm("de-plant", country="DE", elements=["Tb"], china_share=1.0, inventory_days=3.0),
    ]
    scenario = make_scenario(
        firms,
        events=events,
        approval=approval(civil=0.6, defence=0.2),
    )
    return scenario.with_overrides(
        {
            "parameters.air_freight_share": {"value": 0.5, "assumption": "test"},
            "uncertainty": {
                "inventory_days": {
                    "factor": {"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 1.5},
                    "assumption": "test",
                },
                "lead_time_days": {
                    "factor": {"dist": "uniform", "low": 0.8, "high": 1.2},
                    "assumption": "test",
                },
            },
        }
    )


SCENARIO = busy_scenario()


def straight(scenario, branch="base", seed=0, replicate=0):
    world = run_world(scenario, branch, seed, replicate)
    world.run(until=horizon(scenario))
    return world.finish()


def split(scenario, day, branch="base", seed=0, replicate=0):
    """Run to `day`, snapshot, pickle, restore into a new world and run that to the end; the
    original world runs on too. Returns (restored result, original result)."""
    world = run_world(scenario, branch, seed, replicate)
    world.run(until=day)
    state = pickle.loads(pickle.dumps(world.snapshot()))
    world.run(until=horizon(scenario))  # must not disturb the saved state
    restored = World.restore(scenario.variant(replicate), state)  # the scenario it ran
    assert restored.now == day
    restored.run(until=horizon(scenario))
    return restored.finish(), world.finish()


def test_the_busy_scenario_exercises_what_it_claims():
    """The scenario used below has re-dated reviews, denials, approvals, restorations, a general
    licence, stops and restarts (else the split-run tests prove little)."""
    result = straight(SCENARIO, seed=5, replicate=1)
    kinds = {Kind(r.kind) for r in result.records}
    wanted = {
        Kind.REVIEW_MOVED,
        Kind.DENIED,
        Kind.APPROVED,
        Kind.REREVIEW,
        Kind.RESTORED,
        Kind.GENERAL_LICENCE,
        Kind.CONTROLS_LIFTED,
        Kind.STOPPED,
        Kind.RESTARTED,
        Kind.CURTAILED,
    }
    assert wanted <= kinds, wanted - kinds


@pytest.mark.parametrize(
    "day",
    [
        1,
        30,  # a policy day (the control)
        31,
        43,  # the day the faster review re-dates pending decisions
        44,
        61,  # the extraterritorial rule
        77,
        91,  # the general licence
        105,  # the extraterritorial rule lifted
        122,  # a control lifted
        200,
        455,  # the last day
    ],
)
def test_a_split_run_equals_a_straight_run(day):
    """Run to day d, snapshot, pickle round trip, restore, run on: the trace, rates, flows, risk
    intervals, first cuts and recoveries equal those of a straight run."""
    expected = straight(SCENARIO, seed=5, replicate=1)
    restored, original = split(SCENARIO, day, seed=5, replicate=1)
    for result in (restored, original):
        assert result.records == expected.records
        assert result.rates == expected.rates
        assert result.flows == expected.flows
        assert result.at_risk == expected.at_risk
        assert result.first_cut == expected.first_cut
        assert result.recovered == expected.recovered
        assert result.policy_changes == expected.policy_changes
        assert result == expected


def test_a_restored_world_can_be_restored_again_from_the_same_state():
    """One snapshot restored twice gives two identical runs: a restore takes nothing away from
    the state it starts from."""
    world = run_world(SCENARIO, seed=2)
    world.run(until=50)
    state = world.snapshot()
    results = []
    for _ in range(2):
        again = World.restore(SCENARIO, state)
        again.run(until=horizon(SCENARIO))
        results.append(again.finish())
    assert results[0] == results[1]
    assert results[0].records != state.result.records  # the runs did go on past day 50
    assert all(r.day < 50 or r.kind == Kind.POLICY for r in state.result.records)


@pytest.mark.parametrize("branch", ["history", "decouple"])
def test_a_split_run_of_the_default_scenario_equals_a_straight_run(default_scenario, branch):
    """The default scenario split at the branch point and at a day in 2026 runs on exactly as
    a straight run (replicate 1: firm numbers drawn)."""
    scenario = default_scenario
    expected = straight(scenario, branch, seed=0, replicate=1)
    point = (scenario.branch_point - scenario.start).days
    assert expected == simulate(scenario, branch, 0, replicate=1)
    for day in (point, point + 100):
        restored, _ = split(scenario, day, branch, seed=0, replicate=1)
        assert restored == expected


@pytest.mark.parametrize("replicate", [0, 1])
def test_restoring_with_the_scenario_given_to_simulate_runs_on_as_simulate(
    default_scenario, replicate
):
    """A snapshot of replicate r of the default scenario, restored with that scenario (the one
    `simulate` was given), runs on exactly as `simulate(scenario, ..., replicate=r)`: the
    replicate's posterior parameter set stays in force after the restore."""
    scenario = default_scenario
    assert scenario.posterior  # the default scenario carries a calibration posterior
    expected = simulate(scenario, "decouple", 0, replicate=replicate)
    world = run_world(scenario, "decouple", 0, replicate)
    world.run(until=200)
    state = pickle.loads(pickle.dumps(world.snapshot()))
    restored = World.restore(scenario, state)
    restored.run(until=horizon(scenario))
    result = restored.finish()
    assert result.records == expected.records
    assert result == expected


def test_a_run_result_survives_a_pickle_round_trip():
    """A RunResult pickled and unpickled equals the original."""
    result = simulate(SCENARIO, "base", 4, replicate=2)
    again = pickle.loads(pickle.dumps(result))
    assert again == result
    assert again.records == result.records and again.records
    assert again.date(10) == result.date(10)


def test_a_scenario_survives_a_pickle_round_trip(default_scenario):
    """A Scenario pickled and unpickled has the same content and fingerprint, and runs the same."""
    for scenario in (SCENARIO, default_scenario):
        again = pickle.loads(pickle.dumps(scenario))
        assert again.model_dump() == scenario.model_dump()
        assert again.fingerprint == scenario.fingerprint
        branch = scenario.branch_ids[-1]
        assert simulate(again, branch, 1) == simulate(scenario, branch, 1)
