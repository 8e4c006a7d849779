"""One plant: input stocks that drain or refill, and an output rate set by the scarcest input.

A plant has input stocks in days of cover: its rare-earth input (if it buys rare earths or
magnets) and a buffer of each other supplier's part. Each input flows at `avail`, the share of
normal supply arriving (0 to 1). While an input holds stock the plant can run at full rate from
it; an empty input caps the output rate at what arrives. So the output rate is

    rate = min over inputs of (1 if the stock is above zero else avail)

and a full stop is rate 0. A stock changes at (inflow - rate) a day, where inflow is `avail`,
or 1 + the restock rate while supply flows fully and the stock is below its cap (buyers order
above consumption to rebuild cover). A stopped plant keeps receiving what flows and restarts
once every input holds `restart_threshold_days` of cover or flows fully, after its ramp.

The plant is event-driven, with no process of its own: after every change it computes the next
whole day something happens by itself (a stock runs out, the at-risk window opens, a restart is
due) and schedules one wake-up for it; a change from outside (`set_avail`) updates the plant at
once and reschedules. Every pending timer is a field (`wake_day`), so a snapshot can hold it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from timeline.engine.trace import Kind, Recorder

EPS = 1e-9
RE = -1  # the cause code of the rare-earth input


class Clock(Protocol):
    """What a plant needs of the world: the time, a way to be woken, and its records."""

    now: int
    record: Recorder

    def wake(self, firm: Plant, day: int) -> None: ...


@dataclass(slots=True)
class Input:
    """One input stock. `source` is -1 for rare earths, else the supplier's firm index."""

    source: int
    level: float
    cap: float
    avail: float = 1.0


