"""Uncertain inputs: quantile functions, validation messages, bounds, and the CSV cell notation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from timeline.errors import explain
from timeline.model.uncertain import (
    Beta,
    Choice,
    Distribution,
    Lognormal,
    Triangular,
    Uncertain,
    Uniform,
    draw,
    format_cell,
    is_uncertain,
    parse_cell,
    point,
    uncertain,
)

# ppf is monotone up to rounding: statistics.NormalDist.inv_cdf wobbles by about 1 ulp.
REL = 1e-12

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
width = st.floats(min_value=1e-3, max_value=1e6)
frac = st.floats(min_value=0, max_value=1)
shape = st.floats(min_value=0.05, max_value=50)


@st.composite
def triangulars(draw_: st.DrawFn) -> Triangular:
    low, w, f = draw_(finite), draw_(width), draw_(frac)
    return Triangular(low=low, mode=low + f * w, high=low + w)


@st.composite
def choices(draw_: st.DrawFn) -> Choice:
    values = draw_(st.lists(finite, min_size=1, max_size=6))
    weights = draw_(st.none() | st.lists(frac, min_size=len(values), max_size=len(values)))
    if weights is not None and sum(weights) <= 0:
        weights = None
    return Choice(values=values, weights=weights)


def scaled_beta(alpha: float, beta: float, low: float, width: float) -> Beta:
    return Beta(alpha=alpha, beta=beta, low=low, high=low + width)


distributions = st.one_of(
    triangulars(),
    st.builds(lambda low, w: Uniform(low=low, high=low + w), finite, width),
    st.builds(
        lambda m, r: Lognormal(median=m, p90=m * r),
        st.floats(min_value=1e-3, max_value=1e6),
        st.floats(min_value=1.01, max_value=100),
    ),
    st.builds(scaled_beta, shape, shape, finite, width),
    st.builds(lambda a, b: Beta(alpha=a, beta=b), shape, shape),
    choices(),
)
inner_u = st.floats(min_value=0, max_value=1, exclude_min=True, exclude_max=True)
# Cheap properties: many examples; no deadline (the first beta imports scipy).
thorough = settings(max_examples=300, deadline=None)


@thorough
@given(distributions, inner_u, inner_u)
def test_ppf_is_monotone_and_inside_the_support(dist: Distribution, u1: float, u2: float) -> None:
    u1, u2 = sorted((u1, u2))
    low, high = dist.support
    a, b = dist.ppf(u1), dist.ppf(u2)
    assert a <= b + REL * abs(b)
    assert low <= a <= high and low <= b <= high
    assert math.isfinite(a) and math.isfinite(b)


@thorough
@given(distributions)
def test_median_is_ppf_of_one_half_and_quantile_is_ppf(dist: Distribution) -> None:
    assert dist.median == pytest.approx(dist.ppf(0.5), rel=1e-12)
    assert dist.quantile(0.1) == dist.ppf(0.1)
    assert dist.support[0] <= dist.median <= dist.support[1]


@thorough
@given(distributions)
def test_cell_notation_round_trips(dist: Distribution) -> None:
    assert parse_cell(format_cell(dist)) == dist


@thorough
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_through_cells(x: float) -> None:
    value = parse_cell(format_cell(x))
    assert value == x and isinstance(value, float)


def test_uniform_closed_form() -> None:
    dist = Uniform(low=10, high=20)
    for u in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0):
        assert dist.ppf(u) == pytest.approx(10 + 10 * u)
    assert dist.mean == 15 and dist.support == (10, 20)


def test_triangular_closed_form() -> None:
    dist = Triangular(low=30, mode=60, high=90)
    assert dist.ppf((60 - 30) / (90 - 30)) == pytest.approx(60)  # the CDF at the mode
    assert dist.ppf(0.125) == pytest.approx(30 + math.sqrt(0.125 * 60 * 30))
    assert dist.ppf(0.875) == pytest.approx(90 - math.sqrt(0.125 * 60 * 30))
    skewed = Triangular(low=0, mode=10, high=100)  # CDF at the mode: 0.1
    assert skewed.ppf(0.1) == pytest.approx(10)
    assert skewed.mean == pytest.approx(110 / 3)
    assert Triangular(low=0, mode=0, high=1).ppf(0.75) == pytest.approx(0.5)


def test_lognormal_from_median_and_p90() -> None:
    dist = Lognormal(median=60, p90=120)
    assert dist.ppf(0.5) == pytest.approx(60)
    assert dist.ppf(0.9) == pytest.approx(120)
    assert dist.ppf(0.1) == pytest.approx(30)  # symmetric in the logarithm
    assert dist.support == (0.0, math.inf)
    assert dist.mean == pytest.approx(60 * math.exp(dist.sigma**2 / 2))


@pytest.mark.parametrize(
    ("alpha", "beta", "low", "high"),
    [(2, 5, 0, 1), (0.5, 0.5, 0, 1), (1, 1, 0, 1), (8, 2, 10, 20), (0.3, 4, 0, 1), (40, 60, 0, 1)],
)
def test_beta_ppf_matches_a_large_sample(alpha: float, beta: float, low: float, high: float):
    """Against 200,000 fixed-seed numpy draws.

    Tolerance: the sample's CDF at ppf(p) is within 0.005 of p (by the DKW inequality a random
    seed fails with probability below 1e-4), and the empirical quantile is within 1% of the
    range of ppf(p).
    """
    dist = Beta(alpha=alpha, beta=beta, low=low, high=high)
    rng = np.random.default_rng(20251030)
    sample = np.sort(low + (high - low) * rng.beta(alpha, beta, 200_000))
    for p in (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99):
        x = dist.ppf(p)
        assert abs(np.searchsorted(sample, x) / sample.size - p) <= 0.005
        assert abs(np.quantile(sample, p) - x) <= 0.01 * (high - low)
    assert dist.mean == pytest.approx(sample.mean(), abs=0.005 * (high - low))


def test_beta_far_tail_is_finite_monotone_and_matches_the_asymptote() -> None:
    """scipy 1.17's betaincinv gives NaN here (u < 1e-98); the module bisects instead."""
    dist = Beta(alpha=2, beta=5)
    # Near 0, I_x(a, b) ~ x**a / (a B(a, b)), and B(2, 5) = 1/30.
    assert dist.ppf(1e-200) == pytest.approx(math.sqrt(1e-200 * 2 / 30), rel=1e-6)
    for alpha, beta in [(2, 5), (2, 0.5), (0.05, 0.05), (10, 2), (0.1, 0.02)]:
        dist = Beta(alpha=alpha, beta=beta)
        us = [0.0, 5e-324, 1e-320, 1e-300, 1e-200, 1e-100, 1e-90, 1e-50, 1e-16, 0.5]
        xs = [dist.ppf(u) for u in us]
        assert all(0 <= x <= 1 for x in xs)
        assert all(a <= b * (1 + REL) for a, b in zip(xs, xs[1:], strict=False))


