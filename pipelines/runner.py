"""Run one scenario's partition of ``corridor_job`` in this process, recorded in the Dagster instance, with a line
of progress per asset; on failure, the run's failures with their descriptions and a diagnostics GeoPackage beside
the last publication (:mod:`geodata.publish.diagnostics`). ``corridor run`` (:mod:`pipelines.cli`) calls this."""

from __future__ import annotations

import shutil
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from dagster._core.utils import make_new_run_id

from assets.common import snapshot_path
from assets.config import SETTINGS, CorridorSettings
from geodata.errors import CorridorError
from geodata.publish.atomic import live_version
from geodata.publish.diagnostics import Failure, diagnostics_folder, locate_cells, write_diagnostics
from geodata.scenario import Scenario, scenario_names
from geodata.sources.snapshot import ScenarioSnapshot
from pipelines import store
from pipelines.dask_resource import DaskResource
from pipelines.event_log import corridor_storage_data
from pipelines.io_managers import CorridorIOManager
from pipelines.partitions import register_scenarios, scenario_instance
from pipelines.store import StoreError

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
"""The repository's instance settings (no telemetry, no newsletter modal), copied into a new DAGSTER_HOME."""


CHECK_FAILURE_ERRORS = frozenset({"DagsterAssetCheckFailedError"})
"""Dagster's error for a step whose blocking check failed: the check's own description is the failure reported."""


class RunFailed(CorridorError):
    """A run of a scenario did not publish: a blocking check failed or a step raised. The message lists each
    failure (what, where, the fix) and where the diagnostics GeoPackage is; the previous publication stays live."""


@dataclass
class RunOutcome:
    """What one run did: its id, success, the failures, the live publication and the diagnostics written."""

    scenario: str
    run_id: str
    success: bool
    seconds: float
    failures: list[Failure] = field(default_factory=list)
    publication: Path | None = None
    diagnostics: Path | None = None

    def error(self) -> RunFailed:
        lines = [f"scenario '{self.scenario}' did not publish (run {self.run_id}):"]
        lines += [f"  - {f.line()}" for f in self.failures] or ["  - the run failed without a recorded reason"]
        if self.diagnostics is not None:
            lines.append(f"Diagnostics (open in QGIS): {self.diagnostics}")
        if self.publication is not None:
            lines.append(f"The previous publication is still live and untouched: {self.publication}")
        return RunFailed("\n".join(lines))


