"""The published GeoPackage: GDAL's own validator, QGIS styles and metadata, real values in the gridded coverages.

``synthetic_publication()`` builds the small synthetic corridor (UTM 39N, middle Caspian) that the tile, web-map and
publish tests reuse.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon

from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster
from geodata.publish.gpkg import (
    VECTOR_LAYERS,
    LayerMeta,
    RasterLayer,
    describe_gpkg,
    fields_without_units,
    validate_gpkg,
    write_gpkg,
)

UTM39 = CRS.from_epsg(32639)


def synthetic_rasters() -> tuple[Raster, Raster]:
    """Depth (m, positive down; negative on land) and cost rasters, 90 x 110 cells of 2 km in UTM 39N."""
    grid = GeoGrid(UTM39, Affine(2000.0, 0, 260_000.0, 0, -2000.0, 4_850_000.0), (90, 110))
    rows, cols = np.mgrid[0:90, 0:110]
    depth = 20 + 700 * np.exp(-(((rows - 50) / 25.0) ** 2 + ((cols - 55) / 30.0) ** 2)) + 5 * np.sin(cols / 4.0)
    depth[:, :8] = -30 + 4 * rows[:, :8] / 9  # a strip of land in the west
    depth[:12, 95:] = -50.0  # and a headland in the north-east
    depth = depth.astype("float32")
    depth[85:, 100:] = np.nan  # a hole of nodata
    cost = (1 + depth / 300.0).astype("float32")
    cost[depth < 0] = np.inf  # land is impassable
    bathy = Raster(depth, grid, nodata=float("nan"), attrs={"units": "m", "positive": "down"})
    return bathy, Raster(cost, grid, nodata=float("nan"), attrs={"units": "cost per m"})


def synthetic_layers() -> dict[str, gpd.GeoDataFrame]:
    """Every published vector layer, built in UTM 39N (the writer must reproject to EPSG:4326)."""
    route_xy = [(280_000, 4_700_000), (330_000, 4_740_000), (400_000, 4_760_000), (450_000, 4_800_000)]
    route = LineString(route_xy)

    def utm(data: dict, geoms: list) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(data, geometry=geoms, crs=UTM39)

    kp = [route.interpolate(d) for d in np.arange(0, route.length, 10_000.0)]
    band = route.buffer(8000)
    survey = route.buffer(500)
    sectors = [
        Polygon([(260_000, 4_670_000), (370_000, 4_670_000), (370_000, 4_850_000), (260_000, 4_850_000)]),
        Polygon([(370_000, 4_670_000), (480_000, 4_670_000), (480_000, 4_850_000), (370_000, 4_850_000)]),
    ]
    return {
        "route": utm({"name": ["Siyazan-Aktau"], "length_km": [route.length / 1000]}, [route]),
        "corridor": utm(
            {"kind": ["near_optimal_band", "survey_corridor"], "width_m": [16_000.0, 1000.0]}, [band, survey]
        ),
        "rpl": utm(
            {
                "pos": [f"AC{i}" for i in range(len(route_xy))],
                "kp_km": [0.0, 64.0, 137.0, 201.0],
                "water_depth_m": [5.0, 310.0, 620.0, 12.0],
                "course_deg": [51.3, 74.1, 38.7, np.nan],
                "cable_type": ["DA", "SA", "LWP", "DA"],
            },
            [Point(p) for p in route_xy],
        ),
        "alter_courses": utm(
            {"name": ["AC1", "AC2"], "course_change_deg": [22.8, -35.4]}, [Point(route_xy[1]), Point(route_xy[2])]
        ),
        "kp_points": utm(
            {"kp_km": [i * 10.0 for i in range(len(kp))], "label": [f"KP {i * 10}" for i in range(len(kp))]}, kp
        ),
        "crossings": utm({"name": ["BTC-X"], "crossing_angle_deg": [78.0]}, [Point(365_000, 4_752_000)]),
        "hazards": utm(
            {"kind": ["mud_volcano", "platform", "fault"], "name": ["MV-1", "P-7", "F-2"]},
            [
                Point(350_000, 4_720_000),
                Point(420_000, 4_790_000),
                LineString([(300_000, 4_760_000), (340_000, 4_790_000)]),
            ],
        ),
        "seabed_sectors": utm({"country": ["AZE", "KAZ"]}, sectors),
        "boundary_lines": utm(
            {"countries": ["AZE-KAZ"], "kind": ["median line"]},
            [LineString([(370_000, 4_670_000), (370_000, 4_850_000)])],
        ),
        "territorial_waters": utm({"country": ["AZE"], "width_nm": [15.0]}, [Point(262_000, 4_700_000).buffer(27_780)]),
        "landing_stations": utm(
            {"name": ["Siyazan", "Aktau"], "country": ["AZE", "KAZ"]}, [Point(route_xy[0]), Point(route_xy[-1])]
        ),
    }


def synthetic_metadata() -> dict[str, LayerMeta]:
    meta = {
        name: LayerMeta(
            title=name.replace("_", " ").title(),
            abstract=f"Synthetic {name} for tests",
            source="synthetic",
            licence="CC-BY-4.0",
            attribution="caspian-corridor tests",
            keywords=("oceans", "cable"),
        )
        for name in VECTOR_LAYERS
    }
    return meta


def synthetic_raster_layers() -> dict[str, RasterLayer]:
    bathy, cost = synthetic_rasters()
    return {
        "bathymetry": RasterLayer(bathy, LayerMeta("Water depth", "Depth below the Caspian surface"), units="m"),
        "cost": RasterLayer(cost, LayerMeta("Routing cost", "Cost per metre of cable"), units="cost per m"),
    }


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gpkg") / "corridor.gpkg"
    report = write_gpkg(
        path, synthetic_layers(), synthetic_raster_layers(), metadata=synthetic_metadata(), required=VECTOR_LAYERS
    )
    assert report.size_bytes == path.stat().st_size > 0
    return path


def test_gpkg_passes_gdal_validation_and_own_checks(gpkg: Path) -> None:
    # GDAL's validate_gpkg.py is required here: install with the Makefile's system-deps target
    problems = validate_gpkg(gpkg, gdal_validator=True, expect_layers=[*VECTOR_LAYERS, "bathymetry", "cost"])
    assert problems == []


def test_validation_catches_a_broken_file(gpkg: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(gpkg.read_bytes())
    con = sqlite3.connect(broken)
    con.execute("DROP TABLE rtree_route_geom")
    con.execute("DELETE FROM layer_styles WHERE f_table_name = 'hazards_points'")
    con.commit()
    con.close()
    problems = validate_gpkg(broken, gdal_validator=False, expect_layers=["route", "nonexistent"])
    text = "\n".join(problems)
    assert "route' has no R-tree" in text
    assert "hazards_points' has no default QGIS style" in text
    assert "'nonexistent' is missing" in text


def test_vector_layers_in_4326_with_units_and_titles(gpkg: Path) -> None:
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    # hazards mixes points and a line: split so QGIS and tiles style each family
    assert {"hazards_points", "hazards_lines"} <= layers and "hazards" not in layers
    route = pyogrio.read_dataframe(gpkg, layer="route")
    assert route.crs.to_epsg() == 4326
    lon, lat = route.geometry.iloc[0].coords[0]
    assert 48 < lon < 50 and 42 < lat < 43  # (280 km E, 4700 km N) in UTM 39N
    info = describe_gpkg(gpkg)
    assert info["kp_points"]["title"] == "Kp Points" and info["kp_points"]["rows"] == 21
    assert info["bathymetry"]["kind"] == "2d-gridded-coverage"
    meta = pyogrio.read_info(gpkg, layer="route")["layer_metadata"]
    assert meta["LICENCE"] == "CC-BY-4.0" and meta["ATTRIBUTION"] == "caspian-corridor tests"


def test_qgis_styles_and_metadata(gpkg: Path) -> None:
    con = sqlite3.connect(gpkg)
    rows = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault = 1"))
    kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()[0]
    md = dict(
        con.execute(
            "SELECT r.table_name, m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r "
            "ON r.md_file_id = m.id WHERE m.md_standard_uri = 'http://mrcc.com/qgis.dtd'"
        )
    )
    con.close()
    assert kind == "attributes"
    route = ET.fromstring(rows["route"].split("\n", 1)[1])
    line = route.find("renderer-v2/symbols/symbol/layer")
    assert line is not None and line.get("class") == "SimpleLine"
    props = {o.get("name"): o.get("value") for o in line.iter("Option") if o.get("name")}
    assert props["line_width"] == "0.8" and props["line_color"].startswith("215,25,28")
    sectors = ET.fromstring(rows["seabed_sectors"].split("\n", 1)[1])
    assert sectors.find("renderer-v2").get("type") == "categorizedSymbol"
    assert {c.get("value") for c in sectors.iter("category")} >= {"AZE", "KAZ"}
    bathy = ET.fromstring(rows["bathymetry"].split("\n", 1)[1])
    assert bathy.find("pipe/rasterrenderer").get("type") == "singlebandpseudocolor"
    doc = ET.fromstring(md["route"].split("\n", 1)[1])
    assert doc.findtext("title") == "Route" and doc.findtext("licenses/license") == "CC-BY-4.0"


def test_gridded_coverage_keeps_real_values(gpkg: Path) -> None:
    bathy, cost = synthetic_rasters()
    with rasterio.open(f"GPKG:{gpkg}:bathymetry") as src:
        depth = src.read(1)
        assert src.crs.to_epsg() == 32639 and src.transform == bathy.grid.transform
    ok = np.isfinite(bathy.data)
    np.testing.assert_allclose(depth[ok], bathy.data[ok], rtol=1e-6)
    assert np.isnan(depth[~ok]).all()  # NaN = no data in float32 gridded coverage tiles
    with rasterio.open(f"GPKG:{gpkg}:cost") as src:
        c = src.read(1)
    assert (c[np.isinf(cost.data)] >= np.finfo("float32").max).all()  # impassable stays impassable


def test_bad_input_is_refused_with_the_fix(tmp_path: Path) -> None:
    layers = synthetic_layers()
    layers["route"] = layers["route"].rename(columns={"length_km": "length"})
    layers["rpl"] = layers["rpl"].set_crs(None, allow_override=True)
    with pytest.raises(InputDataError) as err:
        write_gpkg(tmp_path / "x.gpkg", layers)
    assert "length -> " not in str(err.value) and "['length']" in str(err.value)
    assert "'rpl' has no CRS" in str(err.value)
    with pytest.raises(InputDataError, match="needs layers"):
        write_gpkg(tmp_path / "x.gpkg", {"route": synthetic_layers()["route"]}, required=VECTOR_LAYERS)
    assert not (tmp_path / "x.gpkg").exists()
    assert fields_without_units(synthetic_layers()["rpl"]) == []
