"""Sweep benchmark (issue #11): one weight sweep of the default scenario, serially and on two dask clusters.

Usage::

    python benchmarks/sweep.py                 # 32 solves: serial, LocalCluster(2 workers), loopback scheduler
    python benchmarks/sweep.py --tasks 16      # fewer solves
    python benchmarks/sweep.py --skip loopback # only serial and the local cluster
    python benchmarks/sweep.py --resolution-m 500   # the default scenario on a 500 m grid (4x the cells)

The cost surface and landfalls are the default scenario's (``siyazan-aktau``), built from the data mirror
(``CORRIDOR_MIRROR``, default ``../shared/geodata-mirror``) by materialising the graph up to ``cost_surface`` and
``landfalls`` in a temporary store. The sweep is the pipeline's: :func:`geodata.routing.sweep.route_sample` per task
(re-cost with the sample's weight factors, least-cost route, near-optimal corridor, separation and regret against the
baseline), samples from :func:`geodata.routing.sweep.perturbed_samples` (five weights, spread 0.25, seed 0), fanned
out by :func:`geodata.sweep.run_sweep`. Three runs in one invocation:

* ``serial``: in this process;
* ``local``: ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)`` (worker processes);
* ``loopback``: ``dask scheduler`` and two ``dask worker --nthreads 1`` processes on 127.0.0.1, reached by address
  as ``CORRIDOR_DASK_SCHEDULER`` would be.

Both clusters run with :data:`geodata.sweep.WORKER_CONFIG` (the local one as ``pipelines.dask_resource`` starts it,
the loopback processes with :func:`geodata.sweep.worker_environment`, as README's deployment section says);
``--dask-defaults`` runs them with dask's own settings instead, for comparison. Among other things WORKER_CONFIG keeps
glibc's malloc defaults in the worker processes, as in this process where the serial runs solve: dask's nanny would
start each worker with ``MALLOC_TRIM_THRESHOLD_=65536``, which made every solve on a worker cost about 15 % more CPU
than the same solve here (page faults of fresh ``mmap`` arrays; see :mod:`geodata.sweep`). Each solve is
single-threaded wherever it runs (the routing kernels are serial ``nogil`` numba code, no BLAS): the thread pools of
this process and of every worker are printed (``numba parallel pool``: whether numba's OpenMP/TBB pool was ever
started; this process started it while building the inputs, the workers never do; dask's nanny sets
``OMP_NUM_THREADS=1``/``OPENBLAS_NUM_THREADS=1`` for the workers, which nothing in a solve reads).

**Start-up** (the cluster's processes up and registered, then the warm-up: imports and numba kernels on every worker
(``Client.run``), the scheduler's imports of the graph's classes, this process's too) is timed and printed, but it is
**not** in a run's wall time or in the per-solve overhead: it is a fixed cost per cluster, not per solve (a
long-lived scheduler, as ``CORRIDOR_DASK_SCHEDULER=tcp://...``, pays it once for all sweeps). The column ``with
start-up`` gives the speed-up with it counted, which is what one sweep on a fresh ``CORRIDOR_DASK_SCHEDULER=local``
cluster gets (``pipelines.dask_resource`` starts one per step). Sharing the surface is timed (it is part of every
sweep: a memory-mapped file in ``/dev/shm`` on one machine, see :func:`geodata.sweep.run_sweep`). Each run's
results are compared with the serial run's (they must be identical). The serial run is repeated after the clusters
and the mean of the two is the reference (the machine is shared: its load moves during the run); ``--repeat K`` runs
the whole sequence K times on the same inputs (fresh clusters each time) and ends with a summary of every repeat.
Figures per run:

* wall seconds and speed-up over serial (and with the start-up counted, above);
* per-solve overhead ``(wall x workers - sum(task wall)) / n``, in milliseconds and as a share of the run's mean
  solve (``sum(task wall) / n``): the worker time the fan-out leaves idle (sharing the input, scheduling, result
  transfers, the gaps between two tasks, workers idle at the end of the sweep), measured in the same run (each task
  times itself, wall and thread CPU, in :func:`timed_solve`). For the serial run it is the loop's own cost (near 0).
  It does not count the CPU the cluster's own processes take from the solves (that makes the solves' wall longer
  than their CPU: see contention), so it is given next to it:
* cluster CPU outside solves / solve: the CPU the cluster's processes spent outside the solves (client, scheduler,
  nannies, workers: process CPU minus the tasks' thread CPU) per solve, as a share of the serial CPU per solve (the
  overhead in CPU terms; on a 2-core machine whose cores all solve, that CPU is taken from the solves);
* the load average before each run (the machine is shared; the 1-minute figure lags by about a minute);
* contention ``sum(task wall) / sum(task CPU)``: 1.00 when every task had a core to itself; above it, other threads
  (the cluster's own, or other jobs on the machine) took the cores;
* CPU ms per solve (thread CPU of the task) and CPU vs serial (that over the serial runs' CPU per solve): above 1 on a
  cluster when a solve costs more there (two solves at once sharing cache and memory bandwidth, or the allocator
  settings above), whatever the machine's load;
* effective cores ``sum(task CPU) / wall``: how many cores' worth of solving the run got (at most the worker count;
  the ceiling of the speed-up is ``effective cores x serial CPU per solve / this run's CPU per solve``).

A second table splits each cluster run by phase (:class:`geodata.sweep.SweepTimings`, stamped on the workers and
here): how and where the input was shared and how long that took, the first task's start after the sweep's, the
workers' time opening the shared file, the per-task round trip (a task's end on its worker to its result here), the
workers' idle time between tasks and at the end (a worker done while the other still solves), the CPU the cluster's
processes spent outside the solves per solve, split by process group, and the cluster's start-up plus warm-up.

This is a benchmark, not a timed test: it prints, it does not fail on a figure.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SCENARIO = "siyazan-aktau"
TERMS = ["shallow", "deep", "slope", "hazards", "shipping"]


def build_inputs(mirror: Path, folder: Path, resolution_m: float | None = None) -> tuple[Any, Any, Any]:
    """(scenario, cost surface, landfalls) of the default scenario, materialised from the mirror into ``folder``;
    with ``resolution_m``, on a grid of that resolution (a scenario override of the same name in ``folder``)."""
    import dagster as dg
    import yaml

    from geodata.scenario import load_scenario
    from pipelines.runner import folder_settings, materialize_scenario

    scenarios = folder / "scenarios"
    scenarios.mkdir()
    if resolution_m is not None:
        doc = yaml.safe_load((ROOT / "geodata" / "data" / "scenarios" / f"{SCENARIO}.yaml").read_text())
        doc["analysis"]["resolution_m"] = resolution_m
        (scenarios / f"{SCENARIO}.yaml").write_text(yaml.safe_dump(doc))
    settings = folder_settings(folder, mirror=mirror, scenarios_dir=str(scenarios))
    selection = dg.AssetSelection.assets("cost_surface", "landfalls").upstream()
    result = materialize_scenario(SCENARIO, settings, selection=selection)
    return (
        load_scenario(SCENARIO, folder=scenarios),
        result.asset_value("cost_surface"),
        result.asset_value("landfalls"),
    )


def warm_up() -> str:
    """Import and compile the sweep's code paths on a tiny grid (run in this process and on every worker)."""
    from geodata.routing.sweep import WeightSample, WeightSweepInput, route_sample

    terms = {"length": np.ones((12, 12)), "slope": np.linspace(0, 1, 144).reshape(12, 12)}
    tiny = WeightSweepInput(terms, np.zeros((12, 12), bool), (1, 1), (10, 10), (100.0, 100.0))
    route_sample(WeightSample(0, {"slope": 1.1}), tiny)
    return "warm"


