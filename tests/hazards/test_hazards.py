"""Seabed hazards: schema, default rules and their overrides, readers and their failures, rasterisation, the mirror."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from geodata.errors import ConfigError, InputDataError
from geodata.grid import GeoGrid
from geodata.hazards import (
    COLUMNS,
    HAZARD_KINDS,
    combine_hazards,
    default_rules,
    earthquake_weights,
    effective_rules,
    hazard_summary,
    hazards_in_area,
    load_curated_hazards,
    load_mirror_hazards,
    load_user_inventory,
    rasterize_hazards,
    rule_justifications,
    validate_hazards,
)
from geodata.hazards.mirror import MIRROR_LAYERS
from geodata.scenario import HazardRule, Hazards, load_scenario, parse_scenario

UTM39 = CRS.from_epsg(32639)
TO_LONLAT = Transformer.from_crs(UTM39, "EPSG:4326", always_xy=True)


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _table(rows: list[dict], crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """A hazard table from partial rows: rule columns from the kind's default rule."""
    rules = default_rules()
    full = []
    for i, row in enumerate(rows):
        rule = rules.get(row["kind"], rules["other"])
        base = {
            "hazard_id": f"t:{i}",
            "name": None,
            "source": "test",
            "licence": "test",
            "attribution": "",
            "magnitude": None,
            "remarks": None,
            **rule.model_dump(),
        }
        full.append({**base, **row})
    return gpd.GeoDataFrame(full, geometry="geometry", crs=crs)


def _utm_point(x: float, y: float) -> shapely.Point:
    lon, lat = TO_LONLAT.transform(x, y)
    return shapely.Point(lon, lat)


def _utm_line(coords: list[tuple[float, float]]) -> shapely.LineString:
    return shapely.LineString([TO_LONLAT.transform(x, y) for x, y in coords])


# -- rules --------------------------------------------------------------------------------------------------------


def test_every_kind_has_a_default_rule_with_a_reason() -> None:
    rules = default_rules()
    reasons = rule_justifications()
    assert set(rules) == set(HAZARD_KINDS) == set(reasons)
    assert all(len(reasons[k]) > 30 for k in HAZARD_KINDS)
    for kind in ("pipeline", "cable"):  # crossable: a crossing angle, a band, never a wall
        assert rules[kind].crossing_min_angle_deg == 60
    assert rules["earthquake"].exclusion_buffer_m == 0
    assert rules["earthquake"].soft_cost > 0
    assert rules["port"].exclusion_buffer_m >= 2000
    assert rules["shipping_lane"].exclusion_buffer_m == 0


def test_scenario_overrides_only_the_fields_it_writes() -> None:
    scenario = load_scenario("siyazan-aktau").model_dump(mode="json")
    scenario["hazards"] = {"rules": {"port": {"exclusion_buffer_m": 5000}, "fault": {"crossing_min_angle_deg": 45}}}
    hazards = parse_scenario(scenario).hazards
    rules = effective_rules(hazards)
    defaults = default_rules()
    assert rules["port"].exclusion_buffer_m == 5000
    assert rules["port"].soft_cost == defaults["port"].soft_cost
    assert rules["port"].decay_m == defaults["port"].decay_m
    assert rules["fault"].crossing_min_angle_deg == 45
    assert rules["fault"].soft_cost == defaults["fault"].soft_cost
    assert rules["earthquake"] == defaults["earthquake"]
    assert effective_rules(Hazards()) == defaults == effective_rules(None)
    assert (
        effective_rules({"well": {"soft_cost": 3.0}})["well"].exclusion_buffer_m == defaults["well"].exclusion_buffer_m
    )


def test_rule_overrides_are_checked() -> None:
    with pytest.raises(ConfigError, match="did you mean 'pipeline'"):
        effective_rules({"pipelines": HazardRule(soft_cost=1)})
    with pytest.raises(ConfigError, match=r"hazards\.rules\.port is invalid"):
        effective_rules({"port": {"decay_m": -5}})


# -- CSV ------------------------------------------------------------------------------------------------------------


