"""Fixtures of the publish tests: the small synthetic corridor (UTM 39N, middle Caspian) that the GeoPackage, tile,
web-map and publishing tests build their products from.

``synthetic`` is a factory: each call returns fresh objects, so a test may change what it gets without affecting
another test.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon

from geodata.grid import GeoGrid, Raster
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
