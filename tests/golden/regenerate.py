"""Rewrite the golden files: `uv run python tests/golden/regenerate.py`.

Two files per branch of the built-in scenario, seed 0, replicate 0:

- `<branch>.events.csv`: byte for byte what `run_branch(...).files()["events.csv"]` gives (the
  rendered event log);
- `<branch>.trace.csv`: the structured trace of the same run (`RunResult.records`), one line per
  record: `day,kind,firm,channel,a,b,x`, with `kind` as its `Kind` name and `x` as Python's
  shortest round-trip text of the float (`repr`), so a change of any number shows.

Run this only when a change to the model or the scenario is meant to change a run; review the
diff (`git diff tests/golden`) and commit it with the change that caused it.
"""

from __future__ import annotations

from pathlib import Path

from timeline.engine.trace import Kind
from timeline.engine.world import RunResult
from timeline.io.loader import load_scenario
from timeline.run import run_branch

HERE = Path(__file__).resolve().parent
SEED = 0
REPLICATE = 0
KINDS = ("events", "trace")
TRACE_HEADER = "day,kind,firm,channel,a,b,x"


def golden_path(branch: str, kind: str) -> Path:
    return HERE / f"{branch}.{kind}.csv"


def trace_bytes(result: RunResult) -> bytes:
    """The structured trace of a run as CSV text (LF line ends)."""
    lines = [TRACE_HEADER]
    for r in result.records:
        lines.append(f"{r.day},{Kind(r.kind).name},{r.firm},{r.channel},{r.a},{r.b},{float(r.x)!r}")
    return ("\n".join(lines) + "\n").encode("ascii")


def golden_files(scenario, branch: str) -> dict[str, bytes]:
    """What the golden files of `branch` hold, from a fresh run (seed 0, replicate 0)."""
    run = run_branch(scenario, branch, SEED, replicate=REPLICATE)
    return {"events": run.files()["events.csv"], "trace": trace_bytes(run.result)}


def main() -> None:
    scenario = load_scenario()
    changed = []
    for branch in scenario.branch_ids:
        for kind, content in golden_files(scenario, branch).items():
            path = golden_path(branch, kind)
            old = path.read_bytes() if path.exists() else None
            if old == content:
                print(f"unchanged  {path.name}")
                continue
            path.write_bytes(content)
            changed.append(path.name)
            print(f"{'created' if old is None else 'changed':<10} {path.name}")
    stale = sorted(
        p.name
        for kind in KINDS
        for p in HERE.glob(f"*.{kind}.csv")
        if p.name.split(".")[0] not in scenario.branch_ids
    )
    for name in stale:
        print(f"stale      {name} (no such branch; delete it by hand)")
    print(f"{len(changed)} golden file(s) rewritten" if changed else "golden files up to date")


if __name__ == "__main__":
    main()
