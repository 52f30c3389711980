"""One grid object instead of a loose transform, shape and CRS (after odc-geo's ``GeoBox``), and a raster on it.

A :class:`GeoGrid` is a north-up regular grid: an affine transform, a shape ``(rows, cols)`` and a CRS. A
:class:`Raster` is a 2-D array on a grid with its nodata value and free-form attributes (units, datum, sources)
that travel with it into GeoTIFF tags and Dagster metadata.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS

from geodata.errors import InputDataError
from geodata.geodesy import transformer


@dataclass(frozen=True)
class GeoGrid:
    """A north-up regular grid: ``transform`` maps (col, row) to (x, y) of the cell's upper-left corner."""

    crs: CRS
    transform: Affine
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "crs", CRS.from_user_input(self.crs))
        object.__setattr__(self, "shape", (int(self.shape[0]), int(self.shape[1])))
        if self.transform.b != 0 or self.transform.d != 0 or self.transform.e >= 0:
            raise InputDataError(f"grid transform {tuple(self.transform)[:6]} is not north-up; warp it first")

    # -- construction ---------------------------------------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], resolution: float | tuple[float, float], crs: Any
    ) -> GeoGrid:
        """The grid of square (or ``(dy, dx)``) cells covering ``bounds = (left, bottom, right, top)``, snapped outwards
        to whole multiples of the resolution so that reruns on other extents stay aligned."""
        if isinstance(resolution, (int, float)):
            dy = dx = float(resolution)
        else:
            dy, dx = (float(v) for v in resolution)
        left = math.floor(bounds[0] / dx) * dx
        right = math.ceil(bounds[2] / dx) * dx
        bottom = math.floor(bounds[1] / dy) * dy
        top = math.ceil(bounds[3] / dy) * dy
        shape = (round((top - bottom) / dy), round((right - left) / dx))
        return cls(CRS.from_user_input(crs), Affine(dx, 0.0, left, 0.0, -dy, top), shape)

    # -- geometry -------------------------------------------------------------------------------------------------
    @property
    def res(self) -> tuple[float, float]:
        """Cell size ``(dy, dx)`` in CRS units, both positive."""
        return (abs(self.transform.e), abs(self.transform.a))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        left, top = self.transform.c, self.transform.f
        return (left, top + self.transform.e * self.shape[0], left + self.transform.a * self.shape[1], top)

    @property
    def cell_count(self) -> int:
        return self.shape[0] * self.shape[1]

    def xy(self, row: Any, col: Any) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of fractional ``(row, col)`` positions; integer positions give cell centres."""
        r = np.asarray(row, dtype=float) + 0.5
        c = np.asarray(col, dtype=float) + 0.5
        return (self.transform.c + c * self.transform.a, self.transform.f + r * self.transform.e)

    def rowcol(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fractional ``(row, col)`` of map coordinates, cell centres at whole numbers."""
        col = (np.asarray(x, dtype=float) - self.transform.c) / self.transform.a - 0.5
        row = (np.asarray(y, dtype=float) - self.transform.f) / self.transform.e - 0.5
        return (row, col)

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """The integer cell holding map point ``(x, y)``, or None when the point is off the grid."""
        row, col = self.rowcol(x, y)
        r, c = int(np.floor(row + 0.5)), int(np.floor(col + 0.5))
        if 0 <= r < self.shape[0] and 0 <= c < self.shape[1]:
            return (r, c)
        return None

    def lonlat_to_xy(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        t = transformer("EPSG:4326", self.crs)
        x, y = t.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return (np.asarray(x), np.asarray(y))

    def xy_to_lonlat(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        t = transformer(self.crs, "EPSG:4326")
        lon, lat = t.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return (np.asarray(lon), np.asarray(lat))

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """1-D cell-centre coordinates ``(y, x)`` along rows and columns."""
        rows = np.arange(self.shape[0])
        cols = np.arange(self.shape[1])
        return (self.transform.f + (rows + 0.5) * self.transform.e, self.transform.c + (cols + 0.5) * self.transform.a)

    def to_dict(self) -> dict[str, Any]:
        return {
            "crs": self.crs.to_string(),
            "transform": list(self.transform)[:6],
            "shape": list(self.shape),
            "resolution_m": list(self.res),
        }

    def __repr__(self) -> str:
        return f"GeoGrid({self.crs.to_string()}, shape={self.shape}, res={self.res}, bounds={self.bounds})"


@dataclass
class Raster:
    """A 2-D array on a :class:`GeoGrid`, with its nodata value and attributes (units, datum, source checksums)."""

    data: np.ndarray
    grid: GeoGrid
    nodata: float | int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data.shape != self.grid.shape:
            raise InputDataError(f"raster data of shape {self.data.shape} does not fit its grid {self.grid.shape}")

    def valid(self) -> np.ndarray:
        """Boolean mask of cells that hold data."""
        mask = np.ones(self.data.shape, dtype=bool)
        if np.issubdtype(self.data.dtype, np.floating):
            mask &= np.isfinite(self.data)
        if not nodata_is_nan(self.nodata):
            mask &= self.data != self.nodata
        return mask

    def sample(self, x: Any, y: Any, *, method: str = "bilinear") -> np.ndarray:
        """Values at map coordinates: ``bilinear`` between cell centres (NaN where a neighbour is nodata) or
        ``nearest``. Points off the grid give NaN."""
        data = valid_values(self.data, self.nodata)
        return _sample(self.grid, x, y, method, lambda r, c: data[r, c])

    # -- GeoTIFF I/O ----------------------------------------------------------------------------------------------
    def write(self, path: str | Path, *, compress: str = "deflate") -> Path:
        """Write a tiled, compressed GeoTIFF; ``attrs`` go into a JSON tag so a round trip keeps them."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.data
        if data.dtype == bool:
            data = data.astype("uint8")
        profile = {
            "driver": "GTiff",
            "height": self.grid.shape[0],
            "width": self.grid.shape[1],
            "count": 1,
            "dtype": data.dtype.name,
            "crs": self.grid.crs.to_wkt(),
            "transform": self.grid.transform,
            "nodata": self.nodata,
            "compress": compress,
        }
        if self.grid.shape[0] >= 256 and self.grid.shape[1] >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
            dst.update_tags(corridor_attrs=json.dumps(self.attrs, default=str))
        return path

    @classmethod
    def read(cls, path: str | Path, *, band: int = 1) -> Raster:
        """Read one band of any GDAL raster; refuses rasters without CRS or with a rotated transform. ``path`` may be
        a path on an fsspec file system (a ``UPath``: rasterio reads it through the file system's ``open``)."""
        path = as_path(path)
        try:
            with rasterio.open(path) as src:
                if src.crs is None:
                    raise InputDataError(
                        f"raster {path} has no CRS; assign one (e.g. `gdal_edit.py -a_srs EPSG:4326 {path.name}`) "
                        "or set the source's `crs` in the scenario"
                    )
                data = src.read(band)
                tags = src.tags()
                grid = GeoGrid(CRS.from_wkt(src.crs.to_wkt()), src.transform, (src.height, src.width))
                nodata = src.nodata
        except rasterio.errors.RasterioIOError as exc:
            raise InputDataError(
                f"cannot read raster {path}: {exc}; check the file is a complete GeoTIFF/netCDF"
            ) from exc
        attrs = json.loads(tags["corridor_attrs"]) if "corridor_attrs" in tags else {}
        return cls(data, grid, nodata, attrs)


def as_path(path: str | os.PathLike[str] | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, except a path on an fsspec file system (an object with ``fs`` and
    ``path``, e.g. a ``UPath`` of the intermediate store), which is kept: rasterio opens such a path through its
    file system's ``open``, reading only the bytes of the windows asked for."""
    if hasattr(path, "fs") and hasattr(path, "path") and not isinstance(path, Path):
        return path  # type: ignore[return-value]
    return Path(path)


def nodata_is_nan(nodata: float | int | None) -> bool:
    """Whether a raster's only missing value is NaN: no nodata value, or NaN as its nodata (cells then need no
    comparison with a nodata value, only a finiteness test)."""
    return nodata is None or (isinstance(nodata, float) and math.isnan(nodata))


def valid_values(data: np.ndarray, nodata: float | int | None) -> np.ndarray:
    """``data`` as float64 with NaN where :meth:`Raster.valid` is False (nodata, NaN, inf)."""
    out = np.asarray(data).astype(float)
    if not nodata_is_nan(nodata):
        out[np.asarray(data) == nodata] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


def _sample(grid: GeoGrid, x: Any, y: Any, method: str, gather: Any) -> np.ndarray:
    """:meth:`Raster.sample` on any store of values: ``gather(rows, cols)`` gives the valid values (NaN = nodata)
    of integer cells, so an in-memory array and a file read tile by tile give the same numbers."""
    row, col = grid.rowcol(x, y)
    row, col = np.atleast_1d(row), np.atleast_1d(col)
    rows, cols = grid.shape
    out = np.full(row.shape, np.nan)
    if method == "nearest":
        r, c = np.floor(row + 0.5).astype(int), np.floor(col + 0.5).astype(int)
        ok = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        out[ok] = gather(r[ok], c[ok])
        return out
    rc = np.clip(row, 0, rows - 1)
    cc = np.clip(col, 0, cols - 1)
    r0 = np.clip(np.floor(rc).astype(int), 0, max(rows - 2, 0))
    c0 = np.clip(np.floor(cc).astype(int), 0, max(cols - 2, 0))
    r1, c1 = np.minimum(r0 + 1, rows - 1), np.minimum(c0 + 1, cols - 1)
    fr, fc = rc - r0, cc - c0
    # the four corners in one gather (a file is opened, and each tile read, once)
    v00, v01, v10, v11 = np.split(gather(np.concatenate([r0, r0, r1, r1]), np.concatenate([c0, c1, c0, c1])), 4)
    val = v00 * (1 - fr) * (1 - fc) + v01 * (1 - fr) * fc + v10 * fr * (1 - fc) + v11 * fr * fc
    inside = (row >= -0.5) & (row <= rows - 0.5) & (col >= -0.5) & (col <= cols - 0.5)
    out[inside] = val[inside]
    return out


# -- windowed (streamed) access ---------------------------------------------------------------------------------------
# Every raster stage that streams works on bands of whole rows: a band is cheap to cut from a tiled GeoTIFF (rows of
# 256-row tiles), needs no seam handling across columns, and a halo of a few rows is all a neighbourhood operation
# (slope, a bounded distance transform) needs. ``row_blocks`` sizes the bands from a memory budget.

BLOCK_ALIGN = 256
"""Band heights are multiples of the GeoTIFF tile height, so a band reads whole tiles."""

INTERMEDIATE_COMPRESS = "zstd"
"""Codec of the rasters the stages hand each other (``RasterWriter(compress=...)``): ZSTD level 1 with the floating
point predictor writes a 25 M-cell depth grid in 0.5 s and reads it in 0.3 s, against 1.9 s and 0.7 s for deflate, at
the same size (benchmarks on this machine, #14); GDAL >= 2.3 (QGIS 3) reads it."""


@dataclass(frozen=True)
class Block:
    """One band of rows of a grid: the rows it owns (``rows``) and the rows read with its halo (``read``)."""

    rows: slice
    read: slice

    @property
    def core(self) -> slice:
        """The owned rows as a slice of an array read over ``read``."""
        start = self.rows.start - self.read.start
        return slice(start, start + (self.rows.stop - self.rows.start))

    @property
    def height(self) -> int:
        return int(self.rows.stop - self.rows.start)


def row_blocks(
    grid: GeoGrid, *, bytes_per_cell: float, budget_bytes: int, halo: int = 0, align: int = BLOCK_ALIGN
) -> list[Block]:
    """Bands of whole rows covering ``grid``, each small enough that ``bytes_per_cell`` of working memory per cell of
    the band and its halo stays within ``budget_bytes``; heights are multiples of ``align`` (one band when the
    whole grid fits). ``halo`` extra rows are read on each side (clipped at the edges)."""
    if bytes_per_cell <= 0 or budget_bytes <= 0:
        raise ValueError(
            f"row_blocks needs positive bytes_per_cell and budget_bytes, not {bytes_per_cell}, {budget_bytes}"
        )
    rows, cols = grid.shape
    fit = int(budget_bytes // max(bytes_per_cell * max(cols, 1), 1.0)) - 2 * halo
    height = rows if fit >= rows else max(align, (max(fit, 1) // align) * align)
    out = []
    for start in range(0, rows, height):
        stop = min(start + height, rows)
        out.append(Block(slice(start, stop), slice(max(start - halo, 0), min(stop + halo, rows))))
    return out


@dataclass(frozen=True)
class RasterFile:
    """A GeoTIFF on disk read lazily, band by band: the streamed counterpart of :class:`Raster` (same ``grid``,
    ``nodata`` and ``attrs``). ``read_rows`` reads only the tiles a band touches; ``load`` reads everything."""

    path: Path
    grid: GeoGrid
    dtype: np.dtype[Any]
    nodata: float | int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path) -> RasterFile:
        path = as_path(path)
        try:
            with rasterio.open(path) as src:
                if src.crs is None:
                    raise InputDataError(f"raster {path} has no CRS; assign one (e.g. `gdal_edit.py -a_srs EPSG:4326`)")
                grid = GeoGrid(CRS.from_wkt(src.crs.to_wkt()), src.transform, (src.height, src.width))
                tags = src.tags()
                dtype, nodata = np.dtype(src.dtypes[0]), src.nodata
        except rasterio.errors.RasterioIOError as exc:
            raise InputDataError(f"cannot read raster {path}: {exc}; check the file is a complete GeoTIFF") from exc
        attrs = json.loads(tags["corridor_attrs"]) if "corridor_attrs" in tags else {}
        return cls(path, grid, dtype, nodata, attrs)

    def read_rows(self, rows: slice) -> np.ndarray:
        from rasterio.windows import Window

        with rasterio.open(self.path) as src:
            return src.read(1, window=Window(0, rows.start, self.grid.shape[1], rows.stop - rows.start))

    def load(self) -> Raster:
        return Raster.read(self.path)

    def cells(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Valid values (float64, NaN = nodata) of integer cells, reading only the 256 x 256 tiles they fall in."""
        from rasterio.windows import Window

        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        out = np.full(rows.shape, np.nan)
        if rows.size == 0:
            return out
        t = BLOCK_ALIGN
        tile = (rows // t) * (self.grid.shape[1] // t + 1) + cols // t
        order = np.argsort(tile, kind="stable")
        bounds = np.flatnonzero(np.diff(tile[order])) + 1
        with rasterio.open(self.path) as src:
            for group in np.split(order, bounds):
                r0, c0 = int(rows[group[0]] // t) * t, int(cols[group[0]] // t) * t
                h, w = min(t, self.grid.shape[0] - r0), min(t, self.grid.shape[1] - c0)
                block = valid_values(src.read(1, window=Window(c0, r0, w, h)), self.nodata)
                out[group] = block[rows[group] - r0, cols[group] - c0]
        return out

    def sample(self, x: Any, y: Any, *, method: str = "bilinear") -> np.ndarray:
        """:meth:`Raster.sample` reading only the tiles around the points (a route samples a few hundred tiles of a
        grid of tens of thousands)."""
        return _sample(self.grid, x, y, method, self.cells)

    def raster(self, dtype: Any = None, *, scratch: bool = False) -> LazyRaster:
        """This file as a :class:`Raster` whose data is read on first use (``dtype``: the values' type, e.g. bool
        for a mask stored as uint8; ``scratch``: the file is a stage's temporary output, which the store may move
        into place instead of copying)."""
        return LazyRaster(self, dtype=dtype, scratch=scratch)


class LazyRaster(Raster):
    """A :class:`Raster` backed by a :class:`RasterFile`: ``grid``, ``nodata`` and ``attrs`` are at hand, ``data``
    is read from the file the first time it is used (then kept), while :func:`raster_read_rows` and
    :meth:`sample` read only the windows they need. What the IO manager hands the next asset, so code written for
    an in-memory :class:`Raster` still works and streamed code never loads the whole grid."""

    def __init__(self, file: RasterFile, *, dtype: Any = None, scratch: bool = False) -> None:
        self.file = file
        self.scratch = scratch
        self.grid = file.grid
        self.nodata = file.nodata
        self.attrs = file.attrs
        self.dtype = np.dtype(dtype) if dtype is not None else file.dtype
        self._data: np.ndarray | None = None
        self.kept: np.ndarray | None = None
        """The values as the stage that wrote the file kept them in memory (or None), for that stage's own checks
        (``geodata.bathymetry.held``) instead of reading back what it just wrote; not ``data``: the raster stays
        unloaded, so the store still moves its file."""

    @property  # type: ignore[override]
    def data(self) -> np.ndarray:
        if self._data is None:
            self._data = self.read_rows(slice(0, self.grid.shape[0]))
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self._data = value

    @property
    def loaded(self) -> bool:
        return self._data is not None

    def read_rows(self, rows: slice) -> np.ndarray:
        if self._data is not None:
            return self._data[rows]
        return self.file.read_rows(rows).astype(self.dtype, copy=False)

    def sample(self, x: Any, y: Any, *, method: str = "bilinear") -> np.ndarray:
        if self._data is not None:
            return super().sample(x, y, method=method)
        return self.file.sample(x, y, method=method)

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "on disk"
        return f"LazyRaster({self.file.path}, {self.dtype}, {state}, grid={self.grid!r})"


def raster_read_rows(raster: Raster | RasterFile, rows: slice) -> np.ndarray:
    """Rows of an in-memory or on-disk raster (a view for :class:`Raster`, a windowed read for :class:`RasterFile`
    and for a :class:`LazyRaster` not loaded yet)."""
    if isinstance(raster, LazyRaster):
        return raster.read_rows(rows)
    if isinstance(raster, Raster):
        return raster.data[rows]
    return raster.read_rows(rows)


class RasterWriter:
    """Write a tiled, compressed GeoTIFF band by band (``write_rows``), with the ``attrs`` tag of :meth:`Raster.write`;
    overviews (``overviews=True``) are built when it closes. Use as a context manager; the file is complete only
    after ``__exit__`` without error."""

    def __init__(
        self,
        path: str | Path,
        grid: GeoGrid,
        dtype: Any,
        *,
        nodata: float | int | None = None,
        attrs: dict[str, Any] | None = None,
        compress: str = "deflate",
        overviews: bool = False,
    ) -> None:
        self.path = Path(path)
        self.grid = grid
        self.dtype = np.dtype("uint8") if np.dtype(dtype) == np.dtype(bool) else np.dtype(dtype)
        self.nodata, self.attrs, self.overviews = nodata, dict(attrs or {}), overviews
        self._profile: dict[str, Any] = {
            "driver": "GTiff",
            "height": grid.shape[0],
            "width": grid.shape[1],
            "count": 1,
            "dtype": self.dtype.name,
            "crs": grid.crs.to_wkt(),
            "transform": grid.transform,
            "nodata": nodata,
            "compress": compress,
            "tiled": True,
            "blockxsize": BLOCK_ALIGN,
            "blockysize": BLOCK_ALIGN,
            "BIGTIFF": "IF_SAFER",
        }
        if compress in ("deflate", "zstd") and self.dtype.kind == "f":
            self._profile["predictor"] = 3
        if compress == "zstd":  # level 1: as small as deflate's default here, twice as fast to write and read
            self._profile["zstd_level"] = 1
        self._dst: Any = None

    def __enter__(self) -> RasterWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._dst = rasterio.open(self.path, "w", **self._profile)
        return self

    def write_rows(self, rows: slice, data: np.ndarray) -> None:
        from rasterio.windows import Window

        if data.shape != (rows.stop - rows.start, self.grid.shape[1]):
            raise ValueError(f"band of shape {data.shape} does not fit rows {rows.start}:{rows.stop} of {self.grid}")
        self._dst.write(
            data.astype(self.dtype, copy=False), 1, window=Window(0, rows.start, data.shape[1], data.shape[0])
        )

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self._dst.update_tags(corridor_attrs=json.dumps(self.attrs, default=str))
                if self.overviews:
                    from rasterio.enums import Resampling

                    factors = [f for f in (2, 4, 8, 16, 32, 64) if min(self.grid.shape) // f >= BLOCK_ALIGN // 2]
                    if factors:
                        self._dst.build_overviews(factors, Resampling.average)
        finally:
            self._dst.close()
        if exc_type is not None:
            self.path.unlink(missing_ok=True)

    def file(self) -> RasterFile:
        return RasterFile.open(self.path)

    def raster(self, dtype: Any = None, *, scratch: bool = False) -> LazyRaster:
        """The written file as a :class:`LazyRaster` (after the ``with`` block)."""
        return self.file().raster(dtype, scratch=scratch)
