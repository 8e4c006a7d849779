"""Benchmark suite: engine cost as ratios to a bare SimPy loop measured in the same process.

    uv run python benchmarks/run.py            # the full suite (about 40 minutes on 2 cores)
    uv run python benchmarks/run.py --quick    # small sizes, under a minute

Prints each figure and writes `benchmarks/results.json` (`--out` to change). What it measures:

1. baseline: N SimPy processes waiting on timeouts and interrupting one another; CPU time per
   SimPy event (events counted by SimPy's own event ids: scheduled less still queued), with 100
   processes (the reference of every ratio: a queue about as short as the default scenario's)
   and with 10,000 (what a deep event queue costs SimPy itself);
2. the default scenario (branch `decouple`): CPU time per engine event and per state change,
   as ratios to the baseline's per-event cost measured in between (interleaved). A state change
   is a record of `simulate(..., record=True).records`, or (record=False) a change point of a
   plant's output rate or of a buyer's Chinese flow (`rates` + `flows`). Engine events are
   counted as before the engine kept the firms' timers in its own per-day calendar
   (2026-11-30): one per timer run (a licence decision, goods running dry or arriving, a plant
   waking; superseded ones included) and one per SimPy event other than the per-day events that
   run the timers (the policy batches): the events the engine had as SimPy events before, so
   the ratios compare across that change (`events`; `simpy_events` is SimPy's own count);
3. generated networks (`timeline.io.generate`) of 43 ... 100,000 firms, branch `decouple`,
   record=False, each size in its own subprocess (so `ru_maxrss` is that size's peak): CPU time
   per state change, its ratio to the 43-firm figure and to a baseline measured in that
   process; with the garbage collector as is, after `gc.freeze()` (before the run, or once the
   world is built), with `gc.set_threshold(100_000, 50, 100)`, and disabled (modes interleaved,
   best of several runs for small sizes); the 100,000-firm run's wall time and peak memory;
4. `run_ensemble` of the default scenario, every branch, with jobs=1 and jobs=2: wall time and
   parallel efficiency (t1 / (2 t2));
5. a 1,000,000-firm network through the Python API (`with_firms`), run for at most a time
   budget (40 minutes: long enough to finish here): how far it got (days of the horizon,
   events, state changes), time and peak memory;
6. instructions (valgrind's callgrind, `benchmarks/instructions.py`): the machine instructions
   of sections 1-3's runs, a count that the machine's load does not change, per event (the
   engine's over the bare loop's: target 1 without the noise) and per state change at each
   size (target 2's work, without the time spent waiting on memory). About 10 minutes; not
   part of `--quick` unless asked for with `--only`.

Since commit b46a5b0 the engine itself pauses the garbage collector while a world builds, starts
and runs (`timeline.engine.world.collector_paused`): the GC modes of section 3 then differ only
in what happens outside the run.

CPU time (`time.process_time`) is the main clock: it is what the process used, so it does not
count time another job on the machine took from it (wall times are reported too). Other jobs
still share the caches and memory bandwidth: the load average is recorded with each section.
This is a measurement, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import instructions
import simpy

HERE = Path(__file__).resolve().parent
BRANCH = "decouple"
# gc.freeze() before the run (the scenario's objects), gc.freeze() once the world is built (the
# engine's own objects too), the collector off for the run
# gc.set_threshold(100_000, 50, 100) for the run (fewer collections)
GC_MODES = ("freeze", "freeze_world", "threshold", "disable")
GC_MODES_LARGE = ("threshold", "disable")
REPEATS = {43: 30, 430: 10, 4300: 3}  # runs per mode, interleaved; best of them (else one)
QUICK_REPEATS = {43: 10, 430: 3}
FULL = {
    "baseline_processes": 100,
    "baseline_until": 5_000,
    "baseline_large_processes": 10_000,
    "baseline_large_until": 200,
    "default_repeat": 30,
    "sizes": [43, 430, 4300, 43_000, 100_000],
    "gc_sizes": [43, 430, 4300, 43_000],  # every GC mode; larger sizes: GC_MODES_LARGE
    "ensemble_runs": 1000,
    "million": 1_000_000,
    "million_budget_s": 2_400.0,  # long enough to finish (target: the run finishes)
    "instruction_sizes": [43, 430, 4300],  # 43,000 takes about 25 minutes under callgrind
}
QUICK = {
    "baseline_processes": 100,
    "baseline_until": 2_000,
    "baseline_large_processes": 2_000,
    "baseline_large_until": 100,
    "default_repeat": 3,
    "sizes": [43, 430, 1000],
    "gc_sizes": [43, 430, 1000],
    "ensemble_runs": 5,
    "million": 5_000,
    "million_budget_s": 3.0,
    "instruction_sizes": [43, 430],
}


# --- measuring --------------------------------------------------------------------------------


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that registers itself, so its event counter can be read afterwards.
    It overrides nothing on the event path: no cost per event."""

    made: list[simpy.Environment] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _CountingEnvironment.made.append(self)