def test_csv_with_common_column_spellings(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "platforms.csv",
        (
            "# surveyed 2024\n"
            "Name,Longitude,Latitude,kind,exclusion_buffer_m\n"
            "A,50.1,41.2,platform,\n"
            "B,50.2,41.3,Mud Volcano,2500\n"
        ),
    )
    table = load_user_inventory(path)
    assert list(table.columns) == list(COLUMNS)
    assert list(table["kind"]) == ["platform", "mud_volcano"]
    assert list(table["hazard_id"]) == ["platforms:1", "platforms:2"]
    assert table.loc[0, "exclusion_buffer_m"] == default_rules()["platform"].exclusion_buffer_m
    assert table.loc[1, "exclusion_buffer_m"] == 2500  # a value in the row wins over the kind's rule
    assert table.loc[0, "licence"] == "not stated"
    assert table.loc[0, "source"] == str(path)
    assert table.geometry.iloc[1].equals(shapely.Point(50.2, 41.3))
    for lon, lat in (("lng", "lat"), ("x", "y"), ("LON", "LATITUDE")):
        other = _write_csv(tmp_path / f"{lon}.csv", f"{lon},{lat}\n50,41\n")
        assert load_user_inventory(other, kind="wreck")["kind"].tolist() == ["wreck"]


def test_csv_bad_kind_on_row_3_names_the_row_and_the_fix(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "inv.csv",
        ("lon,lat,kind\n50.0,41.0,platform\n50.1,41.1,wreck\n50.2,41.2,pipelin\n50.3,41.3,well\n50.4,41.4,volcano\n"),
    )
    with pytest.raises(InputDataError) as err:
        load_user_inventory(path)
    message = str(err.value)
    assert str(path) in message
    assert "row 3 (line 4)" in message
    assert "'pipelin' is not a hazard kind; did you mean 'pipeline'?" in message
    assert "row 5 (line 6)" in message  # every bad row at once
    assert "valid kinds: fault, earthquake" in message
    assert "row 1 " not in message
    assert "row 4 " not in message


def test_csv_without_lon_lat_lists_the_columns_found(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "inv.csv", "easting,northing,kind\n500000,4600000,well\n")
    with pytest.raises(InputDataError, match=r"no longitude column \(found columns: easting, northing, kind\)") as err:
        load_user_inventory(path)
    assert "name them lon and lat" in str(err.value)


def test_csv_bad_coordinates_and_missing_kind(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "inv.csv", "lon,lat,kind\n50.1,abc,well\n500000,4600000,well\n")
    with pytest.raises(InputDataError) as err:
        load_user_inventory(path)
    assert "row 1 (line 2)" in str(err.value)
    assert "not numbers" in str(err.value)
    assert "row 2 (line 3)" in str(err.value)
    assert "WGS84 degrees" in str(err.value)
    nokind = _write_csv(tmp_path / "nokind.csv", "lon,lat\n50,41\n")
    with pytest.raises(InputDataError, match=r"no 'kind' column.*set `kind:`"):
        load_user_inventory(nokind)
    with pytest.raises(InputDataError, match="did you mean 'anchorage'"):
        load_user_inventory(nokind, kind="anchorages")


def test_csv_empty_and_missing_and_wkt(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="header but no data rows"):
        load_user_inventory(_write_csv(tmp_path / "empty.csv", "lon,lat,kind\n"))
    with pytest.raises(InputDataError, match="does not exist"):
        load_user_inventory(tmp_path / "nope.csv")
    wkt = _write_csv(tmp_path / "lines.csv", 'kind,wkt\ncable,"LINESTRING (50 41, 51 42)"\npipeline,"POINT (1"\n')
    with pytest.raises(InputDataError, match=r"row 2 .*is not WKT"):
        load_user_inventory(wkt)


# -- vector files ---------------------------------------------------------------------------------------------------


def test_layer_in_web_mercator_is_reprojected_and_reported(tmp_path: Path) -> None:
    lonlat = gpd.GeoDataFrame(
        {"kind": ["platform", "cable"]},
        geometry=[shapely.Point(50.5, 41.5), shapely.LineString([(50, 41), (51, 42)])],
        crs="EPSG:4326",
    )
    path = tmp_path / "inv.gpkg"
    lonlat.to_crs(3857).to_file(path, layer="hazards")
    with pytest.warns(UserWarning, match="reprojected from EPSG:3857"):
        table = load_user_inventory(path)
    assert table.crs.to_epsg() == 4326
    assert table.geometry.iloc[0].distance(shapely.Point(50.5, 41.5)) < 1e-9
    assert table.attrs["hazard_report"]["reprojected_from"] == "EPSG:3857"
    assert list(table["hazard_id"]) == ["inv:hazards:1", "inv:hazards:2"]  # GeoPackage fids


