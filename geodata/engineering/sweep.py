"""The scenario's weight sensitivity sweep, composed: approach cells, baseline route, perturbed samples, the fan-out
(:func:`geodata.sweep.run_sweep`, serial or on a dask client) and the result as a layer.

The per-sample work is :func:`geodata.routing.sweep.route_sample` (re-cost, route, corridor); this module only picks
its inputs from the scenario and the cost surface, so the Dagster asset stays thin and the sweep is testable without
Dagster.

**The sweep grid.** A sample re-solves three whole searches (its route and the two accumulated-cost searches of its
corridor), so on the analysis grid a sweep costs ``3 x samples`` routing steps (at 100 m, 25 M cells, minutes per
sample). The weights it perturbs are whole-surface factors, and what it reports (how far the route moves, its
corridor, the baseline's regret) is measured in kilometres, so the samples are solved on the analysis grid coarsened
by the largest whole factor ``f`` whose cell is at most ``sweep.resolution_m`` (500 m by default, the Monte Carlo's
scale; factor 1, the analysis grid unchanged, at 1 km; null: always the analysis grid): each term is the mean of its
passable cells in the ``f x f`` block, a block is impassable only when all its cells are (as in the routing's
coarse-to-fine search: a narrow passage stays open), and the baseline route is re-solved on that grid so that every
sample is compared with a route of its own grid. The corridor frequency is on the sweep grid
(:attr:`WeightSweepResult.grid`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine

from geodata import routing
from geodata.cost import TERM_OF_WEIGHT, CostSurface
from geodata.engineering.compose import approach_cells
from geodata.engineering.landfall import Landfalls
from geodata.engineering.montecarlo import block_reduce
from geodata.errors import ConfigError
from geodata.grid import GeoGrid
from geodata.routing.sweep import (
    SweepRoute,
    WeightSweepInput,
    corridor_frequency,
    perturbed_samples,
    route_sample,
)
from geodata.scenario import Scenario
from geodata.sweep import SweepOutcome, local_threads, run_sweep


@dataclass(frozen=True)
class WeightSweepResult:
    """The sweep's routes as a layer (one row per sample, EPSG:4326), the corridor frequency and how it ran."""

    routes: gpd.GeoDataFrame
    frequency: np.ndarray
    """uint16: in how many samples' corridors each cell of :attr:`grid` lies."""
    retried: int
    where: str
    wall_s: float
    grid: GeoGrid | None = None
    """The sweep grid (:func:`sweep_grid`) the samples were solved on and :attr:`frequency` is on."""

    def summary(self) -> dict[str, Any]:
        n = len(self.routes)
        cost = self.routes["cost"]
        return {
            "samples": n,
            "where": self.where,
            "retried": self.retried,
            "wall_s": round(self.wall_s, 3),
            "cost_min": round(float(cost.min()), 1),
            "cost_max": round(float(cost.max()), 1),
            "hausdorff_km_max": round(float(self.routes["hausdorff_km"].max()), 3),
            "baseline_regret_pct_max": round(float(self.routes["baseline_regret_pct"].max()), 4),
            "corridor_cells_in_every_sample": int((self.frequency == n).sum()),
            "corridor_cells_in_any_sample": int((self.frequency > 0).sum()),
            **({"sweep_cell_m": round(max(self.grid.res), 1)} if self.grid is not None else {}),
        }


def sweep_factor(grid: GeoGrid, resolution_m: float | None) -> int:
    """Analysis cells per sweep cell along each axis: the largest whole factor whose cell is at most
    ``resolution_m``, at least 1 (``resolution_m`` None: 1)."""
    if resolution_m is None:
        return 1
    return max(1, math.floor(resolution_m / max(grid.res) + 1e-9))


