"""Compiled kernels of the raster tiles (:mod:`geodata.publish.tiles`): painting a band of values into RGBA with a
colour lookup table (and the hillshade of the bathymetry), warping the painted band to the web-mercator pixels of a
tile pyramid, the alpha-weighted 2 x 2 mean of a pyramid level, and the PNG filter of a tile.

A pixel is one ``uint32`` holding its R, G, B, A bytes in memory order (``r | g << 8 | b << 16 | a << 24`` on a
little-endian machine: a (rows, cols) uint32 array viewed as uint8 is the (rows, cols, 4) RGBA image); one store per
pixel instead of four is what lets the loops run at memory speed (#14: 4x faster painting).

Every kernel is a pure function of its inputs, pixel by pixel (no reduction across threads except the hillshade's
min/max, which is order-independent), so the output is the same on any number of threads and for any band split.
The arithmetic of :func:`paint_ramp` and :func:`paint_bathymetry` repeats numpy's and matplotlib's operation by
operation (``np.gradient``, ``LightSource.hillshade`` before its stretch, ``Colormap.__call__`` with ``bytes=True``),
so a rendering equals the former numpy one bit for bit."""

from __future__ import annotations

import math
import sys

import numba as nb
import numpy as np

if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
    raise ImportError("geodata.publish._tilekernels packs RGBA pixels as little-endian uint32")

# -- painting -----------------------------------------------------------------------------------------------------

MODE_COST = 0  # valid (finite, not nodata) -> ramp at ``alpha``; +inf -> grey (60, 60, 60, 150); else transparent
MODE_SHARE = 1  # valid and > 0 -> ramp at ``alpha``; else transparent (the colour of 0)
IMPASSABLE = 60 | 60 << 8 | 60 << 16 | 150 << 24


def pack_lut(rgb: np.ndarray) -> np.ndarray:
    """An (n, 3) uint8 colour table as (n,) uint32 pixels of alpha 0."""
    rgba = np.zeros((rgb.shape[0], 4), dtype=np.uint8)
    rgba[:, :3] = rgb
    return rgba.view(np.uint32).reshape(-1).copy()


@nb.njit(cache=True, nogil=True, inline="always")
def _valid(v: float, nodata: float) -> bool:
    """Finite and not ``nodata`` (NaN when there is none: no value equals it). Bitwise, not short-circuit: a branch
    here keeps the loops from vectorising (4x slower)."""
    return math.isfinite(v) & (v != nodata)


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
    mode: int,
    alpha: int,
) -> np.ndarray:
    """Rows ``r0:r1`` of ``values`` as pixels (rows, cols) on the packed colour table ``lut`` over lo..hi."""
    rows, cols = r1 - r0, values.shape[1]
    n = lut.shape[0]
    out = np.empty((rows, cols), dtype=np.uint32)
    opaque = np.uint32(alpha) << np.uint32(24)
    clear = np.uint32(0)
    impassable = np.uint32(IMPASSABLE)
    for i in nb.prange(rows):
        for j in range(cols):
            v = np.float64(values[r0 + i, j])
            ok = _valid(v, nodata)
            if mode == MODE_COST:
                pixel = lut[_lut_index(v if ok else lo, lo, hi, n)] | (opaque if ok else clear)
                out[i, j] = impassable if v == np.inf else pixel
            else:
                out[i, j] = lut[_lut_index(v if ok else 0.0, lo, hi, n)] | (opaque if (ok & (v > 0)) else clear)
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _elevation(values: np.ndarray, i: int, j: int, sign: float, fill: float, nodata: float) -> float:
    """``-filled`` depth at (i, j): the elevation the hillshade takes."""
    v = np.float64(values[i, j])
    return -(sign * v if _valid(v, nodata) else fill)


@nb.njit(cache=True, nogil=True)
def _intensity_row(
    values: np.ndarray,
    i: int,
    sign: float,
    fill: float,
    nodata: float,
    vert_exag: float,
    dx: float,
    dy: float,
    light: np.ndarray,
    out: np.ndarray,
) -> None:
    """matplotlib's ``LightSource.hillshade`` before its stretch along row ``i`` of ``values`` into ``out``
    (elevation = -depth, gradients as ``np.gradient(vert_exag * elevation, -dy, dx)``: central inside, one-sided at
    the array's edges)."""
    rows, cols = values.shape
    iu = i + 1 if i + 1 < rows else i
    id_ = i - 1 if i > 0 else i
    ddy = -dy if (iu == i or id_ == i) else 2.0 * -dy
    for j in range(cols):
        if rows > 1:
            e_dy = (
                vert_exag * _elevation(values, iu, j, sign, fill, nodata)
                - vert_exag * _elevation(values, id_, j, sign, fill, nodata)
            ) / ddy
        else:
            e_dy = 0.0
        if cols > 1:
            jr = j + 1 if j + 1 < cols else j
            jl = j - 1 if j > 0 else j
            ddx = dx if (jr == j or jl == j) else 2.0 * dx
            e_dx = (
                vert_exag * _elevation(values, i, jr, sign, fill, nodata)
                - vert_exag * _elevation(values, i, jl, sign, fill, nodata)
            ) / ddx
        else:
            e_dx = 0.0
        norm = math.sqrt(e_dx * e_dx + e_dy * e_dy + 1.0)
        out[j] = (-e_dx * light[0] - e_dy * light[1] + light[2]) / norm


