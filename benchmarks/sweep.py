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
``--dask-defaults`` runs them with dask's own settings instead, for comparison.

Every worker is warmed up first (imports and numba kernels on a tiny grid, ``Client.run`` on each worker), and so are
the scheduler (which unpickles the graph: it imports the task function's and the samples' modules) and this process;
that warm-up is printed (it is a fixed cost of a worker's first sweep, paid here before the timing),
cluster start-up is not timed; sharing the surface is (it is part of every sweep: a memory-mapped file on one
machine, see :func:`geodata.sweep.run_sweep`). Each run's
results are compared with the serial run's (they must be identical). The serial run is repeated after the clusters
and the mean of the two is the reference (the machine is shared: its load moves during the run). Figures per run:

* wall seconds and speed-up over serial;
* per-solve overhead ``(wall x workers - sum(task wall)) / n``, in milliseconds and as a share of the run's mean
  solve (``sum(task wall) / n``): the worker time the fan-out spends outside the solves (scatter of the shared input,
  scheduling, result transfers, workers idle at the end of the sweep), measured in the same run (each task times
  itself, wall and thread CPU, in :func:`timed_solve`). For the serial run it is the loop's own cost (near 0);
* the load average before each run (the machine is shared; the 1-minute figure lags by about a minute);
* contention ``sum(task wall) / sum(task CPU)``: 1.00 when every task had a core to itself; above it, other processes
  on the machine took the cores (a speed-up short of the worker count with a small overhead means contention);
* CPU ms per solve (thread CPU of the task): above the serial figure on a cluster when two solves running at once
  slow each other (shared cache and memory bandwidth of the 2 cores), whatever the other load;
* effective cores ``sum(task CPU) / wall``: how many cores' worth of solving the run got (at most the worker count;
  the ceiling of the speed-up is ``effective cores x serial CPU per solve / this run's CPU per solve``).

A second table splits each cluster run by phase (:class:`geodata.sweep.SweepTimings`, stamped on the workers and
here): how the input was shared and how long that took, the first task's start after the sweep's, the workers' time
opening the shared file, the per-task round trip (a task's end on its worker to its result here), the workers' idle
time between tasks and at the end (a worker done while the other still solves), and the CPU the cluster's processes
spent outside the solves (client with the local scheduler and nannies, scheduler, nannies, workers: process CPU
minus the tasks' thread CPU), per solve: the overhead in CPU terms, which the machine's load does not inflate the way
it inflates wall time.

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

    import dask
    from distributed import Client, LocalCluster

    from geodata.engineering.sweep import sweep_input
    from geodata.routing.sweep import perturbed_samples
    from geodata.sweep import WORKER_CONFIG, run_sweep, worker_environment

    config = {} if args.dask_defaults else WORKER_CONFIG
    env = {} if args.dask_defaults else worker_environment()

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
        runs: list[tuple[str, int, Any, float]] = []
        cpu: dict[str, dict[str, float]] = {}

        def serial(label: str) -> None:
            load = os.getloadavg()[0]
            runs.append((label, 1, run_sweep(timed_solve, samples, shared=shared), load))

        def on(client: Any, label: str, pids: dict[str, list[int]]) -> None:
            client.wait_for_workers(args.workers, timeout=120)
            t = time.perf_counter()
            client.run(warm_up)
            warm = time.perf_counter() - t
            t = time.perf_counter()
            client.run_on_scheduler(warm_scheduler)
            print(
                f"# {label}: warm-up before the timing (a fixed cost of a fresh cluster's first sweep): workers "
                f"{warm:.2f} s (imports, numba kernels from the cache), scheduler {time.perf_counter() - t:.2f} s "
                "(imports of the graph's classes)"
            )
            pids = {**pids, "workers": list(client.run(os.getpid).values())}
            load = os.getloadavg()[0]
            before = cpu_s(pids)
            out = run_sweep(timed_solve, samples, shared=shared, client=client)
            after = cpu_s(pids)
            cpu[label] = {g: after[g] - before[g] for g in pids}
            runs.append((label, args.workers, out, load))

        serial("serial")

        if "local" not in skip:
            with dask.config.set(config):  # as pipelines.dask_resource starts its local cluster
                lc = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
            with lc, Client(lc) as client:
                # the scheduler and the nannies live in this process
                on(
                    client,
                    f"LocalCluster ({args.workers} worker processes)",
                    {"client+scheduler+nannies": [os.getpid()]},
                )
        if "loopback" not in skip:
            address, procs = loopback_cluster(args.workers, Path(tmp), env)
            try:
                with Client(address, timeout=60) as client:
                    groups = {
                        "client": [os.getpid()],
                        "scheduler": [procs[0].pid],
                        "nannies": [p.pid for p in procs[1:]],
                    }
                    on(client, f"loopback scheduler ({args.workers} dask worker processes)", groups)
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
        reference = (runs[0][2].wall_s + runs[-1][2].wall_s) / 2
        first = [r[0] for r in runs[0][2].results]
        solve_ms = 1000 * sum(r[2] for r in runs[0][2].results) / len(samples)
        print(f"# serial: {solve_ms:.1f} ms CPU per solve (re-cost + route + corridor + separation and regret)")
        print(f"# reference serial wall: {reference:.2f} s (mean of the two serial runs)")
        print(f"# load average {os.getloadavg()[0]:.2f} at end (shared 2-core machine: other jobs compete)\n")
        print(
            "| run | workers | load avg | wall s | speed-up vs serial | mean solve ms | per-solve overhead ms "
            "| overhead / solve | contention | CPU ms per solve | effective cores | retried | identical |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        n = len(samples)
        for label, workers, out, load in runs:
            task_wall = sum(r[1] for r in out.results)
            task_cpu = sum(r[2] for r in out.results)
            overhead_ms = 1000 * (out.wall_s * workers - task_wall) / n
            solve_ms = 1000 * task_wall / n
            identical = same(first, [r[0] for r in out.results])
            print(
                f"| {label} | {workers} | {load:.2f} | {out.wall_s:.2f} | {reference / out.wall_s:.2f}x | "
                f"{solve_ms:.0f} | {overhead_ms:+.1f} | {overhead_ms / solve_ms * 100:+.1f} % | "
                f"{task_wall / task_cpu:.2f} | {1000 * task_cpu / n:.0f} | {task_cpu / out.wall_s:.2f} | "
                f"{out.retried} | {'yes' if identical else 'NO'} |"
            )
        print("\nTargets: speed-up >= 1.7x on 2 cores, per-solve overhead < 5 %.\n")
        print(
            "| run | shared as | MB | share s | submit s | first task s | worker load s | round trip ms | "
            "gaps ms/solve | tail idle ms/solve | collect s | CPU outside solves ms/solve |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for label, _, out, _ in runs:
            t = out.timings
            if t is None:
                continue
            task_cpu = sum(r[2] for r in out.results)
            groups = dict(cpu[label])
            groups["workers"] -= task_cpu
            split = ", ".join(f"{g} {1000 * v / n:.1f}" for g, v in groups.items())
            print(
                f"| {label} | {t.share} | {t.shared_mb:.1f} | {t.share_s:.3f} | {t.submit_s:.3f} | "
                f"{t.first_start_s:.3f} | {t.load_s:.3f} | {1000 * t.result_latency_s:.1f} | "
                f"{1000 * t.dispatch_gap_s / n:.1f} | {1000 * t.tail_idle_s / n:.1f} | {t.collect_s:.3f} | "
                f"{1000 * sum(groups.values()) / n:.1f} ({split}) |"
            )


if __name__ == "__main__":
    main()
