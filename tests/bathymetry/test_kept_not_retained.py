"""The depth and the sea mask keep their values as written only for their own step's checks: the run holds every
output value (Dagster's in-process result), so the assets drop the copy once their checks are done (the real
mirror at 1000 m)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_the_outputs_keep_no_copy_after_their_checks(tmp_path: Path, mirror: Path) -> None:
    import pipelines.definitions  # noqa: F401
    from pipelines.runner import folder_settings, materialize_scenario

    doc = yaml.safe_load((ROOT / "geodata" / "data" / "scenarios" / "siyazan-aktau.yaml").read_text())
    doc["name"] = "kept-1000"
    doc.setdefault("analysis", {})["resolution_m"] = 1000.0
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "kept-1000.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    settings = folder_settings(tmp_path, mirror=str(mirror), scenarios_dir=str(tmp_path / "scenarios"))
    result = materialize_scenario("kept-1000", settings, selection=["coastline", "bathymetry", "sea_mask"])
    for name in ("bathymetry", "sea_mask"):
        value = result.asset_value(name)
        assert value.kept is None, name
        assert not value.loaded, name
        assert value.grid.cell_count > 0