def test_choice_follows_cumulative_weights() -> None:
    dist = parse_cell("choice(7:0.8 40:0.2)")
    assert isinstance(dist, Choice)
    assert dist.ppf(0.0) == dist.ppf(0.8) == 7
    assert dist.ppf(0.8000001) == dist.ppf(1.0) == 40
    assert dist.median == 7 and dist.mean == pytest.approx(13.6)
    grid = [dist.ppf(u) for u in np.linspace(0, 1, 10_001)[1:-1]]
    assert grid.count(7) / len(grid) == pytest.approx(0.8, abs=1e-3)


def test_choice_defaults_to_equal_weights_sorts_values_and_skips_zero_weights() -> None:
    even = Choice(values=[40, 7, 20])
    assert [even.ppf(u) for u in (0.2, 0.5, 0.9)] == [7, 20, 40]
    assert even.mean == pytest.approx(67 / 3)
    zero = Choice(values=[1, 2, 3], weights=[0, 1, 0])
    assert {zero.ppf(u) for u in (0.0, 0.3, 0.999, 1.0)} == {2}


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("triangular(30 60 90)", "triangular(30, 60, 90)"),
        ("uniform(10 20)", "uniform(10, 20)"),
        ("lognormal(60 120)", "lognormal(60, 120)"),
        ("beta(2 5)", "beta(2, 5)"),
        ("beta(2 5 0 1)", "beta(2, 5)"),
        ("beta(2 5 0 10)", "beta(2, 5, 0, 10)"),
        ("choice(7 40)", "choice(7, 40)"),
        ("choice(7:0.8 40:0.2)", "choice(7:0.8, 40:0.2)"),
        ("  Triangular( 0.5  1 2.25 ) ", "triangular(0.5, 1, 2.25)"),
    ],
)
def test_cell_forms(text: str, described: str) -> None:
    dist = parse_cell(text)
    assert is_uncertain(dist)
    assert dist.describe() == described
    assert parse_cell(format_cell(dist)) == dist


