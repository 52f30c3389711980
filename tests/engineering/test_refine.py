"""Refinement of the regional route on a fine survey grid inside a band (geodata/engineering/refine.py), on synthetic
arrays: a shoal the 1 km regional grid cannot see is avoided on the 50 m survey, at a lower cost than the regional
route evaluated on the same fine grid, without ever leaving the band or materialising the fine grid."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from shapely.geometry import LineString, Point

from geodata import routing
from geodata.bathymetry.terrain import slope_deg
from geodata.cost import build_cost_surface
from geodata.engineering.refine import RefinementError, RouteRefinement, check_refined_route, refine_route
from geodata.grid import GeoGrid, Raster
from geodata.scenario import parse_scenario

CRS = "EPSG:32639"
LEVEL = -28.0
SHOAL = (425_000.0, 4_525_000.0)


def _scenario(survey: dict[str, Any] | None) -> Any:
    data: dict[str, Any] = {
        "name": "refine-test",
        "landing_stations": [
            {"name": "A", "country": "AZE", "lat_deg": 40.9, "lon_deg": 49.9},
            {"name": "B", "country": "AZE", "lat_deg": 41.2, "lon_deg": 50.2},
        ],
        "area_of_interest": {"west_deg": 49.5, "south_deg": 40.5, "east_deg": 50.5, "north_deg": 41.5},
        "analysis": {"crs": CRS, "resolution_m": 1000},
    }
    if survey is not None:
        data["survey"] = survey
    return parse_scenario(data, "refine-test.yaml")


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    grid = GeoGrid.from_bounds((400_000, 4_500_000, 450_000, 4_550_000), 1000, CRS)
    depth = Raster(np.full(grid.shape, 100.0, dtype="float32"), grid, float("nan"))
    sc = _scenario(None)
    surface = build_cost_surface(
        depth,
        slope_deg(depth),
        Raster(np.ones(grid.shape, "uint8"), grid, None),
        sc.cost,
        sc.limits,
        allowed_sector=np.ones(grid.shape, bool),
        allowed_sectors=("AZE",),
    )
    start, goal = (44, 5), (5, 44)  # south-west to north-east, straight through the shoal
    coarse = routing.least_cost_path(surface.total, start, goal, cell_size=grid.res)
    ends = tuple(SimpleNamespace(approach_end_xy=tuple(float(v) for v in grid.xy(*p))) for p in (start, goal))
    # the survey: 50 m cells over 10 km round the middle, the regional 100 m with a Gaussian shoal rising to 3 m
    sgrid = GeoGrid.from_bounds((420_000, 4_520_000, 430_000, 4_530_000), 50.0, CRS)
    ys, xs = sgrid.coords()
    X, Y = np.meshgrid(xs, ys)
    r2 = (X - SHOAL[0]) ** 2 + (Y - SHOAL[1]) ** 2
    d = 100.0 - 97.0 * np.exp(-r2 / (2 * 300.0**2))
    path = tmp_path / "survey_shoal.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=sgrid.shape[0], width=sgrid.shape[1], count=1, dtype="float32",
        crs=CRS, transform=sgrid.transform, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write((LEVEL - d).astype("float32"), 1)  # heights above ocean MSL
    sectors = gpd.GeoDataFrame({"country": ["AZE"]}, geometry=[shapely.box(*grid.bounds)], crs=CRS)
    return {
        "surface": surface,
        "depth": depth,
        "coarse": coarse,
        "ends": ends,
        "survey": path,
        "sectors": sectors,
        "hazards": gpd.GeoDataFrame(geometry=[], crs=CRS),
    }


def _refine(world: dict[str, Any], **survey: Any) -> Any:
    sc = _scenario({"sources": [{"path": str(world["survey"]), "vertical_reference_m": 0.0}], **survey})
    return refine_route(
        sc, world["coarse"], world["surface"], world["ends"], world["depth"], world["hazards"], world["sectors"], None
    )


def test_refined_route_avoids_the_shoal_and_costs_less_than_the_regional_route_on_the_fine_grid(world: dict) -> None:
    r = _refine(world, buffer_m=3000.0, feather_m=100.0)
    regional_line = LineString(r.coarse_xy)
    assert regional_line.distance(Point(SHOAL)) < 800.0  # the regional route runs over the shoal it cannot see
    assert r.cost < r.coarse_cost_on_fine * 0.999
    assert r.line.distance(Point(SHOAL)) > 400.0  # the refined one goes round it
    assert 400.0 < r.max_offset_m <= 3000.0  # and stays in the band
    assert check_refined_route(r).passed
    assert r.report["fine_resolution_m"] == 50.0  # the survey's native cell size
    assert r.report["band_cells"] < 0.5 * r.report["fine_grid_cells"]  # only the band, not the fine box
    assert r.report["seam_width_m"] == 100.0
    assert r.report["seam_cells"] > 0
    assert r.report["survey_cells"] > 0
    assert r.path_xy[0] == pytest.approx(world["ends"][0].approach_end_xy, abs=50.0)
    assert r.path_xy[-1] == pytest.approx(world["ends"][1].approach_end_xy, abs=50.0)


def test_the_band_limits_the_route_and_the_check_catches_a_costlier_one(world: dict) -> None:
    r = _refine(world, buffer_m=300.0, feather_m=0.0)  # too narrow to go round: still the best inside the band
    assert r.max_offset_m <= 300.0 + 50.0
    assert r.cost <= r.coarse_cost_on_fine
    r.cost = r.coarse_cost_on_fine * 1.01
    assert not check_refined_route(r).passed


def test_refinement_needs_a_survey_and_the_value_falls_back_to_the_regional_route(world: dict) -> None:
    with pytest.raises(RefinementError, match="no survey section"):
        refine_route(
            _scenario(None), world["coarse"], world["surface"], world["ends"], world["depth"], world["hazards"],
            world["sectors"], None,
        )  # fmt: skip
    none = RouteRefinement(None, "no survey section")
    regional = LineString([(0, 0), (1, 1)])
    assert none.routed_line(regional) is regional
    assert none.depth(world["depth"]) is world["depth"]
    refined = RouteRefinement(_refine(world))
    assert refined.routed_line(regional).equals(refined.route.line)  # type: ignore[union-attr]
    near = refined.depth(world["depth"]).sample([SHOAL[0]], [SHOAL[1]])
    assert near[0] == pytest.approx(
        3.7, abs=0.5
    )  # the deliverables read the survey's shoal (3 m; 3.7 m at the nearest 50 m cell centres), not 100 m


def test_max_band_cells_coarsens_the_default_fine_grid(world: dict) -> None:
    """Option `survey.max_band_cells`: without `survey.resolution_m` the fine grid is the survey's native cell size
    unless the band would exceed the cap; then it is coarsened just enough, and says so."""
    native = _refine(world, buffer_m=3000.0, feather_m=100.0).summary()
    capped = _refine(world, buffer_m=3000.0, feather_m=100.0, max_band_cells=10_000).summary()
    assert native["fine_resolution_m"] == pytest.approx(50.0)
    assert native["fine_resolution_from"] == "the survey's native cell size"
    assert native["band_cells"] > 100_000
    assert capped["fine_resolution_m"] > 150.0
    assert "coarsened to keep the band within 10000 cells" in capped["fine_resolution_from"]
    # the cell size comes from the band's estimated area (route length x 2 buffer_m), so the real band, which also
    # holds the round ends, may pass the cap by a few per cent: 10927 cells here
    assert capped["band_cells"] <= 11_000
    assert capped["cost"] <= capped["coarse_cost_on_fine"]


def test_the_memory_budget_sizes_the_band_before_any_fine_cell_is_computed(world: dict) -> None:
    """With a memory budget, a given `survey.resolution_m` whose band cannot fit is refused up front, naming the cell
    size that fits (and that size then runs); the default cell size is coarsened to fit instead."""
    from geodata.errors import ResourceBudgetExceeded
    from geodata.preflight import BASE_BYTES, REFINE_BYTES_PER_BAND_CELL, STAGE_BYTES_PER_CELL, refinement_room

    sc_cells = world["surface"].grid.cell_count
    budget = BASE_BYTES + STAGE_BYTES_PER_CELL["routing"] * sc_cells + 1_000_000  # 1 MB above the regional run
    assert refinement_room(budget, sc_cells) == 1_000_000

    def run(**survey: Any) -> Any:
        sc = _scenario({"sources": [{"path": str(world["survey"]), "vertical_reference_m": 0.0}], **survey})
        w = world
        return refine_route(
            sc, w["coarse"], w["surface"], w["ends"], w["depth"], w["hazards"], w["sectors"], None,
            memory_budget_bytes=budget,
        )  # fmt: skip

    with pytest.raises(ResourceBudgetExceeded) as info:
        run(buffer_m=3000.0, resolution_m=50.0)
    message = str(info.value)
    assert "survey.buffer_m 3000 m" in message
    assert "CORRIDOR_MEMORY_BUDGET_GB" in message
    fit = float(message.split("set survey.resolution_m to ")[1].split(" m")[0])
    assert 100.0 < fit < 200.0  # ~140k band cells at 50 m need 6.4 MB: 50 m x sqrt(6.4) ~ 127 m
    fitted = run(buffer_m=3000.0, resolution_m=fit).summary()
    assert fitted["band_cells"] * REFINE_BYTES_PER_BAND_CELL <= 1_000_000 * 1.05
    default = run(buffer_m=3000.0).summary()  # no resolution_m: coarsened to what the budget leaves
    assert "memory budget leaves" in default["fine_resolution_from"]
    assert default["fine_resolution_m"] > 100.0
    assert default["band_cells"] * REFINE_BYTES_PER_BAND_CELL <= 1_000_000 * 1.05
    assert default["cost"] <= default["coarse_cost_on_fine"]
