"""Coarse-to-fine search for grids too large to search whole.

1. Coarsen the cost ``f`` times: each ``f x f`` block gets the mean of its passable cells (impassable only if all
   its cells are), which keeps narrow passages open at the coarse level.
2. Route on the coarse grid (same neighbourhood, exact edge costs, cell size ``f`` times larger).
3. Search at full resolution only inside a band of ``buffer_cells`` fine cells around the coarse route; if the goal
   cannot be reached inside the band (a passage the coarse grid saw does not exist), double the band and retry.

The fine search allocates its state over the band's bounding box but touches only band cells, so its resident
memory is ~9 bytes per band cell (at 4 KiB-page granularity), and its time is proportional to the band. The
price is optimality: the route is the best one inside the band. ``least_cost_path(..., verify_coarse=True)`` also
runs the full search and reports the relative excess.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from geodata.routing import _kernels as K
from geodata.routing._moves import MoveTable
from geodata.routing.core import Point, Surface, lazy_array, prepare, run_search, unreachable_error


class BandScratch:
    """The band search's state and slots, kept from one coarse-to-fine search to the next on one surface (the
    alternatives' rounds: a band of half a million cells each round, its pages faulted in afresh every time, 6 500
    page faults a round on the 100 m grid). The slots are reused as they are (a slot is read only where the state
    says its cell was reached); the state is zeroed over the window's cells. The buffers grow to the largest window
    asked (``cells`` at first: the surface's size, address space only) and keep only the pages the bands touched
    (``lazy_array``'s 4 KiB pages); one search at a time."""

    def __init__(self, cells: int = 0) -> None:
        self._cells = int(cells)
        self._state = np.empty(0, np.uint8)
        self._dist = np.empty(0, np.float64)

    def arrays(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """A zeroed uint8 state and a float64 slot array of ``shape`` (views of the kept buffers)."""
        n = int(shape[0]) * int(shape[1])
        if n > self._state.size:
            size = max(n, self._cells)
            self._state = lazy_array((1, size), np.uint8).reshape(-1)  # zero-filled
            self._dist = lazy_array((1, size), np.float64).reshape(-1)
            state = self._state[:n].reshape(shape)
        else:
            state = self._state[:n].reshape(shape)
            state.fill(0)
        return state, self._dist[:n].reshape(shape)


def coarse_to_fine_cells(
    surface: Surface,
    table: MoveTable,
    s: Point,
    g: Point,
    factor: int,
    buffer_cells: int | None,
    *,
    heuristic: bool = True,
    coarse: np.ndarray | None = None,
    scratch: BandScratch | None = None,
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """Graph cells of the coarse-to-fine route, cells settled, and a report dict. ``coarse``: the surface's
    ``block_mean`` for ``factor`` when the caller keeps it up to date (else computed here); ``scratch``: the band's
    buffers when the caller searches again (else allocated here)."""
    f = int(factor)
    if f < 2:
        raise ValueError(f"coarse_factor={factor!r} must be an integer >= 2")
    half = int(buffer_cells) if buffer_cells is not None else 8 * f
    if half < 1:
        raise ValueError(f"buffer_cells={buffer_cells!r} must be a positive number of fine cells")
    t0 = time.perf_counter()
    if coarse is None:
        coarse = K.block_mean(surface.cost, f)
    elif coarse.shape != (-(-surface.shape[0] // f), -(-surface.shape[1] // f)):
        raise ValueError(f"coarse has shape {coarse.shape}, not the {f}x block means of a {surface.shape} surface")
    cs = prepare(coarse, (surface.dy * f, surface.dx * f))
    cstart = (s[0] // f, s[1] // f)
    cgoal = (g[0] // f, g[1] // f)
    cres = run_search(cs, table, np.array([cstart]), cgoal, heuristic=heuristic)
    report: dict[str, Any] = {"factor": f, "coarse_cells": int(coarse.size)}
    if not cres.found:
        # the coarse grid is optimistic (a block is open if any of its cells is), so this is conclusive
        raise unreachable_error(surface, s, g)
    ccells = K.trace(cres.state, cgoal[0], cgoal[1], table.dr, table.dc)
    report["coarse_cells_settled"] = cres.settled
    report["coarse_cost"] = float(K.polyline_cost(cs.cost, ccells.astype(np.float64), cs.dy, cs.dx))
    report["coarse_seconds"] = time.perf_counter() - t0
    settled = cres.settled
    del cres, coarse, cs
    H, W = surface.shape
    retries = 0
    while True:
        t1 = time.perf_counter()
        r0 = max(0, int(ccells[:, 0].min()) * f - half)
        c0 = max(0, int(ccells[:, 1].min()) * f - half)
        r1 = min(H, int(ccells[:, 0].max()) * f + f + half)
        c1 = min(W, int(ccells[:, 1].max()) * f + f + half)
        if scratch is None:
            state, dist = lazy_array((r1 - r0, c1 - c0), np.uint8), None  # zero-filled; only band pages get touched
        else:
            state, dist = scratch.arrays((r1 - r0, c1 - c0))
        origins = ccells.astype(np.float64) * f - np.array([r0, c0], np.float64)
        band = int(K.mark_band_fine(state, origins, f, half, K.ALLOWED))
        full_band = band >= (r1 - r0) * (c1 - c0) and (r0, c0, r1, c1) == (0, 0, H, W)
        res = run_search(
            surface, table, np.array([s]), g, heuristic=heuristic, window=(r0, c0, r1 - r0, c1 - c0), state=state,
            dist=dist,
        )  # fmt: skip
        settled += res.settled
        if res.found:
            cells = K.trace(res.state, g[0] - r0, g[1] - c0, table.dr, table.dc) + np.array([r0, c0])
            report.update(
                buffer_cells=half, band_cells=int(band), band_fraction=band / float(H * W), retries=retries,
                fine_cells_settled=res.settled, fine_seconds=time.perf_counter() - t1, open_list_peak=res.heap_peak,
            )  # fmt: skip
            return cells, settled, report
        if full_band:
            raise unreachable_error(surface, s, g)
        retries += 1
        half *= 2
