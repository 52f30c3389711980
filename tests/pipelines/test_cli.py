"""The ``corridor`` command line (pipelines/cli.py) through typer's CliRunner and as ``python -m pipelines.cli``;
the full run of a failing scenario, from a fresh environment, is in the integration tier at the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
import yaml
from typer.testing import CliRunner

from assets.config import CorridorSettings
from geodata.scenario import load_scenario, load_scenario_file, parse_scenario
from pipelines.cli import EXIT_INVALID, EXIT_RUN_FAILED, app, preflight_problems
from tests.conftest import fresh_run_env

RUNNER = CliRunner()
STATIONS = ["--from", "49.87,40.37", "--to", "52.97,40.02", "--from-name", "Baku", "--to-name", "Turkmenbashi"]
COUNTRIES = ["--from-country", "AZE", "--to-country", "TKM"]


def test_help_lists_every_command() -> None:
    out = RUNNER.invoke(app, ["--help"])
    assert out.exit_code == 0
    for command in ("new", "validate", "run", "list", "schema", "serve"):
        assert command in out.output


def test_schema_is_json_schema_requiring_only_name_and_stations(tmp_path: Path) -> None:
    out = RUNNER.invoke(app, ["schema"])
    assert out.exit_code == 0, out.output
    schema = json.loads(out.output)
    assert schema["required"] == ["name", "landing_stations"]
    assert schema["$schema"].startswith("https://json-schema.org/")
    target = tmp_path / "scenario.schema.json"
    assert RUNNER.invoke(app, ["schema", "-o", str(target)]).exit_code == 0
    assert json.loads(target.read_text()) == schema


def test_list_shows_packaged_scenarios_with_title_and_folder() -> None:
    out = RUNNER.invoke(app, ["list"])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("siyazan-aktau"))
    assert load_scenario("siyazan-aktau").title in line
    assert "packaged" in line


def test_new_writes_a_file_that_validates_and_uncomments_to_the_same_scenario(tmp_path: Path) -> None:
    out = RUNNER.invoke(app, ["new", "baku-turkmenbashi", *STATIONS, *COUNTRIES, "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    path = tmp_path / "baku-turkmenbashi.yaml"
    assert f"export CORRIDOR_SCENARIOS={tmp_path.resolve()}" in out.output
    sc = load_scenario_file(path)
    assert (sc.start.name, sc.start.country, sc.start.lon_deg, sc.start.lat_deg) == ("Baku", "AZE", 49.87, 40.37)
    assert (sc.end.name, sc.end.country) == ("Turkmenbashi", "TKM")
    assert sc.area_of_interest.margin_km is not None  # derived
    text = path.read_text()
    assert "#   max_slope_deg: 15.0" in text  # every key at its default, commented out, with its range
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line for line in text.splitlines())
    assert parse_scenario(yaml.safe_load(uncommented)).digest() == sc.digest()
    again = RUNNER.invoke(app, ["new", "baku-turkmenbashi", *STATIONS, *COUNTRIES, "--dir", str(tmp_path)])
    assert again.exit_code == EXIT_INVALID
    assert "--force" in again.output
    forced = ["new", "baku-turkmenbashi", *STATIONS, *COUNTRIES, "--dir", str(tmp_path), "--force"]
    assert RUNNER.invoke(app, forced).exit_code == 0


def test_new_refuses_bad_positions(tmp_path: Path) -> None:
    out = RUNNER.invoke(app, ["new", "x", "--from", "49.87", "--to", "52.97,40.02", *COUNTRIES, "--dir", str(tmp_path)])
    assert out.exit_code == EXIT_INVALID
    assert "longitude,latitude" in out.output
    far = RUNNER.invoke(app, ["new", "x", "--from", "60,40", "--to", "52.97,40.02", *COUNTRIES, "--dir", str(tmp_path)])
    assert far.exit_code == EXIT_INVALID
    assert "outside the Caspian region" in far.output
    assert not (tmp_path / "x.yaml").exists()


def test_validate_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\n"
        "landing_stations:\n"
        "  - {name: A, country: AZE, lat_deg: 40.37, lon_deg: 49.87}\n"
        "  - {name: B, country: TKMX, lat_deg: 40.02, lon_deg: 52.97}\n"
        "routing:\n"
        "  corridor_tolerence: 0.1\n"
    )
    out = RUNNER.invoke(app, ["validate", str(path), "siyazan-aktau", "--schema-only"])
    assert out.exit_code == EXIT_INVALID
    assert "line 4: landing_stations.1.country" in out.output
    assert "line 6: routing.corridor_tolerence: unknown key; did you mean 'corridor_tolerance'" in out.output
    assert "✓ siyazan-aktau" in out.output  # the good one is still checked and reported


def test_unknown_scenario_lists_the_known_ones_closest_first() -> None:
    out = RUNNER.invoke(app, ["validate", "sumgait"])
    assert out.exit_code == EXIT_INVALID
    assert "Known (closest first): sumgait-aktau, siyazan-aktau" in out.output
    run = RUNNER.invoke(app, ["run", "siyazan-aktua"])
    assert run.exit_code == EXIT_INVALID
    assert "Did you mean 'siyazan-aktau'" in run.output
    assert "Traceback" not in run.output


def test_run_refuses_a_file_outside_the_scenario_folders(tmp_path: Path) -> None:
    RUNNER.invoke(app, ["new", "baku-turkmenbashi", *STATIONS, *COUNTRIES, "--dir", str(tmp_path)])
    out = RUNNER.invoke(app, ["run", str(tmp_path / "baku-turkmenbashi.yaml")])
    assert out.exit_code == EXIT_INVALID
    assert f"export CORRIDOR_SCENARIOS={tmp_path.resolve()}" in out.output


def test_serve_names_the_published_scenarios_when_one_is_missing() -> None:
    out = RUNNER.invoke(app, ["serve", "nowhere-published"])
    assert out.exit_code == EXIT_INVALID
    assert "holds no published web map" in out.output


def test_module_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "validate", "--schema-only", "siyazan-aktau"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("✓ siyazan-aktau")


def test_preflight_names_a_station_far_from_the_water_with_the_fix(tmp_path: Path, mirror: Path) -> None:
    settings = CorridorSettings(
        mirror_dir=str(mirror), output_dir=str(tmp_path / "out"), store_dir=str(tmp_path / "store")
    )
    data = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "geodata/data/scenarios/siyazan-aktau.yaml").read_text()
    )
    assert preflight_problems(parse_scenario(data), settings) == []
    data["landing_stations"][0].update(name="Shamakhi", lat_deg=40.63, lon_deg=48.64)  # 70 km inland
    problems = preflight_problems(parse_scenario(data), settings)
    assert len(problems) == 1
    assert "landing_stations.0 'Shamakhi' (40.630000 N, 48.640000 E) lies" in problems[0]
    assert "Fix: give the landing station on the coast; the nearest water is at" in problems[0]
    no_mirror = CorridorSettings(mirror_dir="", cache_dir=str(tmp_path / "empty-cache"), store_dir=str(tmp_path))
    missing = preflight_problems(parse_scenario(data), no_mirror)
    assert any("source 'gshhg_coast'" in p and "CORRIDOR_MIRROR" in p for p in missing)


# -- the whole loop from a fresh environment (integration tier) ----------------------------------------------------


@pytest.mark.integration
def test_inland_station_run_fails_with_position_fix_and_diagnostics(tmp_path: Path, mirror: Path) -> None:
    """`corridor new`, `corridor validate`, `corridor run` as a fresh shell runs them (every folder in tmp_path):
    the station 30 km inland ends the run with the named error, the position and the fix, and a diagnostics
    GeoPackage beside the (absent) publication with the layers an analyst needs."""
    root = Path(__file__).resolve().parents[2]
    env = fresh_run_env(tmp_path, tmp_path, mirror, CORRIDOR_SCENARIOS=str(tmp_path / "scenarios"))

    def corridor(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "pipelines.cli", *args]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, timeout=900)

    unset = corridor("list")
    assert unset.returncode == EXIT_INVALID  # the folder does not exist yet: one message with the fix
    assert f"create it (mkdir -p {tmp_path / 'scenarios'})" in unset.stderr
    assert "Traceback" not in unset.stderr
    (tmp_path / "scenarios").mkdir()
    new = corridor("new", "inland", "--from", "48.80,41.10", "--to", "51.15,43.65", "--to-name", "Aktau")
    assert new.returncode == 0, new.stderr
    assert "Station A AZE -> Aktau KAZ" in new.stdout  # countries from Natural Earth
    checked = corridor("validate", "inland")
    assert checked.returncode == EXIT_INVALID
    assert "'Station A' (41.100000 N, 48.800000 E) lies" in checked.stderr
    ran = corridor("run", "inland")
    assert ran.returncode == EXIT_RUN_FAILED, ran.stderr
    assert re.search(r"\[ 1/\d+\] \w+ +ok", ran.stdout), ran.stdout  # a line per asset
    err = ran.stderr
    assert "error: RunFailed: scenario 'inland' did not publish" in err
    assert "check sea_mask.coverage: landing station 'Station A' (41.1 N, 48.8 E) lies" in err
    assert "give the station on the coast (the nearest sea cell is at" in err
    assert "Traceback" not in err
    gpkg = Path(err.split("Diagnostics (open in QGIS): ")[1].split()[0])
    assert gpkg.parent.parent == tmp_path / "published" / "inland" / "diagnostics"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"stations", "area_of_interest", "nearest_sea_cell", "station_to_sea", "reachable_region"} <= layers
    assert {"failure_positions", "failures"} <= layers
    stations = pyogrio.read_dataframe(gpkg, layer="stations")
    inland = stations.set_index("name").loc["Station A"]
    assert inland["distance_to_sea_km"] > 10
    assert "sea_mask.coverage" in inland["problem"]
    assert not (tmp_path / "published" / "inland" / "latest").exists()  # nothing published
    dagster_runs = list((tmp_path / "dagster_home").rglob("*.db"))
    assert dagster_runs, "the run is recorded in DAGSTER_HOME"


def test_documented_example_and_schema_are_what_the_commands_write(tmp_path: Path) -> None:
    """docs/sumgait-aktau-own.yaml (the annotated scenario README points to) and docs/scenario.schema.json are the
    output of `corridor new` and `corridor schema`; regenerate them with the commands in the assertion messages."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    new = ["new", "sumgait-aktau-own", "--from", "49.67,40.59", "--to", "51.15,43.65", "--from-name", "Sumgait"]
    new += ["--to-name", "Aktau", "--from-country", "AZE", "--to-country", "KAZ", "--dir", str(tmp_path)]
    assert RUNNER.invoke(app, new).exit_code == 0
    regen = "python -m pipelines.cli " + " ".join(new[:-1]) + " docs --force"
    assert (tmp_path / "sumgait-aktau-own.yaml").read_text() == (docs / "sumgait-aktau-own.yaml").read_text(), regen
    out = RUNNER.invoke(app, ["schema", "-o", str(tmp_path / "schema.json")])
    assert out.exit_code == 0
    assert (tmp_path / "schema.json").read_text() == (docs / "scenario.schema.json").read_text(), (
        "python -m pipelines.cli schema -o docs/scenario.schema.json"
    )
    assert load_scenario_file(docs / "sumgait-aktau-own.yaml").name == "sumgait-aktau-own"
    text = (docs / "sumgait-aktau-own.yaml").read_text()
    swept = "\n".join(line[3:] if line.startswith(("## sweep:", "##   ")) else line for line in text.splitlines())
    sweep = parse_scenario(yaml.safe_load(swept)).sweep  # the commented sweep block, switched on, validates
    assert sweep is not None
    assert sweep.samples == 8


def test_console_script_is_declared_and_a_wrong_setting_is_one_message(tmp_path: Path) -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["corridor"] == "pipelines.cli:main"
    missing = tmp_path / "no-such-folder"
    env = {**os.environ, "CORRIDOR_SCENARIOS": str(missing)}
    code = "from pipelines.cli import main; main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "list"], capture_output=True, text=True, cwd=root, env=env, check=False
    )
    assert out.returncode == EXIT_INVALID
    assert f"error: ConfigError: CORRIDOR_SCENARIOS={missing} does not exist; create it (mkdir -p {missing})" in (
        out.stderr
    )
    assert "Traceback" not in out.stderr
