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
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import numpy.typing as npt
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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


# -- sampling rasters ---------------------------------------------------------------------------------------------


def sample_lonlat(raster: Raster, lon: npt.ArrayLike, lat: npt.ArrayLike, *, method: str = "bilinear") -> FloatArray:
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


def band_index(depth_m: npt.ArrayLike, bands: Sequence[CableBand]) -> IntArray:
    """Index of the band of each depth (lower bound inclusive); land and NaN take the shallowest band, depths beyond
    the deepest band the deepest."""
    z = np.nan_to_num(np.atleast_1d(np.asarray(depth_m, dtype=float)), nan=-1.0)
    edges = np.array([b.min_depth_m for b in bands[1:]])
    return np.searchsorted(edges, z, side="right")


class CableSection(NamedTuple):
    """A stretch of one cable type: distances from the route's start and the index of its band."""

    from_m: float
    to_m: float
    band: int


def cable_sections(
    profile_distance_m: npt.ArrayLike, profile_depth_m: npt.ArrayLike, bands: Sequence[CableBand], min_section_m: float
) -> list[CableSection]:
    """Sections ``(from_m, to_m, band index)`` of constant cable type along a depth profile.

    Boundaries are placed where the depth crosses the band limit (linear between samples). Sections shorter than
    ``min_section_m`` are merged into the more protective (shallower) of their neighbours, repeatedly.
    """
    d = np.asarray(profile_distance_m, dtype=float)
    z = np.asarray(profile_depth_m, dtype=float)
    sections = _band_sections(d, z, bands)
    while len(sections) > 1 and min(s.to_m - s.from_m for s in sections) < min_section_m:
        sections = _join_equal(_absorb_shortest(sections))
    return [CableSection(float(s.from_m), float(s.to_m), int(s.band)) for s in sections]


def _band_sections(d: FloatArray, z: FloatArray, bands: Sequence[CableBand]) -> list[CableSection]:
    """Sections of one band along the profile, cut where the depth crosses the band limit (linear between the two
    samples; halfway when the step skips a band or a depth is missing)."""
    idx = band_index(z, bands)
    sections: list[CableSection] = []
    start = d[0]
    for i in np.flatnonzero(idx[1:] != idx[:-1]) + 1:
        lo, hi = sorted((idx[i - 1], idx[i]))
        limit = bands[hi].min_depth_m
        z0, z1 = z[i - 1], z[i]
        if hi - lo == 1 and np.isfinite(z0) and np.isfinite(z1) and z1 != z0:
            f = float(np.clip((limit - z0) / (z1 - z0), 0.0, 1.0))
        else:
            f = 0.5
        cut = d[i - 1] + f * (d[i] - d[i - 1])
        sections.append(CableSection(start, cut, int(idx[i - 1])))
        start = cut
    sections.append(CableSection(start, d[-1], int(idx[-1])))
    return sections


def _absorb_shortest(sections: Sequence[CableSection]) -> list[CableSection]:
    """The sections with the shortest one given to the more protective (shallower band) of its neighbours."""
    out = list(sections)
    k = int(np.argmin([s.to_m - s.from_m for s in out]))
    neighbours = [j for j in (k - 1, k + 1) if 0 <= j < len(out)]
    j = min(neighbours, key=lambda n: out[n].band)
    out[j] = out[j]._replace(to_m=out[k].to_m) if j < k else out[j]._replace(from_m=out[k].from_m)
    del out[k]
    return out


def _join_equal(sections: Sequence[CableSection]) -> list[CableSection]:
    """Consecutive sections of the same band joined into one."""
    joined = [sections[0]]
    for s in sections[1:]:
        if s.band == joined[-1].band:
            joined[-1] = joined[-1]._replace(to_m=s.to_m)
        else:
            joined.append(s)
    return joined


def _order(kind: str) -> int:
    """Rank of an event kind when two positions fall on the same distance (unknown kinds last)."""
    return EVENT_ORDER.index(kind) if kind in EVENT_ORDER else len(EVENT_ORDER)


def _first_bmh(events: Sequence[RouteEvent]) -> tuple[float, float] | None:
    """``(lon, lat)`` of the first beach manhole among the events, or None."""
    for ev in events:
        if ev.kind == BEACH_MANHOLE:
            return (ev.lon_deg, ev.lat_deg)
    return None


