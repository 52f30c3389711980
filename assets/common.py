"""What every stage's assets share: the scenario of the partition, and library results as Dagster metadata/checks."""

from __future__ import annotations

import math
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
from dagster import DagsterRun
from upath import UPath

from assets.config import CorridorSettings
from geodata.bathymetry import analysis_grid
from geodata.checks import CheckResult
from geodata.engineering import landfall
from geodata.errors import ConfigError, StorageError
from geodata.geodesy import GEOD
from geodata.preflight import (
    RunEstimate,
    check_memory_budget,
    check_output_folder,
    check_refinement_budget,
    check_writable_folder,
    count_features,
    estimate_run,
    refinement_band_cells,
    refinement_room,
    storage_error,
)
from geodata.scenario import Scenario
from geodata.sources.snapshot import ScenarioSnapshot, take_snapshot

DEFERRED = {"corridor/deferred": True}
"""``AssetIn`` metadata asking the IO manager for a :class:`Deferred` instead of the value: an asset that needs an input
only in some scenarios (refined_route without a ``survey:`` section) does not read it (the cost surface: 100 MB and
its sidecars' hashes at 100 m)."""


class Deferred:
    """An input handed on unread: :meth:`get` loads it the first time (the IO manager's load, its checks and its
    provenance record included). An IO manager that does not defer hands the value itself; :func:`resolve` takes
    either."""

    is_corridor_deferred = True
    """What :func:`resolve` looks for (not the class itself: a test that reloads this module leaves the IO manager
    with the class of the first load)."""

    def __init__(self, load: Any) -> None:
        self._load = load
        self._value: Any = None
        self._loaded = False

    def get(self) -> Any:
        if not self._loaded:
            self._value, self._loaded = self._load(), True
        return self._value


def resolve(value: Any) -> Any:
    """The value of an input that may be :class:`Deferred`."""
    return value.get() if getattr(type(value), "is_corridor_deferred", False) else value


def scenario_of(context: dg.AssetExecutionContext, settings: CorridorSettings) -> Scenario:
    """The scenario of the run's partition, as the run's snapshot holds it (see :func:`run_snapshot`)."""
    return run_snapshot(settings, context.partition_key, context.run).scenario


RESUME_TAGS = ("dagster/is_resume_retry", "dagster/is_asset_resume_retry")
"""Tags Dagster sets on a re-execution from (asset) failure."""


def snapshot_parent(run: DagsterRun | str) -> str | None:
    """The run whose snapshot ``run`` continues: its parent when it re-executes part of it (from failure, from asset
    failure, or selected steps), so that it finds the values the parent stored; None for a new run and for a
    re-execution of every step, which is a new run of the scenario as it is now."""
    if isinstance(run, str) or run.parent_run_id is None:
        return None
    resumed = any(run.tags.get(t) == "true" for t in RESUME_TAGS)
    return run.parent_run_id if resumed or run.step_keys_to_execute is not None else None


def snapshot_path(store_root: Path | UPath, scenario_name: str, run_id: str) -> Path | UPath:
    """Where run ``run_id``'s snapshot of ``scenario_name`` is stored: ``<store>/<scenario>/runs/<run id>.json``."""
    return store_root / scenario_name / "runs" / f"{run_id}.json"


def run_snapshot(
    settings: CorridorSettings, scenario_name: str, run: DagsterRun | str, *, checks: bool = True
) -> ScenarioSnapshot:
    """The one snapshot of scenario ``scenario_name`` that ``run`` (a Dagster run, or a run id) works on.

    The first step of a run that asks takes it (the scenario validated, every user file checksummed) and stores it
    as ``<store>/<scenario>/runs/<run id>.json``; every later step of the run, in this process or another, reads
    that file. So the scenario file may change mid-run without the run seeing it, and the store keeps the run's
    values under the snapshot's digest (:func:`pipelines.store.value_dir`). A re-execution of part of a run
    (:func:`snapshot_parent`) copies its parent's snapshot instead of taking a new one, so it finds the values its
    parent stored even when the scenario file has changed since. With ``checks``, the step that takes or copies the
    snapshot also runs the pre-flight checks (memory estimate against the budget, store and output folders writable
    with room); the IO manager, which may need the snapshot before any step with the settings runs, takes it without.
    """
    run_id = run if isinstance(run, str) else run.run_id
    path = snapshot_path(settings.store_root, scenario_name, run_id)
    with _SNAPSHOT_LOCK:  # steps side by side on threads (pipelines/executors.py): one takes it, the others read it
        return _snapshot_locked(settings, scenario_name, run, path, checks)


