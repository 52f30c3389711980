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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

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
"""Kinds the route may cross only at a minimum angle (and that :func:`enforce_crossing_angles` realigns)."""
REPORTED_KINDS = ("pipeline", "cable", "shipping_lane", "fault")
"""Line kinds whose every crossing is an RPL event (angle reported; only :data:`CROSSABLE_KINDS` have a minimum)."""

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


class RawCrossing(TypedDict):
    """One crossing of the route with a line feature, in the analysis CRS (metres along the route)."""

    feature_id: str
    kind: str
    name: str
    angle_deg: float
    min_angle_deg: float
    x_m: float
    y_m: float
    route_distance_m: float


def _required_angle(own: float | str | None, min_angle_deg: float) -> float:
    """The crossing angle a feature requires: ``min_angle_deg``, or the feature's own value when it is stricter."""
    own_f = pd.to_numeric(own, errors="coerce") if own is not None else math.nan
    if not np.isfinite(own_f):
        return float(min_angle_deg)
    return float(own_f) if not np.isfinite(min_angle_deg) else float(max(min_angle_deg, own_f))


def _feature_crossings(route: LineString, feat: pd.Series, required: float) -> list[RawCrossing]:
    """The crossings of the route with one (single-part) feature; where the route runs along it, a 0° crossing at
    the middle of the shared stretch."""
    geom = feat.geometry
    out: list[RawCrossing] = []
    for part in shapely.get_parts(route.intersection(geom)):
        if part.is_empty:
            continue
        if part.geom_type == "Point":
            p, angle = part, acute_angle_deg(_direction_at(route, part), _direction_at(geom, part))
        else:  # the route runs along the feature: a crossing at 0 degrees
            p, angle = part.interpolate(0.5, normalized=True), 0.0
        out.append(
            RawCrossing(
                feature_id=feat["feature_id"],
                kind=feat["kind"],
                name=feat["name"] if isinstance(feat["name"], str) else "",
                angle_deg=angle,
                min_angle_deg=required,
                x_m=p.x,
                y_m=p.y,
                route_distance_m=route.project(p),
            )
        )
    return out


def _raw_crossings(
    route: LineString,
    frame: gpd.GeoDataFrame,
    min_angle_deg: float,
    ruled_kinds: Sequence[str] | None = None,
) -> list[RawCrossing]:
    """Every crossing of the route with the features of a :func:`_prepare` frame, in route order.

    ``min_angle_deg`` applies to the features of ``ruled_kinds`` (None = every feature); others keep only their own
    ``crossing_min_angle_deg``, NaN when they have none (no angle requirement)."""
    out: list[RawCrossing] = []
    shapely.prepare(route)
    hits = frame[frame.geometry.intersects(route)]
    for _, feat in hits.iterrows():
        if ruled_kinds is None or feat["kind"] in ruled_kinds:
            required = _required_angle(feat["crossing_min_angle_deg"], min_angle_deg)
        else:
            required = _required_angle(feat["crossing_min_angle_deg"], math.nan)
        out += _feature_crossings(route, feat, required)
    out.sort(key=lambda r: r["route_distance_m"])
    return out


