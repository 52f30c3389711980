"""The published GeoPackage: GDAL's own validator, QGIS styles and metadata, real values in the gridded coverages.

The synthetic corridor comes from the ``synthetic`` fixture (tests/publish/conftest.py).
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyogrio
import pytest
import rasterio

from geodata.errors import InputDataError
from geodata.publish.gpkg import (
    RASTER_NODATA,
    VACUUM_FREE_SHARE,
    VECTOR_LAYERS,
    describe_gpkg,
    fields_without_units,
    validate_gpkg,
    write_gpkg,
)


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory, synthetic: SimpleNamespace) -> Path:
    path = tmp_path_factory.mktemp("gpkg") / "corridor.gpkg"
    report = write_gpkg(
        path, synthetic.layers(), synthetic.raster_layers(), metadata=synthetic.metadata(), required=VECTOR_LAYERS
    )
    assert report.size_bytes == path.stat().st_size > 0
    return path


@pytest.mark.usefixtures("gdal_validator")
def test_gpkg_passes_gdal_validation_and_own_checks(gpkg: Path) -> None:
    # gdal_validator=True: a validator that cannot run is a problem, never a silent pass
    problems = validate_gpkg(gpkg, gdal_validator=True, expect_layers=[*VECTOR_LAYERS, "bathymetry", "cost"])
    assert problems == []
    con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    free, pages = con.execute("PRAGMA freelist_count").fetchone()[0], con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    assert free <= VACUUM_FREE_SHARE * pages  # written without a VACUUM, it holds no space worth giving back


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
    assert {"hazards_points", "hazards_lines"} <= layers
    assert "hazards" not in layers
    route = pyogrio.read_dataframe(gpkg, layer="route")
    assert route.crs.to_epsg() == 4326
    lon, lat = route.geometry.iloc[0].coords[0]
    assert 48 < lon < 50
    assert 42 < lat < 43
    info = describe_gpkg(gpkg)
    assert info["kp_points"]["title"] == "Kp Points"
    assert info["kp_points"]["rows"] == 21  # the synthetic route is 200.9 km long: KP 0, 10, ..., 200
    assert info["bathymetry"]["kind"] == "2d-gridded-coverage"
    meta = pyogrio.read_info(gpkg, layer="route")["layer_metadata"]
    assert meta["LICENCE"] == "CC-BY-4.0"
    assert meta["ATTRIBUTION"] == "caspian-corridor tests"


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
    assert line is not None
    assert line.get("class") == "SimpleLine"
    props = {o.get("name"): o.get("value") for o in line.iter("Option") if o.get("name")}
    assert props["line_width"] == "0.8"
    assert props["line_color"].startswith("215,25,28")
    sectors = ET.fromstring(rows["seabed_sectors"].split("\n", 1)[1])
    assert sectors.find("renderer-v2").get("type") == "categorizedSymbol"
    assert {c.get("value") for c in sectors.iter("category")} >= {"AZE", "KAZ"}
    bathy = ET.fromstring(rows["bathymetry"].split("\n", 1)[1])
    assert bathy.find("pipe/rasterrenderer").get("type") == "singlebandpseudocolor"
    doc = ET.fromstring(md["route"].split("\n", 1)[1])
    assert doc.findtext("title") == "Route"
    assert doc.findtext("licenses/license") == "CC-BY-4.0"


def test_gridded_coverage_keeps_real_values(gpkg: Path, synthetic: SimpleNamespace) -> None:
    bathy, cost = synthetic.rasters()
    with rasterio.open(f"GPKG:{gpkg}:bathymetry") as src:
        depth = src.read(1)
        masked = src.read(1, masked=True)
        assert src.crs.to_epsg() == 32639
        assert src.transform == bathy.grid.transform
        assert src.nodata == RASTER_NODATA  # declared (data_null), so statistics leave the empty cells out
    ok = np.isfinite(bathy.data)
    np.testing.assert_allclose(depth[ok], bathy.data[ok], rtol=1e-6)
    assert (depth[~ok] == RASTER_NODATA).all()
    assert (masked.mask == ~ok).all()
    assert float(masked.min()) == pytest.approx(float(np.nanmin(bathy.data)), rel=1e-6)
    with rasterio.open(f"GPKG:{gpkg}:cost") as src:
        c = src.read(1)
    assert (c[np.isinf(cost.data)] >= np.finfo("float32").max).all()  # impassable stays impassable


def test_bad_input_is_refused_with_the_fix(tmp_path: Path, synthetic: SimpleNamespace) -> None:
    layers = synthetic.layers()
    layers["route"] = layers["route"].rename(columns={"length_km": "length"})
    layers["rpl"] = layers["rpl"].set_crs(None, allow_override=True)
    with pytest.raises(InputDataError) as err:
        write_gpkg(tmp_path / "x.gpkg", layers)
    assert "length -> " not in str(err.value)
    assert "['length']" in str(err.value)
    assert "'rpl' has no CRS" in str(err.value)
    with pytest.raises(InputDataError, match="needs layers"):
        write_gpkg(tmp_path / "x.gpkg", {"route": synthetic.layers()["route"]}, required=VECTOR_LAYERS)
    assert not (tmp_path / "x.gpkg").exists()
    assert fields_without_units(synthetic.layers()["rpl"]) == []
