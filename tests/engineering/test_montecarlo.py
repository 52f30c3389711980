"""Monte Carlo of the route (geodata.engineering.montecarlo) on synthetic surfaces with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString

from geodata import routing
from geodata.cost import build_cost_surface
from geodata.engineering import montecarlo as mc
from geodata.engineering.landfall import Landfall, assemble_route
from geodata.errors import ConfigError
from geodata.grid import GeoGrid, Raster
from geodata.hazards.raster import HazardRasters
from geodata.scenario import CostWeights, Limits, MonteCarlo, load_scenario, parse_scenario

CRS_UTM = CRS.from_epsg(32639)
RES = 1000.0


def _grid(rows: int = 41, cols: int = 61) -> GeoGrid:
    """A synthetic 1 km grid (EPSG:32639)."""
    return GeoGrid(CRS_UTM, Affine(RES, 0.0, 400_000.0, 0.0, -RES, 4_600_000.0), (rows, cols))


def _world(island: bool = True) -> tuple[GeoGrid, Raster, Raster, np.ndarray]:
    """Synthetic sea 100 m deep; with ``island`` a square of land in the middle that the route must pass on one side
    or the other at (nearly) equal cost."""
    grid = _grid()
    depth = Raster(np.full(grid.shape, 100.0, dtype="float32"), grid, float("nan"), {})
    sea = np.ones(grid.shape, dtype="uint8")
    if island:
        sea[14:27, 24:37] = 0
    return grid, depth, Raster(sea, grid, None, {}), sea


def _inputs(config: MonteCarlo, *, island: bool = True) -> tuple[mc.MonteCarloInputs, routing.RouteResult, GeoGrid]:
    grid, depth, sea_mask, _ = _world(island)
    weights, limits = CostWeights(), Limits()
    slope = Raster(np.zeros(grid.shape, dtype="float32"), grid, float("nan"), {})
    surface = build_cost_surface(depth, slope, sea_mask, weights, limits)
    start, goal = (20, 3), (20, 57)
    base = routing.least_cost_path(surface.total, start, goal, cell_size=grid.res)
    hazards = HazardRasters(np.zeros(grid.shape, bool), np.zeros(grid.shape, "float32"), {}, {}, {})
    shared = mc.monte_carlo_inputs(
        depth, sea_mask, hazards, surface, config, weights, limits,
        start=start, goal=goal, method="auto", design_path=base.path,
    )  # fmt: skip
    return shared, base, grid


def _design(base: routing.RouteResult, grid: GeoGrid) -> LineString:
    return LineString(routing.path_xy(base.path, grid.transform))


def _run(config: MonteCarlo, *, island: bool = True) -> tuple[mc.MonteCarloResult, routing.RouteResult, GeoGrid]:
    shared, base, grid = _inputs(config, island=island)
    result = mc.monte_carlo_route(
        shared, _design(base, grid), grid.crs, None, kp_interval_m=1000.0, corridor_tolerance=0.05
    )
    return result, base, grid


QUIET = MonteCarlo(
    realisations=4, depth_sigma_constant_m=0, depth_sigma_fraction=0, hazard_position_sigma_m=0, weight_range_fraction=0
)


def test_without_uncertainty_every_realisation_is_the_design_route() -> None:
    result, base, grid = _run(QUIET)
    on_route = np.zeros(grid.shape[0] * grid.shape[1], bool)
    on_route[mc.cells_crossed(base.path, grid.shape)] = True
    freq = result.frequency.data.ravel()
    assert np.all(freq[on_route] == 1.0)
    assert np.all(freq[~on_route] == 0.0)
    assert result.kp_spread["robust"].all()
    assert result.kp_spread["max_offset_m"].max() < 1.0
    assert list(result.robust_ranges["robust"]) == [True]
    rank0 = result.ranking.set_index("candidate").loc["rank_0"]
    assert rank0["cheapest_pct"] == 100.0
    assert abs(rank0["mean_excess_pct"]) < 1e-9
    assert result.stats["succeeded"] == 4
    assert len(result.routes) == 4


def test_uncertainty_splits_the_route_round_the_island_and_keeps_the_ends_robust() -> None:
    cfg = MonteCarlo(realisations=16, seed=3, depth_sigma_constant_m=40.0, correlation_length_m=8000.0)
    result, _, grid = _run(cfg)
    routes = [mc.line_to_cells(g, grid) for g in result.routes.to_crs(grid.crs).geometry]
    north = sum(float(np.mean(p[:, 0])) < 20 for p in routes)
    assert 0 < north < len(routes), "the island should be passed on both sides"
    spread = result.kp_spread
    ends = spread[(spread["kp_km"] < 2.0) | (spread["kp_km"] > spread["kp_km"].max() - 2.0)]
    assert ends["robust"].all()
    middle = spread[(spread["kp_km"] > 22.0) & (spread["kp_km"] < 34.0)]
    assert not middle["robust"].any()
    assert middle["p90_offset_m"].min() > cfg.robust_offset_m
    assert result.robust_ranges["robust"].tolist() == [True, False, True]
    assert 0.0 < result.frequency.data.max() <= 1.0
    assert result.frequency.data[20, 30] == 0.0  # on the island


def test_realisations_are_seeded_each_on_its_own() -> None:
    cfg = MonteCarlo(realisations=3, seed=11, depth_sigma_constant_m=30.0)
    shared, _, _ = _inputs(cfg)
    three = [mc.run_realisation(t, shared) for t in mc.realisation_tasks(cfg)]
    five = [mc.run_realisation(t, shared) for t in mc.realisation_tasks(cfg.model_copy(update={"realisations": 5}))]
    again = [mc.run_realisation(t, shared) for t in mc.realisation_tasks(cfg)]
    for a, b, c in zip(three, five[:3], again, strict=True):
        assert a.path is not None
        assert b.path is not None
        assert c.path is not None
        np.testing.assert_array_equal(a.path, b.path)
        np.testing.assert_array_equal(a.path, c.path)
        assert a.weights == b.weights
    assert three[0].weights != three[1].weights


def test_weights_are_drawn_within_their_range_and_base_is_fixed() -> None:
    cfg = MonteCarlo(realisations=2, weight_range_fraction=0.25)
    shared, _, _ = _inputs(cfg, island=False)
    w = CostWeights().model_dump()
    for i in range(20):
        _, drawn, _ = mc.perturbed_surface(shared, mc.RealisationTask(i, 5).rng())
        assert set(drawn) == set(mc.PERTURBED_WEIGHTS)
        for name, value in drawn.items():
            assert w[name] * 0.75 <= value <= w[name] * 1.25


def test_correlated_noise_has_unit_variance_and_the_gaussian_correlation() -> None:
    rng = np.random.default_rng(0)
    s = 4.0
    field = mc.correlated_noise(rng, (400, 400), (s, s))
    inner = field[40:-40, 40:-40]
    assert inner.std() == pytest.approx(1.0, abs=0.08)
    # filtered white noise with a Gaussian kernel of std s has correlation exp(-lag^2 / (4 s^2))
    lag = int(s)
    rho = np.corrcoef(inner[:, :-lag].ravel(), inner[:, lag:].ravel())[0, 1]
    assert rho == pytest.approx(np.exp(-(lag**2) / (4 * s**2)), abs=0.05)


def test_depth_sigma_is_the_s44_form_and_the_shore_does_not_move() -> None:
    cfg = MonteCarlo(depth_sigma_constant_m=0.5, depth_sigma_fraction=0.013)
    np.testing.assert_allclose(
        mc.depth_sigma_m(np.array([0.0, 100.0, -20.0]), cfg), [0.5, np.hypot(0.5, 1.3), np.hypot(0.5, 0.26)]
    )
    grid = _grid(30, 30)
    data = np.full(grid.shape, 5.0, dtype="float32")
    data[:, :5] = -10.0  # land stays land, water stays water
    depth = Raster(data, grid, float("nan"), {})
    big = MonteCarlo(depth_sigma_constant_m=50.0, correlation_length_m=1000.0)
    out = mc.perturbed_depth(depth, big, Limits(min_depth_m=0.0), np.random.default_rng(1)).data
    assert out[:, 5:].min() >= 0.0
    assert out[:, 5:].max() > 50.0
    assert (out[:, 5:] == 0.0).any()  # clipped at the shore's depth limit, not below it
    assert out[:, :5].std() > 10.0  # land heights are perturbed too (the sea mask decides land)


def test_cross_track_offsets_are_signed_to_starboard() -> None:
    design = LineString([(0.0, 0.0), (10_000.0, 0.0)])  # heading east: starboard is south
    stations = mc.KpStations(
        np.array([2.0, 5.0]),
        np.zeros((2, 2)),
        np.array([[2000.0, 0.0], [5000.0, 0.0]]),
        np.array([[1.0, 0.0]] * 2),
        np.zeros(2),
    )
    south = LineString([(0.0, -500.0), (10_000.0, -500.0)])
    north = LineString([(0.0, 300.0), (10_000.0, 300.0)])
    np.testing.assert_allclose(mc.cross_track_offsets(stations, south), [500.0, 500.0])
    np.testing.assert_allclose(mc.cross_track_offsets(stations, north), [-300.0, -300.0])
    assert design.length == 10_000.0


def test_cells_crossed_and_frequency() -> None:
    grid = _grid(6, 8)
    path = np.array([[2.0, 1.0], [2.0, 5.0]])
    assert sorted(mc.cells_crossed(path, grid.shape).tolist()) == [2 * 8 + c for c in range(1, 6)]
    freq = mc.passage_frequency([path, np.array([[2.0, 1.0], [4.0, 1.0]])], grid)
    assert freq.data[2, 1] == 1.0
    assert freq.data[2, 3] == 0.5
    assert freq.data[4, 1] == 0.5
    assert freq.data[0, 0] == 0.0


def test_landfalls_join_the_realisations_to_the_stations() -> None:
    cfg = QUIET.model_copy(update={"realisations": 2})
    shared, base, grid = _inputs(cfg)
    a = routing.path_xy(base.path[:1], grid.transform)[0]
    b = routing.path_xy(base.path[-1:], grid.transform)[0]
    (ax, ay), (bx, by) = a, b
    ends = (  # synthetic shore ends: 3 km legs due west of the start and due east of the goal
        Landfall("A", (ax - 3000.0, ay), (ax - 2000.0, ay), (ax - 1000.0, ay), (ax, ay), 270.0, 90.0, 90.0, CRS_UTM),
        Landfall("B", (bx + 3000.0, by), (bx + 2000.0, by), (bx + 1000.0, by), (bx, by), 90.0, 90.0, 90.0, CRS_UTM),
    )
    design = assemble_route(ends[0], _design(base, grid), ends[1])
    result = mc.monte_carlo_route(shared, design, grid.crs, ends, kp_interval_m=1000.0, corridor_tolerance=0.05)
    assert result.kp_spread["kp_km"].min() == 0.0
    assert result.kp_spread["max_offset_m"].max() < 1.0
    assert result.routes.to_crs(grid.crs).geometry.iloc[0].coords[0] == pytest.approx(ends[0].station_xy)


def test_robust_ranges_join_consecutive_kps() -> None:
    import pandas as pd

    spread = pd.DataFrame(
        {
            "kp_km": [0.0, 1.0, 2.0, 3.0, 4.0],
            "robust": [True, True, False, False, True],
            "within_pct": [100.0, 90.0, 20.0, 10.0, 95.0],
            "p90_offset_m": [10.0, 50.0, 4000.0, 6000.0, 20.0],
        }
    )
    ranges = mc.robust_ranges(spread)
    assert ranges[["kp_from_km", "kp_to_km", "robust"]].values.tolist() == [
        [0.0, 2.0, True],
        [2.0, 4.0, False],
        [4.0, 4.0, True],
    ]
    assert ranges["max_p90_offset_m"].tolist() == [50.0, 6000.0, 20.0]


def test_scenario_section_is_strict_with_defaults() -> None:
    sc = load_scenario("siyazan-aktau")
    assert sc.montecarlo.realisations >= 2
    assert sc.montecarlo.seed == MonteCarlo().seed
    data = sc.model_dump(mode="json")
    data["montecarlo"] = {"realisatons": 10}
    with pytest.raises(ConfigError, match="did you mean 'realisations'"):
        parse_scenario(data, "test.yaml")
    data["montecarlo"] = {"realisations": 1}
    with pytest.raises(ConfigError, match=r"montecarlo\.realisations"):
        parse_scenario(data, "test.yaml")


def test_spread_is_measured_around_the_routed_design_not_its_straightened_legs() -> None:
    """A design that runs 3 km to port of its routed path (as straight legs may) is no uncertainty: without any,
    every KP stays robust, and the design's own offset is reported apart."""
    shared, base, grid = _inputs(QUIET.model_copy(update={"realisations": 2}), island=False)
    routed = _design(base, grid)
    design = LineString(np.asarray(routed.coords) + np.array([0.0, 3000.0]))  # the route runs east: north is port
    result = mc.monte_carlo_route(shared, design, grid.crs, None, kp_interval_m=1000.0, corridor_tolerance=0.05)
    spread = result.kp_spread
    assert spread["robust"].all()
    assert spread["max_offset_m"].max() < 1.0
    np.testing.assert_allclose(spread["design_offset_m"], -3000.0, atol=1.0)
    assert result.stats["max_design_offset_m"] == pytest.approx(3000.0, abs=1.0)


