"""Geodesy: degree-minute formatting and the geodesic chainage (KP), checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import LineString

from geodata.errors import InputDataError
from geodata.geodesy import Chainage, format_dm


def vincenty_inverse(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Vincenty (1975) inverse on WGS84, written out from the textbook: an independent geodesic distance."""
    a, f = 6378137.0, 1 / 298.257223563
    b = (1 - f) * a
    L = math.radians(lon2 - lon1)
    U1, U2 = math.atan((1 - f) * math.tan(math.radians(lat1))), math.atan((1 - f) * math.tan(math.radians(lat2)))
    sinU1, cosU1, sinU2, cosU2 = math.sin(U1), math.cos(U1), math.sin(U2), math.cos(U2)
    lam = L
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cosU2 * sin_lam, cosU1 * sinU2 - sinU1 * cosU2 * cos_lam)
        cos_sigma = sinU1 * sinU2 + cosU1 * cosU2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cosU1 * cosU2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * sinU1 * sinU2 / cos2_alpha
        C = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        lam_prev = lam
        lam = L + (1 - C) * f * sin_alpha * (sigma + C * sin_sigma * (cos_2sm + C * cos_sigma * (-1 + 2 * cos_2sm**2)))
        if abs(lam - lam_prev) < 1e-13:
            break
    u2 = cos2_alpha * (a**2 - b**2) / b**2
    A = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
    B = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
    d_sigma = (
        B
        * sin_sigma
        * (
            cos_2sm
            + B
            / 4
            * (cos_sigma * (-1 + 2 * cos_2sm**2) - B / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2))
        )
    )
    return b * A * (sigma - d_sigma)


# Siyazan -> a few A/Cs across the middle Caspian -> Aktau: about 380 km
LONG_ROUTE = LineString([(49.1125, 41.0783), (49.30, 41.12), (50.13, 42.33), (50.90, 43.30), (51.15, 43.65)])


def test_format_dm_examples() -> None:
    assert format_dm(41.0783, "lat") == "41°04.698'N"
    assert format_dm(49.1125, "lon") == "049°06.750'E"
    assert format_dm(-12.5, "lat") == "12°30.000'S"
    assert format_dm(-0.25, "lon") == "000°15.000'W"


def test_format_dm_rounds_into_the_next_degree() -> None:
    assert format_dm(41 + 59.9996 / 60, "lat") == "42°00.000'N"
    assert format_dm(41 + 59.9994 / 60, "lat") == "41°59.999'N"
    assert format_dm(49 + 59.99951 / 60, "lon") == "050°00.000'E"
    assert "60.000" not in format_dm(41 + 59.9995 / 60, "lat")


def test_format_dm_rejects_out_of_range() -> None:
    with pytest.raises(InputDataError):
        format_dm(95.0, "lat")


def test_kp_agrees_with_independent_geodesic_within_1m_per_100km() -> None:
    ch = Chainage(LONG_ROUTE)
    c = np.asarray(LONG_ROUTE.coords)
    independent = sum(vincenty_inverse(c[i, 1], c[i, 0], c[i + 1, 1], c[i + 1, 0]) for i in range(len(c) - 1))
    assert ch.length_m > 300_000
    tolerance = 1.0 * ch.length_m / 100_000
    assert abs(ch.length_m - independent) < tolerance
    # cumulative KP at every vertex, too
    running = 0.0
    for i in range(1, len(c)):
        running += vincenty_inverse(c[i - 1, 1], c[i - 1, 0], c[i, 1], c[i, 0])
        assert abs(ch.cum_m[i] - running) < tolerance


def test_kp_of_points_on_legs_and_densified_length() -> None:
    ch = Chainage(LONG_ROUTE)
    dense, dists = ch.densified(500.0)
    assert abs(Geod(ellps="WGS84").line_length(*np.asarray(dense.coords).T) - ch.length_m) < 0.01
    lon, lat = ch.point_at([12_345.0, 200_000.0])
    assert ch.locate(float(lon[0]), float(lat[0])) == pytest.approx(12_345.0, abs=0.5)
    assert ch.locate(float(lon[1]), float(lat[1])) == pytest.approx(200_000.0, abs=0.5)
    assert np.all(np.diff(dists) <= 500.0 + 1e-6)


def test_chainage_rejects_projected_coordinates() -> None:
    with pytest.raises(InputDataError, match="to_lonlat"):
        Chainage(LineString([(400000, 4600000), (410000, 4610000)]))


# -- points along a line ---------------------------------------------------------------------------------------------


def test_interpolate_along_places_shapelys_points_exactly() -> None:
    """Bit for bit shapely.line_interpolate_point on random lines (zero-length segments, rings, scales from mm to
    100 km), at random distances, negative ones (from the end), beyond both ends and exactly at every vertex."""
    import shapely

    from geodata.geodesy import interpolate_along

    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(2, 50))
        xy = np.cumsum(rng.normal(size=(n, 2)) * rng.choice([1e-3, 1.0, 1e5]), axis=0) + rng.normal() * 1e6
        if rng.random() < 0.3:
            k = int(rng.integers(0, n))
            xy = np.insert(xy, k, xy[k], axis=0)
        if rng.random() < 0.2:
            xy = np.vstack([xy, xy[:1]])
        line = shapely.LineString(xy)
        length = line.length
        vertices = np.cumsum(np.sqrt((np.diff(xy, axis=0) ** 2).sum(axis=1)))
        d = np.concatenate(
            [rng.uniform(-1.2 * length, 1.2 * length, 40), np.linspace(0, length, 15), [0.0, length, -length], vertices]
        )
        want = shapely.get_coordinates(shapely.line_interpolate_point(line, d))
        np.testing.assert_array_equal(interpolate_along(line, d), want)
    multi = shapely.MultiLineString([[(0, 0), (1, 0)], [(5, 5), (5, 9)]])
    np.testing.assert_array_equal(
        interpolate_along(multi, [0.5, 3.0]), shapely.get_coordinates(shapely.line_interpolate_point(multi, [0.5, 3.0]))
    )
