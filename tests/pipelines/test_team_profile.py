"""The team profile (deploy/team/dagster.yaml) is a valid instance configuration, and the corridor executor is
in-process by default with the multiprocess executor selectable by configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator

from assets.config import executor_mode_from_env
from geodata.errors import ConfigError
from pipelines.definitions import corridor_job, defs
from pipelines.executors import build_corridor_executor

PG_ENV = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5433",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_DB": "dagster",
}


@pytest.fixture
def team_home(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(root / "deploy" / "team" / "dagster.yaml", tmp_path / "dagster.yaml")
    for var, value in PG_ENV.items():
        monkeypatch.setenv(var, value)
    return tmp_path


def test_team_profile_stores_everything_in_postgres_from_the_environment(team_home: Path) -> None:
    config, _ = dagster_instance_config(str(team_home))
    db = config["storage"]["postgres"]["postgres_db"]
    assert db == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "scheme": "postgresql+psycopg2",  # the driver dagster-postgres installs
    }
    # the storage class resolves the env sources to the values set above
    from dagster_postgres import DagsterPostgresStorage

    resolved = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert resolved.success, resolved.errors
    assert resolved.value is not None
    assert resolved.value["postgres_db"]["port"] == 5433
    assert resolved.value["postgres_db"]["password"] == PG_ENV["DAGSTER_PG_PASSWORD"]


def test_team_profile_queues_runs_one_per_scenario(team_home: Path) -> None:
    config, _ = dagster_instance_config(str(team_home))
    coordinator = config["run_coordinator"]
    assert (coordinator["module"], coordinator["class"]) == ("dagster.core.run_coordinator", "QueuedRunCoordinator")
    resolved = process_config(QueuedRunCoordinator.config_type(), coordinator["config"])
    assert resolved.success, resolved.errors
    assert resolved.value is not None
    assert resolved.value["max_concurrent_runs"] >= 2
    limits = resolved.value["tag_concurrency_limits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_the_default_profile_stays_sqlite(root: Path) -> None:
    text = (root / "dagster.yaml").read_text(encoding="utf-8")
    assert "postgres" not in text
    assert "run_coordinator" not in text


def test_executor_is_in_process_unless_configured() -> None:
    assert executor_mode_from_env({}) == "in_process"
    assert executor_mode_from_env({"CORRIDOR_EXECUTOR": "multiprocess"}) == "multiprocess"
    with pytest.raises(ConfigError, match="CORRIDOR_EXECUTOR"):
        executor_mode_from_env({"CORRIDOR_EXECUTOR": "threads"})
    with pytest.raises(ConfigError, match="CORRIDOR_EXECUTOR"):
        build_corridor_executor("threads")


@pytest.mark.parametrize("default", ["in_process", "multiprocess"])
def test_executor_default_and_override(default: str) -> None:
    executor = build_corridor_executor(default)
    field = executor.config_schema.as_field()
    assert field.default_value == {default: {}}
    chosen = process_config(field.config_type, {"multiprocess": {"max_concurrent": 2}})
    assert chosen.success, chosen.errors
    assert chosen.value is not None
    assert chosen.value["multiprocess"]["max_concurrent"] == 2
    assert executor.get_requirements({"multiprocess": {}}) == dg.multiple_process_executor_requirements()
    assert executor.get_requirements({"in_process": {}}) == []


def test_corridor_jobs_use_the_corridor_executor() -> None:
    job = defs.resolve_job_def(corridor_job.name)
    assert job.executor_def.name == "corridor_executor"
    assert job.executor_def.config_schema.as_field().default_value == {"in_process": {}}


TWO_STEP_JOB = """
import os

import dagster as dg

from pipelines.executors import build_corridor_executor


@dg.op
def first(context) -> int:
    context.log.info(f"step first in pid {os.getpid()}")
    return 1


@dg.op
def second(context, value: int) -> int:
    context.log.info(f"step second in pid {os.getpid()}")
    return value


@dg.job(executor_def=build_corridor_executor("in_process"))
def two_steps():
    second(first())
"""


@pytest.mark.integration
@pytest.mark.parametrize(
    ("run_config", "processes"), [(None, 1), ({"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}, 2)]
)
def test_the_executor_mode_decides_where_steps_run(
    root: Path, tmp_path: Path, run_config: dict | None, processes: int
) -> None:
    """A two-step job on the corridor executor, run by ``dagster job execute``: both steps in one process by
    default, each in its own process when the run config picks multiprocess."""
    import json
    import re
    import subprocess
    import sys

    (tmp_path / "two_steps.py").write_text(TWO_STEP_JOB, encoding="utf-8")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text((root / "dagster.yaml").read_text(encoding="utf-8"))
    cmd = [str(Path(sys.executable).parent / "dagster"), "job", "execute", "-f", str(tmp_path / "two_steps.py")]
    if run_config:
        (tmp_path / "run.yaml").write_text(json.dumps(run_config), encoding="utf-8")
        cmd += ["-c", str(tmp_path / "run.yaml")]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    pids = set(re.findall(r"step (?:first|second) in pid (\d+)", log))
    assert len(pids) == processes, log[-3000:]
