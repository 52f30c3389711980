"""An inert, open on-disk format for the values assets hand each other: JSON plus GeoParquet, Parquet, GeoTIFF, .npy
and raw bytes. Nothing is ever unpickled.

Why
---
The IO manager used to pickle every non-raster value and ``pickle.load`` it back, so anyone able to write to
``CORRIDOR_STORE`` could run code as the pipeline. This module replaces that with formats whose readers only ever
produce data: a value is a folder ``<store>/<partition>/<snapshot digest>/<asset>/`` holding

* ``value.json`` — a header (format, asset, partition, scenario name and :meth:`~geodata.scenario.Scenario.digest`,
  the run's scenario snapshot digest, code and package version, the digests of the upstream values it was built
  from, the run that wrote it) and ``value``: a tree of nodes;
* sidecar files the tree refers to by bare file name: GeoDataFrames as GeoParquet, DataFrames as Parquet, numpy
  arrays as ``.npy`` (read with ``allow_pickle=False``), :class:`~geodata.grid.Raster` data as GeoTIFF (open it in
  QGIS), ``bytes`` as raw files (``.png``/``.pdf`` when the dict key says so).

Rasters
-------
A raster's sidecar is a tiled (256 x 256), ZSTD-compressed GeoTIFF (floating-point predictor; overviews when the
stage that wrote it built them). A :class:`~geodata.grid.LazyRaster` whose data was never read is stored as its file:
moved into the value's folder when it is a streamed stage's scratch output (``<store>/.scratch/``, on the store's
file system, so storing 25 M cells is a rename), copied otherwise. A raster is *loaded* as a
:class:`~geodata.grid.LazyRaster` on its sidecar, after the same checks as every sidecar (size, sha256, magic bytes)
and of its header (one band, the recorded grid's shape, a dtype castable to the recorded one): its ``data`` is read
on first use, and streamed code (:func:`~geodata.grid.raster_read_rows`, :meth:`~geodata.grid.Raster.sample`) reads
only the windows it needs.

Nodes
-----
``None``, ``bool``, ``int``, ``str``, finite ``float`` and lists are plain JSON. Everything else is an object with a
tag ``"t"``: ``float`` (``nan``/``inf``/``-inf``), ``tuple``, ``dict`` (string keys as an object, other keys as pairs),
``npscalar``, ``ndarray``, ``raster``, ``geodataframe``, ``dataframe``, ``bytes``, ``geometry`` (WKB hex), ``crs``
(the user input string it was built from, plus WKT for people), ``affine``, ``path``, ``dataclass`` and
``namedtuple`` (class path plus fields). Exact types only: a ``str`` subclass or an unknown class is refused when
*writing* (:class:`StoreWriteError`), so nothing is stored that could not be read back equal. Dataclasses are
rebuilt by calling the class with their ``init`` fields (``__post_init__`` runs again; ``init=False`` fields are
recomputed, not stored). Frames keep dtypes, column order, index and ``attrs`` (in the JSON): Parquet has no
``object`` type, so ``object`` columns are listed and rebuilt as Python objects (``None`` stays ``None``).
GeoParquet rather than GeoPackage: it keeps int64/bool/str/None columns and the index exactly, is several times
faster, and QGIS (GDAL >= 3.5) opens it; each geometry column's CRS is taken from the JSON tree, so a load builds no
pyproj CRS twice (:func:`_crs` caches them; parsing GeoParquet's PROJJSON was most of a load's time).

What loading refuses (all :class:`StoreError`, a :class:`~geodata.errors.CorridorError`)
--------------------------------------------------------------------------------------------
The whole tree is validated before any sidecar is opened (:func:`validate`):

* unknown tags, unknown or missing keys, wrong JSON types, NaN/Infinity literals (:class:`StoreFormatError`);
* classes outside the ``geodata`` package, or inside it but neither a dataclass nor a NamedTuple, or re-exported
  into ``geodata`` from elsewhere (``geodata.grid.CRS`` is pyproj's): :class:`StoreClassError`. Classes are found by
  attribute lookup in an imported ``geodata`` module, never by an arbitrary import path;
* file references that are not one plain file name in the value's folder (no ``/``, no ``..``), symlinks, missing
  files, a size or sha256 different from the one recorded, or a sidecar whose magic bytes are not its format's
  (a pickle renamed ``.npy`` is refused; ``np.load`` runs with ``allow_pickle=False`` anyway):
  :class:`StoreFormatError`;
* a ``value.json`` that is a pickle (or any non-JSON): :class:`StoreFormatError`;
* a value written for another scenario digest than the current run's, or (when both are known) another scenario
  snapshot digest — the same scenario text naming user files whose content changed: :class:`StaleValueError`
  (:func:`check_scenario`), whose message names the stored path and says ``rematerialise <asset> for <scenario>``.

Atomic writes
-------------
``value.json`` is the commit record. A write puts its sidecars into the folder under names carrying a fresh write id
(``total.3f9a1c2b.000.npy``), writes ``value.json`` to a temporary file and ``os.replace``-s it into place, then
deletes the files the new record does not reference (the previous value's, and leftovers of killed runs).
Until that replace the previous ``value.json`` and all its sidecars are intact and readable; after it the new value
is complete. A killed run therefore never leaves a half-written value. (A folder cannot be swapped for another one
atomically with ``rename(2)`` when the target exists — it would need an unlinked window or Linux's
``renameat2(RENAME_EXCHANGE)`` — and an object store has no folder rename at all, but every store has an atomic
single-object put, so the commit-record design also carries over to fsspec/UPath roots.) Two runs writing the
same asset, partition *and scenario snapshot* at the same moment (the same scenario content twice) may delete each
other's sidecars; the loser's value then fails to load with a named error (rematerialise). Nothing is fsynced:
``rename`` is atomic against a killed process, and after a power loss a sidecar the disk never received fails its
recorded size/sha256 on load (a named error saying to rematerialise), so the cost of an fsync per file — most of
the write time on a busy disk — buys only the survival of the previous value across a power cut.

Shared stores
-------------
The root may be any fsspec location (:func:`assets.config.store_location`: ``CORRIDOR_STORE=memory://...``,
``s3://...``); it is then a :class:`~upath.UPath`, and the few functions here that touch the file system branch on
``isinstance(location, Path)`` (:data:`Location`): a local path or ``file://`` URL keeps the code above unchanged.
On an fsspec store each sidecar is written to a local staging folder by the same writers, checksummed there and
uploaded under its write-once name (:class:`_Writer`); ``value.json`` is put under a temporary key and moved onto
its name with ``fs.mv`` (a rename where the file system has one, a single-object server-side copy on an object
store: readers see it whole or not at all); unreferenced objects are deleted after. Reads make the same checks
through ``fs.info``/``fs.open``; rasters come back as :class:`~geodata.grid.LazyRaster` on the ``UPath``, which
rasterio opens through ``fs.open`` (``opener``), reading only the windows asked for. The store takes no lock on any
file system: one run per scenario at a time (the team profile's ``dagster/partition`` limit) is what makes two
writers of one value impossible. ARCHITECTURE.md, "Shared stores", has the rest.

Keyed by snapshot
-----------------
Values are keyed by the digest of the run's scenario snapshot (:mod:`geodata.sources.snapshot`: the scenario's
content and the sha256 of every user file it reads), not by the scenario name alone. Two runs of one scenario name
from different scenario folders, or with the file edited between them, work in different folders: neither reads,
overwrites or deletes the other's values, and both complete. A run that asks for a value its own snapshot has not
built gets :class:`StaleValueError` when the asset is stored for another snapshot of the partition
(:func:`other_snapshots`), :class:`StoreMissingError` otherwise. A re-execution from failure works on its parent
run's snapshot (:func:`assets.common.run_snapshot`), so it finds the values the parent stored. The header still
records both digests and :func:`check_scenario` compares them on load, so a value copied into the wrong folder is
refused as well.

When a run writes the first value of a new snapshot, the partition's oldest snapshot folders beyond the
:data:`KEEP_SNAPSHOTS` most recently written are removed (:func:`prune_snapshots`), never one written to in the
last :data:`PRUNE_MIN_AGE_S` (a run may still be using it), so the store does not grow by a set of values per edit.

Older layouts are never read: ``<partition>/<asset>/`` (keyed by name only) and ``<partition>/<asset>.pickle|.tif``
(:func:`legacy_values`, named in the missing-value message). Every path goes through :func:`value_dir`, the one
place that maps (root, partition, snapshot, asset) to a location.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely
from affine import Affine
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from upath import UPath

from assets.config import store_location
from geodata.errors import CorridorError
from geodata.grid import INTERMEDIATE_COMPRESS, GeoGrid, LazyRaster, Raster, RasterFile, RasterWriter

FORMAT = "caspian-corridor-store/1"
"""Format name and version in every ``value.json``; a loader refuses any other."""

VALUE_FILE = "value.json"
ALLOWED_PACKAGE = "geodata"
"""The only package whose classes a stored value may name."""

RESERVED = frozenset({"runs"})
"""Names in a partition folder that are not snapshot folders (``runs/`` holds the runs' scenario snapshots); no
asset may have one of them as its name either."""
SNAPSHOT_NAME = re.compile(r"^[0-9a-f]{64}$")
"""A snapshot folder's name: the scenario snapshot digest (:class:`geodata.sources.snapshot.ScenarioSnapshot`)."""
MAX_JSON_BYTES = 64 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}$")
_MODULE = re.compile(r"^geodata(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_QUALNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "ndarray": (b"\x93NUMPY",),
    "geodataframe": (b"PAR1",),
    "dataframe": (b"PAR1",),
    "raster": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
}
_BYTES_EXT = {"png", "pdf", "svg", "json", "csv", "txt", "html", "xml"}


