"""Comparing routes: scenario against scenario, and design against as-laid.

A :class:`RouteRecord` is what a comparison needs of one route: its line (WGS84, station to station, geodesic legs,
KP 0 at its first vertex as in the RPL: :data:`geodata.deliverables.rpl.KP_BASIS`), its RPL position and segment
tables, its depth profile, its crossings and (optionally) the hazards near it. From two or more records:

- :func:`metrics_table`: length, cable length, cost, A/C count, crossings by kind, maximum water depth and slope,
  length per seabed sector and per cable type, and km of route within ``hazard_distance_m`` of each hazard kind;
- :func:`hausdorff_m` and :func:`frechet_m`: the Hausdorff and the discrete Fréchet distance between two routes
  (vertices densified to ``step_m``, in a metric CRS: the UTM zone of the first route's midpoint);
- :func:`kp_translation`: for each KP of route A (every ``interval_m``), the nearest point of route B, its KP on B
  and the signed cross-track offset (positive to starboard of A, looking along increasing KP).

The same KP translation compares a design route with the route as laid (:mod:`geodata.deliverables.aslaid`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString

from geodata.errors import InputDataError
from geodata.geodesy import Chainage, cross_track, line_tangents, transformer

TANGENT_STEP_M = 50.0
"""Half the chord used for a route's direction at a KP."""


@dataclass
class RouteRecord:
    """One route as a comparison reads it (a scenario's publication, or an as-laid RPL)."""

    name: str
    line: LineString
    """WGS84 lon/lat, station to station; KP 0 at the first vertex."""
    positions: pd.DataFrame
    """RPL positions (:data:`geodata.deliverables.rpl.POSITION_COLUMNS`; at least ``lat_deg``, ``lon_deg``,
    ``kp_km``)."""
    segments: pd.DataFrame | None = None
    profile: pd.DataFrame | None = None
    crossings: pd.DataFrame | None = None
    cost: float = math.nan
    hazards: gpd.GeoDataFrame | None = None


def metric_crs(line: LineString) -> CRS:
    """The UTM zone of the midpoint of a lon/lat line (the metric CRS distances between routes are measured in)."""
    lon, lat = line.interpolate(0.5, normalized=True).coords[0][:2]
    zone = math.floor((lon + 180.0) / 6.0) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _projected(line: LineString, crs: CRS) -> LineString:
    xy = np.asarray(line.coords, dtype=float)[:, :2]
    x, y = transformer("EPSG:4326", crs).transform(xy[:, 0], xy[:, 1])
    return LineString(np.column_stack([x, y]))


def densified_xy(line: LineString, crs: CRS, step_m: float) -> np.ndarray:
    """``(n, 2)`` points every ``step_m`` or less along the geodesic legs of ``line``, projected to ``crs``."""
    dense, _ = Chainage(line).densified(step_m)
    xy = np.asarray(dense.coords, dtype=float)
    x, y = transformer("EPSG:4326", crs).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def hausdorff_m(a: LineString, b: LineString, *, step_m: float = 200.0) -> float:
    """Hausdorff distance (m) between two lon/lat routes: their geodesic legs densified to ``step_m``, projected,
    and each segment sampled at a quarter of its length."""
    crs = metric_crs(a)
    pa, pb = LineString(densified_xy(a, crs, step_m)), LineString(densified_xy(b, crs, step_m))
    return float(shapely.hausdorff_distance(pa, pb, densify=0.25))


def frechet_m(a: LineString, b: LineString, *, step_m: float = 1000.0) -> float:
    """Discrete Fréchet distance (m) between two lon/lat routes: their vertices densified to ``step_m`` along the
    geodesic legs, the classic coupling recurrence (Eiter and Mannila 1994)."""
    crs = metric_crs(a)
    p, q = densified_xy(a, crs, step_m), densified_xy(b, crs, step_m)
    d = np.hypot(p[:, None, 0] - q[None, :, 0], p[:, None, 1] - q[None, :, 1])
    ca = np.empty_like(d)
    ca[0] = np.maximum.accumulate(d[0])
    for i in range(1, len(p)):
        prev = ca[i - 1]
        row = np.empty(len(q))
        row[0] = max(prev[0], d[i, 0])
        best = np.minimum(prev[1:], prev[:-1])  # ca[i-1, j], ca[i-1, j-1]
        for j in range(1, len(q)):
            row[j] = max(min(best[j - 1], row[j - 1]), d[i, j])
        ca[i] = row
    return float(ca[-1, -1])


def kp_translation(a: LineString, b: LineString, *, interval_m: float = 1000.0) -> pd.DataFrame:
    """For each KP of ``a`` (every ``interval_m``, KP 0 at its first vertex, geodesic): its position, the nearest
    point of ``b`` with its KP on ``b``, and the signed cross-track offset in metres (positive to starboard of ``a``
    looking along increasing KP)."""
    crs = metric_crs(a)
    ch_a, ch_b = Chainage(a), Chainage(b)
    d = ch_a.stations(interval_m, include_vertices=False)
    lon, lat = ch_a.point_at(d)
    to_xy = transformer("EPSG:4326", crs)
    x, y = to_xy.transform(lon, lat)
    xy = np.column_stack([x, y])
    pa, pb = _projected(Chainage(a).densified(200.0)[0], crs), _projected(Chainage(b).densified(200.0)[0], crs)
    along = shapely.line_locate_point(pa, shapely.points(xy))
    offset, foot = cross_track(xy, line_tangents(pa, along, TANGENT_STEP_M), pb)
    blon, blat = transformer(crs, "EPSG:4326").transform(foot[:, 0], foot[:, 1])
    kp_b = np.array([ch_b.locate(float(o), float(t)) for o, t in zip(blon, blat, strict=True)]) / 1000.0
    return pd.DataFrame(
        {
            "kp_km": ch_a.kp_km(d),
            "lon_deg": lon,
            "lat_deg": lat,
            "other_kp_km": kp_b,
            "other_lon_deg": blon,
            "other_lat_deg": blat,
            "offset_m": offset,
        }
    )


