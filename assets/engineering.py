"""Engineering stage: the landfalls the route starts and ends at, and the engineered route (straight legs at A/C
points, crossings realigned) with its blocking checks (hard exclusions, slope, sectors, crossing angles)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import geopandas as gpd

from assets.common import check_results, check_specs, metadata, scenario_of, scratch_file
from assets.config import PARTITIONS, CorridorSettings
from geodata.boundaries import CaspianCoast
from geodata.cost import CostSurface
from geodata.engineering import compose as route
from geodata.engineering import montecarlo as mc
from geodata.engineering.compose import EngineeredRoute
from geodata.engineering.landfall import Landfalls
from geodata.engineering.montecarlo import MonteCarloResult
from geodata.engineering.refine import RouteRefinement
from geodata.grid import Raster
from geodata.routing import RouteResult


@dg.asset(partitions_def=PARTITIONS, group_name="engineering")
def landfalls(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    sea_mask: Raster,
    coastline: CaspianCoast,
    cost_surface: CostSurface,
) -> dg.Output[Any]:
    """Shore ends of both landing stations: beach manhole, shore crossing and a straight approach leg normal to the
    coast, ending in a sea cell the route may use (where the grid route starts and ends)."""
    sc = scenario_of(context, settings)
    ends = route.plan_landfalls(sc, sea_mask, coastline.land(sc.area_of_interest.bounds), cost_surface)
    return dg.Output(ends, metadata=metadata({lf.station_name: lf.to_dict() for lf in ends}))


ROUTE_CHECKS = {
    "route_clear_of_hard_exclusions": "The route never enters an impassable cell (land, hazard buffer, depth limits) "
    "beyond its shore ends.",
    "route_clear_of_land": "Beyond its shore ends the route stays off the coastline's vector land polygons (spits, "
    "headlands and islands narrower than a grid cell included).",
    "route_within_slope_limit": "No cell the route crosses is steeper than limits.max_slope_deg.",
    "route_within_allowed_sectors": "The route stays in the allowed seabed sectors.",
    "crossing_angles": "Every pipeline or cable crossing meets the minimum crossing angle.",
    "separation_from_existing_infrastructure": "Away from its crossings, the route keeps max(engineering."
    "min_separation_m, engineering.separation_depth_factor x water depth) from every existing cable and pipeline "
    "not named in engineering.allow_close_approach.",
}


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="engineering",
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
    least_cost_route: RouteResult,
    refined_route: RouteRefinement,
    landfalls: Landfalls,
    cost_surface: CostSurface,
    hazards: gpd.GeoDataFrame,
    seabed_slope: Raster,
    seabed_sectors: gpd.GeoDataFrame,
    bathymetry: Raster,
    territorial_waters: gpd.GeoDataFrame,
    coastline: CaspianCoast,
) -> Iterator[Any]:
    """The cable route as it would be engineered: shore ends joined to the routed path, reduced to straight legs at
    alter-course points clear of every exclusion, crossings realigned to the minimum angle; its crossings (pipelines,
    cables, shipping lanes, faults), 2018 Convention zone limits and close approaches to existing cables and
    pipelines listed; checked (blocking). Every step is tested against the coastline's vector land as well as the
    cost surface's cells. With a `survey:` section the routed path is the refined route (refined_route)."""
    sc = scenario_of(context, settings)
    land = coastline.land(sc.area_of_interest.bounds)
    er = route.engineer_route(
        refined_route.routed_line(route.route_line(least_cost_route, cost_surface)),
        landfalls,
        cost_surface,
        hazards,
        sc.engineering,
        depth=bathymetry,
        zones=territorial_waters,
        land=land,
    )
    close = er.close_approaches if er.close_approaches is not None else gpd.GeoDataFrame()
    zones = er.zone_crossings if er.zone_crossings is not None else gpd.GeoDataFrame()
    yield dg.Output(
        er,
        metadata=metadata(
            {
                "alter_courses": len(er.alter_courses),
                "crossings": len(er.crossings),
                "crossings_by_kind": er.crossings["kind"].value_counts().to_dict() if len(er.crossings) else {},
                "zone_limits": len(zones),
                "close_approaches": close.drop(columns="geometry").to_dict("records") if len(close) else [],
                "routed_cost": er.routed_cost,
                "final_cost": er.final_cost,
                "crossing_report": er.crossing_report.to_dict("records"),
                **er.stats,
            }
        ),
    )
    yield from check_results(
        route.check_engineered_route(
            er, cost_surface, seabed_slope, seabed_sectors, sc.limits, sc.engineering, land=land
        )
    )


@dg.asset(partitions_def=PARTITIONS, group_name="engineering")
def route_robustness(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    dask: dg.ResourceParam[Any],
    engineered_route: EngineeredRoute,
    least_cost_route: RouteResult,
    route_alternatives: gpd.GeoDataFrame,
    cost_surface: CostSurface,
    bathymetry: Raster,
    sea_mask: Raster,
    hazards: gpd.GeoDataFrame,
) -> dg.Output[MonteCarloResult]:
    """Monte Carlo of the route under input uncertainty (scenario section `montecarlo`; model in
    geodata/engineering/montecarlo.py): bathymetry vertical error, hazard position error and cost weights drawn per
    realisation, re-costed and re-routed; passage frequency, robust corridor, per-KP lateral spread with the robust KP
    ranges, and the design route's rank among its alternatives on every realisation. Runs on the dask scheduler named
    by CORRIDOR_DASK_SCHEDULER, serially without one (same seeds, same answer)."""
    sc = scenario_of(context, settings)
    start, goal = route.approach_cells(cost_surface, engineered_route.landfalls)
    shared = mc.monte_carlo_inputs(
        bathymetry,
        sea_mask,
        hazards,  # rasterised on the Monte Carlo grid while a second thread coarsens the depth and sea mask
        cost_surface,
        sc.montecarlo,
        sc.cost,
        sc.limits,
        start=start,
        goal=goal,
        method=sc.routing.method,
        design_path=least_cost_route.path,
        alternatives=route_alternatives,
    )
    refined = shared.analysis_grid is not None  # the frequency on the analysis grid: a file the store moves
    with dask.client() as client:
        result = mc.monte_carlo_route(
            shared,
            engineered_route.line,
            engineered_route.crs,
            engineered_route.landfalls,
            kp_interval_m=sc.engineering.kp_interval_m,
            corridor_tolerance=sc.routing.corridor_tolerance,
            client=client,
            frequency_path=scratch_file(settings, "route_robustness_frequency") if refined else None,
        )
    table = result.robust_ranges.round(3).to_markdown(index=False)
    return dg.Output(result, metadata=metadata({**result.summary(), "robust_ranges": dg.MetadataValue.md(table)}))