def _append_remark(remarks: str, text: str) -> str:
    """``remarks`` with ``text`` added after a semicolon (or ``text`` alone when there are no remarks yet)."""
    return (remarks + "; " if remarks else "") + text


# -- RPL positions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """A position of the RPL along the route, before it is measured.

    ``vertex`` is the index of the route vertex (A/C point) the position stands on, None for an event between
    vertices; ``course_change_deg`` is the signed course change there (0 when the route goes straight on).
    """

    distance_m: float
    kind: str
    name: str = ""
    remarks: str = ""
    vertex: int | None = None
    course_change_deg: float = 0.0

    @property
    def sort_key(self) -> tuple[float, int]:
        """KP order; on one distance, the order of :data:`EVENT_ORDER`."""
        return (self.distance_m, _order(self.kind))


@dataclass(frozen=True)
class RplRow:
    """One row of the RPL as written out; the fields are :data:`RPL_COLUMNS`, in order."""

    pos_no: int
    event: str
    name: str
    lat_deg: float
    lon_deg: float
    lat_dm: str
    lon_dm: str
    kp_km: float
    leg_bearing_deg: float
    leg_length_km: float
    course_change_deg: float
    water_depth_m: float
    slope_deg: float
    cable_type: str
    burial_depth_m: float
    slack_pct: float
    cable_length_km: float
    remarks: str


RPL_COLUMNS = [f.name for f in fields(RplRow)]


def _profile_sections(
    ch: Chainage, depth: Raster, interval_m: float, bands: Sequence[CableBand], min_section_m: float
) -> list[CableSection]:
    """Sections of constant cable type, decided on the depth profile sampled every ``interval_m``."""
    distance = ch.stations(interval_m)
    lon, lat = ch.point_at(distance)
    return cable_sections(distance, sample_lonlat(depth, lon, lat), bands, min_section_m)


def _vertex_positions(ch: Chainage) -> list[Position]:
    """One A/C position per route vertex (named and classified later by :func:`_name_vertices`)."""
    return [Position(float(d), ALTER_COURSE, vertex=i) for i, d in enumerate(ch.cum_m)]


def _event_positions(ch: Chainage, events: Sequence[RouteEvent], merge_tolerance_m: float) -> list[Position]:
    """The events snapped to their nearest route point; one further off than ``max(merge_tolerance_m, 5 m)`` says
    so in its remarks."""
    if not events:
        return []
    distance = [ch.locate(ev.lon_deg, ev.lat_deg) for ev in events]
    lon, lat = ch.point_at(distance)
    _, _, off = GEOD.inv([ev.lon_deg for ev in events], [ev.lat_deg for ev in events], lon, lat)
    far = max(merge_tolerance_m, 5.0)
    return [
        Position(d, ev.kind, ev.name, _append_remark(ev.remarks, f"{o:.0f} m off the route") if o > far else ev.remarks)
        for ev, d, o in zip(events, distance, np.asarray(off, dtype=float), strict=True)
    ]


def _cable_change_positions(sections: Sequence[CableSection], bands: Sequence[CableBand]) -> list[Position]:
    """A cable-type change at the start of every section but the first."""
    return [
        Position(
            nxt.from_m,
            CABLE_TYPE_CHANGE,
            f"{bands[prev.band].cable_type} -> {bands[nxt.band].cable_type}",
            f"cable type change at the {bands[max(prev.band, nxt.band)].min_depth_m:g} m band limit",
        )
        for prev, nxt in itertools.pairwise(sections)
    ]


def _merge_positions(
    vertices: Sequence[Position], others: Sequence[Position], merge_tolerance_m: float
) -> list[Position]:
    """All positions in KP order, an event within ``merge_tolerance_m`` of a still plain A/C point taking that
    A/C's row (its kind, name and remarks on the vertex's exact distance).

    Events are taken in KP order; each is matched with the nearest position listed so far (vertices first, then
    the events already given rows of their own), so a vertex carries at most one event.
    """
    listed = list(vertices)
    for pos in sorted(others, key=lambda p: p.sort_key):
        j = int(np.argmin([abs(v.distance_m - pos.distance_m) for v in listed]))
        v = listed[j]
        if abs(v.distance_m - pos.distance_m) <= merge_tolerance_m and v.kind == ALTER_COURSE:
            listed[j] = replace(v, kind=pos.kind, name=pos.name, remarks=pos.remarks)
        else:
            listed.append(pos)
    return sorted(listed, key=lambda p: p.sort_key)


def _name_vertices(positions: Sequence[Position], course_changes_deg: np.ndarray) -> list[Position]:
    """Vertex positions named by what they are: route start/end, numbered A/C points where the course changes by
    0.05° or more, straight-through vertices otherwise; turns get their course change and a remark."""
    last = len(course_changes_deg) - 1
    n_ac = 0
    named = []
    for pos in positions:
        i = pos.vertex
        if i is None:
            named.append(pos)
            continue
        cc = float(course_changes_deg[i])
        is_turn = 0 < i < last and abs(cc) >= 0.05
        kind, name, remarks = pos.kind, pos.name, pos.remarks
        if kind == ALTER_COURSE:
            if i in (0, last):
                kind, name = (ROUTE_START, "Route start") if i == 0 else (ROUTE_END, "Route end")
            elif is_turn:
                n_ac += 1
                name = f"A/C {n_ac}"
            else:
                kind, name = VERTEX, "straight-through vertex"
        if is_turn:
            side = "starboard" if cc > 0 else "port"
            text = f"alter course {abs(cc):.1f}° to {side}"
            remarks = f"{remarks}; {text}" if remarks and kind != ALTER_COURSE else text
        named.append(replace(pos, kind=kind, name=name, remarks=remarks, course_change_deg=cc if is_turn else 0.0))
    return named


# -- RPL measurements ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionMeasures:
    """What is measured at the RPL positions (arrays, one value per position, in KP order)."""

    distance_m: FloatArray
    lon: FloatArray
    lat: FloatArray
    water_depth_m: FloatArray
    slope_deg: FloatArray
    leg_bearing_deg: FloatArray
    """True bearing of the geodesic leg to the next position (NaN at the last one)."""
    leg_length_m: FloatArray
    """Length of that leg (NaN at the last one)."""


def _position_lonlat(ch: Chainage, positions: Sequence[Position]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distances and ``(lon, lat)`` of the positions: on the route at their distance, vertices at their exact
    coordinates."""
    distance = np.array([p.distance_m for p in positions])
    lon, lat = ch.point_at(distance)
    vertex = np.array([-1 if p.vertex is None else p.vertex for p in positions])
    on_vertex = vertex >= 0
    lon[on_vertex], lat[on_vertex] = ch.lon[vertex[on_vertex]], ch.lat[vertex[on_vertex]]
    return distance, lon, lat


