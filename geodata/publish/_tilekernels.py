"""Compiled kernels of the raster tiles (:mod:`geodata.publish.tiles`): painting a band of values into RGBA with a
colour lookup table (and the hillshade of the bathymetry), warping the painted band to the web-mercator pixels of a
tile pyramid, the alpha-weighted 2 x 2 mean of a pyramid level, and the PNG filter of a tile.

Every kernel is a pure function of its inputs, pixel by pixel (no reduction across threads except the hillshade's
min/max, which is order-independent), so the output is the same on any number of threads and for any band split.
The arithmetic of :func:`paint_ramp` and :func:`paint_bathymetry` repeats numpy's and matplotlib's operation by
operation (``np.gradient``, ``LightSource.hillshade`` before its stretch, ``Colormap.__call__`` with ``bytes=True``),
so a rendering equals the former numpy one bit for bit."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# -- painting -----------------------------------------------------------------------------------------------------

MODE_COST = 0  # valid (finite, not nodata) -> ramp at ``alpha``; +inf -> grey (60, 60, 60, 150); else transparent
MODE_SHARE = 1  # valid and > 0 -> ramp at ``alpha``; else transparent (the colour of 0)


@nb.njit(cache=True, nogil=True, inline="always")
def _valid(v: float, nodata: float, has_nodata: bool) -> bool:
    return math.isfinite(v) and not (has_nodata and v == nodata)


@nb.njit(cache=True, nogil=True, inline="always")
def _lut_index(x: float, lo: float, hi: float, n: int) -> int:
    """matplotlib's index of ``clip((x - lo) / (hi - lo), 0, 1)`` in an ``n``-entry colormap."""
    t = (x - lo) / (hi - lo)
    t = min(max(t, 0.0), 1.0)
    t = t * n
    if t == n:
        t = n - 1
    return int(t)


@nb.njit(cache=True, nogil=True, parallel=True)
def paint_ramp(
    values: np.ndarray,
    r0: int,
    r1: int,
    lut: np.ndarray,
    lo: float,
    hi: float,
    nodata: float,
    has_nodata: bool,
    mode: int,
    alpha: int,
) -> np.ndarray:
    """Rows ``r0:r1`` of ``values`` as RGBA (rows, cols, 4) uint8 on the colour table ``lut`` (n, 3) over lo..hi."""
    rows, cols = r1 - r0, values.shape[1]
    n = lut.shape[0]
    out = np.empty((rows, cols, 4), dtype=np.uint8)
    for i in nb.prange(rows):
        for j in range(cols):
            v = np.float64(values[r0 + i, j])
            ok = _valid(v, nodata, has_nodata)
            if mode == MODE_COST:
                k = _lut_index(v if ok else lo, lo, hi, n)
                a = alpha if ok else 0
                if v == np.inf:
                    out[i, j, 0] = 60
                    out[i, j, 1] = 60
                    out[i, j, 2] = 60
                    out[i, j, 3] = 150
                    continue
            else:
                k = _lut_index(v if ok else 0.0, lo, hi, n)
                a = alpha if (ok and v > 0) else 0
            out[i, j, 0] = lut[k, 0]
            out[i, j, 1] = lut[k, 1]
            out[i, j, 2] = lut[k, 2]
            out[i, j, 3] = a
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _filled(values: np.ndarray, i: int, j: int, sign: float, fill: float, nodata: float, has_nodata: bool) -> float:
    v = np.float64(values[i, j])
    return sign * v if _valid(v, nodata, has_nodata) else fill


