"""Tile archives for the web map: vector tiles (MVT) of the published layers and raster tiles of rendered surfaces,
as PMTiles (default) or MBTiles.

Everything is encoded by GDAL: pyogrio's PMTiles/MBTiles drivers cut and encode the vector tiles (one archive per
layer, since pyogrio writes one layer per call), and rasterio's MBTiles driver tiles the rendered RGBA surface, one
zoom at a time from a warp to that zoom's pixel size. The only code of our own is the assembly: the per-layer vector
archives are merged tile by tile into one archive -- an MVT tile is a protobuf message whose layers are a repeated
field, so the concatenation of two tiles is the tile holding both layers -- and the tiles are written out with the
``pmtiles`` package's writer (or as an MBTiles SQLite file).

Rendering: bathymetry as a colour ramp (blues at sea, earth tones on land) under a hillshade (matplotlib's
``LightSource``); the cost surface as a ``magma`` ramp over its 2nd..98th percentiles, impassable cells grey.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import rasterio.shutil
from matplotlib import colormaps
from matplotlib.colors import LightSource, LinearSegmentedColormap
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from geodata.errors import InputDataError
from geodata.grid import Raster
from geodata.publish import styles

TileFormat = Literal["pmtiles", "mbtiles"]
WEB_MERCATOR_EQUATOR_M = 40_075_016.686


@dataclass
class TilesetInfo:
    """One tile archive: where, what, zooms, tiles and bytes, and the legend of a rendered raster."""

    path: Path
    kind: Literal["vector", "raster"]
    min_zoom: int
    max_zoom: int
    tile_count: int
    size_bytes: int
    bounds: tuple[float, float, float, float]
    layers: dict[str, str] = field(default_factory=dict)  # vector: layer -> geometry family
    values: dict[str, list[str]] = field(default_factory=dict)  # vector: categorised layer -> values present
    legend: list[tuple[float, str]] = field(default_factory=list)  # raster: (value, #rrggbb) stops
    units: str = ""
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "tile_count": self.tile_count,
            "size_bytes": self.size_bytes,
            "bounds": list(self.bounds),
            "layers": self.layers,
            "legend": [[v, c] for v, c in self.legend],
            "units": self.units,
            "elapsed_s": round(self.elapsed_s, 3),
        }


# -- zooms --------------------------------------------------------------------------------------------------------


def native_zoom(resolution_m: float, latitude_deg: float) -> int:
    """The web-mercator zoom whose 256-px tiles have pixels no larger than ``resolution_m`` at ``latitude_deg``
    (the finest zoom that still adds detail for a raster of that resolution)."""
    if resolution_m <= 0:
        raise InputDataError(f"resolution {resolution_m} m must be positive")
    ground_px_z0 = WEB_MERCATOR_EQUATOR_M * math.cos(math.radians(latitude_deg)) / 256
    return max(0, min(22, math.ceil(math.log2(ground_px_z0 / resolution_m))))


def _check_zooms(min_zoom: int, max_zoom: int) -> None:
    if not (0 <= min_zoom <= max_zoom <= 22):
        raise InputDataError(f"zoom range {min_zoom}..{max_zoom} is invalid; need 0 <= min_zoom <= max_zoom <= 22")


# -- vector tiles -------------------------------------------------------------------------------------------------


def write_vector_tiles(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    min_zoom: int = 4,
    max_zoom: int = 10,
    name: str = "corridor",
    attribution: str = "",
    description: str = "",
    tile_format: TileFormat = "pmtiles",
) -> TilesetInfo:
    """Write ``layers`` (any CRS, one geometry family each) as one vector-tile archive with a tile layer per input
    layer, of zooms ``min_zoom..max_zoom``. Empty layers are left out. Returns what was written."""
    t0 = time.perf_counter()
    _check_zooms(min_zoom, max_zoom)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info_layers: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    bounds = [math.inf, math.inf, -math.inf, -math.inf]
    with tempfile.TemporaryDirectory(prefix="tiles-", dir=path.parent) as tmp:
        parts: list[Path] = []
        for layer, gdf in layers.items():
            if gdf.crs is None:
                raise InputDataError(f"layer '{layer}' has no CRS; set it before tiling")
            if len(gdf) == 0:
                continue
            gdf = gdf.to_crs(4326)
            families = {styles.family_of(t) for t in gdf.geom_type.dropna().unique()}
            if len(families) != 1:
                raise InputDataError(f"layer '{layer}' mixes {sorted(families)}; split it (see gpkg.prepare_layers)")
            info_layers[layer] = families.pop()
            st = styles.style_for(layer)
            if st.field and st.field in gdf.columns:
                values[layer] = sorted({str(v) for v in gdf[st.field].dropna().unique()})
            b = gdf.total_bounds
            bounds = [min(bounds[0], b[0]), min(bounds[1], b[1]), max(bounds[2], b[2]), max(bounds[3], b[3])]
            part = Path(tmp) / f"{layer}.pmtiles"
            pyogrio.write_dataframe(
                _tileable(gdf),
                part,
                layer=layer,
                driver="PMTiles",
                dataset_options={"MINZOOM": min_zoom, "MAXZOOM": max_zoom, "NAME": layer},
                layer_options={"MINZOOM": min_zoom, "MAXZOOM": max_zoom},
            )
            parts.append(part)
        if not parts:
            raise InputDataError("no features to tile: every layer passed is empty")
        tmp_out = Path(tmp) / f"merged{path.suffix}"
        count = _merge_vector_archives(
            parts, tmp_out, name=name, attribution=attribution, description=description, bounds=bounds,
            tile_format=tile_format, min_zoom=min_zoom, max_zoom=max_zoom,
        )  # fmt: skip
        os.replace(tmp_out, path)
    return TilesetInfo(
        path, "vector", min_zoom, max_zoom, count, path.stat().st_size, _floats(bounds), info_layers, values,
        elapsed_s=time.perf_counter() - t0,
    )  # fmt: skip


def _tileable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Attributes MVT can carry: strings, numbers, booleans (datetimes and others become strings), finite floats
    rounded to what a popup shows."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        series = out[col]
        if series.dtype.kind == "f":
            out[col] = series.round(6)
        elif series.dtype.kind not in "iub" and series.dtype != object:
            out[col] = series.astype(str)
    return out


def _merge_vector_archives(
    parts: list[Path],
    out: Path,
    *,
    name: str,
    attribution: str,
    description: str,
    bounds: list[float],
    tile_format: TileFormat,
    min_zoom: int,
    max_zoom: int,
) -> int:
    tiles: dict[tuple[int, int, int], list[bytes]] = {}
    vector_layers: list[dict[str, Any]] = []
    for part in parts:
        with open(part, "rb") as fh:
            source = MmapSource(fh)
            meta = Reader(source).metadata()
            vector_layers += meta.get("vector_layers", [])
            for zxy, data in all_tiles(source):
                raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
                tiles.setdefault(tuple(zxy), []).append(raw)  # type: ignore[arg-type]
    metadata = {
        "name": name,
        "description": description,
        "attribution": attribution,
        "type": "overlay",
        "format": "pbf",
        "minzoom": str(min_zoom),
        "maxzoom": str(max_zoom),
        "bounds": ",".join(f"{b:.7f}" for b in bounds),
        "vector_layers": vector_layers,
    }
    merged = {k: gzip.compress(b"".join(v), mtime=0) for k, v in tiles.items()}
    return _write_archive(merged, out, tile_format=tile_format, tile_type=TileType.MVT, metadata=metadata)


def _write_archive(
    tiles: Mapping[tuple[int, int, int], bytes],
    out: Path,
    *,
    tile_format: TileFormat,
    tile_type: TileType,
    metadata: dict[str, Any],
) -> int:
    """Write XYZ-addressed tiles (vector tiles already gzipped) as a PMTiles or MBTiles archive."""
    if not tiles:
        raise InputDataError("no tile to write: the data lies outside every tile of the zoom range")
    bounds = [float(b) for b in str(metadata["bounds"]).split(",")]
    if tile_format == "mbtiles":
        con = sqlite3.connect(out)
        with con:
            con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
            con.execute(
                "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
            )
            con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
            flat = {k: v for k, v in metadata.items() if k != "vector_layers"}
            if "vector_layers" in metadata:
                flat["json"] = json.dumps({"vector_layers": metadata["vector_layers"]})
            con.executemany("INSERT INTO metadata VALUES (?, ?)", list(flat.items()))
            con.executemany(
                "INSERT INTO tiles VALUES (?, ?, ?, ?)",
                [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
            )
        con.close()
        return len(tiles)
    with open(out, "wb") as fh:
        writer = Writer(fh)
        for tile_id, key in sorted((zxy_to_tileid(*k), k) for k in tiles):
            writer.write_tile(tile_id, tiles[key])
        header = {
            "tile_type": tile_type,
            "tile_compression": Compression.GZIP if tile_type == TileType.MVT else Compression.NONE,
            "min_lon_e7": int(bounds[0] * 1e7),
            "min_lat_e7": int(bounds[1] * 1e7),
            "max_lon_e7": int(bounds[2] * 1e7),
            "max_lat_e7": int(bounds[3] * 1e7),
            "center_zoom": int(metadata["minzoom"]),
            "center_lon_e7": int((bounds[0] + bounds[2]) / 2 * 1e7),
            "center_lat_e7": int((bounds[1] + bounds[3]) / 2 * 1e7),
        }
        writer.finalize(header, metadata)
    return len(tiles)


# -- rendering ----------------------------------------------------------------------------------------------------

DEPTH_STOPS: list[tuple[float, str]] = [
    (-200.0, "#8c6d46"),
    (-50.0, "#b59a6a"),
    (-5.0, "#d8c9a3"),
    (0.0, "#e8f4f8"),
    (20.0, "#c6e4ef"),
    (50.0, "#9ecae1"),
    (100.0, "#6baed6"),
    (200.0, "#4292c6"),
    (400.0, "#2171b5"),
    (700.0, "#08519c"),
    (1000.0, "#08306b"),
]


@dataclass
class Rendering:
    """An RGBA rendering (4, rows, cols) uint8 of a raster on its grid, with its legend stops and units."""

    rgba: np.ndarray
    raster: Raster
    legend: list[tuple[float, str]]
    units: str


def _ramp(stops: list[tuple[float, str]]) -> tuple[LinearSegmentedColormap, float, float]:
    lo, hi = stops[0][0], stops[-1][0]
    cmap = LinearSegmentedColormap.from_list(
        "ramp", [((v - lo) / (hi - lo), c) for v, c in stops]
    )  # fmt: skip
    return cmap, lo, hi


def _cell_size_m(raster: Raster) -> tuple[float, float]:
    dy, dx = raster.grid.res
    if raster.grid.crs.is_geographic:
        lat = (raster.grid.bounds[1] + raster.grid.bounds[3]) / 2
        return dy * 111_320.0, dx * 111_320.0 * math.cos(math.radians(lat))
    return dy, dx


def render_bathymetry(depth: Raster, *, positive: Literal["down", "up"] = "down", vert_exag: float = 8.0) -> Rendering:
    """Colour ramp (water depth in m; land heights in earth tones) under a hillshade. ``positive='down'`` means the
    values are depths (the pipeline's convention), ``'up'`` elevations."""
    z = depth.data.astype("float64")
    valid = depth.valid()
    if not valid.any():
        raise InputDataError("bathymetry raster has no valid cell; nothing to render")
    d = z if positive == "down" else -z
    filled = np.where(valid, d, np.nanmedian(d[valid]))
    cmap, lo, hi = _ramp(DEPTH_STOPS)
    rgb = cmap(np.clip((filled - lo) / (hi - lo), 0, 1))[..., :3]
    dy, dx = _cell_size_m(depth)
    shade = LightSource(azdeg=315, altdeg=45).hillshade(-filled, vert_exag=vert_exag, dx=dx, dy=dy)
    lit = np.clip(rgb * (0.55 + 0.6 * shade[..., None]), 0, 1)
    rgba = np.empty((4, *z.shape), dtype="uint8")
    rgba[:3] = np.moveaxis(np.round(lit * 255), -1, 0).astype("uint8")
    rgba[3] = np.where(valid, 255, 0)
    return Rendering(rgba, depth, DEPTH_STOPS, "m")


def render_cost(cost: Raster, *, cmap_name: str = "magma_r", alpha: int = 210) -> Rendering:
    """The cost surface on a perceptual ramp over its 2nd..98th percentiles; impassable (inf) cells dark grey."""
    c = cost.data.astype("float64")
    finite = cost.valid()
    impassable = np.isposinf(c)
    if not finite.any():
        raise InputDataError("cost raster has no finite cell; nothing to render")
    lo, hi = (float(v) for v in np.percentile(c[finite], [2, 98]))
    hi = hi if hi > lo else lo + 1.0
    cmap = colormaps[cmap_name]
    rgb = cmap(np.clip((np.where(finite, c, lo) - lo) / (hi - lo), 0, 1))[..., :3]
    rgba = np.empty((4, *c.shape), dtype="uint8")
    rgba[:3] = np.moveaxis(np.round(rgb * 255), -1, 0).astype("uint8")
    rgba[3] = np.where(finite, alpha, 0)
    rgba[:3, impassable] = 60
    rgba[3, impassable] = 150
    legend = []
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        r, g, b, _ = cmap(i / 4)
        legend.append((round(v, 4), f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"))
    return Rendering(rgba, cost, legend, str(cost.attrs.get("units", "cost per m")))


SHARE_STOPS: list[tuple[float, str]] = [
    (0.0, "#fff7bc"),
    (0.25, "#fec44f"),
    (0.5, "#fe9929"),
    (0.75, "#d95f0e"),
    (1.0, "#7f2704"),
]
"""Colour stops of a share (0..1), e.g. the Monte Carlo passage frequency."""


def render_share(share: Raster, *, alpha: int = 220) -> Rendering:
    """A share of realisations (0..1) on :data:`SHARE_STOPS`; cells at 0 or without data are transparent."""
    v = share.data.astype("float64")
    valid = share.valid() & np.isfinite(v)
    if not valid.any():
        raise InputDataError("share raster has no valid cell; nothing to render")
    cmap, lo, hi = _ramp(SHARE_STOPS)
    rgb = cmap(np.clip((np.where(valid, v, 0.0) - lo) / (hi - lo), 0, 1))[..., :3]
    rgba = np.empty((4, *v.shape), dtype="uint8")
    rgba[:3] = np.moveaxis(np.round(rgb * 255), -1, 0).astype("uint8")
    rgba[3] = np.where(valid & (v > 0), alpha, 0)
    return Rendering(rgba, share, SHARE_STOPS, str(share.attrs.get("units", "share")))


# -- raster tiles -------------------------------------------------------------------------------------------------


def write_raster_tiles(
    rendering: Rendering,
    path: str | Path,
    *,
    min_zoom: int = 4,
    max_zoom: int | None = None,
    name: str = "raster",
    attribution: str = "",
    description: str = "",
    tile_format: TileFormat = "pmtiles",
) -> TilesetInfo:
    """Tile an RGBA rendering into PNG tiles of zooms ``min_zoom..max_zoom`` (None = the data's native zoom, see
    :func:`native_zoom`, never finer: the web map over-zooms). Each zoom is the rendering warped (bilinear) to that
    zoom's web-mercator pixel size and tiled by GDAL's MBTiles driver; the tiles of all zooms are then assembled
    into one PMTiles (or MBTiles) archive."""
    t0 = time.perf_counter()
    grid = rendering.raster.grid
    west, south, east, north = _lonlat_bounds(rendering.raster)
    res_m = min(_cell_size_m(rendering.raster))
    native = native_zoom(res_m, (south + north) / 2)
    top = native if max_zoom is None else min(max_zoom, max(native, min_zoom))
    _check_zooms(min_zoom, top)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rtiles-", dir=path.parent) as tmp:
        src_path = Path(tmp) / "rgba.tif"
        with rasterio.open(
            src_path, "w", driver="GTiff", height=grid.shape[0], width=grid.shape[1], count=4, dtype="uint8",
            crs=grid.crs.to_wkt(), transform=grid.transform, photometric="RGB", alpha="YES",
        ) as dst:  # fmt: skip
            dst.write(rendering.rgba)
        # one GDAL MBTiles per zoom, each from the rendering warped to exactly that zoom's pixel size (GDAL's own
        # overviews stop where a level gets smaller than one tile, which would leave the coarse zooms empty)
        collected: dict[tuple[int, int, int], bytes] = {}
        for z in range(min_zoom, top + 1):
            warped = Path(tmp) / f"rgba_z{z}.tif"
            _warp_to_zoom(src_path, warped, z)
            mb = Path(tmp) / f"z{z}.mbtiles"
            rasterio.shutil.copy(
                warped, mb, driver="MBTiles", TILE_FORMAT="PNG", NAME=name, TYPE="overlay",
                ZOOM_LEVEL_STRATEGY="AUTO", RESAMPLING="BILINEAR", BLOCKSIZE=256,
            )  # fmt: skip
            con = sqlite3.connect(mb)
            try:
                rows = con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
            finally:
                con.close()
            for zl, col, row, data in rows:
                if zl != z:
                    raise InputDataError(f"GDAL tiled zoom {z} as zoom {zl}; report this with the raster's grid")
                collected[(z, col, (1 << z) - 1 - row)] = bytes(data)
        metadata = {
            "name": name,
            "description": description or name,
            "attribution": attribution,
            "type": "overlay",
            "format": "png",
            "minzoom": str(min_zoom),
            "maxzoom": str(top),
            "bounds": f"{west:.7f},{south:.7f},{east:.7f},{north:.7f}",
        }
        out_tmp = Path(tmp) / f"out{path.suffix}"
        count = _write_archive(collected, out_tmp, tile_format=tile_format, tile_type=TileType.PNG, metadata=metadata)
        os.replace(out_tmp, path)
    return TilesetInfo(
        path, "raster", min_zoom, top, count, path.stat().st_size, (west, south, east, north),
        legend=rendering.legend, units=rendering.units, elapsed_s=time.perf_counter() - t0,
    )  # fmt: skip


def _lonlat_bounds(raster: Raster) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    return _floats(transform_bounds(raster.grid.crs.to_wkt(), "EPSG:4326", *raster.grid.bounds, densify_pts=21))


def _floats(values: Any) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in values)
    return (a, b, c, d)


def _warp_to_zoom(src_path: Path, dst_path: Path, zoom: int) -> None:
    """Reproject an RGBA GeoTIFF to web mercator at exactly the pixel size of ``zoom``, aligned on the tile grid."""
    from affine import Affine
    from rasterio.warp import Resampling, reproject, transform_bounds

    half = WEB_MERCATOR_EQUATOR_M / 2
    px = WEB_MERCATOR_EQUATOR_M / 256 / 2**zoom
    with rasterio.open(src_path) as src:
        left, bottom, right, top = transform_bounds(src.crs, "EPSG:3857", *src.bounds, densify_pts=21)
        left = -half + math.floor((left + half) / px) * px
        top = half - math.floor((half - top) / px) * px
        width = math.ceil((right - left) / px)
        height = math.ceil((top - bottom) / px)
        transform = Affine(px, 0.0, left, 0.0, -px, top)
        profile = {"driver": "GTiff", "height": height, "width": width, "count": 4, "dtype": "uint8",
                   "crs": "EPSG:3857", "transform": transform, "photometric": "RGB", "alpha": "YES",
                   "tiled": True, "compress": "deflate"}  # fmt: skip
        with rasterio.open(dst_path, "w", **profile) as dst:
            for band in range(1, 5):
                reproject(
                    rasterio.band(src, band), rasterio.band(dst, band), resampling=Resampling.bilinear,
                    dst_nodata=0 if band == 4 else None,
                )  # fmt: skip


def read_tile(path: str | Path, z: int, x: int, y: int) -> bytes | None:
    """One tile's bytes (decompressed for vector tiles) from a PMTiles archive, or None when absent."""
    with open(path, "rb") as fh:
        data = Reader(MmapSource(fh)).get(z, x, y)
    if data is None:
        return None
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
