"""Whole-pipeline benchmark (issue #14): the default scenario at several resolutions and the nested survey case,
each a ``corridor run`` through Dagster in a fresh process, with wall time and peak memory per stage.

Usage::

    python benchmarks/pipeline.py                              # 1000, 250, 100 and 50 m, then the nested case
    python benchmarks/pipeline.py --resolutions 1000,250 --no-nested
    python benchmarks/pipeline.py --rss-limit-gb 8             # watchdog: kill a case above 8 GB (default 10)
    python benchmarks/pipeline.py --baseline-tree /work/main   # also run the 1000 m case on another checkout
    python benchmarks/pipeline.py --json results.json          # the figures as JSON too

Each case is the default scenario (``siyazan-aktau``) with only ``analysis.resolution_m`` changed, written as a
scenario file ``bench-<res>m`` in the case's own folder (``CORRIDOR_SCENARIOS``), with its own ``DAGSTER_HOME``,
``CORRIDOR_STORE`` and ``CORRIDOR_OUTPUT`` (temporary, removed unless ``--keep``), the mirror of ``--mirror``
(default ``$CORRIDOR_MIRROR`` or ``/work/shared/geodata-mirror``). The nested case is built by
``benchmarks/nested_case.py`` (``build(workdir, survey_resolution_m, width_m) -> (scenario_dir, name)``: regional
1 km grid plus a synthetic survey grid in a corridor along the route) in a process of its own first.

The case's process runs :func:`pipelines.runner.run_scenario` exactly as ``corridor run`` / ``make run`` do (the
in-process executor, the store's IO manager, every asset check), with one more event listener on the instance.
Per step (asset) it records:

* wall time from Dagster's ``STEP_START`` to ``STEP_SUCCESS``, split into *load* (``STEP_START`` to the last
  ``LOADED_INPUT``: the IO manager reading the inputs), *store* (``STEP_OUTPUT`` to ``HANDLED_OUTPUT``: the IO
  manager writing the value) and the body (the rest);
* peak resident memory: the kernel's high-water mark (``VmHWM``) reset through ``/proc/self/clear_refs`` at each
  ``STEP_START`` when no other step runs, and read at the step's end, so a spike between two samples is not missed
  (with steps side by side a step's figure is the process's peak since the last moment no step ran: an upper bound);
  bytes per analysis-grid cell are this peak over the grid's cells (the issue's definition: 5.4 GB over 25 M
  cells = 220 B/cell).

The run's wall time is the one ``corridor run`` prints (``published ... in N s``: Dagster's execution of the job,
from run start to the last step; the import of the code location, timed apart, is not in it). Dagster's own time
between steps (run start, event handling, the asset checks outside the steps) is that less the steps' sum. It is
also given as a multiple of its own ``least_cost_route`` step, the reference measured in the same benchmark run:
the step of the same case run one step at a time (``--serial-resolutions``, default 100 m, printed as its own
case), because in a run with steps side by side (the executor's default: two at once) the route step may share the
cores with the steps beside it. (Timing the step again after the run was tried and dropped: in the same process it
is warm, about 1.1 s at 100 m against 2.2 s as a run's step, and in a fresh process it pays first-call costs the
run shares with earlier steps, 0.73 s at 1 km against 0.23 s.) The CPU seconds of each step (the process's
while the step ran: with steps beside it, theirs too, marked ``*``) and of the run (every thread, and the children
waited for) are printed too, with the run's CPU as a multiple of the route step's: on this shared machine the wall
ratio moves with the load far more. Each step's start offset and the steps beside it show the schedule. The
pre-flight estimate (:mod:`geodata.preflight`) of each case is printed beside the measured peak, and with two or
more resolutions each step's peak growth per cell (the pre-flight's ``STAGE_BYTES_PER_CELL``). The run's budget
(``CORRIDOR_MEMORY_BUDGET_GB``) is set above the watchdog's limit so the watchdog, not the estimate, decides.

A watchdog in this (parent) process reads the resident set of the case's process group every 0.2 s and kills the
group when it passes ``--rss-limit-gb``: the case is reported as *exceeded* with its steps up to then. Numba's
cache (``NUMBA_CACHE_DIR``, ``<tree>/.numba_cache`` for another tree) is shared by the cases, and a warm-up
process per tree compiles the routing kernels on a tiny grid first, so no case pays numba's compile time. The
machine is a shared 2-core VM: absolute times move by 10-20 % between runs (far more when other work loads it);
the ratios are what to read. It is a benchmark, not a timed test: it
prints PASS/FAIL per target of the issue and always exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = "/work/shared/geodata-mirror"
DEFAULT_RESOLUTIONS = (1000.0, 250.0, 100.0, 50.0)
REFINED_KEYS = ("refin", "coarse", "survey", "seam", "feather")
"""Substrings of materialisation metadata keys reported for the nested case (the refined against the coarse route)."""

TARGET_RATIO_100 = 15.0
TARGET_BPC_100 = 80.0
TARGET_GB_50 = 8.0
TARGET_GB_NESTED = 8.0


# ------------------------------------------------------------------------------------------------------------------
# the case's process
# ------------------------------------------------------------------------------------------------------------------
def _status(*keys: str) -> dict[str, int]:
    """Fields of /proc/self/status in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in keys:
                out[name] = int(rest.split()[0]) * 1024
    return out


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


