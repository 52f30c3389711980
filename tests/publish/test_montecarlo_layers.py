"""The Monte Carlo in the publication (geodata.publish.compose): layers, raster, styles, tiles and the manifest's
route-robustness summary, from a small hand-made MonteCarloResult."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString, Point, box

from geodata.engineering.montecarlo import MonteCarloResult
from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster
from geodata.publish import compose, tiles
from geodata.publish.gpkg import LayerMeta, RasterLayer, validate_gpkg, write_gpkg
from geodata.publish.styles import style_for
from geodata.scenario import load_scenario


def _result() -> MonteCarloResult:
    grid = GeoGrid(CRS.from_epsg(32639), Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_600_000.0), (20, 30))
    freq = np.zeros(grid.shape, dtype="float32")
    freq[10, 2:28] = 1.0
    freq[8, 10:20] = 0.25
    ranges = pd.DataFrame(
        {"kp_from_km": [0.0, 8.0, 18.0], "kp_to_km": [8.0, 18.0, 26.0], "length_km": [8.0, 10.0, 8.0],
         "robust": [True, False, True], "min_within_pct": [100.0, 40.0, 90.0], "max_p90_offset_m": [10.0, 2500, 30.0]}
    )  # fmt: skip
    kp = np.arange(0.0, 27.0)
    robust = (kp < 8) | (kp >= 18)
    spread = gpd.GeoDataFrame(
        {"kp_km": kp, "p90_offset_m": np.where(robust, 10.0, 2500.0), "within_pct": np.where(robust, 100.0, 40.0),
         "robust": robust, "status": np.where(robust, "robust", "variable")},
        geometry=[Point(49.5 + k * 0.01, 41.5) for k in kp], crs="EPSG:4326",
    )  # fmt: skip
    ranking = pd.DataFrame(
        {"candidate": ["rank_0", "rank_1"], "base_rank": [0, 1], "mean_cost": [100.0, 102.0],
         "cheapest_pct": [75.0, 25.0], "mean_excess_pct": [0.5, 2.0]}
    )  # fmt: skip
    routes = gpd.GeoDataFrame(
        {"realisation_index": [0, 1], "cost": [99.0, 101.0], "length_km": [26.0, 26.5]},
        geometry=[LineString([(49.5, 41.5), (49.76, 41.5)]), LineString([(49.5, 41.5), (49.6, 41.52), (49.76, 41.5)])],
        crs="EPSG:4326",
    )
    corridor = gpd.GeoDataFrame(
        {"min_share_pct": [50.0], "area_km2": [26.0]}, geometry=[box(49.5, 41.49, 49.76, 41.51)], crs="EPSG:4326"
    )
    stats = {"succeeded": 2, "max_p90_offset_m": 2500.0}
    raster = Raster(freq, grid, None, {"units": "share of realisations"})
    return MonteCarloResult(raster, corridor, spread, ranges, ranking, routes, stats)


def test_layers_and_summary() -> None:
    mc = _result()
    layers = compose.montecarlo_layers(mc)
    assert set(layers) == {"robust_corridor", "kp_robustness", "monte_carlo_routes"}
    assert compose.montecarlo_layers(None) == {}
    summary = compose.robustness_summary(mc, load_scenario("siyazan-aktau"))
    assert summary["robust_kp_ranges_km"] == [[0.0, 8.0], [18.0, 26.0]]
    assert summary["variable_kp_ranges_km"] == [[8.0, 18.0]]
    assert summary["robust_length_km"] == 16.0
    assert summary["design_route_cheapest_pct"] == 75.0
    assert style_for("kp_robustness").categories.keys() == {"robust", "variable"}


def test_published_frequency_hides_never_passed_cells_and_validates(tmp_path: Path) -> None:
    mc = _result()
    shown = compose.frequency_for_display(mc.frequency)
    assert np.isnan(shown.data[0, 0])
    assert shown.data[10, 5] == 1.0
    assert mc.frequency.data[0, 0] == 0.0  # the library's raster keeps its zeros
    rendering = tiles.render_share(mc.frequency)
    assert rendering.rgba[3, 0, 0] == 0
    assert rendering.rgba[3, 10, 5] > 0
    assert not np.array_equal(rendering.rgba[:3, 10, 5], rendering.rgba[:3, 8, 12])  # 1.0 and 0.25 differ
    meta = {n: LayerMeta(n) for n in ["robust_corridor", "kp_robustness", "monte_carlo_routes", "passage_frequency"]}
    raster = RasterLayer(shown, meta["passage_frequency"], units="share", stops=tiles.SHARE_STOPS)
    path = tmp_path / "mc.gpkg"
    write_gpkg(path, compose.montecarlo_layers(mc), {"passage_frequency": raster}, metadata=meta)
    assert validate_gpkg(path, gdal_validator=False, expect_layers=list(meta)) == []
    with sqlite3.connect(path) as con:
        qml = con.execute("select styleQML from layer_styles where f_table_name='kp_robustness'").fetchone()[0]
    assert "variable" in qml
    empty = Raster(np.full(mc.frequency.grid.shape, np.nan, dtype="float32"), mc.frequency.grid, float("nan"), {})
    with pytest.raises(InputDataError, match="no valid cell"):
        tiles.render_share(empty)
