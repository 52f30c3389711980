"""The local instance's event log (pipelines/event_log.py): one connection per database, the same databases as
Dagster's own SQLite storage, which reads them back unchanged (#14)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import ConfigurableClassData

from assets.config import CorridorSettings
from pipelines.event_log import CorridorSqliteEventLogStorage, CorridorSqliteStorage, corridor_storage_data
from pipelines.runner import REPO_DAGSTER_YAML, instance_for


@dg.asset
def upstream() -> int:
    return 2


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="downstream")])
def downstream(upstream: int) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"value": upstream * 3}, check_results=[dg.AssetCheckResult(passed=upstream > 0)]
    )


def _run(home: Path) -> tuple[dg.DagsterInstance, str]:
    instance = instance_for(CorridorSettings(dagster_home=str(home)))
    result = dg.materialize([upstream, downstream], instance=instance)
    assert result.success
    return instance, result.run_id


def test_the_local_instance_uses_the_corridor_event_log(tmp_path: Path) -> None:
    instance, _ = _run(tmp_path / "home")
    assert isinstance(instance._event_storage, CorridorSqliteEventLogStorage)
    assert (tmp_path / "home" / "dagster.yaml").read_text() == REPO_DAGSTER_YAML.read_text()


def test_dagsters_own_sqlite_storage_reads_the_same_run(tmp_path: Path) -> None:
    """The same run recorded through the corridor's storage and through Dagster's default one: the same events,
    materialisations and check results, read back by Dagster's own classes."""
    ours, run_ours = _run(tmp_path / "ours")
    ours_events = [e.dagster_event_type for e in ours.all_logs(run_ours)]
    ours.dispose()
    theirs_home = tmp_path / "theirs"
    theirs_home.mkdir()
    shutil.copy(REPO_DAGSTER_YAML, theirs_home / "dagster.yaml")
    theirs = dg.DagsterInstance.from_config(str(theirs_home))
    assert type(theirs._event_storage).__name__ == "SqliteEventLogStorage"
    run_theirs = dg.materialize([upstream, downstream], instance=theirs).run_id
    theirs_events = [e.dagster_event_type for e in theirs.all_logs(run_theirs)]

    reader = dg.DagsterInstance.from_config(str(tmp_path / "ours"))  # Dagster's classes on our files
    assert type(reader._event_storage).__name__ == "SqliteEventLogStorage"
    events = [e.dagster_event_type for e in reader.all_logs(run_ours)]
    assert events == ours_events
    assert sorted(map(str, events)) == sorted(map(str, theirs_events))
    mat = reader.fetch_materializations(dg.AssetKey("downstream"), limit=5).records
    assert len(mat) == 1
    assert mat[0].asset_materialization is not None
    assert mat[0].asset_materialization.metadata["value"].value == 6
    check = reader.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("downstream"), "positive")]
    )
    assert len(check) == 1
    assert reader.get_run_by_id(run_ours).is_success  # type: ignore[union-attr]


def test_a_watcher_with_dagsters_classes_sees_each_new_event(tmp_path: Path) -> None:
    """dagster dev streams a running run by watching its database file (Dagster's SqliteEventLogStorage.watch): it
    hears of each event the corridor's storage writes, while the writer keeps its connection open."""
    instance, run_id = _run(tmp_path / "home")
    run = instance.get_run_by_id(run_id)
    assert run is not None
    reader = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    assert type(reader._event_storage).__name__ == "SqliteEventLogStorage"
    seen: list[str] = []
    heard = threading.Event()

    def callback(entry: Any, _cursor: str) -> None:
        seen.append(entry.message)
        if entry.message == "one more event":
            heard.set()

    reader.event_log_storage.watch(run_id, None, callback)
    try:
        time.sleep(0.5)  # the observer thread starts
        instance.report_engine_event("one more event", run)
        stored = [e.message for e in reader.all_logs(run_id)][-2:]
        assert heard.wait(20), f"the watcher heard {seen[-3:]}; stored {stored}"
    finally:
        reader.event_log_storage.end_watch(run_id, callback)
        reader.dispose()


def test_other_storages_are_left_alone(tmp_path: Path) -> None:
    postgres = ConfigurableClassData("dagster_postgres", "DagsterPostgresStorage", "postgres_url: x\n")
    assert corridor_storage_data(postgres) is None
    assert corridor_storage_data(None) is None
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO_DAGSTER_YAML, home / "dagster.yaml")
    ref = InstanceRef.from_dir(str(home))
    data = corridor_storage_data(ref.storage_data)
    assert data is not None
    assert data.class_name == CorridorSqliteStorage.__name__
    assert ref.storage_data is not None
    assert data.config_yaml == ref.storage_data.config_yaml  # the same folders


def test_wipe_closes_the_connections(tmp_path: Path) -> None:
    instance, run_id = _run(tmp_path / "home")
    storage = instance._event_storage
    assert isinstance(storage, CorridorSqliteEventLogStorage)
    storage.wipe()
    assert not Path(storage.path_for_shard(run_id)).exists()
    assert storage.get_logs_for_run(run_id) == []


def test_only_the_tested_dagster_versions_get_the_faster_storage() -> None:
    """It overrides Dagster's private event-log methods: another Dagster keeps Dagster's own SQLite storage."""
    import dagster as dg

    from pipelines.event_log import dagster_is_tested

    assert dagster_is_tested(dg.__version__)  # the installed one is tested (this file's other tests)
    assert dagster_is_tested("1.9.0")
    assert not dagster_is_tested("1.14.0")
    assert not dagster_is_tested("2.0.1")
    assert not dagster_is_tested("1.8.9")
    assert not dagster_is_tested("1!x")
