"""Input lines densified in their source CRS when read, so that a crossing computed in the analysis CRS lies on the
line as QGIS (straight in EPSG:4326) and the web map (straight in Web Mercator) draw it (synthetic inventories).

The synthetic pipeline is one 543 km segment drawn straight in EPSG:4326 (as GEM's routes are); read undensified and
reprojected vertex by vertex to UTM 39N it becomes a UTM straight line, which runs kilometres from the EPSG:4326 one.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString

from geodata.engineering.crossings import find_crossings
from geodata.hazards.readers import read_user_inventory

G = Geod(ellps="WGS84")
UTM = "EPSG:32639"
PIPE = [(46.0, 41.0), (52.2, 43.4)]  # 543 km, straight in EPSG:4326
ROUTE_LONLAT = [(49.3, 40.2), (49.3, 44.0)]  # a meridian, straight in UTM, EPSG:4326 and Web Mercator alike


def _off_drawn_line_m(lon: float, lat: float, line: LineString, crs: str) -> float:
    """Geodesic distance (m) from a point to ``line`` (EPSG:4326 vertices) drawn straight between its vertices in
    ``crs``: the nearest point on the drawn line, found in ``crs``, brought back to lon/lat."""
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xy = np.column_stack(fwd.transform(*np.asarray(line.coords).T))
    drawn = LineString(xy)
    p = shapely.Point(fwd.transform(lon, lat))
    foot = drawn.interpolate(drawn.project(p))
    flon, flat = back.transform(foot.x, foot.y)
    return float(G.inv(lon, lat, flon, flat)[2])


def _crossing(lines: gpd.GeoDataFrame) -> tuple[float, float]:
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(*np.array(ROUTE_LONLAT).T)
    route = LineString(np.column_stack([x, y]))
    xs = find_crossings(route, lines, crs=UTM)
    assert len(xs) == 1
    return float(xs["lon_deg"].iloc[0]), float(xs["lat_deg"].iloc[0])


def _inventory(tmp_path: Path, line: LineString, crs: str) -> Path:
    path = tmp_path / "pipes.gpkg"
    gpd.GeoDataFrame({"kind": ["pipeline"], "name": ["P"]}, geometry=[line], crs=crs).to_file(path, layer="pipes")
    return path


@pytest.mark.parametrize("drawn_in", ["EPSG:4326", "EPSG:3857"])
def test_a_crossing_marker_lies_on_the_line_as_drawn(tmp_path: Path, drawn_in: str) -> None:
    table, _ = read_user_inventory(_inventory(tmp_path, LineString(PIPE), "EPSG:4326"))
    pipe = table.geometry.iloc[0]
    assert len(pipe.coords) > 20  # densified when read
    assert pipe.coords[0] == pytest.approx(PIPE[0])
    assert pipe.coords[-1] == pytest.approx(PIPE[-1])
    lon, lat = _crossing(table)
    assert _off_drawn_line_m(lon, lat, pipe, drawn_in) < 10.0
    assert _off_drawn_line_m(lon, lat, LineString(PIPE), "EPSG:4326") < 10.0  # on the source's own straight line


def test_undensified_the_crossing_is_kilometres_off_the_drawn_line() -> None:
    """What the reader's densification prevents: the raw two-vertex pipeline crossed in UTM."""
    raw = gpd.GeoDataFrame({"hazard_id": ["P"], "kind": ["pipeline"], "name": ["P"]}, geometry=[LineString(PIPE)])
    lon, lat = _crossing(raw.set_crs(4326))
    assert _off_drawn_line_m(lon, lat, LineString(PIPE), "EPSG:4326") > 1000.0


def test_a_line_drawn_in_a_projected_crs_keeps_its_course(tmp_path: Path) -> None:
    """A lane drawn straight in UTM 38N: its vertices in the table (EPSG:4326) lie on that straight line, spaced so
    that QGIS's EPSG:4326 drawing stays within 10 m of it."""
    to_38 = Transformer.from_crs("EPSG:4326", "EPSG:32638", always_xy=True)
    a, b = to_38.transform(48.6, 40.5), to_38.transform(51.8, 44.5)
    table, report = read_user_inventory(_inventory(tmp_path, LineString([a, b]), "EPSG:32638"))
    assert report["reprojected_from"] == "EPSG:32638"
    lane = table.geometry.iloc[0]
    assert len(lane.coords) > 10
    back = np.column_stack(to_38.transform(*np.asarray(lane.coords).T))
    source = LineString([a, b])
    assert max(source.distance(shapely.Point(p)) for p in back) < 0.01  # metres: on the source's straight line
    # every drawn EPSG:4326 piece's middle is within 10 m of the source line
    mids = (np.asarray(lane.coords)[1:] + np.asarray(lane.coords)[:-1]) / 2
    off = [source.distance(shapely.Point(to_38.transform(*m))) for m in mids]
    assert max(off) < 10.0
