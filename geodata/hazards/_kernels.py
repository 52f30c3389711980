"""Compiled kernel of the hazard rasterisation (numba, cached): the exact soft cost of a class of points."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

HYPOT_EPS = 2.0**-54
"""glibc's ``EPS`` in ``hypot``: below ``ax * EPS`` the smaller argument cannot change the result."""
HYPOT_TINY = 2.0**-459
"""glibc's ``TINY_VAL``: a smaller argument below it is scaled before squaring (left to ``math.hypot`` here)."""
HYPOT_LARGE = 2.0**511
"""glibc's ``LARGE_VAL``: a larger argument above it is scaled before squaring (left to ``math.hypot`` here)."""


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _hypot_common(x: float, y: float) -> tuple[float, bool]:  # pragma: no cover - compiled
    """``math.hypot(x, y)`` for finite ``x, y`` whose larger magnitude is at most :data:`HYPOT_LARGE` and smaller at
    least :data:`HYPOT_TINY`, and whether they lie outside that range (then the value is not hypot's; call
    ``math.hypot``). glibc's algorithm (2.35 and later, ``sysdeps/ieee754/dbl-64/e_hypot.c``: Borges' corrected
    square root, the kernel without fused multiply-adds that x86-64's libm is built with), each operation in its
    order, so the same bits (checked against the library on 1.2 * 10^8 pairs, and the 100 m case's earthquake
    pass is the same array; tests/hazards/test_parallel_kernels.py). Written without branches, so that a loop of
    it vectorises, which the library call does not (it was two thirds of the earthquakes' exact pass). Its caller
    compiles with ``error_model="numpy"`` (``0 / 0`` when both are 0 is a NaN the select leaves out, not an
    exception). Another libm (older glibc, musl, macOS) may round differently: :func:`hypot_is_libm` tells."""
    a, b = abs(x), abs(y)
    ax = b if a < b else a
    ay = a if a < b else b
    h = math.sqrt(ax * ax + ay * ay)
    near = h <= 2.0 * ay
    delta = h - (ay if near else ax)
    t1 = ax * (2.0 * delta - ax) if near else 2.0 * delta * (ax - 2.0 * ay)
    t2 = (delta - 2.0 * (ax - ay)) * delta if near else (4.0 * delta - ay) * ay + delta * delta
    h -= (t1 + t2) / (2.0 * h)
    return (ax + ay if ay <= ax * HYPOT_EPS else h), (ax > HYPOT_LARGE) | (ay < HYPOT_TINY)