def test_file_without_crs_says_how_to_assign_one(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpd.GeoDataFrame({"kind": ["wreck"]}, geometry=[shapely.Point(50, 41)]).to_file(path)
    with pytest.raises(InputDataError, match=r"has no CRS.*ogr2ogr -a_srs EPSG:4326.*restore its \.prj"):
        load_user_inventory(path)


def test_empty_layer_corrupt_file_and_layer_choice(tmp_path: Path) -> None:
    path = tmp_path / "inv.gpkg"
    frame = gpd.GeoDataFrame({"kind": ["port"]}, geometry=[shapely.Point(50, 41)], crs="EPSG:4326")
    frame.iloc[:0].to_file(path, layer="nothing")
    frame.to_file(path, layer="ports")
    with pytest.raises(InputDataError, match=r"has 2 layers \(nothing, ports\).*`layer:`"):
        load_user_inventory(path)
    with pytest.raises(InputDataError, match=r"is empty \(0 features\)"):
        load_user_inventory(path, layer="nothing")
    with pytest.raises(InputDataError, match=r"no layer 'port'\. Did you mean 'ports'"):
        load_user_inventory(path, layer="port")
    assert len(load_user_inventory(path, layer="ports")) == 1
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputDataError, match=r"corrupt\.gpkg cannot be read .*re-export it"):
            load_user_inventory(corrupt)
    truncated = tmp_path / "truncated.geojson"
    truncated.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputDataError, match=r"truncated\.geojson cannot be read"):
        load_user_inventory(truncated)


def test_invalid_polygon_is_repaired_and_reported_null_geometry_refused(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(50, 41), (51, 42), (51, 41), (50, 42)])
    assert not bowtie.is_valid
    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame({"kind": ["anchorage"], "name": ["bow"]}, geometry=[bowtie], crs="EPSG:4326").to_file(path)
    with pytest.warns(UserWarning, match="Self-intersection"):
        table = load_user_inventory(path)
    geom = table.geometry.iloc[0]
    assert geom.is_valid
    assert geom.geom_type == "MultiPolygon"
    assert math.isclose(geom.area, 0.5)
    repaired = table.attrs["hazard_report"]["repaired"]
    assert repaired[0]["row"] == "feature 1"
    assert "make_valid" in repaired[0]["action"]
    nulls = tmp_path / "nulls.geojson"
    gpd.GeoDataFrame({"kind": ["wreck", "wreck"]}, geometry=[shapely.Point(50, 41), None], crs="EPSG:4326").to_file(
        nulls
    )
    with pytest.raises(InputDataError, match="feature 2: no geometry"):
        load_user_inventory(nulls)


# -- schema ---------------------------------------------------------------------------------------------------------


def test_validate_lists_every_problem_once() -> None:
    table = _table(
        [
            {"kind": "platform", "geometry": shapely.Point(50, 41)},
            {"kind": "platfrom", "hazard_id": "t:0", "geometry": shapely.Point(50, 41)},
            {"kind": "well", "exclusion_buffer_m": -1, "magnitude": 5.0, "geometry": shapely.Point(50, 41)},
            {"kind": "pipeline", "crossing_min_angle_deg": 120, "geometry": None},
            {"kind": "port", "licence": "", "geometry": shapely.Point(500000, 41)},
        ]
    )
    with pytest.raises(InputDataError) as err:
        validate_hazards(table, "test.gpkg")
    message = str(err.value)
    assert message.startswith("hazard table test.gpkg has 8 problem(s)"), message
    for part in (
        "row 2: column 'hazard_id' 't:0' repeats row 1",
        "did you mean 'platform'?",
        "row 3: column 'exclusion_buffer_m' = -1.0",
        "row 3: column 'magnitude' = 5.0 is set on a 'well'",
        "row 4: column 'crossing_min_angle_deg' = 120.0",
        "row 4: no geometry",
        "row 5: column 'licence' is empty",
        "row 5: coordinates",
    ):
        assert part in message, part
    with pytest.raises(InputDataError, match=r"reproject it with gdf\.to_crs"):
        validate_hazards(
            _table([{"kind": "port", "geometry": shapely.Point(0, 0)}]).set_crs(3857, allow_override=True), "x"
        )
    with pytest.raises(InputDataError, match="lacks column"):
        validate_hazards(gpd.GeoDataFrame({"kind": ["port"]}, geometry=[shapely.Point(0, 0)], crs=4326), "x")


