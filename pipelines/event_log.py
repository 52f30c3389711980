"""The local instance's SQLite storage with a cheaper event log: the same files, schema and layout as Dagster's
``DagsterSqliteStorage`` (``$DAGSTER_HOME/storage``: one database per run plus the index), written the same way,
without opening a database per event.

Dagster's SQLite event log creates an engine, opens the run's database, commits and closes it for every event (a
run of the default scenario writes about 300 events, plus their copies in the index). Closing the last connection
of a WAL database checkpoints it, so each event costs several fsyncs and an engine: about a tenth of a 1 km run's
time in events alone. :class:`CorridorSqliteEventLogStorage` keeps one open connection per database for the life of
the storage (still behind Dagster's lock, so threads take turns as before), commits with ``synchronous=NORMAL``
(SQLite's recommended setting for WAL: a commit is atomic and the database consistent after any crash; only a power
cut can lose the last commits; SQLite checkpoints the WAL into the database by itself every 1000 pages), and touches
the run's database file after each write: ``dagster dev`` streams a running run's events by watching that file for
changes, which Dagster's own storage made by checkpointing it on every close (readers read the WAL either way). A
``dagster dev`` reading the same folder with Dagster's own classes reads the same databases.

:func:`pipelines.runner.instance_for` uses it when the instance's ``dagster.yaml`` leaves the storage at its SQLite
default; any other storage (PostgreSQL in ``deploy/team``, a custom one) is left alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from dagster import __version__ as dagster_version
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy.pool import StaticPool

TESTED_DAGSTER = ((1, 9), (1, 13))
"""Dagster minor versions (inclusive) whose SQLite event log internals this module was written and tested against
(``tests/pipelines/test_event_log.py``); with any other, :func:`corridor_storage_data` keeps Dagster's own storage."""
SQLITE_STORAGE = ("dagster._core.storage.sqlite_storage", "DagsterSqliteStorage")
"""Module and class of Dagster's default local storage, which :func:`corridor_storage_data` replaces."""


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class CorridorSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open connection per database (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: dict[str, sa.Engine] = {}
        self._tables: set[str] = set()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: dict[str, Any]
    ) -> CorridorSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> sa.Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = sa.create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            sa.event.listen(engine, "connect", _pragmas)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn
            if shard != INDEX_SHARD_NAME:  # the file dagster dev watches changes with every event, as before
                os.utime(self.path_for_shard(shard))

    def has_table(self, table_name: str) -> bool:
        # asked before many writes; a table, once there, stays (only an upgrade adds them)
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found

    def close_connections(self) -> None:
        """Close every open database (a checkpoint each, as Dagster's own close after each event)."""
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self.close_connections()
        super().wipe()

    def upgrade(self) -> None:
        self.close_connections()
        self._tables.clear()
        super().upgrade()

    def dispose(self) -> None:
        self.close_connections()
        super().dispose()


class CorridorSqliteStorage(DagsterSqliteStorage):
    """Dagster's local SQLite storage (runs, schedules, event log in ``base_dir``) with
    :class:`CorridorSqliteEventLogStorage` as its event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = CorridorSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: dict[str, Any]
    ) -> CorridorSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


def dagster_is_tested(version: str) -> bool:
    """Is Dagster ``version`` ("1.13.27") within :data:`TESTED_DAGSTER`?"""
    try:
        major_minor = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return TESTED_DAGSTER[0] <= major_minor <= TESTED_DAGSTER[1]


def corridor_storage_data(storage: ConfigurableClassData | None) -> ConfigurableClassData | None:
    """The storage class data of an instance reference with :class:`CorridorSqliteStorage` in place of Dagster's
    SQLite default (same configuration: the same folders); None when the storage is anything else or Dagster is not
    a version this module was tested with."""
    if storage is None or (storage.module_name, storage.class_name) != SQLITE_STORAGE:
        return None
    if not dagster_is_tested(dagster_version):
        return None  # it overrides Dagster's private methods: only on the versions it was tested with
    return ConfigurableClassData(__name__, CorridorSqliteStorage.__name__, storage.config_yaml)