# -- errors -----------------------------------------------------------------------------------------------------------
class StoreError(CorridorError):
    """A stored asset value cannot be written or read."""


class StoreMissingError(StoreError):
    """No stored value for an asset and partition."""


class StoreFormatError(StoreError):
    """A stored value is malformed, tampered with, or not in the store's format (e.g. a pickle)."""


class StoreClassError(StoreFormatError):
    """A stored value names a class the store may not construct."""


class StaleValueError(StoreError):
    """A stored value was built for a different version of the scenario than the current one."""


class StoreWriteError(StoreError):
    """A value holds something the store has no open format for."""


# -- locations --------------------------------------------------------------------------------------------------------
Location = Path | UPath
"""A place in the store: a local :class:`~pathlib.Path` (the local code path: ``os`` calls, renames, hard links) or
a :class:`~upath.UPath` on another fsspec file system (the shared-store code path, see "Shared stores")."""
Root = str | os.PathLike[str] | UPath


def as_root(root: Root) -> Location:
    """``root`` as a store location: a path or ``file://`` URL is a local :class:`~pathlib.Path`, a URL of another
    fsspec protocol a :class:`~upath.UPath` (:func:`assets.config.store_location`, which refuses unknown protocols)."""
    if isinstance(root, Path):
        return root
    if isinstance(root, UPath):
        return Path(root.path) if root.protocol in ("", "file", "local") else root
    return store_location(os.fspath(root))


@overload
def snapshot_dir(root: Path, partition: str, snapshot: str) -> Path: ...
@overload
def snapshot_dir(root: Root, partition: str, snapshot: str) -> Location: ...
def snapshot_dir(root: Root, partition: str, snapshot: str) -> Location:
    """The folder holding every value built from one scenario snapshot of one partition:
    ``<root>/<partition>/<snapshot digest>/``."""
    if not _NAME.match(partition) or partition in {".", ".."}:
        raise StoreError(f"partition name {partition!r} cannot be a store folder name (letters, digits, '_', '-', '.')")
    if not SNAPSHOT_NAME.match(snapshot):
        raise StoreError(f"scenario snapshot digest {snapshot!r} is not 64 lower-case hex digits")
    return as_root(root) / partition / snapshot


@overload
def value_dir(root: Path, partition: str, asset: str, *, snapshot: str) -> Path: ...
@overload
def value_dir(root: Root, partition: str, asset: str, *, snapshot: str) -> Location: ...
def value_dir(root: Root, partition: str, asset: str, *, snapshot: str) -> Location:
    """The folder holding one asset's value for one partition and scenario snapshot,
    ``<root>/<partition>/<snapshot digest>/<asset>/``: the single place paths are made (a :class:`~upath.UPath` for
    an fsspec root). Two runs of one scenario name whose content differs (another scenario folder, an edited file, a
    changed user file) have different snapshot digests, so they never read or overwrite each other's values."""
    if not _NAME.match(asset) or asset in {".", ".."} or asset in RESERVED or SNAPSHOT_NAME.match(asset):
        raise StoreError(f"asset name {asset!r} cannot be a store folder name (letters, digits, '_', '-', '.')")
    return snapshot_dir(root, partition, snapshot) / asset