def test_plain_numbers_stay_numbers() -> None:
    assert parse_cell("12.5") == 12.5 and isinstance(parse_cell(" 12 "), float)
    assert format_cell(14.0) == "14" and format_cell(0.1) == "0.1"
    assert not is_uncertain(12.5)
    assert draw(12.5, 0.3) == 12.5 and point(12.5) == 12.5


def test_draw_and_point() -> None:
    dist = Triangular(low=30, mode=60, high=90)
    assert draw(dist, 0.5) == point(dist) == 60
    assert draw(dist, 0.9) == dist.ppf(0.9)
    assert draw(Uniform(low=0, high=10), 0.26, integer=True) == 3
    assert isinstance(point(Uniform(low=0, high=10), integer=True), int)
    with pytest.raises(ValueError, match="outside 0..1"):
        dist.ppf(1.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "'abc' is not a number or a distribution; give a number (12.5), triangular("),
        ("tri(1 2)", "unknown distribution 'tri'; give a number (12.5), triangular(low mode high)"),
        ("", "an empty cell is not a number or a distribution"),
        ("triangular(1 2)", "has 2 arguments; give triangular(low mode high)"),
        ("beta(2 5 0)", "has 3 arguments; give beta(alpha beta) or beta(alpha beta low high)"),
        ("uniform(10, 20)", "commas or semicolons; separate arguments with spaces"),
        ("uniform(10;20)", "commas or semicolons"),
        ("choice()", "has no values"),
        ("choice(7:0.8 40)", "weights some only"),
        ("triangular(90 60 30)", "triangular: low 90 is above high 30; give low <= mode <= high"),
        ("uniform(a 2)", "uniform: low: 'a' is not a number; give a number such as 0.5"),
        ("lognormal(120 60)", "give 0 < median < p90"),
        ("nan", "is not a number or a distribution"),
        ("inf", "is not a number or a distribution"),
        ("uniform(0 inf)", "is not a finite number"),
        ("12,5", "'12,5' has a decimal comma; write 12.5"),
        ("1,2,3", "is not a number or a distribution"),
    ],
)
def test_parse_cell_errors_name_the_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_cell(text)
    assert message in str(caught.value)
    assert "; " in str(caught.value) and "\n" not in str(caught.value)


class Record(BaseModel):
    """Stands in for a `Firm` or `Parameter` model."""

    value: Uncertain = 0.0
    inventory_days: uncertain(ge=0) = 0.0
    share: uncertain(ge=0, le=1) = 0.0
    rate: uncertain(gt=0) = 1.0
    lead_time_days: uncertain(ge=0, integer=True) = 0.0


def problem_and_fix(**fields: object) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        Record(**fields)
    _, problem, fix = explain(caught.value.errors()[0])
    return problem, fix


@pytest.mark.parametrize(
    "data",
    [
        {"dist": "triangular", "low": 30, "mode": 60, "high": 90},
        {"dist": "uniform", "low": 10, "high": 20},
        {"dist": "lognormal", "median": 60, "p90": 120},
        {"dist": "beta", "alpha": 2, "beta": 5},
        {"dist": "beta", "alpha": 2, "beta": 5, "low": 0.1, "high": 0.9},
        {"dist": "choice", "values": [7, 40]},
        {"dist": "choice", "values": [7, 40], "weights": [0.8, 0.2]},
    ],
)
def test_yaml_shapes_validate_and_dump_back(data: dict) -> None:
    record = Record(value=data)
    assert is_uncertain(record.value) and record.value.dist == data["dist"]
    assert TypeAdapter(Distribution).validate_python(data) == record.value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dumped = record.model_dump()
        assert Record.model_validate_json(record.model_dump_json()) == record
    assert Record(**dumped) == record


