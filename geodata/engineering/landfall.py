"""Landfall: the shore end of a cable, from the landing station over the beach manhole to the sea.

Cables come ashore roughly at right angles to the coast: the surf zone is crossed by the shortest path, the cable
does not lie along the beach where waves and longshore drift work on it, and the beach manhole (BMH) sits just
above the shore. :func:`plan_landfall` finds, near the landing station, the shore point whose (smoothed) coast normal
gives a straight shore-end leg of ``approach_m`` into open water without touching land again (islands, spits); if
the normal is blocked it tries a fan of angles around it, up to ``max_deviation_deg``. A shore point counts only
when the straight land section from a station on land reaches it over land (a bay, lagoon or harbour between the
station and that shore would put the "land" cable at sea). The grid router then starts
at the seaward end of that leg (:attr:`Landfall.approach_end_xy`), and :func:`assemble_route` joins the pieces:
station -> BMH -> shore crossing -> approach end -> routed path -> ... -> station.

All coordinates are in the metric analysis CRS of the sea mask's grid; bearings here are grid bearings (clockwise
from grid north of that CRS). The RPL gives true bearings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString, Point, box
from shapely.geometry.base import BaseGeometry

from geodata.engineering.events import BEACH_MANHOLE, LANDING, SHORE_CROSSING, RouteEvent
from geodata.errors import InputDataError, LandingPointError
from geodata.geodesy import interpolate_along
from geodata.grid import GeoGrid, LazyRaster, Raster
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
    crs: CRS

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

    def to_dict(self) -> dict[str, str | float | list[float]]:
        """The landfall as JSON-ready values (metres, degrees to 0.1), for asset metadata."""
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
    """Grid bearing of a direction, degrees clockwise from grid north, 0-360."""
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _land_geometry(
    land: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry, crs: CRS, window: BaseGeometry
) -> BaseGeometry:
    """The land polygons inside ``window``, in the analysis CRS, as one valid (Multi)Polygon (empty if none)."""
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
    polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys) if polys else shapely.Polygon()


def _square(x: float, y: float, half_side: float) -> BaseGeometry:
    """The axis-aligned square of half-side ``half_side`` centred on ``(x, y)``."""
    return box(x - half_side, y - half_side, x + half_side, y + half_side)


# -- the steps of plan_landfall -----------------------------------------------------------------------------------


class _ShorePoint(NamedTuple):
    """A point of the coast with its seaward unit normal; sorts by distance to the landing station."""

    dist: float
    x: float
    y: float
    nx: float
    ny: float


class _Approach(NamedTuple):
    """A clear shore-end leg: its score (distance + deviation penalty), shore point, direction and coast normal."""

    score: float
    x: float
    y: float
    ux: float
    uy: float
    nx: float
    ny: float


@dataclass(frozen=True)
class _OpenWater:
    """The test a shore-end leg must pass: it ends in an unblocked sea cell and touches no land after leaving it."""

    sea_mask: Raster
    land: BaseGeometry
    approach_m: float
    blocked: np.ndarray | None
    station_xy: XY | None = None
    """The landing station, when it lies on land: the land section to a shore point must then stay on land."""

    def land_section_is_clear(self, x: float, y: float) -> bool:
        """Does the straight land section from the station to shore point ``(x, y)`` stay on land (no bay, lagoon
        or harbour crossed on the way to the shore)?"""
        if self.station_xy is None:
            return True
        sx, sy = self.station_xy
        length = math.hypot(x - sx, y - sy)
        if length <= LAND_SECTION_TOLERANCE_M:
            return True
        t = 1.0 - LAND_SECTION_TOLERANCE_M / length
        section = LineString([(sx, sy), (sx + (x - sx) * t, sy + (y - sy) * t)])
        return bool(self.land.contains(section))

    def _sea(self, cell: tuple[int, int]) -> bool:
        """Is ``cell`` sea in the mask? A mask still on disk is read at that cell's tile only, not whole."""
        m = self.sea_mask
        if isinstance(m, LazyRaster) and not m.loaded:
            return bool(m.file.cells(np.array([cell[0]]), np.array([cell[1]]))[0] == 1)
        return bool(m.data[cell] == 1)

    def leg_is_clear(self, x: float, y: float, ux: float, uy: float) -> bool:
        """Is the leg of ``approach_m`` from shore point ``(x, y)`` in unit direction ``(ux, uy)`` clear?"""
        ex, ey = x + ux * self.approach_m, y + uy * self.approach_m
        cell = self.sea_mask.grid.cell_of(ex, ey)
        if cell is None or not self._sea(cell) or (self.blocked is not None and self.blocked[cell]):
            return False
        eps = min(5.0, self.approach_m / 100.0)
        leg = LineString([(x + ux * eps, y + uy * eps), (ex, ey)])
        return not self.land.intersects(leg)


