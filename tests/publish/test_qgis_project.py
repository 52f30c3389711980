"""The QGIS project stored in corridor.gpkg (synthetic corridor of tests/publish/conftest.py).

The structural tests need no QGIS. ``test_project_opens_ready_in_qgis`` opens the GeoPackage's project with PyQGIS
(Debian's python3-qgis, run by /usr/bin/python3, headless) and renders it (the ``qgis_render`` fixture of
tests/conftest.py: it skips with the apt command when QGIS is not installed, and fails in CI).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from geodata.publish import qgis_project
from geodata.publish.gpkg import RASTER_NODATA, validate_gpkg, write_gpkg
from geodata.publish.styles import HAZARD_COLORS, hex_to_rgb


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory, synthetic: SimpleNamespace) -> Path:
    path = tmp_path_factory.mktemp("qgis") / "corridor.gpkg"
    layers = synthetic.layers()
    layers["route_profile"] = layers["kp_points"].copy()
    write_gpkg(path, layers, synthetic.raster_layers(), metadata=synthetic.metadata())
    return path


def _project(gpkg: Path) -> ET.Element:
    qgs = qgis_project.read_from_gpkg(gpkg)
    assert qgs is not None, "corridor.gpkg holds no QGIS project"
    return ET.fromstring(qgs.split("\n", 1)[1])


def test_project_is_stored_in_the_gpkg_which_stays_valid(gpkg: Path) -> None:
    assert validate_gpkg(gpkg) == []
    root = _project(gpkg)
    assert root.findtext("projectCrs/spatialrefsys/authid") == "EPSG:4326"
    tree = {n.get("id"): n for n in root.iter("layer-tree-layer")}
    checked = {i.removesuffix("_corridor"): n.get("checked") for i, n in tree.items()}
    assert checked["route_profile"] == "Qt::Unchecked"
    assert checked["kp_points"] == checked["route"] == checked["bathymetry"] == "Qt::Checked"
    order = [i.removesuffix("_corridor") for i in tree]
    assert order.index("kp_points") < order.index("route") < order.index("seabed_sectors") < order.index("bathymetry")
    assert order.index("route_profile") > order.index("kp_points")
    # every source is relative to the GeoPackage, so the folder can be moved
    assert all("./corridor.gpkg" in (n.get("source") or "") for n in tree.values())


def test_labels_and_raster_styles_are_in_the_project(gpkg: Path) -> None:
    layers = {ml.findtext("id").removesuffix("_corridor"): ml for ml in _project(gpkg).iter("maplayer")}
    for table, field in (("kp_points", "label"), ("landing_stations", "name"), ("alter_courses", "name")):
        assert layers[table].get("labelsEnabled") == "1"
        assert layers[table].find("labeling/settings/text-style").get("fieldName") == field
    assert "crossing_no" in layers["crossings"].find("labeling/settings/text-style").get("fieldName")
    assert layers["hazards_points"].get("labelsEnabled") == "0"
    for raster in ("bathymetry", "cost"):
        assert layers[raster].find("pipe/rasterrenderer").get("type") == "singlebandpseudocolor"
        assert layers[raster].find("noData/noDataList").get("useSrcNoData") == "1"


def test_hazard_kinds_are_told_apart() -> None:
    """Pipelines, epicentres and faults (they used to share orange-brown) differ clearly: RGB distance > 120."""
    kinds = ("pipeline", "earthquake", "fault", "cable", "mud_volcano")
    for i, a in enumerate(kinds):
        for b in kinds[i + 1 :]:
            dist = np.linalg.norm(np.subtract(hex_to_rgb(HAZARD_COLORS[a][0]), hex_to_rgb(HAZARD_COLORS[b][0])))
            assert dist > 120 or {a, b} <= {"fault", "mud_volcano"}, f"{a} and {b} look alike ({dist:.0f})"


@pytest.mark.integration  # renders with PyQGIS in a subprocess (~20 s)
def test_project_opens_ready_in_qgis(
    gpkg: Path, tmp_path: Path, synthetic: SimpleNamespace, qgis_render: Callable[..., dict]
) -> None:
    png = tmp_path / "corridor.png"
    out = qgis_render(gpkg, png)
    assert out["read"], out
    assert out["crs"] == "EPSG:4326"
    layers = out["layers"]
    assert all(v["valid"] for v in layers.values()), {k for k, v in layers.items() if not v["valid"]}
    assert not layers["route_profile"]["visible"]
    assert layers["kp_points"]["visible"]
    assert layers["kp_points"]["labels"]
    bathy, _ = synthetic.rasters()
    for name in ("bathymetry", "cost"):
        assert layers[name]["renderer"] == "singlebandpseudocolor", "raster opens grey"
        assert layers[name]["nodata"] == RASTER_NODATA
    # statistics leave the nodata cells out (they read NaN / -9999 before)
    assert layers["bathymetry"]["min"] == pytest.approx(float(np.nanmin(bathy.data)), rel=1e-5)
    assert layers["bathymetry"]["max"] == pytest.approx(float(np.nanmax(bathy.data)), rel=1e-5)
    # the render is in colour: blue water dominates, and it is not a grey ramp
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    blue = (img[..., 2] - img[..., 0] > 40).mean()
    grey = (np.ptp(img, axis=2) < 8).mean()
    assert blue > 0.2, f"only {blue:.0%} of the map is blue water"
    assert grey < 0.5, f"{grey:.0%} of the map is grey"
