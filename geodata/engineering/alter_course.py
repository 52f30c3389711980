"""Alter courses: from a routed polyline on a grid to straight legs joined at alter-course (A/C) points.

A least-cost path on a grid zig-zags from cell to cell; a cable is laid as a few long straight legs. The reduction
is done in four explicit steps, each keeping the route clear of hard exclusions (every shortcut is tested cell by
cell against the hard mask, exactly) and each bounded in cost (a straight leg may replace a stretch of the routed
path only if its integrated cost is at most ``1 + max_cost_increase`` times that stretch's, so the whole route never
costs more than ``1 + max_cost_increase`` times the routed one):

1. *shortcut*: Douglas-Peucker without a distance tolerance: a chord is accepted when clear and cheap enough,
   otherwise the span is split at the vertex farthest from the chord;
2. *remove*: vertices whose removal still gives a clear, cheap-enough leg are dropped (smallest turn first);
3. *short legs*: a leg shorter than ``min_leg_length_m`` loses one of its ends, or its two ends merge into the
   intersection of the neighbouring legs;
4. *sharp turns*: an A/C turning more than ``max_course_change_deg`` is split into several A/Cs on a polygonal arc,
   each turning ``theta / k`` with arc legs of at least ``min_leg_length_m``.

Whatever rule cannot be met is not hidden: it is listed in :attr:`LegPlan.violations`. Geometry is in the metric
analysis CRS; course changes here are grid angles, positive to starboard (clockwise).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from shapely.geometry import LineString

from geodata.errors import InputDataError
from geodata.grid import GeoGrid

IsClear = Callable[[float, float, float, float], bool]
SegmentCost = Callable[[float, float, float, float], float]


# -- exact cell traversal -----------------------------------------------------------------------------------------


def segment_cells(
    grid: GeoGrid, x0: float, y0: float, x1: float, y1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell a segment passes through, with the length of segment inside it (exact, not sampled).

    Returns ``(rows, cols, lengths_m)``; cells off the grid have rows/cols outside ``grid.shape``.
    """
    t = grid.transform
    length = math.hypot(x1 - x0, y1 - y0)
    if length == 0:
        row, col = grid.rowcol(x0, y0)
        return (
            np.array([int(np.floor(row + 0.5))]),
            np.array([int(np.floor(col + 0.5))]),
            np.array([0.0]),
        )
    ts = [np.array([0.0, 1.0])]
    if x1 != x0:
        k0, k1 = sorted(((x0 - t.c) / t.a, (x1 - t.c) / t.a))
        ks = np.arange(math.ceil(k0), math.floor(k1) + 1)
        ts.append((t.c + ks * t.a - x0) / (x1 - x0))
    if y1 != y0:
        k0, k1 = sorted(((y0 - t.f) / t.e, (y1 - t.f) / t.e))
        ks = np.arange(math.ceil(k0), math.floor(k1) + 1)
        ts.append((t.f + ks * t.e - y0) / (y1 - y0))
    tt = np.unique(np.clip(np.concatenate(ts), 0.0, 1.0))
    mid = (tt[:-1] + tt[1:]) / 2.0
    seg = np.diff(tt) * length
    keep = seg > 1e-9
    mx, my = x0 + mid[keep] * (x1 - x0), y0 + mid[keep] * (y1 - y0)
    cols = np.floor((mx - t.c) / t.a).astype(int)
    rows = np.floor((my - t.f) / t.e).astype(int)
    return rows, cols, seg[keep]


