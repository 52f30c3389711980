"""Route Position List (RPL), kilometre points and the depth/slope profile along a route.

Conventions (those of the submarine-cable trade, stated once here and used by every table, file and metadata value
built from the RPL: the GeoPackage ``rpl`` layer, the CSVs, the Excel workbook, the KML and the Dagster metadata):

- **Two tables.** The *position table* has one row per position (A/C point or event; events at one position are
  one row whose ``events``, ``name`` and ``remarks`` list all of them) with its coordinates, route KP, cable KP and
  water depth. The *segment table* has one row per stretch from a position to the next with its bearing, distance,
  slack, cable length, cable type, burial and sector. No row describes a leg it does not name, and no segment has
  zero length (positions within ``merge_tolerance_m``, 1 m, are one position).
- **KP basis: KP 0 at the first landing station** (the route's start, where the cable system starts). Route KP
  is the geodesic distance along the route; cable KP is the cumulative cable length with the planned slack. Both
  grow from 0 along the whole route, the land sections included, so no KP or cable length is ever negative. The
  beach manholes carry their own KP (e.g. KP 5.959 at BMH Siyazan); the land section is the stretch whose
  ``surface`` is ``land``.
- **Legs are WGS84 geodesics** between consecutive positions. Every distance and KP is measured on the WGS84
  ellipsoid with :class:`pyproj.Geod` (Karney's algorithm), never in the projected analysis CRS.
- **Bearings** are true (clockwise from true north, 0-360): the initial bearing of the geodesic from a segment's
  first position to its second.
- **Land and sea** follow the coastline (its water polygon), not the sign of the gridded depth: a position on land
  prints no water depth, one on the coastline (within 5 m) prints 0 m, and one at sea prints the sampled depth
  unless the grid reads land there (then none). Each such disagreement is noted in the remarks and counted.
- **Depths** are water depths below the Caspian surface, positive down (the surface is about 28 m below ocean mean
  sea level; the 1998-2003 seabed treaties take -28 m Baltic).
- **Cable types** follow the depth bands of ``Engineering.cable_bands`` (lower bound inclusive), decided on the
  profile and smoothed so that no section is shorter than ``min_cable_section_m`` (a short section takes the more
  protective type of its neighbours). A cable-type change is a position, so each segment has one type.
- **Slack** is planned per segment: cable length = distance x (1 + slack_pct / 100).
- **Precision** (the trade's): KP, distances and cable lengths 0.001 km, depths 1 m, bearings and angles 0.1 deg,
  positions 1e-6 deg and 0.001 minute (:func:`rounded`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from geodata.engineering.events import (
    ALTER_COURSE,
    CABLE_TYPE_CHANGE,
    EVENT_ORDER,
    ROUTE_END,
    ROUTE_START,
    SECTOR_BOUNDARY,
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


# -- land, shore and sea ------------------------------------------------------------------------------------------

LAND, SHORE, SEA = "land", "shore", "sea"
SHORE_TOLERANCE_M = 5.0
"""A position this close to the coastline is on the shore: water depth 0 by definition of the waterline."""


def classify_surface(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    water: BaseGeometry | None,
    depth_m: npt.ArrayLike,
    *,
    shore_tolerance_m: float | None = SHORE_TOLERANCE_M,
) -> list[str]:
    """``"sea"``, ``"land"`` or ``"shore"`` at each point, from the coastline's water polygon (EPSG:4326).

    A point inside the water polygon is at sea, outside it on land, and within ``shore_tolerance_m`` (geodesic) of
    its edge on the shore (None: no shore test, which is slow on a detailed coastline for many points). With no
    water polygon the depth sign decides (depth > 0 is sea).
    """
    x = np.atleast_1d(np.asarray(lon, dtype=float))
    y = np.atleast_1d(np.asarray(lat, dtype=float))
    if water is None:
        z = np.atleast_1d(np.asarray(depth_m, dtype=float))
        return [SEA if np.isfinite(v) and v > 0 else LAND for v in z]
    pts = shapely.points(x, y)
    shapely.prepare(water)
    inside = shapely.contains(water, pts) | shapely.touches(water, pts)
    out = [SEA if i else LAND for i in inside]
    if shore_tolerance_m is not None and len(x):
        foot = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(water.boundary, pts), 0))
        _, _, off = GEOD.inv(foot[:, 0], foot[:, 1], x, y)
        out = [SHORE if o <= shore_tolerance_m else s for s, o in zip(out, np.atleast_1d(off), strict=True)]
    return out


def water_depth_on_surface(surface: Sequence[str], depth_m: npt.ArrayLike) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """The water depth to print at each point and where the bathymetry disagrees with the coastline.

    At sea the sampled depth (none where the grid reads land there); on the shore 0; on land none (where the grid
    reads water there, that is a disagreement too). Returns ``(depth, disagrees)``.
    """
    z = np.atleast_1d(np.asarray(depth_m, dtype=float))
    kind = np.asarray(surface, dtype=object)
    sea, land = kind == SEA, kind == LAND
    disagrees = np.isfinite(z) & ((sea & (z < 0)) | (land & (z > 0)))
    out = np.where(sea & (z >= 0), z, np.nan)
    out = np.where(kind == SHORE, 0.0, out)
    return out, disagrees


# -- sector boundary events ---------------------------------------------------------------------------------------


def sector_boundary_events(boundary_points: pd.DataFrame) -> list[RouteEvent]:
    """RPL events of the sector-boundary points of :func:`geodata.engineering.sectors.sector_crossing_report`,
    named as the notification lists them: ``Enter AZE sector`` (from land or unassigned water), ``Leave KAZ sector``
    (onto land or unassigned water), ``AZE/KAZ sector boundary`` (between two sectors)."""
    events = []
    for _, p in boundary_points.iterrows():
        a, b = (str(c) if isinstance(c, str) and c else None for c in (p["from_country"], p["to_country"]))
        if a and b:
            name, remarks = f"{a}/{b} sector boundary", f"leaves the {a} seabed sector, enters the {b} sector"
        elif b:
            name, remarks = f"Enter {b} sector", f"enters the {b} seabed sector"
        elif a:
            name, remarks = f"Leave {a} sector", f"leaves the {a} seabed sector"
        else:
            continue
        events.append(RouteEvent(SECTOR_BOUNDARY, name, float(p["lon_deg"]), float(p["lat_deg"]), remarks))
    return events


# -- RPL tables ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RplPosition:
    """One row of the position table (the events at one position merged): the fields of :data:`POSITION_COLUMNS`.

    ``event`` is the first event kind (in :data:`EVENT_ORDER`), ``events`` all of them; ``cable_type`` is the type
    of the cable at the position (at a cable-type change, the type after it; the segment table says which type
    each segment has).
    """

    pos_no: int
    event: str
    events: str
    name: str
    lat_deg: float
    lon_deg: float
    lat_dm: str
    lon_dm: str
    kp_km: float
    cable_kp_km: float
    water_depth_m: float
    surface: str
    course_change_deg: float
    slope_deg: float
    cable_type: str
    remarks: str


@dataclass(frozen=True)
class RplSegment:
    """One row of the segment table, from a position to the next: the fields of :data:`SEGMENT_COLUMNS`."""

    seg_no: int
    from_pos: int
    to_pos: int
    from_kp_km: float
    to_kp_km: float
    bearing_deg: float
    distance_km: float
    slack_pct: float
    cable_length_km: float
    cable_type: str
    cable_code: str
    burial_depth_m: float
    sector: str
    surface: str


POSITION_COLUMNS = [f.name for f in fields(RplPosition)]
SEGMENT_COLUMNS = [f.name for f in fields(RplSegment)]
RPL_COLUMNS = POSITION_COLUMNS

KP_BASIS = (
    "KP 0 at the first landing station (the route's start); route KP and cable KP (cumulative cable length with "
    "the planned slack) grow along the route, land sections included and labelled as land"
)

# Precision of the trade: KP and distances 1 m, depth 1 m, bearings and angles 0.1 deg, positions 1e-6 deg.
DECIMALS = {"km": 3, "depth_m": 0, "m": 1, "deg": 1, "lonlat_deg": 6, "pct": 1}


def decimals_of(column: str) -> int | None:
    """Decimals a numeric column of the deliverables is printed with, from its unit suffix (None: leave it)."""
    if column in ("lat_deg", "lon_deg") or column.endswith(("_lat_deg", "_lon_deg")):
        return DECIMALS["lonlat_deg"]
    if column.endswith("depth_m") and "burial" not in column:  # water depth 1 m; burial depth 0.1 m
        return DECIMALS["depth_m"]
    for suffix in ("km", "m", "deg", "pct"):
        if column.endswith("_" + suffix):
            return DECIMALS[suffix]
    return None


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every float column rounded to the precision of its unit (:func:`decimals_of`)."""
    out = frame.copy()
    for col in out.columns:
        nd = decimals_of(str(col))
        if nd is not None and pd.api.types.is_float_dtype(out[col].dtype):
            out[col] = out[col].round(nd) + 0.0  # + 0.0 turns -0.0 into 0.0
    return out


