"""Profile (issue #14): the ``published_corridor`` step alone, on a store a full run of the scenario already built.

    CORRIDOR_STORE=... CORRIDOR_SCENARIOS=... CORRIDOR_OUTPUT=... CORRIDOR_MIRROR=... \\
        .venv/bin/python benchmarks/publish_profile.py siyazan-aktau-250 [--profile out.prof] [--top 25]

The step is materialised in this process with Dagster (selection: ``published_corridor``), so it loads its inputs
from the store the way a run does. Printed: the step's wall time, the process's peak resident memory during the step
(``VmHWM``, reset through ``/proc/self/clear_refs`` once Dagster and the libraries are loaded) and its increase over
the resident set before the step, the CPU time of the process and of its children (GDAL's validator,
tippecanoe; CPU time is the robust figure on a shared machine), bytes per cell of the scenario's grid, and with
``--profile`` the top functions by cumulative time (cProfile). It is a profile, not a test: nothing fails, it prints.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here and print the top functions")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dagster as dg

        from assets.config import SETTINGS
        from geodata.scenario import load_scenario
        from pipelines.partitions import scenario_instance
        from pipelines.runner import materialize_scenario

    sc = load_scenario(args.scenario, folder=SETTINGS.scenarios)
    instance = scenario_instance(args.scenario)
    Path("/proc/self/clear_refs").write_text("5")
    rss0 = _status_kb("VmRSS")
    prof = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if prof:
            prof.enable()
        materialize_scenario(
            args.scenario, SETTINGS, selection=dg.AssetSelection.assets("published_corridor"), instance=instance
        )
        if prof:
            prof.disable()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    kids = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    hwm = _status_kb("VmHWM")
    from geodata.bathymetry.mosaic import analysis_grid

    cells = analysis_grid(sc.area_of_interest.bounds, sc.analysis_crs(), sc.analysis.resolution_m).cell_count
    print(
        f"published_corridor {args.scenario}: {wall:.1f} s wall, {cpu:.1f} s CPU (+{kids:.1f} s in child processes), "
        f"peak RSS {hwm / 1e6:.2f} GB "
        f"(+{(hwm - rss0) / 1e6:.2f} GB over {rss0 / 1e6:.2f} GB before the step), {cells / 1e6:.2f} M cells, "
        f"{hwm * 1024 / cells:.0f} B/cell peak, {(hwm - rss0) * 1024 / cells:.0f} B/cell added"
    )
    if prof and args.profile:
        prof.dump_stats(args.profile)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
