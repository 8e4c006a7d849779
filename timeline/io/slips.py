"""Checks of event slips given as distributions, over their whole range, when a scenario loads.

Slips only delay (`slip_days >= 0`), and dates grow with every slip (a relative event follows
its anchor), so each event's earliest and latest date come from two schedules: every slip at
the lowest value its distribution can take, and every slip at the highest. A run draws slips
in between, so checking these two is checking every run:

- an event must not cross the branch point: before it, every branch is the shared trunk, so
  an event that is before it in some runs and on or after it in others is refused;
- every event stays within the horizon;
- the key events stay in their order.
"""

from __future__ import annotations

import datetime as dt

from timeline.io.uncertainyaml import Found
from timeline.model.scenario import KEY_EVENTS, Branch, Event, Scenario
from timeline.model.schedule import TRUNK, branch_events, resolve_dates

SLIP = ".slip_days"


def _slipped(event: Event, path: str, values: dict[str, float]) -> Event:
    if path not in values:
        return event
    return event.model_copy(update={"slip_days": values[path]})


def _with_slips(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """The scenario with these slips (path -> days), not validated again (dates only)."""
    events = tuple(_slipped(e, f"events[{e.id}]{SLIP}", values) for e in scenario.events)
    branches = []
    for branch in scenario.branches:
        prefix = f"branches[{branch.id}]"
        add = tuple(_slipped(e, f"{prefix}.add[{e.id}]{SLIP}", values) for e in branch.add)
        override = {
            event_id: change.model_copy(update={"slip_days": values[path]})
            if (path := f"{prefix}.override.{event_id}{SLIP}") in values
            else change
            for event_id, change in branch.override.items()
        }
        branches.append(branch.model_copy(update={"add": add, "override": override}))
    return scenario.model_copy(update={"events": events, "branches": tuple(branches)})


def _slip_path(branch: Branch, event_id: str) -> str:
    """The path of the slip an event of this branch carries."""
    prefix = f"branches[{branch.id}]"
    if branch is not TRUNK and event_id in branch.override:
        path = f"{prefix}.override.{event_id}{SLIP}"
        if branch.override[event_id].slip_days is not None:
            return path
    if branch is not TRUNK and any(e.id == event_id for e in branch.add):
        return f"{prefix}.add[{event_id}]{SLIP}"
    return f"events[{event_id}]{SLIP}"


def _chain(events: list[Event], event_id: str) -> list[str]:
    """The event and the events it is dated after, itself first."""
    by_id = {e.id: e for e in events}
    out = [event_id]
    while (after := by_id[out[-1]].after) is not None and after.event not in out:
        out.append(after.event)
    return out


def check_slips(scenario: Scenario, found: Found) -> None:
    """Raise a one-line error (file, line, fix) for the first slip whose range moves an event
    across the branch point, out of the horizon, or a key event past the next one."""
    slips = {path: (dist, doc, where) for path, dist, doc, where in found if path.endswith(SLIP)}
    if not slips:
        return
    low = _with_slips(scenario, {p: d.support[0] for p, (d, _, _) in slips.items()})
    high = _with_slips(scenario, {p: d.support[1] for p, (d, _, _) in slips.items()})
    point, start, end = scenario.branch_point, scenario.start, scenario.end
    for branch_id in [None, *scenario.branch_ids]:
        events = branch_events(scenario.events, _branch(scenario, branch_id))
        early = resolve_dates(branch_events(low.events, _branch(low, branch_id)), scenario.calendar)
        late = resolve_dates(
            branch_events(high.events, _branch(high, branch_id)), scenario.calendar
        )
        branch = _branch(scenario, branch_id)

        def culprit(event_id: str, events: list[Event] = events, branch: Branch = branch):
            """The slip that moves this event: its own, or that of an event it follows."""
            for link in _chain(events, event_id):
                path = _slip_path(branch, link)
                if path in slips:
                    return link, slips[path]
            return None

        for event in events:
            a, b = early[event.id], late[event.id]
            blame = culprit(event.id) if a != b else None
            if blame is None:
                continue
            anchor, (dist, doc, where) = blame
            which = f"event {event.id}" + ("" if anchor == event.id else f" (after {anchor})")
            if a < point <= b:
                raise doc.error(
                    where,
                    f"{dist.describe()} can move {which} from {a} to {b}, across the branch "
                    f"point {point} (events before it are the trunk every branch shares)",
                    f"narrow the slip so the event stays before {point}, or date it on or "
                    "after the branch point",
                )
            if b > end or a < start:
                raise doc.error(
                    where,
                    f"{dist.describe()} can move {which} to {b if b > end else a}, outside the "
                    f"horizon {start}..{end}",
                    "narrow the slip, or widen start/end in scenario.yaml",
                )
        _key_order(events, early, late, culprit)


def _key_order(events: list[Event], early: dict, late: dict, culprit) -> None:
    """Each key event's latest (date, order, position) stays before the next one's earliest,
    unless one is dated after the other (then they move together: both ends are checked)."""
    position = {e.id: i for i, e in enumerate(events)}
    by_id = {e.id: e for e in events}

    def key(dates: dict, event_id: str) -> tuple[dt.date, int, int]:
        return dates[event_id], by_id[event_id].order, position[event_id]

    keys = [k for k in KEY_EVENTS if k in by_id]
    for first, second in zip(keys, keys[1:], strict=False):
        linked = first in _chain(events, second) or second in _chain(events, first)
        if linked:
            bad = key(early, first) > key(early, second) or key(late, first) > key(late, second)
        else:
            bad = key(late, first) > key(early, second)
        if not bad:
            continue
        blame = culprit(first) or culprit(second)
        if blame is None:
            continue
        _, (dist, doc, where) = blame
        raise doc.error(
            where,
            f"{dist.describe()} can put key event {first} ({late[first]}) after {second} "
            f"({early[second]})",
            "narrow the slip so the key events keep their order: " + ", ".join(KEY_EVENTS),
        )


def _branch(scenario: Scenario, branch_id: str | None) -> Branch:
    return TRUNK if branch_id is None else scenario.branch(branch_id)
