"""Settings and scenario partitions: the one place the environment is read.

Every path the pipeline uses comes from :class:`CorridorSettings`, a Dagster resource built by :func:`settings_from_env`
from the environment variables in :data:`ENVIRONMENT` (each with its default). The library (``geodata``) never reads
the environment: it takes these values as arguments. ``assets`` and ``pipelines`` both import this module, and it
imports neither, so the wiring has no cycle.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
from upath import UPath

from geodata.errors import ConfigError, StoreLocationError
from geodata.preflight import default_memory_budget
from geodata.scenario import Scenario, load_scenario
from geodata.sources.catalogue import ResolvedSource, resolve

# The compiled raster kernels (numba ``parallel=True``, OpenMP threads) share two cores with GDAL's threads and,
# often, other processes: OpenMP's default is to spin while a thread waits, which on a busy machine burns the CPU
# the other thread needs (the cost stage at 100 m: 13.4 CPU-s spinning, 9.8 passive, same numbers). Set before the
# first parallel kernel starts the thread pool; an explicit OMP_WAIT_POLICY is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ENVIRONMENT: dict[str, tuple[str, str]] = {
    # field: (environment variable, default)
    "mirror_dir": ("CORRIDOR_MIRROR", ""),
    "cache_dir": ("CORRIDOR_CACHE", ".corridor_cache"),
    "output_dir": ("CORRIDOR_OUTPUT", "published"),
    "store_dir": ("CORRIDOR_STORE", ".corridor_store"),
    "scenarios_dir": ("CORRIDOR_SCENARIOS", ""),
    "node_modules_dir": ("CORRIDOR_NODE_MODULES", ""),
    "gdal_python": ("CORRIDOR_GDAL_PYTHON", "/usr/bin/python3"),
    "memory_budget_gb": ("CORRIDOR_MEMORY_BUDGET_GB", ""),
    "dask_scheduler": ("CORRIDOR_DASK_SCHEDULER", ""),
    "dagster_home": ("DAGSTER_HOME", ".dagster_home"),
}
"""Settings field -> (environment variable, default). README's "Where things go" documents each."""


class CorridorSettings(dg.ConfigurableResource):  # type: ignore[misc]
    """Paths the pipeline uses.

    ``mirror_dir`` (``CORRIDOR_MIRROR``) is a local folder holding the catalogue's files, read before the cache and
    before any download; ``cache_dir`` (``CORRIDOR_CACHE``) holds downloads; ``output_dir`` (``CORRIDOR_OUTPUT``) is
    the root of ``<scenario>/`` publications; ``store_dir`` (``CORRIDOR_STORE``) holds intermediate asset values, a
    local folder or any fsspec URL (``file:///srv/store``, ``memory://corridor/store``, ``s3://bucket/store`` with
    s3fs installed; :func:`store_location`);
    ``scenarios_dir`` (``CORRIDOR_SCENARIOS``) adds the analyst's own scenario files to the packaged ones;
    ``node_modules_dir`` (``CORRIDOR_NODE_MODULES``) holds the web map's JavaScript libraries (default: the
    repository's ``node_modules``); ``gdal_python`` (``CORRIDOR_GDAL_PYTHON``) is the Python that runs GDAL's
    ``validate_gpkg.py``; ``memory_budget_gb`` (``CORRIDOR_MEMORY_BUDGET_GB``) is the memory a run may use (default
    80 % of the machine's): a run estimated to need more is refused before it starts; ``dask_scheduler``
    (``CORRIDOR_DASK_SCHEDULER``) is the address of the dask scheduler sweeps run on, e.g. ``tcp://host:8786``, or
    ``local`` for a local cluster started per step (default: none, sweeps run serially;
    :class:`pipelines.dask_resource.DaskResource` connects to it);
    ``dagster_home`` (``DAGSTER_HOME``) is the Dagster instance (runs, event log) that ``corridor run`` records its
    runs in, the one ``make dev`` shows.
    """

    mirror_dir: str = ""
    cache_dir: str = ".corridor_cache"
    output_dir: str = "published"
    store_dir: str = ".corridor_store"
    scenarios_dir: str = ""
    node_modules_dir: str = ""
    gdal_python: str = "/usr/bin/python3"
    memory_budget_gb: str = ""
    dask_scheduler: str = ""
    dagster_home: str = ".dagster_home"

    @property
    def memory_budget_bytes(self) -> int:
        """The memory budget of a run in bytes (:func:`geodata.preflight.default_memory_budget` when unset)."""
        if not self.memory_budget_gb:
            return default_memory_budget()
        try:
            value = float(self.memory_budget_gb)
        except ValueError:
            raise ConfigError(
                f"CORRIDOR_MEMORY_BUDGET_GB={self.memory_budget_gb!r} is not a number of gigabytes; set e.g. 8"
            ) from None
        if value <= 0:
            raise ConfigError(f"CORRIDOR_MEMORY_BUDGET_GB={value} must be positive; set e.g. 8")
        return int(value * 1e9)

    @property
    def scenarios(self) -> Path | None:
        """The analyst's scenario folder, or None."""
        return Path(self.scenarios_dir).expanduser() if self.scenarios_dir else None

    def scenario(self, name: str) -> Scenario:
        return load_scenario(name, folder=self.scenarios)

    @property
    def mirror(self) -> Path | None:
        """The mirror folder, or None when not configured."""
        return Path(self.mirror_dir).expanduser() if self.mirror_dir else None

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir).expanduser()

    def resolve(self, source_name: str, scenario: Scenario) -> ResolvedSource:
        return resolve(source_name, mirror=self.mirror, cache=self.cache, verify=scenario.verify_checksums)

    @property
    def output_root(self) -> Path:
        return Path(self.output_dir).expanduser()

    @property
    def store_root(self) -> Path | UPath:
        """The intermediate store: a local :class:`~pathlib.Path`, or a :class:`~upath.UPath` on another fsspec
        file system (:func:`store_location`)."""
        return store_location(self.store_dir)

    @property
    def scratch_root(self) -> Path:
        """Where streamed stages write their rasters before the IO manager stores them: the store's ``.scratch/``
        when the store is local (so that storing is a rename), else a local temporary folder (GDAL writes local
        files; the IO manager uploads them)."""
        root = self.store_root
        if isinstance(root, Path):
            return root / SCRATCH
        user = os.getuid() if hasattr(os, "getuid") else os.getpid()
        return Path(tempfile.gettempdir()) / f"caspian-corridor-scratch-{user}"

    @property
    def node_modules(self) -> Path | None:
        return Path(self.node_modules_dir).expanduser() if self.node_modules_dir else None