@pytest.mark.parametrize(
    ("data", "problem", "fix"),
    [
        (
            {"dist": "triangular", "low": 90, "mode": 60, "high": 30},
            "triangular: low 90 is above high 30",
            "give low <= mode <= high",
        ),
        (
            {"dist": "triangular", "low": 0, "mode": 60, "high": 30},
            "triangular: mode 60 is outside 0..30",
            "give low <= mode <= high",
        ),
        ({"dist": "triangular", "low": 5, "mode": 5, "high": 5}, "not below high 5", "low < high"),
        ({"dist": "uniform", "low": 20, "high": 10}, "low 20 is not below high 10", "low < high"),
        ({"dist": "lognormal", "median": 0, "p90": 1}, "out of order", "0 < median < p90"),
        ({"dist": "lognormal", "median": 60, "p90": 30}, "out of order", "0 < median < p90"),
        ({"dist": "beta", "alpha": 0, "beta": 5}, "alpha 0 is not above 0", "alpha, beta > 0"),
        ({"dist": "beta", "alpha": 2, "beta": -1}, "beta -1 is not above 0", "alpha, beta > 0"),
        ({"dist": "choice", "values": []}, "choice: no values", "give values such as [7, 40]"),
        ({"dist": "choice", "values": [1, 2], "weights": [1]}, "2 values but 1 weights", "one"),
        ({"dist": "choice", "values": [1], "weights": [0]}, "all are 0", "weights >= 0"),
        ({"dist": "choice", "values": [1, 2], "weights": [2, -1]}, "negative", "weights >= 0"),
        ({"dist": "tri", "low": 1}, "dist 'tri'", "give dist: one of triangular, uniform"),
        ({"low": 1, "high": 2}, "no dist", "give dist: one of triangular, uniform"),
        ({"dist": "uniform", "low": 1, "hi": 2}, "uniform: high: Field required", "add this"),
        ({"dist": "uniform", "low": 1, "high": 2, "x": 0}, "uniform: x: Extra inputs", "remove"),
        ({"dist": "uniform", "low": True, "high": 2}, "True is not a number", "give a number"),
        ({"dist": "uniform", "low": math.nan, "high": 2}, "not a finite number", "give a number"),
        ({"dist": "uniform", "low": 0, "high": math.inf}, "not a finite number", "give a number"),
    ],
)
def test_bad_yaml_shapes_give_one_line_with_a_fix(data: dict, problem: str, fix: str) -> None:
    got_problem, got_fix = problem_and_fix(value=data)
    assert problem in got_problem and fix in got_fix
    assert "\n" not in got_problem + got_fix


@pytest.mark.parametrize("bad", [True, False, math.nan, math.inf, -math.inf, "nan", [1, 2], None])
def test_bools_nan_and_inf_are_refused(bad: object) -> None:
    problem, fix = problem_and_fix(value=bad)
    assert "not a" in problem and fix


@pytest.mark.parametrize(
    ("fields", "problem", "fix"),
    [
        (
            {"inventory_days": "triangular(-5 10 20)"},
            "triangular(-5, 10, 20) can reach -5, below the minimum 0",
            "give values >= 0",
        ),
        ({"inventory_days": -1}, "-1 is below the minimum 0", "give values >= 0"),
        ({"inventory_days": "choice(-1 5)"}, "choice(-1, 5) can reach -1", ">= 0"),
        ({"share": "lognormal(0.2 0.5)"}, "has no upper limit but the maximum is 1", "use beta("),
        ({"share": "uniform(0.5 1.5)"}, "can reach 1.5, above the maximum 1", "give values <= 1"),
        ({"share": 1.2}, "1.2 is above the maximum 1", "give values <= 1"),
        ({"share": "beta(2 5 0 2)"}, "beta(2, 5, 0, 2) can reach 2", "give values <= 1"),
        ({"rate": 0}, "0 is not above 0", "give values > 0"),
        ({"rate": "uniform(0 1)"}, "uniform(0, 1) can reach 0, not above 0", "> 0"),
        ({"lead_time_days": 2.5}, "2.5 is not whole", "whole numbers"),
        ({"lead_time_days": "choice(7 7.5)"}, "not whole", "whole numbers"),
        ({"lead_time_days": "triangular(-1 5 10)"}, "below the minimum 0", ">= 0"),
    ],
)
def test_bounds_refuse_out_of_bound_supports(fields: dict, problem: str, fix: str) -> None:
    got_problem, got_fix = problem_and_fix(**fields)
    assert problem in got_problem and fix in got_fix


def test_bounds_accept_in_bound_values() -> None:
    record = Record(
        inventory_days="triangular(0 30 60)",
        share={"dist": "beta", "alpha": 2, "beta": 5},
        rate="lognormal(1 2)",  # never 0: its support is open at 0
        lead_time_days="triangular(3 7 14)",
    )
    assert record.inventory_days.describe() == "triangular(0, 30, 60)"
    assert point(record.lead_time_days, integer=True) == 8
    assert Record(share=1, inventory_days="0", lead_time_days=14).lead_time_days == 14
    assert Record(lead_time_days="choice(7 14)").lead_time_days.ppf(1) == 14


def test_distributions_are_frozen_and_hashable() -> None:
    dist = Triangular(low=1, mode=2, high=3)
    with pytest.raises(ValidationError):
        dist.low = 0  # type: ignore[misc]
    assert len({dist, Triangular(low=1, mode=2, high=3), Choice(values=[1, 2])}) == 2
