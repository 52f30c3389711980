"""Benchmark (issue #14): the raster tiles of the publication (bathymetry with its hillshade, cost, Monte Carlo
share), this worktree's :mod:`geodata.publish.tiles` against a reference revision's (default ``main``), in one run.

    .venv/bin/python benchmarks/raster_tiles.py --rasters /tmp/run/rasters            # depth.tif, cost.tif, freq.tif
    .venv/bin/python benchmarks/raster_tiles.py --content /tmp/pub/c100.pkl           # a captured PublicationContent
    .venv/bin/python benchmarks/raster_tiles.py --rasters DIR --reference e53687d --repeat 2

The inputs are the three rasters as the publication tiles them: GeoTIFFs ``depth.tif``, ``cost.tif`` and
``freq.tif`` in ``--rasters``, or built from a pickled ``PublicationContent`` (``--content``) with
``geodata.publish.compose``'s ``coast_reconciled_depth_file``, ``cost_total_file`` and ``frequency_file``. Each
implementation runs in a fresh subprocess: imports excluded and numba's thread pool started before the clock (as
the pipeline's earlier stages have started it), first calls included (the compiled kernels load from numba's
cache); ``render_file`` then ``write_raster_archives`` per raster as ``compose.write_all_tile_archives`` calls
them, reference and candidate alternating ``--repeat`` times. The reference is the ``tiles.py`` of
``--reference`` read with ``git show`` and imported as a module of its own. Printed per implementation and raster:
wall and CPU seconds (the process's, every thread), tiles and archive size; then peak RSS, the CPU and wall ratios,
and whether both wrote the same tiles (zoom range and tile keys) with the largest colour and alpha differences.
It is a benchmark, not a test: nothing fails, it prints.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import pickle
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

RASTERS = (("bathymetry", "depth"), ("cost", "cost"), ("share", "freq"))


def _load_tiles(source: str) -> Any:
    """``geodata.publish.tiles`` of this worktree (``source`` empty) or the file ``source`` as a module."""
    if not source:
        from geodata.publish import tiles

        return tiles
    spec = importlib.util.spec_from_file_location("reference_tiles", source)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reference_tiles"] = module
    spec.loader.exec_module(module)
    return module


def _start_numba_threads() -> None:
    """Start numba's thread pool (about 0.35 s, once per process) before the clock starts, for both implementations:
    in a pipeline run the earlier stages' parallel kernels (cost, hazards) have started it before publishing."""
    import numba
    import numpy as np

    @numba.njit(parallel=True)
    def total(a: np.ndarray) -> float:
        s = 0.0
        for i in numba.prange(a.size):
            s += a[i]
        return s

    total(np.ones(16))


def _child(source: str, rasters: Path, out: Path, budget: int | None) -> None:
    """Run one implementation over the three rasters; print a JSON line of its figures."""
    import warnings

    warnings.simplefilter("ignore")
    from geodata.grid import RasterFile

    tiles = _load_tiles(source)
    out.mkdir(parents=True, exist_ok=True)
    _start_numba_threads()
    rows = []
    t_all, c_all = time.perf_counter(), time.process_time()
    for kind, name in RASTERS:
        src = RasterFile.open(rasters / f"{name}.tif")
        t0, c0 = time.perf_counter(), time.process_time()
        rendered = tiles.render_file(kind, src, out / f"{name}.render", budget_bytes=budget)
        infos = tiles.write_raster_archives(
            rendered, {"pmtiles": out / f"{name}.pmtiles"}, min_zoom=4, name=name, budget_bytes=budget
        )
        Path(rendered.path).unlink()
        info = infos["pmtiles"]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        zooms = [info.min_zoom, info.max_zoom]
        rows.append({"raster": name, "wall": wall, "cpu": cpu, "zooms": zooms, "tiles": info.tile_count,
                     "bytes": info.size_bytes})  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    total = {"wall": time.perf_counter() - t_all, "cpu": time.process_time() - c_all, "peak_gb": peak}
    print(json.dumps({"rows": rows, "total": total}))


