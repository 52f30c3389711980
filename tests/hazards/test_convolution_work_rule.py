"""The cost-based switch to the convolution path (geodata/hazards/raster.py, ``CONVOLUTION_MAX_EXACT_WORK``): a point
class of more than ``CONVOLUTION_WORK_MIN_POINTS`` points whose exact pass would evaluate too many point x window
cells is convolved; smaller classes stay exact whatever their windows. SYNTHETIC points, no wall-clock assertion."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geodata.grid import GeoGrid
from geodata.hazards import raster, rasterize_hazards

UTM39 = CRS.from_epsg(32639)
GRID = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_640_000.0), (40, 40))


def _quakes(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """SYNTHETIC: ``n`` earthquakes (decay 15 km, so every window spans the whole 40 x 40 grid) over the grid."""
    rng = np.random.default_rng(seed)
    w, s, e, nn = GRID.bounds
    return gpd.GeoDataFrame(
        {
            "hazard_id": np.arange(n).astype(str),
            "kind": "earthquake",
            "name": None,
            "source": "synthetic",
            "licence": "synthetic",
            "attribution": "",
            "magnitude": rng.uniform(5.0, 7.0, n),
            "remarks": None,
            "exclusion_buffer_m": 0.0,
            "soft_cost": 0.1,
            "decay_m": 15000.0,
            "crossing_min_angle_deg": None,
        },
        geometry=shapely.points(rng.uniform(w, e, n), rng.uniform(s, nn, n)),
        crs=UTM39,
    )


def _members(table: gpd.GeoDataFrame) -> tuple[raster.HazardClass, list]:
    classes = raster.hazard_classes(raster._objects(table, raster._object_weights(table, {})))
    assert len(classes) == 1
    return next(iter(classes.items()))


def test_the_work_is_points_times_the_largest_window() -> None:
    cls, members = _members(_quakes(50))
    rf = math.log(1.0 / raster.DEFAULT_TRUNCATE)
    assert raster._exact_point_work(cls, members, GRID, rf) == 50 * 40 * 40  # each window is clipped to the grid


def test_a_class_over_the_floor_and_the_work_is_convolved(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _quakes(raster.CONVOLUTION_WORK_MIN_POINTS + 1)
    assert rasterize_hazards(table, GRID).info["convolution_classes"] == 0  # 3.2 M evaluations: exact
    monkeypatch.setattr(raster, "CONVOLUTION_MAX_EXACT_WORK", 1_000_000)
    out = rasterize_hazards(table, GRID)
    assert out.info["convolution_classes"] == 1
    assert out.info["distance_passes"] == 1


def test_a_class_at_the_floor_stays_exact_whatever_its_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raster, "CONVOLUTION_MAX_EXACT_WORK", 0)
    table = _quakes(raster.CONVOLUTION_WORK_MIN_POINTS)
    assert rasterize_hazards(table, GRID).info["convolution_classes"] == 0


def test_the_floor_is_far_above_the_mirror_classes() -> None:
    """The mirror's largest point class (124 earthquakes) must stay on the exact path at every resolution."""
    assert raster.CONVOLUTION_WORK_MIN_POINTS >= 1_000
