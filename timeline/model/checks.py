"""Cross-checks of a whole scenario, run by `Scenario`'s validator however it was built.

Each defect raises a `ScenarioError`: a `TimelineError` that also says which part of the
scenario is at fault (`firms`, `catalog`, or `branch:<id>`), so the file loader can name the
file, while a scenario built in code names the part.
"""

from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING

from timeline.errors import ScheduleError, TimelineError
from timeline.model.uncertain import Distribution, format_cell, is_uncertain

if TYPE_CHECKING:
    from timeline.model.scenario import Scenario

RESERVED_BRANCH_IDS = frozenset({"all", "trunk"})


class ScenarioError(TimelineError):
    """A defect of a scenario; `part` is `firms`, `catalog` or `branch:<id>`."""

    def __init__(self, part: str, where: str, problem: str, fix: str) -> None:
        self.part = part
        super().__init__(part, where, problem, fix)


def check_scenario(scenario: Scenario, firms: bool = True) -> None:
    """Raise the first defect found, parts in file order: catalog, branches, firms (unless
    `firms` is false: the firm table is one already checked)."""
    _check_events(scenario)
    _check_branches(scenario)
    if firms:
        _check_firms(scenario)
    _check_schedules(scenario)


def _check_events(scenario: Scenario) -> None:
    from timeline.model.scenario import KEY_EVENTS

    seen: set[str] = set()
    for index, event in enumerate(scenario.events):
        if event.id in seen:
            raise ScenarioError(
                "catalog", f"events[{index}].id", f"duplicate event id {event.id!r}", "rename it"
            )
        seen.add(event.id)
    missing = [key for key in KEY_EVENTS if key not in seen]
    if missing:
        raise ScenarioError(
            "catalog",
            "events",
            f"key event(s) {', '.join(missing)} missing",
            "keep these four ids in the catalog: " + ", ".join(KEY_EVENTS),
        )


def _check_branches(scenario: Scenario) -> None:
    from timeline.model.scenario import KEY_EVENTS

    seen: set[str] = set()
    for branch in scenario.branches:
        part = f"branch:{branch.id}"
        if branch.id in RESERVED_BRANCH_IDS:
            raise ScenarioError(
                part, "id", f"branch id {branch.id!r} is reserved", "choose another id"
            )
        if branch.id in seen:
            raise ScenarioError(
                part, "id", f"branch id {branch.id!r} used twice", "give each branch its own id"
            )
        seen.add(branch.id)
        for key in KEY_EVENTS:
            if key in branch.cancel:
                raise ScenarioError(
                    part,
                    "cancel",
                    f"branch cancels key event {key!r}",
                    "override its outcome and effects instead of cancelling it",
                )
        added: set[str] = set()
        for index, event in enumerate(branch.add):
            if event.id in added:
                raise ScenarioError(
                    part,
                    f"add[{index}].id",
                    f"event id {event.id!r} is added twice in this branch",
                    "give each added event its own id",
                )
            added.add(event.id)


def _check_firms(scenario: Scenario) -> None:
    ids: dict[str, int] = {}
    for index, firm in enumerate(scenario.firms):
        if firm.id in ids:
            raise ScenarioError(
                "firms",
                f"firms[{index}].id",
                f"duplicate firm id {firm.id!r} (first at firms[{ids[firm.id]}])",
                "give each firm its own id",
            )
        ids[firm.id] = index
    magnet_makers = {firm.id for firm in scenario.firms if firm.sector.startswith("magnets")}
    for index, firm in enumerate(scenario.firms):
        linked: set[str] = set()
        for link in firm.suppliers:
            if link.firm not in ids:
                raise ScenarioError(
                    "firms",
                    f"firms[{index}].suppliers",
                    f"unknown supplier {link.firm!r} of firm {firm.id!r}",
                    "use the id of a firm in this table, or remove it",
                )
            if link.firm in linked:
                raise ScenarioError(
                    "firms",
                    f"firms[{index}].suppliers",
                    f"supplier {link.firm!r} listed twice for firm {firm.id!r}",
                    "list each supplier once",
                )
            linked.add(link.firm)
        magnet_links = [link for link in firm.suppliers if link.firm in magnet_makers]
        magnets = sum(_highest(link.share) for link in magnet_links)
        if firm.elements and _highest(firm.china_share) + magnets > 1 + 1e-9:
            shown = format_cell(firm.china_share)
            listed = " ".join(format_cell(link.share) for link in magnet_links)
            ranges = any(is_uncertain(link.share) for link in magnet_links)
            raise ScenarioError(
                "firms",
                f"firms[{index}].suppliers",
                f"china_share {shown} plus the shares of its magnet suppliers "
                f"({listed + ', at most ' if ranges else ''}{magnets:g}) exceed 1 for firm "
                f"{firm.id!r}",
                "make the Chinese share and the magnet suppliers' shares add up to at most 1"
                + (" over their whole ranges" if ranges or is_uncertain(firm.china_share) else ""),
            )
    if not _has_cycle(scenario, ids):
        return
    graph = {firm.id: [link.firm for link in firm.suppliers] for firm in scenario.firms}
    try:  # graphlib names the cycle
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        cycle = " -> ".join(err.args[1])
        raise ScenarioError(
            "firms",
            "suppliers",
            f"suppliers form a cycle ({cycle})",
            "remove one of these supplier links",
        ) from None


