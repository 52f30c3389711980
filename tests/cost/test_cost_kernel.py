"""The compiled band kernel of the cost surface gives, bit for bit, what the numpy formulas
(``geodata.cost._band_reference``, summed as the surface was summed before it) give: SYNTHETIC inputs with no-data
cells, a numeric nodata value, sea cells above the water surface, every barrier and both hazard paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from geodata.cost import TERMS, _band_reference, _valid_rows, build_cost_surface
from geodata.grid import GeoGrid, Raster
from geodata.hazards import plan_hazards, rasterize_hazards
from geodata.scenario import CostWeights, Limits
from tests.hazards.test_banded import UTM39, _table

GRID = GeoGrid(UTM39, Affine(100.0, 0, 400_000.0, 0, -100.0, 4_600_000.0), (600, 40))
WEIGHTS = CostWeights(shallow_weight=2.3, deep_weight=0.7, slope_weight=0.13, hazard_weight=1.7, shipping_weight=0.3)
LIMITS = Limits(max_slope_deg=12.5, min_depth_m=2.0, max_depth_m=1200.0)


def _inputs(depth_nodata: float | None) -> tuple[Raster, Raster, Raster, np.ndarray]:
    rng = np.random.default_rng(7)
    depth = rng.uniform(-40, 1500, GRID.shape).astype("float32")
    depth[10:20, 5:9] = np.nan
    depth[30:33, :] = np.inf
    slope = rng.uniform(0, 30, GRID.shape).astype("float32")
    slope[40:42, 3:30] = np.nan
    if depth_nodata is not None:
        depth[50:60, 10:20] = depth_nodata
    sea = (rng.random(GRID.shape) > 0.1).astype("uint8")
    allowed = rng.random(GRID.shape) > 0.05
    return Raster(depth, GRID, depth_nodata), Raster(slope, GRID, float("nan")), Raster(sea, GRID), allowed


def _reference(
    depth: Raster, slope: Raster, sea: Raster, soft: dict[str, np.ndarray], hard: np.ndarray | None, allowed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The whole grid as one band, through the numpy formulas and the summation the surface used before."""
    rows = slice(0, GRID.shape[0])
    terms, barriers = _band_reference(
        (_valid_rows(depth, rows), _valid_rows(slope, rows), _valid_rows(sea, rows)),
        WEIGHTS,
        LIMITS,
        soft,
        hard,
        allowed,
    )
    total = np.zeros(GRID.shape)
    for term in terms.values():
        total += term
    blocked = np.zeros(GRID.shape, dtype=bool)
    for mask in barriers.values():
        blocked |= mask
    total[blocked] = np.inf
    return total.astype(np.float32), terms, barriers


@pytest.mark.parametrize("depth_nodata", [None, -9999.0, 1.0e20])
def test_kernel_equals_the_numpy_formulas_with_arrays(depth_nodata: float | None) -> None:
    depth, slope, sea, allowed = _inputs(depth_nodata)
    haz = rasterize_hazards(_table(), GRID)
    soft64 = {k: v.astype(np.float64) * 1.01 for k, v in haz.soft_by_kind.items()}  # float64 products too
    for soft in (haz.soft_by_kind, soft64):
        surface = build_cost_surface(
            depth, slope, sea, WEIGHTS, LIMITS, hazard_soft=soft, hazard_hard=haz.hard_mask, allowed_sector=allowed
        )
        total, terms, barriers = _reference(depth, slope, sea, soft, haz.hard_mask, allowed)
        assert np.array_equal(surface.total, total)
        for name in TERMS:
            assert np.array_equal(surface.term(name), terms[name].astype(np.float32)), name
        assert set(surface.barriers) == set(barriers)
        for reason, mask in barriers.items():
            assert np.array_equal(surface.barrier(reason), mask), reason
            assert surface.counted is not None
            assert surface.counted["barriers"][reason] == int(mask.sum())
        passable = np.isfinite(total)
        assert passable.any()
        assert (~passable).any()
        for name in TERMS:
            expected = float(terms[name].astype(np.float32)[passable].sum(dtype=np.float64))
            assert surface.counted["terms"][name] == pytest.approx(expected, rel=1e-12)


def test_kernel_equals_the_numpy_formulas_with_a_plan_in_bands() -> None:
    """The plan path: per-kind float64 sums rounded to float32, weighted in float32 (as numpy multiplies a Python
    float and a float32 array), summed in float64; three bands."""
    depth, slope, sea, _ = _inputs(None)
    plan = plan_hazards(_table(), GRID)
    haz = rasterize_hazards(_table(), GRID)
    budget = 200 * GRID.shape[1] * 256
    surface = build_cost_surface(depth, slope, sea, WEIGHTS, LIMITS, hazards=plan, budget_bytes=budget)
    total, terms, barriers = _reference(depth, slope, sea, haz.soft_by_kind, haz.hard_mask, None)
    assert np.array_equal(surface.total, total)
    for name in TERMS:
        assert np.array_equal(surface.term(name), terms[name].astype(np.float32)), name
    for reason, mask in barriers.items():
        assert np.array_equal(surface.barrier(reason), mask), reason
    assert surface.term("hazards").max() > 0
    assert surface.barrier("hazard_exclusion").any()


def test_a_sea_cell_above_the_surface_is_zero_deep_in_the_kernel() -> None:
    depth = np.full(GRID.shape, -3.0, dtype="float32")
    sea = np.ones(GRID.shape, dtype="uint8")
    sea[:, :10] = 0
    surface = build_cost_surface(
        Raster(depth, GRID, float("nan")),
        Raster(np.zeros(GRID.shape, dtype="float32"), GRID),
        Raster(sea, GRID),
        WEIGHTS,
        Limits(min_depth_m=0.0),
    )
    assert surface.term("shallow")[:, 10:].min() == pytest.approx(WEIGHTS.shallow_weight)
    assert not surface.barrier("too_shallow")[:, 10:].any()  # 0 m deep, not -3 m
    assert surface.barrier("too_shallow")[:, :10].all()
    assert surface.barrier("land")[:, :10].all()
    assert math.isinf(float(surface.total[0, 0]))
    assert math.isfinite(float(surface.total[0, 20]))
