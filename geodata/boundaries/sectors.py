"""The equidistance (median-line) partition of the Caspian seabed, pinned through the treaty points."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiPoint, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geodata.boundaries.coast import coast_frame, water_geometry
from geodata.boundaries.geometry import (
    OVERSHOOT_M,
    area_only,
    geodesic_area_km2,
    line_parts,
    metric_crs_for,
    transform_geometry,
)
from geodata.boundaries.treaty import treaty_list
from geodata.boundaries.validate import validate_layer
from geodata.errors import InputDataError
from geodata.geodesy import GEOD, WGS84, transformer
from geodata.scenario import TreatyPoint

# -- equidistance partition ------------------------------------------------------------------------------------------


@dataclass
class _Pin:
    """A point an edge must pass through after adjustment: at arclength ``s`` of the pure edge, moved to ``target``."""

    s: float
    target: np.ndarray
    treaty: str | None


@dataclass
class _Edge:
    pair: tuple[str, str]
    line: LineString  # metric CRS
    pins: list[_Pin] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)


def median_line_sectors(
    water: Any,
    coast: Any,
    *,
    treaty_points: Iterable[TreatyPoint | Mapping[str, Any]] | None = None,
    crs: Any = None,
    spacing_km: float = 1.0,
    treaty_line: Literal["shifted_median", "geodesic"] = "shifted_median",
    island_effect: Literal["full", "none"] = "full",
) -> gpd.GeoDataFrame:
    """Partition the water between the coastal states by equidistance, honouring treaty points.

    Each state's coast is sampled every ``spacing_km``; the Voronoi diagram of the samples (computed in ``crs``)
    dissolved by state gives the pure median lines. Treaty points then move the boundary:

    * a point with three ``countries`` is the junction of their sectors: the pure junction moves onto it;
    * a point with two ``countries`` lies on their boundary: the nearest point of the pure median line moves onto it.

    Between pinned points the boundary is the median line shifted by a displacement interpolated linearly along it
    (``treaty_line="shifted_median"``, keeping the median line's shape, as the 'modified median lines' of the Caspian
    treaties do) or, between two consecutive treaty points, the geodesic joining them (``"geodesic"``). Displacements
    fade linearly to zero at the next unpinned junction or at the coast, so a landward end never moves. The water is
    then re-split along the adjusted lines and each piece goes to the state whose pure sector it overlaps most.

    Parameters
    ----------
    water
        The water polygon (GeoDataFrame, or shapely geometry in EPSG:4326, or a :class:`CaspianCoast`).
    coast
        GeoDataFrame[country, geometry] of coast lines, ``{ISO3: line}`` in EPSG:4326, or a :class:`CaspianCoast`.
    treaty_points
        :class:`~geodata.scenario.TreatyPoint` objects (or mappings of their fields), e.g.
        :func:`treaty_points_for` ``(scenario.boundaries)``.
    crs
        Metric CRS of the computation; default an azimuthal equidistant projection centred on the water.
    spacing_km
        Coast sampling interval (1 km: about 15,000 samples for the Caspian).
    treaty_line
        How the boundary runs between two consecutive treaty points (see above).
    island_effect
        ``"full"``: islands are coast like any other; ``"none"``: islands are ignored by the median lines.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per state: ``country``, ``area_km2`` (geodesic), polygon geometry, EPSG:4326. ``attrs["delimitation"]``
        holds the JSON-serialisable record: CRS, spacing, per treaty point the offset of the pure median line from it
        (``offset_km``) and the geodesic distances from it to each state's coast, the adjusted boundary segments
        (used by :func:`boundary_lines`), what was repaired in the inputs, and the run time.

    Raises
    ------
    InputDataError
        Bad inputs (empty, no CRS, fewer than two states), or a treaty point that cannot be honoured (on land, naming
        an unknown state, or a junction the partition does not have).
    """
    t0 = time.perf_counter()
    report: list[str] = []
    if treaty_line not in ("shifted_median", "geodesic"):
        raise InputDataError(f"treaty_line must be 'shifted_median' or 'geodesic', got {treaty_line!r}")
    if spacing_km <= 0:
        raise InputDataError(f"spacing_km must be positive, got {spacing_km}")
    sea = water_geometry(water, report)
    coast_f = coast_frame(coast, report)
    if island_effect == "none":
        coast_f = coast_f[coast_f["kind"] != "island"]
    elif island_effect != "full":
        raise InputDataError(f"island_effect must be 'full' or 'none', got {island_effect!r}")
    metric = CRS.from_user_input(crs) if crs is not None else metric_crs_for(sea)
    if not metric.is_projected:
        raise InputDataError(f"crs {metric.to_string()} is not projected; pass a metric CRS or leave it None")
    spacing_m = spacing_km * 1e3
    sea_m = transform_geometry(sea, WGS84, metric)

    pts, labels = _coast_samples(coast_f, metric, spacing_m)
    states = sorted(set(labels))
    regions = _voronoi_regions(pts, labels, sea_m)
    # the water grown for the edges and the pure sectors are independent: GEOS releases the GIL, both cores help
    with ThreadPoolExecutor(max_workers=2) as pool:
        grown = pool.submit(sea_m.buffer, OVERSHOOT_M)
        pure = {s: area_only(regions[s].intersection(sea_m)) for s in states}
        edges = _edges(regions, sea_m, spacing_m, grown=grown.result())

    treaties = treaty_list(treaty_points)
    treaty_records = _pin_treaty_points(treaties, edges, sea_m, metric, states, coast_f)
    for edge in edges:
        if edge.pins:
            _apply_pins(edge, metric, treaty_line)
        else:
            edge.segments.append({"kind": "median_line", "method": "equidistance", "line": edge.line})

    sectors_m = _resplit(sea_m, edges, pure)
    to_wgs = {s: transform_geometry(g, metric, WGS84) for s, g in sectors_m.items()}
    out = gpd.GeoDataFrame(
        {"country": list(to_wgs), "area_km2": [geodesic_area_km2(g) for g in to_wgs.values()]},
        geometry=list(to_wgs.values()),
        crs=WGS84,
    )
    segments = [
        {
            "countries": list(e.pair),
            "kind": seg["kind"],
            "method": seg["method"],
            "wkt": transform_geometry(seg["line"], metric, WGS84).wkt,
        }
        for e in edges
        for seg in e.segments
        if seg["method"] != "equidistance"
    ]
    out.attrs["delimitation"] = {
        "metric_crs": metric.srs,
        "spacing_km": spacing_km,
        "coast_samples": len(pts),
        "treaty_line": treaty_line,
        "island_effect": island_effect,
        "treaty_points": treaty_records,
        "segments": segments,
        "input_report": report,
        "run_time_s": round(time.perf_counter() - t0, 2),
    }
    return out


def _coast_samples(coast_f: gpd.GeoDataFrame, metric: CRS, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    pts_list, lab_list = [], []
    for country, grp in coast_f.groupby("country"):
        geom = transform_geometry(shapely.union_all(grp.geometry.to_numpy()), WGS84, metric)
        xy = shapely.get_coordinates(shapely.segmentize(geom, spacing_m))
        pts_list.append(xy)
        lab_list.append(np.full(len(xy), str(country), dtype=object))
    pts = np.vstack(pts_list)
    labels = np.concatenate(lab_list)
    _, keep = np.unique(np.round(pts, 2), axis=0, return_index=True)
    keep.sort()
    return pts[keep], labels[keep]


def _voronoi_regions(pts: np.ndarray, labels: np.ndarray, sea_m: BaseGeometry) -> dict[str, BaseGeometry]:
    """State -> union of the Voronoi cells of its coast samples (metric CRS), over an envelope round the sea."""
    w, s, e, n = sea_m.bounds
    pad = max(e - w, n - s)
    envelope = shapely.box(w - pad, s - pad, e + pad, n + pad)
    cells = np.asarray(shapely.get_parts(shapely.voronoi_polygons(MultiPoint(pts), extend_to=envelope, ordered=True)))
    if len(cells) != len(pts):
        raise InputDataError(f"Voronoi diagram gave {len(cells)} cells for {len(pts)} coast samples; check the coast")
    bad = ~shapely.is_valid(cells)
    if bad.any():  # near-collinear samples can give degenerate cells
        cells[bad] = [area_only(g) for g in shapely.make_valid(cells[bad])]
    regions = {}
    for state in sorted(set(labels)):
        mine = cells[labels == state]
        try:
            region = shapely.coverage_union_all(mine)
        except shapely.errors.GEOSException:
            region = shapely.union_all(mine)
        if not region.is_valid:
            region = shapely.union_all(mine)
        regions[state] = region
    return regions


def _edges(
    regions: Mapping[str, BaseGeometry], sea_m: BaseGeometry, spacing_m: float, *, grown: BaseGeometry | None = None
) -> list[_Edge]:
    """The pure median lines between each pair of states, inside the water (plus a small overshoot: ``grown`` is
    ``sea_m.buffer(OVERSHOOT_M)``, built here unless given)."""
    if grown is None:
        grown = sea_m.buffer(OVERSHOOT_M)
    states = sorted(regions)
    edges: list[_Edge] = []
    for i, a in enumerate(states):
        for b in states[i + 1 :]:
            if not regions[a].intersects(regions[b]):
                continue
            shared = line_parts(regions[a].boundary.intersection(regions[b].boundary))
            if not shared:
                continue
            merged = shapely.line_merge(shapely.MultiLineString(shared))
            inside = shapely.line_merge(
                shapely.MultiLineString(line_parts(merged.intersection(grown)) or [LineString()])
            )
            for part in line_parts(inside):
                if part.length > 0:
                    edges.append(_Edge((a, b), shapely.segmentize(part, spacing_m)))
    return edges


def _node_key(xy: Sequence[float]) -> tuple[int, int]:
    return (round(float(xy[0]) * 100), round(float(xy[1]) * 100))


class _Junctions:
    """Edge ends shared by the edges of three or more states, and the treaty points pinned to them."""

    def __init__(self, edges: list[_Edge]) -> None:
        self.edges = edges
        self.states: dict[tuple[int, int], set[str]] = {}
        self.xy: dict[tuple[int, int], np.ndarray] = {}
        for e in edges:
            for xy in (e.line.coords[0], e.line.coords[-1]):
                k = _node_key(xy)
                self.states.setdefault(k, set()).update(e.pair)
                self.xy[k] = np.asarray(xy, dtype=float)
        self.junctions = {k: v for k, v in self.states.items() if len(v) >= 3}
        self.pinned: dict[tuple[int, int], str] = {}

    def pin(self, key: tuple[int, int], target: np.ndarray, name: str) -> None:
        """Move the junction ``key`` onto ``target`` (every edge ending there gets a pin)."""
        if key in self.pinned:
            raise InputDataError(
                f"treaty points '{self.pinned[key]}' and '{name}' both claim the same junction of "
                f"{', '.join(sorted(self.states[key]))}; keep one"
            )
        self.pinned[key] = name
        for e in self.edges:
            for s, xy in ((0.0, e.line.coords[0]), (e.line.length, e.line.coords[-1])):
                if _node_key(xy) == key:
                    e.pins.append(_Pin(s, target, name))


def _treaty_target(tp: TreatyPoint, states: Sequence[str], sea_m: BaseGeometry, metric: CRS) -> np.ndarray:
    """The treaty point in the metric CRS, after checking its countries and that it lies in the water."""
    countries = [c.upper() for c in tp.countries]
    unknown = [c for c in countries if c not in states]
    if unknown or len(set(countries)) < 2:
        raise InputDataError(
            f"treaty point '{tp.name}' names {', '.join(countries)}; it needs two or three of the coastal states "
            f"{', '.join(states)}"
        )
    target = np.array(transformer(WGS84, metric).transform(tp.lon_deg, tp.lat_deg))
    if not sea_m.contains(Point(target)):
        raise InputDataError(
            f"treaty point '{tp.name}' ({tp.lat_deg} N, {tp.lon_deg} E) is not in the water; check its "
            "coordinates (decimal degrees, latitude first) and the water polygon"
        )
    return target


def _pin_junction_point(tp: TreatyPoint, wanted: set[str], target: np.ndarray, nodes: _Junctions) -> np.ndarray:
    """Pin a three-state treaty point to the nearest junction of those states; returns the pure junction."""
    keys = [k for k, v in nodes.junctions.items() if v == wanted] or [
        k for k, v in nodes.junctions.items() if wanted <= v
    ]
    if not keys:
        meeting = sorted("-".join(sorted(v)) for v in nodes.junctions.values())
        raise InputDataError(
            f"treaty point '{tp.name}' is a junction of {', '.join(sorted(wanted))}, but in the equidistance "
            f"partition these sectors never meet (junctions: {', '.join(meeting) or 'none'}); give the point "
            "as a bilateral one (two countries) instead"
        )
    key = min(keys, key=lambda k: float(np.hypot(*(nodes.xy[k] - target))))
    nodes.pin(key, target, tp.name)
    return nodes.xy[key]


def _pin_boundary_point(
    tp: TreatyPoint, wanted: set[str], target: np.ndarray, nodes: _Junctions
) -> tuple[np.ndarray, str, str]:
    """Pin a two-state treaty point to their boundary (or to its landward junction when it lies beyond the pure
    line's end); returns the pure position, the role and a note."""
    pair = tuple(sorted(wanted))
    cands = [e for e in nodes.edges if e.pair == pair]
    if not cands:
        raise InputDataError(
            f"treaty point '{tp.name}' lies on the {'-'.join(pair)} boundary, but the equidistance partition "
            f"gives these two states no common boundary; check the countries of the point"
        )
    edge = min(cands, key=lambda e: e.line.distance(Point(target)))
    s = edge.line.project(Point(target))
    pure_xy = np.asarray(edge.line.interpolate(s).coords[0])
    end_xy = edge.line.coords[0] if s < 1.0 else edge.line.coords[-1] if s > edge.line.length - 1.0 else None
    if end_xy is None:
        edge.pins.append(_Pin(s, target, tp.name))
        return pure_xy, "boundary point", ""
    key = _node_key(end_xy)
    if key not in nodes.junctions:
        raise InputDataError(
            f"treaty point '{tp.name}' lies beyond the landward end of the {'-'.join(pair)} median line; "
            "check its coordinates"
        )
    nodes.pin(key, target, tp.name)
    note = (
        f"the point lies beyond the pure {'-'.join(pair)} line, so the junction with "
        f"{', '.join(sorted(nodes.junctions[key] - wanted))} was moved onto it"
    )
    return pure_xy, "junction (beyond the end of the pure line)", note


def _pin_treaty_points(
    treaties: Sequence[TreatyPoint],
    edges: list[_Edge],
    sea_m: BaseGeometry,
    metric: CRS,
    states: Sequence[str],
    coast_f: gpd.GeoDataFrame,
) -> list[dict[str, Any]]:
    """Pin every treaty point onto the partition's edges; one record per point (role, offset from the pure median
    line, geodesic distances to the coasts of its states)."""
    if not treaties:
        return []
    to_ll = transformer(metric, WGS84)
    nodes = _Junctions(edges)
    coast_by = {str(c): shapely.union_all(g.geometry.to_numpy()) for c, g in coast_f.groupby("country")}
    records = []
    for tp in treaties:
        target = _treaty_target(tp, states, sea_m, metric)
        countries = [c.upper() for c in tp.countries]
        wanted = set(countries)
        if len(wanted) >= 3:
            pure_xy, role, note = _pin_junction_point(tp, wanted, target, nodes), "junction", ""
        else:
            pure_xy, role, note = _pin_boundary_point(tp, wanted, target, nodes)
        plon, plat = to_ll.transform(*pure_xy)
        _, _, offset = GEOD.inv(tp.lon_deg, tp.lat_deg, plon, plat)
        dists = {c: round(_geodesic_distance_to(coast_by[c], tp.lon_deg, tp.lat_deg, metric), 3) for c in countries}
        records.append(
            {
                "name": tp.name,
                "countries": countries,
                "lat_deg": tp.lat_deg,
                "lon_deg": tp.lon_deg,
                "citation": tp.citation,
                "role": role,
                "pure_median_lat_deg": round(plat, 6),
                "pure_median_lon_deg": round(plon, 6),
                "offset_km": round(offset / 1e3, 3),
                "distance_to_coast_km": dists,
                "distance_difference_km": round(max(dists.values()) - min(dists.values()), 3),
                "note": note,
            }
        )
    return records


def _geodesic_distance_to(geom_ll: BaseGeometry, lon: float, lat: float, metric: CRS, step_m: float = 200.0) -> float:
    """Geodesic distance (km) from (lon, lat) to the nearest point of a line geometry in EPSG:4326."""
    to_m = transformer(WGS84, metric)
    geom_m = transform_geometry(geom_ll, WGS84, metric)
    x, y = to_m.transform(lon, lat)
    near = nearest_points(geom_m, Point(x, y))[0]
    # refine geodesically among samples of the coast near the planar nearest point
    window = shapely.segmentize(
        geom_m.intersection(near.buffer(max(5_000.0, 0.02 * near.distance(Point(x, y))))), step_m
    )
    xy = shapely.get_coordinates(window)
    if len(xy) == 0:
        xy = np.array([near.coords[0]])
    lons, lats = transformer(metric, WGS84).transform(xy[:, 0], xy[:, 1])
    _, _, d = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), lons, lats)
    return float(np.min(d)) / 1e3