@nb.njit(cache=True, nogil=True, parallel=True)
def intensity_range(
    values: np.ndarray,
    r0: int,
    r1: int,
    sign: float,
    fill: float,
    nodata: float,
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
        shade = np.empty(values.shape[1])
        _intensity_row(values, r0 + i, sign, fill, nodata, vert_exag, dx, dy, light, shade)
        lo[i] = shade.min()
        hi[i] = shade.max()
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
    vert_exag: float,
    dx: float,
    dy: float,
    light: np.ndarray,
    imin: float,
    imax: float,
) -> np.ndarray:
    """Rows ``r0:r1`` of ``values`` (depths, the gaps filled with ``fill``) on the packed colour table ``lut`` under
    the hillshade stretched over imin..imax: ``rgb * (0.55 + 0.6 * shade)`` in float32, rounded; cells without data
    transparent."""
    rows, cols = r1 - r0, values.shape[1]
    n = lut.shape[0]
    out = np.empty((rows, cols), dtype=np.uint32)
    stretch = imax - imin > 1e-6
    base, gain = np.float32(0.55), np.float32(0.6)
    for i in nb.prange(rows):
        shade = np.empty(cols)
        _intensity_row(values, r0 + i, sign, fill, nodata, vert_exag, dx, dy, light, shade)
        for j in range(cols):
            v = np.float64(values[r0 + i, j])
            ok = _valid(v, nodata)
            d = sign * v if ok else fill
            s = shade[j]
            if stretch:
                s = (s - imin) / (imax - imin)
            s = min(max(s, 0.0), 1.0)
            f = base + gain * np.float32(s)
            rgb = lut[_lut_index(d, lo, hi, n)]
            pixel = np.uint32(255 << 24) if ok else np.uint32(0)
            for c in range(3):
                lit = np.float32((rgb >> np.uint32(8 * c)) & np.uint32(255)) * f
                lit = min(max(lit, np.float32(0.0)), np.float32(255.0))
                pixel |= np.uint32(np.rint(lit)) << np.uint32(8 * c)
            out[i, j] = pixel
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
    """Rows ``r0:r1`` (of ``width`` pixels) of a pyramid's top level from the painted source band ``rgba`` (pixels
    of the source rows ``src_row0 ..`` of a grid ``src_height`` rows high): each pixel's source position (col, row in
    pixel units, cell i spanning [i, i+1)) is the bilinear interpolation of the ``mesh`` nodes (exact positions of
    the pixels ``(a * step - lead_r, b * step - lead_c)``); its colour the bilinear mean of the four nearest cells
    weighted by their alpha (a transparent cell lends no colour: no fringe), its alpha the bilinear mean of theirs.
    Pixels whose centre falls off the source grid are transparent."""
    src_cols = rgba.shape[1]
    nodes = mesh.shape[1]
    inv_step = 1.0 / step
    node_of = np.empty(width, dtype=np.int64)  # the mesh column left of each pixel column, and the fraction past it
    frac_of = np.empty(width)
    for c in range(width):
        node_of[c] = (c + lead_c) // step
        frac_of[c] = (c + lead_c - node_of[c] * step) * inv_step
    out = np.zeros((r1 - r0, width), dtype=np.uint32)
    for ii in nb.prange(r1 - r0):
        r = r0 + ii + lead_r
        a = r // step
        fa = (r - a * step) * inv_step
        ur = np.empty(nodes)
        vr = np.empty(nodes)
        for b in range(nodes):
            ur[b] = (1 - fa) * mesh[a, b, 0] + fa * mesh[a + 1, b, 0]
            vr[b] = (1 - fa) * mesh[a, b, 1] + fa * mesh[a + 1, b, 1]
        for c in range(width):
            b = node_of[c]
            fb = frac_of[c]
            u = (1 - fb) * ur[b] + fb * ur[b + 1]
            v = (1 - fb) * vr[b] + fb * vr[b + 1]
            if not (u >= 0.0 and u < src_cols and v >= 0.0 and v < src_height):
                continue
            x = u - 0.5
            y = v - 0.5
            x0 = int(x + 1.0) - 1  # x >= -0.5: floor by truncation
            y0 = int(y + 1.0) - 1
            fx = x - x0
            fy = y - y0
            xa = min(max(x0, 0), src_cols - 1)
            xb = min(max(x0 + 1, 0), src_cols - 1)
            ya = min(max(y0, 0), src_height - 1) - src_row0
            yb = min(max(y0 + 1, 0), src_height - 1) - src_row0
            p00, p01, p10, p11 = rgba[ya, xa], rgba[ya, xb], rgba[yb, xa], rgba[yb, xb]
            a00, a01, a10, a11 = p00 >> np.uint32(24), p01 >> np.uint32(24), p10 >> np.uint32(24), p11 >> np.uint32(24)
            if (a00 | a01 | a10 | a11) == 0:
                continue
            g00, g01, g10, g11 = (1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy
            if a00 == a01 and a00 == a10 and a00 == a11:  # one alpha (inside an area): the plain bilinear mean
                w00, w01, w10, w11 = g00, g01, g10, g11
                pixel = a00 << np.uint32(24)
            else:
                w00 = g00 * np.float64(a00)
                w01 = g01 * np.float64(a01)
                w10 = g10 * np.float64(a10)
                w11 = g11 * np.float64(a11)
                alpha = w00 + w01 + w10 + w11
                pixel = np.uint32(min(int(alpha + 0.5), 255)) << np.uint32(24)  # >= 0: int() is floor
                inv = 1.0 / alpha
                w00, w01, w10, w11 = w00 * inv, w01 * inv, w10 * inv, w11 * inv
            for ch in range(3):
                sh = np.uint32(8 * ch)
                col = (
                    w00 * np.float64((p00 >> sh) & np.uint32(255))
                    + w01 * np.float64((p01 >> sh) & np.uint32(255))
                    + w10 * np.float64((p10 >> sh) & np.uint32(255))
                    + w11 * np.float64((p11 >> sh) & np.uint32(255))
                )
                pixel |= np.uint32(min(int(col + 0.5), 255)) << sh
            out[ii, c] = pixel
    return out


@nb.njit(cache=True, nogil=True, parallel=True)
def halve(level: np.ndarray) -> np.ndarray:
    """The next coarser pyramid level of pixels (rows, cols), both even: each pixel the alpha-weighted mean of a
    2 x 2 block (alpha: the plain mean), rounded half up in integers."""
    rows, cols = level.shape[0] // 2, level.shape[1] // 2
    out = np.zeros((rows, cols), dtype=np.uint32)
    m = np.uint32(255)
    for i in nb.prange(rows):
        for j in range(cols):
            p0, p1 = level[2 * i, 2 * j], level[2 * i, 2 * j + 1]
            p2, p3 = level[2 * i + 1, 2 * j], level[2 * i + 1, 2 * j + 1]
            a0, a1, a2, a3 = int(p0 >> 24), int(p1 >> 24), int(p2 >> 24), int(p3 >> 24)
            sa = a0 + a1 + a2 + a3
            if sa == 0:
                continue
            pixel = np.uint32((sa + 2) // 4) << np.uint32(24)
            for ch in range(3):
                sh = np.uint32(8 * ch)
                s = (
                    a0 * int((p0 >> sh) & m)
                    + a1 * int((p1 >> sh) & m)
                    + a2 * int((p2 >> sh) & m)
                    + a3 * int((p3 >> sh) & m)
                )
                pixel |= np.uint32((s + sa // 2) // sa) << sh
            out[i, j] = pixel
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
        k = i * (stride + 1) + 1
        out[k - 1] = 4
        if i == 0:  # no row above: Paeth is the left neighbour
            for x in range(stride):
                left = flat[i, x - 4] if x >= 4 else np.uint8(0)
                out[k + x] = flat[i, x] - left
            continue
        for x in range(4):  # no left neighbour: Paeth is the one above
            out[k + x] = flat[i, x] - flat[i - 1, x]
        for x in range(4, stride):
            a = np.int32(flat[i, x - 4])
            b = np.int32(flat[i - 1, x])
            c = np.int32(flat[i - 1, x - 4])
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            out[k + x] = np.uint8((np.int32(flat[i, x]) - pred) & 255)
    return out