def other_snapshots(root: Root, partition: str, asset: str, *, snapshot: str) -> list[str]:
    """The snapshot digests other than ``snapshot`` under which ``partition`` holds a value of ``asset`` (for the
    message of a missing value: built, but for another version of the scenario)."""
    base = as_root(root) / partition
    if not base.is_dir():
        return []
    if not isinstance(base, Path):
        return sorted(
            e.name
            for e in base.iterdir()
            if SNAPSHOT_NAME.match(e.name) and e.name != snapshot and (e / asset / VALUE_FILE).is_file()
        )
    return sorted(
        e.name
        for e in os.scandir(base)
        if SNAPSHOT_NAME.match(e.name) and e.name != snapshot and (Path(e.path) / asset / VALUE_FILE).is_file()
    )


KEEP_SNAPSHOTS = 3
"""Snapshot folders kept per partition when a run starts a new one (the most recently written)."""
PRUNE_MIN_AGE_S = 6 * 3600.0
"""A snapshot folder written to less than this long ago is never pruned (a run may still be using it)."""


def prune_snapshots(
    root: Root,
    partition: str,
    *,
    keep: int = KEEP_SNAPSHOTS,
    min_age_s: float = PRUNE_MIN_AGE_S,
    now: float | None = None,
) -> list[Location]:
    """Remove the snapshot folders of ``partition`` beyond the ``keep`` most recently written, except any written
    to in the last ``min_age_s`` seconds; returns the folders removed. Every scenario edit starts a new snapshot
    folder, so without this the store would grow by one set of values per edit. A re-execution of a pruned run
    finds no value and is told to rematerialise. On an fsspec store the times are the objects' modification times;
    a folder whose time the file system does not report is never pruned."""
    base = as_root(root) / partition
    if not base.is_dir():
        return []
    now = time.time() if now is None else now
    if not isinstance(base, Path):
        return _prune_remote(base, keep=keep, min_age_s=min_age_s, now=now)
    folders = [
        Path(e.path) for e in os.scandir(base) if SNAPSHOT_NAME.match(e.name) and e.is_dir(follow_symlinks=False)
    ]
    written: dict[Path, float] = {}
    for f in folders:
        try:
            written[f] = max([f.stat().st_mtime, *(p.stat().st_mtime for p in f.glob(f"*/{VALUE_FILE}"))])
        except FileNotFoundError:  # removed meanwhile (another process pruning)
            continue
    ordered = sorted(written, key=lambda f: written[f], reverse=True)
    removed = [f for f in ordered[keep:] if now - written[f] >= min_age_s]
    for f in removed:
        shutil.rmtree(f, ignore_errors=True)
    return list(removed)


def _mtime(location: UPath) -> float | None:
    """The modification time of an object on an fsspec file system (seconds since the epoch), None when unknown."""
    try:
        return float(location.fs.modified(location.path).timestamp())
    except (NotImplementedError, AttributeError, KeyError, TypeError, ValueError):
        return None


def _prune_remote(base: UPath, *, keep: int, min_age_s: float, now: float) -> list[Location]:
    folders = [e for e in base.iterdir() if SNAPSHOT_NAME.match(e.name) and e.is_dir()]
    written: dict[UPath, float] = {}
    for f in folders:
        times = [_mtime(v) for v in f.glob(f"*/{VALUE_FILE}")]
        known = [t for t in times if t is not None]
        # a folder with a value of unknown time, or without any value yet, has no known time: it is never pruned
        written[f] = max(known) if known and len(known) == len(times) else math.inf
    ordered = sorted(folders, key=lambda f: written[f], reverse=True)
    removed = [f for f in ordered[keep:] if now - written[f] >= min_age_s]
    for gone in removed:
        gone.fs.rm(gone.path, recursive=True)
    return list(removed)


def legacy_values(root: Root, partition: str, asset: str) -> list[Location]:
    """Values of ``asset`` in the layouts before the snapshot folders, which are never read: ``<partition>/<asset>/``
    (keyed by scenario name only) and ``<partition>/<asset>.pickle|.tif`` (pickles)."""
    base = as_root(root) / partition
    found = [base / asset / VALUE_FILE, base / f"{asset}.pickle", base / f"{asset}.tif"]
    return [p for p in found if p.exists()]


# -- header -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Provenance:
    """What a stored value was built from; written into its ``value.json`` header."""

    asset: str
    partition: str
    scenario: str
    scenario_digest: str
    snapshot_digest: str | None = None
    code_version: str | None = None
    package_version: str | None = None
    run_id: str | None = None
    upstream: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "asset": self.asset,
            "partition": self.partition,
            "scenario": self.scenario,
            "scenario_digest": self.scenario_digest,
            "snapshot_digest": self.snapshot_digest,
            "code_version": self.code_version,
            "package_version": self.package_version,
            "run_id": self.run_id,
            "upstream": {k: dict(v) for k, v in self.upstream.items()},
        }


_HEADER_KEYS = {
    "format": str,
    "asset": str,
    "partition": str,
    "scenario": str,
    "scenario_digest": str,
    "snapshot_digest": (str, type(None)),
    "code_version": (str, type(None)),
    "package_version": (str, type(None)),
    "run_id": (str, type(None)),
    "upstream": dict,
    "value_digest": str,
    "value": object,
}


@dataclass(frozen=True)
class Stored:
    """A value read back, with its header (``value_digest`` identifies its content, sidecars included)."""

    value: Any
    header: dict[str, Any]
    path: Location