def warm_scheduler() -> str:
    """Import what the scheduler unpickles from a sweep's graph (the task function and the samples' classes)."""
    import geodata.routing.sweep
    import geodata.sweep  # noqa: F401

    return "warm"


def thread_pools() -> str:
    """This process's thread pools as a solve sees them: OS threads, whether numba's parallel pool (OpenMP/TBB/
    workqueue) was ever started, and the thread-count settings numba, OpenMP and BLAS read."""
    import numba
    import numba.np.ufunc.parallel as numba_parallel

    env = {
        k: os.environ[k] for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ
    }
    layer = numba.threading_layer() if numba_parallel._is_initialized else "not started"
    threads = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    return (
        f"{len(os.listdir('/proc/self/task'))} OS threads, numba parallel pool {layer} "
        f"(numba.config.NUMBA_NUM_THREADS {threads}), env {env or 'none set'}"
    )


def timed_solve(sample: Any, shared: Any) -> tuple[Any, float, float]:
    """The pipeline's :func:`~geodata.routing.sweep.route_sample`, with its own wall and thread-CPU seconds."""
    from geodata.routing.sweep import route_sample

    wall, cpu = time.perf_counter(), time.thread_time()
    result = route_sample(sample, shared)
    return result, time.perf_counter() - wall, time.thread_time() - cpu


