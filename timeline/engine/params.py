"""The numbers of each firm for one replicate: drawn where the scenario gives a distribution.

A firm-table cell may be a distribution (`inventory_days`, `lead_time_days`, `china_share`,
`china_content_share`, `defence_share`, a supplier link's buffer days and share): it is drawn
with its own keyed number, `("cell", firm_id, name[, supplier])`; a plain number takes no draw.
Then the scenario's spread factor for that field, if any, multiplies it (days only).

Each uncertain number is drawn once per replicate by the quantile of its own keyed uniform
number, `("param", firm_id, field)`, so it is the same in every branch (paired runs), and
adding a firm or a distribution leaves every other draw unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from timeline.engine.streams import Streams
from timeline.model.scenario import Firm, Scenario, SupplierLink
from timeline.model.uncertain import Distribution, is_uncertain
from timeline.model.uncertain import draw as draw_cell


@dataclass(frozen=True, slots=True)
class FirmParams:
    """One firm's numbers in one replicate."""

    inventory: float
    buffers: tuple[float, ...]
    lead: int
    ramp: int
    china: float  # the share of its rare earths it buys from China
    content: float  # china_content_share: the Chinese rare-earth value in its products
    defence: float  # the share of its output for defence end users
    shares: tuple[float, ...]  # each supplier link's share of its part, in `buffers`' order


def scenario_for(scenario: Scenario, seed: int, replicate: int) -> Scenario:
    """The scenario one run uses: the replicate's posterior set (`Scenario.variant`), and a
    value drawn for every number the files give as a distribution, by the quantile of its own
    keyed number `("scenario", path)`: the same in every branch. A calibrated path keeps the
    posterior's value."""
    chosen = scenario.variant(replicate)
    if not scenario.drawn:
        return chosen
    # one entry, replaced whole: an ensemble runs every branch of a replicate in turn
    last: list[tuple[tuple[int, int], Scenario]] = scenario.cached("drawn", list)
    entry = next(iter(last), None)
    if entry is not None and entry[0] == (seed, replicate):
        return entry[1]
    streams = Streams(seed, replicate)
    fixed = (
        set(scenario.posterior[replicate % len(scenario.posterior)])
        if scenario.posterior
        else set()
    )
    values = {
        path: dist.ppf(streams.uniform("scenario", path))
        for path, dist in scenario.drawn
        if path not in fixed
    }
    drawn = chosen.model_copy(update={"drawn": ()}).with_overrides(values)
    last[:] = [((seed, replicate), drawn)]
    return drawn


def _buffer(link: SupplierLink, streams: Streams, firm_id: str) -> float:
    """A link's buffer days: the number, or a draw keyed by the firm and the supplier."""
    if not is_uncertain(link.buffer_days):
        return link.buffer_days  # type: ignore[return-value]
    return draw_cell(link.buffer_days, streams.uniform("cell", firm_id, "buffer", link.firm))


def _share(value: float | Distribution, streams: Streams, *key: str) -> float:
    """A share: the number, or a draw keyed by `("cell", *key)` (no draw for a number)."""
    if not is_uncertain(value):
        return value  # type: ignore[return-value]
    return draw_cell(value, streams.uniform("cell", *key))


def _china(firm: Firm, streams: Streams) -> float:
    """The firm's Chinese share: the number, or a draw keyed by the firm (no draw otherwise)."""
    return _share(firm.china_share, streams, firm.id, "china")


def params_for(scenario: Scenario, streams: Streams) -> list[FirmParams]:
    """`draw_params`, remembered for the last replicate drawn (one entry, replaced whole): an
    ensemble runs every branch of a replicate in turn, and the draws are the same in each."""
    last: list[tuple[tuple[int, int], list[FirmParams]]] = scenario.cached("params", list)
    key = (streams.seed, streams.replicate)
    if last and last[0][0] == key:
        return last[0][1]
    params = draw_params(scenario, streams)
    last[:] = [(key, params)]
    return params


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
                    draw("buffer_days", _buffer(link, streams, firm.id), link.firm)
                    for link in firm.suppliers
                ),
                lead=round(draw("lead_time_days", lead)),
                ramp=firm.ramp_days,
                china=_china(firm, streams),
                content=_share(firm.china_content_share, streams, firm.id, "content"),
                defence=_share(firm.defence, streams, firm.id, "defence"),
                shares=tuple(
                    _share(link.share, streams, firm.id, "share", link.firm)
                    for link in firm.suppliers
                ),
            )
        )
    return out
