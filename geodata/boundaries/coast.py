"""The Caspian coast: the water polygon (islands removed, Kara-Bogaz-Gol cut at its strait) and its coast split by
littoral state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.boundaries.geometry import (
    KARA_BOGAZ_GOL_CLOSING_LINE,
    KARA_BOGAZ_GOL_REFERENCE,
    LITTORAL_STATES,
    area_only,
    geodesic_area_km2,
    geodesic_length_km,
    line_parts,
    metric_crs_for,
    polygon_parts,
    transform_geometry,
)
from geodata.boundaries.validate import iso3_column, validate_layer
from geodata.errors import InputDataError
from geodata.geodesy import WGS84

# -- the Caspian coast -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaspianCoast:
    """The water body and its coast split by state, all in EPSG:4326.

    Attributes
    ----------
    water
        One row: the water partitioned between the states (islands and excluded inlets removed); ``area_km2``.
    coast
        ``country`` (ISO3), ``kind`` (``mainland``, ``island`` or ``closing_line``), ``length_km``, line geometry.
    excluded
        Water left out of the partition (e.g. Kara-Bogaz-Gol): ``name``, ``country``, ``area_km2``, polygon.
    report
        Every repair, conversion and decision taken on the inputs, one sentence each.
    """

    water: gpd.GeoDataFrame
    coast: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame
    report: tuple[str, ...] = field(default=())

    @property
    def water_geometry(self) -> BaseGeometry:
        """The water polygon (EPSG:4326)."""
        return self.water.geometry.iloc[0]

    def land(self, bounds_lonlat: tuple[float, float, float, float], *, margin_deg: float = 1.0) -> gpd.GeoDataFrame:
        """Everything that is not this water body inside ``bounds_lonlat`` (widened by ``margin_deg``), as one
        polygon row: the land mask that agrees with the water partitioned into sectors (islands and excluded
        inlets such as Kara-Bogaz-Gol count as land for routing)."""
        w, s, e, n = bounds_lonlat
        frame = shapely.box(w - margin_deg, s - margin_deg, e + margin_deg, n + margin_deg)
        land = shapely.difference(frame, self.water_geometry)
        return gpd.GeoDataFrame({"name": ["land"]}, geometry=[land], crs="EPSG:4326")

    @property
    def coast_by_state(self) -> dict[str, BaseGeometry]:
        """ISO3 -> the state's coast as one (multi)line (EPSG:4326)."""
        return {
            str(c): shapely.line_merge(shapely.union_all(g.geometry.to_numpy()))
            for c, g in self.coast.groupby("country")
        }


def load_caspian(
    gshhg_path: str | Path,
    countries_path: str | Path,
    *,
    water_layer: str = "caspian_sea_water",
    islands_layer: str | None = "L3_islands_in_lakes",
    countries_layer: str = "ne10m_admin0_countries",
    littoral_states: Sequence[str] = LITTORAL_STATES,
    kara_bogaz_gol: Literal["exclude", "include"] = "exclude",
    spacing_km: float = 1.0,
) -> CaspianCoast:
    """Read the Caspian water and the country polygons from files, and split the coast by state.

    Parameters
    ----------
    gshhg_path
        GeoPackage holding the water polygon and the islands (the mirror's ``coast_gshhg_f_2.3.6.gpkg``).
    countries_path
        GeoPackage of country polygons (the mirror's ``coast_naturalearth_10m.gpkg``).
    water_layer, islands_layer, countries_layer
        Layer names; ``islands_layer=None`` when the water polygon already has its islands as holes.
    littoral_states, kara_bogaz_gol, spacing_km
        See :func:`build_caspian_coast`.

    Returns
    -------
    CaspianCoast
    """

    def read(path: str | Path, layer: str) -> gpd.GeoDataFrame:
        path = Path(path)
        if not path.is_file():
            raise InputDataError(f"{path} does not exist; resolve it with geodata.sources.catalogue.resolve()")
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
        if layer not in layers:
            raise InputDataError(f"{path} has no layer '{layer}'; its layers are {', '.join(layers)}")
        frame = gpd.read_file(path, layer=layer)
        frame.attrs["source_name"] = f"{path.name} layer {layer}"
        return frame

    water = read(gshhg_path, water_layer)
    islands = read(gshhg_path, islands_layer) if islands_layer else None
    countries = read(countries_path, countries_layer)
    return build_caspian_coast(
        water,
        countries,
        islands=islands,
        littoral_states=littoral_states,
        kara_bogaz_gol=kara_bogaz_gol,
        spacing_km=spacing_km,
    )


