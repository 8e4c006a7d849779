"""Section 6 of the suite: machine instructions per event and per state change (callgrind).

The timed sections read CPU time, which on a shared VM wanders by a third from one minute to
the next. An instruction count does not: valgrind's callgrind counts the instructions a process
executes, the same for the same program and input whatever else the machine does. So this
section gives targets 1 and 2 a second, noise-free reading:

- target 1: instructions per engine event (the default scenario, branch `decouple`,
  record=True) over instructions per event of the bare SimPy loop of section 1;
- target 2: instructions per state change (generated networks, record=False) at each size.

What it cannot show: time lost waiting on memory. An instruction costs more cycles once a run's
objects no longer fit in the caches, so a flat count with a rising time per change says the
growth is the memory hierarchy's, not more work per change.

Each figure comes from one process under callgrind with `PYTHONHASHSEED=0`: it sets up (loads,
generates, warms up) uncounted, then makes one run inside `sys.call_tracing`, and callgrind
counts only the instructions executed within that C function (`--toggle-collect`): the run,
its draws and its garbage collections, nothing of the setup. Callgrind runs a program 50-100
times slower: 4,300 firms take about 5 minutes, 43,000 about 25. Needs `valgrind` on the PATH
(Debian: `apt install valgrind`); without it the section records why it did not run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

RUN = Path(__file__).resolve().parent / "run.py"
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def child(kind: str, n: int) -> dict[str, Any]:
    """In the process under callgrind: set up `kind` (`baseline`, `default` or `size` with n
    firms), then run it once inside `sys.call_tracing`, the one C function whose instructions
    callgrind counts (`--toggle-collect`), and count its events and changes."""
    import run as bench  # benchmarks/run.py (this file's directory is on sys.path)

    if kind == "baseline":
        processes, until = bench.FULL["baseline_processes"], bench.FULL["baseline_until"]
        bench.simpy_loop(processes, 50)  # warm-up: imports and first-call costs
        return {"events": sys.call_tracing(bench.simpy_loop, (processes, until))}
    from timeline.io.loader import load_scenario

    base = load_scenario()
    scenario = base
    if kind == "size":
        from timeline.io.generate import generate_firms, with_firms

        scenario = with_firms(base, generate_firms(base.firms, n, seed=0))
    scenario.variant(0)
    bench.warm_up(base, scenario)
    record = kind == "default"
    result = sys.call_tracing(bench.engine_run, (scenario, record))
    changes = result["records"] if record else result["changes"]
    return {"events": result["events"], "changes": changes, "firms": len(scenario.firms)}


def measure(kind: str, n: int = 0, timeout: float = 7_200) -> dict[str, Any]:
    """Instructions of one run of `kind` (nothing of the setup), per event and per change."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--toggle-collect=sys_call_tracing",
        sys.executable,
        str(RUN),
        "--child",
        "instructions",
        "--kind",
        kind,
        "--n",
        str(n),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise RuntimeError(f"callgrind {kind} {n}: {tail}")
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {**counts, "instructions": int(found[-1])}
    out["per_event"] = out["instructions"] / counts["events"]
    if "changes" in counts:
        out["per_change"] = out["instructions"] / counts["changes"]
    return out


def section(sizes: list[int], say) -> dict[str, Any]:
    """The whole section: the baseline, the default scenario, then each size."""
    if shutil.which("valgrind") is None:
        return {"error": "valgrind is not installed (Debian: apt install valgrind)"}
    out: dict[str, Any] = {"tool": "valgrind --tool=callgrind", "PYTHONHASHSEED": "0"}
    out["baseline"] = base = measure("baseline")
    say(f"  bare SimPy loop: {base['events']:,} events, {base['per_event']:,.0f} instructions each")
    out["default"] = d = measure("default")
    d["ratio_per_event"] = d["per_event"] / base["per_event"]
    say(
        f"  default scenario, record=True: {d['events']:,} events, {d['changes']:,} changes; "
        f"{d['per_event']:,.0f} instructions an event (x{d['ratio_per_event']:.1f} the loop's), "
        f"{d['per_change']:,.0f} a change"
    )
    rows = []
    for n in sizes:
        row = measure("size", n)
        row["ratio_to_first"] = row["per_change"] / (rows[0] if rows else row)["per_change"]
        rows.append(row)
        say(
            f"  {n:>7,} firms: {row['changes']:>9,} changes, {row['per_change']:,.0f} "
            f"instructions a change (x{row['ratio_to_first']:.2f} of {sizes[0]}), "
            f"{row['per_event']:,.0f} an event"
        )
    out["sizes"] = rows
    return out
