"""The route against vector land narrower than a grid cell (synthetic): re-planning round a thin spit, the error when
only land joins the ends, the straight-leg test and the blocking check."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString, box

from geodata import routing
from geodata.engineering import compose
from geodata.engineering.checks import check_clear_of_land
from geodata.engineering.land import all_clear, land_clearance, land_stretches, route_clear_of_land
from geodata.errors import RouteOverLandError
from geodata.grid import GeoGrid

# synthetic: 1 km cells, 40 x 40 km of open sea in UTM 39N
GRID = GeoGrid("EPSG:32639", Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_500_000.0), (40, 40))
# a spit 200 m wide (no cell centre on it, so the cell mask calls it sea) running north-south from the south edge
# to 10 km short of the north edge, between the two ends of the route
SPIT = box(419_900, 4_460_000, 420_100, 4_490_000)
START, GOAL = (25, 5), (25, 34)  # (row, col): west and east of the spit


def _search(cost: np.ndarray) -> routing.RouteResult:
    return routing.least_cost_path(cost, START, GOAL, cell_size=GRID.res)


def _line(result: routing.RouteResult) -> LineString:
    return LineString(routing.path_xy(result.path, GRID.transform))


def test_the_grid_alone_routes_straight_over_the_thin_spit() -> None:
    direct = _search(np.ones(GRID.shape))
    assert land_stretches(_line(direct), SPIT)  # what the real Baku-Turkmenbashi route did at 39.74 N 53.04 E


def test_replanning_goes_round_the_spit_and_reports_the_cost() -> None:
    plan = route_clear_of_land(np.ones(GRID.shape), GRID, SPIT, _search)
    line = _line(plan.result)
    assert land_stretches(line, SPIT) == []
    assert plan.rounds > 1
    assert plan.closed_cells
    assert line.coords[0] != line.coords[-1]
    # the way round the spit's northern end is longer than the straight line
    assert plan.result.cost > plan.first_cost
    summary = plan.summary()
    assert summary["land_replans"] == plan.rounds - 1
    assert summary["first_path_on_land_m"] == pytest.approx(200.0, abs=1.0)
    assert summary["replan_cost_increase_pct"] > 0


def test_replanning_leaves_the_cost_surface_untouched_and_copies_it_only_to_replan() -> None:
    cost = np.ones(GRID.shape)
    seen: list[np.ndarray] = []

    def search(c: np.ndarray) -> routing.RouteResult:
        seen.append(c)
        return _search(c)

    plan = route_clear_of_land(cost, GRID, SPIT, search)
    assert plan.rounds > 1
    assert np.all(cost == 1.0)  # the closed cells went into a copy
    assert seen[0] is cost  # the first search reads the float64 surface itself
    assert all(c is not cost for c in seen[1:])
    once = route_clear_of_land(np.ones(GRID.shape, dtype="float32"), GRID, SPIT, _search)
    np.testing.assert_array_equal(once.result.path, plan.result.path)  # float32 in: the same float64 search


def test_land_closing_the_only_passage_is_a_named_error_with_the_fix() -> None:
    wall = box(419_900, 4_460_000, 420_100, 4_500_000)  # the spit reaches the north edge: no way round
    with pytest.raises(RouteOverLandError, match=r"N .* E.*finer analysis.resolution_m"):
        route_clear_of_land(np.ones(GRID.shape), GRID, wall, _search)


def test_no_land_means_one_search() -> None:
    plan = route_clear_of_land(np.ones(GRID.shape), GRID, None, _search)
    assert plan.rounds == 1
    assert plan.closed_cells == []


def test_only_an_unchanged_optimum_is_reused_as_the_alternatives_best() -> None:
    """The route records its re-plans; the alternatives reuse it as rank 0 only when none changed it (and it is the
    default d16 search), getting the very routes they get searching themselves."""
    cost = np.ones(GRID.shape)
    cost[18:33, 24:28] = np.inf  # an island: the alternatives pass either side of it
    clear = route_clear_of_land(cost, GRID, None, _search).result
    assert clear.stats["land_replans"] == 0
    assert compose.unchanged_optimum(clear) is clear
    replanned = route_clear_of_land(cost, GRID, SPIT, _search).result
    assert replanned.stats["land_replans"] > 0
    assert compose.unchanged_optimum(replanned) is None
    d8 = routing.least_cost_path(cost, START, GOAL, cell_size=GRID.res, method="d8")
    d8.stats["land_replans"] = 0
    assert compose.unchanged_optimum(d8) is None
    reused = routing.alternative_routes(cost, START, GOAL, cell_size=GRID.res, k=3, best=clear)
    searched = routing.alternative_routes(cost, START, GOAL, cell_size=GRID.res, k=3)
    assert reused[0] is clear
    assert len(reused) == len(searched) >= 2
    for a, b in zip(reused, searched, strict=True):
        np.testing.assert_array_equal(a.path, b.path)


def test_straight_leg_test_refuses_the_spit_and_accepts_touching_the_shore() -> None:
    is_clear = land_clearance(SPIT)
    assert not is_clear(410_000, 4_475_000, 430_000, 4_475_000)
    assert is_clear(419_900, 4_475_000, 410_000, 4_475_000)  # from the spit's shore seawards
    assert is_clear(410_000, 4_495_000, 430_000, 4_495_000)  # north of its end
    assert not all_clear(lambda *_: True, is_clear)(410_000, 4_475_000, 430_000, 4_475_000)
    assert land_clearance(None)(410_000, 4_475_000, 430_000, 4_475_000)


def test_route_clear_of_land_check_names_kp_and_position() -> None:
    route = LineString([(405_000, 4_475_000), (435_000, 4_475_000)])
    bad = check_clear_of_land(route, GRID.crs, SPIT)
    assert not bad.passed
    assert bad.blocking
    assert "KP 15.0" in bad.description
    assert " N, " in bad.description
    assert " E, 200 m)" in bad.description
    assert bad.metadata["length_on_land_m"] == pytest.approx(200.0)
    exempt = box(419_000, 4_470_000, 421_000, 4_480_000)  # a shore end over the spit is land on purpose
    assert check_clear_of_land(route, GRID.crs, SPIT, exempt=exempt).passed
    assert check_clear_of_land(route, GRID.crs, None).passed