def build_caspian_coast(
    water: gpd.GeoDataFrame,
    countries: gpd.GeoDataFrame,
    *,
    islands: gpd.GeoDataFrame | None = None,
    littoral_states: Sequence[str] = LITTORAL_STATES,
    kara_bogaz_gol: Literal["exclude", "include"] = "exclude",
    spacing_km: float = 1.0,
) -> CaspianCoast:
    """Water polygon and coast by state from in-memory layers (the pure core of :func:`load_caspian`).

    The coast (the water's boundary, islands included) is sampled every ``spacing_km``; each mainland sample goes
    to the nearest country polygon among ``littoral_states``, and the coast is cut half-way between samples of
    different states. Each island goes whole to the country nearest to it.

    Parameters
    ----------
    water
        Water polygon(s); all features are merged.
    countries
        Country polygons with an ISO alpha-3 field (``iso_a3``, ``A3``, ``isoA3`` ...) or an ISO numeric ``id``.
    islands
        Island polygons to cut out of the water; those not inside it are ignored.
    littoral_states
        ISO3 codes of the states sharing the water; each must be in ``countries``.
    kara_bogaz_gol
        ``"exclude"`` (default) cuts Kara-Bogaz-Gol off at :data:`KARA_BOGAZ_GOL_CLOSING_LINE` when the water holds
        it; ``"include"`` keeps it.
    spacing_km
        Sampling interval of the coast for the state assignment.

    Returns
    -------
    CaspianCoast

    Raises
    ------
    InputDataError
        An input is empty, has no CRS, or a littoral state is missing from ``countries``.
    """
    report: list[str] = []
    wname = water.attrs.get("source_name", "water layer") if isinstance(water, gpd.GeoDataFrame) else "water layer"
    cname = countries.attrs.get("source_name", "countries layer") if isinstance(countries, gpd.GeoDataFrame) else ""
    water_f = validate_layer(water, wname, report=report)
    countries_f = validate_layer(countries, cname or "countries layer", report=report)
    sea = shapely.union_all(water_f.geometry.to_numpy())
    if islands is not None:
        iname = islands.attrs.get("source_name", "islands layer")
        islands_f = validate_layer(islands, iname, report=report)
        inside = islands_f.geometry.intersects(sea)
        if (~inside).any():
            report.append(f"{iname}: {int((~inside).sum())} islands outside the water ignored")
        if inside.any():
            sea = area_only(sea.difference(shapely.union_all(islands_f.geometry[inside].to_numpy())))
            report.append(f"{iname}: {int(inside.sum())} islands cut out of the water")
    sea = area_only(shapely.make_valid(sea))

    codes = iso3_column(countries_f, cname or "countries layer")
    states = [s.upper() for s in littoral_states]
    missing = [s for s in states if s not in set(codes)]
    if missing:
        raise InputDataError(
            f"{cname or 'countries layer'} has no polygon for littoral state(s) {', '.join(missing)} (found "
            f"{', '.join(sorted(set(codes)))}); pass a countries layer that covers every state round the water, or "
            "narrow `littoral_states`"
        )
    by_state = {s: shapely.union_all(countries_f.geometry[codes == s].to_numpy()) for s in states}

    excluded_rows: list[dict[str, Any]] = []
    closing = None
    if kara_bogaz_gol == "exclude":
        sea, kbg, closing = _cut_kara_bogaz_gol(sea, report)
        if kbg is not None:
            excluded_rows.append(
                {"name": "Kara-Bogaz-Gol", "country": "TKM", "area_km2": geodesic_area_km2(kbg), "geometry": kbg}
            )
    elif kara_bogaz_gol != "include":
        raise InputDataError(f"kara_bogaz_gol must be 'exclude' or 'include', got {kara_bogaz_gol!r}")

    metric = metric_crs_for(sea)
    sea_m = transform_geometry(sea, WGS84, metric)
    states_m = {s: transform_geometry(g, WGS84, metric) for s, g in by_state.items()}
    closing_m = transform_geometry(closing, WGS84, metric) if closing is not None else None
    rows = _split_coast(sea_m, states_m, closing_m, spacing_km * 1e3)
    coast = gpd.GeoDataFrame(rows, geometry="geometry", crs=metric).to_crs(WGS84)
    coast["length_km"] = [geodesic_length_km(g) for g in coast.geometry]
    coast = coast[["country", "kind", "length_km", "geometry"]]
    absent = [s for s in states if s not in set(coast["country"])]
    if absent:
        report.append(f"no coast was assigned to {', '.join(absent)}: their polygons are never the nearest")
    water_out = gpd.GeoDataFrame(
        {"name": ["Caspian Sea (partitioned water)"], "area_km2": [geodesic_area_km2(sea)]}, geometry=[sea], crs=WGS84
    )
    if excluded_rows:
        excluded = gpd.GeoDataFrame(excluded_rows, geometry="geometry", crs=WGS84)
    else:
        excluded = gpd.GeoDataFrame(
            {"name": [], "country": [], "area_km2": []}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84
        )
    return CaspianCoast(water=water_out, coast=coast, excluded=excluded, report=tuple(report))


