"""The run's pre-flight counts the user hazard features (per layer) and refuses an inventory over the memory budget
before any compute, naming the file; the scenario and inventory are SYNTHETIC."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.common import MIRROR_HAZARD_FEATURES, preflight
from assets.config import CorridorSettings
from geodata.errors import ResourceBudgetExceeded
from geodata.scenario import load_scenario, parse_scenario
from geodata.sources.snapshot import take_snapshot


def _snapshot(tmp_path: Path, rows: int):
    inventory = tmp_path / "synthetic_wells.csv"
    body = "".join(f"well,{50 + (i % 1000) / 1000:.3f},{41 + (i // 1000) / 1000:.3f}\n" for i in range(rows))
    inventory.write_text("# SYNTHETIC\nkind,lon,lat\n" + body, encoding="utf-8")
    doc = load_scenario("siyazan-aktau").model_dump(mode="json")
    doc["hazards"]["inputs"] = [{"path": str(inventory), "licence": "CC0", "attribution": "synthetic"}]
    return take_snapshot(parse_scenario(doc)), inventory


def _settings(tmp_path: Path, budget_gb: str) -> CorridorSettings:
    return CorridorSettings(
        store_dir=str(tmp_path / "store"), output_dir=str(tmp_path / "published"), memory_budget_gb=budget_gb
    )


def test_the_estimate_counts_the_user_features(tmp_path: Path) -> None:
    snap, _ = _snapshot(tmp_path, 1234)
    estimate = preflight(_settings(tmp_path, "8"), snap)
    assert estimate.hazard_features == MIRROR_HAZARD_FEATURES + 1234


def test_an_inventory_over_the_budget_is_refused_up_front_naming_it(tmp_path: Path) -> None:
    snap, inventory = _snapshot(tmp_path, 100_000)  # 0.4 GB estimated, the 1 km grid 0.06 GB
    with pytest.raises(ResourceBudgetExceeded) as info:
        preflight(_settings(tmp_path, "1"), snap)
    message = str(info.value)
    assert f"({inventory} holds 100,000)" in message
    assert "keep about" in message
    assert "CORRIDOR_MEMORY_BUDGET_GB" in message


def test_a_survey_band_that_cannot_fit_is_refused_before_any_compute(tmp_path: Path) -> None:
    """A `survey.resolution_m` so fine that even the shortest possible band exceeds the budget is refused by the
    pre-flight (the band's least size: the stations' distance less the landfall reach at each end), naming the cell
    size that fits; the same scenario at that size passes the pre-flight."""
    import numpy as np
    import rasterio

    survey = tmp_path / "synthetic_survey.tif"
    with rasterio.open(
        survey, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs="EPSG:32639",
        transform=rasterio.transform.from_origin(400_000, 4_600_000, 10, 10), nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(np.full((1, 4, 4), -100.0, "float32"))
    doc = load_scenario("siyazan-aktau").model_dump(mode="json")
    doc["survey"] = {"sources": [{"path": str(survey), "vertical_reference_m": 0.0}], "resolution_m": 1.0}
    with pytest.raises(ResourceBudgetExceeded) as info:
        preflight(_settings(tmp_path, "8"), take_snapshot(parse_scenario(doc)))
    message = str(info.value)
    assert "refinement band of at least" in message
    assert "survey.resolution_m" in message
    fit = float(message.split("set survey.resolution_m to ")[1].split(" m")[0])
    assert 1.0 < fit < 10.0  # ~1.3e9 band cells at 1 m need ~57 GB, 8 GB leave ~7
    doc["survey"]["resolution_m"] = fit
    preflight(_settings(tmp_path, "8"), take_snapshot(parse_scenario(doc)))
