"""The scenario as data: events, branches, firms, calendar. Pydantic models only, no I/O.

`Scenario` is the validated, frozen object the engine runs. The loader (`timeline.io.loader`)
builds it from the files in `events/`; a notebook may also build one in code.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from timeline.errors import TimelineError
from timeline.model.bounds import (
    MAX_DAYS,
    MAX_RESTOCK_RATE,
    DayOffset,
    Number,
    Order,
    Share,
    SlipDays,
    UsdPerDay,
    WholeDays,
    WorkingDays,
)
from timeline.model.policy import Effects, EndUse, PolicyState, _check_elements
from timeline.model.uncertain import Distribution, uncertain

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Actor = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]+(\+[A-Za-z]+)*$")]

EventKind = Literal[
    "talks",
    "summit",
    "deadline",
    "tariff",
    "export-control",
    "licensing",
    "entity-list",
    "port-fees",
    "investigation",
    "sanction",
    "concession",
    "agreement",
    "announcement",
    "data",
]

# The four events the design is about: present, in this order, in every branch.
KEY_EVENTS: tuple[str, ...] = (
    "kl-talks",
    "busan-summit",
    "tariff-deadline-nov1",
    "rare-earth-rules-dec1",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class After(_Strict):
    """A date relative to another event: `days` calendar days or `working_days` in China."""

    event: Slug
    days: DayOffset | None = None
    working_days: WorkingDays | None = None

    @model_validator(mode="after")
    def _one_offset(self) -> After:
        if (self.days is None) == (self.working_days is None):
            raise ValueError("give exactly one of days or working_days, e.g. {event: x, days: 7}")
        return self


class Event(_Strict):
    """One dated policy event. Exactly one of `date` and `after` dates it.

    `slip_days` (default 0, never negative) delays it: it happens `round(slip_days)` calendar
    days after its stated or resolved date, and events dated `after:` it follow. In the files
    it may be a distribution, drawn per run (see `timeline.io.uncertainyaml`).
    """

    id: Slug
    date: dt.date | None = None
    after: After | None = None
    title: Text
    actor: Actor
    kind: EventKind
    effects: Effects = Effects()
    outcome: str = ""
    source: Text
    assumption: str | None = None
    order: Order = 0
    slip_days: SlipDays = 0.0

    @model_validator(mode="after")
    def _one_date(self) -> Event:
        if (self.date is None) == (self.after is None):
            raise ValueError("give exactly one of date (e.g. 2025-10-30) or after: {event, days}")
        if self.after is not None and self.after.event == self.id:
            raise ValueError(f"event {self.id} is dated after itself; point after.event elsewhere")
        return self


class Override(_Strict):
    """What a branch changes in an existing event: its outcome, effects, title, order or slip."""

    title: Text | None = None
    outcome: str | None = None
    effects: Effects | None = None
    source: Text | None = None
    assumption: str | None = None
    order: Order | None = None
    slip_days: SlipDays | None = None


class Branch(_Strict):
    """One outcome of the branch point: events added, cancelled, re-dated or overridden."""

    id: Slug
    title: Text
    summary: Text
    source: Text
    add: tuple[Event, ...] = ()
    cancel: tuple[Slug, ...] = ()
    redate: dict[Slug, dt.date | After] = {}
    override: dict[Slug, Override] = {}


class WorkingCalendar(_Strict):
    """China's working days: weekdays, less public holidays, plus make-up working weekends."""

    name: Text
    source: Text
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date] = frozenset()

    @field_validator("workdays")
    @classmethod
    def _disjoint(cls, workdays: frozenset[dt.date], info: ValidationInfo) -> frozenset[dt.date]:
        both = sorted(workdays & info.data.get("holidays", frozenset()))
        if both:
            raise ValueError(
                f"{both[0]} is both a holiday and a make-up working day; "
                "keep it in holidays or in workdays, not both"
            )
        return workdays

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The date on which `n` working days after `start` have passed.

        The day of `start` itself does not count (an application filed on a Friday starts its
        review on Monday); `n == 0` gives `start`. A binary search in a precomputed list of
        working days (1990-2100), so the cost does not grow with `n`.
        """
        if n <= 0:
            return start
        days = _working_ordinals(self.holidays, self.workdays)
        index = bisect.bisect_right(days, start.toordinal()) + n - 1
        if days and days[0] <= start.toordinal() and index < len(days):
            return dt.date.fromordinal(days[index])
        day = start  # outside the precomputed range: step day by day
        while n > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_before(self, end: dt.date, n: int) -> dt.date:
        """The working day from which `n` working days run to `end` (the inverse of
        `add_working_days` for a working `end`); `n == 0` gives `end`."""
        if n <= 0:
            return end
        days = _working_ordinals(self.holidays, self.workdays)
        index = bisect.bisect_left(days, end.toordinal()) - n
        if days and index >= 0 and end.toordinal() <= days[-1]:
            return dt.date.fromordinal(days[index])
        day = end  # outside the precomputed range: step day by day
        while n > 0:
            day -= dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day


@functools.lru_cache(maxsize=16)
def _working_ordinals(holidays: frozenset[dt.date], workdays: frozenset[dt.date]) -> list[int]:
    """Ordinals of every working day from 1990 to 2100 under this calendar."""
    first, last = dt.date(1990, 1, 1).toordinal(), dt.date(2100, 12, 31).toordinal()
    out = []
    for ordinal in range(first, last + 1):
        day = dt.date.fromordinal(ordinal)
        if day in workdays or (day.weekday() < 5 and day not in holidays):
            out.append(ordinal)
    return out


# Numbers of the firm table that may be a distribution (drawn once per firm and run).
InventoryDays = uncertain(ge=0, le=MAX_DAYS)
LeadDays = uncertain(ge=0, le=MAX_DAYS, integer=True)
ChinaShare = uncertain(ge=0, le=1)
FirmShare = uncertain(ge=0, le=1)  # china_content_share, defence_share
LinkShare = uncertain(gt=0, le=1)


class SupplierLink(_Strict):
    """A part bought from another firm: days of buffer, and the share of that part it supplies.

    A stopped or curtailed supplier cuts only its share of the part (multi-sourcing). A link to
    a firm of a `magnets` sector is a source of the buyer's rare-earth input itself, not a
    separate part: it carries that share of the buyer's magnets (so the non-Chinese share is not
    counted twice) and its buffer is the buyer's rare-earth stock.
    """

    firm: Slug
    buffer_days: InventoryDays
    share: LinkShare = 1.0


class Firm(_Strict):
    """One plant (an archetype). Shares are fractions from 0 to 1."""

    id: Slug
    name: Text
    sector: Text
    country: Country
    elements: frozenset[str] = frozenset()
    china_share: ChinaShare
    china_content_share: FirmShare
    inventory_days: InventoryDays
    daily_output_usd: UsdPerDay
    end_use: EndUse = "civil"
    suppliers: tuple[SupplierLink, ...] = ()
    lead_time_days: LeadDays
    ramp_days: WholeDays
    source: Text
    group: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]*$", max_length=40)] = ""
    defence_share: FirmShare | None = None
    value_added_share: Share | None = Field(default=None, gt=0)
    re_tonnes_per_year: Annotated[float, Strict(), Field(ge=0, le=1e7)] = 0.0

    @model_validator(mode="after")
    def _valid_elements(self) -> Firm:
        _check_elements(self.elements)
        return self

    @property
    def defence(self) -> float | Distribution:
        """The share of output for defence end users (the end_use column when not given); a
        distribution when the table gives one (drawn per run: `engine.params.FirmParams`)."""
        if self.defence_share is not None:
            return self.defence_share
        return 1.0 if self.end_use == "defence" else 0.0


class Parameter(_Strict):
    """A number the model needs that is not an event: it carries a source or an assumption."""

    value: Number
    source: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> Parameter:
        if not (self.source or self.assumption):
            raise ValueError("give a source (publication, date) or an assumption with a reason")
        return self


def _assumed(value: float, why: str) -> Parameter:
    return Parameter(value=value, assumption=why)


class Parameters(_Strict):
    """The model's numbers that are not events. Each carries a source or an assumption."""

    restock_rate: Parameter
    at_risk_days: Parameter
    restart_threshold_days: Parameter = _assumed(
        3, "a stopped plant restarts once it holds three days of the missing input"
    )
    makeup_rate: Parameter = _assumed(
        0.0, "no lost output is made up later unless the scenario says so"
    )
    air_freight_share: Parameter = _assumed(
        0.0, "without a figure, goods resume by sea after an approval"
    )
    air_freight_days: Parameter = _assumed(3, "air freight from China takes about three days")
    licence_valid_days: Parameter = _assumed(0, "an approved licence does not lapse (0: never)")
    licence_valid_spread: Parameter = _assumed(
        1.0, "every licence runs exactly licence_valid_days (1: no spread)"
    )
    renew_ahead_working_days: Parameter = _assumed(
        0, "a firm applies for a new licence only once its licence has lapsed"
    )
    export_pipeline_days: Parameter = _assumed(
        0, "shipments stop on the day a licence becomes necessary"
    )
    value_added_share: dict[str, Parameter] = {
        "default": _assumed(1.0, "without a sector table, value added is the whole output")
    }

    @field_validator("value_added_share")
    @classmethod
    def _has_default(cls, value: dict[str, Parameter]) -> dict[str, Parameter]:
        if "default" not in value:
            raise ValueError(
                "value_added_share needs a default entry; add default: {value: ..., source: ...}"
            )
        return value

    def value_added(self, sector: str) -> float:
        """The value-added share of a sector: the longest matching sector prefix, or default."""
        best, length = "default", -1
        for prefix in self.value_added_share:
            if prefix != "default" and sector.startswith(prefix) and len(prefix) > length:
                best, length = prefix, len(prefix)
        return self.value_added_share[best].value

    @field_validator("restock_rate")
    @classmethod
    def _restock_range(cls, value: Parameter) -> Parameter:
        if not 0 <= value.value <= MAX_RESTOCK_RATE:
            raise ValueError(
                f"restock_rate {value.value} is outside 0..{MAX_RESTOCK_RATE:g}; give the days "
                "of cover refilled a day, e.g. 0.5"
            )
        return value

    @field_validator("at_risk_days")
    @classmethod
    def _at_risk_range(cls, value: Parameter) -> Parameter:
        if not 0 <= value.value <= MAX_DAYS:
            raise ValueError(
                f"at_risk_days {value.value} is outside 0..{MAX_DAYS}; give a number of days, "
                "e.g. 14"
            )
        return value


