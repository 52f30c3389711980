"""Scenario partitions are dynamic: a scenario file dropped into the folder becomes a partition through the sensor or
``python -m pipelines.check``, without a code change or a reload; a removed file removes its partition and nothing
else; in-process materialisations get an ephemeral instance holding their partitions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.config import PARTITIONS, CorridorSettings
from pipelines.definitions import defs
from pipelines.partitions import partition_sync, register_scenarios, registered_scenarios, scenario_instance
from pipelines.sensors import build_partitions_sensor

PACKAGED = {"siyazan-aktau", "sumgait-aktau"}


def _write_scenario(root: Path, folder: Path, name: str, **changes: object) -> Path:
    data = yaml.safe_load((root / "geodata/data/scenarios/siyazan-aktau.yaml").read_text(encoding="utf-8"))
    data.update(name=name, **changes)
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the daemon does with a sensor's partition requests."""
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def test_the_partitions_sensor_is_running_by_default() -> None:
    sensor = defs.resolve_sensor_def("scenario_partitions_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("scenario_change_sensor").default_status == dg.DefaultSensorStatus.STOPPED


def test_a_dropped_scenario_file_becomes_a_partition_and_a_removed_one_leaves(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    settings = CorridorSettings(scenarios_dir=str(folder))
    sensor = build_partitions_sensor(settings)  # the settings as loaded once: the folder is read on every tick
    with dg.instance_for_test() as instance:
        _apply(instance, sensor(dg.build_sensor_context(instance=instance)))
        assert set(registered_scenarios(instance)) == PACKAGED

        new = _write_scenario(root, folder, "analyst-one")
        first = sensor(dg.build_sensor_context(instance=instance))
        (added,) = first.dynamic_partitions_requests
        assert isinstance(added, dg.AddDynamicPartitionsRequest)
        assert list(added.partition_keys) == ["analyst-one"]
        _apply(instance, first)
        assert PARTITIONS.has_partition_key("analyst-one", dynamic_partitions_store=instance)

        quiet = sensor(dg.build_sensor_context(instance=instance))
        assert not quiet.dynamic_partitions_requests
        assert quiet.skip_reason is not None

        published = tmp_path / "published" / "analyst-one"
        published.mkdir(parents=True)
        new.unlink()
        removed = sensor(dg.build_sensor_context(instance=instance))
        (deleted,) = removed.dynamic_partitions_requests
        assert isinstance(deleted, dg.DeleteDynamicPartitionsRequest)
        assert list(deleted.partition_keys) == ["analyst-one"]
        _apply(instance, removed)
        assert set(registered_scenarios(instance)) == PACKAGED
        assert published.is_dir()  # the sensor touches partitions only, never outputs


def test_an_invalid_scenario_file_is_skipped_with_its_error(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    _write_scenario(root, folder, "typo", analysis={"crs": "auto", "resolutoin_m": 1000})
    with dg.instance_for_test() as instance:
        register_scenarios(instance, sorted(PACKAGED))
        sync = partition_sync(instance, CorridorSettings(scenarios_dir=str(folder)))
        assert sync.add == []
        assert sync.delete == []
        (skipped,) = sync.skipped
        assert skipped.startswith("typo: ")
        assert "resolution_m" in skipped  # the did-you-mean of the schema


def test_check_registers_a_new_scenario_in_the_instance(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    _write_scenario(root, folder, "analyst-two")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((root / "dagster.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(home), "CORRIDOR_SCENARIOS": str(folder)}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.check", "analyst-two"], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "partition analyst-two registered" in done.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert registered_scenarios(instance) == ["analyst-two"]
    unknown = subprocess.run(
        [sys.executable, "-m", "pipelines.check", "analyst-tow"], cwd=root, env=env, capture_output=True, text=True
    )
    assert unknown.returncode == 2
    assert "Did you mean 'analyst-two'?" in unknown.stderr


def test_scenario_instance_holds_the_partitions_a_materialisation_needs() -> None:
    instance = scenario_instance("siyazan-aktau", "elsewhere")
    assert instance.is_ephemeral
    assert registered_scenarios(instance) == ["siyazan-aktau", "elsewhere"]
    assert register_scenarios(instance, ["siyazan-aktau", "third"]) == ["third"]


@pytest.mark.parametrize("name", ["siyazan-aktau", "sumgait-aktau"])
def test_the_weekly_schedule_registers_the_default_scenario(name: str) -> None:
    schedule = defs.resolve_schedule_def("weekly_default_scenario")
    with dg.instance_for_test() as instance:
        if name != "siyazan-aktau":
            register_scenarios(instance, [name])  # another scenario registered does not stand in for the default
        request = schedule(dg.build_schedule_context(instance=instance))  # the execution function itself
        assert isinstance(request, dg.RunRequest)
        assert request.partition_key == "siyazan-aktau"
        assert "siyazan-aktau" in registered_scenarios(instance)