LAND_SECTION_TOLERANCE_M = 20.0
"""Metres of the land section next to the shore point not tested (the coast line's own rounding)."""


def _check_arguments(grid: GeoGrid, blocked: np.ndarray | None, approach_m: float) -> None:
    """Reject a blocked mask of another grid and a non-positive approach length."""
    if blocked is not None and blocked.shape != grid.shape:
        raise InputDataError(f"blocked mask of shape {blocked.shape} does not match the sea mask grid {grid.shape}")
    if approach_m <= 0:
        raise LandingPointError(f"approach_m must be positive (engineering.landfall_approach_m), got {approach_m}")


def _land_near_station(
    station: LandingStation, land: gpd.GeoDataFrame | BaseGeometry, crs: CRS, window: BaseGeometry, margin: float
) -> BaseGeometry:
    """The (prepared) land inside the station's search window; there must be some."""
    land_geom = _land_geometry(land, crs, window)
    if land_geom.is_empty:
        raise LandingPointError(
            f"no land within {margin / 1000:.0f} km of landing station '{station.name}' ({station.lat_deg} N, "
            f"{station.lon_deg} E); check the station coordinates and that the land layer covers them"
        )
    shapely.prepare(land_geom)
    return land_geom


def _smoothed_tangents(part: LineString, s: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Coast direction (not normalised) at distances ``s`` along ``part``: the chord from ``half`` metres before to
    ``half`` metres after each point, wrapping round a closed coast (an island) and clipped at an open one's ends."""
    if part.is_ring:
        s_a, s_b = (s - half) % part.length, (s + half) % part.length
    else:
        s_a, s_b = np.maximum(s - half, 0.0), np.minimum(s + half, part.length)
    a = interpolate_along(part, s_a)
    b = interpolate_along(part, s_b)
    return b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]


