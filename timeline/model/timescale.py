"""Dates <-> simulation time. The one place where calendar dates become numbers.

Simulation time is whole days since the scenario's start date: day 0 is the start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Timescale:
    start: dt.date

    def to_day(self, date: dt.date) -> int:
        return (date - self.start).days

    def to_date(self, day: float) -> dt.date:
        return self.start + dt.timedelta(days=int(day))
