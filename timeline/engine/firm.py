"""One firm as a SimPy process: inputs drain or refill, the plant stops and restarts.

A firm has input stocks, in days of cover: its rare-earth input (if it buys rare earths) and one
buffer per supplier. A stock drains at the share of supply that is cut (a firm with 70% of its
supply cut drains 0.7 day of cover a day) and refills at the scenario's restock rate once its
supply flows fully. The process is event-driven: after every change it computes the next day
something happens (a stock runs out, the firm enters the at-risk window, a restart is due) and
waits for that day or for an interrupt from whatever changed its supply.

Its rare-earth supply has two channels: direct purchases from China (`china_share`) and the
rest, which China's extraterritorial rule reaches when the Chinese content is above the
threshold. A channel whose elements are licensed is blocked until a licence is approved; see
`timeline.engine.licence`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from timeline.model.scenario import Firm

if TYPE_CHECKING:
    from timeline.engine.world import World

EPS = 1e-9


@dataclass
class Stock:
    """Days of cover of one input; `available` is the share of that input still flowing."""

    name: str
    level: float
    cap: float
    available: float = 1.0

    def rate(self, running: bool, restock: float) -> float:
        if self.available < 1.0 - EPS:
            return -(1.0 - self.available) if running else 0.0
        return restock if self.level < self.cap - EPS else 0.0

    def days_to_empty(self) -> float:
        """Days until this stock is empty while running (infinite if not draining)."""
        if self.available >= 1.0 - EPS:
            return math.inf
        return self.level / (1.0 - self.available)


@dataclass
class Episode:
    firm_id: str
    stop_day: int
    cause: str
    restart_day: int | None = None


@dataclass
class FirmProcess:
    """The state and process of one firm in a `World`."""

    world: World
    firm: Firm
    stocks: dict[str, Stock] = field(default_factory=dict)
    running: bool = True
    restart_day: int | None = None
    at_risk_since: int | None = None
    first_cut: int | None = None
    recovered: int | None = None
    customers: list[FirmProcess] = field(default_factory=list)
    re_cause: str = ""
    _updated: float = 0.0
    _woken: bool = True  # no interrupts before the process first runs

    def __post_init__(self) -> None:
        if self.firm.elements:
            cover = self.firm.inventory_days
            self.stocks["re"] = Stock("re", cover, cover)
        for link in self.firm.suppliers:
            self.stocks[link.firm] = Stock(link.firm, link.buffer_days, link.buffer_days)
        self.process = self.world.env.process(self.run())

    # --- changes from outside -------------------------------------------------------------
    def set_available(self, name: str, available: float, cause: str = "") -> None:
        """Change the flowing share of one input (advancing stocks to now first)."""
        stock = self.stocks[name]
        if abs(stock.available - available) < EPS:
            return
        self.advance()
        stock.available = available
        if name == "re":
            self.re_cause = cause
        self.wake()

    def wake(self) -> None:
        if not self._woken:
            self._woken = True
            self.process.interrupt()

    # --- the process ------------------------------------------------------------------------
    def run(self):
        env = self.world.env
        while True:
            self._woken = False
            self.advance()
            self.evaluate()
            wait = self.next_change()
            with contextlib.suppress(simpy.Interrupt):
                yield env.timeout(wait) if wait is not None else env.event()

    def advance(self) -> None:
        """Bring every stock from the last update to now (closed form: rates are constant)."""
        now = self.world.env.now
        elapsed = now - self._updated
        if elapsed > 0:
            restock = self.world.restock_rate
            for stock in self.stocks.values():
                rate = stock.rate(self.running, restock)
                stock.level = min(stock.cap, max(0.0, stock.level + rate * elapsed))
        self._updated = now

    def evaluate(self) -> None:
        """Stop, schedule a restart, or change the at-risk state, as the stocks say."""
        now = int(self.world.env.now)
        cut = [s for s in self.stocks.values() if s.available < 1.0 - EPS]
        if cut and self.first_cut is None:
            self.first_cut = now
        if self.running:
            empty = [s for s in cut if s.level <= EPS]
            if empty:
                self._stop(now, self._cause(empty[0]))
            elif min((s.days_to_empty() for s in cut), default=math.inf) <= self.world.at_risk:
                if self.at_risk_since is None:
                    self.at_risk_since = now
            else:
                self._end_risk(now)
        elif cut:
            self.restart_day = None
        elif self.restart_day is None:
            self.restart_day = now + self.firm.ramp_days
        if self.restart_day is not None and now >= self.restart_day:
            self._restart(now)
        if self.first_cut is not None and self.recovered is None and not cut and self.running:
            self.recovered = now

    def next_change(self) -> int | None:
        """Whole days until the next thing this firm does by itself, or None."""
        now = self.world.env.now
        candidates: list[float] = []
        if self.running:
            for stock in self.stocks.values():
                to_empty = stock.days_to_empty()
                if to_empty < math.inf:
                    candidates.append(to_empty)
                    if self.at_risk_since is None:
                        candidates.append(to_empty - self.world.at_risk)
        elif self.restart_day is not None:
            candidates.append(self.restart_day - now)
        waits = [math.ceil(c - EPS) for c in candidates if c > EPS]
        return max(1, min(waits)) if waits else None

    # --- state changes ----------------------------------------------------------------------
    def _cause(self, stock: Stock) -> str:
        if stock.name == "re":
            return self.re_cause or "rare-earth supply cut"
        return f"supplier {stock.name} stopped"

    def _stop(self, now: int, cause: str) -> None:
        self._end_risk(now)
        self.running = False
        self.restart_day = None
        self.world.stopped(self, now, cause)
        for customer in self.customers:
            customer.set_available(self.firm.id, 0.0)

    def _restart(self, now: int) -> None:
        self.running = True
        self.restart_day = None
        self.world.restarted(self, now)
        for customer in self.customers:
            customer.set_available(self.firm.id, 1.0)

    def _end_risk(self, now: int) -> None:
        if self.at_risk_since is not None:
            self.world.at_risk_interval(self, self.at_risk_since, now)
            self.at_risk_since = None