@dataclass(frozen=True)
class _Merged:
    """The events at one position, merged: distance, kinds, names and remarks, vertex and course change."""

    distance_m: float
    kinds: tuple[str, ...]
    names: tuple[str, ...]
    remarks: tuple[str, ...]
    vertex: int | None
    course_change_deg: float


def _merge_coincident(positions: Sequence[Position], tolerance_m: float) -> list[_Merged]:
    """Positions within ``tolerance_m`` of the first of a run merged into one (a vertex's coordinates win)."""
    runs: list[list[Position]] = []
    for p in sorted(positions, key=lambda q: q.sort_key):
        if runs and p.distance_m - runs[-1][0].distance_m <= tolerance_m:
            runs[-1].append(p)
        else:
            runs.append([p])
    merged = []
    for run in runs:
        on_vertex = [p for p in run if p.vertex is not None]
        anchor = on_vertex[0] if on_vertex else run[0]
        run = sorted(run, key=lambda q: _order(q.kind))
        merged.append(
            _Merged(
                distance_m=anchor.distance_m,
                kinds=tuple(dict.fromkeys(p.kind for p in run)),
                names=tuple(dict.fromkeys(p.name for p in run if p.name)),
                remarks=tuple(dict.fromkeys(p.remarks for p in run if p.remarks)),
                vertex=anchor.vertex,
                course_change_deg=sum(p.course_change_deg for p in run),
            )
        )
    return merged