# -- encoding ---------------------------------------------------------------------------------------------------------
class _Writer:
    """Names and writes a value's sidecars. On a local store each is written in place; on an fsspec store
    (``stage``: a local temporary folder) each is written locally (GDAL, numpy and pyarrow write local files),
    measured and checksummed there, then uploaded under its write-once name."""

    def __init__(self, folder: Location, write_id: str, *, stage: Path | None = None) -> None:
        self.folder = folder
        self.write_id = write_id
        self.stage = stage
        self.files: list[str] = []

    def name(self, hint: str, ext: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", hint).strip("_")[:60] or "value"
        name = f"{stem}.{self.write_id}.{len(self.files):03d}.{ext}"
        self.files.append(name)
        return name

    def sidecar(self, hint: str, ext: str, write: Callable[[Path], object]) -> dict[str, Any]:
        name = self.name(hint, ext)
        target = self.folder / name
        if isinstance(target, Path):
            write(target)
            return {"file": name, "size": target.stat().st_size, "sha256": _sha256(target)}
        if self.stage is None:  # write_value gives an fsspec store a local staging folder
            raise StoreError(f"no local staging folder to write {name} for {self.folder}")
        local = self.stage / name
        write(local)
        ref = {"file": name, "size": local.stat().st_size, "sha256": _sha256(local)}
        target.fs.put_file(str(local), target.path)
        local.unlink()
        return ref


def _sha256(path: Location) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[tuple[int, int, int, int, int], str] = {}
"""sha256 of the sidecars this process has hashed, by (device, inode, size, mtime, ctime): every step of a run loads
the cost surface (220 MB of sidecars at 100 m, 0.25 s to hash), and a file whose stat is unchanged holds the bytes
it was hashed with, since any write, rename or utime moves its ctime, which no process can set back. A file is
remembered only when its ctime is :data:`VERIFIED_MIN_AGE_NS` old at hashing time (ctime has the file system's tick,
a few ms: a change within the tick of the last one would keep it). In memory only, so a new process (a new run)
hashes everything again."""
VERIFIED_MIN_AGE_NS = 2_000_000_000


def _sha256_verified(path: Path, st: os.stat_result) -> str:
    """:func:`_sha256` of a file with stat ``st``, from :data:`_VERIFIED` when the file is unchanged since."""
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _VERIFIED.get(key)
    if known is not None:
        return known
    digest = _sha256(path)
    after = os.lstat(path)
    stable = time.time_ns() - max(st.st_ctime_ns, st.st_mtime_ns) >= VERIFIED_MIN_AGE_NS
    if stable and (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) == key:
        _VERIFIED[key] = digest
    return digest


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_namedtuple(v: Any) -> bool:
    return isinstance(v, tuple) and hasattr(type(v), "_fields") and hasattr(type(v), "_make")


def _encode(v: Any, w: _Writer, hint: str) -> Any:
    t = type(v)
    if v is None or t in (bool, int, str):
        return v
    if t is float:
        return v if math.isfinite(v) else {"t": "float", "v": repr(v)}
    if t is list:
        return [_encode(x, w, f"{hint}_{i}") for i, x in enumerate(v)]
    encoder = _ENCODERS.get(t)
    if encoder is not None:
        return encoder(v, w, hint)
    if isinstance(v, np.generic):
        return _encode_npscalar(v, w, hint)
    if isinstance(v, BaseGeometry):
        return {"t": "geometry", "wkb": shapely.to_wkb(v, hex=True, output_dimension=3)}
    if isinstance(v, PurePath) and t.__module__ == "pathlib":
        return {"t": "path", "v": str(v)}
    if (dataclasses.is_dataclass(v) and not isinstance(v, type)) or _is_namedtuple(v):
        return _encode_record(v, w, hint)
    raise StoreWriteError(
        f"cannot store a {t.__module__}.{t.__qualname__} at {hint}: the store has no open format for it"
    )


def _encode_tuple(v: tuple[Any, ...], w: _Writer, hint: str) -> dict[str, Any]:
    return {"t": "tuple", "v": [_encode(x, w, f"{hint}_{i}") for i, x in enumerate(v)]}


def _encode_dict(v: dict[Any, Any], w: _Writer, hint: str) -> dict[str, Any]:
    if all(type(k) is str for k in v):
        return {"t": "dict", "v": {k: _encode_item(k, x, w, hint) for k, x in v.items()}}
    return {"t": "dict", "items": [[_encode(k, w, hint), _encode(x, w, hint)] for k, x in v.items()]}


def _encode_npscalar(v: np.generic, w: _Writer, hint: str) -> dict[str, Any]:
    if v.dtype.kind in "OV":
        raise StoreWriteError(f"cannot store numpy scalar of dtype {v.dtype} at {hint}")
    return {"t": "npscalar", "dtype": v.dtype.str, "v": _encode(v.item(), w, hint)}


def _encode_array(v: np.ndarray, w: _Writer, hint: str) -> dict[str, Any]:
    if v.dtype.hasobject or v.dtype.kind == "V":
        raise StoreWriteError(f"cannot store numpy array of dtype {v.dtype} at {hint} (it would need pickle)")
    ref = w.sidecar(hint, "npy", lambda p: np.save(p, v, allow_pickle=False))
    return {"t": "ndarray", "dtype": v.dtype.str, "shape": list(v.shape), **ref}


def _encode_bytes(v: bytes, w: _Writer, hint: str) -> dict[str, Any]:
    ref = w.sidecar(hint, hint if hint in _BYTES_EXT else "bin", lambda p: p.write_bytes(v))
    return {"t": "bytes", **ref}


def _encode_crs(v: CRS, w: _Writer, hint: str) -> dict[str, Any]:
    return {"t": "crs", "srs": v.srs or v.to_wkt(), "wkt": v.to_wkt()}


def _encode_affine(v: Affine, w: _Writer, hint: str) -> dict[str, Any]:
    return {"t": "affine", "v": [_encode(float(x), w, hint) for x in tuple(v)[:6]]}


def _encode_record(v: Any, w: _Writer, hint: str) -> dict[str, Any]:
    t = type(v)
    _check_class(t, where=hint, error=StoreWriteError)
    if _is_namedtuple(v):
        fields = {k: _encode(getattr(v, k), w, f"{hint}.{k}") for k in t._fields}
        return {"t": "namedtuple", "class": _class_path(t), "fields": fields}
    fields = {f.name: _encode(getattr(v, f.name), w, f"{hint}.{f.name}") for f in dataclasses.fields(v) if f.init}
    return {"t": "dataclass", "class": _class_path(t), "fields": fields}


def _encode_item(key: str, x: Any, w: _Writer, hint: str) -> Any:
    # ``{"png": b"...", "pdf": b"..."}`` sidecars get their key as extension.
    if type(x) is bytes and key in _BYTES_EXT:
        return _encode(x, w, key)
    return _encode(x, w, f"{hint}.{key}")


def _encode_raster(r: Raster, w: _Writer, hint: str) -> dict[str, Any]:
    """A raster as a tiled (256 x 256), deflate-compressed GeoTIFF sidecar. A :class:`LazyRaster` not loaded yet is
    not read: its file is taken as it is (moved when it is a streamed stage's scratch file, else copied)."""
    if isinstance(r, LazyRaster) and not r.loaded:
        dtype = r.dtype
        if dtype.hasobject:
            raise StoreWriteError(f"cannot store raster of dtype {dtype} at {hint}")

        scratch = r.scratch and isinstance(r.file.path, Path)

        def place(p: Path) -> None:
            src = r.file.path
            if not isinstance(src, Path):  # a raster of an fsspec store handed on unread: fetch it
                src.fs.get_file(src.path, str(p))
            elif scratch:
                shutil.move(src, p)
                try:  # the streamed stage's scratch folder, once it is empty
                    src.parent.rmdir()
                except OSError:
                    pass
            else:
                shutil.copyfile(src, p)

        ref = w.sidecar(hint, "tif", place)
        if scratch:  # the value now lives in the store: the raster reads it there
            r.file = dataclasses.replace(r.file, path=w.folder / ref["file"])
            r.scratch = False
    else:
        data = r.data
        dtype = data.dtype
        if dtype.hasobject:
            raise StoreWriteError(f"cannot store raster of dtype {dtype} at {hint}")

        def write(p: Path) -> None:
            with RasterWriter(p, r.grid, data.dtype, nodata=r.nodata, compress=INTERMEDIATE_COMPRESS) as out:
                out.write_rows(slice(0, r.grid.shape[0]), data)

        ref = w.sidecar(hint, "tif", write)
    return {
        "t": "raster",
        "dtype": dtype.str,
        "grid": _encode(r.grid, w, hint),
        "nodata": _encode(r.nodata, w, hint),
        "attrs": _encode(r.attrs, w, f"{hint}.attrs"),
        **ref,
    }


def _encode_frame(df: pd.DataFrame, w: _Writer, hint: str, *, geo: bool) -> dict[str, Any]:
    cols = list(df.columns)
    if any(type(c) is not str for c in cols) or len(set(cols)) != len(cols):
        raise StoreWriteError(f"cannot store a frame at {hint}: column names must be unique strings, got {cols}")
    objects = [c for c in cols if df[c].dtype == object]
    plain = df.copy(deep=False)
    plain.attrs = {}

    def write(p: Path) -> None:
        try:
            if geo:
                plain.to_parquet(p, compression="zstd", schema_version="1.1.0")
            else:
                plain.to_parquet(p, compression="zstd")
        except (TypeError, ValueError, ImportError) as exc:  # pyarrow.ArrowException derives from these
            raise StoreWriteError(f"cannot store frame at {hint} as Parquet: {exc}") from exc

    node: dict[str, Any] = {
        "t": "geodataframe" if geo else "dataframe",
        "columns": cols,
        "object_columns": objects,
        "attrs": _encode(dict(df.attrs), w, f"{hint}.attrs"),
    }
    if geo:
        active = getattr(df, "_geometry_column_name", None)
        node["geometry"] = active if active in cols else None
        node["geometry_columns"] = {
            c: None if df[c].crs is None else _encode(df[c].crs, w, hint)
            for c in cols
            if isinstance(df[c].dtype, gpd.array.GeometryDtype)
        }
    ref = w.sidecar(hint, "parquet", write)
    node.update(ref)
    return node


_ENCODERS: dict[type, Callable[[Any, _Writer, str], Any]] = {
    tuple: _encode_tuple,
    dict: _encode_dict,
    np.ndarray: _encode_array,
    Raster: _encode_raster,
    LazyRaster: _encode_raster,
    gpd.GeoDataFrame: lambda v, w, h: _encode_frame(v, w, h, geo=True),
    pd.DataFrame: lambda v, w, h: _encode_frame(v, w, h, geo=False),
    bytes: _encode_bytes,
    CRS: _encode_crs,
    Affine: _encode_affine,
}
"""Exact types and their encoders (subclasses are not these types: a NamedTuple is not a ``tuple`` here)."""


def _digest(tree: Any) -> str:
    blob = json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_value(folder: Location, value: Any, provenance: Provenance) -> dict[str, Any]:
    """Write ``value`` into ``folder`` atomically (see the module docstring); returns the header written."""
    if not isinstance(folder, Path):
        return _write_value_remote(folder, value, provenance)
    if folder.is_symlink():
        raise StoreError(f"store folder {folder} is a symlink; remove it and rematerialise {provenance.asset}")
    folder.mkdir(parents=True, exist_ok=True)
    w = _Writer(folder, secrets.token_hex(4))
    try:
        tree = _encode(value, w, provenance.asset)
        header = {**provenance.header(), "value_digest": _digest(tree)}
        record = {**header, "value": tree}
        blob = json.dumps(record, indent=1, allow_nan=False).encode()
        tmp = folder / f".{VALUE_FILE}.{w.write_id}.part"
        tmp.write_bytes(blob)
        os.replace(tmp, folder / VALUE_FILE)
    except BaseException:
        for name in w.files:
            (folder / name).unlink(missing_ok=True)
        (folder / f".{VALUE_FILE}.{w.write_id}.part").unlink(missing_ok=True)
        raise
    keep = {VALUE_FILE, *w.files}
    for entry in os.scandir(folder):
        if entry.name not in keep:
            if entry.is_dir(follow_symlinks=False):
                continue
            os.unlink(entry.path)
    return header


def _write_value_remote(folder: UPath, value: Any, provenance: Provenance) -> dict[str, Any]:
    """:func:`write_value` on an fsspec store: the sidecars are uploaded under write-once names (a fresh write id
    each), ``value.json`` is put under a temporary key and moved onto its name (``fs.mv``: a rename where the file
    system has one, a server-side copy of one object on an object store, which readers see whole or not at all),
    then the objects the new record does not reference are deleted."""
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="corridor-store-"))
    w = _Writer(folder, secrets.token_hex(4), stage=stage)
    tmp = folder / f".{VALUE_FILE}.{w.write_id}.part"
    try:
        tree = _encode(value, w, provenance.asset)
        header = {**provenance.header(), "value_digest": _digest(tree)}
        blob = json.dumps({**header, "value": tree}, indent=1, allow_nan=False).encode()
        tmp.write_bytes(blob)
        folder.fs.mv(tmp.path, (folder / VALUE_FILE).path)
    except BaseException:
        for name in w.files:
            (folder / name).unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    keep = {VALUE_FILE, *w.files}
    for entry in folder.iterdir():
        if entry.name not in keep and entry.is_file():
            entry.unlink(missing_ok=True)
    return header


