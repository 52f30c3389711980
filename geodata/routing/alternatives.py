"""k meaningfully different routes, ranked by cost (penalty method with a separation test).

Each round raises the cost inside a buffer around every route found so far (``cost * (1 + penalty)``), routes on
that penalised surface, then scores the candidate on the *original* surface with :func:`path_cost` after a final
safe post-optimisation. A candidate is kept only if it shares at most ``max_shared`` of its length with every
kept route (within ``share_distance`` metres); otherwise the penalty doubles and the round is repeated.

On a large grid (more than :data:`COARSE_CANDIDATE_CELLS` cells) the candidates of the penalised rounds are searched
coarse-to-fine (:func:`geodata.routing.least_cost_path` with ``coarse_factor``, see :mod:`geodata.routing.coarse`):
a candidate is only a proposal, refined and scored on the true surface and tested for separation like any other,
and a round costs a coarse search plus a band instead of a whole-grid search (a 100 m run of the default scenario
spent 24 s in 12 whole-grid rounds, 8 times its least-cost route). The best route (rank 0) is always the full
search. Grids up to that size (the default 1 km scenario: 0.25 M cells) search every round in full, as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geodata.routing.core import (
    RouteResult,
    Separation,
    path_length,
    prepare_route,
    refine_path,
)
from geodata.routing.path import least_cost_path

COARSE_CANDIDATE_CELLS = 1_000_000
"""Above this many cells the penalised rounds search coarse-to-fine (module docstring)."""
COARSE_CANDIDATE_TARGET = 500_000
"""The automatic coarse factor makes the coarse grid about this many cells (factor 3 at 4 M cells, 7 at 25 M)."""


def candidate_coarse_factor(cells: int) -> int:
    """The coarse factor of the penalised rounds on a grid of ``cells`` cells: 1 (full search) up to
    :data:`COARSE_CANDIDATE_CELLS`, else the factor leaving about :data:`COARSE_CANDIDATE_TARGET` coarse cells."""
    if cells <= COARSE_CANDIDATE_CELLS:
        return 1
    return max(2, round(float(np.sqrt(cells / COARSE_CANDIDATE_TARGET))))


def _line(path: np.ndarray, cs: tuple[float, float]) -> Any:
    import shapely

    p = np.asarray(path, float)
    if len(p) == 1:
        p = np.vstack([p, p])
    return shapely.LineString(np.column_stack([p[:, 1] * cs[1], p[:, 0] * cs[0]]))


def _samples(line: Any, step: float) -> Any:
    import shapely

    n = max(2, int(np.ceil(line.length / step)) + 1)
    return shapely.line_interpolate_point(line, np.linspace(0.0, line.length, n))


def separation(
    route: np.ndarray,
    best: np.ndarray,
    cell_size: tuple[float, float],
    share_distance_m: float,
    cost_ratio: float = 1.0,
) -> Separation:
    """Separation of polyline ``route`` from polyline ``best`` (both ``(row, col)``), in metres.

    Distances are measured from points sampled every quarter cell along each polyline to the other polyline, so
    the Hausdorff distance is exact to within a quarter cell (and costs O(n log n)-ish GEOS calls, not the
    quadratic densified Hausdorff)."""
    import shapely

    a = _line(route, cell_size)
    b = _line(best, cell_size)
    step = 0.25 * min(cell_size)
    d_ab = shapely.distance(_samples(a, step), b)
    d_ba = shapely.distance(_samples(b, step), a)
    shared = float(np.mean(d_ab <= share_distance_m)) if a.length > 0 else 1.0
    return Separation(
        hausdorff_m=float(max(d_ab.max(), d_ba.max())),
        mean_distance_m=float(np.mean(d_ab)),
        shared_fraction=shared,
        share_distance_m=float(share_distance_m),
        cost_ratio=float(cost_ratio),
    )


def _penalise(pen: np.ndarray, path: np.ndarray, radius: float, factor: float) -> None:
    """Multiply ``pen`` by ``factor`` on cells within ``radius`` cells of the polyline (in place)."""
    import shapely
    from affine import Affine
    from rasterio import features

    p = np.asarray(path, float)
    line = (
        shapely.LineString(np.column_stack([p[:, 1] + 0.5, p[:, 0] + 0.5]))
        if len(p) > 1
        else shapely.Point(p[0, 1] + 0.5, p[0, 0] + 0.5)
    )
    zone = line.buffer(radius)
    burn = features.rasterize(
        [(zone, 1)], out_shape=pen.shape, transform=Affine.identity(), fill=0, dtype=np.uint8, all_touched=True
    ).view(bool)
    pen[burn] *= factor


def alternative_routes(
    cost: Any,
    start: Any,
    goal: Any,
    *,
    cell_size: Any = (1.0, 1.0),
    k: int = 3,
    max_shared: float = 0.5,
    buffer_cells: float | None = None,
    share_distance_m: float | None = None,
    penalty: float = 0.5,
    max_rounds: int | None = None,
    method: str = "auto",
    neighbourhood: int | None = None,
    coarse_factor: int | None = None,
) -> list[RouteResult]:
    """Up to ``k`` meaningfully different least-cost routes, best first.

    Parameters
    ----------
    cost : array_like
        2-D cost per metre, NaN or inf impassable.
    start, goal : (int, int)
        ``(row, col)`` cells.
    cell_size : float or (float, float)
        ``(dy, dx)`` in metres.
    k : int
        Number of routes wanted, the optimum included.
    max_shared : float
        Largest fraction of a new route's length allowed within ``share_distance_m`` of any kept route.
    buffer_cells : float, optional
        Radius (cells) of the penalised zone around each kept route; default 2 % of the start-goal distance,
        at least 3 cells.
    share_distance_m : float, optional
        Distance under which two routes count as sharing ground; default the penalised radius in metres.
    penalty : float
        Initial relative cost increase in the penalised zone; doubles after each rejected candidate.
    max_rounds : int, optional
        Searches allowed after the first (default ``4 * k``).
    method, neighbourhood
        As in :func:`geodata.routing.least_cost_path`.
    coarse_factor : int, optional
        Coarse-to-fine factor of the penalised rounds' searches (1: full searches); default
        :func:`candidate_coarse_factor` of the grid's size.

    Returns
    -------
    list of RouteResult
        Sorted by cost; ``rank`` 0 is the optimum. Each has ``separation`` from the optimum (Hausdorff and mean
        distance in metres, shared-length fraction, cost ratio). Fewer than ``k`` when no distinct route exists
        (e.g. a single channel).
    """
    if k < 1:
        raise ValueError(f"k={k!r} must be at least 1")
    if not 0.0 <= max_shared < 1.0:
        raise ValueError(f"max_shared={max_shared!r} must be a fraction in [0, 1)")
    surface, s, g = prepare_route(cost, cell_size, start, goal)
    cs = (surface.dy, surface.dx)
    best = least_cost_path(surface.cost, s, g, cell_size=cs, method=method, neighbourhood=neighbourhood)
    routes = [best]
    if k == 1 or s == g:
        return _rank(routes, cs, 0.0)
    dist_cells = float(np.hypot(g[0] - s[0], g[1] - s[1]))
    radius = float(buffer_cells) if buffer_cells is not None else max(3.0, 0.02 * dist_cells)
    share = float(share_distance_m) if share_distance_m is not None else radius * min(cs)
    pen = np.array(surface.cost, dtype=np.float32 if surface.cost.dtype == np.float32 else np.float64)
    factor = 1.0 + float(penalty)
    _penalise(pen, best.path, radius, factor)
    rounds = 0
    limit = max_rounds if max_rounds is not None else 4 * k
    f = int(coarse_factor) if coarse_factor is not None else candidate_coarse_factor(int(pen.size))
    if f < 1:
        raise ValueError(f"coarse_factor={coarse_factor!r} must be a positive integer (1: full searches)")
    while len(routes) < k and rounds < limit:
        rounds += 1
        cand = least_cost_path(
            pen, s, g, cell_size=cs, method=method, neighbourhood=neighbourhood, coarse_factor=f if f > 1 else None
        )
        # score and polish on the true surface (refinement never raises the cost)
        path, c, _ = refine_path(surface, cand.path)
        shared = max(separation(path, r.path, cs, share).shared_fraction for r in routes)
        if shared <= max_shared:
            cand.path = path
            cand.cost = c
            cand.length_m = path_length(path, cs)
            cand.stats["penalty_factor"] = factor
            cand.stats["round"] = rounds
            cand.stats["candidate_coarse_factor"] = f
            routes.append(cand)
            _penalise(pen, path, radius, 1.0 + float(penalty))
        else:
            # too close to a kept route: push harder around all kept routes
            for r in routes:
                _penalise(pen, r.path, radius, 2.0)
            factor *= 2.0
    return _rank(routes, cs, share)


def _rank(routes: list[RouteResult], cs: tuple[float, float], share: float) -> list[RouteResult]:
    routes = sorted(routes, key=lambda r: r.cost)
    best = routes[0]
    for i, r in enumerate(routes):
        r.rank = i
        r.separation = separation(r.path, best.path, cs, share, r.cost / best.cost if best.cost > 0 else 1.0)
    return routes
