"""The alternatives' fast paths against the former whole-grid implementation (kept here as the reference): the
separation sampled with numpy and measured on an STRtree, the penalty rasterised in its window, the penalised
surface kept up to date window by window, and the optimum handed in by the caller. Each must give the routes the
whole-grid rounds give."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio import features

from geodata.routing import alternative_routes, least_cost_path, separation
from geodata.routing.alternatives import _Penalised, _zone
from geodata.routing.core import Separation, path_length, prepare, refine_path


# ------------------------------------------------------------------------------------------------------------------
# the former implementation
# ------------------------------------------------------------------------------------------------------------------
def _ref_line(path: np.ndarray, cs: tuple[float, float]) -> shapely.LineString:
    p = np.asarray(path, float)
    if len(p) == 1:
        p = np.vstack([p, p])
    return shapely.LineString(np.column_stack([p[:, 1] * cs[1], p[:, 0] * cs[0]]))


def _ref_samples(line: shapely.LineString, step: float) -> np.ndarray:
    n = max(2, int(np.ceil(line.length / step)) + 1)
    return shapely.line_interpolate_point(line, np.linspace(0.0, line.length, n))


def ref_separation(route: np.ndarray, best: np.ndarray, cs: tuple[float, float], share: float) -> Separation:
    a, b = _ref_line(route, cs), _ref_line(best, cs)
    step = 0.25 * min(cs)
    d_ab = shapely.distance(_ref_samples(a, step), b)
    d_ba = shapely.distance(_ref_samples(b, step), a)
    shared = float(np.mean(d_ab <= share)) if a.length > 0 else 1.0
    return Separation(float(max(d_ab.max(), d_ba.max())), float(np.mean(d_ab)), shared, share, 1.0)


def ref_penalise(pen: np.ndarray, path: np.ndarray, radius: float, factor: float) -> None:
    p = np.asarray(path, float)
    line = (
        shapely.LineString(np.column_stack([p[:, 1] + 0.5, p[:, 0] + 0.5]))
        if len(p) > 1
        else shapely.Point(p[0, 1] + 0.5, p[0, 0] + 0.5)
    )
    burn = features.rasterize(
        [(line.buffer(radius), 1)], out_shape=pen.shape, transform=Affine.identity(), fill=0, dtype=np.uint8,
        all_touched=True,
    ).view(bool)  # fmt: skip
    pen[burn] *= factor


def ref_alternatives(cost: np.ndarray, s: tuple, g: tuple, cs: tuple, k: int, f: int) -> list[np.ndarray]:
    """The former alternative_routes loop (whole-grid penalty, validation and block means every round)."""
    max_shared, penalty = 0.5, 0.5
    best = least_cost_path(cost, s, g, cell_size=cs)
    routes = [best.path]
    dist_cells = float(np.hypot(g[0] - s[0], g[1] - s[1]))
    radius = max(3.0, 0.02 * dist_cells)
    share = radius * min(cs)
    pen = np.array(cost, dtype=cost.dtype)
    factor = 1.0 + penalty
    ref_penalise(pen, best.path, radius, factor)
    surface = prepare(cost, cs)
    for _ in range(4 * k):
        if len(routes) >= k:
            break
        cand = least_cost_path(pen, s, g, cell_size=cs, coarse_factor=f if f > 1 else None)
        path, _, _ = refine_path(surface, cand.path)
        shared = max(ref_separation(path, r, cs, share).shared_fraction for r in routes)
        if shared <= max_shared:
            routes.append(path)
            ref_penalise(pen, path, radius, 1.0 + penalty)
        else:
            for r in routes:
                ref_penalise(pen, r, radius, 2.0)
            factor *= 2.0
    return routes


# ------------------------------------------------------------------------------------------------------------------
# pieces
# ------------------------------------------------------------------------------------------------------------------
@st.composite
def polylines(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1.0, 0.0, 1.0, 0.5, 2.0], size=(n, 2))
    p = np.cumsum(steps, axis=0) + 20.0
    if draw(st.booleans()):
        p = p + rng.uniform(-0.3, 0.3, p.shape)  # refined routes: fractional vertices
    return p


@settings(max_examples=200, deadline=None)
@given(polylines(), polylines(), st.sampled_from([(1.0, 1.0), (100.0, 100.0), (2.0, 3.0)]), st.floats(0.5, 8.0))
def test_separation_equals_the_shapely_reference(a: np.ndarray, b: np.ndarray, cs: tuple, share: float) -> None:
    got = separation(a, b, cs, share * min(cs))
    want = ref_separation(a, b, cs, share * min(cs))
    scale = max(cs) * 1e-9
    assert got.hausdorff_m == pytest.approx(want.hausdorff_m, abs=scale)
    assert got.mean_distance_m == pytest.approx(want.mean_distance_m, abs=scale)
    assert got.shared_fraction == want.shared_fraction


@settings(max_examples=200, deadline=None)
@given(polylines(), polylines())
def test_compiled_distances_are_geos_distances(a: np.ndarray, b: np.ndarray) -> None:
    from geodata.routing.alternatives import _distances

    line = b if len(b) > 1 else np.vstack([b, b])
    got = _distances(a, line)
    want = shapely.distance(shapely.points(a), shapely.LineString(line))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.mean(got == want) > 0.99  # the same formula: equal to the last bit but for a rare rounding


@settings(max_examples=200, deadline=None)
@given(polylines(), st.floats(0.5, 12.0), st.sampled_from([(45, 60), (12, 9)]))
def test_windowed_penalty_equals_the_whole_grid_one(path: np.ndarray, radius: float, shape: tuple) -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    cost[rng.random(shape) < 0.1] = np.nan
    a, b = cost.copy(), cost.copy()
    zone = _zone(path, radius, shape)
    if zone is not None:
        window, burn = zone
        a[window][burn] *= 1.5
    ref_penalise(b, path, radius, 1.5)
    np.testing.assert_array_equal(a, b)


def test_penalised_surface_stays_the_whole_grid_validation() -> None:
    """After every penalty the kept figures are those a whole-grid validation gives (minimum exactly, the A*
    decision), and the kept block means those recomputed from scratch, bit for bit."""
    from geodata.routing import _kernels as K

    rng = np.random.default_rng(11)
    cost = rng.uniform(1.0, 1.8, (70, 90)).astype(np.float32)
    cost[rng.random(cost.shape) < 0.05] = np.nan
    cost[40, 45] = 0.9  # the cheapest cell, penalised by the second route below
    surface = prepare(cost, (10.0, 10.0))
    pen = _Penalised(surface, 4)
    paths = [np.array([[5.0, 5.0], [60.0, 80.0]]), np.array([[40.0, 0.0], [40.0, 89.0]]), np.array([[3.0, 3.0]])]
    ref = cost.copy()
    for i, path in enumerate(paths * 3):
        pen.penalise(path, 4.0 + i, 1.5 if i % 2 else 2.0)
        ref_penalise(ref, path, 4.0 + i, 1.5 if i % 2 else 2.0)
        np.testing.assert_array_equal(pen.pen, ref)  # the zone's rows' spans only: the same cells scaled
        fresh = prepare(pen.pen, (10.0, 10.0))
        assert pen.surface.min_cost == fresh.min_cost
        assert pen.astar_pays() == fresh.astar_pays()
        assert pen.surface.mean_cost == pytest.approx(fresh.mean_cost, rel=1e-12)
        np.testing.assert_array_equal(pen.coarse, K.block_mean(pen.pen, 4))


def _ref_band(shape: tuple[int, int], origins: np.ndarray, f: int, half: int) -> np.ndarray:
    """mark_band_fine's band with every square marked whole (its former loop)."""
    band = np.zeros(shape, bool)

    def square(br: int, bc: int) -> None:
        band[max(0, br - half) : max(0, br + f + half), max(0, bc - half) : max(0, bc + f + half)] = True

    square(int(origins[0, 0]), int(origins[0, 1]))
    for k in range(1, len(origins)):
        steps = max(1, int(max(abs(origins[k, 0] - origins[k - 1, 0]), abs(origins[k, 1] - origins[k - 1, 1])) // f))
        for s in range(1, steps + 1):
            square(
                round(origins[k - 1, 0] + (origins[k, 0] - origins[k - 1, 0]) * s / steps),
                round(origins[k - 1, 1] + (origins[k, 1] - origins[k - 1, 1]) * s / steps),
            )
    return band


@settings(max_examples=200, deadline=None)
@given(polylines(), st.integers(2, 7), st.integers(1, 12), st.sampled_from([(45, 60), (12, 9), (80, 30)]))
def test_band_marking_equals_whole_squares(path: np.ndarray, f: int, half: int, shape: tuple) -> None:
    """Each square marks only what its predecessor left: the same band, the same count of newly flagged cells (a
    cell flagged before the call counted out)."""
    from geodata.routing import _kernels as K

    origins = np.floor(path - 20.0) * f + np.array([shape[0] // 2, shape[1] // 2])  # blocks, some off the grid
    rng = np.random.default_rng(int(path.size))
    state = np.where(rng.random(shape) < 0.05, K.ALLOWED, 0).astype(np.uint8)
    pre = state.view(bool).copy()
    n = K.mark_band_fine(state, origins.astype(np.float64), f, half, K.ALLOWED)
    want = _ref_band(shape, origins, f, half)
    np.testing.assert_array_equal(state != 0, want | pre)
    assert n == int(np.count_nonzero(want & ~pre))


def test_band_scratch_reused_gives_fresh_searches() -> None:
    """Coarse-to-fine searches on one BandScratch (windows of several shapes, slots left over from the last search)
    settle what fresh buffers settle: the same cells and report."""
    from geodata.routing.coarse import BandScratch, coarse_to_fine_cells
    from geodata.routing.core import table_for

    table = table_for("auto", None)
    scratch = BandScratch()
    for seed, (s, g) in enumerate(
        [((5, 5), (70, 100)), ((60, 3), (10, 110)), ((40, 50), (45, 60)), ((5, 5), (70, 100))]
    ):
        cost = np.random.default_rng(seed).uniform(0.5, 2.0, (80, 120)).astype(np.float32)
        cost[20:60, 55:60] = np.nan  # an island
        surface = prepare(cost, (10.0, 10.0))
        for half in (2, 6):
            got = coarse_to_fine_cells(surface, table, s, g, 4, half, scratch=scratch)
            want = coarse_to_fine_cells(surface, table, s, g, 4, half)
            np.testing.assert_array_equal(got[0], want[0])
            assert got[1] == want[1]
            assert {k: v for k, v in got[2].items() if "seconds" not in k} == {
                k: v for k, v in want[2].items() if "seconds" not in k
            }


def test_polish_once_per_candidate_equals_polishing_every_round() -> None:
    """A repeated candidate gets the refined path, cost and shared fraction a fresh polish gives (a new array each
    time), a route kept since is measured too, and the refinement runs once per distinct candidate."""
    from unittest import mock

    from geodata.routing import alternatives as A
    from geodata.routing.core import RouteResult

    cost = np.random.default_rng(4).uniform(0.5, 2.0, (60, 80)).astype(np.float32)
    surface = prepare(cost, (10.0, 10.0))
    cs, share = (10.0, 10.0), 30.0

    def kept(path: np.ndarray) -> RouteResult:
        r = least_cost_path(cost, (5, 5), (50, 70), cell_size=cs)
        r.path = path
        return r

    a = kept(np.array([[5.0, 5.0], [30.0, 20.0], [50.0, 70.0]]))
    b = kept(np.array([[5.0, 5.0], [10.0, 60.0], [50.0, 70.0]]))
    cands = [np.array([[5.0, 5.0], [20.0, 30.0], [35.0, 40.0], [50.0, 70.0]]), np.array([[5.0, 5.0], [50.0, 70.0]])]
    polish = A._Polish(surface, share)
    with mock.patch.object(A, "refine_path", wraps=A.refine_path) as refined:
        for kept_routes in [(a,), (a,), (a, b), (a, b)]:
            for cand in cands:
                path, c, shared = polish(cand.copy(), kept_routes)
                want, wc, _ = refine_path(surface, cand)
                np.testing.assert_array_equal(path, want)
                assert c == wc
                assert path is not polish(cand, kept_routes)[0]  # a fresh array each time
                assert shared == max(A.shared_fraction(want, r.path, cs, share) for r in kept_routes)
        assert refined.call_count == len(cands)


# ------------------------------------------------------------------------------------------------------------------
# whole
# ------------------------------------------------------------------------------------------------------------------
def _surface(seed: int, shape: tuple[int, int], low: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(low, 2.0, shape).astype(np.float32)
    cost[shape[0] // 4 : 3 * shape[0] // 4, shape[1] // 2 - 3 : shape[1] // 2 + 3] = np.nan  # an island
    cost[rng.random(shape) < 0.03] = np.nan
    return cost


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("f", [1, 3])
@pytest.mark.parametrize(("seed", "low", "k"), [(1, 0.3, 4), (2, 1.2, 4), (5, 0.8, 4), (2, 1.2, 6), (5, 0.8, 6)])
def test_alternatives_equal_the_whole_grid_rounds(seed: int, low: float, k: int, f: int, threads: int) -> None:
    """One thread, and two (each round's successor speculated on a second replica of the penalised surface)."""
    cost = _surface(seed, (60, 90), low)
    s, g = (30, 3), (30, 86)
    cost[s] = cost[g] = 1.0
    if k == 6:  # a channel: candidates get rejected, penalties double, the A* decision flips between rounds
        cost[:12, :] = np.nan
        cost[48:, :] = np.nan
    cs = (50.0, 50.0)
    want = ref_alternatives(cost, s, g, cs, k, f)
    got = alternative_routes(cost, s, g, cell_size=cs, k=k, coarse_factor=f, threads=threads)
    by_round = [got[0], *sorted(got[1:], key=lambda r: r.stats["round"])]
    assert len(got) == len(want) >= 2
    if k == 6 and f == 3:
        assert max(r.stats["round"] for r in got[1:]) > len(got) - 1  # some round was rejected
        assert len({r.stats["astar"] for r in got}) == 2
    for r, w in zip(by_round, want, strict=True):
        np.testing.assert_array_equal(r.path, w)
    # the given optimum is rank 0 and changes nothing
    best = least_cost_path(cost, s, g, cell_size=cs)
    again = alternative_routes(cost, s, g, cell_size=cs, k=k, coarse_factor=f, best=best, threads=threads)
    assert again[0] is best
    for r, w in zip(again, got, strict=True):
        np.testing.assert_array_equal(r.path, w.path)
        assert r.cost == w.cost
        assert r.length_m == pytest.approx(path_length(w.path, cs))


@pytest.mark.parametrize("f", [1, 3])
def test_speculative_rounds_are_the_one_thread_rounds(f: int) -> None:
    """Rounds rejected in a row (each speculation taken), then accepted (the speculation discarded, the spare
    replica copied): the same routes, rounds, penalty factors and A* decisions on two threads as on one."""
    cost = _surface(5, (60, 90), 0.8)
    s, g = (30, 3), (30, 86)
    cost[s] = cost[g] = 1.0
    cost[:12, :] = np.nan
    cost[48:, :] = np.nan
    one = alternative_routes(cost, s, g, cell_size=50.0, k=6, coarse_factor=f, threads=1, max_shared=0.3)
    two = alternative_routes(cost, s, g, cell_size=50.0, k=6, coarse_factor=f, threads=2, max_shared=0.3)
    rounds = sorted(r.stats["round"] for r in one[1:])
    gaps = np.diff([0, *rounds])
    assert 1 in gaps  # accepted in a row
    assert gaps.max() >= 3  # and after several rejections in a row
    assert len(one) < 6  # every round used: the last ones rejected
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a.path, b.path)
        assert a.cost == b.cost
        for key in ("round", "penalty_factor", "astar"):
            assert a.stats.get(key) == b.stats.get(key)
    with pytest.raises(ValueError, match="threads"):
        alternative_routes(cost, s, g, cell_size=50.0, k=2, threads=0)


def test_a_best_route_from_elsewhere_is_refused() -> None:
    cost = _surface(4, (40, 60), 0.5)
    s, g = (20, 2), (20, 57)
    cost[s] = cost[g] = 1.0
    other = cost.copy()
    other[:, 20:40] *= 3.0
    with pytest.raises(ValueError, match="another surface"):
        alternative_routes(cost, s, g, cell_size=10.0, k=2, best=least_cost_path(other, s, g, cell_size=10.0))
    with pytest.raises(ValueError, match="joins"):
        alternative_routes(cost, s, g, cell_size=10.0, k=2, best=least_cost_path(cost, s, (21, 57), cell_size=10.0))
    d8 = least_cost_path(cost, s, g, cell_size=10.0, method="d8")
    with pytest.raises(ValueError, match="method"):
        alternative_routes(cost, s, g, cell_size=10.0, k=2, best=d8)
    with pytest.raises(ValueError, match="cell size"):
        alternative_routes(cost, s, g, cell_size=10.0, k=2, best=least_cost_path(cost, s, g, cell_size=20.0))
