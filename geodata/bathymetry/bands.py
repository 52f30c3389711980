"""Statistics of rasters too large to hold twice, gathered band by band: the bands of a raster in memory or on disk
(:class:`~geodata.grid.LazyRaster`), exact order statistics (median, percentiles) in a few passes of bounded memory,
and the per-cell source index of a mosaic read band by band from its zlib stream."""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from numba import njit

from geodata.grid import BLOCK_ALIGN, Block, GeoGrid, Raster, nodata_is_nan, raster_read_rows, row_blocks, valid_values

__all__ = [
    "CHECK_BAND_BYTES",
    "Ranks",
    "blocks_of",
    "order_statistics",
    "percentiles",
    "raster_stats",
    "source_index_bands",
]

CHECK_BAND_BYTES = 64 * 1024**2
"""Working memory of one band of a check or a summary (they keep a few arrays of a band at a time)."""


CHECK_ALIGN = BLOCK_ALIGN
"""Band heights of the checks are multiples of this (tests lower it, and the band bytes, to cut small grids)."""


def blocks_of(grid: GeoGrid, bytes_per_cell: float = 32) -> list[Block]:
    """Bands of :data:`CHECK_BAND_BYTES` for a check or summary over ``grid``."""
    return row_blocks(grid, bytes_per_cell=bytes_per_cell, budget_bytes=CHECK_BAND_BYTES, align=CHECK_ALIGN)


def rows_of(raster: Raster, block: Block) -> np.ndarray:
    return raster_read_rows(raster, block.rows)


def valid_float64(data: np.ndarray, nodata: float | int | None) -> np.ndarray:
    """:func:`~geodata.grid.valid_values` (float64, NaN where no data), in one compiled pass for a float band
    whose only nodata is NaN (the depth grid; numpy's cast, test and masked assignment take three, and the checks
    make a dozen passes); other bands as :func:`~geodata.grid.valid_values` gives them."""
    if not nodata_is_nan(nodata) or data.dtype not in (np.float32, np.float64) or data.ndim != 2:
        return valid_values(data, nodata)
    out = np.empty(data.shape, dtype=np.float64)
    _finite_float64(data, out)
    return out