def test_area_clip_and_summary() -> None:
    table = _table(
        [
            {"kind": "port", "geometry": shapely.Point(50, 41)},
            {"kind": "port", "geometry": shapely.Point(55, 41)},
            {"kind": "cable", "geometry": shapely.LineString([(49, 41), (52, 41)])},
            {"kind": "earthquake", "magnitude": 6.5, "geometry": shapely.Point(50.5, 41.5)},
        ]
    )
    table = validate_hazards(table, "t")
    inside = hazards_in_area(table, (49.5, 40.5, 51.0, 42.0))
    assert sorted(inside["hazard_id"]) == ["t:0", "t:2", "t:3"]
    assert inside.loc[inside["hazard_id"] == "t:2"].geometry.iloc[0].bounds == (49.5, 41.0, 51.0, 41.0)
    wide = hazards_in_area(table, (49.5, 40.5, 51.0, 42.0), margin_m=400_000, clip=False)
    assert len(wide) == 4
    assert wide.geometry.iloc[2].length == 3.0
    summary = hazard_summary(table)
    assert summary["total"] == 4
    assert summary["by_kind"]["port"] == 2
    assert summary["by_kind"]["wreck"] == 0
    assert summary["magnitude_range"] == [6.5, 6.5]
    with pytest.raises(ConfigError):
        hazards_in_area(table, (51, 40, 50, 42))


# -- curated --------------------------------------------------------------------------------------------------------


def test_packaged_curated_inventory_is_empty_and_says_so() -> None:
    table, report = load_curated_hazards()
    assert len(table) == 0
    assert list(table.columns) == list(COLUMNS)
    assert table.crs.to_epsg() == 4326
    assert report["count"] == 0
    assert "empty" in report["warnings"][0]


def test_curated_records_need_a_citation() -> None:
    record = {
        "id": "x",
        "kind": "platform",
        "name": "X",
        "lon": 50.5,
        "lat": 40.5,
        "source_url": "https://example.org",
        "citation": "Example (2024)",
        "licence": "facts",
        "verified": "second source",
        "exclusion_buffer_m": 3000,
    }
    table, report = load_curated_hazards(document={"records": [record]})
    assert table.loc[0, "hazard_id"] == "curated:x"
    assert table.loc[0, "exclusion_buffer_m"] == 3000
    assert table.loc[0, "soft_cost"] == default_rules()["platform"].soft_cost
    assert report["by_kind"] == {"platform": 1}
    with pytest.raises(InputDataError, match=r"record 1 \(x\): lacks citation, verified"):
        load_curated_hazards(document={"records": [{**record, "citation": "", "verified": None}]})


# -- rasterisation ----------------------------------------------------------------------------------------------------


@pytest.fixture
def grid() -> GeoGrid:
    """21 x 21 cells of 1 km in UTM 39N; cell (r, c) has its centre at x = 400500 + 1000 c, y = 4620500 - 1000 r."""
    return GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_621_000.0), (21, 21))


def _centre(grid: GeoGrid, row: int, col: int) -> tuple[float, float]:
    x, y = grid.xy(row, col)
    return float(x), float(y)


def test_point_hazard_hard_buffer_and_soft_decay(grid: GeoGrid) -> None:
    table = _table(
        [
            {
                "kind": "platform",
                "exclusion_buffer_m": 1500,
                "soft_cost": 1.0,
                "decay_m": 1000,
                "geometry": _utm_point(*_centre(grid, 10, 10)),
            }
        ]
    )
    out = rasterize_hazards(table, grid)
    # centres within 1500 m: the cell itself, 4 neighbours at 1000 m and 4 diagonals at 1414 m; 2000 m is out
    assert out.hard_mask.sum() == 9
    assert out.hard_mask[9:12, 9:12].all()
    assert out.soft_cost.dtype == np.float32
    assert out.hard_mask.dtype == bool
    assert out.soft_cost[10, 10] == pytest.approx(1.0, rel=1e-4)
    assert out.soft_cost[10, 12] == pytest.approx(math.exp(-2), rel=1e-4)
    assert out.soft_cost[13, 14] == pytest.approx(math.exp(-5), rel=1e-4)
    assert out.soft_cost[10, 20] == 0.0  # 10 km = 10 decays: below the 0.1 % truncation
    assert set(out.soft_by_kind) == {"platform"}
    assert out.hard_by_kind["platform"].sum() == 9


