"""The weight sweep's grid (geodata/engineering/sweep.py): factor, grid, coarsened terms and barriers."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from geodata.cost import CostSurface
from geodata.engineering import sweep as esweep
from geodata.grid import GeoGrid
from geodata.routing.sweep import WeightSweepInput, perturbed_samples, route_sample
from geodata.scenario import WeightSweep


def _grid(rows: int, cols: int, res: float) -> GeoGrid:
    return GeoGrid(CRS.from_epsg(32639), Affine(res, 0.0, 0.0, 0.0, -res, rows * res), (rows, cols))


def test_sweep_factor_is_the_largest_whole_factor_within_the_resolution() -> None:
    assert esweep.sweep_factor(_grid(4, 4, 1000.0), 500.0) == 1  # never finer than the analysis grid
    assert esweep.sweep_factor(_grid(4, 4, 100.0), 500.0) == 5
    assert esweep.sweep_factor(_grid(4, 4, 300.0), 500.0) == 1
    assert esweep.sweep_factor(_grid(4, 4, 120.0), 500.0) == 4
    assert esweep.sweep_factor(_grid(4, 4, 100.0), None) == 1
    g = esweep.sweep_grid(_grid(11, 7, 100.0), 300.0)
    assert g.shape == (4, 3)
    assert g.res == (300.0, 300.0)
    assert g.transform.c == 0.0
    assert g.transform.f == 1100.0
    assert esweep.sweep_grid(_grid(11, 7, 100.0), None) == _grid(11, 7, 100.0)
    assert WeightSweep(samples=2).resolution_m == 500.0
    with pytest.raises(ValueError, match="greater than 0"):
        WeightSweep(samples=2, resolution_m=0.0)
    with pytest.raises(ValueError, match="greater than 0"):
        WeightSweep(samples=2, resolution_m=-5.0)


def _surface() -> CostSurface:
    grid = _grid(6, 6, 100.0)
    length = np.ones(grid.shape)
    slope = np.arange(36, dtype=float).reshape(6, 6)
    blocked = np.zeros(grid.shape, dtype=bool)
    blocked[0:2, 0:2] = True  # a whole block: stays blocked
    blocked[2, 2] = True  # one cell of a block: the block stays open, its mean is over the others
    total = np.where(blocked, np.inf, length + slope)
    return CostSurface(grid, total, {"length": length, "slope": slope}, {"land": blocked}, {})


def test_coarse_terms_are_block_means_of_passable_cells_and_blocks_close_only_when_all_cells_do() -> None:
    surface = _surface()
    terms, blocked = esweep.coarse_terms(surface, 2)
    assert blocked.tolist() == [[True, False, False], [False, False, False], [False, False, False]]
    assert terms["slope"][1, 1] == pytest.approx(np.mean([15.0, 20.0, 21.0]))  # cell (2, 2) = 14 is impassable
    assert terms["slope"][0, 1] == pytest.approx(np.mean([2.0, 3.0, 8.0, 9.0]))
    assert terms["slope"][0, 0] == 0.0
    assert terms["length"][1, 2] == 1.0
    same_terms, same_blocked = esweep.coarse_terms(surface, 1)
    assert np.array_equal(same_blocked, surface.impassable)
    np.testing.assert_array_equal(same_terms["slope"], surface.term("slope"))


def test_a_sample_on_the_sweep_grid_routes_between_the_coarse_ends() -> None:
    surface = _surface()
    terms, blocked = esweep.coarse_terms(surface, 2)
    shared = WeightSweepInput(terms=terms, blocked=blocked, start=(2, 0), goal=(0, 2), cell_size=(200.0, 200.0))
    [s0, s1] = perturbed_samples(["slope"], 1, 0.2, 0)
    res0 = route_sample(s0, shared)
    assert tuple(res0.path[0]) == (2, 0)
    assert tuple(res0.path[-1]) == (0, 2)
    assert np.isfinite(res0.cost)
    assert res0.corridor_mask(blocked.shape)[~blocked].any()
    assert not res0.corridor_mask(blocked.shape)[blocked].any()
    assert route_sample(s1, shared).cost != res0.cost  # the slope factor moved the cost
