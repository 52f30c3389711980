"""YAML read by the project is plain data with no key given twice: a duplicate is an error naming both lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from geodata.errors import ConfigError
from geodata.scenario import load_scenario, load_yaml, scenario_names

ROOT = Path(__file__).resolve().parents[2]


def test_duplicate_key_is_an_error_naming_the_lines() -> None:
    with pytest.raises(ConfigError, match=r"key 'c' is given twice \(lines 3 and 4\); keep one"):
        load_yaml("a: 1\nb:\n  c: 2\n  c: 3\n", "x.yaml")


def test_object_building_tags_are_refused() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml('!!python/object/apply:os.system ["true"]', "evil.yaml")


def test_a_scenario_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "geodata/data/scenarios/siyazan-aktau.yaml").read_text(encoding="utf-8")
    (tmp_path / "twice.yaml").write_text(text.replace("name: siyazan-aktau", "name: twice") + "\ntitle: again\n")
    assert "twice" in scenario_names(folder=tmp_path)
    with pytest.raises(ConfigError, match=r"twice\.yaml is not valid YAML: key 'title' is given twice"):
        load_scenario("twice", folder=tmp_path)
