"""Start plants on a chosen day in a given state (the planner's stocks and licences).

Plain data, no files: `timeline.io.statefile` reads and writes the CSV form. Policy events
before the day still set the policy state; what a plant did before the day is forgotten (its
stocks, rate and licences are the given ones), so no stoppage is reported before that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from timeline.engine.firm import EPS, Plant
from timeline.engine.licence import Supply

NONE, HELD, PENDING = "none", "held", "pending"


@dataclass(frozen=True)
class LicenceStart:
    status: str = NONE  # none | held | pending
    since: int | None = None  # pending: the day the application was filed
    until: int | None = None  # held: the day the licence lapses (None: no end)


@dataclass(frozen=True)
class FirmStart:
    """One plant's state on the start day. Stocks in days of cover at full output."""

    firm_id: str
    output_rate: float = 1.0
    re_days_of_cover: float | None = None
    buffers: dict[str, float] = field(default_factory=dict)  # supplier id -> days of cover
    direct: LicenceStart = LicenceStart()
    other: LicenceStart = LicenceStart()


def apply_starts(world, starts: list[FirmStart]) -> None:
    """Overwrite the plants named in `starts` with their given state, at `world.now`."""
    ids = world.result.firm_ids
    index = {firm_id: i for i, firm_id in enumerate(ids)}
    now = world.now
    for start in starts:
        i = index[start.firm_id]
        plant: Plant = world.plants[i]
        plant.advance(now)
        for item in plant.inputs:
            if item.source < 0 and start.re_days_of_cover is not None:
                item.level = min(item.cap, start.re_days_of_cover)
            elif item.source >= 0 and ids[item.source] in start.buffers:
                item.level = min(item.cap, start.buffers[ids[item.source]])
        supply: Supply | None = world.by_firm.get(i)
        if supply is not None:
            for channel in supply.channels:
                given = start.direct if channel.route == "direct" else start.other
                _licence(world, supply, channel, given)
            world.feed(supply)
        rate = max(0.0, min(1.0, start.output_rate))
        plant.rate = rate
        plant.stopped_since = now if rate <= EPS else None
        plant.restart_day = None
        plant.at_risk_since = None
        plant.first_cut = None
        plant.recovered = None
        plant.update(world)


def _licence(world, supply: Supply, channel, given: LicenceStart) -> None:
    if not channel.controlled:
        return  # no licence needed on this day: nothing to set
    channel.valid_until = None
    channel.renew_day = None
    channel.ships_until = None
    channel.dry_day = None
    channel.arrive_day = None
    if given.status == HELD:
        channel.covered = channel.controlled
        channel.pending = False
        channel.due_day = None
        channel.flowing = True
        if given.until is not None and given.until > world.now:
            supply.hold(world, channel, given.until)
    else:
        channel.covered = frozenset()
        channel.flowing = False
        channel.pending = False
        channel.due_day = None
        supply.file(world, channel, since=given.since if given.status == PENDING else None)


def forget_before(world) -> None:
    """Drop what plants did before today from the run's records (policy changes stay)."""
    now = world.now
    result = world.result
    result.records[:] = [r for r in result.records if r.day >= now or r.kind == 1]
    result.rates[:] = [r for r in result.rates if r[0] >= now]
    result.at_risk[:] = [r for r in result.at_risk if r[2] > now]
    for plant in world.plants:
        if plant.rate < 1.0:
            result.rates.append((now, plant.index, plant.rate, plant.cause()))


def starts_of(world) -> list[FirmStart]:
    """Every plant's state now, as `FirmStart`s (what `--save-state` writes)."""
    ids = world.result.firm_ids
    now = world.now
    out = []
    for plant in world.plants:
        plant.advance(now)
        re_cover = next((i.level for i in plant.inputs if i.source < 0), None)
        buffers = {ids[i.source]: round(i.level, 3) for i in plant.inputs if i.source >= 0}
        supply = world.by_firm.get(plant.index)
        direct = other = LicenceStart()
        if supply is not None:
            direct = _licence_of(supply, "direct")
            other = _licence_of(supply, "other")
        out.append(
            FirmStart(
                ids[plant.index],
                round(plant.rate, 4),
                None if re_cover is None else round(re_cover, 3),
                buffers,
                direct,
                other,
            )
        )
    return out


def _licence_of(supply: Supply, route: str) -> LicenceStart:
    channels = [c for c in supply.channels if c.route == route and c.controlled]
    if not channels:
        return LicenceStart()
    pending = [c for c in channels if c.pending]
    if pending:
        return LicenceStart(PENDING, since=min(c.applied_day for c in pending))
    if all(not c.missing for c in channels):
        until = [c.valid_until for c in channels if c.valid_until is not None]
        return LicenceStart(HELD, until=min(until) if until else None)
    return LicenceStart()