def _measure_positions(ch: Chainage, positions: Sequence[Position], depth: Raster, slope: Raster) -> PositionMeasures:
    """Coordinates, water depth and slope at each position, and the geodesic leg from it to the next."""
    distance, lon, lat = _position_lonlat(ch, positions)
    az, _, length = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return PositionMeasures(
        distance_m=distance,
        lon=lon,
        lat=lat,
        water_depth_m=sample_lonlat(depth, lon, lat),
        slope_deg=sample_lonlat(slope, lon, lat),
        leg_bearing_deg=np.append(np.mod(np.asarray(az, dtype=float), 360.0), np.nan),
        leg_length_m=np.append(np.asarray(length, dtype=float), np.nan),
    )


def _section_bands(distance_m: FloatArray, sections: Sequence[CableSection]) -> IntArray:
    """Band index of the section each distance starts a leg in (a position on a section start takes the new one)."""
    starts = np.array([sec.from_m for sec in sections])
    k = np.maximum(np.searchsorted(starts, distance_m + 1e-6, side="right") - 1, 0)
    return np.array([sec.band for sec in sections])[k]


def _cable_length_km(
    distance_m: FloatArray, origin_m: float, sections: Sequence[CableSection], bands: Sequence[CableBand]
) -> FloatArray:
    """Cable length including the planned slack from KP 0 to each distance, section by section (negative on the
    land side of KP 0)."""
    lo = np.minimum(distance_m, origin_m)[:, None]
    hi = np.maximum(distance_m, origin_m)[:, None]
    sign = np.where(distance_m >= origin_m, 1.0, -1.0)
    start = np.array([sec.from_m for sec in sections])
    end = np.array([sec.to_m for sec in sections])
    factor = np.array([1 + bands[sec.band].slack_pct / 100.0 for sec in sections])
    overlap = np.minimum(end, hi) - np.maximum(start, lo)
    with_slack = np.where(overlap > 0, overlap * factor, 0.0)
    # a running sum adds the sections in route order, as a hand-written loop would
    return sign * np.cumsum(with_slack, axis=1)[:, -1] / 1000.0


