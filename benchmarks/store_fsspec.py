"""Intermediate-store benchmark (issue #11, shared storage): one value written and read back on a local folder (the
reference), the same folder as a ``file://`` URL, and fsspec's memory file system (the shared-store code path:
sidecars staged locally and uploaded, ``value.json`` committed by ``fs.mv``, rasters read through fsspec), in one run.

Usage::

    python benchmarks/store_fsspec.py                  # a 1000 x 1000 float32 raster, 10 frames, 20 arrays; 5 rounds
    python benchmarks/store_fsspec.py --cells 4000 --rounds 3

The value is SYNTHETIC (random numbers on a 1 km UTM grid). Each round writes the value, reads it back, reads the
raster whole and one 256-row window; CPU seconds (``time.process_time``, the machine is shared) per round are printed
for each location with the ratio to the local folder, rounds interleaved so that the load of the machine falls on
all three alike. The local and ``file://`` figures are the same code (a ``file://`` URL is a local path).
"""

from __future__ import annotations

import argparse
import math
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from upath import UPath

from geodata.grid import GeoGrid, Raster
from pipelines import store

PARTITION = "bench"
SNAPSHOT = "b" * 64


def synthetic_value(cells: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    grid = GeoGrid(CRS.from_epsg(32639), Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_700_000.0), (cells, cells))
    frames = [
        gpd.GeoDataFrame(
            {"kp": np.arange(500.0), "name": [f"p{i}" for i in range(500)]},
            geometry=shapely.points(rng.random((500, 2)) * 1e5),
            crs=32639,
        )
        for _ in range(10)
    ]
    return {
        "depth": Raster(rng.random((cells, cells)).astype("float32"), grid, math.nan, {"synthetic": True}),
        "frames": frames,
        "arrays": [rng.random(10_000) for _ in range(20)],
    }


def one_round(root: Any, value: dict[str, Any]) -> float:
    t0 = time.process_time()
    folder = store.value_dir(root, PARTITION, "thing", snapshot=SNAPSHOT)
    store.write_value(folder, value, store.Provenance("thing", PARTITION, PARTITION, "0" * 64))
    back = store.read_value(folder, asset="thing", partition=PARTITION).value
    back["depth"].read_rows(slice(0, 256))
    _ = back["depth"].data
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=1000, help="raster rows and columns (default 1000)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    value = synthetic_value(args.cells)
    with tempfile.TemporaryDirectory() as tmp:
        memory = UPath(f"memory://bench-{secrets.token_hex(4)}/store")
        roots: dict[str, Any] = {
            "local folder": Path(tmp) / "local",
            "file:// URL": f"file://{tmp}/url",
            "memory://": memory,
        }
        for root in roots.values():  # warm-up: imports, GDAL drivers, caches
            one_round(root, value)
        times: dict[str, list[float]] = {k: [] for k in roots}
        for _ in range(args.rounds):
            for k, root in roots.items():
                times[k].append(one_round(root, value))
        memory.fs.rm(memory.path, recursive=True)
    ref = statistics.median(times["local folder"])
    print(f"{args.cells} x {args.cells} float32 raster + 10 frames + 20 arrays, {args.rounds} rounds (CPU s, median)")
    for k, ts in times.items():
        print(f"  {k:14s} {statistics.median(ts):7.3f} s   x{statistics.median(ts) / ref:5.2f}")


if __name__ == "__main__":
    main()
