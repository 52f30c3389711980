"""Route events: crossings of every line kind (KP, angle, kind, id), 2018 Convention zone limits and sector
boundaries with their crossing angle (synthetic geometry).

Synthetic set-up in UTM 39N: the route runs due east along y = 4 550 000 from x = 300 km to 400 km; one synthetic
feature of each kind crosses it at a known x (KP = x - 300 km) and angle.
"""

from __future__ import annotations

import math

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Polygon

from geodata.engineering.checks import check_crossing_angles
from geodata.engineering.crossings import REPORTED_KINDS, crossable_lines, crossing_events, find_crossings
from geodata.engineering.events import CROSSING, ZONE_LIMIT
from geodata.engineering.sectors import sector_crossing_report, sector_events, zone_events, zone_limit_crossings

CRS = "EPSG:32639"
Y = 4_550_000.0
ROUTE = LineString([(300_000, Y), (400_000, Y)])
# kind, id, x of the crossing (m), angle (deg)
FEATURES = [
    ("pipeline", "syn:pipe", 320_000.0, 80.0),
    ("cable", "syn:cable", 340_000.0, 65.0),
    ("shipping_lane", "syn:lane", 360_000.0, 30.0),
    ("fault", "syn:fault", 380_000.0, 45.0),
]


def lines() -> gpd.GeoDataFrame:
    geoms = []
    for _, _, x, angle in FEATURES:
        a = math.radians(angle)
        geoms.append(
            LineString(
                [(x - 5000 * math.cos(a), Y - 5000 * math.sin(a)), (x + 5000 * math.cos(a), Y + 5000 * math.sin(a))]
            )
        )
    return gpd.GeoDataFrame(
        {
            "hazard_id": [f[1] for f in FEATURES],
            "kind": [f[0] for f in FEATURES],
            "name": [f"Synthetic {f[0]}" for f in FEATURES],
            "crossing_min_angle_deg": [60.0, 60.0, None, None],
        },
        geometry=geoms,
        crs=CRS,
    ).to_crs(4326)


def test_every_reported_kind_is_a_crossing_at_its_kp_and_angle() -> None:
    table = find_crossings(ROUTE, crossable_lines(lines(), REPORTED_KINDS), crs=CRS, min_angle_deg=60.0)
    assert list(table["kind"]) == [f[0] for f in FEATURES]
    assert list(table["feature_id"]) == [f[1] for f in FEATURES]
    assert table["angle_deg"].tolist() == pytest.approx([f[3] for f in FEATURES], abs=0.01)
    # UTM scale near the zone's central meridian is within 0.1 % of true
    assert table["kp_km"].tolist() == pytest.approx([(f[2] - 300_000) / 1000 for f in FEATURES], rel=0.002)
    # only pipelines and cables have a minimum; the 30 degree shipping lane crossing is not 'below' anything
    assert table["min_angle_deg"].isna().tolist() == [False, False, True, True]
    assert table["meets_min_angle"].all()
    events = crossing_events(table)
    assert [e.kind for e in events] == [CROSSING] * 4
    lane = events[2]
    assert lane.name == "X3 shipping lane Synthetic shipping_lane"
    assert "at 30°" in lane.remarks
    assert "shipping lane id syn:lane" in lane.remarks
    assert "BELOW" not in lane.remarks
    assert lane.attrs["kind"] == "shipping_lane"
    assert lane.attrs["kp_km"] == pytest.approx(60.0, rel=0.002)


def test_crossing_angle_check_holds_only_pipelines_and_cables_to_the_minimum() -> None:
    table = find_crossings(ROUTE, crossable_lines(lines(), REPORTED_KINDS), crs=CRS, min_angle_deg=60.0)
    assert check_crossing_angles(table, 60.0).passed  # the 30 degree lane and the 45 degree fault do not count
    stricter = check_crossing_angles(table, 70.0)  # the 65 degree cable now fails; lane and fault still not checked
    assert not stricter.passed
    assert "syn:cable" in stricter.description
    assert "syn:lane" not in stricter.description
    assert "syn:fault" not in stricter.description
    with_own = table.copy()
    with_own.loc[with_own["kind"] == "shipping_lane", "min_angle_deg"] = 45.0  # a lane with its own rule is checked
    assert "syn:lane" in check_crossing_angles(with_own, 60.0).description


# Synthetic zones in lon/lat: AZE territorial sea west of 49.5 E, its fishing zone 49.5-50 E, open sea beyond.
ZONES = gpd.GeoDataFrame(
    {
        "country": ["AZE", "AZE"],
        "zone": ["territorial_sea", "fishing_zone"],
        "inner_limit_nm": [0.0, 15.0],
        "outer_limit_nm": [15.0, 25.0],
    },
    geometry=[
        Polygon([(49.0, 41.0), (49.5, 41.0), (49.5, 42.0), (49.0, 42.0)]),
        Polygon([(49.5, 41.0), (50.0, 41.0), (50.0, 42.0), (49.5, 42.0)]),
    ],
    crs=4326,
)


def test_zone_limits_are_events_with_kp_and_angle() -> None:
    # a route heading north-east at 45 degrees to the meridian limits (in the local conformal frame)
    k = math.cos(math.radians(41.5))
    route = LineString([(49.2, 41.5 - 0.2 * k), (50.2, 41.5 + 0.8 * k)])
    table = zone_limit_crossings(route, ZONES)
    assert table["from_zone"].tolist() == ["AZE territorial sea (0-15 nm)", "AZE fishing zone (15-25 nm)"]
    assert table["to_zone"].tolist() == ["AZE fishing zone (15-25 nm)", None]
    assert table["lon_deg"].iloc[0] == pytest.approx(49.5, abs=1e-6)
    assert table["angle_deg"].iloc[0] == pytest.approx(45.0, abs=0.5)
    whole = sector_crossing_report(route, ZONES.assign(country=["A", "B"])).spans
    assert table["kp_km"].iloc[0] == pytest.approx(whole["kp_to_km"].iloc[0], abs=1e-6)
    (ev,) = zone_events(table.iloc[:1])
    assert ev.kind == ZONE_LIMIT
    assert ev.name == "Zone limit AZE territorial sea / AZE fishing zone"
    assert "leaves AZE territorial sea (0-15 nm), enters AZE fishing zone (15-25 nm) at 45°" in ev.remarks


def test_zone_table_needs_its_columns() -> None:
    with pytest.raises(ValueError, match="no 'zone' column"):
        zone_limit_crossings(LineString([(49.2, 41.5), (49.8, 41.5)]), ZONES.drop(columns="zone"))


def test_sector_boundary_points_carry_the_crossing_angle() -> None:
    sectors = gpd.GeoDataFrame(
        {"country": ["AZE", "KAZ"]},
        geometry=[
            Polygon([(48, 40), (50.5, 40), (50.5, 45), (48, 45)]),
            Polygon([(50.5, 40), (53, 40), (53, 45), (50.5, 45)]),
        ],
        crs=4326,
    )
    square = sector_crossing_report(LineString([(49.0, 42.0), (52.0, 42.0)]), sectors).boundary_points
    assert square["angle_deg"].iloc[0] == pytest.approx(90.0, abs=0.5)
    assert (
        "at 90°" in sector_events(sector_crossing_report(LineString([(49.0, 42.0), (52.0, 42.0)]), sectors))[0].remarks
    )
