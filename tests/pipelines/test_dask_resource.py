"""The dask resource: no scheduler configured means serial (no client); a configured address gives a connected
client for the block and closes it; an address nobody answers on is a ConfigError naming the variable."""

from __future__ import annotations

import socket

import pytest
from distributed import LocalCluster

from assets.config import settings_from_env
from geodata.errors import ConfigError
from pipelines.dask_resource import DaskResource
from pipelines.definitions import defs


def test_serial_is_the_default() -> None:
    assert settings_from_env({}).dask_scheduler == ""
    with DaskResource().client() as client:
        assert client is None
    resource = defs.resources["dask"]
    assert isinstance(resource, DaskResource)


def test_the_address_comes_from_the_environment() -> None:
    settings = settings_from_env({"CORRIDOR_DASK_SCHEDULER": "tcp://10.0.0.5:8786"})
    assert settings.dask_scheduler == "tcp://10.0.0.5:8786"


def test_a_configured_scheduler_gives_a_connected_client_closed_after_the_block() -> None:
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with DaskResource(scheduler_address=cluster.scheduler_address).client() as client:
            assert client is not None
            assert client.scheduler.address == cluster.scheduler_address
            assert client.submit(sum, [1, 2, 3]).result() == 6
        assert client.status == "closed"


def test_an_unreachable_scheduler_names_the_variable_and_the_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed: nothing listens there
    resource = DaskResource(scheduler_address=f"tcp://127.0.0.1:{port}", connect_timeout_s=1.0)
    with pytest.raises(ConfigError, match=r"CORRIDOR_DASK_SCHEDULER='tcp://127\.0\.0\.1:\d+'.*unset"):
        with resource.client():
            pass
