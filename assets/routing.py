"""Routing stage: the least-cost path between the landfalls' approach ends, its near-optimal corridor and k
meaningfully different alternatives."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.common import DEFERRED, check_results, check_specs, metadata, resolve, scenario_of
from assets.config import PARTITIONS, CorridorSettings
from geodata import routing
from geodata.boundaries import CaspianCoast
from geodata.cost import CostSurface
from geodata.engineering import compose as route
from geodata.engineering import refine
from geodata.engineering.landfall import Landfalls
from geodata.engineering.refine import RouteRefinement
from geodata.engineering.sweep import WeightSweepResult, weight_sweep


@dg.asset(partitions_def=PARTITIONS, group_name="routing")
def least_cost_route(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    cost_surface: CostSurface,
    landfalls: Landfalls,
    coastline: CaspianCoast,
) -> dg.Output[Any]:
    """The least-cost path between the two approach ends on the cost surface: a 16-neighbour exact-cost search with
    a provably safe any-angle refinement (never costlier than the 8-connected optimum; see geodata/routing),
    re-planned round land narrower than a cell (the coastline's polygons, geodata/engineering/land.py)."""
    sc = scenario_of(context, settings)
    replan = route.least_cost_route(
        cost_surface, landfalls, coastline.land(sc.area_of_interest.bounds), method=sc.routing.method
    )
    result = replan.result
    return dg.Output(
        result,
        metadata=metadata(
            {
                "cost": result.cost,
                "graph_cost": result.graph_cost,
                "length_km": result.length_m / 1000,
                "method": result.method,
                "cells_settled": result.cells_settled,
                "timings_s": result.timings,
                **replan.summary(),
            }
        ),
    )


@dg.asset(partitions_def=PARTITIONS, group_name="routing")
def route_corridor(
    context: dg.AssetExecutionContext, settings: CorridorSettings, cost_surface: CostSurface, landfalls: Landfalls
) -> dg.Output[Any]:
    """The least-cost corridor: cells whose best route through them costs at most (1 + routing.corridor_tolerance)
    times the optimum, from the accumulated-cost surfaces of both ends; as a raster mask and as polygons."""
    sc = scenario_of(context, settings)
    start, goal = route.approach_cells(cost_surface, landfalls)
    corridor = routing.least_cost_corridor(
        cost_surface.total, start, goal, cell_size=cost_surface.grid.res, tolerance=sc.routing.corridor_tolerance
    )
    result = route.corridor_polygons(corridor, cost_surface)
    return dg.Output(result, metadata=metadata(result.summary()))


@dg.asset(partitions_def=PARTITIONS, group_name="routing")
def route_alternatives(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    cost_surface: CostSurface,
    landfalls: Landfalls,
    least_cost_route: routing.RouteResult,
) -> dg.Output[Any]:
    """k meaningfully different routes between the approach ends (routing.alternatives), ranked by cost, each with
    its cost and its separation from the best, as lines (EPSG:4326). The best is least_cost_route when no land
    re-plan changed it (the same search, not run twice)."""
    sc = scenario_of(context, settings)
    start, goal = route.approach_cells(cost_surface, landfalls)
    results = routing.alternative_routes(
        cost_surface.total, start, goal, cell_size=cost_surface.grid.res, k=sc.routing.alternatives,
        best=route.unchanged_optimum(least_cost_route),
    )  # fmt: skip
    table = route.alternatives_layer(results, cost_surface)
    return dg.Output(
        table,
        metadata=metadata(
            {
                "routes": len(table),
                "table": dg.MetadataValue.md(table.drop(columns="geometry").to_markdown(index=False)),
            }
        ),
    )


SWEEP_INPUTS = ("cost_surface", "landfalls")
"""route_weight_sweep's inputs, both Deferred: read only with a `sweep:` section (without one the step loaded the
cost surface, 100 MB and 210 MB of sidecars to hash at 100 m, for nothing, in the routing window)."""


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="routing",
    output_required=False,
    ins={name: dg.AssetIn(metadata=DEFERRED) for name in SWEEP_INPUTS},
)
def route_weight_sweep(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    dask: dg.ResourceParam[Any],
    cost_surface: Any,
    landfalls: Any,
) -> Iterator[dg.Output[WeightSweepResult]]:
    """The scenario's weight sensitivity sweep (its `sweep:` section): the route and its corridor re-solved with the
    cost weights perturbed per seeded sample, as a table of routes (cost, length, separation from and regret of the
    baseline route) and how often each cell is in a sample's corridor. Runs on the dask scheduler named by
    CORRIDOR_DASK_SCHEDULER, serially without one; not materialised for a scenario without a `sweep:` section (its
    inputs, Deferred, are then not read)."""
    sc = scenario_of(context, settings)
    if sc.sweep is None:
        context.log.info(f"scenario '{sc.name}' has no sweep section: no weight sweep to run")
        return
    surface, ends = resolve(cost_surface), resolve(landfalls)
    with dask.client() as client:
        result = weight_sweep(sc, surface, ends, client=client)
    yield dg.Output(result, metadata=metadata(result.summary()))


REFINE_INPUTS = (
    "least_cost_route", "cost_surface", "landfalls", "bathymetry", "hazards", "seabed_sectors", "coastline",
)  # fmt: skip
"""refined_route's inputs, all Deferred: read only with a `survey:` section."""


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="routing",
    check_specs=check_specs(
        "refined_route",
        {"refined_no_costlier": "The refined route costs no more than the regional route on the same fine grid."},
    ),
    ins={name: dg.AssetIn(metadata=DEFERRED) for name in REFINE_INPUTS},
)
def refined_route(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    least_cost_route: Any,
    cost_surface: Any,
    landfalls: Any,
    bathymetry: Any,
    hazards: Any,
    seabed_sectors: Any,
    coastline: Any,
) -> Iterator[Any]:
    """The scenario's `survey:` section: the regional route refined on a fine grid inside a band of survey.buffer_m
    round it (survey depth where it exists, feathered into the regional surface; fine cost from geodata/cost.py),
    with its cost against the regional route on the same fine grid, the largest offset and the seam. Without a
    `survey:` section the value holds no route (engineered_route then takes the regional route) and no input is
    read (they are Deferred)."""
    sc = scenario_of(context, settings)
    if sc.survey is None:
        reason = "no survey section: engineered_route takes the regional route"
        yield dg.Output(RouteRefinement(None, reason), metadata={"refined": False, "reason": reason})
        yield dg.AssetCheckResult(
            check_name="refined_no_costlier", passed=True, metadata={"applies": "no survey section: not refined"}
        )
        return
    route_, surface, ends, depth, haz, sectors, coast = (
        resolve(v) for v in (least_cost_route, cost_surface, landfalls, bathymetry, hazards, seabed_sectors, coastline)
    )
    result = refine.refine_route(
        sc, route_, surface, ends, depth, haz, sectors, coast.land(sc.area_of_interest.bounds),
        memory_budget_bytes=settings.memory_budget_bytes,
    )  # fmt: skip
    yield dg.Output(RouteRefinement(result), metadata=metadata({"refined": True, **result.summary()}))
    yield from check_results([refine.check_refined_route(result)])
