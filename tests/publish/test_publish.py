"""Atomic versioned publishing: manifest, licences, switching, pruning, and crashes that must not hurt the live copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from geodata.errors import ConfigError, PublishError
from geodata.publish import tiles, webmap
from geodata.publish.atomic import (
    LATEST,
    STAGING,
    VERSIONS,
    combine_licences,
    input_record,
    live_version,
    publish,
    verify_manifest,
)
from geodata.publish.gpkg import VECTOR_LAYERS, prepare_layers, validate_gpkg, write_gpkg

INPUTS = [
    {
        "name": "srtm30plus_caspian",
        "sha256": "a" * 64,
        "licence": "SRTM30_PLUS - educational, research and non-profit use only",
        "licence_restrictions": ["non-commercial"],
        "attribution": "SRTM30_PLUS, Scripps",
    },
    {
        "name": "gshhg_coast",
        "sha256": "b" * 64,
        "licence": "LGPL-3.0-or-later",
        "licence_restrictions": ["share-alike"],
        "attribution": "GSHHG, Wessel & Smith",
    },
    {
        "name": "osm_countries",
        "sha256": "c" * 64,
        "licence": "ODbL-1.0",
        "licence_restrictions": ["share-alike", "attribution"],
        "attribution": "© OpenStreetMap contributors",
    },
]


def small_build(text: str):  # type: ignore[no-untyped-def]
    def build(folder: Path) -> None:
        (folder / "corridor.gpkg").write_text(f"gpkg {text}")
        (folder / "tiles").mkdir()
        (folder / "tiles" / "corridor.pmtiles").write_bytes(text.encode() * 100)
        (folder / "index.html").write_text(f"<html>{text}</html>")

    return build


def do_publish(root: Path, text: str, **kw: object):  # type: ignore[no-untyped-def]
    return publish(
        "demo", small_build(text), root=root, run_id=f"run-{text}", scenario_digest="d" * 64, inputs=INPUTS, **kw
    )


def test_publish_switches_latest_and_links(tmp_path: Path) -> None:
    first = do_publish(tmp_path, "one")
    second = do_publish(tmp_path, "two")
    base = tmp_path / "demo"
    assert live_version(base) == second.version_dir.resolve()
    assert (base / "corridor.gpkg").read_text() == "gpkg two"  # stable link follows latest
    assert (base / "tiles" / "corridor.pmtiles").read_bytes() == b"two" * 100
    assert os.readlink(base / "corridor.gpkg") == f"{LATEST}/corridor.gpkg"
    assert first.version_dir.is_dir()
    assert verify_manifest(first.version_dir) == []
    assert verify_manifest(base / LATEST) == []
    manifest = json.loads((base / "manifest.json").read_text())
    assert manifest["run_id"] == "run-two"
    assert manifest["scenario"] == {"name": "demo", "digest": "d" * 64}
    assert {f["path"] for f in manifest["files"]} == {"corridor.gpkg", "tiles/corridor.pmtiles", "index.html"}
    assert manifest["code_version"].startswith(("git:", "caspian-corridor==", "unknown"))
    assert [i["sha256"] for i in manifest["inputs"]] == ["a" * 64, "b" * 64, "c" * 64]


def test_keep_versions_prunes_old_never_live(tmp_path: Path) -> None:
    results = [do_publish(tmp_path, f"v{i}", keep_versions=2) for i in range(4)]
    kept = sorted(p.name for p in (tmp_path / "demo" / VERSIONS).iterdir())
    assert kept == sorted([results[2].version, results[3].version])
    assert results[3].pruned == [] or all(p.name != results[3].version for p in results[3].pruned)
    assert live_version(tmp_path / "demo").name == results[3].version


def test_licence_terms_inherit_the_most_restrictive() -> None:
    terms = combine_licences([input_record(i) for i in INPUTS])
    assert terms.restrictions == ("non-commercial", "share-alike", "attribution")
    assert "NON-COMMERCIAL" in terms.statement
    assert "srtm30plus_caspian" in terms.statement
    assert "SHARE-ALIKE" in terms.statement
    assert "gshhg_coast (LGPL-3.0-or-later)" in terms.statement
    assert "osm_countries (ODbL-1.0)" in terms.statement
    assert "differ" in terms.statement
    assert "© OpenStreetMap contributors" in terms.attribution
    free = combine_licences([input_record({**INPUTS[0], "licence": "CC0", "licence_restrictions": []})])
    assert free.restrictions == ()
    unknown = input_record({**INPUTS[0], "licence": "unknown", "licence_restrictions": []})
    assert "unknown" in unknown.licence_restrictions
    with pytest.raises(ConfigError, match="lacks"):
        input_record({"name": "x", "sha256": "1", "licence": "CC0"})


def test_manifest_detects_tampering(tmp_path: Path) -> None:
    res = do_publish(tmp_path, "one")
    (res.version_dir / "index.html").write_text("<html>changed</html>")
    (res.version_dir / "extra.txt").write_text("x")
    (res.version_dir / "tiles" / "corridor.pmtiles").unlink()
    problems = "\n".join(verify_manifest(res.version_dir))
    assert "index.html: s" in problems
    assert "extra.txt: present but not in the manifest" in problems
    assert "tiles/corridor.pmtiles: listed but missing" in problems


def test_failed_build_or_validation_keeps_previous(tmp_path: Path) -> None:
    good = do_publish(tmp_path, "good")

    def broken(folder: Path) -> None:
        (folder / "corridor.gpkg").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(PublishError, match="disk full"):
        publish("demo", broken, root=tmp_path, run_id="bad", scenario_digest="d", inputs=INPUTS)

    def refuse(folder: Path) -> None:
        raise ValueError("GeoPackage invalid")

    with pytest.raises(PublishError, match="failed validation: GeoPackage invalid"):
        do_publish(tmp_path, "bad2", validate=refuse)
    base = tmp_path / "demo"
    assert live_version(base) == good.version_dir.resolve()
    assert (base / "corridor.gpkg").read_text() == "gpkg good"
    assert verify_manifest(base / LATEST) == []
    assert list((base / STAGING).iterdir()) == []
    assert [p.name for p in (base / VERSIONS).iterdir()] == [good.version]


KILLED_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from geodata.publish.atomic import publish

    def build(folder):
        (folder / "corridor.gpkg").write_text("gpkg new")
        with open(folder / "big.bin", "wb") as fh:
            fh.write(b"x" * 1_000_000)
            fh.flush()
            Path(sys.argv[2]).write_text(str(folder))  # tell the test we are mid-write
            while True:
                fh.write(b"y" * 65536)
                time.sleep(0.01)

    publish("demo", build, root=Path(sys.argv[1]), run_id="killed", scenario_digest="d",
            inputs=[{"name": "s", "sha256": "1", "licence": "CC0", "attribution": "a"}])
    """
)