def _cut_kara_bogaz_gol(
    sea: BaseGeometry, report: list[str]
) -> tuple[BaseGeometry, BaseGeometry | None, BaseGeometry | None]:
    ref = Point(KARA_BOGAZ_GOL_REFERENCE)
    if not sea.contains(ref):
        report.append("Kara-Bogaz-Gol is not part of the water polygon: nothing to exclude")
        return sea, None, None
    line = LineString(KARA_BOGAZ_GOL_CLOSING_LINE)
    pieces = shapely.get_parts(shapely.polygonize_full([shapely.union_all([sea.boundary, line])])[0]).tolist()
    pieces = [p for p in pieces if sea.contains(p.representative_point())]
    kbg = [p for p in pieces if p.contains(ref)]
    if len(kbg) != 1:
        report.append("the Kara-Bogaz-Gol closing line does not close the lagoon off in this coastline: kept it")
        return sea, None, None
    lagoon = kbg[0]
    area = geodesic_area_km2(lagoon)
    if not 5_000 <= area <= 30_000:
        report.append(f"the cut at the Kara-Bogaz-Gol strait isolates {area:.0f} km², not the lagoon: kept it")
        return sea, None, None
    rest = area_only(shapely.make_valid(sea.difference(lagoon)))
    closing = line_parts(rest.boundary.intersection(lagoon.boundary))
    closing_line = shapely.line_merge(shapely.MultiLineString(closing)) if closing else None
    report.append(
        f"Kara-Bogaz-Gol ({area:.0f} km²) excluded as Turkmen internal waters, closed at its strait "
        f"({geodesic_length_km(closing_line) if closing_line is not None else 0:.2f} km closing line)"
    )
    return rest, lagoon, closing_line


