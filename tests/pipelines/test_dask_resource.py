"""The dask resource: no scheduler configured means serial (no client); a configured address gives a connected
client for the block and closes it; an address nobody answers on is a ConfigError naming the variable."""

from __future__ import annotations

import os
import socket

import dask
import pytest
from distributed import LocalCluster

from assets.config import settings_from_env
from geodata.errors import ConfigError
from geodata.sweep import WORKER_CONFIG
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


def test_local_starts_a_cluster_of_single_threaded_worker_processes_for_the_block_and_closes_it() -> None:
    from geodata.sweep import run_sweep

    assert settings_from_env({"CORRIDOR_DASK_SCHEDULER": "local"}).dask_scheduler == "local"
    with DaskResource(scheduler_address="local", local_workers=2).client() as client:
        assert client is not None
        workers = client.scheduler_info()["workers"].values()
        assert sorted(w["nthreads"] for w in workers) == [1, 1]
        settings = client.run(lambda: {k: dask.config.get(k) for k in WORKER_CONFIG})
        assert list(settings.values()) == [WORKER_CONFIG, WORKER_CONFIG]  # the sweep settings reached the workers
        assert dask.config.get("distributed.worker.profile.enabled") is True  # and did not outlive the start-up
        # glibc's malloc settings as in this (the serial) process: not dask's MALLOC_TRIM_THRESHOLD_=65536
        malloc = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert list(malloc.values()) == [os.environ.get("MALLOC_TRIM_THRESHOLD_")] * 2
        assert "65536" not in malloc.values()
        pids = set(client.run(os.getpid).values())
        assert len(pids | {os.getpid()}) == 3  # two worker processes besides this one
        outcome = run_sweep(lambda task, shared: divmod(task, shared), [7, 9, 11], shared=4, client=client)
        address = client.scheduler.address
    assert outcome.results == [(1, 3), (2, 1), (2, 3)] == [divmod(t, 4) for t in (7, 9, 11)]
    assert outcome.where == address
    assert client.status == "closed"
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as sock:
        assert sock.connect_ex((host, int(port))) != 0, "the local scheduler still listens after the block"


def test_a_negative_number_of_local_workers_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="local_workers=-1"):
        with DaskResource(scheduler_address="local", local_workers=-1).client():
            pass
