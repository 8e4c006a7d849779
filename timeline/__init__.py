"""timeline: dated impact timelines for a trade conflict, by outcome branch.

The core a notebook needs: load a scenario, run a branch or an ensemble, read its tables.
Names are imported on first use, so `import timeline.engine.world` does not pull in pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "RunResult": "timeline.engine.world",
    "simulate": "timeline.engine.world",
    "TimelineError": "timeline.errors",
    "load_scenario": "timeline.io.loader",
    "Scenario": "timeline.model.scenario",
    "BranchRun": "timeline.run",
    "run_branch": "timeline.run",
    "simulate_branches": "timeline.run",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'timeline' has no attribute {name!r}")