def _apply_pins(edge: _Edge, metric: CRS, treaty_line: str) -> None:
    """Shift the edge so that it passes through its pins; record the segments it is made of."""
    line = edge.line
    length = line.length
    pins = sorted(edge.pins, key=lambda p: p.s)
    if pins[0].s > 1e-6:
        start = np.asarray(line.coords[0])
        pins.insert(0, _Pin(0.0, start, None))
    if pins[-1].s < length - 1e-6:
        end = np.asarray(line.coords[-1])
        pins.append(_Pin(length, end, None))
    coords = np.asarray(line.coords)
    s_v = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    pin_s = np.array([p.s for p in pins])
    base_pins = np.array([line.interpolate(p.s).coords[0] for p in pins])
    disp = np.array([p.target for p in pins]) - base_pins
    all_s = np.unique(np.concatenate([s_v, pin_s]))
    base = np.array([line.interpolate(s).coords[0] for s in all_s])
    moved = base + np.column_stack([np.interp(all_s, pin_s, disp[:, 0]), np.interp(all_s, pin_s, disp[:, 1])])
    for p, ps in zip(pins, pin_s, strict=True):  # exact targets (no rounding drift at junctions)
        moved[np.searchsorted(all_s, ps)] = p.target
    pieces: list[np.ndarray] = []
    for j in range(len(pins) - 1):
        a, b = pins[j], pins[j + 1]
        i0, i1 = np.searchsorted(all_s, a.s), np.searchsorted(all_s, b.s)
        piece = moved[i0 : i1 + 1]
        both = a.treaty is not None and b.treaty is not None
        if both and treaty_line == "geodesic":
            piece = _geodesic_between(a.target, b.target, metric)
            method = "geodesic between treaty points"
        elif both:
            method = "median line shifted onto treaty points"
        else:
            method = "median line shifted towards a treaty point"
        if len(piece) >= 2:
            edge.segments.append(
                {"kind": "treaty" if both else "median_line", "method": method, "line": LineString(piece)}
            )
        pieces.append(piece if not pieces else piece[1:])
    edge.line = LineString(np.vstack(pieces))


