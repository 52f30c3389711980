"""Close approaches: where the route runs nearer to an existing cable or pipeline than the separation it needs.

A new cable keeps clear of existing cables and pipelines so that either can be repaired (a repair ship lays the
repaired cable back as a bight about two to three times the water depth long, and a grapnel must not hook the
neighbour). Following ICPC guidance, the separation required at a point of the route is

    required_separation_m = max(min_separation_m, separation_depth_factor * water_depth_m)

(``Engineering.min_separation_m``, the near-shore floor, default 500 m; ``Engineering.separation_depth_factor``,
default 3). A crossing is not an approach: around each crossing of a feature the route is necessarily within the
separation of it for ``required / sin(angle)`` either side (a straight route crossing a straight line at ``angle``),
so that window is left out, a little widened (:data:`WINDOW_MARGIN`). Where the route crosses on a short leg (a
dog-leg set at the minimum crossing angle) and leaves the feature at a flatter angle, the window extends for as long
as the route keeps diverging from the feature at :data:`DIVERGING_ANGLE_DEG` or more (the distance growing by at
least ``sin(angle)`` per metre of route), still within the separation: that stretch belongs to the crossing. A
route running alongside at a flatter angle than that is a close approach. Whatever is left within the separation of the
feature is one approach per contiguous stretch: its KP range, its length, the closest point and the distance there.

The land sections of the route (landing station -> beach manhole -> shore crossing, passed as ``land``) are reported
apart (``section = "land"``) and are not held to the separation: two cables landing at one station converge there
by necessity, and the ICPC separation is a rule for the marine route.

Distances are measured in the analysis CRS (UTM: the scale error is below 0.1 % within the zone); KPs, positions
and lengths of the stretches are geodesic, with the RPL's KP origin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, substring

from geodata.engineering.crossings import line_features, route_crossings
from geodata.engineering.events import CLOSE_APPROACH, RouteEvent
from geodata.geodesy import WGS84, Chainage, format_dm, to_lonlat, transformer
from geodata.grid import Raster

APPROACH_KINDS = ("cable", "pipeline")
"""Kinds of existing infrastructure the route must keep its separation from."""

WINDOW_MARGIN = 1.1
"""The window left out round a crossing is this many times ``required / sin(angle)``, plus one sample step."""

MIN_WINDOW_ANGLE_DEG = 5.0
"""Crossings flatter than this get the window of a crossing at this angle (a 0-degree 'crossing' is a route running
along the feature: the crossing_angles check fails it)."""

DIVERGING_ANGLE_DEG = 10.0
"""A route leaving a crossing at this angle to the feature or more is still crossing it (see the module docstring)."""

APPROACH_COLUMNS = [
    "approach_no",
    "feature_id",
    "kind",
    "name",
    "kp_from_km",
    "kp_to_km",
    "length_m",
    "min_distance_m",
    "kp_min_km",
    "lat_deg",
    "lon_deg",
    "lat_dm",
    "lon_dm",
    "water_depth_m",
    "required_separation_m",
    "section",
    "allowed",
]


def required_separation_m(water_depth_m: Any, min_separation_m: float, depth_factor: float) -> np.ndarray:
    """The separation required at each water depth: ``max(min_separation_m, depth_factor * depth)``; unknown or
    negative depths (land, nodata) take the floor."""
    depth = np.asarray(water_depth_m, dtype=float)
    depth = np.where(np.isfinite(depth), np.maximum(depth, 0.0), 0.0)
    return np.maximum(min_separation_m, depth_factor * depth)


def crossing_window_m(separation_m: float, angle_deg: float) -> float:
    """Half-length of the route either side of a crossing that lies within ``separation_m`` of the crossed line only
    because it crosses it: ``separation / sin(angle)`` (the angle floored at :data:`MIN_WINDOW_ANGLE_DEG`)."""
    return separation_m / math.sin(math.radians(max(angle_deg, MIN_WINDOW_ANGLE_DEG)))


def is_allowed(feature_id: str, name: str, allow: Sequence[str]) -> bool:
    """Is the feature named in ``allow`` (by its id or its name, exactly)?"""
    return feature_id in allow or (bool(name) and name in allow)


def _runs(inside: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` sample indices of each contiguous run of True."""
    idx = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(int), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(idx[::2], idx[1::2], strict=True)]


