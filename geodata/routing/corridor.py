"""Least-cost corridors: the cells through which a route costs at most ``(1 + tolerance)`` times the optimum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geodata.routing import _kernels as K
from geodata.routing.core import (
    RouteResult,
    as_cell_size,
    finish_route,
    prepare_route,
    run_search,
    table_for,
    unreachable_error,
)


@dataclass
class CorridorResult:
    """A least-cost corridor.

    Attributes
    ----------
    mask : numpy.ndarray
        bool raster, True where the cheapest route constrained to pass through the cell costs at most
        ``threshold`` (up to float32 rounding of ``through_cost``, 1e-6 relative); it always contains every cell
        of the optimal graph route and every cell the refined ``route`` crosses.
    through_cost : numpy.ndarray
        float32 raster ``A + B``: accumulated cost from the start plus accumulated cost from the goal, i.e. the
        cost of the cheapest graph route through each cell (+inf where unreachable).
    optimum : float
        The graph optimum ``min(A + B)`` (equal to ``A`` at the goal).
    threshold : float
        ``(1 + tolerance) * optimum``.
    tolerance : float
        The requested fraction.
    route : RouteResult
        The optimal (post-optimised) route, whose cost is ``<= optimum``.
    cell_size : (float, float)
        ``(dy, dx)`` in metres.
    """

    mask: np.ndarray
    through_cost: np.ndarray
    optimum: float
    threshold: float
    tolerance: float
    route: RouteResult
    cell_size: tuple[float, float]

    @property
    def area_m2(self) -> float:
        """Area of the corridor in square metres."""
        return float(np.count_nonzero(self.mask)) * self.cell_size[0] * self.cell_size[1]

    def polygons(self, transform: Any = None, *, cell_size: Any = None) -> list[Any]:
        """The corridor as shapely polygons (see :func:`mask_to_polygons`)."""
        return mask_to_polygons(self.mask, transform, cell_size=cell_size)


BOUND_MARGIN = 1e-5
"""Relative slack of the corridor's search bounds over its threshold: far above the float32 rounding of the
accumulated costs (a few 1e-7), so every cell the mask admits is settled, and expanded, by both searches."""


def least_cost_corridor(
    cost: Any,
    start: Any,
    goal: Any,
    *,
    cell_size: Any = (1.0, 1.0),
    tolerance: float = 0.05,
    method: str = "auto",
    neighbourhood: int | None = None,
    refine: bool = True,
) -> CorridorResult:
    """Least-cost corridor between two cells.

    Two bounded searches: accumulated cost ``A`` from the start and ``B`` from the goal; the cost of the cheapest
    route forced through a cell is ``A + B`` there, and the corridor is where that is within ``tolerance`` of the
    optimum. The cells crossed by the optimal post-optimised route are added (a route through them costs no more
    than the optimum, even where the graph's ``A + B`` overestimates it).

    Neither search covers the grid (the answer is the one two whole-grid searches give; see Notes):

    1. from the start, ordered as :func:`~geodata.routing.least_cost_path` orders its search (A* towards the goal
       when it pays), past the goal up to the key ``T = (1 + tolerance) * optimum``: every cell with
       ``A + h <= T`` (``h`` the A* lower bound of ``B``) is settled, hence every cell with ``A + B <= T``;
    2. from the goal, expanding only cells with ``A + B <= T``: a cell on an optimal route from a corridor cell to
       the goal is itself in the corridor (its ``A`` is at most the corridor cell's ``A`` plus the cost between
       them, its ``B`` that much less), so every corridor cell gets its exact ``B``, and every other cell a ``B``
       no smaller than the true one, hence stays out.

    Parameters
    ----------
    cost : array_like
        2-D cost per metre, NaN or inf impassable.
    start, goal : (int, int)
        ``(row, col)`` cells.
    cell_size : float or (float, float)
        ``(dy, dx)`` in metres.
    tolerance : float
        Fraction above the optimum admitted in the corridor (0.05 = 5 %).
    method, neighbourhood, refine
        As in :func:`geodata.routing.least_cost_path`.

    Returns
    -------
    CorridorResult

    Notes
    -----
    Both bounds carry a relative slack of :data:`BOUND_MARGIN` over the threshold, so float32 rounding never keeps a
    cell the mask would admit out of a search. ``through_cost`` is ``A + B`` on every cell within that slack of the
    threshold and +inf or an overestimate elsewhere; when the first search runs A*, it recovers a distance from its
    key by a subtraction, so ``A`` may differ from a Dijkstra search's by a few ulp (the mask, then, only on a cell
    within that rounding of the threshold). ``tests/routing`` checks the mask against two whole-grid searches.
    Peak extra memory: 4 bytes per cell (``A``, float32) + 9 bytes per cell settled (the running search) + 1 byte
    (mask); ``through_cost`` reuses ``A``'s buffer.
    """
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance={tolerance!r} must be a non-negative fraction such as 0.05")
    table = table_for(method, neighbourhood)
    surface, s, g = prepare_route(cost, cell_size, start, goal)
    slack = (1.0 + float(tolerance)) * (1.0 + BOUND_MARGIN)
    res = run_search(surface, table, np.array([s]), g, heuristic=surface.astar_pays(), goal_factor=slack)
    if not res.found:
        raise unreachable_error(surface, s, g)
    bound = float(res.dist[g]) * slack
    settled = res.settled
    through = np.empty(surface.shape, np.float32)
    K.settled_surface(res.state, res.dist, through)
    del res
    res = run_search(
        surface, table, np.array([g]), None, heuristic=False, limit=bound, bound=through, bound_limit=bound
    )
    optimum = float(res.dist[s])
    cells = K.trace(res.state, s[0], s[1], table.dr, table.dc)[::-1].copy()  # start -> goal
    K.add_settled_surface(res.state, res.dist, through)
    settled += res.settled
    del res
    threshold = (1.0 + float(tolerance)) * optimum
    # A + B is stored in float32: allow its rounding (a few ulp) so that tolerance=0 keeps every optimal cell
    mask = through <= np.float32(threshold * (1.0 + 1e-6))
    mask[cells[:, 0], cells[:, 1]] = True  # the optimal graph route itself, whatever the rounding
    route = finish_route(surface, cells, s, g, f"d{table.n}", settled, refine, {}, {})
    mark = np.zeros(surface.shape, np.uint8)
    K.polyline_cells(surface.cost, route.path, surface.dy, surface.dx, mark)
    mask |= mark.view(bool)
    del mark
    return CorridorResult(mask, through, optimum, threshold, float(tolerance), route, (surface.dy, surface.dx))


def mask_to_polygons(mask: Any, transform: Any = None, *, cell_size: Any = None) -> list[Any]:
    """Polygons of the True cells of a boolean raster.

    Parameters
    ----------
    mask : array_like
        2-D bool raster.
    transform : affine.Affine, optional
        Maps (col, row) of cell corners to map (x, y) (rasterio / GeoGrid convention). Without it polygons are in
        pixel space: x = column, y = row, cell ``(i, j)`` spanning ``[j, j+1] x [i, i+1]``.
    cell_size : (float, float), optional
        ``(dy, dx)``; when given with ``transform`` it must match the transform's pixel size (guards against a
        mask computed on another grid).

    Returns
    -------
    list of shapely.Polygon
        One polygon per 4-connected region, holes included, largest first.
    """
    import shapely
    from affine import Affine
    from rasterio import features

    from geodata.routing.errors import InvalidCellSize

    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be a 2-D boolean raster, got shape {m.shape}")
    t = Affine.identity() if transform is None else transform
    if transform is not None and cell_size is not None:
        dy, dx = as_cell_size(cell_size)
        if not (np.isclose(abs(t.e), dy, rtol=1e-6) and np.isclose(abs(t.a), dx, rtol=1e-6)):
            raise InvalidCellSize(
                f"cell_size=({dy}, {dx}) does not match the transform's pixel size ({abs(t.e)}, {abs(t.a)}); "
                "pass the transform of the grid the corridor was computed on"
            )
    rows = np.flatnonzero(m.any(axis=1))
    if not rows.size:
        return []
    cols = np.flatnonzero(m.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    # vectorise the True cells' bounding window only (a corridor covers a fraction of the grid)
    m8 = np.ascontiguousarray(m[r0:r1, c0:c1], dtype=np.uint8)
    shapes = features.shapes(m8, mask=m8.view(bool), transform=t @ Affine.translation(c0, r0), connectivity=4)
    polys = [shapely.geometry.shape(geom) for geom, val in shapes if val == 1]
    polys.sort(key=lambda p: -p.area)
    return polys
