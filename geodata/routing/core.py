"""Least-cost paths, path costs and accumulated-cost surfaces on a cost raster.

See ``docs/routing.md`` for the design argument. In short: an A*/Dijkstra search on a 16-neighbourhood graph
whose edge weights are the *exact* integral of cost along each move's segment (so the graph contains every
8-connected path at the same cost, hence its optimum is never worse), followed by a post-optimisation of the
polyline that only ever accepts changes that lower the exactly integrated cost and that keep clear of impassable
cells and diagonal gaps. Costs are reported by one function, :func:`path_cost`, for every method.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodata.routing import _kernels as K
from geodata.routing._moves import NEIGHBOURHOODS, MoveTable, move_table
from geodata.routing._search_gen import SEARCH
from geodata.routing.errors import (
    GoalUnreachable,
    InvalidCellSize,
    InvalidCostSurface,
    PointImpassable,
    PointOutsideGrid,
)

#: bytes of working memory per grid cell reached by a search: 8-byte distance-or-heap-slot + 1-byte state (plus 12
#: bytes per simultaneously open cell for the open list; see docs/routing.md)
SEARCH_BYTES_PER_CELL = 9

METHODS = ("auto", "d8", "d16", "d32")

Point = tuple[int, int]


# ------------------------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class Separation:
    """How far an alternative route lies from the best one.

    Attributes
    ----------
    hausdorff_m : float
        Symmetric Hausdorff distance between the two polylines, metres.
    mean_distance_m : float
        Mean distance from points of this route to the best route, metres (length-weighted).
    shared_fraction : float
        Fraction of this route's length lying within ``share_distance_m`` of the best route.
    share_distance_m : float
        The distance under which two routes count as sharing ground.
    cost_ratio : float
        This route's cost divided by the best route's cost (>= 1).
    """

    hausdorff_m: float
    mean_distance_m: float
    shared_fraction: float
    share_distance_m: float
    cost_ratio: float


@dataclass
class RouteResult:
    """A least-cost route.

    Attributes
    ----------
    path : numpy.ndarray
        (N, 2) float64 ``(row, col)`` vertices, whole numbers at cell centres, fractional where the route runs
        between centres. ``path[0]`` is the start cell, ``path[-1]`` the goal cell.
    cost : float
        :func:`path_cost` of ``path``: cost per metre integrated over the metres the polyline spends in each cell.
    length_m : float
        Length of ``path`` in metres.
    start, goal : tuple of int
        The requested end cells.
    method : str
        ``"d8"``, ``"d16"`` or ``"d32"`` (the graph), plus ``"+refine"`` when post-optimised and
        ``"+coarse<f>"`` for coarse-to-fine.
    graph_path : numpy.ndarray
        (M, 2) int64 cells of the graph search's optimal path, before post-optimisation.
    graph_cost : float
        :func:`path_cost` of ``graph_path`` (the exact optimum of the graph); ``cost <= graph_cost`` always.
    cells_settled : int
        Cells the search settled (all searches, coarse and fine, together).
    cells_total : int
        Cells in the grid.
    timings : dict
        Wall seconds per stage (``validate``, ``search``, ``refine``, ``total``, ...).
    stats : dict
        Further figures (open-list peak, coarse-to-fine report under ``"coarse"``, ...).
    rank : int
        0 for the best route; position in the ranking for :func:`alternative_routes`.
    separation : Separation or None
        For alternatives: separation from the best route.
    """

    path: np.ndarray
    cost: float
    length_m: float
    start: Point
    goal: Point
    method: str
    graph_path: np.ndarray
    graph_cost: float
    cells_settled: int
    cells_total: int
    cell_size: tuple[float, float] = (1.0, 1.0)
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    rank: int = 0
    separation: Separation | None = None

    def xy(self, transform: Any) -> np.ndarray:
        """Map coordinates ``(x, y)`` of the vertices under an affine ``transform`` (col, row) -> (x, y) of the
        upper-left cell corner (the rasterio / :class:`geodata.grid.GeoGrid` convention)."""
        return path_xy(self.path, transform)

    def linestring(self, transform: Any = None) -> Any:
        """The route as a :class:`shapely.LineString`, in map coordinates if ``transform`` is given, else in
        metres ``(x = col * dx, y = row * dy)``."""
        import shapely

        if transform is None:
            dy, dx = self.cell_size
            return shapely.LineString(np.column_stack([self.path[:, 1] * dx, self.path[:, 0] * dy]))
        return shapely.LineString(self.xy(transform))


def path_xy(path: np.ndarray, transform: Any) -> np.ndarray:
    """(N, 2) map ``(x, y)`` of fractional ``(row, col)`` positions (cell centres at whole numbers)."""
    p = np.asarray(path, dtype=float)
    c = p[:, 1] + 0.5
    r = p[:, 0] + 0.5
    t = transform
    return np.column_stack([t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f])


# ------------------------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class Surface:
    """A validated cost surface: C-contiguous float32/float64 array, cell size and cheapest passable cost."""

    cost: np.ndarray
    dy: float
    dx: float
    min_cost: float
    passable_cells: int
    mean_cost: float = 1.0

    def astar_pays(self) -> bool:
        """Whether the A* bound ``min_cost x distance`` is tight enough to pay for itself.

        Measured on the benchmark surfaces: with ``min / mean = 0.43`` A* settles only 5 % fewer cells than Dijkstra
        and is 8 % slower overall (its keys cost work on every relaxation); on near-uniform surfaces it settles a
        thin ellipse instead of a disc. The break-even is near ``min / mean = 0.5``."""
        return self.mean_cost > 0 and self.min_cost >= 0.5 * self.mean_cost

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.cost.shape[0]), int(self.cost.shape[1]))


def as_cell_size(cell_size: Any) -> tuple[float, float]:
    """``(dy, dx)`` in metres from a number or a pair; raises :class:`InvalidCellSize`."""
    try:
        if np.ndim(cell_size) == 0:
            dy = dx = float(cell_size)
        else:
            vals = [float(v) for v in cell_size]
            if len(vals) != 2:
                raise InvalidCellSize(
                    f"cell_size={cell_size!r} has {len(vals)} values for a 2-D cost grid; "
                    "pass (dy, dx) in metres (row height, column width) or one number for square cells"
                )
            dy, dx = vals
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidCellSize):
            raise
        raise InvalidCellSize(f"cell_size={cell_size!r} is not numeric; pass (dy, dx) in metres") from exc
    if not (math.isfinite(dy) and math.isfinite(dx) and dy > 0 and dx > 0):
        raise InvalidCellSize(f"cell_size=({dy}, {dx}) must be two positive finite lengths in metres (dy, dx)")
    return dy, dx


def as_cost_array(cost: Any) -> np.ndarray:
    """The cost as a C-contiguous float32 or float64 2-D array (no copy when it already is one)."""
    a = np.asarray(cost)
    if a.ndim != 2:
        raise InvalidCostSurface(
            f"cost must be a 2-D array (rows, cols) of cost per metre, got {a.ndim}-D shape {a.shape}; "
            "squeeze band axes or select one band"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise InvalidCostSurface(f"cost array is empty (shape {a.shape}); pass a non-empty 2-D raster")
    if a.dtype == np.float32 or a.dtype == np.float64:
        return np.ascontiguousarray(a)
    if a.dtype.kind in "iuf":
        return np.ascontiguousarray(a, dtype=np.float64)
    raise InvalidCostSurface(
        f"cost has dtype {a.dtype}; pass a float32/float64 array of cost per metre (NaN or inf = impassable)"
    )


def prepare(cost: Any, cell_size: Any) -> Surface:
    """Validate a cost surface and cell size (one compiled pass, no temporary arrays)."""
    dy, dx = as_cell_size(cell_size)
    a = as_cost_array(cost)
    mn, npass, nneg, first, total = K.scan_costs(a.reshape(-1))
    if nneg:
        r, c = divmod(int(first), a.shape[1])
        raise InvalidCostSurface(
            f"cost has {nneg} negative value(s), first at (row {r}, col {c}) = {a[r, c]!r}; costs per metre must "
            "be >= 0: clip them (np.clip(cost, 0, None)) or mark the cells impassable with NaN"
        )
    if npass == 0:
        raise InvalidCostSurface(
            f"every cell of the {a.shape[0]}x{a.shape[1]} cost grid is impassable (NaN or inf); check the nodata "
            "handling of the cost surface"
        )
    return Surface(a, dy, dx, float(mn), int(npass), float(total) / max(int(npass), 1))


def as_point(p: Any, shape: tuple[int, int], name: str) -> Point:
    """``(row, col)`` as ints inside ``shape``; raises :class:`PointOutsideGrid`."""
    try:
        r, c = (float(v) for v in p)
    except (TypeError, ValueError) as exc:
        raise PointOutsideGrid(f"{name}={p!r} is not a (row, col) pair of cell indices") from exc
    if not (r.is_integer() and c.is_integer()):
        raise PointOutsideGrid(
            f"{name}=({r}, {c}) is not a whole cell index; round map coordinates to the cell that holds them "
            "(e.g. GeoGrid.rowcol then np.rint)"
        )
    ri, ci = int(r), int(c)
    if not (0 <= ri < shape[0] and 0 <= ci < shape[1]):
        raise PointOutsideGrid(
            f"{name}=(row {ri}, col {ci}) is outside the {shape[0]}x{shape[1]} cost grid (rows 0..{shape[0] - 1}, "
            f"cols 0..{shape[1] - 1}); check the point's CRS and the grid's extent, or enlarge the grid"
        )
    return ri, ci


def _nearest_passable(cost: np.ndarray, p: Point, radius: int = 64) -> Point | None:
    r, c = p
    r0, r1 = max(0, r - radius), min(cost.shape[0], r + radius + 1)
    c0, c1 = max(0, c - radius), min(cost.shape[1], c + radius + 1)
    win = cost[r0:r1, c0:c1]
    ok = np.isfinite(win)
    if not ok.any():
        return None
    rr, cc = np.nonzero(ok)
    k = int(np.argmin((rr + r0 - r) ** 2 + (cc + c0 - c) ** 2))
    return int(rr[k] + r0), int(cc[k] + c0)


def check_passable(surface: Surface, p: Point, name: str) -> None:
    """Raise :class:`PointImpassable` if ``p`` lies on an impassable cell, suggesting the nearest passable one."""
    v = surface.cost[p]
    if v < np.inf:
        return
    near = _nearest_passable(surface.cost, p)
    hint = (
        f"the nearest passable cell is (row {near[0]}, col {near[1]}); move the {name} there or lift the "
        "exclusion under it"
        if near is not None
        else f"no passable cell lies within 64 cells; move the {name} or lift the exclusion under it"
    )
    raise PointImpassable(f"{name}=(row {p[0]}, col {p[1]}) lies on an impassable cell (cost {v!r}); {hint}")


def prepare_route(cost: Any, cell_size: Any, start: Any, goal: Any) -> tuple[Surface, Point, Point]:
    """Validate a cost surface and both end cells of a route (inside the grid, passable) in one place."""
    surface = prepare(cost, cell_size)
    s = as_point(start, surface.shape, "start")
    g = as_point(goal, surface.shape, "goal")
    check_passable(surface, s, "start")
    check_passable(surface, g, "goal")
    return surface, s, g


def unreachable_error(surface: Surface, start: Point, goal: Point) -> GoalUnreachable:
    """A :class:`GoalUnreachable` naming the connected components of start and goal."""
    from scipy import ndimage

    passable = np.isfinite(surface.cost)
    labels, n = ndimage.label(passable, structure=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]))
    ls, lg = int(labels[start]), int(labels[goal])
    ns = int(np.count_nonzero(labels == ls))
    ng = int(np.count_nonzero(labels == lg))
    del labels
    return GoalUnreachable(
        f"no passable route joins start=(row {start[0]}, col {start[1]}) and goal=(row {goal[0]}, col {goal[1]}): "
        f"the start lies in connected component #{ls} ({ns} cells) and the goal in component #{lg} ({ng} cells) "
        f"of the {n} components of passable cells (edge-connected; a diagonal gap between two impassable cells "
        "is a wall). Open a passage in the exclusions between them or move one end point into the other's "
        "component",
        start_component=ls,
        goal_component=lg,
        start_component_cells=ns,
        goal_component_cells=ng,
    )


def table_for(method: str, neighbourhood: int | None) -> MoveTable:
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    n = neighbourhood if neighbourhood is not None else (16 if method == "auto" else int(method[1:]))
    if n not in NEIGHBOURHOODS:
        raise ValueError(f"neighbourhood={n!r} is not one of {NEIGHBOURHOODS}")
    return move_table(n)


# ------------------------------------------------------------------------------------------------------------------
# searches
# ------------------------------------------------------------------------------------------------------------------
def lazy_array(shape: tuple[int, int], dtype: Any) -> np.ndarray:
    """A zero-filled array on anonymous memory with ordinary (4 KiB) pages: only the pages written become resident."""
    import mmap

    dt = np.dtype(dtype)
    count = int(shape[0]) * int(shape[1])
    buf = mmap.mmap(-1, max(1, count * dt.itemsize), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dtype=dt, count=count).reshape(shape)


_NO_BOUND = np.empty((0, 0), np.float32)
"""The kernel's ``bound`` when a search has none (one array type for every call: one compiled kernel)."""


