"""RPL, KP, profile and degree-minute formatting, checked against independent computations."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import LineString

from geodata.deliverables.rpl import (
    RPL_COLUMNS,
    build_rpl,
    cable_sections,
    kp_points,
    route_profile,
    validate_bands,
    write_rpl_csv,
    write_rpl_gpkg,
)
from geodata.engineering.events import BEACH_MANHOLE, CABLE_TYPE_CHANGE, LANDING, RouteEvent
from geodata.errors import ConfigError, InputDataError
from geodata.geodesy import Chainage, format_dm, to_lonlat
from geodata.grid import GeoGrid, Raster
from geodata.scenario import CableBand, Engineering


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
    from pyproj import Geod

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


@pytest.fixture
def ramp() -> tuple[GeoGrid, Raster, Raster]:
    """UTM 39N grid whose depth rises 2 m per km eastwards from -20 m (land) at its west edge."""
    grid = GeoGrid("EPSG:32639", Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_700_000.0), (60, 400))
    _, cols = np.mgrid[0:60, 0:400]
    depth = Raster((cols * 2.0 - 20.0).astype("float32"), grid)
    slope = Raster(np.full(grid.shape, 0.5, "float32"), grid)
    return grid, depth, slope


def test_build_rpl_positions_kp_origin_and_cable_types(ramp: tuple[GeoGrid, Raster, Raster], tmp_path) -> None:
    grid, depth, slope = ramp
    route = to_lonlat(LineString([(301_000, 4_670_000), (306_000, 4_670_000), (600_000, 4_680_000)]), grid.crs)
    bmh = to_lonlat(LineString([(306_000, 4_670_000), (306_001, 4_670_000)]), grid.crs).coords[0]
    events = [
        RouteEvent(LANDING, "Alpha", *route.coords[0]),
        RouteEvent(BEACH_MANHOLE, "BMH Alpha", *bmh),
    ]
    rpl = build_rpl(route, events, depth, slope, Engineering())
    assert list(rpl.columns[: len(RPL_COLUMNS)]) == RPL_COLUMNS
    assert rpl.crs.to_epsg() == 4326
    assert (np.diff(rpl["kp_km"]) >= 0).all()
    assert rpl.loc[rpl.event == BEACH_MANHOLE, "kp_km"].item() == pytest.approx(0.0, abs=1e-6)
    assert rpl.loc[rpl.event == LANDING, "kp_km"].item() == pytest.approx(-5.0, abs=0.05)
    changes = rpl[rpl.event == CABLE_TYPE_CHANGE]
    # depth = 2 m/km * (x - 300 km)/1 km - 20, sampled at cell centres: 50 m near x = 335.5 km, 400 m near 510.5 km
    assert len(changes) == 2
    assert changes.water_depth_m.to_numpy() == pytest.approx([50.0, 400.0], abs=1.0)
    assert rpl.cable_type.iloc[0].startswith("DA") and rpl.cable_type.iloc[-1].startswith("LWP")
    # cumulative cable length includes each section's slack
    last = rpl.iloc[-1]
    assert last.cable_length_km > last.kp_km * 1.015
    assert last.cable_length_km < last.kp_km * 1.03
    # leg lengths add up to the KP
    legs = rpl.leg_length_km.to_numpy()[:-1]
    assert legs.sum() == pytest.approx(rpl.kp_km.iloc[-1] - rpl.kp_km.iloc[0], abs=1e-3)
    csv = write_rpl_csv(rpl, tmp_path / "rpl.csv")
    back = pd.read_csv(csv)
    assert list(back.columns) == RPL_COLUMNS and len(back) == len(rpl)
    gpkg = write_rpl_gpkg(rpl, tmp_path / "rpl.gpkg")
    assert len(gpd.read_file(gpkg, layer="rpl")) == len(rpl)


def test_route_profile_and_kp_points(ramp: tuple[GeoGrid, Raster, Raster]) -> None:
    grid, depth, slope = ramp
    route = to_lonlat(LineString([(301_000, 4_670_000), (340_000, 4_660_000), (380_000, 4_662_000)]), grid.crs)
    prof = route_profile(route, depth, slope, 100.0)
    assert np.diff(prof.distance_m).max() <= 100.0 + 1e-6
    assert prof.kp_km.iloc[0] == 0 and prof.kp_km.iloc[-1] == pytest.approx(Chainage(route).length_m / 1000)
    assert np.isfinite(prof.water_depth_m).all()
    kps = kp_points(route, 1000.0, depth=depth, slope=slope)
    assert np.allclose(kps.kp_km, np.arange(len(kps)))
    assert kps.label.iloc[3] == "KP 3"


def test_bands_must_meet() -> None:
    with pytest.raises(ConfigError, match="cable_bands"):
        validate_bands(
            [
                CableBand(cable_type="A", min_depth_m=0, max_depth_m=50, burial_depth_m=1, slack_pct=1),
                CableBand(cable_type="B", min_depth_m=60, max_depth_m=500, burial_depth_m=0, slack_pct=2),
            ]
        )


def test_short_cable_sections_take_the_more_protective_type() -> None:
    bands = validate_bands(Engineering().cable_bands)
    d = np.arange(0, 20_001, 100.0)
    z = np.where((d > 8000) & (d < 8500), 55.0, 45.0)  # a 500 m dip below the 50 m limit
    sections = cable_sections(d, z, bands, 1000.0)
    assert sections == [(0.0, 20_000.0, 0)]
    assert len(cable_sections(d, z, bands, 100.0)) == 3