def test_monte_carlo_grid_is_the_model_scale_never_finer_than_the_analysis_grid() -> None:
    cfg = MonteCarlo()  # hazard position sigma 500 m, robust offset 2 km: a 500 m Monte Carlo cell
    assert [mc.monte_carlo_factor(r, cfg) for r in (1000.0, 500.0, 250.0, 100.0, 50.0, 10.0)] == [1, 1, 2, 5, 10, 50]
    assert mc.monte_carlo_factor(100.0, cfg.model_copy(update={"hazard_position_sigma_m": 0.0})) == 5  # 2 km / 4
    assert mc.monte_carlo_factor(100.0, cfg.model_copy(update={"hazard_position_sigma_m": 200.0})) == 2
    grid = GeoGrid(CRS_UTM, Affine(100.0, 0.0, 400_000.0, 0.0, -100.0, 4_600_000.0), (23, 41))
    coarse = mc.monte_carlo_grid(grid, cfg)
    assert coarse.shape == (5, 9)
    assert coarse.res == (500.0, 500.0)
    assert coarse.transform.c == grid.transform.c
    assert coarse.transform.f == grid.transform.f


def test_block_reduce_covers_partial_edge_blocks() -> None:
    a = np.arange(7 * 5, dtype="float32").reshape(7, 5)
    sums = mc.block_reduce(a, 3, "sum")
    assert sums.shape == (3, 2)
    assert sums[0, 0] == a[:3, :3].sum()
    assert sums[2, 1] == a[6:, 3:].sum()
    mean, count = mc.block_mean(a, a >= 15, 3)
    assert count[0, 0] == 0
    assert np.isnan(mean[0, 0])
    assert mean[2, 1] == pytest.approx(a[6:, 3:].mean())
    hits = np.zeros((7, 5), bool)
    hits[6, 4] = True
    assert mc.block_reduce(hits, 3, "any").tolist() == [[False, False], [False, False], [False, True]]


