"""``python -m pipelines.check NAME``: validate a scenario by name before a run, so ``make run SCENARIO=...`` ends
with the scenario's own error (unknown names list the known ones) instead of a Dagster traceback, and register it as
a partition of the instance at ``DAGSTER_HOME`` (scenario partitions are dynamic: ``pipelines/partitions.py``), so
``dagster asset materialize --partition NAME`` accepts a scenario file added a moment ago.

Exit status 2 on an error; the scenario's title on success. Without ``DAGSTER_HOME`` the scenario is validated and
not registered (there is no instance to register it in)."""

from __future__ import annotations

import sys

import dagster as dg
from dagster._core.errors import DagsterHomeNotSetError

from assets.config import SETTINGS
from geodata.errors import CorridorError
from geodata.scenario import scenario_names
from pipelines.partitions import register_scenarios


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m pipelines.check SCENARIO", file=sys.stderr)
        return 2
    try:
        scenario = SETTINGS.scenario(argv[0])
    except CorridorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"scenario {scenario.name}: {scenario.title}")
    if scenario.name not in scenario_names(folder=SETTINGS.scenarios):
        print(f"not registered as a partition: {argv[0]} is a file outside the scenario folders", file=sys.stderr)
        return 0
    try:
        with dg.DagsterInstance.get() as instance:
            if register_scenarios(instance, [scenario.name]):
                print(f"partition {scenario.name} registered")
    except DagsterHomeNotSetError:
        print("not registered as a partition: DAGSTER_HOME is not set", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
