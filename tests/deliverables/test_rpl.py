"""RPL, KP points, route profile and cable sections (the geodesy under them: tests/base/test_geodesy.py)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import LineString

from geodata.deliverables.rpl import (
    RPL_COLUMNS,
    build_rpl,
    build_rpl_tables,
    cable_sections,
    kp_points,
    route_profile,
    validate_bands,
    write_rpl_csv,
    write_rpl_gpkg,
)
from geodata.engineering.events import BEACH_MANHOLE, CABLE_TYPE_CHANGE, LANDING, RouteEvent
from geodata.errors import ConfigError
from geodata.geodesy import Chainage, to_lonlat
from geodata.grid import GeoGrid, Raster
from geodata.scenario import CableBand, Engineering


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
    # KP 0 at the landing station (the route's start); the beach manhole 5 km on (was KP 0 with the station at -5)
    assert rpl.loc[rpl.event == BEACH_MANHOLE, "kp_km"].item() == pytest.approx(5.0, abs=0.05)
    assert rpl.loc[rpl.event == LANDING, "kp_km"].item() == 0.0
    changes = rpl[rpl.event == CABLE_TYPE_CHANGE]
    # depth = 2 m/km * (x - 300 km)/1 km - 20, sampled at cell centres: 50 m near x = 335.5 km, 400 m near 510.5 km
    assert len(changes) == 2
    assert changes.water_depth_m.to_numpy() == pytest.approx([50.0, 400.0], abs=1.0)
    assert rpl.cable_type.iloc[0].startswith("DA")
    assert rpl.cable_type.iloc[-1].startswith("LWP")
    # cumulative cable length (cable KP) includes each section's slack
    last = rpl.iloc[-1]
    assert last.cable_kp_km > last.kp_km * 1.015
    assert last.cable_kp_km < last.kp_km * 1.03
    # segment distances add up to the KP (legs are in the segment table now, not on the position rows)
    segments = build_rpl_tables(route, events, depth, slope, Engineering()).segments
    assert segments.distance_km.sum() == pytest.approx(rpl.kp_km.iloc[-1] - rpl.kp_km.iloc[0], abs=2e-3)
    csv = write_rpl_csv(rpl, tmp_path / "rpl.csv")
    back = pd.read_csv(csv)
    assert list(back.columns) == RPL_COLUMNS
    assert len(back) == len(rpl)
    gpkg = write_rpl_gpkg(rpl, tmp_path / "rpl.gpkg")
    assert len(gpd.read_file(gpkg, layer="rpl")) == len(rpl)


def test_route_profile_and_kp_points(ramp: tuple[GeoGrid, Raster, Raster]) -> None:
    grid, depth, slope = ramp
    route = to_lonlat(LineString([(301_000, 4_670_000), (340_000, 4_660_000), (380_000, 4_662_000)]), grid.crs)
    prof = route_profile(route, depth, slope, 100.0)
    assert np.diff(prof.distance_m).max() <= 100.0 + 1e-6
    assert prof.kp_km.iloc[0] == 0
    assert prof.kp_km.iloc[-1] == pytest.approx(Chainage(route).length_m / 1000)
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