def test_a_fine_grid_runs_on_the_monte_carlo_grid_and_reports_on_the_analysis_grid() -> None:
    """A 100 m sea with a square island north of the straight route: the realisations run on 500 m cells (factor 5),
    the frequency comes back on the 100 m grid, and without uncertainty every realisation follows the design route
    within a coarse cell."""
    f, res = 5, 100.0
    rows, cols = 41 * 2 * f // 2, 61 * f
    grid = GeoGrid(CRS_UTM, Affine(res, 0.0, 400_000.0, 0.0, -res, 4_600_000.0), (rows, cols))
    depth = Raster(np.full(grid.shape, 100.0, dtype="float32"), grid, float("nan"), {})
    sea = np.ones(grid.shape, dtype="uint8")
    sea[4 * f : 14 * f, 24 * f : 37 * f] = 0
    sea_mask = Raster(sea, grid, None, {})
    weights, limits = CostWeights(), Limits()
    slope = Raster(np.zeros(grid.shape, dtype="float32"), grid, float("nan"), {})
    surface = build_cost_surface(depth, slope, sea_mask, weights, limits)
    start, goal = (20 * f, 3 * f), (20 * f, 57 * f)
    base = routing.least_cost_path(surface.total, start, goal, cell_size=grid.res)
    cfg = QUIET.model_copy(update={"hazard_position_sigma_m": 500.0})
    coarse = mc.monte_carlo_grid(grid, cfg)
    hazards = HazardRasters(np.zeros(coarse.shape, bool), np.zeros(coarse.shape, "float32"), {}, {}, {})
    shared = mc.monte_carlo_inputs(
        depth, sea_mask, hazards, surface, cfg, weights, limits,
        start=start, goal=goal, method="auto", design_path=base.path,
    )  # fmt: skip
    assert shared.factor == f
    assert shared.depth.grid == coarse
    assert shared.sea_mask.data[8, 30] == 0  # the island's inside is land on the coarse grid too
    result = mc.monte_carlo_route(
        shared, _design(base, grid), grid.crs, None, kp_interval_m=1000.0, corridor_tolerance=0.05
    )
    assert result.frequency.grid == grid
    assert result.frequency.data.shape == grid.shape
    assert result.stats["succeeded"] == cfg.realisations
    assert result.stats["monte_carlo_factor"] == f
    assert result.kp_spread["max_offset_m"].max() <= f * res * 1.5  # within a coarse cell and a half
    on_route = mc.cells_crossed(base.path, grid.shape)
    assert float(np.mean(result.frequency.data.ravel()[on_route] == 1.0)) > 0.8


