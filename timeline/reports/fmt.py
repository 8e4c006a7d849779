"""How figures are written for people: money, counts, shares, dates and P50 (P10 to P90) bands.

One formatter per kind of figure, shared by the HTML report, the charts and the CLI, so the
same amount reads the same everywhere: `$1.2m`, `$5.3bn`. Missing values (None, NaN, NaT,
blank text) print as `-`. Everything returned is plain ASCII.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

MISSING = "-"

_UNITS = ((1e12, "tn"), (1e9, "bn"), (1e6, "m"))


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT, pandas NA and blank text."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # NaN, NaT (pd.NA raises: ambiguous truth value)
    except TypeError:
        return True


def money(usd: Any) -> str:
    """US dollars, rounded for reading: `$1.2m`, `$5.3bn`, `$1.1tn`, `$12k`, `$950`, `-$3.0m`."""
    if is_missing(usd):
        return MISSING
    value = float(usd)
    if math.isinf(value):
        return MISSING
    sign = "-" if value < 0 else ""
    size = abs(value)
    for scale, unit in _UNITS:
        if round(size / scale, 1) >= 1:
            return f"{sign}${size / scale:,.1f}{unit}"
    if round(size) >= 1000:
        return f"{sign}${size / 1e3:,.0f}k"
    rounded = round(size)
    return f"{sign if rounded else ''}${rounded:,.0f}"


def count(value: Any) -> str:
    """A number of plants or days: whole numbers plainly, others with one decimal."""
    if is_missing(value):
        return MISSING
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def signed_count(value: Any) -> str:
    """A difference in plants or days, with its sign: `+3`, `-1.5`, `0`."""
    text = count(value)
    if text == MISSING or float(value) <= 0:
        return text
    return "+" + text


def signed_money(usd: Any) -> str:
    """A difference in dollars, with its sign: `+$1.2bn`, `-$300.0m`, `$0`."""
    text = money(usd)
    if text == MISSING or text == "$0" or float(usd) < 0:
        return text
    return "+" + text


def share(value: Any) -> str:
    """A probability 0-1 as a percentage: `73%`; below 1% but above 0 as `<1%`."""
    if is_missing(value):
        return MISSING
    number = float(value)
    if 0 < number < 0.005:
        return "<1%"
    if 0.995 < number < 1:
        return ">99%"
    return f"{number * 100:.0f}%"


def date(value: Any) -> str:
    """An ISO date (`2025-11-18`) from a date, a timestamp or ISO text; missing -> `-`."""
    if is_missing(value):
        return MISSING
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "date") and callable(value.date):  # pandas Timestamp
        return value.date().isoformat()
    return str(value)[:10]


def band(q50: Any, q10: Any, q90: Any, fmt: Callable[[Any], str] = count) -> str:
    """`P50 (P10 to P90)` in one formatter, e.g. `$42.2bn ($30.1bn to $55.0bn)`.

    The median alone when the band is missing or collapses onto it (one run).
    """
    middle = fmt(q50)
    low, high = fmt(q10), fmt(q90)
    if low == MISSING and high == MISSING:
        return middle
    if low == high == middle:
        return middle
    return f"{middle} ({low} to {high})"
