"""The dask resource: a ``dask.distributed`` client for the configured scheduler, or none (serial, the default).

``CORRIDOR_DASK_SCHEDULER`` (read by :mod:`assets.config`, wired in :mod:`pipelines.definitions`) is the address of
an existing scheduler, e.g. ``tcp://10.0.0.5:8786``; unset, every sweep runs serially in the step's process. The
scheduler's workers must run this project's environment (the same ``geodata`` and dask versions): they import the
sweep's task function.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from geodata.errors import ConfigError


class DaskResource(dg.ConfigurableResource):  # type: ignore[misc]
    """``scheduler_address``: the dask scheduler sweeps run on (``""``: serially, in the step's process).

    ``connect_timeout_s`` bounds how long :meth:`client` waits for the scheduler before refusing the step."""

    scheduler_address: str = ""
    connect_timeout_s: float = 20.0

    @contextmanager
    def client(self) -> Iterator[Any | None]:
        """A ``distributed.Client`` connected to the scheduler for the ``with`` block (closed after it), or None."""
        if not self.scheduler_address:
            yield None
            return
        from distributed import Client

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
