"""The published GeoPackage: vector layers in EPSG:4326 with spatial indexes, gridded-coverage rasters holding the real
depth and cost values, QGIS styles in ``layer_styles`` and layer metadata in ``gpkg_metadata``.

Written with GDAL (pyogrio for vectors, rasterio for the tiled gridded coverage extension) as GeoPackage 1.3, the
version every current QGIS, ArcGIS and GDAL >= 2.2 read; the sqlite3 pass afterwards only adds the two things GDAL
does not write: the QGIS style table (the table QGIS's OGR provider creates, registered in ``gpkg_contents`` as an
``attributes`` table so the file stays valid) and QGIS layer-metadata documents (``md_standard_uri``
``http://mrcc.com/qgis.dtd``, which QGIS reads as layer metadata). The file is written beside its target and renamed
into place only when complete.

:func:`validate_gpkg` checks a file with GDAL's own ``validate_gpkg.py`` (from Debian's ``python3-gdal``, run by
``/usr/bin/python3``) and with the library's own checks (SQLite integrity, foreign keys, every layer and raster read
back by GDAL, spatial indexes, styles and metadata present).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import sqlite3
import struct
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import rasterio
import rasterio.errors
from pyproj import CRS

from geodata.errors import InputDataError, PublishError
from geodata.geodesy import WGS84, densify_frame
from geodata.grid import Raster, RasterFile, raster_read_rows, row_blocks
from geodata.publish import qgis_project, styles
from geodata.publish._kernels import coverage_band, mean2x2, tile_plan
from geodata.publish.tiles import band_bytes, value_sample, with_heap_malloc

GPKG_VERSION = "1.3"
VECTOR_LAYERS: tuple[str, ...] = (
    "route",
    "corridor",
    "rpl",
    "alter_courses",
    "kp_points",
    "crossings",
    "hazards",
    "seabed_sectors",
    "boundary_lines",
    "territorial_waters",
    "landing_stations",
)
RASTER_LAYERS: tuple[str, ...] = ("bathymetry", "cost")

DRAWN_ERROR_M = 10.0
"""How far (m) a published line may be drawn from its true line, in EPSG:4326 and Web Mercator."""
GEODESIC_LAYERS: frozenset[str] = frozenset(
    {
        "route",
        "route_alternatives",
        "corridor",
        "boundary_lines",
        "seabed_sectors",
        "territorial_waters",
        "close_approaches",
    }
)
"""Lon/lat layers whose segments are WGS84 geodesics (the route's legs, lines computed by the project)."""
RASTER_NODATA = -9999.0
"""The value of cells without data in the published rasters, declared as nodata (depths on land reach -4300 m)."""
_LINEAR_TYPES = ("LineString", "MultiLineString", "Polygon", "MultiPolygon", "LinearRing")

# Geometry type written for an empty layer of a known name (a layer without features still declares its type).
EMPTY_GEOMETRY: dict[str, str] = {
    "route": "MultiLineString",
    "corridor": "MultiPolygon",
    "rpl": "Point",
    "alter_courses": "Point",
    "kp_points": "Point",
    "crossings": "Point",
    "hazards": "Point",
    "seabed_sectors": "MultiPolygon",
    "boundary_lines": "MultiLineString",
    "territorial_waters": "MultiPolygon",
    "landing_stations": "Point",
}

# Suffixes that carry a unit (or say the number has none) in a numeric field name: ``depth_m``, ``kp_km``, ...
UNIT_SUFFIXES: tuple[str, ...] = (
    "_m",
    "_km",
    "_nm",
    "_deg",
    "_pct",
    "_s",
    "_m2",
    "_km2",
    "_mm",
    "_kn",
    "_count",
    "_id",
    "_index",
    "_n",
    "_per_m",
    "_ratio",
    "_mw",
    "_year",
    "_rank",
    "_e",
    "_n_m",
    "_cost",
)
UNITLESS_FIELDS: frozenset[str] = frozenset(
    {
        "fid",
        "id",
        "seq",
        "index",
        "rank",
        "priority",
        "order",
        "leg",
        "row",
        "magnitude",
        "mw",
        "year",
        "count",
        "cost",
        "zoom",
    }
)

QGIS_STYLE_TABLE_SQL = """CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""
QGIS_METADATA_URI = "http://mrcc.com/qgis.dtd"


@dataclass(frozen=True)
class LayerMeta:
    """What a reader needs to know about one layer: title, abstract, where it comes from and under which terms."""

    title: str
    abstract: str = ""
    source: str = ""
    licence: str = ""
    attribution: str = ""
    keywords: tuple[str, ...] = ()

    def gdal_items(self) -> dict[str, str]:
        """The layer's GDAL metadata items (GDAL stores them in ``gpkg_metadata``)."""
        items = {
            "TITLE": self.title,
            "ABSTRACT": self.abstract,
            "SOURCE": self.source,
            "LICENCE": self.licence,
            "ATTRIBUTION": self.attribution,
            "KEYWORDS": ", ".join(self.keywords),
        }
        return {k: v for k, v in items.items() if v}


@dataclass(frozen=True)
class RasterLayer:
    """A raster published as a gridded coverage: its values (depth in m, cost per m, ...; in memory or a tiled
    GeoTIFF read band by band), what it is, its units and the colour stops of its QGIS style
    (``[(value, '#rrggbb'), ...]``; None = a default ramp over the data range)."""

    raster: Raster | RasterFile
    meta: LayerMeta
    units: str
    stops: list[tuple[float, str]] | None = None


@dataclass
class GpkgReport:
    """What :func:`write_gpkg` wrote: tables (vector -> feature count, raster -> shape), size and time."""

    path: Path
    vector_tables: dict[str, int] = field(default_factory=dict)
    raster_tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    raster_overviews: dict[str, list[int]] = field(default_factory=dict)
    """Raster table -> its overview factors (2, 4, ...: the coarser zoom levels of the coverage's tile matrix)."""
    size_bytes: int = 0
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "vector_tables": self.vector_tables,
            "raster_tables": {k: list(v) for k, v in self.raster_tables.items()},
            "raster_overviews": self.raster_overviews,
            "size_bytes": self.size_bytes,
            "elapsed_s": round(self.elapsed_s, 3),
        }


# -- checks on the input ------------------------------------------------------------------------------------------


def fields_without_units(gdf: gpd.GeoDataFrame) -> list[str]:
    """Floating-point columns whose name carries no unit suffix (``depth`` instead of ``depth_m``)."""
    bad = []
    for col in gdf.columns:
        if col == gdf.geometry.name or not pd.api.types.is_float_dtype(gdf[col].dtype):
            continue
        name = str(col).lower()
        if name in UNITLESS_FIELDS or name.endswith(UNIT_SUFFIXES):
            continue
        bad.append(str(col))
    return bad


