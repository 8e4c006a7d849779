"""The policy state and the typed effects that events apply to it.

The policy state is what the daily timeline shows: tariffs, China's rare-earth licensing regime,
and the US measures as flags. Events never carry behaviour, only `Effects`: a set of optional
fields, each of which, when given, replaces the matching part of the state.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from timeline.model.bounds import Flag, Pct, ReviewDays, Share, Spread

DESTINATIONS: tuple[str, ...] = ("US", "EU", "JP", "KR", "IN", "other")
END_USES: tuple[str, ...] = ("civil", "defence")
Destination = Literal["US", "EU", "JP", "KR", "IN", "other"]
EndUse = Literal["civil", "defence"]

# The 17 rare-earth elements (symbols), the only values accepted in element lists.
RARE_EARTHS: frozenset[str] = frozenset(
    [
        "Sc",
        "Y",
        "La",
        "Ce",
        "Pr",
        "Nd",
        "Pm",
        "Sm",
        "Eu",
        "Gd",
        "Tb",
        "Dy",
        "Ho",
        "Er",
        "Tm",
        "Yb",
        "Lu",
    ]
)

US_FLAGS: tuple[str, ...] = (
    "us_software_controls",
    "us_affiliates_rule",
    "us_port_fees",
    "us_chip_controls",
    "us_bank_sanctions",
)

_EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
EU_COUNTRIES: frozenset[str] = frozenset(_EU.split())


def destination_of(country: str) -> str:
    """Map an ISO 3166 alpha-2 country code to a licensing destination."""
    if country in EU_COUNTRIES:
        return "EU"
    return country if country in DESTINATIONS else "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Approval(_Strict):
    """Probability that one licence application is approved, for one destination."""

    civil: Share
    defence: Share


class ApprovalUpdate(_Strict):
    civil: Share | None = None
    defence: Share | None = None


def _check_elements(value: frozenset[str]) -> frozenset[str]:
    unknown = sorted(set(value) - RARE_EARTHS)
    if unknown:
        raise ValueError(
            f"unknown rare-earth element(s) {', '.join(unknown)}; "
            f"use symbols such as Dy, Tb, Sm ({' '.join(sorted(RARE_EARTHS))})"
        )
    return value


class GeneralLicence(_Strict):
    """Cover at once, without a review, for a named group of buyers (all given filters apply).

    `destinations` (e.g. [US]), `sectors` (prefixes, e.g. [automotive]) and `firms` (ids) each
    narrow the group when given; `end_use` is civil unless said otherwise. `share` is the part
    of the group the licence reaches when that is not known buyer by buyer: each buyer of the
    group is in it with this probability, drawn once per run (1: every buyer).
    """

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
    destinations: frozenset[Destination] = frozenset()
    sectors: tuple[str, ...] = ()
    firms: frozenset[str] = frozenset()
    end_use: EndUse = "civil"
    share: Share = 1.0

    def covers(self, destination: str, sector: str, firm_id: str, end_use: str) -> bool:
        return (
            end_use == self.end_use
            and (not self.destinations or destination in self.destinations)
            and (not self.sectors or any(sector.startswith(s) for s in self.sectors))
            and (not self.firms or firm_id in self.firms)
        )


class PolicyState(_Strict):
    """Everything the events change, at one moment.

    China's licence office: an application's review takes a number of China's working days
    drawn from a lognormal with median `review_working_days` and 90th percentile
    `review_working_days * review_spread`; the decision approves with the probability for the
    destination and end use; a denial is followed by a re-review with median
    `rereview_working_days`. General licences cover named groups at once.
    """

    us_tariff_on_cn_pct: Pct
    cn_tariff_on_us_pct: Pct
    licensed_elements: frozenset[str] = frozenset()
    review_working_days: ReviewDays = 45
    review_spread: Spread = 1.0
    rereview_working_days: ReviewDays = 45
    approval: dict[Destination, Approval]
    general_licences: tuple[GeneralLicence, ...] = ()
    extraterritorial: Flag = False
    extraterritorial_threshold_pct: float = Field(default=0.1, ge=0, le=100)
    us_software_controls: Flag = False
    us_affiliates_rule: Flag = False
    us_port_fees: Flag = False
    us_chip_controls: Flag = False
    us_bank_sanctions: Flag = False

    _elements = field_validator("licensed_elements")(_check_elements)

    @field_validator("approval")
    @classmethod
    def _every_destination(cls, value: dict[str, Approval]) -> dict[str, Approval]:
        missing = [d for d in DESTINATIONS if d not in value]
        if missing:
            raise ValueError(
                f"approval lacks destination(s) {', '.join(missing)}; "
                f"give civil and defence probabilities for each of {', '.join(DESTINATIONS)}"
            )
        return value

    def approval_probability(self, destination: str, end_use: str) -> float:
        return getattr(self.approval[destination], end_use)

    def apply(self, effects: Effects) -> PolicyState:
        """Return the state after `effects`; fields the effects leave out stay as they were."""
        update = {
            name: getattr(effects, name)
            for name in type(effects).model_fields
            if getattr(effects, name) is not None
            and name
            not in {
                "approval",
                "licensed_elements_add",
                "licensed_elements_remove",
                "general_licences_add",
                "general_licences_remove",
            }
        }
        if effects.general_licences_add or effects.general_licences_remove:
            gone = set(effects.general_licences_remove or ())
            added = effects.general_licences_add or ()
            gone |= {g.id for g in added}
            update["general_licences"] = tuple(
                g for g in self.general_licences if g.id not in gone
            ) + tuple(added)
        elements = set(update.pop("licensed_elements", self.licensed_elements))
        elements |= effects.licensed_elements_add or frozenset()
        elements -= effects.licensed_elements_remove or frozenset()
        update["licensed_elements"] = frozenset(elements)
        if effects.approval:
            approval = dict(self.approval)
            for dest, change in effects.approval.items():
                approval[dest] = approval[dest].model_copy(
                    update=change.model_dump(exclude_none=True)
                )
            update["approval"] = approval
        return self.model_copy(update=update)

    def flat(self) -> dict[str, object]:
        """One flat record for the daily timeline (column name -> value)."""
        row: dict[str, object] = {
            "us_tariff_on_cn_pct": self.us_tariff_on_cn_pct,
            "cn_tariff_on_us_pct": self.cn_tariff_on_us_pct,
            "re_licensed_elements": " ".join(sorted(self.licensed_elements)),
            "re_review_working_days": self.review_working_days,
            "re_general_licences": " ".join(g.id for g in self.general_licences),
        }
        for dest in DESTINATIONS:
            for use in END_USES:
                row[f"re_approval_{dest}_{use}"] = self.approval_probability(dest, use)
        row["re_extraterritorial"] = self.extraterritorial
        row["re_extraterritorial_threshold_pct"] = self.extraterritorial_threshold_pct
        for flag in US_FLAGS:
            row[flag] = getattr(self, flag)
        return row


class Effects(_Strict):
    """What one event changes. Every field is optional; a given field replaces the state's."""

    us_tariff_on_cn_pct: Pct | None = None
    cn_tariff_on_us_pct: Pct | None = None
    licensed_elements: frozenset[str] | None = None
    licensed_elements_add: frozenset[str] | None = None
    licensed_elements_remove: frozenset[str] | None = None
    review_working_days: ReviewDays | None = None
    review_spread: Spread | None = None
    rereview_working_days: ReviewDays | None = None
    approval: dict[Destination, ApprovalUpdate] | None = None
    general_licences_add: tuple[GeneralLicence, ...] | None = None
    general_licences_remove: frozenset[str] | None = None
    extraterritorial: Flag | None = None
    extraterritorial_threshold_pct: float | None = Field(default=None, ge=0, le=100)
    us_software_controls: Flag | None = None
    us_affiliates_rule: Flag | None = None
    us_port_fees: Flag | None = None
    us_chip_controls: Flag | None = None
    us_bank_sanctions: Flag | None = None

    @field_validator("licensed_elements", "licensed_elements_add", "licensed_elements_remove")
    @classmethod
    def _known_elements(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        return None if value is None else _check_elements(value)