@dataclass
class SearchState:
    state: np.ndarray
    dist: np.ndarray
    settled: int
    found: bool
    heap_peak: int


def run_search(
    surface: Surface,
    table: MoveTable,
    seeds: np.ndarray,
    goal: Point | None,
    *,
    heuristic: bool = True,
    window: tuple[int, int, int, int] | None = None,
    state: np.ndarray | None = None,
    limit: float = math.inf,
    goal_factor: float = 0.0,
    bound: np.ndarray | None = None,
    bound_limit: float = math.inf,
    dist: np.ndarray | None = None,
) -> SearchState:
    """Run the compiled search. ``window = (r0, c0, H, W)`` restricts it to a sub-rectangle; a pre-made ``state``
    with the ALLOWED bit set restricts it further to those cells. ``seeds``/``goal`` are in full-grid indices.

    Bounds (see the kernel's docstring; a corridor's searches use them): stop once the next key to settle exceeds
    ``limit``; with ``goal_factor > 0`` go on past the goal up to ``goal_factor`` times its distance; with ``bound``
    (float32, the window's shape) expand only the settled cells whose distance plus ``bound`` is at most
    ``bound_limit``. ``dist``: a float64 array of the window's shape to use as the slots (any contents: a slot is
    read only where the state says its cell was reached), with a pre-made ``state``."""
    r0, c0, H, W = window if window is not None else (0, 0, *surface.shape)
    if bound is None:
        bound = _NO_BOUND
    elif bound.dtype != np.float32 or bound.shape != (H, W) or not bound.flags.c_contiguous:
        raise ValueError(f"bound must be a C-contiguous float32 array of the window's shape {(H, W)}")
    restrict = state is not None
    if state is None:
        state = np.zeros((H, W), np.uint8)  # calloc: pages never touched stay unallocated
    # open cells: heap slot (int64 view); settled cells: distance. A band search uses small pages so that only the
    # band becomes resident (numpy asks for 2 MiB pages on large arrays: one touched cell would map 2 MiB).
    if dist is None:
        dist = lazy_array((H, W), np.float64) if restrict else np.empty((H, W), np.float64)
    elif not restrict or dist.dtype != np.float64 or dist.shape != (H, W) or not dist.flags.c_contiguous:
        raise ValueError(f"dist must be a C-contiguous float64 array of the window's shape {(H, W)}, with a state")
    pos_of = dist.reshape(-1).view(np.int64)
    hk = np.empty(H * W, np.float64)  # open-list keys: only the first `peak` entries are ever touched
    hv = np.empty(H * W, np.int32)
    s = np.ascontiguousarray(np.asarray(seeds, np.int64).reshape(-1, 2) - np.array([r0, c0], np.int64))
    gr, gc = (goal[0] - r0, goal[1] - c0) if goal is not None else (-1, -1)
    hscale = surface.min_cost * (1.0 - 1e-9) if (heuristic and goal is not None) else 0.0
    if hscale <= 0.0 or not np.isfinite(hscale):
        hscale = 0.0
    settled, found, peak = SEARCH[table.n](
        surface.cost, r0, c0, state, dist, pos_of, hk, hv, s, gr, gc, restrict,
        table.lengths(surface.dy, surface.dx), hscale, surface.dy, surface.dx,
        float(limit), float(goal_factor), bound, float(bound_limit),
    )  # fmt: skip
    return SearchState(state, dist, int(settled), bool(found), int(peak))


