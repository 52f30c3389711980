"""Landfall: the shore end of a cable, from the landing station over the beach manhole to the sea.

Cables come ashore roughly at right angles to the coast: the surf zone is crossed by the shortest path, the cable
does not lie along the beach where waves and longshore drift work on it, and the beach manhole (BMH) sits just
above the shore. :func:`plan_landfall` finds, near the landing station, the shore point whose (smoothed) coast normal
gives a straight shore-end leg of ``approach_m`` into open water without touching land again (islands, spits); if
the normal is blocked it tries a fan of angles around it, up to ``max_deviation_deg``. The grid router then starts
at the seaward end of that leg (:attr:`Landfall.approach_end_xy`), and :func:`assemble_route` joins the pieces:
station -> BMH -> shore crossing -> approach end -> routed path -> ... -> station.

All coordinates are in the metric analysis CRS of the sea mask's grid; bearings here are grid bearings (clockwise
from grid north of that CRS). The RPL gives true bearings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point, box
from shapely.geometry.base import BaseGeometry

from geodata.engineering.events import BEACH_MANHOLE, LANDING, SHORE_CROSSING, RouteEvent
from geodata.errors import InputDataError, LandingPointError
from geodata.grid import Raster
from geodata.scenario import LandingStation

XY = tuple[float, float]


@dataclass(frozen=True)
class Landfall:
    """The planned shore end of one landing, in the analysis CRS (metres)."""

    station_name: str
    station_xy: XY
    beach_manhole_xy: XY
    shore_crossing_xy: XY
    approach_end_xy: XY
    coast_normal_deg: float
    approach_bearing_deg: float
    angle_to_coast_deg: float
    crs: Any

    @property
    def deviation_deg(self) -> float:
        """Angle between the shore-end leg and the coast normal (0 = perpendicular landing)."""
        return 90.0 - self.angle_to_coast_deg

    def shore_end(self) -> LineString:
        """station -> beach manhole -> shore crossing -> approach end."""
        return LineString([self.station_xy, self.beach_manhole_xy, self.shore_crossing_xy, self.approach_end_xy])

    def events(self) -> list[RouteEvent]:
        """Landing, beach manhole and shore crossing as RPL events (WGS84)."""
        from geodata.geodesy import to_lonlat

        ll = list(to_lonlat(self.shore_end(), self.crs).coords)
        return [
            RouteEvent(LANDING, self.station_name, ll[0][0], ll[0][1], "cable landing station"),
            RouteEvent(BEACH_MANHOLE, f"BMH {self.station_name}", ll[1][0], ll[1][1], "beach manhole"),
            RouteEvent(
                SHORE_CROSSING,
                f"Shore {self.station_name}",
                ll[2][0],
                ll[2][1],
                f"coastline crossed at {self.angle_to_coast_deg:.0f}° to the coast",
            ),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "station": self.station_name,
            "station_xy": list(self.station_xy),
            "beach_manhole_xy": list(self.beach_manhole_xy),
            "shore_crossing_xy": list(self.shore_crossing_xy),
            "approach_end_xy": list(self.approach_end_xy),
            "coast_normal_deg": round(self.coast_normal_deg, 1),
            "approach_bearing_deg": round(self.approach_bearing_deg, 1),
            "angle_to_coast_deg": round(self.angle_to_coast_deg, 1),
            "station_to_shore_m": round(math.dist(self.station_xy, self.shore_crossing_xy), 1),
        }


Landfalls = tuple[Landfall, Landfall]
"""The shore ends of a route: the first and the second landing station's."""


def _bearing(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _land_geometry(land: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry, crs: Any, window: BaseGeometry) -> Any:
    if isinstance(land, gpd.GeoDataFrame | gpd.GeoSeries):
        if land.crs is None:
            raise InputDataError("the land polygons have no CRS; set it (e.g. land.set_crs('EPSG:4326'))")
        frame = land.to_crs(crs) if not land.crs.equals(crs) else land
        geoms = frame.geometry.clip_by_rect(*window.bounds)
        geom = shapely.union_all(np.asarray(geoms[~geoms.is_empty].values))
    elif isinstance(land, BaseGeometry):
        geom = shapely.clip_by_rect(land, *window.bounds)
    else:
        raise InputDataError(f"land must be a GeoDataFrame or a shapely geometry in the analysis CRS, got {type(land)}")
    geom = shapely.make_valid(geom)
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys) if polys else shapely.Polygon()


