"""Scenarios as Dagster partitions: one partition key per scenario file, so scenarios live side by side in the UI.

The keys are read when the code location loads: the packaged scenarios in ``geodata/data/scenarios/`` plus any in
the folder named by ``CORRIDOR_SCENARIOS``. Reload the code location after adding a scenario file.
"""

from __future__ import annotations

import dagster as dg

from geodata.scenario import scenario_names

scenario_partitions = dg.StaticPartitionsDefinition(scenario_names())