def path_cost(cost: Any, path: Any, cell_size: Any = (1.0, 1.0)) -> float:
    """Integrated cost of a polyline: for each cell it crosses, cost per metre x metres inside that cell.

    The one cost function shared by every method, so that results compare. Segments are straight between
    vertices; a segment through a cell corner touches the two off cells in a point only (free) unless both are
    impassable (a diagonal gap, +inf); a segment running exactly along a cell edge is charged the dearer side.

    Parameters
    ----------
    cost : array_like
        2-D cost per metre, NaN or inf impassable.
    path : array_like
        (N, 2) ``(row, col)`` vertices, cell centres at whole numbers.
    cell_size : float or (float, float)
        ``(dy, dx)`` in metres.

    Returns
    -------
    float
        The cost, ``inf`` if the polyline crosses an impassable cell or diagonal gap or leaves the grid.
    """
    dy, dx = as_cell_size(cell_size)
    a = as_cost_array(cost)
    p = np.ascontiguousarray(np.asarray(path, dtype=np.float64))
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"path must be an (N, 2) array of (row, col) vertices, got shape {p.shape}")
    return float(K.polyline_cost(a, p, dy, dx))


def path_length(path: np.ndarray, cell_size: tuple[float, float]) -> float:
    """Length in metres of a ``(row, col)`` polyline."""
    p = np.asarray(path, dtype=float)
    if len(p) < 2:
        return 0.0
    d = np.diff(p, axis=0) * np.asarray(cell_size, dtype=float)
    return float(np.hypot(d[:, 0], d[:, 1]).sum())


