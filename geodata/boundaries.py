"""Caspian maritime boundaries: seabed sectors by equidistance, treaty points, and the 2018 Convention zones.

The Caspian is neither an ocean nor (legally) a lake: its seabed is divided between the five littoral states by
bilateral and trilateral agreements built on modified median lines, and the 2018 Convention on its legal status gives
each state 15 nautical miles of territorial waters and a further 10 nautical miles of exclusive fishing rights.

This module derives, from a coastline and a set of country polygons:

* :func:`load_caspian` / :func:`build_caspian_coast`: the Caspian water polygon (islands removed) and its coast split
  by littoral state;
* :func:`median_line_sectors`: an equidistance (median-line) partition of the water between the states, adjusted so
  that the boundaries pass through the treaty points given (:func:`load_treaty_points` ships the 2003 AZ-KZ ones);
* :func:`boundary_lines`: the boundary between each pair of neighbouring sectors, classified ``median_line`` or
  ``treaty``;
* :func:`convention_zones`: geodesic 15 nm territorial-sea and 10 nm fishing-zone bands;
* checks returning ``(passed, description, metadata)``: :func:`check_sectors_partition`,
  :func:`check_station_in_own_sector`, :func:`check_median_equidistance`.

Geodesy. The equidistance partition is a Voronoi diagram of densely sampled coast points computed in an azimuthal
equidistant projection centred on the water body. Its scale error is below 0.2 % within 650 km of the centre (the
whole Caspian), which moves a median line between coasts 150 km apart by at most about 0.15 km; the point sampling of
the coast adds at most ``spacing²/8d``. :func:`check_median_equidistance` measures the result geodesically (WGS84,
``pyproj.Geod``) and reports the worst difference of distance to the two coasts; 0.5 km is the accepted tolerance,
well below the coastline's own uncertainty (GSHHG vs Natural Earth: median 0.27 km, up to 1.3 km). Buffers are built
per state in a local azimuthal equidistant projection and verified geodesically (:func:`buffer_geodesic_error`).
Areas and lengths reported (``area_km2``, ``length_km``) are geodesic on WGS84.

Kara-Bogaz-Gol. GSHHG includes the Kara-Bogaz-Gol lagoon in the Caspian polygon. Turkmenistan treats it as internal
waters, and the 2018 Convention lets a state close such an inlet by a baseline, so by default it is cut off at its
strait (:data:`KARA_BOGAZ_GOL_CLOSING_LINE`) and excluded from the sea that is partitioned; the closing line becomes
Turkmen coast. ``kara_bogaz_gol="include"`` keeps it (it then falls wholly in the Turkmen sector).

Everything returned is in EPSG:4326.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
import yaml
from pyproj import CRS, Geod, Transformer
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import nearest_points

from geodata.errors import InputDataError
from geodata.scenario import Boundaries, TreatyPoint

__all__ = [
    "ISO_NUMERIC_TO_ISO3",
    "KARA_BOGAZ_GOL_CLOSING_LINE",
    "LITTORAL_STATES",
    "NM_M",
    "CaspianCoast",
    "boundary_lines",
    "buffer_geodesic_error",
    "build_caspian_coast",
    "check_median_equidistance",
    "check_sectors_partition",
    "check_station_in_own_sector",
    "convention_zones",
    "geodesic_area_km2",
    "geodesic_length_km",
    "load_caspian",
    "load_treaty_points",
    "median_line_sectors",
    "metric_crs_for",
    "treaty_points_for",
    "validate_layer",
]

WGS84 = CRS.from_epsg(4326)
GEOD = Geod(ellps="WGS84")
NM_M = 1852.0
"""One international nautical mile in metres."""

LITTORAL_STATES: tuple[str, ...] = ("AZE", "IRN", "KAZ", "RUS", "TKM")

ISO_NUMERIC_TO_ISO3: dict[str, str] = {
    "031": "AZE",
    "364": "IRN",
    "398": "KAZ",
    "643": "RUS",
    "795": "TKM",
    "051": "ARM",
    "268": "GEO",
    "860": "UZB",
}
"""ISO 3166-1 numeric -> alpha-3 for the countries round the Caspian (Natural Earth's ``id`` field)."""

KARA_BOGAZ_GOL_CLOSING_LINE: tuple[tuple[float, float], tuple[float, float]] = ((52.865, 41.090), (52.935, 41.040))
"""(lon, lat) ends of a segment across the Kara-Bogaz-Gol strait, both ends on land in GSHHG 2.3.6 (the spit north of
the strait and the mainland south of it). It crosses the 3.5 km wide channel at about 41.065 N, 52.90 E."""

KARA_BOGAZ_GOL_REFERENCE: tuple[float, float] = (53.5, 41.5)
"""(lon, lat) of a point in the middle of the Kara-Bogaz-Gol lagoon, used to tell which side of the cut it is."""

_ISO3_FIELDS = ("iso_a3", "ISO_A3", "adm0_a3", "ADM0_A3", "isoA3", "A3", "iso3", "ISO3", "country")
_OVERSHOOT_M = 25.0  # edges are clipped to the water grown by this much, so that they cross the coast and node cleanly


# -- small geometry helpers ------------------------------------------------------------------------------------------


def metric_crs_for(geometry: BaseGeometry) -> CRS:
    """An azimuthal equidistant CRS (WGS84, metres) centred on the centre of ``geometry``'s lon/lat bounds.

    Parameters
    ----------
    geometry
        A geometry in EPSG:4326.

    Returns
    -------
    pyproj.CRS
        Distances from the centre are exact; other distances are stretched by at most ``(ρ/R)²/6`` (0.17 % at 650 km).
    """
    w, s, e, n = geometry.bounds
    return _aeqd((w + e) / 2.0, (s + n) / 2.0)


def _aeqd(lon: float, lat: float) -> CRS:
    return CRS.from_proj4(f"+proj=aeqd +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m +no_defs")


_DENSIFY_DEG = 0.01  # lon/lat segments are densified to this before projection (a straight lon/lat segment is curved)


def _transform(geom: BaseGeometry, src: CRS, dst: CRS) -> BaseGeometry:
    """Reproject vertex by vertex, densifying lon/lat input first so that its segments keep their shape."""
    tr = Transformer.from_crs(src, dst, always_xy=True)
    if CRS.from_user_input(src).is_geographic and not CRS.from_user_input(dst).is_geographic:
        geom = shapely.segmentize(geom, _DENSIFY_DEG)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """Geodesic area on WGS84 of a (multi)polygon in EPSG:4326, in km²."""
    total = 0.0
    for poly in _polygons(geom):
        area, _ = GEOD.geometry_area_perimeter(orient(poly, 1.0))
        total += abs(area)
    return total / 1e6


def _equal_area_km2(geom: BaseGeometry, crs: CRS) -> float:
    """Area in km² in an equal-area CRS: robust for slivers, where geodesic polygon sums lose precision."""
    return float(_transform(geom, WGS84, crs).area) / 1e6 if not geom.is_empty else 0.0


def _laea_for(geom: BaseGeometry) -> CRS:
    w, s, e, n = geom.bounds
    return CRS.from_proj4(
        f"+proj=laea +lat_0={(s + n) / 2:.6f} +lon_0={(w + e) / 2:.6f} +datum=WGS84 +units=m +no_defs"
    )


def geodesic_length_km(geom: BaseGeometry) -> float:
    """Geodesic length on WGS84 of a (multi)line in EPSG:4326, in km."""
    if geom.is_empty:
        return 0.0
    return float(GEOD.geometry_length(geom)) / 1e3


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty] + [
        p for g in getattr(geom, "geoms", []) if not isinstance(g, Polygon) for p in _polygons(g)
    ]


