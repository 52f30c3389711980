"""The intermediate store on an fsspec location (``CORRIDOR_STORE=memory://...``, ``file://...``, any protocol
fsspec has installed): values round trip as on a local folder, a write is atomic (a failed write keeps the previous
value, leftovers of a killed run are removed), a corrupt or tampered entry is refused by name, rasters come back
lazy and are read window by window through fsspec, and an unknown protocol or a missing fsspec package is a named
error that says which setting to change and how.

The memory file system is per process, so everything here runs in this process."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec
import numpy as np
import pytest
from fsspec.registry import known_implementations
from upath import UPath

from assets.common import check_writable_store, run_snapshot, scratch_file
from assets.config import CorridorSettings, store_location
from geodata.errors import StoreLocationError
from geodata.grid import LazyRaster, Raster, RasterWriter
from pipelines import store
from pipelines.io_managers import CorridorIOManager
from tests.pipelines.test_store import (
    SCENARIO,
    SNAP,
    assert_same,
    cost_surface,
    downstream_value,
    frame,
    grid,
    upstream_value,
)

PROV = store.Provenance("thing", SCENARIO, SCENARIO, "0" * 64)


@pytest.fixture
def mem() -> Iterator[UPath]:
    """A fresh store root on fsspec's memory file system, removed afterwards."""
    root = UPath(f"memory://corridor-test-{secrets.token_hex(4)}/store")
    yield root
    if root.fs.exists(root.path):
        root.fs.rm(root.path, recursive=True)


def _value() -> dict[str, Any]:
    data = np.linspace(0, 50, 600, dtype="float32").reshape(20, 30)
    return {
        "surface": cost_surface(),
        "frame": frame(),
        "raster": Raster(data, grid(), math.nan, {"units": "m"}),
        "png": b"\x89PNG not really",
        "array": np.arange(12, dtype="int16").reshape(3, 4),
        "numbers": (1, 2.5, math.inf, None, "x"),
    }


def _objects(root: UPath) -> list[str]:
    return sorted(root.fs.find(root.path))


# -- locations --------------------------------------------------------------------------------------------------------
def test_plain_paths_and_file_urls_are_the_local_store(tmp_path: Path) -> None:
    assert store_location(str(tmp_path / "s")) == tmp_path / "s"
    assert type(store_location(f"file://{tmp_path}/s")) is type(tmp_path)  # a plain Path: the local code path
    assert store_location(f"file://{tmp_path}/s") == tmp_path / "s"
    assert store_location(f"file://localhost{tmp_path}/my%20store") == tmp_path / "my store"
    assert store.as_root(UPath(f"file://{tmp_path}/s")) == tmp_path / "s"
    with pytest.raises(StoreLocationError, match=r"CORRIDOR_STORE=.*file:///absolute/path"):
        store_location("file://fileserver/share/store")


def test_other_protocols_are_fsspec_locations() -> None:
    root = store_location("memory://corridor/store")
    assert isinstance(root, UPath)
    assert not isinstance(root, Path)
    assert root.protocol == "memory"
    folder = store.value_dir("memory://corridor/store", SCENARIO, "bathymetry", snapshot=SNAP)
    assert str(folder) == f"memory://corridor/store/{SCENARIO}/{SNAP}/bathymetry"


def test_an_unknown_protocol_is_a_named_error_naming_the_setting() -> None:
    with pytest.raises(StoreLocationError, match=r"CORRIDOR_STORE='nosuchfs://x'.*knows no protocol 'nosuchfs'"):
        store_location("nosuchfs://x")
    with pytest.raises(StoreLocationError, match="CORRIDOR_STORE"):
        _ = CorridorSettings(store_dir="nosuchfs://bucket/store").store_root
    with pytest.raises(StoreLocationError, match="CORRIDOR_STORE"):
        _ = CorridorIOManager(base_dir="nosuchfs://bucket/store")._root


def test_a_protocol_whose_package_is_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        known_implementations,
        "corridorfs",
        {"class": "corridor_no_such_package.CorridorFileSystem", "err": "Install corridor_no_such_package"},
    )
    with pytest.raises(StoreLocationError, match=r"CORRIDOR_STORE=.*pip install corridor_no_such_package.*local"):
        store_location("corridorfs://bucket/store")


