"""A failing blocking check stops everything downstream: nothing is published from a run whose inputs are wrong."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest
import yaml

import assets.common
import assets.config
from assets.config import CorridorSettings
from pipelines.dask_resource import DaskResource
from pipelines.definitions import STAGES
from pipelines.io_managers import CorridorIOManager

pytestmark = pytest.mark.integration


def _reload_stages() -> list[ModuleType]:
    """Re-read the scenario partitions (they are fixed when the modules load) and rebuild the asset modules."""
    importlib.reload(assets.config)
    importlib.reload(assets.common)
    return [importlib.reload(m) for m in STAGES]


@pytest.fixture
def wrong_depth_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root: Path) -> Iterator[list[ModuleType]]:
    data = yaml.safe_load((root / "geodata/data/scenarios/siyazan-aktau.yaml").read_text())
    data["name"] = "wrong-depths"
    data["bathymetry"]["min_depth_range_m"] = [0.0, 100.0]  # the middle Caspian is ~780 m deep: must fail
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "wrong-depths.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("CORRIDOR_SCENARIOS", str(folder))
    yield _reload_stages()
    monkeypatch.undo()
    _reload_stages()


SCENARIOS_DIR = "scenarios"


def test_failed_depth_range_check_blocks_the_route_and_the_publication(
    tmp_path: Path, wrong_depth_scenario: list[ModuleType], mirror: Path
) -> None:
    out = tmp_path / "published"
    result = dg.materialize(
        dg.load_assets_from_modules(wrong_depth_scenario),
        partition_key="wrong-depths",
        resources={
            "settings": CorridorSettings(
                mirror_dir=str(mirror),
                output_dir=str(out),
                scenarios_dir=str(tmp_path / SCENARIOS_DIR),
                store_dir=str(tmp_path / "store"),
            ),
            # the IO manager digests the scenario from its folder: the test's, not the one read at import
            "io_manager": CorridorIOManager(
                base_dir=str(tmp_path / "store"), scenarios_dir=str(tmp_path / SCENARIOS_DIR)
            ),
            "dask": DaskResource(),
        },
        raise_on_error=False,
    )
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