def refine_path(
    surface: Surface, path: np.ndarray, *, rounds: int = 6, min_step: float = 1.0 / 32.0
) -> tuple[np.ndarray, float, float]:
    """Post-optimise a polyline (see :func:`geodata.routing._kernels.refine`); returns (path, cost, cost before).

    The returned cost is never above the input's: should rounding ever make the refined polyline dearer, the
    input is returned unchanged."""
    p = np.ascontiguousarray(path, dtype=np.float64)
    before = float(K.polyline_cost(surface.cost, p, surface.dy, surface.dx))
    if len(p) <= 2:
        return p, before, before
    q = K.refine(surface.cost, p, surface.dy, surface.dx, rounds, min_step)
    after = float(K.polyline_cost(surface.cost, q, surface.dy, surface.dx))
    if not after <= before:
        return p, before, before
    return q, after, before


def finish_route(
    surface: Surface,
    cells: np.ndarray,
    s: Point,
    g: Point,
    name: str,
    settled: int,
    refine: bool,
    timings: dict[str, float],
    stats: dict[str, Any],
) -> RouteResult:
    """Build a :class:`RouteResult` from graph cells, post-optimising when asked."""
    t2 = time.perf_counter()
    gpath = np.ascontiguousarray(cells, dtype=np.float64)
    if refine:
        path, c, gcost = refine_path(surface, gpath)
        name += "+refine"
    else:
        c = gcost = float(K.polyline_cost(surface.cost, gpath, surface.dy, surface.dx))
        path = gpath
    timings["refine"] = time.perf_counter() - t2
    cs = (surface.dy, surface.dx)
    return RouteResult(
        path=path,
        cost=float(c),
        length_m=path_length(path, cs),
        start=s,
        goal=g,
        method=name,
        graph_path=np.asarray(cells, dtype=np.int64),
        graph_cost=float(gcost),
        cells_settled=int(settled),
        cells_total=int(surface.cost.size),
        cell_size=cs,
        timings=timings,
        stats=stats,
    )