def _geometry_families(gdf: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split a layer by geometry family; a layer of one family comes back whole."""
    geoms = gdf.geometry
    types = geoms.geom_type.fillna("")
    if (types == "GeometryCollection").any():
        raise InputDataError("geometry collections cannot be styled or tiled; explode them into their parts first")
    fam = types.map(lambda t: styles.family_of(t) if t else "")
    families = sorted(set(fam) - {""})
    if len(families) <= 1:
        return {families[0] if families else "": gdf}
    return {f: gdf[fam == f] for f in families}


def drawn_lines(name: str, gdf: gpd.GeoDataFrame, max_error_m: float = DRAWN_ERROR_M) -> gpd.GeoDataFrame:
    """Layer ``name`` in EPSG:4326 with its lines and polygon rings densified so that, drawn straight between
    vertices in EPSG:4326 or Web Mercator, they stay within ``max_error_m`` of their true lines: a layer in a
    projected CRS has segments straight in that CRS (densified there, then reprojected); a lon/lat layer of
    :data:`GEODESIC_LAYERS` has geodesic segments; any other lon/lat layer (hazards, densified in their source CRS
    when read) is taken as drawn. The analysis geometry is not changed: only the published copy is."""
    crs = CRS.from_user_input(gdf.crs)
    lonlat = crs.equals(WGS84, ignore_axis_order=True)
    has_lines = len(gdf) > 0 and bool(gdf.geometry.geom_type.isin(_LINEAR_TYPES).any())
    if not has_lines or (lonlat and name not in GEODESIC_LAYERS):
        return gdf if lonlat else gdf.to_crs(4326)
    if lonlat:
        return densify_frame(gdf, geodesic=True, max_error_m=max_error_m)
    return densify_frame(gdf, max_error_m=max_error_m).to_crs(4326)


def prepare_layers(
    layers: Mapping[str, gpd.GeoDataFrame], *, require_units: bool = True, max_error_m: float = DRAWN_ERROR_M
) -> dict[str, gpd.GeoDataFrame]:
    """Validate every layer, then reproject to EPSG:4326 with lines densified (:func:`drawn_lines`) and split
    mixed-geometry layers into ``<name>_points``, ``<name>_lines`` and ``<name>_polygons`` (QGIS and vector tiles
    style one geometry family per layer).

    All problems are collected and raised together as one :class:`InputDataError`.
    """
    problems: list[str] = []
    for name, gdf in layers.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"layer name '{name}': use lower-case letters, digits and underscores")
        if not isinstance(gdf, gpd.GeoDataFrame):
            problems.append(f"layer '{name}' is a {type(gdf).__name__}, not a GeoDataFrame")
            continue
        if gdf.crs is None:
            problems.append(f"layer '{name}' has no CRS; set it with gdf.set_crs(...) before publishing")
        if len(gdf) and gdf.geometry.isna().any():
            problems.append(f"layer '{name}' has {int(gdf.geometry.isna().sum())} rows without geometry; drop them")
        if require_units and (bad := fields_without_units(gdf)):
            problems.append(f"layer '{name}': numeric fields {bad} carry no unit; rename them e.g. depth -> depth_m")
    if problems:
        raise InputDataError("cannot publish the vector layers:\n  - " + "\n  - ".join(problems))
    out: dict[str, gpd.GeoDataFrame] = {}
    plural = {"point": "points", "line": "lines", "polygon": "polygons"}
    for name, gdf in layers.items():
        gdf4326 = drawn_lines(name, gdf, max_error_m)
        parts = _geometry_families(gdf4326)
        if len(parts) == 1:
            out[name] = gdf4326
        else:
            for fam, part in parts.items():
                out[f"{name}_{plural[fam]}"] = part
    return out


# -- writing ------------------------------------------------------------------------------------------------------


def write_gpkg(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    rasters: Mapping[str, RasterLayer] | Callable[[], Mapping[str, RasterLayer]] | None = None,
    *,
    metadata: Mapping[str, LayerMeta] | None = None,
    required: Sequence[str] = (),
    require_units: bool = True,
    budget_bytes: int | None = None,
    prepared: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> GpkgReport:
    """Write the GeoPackage ``path`` atomically.

    Parameters
    ----------
    path
        Target file, e.g. ``published/<scenario>/corridor.gpkg``; replaced only when the new file is complete.
    layers
        Layer name -> GeoDataFrame, any CRS (reprojected to EPSG:4326). Numeric float fields must carry a unit in
        their name (``depth_m``, ``kp_km``) unless ``require_units`` is False. Mixed point/line/polygon layers are
        split into ``<name>_points`` / ``_lines`` / ``_polygons``.
    rasters
        Table name -> :class:`RasterLayer`, written as GeoPackage tiled gridded coverages (float32 TIFF tiles in the
        raster's own CRS, no resampling): the real values, which QGIS reads and styles with the stored ramp, with
        average overviews down to one tile (:func:`overview_levels`) so that a zoomed-out view reads a few tiles.
        Or a function returning them, called once the vector layers are written (a caller on another thread can
        write the rasters meanwhile).
    metadata
        Layer name -> :class:`LayerMeta` for the vector layers (a layer without an entry gets its style title).
    required
        Layer names that must be present (e.g. :data:`VECTOR_LAYERS`); a missing one is an error naming it.
    budget_bytes
        The run's memory budget: the coverages are written in bands of rows sized from it (an eighth of it, within
        8 .. 256 MiB; the largest when None).
    prepared
        ``prepare_layers(layers, require_units=...)`` when the caller already has it (it is not done twice).

    Returns
    -------
    GpkgReport
        Tables written with their feature counts / raster shapes, file size and time taken.
    """
    import time

    t0 = time.perf_counter()
    path = Path(path)
    pending = rasters if callable(rasters) else None
    rasters = {} if callable(rasters) else dict(rasters or {})
    metadata = dict(metadata or {})
    if pending is None:
        _check_names(layers, rasters, required)
    prepared = prepare_layers(layers, require_units=require_units) if prepared is None else prepared
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.gpkg")
    tmp.unlink(missing_ok=True)
    report = GpkgReport(path)
    try:
        first = True
        for name, gdf in prepared.items():
            base = base_layer_name(name, layers)
            meta = _meta_for(name, base, metadata)
            kwargs: dict[str, Any] = {}
            if len(gdf) == 0:
                kwargs["geometry_type"] = EMPTY_GEOMETRY.get(base, "Unknown")
            pyogrio.write_dataframe(
                gdf,
                tmp,
                layer=name,
                driver="GPKG",
                dataset_options={"VERSION": GPKG_VERSION} if first else None,
                layer_options={
                    "IDENTIFIER": meta.title,
                    "DESCRIPTION": meta.abstract or meta.title,
                    "SPATIAL_INDEX": "YES",
                    "GEOMETRY_NAME": "geom",
                    "FID": "fid",
                },
                layer_metadata=meta.gdal_items(),
                **kwargs,
            )
            first = False
            report.vector_tables[name] = len(gdf)
        if pending is not None:
            rasters = dict(pending())
            _check_names(layers, rasters, required)
        for name, layer in rasters.items():
            factors = _write_raster(tmp, name, layer, append=tmp.exists(), budget_bytes=budget_bytes)
            report.raster_tables[name] = layer.raster.grid.shape
            report.raster_overviews[name] = factors
        if not tmp.exists():
            raise InputDataError("nothing to write: pass at least one vector or raster layer")
        _add_styles_and_metadata(tmp, prepared, rasters, metadata, layers, path_name=path.name)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    report.size_bytes = path.stat().st_size
    report.elapsed_s = time.perf_counter() - t0
    return report


def _check_names(layers: Mapping[str, Any], rasters: Mapping[str, Any], required: Sequence[str]) -> None:
    """Refuse a missing required layer and a name used by a vector and a raster layer."""
    missing = [n for n in required if n not in layers and n not in rasters]
    if missing:
        raise InputDataError(f"the GeoPackage needs layers {missing}; pass them (an empty GeoDataFrame is allowed)")
    clash = sorted(set(layers) & set(rasters))
    if clash:
        raise InputDataError(f"names {clash} are used by both a vector and a raster layer; rename one of them")


def _meta_for(name: str, base: str, metadata: Mapping[str, LayerMeta]) -> LayerMeta:
    """The metadata of table ``name``; a part of a split layer gets its base layer's, titled with the part
    (gpkg_contents identifiers must be unique)."""
    meta = metadata.get(name) or metadata.get(base) or LayerMeta(title=styles.style_for(name).title)
    if name != base and name not in metadata:
        meta = replace(meta, title=f"{meta.title} ({name[len(base) + 1 :]})")
    return meta


def base_layer_name(name: str, layers: Mapping[str, Any]) -> str:
    """The layer of ``layers`` that table ``name`` of :func:`prepare_layers` comes from (itself, or the layer it is
    the ``_points``, ``_lines`` or ``_polygons`` part of)."""
    if name in layers:
        return name
    return name.rsplit("_", 1)[0]


def default_stops(raster: Raster | RasterFile, units: str) -> list[tuple[float, str]]:
    """A colour ramp over the 2nd..98th percentile of the valid values (of a regular sample of a large raster, see
    :func:`geodata.publish.tiles.value_sample`): blues for depths (``units`` 'm'), yellow to red for anything
    else."""
    valid = value_sample(raster)
    if valid.size == 0:
        raise InputDataError("raster has no valid cell; nothing to style")
    lo, hi = (float(v) for v in np.percentile(valid, [2, 98]))
    if hi <= lo:
        hi = lo + 1.0
    ramp = (
        ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]
        if units == "m"
        else ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
    )
    return [(lo + (hi - lo) * i / (len(ramp) - 1), c) for i, c in enumerate(ramp)]


def _write_raster(path: Path, name: str, layer: RasterLayer, *, append: bool, budget_bytes: int | None) -> list[int]:
    """Write one gridded coverage and its overviews band by band (bands of whole rows of 256-row tiles, sized from
    the memory budget), from an in-memory raster or a tiled GeoTIFF alike; returns the overview factors.

    The full resolution streams through one band at a time; the overview levels (:func:`overview_factors`, a third
    of the full resolution's cells together) are reduced from each band as it passes (:func:`overview_levels`) and
    written once the full resolution is, each into its zoom level of the coverage's tile matrix. At every level GDAL
    writes the tiles LZW shortens and this module the others, uncompressed (:func:`_take_raw_tiles`)."""
    raster = layer.raster
    grid = raster.grid  # 2-D: a Raster's data has its grid's shape
    options = {
        "RASTER_TABLE": name,
        "RASTER_IDENTIFIER": layer.meta.title,
        "RASTER_DESCRIPTION": layer.meta.abstract or layer.meta.title,
        "TILE_FORMAT": "TIFF",
        "UOM": layer.units,
        "FIELD_NAME": name,
        "QUANTITY_DEFINITION": layer.meta.title,
        "BLOCKSIZE": TILE_SIZE,
    }
    if append:
        options["APPEND_SUBDATASET"] = "YES"
    else:
        options["VERSION"] = GPKG_VERSION
    from rasterio.windows import Window

    factors = overview_factors(grid.shape)
    levels: list[list[np.ndarray]] = [[] for _ in factors]
    with rasterio.open(
        path,
        "w",
        driver="GPKG",
        height=grid.shape[0],
        width=grid.shape[1],
        count=1,
        dtype="float32",
        crs=grid.crs.to_wkt(),
        transform=grid.transform,
        **options,
    ):
        pass  # creates the coverage and its tile matrix, which GDAL may make too small; it is fixed before writing
    full_zoom = _cover_whole_grid(path, name, grid.shape)
    # the nodata value is declared before any tile is written: GDAL then leaves out the tiles holding no data at all
    # (they read back as nodata: 365 of the passage frequency's 391 full-resolution tiles at 100 m, 179 of the
    # cost's) and keeps nodata out of each tile's statistics (gpkg_2d_gridded_tile_ancillary), at every zoom level
    _declare_nodata(path, [name])
    for block in row_blocks(grid, bytes_per_cell=RASTER_BYTES_PER_CELL, budget_bytes=band_bytes(budget_bytes)):
        data = coverage_values(name, raster_read_rows(raster, block.rows), raster.nodata)
        for parts, level in zip(levels, overview_levels(data, len(factors)), strict=True):
            parts.append(level)
        raw = _take_raw_tiles(data, first_row=block.rows.start // TILE_SIZE)  # blanked in data: GDAL skips them
        with rasterio.open(f"GPKG:{path}:{name}", "r+") as dst:  # closed (its tiles flushed) before ours go in
            dst.write(data, 1, window=Window(0, block.rows.start, grid.shape[1], block.height))
        _insert_raw_tiles(path, name, full_zoom, raw)
    with rasterio.open(f"GPKG:{path}:{name}", "r+") as dst:
        dst.update_tags(**{k: v for k, v in layer.meta.gdal_items().items()}, UNITS=layer.units)
        dst.update_tags(1, UNITS=layer.units)
    for k, parts in enumerate(levels):
        _write_level(path, name, zoom=len(factors) - 1 - k, data=np.concatenate(parts))
    return factors


def _cover_whole_grid(path: Path, name: str, shape: tuple[int, int]) -> int:
    """Widen the tile matrix GDAL declared for coverage ``name`` so that its full resolution covers all ``shape``
    cells; returns the full resolution's zoom level.

    GDAL's GPKG driver (3.10; ``GDALGeoPackageDataset::FinalizeRasterRegistration``) counts the tiles of its
    coarsest zoom level from a side shifted right by the number of zoom levels, rounding down what the shift drops:
    a 513-row coverage gets 2 x 256 rows at full resolution and its last row is silently not written (rows 513,
    1025, 769 x 3, ... alike; columns too). The matrix set and every zoom level's matrix are widened to whole tiles
    of the coarsest level covering the grid, as GDAL does for sizes it counts right; cells beyond the grid are
    nodata tiles that are never written. GDAL reads the raster's size from the contents extent, so it is unchanged."""
    h, w = shape
    con = sqlite3.connect(path)
    try:
        levels = con.execute(
            "SELECT zoom_level, matrix_width, matrix_height, tile_width, tile_height, pixel_x_size, pixel_y_size "
            "FROM gpkg_tile_matrix WHERE table_name = ? ORDER BY zoom_level",
            (name,),
        ).fetchall()
        if not levels or levels[0][0] != 0 or [lv[0] for lv in levels] != list(range(len(levels))):
            raise PublishError(f"coverage '{name}' of {path} has no regular tile matrix ({levels}); it was not written")
        top = levels[-1][0]
        tile_w, tile_h = levels[-1][3], levels[-1][4]
        across, down = math.ceil(w / (tile_w << top)), math.ceil(h / (tile_h << top))
        if (levels[0][1], levels[0][2]) == (across, down):
            return int(top)
        min_x, max_y = con.execute(
            "SELECT min_x, max_y FROM gpkg_tile_matrix_set WHERE table_name = ?", (name,)
        ).fetchone()
        with con:
            for zoom, *_ in levels:
                con.execute(
                    "UPDATE gpkg_tile_matrix SET matrix_width = ?, matrix_height = ? "
                    "WHERE table_name = ? AND zoom_level = ?",
                    (across << zoom, down << zoom, name, zoom),
                )
            con.execute(
                "UPDATE gpkg_tile_matrix_set SET max_x = ?, min_y = ? WHERE table_name = ?",
                (min_x + across * tile_w * levels[0][5], max_y - down * tile_h * levels[0][6], name),
            )
    finally:
        con.close()
    return int(top)


def _full_resolution_zoom(path: Path, name: str) -> int:
    """The zoom level of coverage ``name``'s full resolution: the finest of its ``gpkg_tile_matrix``."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (zoom,) = con.execute("SELECT max(zoom_level) FROM gpkg_tile_matrix WHERE table_name = ?", (name,)).fetchone()
    finally:
        con.close()
    if zoom is None:
        raise PublishError(f"coverage '{name}' of {path} has no tile matrix; it was not written")
    return int(zoom)


OVERVIEW_MIN_SIZE = 256
"""Overviews are added down to the first level whose larger side is at most this many cells (gdaladdo's default
``-minsize``: one tile)."""


def overview_factors(shape: tuple[int, int], min_size: int = OVERVIEW_MIN_SIZE) -> list[int]:
    """The overview factors of a coverage of ``shape`` cells: 2, 4, 8, ... until the larger side is at most
    ``min_size`` cells (none for a coverage that fits in one tile). They are the coarser zoom levels GDAL declares in
    the coverage's ``gpkg_tile_matrix`` when it creates it."""
    # GDAL's rule (GDALGeoPackageDataset::Create): zoom levels are added while a side shifted right by their count
    # is still larger than a tile; a ceiling division here would give a 513-row grid a level GDAL does not declare
    h, w = shape
    count = 0
    while (h >> count) > min_size or (w >> count) > min_size:
        count += 1
    return [2**k for k in range(1, count + 1)]


def overview_levels(data: np.ndarray, count: int) -> list[np.ndarray]:
    """The ``count`` overview levels of a band of coverage values (:func:`coverage_values`), as ``gdaladdo -r
    average`` builds them: each level from the one before it (the first from the full resolution), a cell the mean
    of the cells with data among the 2 x 2 cells it covers in the level below (cells of the coverage's tile matrix,
    whose cell size doubles from one zoom level to the next), :data:`RASTER_NODATA` when none of them has data. A
    band of whole tiles (256 rows) reduces to whole rows of every level up to 256 times coarser, so bands reduced
    one by one and stacked equal the levels of the whole coverage."""
    out = []
    level = data
    for _ in range(count):
        level = mean2x2(level, RASTER_NODATA)
        out.append(level)
    return out


def _write_level(path: Path, name: str, *, zoom: int, data: np.ndarray) -> None:
    """Write an overview level into zoom level ``zoom`` of coverage ``name`` (GDAL opens a zoom level of a coverage
    as a dataset of its own; its size is the full resolution's over the factor, rounded, which may drop the half
    cell an odd size leaves at the right or bottom edge)."""
    with rasterio.open(f"GPKG:{path}:{name}") as full:
        full_zoom = _full_resolution_zoom(path, name)
        factor = 2 ** (full_zoom - zoom)
        expect = (full.res[0] * factor, full.res[1] * factor)
    with rasterio.open(f"GPKG:{path}:{name}", "r+", ZOOM_LEVEL=zoom) as dst:
        if zoom >= full_zoom or not np.allclose(dst.res, expect, rtol=1e-9):
            raise PublishError(
                f"coverage '{name}' of {path}: zoom level {zoom} is not an overview level (cells {dst.res}, expected "
                f"{expect} below the full resolution's zoom {full_zoom}); writing it would overwrite the coverage"
            )
        if dst.nodata != RASTER_NODATA:
            raise PublishError(f"coverage '{name}' of {path} has nodata {dst.nodata}, not {RASTER_NODATA}")
        h, w = dst.shape
        level = np.full((h, w), RASTER_NODATA, dtype="float32")  # a copy: the raw tiles are blanked in it
        level[: min(h, data.shape[0]), : min(w, data.shape[1])] = data[:h, :w]
        raw = _take_raw_tiles(level, first_row=0)
        dst.write(level, 1)
    _insert_raw_tiles(path, name, zoom, raw)


TILE_SIZE = 256
"""The side of a coverage's tiles (``BLOCKSIZE``), in cells."""
RAW_TILE_REPEATS = 0.2
"""A coverage tile in which fewer than this share of the cells equal their left neighbour is stored as an
uncompressed TIFF: LZW (the only compression the gridded coverage extension allows) shortens float32 values
little unless they repeat, and costs about 5 ms a tile. At 100 m, 308 of the depth's 391 full-resolution tiles are
below it, which LZW made 1 % longer on average (14 % at most), and 140 of the cost's 212 (4 % shorter)."""
_RAW_TIFF_ENTRIES = (
    (256, 3, TILE_SIZE),  # ImageWidth
    (257, 3, TILE_SIZE),  # ImageLength
    (258, 3, 32),  # BitsPerSample
    (259, 3, 1),  # Compression: none
    (262, 3, 1),  # PhotometricInterpretation: BlackIsZero
    (273, 4, 8 + 2 + 12 * 11 + 4),  # StripOffsets: the values follow the header and its one IFD of 11 entries
    (277, 3, 1),  # SamplesPerPixel
    (278, 3, TILE_SIZE),  # RowsPerStrip: one strip of the tile's width, as GDAL writes its tiles
    (279, 4, TILE_SIZE * TILE_SIZE * 4),  # StripByteCounts
    (284, 3, 1),  # PlanarConfiguration: contiguous
    (339, 3, 3),  # SampleFormat: IEEE floating point
)
RAW_TIFF_HEADER = (
    b"II*\x00"
    + struct.pack("<IH", 8, len(_RAW_TIFF_ENTRIES))
    + b"".join(
        struct.pack("<HHIHH", tag, kind, 1, value, 0) if kind == 3 else struct.pack("<HHII", tag, kind, 1, value)
        for tag, kind, value in _RAW_TIFF_ENTRIES
    )
    + struct.pack("<I", 0)
)
"""The little-endian TIFF header of an uncompressed 256 x 256 float32 tile; its values follow it."""


def _take_raw_tiles(data: np.ndarray, *, first_row: int) -> list[tuple[int, int, bytes, tuple[float, ...]]]:
    """The tiles of the band ``data`` (coverage values, rows starting at tile row ``first_row``) to store
    uncompressed (:data:`RAW_TILE_REPEATS`): tile row, tile column, the TIFF and its statistics (min, max, mean,
    standard deviation, as GDAL computes them); they are blanked to :data:`RASTER_NODATA` in ``data``, so that GDAL
    writing the band leaves them out (it writes the others, LZW-compressed)."""
    repeats = int(RAW_TILE_REPEATS * TILE_SIZE * (TILE_SIZE - 1))
    kind, stats = tile_plan(data, RASTER_NODATA, TILE_SIZE, repeats)
    across = -(-data.shape[1] // TILE_SIZE)
    out = []
    for t in np.flatnonzero(kind == 2):
        i, j = divmod(int(t), across)
        cells = data[i * TILE_SIZE : (i + 1) * TILE_SIZE, j * TILE_SIZE : (j + 1) * TILE_SIZE]
        tile = np.full((TILE_SIZE, TILE_SIZE), RASTER_NODATA, dtype="<f4")  # an edge tile padded as GDAL pads it
        tile[: cells.shape[0], : cells.shape[1]] = cells
        out.append((first_row + i, j, RAW_TIFF_HEADER + tile.tobytes(), tuple(float(v) for v in stats[t])))
        cells[...] = RASTER_NODATA
    return out


def _insert_raw_tiles(
    path: Path, name: str, zoom: int, tiles: Sequence[tuple[int, int, bytes, tuple[float, ...]]]
) -> None:
    """Store tiles of :func:`_take_raw_tiles` at zoom level ``zoom`` of coverage ``name``, each with its row of
    ``gpkg_2d_gridded_tile_ancillary`` (scale 1 and offset 0, as GDAL writes float tiles)."""
    if not tiles:
        return
    table = quote_identifier(name)
    con = sqlite3.connect(path)
    try:
        with con:
            for row, col, blob, (lo, hi, mean, std) in tiles:
                cur = con.execute(
                    f"INSERT INTO {table} (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",  # noqa: S608 (identifier)
                    (zoom, col, row, blob),
                )
                con.execute(
                    "INSERT INTO gpkg_2d_gridded_tile_ancillary (tpudt_name, tpudt_id, scale, offset, min, max, mean, "
                    "std_dev) VALUES (?, ?, 1.0, 0.0, ?, ?, ?, ?)",
                    (name, cur.lastrowid, lo, hi, mean, std),
                )
    finally:
        con.close()


RASTER_BYTES_PER_CELL = 16
"""Working memory per cell of a band written to a coverage (the values read, the float32 copy, its first overview
level); the overview levels of the whole coverage are held until the full resolution is written (4/3 bytes per
cell of the coverage)."""


def coverage_values(name: str, values: np.ndarray, nodata: float | int | None) -> np.ndarray:
    """Cells of raster ``name`` as the coverage stores them: float32, cells without data as :data:`RASTER_NODATA`
    (declared as the coverage's data_null before writing, see :func:`_declare_nodata`: GDAL then reports it as the
    band's nodata and QGIS leaves those cells out of its statistics and draws them transparent; NaN cannot be
    declared, since SQLite stores a NaN REAL as NULL), impassable cells (+inf) as the largest finite float32 so they
    stay visible rather than turning into nodata."""
    fill = 0.0 if nodata is None or math.isnan(nodata) else float(nodata)
    has_nodata = nodata is not None and not math.isnan(nodata)
    data, clashes = coverage_band(np.ascontiguousarray(values), fill, has_nodata, RASTER_NODATA)
    if clashes:
        raise InputDataError(f"raster layer '{name}' holds the nodata value {RASTER_NODATA} as data")
    return data


def _declare_nodata(path: Path, names: Sequence[str]) -> None:
    """Record :data:`RASTER_NODATA` as the ``data_null`` of coverages ``names`` (GDAL's GPKG driver does not take a
    nodata value for float tiles when creating them; it reads this column back as the band's nodata)."""
    if not names:
        return
    con = sqlite3.connect(path)
    try:
        with con:
            for name in names:
                con.execute(
                    "UPDATE gpkg_2d_gridded_coverage_ancillary SET data_null = ? WHERE tile_matrix_set_name = ?",
                    (RASTER_NODATA, name),
                )
    finally:
        con.close()


def _qgis_metadata_xml(name: str, meta: LayerMeta, bounds: tuple[float, float, float, float] | None, crs: str) -> str:
    """A QGIS layer-metadata document (the .qmd format QgsLayerMetadata reads)."""
    kw = "".join(f"<keyword>{escape(k)}</keyword>" for k in meta.keywords)
    link = (
        f'<link name="source" type="WWW:LINK" url="{escape(meta.source)}" description="" format="" '
        'mimeType="" size=""/>'
        if meta.source.startswith(("http://", "https://"))
        else ""
    )
    extent = ""
    if bounds and all(math.isfinite(b) for b in bounds):
        extent = (
            f'<extent><spatial dimensions="2" minx="{bounds[0]:.8f}" miny="{bounds[1]:.8f}" '
            f'maxx="{bounds[2]:.8f}" maxy="{bounds[3]:.8f}" minz="0" maxz="0" crs="{escape(crs)}"/></extent>'
        )
    history = f"<history>{escape('Source: ' + meta.source)}</history>" if meta.source else ""
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{styles.QGIS_VERSION}">'
        f"<identifier>{escape(name)}</identifier><parentidentifier></parentidentifier><language>en</language>"
        f"<type>dataset</type><title>{escape(meta.title)}</title><abstract>{escape(meta.abstract)}</abstract>"
        f'<keywords vocabulary="gmd:topicCategory">{kw}</keywords>'
        f"<links>{link}</links>{history}<fees></fees>"
        f'<constraints><constraint type="Licence">{escape(meta.licence)}</constraint></constraints>'
        f"<rights>{escape(meta.attribution)}</rights>"
        f"<licenses><license>{escape(meta.licence)}</license></licenses><encoding></encoding>"
        f"<crs><spatialrefsys><authid>{escape(crs)}</authid></spatialrefsys></crs>{extent}</qgis>\n"
    )


def _add_styles_and_metadata(
    path: Path,
    prepared: Mapping[str, gpd.GeoDataFrame],
    rasters: Mapping[str, RasterLayer],
    metadata: Mapping[str, LayerMeta],
    original: Mapping[str, Any],
    *,
    path_name: str = "",
) -> None:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute(QGIS_STYLE_TABLE_SQL)
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles (QML), one default per "
                "layer', ?)",
                (now,),
            )
            if _has_table(con, "gpkg_ogr_contents"):
                con.execute(
                    "INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES ('layer_styles', ?)",
                    (len(prepared) + len(rasters),),
                )
            _ensure_metadata_tables(con, now)
            project_vectors: dict[str, tuple[str, str, str]] = {}
            project_rasters: dict[str, tuple[str, str, str]] = {}
            for name, gdf in prepared.items():
                base = base_layer_name(name, original)
                meta = _meta_for(name, base, metadata)
                geom_type = _declared_geometry_type(con, name)
                style = styles.style_for(name)
                values = None
                if style.field and style.field in gdf.columns:
                    values = sorted({str(v) for v in gdf[style.field].dropna().unique()})
                qml = styles.vector_qml(name, geom_type, values)
                project_vectors[name] = (meta.title, geom_type, qml)
                con.execute(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                    "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                    "VALUES ('', '', ?, 'geom', ?, ?, '', 1, ?, '', NULL, ?)",
                    (name, name[:30], qml, f"{meta.title}: default style", now),
                )
                bounds = tuple(float(b) for b in gdf.total_bounds) if len(gdf) else None
                _insert_metadata(con, name, _qgis_metadata_xml(name, meta, bounds, "EPSG:4326"), now)  # type: ignore[arg-type]
            for name, layer in rasters.items():
                stops = layer.stops or default_stops(layer.raster, layer.units)
                qml = styles.raster_qml(stops, label_units=layer.units)
                project_rasters[name] = (layer.meta.title, layer.raster.grid.crs.to_string(), qml)
                con.execute(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                    "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                    "VALUES ('', '', ?, '', ?, ?, '', 1, ?, '', NULL, ?)",
                    (name, name[:30], qml, f"{layer.meta.title}: default style", now),
                )
                crs = layer.raster.grid.crs.to_string()
                _insert_metadata(con, name, _qgis_metadata_xml(name, layer.meta, layer.raster.grid.bounds, crs), now)
            # the QGIS project inside the GeoPackage: order, visibility, labels, raster styles, CRS and view
            qgs = qgis_project.project_xml(
                qgis_project.project_layers(project_vectors, project_rasters),
                title=_project_title(metadata),
                gpkg_name=path_name or path.name,
                extent=_view_extent(prepared),
            )
            qgis_project.store_in_gpkg(con, qgs)
        _vacuum_if_worth_it(con)
    finally:
        con.close()


VACUUM_FREE_SHARE = 0.02
"""A written GeoPackage is vacuumed only when more than this share of its pages is free (GDAL and the style pass
only append, so there is usually none: a VACUUM would rewrite the whole file, 0.6 s for the 190 MB of a 100 m
run, to save nothing)."""


def _vacuum_if_worth_it(con: sqlite3.Connection) -> bool:
    """VACUUM the database of ``con`` when its free pages exceed :data:`VACUUM_FREE_SHARE`; True when it did."""
    free = con.execute("PRAGMA freelist_count").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    if free <= VACUUM_FREE_SHARE * pages:
        return False
    con.execute("VACUUM")
    return True


def _project_title(metadata: Mapping[str, LayerMeta]) -> str:
    """The scenario title the layer titles start with (``<scenario title>: route``), or a generic one."""
    title = metadata["route"].title if "route" in metadata else ""
    return title.rsplit(":", 1)[0] if ":" in title else "Cable route corridor"


def _view_extent(prepared: Mapping[str, gpd.GeoDataFrame]) -> tuple[float, float, float, float] | None:
    """The route's bounds padded by a tenth (all layers' bounds when there is no route)."""
    frames = [prepared["route"]] if "route" in prepared and len(prepared["route"]) else list(prepared.values())
    bounds = [f.total_bounds for f in frames if len(f)]
    if not bounds:
        return None
    b = np.vstack(bounds)
    w, s, e, n = float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())
    pad = 0.1 * max(e - w, n - s, 0.01)
    return (w - pad, s - pad, e + pad, n + pad)


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _declared_geometry_type(con: sqlite3.Connection, table: str) -> str:
    row = con.execute("SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name=?", (table,)).fetchone()
    if row is None:
        raise PublishError(f"table '{table}' has no gpkg_geometry_columns row; GDAL did not write it as features")
    return str(row[0])


