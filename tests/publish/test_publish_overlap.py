"""What publishing runs side by side (#14) still gates it: the manifest hashed on two threads equals a serial sha256,
a validation running beside the manifest still refuses a publication, GDAL's verdict on a GeoPackage checked early
serves only its unchanged file, once, and a GeoPackage is vacuumed only when it has free pages to give back."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from geodata.errors import PublishError
from geodata.publish import atomic, gpkg
from geodata.publish.atomic import LATEST, STAGING, live_version, publish, verify_manifest
from geodata.publish.gpkg import (
    VACUUM_FREE_SHARE,
    VECTOR_LAYERS,
    _vacuum_if_worth_it,
    validate_early,
    validate_gpkg,
    write_gpkg,
)

INPUTS = [{"name": "src", "sha256": "a" * 64, "licence": "CC-BY-4.0", "attribution": "someone"}]


def _build(folder: Path) -> None:
    (folder / "tiles").mkdir()
    for i, size in enumerate([0, 1, 4096, 3_000_000, 70_000, 5]):
        (folder / ("tiles" if i % 2 else ".") / f"f{i}.bin").write_bytes(bytes([i]) * size)


def test_the_manifest_hashes_on_threads_equal_a_serial_sha256(tmp_path: Path) -> None:
    res = publish("demo", _build, root=tmp_path, run_id="r1", scenario_digest="d", inputs=INPUTS)
    files = res.manifest["files"]
    assert len(files) == 6
    for entry in files:
        path = res.version_dir / entry["path"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["size_bytes"] == path.stat().st_size
    assert verify_manifest(res.version_dir) == []
    big = res.version_dir / "tiles" / "f3.bin"  # same size, one byte changed: only the hash can tell
    data = bytearray(big.read_bytes())
    data[1_234_567] ^= 1
    big.write_bytes(bytes(data))
    assert verify_manifest(res.version_dir) == ["tiles/f3.bin: sha256 differs from the manifest's"]


def test_a_validation_beside_the_manifest_still_refuses_and_sees_the_whole_build(tmp_path: Path) -> None:
    good = publish("demo", _build, root=tmp_path, run_id="good", scenario_digest="d", inputs=INPUTS)
    seen: list[tuple[str, list[str]]] = []
    started = threading.Event()

    def refuse(folder: Path) -> None:
        started.set()
        seen.append((threading.current_thread().name, sorted(p.name for p in folder.rglob("*.bin"))))
        raise ValueError("coverage without overviews")

    with pytest.raises(PublishError, match="failed validation: coverage without overviews"):
        publish("demo", _build, root=tmp_path, run_id="bad", scenario_digest="d", inputs=INPUTS, validate=refuse)
    assert started.is_set()
    assert seen[0][0].startswith("validate")  # on its own thread
    assert seen[0][1] == [f"f{i}.bin" for i in range(6)]  # the build was complete before it ran
    base = tmp_path / "demo"
    assert live_version(base) == good.version_dir.resolve()
    assert list((base / STAGING).iterdir()) == []
    assert verify_manifest(base / LATEST) == []


def test_a_manifest_that_does_not_verify_refuses_even_when_the_validation_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = publish("demo", _build, root=tmp_path, run_id="good", scenario_digest="d", inputs=INPUTS)
    monkeypatch.setattr(atomic, "verify_manifest", lambda folder: ["tiles/f3.bin: sha256 differs from the manifest's"])
    passed: list[Path] = []
    with pytest.raises(PublishError, match=r"does not verify: tiles/f3\.bin"):
        publish("demo", _build, root=tmp_path, run_id="bad", scenario_digest="d", inputs=INPUTS, validate=passed.append)
    assert len(passed) == 1  # it ran, and waited for, before the refusal
    assert live_version(tmp_path / "demo") == good.version_dir.resolve()


def test_a_geopackage_is_vacuumed_only_when_it_has_free_pages_to_give_back(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "a.sqlite")
    con.execute("CREATE TABLE keep (b BLOB)")
    con.execute("CREATE TABLE scratch (b BLOB)")
    with con:
        con.executemany("INSERT INTO keep VALUES (?)", [(b"k" * 4000,)] * 100)
        con.executemany("INSERT INTO scratch VALUES (?)", [(b"s" * 4000,)] * 100)
    assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert not _vacuum_if_worth_it(con)  # nothing to give back: no rewrite of the whole file
    con.execute("DROP TABLE scratch")
    free = con.execute("PRAGMA freelist_count").fetchone()[0]
    assert free > VACUUM_FREE_SHARE * con.execute("PRAGMA page_count").fetchone()[0]
    assert _vacuum_if_worth_it(con)
    assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0
    con.close()


def test_an_early_verdict_is_used_once_and_only_for_the_unchanged_file_and_the_same_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: SimpleNamespace
) -> None:
    path = tmp_path / "corridor.gpkg"
    write_gpkg(path, synthetic.layers(), metadata=synthetic.metadata(), required=VECTOR_LAYERS)
    runs: list[Path] = []

    def run(command: list[str], target: Path) -> list[str]:
        runs.append(target)
        return [f"validate_gpkg.py: verdict {len(runs)}"]

    monkeypatch.setattr(gpkg, "gdal_validator_command", lambda python: ["validator"])
    monkeypatch.setattr(gpkg, "_run_gdal_validator", run)
    validate_early(path)  # e.g. beside the tiles
    assert len(runs) == 1
    assert "validate_gpkg.py: verdict 1" in validate_gpkg(path)  # the early verdict, no second run
    assert len(runs) == 1
    assert "validate_gpkg.py: verdict 2" in validate_gpkg(path)  # taken once: the next check runs the validator
    validate_early(path)
    with open(path, "ab") as fh:  # the file changed after its early check: the verdict no longer applies
        fh.write(b"\0")
    assert "validate_gpkg.py: verdict 4" in validate_gpkg(path)
    assert len(runs) == 4
    validate_early(path, gdal_python="/other/python3")  # a verdict of another interpreter is not this one's
    assert "validate_gpkg.py: verdict 6" in validate_gpkg(path)
    validate_early(path)  # nor one of a check expecting other layers
    problems = validate_gpkg(path, expect_layers=["no_such_layer"])
    assert "validate_gpkg.py: verdict 8" in problems
    assert "layer 'no_such_layer' is missing" in problems
    assert len(runs) == 8
