"""The published route is drawn where its KP points are (synthetic route with 170 km legs in the middle Caspian).

KP points are on the true WGS84 geodesic legs; the published ``route`` layer is drawn straight between its vertices
in EPSG:4326 (QGIS) and Web Mercator (the web map). Each KP point's distance to the drawn line is measured in 3-D
Earth-centred coordinates (to a millimetre the geodesic distance at these lengths) against the drawn pieces sampled
every ~40 m.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point

from geodata.geodesy import Chainage, from_lonlat
from geodata.publish.gpkg import prepare_layers

TO_ECEF = Transformer.from_crs("EPSG:4326", "EPSG:4978", always_xy=True)
TO_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
FROM_3857 = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
ROUTE = LineString([(49.10, 41.10), (49.60, 41.90), (50.40, 42.60), (51.20, 43.60), (51.25, 43.62)])


def _ecef(ll: np.ndarray) -> np.ndarray:
    return np.column_stack(TO_ECEF.transform(ll[:, 0], ll[:, 1], np.zeros(len(ll))))


def _drawn(line: LineString, projection: str) -> np.ndarray:
    ll = np.asarray(line.coords)
    s = np.linspace(0, 1, 201)[None, :, None]
    if projection == "EPSG:4326":
        return (ll[:-1, None] + (ll[1:, None] - ll[:-1, None]) * s).reshape(-1, 2)
    xy = np.column_stack(TO_3857.transform(ll[:, 0], ll[:, 1]))
    m = (xy[:-1, None] + (xy[1:, None] - xy[:-1, None]) * s).reshape(-1, 2)
    return np.column_stack(FROM_3857.transform(m[:, 0], m[:, 1]))


def _distance_m(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    p, t = _ecef(points), _ecef(polyline)
    _, idx = cKDTree(t).query(p)
    best = np.full(len(p), np.inf)
    for j in (np.clip(idx + k, 0, len(t) - 2) for k in (-2, -1, 0, 1)):  # duplicates at piece joins
        a, ab = t[j], t[j + 1] - t[j]
        s = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(a + ab * s[:, None] - p, axis=1))
    return best


def _kp_points(route: LineString) -> gpd.GeoDataFrame:
    ch = Chainage(route)
    lon, lat = ch.point_at(ch.stations(1000.0))
    return gpd.GeoDataFrame({"kp_km": ch.kp_km(ch.stations(1000.0))}, geometry=gpd.points_from_xy(lon, lat), crs=4326)


@pytest.mark.parametrize("projection", ["EPSG:4326", "EPSG:3857"])
def test_kp_points_lie_on_the_drawn_route(projection: str) -> None:
    kp = _kp_points(ROUTE)
    layers = {"route": gpd.GeoDataFrame({"name": ["synthetic"]}, geometry=[ROUTE], crs=4326), "kp_points": kp}
    published = prepare_layers(layers)["route"].geometry.iloc[0]
    pts = np.column_stack([kp.geometry.x, kp.geometry.y])
    raw = _distance_m(pts, _drawn(ROUTE, projection))
    assert raw.max() > 150, "the synthetic legs must be visibly off their KP points when drawn undensified"
    dist = _distance_m(pts, _drawn(published, projection))
    assert dist.max() <= 10.0, f"KP point {int(dist.argmax())} is {dist.max():.1f} m off the drawn route"
    # the analysis geometry is not changed, and the published route keeps every vertex of it
    assert len(layers["route"].geometry.iloc[0].coords) == 5
    assert set(ROUTE.coords) <= set(published.coords)


def test_projected_layers_are_densified_before_reprojection_and_hazards_left_as_read() -> None:
    utm_line = from_lonlat(LineString([(49.2, 41.2), (51.0, 43.2)]), 32639)
    layers = {
        "route_alternatives": gpd.GeoDataFrame({"rank": [1]}, geometry=[utm_line], crs=32639),
        "hazards": gpd.GeoDataFrame(
            {"kind": ["pipeline", "earthquake"]},
            geometry=[LineString([(47.0, 41.0), (52.0, 43.0)]), Point(50, 42)],
            crs=4326,
        ),
    }
    out = prepare_layers(layers)
    alt = out["route_alternatives"].geometry.iloc[0]
    assert out["route_alternatives"].crs.to_epsg() == 4326
    assert len(alt.coords) > 10
    # the inserted points are on the UTM straight line
    back = from_lonlat(alt, 32639)
    assert max(back.distance(Point(c)) for c in back.coords) < 1e-3 + utm_line.distance(Point(utm_line.coords[0]))
    assert max(utm_line.distance(Point(c)) for c in back.coords) < 0.01
    # hazards are densified in their source CRS when read: the publication takes them as they are
    assert len(out["hazards_lines"].geometry.iloc[0].coords) == 2
