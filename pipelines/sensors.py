"""Sensors: keep the scenario partitions in step with the scenario files, and rerun a scenario when its file changes.

``scenario_partitions_sensor`` (running by default) adds a partition for every new valid scenario file and deletes the
partition of a removed one (its store and publications stay); see ``pipelines/partitions.py``.

``scenario_change_sensor`` (stopped by default) keeps each scenario's digest (sha256 of its validated content) in its
cursor. A changed or new scenario requests a run of the whole graph for that partition, registering the partition in
the same evaluation when it is new; an invalid scenario file is skipped with the validation error as the reason.
"""

from __future__ import annotations

import json

import dagster as dg

from assets.config import PARTITIONS, CorridorSettings
from geodata.errors import ConfigError
from geodata.scenario import scenario_names
from pipelines.partitions import partition_sync, registered_scenarios


def build_partitions_sensor(settings: CorridorSettings) -> dg.SensorDefinition:
    @dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
    def scenario_partitions_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Keep one partition per valid scenario file: add new files, delete removed ones (their outputs stay)."""
        sync = partition_sync(context.instance, settings)
        if sync.add or sync.delete:
            return dg.SensorResult(dynamic_partitions_requests=sync.requests())
        reason = "; ".join(sync.skipped) if sync.skipped else "the partitions match the scenario files"
        return dg.SensorResult(skip_reason=reason)

    return scenario_partitions_sensor


def build_scenario_sensor(job: dg.UnresolvedAssetJobDefinition, settings: CorridorSettings) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def scenario_change_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Request a run for every scenario whose validated content changed since the last evaluation."""
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        registered = set(registered_scenarios(context.instance))
        requests, new, skipped = [], [], []
        for name in scenario_names(folder=settings.scenarios):
            try:
                digest = settings.scenario(name).digest()
            except ConfigError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            if seen.get(name) != digest:
                requests.append(dg.RunRequest(run_key=f"{name}:{digest[:16]}", partition_key=name))
                seen[name] = digest
                if name not in registered:
                    new.append(name)
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[PARTITIONS.build_add_request(new)] if new else [],
            cursor=json.dumps(seen, sort_keys=True),
            skip_reason="; ".join(skipped) if skipped and not requests else None,
        )

    return scenario_change_sensor
