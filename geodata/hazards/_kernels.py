"""Compiled kernel of the hazard rasterisation (numba, cached): the exact soft cost of a class of points."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
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
) -> None:  # pragma: no cover - compiled
    """Add ``w * exp(-max(d - band, 0) / decay)`` of the points ``which`` (in that order) to the band ``soft``
    (grid rows ``row0 ...``), where the relative level is within the reach factor; ``d`` is the exact distance
    from the cell centre ``(left + (c + 0.5) dx, top - (r + 0.5) dy)`` to the point. ``params`` holds ``left, top,
    dy, dx, band, decay, reach factor``; each point writes rows ``r0:r1`` and columns ``c0:c1`` only, and within
    them only the cells of the disc of its reach are visited (the cells skipped are beyond it by a cell)."""
    left, top, dy, dx = params[0], params[1], params[2], params[3]
    band, decay, rf = params[4], params[5], params[6]
    reach = band + rf * decay
    h = soft.shape[0]
    for k in which:
        w = weight[k]
        if w <= 0.0:
            continue
        px, py = xy[k, 0], xy[k, 1]
        ra, rb = max(r0[k], row0), min(r1[k], row0 + h)
        for r in range(ra, rb):
            ey = (top - (r + 0.5) * dy) - py
            if abs(ey) > reach + dy:
                continue
            half = math.sqrt(max((reach + dx) ** 2 - ey * ey, 0.0))
            ca = max(c0[k], math.floor((px - half - left) / dx - 0.5))
            cb = min(c1[k], math.ceil((px + half - left) / dx + 0.5) + 1)
            for c in range(ca, cb):
                d = math.hypot((left + (c + 0.5) * dx) - px, ey)
                e = max(d - band, 0.0) / decay
                if e <= rf:
                    soft[r - row0, c] += w * math.exp(-e)