def as_seeds(source: Any, shape: tuple[int, int], name: str = "source") -> np.ndarray:
    """One ``(row, col)`` or a sequence of them as a (K, 2) int64 array, each checked inside the grid."""
    a = np.asarray(source)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
        raise PointOutsideGrid(f"{name}={source!r} must be one (row, col) pair or a sequence of them")
    return np.array([as_point(p, shape, f"{name}[{i}]" if len(a) > 1 else name) for i, p in enumerate(a)], np.int64)


def accumulated_cost(
    cost: Any,
    source: Any,
    *,
    cell_size: Any = (1.0, 1.0),
    method: str = "auto",
    neighbourhood: int | None = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Accumulated-cost surface: the least cost from ``source`` to every cell (the graph optimum).

    Parameters
    ----------
    cost : array_like
        2-D cost per metre, NaN or inf impassable.
    source : (int, int) or sequence of (int, int)
        Source cell(s); several sources give the cost to the nearest one.
    cell_size : float or (float, float)
        ``(dy, dx)`` in metres.
    method, neighbourhood
        The search graph, as in :func:`least_cost_path` (16-neighbourhood by default).
    dtype : numpy dtype
        Output type (float32 by default: 4 bytes per cell).

    Returns
    -------
    numpy.ndarray
        Same shape as ``cost``; +inf on impassable and unreachable cells, 0 at the source(s).

    Notes
    -----
    Values are graph distances along moves of the neighbourhood: on a uniform surface they exceed the
    straight-line cost by at most 2.7 % (16) or 1.4 % (32) depending on direction, against 8.2 % for 8
    neighbours. Peak extra memory: 9 bytes per cell during the search plus the output.
    """
    table = table_for(method, neighbourhood)
    surface = prepare(cost, cell_size)
    seeds = as_seeds(source, surface.shape)
    for i, p in enumerate(seeds):
        check_passable(surface, (int(p[0]), int(p[1])), "source" if len(seeds) == 1 else f"source[{i}]")
    res = run_search(surface, table, seeds, None, heuristic=False)
    out = np.empty(surface.shape, dtype=dtype)
    K.settled_surface(res.state, res.dist, out)
    return out