def _row_remarks(remarks: str, distance_m: float, depth_m: float, origin_m: float, merge_tolerance_m: float) -> str:
    """The position's remarks, plus a note when it lies on the land side of KP 0 or on land."""
    if distance_m < origin_m - merge_tolerance_m:
        remarks = _append_remark(remarks, "land section, before KP 0")
    if np.isfinite(depth_m) and depth_m < 0:
        remarks = _append_remark(remarks, f"on land ({-depth_m:.0f} m above the Caspian surface)")
    return remarks


def _rpl_rows(
    ch: Chainage,
    positions: Sequence[Position],
    measures: PositionMeasures,
    sections: Sequence[CableSection],
    bands: Sequence[CableBand],
    merge_tolerance_m: float,
) -> list[RplRow]:
    """The RPL rows: each position with its coordinates, KP, leg, depth, cable type and cumulative cable length."""
    band_of_row = _section_bands(measures.distance_m, sections)
    cable_km = _cable_length_km(measures.distance_m, ch.origin_m, sections, bands)
    kp_km = ch.kp_km(measures.distance_m)
    rows = []
    for k, pos in enumerate(positions):
        lat, lon = float(measures.lat[k]), float(measures.lon[k])
        z = float(measures.water_depth_m[k])
        band = bands[int(band_of_row[k])]
        rows.append(
            RplRow(
                pos_no=k + 1,
                event=pos.kind,
                name=pos.name,
                lat_deg=lat,
                lon_deg=lon,
                lat_dm=format_dm(lat, "lat"),
                lon_dm=format_dm(lon, "lon"),
                kp_km=float(kp_km[k]),
                leg_bearing_deg=float(measures.leg_bearing_deg[k]),
                leg_length_km=float(measures.leg_length_m[k] / 1000.0),
                course_change_deg=pos.course_change_deg,
                water_depth_m=z,
                slope_deg=float(measures.slope_deg[k]),
                cable_type=band.cable_type,
                burial_depth_m=band.burial_depth_m,
                slack_pct=band.slack_pct,
                cable_length_km=float(cable_km[k]),
                remarks=_row_remarks(pos.remarks, float(measures.distance_m[k]), z, ch.origin_m, merge_tolerance_m),
            )
        )
    return rows


def _rpl_frame(rows: Sequence[RplRow], ch: Chainage, *, from_bmh: bool) -> gpd.GeoDataFrame:
    """The rows as a GeoDataFrame of EPSG:4326 points, with the conventions in ``attrs``."""
    frame = pd.DataFrame([asdict(r) for r in rows], columns=RPL_COLUMNS)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon_deg, frame.lat_deg), crs=WGS84)
    gdf.attrs.update(
        kp_origin="first beach manhole" if from_bmh else "route start",
        legs="WGS84 geodesics",
        depth_datum="below the Caspian surface (-28 m Baltic), positive down",
        route_length_km=ch.length_m / 1000.0,
    )
    return gdf


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
    sections = _profile_sections(ch, depth, engineering.profile_interval_m, bands, min_section)
    others = [*_event_positions(ch, events, merge_tolerance_m), *_cable_change_positions(sections, bands)]
    positions = _merge_positions(_vertex_positions(ch), others, merge_tolerance_m)
    positions = _name_vertices(positions, ch.course_changes_deg())
    measures = _measure_positions(ch, positions, depth, slope)
    rows = _rpl_rows(ch, positions, measures, sections, bands, merge_tolerance_m)
    return _rpl_frame(rows, ch, from_bmh=origin is not None)


def write_rpl_csv(rpl: pd.DataFrame, path: str | Path) -> Path:
    """Write the RPL as CSV (no geometry column; lat/lon to 1e-6 degrees, KP and lengths to the metre)."""
    missing = [c for c in RPL_COLUMNS if c not in rpl.columns]
    if missing:
        raise InputDataError(f"RPL table lacks columns {missing}; build it with geodata.deliverables.rpl.build_rpl")
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
