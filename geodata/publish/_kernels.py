"""Compiled kernels of the GeoPackage coverages: the values a coverage stores and its overview levels, one pass over a
band each, without the temporary arrays of the numpy expressions (GIL released, so they run beside the tiles)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def coverage_band(
    values: np.ndarray, nodata: float, has_nodata: bool, out_nodata: float
) -> tuple[np.ndarray, int]:  # pragma: no cover (compiled)
    """``values`` (2-D) as float32 with cells without data (NaN, or ``nodata`` when ``has_nodata``) set to
    ``out_nodata``, +inf to the largest and -inf to the smallest finite float32; and how many cells with data hold
    ``out_nodata`` (a value that would read back as no data)."""
    rows, cols = values.shape
    out = np.empty((rows, cols), dtype=np.float32)
    big = np.float32(3.4028234663852886e38)
    clashes = np.zeros(rows, dtype=np.int64)
    for i in prange(rows):
        n = 0
        for j in range(cols):
            v = values[i, j]
            if v != v or (has_nodata and v == nodata):
                out[i, j] = out_nodata
            elif v == np.inf:
                out[i, j] = big
            elif v == -np.inf:
                out[i, j] = -big
            else:
                f = np.float32(v)
                if f == out_nodata:
                    n += 1
                out[i, j] = f
        clashes[i] = n
    return out, int(clashes.sum())


@njit(cache=True, nogil=True, parallel=True)
def mean2x2(level: np.ndarray, nodata: float) -> np.ndarray:  # pragma: no cover (compiled)
    """The next overview level of ``level`` (float32, 2-D): each cell the mean (accumulated in float64) of the cells
    other than ``nodata`` among the 2 x 2 cells it covers, ``nodata`` when none is; an odd last row or column is
    covered by cells of one row or column."""
    rows, cols = level.shape
    out_rows, out_cols = (rows + 1) // 2, (cols + 1) // 2
    out = np.empty((out_rows, out_cols), dtype=np.float32)
    for i in prange(out_rows):
        r1 = min(2 * i + 1, rows - 1)
        for j in range(out_cols):
            c1 = min(2 * j + 1, cols - 1)
            total = 0.0
            count = 0
            for r in range(2 * i, r1 + 1):
                for c in range(2 * j, c1 + 1):
                    v = level[r, c]
                    if v != nodata:
                        total += v
                        count += 1
            out[i, j] = np.float32(total / count) if count else np.float32(nodata)
    return out


@njit(cache=True, nogil=True, parallel=True)
def reconciled_band(
    z: np.ndarray, z_nodata: float, z_has_nodata: bool, sea: np.ndarray, sea_nodata: float, sea_has_nodata: bool
) -> tuple[np.ndarray, int, int]:  # pragma: no cover (compiled)
    """The depth band ``z`` as published beside the sea mask band ``sea`` (1 = sea): float32, NaN where the depth
    has no data (not finite, or ``z_nodata``) and where the mask and the depth's sign disagree -- land (mask not 1,
    or without data) with a positive depth, sea with a negative one; and the cells blanked of each kind."""
    rows, cols = z.shape
    out = np.empty((rows, cols), dtype=np.float32)
    wet = np.zeros(rows, dtype=np.int64)
    dry = np.zeros(rows, dtype=np.int64)
    for i in prange(rows):
        for j in range(cols):
            raw = z[i, j]
            v = np.float32(raw)
            s = sea[i, j]
            is_sea = s == 1
            if sea_has_nodata and s == sea_nodata:
                is_sea = False
            if not np.isfinite(v) or (z_has_nodata and raw == z_nodata):
                out[i, j] = np.nan
            elif not is_sea and v > 0:
                out[i, j] = np.nan
                wet[i] += 1
            elif is_sea and v < 0:
                out[i, j] = np.nan
                dry[i] += 1
            else:
                out[i, j] = v
    return out, int(wet.sum()), int(dry.sum())


@njit(cache=True, nogil=True, parallel=True)
def tile_plan(
    band: np.ndarray, nodata: float, size: int, raw_repeats: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """How each ``size`` x ``size`` tile of ``band`` (float32 coverage values, 2-D; edge tiles padded with ``nodata``)
    is stored: 0 = not at all (no cell with data), 1 = an LZW TIFF (more than ``raw_repeats`` cells equal to their
    left neighbour in the padded tile: runs LZW shortens), 2 = an uncompressed TIFF; and each tile's min, max, mean
    and standard deviation of the cells with data, computed as GDAL's GeoPackage driver does (Welford's update in
    float64, cells in row order) for ``gpkg_2d_gridded_tile_ancillary``. Tiles are numbered row by row."""
    rows, cols = band.shape
    down = (rows + size - 1) // size
    across = (cols + size - 1) // size
    kind = np.zeros(down * across, dtype=np.int8)
    stats = np.zeros((down * across, 4), dtype=np.float64)
    fill = np.float32(nodata)
    for t in prange(down * across):
        r0 = (t // across) * size
        c0 = (t % across) * size
        r1 = min(r0 + size, rows)
        c1 = min(c0 + size, cols)
        repeats = 0
        n = 0
        mean = 0.0
        m2 = 0.0
        lo = np.float32(0.0)
        hi = np.float32(0.0)
        for r in range(r0, r0 + size):
            prev = fill
            for c in range(c0, c0 + size):
                v = band[r, c] if r < r1 and c < c1 else fill
                if c > c0 and v == prev:
                    repeats += 1
                prev = v
                if v == fill:
                    continue
                if n == 0:
                    lo = v
                    hi = v
                else:
                    lo = min(lo, v)
                    hi = max(hi, v)
                n += 1
                delta = np.float64(v) - mean
                mean += delta / n
                m2 += delta * (np.float64(v) - mean)
        if n == 0:
            continue
        kind[t] = 1 if repeats > raw_repeats else 2
        stats[t, 0] = lo
        stats[t, 1] = hi
        stats[t, 2] = mean
        stats[t, 3] = np.sqrt(m2 / n)
    return kind, stats
