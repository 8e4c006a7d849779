"""Golden runs: every branch of the built-in scenario, seed 0, replicate 0, byte for byte.

Per branch, `tests/golden/<branch>.events.csv` is the rendered event log and
`tests/golden/<branch>.trace.csv` the structured trace (`RunResult.records`) it is rendered
from. They change only by the explicit command `uv run python tests/golden/regenerate.py`,
whose diff is reviewed and committed with the change that caused it.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pandas as pd
import pytest

from timeline.engine.trace import Kind
from timeline.run import run_branch

GOLDEN = Path(__file__).resolve().parent / "golden"
BRANCHES = ("history", "concede", "deescalate", "decouple")
KINDS = ("events", "trace")
REGENERATE = "uv run python tests/golden/regenerate.py"


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("golden_regenerate", GOLDEN / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regenerate = _regenerate_module()


@pytest.fixture(scope="module")
def fresh(default_scenario) -> dict[str, dict[str, bytes]]:
    """Per branch, the golden files' content from a run made now."""
    return {branch: regenerate.golden_files(default_scenario, branch) for branch in BRANCHES}


def test_golden_files_are_exactly_one_pair_per_branch(default_scenario):
    """There is an events and a trace file for every branch of the scenario, and no other."""
    assert set(default_scenario.branch_ids) == set(BRANCHES)
    names = sorted(p.name for p in GOLDEN.glob("*.csv"))
    expected = sorted(f"{branch}.{kind}.csv" for branch in BRANCHES for kind in KINDS)
    assert names == expected, f"golden files out of date; if intended, run: {REGENERATE}"


def _first_difference(expected: bytes, got: bytes) -> str:
    old, new = expected.decode().splitlines(), got.decode().splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return f"line {number}:\n  golden: {a[:300]}\n  now:    {b[:300]}"
    return f"the end: the golden file has {len(old)} lines, the run {len(new)}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("branch", BRANCHES)
def test_run_matches_golden(fresh, branch, kind):
    """The seed-0 event log and trace of each branch equal their golden files byte for byte."""
    path = GOLDEN / f"{branch}.{kind}.csv"
    expected = path.read_bytes()
    got = fresh[branch][kind]
    assert got == expected, (
        f"{kind} of branch {branch!r} (seed 0, replicate 0) differs from "
        f"tests/golden/{path.name} at {_first_difference(expected, got)}\n"
        f"If the change is intended, regenerate with: {REGENERATE} "
        "and review git diff tests/golden"
    )


@pytest.mark.parametrize("branch", BRANCHES)
def test_golden_event_log_is_the_trace_rendered(branch):
    """The two golden files describe one run: one event row per trace record, in the same
    order (seq = record number), on the same day, policy rows where the trace has POLICY."""
    events = pd.read_csv(GOLDEN / f"{branch}.events.csv", keep_default_na=False)
    trace = pd.read_csv(GOLDEN / f"{branch}.trace.csv", keep_default_na=False)
    assert len(trace) > 0
    assert list(events["seq"]) == list(range(len(trace)))
    day = (pd.to_datetime(events["date"]) - pd.Timestamp("2025-04-01")).dt.days
    assert list(day) == list(trace["day"])
    policy = trace["kind"] == "POLICY"
    assert set(events.loc[policy, "kind"]).isdisjoint({"firm", "licence"})
    assert set(events.loc[~policy, "kind"]) <= {"firm", "licence"}
    assert (events.loc[~policy, "subject"] != "").all()


def test_trace_text_round_trips_every_number(default_scenario):
    """The trace format loses nothing: reading it back gives the records exactly."""
    result = run_branch(default_scenario, "decouple", 0).result
    table = pd.read_csv(io.BytesIO(regenerate.trace_bytes(result)))
    assert len(table) == len(result.records)
    back = [
        (int(r.day), int(Kind[r.kind]), int(r.firm), int(r.channel), int(r.a), int(r.b), r.x)
        for r in table.itertuples()
    ]
    assert back == [tuple(r) for r in result.records]
