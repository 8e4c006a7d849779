"""Uncertain inputs: a number, or a distribution to draw it from, in YAML and in CSV cells.

Five distributions (triangular, uniform, lognormal, beta, choice), each sampled by its inverse
CDF `ppf(u)` from a uniform u in [0, 1] that the engine takes from its own keyed streams: a
replication draws each uncertain parameter once per firm, so runs stay paired across branches.
`ppf` also gives P10/P90 for sensitivity analysis and Latin-hypercube samples for calibration.

YAML: `inventory_days: {dist: triangular, low: 30, mode: 60, high: 90}`; CSV cell:
`triangular(30 60 90)`, arguments separated by spaces. A model field typed `uncertain(ge=0)`
accepts a number, either notation, or a distribution object. See docs/uncertain.md.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate
from statistics import NormalDist
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from timeline.errors import dotted, explain

FORMS: dict[str, str] = {
    "triangular": "triangular(low mode high)",
    "uniform": "uniform(low high)",
    "lognormal": "lognormal(median p90)",
    "beta": "beta(alpha beta) or beta(alpha beta low high)",
    "choice": "choice(7 40) or choice(7:0.8 40:0.2)",
}
_ALL_FORMS = "a number (12.5), " + ", ".join(FORMS.values())
_Z90 = NormalDist().inv_cdf(0.9)


def _number(value: Any) -> float:
    """A finite float; bools, NaN and infinities are refused with a one-line fix."""
    if isinstance(value, bool):
        raise ValueError(f"{value} is not a number; give a number such as 0.5")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number; give a number such as 0.5") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number; give a number such as 0.5")
    return number


Number = Annotated[float, BeforeValidator(_number)]


def _fmt(x: float) -> str:
    """The shortest text that reads back as the same float: 60.0 -> '60', 0.1 -> '0.1'."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dist: str
    open_low: ClassVar[bool] = False  # True when the lowest value of the support is never drawn

    def ppf(self, u: float) -> float:
        """The value a share u of draws stay at or below (inverse CDF); non-decreasing in u
        up to floating-point rounding (about 1e-16 relative)."""
        u = _number(u)
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"u {u} is outside 0..1; give a probability")
        return self._ppf(u)

    def quantile(self, p: float) -> float:
        """Alias of `ppf`: quantile(0.1) is the P10."""
        return self.ppf(p)

    @property
    def support(self) -> tuple[float, float]:
        """The lowest and highest values a draw can take (lognormal: (0, inf))."""
        return self._ppf(0.0), self._ppf(1.0)

    def describe(self) -> str:
        """For people, e.g. `triangular(30, 60, 90)`."""
        return f"{self.dist}({', '.join(self._args())})"

    def _ppf(self, u: float) -> float:
        raise NotImplementedError

    def _args(self) -> list[str]:
        raise NotImplementedError


class _ByQuantile(_Distribution):
    @property
    def median(self) -> float:
        return self._ppf(0.5)


def _below(low: float, high: float) -> None:
    if low >= high:
        raise ValueError(f"low {_fmt(low)} is not below high {_fmt(high)}; give low < high")


class Triangular(_ByQuantile):
    dist: Literal["triangular"] = "triangular"
    low: Number
    mode: Number
    high: Number

    @model_validator(mode="after")
    def _check(self) -> Triangular:
        low, mode, high = self._args()
        if self.low > self.high:
            raise ValueError(f"low {low} is above high {high}; give low <= mode <= high")
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"mode {mode} is outside {low}..{high}; give low <= mode <= high")
        _below(self.low, self.high)
        return self

    def _ppf(self, u: float) -> float:
        width, left, right = self.high - self.low, self.mode - self.low, self.high - self.mode
        if u * width <= left:
            return min(self.low + math.sqrt(u * width * left), self.mode)
        return max(self.high - math.sqrt((1 - u) * width * right), self.mode)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def _args(self) -> list[str]:
        return [_fmt(self.low), _fmt(self.mode), _fmt(self.high)]


