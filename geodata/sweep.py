"""Fan-out of independent tasks, expressed once: serial in this process, or on a ``dask.distributed`` client.

Every stage that fans out (scenario and weight sweeps, Monte Carlo realisations, chunked raster stages) calls
:func:`run_sweep` with a **top-level** function ``func(task, shared) -> result``. ``shared`` is the large read-only
input (a cost surface, a bathymetry grid); on a cluster it travels once, never once per task: written to one file
(:func:`write_shared`: a pickle whose arrays sit out of band, page-aligned) that each worker memory-maps when its first
task starts, when every worker sees the file (the same machine, or a shared folder; :func:`share_folders`:
``/dev/shm`` when it has room, else the temporary directory), else
scattered to every worker with ``broadcast=True``. Results stream back as tasks finish (not gathered at the end), and
the outcome's :class:`SweepTimings` say where the wall time went (sharing, first-task latency, per-task round trip,
workers idle at the end). Results come back in task order, so a sweep gives the same answer, seed for
seed, serially or on a cluster: a task must take its randomness from its own seed (in the task), never from global
state.

Worker failures. When a worker dies (killed, out of memory, its machine lost), the dask scheduler re-runs elsewhere
every task of the sweep that the worker was running, had been assigned, or held the result of (up to
``distributed.scheduler.allowed-failures`` deaths per task, default 3; beyond that the sweep fails with
:class:`SweepError`). :attr:`SweepOutcome.retried` counts those tasks, read on the scheduler from its ``remove-worker``
events, which name the keys each lost worker was processing and the computed keys it lost. ``retries`` is dask's
other retry: a task that *raises* is run again up to ``retries`` times (for transient errors such as a
network file system hiccup); those re-runs are not in :attr:`SweepOutcome.retried`.

Worker settings. :data:`WORKER_CONFIG` is the dask configuration the sweep's workers should run with (the
statistical profiler off, the event-loop tick and the system and memory monitors less frequent): with dask's defaults
an idle 2-worker cluster takes about 9 % of a core in its event loops (client, scheduler, nannies and workers), with
these settings under 2 %; on a machine whose cores all solve, that is solve time lost. It also keeps glibc's own
malloc thresholds in the worker processes, as in the process that runs a sweep serially: dask's nanny otherwise
starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``, which (any explicit value does) also pins glibc's mmap
threshold at 128 KiB, so that every array from 128 KiB up is a fresh ``mmap`` whose pages fault in and are zeroed
on first touch, and is unmapped when freed: measured on the 250 m weight sweep, 31 k page faults and 38 ms of system
time per sample against 0.4 k and 8 ms, 330 against 285 ms of CPU per sample, all of it in the worker and none in
the serial run (a worker then returns freed memory to the system less eagerly; the sweep's arrays are freed and
reused sample after sample). The local cluster of
:mod:`pipelines.dask_resource` applies it; for ``dask scheduler`` / ``dask worker`` processes pass
:func:`worker_environment` as their environment (or the same keys in a ``distributed.yaml``).

This module is the base's: it imports no stage and no dagster. ``dask.distributed`` is imported only when a client is
given.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import mmap
import os
import pickle
import struct
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, Literal, TypeVar

from geodata.errors import CorridorError

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}
"""dask settings for the processes of a sweep cluster (see the module): ``dask.config.set(WORKER_CONFIG)`` around a
``LocalCluster``, :func:`worker_environment` for ``dask`` command-line processes."""


def worker_environment() -> dict[str, str]:
    """:data:`WORKER_CONFIG` as the ``DASK_*`` environment variables a ``dask scheduler`` or ``dask worker`` reads.

    dask lower-cases the names of ``DASK_*`` variables, so a key naming an environment variable (upper case, such as
    ``...pre-spawn-environ.MALLOC_TRIM_THRESHOLD_``) travels as a dict literal on its parent key, which dask merges
    into its defaults with the case kept."""
    env: dict[str, str] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in WORKER_CONFIG.items():
        parent, _, leaf = key.rpartition(".")
        if leaf != leaf.lower():
            nested.setdefault(parent, {})[leaf] = value
        else:
            env[_dask_variable(key)] = str(value)
    for parent, values in nested.items():
        env[_dask_variable(parent)] = repr(values)
    return env


def _dask_variable(key: str) -> str:
    return "DASK_" + key.upper().replace(".", "__").replace("-", "_")


class SweepError(CorridorError):
    """A sweep could not finish on the dask cluster (workers kept dying, or the shared input was lost)."""


@dataclass(frozen=True)
class SweepTimings:
    """Where a cluster sweep's wall time went (seconds; worker times are wall-clock stamps taken on the worker, so
    with workers on other machines they are only as good as the clocks' agreement)."""

    share: str
    """How ``shared`` reached the workers: ``"file"`` (memory-mapped by each) or ``"scatter"`` (broadcast)."""
    folder: str
    """The folder of the shared file (``/dev/shm`` or the temporary directory; ``""`` when scattered)."""
    share_s: float
    """Client wall time to share it (write the file and check every worker sees it, or scatter and replicate)."""
    shared_mb: float
    submit_s: float
    """Client wall time to submit the tasks."""
    first_start_s: float
    """From the start of the sweep to the first task starting on a worker."""
    load_s: float
    """Worker time opening the shared file, summed over workers (outside the tasks; 0 when scattered)."""
    dispatch_gap_s: float
    """Worker time idle between two of its tasks, summed over workers."""
    result_latency_s: float
    """Mean time from a task's end on its worker to its result in this process (the per-task round trip)."""
    tail_idle_s: float
    """Worker time idle at the end (a worker done while another still solves), summed over workers."""
    collect_s: float
    """From the last result in to the sweep returning (releasing the inputs, counting retries)."""
    workers: int
    """Workers that ran a task whose result was kept."""


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
    timings: SweepTimings | None = None
    """Per-phase timings of a cluster sweep (None when serial)."""


