"""Benchmark: how run time grows with firms, state changes and horizon length.

    uv run python benchmarks/bench_engine.py            # the table in the README
    uv run python benchmarks/bench_engine.py --copies 1 10 100 --repeat 3

The default scenario's firm table is copied `k` times (ids suffixed, supplier links kept within
each copy), so the network shape stays the same while the number of firms and of state changes
grows k-fold. The horizon is also stretched (same events, later end date) to show that cost
does not grow with firms x days. Times are the best of `--repeat` runs, engine and tables
separately; this is a measurement, not a test.

Superseded for engine figures by `benchmarks/run.py` (ratios to a SimPy baseline, generated
networks of up to 100,000 firms, ensembles, peak memory); kept for the tables' timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from timeline.engine.world import simulate
from timeline.io.loader import load_scenario
from timeline.model.scenario import Firm, Scenario
from timeline.results import tables as report


def copies(scenario: Scenario, k: int) -> Scenario:
    firms: list[Firm] = []
    for i in range(k):
        for firm in scenario.firms:
            links = tuple(
                link.model_copy(update={"firm": f"{link.firm}-{i}"}) for link in firm.suppliers
            )
            firms.append(firm.model_copy(update={"id": f"{firm.id}-{i}", "suppliers": links}))
    return scenario.model_copy(update={"firms": tuple(firms)})


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--branch", default="decouple")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = load_scenario()
    print(f"branch {args.branch}, best of {args.repeat}")
    header = (
        f"{'firms':>7} {'days':>6} {'state changes':>14} {'engine s':>9} {'tables s':>9} "
        f"{'us/change':>10}"
    )
    print(header)
    cases = [(k, base.end) for k in args.copies]
    cases.append((args.copies[0], base.end + dt.timedelta(days=3 * 365)))  # longer horizon
    for k, end in cases:
        scenario = copies(base, k).model_copy(update={"end": end})
        engine_s, result = best(lambda s=scenario: simulate(s, args.branch), args.repeat)

        def tables(r=result) -> None:
            report.timeline_frame(r)
            report.firms_frame(r)
            report.stoppages_frame(r)
            report.events_frame(r)

        tables_s, _ = best(tables, args.repeat)
        changes = len(result.log)
        print(
            f"{len(scenario.firms):>7} {result.days:>6} {changes:>14} {engine_s:>9.3f} "
            f"{tables_s:>9.3f} {1e6 * engine_s / changes:>10.1f}"
        )


if __name__ == "__main__":
    main()