@pytest.mark.parametrize("order", [0, 1])
def test_shift_over_the_nonzero_window_equals_the_whole_grid_shift(order: int) -> None:
    from scipy import ndimage

    rng = np.random.default_rng(7)
    for _ in range(60):
        layer = np.zeros((40, 50), dtype="float32")
        r, c = (int(v) for v in rng.integers(0, (40, 50)))
        layer[max(0, r - 4) : r + 4, max(0, c - 6) : c + 3] = 1.0 + rng.random()  # touches the edges at times
        if order == 0:
            layer = layer > 0
        offset = (float(rng.normal(0, 5)), float(rng.normal(0, 5)))
        whole = ndimage.shift(layer.astype("float32"), offset, order=order, mode="constant", cval=0.0)
        np.testing.assert_array_equal(mc.shifted(layer, offset, order=order), whole)
    empty = np.zeros((10, 10), dtype=bool)
    assert mc.shifted(empty, (1.5, -2.0), order=0) is empty  # an empty layer is not moved at all
    assert mc.nonzero_window(empty, (1.0, 1.0)) is None
    one = np.zeros((30, 30), dtype="float32")
    one[10, 20] = 1.0
    assert mc.nonzero_window(one, (2.4, -0.5)) == (slice(5, 16), slice(17, 24))


