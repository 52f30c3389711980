"""Two runs of one scenario name from two scenario folders with different content, at the same time, on one store
and one output folder: both complete, neither reads the other's values, and each publication's manifest records
its own scenario snapshot and holds content built from its own scenario.

The two scenarios are SYNTHETIC variants of the default one (another title, a coarse grid: 5 km and 4 km) so that a
run takes about half a minute; each runs in its own process with its own ``CORRIDOR_SCENARIOS``, as two code
locations (or two analysts' shells) would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest
import rasterio
import yaml

from geodata.publish.atomic import verify_manifest
from pipelines import store

pytestmark = pytest.mark.integration
NAME = "twin"
VARIANTS = {"A": ("Twin A (synthetic test variant)", 5000.0), "B": ("Twin B (synthetic test variant)", 4000.0)}

RUN = textwrap.dedent(
    """
    import json, sys, time
    from pipelines.runner import materialize_scenario

    t0 = time.time()
    # the code location's own settings, as `dagster dev` would run it: settings and store from the environment
    r = materialize_scenario(sys.argv[1], raise_on_error=False)
    print("@@" + json.dumps({"run_id": r.run_id, "success": r.success, "t0": t0, "t1": time.time()}))
    """
)


def _scenario_folder(folder: Path, title: str, resolution_m: float) -> Path:
    text = resources.files("geodata").joinpath("data/scenarios/siyazan-aktau.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc.update(name=NAME, title=title)
    doc["analysis"]["resolution_m"] = resolution_m
    folder.mkdir(parents=True)
    (folder / f"{NAME}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path, root: Path) -> dict:
    tmp = tmp_path_factory.mktemp("twins")
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "CORRIDOR_MIRROR": str(mirror),
        "CORRIDOR_NODE_MODULES": str(node_modules),
        "CORRIDOR_STORE": str(tmp / "store"),
        "CORRIDOR_OUTPUT": str(tmp / "published"),
        "CORRIDOR_CACHE": str(tmp / "cache"),
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(tmp / "numba")),
    }
    procs = {}
    for key, (title, res) in VARIANTS.items():
        folder = _scenario_folder(tmp / key, title, res)
        procs[key] = subprocess.Popen(
            [sys.executable, "-c", RUN, NAME],
            env={**env, "CORRIDOR_SCENARIOS": str(folder)},
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    runs = {}
    for key, proc in procs.items():
        out, _ = proc.communicate(timeout=1200)
        marker = out.rfind("@@")
        assert proc.returncode == 0, out[-4000:]
        assert marker >= 0, out[-4000:]
        runs[key] = json.loads(out[marker + 2 :].splitlines()[0])
        assert runs[key]["success"], out[-4000:]
    return {"tmp": tmp, "runs": runs}


def test_both_runs_completed_at_the_same_time(twins: dict) -> None:
    a, b = twins["runs"]["A"], twins["runs"]["B"]
    assert a["t0"] < b["t1"], "the runs did not overlap: the test proves nothing"
    assert b["t0"] < a["t1"], "the runs did not overlap: the test proves nothing"


def _snapshot(twins: dict, key: str) -> dict:
    run_id = twins["runs"][key]["run_id"]
    return json.loads((twins["tmp"] / "store" / NAME / "runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def test_each_run_worked_on_its_own_snapshot_in_its_own_store_folder(twins: dict) -> None:
    base = twins["tmp"] / "store" / NAME
    snaps = {k: _snapshot(twins, k) for k in VARIANTS}
    assert snaps["A"]["digest"] != snaps["B"]["digest"]
    assert sorted(p.name for p in base.iterdir()) == sorted([snaps["A"]["digest"], snaps["B"]["digest"], "runs"])
    for key, (title, res) in VARIANTS.items():
        snap = snaps[key]
        assert snap["scenario"]["title"] == title
        assert snap["scenario"]["analysis"]["resolution_m"] == res
        folder = base / snap["digest"]
        names = sorted(p.name for p in folder.iterdir())
        assert {"bathymetry", "cost_surface", "engineered_route", "published_corridor"} <= set(names)
        for name in names:
            header = store.read_value(folder / name, asset=name, partition=NAME).header
            assert header["snapshot_digest"] == snap["digest"], name
            assert header["run_id"] == twins["runs"][key]["run_id"], name
        bathy = store.read_value(folder / "bathymetry", asset="bathymetry", partition=NAME).value
        assert abs(bathy.grid.transform.a) == res


def test_each_publication_records_and_holds_its_own_scenario(twins: dict) -> None:
    versions = twins["tmp"] / "published" / NAME / "versions"
    by_run = {}
    for v in versions.iterdir():
        manifest = json.loads((v / "manifest.json").read_text(encoding="utf-8"))
        by_run[manifest["run_id"]] = (v, manifest)
    assert len(by_run) == 2
    for key, (title, res) in VARIANTS.items():
        version, manifest = by_run[twins["runs"][key]["run_id"]]
        assert verify_manifest(version) == []
        assert manifest["scenario"] == {"name": NAME, "digest": _snapshot(twins, key)["digest"]}
        gpkg = version / "corridor.gpkg"
        with sqlite3.connect(gpkg) as con:
            (identifier,) = con.execute("select identifier from gpkg_contents where table_name = 'route'").fetchone()
        assert identifier.startswith(title), identifier  # from the publish step's snapshot
        with rasterio.open(f"GPKG:{gpkg}:bathymetry") as src:  # from the values the run's own steps stored
            assert src.res == (res, res)