def _compare(ref: Path, new: Path) -> list[str]:
    import numpy as np
    from PIL import Image
    from pmtiles.reader import MmapSource, all_tiles

    def load(path: Path) -> dict[tuple[int, int, int], bytes]:
        with open(path, "rb") as fh:
            return {(z, x, y): data for (z, x, y), data in all_tiles(MmapSource(fh))}

    lines = []
    for _, name in RASTERS:
        a, b = load(ref / f"{name}.pmtiles"), load(new / f"{name}.pmtiles")
        colour, alpha = 0, 0
        colours = []
        for key in sorted(set(a) & set(b)):
            x = np.asarray(Image.open(io.BytesIO(a[key])).convert("RGBA")).astype(int)
            y = np.asarray(Image.open(io.BytesIO(b[key])).convert("RGBA")).astype(int)
            full = (x[..., 3] == x[..., 3].max()) & (y[..., 3] == x[..., 3].max()) & (x[..., 3] > 0)
            if full.any():
                colours.append(np.abs(x - y)[full][:, :3].ravel())
            alpha = max(alpha, int(np.abs(x[..., 3] - y[..., 3]).max()))
        diffs = np.concatenate(colours) if colours else np.zeros(1, dtype=int)
        colour = int(diffs.max())
        lines.append(
            f"  {name:6s} same tile keys: {set(a) == set(b)} ({len(a)} / {len(b)}); colour |diff| where both are "
            f"fully opaque: mean {diffs.mean():.3f}, 99.9th percentile {np.percentile(diffs, 99.9):.0f}, max "
            f"{colour}; alpha |diff| max {alpha} (edges)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasters", type=Path, help="folder with depth.tif, cost.tif, freq.tif")
    parser.add_argument("--content", type=Path, help="a pickled PublicationContent to build the rasters from")
    parser.add_argument("--reference", default="main", help="git revision of the reference tiles.py (main)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--budget-bytes", type=int, default=None, help="memory budget (default: the content's)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        source, rasters, out = args.child
        _child(source, Path(rasters), Path(out), args.budget_bytes)
        return
    if (args.rasters is None) == (args.content is None):
        parser.error("pass exactly one of --rasters and --content")
    with tempfile.TemporaryDirectory(prefix="raster-tiles-bench-") as tmp:
        work = Path(tmp)
        budget = args.budget_bytes
        if args.content is not None:
            from geodata.publish import compose

            with open(args.content, "rb") as fh:
                content = pickle.load(fh)  # noqa: S301 (the user's own capture)
            budget = budget or content.memory_budget_bytes
            rasters = work / "rasters"
            rasters.mkdir()
            compose.coast_reconciled_depth_file(content.bathymetry, content.sea_mask, rasters / "depth.tif",
                                                budget_bytes=budget)  # fmt: skip
            compose.cost_total_file(content.cost, rasters / "cost.tif", budget_bytes=budget)
            compose.frequency_file(content.montecarlo.frequency, rasters / "freq.tif", budget_bytes=budget)
        else:
            rasters = args.rasters
        reference = work / "reference_tiles.py"
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{args.reference}:geodata/publish/tiles.py"],  # noqa: S607
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        reference.write_text(shown.stdout, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        results: dict[str, list[dict[str, Any]]] = {"reference": [], "candidate": []}
        for i in range(args.repeat):
            for label, source in (("reference", str(reference)), ("candidate", "")):
                command = [sys.executable, __file__, "--child", source, str(rasters), str(work / label)]
                if budget is not None:
                    command += ["--budget-bytes", str(budget)]
                done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                results[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"run {i + 1} {label}: {results[label][-1]['total']['wall']:.2f} s wall", flush=True)
        print(f"\nraster tiles, reference {args.reference} against this worktree ({ROOT.name}), "
              f"{os.cpu_count()} CPUs, {args.repeat} run(s) each, best run shown")  # fmt: skip
        best = {k: min(v, key=lambda r: r["total"]["cpu"]) for k, v in results.items()}
        print("| raster | reference wall / CPU s | candidate wall / CPU s | zooms | tiles | MB ref / new |")
        print("|---|---:|---:|---|---:|---:|")
        for ref_row, new_row in zip(best["reference"]["rows"], best["candidate"]["rows"], strict=True):
            print(f"| {ref_row['raster']} | {ref_row['wall']:.2f} / {ref_row['cpu']:.2f} | "
                  f"{new_row['wall']:.2f} / {new_row['cpu']:.2f} | {new_row['zooms'][0]}-{new_row['zooms'][1]} | "
                  f"{new_row['tiles']} | {ref_row['bytes'] / 1e6:.1f} / {new_row['bytes'] / 1e6:.1f} |")  # fmt: skip
        ref_t, new_t = best["reference"]["total"], best["candidate"]["total"]
        print(f"| total | {ref_t['wall']:.2f} / {ref_t['cpu']:.2f} | {new_t['wall']:.2f} / {new_t['cpu']:.2f} | | | |")
        ratios = f"CPU ratio reference / candidate: {ref_t['cpu'] / new_t['cpu']:.2f}x; "
        ratios += f"wall ratio {ref_t['wall'] / new_t['wall']:.2f}x; "
        print(ratios + f"peak RSS {ref_t['peak_gb']:.2f} / {new_t['peak_gb']:.2f} GB")
        for line in _compare(work / "reference", work / "candidate"):
            print(line)


if __name__ == "__main__":
    main()