def _highest(value: float | Distribution) -> float:
    """A number, or the highest value a distribution can take."""
    return value.support[1] if is_uncertain(value) else value  # type: ignore[union-attr,return-value]


def _has_cycle(scenario: Scenario, ids: dict[str, int]) -> bool:
    """Whether supplier links form a cycle (Kahn's algorithm: a firm is done once all its
    suppliers are; a cycle leaves firms never done). Every supplier id is in `ids`."""
    firms = scenario.firms
    waiting = [len(firm.suppliers) for firm in firms]
    customers: list[list[int]] = [[] for _ in firms]
    for index, firm in enumerate(firms):
        for link in firm.suppliers:
            customers[ids[link.firm]].append(index)
    ready = [index for index, count in enumerate(waiting) if count == 0]
    done = 0
    while ready:
        index = ready.pop()
        done += 1
        for customer in customers[index]:
            waiting[customer] -= 1
            if waiting[customer] == 0:
                ready.append(customer)
    return done < len(firms)


def _check_schedules(scenario: Scenario) -> None:
    """Every branch dates cleanly, inside the horizon, with the key events in order, and
    equals the trunk before the branch point. The trunk is checked first."""
    from timeline.model.scenario import KEY_EVENTS
    from timeline.model.schedule import resolve

    before: list = []
    for branch_id in [None, *scenario.branch_ids]:
        part = "catalog" if branch_id is None else f"branch:{branch_id}"
        try:
            schedule = resolve(scenario, branch_id)
        except ScheduleError as err:
            raise ScenarioError(part, f"event {err.event_id}", err.problem, err.fix) from None
        for item in schedule:
            if not scenario.start <= item.date <= scenario.end:
                raise ScenarioError(
                    part,
                    f"event {item.event.id}",
                    f"date {item.date} is outside the horizon {scenario.start}..{scenario.end}",
                    "move the event inside the horizon or widen start/end in scenario.yaml",
                )
        keys = [item for item in schedule if item.event.id in KEY_EVENTS]
        for first, second in zip(keys, keys[1:], strict=False):
            if KEY_EVENTS.index(first.event.id) > KEY_EVENTS.index(second.event.id):
                raise ScenarioError(
                    part,
                    f"event {first.event.id}",
                    f"key event {first.event.id} ({first.date}) comes after "
                    f"{second.event.id} ({second.date})",
                    "keep the key events in their order: " + ", ".join(KEY_EVENTS),
                )
        mine = [(s.date, s.event) for s in schedule if s.date < scenario.branch_point]
        if branch_id is None:
            before = mine
        elif mine != before:
            pairs = zip(before, mine, strict=False)
            diff = next(
                (i for i, (a, b) in enumerate(pairs) if a != b), min(len(before), len(mine))
            )
            changed = (mine if len(mine) > diff else before)[diff][1].id
            raise ScenarioError(
                part,
                f"event {changed}",
                f"branch changes history before the branch point {scenario.branch_point}",
                "only add, cancel, re-date or override events on or after the branch point",
            )