def _split_coast(
    sea: BaseGeometry, states: Mapping[str, BaseGeometry], closing: BaseGeometry | None, spacing_m: float
) -> list[dict[str, Any]]:
    """Cut the water's rings into runs of one state (metric CRS)."""
    names = list(states)
    polys = [states[n] for n in names]
    nearest = _NearestState(polys)
    rows: list[dict[str, Any]] = []
    for poly in polygon_parts(sea):
        # mainland (exterior ring): per-sample nearest country
        ring = shapely.segmentize(LineString(poly.exterior.coords), spacing_m)
        pts = shapely.get_coordinates(ring)[:-1]
        idx = nearest.points(shapely.points(pts))
        labels = np.array([names[i] for i in idx], dtype=object)
        kinds = np.full(len(pts), "mainland", dtype=object)
        if closing is not None:
            on_closing = shapely.dwithin(shapely.points(pts), closing, 1.0)
            kinds[on_closing] = "closing_line"
        rows.extend(_runs(pts, labels, kinds))
        # islands (interior rings): whole to the nearest country
        for interior in poly.interiors:
            owner = names[nearest.first_nearest(Polygon(interior))]
            rows.append({"country": owner, "kind": "island", "geometry": LineString(interior.coords)})
    return rows


SUBDIVIDE_VERTICES = 64
"""Most vertices of a piece of :class:`_NearestState` (fewest queries measured on the Natural Earth countries)."""

_TIE_M = 1e-6  # distances closer than this (metres) are a tie, decided on the whole polygons


class _NearestState:
    """Which of ``polys`` is nearest to a geometry, through an STRtree of the polygons cut into small pieces.

    The distance to a polygon is the least distance to its pieces (they cover it exactly), so the nearest piece
    names the nearest polygon, at the cost of a few hundred vertices per query instead of a whole country (Natural
    Earth's Russia alone has tens of thousands). Where two polygons' pieces come within ``_TIE_M`` of the least
    distance the choice is made on the whole polygons exactly as before (the first nearest of an STRtree of the
    polygons for points, the first least distance in ``polys`` order for islands), so the result is the same."""

    def __init__(self, polys: Sequence[BaseGeometry]) -> None:
        self.polys = list(polys)
        pieces: list[BaseGeometry] = []
        owner: list[int] = []
        for i, poly in enumerate(self.polys):
            parts = _subdivide(poly, SUBDIVIDE_VERTICES)
            pieces.extend(parts)
            owner.extend([i] * len(parts))
        self.pieces = np.asarray(pieces, dtype=object)
        self.owner = np.asarray(owner, dtype=np.intp)
        self.tree = shapely.STRtree(self.pieces)
        self._whole: shapely.STRtree | None = None

    def _candidates(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, polygon index) of every polygon within ``_TIE_M`` of each geometry's least distance."""
        (qi, _), dist = self.tree.query_nearest(geoms, return_distance=True, all_matches=True)
        least = np.full(len(geoms), np.inf)
        np.minimum.at(least, qi, dist)
        near = self.tree.query(geoms[qi], predicate="dwithin", distance=least[qi] + _TIE_M)
        pairs = np.unique(np.column_stack([qi[near[0]], self.owner[near[1]]]), axis=0)
        return pairs[:, 0], pairs[:, 1]

    def points(self, pts: np.ndarray) -> np.ndarray:
        """Index of the nearest polygon of each point (as ``STRtree(polys).query_nearest(pts, all_matches=False)``)."""
        if len(pts) == 0:
            return np.zeros(0, dtype=np.intp)
        qi, pi = self._candidates(pts)
        out = np.full(len(pts), -1, dtype=np.intp)
        count = np.bincount(qi, minlength=len(pts))
        single = count[qi] == 1
        out[qi[single]] = pi[single]
        tied = np.flatnonzero(count > 1)
        if len(tied):
            if self._whole is None:
                self._whole = shapely.STRtree(self.polys)
            got = self._whole.query_nearest(pts[tied], all_matches=False)
            out[tied[got[0]]] = got[1]
        return out

    def first_nearest(self, geom: BaseGeometry) -> int:
        """Index of the polygon nearest ``geom``, the first in ``polys`` order on a tie (as ``np.argmin`` of the
        distances to every polygon)."""
        _, pi = self._candidates(np.array([geom], dtype=object))
        if len(pi) == 1:
            return int(pi[0])
        return int(pi[int(np.argmin([geom.distance(self.polys[i]) for i in pi]))])


