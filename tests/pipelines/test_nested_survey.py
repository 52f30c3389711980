"""The nested survey case end to end (issue #14): the default scenario on its 1 km grid plus a SYNTHETIC 100 m survey
(written in EPSG:4326, another CRS than the analysis grid's) over part of the corridor. The run publishes, the refined
route costs no more than the regional route evaluated on the fine grid, the published depths along the route are the
survey's where it exists, and the seam is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import Transformer

from benchmarks.nested_case import write_case
from pipelines.runner import folder_settings, materialize_scenario

pytestmark = pytest.mark.integration
NAME = "nested-survey-test"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path) -> dict[str, Any]:
    import os

    os.environ.setdefault("CORRIDOR_MIRROR", str(mirror))
    root = tmp_path_factory.mktemp("nested")
    folder, name, survey = write_case(
        root,
        name=NAME,
        survey_resolution_m=100.0,
        width_m=6000.0,
        along=(0.3, 0.6),
        survey_crs="EPSG:4326",
        amplitude_m=5.0,
    )
    result = materialize_scenario(name, folder_settings(root / "run", mirror=mirror, scenarios_dir=str(folder)))
    checks = [
        e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {"root": root, "result": result, "checks": checks, "survey": survey}


def test_the_run_publishes_with_every_blocking_check_passed(run: dict[str, Any]) -> None:
    assert run["result"].success
    failed = [c.check_name for c in run["checks"] if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    assert "refined_no_costlier" in {c.check_name for c in run["checks"]}
    latest = run["root"] / "run" / "published" / NAME / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    names = json.dumps(manifest)
    assert "survey:synthetic_survey_" in names  # the survey is an input of the publication ...
    assert "SYNTHETIC" in names  # ... labelled synthetic


def test_refined_route_costs_no_more_than_the_regional_route_on_the_fine_grid(run: dict[str, Any]) -> None:
    refined = run["result"].asset_value("refined_route").route
    assert refined is not None
    assert refined.cost <= refined.coarse_cost_on_fine
    assert refined.report["fine_resolution_m"] == pytest.approx(100.0, rel=0.01)
    assert refined.report["band_cells"] < refined.report["fine_grid_cells"]
    assert refined.max_offset_m <= 3000.0 + 100.0  # inside the band
    assert refined.report["synthetic_survey"] is True
    # the seam is reported: its width and the largest survey-regional difference in it
    assert refined.report["seam_width_m"] == 200.0
    assert refined.report["seam_cells"] > 0
    assert refined.report["seam_max_depth_difference_m"] > 0.0
    engineered = run["result"].asset_value("engineered_route")  # its legs start from the refined route
    # station, beach manhole and shore crossing at each end, round the routed path (whose end vertices are replaced)
    assert engineered.stats["vertices_routed"] == len(refined.path_xy) + 6


def test_published_depth_along_the_route_is_the_survey_where_it_exists(run: dict[str, Any]) -> None:
    """The published profile's depths, where the point lies on the survey beyond the seam, equal the survey's own
    value there (the file read back independently: height -> depth with its vertical reference) and not the
    regional surface."""
    latest = run["root"] / "run" / "published" / NAME / "latest"
    profile = pd.read_csv(latest / "route_profile.csv", encoding="utf-8-sig")
    survey = run["survey"]
    with rasterio.open(survey.path) as src:
        values = src.read(1)
        rows, cols = rasterio.transform.rowcol(src.transform, profile["lon_deg"], profile["lat_deg"])
    r = np.asarray(rows, dtype=int)
    c = np.asarray(cols, dtype=int)
    inside = (r >= 3) & (c >= 3) & (r < values.shape[0] - 3) & (c < values.shape[1] - 3)
    core = np.zeros(len(profile), bool)  # the survey valid in a 5 x 5 window: beyond the 200 m seam (2 cells)
    for i in np.nonzero(inside)[0]:
        core[i] = bool((values[r[i] - 2 : r[i] + 3, c[i] - 2 : c[i] + 3] != -9999).all())
    assert core.sum() > 50  # a long stretch of the route runs on the survey
    heights = values[r[core], c[core]].astype(float)
    survey_depth = -28.0 - (heights + -28.0)  # depth = water level - (height + vertical reference)
    published = profile["water_depth_m"].to_numpy()[core]
    regional = run["result"].asset_value("bathymetry")
    t = Transformer.from_crs("EPSG:4326", regional.grid.crs, always_xy=True)
    x, y = t.transform(profile["lon_deg"].to_numpy()[core], profile["lat_deg"].to_numpy()[core])
    regional_depth = regional.sample(x, y)
    to_survey = np.median(np.abs(published - survey_depth))
    to_regional = np.median(np.abs(published - regional_depth))
    assert to_survey < 1.0  # the nearest survey cell, against a profile published to 1 m
    assert to_survey < 0.6 * to_regional
