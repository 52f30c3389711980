"""The code location loads, its asset graph is the one ARCHITECTURE.md documents, and every asset is described."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from assets.config import PARTITIONS
from pipelines.definitions import defs


def _graph() -> dg.AssetGraph:  # type: ignore[name-defined]
    return defs.resolve_asset_graph()


def documented_assets(root: Path) -> set[str]:
    """Asset names in ARCHITECTURE.md's asset table (rows like "| `bathymetry` | ingest_bathymetry | ... |")."""
    text = (root / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Asset graph", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_asset_keys_match_architecture_md(root: Path) -> None:
    keys = {k.to_user_string() for k in _graph().get_all_asset_keys()}
    assert keys == documented_assets(root)


def test_every_asset_has_a_description_group_and_scenario_partitions() -> None:
    graph = _graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert len(node.description) > 40, key
        assert node.group_name != "default", key
        assert node.partitions_def == PARTITIONS, key


def test_blocking_checks_exist_where_a_wrong_input_means_a_wrong_route() -> None:
    checks = {(k.asset_key.to_user_string(), k.name) for k in _graph().asset_check_keys}
    for expected in [
        ("bathymetry", "crs_present"),
        ("sea_mask", "coverage"),
        ("seabed_sectors", "partition"),
        ("engineered_route", "route_clear_of_hard_exclusions"),
        ("engineered_route", "route_within_slope_limit"),
        ("engineered_route", "route_within_allowed_sectors"),
        ("engineered_route", "crossing_angles"),
    ]:
        assert expected in checks


def test_jobs_schedule_and_sensor_are_defined() -> None:
    assert defs.get_job_def("corridor_job") is not None
    assert defs.get_job_def("ingest_job") is not None
    assert defs.get_schedule_def("weekly_default_scenario") is not None
    assert defs.get_sensor_def("scenario_change_sensor") is not None
    assert defs.get_sensor_def("scenario_partitions_sensor") is not None


def test_scenario_sensor_requests_a_run_per_changed_scenario() -> None:
    sensor = defs.get_sensor_def("scenario_change_sensor")
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance))
        keys = {r.partition_key for r in first.run_requests}
        assert {"siyazan-aktau", "sumgait-aktau"} <= keys
        # the partitions it runs are registered in the same evaluation
        (added,) = first.dynamic_partitions_requests
        assert isinstance(added, dg.AddDynamicPartitionsRequest)
        assert set(added.partition_keys) == keys
        again = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert again.run_requests == []