def _geodesic_between(a: np.ndarray, b: np.ndarray, metric: CRS, step_m: float = 1000.0) -> np.ndarray:
    to_ll = transformer(metric, WGS84)
    to_m = transformer(WGS84, metric)
    (lon1, lon2), (lat1, lat2) = to_ll.transform([a[0], b[0]], [a[1], b[1]])
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    n = max(int(dist // step_m), 0)
    mid = GEOD.npts(lon1, lat1, lon2, lat2, n) if n else []
    lons = [lon1, *[p[0] for p in mid], lon2]
    lats = [lat1, *[p[1] for p in mid], lat2]
    x, y = to_m.transform(lons, lats)
    out = np.column_stack([x, y])
    out[0], out[-1] = a, b
    return out


def _resplit(sea_m: BaseGeometry, edges: Sequence[_Edge], pure: Mapping[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """Split the water along the (adjusted) edges; each face goes to the state whose pure sector it overlaps most."""
    noded = shapely.union_all([sea_m.boundary, *[e.line for e in edges]])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = [f for f in faces if f.area > 0 and sea_m.contains(f.representative_point())]
    states = sorted(pure)
    tree = shapely.STRtree([pure[s] for s in states])
    owner: dict[str, list[BaseGeometry]] = {s: [] for s in states}
    for face in faces:
        cands = tree.query(face)
        if len(cands) == 0:
            cands = np.array([tree.query_nearest(face)[0]])
        overlaps = [face.intersection(pure[states[i]]).area for i in cands]
        owner[states[int(cands[int(np.argmax(overlaps))])]].append(face)
    out = {}
    for s, fs in owner.items():
        if not fs:
            continue
        try:
            merged = shapely.coverage_union_all(fs)
        except shapely.errors.GEOSException:
            merged = shapely.union_all(fs)
        if not merged.is_valid:
            merged = shapely.union_all(fs)
        out[s] = merged
    return out


def sector_map(sectors: gpd.GeoDataFrame, report: list[str]) -> dict[str, BaseGeometry]:
    frame = validate_layer(sectors, "sectors", report=report)
    if "country" not in frame.columns:
        raise InputDataError("sectors has no `country` column; pass the output of median_line_sectors()")
    return {str(c): shapely.union_all(g.geometry.to_numpy()) for c, g in frame.groupby("country")}
