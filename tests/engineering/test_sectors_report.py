"""Sector-crossing report: spans, lengths and the boundary points to notify."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import LineString, Polygon

from geodata.engineering.sectors import sector_crossing_report, sector_events

SECTORS = gpd.GeoDataFrame(
    {"country": ["AZE", "KAZ"]},
    geometry=[
        Polygon([(48, 40), (50.5, 40), (50.5, 45), (48, 45)]),
        Polygon([(50.5, 40), (53, 40), (53, 45), (50.5, 45)]),
    ],
    crs=4326,
)


def test_spans_and_boundary_point() -> None:
    route = LineString([(47.9, 42.0), (49.0, 42.0), (52.0, 42.5)])  # starts on 'land' west of the sectors
    rep = sector_crossing_report(route, SECTORS)
    assert rep.spans.country.tolist() == [None, "AZE", "KAZ"]
    total = Geod(ellps="WGS84").line_length(*np.asarray(route.coords).T)
    assert rep.spans.length_km.sum() * 1000 == pytest.approx(total, abs=0.01)
    bp = rep.boundary_points
    assert bp.to_country.tolist() == ["AZE", "KAZ"]
    assert bp.lon_deg.tolist() == pytest.approx([48.0, 50.5], abs=1e-6)
    assert bp.lat_dm.iloc[1].endswith("N")
    assert bp.lon_dm.iloc[1] == "050°30.000'E"
    assert rep.spans.kp_to_km.iloc[1] == pytest.approx(bp.kp_km.iloc[1])
    events = sector_events(rep)
    assert events[1].name == "Sector AZE / KAZ"


def test_kp_origin_shifts_the_report() -> None:
    route = LineString([(48.5, 42.0), (52.0, 42.0)])
    rep = sector_crossing_report(route, SECTORS, kp_origin=(49.0, 42.0))
    assert rep.spans.kp_from_km.iloc[0] < 0
