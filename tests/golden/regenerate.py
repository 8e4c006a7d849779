"""Rewrite the golden event logs: `uv run python tests/golden/regenerate.py`.

One file per branch of the built-in scenario, seed 0: `<branch>.events.csv`, byte for byte what
`run_branch(...).files()["events.csv"]` gives. Run this only when a change to the model or the
scenario is meant to change the event log; review the diff (`git diff tests/golden`) and commit
it with the change that caused it.
"""

from __future__ import annotations

from pathlib import Path

from timeline.io.loader import load_scenario
from timeline.run import run_branch

HERE = Path(__file__).resolve().parent
SEED = 0


def golden_path(branch: str) -> Path:
    return HERE / f"{branch}.events.csv"


def main() -> None:
    scenario = load_scenario()
    changed = []
    for branch in scenario.branch_ids:
        content = run_branch(scenario, branch, SEED).files()["events.csv"]
        path = golden_path(branch)
        old = path.read_bytes() if path.exists() else None
        if old == content:
            print(f"unchanged  {path.name}")
            continue
        path.write_bytes(content)
        changed.append(path.name)
        print(f"{'created' if old is None else 'changed':<10} {path.name}")
    stale = sorted(
        p.name for p in HERE.glob("*.events.csv") if p.name.split(".")[0] not in scenario.branch_ids
    )
    for name in stale:
        print(f"stale      {name} (no such branch; delete it by hand)")
    print(f"{len(changed)} golden file(s) rewritten" if changed else "golden files up to date")


if __name__ == "__main__":
    main()
