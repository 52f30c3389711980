"""Routing engine (issue #4): hand-computed cases, properties, errors, corridor, alternatives, coarse-to-fine."""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodata.errors import CorridorError
from geodata.routing import (
    GoalUnreachable,
    InvalidCellSize,
    InvalidCostSurface,
    PointImpassable,
    PointOutsideGrid,
    RoutingError,
    accumulated_cost,
    alternative_routes,
    least_cost_corridor,
    least_cost_path,
    mask_to_polygons,
    path_cost,
)
from geodata.routing._moves import move_table, segment_cells

SQRT2 = math.sqrt(2.0)
SQRT5 = math.sqrt(5.0)


# ------------------------------------------------------------------------------------------------------------------
# an independent 8-connected reference (pure Python)
# ------------------------------------------------------------------------------------------------------------------
def ref8(cost: np.ndarray, s: tuple[int, int], g: tuple[int, int], cs: tuple[float, float] = (1.0, 1.0)) -> float:
    """8-connected Dijkstra, edge cost = mean of the two cells x length; a diagonal between two walls is closed."""
    ok = np.isfinite(cost)
    H, W = cost.shape
    best = {s: 0.0}
    heap = [(0.0, s)]
    done = set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        if u == g:
            return d
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == dc == 0:
                    continue
                v = (u[0] + dr, u[1] + dc)
                if not (0 <= v[0] < H and 0 <= v[1] < W) or not ok[v] or v in done:
                    continue
                if dr and dc and not ok[u[0] + dr, u[1]] and not ok[u[0], u[1] + dc]:
                    continue
                nd = d + 0.5 * (cost[u] + cost[v]) * math.hypot(dr * cs[0], dc * cs[1])
                if nd < best.get(v, math.inf):
                    best[v] = nd
                    heapq.heappush(heap, (nd, v))
    return math.inf


def assert_clear(cost: np.ndarray, path: np.ndarray) -> None:
    """Dense sampling: no point of the polyline lies strictly inside an impassable cell."""
    for a, b in itertools.pairwise(path):
        for t in np.linspace(0.0, 1.0, 201):
            r, c = a + (b - a) * t
            fr, fc = r + 0.5 - math.floor(r + 0.5), c + 0.5 - math.floor(c + 0.5)
            if min(fr, 1 - fr, fc, 1 - fc) < 1e-7:
                continue  # on a cell edge: decided by path_cost's rules
            assert np.isfinite(cost[math.floor(r + 0.5), math.floor(c + 0.5)]), (r, c)


# ------------------------------------------------------------------------------------------------------------------
# hand-computed cases
# ------------------------------------------------------------------------------------------------------------------
def test_move_tables_are_exact_fractions() -> None:
    cells, gaps = segment_cells(1, 2)
    assert [(r, c, float(f)) for r, c, f in cells] == [(0, 0, 0.25), (0, 1, 0.25), (1, 1, 0.25), (1, 2, 0.25)]
    assert gaps == []
    cells, gaps = segment_cells(1, 3)
    assert [float(f) for *_, f in cells] == pytest.approx([1 / 6, 1 / 3, 1 / 3, 1 / 6])
    assert gaps == [(1, 1, 0, 2)]
    assert len(move_table(8).dr) == 8
    assert len(move_table(16).dr) == 16
    assert len(move_table(32).dr) == 32


def test_generated_kernels_are_up_to_date() -> None:
    from geodata.routing import _gen

    assert _gen.TARGET.read_text() == _gen.generate(), "run: python -m geodata.routing._gen"


