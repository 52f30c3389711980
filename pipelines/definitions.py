"""The one ``Definitions`` of the caspian-corridor code location: assets, checks, jobs, resources, IO manager,
schedules and sensors."""

from __future__ import annotations

import os

import dagster as dg

from assets import derive, ingest, publish
from pipelines.io_managers import CorridorIOManager
from pipelines.resources import settings_from_env
from pipelines.sensors import build_scenario_sensor

all_assets = dg.load_assets_from_modules([ingest, derive, publish])
all_checks = dg.load_asset_checks_from_modules([ingest, derive, publish])

corridor_job = dg.define_asset_job(
    "corridor_job",
    selection=dg.AssetSelection.all(),
    description="Ingest, derive and publish the corridor of one scenario (partition).",
)
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("ingest_bathymetry", "ingest_boundaries", "ingest_hazards"),
    description="Only the ingest stage: read, check and normalise the inputs of one scenario.",
)

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_default_scenario",
    job=corridor_job,
    cron_schedule="0 3 * * 1",
    execution_fn=lambda ctx: dg.RunRequest(partition_key="siyazan-aktau"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Rebuild the default scenario every Monday at 03:00 (picks up new mirror or cache data).",
)

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[corridor_job, ingest_job],
    schedules=[weekly_refresh],
    sensors=[build_scenario_sensor(corridor_job)],
    # One process: the steps are short and share large imports; a process per step costs more than it saves on
    # two cores. Analysts with many scenarios parallelise across partitions instead.
    executor=dg.in_process_executor,
    resources={
        "settings": settings_from_env(),
        "io_manager": CorridorIOManager(base_dir=os.environ.get("CORRIDOR_STORE", ".corridor_store")),
    },
)
