from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

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


MINIMAL = {
    "name": "baku-turkmenbashi",
    "landing_stations": [
        {"name": "Baku", "country": "AZE", "lat_deg": 40.37, "lon_deg": 49.9},
        {"name": "Turkmenbashi", "country": "TKM", "lat_deg": 40.02, "lon_deg": 52.97},
    ],
}


def test_minimal_scenario_derives_title_area_and_bathymetry() -> None:
    from pyproj import Geod

    from geodata.scenario import CASPIAN_BOUNDS, DEFAULT_AOI_MARGIN_KM, DEFAULT_BATHYMETRY_SOURCE

    s = parse_scenario(MINIMAL)
    assert s.title == "Baku - Turkmenbashi"
    assert [b.source for b in s.bathymetry.sources] == [DEFAULT_BATHYMETRY_SOURCE]
    aoi = s.area_of_interest
    assert aoi.margin_km == DEFAULT_AOI_MARGIN_KM
    geod = Geod(ellps="WGS84")
    # every side at least the margin from the stations' box (north/south along a meridian, east/west on a parallel)
    assert geod.inv(49.9, 40.37, 49.9, aoi.north_deg)[2] >= 100_000
    assert geod.inv(49.9, 40.02, 49.9, aoi.south_deg)[2] >= 100_000
    assert geod.inv(aoi.west_deg, 40.37, 49.9, 40.37)[2] >= 100_000
    assert geod.inv(52.97, 40.37, aoi.east_deg, 40.37)[2] >= 100_000
    # and not much more (rounded outwards to 0.01 degree)
    assert geod.inv(49.9, 40.37, 49.9, aoi.north_deg)[2] < 102_000
    w, south, e, n = CASPIAN_BOUNDS
    assert w <= aoi.west_deg
    assert aoi.east_deg <= e
    assert south <= aoi.south_deg
    assert aoi.north_deg <= n


def test_derived_area_is_clipped_to_the_caspian_and_margin_is_configurable() -> None:
    from geodata.scenario import CASPIAN_BOUNDS

    data = {**MINIMAL, "area_of_interest": {"margin_km": 400}}
    aoi = parse_scenario(data).area_of_interest
    assert aoi.bounds == (CASPIAN_BOUNDS[0], CASPIAN_BOUNDS[1], CASPIAN_BOUNDS[2], aoi.north_deg)
    assert aoi.north_deg < CASPIAN_BOUNDS[3]  # 40.37 N + 400 km = 43.97 N, inside the region
    assert aoi.margin_km == 400
    small = parse_scenario({**MINIMAL, "area_of_interest": {"margin_km": 20}}).area_of_interest
    assert small.west_deg > aoi.west_deg
    assert small.east_deg < aoi.east_deg


def test_explicit_area_is_kept_and_mixing_it_with_margin_is_refused(default_scenario: Callable[[], dict]) -> None:
    s = parse_scenario(default_scenario())
    assert s.area_of_interest.bounds == (48.0, 39.8, 53.0, 45.0)  # as written in siyazan-aktau.yaml
    assert s.area_of_interest.margin_km is None
    data = default_scenario()
    data["area_of_interest"]["margin_km"] = 50
    with pytest.raises(ConfigError, match="both bounds and margin_km"):
        parse_scenario(data)
    data = default_scenario()
    del data["area_of_interest"]["north_deg"]
    with pytest.raises(ConfigError, match=r"area_of_interest\.north_deg: Field required"):
        parse_scenario(data)


def test_station_outside_the_caspian_with_derived_area_names_it() -> None:
    data = {**MINIMAL, "landing_stations": [MINIMAL["landing_stations"][0], {**MINIMAL["landing_stations"][1]}]}
    data["landing_stations"][1]["lon_deg"] = 60.0
    with pytest.raises(ConfigError, match=r"'Turkmenbashi' \(40.02 N, 60.0 E\) lies outside the Caspian region"):
        parse_scenario(data)


def test_bad_stations_do_not_also_report_the_derived_keys() -> None:
    data = {"name": "x", "landing_stations": [{"name": "Baku", "lat_deg": 40.37, "lon_deg": 49.9}]}
    with pytest.raises(ConfigError) as info:
        parse_scenario(data)
    msg = str(info.value)
    assert "landing_stations.0.country: Field required" in msg
    assert "title" not in msg
    assert "area_of_interest" not in msg


def test_json_schema_requires_only_name_and_stations() -> None:
    from geodata.scenario import scenario_json_schema

    schema = scenario_json_schema()
    assert schema["required"] == ["name", "landing_stations"]
    assert schema["additionalProperties"] is False  # strict, as the loader
    props = schema["properties"]
    assert {"area_of_interest", "bathymetry", "routing", "engineering", "publish"} <= set(props)
    aoi = schema["$defs"]["AreaOfInterest"]["properties"]
    assert "margin_km" in aoi
    assert "default" in aoi["margin_km"]
    json.dumps(schema)  # plain JSON