def test_path_cost_hand_computed() -> None:
    cost = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    assert path_cost(cost, [[0, 0], [0, 2]]) == pytest.approx(0.5 * 1 + 2 + 0.5 * 3)
    assert path_cost(cost, [[0, 0], [1, 2]]) == pytest.approx(SQRT5 * (1 + 2 + 5 + 6) / 4)
    assert path_cost(cost, [[0, 0], [2, 2]], (2.0, 3.0)) == pytest.approx(math.hypot(4, 6) * (0.25 + 5 / 2 + 9 / 4))
    # along the edge between rows 0 and 1: charged the dearer side
    assert path_cost(cost, [[0.5, 0], [0.5, 2]]) == pytest.approx(0.5 * 4 + 5 + 0.5 * 6)
    walls = cost.copy()
    walls[0, 1] = np.nan
    assert path_cost(walls, [[0, 0], [1, 1]]) == pytest.approx(SQRT2 * 3)  # touches the wall's corner only
    walls[1, 0] = np.inf
    assert path_cost(walls, [[0, 0], [1, 1]]) == math.inf  # diagonal gap between two walls
    assert path_cost(walls, [[0, 0], [0, 2]]) == math.inf
    assert path_cost(cost, [[0, 0], [0, 3]]) == math.inf  # leaves the grid


def test_uniform_diagonal_is_straight() -> None:
    r = least_cost_path(np.ones((5, 5)), (0, 0), (4, 4))
    np.testing.assert_allclose(r.path, [[0, 0], [4, 4]])
    assert r.cost == pytest.approx(4 * SQRT2, rel=1e-12)
    assert r.length_m == pytest.approx(4 * SQRT2, rel=1e-12)


def test_uniform_knight_direction_anisotropic_cells() -> None:
    r = least_cost_path(np.full((5, 5), 2.0), (0, 0), (4, 1), cell_size=(2.0, 1.0))
    np.testing.assert_allclose(r.path, [[0, 0], [4, 1]])
    assert r.cost == pytest.approx(2.0 * math.hypot(8, 1), rel=1e-12)


def test_centre_obstacle_5x5() -> None:
    cost = np.ones((5, 5))
    cost[2, 2] = 10.0
    d8 = least_cost_path(cost, (2, 0), (2, 4), method="d8", refine=False)
    assert d8.cost == pytest.approx(2 + 2 * SQRT2)  # (2,0)-(1,1)-(1,2)-(1,3)-(2,4)
    assert d8.cost == pytest.approx(ref8(cost, (2, 0), (2, 4)))
    d16 = least_cost_path(cost, (2, 0), (2, 4), refine=False)
    assert d16.cost == pytest.approx(2 * SQRT5)  # two knight moves via (1,2)
    r = least_cost_path(cost, (2, 0), (2, 4))
    # infimum: skirt the obstacle's corners, 2 * |(2,0)-(1.5,1.5)| + 1
    assert 2 * math.hypot(0.5, 1.5) + 1 - 1e-9 <= r.cost <= 2 * SQRT5
    assert r.cost == pytest.approx(path_cost(cost, r.path))


def test_wall_with_one_opening() -> None:
    cost = np.ones((5, 5))
    cost[:4, 2] = np.nan  # wall in column 2, open at row 4
    r = least_cost_path(cost, (0, 0), (0, 4))
    assert r.cost >= 2 * math.hypot(3.5, 1.5) + 1 - 1e-9  # must pass through cell (4, 2)
    assert r.cost <= ref8(cost, (0, 0), (0, 4)) * (1 + 1e-12)
    assert_clear(cost, r.path)
    assert any(abs(p[0] - 4) <= 0.5 and abs(p[1] - 2) <= 0.5 for p in r.path)


def test_diagonal_gap_is_a_wall() -> None:
    cost = np.ones((5, 5))
    for i in range(5):
        cost[i, 4 - i] = np.nan  # anti-diagonal: cells touch only at corners
    with pytest.raises(GoalUnreachable) as exc:
        least_cost_path(cost, (0, 0), (4, 4))
    e = exc.value
    assert e.start_component != e.goal_component
    assert e.start_component_cells == 10
    assert e.goal_component_cells == 10
    assert "component" in str(e)
    assert "(row 0, col 0)" in str(e)
    assert math.isinf(ref8(cost, (0, 0), (4, 4)))