class _StepRecorder:
    """An event listener on the run: per step its wall time split into load/body/store and its peak RSS, each
    finished step appended as one JSON line to ``out`` (flushed, so a killed case keeps what it did)."""

    def __init__(self, out: Path) -> None:
        import threading

        self.out = out
        self.lock = threading.Lock()  # steps side by side call the listener from their threads
        self.running: set[str] = set()
        self.steps: dict[str, dict[str, Any]] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.failed_checks: list[str] = []
        self.first_start: float | None = None
        self.last_end: float | None = None

    def __call__(self, entry: Any) -> None:
        with self.lock:
            self._record(entry)

    def _record(self, entry: Any) -> None:
        from dagster._core.events import DagsterEventType

        event = entry.dagster_event
        if event is None:
            return
        now = time.perf_counter()
        kind, step = event.event_type, event.step_key or ""
        if kind == DagsterEventType.STEP_START:
            self._started(step, now)
        elif kind == DagsterEventType.LOADED_INPUT and step in self.steps:
            self.steps[step]["loaded"] = now
        elif kind == DagsterEventType.STEP_OUTPUT and step in self.steps:
            self.steps[step]["output"] = now
        elif kind == DagsterEventType.HANDLED_OUTPUT and step in self.steps:
            rec = self.steps[step]
            rec["handled"] += now - (rec["output"] or now)
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            found = {
                k: str(getattr(v, "value", v))[:200]
                for k, v in mat.metadata.items()
                if any(s in k.lower() for s in REFINED_KEYS)
            }
            if found:
                self.metadata[mat.asset_key.to_user_string()] = found
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            if not ev.passed:
                self.failed_checks.append(f"{ev.asset_key.to_user_string()}.{ev.check_name}")
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and step in self.steps:
            self._ended(step, now, kind == DagsterEventType.STEP_SUCCESS)

    def _started(self, step: str, now: float) -> None:
        if not self.running:  # a step beside it keeps the mark: its peak may still be ahead
            _reset_hwm()
        rss = _status("VmRSS")["VmRSS"]
        self.first_start = self.first_start or now
        self.steps[step] = {
            "step": step,
            "t0": now,
            "beside": set(self.running),
            "cpu0": _cpu_s(),
            "rss_start": rss,
            "loaded": now,
            "output": None,
            "handled": 0.0,
        }
        for other in self.running:
            self.steps[other]["beside"].add(step)
        self.running.add(step)

    def _ended(self, step: str, now: float, ok: bool) -> None:
        mem = _status("VmRSS", "VmHWM")
        rec = self.steps[step]
        wall = now - rec["t0"]
        load = rec["loaded"] - rec["t0"]
        self.running.discard(step)
        record = {
            "step": step,
            "ok": ok,
            "start_s": rec["t0"] - (self.first_start or rec["t0"]),
            "beside": sorted(rec["beside"]),
            "wall_s": wall,
            "load_s": load,
            "store_s": rec["handled"],
            "body_s": max(wall - load - rec["handled"], 0.0),
            "cpu_s": _cpu_s() - rec["cpu0"],
            "peak_rss": max(mem["VmHWM"], mem["VmRSS"]),
            "rss_start": rec["rss_start"],
            "rss_end": mem["VmRSS"],
        }
        self.last_end = now
        with open(self.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def _cpu_s() -> float:
    """CPU seconds of this process (every thread) and of its children it waited for (tippecanoe, GDAL's validator):
    on a shared machine a step's CPU moves far less than its wall time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def child(spec_path: Path) -> int:
    """Run one case (the spec's scenario) with the runner of ``corridor run`` and write its figures."""
    spec = json.loads(spec_path.read_text())
    t_process = time.perf_counter()
    import warnings

    warnings.simplefilter("ignore")
    from assets.config import SETTINGS
    from geodata.bathymetry import analysis_grid
    from geodata.scenario import load_scenario
    from pipelines.runner import instance_for, run_scenario

    scenario = load_scenario(spec["scenario"], folder=SETTINGS.scenarios)
    grid = analysis_grid(scenario.area_of_interest.bounds, scenario.analysis_crs(), scenario.analysis.resolution_m)
    cells = int(grid.shape[0] * grid.shape[1])
    try:
        from geodata.preflight import estimate_run

        estimate = int(estimate_run(cells, 500).memory_bytes)  # 500: the mirror's hazards (assets.common)
    except Exception:  # noqa: BLE001 - an older tree's pre-flight: no estimate, the figures still stand
        estimate = 0
    Path(spec["grid"]).write_text(json.dumps({"cells": cells, "shape": list(grid.shape), "estimate": estimate}))
    recorder = _StepRecorder(Path(spec["steps"]))
    instance = instance_for(SETTINGS)
    register = instance.add_event_listener

    def add_listener(run_id: str, cb: Any) -> None:  # the runner's progress listener, and ours beside it
        register(run_id, cb)
        register(run_id, recorder)

    instance.add_event_listener = add_listener  # type: ignore[method-assign]
    setup_peak = _status("VmHWM")["VmHWM"]
    _reset_hwm()
    lines: list[str] = []
    t_imports = time.perf_counter()
    import pipelines.definitions  # noqa: F401 - imported by run_scenario too: its import time is not the run's

    imports_s = time.perf_counter() - t_imports
    import inspect

    options: dict[str, Any] = {}
    if spec.get("steps_at_once") and "max_concurrent" in inspect.signature(run_scenario).parameters:
        options["max_concurrent"] = spec["steps_at_once"]  # an older tree runs one step at a time anyway
    t_call, cpu_call = time.perf_counter(), _cpu_s()
    outcome = run_scenario(scenario, echo=lines.append, instance=instance, **options)
    call_s, call_cpu_s = time.perf_counter() - t_call, _cpu_s() - cpu_call
    run_s = outcome.seconds  # what `corridor run` prints: Dagster's execution of the job, every step and check
    t0 = t_call + call_s - run_s
    after = _status("VmHWM")["VmHWM"]  # after the last step: the run's tail (diagnostics on failure)
    result = {
        "cells": cells,
        "shape": list(grid.shape),
        "success": outcome.success,
        "run_s": run_s,
        "call_s": call_s,
        "call_cpu_s": call_cpu_s,
        "definitions_import_s": imports_s,
        "process_s": time.perf_counter() - t_process,
        "setup_peak": setup_peak,
        "tail_peak": after,
        "before_first_step_s": (recorder.first_start - t0) if recorder.first_start else 0.0,
        "after_last_step_s": (t0 + run_s - recorder.last_end) if recorder.last_end else 0.0,
        "failures": [f.line() for f in outcome.failures],
        "failed_checks": recorder.failed_checks,
        "metadata": recorder.metadata,
        "estimate": estimate,
        "progress": lines,
    }
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


def warm_up() -> int:
    """Compile (or load from ``NUMBA_CACHE_DIR``) the routing and Monte Carlo kernels on a tiny grid, so that no case
    of a tree pays numba's compile time (a fresh checkout's cache is empty)."""
    import numpy as np

    from geodata import routing

    cost = np.ones((40, 40))
    cost[10:30, 20] = np.nan
    for method in ("d8", "d16", "d32"):
        routing.least_cost_path(cost, (20, 2), (20, 37), method=method)
        routing.least_cost_path(cost.astype("float32"), (20, 2), (20, 37), method=method)
    routing.least_cost_path(cost, (2, 2), (37, 37), coarse_factor=4)
    routing.least_cost_corridor(cost, (20, 2), (20, 37))
    routing.alternative_routes(cost, (20, 2), (20, 37), k=2)
    try:
        _warm_monte_carlo()
    except (AttributeError, ImportError) as exc:  # a tree from before the compiled Monte Carlo
        print(f"  warm-up: this tree's Monte Carlo has no compiled kernels to warm ({exc}); skipped")
    return 0


def _warm_monte_carlo() -> None:
    """The Monte Carlo's kernels (geodata/engineering/_mckernels.py) on a tiny synthetic 100 m sea: coarsened to the
    Monte Carlo grid, one realisation with a soft and a hard hazard layer."""
    import numpy as np
    from affine import Affine
    from pyproj import CRS

    from geodata.cost import build_cost_surface
    from geodata.engineering import montecarlo as mc
    from geodata.grid import GeoGrid, Raster
    from geodata.hazards.raster import HazardRasters
    from geodata.scenario import CostWeights, Limits, MonteCarlo

    grid = GeoGrid(CRS.from_epsg(32639), Affine(100.0, 0.0, 400_000.0, 0.0, -100.0, 4_600_000.0), (60, 80))
    depth = Raster(np.full(grid.shape, 100.0, dtype="float32"), grid, float("nan"), {})
    sea = Raster(np.ones(grid.shape, dtype="uint8"), grid, None, {})
    slope = Raster(np.zeros(grid.shape, dtype="float32"), grid, float("nan"), {})
    surface = build_cost_surface(depth, slope, sea, CostWeights(), Limits())
    cfg = MonteCarlo(realisations=2)
    coarse = mc.monte_carlo_grid(grid, cfg)
    soft = np.zeros(coarse.shape, dtype="float32")
    soft[5:7, 3:9] = 1.0
    hard = soft > 0
    hazards = HazardRasters(hard, soft, {"wreck": soft}, {"wreck": hard}, {})
    shared = mc.monte_carlo_inputs(
        depth, sea, hazards, surface, cfg, CostWeights(), Limits(),
        start=(30, 5), goal=(30, 75), method="auto", design_path=np.array([[30.0, 5.0], [30.0, 75.0]]),
    )  # fmt: skip
    mc.run_realisation(mc.RealisationTask(0, 0), shared)


def build_nested(spec_path: Path) -> int:
    """Build the nested case's scenario (in its own process, under the watchdog) and write where it is."""
    spec = json.loads(spec_path.read_text())
    import importlib.util

    tree = Path(os.environ.get("PYTHONPATH", str(ROOT)).split(os.pathsep)[0])
    found = importlib.util.spec_from_file_location("nested_case", tree / "benchmarks" / "nested_case.py")
    if found is None or found.loader is None:
        raise SystemExit(f"cannot load {tree / 'benchmarks' / 'nested_case.py'}")
    nested_case = importlib.util.module_from_spec(found)
    found.loader.exec_module(nested_case)

    folder, name = nested_case.build(
        Path(spec["workdir"]), survey_resolution_m=spec["survey_resolution_m"], width_m=spec["width_m"]
    )
    Path(spec["result"]).write_text(json.dumps({"scenario_dir": str(folder), "scenario": name}))
    return 0


# ------------------------------------------------------------------------------------------------------------------
# the parent: cases, watchdog, table
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class Case:
    label: str
    tree: Path
    resolution_m: float | None  # None: the nested case
    steps: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    status: str = "not run"  # ok | failed | exceeded | error | not available
    peak_group: int = 0
    wall_s: float = 0.0
    note: str = ""
    grid: dict[str, Any] = field(default_factory=dict)
    """cells, shape and the pre-flight estimate, written by the case's process before its run starts."""
    steps_at_once: int | None = None
    """The executor's max_concurrent for the run (None: ``--steps-at-once``, else the executor's default)."""
    serial: Case | None = None
    """The same case run one step at a time, whose route step is this case's yardstick."""

    @property
    def peak(self) -> int:
        """The case's peak resident memory (its process, as ``/usr/bin/time -v`` reports it): the largest of its
        steps', the setup's and the tail's high-water marks; the watchdog's sample of the process group when the
        case was killed before it could say."""
        vals = [s["peak_rss"] for s in self.steps]
        if self.result:
            vals += [self.result["setup_peak"], self.result["tail_peak"]]
        return max(vals) if vals and self.status != "exceeded" else max([*vals, self.peak_group])

    @property
    def cells(self) -> int:
        return int(self.grid.get("cells", 0))

    @property
    def route_s(self) -> float | None:
        """The yardstick: the ``least_cost_route`` step of this case run one step at a time (its serial twin, or
        this case if it ran so): in a run with steps side by side the route step may share the cores, which would
        flatter the run's multiple of it."""
        source = self.serial if self.serial is not None and self.serial.status == "ok" else self
        lcr = source.step("least_cost_route")
        return float(lcr["wall_s"]) if lcr and lcr["wall_s"] > 0 else None

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["step"] == name), None)