@nb.njit(cache=True, nogil=True)
def _intensity(
    values: np.ndarray,
    i: int,
    j: int,
    sign: float,
    fill: float,
    nodata: float,
    has_nodata: bool,
    vert_exag: float,
    dx: float,
    dy: float,
    light: np.ndarray,
) -> float:
    """matplotlib's ``LightSource.hillshade`` before its stretch, at cell (i, j) of ``values`` (elevation = -depth,
    gradients as ``np.gradient(vert_exag * elevation, -dy, dx)``: central inside, one-sided at the array's edges)."""
    rows, cols = values.shape
    if rows > 1:
        if i == 0:
            up = vert_exag * -_filled(values, 1, j, sign, fill, nodata, has_nodata)
            here = vert_exag * -_filled(values, 0, j, sign, fill, nodata, has_nodata)
            e_dy = (up - here) / -dy
        elif i == rows - 1:
            here = vert_exag * -_filled(values, i, j, sign, fill, nodata, has_nodata)
            down = vert_exag * -_filled(values, i - 1, j, sign, fill, nodata, has_nodata)
            e_dy = (here - down) / -dy
        else:
            up = vert_exag * -_filled(values, i + 1, j, sign, fill, nodata, has_nodata)
            down = vert_exag * -_filled(values, i - 1, j, sign, fill, nodata, has_nodata)
            e_dy = (up - down) / (2.0 * -dy)
    else:
        e_dy = 0.0
    if cols > 1:
        if j == 0:
            e_dx = (
                vert_exag * -_filled(values, i, 1, sign, fill, nodata, has_nodata)
                - vert_exag * -_filled(values, i, 0, sign, fill, nodata, has_nodata)
            ) / dx
        elif j == cols - 1:
            e_dx = (
                vert_exag * -_filled(values, i, j, sign, fill, nodata, has_nodata)
                - vert_exag * -_filled(values, i, j - 1, sign, fill, nodata, has_nodata)
            ) / dx
        else:
            e_dx = (
                vert_exag * -_filled(values, i, j + 1, sign, fill, nodata, has_nodata)
                - vert_exag * -_filled(values, i, j - 1, sign, fill, nodata, has_nodata)
            ) / (2.0 * dx)
    else:
        e_dx = 0.0
    norm = math.sqrt(e_dx * e_dx + e_dy * e_dy + 1.0)
    return (-e_dx * light[0] - e_dy * light[1] + light[2]) / norm


@nb.njit(cache=True, nogil=True, parallel=True)
def intensity_range(
    values: np.ndarray,
    r0: int,
    r1: int,
    sign: float,
    fill: float,
    nodata: float,
    has_nodata: bool,
    vert_exag: float,
    dx: float,
    dy: float,
    light: np.ndarray,
) -> tuple[float, float]:
    """Min and max of the hillshade intensity over rows ``r0:r1`` of ``values`` (the other rows: the halo)."""
    rows = r1 - r0
    lo = np.full(rows, np.inf)
    hi = np.full(rows, -np.inf)
    for i in nb.prange(rows):
        a, b = np.inf, -np.inf
        for j in range(values.shape[1]):
            s = _intensity(values, r0 + i, j, sign, fill, nodata, has_nodata, vert_exag, dx, dy, light)
            a = min(a, s)
            b = max(b, s)
        lo[i] = a
        hi[i] = b
    return lo.min(), hi.max()


@nb.njit(cache=True, nogil=True, parallel=True)
def paint_bathymetry(
    values: np.ndarray,
    r0: int,
    r1: int,
    lut: np.ndarray,
    lo: float,
    hi: float,
    sign: float,
    fill: float,
    nodata: float,
    has_nodata: bool,
    vert_exag: float,
    dx: float,
    dy: float,
    light: np.ndarray,
    imin: float,
    imax: float,
) -> np.ndarray:
    """Rows ``r0:r1`` of ``values`` (depths, the gaps filled with ``fill``) on the colour table ``lut`` under the
    hillshade stretched over imin..imax: ``rgb * (0.55 + 0.6 * shade)`` in float32, rounded; cells without data
    transparent."""
    rows, cols = r1 - r0, values.shape[1]
    n = lut.shape[0]
    out = np.empty((rows, cols, 4), dtype=np.uint8)
    stretch = imax - imin > 1e-6
    base, gain = np.float32(0.55), np.float32(0.6)
    for i in nb.prange(rows):
        for j in range(cols):
            v = np.float64(values[r0 + i, j])
            d = sign * v if _valid(v, nodata, has_nodata) else fill
            s = _intensity(values, r0 + i, j, sign, fill, nodata, has_nodata, vert_exag, dx, dy, light)
            if stretch:
                s = (s - imin) / (imax - imin)
            s = min(max(s, 0.0), 1.0)
            f = base + gain * np.float32(s)
            k = _lut_index(d, lo, hi, n)
            for c in range(3):
                lit = np.float32(lut[k, c]) * f
                lit = min(max(lit, np.float32(0.0)), np.float32(255.0))
                out[i, j, c] = np.uint8(np.rint(lit))
            out[i, j, 3] = 255 if _valid(v, nodata, has_nodata) else 0
    return out


# -- warping ------------------------------------------------------------------------------------------------------