def test_every_direction_within_one_percent_on_uniform_surface() -> None:
    n, c, rad = 61, 30, 28
    cost = np.ones((n, n))
    for ang in np.arange(0, 360, 7.5):
        g = (round(c - rad * math.sin(math.radians(ang))), round(c + rad * math.cos(math.radians(ang))))
        r = least_cost_path(cost, (c, c), g)
        straight = math.hypot(g[0] - c, g[1] - c)
        assert r.length_m <= straight * 1.01, ang
        assert r.length_m == pytest.approx(straight, rel=1e-9), ang


def test_neighbourhoods_and_float32() -> None:
    rng = np.random.default_rng(1)
    cost = rng.uniform(1, 3, (20, 20))
    r8 = least_cost_path(cost, (0, 0), (19, 13), method="d8", refine=False)
    r16 = least_cost_path(cost, (0, 0), (19, 13), refine=False)
    r32 = least_cost_path(cost, (0, 0), (19, 13), method="d32", refine=False)
    assert r8.cost == pytest.approx(ref8(cost, (0, 0), (19, 13)), rel=1e-12)
    assert r32.cost <= r16.cost <= r8.cost
    f32 = least_cost_path(cost.astype(np.float32), (0, 0), (19, 13))
    assert f32.cost == pytest.approx(least_cost_path(cost, (0, 0), (19, 13)).cost, rel=1e-5)
    assert least_cost_path(cost, (3, 3), (3, 3)).cost == 0.0


def test_heuristic_does_not_change_the_optimum() -> None:
    rng = np.random.default_rng(2)
    cost = rng.uniform(0.5, 4, (30, 30))
    a = least_cost_path(cost, (2, 1), (27, 25), heuristic=True, refine=False)
    b = least_cost_path(cost, (2, 1), (27, 25), heuristic=False, refine=False)
    assert a.cost == pytest.approx(b.cost, rel=1e-12)
    assert a.cells_settled <= b.cells_settled


# ------------------------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------------------------
@st.composite
def grids(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[float, float]]:
    h = draw(st.integers(4, 12))
    w = draw(st.integers(4, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    p_wall = draw(st.sampled_from([0.0, 0.1, 0.25, 0.4]))
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0.2, 5.0, (h, w))
    cost[rng.random((h, w)) < p_wall] = np.nan
    s = (draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1)))
    g = (draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1)))
    cost[s] = rng.uniform(0.2, 5.0)
    cost[g] = rng.uniform(0.2, 5.0)
    cs = draw(st.sampled_from([(1.0, 1.0), (2.0, 1.0), (1.0, 3.0)]))
    return cost, s, g, cs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grids())