def _diverging_end(dist: np.ndarray, inside: np.ndarray, start: int, direction: int, min_rise: float) -> int:
    """Last sample, walking from ``start`` in ``direction`` (+1/-1), of the stretch within the separation along
    which the distance to the feature keeps growing by at least ``min_rise`` per sample."""
    j = start
    while 0 <= j + direction < len(dist) and inside[j + direction] and dist[j + direction] - dist[j] >= min_rise:
        j += direction
    return j


def _edge(s: np.ndarray, f: np.ndarray, i: int, j: int) -> float:
    """Where ``f`` (distance less separation) crosses zero between samples ``i`` (inside) and ``j`` (neighbour);
    the inside sample itself when the neighbour is no further out (a crossing window or the route's end)."""
    if j < 0 or j >= len(s) or not f[j] > 0:
        return float(s[i])
    t = f[j] / (f[j] - f[i])
    return float(s[j] + t * (s[i] - s[j]))


def find_close_approaches(
    route: LineString,
    lines: gpd.GeoDataFrame,
    *,
    crs: Any,
    depth: Raster | None,
    min_separation_m: float,
    depth_factor: float,
    allow: Sequence[str] = (),
    kp_origin: tuple[float, float] | None = None,
    step_m: float = 50.0,
    land: BaseGeometry | None = None,
) -> gpd.GeoDataFrame:
    """Every stretch of the route within the required separation of a cable or pipeline, crossings left out.

    Parameters
    ----------
    route
        The final route in the analysis CRS ``crs``.
    lines
        The hazards table or any line features with ``hazard_id, kind, name`` (any CRS); only
        :data:`APPROACH_KINDS` are used.
    crs
        The analysis CRS.
    depth
        Water depth (m, positive down) on the analysis grid, for the depth term; None = the floor everywhere.
    min_separation_m, depth_factor
        ``Engineering.min_separation_m`` and ``Engineering.separation_depth_factor``.
    allow
        ``Engineering.allow_close_approach``: ids or names whose approaches are marked ``allowed``.
    kp_origin
        ``(lon, lat)`` of KP 0 (the first beach manhole); None = the route's start.
    step_m
        Sampling step along the route; stretch ends are interpolated between samples and the minimum distance is
        exact.
    land
        The land sections of the route (analysis CRS, e.g. station -> beach manhole -> shore crossing of each
        landfall): approaches there are listed with ``section = "land"``, all others ``"marine"``.

    Returns
    -------
    GeoDataFrame (EPSG:4326 lines: the stretch of route within the separation) with :data:`APPROACH_COLUMNS`, in
    KP order; ``lat_deg, lon_deg`` are the closest point on the route.
    """
    wanted = lines[lines["kind"].isin(list(APPROACH_KINDS))] if "kind" in lines.columns else lines.iloc[0:0]
    wanted = wanted[wanted.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    empty = gpd.GeoDataFrame(pd.DataFrame(columns=APPROACH_COLUMNS), geometry=[], crs=WGS84)
    if wanted.empty or route.length == 0:
        return empty
    parts = line_features(wanted, crs)
    n = max(math.ceil(route.length / step_m), 1)
    s = np.linspace(0.0, route.length, n + 1)
    pts = shapely.line_interpolate_point(route, s)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    water = depth.sample(x, y) if depth is not None else np.full(s.shape, np.nan)
    required = required_separation_m(water, min_separation_m, depth_factor)
    on_land = (
        shapely.dwithin(pts, land, 1.0) if land is not None and not land.is_empty else np.zeros(s.shape, dtype=bool)
    )
    crossed = route_crossings(route, parts)
    step = float(s[1] - s[0])
    near = parts[parts.geometry.dwithin(route, float(required.max()))]
    rows: list[dict[str, Any]] = []
    geoms: list[LineString] = []
    ch = Chainage(to_lonlat(route, crs), kp_origin)
    to_wgs = transformer(crs, WGS84)
    for fid, group in near.groupby("feature_id", sort=False):
        geom = shapely.union_all(np.asarray(group.geometry.values))
        kind, name = str(group["kind"].iloc[0]), group["name"].iloc[0]
        name = name if isinstance(name, str) else ""
        dist = shapely.distance(pts, geom)
        f = dist - required
        inside = f < 0
        keep = inside.copy()
        min_rise = step * math.sin(math.radians(DIVERGING_ANGLE_DEG))
        for c in crossed:
            if c["feature_id"] != fid:
                continue
            r_c = float(np.interp(c["route_distance_m"], s, required))
            w = crossing_window_m(r_c, c["angle_deg"]) * WINDOW_MARGIN + step
            keep[(s > c["route_distance_m"] - w) & (s < c["route_distance_m"] + w)] = False
            k = int(np.clip(np.searchsorted(s, c["route_distance_m"]), 0, len(s) - 1))
            lo, hi = k - 1 if k > 0 else k, k
            keep[_diverging_end(dist, inside, lo, -1, min_rise) : _diverging_end(dist, inside, hi, 1, min_rise) + 1] = (
                False
            )
        inside = keep
        runs = [(r, "marine") for r in _runs(inside & ~on_land)] + [(r, "land") for r in _runs(inside & on_land)]
        for (i0, i1), section in runs:
            a, b = _edge(s, f, i0, i0 - 1), _edge(s, f, i1, i1 + 1)
            if b - a < 1.0:
                a, b = max(a - 0.5, 0.0), min(b + 0.5, route.length)
            stretch = substring(route, a, b)
            on_route, _ = nearest_points(stretch, geom)
            d_min = float(on_route.distance(geom))
            lon, lat = to_wgs.transform(on_route.x, on_route.y)
            pa, pb = route.interpolate(a), route.interpolate(b)
            lon_ab, lat_ab = to_wgs.transform([pa.x, pb.x], [pa.y, pb.y])
            d_ab = [ch.locate(float(u), float(v)) for u, v in zip(lon_ab, lat_ab, strict=True)]
            d_at = ch.locate(float(lon), float(lat))
            depth_min = float(depth.sample(on_route.x, on_route.y)[0]) if depth is not None else math.nan
            if section == "land":
                depth_min = math.nan  # no water depth on land (the grid reads the land's height there)
            rows.append(
                {
                    "feature_id": str(fid),
                    "kind": kind,
                    "name": name,
                    "kp_from_km": float(ch.kp_km(d_ab[0])),
                    "kp_to_km": float(ch.kp_km(d_ab[1])),
                    "length_m": float(d_ab[1] - d_ab[0]),
                    "min_distance_m": d_min,
                    "kp_min_km": float(ch.kp_km(d_at)),
                    "lat_deg": float(lat),
                    "lon_deg": float(lon),
                    "lat_dm": format_dm(float(lat), "lat"),
                    "lon_dm": format_dm(float(lon), "lon"),
                    "water_depth_m": depth_min,
                    "required_separation_m": float(required_separation_m(depth_min, min_separation_m, depth_factor)),
                    "section": section,
                    "allowed": is_allowed(str(fid), name, allow),
                }
            )
            geoms.append(to_lonlat(stretch, crs))
    if not rows:
        return empty
    table = pd.DataFrame(rows)
    order = np.argsort(table["kp_from_km"].to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    table["approach_no"] = np.arange(1, len(table) + 1)
    return gpd.GeoDataFrame(table[APPROACH_COLUMNS], geometry=[geoms[i] for i in order], crs=WGS84)


def approach_events(approaches: pd.DataFrame | None) -> list[RouteEvent]:
    """One RPL event per approach, at its closest point; the KP range, length, distance and required separation go
    into the remarks."""
    events: list[RouteEvent] = []
    if approaches is None:
        return events
    for _, a in approaches.iterrows():
        kind = str(a["kind"]).replace("_", " ")
        label = f"{kind} {a['name'] or a['feature_id']}".strip()
        allowed = "; allowed by engineering.allow_close_approach" if a["allowed"] else ""
        if a.get("section") == "land":
            allowed += "; land section (shared landing; the separation applies to the marine route)"
        events.append(
            RouteEvent(
                CLOSE_APPROACH,
                f"CA{int(a['approach_no'])} {label}",
                float(a["lon_deg"]),
                float(a["lat_deg"]),
                f"closest approach to {label}: {a['min_distance_m']:.0f} m (required "
                f"{a['required_separation_m']:.0f} m); within the separation from KP {a['kp_from_km']:.3f} to "
                f"{a['kp_to_km']:.3f} ({a['length_m']:.0f} m); {kind} id {a['feature_id']}{allowed}",
                {
                    "feature_id": str(a["feature_id"]),
                    "kind": str(a["kind"]),
                    "min_distance_m": float(a["min_distance_m"]),
                    "kp_from_km": float(a["kp_from_km"]),
                    "kp_to_km": float(a["kp_to_km"]),
                },
            )
        )
    return events
