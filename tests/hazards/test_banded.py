"""Hazards computed band by band (hazard_rows) equal the whole grid, and the windowed distance transform equals
brute-force distances. Small SYNTHETIC inputs: points with hard buffers, lines and polygons straddling band edges,
a multi-point, a crossable line, and a reach (halo) larger than a band."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize

from geodata.grid import GeoGrid
from geodata.hazards import hazard_rows, plan_hazards, rasterize_hazards
from geodata.hazards import raster as hr

UTM39 = CRS.from_epsg(32639)
GRID = GeoGrid(UTM39, Affine(500.0, 0, 400_000.0, 0, -500.0, 4_600_000.0), (61, 47))


def _row(kind: str, geom: object, buffer_m: float, soft: float, decay: float, angle: float | None = None) -> dict:
    return {
        "hazard_id": f"{kind}-{id(geom)}",
        "kind": kind,
        "name": None,
        "source": "synthetic",
        "licence": "synthetic",
        "attribution": "",
        "magnitude": 6.0 if kind == "earthquake" else None,
        "remarks": None,
        "exclusion_buffer_m": buffer_m,
        "soft_cost": soft,
        "decay_m": decay,
        "crossing_min_angle_deg": angle,
        "geometry": geom,
    }


def _table() -> gpd.GeoDataFrame:
    """SYNTHETIC: random points of two classes, lines and polygons across the grid (some reaching in from outside)."""
    rng = np.random.default_rng(3)
    w, s, e, n = (v + 137.3 for v in GRID.bounds)  # off the cell corners: GDAL's all-touched decision for a line
    # through a cell corner depends on the window's origin (the same as object windows always did)
    rows = []
    for x, y in zip(rng.uniform(w - 3000, e + 3000, 40), rng.uniform(s - 3000, n + 3000, 40), strict=True):
        rows.append(_row("platform", shapely.Point(x, y), 700.0, 2.0, 1500.0))
    for x, y in zip(rng.uniform(w, e, 12), rng.uniform(s, n, 12), strict=True):
        rows.append(_row("earthquake", shapely.Point(x, y), 0.0, 0.1, 4000.0))  # reach 27.6 km: 55 rows > a band
    rows.append(_row("fault", shapely.LineString([(w + 1200, n - 700), (e - 900, s + 1300)]), 0.0, 0.5, 2000.0))
    rows.append(_row("fault", shapely.LineString([(w - 5000, s + 9000), (e + 4000, s + 9100)]), 0.0, 0.5, 2000.0))
    rows.append(
        _row("pipeline", shapely.LineString([(w + 3000, s - 2000), (w + 9000, n + 2000)]), 500.0, 2.0, 1000.0, 60.0)
    )
    poly = shapely.Polygon([(w + 8000, n - 9000), (w + 14000, n - 8000), (w + 12000, n - 15000)])
    rows.append(_row("mud_volcano", poly, 1000.0, 2.0, 1500.0))
    rows.append(_row("wreck", shapely.MultiPoint([(w + 16000, s + 6000), (w + 17500, s + 7000)]), 300.0, 1.0, 800.0))
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM39)


@pytest.fixture(scope="module")
def whole() -> hr.HazardRasters:
    return rasterize_hazards(_table(), GRID)


@pytest.mark.parametrize("height", [1, 5, 16, 29, 61])
def test_any_bands_give_the_whole_grid_bit_for_bit(whole: hr.HazardRasters, height: int) -> None:
    plan = plan_hazards(_table(), GRID)
    assert plan.halo_rows > 16  # the earthquakes reach farther than most bands are high
    soft = {k: np.zeros(GRID.shape) for k in plan.kinds}
    hard = {k: np.zeros(GRID.shape, dtype=bool) for k in plan.kinds}
    for start in range(0, GRID.shape[0], height):
        rows = slice(start, min(start + height, GRID.shape[0]))
        band_soft, band_hard = hazard_rows(plan, rows)
        for k in plan.kinds:
            soft[k][rows], hard[k][rows] = band_soft[k], band_hard[k]
    for k in plan.kinds:
        assert np.array_equal(soft[k].astype(np.float32), whole.soft_by_kind[k]), k
        assert np.array_equal(hard[k], whole.hard_by_kind[k]), k
    assert whole.soft_by_kind["earthquake"].all()  # every band reached by points outside it
    assert whole.hard_by_kind["platform"].any()
    assert whole.hard_by_kind["mud_volcano"].any()


def test_a_budget_of_several_bands_gives_the_same_arrays() -> None:
    grid = GeoGrid(UTM39, Affine(100.0, 0, 400_000.0, 0, -100.0, 4_600_000.0), (600, 40))
    table = _table()
    one = rasterize_hazards(table, grid)
    plan = plan_hazards(table, grid)
    budget = 40 * 256 * (hr.HAZARD_BAND_BYTES_PER_CELL + 8 * len(plan.kinds)) + 2 * plan.halo_rows * 40 * 100
    assert len(plan.blocks(budget)) == 3
    banded = rasterize_hazards(table, grid, budget_bytes=budget)
    assert np.array_equal(banded.soft_cost, one.soft_cost)
    assert np.array_equal(banded.hard_mask, one.hard_mask)
    assert banded.info == one.info


def _line_table(line: shapely.LineString) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame([_row("fault", line, 0.0, 1.0, 1500.0)], geometry="geometry", crs=UTM39)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_windowed_distance_transform_is_the_brute_force_distance_to_the_touched_cells(seed: int) -> None:
    """Soft cost of one line = exp(-d / decay) with d the distance from the cell centre to the nearest cell the line
    touches (brute force over every touched cell of a grid padded by the reach), and d is the true distance to
    the line within a cell diagonal."""
    rng = np.random.default_rng(seed)
    w, s, e, n = GRID.bounds
    line = shapely.LineString(np.column_stack([rng.uniform(w - 4000, e + 4000, 4), rng.uniform(s, n, 4)]))
    out = rasterize_hazards(_line_table(line), GRID).soft_by_kind["fault"].astype(np.float64)
    rf = math.log(1.0 / hr.DEFAULT_TRUNCATE)
    pad = math.ceil((1500.0 * rf + 500.0) / 500.0) + 1
    shape = (GRID.shape[0] + 2 * pad, GRID.shape[1] + 2 * pad)
    transform = GRID.transform @ Affine.translation(-pad, -pad)
    touched = rasterize([(line, 1)], out_shape=shape, transform=transform, all_touched=True, fill=0, dtype="uint8")
    tr, tc = np.nonzero(touched)
    ys, xs = GRID.coords()
    ty, tx = transform.f + (tr + 0.5) * transform.e, transform.c + (tc + 0.5) * transform.a
    brute = np.hypot(xs[None, :, None] - tx[None, None, :], ys[:, None, None] - ty[None, None, :]).min(axis=2)
    expected = np.where(brute / 1500.0 <= rf, np.exp(-brute / 1500.0), 0.0)
    assert np.allclose(out, expected, rtol=1e-6, atol=0)  # float32 storage
    cells = np.argwhere(out > 0)
    true = shapely.distance(shapely.points(xs[cells[:, 1]], ys[cells[:, 0]]), line)
    d = -1500.0 * np.log(out[out > 0])
    assert np.all(np.abs(d - true) <= math.hypot(500.0, 500.0) / 2 + 1.0)


MASKS = [
    ((50, 70), 0.01, (100.0, 100.0)),
    ((31, 17), 0.2, (250.0, 250.0)),
    ((64, 64), 0.002, (90.0, 120.5)),
    ((1, 5), 0.5, (1.0, 1.0)),
    ((40, 1), 0.1, (3.0, 2.0)),
]


@pytest.mark.parametrize(("shape", "share", "res"), MASKS)
def test_the_compiled_distance_transform_is_scipys(
    shape: tuple[int, int], share: float, res: tuple[float, float]
) -> None:
    """SYNTHETIC masks: the separable transform gives scipy's exact distances, and brute force's."""
    from scipy.ndimage import distance_transform_edt

    from geodata.hazards._kernels import distance_to_cells

    rng = np.random.default_rng(7)
    for _ in range(10):
        feature = rng.random(shape) < share
        feature[rng.integers(shape[0]), rng.integers(shape[1])] = True
        ours = distance_to_cells(feature, *res)
        assert np.array_equal(ours, distance_transform_edt(~feature, sampling=res))
        fr, fc = np.nonzero(feature)
        r, c = np.indices(shape)
        brute = np.hypot((r[..., None] - fr) * res[0], (c[..., None] - fc) * res[1]).min(axis=-1)
        assert np.allclose(ours, brute, rtol=1e-15, atol=0)
    assert np.isinf(distance_to_cells(np.zeros(shape, dtype=bool), *res)).all()