def _ensure_metadata_tables(con: sqlite3.Connection, now: str) -> None:
    """The metadata extension tables, as GDAL creates them (GDAL already has when a layer carried metadata)."""
    if not _has_table(con, "gpkg_metadata"):
        con.execute(
            "CREATE TABLE gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL, md_scope TEXT NOT NULL "
            "DEFAULT 'dataset', md_standard_uri TEXT NOT NULL, mime_type TEXT NOT NULL DEFAULT 'text/xml', "
            "metadata TEXT NOT NULL DEFAULT '')"
        )
    if not _has_table(con, "gpkg_metadata_reference"):
        con.execute(
            "CREATE TABLE gpkg_metadata_reference (reference_scope TEXT NOT NULL, table_name TEXT, column_name TEXT, "
            "row_id_value INTEGER, timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
            "md_file_id INTEGER NOT NULL, md_parent_id INTEGER, CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) "
            "REFERENCES gpkg_metadata(id), CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES "
            "gpkg_metadata(id))"
        )
    if not _has_table(con, "gpkg_extensions"):
        con.execute(
            "CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, "
            "definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, "
            "extension_name))"
        )
    for table in ("gpkg_metadata", "gpkg_metadata_reference"):
        con.execute(
            "INSERT OR IGNORE INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
            "VALUES (?, NULL, 'gpkg_metadata', 'http://www.geopackage.org/spec120/#extension_metadata', "
            "'read-write')",
            (table,),
        )


