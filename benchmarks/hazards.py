"""Benchmark: hazard points rasterised per object (the old approach: one window, one distance pass per feature),
per class (one vectorised exact pass per class) and by convolution (the large-class path), on SYNTHETIC points.

    .venv/bin/python benchmarks/hazards.py [n_points [n_large [n_conv]]]

``n_points`` (default 2,000) are rasterised per object and per class (bit-identical); ``n_conv`` (default 20,000)
per class (exact) and by convolution, with the convolution's error; ``n_large`` (default 0 = skip) by convolution
only (the exact class pass would take minutes, per object hours).
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
GRID = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_650_000.0), (50, 50))


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


def timed(table: gpd.GeoDataFrame, *, threshold: int) -> tuple[raster.HazardRasters, float]:
    """rasterize_hazards with ``CONVOLUTION_MIN_POINTS = threshold`` (``sys.maxsize``: the exact path, whatever
    ``CONVOLUTION_MAX_EXACT_WORK`` says) and its wall-clock time."""
    saved = raster.CONVOLUTION_MIN_POINTS, raster.CONVOLUTION_MAX_EXACT_WORK
    raster.CONVOLUTION_MIN_POINTS = threshold
    if threshold == sys.maxsize:  # the exact path whatever the work
        raster.CONVOLUTION_MAX_EXACT_WORK = sys.maxsize
    try:
        t0 = time.perf_counter()
        out = raster.rasterize_hazards(table, GRID)
        return out, time.perf_counter() - t0
    finally:
        raster.CONVOLUTION_MIN_POINTS, raster.CONVOLUTION_MAX_EXACT_WORK = saved


def row(label: str, seconds: float, out: raster.HazardRasters) -> None:
    info = out.info
    print(
        f"{label:<34} {seconds:9.2f} s  {info['distance_passes']:>9,} passes  "
        f"{info['convolution_classes']} of {info['classes']} classes by convolution"
    )


def main(n: int) -> None:
    table = synthetic_points(n, GRID)
    t0 = time.perf_counter()
    soft, n_passes = per_object(table, GRID)
    t1 = time.perf_counter()
    out, t_class = timed(table, threshold=sys.maxsize)
    same = all(np.array_equal(out.soft_by_kind[k], v.astype(np.float32)) for k, v in soft.items())
    print(
        f"synthetic points on a {GRID.shape[0]} x {GRID.shape[1]} grid of 1 km (earthquakes and platforms, half each)"
    )
    print(f"{f'{n:,} per object':<34} {t1 - t0:9.2f} s  {n_passes:>9,} passes")
    row(f"{n:,} per class (exact)", t_class, out)
    print(f"  speed-up {((t1 - t0) / t_class):.1f}x; soft cost identical: {same}")


def convolution(n: int) -> None:
    table = synthetic_points(n, GRID, seed=2)
    exact, t_exact = timed(table, threshold=sys.maxsize)
    fast, t_fast = timed(table, threshold=0)
    row(f"{n:,} per class (exact)", t_exact, exact)
    row(f"{n:,} by convolution", t_fast, fast)
    print(f"  speed-up {t_exact / t_fast:.1f}x; error of the convolution (s = {raster.CONVOLUTION_SUBCELLS}):")
    for kind, e in exact.soft_by_kind.items():
        e64, f64 = e.astype(float), fast.soft_by_kind[kind].astype(float)
        err = np.abs(f64 - e64)
        rel = (err[e64 > 0] / e64[e64 > 0]).max() if (e64 > 0).any() else 0.0
        hard_e, hard_f = exact.hard_by_kind[kind], fast.hard_by_kind[kind]
        print(
            f"  {kind:<11} soft: max abs {err.max():.3g} (max {e64.max():.4g}), max rel {rel:.2%}; hard cells "
            f"{int(hard_f.sum())} vs {int(hard_e.sum())} exact, contains the exact: {not (hard_e & ~hard_f).any()}"
        )


def large(n: int) -> None:
    table = synthetic_points(n, GRID, seed=1)
    out, seconds = timed(table, threshold=raster.CONVOLUTION_MIN_POINTS)
    row(f"{n:,} by convolution", seconds, out)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    convolution(int(sys.argv[3]) if len(sys.argv) > 3 else 20_000)
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        large(int(sys.argv[2]))
