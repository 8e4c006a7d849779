"""Resolving a branch into its dated schedule: key events, ordering, relative dates, changes."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import event, firm, key_events, make_scenario

from timeline.errors import TimelineError
from timeline.model.scenario import KEY_EVENTS
from timeline.model.schedule import TRUNK, resolve

D = dt.date.fromisoformat
BRANCHES = ("history", "concede", "deescalate", "decouple")
KEY_DATES = {
    "kl-talks": D("2025-10-25"),
    "busan-summit": D("2025-10-30"),
    "tariff-deadline-nov1": D("2025-11-01"),
    "rare-earth-rules-dec1": D("2025-12-01"),
}


def ids(schedule) -> list[str]:
    return [item.event.id for item in schedule]


def dates(schedule) -> dict[str, dt.date]:
    return {item.event.id: item.date for item in schedule}


def tiny(events, branches=None):
    return make_scenario([firm("f")], events=events, branches=branches)


def test_default_scenario_has_the_four_branches(default_scenario):
    """The shipped scenario defines exactly the four outcome branches."""
    assert set(default_scenario.branch_ids) == set(BRANCHES)


@pytest.mark.parametrize("branch", BRANCHES)
def test_key_events_in_order_on_their_dates(default_scenario, branch):
    """Every branch has the four key events, in the design's order, on their dates."""
    schedule = resolve(default_scenario, branch)
    order = ids(schedule)
    positions = [order.index(key) for key in KEY_EVENTS]
    assert positions == sorted(positions)
    assert {key: dates(schedule)[key] for key in KEY_EVENTS} == KEY_DATES


@pytest.mark.parametrize("branch", BRANCHES)
def test_history_before_branch_point_is_shared(default_scenario, branch):
    """Before the branch point every branch has the trunk's (date, event) list."""
    point = default_scenario.branch_point
    trunk = [(s.date, s.event) for s in resolve(default_scenario, None) if s.date < point]
    mine = [(s.date, s.event) for s in resolve(default_scenario, branch) if s.date < point]
    assert trunk, "the trunk has events before the branch point"
    assert mine == trunk


@pytest.mark.parametrize("branch", [None, *BRANCHES])
def test_schedule_sorted_by_date_order_position(default_scenario, branch):
    """The schedule runs in (date, order, catalog position) order with seq 0, 1, 2, ..."""
    spec = default_scenario.branch(branch) if branch else TRUNK
    catalog = [e.id for e in default_scenario.events]
    position = {event_id: i for i, event_id in enumerate([*catalog, *(e.id for e in spec.add)])}
    schedule = resolve(default_scenario, branch)
    keys = [(s.date, s.event.order, position[s.event.id]) for s in schedule]
    assert keys == sorted(keys)
    assert [s.seq for s in schedule] == list(range(len(schedule)))
    assert sorted(ids(schedule)) == sorted(set(position) - set(spec.cancel))


def test_same_day_catalog_position():
    """Same-day events with equal `order` run in catalog order."""
    scenario = tiny([*key_events(), event("a", "2025-06-01"), event("b", "2025-06-01")])
    assert ids(resolve(scenario, "base"))[:2] == ["a", "b"]


def test_same_day_order_beats_position():
    """A lower `order` runs first on the same day, whatever the catalog position."""
    scenario = tiny([*key_events(), event("a", "2025-06-01", order=1), event("b", "2025-06-01")])
    assert ids(resolve(scenario, "base"))[:2] == ["b", "a"]


def test_override_order_swaps_same_day_events():
    """A branch overriding `order` swaps two same-day events after the branch point."""
    swap = {
        "id": "swap",
        "title": "swap",
        "summary": "a after b",
        "source": "test",
        "override": {"a": {"order": 1}},
    }
    scenario = tiny(
        [*key_events(), event("a", "2025-11-15"), event("b", "2025-11-15")],
        branches=[swap],
    )
    trunk, branch = ids(resolve(scenario, None)), ids(resolve(scenario, "swap"))
    assert trunk.index("a") + 1 == trunk.index("b")
    assert branch.index("b") + 1 == branch.index("a")