def test_derived_scenario_round_trips_through_its_dump() -> None:
    """The run snapshot stores the validated scenario (derived box and its margin) and parses it again."""
    s = parse_scenario(MINIMAL)
    again = parse_scenario(s.model_dump(mode="json"))
    assert again == s
    assert again.digest() == s.digest()
    tampered = s.model_dump(mode="json")
    tampered["area_of_interest"]["west_deg"] += 1
    with pytest.raises(ConfigError, match="not the box derived with that margin"):
        parse_scenario(tampered)


def test_water_level_has_its_source_and_date_and_states_its_effect() -> None:
    from geodata.scenario import TREATY_WATER_LEVEL_M

    default = parse_scenario(MINIMAL).bathymetry
    record = default.water_level_record()
    assert record["water_level_m"] == TREATY_WATER_LEVEL_M == -28.0
    assert "1998" in record["source"]
    assert record["date"] == "1998/2003"
    assert record["offset_from_treaty_level_m"] == 0
    lowered = {**MINIMAL, "bathymetry": {"water_level_m": -29.0}}
    with pytest.raises(ConfigError, match=r"water_level_m is -29.0 m, not the treaties' -28.0 m.*give the source"):
        parse_scenario(lowered)
    lowered["bathymetry"] |= {"water_level_source": "observed annual mean (hypothetical test value)"}
    with pytest.raises(ConfigError, match="water_level_date"):
        parse_scenario(lowered)
    lowered["bathymetry"] |= {"water_level_date": "2025"}
    record = parse_scenario(lowered).bathymetry.water_level_record()
    assert record["offset_from_treaty_level_m"] == -1.0
    assert "1 m lower than the treaties' level" in record["effect"]
    assert "1 m shallower" in record["effect"]
    with pytest.raises(ConfigError, match=r"bathymetry\.water_level_m"):  # a sign error: +28
        parse_scenario({**MINIMAL, "bathymetry": {"water_level_m": 28.0}})


def test_every_section_with_defaults_is_in_the_template() -> None:
    """A section added to Scenario with a default must reach `corridor new`'s annotated file (OPTIONAL_SECTIONS), or
    analysts never learn it exists; the keys below are written by the template on their own lines."""
    from geodata.scenario import OPTIONAL_SECTIONS, Scenario

    own_lines = {"name", "title", "description", "landing_stations", "area_of_interest", "sweep", "verify_checksums"}
    sections = {k for k, f in Scenario.model_fields.items() if isinstance(f.default, BaseModel)}
    assert sections - own_lines == set(OPTIONAL_SECTIONS)


def test_survey_section_is_optional_validated_and_in_the_template(default_scenario: Callable[[], dict]) -> None:
    from geodata.scenario import LandingStation, scenario_template

    assert load_scenario("siyazan-aktau").survey is None
    data = default_scenario()
    data["survey"] = {"sources": [{"path": "synthetic_survey.tif", "vertical_reference_m": -28.0}]}
    survey = parse_scenario(data, "my.yaml").survey
    assert survey is not None
    assert (survey.buffer_m, survey.resolution_m, survey.feather_m) == (2500.0, None, 200.0)
    assert survey.sources[0].positive == "up"
    data["survey"] = {"sources": [{"path": "s.tif"}]}
    with pytest.raises(ConfigError, match=r"survey\.sources\.0\.vertical_reference_m"):
        parse_scenario(data, "my.yaml")  # a survey without its datum is refused
    data["survey"] = {"sources": [{"path": "s.tif", "vertical_reference_m": 0}], "resolution_m": 1000}
    with pytest.raises(ConfigError, match=r"not finer than analysis\.resolution_m"):
        parse_scenario(data, "my.yaml")
    data["survey"] = {"sources": [{"path": "s.tif", "vertical_reference_m": 0}], "buffer": 10}
    with pytest.raises(ConfigError, match=r"survey\.buffer: unknown key; did you mean 'buffer_m'"):
        parse_scenario(data, "my.yaml")
    stations = [LandingStation(name="A", country="AZE", lat_deg=40.6, lon_deg=49.7)]
    stations.append(LandingStation(name="B", country="KAZ", lat_deg=43.6, lon_deg=51.1))
    text = scenario_template("own", stations)
    on = "\n".join(line[3:] if line.startswith("#~ ") else line for line in text.splitlines())
    survey = parse_scenario(yaml.safe_load(on)).survey  # the commented survey block, switched on, validates
    assert survey is not None
    assert survey.sources[0].path == "surveys/synthetic_survey.tif"
