"""Alternatives benchmark (issue #14): ``route_alternatives``' rounds one after the other and speculated on two
threads, on a stored run's values, in one run.

Usage::

    python benchmarks/pipeline.py --resolutions 100 --no-nested --keep --workdir /tmp/b   # once: a stored run
    python benchmarks/alternatives.py --store /tmp/b/pipeline-bench-*/100_m/store --scenario bench-100m
    python benchmarks/alternatives.py --repeats 5                     # the default store (.corridor_store)

It reads the stored cost surface, landfalls and least-cost route of the scenario (the latest snapshot folder
holding them), runs ``geodata.routing.alternative_routes`` exactly as the ``route_alternatives`` asset does with
``threads=1`` and ``threads=2``, alternating, ``--repeats`` times each (after a warm-up), and prints wall and CPU
seconds (min and median) of each, the speed-up of the medians, and the reference measured in the same run: one
``least_cost_path`` of the same surface and ends (the work of one full search). It checks that both give the same
routes. The machine must be quiet for the wall figures to mean anything (two threads on two busy cores are slower
than one): the CPU figures show the speculation's extra work. It is a benchmark, not a timed test: nothing fails on
timing, it prints.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geodata import routing  # noqa: E402
from geodata.engineering import compose as route  # noqa: E402
from geodata.scenario import DEFAULT_SCENARIO  # noqa: E402
from geodata.sources.snapshot import ScenarioSnapshot  # noqa: E402
from pipelines.store import read_value  # noqa: E402

ASSETS = ("cost_surface", "landfalls", "least_cost_route")


def _parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default=DEFAULT_SCENARIO)
    p.add_argument("--store", type=Path, default=ROOT / ".corridor_store")
    p.add_argument("--repeats", type=int, default=3)
    return p.parse_args()


def main() -> None:
    args = _parse_args()
    base = args.store / args.scenario
    folders = [d for d in base.iterdir() if d.is_dir() and all((d / a).is_dir() for a in ASSETS)]
    if not folders:
        raise SystemExit(f"no stored values of {args.scenario} under {args.store}; run the pipeline first")
    snap = max(folders, key=lambda d: (d / "cost_surface").stat().st_mtime)
    values = {a: read_value(snap / a, asset=a, partition=args.scenario).value for a in ASSETS}
    runs = sorted((base / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    sc = ScenarioSnapshot.from_json(runs[-1].read_text(), str(runs[-1])).scenario
    surface, ends, best = values["cost_surface"], values["landfalls"], values["least_cost_route"]
    start, goal = route.approach_cells(surface, ends)

    def alternatives(threads: int) -> list[routing.RouteResult]:
        return routing.alternative_routes(
            surface.total, start, goal, cell_size=surface.grid.res, k=sc.routing.alternatives,
            best=route.unchanged_optimum(best), threads=threads,
        )  # fmt: skip

    first = {t: alternatives(t) for t in (1, 2)}  # warm-up (numba's cache loaded), and the routes compared
    same = all(
        np.array_equal(a.path, b.path) and a.cost == b.cost for a, b in zip(first[1], first[2], strict=True)
    ) and len(first[1]) == len(first[2])
    t0 = time.perf_counter()
    routing.least_cost_path(surface.total, start, goal, cell_size=surface.grid.res, method=sc.routing.method)
    reference = time.perf_counter() - t0
    wall: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for t in (1, 2):
            w, c = time.perf_counter(), time.process_time()
            alternatives(t)
            wall[t].append(time.perf_counter() - w)
            cpu[t].append(time.process_time() - c)
    h, w_ = surface.grid.shape
    rounds = max((r.stats.get("round", 0) for r in first[1]), default=0)
    print(
        f"scenario {sc.name}: grid {h} x {w_}, k={sc.routing.alternatives}, {len(first[1])} routes "
        f"(the last kept in round {rounds})"
    )
    print(f"reference: one least_cost_path {reference:.3f} s")
    print("| threads | wall min s | wall median s | CPU min s | CPU median s | median / reference |")
    print("|---|---|---|---|---|---|")
    for t in (1, 2):
        med = statistics.median(wall[t])
        print(
            f"| {t} | {min(wall[t]):.2f} | {med:.2f} | {min(cpu[t]):.2f} | {statistics.median(cpu[t]):.2f} "
            f"| {med / reference:.1f}x |"
        )
    print(
        "speed-up of the medians (1 thread / 2 threads): "
        f"{statistics.median(wall[1]) / statistics.median(wall[2]):.2f}x"
    )
    print(f"same routes on one and two threads: {same}")


if __name__ == "__main__":
    main()
