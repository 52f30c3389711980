"""The IO manager that hands intermediate results between assets, one folder per scenario partition and asset.

Every value is written in the open, inert format of :mod:`pipelines.store` (JSON plus GeoParquet, Parquet,
GeoTIFF, .npy and raw bytes) and validated before it is read back; nothing is pickled or unpickled, so write access
to ``CORRIDOR_STORE`` does not mean running code as the pipeline. Each value records the scenario digest it was
built for; loading it into a run whose scenario has since changed is refused
(:class:`~pipelines.store.StaleValueError`: rematerialise the asset for the scenario), and so is a value built from
other user files (another scenario snapshot digest, :mod:`geodata.sources.snapshot`).
"""

from __future__ import annotations

from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from assets.config import SETTINGS
from geodata.scenario import load_scenario
from geodata.sources.snapshot import ScenarioSnapshot
from pipelines import store
from pipelines.store import StoreError, StoreMissingError

LEGACY_SUFFIXES = (".pickle", ".tif")
"""Files of the previous store layout (``<partition>/<asset>.pickle|.tif``): removed on write, never read."""


def _package_version() -> str | None:
    try:
        return importlib_metadata.version("caspian-corridor")
    except importlib_metadata.PackageNotFoundError:
        return None


class CorridorIOManager(dg.ConfigurableIOManager):
    """Store asset values under ``<base_dir>/<partition>/<asset key>/value.json`` plus sidecar files.

    ``scenarios_dir`` is the analyst's scenario folder used to compute the current scenario digest of a partition
    (default: the code location's ``CORRIDOR_SCENARIOS``, as :class:`~assets.config.CorridorSettings` reads it).
    """

    base_dir: str = ".corridor_store"
    scenarios_dir: str | None = None

    # What each step loaded, to record as the upstream of what it writes: (run_id, step_key) -> asset -> header.
    _loaded: dict[tuple[str, str], dict[str, dict[str, Any]]] = PrivateAttr(default_factory=dict)
    _snapshots: dict[str, tuple[str, str, str | None]] = PrivateAttr(default_factory=dict)

    # -- locations ----------------------------------------------------------------------------------------------
    @staticmethod
    def _partition(context: dg.OutputContext | dg.InputContext) -> str:
        return context.asset_partition_key if context.has_asset_partitions else "_unpartitioned"

    @staticmethod
    def _asset(context: dg.OutputContext | dg.InputContext) -> str:
        return "__".join(context.asset_key.path)

    def _folder(self, context: dg.OutputContext | dg.InputContext) -> Path:
        return store.value_dir(Path(self.base_dir).expanduser(), self._partition(context), self._asset(context))

    def _current(self, partition: str, run_id: str) -> tuple[str, str, str | None]:
        """(scenario name, scenario digest, snapshot digest or None) of ``partition`` as run ``run_id`` sees it.

        The run's scenario snapshot (``<store>/<partition>/runs/<run id>.json``, taken by the run's first step, see
        :func:`assets.common.run_snapshot`) when it is there; otherwise the scenario file as it is now.
        """
        path = Path(self.base_dir).expanduser() / partition / "runs" / f"{run_id}.json"
        key = str(path)
        if key not in self._snapshots:
            if path.is_file():
                snap = ScenarioSnapshot.from_json(path.read_text(encoding="utf-8"), key)
                self._snapshots[key] = (snap.scenario.name, snap.scenario.digest(), snap.digest)
            else:
                folder = self.scenarios_dir if self.scenarios_dir is not None else SETTINGS.scenarios
                sc = load_scenario(partition, folder=folder or None)
                return sc.name, sc.digest(), None
        return self._snapshots[key]

    # -- write --------------------------------------------------------------------------------------------------
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        partition, asset = self._partition(context), self._asset(context)
        name, digest, snapshot = self._current(partition, context.run_id)
        upstream = self._loaded.pop((context.run_id, context.step_key), {})
        spec = context.asset_spec if context.has_asset_key else None
        provenance = store.Provenance(
            asset=asset,
            partition=partition,
            scenario=name,
            scenario_digest=digest,
            snapshot_digest=snapshot,
            code_version=spec.code_version if spec is not None else None,
            package_version=_package_version(),
            run_id=context.run_id,
            upstream=upstream,
        )
        folder = self._folder(context)
        header = store.write_value(folder, obj, provenance)
        for suffix in LEGACY_SUFFIXES:
            (folder.parent / f"{asset}{suffix}").unlink(missing_ok=True)
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        context.add_output_metadata(
            {
                "stored_at": dg.MetadataValue.path(str(folder.resolve())),
                "store_bytes": size,
                "value_digest": header["value_digest"],
            }
        )

    # -- read ---------------------------------------------------------------------------------------------------
    def load_input(self, context: dg.InputContext) -> Any:
        partition, asset = self._partition(context), self._asset(context)
        folder = self._folder(context)
        step = context.step_context
        name, digest, snapshot = self._current(partition, step.run_id)
        try:
            stored = store.read_value(folder, asset=asset, partition=partition)
        except StoreMissingError as exc:
            legacy = [folder.parent / f"{asset}{s}" for s in LEGACY_SUFFIXES]
            found = next((p for p in legacy if p.exists()), None)
            hint = f" (only {found} of the old pickle/GeoTIFF layout, which is never read)" if found else ""
            raise StoreMissingError(
                f"no stored value for asset {asset} at {folder}{hint}; rematerialise {asset} for {partition}"
            ) from exc
        except StoreError as exc:
            raise type(exc)(f"{exc} [stored at {folder}; rematerialise {asset} for {partition}]") from exc
        store.check_scenario(stored, scenario=name, digest=digest, snapshot_digest=snapshot)
        record = {k: stored.header[k] for k in ("value_digest", "run_id", "code_version", "scenario_digest")}
        self._loaded.setdefault((step.run_id, step.step.key), {})[asset] = record
        return stored.value
