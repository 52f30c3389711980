"""Benchmark (issue #14): vector tiles of a large SYNTHETIC hazard inventory, GDAL's MVT writer against tippecanoe,
zooms 0-12, in one run.

    .venv/bin/python benchmarks/vector_tiles.py                          # 50 k points, 3.5 M line vertices
    .venv/bin/python benchmarks/vector_tiles.py --points 100000          # a larger point inventory
    .venv/bin/python benchmarks/vector_tiles.py --points 5000 --vertices 200000 --max-zoom 10   # a quick look

The inventory is SYNTHETIC (seeded, ``--seed``): ``--points`` hazard points scattered over the default scenario's
area (48.5-52.5 E, 40-44.5 N) cycling through five kinds, and ``--lines`` long lines (pipelines, cables, lanes) as
seeded random walks across the area densified to ``--vertices`` vertices in all, the way a user's densified
inventory arrives. Both layers go through :func:`geodata.publish.tiles.write_vector_tiles` as the publication
calls it, once with ``engine="gdal"`` (pyogrio's PMTiles driver, one archive per layer, merged) and once with
``engine="tippecanoe"`` (the dense points may be thinned where a tile grows too big, the lines keep every feature),
each in a fresh subprocess. Printed per engine: wall seconds, CPU seconds of the process and its children
(tippecanoe is a child), peak resident memory of the process and of its largest child, tiles and archive size,
the features of each layer decoded from the max-zoom tiles over the area's centre, and the wall-time ratio. It is a
benchmark, not a test: nothing fails, it prints.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AREA = (48.5, 40.0, 52.5, 44.5)
KINDS = ("earthquake", "platform", "well", "mud_volcano", "wreck")


def synthetic_inventory(points: int, lines: int, vertices: int, seed: int) -> dict[str, Any]:
    """The SYNTHETIC inventory: a point layer and a line layer in EPSG:4326."""
    import geopandas as gpd
    import numpy as np
    from shapely import linestrings
    from shapely import points as make_points

    rng = np.random.default_rng(seed)
    w, s, e, n = AREA
    lon = rng.uniform(w, e, points)
    lat = rng.uniform(s, n, points)
    pts = gpd.GeoDataFrame(
        {
            "kind": [KINDS[i % len(KINDS)] for i in range(points)],
            "name": [f"synthetic hazard {i}" for i in range(points)],
            "buffer_m": rng.uniform(100, 2000, points).round(0),
            "synthetic": True,
        },
        geometry=make_points(lon, lat),
        crs="EPSG:4326",
    )
    per = max(2, vertices // max(lines, 1))
    geoms = []
    for _ in range(lines):
        start = np.array([rng.uniform(w, e), rng.uniform(s, n)])
        heading = rng.uniform(0, 2 * np.pi)
        turns = np.cumsum(rng.normal(0, 0.02, per))
        step = 3.0 / per  # about 3 degrees of line, densified to `per` vertices
        xy = start + np.cumsum(np.c_[np.cos(heading + turns), np.sin(heading + turns)] * step, axis=0)
        xy[:, 0] = np.clip(xy[:, 0], w, e)
        xy[:, 1] = np.clip(xy[:, 1], s, n)
        geoms.append(xy)
    lns = gpd.GeoDataFrame(
        {"kind": [("pipeline", "cable", "shipping_lane")[i % 3] for i in range(lines)], "synthetic": True},
        geometry=linestrings(geoms),
        crs="EPSG:4326",
    )
    return {"hazards_points": pts, "hazards_lines": lns}


def _peak_child_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def child(args: argparse.Namespace) -> None:
    from geodata.publish import tiles

    layers = synthetic_inventory(args.points, args.lines, args.vertices, args.seed)
    with tempfile.TemporaryDirectory(prefix="vt-bench-") as tmp:
        out = Path(tmp) / "hazards.pmtiles"
        t0, c0 = time.perf_counter(), time.process_time()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        info = tiles.write_vector_tiles(layers, out, min_zoom=0, max_zoom=args.max_zoom, engine=args.engine)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        counts = _centre_counts(out, args.max_zoom)
        print(
            json.dumps(
                {
                    "engine": args.engine,
                    "wall_s": wall,
                    "cpu_s": cpu + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                    "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    "child_peak_kb": _peak_child_kb(),
                    "tiles": info.tile_count,
                    "size_mb": info.size_bytes / 1e6,
                    "centre_features": counts,
                    "vertices": int(sum(len(g.coords) for g in layers["hazards_lines"].geometry)),
                }
            )
        )


def _centre_counts(path: Path, zoom: int) -> dict[str, int]:
    """Distinct features per layer (by attributes) that GDAL decodes from the max-zoom tiles over a 0.1-degree box
    at the area's centre (the same for both engines when neither dropped any)."""
    import pyogrio
    from pyproj import Transformer

    lon, lat = (AREA[0] + AREA[2]) / 2, (AREA[1] + AREA[3]) / 2
    merc = Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, x1), (y0, y1) = merc.transform([lon - 0.05, lon + 0.05], [lat - 0.05, lat + 0.05])
    box = (x0, y0, x1, y1)  # GDAL reads vector tiles in web mercator
    out = {}
    for layer, _ in pyogrio.list_layers(path):
        gdf = pyogrio.read_dataframe(path, layer=layer, bbox=box, read_geometry=False, ZOOM_LEVEL=str(zoom))
        out[str(layer)] = len(gdf.drop(columns=["mvt_id"], errors="ignore").drop_duplicates())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--vertices", type=int, default=3_500_000)
    parser.add_argument("--max-zoom", type=int, default=12)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--engines", default="tippecanoe,gdal")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(
        f"vector tiles benchmark: SYNTHETIC inventory of {args.points} points and {args.lines} lines "
        f"({args.vertices / 1e6:.1f} M vertices), zooms 0-{args.max_zoom}, seed {args.seed}"
    )
    rows = []
    for engine in args.engines.split(","):
        command = [sys.executable, __file__, "--child", "--engine", engine, "--points", str(args.points),
                   "--lines", str(args.lines), "--vertices", str(args.vertices), "--max-zoom", str(args.max_zoom),
                   "--seed", str(args.seed)]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            print(f"{engine}: failed\n{run.stderr[-3000:]}")
            continue
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(
        f"{'engine':<11} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'child MB':>9} {'tiles':>7} {'MB':>7}  "
        "features in the centre z-max tile"
    )
    for r in rows:
        print(
            f"{r['engine']:<11} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['peak_kb'] / 1024:8.0f} "
            f"{r['child_peak_kb'] / 1024:9.0f} {r['tiles']:7d} {r['size_mb']:7.1f}  {r['centre_features']}"
        )
    by = {r["engine"]: r for r in rows}
    if "gdal" in by and "tippecanoe" in by:
        print(
            f"GDAL / tippecanoe: {by['gdal']['wall_s'] / by['tippecanoe']['wall_s']:.1f}x wall, "
            f"{by['gdal']['cpu_s'] / by['tippecanoe']['cpu_s']:.1f}x CPU ({rows[0]['vertices'] / 1e6:.2f} M vertices)"
        )


if __name__ == "__main__":
    main()
