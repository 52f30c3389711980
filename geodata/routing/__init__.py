"""Least-cost routing on cost rasters (issue #4): exact-cost A*/Dijkstra on a 16-neighbourhood graph plus a
provably safe any-angle post-optimisation, accumulated-cost surfaces, corridors, alternatives, coarse-to-fine.

Pure library: numpy, numba, scipy; shapely/rasterio only for polygons. Never imports dagster.
"""

from __future__ import annotations

from geodata.routing.alternatives import alternative_routes, separation
from geodata.routing.core import (
    SEARCH_BYTES_PER_CELL,
    RouteResult,
    Separation,
    accumulated_cost,
    path_cost,
    path_length,
    path_xy,
)
from geodata.routing.corridor import CorridorResult, least_cost_corridor, mask_to_polygons
from geodata.routing.errors import (
    GoalUnreachable,
    InvalidCellSize,
    InvalidCostSurface,
    PointImpassable,
    PointOutsideGrid,
    RoutingError,
)
from geodata.routing.path import least_cost_path

__all__ = [
    "SEARCH_BYTES_PER_CELL",
    "CorridorResult",
    "GoalUnreachable",
    "InvalidCellSize",
    "InvalidCostSurface",
    "PointImpassable",
    "PointOutsideGrid",
    "RouteResult",
    "RoutingError",
    "Separation",
    "accumulated_cost",
    "alternative_routes",
    "least_cost_corridor",
    "least_cost_path",
    "mask_to_polygons",
    "path_cost",
    "path_length",
    "path_xy",
    "separation",
]
