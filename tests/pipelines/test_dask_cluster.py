"""A real dask cluster on loopback: ``dask scheduler`` and two ``dask worker`` processes started by the fixture.

1. The weight sweep of the default scenario's cost surface (16 route-and-corridor solves) runs on the cluster; one
   worker is killed with SIGKILL once the first results are in; the sweep still completes, its results equal the
   serial run's exactly, and it reports the tasks the dead worker was running or held as retried.
2. ``route_weight_sweep`` materialised through the Dagster resource pointed at the scheduler (as
   ``CORRIDOR_DASK_SCHEDULER`` would) equals the serial sweep, and its value round-trips through the store.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
import yaml
from distributed import Client

from geodata.cost import CostSurface
from geodata.engineering.landfall import Landfalls
from geodata.engineering.sweep import sweep_input, weight_sweep
from geodata.routing.sweep import perturbed_samples, route_sample
from geodata.scenario import load_scenario
from geodata.sweep import local_threads, run_sweep
from pipelines import store
from pipelines.dask_resource import DaskResource
from pipelines.runner import folder_settings, materialize_scenario
from tests.conftest import ROOT, missing_prerequisite

pytestmark = pytest.mark.integration
SCENARIO = "siyazan-aktau"
DASK = Path(sys.executable).parent / "dask"


@dataclass
class LoopbackCluster:
    address: str
    workers: dict[str, subprocess.Popen[bytes]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    """``dask scheduler`` + 2 one-thread ``dask worker`` processes (no nanny: a killed worker stays dead)."""
    if not DASK.is_file():
        missing_prerequisite(f"the dask command is not at {DASK}; install dask[distributed] in the venv")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log: str) -> subprocess.Popen[bytes]:
        out = (tmp_path / log).open("wb")
        proc = subprocess.Popen([str(DASK), *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        port = address.rsplit(":", 1)[1]
        start("scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard", log="scheduler.log")
        worker_args = ("--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard")
        workers = {
            name: start("worker", address, "--name", name, *worker_args, log=f"{name}.log") for name in ("w0", "w1")
        }
        with Client(address, timeout=60) as probe:
            probe.wait_for_workers(2, timeout=120)
        yield LoopbackCluster(address, workers)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> dict[str, Any]:
    """The default scenario with a 15-sample sweep (an override in a scenario folder), materialised up to the cost
    surface and the landfalls."""
    root = tmp_path_factory.mktemp("dask-e2e")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    doc = yaml.safe_load((ROOT / "geodata" / "data" / "scenarios" / f"{SCENARIO}.yaml").read_text())
    doc["sweep"] = {"samples": 15, "spread": 0.3, "seed": 5}
    (scenarios / f"{SCENARIO}.yaml").write_text(yaml.safe_dump(doc))
    settings = folder_settings(root, mirror=mirror, scenarios_dir=str(scenarios))
    result = materialize_scenario(
        SCENARIO, settings, selection=dg.AssetSelection.assets("cost_surface", "landfalls").upstream()
    )
    sc = load_scenario(SCENARIO, folder=scenarios)
    return {
        "root": root,
        "settings": settings,
        "scenario": sc,
        "surface": result.asset_value("cost_surface"),
        "landfalls": result.asset_value("landfalls"),
    }


def _kill_a_busy_worker_after_the_first_result(cluster: LoopbackCluster, killed: list[str]) -> threading.Thread:
    def watch() -> None:
        with Client(cluster.address, timeout=30) as watcher:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                # from the transition log: the sweep releases a result as soon as it has it, so a finished task
                # may already be gone from the scheduler's tasks
                done = watcher.run_on_scheduler(
                    lambda dask_scheduler: sum(
                        t.finish == "memory" and "route_sample" in str(t.key) for t in dask_scheduler.transition_log
                    )
                )
                busy = [w for w, keys in watcher.processing().items() if keys]
                if done >= 1 and busy:
                    name = watcher.scheduler_info()["workers"][busy[0]]["name"]
                    os.kill(cluster.workers[name].pid, signal.SIGKILL)
                    killed.append(name)
                    return
                time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_sweep_survives_a_killed_worker_with_results_equal_to_serial(
    cluster: LoopbackCluster, built: dict[str, Any]
) -> None:
    surface: CostSurface = built["surface"]
    ends: Landfalls = built["landfalls"]
    sc = built["scenario"]
    shared = sweep_input(sc, surface, ends)
    samples = perturbed_samples(["shallow", "deep", "slope", "hazards", "shipping"], 15, 0.3, seed=5)
    serial = run_sweep(route_sample, samples, shared=shared)
    killed: list[str] = []
    with Client(cluster.address, timeout=30) as client:
        watcher = _kill_a_busy_worker_after_the_first_result(cluster, killed)
        outcome = run_sweep(route_sample, samples, shared=shared, client=client)
        watcher.join(60)
        survivors = [w["name"] for w in client.scheduler_info()["workers"].values()]
    assert len(killed) == 1, "the watcher never saw a first result with a busy worker"
    assert cluster.workers[killed[0]].wait(timeout=10) == -signal.SIGKILL
    assert survivors == [n for n in ("w0", "w1") if n != killed[0]]
    assert outcome.where == cluster.address
    assert outcome.retried > 0
    assert len(outcome.results) == len(samples) >= 8
    for a, b in zip(serial.results, outcome.results, strict=True):
        assert (a.index, a.factors, a.cost, a.length_m) == (b.index, b.factors, b.cost, b.length_m)
        assert np.array_equal(a.path, b.path)
        assert np.array_equal(a.corridor, b.corridor)


def test_the_sweep_asset_runs_on_the_configured_scheduler(cluster: LoopbackCluster, built: dict[str, Any]) -> None:
    result = materialize_scenario(
        SCENARIO,
        built["settings"],
        selection=dg.AssetSelection.assets("route_weight_sweep"),
        dask=DaskResource(scheduler_address=cluster.address),
    )
    got = result.asset_value("route_weight_sweep")
    serial = weight_sweep(built["scenario"], built["surface"], built["landfalls"])
    assert got.where == cluster.address
    assert serial.where == ("serial" if local_threads() == 1 else f"{local_threads()} threads")  # here, on threads
    assert len(got.routes) == 16
    assert got.routes.drop(columns="geometry").equals(serial.routes.drop(columns="geometry"))
    assert got.routes.geometry.geom_equals_exact(serial.routes.geometry, tolerance=0).all()
    assert np.array_equal(got.frequency, serial.frequency)
    meta = result.asset_materializations_for_node("route_weight_sweep")[0].metadata
    assert meta["samples"].value == 16
    assert meta["where"].value == cluster.address
    # the stored value (the open store format, read back as the next step of a run would) is the same sweep
    (snapshot,) = [p.name for p in (built["root"] / "store" / SCENARIO).iterdir() if p.is_dir() and p.name != "runs"]
    folder = store.value_dir(built["root"] / "store", SCENARIO, "route_weight_sweep", snapshot=snapshot)
    value = store.read_value(folder, asset="route_weight_sweep", partition=SCENARIO).value
    assert value.retried == got.retried
    assert value.routes.drop(columns="geometry").equals(got.routes.drop(columns="geometry"))
    assert np.array_equal(value.frequency, got.frequency)