def run_sweep(
    func: Callable[[T, S], R],
    tasks: Sequence[T],
    *,
    shared: S,
    client: Any | None = None,
    retries: int = 3,
    threads: int = 1,
    share: Literal["auto", "scatter"] = "auto",
) -> SweepOutcome[R]:
    """Run ``func(task, shared)`` for every task, serially when ``client`` is None, else on the dask client.

    ``threads`` (no client only): run the tasks on that many threads of this process, results still in task order
    (worth it when ``func`` spends its time in code that releases the GIL, such as ``nogil`` numba kernels; see
    :func:`local_threads`). The tasks and their results are the same whatever the number of threads.

    ``retries`` (cluster only) is how often a task that raised is run again before its error is raised here; a task
    whose error persists raises that error (dask re-raises the task's own exception). A worker death is retried by the
    scheduler whatever ``retries`` is, and counted in :attr:`SweepOutcome.retried`. ``share`` (cluster only):
    ``"auto"`` writes ``shared`` to a file (:func:`share_folders`) when every worker sees it there, else scatters
    it; ``"scatter"`` always scatters it.
    """
    if retries < 0:
        raise SweepError(f"retries={retries} must be 0 or more; pass the number of re-runs of a task that raised")
    if share not in ("auto", "scatter"):
        raise SweepError(f"share={share!r} must be 'auto' (a file when every worker sees it) or 'scatter'")
    start = time.perf_counter()
    if client is None:
        if threads > 1 and len(tasks) > 1:
            with ThreadPoolExecutor(max_workers=min(threads, len(tasks))) as pool:
                results = list(pool.map(lambda task: func(task, shared), tasks))
            return SweepOutcome(results, 0, f"{threads} threads", time.perf_counter() - start)
        results = [func(task, shared) for task in tasks]
        return SweepOutcome(results, 0, "serial", time.perf_counter() - start)
    return _run_on_client(func, tasks, shared=shared, client=client, retries=retries, share=share, start=start)


