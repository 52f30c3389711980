"""Benchmark: hazards rasterised per object (the old approach: one window, one distance pass per feature) against
per class (one vectorised pass per class) on the same SYNTHETIC points, in one run.

    .venv/bin/python benchmarks/hazards.py [n_points [n_large]]

``n_points`` (default 2,000) are rasterised both ways; ``n_large`` (default 0 = skip) more points of the same mix
are then rasterised per class only (per object they would take hours).
"""

from __future__ import annotations

import math
import sys
import time

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS

from geodata.grid import GeoGrid
from geodata.hazards import raster

UTM39 = CRS.from_epsg(32639)


def synthetic_points(n: int, grid: GeoGrid, seed: int = 0) -> gpd.GeoDataFrame:
    """SYNTHETIC: n random earthquakes (Mw 5-7) and platforms (500 m hard buffer) over the grid."""
    rng = np.random.default_rng(seed)
    w, s, e, nn = grid.bounds
    quake = np.arange(n) % 2 == 0
    return gpd.GeoDataFrame(
        {
            "hazard_id": np.arange(n).astype(str),
            "kind": np.where(quake, "earthquake", "platform"),
            "name": None,
            "source": "synthetic",
            "licence": "synthetic",
            "attribution": "",
            "magnitude": rng.uniform(5.0, 7.0, n),
            "remarks": None,
            "exclusion_buffer_m": np.where(quake, 0.0, 500.0),
            "soft_cost": np.where(quake, 0.1, 2.0),
            "decay_m": np.where(quake, 15000.0, 2000.0),
            "crossing_min_angle_deg": None,
        },
        geometry=shapely.points(rng.uniform(w, e, n), rng.uniform(s, nn, n)),
        crs=UTM39,
    )


def per_object(table: gpd.GeoDataFrame, grid: GeoGrid) -> tuple[dict[str, np.ndarray], int]:
    """The old approach: every object in its own window with its own distance pass."""
    objects = raster._objects(table, raster._object_weights(table, {}))
    rf = math.log(1.0 / raster.DEFAULT_TRUNCATE)
    soft = {k: np.zeros(grid.shape) for k in set(table["kind"])}
    hard = {k: np.zeros(grid.shape, dtype=bool) for k in soft}
    passes = sum(raster._burn_object(o, grid, rf, soft[o.kind], hard[o.kind]) for o in objects)
    return soft, passes


def main(n: int) -> None:
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_650_000.0), (50, 50))
    table = synthetic_points(n, grid)
    t0 = time.perf_counter()
    soft, n_passes = per_object(table, grid)
    t1 = time.perf_counter()
    out = raster.rasterize_hazards(table, grid)
    t2 = time.perf_counter()
    same = all(np.array_equal(out.soft_by_kind[k], v.astype(np.float32)) for k, v in soft.items())
    print(f"synthetic points: {n:,} on a {grid.shape[0]} x {grid.shape[1]} grid of 1 km")
    print(f"per object: {t1 - t0:8.2f} s  {n_passes:,} distance passes")
    passes, classes = out.info["distance_passes"], out.info["classes"]
    print(f"per class:  {t2 - t1:8.2f} s  {passes} distance passes ({classes} classes)")
    print(f"speed-up {((t1 - t0) / (t2 - t1)):.1f}x; soft cost identical: {same}")


def large(n: int) -> None:
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_650_000.0), (50, 50))
    table = synthetic_points(n, grid, seed=1)
    t0 = time.perf_counter()
    out = raster.rasterize_hazards(table, grid)
    t1 = time.perf_counter()
    passes, classes = out.info["distance_passes"], out.info["classes"]
    print(f"per class, {n:,} synthetic points: {t1 - t0:8.2f} s  {passes} distance passes ({classes} classes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        large(int(sys.argv[2]))
