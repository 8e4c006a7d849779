"""Per-run metrics in numpy, straight from a `RunResult`'s change points.

Nothing loops over firms x days: daily series are cumulative sums of +/- changes on the days an
output rate changes. Value is counted two ways: gross output lost (what a plant did not make,
its own output value) and value added lost (that times the plant's value-added share, so a
motor lost inside a car is not counted twice in totals). Output that a plant makes up later,
at `makeup_rate` of its daily output once it runs fully again, is deferred, not lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from timeline.engine.world import RunResult
from timeline.model.policy import DESTINATIONS, destination_of
from timeline.model.scenario import Scenario
from timeline.model.uncertain import point

FLOW_DESTINATIONS = (*DESTINATIONS, "world")


@dataclass(frozen=True)
class Spans:
    """Periods of reduced output: one row per (firm, start, end) at a constant rate < 1."""

    firm: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rate: np.ndarray
    cause: np.ndarray


@dataclass(frozen=True)
class FirmValues:
    """What each firm's output is worth per day, gross and in value added."""

    daily: np.ndarray
    value_added: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario) -> FirmValues:
        p = scenario.parameters
        daily = np.array([f.daily_output_usd for f in scenario.firms], dtype=float)
        share = np.array(
            [
                f.value_added_share if f.value_added_share is not None else p.value_added(f.sector)
                for f in scenario.firms
            ],
            dtype=float,
        )
        return cls(daily, daily * share)


def spans(result: RunResult) -> Spans:
    """The reduced-output periods of a run, from its rate change points."""
    if not result.rates:
        empty = np.zeros(0, dtype=np.int64)
        return Spans(empty, empty, empty, np.zeros(0), empty)
    data = np.array(result.rates, dtype=float)
    day, firm, rate, cause = (data[:, i] for i in range(4))
    order = np.lexsort((np.arange(len(day)), firm))  # by firm, then in time order
    day, firm, rate, cause = day[order], firm[order], rate[order], cause[order]
    same_next = np.r_[(firm[1:] == firm[:-1]) & (day[1:] == day[:-1]), False]
    keep = ~same_next  # of several changes on one day, the last holds
    day, firm, rate, cause = day[keep], firm[keep], rate[keep], cause[keep]
    last_of_firm = np.r_[firm[1:] != firm[:-1], True]
    end = np.where(last_of_firm, result.days, np.r_[day[1:], 0])
    low = (rate < 1.0 - 1e-9) & (end > day)
    return Spans(
        firm[low].astype(np.int64),
        day[low].astype(np.int64),
        end[low].astype(np.int64),
        np.round(rate[low], 6),
        cause[low].astype(np.int64),
    )


def daily_sum(days: int, start: np.ndarray, end: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per day, the sum of `weight` over the intervals [start, end) covering it."""
    delta = np.zeros(days + 1)
    np.add.at(delta, start, weight)
    np.add.at(delta, end, -weight)
    return np.cumsum(delta)[:days]


@dataclass(frozen=True)
class Daily:
    firms_stopped: np.ndarray
    firms_curtailed: np.ndarray
    firms_at_risk: np.ndarray
    output_lost_usd: np.ndarray
    value_added_lost_usd: np.ndarray


def daily(result: RunResult, values: FirmValues, s: Spans | None = None) -> Daily:
    s = spans(result) if s is None else s
    n = result.days
    stopped = s.rate <= 1e-9
    shortfall = 1.0 - s.rate
    risk = np.array(result.at_risk, dtype=np.int64).reshape(-1, 3)
    return Daily(
        np.rint(daily_sum(n, s.start, s.end, stopped.astype(float))).astype(np.int64),
        np.rint(daily_sum(n, s.start, s.end, (~stopped).astype(float))).astype(np.int64),
        np.rint(daily_sum(n, risk[:, 1], risk[:, 2], np.ones(len(risk)))).astype(np.int64),
        daily_sum(n, s.start, s.end, shortfall * values.daily[s.firm]),
        daily_sum(n, s.start, s.end, shortfall * values.value_added[s.firm]),
    )


@dataclass(frozen=True)
class Episode:
    """A period of reduced output of one firm, start to full output again."""

    firm: int
    start: int
    end: int  # first day at full output again, or the horizon
    ended: bool
    days_stopped: int
    min_rate: float
    output_lost_usd: float
    value_added_lost_usd: float
    cause: int


def episodes(result: RunResult, values: FirmValues, s: Spans | None = None) -> list[Episode]:
    """Consecutive reduced-output spans of a firm merged into episodes."""
    s = spans(result) if s is None else s
    out: list[Episode] = []
    current: dict | None = None
    for f, a, b, r, c in zip(
        s.firm.tolist(),
        s.start.tolist(),
        s.end.tolist(),
        s.rate.tolist(),
        s.cause.tolist(),
        strict=True,
    ):
        lost = (1.0 - r) * (b - a)
        if current is not None and current["firm"] == f and current["end"] == a:
            current["end"] = b
            current["stopped"] += (b - a) if r <= 1e-9 else 0
            current["min"] = min(current["min"], r)
            current["lost"] += lost
        else:
            if current is not None:
                out.append(_episode(current, values, result.days))
            current = {
                "firm": f,
                "start": a,
                "end": b,
                "stopped": (b - a) if r <= 1e-9 else 0,
                "min": r,
                "lost": lost,
                "cause": c,
            }
    if current is not None:
        out.append(_episode(current, values, result.days))
    return out


def _episode(e: dict, values: FirmValues, horizon: int) -> Episode:
    f = e["firm"]
    return Episode(
        f,
        e["start"],
        e["end"],
        e["end"] < horizon,
        e["stopped"],
        e["min"],
        e["lost"] * values.daily[f],
        e["lost"] * values.value_added[f],
        e["cause"],
    )


def made_up(eps: list[Episode], values: FirmValues, rate: float, horizon: int) -> np.ndarray:
    """Per episode, the output made up later: at `rate` of daily output while at full output,
    until the next episode of the firm or the horizon, at most what the episode lost."""
    out = np.zeros(len(eps))
    if rate <= 0:
        return out
    for i, e in enumerate(eps):
        nxt = eps[i + 1] if i + 1 < len(eps) and eps[i + 1].firm == e.firm else None
        room = ((nxt.start if nxt else horizon) - e.end) * rate * values.daily[e.firm]
        out[i] = min(e.output_lost_usd, max(0.0, room))
    return out


@dataclass(frozen=True)
class PerFirm:
    """Each firm's figures in one run; first days are NaN when it never happens."""

    stopped: np.ndarray  # per span: at rate 0
    first_stop: np.ndarray
    first_curtailed: np.ndarray
    first_stop_since: np.ndarray  # a stop still running at the branch point counts from it
    days_stopped: np.ndarray
    days_curtailed: np.ndarray
    days_stopped_since: np.ndarray
    output_lost: np.ndarray
    value_lost: np.ndarray
    value_lost_since: np.ndarray


def _first(n: int, firm: np.ndarray, day: np.ndarray) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, firm, day)
    return np.where(np.isinf(out), np.nan, out)