def test_point_smaller_than_a_cell_still_blocks_its_cell(grid: GeoGrid) -> None:
    x, y = _centre(grid, 5, 5)
    table = _table([{"kind": "wreck", "exclusion_buffer_m": 100, "geometry": _utm_point(x + 400, y + 400)}])
    assert np.argwhere(rasterize_hazards(table, grid).hard_mask).tolist() == [[5, 5]]


def test_crossable_pipeline_is_a_band_never_a_wall(grid: GeoGrid) -> None:
    x, _ = _centre(grid, 0, 10)
    line = _utm_line([(x, 4_630_000.0), (x, 4_590_000.0)])  # crosses the whole grid north-south along column 10
    table = _table(
        [{"kind": "pipeline", "exclusion_buffer_m": 500, "soft_cost": 2.0, "decay_m": 1000, "geometry": line}]
    )
    out = rasterize_hazards(table, grid)
    assert not out.hard_mask.any()
    assert np.allclose(out.soft_cost[:, 10], 2.0, rtol=1e-3)  # flat at full cost inside the band
    assert np.allclose(out.soft_cost[:, 11], 2.0 * math.exp(-0.5), rtol=1e-3)  # 1000 m - 500 m band = 0.5 decay
    assert np.allclose(out.soft_cost[:, 13], 2.0 * math.exp(-2.5), rtol=1e-3)
    wall = table.assign(crossing_min_angle_deg=None)  # the same line NOT crossable: a hard wall along column 10
    hard = rasterize_hazards(wall, grid).hard_mask
    assert hard[:, 10].all()
    assert hard.sum() == 21


def test_soft_costs_add_up_and_pieces_of_one_line_are_one_object(grid: GeoGrid) -> None:
    p = _utm_point(*_centre(grid, 10, 10))
    twice = rasterize_hazards(
        _table([{"kind": "well", "soft_cost": 1.0, "geometry": p}, {"kind": "well", "soft_cost": 1.0, "geometry": p}]),
        grid,
    )
    assert twice.soft_cost[10, 10] == pytest.approx(2.0, rel=1e-4)
    x, y = _centre(grid, 10, 10)
    a = _utm_line([(x - 8000, y), (x, y)])
    b = _utm_line([(x, y), (x + 8000, y)])
    rows = [
        {"kind": "fault", "soft_cost": 1.0, "name": "F1", "geometry": a},
        {"kind": "fault", "soft_cost": 1.0, "name": "F1", "geometry": b},
    ]
    joined = rasterize_hazards(_table(rows), grid)
    assert joined.soft_cost[10, 10] == pytest.approx(1.0, rel=1e-3)
    assert joined.info["objects"] == 1
    rows[1]["name"] = "F2"
    assert rasterize_hazards(_table(rows), grid).soft_cost[10, 10] == pytest.approx(2.0, rel=1e-3)


def test_earthquakes_are_weighted_by_magnitude(grid: GeoGrid) -> None:
    assert earthquake_weights([6.0, 7.0, None])[1] == pytest.approx(10**0.5)
    assert earthquake_weights([None])[0] == pytest.approx(earthquake_weights([5.0])[0])
    table = _table(
        [
            {"kind": "earthquake", "magnitude": 7.0, "decay_m": 1000, "geometry": _utm_point(*_centre(grid, 3, 3))},
            {"kind": "earthquake", "magnitude": 5.5, "decay_m": 1000, "geometry": _utm_point(*_centre(grid, 17, 17))},
        ]
    )
    out = rasterize_hazards(table, grid)
    soft = default_rules()["earthquake"].soft_cost
    assert out.soft_cost[3, 3] == pytest.approx(soft * 10**0.5, rel=1e-3)
    assert out.soft_cost[3, 3] / out.soft_cost[17, 17] == pytest.approx(10**0.75, rel=1e-3)
    assert not out.hard_mask.any()


