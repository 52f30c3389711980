"""Benchmark (issue #14): the library bodies of the raster stages (``bathymetry``, ``seabed_slope``, ``sea_mask``,
``cost_surface``) of the default scenario at one resolution, in one process, with their CPU seconds.

    .venv/bin/python benchmarks/raster_stages.py --resolution 250
    .venv/bin/python benchmarks/raster_stages.py --resolution 100 --profile cost_surface

The vector inputs (``coastline``, ``hazards``, ``seabed_sectors``) are materialised once through Dagster; then each
stage's library call is made exactly as its asset makes it (same arguments, same memory budget), one after the other
on the previous stage's output (with the checks the asset runs), and timed: wall seconds, CPU seconds of the
process (``process_time``: both cores count, so CPU above wall means two threads worked), and the peak resident
memory of the process. ``--repeat`` runs
the chain several times (the best of each stage is printed). This is a benchmark, not a timed test: it prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCENARIO = "siyazan-aktau"


def _peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _scenario(work: Path, resolution: float) -> str:
    import yaml

    scenarios = work / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load((ROOT / "geodata" / "data" / "scenarios" / f"{SCENARIO}.yaml").read_text())
    name = f"{SCENARIO}-{resolution:g}".replace(".", "_")
    doc["name"] = name
    doc.setdefault("analysis", {})["resolution_m"] = resolution
    (scenarios / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return name


def _keep(folder: Path, values: dict[str, Any]) -> None:
    """Copy the stages' rasters into ``folder``: ``<stage>.tif``, and the cost surface's total and layers."""
    import shutil

    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for stage, value in values.items():
        if stage == "cost_surface":
            np.save(folder / "cost_total.npy", value.total)
            for name, layer in {**value.terms, **{f"barrier_{k}": v for k, v in value.barriers.items()}}.items():
                shutil.copy(layer.file.path, folder / f"cost_{name}.tif")
        else:
            shutil.copy(value.file.path, folder / f"{stage}.tif")


def _timed(run: Any, stage: str, profile: bool) -> tuple[Any, float, float]:
    """``run(stage)`` with its wall and CPU seconds; with ``profile``, cProfile's top lines by CPU time."""
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    value = run(stage)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler is not None:
        import pstats

        profiler.disable()
        print(f"--- profile of {stage} ---")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return value, wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=float, default=250.0)
    p.add_argument(
        "--profile",
        default=None,
        help="print cProfile's top lines of these stages (comma-separated; their last repeat)",
    )
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--stages", default="bathymetry,seabed_slope,sea_mask,cost_surface")
    p.add_argument("--keep", default=None, help="copy every stage's output rasters into this folder (to compare runs)")
    p.add_argument("--memory-budget-gb", default="", help="the stages' memory budget (default: the machine's)")
    args = p.parse_args()

    import pipelines.definitions  # noqa: F401
    from assets.common import scratch_file
    from assets.cost import BAND_BUDGET_CAP, STAGE_BUDGET_SHARE
    from geodata import bathymetry as bathy
    from geodata import hazards as haz
    from geodata.cost import allowed_sector_mask, build_cost_surface
    from geodata.scenario import load_scenario
    from pipelines.runner import folder_settings, materialize_scenario

    with tempfile.TemporaryDirectory(prefix="bench-raster-") as tmp:
        work = Path(tmp)
        name = _scenario(work, args.resolution)
        settings = folder_settings(
            work,
            mirror=os.environ.get("CORRIDOR_MIRROR", "/work/shared/geodata-mirror"),
            scenarios_dir=str(work / "scenarios"),
        )
        result = materialize_scenario(name, settings, selection=["coastline", "hazards", "seabed_sectors"])
        coastline = result.asset_value("coastline")
        hazards = result.asset_value("hazards")
        sectors = result.asset_value("seabed_sectors")
        sc = load_scenario(str(work / "scenarios" / f"{name}.yaml"))
        aoi = sc.area_of_interest.bounds
        grid = bathy.analysis_grid(aoi, sc.analysis_crs(), sc.analysis.resolution_m)
        budget = int(float(args.memory_budget_gb) * 1e9) if args.memory_budget_gb else settings.memory_budget_bytes
        inputs = bathy.load_bathymetry_inputs(
            sc.bathymetry.sources, grid, mirror=settings.mirror, cache=settings.cache, verify=sc.verify_checksums
        )
        wanted = args.stages.split(",")
        best: dict[str, tuple[float, float]] = {}
        values: dict[str, Any] = {}

        def run(stage: str) -> Any:
            if stage == "bathymetry":
                out = bathy.stream_depth(
                    inputs,
                    grid,
                    scratch_file(settings, "bathymetry"),
                    water_level_m=sc.bathymetry.water_level_m,
                    budget_bytes=budget,
                    resampling=sc.analysis.resampling,
                    aoi_bounds_lonlat=aoi,
                    overviews=False,
                )
                held = bathy.held(out, budget)  # the asset's checks, as it runs them
                bathy.summary_metadata(held, aoi_bounds_lonlat=aoi)
                bathy.check_crs(held, sc.analysis_crs())
                bathy.check_nodata_share(held, sc.bathymetry.max_nodata_fraction, aoi_bounds_lonlat=aoi)
                return out
            depth = values["bathymetry"]
            if stage == "seabed_slope":
                return bathy.stream_slope(
                    depth, scratch_file(settings, "seabed_slope"), budget_bytes=budget, overviews=False
                )
            if stage == "sea_mask":
                held = bathy.held(depth, budget)
                mask = bathy.stream_land_sea_mask(
                    held, coastline.land(aoi), scratch_file(settings, "sea_mask"), budget_bytes=budget
                )
                sea = bathy.held(mask, budget)  # the asset's checks, as it runs them
                stations = [(s.name, s.lon_deg, s.lat_deg) for s in sc.landing_stations]
                bathy.summary_metadata(held, sea_mask=sea)
                bathy.check_coverage(held, aoi, stations, sea_mask=sea, sea_only=True)
                bathy.check_depth_range(held, sea, sc.bathymetry.min_depth_range_m)
                bathy.check_source_signs(held, sea)
                return mask
            allowed = sc.boundaries.allowed_sectors or sorted({s.country for s in sc.landing_stations})
            return build_cost_surface(
                depth,
                values["seabed_slope"],
                values["sea_mask"],
                sc.cost,
                sc.limits,
                hazards=haz.plan_hazards(hazards, grid),
                allowed_sector=allowed_sector_mask(sectors, grid, allowed),
                allowed_sectors=tuple(allowed),
                folder=scratch_file(settings, "cost_surface").parent,
                budget_bytes=min(budget // STAGE_BUDGET_SHARE, BAND_BUDGET_CAP),
            )

        for i in range(args.repeat):
            for stage in ("bathymetry", "seabed_slope", "sea_mask", "cost_surface"):
                if stage not in wanted and stage in values:
                    continue
                profile = stage in (args.profile or "").split(",") and i == args.repeat - 1
                values[stage], wall, cpu = _timed(run, stage, profile)
                if stage in wanted:
                    old = best.get(stage, (float("inf"), float("inf")))
                    best[stage] = (min(old[0], wall), min(old[1], cpu))
        cells = f"{grid.cell_count / 1e6:.2f} M cells"
        print(f"{args.resolution:g} m, grid {grid.shape} ({cells}), peak {_peak() / 1e9:.2f} GB")
        if args.keep:
            _keep(Path(args.keep), values)
        print(f"{'stage':<14} {'wall s':>7} {'cpu s':>7}")
        for stage, (wall, cpu) in best.items():
            print(f"{stage:<14} {wall:>7.2f} {cpu:>7.2f}")


if __name__ == "__main__":
    main()
