"""Monte Carlo benchmark (issue #12): realisations per second of the route's Monte Carlo on the default scenario,
serially and on a local dask cluster, in one run.

Usage::

    make run                                     # once: the default scenario's values in the store
    python benchmarks/montecarlo.py              # 100 realisations, serial and on a 2-worker local cluster
    python benchmarks/montecarlo.py -n 40 --workers 0          # serial only
    python benchmarks/montecarlo.py --scheduler tcp://host:8786 # an existing cluster instead of a local one
    python benchmarks/montecarlo.py --make-run-s 26            # also compare with a measured `make run`

It reads the stored inputs of the scenario (``--store``, default ``.corridor_store``: cost surface, bathymetry, sea
mask, hazards, landfalls, design route, alternatives), builds the Monte Carlo's shared inputs exactly as the
``route_robustness`` asset does, and runs ``-n`` realisations of the scenario's ``montecarlo`` model (seeded, so the
serial and the cluster run compute the same realisations). It prints:

* the reference, measured in the same run: one unperturbed re-cost and re-route (the work of one realisation
  without its draws), and each run's time as a multiple of ``n`` references;
* realisations per second, serial and on the cluster, and the speed-up;
* peak resident memory of this process (the serial run; the cluster's workers are separate processes);
* convergence of the passage frequency: the share of passed cells whose frequency moves by more than 5 points
  between the first half of the realisations and all of them;
* that the cluster's frequency raster equals the serial one (same seeds, same answer).

Numba compile time is kept out of every figure (a warm-up realisation runs first, on each worker too). It is a
benchmark, not a timed test: nothing fails, it prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geodata import hazards as haz  # noqa: E402
from geodata import routing  # noqa: E402
from geodata.engineering import compose as route  # noqa: E402
from geodata.engineering import montecarlo as mc  # noqa: E402
from geodata.scenario import DEFAULT_SCENARIO, load_scenario  # noqa: E402
from geodata.sweep import local_threads, run_sweep  # noqa: E402
from pipelines.store import read_value  # noqa: E402

ASSETS = ("cost_surface", "bathymetry", "sea_mask", "hazards", "least_cost_route", "route_alternatives")


def _parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--realisations", type=int, default=100)
    p.add_argument("--scenario", default=DEFAULT_SCENARIO)
    p.add_argument("--store", type=Path, default=ROOT / ".corridor_store")
    p.add_argument("--workers", type=int, default=2, help="local cluster workers (0: serial only)")
    p.add_argument("--scheduler", default="", help="address of an existing dask scheduler (instead of --workers)")
    p.add_argument("--make-run-s", type=float, default=0.0, help="a measured `make run` time, for the #12 target")
    return p.parse_args()


def _shared(store: Path, scenario: str, n: int) -> tuple[mc.MonteCarloInputs, Any]:
    # the store keeps each scenario snapshot's values in a folder of its own: take the latest one holding them all
    folders = [d for d in (store / scenario).iterdir() if d.is_dir() and (d / "cost_surface").is_dir()]
    if not folders:
        raise SystemExit(f"no stored values of {scenario} under {store}; run `make run` (or corridor run) first")
    snap = max(folders, key=lambda d: (d / "cost_surface").stat().st_mtime)
    values = {a: read_value(snap / a, asset=a, partition=scenario).value for a in (*ASSETS, "landfalls")}
    sc = load_scenario(scenario)
    surface = values["cost_surface"]
    start, goal = route.approach_cells(surface, values["landfalls"])
    shared = mc.monte_carlo_inputs(
        values["bathymetry"],
        values["sea_mask"],
        haz.rasterize_hazards(values["hazards"], mc.monte_carlo_grid(surface.grid, sc.montecarlo)),
        surface,
        sc.montecarlo.model_copy(update={"realisations": n}),
        sc.cost,
        sc.limits,
        start=start,
        goal=goal,
        method=sc.routing.method,
        design_path=values["least_cost_route"].path,
        alternatives=values["route_alternatives"],
    )
    return shared, sc


def _reference_s(shared: mc.MonteCarloInputs, repeats: int = 3) -> float:
    """Seconds of one unperturbed re-cost and re-route (the median of ``repeats``)."""
    quiet = {"depth_sigma_constant_m": 0.0, "depth_sigma_fraction": 0.0, "hazard_position_sigma_m": 0.0}
    still = dataclasses.replace(shared, config=shared.config.model_copy(update={**quiet, "weight_range_fraction": 0}))
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        total = mc.perturbed_total(still, mc.draw(still, mc.RealisationTask(i, 0).rng()))
        routing.least_cost_path(total, still.start, still.goal, cell_size=still.depth.grid.res, method=still.method)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _paths(results: list[mc.RealisationResult]) -> list[np.ndarray]:
    return [r.path for r in results if r.path is not None]


def _convergence(shared: mc.MonteCarloInputs, results: list[mc.RealisationResult]) -> tuple[float, int]:
    """Share of passed cells whose frequency changes by more than 5 points between the first half and all."""
    paths = _paths(results)
    grid = shared.depth.grid
    half = mc.passage_frequency(paths[: len(paths) // 2], grid).data
    full = mc.passage_frequency(paths, grid).data
    passed = (half > 0) | (full > 0)
    return float((np.abs(full - half)[passed] > 0.05).mean()), int(passed.sum())


def _client(args: argparse.Namespace) -> tuple[Any, Any]:
    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        return Client(args.scheduler), None
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def main() -> None:
    args = _parse_args()
    n = args.realisations
    shared, sc = _shared(args.store, args.scenario, n)
    tasks = mc.realisation_tasks(shared.config)
    mc.run_realisation(mc.RealisationTask(10**6, 1), shared)  # warm-up: numba compile is not measured
    ref = _reference_s(shared)
    grid = shared.depth.grid
    print(f"scenario {sc.name}: grid {grid.shape[0]} x {grid.shape[1]} cells of {grid.res[0]:.0f} m, {n} realisations")
    print(f"reference: one unperturbed re-cost + re-route {ref:.3f} s")

    serial = run_sweep(mc.run_realisation, tasks, shared=shared)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = len(_paths(serial.results))
    print(
        f"serial:  {serial.wall_s:7.2f} s  {n / serial.wall_s:6.2f} realisations/s  "
        f"{serial.wall_s / (n * ref):5.2f} x n references  ({ok}/{n} routed)  peak RSS {peak_mb:.0f} MB"
    )
    threads = local_threads()
    if threads > 1:
        threaded = run_sweep(mc.run_realisation, tasks, shared=shared, threads=threads)
        same = all(np.array_equal(a.path, b.path) for a, b in zip(serial.results, threaded.results, strict=True)
                   if a.path is not None and b.path is not None)  # fmt: skip
        print(
            f"threads: {threaded.wall_s:7.2f} s  {n / threaded.wall_s:6.2f} realisations/s  on {threads} threads, "
            f"speed-up {serial.wall_s / threaded.wall_s:.2f} x; routes {'equal' if same else 'DIFFER FROM'} serial"
        )
    share, passed = _convergence(shared, serial.results)
    print(f"convergence: {share:.1%} of {passed} passed cells move > 5 points between {n // 2} and {n} realisations")
    if args.make_run_s > 0:
        print(f"#12 target: {n} realisations in {serial.wall_s:.1f} s = {serial.wall_s / args.make_run_s:.2f} x one "
              f"`make run` ({args.make_run_s:.1f} s); target <= 10 x")  # fmt: skip

    if args.workers <= 0 and not args.scheduler:
        return
    client, cluster = _client(args)
    try:
        run_sweep(
            mc.run_realisation, [mc.RealisationTask(10**6 + i, 1) for i in range(4)], shared=shared, client=client
        )
        dist = run_sweep(mc.run_realisation, tasks, shared=shared, client=client)
        workers = len(client.scheduler_info()["workers"])
        same = np.array_equal(
            mc.passage_frequency(_paths(serial.results), grid).data,
            mc.passage_frequency(_paths(dist.results), grid).data,
        )
        print(
            f"cluster: {dist.wall_s:7.2f} s  {n / dist.wall_s:6.2f} realisations/s  "
            f"{dist.wall_s / (n * ref):5.2f} x n references  on {workers} workers ({dist.where})  "
            f"speed-up {serial.wall_s / dist.wall_s:.2f} x"
        )
        print(f"cluster frequency raster {'equals' if same else 'DIFFERS FROM'} the serial one")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
