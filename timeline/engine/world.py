"""Run one branch of a scenario with SimPy and return flat records of what happened.

The engine knows nothing of files, terminals or pandas: it takes a validated `Scenario`, a
branch id and a seed, and returns a `RunResult`. `timeline.results.tables` turns that into tables.

Order of events on one day: the policy process runs first, by construction (its timeouts are
created before any other), and applies that day's events in schedule order (date, `order`,
catalog position) as one batch, then tells the firms whose licensing changed; firm, licence and
shipment processes then run in SimPy's order (time, priority, insertion), which is
deterministic. Every state change is appended to the log with a running `seq`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import NamedTuple

import simpy

from timeline.engine.firm import Episode, FirmProcess
from timeline.engine.licence import RareEarthSupply
from timeline.model.policy import PolicyState
from timeline.model.scenario import Scenario
from timeline.model.schedule import Scheduled, resolve
from timeline.model.timescale import Timescale

_LICENSING_FIELDS = ("licensed_elements", "extraterritorial", "extraterritorial_threshold_pct")


class LogRecord(NamedTuple):
    """One state change, as one flat record (a row of events.csv once dated)."""

    day: int
    seq: int
    event_id: str
    kind: str
    actor: str
    subject: str
    title: str
    detail: str
    source: str


@dataclass
class RunResult:
    """Everything a run produced, as flat records. Days count from `start` (day 0)."""

    scenario: Scenario
    branch: str
    seed: int
    start: dt.date
    days: int
    schedule: list[Scheduled]
    log: list[LogRecord] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    policy_changes: list[tuple[int, PolicyState]] = field(default_factory=list)
    at_risk: list[tuple[str, int, int]] = field(default_factory=list)
    first_cut: dict[str, int] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)


class World:
    """The simulation of one branch: policy process, firm processes, and their records."""

    def __init__(self, scenario: Scenario, branch: str, seed: int, days: int) -> None:
        self.env = simpy.Environment()
        self.scale = Timescale(scenario.start)
        self.calendar = scenario.calendar
        self.policy = scenario.initial_policy
        self.restock_rate = scenario.parameters.restock_rate.value
        self.at_risk = scenario.parameters.at_risk_days.value
        self.seed = seed
        self._rngs: dict[str, random.Random] = {}
        self.result = RunResult(
            scenario, branch, seed, scenario.start, days, resolve(scenario, branch)
        )
        self.result.policy_changes.append((0, self.policy))
        # One timeout per event day, created before anything else: on each day SimPy then runs
        # the policy batch before every other event of that day (same time and priority go by
        # creation order), so licence decisions and firms see that day's policy.
        batches: dict[int, list[Scheduled]] = {}
        for item in self.result.schedule:
            batches.setdefault(self.scale.to_day(item.date), []).append(item)
        self._batches = [(self.env.timeout(day), items) for day, items in batches.items()]
        self._open: dict[str, Episode] = {}
        self.firms = {firm.id: FirmProcess(self, firm) for firm in scenario.firms}
        for proc in self.firms.values():
            for link in proc.firm.suppliers:
                self.firms[link.firm].customers.append(proc)
        self.supplies = [
            RareEarthSupply(self, proc) for proc in self.firms.values() if proc.firm.elements
        ]
        self.env.process(self.policy_process())

    def rng(self, firm_id: str) -> random.Random:
        """The random stream of one firm: independent of every other firm's draws."""
        if firm_id not in self._rngs:
            self._rngs[firm_id] = random.Random(f"{self.seed}/{firm_id}")
        return self._rngs[firm_id]

    def policy_process(self):
        for supply in self.supplies:  # controls already in force on the start date
            supply.on_policy(self.policy)
        for timeout, items in self._batches:
            yield timeout
            before = self.policy
            for item in items:
                self.apply(item)
            self.result.policy_changes.append((int(self.env.now), self.policy))
            if any(getattr(before, f) != getattr(self.policy, f) for f in _LICENSING_FIELDS):
                for supply in self.supplies:
                    supply.on_policy(self.policy)
            if self.policy.review_working_days < before.review_working_days:
                for supply in self.supplies:
                    supply.on_review_shortened(self.policy)

    def apply(self, item: Scheduled) -> None:
        event = item.event
        before = self.policy
        self.policy = before.apply(event.effects)
        old, new = before.flat(), self.policy.flat()
        changes = [f"{k} {old[k]} -> {new[k]}" for k in new if old[k] != new[k]]
        detail = "; ".join(part for part in [event.outcome.strip(), ", ".join(changes)] if part)
        self.record(event.id, event.kind, event.actor, "", event.title, detail, event.source)

    def record(
        self,
        event_id: str,
        kind: str,
        actor: str,
        subject: str,
        title: str,
        detail: str,
        source: str = "",
    ) -> None:
        log = self.result.log
        log.append(
            LogRecord(
                int(self.env.now),
                len(log),
                event_id,
                kind,
                actor,
                subject,
                title,
                " ".join(detail.split()),
                " ".join(source.split()),
            )
        )

    # --- called by firm processes -----------------------------------------------------------
    def stopped(self, proc: FirmProcess, day: int, cause: str) -> None:
        episode = Episode(proc.firm.id, day, cause)
        self._open[proc.firm.id] = episode
        self.result.episodes.append(episode)
        self.record(
            "firm-stopped",
            "firm",
            proc.firm.country,
            proc.firm.id,
            f"{proc.firm.name} stops",
            cause,
        )

    def restarted(self, proc: FirmProcess, day: int) -> None:
        episode = self._open.pop(proc.firm.id)
        episode.restart_day = day
        self.record(
            "firm-restarted",
            "firm",
            proc.firm.country,
            proc.firm.id,
            f"{proc.firm.name} restarts",
            f"inputs flow again; after {proc.firm.ramp_days} days' ramp-up; "
            f"stopped {day - episode.stop_day} days",
        )

    def at_risk_interval(self, proc: FirmProcess, start: int, end: int) -> None:
        if end > start:
            self.result.at_risk.append((proc.firm.id, start, end))

    def finish(self) -> RunResult:
        end = self.result.days
        for proc in self.firms.values():
            if proc.at_risk_since is not None:
                self.at_risk_interval(proc, proc.at_risk_since, end)
            if proc.first_cut is not None:
                self.result.first_cut[proc.firm.id] = proc.first_cut
            if proc.recovered is not None:
                self.result.recovered[proc.firm.id] = proc.recovered
        return self.result


def simulate(
    scenario: Scenario, branch: str, seed: int = 0, until: dt.date | None = None
) -> RunResult:
    """Run `branch` of `scenario` from its start to `until` (default: its end), inclusive."""
    last = min(until or scenario.end, scenario.end)
    days = (last - scenario.start).days + 1
    world = World(scenario, branch, seed, days)
    world.env.run(until=days)
    return world.finish()
