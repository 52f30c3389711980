"""Sensors: rerun a scenario when its file changes.

The cursor holds each scenario's digest (sha256 of its validated content). A changed or new scenario requests a run
of the whole graph for that partition; an invalid scenario file is skipped with the validation error as the reason.
"""

from __future__ import annotations

import json

import dagster as dg

from assets.config import CorridorSettings
from geodata.errors import ConfigError
from geodata.scenario import scenario_names


def build_scenario_sensor(job: dg.UnresolvedAssetJobDefinition, settings: CorridorSettings) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def scenario_change_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Request a run for every scenario whose validated content changed since the last evaluation."""
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        requests, skipped = [], []
        for name in scenario_names(folder=settings.scenarios):
            try:
                digest = settings.scenario(name).digest()
            except ConfigError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            if seen.get(name) != digest:
                requests.append(dg.RunRequest(run_key=f"{name}:{digest[:16]}", partition_key=name))
                seen[name] = digest
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps(seen, sort_keys=True),
            skip_reason="; ".join(skipped) if skipped and not requests else None,
        )

    return scenario_change_sensor
