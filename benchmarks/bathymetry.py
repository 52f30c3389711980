"""Benchmark (issue #14): the bathymetry stage's assets (``bathymetry``, ``seabed_slope``, ``sea_mask``) of the default
scenario at several resolutions, each asset materialised in a fresh process on the store the previous one wrote.

    .venv/bin/python benchmarks/bathymetry.py                        # 1000 and 250 m
    .venv/bin/python benchmarks/bathymetry.py --resolutions 100      # one 100 m case (about 1 GB; watchdog 10 GB)
    .venv/bin/python benchmarks/bathymetry.py --profile sea_mask     # cProfile's top lines of that asset's process

Per asset: wall seconds of the step (Dagster's step duration, including loading its inputs and storing its output),
the CPU seconds of the process's materialisation (the step plus Dagster's own overhead, about half a second: the
figure to compare on a shared machine), the process's peak resident memory (``VmHWM``) and its increase over the
resident set once the libraries are imported (``peak extra``), in bytes per grid cell. ``coastline`` runs first,
in a process of its own (it is an input of ``sea_mask``), and is not reported. Each process is killed above
``--watchdog-gb`` of resident memory. This is a benchmark, not a timed test: nothing fails, it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCENARIO = "siyazan-aktau"
STEPS = (("coastline",), ("bathymetry",), ("seabed_slope",), ("sea_mask",))


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def child(args: argparse.Namespace) -> None:
    """Materialise ``args.assets`` (comma-separated) of the scenario in ``args.workdir`` and print a JSON line."""
    from dagster._core.events import StepSuccessData

    import pipelines.definitions  # noqa: F401 (the code location loaded before the memory baseline)
    from pipelines.runner import folder_settings, materialize_scenario

    work = Path(args.workdir)
    name = f"{SCENARIO}-{args.resolution:g}".replace(".", "_")
    settings = folder_settings(
        work,
        mirror=os.environ.get("CORRIDOR_MIRROR", "/work/shared/geodata-mirror"),
        scenarios_dir=str(work / "scenarios"),
    )
    wanted = args.assets.split(",")
    Path("/proc/self/clear_refs").write_text("5")
    base = _status("VmRSS")
    profiler = None
    if args.profile and args.profile in wanted:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu = time.process_time()
    result = materialize_scenario(name, settings, selection=wanted)
    cpu = time.process_time() - cpu
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats("geodata|rasterio|assets|pyproj", 25)
        sys.stderr.write(out.getvalue())
    steps: dict[str, float] = {}
    for e in result.all_events:
        data = e.event_specific_data
        if e.event_type_value == "STEP_SUCCESS" and e.step_key and isinstance(data, StepSuccessData):
            steps[e.step_key] = data.duration_ms / 1000.0
    print(json.dumps({"steps": steps, "cpu": cpu, "peak": _status("VmHWM"), "base": base}))


def _watch(proc: subprocess.Popen[str], limit: int) -> None:
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            rss = next(int(x.split()[1]) * 1024 for x in status.read_text().splitlines() if x.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return
        if rss > limit:
            proc.kill()
            print(f"watchdog: killed pid {proc.pid} at {rss / 1e9:.1f} GB", file=sys.stderr)
            return
        time.sleep(0.2)


def run_case(resolution: float, work: Path, profile: str | None, watchdog_gb: float) -> list[dict[str, Any]]:
    import yaml

    scenarios = work / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    src = ROOT / "geodata" / "data" / "scenarios" / f"{SCENARIO}.yaml"
    doc = yaml.safe_load(src.read_text())
    name = f"{SCENARIO}-{resolution:g}".replace(".", "_")
    doc["name"] = name
    doc.setdefault("analysis", {})["resolution_m"] = resolution
    (scenarios / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    for assets in STEPS:
        cmd = [sys.executable, __file__, "--child", "--workdir", str(work), "--resolution", str(resolution)]
        cmd += ["--assets", ",".join(assets)] + (["--profile", profile] if profile else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        watcher = threading.Thread(target=_watch, args=(proc, int(watchdog_gb * 1e9)), daemon=True)
        watcher.start()
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{assets} failed at {resolution} m (exit {proc.returncode})")
        rec = json.loads(out.strip().splitlines()[-1])
        for asset in assets:
            if asset == "coastline":
                continue
            step = rec["steps"].get(asset, float("nan"))
            extra = rec["peak"] - rec["base"]
            rows.append({"asset": asset, "wall_s": step, "cpu_s": rec["cpu"], "peak": rec["peak"], "extra": extra})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolutions", default="1000,250", help="comma-separated cell sizes in metres")
    p.add_argument("--profile", default=None, help="print cProfile's top lines of this asset's process")
    p.add_argument("--watchdog-gb", type=float, default=10.0)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--resolution", type=float, help=argparse.SUPPRESS)
    p.add_argument("--assets", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    from geodata.bathymetry import analysis_grid
    from geodata.scenario import load_scenario

    sc = load_scenario(SCENARIO)
    head = f"{'res m':>6} {'cells':>8} {'asset':<14} {'wall s':>7} {'cpu s':>6} {'peak GB':>8} {'extra GB':>9}"
    print(head + f" {'extra B/cell':>13}")
    for res in (float(r) for r in args.resolutions.split(",")):
        cells = analysis_grid(sc.area_of_interest.bounds, sc.analysis_crs(), res).cell_count
        with tempfile.TemporaryDirectory(prefix="bench-bathy-") as tmp:
            rows = run_case(res, Path(tmp), args.profile, args.watchdog_gb)
        for r in rows:
            print(
                f"{res:>6g} {cells / 1e6:>7.2f}M {r['asset']:<14} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} "
                f"{r['peak'] / 1e9:>8.2f} "
                f"{r['extra'] / 1e9:>9.2f} {r['extra'] / cells:>13.1f}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