def _insert_metadata(con: sqlite3.Connection, table: str, xml: str, now: str) -> None:
    cur = con.execute(
        "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) VALUES ('dataset', ?, "
        "'text/xml', ?)",
        (QGIS_METADATA_URI, xml),
    )
    con.execute(
        "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, timestamp, "
        "md_file_id, md_parent_id) VALUES ('table', ?, NULL, NULL, ?, ?, NULL)",
        (table, now, cur.lastrowid),
    )


# -- validation ---------------------------------------------------------------------------------------------------

SYSTEM_PYTHON = "/usr/bin/python3"
GDAL_APT_HINT = "apt-get install -y --no-install-recommends gdal-bin python3-gdal"


def gdal_validator_command(python: str = SYSTEM_PYTHON) -> list[str] | None:
    """The command running GDAL's ``validate_gpkg.py`` with ``python`` (Debian's python3-gdal; the pipeline's
    ``CORRIDOR_GDAL_PYTHON``), or None when it is not installed.

    Whether ``python`` imports the validator is probed once per interpreter and installation state (the
    interpreter's and the ``osgeo_utils`` package's identity, see :func:`_probe_identity`): a publish asked it twice
    (its validation and its asset check), each probe a Python start importing GDAL (0.4 s wall, 0.15 CPU-s)."""
    if not Path(python).exists():
        return None
    identity = _probe_identity(python)
    with _PROBE_LOCK:
        found = _PROBED.get(identity)
    if found is None:
        probe = subprocess.run(  # noqa: S603 (a configured interpreter and a fixed import line; no shell)
            [python, "-c", "import osgeo_utils.samples.validate_gpkg, osgeo.gdal"],
            capture_output=True,
            timeout=60,
        )
        found = probe.returncode == 0
        with _PROBE_LOCK:
            _PROBED[identity] = found
    return [python, "-m", "osgeo_utils.samples.validate_gpkg"] if found else None