def test_route_properties(case: tuple) -> None:
    cost, s, g, cs = case
    ref = ref8(cost, s, g, cs)
    if math.isinf(ref):
        with pytest.raises(GoalUnreachable):
            least_cost_path(cost, s, g, cell_size=cs)
        return
    r = least_cost_path(cost, s, g, cell_size=cs)
    # starts and ends where asked
    np.testing.assert_array_equal(r.path[0], s)
    np.testing.assert_array_equal(r.path[-1], g)
    # connected graph path made of neighbourhood moves, through passable cells only
    moves = set(zip(move_table(16).dr.tolist(), move_table(16).dc.tolist(), strict=True))
    for a, b in zip(r.graph_path[:-1], r.graph_path[1:], strict=True):
        assert (int(b[0] - a[0]), int(b[1] - a[1])) in moves
    assert np.isfinite(cost[r.graph_path[:, 0], r.graph_path[:, 1]]).all()
    # the polyline is connected and clear: finite exact cost, never inside a wall
    assert r.cost == pytest.approx(path_cost(cost, r.path, cs), rel=1e-12)
    assert math.isfinite(r.cost)
    assert_clear(cost, r.path)
    # never worse than the 8-connected optimum, nor than its own graph path
    assert r.cost <= ref * (1 + 1e-9)
    assert r.cost <= r.graph_cost * (1 + 1e-12)
    d8 = least_cost_path(cost, s, g, cell_size=cs, method="d8", refine=False)
    assert d8.cost == pytest.approx(ref, rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(grids(), st.sampled_from([0.0, 0.05, 0.2]))
def test_corridor_contains_the_optimal_route(case: tuple, tol: float) -> None:
    cost, s, g, cs = case
    if math.isinf(ref8(cost, s, g, cs)):
        return
    cor = least_cost_corridor(cost, s, g, cell_size=cs, tolerance=tol)
    assert cor.mask[tuple(cor.route.graph_path.T)].all()
    assert cor.mask[s]
    assert cor.mask[g]
    assert not cor.mask[~np.isfinite(cost)].any()
    assert cor.route.cost <= cor.optimum * (1 + 1e-9)
    a = accumulated_cost(cost, s, cell_size=cs, dtype=np.float64)
    assert a[g] == pytest.approx(cor.optimum, rel=1e-9)


# ------------------------------------------------------------------------------------------------------------------
# accumulated cost, corridor, polygons
# ------------------------------------------------------------------------------------------------------------------
def test_accumulated_cost_hand_computed() -> None:
    cost = np.array([[1.0, 1.0, 3.0], [1.0, np.nan, 1.0]])
    a = accumulated_cost(cost, (0, 0), dtype=np.float64)
    assert a[0, 0] == 0
    assert a[0, 1] == pytest.approx(1.0)
    assert a[1, 0] == pytest.approx(1.0)
    assert a[0, 2] == pytest.approx(1.0 + 2.0)
    assert a[1, 2] == pytest.approx(1.0 + SQRT2)  # (0,1)-(1,2) diagonal touches the wall (1,1) in a corner only
    assert math.isinf(a[1, 1])
    assert a.dtype == np.float64
    both = accumulated_cost(cost, [(0, 0), (1, 2)])
    assert both[1, 2] == 0
    assert both.dtype == np.float32


def test_polygons_of_the_mask_window_equal_the_whole_grid_ones() -> None:
    """mask_to_polygons vectorises the True cells' bounding window only: the same polygons as the whole grid."""
    import shapely
    from affine import Affine
    from rasterio import features

    rng = np.random.default_rng(2)
    mask = np.zeros((80, 120), bool)
    mask[30:55, 40:90] = rng.random((25, 50)) < 0.7
    mask[60, 100] = True
    t = Affine(100.0, 0, 512_345.5, 0, -100.0, 4_601_234.25)
    got = mask_to_polygons(mask, t)
    m8 = mask.astype(np.uint8)
    want = [shapely.geometry.shape(g) for g, v in features.shapes(m8, mask=mask, transform=t, connectivity=4)]
    want.sort(key=lambda p: -p.area)
    assert len(got) == len(want) > 3
    for a, b in zip(got, want, strict=True):
        assert shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-6)
    assert mask_to_polygons(np.zeros((5, 5), bool), t) == []


def test_corridor_raster_and_polygons() -> None:
    from affine import Affine

    cost = np.ones((30, 40))
    cost[5:25, 18:22] = np.nan
    cor = least_cost_corridor(cost, (15, 2), (15, 37), cell_size=(10.0, 10.0), tolerance=0.05)
    assert cor.mask.any()
    assert cor.threshold == pytest.approx(1.05 * cor.optimum)
    assert cor.area_m2 == pytest.approx(cor.mask.sum() * 100.0)
    polys = cor.polygons()
    assert polys
    assert sum(p.area for p in polys) == pytest.approx(cor.mask.sum())
    t = Affine(10.0, 0, 500000.0, 0, -10.0, 4500000.0)
    mpolys = mask_to_polygons(cor.mask, t, cell_size=(10.0, 10.0))
    assert sum(p.area for p in mpolys) == pytest.approx(cor.mask.sum() * 100.0)
    assert mpolys[0].bounds[0] >= 500000.0
    assert mpolys[0].bounds[3] <= 4500000.0
    with pytest.raises(InvalidCellSize):
        mask_to_polygons(cor.mask, t, cell_size=(5.0, 10.0))
    wide = least_cost_corridor(cost, (15, 2), (15, 37), cell_size=(10.0, 10.0), tolerance=0.5)
    assert wide.mask.sum() > cor.mask.sum()
    assert (wide.mask | ~cor.mask).all()  # nested