def test_s3_without_s3fs_names_the_package() -> None:
    try:
        fsspec.get_filesystem_class("s3")
    except ImportError:
        with pytest.raises(StoreLocationError, match="pip install s3fs"):
            store_location("s3://bucket/store")
    else:  # s3fs is installed: the URL is an fsspec location (nothing is contacted until the store is used)
        assert isinstance(store_location("s3://bucket/store"), UPath)


def test_a_remote_store_scratches_locally_and_is_probed_for_writes(mem: UPath, tmp_path: Path) -> None:
    settings = CorridorSettings(store_dir=str(mem))
    assert isinstance(settings.scratch_root, Path)  # GDAL writes local files; the IO manager uploads them
    path = scratch_file(settings, "bathymetry")
    assert isinstance(path, Path)
    assert path.parent.is_dir()
    path.parent.rmdir()
    check_writable_store(mem, "intermediate store (CORRIDOR_STORE)")
    assert not any(".write-probe" in k for k in _objects(mem))
    local = CorridorSettings(store_dir=str(tmp_path / "s"))
    assert local.scratch_root == tmp_path / "s" / ".scratch"


# -- values -----------------------------------------------------------------------------------------------------------
def test_values_round_trip_on_the_memory_file_system(mem: UPath, tmp_path: Path) -> None:
    value = _value()
    folder = store.value_dir(mem, SCENARIO, "thing", snapshot=SNAP)
    header = store.write_value(folder, value, PROV)
    back = store.read_value(folder, asset="thing", partition=SCENARIO)
    assert_same(value, back.value)
    assert back.header["value_digest"] == header["value_digest"]
    assert isinstance(back.value["raster"], LazyRaster)
    # the same value in a local folder has the same tree apart from the sidecars' write ids
    local = store.value_dir(tmp_path, SCENARIO, "thing", snapshot=SNAP)
    store.write_value(local, value, PROV)
    assert_same(store.read_value(local, asset="thing", partition=SCENARIO).value, back.value)
    names = [k.rsplit("/", 1)[-1] for k in _objects(mem)]
    assert store.VALUE_FILE in names
    assert not any(n.endswith(".part") for n in names)
    assert [f.name for f in store.iter_files(mem)] == names


def test_a_scratch_raster_is_uploaded_and_comes_back_lazy(mem: UPath, tmp_path: Path) -> None:
    data = np.linspace(0, 50, 600 * 700, dtype="float32").reshape(600, 700)
    scratch = tmp_path / "scratch" / "x1"
    with RasterWriter(scratch / "depth.tif", grid(600, 700), "float32", nodata=math.nan, compress="zstd") as out:
        out.write_rows(slice(0, 256), data[:256])
        out.write_rows(slice(256, 600), data[256:])
    lazy = out.raster(scratch=True)
    folder = store.value_dir(mem, SCENARIO, "bathymetry", snapshot=SNAP)
    store.write_value(folder, lazy, store.Provenance("bathymetry", SCENARIO, SCENARIO, "0" * 64))
    assert not lazy.loaded
    assert not scratch.exists()  # the local scratch file is gone once uploaded
    assert isinstance(lazy.file.path, UPath)
    assert lazy.file.path.parent == folder
    assert np.array_equal(lazy.read_rows(slice(300, 302)), data[300:302])

    back = store.read_value(folder, asset="bathymetry", partition=SCENARIO).value
    assert isinstance(back, LazyRaster)
    assert not back.loaded
    # a window is read through fsspec without fetching the object: count the bytes GDAL asks for
    opened: list[Any] = []
    real_open = mem.fs.open

    def counting_open(path: str, mode: str = "rb", **kw: Any) -> Any:
        fh = real_open(path, mode, **kw)
        opened.append(fh)
        return fh

    size = mem.fs.size(back.file.path.path)
    mem.fs.open = counting_open  # type: ignore[method-assign]
    try:
        assert np.array_equal(back.read_rows(slice(10, 12)), data[10:12])
        assert np.allclose(back.sample([401_500.0], [4_697_500.0], method="nearest"), [data[2, 1]])
    finally:
        del mem.fs.open
    assert opened, "the raster was not read through the store's file system"
    assert not back.loaded
    assert np.array_equal(back.data, data)
    assert size > 0


