"""The fan-out seam: serial runs keep task order and pass ``shared`` to every task; a dask client (an in-process
``LocalCluster``) gives the same results in the same order, scatters ``shared`` once, and counts the tasks re-run
after a worker was lost."""

from __future__ import annotations

import json
import mmap
import os
import pickle  # only to craft a hostile file
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster

from geodata.sweep import (
    SHM,
    WORKER_CONFIG,
    SharedFile,
    SweepError,
    forget_shared,
    open_shared,
    run_sweep,
    sees_shared,
    share_folders,
    worker_environment,
    write_shared,
)


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
    tasks = [(seed, 1.0) for seed in range(12)]
    outcome = run_sweep(_scaled_sum, tasks, shared=np.ones((50, 50)), client=client, share="scatter")
    scatters = _actions(client, "scatter")[before:]
    assert [s["count"] for s in scatters] == [1]
    assert len(_actions(client, "replicate")) == replicated + 1  # broadcast: a copy on every worker
    assert outcome.timings is not None
    assert outcome.timings.share == "scatter"
    assert outcome.results == run_sweep(_scaled_sum, tasks, shared=np.ones((50, 50))).results


def _shared_files() -> set[str]:
    folders = {SHM, Path(tempfile.gettempdir())}
    return {str(p) for folder in folders if folder.is_dir() for p in folder.glob("corridor-sweep-*.bin")}


def test_workers_that_see_the_temporary_directory_map_one_file_instead_of_a_scatter(client: Client) -> None:
    before, files = len(_actions(client, "scatter")), _shared_files()
    shared = {"a": np.arange(600.0).reshape(20, 30), "b": np.asfortranarray(np.ones((7, 3), "float32")), "n": 3}
    tasks = [(seed, 1.0 + seed / 7) for seed in range(10)]
    outcome = run_sweep(_scaled_dict, tasks, shared=shared, client=client)
    assert outcome.results == run_sweep(_scaled_dict, tasks, shared=shared).results
    assert len(_actions(client, "scatter")) == before  # nothing scattered
    timings = outcome.timings
    assert timings is not None
    assert timings.share == "file"
    assert timings.folder == str(share_folders(int(timings.shared_mb * 1e6))[0])
    assert timings.shared_mb >= shared["a"].nbytes / 1e6
    assert 1 <= timings.workers <= 2
    assert timings.first_start_s >= timings.share_s + timings.submit_s - 1e-3
    assert timings.result_latency_s >= 0
    assert timings.tail_idle_s >= 0
    assert timings.dispatch_gap_s >= 0
    assert _shared_files() == files, "the shared file must be removed when the sweep ends"
    assert not client.futures


def _scaled_dict(task: tuple[int, float], shared: dict[str, Any]) -> float:
    return _scaled_sum(task, shared["a"]) + float(shared["b"].sum()) * shared["n"]


def test_a_shared_file_round_trips_arrays_without_copying_them_in(tmp_path: Path) -> None:
    shared = {"x": np.arange(10_000, dtype="float32").reshape(100, 100), "fortran": np.asfortranarray(np.eye(5))}
    ref = write_shared(shared, tmp_path)
    assert ref.nbytes % mmap.PAGESIZE == 0
    assert sees_shared(ref)
    got = open_shared(ref)
    assert open_shared(ref) is got  # opened once per process
    assert np.array_equal(got["x"], shared["x"])
    assert got["x"].dtype == np.float32
    assert np.array_equal(got["fortran"], shared["fortran"])
    assert got["fortran"].flags.f_contiguous
    base = got["x"]
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview)  # a view of the mapped file, not unpickled into new memory
    got["x"][0, 0] = -1.0  # copy-on-write: writable here, the file unchanged
    forget_shared(ref.token)
    assert open_shared(ref)["x"][0, 0] == 0.0
    forget_shared(ref.token)
    other = SharedFile(ref.path, "0" * 32, ref.nbytes)
    assert not sees_shared(other)
    with pytest.raises(SweepError, match="another sweep"):
        open_shared(other)
    missing = SharedFile(str(tmp_path / "gone.bin"), ref.token, ref.nbytes)
    assert not sees_shared(missing)
    with pytest.raises(SweepError, match="share='scatter'"):
        open_shared(missing)


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (Path(self.path),))


