"""From cost surface to engineered cable route: landfalls, the least-cost path between them, straight legs at A/C
points, crossing angles, the crossings, zone limits and close approaches of the final route (its events) and the
blocking route checks; and the corridor and alternatives as layers.

Each function composes the single-concept modules of :mod:`geodata.engineering` (landfall, alter courses,
crossings, checks) and :mod:`geodata.routing` in the order a route engineer works, so the Dagster assets stay thin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from geodata import geodesy, routing
from geodata.checks import CheckResult
from geodata.cost import CostSurface
from geodata.engineering import alter_course, approaches, crossings, landfall
from geodata.engineering import checks as route_checks
from geodata.engineering import land as vector_land
from geodata.engineering import sectors as sector_report
from geodata.engineering.events import RouteEvent
from geodata.errors import LandingPointError
from geodata.geodesy import GEOD, transformer
from geodata.grid import Raster
from geodata.scenario import Engineering, Limits, Scenario


# -- landfalls and the routed path ---------------------------------------------------------------------------------
def plan_landfalls(
    scenario: Scenario, sea_mask: Raster, land: gpd.GeoDataFrame, surface: CostSurface
) -> landfall.Landfalls:
    """Shore ends of both landing stations; each approach leg ends in a cell the route may use."""
    eng = scenario.engineering
    blocked = surface.impassable  # one whole-grid pass for both stations
    out = []
    for station in scenario.landing_stations:
        out.append(
            landfall.plan_landfall(
                station,
                sea_mask,
                land,
                approach_m=eng.landfall_approach_m,
                max_deviation_deg=eng.landfall_max_deviation_deg,
                manhole_setback_m=eng.beach_manhole_setback_m,
                blocked=blocked,
            )
        )
    return (out[0], out[1])


def approach_cells(surface: CostSurface, ends: landfall.Landfalls) -> list[tuple[int, int]]:
    """The grid cells of the two approach ends (where the grid route starts and ends)."""
    cells = []
    for lf in ends:
        cell = surface.grid.cell_of(*lf.approach_end_xy)
        if cell is None:
            raise LandingPointError(
                f"the approach end of {lf.station_name} at {lf.approach_end_xy} lies outside the analysis grid; "
                "widen area_of_interest in the scenario"
            )
        cells.append(cell)
    return cells


def least_cost_route(
    surface: CostSurface, ends: landfall.Landfalls, land: gpd.GeoDataFrame | None, *, method: str = "auto"
) -> vector_land.LandReplan:
    """The least-cost path between the approach ends, re-planned round every piece of vector ``land`` (the
    coastline's polygons: spits and islands narrower than a cell) it would cross
    (:func:`geodata.engineering.land.route_clear_of_land`)."""
    start, goal = approach_cells(surface, ends)

    def search(cost: np.ndarray) -> routing.RouteResult:
        return routing.least_cost_path(cost, start, goal, cell_size=surface.grid.res, method=method)

    return vector_land.route_clear_of_land(
        surface.total, surface.grid, vector_land.land_geometry(land, surface.grid.crs), search
    )


def unchanged_optimum(result: routing.RouteResult) -> routing.RouteResult | None:
    """The least-cost route when it is the plain optimum of the cost surface (the default d16 search, refined, and
    no land re-plan closed a cell: :func:`geodata.routing.alternative_routes` takes it as its rank 0 instead of
    searching again), else None."""
    return result if result.stats.get("land_replans") == 0 and result.method == "d16+refine" else None


def route_line(result: routing.RouteResult, surface: CostSurface) -> LineString:
    """A routed grid path as a line in the analysis CRS."""
    return LineString(routing.path_xy(result.path, surface.grid.transform))


def kp_origin(first: landfall.Landfall, crs: CRS | str) -> tuple[float, float]:
    """KP 0 of a route: the beach manhole of its first landfall (WGS84 lon, lat)."""
    lon, lat = transformer(crs, "EPSG:4326").transform(*first.beach_manhole_xy)
    return (float(lon), float(lat))


# -- engineering -----------------------------------------------------------------------------------------------------
@dataclass
class EngineeredRoute:
    """The final cable route (analysis CRS), its shore ends, A/C points, crossings and what could not be met.

    ``crossings`` lists every crossing of a pipeline, cable, shipping lane or fault
    (:data:`geodata.engineering.crossings.REPORTED_KINDS`; only pipelines and cables have a minimum angle);
    ``zone_crossings`` the 2018 Convention zone limits crossed (None = zones not given);
    ``close_approaches`` the stretches within the required separation of an existing cable or pipeline
    (None = not measured). :meth:`events` gives them all as RPL events.
    """

    line: LineString
    crs: CRS
    landfalls: landfall.Landfalls
    alter_courses: list[alter_course.AlterCourse]
    leg_violations: list[str]
    crossings: gpd.GeoDataFrame
    crossing_report: pd.DataFrame
    routed_cost: float
    final_cost: float
    stats: dict[str, Any] = field(default_factory=dict)
    zone_crossings: gpd.GeoDataFrame | None = None
    close_approaches: gpd.GeoDataFrame | None = None

    def events(self) -> list[RouteEvent]:
        """The route's engineering events for the RPL: crossings (every kind), zone limits, close approaches."""
        return [*crossings.crossing_events(self.crossings), *self.zone_and_approach_events()]

    def zone_and_approach_events(self) -> list[RouteEvent]:
        """The RPL events of the zone limits crossed and the close approaches (the crossings are
        :func:`geodata.engineering.crossings.crossing_events` of ``crossings``)."""
        return [
            *sector_report.zone_events(self.zone_crossings),
            *approaches.approach_events(self.close_approaches),
        ]

    @property
    def line_lonlat(self) -> LineString:
        return geodesy.to_lonlat(self.line, self.crs)

    @property
    def kp_origin(self) -> tuple[float, float]:
        """KP 0: the first beach manhole (WGS84 lon, lat)."""
        return kp_origin(self.landfalls[0], self.crs)

    @property
    def shore_ends(self) -> BaseGeometry:
        return shapely.union_all([lf.shore_end() for lf in self.landfalls])


def engineer_route(
    routed: LineString,
    ends: landfall.Landfalls,
    surface: CostSurface,
    hazards: gpd.GeoDataFrame,
    engineering: Engineering,
    *,
    depth: Raster | None = None,
    zones: gpd.GeoDataFrame | None = None,
    land: gpd.GeoDataFrame | None = None,
) -> EngineeredRoute:
    """Join the shore ends to the routed path, reduce it to straight legs at A/C points that stay clear of every
    impassable cell, then realign crossings of pipelines and cables that are below the minimum angle; list every
    crossing (pipelines, cables, shipping lanes, faults), the 2018 Convention zone limits crossed (when ``zones``,
    the ``territorial_waters`` polygons, are given) and the close approaches to existing cables and pipelines (the
    depth term of the separation from ``depth``, water depth in m; None = the near-shore floor everywhere).

    With ``land`` (the coastline's land polygons), every straight leg and every realigned crossing is also tested
    against the vector land, so no step moves the route over a spit or island the grid does not resolve."""
    grid = surface.grid
    full = landfall.assemble_route(ends[0], routed, ends[1])
    is_clear = vector_land.all_clear(
        alter_course.mask_clearance(surface.impassable, grid),
        vector_land.land_clearance(vector_land.land_geometry(land, grid.crs)),
    )
    segment_cost = alter_course.grid_segment_cost(surface.total, grid)
    plan = alter_course.simplify_to_legs(
        full,
        is_clear,
        min_leg_length_m=engineering.min_leg_length_m,
        max_course_change_deg=engineering.max_course_change_deg,
        segment_cost=segment_cost,
        max_cost_increase=engineering.leg_max_cost_increase_fraction,
        keep=landfall.landfall_keep_indices(full),
    )
    lines = crossings.crossable_lines(hazards)
    origin = None  # KP 0 at the first landing station (the route's start), the RPL's KP basis
    line, report = crossings.enforce_crossing_angles(
        plan.line,
        lines,
        crs=grid.crs,
        min_angle_deg=engineering.min_crossing_angle_deg,
        is_clear=is_clear,
        min_leg_length_m=engineering.min_leg_length_m,
        max_course_change_deg=engineering.max_course_change_deg,
        kp_origin=origin,
    )
    found = crossings.find_crossings(
        line,
        crossings.crossable_lines(hazards, crossings.REPORTED_KINDS),
        crs=grid.crs,
        min_angle_deg=engineering.min_crossing_angle_deg,
        kp_origin=origin,
    )
    close = approaches.find_close_approaches(
        line,
        hazards,
        crs=grid.crs,
        depth=depth,
        min_separation_m=engineering.min_separation_m,
        depth_factor=engineering.separation_depth_factor,
        allow=engineering.allow_close_approach,
        kp_origin=origin,
        land=shapely.union_all([LineString([e.station_xy, e.beach_manhole_xy, e.shore_crossing_xy]) for e in ends]),
    )
    zone_points = (
        sector_report.zone_limit_crossings(geodesy.to_lonlat(line, grid.crs), zones, kp_origin=origin)
        if zones is not None
        else None
    )
    return EngineeredRoute(
        line=line,
        crs=grid.crs,
        landfalls=ends,
        alter_courses=alter_course.alter_courses(line)[2:-2],  # BMH and shore crossing are landfall events
        leg_violations=list(plan.violations),
        crossings=found,
        crossing_report=report,
        routed_cost=_marine_cost(shapely.get_coordinates(routed), segment_cost, shore_vertices=0),
        final_cost=_marine_cost(shapely.get_coordinates(line), segment_cost, shore_vertices=3),
        stats={"vertices_routed": len(full.coords), "vertices_final": len(line.coords)},
        zone_crossings=zone_points,
        close_approaches=close,
    )


def _marine_cost(coords: np.ndarray, segment_cost: Any, *, shore_vertices: int) -> float:
    """Integrated cost of a polyline between its approach ends (the shore-end legs cross land on purpose)."""
    marine = coords[shore_vertices : len(coords) - shore_vertices] if shore_vertices else coords
    return float(sum(segment_cost(*marine[i], *marine[i + 1]) for i in range(len(marine) - 1)))


def check_engineered_route(
    route: EngineeredRoute,
    surface: CostSurface,
    slope: Raster,
    sectors: gpd.GeoDataFrame,
    limits: Limits,
    engineering: Engineering,
    land: gpd.GeoDataFrame | None = None,
) -> list[CheckResult]:
    """The blocking checks of issue #5 (hard exclusions, slope limit, the surface's allowed sectors, crossing angles)
    and the separation from existing cables and pipelines (when the route's close approaches were measured), plus
    the leg rules (minimum leg length, maximum course change) as a non-blocking check."""
    results = route_checks.check_route(
        route.line,
        grid=surface.grid,
        hard_mask=surface.impassable,
        slope=slope,
        max_slope_deg=limits.max_slope_deg,
        sectors=sectors,
        allowed_countries=list(surface.allowed_sectors),
        crossings=route.crossings,
        min_angle_deg=engineering.min_crossing_angle_deg,
        exempt=route.shore_ends,
        profile_interval_m=engineering.profile_interval_m,
        approaches=route.close_approaches,
        allow_close_approach=engineering.allow_close_approach,
        min_separation_m=engineering.min_separation_m,
        separation_depth_factor=engineering.separation_depth_factor,
        land=vector_land.land_geometry(land, surface.grid.crs),
        land_sections=shapely.union_all(
            [LineString([e.station_xy, e.beach_manhole_xy, e.shore_crossing_xy]) for e in route.landfalls]
        ),
    )
    legs = CheckResult(
        "leg_rules",
        not route.leg_violations,
        "; ".join(route.leg_violations)
        or f"every leg >= {engineering.min_leg_length_m:.0f} m and every course change <= "
        f"{engineering.max_course_change_deg:.0f} deg",
        {"alter_courses": len(route.alter_courses)},
        blocking=False,
    )
    return [*results, legs]


# -- corridor and alternatives ---------------------------------------------------------------------------------------
@dataclass
class CorridorPolygons:
    """The near-optimal corridor as a raster mask on the analysis grid and as polygons (EPSG:4326)."""

    mask: Raster
    polygons: gpd.GeoDataFrame
    optimum: float
    tolerance: float

    def summary(self) -> dict[str, Any]:
        return {
            "optimum_cost": round(self.optimum, 1),
            "tolerance_pct": round(self.tolerance * 100, 2),
            "cells": int(self.mask.data.sum()),
            "area_km2": round(float(self.polygons["area_km2"].sum()), 1) if len(self.polygons) else 0.0,
            "polygons": len(self.polygons),
        }


def corridor_polygons(corridor: routing.CorridorResult, surface: CostSurface) -> CorridorPolygons:
    """Vectorise a routing corridor (``.mask``, ``.optimum``, ``.tolerance``) on the surface's grid."""
    grid = surface.grid
    mask = np.asarray(corridor.mask, dtype=bool)
    geoms = routing.mask_to_polygons(mask, grid.transform)
    frame = gpd.GeoDataFrame({"kind": ["near_optimal_band"] * len(geoms)}, geometry=geoms, crs=grid.crs).to_crs(4326)
    frame["area_km2"] = [abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in frame.geometry]
    raster = Raster(mask.astype("uint8"), grid, None, {"units": "1 = within tolerance of the optimum"})
    return CorridorPolygons(raster, frame, float(corridor.optimum), float(getattr(corridor, "tolerance", np.nan)))


def alternatives_layer(results: list[routing.RouteResult], surface: CostSurface) -> gpd.GeoDataFrame:
    """Ranked routes as lines (EPSG:4326) with cost, length and separation from the best (rank 0)."""
    rows = []
    best = results[0].cost if results else np.nan
    for i, res in enumerate(results):
        sep = res.separation
        rows.append(
            {
                "rank": getattr(res, "rank", i),
                "cost": res.cost,
                "cost_ratio": res.cost / best if best else np.nan,
                "length_km": res.length_m / 1000.0,
                "hausdorff_km": sep.hausdorff_m / 1000.0 if sep else 0.0,
                "mean_separation_km": sep.mean_distance_m / 1000.0 if sep else 0.0,
                "shared_pct": sep.shared_fraction * 100.0 if sep else 100.0,
                "geometry": route_line(res, surface),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=surface.grid.crs).to_crs(4326)