def _km_near_hazards(rec: RouteRecord, distance_m: float) -> dict[str, float]:
    """km of the route's profile within ``distance_m`` of each hazard kind (profile points x their spacing)."""
    if rec.hazards is None or not len(rec.hazards) or rec.profile is None or len(rec.profile) < 2:
        return {}
    crs = metric_crs(rec.line)
    prof = rec.profile
    spacing_km = float(np.median(np.diff(prof["kp_km"].to_numpy(dtype=float))))
    pts = gpd.GeoSeries(gpd.points_from_xy(prof["lon_deg"], prof["lat_deg"]), crs="EPSG:4326").to_crs(crs)
    hz = rec.hazards.to_crs(crs)
    out = {}
    for kind, group in hz.groupby("kind"):
        merged = shapely.union_all(group.geometry.to_numpy())
        near = shapely.distance(pts.to_numpy(), merged) <= distance_m
        out[f"km_within_{distance_m:.0f}_m_of_{kind}"] = round(float(near.sum()) * spacing_km, 3)
    return out


def route_metrics(rec: RouteRecord, *, hazard_distance_m: float = 2000.0) -> dict[str, Any]:
    """The comparison metrics of one route (module docstring), by name."""
    pos = rec.positions
    out: dict[str, Any] = {
        "length_km": round(Chainage(rec.line).length_m / 1000.0, 3),
        "cable_length_km": round(float(pos["cable_kp_km"].max()), 3) if "cable_kp_km" in pos else math.nan,
        "cost": round(rec.cost, 1),
        "alter_course_count": int((pos["event"] == "A/C").sum()) if "event" in pos else 0,
    }
    crossings = rec.crossings if rec.crossings is not None else pd.DataFrame({"kind": []})
    out["crossing_count"] = len(crossings)
    for kind, n in crossings["kind"].value_counts().sort_index().items():
        out[f"crossings_{kind}_count"] = int(n)
    if rec.profile is not None and len(rec.profile):
        sea = rec.profile[rec.profile.get("surface", "sea") != "land"] if "surface" in rec.profile else rec.profile
        out["max_water_depth_m"] = round(float(sea["water_depth_m"].max()), 0) if len(sea) else math.nan
        out["max_slope_deg"] = round(float(rec.profile["slope_deg"].max()), 1)
    if rec.segments is not None and len(rec.segments):
        seg = rec.segments
        if "sector" in seg:
            for sector, km in seg.groupby(seg["sector"].fillna("").replace("", "none"))["distance_km"].sum().items():
                out[f"sector_{sector}_km"] = round(float(km), 3)
        if "cable_code" in seg:
            for code, km in seg.groupby("cable_code")["distance_km"].sum().items():
                out[f"cable_{code}_km"] = round(float(km), 3)
    out |= _km_near_hazards(rec, hazard_distance_m)
    return out


METRIC_GROUPS = ("crossings_", "max_", "sector_", "cable_", "km_within_", "hausdorff_", "frechet_")
"""Order of the metric groups in the table, after the route's own figures (length, cable length, cost, counts)."""


FIRST_METRICS = ("length_km", "cable_length_km", "cost", "alter_course_count", "crossing_count")


def _metric_order(key: str) -> tuple[int, int, str]:
    if key in FIRST_METRICS:
        return (0, FIRST_METRICS.index(key), "")
    group = next((i for i, p in enumerate(METRIC_GROUPS, start=1) if key.startswith(p)), len(METRIC_GROUPS) + 1)
    return (group, 0, key)


def metrics_table(records: Sequence[RouteRecord], *, hazard_distance_m: float = 2000.0) -> pd.DataFrame:
    """One row per metric, one column per route (``name``), and for two routes ``difference`` (second - first);
    the Hausdorff and discrete Fréchet distance of every route from the first close the table."""
    if len(records) < 2:
        raise InputDataError(f"a comparison needs at least two routes, got {len(records)}; name two scenarios")
    names = [r.name for r in records]
    if len(set(names)) != len(names):
        raise InputDataError(f"routes to compare must have distinct names, got {names}")
    per = {r.name: route_metrics(r, hazard_distance_m=hazard_distance_m) for r in records}
    first = records[0]
    for r in records:
        per[r.name]["hausdorff_from_first_km"] = round(hausdorff_m(first.line, r.line) / 1000.0, 3)
        per[r.name]["frechet_from_first_km"] = round(frechet_m(first.line, r.line) / 1000.0, 3)
    keys = sorted(dict.fromkeys(k for r in records for k in per[r.name]), key=_metric_order)
    table = pd.DataFrame({"metric": keys})
    counted = ("crossings_", "sector_", "cable_", "km_within_")  # absent from a route = none of it
    for r in records:
        values = [per[r.name].get(k, 0 if k.startswith(counted) else math.nan) for k in keys]
        table[r.name] = pd.Series(values, dtype=object)  # counts stay integers beside the km
    if len(records) == 2:
        a, b = (table[r.name].astype(float) for r in records)
        table["difference"] = (b - a).round(6)
    return table
