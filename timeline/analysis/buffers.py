"""Buffer sizing: the smallest multiple of a plant's stocks that keeps it running after the
branch point in all but (1 - confidence) of the runs.

For each plant, the candidate multiple m scales its rare-earth stock and (unless `re_only`) its
supplier buffers together. Every candidate runs the same paired replicates (same keyed draws),
so the share of runs that stop is monotone in m whenever more stock never stops a plant earlier
(the engine's rule), and bisection finds the smallest m on a grid of `tolerance` (relative).
Only the plant's own stocks change; everything else runs as in the scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from timeline.engine.world import simulate
from timeline.errors import TimelineError
from timeline.model.scenario import Firm, Scenario
from timeline.model.uncertain import point
from timeline.results.metrics import spans

MAX_MULTIPLE = 32.0


@dataclass(frozen=True)
class BufferAnswer:
    firm_id: str
    branch: str
    confidence: float
    days_of_cover_now: float
    days_needed: float | None  # None: not reached within MAX_MULTIPLE
    multiple: float | None
    p_stop_now: float
    p_stop_at_answer: float | None
    runs: int
    tolerance: float


def cover(firm: Firm) -> float:
    """Days of cover now: its rare-earth stock, or its largest parts buffer."""
    if firm.elements:
        return point(firm.inventory_days)
    return max((point(link.buffer_days) for link in firm.suppliers), default=0.0)


def scaled(scenario: Scenario, firm_id: str, multiple: float, re_only: bool) -> Scenario:
    firms = []
    for firm in scenario.firms:
        if firm.id == firm_id:
            update: dict[str, object] = {"inventory_days": point(firm.inventory_days) * multiple}
            if not re_only or not firm.elements:
                update["suppliers"] = tuple(
                    link.model_copy(update={"buffer_days": point(link.buffer_days) * multiple})
                    for link in firm.suppliers
                )
            firm = firm.model_copy(update=update)
        firms.append(firm)
    return scenario.model_copy(update={"firms": tuple(firms)})


def p_stop_after_branch(
    scenario: Scenario, branch: str, firm_index: int, runs: int, seed: int
) -> float:
    """Share of runs in which the plant is stopped at some time on or after the branch point."""
    branch_day = (scenario.branch_point - scenario.start).days
    stops = 0
    for replicate in range(runs):
        result = simulate(scenario, branch, seed, replicate=replicate, record=False)
        s = spans(result)
        mine = (s.firm == firm_index) & (s.rate <= 1e-9) & (s.end > branch_day)
        stops += bool(mine.any())
    return stops / runs


def size_buffer(
    scenario: Scenario,
    branch: str,
    firm_id: str,
    confidence: float = 0.9,
    runs: int = 50,
    seed: int = 0,
    re_only: bool = False,
    tolerance: float = 0.05,
    progress: Callable[[int], None] | None = None,
) -> BufferAnswer:
    """The smallest stock multiple with a stop share after the branch point <= 1 - confidence."""
    ids = [f.id for f in scenario.firms]
    if firm_id not in ids:
        raise TimelineError("--firm", "", f"unknown firm {firm_id!r}", "use an id of the table")
    index = ids.index(firm_id)
    firm = scenario.firms[index]
    allowed = 1.0 - confidence

    def p(multiple: float) -> float:
        value = p_stop_after_branch(
            scaled(scenario, firm_id, multiple, re_only), branch, index, runs, seed
        )
        if progress:
            progress(1)
        return value

    now = p(1.0)
    if now <= allowed:  # enough already: search downwards for the smallest multiple
        low, high, p_high = 0.0, 1.0, now
    else:
        low, high, p_high = 1.0, 2.0, p(2.0)
        while p_high > allowed and high < MAX_MULTIPLE:
            low, high = high, high * 2
            p_high = p(high)
        if p_high > allowed:
            return BufferAnswer(
                firm_id, branch, confidence, cover(firm), None, None, now, None, runs, tolerance
            )
    while high - low > tolerance * max(high, 1.0):
        mid = (low + high) / 2
        p_mid = p(mid)
        if p_mid <= allowed:
            high, p_high = mid, p_mid
        else:
            low = mid
    return BufferAnswer(
        firm_id,
        branch,
        confidence,
        cover(firm),
        round(cover(firm) * high, 1),
        round(high, 4),
        now,
        p_high,
        runs,
        tolerance,
    )


def answers_frame(answers: list[BufferAnswer]):
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "firm_id": a.firm_id,
                "branch": a.branch,
                "confidence": a.confidence,
                "days_of_cover_now": a.days_of_cover_now,
                "days_needed": a.days_needed if a.days_needed is not None else np.nan,
                "multiple": a.multiple if a.multiple is not None else np.nan,
                "p_stop_now": round(a.p_stop_now, 4),
                "p_stop_at_answer": (
                    round(a.p_stop_at_answer, 4) if a.p_stop_at_answer is not None else np.nan
                ),
                "runs": a.runs,
                "tolerance": a.tolerance,
            }
            for a in answers
        ]
    )
