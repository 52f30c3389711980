"""The dask resource: a ``dask.distributed`` client for the configured scheduler, or none (serial, the default).

``CORRIDOR_DASK_SCHEDULER`` (read by :mod:`assets.config`, wired in :mod:`pipelines.definitions`) is the address of
an existing scheduler, e.g. ``tcp://10.0.0.5:8786``; ``local`` starts a ``distributed.LocalCluster`` on this machine
for the step (one single-threaded worker process per core, or ``local_workers``, with
:data:`geodata.sweep.WORKER_CONFIG`: no statistical profiler, a slower tick and slower monitors) and closes it
after; unset, every sweep runs serially in the step's process. The scheduler's workers must run this project's
environment (the same ``geodata`` and dask versions): they import the sweep's task function; start them with
:func:`geodata.sweep.worker_environment` in their environment for the same settings as the local cluster.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from geodata.errors import ConfigError

LOCAL = "local"
"""The ``CORRIDOR_DASK_SCHEDULER`` value that starts a local cluster for each step that fans out."""


_CLUSTER_START = threading.Lock()
"""Held while a local cluster starts under the sweep's dask config."""


class DaskResource(dg.ConfigurableResource):  # type: ignore[misc]
    """``scheduler_address``: the dask scheduler sweeps run on (``""``: serially, in the step's process).

    ``"local"``: a ``LocalCluster`` of ``local_workers`` worker processes (0: one per core), one thread each,
    started for the ``with`` block of :meth:`client` and closed after it. ``connect_timeout_s`` bounds how long
    :meth:`client` waits for the scheduler before refusing the step."""

    scheduler_address: str = ""
    connect_timeout_s: float = 20.0
    local_workers: int = 0

    @contextmanager
    def client(self) -> Iterator[Any | None]:
        """A ``distributed.Client`` connected to the scheduler for the ``with`` block (closed after it), or None."""
        if not self.scheduler_address:
            yield None
            return
        from distributed import Client

        if self.scheduler_address == LOCAL:
            yield from self._local_client()
            return

        try:
            client = Client(self.scheduler_address, timeout=self.connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise ConfigError(
                f"CORRIDOR_DASK_SCHEDULER={self.scheduler_address!r}: no dask scheduler answered within "
                f"{self.connect_timeout_s:g} s ({err}); start one (`dask scheduler`, plus `dask worker <address>`) "
                "or unset CORRIDOR_DASK_SCHEDULER to run sweeps serially"
            ) from err
        try:
            yield client
        finally:
            client.close()

    def _local_client(self) -> Iterator[Any]:
        import dask
        from distributed import Client, LocalCluster

        from geodata.sweep import WORKER_CONFIG

        if self.local_workers < 0:
            raise ConfigError(
                f"local_workers={self.local_workers}: give the number of local dask workers (0: one per core)"
            )
        workers = self.local_workers or os.cpu_count() or 1
        # read by the scheduler and nannies here, passed to the worker processes; dask's config is process-wide, so
        # two steps side by side (pipelines/executors.py) start their clusters one at a time
        with _CLUSTER_START, dask.config.set(WORKER_CONFIG):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        with cluster, Client(cluster, set_as_default=False) as client:
            yield client
