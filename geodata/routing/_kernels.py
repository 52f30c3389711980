# ruff: noqa: RUF046
"""Compiled (numba) inner loops of the routing engine.

Nothing here validates its inputs: the public functions in :mod:`geodata.routing.core` do. Conventions:

* positions are ``(row, col)``, whole numbers at cell centres; cell ``(i, j)`` covers
  ``[i-1/2, i+1/2] x [j-1/2, j+1/2]``;
* a cost value ``v`` is passable when ``v < inf`` (NaN and +inf are walls); costs were checked non-negative;
* per-cell search state is one ``uint8``: bits 0-5 hold the move that reached the cell plus one (0 = never reached,
  63 = a seed), bit 6 marks cells a restricted search may enter, bit 7 marks settled cells. One 8-byte slot per
  cell holds the open-list position of an open cell (int64 view) and the distance of a settled one (float64); it
  is only read where the state says the cell was reached, so untouched pages of the (lazily zeroed) state and of
  the uninitialised slot array never become resident: 9 bytes per cell reached, plus 12 bytes per open-list
  entry (see the generated searches in ``_search_gen.py``).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

INF = np.inf
CODE_MASK = np.uint8(63)
SEED = np.uint8(63)
ALLOWED = np.uint8(64)
SETTLED = np.uint8(128)


@intrinsic
def prefetch(typingctx, arr, idx):  # pragma: no cover - compiled
    """Hint the CPU to fetch ``arr.flat[idx]`` into cache (C-contiguous ``arr``; never faults, even out of range).

    The search is memory-bound on large grids: while one cell's moves are relaxed, the rows around the next cell
    to settle (the heap's new root) are fetched."""
    sig = types.void(arr, types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def hnorm(dr, dc, dy, dx):  # pragma: no cover - compiled
    """A* distance bound in metres for a (rows, cols) offset: ``max(|y|, |x|, (|y| + |x|) / sqrt 2)``.

    It is a norm no larger than the euclidean one (at most 7.6 % smaller), so ``c_min * hnorm`` is a consistent
    heuristic for moves whose cost is at least ``c_min`` x their euclidean length; and it needs no square root,
    which made the euclidean bound slower than no bound at all on surfaces where A* prunes little."""
    ay = abs(dr) * dy
    ax = abs(dc) * dx
    return max(ay, ax, (ay + ax) * 0.7071067811865475)


# ------------------------------------------------------------------------------------------------------------------
# validation and aggregation
# ------------------------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def scan_costs(flat):  # pragma: no cover - compiled
    """(min passable cost, passable count, negative count, first negative flat index, sum of passable costs) of a
    1-D cost view."""
    mn = INF
    total = 0.0
    npass = 0
    nneg = 0
    first = -1
    for i in range(flat.size):
        v = flat[i]
        if v < 0:
            nneg += 1
            if first < 0:
                first = i
        elif v < INF:
            npass += 1
            total += v
            if v < mn:
                mn = v
    return mn, npass, nneg, first, total


@njit(inline="always")
def _block_value(cost, bi, bj, f):  # pragma: no cover - compiled
    nr, nc = cost.shape
    s = 0.0
    n = 0
    for i in range(bi * f, min(nr, bi * f + f)):
        for j in range(bj * f, min(nc, bj * f + f)):
            v = cost[i, j]
            if v < INF:
                s += v
                n += 1
    return s / n if n > 0 else INF


@njit(cache=True, nogil=True)
def block_mean(cost, f):  # pragma: no cover - compiled
    """Coarsen by ``f x f`` blocks: the mean of a block's passable cells, +inf where none is passable."""
    nr, nc = cost.shape
    cr = (nr + f - 1) // f
    cc = (nc + f - 1) // f
    out = np.empty((cr, cc), np.float64)
    for bi in range(cr):
        for bj in range(cc):
            out[bi, bj] = _block_value(cost, bi, bj, f)
    return out


@njit(cache=True, nogil=True)
def burn_spans(burn):  # pragma: no cover - compiled
    """Per row of a raster, the columns ``[lo, hi)`` holding its non-zero (True) cells (``lo == hi`` for none); also
    the Monte Carlo kernels' ``row_spans`` (geodata/engineering/_mckernels.py)."""
    H, W = burn.shape
    lo = np.zeros(H, np.int64)
    hi = np.zeros(H, np.int64)
    for i in range(H):
        a = 0
        while a < W and not burn[i, a]:
            a += 1
        if a == W:
            continue
        b = W
        while not burn[i, b - 1]:
            b -= 1
        lo[i] = a
        hi[i] = b
    return lo, hi


@njit(cache=True, nogil=True)
def scale_cells(cost, r0, c0, burn, lo, hi, factor, f, coarse):  # pragma: no cover - compiled
    """``cost[r0 + i, c0 + j] *= factor`` where ``burn[i, j]`` (in the cost's own float type, as numpy's in-place
    multiply); with ``f > 1`` the blocks of ``coarse`` (``block_mean(cost, f)``) holding a scaled cell are
    recomputed, exactly as ``block_mean`` computes them. Returns the passable scaled cells' sum before and after.
    ``lo, hi``: :func:`burn_spans` of ``burn``; only those columns of each row are visited (a route's buffer is a
    tenth of its bounding window), in the same row-major order, so the sums are those of a scan of the window."""
    H, W = burn.shape
    before = 0.0
    after = 0.0
    touched = np.zeros(((H + f - 1) // f + 1, (W + f - 1) // f + 1), np.bool_) if f > 1 else np.zeros((1, 1), np.bool_)
    b0 = r0 // f if f > 1 else 0
    a0 = c0 // f if f > 1 else 0
    for i in range(H):
        for j in range(lo[i], hi[i]):
            if burn[i, j]:
                v = cost[r0 + i, c0 + j]
                w = v * factor
                cost[r0 + i, c0 + j] = w
                if v < INF:
                    before += v
                    after += w
                if f > 1:
                    touched[(r0 + i) // f - b0, (c0 + j) // f - a0] = True
    if f > 1:
        for bi in range(touched.shape[0]):
            for bj in range(touched.shape[1]):
                if touched[bi, bj]:
                    coarse[b0 + bi, a0 + bj] = _block_value(cost, b0 + bi, a0 + bj, f)
    return before, after


# ------------------------------------------------------------------------------------------------------------------
# exact integration of a straight segment through the piecewise-constant surface
# ------------------------------------------------------------------------------------------------------------------
@njit(inline="always")
def _cell(cost, i, j):  # pragma: no cover - compiled
    if i < 0 or j < 0 or i >= cost.shape[0] or j >= cost.shape[1]:
        return INF
    return cost[i, j]


# One numba kernel on the hot path of every search and refinement: its branches are the cases of one cell walk
# (exit through x, y or a corner; gaps; walls), and splitting it would add calls that numba does not always inline.
@njit(cache=True, nogil=True)
def seg_cost(cost, r0, c0, r1, c1, dy, dx, mark, do_mark):  # noqa: C901  # pragma: no cover - compiled
    """Integrated cost of the segment (r0, c0)-(r1, c1): sum over the cells it crosses of cost x metres inside.

    Returns +inf when the segment leaves the grid, has positive length in an impassable cell, passes exactly
    through a corner whose two off cells are both impassable, or runs along a cell edge next to an impassable
    cell (an edge is charged the dearer of its two sides). With ``do_mark`` it sets ``mark[i, j] = 1`` for every
    cell crossed over a positive length.
    """
    nr = cost.shape[0]
    nc = cost.shape[1]
    drow = r1 - r0
    dcol = c1 - c0
    length = math.sqrt((drow * dy) ** 2 + (dcol * dx) ** 2)
    if length == 0.0:
        return 0.0
    if min(r0, r1) < -0.5 or max(r0, r1) > nr - 0.5 or min(c0, c1) < -0.5 or max(c0, c1) > nc - 0.5:
        return INF
    acc = 0.0
    # -- segments running exactly along a cell edge: charge the dearer side -----------------------------------
    on_row_edge = drow == 0.0 and (r0 + 0.5) == math.floor(r0 + 0.5)
    on_col_edge = dcol == 0.0 and (c0 + 0.5) == math.floor(c0 + 0.5)
    if on_row_edge or on_col_edge:
        if on_row_edge:
            a = int(r0 - 0.5)
            lo = min(c0, c1)
            hi = max(c0, c1)
        else:
            a = int(c0 - 0.5)
            lo = min(r0, r1)
            hi = max(r0, r1)
        k = int(math.floor(lo + 0.5))
        t = lo
        while t < hi:
            tn = min(hi, k + 0.5)
            if tn > t:
                if on_row_edge:
                    va = _cell(cost, a, k)
                    vb = _cell(cost, a + 1, k)
                else:
                    va = _cell(cost, k, a)
                    vb = _cell(cost, k, a + 1)
                if not (va < INF and vb < INF):  # (max() would drop a NaN in second place)
                    return INF
                v = max(va, vb)
                acc += (tn - t) * v
                if do_mark:
                    if on_row_edge:
                        mark[a, k] = 1
                        mark[a + 1, k] = 1
                    else:
                        mark[k, a] = 1
                        mark[k, a + 1] = 1
            t = tn
            k += 1
        return acc * length / (hi - lo)
    # -- general case: walk the cells (Amanatides-Woo), boundary times computed afresh (no drift) --------------
    if drow > 0:
        si = 1
        i = int(math.floor(r0 + 0.5))
    elif drow < 0:
        si = -1
        i = int(math.ceil(r0 + 0.5)) - 1
    else:
        si = 0
        i = int(math.floor(r0 + 0.5))
    if dcol > 0:
        sj = 1
        j = int(math.floor(c0 + 0.5))
    elif dcol < 0:
        sj = -1
        j = int(math.ceil(c0 + 0.5)) - 1
    else:
        sj = 0
        j = int(math.floor(c0 + 0.5))
    t = 0.0
    while True:
        tr = (i + 0.5 * si - r0) / drow if si != 0 else INF
        tc = (j + 0.5 * sj - c0) / dcol if sj != 0 else INF
        tn = min(tr, tc, 1.0)
        if tn > t:
            v = _cell(cost, i, j)
            if not v < INF:
                return INF
            acc += (tn - t) * v
            if do_mark:
                mark[i, j] = 1
            t = tn
        if tn >= 1.0:
            break
        if abs(tr - tc) <= 1e-12:
            # exactly through a corner: the two off cells are touched in a point only, unless both are walls
            if not _cell(cost, i + si, j) < INF and not _cell(cost, i, j + sj) < INF:
                return INF
            i += si
            j += sj
        elif tr < tc:
            i += si
        else:
            j += sj
    return acc * length


@njit(cache=True, nogil=True)
def polyline_cost(cost, path, dy, dx):  # pragma: no cover - compiled
    """Sum of :func:`seg_cost` over consecutive vertices of an (N, 2) row/col polyline."""
    dummy = np.zeros((1, 1), np.uint8)
    total = 0.0
    for k in range(path.shape[0] - 1):
        total += seg_cost(cost, path[k, 0], path[k, 1], path[k + 1, 0], path[k + 1, 1], dy, dx, dummy, False)
    return total


@njit(cache=True, nogil=True)
def polyline_cells(cost, path, dy, dx, mark):  # pragma: no cover - compiled
    """Mark every cell a polyline crosses over a positive length; returns its cost."""
    total = 0.0
    for k in range(path.shape[0] - 1):
        total += seg_cost(cost, path[k, 0], path[k, 1], path[k + 1, 0], path[k + 1, 1], dy, dx, mark, True)
    return total


# ------------------------------------------------------------------------------------------------------------------
# graph search support: the open list (the unrolled searches themselves are generated, see _gen.py)
# ------------------------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _sift_up(hk, hv, pos_of, pos, key, val):  # pragma: no cover - compiled
    """Place (key, val) at heap slot ``pos`` or above (4-ary min-heap), keeping ``pos_of[val]`` current."""
    while pos > 0:
        par = (pos - 1) >> 2
        pk = hk[par]
        if pk <= key:
            break
        pv = hv[par]
        hk[pos] = pk
        hv[pos] = pv
        pos_of[pv] = pos
        pos = par
    hk[pos] = key
    hv[pos] = val
    pos_of[val] = pos


@njit(cache=True, nogil=True)
def _pop_root(hk, hv, pos_of, size):  # pragma: no cover - compiled
    """Remove the root of a 4-ary heap whose size is now ``size`` (already decremented)."""
    lk = hk[size]
    lv = hv[size]
    pos = 0
    while True:
        ch = 4 * pos + 1
        if ch >= size:
            break
        best = ch
        bk = hk[ch]
        end = min(ch + 4, size)
        for q in range(ch + 1, end):
            qk = hk[q]
            if qk < bk:
                bk = qk
                best = q
        if bk >= lk:
            break
        bv = hv[best]
        hk[pos] = bk
        hv[pos] = bv
        pos_of[bv] = pos
        pos = best
    hk[pos] = lk
    hv[pos] = lv
    pos_of[lv] = pos


@njit(cache=True, nogil=True)
def trace(state, gr, gc, mdr, mdc):  # pragma: no cover - compiled
    """Cells (window-relative) from the seed that reached (gr, gc) to it, following the stored moves."""
    n = 1
    r = gr
    c = gc
    while True:
        code = state[r, c] & CODE_MASK
        if code == SEED or code == 0:
            break
        m = code - 1
        r -= mdr[m]
        c -= mdc[m]
        n += 1
    out = np.empty((n, 2), np.int64)
    r = gr
    c = gc
    k = n - 1
    while True:
        out[k, 0] = r
        out[k, 1] = c
        code = state[r, c] & CODE_MASK
        if code == SEED or code == 0:
            break
        m = code - 1
        r -= mdr[m]
        c -= mdc[m]
        k -= 1
    return out


@njit(cache=True, nogil=True)
def _row_settled(state, i, j0, j1):  # pragma: no cover - compiled
    """Whether any of ``state[i, j0:j1]`` is settled (an OR over the state bytes only)."""
    any_bits = np.uint8(0)
    for j in range(j0, j1):
        any_bits |= state[i, j]
    return (any_bits & SETTLED) != 0


SURFACE_BLOCK = 64
"""Cells of a row checked at once by :func:`settled_surface` and :func:`add_settled_surface`."""


@njit(cache=True, nogil=True)
def settled_surface(state, dist, out):  # pragma: no cover - compiled
    """Copy settled distances into ``out`` (any float dtype), +inf elsewhere.

    ``dist`` is read only in blocks of :data:`SURFACE_BLOCK` cells holding a settled cell: the search never wrote the
    pages of the cells it did not reach, and a vectorised select over them (masked loads of pages not mapped) cost
    ten times the pass (100 m grid: 0.36 against 0.03 CPU s)."""
    H, W = state.shape
    for i in range(H):
        for j0 in range(0, W, SURFACE_BLOCK):
            j1 = min(j0 + SURFACE_BLOCK, W)
            if _row_settled(state, i, j0, j1):
                for j in range(j0, j1):
                    if state[i, j] & SETTLED:
                        out[i, j] = dist[i, j]
                    else:
                        out[i, j] = INF
            else:
                for j in range(j0, j1):
                    out[i, j] = INF


@njit(cache=True, nogil=True)
def add_settled_surface(state, dist, acc):  # pragma: no cover - compiled
    """``acc += dist`` where settled, +inf elsewhere (in place, float32 or float64 ``acc``); ``dist`` read only in
    blocks holding a settled cell (see :func:`settled_surface`)."""
    H, W = state.shape
    for i in range(H):
        for j0 in range(0, W, SURFACE_BLOCK):
            j1 = min(j0 + SURFACE_BLOCK, W)
            if _row_settled(state, i, j0, j1):
                for j in range(j0, j1):
                    if state[i, j] & SETTLED:
                        acc[i, j] = acc[i, j] + dist[i, j]
                    else:
                        acc[i, j] = INF
            else:
                for j in range(j0, j1):
                    acc[i, j] = INF


@njit(cache=True, nogil=True)
def _mark_span(state, i, j0, j1, flag):  # pragma: no cover - compiled
    n = 0
    for j in range(j0, j1):
        if not state[i, j] & flag:
            state[i, j] |= flag
            n += 1
    return n


@njit(cache=True, nogil=True)
def _mark_block(state, br, bc, pbr, pbc, first, f, half, flag):  # pragma: no cover - compiled
    """Flag the square of ``f + 2 half`` cells round block ``(br, bc)`` (clipped to the grid), skipping the part of
    it the previous square (round ``(pbr, pbc)``, flagged just before; none when ``first``) covers: those cells are
    flagged already, so the flags and the count of newly flagged cells are those of the whole square."""
    H, W = state.shape
    i0, i1 = max(0, br - half), min(H, br + f + half)
    j0, j1 = max(0, bc - half), min(W, bc + f + half)
    pi0, pi1 = max(0, pbr - half), min(H, pbr + f + half)
    pj0, pj1 = max(0, pbc - half), min(W, pbc + f + half)
    n = 0
    for i in range(i0, i1):
        if first or i < pi0 or i >= pi1 or pj1 <= j0 or pj0 >= j1:
            n += _mark_span(state, i, j0, j1, flag)
        else:  # the previous square covers [pj0, pj1) of this row
            n += _mark_span(state, i, j0, min(j1, pj0), flag)
            n += _mark_span(state, i, max(j0, pj1), j1, flag)
    return n


@njit(cache=True, nogil=True)
def mark_band_fine(state, origins, f, half, flag):  # pragma: no cover - compiled
    """Set ``flag`` on every cell within ``half`` cells (Chebyshev) of the ``f x f`` blocks whose upper-left cells
    are ``origins`` (window coordinates, float (K, 2)) and of blocks interpolated between consecutive ones.
    Returns the number of cells newly flagged. Consecutive squares overlap but for a strip of at most ``f`` cells:
    each square visits only the cells its predecessor did not cover (a whole square is ``(f + 2 half)^2`` cells:
    14 161 at the 100 m grid's factor 7)."""
    pbr = int(origins[0, 0])
    pbc = int(origins[0, 1])
    n = _mark_block(state, pbr, pbc, pbr, pbc, True, f, half, flag)
    for k in range(1, origins.shape[0]):
        steps = int(max(abs(origins[k, 0] - origins[k - 1, 0]), abs(origins[k, 1] - origins[k - 1, 1])) // f)
        steps = max(steps, 1)
        for s in range(1, steps + 1):
            br = int(round(origins[k - 1, 0] + (origins[k, 0] - origins[k - 1, 0]) * s / steps))
            bc = int(round(origins[k - 1, 1] + (origins[k, 1] - origins[k - 1, 1]) * s / steps))
            n += _mark_block(state, br, bc, pbr, pbc, False, f, half, flag)
            pbr = br
            pbc = bc
    return n


# ------------------------------------------------------------------------------------------------------------------
# provably safe post-optimisation of a polyline
# ------------------------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def refine(cost, pts, dy, dx, rounds, min_step):  # pragma: no cover - compiled
    """Shorten and straighten a polyline without ever raising its exactly integrated cost.

    Alternates (1) vertex relaxation: each interior vertex tries moves of 1/2, 1/4, ... ``min_step`` cells in the 8
    compass directions and keeps a move only when the integrated cost of its two segments strictly falls; and
    (2) vertex removal: a vertex is dropped when the straight segment joining its neighbours costs no more than the
    two segments it replaces. Both checks use :func:`seg_cost`, so a change can never cross an impassable cell or a
    diagonal gap (that cost is +inf). End points never move. Stops after ``rounds`` rounds or when a round gains
    less than 1e-9 relative.
    """
    dummy = np.zeros((1, 1), np.uint8)
    nr = cost.shape[0]
    nc = cost.shape[1]
    P = pts.copy()
    n = P.shape[0]
    ddr = np.array([-1.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    ddc = np.array([-1.0, 0.0, 1.0, -1.0, 1.0, -1.0, 0.0, 1.0])
    before = polyline_cost(cost, P[:n], dy, dx)
    for _ in range(rounds):
        # (1) relaxation
        for k in range(1, n - 1):
            ar = P[k - 1, 0]
            ac = P[k - 1, 1]
            br = P[k + 1, 0]
            bc = P[k + 1, 1]
            pr = P[k, 0]
            pc = P[k, 1]
            cur = seg_cost(cost, ar, ac, pr, pc, dy, dx, dummy, False) + seg_cost(
                cost, pr, pc, br, bc, dy, dx, dummy, False
            )
            step = 0.5
            while step >= min_step:
                for _it in range(8):
                    moved = False
                    for d in range(8):
                        qr = min(max(pr + step * ddr[d], 0.0), nr - 1.0)
                        qc = min(max(pc + step * ddc[d], 0.0), nc - 1.0)
                        cnew = seg_cost(cost, ar, ac, qr, qc, dy, dx, dummy, False) + seg_cost(
                            cost, qr, qc, br, bc, dy, dx, dummy, False
                        )
                        if cnew < cur:
                            cur = cnew
                            pr = qr
                            pc = qc
                            moved = True
                    if not moved:
                        break
                step *= 0.5
            P[k, 0] = pr
            P[k, 1] = pc
        # (2) removal
        m = 1
        for k in range(1, n - 1):
            ar = P[m - 1, 0]
            ac = P[m - 1, 1]
            cnew = seg_cost(cost, ar, ac, P[k + 1, 0], P[k + 1, 1], dy, dx, dummy, False)
            if cnew < INF:
                cold = seg_cost(cost, ar, ac, P[k, 0], P[k, 1], dy, dx, dummy, False) + seg_cost(
                    cost, P[k, 0], P[k, 1], P[k + 1, 0], P[k + 1, 1], dy, dx, dummy, False
                )
                if cnew <= cold * (1.0 + 1e-12):
                    continue
            P[m, 0] = P[k, 0]
            P[m, 1] = P[k, 1]
            m += 1
        P[m, 0] = P[n - 1, 0]
        P[m, 1] = P[n - 1, 1]
        n = m + 1
        after = polyline_cost(cost, P[:n], dy, dx)
        gain = before - after
        before = after
        if gain <= 1e-9 * after:
            break
    return P[:n].copy()


@njit(cache=True, nogil=True)
def point_polyline_distances(points, xy):  # pragma: no cover - compiled
    """Distance of each ``points[i]`` to the polyline ``xy``: the least point-segment distance, computed as GEOS
    computes it (``Distance::pointToSegment``: the comp.graphics.algorithms FAQ method, ends by the point distance),
    so the values are ``shapely.distance``'s to the line."""
    n = points.shape[0]
    m = xy.shape[0]
    out = np.empty(n, np.float64)
    for i in range(n):
        px = points[i, 0]
        py = points[i, 1]
        best = INF
        for k in range(max(m - 1, 1)):
            ax = xy[k, 0]
            ay = xy[k, 1]
            bx = xy[min(k + 1, m - 1), 0]
            by = xy[min(k + 1, m - 1), 1]
            if ax == bx and ay == by:
                dx = px - ax
                dy = py - ay
                d = math.sqrt(dx * dx + dy * dy)
            else:
                len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
                r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
                if r <= 0.0:
                    dx = px - ax
                    dy = py - ay
                    d = math.sqrt(dx * dx + dy * dy)
                elif r >= 1.0:
                    dx = px - bx
                    dy = py - by
                    d = math.sqrt(dx * dx + dy * dy)
                else:
                    s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
                    d = abs(s) * math.sqrt(len2)
            if d < best:
                best = d
        out[i] = best
    return out