def test_coarsen_inputs_in_strips_equals_one_strip(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    grid = _grid(53, 41)
    data = rng.normal(40.0, 30.0, grid.shape).astype("float32")
    data[rng.random(grid.shape) < 0.1] = np.nan
    data[5, 5] = -9999.0
    sea = (rng.random(grid.shape) < 0.6).astype("uint8")
    depth, sea_mask = Raster(data, grid, -9999.0, {}), Raster(sea, grid, None, {})
    coarse = GeoGrid(grid.crs, grid.transform * Affine.scale(4), (14, 11))
    whole = mc.coarsen_inputs(depth, sea_mask, coarse, 4)
    monkeypatch.setattr(mc, "BLOCK_STRIP_ROWS", 3)  # 14 coarse rows in 5 strips, the last one partial
    strips = mc.coarsen_inputs(depth, sea_mask, coarse, 4)
    np.testing.assert_array_equal(strips[0].data, whole[0].data)
    np.testing.assert_array_equal(strips[1].data, whole[1].data)
    block = data[0:4, 4:8]
    ok = np.isfinite(block) & (block != -9999.0) & (sea[0:4, 4:8] == 1)
    expected = block[ok].mean() if ok.any() else block[np.isfinite(block) & (block != -9999.0)].mean()
    assert whole[0].data[0, 1] == pytest.approx(expected, rel=1e-5)
    assert whole[1].data[0, 1] == int((sea[0:4, 4:8] == 1).any())


@pytest.mark.parametrize("order", [0, 1])
def test_compiled_move_of_a_layer_equals_scipy_shift(order: int) -> None:
    """The compiled hazard move (over the rows' non-zero spans, added into a total or blocking it) is
    ``scipy.ndimage.shift`` of the whole layer, edges included."""
    from scipy import ndimage

    from geodata.engineering import _mckernels as K

    rng = np.random.default_rng(8)
    for _ in range(80):
        layer = np.zeros((40, 50), dtype="float32")
        for _ in range(int(rng.integers(1, 4))):
            r, c = (int(v) for v in rng.integers(0, (40, 50)))
            layer[max(0, r - 4) : r + 4, max(0, c - 6) : c + 3] = (1.0 + rng.random(1)).astype("float32")
        layer[rng.random(layer.shape) < 0.05] = 0.0
        offset = (float(rng.normal(0, 5)), float(rng.normal(0, 5)))
        if rng.random() < 0.2:
            offset = (float(round(offset[0])), offset[1])  # whole-cell moves too
        whole = ndimage.shift(layer, offset, order=order, mode="constant", cval=0.0)
        total = rng.random(layer.shape).astype("float32")
        if order == 1:
            want = (total.astype(float) + 0.7 * whole.astype(float)).astype("float32")
            K.add_shifted(total, layer, *K.row_spans(layer), *offset, 0.7)
            np.testing.assert_allclose(total, want, rtol=2e-7, atol=0)
        else:
            mask = layer > 0
            want = np.where(ndimage.shift(mask.astype("float32"), offset, order=0) > 0.5, np.inf, total)
            K.block_shifted(total, mask, *K.row_spans(mask), *offset)
            np.testing.assert_array_equal(total, want)


def test_compiled_realisation_cost_equals_build_cost_surface() -> None:
    """A realisation's total as the compiled kernels compute it equals :func:`build_cost_surface` (the one cost
    definition) on the same perturbed depth, slope, moved hazards and weights: land, a foreign sector, missing depth,
    steep, shallow, deep and hazard cells included (float32 rounding apart)."""
    grid = _grid(60, 80)
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:60, 0:80]
    data = (300.0 + 250.0 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + rng.normal(0, 5, grid.shape)).astype("float32")
    data[:, :6] = -15.0  # a coast of land
    data[30:33, 40:44] = np.nan  # no depth
    data[50:, 60:] = 12.0  # a shallow bank
    data[5:9, 50:70] = 900.0  # a deep trough with steep flanks
    sea = np.ones(grid.shape, dtype="uint8")
    sea[:, :5] = 0
    depth, sea_mask = Raster(data, grid, float("nan"), {}), Raster(sea, grid, None, {})
    soft = {k: np.zeros(grid.shape, "float32") for k in ("cable", "shipping_lane", "wreck")}
    soft["cable"][:, 30:34] = 0.8
    soft["shipping_lane"][np.abs(yy - xx * 0.6 - 5) < 3] = 1.5
    soft["wreck"][40:46, 10:16] = 2.0
    hard = {"wreck": np.zeros(grid.shape, bool), "cable": np.zeros(grid.shape, bool)}
    hard["wreck"][42:44, 12:14] = True
    hard["cable"][:, 31:33] = True
    hazards = HazardRasters(hard["wreck"] | hard["cable"], sum(soft.values()), soft, hard, {})
    weights, limits = CostWeights(), Limits(max_slope_deg=20.0, min_depth_m=15.0, max_depth_m=800.0)
    slope = Raster(np.zeros(grid.shape, dtype="float32"), grid, float("nan"), {})
    allowed = np.ones(grid.shape, bool)
    allowed[:8, 70:] = False
    surface = build_cost_surface(depth, slope, sea_mask, weights, limits, allowed_sector=allowed)
    cfg = MonteCarlo(depth_sigma_constant_m=20.0, correlation_length_m=6000.0, hazard_position_sigma_m=1500.0)
    shared = mc.monte_carlo_inputs(
        depth, sea_mask, hazards, surface, cfg, weights, limits,
        start=(30, 10), goal=(30, 75), method="auto", design_path=np.array([[30.0, 10.0], [30.0, 75.0]]),
    )  # fmt: skip
    for i in range(6):
        reference, drawn, offsets = mc.perturbed_surface(shared, mc.RealisationTask(i, 9).rng())
        d = mc.draw(shared, mc.RealisationTask(i, 9).rng())
        assert (d.weights, d.offsets) == (drawn, offsets)
        fast = mc.perturbed_total(shared, d)
        blocked = ~np.isfinite(reference.total)
        np.testing.assert_array_equal(~np.isfinite(fast), blocked)
        np.testing.assert_allclose(fast[~blocked], reference.total[~blocked], rtol=1e-6)
        for reason in ("too_steep", "too_shallow", "too_deep", "hazard_exclusion", "foreign_sector", "nodata"):
            assert reference.barrier(reason).any(), reason  # every case is exercised
        for term in ("hazards", "shipping"):
            assert (reference.term(term) > 0).any(), term


