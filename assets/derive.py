"""Derive stage: the cost surface, landfalls, the least-cost route, its near-optimal corridor and alternatives, and
the engineered route (alter courses, crossings) with its Route Position List and straight-line diagram.

Blocking checks on the engineered route stop publication when the route enters a hard exclusion, exceeds the slope
limit, leaves the allowed sectors or crosses a pipeline or cable below the minimum angle.
"""

import base64
from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.common import PARTITIONS, check_results, check_specs, metadata, scenario_of
from geodata import hazards as haz
from geodata import route, routing
from geodata.cost import CostSurface, allowed_sector_mask, build_cost_surface
from geodata.grid import Raster
from geodata.sld import figure_bytes as sld_bytes
from pipelines.resources import CorridorSettings


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def cost_surface(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    bathymetry: Raster,
    seabed_slope: Raster,
    sea_mask: Raster,
    hazards: Any,
    seabed_sectors: Any,
) -> dg.Output[CostSurface]:
    """Cost per metre of route in every cell (length, shallow and deep water, slope, hazard proximity, shipping
    lanes), with impassable cells for land, slope and depth limits, hard hazard buffers and foreign seabed sectors.
    Every term and barrier is kept so it can be published on its own (formulas in geodata/cost.py)."""
    sc = scenario_of(context, settings)
    rasters = haz.rasterize_hazards(hazards, bathymetry.grid)
    allowed = sc.boundaries.allowed_sectors or sorted({s.country for s in sc.landing_stations})
    surface = build_cost_surface(
        bathymetry,
        seabed_slope,
        sea_mask,
        sc.cost,
        sc.limits,
        hazard_soft=rasters.soft_by_kind,
        hazard_hard=rasters.hard_mask,
        allowed_sector=allowed_sector_mask(seabed_sectors, bathymetry.grid, allowed),
    )
    surface.attrs["allowed_sectors"] = allowed
    return dg.Output(surface, metadata=metadata({**surface.summary(), "allowed_sectors": allowed}))


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def landfalls(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    sea_mask: Raster,
    coastline: Any,
    cost_surface: CostSurface,
) -> dg.Output[Any]:
    """Shore ends of both landing stations: beach manhole, shore crossing and a straight approach leg normal to the
    coast, ending in a sea cell the route may use (where the grid route starts and ends)."""
    sc = scenario_of(context, settings)
    ends = route.plan_landfalls(sc, sea_mask, coastline.land(sc.area_of_interest.bounds), cost_surface)
    return dg.Output(ends, metadata=metadata({lf.station_name: lf.to_dict() for lf in ends}))


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def least_cost_route(
    context: dg.AssetExecutionContext, settings: CorridorSettings, cost_surface: CostSurface, landfalls: Any
) -> dg.Output[Any]:
    """The least-cost path between the two approach ends on the cost surface: a 16-neighbour exact-cost search with
    a provably safe any-angle refinement (never costlier than the 8-connected optimum; see geodata/routing)."""
    sc = scenario_of(context, settings)
    start, goal = route.approach_cells(cost_surface, landfalls)
    result = routing.least_cost_path(
        cost_surface.total, start, goal, cell_size=cost_surface.grid.res, method=sc.routing.method
    )
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
            }
        ),
    )


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def route_corridor(
    context: dg.AssetExecutionContext, settings: CorridorSettings, cost_surface: CostSurface, landfalls: Any
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


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def route_alternatives(
    context: dg.AssetExecutionContext, settings: CorridorSettings, cost_surface: CostSurface, landfalls: Any
) -> dg.Output[Any]:
    """k meaningfully different routes between the approach ends (routing.alternatives), ranked by cost, each with
    its cost and its separation from the best, as lines (EPSG:4326)."""
    sc = scenario_of(context, settings)
    start, goal = route.approach_cells(cost_surface, landfalls)
    results = routing.alternative_routes(
        cost_surface.total, start, goal, cell_size=cost_surface.grid.res, k=sc.routing.alternatives
    )
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


ROUTE_CHECKS = {
    "route_clear_of_hard_exclusions": "The route never enters an impassable cell (land, hazard buffer, depth limits) "
    "beyond its shore ends.",
    "route_within_slope_limit": "No cell the route crosses is steeper than limits.max_slope_deg.",
    "route_within_allowed_sectors": "The route stays in the allowed seabed sectors.",
    "crossing_angles": "Every pipeline or cable crossing meets the minimum crossing angle.",
}


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="derive",
    check_specs=[
        *check_specs("engineered_route", ROUTE_CHECKS),
        *check_specs(
            "engineered_route",
            {"leg_rules": "Legs meet the minimum length and maximum course change (a warning)."},
            blocking=False,
        ),
    ],
)
def engineered_route(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    least_cost_route: Any,
    landfalls: Any,
    cost_surface: CostSurface,
    hazards: Any,
    seabed_slope: Raster,
    seabed_sectors: Any,
) -> Iterator[Any]:
    """The cable route as it would be engineered: shore ends joined to the routed path, reduced to straight legs at
    alter-course points clear of every exclusion, crossings realigned to the minimum angle; checked (blocking)."""
    sc = scenario_of(context, settings)
    er = route.engineer_route(
        route.route_line(least_cost_route, cost_surface), landfalls, cost_surface, hazards, sc.engineering
    )
    allowed = cost_surface.attrs["allowed_sectors"]
    yield dg.Output(
        er,
        metadata=metadata(
            {
                "alter_courses": len(er.alter_courses),
                "crossings": len(er.crossings),
                "routed_cost": er.routed_cost,
                "final_cost": er.final_cost,
                "crossing_report": er.crossing_report.to_dict("records"),
                **er.stats,
            }
        ),
    )
    yield from check_results(
        route.check_engineered_route(er, cost_surface, seabed_slope, seabed_sectors, allowed, sc.limits, sc.engineering)
    )


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def route_position_list(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    engineered_route: Any,
    bathymetry: Raster,
    seabed_slope: Raster,
    seabed_sectors: Any,
    hazards: Any,
) -> dg.Output[Any]:
    """The Route Position List (one row per A/C and event, KP geodesic on WGS84 from the first beach manhole), KP
    points every kp_interval_m, the depth and slope profile every profile_interval_m, and the sector-crossing
    report."""
    sc = scenario_of(context, settings)
    out = route.build_deliverables(engineered_route, bathymetry, seabed_slope, seabed_sectors, hazards, sc.engineering)
    preview = out.rpl.drop(columns="geometry").head(40)
    return dg.Output(
        out, metadata=metadata({**out.summary(), "rpl_preview": dg.MetadataValue.md(preview.to_markdown(index=False))})
    )


@dg.asset(partitions_def=PARTITIONS, group_name="derive")
def straight_line_diagram(
    context: dg.AssetExecutionContext, settings: CorridorSettings, route_position_list: Any
) -> dg.Output[dict[str, bytes]]:
    """The straight-line diagram (PNG and PDF): depth against KP with events, cable types, sector crossings and
    hazard proximity along the track."""
    sc = scenario_of(context, settings)
    figure = route.draw_straight_line_diagram(route_position_list, sc)
    files = sld_bytes(figure)
    png = base64.b64encode(files["png"]).decode()
    return dg.Output(
        files,
        metadata={
            "diagram": dg.MetadataValue.md(f"![straight-line diagram](data:image/png;base64,{png})"),
            "png_bytes": len(files["png"]),
            "pdf_bytes": len(files["pdf"]),
        },
    )
