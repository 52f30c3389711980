"""The team profile against a real PostgreSQL: the test starts its own server on loopback in a temporary folder,
points a DAGSTER_HOME holding deploy/team/dagster.yaml at it, runs ``dagster-daemon`` on the repository's
workspace.yaml, and submits runs with ``dagster job launch`` (the commands README's "Deployment for a team" gives).

Two scenario files dropped into ``CORRIDOR_SCENARIOS`` become partitions through the daemon's partitions sensor (no
code change). Two runs of different scenarios run side by side; a third run of a scenario that is already running
waits in the queue until the first has finished (the ``dagster/partition`` tag limit of the queued run coordinator).
Runs, asset materialisations and check results are read back from PostgreSQL
itself.

The scenarios are the two packaged ones on a coarse 4 km grid (test copies, not analyses), so that the whole graph
runs in seconds.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest
import yaml

from pipelines.definitions import defs

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
SCENARIOS = {"team-a": "siyazan-aktau", "team-b": "sumgait-aktau"}
"""Test scenario -> the packaged scenario it copies (on a coarse grid)."""
COARSE_RESOLUTION_M = 4000
TIMEOUT_S = 300
"""A guard against a hung daemon, not a timing assertion (the runs take about a minute on two idle cores)."""


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str

    def env(self) -> dict[str, str]:
        """The variables deploy/team/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db,
        }

    def connect(self, db: str | None = None) -> Any:
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=db or self.db
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(what: str, ready: Callable[[], bool], timeout_s: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"{what} within {timeout_s:.0f} s" + (f"; daemon log tail:\n{tail}" if tail else ""))


