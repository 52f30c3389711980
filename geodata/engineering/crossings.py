"""Crossings of pipelines and cables: find them, measure their angle, and realign the route where it is too oblique.

A cable crosses existing pipelines and cables as near to 90° as it can: an oblique crossing is longer, harder to
protect (mattresses, separation) and harder to repair. Each crossed feature must be crossed at no less than a
minimum angle (``Engineering.min_crossing_angle_deg``, default 60°, or the feature's own
``crossing_min_angle_deg`` when it is stricter). :func:`enforce_crossing_angles` fixes an oblique crossing by
replacing a window of route around it with a dog-leg: two A/C points on a short straight leg through the same
crossing point, turned to the required angle, joined back to the route on either side. The smallest leg and window
that stay clear of hard exclusions and add no crossings are used.

Angles are measured in the analysis CRS (UTM is conformal, so local angles are true); positions are also reported
in WGS84 with KPs along the geodesic route.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString, Point
from shapely.ops import substring

from geodata.engineering.alter_course import IsClear, turn_deg
from geodata.engineering.events import CROSSING, RouteEvent
from geodata.errors import InputDataError
from geodata.geodesy import WGS84, Chainage, format_dm, to_lonlat, transformer

CROSSABLE_KINDS = ("pipeline", "cable")

CROSSING_COLUMNS = [
    "crossing_no",
    "feature_id",
    "kind",
    "name",
    "angle_deg",
    "min_angle_deg",
    "meets_min_angle",
    "kp_km",
    "lat_deg",
    "lon_deg",
    "lat_dm",
    "lon_dm",
    "x_m",
    "y_m",
    "route_distance_m",
]


def crossable_lines(hazards: gpd.GeoDataFrame, kinds: Sequence[str] = CROSSABLE_KINDS) -> gpd.GeoDataFrame:
    """The line features of the given kinds (pipelines and cables by default) of a hazards table."""
    if "kind" not in hazards.columns:
        raise InputDataError("the hazards table has no 'kind' column; load it with the hazards module")
    lines = hazards[
        hazards["kind"].isin(list(kinds)) & hazards.geometry.geom_type.isin(["LineString", "MultiLineString"])
    ]
    return lines


def _xy_to_lonlat(x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    t = transformer(CRS.from_user_input(crs), WGS84)
    lon, lat = t.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.atleast_1d(np.asarray(lon)), np.atleast_1d(np.asarray(lat))


def _unit(v: np.ndarray) -> np.ndarray:
    n = math.hypot(float(v[0]), float(v[1]))
    return v / n if n > 0 else v


def _direction_at(line: LineString, p: Point) -> np.ndarray:
    """Unit direction of the segment of ``line`` nearest to ``p`` (in the line's sense)."""
    c = np.asarray(line.coords, dtype=float)[:, :2]
    a, b = c[:-1], c[1:]
    ab = b - a
    den = np.where((ab**2).sum(axis=1) > 0, (ab**2).sum(axis=1), 1.0)
    t = np.clip(((p.x - a[:, 0]) * ab[:, 0] + (p.y - a[:, 1]) * ab[:, 1]) / den, 0, 1)
    d2 = (a[:, 0] + t * ab[:, 0] - p.x) ** 2 + (a[:, 1] + t * ab[:, 1] - p.y) ** 2
    return _unit(ab[int(np.argmin(d2))])


def acute_angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between two directions as lines, 0-90 degrees."""
    c = abs(float(np.dot(_unit(u), _unit(v))))
    return math.degrees(math.acos(min(1.0, c)))


def _prepare(lines: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    if lines.crs is None:
        raise InputDataError("the crossed lines have no CRS; set it (hazards are EPSG:4326)")
    frame = lines.to_crs(crs) if not lines.crs.equals(crs) else lines
    frame = frame.copy()
    frame["feature_id"] = frame["hazard_id"].astype(str) if "hazard_id" in frame.columns else frame.index.astype(str)
    if "kind" not in frame.columns:
        frame["kind"] = "line"
    if "name" not in frame.columns:
        frame["name"] = ""
    if "crossing_min_angle_deg" not in frame.columns:
        frame["crossing_min_angle_deg"] = np.nan
    return frame.explode(index_parts=False).reset_index(drop=True)


def _raw_crossings(route: LineString, frame: gpd.GeoDataFrame, min_angle_deg: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    shapely.prepare(route)
    hits = frame[frame.geometry.intersects(route)]
    for _, feat in hits.iterrows():
        geom = feat.geometry
        inter = route.intersection(geom)
        parts = getattr(inter, "geoms", [inter])
        own = feat["crossing_min_angle_deg"]
        own_f = pd.to_numeric(own, errors="coerce") if own is not None else math.nan
        required = float(max(min_angle_deg, own_f)) if np.isfinite(own_f) else float(min_angle_deg)
        for part in parts:
            if part.is_empty:
                continue
            if part.geom_type == "Point":
                p, angle = part, acute_angle_deg(_direction_at(route, part), _direction_at(geom, part))
            else:  # the route runs along the feature: a crossing at 0 degrees
                p, angle = part.interpolate(0.5, normalized=True), 0.0
            out.append(
                {
                    "feature_id": feat["feature_id"],
                    "kind": feat["kind"],
                    "name": feat["name"] if isinstance(feat["name"], str) else "",
                    "angle_deg": angle,
                    "min_angle_deg": required,
                    "x_m": p.x,
                    "y_m": p.y,
                    "route_distance_m": route.project(p),
                }
            )
    out.sort(key=lambda r: r["route_distance_m"])
    return out


def find_crossings(
    route: LineString,
    lines: gpd.GeoDataFrame,
    *,
    crs: Any,
    min_angle_deg: float = 60.0,
    kp_origin: tuple[float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Every crossing of the route with the given lines, in route order.

    Parameters
    ----------
    route
        The route in the analysis CRS ``crs``.
    lines
        Pipelines and cables (any CRS; see :func:`crossable_lines`), with ``hazard_id, kind, name`` and optionally
        ``crossing_min_angle_deg`` columns.
    crs
        The analysis CRS of ``route``.
    min_angle_deg
        Required crossing angle (a feature's own ``crossing_min_angle_deg`` applies when stricter).
    kp_origin
        ``(lon, lat)`` of KP 0 (the first beach manhole); None = the route's start.

    Returns
    -------
    GeoDataFrame (EPSG:4326 points) with the columns of :data:`CROSSING_COLUMNS`; ``angle_deg`` is 0-90.
    """
    frame = _prepare(lines, crs)
    raw = _raw_crossings(route, frame, min_angle_deg)
    table = pd.DataFrame(
        raw, columns=["feature_id", "kind", "name", "angle_deg", "min_angle_deg", "x_m", "y_m", "route_distance_m"]
    )
    lon, lat = _xy_to_lonlat(table["x_m"].to_numpy(), table["y_m"].to_numpy(), crs)
    if len(table):
        ch = Chainage(to_lonlat(route, crs), kp_origin)
        kp = [float(ch.kp_km(ch.locate(a, b))) for a, b in zip(lon, lat, strict=True)]
    else:
        kp = []
    table["crossing_no"] = np.arange(1, len(table) + 1)
    table["meets_min_angle"] = table["angle_deg"] >= table["min_angle_deg"] - 1e-9
    table["kp_km"] = kp
    table["lat_deg"] = lat
    table["lon_deg"] = lon
    table["lat_dm"] = [format_dm(v, "lat") for v in lat]
    table["lon_dm"] = [format_dm(v, "lon") for v in lon]
    return gpd.GeoDataFrame(table[CROSSING_COLUMNS], geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


def crossing_events(crossings: pd.DataFrame) -> list[RouteEvent]:
    """RPL events of a :func:`find_crossings` table (the angle goes into the remarks)."""
    events = []
    for _, c in crossings.iterrows():
        label = f"{c['kind']} {c['name'] or c['feature_id']}".strip()
        flag = "" if c["meets_min_angle"] else f" BELOW the {c['min_angle_deg']:.0f}° minimum"
        events.append(
            RouteEvent(
                CROSSING,
                f"X{int(c['crossing_no'])} {label}",
                float(c["lon_deg"]),
                float(c["lat_deg"]),
                f"crossing of {label} at {c['angle_deg']:.0f}°{flag}",
                {"feature_id": c["feature_id"], "angle_deg": float(c["angle_deg"])},
            )
        )
    return events


def _splice(route: LineString, s_from: float, s_to: float, middle: list[tuple[float, float]]) -> LineString:
    coords = np.asarray(route.coords, dtype=float)[:, :2]
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    before = [tuple(c) for c, s in zip(coords, along, strict=True) if s < s_from - 1e-6]
    after = [tuple(c) for c, s in zip(coords, along, strict=True) if s > s_to + 1e-6]
    q_in = route.interpolate(s_from).coords[0]
    q_out = route.interpolate(s_to).coords[0]
    pts = [*before, q_in, *middle, q_out, *after]
    out = [pts[0]]
    for p in pts[1:]:
        if math.dist(p, out[-1]) > 1e-6:
            out.append(p)
    return LineString(out)


def _feature_counts(route: LineString, frame: gpd.GeoDataFrame) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in _raw_crossings(route, frame, 0.0):
        counts[r["feature_id"]] = counts.get(r["feature_id"], 0) + 1
    return counts


def _fix_one(
    route: LineString,
    crossing: dict[str, Any],
    frame: gpd.GeoDataFrame,
    is_clear: IsClear,
    half_legs_m: Sequence[float],
    window_factors: Sequence[float],
    margin_deg: float,
    min_leg_m: float,
    max_turn_deg: float | None,
) -> tuple[LineString, float, float] | None:
    c = np.array([crossing["x_m"], crossing["y_m"]])
    feat = frame[frame["feature_id"] == crossing["feature_id"]]
    geom = shapely.union_all(np.asarray(feat.geometry.values))
    part = min(getattr(geom, "geoms", [geom]), key=lambda g: g.distance(Point(c)))
    f = _direction_at(part, Point(c))
    r = _direction_at(route, Point(c))
    alpha = math.radians(min(90.0, crossing["min_angle_deg"] + margin_deg))
    candidates = []
    for base in (f, -f):
        for sign in (1.0, -1.0):
            ca, sa = math.cos(sign * alpha), math.sin(sign * alpha)
            candidates.append(np.array([base[0] * ca - base[1] * sa, base[0] * sa + base[1] * ca]))
    u = max(candidates, key=lambda v: float(np.dot(v, r)))
    s_c = crossing["route_distance_m"]
    for d in half_legs_m:
        if 2 * d < min_leg_m - 1e-6:
            continue
        a1, a2 = c - d * u, c + d * u
        for factor in window_factors:
            span = d * factor
            s_from, s_to = s_c - span, s_c + span
            if s_from <= 0 or s_to >= route.length:
                continue
            q_in = np.asarray(route.interpolate(s_from).coords[0])
            q_out = np.asarray(route.interpolate(s_to).coords[0])
            legs = [(q_in, a1), (a1, a2), (a2, q_out)]
            if min(math.dist(q_in, a1), math.dist(a2, q_out)) < min_leg_m - 1e-6:
                continue
            if max_turn_deg is not None:
                before = np.asarray(route.interpolate(max(s_from - 1.0, 0.0)).coords[0])
                after = np.asarray(route.interpolate(min(s_to + 1.0, route.length)).coords[0])
                chain = [before, q_in, a1, a2, q_out, after]
                turns = [abs(turn_deg(chain[i - 1], chain[i], chain[i + 1])) for i in range(1, len(chain) - 1)]
                if max(turns) > max_turn_deg + 1e-9:
                    continue
            if not all(is_clear(*p, *q) for p, q in legs):
                continue
            new_route = _splice(route, s_from, s_to, [tuple(a1), tuple(a2)])
            old_window = substring(route, s_from, s_to)
            new_window = LineString([q_in, a1, a2, q_out])
            if _feature_counts(new_window, frame) != _feature_counts(old_window, frame):
                continue
            mine = [x for x in _raw_crossings(new_window, frame, 0.0) if x["feature_id"] == crossing["feature_id"]]
            if all(x["angle_deg"] >= crossing["min_angle_deg"] - 1e-9 for x in mine):
                return new_route, d, span
    return None


def enforce_crossing_angles(
    route: LineString,
    lines: gpd.GeoDataFrame,
    *,
    crs: Any,
    min_angle_deg: float,
    is_clear: IsClear,
    half_legs_m: Sequence[float] = (250.0, 500.0, 1000.0, 2000.0, 4000.0),
    window_factors: Sequence[float] = (2.0, 3.0, 5.0, 8.0, 12.0),
    margin_deg: float = 5.0,
    min_leg_length_m: float = 0.0,
    max_course_change_deg: float | None = None,
    kp_origin: tuple[float, float] | None = None,
) -> tuple[LineString, pd.DataFrame]:
    """Realign the route locally wherever it crosses a pipeline or cable below the minimum angle.

    Parameters
    ----------
    route
        The route in the analysis CRS (after :func:`geodata.alter_course.simplify_to_legs`).
    lines
        Pipelines and cables (see :func:`crossable_lines`).
    crs
        The analysis CRS.
    min_angle_deg
        ``Engineering.min_crossing_angle_deg`` (a feature's own stricter ``crossing_min_angle_deg`` wins).
    is_clear
        ``is_clear(x0, y0, x1, y1)``: may a leg run there (see :func:`geodata.alter_course.mask_clearance`)?
    half_legs_m
        Candidate half-lengths of the straight crossing leg, tried smallest first.
    window_factors
        Candidate half-widths of the replaced window of route, as multiples of the half-leg, smallest first.
    margin_deg
        The crossing leg is set at ``min_angle + margin`` (at most 90°) so later rounding cannot fall below.
    min_leg_length_m, max_course_change_deg
        The leg rules (``Engineering``) the dog-leg must also honour; 0 / None = not checked.
    kp_origin
        ``(lon, lat)`` of KP 0 for the report.

    Returns
    -------
    (route, report)
        The realigned route and one report row per original crossing: ``feature_id, kind, name, kp_km,
        angle_before_deg, angle_after_deg, min_angle_deg, status`` (``ok``, ``realigned`` or ``failed``),
        ``half_leg_m, window_m``.
    """
    frame = _prepare(lines, crs)
    original = _raw_crossings(route, frame, min_angle_deg)
    done: dict[tuple[str, int, int], tuple[float, float]] = {}
    failed: set[tuple[str, int, int]] = set()

    def key(c: dict[str, Any]) -> tuple[str, int, int]:
        return (str(c["feature_id"]), round(c["x_m"] / 50.0), round(c["y_m"] / 50.0))

    current = route
    for _ in range(4 * len(original) + 1):
        todo = [
            c
            for c in _raw_crossings(current, frame, min_angle_deg)
            if c["angle_deg"] < c["min_angle_deg"] - 1e-9 and key(c) not in failed
        ]
        if not todo:
            break
        c = todo[0]
        fixed = _fix_one(
            current,
            c,
            frame,
            is_clear,
            half_legs_m,
            window_factors,
            margin_deg,
            min_leg_length_m,
            max_course_change_deg,
        )
        if fixed is None:
            failed.add(key(c))
            continue
        current, d, span = fixed
        done[key(c)] = (d, span)
    final = _raw_crossings(current, frame, min_angle_deg)
    ch = Chainage(to_lonlat(current, crs), kp_origin)
    rows = []
    for c in original:
        same = [f for f in final if f["feature_id"] == c["feature_id"]]
        after = min(same, key=lambda f: math.hypot(f["x_m"] - c["x_m"], f["y_m"] - c["y_m"])) if same else None
        ok_before = c["angle_deg"] >= c["min_angle_deg"] - 1e-9
        ok_after = after is not None and after["angle_deg"] >= after["min_angle_deg"] - 1e-9
        status = "ok" if ok_before else ("realigned" if ok_after else "failed")
        d, span = done.get(key(c), (math.nan, math.nan))
        point = after or c
        lon, lat = _xy_to_lonlat(np.array([point["x_m"]]), np.array([point["y_m"]]), crs)
        rows.append(
            {
                "feature_id": c["feature_id"],
                "kind": c["kind"],
                "name": c["name"],
                "kp_km": float(ch.kp_km(ch.locate(float(lon[0]), float(lat[0])))),
                "angle_before_deg": c["angle_deg"],
                "angle_after_deg": after["angle_deg"] if after is not None else math.nan,
                "min_angle_deg": float(c["min_angle_deg"]),
                "status": status,
                "half_leg_m": d,
                "window_m": 2 * span if math.isfinite(span) else math.nan,
            }
        )
    return current, pd.DataFrame(
        rows,
        columns=[
            "feature_id",
            "kind",
            "name",
            "kp_km",
            "angle_before_deg",
            "angle_after_deg",
            "min_angle_deg",
            "status",
            "half_leg_m",
            "window_m",
        ],
    )