_PROBED: dict[tuple[Any, ...], bool] = {}
"""Verdicts of :func:`gdal_validator_command`'s probe, by :func:`_probe_identity`."""
_PROBE_LOCK = threading.Lock()


def _probe_identity(python: str) -> tuple[Any, ...]:
    """What the probe's verdict depends on: the interpreter file (path, inode, size, modification time) and the
    ``osgeo_utils`` / ``osgeo`` package folders next to Python's ``dist-packages`` or ``site-packages`` that it would
    import (their modification times change when a package is installed or removed there)."""
    exe = Path(python).resolve()
    st = exe.stat()
    stamps: list[tuple[str, int]] = []
    for lib in (exe.parent.parent / "lib", Path("/usr/lib"), Path("/usr/local/lib")):
        for site in sorted(lib.glob("python3*/*-packages")) if lib.is_dir() else []:
            for pkg in (site, site / "osgeo_utils", site / "osgeo"):
                if pkg.exists():
                    stamps.append((str(pkg), pkg.stat().st_mtime_ns))
    return (python, str(exe), st.st_ino, st.st_size, st.st_mtime_ns, tuple(stamps))


def validate_gpkg(
    path: str | Path,
    *,
    gdal_validator: bool | None = None,
    expect_layers: Sequence[str] = (),
    gdal_python: str = SYSTEM_PYTHON,
) -> list[str]:
    """Problems found in the GeoPackage ``path`` (an empty list when it is valid).

    Checks: GDAL's ``validate_gpkg.py`` (all the requirements of the GeoPackage standard it knows, tile and geometry
    blobs decoded with GDAL) when available -- ``gdal_validator=True`` makes its absence a problem, ``False`` skips
    it; then SQLite ``integrity_check`` and ``foreign_key_check``; the application id and version; every feature
    table in EPSG:4326 with an R-tree spatial index, read back by pyogrio with as many features as gpkg_ogr_contents
    says; every gridded coverage read back by rasterio; a default QGIS style whose QML parses for every layer; a
    QGIS metadata document for every layer; and the presence of ``expect_layers``. A verdict on the same unchanged
    file with the same arguments taken by :func:`validate_early` is used instead of checking again (once).
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path} does not exist"]
    key = (gdal_validator, tuple(expect_layers), gdal_python)
    if (early := _early_verdict(path, key)) is not None:
        return early
    return _validate_now(path, gdal_validator, expect_layers, gdal_python)


def _validate_now(path: Path, gdal_validator: bool | None, expect_layers: Sequence[str], gdal_python: str) -> list[str]:
    """:func:`validate_gpkg`'s checks, run now: GDAL's validator (a child process, waited for on a thread of its
    own) while this module's checks run, GDAL's problems listed first."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gdal-validator") as pool:
        gdal = pool.submit(_gdal_validator_problems, path, gdal_validator, gdal_python)
        own = _own_problems(path, expect_layers)
        return gdal.result() + own