def test_the_noise_lattice_is_coarser_than_the_grid_with_unit_variance_and_the_gaussian_correlation() -> None:
    """With a correlation of 20 cells the depth error is drawn on a lattice of 5-cell steps and interpolated; every
    cell keeps unit variance (over realisations) and the correlation ``exp(-lag^2 / (4 s^2))``."""
    s = 20.0
    rows = mc.lattice_axis(300, s)
    assert rows.step == pytest.approx(s / mc.LATTICE_NODES_PER_SIGMA)
    assert rows.nodes == 300 // 5 + 2
    fields = np.stack([mc.correlated_noise(np.random.default_rng(k), (60, 300), (s, s)) for k in range(300)])
    assert fields.dtype == np.float32
    var = fields.var(axis=0)
    assert var.mean() == pytest.approx(1.0, abs=0.03)
    assert np.abs(var - 1.0).max() < 0.35  # 300 draws per cell: sampling error of a variance ~ 0.08
    for lag in (5, 13, 20, 40):
        rho = np.mean(fields[:, :, :-lag] * fields[:, :, lag:])
        assert rho == pytest.approx(np.exp(-(lag**2) / (4 * s**2)), abs=0.03)


def test_frequency_refined_and_corridor_traced_on_the_coarse_grid_equal_the_fine_ones() -> None:
    """The passage frequency given on the analysis grid is each coarse cell's share on its fine cells (partial edge
    blocks cut), and the robust corridor traced on the coarse cells, clipped to the analysis grid, covers exactly
    the fine cells of the refined frequency above the share."""
    fine = _grid(40, 52)
    f = 3
    coarse_grid = GeoGrid(fine.crs, fine.transform @ Affine.scale(f), (14, 18))
    rng = np.random.default_rng(2)
    share = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=coarse_grid.shape).astype("float32")
    share[-1, :] = 1.0  # robust cells in the partial edge blocks
    share[:, -1] = 0.75
    coarse = Raster(share, coarse_grid, None, {"quantity": "passage_frequency"})
    refined = mc.refined_raster(coarse, fine, f)
    expected = np.repeat(np.repeat(share, f, axis=0)[: fine.shape[0]], f, axis=1)[:, : fine.shape[1]]
    np.testing.assert_array_equal(refined.data, expected)
    assert refined.grid == fine
    traced = mc.corridor_polygons(coarse, 0.5, within=fine).to_crs(fine.crs)
    reference = mc.corridor_polygons(refined, 0.5).to_crs(fine.crs)
    assert traced.union_all().symmetric_difference(reference.union_all()).area < 1.0  # m2, on 1 km cells
    assert traced["area_km2"].sum() == pytest.approx(reference["area_km2"].sum(), rel=1e-9)
    assert traced["area_km2"].sum() == pytest.approx(float((expected >= 0.5).sum()), rel=1e-9)  # 1 km2 cells