def _group_rss(pgid: int) -> int:
    """Resident memory of every process in process group ``pgid`` (the case's process and what it started)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def _run_watched(
    argv: list[str], env: dict[str, str], cwd: Path, limit: int, log: Path, steps: Path | None, label: str
) -> tuple[str, int, float]:
    """Run ``argv`` in a new session, killing its group above ``limit`` bytes; prints each finished step as it
    comes. Returns (status ok|failed|exceeded, peak group RSS, wall seconds)."""
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    peak, shown, exceeded = 0, 0, False
    while proc.poll() is None:
        rss = _group_rss(proc.pid)
        peak = max(peak, rss)
        if rss > limit:
            exceeded = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        if steps is not None and steps.is_file():
            lines = steps.read_text().splitlines()
            for line in lines[shown:]:
                _print_step(label, json.loads(line))
            shown = len(lines)
        time.sleep(0.2)
    if steps is not None and steps.is_file():
        for line in steps.read_text().splitlines()[shown:]:
            _print_step(label, json.loads(line))
    wall = time.perf_counter() - t0
    if exceeded:
        return "exceeded", peak, wall
    return ("ok" if proc.returncode == 0 else "failed"), peak, wall


def _print_step(label: str, s: dict[str, Any]) -> None:
    print(
        f"    {label:<12} {s['step']:<24} {'ok' if s['ok'] else 'FAILED':<6} {s['wall_s']:7.1f} s  "
        f"peak {s['peak_rss'] / 1e9:5.2f} GB",
        flush=True,
    )


def _scenario_file(tree: Path, folder: Path, resolution_m: float) -> str:
    """The default scenario with only ``analysis.resolution_m`` changed, as ``bench-<res>m.yaml``; its name."""
    import yaml

    text = (tree / "geodata" / "data" / "scenarios" / "siyazan-aktau.yaml").read_text()
    data = yaml.safe_load(text)
    name = f"bench-{resolution_m:g}m"
    data["name"] = name
    data["analysis"]["resolution_m"] = resolution_m
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        "# Benchmark case (benchmarks/pipeline.py): the default scenario, only analysis.resolution_m changed.\n"
        + yaml.safe_dump(data, sort_keys=False)
    )
    return name


def _env(tree: Path, case_dir: Path, scenarios: Path, mirror: str, budget_gb: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORRIDOR_", "DAGSTER_"))}
    env.update(
        {
            "CORRIDOR_MIRROR": mirror,
            "CORRIDOR_SCENARIOS": str(scenarios),
            "CORRIDOR_STORE": str(case_dir / "store"),
            "CORRIDOR_OUTPUT": str(case_dir / "published"),
            "CORRIDOR_CACHE": str(case_dir / "cache"),
            "CORRIDOR_MEMORY_BUDGET_GB": f"{budget_gb:g}",
            "DAGSTER_HOME": str(case_dir / "dagster_home"),
            "PYTHONPATH": str(tree),
            "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(tree / ".numba_cache")),
        }
    )
    if "NUMBA_CACHE_DIR" in os.environ and tree != ROOT:
        env["NUMBA_CACHE_DIR"] = str(tree / ".numba_cache")
    return env


def run_case(case: Case, work: Path, args: argparse.Namespace) -> None:
    case_dir = work / case.label.replace(" ", "_")
    case_dir.mkdir(parents=True)
    limit = int(args.rss_limit_gb * 1e9)
    scenarios = case_dir / "scenarios"
    python = sys.executable
    script = str(ROOT / "benchmarks" / "pipeline.py")
    t0 = time.perf_counter()
    if case.resolution_m is None:
        if not (case.tree / "benchmarks" / "nested_case.py").is_file():
            case.status, case.note = "not available", "nested: not available on this branch"
            print(f"  {case.label}: not available on this branch (benchmarks/nested_case.py is absent)", flush=True)
            return
        spec = case_dir / "build.json"
        spec.write_text(
            json.dumps(
                {
                    "workdir": str(case_dir / "nested"),
                    "survey_resolution_m": args.survey_resolution_m,
                    "width_m": args.survey_width_m,
                    "result": str(case_dir / "built.json"),
                }
            )
        )
        env = _env(case.tree, case_dir, scenarios, args.mirror, args.rss_limit_gb * 4)
        status, peak, wall = _run_watched(
            [python, script, "--build-nested", str(spec)], env, case.tree, limit, case_dir / "build.log", None, ""
        )
        if status != "ok":
            case.status, case.peak_group = ("exceeded" if status == "exceeded" else "error"), peak
            case.note = f"building the nested case {status} after {wall:.0f} s (log {case_dir / 'build.log'})"
            print(f"  {case.label}: {case.note}", flush=True)
            return
        built = json.loads((case_dir / "built.json").read_text())
        scenarios, name = Path(built["scenario_dir"]), built["scenario"]
        case.note = f"built in {wall:.0f} s"
    else:
        name = _scenario_file(case.tree, scenarios, case.resolution_m)
    env = _env(case.tree, case_dir, scenarios, args.mirror, args.rss_limit_gb * 4)
    steps, result = case_dir / "steps.jsonl", case_dir / "result.json"
    spec = case_dir / "case.json"
    grid_file = case_dir / "grid.json"
    spec.write_text(
        json.dumps(
            {
                "scenario": name,
                "steps": str(steps),
                "result": str(result),
                "grid": str(grid_file),
                "steps_at_once": case.steps_at_once or args.steps_at_once,
            }
        )
    )
    print(f"  {case.label}: scenario {name} ({case.tree})", flush=True)
    status, case.peak_group, case.wall_s = _run_watched(
        [python, script, "--child", str(spec)], env, case.tree, limit, case_dir / "run.log", steps, case.label
    )
    case.steps = [json.loads(x) for x in steps.read_text().splitlines()] if steps.is_file() else []
    case.result = json.loads(result.read_text()) if result.is_file() else None
    case.grid = json.loads(grid_file.read_text()) if grid_file.is_file() else {}
    if status == "exceeded":
        case.status = "exceeded"
    elif status != "ok" or case.result is None:
        case.status = "error"
        tail = (case_dir / "run.log").read_text().strip().splitlines()[-3:]
        case.note = " | ".join(tail)
    else:
        case.status = "ok" if case.result["success"] else "failed"
        if not case.result["success"]:
            case.note = "; ".join(case.result["failures"])[:300]
    print(f"  {case.label}: {case.status} in {time.perf_counter() - t0:.0f} s", flush=True)


def _gb(b: float) -> str:
    return f"{b / 1e9:.2f}"


def _cpu(step: dict[str, Any]) -> str:
    return f"{step['cpu_s']:.2f}" if "cpu_s" in step else "-"  # an older tree's recorder has no CPU


def print_case(case: Case) -> None:
    cells = case.cells
    print(f"\n### {case.label}: {case.status}" + (f" ({case.note})" if case.note else ""))
    if case.result:
        shape = case.result["shape"]
        print(
            f"grid {shape[0]} x {shape[1]} = {cells / 1e6:.2f} M cells; run {case.result['run_s']:.1f} s "
            f"(run_scenario {case.result.get('call_s', 0.0):.1f} s, process {case.result['process_s']:.1f} s, "
            f"import of the definitions {case.result.get('definitions_import_s', 0.0):.1f} s); "
            f"setup peak {_gb(case.result['setup_peak'])} GB"
        )
    if not case.steps:
        return
    print(
        "\n| step | start s | wall s | CPU s | load s | body s | store s | peak RSS GB | B/cell | share | beside it |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    total = sum(s["wall_s"] for s in case.steps)
    run_s = case.result["run_s"] if case.result else total
    for s in case.steps:
        bpc = f"{s['peak_rss'] / cells:.0f}" if cells else "-"
        beside = s.get("beside") or []
        start = f"{s['start_s']:.1f}"
        # the process's CPU while the step ran: with steps beside it, theirs too (marked *)
        print(
            f"| {s['step']}{'' if s['ok'] else ' (FAILED)'} | {start} | {s['wall_s']:.2f} | {_cpu(s)}"
            f"{'*' if beside else ''} | {s['load_s']:.2f} | {s['body_s']:.2f} | {s['store_s']:.2f} | "
            f"{_gb(s['peak_rss'])} | {bpc} | {100 * s['wall_s'] / run_s:.0f}% | {', '.join(beside)} |"
        )
    if case.result:
        busy = _union_s(case.steps)
        other = run_s - busy
        print(
            f"| (Dagster outside the steps: before first {case.result['before_first_step_s']:.1f} s, after last "
            f"{case.result['after_last_step_s']:.1f} s) | | {other:.2f} | | | | | | | {100 * other / run_s:.0f}% | |"
        )
        if busy < total - 0.01:
            print(
                f"\nsteps side by side: {total:.1f} s of step time in {busy:.1f} s with a step running "
                f"({total / busy:.2f} steps at once on average); CPU s marked * include the steps beside it"
            )
    if case.result and case.result["metadata"]:
        print("\nrefined/coarse metadata:")
        for asset, md in case.result["metadata"].items():
            for k, v in md.items():
                print(f"  {asset}.{k} = {v}")
    if case.result and case.result["failed_checks"]:
        print("checks not passed (warnings included): " + ", ".join(case.result["failed_checks"]))


def _union_s(steps: list[dict[str, Any]]) -> float:
    """Seconds with at least one step running (each step's interval from its start offset and wall time)."""
    spans = sorted((s["start_s"], s["start_s"] + s["wall_s"]) for s in steps)  # this script's recorder, any tree
    busy, end = 0.0, float("-inf")
    for a, b in spans:
        if b > end:
            busy += b - max(a, end)
            end = b
    return busy


def fit_constants(cases: list[Case]) -> None:
    """Per step, the peak's growth per cell between the smallest and the largest completed resolution case (the
    ``geodata.preflight.STAGE_BYTES_PER_CELL`` figures) and the run's fixed part (``BASE_BYTES``)."""
    done = sorted((c for c in cases if c.status == "ok" and c.resolution_m and c.tree == ROOT), key=lambda c: c.cells)
    if len(done) < 2 or done[-1].cells <= done[0].cells:
        return
    small, large = done[0], done[-1]
    span = large.cells - small.cells
    print(f"\n## Peak memory per cell by step ({small.label} to {large.label}: the pre-flight constants)\n")
    print("| step | B/cell (slope) | fixed GB (intercept) |")
    print("|---|---|---|")
    worst = ("", 0.0, 0.0)
    for s in large.steps:
        t = small.step(s["step"])
        if t is None:
            continue
        slope = (s["peak_rss"] - t["peak_rss"]) / span
        fixed = t["peak_rss"] - slope * small.cells
        worst = max(worst, (s["step"], slope, fixed), key=lambda w: w[1])
        print(f"| {s['step']} | {slope:.1f} | {fixed / 1e9:.2f} |")
    print(f"\nlargest: {worst[0]} at {worst[1]:.1f} B/cell above {worst[2] / 1e9:.2f} GB")


def summary(cases: list[Case]) -> list[tuple[str, str, str]]:
    print("\n## Summary\n")
    print(
        "| case | status | cells M | run s | least_cost_route s (one step at a time) | run / route | "
        "route s in the run | run CPU s | CPU run / route | peak RSS GB | B/cell | group peak GB | estimate GB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        cells = c.cells
        run_s = c.result["run_s"] if c.result else sum(s["wall_s"] for s in c.steps)
        lcr, route_s = c.step("least_cost_route"), c.route_s
        ratio = f"{run_s / route_s:.1f}x" if route_s and c.result else "-"
        bpc = f"{c.peak / cells:.0f}" if cells else "-"
        est = _gb(c.grid["estimate"]) if c.grid.get("estimate") else "-"
        run_cpu = c.result.get("call_cpu_s") if c.result else None
        # the route's CPU: the step's own where it ran alone in the run (single-threaded: its wall time otherwise)
        route_cpu = lcr.get("cpu_s") if lcr and not lcr.get("beside") else route_s
        cpu_ratio = f"{run_cpu / route_cpu:.1f}x" if run_cpu and route_cpu else "-"
        in_run = f"{lcr['wall_s']:.2f}" if lcr else "-"
        print(
            f"| {c.label} | {c.status} | {cells / 1e6:.2f} | {run_s:.1f} | {f'{route_s:.2f}' if route_s else '-'} | "
            f"{ratio} | {in_run} | {f'{run_cpu:.1f}' if run_cpu else '-'} | "
            f"{cpu_ratio} | {_gb(c.peak)} | {bpc} | {_gb(c.peak_group)} | {est} |"
        )
    fit_constants(cases)
    verdicts: list[tuple[str, str, str]] = []

    def by_label(label: str) -> Case | None:
        return next((c for c in cases if c.label == label), None)

    c100 = by_label("100 m")
    if c100 is not None:
        route_s = c100.route_s
        if c100.status == "ok" and route_s and c100.result:
            ratio = c100.result["run_s"] / route_s
            verdicts.append(
                (
                    f"100 m: run within {TARGET_RATIO_100:g}x its least_cost_route",
                    f"{ratio:.1f}x",
                    "PASS" if ratio <= TARGET_RATIO_100 else "FAIL",
                )
            )
            per_cell = c100.peak / c100.cells
            verdicts.append(
                (
                    f"100 m: peak memory <= {TARGET_BPC_100:g} B/cell",
                    f"{per_cell:.0f} B/cell",
                    "PASS" if per_cell <= TARGET_BPC_100 else "FAIL",
                )
            )
        else:
            verdicts.append(("100 m: the run completes", c100.status, "FAIL"))
    c50 = by_label("50 m")
    if c50 is not None:
        ok = c50.status == "ok" and c50.peak <= TARGET_GB_50 * 1e9
        verdicts.append(
            (
                f"50 m: completes within {TARGET_GB_50:g} GB",
                f"{c50.status}, {_gb(c50.peak)} GB",
                "PASS" if ok else "FAIL",
            )
        )
    cn = by_label("nested")
    if cn is not None:
        if cn.status == "not available":
            verdicts.append(("nested: completes within 8 GB", "not available on this branch", "-"))
        else:
            refined = cn.result["metadata"].get("refined_route", {}) if cn.result else {}
            if "refined_cost" in refined and "coarse_cost_on_fine" in refined:
                fine, coarse = float(refined["refined_cost"]), float(refined["coarse_cost_on_fine"])
                verdicts.append(
                    (
                        "nested: the refined route costs no more than the coarse route on the fine grid",
                        f"{fine:.0f} against {coarse:.0f} ({100 * (fine / coarse - 1):+.2f} %)",
                        "PASS" if fine <= coarse else "FAIL",
                    )
                )
            else:
                verdicts.append(("nested: refined against coarse cost", "not in the run's metadata", "FAIL"))
            ok = cn.status == "ok" and cn.peak <= TARGET_GB_NESTED * 1e9
            verdicts.append(
                (
                    f"nested: completes within {TARGET_GB_NESTED:g} GB",
                    f"{cn.status}, {_gb(cn.peak)} GB",
                    "PASS" if ok else "FAIL",
                )
            )
    c1k, base = by_label("1000 m"), next((c for c in cases if c.label.startswith("1000 m baseline")), None)
    if c1k is not None and base is not None and c1k.result and base.result:
        r = c1k.result["run_s"] / base.result["run_s"]
        verdicts.append(
            (
                "1000 m: no slower than the baseline tree",
                f"{r:.2f}x the baseline's run",
                "PASS" if r <= 1.10 else "FAIL",
            )
        )  # 10 %: the shared VM's noise between two runs
    if verdicts:
        print("\n## Targets (issue #14)\n")
        print("| target | measured | verdict |")
        print("|---|---|---|")
        for t, m, v in verdicts:
            print(f"| {t} | {m} | {v} |")
    return verdicts


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--resolutions",
        default=",".join(f"{r:g}" for r in DEFAULT_RESOLUTIONS),
        help="comma-separated analysis resolutions in metres (default 1000,250,100,50)",
    )
    p.add_argument("--no-nested", action="store_true", help="skip the nested survey case")
    p.add_argument(
        "--serial-resolutions",
        default="100",
        help="resolutions also run one step at a time, as the yardstick of their route step (default 100; '' none)",
    )
    p.add_argument(
        "--steps-at-once",
        type=int,
        default=None,
        help="steps the run executes side by side (the executor's max_concurrent; default its own: the cores)",
    )
    p.add_argument("--survey-resolution-m", type=float, default=10.0)
    p.add_argument("--survey-width-m", type=float, default=5000.0)
    p.add_argument("--rss-limit-gb", type=float, default=10.0, help="watchdog: kill a case above this (default 10)")
    p.add_argument("--mirror", default=os.environ.get("CORRIDOR_MIRROR") or DEFAULT_MIRROR)
    p.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        help="another checkout (e.g. /work/main) whose code runs the --baseline-resolutions too",
    )
    p.add_argument("--baseline-resolutions", default="1000")
    p.add_argument("--workdir", type=Path, default=None, help="where the cases' folders go (default a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the cases' folders (stores, publications, logs)")
    p.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--build-nested", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--warm-up", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _work_folder(parent: Path | None) -> Path:
    """A new folder for this run's cases, under ``parent`` (created when missing) or the temp folder."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="pipeline-bench-", dir=parent))


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.warm_up:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)).split(os.pathsep)[0])
        return warm_up()
    if args.child or args.build_nested:
        tree = Path(os.environ.get("PYTHONPATH", str(ROOT)).split(os.pathsep)[0])
        sys.path.insert(0, str(tree))
        return child(args.child) if args.child else build_nested(args.build_nested)
    resolutions = [float(r) for r in args.resolutions.split(",") if r.strip()]
    cases = [Case(f"{r:g} m", ROOT, r) for r in resolutions]
    for r in [float(x) for x in args.serial_resolutions.split(",") if x.strip()]:
        twin = next((c for c in cases if c.resolution_m == r), None)
        if twin is not None and (args.steps_at_once or 0) != 1:
            serial = Case(f"{r:g} m one step at a time", ROOT, r, steps_at_once=1)
            twin.serial = serial
            cases.insert(cases.index(twin), serial)
    if not args.no_nested:
        cases.append(Case("nested", ROOT, None))
    if args.baseline_tree is not None:
        tree = args.baseline_tree.resolve()
        base = [Case(f"{float(r):g} m baseline", tree, float(r)) for r in args.baseline_resolutions.split(",")]
        cases = base + cases
    work = _work_folder(args.workdir)
    print(
        f"pipeline benchmark: {len(cases)} cases, watchdog {args.rss_limit_gb:g} GB, mirror {args.mirror}, "
        f"cpu count {os.cpu_count()}, work folder {work}",
        flush=True,
    )
    try:
        for tree in dict.fromkeys(c.tree for c in cases):  # numba's compile time is in no case
            env = _env(tree, work, work, args.mirror, args.rss_limit_gb)
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / "pipeline.py"), "--warm-up"], env=env, cwd=tree, check=False
            )
            print(f"  warm-up of {tree}: {time.perf_counter() - t0:.0f} s (exit {done.returncode})", flush=True)
        for case in cases:
            run_case(case, work, args)
        for case in cases:
            print_case(case)
        verdicts = summary(cases)
        if args.json is not None:
            args.json.write_text(
                json.dumps(
                    {
                        "cases": [
                            {
                                "label": c.label,
                                "tree": str(c.tree),
                                "status": c.status,
                                "peak": c.peak,
                                "note": c.note,
                                "grid": c.grid,
                                "peak_group": c.peak_group,
                                "steps": c.steps,
                                "result": c.result,
                            }
                            for c in cases
                        ],
                        "targets": verdicts,
                    },
                    indent=1,
                )
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\ncases kept in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
