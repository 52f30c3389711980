"""A failing blocking check stops everything downstream: nothing is published from a run whose inputs are wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assets.config import CorridorSettings
from pipelines.runner import materialize_scenario

pytestmark = pytest.mark.integration

SCENARIOS_DIR = "scenarios"


@pytest.fixture
def wrong_depth_scenario(tmp_path: Path, root: Path) -> str:
    """A scenario file in the test's own folder (a dynamic partition: no reload of the asset modules needed)."""
    data = yaml.safe_load((root / "geodata/data/scenarios/siyazan-aktau.yaml").read_text())
    data["name"] = "wrong-depths"
    data["bathymetry"]["min_depth_range_m"] = [0.0, 100.0]  # the middle Caspian is ~780 m deep: must fail
    folder = tmp_path / SCENARIOS_DIR
    folder.mkdir()
    (folder / "wrong-depths.yaml").write_text(yaml.safe_dump(data))
    return "wrong-depths"


def test_failed_depth_range_check_blocks_the_route_and_the_publication(
    tmp_path: Path, wrong_depth_scenario: str, mirror: Path
) -> None:
    out = tmp_path / "published"
    settings = CorridorSettings(
        mirror_dir=str(mirror),
        output_dir=str(out),
        scenarios_dir=str(tmp_path / SCENARIOS_DIR),
        store_dir=str(tmp_path / "store"),
    )
    result = materialize_scenario(wrong_depth_scenario, settings, raise_on_error=False)
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks["depth_range"] is False
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "sea_mask" in materialised  # the checked asset itself is kept, for inspection
    assert not {"cost_surface", "least_cost_route", "published_corridor"} & materialised
    assert not (out / "wrong-depths").exists()