def test_realisations_are_the_same_on_threads_serially_after_pickling_and_on_a_dask_client() -> None:
    """Seed for seed: one thread, two threads, the inputs sent through pickle (as to a dask worker, their plan
    derived there or carried along) and an in-process dask cluster give the same realisations and summary."""
    import pickle

    from distributed import Client, LocalCluster

    cfg = MonteCarlo(realisations=6, seed=21, depth_sigma_constant_m=30.0, correlation_length_m=6000.0)
    shared, base, grid = _inputs(cfg)
    tasks = mc.realisation_tasks(cfg)
    assert "plan" not in vars(shared)
    fresh = pickle.loads(pickle.dumps(shared))  # noqa: S301  # our own value; its plan derived where it lands
    one = [mc.run_realisation(t, shared) for t in tasks]
    assert "plan" in vars(shared)
    carried = pickle.loads(pickle.dumps(shared))  # noqa: S301  # the plan derived before travels in the pickle
    assert "plan" in vars(carried)
    for other in (fresh, carried):
        for a, b in zip(one, [mc.run_realisation(t, other) for t in tasks], strict=True):
            assert a.path is not None
            assert b.path is not None
            np.testing.assert_array_equal(a.path, b.path)
            assert (a.cost, a.weights, a.hazard_offsets_m, a.candidate_costs) == (
                b.cost,
                b.weights,
                b.hazard_offsets_m,
                b.candidate_costs,
            )
    design = _design(base, grid)
    local = mc.monte_carlo_route(shared, design, grid.crs, None, kp_interval_m=1000.0, corridor_tolerance=0.05,
                                 threads=2)  # fmt: skip
    assert local.stats["where"] == "2 threads"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            remote = mc.monte_carlo_route(
                shared, design, grid.crs, None, kp_interval_m=1000.0, corridor_tolerance=0.05, client=client
            )
    assert remote.stats["where"] != local.stats["where"]
    np.testing.assert_array_equal(remote.frequency.data, local.frequency.data)
    assert remote.kp_spread.drop(columns="geometry").equals(local.kp_spread.drop(columns="geometry"))
    assert remote.ranking.equals(local.ranking)
    assert remote.routes.drop(columns="geometry").equals(local.routes.drop(columns="geometry"))