class Spread(_Strict):
    """How uncertain a firm-table number is: each firm's value is multiplied, once per firm and
    run, by a draw of `factor` (e.g. triangular 0.5, 1, 1.5: half to one and a half times)."""

    factor: Distribution
    source: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> Spread:
        if not (self.source or self.assumption):
            raise ValueError("give a source (publication, date) or an assumption with a reason")
        low, _ = self.factor.support
        if low < 0:
            raise ValueError("a spread factor cannot be negative; give a factor range from 0 up")
        return self


SpreadField = Literal["inventory_days", "buffer_days", "lead_time_days"]


class ScenarioSettings(_Strict):
    """What a scenario says of itself: identity, horizon, branch point, starting state."""

    id: Slug
    title: Text
    source: Text
    start: dt.date
    end: dt.date
    branch_point: dt.date
    initial_policy: PolicyState
    initial_policy_source: Text
    parameters: Parameters
    uncertainty: dict[SpreadField, Spread] = {}


class Scenario(ScenarioSettings):
    """A whole scenario, validated: the engine's only input besides branch and seed.

    Built from files by `timeline.io.loader.load_scenario`, or in code with `Scenario.build`
    (or `model_validate`): the cross-checks (unique ids, known suppliers, no supplier cycle, the
    key events in every branch and in order, schedules inside the horizon and identical before
    the branch point) run either way, so a scenario built in code is checked like one loaded
    from files. Frozen: `with_overrides` returns a changed, re-validated copy (an unchanged firm
    table is passed through as it is).
    """

    events: tuple[Event, ...]
    branches: tuple[Branch, ...] = Field(min_length=1)
    firms: tuple[Firm, ...] = Field(min_length=1)
    calendar: WorkingCalendar
    file_hashes: dict[str, str] = {}
    posterior: tuple[dict[str, float], ...] = ()
    drawn: tuple[tuple[str, Distribution], ...] = ()
    # numbers the files give as distributions: (override path, distribution); the scenario
    # holds their medians, and each run draws its own (timeline.engine.params.scenario_for)
    _cache: dict[object, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Scenario:
        from timeline.model.checks import check_scenario

        context = info.context or {}
        check_scenario(self, firms=not context.get(_FIRMS_CHECKED, False))
        return self

    @classmethod
    def build(cls, data: dict[str, Any], firms_checked: bool = False) -> Scenario:
        """Validate `data` into a Scenario, raising one `TimelineError` for any defect.

        `firms_checked`: `data["firms"]` is the firm table of a validated scenario, unchanged
        (its cross-checks depend on the firms alone): they are not run again."""
        try:
            return cls.model_validate(data, context={_FIRMS_CHECKED: firms_checked})
        except ValidationError as err:
            raise _as_error(err) from None

    def branch(self, branch_id: str) -> Branch:
        for branch in self.branches:
            if branch.id == branch_id:
                return branch
        raise TimelineError(
            "branch",
            "",
            f"unknown branch {branch_id!r}",
            f"use one of: {', '.join(self.branch_ids)}",
        )

    @property
    def branch_ids(self) -> tuple[str, ...]:
        return tuple(branch.id for branch in self.branches)

    @property
    def fingerprint(self) -> str:
        """A stable hash of the scenario's content (not of where its files were)."""
        if "fingerprint" not in self._cache:
            data = _canonical(_without_zero_slips(self.model_dump(exclude={"file_hashes"})))
            text = json.dumps(data, sort_keys=True, separators=(",", ":"))
            self._cache["fingerprint"] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._cache["fingerprint"]

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Scenario:
        """A copy (see pydantic); its derived values are computed afresh, never shared."""
        copy = super().model_copy(update=update, deep=deep)
        object.__setattr__(copy, "__pydantic_private__", {"_cache": {}})
        return copy

    def cached(self, key: object, make: Any) -> Any:
        """A value derived from this (frozen) scenario, computed once: `make()` on first use."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def with_overrides(self, changes: dict[str, Any]) -> Scenario:
        """A copy with `changes` applied and everything validated again.

        Keys are dotted paths: `"parameters.restock_rate.value"`, `"start"`, a whole field such
        as `"firms"`, and list items by position or by id: `"events[cn-announcement-18].effects
        .review_working_days"`, `"branches[decouple].override"`. Used by calibration and
        sensitivity analysis.
        """
        same_firms = all(_path_parts(path)[0] != "firms" for path in changes)
        data = self.model_dump(exclude={"firms"} if same_firms else None)
        for path, value in changes.items():
            parts = _path_parts(path)
            node: Any = data
            for part in parts[:-1]:
                node = _step(node, part, path)
            last = parts[-1]
            if isinstance(node, list | tuple):
                node[_index(node, last, path)] = value
            else:
                node[last] = value
        if not same_firms:
            return Scenario.build(data)
        data["firms"] = self.firms  # the same validated Firm objects (pydantic keeps them)
        return Scenario.build(data, firms_checked=True)

    def variant(self, replicate: int) -> Scenario:
        """The scenario a replicate runs: itself, or with the posterior parameter set
        `replicate % len(posterior)` applied when the scenario carries a calibration posterior.

        A variant's fingerprint names its base scenario and its parameter set (a hash of the
        base's fingerprint and the set), not its whole content: with a large firm table,
        hashing every firm again for each set would cost as much as the run's setup."""
        if not self.posterior:
            return self
        j = replicate % len(self.posterior)

        def make() -> Scenario:
            overrides = self.posterior[j]
            made = self.with_overrides({**overrides, "posterior": ()})
            named = {"base": self.fingerprint, "posterior_set": j, "overrides": overrides}
            text = json.dumps(_canonical(named), sort_keys=True, separators=(",", ":"))
            made._cache["fingerprint"] = hashlib.sha256(text.encode()).hexdigest()[:16]
            return made

        return self.cached(("variant", j), make)


def _path_parts(path: str) -> list[str]:
    return [p for p in re.split(r"\.(?![^\[]*\])|\[|\]", path) if p]


def _index(node: list, part: str, path: str) -> int:
    if part.isdigit():
        return int(part)
    for i, item in enumerate(node):
        if isinstance(item, dict) and item.get("id") == part:
            return i
    raise TimelineError("overrides", path, f"no item with id {part!r}", "use an existing id")


def _step(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list | tuple):
        return node[_index(node, part, path)]
    if not isinstance(node, dict) or part not in node:
        raise TimelineError("overrides", path, f"{part!r} is not a field here", "check the path")
    if node[part] is None:
        node[part] = {}
    return node[part]


def _without_zero_slips(data: dict[str, Any]) -> dict[str, Any]:
    """A dumped scenario without the slips it does not use (0 on an event, None on an
    override), so a scenario without slips keeps the fingerprint it had before slips existed."""
    events = [e for e in data.get("events", ())]
    for branch in data.get("branches", ()):
        events += list(branch.get("add", ()))
        for change in branch.get("override", {}).values():
            if change.get("slip_days") is None:
                change.pop("slip_days", None)
    for event in events:
        if event.get("slip_days") == 0:
            event.pop("slip_days", None)
    return data


_FIRMS_CHECKED = "firms_checked"  # a validation context key: see Scenario.build
_PLAIN = frozenset({str, int, float, bool, type(None)})  # types _canonical returns as they are


def _canonical(value: Any) -> Any:
    """Plain JSON data in a fixed order (sets sorted, dates as ISO text)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _as_error(err: ValidationError) -> TimelineError:
    from timeline.errors import dotted, explain

    loc, problem, fix = explain(err.errors()[0])
    return TimelineError("scenario", dotted(loc), problem, fix)
