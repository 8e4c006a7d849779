"""timeline: dated impact timelines for a trade conflict, by outcome branch.

The core a notebook needs: load a scenario, run a branch, read its tables.
"""

from timeline.engine.world import RunResult, simulate
from timeline.errors import TimelineError
from timeline.io.loader import load_scenario
from timeline.model.scenario import Scenario
from timeline.run import BranchRun, run_branch

__all__ = [
    "BranchRun",
    "RunResult",
    "Scenario",
    "TimelineError",
    "load_scenario",
    "run_branch",
    "simulate",
]
