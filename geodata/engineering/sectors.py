"""Sector-crossing report: where the route runs in each state's seabed sector, and where it crosses their boundaries.

Under the Caspian seabed agreements (and Art. 14 of the 2018 Convention) the route of a cable is agreed with the
state whose seabed sector it crosses; the coordinates to notify are the entry and exit points of each sector and
the points where the route crosses a sector boundary. Spans are measured geodesically on WGS84 along the route
(legs are geodesics, as in the RPL) with the same KP origin. The route is densified every ``step_m`` (default
100 m) along its geodesic legs before it is intersected with the sector polygons in lon/lat, so the boundary points
are exact to well under a metre for sector boundaries that are themselves straight between vertices a few km apart.
Parts of the route in no sector (on land at either end, or in unassigned water) are listed with ``country`` None.

The same analysis on the 2018 Convention zones (``territorial_waters``: each state's 15 nm territorial sea and
the 10 nm fishing zone beyond it) gives the zone limits the route crosses (:func:`zone_limit_crossings`). Every
boundary point carries the angle at which the route crosses the boundary (0-90 degrees, measured in a local
conformal frame at the point).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.ops import substring

from geodata.engineering.events import SECTOR_BOUNDARY, ZONE_LIMIT, RouteEvent
from geodata.errors import InputDataError
from geodata.geodesy import WGS84, Chainage, format_dm

SPAN_COLUMNS = [
    "span_no",
    "country",
    "kp_from_km",
    "kp_to_km",
    "length_km",
    "entry_lat_deg",
    "entry_lon_deg",
    "entry_lat_dm",
    "entry_lon_dm",
    "exit_lat_deg",
    "exit_lon_deg",
    "exit_lat_dm",
    "exit_lon_dm",
]
POINT_COLUMNS = [
    "point_no",
    "kp_km",
    "from_country",
    "to_country",
    "angle_deg",
    "lat_deg",
    "lon_deg",
    "lat_dm",
    "lon_dm",
]
ZONE_POINT_COLUMNS = [
    "point_no",
    "kp_km",
    "from_zone",
    "to_zone",
    "angle_deg",
    "lat_deg",
    "lon_deg",
    "lat_dm",
    "lon_dm",
]


def _local_direction(line: LineString, lon: float, lat: float) -> np.ndarray:
    """Unit direction (east, north) of the segment of a lon/lat ``line`` nearest to the point, in a local conformal
    frame (longitudes scaled by the cosine of the latitude)."""
    c = np.asarray(line.coords, dtype=float)[:, :2]
    k = np.cos(np.radians(lat))
    a, b = c[:-1] * [k, 1.0], c[1:] * [k, 1.0]
    p = np.array([lon * k, lat])
    ab = b - a
    den = np.where((ab**2).sum(axis=1) > 0, (ab**2).sum(axis=1), 1.0)
    t = np.clip(((p - a) * ab).sum(axis=1) / den, 0, 1)
    d2 = ((a + t[:, None] * ab - p) ** 2).sum(axis=1)
    v = ab[int(np.argmin(d2))]
    n = float(np.hypot(*v))
    return v / n if n > 0 else v


def crossing_angle_deg(route_lonlat: LineString, boundary: Any, lon: float, lat: float) -> float:
    """Angle (0-90 degrees) at which a lon/lat route crosses a lon/lat boundary (line or polygon boundary, any parts)
    at the point ``(lon, lat)``; NaN when there is no boundary."""
    parts = [g for g in shapely.get_parts(shapely.line_merge(boundary)) if g.geom_type == "LineString"]
    if not parts:
        return float("nan")
    here = shapely.Point(lon, lat)
    nearest = min(parts, key=lambda g: g.distance(here))
    u, v = _local_direction(route_lonlat, lon, lat), _local_direction(nearest, lon, lat)
    return float(np.degrees(np.arccos(min(1.0, abs(float(np.dot(u, v)))))))


class SectorReport(NamedTuple):
    """``spans``: one row (route part, EPSG:4326) per stretch in one sector; ``boundary_points``: the crossings."""

    spans: gpd.GeoDataFrame
    boundary_points: gpd.GeoDataFrame


def _sectors(sectors: gpd.GeoDataFrame, country_col: str) -> gpd.GeoDataFrame:
    if country_col not in sectors.columns:
        raise InputDataError(
            f"the sectors table has no '{country_col}' column (columns: {list(sectors.columns)}); pass country_col"
        )
    if sectors.crs is None:
        raise InputDataError("the sectors have no CRS; set it (e.g. sectors.set_crs('EPSG:4326'))")
    frame = sectors.to_crs(WGS84) if not sectors.crs.equals(WGS84) else sectors
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame.dissolve(by=country_col, as_index=False)[[country_col, "geometry"]]


def sector_crossing_report(
    route_lonlat: LineString,
    sectors: gpd.GeoDataFrame,
    *,
    kp_origin: tuple[float, float] | None = None,
    country_col: str = "country",
    step_m: float = 100.0,
) -> SectorReport:
    """Spans of the route in each seabed sector and the boundary points to notify.

    Parameters
    ----------
    route_lonlat
        The route in WGS84 lon/lat (geodesic legs).
    sectors
        Sector polygons with a country column (ISO3), any CRS.
    kp_origin
        ``(lon, lat)`` of KP 0 (the first beach manhole); None = the route's start.
    country_col
        Name of the country column.
    step_m
        Densification step along the geodesic legs.

    Returns
    -------
    SectorReport
        ``spans`` (:data:`SPAN_COLUMNS` + geometry) and ``boundary_points`` (:data:`POINT_COLUMNS` + geometry).
    """
    frame = _sectors(sectors, country_col)
    ch = Chainage(route_lonlat, kp_origin)
    dense, dists = ch.densified(step_m)
    along_deg = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(np.asarray(dense.coords), axis=0).T))])

    def to_distance(points: np.ndarray) -> np.ndarray:
        s = shapely.line_locate_point(dense, shapely.points(points))
        return np.interp(s, along_deg, dists)

    cuts = [0.0, ch.length_m]
    boundaries = shapely.union_all(np.asarray(frame.geometry.boundary.values))
    inter = dense.intersection(boundaries)
    if not inter.is_empty:
        coords = shapely.get_coordinates(inter)  # points, and both ends of any stretch along a boundary
        cuts += list(to_distance(coords))
    cuts_arr = np.unique(np.round(np.asarray(cuts), 3))
    cuts_arr = cuts_arr[np.concatenate([[True], np.diff(cuts_arr) > 0.5])]
    if cuts_arr[-1] < ch.length_m:
        cuts_arr[-1] = ch.length_m
    # the country of each piece, from its midpoint
    mids = (cuts_arr[:-1] + cuts_arr[1:]) / 2.0
    mlon, mlat = ch.point_at(mids)
    owners: list[Any] = []
    for x, y in zip(mlon, mlat, strict=True):
        hit = frame[frame.geometry.contains(shapely.Point(x, y))]
        owners.append(str(hit.iloc[0][country_col]) if len(hit) else None)
    spans: list[list[Any]] = []
    for a, b, who in zip(cuts_arr[:-1], cuts_arr[1:], owners, strict=True):
        if spans and spans[-1][2] == who:
            spans[-1][1] = b
        else:
            spans.append([a, b, who])
    rows, geoms = [], []
    for n, (a, b, who) in enumerate(spans, start=1):
        (lon0, lon1), (lat0, lat1) = ch.point_at([a, b])
        rows.append(
            {
                "span_no": n,
                "country": who,
                "kp_from_km": float(ch.kp_km(a)),
                "kp_to_km": float(ch.kp_km(b)),
                "length_km": (b - a) / 1000.0,
                "entry_lat_deg": lat0,
                "entry_lon_deg": lon0,
                "entry_lat_dm": format_dm(lat0, "lat"),
                "entry_lon_dm": format_dm(lon0, "lon"),
                "exit_lat_deg": lat1,
                "exit_lon_deg": lon1,
                "exit_lat_dm": format_dm(lat1, "lat"),
                "exit_lon_dm": format_dm(lon1, "lon"),
            }
        )
        sa, sb = np.interp([a, b], dists, along_deg)
        geoms.append(substring(dense, sa, sb))
    span_gdf = gpd.GeoDataFrame(pd.DataFrame(rows, columns=SPAN_COLUMNS), geometry=geoms, crs=WGS84)
    span_gdf["country"] = span_gdf["country"].astype(object).where(span_gdf["country"].notna(), None)
    prow = []
    for k in range(1, len(spans)):
        d = spans[k][0]
        lon, lat = ch.point_at(d)
        prow.append(
            {
                "point_no": k,
                "kp_km": float(ch.kp_km(d)),
                "from_country": spans[k - 1][2],
                "to_country": spans[k][2],
                "angle_deg": crossing_angle_deg(dense, boundaries, float(lon[0]), float(lat[0])),
                "lat_deg": float(lat[0]),
                "lon_deg": float(lon[0]),
                "lat_dm": format_dm(float(lat[0]), "lat"),
                "lon_dm": format_dm(float(lon[0]), "lon"),
            }
        )
    pts = pd.DataFrame(prow, columns=POINT_COLUMNS)
    pts_gdf = gpd.GeoDataFrame(pts, geometry=gpd.points_from_xy(pts.lon_deg, pts.lat_deg), crs=WGS84)
    for col in ("from_country", "to_country"):
        pts_gdf[col] = pts_gdf[col].astype(object).where(pts_gdf[col].notna(), None)
    return SectorReport(span_gdf, pts_gdf)


def _angle_remark(p: pd.Series) -> str:
    angle = p.get("angle_deg")
    return f" at {float(angle):.0f}°" if angle is not None and np.isfinite(angle) else ""


def sector_events(report: SectorReport) -> list[RouteEvent]:
    """RPL events of the boundary points (only between two sectors or into/out of one), with the crossing angle."""
    events = []
    for _, p in report.boundary_points.iterrows():
        a, b = (str(c) if isinstance(c, str) else "no sector" for c in (p["from_country"], p["to_country"]))
        events.append(
            RouteEvent(
                SECTOR_BOUNDARY,
                f"Sector {a} / {b}",
                float(p["lon_deg"]),
                float(p["lat_deg"]),
                f"leaves the {a} seabed sector, enters {b}{_angle_remark(p)}",
                {"kind": "sector_boundary", "angle_deg": float(p.get("angle_deg", np.nan))},
            )
        )
    return events


def _zone_labels(zones: gpd.GeoDataFrame, country_col: str, zone_col: str) -> pd.Series:
    """``'AZE territorial sea (0-15 nm)'``: state, zone and, when the table has them, its limits in nm."""
    label = zones[country_col].astype(str) + " " + zones[zone_col].astype(str).str.replace("_", " ")
    if {"inner_limit_nm", "outer_limit_nm"} <= set(zones.columns):
        label = label + [
            f" ({a:g}-{b:g} nm)" for a, b in zip(zones["inner_limit_nm"], zones["outer_limit_nm"], strict=True)
        ]
    return label


def zone_limit_crossings(
    route_lonlat: LineString,
    zones: gpd.GeoDataFrame,
    *,
    kp_origin: tuple[float, float] | None = None,
    country_col: str = "country",
    zone_col: str = "zone",
    step_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Where the route crosses a limit of the 2018 Convention zones (the ``territorial_waters`` asset).

    Parameters
    ----------
    route_lonlat
        The route in WGS84 lon/lat (geodesic legs).
    zones
        Zone polygons with a state (``country_col``) and a zone (``zone_col``: ``territorial_sea``,
        ``fishing_zone``), optionally ``inner_limit_nm``/``outer_limit_nm``; any CRS.
    kp_origin, step_m
        As for :func:`sector_crossing_report`.

    Returns
    -------
    GeoDataFrame (EPSG:4326 points) with :data:`ZONE_POINT_COLUMNS`: the KP, the zone left and the zone entered
    (None = outside every zone: land, or beyond the fishing zone) and the crossing angle.
    """
    for col in (country_col, zone_col):
        if col not in zones.columns:
            raise InputDataError(f"the zones table has no '{col}' column (columns: {list(zones.columns)})")
    frame = zones.copy()
    frame["zone_label"] = _zone_labels(zones, country_col, zone_col)
    pts = sector_crossing_report(route_lonlat, frame, kp_origin=kp_origin, country_col="zone_label", step_m=step_m)
    out = pts.boundary_points.rename(columns={"from_country": "from_zone", "to_country": "to_zone"})
    return gpd.GeoDataFrame(out[ZONE_POINT_COLUMNS], geometry=out.geometry, crs=WGS84)


def zone_events(crossings: pd.DataFrame | None) -> list[RouteEvent]:
    """RPL events of :func:`zone_limit_crossings`: which zone the route leaves and enters, at which angle."""
    events: list[RouteEvent] = []
    if crossings is None:
        return events
    for _, p in crossings.iterrows():
        a, b = (str(c) if isinstance(c, str) else "no zone" for c in (p["from_zone"], p["to_zone"]))
        events.append(
            RouteEvent(
                ZONE_LIMIT,
                f"Zone limit {a.split(' (')[0]} / {b.split(' (')[0]}",
                float(p["lon_deg"]),
                float(p["lat_deg"]),
                f"2018 Convention zone limit: leaves {a}, enters {b}{_angle_remark(p)}",
                {"kind": "zone_limit", "angle_deg": float(p["angle_deg"])},
            )
        )
    return events