SCRATCH = ".scratch"
"""Folder of a local store root where streamed stages write their rasters before the IO manager moves them into the
value's folder (a partition name cannot start with a dot, so it is never taken for a scenario)."""

LOCAL_PROTOCOLS = ("file", "local")
"""URL schemes of the local file system: the store is then a plain :class:`~pathlib.Path`, exactly as for a path."""


def store_location(value: str, *, setting: str = "CORRIDOR_STORE") -> Path | UPath:
    """The store root named by ``value``: a plain path (``~`` expanded) or a ``file://`` URL gives a local
    :class:`~pathlib.Path` (the store's local code path, unchanged); any other ``protocol://`` URL gives a
    :class:`~upath.UPath` on that fsspec file system (``memory://corridor/store``, ``s3://bucket/store``, ...).

    A protocol fsspec does not know, or one whose package is not installed (``s3://`` without s3fs), is a
    :class:`~geodata.errors.StoreLocationError` naming ``setting`` and the fix."""
    text = value.strip()
    if "://" not in text:
        return Path(text).expanduser()
    protocol = text.split("://", 1)[0].lower()
    if protocol in LOCAL_PROTOCOLS:
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise StoreLocationError(
                f"{setting}={value!r} names host {parts.netloc!r}; a file:// URL must be local "
                "(file:///absolute/path); use a network protocol (e.g. sftp://) or mount the share and give its path"
            )
        return Path(unquote(parts.path))
    import fsspec
    from fsspec.registry import known_implementations

    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        package = known_implementations.get(protocol, {}).get("class", "").split(".")[0] or protocol
        raise StoreLocationError(
            f"{setting}={value!r} needs the fsspec implementation of {protocol}:// ({exc}); install it into the "
            f"pipeline's environment (e.g. `pip install {package}`) or set {setting} to a local folder"
        ) from None
    except ValueError:
        raise StoreLocationError(
            f"{setting}={value!r}: fsspec knows no protocol {protocol!r}; use a local folder, a file:// URL or a "
            f"protocol fsspec knows (memory, s3, gs, az, sftp, ...; see fsspec.available_protocols())"
        ) from None
    return UPath(text)


def settings_from_env(environ: Mapping[str, str] | None = None) -> CorridorSettings:
    """The settings from ``environ`` (default: the process environment), each unset variable at its default."""
    env = os.environ if environ is None else environ
    return CorridorSettings(**{f: env.get(var) or default for f, (var, default) in ENVIRONMENT.items()})


SETTINGS = settings_from_env()
"""The settings of this code location, read once when it loads."""

EXECUTOR_ENV = "CORRIDOR_EXECUTOR"
EXECUTOR_MODES = ("in_process", "multiprocess")
"""The executor modes of the corridor jobs (``pipelines/executors.py``); a run's config may pick either."""


def executor_mode_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The default executor mode: ``CORRIDOR_EXECUTOR`` (``in_process`` when unset; the team profile sets
    ``multiprocess`` for backfills across scenarios)."""
    env = os.environ if environ is None else environ
    mode = (env.get(EXECUTOR_ENV) or "in_process").strip()
    if mode not in EXECUTOR_MODES:
        raise ConfigError(f"{EXECUTOR_ENV}={mode!r} is not an executor mode; set one of {', '.join(EXECUTOR_MODES)}")
    return mode


EXECUTOR_MODE = executor_mode_from_env()
"""The default executor mode of this code location, read once when it loads."""

PARTITIONS = dg.DynamicPartitionsDefinition(name="scenario")
"""One partition key per scenario file (packaged, then ``CORRIDOR_SCENARIOS``), registered in the Dagster instance
by ``pipelines/partitions.py`` (the partitions sensor, ``python -m pipelines.check``), so a new scenario file needs no
code change and no restart."""
