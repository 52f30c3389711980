"""Monte Carlo before/after (issue #14): the route's Monte Carlo of one stored run computed by two code trees over
several seeds, in one run: robust KP ranges, per-KP shares within the robust offset, ranking, and the time of each.

Usage::

    # a kept benchmark case (python benchmarks/pipeline.py --resolutions 1000 --keep --workdir W) holds the store
    python benchmarks/montecarlo_equivalence.py W/pipeline-bench-*/1000_m --before /work/main
    python benchmarks/montecarlo_equivalence.py CASE --before /work/main --seeds 2026,1,2,3,4,5 -n 40

The case folder is one of ``benchmarks/pipeline.py``'s (``scenarios/<name>.yaml`` and ``store/``). For every seed
each tree (``--before``: another checkout, e.g. main; ``--after``: this one) builds the Monte Carlo's shared inputs
exactly as the ``route_robustness`` asset does and runs ``-n`` realisations in a process of its own (its code on
``PYTHONPATH``), serially in that process's own way (the tree's default), and reports per seed the robust KP ranges,
the robust length and the share of realisations within ``robust_offset_m`` at every KP.

When the realisations' random stream changed between the trees (a seed no longer draws the same realisation), the
two are compared as samples of the same model: per KP, the shares pooled over the seeds (``seeds x n``
realisations per tree) and their difference against its binomial standard error, ``sqrt(p (1 - p) (2 / N))``; if
both trees draw from the same distribution about 95 % of the KPs lie within 2 standard errors. The seed-to-seed
spread of one tree (its KPs' shares, first seed against each other) is printed beside it as the sampling error
itself, as are the robust length per seed. It is a benchmark, not a test: it prints, it never fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _emit(case: Path, seeds: list[int], n: int) -> None:
    """In the child process (the tree's code on sys.path): one JSON line per seed on stdout."""
    from geodata import hazards as haz
    from geodata.engineering import compose as route
    from geodata.engineering import montecarlo as mc
    from geodata.scenario import load_scenario
    from pipelines.store import read_value

    name = next((case / "scenarios").glob("*.yaml")).stem
    sc = load_scenario(name, folder=case / "scenarios")
    store = case / "store" / name
    snap = next(p for p in store.iterdir() if p.is_dir() and p.name != "runs")
    assets = ("cost_surface", "bathymetry", "sea_mask", "hazards", "least_cost_route", "route_alternatives")
    values = {a: read_value(snap / a, asset=a, partition=name).value for a in (*assets, "engineered_route")}
    er, surface = values["engineered_route"], values["cost_surface"]
    start, goal = route.approach_cells(surface, er.landfalls)
    for k, seed in enumerate(seeds):
        cfg = sc.montecarlo.model_copy(update={"realisations": n, "seed": seed})
        wall, cpu = time.perf_counter(), time.process_time()
        shared = mc.monte_carlo_inputs(
            values["bathymetry"],
            values["sea_mask"],
            haz.rasterize_hazards(values["hazards"], mc.monte_carlo_grid(surface.grid, cfg)),
            surface,
            cfg,
            sc.cost,
            sc.limits,
            start=start,
            goal=goal,
            method=sc.routing.method,
            design_path=values["least_cost_route"].path,
            alternatives=values["route_alternatives"],
        )
        result = mc.monte_carlo_route(
            shared,
            er.line,
            er.crs,
            er.landfalls,
            kp_interval_m=sc.engineering.kp_interval_m,
            corridor_tolerance=sc.routing.corridor_tolerance,
        )
        summary = result.summary()
        ranking = result.ranking.set_index("candidate")
        line = {
            "seed": seed,
            "first": k == 0,
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "where": summary["where"],
            "succeeded": summary["succeeded"],
            "robust_kp_ranges": summary["robust_kp_ranges"],
            "robust_length_km": summary["robust_length_km"],
            "cells_passed": summary["cells_passed"],
            "kp_km": result.kp_spread["kp_km"].round(3).tolist(),
            "within": (result.kp_spread["within_pct"] / 100.0).tolist(),
            "p90_m": result.kp_spread["p90_offset_m"].tolist(),
            "rank0_cheapest_pct": float(np.asarray(ranking.loc["rank_0", "cheapest_pct"])),
            "rank0_mean_excess_pct": float(np.asarray(ranking.loc["rank_0", "mean_excess_pct"])),
        }
        print(json.dumps(line), flush=True)


def _run_tree(tree: Path, case: Path, seeds: list[int], n: int) -> list[dict[str, Any]]:
    # each tree its own numba cache (its kernels may differ); another tree's cache goes in this one's
    cache = ROOT / ".numba_cache" if tree.resolve() == ROOT else ROOT / ".numba_cache" / f"tree-{tree.name}"
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache)}
    cmd = [sys.executable, str(Path(__file__).resolve()), str(case), "--emit", "--seeds", ",".join(map(str, seeds))]
    out = subprocess.run([*cmd, "-n", str(n)], env=env, cwd=tree, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: the Monte Carlo failed:\n{out.stderr[-3000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _pooled(rows: list[dict[str, Any]]) -> np.ndarray:
    return np.mean([r["within"] for r in rows], axis=0)


def _ranges(kp: np.ndarray, robust: np.ndarray) -> list[str]:
    out, start = [], None
    for i, flag in enumerate(robust):
        if flag and start is None:
            start = i
        if start is not None and (not flag or i == len(robust) - 1):
            out.append(f"KP {kp[start]:.1f}-{kp[i]:.1f}")
            start = None
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("case", type=Path, help="a benchmarks/pipeline.py case folder (scenarios/ and store/)")
    p.add_argument("--before", type=Path, default=Path("/work/main"), help="the code tree before (default main)")
    p.add_argument("--after", type=Path, default=ROOT, help="the code tree after (default this one)")
    p.add_argument("--seeds", default="2026,1,2,3,4", help="comma-separated seeds")
    p.add_argument("-n", type=int, default=40, help="realisations per seed (the scenario's default is 40)")
    p.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.emit:
        _emit(args.case, seeds, args.n)
        return
    runs = {}
    for label, tree in (("before", args.before), ("after", args.after)):
        print(f"{label}: {tree} ...", flush=True)
        runs[label] = _run_tree(tree, args.case, seeds, args.n)
    before, after = runs["before"], runs["after"]
    kp = np.asarray(before[0]["kp_km"])
    if kp.shape != np.shape(after[0]["kp_km"]):
        raise SystemExit("the two trees give different KP stations; compare runs of the same design route")

    print(f"\ncase {args.case}: {len(seeds)} seeds x {args.n} realisations per tree\n")
    print("| seed | robust KP ranges before | robust KP ranges after | robust km before | after | rank_0 cheapest % "
          "before | after | s before (cpu) | s after (cpu) |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for b, a in zip(before, after, strict=True):
        print(
            f"| {b['seed']} | {', '.join(b['robust_kp_ranges'])} | {', '.join(a['robust_kp_ranges'])} | "
            f"{b['robust_length_km']:.1f} | {a['robust_length_km']:.1f} | {b['rank0_cheapest_pct']:.0f} | "
            f"{a['rank0_cheapest_pct']:.0f} | {b['wall_s']:.2f} ({b['cpu_s']:.2f}) | "
            f"{a['wall_s']:.2f} ({a['cpu_s']:.2f}) |"
        )
    lengths = {k: np.array([r["robust_length_km"] for r in v]) for k, v in runs.items()}
    print(
        f"\nrobust length over the seeds: before {lengths['before'].mean():.1f} +- {lengths['before'].std():.1f} km, "
        f"after {lengths['after'].mean():.1f} +- {lengths['after'].std():.1f} km"
    )
    n_total = len(seeds) * args.n
    pb, pa = _pooled(before), _pooled(after)
    p = (pb + pa) / 2.0
    se = np.sqrt(np.maximum(p * (1.0 - p), 1.0 / n_total) * 2.0 / n_total)
    z = np.abs(pa - pb) / se
    robust_min_share = 0.8
    print(f"\nper-KP share within the robust offset, pooled over {n_total} realisations per tree ({len(kp)} KPs):")
    print(f"  mean |after - before| {np.abs(pa - pb).mean() * 100:.1f} points, max {np.abs(pa - pb).max() * 100:.1f}")
    print(f"  KPs within 2 standard errors: {(z <= 2).mean():.1%} (same distribution: about 95 %)")
    spread = [np.abs(np.asarray(r["within"]) - np.asarray(before[0]["within"])).mean() for r in before[1:]]
    if spread:
        print(f"  sampling error for scale: one seed against another (before), mean |diff| "
              f"{np.mean(spread) * 100:.1f} points per KP")  # fmt: skip
    print(f"  robust KP ranges of the pooled shares: before {', '.join(_ranges(kp, pb >= robust_min_share))}")
    print(f"                                         after  {', '.join(_ranges(kp, pa >= robust_min_share))}")
    wall = {k: sum(r["wall_s"] for r in v[1:]) / max(len(v) - 1, 1) for k, v in runs.items()}
    print(
        f"\nMonte Carlo time per seed (inputs + {args.n} realisations + summary, warm: seeds after the first): "
        f"before {wall['before']:.2f} s, after {wall['after']:.2f} s ({wall['before'] / wall['after']:.1f}x)"
    )


if __name__ == "__main__":
    main()
