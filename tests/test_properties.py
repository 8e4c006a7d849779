"""Invariants of a run, checked with hypothesis over small random scenarios and firm tables.

Each example is a tiny scenario built with conftest's `make_scenario`: 1-6 firms (suppliers only
point to earlier firms, so there are no cycles), the four key events and up to four random
licensing events (dates, elements, review times, approval probabilities, extraterritorial rule).

Two hypothesis profiles, chosen by the environment variable HYPOTHESIS_PROFILE:

    uv run pytest tests/test_properties.py                                # "ci": 25 examples
    HYPOTHESIS_PROFILE=thorough uv run pytest tests/test_properties.py   # 500 examples

The "ci" profile is derandomised (the same examples on every run), so CI never flakes; the
"thorough" profile draws fresh examples and is the one to run after changing the engine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import signal
from typing import Any

import pandas as pd
from conftest import approval, event, firm, key_events, make_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from timeline.model.scenario import Scenario
from timeline.run import BranchRun, run_branch

settings.register_profile(
    "ci",
    max_examples=25,
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

# --- strategies -----------------------------------------------------------------------------

dates = st.dates(min_value=START, max_value=END).map(dt.date.isoformat)
shares = st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.0]) | st.floats(0, 1).map(lambda x: round(x, 2))
probabilities = st.sampled_from([0.0, 1.0]) | st.floats(0, 1).map(lambda x: round(x, 2))
reviews = st.integers(0, 60)
element_sets = st.lists(st.sampled_from(ELEMENTS), unique=True, max_size=3)


@st.composite
def firm_tables(draw, max_firms: int = 6) -> list[dict[str, Any]]:
    """1-6 firms; each may buy rare earths and parts from firms listed before it."""
    rows = []
    for index in range(draw(st.integers(1, max_firms))):
        earlier = [row["id"] for row in rows]
        links = st.lists(st.sampled_from(earlier), unique=True, max_size=2) if rows else st.just([])
        suppliers = draw(links)
        rows.append(
            firm(
                f"f{index}",
                country=draw(st.sampled_from(COUNTRIES)),
                elements=draw(element_sets),
                china_share=draw(shares),
                china_content_share=draw(shares),
                inventory_days=float(draw(st.integers(0, 90))),
                daily_output_usd=float(draw(st.integers(0, 5_000_000))),
                end_use=draw(st.sampled_from(["civil", "defence"])),
                suppliers=[
                    {"firm": s, "buffer_days": float(draw(st.integers(0, 40)))} for s in suppliers
                ],
                lead_time_days=draw(st.integers(0, 40)),
                ramp_days=draw(st.integers(0, 20)),
            )
        )
    return rows


def approvals(draw, probability=probabilities) -> dict[str, dict[str, float]]:
    return {d: {"civil": draw(probability), "defence": draw(probability)} for d in DESTINATIONS}


@st.composite
def effects(draw) -> dict[str, Any]:
    """The effects of one random licensing event: controls, terms or the extraterritorial rule."""
    kind = draw(st.sampled_from(["add", "remove", "replace", "terms", "extraterritorial"]))
    if kind == "add":
        return {"licensed_elements_add": draw(element_sets.filter(bool))}
    if kind == "remove":
        return {"licensed_elements_remove": draw(element_sets.filter(bool))}
    if kind == "replace":
        return {"licensed_elements": draw(element_sets)}
    if kind == "terms":
        return {
            "approval": approvals(draw),
            "review_working_days": draw(reviews),
        }
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
        "approval": approvals(draw, probability),
    }


@st.composite
def scenarios(draw) -> Scenario:
    """A small random scenario with one branch, `base`."""
    return make_scenario(
        draw(firm_tables()),
        events=[*key_events(), *draw(licensing_events())],
        **initial_policy(draw),
    )


seeds = st.integers(0, 2**32 - 1)


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
    """`run_branch`, failing (not hanging) if the engine loops."""
    with time_limit(RUN_TIMEOUT_S):
        return run_branch(scenario, branch, seed)


def first_stops(run: BranchRun) -> dict[str, int]:
    stops: dict[str, int] = {}
    for episode in run.result.episodes:
        stops[episode.firm_id] = min(stops.get(episode.firm_id, episode.stop_day), episode.stop_day)
    return stops


def total_lost(run: BranchRun) -> int:
    return int(run.timeline["cumulative_output_lost_usd"].iloc[-1])


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


# --- the event log ----------------------------------------------------------------------------


@given(scenarios(), seeds)
def test_event_log_is_sorted_by_date_then_seq(scenario, seed):
    """The event log (records and events.csv) is in (date, seq) order and seq counts from 0."""
    run = branch_run(scenario, "base", seed)
    log = run.result.log
    assert [record.seq for record in log] == list(range(len(log)))
    assert [record.day for record in log] == sorted(record.day for record in log)
    keys = list(zip(run.events["date"], run.events["seq"], strict=True))
    assert keys == sorted(keys)


@given(scenarios(), seeds)
def test_each_firm_alternates_stop_and_restart_starting_with_a_stop(scenario, seed):
    """In the log, each firm's firm-stopped and firm-restarted records alternate, stop first."""
    run = branch_run(scenario, "base", seed)
    for f in scenario.firms:
        kinds = [
            r.event_id
            for r in run.result.log
            if r.subject == f.id and r.event_id in ("firm-stopped", "firm-restarted")
        ]
        expected = ["firm-stopped", "firm-restarted"] * len(kinds)
        assert kinds == expected[: len(kinds)], f.id
        episodes = [e for e in run.result.episodes if e.firm_id == f.id]
        assert kinds.count("firm-stopped") == len(episodes)


