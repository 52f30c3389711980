"""The IO manager that hands intermediate results between assets, one folder per scenario partition, scenario
snapshot and asset: ``<store>/<partition>/<snapshot digest>/<asset>/``.

Every value is written in the open, inert format of :mod:`pipelines.store` (JSON plus GeoParquet, Parquet,
GeoTIFF, .npy and raw bytes) and validated before it is read back; nothing is pickled or unpickled, so write access
to ``CORRIDOR_STORE`` does not mean running code as the pipeline. The store may be a local folder or any fsspec
location (``base_dir="memory://corridor/store"``, ``s3://bucket/store``; :func:`assets.config.store_location`), so
that steps on other machines read the same values (ARCHITECTURE.md, "Shared stores").

Values are keyed by the digest of the run's scenario snapshot (:func:`assets.common.run_snapshot`: the scenario's
content and every user file's sha256, taken once per run), not by the scenario name: two runs of one scenario name
from different scenario folders, or with the file edited between them, use different folders, so they cannot mix and
both complete. A re-execution from failure continues its parent run's snapshot and so finds the parent's values. A
value the run's snapshot has not built is refused with a named error: :class:`~pipelines.store.StaleValueError` when
the asset is stored for another snapshot of the scenario, :class:`~pipelines.store.StoreMissingError` otherwise
(both say to rematerialise the asset). Values of the older layouts (``<partition>/<asset>/``,
``<partition>/<asset>.pickle|.tif``) are never read.
"""

from __future__ import annotations

import functools
import threading
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from assets.common import DEFERRED, Deferred, run_snapshot
from assets.config import ENVIRONMENT, SETTINGS, CorridorSettings, store_location
from geodata.errors import ConfigError
from geodata.sources.snapshot import ScenarioSnapshot
from pipelines import store
from pipelines.store import StaleValueError, StoreError, StoreMissingError

LEGACY_SUFFIXES = (".pickle", ".tif")
"""Files of the pickle layout (``<partition>/<asset>.pickle|.tif``): removed on write, never read."""


@functools.cache
def _package_version() -> str | None:
    """The installed package's version (read once: a metadata lookup scans the environment's distributions)."""
    try:
        return importlib_metadata.version("caspian-corridor")
    except importlib_metadata.PackageNotFoundError:
        return None


_PRUNING = threading.Lock()
"""Held while a step prunes old snapshot folders: one step at a time prunes, the others then see the new folder."""