def _coordinates(ch: Chainage, merged: Sequence[_Merged]) -> tuple[FloatArray, FloatArray]:
    """``(lon, lat)`` of the merged positions: on the route at their distance, vertices at their own coordinates."""
    lon, lat = ch.point_at([m.distance_m for m in merged])
    for k, m in enumerate(merged):
        if m.vertex is not None:
            lon[k], lat[k] = ch.lon[m.vertex], ch.lat[m.vertex]
    return lon, lat


def _sector_at(kp_km: FloatArray, sector_spans: pd.DataFrame | None) -> list[str]:
    """ISO3 code of the seabed sector at each KP from the sector report's spans ('' outside any sector)."""
    if sector_spans is None or not len(sector_spans):
        return ["" for _ in kp_km]
    lo = sector_spans["kp_from_km"].to_numpy(dtype=float)
    who = [c if isinstance(c, str) else "" for c in sector_spans["country"]]
    k = np.clip(np.searchsorted(lo, kp_km, side="right") - 1, 0, len(lo) - 1)
    return [who[i] for i in k]


def _cable_code(cable_type: str) -> str:
    """The short code of a cable type: ``DA`` of ``DA (double armoured)``."""
    return cable_type.split("(")[0].strip() or cable_type


@dataclass
class RplTables:
    """The RPL as two tables and what the coastline check found.

    ``positions`` (EPSG:4326 points, :data:`POSITION_COLUMNS`), ``segments`` (EPSG:4326 geodesic lines,
    :data:`SEGMENT_COLUMNS`), ``surface_disagreements``: positions where the bathymetry's sign contradicts the
    coastline (water depth read on land, or land height read at sea); those print no depth.
    """

    positions: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    surface_disagreements: int