def test_a_changed_shared_file_is_refused_before_anything_is_unpickled(tmp_path: Path) -> None:
    """The file's pickle is unpickled only when its sha256 is the one the task carries (it travels through dask, not
    in the file): a pickle planted in the file, even with the right token and sizes, never runs."""
    ref = write_shared({"x": np.arange(5.0)}, tmp_path)
    assert os.stat(ref.path).st_mode & 0o777 == 0o600  # private to this user
    data = Path(ref.path).read_bytes()
    header_size = int.from_bytes(data[8:16], "little")
    header = data[16 : 16 + header_size]
    end = header.index(b"}") + 1
    meta = json.loads(header[:end])
    marker = tmp_path / "ran"
    evil = pickle.dumps(_Evil(str(marker)), protocol=5)
    meta["payload"] = len(evil)
    forged = json.dumps(meta).encode() + evil
    rest = data[16 + header_size :]
    Path(ref.path).write_bytes(data[:8] + len(forged).to_bytes(8, "little") + forged + rest)
    with pytest.raises(SweepError, match="changed after the sweep wrote it"):
        open_shared(ref)
    assert not marker.exists()
    with pytest.raises(SweepError, match="changed after the sweep wrote it"):
        open_shared(SharedFile(ref.path, ref.token, ref.nbytes))  # a reference without a digest reads nothing
    Path(ref.path).write_bytes(data[:16] + b'{"token": 1' + data[27:])
    with pytest.raises(SweepError, match="not a sweep's shared-input file"):
        open_shared(ref)
    assert not marker.exists()


def test_the_shared_file_goes_to_dev_shm_when_it_has_room_else_to_the_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geodata.sweep as sweep_module

    shm, tmp = tmp_path / "shm", tmp_path / "tmp"
    shm.mkdir()
    tmp.mkdir()
    monkeypatch.setattr(sweep_module, "SHM", shm)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    st = os.statvfs(shm)
    room = int(sweep_module.SHM_HEADROOM * st.f_bavail * st.f_frsize)
    assert share_folders(1 << 20) == [shm, tmp]
    assert share_folders(room + 1) == [tmp]  # too large for the room left: straight to the temporary directory
    ref = write_shared({"x": np.arange(5.0)})
    assert Path(ref.path).parent == shm
    assert np.array_equal(open_shared(ref)["x"], np.arange(5.0))
    forget_shared(ref.token)
    os.unlink(ref.path)

    def full(path: Path) -> Any:
        handle = real_create(path)
        if path.parent == shm:
            real_write = handle.write

            class Full:
                def __enter__(self) -> Any:
                    return self

                def __exit__(self, *exc: Any) -> None:
                    handle.close()

                def write(self, data: Any) -> int:
                    if len(data) > 100:
                        raise OSError(28, "No space left on device")
                    return int(real_write(data))

                def seek(self, at: int) -> int:
                    return int(handle.seek(at))

                def truncate(self, at: int) -> int:
                    return int(handle.truncate(at))

            return Full()
        return handle

    real_create = sweep_module._create_private
    monkeypatch.setattr(sweep_module, "_create_private", full)
    ref = write_shared({"x": np.arange(1000.0)})  # /dev/shm filled up meanwhile: written to the temporary directory
    assert Path(ref.path).parent == tmp
    assert not list(shm.iterdir()), "the partial file in /dev/shm must be removed"
    assert np.array_equal(open_shared(ref)["x"], np.arange(1000.0))
    forget_shared(ref.token)


def test_an_unknown_share_mode_is_refused() -> None:
    with pytest.raises(SweepError, match="share='copy'"):
        run_sweep(_scaled_sum, [(0, 1.0)], shared=np.zeros(2), share="copy")  # type: ignore[arg-type]


def test_worker_environment_is_the_worker_config_as_dask_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    env = worker_environment()
    assert env["DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"] == "False"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fresh = dask.config.collect(env=dict(os.environ))
    for key, value in WORKER_CONFIG.items():
        assert dask.config.get(key, config=fresh) == value


def test_a_dask_worker_started_with_the_worker_environment_keeps_glibc_malloc_defaults() -> None:
    """What a ``dask worker``'s nanny reads, in a fresh interpreter with :func:`worker_environment` (dask lower-cases
    ``DASK_*`` names: the upper-case variable must survive): no MALLOC_TRIM_THRESHOLD_ for the worker process, dask's
    other pre-spawn settings (one OpenMP/BLAS thread per one-thread worker) kept."""
    import json
    import subprocess
    import sys

    code = "import json, dask, distributed; print(json.dumps(dask.config.get('distributed.nanny.pre-spawn-environ')))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    plain = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True).stdout)
    assert plain["MALLOC_TRIM_THRESHOLD_"] == 65536  # dask's default, which the sweep's workers must not get
    env.update(worker_environment())
    got = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True).stdout)
    assert got["MALLOC_TRIM_THRESHOLD_"] is None  # None: the nanny sets no such variable
    assert {k: v for k, v in got.items() if k != "MALLOC_TRIM_THRESHOLD_"} == {
        k: v for k, v in plain.items() if k != "MALLOC_TRIM_THRESHOLD_"
    }


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
