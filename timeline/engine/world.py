"""Run one branch of a scenario with SimPy and return flat, numeric records of what happened.

The engine knows nothing of files, terminals or pandas: it takes a validated `Scenario`, a
branch id, a seed and a replicate number, and returns a `RunResult`.

Time is kept in two layers. SimPy runs the policy process (one event per day with scheduled
events) and one event per day on which a firm's timer is due; the firms' timers themselves (a
licence decision, goods running dry or arriving, a plant waking) sit in a calendar of one small
heap per day, which that day's SimPy event empties in priority order. A SimPy queue holding one
event per timer grew with the network (every pending licence expiry and wake-up of 100,000
firms) and its pops came to dominate large runs; a day's heap holds only that day's timers.

Order of events on one day, by construction: the policy batch first (SimPy priority 0: that
day's events in schedule order, then the firms' licensing reacts), then the day's timers (SimPy
priority 1), by class: licence decisions (1), then goods running dry or arriving (2), then
plants waking by themselves (3); within a class, by firm and channel; a timer set for today
while the day runs takes its place in that order. A plant's reaction to a change from
outside is immediate (a supplier's stop reaches its customers within the same step). Nothing
depends on the order in which timers were created, so a world restored from a snapshot runs on
exactly as the original.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from heapq import heappop, heappush

import simpy
from simpy.events import Event

from timeline.engine.firm import EPS, Input, Plant
from timeline.engine.licence import (
    ARRIVE,
    DECIDE,
    DRY,
    EXPIRE,
    RENEW,
    SHIPPED,
    Channel,
    Supply,
)
from timeline.engine.params import FirmParams, params_for, scenario_for
from timeline.engine.streams import Streams
from timeline.engine.trace import Kind, NullRecorder, Record, Recorder
from timeline.model.policy import PolicyState
from timeline.model.scenario import Scenario
from timeline.model.schedule import Scheduled, resolve

_LICENSING = ("licensed_elements", "extraterritorial", "extraterritorial_threshold_pct")
_PACE = ("review_working_days", "review_spread", "rereview_working_days")
_CLASS = 10**8  # a timer's priority within its day = class * _CLASS + firm * 4 + channel
POLICY, TIMERS = 0, 1  # SimPy priorities on a day: the policy batch, then the day's timers
WAKE = 3


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Within the block, the garbage collector does not run (enabled again after, if it was).

    A run allocates many short-lived objects (events, tuples) and makes no lasting reference
    cycles (a processed SimPy event drops its callbacks), so collections during a run only walk
    a large, live heap for nothing: 22-44% of a run's CPU time from 4,300 firms up. Raising the
    thresholds instead leaves the collector's counts high, and restoring them then costs a full
    collection at the end of every `run`."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class RunResult:
    """What one run produced, as flat records. Days count from `start` (day 0).

    `rates` are the change points of each plant's output rate (day, firm index, rate, cause:
    -1 rare earths or the supplier's firm index, meaningful when the rate is below 1);
    `flows` those of the share of normal direct Chinese supply each buyer receives, restocking
    included (day, firm index, share). It carries the scenario's fingerprint, not the scenario.
    """

    branch: str
    seed: int
    replicate: int
    start: dt.date
    days: int
    fingerprint: str
    firm_ids: tuple[str, ...]
    schedule: list[Scheduled]
    records: list[Record] = field(default_factory=list)
    rates: list[tuple[int, int, float, int]] = field(default_factory=list)
    flows: list[tuple[int, int, float]] = field(default_factory=list)
    at_risk: list[tuple[int, int, int]] = field(default_factory=list)
    first_cut: dict[int, int] = field(default_factory=dict)
    recovered: dict[int, int] = field(default_factory=dict)
    policy_changes: list[tuple[int, PolicyState]] = field(default_factory=list)
    params: list[FirmParams] = field(default_factory=list)
    filings: list[list[int]] = field(default_factory=list)
    # direct-channel licence filings: [firm index, channel, day filed, day approved or -1]

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)


class World:
    """The simulation of one branch: the policy process, plants, supplies and their records."""

    def __init__(
        self,
        scenario: Scenario,
        branch: str,
        streams: Streams,
        days: int,
        record: bool = True,
    ) -> None:
        self._setup(scenario, simpy.Environment(), streams, scenario.initial_policy)
        self.record = Recorder() if record else NullRecorder()
        schedule = scenario.cached(("schedule", branch), lambda: resolve(scenario, branch))
        ids = tuple(f.id for f in scenario.firms)
        self.result = RunResult(
            branch,
            streams.seed,
            streams.replicate,
            scenario.start,
            days,
            scenario.fingerprint,
            ids,
            schedule,
            records=self.record.records,
        )
        self.result.policy_changes.append((0, self.policy))
        self.batches = self._batches(schedule)
        self.next_batch = 0
        with collector_paused():
            self.result.params = params_for(scenario, streams)
            self.plants, self.supplies = self._build(scenario, self.result.params)
        self.by_firm = {s.firm_index: s for s in self.supplies}
        self.china = [0.0] * len(self.plants)

    def _setup(
        self, scenario: Scenario, env: simpy.Environment, streams: Streams, policy: PolicyState
    ) -> None:
        """What a world takes from its scenario, whether new or restored."""
        parameters = scenario.parameters
        self.scenario = scenario
        self.env = env
        self.now = int(env.now)  # the day; set as each day's timers run and by `run`
        self.calendar_days: dict[int, list[tuple]] = {}  # day -> heap of its pending timers
        # the timers' methods, bound once (not once per timer set)
        self._due_bound, self._woken_bound = self._due, self._woken
        self.timers = 0  # timers set so far (their sequence numbers)
        self.ticks = 0  # SimPy events set so far to run a day's timers
        self.start_date = scenario.start
        self.calendar = scenario.calendar
        # working-day sums, remembered for the scenario (its start and calendar fix them)
        self._after: dict[tuple[int, int], int] = scenario.cached("working_days_after", dict)
        self._before: dict[tuple[int, int], int] = scenario.cached("working_days_before", dict)
        self.streams = streams
        self.policy = policy
        self.air_share = parameters.air_freight_share.value
        self.air_days = int(parameters.air_freight_days.value)
        self.pipeline = int(parameters.export_pipeline_days.value)
        self.valid_days = int(parameters.licence_valid_days.value)
        self.valid_spread = float(parameters.licence_valid_spread.value)
        self.renew_ahead = int(parameters.renew_ahead_working_days.value)

    def _batches(self, schedule: list[Scheduled]) -> list[tuple[int, list[Scheduled]]]:
        """The schedule as one batch of events per day, in day order."""
        batches: dict[int, list[Scheduled]] = {}
        for item in schedule:
            batches.setdefault(self.day(item.date), []).append(item)
        return sorted(batches.items())

    def _build(
        self, scenario: Scenario, params: list[FirmParams]
    ) -> tuple[list[Plant], list[Supply]]:
        index = {firm.id: i for i, firm in enumerate(scenario.firms)}
        p = scenario.parameters
        plants: list[Plant] = []
        supplies: list[Supply] = []
        link_shares: list[list[float]] = []  # per plant, the link share of each input (0: RE)
        for i, (firm, fp) in enumerate(zip(scenario.firms, params, strict=True)):
            inputs: list[Input] = []
            magnets: dict[int, float] = {}
            for link, share in zip(firm.suppliers, fp.shares, strict=True):
                supplier = scenario.firms[index[link.firm]]
                if firm.elements and supplier.sector.startswith("magnets"):
                    magnets[index[link.firm]] = share
            if firm.elements:
                cover = max(
                    [fp.inventory]
                    + [
                        b
                        for link, b in zip(firm.suppliers, fp.buffers, strict=True)
                        if index[link.firm] in magnets
                    ]
                )
                inputs.append(Input(-1, cover, cover))
                supplies.append(Supply.of(i, firm, magnets, fp))
            plant = Plant(
                i,
                inputs,
                p.restock_rate.value,
                p.at_risk_days.value,
                p.restart_threshold_days.value,
                fp.ramp,
            )
            shares = [0.0] * len(inputs)
            for link, buffer, share in zip(firm.suppliers, fp.buffers, fp.shares, strict=True):
                j = index[link.firm]
                if j in magnets:
                    continue
                plant.inputs.append(Input(j, buffer, buffer))
                shares.append(share)
            plants.append(plant)
            link_shares.append(shares)
        for plant, shares in zip(plants, link_shares, strict=True):
            for position, item in enumerate(plant.inputs):
                if item.source >= 0:
                    customer = (plant.index, position, shares[position])
                    plants[item.source].customers.append(customer)
        for supply in supplies:
            for j, (share, _) in supply.magnets.items():
                plants[j].customers.append((supply.firm_index, -1, share))
        return plants, supplies

    # --- time -----------------------------------------------------------------------------------
    def day(self, date: dt.date) -> int:
        return (date - self.start_date).days

    def date(self, day: int) -> dt.date:
        return self.start_date + dt.timedelta(days=day)

    def working_days_after(self, day: int, n: int) -> int:
        """The day on which `n` of China's working days after `day` have passed (`day` itself
        does not count; `n == 0` gives `day`). Remembered: many firms file on the same day, and
        every run of the scenario asks the same sums."""
        key = (day, n)
        due = self._after.get(key)
        if due is None:
            due = self.day(self.calendar.add_working_days(self.date(day), n))
            self._after[key] = due
        return due

    def working_days_before(self, day: int, n: int) -> int:
        """The working day from which `n` working days run to `day` (`n == 0` gives `day`)."""
        key = (day, n)
        start = self._before.get(key)
        if start is None:
            start = self.day(self.calendar.working_days_before(self.date(day), n))
            self._before[key] = start
        return start

    # --- timers ---------------------------------------------------------------------------------
    def at(self, day: int, kind: int, supply: Supply, channel: int) -> None:
        priority = kind * _CLASS + supply.firm_index * 4 + channel
        self._set(day, priority, self._due_bound, (kind, supply, channel))

    def _set(self, day: int, priority: int, fn, args: tuple) -> None:
        """A timer: `fn(*args)` on `day`, in `priority` order among that day's timers (equal
        priorities in the order they were set)."""
        heap = self.calendar_days.get(day)
        if heap is None:
            heap = self.calendar_days[day] = []
            self.ticks += 1
            tick = Event(self.env)
            tick._ok, tick._value = True, day
            tick.callbacks.append(self._run_timers)
            self.env.schedule(tick, TIMERS, day - self.env.now)
        self.timers = seq = self.timers + 1
        heappush(heap, (priority, seq, fn, args))

    def _run_timers(self, tick: Event) -> None:
        """Run `day`'s timers in order, including those set for it while it runs."""
        day = tick._value
        heap = self.calendar_days[day]
        self.now = day
        while heap:
            _, _, fn, args = heappop(heap)
            fn(*args)
        del self.calendar_days[day]

    def timers_run(self) -> int:
        """Timers run so far (superseded ones included: they fire and find nothing to do)."""
        return self.timers - sum(len(heap) for heap in self.calendar_days.values())

    def ticks_run(self) -> int:
        """SimPy events run so far that ran a day's timers."""
        return self.ticks - len(self.calendar_days)

    def _due(self, kind: int, supply: Supply, channel: int) -> None:
        target = supply.channels[channel]
        if kind == DECIDE:
            supply.decide(self, target)
        elif kind == DRY:
            supply.dry(self, target)
        elif kind == ARRIVE:
            supply.arrive(self, target)
        elif kind == SHIPPED:
            supply.shipped(self, target)
        elif kind == EXPIRE:
            supply.expire(self, target)
        elif kind == RENEW:
            supply.renew(self, target)

    def wake(self, plant: Plant, day: int) -> None:
        self._set(day, WAKE * _CLASS + plant.index * 4, self._woken_bound, (plant, day))

    def _woken(self, plant: Plant, day: int) -> None:
        if plant.wake_day == day:
            plant.wake_day = None
            plant.update(self)
            self._flow(plant)

    # --- what plants and supplies report -----------------------------------------------------
    def feed(self, supply: Supply) -> None:
        plant = self.plants[supply.firm_index]
        plant.set_avail(self, 0, supply.avail())
        self._flow_of(plant, supply)

    def rate_changed(self, plant: Plant, now: int, before: float) -> None:
        cause = plant.cause() if plant.rate < 1.0 else 0
        self.result.rates.append((now, plant.index, plant.rate, cause))
        for customer, position, share in plant.customers:
            if position >= 0:
                self.plants[customer].set_avail(self, position, 1.0 - share * (1.0 - plant.rate))
            else:
                supply = self.by_firm[customer]
                magnet_share, _ = supply.magnets[plant.index]
                supply.magnets[plant.index] = (magnet_share, plant.rate)
                self.feed(supply)
        self._flow(plant)

    def filed(self, supply: Supply, channel: Channel) -> int:
        self.result.filings.append([supply.firm_index, channel.index, self.now, -1])
        return len(self.result.filings) - 1

    def approved(self, filing: int) -> None:
        self.result.filings[filing][3] = self.now

    def at_risk(self, plant: Plant, start: int, end: int) -> None:
        if end > start:
            self.result.at_risk.append((plant.index, start, end))

    def _flow(self, plant: Plant) -> None:
        supply = self.by_firm.get(plant.index)
        if supply is not None:
            self._flow_of(plant, supply)

    def _flow_of(self, plant: Plant, supply: Supply) -> None:
        """Record the plant's direct Chinese flow if it changed (`supply` is the plant's)."""
        if supply.china <= 0:
            return
        item = plant.inputs[0]
        share = supply.china_flow()
        if share > 0 and item.avail >= 1.0 - EPS:  # restocking buys above consumption
            share *= plant.inflow(item)
        if abs(share - self.china[plant.index]) > EPS:
            self.china[plant.index] = share
            self.result.flows.append((self.now, plant.index, share))

    # --- policy -----------------------------------------------------------------------------------
    def _policy_process(self):
        while self.next_batch < len(self.batches):
            day, items = self.batches[self.next_batch]
            timer = Event(self.env)
            timer._ok, timer._value = True, None
            self.env.schedule(timer, POLICY, day - self.env.now)
            yield timer
            self.now = day
            self.next_batch += 1
            self.apply_batch(items)

    def apply_batch(self, items: list[Scheduled]) -> None:
        before = self.policy
        for item in items:
            self.policy = _applied(self.policy, item)
            self.record(self.now, Kind.POLICY, a=item.seq)
        self.result.policy_changes.append((self.now, self.policy))
        licensing = any(getattr(before, f) != getattr(self.policy, f) for f in _LICENSING)
        licensing = licensing or before.general_licences != self.policy.general_licences
        if licensing:
            for supply in self.supplies:
                supply.on_policy(self)
        if any(getattr(before, f) != getattr(self.policy, f) for f in _PACE):
            for supply in self.supplies:
                supply.on_pace(self)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        """Apply the controls in force on day 0, then let every plant look at its stocks."""
        with collector_paused():
            for supply in self.supplies:
                supply.on_policy(self)
            for plant in self.plants:
                plant.update(self)
                self._flow(plant)
        self.env.process(self._policy_process())

    def run(self, until: int) -> None:
        """Run every event before day `until` (the world then stands at the start of it)."""
        with collector_paused():
            self.env.run(until=until)
        self.now = int(self.env.now)

    def run_day(self, day: int) -> None:
        """Run every event of `day` too (the world then stands at its end)."""
        self.run(until=day)
        with collector_paused():
            self.env.run(until=day + 1e-9)
        self.now = day

    def finish(self) -> RunResult:
        end = self.result.days
        for plant in self.plants:
            if plant.at_risk_since is not None:
                self.at_risk(plant, plant.at_risk_since, end)
            if plant.first_cut is not None:
                self.result.first_cut[plant.index] = plant.first_cut
            if plant.recovered is not None:
                self.result.recovered[plant.index] = plant.recovered
        return self.result

    # --- state ------------------------------------------------------------------------------------
    def snapshot(self) -> WorldState:
        """The whole state between two days (after `run(until=day)`), as plain data."""
        return WorldState(
            day=self.now,
            policy=self.policy,
            next_batch=self.next_batch,
            plants=copy.deepcopy(self.plants),
            supplies=copy.deepcopy(self.supplies),
            china=list(self.china),
            result=copy.deepcopy(self.result),
        )

    @classmethod
    def restore(cls, scenario: Scenario, state: WorldState, branch: str | None = None) -> World:
        """A world that runs on from `state` exactly as the one it was taken from; with
        `branch`, as that branch (the state must be from on or before the branch point, where
        every branch is the trunk)."""
        result = copy.deepcopy(state.result)
        scenario = scenario_for(scenario, result.seed, result.replicate)  # posterior set, draws
        if branch is not None and branch != result.branch:
            if state.day > (scenario.branch_point - scenario.start).days:
                from timeline.errors import TimelineError

                raise TimelineError(
                    "state",
                    "",
                    "a state after the branch point belongs to its branch",
                    "save the state on or before the branch point",
                )
            result.branch = branch
            result.schedule = scenario.cached(
                ("schedule", branch), lambda: resolve(scenario, branch)
            )
        world = cls.__new__(cls)
        world._setup(
            scenario,
            simpy.Environment(initial_time=state.day),
            Streams(result.seed, result.replicate),
            state.policy,
        )
        world.record = Recorder()
        world.record.records = result.records
        world.result = result
        world.batches = world._batches(result.schedule)
        world.next_batch = sum(1 for day, _ in world.batches if day < state.day)
        world.plants = copy.deepcopy(state.plants)
        world.supplies = copy.deepcopy(state.supplies)
        world.by_firm = {s.firm_index: s for s in world.supplies}
        world.china = list(state.china)
        for plant in world.plants:
            if plant.wake_day is not None:
                world.wake(plant, plant.wake_day)
        for supply in world.supplies:
            for channel in supply.channels:
                for kind, day in (
                    (DECIDE, channel.due_day if channel.pending else None),
                    (DRY, channel.dry_day),
                    (ARRIVE, channel.arrive_day),
                    (SHIPPED, channel.ships_until),
                    (EXPIRE, channel.valid_until),
                    (RENEW, channel.renew_day),
                ):
                    if day is not None:
                        world.at(day, kind, supply, channel.index)
        world.env.process(world._policy_process())
        return world


