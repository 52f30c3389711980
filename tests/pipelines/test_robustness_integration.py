"""Issue #12 on the real mirror data: both packaged scenarios materialised, the default one's Monte Carlo layers
and route-robustness summary published, the two compared by ``compare_job``, and a synthetic as-laid RPL made from
the published design with known offsets recovered within a grid cell by ``as_laid_job``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from geodata.deliverables import aslaid
from geodata.deliverables.rpl import POSITION_COLUMNS, write_rpl_csv
from geodata.geodesy import Chainage
from geodata.publish.atomic import verify_manifest
from geodata.scenario import load_scenario
from pipelines.comparison import as_laid_job, compare_job
from pipelines.runner import folder_settings, materialize_scenario, scenario_resources

pytestmark = pytest.mark.integration
SCENARIOS = ("siyazan-aktau", "sumgait-aktau")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path) -> dict:
    root = tmp_path_factory.mktemp("robustness")
    settings = folder_settings(root, mirror=mirror)
    for scenario in SCENARIOS:
        materialize_scenario(scenario, settings)
    return {"root": root / "published", "resources": scenario_resources(settings)}


def test_default_scenario_publishes_the_monte_carlo(published: dict) -> None:
    live = published["root"] / SCENARIOS[0] / "latest"
    assert verify_manifest(live) == []
    summary = json.loads((live / "manifest.json").read_text())["extra"]["route_robustness"]
    sc = load_scenario(SCENARIOS[0])
    assert summary["realisations_succeeded"] == sc.montecarlo.realisations
    robust, variable = summary["robust_kp_ranges_km"], summary["variable_kp_ranges_km"]
    assert robust, "some KP range of the route is robust (the shore ends at least)"
    assert robust[0][0] == 0.0
    assert summary["robust_length_km"] <= summary["route_length_km"]
    ranges = pd.read_csv(live / "route_robustness.csv", encoding="utf-8-sig")
    assert len(ranges) == len(robust) + len(variable)
    with sqlite3.connect(live / "corridor.gpkg") as con:
        tables = {r[0] for r in con.execute("select table_name from gpkg_contents")}
        styled = {r[0] for r in con.execute("select f_table_name from layer_styles")}
    assert {"passage_frequency", "kp_robustness", "monte_carlo_routes"} <= tables
    assert {"passage_frequency", "kp_robustness", "monte_carlo_routes"} <= styled
    with rasterio.open(live / "corridor.gpkg", table="passage_frequency") as ds:
        freq = ds.read(1, masked=True)
    assert 0.0 < float(freq.min())
    assert float(freq.max()) == pytest.approx(1.0)
    assert (live / "tiles" / "passage_frequency.pmtiles").stat().st_size > 0
    assert "passage_frequency" in (live / "index.html").read_text() + (live / "webmap.js").read_text()


def test_compare_job_publishes_the_comparison_of_the_packaged_scenarios(published: dict) -> None:
    result = compare_job.execute_in_process(resources=published["resources"])
    assert result.success
    live = published["root"] / "_comparisons" / "__vs__".join(SCENARIOS) / "latest"
    assert verify_manifest(live) == []
    metrics = pd.read_csv(live / "metrics.csv", encoding="utf-8-sig").set_index("metric")
    assert metrics.loc["length_km", SCENARIOS[1]] > 0
    assert metrics.loc["hausdorff_from_first_km", SCENARIOS[1]] > 1.0  # the landings are ~60 km apart
    assert metrics.loc["frechet_from_first_km", SCENARIOS[1]] >= metrics.loc["hausdorff_from_first_km", SCENARIOS[1]]
    kp = pd.read_csv(live / "kp_translation.csv", encoding="utf-8-sig")
    assert kp["kp_km"].iloc[0] == 0.0
    assert (live / "crossings_diff.csv").is_file()
    assert (live / "index.html").is_file()
    inputs = json.loads((live / "manifest.json").read_text())["inputs"]
    assert {i["name"] for i in inputs} >= {"srtm30plus_caspian"}


def test_as_laid_job_recovers_synthetic_offsets_within_a_cell(published: dict, tmp_path: Path) -> None:
    design = aslaid.rpl_record(aslaid.read_rpl(published["root"] / SCENARIOS[0] / "latest" / "rpl.csv"), "design")

    def known(kp: np.ndarray) -> np.ndarray:
        return np.interp(kp, [30, 35, 90, 95, 200, 205, 250, 255], [0, 500, 500, 0, 0, -700, -700, 0])

    line, _ = aslaid.offset_route(design.line, known, step_m=250.0)
    ll, kp = np.asarray(line.coords), Chainage(line).vertex_kp_km
    frame = pd.DataFrame({c: [None] * len(ll) for c in POSITION_COLUMNS})
    frame["pos_no"], frame["event"], frame["kp_km"] = np.arange(1, len(ll) + 1), "as_laid", kp
    frame["lon_deg"], frame["lat_deg"], frame["cable_kp_km"] = ll[:, 0], ll[:, 1], kp * 1.03
    rpl = write_rpl_csv(frame, tmp_path / "as_laid.csv")
    config = {"ops": {"compare_as_laid": {"config": {"scenario": SCENARIOS[0], "rpl_path": str(rpl)}}}}
    assert as_laid_job.execute_in_process(run_config=config, resources=published["resources"]).success
    live = published["root"] / "_as_laid" / SCENARIOS[0] / "latest"
    off = pd.read_csv(live / "as_laid_offsets.csv", encoding="utf-8-sig")
    cell_m = load_scenario(SCENARIOS[0]).analysis.resolution_m
    assert np.abs(off["offset_m"] - known(off["kp_km"].to_numpy())).max() < cell_m
    plateau = off["kp_km"].between(40, 85)
    assert off.loc[plateau, "offset_m"].median() == pytest.approx(500.0, abs=5.0)