@nb.njit(cache=True, nogil=True, parallel=True)
def warp_band(
    rgba: np.ndarray,
    src_row0: int,
    src_height: int,
    mesh: np.ndarray,
    step: int,
    lead_r: int,
    lead_c: int,
    r0: int,
    r1: int,
    width: int,
) -> np.ndarray:
    """Rows ``r0:r1`` (of ``width`` pixels) of a pyramid's top level from the painted source band ``rgba`` (its rows
    ``src_row0 ..`` of a source grid ``src_height`` rows high): each pixel's source position (col, row in pixel units,
    cell i spanning [i, i+1)) is the bilinear interpolation of the ``mesh`` nodes (exact positions of the pixels
    ``(a * step - lead_r, b * step - lead_c)``); its colour the bilinear mean of the four nearest cells weighted by
    their alpha (a transparent cell lends no colour: no fringe), its alpha the bilinear mean of theirs. Pixels whose
    centre falls off the source grid are transparent."""
    src_cols = rgba.shape[1]
    out = np.zeros((r1 - r0, width, 4), dtype=np.uint8)
    for ii in nb.prange(r1 - r0):
        r = r0 + ii + lead_r
        a = r // step
        fa = (r - a * step) / step
        for c in range(width):
            b = (c + lead_c) // step
            fb = (c + lead_c - b * step) / step
            u = (1 - fa) * ((1 - fb) * mesh[a, b, 0] + fb * mesh[a, b + 1, 0]) + fa * (
                (1 - fb) * mesh[a + 1, b, 0] + fb * mesh[a + 1, b + 1, 0]
            )
            v = (1 - fa) * ((1 - fb) * mesh[a, b, 1] + fb * mesh[a, b + 1, 1]) + fa * (
                (1 - fb) * mesh[a + 1, b, 1] + fb * mesh[a + 1, b + 1, 1]
            )
            if not (u >= 0.0 and u < src_cols and v >= 0.0 and v < src_height):
                continue
            x = u - 0.5
            y = v - 0.5
            x0 = math.floor(x)
            y0 = math.floor(y)
            fx = x - x0
            fy = y - y0
            xa = min(max(x0, 0), src_cols - 1)
            xb = min(max(x0 + 1, 0), src_cols - 1)
            ya = min(max(y0, 0), src_height - 1) - src_row0
            yb = min(max(y0 + 1, 0), src_height - 1) - src_row0
            w00 = (1 - fx) * (1 - fy) * rgba[ya, xa, 3]
            w01 = fx * (1 - fy) * rgba[ya, xb, 3]
            w10 = (1 - fx) * fy * rgba[yb, xa, 3]
            w11 = fx * fy * rgba[yb, xb, 3]
            alpha = w00 + w01 + w10 + w11
            if alpha <= 0.0:
                continue
            for ch in range(3):
                col = (
                    w00 * rgba[ya, xa, ch] + w01 * rgba[ya, xb, ch] + w10 * rgba[yb, xa, ch] + w11 * rgba[yb, xb, ch]
                ) / alpha
                out[ii, c, ch] = np.uint8(min(math.floor(col + 0.5), 255.0))
            out[ii, c, 3] = np.uint8(min(math.floor(alpha + 0.5), 255.0))
    return out


@nb.njit(cache=True, nogil=True, parallel=True)
def halve(level: np.ndarray) -> np.ndarray:
    """The next coarser pyramid level: each pixel the alpha-weighted mean of a 2 x 2 block (alpha: the plain mean),
    rounded half up in integers; (rows, cols, 4) uint8 with even rows and cols."""
    rows, cols = level.shape[0] // 2, level.shape[1] // 2
    out = np.zeros((rows, cols, 4), dtype=np.uint8)
    for i in nb.prange(rows):
        for j in range(cols):
            sa = 0
            for di in range(2):
                for dj in range(2):
                    sa += int(level[2 * i + di, 2 * j + dj, 3])
            if sa == 0:
                continue
            for ch in range(3):
                s = 0
                for di in range(2):
                    for dj in range(2):
                        p = level[2 * i + di, 2 * j + dj]
                        s += int(p[3]) * int(p[ch])
                out[i, j, ch] = np.uint8((s + sa // 2) // sa)
            out[i, j, 3] = np.uint8((sa + 2) // 4)
    return out


# -- PNG ----------------------------------------------------------------------------------------------------------


@nb.njit(cache=True, nogil=True)
def png_paeth(tile: np.ndarray) -> np.ndarray:
    """The PNG scanlines of an RGBA tile (rows, cols, 4) uint8, each with the Paeth filter (type 4)."""
    rows, cols = tile.shape[0], tile.shape[1]
    stride = cols * 4
    out = np.empty(rows * (stride + 1), dtype=np.uint8)
    flat = tile.reshape(rows, stride)
    for i in range(rows):
        k = i * (stride + 1)
        out[k] = 4
        for x in range(stride):
            cur = np.int32(flat[i, x])
            a = np.int32(flat[i, x - 4]) if x >= 4 else np.int32(0)
            b = np.int32(flat[i - 1, x]) if i > 0 else np.int32(0)
            c = np.int32(flat[i - 1, x - 4]) if (i > 0 and x >= 4) else np.int32(0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            out[k + 1 + x] = np.uint8((cur - pred) & 255)
    return out