def cpu_s(pids: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds of each group of processes."""
    import psutil

    return {group: sum(sum(psutil.Process(p).cpu_times()[:2]) for p in ps) for group, ps in pids.items()}


def same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        (x.index, x.factors, x.cost, x.length_m) == (y.index, y.factors, y.cost, y.length_m)
        and np.array_equal(x.path, y.path)
        and np.array_equal(x.corridor, y.corridor)
        for x, y in zip(a, b, strict=True)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_cluster(workers: int, logs: Path, env: dict[str, str]) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A ``dask scheduler`` and ``workers`` one-thread ``dask worker`` processes (each with its nanny) on loopback,
    started with ``env`` added to this process's environment."""
    dask = Path(sys.executable).parent / "dask"
    address = f"tcp://127.0.0.1:{free_port()}"
    procs = []
    args = [["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"]]
    args += [
        ["worker", address, "--name", f"w{i}", "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
        for i in range(workers)
    ]
    for i, a in enumerate(args):
        out = (logs / f"dask-{i}.log").open("wb")
        procs.append(
            subprocess.Popen([str(dask), *a], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
        )
    return address, procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=32, help="route solves (sample 0 plus tasks-1 perturbed)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--resolution-m", type=float, default=None, help="grid resolution (default: the scenario's, 1000 m)"
    )
    parser.add_argument("--skip", default="", help="comma-separated runs to skip: local, loopback")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the whole sequence (serial, clusters, serial again) this many times on the same inputs, "
        "each cluster started afresh, then a summary of every repeat",
    )
    parser.add_argument(
        "--dask-defaults",
        action="store_true",
        help="run the clusters with dask's default settings, not geodata.sweep.WORKER_CONFIG",
    )
    parser.add_argument(
        "--mirror", default=os.environ.get("CORRIDOR_MIRROR") or str(ROOT.parent / "shared" / "geodata-mirror")
    )
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    mirror = Path(args.mirror)
    if not (mirror / "SOURCES.md").is_file():
        sys.exit(f"the geodata mirror is not at {mirror}; pass --mirror or set CORRIDOR_MIRROR")
    # worker processes import this tree's geodata (not another checkout's) and share the numba cache
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

    from geodata.engineering.sweep import sweep_input
    from geodata.routing.sweep import perturbed_samples
    from geodata.sweep import WORKER_CONFIG

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        t0 = time.perf_counter()
        scenario, surface, ends = build_inputs(mirror, Path(tmp), args.resolution_m)
        shared = sweep_input(scenario, surface, ends)
        samples = perturbed_samples(TERMS, args.tasks - 1, 0.25, seed=0)
        size_mb = sum(t.nbytes for t in shared.terms.values()) / 1e6 + shared.blocked.nbytes / 1e6
        print(f"sweep benchmark: cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start")
        print(
            f"# {SCENARIO}: {surface.total.shape[0]} x {surface.total.shape[1]} cells, shared input {size_mb:.1f} MB "
            f"(shared once per sweep); {len(samples)} solves; inputs built in {time.perf_counter() - t0:.1f} s"
        )
        print(f"# cluster settings: {'dask defaults' if args.dask_defaults else WORKER_CONFIG}")
        warm_up()
        summary: list[tuple[int, list[Run]]] = []
        for rep in range(1, args.repeat + 1):
            if args.repeat > 1:
                print(f"\n## repeat {rep} of {args.repeat} (load average {os.getloadavg()[0]:.2f})")
            runs = one_sequence(args, skip, shared, samples)
            print_tables(runs, len(samples))
            summary.append((rep, runs))
        if args.repeat > 1:
            print_summary(summary)


@dataclass
class Run:
    label: str
    workers: int
    out: Any
    load: float
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the cluster's process groups during the sweep (empty when serial)."""
    startup_s: float = 0.0
    """Cluster start-up (processes up and registered) and warm-up, before the timed sweep."""


def one_sequence(args: Any, skip: set[str], shared: Any, samples: list[Any]) -> list[Run]:
    """serial, LocalCluster, loopback, serial again: the runs of one table."""
    import dask
    from distributed import Client, LocalCluster

    from geodata.sweep import WORKER_CONFIG, run_sweep, worker_environment

    config = {} if args.dask_defaults else WORKER_CONFIG
    env = {} if args.dask_defaults else worker_environment()
    runs: list[Run] = []

    def serial(label: str) -> None:
        load = os.getloadavg()[0]
        runs.append(Run(label, 1, run_sweep(timed_solve, samples, shared=shared), load))

    def on(client: Any, label: str, pids: dict[str, list[int]], started: float) -> None:
        client.wait_for_workers(args.workers, timeout=120)
        up = time.perf_counter() - started
        t = time.perf_counter()
        client.run(warm_up)
        warm = time.perf_counter() - t
        t = time.perf_counter()
        client.run_on_scheduler(warm_scheduler)
        warm_s = time.perf_counter() - t
        pools = set(client.run(thread_pools).values())
        print(
            f"# {label}: start-up {up:.2f} s (processes up and registered) + warm-up {warm:.2f} s on the workers "
            f"(imports, numba kernels from the cache) + {warm_s:.2f} s on the scheduler (imports of the graph's "
            "classes): fixed costs of a fresh cluster, before the timing (a long-lived cluster pays them once)"
        )
        print(f"#   worker thread pools after the warm-up: {'; '.join(sorted(pools))}")
        pids = {**pids, "workers": list(client.run(os.getpid).values())}
        load = os.getloadavg()[0]
        before = cpu_s(pids)
        out = run_sweep(timed_solve, samples, shared=shared, client=client)
        after = cpu_s(pids)
        runs.append(Run(label, args.workers, out, load, {g: after[g] - before[g] for g in pids}, up + warm + warm_s))

    print(f"# serial: this process, {thread_pools()}")
    serial("serial")
    if "local" not in skip:
        started = time.perf_counter()
        with dask.config.set(config):  # as pipelines.dask_resource starts its local cluster
            lc = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        with lc, Client(lc) as client:
            # the scheduler and the nannies live in this process
            label = f"LocalCluster ({args.workers} worker processes)"
            on(client, label, {"client+scheduler+nannies": [os.getpid()]}, started)
    if "loopback" not in skip:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="sweep-bench-logs-") as logs:
            address, procs = loopback_cluster(args.workers, Path(logs), env)
            try:
                with Client(address, timeout=60) as client:
                    groups = {
                        "client": [os.getpid()],
                        "scheduler": [procs[0].pid],
                        "nannies": [p.pid for p in procs[1:]],
                    }
                    on(client, f"loopback scheduler ({args.workers} dask worker processes)", groups, started)
            finally:
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                for p in procs:
                    try:
                        p.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
    serial("serial, again")
    return runs


