"""The least-cost path entry point: a full 16-neighbour search, or coarse-to-fine for grids too large to search
whole, then the any-angle refinement. It sits above :mod:`core` and :mod:`coarse` so that neither imports the other."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from geodata.routing import _kernels as K
from geodata.routing._moves import MoveTable
from geodata.routing.coarse import BandScratch, coarse_to_fine_cells
from geodata.routing.core import (
    Point,
    RouteResult,
    Surface,
    finish_route,
    prepare_route,
    run_search,
    table_for,
    unreachable_error,
)


def least_cost_path(
    cost: Any,
    start: Sequence[int],
    goal: Sequence[int],
    *,
    cell_size: Any = (1.0, 1.0),
    method: str = "auto",
    neighbourhood: int | None = None,
    refine: bool = True,
    heuristic: bool | None = None,
    coarse_factor: int | None = None,
    buffer_cells: int | None = None,
    verify_coarse: bool = False,
) -> RouteResult:
    """Least-cost route between two cells of a cost raster.

    Parameters
    ----------
    cost : array_like
        2-D cost per metre (float32 or float64 used in place; other numeric types are copied to float64).
        NaN or +inf marks impassable cells; negative values are an error.
    start, goal : (int, int)
        ``(row, col)`` cell indices.
    cell_size : float or (float, float)
        ``(dy, dx)``: cell height and width in metres.
    method : {"auto", "d8", "d16", "d32"}
        The search graph: 8-, 16- or 32-neighbourhood with exactly integrated edge costs. ``"auto"`` is
        ``"d16"``. ``method="d8", refine=False`` is the classic 8-connected least-cost path.
    neighbourhood : int, optional
        Overrides the neighbourhood implied by ``method``.
    refine : bool
        Post-optimise the graph path (vertex relaxation and removal that only accept strictly exact cost
        decreases and never cross impassable cells or diagonal gaps). Removes the grid bias: on a uniform
        surface the route becomes the straight line.
    heuristic : bool, optional
        Use the A* bound (cheapest passable cost x a norm no larger than straight-line metres). Exact either way;
        only the work changes. Default: only when the cheapest passable cost is at least half the mean passable cost
        (below that A* prunes too little to pay for its keys; see ``Surface.astar_pays``).
    coarse_factor : int, optional
        Coarse-to-fine mode for grids too large to search whole: route on a grid coarsened ``coarse_factor`` times
        (block means of passable cells), then search at full resolution only inside a band of ``buffer_cells``
        cells around the coarse route (the band doubles until the goal is found). See ``stats["coarse"]``.
    buffer_cells : int, optional
        Half-width in fine cells of the coarse-to-fine band; default ``8 * coarse_factor``.
    verify_coarse : bool
        Also run the full search and report ``stats["coarse"]["full_cost"]`` and ``["excess"]`` (the relative
        extra cost of the coarse-to-fine route).

    Returns
    -------
    RouteResult

    Raises
    ------
    InvalidCostSurface, InvalidCellSize, PointOutsideGrid, PointImpassable, GoalUnreachable
    """
    t0 = time.perf_counter()
    table = table_for(method, neighbourhood)
    surface, s, g = prepare_route(cost, cell_size, start, goal)
    return route_on_surface(
        surface, table, s, g, refine=refine, heuristic=heuristic, coarse_factor=coarse_factor,
        buffer_cells=buffer_cells, verify_coarse=verify_coarse, started=t0,
    )  # fmt: skip


def route_on_surface(
    surface: Surface,
    table: MoveTable,
    s: Point,
    g: Point,
    *,
    refine: bool = True,
    heuristic: bool | None = None,
    coarse_factor: int | None = None,
    buffer_cells: int | None = None,
    verify_coarse: bool = False,
    coarse: np.ndarray | None = None,
    scratch: BandScratch | None = None,
    started: float | None = None,
) -> RouteResult:
    """:func:`least_cost_path` on a surface validated already (:func:`~geodata.routing.core.prepare_route`), for
    callers that route many times on one surface kept up to date (the penalised rounds of the alternatives).
    ``coarse``: the surface's block means for ``coarse_factor`` when the caller keeps them (else computed here);
    ``scratch``: the coarse-to-fine band's buffers, kept by a caller that routes again (see
    :class:`~geodata.routing.coarse.BandScratch`)."""
    t0 = time.perf_counter() if started is None else started
    timings = {"validate": time.perf_counter() - t0}
    name = f"d{table.n}"
    if heuristic is None:
        heuristic = surface.astar_pays()
    stats: dict[str, Any] = {"astar": bool(heuristic)}
    if coarse_factor is not None and int(coarse_factor) > 1:
        t1 = time.perf_counter()
        cells, settled, stats["coarse"] = coarse_to_fine_cells(
            surface, table, s, g, int(coarse_factor), buffer_cells, heuristic=heuristic, coarse=coarse, scratch=scratch
        )
        timings["search"] = time.perf_counter() - t1
        name += f"+coarse{int(coarse_factor)}"
    else:
        t1 = time.perf_counter()
        res = run_search(surface, table, np.array([s]), g, heuristic=heuristic)
        timings["search"] = time.perf_counter() - t1
        if not res.found:
            raise unreachable_error(surface, s, g)
        cells = K.trace(res.state, g[0], g[1], table.dr, table.dc)
        settled = res.settled
        stats["open_list_peak"] = res.heap_peak
        del res
    route = finish_route(surface, cells, s, g, name, settled, refine, timings, stats)
    if coarse_factor is not None and int(coarse_factor) > 1 and verify_coarse:
        full = least_cost_path(
            surface.cost, s, g, cell_size=(surface.dy, surface.dx), neighbourhood=table.n, refine=refine,
            heuristic=heuristic,
        )  # fmt: skip
        route.stats["coarse"]["full_cost"] = full.cost
        route.stats["coarse"]["full_cells_settled"] = full.cells_settled
        route.stats["coarse"]["full_seconds"] = full.timings["total"]
        route.stats["coarse"]["excess"] = route.cost / full.cost - 1.0 if full.cost > 0 else 0.0
    route.timings["total"] = time.perf_counter() - t0
    return route