@contextlib.contextmanager
def counting_envs():
    """Within the block, every `simpy.Environment()` is a `_CountingEnvironment`, and every
    world built is registered too (`made.worlds`), so its calendar's timers can be counted."""
    from timeline.engine.world import World

    original, setup = simpy.Environment, World._setup
    made = _Made()
    _CountingEnvironment.made = made

    def registered(world, *args, **kwargs):
        made.worlds.append(world)
        return setup(world, *args, **kwargs)

    simpy.Environment = _CountingEnvironment
    World._setup = registered
    try:
        yield made
    finally:
        simpy.Environment = original
        World._setup = setup


class _Made(list):
    """The environments made in a `counting_envs` block, and (`worlds`) the worlds."""

    def __init__(self) -> None:
        super().__init__()
        self.worlds: list[Any] = []

    def events(self) -> int:
        """Engine events, counted as before the calendar (one per timer and per policy batch):
        SimPy events processed, less those that only ran a day's timers, plus the firms'
        timers run from the worlds' calendars."""
        ticks = sum(w.ticks_run() for w in self.worlds)
        return self.simpy_events() - ticks + sum(w.timers_run() for w in self.worlds)

    def simpy_events(self) -> int:
        return sum(processed(env) for env in self)


def processed(env: simpy.Environment) -> int:
    """SimPy events processed by `env`: events scheduled (its event ids) less those queued."""
    return next(env._eid) - len(env._queue)


