from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from geodata.errors import ConfigError
from geodata.scenario import load_scenario, parse_scenario, scenario_names


@pytest.fixture
def default_scenario(root: Path) -> Callable[[], dict]:
    """A fresh copy of the packaged default scenario's YAML document on each call."""
    path = root / "geodata" / "data" / "scenarios" / "siyazan-aktau.yaml"
    return lambda: yaml.safe_load(path.read_text())


def test_packaged_scenarios_load() -> None:
    assert {"siyazan-aktau", "sumgait-aktau"} <= set(scenario_names())
    s = load_scenario("siyazan-aktau")
    assert (s.start.name, s.end.name) == ("Siyazan", "Aktau")
    assert (s.start.lat_deg, s.start.lon_deg) == (41.0783, 49.1125)  # as written in siyazan-aktau.yaml
    assert s.analysis_crs() == "EPSG:32639"
    assert load_scenario("sumgait-aktau").start.lat_deg == 40.59  # as written in sumgait-aktau.yaml


def test_typo_names_the_key_and_the_fix(default_scenario: Callable[[], dict]) -> None:
    data = default_scenario()
    data["routing"] = {"corridor_tolerence": 0.1}
    with pytest.raises(
        ConfigError, match=r"routing\.corridor_tolerence: unknown key; did you mean 'corridor_tolerance'"
    ):
        parse_scenario(data, "my.yaml")


def test_bad_values_are_all_reported_at_once(default_scenario: Callable[[], dict]) -> None:
    data = default_scenario()
    data["analysis"] = {"resolution_m": -5}
    data["limits"] = {"max_slope_deg": 120}
    with pytest.raises(ConfigError) as info:
        parse_scenario(data, "my.yaml")
    assert "analysis.resolution_m" in str(info.value)
    assert "limits.max_slope_deg" in str(info.value)


def test_station_outside_area_is_refused(default_scenario: Callable[[], dict]) -> None:
    data = default_scenario()
    data["landing_stations"][1]["lon_deg"] = 60.0
    with pytest.raises(ConfigError, match=r"Aktau.*outside area_of_interest"):
        parse_scenario(data, "my.yaml")


def test_unknown_scenario_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'siyazan-aktau'"):
        load_scenario("siyazan-aktua")


def test_user_scenario_folder(tmp_path, monkeypatch, default_scenario: Callable[[], dict]) -> None:
    data = default_scenario()
    data["name"] = "my-variant"
    data["analysis"] = {"resolution_m": 2000}
    (tmp_path / "my-variant.yaml").write_text(yaml.safe_dump(data))
    assert "my-variant" in scenario_names(folder=tmp_path)
    assert "my-variant" not in scenario_names()
    assert load_scenario("my-variant", folder=tmp_path).analysis.resolution_m == 2000


def test_digest_changes_with_any_value(default_scenario: Callable[[], dict]) -> None:
    a = parse_scenario(default_scenario())
    data = default_scenario()
    data["cost"] = {"slope_weight": 0.3}
    assert a.digest() != parse_scenario(data).digest()
    assert a.digest() == parse_scenario(default_scenario()).digest()


def test_sweep_section_is_optional_and_validated(default_scenario: Callable[[], dict]) -> None:
    assert load_scenario("siyazan-aktau").sweep is None
    data = default_scenario()
    data["sweep"] = {"samples": 8, "weights": ["slope_weight", "base"]}
    sweep = parse_scenario(data, "my.yaml").sweep
    assert sweep is not None
    assert (sweep.samples, sweep.spread, sweep.seed, sweep.weights) == (8, 0.25, 0, ["slope_weight", "base"])
    data["sweep"] = {"samples": 8, "weights": ["slope_weight", "slope_weight"]}
    with pytest.raises(ConfigError, match=r"sweep\.weights.*more than once"):
        parse_scenario(data, "my.yaml")
    data["sweep"] = {"samples": 0, "spread": 1.5, "weights": ["shallow_limit_m"]}
    with pytest.raises(ConfigError) as info:
        parse_scenario(data, "my.yaml")
    for where in ("sweep.samples", "sweep.spread", "sweep.weights.0"):
        assert where in str(info.value)
    data["sweep"] = {"sample": 8}
    with pytest.raises(ConfigError, match=r"sweep\.sample: unknown key; did you mean 'samples'"):
        parse_scenario(data, "my.yaml")
