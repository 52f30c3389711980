"""The fan-out seam: serial runs keep task order and pass ``shared`` to every task; a dask client (an in-process
``LocalCluster``) gives the same results in the same order, scatters ``shared`` once, and counts the tasks re-run
after a worker was lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster

from geodata.sweep import SweepError, run_sweep


def _scaled_sum(task: tuple[int, float], shared: np.ndarray) -> float:
    seed, factor = task
    noise = np.random.default_rng(seed).normal(size=shared.shape)
    return float(((shared + noise) * factor).sum())


FINISHED = threading.Event()
"""Set by :func:`_slow` when a task finishes (the in-process workers share this module)."""


def _slow(task: int, shared: np.ndarray) -> float:
    time.sleep(0.3)
    FINISHED.set()
    return float(shared.sum() * task)


def _fails_on_three(task: int, shared: np.ndarray) -> float:
    if task == 3:
        raise KeyError(f"task {task} has no value")
    return float(task)


def test_serial_sweep_keeps_order_and_is_reproducible() -> None:
    shared = np.arange(12.0).reshape(3, 4)
    tasks = [(seed, 1.0 + seed / 10) for seed in range(5)]
    first = run_sweep(_scaled_sum, tasks, shared=shared)
    second = run_sweep(_scaled_sum, list(reversed(tasks)), shared=shared)
    assert first.where == "serial"
    assert first.retried == 0
    assert first.results == [_scaled_sum(t, shared) for t in tasks]
    assert second.results == list(reversed(first.results))


def _which_thread(task: int, shared: threading.Barrier) -> tuple[int, int]:
    if task < 2:
        shared.wait(timeout=10)  # the first two tasks run at the same time, or this times out
    return task * task, threading.get_ident()


def test_a_local_sweep_on_threads_keeps_task_order_and_runs_tasks_side_by_side() -> None:
    tasks = list(range(7))
    out = run_sweep(_which_thread, tasks, shared=threading.Barrier(2), threads=2)
    assert out.where == "2 threads"
    assert [r[0] for r in out.results] == [t * t for t in tasks]
    assert len({r[1] for r in out.results[:2]}) == 2  # two threads
    shared = np.arange(12.0).reshape(3, 4)
    seeded = [(seed, 1.0 + seed / 10) for seed in range(5)]
    assert run_sweep(_scaled_sum, seeded, shared=shared, threads=3).results == [_scaled_sum(t, shared) for t in seeded]


def test_negative_retries_are_refused() -> None:
    with pytest.raises(SweepError, match="retries=-1"):
        run_sweep(_scaled_sum, [(0, 1.0)], shared=np.zeros(2), retries=-1)


def _cluster(**config: Any) -> tuple[LocalCluster, Client]:
    with dask.config.set(config):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    return cluster, Client(cluster)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster, client = _cluster()
    yield client
    client.close()
    cluster.close()


def _actions(client: Client, action: str) -> list[dict[str, Any]]:
    return [e for _, e in client.get_events("all") if isinstance(e, dict) and e.get("action") == action]


def test_cluster_results_equal_serial_in_task_order(client: Client) -> None:
    shared = np.arange(600.0).reshape(20, 30)
    tasks = [(seed, 1.0 + seed / 7) for seed in range(16)]
    serial = run_sweep(_scaled_sum, tasks, shared=shared)
    on_cluster = run_sweep(_scaled_sum, tasks, shared=shared, client=client)
    assert on_cluster.results == serial.results
    assert on_cluster.where == client.scheduler.address
    assert on_cluster.retried == 0
    assert not client.futures, "the sweep must release its futures and the scattered input"


def test_shared_is_scattered_once_to_every_worker_not_per_task(client: Client) -> None:
    before = len(_actions(client, "scatter"))
    replicated = len(_actions(client, "replicate"))
    run_sweep(_scaled_sum, [(seed, 1.0) for seed in range(12)], shared=np.ones((50, 50)), client=client)
    scatters = _actions(client, "scatter")[before:]
    assert [s["count"] for s in scatters] == [1]
    assert len(_actions(client, "replicate")) == replicated + 1  # broadcast: a copy on every worker


def test_a_shared_list_travels_as_one_object(client: Client) -> None:
    shared = [np.arange(3.0), np.arange(3.0) * 2]

    outcome = run_sweep(_sum_of_list, [1, 2], shared=shared, client=client)
    assert outcome.results == [9.0, 18.0]


def _sum_of_list(task: int, shared: list[np.ndarray]) -> float:
    return float(sum(a.sum() for a in shared) * task)


def test_a_task_error_is_the_task_s_own_after_its_retries(client: Client) -> None:
    with pytest.raises(KeyError, match="task 3 has no value"):
        run_sweep(_fails_on_three, list(range(6)), shared=np.zeros(1), client=client, retries=1)
    assert not client.futures


def test_an_empty_sweep_on_a_cluster(client: Client) -> None:
    outcome = run_sweep(_scaled_sum, [], shared=np.zeros(1), client=client)
    assert outcome.results == []
    assert outcome.retried == 0


def _close_a_worker_after_the_first_result(cluster: LocalCluster) -> threading.Thread:
    def close() -> None:
        assert FINISHED.wait(30)
        worker = next(iter(cluster.workers.values()))
        cluster.sync(worker.close)

    FINISHED.clear()
    thread = threading.Thread(target=close, daemon=True)
    thread.start()
    return thread


def test_a_lost_worker_s_tasks_are_rerun_and_counted() -> None:
    cluster, client = _cluster()
    try:
        shared = np.arange(10.0)
        tasks = list(range(8))  # 8 x 0.3 s on 2 one-thread workers: both are busy when the first result is in
        closer = _close_a_worker_after_the_first_result(cluster)
        outcome = run_sweep(_slow, tasks, shared=shared, client=client)
        closer.join(30)
        assert outcome.results == [float(shared.sum() * t) for t in tasks]
        assert len(client.scheduler_info()["workers"]) == 1
        removed = _actions(client, "remove-worker")
        assert len(removed) == 1
        lost = set(removed[0]["processing-tasks"]) | set(removed[0]["lost-computed-tasks"])
        assert outcome.retried == len(lost) >= 1
    finally:
        client.close()
        cluster.close()


def test_a_task_outliving_its_allowed_worker_failures_is_a_sweep_error() -> None:
    cluster, client = _cluster(**{"distributed.scheduler.allowed-failures": 0})
    try:
        closer = _close_a_worker_after_the_first_result(cluster)
        with pytest.raises(SweepError, match="every worker that died"):
            run_sweep(_slow, list(range(8)), shared=np.arange(10.0), client=client)
        closer.join(30)
        assert not client.futures
    finally:
        client.close()
        cluster.close()