def _whole_grid_corridor(cost: np.ndarray, s: tuple[int, int], g: tuple[int, int], cs: tuple, tol: float) -> tuple:
    """The corridor as two whole-grid searches give it (the former implementation): ``A + B`` in float32 as the
    corridor stores it, the optimum, and the mask before the optimal route's own cells are added."""
    a = accumulated_cost(cost, s, cell_size=cs, dtype=np.float32)
    b = accumulated_cost(cost, g, cell_size=cs, dtype=np.float64)
    through = (a.astype(np.float64) + b).astype(np.float32)
    optimum = float(b[s])
    return through, optimum, through <= np.float32((1.0 + tol) * optimum * (1.0 + 1e-6))


def _check_bounded_corridor(cost: np.ndarray, s: tuple[int, int], g: tuple[int, int], cs: tuple, tol: float) -> Any:
    """The bounded corridor's mask equals the whole-grid one cell for cell, its ``A + B`` equal on it, but for the
    rounding of A* keys (a search ordered by ``dist + h`` recovers ``dist`` by a subtraction: a few ulp) and so for
    cells within that rounding of the threshold; the only cells it adds are those of its optimal route (graph
    cells and the cells the refined route crosses)."""
    from geodata.routing import _kernels as K

    cor = least_cost_corridor(cost, s, g, cell_size=cs, tolerance=tol)
    through, optimum, ref = _whole_grid_corridor(cost, s, g, cs, tol)
    assert cor.optimum == optimum  # the goal's search is Dijkstra's, as before
    graph_mask = cor.through_cost <= np.float32(cor.threshold * (1.0 + 1e-6))
    edge = cor.threshold * (1.0 + 1e-6)
    ambiguous = np.abs(through.astype(np.float64) - edge) <= 1e-6 * edge
    assert not ((graph_mask != ref) & ~ambiguous).any()
    np.testing.assert_allclose(cor.through_cost[ref], through[ref], rtol=1e-6)
    assert not (cor.through_cost < through * (1.0 - 1e-6)).any()  # elsewhere +inf or an overestimate
    route_cells = np.zeros(cost.shape, np.uint8)
    K.polyline_cells(np.ascontiguousarray(cost, dtype=np.float64), cor.route.path, cs[0], cs[1], route_cells)
    route_cells[tuple(cor.route.graph_path.T)] = 1
    extra = cor.mask & ~graph_mask
    assert not (extra & ~route_cells.view(bool)).any()
    assert (cor.mask | ~graph_mask).all()
    assert cor.route.graph_cost == pytest.approx(optimum, rel=1e-9)
    return cor


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grids(), st.sampled_from([0.0, 0.05, 0.2, 1.0]))
def test_bounded_corridor_equals_the_whole_grid_corridor(case: tuple, tol: float) -> None:
    cost, s, g, cs = case
    if math.isinf(ref8(cost, s, g, cs)):
        return
    _check_bounded_corridor(cost, s, g, cs, tol)


@pytest.mark.parametrize("low", [0.2, 0.8])  # 0.8: A* pays, the first search runs A* past the goal
@pytest.mark.parametrize("tol", [0.0, 0.05, 0.3])
def test_bounded_corridor_on_a_large_grid_settles_a_fraction(low: float, tol: float) -> None:
    rng = np.random.default_rng(7)
    cost = rng.uniform(low, 1.2, (90, 120))
    cost[30:60, 50:54] = np.nan  # a wall with a gap below it
    cost[20:40, 70:100] = 1.0  # a uniform patch: exact ties between graph routes
    cost[rng.random(cost.shape) < 0.05] = np.nan
    s, g = (45, 30), (45, 80)
    cost[s] = cost[g] = 1.0
    cor = _check_bounded_corridor(cost, s, g, (10.0, 10.0), tol)
    passable = int(np.isfinite(cost).sum())
    # two whole-grid searches settle every passable cell twice; the bounded ones far fewer
    assert cor.route.cells_settled < (1.2 if tol < 0.3 else 1.6) * passable


