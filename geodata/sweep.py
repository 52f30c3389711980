"""Fan-out of independent tasks, expressed once: serial in this process, or on a ``dask.distributed`` client.

Every stage that fans out (scenario and weight sweeps, Monte Carlo realisations, chunked raster stages) calls
:func:`run_sweep` with a **top-level** function ``func(task, shared) -> result``. ``shared`` is the large read-only
input (a cost surface, a bathymetry grid); on a cluster it travels once (scattered to every worker with
``broadcast=True``), never once per task. Results come back in task order, so a sweep gives the same answer, seed for
seed, serially or on a cluster: a task must take its randomness from its own seed (in the task), never from global
state.

Worker failures. When a worker dies (killed, out of memory, its machine lost), the dask scheduler re-runs elsewhere
every task of the sweep that the worker was running, had been assigned, or held the result of (up to
``distributed.scheduler.allowed-failures`` deaths per task, default 3; beyond that the sweep fails with
:class:`SweepError`). :attr:`SweepOutcome.retried` counts those tasks, read on the scheduler from its ``remove-worker``
events, which name the keys each lost worker was processing and the computed keys it lost. ``retries`` is dask's
other retry: a task that *raises* is run again up to ``retries`` times (for transient errors such as a
network file system hiccup); those re-runs are not in :attr:`SweepOutcome.retried`.

This module is the base's: it imports no stage and no dagster. ``dask.distributed`` is imported only when a client is
given.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from geodata.errors import CorridorError

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


class SweepError(CorridorError):
    """A sweep could not finish on the dask cluster (workers kept dying, or the shared input was lost)."""


@dataclass(frozen=True)
class SweepOutcome(Generic[R]):
    """The results of a sweep, in task order, and how it ran."""

    results: list[R]
    retried: int
    """Tasks the scheduler ran again because a worker died while running, holding or being assigned them (0 when run
    serially). Re-runs after a task raised (``retries``) are not counted."""
    where: str
    """``"serial"``, ``"<n> threads"`` (a local sweep on threads) or the scheduler address of the dask client."""
    wall_s: float


def run_sweep(
    func: Callable[[T, S], R],
    tasks: Sequence[T],
    *,
    shared: S,
    client: Any | None = None,
    retries: int = 3,
    threads: int = 1,
) -> SweepOutcome[R]:
    """Run ``func(task, shared)`` for every task, serially when ``client`` is None, else on the dask client.

    ``threads`` (no client only): run the tasks on that many threads of this process, results still in task order
    (worth it when ``func`` spends its time in code that releases the GIL, such as ``nogil`` numba kernels; see
    :func:`local_threads`). The tasks and their results are the same whatever the number of threads.

    ``retries`` (cluster only) is how often a task that raised is run again before its error is raised here; a task
    whose error persists raises that error (dask re-raises the task's own exception). A worker death is retried by the
    scheduler whatever ``retries`` is, and counted in :attr:`SweepOutcome.retried`.
    """
    if retries < 0:
        raise SweepError(f"retries={retries} must be 0 or more; pass the number of re-runs of a task that raised")
    start = time.perf_counter()
    if client is None:
        if threads > 1 and len(tasks) > 1:
            with ThreadPoolExecutor(max_workers=min(threads, len(tasks))) as pool:
                results = list(pool.map(lambda task: func(task, shared), tasks))
            return SweepOutcome(results, 0, f"{threads} threads", time.perf_counter() - start)
        results = [func(task, shared) for task in tasks]
        return SweepOutcome(results, 0, "serial", time.perf_counter() - start)
    return _run_on_client(func, tasks, shared=shared, client=client, retries=retries, start=start)


def local_threads() -> int:
    """The cores this process may run on (its CPU affinity): the thread count of a local sweep."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _run_on_client(
    func: Callable[[T, S], R],
    tasks: Sequence[T],
    *,
    shared: S,
    client: Any,
    retries: int,
    start: float,
) -> SweepOutcome[R]:
    from distributed import KilledWorker

    address = str(getattr(client.scheduler, "address", "dask"))
    if not tasks:
        return SweepOutcome([], 0, address, time.perf_counter() - start)
    # A one-element list, so that a shared list or dict travels as one object (scatter splits collections).
    [shared_future] = client.scatter([shared], broadcast=True, hash=False)
    futures = client.map(func, list(tasks), shared=shared_future, pure=False, retries=retries)
    try:
        results = client.gather(futures)
    except KilledWorker as err:
        raise SweepError(
            f"a sweep task was running on every worker that died ({err}); the task itself may crash its worker "
            "(memory: see the dask dashboard) or the cluster is failing: give the workers more memory or fix them, "
            "then run the sweep again"
        ) from err
    finally:
        client.cancel([*futures, shared_future])
    retried = len(client.run_on_scheduler(_lost_with_workers(), keys=[f.key for f in futures]))
    return SweepOutcome(list(results), retried, address, time.perf_counter() - start)


def _lost_with_workers() -> Callable[..., list[Any]]:
    """A function for ``Client.run_on_scheduler``: which of ``keys`` a removed worker was processing or held as
    computed results (so the scheduler ran them again), from the scheduler's ``remove-worker`` events.

    It runs on the scheduler, reading the events there: ``Client.get_events("all")`` would ship every event to the
    client, and a ``replicate`` event (which a broadcast scatter logs) holds scheduler objects that do not serialise.
    It is defined inside this function so that cloudpickle sends it by value: the scheduler needs no ``geodata``.
    """

    def lost(dask_scheduler: Any, keys: list[Any]) -> list[Any]:
        wanted = set(keys)
        found: set[Any] = set()
        for _, event in dask_scheduler.get_events("all"):
            if isinstance(event, dict) and event.get("action") == "remove-worker":
                for field in ("processing-tasks", "lost-computed-tasks"):
                    found |= wanted.intersection(event.get(field) or ())
        return sorted(found, key=str)

    return lost