def per_firm(s: Spans, n: int, branch_day: int, values: FirmValues) -> PerFirm:
    """Per-firm totals and first days from the spans of a run, vectorised."""
    stopped = s.rate <= 1e-9
    length = s.end - s.start
    later_start = np.maximum(s.start, branch_day)
    later_len = np.clip(s.end - later_start, 0, None)
    since = stopped & (later_len > 0)
    shortfall = 1.0 - s.rate
    return PerFirm(
        stopped,
        _first(n, s.firm[stopped], s.start[stopped]),
        _first(n, s.firm[~stopped], s.start[~stopped]),
        _first(n, s.firm[since], later_start[since]),
        np.bincount(s.firm, length * stopped, minlength=n).astype(np.int64),
        np.bincount(s.firm, length * ~stopped, minlength=n).astype(np.int64),
        np.bincount(s.firm, later_len * stopped, minlength=n).astype(np.int64),
        np.bincount(s.firm, shortfall * length * values.daily[s.firm], minlength=n),
        np.bincount(s.firm, shortfall * length * values.value_added[s.firm], minlength=n),
        np.bincount(s.firm, shortfall * later_len * values.value_added[s.firm], minlength=n),
    )


def month_index(start, days: int) -> np.ndarray:
    """The month number (0 = the start's month) of each day."""
    first = start.year * 12 + start.month - 1
    out = np.empty(days, dtype=np.int64)
    for day in range(days):
        d = start + dt.timedelta(days=day)
        out[day] = d.year * 12 + d.month - 1 - first
    return out


def monthly_flows(result: RunResult, scenario: Scenario, months: np.ndarray) -> np.ndarray:
    """Monthly share of normal direct Chinese supply delivered, per destination and world,
    weighted by each buyer's normal purchases from China (re_tonnes_per_year x china_share)."""
    firms = scenario.firms
    days = result.days
    weight = np.array([f.re_tonnes_per_year * point(f.china_share) for f in firms], dtype=float)
    dest = np.array([FLOW_DESTINATIONS.index(destination_of(f.country)) for f in firms])
    nd = len(FLOW_DESTINATIONS)
    base = np.zeros(nd)
    np.add.at(base, dest, weight)
    base[-1] = weight.sum()
    # delivered(t) per destination = base + sum over change points of weight * (share - prev)
    delta = np.zeros((nd, days + 1))
    prev = np.ones(len(firms))
    for day, firm, share in result.flows:
        w = weight[firm] * (share - prev[firm])
        prev[firm] = share
        if w:
            delta[dest[firm], day] += w
            delta[-1, day] += w
    delivered = base[:, None] + np.cumsum(delta, axis=1)[:, :days]
    count = np.bincount(months, minlength=months.max() + 1).astype(float)
    out = np.full((nd, len(count)), np.nan)
    for k in range(nd):
        if base[k] > 0:
            out[k] = np.bincount(months, delivered[k], minlength=len(count)) / count / base[k]
    return out