def _remarks(m: _Merged, surface: str, raw_depth: float, disagrees: bool) -> str:
    parts = list(m.remarks)
    if surface == LAND:
        parts.append("land section")
    elif surface == SHORE:
        parts.append("at the coastline")
    if disagrees:
        if surface == LAND:
            parts.append(f"bathymetry reads {raw_depth:.0f} m of water; the coastline says land")
        else:
            parts.append(f"bathymetry reads land ({-raw_depth:.0f} m above the surface) at sea; depth not given")
    return "; ".join(dict.fromkeys(parts))


def build_rpl_tables(
    route_lonlat: LineString,
    events: Sequence[RouteEvent],
    depth: Raster,
    slope: Raster,
    engineering: Engineering,
    *,
    water: BaseGeometry | None = None,
    sector_spans: pd.DataFrame | None = None,
    merge_tolerance_m: float = 1.0,
    min_cable_section_m: float | None = None,
) -> RplTables:
    """The Route Position List as a position table and a segment table.

    Parameters
    ----------
    route_lonlat
        The final route in WGS84 lon/lat (station -> beach manhole -> ... -> beach manhole -> station); its vertices
        are the A/C points and its legs are geodesics. KP 0 is its first vertex (:data:`KP_BASIS`).
    events
        Landing stations, beach manholes, shore crossings, crossings and sector-boundary crossings; cable-type
        changes are added here from the depth profile.
    depth, slope
        Water depth (m, positive down) and seabed slope (degrees) on the analysis grid.
    engineering
        Cable bands (type, burial, slack by depth) and the profile interval used to place cable-type changes.
    water
        The coastline's water polygon (EPSG:4326): it decides land, shore and sea; None = the depth sign decides.
    sector_spans
        The sector report's spans (``kp_from_km``, ``country``) on the same KP basis, for each segment's sector.
    merge_tolerance_m
        Positions this close are one row (its event, name and remarks list all of them): no zero-length segments.
    min_cable_section_m
        Shortest section of one cable type (default ``engineering.min_cable_section_m``).
    """
    bands = validate_bands(engineering.cable_bands)
    ch = Chainage(route_lonlat)
    min_section = engineering.min_cable_section_m if min_cable_section_m is None else min_cable_section_m
    sections = _profile_sections(ch, depth, engineering.profile_interval_m, bands, min_section)
    others = [*_event_positions(ch, events, merge_tolerance_m), *_cable_change_positions(sections, bands)]
    positions = _name_vertices(
        _merge_positions(_vertex_positions(ch), others, merge_tolerance_m), ch.course_changes_deg()
    )
    merged = _merge_coincident(positions, merge_tolerance_m)
    distance = np.array([m.distance_m for m in merged])
    lon, lat = _coordinates(ch, merged)
    raw = sample_lonlat(depth, lon, lat)
    surface = classify_surface(lon, lat, water, raw)
    printed, disagrees = water_depth_on_surface(surface, raw)
    az, _, leg_m = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    leg_m = np.asarray(leg_m, dtype=float)
    mid_m = (distance[:-1] + distance[1:]) / 2.0
    seg_band = _section_bands(mid_m, sections)
    factor = np.array([1.0 + bands[b].slack_pct / 100.0 for b in seg_band])
    cable_kp_km = np.concatenate([[0.0], np.cumsum(leg_m * factor)]) / 1000.0
    pos_band = _section_bands(distance, sections)
    slope_at = sample_lonlat(slope, lon, lat)
    rows = [
        RplPosition(
            pos_no=k + 1,
            event=m.kinds[0],
            events="; ".join(m.kinds),
            name="; ".join(m.names),
            lat_deg=float(lat[k]),
            lon_deg=float(lon[k]),
            lat_dm=format_dm(float(lat[k]), "lat"),
            lon_dm=format_dm(float(lon[k]), "lon"),
            kp_km=float(distance[k] / 1000.0),
            cable_kp_km=float(cable_kp_km[k]),
            water_depth_m=float(printed[k]),
            surface=surface[k],
            course_change_deg=m.course_change_deg,
            slope_deg=float(slope_at[k]) if surface[k] != LAND else float("nan"),
            cable_type=bands[int(pos_band[k])].cable_type,
            remarks=_remarks(m, surface[k], float(raw[k]), bool(disagrees[k])),
        )
        for k, m in enumerate(merged)
    ]
    mid_lon, mid_lat = ch.point_at(mid_m)
    seg_surface = classify_surface(
        mid_lon, mid_lat, water, sample_lonlat(depth, mid_lon, mid_lat), shore_tolerance_m=None
    )
    sector = _sector_at(mid_m / 1000.0, sector_spans)
    segs, lines = [], []
    for k in range(len(merged) - 1):
        band = bands[int(seg_band[k])]
        segs.append(
            RplSegment(
                seg_no=k + 1,
                from_pos=k + 1,
                to_pos=k + 2,
                from_kp_km=float(distance[k] / 1000.0),
                to_kp_km=float(distance[k + 1] / 1000.0),
                bearing_deg=float(np.mod(az[k], 360.0)),
                distance_km=float(leg_m[k] / 1000.0),
                slack_pct=band.slack_pct,
                cable_length_km=float(leg_m[k] * factor[k] / 1000.0),
                cable_type=band.cable_type,
                cable_code=_cable_code(band.cable_type),
                burial_depth_m=band.burial_depth_m if seg_surface[k] == SEA else float("nan"),
                sector=sector[k] if seg_surface[k] == SEA else "",
                surface=seg_surface[k],
            )
        )
        seg_line, _ = Chainage(LineString([(lon[k], lat[k]), (lon[k + 1], lat[k + 1])])).densified(1000.0)
        lines.append(seg_line)
    pos_frame = rounded(pd.DataFrame([asdict(r) for r in rows], columns=POSITION_COLUMNS))
    pos_gdf = gpd.GeoDataFrame(pos_frame, geometry=gpd.points_from_xy(pos_frame.lon_deg, pos_frame.lat_deg), crs=WGS84)
    seg_frame = rounded(pd.DataFrame([asdict(s) for s in segs], columns=SEGMENT_COLUMNS))
    seg_gdf = gpd.GeoDataFrame(seg_frame, geometry=gpd.GeoSeries(lines, crs=WGS84), crs=WGS84)
    return RplTables(pos_gdf, seg_gdf, int(disagrees.sum()))