def test_hazards_off_the_grid_reach_in_and_kinds_sum_to_total(grid: GeoGrid) -> None:
    x, y = _centre(grid, 10, 0)
    table = _table(
        [
            {
                "kind": "port",
                "exclusion_buffer_m": 1000,
                "soft_cost": 1.0,
                "decay_m": 1000,
                "geometry": _utm_point(x - 2000, y),
            },  # 2 km west of the grid's first column
            {"kind": "port", "geometry": _utm_point(x - 200_000, y)},  # far beyond any reach
            {"kind": "shipping_lane", "geometry": _utm_line([(x, y - 5000), (x + 20_000, y - 5000)])},
        ]
    )
    out = rasterize_hazards(table, grid)
    assert out.soft_by_kind["port"][10, 0] == pytest.approx(math.exp(-2), rel=1e-3)
    assert not out.hard_mask.any()  # the 1 km buffer stops 1 km short of the grid
    total = out.soft_by_kind["port"] + out.soft_by_kind["shipping_lane"]
    assert np.allclose(out.soft_cost, total)
    assert out.info["objects_on_grid"] == 2


def test_rasterize_refuses_a_geographic_grid(grid: GeoGrid) -> None:
    lonlat = GeoGrid(CRS.from_epsg(4326), Affine(0.01, 0, 50, 0, -0.01, 42), (10, 10))
    with pytest.raises(ConfigError, match="projected CRS in metres"):
        rasterize_hazards(_table([{"kind": "port", "geometry": shapely.Point(50.05, 41.95)}]), lonlat)
    empty = rasterize_hazards(_table([{"kind": "port", "geometry": shapely.Point(50, 41)}]).iloc[:0], grid)
    assert not empty.hard_mask.any()
    assert not empty.soft_cost.any()


# -- mirror ---------------------------------------------------------------------------------------------------------


def _synthetic_mirror(tmp_path: Path) -> tuple[Path, Path]:
    """Small stand-ins of the two mirror files: the real layer names, a few features, and some defects."""
    haz, inf = tmp_path / "hazards.gpkg", tmp_path / "infra.gpkg"
    pt = shapely.Point(50, 41)
    gpd.GeoDataFrame(
        {"eventid": [1, 2], "mw": [6.1, None], "origin_time": ["2000-11-25 18:09", "1935-04-12"]},
        geometry=[pt, shapely.Point(51, 42)],
        crs=4326,
    ).to_file(haz, layer="earthquakes_iscgem_v7")
    fault = shapely.LineString([(49, 40), (50, 41)])
    gpd.GeoDataFrame(
        {"name": ["F1", "F2"], "slip_type": ["Reverse", "Dextral"]},
        geometry=[fault, shapely.LineString([(53, 44), (54, 45)])],
        crs=4326,
    ).to_file(haz, layer="active_faults_gem_2017_attrs")
    gpd.GeoDataFrame(
        {"source_version": ["x"]}, geometry=[shapely.LineString([(49, 40.01), (50, 41.01)])], crs=4326
    ).to_crs(3857).to_file(haz, layer="active_faults_gem_2021_harmonized_geomonly")
    gpd.GeoDataFrame(
        {"project_id": ["P1"], "category": ["gas-pipelines"]},
        geometry=[shapely.LineString([(50, 40), (51, 41)])],
        crs=4326,
    ).to_file(inf, layer="pipelines_gem_routes")
    gpd.GeoDataFrame(
        {"slug": ["c"], "name": ["C"]}, geometry=[shapely.LineString([(50, 41), (53, 40)])], crs=4326
    ).iloc[:0].to_file(inf, layer="submarine_cables_telegeography")
    bowtie = shapely.LineString([(50, 42), (51, 42)])
    gpd.GeoDataFrame({"passage": [None, None]}, geometry=[bowtie, None], crs=4326).to_file(
        inf, layer="shipping_network_searoute_marnet"
    )
    gpd.GeoDataFrame(
        {
            "name": ["Turkmenbashy", "Turkmenbasy", "Aktau"],
            "port": ["TKMRW", "TMKRW", "KZAAU"],
            "cty": ["Turkmenistan"] * 2 + ["Kazakhstan"],
        },
        geometry=[shapely.Point(53.0, 40.0167), shapely.Point(52.8766, 40.0546), shapely.Point(51.2129, 43.6823)],
        crs=4326,
    ).to_file(inf, layer="ports_searoute")
    return haz, inf


