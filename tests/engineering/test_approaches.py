"""Close approaches to existing cables and pipelines, and the blocking separation check (synthetic geometry).

Synthetic set-up in UTM 39N: the route runs due east along y = 4 550 000 from x = 300 km to 400 km. A synthetic
cable runs parallel to it 300 m north between x = 320 and 330 km (a 10 km approach, 300 m at its closest), and a
synthetic pipeline crosses it square at x = 360 km.
"""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString

from geodata.engineering.approaches import (
    approach_events,
    crossing_window_m,
    find_close_approaches,
    required_separation_m,
)
from geodata.engineering.checks import check_separation
from geodata.engineering.events import CLOSE_APPROACH
from geodata.grid import GeoGrid, Raster

CRS = "EPSG:32639"
Y = 4_550_000.0
ROUTE = LineString([(300_000, Y), (400_000, Y)])
CABLE_ID = "synthetic:cable:parallel"


def features(*, pipe_angle_deg: float = 90.0, cable_offset_m: float = 300.0) -> gpd.GeoDataFrame:
    a = math.radians(pipe_angle_deg)
    pipe = LineString(
        [
            (360_000 - 20_000 * math.cos(a), Y - 20_000 * math.sin(a)),
            (360_000 + 20_000 * math.cos(a), Y + 20_000 * math.sin(a)),
        ]
    )
    cable = LineString([(320_000, Y + cable_offset_m), (330_000, Y + cable_offset_m)])
    return gpd.GeoDataFrame(
        {
            "hazard_id": [CABLE_ID, "synthetic:pipeline:square", "synthetic:fault"],
            "kind": ["cable", "pipeline", "fault"],
            "name": ["Synthetic parallel cable", "Synthetic pipeline", "Synthetic fault"],
        },
        geometry=[cable, pipe, LineString([(325_000, Y + 100), (326_000, Y + 100)])],
        crs=CRS,
    ).to_crs(4326)


def approaches(lines: gpd.GeoDataFrame, **kw: object) -> gpd.GeoDataFrame:
    args: dict[str, object] = {"crs": CRS, "depth": None, "min_separation_m": 500.0, "depth_factor": 3.0}
    args.update(kw)
    return find_close_approaches(ROUTE, lines, **args)  # type: ignore[arg-type]


def test_required_separation_is_the_floor_or_three_times_the_depth() -> None:
    got = required_separation_m([np.nan, -5.0, 50.0, 400.0], 500.0, 3.0)
    assert list(got) == [500.0, 500.0, 500.0, 1200.0]


def test_parallel_cable_is_one_approach_with_its_length_distance_and_kp() -> None:
    table = approaches(features())
    assert list(table["feature_id"]) == [CABLE_ID]  # the square pipeline crossing is not an approach; no fault rows
    a = table.iloc[0]
    assert a.min_distance_m == pytest.approx(300.0, abs=0.5)
    # within 500 m of the cable from 400 m before its west end to 400 m past its east end (sqrt(500^2 - 300^2))
    assert a.length_m == pytest.approx(10_800.0, rel=0.005)  # UTM scale error here < 0.1 %
    assert a.kp_from_km == pytest.approx(19.6, rel=0.005)
    assert a.kp_to_km == pytest.approx(30.4, rel=0.005)
    assert 20.0 - 0.1 <= a.kp_min_km <= 30.0 + 0.1
    assert a.required_separation_m == 500.0
    assert a.section == "marine"
    assert not a.allowed
    assert table.geometry.iloc[0].geom_type == "LineString"


def test_approach_ends_follow_the_depth_term() -> None:
    """Synthetic flat seabed 400 m deep: the separation is 1200 m, so the 300 m-off cable end's approach widens by
    sqrt(1200^2 - 300^2) ~ 1162 m at either end."""
    grid = GeoGrid(CRS, Affine(1000.0, 0, 290_000.0, 0, -1000.0, 4_600_000.0), (100, 130))
    deep = Raster(np.full(grid.shape, 400.0), grid, None, {})
    a = approaches(features(), depth=deep).iloc[0]
    assert a.required_separation_m == pytest.approx(1200.0)
    assert a.length_m == pytest.approx(10_000.0 + 2 * math.sqrt(1200.0**2 - 300.0**2), rel=0.005)


def test_cable_beyond_the_separation_is_no_approach() -> None:
    assert approaches(features(cable_offset_m=600.0)).empty


def test_window_around_a_crossing_follows_the_angle() -> None:
    assert crossing_window_m(500.0, 90.0) == pytest.approx(500.0)
    assert crossing_window_m(500.0, 30.0) == pytest.approx(1000.0)
    lines = features(cable_offset_m=5_000.0)  # only the pipeline is near the route
    for angle in (90.0, 60.0, 30.0):
        assert approaches(features(pipe_angle_deg=angle, cable_offset_m=5_000.0)).empty, angle
    # without the window the crossing itself would be an approach: a pipeline passing 100 m off the route is one
    near_miss = lines.to_crs(CRS)
    near_miss.loc[1, "geometry"] = LineString([(360_000, Y + 100), (360_000, Y + 20_000)])
    hit = approaches(near_miss.to_crs(4326))
    assert list(hit["kind"]) == ["pipeline"]
    assert hit.iloc[0].min_distance_m == pytest.approx(100.0, abs=0.5)