@given(scenarios(), seeds)
def test_a_firms_stoppage_episodes_never_overlap(scenario, seed):
    """Per firm, episodes are disjoint day ranges [stop, restart); only the last may stay open."""
    run = branch_run(scenario, "base", seed)
    for f in scenario.firms:
        episodes = sorted(
            (e for e in run.result.episodes if e.firm_id == f.id), key=lambda e: e.stop_day
        )
        for earlier, later in zip(episodes, episodes[1:], strict=False):
            assert earlier.restart_day is not None, f.id
            assert earlier.stop_day <= earlier.restart_day <= later.stop_day, f.id
        if episodes and episodes[-1].restart_day is not None:
            assert episodes[-1].stop_day <= episodes[-1].restart_day < run.result.days


# --- the daily timeline ---------------------------------------------------------------------


@given(scenarios(), seeds)
def test_firms_stopped_each_day_is_the_number_of_open_episodes(scenario, seed):
    """timeline.firms_stopped on day d counts the episodes with stop <= d < restart (or the end)."""
    run = branch_run(scenario, "base", seed)
    days = run.result.days
    expected = [0] * days
    for e in run.result.episodes:
        for day in range(e.stop_day, days if e.restart_day is None else e.restart_day):
            expected[day] += 1
    assert len(run.timeline) == days
    assert run.timeline["firms_stopped"].tolist() == expected


@given(scenarios(), seeds)
def test_output_lost_adds_up_by_day_and_by_firm(scenario, seed):
    """Cumulative output lost never falls, is the running sum of daily losses, and its final
    value equals the total of firms.csv's and of stoppages.csv's output_lost_usd."""
    run = branch_run(scenario, "base", seed)
    daily = run.timeline["output_lost_usd"]
    cumulative = run.timeline["cumulative_output_lost_usd"]
    assert (daily >= 0).all()
    assert cumulative.is_monotonic_increasing
    assert cumulative.tolist() == daily.cumsum().tolist()
    assert total_lost(run) == run.firms["output_lost_usd"].sum()
    assert total_lost(run) == run.stoppages["output_lost_usd"].sum()


def test_output_lost_adds_up_with_fractional_daily_output():
    """A daily output in cents (here $1000.50) gives the same total by day and by firm."""
    scenario = make_scenario(
        [firm("m", elements=["Dy"], china_share=1.0, inventory_days=0, daily_output_usd=1000.5)],
        events=[*key_events(), DY_CONTROL],
    )
    run = branch_run(scenario)
    assert run.stoppages["days"].sum() > 1
    assert total_lost(run) == run.firms["output_lost_usd"].sum()


# --- when firms stop --------------------------------------------------------------------------


def test_a_review_of_zero_days_with_no_approval_ends():
    """Review 0 working days with approval 0 does not deny and re-apply forever on one day.

    (Refusing such a policy when the scenario is built would be a fix too.)
    """
    try:
        scenario = make_scenario(
            [firm("magnets", elements=["Dy"], china_share=1.0)],
            events=[*key_events(), DY_CONTROL],
            review_working_days=0,
            approval=approval(0.0, 0.0),
        )
    except ValidationError:
        return
    run = branch_run(scenario)
    assert run.firms.loc[0, "first_stop_date"] == "2025-05-31"


@given(scenarios(), seeds)
def test_a_firm_without_chinese_exposure_never_stops(scenario, seed):
    """A firm with no Chinese share or content, and no supplier that has one, never stops."""
    run = branch_run(scenario, "base", seed)
    stopped = {e.firm_id for e in run.result.episodes}
    assert not stopped - exposed_firms(scenario)


@given(scenarios(), seeds)
def test_no_firm_stops_before_its_first_cut_plus_its_cover(scenario, seed):
    """A stop caused by rare earths comes no earlier than first cut-off + inventory_days; one
    caused by a supplier no earlier than first cut-off + that supplier's buffer, nor earlier
    than the supplier's own first stop + that buffer."""
    run = branch_run(scenario, "base", seed)
    by_id = {f.id: f for f in scenario.firms}
    stops = first_stops(run)
    for e in run.result.episodes:
        f = by_id[e.firm_id]
        first_cut = run.result.first_cut[f.id]
        if e.cause.startswith("supplier ") and e.cause.endswith(" stopped"):
            supplier = e.cause.removeprefix("supplier ").removesuffix(" stopped")
            buffer = {link.firm: link.buffer_days for link in f.suppliers}[supplier]
            assert e.stop_day >= first_cut + buffer, (f.id, e)
            assert e.stop_day >= stops[supplier] + buffer, (f.id, e)
        else:
            assert f.elements, (f.id, e)
            assert e.stop_day >= first_cut + f.inventory_days, (f.id, e)