# ------------------------------------------------------------------------------------------------------------------
# alternatives
# ------------------------------------------------------------------------------------------------------------------
def test_alternatives_are_distinct_and_ranked() -> None:
    cost = np.ones((40, 60))
    cost[8:32, 25:35] = np.nan  # an island: routes pass north or south of it
    cost[:, 10] += 0.0
    routes = alternative_routes(cost, (20, 2), (20, 57), cell_size=(5.0, 5.0), k=3, max_shared=0.5)
    assert 2 <= len(routes) <= 3
    assert [r.rank for r in routes] == list(range(len(routes)))
    costs = [r.cost for r in routes]
    assert costs == sorted(costs)
    assert routes[0].separation.shared_fraction == pytest.approx(1.0)
    sides = set()
    for r in routes:
        assert r.cost == pytest.approx(path_cost(cost, r.path, (5.0, 5.0)), rel=1e-12)
        assert_clear(cost, r.path)
        mid = r.path[np.argmin(np.abs(r.path[:, 1] - 30))]
        sides.add(bool(mid[0] < 20))
    assert sides == {True, False}
    for r in routes[1:]:
        assert r.separation.shared_fraction <= 0.5
        assert r.separation.hausdorff_m > 0
        assert r.separation.cost_ratio >= 1.0
    best = least_cost_path(cost, (20, 2), (20, 57), cell_size=(5.0, 5.0))
    assert routes[0].cost == pytest.approx(best.cost)


def test_alternatives_with_coarse_to_fine_rounds_find_both_sides_of_the_island() -> None:
    """The penalised rounds searched coarse-to-fine (as on grids above COARSE_CANDIDATE_CELLS): rank 0 is still the
    full optimum, every route is clear, scored exactly, and separated from the best."""
    from geodata.routing.alternatives import COARSE_CANDIDATE_CELLS, candidate_coarse_factor

    cost = np.ones((160, 240))
    cost[32:128, 100:140] = np.nan
    full = alternative_routes(cost, (80, 8), (80, 228), cell_size=(5.0, 5.0), k=3, coarse_factor=1)
    coarse = alternative_routes(cost, (80, 8), (80, 228), cell_size=(5.0, 5.0), k=3, coarse_factor=4)
    assert coarse[0].cost == pytest.approx(full[0].cost, rel=1e-12)
    assert len(coarse) >= 2
    sides = set()
    for r in coarse:
        assert r.cost == pytest.approx(path_cost(cost, r.path, (5.0, 5.0)), rel=1e-12)
        assert_clear(cost, r.path)
        sides.add(bool(r.path[np.argmin(np.abs(r.path[:, 1] - 120)), 0] < 80))
    assert sides == {True, False}
    assert all(r.separation.shared_fraction <= 0.5 for r in coarse[1:])
    assert [r.stats["candidate_coarse_factor"] for r in coarse[1:]] == [4] * (len(coarse) - 1)
    assert candidate_coarse_factor(COARSE_CANDIDATE_CELLS) == 1
    assert candidate_coarse_factor(4_000_000) == 3
    assert candidate_coarse_factor(25_000_000) == 7
    with pytest.raises(ValueError, match="coarse_factor"):
        alternative_routes(cost, (80, 8), (80, 228), k=2, coarse_factor=0)


def test_single_channel_gives_fewer_alternatives() -> None:
    cost = np.full((9, 30), np.nan)
    cost[4, :] = 1.0
    routes = alternative_routes(cost, (4, 0), (4, 29), k=3, max_rounds=3)
    assert len(routes) == 1


# ------------------------------------------------------------------------------------------------------------------
# coarse-to-fine
# ------------------------------------------------------------------------------------------------------------------
def test_coarse_to_fine_reports_its_price() -> None:
    from scipy import ndimage

    rng = np.random.default_rng(7)
    z = ndimage.gaussian_filter(rng.standard_normal((160, 160)), 8)
    cost = 1.0 + np.exp(z / z.std())
    cost[60:100, 70:75] = np.nan
    r = least_cost_path(cost, (5, 5), (150, 150), coarse_factor=4, buffer_cells=8, verify_coarse=True)
    rep = r.stats["coarse"]
    assert r.method.startswith("d16+coarse4")
    assert rep["band_fraction"] < 1.0
    assert rep["fine_cells_settled"] < cost.size
    assert rep["excess"] == pytest.approx(r.cost / rep["full_cost"] - 1.0)
    assert -1e-9 <= rep["excess"] < 0.05
    assert_clear(cost, r.path)
    assert r.cost <= ref8(cost, (5, 5), (150, 150)) * (1 + 1e-9) or rep["excess"] > 0