def sweep_grid(grid: GeoGrid, resolution_m: float | None) -> GeoGrid:
    """The grid the samples are solved on: ``grid`` coarsened by :func:`sweep_factor`, same origin."""
    f = sweep_factor(grid, resolution_m)
    if f == 1:
        return grid
    shape = (-(-grid.shape[0] // f), -(-grid.shape[1] // f))
    return GeoGrid(grid.crs, grid.transform @ Affine.scale(f), shape)


def coarse_terms(surface: CostSurface, f: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The surface's terms on the ``f`` times coarser grid (each the mean of its passable cells in the block) and
    the blocked mask there (blocks with no passable cell); ``f`` 1: the surface's own. Works a strip at a time
    (:func:`geodata.engineering.montecarlo.block_reduce`): no whole-grid temporary per term."""
    if f == 1:
        return surface.term_arrays(), surface.impassable
    passable = _Rows(lambda rows: np.isfinite(surface.total[rows]), surface.total.shape)
    count = block_reduce(passable, f, "sum")  # type: ignore[arg-type]
    blocked = count == 0
    terms = {}
    for name in surface.terms:
        part = _Rows(_passable_part(surface, name), surface.total.shape)
        total = block_reduce(part, f, "sum")  # type: ignore[arg-type]
        terms[name] = np.where(blocked, 0.0, total / np.maximum(count, 1))
    return terms, blocked


def _passable_part(surface: CostSurface, name: str) -> Callable[[slice], np.ndarray]:
    """Rows of the surface's term ``name`` (read from its store a strip at a time), 0 where impassable."""
    return lambda rows: np.where(np.isfinite(surface.total[rows]), surface.term(name, rows), 0.0)


class _Rows:
    """An array-like of ``shape`` whose row slices ``read(rows)`` computes (for :func:`block_reduce`)."""

    def __init__(self, read: Callable[[slice], np.ndarray], shape: tuple[int, ...]) -> None:
        self.read, self.shape = read, shape

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.read(rows)


def sweep_input(
    scenario: Scenario, surface: CostSurface, ends: Landfalls, grid: GeoGrid | None = None
) -> WeightSweepInput:
    """The shared input of the scenario's sweep on ``grid`` (:func:`sweep_grid`; None: the analysis grid): the
    surface's terms and barriers, the ends and the baseline route, all on that grid."""
    grid = grid or surface.grid
    f = round(grid.res[0] / surface.grid.res[0])
    start, goal = approach_cells(surface, ends)
    start, goal = (start[0] // f, start[1] // f), (goal[0] // f, goal[1] // f)
    terms, blocked = coarse_terms(surface, f)
    total = surface.total if f == 1 else np.where(blocked, np.inf, np.sum(list(terms.values()), axis=0))
    baseline = routing.least_cost_path(total, start, goal, cell_size=grid.res, method=scenario.routing.method)
    return WeightSweepInput(
        terms=terms,
        blocked=blocked,
        start=start,
        goal=goal,
        cell_size=grid.res,
        tolerance=scenario.routing.corridor_tolerance,
        method=scenario.routing.method,
        baseline=baseline.path,
        share_distance_m=scenario.routing.survey_corridor_width_m / 2,
    )


def weight_sweep(
    scenario: Scenario,
    surface: CostSurface,
    ends: Landfalls,
    *,
    client: Any | None = None,
    threads: int | None = None,
) -> WeightSweepResult:
    """Run ``scenario.sweep`` (see :class:`~geodata.scenario.WeightSweep`) here on ``threads`` threads (None:
    :func:`geodata.sweep.local_threads`; the searches are ``nogil`` kernels), or on the dask ``client``: the same
    samples either way."""
    sweep = scenario.sweep
    if sweep is None:
        raise ConfigError(
            f"scenario '{scenario.name}' has no sweep section; add e.g. `sweep: {{samples: 16}}` to run a weight sweep"
        )
    terms = [TERM_OF_WEIGHT[w] for w in sweep.weights]
    missing = sorted(t for t in terms if t not in surface.terms)
    if missing:
        raise ConfigError(
            f"sweep.weights perturb {missing}, which the cost surface does not hold; rebuild cost_surface"
        )
    samples = perturbed_samples(terms, sweep.samples, sweep.spread, sweep.seed)
    grid = sweep_grid(surface.grid, sweep.resolution_m)
    shared = sweep_input(scenario, surface, ends, grid)
    threads = local_threads() if threads is None else threads
    outcome = run_sweep(route_sample, samples, shared=shared, client=client, threads=threads)
    return WeightSweepResult(
        routes=sweep_layer(outcome, grid, scenario, list(sweep.weights)),
        frequency=corridor_frequency(outcome.results, grid.shape),
        retried=outcome.retried,
        where=outcome.where,
        wall_s=outcome.wall_s,
        grid=grid,
    )


def sweep_layer(
    outcome: SweepOutcome[SweepRoute], grid: CostSurface | GeoGrid, scenario: Scenario, swept: list[str]
) -> gpd.GeoDataFrame:
    """One row per sample: the ``swept`` weights (the scenario's times the factor), cost, length, corridor size,
    separation from the baseline route and the baseline's regret, and the route line (EPSG:4326). ``grid`` is the
    sweep grid the paths are on (a cost surface: its grid)."""
    grid = grid.grid if isinstance(grid, CostSurface) else grid
    weights = scenario.cost.model_dump()
    rows = []
    for res in outcome.results:
        row: dict[str, Any] = {"sample": res.index}
        for weight in swept:
            row[weight] = weights[weight] * res.factors[TERM_OF_WEIGHT[weight]]
        row |= {
            "cost": res.cost,
            "length_km": res.length_m / 1000.0,
            "corridor_cells": res.corridor_cells,
            "hausdorff_km": (res.hausdorff_m or 0.0) / 1000.0,
            "shared_pct": (res.shared_fraction if res.shared_fraction is not None else 1.0) * 100.0,
            "baseline_regret_pct": (res.baseline_regret or 0.0) * 100.0,
            "geometry": shapely.LineString(routing.path_xy(res.path, grid.transform)),
        }
        rows.append(row)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs).to_crs(4326)
