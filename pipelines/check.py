"""``python -m pipelines.check NAME``: validate a scenario by name before a run, so ``make run SCENARIO=...`` ends
with the scenario's own error (unknown names list the known ones) instead of a Dagster traceback. Exit status 2 on
an error; the scenario's title on success."""

from __future__ import annotations

import sys

from assets.config import SETTINGS
from geodata.errors import CorridorError


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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
