"""Shared fixtures: the repository root, the data mirror beside the project, prerequisites, small synthetic grids.

Tests never import each other or this file: whatever two test modules share is a fixture here or in the conftest.py of
their stage folder, or, for plain checking functions, a helper module that is not a test module
(``tests/rpl_expectation.py``: the independent RPL expectation of the synthetic and the real-route tests).

Tiers (see the Makefile): the default ``pytest`` run deselects the ``integration`` and ``browser`` markers (pyproject's
addopts); ``pytest -m ""`` runs everything. A test whose prerequisite is missing (the mirror, Chromium, GDAL's
validator, the npm packages, PyQGIS, the PostgreSQL server) skips with the reason and the fix, except in CI
(``CI=true``), where it fails: CI installs every prerequisite, so a missing one is a broken CI image, not a reason to
pass.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from geodata.grid import GeoGrid

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def fresh_run_env(home: Path, base: Path, mirror: Path, **more: str) -> dict[str, str]:
    """The environment of a fresh shell whose ``corridor`` writes everything under ``base`` (published, store, cache,
    dagster_home) and reads the geodata ``mirror``; ``more`` adds variables (``CORRIDOR_SCENARIOS=...``)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "CORRIDOR_MIRROR": str(mirror),
        "CORRIDOR_OUTPUT": str(base / "published"),
        "CORRIDOR_STORE": str(base / "store"),
        "CORRIDOR_CACHE": str(base / "cache"),
        "DAGSTER_HOME": str(base / "dagster_home"),
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache")),
        **more,
    }


def missing_prerequisite(reason: str) -> NoReturn:
    """Skip the test with ``reason`` (which should say how to install what is missing), or fail it in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: CI installs every prerequisite, so this is an error)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root (the folder holding pyproject.toml)."""
    return ROOT


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The geodata mirror: ``CORRIDOR_MIRROR`` or ``../shared/geodata-mirror`` beside the project."""
    env = os.environ.get("CORRIDOR_MIRROR")
    path = Path(env) if env else ROOT.parent / "shared" / "geodata-mirror"
    if not (path / "SOURCES.md").is_file():
        missing_prerequisite(f"the geodata mirror is not at {path}; set CORRIDOR_MIRROR to its folder")
    return path


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The npm packages of the web map (MapLibre GL JS, pmtiles) that every publication copies."""
    from geodata.errors import ConfigError
    from geodata.publish import webmap

    try:
        return webmap.node_modules_dir()
    except ConfigError as err:
        missing_prerequisite(f"{err} (or `make install`)")


@pytest.fixture(scope="session")
def gdal_validator() -> list[str]:
    """The command running GDAL's validate_gpkg.py (Debian's python3-gdal; the Makefile's system-deps installs it)."""
    from geodata.publish.gpkg import GDAL_APT_HINT, gdal_validator_command

    command = gdal_validator_command()
    if command is None:
        missing_prerequisite(f"GDAL's validate_gpkg.py is not installed; install it with `{GDAL_APT_HINT}`")
    return command


SYSTEM_PYTHON = Path("/usr/bin/python3")
QGIS_APT = "apt-get install -y --no-install-recommends python3-qgis qgis (or `make system-deps`)"
QGIS_SCRIPT = r"""
import json, sys
from qgis.core import (QgsApplication, QgsProject, QgsMapSettings, QgsMapRendererSequentialJob, QgsRasterBandStats)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False); app.initQgis()
proj = QgsProject.instance()
ok = proj.read(f"geopackage:{sys.argv[1]}?projectName=corridor")
out = {"read": ok, "crs": proj.crs().authid(), "layers": {}}
for lid, lay in proj.mapLayers().items():
    node = proj.layerTreeRoot().findLayer(lid)
    info = {"valid": lay.isValid(), "visible": node.isVisible()}
    if lay.type() == 1:
        dp = lay.dataProvider()
        st = dp.bandStatistics(1, QgsRasterBandStats.All)
        nodata = dp.sourceNoDataValue(1) if dp.sourceHasNoDataValue(1) else None
        info |= {"renderer": lay.renderer().type(), "nodata": nodata, "min": st.minimumValue, "max": st.maximumValue}
    else:
        info |= {"renderer": lay.renderer().type(), "labels": lay.labelsEnabled(), "count": lay.featureCount()}
    out["layers"][lid.removesuffix("_corridor")] = info
extent = None
if len(sys.argv) > 4:
    from qgis.core import QgsRectangle
    extent = QgsRectangle(*map(float, sys.argv[4].split(",")))
settings = QgsMapSettings()
settings.setLayers([l for l in proj.layerTreeRoot().checkedLayers()])
settings.setDestinationCrs(proj.crs())
settings.setExtent(extent or settings.fullExtent())
settings.setOutputSize(QSize(int(sys.argv[3]), int(sys.argv[3]) * 3 // 4))
settings.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererSequentialJob(settings); job.start(); job.waitForFinished()
job.renderedImage().save(sys.argv[2], "png")
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def qgis_render() -> Callable[..., dict[str, Any]]:
    """``qgis_render(gpkg, png, width=800, extent=None)``: open the QGIS project stored in ``gpkg`` with PyQGIS
    (Debian's python3-qgis under /usr/bin/python3, headless) and render its visible layers to ``png`` (the whole
    extent, or ``extent = (xmin, ymin, xmax, ymax)`` in the project CRS); returns what QGIS read of each layer."""
    have = (
        SYSTEM_PYTHON.exists()
        and not subprocess.run(
            [str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True, check=False
        ).returncode
    )
    if not have:
        missing_prerequisite(f"QGIS (PyQGIS) is not installed; install it with `{QGIS_APT}`")

    def render(
        gpkg: Path, png: Path, width: int = 800, extent: tuple[float, float, float, float] | None = None
    ) -> dict[str, Any]:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(png.parent)}
        args = [str(SYSTEM_PYTHON), "-c", QGIS_SCRIPT, str(gpkg), str(png), str(width)]
        if extent is not None:
            args.append(",".join(f"{v:.6f}" for v in extent))
        run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))

    return render


QGIS_LAYERS_SCRIPT = r"""
import json, sys
from osgeo import ogr
from qgis.core import (QgsApplication, QgsMapSettings, QgsMapRendererSequentialJob, QgsVectorLayer,
                       QgsCoordinateReferenceSystem, QgsRectangle)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False); app.initQgis()
