"""The route against the full-resolution vector land: spits, headlands and islands narrower than a grid cell.

The cost surface knows land only as cells (a cell is land when its centre is), so a spit or an island thinner than
a cell is sea to the grid: a routed path, an alter-course shortcut or a crossing realignment can run over it, and
the sector check then reports the stretch as "no sector". Every step that moves the route therefore also tests its
segments against the coastline's land polygons (:func:`land_clearance`), and the routed path is re-planned where it
crosses land (:func:`route_clear_of_land`): the cells the land stretches pass through are made impassable (from the
second round on, also the cells touching that land within a reach that doubles each round) and the search is run
again, until the path is clear or :data:`MAX_REPLANS` rounds are spent.

Geometry is in the metric analysis CRS. A segment counts as crossing land when more than ``tolerance_m`` of it lies
inside a land polygon (touching the shore at a point, as the approach leg does at the shore crossing, is clear).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from geodata.engineering.alter_course import IsClear, segment_cells
from geodata.errors import RouteOverLandError
from geodata.grid import GeoGrid
from geodata.routing import GoalUnreachable, RouteResult, path_xy

LAND_TOLERANCE_M = 1.0
"""Metres of a segment allowed inside land before it counts as crossing it (rounding at the shore)."""
MAX_REPLANS = 12
"""Rounds of re-planning round narrow land before the route is given up
(:class:`~geodata.errors.RouteOverLandError`)."""


def land_geometry(land: gpd.GeoDataFrame | BaseGeometry | None, crs: CRS | str) -> BaseGeometry | None:
    """The land polygons as one prepared geometry in ``crs`` (None or empty -> None)."""
    if land is None:
        return None
    if isinstance(land, gpd.GeoDataFrame):
        if land.empty:
            return None
        geom = land.to_crs(crs).geometry.union_all()
    else:
        geom = land
    if geom.is_empty:
        return None
    shapely.prepare(geom)
    return geom


def land_length_m(land: BaseGeometry, x0: float, y0: float, x1: float, y1: float) -> float:
    """Metres of the segment inside ``land``."""
    seg = LineString([(x0, y0), (x1, y1)])
    if not land.intersects(seg):
        return 0.0
    return float(seg.intersection(land).length)


def land_clearance(land: BaseGeometry | None, tolerance_m: float = LAND_TOLERANCE_M) -> IsClear:
    """An ``is_clear(x0, y0, x1, y1)`` test: True when at most ``tolerance_m`` of the segment lies on land."""

    def is_clear(x0: float, y0: float, x1: float, y1: float) -> bool:
        return land is None or land_length_m(land, x0, y0, x1, y1) <= tolerance_m

    return is_clear


def all_clear(*tests: IsClear) -> IsClear:
    """A segment is clear when every test says so (cheapest test first)."""

    def is_clear(x0: float, y0: float, x1: float, y1: float) -> bool:
        return all(t(x0, y0, x1, y1) for t in tests)

    return is_clear


def land_stretches(
    line: LineString, land: BaseGeometry | None, *, exempt: BaseGeometry | None = None, tolerance_m: float = 1.0
) -> list[LineString]:
    """The pieces of ``line`` on land, longer than ``tolerance_m``, outside ``exempt`` (the shore ends)."""
    if land is None or not line.intersects(land):
        return []
    over = line.intersection(land)
    if exempt is not None and not exempt.is_empty:
        over = over.difference(exempt.buffer(1.0))
    pieces = [g for g in getattr(over, "geoms", [over]) if g.geom_type == "LineString" and not g.is_empty]
    return [p for p in pieces if p.length > tolerance_m]


def _cells_touching(grid: GeoGrid, geom: BaseGeometry) -> set[tuple[int, int]]:
    """Cells of ``grid`` whose square intersects ``geom``."""
    if geom.is_empty:
        return set()
    x0, y0, x1, y1 = geom.bounds
    r_a, c_a = grid.rowcol(x0, y1)
    r_b, c_b = grid.rowcol(x1, y0)
    rows = np.arange(max(int(np.floor(min(r_a, r_b))), 0), min(int(np.ceil(max(r_a, r_b))) + 1, grid.shape[0]))
    cols = np.arange(max(int(np.floor(min(c_a, c_b))), 0), min(int(np.ceil(max(c_a, c_b))) + 1, grid.shape[1]))
    if not rows.size or not cols.size:
        return set()
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    t = grid.transform
    xa, ya = t.c + t.a * cc, t.f + t.e * rr
    boxes = shapely.box(xa, ya + t.e, xa + t.a, ya)
    hit = shapely.intersects(boxes, geom)
    return set(zip(rr[hit].tolist(), cc[hit].tolist(), strict=True))


def _cells_of(grid: GeoGrid, pieces: Sequence[LineString]) -> set[tuple[int, int]]:
    cells: set[tuple[int, int]] = set()
    for piece in pieces:
        c = np.asarray(piece.coords, dtype=float)[:, :2]
        for (x0, y0), (x1, y1) in itertools.pairwise(c):
            rows, cols, lens = segment_cells(grid, x0, y0, x1, y1)
            ok = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1]) & (lens > 0)
            cells.update(zip(rows[ok].tolist(), cols[ok].tolist(), strict=True))
    return cells


@dataclass
class LandReplan:
    """A routed path clear of the vector land, and what it took: rounds searched, cells closed, metres on land
    removed, the cost of the first path against the final one."""

    result: RouteResult
    rounds: int
    closed_cells: list[tuple[int, int]] = field(default_factory=list)
    land_m_first: float = 0.0
    first_cost: float = 0.0

    def summary(self) -> dict[str, Any]:
        increase = self.result.cost / self.first_cost - 1.0 if self.first_cost > 0 else 0.0
        return {
            "land_replans": self.rounds - 1,
            "cells_closed_for_narrow_land": len(self.closed_cells),
            "first_path_on_land_m": round(self.land_m_first, 1),
            "replan_cost_increase_pct": round(100 * increase, 3),
        }


Search = Callable[[np.ndarray], RouteResult]
"""One least-cost search on a cost array (the same start, goal, cell size and method each round)."""


def route_clear_of_land(
    cost: np.ndarray, grid: GeoGrid, land: BaseGeometry | None, search: Search, *, max_rounds: int = MAX_REPLANS
) -> LandReplan:
    """Search, then re-plan while the path crosses the vector ``land``: each round closes the cells its land
    stretches pass through (never the start or goal cell) and searches again.

    Raises :class:`~geodata.errors.RouteOverLandError` naming the positions when the path still crosses land after
    ``max_rounds``, or when closing the land cells leaves no passage at the grid's resolution.
    """
    # the first search reads the surface as it is (a float64 one is not copied); the copy with the closed cells is
    # made only when a re-plan needs it (a whole-grid float64 array: 200 MB at 100 m over the default scenario)
    work = cost if cost.dtype == np.float64 else np.array(cost, dtype=float, copy=True)
    owned = work is not cost
    result = search(work)
    first = result
    closed: list[tuple[int, int]] = []
    land_first = -1.0
    for rounds in range(1, max_rounds + 1):
        line = LineString(path_xy(result.path, grid.transform))
        pieces = land_stretches(line, land)
        if land_first < 0:
            land_first = float(sum(p.length for p in pieces))
        ends = {tuple(int(v) for v in result.start), tuple(int(v) for v in result.goal)}
        cells = _cells_of(grid, pieces)
        if rounds > 1 and land is not None:
            # back on land after a re-plan: close the land cells round each stretch, in a reach doubling each
            # round, so a long spit is passed in a few rounds rather than one cell per round
            reach = max(grid.res) * 2.0 ** (rounds - 2)
            near = shapely.intersection(land, shapely.union_all([p.buffer(reach) for p in pieces]))
            cells |= _cells_touching(grid, near)
        cells = cells - ends - set(closed)
        if not pieces:
            result.stats["land_replans"] = rounds - 1
            return LandReplan(result, rounds, closed, land_first, first.cost)
        if not cells:
            break
        if not owned:
            work, owned = np.array(cost, dtype=float, copy=True), True
        for r, c in cells:
            work[r, c] = np.inf
        closed.extend(sorted(cells))
        try:
            result = search(work)
        except GoalUnreachable:
            raise RouteOverLandError(
                f"the only passage the grid has between the stations runs over land narrower than a cell (at "
                f"{_places(grid, pieces)}): at analysis.resolution_m = {max(grid.res):g} m the real passage (a "
                "channel into a bay or lagoon, say) is closed, and closing the land opens no other; use a finer "
                "analysis.resolution_m (at most half the channel's width) or move the landing station out of the "
                "enclosed water"
            ) from None
    line = LineString(path_xy(result.path, grid.transform))
    raise RouteOverLandError(
        f"the least-cost path still crosses land after {max_rounds} re-planning rounds (at "
        f"{_places(grid, land_stretches(line, land))}): the sea between the stations is closed at the grid's "
        "resolution by land narrower than a cell; use a finer analysis.resolution_m or move the landing station out "
        "of the enclosed water"
    )


def _places(grid: GeoGrid, pieces: Sequence[LineString]) -> str:
    """Mid-points of up to five land stretches as 'lat N lon E'."""
    where = [grid.xy_to_lonlat(*p.interpolate(0.5, normalized=True).coords[0]) for p in pieces[:5]]
    return "; ".join(f"{float(lat):.4f} N {float(lon):.4f} E" for lon, lat in where)
