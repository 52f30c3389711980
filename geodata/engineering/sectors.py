"""Sector-crossing report: where the route runs in each state's seabed sector, and where it crosses their boundaries.

Under the Caspian seabed agreements (and Art. 14 of the 2018 Convention) the route of a cable is agreed with the
state whose seabed sector it crosses; the coordinates to notify are the entry and exit points of each sector and
the points where the route crosses a sector boundary. Spans are measured geodesically on WGS84 along the route
(legs are geodesics, as in the RPL) with the same KP origin. The route is densified every ``step_m`` (default
100 m) along its geodesic legs before it is intersected with the sector polygons in lon/lat, so the boundary points
are exact to well under a metre for sector boundaries that are themselves straight between vertices a few km apart.
Parts of the route in no sector (on land at either end, or in unassigned water) are listed with ``country`` None.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.ops import substring

from geodata.engineering.events import SECTOR_BOUNDARY, RouteEvent
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
POINT_COLUMNS = ["point_no", "kp_km", "from_country", "to_country", "lat_deg", "lon_deg", "lat_dm", "lon_dm"]


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


def sector_events(report: SectorReport) -> list[RouteEvent]:
    """RPL events of the boundary points (only between two sectors or into/out of one)."""
    events = []
    for _, p in report.boundary_points.iterrows():
        a, b = (str(c) if isinstance(c, str) else "no sector" for c in (p["from_country"], p["to_country"]))
        events.append(
            RouteEvent(
                SECTOR_BOUNDARY,
                f"Sector {a} / {b}",
                float(p["lon_deg"]),
                float(p["lat_deg"]),
                f"leaves the {a} seabed sector, enters {b}",
            )
        )
    return events