ds = ogr.Open(sys.argv[1])
names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
ds = None
out, layers = {}, []
for name in names:
    lay = QgsVectorLayer(f"{sys.argv[1]}|layername={name}", name, "ogr")
    out[name] = {"valid": lay.isValid(), "count": lay.featureCount(), "spatial": lay.isSpatial(),
                 "crs": lay.crs().authid() if lay.isSpatial() else None}
    if lay.isValid() and lay.isSpatial() and lay.renderer().type() == "singleSymbol":
        out[name]["color"] = lay.renderer().symbol().color().name()
    if lay.isValid() and lay.isSpatial():
        layers.append(lay)
settings = QgsMapSettings()
settings.setLayers(layers)
settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
extent = QgsRectangle()
for lay in layers:
    extent.combineExtentWith(lay.extent())
settings.setExtent(extent)
settings.setOutputSize(QSize(int(sys.argv[3]), int(sys.argv[3]) * 3 // 4))
settings.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererSequentialJob(settings); job.start(); job.waitForFinished()
img = job.renderedImage(); img.save(sys.argv[2], "png")
painted = sum(1 for y in range(0, img.height(), 4) for x in range(0, img.width(), 4) if img.pixel(x, y) != 0xFFFFFFFF)
print(json.dumps({"layers": out, "painted_samples": painted}))
"""


@pytest.fixture(scope="session")
def qgis_open_layers(qgis_render: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``qgis_open_layers(gpkg, png, width=800)``: open every layer of a plain GeoPackage (no stored project) the way
    QGIS's browser adds them (the ``ogr`` provider), render the spatial ones to ``png``; returns each layer's
    validity, feature count and CRS and how many sampled pixels are painted. Needs the same QGIS as ``qgis_render``."""

    def open_layers(gpkg: Path, png: Path, width: int = 800) -> dict[str, Any]:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(png.parent)}
        args = [str(SYSTEM_PYTHON), "-c", QGIS_LAYERS_SCRIPT, str(gpkg), str(png), str(width)]
        run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))

    return open_layers


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Debian's headless Chromium and its driver, and selenium to drive them: ``(browser, driver)``."""
    apt = "sudo apt-get install -y chromium chromium-driver (or `make system-deps`)"
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.exists():
            missing_prerequisite(f"{exe} is missing; install it with `{apt}`")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing_prerequisite("selenium is not installed; install the dev extras with `pip install -e '.[dev]'`")
    return CHROMIUM, CHROMEDRIVER


POSTGRES_APT = "sudo apt-get install -y postgresql (or `make system-deps`)"


@pytest.fixture(scope="session")
def postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs (``initdb``, ``pg_ctl``, ``postgres``): Debian's
    ``/usr/lib/postgresql/<major>/bin`` (the newest), else wherever ``pg_ctl`` is on PATH."""
    import shutil

    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates = sorted(debian, key=lambda p: int(p.parent.name), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return folder
    missing_prerequisite(f"the PostgreSQL server (initdb, pg_ctl) is not installed; install it with `{POSTGRES_APT}`")


@pytest.fixture
def utm_grid() -> GeoGrid:
    """A 20 x 30 grid of 1 km cells in UTM 39N near the middle Caspian."""
    return GeoGrid(CRS.from_epsg(32639), Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_700_000.0), (20, 30))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)