@given(scenarios(), seeds, st.data())
def test_more_inventory_never_makes_a_firm_stop_earlier(scenario, seed, data):
    """Same seed, one firm's inventory raised: its first stop is not earlier (or never comes)."""
    index = data.draw(st.integers(0, len(scenario.firms) - 1), label="firm")
    extra = data.draw(st.integers(1, 60), label="extra days")
    target = scenario.firms[index]
    richer = target.model_copy(update={"inventory_days": target.inventory_days + extra})
    firms = list(scenario.firms)
    firms[index] = richer
    before = first_stops(branch_run(scenario, "base", seed)).get(target.id, math.inf)
    after = first_stops(branch_run(rebuild(scenario, firms=firms), "base", seed))
    assert after.get(target.id, math.inf) >= before


# Removing a cutting event. A cut is not a fixed interval: it starts the firm's licence review,
# and the review's clock starts with the cut. So with any chance of approval an extra, earlier
# cut can end a stoppage SOONER (see the test after the property): with approval 1 and a review
# of 53 working days, a cut on Tue 2025-04-01 is lifted on Fri 06-13 (73 days) but the same cut
# a day later, on Wed 04-02, only on Mon 06-16 (75 days), because weekends are not working
# days; and an earlier cut, lifted earlier, leaves more time to restock before a later one.
# Probabilities in {0, 1} are therefore not enough (the thorough profile finds such cases);
# the property holds when no licence is ever granted (approval 0 everywhere): then every cut
# lasts to the end, and removing an event can only make cuts start later or not at all.
# The events only add controls, so the removed event takes nothing but a cut away.
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


@given(cutting_scenarios(), seeds)
def test_removing_a_cutting_event_never_increases_output_lost(pair, seed):
    """With no licence ever approved, one cut less never loses more output.

    Random approval draws, and even certain approval, break this (see the comment above
    `cut_effects` and the next test), so it is claimed for approval probability 0 only.
    """
    full, fewer = pair
    assert total_lost(branch_run(fewer, "base", seed)) <= total_lost(branch_run(full, "base", seed))


def test_with_certain_approval_an_extra_earlier_cut_can_shorten_a_stoppage():
    """Why the property above needs approval 0: a Dy control on Tue 04-01 and again on Wed 04-02
    stops a firm 73 days; without the first, 75 (53 working days from a Wednesday cross one
    more weekend than from a Tuesday)."""
    magnets = firm("f0", elements=["Dy"], china_share=1.0, inventory_days=0, ramp_days=0)
    magnets.update(daily_output_usd=1.0, lead_time_days=0)
    first = event("cut-a", "2025-04-01", effects={"licensed_elements_add": ["Dy"]})
    second = event("cut-b", "2025-04-02", effects={"licensed_elements_add": ["Dy"]})
    lost = []
    for cuts in ([first, second], [second]):
        scenario = make_scenario(
            [magnets], [*key_events(), *cuts], review_working_days=53, approval=approval(1.0)
        )
        lost.append(total_lost(branch_run(scenario)))
    assert lost == [73, 75]


# --- reproducibility -------------------------------------------------------------------------


@given(scenarios(), seeds)
def test_same_inputs_and_seed_give_identical_files(scenario, seed):
    """Two runs of equal scenarios (one rebuilt from its data) give byte-identical CSV files."""
    first = branch_run(scenario, "base", seed).files()
    second = branch_run(rebuild(scenario), "base", seed).files()
    assert first == second


@st.composite
def branching_scenarios(draw) -> Scenario:
    """Branch `same` is the catalog; branch `other` changes it only after the branch point."""
    catalog = [*key_events(), *draw(licensing_events())]
    later = st.dates(min_value=BRANCH_POINT + dt.timedelta(days=1), max_value=END)
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
        "redate": {"tariff-deadline-nov1": draw(later).isoformat()},
    }
    same = {"id": "same", "title": "same", "summary": "the catalog", "source": "test"}
    return make_scenario(
        draw(firm_tables()), events=catalog, branches=[same, other], **initial_policy(draw)
    )


@given(branching_scenarios(), seeds)
def test_branches_are_identical_before_the_branch_point(scenario, seed):
    """events.csv rows and timeline rows dated before the branch point are the same in both."""
    point = BRANCH_POINT.isoformat()
    runs = [branch_run(scenario, branch, seed) for branch in ("same", "other")]
    events = [run.events[run.events["date"] < point] for run in runs]
    timelines = [run.timeline[run.timeline["date"] < point].drop(columns="branch") for run in runs]
    pd.testing.assert_frame_equal(events[0], events[1])
    pd.testing.assert_frame_equal(timelines[0], timelines[1])
    assert len(timelines[0]) == (BRANCH_POINT - START).days
