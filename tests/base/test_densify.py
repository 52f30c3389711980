"""Densified lines stay within 10 m of the true line however they are drawn (synthetic lines at Caspian latitudes).

The bound is checked independently of the library's own error estimate: every piece between two vertices is sampled
along its straight segment in EPSG:4326 and in Web Mercator, and each sample's distance to the true line (sampled
every 50 m, measured in 3-D Earth-centred coordinates, where 10 m on the surface is 10 m of chord) is taken.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Polygon

from geodata.errors import ConfigError, InputDataError
from geodata.geodesy import GEOD, densify_frame, densify_geodesic, densify_geometry, densify_straight

TO_ECEF = Transformer.from_crs("EPSG:4326", "EPSG:4978", always_xy=True)
TO_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
FROM_3857 = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)

# synthetic legs: a route-like polyline with 170 km legs, a 543 km segment, N-S / E-W legs, a far-north leg
ROUTE = [(49.10, 41.10), (49.60, 41.90), (50.40, 42.60), (51.20, 43.60)]
LONG = [(46.0, 41.0), (52.2, 43.4)]
NS = [(49.0, 38.0), (51.0, 46.0)]  # nearly north-south (a meridian is straight in both projections)
EW = [(47.0, 42.0), (54.0, 42.0)]
NORTH = [(20.0, 70.0), (35.0, 71.0)]


def _ecef(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y, z = TO_ECEF.transform(lon, lat, np.zeros_like(lon))
    return np.column_stack([x, y, z])


def _true_geodesic(vertices: list[tuple[float, float]]) -> np.ndarray:
    pts = []
    for (lon0, lat0), (lon1, lat1) in itertools.pairwise(vertices):
        g = GEOD.inv_intermediate(
            lon0, lat0, lon1, lat1, del_s=50.0, initial_idx=0, terminus_idx=0, return_back_azimuth=True
        )
        pts.append(np.column_stack([g.lons, g.lats]))
    return np.concatenate(pts)


def _true_straight(vertices: list[tuple[float, float]], crs: str) -> np.ndarray:
    xy = np.asarray(vertices, dtype=float)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    pts = []
    for a, b in itertools.pairwise(xy):
        lon, lat = to_ll.transform(*(a + (b - a) * np.linspace(0, 1, 20_001)[:, None]).T)
        pts.append(np.column_stack([lon, lat]))
    return np.concatenate(pts)


def _distance_to_polyline_m(points_ll: np.ndarray, truth_ll: np.ndarray) -> np.ndarray:
    """3-D distance of each point to the polyline through ``truth_ll`` (nearest of the adjacent segments)."""
    p, t = _ecef(*points_ll.T), _ecef(*truth_ll.T)
    _, idx = cKDTree(t).query(p)
    best = np.full(len(p), np.inf)
    for j0 in (idx - 2, idx - 1, idx, idx + 1):  # duplicated points at the joins of the pieces
        j0 = np.clip(j0, 0, len(t) - 2)
        a, b = t[j0], t[j0 + 1]
        ab = b - a
        s = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(a + ab * s[:, None] - p, axis=1))
    return best


def _drawn_samples(line_ll: np.ndarray, per_piece: int = 41) -> dict[str, np.ndarray]:
    """Points along the straight pieces between consecutive vertices, drawn in EPSG:4326 and in Web Mercator."""
    s = np.linspace(0, 1, per_piece)[None, :, None]
    a, b = line_ll[:-1, None, :], line_ll[1:, None, :]
    plate = (a + (b - a) * s).reshape(-1, 2)
    xy = np.column_stack(TO_3857.transform(line_ll[:, 0], line_ll[:, 1]))
    am, bm = xy[:-1, None, :], xy[1:, None, :]
    merc = (am + (bm - am) * s).reshape(-1, 2)
    return {"EPSG:4326": plate, "EPSG:3857": np.column_stack(FROM_3857.transform(merc[:, 0], merc[:, 1]))}


def _worst_m(line: LineString, truth: np.ndarray) -> dict[str, float]:
    return {
        k: float(_distance_to_polyline_m(v, truth).max()) for k, v in _drawn_samples(np.asarray(line.coords)).items()
    }


@pytest.mark.parametrize("vertices", [ROUTE, LONG, NS, EW, NORTH], ids=["route", "543km", "n-s", "e-w", "north"])
def test_geodesic_densification_within_10_m_in_both_projections(vertices: list[tuple[float, float]]) -> None:
    truth = _true_geodesic(vertices)
    raw = _worst_m(LineString(vertices), truth)
    assert max(raw.values()) > 100, f"the synthetic leg must be visibly off when drawn raw: {raw}"
    dense = densify_geodesic(LineString(vertices), max_error_m=10)
    worst = _worst_m(dense, truth)
    assert max(worst.values()) <= 10.0, worst
    # every original vertex is kept, in order, exactly
    coords = [tuple(c) for c in dense.coords]
    assert [coords.index(v) for v in vertices] == sorted(coords.index(v) for v in vertices)
    # the inserted points are on the geodesic (to a millimetre) and the geodesic length is unchanged
    assert _distance_to_polyline_m(np.asarray(dense.coords), truth).max() < 0.01
    assert GEOD.geometry_length(dense) == pytest.approx(GEOD.geometry_length(LineString(vertices)), abs=0.01)


def test_geodesic_densification_is_economical() -> None:
    """A tighter bound costs more points, and a short leg (the error of a 5 km leg is centimetres) gets none."""
    leg = LineString(ROUTE[:2])
    assert len(densify_geodesic(leg, 10).coords) < len(densify_geodesic(leg, 1).coords) < 200
    short = LineString([(49.10, 41.10), (49.15, 41.13)])
    assert len(densify_geodesic(short, 10).coords) == 2
    assert len(densify_geodesic(leg, 10).coords) < 40


@pytest.mark.parametrize(
    ("vertices", "crs"),
    [(LONG, "EPSG:4326"), ([(300_000.0, 4_550_000.0), (520_000.0, 4_800_000.0)], "EPSG:32639")],
    ids=["pipeline-4326", "utm-line"],
)
def test_straight_densification_follows_the_source_line(vertices: list[tuple[float, float]], crs: str) -> None:
    truth = _true_straight(vertices, crs)
    dense = densify_straight(LineString(vertices), crs, max_error_m=10)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    dense_ll = LineString(np.column_stack(to_ll.transform(*np.asarray(dense.coords).T)))
    raw_ll = LineString(np.column_stack(to_ll.transform(*np.asarray(vertices).T)))
    assert max(_worst_m(raw_ll, truth).values()) > 100
    worst = _worst_m(dense_ll, truth)
    assert max(worst.values()) <= 10.0, worst
    # the pieces drawn as geodesics (how a UTM map draws them, nearly) are within the bound too
    lon, lat = np.asarray(dense_ll.coords).T
    mids = []
    for i in range(len(lon) - 1):
        g = GEOD.inv_intermediate(
            lon[i], lat[i], lon[i + 1], lat[i + 1], npts=9, initial_idx=1, terminus_idx=1, return_back_azimuth=True
        )
        mids.append(np.column_stack([g.lons, g.lats]))
    assert _distance_to_polyline_m(np.concatenate(mids), truth).max() <= 10.0


def test_densify_geometry_polygons_and_frames() -> None:
    import geopandas as gpd

    ring = Polygon([(47.0, 40.0), (53.0, 40.0), (53.0, 46.0), (47.0, 46.0)])
    dense = densify_geometry(ring)
    assert len(dense.exterior.coords) > 5
    assert dense.is_valid
    frame = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[ring, LineString(LONG)], crs="EPSG:4326")
    out = densify_frame(frame)
    assert out.crs == frame.crs
    assert list(out["name"]) == ["a", "b"]
    assert len(out.geometry.iloc[1].coords) > 2
    assert len(frame.geometry.iloc[1].coords) == 2
    with pytest.raises(InputDataError, match="EPSG:4326"):
        densify_frame(frame.to_crs(32639), geodesic=True)
    with pytest.raises(ConfigError, match="positive"):
        densify_geodesic(LineString(LONG), max_error_m=0)
