"""Fixtures of the publish tests: the small synthetic corridor (UTM 39N, middle Caspian) that the GeoPackage, tile,
web-map and publishing tests build their products from.

``synthetic`` is a factory: each call returns fresh objects, so a test may change what it gets without affecting
another test.

The web-map browser tests (``test_webmap.py``, ``test_webmap_field.py``) share ``serve_folder`` (a publication
folder served on a free loopback port), ``browser`` (headless Chromium through selenium, one per test module, with
its own profile) and ``wait_for`` (poll a script in the page until it returns a truthy value).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon

from geodata.grid import GeoGrid, Raster
from geodata.publish import webmap
from geodata.publish.gpkg import VECTOR_LAYERS, LayerMeta, RasterLayer

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


@pytest.fixture(scope="session")
def synthetic() -> SimpleNamespace:
    """Builders of the synthetic publication: ``rasters()`` (depth, cost), ``layers()`` (every published vector
    layer), ``metadata()`` (a LayerMeta per vector layer) and ``raster_layers()`` (the gridded coverages)."""
    return SimpleNamespace(
        rasters=synthetic_rasters,
        layers=synthetic_layers,
        metadata=synthetic_metadata,
        raster_layers=synthetic_raster_layers,
    )


# -- the web map in headless Chromium -------------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--window-size=1280,860",
)  # fmt: skip
"""Headless, no network of its own (no component updates, sync or QUIC), WebGL in software (SwiftShader)."""


@contextlib.contextmanager
def _served(folder: Path) -> Iterator[str]:
    server = webmap.serve(folder)  # http.server with byte ranges, on a free port of 127.0.0.1
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def serve_folder() -> Callable[[Path], contextlib.AbstractContextManager[str]]:
    """``with serve_folder(folder) as url:`` serves a built publication folder on loopback while the block runs;
    ``url`` is its ``index.html``."""
    return _served


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, chromium: tuple[Path, Path]) -> Iterator[Any]:
    """A headless Chromium driven by selenium, with a fresh profile, for the test module; browser console logged."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, chromedriver = chromium
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(binary)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(chromedriver)))
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver: Any, script: str, timeout_s: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    errors = driver.execute_script("return window.__webmap ? window.__webmap.errors : 'no __webmap'")
    raise AssertionError(f"timed out after {timeout_s} s waiting for {script!r}; page errors: {errors}")


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``wait_for(driver, script, timeout_s=45)``: the first truthy value the script returns in the page, polled
    every 0.2 s; fails with the page's recorded errors on time-out."""
    return _wait_for