def test_approach_after_a_crossing_is_still_found() -> None:
    """The synthetic pipeline crosses square at x = 360 km and then runs parallel 200 m north for 5 km: the window
    (about 1.1 x 500 m + a step) is left out, the parallel run beyond it is an approach."""
    lines = features(cable_offset_m=5_000.0).to_crs(CRS)
    lines.loc[1, "geometry"] = LineString([(360_000, Y - 5_000), (360_000, Y + 200), (365_000, Y + 200)])
    table = approaches(lines.to_crs(4326))
    assert list(table["kind"]) == ["pipeline"]
    a = table.iloc[0]
    assert a.min_distance_m == pytest.approx(200.0, abs=0.5)
    assert 60.5 < a.kp_from_km < 61.0  # past the window of ~600 m after the crossing at KP 60
    assert a.kp_to_km == pytest.approx(65.0 + math.sqrt(500.0**2 - 200.0**2) / 1000.0, abs=0.06)


def test_land_sections_are_reported_apart() -> None:
    land = LineString([(300_000, Y), (325_000, Y)])
    grid = GeoGrid(CRS, Affine(1000.0, 0, 290_000.0, 0, -1000.0, 4_600_000.0), (100, 130))
    table = approaches(features(), land=land, depth=Raster(np.full(grid.shape, -30.0), grid, None, {}))
    assert sorted(table["section"]) == ["land", "marine"]
    by_section = table.set_index("section")
    assert by_section.loc["land", "kp_to_km"] == pytest.approx(25.0, abs=0.06)
    assert np.isnan(by_section.loc["land", "water_depth_m"])  # no water depth on land (the grid reads -30 m)
    assert by_section.loc["marine", "water_depth_m"] == -30.0  # at sea the grid's value, whatever it reads


def test_events_name_the_feature_and_the_range() -> None:
    (ev,) = approach_events(approaches(features()))
    assert ev.kind == CLOSE_APPROACH
    assert "Synthetic parallel cable" in ev.name
    assert "300 m (required 500 m)" in ev.remarks
    assert re.search(r"from KP 19\.[56]\d\d to 30\.[34]\d\d \(10800 m\)", ev.remarks)
    assert CABLE_ID in ev.remarks


def test_separation_check_fails_with_where_how_close_and_the_fix() -> None:
    table = approaches(features())
    result = check_separation(table, [], min_separation_m=500.0, depth_factor=3.0)
    assert result.name == "separation_from_existing_infrastructure"
    assert not result.passed
    assert result.blocking
    text = result.description
    assert "Synthetic parallel cable" in text
    assert CABLE_ID in text
    assert "300 m from the route" in text
    assert re.search(r"at 41\.\d{5} N 48\.\d{5} E, KP (19\.99\d|20\.00\d) \(required 500 m", text)
    assert "required 500 m" in text
    assert "allow_close_approach" in text
    assert "larger buffer" in text


@pytest.mark.parametrize("allow", [[CABLE_ID], ["Synthetic parallel cable"]])
def test_separation_check_passes_when_allowed(allow: list[str]) -> None:
    result = check_separation(approaches(features()), allow, min_separation_m=500.0, depth_factor=3.0)
    assert result.passed
    assert "allowed by engineering.allow_close_approach" in result.description


def test_separation_check_ignores_land_sections() -> None:
    table = approaches(features(), land=LineString([(300_000, Y), (340_000, Y)]))
    assert list(table["section"]) == ["land"]
    result = check_separation(table, [], min_separation_m=500.0, depth_factor=3.0)
    assert result.passed
    assert result.metadata["land_section_approaches"] == 1


def test_dog_leg_crossing_leaving_at_a_flat_angle_is_no_approach() -> None:
    """A synthetic pipeline met at 20 degrees but crossed on a short square leg (as a dog-leg realignment leaves it):
    the measured crossing angle is 90 degrees, yet the route stays within 500 m for ~1.5 km either side while it
    diverges; that belongs to the crossing, not to an approach."""
    c, sn = math.cos(math.radians(20.0)), math.sin(math.radians(20.0))
    pipe = LineString(
        [
            (360_000 - 8000 * c, Y - 100 - 8000 * sn),
            (360_000, Y - 100),
            (360_000, Y + 100),
            (360_000 + 8000 * c, Y + 100 + 8000 * sn),
        ]
    )
    lines = features(cable_offset_m=5_000.0).to_crs(CRS)
    lines.loc[1, "geometry"] = pipe
    assert approaches(lines.to_crs(4326)).empty
    # the same pipeline turning parallel (1 km at 150 m) after the dog-leg is an approach again
    lines.loc[1, "geometry"] = LineString(
        [(360_000, Y - 5000), (360_000, Y + 150), (362_000, Y + 150), (363_000, Y + 150)]
    )
    (a,) = approaches(lines.to_crs(4326)).itertuples()
    assert a.min_distance_m == pytest.approx(150.0, abs=0.5)