@pytest.fixture(scope="module")
def postgres(postgres_bin: Path) -> Iterator[Postgres]:
    """A PostgreSQL server of its own: ``initdb`` in a temporary folder, ``pg_ctl start`` on 127.0.0.1 at a free
    port (no Unix socket), password authentication; stopped and removed in the finaliser. As root the server runs
    as ``nobody`` (PostgreSQL refuses to run as root)."""
    base = Path(tempfile.mkdtemp(prefix="corridor-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    password = secrets.token_hex(16)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if as_user:
        os.chown(pwfile, nobody.pw_uid, nobody.pw_gid)
    data, log = base / "data", base / "server.log"
    server = Postgres(host="127.0.0.1", port=_free_port(), user="dagster", password=password, db="dagster")

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], cwd=base, check=True, capture_output=True, text=True)

    pg(str(postgres_bin / "initdb"), "-D", str(data), "-U", server.user, f"--pwfile={pwfile}",
       "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories='' -c fsync=off"
    try:
        pg(str(postgres_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o", options, "start")
        conn = server.connect("postgres")
        conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
        try:
            conn.cursor().execute(f"CREATE DATABASE {server.db}")
        finally:
            conn.close()
        yield server
    finally:
        subprocess.run(
            [*as_user, str(postgres_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            cwd=base,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def team(
    postgres: Postgres, root: Path, mirror: Path, node_modules: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """DAGSTER_HOME with the team profile, two new scenario files, and ``dagster-daemon run -w workspace.yaml``
    (stopped, with its code server and run workers, in the finaliser)."""
    work = tmp_path_factory.mktemp("team")
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(root / "deploy" / "team" / "dagster.yaml", home / "dagster.yaml")
    folder = work / "scenarios"
    folder.mkdir()
    for name, packaged in SCENARIOS.items():
        data = yaml.safe_load((root / f"geodata/data/scenarios/{packaged}.yaml").read_text(encoding="utf-8"))
        data["name"] = name
        data["title"] = f"Test copy of {packaged} on a coarse {COARSE_RESOLUTION_M // 1000} km grid (not an analysis)"
        data["analysis"]["resolution_m"] = COARSE_RESOLUTION_M
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(work),
        "PYTHONPATH": str(root),
        "DAGSTER_HOME": str(home),
        **postgres.env(),
        "CORRIDOR_SCENARIOS": str(folder),
        "CORRIDOR_MIRROR": str(mirror),
        "CORRIDOR_NODE_MODULES": str(node_modules),
        "CORRIDOR_CACHE": str(work / "cache"),
        "CORRIDOR_OUTPUT": str(work / "published"),
        "CORRIDOR_STORE": str(work / "store"),
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(root / ".numba_cache")),
    }
    log = work / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with pytest.MonkeyPatch.context() as mp:
        for var in ("DAGSTER_HOME", *postgres.env()):
            mp.setenv(var, env[var])
        instance = dg.DagsterInstance.get()
        try:
            yield {"env": env, "root": root, "log": log, "instance": instance, "work": work}
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            instance.dispose()


@dataclass
class _Launch:
    """A ``dagster job launch`` under way (each loads the code location, so several go side by side)."""

    run_id: str
    process: subprocess.Popen[str]

    def result(self) -> str:
        out, err = self.process.communicate(timeout=180)
        assert self.process.returncode == 0, out + err
        return self.run_id


def _launch(team: dict[str, Any], job: str, partition: str) -> _Launch:
    """``dagster job launch`` a run of ``job`` for ``partition``, submitted to the queue."""
    run_id = str(uuid.uuid4())
    cmd = [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", job, "--run-id", run_id,
           "--tags", json.dumps({"dagster/partition": partition})]  # fmt: skip
    process = subprocess.Popen(
        cmd, cwd=team["root"], env=team["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return _Launch(run_id, process)


def _failure(instance: dg.DagsterInstance, run_id: str) -> str:
    events = instance.all_logs(run_id)
    return "\n".join(
        str(e.message or e.dagster_event) for e in events if e.dagster_event and e.dagster_event.is_failure
    )


@pytest.fixture(scope="module")
def runs(team: dict[str, Any]) -> dict[str, dg.RunRecord]:  # type: ignore[name-defined]
    """a1 (team-a) and b (team-b) of corridor_job, and a2 (ingest_job of team-a), submitted after a1."""
    instance: dg.DagsterInstance = team["instance"]
    registered = lambda: set(SCENARIOS) <= set(instance.get_dynamic_partitions("scenario"))  # noqa: E731
    _wait_for("the partitions sensor registers the new scenario files", registered, 60, team["log"])

    ids = {"a1": _launch(team, "corridor_job", "team-a").result()}  # queued first
    later = {"b": _launch(team, "corridor_job", "team-b"), "a2": _launch(team, "ingest_job", "team-a")}
    ids |= {label: launch.result() for label, launch in later.items()}

    def finished() -> bool:
        records = instance.get_run_records(dg.RunsFilter(run_ids=list(ids.values())))
        return len(records) == len(ids) and all(r.dagster_run.is_finished for r in records)

    _wait_for("the three runs finish", finished, TIMEOUT_S, team["log"])
    records = {r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(run_ids=list(ids.values())))}
    return {label: records[run_id] for label, run_id in ids.items()}


def test_runs_of_two_scenarios_succeed_through_the_queue(team: dict[str, Any], runs: dict[str, Any]) -> None:
    instance = team["instance"]
    for label, record in runs.items():
        run = record.dagster_run
        assert run.status == dg.DagsterRunStatus.SUCCESS, f"{label}: {_failure(instance, run.run_id)}"
        assert run.tags["dagster/partition"] == ("team-b" if label == "b" else "team-a")
        # went through the queue: the coordinator enqueued it, the daemon launched it
        types = {e.dagster_event.event_type for e in instance.all_logs(run.run_id) if e.dagster_event}
        assert {dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING} <= types, label


def test_one_run_per_scenario_at_a_time(runs: dict[str, Any]) -> None:
    a1, a2, b = runs["a1"], runs["a2"], runs["b"]
    # a2 was submitted while a1 had not finished, and waited for it
    assert a2.create_timestamp.timestamp() < a1.end_time
    assert a2.start_time >= a1.end_time, "two runs of team-a overlapped"
    # while the run of another scenario ran beside a1: the limit is per scenario, not global
    assert b.start_time < a1.end_time
    assert a1.start_time < b.end_time


def _required_assets() -> set[dg.AssetKey]:
    """The assets every corridor_job run materialises (optional outputs, such as a sweep the scenario does not ask
    for, left out)."""
    keys = set()
    for asset in defs.assets or []:
        if isinstance(asset, dg.AssetsDefinition):
            for key in asset.keys:
                if asset.node_def.output_def_named(asset.get_output_name_for_asset_key(key)).is_required:
                    keys.add(key)
    return keys


def test_runs_materialisations_and_checks_are_in_postgres(postgres: Postgres, runs: dict[str, Any]) -> None:
    ids = {label: r.dagster_run.run_id for label, r in runs.items()}
    corridor_assets = _required_assets()
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (list(ids.values()),))
        assert dict(cur.fetchall()) == dict.fromkeys(ids.values(), "SUCCESS")
        for label in ("a1", "b"):
            cur.execute(
                "SELECT dagster_event_type, count(*) FROM event_logs WHERE run_id = %s GROUP BY dagster_event_type",
                (ids[label],),
            )
            counts = dict(cur.fetchall())
            assert counts["ASSET_CHECK_EVALUATION"] >= 5, label
            cur.execute(
                "SELECT DISTINCT asset_key FROM event_logs WHERE run_id = %s"
                " AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                (ids[label],),
            )
            assert {dg.AssetKey.from_db_string(row[0]) for row in cur.fetchall()} >= corridor_assets, label
        cur.execute(
            "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'scenario' ORDER BY partition"
        )
        assert {"team-a", "team-b"} <= {row[0] for row in cur.fetchall()}
    conn.close()
