"""The whole default scenario (1000 m) materialised with the intermediate store on a plain local path, on the same
kind of local folder given as a ``file://`` URL, and on fsspec's memory file system (the shared-store code path:
sidecars uploaded, ``value.json`` committed by ``fs.mv``, rasters read lazily through fsspec): every asset's value
and every published table equal the plain-path run's.

fsspec's memory file system lives in one process, so these runs use the in-process executor (the default)."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from upath import UPath

from pipelines import store
from pipelines.runner import folder_settings, materialize_scenario
from tests.pipelines.test_store import _kind, assert_same

pytestmark = pytest.mark.integration
SCENARIO = "siyazan-aktau"
NOT_COMPARED = {"published_corridor"}
"""Its value is where the publication went (paths of each run's own folder) and when; the published files are
compared instead."""
MEASURED = {
    "timings",
    "wall_s",
    "run_time_s",
    "realisations_per_s",
    "elapsed_s",
    "coarse_seconds",
    "fine_seconds",
    "timings_s",
}
"""Fields and keys that are measured durations, different in every run whatever the store."""


_PDF_DATE = re.compile(rb"/CreationDate \(D:[0-9+\-Z']*\)")


def same(a: Any, b: Any, where: str) -> None:
    """:func:`tests.pipelines.test_store.assert_same`, except measured durations (:data:`MEASURED`), a PDF's
    creation date, and dataclass fields the store does not keep (``init=False``: recomputed, or None, when a value is
    read back)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type) and not isinstance(a, tuple):
        assert _kind(a) is _kind(b), f"{where}: {type(a)} != {type(b)}"
        for f in dataclasses.fields(a):
            if f.init and f.name not in MEASURED:
                same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, pd.DataFrame):
        same(a.attrs, b.attrs, f"{where}.attrs")
        a, b = a.copy(deep=False), b.copy(deep=False)
        a.attrs, b.attrs = {}, {}
        assert_same(a, b, where)
    elif type(a) is bytes and a.startswith(b"%PDF"):  # matplotlib stamps the time it wrote the PDF
        assert type(b) is bytes, where
        assert _PDF_DATE.sub(b"", a) == _PDF_DATE.sub(b"", b), where
    elif type(a) is dict:
        assert type(b) is dict, where
        assert list(a) == list(b), where
        for k in a:
            if k not in MEASURED:
                same(a[k], b[k], f"{where}[{k!r}]")
    elif type(a) in (list, tuple):
        assert type(a) is type(b), where
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert_same(a, b, where)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path) -> Iterator[dict[str, Any]]:
    memory = f"memory://corridor-e2e-{secrets.token_hex(4)}/store"
    out: dict[str, Any] = {"memory_root": memory}
    for kind in ("plain", "file_url", "memory"):
        root = tmp_path_factory.mktemp(f"shared_{kind}")
        store_dir = {"plain": str(root / "store"), "file_url": f"file://{root}/store", "memory": memory}[kind]
        settings = folder_settings(root, mirror=mirror, store_dir=store_dir)
        out[kind] = {"root": root, "settings": settings, "result": materialize_scenario(SCENARIO, settings)}
    yield out
    mem = UPath(memory)
    if mem.fs.exists(mem.path):
        mem.fs.rm(mem.path, recursive=True)


def _differs(a: Any, b: Any, where: str) -> str:
    """'' when :func:`same`, else the first difference (so that a failure lists every asset that differs)."""
    try:
        same(a, b, where)
    except AssertionError as exc:
        return str(exc).splitlines()[0]
    return ""


def _assets(result: dg.ExecuteInProcessResult) -> list[str]:
    return sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})


def _manifest(run: dict[str, Any]) -> dict[str, str]:
    manifest = json.loads((run["root"] / "published" / SCENARIO / "manifest.json").read_text())
    return {f["path"]: f["sha256"] for f in manifest["files"]}


def test_every_run_succeeds_and_materialises_the_same_assets(runs: dict[str, Any]) -> None:
    names = _assets(runs["plain"]["result"])
    assert {"bathymetry", "cost_surface", "engineered_route", "published_corridor"} <= set(names)
    for kind in ("plain", "file_url", "memory"):
        assert runs[kind]["result"].success, kind
        assert _assets(runs[kind]["result"]) == names, kind


@pytest.mark.parametrize("kind", ["file_url", "memory"])
def test_every_value_equals_the_plain_path_run(runs: dict[str, Any], kind: str) -> None:
    plain, other = runs["plain"]["result"], runs[kind]["result"]
    differ = [
        _differs(plain.asset_value(name), other.asset_value(name), f"{kind}:{name}")
        for name in _assets(plain)
        if name not in NOT_COMPARED
    ]
    assert not [d for d in differ if d], differ


def test_the_values_read_back_from_the_memory_store_equal_the_plain_run(runs: dict[str, Any]) -> None:
    mem = UPath(runs["memory_root"])
    (snap_file,) = list((mem / SCENARIO / "runs").iterdir())
    snapshot = json.loads(snap_file.read_text())["digest"]
    plain = runs["plain"]["result"]
    stored = sorted(p.name for p in (mem / SCENARIO / snapshot).iterdir())
    assert stored == _assets(plain)
    differ = []
    for name in stored:
        value = store.read_value(mem / SCENARIO / snapshot / name, asset=name, partition=SCENARIO)
        assert value.header["run_id"] == runs["memory"]["result"].run_id
        if name not in NOT_COMPARED:
            differ.append(_differs(plain.asset_value(name), value.value, f"memory store:{name}"))
    assert not [d for d in differ if d], differ
    # nothing of the memory run's store went to the local disk: its folder holds only cache and publication
    assert not (runs["memory"]["root"] / "store").exists()
    assert not (runs["memory"]["root"] / ".scratch").exists()


def test_the_file_url_store_is_the_local_layout(runs: dict[str, Any]) -> None:
    base = runs["file_url"]["root"] / "store" / SCENARIO
    assert (base / "runs").is_dir()
    (snapshot,) = [p.name for p in base.iterdir() if p.name != "runs"]
    assert (base / snapshot / "cost_surface" / store.VALUE_FILE).is_file()


@pytest.mark.parametrize("kind", ["file_url", "memory"])
def test_the_published_tables_equal_the_plain_path_run(runs: dict[str, Any], kind: str) -> None:
    plain, other = _manifest(runs["plain"]), _manifest(runs[kind])
    assert sorted(plain) == sorted(other)
    tables = [p for p in plain if p.endswith(".csv")]
    assert len(tables) >= 5
    assert {p: plain[p] for p in tables} == {p: other[p] for p in tables}
