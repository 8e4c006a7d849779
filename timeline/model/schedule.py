"""Resolve a branch into its dated, ordered list of events.

A branch is the trunk (the catalog) with the branch's changes: cancelled events removed,
overridden fields replaced, re-dated events moved, added events appended after the catalog.
Relative dates (`after`) are resolved against the branch's own events, on China's working-day
calendar where asked. An event's `slip_days` moves it `round(slip_days)` calendar days later,
after its fixed date or its resolved relative date; events dated after it follow it. Same-day
events run in the order (date, `order`, catalog position).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from timeline.errors import ScheduleError, TimelineError
from timeline.model.scenario import After, Branch, Event, Scenario, WorkingCalendar


@dataclass(frozen=True)
class Scheduled:
    """One event of a branch, dated. `seq` is its 0-based position in the branch schedule."""

    date: dt.date
    seq: int
    event: Event


TRUNK = Branch(id="trunk", title="trunk", summary="the catalog alone", source="catalog")


def branch_events(events: tuple[Event, ...], branch: Branch) -> list[Event]:
    """The trunk with a branch's changes applied, in catalog order (added events last)."""
    ids = {event.id for event in events}
    for name, refs in (
        ("cancel", branch.cancel),
        ("redate", branch.redate),
        ("override", branch.override),
    ):
        for ref in refs:
            if ref not in ids:
                raise ScheduleError(
                    ref,
                    f"{name} names an event that is not in the catalog",
                    "use an id from catalog.yaml (timeline events --branch history lists them)",
                )
    out: list[Event] = []
    for event in events:
        if event.id in branch.cancel:
            continue
        if event.id in branch.override:
            override = branch.override[event.id]
            change = {
                name: getattr(override, name)
                for name in type(override).model_fields
                if getattr(override, name) is not None
            }
            event = event.model_copy(update=change)
        if event.id in branch.redate:
            when = branch.redate[event.id]
            if isinstance(when, After):
                event = event.model_copy(update={"date": None, "after": when})
            else:
                event = event.model_copy(update={"date": when, "after": None})
        out.append(event)
    added: set[str] = set()
    for event in branch.add:
        if event.id in added:
            raise ScheduleError(
                event.id, "two added events share this id", "give each added event its own id"
            )
        if event.id in ids:
            raise ScheduleError(
                event.id,
                "an added event reuses an id of the catalog",
                "give it a new id, or use override: to change the catalog event",
            )
        added.add(event.id)
        out.append(event)
    return out


def resolve_dates(events: list[Event], calendar: WorkingCalendar) -> dict[str, dt.date]:
    """Date every event; relative ones after the event they name. Cycles are an error."""
    by_id = {event.id: event for event in events}
    dates: dict[str, dt.date] = {}
    for event in events:
        path: list[str] = []
        current = event
        while current.id not in dates:
            if current.date is not None:
                dates[current.id] = _slipped(current, current.date)
                break
            if current.id in path:
                cycle = " -> ".join(path[path.index(current.id) :] + [current.id])
                raise ScheduleError(
                    current.id,
                    f"relative dates form a cycle ({cycle})",
                    "give one of these events a fixed date: instead of after:",
                )
            path.append(current.id)
            anchor = current.after.event
            if anchor not in by_id:
                raise ScheduleError(
                    current.id,
                    f"after.event {anchor!r} is not an event of this branch",
                    "point after.event at an existing (not cancelled) event id",
                )
            current = by_id[anchor]
        # unwind the chain of relative events, anchor first
        for event_id in reversed(path):
            after = by_id[event_id].after
            base = dates[after.event]
            try:
                if after.working_days is not None:
                    day = calendar.add_working_days(base, after.working_days)
                else:
                    day = base + dt.timedelta(days=after.days)
                dates[event_id] = _slipped(by_id[event_id], day)
            except OverflowError:
                raise ScheduleError(
                    event_id,
                    f"its date falls outside the dates a calendar can hold "
                    f"({dt.date.min}..{dt.date.max})",
                    "give the event (or the one it follows) a date inside the horizon",
                ) from None
    return dates


def _slipped(event: Event, day: dt.date) -> dt.date:
    """The day an event happens: its date moved by its slip, rounded to whole days."""
    slip = round(event.slip_days)
    if not slip:
        return day
    try:
        return day + dt.timedelta(days=slip)
    except OverflowError:
        raise ScheduleError(
            event.id,
            f"its date {day} plus its slip of {slip} days falls outside the dates a calendar "
            f"can hold ({dt.date.min}..{dt.date.max})",
            "give the event a date inside the horizon",
        ) from None


def resolve(scenario: Scenario, branch_id: str | None) -> list[Scheduled]:
    """The dated schedule of one branch (None: the trunk alone), in run order."""
    branch = TRUNK if branch_id is None else scenario.branch(branch_id)
    events = branch_events(scenario.events, branch)
    dates = resolve_dates(events, scenario.calendar)
    ordered = sorted(
        enumerate(events), key=lambda pair: (dates[pair[1].id], pair[1].order, pair[0])
    )
    return [
        Scheduled(date=dates[event.id], seq=seq, event=event)
        for seq, (_, event) in enumerate(ordered)
    ]


ALL = "all"  # the --branch value that means every branch


def branch_ids(scenario: Scenario, branch: str) -> list[str]:
    """`all` -> every branch; a known id -> itself; otherwise a one-line error."""
    if branch == ALL:
        return list(scenario.branch_ids)
    if branch not in scenario.branch_ids:
        raise TimelineError(
            "--branch",
            "",
            f"unknown branch {branch!r}",
            f"use one of: {', '.join(scenario.branch_ids)}, or all",
        )
    return [branch]