# -- validation -------------------------------------------------------------------------------------------------------
_FILE_KEYS = {"file", "size", "sha256"}
_NODE_KEYS: dict[str, set[str]] = {
    "float": {"t", "v"},
    "tuple": {"t", "v"},
    "npscalar": {"t", "dtype", "v"},
    "ndarray": {"t", "dtype", "shape", *_FILE_KEYS},
    "raster": {"t", "dtype", "grid", "nodata", "attrs", *_FILE_KEYS},
    "dataframe": {"t", "columns", "object_columns", "attrs", *_FILE_KEYS},
    "geodataframe": {"t", "columns", "object_columns", "attrs", "geometry", "geometry_columns", *_FILE_KEYS},
    "bytes": {"t", *_FILE_KEYS},
    "geometry": {"t", "wkb"},
    "crs": {"t", "srs", "wkt"},
    "affine": {"t", "v"},
    "path": {"t", "v"},
    "dataclass": {"t", "class", "fields"},
    "namedtuple": {"t", "class", "fields"},
}


def _check_class(cls: type, *, where: str, error: type[StoreError] = StoreClassError) -> None:
    mod = getattr(cls, "__module__", "")
    if not (mod == ALLOWED_PACKAGE or mod.startswith(ALLOWED_PACKAGE + ".")) or "<" in cls.__qualname__:
        raise error(
            f"class {_class_path(cls)} at {where} is outside the {ALLOWED_PACKAGE} package; the store only "
            "builds geodata dataclasses and NamedTuples"
        )
    if not (dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields"))):
        raise error(f"class {_class_path(cls)} at {where} is neither a dataclass nor a NamedTuple")


def resolve_class(path: str, *, where: str = "value") -> type:
    """The geodata dataclass or NamedTuple named ``module:qualname``; anything else is a :class:`StoreClassError`."""
    module, _, qualname = path.partition(":")
    if not _MODULE.match(module) or not _QUALNAME.match(qualname):
        raise StoreClassError(f"class {path!r} at {where} is outside the {ALLOWED_PACKAGE} package or malformed")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise StoreClassError(f"class {path!r} at {where} does not exist in this version of geodata") from exc
    if not isinstance(obj, type) or obj.__module__ != module or obj.__qualname__ != qualname:
        raise StoreClassError(f"{path!r} at {where} is not a class defined in {module}")
    _check_class(obj, where=where)
    return obj


def _fail(where: str, msg: str) -> StoreFormatError:
    return StoreFormatError(f"{msg} at {where}")


def _check_file(node: Mapping[str, Any], folder: Location, where: str, kind: str) -> None:
    name, size, digest = node.get("file"), node.get("size"), node.get("sha256")
    if not isinstance(name, str) or not _NAME.match(name) or name == VALUE_FILE:
        raise _fail(where, f"file reference {name!r} is not a plain file name inside the value's folder")
    if type(size) is not int or not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise _fail(where, "file reference without a valid size and sha256")
    path = folder / name
    try:
        regular, got = _file_stat(path)
    except FileNotFoundError as exc:
        raise _fail(where, f"referenced file {path} is missing") from exc
    if not regular:
        raise _fail(where, f"referenced file {path} is a symlink or not a regular file")
    if got != size:
        raise _fail(where, f"referenced file {path} has {got} bytes, {size} recorded")
    if kind in _MAGIC:
        with path.open("rb") as fh:
            head = fh.read(8)
        if not any(head.startswith(m) for m in _MAGIC[kind]):
            pickled = " (it is a pickle)" if head[:1] == b"\x80" else ""
            raise _fail(where, f"referenced file {path} is not a {kind} file{pickled}")
    got_digest = _sha256_verified(path, os.lstat(path)) if isinstance(path, Path) else _sha256(path)
    if got_digest != digest:
        raise _fail(where, f"referenced file {path} does not match its recorded sha256")


def _file_stat(path: Location) -> tuple[bool, int]:
    """(a regular file, not a symlink; its size) of ``path``, without following a symlink; FileNotFoundError when
    there is nothing. On an fsspec store: an object (``type`` "file" in its info) and its size."""
    if isinstance(path, Path):
        st = os.lstat(path)
        return stat.S_ISREG(st.st_mode), st.st_size
    info = path.fs.info(path.path)
    return info.get("type") == "file" and info.get("islink") is not True, int(info.get("size") or 0)


def _is_dir(path: Location) -> bool:
    """Whether ``path`` is a folder (not a symlink to one); FileNotFoundError when there is nothing."""
    if isinstance(path, Path):
        return stat.S_ISDIR(os.lstat(path).st_mode)
    return path.fs.info(path.path).get("type") == "directory"


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def validate(tree: Any, folder: Location, where: str = "value") -> None:
    """Check a value tree's structure, classes and file references (see the module docstring) without reading
    any sidecar's content beyond its magic bytes and checksum."""
    if tree is None or isinstance(tree, (bool, int, str)):
        return
    if isinstance(tree, float):
        if not math.isfinite(tree):
            raise _fail(where, "non-finite float literal")
        return
    if isinstance(tree, list):
        for i, x in enumerate(tree):
            validate(x, folder, f"{where}[{i}]")
        return
    if not isinstance(tree, dict):
        raise _fail(where, f"unexpected JSON value of type {type(tree).__name__}")
    tag = tree.get("t")
    if tag == "dict":
        _validate_dict(tree, folder, where)
        return
    if not isinstance(tag, str) or tag not in _NODE_KEYS:
        raise _fail(where, f"unknown tag {tag!r}")
    if set(tree) != _NODE_KEYS[tag]:
        raise _fail(where, f"{tag} node has keys {sorted(tree)}, expected {sorted(_NODE_KEYS[tag])}")
    _VALIDATORS[tag](tree, folder, where)


def _validate_dict(tree: dict[str, Any], folder: Location, where: str) -> None:
    if set(tree) == {"t", "v"} and isinstance(tree["v"], dict):
        for k, x in tree["v"].items():
            validate(x, folder, f"{where}[{k!r}]")
        return
    if set(tree) == {"t", "items"} and isinstance(tree["items"], list):
        for i, pair in enumerate(tree["items"]):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _fail(where, "dict item is not a [key, value] pair")
            validate(pair[0], folder, f"{where}.key{i}")
            validate(pair[1], folder, f"{where}[{i}]")
        return
    raise _fail(where, "malformed dict node")


def _require(ok: bool, where: str, msg: str) -> None:
    if not ok:
        raise _fail(where, msg)


def _v_float(tree: dict[str, Any], folder: Location, where: str) -> None:
    _require(tree["v"] in ("nan", "inf", "-inf"), where, f"float node {tree['v']!r} is not nan, inf or -inf")


def _v_tuple(tree: dict[str, Any], folder: Location, where: str) -> None:
    _require(isinstance(tree["v"], list), where, "tuple node without a list")
    validate(tree["v"], folder, where)


def _v_npscalar(tree: dict[str, Any], folder: Location, where: str) -> None:
    _check_dtype(tree["dtype"], where)
    validate(tree["v"], folder, where)


def _v_ndarray(tree: dict[str, Any], folder: Location, where: str) -> None:
    _check_dtype(tree["dtype"], where)
    shape = tree["shape"]
    _require(isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape), where, "malformed shape")
    _check_file(tree, folder, where, "ndarray")