_APPLIED: dict[tuple[int, int], tuple[PolicyState, Scheduled, PolicyState]] = {}


def _applied(state: PolicyState, item: Scheduled) -> PolicyState:
    """The state after an event, computed once per (state, event) object pair in a process:
    every run of a branch walks the same policy path."""
    key = (id(state), id(item))
    cached = _APPLIED.get(key)
    if cached is None or cached[0] is not state or cached[1] is not item:
        cached = (state, item, state.apply(item.event.effects))
        if len(_APPLIED) > 100_000:
            _APPLIED.clear()
        _APPLIED[key] = cached
    return cached[2]


@dataclass
class WorldState:
    """A running world between two days: plain data that pickles."""

    day: int
    policy: PolicyState
    next_batch: int
    plants: list[Plant]
    supplies: list[Supply]
    china: list[float]
    result: RunResult


def simulate(
    scenario: Scenario,
    branch: str,
    seed: int = 0,
    until: dt.date | str | None = None,
    replicate: int = 0,
    record: bool = True,
    start_from: dt.date | str | None = None,
    starts: list | None = None,
) -> RunResult:
    """Run `branch` of `scenario` from its start to `until` (default: its end), inclusive.

    `until` may be a date or an ISO date string. `record=False` keeps no event trace (the
    rates, flows and risk intervals are kept: they are what the metrics need). With
    `start_from` and `starts` (a list of `timeline.engine.start.FirmStart`), the plants named
    start on that day in the given state and what they did before is forgotten; policy events
    before that day still set the policy.
    """
    scenario.branch(branch)  # an unknown branch is a TimelineError
    scenario = scenario_for(scenario, seed, replicate)  # posterior set and draws
    last = min(_as_date(until) or scenario.end, scenario.end)
    days = (last - scenario.start).days + 1
    with collector_paused():  # one pause for the whole run: one collection after it
        world = World(scenario, branch, Streams(seed, replicate), max(days, 1), record)
        world.start()
        first = _as_date(start_from)
        if first is not None and starts is not None:
            from timeline.engine.start import apply_starts, forget_before

            day = min(max((first - scenario.start).days, 0), max(days, 1))
            world.run_day(day)  # the policy batch of that day first
            apply_starts(world, starts)
            forget_before(world)
        world.run(until=max(days, 1))
        return world.finish()


def run_on(scenario: Scenario, branch: str, state: WorldState, until: int | None = None):
    """Continue a snapshot taken in any branch (on or before the branch point) in `branch`."""
    scenario = scenario_for(scenario, state.result.seed, state.result.replicate)
    with collector_paused():
        world = World.restore(scenario, state, branch)
        world.run(until=until or world.result.days)
        return world.finish()


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    from timeline.errors import TimelineError

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TimelineError(
            "until", "", f"{value!r} is not a date", "use an ISO date such as 2026-03-31"
        ) from None
