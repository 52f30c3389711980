from __future__ import annotations

import numpy as np
import pytest

from geodata.cost import build_cost_surface
from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster
from geodata.scenario import CostWeights, Limits


def _inputs(grid: GeoGrid, depth: float = 100.0, slope: float = 1.0):
    shape = grid.shape
    return (
        Raster(np.full(shape, depth), grid),
        Raster(np.full(shape, slope), grid),
        Raster(np.ones(shape, "uint8"), grid),
    )


def test_terms_follow_the_documented_formulas(utm_grid: GeoGrid) -> None:
    depth, slope, sea = _inputs(utm_grid)
    depth.data[0, 0] = 0.0  # shore: full shallow penalty
    depth.data[0, 1] = 15.0  # half-way to shallow_limit_m=30
    depth.data[0, 2] = 800.0  # half-way between deep_start 600 and deep_limit 1000
    w = CostWeights(
        base=1.0,
        shallow_weight=2.0,
        shallow_limit_m=30,
        deep_weight=0.5,
        deep_start_m=600,
        deep_limit_m=1000,
        slope_weight=0.2,
    )
    cs = build_cost_surface(depth, slope, sea, w, Limits())
    assert cs.terms["shallow"][0, 0] == pytest.approx(2.0)
    assert cs.terms["shallow"][0, 1] == pytest.approx(1.0)
    assert cs.terms["deep"][0, 2] == pytest.approx(0.25)
    assert cs.terms["slope"][5, 5] == pytest.approx(0.2)
    assert cs.total[5, 5] == pytest.approx(1.2)
    assert cs.total[0, 0] == pytest.approx(1.0 + 2.0 + 0.2)


def test_barriers_make_cells_impassable_and_are_reported(utm_grid: GeoGrid) -> None:
    depth, slope, sea = _inputs(utm_grid)
    sea.data[:, 0] = 0
    slope.data[3, 3] = 20.0
    depth.data[4, 4] = np.nan
    hard = np.zeros(utm_grid.shape, bool)
    hard[6, 6] = True
    allowed = np.ones(utm_grid.shape, bool)
    allowed[7, 7] = False
    cs = build_cost_surface(
        depth, slope, sea, CostWeights(), Limits(max_slope_deg=15), hazard_hard=hard, allowed_sector=allowed
    )
    for cell in [(0, 0), (3, 3), (4, 4), (6, 6), (7, 7)]:
        assert np.isinf(cs.total[cell])
    summary = cs.summary()
    assert summary["barrier_land_cells"] == 20
    assert summary["barrier_too_steep_cells"] == 1
    assert summary["barrier_hazard_exclusion_cells"] == 1
    assert summary["barrier_foreign_sector_cells"] == 1
    assert np.isnan(cs.raster().data[0, 0])


def test_hazard_and_shipping_weights(utm_grid: GeoGrid) -> None:
    depth, slope, sea = _inputs(utm_grid, slope=0.0)
    soft = {"fault": np.full(utm_grid.shape, 2.0), "shipping_lane": np.full(utm_grid.shape, 1.0)}
    cs = build_cost_surface(
        depth, slope, sea, CostWeights(hazard_weight=0.5, shipping_weight=3.0), Limits(), hazard_soft=soft
    )
    assert cs.terms["hazards"][0, 0] == pytest.approx(1.0)
    assert cs.terms["shipping"][0, 0] == pytest.approx(3.0)


def test_misaligned_input_is_refused(utm_grid: GeoGrid) -> None:
    depth, slope, sea = _inputs(utm_grid)
    other = GeoGrid.from_bounds((0, 0, 30_000, 20_000), 1000, "EPSG:32639")
    with pytest.raises(InputDataError, match="slope is on grid"):
        build_cost_surface(depth, Raster(slope.data, other), sea, CostWeights(), Limits())


def test_sea_cell_above_the_water_surface_is_shallow_water_not_land(utm_grid: GeoGrid) -> None:
    """Synthetic: the coastline says sea, a coarse grid over a shallow shelf says 2 m above the surface (the northern
    Caspian on the mirror, where this made whole shelves impassable). The cell is 0 m deep water: passable at the
    full shallow penalty under the default min_depth_m = 0, still blocked by a positive min_depth_m; land stays
    land whatever its depth."""
    depth, slope, sea = _inputs(utm_grid)
    depth.data[2, 2] = -2.0
    sea.data[3, 3] = 0
    depth.data[3, 3] = -2.0
    cs = build_cost_surface(depth, slope, sea, CostWeights(shallow_weight=2.0), Limits())
    assert np.isfinite(cs.total[2, 2])
    assert cs.terms["shallow"][2, 2] == pytest.approx(2.0)
    assert not cs.barriers["too_shallow"][2, 2]
    assert np.isinf(cs.total[3, 3])
    strict = build_cost_surface(depth, slope, sea, CostWeights(), Limits(min_depth_m=5.0))
    assert np.isinf(strict.total[2, 2])
