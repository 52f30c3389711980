"""Blocking route checks: a steep cell, an exclusion, a foreign sector or an oblique crossing fails the route."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import LineString, box

from geodata.engineering.checks import check_route
from geodata.grid import GeoGrid, Raster

GRID = GeoGrid("EPSG:32639", Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_700_000.0), (40, 60))
ROUTE = LineString([(402_000, 4_680_500), (455_000, 4_680_500)])  # along the centres of row 19


def slope_raster(steep_cell: tuple[int, int] | None = None) -> Raster:
    slope = np.full(GRID.shape, 2.0, "float32")
    if steep_cell:
        slope[steep_cell] = 25.0
    return Raster(slope, GRID)


def by_name(results) -> dict:
    return {r.name: r for r in results}


def test_clean_route_passes_every_check() -> None:
    sectors = gpd.GeoDataFrame(
        {"country": ["AZE"]}, geometry=[box(399_000, 4_650_000, 470_000, 4_710_000)], crs=GRID.crs
    )
    crossings = pd.DataFrame({"feature_id": ["P1"], "angle_deg": [75.0], "min_angle_deg": [60.0]})
    res = check_route(
        ROUTE,
        grid=GRID,
        hard_mask=np.zeros(GRID.shape, bool),
        slope=slope_raster(),
        max_slope_deg=15,
        sectors=sectors.to_crs(4326),
        allowed_countries=["AZE"],
        crossings=crossings,
        min_angle_deg=60,
    )
    assert all(r.passed for r in res), [r.description for r in res]
    assert len(res) == 4
    assert all(r.blocking for r in res)


def test_route_forced_through_a_slope_limit_cell_fails() -> None:
    row, col = GRID.cell_of(430_500, 4_680_500)
    res = by_name(
        check_route(
            ROUTE, grid=GRID, hard_mask=np.zeros(GRID.shape, bool), slope=slope_raster((row, col)), max_slope_deg=15
        )
    )
    assert not res["route_within_slope_limit"].passed
    assert res["route_within_slope_limit"].metadata["max_slope_cells_deg"] == pytest.approx(25.0)
    assert "max_slope_deg" in res["route_within_slope_limit"].description
    assert res["route_clear_of_hard_exclusions"].passed


def test_hard_exclusion_fails_unless_exempt() -> None:
    mask = np.zeros(GRID.shape, bool)
    mask[GRID.cell_of(403_500, 4_680_500)] = True  # a land cell at the shore end
    res = by_name(check_route(ROUTE, grid=GRID, hard_mask=mask, slope=slope_raster(), max_slope_deg=15))
    assert not res["route_clear_of_hard_exclusions"].passed
    assert res["route_clear_of_hard_exclusions"].metadata["length_in_exclusion_m"] == pytest.approx(1000.0)
    shore_end = LineString([(402_000, 4_680_500), (405_000, 4_680_500)])
    res = by_name(
        check_route(ROUTE, grid=GRID, hard_mask=mask, slope=slope_raster(), max_slope_deg=15, exempt=shore_end)
    )
    assert res["route_clear_of_hard_exclusions"].passed


def test_foreign_sector_and_oblique_crossing_fail() -> None:
    sectors = gpd.GeoDataFrame(
        {"country": ["AZE", "RUS", "KAZ"]},
        geometry=[
            box(399_000, 4_650_000, 420_000, 4_710_000),
            box(420_000, 4_650_000, 430_000, 4_710_000),
            box(430_000, 4_650_000, 470_000, 4_710_000),
        ],
        crs=GRID.crs,
    ).to_crs(4326)
    crossings = pd.DataFrame({"feature_id": ["P1"], "angle_deg": [20.0], "min_angle_deg": [60.0]})
    res = by_name(
        check_route(
            ROUTE,
            grid=GRID,
            hard_mask=np.zeros(GRID.shape, bool),
            slope=slope_raster(),
            max_slope_deg=15,
            sectors=sectors,
            allowed_countries=["AZE", "KAZ"],
            crossings=crossings,
            min_angle_deg=60,
        )
    )
    assert not res["route_within_allowed_sectors"].passed
    assert "RUS" in res["route_within_allowed_sectors"].description
    assert not res["crossing_angles"].passed
    assert "P1 at 20°" in res["crossing_angles"].description


def test_stretch_in_no_sector_points_at_land_not_at_foreign_sectors() -> None:
    """Synthetic: a gap between two sector polygons mid-route (where the real battery routes crossed a spit). The
    failure names the stretch and points at land and the landfalls, not at forbidding sectors."""
    from geodata.engineering.checks import check_sectors

    sectors = gpd.GeoDataFrame(
        {"country": ["AZE", "KAZ"]},
        geometry=[box(399_000, 4_650_000, 425_000, 4_710_000), box(426_000, 4_650_000, 470_000, 4_710_000)],
        crs=GRID.crs,
    ).to_crs(4326)
    res = check_sectors(ROUTE, GRID.crs, sectors, ["AZE", "KAZ"])
    assert not res.passed
    assert "no sector KP" in res.description
    assert "route_clear_of_land" in res.description
    assert "forbid those sectors" not in res.description


def test_crossing_on_a_land_section_is_not_held_to_the_marine_minimum() -> None:
    """Synthetic: an existing cable's schematic drawing crosses the route's land section at 48 degrees (as at
    Turkmenbashi); at sea the same crossing still fails."""
    from geodata.engineering.checks import check_crossing_angles

    crossings = pd.DataFrame(
        {
            "feature_id": ["C1", "P1"],
            "kind": ["cable", "pipeline"],
            "angle_deg": [48.0, 70.0],
            "min_angle_deg": [60.0, 60.0],
            "x_m": [402_500.0, 430_000.0],
            "y_m": [4_680_500.0, 4_680_500.0],
        }
    )
    section = LineString([(402_000, 4_680_500), (403_000, 4_680_500)])
    assert not check_crossing_angles(crossings, 60.0).passed
    ok = check_crossing_angles(crossings, 60.0, land_sections=section)
    assert ok.passed, ok.description
    assert ok.metadata["land_section_crossings"] == 1
    assert ok.metadata["crossings"] == 1
    at_sea = LineString([(440_000, 4_680_500), (441_000, 4_680_500)])
    assert not check_crossing_angles(crossings, 60.0, land_sections=at_sea).passed


def test_slope_check_on_a_raster_on_disk_reads_tiles_only_and_agrees(tmp_path) -> None:
    """The slope the store hands on (a LazyRaster on a tiled GeoTIFF) is checked from the tiles the route crosses,
    never loaded whole, with the result of the in-memory raster."""
    from geodata.grid import RasterWriter

    row, col = GRID.cell_of(430_500, 4_680_500)
    mem = slope_raster((row, col))
    mem.data[5, 5] = np.nan  # nodata off the route
    with RasterWriter(tmp_path / "slope.tif", GRID, "float32", nodata=float("nan")) as out:
        out.write_rows(slice(0, GRID.shape[0]), mem.data)
    lazy = out.raster()
    on_disk = by_name(check_route(ROUTE, grid=GRID, hard_mask=np.zeros(GRID.shape, bool), slope=lazy, max_slope_deg=15))
    in_mem = by_name(check_route(ROUTE, grid=GRID, hard_mask=np.zeros(GRID.shape, bool), slope=mem, max_slope_deg=15))
    assert not lazy.loaded
    a, b = on_disk["route_within_slope_limit"], in_mem["route_within_slope_limit"]
    assert (a.passed, a.description, a.metadata) == (b.passed, b.description, b.metadata)
    assert not a.passed