@dataclass(slots=True)
class Plant:
    """The state of one firm during a run (plain data: a snapshot copies it)."""

    index: int
    inputs: list[Input]
    restock: float
    at_risk: float
    threshold: float
    ramp: int
    rate: float = 1.0
    stopped_since: int | None = None
    restart_day: int | None = None
    wake_day: int | None = None
    at_risk_since: int | None = None
    first_cut: int | None = None
    recovered: int | None = None
    updated: int = 0
    customers: list[tuple[int, int, float]] = field(default_factory=list)
    # (customer firm index, input position at the customer or -1 for its rare-earth input, share)

    # --- the dynamics -----------------------------------------------------------------------
    def inflow(self, item: Input) -> float:
        if item.avail >= 1.0 - EPS:
            return 1.0 + self.restock if item.level < item.cap - EPS else self.rate
        return item.avail

    def advance(self, now: int) -> None:
        """Bring every stock from the last update to `now` (rates are constant in between):
        each changes by its drift, `inflow` less the rate, and none rises above its cap."""
        elapsed = now - self.updated
        if elapsed > 0:
            rate = self.rate
            full = 1.0 + self.restock
            for item in self.inputs:
                level, cap = item.level, item.cap
                if item.avail >= 1.0 - EPS:
                    change = (full if level < cap - EPS else rate) - rate
                else:
                    change = item.avail - rate
                if change > 0 and level >= cap - EPS:
                    change = 0.0  # full: nothing above the cap
                item.level = min(cap, max(0.0, level + change * elapsed))
        self.updated = now

    # --- changes ------------------------------------------------------------------------------
    def set_avail(self, world: Clock, position: int, avail: float) -> None:
        """The share of one input that arrives changes (position in `inputs`)."""
        item = self.inputs[position]
        if abs(item.avail - avail) < EPS:
            return
        self.advance(world.now)
        item.avail = avail
        self.update(world)

    def update(self, world: Clock) -> None:
        """Re-evaluate at `world.now`: stop, curtail, restart, risk; then schedule a wake-up."""
        now = world.now
        self.advance(now)
        inputs = self.inputs
        cut = False  # an input arrives short
        target = 1.0  # `target_rate`, in the same pass
        for item in inputs:
            avail = item.avail
            if avail < 1.0 - EPS:
                cut = True
            if item.level <= EPS and avail < target:
                target = avail
        target = max(0.0, target)
        if cut and self.first_cut is None:
            self.first_cut = now
        if self.stopped_since is None:
            rate = target
            if rate <= EPS:
                self._set_rate(world, 0.0)
            elif abs(rate - self.rate) > EPS:
                self._set_rate(world, rate)
        else:
            ready = True
            threshold = self.threshold
            for item in inputs:
                if item.avail < 1.0 - EPS and item.level < min(threshold, item.cap) - EPS:
                    ready = False
                    break
                if item.avail <= EPS and item.level <= EPS:
                    ready = False
                    break
            if not ready:
                self.restart_day = None
            elif self.restart_day is None:
                self.restart_day = now + self.ramp
            if self.restart_day is not None and now >= self.restart_day:
                self.restart_day = None
                self._set_rate(world, max(target, EPS))
        empty, capped = self._outlook()  # at the rate just set
        # the at-risk window: open while a stock will run out within `at_risk` days
        soon = self.stopped_since is None and empty <= self.at_risk + EPS
        if soon:
            if self.at_risk_since is None:
                self.at_risk_since = now
        elif self.at_risk_since is not None:
            world.at_risk(self, self.at_risk_since, now)
            self.at_risk_since = None
        if self.first_cut is not None and self.recovered is None and not cut and self.rate >= 1:
            self.recovered = now
        self._schedule(world, now, empty, capped)

    def _outlook(self) -> tuple[float, int]:
        """At the current rate, in one pass over the inputs (each one's drift as in `advance`,
        written out again: this is the plant's hot path): the days until the first stock runs
        out (inf if none does, or while stopped), and the whole days until the first stock that
        refills reaches its cap (0 if none does)."""
        rate = self.rate
        full = 1.0 + self.restock
        running = self.stopped_since is None
        empty = math.inf
        capped = 0
        for item in self.inputs:
            level, cap, avail = item.level, item.cap, item.avail
            if avail >= 1.0 - EPS:
                change = (full if level < cap - EPS else rate) - rate
            else:
                change = avail - rate
            if change < -EPS:
                if running and level > EPS:
                    empty = min(empty, level / -change)
            elif change > EPS and level < cap - EPS and avail >= 1.0 - EPS:
                # a stock reaching its cap changes what the plant buys
                days = (cap - level) / change
                if days > EPS:
                    days = math.ceil(days - EPS)
                    if capped == 0 or days < capped:
                        capped = days
        return empty, capped

    def cause(self) -> int:
        """The source of the empty input arriving least (the first such), or rare earths."""
        worst = None
        for item in self.inputs:
            if item.level <= EPS and (worst is None or item.avail < worst.avail):
                worst = item
        return worst.source if worst is not None else RE

    def _set_rate(self, world: Clock, rate: float) -> None:
        now = world.now
        before = self.rate
        if rate <= EPS:
            self.rate = 0.0
            self.stopped_since = now
            self.restart_day = None
            world.record(now, Kind.STOPPED, self.index, a=self.cause())
        elif self.stopped_since is not None:
            days = now - self.stopped_since
            self.stopped_since = None
            self.rate = rate
            world.record(now, Kind.RESTARTED, self.index, a=days, x=rate)
        else:
            self.rate = rate
            if rate >= 1.0 - EPS:
                self.rate = 1.0
                world.record(now, Kind.FULL_OUTPUT, self.index, x=1.0)
            else:
                world.record(now, Kind.CURTAILED, self.index, a=self.cause(), x=rate)
        world.rate_changed(self, now, before)

    def _schedule(self, world: Clock, now: int, empty: float, capped: int) -> None:
        """Schedule the next wake-up; `empty` and `capped` as `_outlook` gives them."""
        candidates: list[float] = []
        if self.stopped_since is None:
            if empty < math.inf:
                candidates.append(empty)
                if self.at_risk_since is None:
                    candidates.append(empty - self.at_risk)
        elif self.restart_day is not None:
            candidates.append(self.restart_day - now)
        else:
            for item in self.inputs:
                goal = min(self.threshold, item.cap)
                if item.avail < 1.0 - EPS and item.level < goal - EPS and item.avail > EPS:
                    candidates.append((goal - item.level) / self.inflow(item))
        wait = capped
        for c in candidates:
            if c > EPS:
                days = math.ceil(c - EPS)
                if wait == 0 or days < wait:
                    wait = days
        day = now + max(1, wait) if wait else None  # every wait is at least 1 day
        if day != self.wake_day or day is None:
            self.wake_day = day
            if day is not None:
                world.wake(self, day)
