"""Compiled kernels of one Monte Carlo realisation (:mod:`geodata.engineering.montecarlo`): the perturbed depth
from the correlated-noise lattice, the re-costed total (slope and the depth/slope terms and barriers of
:mod:`geodata.cost` in one pass) and the hazard layers moved into it over their windows. ``nogil``, so that
realisations run on threads side by side; float32 arrays, float64 arithmetic per cell (as the cost surface's bands).

Measured on the 1 M-cell Monte Carlo grid of the default scenario (500 m): the numpy/scipy realisation spent
0.12 s in the depth error (a 161-tap separable filter over the grid), 0.35 s in ``build_cost_surface`` and its
slope, 0.25 s in ``scipy.ndimage.shift`` of the hazard layers, against 0.05 s for the route solve itself.
"""

# mypy: allow-untyped-defs
# (numba kernels: numba infers and checks their types when it compiles them, as geodata.routing._kernels)
from __future__ import annotations

import math

import numpy as np
from numba import njit

from geodata.routing._kernels import burn_spans as row_spans  # noqa: F401 - re-exported for montecarlo.py


@njit(cache=True, nogil=True)
def perturb_depth(depth, sigma, lattice, r0, rw0, rw1, c0, cw0, cw1, min_depth, out):  # pragma: no cover - compiled
    """``out = depth + sigma * e`` with ``e`` the lattice field interpolated (separable linear weights ``rw``/``cw``
    of lattice rows/columns ``r0, r0 + 1`` and ``c0, c0 + 1``); a cell at least ``min_depth`` deep stays so. NaN
    depth stays NaN."""
    H, W = depth.shape
    for i in range(H):
        a, wa0, wa1 = r0[i], rw0[i], rw1[i]
        for j in range(W):
            d = np.float64(depth[i, j])
            if math.isnan(d):
                out[i, j] = np.float32(np.nan)
                continue
            b, wb0, wb1 = c0[j], cw0[j], cw1[j]
            e = wa0 * (wb0 * lattice[a, b] + wb1 * lattice[a, b + 1]) + wa1 * (
                wb0 * lattice[a + 1, b] + wb1 * lattice[a + 1, b + 1]
            )
            v = d + np.float64(sigma[i, j]) * e
            if d >= min_depth and v < min_depth:
                v = min_depth
            out[i, j] = np.float32(v)


@njit(cache=True, nogil=True)
def cost_total(z, is_sea, fixed, hy, hx, w, lim, out):  # pragma: no cover - compiled
    """The total cost per metre of depth ``z`` (float32, NaN = none) without its hazard terms, ``inf`` where
    blocked: ``length + shallow + deep + slope`` of :func:`geodata.cost._band`, the slope that of
    :func:`geodata.bathymetry.slope_deg` (``np.gradient``: central differences inside, one-sided at the edges, per-row
    cell sizes ``hy``/``hx`` in metres), blocked where ``fixed`` (land, foreign sector) or for no data, too steep,
    too shallow, too deep. ``w`` = (base, shallow_weight, shallow_limit_m, deep_weight, deep_start_m, deep_limit_m,
    slope_weight); ``lim`` = (max_slope_deg, min_depth_m, max_depth_m)."""
    H, W = z.shape
    base, ws, sl, wd, ds, dl, wsl = w[0], w[1], w[2], w[3], w[4], w[5], w[6]
    max_slope, min_depth, max_depth = lim[0], lim[1], lim[2]
    inf = np.float32(np.inf)
    for i in range(H):
        up = i - 1 if i > 0 else 0
        dn = i + 1 if i < H - 1 else H - 1
        rscale = 0.5 if 0 < i < H - 1 else 1.0
        for j in range(W):
            d = float(z[i, j])
            if fixed[i, j] or math.isnan(d):
                out[i, j] = inf
                continue
            lf = j - 1 if j > 0 else 0
            rt = j + 1 if j < W - 1 else W - 1
            cscale = 0.5 if 0 < j < W - 1 else 1.0
            gy = (np.float64(z[dn, j]) - np.float64(z[up, j])) * rscale / hy[i]
            gx = (np.float64(z[i, rt]) - np.float64(z[i, lf])) * cscale / hx[i]
            s = np.float64(np.float32(math.degrees(math.atan(math.sqrt(gx * gx + gy * gy)))))
            if math.isnan(s):
                out[i, j] = inf
                continue
            dz = d
            if is_sea[i, j] and dz < 0.0:
                dz = 0.0
            if s > max_slope or dz < min_depth or dz > max_depth:
                out[i, j] = inf
                continue
            shallow = min(max(1.0 - dz / sl, 0.0), 1.0)
            deep = min(max((dz - ds) / (dl - ds), 0.0), 1.0)
            out[i, j] = np.float32(base + ws * shallow + wd * deep + wsl * s)


@njit(inline="always")
def _sources(o, off, n, nearest):  # pragma: no cover - compiled
    """Source position ``p = o - off`` of output cell ``o`` as ``scipy.ndimage.shift`` (mode constant) takes it:
    ``(first source, weight of the next one)``; first -1 when ``p`` lies outside ``[0, n - 1]``. ``nearest``: the
    nearest source (halves up), weight 0."""
    p = o - off
    if p < 0.0 or p > n - 1:
        return -1, 0.0
    if nearest:
        return math.floor(p + 0.5), 0.0
    a = math.floor(p)
    t = p - a
    if a + 1 > n - 1:
        t = 0.0
    return a, t


