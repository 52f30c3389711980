"""Route Position List (RPL), kilometre points and the depth/slope profile along a route.

Conventions (those of the submarine-cable trade, stated once here):

- **Legs are WGS84 geodesics** between consecutive positions (A/C points and events). Every distance and KP is
  measured on the WGS84 ellipsoid with :class:`pyproj.Geod` (Karney's algorithm), never in the projected analysis CRS.
  Over a leg of 50 km the geodesic and the straight line of the UTM analysis CRS part by a few metres at most.
- **KP 0 is at the first beach manhole** (BMH) of the route: the marine cable system starts there. Positions on
  the land side of it (the landing station) get a negative KP and are flagged as the land section in ``remarks``.
- **Bearings** are true (clockwise from true north, 0-360), from a position to the next one.
- **Depths** are water depths below the Caspian surface, positive down (the surface is about 28 m below ocean mean
  sea level; the 1998-2003 seabed treaties take -28 m Baltic). Negative values are heights of land.
- **Cable types** follow the depth bands of ``Engineering.cable_bands`` (lower bound inclusive), decided on the
  profile and smoothed so that no section is shorter than ``min_cable_section_m`` (a short section takes the more
  protective type of its neighbours). The cable type of a row is that of the leg that starts at it.
- **Slack** is planned per section: cable length = route length x (1 + slack_pct / 100).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from geodata.engineering.events import (
    ALTER_COURSE,
    BEACH_MANHOLE,
    CABLE_TYPE_CHANGE,
    EVENT_ORDER,
    ROUTE_END,
    ROUTE_START,
    VERTEX,
    RouteEvent,
)
from geodata.errors import ConfigError, InputDataError
from geodata.geodesy import GEOD, WGS84, Chainage, format_dm
from geodata.grid import Raster
from geodata.scenario import CableBand, Engineering

RPL_COLUMNS = [
    "pos_no",
    "event",
    "name",
    "lat_deg",
    "lon_deg",
    "lat_dm",
    "lon_dm",
    "kp_km",
    "leg_bearing_deg",
    "leg_length_km",
    "course_change_deg",
    "water_depth_m",
    "slope_deg",
    "cable_type",
    "burial_depth_m",
    "slack_pct",
    "cable_length_km",
    "remarks",
]


# -- sampling rasters ---------------------------------------------------------------------------------------------


def sample_lonlat(raster: Raster, lon: Any, lat: Any, *, method: str = "bilinear") -> np.ndarray:
    """Values of an analysis-CRS raster at WGS84 points (NaN off the grid or next to nodata)."""
    x, y = raster.grid.lonlat_to_xy(np.atleast_1d(lon), np.atleast_1d(lat))
    return raster.sample(x, y, method=method)


def route_profile(
    route_lonlat: LineString,
    depth: Raster,
    slope: Raster,
    interval_m: float = 100.0,
    *,
    kp_origin: tuple[float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Depth and slope along the route, sampled at least every ``interval_m`` (and at every vertex).

    Parameters
    ----------
    route_lonlat
        The route in WGS84 lon/lat; legs are geodesics.
    depth, slope
        Water depth (m, positive down) and seabed slope (degrees) rasters of the analysis grid (sampled bilinearly).
    interval_m
        Spacing of the samples along the route (``Engineering.profile_interval_m``).
    kp_origin
        ``(lon, lat)`` of KP 0 (the first beach manhole); None = the route's start.

    Returns
    -------
    GeoDataFrame (EPSG:4326) with ``kp_km, distance_m, lat_deg, lon_deg, water_depth_m, slope_deg,
    along_track_slope_deg`` (slope of the depth profile itself, from neighbouring samples).
    """
    ch = Chainage(route_lonlat, kp_origin)
    d = ch.stations(interval_m)
    lon, lat = ch.point_at(d)
    z = sample_lonlat(depth, lon, lat)
    s = sample_lonlat(slope, lon, lat)
    if len(d) > 1:
        grad = np.gradient(z, d)
        along = np.degrees(np.arctan(np.abs(grad)))
    else:
        along = np.full(len(d), np.nan)
    return gpd.GeoDataFrame(
        {
            "kp_km": ch.kp_km(d),
            "distance_m": d,
            "lat_deg": lat,
            "lon_deg": lon,
            "water_depth_m": z,
            "slope_deg": s,
            "along_track_slope_deg": along,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )


def kp_points(
    route_lonlat: LineString,
    interval_m: float = 1000.0,
    *,
    depth: Raster | None = None,
    slope: Raster | None = None,
    kp_origin: tuple[float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Points at every whole ``interval_m`` of KP (KP 0, 1, 2 ... km; negative on the land side of KP 0).

    Returns a GeoDataFrame (EPSG:4326) with ``kp_km, label, lat_deg, lon_deg, lat_dm, lon_dm, water_depth_m,
    slope_deg`` (NaN when no raster is given).
    """
    ch = Chainage(route_lonlat, kp_origin)
    d = ch.stations(interval_m, include_vertices=False)
    kp = ch.kp_km(d)
    on_mark = np.isclose(np.round(kp * 1000.0 / interval_m) * interval_m / 1000.0, kp, atol=1e-6)
    d, kp = d[on_mark], kp[on_mark]
    lon, lat = ch.point_at(d)
    z = sample_lonlat(depth, lon, lat) if depth is not None else np.full(len(d), np.nan)
    s = sample_lonlat(slope, lon, lat) if slope is not None else np.full(len(d), np.nan)
    return gpd.GeoDataFrame(
        {
            "kp_km": np.round(kp, 6),
            "label": [f"KP {k:.0f}" if interval_m % 1000 == 0 else f"KP {k:.3f}" for k in kp],
            "lat_deg": lat,
            "lon_deg": lon,
            "lat_dm": [format_dm(v, "lat") for v in lat],
            "lon_dm": [format_dm(v, "lon") for v in lon],
            "water_depth_m": z,
            "slope_deg": s,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )


# -- cable bands --------------------------------------------------------------------------------------------------


def validate_bands(bands: Sequence[CableBand]) -> list[CableBand]:
    """The bands sorted by depth; raises :class:`ConfigError` on overlaps or gaps."""
    if not bands:
        raise ConfigError("engineering.cable_bands is empty; give at least one cable type with its depth band")
    ordered = sorted(bands, key=lambda b: b.min_depth_m)
    for band in ordered:
        if band.max_depth_m <= band.min_depth_m:
            raise ConfigError(
                f"engineering.cable_bands: '{band.cable_type}' has max_depth_m {band.max_depth_m} <= min_depth_m "
                f"{band.min_depth_m}; swap or correct them"
            )
    for a, b in itertools.pairwise(ordered):
        if not math.isclose(a.max_depth_m, b.min_depth_m):
            raise ConfigError(
                f"engineering.cable_bands: '{a.cable_type}' ends at {a.max_depth_m} m but '{b.cable_type}' starts at "
                f"{b.min_depth_m} m; make consecutive bands meet (no gap, no overlap)"
            )
    return ordered


def band_index(depth_m: Any, bands: Sequence[CableBand]) -> np.ndarray:
    """Index of the band of each depth (lower bound inclusive); land and NaN take the shallowest band, depths beyond
    the deepest band the deepest."""
    z = np.nan_to_num(np.atleast_1d(np.asarray(depth_m, dtype=float)), nan=-1.0)
    edges = np.array([b.min_depth_m for b in bands[1:]])
    return np.searchsorted(edges, z, side="right")


def cable_sections(
    profile_distance_m: np.ndarray, profile_depth_m: np.ndarray, bands: Sequence[CableBand], min_section_m: float
) -> list[tuple[float, float, int]]:
    """Sections ``(from_m, to_m, band index)`` of constant cable type along a depth profile.

    Boundaries are placed where the depth crosses the band limit (linear between samples). Sections shorter than
    ``min_section_m`` are merged into the more protective (shallower) of their neighbours, repeatedly.
    """
    d = np.asarray(profile_distance_m, dtype=float)
    z = np.asarray(profile_depth_m, dtype=float)
    idx = band_index(z, bands)
    sections: list[list[float]] = []
    start = d[0]
    for i in range(1, len(d)):
        if idx[i] != idx[i - 1]:
            lo, hi = sorted((idx[i - 1], idx[i]))
            limit = bands[hi].min_depth_m
            z0, z1 = z[i - 1], z[i]
            if hi - lo == 1 and np.isfinite(z0) and np.isfinite(z1) and z1 != z0:
                f = float(np.clip((limit - z0) / (z1 - z0), 0.0, 1.0))
            else:
                f = 0.5
            cut = d[i - 1] + f * (d[i] - d[i - 1])
            sections.append([start, cut, int(idx[i - 1])])
            start = cut
    sections.append([start, d[-1], int(idx[-1])])
    while len(sections) > 1:
        lengths = [s[1] - s[0] for s in sections]
        k = int(np.argmin(lengths))
        if lengths[k] >= min_section_m:
            break
        neighbours = [j for j in (k - 1, k + 1) if 0 <= j < len(sections)]
        j = min(neighbours, key=lambda n: sections[n][2])
        if j < k:
            sections[j][1] = sections[k][1]
        else:
            sections[j][0] = sections[k][0]
        del sections[k]
        merged: list[list[float]] = [sections[0]]
        for s in sections[1:]:
            if s[2] == merged[-1][2]:
                merged[-1][1] = s[1]
            else:
                merged.append(s)
        sections = merged
    return [(float(a), float(b), int(c)) for a, b, c in sections]


def _order(kind: str) -> int:
    return EVENT_ORDER.index(kind) if kind in EVENT_ORDER else len(EVENT_ORDER)


def _first_bmh(events: Sequence[RouteEvent]) -> tuple[float, float] | None:
    for ev in events:
        if ev.kind == BEACH_MANHOLE:
            return (ev.lon_deg, ev.lat_deg)
    return None


def build_rpl(
    route_lonlat: LineString,
    events: Sequence[RouteEvent],
    depth: Raster,
    slope: Raster,
    engineering: Engineering,
    *,
    kp_origin: tuple[float, float] | None = None,
    merge_tolerance_m: float = 1.0,
    min_cable_section_m: float | None = None,
) -> gpd.GeoDataFrame:
    """The Route Position List: one row per A/C point and per event, in KP order.

    Parameters
    ----------
    route_lonlat
        The final route in WGS84 lon/lat (station -> beach manhole -> ... -> beach manhole -> station); its vertices
        are the A/C points and its legs are geodesics.
    events
        Landing stations, beach manholes, shore crossings, crossings and sector-boundary crossings (see the
        ``*_events`` helpers of the landfall, crossings and sectors_report modules). Cable-type changes are added
        here from the depth profile.
    depth, slope
        Water depth (m, positive down) and seabed slope (degrees) on the analysis grid.
    engineering
        Cable bands (type, burial, slack by depth) and the profile interval used to place cable-type changes.
    kp_origin
        ``(lon, lat)`` of KP 0; None = the first beach manhole among ``events``, else the route's start.
    merge_tolerance_m
        An event this close to an A/C point is listed on the A/C's row instead of a row of its own.
    min_cable_section_m
        Shortest section of one cable type (default ``engineering.min_cable_section_m``).

    Returns
    -------
    GeoDataFrame (EPSG:4326 points) with the columns of :data:`RPL_COLUMNS`.
    """
    bands = validate_bands(engineering.cable_bands)
    origin = kp_origin if kp_origin is not None else _first_bmh(events)
    ch = Chainage(route_lonlat, origin)
    min_section = engineering.min_cable_section_m if min_cable_section_m is None else min_cable_section_m

    # cable sections from the depth profile
    prof_d = ch.stations(engineering.profile_interval_m)
    plon, plat = ch.point_at(prof_d)
    prof_z = sample_lonlat(depth, plon, plat)
    sections = cable_sections(prof_d, prof_z, bands, min_section)

    # positions: (distance, order, kind, name, remarks)
    rows: list[dict[str, Any]] = []
    changes = ch.course_changes_deg()
    last = len(ch.cum_m) - 1
    for i, dist in enumerate(ch.cum_m):
        rows.append({"d": float(dist), "kind": ALTER_COURSE, "name": "", "remarks": "", "vertex": i})
    for ev in events:
        dist = ch.locate(ev.lon_deg, ev.lat_deg)
        lon_e, lat_e = ch.point_at(dist)
        _, _, off = GEOD.inv(ev.lon_deg, ev.lat_deg, float(lon_e[0]), float(lat_e[0]))
        remarks = ev.remarks
        if off > max(merge_tolerance_m, 5.0):
            remarks = (remarks + "; " if remarks else "") + f"{off:.0f} m off the route"
        rows.append({"d": dist, "kind": ev.kind, "name": ev.name, "remarks": remarks, "vertex": None})
    for (_, _, b_prev), (start, _, b_next) in itertools.pairwise(sections):
        rows.append(
            {
                "d": start,
                "kind": CABLE_TYPE_CHANGE,
                "name": f"{bands[b_prev].cable_type} -> {bands[b_next].cable_type}",
                "remarks": f"cable type change at the {bands[max(b_prev, b_next)].min_depth_m:g} m band limit",
                "vertex": None,
            }
        )

    # merge events into the A/C rows they coincide with; A/C rows that carry an event take its kind and name
    vertex_rows = [r for r in rows if r["vertex"] is not None]
    other_rows = sorted((r for r in rows if r["vertex"] is None), key=lambda r: (r["d"], _order(r["kind"])))
    for r in other_rows:
        j = int(np.argmin([abs(v["d"] - r["d"]) for v in vertex_rows]))
        v = vertex_rows[j]
        if abs(v["d"] - r["d"]) <= merge_tolerance_m and v["kind"] == ALTER_COURSE:
            v.update(kind=r["kind"], name=r["name"], remarks=r["remarks"], d=v["d"])
        else:
            vertex_rows.append(r)
    positions = sorted(vertex_rows, key=lambda r: (r["d"], _order(r["kind"])))

    n_ac = 0
    for r in positions:
        i = r["vertex"]
        if i is None:
            continue
        cc = float(changes[i])
        is_turn = 0 < i < last and abs(cc) >= 0.05
        if r["kind"] == ALTER_COURSE:
            if i in (0, last):
                r["kind"], r["name"] = (ROUTE_START, "Route start") if i == 0 else (ROUTE_END, "Route end")
            elif is_turn:
                n_ac += 1
                r["name"] = f"A/C {n_ac}"
            else:
                r["kind"], r["name"] = VERTEX, "straight-through vertex"
        r["course_change"] = cc if is_turn else 0.0
        if is_turn:
            side = "starboard" if cc > 0 else "port"
            text = f"alter course {abs(cc):.1f}° to {side}"
            r["remarks"] = f"{r['remarks']}; {text}" if r["remarks"] and r["kind"] != ALTER_COURSE else text

    dist = np.array([r["d"] for r in positions])
    lon, lat = ch.point_at(dist)
    # exact vertex coordinates for vertex rows
    for k, r in enumerate(positions):
        if r["vertex"] is not None:
            lon[k], lat[k] = ch.lon[r["vertex"]], ch.lat[r["vertex"]]
    z = sample_lonlat(depth, lon, lat)
    s = sample_lonlat(slope, lon, lat)
    az_next, _, len_next = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    az_next = np.append(np.mod(np.asarray(az_next, dtype=float), 360.0), np.nan)
    len_next = np.append(np.asarray(len_next, dtype=float), np.nan)
    starts = np.array([sec[0] for sec in sections])

    def section_at(dd: float) -> int:
        k = int(np.searchsorted(starts, dd + 1e-6, side="right") - 1)
        return sections[max(k, 0)][2]

    band_of_row = [bands[section_at(dd)] for dd in dist]

    # cumulative cable length (with slack) from KP 0: integrate section by section
    def cable_length(dd: float) -> float:
        lo, hi, sign = (ch.origin_m, dd, 1.0) if dd >= ch.origin_m else (dd, ch.origin_m, -1.0)
        total = 0.0
        for a, b, bi in sections:
            overlap = min(b, hi) - max(a, lo)
            if overlap > 0:
                total += overlap * (1 + bands[bi].slack_pct / 100.0)
        return sign * total / 1000.0

    out_rows = []
    for k, r in enumerate(positions):
        remarks = r["remarks"]
        if dist[k] < ch.origin_m - merge_tolerance_m:
            remarks = (remarks + "; " if remarks else "") + "land section, before KP 0"
        if np.isfinite(z[k]) and z[k] < 0:
            remarks = (remarks + "; " if remarks else "") + f"on land ({-z[k]:.0f} m above the Caspian surface)"
        band = band_of_row[k]
        out_rows.append(
            {
                "pos_no": k + 1,
                "event": r["kind"],
                "name": r["name"],
                "lat_deg": float(lat[k]),
                "lon_deg": float(lon[k]),
                "lat_dm": format_dm(float(lat[k]), "lat"),
                "lon_dm": format_dm(float(lon[k]), "lon"),
                "kp_km": float(ch.kp_km(dist[k])),
                "leg_bearing_deg": float(az_next[k]),
                "leg_length_km": float(len_next[k] / 1000.0),
                "course_change_deg": float(r.get("course_change", 0.0)),
                "water_depth_m": float(z[k]),
                "slope_deg": float(s[k]),
                "cable_type": band.cable_type,
                "burial_depth_m": band.burial_depth_m,
                "slack_pct": band.slack_pct,
                "cable_length_km": cable_length(float(dist[k])),
                "remarks": remarks,
            }
        )
    frame = pd.DataFrame(out_rows, columns=RPL_COLUMNS)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon_deg, frame.lat_deg), crs=WGS84)
    gdf.attrs.update(
        kp_origin="first beach manhole" if origin is not None else "route start",
        legs="WGS84 geodesics",
        depth_datum="below the Caspian surface (-28 m Baltic), positive down",
        route_length_km=ch.length_m / 1000.0,
    )
    return gdf


def write_rpl_csv(rpl: pd.DataFrame, path: str | Path) -> Path:
    """Write the RPL as CSV (no geometry column; lat/lon to 1e-6 degrees, KP and lengths to the metre)."""
    missing = [c for c in RPL_COLUMNS if c not in rpl.columns]
    if missing:
        raise InputDataError(f"RPL table lacks columns {missing}; build it with geodata.rpl.build_rpl")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rpl[RPL_COLUMNS]).copy()
    for col, nd in (
        ("lat_deg", 6),
        ("lon_deg", 6),
        ("kp_km", 3),
        ("leg_bearing_deg", 2),
        ("leg_length_km", 3),
        ("course_change_deg", 1),
        ("water_depth_m", 1),
        ("slope_deg", 2),
        ("cable_length_km", 3),
    ):
        frame[col] = frame[col].round(nd)
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


def write_rpl_gpkg(rpl: gpd.GeoDataFrame, path: str | Path, *, layer: str = "rpl") -> Path:
    """Write the RPL as a GeoPackage point layer (EPSG:4326)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(rpl[[*RPL_COLUMNS, "geometry"]], crs=WGS84).to_file(path, layer=layer, driver="GPKG")
    return path