class Uniform(_ByQuantile):
    dist: Literal["uniform"] = "uniform"
    low: Number
    high: Number

    @model_validator(mode="after")
    def _check(self) -> Uniform:
        _below(self.low, self.high)
        return self

    def _ppf(self, u: float) -> float:
        return min(self.low + u * (self.high - self.low), self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def _args(self) -> list[str]:
        return [_fmt(self.low), _fmt(self.high)]


class Lognormal(_Distribution):
    """Given by its median and its P90, the value 90% of draws stay under."""

    dist: Literal["lognormal"] = "lognormal"
    median: Number
    p90: Number
    open_low: ClassVar[bool] = True

    @model_validator(mode="after")
    def _check(self) -> Lognormal:
        median, p90 = self._args()
        if not 0 < self.median < self.p90:
            raise ValueError(f"median {median}, p90 {p90} are out of order; give 0 < median < p90")
        return self

    @property
    def sigma(self) -> float:
        """The standard deviation of the logarithm."""
        return math.log(self.p90 / self.median) / _Z90

    def _ppf(self, u: float) -> float:
        if u <= 0.0:
            return 0.0
        if u >= 1.0:
            return math.inf
        return self.median * math.exp(self.sigma * NormalDist().inv_cdf(u))

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def _args(self) -> list[str]:
        return [_fmt(self.median), _fmt(self.p90)]


def _beta_ppf(a: float, b: float, u: float) -> float:
    """Inverse regularised incomplete beta (scipy, imported here only). In the far tail
    (u < 1e-90, or x below the smallest normal float) scipy 1.17 gives NaN or wobbles for some
    shapes: there, bisect the CDF over the bit patterns of floats in [0, 1] (ordered as floats).
    """
    from scipy.special import betainc, betaincinv

    x = float(betaincinv(a, b, u)) if u >= 1e-90 else math.nan
    if x > sys.float_info.min:
        return x
    lo, hi = 0, _BITS_OF_ONE
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if betainc(a, b, _from_bits(mid)) < u else (lo, mid)
    return _from_bits(lo)


def _from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<q", bits))[0]


_BITS_OF_ONE = struct.unpack("<q", struct.pack("<d", 1.0))[0]


class Beta(_ByQuantile):
    """Beta(alpha, beta) scaled to low..high (default 0..1): for probabilities and shares."""

    dist: Literal["beta"] = "beta"
    alpha: Number
    beta: Number
    low: Number = 0.0
    high: Number = 1.0

    @model_validator(mode="after")
    def _check(self) -> Beta:
        for name, value in (("alpha", self.alpha), ("beta", self.beta)):
            if value <= 0:
                raise ValueError(f"{name} {_fmt(value)} is not above 0; give alpha, beta > 0")
        _below(self.low, self.high)
        return self

    def _ppf(self, u: float) -> float:
        x = _beta_ppf(self.alpha, self.beta, u)
        return min(self.low + x * (self.high - self.low), self.high)

    @property
    def mean(self) -> float:
        return self.low + (self.high - self.low) * self.alpha / (self.alpha + self.beta)

    def _args(self) -> list[str]:
        bounds = [] if (self.low, self.high) == (0.0, 1.0) else [self.low, self.high]
        return [_fmt(x) for x in (self.alpha, self.beta, *bounds)]


class Choice(_ByQuantile):
    """One of `values`, with chances proportional to `weights` (default equal)."""

    dist: Literal["choice"] = "choice"
    values: tuple[Number, ...]
    weights: tuple[Number, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> Choice:
        if not self.values:
            raise ValueError("no values; give values such as [7, 40]")
        weights = (1.0,) * len(self.values) if self.weights is None else self.weights
        if len(weights) != len(self.values):
            n, m = len(self.values), len(weights)
            raise ValueError(f"{n} values but {m} weights; give one weight per value, or none")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("a weight is negative or all are 0; give weights >= 0, not all 0")
        return self

    def _table(self) -> tuple[list[float], list[float]]:
        """The values that can be drawn, ascending, and their cumulative probabilities."""
        weights = self.weights or (1.0,) * len(self.values)
        pairs = sorted((v, w) for v, w in zip(self.values, weights, strict=True) if w > 0)
        total = sum(w for _, w in pairs)
        cumulative = [c / total for c in accumulate(w for _, w in pairs)]
        cumulative[-1] = 1.0
        return [v for v, _ in pairs], cumulative

    def _ppf(self, u: float) -> float:
        values, cumulative = self._table()
        return values[min(bisect_left(cumulative, u), len(values) - 1)]

    @property
    def mean(self) -> float:
        values, cumulative = self._table()
        chances = [b - a for a, b in zip([0.0, *cumulative], cumulative, strict=False)]
        return sum(v * p for v, p in zip(values, chances, strict=True))

    def _args(self) -> list[str]:
        if self.weights is None:
            return [_fmt(v) for v in self.values]
        return [f"{_fmt(v)}:{_fmt(w)}" for v, w in zip(self.values, self.weights, strict=True)]


_CLASSES: dict[str, type[_Distribution]] = {
    c.model_fields["dist"].default: c for c in (Triangular, Uniform, Lognormal, Beta, Choice)
}
_NAMES = ", ".join(_CLASSES)
Distribution = Annotated[
    Triangular | Uniform | Lognormal | Beta | Choice,
    Discriminator(
        "dist",
        custom_error_type="value_error",
        custom_error_message=f"unknown or missing dist; give dist: one of {_NAMES}",
    ),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Distribution)


def is_uncertain(value: object) -> bool:
    """True for a distribution, False for a plain number."""
    return isinstance(value, _Distribution)


def draw(value: float | Distribution, u: float, *, integer: bool = False) -> float:
    """One replication's value: the distribution's ppf(u), or the number itself.

    `integer=True` rounds to the nearest whole number (an int), for day counts.
    """
    x = value.ppf(u) if isinstance(value, _Distribution) else value
    return round(x) if integer else x


def point(value: float | Distribution, *, integer: bool = False) -> float:
    """One deterministic value: the median of a distribution, or the number itself."""
    return draw(value, 0.5, integer=integer)


def _distribution(data: dict[str, Any]) -> Distribution:
    """A YAML mapping -> a distribution; the first problem as a one-line ValueError."""
    if data.get("dist") not in _CLASSES:
        got = f"dist {data['dist']!r}" if "dist" in data else "no dist"
        raise ValueError(f"{got} in {data}; give dist: one of {_NAMES}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        loc, problem, fix = explain(err.errors()[0])
        where = f"{dotted(loc[1:])}: " if len(loc) > 1 else ""
        raise ValueError(f"{data['dist']}: {where}{problem}; {fix}") from None


def parse_mapping(data: dict[str, Any]) -> Distribution:
    """A YAML mapping such as {dist: uniform, low: 1, high: 2} -> a distribution (ValueError
    "problem; fix" when it is not one)."""
    return _distribution(data)


def _checker(
    ge: float | None, le: float | None, gt: float | None, integer: bool
) -> Callable[[Any], float | Distribution]:
    def check(value: Any) -> float | Distribution:
        if isinstance(value, str):
            value = parse_cell(value)
        elif isinstance(value, dict):
            value = _distribution(value)
        elif not isinstance(value, _Distribution):
            value = _number(value)
        dist = isinstance(value, _Distribution)
        (low, high), open_low = (value.support, value.open_low) if dist else ((value,) * 2, False)
        whole = value.values if isinstance(value, Choice) else () if dist else (value,)

        def at(x: float) -> str:
            return f"{value.describe()} can reach {_fmt(x)}," if dist else f"{_fmt(x)} is"

        if integer and not all(float(v).is_integer() for v in whole):
            raise ValueError(f"{at(low)} not whole; give whole numbers such as 14")
        if ge is not None and low < ge:
            raise ValueError(f"{at(low)} below the minimum {_fmt(ge)}; give values >= {_fmt(ge)}")
        if gt is not None and (low < gt or (low == gt and not open_low)):
            raise ValueError(f"{at(low)} not above {_fmt(gt)}; give values > {_fmt(gt)}")
        if le is not None and high == math.inf:
            raise ValueError(
                f"{value.describe()} has no upper limit but the maximum is {_fmt(le)}; use "  # type: ignore[union-attr]
                "beta(alpha beta low high) or triangular(low mode high), which stay within bounds"
            )
        if le is not None and high > le:
            raise ValueError(f"{at(high)} above the maximum {_fmt(le)}; give values <= {_fmt(le)}")
        return value

    return check


def uncertain(
    ge: float | None = None, le: float | None = None, gt: float | None = None, integer: bool = False
) -> Any:
    """A pydantic field type: a finite number, or a distribution whose whole support is in bounds.

    Accepts a number, a YAML mapping `{dist: ...}`, a distribution object, or the CSV cell
    notation as text ("0.5", "triangular(30 60 90)"). Errors are one line: "problem; fix".
    `integer=True` wants whole numbers (and whole choice values); draw with `integer=True`.
    """
    return Annotated[float | Distribution, BeforeValidator(_checker(ge, le, gt, integer))]


Uncertain = Annotated[float | Distribution, BeforeValidator(_checker(None, None, None, False))]

_CELL = re.compile(r"([A-Za-z_]+)\s*\((.*)\)")
_NAMED = re.compile(r"\s*(" + "|".join(FORMS) + r")\s*\(", re.IGNORECASE)


def looks_like_distribution(text: str) -> bool:
    """Whether text is written in a distribution's cell notation (a distribution's name and an
    opening parenthesis), as opposed to a number or a plain word."""
    return _NAMED.match(text) is not None


_ARITY = {"triangular": (3,), "uniform": (2,), "lognormal": (2,), "beta": (2, 4)}


def parse_cell(text: str) -> float | Distribution:
    """A CSV cell -> a number ("12.5") or a distribution ("triangular(30 60 90)").

    Raises ValueError("problem; fix"); the caller adds file, row and column.
    """
    text = text.strip()
    match = _CELL.fullmatch(text)
    if not match:
        if re.fullmatch(r"[-+]?\d*,\d+", text):
            raise ValueError(f"{text!r} has a decimal comma; write {text.replace(',', '.')}")
        try:
            return _number(text)
        except ValueError:
            got = repr(text) if text else "an empty cell"
            raise ValueError(
                f"{got} is not a number or a distribution; give {_ALL_FORMS}"
            ) from None
    name, args = match.group(1).lower(), match.group(2).split()
    if name not in _CLASSES:
        raise ValueError(f"unknown distribution {match.group(1)!r}; give {_ALL_FORMS}")
    if any(sep in match.group(2) for sep in ",;"):
        raise ValueError(f"{text!r} has commas or semicolons; separate arguments with spaces")
    if name == "choice":
        pairs = [arg.partition(":") for arg in args]
        if not pairs or len({sep for _, sep, _ in pairs}) > 1:
            raise ValueError(f"{text!r} has no values or weights some only; give {FORMS[name]}")
        data: dict[str, Any] = {"values": [v for v, _, _ in pairs]}
        if pairs[0][1]:
            data["weights"] = [w for _, _, w in pairs]
    elif len(args) in _ARITY[name]:
        data = dict(zip((f for f in _CLASSES[name].model_fields if f != "dist"), args))  # noqa: B905
    else:
        raise ValueError(f"{text!r} has {len(args)} arguments; give {FORMS[name]}")
    return _distribution({"dist": name, **data})


def format_cell(value: float | Distribution) -> str:
    """A value -> its CSV cell notation; `parse_cell(format_cell(v)) == v`."""
    if isinstance(value, _Distribution):
        return f"{value.dist}({' '.join(value._args())})"
    return _fmt(_number(value))
