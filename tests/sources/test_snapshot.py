"""A run's scenario snapshot: its digest covers the scenario and the content of every user file."""

from __future__ import annotations

from pathlib import Path

import pytest

from geodata.errors import ConfigError, SourceUnavailable
from geodata.scenario import Scenario, load_scenario, parse_scenario
from geodata.sources.snapshot import ScenarioSnapshot, take_snapshot


def _with_user_hazards(path: Path) -> Scenario:
    data = load_scenario("siyazan-aktau").model_dump(mode="json")
    data["hazards"]["inputs"] = [{"path": str(path), "kind": "platform", "licence": "CC0", "attribution": "survey co"}]
    return parse_scenario(data)


def test_packaged_scenario_snapshot_has_no_user_files() -> None:
    snap = take_snapshot(load_scenario("siyazan-aktau"))
    assert snap.inputs == ()
    assert len(snap.digest) == 64
    assert snap.digest != load_scenario("siyazan-aktau").digest()


def test_changed_user_file_changes_the_digest(tmp_path: Path) -> None:
    f = tmp_path / "platforms.csv"
    f.write_text("lon,lat,name\n50.1,41.2,P1\n")  # synthetic inventory
    first = take_snapshot(_with_user_hazards(f))
    f.write_text("lon,lat,name\n50.1,41.3,P1\n")
    second = take_snapshot(_with_user_hazards(f))
    assert first.scenario.digest() == second.scenario.digest()
    assert first.digest != second.digest
    rec = second.inputs[0].record()
    assert rec.path == str(f.resolve())
    assert rec.size_bytes == f.stat().st_size
    assert rec.licence == "CC0"


def test_missing_user_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match=r"hazards file '.*nowhere\.csv' does not exist"):
        take_snapshot(_with_user_hazards(tmp_path / "nowhere.csv"))


def test_round_trip_and_tampering(tmp_path: Path) -> None:
    snap = take_snapshot(load_scenario("siyazan-aktau"))
    assert ScenarioSnapshot.from_json(snap.to_json(), "x") == snap
    tampered = snap.to_json().replace('"resolution_m": 1000.0', '"resolution_m": 900.0')
    assert tampered != snap.to_json()
    with pytest.raises(ConfigError, match="does not match its own digest"):
        ScenarioSnapshot.from_json(tampered, "runs/abc.json")
    with pytest.raises(ConfigError, match="is not valid"):
        ScenarioSnapshot.from_json('{"scenario": {"__reduce__": 1}}', "runs/evil.json")


def test_survey_files_join_the_snapshot_and_a_synthetic_one_is_labelled(tmp_path: Path) -> None:
    survey = tmp_path / "synthetic_survey_block.tif"
    survey.write_bytes(b"not read by the snapshot, only checksummed")
    data = load_scenario("siyazan-aktau").model_dump(mode="json")
    data["survey"] = {"sources": [{"path": str(survey), "vertical_reference_m": -28.0, "licence": "synthetic"}]}
    first = take_snapshot(parse_scenario(data))
    (item,) = first.inputs
    assert item.role == "survey"
    record = item.record()
    assert record.name == "survey:synthetic_survey_block.tif"
    assert record.title.startswith("SYNTHETIC")
    survey.write_bytes(b"another survey under the same path")
    assert take_snapshot(parse_scenario(data)).digest != first.digest