@njit(cache=True, nogil=True)
def _finite_float64(data: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            x = np.float64(data[i, j])
            out[i, j] = x if math.isfinite(x) else np.nan


HIST_BINS = 1 << 16


class Ranks:
    """Histogram of values known to lie in ``lo..hi`` (:data:`HIST_BINS` bins), filled array by array (``add``),
    from which :meth:`values_at` finds exact order statistics in one more pass over the values."""

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = float(lo), float(hi)
        self.counts = np.zeros(HIST_BINS, dtype=np.int64)
        self.n, self.min, self.max = 0, math.inf, -math.inf

    def _bins(self, v: np.ndarray) -> np.ndarray:
        span = self.hi - self.lo
        scaled = (v - self.lo) / span * HIST_BINS if span > 0 else np.zeros(v.shape)
        return np.clip(scaled.astype(np.int64), 0, HIST_BINS - 1)

    def _compiled(self, v: np.ndarray) -> bool:
        """Whether the compiled kernels bin ``v`` (float64, a positive span): the same bins as :meth:`_bins`."""
        return v.dtype == np.float64 and self.hi - self.lo > 0

    def add(self, v: np.ndarray) -> None:
        if v.size:
            if self._compiled(v):
                _count_bins(v.ravel(), self.lo, self.hi - self.lo, self.counts)
            else:
                self.counts += np.bincount(self._bins(v), minlength=HIST_BINS)
            self.n += v.size
            self.min, self.max = min(self.min, float(v.min())), max(self.max, float(v.max()))

    def merge(self, other: Ranks) -> None:
        """Add the values another :class:`Ranks` of the same range counted (as if added here)."""
        if (other.lo, other.hi) != (self.lo, self.hi):
            raise ValueError(f"cannot merge ranks of {other.lo}..{other.hi} into {self.lo}..{self.hi}")
        if other.n:
            self.counts += other.counts
            self.n += other.n
            self.min, self.max = min(self.min, other.min), max(self.max, other.max)

    def values_at(self, values: Callable[[], Iterable[np.ndarray]], ranks: list[int]) -> list[float]:
        """The values of 0-based ``ranks`` in the sorted sequence of what ``values()`` yields (the values added)."""
        if any(not 0 <= k < self.n for k in ranks):
            raise ValueError(f"ranks {ranks} outside 0..{self.n - 1}")
        if self.min == self.max:
            return [self.min for _ in ranks]
        cum = np.cumsum(self.counts)
        bins = [int(np.searchsorted(cum, k, side="right")) for k in ranks]
        wanted = sorted(set(bins))
        picked: dict[int, list[np.ndarray]] = {b: [] for b in wanted}
        for v in values():
            if self._compiled(v) and len(wanted) < 128:
                found, which = _in_bins(v.ravel(), self.lo, self.hi - self.lo, np.array(wanted, dtype=np.int64))
                for j, b in enumerate(wanted):
                    picked[b].append(found[which == j])
                continue
            idx = self._bins(v)
            for b in wanted:
                picked[b].append(v[idx == b])
        out = []
        for k, b in zip(ranks, bins, strict=True):
            inside = np.sort(np.concatenate(picked[b]))
            before = int(cum[b - 1]) if b > 0 else 0
            out.append(float(inside[k - before]))
        return out


@njit(cache=True, nogil=True)
def _bin_of(x: float, lo: float, span: float) -> int:  # pragma: no cover - compiled
    """The bin of :meth:`Ranks._bins`: ``clip(int64((x - lo) / span * HIST_BINS), 0, HIST_BINS - 1)`` (the same
    float64 operations; NaN and values below ``lo`` in bin 0, as numpy's cast and clip put them on x86)."""
    scaled = (x - lo) / span * HIST_BINS
    if not scaled >= 1.0:
        return 0
    if scaled >= HIST_BINS - 1:
        return HIST_BINS - 1
    return int(scaled)


@njit(cache=True, nogil=True)
def _count_bins(v: np.ndarray, lo: float, span: float, counts: np.ndarray) -> None:  # pragma: no cover - compiled
    """``counts += bincount(bins of v)`` in one pass, without the temporaries."""
    for i in range(v.size):
        counts[_bin_of(v[i], lo, span)] += 1


@njit(cache=True, nogil=True)
def _in_bins(
    v: np.ndarray, lo: float, span: float, bins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The values of ``v`` in any of the ``bins`` (at most 127), in order, and the position in ``bins`` of each
    one's bin: ``v[bins_of_v == bins[j]]`` is ``values[which == j]``."""
    slot = np.full(HIST_BINS, -1, np.int8)  # bin -> its first position in ``bins``: one look-up per value
    for j in range(bins.size - 1, -1, -1):
        slot[bins[j]] = j
    at = np.empty(v.size, np.int8)
    n = 0
    for i in range(v.size):
        at[i] = slot[_bin_of(v[i], lo, span)]
        if at[i] >= 0:
            n += 1
    values = np.empty(n, v.dtype)
    which = np.empty(n, np.int8)
    k = 0
    for i in range(v.size):
        if at[i] >= 0:
            values[k] = v[i]
            which[k] = at[i]
            k += 1
    return values, which


def order_statistics(
    values: Callable[[], Iterable[np.ndarray]], ranks: list[int], *, bounds: tuple[float, float] | None = None
) -> list[float]:
    """The values of 0-based ``ranks`` in the sorted sequence of every value ``values()`` yields (finite values,
    any number of arrays), in three passes that each hold one array and a histogram: range (skipped when
    ``bounds``, the values' min and max, are known), histogram (:class:`Ranks`), then only the values in the bins
    holding the ranks."""
    lo, hi = bounds if bounds is not None else (math.inf, -math.inf)
    for v in values() if bounds is None else ():
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    ranks_of = Ranks(lo, hi) if math.isfinite(lo) else Ranks(0.0, 0.0)
    for v in values():
        ranks_of.add(v)
    return ranks_of.values_at(values, ranks)


def percentiles(
    values: Callable[[], Iterable[np.ndarray]],
    n: int,
    qs: Iterable[float],
    *,
    bounds: tuple[float, float] | None = None,
) -> list[float]:
    """``np.percentile(all values, qs)`` (linear interpolation) of the ``n`` values ``values()`` yields, exactly,
    from their order statistics (``bounds``: their min and max when known)."""
    qs = list(qs)
    pos = [q / 100.0 * (n - 1) for q in qs]
    ranks = sorted({math.floor(p) for p in pos} | {math.ceil(p) for p in pos})
    stat = dict(zip(ranks, order_statistics(values, ranks, bounds=bounds), strict=True))
    out = []
    for p in pos:
        a, b = stat[math.floor(p)], stat[math.ceil(p)]
        t = p - math.floor(p)
        out.append(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))
    return out


def raster_stats(raster: Raster) -> dict[str, Any]:
    """Count, min, max and median of a raster's valid cells, band by band (None where there is none)."""
    blocks = blocks_of(raster.grid)

    def finite() -> Iterator[np.ndarray]:
        for b in blocks:
            v = valid_values(rows_of(raster, b), raster.nodata)
            yield v[np.isfinite(v)]

    n = sum(v.size for v in finite())
    if n == 0:
        return {"count": 0, "min": None, "max": None, "median": None}
    lo_hi = order_statistics(finite, [0, n - 1, (n - 1) // 2, n // 2])
    return {"count": n, "min": lo_hi[0], "max": lo_hi[1], "median": (lo_hi[2] + lo_hi[3]) / 2.0}


def source_index_bands(depth: Raster, blocks: list[Block]) -> Iterator[np.ndarray] | None:
    """The per-cell source index of a mosaic (:func:`~geodata.bathymetry.mosaic.source_index_of`) band by band,
    decompressing its zlib stream as the bands go; ``blocks`` must be consecutive from row 0. None when the raster
    does not carry it (a single-source raster without it: all 0 where valid)."""
    enc = depth.attrs.get("source_index")
    cols = depth.grid.shape[1]
    if isinstance(enc, dict) and enc.get("encoding") == "zlib+base64":
        raw = base64.b64decode(enc["data"])
        dtype = np.dtype(enc.get("dtype", "<i2"))

        def gen() -> Iterator[np.ndarray]:
            unpack = zlib.decompressobj()
            pieces = (raw[i : i + (1 << 20)] for i in range(0, len(raw), 1 << 20))
            buf = bytearray()
            for b in blocks:
                need = b.height * cols * dtype.itemsize
                while len(buf) < need:
                    data = unpack.unconsumed_tail or next(pieces, None)
                    if data is None:
                        raise ValueError("the source index of the depth raster is shorter than its grid")
                    buf += unpack.decompress(data, need - len(buf))
                yield np.frombuffer(bytes(buf[:need]), dtype=dtype).reshape(b.height, cols).astype("int16")
                del buf[:need]

        return gen()
    if len(depth.attrs.get("sources", [])) == 1:
        return (
            np.where(np.isfinite(valid_values(rows_of(depth, b), depth.nodata)), 0, -1).astype("int16") for b in blocks
        )
    return None
