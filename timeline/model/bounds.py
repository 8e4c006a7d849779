"""Bounded, strictly typed numbers for the scenario models (the README lists the bounds).

Every number a file may give is finite and within a documented range, and typed strictly: a
boolean is not a number of days, and a fraction is not a whole number. Ten years is the longest
horizon, delay or stock a scenario may hold, so dates and day counts never overflow.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict

MAX_DAYS = 3660  # about ten years: horizon, relative dates, stocks, lead and ramp times
MAX_WORKING_DAYS = 2610  # about ten years of working days
MAX_USD_PER_DAY = 1e12  # a firm's output a day, US dollars
MAX_PCT = 1000.0  # a tariff, percent
MAX_ORDER = 1_000_000  # same-day order
MAX_RESTOCK_RATE = 100.0  # days of cover refilled a day

Number = Annotated[float, Strict()]
Share = Annotated[float, Strict(), Field(ge=0, le=1)]
Days = Annotated[float, Strict(), Field(ge=0, le=MAX_DAYS)]
DayOffset = Annotated[int, Strict(), Field(ge=-MAX_DAYS, le=MAX_DAYS)]  # before (<0) or after
WholeDays = Annotated[int, Strict(), Field(ge=0, le=MAX_DAYS)]
WorkingDays = Annotated[int, Strict(), Field(ge=0, le=MAX_WORKING_DAYS)]
Pct = Annotated[float, Strict(), Field(ge=0, le=MAX_PCT)]
UsdPerDay = Annotated[float, Strict(), Field(ge=0, le=MAX_USD_PER_DAY)]
Order = Annotated[int, Strict(), Field(ge=-MAX_ORDER, le=MAX_ORDER)]
Flag = Annotated[bool, Strict()]


def _not_negative_slip(days: float) -> float:
    if days < 0:
        raise ValueError(
            f"slip_days {days:g} is negative (a slip only delays); give slip_days >= 0: date "
            "the event at its earliest and let it slip later"
        )
    return days


SlipDays = Annotated[float, Strict(), Field(le=MAX_DAYS), AfterValidator(_not_negative_slip)]
ReviewDays = Annotated[float, Strict(), Field(ge=0, le=MAX_WORKING_DAYS)]  # a drawn median
Spread = Annotated[float, Strict(), Field(ge=1, le=10)]  # p90 / median of a lognormal