# -- the shared input as a file ---------------------------------------------------------------------------------------

_MAGIC = b"CORSWEEP"
_ALIGN = mmap.PAGESIZE


@dataclass(frozen=True)
class SharedFile:
    """A sweep's shared input written by :func:`write_shared`: what a task receives instead of the input itself."""

    path: str
    token: str
    nbytes: int
    digest: str = ""
    """sha256 of the file's pickle; a reader unpickles only bytes with this digest (it travels with the task, not in
    the file): nothing read from the file can run code unless it is exactly what this sweep wrote."""


SHM = Path("/dev/shm")  # noqa: S108 (each file named by a fresh uuid4 and created exclusively)
"""Where :func:`write_shared` puts a sweep's shared input when it fits (a RAM file system on Linux), else in the
temporary directory."""
SHM_HEADROOM = 0.5
"""Share of ``/dev/shm``'s free space that a shared input may take (a small ``/dev/shm``, as in a default
container, keeps the rest for others)."""


def share_folders(nbytes: int) -> list[Path]:
    """The folders :func:`write_shared` tries, in order, for ``nbytes``: ``/dev/shm`` when it is a writable
    directory with room (:data:`SHM_HEADROOM`), then the temporary directory.

    Why ``/dev/shm`` first: a file there is written into memory pages and mapped by the workers from them; in the
    temporary directory on a disk the same write also queues the pages for writeback, which (measured on the 100 MB
    input of a 250 m sweep) takes two to three times the wall and CPU time of the write, all of it before the first
    task can start."""
    folders = []
    try:
        if SHM.is_dir() and os.access(SHM, os.W_OK):
            st = os.statvfs(SHM)
            if nbytes <= SHM_HEADROOM * st.f_bavail * st.f_frsize:
                folders.append(SHM)
    except OSError:
        pass
    tmp = Path(tempfile.gettempdir())
    return [f for f in folders if f != tmp] + [tmp]


def write_shared(obj: Any, folder: str | Path | None = None) -> SharedFile:
    """Write ``obj`` to a new file in ``folder`` (None: the first of :func:`share_folders` that takes it): a header,
    the pickle (protocol 5) and, page-aligned, every contiguous array buffer of it, so that :func:`open_shared` maps
    them without a copy."""
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    token = uuid.uuid4().hex
    lengths = [r.nbytes for r in raws]
    digest = hashlib.sha256(payload).hexdigest()
    header = json.dumps({"token": token, "lengths": lengths, "payload": len(payload)}).encode() + payload
    offset = _aligned(len(_MAGIC) + 8 + len(header))
    offsets = []
    for n in lengths:
        offsets.append(offset)
        offset = _aligned(offset + n)
    folders = [Path(folder)] if folder is not None else share_folders(offset)
    for i, where in enumerate(folders):
        path = where / f"corridor-sweep-{token}.bin"
        try:  # exclusive (never through a planted file or link) and private to this user
            f = _create_private(path)
        except OSError:
            if i == len(folders) - 1:
                raise
            continue
        try:
            with f:
                f.write(_MAGIC + struct.pack("<Q", len(header)) + header)  # header: JSON, then the pickle
                for raw, at in zip(raws, offsets, strict=True):
                    f.seek(at)
                    f.write(raw)
                f.truncate(offset)
        except OSError:  # full (another process filled /dev/shm meanwhile): the next folder
            path.unlink(missing_ok=True)
            if i == len(folders) - 1:
                raise
            continue
        break
    return SharedFile(str(path), token, offset, digest)