def clocks(fn):
    """(cpu seconds, wall seconds, result) of `fn()`."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def say(text: str) -> None:
    print(text, flush=True)


# --- 1. baseline ------------------------------------------------------------------------------


def simpy_loop(processes: int, until: int) -> int:
    """N processes, each waiting on timeouts of 1-9 days; every third wake-up interrupts
    another process (which catches the Interrupt and goes on). Returns the events processed."""
    env = simpy.Environment()
    procs: list[simpy.Process] = []

    def worker(i: int):
        wakes = 0
        while True:
            try:
                yield env.timeout(1 + (i * 7 + wakes * 3) % 9)
                wakes += 1
                if wakes % 3 == 0:
                    other = procs[(i * 31 + wakes) % processes]
                    if other is not env.active_process and other.is_alive:
                        other.interrupt()
            except simpy.Interrupt:
                wakes += 1

    for i in range(processes):
        procs.append(env.process(worker(i)))
    env.run(until=until)
    return processed(env)


def baseline_once(processes: int, until: int) -> tuple[float, float, int]:
    return clocks(lambda: simpy_loop(processes, until))


def baseline(cfg: dict[str, Any], repeat: int = 5) -> dict[str, Any]:
    """Best of `repeat` (interleaved) of a small loop (the reference of every ratio: a queue
    as short as the default scenario's) and a large one (10,000 processes: what a deep event
    queue costs SimPy itself)."""
    sizes = {
        "small": (cfg["baseline_processes"], cfg["baseline_until"]),
        "large": (cfg["baseline_large_processes"], cfg["baseline_large_until"]),
    }
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(repeat):
        for key, (processes, until) in sizes.items():
            run = baseline_once(processes, until)
            if key not in best or run[0] < best[key][0]:
                best[key] = run
    out: dict[str, Any] = {"load": load()}
    for key, (processes, until) in sizes.items():
        cpu, wall, events = best[key]
        out[key] = {
            "processes": processes,
            "until": until,
            "events": events,
            "cpu_s": cpu,
            "wall_s": wall,
            "us_per_event": 1e6 * cpu / events,
        }
    out["us_per_event"] = out["small"]["us_per_event"]
    return out


# --- 2. the default scenario ------------------------------------------------------------------


def engine_run(scenario, record: bool, freeze_world: bool = False) -> dict[str, Any]:
    """One run of `BRANCH` through `simulate`: CPU and wall time, SimPy events, state changes.
    `freeze_world`: the same steps as `simulate`, with `gc.freeze()` once the world is built."""
    from timeline.engine.params import scenario_for
    from timeline.engine.streams import Streams
    from timeline.engine.world import World, simulate

    def frozen():
        variant = scenario.variant(0)
        days = (variant.end - variant.start).days + 1
        world = World(variant, BRANCH, Streams(0, 0), days, record)
        world.start()
        gc.freeze()
        world.run(until=days)
        return world.finish()

    def plain():
        return simulate(scenario, BRANCH, record=record)

    # each timed run draws its firms' numbers, as a single run does (the engine keeps the last
    # replicate's draws for an ensemble's other branches: `timeline.engine.params.params_for`)
    scenario_for(scenario, 0, 0).cached("params", list).clear()
    with counting_envs() as made:
        cpu, wall, result = clocks(frozen if freeze_world else plain)
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "events": made.events(),
        "simpy_events": made.simpy_events(),
        "records": len(result.records),
        "changes": len(result.rates) + len(result.flows),
    }


def default_scenario(cfg: dict[str, Any]) -> dict[str, Any]:
    """Runs with and without the trace, interleaved with the small baseline loop (so both see
    the same machine); best of `default_repeat` each."""
    from timeline.io.loader import load_scenario

    scenario = load_scenario()
    scenario.variant(0)  # the posterior set of replicate 0, built once (cached)
    engine_run(scenario, True)  # warm-up: one-time caches
    out: dict[str, Any] = {"firms": len(scenario.firms), "branch": BRANCH, "load": load()}
    best: dict[str, Any] = {}
    base_best = None
    for _ in range(cfg["default_repeat"]):
        run = baseline_once(cfg["baseline_processes"], cfg["baseline_until"])
        if base_best is None or run[0] < base_best[0]:
            base_best = run
        for record in (True, False):
            key = "record" if record else "no_record"
            result = engine_run(scenario, record)
            if key not in best or result["cpu_s"] < best[key]["cpu_s"]:
                best[key] = result
    base_us = 1e6 * base_best[0] / base_best[2]
    out["baseline_us_per_event"] = base_us
    for key, result in best.items():
        changes = result["records"] if key == "record" else result["changes"]
        per_event = 1e6 * result["cpu_s"] / result["events"]
        per_change = 1e6 * result["cpu_s"] / changes
        out[key] = {
            **result,
            "state_changes": changes,
            "us_per_event": per_event,
            "us_per_change": per_change,
            "ratio_per_event": per_event / base_us,
            "ratio_per_change": per_change / base_us,
        }
    return out


# --- 3. networks of many firms (one subprocess per size) --------------------------------------


def warm_up(base, scenario) -> None:
    """Fill the process's one-time caches (working-day tables, the resolved schedule) before
    timing: one run of the built-in scenario and day 0 of the generated one."""
    from timeline.engine.world import simulate

    simulate(base, BRANCH, record=False)
    simulate(scenario, BRANCH, until=scenario.start, record=False)


def child_size(n: int, modes: list[str], repeat: int) -> dict[str, Any]:
    """In a subprocess: generate n firms, validate, run `BRANCH` once per GC mode."""
    from timeline.io.generate import generate_firms, with_firms
    from timeline.io.loader import load_scenario

    base = load_scenario()
    out: dict[str, Any] = {"firms": n}
    out["generate_s"], _, firms = clocks(lambda: generate_firms(base.firms, n, seed=0))
    out["validate_s"], _, scenario = clocks(lambda: with_firms(base, firms))
    out["variant_s"], _, _ = clocks(lambda: scenario.variant(0))
    out["links"] = sum(len(f.suppliers) for f in scenario.firms)
    warm_up(base, scenario)
    out["rss_before_run_mb"] = maxrss_mb()
    best: dict[str, dict[str, Any]] = {}
    base_best = None
    thresholds = gc.get_threshold()
    for _ in range(repeat):
        run = baseline_once(100, 2_000)
        if base_best is None or run[0] < base_best[0]:
            base_best = run
        for mode in modes:  # interleaved: every mode sees the same machine
            gc.collect()
            if mode == "freeze":
                gc.freeze()
            elif mode == "disable":
                gc.disable()
            elif mode == "threshold":
                gc.set_threshold(100_000, 50, 100)
            try:
                run = engine_run(scenario, record=False, freeze_world=mode == "freeze_world")
            finally:
                gc.enable()
                gc.unfreeze()
                gc.set_threshold(*thresholds)
            if mode not in best or run["cpu_s"] < best[mode]["cpu_s"]:
                best[mode] = run
    base_us = 1e6 * base_best[0] / base_best[2]
    out["baseline_us_per_event"] = base_us
    for mode, run in best.items():
        run["us_per_change"] = 1e6 * run["cpu_s"] / run["changes"]
        run["us_per_event"] = 1e6 * run["cpu_s"] / run["events"]
        run["ratio_per_change"] = run["us_per_change"] / base_us
        out[mode] = run
    out["maxrss_mb"] = maxrss_mb()
    out["load"] = load()
    return out


def child_million(n: int, budget: float) -> dict[str, Any]:
    """In a subprocess: n firms through the Python API, run by steps of 10 days until the end
    or until `budget` seconds of running have passed."""
    from timeline.engine.streams import Streams
    from timeline.engine.world import World
    from timeline.io.generate import generate_firms, with_firms
    from timeline.io.loader import load_scenario

    t0 = time.perf_counter()
    base = load_scenario()
    out: dict[str, Any] = {"firms": n, "budget_s": budget}
    out["generate_s"], _, firms = clocks(lambda: generate_firms(base.firms, n, seed=0))
    out["validate_s"], _, scenario = clocks(lambda: with_firms(base, firms))
    out["variant_s"], _, variant = clocks(lambda: scenario.variant(0))
    days = (variant.end - variant.start).days + 1
    warm_up(base, base)
    with counting_envs() as made:
        out["build_s"], _, world = clocks(
            lambda: World(variant, BRANCH, Streams(0, 0), days, record=False)
        )
        out["start_s"], _, _ = clocks(world.start)
    out["rss_after_build_mb"] = maxrss_mb()
    c0, w0 = time.process_time(), time.perf_counter()
    day = 0
    while day < days and time.perf_counter() - w0 < budget:
        day = min(days, day + 10)
        world.run(until=day)
    out["run_cpu_s"] = time.process_time() - c0
    out["run_wall_s"] = time.perf_counter() - w0
    out["days_reached"], out["days"] = day, days
    out["finished"] = day >= days
    out["events"] = made.events()
    out["simpy_events"] = made.simpy_events()
    out["changes"] = len(world.result.rates) + len(world.result.flows)
    out["total_wall_s"] = time.perf_counter() - t0
    out["maxrss_mb"] = maxrss_mb()
    out["load"] = load()
    return out


def in_subprocess(args: list[str], timeout: float) -> dict[str, Any]:
    """Run this file with `args` in a fresh interpreter; its last stdout line is JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["exit " + str(done.returncode)]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def scaling(cfg: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    rows = []
    for n in cfg["sizes"]:
        modes = ["default", *(GC_MODES if n in cfg["gc_sizes"] else GC_MODES_LARGE)]
        repeat = (QUICK_REPEATS if quick else REPEATS).get(n, 1)
        row = in_subprocess(
            ["--child", "size", "--n", str(n), "--modes", ",".join(modes), "--repeat", str(repeat)],
            timeout=3600,
        )
        rows.append(row)
        if "error" in row:
            say(f"  {n:>9,} firms: {row['error']}")
            continue
        first = rows[0].get("default", {}).get("us_per_change")
        d = row["default"]
        extra = "  ".join(f"{m} {row[m]['us_per_change']:.1f}" for m in GC_MODES if m in row)
        say(
            f"  {n:>9,} firms: {d['changes']:>9,} changes {d['events']:>9,} events "
            f"{d['us_per_change']:7.1f} us/change (x{d['us_per_change'] / first:.2f} of 43; "
            f"x{d['ratio_per_change']:.0f} of this process's baseline event)  {extra}  "
            f"run wall {d['wall_s']:.1f} s  peak {row['maxrss_mb']:.0f} MB"
        )
    return rows


# --- 4. ensembles -----------------------------------------------------------------------------


def ensembles(cfg: dict[str, Any]) -> dict[str, Any]:
    from timeline.ensemble.runner import run_ensemble
    from timeline.io.loader import load_scenario

    scenario = load_scenario()
    branches = scenario.branch_ids
    runs = cfg["ensemble_runs"]
    out: dict[str, Any] = {"runs": runs, "branches": list(branches)}
    for jobs in (1, 2):
        before = load()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, wall, _ = clocks(lambda j=jobs: run_ensemble(scenario, branches, runs, 0, jobs=j))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, joined
        workers = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        out[f"jobs{jobs}"] = {
            "wall_s": wall,
            "parent_cpu_s": cpu,
            "workers_cpu_s": workers,
            # the share of `jobs` cores the run actually got (another job takes the rest)
            "cores_used": (cpu + workers) / wall,
            "ms_per_run": 1e3 * wall / (runs * len(branches)),
            "load_before": before,
            "load_after": load(),
        }
        say(
            f"  jobs={jobs}: {wall:.1f} s wall, {out[f'jobs{jobs}']['ms_per_run']:.2f} ms a run, "
            f"{out[f'jobs{jobs}']['cores_used']:.2f} cores used"
        )
    out["speedup"] = out["jobs1"]["wall_s"] / out["jobs2"]["wall_s"]
    out["efficiency"] = out["speedup"] / 2
    one, two = out["jobs1"], out["jobs2"]
    # CPU efficiency: the CPU work of jobs=1 over that of jobs=2 (overheads of the pool:
    # pickling, per-process caches), whatever share of the machine other jobs took
    out["cpu_efficiency"] = (one["parent_cpu_s"] + one["workers_cpu_s"]) / (
        two["parent_cpu_s"] + two["workers_cpu_s"]
    )
    say(
        f"  speed-up {out['speedup']:.2f}, parallel efficiency {out['efficiency']:.0%}; "
        f"cores used {one['cores_used']:.2f} and {two['cores_used']:.2f}; "
        f"CPU efficiency {out['cpu_efficiency']:.0%}"
    )
    return out


# --- the suite --------------------------------------------------------------------------------


def commit_id() -> str:
    """The commit of the code measured (with `+` when the work tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "timeline"],
            capture_output=True,
            text=True,
            cwd=HERE,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+" if dirty else "")


def section(results: dict[str, Any], key: str, out_path: Path, fn) -> Any:
    """Run one section; keep going after a failure (recorded), save what is known so far."""
    try:
        results[key] = fn()
    except Exception as err:  # a measurement that fails is reported, the suite goes on
        results[key] = {"error": f"{type(err).__name__}: {err}"}
        say(f"  failed: {results[key]['error']}")
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    return results[key]


SECTIONS = ("baseline", "default", "scaling", "ensemble", "million", "instructions")
QUICK_SECTIONS = SECTIONS[:-1]  # --quick: the timed sections (callgrind takes minutes)


def suite(
    quick: bool, out_path: Path, only: tuple[str, ...] = SECTIONS, sizes: list[int] | None = None
) -> dict[str, Any]:
    """Run the sections in `only` (all by default); with a subset, the other sections of an
    existing `out_path` are kept, and each section records when and on which commit it ran."""
    cfg = dict(QUICK if quick else FULL)
    if sizes:
        cfg["instruction_sizes"] = sizes
    command = "uv run python benchmarks/run.py" + (" --quick" if quick else "")
    results: dict[str, Any] = {}
    if set(only) != set(SECTIONS) and out_path.exists():
        results = json.loads(out_path.read_text())
    results.update(
        {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": command,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "simpy": simpy.__version__,
            "machine": platform.machine(),
            "commit": commit_id(),
            "load_at_start": load(),
            "config": cfg,
        }
    )
    say(f"{command}: {os.cpu_count()} cores, load average {results['load_at_start']}")
    n, budget = cfg["million"], cfg["million_budget_s"]
    steps = {
        "baseline": (
            "1. baseline: bare SimPy loop (timeouts and interrupts)",
            lambda: baseline(cfg),
        ),
        "default": (
            f"2. default scenario, branch {BRANCH} (ratio to the baseline's cost per event)",
            lambda: default_scenario(cfg),
        ),
        "scaling": (
            f"3. generated networks, branch {BRANCH}, record=False (CPU us per state change)",
            lambda: scaling(cfg, quick),
        ),
        "ensemble": (
            f"4. ensembles: {cfg['ensemble_runs']} runs x 4 branches, default scenario",
            lambda: ensembles(cfg),
        ),
        "million": (
            f"5. {n:,} firms through the Python API, run for at most {budget:.0f} s",
            lambda: in_subprocess(
                ["--child", "million", "--n", str(n), "--budget", str(budget)],
                timeout=budget + 1_800,
            ),
        ),
        "instructions": (
            "6. instructions (callgrind): per event and per state change, without the noise",
            lambda: instructions.section(cfg["instruction_sizes"], say),
        ),
    }
    for key in SECTIONS:
        if key not in only:
            continue
        title, fn = steps[key]
        say(title)
        value = section(results, key, out_path, fn)
        if isinstance(value, dict):
            value["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            value["commit"] = results["commit"]
        show(key, value)
    results["load_at_end"] = load()
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    say(f"Wrote {out_path}")
    return results


def show(key: str, value: Any) -> None:
    """Print what a section measured (the scaling and ensemble sections print as they go)."""
    if isinstance(value, dict) and "error" in value:
        say(f"  {value['error']}")
        return
    if key == "baseline":
        for size in ("small", "large"):
            b = value[size]
            say(
                f"  {b['processes']:,} processes: {b['events']:,} events, "
                f"{b['us_per_event']:.2f} us CPU per event"
            )
    elif key == "default":
        say(f"  baseline (interleaved): {value['baseline_us_per_event']:.2f} us per event")
        for part, label in (("record", "record=True "), ("no_record", "record=False")):
            r = value[part]
            say(
                f"  {label}: {r['events']} events, {r['state_changes']} state changes, "
                f"{r['us_per_event']:.1f} us/event (x{r['ratio_per_event']:.1f}), "
                f"{r['us_per_change']:.1f} us/change (x{r['ratio_per_change']:.1f})"
            )
    elif key == "million":
        m = value
        say(
            f"  generate {m['generate_s']:.0f} s, validate {m['validate_s']:.0f} s, "
            f"posterior variant {m['variant_s']:.0f} s, build {m['build_s']:.0f} s; "
            f"ran {m['days_reached']} of {m['days']} days in {m['run_wall_s']:.0f} s wall, "
            f"{m['changes']:,} changes; peak {m['maxrss_mb']:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated sections to run, the others kept from --out ({','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--instruction-sizes",
        default=None,
        help="comma-separated network sizes for section 6 (default: 43,430,4300)",
    )
    parser.add_argument(
        "--child", choices=["size", "million", "instructions"], help=argparse.SUPPRESS
    )
    parser.add_argument("--kind", default="size", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--modes", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=300.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "size":
        print(json.dumps(child_size(args.n, args.modes.split(","), args.repeat)))
    elif args.child == "million":
        print(json.dumps(child_million(args.n, args.budget)))
    elif args.child == "instructions":
        print(json.dumps(instructions.child(args.kind, args.n)))
    else:
        default = ",".join(QUICK_SECTIONS if args.quick else SECTIONS)
        only = tuple(x.strip() for x in (args.only or default).split(",") if x.strip())
        unknown = set(only) - set(SECTIONS)
        if unknown:
            parser.error(f"unknown section(s) {', '.join(sorted(unknown))}")
        sizes = (
            [int(x) for x in args.instruction_sizes.split(",")] if args.instruction_sizes else None
        )
        suite(args.quick, args.out, only, sizes)


if __name__ == "__main__":
    main()