@njit(cache=True, nogil=True, error_model="numpy")
def _hypot_sample(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(x.size):
        out[i] = _hypot_common(x[i], y[i])[0]


_HYPOT_CHECK: list[bool] = []


def hypot_is_libm() -> bool:
    """Whether :func:`_hypot_common` gives this process's libm ``hypot`` (what numba's and numpy's ``hypot``
    call) bit for bit on a fixed sample of grid offsets and pairs of every magnitude; checked once per process.
    Else :func:`add_point_soft` is asked to call the library (``vector_hypot=False``), so its numbers are the
    library's on every platform."""
    if not _HYPOT_CHECK:
        rng = np.random.default_rng(20261204)
        n = 4096
        grid = ((rng.integers(0, 5000, n) + 0.5) * 100.0 - rng.uniform(0.0, 5e5, n), rng.uniform(-1e5, 1e5, n))
        wide = (rng.standard_normal(n) * 10.0 ** rng.uniform(-120, 120, n), rng.standard_normal(n) * 1e3)
        close = rng.uniform(1.0, 1e6, n)
        x = np.concatenate([grid[0], wide[0], close])
        y = np.concatenate([grid[1], wide[1], close * (1.0 + rng.uniform(-1e-6, 1e-6, n))])
        ours = np.empty(x.size)
        _hypot_sample(x, y, ours)
        _HYPOT_CHECK.append(bool(np.array_equal(ours.view(np.int64), np.hypot(x, y).view(np.int64))))
    return _HYPOT_CHECK[0]


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def add_point_soft(
    soft: np.ndarray,
    row0: int,
    params: np.ndarray,
    xy: np.ndarray,
    weight: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    c0: np.ndarray,
    c1: np.ndarray,
    which: np.ndarray,
    vector_hypot: bool = True,
) -> None:  # pragma: no cover - compiled
    """Add ``w * exp(-max(d - band, 0) / decay)`` of the points ``which`` (in that order) to the band ``soft``
    (grid rows ``row0 ...``), where the relative level is within the reach factor; ``d`` is the exact distance
    from the cell centre ``(left + (c + 0.5) dx, top - (r + 0.5) dy)`` to the point. ``params`` holds ``left, top,
    dy, dx, band, decay, reach factor``; each point writes rows ``r0:r1`` and columns ``c0:c1`` only, and within
    them only the cells of the disc of its reach are visited (the cells skipped are beyond it by a cell). Rows
    run in parallel, and each row takes the points in order, so every cell sums its terms in the points' order.

    A point's stretch of a row is measured first (``d`` by :func:`_hypot_common`, ``math.hypot``'s bits, in a
    vectorised loop; ``math.hypot`` itself where an offset is out of its common range, e.g. exactly 0, and
    everywhere without ``vector_hypot``: pass :func:`hypot_is_libm`), then its terms are added; ``decay > 0``
    (validated hazard rules)."""
    left, top, dy, dx = params[0], params[1], params[2], params[3]
    band, decay, rf = params[4], params[5], params[6]
    reach = band + rf * decay
    h, width = soft.shape
    for i in prange(h):
        r = row0 + i
        ey = top - (r + 0.5) * dy
        excess = np.empty(width + 2, np.float64)
        for k in which:
            w = weight[k]
            if w <= 0.0 or r < r0[k] or r >= r1[k]:
                continue
            px, py = xy[k, 0], xy[k, 1]
            e_y = ey - py
            if abs(e_y) > reach + dy:
                continue
            half = math.sqrt(max((reach + dx) ** 2 - e_y * e_y, 0.0))
            ca = max(c0[k], math.floor((px - half - left) / dx - 0.5))
            cb = min(c1[k], math.ceil((px + half - left) / dx + 0.5) + 1)
            if cb <= ca:
                continue
            rare = not vector_hypot
            for c in range(ca, cb):
                d, out = _hypot_common((left + (c + 0.5) * dx) - px, e_y)
                excess[c - ca] = max(d - band, 0.0) / decay
                rare |= out
            if rare:  # an offset outside hypot's common range (0, tiny or huge), or another libm: the library's
                for c in range(ca, cb):
                    d = math.hypot((left + (c + 0.5) * dx) - px, e_y)
                    excess[c - ca] = max(d - band, 0.0) / decay
            for c in range(ca, cb):
                e = excess[c - ca]
                if e <= rf:
                    soft[i, c] += w * math.exp(-e)


COLUMN_STRIP = 64
"""Columns of one strip of the parallel column pass (:func:`_column_pass_rows`; a strip's row is 256 bytes of
int32)."""


@njit(cache=True, nogil=True)
def distance_to_cells(feature: np.ndarray, dy: float, dx: float) -> np.ndarray:  # pragma: no cover - compiled
    """Exact Euclidean distance from every cell centre to the nearest ``feature`` cell (inf when there is none), in
    metres with cells ``dy`` by ``dx``: what ``scipy.ndimage.distance_transform_edt(~feature, sampling=(dy, dx))``
    gives, as ``sqrt((rows * dy)**2 + (cols * dx)**2)`` of the offset to the nearest cell, by the two separable
    passes of Felzenszwalb and Huttenlocher (a column sweep, then the lower envelope of parabolas along each row):
    no feature-index arrays, a quarter of scipy's memory and time."""
    h, w = feature.shape
    far = h + w + 1
    g = _column_pass(feature, far)
    out = np.empty((h, w), np.float64)
    v = np.empty(w, np.int64)
    z = np.empty(w + 1, np.float64)
    for r in range(h):
        _row_pass(g[r], far, (dy / dx) ** 2, dy, dx, v, z, out[r])
    return out


@njit(cache=True, nogil=True)
def _column_pass(feature: np.ndarray, far: int) -> np.ndarray:  # pragma: no cover - compiled
    """Rows from each cell to the nearest feature cell of its column (``far`` when the column has none)."""
    h, w = feature.shape
    g = np.empty((h, w), np.int32)
    for c in range(w):
        g[0, c] = 0 if feature[0, c] else far
        for r in range(1, h):
            g[r, c] = 0 if feature[r, c] else min(g[r - 1, c] + 1, far)
        for r in range(h - 2, -1, -1):
            if g[r + 1, c] + 1 < g[r, c]:
                g[r, c] = g[r + 1, c] + 1
    return g


@njit(cache=True, nogil=True, inline="always")
def _envelope(
    g: np.ndarray, far: int, ratio: float, dy: float, limit: float, v: np.ndarray, z: np.ndarray
) -> int:  # pragma: no cover - compiled
    """The lower envelope of the parabolas ``(c - q)**2 + ratio * g[q]**2`` of one row (``v`` their apexes, ``z`` the
    boundaries between them), leaving out the columns without a feature (``g >= far``) and the apexes farther than
    ``limit`` (``g[q] * dy > limit``; ``inf``: none); returns the index of its last parabola (-1: none)."""
    w = g.shape[0]
    k = -1
    for q in range(w):
        if g[q] >= far or g[q] * dy > limit:
            continue
        fq = g[q] * g[q] * ratio + q * q
        s = -np.inf
        while k >= 0:
            p = v[k]
            s = (fq - (g[p] * g[p] * ratio + p * p)) / (2.0 * (q - p))
            if s > z[k]:
                break
            k -= 1
        if k < 0:
            s = -np.inf
        k += 1
        v[k] = q
        z[k] = s
        z[k + 1] = np.inf
    return k


@njit(cache=True, nogil=True)
def _row_pass(
    g: np.ndarray, far: int, ratio: float, dy: float, dx: float, v: np.ndarray, z: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """One row of :func:`distance_to_cells`: the lower envelope of the parabolas ``(c - q)**2 + ratio * g[q]**2``
    (``v`` their apexes, ``z`` the boundaries between them), then each cell's distance to its envelope's apex."""
    w = g.shape[0]
    k = _envelope(g, far, ratio, dy, math.inf, v, z)
    if k < 0:
        out[:] = np.inf
        return
    j = 0
    for c in range(w):
        while z[j + 1] < c:
            j += 1
        a = g[v[j]] * dy
        b = (c - v[j]) * dx
        out[c] = math.sqrt(a * a + b * b)


@njit(cache=True, nogil=True)
def _row_pass_near(
    g: np.ndarray,
    far: int,
    ratio: float,
    dy: float,
    dx: float,
    v: np.ndarray,
    z: np.ndarray,
    out: np.ndarray,
    c_lo: int,
    c_hi: int,
    limit: float,
) -> None:  # pragma: no cover - compiled
    """:func:`_row_pass` for the columns ``c_lo:c_hi`` and the distances up to ``limit`` only: ``out[c]`` is the
    same number wherever the distance is at most ``limit``, and at least ``limit`` (inf) elsewhere.

    A parabola whose apex lies more than ``limit`` away (``g[q] * dy > limit``) is left out of the envelope: it is
    the nearest only where the distance exceeds ``limit``. Where it is not, the nearest parabola is in the envelope
    either way and is picked by the same boundaries (those between two parabolas of the envelope are computed by the
    same expression), so its distance is the same expression of the same numbers. Within each parabola's stretch of
    the envelope only the columns within ``limit`` of its apex (plus a cell) are measured; the rest are inf."""
    k = _envelope(g, far, ratio, dy, limit, v, z)
    out[c_lo:c_hi] = np.inf
    for j in range(k + 1):
        # the columns _row_pass gives to parabola j: the first j whose z[j + 1] >= c, i.e. z[j] < c <= z[j + 1]
        lo = float(c_lo) if j == 0 else max(float(c_lo), np.floor(z[j]) + 1.0)
        hi = min(float(c_hi - 1), np.floor(z[j + 1]))  # z[k + 1] is inf
        a = g[v[j]] * dy
        half = math.sqrt(max(limit * limit - a * a, 0.0)) / dx + 1.0
        lo = max(lo, np.floor(v[j] - half))
        hi = min(hi, np.ceil(v[j] + half))
        for c in range(int(lo), int(hi) + 1):
            b = (c - v[j]) * dx
            out[c] = math.sqrt(a * a + b * b)


@njit(cache=True, nogil=True, parallel=True)
def kept_excess(
    feature: np.ndarray,
    dy: float,
    dx: float,
    rows: tuple[int, int],
    cols: tuple[int, int],
    band: float,
    decay: float,
    rf: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The cells of ``feature``'s window rows ``rows[0]:rows[1]`` and columns ``cols[0]:cols[1]`` whose relative
    level ``excess = max(d - band, 0) / decay`` is within the reach factor ``rf`` (``d`` the distance of
    :func:`distance_to_cells`, the same bits), as flat indices into that sub-window (row-major, ascending) and
    their excesses: what ``_soft_contribution`` keeps, without the window's distance array. The column pass reads
    the whole window but writes the rows asked for only (:func:`_column_pass_rows`), the row pass runs over those
    rows only; both are parallel."""
    h, w = feature.shape
    far = h + w + 1
    r_lo, r_hi = rows
    g = _column_pass_rows(feature, far, r_lo, r_hi)
    c_lo, c_hi = cols
    n_r, n_c = r_hi - r_lo, c_hi - c_lo
    ex = np.empty((n_r, n_c), np.float64)
    at = np.empty((n_r, n_c), np.int32)
    count = np.zeros(n_r, np.int64)
    ratio = (dy / dx) ** 2
    # only distances up to the reach are kept: the row pass measures no farther (two cells of slack, so that a
    # distance the exact test keeps is never left out by round-off)
    limit = band + rf * decay + 2.0 * max(dx, dy)
    for i in prange(n_r):
        v = np.empty(w, np.int64)
        z = np.empty(w + 1, np.float64)
        out = np.empty(w, np.float64)
        _row_pass_near(g[i], far, ratio, dy, dx, v, z, out, c_lo, c_hi, limit)
        n = 0
        for c in range(c_lo, c_hi):
            e = max(out[c] - band, 0.0) / decay
            if e <= rf:
                ex[i, n] = e
                at[i, n] = c - c_lo
                n += 1
        count[i] = n
    starts = np.zeros(n_r + 1, np.int64)
    for i in range(n_r):
        starts[i + 1] = starts[i] + count[i]
    index = np.empty(starts[n_r], np.int64)
    excess = np.empty(starts[n_r], np.float64)
    for i in prange(n_r):
        s = starts[i]
        for j in range(count[i]):
            index[s + j] = i * n_c + at[i, j]
            excess[s + j] = ex[i, j]
    return index, excess


@njit(cache=True, nogil=True, parallel=True)
def _column_pass_rows(feature: np.ndarray, far: int, r_lo: int, r_hi: int) -> np.ndarray:  # pragma: no cover
    """Rows ``r_lo:r_hi`` of :func:`_column_pass` (the same integers): per column, the rows to the nearest feature
    cell at or above (the last one seen going down) and at or below (the first one seen going up), ``far`` when the
    column has none. The rows beyond ``r_lo:r_hi`` (a line's halo) are only scanned for their feature cells, never
    written: the band's halo costs a read of its bytes, not two sweeps of an int32 window. Strips of
    :data:`COLUMN_STRIP` columns in parallel, each swept row by row (branch-free, so the sweeps vectorise)."""
    h, w = feature.shape
    n = r_hi - r_lo
    g = np.empty((n, w), np.int32)
    n_strips = (w + COLUMN_STRIP - 1) // COLUMN_STRIP
    none = np.int32(-(h + w + 2))  # a row so far above that r - none > far: no feature yet
    for s in prange(n_strips):
        a, b = s * COLUMN_STRIP, min((s + 1) * COLUMN_STRIP, w)
        k = b - a
        mark = np.full(k, none, np.int32)  # the last feature row at or above (going down)
        for r in range(r_lo):
            row = feature[r, a:b]
            for j in range(k):
                mark[j] = np.int32(r) if row[j] else mark[j]
        for r in range(r_lo, r_hi):
            row = feature[r, a:b]
            out = g[r - r_lo, a:b]
            for j in range(k):
                m = np.int32(r) if row[j] else mark[j]
                mark[j] = m
                out[j] = min(np.int32(r) - m, np.int32(far))
        below = np.int32(2 * (h + w + 2))  # a row so far below that below - r > far: no feature yet
        mark[:] = below  # the first feature row at or below (going up)
        for r in range(h - 1, r_hi - 1, -1):
            row = feature[r, a:b]
            for j in range(k):
                mark[j] = np.int32(r) if row[j] else mark[j]
        for r in range(r_hi - 1, r_lo - 1, -1):
            row = feature[r, a:b]
            out = g[r - r_lo, a:b]
            for j in range(k):
                m = np.int32(r) if row[j] else mark[j]
                mark[j] = m
                out[j] = min(out[j], m - np.int32(r))
    return g


@njit(cache=True, nogil=True)
def scatter_add(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:  # pragma: no cover - compiled
    """``target.flat[index] += values`` on a 2-D (possibly strided) array, ``index`` row-major and unique. The row
    is divided out only when an index lands beyond the row of the one before or the next (a division per value was
    most of the time)."""
    w = target.shape[1]
    row, start = 0, 0
    for j in range(index.size):
        k = index[j]
        if k >= start + w and k < start + 2 * w:  # the next row (ascending indices): no division
            row += 1
            start += w
        elif k >= start + w or k < start:
            row = k // w
            start = row * w
        target[row, k - start] += values[j]