def build_rpl(
    route_lonlat: LineString,
    events: Sequence[RouteEvent],
    depth: Raster,
    slope: Raster,
    engineering: Engineering,
    **kwargs: Any,
) -> gpd.GeoDataFrame:
    """The position table of :func:`build_rpl_tables` (same arguments)."""
    return build_rpl_tables(route_lonlat, events, depth, slope, engineering, **kwargs).positions


def _section_bands(distance_m: FloatArray, sections: Sequence[CableSection]) -> IntArray:
    """Band index of the section each distance lies in (a distance on a section start takes the new one)."""
    starts = np.array([sec.from_m for sec in sections])
    k = np.maximum(np.searchsorted(starts, distance_m + 1e-6, side="right") - 1, 0)
    return np.array([sec.band for sec in sections])[k]


def write_rpl_csv(rpl: pd.DataFrame, path: str | Path, *, columns: Sequence[str] = POSITION_COLUMNS) -> Path:
    """Write an RPL table (positions by default) as CSV for Excel on Windows: UTF-8 with BOM, no geometry, every
    number rounded to the trade's precision (:func:`rounded`)."""
    missing = [c for c in columns if c not in rpl.columns]
    if missing:
        raise InputDataError(f"RPL table lacks columns {missing}; build it with geodata.deliverables.rpl.build_rpl")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rounded(pd.DataFrame(rpl[list(columns)])).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def write_rpl_gpkg(rpl: gpd.GeoDataFrame, path: str | Path, *, layer: str = "rpl") -> Path:
    """Write the RPL positions as a GeoPackage point layer (EPSG:4326)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(rpl[[*POSITION_COLUMNS, "geometry"]], crs=WGS84).to_file(path, layer=layer, driver="GPKG")
    return path
