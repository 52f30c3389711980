"""Route events: the named positions on a route (landing, beach manhole, shore crossing, A/C, crossing, sector
boundary, 2018 Convention zone limit, close approach to existing infrastructure, cable-type change), their kinds
and the order in which two on one position are listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Event kinds of the RPL, in the order they are listed when two fall on the same position.
LANDING = "landing"
BEACH_MANHOLE = "beach_manhole"
SHORE_CROSSING = "shore_crossing"
ALTER_COURSE = "A/C"
CROSSING = "crossing"
SECTOR_BOUNDARY = "sector_boundary"
ZONE_LIMIT = "zone_limit"
CLOSE_APPROACH = "close_approach"
CABLE_TYPE_CHANGE = "cable_type_change"
ROUTE_START = "route_start"
ROUTE_END = "route_end"
VERTEX = "vertex"
EVENT_ORDER = (
    ROUTE_START,
    LANDING,
    BEACH_MANHOLE,
    SHORE_CROSSING,
    ALTER_COURSE,
    VERTEX,
    CROSSING,
    SECTOR_BOUNDARY,
    ZONE_LIMIT,
    CLOSE_APPROACH,
    CABLE_TYPE_CHANGE,
    ROUTE_END,
)


@dataclass(frozen=True)
class RouteEvent:
    """A named position on (or next to) the route: landing, beach manhole, crossing, sector boundary...

    ``kind`` is one of the module's event constants; ``lon_deg``/``lat_deg`` are WGS84 and are snapped to the
    route; ``remarks`` go into the RPL as they are.
    """

    kind: str
    name: str
    lon_deg: float
    lat_deg: float
    remarks: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