def _snapshot_locked(
    settings: CorridorSettings, scenario_name: str, run: Any, path: Path | UPath, checks: bool
) -> ScenarioSnapshot:
    key = str(path)
    if key in _SNAPSHOTS:
        if checks and key in _UNCHECKED:
            preflight(settings, _SNAPSHOTS[key])
            _UNCHECKED.discard(key)
        return _SNAPSHOTS[key]
    taken = not path.is_file()
    if taken:
        parent = snapshot_parent(run)
        parent_path = snapshot_path(settings.store_root, scenario_name, parent) if parent else None
        if parent_path is not None and parent_path.is_file():
            new = _read_snapshot(parent_path)
        else:
            new = take_snapshot(settings.scenario(scenario_name))
        if checks:
            preflight(settings, new)  # before the snapshot is stored: a refused run leaves nothing behind
        _publish_once(path, new.to_json())
    snap = _read_snapshot(path)  # the first writer's, should another step have stored it meanwhile
    if taken and not checks:
        _UNCHECKED.add(key)
    _SNAPSHOTS[key] = snap
    return snap


def _read_snapshot(path: Path | UPath) -> ScenarioSnapshot:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"stored scenario snapshot {path} is not UTF-8 JSON (it was replaced or damaged); delete it and run again"
        ) from None
    return ScenarioSnapshot.from_json(text, str(path))


_SNAPSHOTS: dict[str, ScenarioSnapshot] = {}
_SNAPSHOT_LOCK = threading.RLock()
_UNCHECKED: set[str] = set()
"""Snapshots this process took without the pre-flight checks (the IO manager's): the next step with the settings
runs them."""


def _publish_once(path: Path | UPath, text: str) -> None:
    """Write ``text`` to ``path`` unless it exists; the first writer wins (hard link of a complete temporary file).

    On a store that is not local (an fsspec URL) there is no hard link: the text goes to a temporary key and is
    moved onto ``path`` unless ``path`` exists by then. Two steps of one run starting in the same instant may then
    both write; both wrote the same scenario content (unless the file was edited in that instant), and every later
    step reads whatever is there (see "Shared stores" in ARCHITECTURE.md)."""
    if not isinstance(path, Path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
                tmp.write_text(text, encoding="utf-8")
                if path.exists():
                    tmp.unlink(missing_ok=True)
                else:
                    tmp.fs.mv(tmp.path, path.path)
        except OSError as exc:
            raise storage_error(exc, str(path), "intermediate store (CORRIDOR_STORE)") from None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            pass
    except OSError as exc:
        raise storage_error(exc, path, "intermediate store (CORRIDOR_STORE)") from None
    finally:
        os.unlink(tmp_name)


def check_writable_store(root: UPath, role: str) -> None:
    """Make sure an fsspec store root takes a write (a probe object written and removed); a
    :class:`~geodata.errors.StorageError` naming the store and the fix otherwise."""
    probe = root / f".write-probe-{os.getpid()}-{time.time_ns():x}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink(missing_ok=True)
    except (OSError, PermissionError) as exc:
        raise StorageError(
            f"the {role} {root} does not take a write ({exc}); check its credentials and permissions, or point "
            "CORRIDOR_STORE at a writable location"
        ) from None


def preflight(settings: CorridorSettings, snap: ScenarioSnapshot) -> RunEstimate:
    """Refuse, before any compute, a run that would not fit in its memory budget or could not write its results."""
    sc = snap.scenario
    grid = analysis_grid(sc.area_of_interest.bounds, sc.analysis_crs(), sc.analysis.resolution_m)
    files = [i for i in snap.inputs if i.role == "hazards"]  # in the order of hazards.inputs
    counts = tuple(
        (item.path, count_features(f.path, item.layer)) for f, item in zip(files, sc.hazards.inputs, strict=True)
    )
    features = MIRROR_HAZARD_FEATURES + sum(n for _, n in counts)
    estimate = estimate_run(grid.shape[0] * grid.shape[1], features, hazard_files=counts)
    check_memory_budget(estimate, settings.memory_budget_bytes, resolution_m=sc.analysis.resolution_m)
    if sc.survey is not None and sc.survey.resolution_m is not None:  # the default cell size is sized to fit
        check_refinement_budget(
            refinement_band_cells(least_route_length_m(sc), sc.survey.buffer_m, sc.survey.resolution_m),
            refinement_room(settings.memory_budget_bytes, estimate.cells),
            resolution_m=sc.survey.resolution_m,
            buffer_m=sc.survey.buffer_m,
            lower_bound=True,
        )
    store_root = settings.store_root
    if isinstance(store_root, Path):
        check_writable_folder(store_root, "intermediate store (CORRIDOR_STORE)", need_bytes=estimate.cells * 64)
    else:  # an fsspec store has no free-space figure; probe that it takes a write, and the local scratch folder
        check_writable_store(store_root, "intermediate store (CORRIDOR_STORE)")
        check_writable_folder(settings.scratch_root, "local scratch folder of the store (TMPDIR)")
    check_output_folder(settings.output_root, estimate)
    return estimate


def least_route_length_m(sc: Scenario) -> float:
    """The least length the regional route between the approach ends can have: the distance between the stations
    less, at each end, the farthest an approach end can lie from its station (landfall search radius plus the
    approach leg), and 1 % for the analysis projection's scale."""
    a, b = sc.landing_stations[0], sc.landing_stations[-1]
    d = float(GEOD.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)[2])
    return max(0.99 * d - 2.0 * (landfall.SEARCH_RADIUS_M + sc.engineering.landfall_approach_m), 0.0)