def test_coarse_to_fine_widens_the_band_when_the_coarse_route_is_blocked() -> None:
    cost = np.ones((64, 64))
    cost[30:34, :] = np.nan
    cost[30:34, 2] = 1.0  # a one-cell slot, fine-scale only
    cost[31, 2] = np.nan
    cost[31, 3] = 1.0
    cost[30:34, 60] = 1.0  # the real passage far away
    r = least_cost_path(cost, (10, 5), (50, 5), coarse_factor=8, buffer_cells=2)
    assert_clear(cost, r.path)
    assert r.stats["coarse"]["retries"] >= 0
    full = least_cost_path(cost, (10, 5), (50, 5))
    assert r.cost >= full.cost * (1 - 1e-9)


# ------------------------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------------------------
def test_errors_name_the_input_and_the_fix() -> None:
    cost = np.ones((6, 7))
    with pytest.raises(PointOutsideGrid, match=r"start=\(row 6, col 0\) is outside the 6x7"):
        least_cost_path(cost, (6, 0), (1, 1))
    with pytest.raises(PointOutsideGrid, match="goal"):
        least_cost_path(cost, (0, 0), (1, -1))
    with pytest.raises(PointOutsideGrid, match="whole cell index"):
        least_cost_path(cost, (0.5, 0), (1, 1))
    walls = cost.copy()
    walls[2, 3] = np.nan
    with pytest.raises(PointImpassable, match=r"goal=\(row 2, col 3\).*nearest passable cell"):
        least_cost_path(walls, (0, 0), (2, 3))
    neg = cost.copy()
    neg[4, 5] = -2.0
    with pytest.raises(InvalidCostSurface, match=r"negative.*\(row 4, col 5\).*clip"):
        least_cost_path(neg, (0, 0), (1, 1))
    with pytest.raises(InvalidCostSurface, match="2-D"):
        least_cost_path(np.ones((2, 3, 3)), (0, 0), (1, 1))
    with pytest.raises(InvalidCostSurface, match="impassable"):
        least_cost_path(np.full((3, 3), np.nan), (0, 0), (1, 1))
    with pytest.raises(InvalidCellSize, match="3 values"):
        least_cost_path(cost, (0, 0), (1, 1), cell_size=(1.0, 1.0, 1.0))
    with pytest.raises(InvalidCellSize, match="positive"):
        least_cost_path(cost, (0, 0), (1, 1), cell_size=(0.0, 1.0))
    for exc in (GoalUnreachable, InvalidCellSize, InvalidCostSurface, PointImpassable, PointOutsideGrid):
        assert issubclass(exc, RoutingError)
        assert issubclass(exc, CorridorError)
        assert issubclass(exc, ValueError)
    with pytest.raises(PointImpassable):
        accumulated_cost(walls, (2, 3))
    with pytest.raises(GoalUnreachable):
        least_cost_corridor(np.array([[1.0, np.nan, 1.0]]), (0, 0), (0, 2))


def test_edge_running_segment_next_to_a_wall_is_blocked() -> None:
    cost = np.ones((3, 4))
    for wall in (np.nan, np.inf):
        c = cost.copy()
        c[1, 1] = wall  # below the edge row 0.5
        assert path_cost(c, [[0.5, 0.0], [0.5, 3.0]]) == math.inf
        c = cost.copy()
        c[0, 2] = wall  # above it
        assert path_cost(c, [[0.5, 0.0], [0.5, 3.0]]) == math.inf
        assert path_cost(c.T, [[0.0, 0.5], [3.0, 0.5]]) == math.inf