def _shore_points_of_part(
    part: LineString, inner: BaseGeometry, land: BaseGeometry, station_xy: XY, step: float, half: float, probe: float
) -> list[_ShorePoint]:
    """Points every ``step`` metres along one coast line that lie inside ``inner`` and have a seaward normal."""
    s = np.linspace(0.0, part.length, int(part.length // step) + 1)
    pts = interpolate_along(part, s)  # shapely's points, without its walk from the start for every point
    px, py = pts[:, 0], pts[:, 1]
    inside = np.flatnonzero(shapely.contains_xy(inner, px, py))
    if not inside.size:
        return []
    tx, ty = _smoothed_tangents(part, s[inside], min(half, part.length / 2.0))
    x, y = px[inside], py[inside]
    nx, ny, ok = _seaward_normals(land, x, y, tx, ty, probe)
    out = []
    for k in np.flatnonzero(ok):
        dist = math.hypot(x[k] - station_xy[0], y[k] - station_xy[1])
        out.append(_ShorePoint(dist, float(x[k]), float(y[k]), float(nx[k]), float(ny[k])))
    return out


def _seaward_normals(
    land: BaseGeometry, x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray, probe: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unit normals of coast directions ``(tx, ty)`` at points ``(x, y)`` that point away from land (tested
    ``probe`` metres out), and where one exists: not where the direction is degenerate or there is land on both
    sides (a river mouth, a sliver). Vectorised: one contains test per side for all the points (they lie 10 m apart
    at 100 m cells, thousands of them)."""
    norm = np.array([math.hypot(a, b) for a, b in zip(tx.tolist(), ty.tolist(), strict=True)])
    ok = norm != 0
    safe = np.where(ok, norm, 1.0)
    ux, uy = tx / safe, ty / safe
    nx, ny = uy, -ux  # one of the two normals; pick the seaward one
    flip = shapely.contains_xy(land, x + nx * probe, y + ny * probe)
    nx, ny = np.where(flip, -nx, nx), np.where(flip, -ny, ny)
    both = flip & shapely.contains_xy(land, x + nx * probe, y + ny * probe)
    return nx, ny, ok & ~both


def _shore_points(
    coast: BaseGeometry,
    inner: BaseGeometry,
    land: BaseGeometry,
    station_xy: XY,
    *,
    step: float,
    smoothing_m: float,
    probe: float,
) -> list[_ShorePoint]:
    """Candidate shore points along every coast line (shorter lines than ``step`` skipped), nearest first."""
    out: list[_ShorePoint] = []
    for part in shapely.get_parts(coast):
        if part.is_empty or part.geom_type != "LineString" or part.length < step:
            continue
        out += _shore_points_of_part(part, inner, land, station_xy, step, smoothing_m / 2.0, probe)
    return sorted(out)


def _deviation_fan(fan_step_deg: float, max_deviation_deg: float) -> list[float]:
    """Deviations from the coast normal to try, smallest first: 0, +step, -step, +2 step, ... up to the maximum."""
    fan = [0.0]
    n_fan = 1
    while n_fan * fan_step_deg <= max_deviation_deg + 1e-9:
        fan += [n_fan * fan_step_deg, -n_fan * fan_step_deg]
        n_fan += 1
    return fan


def _turned(nx: float, ny: float, dev_deg: float) -> XY:
    """The unit vector ``(nx, ny)`` turned ``dev_deg`` degrees clockwise."""
    r = math.radians(dev_deg)
    return nx * math.cos(r) + ny * math.sin(r), -nx * math.sin(r) + ny * math.cos(r)


def _first_clear_leg(
    point: _ShorePoint,
    fan: Sequence[float],
    penalty_m_per_deg: float,
    open_water: _OpenWater,
    best: _Approach | None,
) -> _Approach | None:
    """The least-deviating clear leg from one shore point that scores better than ``best``, if any."""
    for dev in fan:
        score = point.dist + abs(dev) * penalty_m_per_deg
        if best is not None and score >= best.score:
            return None
        ux, uy = _turned(point.nx, point.ny, dev)
        if open_water.leg_is_clear(point.x, point.y, ux, uy):
            return _Approach(score, point.x, point.y, ux, uy, point.nx, point.ny)
    return None


def _best_approach(
    points: Sequence[_ShorePoint], fan: Sequence[float], penalty_m_per_deg: float, open_water: _OpenWater
) -> _Approach | None:
    """The best-scoring clear leg over all shore points (nearest first, stopping once none can score better) whose
    land section from the station stays on land."""
    best: _Approach | None = None
    for point in points:
        if best is not None and point.dist >= best.score:
            break
        if not open_water.land_section_is_clear(point.x, point.y):
            continue
        best = _first_clear_leg(point, fan, penalty_m_per_deg, open_water, best) or best
    return best


def _beach_manhole(land: BaseGeometry, approach: _Approach, setback_m: float) -> XY:
    """The BMH ``setback_m`` inland of the shore point along the leg, the setback halved until it lies on land
    (the shore point itself when the land is too narrow)."""
    x, y, ux, uy = approach.x, approach.y, approach.ux, approach.uy
    setback = setback_m
    while setback > 0.5 and not land.contains(Point(x - ux * setback, y - uy * setback)):
        setback /= 2.0
    return (x - ux * setback, y - uy * setback) if setback > 0.5 else (x, y)


def _landfall(
    station: LandingStation, station_xy: XY, approach: _Approach, bmh: XY, approach_m: float, crs: CRS
) -> Landfall:
    """The :class:`Landfall` of a chosen approach leg."""
    x, y, ux, uy, nx, ny = approach.x, approach.y, approach.ux, approach.uy, approach.nx, approach.ny
    dev = math.degrees(math.acos(max(-1.0, min(1.0, ux * nx + uy * ny))))
    return Landfall(
        station_name=station.name,
        station_xy=station_xy,
        beach_manhole_xy=bmh,
        shore_crossing_xy=(x, y),
        approach_end_xy=(x + ux * approach_m, y + uy * approach_m),
        coast_normal_deg=_bearing(nx, ny),
        approach_bearing_deg=_bearing(ux, uy),
        angle_to_coast_deg=90.0 - dev,
        crs=crs,
    )


def _no_coastline(station: LandingStation, search_radius_m: float) -> LandingPointError:
    """The error for a station with no usable coastline within the search radius."""
    return LandingPointError(
        f"no coastline within {search_radius_m / 1000:.0f} km of landing station '{station.name}' "
        f"({station.lat_deg} N, {station.lon_deg} E); move the station to the coast or widen search_radius_m"
    )


def _no_clear_leg(
    station: LandingStation, search_radius_m: float, approach_m: float, max_deviation_deg: float
) -> LandingPointError:
    """The error for a station none of whose shore points gives a clear approach leg."""
    return LandingPointError(
        f"landing station '{station.name}' ({station.lat_deg} N, {station.lon_deg} E): no shore point within "
        f"{search_radius_m / 1000:.0f} km is reached over land and gives a clear {approach_m:.0f} m approach leg "
        f"within {max_deviation_deg:.0f}° of the coast normal (water on the land section, or land or blocked "
        "cells in the way of the leg); shorten engineering.landfall_approach_m, raise landfall_max_deviation_deg, "
        "or move the station"
    )


SEARCH_RADIUS_M = 20_000.0
"""Shore points farther than this from a landing station are not considered (``plan_landfall``'s default)."""


def plan_landfall(
    station: LandingStation,
    sea_mask: Raster,
    land: gpd.GeoDataFrame | BaseGeometry,
    *,
    approach_m: float = 3000.0,
    max_deviation_deg: float = 30.0,
    manhole_setback_m: float = 100.0,
    search_radius_m: float = SEARCH_RADIUS_M,
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
    _check_arguments(grid, blocked, approach_m)
    sx, sy = (float(v) for v in grid.lonlat_to_xy(station.lon_deg, station.lat_deg))
    margin = search_radius_m + approach_m + smoothing_m
    window = _square(sx, sy, margin)
    land_geom = _land_near_station(station, land, grid.crs, window, margin)
    points = _shore_points(
        shapely.intersection(land_geom.boundary, window.buffer(-1.0)),
        _square(sx, sy, search_radius_m),
        land_geom,
        (sx, sy),
        step=min(min(grid.res) / 10.0, 100.0),
        smoothing_m=smoothing_m,
        probe=min(50.0, max(grid.res) / 4.0),
    )
    if not points:
        raise _no_coastline(station, search_radius_m)
    on_land = bool(land_geom.contains(Point(sx, sy)))
    open_water = _OpenWater(sea_mask, land_geom, approach_m, blocked, (sx, sy) if on_land else None)
    best = _best_approach(
        points, _deviation_fan(fan_step_deg, max_deviation_deg), deviation_penalty_m_per_deg, open_water
    )
    if best is None:
        raise _no_clear_leg(station, search_radius_m, approach_m, max_deviation_deg)
    bmh = _beach_manhole(land_geom, best, manhole_setback_m)
    return _landfall(station, (sx, sy), best, bmh, approach_m, grid.crs)


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
    return shapely.remove_repeated_points(LineString(pts), 1e-6)


def landfall_keep_indices(route: LineString) -> tuple[int, ...]:
    """Vertex indices of an :func:`assemble_route` line that the leg simplification must keep (both shore ends)."""
    n = len(route.coords)
    return tuple(sorted({0, 1, 2, 3, n - 4, n - 3, n - 2, n - 1} & set(range(n))))
