"""Hazards rasterised per class: a million synthetic points take one pass per class (by convolution), and a class pass
gives the same sums as the per-object loop. No wall-clock assertion (see benchmarks/hazards.py for timings)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geodata.grid import GeoGrid
from geodata.hazards import raster, rasterize_hazards

UTM39 = CRS.from_epsg(32639)


def _synthetic_points(n: int, grid: GeoGrid, kinds: list[tuple[str, float, float, float]], seed: int = 0):
    """SYNTHETIC: ``n`` random points over the grid, cycling through ``(kind, buffer, soft_cost, decay)``."""
    rng = np.random.default_rng(seed)
    w, s, e, nn = grid.bounds
    x, y = rng.uniform(w, e, n), rng.uniform(s, nn, n)
    pick = np.arange(n) % len(kinds)
    col = lambda j: np.array([k[j] for k in kinds], dtype=object)[pick]  # noqa: E731
    return gpd.GeoDataFrame(
        {
            "hazard_id": np.arange(n).astype(str),
            "kind": col(0).astype(str),
            "name": None,
            "source": "synthetic",
            "licence": "synthetic",
            "attribution": "",
            "magnitude": rng.uniform(5.0, 7.0, n),
            "remarks": None,
            "exclusion_buffer_m": col(1).astype(float),
            "soft_cost": col(2).astype(float),
            "decay_m": col(3).astype(float),
            "crossing_min_angle_deg": None,
        },
        geometry=shapely.points(x, y),
        crs=UTM39,
    )


@pytest.mark.integration  # ~10 s, most of it building the million-row table and its objects
def test_a_million_synthetic_points_take_one_distance_pass_per_class() -> None:
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_608_000.0), (8, 8))
    table = _synthetic_points(1_000_000, grid, [("earthquake", 0.0, 0.1, 15000.0), ("well", 0.0, 1.0, 1000.0)])
    out = rasterize_hazards(table, grid)
    assert out.info["objects_on_grid"] == 1_000_000
    assert out.info["classes"] == 2
    assert out.info["distance_passes"] == out.info["classes"]
    assert out.info["convolution_classes"] == 2  # 500,000 points per class: over CONVOLUTION_MIN_POINTS
    assert np.isfinite(out.soft_cost).all()
    assert (out.soft_cost > 0).all()


def test_class_pass_equals_per_object_loop_bit_for_bit() -> None:
    """SYNTHETIC points with hard buffers: the vectorised class pass against _burn_object, object by object."""
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_621_000.0), (21, 21))
    table = _synthetic_points(300, grid, [("earthquake", 0.0, 0.1, 15000.0), ("platform", 500.0, 2.0, 2000.0)])
    out = rasterize_hazards(table, grid)
    objects = raster._objects(table, raster._object_weights(table, {}))
    rf = np.log(1.0 / raster.DEFAULT_TRUNCATE)
    soft = {k: np.zeros(grid.shape) for k in ("earthquake", "platform")}
    hard = {k: np.zeros(grid.shape, dtype=bool) for k in ("earthquake", "platform")}
    for obj in objects:
        raster._burn_object(obj, grid, rf, soft[obj.kind], hard[obj.kind])
    for kind in soft:
        assert np.array_equal(out.soft_by_kind[kind], soft[kind].astype(np.float32))
        assert np.array_equal(out.hard_by_kind[kind], hard[kind])
    assert out.info["distance_passes"] == 2
    assert out.hard_mask.any()
