"""Benchmark (issue #10): a user hazard inventory of 10 k, 100 k and 1 M SYNTHETIC points through the whole hazards
stage, this code against the row-by-row code before it (``tests/hazards/rowwise_reference.py``), in the same run.

    .venv/bin/python benchmarks/hazards_scale.py                       # 10k, 100k, 1M points (a few minutes)
    .venv/bin/python benchmarks/hazards_scale.py --sizes 10000,100000  # a subset
    .venv/bin/python benchmarks/hazards_scale.py --format csv          # a CSV with lon/lat instead of a GeoPackage
    .venv/bin/python benchmarks/hazards_scale.py --lines 10000         # also an inventory of 10 k synthetic lines

The inventory is SYNTHETIC: random points over the default scenario's area (siyazan-aktau, 48-53 E, 39.8-45 N),
cycling through five point kinds (earthquake with a magnitude, platform, well, mud volcano, wreck), written as a
GeoPackage (or CSV) the way a user would give it. Stages, as the ``hazards`` asset runs them: ``read`` =
``read_user_inventory`` (read, reproject, repair, normalise, validate), ``combine`` = ``combine_hazards`` (validated
again as a whole), ``area`` = ``hazards_in_area`` (clip to the area plus the rules' reach), ``raster`` =
``rasterize_hazards`` on the scenario's 1 km analysis grid (583 x 429 cells).

Each (implementation, size) runs in a fresh subprocess: CPU seconds per stage (the figure to compare on a shared
machine; wall seconds are printed too), and the peak resident memory of the process over the stage (``VmHWM``, reset
through ``/proc/self/clear_refs`` once the libraries are loaded) with its increase over the resident set then.
The reference runs at growing sizes until one takes longer than
``--reference-limit`` seconds (default 60); bigger sizes would take minutes to hours, so they are left out and the
ratio is given where both ran. This is a benchmark, not a timed test: nothing fails, it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AREA = (48.5, 40.0, 52.5, 44.5)  # inside the default scenario's area of interest (48-53 E, 39.8-45 N)
KINDS = ("earthquake", "platform", "well", "mud_volcano", "wreck")
STAGES = ("read", "combine", "area", "raster")


def write_points(n: int, path: Path, fmt: str, seed: int = 0) -> None:
    """SYNTHETIC: ``n`` hazard points over the Caspian, five kinds in turn, earthquakes with a magnitude."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    kinds = np.array(KINDS)[np.arange(n) % len(KINDS)]
    lon, lat = rng.uniform(AREA[0], AREA[2], n), rng.uniform(AREA[1], AREA[3], n)
    columns = {
        "kind": kinds,
        "name": [f"synthetic {i}" for i in range(n)],
        "magnitude": np.where(kinds == "earthquake", rng.uniform(4.0, 7.0, n).round(1), np.nan),
        "source": "SYNTHETIC benchmark inventory",
        "licence": "CC0 (synthetic)",
    }
    if fmt == "csv":
        pd.DataFrame({**columns, "lon": lon, "lat": lat}).to_csv(path, index=False)
    else:
        gpd.GeoDataFrame(columns, geometry=shapely.points(lon, lat), crs="EPSG:4326").to_file(path, layer="hazards")