def figures(run: Run, reference_wall: float, serial_cpu_ms: float, n: int) -> dict[str, float]:
    """The table's figures of one run (see the module docstring for each definition)."""
    task_wall = sum(r[1] for r in run.out.results)
    task_cpu = sum(r[2] for r in run.out.results)
    overhead_ms = 1000 * (run.out.wall_s * run.workers - task_wall) / n
    solve_ms = 1000 * task_wall / n
    groups = dict(run.cpu)
    if groups:
        groups["workers"] -= task_cpu
    return {
        "wall": run.out.wall_s,
        "speedup": reference_wall / run.out.wall_s,
        "speedup_started": reference_wall / (run.out.wall_s + run.startup_s),
        "solve_ms": solve_ms,
        "overhead_ms": overhead_ms,
        "overhead_pct": 100 * overhead_ms / solve_ms,
        "outside_ms": 1000 * sum(groups.values()) / n,
        "outside_pct": 100 * 1000 * sum(groups.values()) / n / serial_cpu_ms,
        "contention": task_wall / task_cpu,
        "cpu_ms": 1000 * task_cpu / n,
        "cpu_ratio": 1000 * task_cpu / n / serial_cpu_ms,
        "cores": task_cpu / run.out.wall_s,
    }


def references(runs: list[Run], n: int) -> tuple[float, float]:
    """(serial wall, serial CPU ms per solve): the means of the run's two serial runs."""
    serials = [r for r in runs if r.workers == 1]
    wall = sum(r.out.wall_s for r in serials) / len(serials)
    cpu_ms = 1000 * sum(sum(x[2] for x in r.out.results) for r in serials) / (n * len(serials))
    return wall, cpu_ms


