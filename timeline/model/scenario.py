"""The scenario as data: events, branches, firms, calendar. Pydantic models only, no I/O.

`Scenario` is the validated, frozen object the engine runs. The loader (`timeline.io.loader`)
builds it from the files in `events/`; a notebook may also build one in code.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from timeline.model.bounds import (
    MAX_DAYS,
    MAX_RESTOCK_RATE,
    DayOffset,
    Days,
    Number,
    Order,
    Share,
    UsdPerDay,
    WholeDays,
    WorkingDays,
)
from timeline.model.policy import Effects, EndUse, PolicyState, _check_elements

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
    """One dated policy event. Exactly one of `date` and `after` dates it."""

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

    @model_validator(mode="after")
    def _one_date(self) -> Event:
        if (self.date is None) == (self.after is None):
            raise ValueError("give exactly one of date (e.g. 2025-10-30) or after: {event, days}")
        if self.after is not None and self.after.event == self.id:
            raise ValueError(f"event {self.id} is dated after itself; point after.event elsewhere")
        return self


class Override(_Strict):
    """What a branch changes in an existing event: its outcome, effects, title or order."""

    title: Text | None = None
    outcome: str | None = None
    effects: Effects | None = None
    source: Text | None = None
    assumption: str | None = None
    order: Order | None = None


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
        review on Monday); `n == 0` gives `start`.
        """
        day = start
        while n > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day


class SupplierLink(_Strict):
    firm: Slug
    buffer_days: Days
    share: Share = Field(default=1.0, gt=0)


class Firm(_Strict):
    """One plant (an archetype). Shares are fractions from 0 to 1."""

    id: Slug
    name: Text
    sector: Text
    country: Country
    elements: frozenset[str] = frozenset()
    china_share: Share
    china_content_share: Share
    inventory_days: Days
    daily_output_usd: UsdPerDay
    end_use: EndUse = "civil"
    suppliers: tuple[SupplierLink, ...] = ()
    lead_time_days: WholeDays
    ramp_days: WholeDays
    source: Text

    @model_validator(mode="after")
    def _valid_elements(self) -> Firm:
        _check_elements(self.elements)
        return self


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


class Parameters(_Strict):
    restock_rate: Parameter
    at_risk_days: Parameter

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


class Scenario(ScenarioSettings):
    """A whole scenario, validated: the engine's only input besides branch and seed."""

    events: tuple[Event, ...]
    branches: tuple[Branch, ...] = Field(min_length=1)
    firms: tuple[Firm, ...]
    calendar: WorkingCalendar
    file_hashes: dict[str, str] = {}

    def branch(self, branch_id: str) -> Branch:
        for branch in self.branches:
            if branch.id == branch_id:
                return branch
        raise KeyError(branch_id)

    @property
    def branch_ids(self) -> tuple[str, ...]:
        return tuple(branch.id for branch in self.branches)