def test_mirror_loader_on_synthetic_files_reports_what_it_did(tmp_path: Path) -> None:
    haz, inf = _synthetic_mirror(tmp_path)
    table, report = load_mirror_hazards(
        haz,
        inf,
        rules=effective_rules({"port": {"exclusion_buffer_m": 4000}}),
        provenance={"hazards_caspian": {"sha256": "abc"}},
    )
    assert report["counts_by_kind"] == {"earthquake": 2, "fault": 2, "pipeline": 1, "shipping_lane": 1, "port": 2}
    assert any(
        "active_faults_gem_2021_harmonized_geomonly: reprojected from EPSG:3857" in w for w in report["warnings"]
    )
    assert any("submarine_cables_telegeography: the layer is empty" in w for w in report["warnings"])
    assert report["dropped"] == [
        {
            "row": "infrastructure_caspian:shipping_network_searoute_marnet:2",
            "reason": "no geometry",
            "action": "dropped",
        }
    ]
    faults = table[table["kind"] == "fault"].set_index("name")
    assert "F1" in faults.index
    assert "2021 harmonised" in faults.loc["F1", "remarks"]
    assert "no 2021 trace follows" in faults.loc["F2", "remarks"]  # 2017 trace kept, not lost
    merged = next(m for m in report["merged"] if m["kind"] == "port")
    assert merged["records"] == ["TKMRW", "TMKRW"]
    assert 10 < merged["distance_km"] < 12
    tkm = table[table["hazard_id"].str.endswith("TKMRW+TMKRW")].iloc[0]
    assert tkm.geometry.geom_type == "MultiPoint"
    assert tkm["exclusion_buffer_m"] == 4000
    quake = table[table["kind"] == "earthquake"].set_index("hazard_id")
    assert quake.loc["hazards_caspian:earthquakes_iscgem_v7:1", "magnitude"] == 6.1
    assert math.isnan(quake.loc["hazards_caspian:earthquakes_iscgem_v7:2", "magnitude"])
    assert report["provenance"] == {"hazards_caspian": {"sha256": "abc"}}


def test_mirror_lines_are_densified_in_their_source_crs(tmp_path: Path) -> None:
    """The synthetic mirror's pipeline (straight in EPSG:4326) and 2021 fault trace (straight in Web Mercator) come
    out with vertices on their source's straight line, close enough that the analysis CRS (UTM 39N), drawing straight
    between them, stays within 10 m of the source line: crossings found there lie on the line QGIS draws."""
    haz, inf = _synthetic_mirror(tmp_path)
    table, _ = load_mirror_hazards(haz, inf)
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32639", always_xy=True)
    to_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    pipe = table[table["kind"] == "pipeline"].geometry.iloc[0]
    fault = table[(table["kind"] == "fault") & (table["name"] == "F1")].geometry.iloc[0]
    src_pipe = shapely.LineString([(50, 40), (51, 41)])
    src_fault = shapely.LineString(np.column_stack(to_3857.transform([49, 50], [40.01, 41.01])))
    for line, source, to_src in ((pipe, src_pipe, None), (fault, src_fault, to_3857)):
        ll = np.asarray(line.coords)
        assert len(ll) > 5, "densified when read"
        xy = ll if to_src is None else np.column_stack(to_src.transform(*ll.T))
        scale = 1e-9 if to_src is None else 1e-3  # degrees or metres of the source CRS
        assert max(source.distance(shapely.Point(p)) for p in xy) < scale
        # the middle of each piece as the analysis CRS draws it, brought back to the source CRS, is on the source line
        u = np.column_stack(to_utm.transform(*ll.T))
        mid_ll = np.column_stack(to_utm.transform(*((u[1:] + u[:-1]) / 2).T, direction="INVERSE"))
        mid = mid_ll if to_src is None else np.column_stack(to_src.transform(*mid_ll.T))
        off = [source.distance(shapely.Point(p)) for p in mid]
        off_m = max(off) * (111_000 if to_src is None else np.cos(np.radians(40.5)))  # Web Mercator scale at 40.5N
        assert off_m < 10.0


