"""The IO manager that hands intermediate results between assets, one folder per scenario partition.

Rasters are stored as GeoTIFF (open them in QGIS to see what an asset produced); everything else is pickled. Writes
are atomic (a temporary file renamed into place), so a killed run never leaves a half-written intermediate.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg

from geodata.grid import Raster


class CorridorIOManager(dg.ConfigurableIOManager):
    """Store asset values under ``<base_dir>/<partition>/<asset key>.(tif|pickle)``."""

    base_dir: str = ".corridor_store"

    def _path(self, context: dg.OutputContext | dg.InputContext, suffix: str) -> Path:
        partition = context.asset_partition_key if context.has_asset_partitions else "_unpartitioned"
        key = "__".join(context.asset_key.path)
        return Path(self.base_dir) / partition / f"{key}{suffix}"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        suffix, stale = (".tif", ".pickle") if isinstance(obj, Raster) else (".pickle", ".tif")
        path = self._path(context, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=f"{suffix}.part")
        os.close(fd)
        try:
            if isinstance(obj, Raster):
                obj.write(tmp)
            else:
                with open(tmp, "wb") as fh:
                    pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._remove(context, stale)
        context.add_output_metadata({"stored_at": dg.MetadataValue.path(str(path.resolve()))})

    def _remove(self, context: dg.OutputContext, suffix: str) -> None:
        stale = self._path(context, suffix)
        if stale.exists():
            stale.unlink()

    def load_input(self, context: dg.InputContext) -> Any:
        tif = self._path(context, ".tif")
        if tif.exists():
            return Raster.read(tif)
        pkl = self._path(context, ".pickle")
        if not pkl.exists():
            raise FileNotFoundError(
                f"no stored value for asset {context.asset_key.to_user_string()} at {pkl}; materialise it first"
            )
        with open(pkl, "rb") as fh:
            return pickle.load(fh)