def test_sigkill_mid_publish_leaves_previous_intact(tmp_path: Path, root: Path) -> None:
    good = do_publish(tmp_path, "good")
    marker = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(tmp_path), str(marker)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the publishing subprocess ended before it started writing"
            assert time.monotonic() < deadline, "the publishing subprocess never started writing"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    base = tmp_path / "demo"
    half = Path(marker.read_text())
    assert half.parent == base / STAGING
    assert (half / "big.bin").stat().st_size > 1_000_000
    assert live_version(base) == good.version_dir.resolve()  # nothing half-written is pointed to
    assert (base / "corridor.gpkg").read_text() == "gpkg good"
    assert verify_manifest(base / LATEST) == []
    # the next publish sweeps the stale staging folder and goes live
    nxt = do_publish(tmp_path, "after")
    assert not half.exists()
    assert list((base / STAGING).iterdir()) == []
    assert live_version(base) == nxt.version_dir.resolve()
    assert verify_manifest(base / LATEST) == []


@pytest.mark.usefixtures("node_modules")
def test_full_synthetic_publication(tmp_path: Path, synthetic: SimpleNamespace) -> None:
    """The whole product as the Dagster asset builds it: GeoPackage, tiles, web map, manifest, validation."""
    layers = synthetic.layers()

    def build(folder: Path) -> None:
        write_gpkg(
            folder / "corridor.gpkg", layers, synthetic.raster_layers(), metadata=synthetic.metadata(),
            required=VECTOR_LAYERS,
        )  # fmt: skip
        (folder / "tiles").mkdir()
        vec = tiles.write_vector_tiles(prepare_layers(layers), folder / "tiles" / "corridor.pmtiles")
        bathy, cost = synthetic.rasters()
        rb = tiles.write_raster_tiles(tiles.render_bathymetry(bathy), folder / "tiles" / "bathymetry.pmtiles")
        rc = tiles.write_raster_tiles(tiles.render_cost(cost), folder / "tiles" / "cost.pmtiles")
        webmap.write_webmap(
            folder, title="demo", vector=vec,
            rasters={"bathymetry": webmap.RasterOverlay(rb, "Water depth"), "cost": webmap.RasterOverlay(rc, "Cost")},
        )  # fmt: skip

    def validate(folder: Path) -> None:
        if problems := validate_gpkg(folder / "corridor.gpkg", expect_layers=VECTOR_LAYERS):
            raise ValueError("; ".join(problems))

    res = publish("demo", build, root=tmp_path, run_id="full", scenario_digest="d", inputs=INPUTS, validate=validate)
    files = {f["path"]: f["size_bytes"] for f in res.manifest["files"]}
    assert {"corridor.gpkg", "index.html", "tiles/corridor.pmtiles", "tiles/bathymetry.pmtiles",
            "lib/maplibre-gl.mjs", "lib/pmtiles.js"} <= set(files)  # fmt: skip
    assert verify_manifest(tmp_path / "demo" / LATEST) == []
    print(f"\npublish time {res.elapsed_s:.2f} s, total {res.size_bytes / 1e6:.2f} MB")
    for path in ("corridor.gpkg", "tiles/corridor.pmtiles", "tiles/bathymetry.pmtiles", "tiles/cost.pmtiles"):
        print(f"  {path}: {files[path] / 1e3:.1f} kB")