def _v_raster(tree: dict[str, Any], folder: Location, where: str) -> None:
    _check_dtype(tree["dtype"], where)
    for k in ("grid", "nodata", "attrs"):
        validate(tree[k], folder, f"{where}.{k}")
    _check_file(tree, folder, where, "raster")


def _v_frame(tree: dict[str, Any], folder: Location, where: str) -> None:
    ok = _is_str_list(tree["columns"]) and _is_str_list(tree["object_columns"])
    _require(ok, where, "frame node with malformed column lists")
    validate(tree["attrs"], folder, f"{where}.attrs")
    if tree["t"] == "geodataframe":
        geoms = tree["geometry_columns"]
        _require(isinstance(geoms, dict) and set(geoms) <= set(tree["columns"]), where, "malformed geometry columns")
        _require(
            tree["geometry"] is None or tree["geometry"] in geoms, where, "active geometry is not a geometry column"
        )
        for c, crs in geoms.items():
            _require(crs is None or (isinstance(crs, dict) and crs.get("t") == "crs"), where, f"{c!r}: malformed CRS")
            validate(crs, folder, f"{where}.{c}.crs")
    _check_file(tree, folder, where, tree["t"])


def _v_bytes(tree: dict[str, Any], folder: Location, where: str) -> None:
    _check_file(tree, folder, where, "bytes")