def plan_landfall(
    station: LandingStation,
    sea_mask: Raster,
    land: gpd.GeoDataFrame | BaseGeometry,
    *,
    approach_m: float = 3000.0,
    max_deviation_deg: float = 30.0,
    manhole_setback_m: float = 100.0,
    search_radius_m: float = 20_000.0,
    smoothing_m: float = 3000.0,
    fan_step_deg: float = 5.0,
    deviation_penalty_m_per_deg: float = 50.0,
    blocked: np.ndarray | None = None,
) -> Landfall:
    """Plan the shore end of a landing: shore crossing, beach manhole and a straight approach leg normal to the coast.

    Parameters
    ----------
    station
        The landing station (WGS84).
    sea_mask
        uint8 raster of the analysis grid, 1 = sea; the approach leg must end in a sea cell.
    land
        Land polygons (GeoDataFrame in any CRS, or a shapely geometry in the analysis CRS).
    approach_m
        Length of the shore-end leg from the shore crossing seawards (``Engineering.landfall_approach_m``).
    max_deviation_deg
        Largest angle between the leg and the coast normal tried when the normal is blocked by land.
    manhole_setback_m
        Distance of the beach manhole inland of the shore crossing, along the leg (shortened on narrow land).
    search_radius_m
        Shore points farther than this from the station are not considered.
    smoothing_m
        Length of coastline over which its direction is taken (ignores small coves and groynes).
    fan_step_deg
        Angular step of the fan of trial legs.
    deviation_penalty_m_per_deg
        Trade-off between a nearer shore point and a more perpendicular landing: each degree of deviation from the
        normal counts as this many metres of extra distance from the station.
    blocked
        Optional boolean array of the grid (e.g. the routing hard mask): the leg's seaward end must not be blocked.

    Returns
    -------
    Landfall

    Raises
    ------
    LandingPointError
        When no shore point within ``search_radius_m`` gives a clear approach leg; the message says what to change.
    """
    grid = sea_mask.grid
    if blocked is not None and blocked.shape != grid.shape:
        raise InputDataError(f"blocked mask of shape {blocked.shape} does not match the sea mask grid {grid.shape}")
    if approach_m <= 0:
        raise LandingPointError(f"approach_m must be positive (engineering.landfall_approach_m), got {approach_m}")
    sx, sy = (float(v) for v in grid.lonlat_to_xy(station.lon_deg, station.lat_deg))
    margin = search_radius_m + approach_m + smoothing_m
    window = box(sx - margin, sy - margin, sx + margin, sy + margin)
    land_geom = _land_geometry(land, grid.crs, window)
    if land_geom.is_empty:
        raise LandingPointError(
            f"no land within {margin / 1000:.0f} km of landing station '{station.name}' ({station.lat_deg} N, "
            f"{station.lon_deg} E); check the station coordinates and that the land layer covers them"
        )
    shapely.prepare(land_geom)
    inner = box(sx - search_radius_m, sy - search_radius_m, sx + search_radius_m, sy + search_radius_m)
    coast = shapely.intersection(land_geom.boundary, window.buffer(-1.0))
    step = min(min(grid.res) / 10.0, 100.0)
    res = max(grid.res)

    def seaward_ok(x: float, y: float, ux: float, uy: float) -> bool:
        ex, ey = x + ux * approach_m, y + uy * approach_m
        cell = grid.cell_of(ex, ey)
        if cell is None or sea_mask.data[cell] != 1 or (blocked is not None and blocked[cell]):
            return False
        eps = min(5.0, approach_m / 100.0)
        leg = LineString([(x + ux * eps, y + uy * eps), (ex, ey)])
        return not land_geom.intersects(leg)

    candidates: list[tuple[float, float, float, float, float]] = []  # (dist to station, x, y, nx, ny)
    for part in getattr(coast, "geoms", [coast]):
        if part.is_empty or part.geom_type != "LineString" or part.length < step:
            continue
        n = int(part.length // step) + 1
        s = np.linspace(0.0, part.length, n)
        pts = shapely.line_interpolate_point(part, s)
        px, py = shapely.get_x(pts), shapely.get_y(pts)
        inside = shapely.contains_xy(inner, px, py)
        if not inside.any():
            continue
        half = min(smoothing_m / 2.0, part.length / 2.0)
        is_ring = part.is_ring
        for k in np.flatnonzero(inside):
            if is_ring:
                a = part.interpolate((s[k] - half) % part.length)
                b = part.interpolate((s[k] + half) % part.length)
            else:
                a = part.interpolate(max(s[k] - half, 0.0))
                b = part.interpolate(min(s[k] + half, part.length))
            tx, ty = b.x - a.x, b.y - a.y
            norm = math.hypot(tx, ty)
            if norm == 0:
                continue
            tx, ty = tx / norm, ty / norm
            nx, ny = ty, -tx  # one of the two normals; pick the seaward one
            probe = min(50.0, res / 4.0)
            if land_geom.contains(Point(px[k] + nx * probe, py[k] + ny * probe)):
                nx, ny = -nx, -ny
                if land_geom.contains(Point(px[k] + nx * probe, py[k] + ny * probe)):
                    continue  # land on both sides: a river mouth or a sliver
            candidates.append((math.hypot(px[k] - sx, py[k] - sy), float(px[k]), float(py[k]), nx, ny))
    if not candidates:
        raise LandingPointError(
            f"no coastline within {search_radius_m / 1000:.0f} km of landing station '{station.name}' "
            f"({station.lat_deg} N, {station.lon_deg} E); move the station to the coast or widen search_radius_m"
        )
    candidates.sort()
    fan = [0.0]
    n_fan = 1
    while n_fan * fan_step_deg <= max_deviation_deg + 1e-9:
        fan += [n_fan * fan_step_deg, -n_fan * fan_step_deg]
        n_fan += 1
    best: tuple[float, float, float, float, float, float, float] | None = None
    for dist, x, y, nx, ny in candidates:
        if best is not None and dist >= best[0]:
            break
        for dev in fan:
            score = dist + abs(dev) * deviation_penalty_m_per_deg
            if best is not None and score >= best[0]:
                break
            r = math.radians(dev)
            ux, uy = nx * math.cos(r) + ny * math.sin(r), -nx * math.sin(r) + ny * math.cos(r)
            if seaward_ok(x, y, ux, uy):
                best = (score, x, y, ux, uy, nx, ny)
                break
    if best is None:
        raise LandingPointError(
            f"landing station '{station.name}': no shore point within {search_radius_m / 1000:.0f} km gives a clear "
            f"{approach_m:.0f} m approach leg within {max_deviation_deg:.0f}° of the coast normal (land or blocked "
            "cells in the way); shorten engineering.landfall_approach_m, raise landfall_max_deviation_deg, or move "
            "the station"
        )
    _, x, y, ux, uy, nx, ny = best
    setback = manhole_setback_m
    while setback > 0.5 and not land_geom.contains(Point(x - ux * setback, y - uy * setback)):
        setback /= 2.0
    bmh = (x - ux * setback, y - uy * setback) if setback > 0.5 else (x, y)
    dev = math.degrees(math.acos(max(-1.0, min(1.0, ux * nx + uy * ny))))
    return Landfall(
        station_name=station.name,
        station_xy=(sx, sy),
        beach_manhole_xy=bmh,
        shore_crossing_xy=(x, y),
        approach_end_xy=(x + ux * approach_m, y + uy * approach_m),
        coast_normal_deg=_bearing(nx, ny),
        approach_bearing_deg=_bearing(ux, uy),
        angle_to_coast_deg=90.0 - dev,
        crs=grid.crs,
    )


def assemble_route(
    start: Landfall, routed: LineString, end: Landfall, *, tolerance_m: float | None = None
) -> LineString:
    """Join the shore ends and the routed path: station A -> BMH A -> shore A -> approach end A -> routed path ->
    approach end B -> shore B -> BMH B -> station B.

    ``routed`` must run between the two approach ends (either direction; it is reversed if needed); its end vertices
    are replaced by the exact approach ends. ``tolerance_m`` (default: 3 km) bounds how far its ends may lie from them.
    """
    coords = np.asarray(routed.coords, dtype=float)[:, :2] if not routed.is_empty else np.empty((0, 2))
    if len(coords) < 2:
        raise InputDataError("the routed path has fewer than two vertices; check the routing result")
    a, b = np.asarray(start.approach_end_xy), np.asarray(end.approach_end_xy)
    if np.hypot(*(coords[0] - a)) + np.hypot(*(coords[-1] - b)) > np.hypot(*(coords[-1] - a)) + np.hypot(
        *(coords[0] - b)
    ):
        coords = coords[::-1]
    tol = 3000.0 if tolerance_m is None else tolerance_m
    for label, p, q in (("start", coords[0], a), ("end", coords[-1], b)):
        if np.hypot(*(p - q)) > tol:
            raise InputDataError(
                f"the routed path's {label} is {np.hypot(*(p - q)):.0f} m from the landfall approach end; route from "
                "Landfall.approach_end_xy of one landing to that of the other"
            )
    middle = [tuple(c) for c in coords[1:-1]]
    pts: Sequence[XY] = [
        *start.shore_end().coords,
        *middle,
        *list(end.shore_end().coords)[::-1],
    ]
    out = [pts[0]]
    for p in pts[1:]:
        if math.dist(p, out[-1]) > 1e-6:
            out.append(p)
    return LineString(out)


def landfall_keep_indices(route: LineString) -> tuple[int, ...]:
    """Vertex indices of an :func:`assemble_route` line that the leg simplification must keep (both shore ends)."""
    n = len(route.coords)
    return tuple(sorted({0, 1, 2, 3, n - 4, n - 3, n - 2, n - 1} & set(range(n))))