def test_a_raster_of_the_store_handed_on_unread_is_stored_again(mem: UPath) -> None:
    first = store.value_dir(mem, SCENARIO, "bathymetry", snapshot=SNAP)
    data = np.arange(600, dtype="float32").reshape(20, 30)
    prov = store.Provenance("bathymetry", SCENARIO, SCENARIO, "0" * 64)
    store.write_value(first, Raster(data, grid(), None, {}), prov)
    lazy = store.read_value(first, asset="bathymetry", partition=SCENARIO).value
    second = store.value_dir(mem, SCENARIO, "copy", snapshot=SNAP)
    store.write_value(second, {"depth": lazy}, store.Provenance("copy", SCENARIO, SCENARIO, "0" * 64))
    assert not lazy.loaded
    assert np.array_equal(store.read_value(second, asset="copy", partition=SCENARIO).value["depth"].data, data)


# -- atomic writes ----------------------------------------------------------------------------------------------------
def test_a_failed_write_keeps_the_previous_value(mem: UPath, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = store.value_dir(mem, SCENARIO, "thing", snapshot=SNAP)
    store.write_value(folder, _value(), PROV)
    before = _objects(mem)

    uploaded: list[int] = []

    def boom(v: Any, w: Any, hint: str) -> Any:
        uploaded.append(len(_objects(mem)) - len(before))
        raise OSError("connection reset while uploading")

    monkeypatch.setitem(store._ENCODERS, bytes, boom)  # after the surface's arrays, the frame and the raster
    with pytest.raises(OSError, match="connection reset"):
        store.write_value(folder, _value(), PROV)
    assert uploaded
    assert uploaded[0] >= 5
    assert _objects(mem) == before  # ... and were removed; the old value is intact
    monkeypatch.undo()
    assert_same(store.read_value(folder, asset="thing", partition=SCENARIO).value, _value())


def test_a_failed_commit_leaves_the_previous_record(mem: UPath, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = store.value_dir(mem, SCENARIO, "thing", snapshot=SNAP)
    store.write_value(folder, {"a": 1}, PROV)
    fs = folder.fs

    def broken_mv(*args: Any, **kwargs: Any) -> None:
        raise OSError("the move of value.json failed")

    monkeypatch.setattr(fs, "mv", broken_mv)
    with pytest.raises(OSError, match=r"move of value\.json"):
        store.write_value(folder, {"a": np.arange(3)}, PROV)
    monkeypatch.undo()
    assert store.read_value(folder, asset="thing", partition=SCENARIO).value == {"a": 1}
    assert [k.rsplit("/", 1)[-1] for k in _objects(mem)] == [store.VALUE_FILE]


def test_leftovers_of_a_killed_run_are_removed_by_the_next_write(mem: UPath) -> None:
    folder = store.value_dir(mem, SCENARIO, "thing", snapshot=SNAP)
    store.write_value(folder, {"a": np.arange(3)}, PROV)
    (folder / "a.dead0000.000.npy").write_bytes(b"half an upload")
    (folder / f".{store.VALUE_FILE}.dead0000.part").write_bytes(b'{"format": ')
    store.write_value(folder, {"a": np.arange(4)}, PROV)
    names = sorted(k.rsplit("/", 1)[-1] for k in _objects(mem))
    assert len(names) == 2
    assert store.VALUE_FILE in names
    assert not any("dead0000" in n for n in names)
    assert np.array_equal(store.read_value(folder, asset="thing", partition=SCENARIO).value["a"], np.arange(4))


# -- corrupt entries --------------------------------------------------------------------------------------------------
# Every hostile entry of tests/pipelines/test_store.py (pickles, garbage, changed or truncated sidecars, classes
# outside geodata) runs on the memory file system too: its ``stored`` fixture is parametrised over both stores.
def _record(folder: UPath) -> dict[str, Any]:
    return json.loads((folder / store.VALUE_FILE).read_text())


def test_a_missing_value_is_named(mem: UPath) -> None:
    with pytest.raises(store.StoreMissingError, match="no stored value"):
        store.read_value(store.value_dir(mem, SCENARIO, "thing", snapshot=SNAP), asset="thing", partition=SCENARIO)


# -- snapshots and pruning --------------------------------------------------------------------------------------------
def test_old_snapshot_folders_are_pruned_on_an_fsspec_store(mem: UPath) -> None:
    now = 1_000_000_000.0
    ages_h = {"1": 100, "2": 90, "3": 80, "4": 1}
    for d, age in ages_h.items():
        folder = store.value_dir(mem, SCENARIO, "thing", snapshot=d * 64)
        store.write_value(folder, 1, PROV)
        mem.fs.store[(folder / store.VALUE_FILE).path].modified = datetime.fromtimestamp(now - age * 3600, tz=UTC)
    (mem / SCENARIO / "runs").mkdir(parents=True, exist_ok=True)
    removed = store.prune_snapshots(mem, SCENARIO, keep=1, min_age_s=3 * 3600, now=now)
    assert sorted(p.name[0] for p in removed) == ["1", "2", "3"]
    assert store.other_snapshots(mem, SCENARIO, "thing", snapshot="0" * 64) == ["4" * 64]


def test_a_folder_without_a_known_time_is_never_pruned(mem: UPath, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = store.value_dir(mem, SCENARIO, "thing", snapshot="1" * 64)
    store.write_value(folder, 1, PROV)

    def unknown(path: str) -> Any:
        raise NotImplementedError

    monkeypatch.setattr(mem.fs, "modified", unknown)
    assert store.prune_snapshots(mem, SCENARIO, keep=0, min_age_s=0.0, now=2e9) == []


def test_the_run_snapshot_is_stored_once_on_an_fsspec_store(mem: UPath) -> None:
    settings = CorridorSettings(store_dir=str(mem))
    run_id = f"run-{secrets.token_hex(4)}"
    first = run_snapshot(settings, SCENARIO, run_id, checks=False)
    path = mem / SCENARIO / "runs" / f"{run_id}.json"
    assert path.is_file()
    assert json.loads(path.read_text())["digest"] == first.digest
    assert not any(k.endswith(".part") for k in _objects(mem))


# -- the IO manager ---------------------------------------------------------------------------------------------------
def test_the_io_manager_on_a_memory_store(mem: UPath) -> None:
    io = CorridorIOManager(base_dir=str(mem))
    result = dg.materialize([upstream_value, downstream_value], partition_key=SCENARIO, resources={"io_manager": io})
    assert result.success
    base = mem / SCENARIO
    (snap_file,) = list((base / "runs").iterdir())
    snap = json.loads(snap_file.read_text())["digest"]
    up = _record(base / snap / "upstream_value")
    down = _record(base / snap / "downstream_value")
    assert down["upstream"]["upstream_value"]["value_digest"] == up["value_digest"]
    assert result.asset_value("downstream_value") == (3, ["AZE", "KAZ"])
    stored_at = [
        e.materialization.metadata["stored_at"].value
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey("upstream_value")
    ]
    assert stored_at == [str(base / snap / "upstream_value")]
    # downstream re-executed alone reads upstream back from the memory store
    again = dg.materialize(
        [upstream_value, downstream_value],
        selection=[downstream_value],
        partition_key=SCENARIO,
        resources={"io_manager": io},
    )
    assert again.asset_value("downstream_value") == (3, ["AZE", "KAZ"])


def test_a_run_on_an_unknown_protocol_fails_with_the_named_error() -> None:
    io = CorridorIOManager(base_dir="nosuchfs://bucket/store")
    with pytest.raises(StoreLocationError, match=r"CORRIDOR_STORE='nosuchfs://bucket/store'.*local folder"):
        dg.materialize([upstream_value, downstream_value], partition_key=SCENARIO, resources={"io_manager": io})
