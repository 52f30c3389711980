"""The bathymetry stage streamed: the depth mosaic, the slope and the land/sea mask computed in bands of whole rows
sized from a memory budget, each band written to a tiled, deflate-compressed GeoTIFF as soon as it is done.

Each function gives the same values as its in-memory counterpart (:func:`~geodata.bathymetry.mosaic.
build_depth_mosaic`, :func:`~geodata.bathymetry.terrain.slope_deg`, :func:`~geodata.bathymetry.terrain.
land_sea_mask`; tests/bathymetry/test_stream.py holds them equal for several band heights) and the same
``attrs``, but holds at most one band of the analysis grid in memory (plus the sources as read, which are at
their own, coarser resolution):

* **mosaic**: every source is reprojected onto the band's own transform (``rasterio.warp.reproject`` per band:
  GDAL computes each destination cell from its own coordinates, so a band is the same as that part of a
  whole-grid warp), converted to depth and stacked by priority; with ``blend_cells`` the band is read with a halo
  of ``blend_cells + 1`` rows, which is all the truncated feathering distance can see;
* **slope**: central differences need one row above and below: bands are read with a one-row halo;
* **mask**: the coastline's land polygons are clipped to the band (plus two cells) and rasterised with the band's
  transform.

The source index (which source supplied each cell) is compressed band by band into the same zlib stream as
:func:`~geodata.bathymetry.mosaic.encode_source_index` writes, so :func:`~geodata.bathymetry.mosaic.
source_index_of` reads either.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import rasterio
from affine import Affine
from numba import njit

from geodata.bathymetry.bands import Ranks, valid_float64
from geodata.bathymetry.mosaic import (
    WARP_THREADS,
    BathymetryInput,
    _checked_inputs,
    _mosaic_attrs,
    _no_valid_cell,
    _positive,
    _resampling_for,
    _source_record,
    _source_warnings,
    _vertical_reference,
    aoi_mask_rows,
    composite_by_priority,
    to_depth,
    warp_scales,
    warp_values,
)
from geodata.bathymetry.terrain import (
    SHELF_NOTE,
    _cell_size_m,
    _land_geometries,
    _layer_bounds_in,
    rasterize_land,
    slope_band,
)
from geodata.errors import InputDataError
from geodata.grid import (
    BLOCK_ALIGN,
    INTERMEDIATE_COMPRESS,
    Block,
    GeoGrid,
    LazyRaster,
    Raster,
    RasterWriter,
    nodata_is_nan,
    raster_read_rows,
    row_blocks,
    valid_values,
)

__all__ = ["band_budget", "held", "stream_depth", "stream_land_sea_mask", "stream_slope"]

MAX_BAND_BYTES = 128 * 1024**2
"""A band never needs more working memory than this, however large the run's budget: beyond it bands only grow
the peak, not the speed (GDAL warps and rasterises in chunks of its own)."""
MIN_BAND_BYTES = 8 * 1024**2


def band_budget(budget_bytes: int) -> int:
    """Working memory of one band: an eighth of the run's memory budget, within 8 MiB .. 128 MiB."""
    return int(min(max(budget_bytes // 8, MIN_BAND_BYTES), MAX_BAND_BYTES))


HELD_SHARE = 8
"""A raster the checks read several times is held in memory when it needs at most this fraction of the run's
memory budget (:func:`held`)."""


def held(raster: Raster, budget_bytes: int) -> Raster:
    """``raster`` with its data in memory when it needs at most 1/:data:`HELD_SHARE` of the run's memory budget,
    so that the checks' several passes over it do not each read and decode the file; else as it is (a
    :class:`~geodata.grid.LazyRaster` stays on disk and the checks read it band by band). An in-memory copy, so
    that the lazy raster itself is still stored by moving its file.

    The threshold is a share of the budget, not one band's working memory (:func:`band_budget`, at most 128 MiB):
    with the band's cap a 50 m depth grid (400 MB) was streamed, and the sea mask's checks, about ten passes over
    it, each decoded the whole file again (issue #14: 22.5 s at 50 m against 2 s at 100 m, where the grid was
    held). Holding it costs 4 bytes per cell, far below the cost stage's peak."""
    if isinstance(raster, LazyRaster) and not raster.loaded:
        if raster.kept is not None:  # the stage that wrote it kept its values: nothing to read back
            return Raster(raster.kept, raster.grid, raster.nodata, raster.attrs)
        if raster.grid.cell_count * raster.dtype.itemsize <= budget_bytes // HELD_SHARE:
            data = raster.read_rows(slice(0, raster.grid.shape[0]))
            return Raster(data, raster.grid, raster.nodata, raster.attrs)
    return raster


class _BackgroundWrites:
    """A :class:`~geodata.grid.RasterWriter`'s bands compressed by one background thread while the next band is
    computed (GDAL compresses without the GIL): a band is handed over only once the previous one is written, so at
    most two bands are held and the file is written in band order. Errors surface at the next write or on exit."""

    def __init__(self, writer: RasterWriter) -> None:
        self.writer = writer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="band-writer")
        self._pending: Future[None] | None = None

    def __enter__(self) -> _BackgroundWrites:
        return self

    def write_rows(self, rows: slice, data: np.ndarray) -> None:
        self._wait()
        self._pending = self._pool.submit(self.writer.write_rows, rows, data)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self._wait()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _band_grid(grid: GeoGrid, rows: slice) -> GeoGrid:
    t = grid.transform
    return GeoGrid(grid.crs, t @ Affine.translation(0, rows.start), (rows.stop - rows.start, grid.shape[1]))


def stream_depth(
    sources: Sequence[BathymetryInput | tuple[Raster, Any, dict[str, Any]]],
    grid: GeoGrid,
    out_path: str | Path,
    *,
    water_level_m: float,
    budget_bytes: int,
    resampling: str = "bilinear",
    aoi_bounds_lonlat: tuple[float, float, float, float] | None = None,
    blend_cells: int = 0,
    align: int = BLOCK_ALIGN,
    band_bytes: int | None = None,
    overviews: bool = True,
) -> LazyRaster:
    """:func:`~geodata.bathymetry.mosaic.build_depth` band by band into the GeoTIFF ``out_path`` (tiled, deflate,
    with overviews unless ``overviews=False``); returns it as a :class:`~geodata.grid.LazyRaster` with the same
    ``attrs`` (the per-cell source index included). ``budget_bytes`` is the run's memory budget
    (:func:`band_budget`); ``align`` the band height's multiple and ``band_bytes`` the band's working memory in
    place of the budget's share (tests use small ones to cut a small grid into many bands). Same errors as
    :func:`~geodata.bathymetry.mosaic.build_depth_mosaic`; nothing is left at ``out_path`` after one."""
    inputs = _checked_inputs(sources, blend_cells)
    problems = [f"source '{inp.name}' has no CRS" for inp in inputs if inp.raster.grid.crs is None]
    if problems:
        raise InputDataError("bathymetry sources do not cover the area:\n" + "\n".join(f"  - {p}" for p in problems))
    plan = []
    for inp in inputs:
        values = np.where(inp.raster.valid(), inp.raster.data, np.nan).astype("float32")
        vref, positive = _vertical_reference(inp), _positive(inp)
        method = _resampling_for(inp.raster, grid, resampling)
        plan.append((inp, values, method, vref, positive, warp_scales(inp.raster, grid)))
    keys = [(-inp.priority, i) for i, inp in enumerate(inputs)]
    halo = blend_cells + 1 if blend_cells > 0 else 0
    per_cell = 16 + 8 * len(inputs) + (24 if blend_cells > 0 else 0)
    blocks = row_blocks(
        grid, bytes_per_cell=per_cell, budget_bytes=band_bytes or band_budget(budget_bytes), halo=halo, align=align
    )
    valid_n = np.zeros(len(inputs), dtype=np.int64)
    cover_n = np.zeros(len(inputs), dtype=np.int64)
    supplied = np.zeros(len(inputs), dtype=np.int64)
    aoi_n = covered_n = 0
    packer = zlib.compressobj(1)
    packed: list[bytes] = []
    out_path = Path(out_path)
    # the depth is kept as written when held() would read it back whole for the stage's checks (4 bytes a cell)
    kept = np.empty(grid.shape, dtype=np.float32) if _keeps(grid, 4, budget_bytes) else None
    # GDAL's threads for the file (its tiles' compression and the overviews built on close: 0.99 -> 0.63 s at 100 m,
    # the same pixels)
    with (
        rasterio.Env(GDAL_NUM_THREADS=str(WARP_THREADS)),
        RasterWriter(
            out_path, grid, "float32", nodata=float("nan"), overviews=overviews, compress=INTERMEDIATE_COMPRESS
        ) as writer,
    ):
        with _BackgroundWrites(writer) as background:
            for block in blocks:
                band = _band_grid(grid, block.read)
                layers = []
                for inp, values, method, vref, positive, scales in plan:
                    elev = warp_values(inp.raster, values, band, method, scales)
                    layers.append(
                        to_depth(elev, positive=positive[0], vertical_reference_m=vref[0], water_level_m=water_level_m)
                    )
                depth, index = composite_by_priority(layers, keys, blend_cells)
                core = block.core
                depth, index = depth[core], index[core]
                aoi = aoi_mask_rows(grid, aoi_bounds_lonlat, block.rows)
                for i, layer in enumerate(layers):
                    v = np.isfinite(layer[core])
                    valid_n[i] += int(v.sum())
                    cover_n[i] += int((v & aoi).sum())
                    supplied[i] += int((index == i).sum())
                aoi_n += int(aoi.sum())
                covered_n += int((np.isfinite(depth) & aoi).sum())
                background.write_rows(block.rows, _kept_band(kept, block.rows, depth))
                packed.append(packer.compress(np.ascontiguousarray(index, dtype="<i2").tobytes()))
                del layers, depth, index
        records, warnings = [], []
        for i, (inp, _values, method, vref, positive, _scales) in enumerate(plan):
            if valid_n[i] == 0:
                problems.append(_no_valid_cell(inp, grid, aoi_bounds_lonlat))
                continue
            cover = float(cover_n[i] / aoi_n) if aoi_n else 0.0
            warnings.extend(_source_warnings(inp, grid, method, cover, aoi_given=aoi_bounds_lonlat is not None))
            record = _source_record(inp, method, int(valid_n[i]), cover, vref, positive)
            records.append(record)
        if problems:
            raise InputDataError(
                "bathymetry sources do not cover the area:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nUse sources that cover the area of interest, or correct the area of interest / the source's CRS."
            )
        for i, rec in enumerate(records):
            rec["cells_supplied"] = int(supplied[i])
            if rec["cells_supplied"] == 0:
                warnings.append(
                    f"{rec['name']}: every cell it covers is covered by a higher-priority source; it is unused"
                )
        covered = float(covered_n / aoi_n) if aoi_n else 0.0
        if aoi_bounds_lonlat is not None and covered < 1.0:
            warnings.append(f"the mosaic covers {100 * covered:.2f} % of the area of interest; the rest is nodata")
        attrs = _mosaic_attrs(
            grid, water_level_m, resampling, blend_cells, aoi_bounds_lonlat, covered, records, warnings
        )
        packed.append(packer.flush())
        attrs["source_index"] = {
            "encoding": "zlib+base64",
            "dtype": "<i2",
            "shape": list(grid.shape),
            "data": base64.b64encode(b"".join(packed)).decode("ascii"),
        }
        writer.attrs = attrs
    out = writer.raster(scratch=True)
    out.kept = kept
    return out


def _kept_band(kept: np.ndarray | None, rows: slice, band: np.ndarray) -> np.ndarray:
    """``band`` copied into the kept array's rows (and those rows returned), or as it is when nothing is kept."""
    if kept is None:
        return band
    kept[rows] = band
    return kept[rows]


def _keeps(grid: GeoGrid, itemsize: int, budget_bytes: int) -> bool:
    """Whether a stage keeps its output as written: when :func:`held` would hold it (read it back whole)."""
    return grid.cell_count * itemsize <= budget_bytes // HELD_SHARE


def stream_slope(
    depth: Raster,
    out_path: str | Path,
    *,
    budget_bytes: int,
    align: int = BLOCK_ALIGN,
    band_bytes: int | None = None,
    overviews: bool = True,
) -> LazyRaster:
    """:func:`~geodata.bathymetry.terrain.slope_deg` band by band (a one-row halo) into the GeoTIFF ``out_path``;
    ``depth`` may be in memory or a :class:`~geodata.grid.LazyRaster` (read band by band, never whole). The
    ``attrs`` are those of :func:`~geodata.bathymetry.terrain.slope_deg` plus ``max_slope_deg`` and
    ``median_slope_deg`` over the cells with a slope (exact: a histogram of the bands, then one pass over the
    file for the median's bin), None without any."""
    grid = depth.grid
    if grid.crs is None:
        raise InputDataError("depth raster has no CRS; slope needs the cell size in metres")
    if min(grid.shape) < 2:
        raise InputDataError(
            f"depth raster of shape {grid.shape} is too small for a slope (needs at least 2 x 2 cells)"
        )
    hy_all, hx_all = _cell_size_m(grid)
    ranks = Ranks(0.0, 90.0)
    # SLOPE_THREADS bands are computed at once (numpy and GDAL's decoding release the GIL): each gets its share of
    # the band memory, so the stage's working memory is that of one band as before
    threads = SLOPE_THREADS
    blocks = row_blocks(
        grid,
        bytes_per_cell=48,
        budget_bytes=max((band_bytes or band_budget(budget_bytes)) // threads, 1),
        halo=1,
        align=align,
    )
    attrs = {
        "quantity": "seabed_slope",
        "units": "degree",
        "method": "np.gradient central differences on the depth grid, cell sizes in metres"
        + (" (per-row metres per degree on the ellipsoid)" if grid.crs.is_geographic else ""),
        "source_checksums": depth.attrs.get("source_checksums", {}),
    }
    with RasterWriter(
        out_path, grid, "float32", nodata=float("nan"), attrs=attrs, overviews=overviews, compress=INTERMEDIATE_COMPRESS
    ) as writer:
        # the finite slopes are kept for the median's second pass when they fit the share held() allows (4 bytes
        # a cell at most), else that pass reads the file again
        keep = grid.cell_count * 4 <= budget_bytes // HELD_SHARE
        kept: list[np.ndarray] = []

        def band(item: tuple[Block, np.ndarray]) -> tuple[np.ndarray, np.ndarray, Ranks]:
            block, z = item
            slope = slope_band(z, hy_all[block.read], hx_all[block.read])[block.core]
            finite_values = slope[np.isfinite(slope)]
            counted = Ranks(0.0, 90.0)
            counted.add(finite_values.astype("float64"))
            return slope, finite_values, counted

        bands = _in_order(band, _halo_bands(depth, blocks), threads)
        with _BackgroundWrites(writer) as background:
            for block, (slope, finite_values, counted) in zip(blocks, bands, strict=True):
                background.write_rows(block.rows, slope)
                ranks.merge(counted)  # integer counts, min and max: the same in any order
                if keep:
                    kept.append(finite_values)
                del slope, finite_values, counted
    out = writer.raster(scratch=True)
    stats: dict[str, Any] = {"max_slope_deg": None, "median_slope_deg": None}
    if ranks.n:

        def finite() -> Any:
            if keep:
                yield from (v.astype("float64") for v in kept)
                return
            for b in blocks:
                v = out.read_rows(b.rows).astype("float64")
                yield v[np.isfinite(v)]

        lo, hi = ranks.values_at(finite, [(ranks.n - 1) // 2, ranks.n // 2])
        stats = {"max_slope_deg": ranks.max, "median_slope_deg": (lo + hi) / 2.0}
    out.attrs.update(stats)
    return out


SLOPE_THREADS = 2
"""Bands of the slope computed at once (the machine's two cores)."""

_T = TypeVar("_T")
_R = TypeVar("_R")


def _in_order(work: Callable[[_T], _R], items: Iterable[_T], threads: int) -> Iterator[_R]:
    """``work(item)`` of each item, in order, computed ``threads`` at a time ahead of the consumer (at most
    ``threads`` results wait to be taken; the items are taken from ``items`` as work is handed out); serial with
    one thread."""
    if threads <= 1:
        yield from (work(item) for item in items)
        return
    feed = iter(items)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="band") as pool:
        pending: deque[Future[_R]] = deque(pool.submit(work, item) for item in islice(feed, threads))
        while pending:
            done = pending.popleft().result()
            for item in islice(feed, 1):
                pending.append(pool.submit(work, item))
            yield done


def _halo_bands(depth: Raster, blocks: Sequence[Block]) -> Iterator[tuple[Block, np.ndarray]]:
    """Each block with the depth of its ``read`` rows, as :func:`slope_band` takes it (float32 as stored when NaN is
    the only nodata, else float64 with NaN, as :func:`~geodata.grid.valid_values` gives).

    A file is read band by band over the blocks' own rows only, each once, in order, and a block's halo rows are
    taken from its neighbours' bands: reading each block's halo from the file decoded three rows of tiles per band
    (the tile rows above and below hold one halo row each; 1.1 CPU s of the slope's 3.3 at 100 m). Blocks are those
    of :func:`~geodata.grid.row_blocks`: consecutive, with a halo of at most one band's height."""
    plain = nodata_is_nan(depth.nodata)

    def values(raw: np.ndarray) -> np.ndarray:
        return raw if plain and raw.dtype.kind == "f" else valid_values(raw, depth.nodata)

    if not isinstance(depth, LazyRaster) or depth.loaded:  # in memory: the read rows are a view
        for block in blocks:
            yield block, values(raster_read_rows(depth, block.read))
        return
    read: dict[int, np.ndarray] = {}

    def core(k: int) -> np.ndarray:  # each band read once, kept until the band after it has taken its halo
        if k not in read:
            read[k] = depth.read_rows(blocks[k].rows)
        return read[k]

    for k, block in enumerate(blocks):
        above, below = block.rows.start - block.read.start, block.read.stop - block.rows.stop
        parts = [core(k - 1)[-above:]] if above else []
        parts.append(core(k))
        if below:
            parts.append(core(k + 1)[:below])
        read.pop(k - 1, None)
        yield block, values(np.concatenate(parts) if len(parts) > 1 else parts[0])


def stream_land_sea_mask(
    depth: Raster,
    land: Any | None,
    out_path: str | Path,
    *,
    budget_bytes: int,
    all_touched: bool = False,
    align: int = BLOCK_ALIGN,
    band_bytes: int | None = None,
) -> LazyRaster:
    """:func:`~geodata.bathymetry.terrain.land_sea_mask` band by band into the GeoTIFF ``out_path`` (uint8, 1 =
    sea), with the same ``attrs``; ``depth`` is read band by band."""
    grid = depth.grid
    geoms = _land_geometries(land, grid) if land is not None else []
    blocks = row_blocks(grid, bytes_per_cell=24, budget_bytes=band_bytes or band_budget(budget_bytes), align=align)
    n_sea = n_valid = sea_dry = land_wet = sea_nodata = 0
    kept = np.empty(grid.shape, dtype=np.uint8) if _keeps(grid, 1, budget_bytes) else None
    with RasterWriter(out_path, grid, "uint8", nodata=None, compress=INTERMEDIATE_COMPRESS) as writer:
        for block in blocks:
            raw = raster_read_rows(depth, block.read)
            if land is not None and nodata_is_nan(depth.nodata) and raw.dtype in (np.float32, np.float64):
                # the depth only counts here: one compiled pass over the band as stored (numpy's cast to float64
                # and its eight passes took 0.2 CPU-s at 100 m)
                sea = _land_sea_band(grid, block, geoms, all_touched)
                writer.write_rows(block.rows, _kept_band(kept, block.rows, sea.view(np.uint8)))
                counts = np.zeros(5, dtype=np.int64)
                _mask_counts(raw, sea.view(np.uint8), counts)
                n_sea += int(counts[0])
                n_valid += int(counts[1])
                sea_dry += int(counts[2])
                land_wet += int(counts[3])
                sea_nodata += int(counts[4])
                continue
            z = valid_float64(raw, depth.nodata)
            valid = np.isfinite(z)
            with np.errstate(invalid="ignore"):
                wet = valid & (z > 0)
            if land is None:
                sea = wet
            else:
                sea = _land_sea_band(grid, block, geoms, all_touched)
            writer.write_rows(block.rows, _kept_band(kept, block.rows, sea.view(np.uint8)))
            n_sea += int(sea.sum())
            n_valid += int(valid.sum())
            sea_dry += int((sea & valid & ~wet).sum())
            land_wet += int((~sea & wet).sum())
            sea_nodata += int((sea & ~valid).sum())
        writer.attrs = _mask_attrs(grid, land, geoms, all_touched, n_sea, n_valid, sea_dry, land_wet, sea_nodata)
    out = writer.raster("uint8", scratch=True)
    out.kept = kept
    return out


def _land_sea_band(grid: GeoGrid, block: Block, geoms: list[Any], all_touched: bool) -> np.ndarray:
    """The sea (bool, not land) of the block's rows: the land polygons clipped to the band (plus two cells) and
    rasterised on the band's transform; every cell without a polygon."""
    import shapely

    if not geoms:
        return np.ones((block.rows.stop - block.rows.start, grid.shape[1]), dtype=bool)
    dy, dx = grid.res
    band = _band_grid(grid, block.rows)
    left, bottom, right, top = band.bounds
    clip = [shapely.clip_by_rect(g, left - 2 * dx, bottom - 2 * dy, right + 2 * dx, top + 2 * dy) for g in geoms]
    return ~rasterize_land([g for g in clip if not g.is_empty], band, all_touched)


@njit(cache=True, nogil=True)
def _mask_counts(raw: np.ndarray, sea: np.ndarray, counts: np.ndarray) -> None:  # pragma: no cover - compiled
    """Adds a band's sea cells, cells with data, sea cells not below the water (data, depth <= 0), land cells
    below it (depth > 0) and sea cells without data to ``counts``; data is a finite depth."""
    n_sea = n_valid = sea_dry = land_wet = sea_nodata = 0
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            z = np.float64(raw[i, j])
            valid = math.isfinite(z)
            wet = valid and z > 0
            on_sea = sea[i, j] != 0
            n_sea += int(on_sea)
            n_valid += int(valid)
            sea_dry += int(on_sea and valid and not wet)
            land_wet += int(wet and not on_sea)
            sea_nodata += int(on_sea and not valid)
    counts[0] += n_sea
    counts[1] += n_valid
    counts[2] += sea_dry
    counts[3] += land_wet
    counts[4] += sea_nodata


def _mask_attrs(
    grid: GeoGrid,
    land: Any | None,
    geoms: list[Any],
    all_touched: bool,
    n_sea: int,
    n_valid: int,
    sea_dry: int,
    land_wet: int,
    sea_nodata: int,
) -> dict[str, Any]:
    """The ``attrs`` of :func:`~geodata.bathymetry.terrain.land_sea_mask`, from the counts of the bands."""
    total = grid.cell_count
    if land is None:
        return {
            "quantity": "land_sea_mask",
            "legend": {"0": "land", "1": "sea"},
            "method": "depth sign (depth > 0 m below the Caspian surface is sea; nodata is land): no coastline given",
            "sea_fraction": round(n_sea / total, 6),
            "depth_sign_disagreement_fraction": 0.0,
            "warnings": ["no coastline layer: the mask follows the noisy depth sign; give a coastline layer"],
        }
    warnings = [] if geoms else ["no land polygon of the coastline layer reaches the grid: every cell is sea"]
    lb = _layer_bounds_in(land, grid)
    gb = grid.bounds
    if lb is not None and not (lb[0] <= gb[0] and lb[1] <= gb[1] and lb[2] >= gb[2] and lb[3] >= gb[3]):
        warnings.append(
            "the coastline layer does not span the whole grid; cells beyond it are taken as sea unless a land "
            "polygon covers them"
        )
    return {
        "quantity": "land_sea_mask",
        "legend": {"0": "land", "1": "sea"},
        "method": "coastline land polygons rasterised (cell centre inside = land"
        + (", all touched" if all_touched else "")
        + "); "
        + SHELF_NOTE,
        "sea_fraction": round(n_sea / total, 6),
        "sea_cells": n_sea,
        "depth_sign_disagreement_fraction": round((sea_dry + land_wet) / n_valid, 6) if n_valid else 0.0,
        "sea_not_below_water_cells": sea_dry,
        "land_below_water_cells": land_wet,
        "sea_nodata_cells": sea_nodata,
        "warnings": warnings,
    }
