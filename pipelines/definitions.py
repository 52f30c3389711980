"""The one ``Definitions`` of the caspian-corridor code location: assets, checks, jobs, resources, IO manager,
schedules and sensors."""

from __future__ import annotations

import dagster as dg

from assets import bathymetry, boundaries, cost, deliverables, engineering, hazards, publish, routing
from assets.config import EXECUTOR_MODE, SETTINGS
from geodata.scenario import DEFAULT_SCENARIO
from pipelines.comparison import as_laid_job, compare_job
from pipelines.dask_resource import DaskResource
from pipelines.executors import build_corridor_executor
from pipelines.io_managers import CorridorIOManager
from pipelines.partitions import register_scenarios
from pipelines.sensors import build_partitions_sensor, build_scenario_sensor

STAGES = [bathymetry, boundaries, hazards, cost, engineering, routing, deliverables, publish]
"""The asset modules, one per pipeline stage."""

all_assets = dg.load_assets_from_modules(STAGES)
all_checks = dg.load_asset_checks_from_modules(STAGES)

corridor_job = dg.define_asset_job(
    "corridor_job",
    selection=dg.AssetSelection.all(),
    description="Ingest, derive and publish the corridor of one scenario (partition).",
)
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("bathymetry", "boundaries", "hazards"),
    description="Only the ingest stages: read, check and normalise the inputs of one scenario.",
)


@dg.schedule(
    name="weekly_default_scenario",
    job=corridor_job,
    cron_schedule="0 3 * * 1",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Rebuild the default scenario every Monday at 03:00 (picks up new mirror or cache data).",
)
def weekly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """The default scenario's run, its partition registered first (the instance may never have seen it)."""
    register_scenarios(context.instance, [DEFAULT_SCENARIO])
    return dg.RunRequest(partition_key=DEFAULT_SCENARIO)


defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[corridor_job, ingest_job, compare_job, as_laid_job],
    schedules=[weekly_refresh],
    sensors=[build_partitions_sensor(SETTINGS), build_scenario_sensor(corridor_job, SETTINGS)],
    # One process by default: the steps are short and share large imports; a process per step costs more than it
    # saves on two cores. CORRIDOR_EXECUTOR=multiprocess (the team profile) or a run's config selects the
    # multiprocess executor; a team parallelises across partitions through the queued run coordinator.
    executor=build_corridor_executor(EXECUTOR_MODE),
    resources={
        "settings": SETTINGS,
        "io_manager": CorridorIOManager(base_dir=SETTINGS.store_dir),
        # Sweeps run serially unless CORRIDOR_DASK_SCHEDULER names a dask scheduler.
        "dask": DaskResource(scheduler_address=SETTINGS.dask_scheduler),
    },
)
