"""The scenario's weight sensitivity sweep, composed: approach cells, baseline route, perturbed samples, the fan-out
(:func:`geodata.sweep.run_sweep`, serial or on a dask client) and the result as a layer.

The per-sample work is :func:`geodata.routing.sweep.route_sample` (re-cost, route, corridor); this module only picks
its inputs from the scenario and the cost surface, so the Dagster asset stays thin and the sweep is testable without
Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geodata import routing
from geodata.cost import TERM_OF_WEIGHT, CostSurface
from geodata.engineering.compose import approach_cells
from geodata.engineering.landfall import Landfalls
from geodata.errors import ConfigError
from geodata.routing.sweep import (
    SweepRoute,
    WeightSweepInput,
    corridor_frequency,
    perturbed_samples,
    route_sample,
)
from geodata.scenario import Scenario
from geodata.sweep import SweepOutcome, run_sweep


@dataclass(frozen=True)
class WeightSweepResult:
    """The sweep's routes as a layer (one row per sample, EPSG:4326), the corridor frequency and how it ran."""

    routes: gpd.GeoDataFrame
    frequency: np.ndarray
    """uint16: in how many samples' corridors each cell lies."""
    retried: int
    where: str
    wall_s: float

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
        }


def sweep_input(scenario: Scenario, surface: CostSurface, ends: Landfalls) -> WeightSweepInput:
    """The shared input of the scenario's sweep: the surface's terms and barriers, the ends, the baseline route."""
    start, goal = approach_cells(surface, ends)
    baseline = routing.least_cost_path(
        surface.total, start, goal, cell_size=surface.grid.res, method=scenario.routing.method
    )
    return WeightSweepInput(
        terms=surface.term_arrays(),
        blocked=surface.impassable,
        start=start,
        goal=goal,
        cell_size=surface.grid.res,
        tolerance=scenario.routing.corridor_tolerance,
        method=scenario.routing.method,
        baseline=baseline.path,
        share_distance_m=scenario.routing.survey_corridor_width_m / 2,
    )


def weight_sweep(
    scenario: Scenario, surface: CostSurface, ends: Landfalls, *, client: Any | None = None
) -> WeightSweepResult:
    """Run ``scenario.sweep`` (see :class:`~geodata.scenario.WeightSweep`) serially, or on the dask ``client``."""
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
    outcome = run_sweep(route_sample, samples, shared=sweep_input(scenario, surface, ends), client=client)
    return WeightSweepResult(
        routes=sweep_layer(outcome, surface, scenario, list(sweep.weights)),
        frequency=corridor_frequency(outcome.results, surface.total.shape),
        retried=outcome.retried,
        where=outcome.where,
        wall_s=outcome.wall_s,
    )


def sweep_layer(
    outcome: SweepOutcome[SweepRoute], surface: CostSurface, scenario: Scenario, swept: list[str]
) -> gpd.GeoDataFrame:
    """One row per sample: the ``swept`` weights (the scenario's times the factor), cost, length, corridor size,
    separation from the baseline route and the baseline's regret, and the route line (EPSG:4326)."""
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
            "geometry": shapely.LineString(routing.path_xy(res.path, surface.grid.transform)),
        }
        rows.append(row)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=surface.grid.crs).to_crs(4326)