def _own_problems(path: Path, expect_layers: Sequence[str]) -> list[str]:
    """:func:`validate_gpkg`'s checks but GDAL's validator."""
    problems: list[str] = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems += _sqlite_problems(con)
        contents = {r[0]: r[1] for r in con.execute("SELECT table_name, data_type FROM gpkg_contents")}
        for name in expect_layers:
            if name not in contents and not any(f"{name}_{p}" in contents for p in ("points", "lines", "polygons")):
                problems.append(f"layer '{name}' is missing")
        if "layer_styles" in contents and contents["layer_styles"] != "attributes":
            problems.append("layer_styles is not registered as an attributes table")
        features = [t for t, kind in contents.items() if kind == "features"]
        grids = [t for t, kind in contents.items() if kind in ("2d-gridded-coverage", "tiles")]
        for table in features:
            problems += _feature_table_problems(con, path, table)
        for table in grids:
            problems += _grid_problems(path, table)
            problems += _overview_problems(con, table)
        problems += _style_and_metadata_problems(con, features + grids)
    finally:
        con.close()
    return problems


def quote_identifier(name: str) -> str:
    """An SQLite identifier in double quotes (inner quotes doubled), for table names read from gpkg_contents."""
    return '"' + name.replace('"', '""') + '"'


_EarlyKey = tuple[bool | None, tuple[str, ...], str]
_EARLY_VERDICTS: dict[tuple[tuple[str, int, int, int, int], _EarlyKey], list[str]] = {}
"""Verdicts of :func:`validate_early`, by file identity and the arguments of the check."""
_EARLY_LOCK = threading.Lock()