@njit(cache=True, nogil=True)
def add_shifted(out, layer, lo, hi, dr, dc, weight):  # pragma: no cover - compiled
    """``out += weight * shift(layer, (dr, dc))`` with ``scipy.ndimage.shift``'s bilinear move (order 1, constant 0
    outside), visiting only the cells the non-zero spans ``lo``/``hi`` of the layer's rows (:func:`row_spans`) reach.

    The move is constant, so every output cell takes the same four weights of the sources ``a, a + 1`` (rows) and
    ``b = oc + kb, b + 1`` (columns); a tap of weight 0 reads its own cell again (never beyond the layer)."""
    H, W = out.shape
    kb = math.floor(-dc)
    tb = -dc - kb  # in [0, 1)
    sb = 1 if tb > 0.0 else 0
    b_max = W - 1 - sb  # a source column further right is outside [0, W - 1] (scipy: 0)
    for o in range(max(0, math.floor(dr) - 1), H):
        a, ta = _sources(o, dr, H, False)
        if a < 0:
            if o - dr > H - 1:
                break
            continue
        sa = 1 if ta > 0.0 else 0
        c_lo, c_hi = lo[a], hi[a]
        if sa and lo[a + 1] < hi[a + 1]:
            if c_lo == c_hi:
                c_lo, c_hi = lo[a + 1], hi[a + 1]
            else:
                c_lo, c_hi = min(c_lo, lo[a + 1]), max(c_hi, hi[a + 1])
        if c_lo == c_hi:
            continue
        # source columns whose taps reach the spans, and whose output column oc = b - kb lies on the grid
        b_lo, b_hi = max(0, c_lo - sb, kb), min(b_max, c_hi - 1, W - 1 + kb)
        w00, w01 = (1.0 - ta) * (1.0 - tb), (1.0 - ta) * tb
        w10, w11 = ta * (1.0 - tb), ta * tb
        row0, row1 = layer[a], layer[a + sa]
        dst = out[o]
        for b in range(b_lo, b_hi + 1):
            v = (w00 * np.float64(row0[b]) + w01 * np.float64(row0[b + sb])) + (
                w10 * np.float64(row1[b]) + w11 * np.float64(row1[b + sb])
            )
            # the moved layer is float32, as scipy.ndimage.shift gives a float32 layer
            dst[b - kb] = np.float32(np.float64(dst[b - kb]) + weight * np.float64(np.float32(v)))


@njit(cache=True, nogil=True)
def block_shifted(out, layer, lo, hi, dr, dc):  # pragma: no cover - compiled
    """``out = inf`` where ``shift(layer, (dr, dc))`` is set (``scipy.ndimage.shift`` order 0: the nearest source,
    halves up; nothing from outside), visiting only the cells the non-zero spans of the layer's rows reach."""
    H, W = out.shape
    inf = np.float32(np.inf)
    for o in range(max(0, math.floor(dr) - 1), H):
        a, _ = _sources(o, dr, H, True)
        if a < 0:
            if o - dr > H - 1:
                break
            continue
        if lo[a] == hi[a]:
            continue
        for oc in range(max(0, lo[a] + math.floor(dc) - 1), min(W, hi[a] + math.ceil(dc) + 1)):
            b, _ = _sources(oc, dc, W, True)
            if b >= 0 and layer[a, b]:
                out[o, oc] = inf


@njit(cache=True, nogil=True)
def coarsen_depth(data, sea, nodata, use_nodata, f, out_depth, out_sea):  # pragma: no cover - compiled
    """One strip of :func:`geodata.engineering.montecarlo.coarsen_inputs` in one pass: per ``f x f`` block (partial
    at the bottom and right edges) the mean of the valid sea cells of ``data`` (of its valid cells when it holds no
    sea; NaN when none is valid) into ``out_depth`` and whether any cell is sea into ``out_sea``. Valid: finite and,
    with ``use_nodata``, not ``nodata``; sums in float64 of the float32 values, as the numpy form did."""
    H, W = data.shape
    hc, wc = out_depth.shape
    for bi in range(hc):
        for bj in range(wc):
            s_sea, n_sea, s_all, n_all = 0.0, 0, 0.0, 0
            any_sea = False
            for i in range(bi * f, min(H, bi * f + f)):
                for j in range(bj * f, min(W, bj * f + f)):
                    v = np.float64(data[i, j])
                    wet = sea[i, j]
                    any_sea |= wet
                    if not math.isfinite(v) or (use_nodata and v == nodata):
                        continue
                    v = np.float64(np.float32(v))
                    s_all += v
                    n_all += 1
                    if wet:
                        s_sea += v
                        n_sea += 1
            if n_sea > 0:
                out_depth[bi, bj] = np.float32(np.float32(s_sea / n_sea))
            elif n_all > 0:
                out_depth[bi, bj] = np.float32(np.float32(s_all / n_all))
            else:
                out_depth[bi, bj] = np.float32(np.nan)
            out_sea[bi, bj] = 1 if any_sea else 0