def line_features(lines: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Line features in ``crs``, one row per part, with ``feature_id`` (the ``hazard_id``), ``kind``, ``name`` and
    ``crossing_min_angle_deg`` (the frame the crossing and approach analyses work on)."""
    return _prepare(lines, crs)


def route_crossings(route: LineString, features: gpd.GeoDataFrame) -> list[RawCrossing]:
    """Every crossing of the route with a :func:`line_features` frame, in route order, with no angle rule."""
    return _raw_crossings(route, features, math.nan)


def find_crossings(
    route: LineString,
    lines: gpd.GeoDataFrame,
    *,
    crs: Any,
    min_angle_deg: float = 60.0,
    kp_origin: tuple[float, float] | None = None,
    ruled_kinds: Sequence[str] | None = CROSSABLE_KINDS,
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
        Required crossing angle of the ``ruled_kinds`` (a feature's own ``crossing_min_angle_deg`` applies when
        stricter).
    kp_origin
        ``(lon, lat)`` of KP 0 (the first beach manhole); None = the route's start.
    ruled_kinds
        Kinds ``min_angle_deg`` applies to (default pipelines and cables); other kinds (shipping lanes, faults: see
        :data:`REPORTED_KINDS`) are reported with their angle and ``min_angle_deg`` NaN unless they have their own.
        None = every kind.

    Returns
    -------
    GeoDataFrame (EPSG:4326 points) with the columns of :data:`CROSSING_COLUMNS`; ``angle_deg`` is 0-90;
    ``meets_min_angle`` is True where there is no minimum.
    """
    frame = _prepare(lines, crs)
    raw = _raw_crossings(route, frame, min_angle_deg, ruled_kinds)
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
    table["meets_min_angle"] = table["min_angle_deg"].isna() | (table["angle_deg"] >= table["min_angle_deg"] - 1e-9)
    table["kp_km"] = kp
    table["lat_deg"] = lat
    table["lon_deg"] = lon
    table["lat_dm"] = [format_dm(v, "lat") for v in lat]
    table["lon_dm"] = [format_dm(v, "lon") for v in lon]
    return gpd.GeoDataFrame(table[CROSSING_COLUMNS], geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


def crossing_events(crossings: pd.DataFrame) -> list[RouteEvent]:
    """RPL events of a :func:`find_crossings` table: what is crossed (kind, name) and at which angle, then the
    crossed feature's kind and id, in the remarks (``crossing of <kind> <name> at <angle>°[ BELOW ...]; <kind> id
    <id>``)."""
    events = []
    for _, c in crossings.iterrows():
        kind = str(c["kind"]).replace("_", " ")
        label = f"{kind} {c['name'] or c['feature_id']}".strip()
        below = not c["meets_min_angle"] and pd.notna(c["min_angle_deg"])
        flag = f" BELOW the {c['min_angle_deg']:.0f}° minimum" if below else ""
        events.append(
            RouteEvent(
                CROSSING,
                f"X{int(c['crossing_no'])} {label}",
                float(c["lon_deg"]),
                float(c["lat_deg"]),
                f"crossing of {label} at {c['angle_deg']:.0f}°{flag}; {kind} id {c['feature_id']}",
                {
                    "feature_id": c["feature_id"],
                    "kind": str(c["kind"]),
                    "angle_deg": float(c["angle_deg"]),
                    "kp_km": float(c["kp_km"]),
                },
            )
        )
    return events


def _splice(route: LineString, s_from: float, s_to: float, middle: list[tuple[float, float]]) -> LineString:
    """The route with its stretch from ``s_from`` to ``s_to`` metres replaced by straight legs through ``middle``."""
    coords = np.asarray(route.coords, dtype=float)[:, :2]
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    q_in = shapely.line_interpolate_point(route, s_from).coords[0]
    q_out = shapely.line_interpolate_point(route, s_to).coords[0]
    pts = [*coords[along < s_from - 1e-6], q_in, *middle, q_out, *coords[along > s_to + 1e-6]]
    return shapely.remove_repeated_points(LineString(pts), 1e-6)


def _feature_counts(route: LineString, frame: gpd.GeoDataFrame) -> Counter[str]:
    """How many times the route crosses each feature."""
    return Counter(r["feature_id"] for r in _raw_crossings(route, frame, 0.0))


def _meets_min_angle(c: RawCrossing) -> bool:
    """Is the crossing at least at its required angle (to rounding)?"""
    return c["angle_deg"] >= c["min_angle_deg"] - 1e-9


@dataclass(frozen=True)
class _DogLegRules:
    """What a dog-leg must satisfy and the sizes tried for it (see :func:`enforce_crossing_angles`)."""

    is_clear: IsClear
    half_legs_m: Sequence[float]
    window_factors: Sequence[float]
    margin_deg: float
    min_leg_m: float
    max_turn_deg: float | None


def _crossing_direction(
    route: LineString, crossing: RawCrossing, frame: gpd.GeoDataFrame, margin_deg: float
) -> np.ndarray:
    """Unit direction of the new crossing leg: at the required angle plus ``margin_deg`` (at most 90°) to the crossed
    feature, on the side nearest the route's own direction there."""
    c = Point(crossing["x_m"], crossing["y_m"])
    feat = frame[frame["feature_id"] == crossing["feature_id"]]
    geom = shapely.union_all(np.asarray(feat.geometry.values))
    part = min(shapely.get_parts(geom), key=lambda g: g.distance(c))
    f = _direction_at(part, c)
    r = _direction_at(route, c)
    alpha = math.radians(min(90.0, crossing["min_angle_deg"] + margin_deg))
    candidates = []
    for base in (f, -f):
        for sign in (1.0, -1.0):
            ca, sa = math.cos(sign * alpha), math.sin(sign * alpha)
            candidates.append(np.array([base[0] * ca - base[1] * sa, base[0] * sa + base[1] * ca]))
    return max(candidates, key=lambda v: float(np.dot(v, r)))


def _max_turn_deg(route: LineString, s_from: float, s_to: float, window: Sequence[np.ndarray]) -> float:
    """The largest course change where the polyline ``window`` replaces the route from ``s_from`` to ``s_to``,
    including the turns onto and off the route (its direction taken 1 m outside the window)."""
    before = np.asarray(route.interpolate(max(s_from - 1.0, 0.0)).coords[0])
    after = np.asarray(route.interpolate(min(s_to + 1.0, route.length)).coords[0])
    chain = [before, *window, after]
    return max(abs(turn_deg(chain[i - 1], chain[i], chain[i + 1])) for i in range(1, len(chain) - 1))


def _keeps_crossings(
    route: LineString,
    s_from: float,
    s_to: float,
    new_window: LineString,
    crossing: RawCrossing,
    frame: gpd.GeoDataFrame,
) -> bool:
    """Does the new window cross every feature as often as the old one, and the realigned feature at its angle?"""
    if _feature_counts(new_window, frame) != _feature_counts(substring(route, s_from, s_to), frame):
        return False
    mine = [x for x in _raw_crossings(new_window, frame, 0.0) if x["feature_id"] == crossing["feature_id"]]
    return all(x["angle_deg"] >= crossing["min_angle_deg"] - 1e-9 for x in mine)


def _dog_leg(
    route: LineString,
    crossing: RawCrossing,
    frame: gpd.GeoDataFrame,
    rules: _DogLegRules,
    u: np.ndarray,
    d: float,
    span: float,
    *,
    window_at: float | None = None,
) -> LineString | None:
    """The route with a dog-leg of half-length ``d`` in direction ``u`` through the crossing, replacing ``span``
    metres of route either side of ``window_at`` (default: the crossing's own distance along the route); None when
    it breaks a rule (window off the route, short legs, sharp turns, not clear, crossings gained or lost, or still
    too oblique)."""
    c = np.array([crossing["x_m"], crossing["y_m"]])
    a1, a2 = c - d * u, c + d * u
    at = crossing["route_distance_m"] if window_at is None else window_at
    s_from, s_to = at - span, at + span
    if s_from <= 0 or s_to >= route.length:
        return None
    q_in = np.asarray(route.interpolate(s_from).coords[0])
    q_out = np.asarray(route.interpolate(s_to).coords[0])
    if min(math.dist(q_in, a1), math.dist(a2, q_out)) < rules.min_leg_m - 1e-6:
        return None
    if rules.max_turn_deg is not None and _max_turn_deg(route, s_from, s_to, [q_in, a1, a2, q_out]) > (
        rules.max_turn_deg + 1e-9
    ):
        return None
    if not all(rules.is_clear(*p, *q) for p, q in [(q_in, a1), (a1, a2), (a2, q_out)]):
        return None
    if not _keeps_crossings(route, s_from, s_to, LineString([q_in, a1, a2, q_out]), crossing, frame):
        return None
    return _splice(route, s_from, s_to, [tuple(a1), tuple(a2)])


CROSSING_SHIFTS_M = (500.0, -500.0, 1000.0, -1000.0, 2000.0, -2000.0, 4000.0, -4000.0)
"""Distances along the crossed feature to which the crossing may move when no dog-leg through the original crossing
point fits (land, an exclusion or the leg rules in the way): a local re-route, reported as ``shifted_m``."""


def _shifted(crossing: RawCrossing, frame: gpd.GeoDataFrame, offset_m: float) -> RawCrossing | None:
    """The crossing moved ``offset_m`` along its feature (None off the feature's ends)."""
    c = Point(crossing["x_m"], crossing["y_m"])
    feat = frame[frame["feature_id"] == crossing["feature_id"]]
    part = min(shapely.get_parts(shapely.union_all(np.asarray(feat.geometry.values))), key=lambda g: g.distance(c))
    s = part.project(c) + offset_m
    if s <= 0.0 or s >= part.length:
        return None
    p = part.interpolate(s)
    return RawCrossing(**{**crossing, "x_m": float(p.x), "y_m": float(p.y)})


def _fix_one(
    route: LineString, crossing: RawCrossing, frame: gpd.GeoDataFrame, rules: _DogLegRules
) -> tuple[LineString, float, float, float] | None:
    """The smallest dog-leg (half-leg first, then window) that fixes one oblique crossing, through the crossing
    point or, when none fits there, through a point moved along the feature (nearest first): ``(route, half_leg,
    half_window, shift)``, or None."""
    for shift in (0.0, *CROSSING_SHIFTS_M):
        at = _shifted(crossing, frame, shift) if shift else crossing
        if at is None:
            continue
        u = _crossing_direction(route, at, frame, rules.margin_deg)
        window_at = route.project(Point(at["x_m"], at["y_m"]))  # the stretch of route nearest the new crossing
        for d in rules.half_legs_m:
            if 2 * d < rules.min_leg_m - 1e-6:
                continue
            for factor in rules.window_factors:
                fixed = _dog_leg(route, at, frame, rules, u, d, d * factor, window_at=window_at)
                if fixed is not None:
                    return fixed, d, d * factor, shift
    return None


_Key = tuple[str, int, int]


def _key(c: RawCrossing) -> _Key:
    """A crossing's identity across realignments: its feature and its position to 50 m."""
    return (str(c["feature_id"]), round(c["x_m"] / 50.0), round(c["y_m"] / 50.0))


def _realign(
    route: LineString, frame: gpd.GeoDataFrame, min_angle_deg: float, rules: _DogLegRules, rounds: int
) -> tuple[LineString, dict[_Key, tuple[float, float, float]]]:
    """Fix the first oblique crossing not yet given up on, again and again (at most ``rounds`` times): the realigned
    route and the ``(half_leg, half_window, shift along the feature)`` used for each fixed crossing."""
    done: dict[_Key, tuple[float, float, float]] = {}
    failed: set[_Key] = set()
    current = route
    for _ in range(rounds):
        todo = [
            c
            for c in _raw_crossings(current, frame, min_angle_deg)
            if c["angle_deg"] < c["min_angle_deg"] - 1e-9 and _key(c) not in failed
        ]
        if not todo:
            break
        fixed = _fix_one(current, todo[0], frame, rules)
        if fixed is None:
            failed.add(_key(todo[0]))
            continue
        current, d, span, shift = fixed
        done[_key(todo[0])] = (d, span, shift)
    return current, done


REPORT_COLUMNS = [
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
    "shifted_m",
]


def _report_row(
    c: RawCrossing,
    final: Sequence[RawCrossing],
    done: dict[_Key, tuple[float, float, float]],
    ch: Chainage,
    crs: Any,
) -> dict[str, str | float]:
    """The report row of an original crossing: its nearest crossing of the same feature on the final route, and
    whether it was ``ok`` already, ``realigned`` or ``failed``."""
    same = [f for f in final if f["feature_id"] == c["feature_id"]]
    after = min(same, key=lambda f: math.hypot(f["x_m"] - c["x_m"], f["y_m"] - c["y_m"])) if same else None
    ok_after = after is not None and _meets_min_angle(after)
    status = "ok" if _meets_min_angle(c) else ("realigned" if ok_after else "failed")
    d, span, shift = done.get(_key(c), (math.nan, math.nan, math.nan))
    point = after if after is not None else c
    lon, lat = _xy_to_lonlat(np.array([point["x_m"]]), np.array([point["y_m"]]), crs)
    return {
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
        "shifted_m": shift,
    }


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
        The route in the analysis CRS (after :func:`geodata.engineering.alter_course.simplify_to_legs`).
    lines
        Pipelines and cables (see :func:`crossable_lines`).
    crs
        The analysis CRS.
    min_angle_deg
        ``Engineering.min_crossing_angle_deg`` (a feature's own stricter ``crossing_min_angle_deg`` wins).
    is_clear
        ``is_clear(x0, y0, x1, y1)``: may a leg run there (see :func:`geodata.engineering.alter_course.mask_clearance`)?
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
        ``half_leg_m, window_m, shifted_m`` (how far along the feature the crossing moved: 0 when the dog-leg runs
        through the original crossing point; a local re-route where land or an exclusion leaves no room there).
    """
    frame = _prepare(lines, crs)
    original = _raw_crossings(route, frame, min_angle_deg)
    rules = _DogLegRules(is_clear, half_legs_m, window_factors, margin_deg, min_leg_length_m, max_course_change_deg)
    current, done = _realign(route, frame, min_angle_deg, rules, rounds=4 * len(original) + 1)
    final = _raw_crossings(current, frame, min_angle_deg)
    ch = Chainage(to_lonlat(current, crs), kp_origin)
    rows = [_report_row(c, final, done, ch, crs) for c in original]
    return current, pd.DataFrame(rows, columns=REPORT_COLUMNS)
