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