def instance_for(settings: CorridorSettings) -> dg.DagsterInstance:
    """The Dagster instance at ``settings.dagster_home`` (created with the repository's dagster.yaml when new), so
    that the runs appear in ``dagster dev`` / ``make dev``. Its default SQLite storage is
    :class:`pipelines.event_log.CorridorSqliteStorage` (the same databases, without one connection per event)."""
    home = Path(settings.dagster_home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and REPO_DAGSTER_YAML.is_file():
        shutil.copy(REPO_DAGSTER_YAML, home / "dagster.yaml")
    ref = InstanceRef.from_dir(str(home))
    storage = corridor_storage_data(ref.storage_data)  # the SQLite default: same files, one connection per db
    return dg.DagsterInstance.from_ref(ref._replace(storage_data=storage) if storage is not None else ref)


def folder_settings(root: str | Path, *, mirror: str | Path, **overrides: Any) -> CorridorSettings:
    """Settings that keep everything a run writes under ``root`` (``cache/``, ``published/``, ``store/``) and read the
    data mirror at ``mirror``; ``overrides`` set other fields (``scenarios_dir=...``). For tests and benchmarks."""
    base = Path(root)
    values: dict[str, Any] = {
        "mirror_dir": str(mirror),
        "cache_dir": str(base / "cache"),
        "output_dir": str(base / "published"),
        "store_dir": str(base / "store"),
    }
    return CorridorSettings(**{**values, **overrides})


def scenario_resources(settings: CorridorSettings, *, dask: DaskResource | None = None) -> dict[str, Any]:
    """The code location's resources for ``settings``: the settings, the store's IO manager on
    ``settings.store_dir`` reading scenarios from ``settings.scenarios_dir`` (the folder the run's snapshot is
    digested from), and the dask resource (``dask``, else ``settings.dask_scheduler``; ``""`` = serial)."""
    return {
        "settings": settings,
        "io_manager": CorridorIOManager(base_dir=settings.store_dir, scenarios_dir=settings.scenarios_dir or None),
        "dask": dask if dask is not None else DaskResource(scheduler_address=settings.dask_scheduler),
    }


def materialize_scenario(
    name: str,
    settings: CorridorSettings | None = None,
    *,
    selection: dg.AssetSelection | Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    dask: DaskResource | None = None,
    raise_on_error: bool = True,
    run_config: Mapping[str, Any] | None = None,
    assets: Sequence[Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise ``selection`` (default: every asset) of scenario ``name``'s partition in this process with
    :func:`scenario_resources` of ``settings`` (default: :data:`assets.config.SETTINGS`, from the environment).

    The one seam for in-process materialisations (tests, benchmarks, scripts): the scenario is registered as a
    partition of ``instance`` (default: a fresh :func:`~pipelines.partitions.scenario_instance`; the partitions are
    dynamic), and the IO manager reads the same scenario folder as the settings. Unlike :func:`run_scenario` it
    prints nothing and writes no diagnostics; the result holds every value (``result.asset_value(name)``).
    ``assets`` replaces the code location's asset definitions (a test that reloaded the asset modules)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pipelines.definitions import defs

    settings = settings if settings is not None else SETTINGS
    if instance is None:
        instance = scenario_instance(name)
    else:
        register_scenarios(instance, [name])
    if assets is None:
        assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]  # every one of them is
    return dg.materialize(
        list(assets),
        selection=selection,
        partition_key=name,
        resources=scenario_resources(settings, dask=dask),
        instance=instance,
        raise_on_error=raise_on_error,
        run_config=run_config,
    )


def _step_error(data: Any) -> tuple[str, str]:
    """(class name, message) of the innermost error of a step failure: the library's own error, not Dagster's
    wrapper."""
    err = data.error
    while err is not None and err.cause is not None and err.cls_name.startswith("Dagster"):
        err = err.cause
    if err is None:
        return ("Error", "step failed")
    return (err.cls_name or "Error", err.message.split(": ", 1)[-1].strip() if err.cls_name else err.message.strip())


class _Progress:
    """Turns the run's events into one line per asset and collects the failures."""

    def __init__(self, echo: Callable[[str], None], total: int, verbose: bool) -> None:
        self.echo, self.total, self.verbose = echo, total, verbose
        self.lock = threading.Lock()
        self.started: dict[str, float] = {}
        self.done = 0
        self.failures: list[Failure] = []
        self.checked: set[str] = set()
        """Steps with a failed blocking check."""

    def __call__(self, entry: Any) -> None:
        with self.lock:  # steps side by side report from their threads
            self._record(entry)

    def _record(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind, step = event.event_type, event.step_key or ""
        if kind == DagsterEventType.STEP_START:
            self.started[step] = time.perf_counter()
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            self.done += 1
            took = time.perf_counter() - self.started.get(step, time.perf_counter())
            status = "ok" if kind == DagsterEventType.STEP_SUCCESS else "FAILED"
            if kind == DagsterEventType.STEP_FAILURE and step in self.checked:
                status = "check"
            self.echo(f"  [{self.done:2d}/{self.total}] {step:<24} {status:<6} {took:6.1f} s")
            if kind == DagsterEventType.STEP_FAILURE:
                name, message = _step_error(event.event_specific_data)
                if name not in CHECK_FAILURE_ERRORS:  # the failed checks themselves are recorded with their text
                    self.failures.append(Failure(step, name, message, kind="error"))
        elif kind == DagsterEventType.STEP_SKIPPED:
            self.done += 1
            self.echo(f"  [{self.done:2d}/{self.total}] {step:<24} skipped (an upstream check failed)")
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            blocking = ev.severity == dg.AssetCheckSeverity.ERROR
            if not ev.passed and blocking:
                asset = ev.asset_key.to_user_string()
                self.failures.append(Failure(asset, ev.check_name, ev.description or "failed", kind="check"))
                self.checked.add(step or asset)
                self.echo(f"        check {asset}.{ev.check_name} FAILED")
            elif not ev.passed and self.verbose:
                self.echo(f"        check {ev.asset_key.to_user_string()}.{ev.check_name} warning")


def execute_with_job_executor(
    job: dg.JobDefinition,
    partition_key: str | None,
    instance: dg.DagsterInstance,
    run_id: str,
    run_config: Mapping[str, Any],
) -> Any:
    """Run ``job``'s partition in this process on the job's own executor (``pipelines/executors.py``: independent
    steps side by side on threads by default). ``JobDefinition.execute_in_process`` would swap in Dagster's one
    step at a time executor; this is the same call without the swap, so ``corridor run`` runs as a launched run
    does."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.execute_in_process import core_execute_in_process, merge_run_tags

    tags = merge_run_tags(
        job_def=job,
        partition_key=partition_key,
        tags=None,
        asset_selection=None,
        instance=instance,
        run_config=run_config,
    )
    return core_execute_in_process(
        run_config=run_config,
        job=InMemoryJob(job),
        instance=instance,
        output_capturing_enabled=False,
        raise_on_error=False,
        run_tags=tags,
        run_id=run_id,
    )


def run_scenario(
    scenario: Scenario,
    *,
    echo: Callable[[str], None] = print,
    verbose: bool = False,
    instance: dg.DagsterInstance | None = None,
    max_concurrent: int | None = None,
) -> RunOutcome:
    """Materialise every asset of ``scenario``'s partition in this process, with the code location's settings
    (:data:`assets.config.SETTINGS`, from the environment, as ``dagster dev`` has them), on the job's executor
    (independent steps side by side on threads, ``max_concurrent`` at most: default 2, fewer on fewer cores; 1 = one
    step at a time); on failure write the diagnostics."""
    settings = SETTINGS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pipelines.definitions import defs

    known = scenario_names(folder=settings.scenarios)
    if scenario.name not in known:
        raise RunFailed(
            f"scenario '{scenario.name}' is not a partition of this code location (known: {', '.join(known)}); "
            "put its file in the folder CORRIDOR_SCENARIOS names"
        )
    job = defs.resolve_job_def("corridor_job")
    run_id = make_new_run_id()
    instance = instance or instance_for(settings)
    register_scenarios(instance, [scenario.name])  # scenario partitions are dynamic (pipelines/partitions.py)
    progress = _Progress(echo, len(job.nodes_in_topological_order), verbose)
    instance.add_event_listener(run_id, progress)
    level = "INFO" if verbose else "CRITICAL"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        if not verbose:
            warnings.simplefilter("ignore")
        # in this process whatever the deployment's default (the team profile's multiprocess executor needs a
        # launched run); max_concurrent None: the executor's default
        run_config: dict[str, Any] = {
            "loggers": {"console": {"config": {"log_level": level}}},
            "execution": {"config": {"in_process": {"max_concurrent": max_concurrent}}},
        }
        result = execute_with_job_executor(job, scenario.name, instance, run_id, run_config)
    not_run = [n.name for n in job.nodes_in_topological_order if n.name not in progress.started]
    if not_run:
        echo(f"  not run (after a failure upstream): {', '.join(not_run)}")
    scenario_dir = settings.output_root / scenario.name
    outcome = RunOutcome(
        scenario.name,
        run_id,
        bool(result.success) and not progress.failures,
        time.perf_counter() - t0,
        progress.failures,
        live_version(scenario_dir),
    )
    if not outcome.success:
        outcome.failures = _located(settings, scenario.name, run_id, outcome.failures)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyproj's notes on PROJ strings of the local projections
            outcome.diagnostics = write_run_diagnostics(settings, scenario, run_id, outcome).resolve()
    return outcome


def _stored(settings: CorridorSettings, scenario: str, asset: str, run_id: str) -> Any:
    """The value ``asset`` stored in run ``run_id`` (under the run's scenario snapshot), or None (no snapshot, not
    built in this run, or unreadable)."""
    snap_file = snapshot_path(settings.store_root, scenario, run_id)
    try:
        snapshot = ScenarioSnapshot.from_json(snap_file.read_text(encoding="utf-8"), str(snap_file)).digest
    except (OSError, UnicodeDecodeError, CorridorError):
        return None
    folder = store.value_dir(settings.store_root, scenario, asset, snapshot=snapshot)
    try:
        value = store.read_value(folder, asset=asset, partition=scenario)
    except StoreError:
        return None
    return value.value if value.header.get("run_id") == run_id else None


def _located(settings: CorridorSettings, scenario: str, run_id: str, failures: list[Failure]) -> list[Failure]:
    """The failures with every grid cell they name, ``(row R, col C)`` (the routing engine's errors), given its
    latitude and longitude on the run's analysis grid."""
    grid = None
    for asset in ("cost_surface", "sea_mask", "bathymetry"):
        value = _stored(settings, scenario, asset, run_id)
        if value is not None:
            grid = value.grid
            break
    if grid is None:
        return failures
    return [Failure(f.asset, f.name, locate_cells(f.message, grid), f.kind) for f in failures]


def write_run_diagnostics(settings: CorridorSettings, scenario: Scenario, run_id: str, outcome: RunOutcome) -> Path:
    """The diagnostics GeoPackage of a failed run, from what the run stored (sea mask, cost surface, routes)."""
    name = scenario.name
    sea = _stored(settings, name, "sea_mask", run_id)
    cost = _stored(settings, name, "cost_surface", run_id)
    passable = np.isfinite(cost.total) if cost is not None else None
    routes: dict[str, Any] = {}
    engineered = _stored(settings, name, "engineered_route", run_id)
    if engineered is not None:
        routes["engineered"] = (engineered.line, engineered.crs)
    folder = diagnostics_folder(settings.output_root, name, run_id)
    summary = str(RunOutcome(name, run_id, False, outcome.seconds, outcome.failures, outcome.publication).error())
    return write_diagnostics(
        folder, scenario, outcome.failures, sea_mask=sea, passable=passable, routes=routes, summary=summary
    )
