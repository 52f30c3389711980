"""The faster forms of the boundary computations give the same answers as the plain ones they replace (#14)."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from geodata.boundaries.coast import _NearestState, _subdivide


def _wiggly(cx: float, cy: float, r: float, n: int, seed: int) -> Polygon:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = r * (1 + 0.3 * rng.random(n))
    return Polygon(np.column_stack([cx + rad * np.cos(t), cy + rad * np.sin(t)]))


def test_subdivide_covers_the_polygon_exactly() -> None:
    poly = _wiggly(0, 0, 1e5, 3000, 1)
    parts = _subdivide(poly, 64)
    assert len(parts) > 20
    assert max(shapely.get_num_coordinates(parts)) <= 64 + 8  # a clip adds at most a few box corners
    assert abs(sum(p.area for p in parts) - poly.area) < 1e-6 * poly.area
    assert shapely.union_all(parts).symmetric_difference(poly).area < 1e-6 * poly.area


def test_nearest_state_matches_a_tree_of_the_whole_polygons() -> None:
    polys = [_wiggly(0, 0, 1e5, 2000, 1), _wiggly(3e5, 0, 1.2e5, 2500, 2), _wiggly(1.5e5, 2.5e5, 0.8e5, 1500, 3)]
    rng = np.random.default_rng(7)
    pts = shapely.points(rng.uniform(-2e5, 5e5, (3000, 2)))
    whole = shapely.STRtree(polys)
    expected = np.empty(len(pts), dtype=np.intp)
    q, t = whole.query_nearest(pts, all_matches=False)
    expected[q] = t
    got = _NearestState(polys).points(pts)
    assert (got == expected).all()


def test_a_tie_is_decided_on_the_whole_polygons() -> None:
    # two squares sharing an edge: points on it are at distance 0 from both
    a = shapely.box(0, 0, 1e4, 1e4).segmentize(50.0)
    b = shapely.box(1e4, 0, 2e4, 1e4).segmentize(50.0)
    polys = [a, b]
    pts = shapely.points(np.column_stack([np.full(50, 1e4), np.linspace(100, 9900, 50)]))
    whole = shapely.STRtree(polys)
    q, t = whole.query_nearest(pts, all_matches=False)
    expected = np.empty(len(pts), dtype=np.intp)
    expected[q] = t
    near = _NearestState(polys)
    assert (near.points(pts) == expected).all()
    # an island equidistant from both goes to the first, as np.argmin of the distances did
    island = shapely.box(9e3, 1.2e4, 1.1e4, 1.3e4)
    assert near.first_nearest(island) == int(np.argmin([island.distance(p) for p in polys])) == 0
    far = shapely.box(1.5e4, 1.2e4, 1.6e4, 1.3e4)
    assert near.first_nearest(far) == 1