def test_a_hazard_table_is_rasterised_on_the_monte_carlo_grid_beside_the_coarsening() -> None:
    """monte_carlo_inputs with the hazard table (rasterised here while a second thread coarsens the depth, the sea
    mask and the allowed sectors) gives the inputs of the table rasterised first on the Monte Carlo grid."""
    import dataclasses

    import geopandas as gpd
    import shapely

    from geodata.hazards.raster import rasterize_hazards

    f, res = 5, 100.0
    grid = GeoGrid(CRS_UTM, Affine(res, 0.0, 400_000.0, 0.0, -res, 4_600_000.0), (205, 305))
    rng = np.random.default_rng(11)
    depth = Raster((100.0 + rng.normal(0, 8, grid.shape)).astype("float32"), grid, float("nan"), {})
    sea = np.ones(grid.shape, dtype="uint8")
    sea[20:70, 120:185] = 0
    sea_mask = Raster(sea, grid, None, {})
    allowed = np.ones(grid.shape, bool)
    allowed[:40, 250:] = False
    weights, limits = CostWeights(), Limits()
    slope = Raster(np.zeros(grid.shape, dtype="float32"), grid, float("nan"), {})
    surface = build_cost_surface(depth, slope, sea_mask, weights, limits, allowed_sector=allowed)
    x0, y0 = 400_000.0, 4_600_000.0 - 205 * res

    def row(kind: str, geom: object, buffer_m: float, soft: float, decay: float) -> dict:
        return {
            "hazard_id": f"{kind}-{id(geom)}", "kind": kind, "name": None, "source": "synthetic",
            "licence": "synthetic", "attribution": "", "magnitude": None, "remarks": None,
            "exclusion_buffer_m": buffer_m, "soft_cost": soft, "decay_m": decay, "crossing_min_angle_deg": None,
            "geometry": geom,
        }  # fmt: skip

    table = gpd.GeoDataFrame(
        [
            row("wreck", shapely.Point(x0 + 9_000, y0 + 6_000), 300.0, 1.0, 800.0),
            row("cable", shapely.LineString([(x0 + 15_000, y0), (x0 + 16_000, y0 + 20_500)]), 500.0, 2.0, 1000.0),
        ],
        geometry="geometry",
        crs=CRS_UTM,
    )  # SYNTHETIC
    cfg = QUIET.model_copy(update={"hazard_position_sigma_m": 500.0})
    kw = {"start": (100, 15), "goal": (100, 285), "method": "auto", "design_path": np.array([[100.0, 15], [100, 285]])}
    got = mc.monte_carlo_inputs(depth, sea_mask, table, surface, cfg, weights, limits, **kw)
    rasters = rasterize_hazards(table, mc.monte_carlo_grid(grid, cfg))
    want = mc.monte_carlo_inputs(depth, sea_mask, rasters, surface, cfg, weights, limits, **kw)
    assert got.factor == f
    assert got.allowed_sector is not None
    assert not got.allowed_sector.all()
    assert set(got.hazard_soft) == {"wreck", "cable"}
    for fld in dataclasses.fields(want):
        a, b = getattr(got, fld.name), getattr(want, fld.name)
        if isinstance(b, dict):
            assert a.keys() == b.keys(), fld.name
            for k in b:
                np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
        elif isinstance(b, Raster):
            np.testing.assert_array_equal(a.data, b.data)
            assert (a.grid, a.attrs) == (b.grid, b.attrs)
        elif isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, fld.name


@pytest.mark.parametrize(("shape", "f"), [((205, 305), 5), ((1031, 517), 4), ((7, 9), 3)])
def test_the_refined_frequency_file_holds_the_refined_array(tmp_path: Path, shape: tuple[int, int], f: int) -> None:
    """refined_raster_file (strips of tile rows, partial edge blocks) writes refined_raster's cells, and fine_cells
    counts its non-zero cells without the fine grid."""
    grid = GeoGrid(CRS_UTM, Affine(100.0, 0.0, 400_000.0, 0.0, -100.0, 4_600_000.0), shape)
    coarse_grid = GeoGrid(grid.crs, grid.transform @ Affine.scale(f), (-(-shape[0] // f), -(-shape[1] // f)))
    rng = np.random.default_rng(shape[0])
    values = (rng.integers(0, 5, coarse_grid.shape) / 4).astype("float32")
    coarse = Raster(values, coarse_grid, None, {"quantity": "passage_frequency", "realisations": 4})
    want = mc.refined_raster(coarse, grid, f)
    got = mc.refined_raster_file(coarse, grid, f, tmp_path / "frequency.tif")
    assert got.scratch
    assert not got.loaded
    assert got.attrs == want.attrs
    np.testing.assert_array_equal(np.asarray(got.data), want.data)
    for mask in (values > 0, values >= 0.5, np.zeros_like(values, dtype=bool)):
        refined = mc.refined_raster(Raster(mask.astype("float32"), coarse_grid, None, {}), grid, f).data
        assert mc.fine_cells(mask, grid, f) == int((refined != 0).sum())