def _subdivide(geom: BaseGeometry, max_vertices: int) -> list[BaseGeometry]:
    """Pieces of ``geom`` with at most ``max_vertices`` vertices each (or single tiny slivers) that together cover it
    exactly: halves of its bounding box, recursively."""
    out: list[BaseGeometry] = []
    stack = [geom]
    while stack:
        g = stack.pop()
        if g.is_empty:
            continue
        w, s, e, n = g.bounds
        if shapely.get_num_coordinates(g) <= max_vertices or max(e - w, n - s) < 1.0:
            out.append(g)
            continue
        if e - w >= n - s:
            m = (w + e) / 2
            halves = [shapely.box(w, s, m, n), shapely.box(m, s, e, n)]
        else:
            m = (s + n) / 2
            halves = [shapely.box(w, s, e, m), shapely.box(w, m, e, n)]
        stack.extend(shapely.intersection(g, halves))
    return out


def _runs(pts: np.ndarray, labels: np.ndarray, kinds: np.ndarray) -> list[dict[str, Any]]:
    """Runs of equal (label, kind) along a closed ring of samples, cut half-way between samples."""
    n = len(pts)
    key = np.array([f"{a}|{b}" for a, b in zip(labels, kinds, strict=True)], dtype=object)
    change = np.flatnonzero(key != np.roll(key, 1))
    if len(change) == 0:
        return [{"country": labels[0], "kind": kinds[0], "geometry": LineString(np.vstack([pts, pts[:1]]))}]
    rows = []
    for j, start in enumerate(change):
        end = change[(j + 1) % len(change)]  # first sample of the next run
        idx = np.arange(start, end if end > start else end + n) % n
        before = pts[(start - 1) % n]
        after = pts[end % n]
        coords = np.vstack([(before + pts[start]) / 2, pts[idx], (pts[idx[-1]] + after) / 2])
        rows.append({"country": labels[start], "kind": kinds[start], "geometry": LineString(coords)})
    return rows


def as_frame(obj: Any, name: str, kinds: Sequence[str], report: list[str]) -> gpd.GeoDataFrame:
    if isinstance(obj, gpd.GeoDataFrame):
        return validate_layer(obj, name, kinds=kinds, report=report)
    if isinstance(obj, gpd.GeoSeries):
        return validate_layer(gpd.GeoDataFrame(geometry=obj), name, kinds=kinds, report=report)
    if isinstance(obj, BaseGeometry):
        return validate_layer(gpd.GeoDataFrame(geometry=[obj], crs=WGS84), name, kinds=kinds, report=report)
    raise InputDataError(
        f"{name}: expected a GeoDataFrame or a shapely geometry in EPSG:4326, got {type(obj).__name__}"
    )


def water_geometry(water: Any, report: list[str]) -> BaseGeometry:
    if isinstance(water, CaspianCoast):
        return water.water_geometry
    frame = as_frame(water, "water", ("Polygon", "MultiPolygon"), report)
    return shapely.union_all(frame.geometry.to_numpy())


def coast_frame(coast: Any, report: list[str]) -> gpd.GeoDataFrame:
    """The coast as a GeoDataFrame[country, kind, geometry] in EPSG:4326."""
    if isinstance(coast, CaspianCoast):
        return coast.coast
    if isinstance(coast, Mapping):
        rows = [{"country": str(k).upper(), "kind": "coast", "geometry": g} for k, g in coast.items()]
        if not rows:
            raise InputDataError("coast: no state given; pass {ISO3: line geometry} for at least two states")
        coast = gpd.GeoDataFrame(rows, crs=WGS84)
    frame = as_frame(coast, "coast", ("LineString", "MultiLineString"), report)
    if "country" not in frame.columns:
        raise InputDataError("coast has no `country` column; give each coast line its state's ISO alpha-3 code")
    if "kind" not in frame.columns:
        frame["kind"] = "coast"
    if frame["country"].nunique() < 2:
        raise InputDataError(
            f"coast has {frame['country'].nunique()} state(s) ({', '.join(frame['country'].unique())}); a partition "
            "needs at least two"
        )
    return frame
