"""Invariants of a run, checked with hypothesis over small random scenarios and firm tables.

Each example is a tiny scenario built with conftest's `make_scenario`: 1-6 firms (suppliers only
point to earlier firms, so there are no cycles; some are magnet makers, whose customers that buy
rare earths take part of their magnets from them), the four key events and up to four random
licensing events (controls, approval probabilities and review pace, general licences, the
extraterritorial rule).

Two hypothesis profiles, chosen by the environment variable HYPOTHESIS_PROFILE:

    uv run pytest tests/test_properties.py                                # "ci": 20 examples
    HYPOTHESIS_PROFILE=thorough uv run pytest tests/test_properties.py   # 500 examples

The "ci" profile is derandomised (the same examples on every run), so CI never flakes; the
"thorough" profile draws fresh examples and is the one to run after changing the engine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import pickle
import signal
from collections import Counter
from typing import Any

import pandas as pd
from conftest import (
    approval,
    daily_rates,
    event,
    firm,
    firm_rates,
    horizon,
    key_events,
    make_scenario,
    run_world,
    whole_days,
    working_days_after,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from timeline.engine.trace import Kind
from timeline.engine.world import RunResult, World, simulate
from timeline.model.scenario import Scenario
from timeline.run import BranchRun, run_branch

settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

START = dt.date(2025, 4, 1)  # make_scenario's default horizon
END = dt.date(2026, 6, 30)
BRANCH_POINT = dt.date(2025, 10, 30)
ELEMENTS = ("Dy", "Tb", "Nd")
DESTINATIONS = ("US", "EU", "JP", "KR", "IN", "other")
COUNTRIES = ("US", "DE", "JP", "KR", "IN", "BR")
SECTORS = ("automotive-test", "automotive-tier1-x", "wind-test", "magnets-x")
EPS = 1e-9

# --- strategies -----------------------------------------------------------------------------

dates = st.dates(min_value=START, max_value=END).map(dt.date.isoformat)
shares = st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.0]) | st.floats(0, 1).map(lambda x: round(x, 2))
link_shares = st.sampled_from([1.0, 0.5, 0.3]) | st.floats(0.05, 1).map(lambda x: round(x, 2))
probabilities = st.sampled_from([0.0, 1.0]) | st.floats(0, 1).map(lambda x: round(x, 2))
reviews = st.integers(0, 60)
spreads = st.sampled_from([1.0, 1.5, 3.0])
element_sets = st.lists(st.sampled_from(ELEMENTS), unique=True, max_size=3)


@st.composite
def firm_tables(draw, max_firms: int = 6) -> list[dict[str, Any]]:
    """1-6 firms; each may buy rare earths and parts (or magnets) from firms listed before it."""
    rows = []
    for index in range(draw(st.integers(1, max_firms))):
        earlier = [row["id"] for row in rows]
        links = st.lists(st.sampled_from(earlier), unique=True, max_size=2) if rows else st.just([])
        suppliers = [
            {"firm": s, "buffer_days": float(draw(st.integers(0, 40))), "share": draw(link_shares)}
            for s in draw(links)
        ]
        elements = draw(element_sets)
        china = draw(shares)
        magnet_links = [
            link
            for link in suppliers
            if rows[earlier.index(link["firm"])]["sector"].startswith("magnets")
        ]
        magnets = sum(link["share"] for link in magnet_links)
        if elements and magnets > 1:  # the table's rule: at most all of the supply
            for link in magnet_links:
                link["share"] = max(0.01, math.floor(link["share"] / magnets * 100) / 100)
            magnets = sum(link["share"] for link in magnet_links)
        if elements and china + magnets > 1:
            china = max(0.0, round(1 - magnets, 2) - 0.01)
        rows.append(
            firm(
                f"f{index}",
                sector=draw(st.sampled_from(SECTORS)),
                country=draw(st.sampled_from(COUNTRIES)),
                elements=elements,
                china_share=china,
                china_content_share=draw(shares),
                inventory_days=float(draw(st.integers(0, 90))),
                daily_output_usd=float(draw(st.integers(0, 5_000_000))),
                end_use=draw(st.sampled_from(["civil", "defence"])),
                defence_share=draw(st.none() | shares),
                suppliers=suppliers,
                lead_time_days=draw(st.integers(0, 40)),
                ramp_days=draw(st.integers(0, 20)),
            )
        )
    return rows


def approvals(draw, probability=probabilities) -> dict[str, dict[str, float]]:
    return {d: {"civil": draw(probability), "defence": draw(probability)} for d in DESTINATIONS}


@st.composite
def general_licences(draw) -> dict[str, Any]:
    return {
        "id": draw(st.sampled_from(["gl-a", "gl-b"])),
        "destinations": draw(st.lists(st.sampled_from(DESTINATIONS), unique=True, max_size=2)),
        "sectors": draw(st.lists(st.sampled_from(["automotive", "wind"]), unique=True, max_size=1)),
        "end_use": draw(st.sampled_from(["civil", "defence"])),
    }


@st.composite
def effects(draw) -> dict[str, Any]:
    """The effects of one random licensing event."""
    kinds = [
        "add",
        "remove",
        "replace",
        "terms",
        "pace",
        "extraterritorial",
        "general",
        "ungeneral",
    ]
    kind = draw(st.sampled_from(kinds))
    if kind == "add":
        return {"licensed_elements_add": draw(element_sets.filter(bool))}
    if kind == "remove":
        return {"licensed_elements_remove": draw(element_sets.filter(bool))}
    if kind == "replace":
        return {"licensed_elements": draw(element_sets)}
    if kind == "terms":
        return {"approval": approvals(draw), "review_working_days": draw(reviews)}
    if kind == "pace":
        return {
            "review_working_days": draw(reviews),
            "review_spread": draw(spreads),
            "rereview_working_days": draw(reviews),
        }
    if kind == "general":
        return {"general_licences_add": [draw(general_licences())]}
    if kind == "ungeneral":
        return {"general_licences_remove": ["gl-a"]}
    return {
        "extraterritorial": draw(st.booleans()),
        "extraterritorial_threshold_pct": draw(st.sampled_from([0.1, 10.0, 50.0])),
    }


@st.composite
def licensing_events(draw, max_events: int = 4, when=dates) -> list[dict[str, Any]]:
    return [
        event(f"ev-{index}", draw(when), kind="licensing", effects=draw(effects()))
        for index in range(draw(st.integers(0, max_events)))
    ]


def initial_policy(draw, probability=probabilities) -> dict[str, Any]:
    return {
        "licensed_elements": draw(element_sets),
        "review_working_days": draw(reviews),
        "review_spread": draw(spreads),
        "rereview_working_days": draw(reviews),
        "approval": approvals(draw, probability),
    }


def timing(draw) -> dict[str, Any]:
    """Random export pipeline and licence validity (0: none, as make_scenario's default)."""
    return {
        "export_pipeline_days": draw(st.sampled_from([0, 0, 4])),
        "licence_valid_days": draw(st.sampled_from([0, 0, 90])),
    }


def with_timing(scenario: Scenario, values: dict[str, Any]) -> Scenario:
    if not any(values.values()):
        return scenario
    parameters = scenario.model_dump()["parameters"]
    for name, value in values.items():
        parameters[name] = {"value": value, "assumption": "test"}
    return rebuild(scenario, parameters=parameters)


@st.composite
def scenarios(draw) -> Scenario:
    """A small random scenario with one branch, `base`."""
    scenario = make_scenario(
        draw(firm_tables()),
        events=[*key_events(), *draw(licensing_events())],
        **initial_policy(draw),
    )
    return with_timing(scenario, timing(draw))


seeds = st.integers(0, 2**32 - 1)
replicates = st.integers(0, 3)


DY_CONTROL = event("dy", "2025-05-01", effects={"licensed_elements": ["Dy"]})

# --- helpers ---------------------------------------------------------------------------------

RUN_TIMEOUT_S = 10.0


class RunTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise `RunTimeout` in the main thread if the block takes longer than `seconds`."""

    def expire(signum, frame):
        raise RunTimeout(f"did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def branch_run(scenario: Scenario, branch: str = "base", seed: int = 0) -> BranchRun:
    """`run_branch` (the run and its tables), failing (not hanging) if the engine loops."""
    with time_limit(RUN_TIMEOUT_S):
        return run_branch(scenario, branch, seed)


def sim(scenario: Scenario, branch: str = "base", seed: int = 0, replicate: int = 0) -> RunResult:
    """`simulate` (no tables), failing (not hanging) if the engine loops."""
    with time_limit(RUN_TIMEOUT_S):
        return simulate(scenario, branch, seed, replicate=replicate)


def first_day(result: RunResult, below: float) -> dict[int, int]:
    """Per firm index, the first day its rate is below `below` (at the end of that day)."""
    out: dict[int, int] = {}
    for f, row in enumerate(daily_rates(result)):
        day = next((d for d, r in enumerate(row) if r < below - EPS), None)
        if day is not None:
            out[f] = day
    return out


def first_stops(result: RunResult) -> dict[int, int]:
    return first_day(result, EPS * 2)  # rate 0


def first_falls(result: RunResult) -> dict[int, int]:
    return first_day(result, 1.0)  # rate below 1


def exposed_firms(scenario: Scenario) -> set[str]:
    """Firms that buy rare earths with some Chinese share or content, or buy from such a firm."""
    exposed: set[str] = set()
    for f in scenario.firms:  # suppliers come first
        direct = f.elements and (f.china_share > 0 or f.china_content_share > 0)
        if direct or any(link.firm in exposed for link in f.suppliers):
            exposed.add(f.id)
    return exposed


def rebuild(scenario: Scenario, **changes: Any) -> Scenario:
    """The same scenario, validated anew from its data with some top-level fields replaced."""
    return Scenario.model_validate({**scenario.model_dump(), **changes})


def per_firm(result: RunResult) -> dict[str, dict[str, Any]]:
    """Everything a run says about each firm, keyed by firm id (firm indices mapped to ids)."""
    ids = result.firm_ids

    def cause(value: int) -> str:
        return "re" if value < 0 else ids[value]

    out: dict[str, dict[str, Any]] = {
        f: {"rates": [], "records": [], "flows": [], "at_risk": []} for f in ids
    }
    for day, f, rate, c in result.rates:
        out[ids[f]]["rates"].append((day, rate, cause(c) if rate < 1 - EPS else ""))
    for r in result.records:
        if r.kind == Kind.POLICY:
            continue
        a = cause(r.a) if r.kind in (Kind.STOPPED, Kind.CURTAILED) else r.a
        out[ids[r.firm]]["records"].append((r.day, r.kind, r.channel, a, r.b, r.x))
    for day, f, share in result.flows:
        out[ids[f]]["flows"].append((day, share))
    for f, a, b in result.at_risk:
        out[ids[f]]["at_risk"].append((a, b))
    for f, day in result.first_cut.items():
        out[ids[f]]["first_cut"] = day
    for f, day in result.recovered.items():
        out[ids[f]]["recovered"] = day
    for f, params in zip(ids, result.params, strict=True):
        out[f]["params"] = params
    return out


# --- the trace --------------------------------------------------------------------------------


@given(scenarios(), seeds)
def test_trace_is_in_time_order_and_events_csv_by_date_then_seq(scenario, seed):
    """Trace records come in day order; events.csv is sorted by (date, seq), seq from 0."""
    run = branch_run(scenario, "base", seed)
    days = [r.day for r in run.result.records]
    assert days == sorted(days)
    assert run.events["seq"].tolist() == list(range(len(run.events)))
    keys = list(zip(run.events["date"], run.events["seq"], strict=True))
    assert keys == sorted(keys)


@given(scenarios(), seeds)
def test_rate_changes_and_firm_records_tell_the_same_story(scenario, seed):
    """Each rate change has one firm record: a fall to 0 is firm-stopped, a rise from 0 is
    firm-restarted, a change to 1 otherwise firm-full-output, else firm-curtailed; stopped and
    restarted alternate, stop first."""
    result = sim(scenario, "base", seed)
    firm_kinds = (Kind.STOPPED, Kind.RESTARTED, Kind.CURTAILED, Kind.FULL_OUTPUT)
    records = [r for r in result.records if r.kind in firm_kinds]
    assert len(records) == len(result.rates)
    previous = [1.0] * len(scenario.firms)
    for r, (day, f, rate, _cause) in zip(records, result.rates, strict=True):
        assert (r.day, r.firm) == (day, f)
        if rate <= EPS:
            expected = Kind.STOPPED
        elif previous[f] <= EPS:
            expected = Kind.RESTARTED
        elif rate >= 1 - EPS:
            expected = Kind.FULL_OUTPUT
        else:
            expected = Kind.CURTAILED
        assert r.kind == expected, (r, rate, previous[f])
        assert r.kind == Kind.STOPPED or r.x == rate
        previous[f] = rate


@given(scenarios(), seeds)
def test_a_firms_episodes_never_overlap(scenario, seed):
    """Per firm, stoppage episodes are disjoint [start, full output) ranges in order; only the
    last may run to the end; days stopped fit in the episode."""
    run = branch_run(scenario, "base", seed)
    stoppages = run.stoppages
    assert (stoppages["days"] > 0).all()
    assert (stoppages["days_stopped"] <= stoppages["days"]).all()
    for f in scenario.firms:
        mine = stoppages[stoppages["firm_id"] == f.id].sort_values("start_date")
        starts = mine["start_date"].tolist()
        ends = mine["full_output_date"].tolist()
        for i in range(len(mine)):
            if i + 1 < len(mine):
                assert not pd.isna(ends[i]), f.id
                assert starts[i] < ends[i] < starts[i + 1], f.id
            elif not pd.isna(ends[i]):
                assert starts[i] < ends[i] <= pd.Timestamp(END), f.id


# --- the daily timeline ---------------------------------------------------------------------


@given(scenarios(), seeds)
def test_firms_stopped_and_curtailed_each_day_count_the_firms_at_those_rates(scenario, seed):
    """timeline.firms_stopped on day d is the number of firms at rate 0 that day, and
    firms_curtailed those between 0 and 1 (rates from a plain day loop over `rates`)."""
    run = branch_run(scenario, "base", seed)
    rows = daily_rates(run.result)
    days = run.result.days
    stopped = [sum(row[d] <= EPS for row in rows) for d in range(days)]
    curtailed = [sum(EPS < row[d] < 1 - EPS for row in rows) for d in range(days)]
    assert len(run.timeline) == days
    assert run.timeline["firms_stopped"].tolist() == stopped
    assert run.timeline["firms_curtailed"].tolist() == curtailed


@given(scenarios(), seeds)
def test_lost_output_equals_the_daily_shortfalls(scenario, seed):
    """Output and value added lost, per day (timeline) and per firm (firms.csv), equal the sums of
    (1 - rate) x daily output (x value-added share) computed day by day from `rates`."""
    run = branch_run(scenario, "base", seed)
    rows = daily_rates(run.result)
    share = [
        f.value_added_share
        if f.value_added_share is not None
        else scenario.parameters.value_added(f.sector)
        for f in scenario.firms
    ]
    output = [f.daily_output_usd for f in scenario.firms]
    days = run.result.days
    by_day = [
        sum((1 - row[d]) * o for row, o in zip(rows, output, strict=True)) for d in range(days)
    ]
    added_by_day = [
        sum((1 - row[d]) * o * s for row, o, s in zip(rows, output, share, strict=True))
        for d in range(days)
    ]
    assert (
        max(abs(a - b) for a, b in zip(run.timeline["output_lost_usd"], by_day, strict=True))
        <= 0.5 + 1e-6
    )
    assert (
        max(
            abs(a - b)
            for a, b in zip(run.timeline["value_added_lost_usd"], added_by_day, strict=True)
        )
        <= 0.5 + 1e-6
    )
    firms = run.firms.set_index("firm_id")
    for f, row, o, s in zip(scenario.firms, rows, output, share, strict=True):
        lost = sum(1 - r for r in row)
        assert abs(firms.loc[f.id, "output_lost_usd"] - lost * o) <= 0.5 + 1e-6
        assert abs(firms.loc[f.id, "value_added_lost_usd"] - lost * o * s) <= 0.5 + 1e-6
        stopped = sum(r <= EPS for r in row)
        assert firms.loc[f.id, "days_stopped"] == stopped
        assert firms.loc[f.id, "days_curtailed"] == sum(EPS < r < 1 - EPS for r in row)


@given(scenarios(), seeds)
def test_losses_add_up_by_day_by_firm_and_by_episode(scenario, seed):
    """Daily losses are non-negative; the cumulative value added is their running sum; totals by
    day, by firm and by stoppage episode agree (within rounding of each row)."""
    run = branch_run(scenario, "base", seed)
    t, firms, stoppages = run.timeline, run.firms, run.stoppages
    assert (t["output_lost_usd"] >= 0).all() and (t["value_added_lost_usd"] >= 0).all()
    assert (
        t["cumulative_value_added_lost_usd"].tolist() == t["value_added_lost_usd"].cumsum().tolist()
    )
    for column in ("output_lost_usd", "value_added_lost_usd"):
        total = t[column].sum()
        slack = len(t) + len(firms) + len(stoppages)
        assert abs(total - firms[column].sum()) <= slack
        assert abs(total - stoppages[column].sum()) <= slack
        assert run.summary[column] == total
    assert (firms["value_added_lost_usd"] <= firms["output_lost_usd"]).all()
    assert (stoppages["made_up_usd"] <= stoppages["output_lost_usd"]).all()


# --- conservation -----------------------------------------------------------------------------


@given(scenarios(), seeds, st.lists(st.integers(1, 455), min_size=1, max_size=6, unique=True))
def test_stocks_stay_between_zero_and_their_cap(scenario, seed, days):
    """Every input stock of every plant, seen through World.snapshot() on several days, lies in
    [0, cap]; every share arriving lies in [0, 1]; rates lie in [0, 1]."""
    world = run_world(scenario, "base", seed)
    for day in sorted(days):
        world.run(until=day)
        state = world.snapshot()
        for plant in state.plants:
            plant.advance(state.day)  # bring the copy's stocks to the day
            assert 0.0 <= plant.rate <= 1.0
            for item in plant.inputs:
                assert -EPS <= item.level <= item.cap + EPS, (plant.index, item)
                assert -EPS <= item.avail <= 1 + EPS, (plant.index, item)
    result = world.finish()
    assert all(0.0 <= rate <= 1.0 for _, _, rate, _ in result.rates)


@given(scenarios(), seeds)
def test_each_application_ends_in_one_decision_or_is_voided(scenario, seed):
    """Per firm and channel, applications (applied or re-review) and their ends (approved,
    denied, or voided by a lifted control or a general licence) alternate; one application
    may still be pending at the end, and it is exactly the one the world holds as pending. (A
    lapsed licence is not an end: it comes after an approval and leads to a new application.)"""
    world = run_world(scenario, "base", seed)
    world.run(until=horizon(scenario))
    result = world.finish()
    starts = (Kind.APPLIED, Kind.REREVIEW)
    ends = (Kind.APPROVED, Kind.DENIED, Kind.CONTROLS_LIFTED, Kind.GENERAL_LICENCE)
    for supply in world.supplies:
        for channel in supply.channels:
            trail = [
                r
                for r in result.records
                if r.firm == supply.firm_index and r.channel == channel.index
                if r.kind in starts + ends
            ]
            opened = [r for r in trail if r.kind in starts]
            closed = [r for r in trail if r.kind in ends]
            assert len(opened) == len(closed) + channel.pending
            for i, r in enumerate(trail):
                assert (r.kind in starts) == (i % 2 == 0), trail
            assert [r.a for r in opened] == list(range(1, len(opened) + 1))
            for position, r in enumerate(trail):  # a decision names the application it ends
                if r.kind in (Kind.APPROVED, Kind.DENIED):
                    assert r.a == opened[position // 2].a


@given(scenarios(), seeds)
def test_first_cut_and_first_fall_follow_transit_and_cover(scenario, seed):
    """Goods run dry exactly the export pipeline plus a lead time after a cut; a firm's first
    cut is the first day its supply runs dry or a supplier slows; its output first falls no
    earlier than that plus the cover of the input that runs out."""
    result = sim(scenario, "base", seed)
    index = {f.id: i for i, f in enumerate(scenario.firms)}
    pipeline = int(scenario.parameters.export_pipeline_days.value)
    pending: dict[tuple[int, int], int] = {}
    first_dry: dict[int, int] = {}
    for r in result.records:
        if r.kind == Kind.SUPPLY_CUT:
            assert r.b == r.day + pipeline + result.params[r.firm].lead
            pending[(r.firm, r.channel)] = r.b
        elif r.kind == Kind.SUPPLY_DRY:
            assert pending.pop((r.firm, r.channel)) == r.day
            first_dry.setdefault(r.firm, r.day)
    falls: dict[int, tuple[int, int]] = {}
    for day, f, rate, cause in result.rates:
        if rate < 1 - EPS and f not in falls:
            falls[f] = (day, cause)
    for f, firm_ in enumerate(scenario.firms):
        candidates = [first_dry[f]] if f in first_dry else []
        candidates += [falls[index[x.firm]][0] for x in firm_.suppliers if index[x.firm] in falls]
        assert result.first_cut.get(f) == (min(candidates) if candidates else None), firm_.id
    for f, (day, cause) in falls.items():
        firm_, params = scenario.firms[f], result.params[f]
        buffers = {x.firm: b for x, b in zip(firm_.suppliers, params.buffers, strict=True)}
        if cause < 0:
            magnets = [
                b
                for s, b in buffers.items()
                if scenario.firms[index[s]].sector.startswith("magnets")
            ]
            cover = max([params.inventory, *magnets])
        else:
            cover = buffers[scenario.firms[cause].id]
        assert day >= result.first_cut[f] + cover, firm_.id


# --- when firms stop --------------------------------------------------------------------------


@given(scenarios(), seeds)
def test_a_firm_without_chinese_exposure_never_slows(scenario, seed):
    """A firm with no Chinese share or content, and no supplier that has one, never has a rate
    change, a first cut or a licensing record."""
    result = sim(scenario, "base", seed)
    exposed = exposed_firms(scenario)
    for index, f in enumerate(scenario.firms):
        if f.id in exposed:
            continue
        assert firm_rates(result, f.id) == []
        assert index not in result.first_cut
        assert [r for r in result.records if r.firm == index] == []


@given(scenarios(), seeds, st.data())
def test_more_inventory_never_brings_the_first_fall_earlier(scenario, seed, data):
    """Same seed, one firm's inventory raised: its output first falls no earlier; if rare earths
    are its only input, its first full stop comes no earlier either."""
    index = data.draw(st.integers(0, len(scenario.firms) - 1), label="firm")
    extra = data.draw(st.integers(1, 60), label="extra days")
    target = scenario.firms[index]
    richer = target.model_copy(update={"inventory_days": target.inventory_days + extra})
    firms = list(scenario.firms)
    firms[index] = richer
    before = sim(scenario, "base", seed)
    after = sim(rebuild(scenario, firms=firms), "base", seed)
    assert first_falls(after).get(index, math.inf) >= first_falls(before).get(index, math.inf)
    if not target.suppliers:
        assert first_stops(after).get(index, math.inf) >= first_stops(before).get(index, math.inf)


def test_more_rare_earth_stock_can_stop_a_plant_with_a_cut_part_sooner():
    """Why the property above claims the first full stop only for single-input plants: with its
    parts cut off, a plant with 100 days of rare earths runs at full rate and uses up its 10
    days of parts by day 50; with none it runs at 0.5 and makes them last to day 60."""
    # Dy licensed from day 30 (approval 0): the supplier (no stock) stops when its goods in
    # transit run out on day 40, the same day the plant's Chinese half runs dry.
    control = event("dy", "2025-05-01", effects={"licensed_elements": ["Dy"]})
    stops = []
    for inventory in (0.0, 100.0):
        scenario = make_scenario(
            [
                firm("s", elements=["Dy"], china_share=1.0, inventory_days=0.0),
                firm(
                    "x",
                    elements=["Dy"],
                    china_share=0.5,
                    inventory_days=inventory,
                    suppliers=[{"firm": "s", "buffer_days": 10.0}],
                ),
            ],
            events=[*key_events(), control],
            approval=approval(0.0, 0.0),
        )
        stops.append(first_stops(sim(scenario))[1])
    assert stops == [40 + whole_days(10 / 0.5), 40 + whole_days(10 / 1.0)]


def test_a_review_of_zero_days_with_no_approval_ends():
    """Review 0 working days with approval 0 does not deny and re-review forever on one day: the
    run ends, the firm stops when its goods in transit and cover are gone.

    (Refusing such a policy when the scenario is built would be a fix too.)
    """
    try:
        scenario = make_scenario(
            [firm("magnets", elements=["Dy"], china_share=1.0)],
            events=[*key_events(), DY_CONTROL],
            review_working_days=0,
            rereview_working_days=0,
            approval=approval(0.0, 0.0),
        )
    except ValidationError:
        return
    result = sim(scenario)
    cut = (dt.date(2025, 5, 1) - START).days
    assert firm_rates(result, "magnets") == [(cut + 10 + 30, 0.0, "re")]
    denials = [r for r in result.records if r.kind == Kind.DENIED]
    assert len({r.day for r in denials}) == len(denials)  # at most one decision a day


# Removing a cutting event. A cut is not a fixed interval: it starts the firm's licence review,
# and the review's clock starts with the cut. So with any chance of approval an extra, earlier
# cut can end a stoppage SOONER (see the test after the property). The property holds when no
# licence is ever granted (approval 0 everywhere): then every cut lasts to the end, and removing
# an event can only make cuts start later or not at all. The events only add controls, so the
# removed event takes nothing but a cut away.
cut_effects = st.one_of(
    st.fixed_dictionaries({"licensed_elements_add": element_sets.filter(bool)}),
    st.just({"extraterritorial": True}),
)


@st.composite
def cutting_scenarios(draw) -> tuple[Scenario, Scenario]:
    """A scenario whose events only add controls, and the same without one of them."""
    cuts = [
        event(f"cut-{index}", draw(dates), kind="licensing", effects=draw(cut_effects))
        for index in range(draw(st.integers(1, 4)))
    ]
    removed = draw(st.integers(0, len(cuts) - 1), label="removed")
    policy = initial_policy(draw, st.just(0.0))
    firms = draw(firm_tables())
    full = make_scenario(firms, events=[*key_events(), *cuts], **policy)
    fewer = make_scenario(
        firms, events=[*key_events(), *cuts[:removed], *cuts[removed + 1 :]], **policy
    )
    return full, fewer


def total_lost(result: RunResult, scenario: Scenario) -> float:
    output = [f.daily_output_usd for f in scenario.firms]
    return sum(
        sum(1 - r for r in row) * o for row, o in zip(daily_rates(result), output, strict=True)
    )


@given(cutting_scenarios(), seeds)
def test_removing_a_cutting_event_never_increases_output_lost(pair, seed):
    """With no licence ever approved, one cut less never loses more output.

    Random approval draws, and even certain approval, break this (see the comment above
    `cut_effects` and the next test), so it is claimed for approval probability 0 only.
    """
    full, fewer = pair
    assert (
        total_lost(sim(fewer, "base", seed), fewer)
        <= total_lost(sim(full, "base", seed), full) + 1e-6
    )


def test_with_certain_approval_an_extra_earlier_cut_can_shorten_a_stoppage():
    """Why the property above needs approval 0: a Dy control on Tue 04-01 and again on Wed 04-02
    is decided 53 working days after Tuesday; without the first, after Wednesday, and 53
    working days from a Wednesday cross one more weekend than from a Tuesday."""
    magnets = firm("f0", elements=["Dy"], china_share=1.0, inventory_days=0.0, ramp_days=0)
    magnets.update(daily_output_usd=1.0, lead_time_days=0)
    first = event("cut-a", "2025-04-01", effects={"licensed_elements_add": ["Dy"]})
    second = event("cut-b", "2025-04-02", effects={"licensed_elements_add": ["Dy"]})
    lost = []
    for cuts in ([first, second], [second]):
        scenario = make_scenario(
            [magnets], [*key_events(), *cuts], review_working_days=53, approval=approval(1.0)
        )
        lost.append(total_lost(sim(scenario), scenario))
    tuesday, wednesday = dt.date(2025, 4, 1), dt.date(2025, 4, 2)
    expected = [
        (working_days_after(tuesday, 53) - tuesday).days,
        (working_days_after(wednesday, 53) - wednesday).days,
    ]
    assert lost == expected
    assert lost[0] < lost[1]


# --- reproducibility, pairing, metamorphic relations -----------------------------------------


@given(scenarios(), seeds, replicates)
def test_same_inputs_seed_and_replicate_give_identical_results(scenario, seed, replicate):
    """Two runs of equal scenarios (one rebuilt from its data) give equal RunResults, and
    byte-identical CSV files."""
    first = sim(scenario, "base", seed, replicate)
    second = sim(rebuild(scenario), "base", seed, replicate)
    assert first == second


@given(scenarios(), seeds)
def test_same_inputs_and_seed_give_identical_files(scenario, seed):
    """Two runs of equal scenarios (one rebuilt from its data) give byte-identical CSV files."""
    first = branch_run(scenario, "base", seed).files()
    second = branch_run(rebuild(scenario), "base", seed).files()
    assert first == second


@given(scenarios(), seeds, st.randoms(use_true_random=False))
def test_reordering_the_firm_table_leaves_each_firm_unchanged(scenario, seed, random):
    """The same firms in another order: each firm's rates, trace, flows, risk, cuts and drawn
    numbers are the same (compared by firm id)."""
    firms = list(scenario.firms)
    random.shuffle(firms)
    before = per_firm(sim(scenario, "base", seed))
    after = per_firm(sim(rebuild(scenario, firms=firms), "base", seed))
    assert after == before


@given(scenarios(), seeds)
def test_adding_an_unconnected_firm_leaves_the_others_unchanged(scenario, seed):
    """An extra firm, exposed to China but linked to no one, changes nothing for the others."""
    extra = firm("zz-extra", elements=["Dy", "Tb", "Nd"], china_share=1.0, china_content_share=1.0)
    firms = [*scenario.model_dump()["firms"], extra]
    before = per_firm(sim(scenario, "base", seed))
    after = per_firm(sim(rebuild(scenario, firms=firms), "base", seed))
    del after["zz-extra"]
    assert after == before


@st.composite
def branching_scenarios(draw) -> Scenario:
    """Branch `same` is the catalog; branch `other` changes it only after the branch point."""
    catalog = [*key_events(), *draw(licensing_events())]
    later = st.dates(min_value=BRANCH_POINT + dt.timedelta(days=1), max_value=END)
    before_dec1 = st.dates(min_value=BRANCH_POINT, max_value=dt.date(2025, 11, 30))  # key order
    after_point = [e["id"] for e in catalog[4:] if dt.date.fromisoformat(e["date"]) > BRANCH_POINT]
    added = [
        {**e, "id": f"added-{index}"}
        for index, e in enumerate(draw(licensing_events(3, later.map(dt.date.isoformat))))
    ]
    other = {
        "id": "other",
        "title": "other",
        "summary": "differs after the branch point",
        "source": "test",
        "add": added,
        "cancel": draw(st.lists(st.sampled_from(after_point), unique=True)) if after_point else [],
        "override": {"rare-earth-rules-dec1": {"effects": draw(effects())}},
        "redate": {"tariff-deadline-nov1": draw(before_dec1).isoformat()},
    }
    same = {"id": "same", "title": "same", "summary": "the catalog", "source": "test"}
    scenario = make_scenario(
        draw(firm_tables()), events=catalog, branches=[same, other], **initial_policy(draw)
    )
    return with_timing(scenario, timing(draw))


@given(branching_scenarios(), seeds)
def test_branches_are_identical_before_the_branch_point(scenario, seed):
    """Trace records, rates, flows and timeline rows dated before the branch point are the same
    in both branches."""
    point = (BRANCH_POINT - START).days
    runs = [branch_run(scenario, branch, seed) for branch in ("same", "other")]
    early = [
        (
            [r for r in run.result.records if r.day < point],
            [x for x in run.result.rates if x[0] < point],
            [x for x in run.result.flows if x[0] < point],
        )
        for run in runs
    ]
    assert early[0] == early[1]
    timelines = [
        run.timeline[run.timeline["date"] < pd.Timestamp(BRANCH_POINT)].drop(columns="branch")
        for run in runs
    ]
    pd.testing.assert_frame_equal(timelines[0], timelines[1])
    assert len(timelines[0]) == point


@st.composite
def rule_branches(draw) -> Scenario:
    """Branch `base` is the catalog; branch `rule` adds the extraterritorial rule on a day after
    the branch point, with a random threshold."""
    later = st.dates(min_value=BRANCH_POINT, max_value=END).map(dt.date.isoformat)
    rule = event(
        "rule",
        draw(later),
        effects={
            "extraterritorial": True,
            "extraterritorial_threshold_pct": draw(st.sampled_from([0.0, 0.1, 10.0])),
        },
    )
    base = {"id": "base", "title": "base", "summary": "the catalog", "source": "test"}
    branches = [base, {**base, "id": "rule", "add": [rule]}]
    catalog = [*key_events(), *draw(licensing_events())]
    scenario = make_scenario(draw(firm_tables()), catalog, branches, **initial_policy(draw))
    return with_timing(scenario, timing(draw))


@given(rule_branches(), seeds, replicates)
def test_a_branch_that_cannot_reach_a_firm_leaves_its_licensing_unchanged(scenario, seed, rep):
    """The extraterritorial rule in one branch only: a firm without Chinese content has the
    same drawn numbers, applications and decisions in both branches (common random numbers)."""
    runs = [per_firm(sim(scenario, b, seed, rep)) for b in ("base", "rule")]
    licensing = {Kind.APPLIED, Kind.REREVIEW, Kind.REVIEW_MOVED, Kind.APPROVED, Kind.DENIED}
    for f in scenario.firms:
        if f.china_content_share > 0:
            continue
        mine = [[r for r in run[f.id]["records"] if r[1] in licensing] for run in runs]
        assert mine[0] == mine[1], f.id
        assert runs[0][f.id]["params"] == runs[1][f.id]["params"]


@given(scenarios(), seeds, replicates, st.integers(1, 455))
def test_a_split_run_equals_a_straight_run(scenario, seed, replicate, day):
    """Run to a random day, snapshot, pickle round trip, restore, run on: the same RunResult as
    a straight run."""
    straight = sim(scenario, "base", seed, replicate)
    world = run_world(scenario, "base", seed, replicate)
    world.run(until=day)
    state = pickle.loads(pickle.dumps(world.snapshot()))
    restored = World.restore(scenario, state)
    restored.run(until=horizon(scenario))
    assert restored.finish() == straight


def test_hidden_helpers_count_what_they_claim():
    """The helpers above find stops, falls and exposure as documented (a hand-made run)."""
    control = event("dy", "2025-05-01", effects={"licensed_elements": ["Dy"]})
    scenario = make_scenario(
        [
            firm("a", elements=["Dy"], china_share=1.0, inventory_days=5.0),
            firm("b", elements=["Dy"], china_share=0.5, inventory_days=5.0),
            firm("c"),
        ],
        events=[*key_events(), control],
        approval=approval(0.0, 0.0),
    )
    result = sim(scenario)
    assert first_stops(result) == {0: 45}
    assert first_falls(result) == {0: 45, 1: 40 + whole_days(5 / 0.5)}
    assert exposed_firms(scenario) == {"a", "b"}
    assert Counter(r.kind for r in result.records)[Kind.SUPPLY_CUT] == 2
