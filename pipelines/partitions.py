"""The scenario partitions: one dynamic partition per scenario file, kept in the Dagster instance.

The partition keys live in the instance (SQLite by default, PostgreSQL in the team profile), not in the code, so a
scenario file dropped into ``CORRIDOR_SCENARIOS`` becomes a partition without a code change or a restart:

- ``scenario_partitions_sensor`` (``pipelines/sensors.py``; running by default, every 30 s under ``dagster dev``
  or ``dagster-daemon``) adds a partition for every valid scenario file and deletes the partition of a file that was
  removed; a deleted partition's store and publications are left as they are;
- ``python -m pipelines.check NAME`` (``make run``) validates the scenario and registers its partition in the instance
  at ``DAGSTER_HOME``, so ``dagster asset materialize --partition NAME`` finds it;
- :func:`scenario_instance` gives an in-process materialisation (``dg.materialize``) an ephemeral instance holding the
  partitions it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from assets.config import PARTITIONS, CorridorSettings
from geodata.errors import ConfigError
from geodata.scenario import scenario_names


@dataclass(frozen=True)
class PartitionSync:
    """What the scenario folder asks of the instance's partitions: keys to add and delete, and invalid files skipped
    (with the validation error) that are neither added nor, when already registered, deleted."""

    add: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def requests(self) -> list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]:
        out: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        if self.add:
            out.append(PARTITIONS.build_add_request(self.add))
        if self.delete:
            out.append(PARTITIONS.build_delete_request(self.delete))
        return out


def partition_sync(instance: dg.DagsterInstance, settings: CorridorSettings) -> PartitionSync:
    """Compare the scenario files (packaged and ``settings.scenarios``) with the partitions registered in
    ``instance``."""
    registered = set(registered_scenarios(instance))
    names = scenario_names(folder=settings.scenarios)
    add, skipped = [], []
    for name in names:
        if name in registered:
            continue
        try:
            settings.scenario(name)
        except ConfigError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        add.append(name)
    delete = sorted(registered - set(names))
    return PartitionSync(add=add, delete=delete, skipped=skipped)


def registered_scenarios(instance: dg.DagsterInstance) -> list[str]:
    """The scenario partitions registered in ``instance``."""
    return list(instance.get_dynamic_partitions(partitions_def_name=_name()))


def register_scenarios(instance: dg.DagsterInstance, names: list[str]) -> list[str]:
    """Register ``names`` as scenario partitions in ``instance``; returns those that were not registered yet."""
    new = [n for n in names if not instance.has_dynamic_partition(_name(), n)]
    if new:
        instance.add_dynamic_partitions(_name(), new)
    return new


def scenario_instance(*names: str) -> dg.DagsterInstance:
    """An ephemeral instance with ``names`` registered as scenario partitions, for ``dg.materialize(...,
    instance=...)``."""
    instance = dg.DagsterInstance.ephemeral()
    register_scenarios(instance, list(names))
    return instance


def _name() -> str:
    if PARTITIONS.name is None:  # pragma: no cover - assets.config always names it
        raise ConfigError("the scenario partitions definition has no name; name it in assets/config.py")
    return PARTITIONS.name