def _file_identity(path: Path) -> tuple[str, int, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def validate_early(
    path: str | Path,
    *,
    gdal_validator: bool | None = None,
    expect_layers: Sequence[str] = (),
    gdal_python: str = SYSTEM_PYTHON,
) -> None:
    """Check the finished GeoPackage ``path`` now (:func:`validate_gpkg`, GDAL's validator included), e.g. on a
    thread while the rest of a publication is written, and keep the verdict for the :func:`validate_gpkg` with the
    same arguments that checks the same file later (once: the verdict is taken when used). It is kept only when the
    file is the same before and after the check (inode, size, modification and change times), and used only while
    it still is; otherwise that later call checks the file itself."""
    path = Path(path)
    if not path.is_file():
        return
    before = _file_identity(path)
    problems = _validate_now(path, gdal_validator, expect_layers, gdal_python)
    if _file_identity(path) == before:
        with _EARLY_LOCK:
            for key in [k for k in _EARLY_VERDICTS if not Path(k[0][0]).exists()]:  # of publications that failed
                del _EARLY_VERDICTS[key]
            _EARLY_VERDICTS[(before, (gdal_validator, tuple(expect_layers), gdal_python))] = problems


def _early_verdict(path: Path, key: _EarlyKey) -> list[str] | None:
    with _EARLY_LOCK:
        found = _EARLY_VERDICTS.pop((_file_identity(path), key), None)
    return list(found) if found is not None else None


def _gdal_validator_problems(path: Path, gdal_validator: bool | None, gdal_python: str) -> list[str]:
    """What GDAL's ``validate_gpkg.py`` says about ``path`` (its absence is a problem when ``gdal_validator``)."""
    command = None if gdal_validator is False else gdal_validator_command(gdal_python)
    if command is None:
        if gdal_validator:
            return [f"GDAL's validate_gpkg.py is not installed; install it with `{GDAL_APT_HINT}`"]
        return []
    return _run_gdal_validator(command, path)


def _run_gdal_validator(command: list[str], path: Path) -> list[str]:
    # the command is GDAL's own validator run by a configured interpreter; the path is an argument, not a shell word
    run = subprocess.run(  # noqa: S603 (its blobs kept on the heap: tiles.HEAP_MALLOC)
        with_heap_malloc([*command, str(path)]), capture_output=True, text=True, timeout=300
    )
    out = (run.stdout + run.stderr).strip()
    return [f"validate_gpkg.py: {out or f'exit code {run.returncode}'}"] if run.returncode != 0 or out else []


def _sqlite_problems(con: sqlite3.Connection) -> list[str]:
    """SQLite integrity and foreign keys, and the GeoPackage application id and version."""
    problems = []
    if (r := con.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
        problems.append(f"sqlite integrity_check: {r}")
    if fk := con.execute("PRAGMA foreign_key_check").fetchall():
        problems.append(f"foreign key violations: {fk[:5]}")
    if con.execute("PRAGMA application_id").fetchone()[0] != 0x47504B47:
        problems.append("application_id is not 'GPKG'")
    if con.execute("PRAGMA user_version").fetchone()[0] < 10200:
        problems.append("user_version is older than GeoPackage 1.2")
    return problems


def _feature_table_problems(con: sqlite3.Connection, path: Path, table: str) -> list[str]:
    """A feature table is in EPSG:4326, has an R-tree index and reads back whole through GDAL."""
    problems = []
    srs = con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name=?", (table,)).fetchone()
    if not srs or srs[0] != 4326:
        problems.append(f"layer '{table}' is not in EPSG:4326 (srs_id {srs})")
    if not con.execute(
        "SELECT 1 FROM gpkg_extensions WHERE table_name=? AND extension_name='gpkg_rtree_index'", (table,)
    ).fetchone() or not _has_table(con, f"rtree_{table}_geom"):
        problems.append(f"layer '{table}' has no R-tree spatial index")
    count = con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()[0]  # noqa: S608 (identifier)
    try:
        gdf = pyogrio.read_dataframe(path, layer=table)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError) as exc:
        return [*problems, f"layer '{table}' cannot be read by GDAL: {exc}"]
    if len(gdf) != count:
        problems.append(f"layer '{table}': GDAL read {len(gdf)} features of {count}")
    return problems


def _grid_problems(path: Path, table: str) -> list[str]:
    """A gridded coverage reads back through GDAL (a window of at most 256 x 256 cells at its centre: a decimated
    read of the whole coverage would decode every tile)."""
    from rasterio.windows import Window

    try:
        with rasterio.open(f"GPKG:{path}:{table}") as src:
            h, w = min(src.height, 256), min(src.width, 256)
            src.read(1, window=Window((src.width - w) // 2, (src.height - h) // 2, w, h))
    except (rasterio.errors.RasterioError, OSError, ValueError) as exc:
        return [f"raster '{table}' cannot be read by GDAL: {exc}"]
    return []


def _overview_problems(con: sqlite3.Connection, table: str) -> list[str]:
    """Every zoom level of a coverage's tile matrix holds tiles: the overviews were built (an empty coarser level
    draws as no data in QGIS, and a zoomed-out view decodes the whole full resolution)."""
    declared = {r[0] for r in con.execute("SELECT zoom_level FROM gpkg_tile_matrix WHERE table_name = ?", (table,))}
    present = {r[0] for r in con.execute(f"SELECT DISTINCT zoom_level FROM {quote_identifier(table)}")}  # noqa: S608
    problems = []
    if missing := sorted(declared - present):
        problems.append(
            f"raster '{table}' has no tiles at zoom levels {missing}: its overviews were not built (write it with "
            "write_gpkg, or run `gdaladdo -r average` on it)"
        )
    return problems + _matrix_cover_problems(con, table)


def _matrix_cover_problems(con: sqlite3.Connection, table: str) -> list[str]:
    """The full resolution's tile matrix covers the coverage's extent (GDAL 3.10 may declare it a row or column of
    tiles short, see :func:`_cover_whole_grid`, and the cells beyond it are silently never written)."""
    top = con.execute(
        "SELECT m.matrix_width * m.tile_width * m.pixel_x_size, m.matrix_height * m.tile_height * m.pixel_y_size, "
        "s.min_x, s.max_y, m.pixel_x_size, m.pixel_y_size FROM gpkg_tile_matrix m "
        "JOIN gpkg_tile_matrix_set s ON s.table_name = m.table_name WHERE m.table_name = ? "
        "ORDER BY m.zoom_level DESC LIMIT 1",
        (table,),
    ).fetchone()
    extent = con.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (table,))
    bounds = extent.fetchone()
    if top is None or bounds is None or None in bounds:
        return []
    width, height, min_x, max_y, px, py = top
    short_x = bounds[2] - (min_x + width)
    short_y = (max_y - height) - bounds[1]
    if short_x > px / 2 or short_y > py / 2:
        return [
            f"raster '{table}': its tile matrix ends {max(short_x, 0.0):g} x {max(short_y, 0.0):g} CRS units short of "
            "its extent, so the cells beyond it were never written (GDAL's GPKG driver rounds a side down; write it "
            "with write_gpkg)"
        ]
    return []


def _style_and_metadata_problems(con: sqlite3.Connection, tables: Sequence[str]) -> list[str]:
    """Every layer has a default QGIS style whose QML parses and has a renderer, and a QGIS metadata document."""
    styled = (
        {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault")}
        if _has_table(con, "layer_styles")
        else set()
    )
    qmls = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles")) if styled else {}
    described = (
        {
            r[0]
            for r in con.execute(
                "SELECT r.table_name FROM gpkg_metadata_reference r JOIN gpkg_metadata m ON m.id = r.md_file_id "
                "WHERE m.md_standard_uri = ? AND r.reference_scope = 'table'",
                (QGIS_METADATA_URI,),
            )
        }
        if _has_table(con, "gpkg_metadata")
        else set()
    )
    problems = []
    for table in tables:
        if table not in styled:
            problems.append(f"layer '{table}' has no default QGIS style in layer_styles")
        else:
            problems += _qml_problems(table, qmls[table])
        if table not in described:
            problems.append(f"layer '{table}' has no QGIS metadata in gpkg_metadata")
    return problems


def _qml_problems(table: str, qml: str) -> list[str]:
    """The QML of a layer style parses and holds a renderer. The QML is the one this module wrote into the package
    being validated (ElementTree expands no external entities)."""
    try:
        root = ET.fromstring(qml.split("\n", 1)[1])  # noqa: S314 (our own QML, just written)
    except (ET.ParseError, IndexError) as exc:
        return [f"style of '{table}' is not valid XML: {exc}"]
    if root.tag != "qgis" or (root.find("renderer-v2") is None and root.find("pipe") is None):
        return [f"style of '{table}' has no renderer"]
    return []


def describe_gpkg(path: str | Path) -> dict[str, Any]:
    """A JSON-able summary (tables, kinds, titles, feature counts) for Dagster metadata and the manifest."""
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT table_name, data_type, identifier, srs_id FROM gpkg_contents").fetchall()
        out = {}
        for table, kind, ident, srs in rows:
            entry: dict[str, Any] = {"kind": kind, "title": ident, "srs_id": srs}
            if kind in ("features", "attributes"):
                entry["rows"] = con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()[0]  # noqa: S608
            out[table] = entry
        return out
    finally:
        con.close()


__all__ = [
    "EMPTY_GEOMETRY",
    "GPKG_VERSION",
    "RASTER_LAYERS",
    "VECTOR_LAYERS",
    "GpkgReport",
    "LayerMeta",
    "RasterLayer",
    "base_layer_name",
    "default_stops",
    "describe_gpkg",
    "fields_without_units",
    "gdal_validator_command",
    "overview_factors",
    "prepare_layers",
    "validate_early",
    "validate_gpkg",
    "write_gpkg",
]
