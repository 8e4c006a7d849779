"""Golden event logs: every branch of the built-in scenario, seed 0, byte for byte.

The expected files live in `tests/golden/`; they change only by the explicit command
`uv run python tests/golden/regenerate.py`, whose diff is reviewed and committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from timeline.run import run_branch

GOLDEN = Path(__file__).resolve().parent / "golden"
BRANCHES = ("history", "concede", "deescalate", "decouple")
REGENERATE = "uv run python tests/golden/regenerate.py"


def test_one_golden_file_per_branch(default_scenario):
    """There is a golden event log for every branch of the scenario and for no other."""
    names = sorted(p.name for p in GOLDEN.glob("*.events.csv"))
    expected = sorted(f"{branch}.events.csv" for branch in default_scenario.branch_ids)
    assert names == expected, f"golden files out of date; if intended, run: {REGENERATE}"


def _first_difference(expected: bytes, got: bytes) -> str:
    old, new = expected.decode().splitlines(), got.decode().splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return f"line {number}:\n  golden: {a}\n  now:    {b}"
    return f"golden has {len(old)} lines, the run {len(new)}"


@pytest.mark.parametrize("branch", BRANCHES)
def test_events_match_golden(default_scenario, branch):
    """The seed-0 event log of each branch equals its golden file byte for byte."""
    expected = (GOLDEN / f"{branch}.events.csv").read_bytes()
    got = run_branch(default_scenario, branch, 0).files()["events.csv"]
    assert got == expected, (
        f"events.csv of branch {branch!r} (seed 0) differs from tests/golden/{branch}.events.csv "
        f"at {_first_difference(expected, got)}\n"
        f"If the change is intended, regenerate with: {REGENERATE} and review git diff tests/golden"
    )
