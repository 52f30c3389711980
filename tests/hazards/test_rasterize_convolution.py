"""Large point classes by convolution (geodata/hazards/raster.py, ``CONVOLUTION_MIN_POINTS``): which path a class
takes, and the convolution's error against the exact path on SYNTHETIC points. No wall-clock assertion (see
benchmarks/hazards.py for timings)."""

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
#: (kind, exclusion buffer, soft cost, decay): a platform-like class with a hard buffer and a well-like class
CLASSES = [("platform", 500.0, 2.0, 2000.0), ("well", 0.0, 1.0, 5000.0)]
GRID = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_700_000.0), (200, 200))


def _points(n: int, grid: GeoGrid, classes: list[tuple[str, float, float, float]], *, spill_m: float, seed: int = 0):
    """SYNTHETIC: ``n`` random points over the grid and ``spill_m`` beyond it, cycling through ``classes``."""
    rng = np.random.default_rng(seed)
    w, s, e, nn = grid.bounds
    x, y = rng.uniform(w - spill_m, e + spill_m, n), rng.uniform(s - spill_m, nn + spill_m, n)
    pick = np.arange(n) % len(classes)
    col = lambda j: np.array([c[j] for c in classes], dtype=object)[pick]  # noqa: E731
    return gpd.GeoDataFrame(
        {
            "hazard_id": np.arange(n).astype(str),
            "kind": col(0).astype(str),
            "name": None,
            "source": "synthetic",
            "licence": "synthetic",
            "attribution": "",
            "magnitude": None,
            "remarks": None,
            "exclusion_buffer_m": col(1).astype(float),
            "soft_cost": col(2).astype(float) * rng.uniform(0.5, 1.5, n),
            "decay_m": col(3).astype(float),
            "crossing_min_angle_deg": None,
        },
        geometry=shapely.points(x, y),
        crs=UTM39,
    )


@pytest.fixture(scope="module")
def medium() -> dict[str, raster.HazardRasters]:
    """5,000 SYNTHETIC points (2,500 per class, some up to 10 km off the grid) on 200 x 200 cells of 1 km, both ways."""
    table = _points(5000, GRID, CLASSES, spill_m=10_000.0)
    exact = rasterize_hazards(table, GRID)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(raster, "CONVOLUTION_MIN_POINTS", 1000)
        fast = rasterize_hazards(table, GRID)
    buffer = np.where(table["exclusion_buffer_m"] > 0, 500.0 + math.hypot(1e3, 1e3), 0.0)
    wide = table.assign(exclusion_buffer_m=buffer, soft_cost=0.0)  # hard cells only
    return {"exact": exact, "fast": fast, "wide": rasterize_hazards(wide, GRID)}


def test_the_medium_case_takes_the_convolution_path_only_when_over_the_threshold(medium) -> None:
    assert medium["exact"].info["convolution_classes"] == 0
    assert medium["fast"].info["convolution_classes"] == 2
    assert medium["fast"].info["distance_passes"] == 2
    assert medium["fast"].info["objects_on_grid"] == medium["exact"].info["objects_on_grid"]


@pytest.mark.parametrize(("kind", "max_rel"), [("platform", 0.03), ("well", 0.01)])
def test_convolved_soft_cost_is_the_exact_sum_within_its_bound(medium, kind: str, max_rel: float) -> None:
    """Measured with s = 2 lattice nodes per cell side: 2.3 % (platform, decay 2 cells; max abs 0.11 of 8.7) and
    0.26 % (well, decay 5 cells; 0.026 of 14.9) at worst, against the proven factor exp(h / decay) - 1 (h = lattice
    diagonal): 42 % and 15 %."""
    exact = medium["exact"].soft_by_kind[kind].astype(float)
    fast = medium["fast"].soft_by_kind[kind].astype(float)
    decay = {c[0]: c[3] for c in CLASSES}[kind]
    h = math.hypot(1e3, 1e3) / raster.CONVOLUTION_SUBCELLS
    rel = np.abs(fast - exact)[exact > 0] / exact[exact > 0]
    assert rel.max() <= max_rel
    assert rel.max() <= math.expm1(h / decay)
    assert np.abs(fast - exact).max() <= max_rel * exact.max()
    assert np.array_equal(fast == 0, exact == 0)  # zero exactly where no point reaches (no FFT round-off)
    assert (fast >= 0).all()


def test_convolved_hard_mask_contains_the_exact_one_and_at_most_a_cell_diagonal_more(medium) -> None:
    exact, fast = medium["exact"].hard_by_kind["platform"], medium["fast"].hard_by_kind["platform"]
    wide = medium["wide"].hard_by_kind["platform"]  # every cell within 500 m + a cell diagonal of a point
    assert exact.any()
    assert not (exact & ~fast).any()
    assert not (fast & ~wide).any()
    assert not medium["fast"].hard_by_kind["well"].any()


def test_a_class_at_the_threshold_goes_the_exact_way_bit_for_bit(monkeypatch) -> None:
    """100 points per class with the threshold at 100: the exact class pass, equal to the per-object loop."""
    monkeypatch.setattr(raster, "CONVOLUTION_MIN_POINTS", 100)
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_621_000.0), (21, 21))
    table = _points(200, grid, CLASSES, spill_m=0.0)
    out = rasterize_hazards(table, grid)
    objects = raster._objects(table, raster._object_weights(table, {}))
    rf = math.log(1.0 / raster.DEFAULT_TRUNCATE)
    soft = {k: np.zeros(grid.shape) for k in ("platform", "well")}
    hard = {k: np.zeros(grid.shape, dtype=bool) for k in ("platform", "well")}
    for obj in objects:
        raster._burn_object(obj, grid, rf, soft[obj.kind], hard[obj.kind])
    assert out.info["convolution_classes"] == 0
    for kind in soft:
        assert np.array_equal(out.soft_by_kind[kind], soft[kind].astype(np.float32))
        assert np.array_equal(out.hard_by_kind[kind], hard[kind])
    monkeypatch.setattr(raster, "CONVOLUTION_MIN_POINTS", 99)
    assert rasterize_hazards(table, grid).info["convolution_classes"] == 2


def test_the_threshold_is_well_above_the_mirror_classes() -> None:
    """The mirror's largest point class (124 earthquakes) must stay on the exact path."""
    assert raster.CONVOLUTION_MIN_POINTS >= 20_000


def test_a_large_class_entirely_off_the_grid_adds_nothing(monkeypatch) -> None:
    monkeypatch.setattr(raster, "CONVOLUTION_MIN_POINTS", 10)
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_620_000.0), (20, 20))
    far = GeoGrid(UTM39, Affine(1000.0, 0, 600_000.0, 0, -1000.0, 4_620_000.0), (20, 20))
    out = rasterize_hazards(_points(100, far, CLASSES, spill_m=0.0), grid)
    assert out.info["objects_on_grid"] == 0
    assert out.info["convolution_classes"] == 0
    assert not out.soft_cost.any()
    assert not out.hard_mask.any()