def _cells_on_grid(
    grid: GeoGrid, x0: float, y0: float, x1: float, y1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`segment_cells` of a segment, or None when the segment leaves the grid."""
    rows, cols, lengths = segment_cells(grid, x0, y0, x1, y1)
    inside = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1])
    return (rows, cols, lengths) if inside.all() else None


def mask_clearance(mask: np.ndarray, grid: GeoGrid) -> IsClear:
    """An ``is_clear(x0, y0, x1, y1)`` test: True when no cell the segment passes through is True in ``mask``.

    Leaving the grid counts as not clear.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != grid.shape:
        raise InputDataError(f"hard mask of shape {mask.shape} does not match the grid {grid.shape}")

    def is_clear(x0: float, y0: float, x1: float, y1: float) -> bool:
        cells = _cells_on_grid(grid, x0, y0, x1, y1)
        return cells is not None and not bool(mask[cells[0], cells[1]].any())

    return is_clear


def grid_segment_cost(cost: np.ndarray, grid: GeoGrid) -> SegmentCost:
    """A ``segment_cost(x0, y0, x1, y1)``: the exact integral of a cost-per-metre grid along a segment (inf off the
    grid or through impassable cells)."""
    cost = np.asarray(cost)  # read cell by cell below, in float64: no whole-grid float64 copy of a float32 surface
    if cost.shape != grid.shape:
        raise InputDataError(f"cost grid of shape {cost.shape} does not match the grid {grid.shape}")

    def segment_cost(x0: float, y0: float, x1: float, y1: float) -> float:
        cells = _cells_on_grid(grid, x0, y0, x1, y1)
        if cells is None:
            return math.inf
        rows, cols, lengths = cells
        values = cost[rows, cols].astype(float)
        if not np.isfinite(values).all():
            return math.inf
        return float((values * lengths).sum())

    return segment_cost


# -- results ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlterCourse:
    """An A/C point of the reduced route: its vertex index, position, signed course change and adjacent legs."""

    index: int
    x: float
    y: float
    course_change_deg: float
    leg_in_m: float
    leg_out_m: float


class LegPlan(NamedTuple):
    """The straight-leg route, its A/C points (interior vertices) and the rules it could not meet."""

    line: LineString
    alter_courses: list[AlterCourse]
    violations: list[str]


def _heading(p: np.ndarray, q: np.ndarray) -> float:
    return math.atan2(q[1] - p[1], q[0] - p[0])


def turn_deg(p: np.ndarray, v: np.ndarray, q: np.ndarray) -> float:
    """Signed course change at ``v`` going ``p -> v -> q``, degrees, positive to starboard (clockwise)."""
    d = math.degrees(_heading(v, q) - _heading(p, v))
    d = (d + 180.0) % 360.0 - 180.0
    return -d  # math angles are counter-clockwise; course changes to starboard are clockwise


def alter_courses(line: LineString) -> list[AlterCourse]:
    """The A/C points (interior vertices) of a line with their course changes and leg lengths."""
    pts = np.asarray(line.coords, dtype=float)[:, :2]
    out = []
    for i in range(1, len(pts) - 1):
        out.append(
            AlterCourse(
                index=i,
                x=float(pts[i, 0]),
                y=float(pts[i, 1]),
                course_change_deg=turn_deg(pts[i - 1], pts[i], pts[i + 1]),
                leg_in_m=float(np.hypot(*(pts[i] - pts[i - 1]))),
                leg_out_m=float(np.hypot(*(pts[i + 1] - pts[i]))),
            )
        )
    return out


# -- the reduction ------------------------------------------------------------------------------------------------


class _Route:
    """Working state: current vertices, each with the index of the original vertex it stands for."""

    def __init__(
        self,
        original: np.ndarray,
        is_clear: IsClear,
        segment_cost: SegmentCost | None,
        max_cost_increase: float,
    ) -> None:
        self.orig = original
        self.is_clear = is_clear
        self.segment_cost = segment_cost
        self.factor = 1.0 + max_cost_increase
        if segment_cost is not None:
            seg = np.array([segment_cost(*original[i], *original[i + 1]) for i in range(len(original) - 1)])
            finite = np.isfinite(seg)
            self.cum = np.concatenate([[0.0], np.cumsum(np.where(finite, seg, 0.0))])
            self.n_inf = np.concatenate([[0], np.cumsum(~finite)])
        else:
            self.cum = np.zeros(len(original))
            self.n_inf = np.zeros(len(original), dtype=int)

    def clear(self, a: np.ndarray, b: np.ndarray) -> bool:
        return bool(self.is_clear(float(a[0]), float(a[1]), float(b[0]), float(b[1])))

    def cheap(self, points: Sequence[np.ndarray], i_from: int, i_to: int) -> bool:
        """Does the polyline ``points`` cost at most ``factor`` x the original stretch ``i_from..i_to``?"""
        if self.segment_cost is None:
            return True
        new = sum(self.segment_cost(*points[k], *points[k + 1]) for k in range(len(points) - 1))
        if self.n_inf[i_to] - self.n_inf[i_from] > 0:  # the routed stretch itself crosses impassable cells
            return math.isfinite(new)
        old = self.cum[i_to] - self.cum[i_from]
        return new <= self.factor * old + 1e-6

    def ok(self, points: Sequence[np.ndarray], i_from: int, i_to: int) -> bool:
        return all(self.clear(points[k], points[k + 1]) for k in range(len(points) - 1)) and self.cheap(
            points, i_from, i_to
        )


def _douglas_peucker(st: _Route, i: int, j: int) -> list[int]:
    """Original indices kept between ``i`` and ``j`` (inclusive) by the clearance- and cost-bounded reduction."""
    keep = {i, j}
    stack = [(i, j)]
    pts = st.orig
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        if st.ok([pts[a], pts[b]], a, b):
            continue
        chord = pts[b] - pts[a]
        norm = math.hypot(*chord)
        rel = pts[a + 1 : b] - pts[a]
        dist = (
            np.abs(chord[0] * rel[:, 1] - chord[1] * rel[:, 0]) / norm if norm > 0 else np.hypot(rel[:, 0], rel[:, 1])
        )
        k = a + 1 + int(np.argmax(dist))
        keep.add(k)
        stack += [(a, k), (k, b)]
    return sorted(keep)


def simplify_to_legs(
    line: LineString,
    is_clear: IsClear,
    *,
    min_leg_length_m: float,
    max_course_change_deg: float,
    segment_cost: SegmentCost | None = None,
    max_cost_increase: float = 0.02,
    keep: Sequence[int] = (0, -1),
) -> LegPlan:
    """Reduce a routed polyline to straight legs at A/C points, honouring the leg rules without entering exclusions.

    Parameters
    ----------
    line
        The routed polyline in the analysis CRS (e.g. :func:`geodata.engineering.landfall.assemble_route`).
    is_clear
        ``is_clear(x0, y0, x1, y1) -> bool``: may a straight leg run there? See :func:`mask_clearance`.
    min_leg_length_m
        Shortest leg between two A/C points (``Engineering.min_leg_length_m``). Legs between two kept vertices are
        exempt (the shore end).
    max_course_change_deg
        Largest course change at one A/C (``Engineering.max_course_change_deg``).
    segment_cost
        Optional ``segment_cost(x0, y0, x1, y1) -> float`` (see :func:`grid_segment_cost`); with it, no leg may cost
        more than ``1 + max_cost_increase`` times the stretch of routed path it replaces.
    max_cost_increase
        ``Engineering.leg_max_cost_increase_fraction``.
    keep
        Vertex indices (negative allowed) never removed nor moved, e.g.
        :func:`geodata.engineering.landfall.landfall_keep_indices`.

    Returns
    -------
    LegPlan
        ``(line, alter_courses, violations)``; ``violations`` is empty when every rule holds.
    """
    pts, kept = _distinct_vertices(line, keep)
    legs = _shortcut(_Route(pts, is_clear, segment_cost, max_cost_increase), kept)
    _remove_vertices(legs)
    _remove_short_legs(legs, min_leg_length_m)
    _split_sharp_turns(legs, min_leg_length_m, max_course_change_deg)
    out = LineString(legs.verts)
    acs = alter_courses(out)
    violations = _turn_violations(acs, legs.fixed, max_course_change_deg) + _leg_violations(legs, min_leg_length_m)
    return LegPlan(out, acs, violations)


# -- the steps of simplify_to_legs --------------------------------------------------------------------------------


@dataclass
class _Legs:
    """The route being reduced: its vertices, the original vertex each stands for (``anchor``) and whether it is a
    kept vertex that may not move (``fixed``), with the clearance and cost bound of the routed path (``route``)."""

    route: _Route
    verts: list[np.ndarray]
    anchor: list[int]
    fixed: list[bool]

    def ok(self, k_from: int, k_to: int, points: Sequence[np.ndarray]) -> bool:
        """May ``points`` replace the vertices ``k_from..k_to`` (clear and within the cost bound)?"""
        return self.route.ok(points, self.anchor[k_from], self.anchor[k_to])

    def leg_length(self, k: int) -> float:
        """Length of leg ``k`` (from vertex ``k`` to ``k + 1``)."""
        return math.hypot(*(self.verts[k + 1] - self.verts[k]))

    def turn(self, k: int) -> float:
        """Signed course change at vertex ``k``, degrees."""
        return turn_deg(self.verts[k - 1], self.verts[k], self.verts[k + 1])

    def droppable(self, m: int) -> bool:
        """Is ``m`` a movable interior vertex whose neighbours may be joined directly?"""
        return (
            0 < m < len(self.verts) - 1
            and not self.fixed[m]
            and self.ok(m - 1, m + 1, [self.verts[m - 1], self.verts[m + 1]])
        )

    def delete(self, m: int) -> None:
        """Remove vertex ``m``."""
        del self.verts[m], self.anchor[m], self.fixed[m]

    def replace(self, k_from: int, k_to: int, points: list[np.ndarray]) -> None:
        """Replace vertices ``k_from..k_to - 1`` by movable ``points`` standing for ``k_from``'s original vertex."""
        self.anchor[k_from:k_to] = [self.anchor[k_from]] * len(points)
        self.fixed[k_from:k_to] = [False] * len(points)
        self.verts[k_from:k_to] = points


def _distinct_vertices(line: LineString, keep: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """The line's vertices without consecutive repeats, and the (sorted) indices among them of the ``keep`` vertices
    (given in the original numbering, negative allowed) and both ends."""
    pts = np.asarray(line.coords, dtype=float)[:, :2] if not line.is_empty else np.empty((0, 2))
    if len(pts) < 2 or not np.isfinite(pts).all():
        raise InputDataError("the routed line needs at least two finite vertices; check the routing result")
    dup = np.concatenate([[False], np.hypot(*np.diff(pts, axis=0).T) < 1e-9])
    index_map = np.cumsum(~dup) - 1  # new index of each original vertex
    distinct = pts[~dup]
    kept = sorted({int(index_map[k % len(pts)]) for k in keep} | {0, len(distinct) - 1})
    return distinct, kept


def _shortcut(route: _Route, kept: list[int]) -> _Legs:
    """1. Douglas-Peucker between each pair of consecutive kept vertices, bounded by clearance and cost."""
    idx: list[int] = []
    for a, b in itertools.pairwise(kept):
        part = _douglas_peucker(route, a, b)
        idx += part if not idx else part[1:]
    return _Legs(route, [route.orig[i] for i in idx], list(idx), [i in kept for i in idx])


def _remove_vertices(legs: _Legs) -> None:
    """2. Drop movable vertices one at a time, the smallest turn first, while a drop keeps the leg clear and cheap."""
    while True:
        order = sorted((k for k in range(1, len(legs.verts) - 1) if not legs.fixed[k]), key=lambda k: abs(legs.turn(k)))
        dropped = next((k for k in order if legs.droppable(k)), None)
        if dropped is None:
            return
        legs.delete(dropped)


def _merge_ends(legs: _Legs, k: int) -> bool:
    """Replace both (movable) ends of leg ``k`` by the intersection of the neighbouring legs, if that is clear and
    cheap; True when done."""
    if not (0 < k and k + 1 < len(legs.verts) - 1 and not legs.fixed[k] and not legs.fixed[k + 1]):
        return False
    v = legs.verts
    x = _intersection(v[k - 1], v[k], v[k + 1], v[k + 2])
    if x is None or not legs.ok(k - 1, k + 2, [v[k - 1], x, v[k + 2]]):
        return False
    legs.replace(k, k + 2, [x])
    return True


def _fix_short_leg(legs: _Legs, k: int, min_leg: float) -> bool:
    """Remove leg ``k`` if it is short (and not between two kept vertices): drop one of its ends, else merge both;
    True when the route changed."""
    if (legs.fixed[k] and legs.fixed[k + 1]) or legs.leg_length(k) >= min_leg:
        return False
    for m in (k, k + 1):
        if legs.droppable(m):
            legs.delete(m)
            return True
    return _merge_ends(legs, k)


def _remove_short_legs(legs: _Legs, min_leg: float) -> None:
    """3. Remove legs shorter than ``min_leg``, the first one that can be first, until none can."""
    if min_leg <= 0:
        return
    while any(_fix_short_leg(legs, k, min_leg) for k in range(len(legs.verts) - 1)):
        pass


def _split_sharp_turns(legs: _Legs, min_leg: float, max_turn: float) -> None:
    """4. Replace each movable A/C turning more than ``max_turn`` by a polygonal arc of gentler A/Cs, where one fits."""
    k = 1
    while k < len(legs.verts) - 1:
        theta = legs.turn(k)
        arc = None
        if abs(theta) > max_turn + 1e-9 and not legs.fixed[k]:
            arc = _split_turn(legs.route, legs.verts, legs.anchor, k, theta, min_leg, max_turn)
        if arc is None:
            k += 1
            continue
        legs.replace(k, k + 1, arc)
        k += len(arc)


def _turn_violations(acs: Sequence[AlterCourse], fixed: Sequence[bool], max_turn: float) -> list[str]:
    """The A/Cs turning more than ``max_turn``, as messages."""
    return [
        f"A/C at vertex {ac.index} ({ac.x:.0f}, {ac.y:.0f}) turns {abs(ac.course_change_deg):.1f}° > "
        f"max_course_change_deg {max_turn:g}°"
        + (" (kept vertex)" if fixed[ac.index] else "; no clear arc of legs fits here")
        for ac in acs
        if abs(ac.course_change_deg) > max_turn + 1e-6
    ]


def _leg_violations(legs: _Legs, min_leg: float) -> list[str]:
    """The legs (other than between two kept vertices) shorter than ``min_leg`` or not clear, as messages."""
    out: list[str] = []
    v = legs.verts
    for k in range(len(v) - 1):
        if legs.fixed[k] and legs.fixed[k + 1]:
            continue
        length = legs.leg_length(k)
        if length < min_leg - 1e-6:
            out.append(
                f"leg {k + 1} ({v[k][0]:.0f}, {v[k][1]:.0f}) -> ({v[k + 1][0]:.0f}, {v[k + 1][1]:.0f}) "
                f"is {length:.0f} m < min_leg_length_m {min_leg:g} m"
            )
        if not legs.route.clear(v[k], v[k + 1]):
            out.append(f"leg {k + 1} enters a hard exclusion (it was so in the routed path)")
    return out


def _intersection(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray | None:
    """Intersection of the infinite lines p1-p2 and q1-q2 when it lies ahead of p2 and behind q1."""
    d1, d2 = p2 - p1, q2 - q1
    den = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(den) < 1e-12:
        return None
    w = q1 - p1
    t = (w[0] * d2[1] - w[1] * d2[0]) / den
    u = (w[0] * d1[1] - w[1] * d1[0]) / den
    if t < 0 or u > 1:
        return None
    return p1 + t * d1


def _split_turn(
    st: _Route,
    verts: list[np.ndarray],
    anchor: list[int],
    k: int,
    theta_deg: float,
    min_leg: float,
    max_turn: float,
) -> list[np.ndarray] | None:
    """Points of a polygonal arc replacing vertex ``k``: ``n`` turns of ``theta / n`` each, arc legs of length ``s``.

    Tries arc legs from ``min_leg`` upwards and keeps the first that leaves the neighbouring legs at least ``min_leg``
    long (or ends at them when those are kept), stays clear and within the cost bound.
    """
    p, v, q = verts[k - 1], verts[k], verts[k + 1]
    len_in, len_out = math.hypot(*(v - p)), math.hypot(*(q - v))
    u_in, u_out = (v - p) / len_in, (q - v) / len_out
    n = math.ceil(abs(theta_deg) / max_turn - 1e-9)
    delta = -math.radians(theta_deg) / n  # math (counter-clockwise) sense
    h_in = math.atan2(u_in[1], u_in[0])
    dirs = np.array([[math.cos(h_in + j * delta), math.sin(h_in + j * delta)] for j in range(1, n)])
    bis = u_in + u_out
    if np.hypot(*bis) < 1e-6:
        return None  # a U-turn cannot be split into a symmetric arc
    ratio = np.hypot(*dirs.sum(axis=0)) / np.hypot(*bis)
    base = min_leg if min_leg > 0 else 0.25 * min(len_in, len_out) / max(ratio, 1e-9)
    for factor in (1.0, 1.25, 1.5, 2.0, 3.0, 4.0):
        s = base * factor
        a = s * ratio
        room_in = len_in - (0.0 if k - 1 == 0 else min_leg)
        room_out = len_out - (0.0 if k + 1 == len(verts) - 1 else min_leg)
        if a > room_in or a > room_out:
            break
        arc = [v - a * u_in]
        for d in dirs:
            arc.append(arc[-1] + s * d)
        if math.hypot(*(arc[-1] - (v + a * u_out))) > 1e-6 * max(1.0, a):
            return None
        points = [p, *arc, q]
        if st.ok(points, anchor[k - 1], anchor[k + 1]):
            return arc
    return None
