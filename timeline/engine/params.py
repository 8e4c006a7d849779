"""The numbers of each firm for one replicate: drawn where the scenario gives a distribution.

A firm-table cell may be a distribution (`inventory_days`, `lead_time_days`): it is drawn
first, with its own keyed number; then the scenario's spread factor for that field, if any,
multiplies it.

Each uncertain number is drawn once per replicate by the quantile of its own keyed uniform
number, `("param", firm_id, field)`, so it is the same in every branch (paired runs), and
adding a firm or a distribution leaves every other draw unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from timeline.engine.streams import Streams
from timeline.model.scenario import Scenario
from timeline.model.uncertain import draw as draw_cell


@dataclass(frozen=True, slots=True)
class FirmParams:
    """One firm's numbers in one replicate."""

    inventory: float
    buffers: tuple[float, ...]
    lead: int
    ramp: int


def draw_params(scenario: Scenario, streams: Streams) -> list[FirmParams]:
    """Every firm's numbers for the replicate of `streams`."""
    spread = {name: s.factor for name, s in scenario.uncertainty.items()}
    out = []
    for firm in scenario.firms:

        def draw(field: str, value: float, link: str = "", firm_id: str = firm.id) -> float:
            factor = spread.get(field)
            if factor is None:
                return value
            return value * factor.ppf(streams.uniform("param", firm_id, field, link))

        inventory = draw_cell(firm.inventory_days, streams.uniform("cell", firm.id, "inventory"))
        lead = draw_cell(firm.lead_time_days, streams.uniform("cell", firm.id, "lead"))
        out.append(
            FirmParams(
                inventory=draw("inventory_days", inventory),
                buffers=tuple(
                    draw("buffer_days", link.buffer_days, link.firm) for link in firm.suppliers
                ),
                lead=round(draw("lead_time_days", lead)),
                ramp=firm.ramp_days,
            )
        )
    return out