def _lines(geom: BaseGeometry) -> list[LineString]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, LineString):
        return [geom]
    out: list[LineString] = []
    for g in getattr(geom, "geoms", []):
        out.extend(_lines(g))
    return out


def _area_only(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (drops the points and lines an overlay may leave)."""
    polys = _polygons(geom)
    if not polys:
        return Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


# -- input validation ------------------------------------------------------------------------------------------------


def validate_layer(
    gdf: gpd.GeoDataFrame,
    name: str,
    *,
    kinds: Sequence[str] = ("Polygon", "MultiPolygon"),
    report: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Check a vector layer and bring it to EPSG:4326 with valid geometries.

    Parameters
    ----------
    gdf
        The layer.
    name
        How to name the input in messages (e.g. ``"coast_gshhg_f_2.3.6.gpkg layer caspian_sea_water"``).
    kinds
        Geometry types accepted (after repair).
    report
        A list to which every repair or conversion is appended, as a sentence.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326, null and empty geometries dropped, invalid ones repaired with ``make_valid``.

    Raises
    ------
    InputDataError
        The layer is empty, has no CRS, or holds no geometry of the accepted kinds.
    """
    report = report if report is not None else []
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputDataError(f"{name}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if len(gdf) == 0:
        raise InputDataError(f"{name} is empty (no features); check the file and layer name")
    if gdf.crs is None:
        raise InputDataError(
            f"{name} has no CRS; define it (e.g. `gdf.set_crs('EPSG:4326')`, or `ogr2ogr -a_srs EPSG:4326`) "
            "before passing it"
        )
    out = gdf.copy()
    if not CRS.from_user_input(out.crs).equals(WGS84):
        report.append(f"{name}: reprojected from {out.crs.to_string()} to EPSG:4326")
        out = out.to_crs(WGS84)
    null = out.geometry.isna() | out.geometry.is_empty
    if null.any():
        report.append(f"{name}: dropped {int(null.sum())} null or empty geometries")
        out = out.loc[~null].copy()
    invalid = ~out.geometry.is_valid
    if invalid.any():
        reasons = sorted({shapely.is_valid_reason(g).split("[")[0] for g in out.geometry[invalid]})
        before = float(shapely.area(out.geometry[invalid].to_numpy()).sum())
        fixed = shapely.make_valid(out.geometry[invalid].to_numpy())
        if set(kinds) <= {"Polygon", "MultiPolygon"}:
            fixed = np.array([_area_only(g) for g in fixed], dtype=object)
        out.loc[invalid, out.geometry.name] = fixed
        after = float(shapely.area(out.geometry[invalid].to_numpy()).sum())
        report.append(
            f"{name}: repaired {int(invalid.sum())} invalid geometries with make_valid ({'; '.join(reasons)}); "
            f"area {before:.6g} -> {after:.6g} deg²"
        )
    ok = out.geometry.geom_type.isin(kinds) & ~out.geometry.is_empty
    if not ok.any():
        raise InputDataError(
            f"{name} holds no {'/'.join(kinds)} geometry (found {sorted(set(gdf.geometry.geom_type.dropna()))}); "
            "pass the right layer"
        )
    if not ok.all():
        report.append(f"{name}: ignored {int((~ok).sum())} features that are not {'/'.join(kinds)}")
        out = out.loc[ok].copy()
    return out


def _iso3_column(countries: gpd.GeoDataFrame, name: str) -> np.ndarray:
    for col in _ISO3_FIELDS:
        if col in countries.columns:
            return countries[col].astype(str).str.upper().to_numpy()
    if "id" in countries.columns:
        codes = countries["id"].astype(str).str.zfill(3)
        return codes.map(lambda c: ISO_NUMERIC_TO_ISO3.get(c, f"N{c}")).to_numpy()
    raise InputDataError(
        f"{name} has no country code field; expected one of {', '.join(_ISO3_FIELDS)} (ISO alpha-3) or `id` "
        "(ISO numeric)"
    )


def _as_frame(obj: Any, name: str, kinds: Sequence[str], report: list[str]) -> gpd.GeoDataFrame:
    if isinstance(obj, gpd.GeoDataFrame):
        return validate_layer(obj, name, kinds=kinds, report=report)
    if isinstance(obj, gpd.GeoSeries):
        return validate_layer(gpd.GeoDataFrame(geometry=obj), name, kinds=kinds, report=report)
    if isinstance(obj, BaseGeometry):
        return validate_layer(gpd.GeoDataFrame(geometry=[obj], crs=WGS84), name, kinds=kinds, report=report)
    raise InputDataError(
        f"{name}: expected a GeoDataFrame or a shapely geometry in EPSG:4326, got {type(obj).__name__}"
    )


def _water_geometry(water: Any, report: list[str]) -> BaseGeometry:
    if isinstance(water, CaspianCoast):
        return water.water_geometry
    frame = _as_frame(water, "water", ("Polygon", "MultiPolygon"), report)
    return shapely.union_all(frame.geometry.to_numpy())


def _coast_frame(coast: Any, report: list[str]) -> gpd.GeoDataFrame:
    """The coast as a GeoDataFrame[country, kind, geometry] in EPSG:4326."""
    if isinstance(coast, CaspianCoast):
        return coast.coast
    if isinstance(coast, Mapping):
        rows = [{"country": str(k).upper(), "kind": "coast", "geometry": g} for k, g in coast.items()]
        if not rows:
            raise InputDataError("coast: no state given; pass {ISO3: line geometry} for at least two states")
        coast = gpd.GeoDataFrame(rows, crs=WGS84)
    frame = _as_frame(coast, "coast", ("LineString", "MultiLineString"), report)
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


# -- treaty points ---------------------------------------------------------------------------------------------------


def load_treaty_points(path: str | Path | None = None) -> list[TreatyPoint]:
    """Read curated treaty points from YAML (default: the packaged ``geodata/data/treaty_points.yaml``).

    Parameters
    ----------
    path
        A YAML file with a ``treaty_points`` list of ``{name, lat_deg, lon_deg, countries, citation, ...}``; keys
        other than those five are documentation and are ignored here.

    Returns
    -------
    list of TreatyPoint
    """
    if path is None:
        text = resources.files("geodata").joinpath("data/treaty_points.yaml").read_text(encoding="utf-8")
        origin = "geodata/data/treaty_points.yaml"
    else:
        text = Path(path).read_text(encoding="utf-8")
        origin = str(path)
    raw = yaml.safe_load(text) or {}
    entries = raw.get("treaty_points") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise InputDataError(f"{origin}: expected a top-level `treaty_points:` list")
    keys = ("name", "lat_deg", "lon_deg", "countries", "citation")
    out = []
    for i, entry in enumerate(entries):
        missing = [k for k in keys if k not in entry]
        if missing:
            raise InputDataError(f"{origin}: treaty point #{i + 1} lacks {', '.join(missing)}")
        out.append(TreatyPoint(**{k: entry[k] for k in keys}))
    return out


def treaty_points_for(boundaries: Boundaries) -> list[TreatyPoint]:
    """The treaty points a scenario asks for: the packaged ones (unless switched off) then the scenario's own."""
    packaged = load_treaty_points() if boundaries.use_packaged_treaty_points else []
    return [*packaged, *boundaries.treaty_points]


def _treaty_list(points: Iterable[TreatyPoint | Mapping[str, Any]] | None) -> list[TreatyPoint]:
    out = []
    for p in points or ():
        out.append(p if isinstance(p, TreatyPoint) else TreatyPoint.model_validate(dict(p)))
    return out


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
            raise InputDataError(f"{path} does not exist; resolve it with geodata.catalogue.resolve()")
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
            sea = _area_only(sea.difference(shapely.union_all(islands_f.geometry[inside].to_numpy())))
            report.append(f"{iname}: {int(inside.sum())} islands cut out of the water")
    sea = _area_only(shapely.make_valid(sea))

    codes = _iso3_column(countries_f, cname or "countries layer")
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
    sea_m = _transform(sea, WGS84, metric)
    states_m = {s: _transform(g, WGS84, metric) for s, g in by_state.items()}
    closing_m = _transform(closing, WGS84, metric) if closing is not None else None
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
    rest = _area_only(shapely.make_valid(sea.difference(lagoon)))
    closing = _lines(rest.boundary.intersection(lagoon.boundary))
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
    tree = shapely.STRtree(polys)
    rows: list[dict[str, Any]] = []
    for poly in _polygons(sea):
        # mainland (exterior ring): per-sample nearest country
        ring = shapely.segmentize(LineString(poly.exterior.coords), spacing_m)
        pts = shapely.get_coordinates(ring)[:-1]
        idx = tree.query_nearest(shapely.points(pts), all_matches=False)[1]
        labels = np.array([names[i] for i in idx], dtype=object)
        kinds = np.full(len(pts), "mainland", dtype=object)
        if closing is not None:
            on_closing = shapely.dwithin(shapely.points(pts), closing, 1.0)
            kinds[on_closing] = "closing_line"
        rows.extend(_runs(pts, labels, kinds))
        # islands (interior rings): whole to the nearest country
        for interior in poly.interiors:
            island = Polygon(interior)
            dists = [island.distance(p) for p in polys]
            owner = names[int(np.argmin(dists))]
            rows.append({"country": owner, "kind": "island", "geometry": LineString(interior.coords)})
    return rows


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
    sea = _water_geometry(water, report)
    coast_f = _coast_frame(coast, report)
    if island_effect == "none":
        coast_f = coast_f[coast_f["kind"] != "island"]
    elif island_effect != "full":
        raise InputDataError(f"island_effect must be 'full' or 'none', got {island_effect!r}")
    metric = CRS.from_user_input(crs) if crs is not None else metric_crs_for(sea)
    if not metric.is_projected:
        raise InputDataError(f"crs {metric.to_string()} is not projected; pass a metric CRS or leave it None")
    spacing_m = spacing_km * 1e3
    sea_m = _transform(sea, WGS84, metric)

    pts, labels = _coast_samples(coast_f, metric, spacing_m)
    states = sorted(set(labels))
    regions = _voronoi_regions(pts, labels, sea_m)
    pure = {s: _area_only(regions[s].intersection(sea_m)) for s in states}
    edges = _edges(regions, sea_m, spacing_m)

    treaties = _treaty_list(treaty_points)
    treaty_records = _pin_treaty_points(treaties, edges, sea_m, metric, states, coast_f)
    for edge in edges:
        if edge.pins:
            _apply_pins(edge, metric, treaty_line)
        else:
            edge.segments.append({"kind": "median_line", "method": "equidistance", "line": edge.line})

    sectors_m = _resplit(sea_m, edges, pure)
    to_wgs = {s: _transform(g, metric, WGS84) for s, g in sectors_m.items()}
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
            "wkt": _transform(seg["line"], metric, WGS84).wkt,
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
        geom = _transform(shapely.union_all(grp.geometry.to_numpy()), WGS84, metric)
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
        cells[bad] = [_area_only(g) for g in shapely.make_valid(cells[bad])]
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


def _edges(regions: Mapping[str, BaseGeometry], sea_m: BaseGeometry, spacing_m: float) -> list[_Edge]:
    """The pure median lines between each pair of states, inside the water (plus a small overshoot)."""
    grown = sea_m.buffer(_OVERSHOOT_M)
    states = sorted(regions)
    edges: list[_Edge] = []
    for i, a in enumerate(states):
        for b in states[i + 1 :]:
            if not regions[a].intersects(regions[b]):
                continue
            shared = _lines(regions[a].boundary.intersection(regions[b].boundary))
            if not shared:
                continue
            merged = shapely.line_merge(shapely.MultiLineString(shared))
            inside = shapely.line_merge(shapely.MultiLineString(_lines(merged.intersection(grown)) or [LineString()]))
            for part in _lines(inside):
                if part.length > 0:
                    edges.append(_Edge((a, b), shapely.segmentize(part, spacing_m)))
    return edges


def _node_key(xy: Sequence[float]) -> tuple[int, int]:
    return (round(float(xy[0]) * 100), round(float(xy[1]) * 100))


def _pin_treaty_points(
    treaties: Sequence[TreatyPoint],
    edges: list[_Edge],
    sea_m: BaseGeometry,
    metric: CRS,
    states: Sequence[str],
    coast_f: gpd.GeoDataFrame,
) -> list[dict[str, Any]]:
    if not treaties:
        return []
    to_m = Transformer.from_crs(WGS84, metric, always_xy=True)
    to_ll = Transformer.from_crs(metric, WGS84, always_xy=True)
    # junctions: edge ends shared by edges of three or more states
    node_states: dict[tuple[int, int], set[str]] = {}
    node_xy: dict[tuple[int, int], np.ndarray] = {}
    for e in edges:
        for xy in (e.line.coords[0], e.line.coords[-1]):
            k = _node_key(xy)
            node_states.setdefault(k, set()).update(e.pair)
            node_xy[k] = np.asarray(xy, dtype=float)
    junctions = {k: v for k, v in node_states.items() if len(v) >= 3}
    pinned_nodes: dict[tuple[int, int], str] = {}
    records = []
    coast_by = {str(c): shapely.union_all(g.geometry.to_numpy()) for c, g in coast_f.groupby("country")}

    def pin_node(key: tuple[int, int], target: np.ndarray, name: str) -> None:
        if key in pinned_nodes:
            raise InputDataError(
                f"treaty points '{pinned_nodes[key]}' and '{name}' both claim the same junction of "
                f"{', '.join(sorted(node_states[key]))}; keep one"
            )
        pinned_nodes[key] = name
        for e in edges:
            for s, xy in ((0.0, e.line.coords[0]), (e.line.length, e.line.coords[-1])):
                if _node_key(xy) == key:
                    e.pins.append(_Pin(s, target, name))

    for tp in treaties:
        countries = [c.upper() for c in tp.countries]
        unknown = [c for c in countries if c not in states]
        if unknown or len(set(countries)) < 2:
            raise InputDataError(
                f"treaty point '{tp.name}' names {', '.join(countries)}; it needs two or three of the coastal states "
                f"{', '.join(states)}"
            )
        x, y = to_m.transform(tp.lon_deg, tp.lat_deg)
        target = np.array([x, y])
        if not sea_m.contains(Point(target)):
            raise InputDataError(
                f"treaty point '{tp.name}' ({tp.lat_deg} N, {tp.lon_deg} E) is not in the water; check its "
                "coordinates (decimal degrees, latitude first) and the water polygon"
            )
        wanted = set(countries)
        note = ""
        if len(wanted) >= 3:
            keys = [k for k, v in junctions.items() if v == wanted] or [k for k, v in junctions.items() if wanted <= v]
            if not keys:
                meeting = sorted("-".join(sorted(v)) for v in junctions.values())
                raise InputDataError(
                    f"treaty point '{tp.name}' is a junction of {', '.join(sorted(wanted))}, but in the equidistance "
                    f"partition these sectors never meet (junctions: {', '.join(meeting) or 'none'}); give the point "
                    "as a bilateral one (two countries) instead"
                )
            key = min(keys, key=lambda k: float(np.hypot(*(node_xy[k] - target))))
            pure_xy = node_xy[key]
            pin_node(key, target, tp.name)
            role = "junction"
        else:
            pair = tuple(sorted(wanted))
            cands = [e for e in edges if e.pair == pair]
            if not cands:
                raise InputDataError(
                    f"treaty point '{tp.name}' lies on the {'-'.join(pair)} boundary, but the equidistance partition "
                    f"gives these two states no common boundary; check the countries of the point"
                )
            edge = min(cands, key=lambda e: e.line.distance(Point(target)))
            s = edge.line.project(Point(target))
            pure_xy = np.asarray(edge.line.interpolate(s).coords[0])
            role = "boundary point"
            end_xy = edge.line.coords[0] if s < 1.0 else edge.line.coords[-1] if s > edge.line.length - 1.0 else None
            if end_xy is not None:
                key = _node_key(end_xy)
                if key not in junctions:
                    raise InputDataError(
                        f"treaty point '{tp.name}' lies beyond the landward end of the {'-'.join(pair)} median line; "
                        "check its coordinates"
                    )
                pin_node(key, target, tp.name)
                role = "junction (beyond the end of the pure line)"
                note = (
                    f"the point lies beyond the pure {'-'.join(pair)} line, so the junction with "
                    f"{', '.join(sorted(junctions[key] - wanted))} was moved onto it"
                )
            else:
                edge.pins.append(_Pin(s, target, tp.name))
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
    to_m = Transformer.from_crs(WGS84, metric, always_xy=True)
    geom_m = _transform(geom_ll, WGS84, metric)
    x, y = to_m.transform(lon, lat)
    near = nearest_points(geom_m, Point(x, y))[0]
    # refine geodesically among samples of the coast near the planar nearest point
    window = shapely.segmentize(
        geom_m.intersection(near.buffer(max(5_000.0, 0.02 * near.distance(Point(x, y))))), step_m
    )
    xy = shapely.get_coordinates(window)
    if len(xy) == 0:
        xy = np.array([near.coords[0]])
    lons, lats = Transformer.from_crs(metric, WGS84, always_xy=True).transform(xy[:, 0], xy[:, 1])
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
    to_ll = Transformer.from_crs(metric, WGS84, always_xy=True)
    to_m = Transformer.from_crs(WGS84, metric, always_xy=True)
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


# -- boundary lines --------------------------------------------------------------------------------------------------


def _sector_map(sectors: gpd.GeoDataFrame, report: list[str]) -> dict[str, BaseGeometry]:
    frame = validate_layer(sectors, "sectors", report=report)
    if "country" not in frame.columns:
        raise InputDataError("sectors has no `country` column; pass the output of median_line_sectors()")
    return {str(c): shapely.union_all(g.geometry.to_numpy()) for c, g in frame.groupby("country")}


def boundary_lines(sectors: gpd.GeoDataFrame, *, crs: Any = None) -> gpd.GeoDataFrame:
    """The boundary between each pair of neighbouring sectors.

    Parameters
    ----------
    sectors
        Output of :func:`median_line_sectors` (its ``attrs["delimitation"]["segments"]`` tell treaty parts apart;
        without them every line is ``median_line``).
    crs
        Metric CRS used to orient and classify the lines; default as :func:`metric_crs_for`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``left_country`` and ``right_country`` (seen walking along the line's direction), ``kind`` (``median_line`` or
        ``treaty``: the part between two treaty points), ``method`` (``equidistance``, ``median line shifted onto
        treaty points`` ...), ``length_km`` (geodesic), line geometry, EPSG:4326.
    """
    report: list[str] = []
    by = _sector_map(sectors, report)
    metric = CRS.from_user_input(crs) if crs is not None else metric_crs_for(shapely.union_all(list(by.values())))
    segs = (getattr(sectors, "attrs", {}) or {}).get("delimitation", {}).get("segments", [])
    by_m: dict[str, BaseGeometry] = {}
    rows = []
    names = sorted(by)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = _lines(by[a].boundary.intersection(by[b].boundary))
            if not shared:
                continue
            shared_ll = shapely.line_merge(shapely.MultiLineString(shared))
            shared_m = _transform(shared_ll, WGS84, metric)
            rest = shared_m
            pieces: list[tuple[str, str, BaseGeometry]] = []
            for seg in segs:
                if sorted(seg["countries"]) != [a, b]:
                    continue
                zone = _transform(shapely.from_wkt(seg["wkt"]), WGS84, metric).buffer(1.0, cap_style="flat")
                part = rest.intersection(zone)
                if not part.is_empty:
                    pieces.append((seg["kind"], seg["method"], part))
                    rest = rest.difference(zone)
            pieces.append(("median_line", "equidistance", rest))
            for ab in (a, b):
                by_m.setdefault(ab, _transform(by[ab], WGS84, metric))
            for kind, method, geom in pieces:
                merged = shapely.line_merge(shapely.MultiLineString(_lines(geom))) if _lines(geom) else None
                for line in _lines(merged) if merged is not None else []:
                    if line.length < 1.0:
                        continue
                    left, right = _sides(line, a, b, by_m)
                    line_ll = _transform(line, metric, WGS84)
                    rows.append(
                        {
                            "left_country": left,
                            "right_country": right,
                            "kind": kind,
                            "method": method,
                            "length_km": geodesic_length_km(line_ll),
                            "geometry": line_ll,
                        }
                    )
    cols = ["left_country", "right_country", "kind", "method", "length_km"]
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)[[*cols, "geometry"]]


def _sides(line: LineString, a: str, b: str, by_m: Mapping[str, BaseGeometry]) -> tuple[str, str]:
    """(left, right) country of a line, probing 5 m either side of its middle."""
    half = line.length / 2
    p0 = np.asarray(line.interpolate(max(half - 1.0, 0.0)).coords[0])
    p1 = np.asarray(line.interpolate(min(half + 1.0, line.length)).coords[0])
    t = (p1 - p0) / max(float(np.hypot(*(p1 - p0))), 1e-9)
    mid = np.asarray(line.interpolate(half).coords[0])
    probe = Point(mid + 5.0 * np.array([-t[1], t[0]]))
    if by_m[a].distance(probe) <= by_m[b].distance(probe):
        return a, b
    return b, a


# -- 2018 Convention zones -------------------------------------------------------------------------------------------


def convention_zones(
    coast: Any,
    water: Any,
    *,
    sectors: gpd.GeoDataFrame | None = None,
    territorial_sea_nm: float = 15.0,
    fishing_zone_nm: float = 10.0,
    quad_segs: int = 16,
) -> gpd.GeoDataFrame:
    """Territorial sea and fishing zone of each state under the 2018 Caspian Convention.

    The zones are measured from the coast (no baselines are given): each state's coast is buffered in an azimuthal
    equidistant projection centred on that coast (radius error below 0.1 % within 500 km of its centre; see
    :func:`buffer_geodesic_error`), then clipped to the water and to the state's own seabed sector, which splits at
    the boundary any band two states' zones would share.

    Parameters
    ----------
    coast, water
        As for :func:`median_line_sectors`.
    sectors
        The seabed sectors to clip to (e.g. the treaty-adjusted output of :func:`median_line_sectors`); default the
        pure equidistance sectors.
    territorial_sea_nm
        Breadth of the territorial sea, nautical miles (Convention art. 7: 15).
    fishing_zone_nm
        Breadth of the fishing zone beyond the territorial sea, nautical miles (art. 9: 10).
    quad_segs
        Segments per quarter circle of the buffers.

    Returns
    -------
    geopandas.GeoDataFrame
        ``country``, ``zone`` (``territorial_sea`` or ``fishing_zone``), ``width_nm``, ``inner_limit_nm``,
        ``outer_limit_nm``, ``area_km2`` (geodesic), polygon geometry, EPSG:4326. ``attrs["buffer_check"]`` holds the
        geodesic verification of each state's outer limit (:func:`buffer_geodesic_error`).
    """
    report: list[str] = []
    if territorial_sea_nm <= 0 or fishing_zone_nm < 0:
        raise InputDataError(
            f"zone widths must be territorial_sea_nm > 0 and fishing_zone_nm >= 0, got {territorial_sea_nm}, "
            f"{fishing_zone_nm}"
        )
    sea = _water_geometry(water, report)
    coast_f = _coast_frame(coast, report)
    if sectors is None:
        sectors = median_line_sectors(sea, coast_f)
    own = _sector_map(sectors, report)
    ts_m = territorial_sea_nm * NM_M
    outer_m = (territorial_sea_nm + fishing_zone_nm) * NM_M
    rows = []
    checks = {}
    for country, grp in coast_f.groupby("country"):
        country = str(country)
        if country not in own:
            report.append(f"{country}: no sector, no zone")
            continue
        line_ll = shapely.union_all(grp.geometry.to_numpy())
        w, s, e, n = line_ll.bounds
        local = _aeqd((w + e) / 2, (s + n) / 2)
        line_m = _transform(line_ll, WGS84, local)
        clip = _transform(shapely.intersection(sea, own[country]), WGS84, local)
        inner = line_m.buffer(ts_m, quad_segs=quad_segs)
        outer = line_m.buffer(outer_m, quad_segs=quad_segs) if fishing_zone_nm > 0 else inner
        zones = [("territorial_sea", territorial_sea_nm, 0.0, territorial_sea_nm, inner.intersection(clip))]
        if fishing_zone_nm > 0:
            zones.append(
                (
                    "fishing_zone",
                    fishing_zone_nm,
                    territorial_sea_nm,
                    territorial_sea_nm + fishing_zone_nm,
                    outer.difference(inner).intersection(clip),
                )
            )
        for zone, width, lo, hi, geom_m in zones:
            geom = _area_only(_transform(_area_only(geom_m), local, WGS84))
            rows.append(
                {
                    "country": country,
                    "zone": zone,
                    "width_nm": width,
                    "inner_limit_nm": lo,
                    "outer_limit_nm": hi,
                    "area_km2": geodesic_area_km2(geom),
                    "geometry": geom,
                }
            )
        checks[country] = buffer_geodesic_error(line_ll, outer_m, crs=local, quad_segs=quad_segs)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    out.attrs["buffer_check"] = checks
    out.attrs["input_report"] = report
    return out


def buffer_geodesic_error(
    line: BaseGeometry,
    distance_m: float,
    *,
    crs: Any = None,
    quad_segs: int = 16,
    samples: int = 2000,
) -> dict[str, float]:
    """How far from ``distance_m`` (geodesically) the projected buffer of ``line`` really lies.

    The buffer is built in ``crs`` (default a local azimuthal equidistant projection) as in :func:`convention_zones`;
    up to ``samples`` vertices of its outline are taken back to lon/lat and their geodesic distance to the line
    (sampled every 100 m, WGS84) is compared with ``distance_m``.

    Parameters
    ----------
    line
        A (multi)line in EPSG:4326.
    distance_m
        Buffer distance, metres.

    Returns
    -------
    dict
        ``max_rel_error`` (fraction), ``max_abs_error_m``, ``mean_distance_m``, ``samples``.
    """

    if crs is None:
        w, s, e, n = line.bounds
        crs = _aeqd((w + e) / 2, (s + n) / 2)
    local = CRS.from_user_input(crs)
    line_m = _transform(line, WGS84, local)
    outline = shapely.get_coordinates(line_m.buffer(distance_m, quad_segs=quad_segs).boundary)
    step = max(1, len(outline) // samples)
    probe = outline[::step]
    dense = shapely.get_coordinates(shapely.segmentize(line_m, 100.0))
    k = min(16, len(dense))
    _, idx = cKDTree(dense).query(probe, k=k)
    idx = np.asarray(idx).reshape(len(probe), k)
    to_ll = Transformer.from_crs(local, WGS84, always_xy=True)
    plon, plat = to_ll.transform(probe[:, 0], probe[:, 1])
    dlon, dlat = to_ll.transform(dense[:, 0], dense[:, 1])
    _, _, d = GEOD.inv(
        np.repeat(plon, k), np.repeat(plat, k), np.asarray(dlon)[idx.ravel()], np.asarray(dlat)[idx.ravel()]
    )
    dist = np.asarray(d).reshape(len(probe), k).min(axis=1)
    err = np.abs(dist - distance_m)
    return {
        "max_rel_error": float(err.max() / distance_m),
        "max_abs_error_m": float(err.max()),
        "mean_distance_m": float(dist.mean()),
        "samples": len(probe),
    }


# -- checks ----------------------------------------------------------------------------------------------------------


def check_sectors_partition(
    sectors: gpd.GeoDataFrame, water: Any, *, tolerance_km2: float = 1.0
) -> tuple[bool, str, dict[str, Any]]:
    """Do the sectors cover the water without gaps, overlaps or spill onto land?

    Gap, overlap and spill areas are measured in a Lambert azimuthal equal-area projection centred on the water
    (geodesic polygon sums lose precision on slivers); the water and sector totals are geodesic.

    Parameters
    ----------
    sectors
        ``country`` + polygons, EPSG:4326.
    water
        The water they must partition.
    tolerance_km2
        Largest gap, overlap and spill accepted, km² each (geodesic).

    Returns
    -------
    (passed, description, metadata)
        metadata: ``gap_km2``, ``overlap_km2``, ``outside_water_km2``, ``water_km2``, ``sectors_km2``, ``countries``.
    """
    report: list[str] = []
    sea = _water_geometry(water, report)
    frame = validate_layer(sectors, "sectors", report=report)
    geoms = list(frame.geometry)
    union = shapely.union_all(geoms)
    laea = _laea_for(shapely.union_all([sea, union]))
    gap = _equal_area_km2(_area_only(sea.difference(union)), laea)
    outside = _equal_area_km2(_area_only(union.difference(sea)), laea)
    overlap = 0.0
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            if geoms[i].intersects(geoms[j]):
                overlap += _equal_area_km2(_area_only(geoms[i].intersection(geoms[j])), laea)
    meta = {
        "gap_km2": round(gap, 6),
        "overlap_km2": round(overlap, 6),
        "outside_water_km2": round(outside, 6),
        "water_km2": round(geodesic_area_km2(sea), 3),
        "sectors_km2": round(sum(geodesic_area_km2(g) for g in geoms), 3),
        "countries": [str(c) for c in frame.get("country", [])],
        "tolerance_km2": tolerance_km2,
    }
    passed = gap <= tolerance_km2 and overlap <= tolerance_km2 and outside <= tolerance_km2
    desc = (
        f"sectors partition the water: gap {gap:.4f} km², overlap {overlap:.4f} km², outside the water "
        f"{outside:.4f} km² (tolerance {tolerance_km2} km² each)"
    )
    return passed, desc, meta


def check_station_in_own_sector(
    sectors: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | Sequence[Any],
    *,
    max_distance_km: float = 25.0,
) -> tuple[bool, str, dict[str, Any]]:
    """Does each landing station face its own state's sector?

    A landing station is on land, so it "lies in" the sector that is nearest to it: the check passes when, for each
    station, the nearest sector is its own state's and lies within ``max_distance_km``.

    Parameters
    ----------
    sectors
        ``country`` + polygons, EPSG:4326.
    stations
        GeoDataFrame with ``name``, ``country`` and points, or :class:`~geodata.scenario.LandingStation` objects.
    max_distance_km
        Largest accepted distance from a station to its own sector.

    Returns
    -------
    (passed, description, metadata)
        metadata: per station ``country``, ``nearest_sector``, ``distance_to_own_km``, ``distance_to_nearest_other_km``.
    """
    report: list[str] = []
    by = _sector_map(sectors, report)
    if isinstance(stations, gpd.GeoDataFrame):
        st = validate_layer(stations, "stations", kinds=("Point",), report=report)
        for col in ("name", "country"):
            if col not in st.columns:
                raise InputDataError(f"stations has no `{col}` column; give each station a name and ISO3 country")
        items = [(str(r["name"]), str(r["country"]).upper(), r.geometry.x, r.geometry.y) for _, r in st.iterrows()]
    else:
        items = [(s.name, s.country.upper(), s.lon_deg, s.lat_deg) for s in stations]
    if not items:
        raise InputDataError("stations is empty; pass the scenario's landing stations")
    results = {}
    failures = []
    for name, country, lon, lat in items:
        local = _aeqd(lon, lat)
        p = Point(0.0, 0.0)
        dist = {c: _transform(g, WGS84, local).distance(p) / 1e3 for c, g in by.items()}
        nearest = min(dist, key=lambda c: dist[c])
        others = [d for c, d in dist.items() if c != country]
        own = dist.get(country, math.inf)
        results[name] = {
            "country": country,
            "nearest_sector": nearest,
            "inside_own_sector": own == 0.0,
            "distance_to_own_km": round(own, 3) if math.isfinite(own) else None,
            "distance_to_nearest_other_km": round(min(others), 3) if others else None,
        }
        if nearest != country or own > max_distance_km:
            failures.append(f"{name} ({country}) is nearest to the {nearest} sector, {own:.1f} km from its own")
    passed = not failures
    desc = "every landing station faces its own state's sector" if passed else "; ".join(failures)
    return passed, desc, {"stations": results, "max_distance_km": max_distance_km}


def check_median_equidistance(
    lines: gpd.GeoDataFrame,
    coast: Any,
    *,
    tolerance_km: float = 0.5,
    sample_km: float = 5.0,
    min_distance_km: float = 2.0,
) -> tuple[bool, str, dict[str, Any]]:
    """Are the pure median lines really equidistant, geodesically, from the two coasts?

    Points every ``sample_km`` along each ``equidistance`` line (:func:`boundary_lines`) are measured on WGS84 to the
    nearest coast sample (every 100 m) of the states on either side; the check passes when the two distances differ
    by at most ``tolerance_km`` everywhere. Points closer than ``min_distance_km`` to the coast are skipped (the line
    meets the coast there, where the difference is bounded by the sampling).

    Returns
    -------
    (passed, description, metadata)
        metadata: ``max_difference_km``, ``p95_difference_km``, ``worst_lon_deg``/``worst_lat_deg``, ``samples``.
    """

    report: list[str] = []
    coast_f = _coast_frame(coast, report)
    if "method" in lines.columns:
        lines = lines[lines["method"] == "equidistance"]
    union = shapely.union_all(list(lines.geometry) + list(coast_f.geometry))
    metric = metric_crs_for(union)
    to_ll = Transformer.from_crs(metric, WGS84, always_xy=True)
    trees = {}
    for country, grp in coast_f.groupby("country"):
        xy = shapely.get_coordinates(
            shapely.segmentize(_transform(shapely.union_all(grp.geometry.to_numpy()), WGS84, metric), 100.0)
        )
        lon, lat = to_ll.transform(xy[:, 0], xy[:, 1])
        trees[str(country)] = (cKDTree(xy), np.asarray(lon), np.asarray(lat))

    def geodesic_min(country: str, pts: np.ndarray) -> np.ndarray:
        tree, lon, lat = trees[country]
        k = min(16, len(lon))
        _, idx = tree.query(pts, k=k)
        idx = np.asarray(idx).reshape(len(pts), k)
        plon, plat = to_ll.transform(pts[:, 0], pts[:, 1])
        _, _, d = GEOD.inv(np.repeat(plon, k), np.repeat(plat, k), lon[idx.ravel()], lat[idx.ravel()])
        return np.asarray(d).reshape(len(pts), k).min(axis=1) / 1e3

    diffs, where = [], []
    for _, row in lines.iterrows():
        line_m = _transform(row.geometry, WGS84, metric)
        n = max(int(line_m.length // (sample_km * 1e3)), 1)
        pts = np.array([line_m.interpolate(f, normalized=True).coords[0] for f in np.linspace(0, 1, n + 1)])
        da = geodesic_min(str(row["left_country"]), pts)
        db = geodesic_min(str(row["right_country"]), pts)
        keep = np.minimum(da, db) >= min_distance_km
        diffs.append(np.abs(da - db)[keep])
        where.append(pts[keep])
    alld = np.concatenate(diffs) if diffs else np.array([])
    if alld.size == 0:
        return True, "no equidistance line to measure", {"samples": 0}
    allp = np.vstack(where)
    i = int(np.argmax(alld))
    wlon, wlat = to_ll.transform(*allp[i])
    meta = {
        "max_difference_km": round(float(alld.max()), 4),
        "p95_difference_km": round(float(np.percentile(alld, 95)), 4),
        "worst_lon_deg": round(float(wlon), 5),
        "worst_lat_deg": round(float(wlat), 5),
        "samples": int(alld.size),
        "tolerance_km": tolerance_km,
    }
    passed = float(alld.max()) <= tolerance_km
    desc = (
        f"median lines are equidistant to {meta['max_difference_km']} km at worst (95 %: {meta['p95_difference_km']} "
        f"km; tolerance {tolerance_km} km, geodesic on WGS84)"
    )
    return passed, desc, meta