def print_tables(runs: list[Run], n: int) -> None:
    reference, serial_cpu_ms = references(runs, n)
    first = [r[0] for r in runs[0].out.results]
    print(f"# serial: {serial_cpu_ms:.1f} ms CPU per solve (re-cost + route + corridor + separation and regret)")
    print(f"# reference serial wall: {reference:.2f} s (mean of the two serial runs)")
    print(f"# load average {os.getloadavg()[0]:.2f} at end (shared 2-core machine: other jobs compete)\n")
    print(
        "| run | workers | load avg | wall s | speed-up vs serial | with start-up | mean solve ms "
        "| per-solve overhead ms | overhead / solve | cluster CPU outside solves / solve | contention "
        "| CPU ms per solve | CPU vs serial | effective cores | retried | identical |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        f = figures(run, reference, serial_cpu_ms, n)
        identical = same(first, [r[0] for r in run.out.results])
        outside = f"{f['outside_pct']:.1f} %" if run.cpu else "-"
        started = f"{f['speedup_started']:.2f}x" if run.cpu else "-"
        print(
            f"| {run.label} | {run.workers} | {run.load:.2f} | {f['wall']:.2f} | {f['speedup']:.2f}x | {started} | "
            f"{f['solve_ms']:.0f} | {f['overhead_ms']:+.1f} | {f['overhead_pct']:+.1f} % | {outside} | "
            f"{f['contention']:.2f} | {f['cpu_ms']:.0f} | {f['cpu_ratio']:.2f} | {f['cores']:.2f} | "
            f"{run.out.retried} | {'yes' if identical else 'NO'} |"
        )
    print("\nTargets: speed-up >= 1.7x on 2 cores, per-solve overhead < 5 %.\n")
    print(
        "| run | shared as | MB | share s | submit s | first task s | worker load s | round trip ms | "
        "gaps ms/solve | tail idle ms/solve | collect s | CPU outside solves ms/solve | start-up + warm-up s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for run in runs:
        t = run.out.timings
        if t is None:
            continue
        groups = dict(run.cpu)
        groups["workers"] -= sum(r[2] for r in run.out.results)
        split = ", ".join(f"{g} {1000 * v / n:.1f}" for g, v in groups.items())
        print(
            f"| {run.label} | {t.share} ({t.folder}) | {t.shared_mb:.1f} | {t.share_s:.3f} | {t.submit_s:.3f} | "
            f"{t.first_start_s:.3f} | {t.load_s:.3f} | {1000 * t.result_latency_s:.1f} | "
            f"{1000 * t.dispatch_gap_s / n:.1f} | {1000 * t.tail_idle_s / n:.1f} | {t.collect_s:.3f} | "
            f"{1000 * sum(groups.values()) / n:.1f} ({split}) | {run.startup_s:.2f} |"
        )


def print_summary(summary: list[tuple[int, list[Run]]]) -> None:
    """One line per cluster run of every repeat, then how many repeats met both targets."""
    print("\n## every repeat\n")
    print(
        "| repeat | run | load avg | speed-up vs serial | overhead / solve | cluster CPU outside solves / solve "
        "| CPU vs serial | effective cores | both targets |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    met: dict[str, list[bool]] = {}
    for rep, runs in summary:
        n = len(runs[0].out.results)
        reference, serial_cpu_ms = references(runs, n)
        for run in runs:
            if run.workers == 1:
                continue
            f = figures(run, reference, serial_cpu_ms, n)
            ok = f["speedup"] >= 1.7 and f["overhead_pct"] < 5
            met.setdefault(run.label, []).append(ok)
            print(
                f"| {rep} | {run.label} | {run.load:.2f} | {f['speedup']:.2f}x | {f['overhead_pct']:.1f} % | "
                f"{f['outside_pct']:.1f} % | {f['cpu_ratio']:.2f} | {f['cores']:.2f} | {'yes' if ok else 'no'} |"
            )
    for label, oks in met.items():
        print(f"# {label}: both targets met in {sum(oks)} of {len(oks)} repeats")


if __name__ == "__main__":
    main()
