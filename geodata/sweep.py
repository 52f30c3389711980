"""Fan-out of independent tasks, expressed once: serial in this process, or on a ``dask.distributed`` client.

Every stage that fans out (scenario and weight sweeps, Monte Carlo realisations, chunked raster stages) calls
:func:`run_sweep` with a **top-level** function ``func(task, shared) -> result``. ``shared`` is the large read-only
input (a cost surface, a bathymetry grid); on a cluster it travels once (scattered to the workers), never once per
task. Results come back in task order, so a sweep gives the same answer, seed for seed, serially or on a cluster:
a task must take its randomness from its own seed (in the task), never from global state.

This module is the base's: it imports no stage and no dagster. ``dask.distributed`` is imported only when a client is
given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


@dataclass(frozen=True)
class SweepOutcome(Generic[R]):
    """The results of a sweep, in task order, and how it ran."""

    results: list[R]
    retried: int
    """Tasks that were run again after a worker failed (0 when run serially)."""
    where: str
    """``"serial"``, or the scheduler address of the dask client."""
    wall_s: float


def run_sweep(
    func: Callable[[T, S], R],
    tasks: Sequence[T],
    *,
    shared: S,
    client: Any | None = None,
    retries: int = 3,
) -> SweepOutcome[R]:
    """Run ``func(task, shared)`` for every task, serially when ``client`` is None, else on the dask client."""
    start = time.perf_counter()
    if client is None:
        results = [func(task, shared) for task in tasks]
        return SweepOutcome(results, 0, "serial", time.perf_counter() - start)
    return _run_on_client(func, tasks, shared=shared, client=client, retries=retries, start=start)


def _run_on_client(
    func: Callable[[T, S], R],
    tasks: Sequence[T],
    *,
    shared: S,
    client: Any,
    retries: int,
    start: float,
) -> SweepOutcome[R]:
    shared_future = client.scatter(shared, broadcast=True)
    futures = client.map(func, list(tasks), shared=shared_future, pure=False, retries=retries)
    results = client.gather(futures)
    address = str(getattr(client.scheduler, "address", "dask"))
    return SweepOutcome(list(results), 0, address, time.perf_counter() - start)