def _refused(events, branch) -> str:
    """The one-line error of building a tiny scenario with `events` and `branch`."""
    with pytest.raises(TimelineError) as err:
        tiny(events, branches=[branch])
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    "edit",
    [
        {"override": {"a": {"order": 1}}},
        {"cancel": ["a"]},
        {"redate": {"a": "2025-06-02"}},
        {"add": [event("early", "2025-06-01")]},
    ],
    ids=["override", "cancel", "redate", "add"],
)
def test_branch_changing_history_is_refused_at_construction(edit):
    """A scenario built in code whose branch touches an event before the branch point raises a
    one-line TimelineError when it is built, naming the branch."""
    branch = {"id": "meddle", "title": "meddle", "summary": "edits history", "source": "test"}
    text = _refused(
        [*key_events(), event("a", "2025-06-01"), event("b", "2025-06-01")], {**branch, **edit}
    )
    assert "meddle" in text
    assert "branch point" in text


def test_branch_cancelling_a_key_event_is_refused_at_construction():
    """A branch may not cancel one of the four key events."""
    branch = {
        "id": "nokey",
        "title": "nokey",
        "summary": "cancels the summit",
        "source": "test",
        "cancel": ["busan-summit"],
    }
    assert "busan-summit" in _refused(key_events(), branch)


def test_relative_dates_in_a_cycle_are_refused_at_construction():
    """Two events dated after each other cannot be dated: refused when built."""
    branch = {"id": "base", "title": "base", "summary": "no change", "source": "test"}
    events = [
        *key_events(),
        event("x", None, after={"event": "y", "days": 1}),
        event("y", None, after={"event": "x", "days": 1}),
    ]
    text = _refused(events, branch)
    assert "x" in text and "y" in text


def test_key_events_out_of_order_are_refused_at_construction():
    """A branch that re-dates a key deadline before the summit is refused when built."""
    branch = {
        "id": "early",
        "title": "early",
        "summary": "deadline first",
        "source": "test",
        "redate": {"tariff-deadline-nov1": "2025-10-30"},
        "override": {"tariff-deadline-nov1": {"order": -1}},
    }
    assert "comes after" in _refused(key_events(), branch)


def test_added_event_follows_catalog_on_same_day():
    """An added event with the same date and order as a catalog event runs after it."""
    add = {
        "id": "more",
        "title": "more",
        "summary": "adds one",
        "source": "test",
        "add": [event("z-added", "2025-11-01", kind="deadline")],
    }
    scenario = tiny(key_events(), branches=[add])
    order = ids(resolve(scenario, "more"))
    assert order.index("z-added") == order.index("tariff-deadline-nov1") + 1


def test_after_calendar_days():
    """`after: {event, days}` is that many calendar days after its anchor."""
    scenario = tiny(
        [*key_events(), event("later", None, after={"event": "busan-summit", "days": 10})]
    )
    assert dates(resolve(scenario, "base"))["later"] == D("2025-11-09")


def test_after_negative_days():
    """Negative `days` put an event before its anchor."""
    scenario = tiny(
        [*key_events(), event("eve", None, after={"event": "busan-summit", "days": -1})]
    )
    assert dates(resolve(scenario, "base"))["eve"] == D("2025-10-29")


def test_after_working_days_weekends_only():
    """`after: {event, working_days}` counts working days (here Thu Oct 30 + 2 = Mon Nov 3)."""
    scenario = tiny(
        [*key_events(), event("wd", None, after={"event": "busan-summit", "working_days": 2})]
    )
    assert dates(resolve(scenario, "base"))["wd"] == D("2025-11-03")


def test_after_working_days_uses_scenario_calendar(default_scenario):
    """Working days follow the scenario's calendar: Sep 30 + 1 is Oct 9 across Golden Week."""
    scenario = tiny(
        [
            *key_events(),
            event("gw", "2025-09-30"),
            event("after-gw", None, after={"event": "gw", "working_days": 1}),
        ]
    ).model_copy(update={"calendar": default_scenario.calendar})
    assert dates(resolve(scenario, "base"))["after-gw"] == D("2025-10-09")


def test_chained_relative_events():
    """A relative event may anchor on another relative event."""
    scenario = tiny(
        [
            *key_events(),
            event("c2", None, after={"event": "c1", "days": 3}),
            event("c1", None, after={"event": "kl-talks", "days": 2}),
        ]
    )
    got = dates(resolve(scenario, "base"))
    assert (got["c1"], got["c2"]) == (D("2025-10-27"), D("2025-10-30"))


