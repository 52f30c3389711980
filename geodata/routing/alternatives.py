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

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from geodata.routing import _kernels as K
from geodata.routing._moves import MoveTable
from geodata.routing.coarse import BandScratch
from geodata.routing.core import (
    RouteResult,
    Separation,
    Surface,
    path_length,
    prepare_route,
    refine_path,
    table_for,
)
from geodata.routing.path import route_on_surface

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


def _vertices(path: np.ndarray, cs: tuple[float, float]) -> np.ndarray:
    """(N, 2) metric ``(x, y)`` vertices of a ``(row, col)`` polyline (one vertex doubled into a segment)."""
    p = np.asarray(path, float)
    if len(p) == 1:
        p = np.vstack([p, p])
    return np.column_stack([p[:, 1] * cs[1], p[:, 0] * cs[0]])


def _samples(xy: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` metres along the polyline ``xy`` (ends included), as GEOS interpolates them (the same
    segment lengths, cumulative sums and fractions as ``shapely.line_interpolate_point``, which walks the line from
    its start for every point: quadratic in the vertices, most of a round's time on a long route)."""
    d = np.diff(xy, axis=0)
    seg = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    length = float(cum[-1])
    n = max(2, int(np.ceil(length / step)) + 1)
    at = np.linspace(0.0, length, n)
    # the segment holding each distance: the last one starting at or before it (GEOS skips zero-length segments)
    i = np.clip(np.searchsorted(cum, at, side="right") - 1, 0, len(seg) - 1)
    while True:  # a distance at the very end of the line, or on a zero-length segment: step back to a real one
        back = (seg[i] == 0) & (i > 0)
        if not back.any():
            break
        i = np.where(back, i - 1, i)
    frac = np.where(seg[i] > 0, (at - cum[i]) / np.where(seg[i] > 0, seg[i], 1.0), 0.0)
    frac = np.clip(frac, 0.0, 1.0)
    return xy[i] + frac[:, None] * d[i]


def _distances(points: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distance of each point to the polyline ``xy``, as ``shapely.distance`` to the line gives it (GEOS's formula,
    compiled: a round's candidate is sampled at some 10 000 points, each measured against every segment)."""
    return np.asarray(
        K.point_polyline_distances(np.ascontiguousarray(points, np.float64), np.ascontiguousarray(xy, np.float64))
    )


def separation(
    route: np.ndarray,
    best: np.ndarray,
    cell_size: tuple[float, float],
    share_distance_m: float,
    cost_ratio: float = 1.0,
) -> Separation:
    """Separation of polyline ``route`` from polyline ``best`` (both ``(row, col)``), in metres.

    Distances are measured from points sampled every quarter cell along each polyline to the other polyline, so
    the Hausdorff distance is exact to within a quarter cell (and costs O(n log n) work, not the quadratic
    densified Hausdorff)."""
    a = _vertices(route, cell_size)
    b = _vertices(best, cell_size)
    step = 0.25 * min(cell_size)
    d_ab = _distances(_samples(a, step), b)
    d_ba = _distances(_samples(b, step), a)
    return Separation(
        hausdorff_m=float(max(d_ab.max(), d_ba.max())),
        mean_distance_m=float(np.mean(d_ab)),
        shared_fraction=_shared(a, d_ab, share_distance_m),
        share_distance_m=float(share_distance_m),
        cost_ratio=float(cost_ratio),
    )


def _shared(a: np.ndarray, d_ab: np.ndarray, share_distance_m: float) -> float:
    length = float(np.sqrt((np.diff(a, axis=0) ** 2).sum(axis=1)).sum())
    return float(np.mean(d_ab <= share_distance_m)) if length > 0 else 1.0


def shared_fraction(route: np.ndarray, other: np.ndarray, cell_size: tuple[float, float], share_m: float) -> float:
    """:attr:`Separation.shared_fraction` of ``route`` against ``other`` alone (one direction of the distances)."""
    a = _vertices(route, cell_size)
    return _shared(a, _distances(_samples(a, 0.25 * min(cell_size)), _vertices(other, cell_size)), share_m)


def _zone(path: np.ndarray, radius: float, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The cells within ``radius`` cells of the polyline (its buffer, all touched) as a window of the grid and the
    window's boolean burn; None when the buffer misses the grid. Rasterised in the buffer's bounding window, not
    over the whole grid: the same cells (a whole-cell shift of the transform; tests/routing checks it)."""
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
    x0, y0, x1, y1 = zone.bounds
    c0, r0 = max(0, int(np.floor(x0)) - 1), max(0, int(np.floor(y0)) - 1)
    c1, r1 = min(shape[1], int(np.ceil(x1)) + 1), min(shape[0], int(np.ceil(y1)) + 1)
    if r1 <= r0 or c1 <= c0:
        return None
    burn = features.rasterize(
        [(zone, 1)], out_shape=(r1 - r0, c1 - c0), transform=Affine.translation(c0, r0), fill=0, dtype=np.uint8,
        all_touched=True,
    ).view(bool)  # fmt: skip
    return (slice(r0, r1), slice(c0, c1)), burn


_NO_COARSE = np.empty((0, 0), np.float64)


class _Penalised:
    """The penalised surface of the rounds, kept up to date window by window: the cost array, its validation
    figures (cheapest passable cost, the A* decision) and, for coarse-to-fine rounds, its block means. A round
    then costs a search, not three whole-grid passes (validation, block means, the penalty's rasterisation)."""

    def __init__(self, surface: Surface, factor: int) -> None:
        pen = np.array(surface.cost, dtype=np.float32 if surface.cost.dtype == np.float32 else np.float64)
        self.surface = Surface(pen, surface.dy, surface.dx, surface.min_cost, surface.passable_cells, surface.mean_cost)
        self.total = surface.mean_cost * surface.passable_cells  # the passable cells' sum (to rounding)
        self.cheapest = int(np.argmax(pen.reshape(-1) == surface.min_cost))  # one cell holding the minimum
        self.f = factor
        self.coarse = K.block_mean(pen, factor) if factor > 1 else None
        self.zones: dict[tuple[int, float], tuple[np.ndarray, Any]] = {}
        self.scratch = BandScratch(pen.size)  # the band searches' state and slots, reused round after round

    @property
    def pen(self) -> np.ndarray:
        return self.surface.cost

    def zone(self, path: np.ndarray, radius: float) -> tuple[tuple[slice, slice], np.ndarray, Any] | None:
        """:func:`_zone` of ``path`` and its rows' spans (:func:`~geodata.routing._kernels.burn_spans`), made once per
        route and radius (a route's zone is penalised again on every rejected round, and on each replica): the
        cache, shared by the replicas, holds the path it was made from."""
        key = (id(path), float(radius))
        hit = self.zones.get(key)
        if hit is None or hit[0] is not path:
            z = _zone(path, radius, self.pen.shape)
            hit = (path, None if z is None else (*z, K.burn_spans(z[1])))
            self.zones[key] = hit
        return hit[1]

    def penalise(self, path: np.ndarray, radius: float, factor: float) -> None:
        z = self.zone(path, radius)
        if z is None:
            return
        (rows, cols), burn, (lo, hi) = z
        pen = self.pen
        before, after = K.scale_cells(
            pen, rows.start, cols.start, burn, lo, hi, pen.dtype.type(factor), self.f,
            self.coarse if self.coarse is not None else _NO_COARSE,
        )  # fmt: skip
        self.total += after - before
        if factor < 1.0 or pen.reshape(-1)[self.cheapest] != self.surface.min_cost:
            self._rescan()  # the cheapest cell was penalised (or costs fell): the minimum may have moved

    def _rescan(self) -> None:
        mn, _, _, _, total = K.scan_costs(self.pen.reshape(-1))
        self.surface.min_cost, self.total = float(mn), float(total)
        self.cheapest = int(np.argmax(self.pen.reshape(-1) == mn))

    def astar_pays(self) -> bool:
        """:meth:`Surface.astar_pays` of the penalised surface: decided on the running sum unless the decision is
        within rounding of its threshold, then on an exact scan (the same decision a whole-grid validation makes)."""
        mean = self.total / max(self.surface.passable_cells, 1)
        if abs(self.surface.min_cost - 0.5 * mean) <= 1e-9 * abs(mean):
            self._rescan()
            mean = self.total / max(self.surface.passable_cells, 1)
        self.surface.mean_cost = mean
        return self.surface.astar_pays()

    def reject(self, routes: list[RouteResult], radius: float) -> None:
        """A rejected round's update: every kept route's zone doubled, in the order of ``routes``."""
        for r in routes:
            self.penalise(r.path, radius, 2.0)

    def copy(self) -> _Penalised:
        """An independent replica in the same state (the surface, its block means and the running figures)."""
        new = object.__new__(_Penalised)
        sf = self.surface
        new.surface = Surface(sf.cost.copy(), sf.dy, sf.dx, sf.min_cost, sf.passable_cells, sf.mean_cost)
        new.total, new.cheapest, new.f = self.total, self.cheapest, self.f
        new.coarse = None if self.coarse is None else self.coarse.copy()
        new.zones = self.zones  # the same zones: rasterised once for both replicas
        new.scratch = BandScratch(sf.cost.size)  # its own: the replicas' rounds run at once
        return new

    def assign(self, other: _Penalised) -> None:
        """Take ``other``'s state (a replica of the same surface) in place."""
        np.copyto(self.pen, other.pen)
        if self.coarse is not None and other.coarse is not None:
            np.copyto(self.coarse, other.coarse)
        self.surface.min_cost, self.surface.mean_cost = other.surface.min_cost, other.surface.mean_cost
        self.total, self.cheapest = other.total, other.cheapest


class _Speculation:
    """The rounds on two threads: while round n runs on one replica of the penalised surface, round n + 1 runs on a
    spare replica brought to the state round n's rejection would leave (a rejection doubles the kept routes' zones,
    whatever the candidate was). The spare replays the one-thread loop's updates in its order (penalties, rescans,
    A* decisions), so every round searches the very surface the one-thread loop searches: the same routes, sooner.
    An accepted round makes the speculative one pointless: it is let finish and the spare copies the new state.
    Costs one more copy of the cost array (4 B/cell for float32). With ``threads=1`` the rounds run one after the
    other, in the caller's thread."""

    def __init__(self, run: Any, radius: float, *, threads: int | None) -> None:
        n = 1 if threads is None else int(threads)
        if n < 1:
            raise ValueError(f"threads={threads!r} must be at least 1")
        self.pool = ThreadPoolExecutor(max_workers=2) if n > 1 else None
        self.run, self.radius = run, radius
        self.spare: _Penalised | None = None
        self.behind = False  # the spare is the previous round's replica: one rejection (and A* decision) behind
        self.ahead: Future[Any] | None = None  # the speculative round, on the spare
        self.discard: Future[Any] | None = None  # a pointless speculative round still running on the spare

    @property
    def pending(self) -> bool:
        return self.ahead is not None

    def submit(self, rep: _Penalised, heuristic: bool, kept: tuple[RouteResult, ...]) -> Future[Any]:
        self.behind = False
        if self.pool is not None:
            return self.pool.submit(self.run, rep, heuristic, kept)
        done: Future[Any] = Future()
        done.set_result(self.run(rep, heuristic, kept))
        return done

    def take(self, pen: _Penalised) -> tuple[Future[Any], _Penalised] | None:
        """The speculative round and its replica, after a rejection (``pen``, the last round's, becomes the spare)."""
        if self.ahead is None or self.spare is None:
            return None
        taken = (self.ahead, self.spare)
        self.ahead, self.spare, self.behind = None, pen, True
        return taken

    def speculate(self, pen: _Penalised, routes: list[RouteResult]) -> None:
        """Start the round after ``pen``'s on the spare replica, as if ``pen``'s round were rejected (on two
        threads)."""
        if self.pool is None:
            return
        if self.discard is not None:
            self.discard.result()  # it runs on the spare: let it finish before the spare is rewritten
            self.discard = None
        if self.spare is None:
            self.spare = pen.copy()
        elif self.behind:  # replay the rejection and the A* decision that led to `pen`
            self.spare.reject(routes, self.radius)
            self.spare.astar_pays()
        else:
            self.spare.assign(pen)
        self.spare.reject(routes, self.radius)
        self.ahead = self.pool.submit(self.run, self.spare, self.spare.astar_pays(), tuple(routes))

    def accepted(self) -> None:
        self.discard, self.ahead = self.ahead, None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


class _Polish:
    """A round's polish and score on the true surface: the candidate refined (:func:`refine_path`) and its largest
    :func:`shared_fraction` with the kept routes. Both are functions of the candidate's vertices alone (the true
    surface, the ends and the kept routes stay), and rejected rounds often propose the very same candidate (8 of the
    12 rounds of the 100 m default scenario): each is computed once per distinct candidate and kept route."""

    def __init__(self, surface: Surface, share: float) -> None:
        self.surface, self.share = surface, share
        self.done: dict[bytes, tuple[np.ndarray, float, dict[int, tuple[np.ndarray, float]]]] = {}

    def __call__(self, candidate: np.ndarray, kept: tuple[RouteResult, ...]) -> tuple[np.ndarray, float, float]:
        """The refined path (a fresh array), its cost and its largest shared fraction with ``kept``."""
        key = np.ascontiguousarray(candidate, np.float64).tobytes()
        hit = self.done.get(key)
        if hit is None:
            path, c, _ = refine_path(self.surface, candidate)  # refinement never raises the cost
            hit = (path, c, {})
            self.done[key] = hit
        path, c, scores = hit
        cs = (self.surface.dy, self.surface.dx)
        fractions = []
        for r in kept:
            got = scores.get(id(r.path))
            if got is None or got[0] is not r.path:  # the entry holds the path it was measured against
                got = (r.path, shared_fraction(path, r.path, cs, self.share))
                scores[id(r.path)] = got
            fractions.append(got[1])
        return path.copy(), c, max(fractions)


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
    best: RouteResult | None = None,
    threads: int | None = None,
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
    best : RouteResult, optional
        The optimum when the caller has it already: :func:`geodata.routing.least_cost_path` of this very surface,
        ends and method (the pipeline's ``least_cost_route`` when no land re-plan changed it). It is rank 0 instead
        of a search of its own; its ends, cell size, method and cost on ``cost`` are checked.
    threads : int, optional
        1 (default): the rounds one after the other; 2: each round's successor
        is searched speculatively beside it, on a second copy of the penalised surface (the same routes; see
        :class:`_Speculation`). Not the default: on a machine whose cores are busy it was slower (100 m default
        scenario under a load of 3-6 on 2 cores: 5.2 s against 4.4 s; ``benchmarks/alternatives.py`` measures both),
        and a quiet-machine gain is still to be measured.

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
    table = table_for(method, neighbourhood)
    surface, s, g = prepare_route(cost, cell_size, start, goal)
    cs = (surface.dy, surface.dx)
    if best is None:
        best = route_on_surface(surface, table, s, g)
    else:
        _check_best(best, surface, table, s, g)
    routes = [best]
    if k == 1 or s == g:
        return _rank(routes, cs, 0.0)
    dist_cells = float(np.hypot(g[0] - s[0], g[1] - s[1]))
    radius = float(buffer_cells) if buffer_cells is not None else max(3.0, 0.02 * dist_cells)
    share = float(share_distance_m) if share_distance_m is not None else radius * min(cs)
    f = int(coarse_factor) if coarse_factor is not None else candidate_coarse_factor(int(surface.cost.size))
    if f < 1:
        raise ValueError(f"coarse_factor={coarse_factor!r} must be a positive integer (1: full searches)")
    pen = _Penalised(surface, f)
    pen.penalise(best.path, radius, 1.0 + float(penalty))
    limit = max_rounds if max_rounds is not None else 4 * k

    polish = _Polish(surface, share)

    def candidate(
        rep: _Penalised, heuristic: bool, kept: tuple[RouteResult, ...]
    ) -> tuple[RouteResult, Any, float, float]:
        """One round on replica ``rep``: the penalised search, then the polish and score on the true surface."""
        cand = route_on_surface(
            rep.surface, table, s, g, heuristic=heuristic, coarse_factor=f if f > 1 else None, coarse=rep.coarse,
            scratch=rep.scratch,
        )  # fmt: skip
        return (cand, *polish(cand.path, kept))

    factor = 1.0 + float(penalty)
    rounds = 0
    spec = _Speculation(candidate, radius, threads=threads if limit > 1 else 1)
    try:
        while len(routes) < k and rounds < limit:
            rounds += 1
            taken = spec.take(pen)
            if taken is not None:  # the previous round was rejected: its speculation is this round
                fut, pen = taken
            else:
                fut = spec.submit(pen, pen.astar_pays(), tuple(routes))
            if rounds < limit:
                spec.speculate(pen, routes)
            cand, path, c, shared = fut.result()
            if shared <= max_shared:
                cand.path = path
                cand.cost = c
                cand.length_m = path_length(path, cs)
                cand.stats["penalty_factor"] = factor
                cand.stats["round"] = rounds
                cand.stats["candidate_coarse_factor"] = f
                routes.append(cand)
                pen.penalise(path, radius, 1.0 + float(penalty))
                spec.accepted()
            else:
                # too close to a kept route: push harder around all kept routes (a speculation did it already)
                if not spec.pending:
                    pen.reject(routes, radius)
                factor *= 2.0
    finally:
        spec.close()
    return _rank(routes, cs, share)


def _check_best(best: RouteResult, surface: Surface, table: MoveTable, s: Any, g: Any) -> None:
    """Refuse a given optimum that was not routed on this surface between these ends with this method."""
    from geodata.routing.core import path_cost

    cs = (surface.dy, surface.dx)
    problems = []
    if tuple(best.start) != tuple(s) or tuple(best.goal) != tuple(g):
        problems.append(f"it joins {tuple(best.start)} to {tuple(best.goal)}, not {tuple(s)} to {tuple(g)}")
    if not np.allclose(best.cell_size, cs, rtol=1e-9):
        problems.append(f"its cell size is {best.cell_size}, not {cs}")
    if best.method != f"d{table.n}+refine":
        problems.append(f"its method is {best.method!r}, not the full d{table.n}+refine search")
    if not problems:
        c = path_cost(surface.cost, best.path, cs)
        if not np.isclose(c, best.cost, rtol=1e-9):
            problems.append(f"its cost on this surface is {c}, not its recorded {best.cost} (another surface)")
    if problems:
        raise ValueError("best is not the optimum of this surface: " + "; ".join(problems))


def _rank(routes: list[RouteResult], cs: tuple[float, float], share: float) -> list[RouteResult]:
    routes = sorted(routes, key=lambda r: r.cost)
    best = routes[0]
    for i, r in enumerate(routes):
        r.rank = i
        r.separation = separation(r.path, best.path, cs, share, r.cost / best.cost if best.cost > 0 else 1.0)
    return routes
