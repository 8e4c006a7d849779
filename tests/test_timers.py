"""The engine's timer calendar: one heap per day, run by one SimPy event per day.

A firm's timers (a licence decision, goods running dry or arriving, a plant waking) run in day
order, then by priority, equal priorities in the order they were set; a timer set for today
while the day runs takes its place in that order; a day's policy batch comes before its timers.
These are the rules the golden logs rely on, tested here on bare timers.
"""

from __future__ import annotations

from collections.abc import Callable

from timeline.engine.streams import Streams
from timeline.engine.world import World


def fresh_world(scenario) -> World:
    days = (scenario.end - scenario.start).days + 1
    return World(scenario.variant(0), "history", Streams(0, 0), days, record=False)


def logged_world(scenario) -> tuple[World, list[tuple[int, str]], Callable[[str], None]]:
    """A fresh world, the log of (day, name) its timers write, and the timer that writes it."""
    world = fresh_world(scenario)
    ran: list[tuple[int, str]] = []

    def note(name: str) -> None:
        ran.append((world.now, name))

    return world, ran, note


def test_timers_run_by_day_then_priority_then_in_the_order_set(default_scenario):
    world, ran, note = logged_world(default_scenario)

    for day, priority, name in [
        (3, 5, "d3-p5"),
        (1, 9, "d1-p9"),
        (3, 1, "d3-p1"),
        (1, 9, "d1-p9-second"),
        (2, 0, "d2-p0"),
        (1, 2, "d1-p2"),
    ]:
        world._set(day, priority, note, (name,))
    world.run(until=10)
    assert ran == [
        (1, "d1-p2"),
        (1, "d1-p9"),
        (1, "d1-p9-second"),
        (2, "d2-p0"),
        (3, "d3-p1"),
        (3, "d3-p5"),
    ]
    assert world.timers_run() == 6 and world.ticks_run() == 3


def test_a_timer_set_for_today_while_it_runs_takes_its_place(default_scenario):
    world, ran, note = logged_world(default_scenario)

    def first() -> None:
        note("first")
        world._set(world.now, 3, note, ("set today, before last",))
        world._set(world.now, 20, note, ("set today, after last",))
        world._set(world.now + 2, 0, note, ("set for later",))

    world._set(4, 1, first, ())
    world._set(4, 10, note, ("last",))
    world.run(until=10)
    assert ran == [
        (4, "first"),
        (4, "set today, before last"),
        (4, "last"),
        (4, "set today, after last"),
        (6, "set for later"),
    ]
    assert world.calendar_days == {}  # nothing left pending


def test_a_days_policy_batch_runs_before_its_timers(default_scenario):
    world = fresh_world(default_scenario)
    world.start()
    day, _ = world.batches[1]  # the second day with policy events
    seen: list[int] = []
    world._set(day, 0, lambda: seen.append(world.next_batch), ())
    world.run(until=day + 1)
    assert seen == [2]  # both batches up to that day applied when the timer ran


def test_a_timer_set_after_its_day_ran_still_runs_first(default_scenario):
    """`run_day` stands at the end of a day; a timer set then for that day (a planner's start
    filed with a decision due today) runs before the next day's timers, on its own day."""
    world = fresh_world(default_scenario)
    ran: list[tuple[int, str]] = []
    world._set(5, 1, lambda: ran.append((world.now, "on day 5")), ())
    world.run_day(5)
    world._set(5, 1, lambda: ran.append((world.now, "set late for day 5")), ())
    world._set(6, 0, lambda: ran.append((world.now, "day 6")), ())
    world.run(until=10)
    assert ran == [(5, "on day 5"), (5, "set late for day 5"), (6, "day 6")]