class CorridorIOManager(dg.ConfigurableIOManager):
    """Store asset values under ``<base_dir>/<partition>/<snapshot digest>/<asset key>/value.json`` plus sidecars.

    ``base_dir`` is the store (``CORRIDOR_STORE``); the runs' scenario snapshots live in it too
    (``<base_dir>/<partition>/runs/<run id>.json``). ``scenarios_dir`` is the analyst's scenario folder a snapshot
    is taken from when the IO manager needs one before any step of the run has taken it (default: the code
    location's ``CORRIDOR_SCENARIOS``). A step whose ``settings`` resource names another store or scenario folder
    is refused (:class:`~geodata.errors.ConfigError`): the run's snapshot and its values must be in one place.
    """

    base_dir: str = ".corridor_store"
    scenarios_dir: str | None = None

    # What each step loaded, to record as the upstream of what it writes: (run_id, step_key) -> asset -> header.
    _loaded: dict[tuple[str, str], dict[str, dict[str, Any]]] = PrivateAttr(default_factory=dict)
    _settings: CorridorSettings | None = PrivateAttr(default=None)

    # -- locations ----------------------------------------------------------------------------------------------
    @staticmethod
    def _partition(context: dg.OutputContext | dg.InputContext) -> str:
        return context.asset_partition_key if context.has_asset_partitions else "_unpartitioned"

    @staticmethod
    def _asset(context: dg.OutputContext | dg.InputContext) -> str:
        return "__".join(context.asset_key.path)

    @property
    def _root(self) -> store.Location:
        """The store: a local folder, or any fsspec location (``memory://...``, ``s3://...``; see
        :func:`assets.config.store_location`)."""
        return store_location(self.base_dir)

    def _own_settings(self) -> CorridorSettings:
        """The code location's settings with this IO manager's store and scenario folder (built once: every load
        and store asks, and a settings resource takes milliseconds to build)."""
        if self._settings is None:
            values = {f: getattr(SETTINGS, f) for f in ENVIRONMENT}
            values["store_dir"] = self.base_dir
            if self.scenarios_dir is not None:
                values["scenarios_dir"] = self.scenarios_dir
            self._settings = CorridorSettings(**values)
        return self._settings

    def _snapshot(self, context: dg.OutputContext | dg.InputContext) -> ScenarioSnapshot:
        """The scenario snapshot the run works on (taken now, without the pre-flight checks, when no step of the
        run has taken it yet: the run's first step with the settings runs them)."""
        step = context.step_context
        own = self._own_settings()
        settings = getattr(step.resources, "settings", None)
        if isinstance(settings, CorridorSettings):
            _same_places(settings, own)
            return run_snapshot(settings, self._partition(context), step.dagster_run)
        return run_snapshot(own, self._partition(context), step.dagster_run, checks=False)

    # -- write --------------------------------------------------------------------------------------------------
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        partition, asset = self._partition(context), self._asset(context)
        snap = self._snapshot(context)
        upstream = self._loaded.pop((context.run_id, context.step_key), {})
        spec = context.asset_spec if context.has_asset_key else None
        provenance = store.Provenance(
            asset=asset,
            partition=partition,
            scenario=snap.scenario.name,
            scenario_digest=snap.scenario.digest(),
            snapshot_digest=snap.digest,
            code_version=spec.code_version if spec is not None else None,
            package_version=_package_version(),
            run_id=context.run_id,
            upstream=upstream,
        )
        folder = store.value_dir(self._root, partition, asset, snapshot=snap.digest)
        if not folder.parent.exists():  # the first value of a new snapshot: drop the oldest unused ones
            with _PRUNING:  # steps side by side (pipelines/executors.py) may both see the new snapshot first
                if not folder.parent.exists():
                    store.prune_snapshots(self._root, partition)
        header = store.write_value(folder, obj, provenance)
        for suffix in LEGACY_SUFFIXES:
            (self._root / partition / f"{asset}{suffix}").unlink(missing_ok=True)
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        context.add_output_metadata(
            {
                "stored_at": dg.MetadataValue.path(str(folder.resolve() if isinstance(folder, Path) else folder)),
                "store_bytes": size,
                "value_digest": header["value_digest"],
                "snapshot_digest": snap.digest,
            }
        )

    # -- read ---------------------------------------------------------------------------------------------------
    def load_input(self, context: dg.InputContext) -> Any:
        if (context.definition_metadata or {}).get(next(iter(DEFERRED))):
            # read when the asset asks (assets.common.Deferred); a value never stored is refused now all the same
            partition, asset = self._partition(context), self._asset(context)
            snap = self._snapshot(context)
            folder = store.value_dir(self._root, partition, asset, snapshot=snap.digest)
            if not (folder / store.VALUE_FILE).is_file():
                raise self._missing(partition, asset, snap.digest, folder)
            return Deferred(lambda: self._load(context))
        return self._load(context)

    def _load(self, context: dg.InputContext) -> Any:
        partition, asset = self._partition(context), self._asset(context)
        step = context.step_context
        snap = self._snapshot(context)
        name, digest = snap.scenario.name, snap.scenario.digest()
        folder = store.value_dir(self._root, partition, asset, snapshot=snap.digest)
        try:
            stored = store.read_value(folder, asset=asset, partition=partition)
        except StoreMissingError as exc:
            raise self._missing(partition, asset, snap.digest, folder) from exc
        except StoreError as exc:
            raise type(exc)(f"{exc} [stored at {folder}; rematerialise {asset} for {partition}]") from exc
        store.check_scenario(stored, scenario=name, digest=digest, snapshot_digest=snap.digest)
        record = {k: stored.header[k] for k in ("value_digest", "run_id", "code_version", "scenario_digest")}
        self._loaded.setdefault((step.run_id, step.step.key), {})[asset] = record
        return stored.value

    def _missing(self, partition: str, asset: str, snapshot: str, folder: store.Location) -> StoreError:
        """The error for an asset this run's snapshot has not built: stale when another snapshot has it."""
        others = store.other_snapshots(self._root, partition, asset, snapshot=snapshot)
        legacy = store.legacy_values(self._root, partition, asset)
        hint = f" (only {legacy[0]} of an older store layout, which is never read)" if legacy else ""
        if others:
            shown = ", ".join(o[:12] for o in others[:5])
            return StaleValueError(
                f"no stored value for asset {asset} at {folder}: this run works on scenario snapshot {snapshot[:12]} "
                f"of {partition}, and {asset} is stored only for snapshot(s) {shown} (another version of the "
                f"scenario or of its user files){hint}; rematerialise {asset} for {partition}"
            )
        return StoreMissingError(
            f"no stored value for asset {asset} at {folder}{hint}; rematerialise {asset} for {partition}"
        )


def _same_places(settings: CorridorSettings, own: CorridorSettings) -> None:
    """:class:`ConfigError` unless the step's settings and the IO manager name the same store and scenario folder."""
    for what, a, b, var in (
        ("store", settings.store_root, own.store_root, "CORRIDOR_STORE"),
        ("scenario folder", settings.scenarios, own.scenarios, "CORRIDOR_SCENARIOS"),
    ):
        if _place(a) != _place(b):
            raise ConfigError(
                f"the settings resource names the {what} {a} but the IO manager {b}: a run's scenario snapshot and "
                f"its values must be in one place; set the IO manager's base_dir/scenarios_dir to the settings' "
                f"store_dir/scenarios_dir (both come from {var} in pipelines/definitions.py)"
            )


def _place(location: Path | store.Location | None) -> str | None:
    """A comparable name of a folder or store location (local paths resolved, fsspec URLs as written)."""
    if location is None:
        return None
    return str(location.resolve()) if isinstance(location, Path) else str(location)