def _create_private(path: Path) -> BinaryIO:
    """A new file at ``path`` for writing, created exclusively (never through a planted file or link), mode 0600."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _read_header(path: str) -> tuple[str, list[int], bytes, int]:
    with open(path, "rb") as f:
        head = f.read(len(_MAGIC) + 8)
        if len(head) < len(_MAGIC) + 8 or head[: len(_MAGIC)] != _MAGIC:
            raise SweepError(
                f"{path} is not a sweep's shared-input file; it was replaced or truncated: run the sweep again"
            )
        (size,) = struct.unpack("<Q", head[len(_MAGIC) :])
        header = f.read(size)
    try:
        meta, end = json.JSONDecoder().raw_decode(header.decode("utf-8", "replace"))
        token, lengths, n = str(meta["token"]), [int(x) for x in meta["lengths"]], int(meta["payload"])
        if not header[:end].isascii() or end + n != len(header):  # the JSON, then exactly the pickle
            raise ValueError("header and pickle sizes differ")
        payload = header[end:]
    except (ValueError, KeyError, TypeError) as err:
        raise SweepError(
            f"{path} is not a sweep's shared-input file ({err}); it was replaced or truncated: run the sweep again"
        ) from None
    return token, lengths, payload, _aligned(len(_MAGIC) + 8 + size)


def sees_shared(ref: SharedFile) -> bool:
    """Whether this process sees ``ref``'s file (the same path holds the same sweep's input)."""
    try:
        return os.path.getsize(ref.path) == ref.nbytes and _read_header(ref.path)[0] == ref.token
    except (OSError, SweepError):
        return False


_OPENED: OrderedDict[str, Any] = OrderedDict()
_OPENED_LOCK = threading.Lock()
_KEEP_OPEN = 2


def open_shared(ref: SharedFile) -> Any:
    """The object written by :func:`write_shared`, its arrays mapped from the file copy-on-write (writable, private
    on write, the pages shared with every process mapping the file until then) and touched once, so page faults are
    paid here, not in the tasks. Opened once per process and kept (the last two sweeps)."""
    with _OPENED_LOCK:
        if ref.token in _OPENED:
            _OPENED.move_to_end(ref.token)
            return _OPENED[ref.token]
        try:
            token, lengths, payload, offset = _read_header(ref.path)
            with open(ref.path, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        except OSError as err:
            raise SweepError(
                f"this worker cannot open the sweep's shared input {ref.path} ({err}): a worker that joined after the "
                "sweep started on another machine does not see the client's folder; run the sweep "
                "with share='scatter'"
            ) from err
        if token != ref.token:
            raise SweepError(f"{ref.path} holds another sweep's input; run the sweep again")
        if not ref.digest or hashlib.sha256(payload).hexdigest() != ref.digest:
            raise SweepError(
                f"{ref.path} was changed after the sweep wrote it (its pickle's sha256 differs); it is not read: "
                "run the sweep again, and keep other programs out of that folder"
            )
        view = memoryview(mapped)
        parts = []
        for n in lengths:
            parts.append(view[offset : offset + n])
            offset = _aligned(offset + n)
        for part in parts:  # fault the pages in now (one read per page)
            sum(part[::_ALIGN])
        obj = pickle.loads(payload, buffers=parts)  # noqa: S301 (this sweep's own bytes: sha256 checked above)
        _OPENED[ref.token] = obj
        while len(_OPENED) > _KEEP_OPEN:
            _OPENED.popitem(last=False)
        return obj


def forget_shared(token: str) -> None:
    """Drop this process's mapping of a sweep's shared input (run on every worker when the sweep ends)."""
    with _OPENED_LOCK:
        _OPENED.pop(token, None)


# -- the fan-out on a client ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ran:
    worker: str
    load_s: float
    start: float
    end: float


def _run_task(task: Any, fn: Callable[[Any, Any], Any], shared: Any) -> tuple[Any, _Ran]:
    """One task on a worker: ``fn(task, shared)`` after opening a shared file, with the worker's time stamps."""
    begin = time.time()
    if isinstance(shared, SharedFile):
        shared = open_shared(shared)
    opened = time.time()
    result = fn(task, shared)
    end = time.time()
    try:
        from distributed import get_worker

        worker = str(get_worker().address)
    except ValueError:
        worker = f"pid {os.getpid()}"
    return result, _Ran(worker, opened - begin, opened, end)