def _v_geometry(tree: dict[str, Any], folder: Location, where: str) -> None:
    wkb = tree["wkb"]
    _require(
        isinstance(wkb, str) and bool(re.fullmatch(r"(?:[0-9A-Fa-f]{2})*", wkb)), where, "geometry without WKB hex"
    )


def _v_crs(tree: dict[str, Any], folder: Location, where: str) -> None:
    _require(isinstance(tree["srs"], str) and isinstance(tree["wkt"], str), where, "crs node without strings")


def _v_affine(tree: dict[str, Any], folder: Location, where: str) -> None:
    v = tree["v"]
    _require(isinstance(v, list) and len(v) == 6, where, "affine node without six coefficients")
    validate(v, folder, where)


def _v_path(tree: dict[str, Any], folder: Location, where: str) -> None:
    _require(isinstance(tree["v"], str), where, "path node without a string")


def _v_record(tree: dict[str, Any], folder: Location, where: str) -> None:
    tag = tree["t"]
    _require(isinstance(tree["class"], str) and isinstance(tree["fields"], dict), where, f"malformed {tag} node")
    cls = resolve_class(tree["class"], where=where)
    if tag == "namedtuple" and not (issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise StoreClassError(f"class {tree['class']} at {where} is not a NamedTuple")
    if tag == "dataclass" and not dataclasses.is_dataclass(cls):
        raise StoreClassError(f"class {tree['class']} at {where} is not a dataclass")
    for k, x in tree["fields"].items():
        validate(x, folder, f"{where}.{k}")


_VALIDATORS: dict[str, Callable[[dict[str, Any], Location, str], None]] = {
    "float": _v_float,
    "tuple": _v_tuple,
    "npscalar": _v_npscalar,
    "ndarray": _v_ndarray,
    "raster": _v_raster,
    "dataframe": _v_frame,
    "geodataframe": _v_frame,
    "bytes": _v_bytes,
    "geometry": _v_geometry,
    "crs": _v_crs,
    "affine": _v_affine,
    "path": _v_path,
    "dataclass": _v_record,
    "namedtuple": _v_record,
}


def _check_dtype(s: Any, where: str) -> None:
    try:
        dt = np.dtype(s) if isinstance(s, str) else None
    except TypeError:
        dt = None
    if dt is None or dt.hasobject or dt.kind == "V":
        raise _fail(where, f"dtype {s!r} is not a plain numeric, boolean or string dtype")


@lru_cache(maxsize=128)
def _crs(srs: str) -> CRS:
    """One pyproj CRS per definition string and process (they are immutable; building one from WKT takes ms)."""
    return CRS.from_user_input(srs)


# -- decoding ---------------------------------------------------------------------------------------------------------
def _decode(tree: Any, folder: Location, where: str) -> Any:
    if tree is None or isinstance(tree, (bool, int, str, float)):
        return tree
    if isinstance(tree, list):
        return [_decode(x, folder, f"{where}[{i}]") for i, x in enumerate(tree)]
    decoder = _DECODERS.get(tree["t"])
    if decoder is None:  # unreachable after validate()
        raise _fail(where, f"unknown tag {tree['t']!r}")
    return decoder(tree, folder, where)


def _d_dict(tree: dict[str, Any], folder: Location, where: str) -> dict[Any, Any]:
    if "v" in tree:
        return {k: _decode(x, folder, f"{where}[{k!r}]") for k, x in tree["v"].items()}
    return {_decode(k, folder, where): _decode(x, folder, where) for k, x in tree["items"]}


def _d_ndarray(tree: dict[str, Any], folder: Location, where: str) -> np.ndarray:
    path = folder / tree["file"]
    try:
        if isinstance(path, Path):
            arr = np.load(path, allow_pickle=False)
        else:
            with path.open("rb") as fh:
                arr = np.load(fh, allow_pickle=False)
    except ValueError as exc:
        raise _fail(where, f"{path} is not a plain .npy array ({exc})") from exc
    if arr.dtype != np.dtype(tree["dtype"]) or list(arr.shape) != tree["shape"]:
        raise _fail(where, f"{path} holds {arr.dtype}{arr.shape}, not the recorded array")
    return arr


def _d_raster(tree: dict[str, Any], folder: Location, where: str) -> LazyRaster:
    """A :class:`LazyRaster` on the sidecar: its header is checked against the record now, its data is read when
    the asset uses it (windows only, for streamed code)."""
    import rasterio

    grid = _decode(tree["grid"], folder, f"{where}.grid")
    if type(grid) is not GeoGrid:
        raise _fail(where, "raster grid is not a GeoGrid")
    path = folder / tree["file"]
    try:
        with rasterio.open(path) as src:
            shape, file_dtype, count = (src.height, src.width), np.dtype(src.dtypes[0]), src.count
    except rasterio.errors.RasterioIOError as exc:
        raise _fail(where, f"{path} is not a readable GeoTIFF ({exc})") from exc
    if shape != grid.shape or count != 1:
        raise _fail(where, f"{path} has shape {shape} and {count} band(s), its grid {grid.shape}")
    dtype = np.dtype(tree["dtype"])
    if not np.can_cast(file_dtype, dtype, casting="same_kind") and not (dtype.kind == "b" and file_dtype == np.uint8):
        raise _fail(where, f"{path} holds {file_dtype}, not the recorded {dtype}")
    nodata = _decode(tree["nodata"], folder, where)
    attrs = _decode(tree["attrs"], folder, where)
    return RasterFile(path, grid, file_dtype, nodata, attrs).raster(dtype)


def _d_record(tree: dict[str, Any], folder: Location, where: str) -> Any:
    cls = resolve_class(tree["class"], where=where)
    kwargs = {k: _decode(x, folder, f"{where}.{k}") for k, x in tree["fields"].items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise StoreClassError(f"cannot rebuild {tree['class']} at {where} from its stored fields: {exc}") from exc


_DECODERS: dict[str, Callable[[dict[str, Any], Location, str], Any]] = {
    "dict": _d_dict,
    "float": lambda t, f, w: float(t["v"]),
    "tuple": lambda t, f, w: tuple(_decode(x, f, w) for x in t["v"]),
    "npscalar": lambda t, f, w: np.dtype(t["dtype"]).type(_decode(t["v"], f, w)),
    "ndarray": _d_ndarray,
    "raster": _d_raster,
    "dataframe": lambda t, f, w: _decode_frame(t, f, w),
    "geodataframe": lambda t, f, w: _decode_frame(t, f, w),
    "bytes": lambda t, f, w: (f / t["file"]).read_bytes(),
    "geometry": lambda t, f, w: shapely.from_wkb(t["wkb"]),
    "crs": lambda t, f, w: _crs(t["srs"]),
    "affine": lambda t, f, w: Affine(*(float(_decode(x, f, w)) for x in t["v"])),
    "path": lambda t, f, w: Path(t["v"]),
    "dataclass": _d_record,
    "namedtuple": _d_record,
}


def _decode_frame(tree: Mapping[str, Any], folder: Location, where: str) -> pd.DataFrame:
    # Read with pyarrow and build the geometry columns here, with the CRS of the JSON tree: geopandas' reader would
    # parse the GeoParquet PROJJSON into a new pyproj CRS per frame (20 ms each, most of a load's time).
    path = folder / tree["file"]
    try:
        if isinstance(path, Path):
            with pq.ParquetFile(path) as pf:  # one small file: threads and the dataset API only cost time here
                table = pf.read(use_threads=False)
        else:
            with path.open("rb") as fh, pq.ParquetFile(fh) as pf:
                table = pf.read(use_threads=False)
        df = table.to_pandas(use_threads=False)
    except (OSError, ValueError, TypeError) as exc:  # pyarrow.ArrowException derives from these
        raise _fail(where, f"{path} is not a readable (Geo)Parquet file ({exc})") from exc
    if list(df.columns) != tree["columns"]:
        raise _fail(where, f"{path} has columns {list(df.columns)}, {tree['columns']} recorded")
    for c in tree["object_columns"]:
        # Parquet has no "object" type; rebuild those columns as Python objects (None stays None, not NaN).
        df[c] = pd.Series(table.column(c).to_pylist(), index=df.index, dtype=object)
    if tree["t"] == "geodataframe":
        for c, crs in tree["geometry_columns"].items():
            values = gpd.array.from_wkb(df[c].to_numpy(dtype=object), crs=_decode(crs, folder, where))
            df[c] = gpd.GeoSeries(values, index=df.index, name=c)
        active = tree["geometry"]
        df = gpd.GeoDataFrame(df, geometry=active) if active is not None else gpd.GeoDataFrame(df)
    df.attrs = _decode(tree["attrs"], folder, f"{where}.attrs")
    return df


def read_value(folder: Location, *, asset: str, partition: str) -> Stored:
    """Read and validate a stored value's header and tree, then decode it. The scenario digest is *not* compared
    here; :func:`check_scenario` does that."""
    path = folder / VALUE_FILE
    try:
        is_dir = _is_dir(folder)
    except FileNotFoundError as exc:
        raise StoreMissingError(f"no stored value at {folder}") from exc
    if not is_dir:
        raise StoreFormatError(f"{folder} is a symlink or not a folder; remove it and rematerialise {asset}")
    try:
        regular, size = _file_stat(path)
    except FileNotFoundError as exc:
        raise StoreMissingError(f"no stored value at {path}") from exc
    if not regular or size > MAX_JSON_BYTES:
        raise StoreFormatError(f"{path} is a symlink, not a regular file, or too large")
    blob = path.read_bytes()
    if blob[:1] == b"\x80":
        raise StoreFormatError(f"{path} is a pickle; the store never unpickles. Rematerialise {asset}")
    try:
        record = json.loads(blob, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreFormatError(f"{path} is not JSON ({exc}); rematerialise {asset}") from exc
    _check_header(record, path, asset=asset, partition=partition)
    validate(record["value"], folder)
    if _digest(record["value"]) != record["value_digest"]:
        raise StoreFormatError(f"{path}: the value does not match its recorded value_digest")
    value = _decode(record["value"], folder, "value")
    header = {k: v for k, v in record.items() if k != "value"}
    return Stored(value, header, path)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_header(record: Any, path: Location, *, asset: str, partition: str) -> None:
    if not isinstance(record, dict):
        raise StoreFormatError(f"{path} does not hold a JSON object")
    if set(record) != set(_HEADER_KEYS):
        raise StoreFormatError(f"{path} has header keys {sorted(record)}, expected {sorted(_HEADER_KEYS)}")
    for k, types in _HEADER_KEYS.items():
        if not isinstance(record[k], types):  # type: ignore[arg-type]
            raise StoreFormatError(f"{path}: header field {k!r} has the wrong type")
    if record["format"] != FORMAT:
        raise StoreFormatError(f"{path} is in format {record['format']!r}, not {FORMAT!r}; rematerialise {asset}")
    if record["asset"] != asset or record["partition"] != partition:
        raise StoreFormatError(
            f"{path} holds {record['asset']}/{record['partition']}, not {asset}/{partition}; rematerialise {asset}"
        )


def check_scenario(stored: Stored, *, scenario: str, digest: str, snapshot_digest: str | None = None) -> None:
    """Refuse a value built for another version of the scenario (:class:`StaleValueError`): another scenario
    digest, or — when both the value and the current run have one — another snapshot digest (same scenario text,
    but a user file it names has changed)."""
    header = stored.header
    asset = header["asset"]
    got = header["scenario_digest"]
    if header["scenario"] != scenario or got != digest:
        raise StaleValueError(
            f"{stored.path} was built for scenario {header['scenario']} with digest {got[:12]}, but the "
            f"scenario {scenario} now has digest {digest[:12]}: rematerialise {asset} for {scenario}"
        )
    old = header["snapshot_digest"]
    if old is not None and snapshot_digest is not None and old != snapshot_digest:
        raise StaleValueError(
            f"{stored.path} was built from scenario snapshot {old[:12]}, but the user files of scenario {scenario} "
            f"have changed since (snapshot {snapshot_digest[:12]}): rematerialise {asset} for {scenario}"
        )


def iter_files(root: Root) -> Iterator[Location]:
    """Every file under a store root (for audits and tests)."""
    location = as_root(root)
    if not isinstance(location, Path):
        for key in sorted(location.fs.find(location.path)):
            yield location / PurePosixPath(key).relative_to(location.path)
        return
    for dirpath, _, files in os.walk(location):
        for f in files:
            yield Path(dirpath) / f
