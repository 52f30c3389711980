"""Errors of the routing engine. Each message names the offending input and how to fix it.

All derive from :class:`RoutingError`, itself a :class:`geodata.errors.CorridorError` (a ``ValueError``).
"""

from __future__ import annotations

from geodata.errors import CorridorError


class RoutingError(CorridorError):
    """Base class of every error the routing engine raises on purpose."""


class InvalidCostSurface(RoutingError):
    """The cost array is not a 2-D numeric array of non-negative costs with at least one passable cell."""


class InvalidCellSize(RoutingError):
    """``cell_size`` is not two positive finite numbers, or disagrees with a given transform."""


class PointOutsideGrid(RoutingError):
    """A start, goal or source position lies outside the cost grid."""


class PointImpassable(RoutingError):
    """A start, goal or source position lies on an impassable (NaN or +inf) cell."""


class GoalUnreachable(RoutingError):
    """No passable route joins start and goal: they lie in different connected components of passable cells.

    Attributes ``start_component`` / ``goal_component`` are the component labels (4-connectivity of passable
    cells, which is exactly the connectivity of the search graph since diagonal gaps are walls) and
    ``start_component_cells`` / ``goal_component_cells`` their sizes in cells.
    """

    def __init__(
        self,
        message: str,
        *,
        start_component: int = -1,
        goal_component: int = -1,
        start_component_cells: int = 0,
        goal_component_cells: int = 0,
    ) -> None:
        super().__init__(message)
        self.start_component = start_component
        self.goal_component = goal_component
        self.start_component_cells = start_component_cells
        self.goal_component_cells = goal_component_cells