def test_mirror_loader_refuses_a_wrong_file(tmp_path: Path) -> None:
    haz, inf = _synthetic_mirror(tmp_path)
    with pytest.raises(InputDataError, match=r"has no layer 'earthquakes_iscgem_v7'.*sha256"):
        load_mirror_hazards(inf, inf)
    with pytest.raises(InputDataError, match=r"does not exist.*CORRIDOR_MIRROR"):
        load_mirror_hazards(tmp_path / "missing.gpkg", inf)
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(haz.read_bytes()[:3000])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputDataError, match=r"broken\.gpkg"):
            load_mirror_hazards(broken, inf)


@pytest.mark.integration
def test_real_mirror_layers(mirror: Path) -> None:
    table, report = load_mirror_hazards(mirror / "hazards_caspian.gpkg", mirror / "infrastructure_caspian.gpkg")
    # SOURCES.md: 243 earthquakes, 63/64 fault traces, 99 pipelines, 1 cable, 14 MARNET edges, 8 ports (Turkmenbashi
    # twice, merged into one hazard)
    assert report["counts_by_kind"] == {
        "earthquake": 243,
        "fault": 64,
        "pipeline": 99,
        "cable": 1,
        "shipping_lane": 14,
        "port": 7,
    }
    assert {report["layers"][layer]["read"] for layer in ("earthquakes_iscgem_v7", "pipelines_gem_routes")} == {243, 99}
    assert report["repaired"] == []
    assert report["dropped"] == []
    assert report["warnings"] == []
    assert set(MIRROR_LAYERS) == set(report["layers"])
    assert table["hazard_id"].is_unique
    assert table.crs.to_epsg() == 4326
    faults = next(m for m in report["merged"] if m["kind"] == "fault")
    # measured 60 of the 64 traces of 2021 matched to a named 2017 trace (mirror files at commit ed07429, 2026-12-02)
    assert faults["fault_2021_with_2017_attributes"] >= 55
    quakes = table[table["kind"] == "earthquake"]
    assert quakes["magnitude"].max() == pytest.approx(7.36)  # SOURCES.md: Rudbar 1990, Mw 7.36
    assert quakes["magnitude"].isna().sum() == 22  # events without an Mw, measured at commit ed07429
    assert "non-commercial" in table.loc[table["kind"] == "cable", "licence"].iloc[0]
    # on a coarse grid of the default scenario: crossable kinds never block, landing stations stay reachable
    scenario = load_scenario("siyazan-aktau")
    to_utm = Transformer.from_crs("EPSG:4326", scenario.analysis_crs(), always_xy=True)
    w, s, e, n = scenario.area_of_interest.bounds
    xs, ys = to_utm.transform([w, e, w, e], [s, s, n, n])
    grid = GeoGrid.from_bounds((min(xs), min(ys), max(xs), max(ys)), 4000, scenario.analysis_crs())
    out = rasterize_hazards(table, grid)
    assert out.hard_by_kind["pipeline"].sum() == 0
    assert out.hard_by_kind["cable"].sum() == 0
    assert out.hard_by_kind["port"].sum() > 0
    assert np.isfinite(out.soft_cost).all()
    for station in scenario.landing_stations:
        cell = grid.cell_of(*to_utm.transform(station.lon_deg, station.lat_deg))
        assert cell is not None
        assert not out.hard_mask[cell]


def test_combine_refuses_shared_ids() -> None:
    one = validate_hazards(_table([{"kind": "port", "geometry": shapely.Point(50, 41)}]), "a")
    two = validate_hazards(_table([{"kind": "wreck", "geometry": shapely.Point(51, 41)}]), "b")
    with pytest.raises(InputDataError, match="table 2 row 1: column 'hazard_id' 't:0' repeats table 1 row 1"):
        combine_hazards([one, two])
    both = combine_hazards([one, load_curated_hazards()[0], two.assign(hazard_id="t:1")])
    assert list(both["kind"]) == ["port", "wreck"]
    assert list(both.columns) == list(COLUMNS)
    assert len(combine_hazards([])) == 0