MIRROR_HAZARD_FEATURES = 500
"""About as many hazard features as the mirror and curated layers hold in the Caspian (424 in the mirror)."""


def _value(v: Any, key: str = "") -> Any:
    if isinstance(v, dg.MetadataValue):
        return v
    if isinstance(v, (Mapping, list, tuple)):
        return dg.MetadataValue.json(_jsonable(v, key))
    return _jsonable(v, key)


def round_for(key: str, v: float) -> float:
    """A metadata number rounded to the precision its name's unit calls for (that of the deliverables: 0.001 km,
    1 m for depths, 0.1 m for other metres, 1e-6 degrees for latitude/longitude, 0.1 degree for other angles,
    0.01 %); a number whose name carries no known unit keeps 6 significant digits. No 15-digit floats."""
    name = key.lower()
    if name.endswith(("lat_deg", "lon_deg", "latitude", "longitude")):
        nd = 6
    elif "depth" in name and "burial" not in name and name.endswith("_m"):
        nd = 0
    elif name.endswith(("_km", "_km2")):
        nd = 3
    elif name.endswith(("_m", "_m2", "_deg", "_s")):
        nd = 1
    elif name.endswith(("_pct", "_ratio", "_share")):
        nd = 2 if name.endswith("_pct") else 4
    else:
        return float(f"{v:.6g}")
    return round(v, nd) + 0.0


def _jsonable(v: Any, key: str = "") -> Any:
    """``v`` as plain JSON values; floats rounded by :func:`round_for` on the nearest key naming them (a value in a
    dict or list under ``sector_lengths_km`` is in km)."""
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x, _unit_key(str(k), key)) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x, key) for x in v]
    if isinstance(v, np.generic):
        return _jsonable(v.item(), key)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, float):
        return round_for(key, v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


def _unit_key(key: str, parent: str) -> str:
    """The key whose unit a dict entry's value has: its own when it names a unit, else its parent's (a country
    code under ``sector_lengths_km``)."""
    return key if "_" in key else parent


def metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    """Library summaries (numbers, strings, nested dicts) as Dagster metadata values, numbers rounded to the
    precision of their unit (:func:`round_for`)."""
    return {str(k): _value(v, str(k)) for k, v in values.items() if v is not None}


def check_specs(asset: str, names: Mapping[str, str], *, blocking: bool = True) -> list[dg.AssetCheckSpec]:
    """Blocking check specs for ``asset``: ``names`` maps each check's name to its description."""
    return [dg.AssetCheckSpec(n, asset=asset, description=d, blocking=blocking) for n, d in names.items()]


def check_results(results: Iterable[CheckResult], *, asset: str | None = None) -> list[dg.AssetCheckResult]:
    """Library check results as Dagster check results: failed blocking checks are ERRORs (they stop downstream)."""
    out = []
    for r in results:
        severity = dg.AssetCheckSeverity.ERROR if r.blocking else dg.AssetCheckSeverity.WARN
        out.append(
            dg.AssetCheckResult(
                check_name=r.name,
                asset_key=asset,
                passed=r.passed,
                severity=severity,
                description=r.description,
                metadata=metadata(r.metadata),
            )
        )
    return out


def scratch_file(settings: CorridorSettings, name: str) -> Path:
    """A fresh local path for a streamed stage's output GeoTIFF: ``<store>/.scratch/<random>/<name>.tif`` on a local
    store (the store's file system, so that storing it is a rename, not a copy), under a local temporary folder when
    the store is on another fsspec file system (the IO manager uploads it; :attr:`CorridorSettings.scratch_root`)."""
    root = settings.scratch_root
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root)) / f"{name}.tif"