def write_lines(n: int, path: Path, seed: int = 1) -> None:
    """SYNTHETIC: ``n`` straight lines of 2-10 km over the Caspian, pipelines and faults in turn."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    x, y = rng.uniform(AREA[0], AREA[2], n), rng.uniform(AREA[1], AREA[3], n)
    angle, length = rng.uniform(0, np.pi, n), rng.uniform(0.02, 0.1, n)
    ends = np.stack([np.stack([x, y], 1), np.stack([x + length * np.cos(angle), y + length * np.sin(angle)], 1)], 1)
    gpd.GeoDataFrame(
        {
            "kind": np.where(np.arange(n) % 2 == 0, "pipeline", "fault"),
            "name": [f"synthetic line {i}" for i in range(n)],
            "source": "SYNTHETIC benchmark inventory",
            "licence": "CC0 (synthetic)",
        },
        geometry=shapely.linestrings(ends),
        crs="EPSG:4326",
    ).to_file(path, layer="hazards")


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``), in bytes."""
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith(field + ":"):
            return int(text.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> int:
    """Reset the resident-set high-water mark (``ru_maxrss`` would carry the parent's over ``exec``); the current
    resident set."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def worker(impl: str, path: str) -> dict[str, Any]:
    """Run the hazards stage on ``path`` with ``impl`` ('vectorised' or 'rowwise'); stage times and memory."""
    from contextlib import nullcontext

    from geodata.bathymetry import analysis_grid
    from geodata.hazards import combine_hazards, effective_rules, hazards_in_area, rasterize_hazards
    from geodata.hazards.readers import read_user_inventory
    from geodata.scenario import load_scenario
    from tests.hazards.rowwise_reference import rowwise

    sc = load_scenario("siyazan-aktau")
    rules = effective_rules(sc.hazards)
    margin = max((r.exclusion_buffer_m + 7 * r.decay_m for r in rules.values()), default=0.0)
    grid = analysis_grid(sc.area_of_interest.bounds, sc.analysis_crs(), sc.analysis.resolution_m)
    before = _reset_peak()
    times: dict[str, list[float]] = {}

    def timed(stage: str, call: Any) -> Any:
        c0, w0 = time.process_time(), time.perf_counter()
        out = call()
        times[stage] = [time.process_time() - c0, time.perf_counter() - w0]
        return out

    with rowwise() if impl == "rowwise" else nullcontext():
        table, _ = timed("read", lambda: read_user_inventory(path))
        combined = timed("combine", lambda: combine_hazards([table]))
        clipped = timed("area", lambda: hazards_in_area(combined, sc.area_of_interest.bounds, margin_m=margin))
        out = timed("raster", lambda: rasterize_hazards(clipped, grid))
    peak = _status_bytes("VmHWM")
    return {
        "times": times,
        "peak_bytes": peak,
        "extra_bytes": peak - before,
        "rows": len(table),
        "classes": out.info["classes"],
        "convolution_classes": out.info["convolution_classes"],
        "soft_sum": float(out.soft_cost.astype(float).sum()),
        "hard_cells": int(out.hard_mask.sum()),
    }


def run(impl: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", impl, str(path)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{impl} on {path} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def line(label: str, r: dict[str, Any]) -> str:
    t = r["times"]
    cpu = sum(v[0] for v in t.values())
    wall = sum(v[1] for v in t.values())
    stages = "  ".join(f"{t[s][0]:8.2f}" for s in STAGES)
    return (
        f"{label:<22} {stages}  {cpu:8.2f}  {wall:8.2f}  {r['peak_bytes'] / 1e6:8.0f}  {r['extra_bytes'] / 1e6:8.0f}"
        f"  {r['convolution_classes']}/{r['classes']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="points per inventory, comma-separated")
    parser.add_argument("--format", choices=("gpkg", "csv"), default="gpkg")
    parser.add_argument("--lines", type=int, default=0, help="also run an inventory of this many synthetic lines")
    parser.add_argument("--reference-limit", type=float, default=60.0, help="stop the reference past this (s)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"hazards stage on SYNTHETIC inventories ({args.format}), CPU seconds per stage; cpu count {os.cpu_count()}")
    header = "  ".join(f"{s:>8}" for s in STAGES)
    print(f"{'inventory / code':<22} {header}  {'cpu':>8}  {'wall':>8}  {'peak MB':>8}  {'+MB':>8}  conv/classes")
    reference_on = True
    with tempfile.TemporaryDirectory(prefix="hazards-scale-") as tmp:
        inventories = [(f"{n:,} points", n, Path(tmp) / f"points_{n}.{args.format}") for n in sizes]
        if args.lines:
            inventories.append((f"{args.lines:,} lines", args.lines, Path(tmp) / f"lines_{args.lines}.gpkg"))
        for label, n, path in inventories:
            if "lines" in label:
                write_lines(n, path)
            else:
                write_points(n, path, args.format)
            new = run("vectorised", path)
            print(line(f"{label} new", new))
            if not reference_on and "lines" not in label:
                print(f"{label + ' before':<22} not run: the previous size took over {args.reference_limit:.0f} s")
                continue
            old = run("rowwise", path)
            print(line(f"{label} before", old))
            cpu_new = sum(v[0] for v in new["times"].values())
            cpu_old = sum(v[0] for v in old["times"].values())
            ratios = "  ".join(f"{old['times'][s][0] / max(new['times'][s][0], 1e-9):7.1f}x" for s in STAGES)
            print(f"{'  speed-up':<22} {ratios}  {cpu_old / cpu_new:7.1f}x")
            same = new["rows"] == old["rows"] and new["hard_cells"] == old["hard_cells"]
            print(f"  same rows and hard cells: {same}; soft-cost sum {new['soft_sum']:.6g} vs {old['soft_sum']:.6g}")
            if "lines" not in label and cpu_old * 10 > args.reference_limit:
                reference_on = False  # the next size (10x) would pass the limit


if __name__ == "__main__":
    main()