def test_redate_to_date_moves_event():
    """`redate: {id: date}` moves the event to that date."""
    branch = {
        "id": "late",
        "title": "late",
        "summary": "moves one",
        "source": "test",
        "redate": {"x": "2025-12-15"},
    }
    scenario = tiny([*key_events(), event("x", "2025-11-05")], branches=[branch])
    assert dates(resolve(scenario, None))["x"] == D("2025-11-05")
    assert dates(resolve(scenario, "late"))["x"] == D("2025-12-15")


def test_redate_to_after_moves_event_and_dependants():
    """`redate: {id: {event, days}}` makes the event relative; events after it follow."""
    branch = {
        "id": "rel",
        "title": "rel",
        "summary": "re-dates relative",
        "source": "test",
        "redate": {"x": {"event": "rare-earth-rules-dec1", "days": 14}},
    }
    scenario = tiny(
        [
            *key_events(),
            event("x", "2025-11-05"),
            event("y", None, after={"event": "x", "days": 1}),
        ],
        branches=[branch],
    )
    got = dates(resolve(scenario, "rel"))
    assert (got["x"], got["y"]) == (D("2025-12-15"), D("2025-12-16"))


def test_cancel_removes_event():
    """`cancel` drops the event from the branch only."""
    branch = {
        "id": "calm",
        "title": "calm",
        "summary": "cancels one",
        "source": "test",
        "cancel": ["x"],
    }
    scenario = tiny([*key_events(), event("x", "2025-11-05")], branches=[branch])
    assert "x" in ids(resolve(scenario, None))
    assert "x" not in ids(resolve(scenario, "calm"))


def test_override_replaces_given_fields_only():
    """`override` replaces the fields it gives and keeps the others."""
    branch = {
        "id": "ov",
        "title": "ov",
        "summary": "overrides one",
        "source": "test",
        "override": {
            "x": {"outcome": "new outcome", "effects": {"us_tariff_on_cn_pct": 130}},
        },
    }
    original = event("x", "2025-11-05", title="old title", effects={"cn_tariff_on_us_pct": 10})
    scenario = tiny([*key_events(), original], branches=[branch])
    changed = next(s.event for s in resolve(scenario, "ov") if s.event.id == "x")
    assert changed.outcome == "new outcome"
    assert changed.effects.us_tariff_on_cn_pct == 130
    assert changed.effects.cn_tariff_on_us_pct is None  # effects are replaced as a whole
    assert changed.title == "old title"
    trunk = next(s.event for s in resolve(scenario, None) if s.event.id == "x")
    assert trunk.outcome == "" and trunk.effects.cn_tariff_on_us_pct == 10


def test_add_inserts_event_at_its_date():
    """`add` puts a new event into the branch, in date order."""
    branch = {
        "id": "more",
        "title": "more",
        "summary": "adds one",
        "source": "test",
        "add": [event("new", "2025-11-15")],
    }
    scenario = tiny(key_events(), branches=[branch])
    order = ids(resolve(scenario, "more"))
    assert order == [
        "kl-talks",
        "busan-summit",
        "tariff-deadline-nov1",
        "new",
        "rare-earth-rules-dec1",
    ]
    assert "new" not in ids(resolve(scenario, None))


def test_added_event_relative_to_catalog_event():
    """An added event may be dated relative to a catalog event (decouple's halt of licences)."""
    branch = {
        "id": "more",
        "title": "more",
        "summary": "adds one",
        "source": "test",
        "add": [event("new", None, after={"event": "busan-summit", "days": 7})],
    }
    scenario = tiny(key_events(), branches=[branch])
    assert dates(resolve(scenario, "more"))["new"] == D("2025-11-06")


def test_default_relative_event_resolves(default_scenario):
    """Decouple's `cn-halts-us-licences` falls 7 days after `us-bank-sanctions`."""
    got = dates(resolve(default_scenario, "decouple"))
    assert got["cn-halts-us-licences"] == got["us-bank-sanctions"] + dt.timedelta(days=7)