def _share(client: Any, shared: Any, share: str) -> tuple[Any, SharedFile | None, Any | None]:
    """(what tasks receive, the file or None, the scattered future or None)."""
    if share == "auto":
        ref = write_shared(shared)
        seen = client.run(sees_shared, ref, on_error="return")
        if seen and all(v is True for v in seen.values()):
            return ref, ref, None
        os.unlink(ref.path)
    # A one-element list, so that a shared list or dict travels as one object (scatter splits collections).
    [future] = client.scatter([shared], broadcast=True, hash=False)
    return future, None, future


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
    share: str,
    start: float,
) -> SweepOutcome[R]:
    from distributed import KilledWorker, as_completed

    address = str(getattr(client.scheduler, "address", "dask"))
    if not tasks:
        return SweepOutcome([], 0, address, time.perf_counter() - start)
    t0 = time.time()
    arg, ref, scattered = _share(client, shared, share)
    shared_at = time.time()
    name = getattr(func, "__name__", "task")
    keys = [f"{name}-{uuid.uuid4().hex}-{i}" for i in range(len(tasks))]
    futures = client.map(_run_task, list(tasks), key=keys, fn=func, shared=arg, pure=False, retries=retries)
    submitted = time.time()
    order = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    ran: list[tuple[_Ran, float]] = [None] * len(futures)  # type: ignore[list-item]
    try:
        for future, (result, stamp) in as_completed(futures, loop=client.loop, with_results=True):
            i = order[future.key]
            results[i], ran[i] = result, (stamp, time.time())
            future.release()  # its worker need not keep it: a worker lost later has nothing of it to re-run
    except KilledWorker as err:
        raise SweepError(
            f"a sweep task was running on every worker that died ({err}); the task itself may crash its worker "
            "(memory: see the dask dashboard) or the cluster is failing: give the workers more memory or fix them, "
            "then run the sweep again"
        ) from err
    finally:
        last_in = time.time()
        client.cancel([*futures, *([scattered] if scattered is not None else [])])
        if ref is not None:
            client.run(forget_shared, ref.token, on_error="ignore")
            os.unlink(ref.path)
    retried = len(client.run_on_scheduler(_lost_with_workers(), keys=keys))
    timings = _timings(ran, t0, shared_at, submitted, last_in, ref, shared)
    return SweepOutcome(results, retried, address, time.perf_counter() - start, timings)


def _timings(
    ran: list[tuple[_Ran, float]],
    t0: float,
    shared_at: float,
    submitted: float,
    last_in: float,
    ref: SharedFile | None,
    shared: Any,
) -> SweepTimings:
    per_worker: dict[str, list[_Ran]] = {}
    for stamp, _ in ran:
        per_worker.setdefault(stamp.worker, []).append(stamp)
    last_end = max(s.end for s, _ in ran)
    gaps = tail = 0.0
    for stamps in per_worker.values():
        stamps.sort(key=lambda s: s.start)
        gaps += sum(max(0.0, b.start - b.load_s - a.end) for a, b in itertools.pairwise(stamps))
        tail += last_end - stamps[-1].end
    return SweepTimings(
        share="file" if ref is not None else "scatter",
        folder=str(Path(ref.path).parent) if ref is not None else "",
        share_s=shared_at - t0,
        shared_mb=(ref.nbytes if ref is not None else _nbytes(shared)) / 1e6,
        submit_s=submitted - shared_at,
        first_start_s=min(s.start - s.load_s for s, _ in ran) - t0,
        load_s=sum(s.load_s for s, _ in ran),
        dispatch_gap_s=gaps,
        result_latency_s=sum(got - s.end for s, got in ran) / len(ran),
        tail_idle_s=tail,
        collect_s=time.time() - last_in,
        workers=len(per_worker),
    )


def _nbytes(obj: Any) -> int:
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    return len(payload) + sum(b.raw().nbytes for b in buffers)


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
