"""Neighbourhood tables: for every move of a neighbourhood, the cells its centre-to-centre segment crosses.

Each move ``(dr, dc)`` joins the centre of a cell to the centre of another. Its cost is integrated *exactly* on the
piecewise-constant cost surface: the segment is cut at every cell boundary it crosses and each piece is weighted by
the cost of the cell it lies in. The fractions are computed here once, with rational arithmetic, so that the graph
search and :func:`geodata.routing.path_cost` agree to the last bit of the model (a move's edge weight *is* the
integrated cost of its segment).

Where a segment passes exactly through a cell corner it touches the two "off" cells of that corner only in a point;
the move is allowed unless *both* off cells are impassable (a diagonal gap between two impassable cells is a wall).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np

#: the move sets, as first-octant generators ``(dr, dc)`` with ``0 <= dr <= dc``; symmetry gives the rest.
_GENERATORS: dict[int, tuple[tuple[int, int], ...]] = {
    8: ((0, 1), (1, 1)),
    16: ((0, 1), (1, 1), (1, 2)),
    32: ((0, 1), (1, 1), (1, 2), (1, 3), (2, 3)),
}
NEIGHBOURHOODS = tuple(sorted(_GENERATORS))


def _moves(n: int) -> list[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for a, b in _GENERATORS[n]:
        for r, c in ((a, b), (b, a)):
            for sr in (-1, 1):
                for sc in (-1, 1):
                    out.add((sr * r, sc * c))
    return sorted(out, key=lambda m: (np.arctan2(m[0], m[1]), m))


def segment_cells(dr: int, dc: int) -> tuple[list[tuple[int, int, Fraction]], list[tuple[int, int, int, int]]]:
    """Cells crossed by the segment from centre (0, 0) to centre (dr, dc) with the fraction of its length in each,
    and the corner "gaps" it passes through as pairs of off cells ``(r1, c1, r2, c2)``."""
    ts: dict[Fraction, set[str]] = {}
    for axis, d in (("r", dr), ("c", dc)):
        if d == 0:
            continue
        s = 1 if d > 0 else -1
        for k in range(abs(d)):
            boundary = Fraction(2 * k + 1, 2) * s  # k + 1/2 in the direction of travel
            ts.setdefault(boundary / d, set()).add(axis)
    events = sorted(ts.items())
    cells: list[tuple[int, int, Fraction]] = []
    gaps: list[tuple[int, int, int, int]] = []
    r = c = 0
    sr = 1 if dr > 0 else -1
    sc = 1 if dc > 0 else -1
    t_prev = Fraction(0)
    for t, axes in events:
        cells.append((r, c, t - t_prev))
        if axes == {"r", "c"}:
            gaps.append((r + sr, c, r, c + sc))
            r += sr
            c += sc
        elif axes == {"r"}:
            r += sr
        else:
            c += sc
        t_prev = t
    cells.append((r, c, 1 - t_prev))
    if (r, c) != (dr, dc):
        raise ValueError(f"cell walk of move ({dr}, {dc}) ended at ({r}, {c}); the move table is inconsistent")
    return cells, gaps


@dataclass(frozen=True)
class MoveTable:
    """Arrays describing a neighbourhood, laid out for the compiled search."""

    n: int
    dr: np.ndarray  # (M,) int64
    dc: np.ndarray  # (M,) int64
    ncell: np.ndarray  # (M,) int64
    cdr: np.ndarray  # (M, K) int64 cell offsets crossed
    cdc: np.ndarray
    cw: np.ndarray  # (M, K) float64 fraction of the move's length in that cell
    ngap: np.ndarray  # (M,) int64
    gap: np.ndarray  # (M, G, 4) int64 off-cell pairs (r1, c1, r2, c2)
    rad: int  # patch radius: max |dr|, |dc|
    pidx: np.ndarray  # (M, K) int64 index of each crossed cell in the (2 rad + 1)^2 patch
    pgap: np.ndarray  # (M, G, 2) int64 patch index of each off cell

    def lengths(self, dy: float, dx: float) -> np.ndarray:
        """Length in metres of each move."""
        return np.hypot(self.dr * float(dy), self.dc * float(dx))


@cache
def move_table(n: int) -> MoveTable:
    """The :class:`MoveTable` of the ``n``-neighbourhood (8, 16 or 32)."""
    if n not in _GENERATORS:
        raise ValueError(f"neighbourhood must be one of {NEIGHBOURHOODS}, got {n!r}")
    moves = _moves(n)
    data = [segment_cells(dr, dc) for dr, dc in moves]
    m = len(moves)
    k = max(len(cells) for cells, _ in data)
    g = max(1, max(len(gaps) for _, gaps in data))
    cdr = np.zeros((m, k), np.int64)
    cdc = np.zeros((m, k), np.int64)
    cw = np.zeros((m, k), np.float64)
    gap = np.zeros((m, g, 4), np.int64)
    ncell = np.zeros(m, np.int64)
    ngap = np.zeros(m, np.int64)
    for i, (cells, gaps) in enumerate(data):
        ncell[i] = len(cells)
        for j, (r, c, f) in enumerate(cells):
            cdr[i, j], cdc[i, j], cw[i, j] = r, c, float(f)
        ngap[i] = len(gaps)
        for j, gg in enumerate(gaps):
            gap[i, j] = gg
    arr = np.array(moves, np.int64)
    rad = int(np.abs(arr).max())
    side = 2 * rad + 1
    pidx = (cdr + rad) * side + (cdc + rad)
    pgap = np.stack(
        [(gap[..., 0] + rad) * side + gap[..., 1] + rad, (gap[..., 2] + rad) * side + gap[..., 3] + rad], -1
    )
    for a in (arr, cdr, cdc, cw, gap, ncell, ngap, pidx, pgap):
        a.setflags(write=False)
    return MoveTable(
        n, arr[:, 0].copy(), arr[:, 1].copy(), ncell, cdr, cdc, cw, ngap, gap, rad, np.ascontiguousarray(pidx),
        np.ascontiguousarray(pgap),
    )  # fmt: skip
