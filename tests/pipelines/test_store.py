"""The intermediate store: every asset value type survives a round trip exactly, and anything that is not the
store's own inert format — a pickle, an unknown tag, a class outside geodata, a path out of the value's folder, a
value built for another scenario digest — is refused with a named error."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import io
import json
import math
import os
import pickle  # only to craft hostile files; the store itself never imports it
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from affine import Affine
from pyproj import CRS

from assets.common import DEFERRED, Deferred, resolve
from assets.config import CorridorSettings
from geodata import routing
from geodata.boundaries.coast import CaspianCoast
from geodata.cost import CostSurface
from geodata.deliverables.compose import RouteDeliverables
from geodata.engineering.alter_course import AlterCourse, LegPlan
from geodata.engineering.compose import CorridorPolygons, EngineeredRoute
from geodata.engineering.landfall import Landfall
from geodata.errors import CorridorError
from geodata.grid import GeoGrid, LazyRaster, Raster
from geodata.publish.atomic import PublishResult
from geodata.scenario import load_scenario
from pipelines import store
from pipelines.io_managers import CorridorIOManager

SCENARIO = "siyazan-aktau"
SNAP = "a" * 64  # a scenario snapshot digest
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


# -- helpers ----------------------------------------------------------------------------------------------------------
def _kind(v: Any) -> type:
    return Raster if isinstance(v, LazyRaster) else type(v)


def assert_same(a: Any, b: Any, where: str = "value") -> None:
    """Equal, of the same types, all the way down (NaN equals NaN, geometries exactly equal)."""
    # a raster comes back as a LazyRaster (a Raster whose data is read on first use)
    assert _kind(a) is _kind(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, pd.DataFrame):
        assert_same_frame(a, b, where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        assert a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    elif isinstance(a, shapely.Geometry):
        assert shapely.to_wkb(a) == shapely.to_wkb(b), where
    elif isinstance(a, CRS):
        assert a == b, where
        assert a.to_wkt() == b.to_wkt(), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame, where: str) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.dtypes) == list(b.dtypes), where
    assert_same(a.attrs, b.attrs, f"{where}.attrs")
    if isinstance(a, gpd.GeoDataFrame):
        assert a.crs == b.crs, where
        assert a.geometry.name == b.geometry.name, where
        assert list(a.geometry.to_wkb()) == list(b.geometry.to_wkb()), where
    for c in a.columns:
        if a[c].dtype == object:
            assert [type(x) for x in a[c]] == [type(x) for x in b[c]], f"{where}.{c}"


def roundtrip(tmp_path: Path, value: Any, name: str = "thing") -> Any:
    folder = store.value_dir(tmp_path, SCENARIO, name, snapshot=SNAP)
    store.write_value(folder, value, store.Provenance(name, SCENARIO, SCENARIO, "0" * 64))
    back = store.read_value(folder, asset=name, partition=SCENARIO).value
    assert_same(value, back)
    return back


def grid(rows: int = 20, cols: int = 30) -> GeoGrid:
    return GeoGrid(CRS.from_epsg(32639), Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_700_000.0), (rows, cols))


def frame(n: int = 3, crs: Any = 4326) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {
            "name": [f"n{i}" for i in range(n)],
            "maybe": pd.Series([None if i % 2 else f"m{i}" for i in range(n)], dtype=object),
            "count": np.arange(n, dtype="int64"),
            "ok": [bool(i % 2) for i in range(n)],
            "value": [float(i) / 3 for i in range(n)],
        },
        geometry=[shapely.LineString([(49.0 + i, 40.0, -1.0), (50.0 + i / 7, 41.0 + i / 3, 5.0)]) for i in range(n)],
        crs=crs,
    )
    gdf.attrs = {"report": ["a", "b"], "nested": {"x": 1.5, "nan": math.nan}}
    return gdf


def landfall(name: str, x: float) -> Landfall:
    return Landfall(
        name, (x, 4.5e6), (x + 10, 4.5e6), (x + 20, 4.5e6 + 1), (x + 500.25, 4.5e6 + 2), 80.5, 80.5, 90.0,
        CRS.from_epsg(32639),
    )  # fmt: skip


def cost_array(n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(7)
    cost = 1.0 + rng.random((n, n))
    cost[5:15, 9] = np.inf  # a wall with a gap
    cost[12, 9] = 1.0
    return cost


def cost_surface() -> CostSurface:
    g = grid(20, 20)
    total = cost_array()
    return CostSurface(
        g,
        total,
        terms={"length": np.ones((20, 20)), "slope": total.astype("float32")},
        barriers={"land": np.isinf(total), "too_deep": np.zeros((20, 20), dtype=bool)},
        attrs={"allowed_sectors": ["AZE", "KAZ"], "weights": {"length": 1.0}, "limit": math.inf, "none": None},
    )


# -- round trips ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        "text é",
        1.0 / 3,
        -0.0,
        math.nan,
        math.inf,
        -math.inf,
        [1, "a", None, [2.5]],
        (1, (2, (3,))),
        (),
        {"a": 1, "b": {"c": (1, 2)}},
        {1: "one", (2, 3): "pair", None: 0.5},
        np.float32(1.1),
        np.int16(-3),
        np.bool_(True),
        Path("/tmp/x/y.gpkg"),
        Affine(1.5, 0, 3.25, 0, -1.5, 7.0),
        CRS.from_epsg(4326),
        CRS.from_proj4("+proj=aeqd +lat_0=41.8 +lon_0=50.3 +datum=WGS84 +units=m +no_defs"),
        shapely.Point(1.25, 2.5),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
        shapely.LineString(),
    ],
    ids=repr,
)
def test_plain_values_round_trip(tmp_path: Path, value: Any) -> None:
    roundtrip(tmp_path, value)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="float64").reshape(3, 4) / 7,
        np.array([[np.nan, np.inf], [-np.inf, 0.0]], dtype="float32"),
        np.zeros((0, 2), dtype="int64"),
        np.array([True, False]),
        np.array(["ab", "c"]),
        np.asfortranarray(np.arange(6, dtype="uint16").reshape(2, 3)),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_arrays_round_trip(tmp_path: Path, array: np.ndarray) -> None:
    roundtrip(tmp_path, array)


@pytest.mark.parametrize(
    ("data", "nodata"),
    [
        (np.linspace(-100, 0, 600, dtype="float32").reshape(20, 30), math.nan),
        (np.arange(600, dtype="float64").reshape(20, 30), -9999.0),
        (np.eye(20, 30, dtype=bool), None),
        (np.eye(20, 30, dtype="uint8"), 255),
    ],
    ids=["float32-nan", "float64", "bool", "uint8"],
)
def test_rasters_round_trip_as_geotiff(tmp_path: Path, data: np.ndarray, nodata: Any) -> None:
    r = Raster(data, grid(), nodata, {"units": "m", "sources": {"gebco": "abc"}, "n": 3})
    roundtrip(tmp_path, r, "bathymetry")
    files = sorted(p.suffix for p in (tmp_path / SCENARIO / SNAP / "bathymetry").iterdir())
    assert files == [".json", ".tif"]


def test_frames_round_trip_as_parquet(tmp_path: Path) -> None:
    roundtrip(tmp_path, frame(), "hazards")
    roundtrip(tmp_path, frame(0), "empty")
    roundtrip(tmp_path, frame(4, crs=None), "no_crs")
    df = pd.DataFrame({"kp_km": [0.0, 1.5], "cable_m": [np.nan, 2.0], "status": ["ok", "moved"]})
    roundtrip(tmp_path, df, "table")
    roundtrip(tmp_path, df.set_index("status"), "indexed")
    files = [p.suffix for p in (tmp_path / SCENARIO / SNAP / "hazards").iterdir()]
    assert sorted(files) == [".json", ".parquet"]


def test_cost_surface_round_trips(tmp_path: Path) -> None:
    roundtrip(tmp_path, cost_surface(), "cost_surface")


def test_coast_round_trips(tmp_path: Path) -> None:
    water = gpd.GeoDataFrame({"name": ["Caspian"], "area_km2": [371000.0]}, geometry=[shapely.box(46, 36, 55, 47)])
    water = water.set_crs(4326)
    coast = CaspianCoast(water, frame(), frame(0), ("repaired 2 rings", "dropped Kara-Bogaz-Gol"))
    roundtrip(tmp_path, coast, "coastline")


def test_landfalls_round_trip(tmp_path: Path) -> None:
    roundtrip(tmp_path, (landfall("Siyazan", 341442.39), landfall("Aktau", 611000.5)), "landfalls")


def test_route_results_round_trip(tmp_path: Path) -> None:
    cost = cost_array()
    best = routing.least_cost_path(cost, (0, 0), (19, 19), cell_size=(1000.0, 1000.0))
    roundtrip(tmp_path, best, "least_cost_route")
    alternatives = routing.alternative_routes(cost, (0, 0), (19, 19), cell_size=(1000.0, 1000.0), k=3)
    assert any(r.separation is not None for r in alternatives)
    roundtrip(tmp_path, alternatives, "alternatives")


def test_corridor_round_trips(tmp_path: Path) -> None:
    mask = np.zeros((20, 30), dtype="uint8")
    mask[5:9, 3:20] = 1
    polygons = gpd.GeoDataFrame({"kind": ["near_optimal_band"], "area_km2": [68.0]}, geometry=[shapely.box(0, 0, 1, 1)])
    value = CorridorPolygons(Raster(mask, grid(), None, {"units": "1 = in"}), polygons.set_crs(4326), 123.5, math.nan)
    roundtrip(tmp_path, value, "route_corridor")


def test_engineered_route_round_trips(tmp_path: Path) -> None:
    acs = [AlterCourse(i, 1000.0 * i, 2000.5, 12.5, 3000.0, 4000.0) for i in range(3)]
    report = pd.DataFrame({"feature_id": ["p1"], "angle_before_deg": [45.0], "status": ["realigned"]})
    er = EngineeredRoute(
        shapely.LineString([(0, 0), (1000, 1000), (5000, 1200)]),
        CRS.from_epsg(32639),
        (landfall("A", 0.0), landfall("B", 5000.0)),
        acs,
        ["leg 2 shorter than 500 m"],
        frame(2),
        report,
        1234.5,
        1240.25,
        {"legs": 4, "timings_s": {"total": 0.5}},
    )
    roundtrip(tmp_path, er, "engineered_route")
    roundtrip(tmp_path, LegPlan(er.line, acs, []), "legs")


def test_deliverables_round_trip(tmp_path: Path) -> None:
    prox = pd.DataFrame({"kp_km": [0.0, 0.1], "cable_m": [np.nan, 12.0]})
    roundtrip(tmp_path, RouteDeliverables(frame(), frame(2), frame(5), frame(1), frame(0)), "rpl_no_proximity")
    roundtrip(tmp_path, RouteDeliverables(frame(), frame(2), frame(5), frame(1), frame(0), prox), "route_position_list")


def test_diagram_bytes_round_trip_as_files(tmp_path: Path) -> None:
    value = {"png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "pdf": b"%PDF-1.7\n", "empty": b""}
    roundtrip(tmp_path, value, "straight_line_diagram")
    suffixes = sorted(p.suffix for p in (tmp_path / SCENARIO / SNAP / "straight_line_diagram").iterdir())
    assert suffixes == [".bin", ".json", ".pdf", ".png"]


def test_publish_result_round_trips(tmp_path: Path) -> None:
    value = PublishResult(
        SCENARIO,
        "20260101T000000Z-abc",
        tmp_path / "v1",
        tmp_path / "latest",
        {"files": [{"path": "rpl.csv", "size_bytes": 10}], "licence": {"statement": "CC-BY"}},
        [tmp_path / "v0"],
        1.25,
    )
    roundtrip(tmp_path, value, "published_corridor")


def test_unstorable_values_are_refused_when_writing(tmp_path: Path) -> None:
    folder = store.value_dir(tmp_path, SCENARIO, "x", snapshot=SNAP)
    prov = store.Provenance("x", SCENARIO, SCENARIO, "0" * 64)
    for bad in (object(), np.array([{}], dtype=object), {1, 2}, type("S", (str,), {})("sub"), dg.AssetKey("a")):
        with pytest.raises(store.StoreWriteError):
            store.write_value(folder, {"ok": 1, "bad": bad}, prov)
    assert not folder.exists() or list(folder.iterdir()) == []


# -- atomic writes --------------------------------------------------------------------------------------------------
def test_a_failed_write_keeps_the_previous_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = store.value_dir(tmp_path, SCENARIO, "cost_surface", snapshot=SNAP)
    prov = store.Provenance("cost_surface", SCENARIO, SCENARIO, "0" * 64)
    first = cost_surface()
    store.write_value(folder, first, prov)
    before = sorted(os.listdir(folder))

    # A value that fails half way (after several arrays are on disk) ...
    with pytest.raises(store.StoreWriteError):
        store.write_value(folder, {"total": np.ones(3), "terms": [np.zeros(2), object()]}, prov)
    # ... and a run killed just before the commit.
    real_replace = os.replace

    def killed(src: Any, dst: Any) -> None:
        if str(dst).endswith(store.VALUE_FILE):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.write_value(folder, np.arange(5), prov)
    monkeypatch.setattr(os, "replace", real_replace)

    assert sorted(os.listdir(folder)) == before
    assert_same(first, store.read_value(folder, asset="cost_surface", partition=SCENARIO).value)
    store.write_value(folder, np.arange(5), prov)  # a later write replaces it and leaves only its own files
    assert len(os.listdir(folder)) == 2


def test_leftovers_of_a_killed_run_are_removed_by_the_next_write(tmp_path: Path) -> None:
    folder = store.value_dir(tmp_path, SCENARIO, "x", snapshot=SNAP)
    prov = store.Provenance("x", SCENARIO, SCENARIO, "0" * 64)
    folder.mkdir(parents=True)
    (folder / "total.deadbeef.000.npy").write_bytes(b"\x93NUMPY half")
    (folder / ".value.json.deadbeef.part").write_bytes(b"{")
    store.write_value(folder, np.arange(3), prov)
    assert len(os.listdir(folder)) == 2


# -- refusals -------------------------------------------------------------------------------------------------------
def _stored(root: Any) -> Any:
    folder = store.value_dir(root, SCENARIO, "thing", snapshot=SNAP)
    value = {
        "surface": cost_surface(),
        "frame": frame(),
        "png": b"\x89PNG",
        "fall": landfall("A", 1.0),
        "raster": Raster(np.linspace(0, 50, 600, dtype="float32").reshape(20, 30), grid(), math.nan, {"units": "m"}),
    }
    store.write_value(folder, value, store.Provenance("thing", SCENARIO, SCENARIO, "0" * 64))
    return folder


@pytest.fixture(params=["local", "memory"])
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A stored CostSurface-like value with arrays, a frame, a dataclass and bytes; returns its folder: on a local
    folder, and on fsspec's memory file system (``CORRIDOR_STORE=memory://...``). Every hostile entry below is
    refused on both."""
    if request.param == "local":
        yield _stored(tmp_path)
        return
    from upath import UPath

    root = UPath(f"memory://corridor-test-{secrets.token_hex(4)}/store")
    try:
        yield _stored(root)
    finally:
        if root.fs.exists(root.path):
            root.fs.rm(root.path, recursive=True)


@pytest.fixture
def stored_local(tmp_path: Path) -> Path:
    """The stored value on a local folder only (symlinks, the per-process hash memo of local sidecars)."""
    return Path(_stored(tmp_path))


def _record(folder: Path) -> dict[str, Any]:
    return json.loads((folder / store.VALUE_FILE).read_text())


def _save(folder: Path, record: dict[str, Any], *, rehash: bool = True) -> None:
    if rehash:
        record["value_digest"] = hashlib.sha256(
            json.dumps(record["value"], sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    (folder / store.VALUE_FILE).write_text(json.dumps(record))


def _load(folder: Path) -> Any:
    return store.read_value(folder, asset="thing", partition=SCENARIO).value


def _nodes(tree: Any) -> Any:
    if isinstance(tree, dict):
        yield tree
        for v in tree.values():
            yield from _nodes(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _nodes(v)


def _first(record: dict[str, Any], tag: str) -> dict[str, Any]:
    return next(n for n in _nodes(record["value"]) if n.get("t") == tag)


def test_the_fixture_value_loads(stored: Path) -> None:
    assert isinstance(_load(stored)["surface"], CostSurface)


def test_a_pickled_value_json_is_refused(stored: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = pickle.dumps(_Evil(str(marker)))
    (stored / store.VALUE_FILE).write_bytes(evil)
    with pytest.raises(store.StoreFormatError, match="pickle"):
        _load(stored)
    assert not marker.exists()


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (Path(self.path),))


def test_a_pickle_in_place_of_an_array_is_refused(stored: Path, tmp_path: Path) -> None:
    record = _record(stored)
    node = _first(record, "ndarray")
    marker = tmp_path / "ran"
    blob = pickle.dumps(_Evil(str(marker)))
    (stored / node["file"]).write_bytes(blob)
    node.update(size=len(blob), sha256=hashlib.sha256(blob).hexdigest())
    _save(stored, record)
    with pytest.raises(store.StoreFormatError, match="it is a pickle"):
        _load(stored)
    assert not marker.exists()


def test_an_object_array_npy_is_refused(stored: Path, tmp_path: Path) -> None:
    """A genuine .npy header whose payload is a pickled object array: ``np.load(allow_pickle=False)`` refuses."""
    record = _record(stored)
    node = _first(record, "ndarray")
    path = stored / node["file"]
    buf = io.BytesIO()
    np.save(buf, np.array([_Evil(str(tmp_path / "ran"))], dtype=object), allow_pickle=True)
    blob = buf.getvalue()
    path.write_bytes(blob)
    node.update(size=len(blob), sha256=hashlib.sha256(blob).hexdigest())
    _save(stored, record)
    with pytest.raises(store.StoreFormatError, match=r"not a plain \.npy"):
        _load(stored)
    assert not (tmp_path / "ran").exists()


def test_an_unknown_tag_is_refused(stored: Path) -> None:
    record = _record(stored)
    record["value"]["v"]["extra"] = {"t": "pickle", "v": "gASV..."}
    _save(stored, record)
    with pytest.raises(store.StoreFormatError, match="unknown tag 'pickle'"):
        _load(stored)


def test_unknown_keys_and_nan_literals_are_refused(stored: Path) -> None:
    record = _record(stored)
    _first(record, "geometry" if any(n.get("t") == "geometry" for n in _nodes(record["value"])) else "crs")["x"] = 1
    _save(stored, record)
    with pytest.raises(store.StoreFormatError, match="keys"):
        _load(stored)
    (stored / store.VALUE_FILE).write_text('{"format": NaN}')
    with pytest.raises(store.StoreFormatError, match="not JSON"):
        _load(stored)


@pytest.mark.parametrize(
    "cls",
    [
        "os:system",
        "builtins:eval",
        "subprocess:Popen",
        "collections:OrderedDict",
        "geodata.grid:CRS",  # pyproj's class, imported into geodata.grid
        "geodata.grid:np.lib.npyio.NpzFile",
        "geodata.errors:CorridorError",  # in geodata, but neither a dataclass nor a NamedTuple
        "geodata.grid:Raster.read",
        "geodata.nope:Missing",
        "geodata..grid:GeoGrid",
        "geodata.grid",
    ],
)
def test_classes_outside_geodata_are_refused(stored: Path, cls: str) -> None:
    record = _record(stored)
    _first(record, "dataclass")["class"] = cls
    _save(stored, record)
    with pytest.raises(store.StoreClassError):
        _load(stored)


def test_a_namedtuple_tag_on_a_dataclass_is_refused(stored: Path) -> None:
    record = _record(stored)
    _first(record, "dataclass")["t"] = "namedtuple"
    _save(stored, record)
    with pytest.raises(store.StoreClassError, match="not a NamedTuple"):
        _load(stored)


@pytest.mark.parametrize("name", ["../outside.npy", "/etc/passwd", "sub/x.npy", "..", ".", "value.json", ""])
def test_file_references_out_of_the_folder_are_refused(stored: Path, name: str) -> None:
    (stored.parent / "outside.npy").write_bytes((stored / _first(_record(stored), "ndarray")["file"]).read_bytes())
    record = _record(stored)
    _first(record, "ndarray")["file"] = name
    _save(stored, record)
    with pytest.raises(store.StoreFormatError, match="plain file name"):
        _load(stored)


def test_symlinks_are_refused(stored_local: Path, tmp_path: Path) -> None:
    stored = stored_local
    record = _record(stored)
    node = _first(record, "ndarray")
    outside = tmp_path / "outside.npy"
    (stored / node["file"]).rename(outside)
    (stored / node["file"]).symlink_to(outside)
    with pytest.raises(store.StoreFormatError, match="symlink"):
        _load(stored)


def test_a_symlinked_value_folder_is_refused(stored_local: Path) -> None:
    stored = stored_local
    link = stored.parent / "linked"
    link.symlink_to(stored)
    with pytest.raises(store.StoreFormatError, match="symlink"):
        store.read_value(link, asset="thing", partition=SCENARIO)


@pytest.mark.parametrize("tag", ["ndarray", "raster", "geodataframe", "bytes"])
def test_a_changed_sidecar_is_refused(stored: Path, tag: str) -> None:
    node = _first(_record(stored), tag)
    path = stored / node["file"]
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # same size, same magic bytes, other content
    path.write_bytes(bytes(blob))
    with pytest.raises(store.StoreFormatError, match="does not match its recorded sha256"):
        _load(stored)


def test_a_truncated_or_missing_sidecar_is_refused(stored: Path) -> None:
    path = stored / _first(_record(stored), "geodataframe")["file"]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(store.StoreFormatError, match="100 bytes"):
        _load(stored)
    path.unlink()
    with pytest.raises(store.StoreFormatError, match="is missing"):
        _load(stored)


def test_garbage_in_value_json_is_refused(stored: Path) -> None:
    (stored / store.VALUE_FILE).write_bytes(b'{"format": "caspian-corridor-store/1", "value": ')
    with pytest.raises(store.StoreFormatError, match="is not JSON"):
        _load(stored)


def test_sidecars_are_hashed_once_per_process_while_unchanged(
    stored_local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a value again does not hash its sidecars again while their stat is unchanged (every step of a run
    loads the cost surface); a sidecar changed since is hashed again and refused; a file changed within the last
    VERIFIED_MIN_AGE_NS is never remembered (its ctime tick could hide a second change)."""
    import time

    stored = stored_local

    hashed: list[str] = []
    real = store._sha256

    def counting(path: Path) -> str:
        hashed.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(store, "_sha256", counting)
    monkeypatch.setattr(store, "_VERIFIED", {})
    _load(stored)
    assert hashed  # young files (just written): hashed, not remembered
    hashed.clear()
    _load(stored)
    assert hashed
    monkeypatch.setattr(store, "VERIFIED_MIN_AGE_NS", 0)
    _load(stored)
    hashed.clear()
    _load(stored)
    assert hashed == []  # remembered
    time.sleep(0.05)  # past the file system's timestamp tick
    node = _first(_record(stored), "geodataframe")
    path = stored / node["file"]
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))  # same size, new ctime
    with pytest.raises(store.StoreFormatError, match="sha256"):
        _load(stored)
    assert node["file"] in hashed


def test_a_changed_tree_is_refused(stored: Path) -> None:
    record = _record(stored)
    _first(record, "dataclass")["fields"]["station_name"] = "Elsewhere"
    _save(stored, record, rehash=False)
    with pytest.raises(store.StoreFormatError, match="value_digest"):
        _load(stored)


def test_a_value_of_another_asset_or_format_is_refused(stored: Path) -> None:
    with pytest.raises(store.StoreFormatError, match="not other/"):
        store.read_value(stored, asset="other", partition=SCENARIO)
    record = _record(stored)
    record["format"] = "caspian-corridor-store/0"
    _save(stored, record)
    with pytest.raises(store.StoreFormatError, match="format"):
        _load(stored)


def test_a_digest_mismatch_is_refused(stored: Path) -> None:
    value = store.read_value(stored, asset="thing", partition=SCENARIO)
    store.check_scenario(value, scenario=SCENARIO, digest="0" * 64)
    with pytest.raises(store.StaleValueError, match=f"rematerialise thing for {SCENARIO}") as err:
        store.check_scenario(value, scenario=SCENARIO, digest="1" * 64)
    assert str(stored / store.VALUE_FILE) in str(err.value)
    assert isinstance(err.value, CorridorError)


def test_a_changed_user_file_is_refused(tmp_path: Path) -> None:
    folder = store.value_dir(tmp_path, SCENARIO, "thing", snapshot=SNAP)
    prov = store.Provenance("thing", SCENARIO, SCENARIO, "0" * 64, snapshot_digest="a" * 64)
    store.write_value(folder, 1, prov)
    value = store.read_value(folder, asset="thing", partition=SCENARIO)
    store.check_scenario(value, scenario=SCENARIO, digest="0" * 64, snapshot_digest="a" * 64)
    store.check_scenario(value, scenario=SCENARIO, digest="0" * 64)  # no snapshot in this run: scenario digest only
    with pytest.raises(store.StaleValueError, match=r"user files .* have changed.*rematerialise thing"):
        store.check_scenario(value, scenario=SCENARIO, digest="0" * 64, snapshot_digest="b" * 64)


def test_bad_names_never_become_paths(tmp_path: Path) -> None:
    for partition, asset in (("..", "x"), ("a/b", "x"), (SCENARIO, "../x"), (SCENARIO, ""), (SCENARIO, "runs")):
        with pytest.raises(store.StoreError):
            store.value_dir(tmp_path, partition, asset, snapshot=SNAP)
    for snapshot in ("", "..", "runs", "A" * 64, "a" * 63, "../" + "a" * 61):
        with pytest.raises(store.StoreError, match="snapshot digest"):
            store.value_dir(tmp_path, SCENARIO, "x", snapshot=snapshot)
    with pytest.raises(store.StoreError):  # an asset named like a snapshot folder
        store.value_dir(tmp_path, SCENARIO, "b" * 64, snapshot=SNAP)
    assert store.value_dir(tmp_path, SCENARIO, "x", snapshot=SNAP) == tmp_path / SCENARIO / SNAP / "x"


# -- the IO manager in a Dagster run --------------------------------------------------------------------------------
PARTS = dg.StaticPartitionsDefinition([SCENARIO])


@dg.asset(partitions_def=PARTS)
def upstream_value() -> Any:
    return {"surface": cost_surface(), "frame": frame()}


@dg.asset(partitions_def=PARTS)
def downstream_value(upstream_value: Any) -> Any:
    if os.environ.get("CORRIDOR_TEST_FAIL_DOWNSTREAM"):
        raise RuntimeError("downstream_value fails on purpose (re-execution test)")
    return (len(upstream_value["frame"]), upstream_value["surface"].attrs["allowed_sectors"])


SEEN: dict[str, Any] = {}


@dg.asset(partitions_def=PARTS, ins={"upstream_value": dg.AssetIn(metadata=DEFERRED)})
def deferred_unread(upstream_value: Any) -> Any:
    SEEN["unread"] = upstream_value
    return 1


@dg.asset(partitions_def=PARTS, ins={"upstream_value": dg.AssetIn(metadata=DEFERRED)})
def deferred_read(upstream_value: Any) -> Any:
    SEEN["read"] = upstream_value
    return len(resolve(upstream_value)["frame"])


def test_a_deferred_input_is_read_only_when_asked(tmp_path: Path) -> None:
    """An input with DEFERRED metadata comes as a Deferred: not read unless the asset asks, then read with the same
    checks and recorded in the provenance; a value never stored is refused at once all the same."""
    io = CorridorIOManager(base_dir=str(tmp_path / "store"))
    SEEN.clear()
    with pytest.raises(store.StoreMissingError, match="rematerialise upstream_value"):
        dg.materialize(
            [upstream_value, deferred_unread], partition_key=SCENARIO, resources={"io_manager": io},
            selection=[deferred_unread],
        )  # fmt: skip
    result = dg.materialize(
        [upstream_value, deferred_unread, deferred_read], partition_key=SCENARIO, resources={"io_manager": io}
    )
    assert result.success
    assert isinstance(SEEN["unread"], Deferred)
    assert not SEEN["unread"]._loaded
    assert SEEN["read"]._loaded
    base = tmp_path / "store" / SCENARIO
    snap = _snapshot_of(base, result.run_id)
    up = _record(base / snap / "upstream_value")
    assert _record(base / snap / "deferred_read")["upstream"]["upstream_value"]["value_digest"] == up["value_digest"]
    assert "upstream_value" not in _record(base / snap / "deferred_unread")["upstream"]
    assert resolve(7) == 7  # an IO manager that does not defer hands the value itself


def _snapshot_of(base: Path, run_id: str) -> str:
    return json.loads((base / "runs" / f"{run_id}.json").read_text())["digest"]


def _edited_scenarios(folder: Path, title: str) -> Path:
    """A scenario folder redefining the default scenario with another title (another snapshot digest)."""
    folder.mkdir(parents=True, exist_ok=True)
    from importlib import resources

    text = resources.files("geodata").joinpath(f"data/scenarios/{SCENARIO}.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["title"] = title
    (folder / f"{SCENARIO}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


def test_the_io_manager_keys_values_by_snapshot_and_records_provenance(tmp_path: Path) -> None:
    io = CorridorIOManager(base_dir=str(tmp_path / "store"))
    result = dg.materialize([upstream_value, downstream_value], partition_key=SCENARIO, resources={"io_manager": io})
    assert result.success
    base = tmp_path / "store" / SCENARIO
    snap = _snapshot_of(base, result.run_id)
    assert sorted(p.name for p in base.iterdir()) == sorted([snap, "runs"])
    up = _record(base / snap / "upstream_value")
    down = _record(base / snap / "downstream_value")
    digest = load_scenario(SCENARIO).digest()
    assert up["scenario_digest"] == down["scenario_digest"] == digest
    assert up["snapshot_digest"] == down["snapshot_digest"] == snap
    assert down["upstream"]["upstream_value"]["value_digest"] == up["value_digest"]
    assert down["run_id"] == result.run_id
    assert not list(base.rglob("*.pickle"))

    up["scenario_digest"] = "f" * 64  # a value copied into the wrong snapshot folder: the header still refuses it
    (base / snap / "upstream_value" / store.VALUE_FILE).write_text(json.dumps(up))
    with pytest.raises(store.StaleValueError, match=f"rematerialise upstream_value for {SCENARIO}"):
        dg.materialize(
            [upstream_value, downstream_value],
            selection=[downstream_value],
            partition_key=SCENARIO,
            resources={"io_manager": io},
        )


def test_another_version_of_the_scenario_never_reads_the_values(tmp_path: Path) -> None:
    """The same scenario name from another folder (other content): its own snapshot folder, the other run's values
    named as built for another snapshot, and a full run of it beside the first one, each intact."""
    first = CorridorIOManager(base_dir=str(tmp_path / "store"))
    r1 = dg.materialize([upstream_value, downstream_value], partition_key=SCENARIO, resources={"io_manager": first})
    other = CorridorIOManager(
        base_dir=str(tmp_path / "store"), scenarios_dir=str(_edited_scenarios(tmp_path / "mine", "Another title"))
    )
    with pytest.raises(store.StaleValueError, match=r"stored only for snapshot\(s\) .*rematerialise upstream_value"):
        dg.materialize(
            [upstream_value, downstream_value],
            selection=[downstream_value],
            partition_key=SCENARIO,
            resources={"io_manager": other},
        )
    r2 = dg.materialize([upstream_value, downstream_value], partition_key=SCENARIO, resources={"io_manager": other})
    base = tmp_path / "store" / SCENARIO
    s1, s2 = _snapshot_of(base, r1.run_id), _snapshot_of(base, r2.run_id)
    assert s1 != s2
    for snap, run in ((s1, r1), (s2, r2)):
        assert _record(base / snap / "downstream_value")["run_id"] == run.run_id
        assert _record(base / snap / "upstream_value")["snapshot_digest"] == snap


def test_a_re_execution_from_failure_continues_its_parents_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """downstream_value fails; the scenario file is edited; the re-execution of the failed step still works on the
    parent's snapshot, finds upstream_value there and records the parent's digest. A fresh run takes the edit."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import execute_run

    from assets.common import RESUME_TAGS

    folder = _edited_scenarios(tmp_path / "mine", "Before the edit")
    io = CorridorIOManager(base_dir=str(tmp_path / "store"), scenarios_dir=str(folder))
    defs = dg.Definitions(
        assets=[upstream_value, downstream_value], resources={"io_manager": io}, executor=dg.in_process_executor
    )
    job = defs.resolve_implicit_global_asset_job_def()
    base = tmp_path / "store" / SCENARIO
    with dg.instance_for_test() as instance:
        monkeypatch.setenv("CORRIDOR_TEST_FAIL_DOWNSTREAM", "1")
        parent = job.execute_in_process(partition_key=SCENARIO, instance=instance, raise_on_error=False)
        assert not parent.success
        monkeypatch.delenv("CORRIDOR_TEST_FAIL_DOWNSTREAM")
        _edited_scenarios(folder, "After the edit")
        subset = job.get_subset(asset_selection={dg.AssetKey("downstream_value")})
        run = instance.create_run_for_job(
            subset,
            asset_selection={dg.AssetKey("downstream_value")},
            tags={**parent.dagster_run.tags, RESUME_TAGS[0]: "true"},
            parent_run_id=parent.run_id,
            root_run_id=parent.run_id,
        )
        result = execute_run(InMemoryJob(subset), run, instance)
        assert result.success
        assert _snapshot_of(base, run.run_id) == _snapshot_of(base, parent.run_id)
        snap = _snapshot_of(base, parent.run_id)
        assert _record(base / snap / "downstream_value")["run_id"] == run.run_id
        fresh = job.execute_in_process(partition_key=SCENARIO, instance=instance)
        assert _snapshot_of(base, fresh.run_id) != snap  # a new run sees the edited file


def test_snapshot_parent_only_for_partial_re_executions() -> None:
    from types import SimpleNamespace

    from assets.common import snapshot_parent

    def run(**kw: Any) -> Any:
        return SimpleNamespace(**{"parent_run_id": None, "tags": {}, "step_keys_to_execute": None, **kw})

    assert snapshot_parent("some-run-id") is None
    assert snapshot_parent(run()) is None
    assert snapshot_parent(run(parent_run_id="p")) is None  # re-execute all steps: a new run
    assert snapshot_parent(run(parent_run_id="p", tags={"dagster/is_resume_retry": "true"})) == "p"
    assert snapshot_parent(run(parent_run_id="p", tags={"dagster/is_asset_resume_retry": "true"})) == "p"
    assert snapshot_parent(run(parent_run_id="p", step_keys_to_execute=["a"])) == "p"


def test_old_layouts_are_never_read(tmp_path: Path) -> None:
    io = CorridorIOManager(base_dir=str(tmp_path / "store"))
    part = tmp_path / "store" / SCENARIO
    part.mkdir(parents=True)
    (part / "upstream_value.pickle").write_bytes(pickle.dumps(_Evil(str(tmp_path / "ran"))))
    with pytest.raises(store.StoreMissingError, match="never read"):
        dg.materialize(
            [upstream_value, downstream_value],
            selection=[downstream_value],
            partition_key=SCENARIO,
            resources={"io_manager": io},
        )
    assert not (tmp_path / "ran").exists()
    # the name-keyed layout of the previous version: a complete, valid value, never read either
    old = part / "upstream_value"
    store.write_value(old, {"frame": frame()}, store.Provenance("upstream_value", SCENARIO, SCENARIO, "0" * 64))
    with pytest.raises(store.StoreMissingError, match=f"only {old / store.VALUE_FILE} of an older store layout"):
        dg.materialize(
            [upstream_value, downstream_value],
            selection=[downstream_value],
            partition_key=SCENARIO,
            resources={"io_manager": io},
        )


def test_settings_and_io_manager_must_name_one_store(tmp_path: Path) -> None:
    from geodata.errors import ConfigError

    @dg.asset(partitions_def=PARTS)
    def with_settings(settings: CorridorSettings) -> int:
        return 1

    resources = {
        "settings": CorridorSettings(store_dir=str(tmp_path / "a")),
        "io_manager": CorridorIOManager(base_dir=str(tmp_path / "b")),
    }
    with pytest.raises(ConfigError, match="must be in one place"):
        dg.materialize([with_settings], partition_key=SCENARIO, resources=resources)


# -- no pickle anywhere -----------------------------------------------------------------------------------------------
def test_pipelines_never_import_pickle() -> None:
    banned = {"pickle", "cloudpickle", "dill", "joblib", "shelve", "marshal", "_pickle"}
    for path in PIPELINES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            assert not banned & set(names), f"{path} imports {banned & set(names)}"
        assert "allow_pickle=True" not in path.read_text(), path


@pytest.mark.integration
def test_a_full_materialisation_stores_no_pickle(
    tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path
) -> None:
    from pipelines.runner import folder_settings, materialize_scenario

    root = tmp_path_factory.mktemp("store_e2e")
    result = materialize_scenario(SCENARIO, folder_settings(root, mirror=mirror))
    assert result.success
    files = list(store.iter_files(root / "store"))
    assert files
    magic = {".npy": b"\x93NUMPY", ".parquet": b"PAR1", ".tif": b"II*\x00", ".json": b"{"}
    for f in files:
        assert f.suffix != ".pickle", f
        head = f.read_bytes()[:8]
        assert head[:1] != b"\x80", f"{f} looks like a pickle"
        if f.suffix in magic:
            assert head.startswith(magic[f.suffix]), f
    base = root / "store" / SCENARIO
    (snapshot,) = [json.loads(p.read_text())["digest"] for p in (base / "runs").glob("*.json")]
    assert sorted(p.name for p in base.iterdir()) == sorted([snapshot, "runs"])
    assets = sorted(p.name for p in (base / snapshot).iterdir())
    assert {"cost_surface", "engineered_route", "route_position_list", "published_corridor"} <= set(assets)
    digest = load_scenario(SCENARIO).digest()
    for name in assets:
        stored = store.read_value(base / snapshot / name, asset=name, partition=SCENARIO)
        assert stored.header["scenario_digest"] == digest
        assert stored.header["snapshot_digest"] == snapshot
        assert stored.header["run_id"] == result.run_id
    er = store.read_value(base / snapshot / "engineered_route", asset="engineered_route", partition=SCENARIO)
    assert isinstance(er.value, EngineeredRoute)
    assert set(er.header["upstream"]) >= {"least_cost_route", "landfalls", "cost_surface"}


def test_old_snapshot_folders_are_pruned_but_never_recent_ones(tmp_path: Path) -> None:
    base = tmp_path / SCENARIO
    now = 1_000_000_000.0
    ages_h = {"1": 100, "2": 90, "3": 80, "4": 70, "5": 1}  # hours since each snapshot folder was last written
    for d, age in ages_h.items():
        folder = store.value_dir(tmp_path, SCENARIO, "thing", snapshot=d * 64)
        store.write_value(folder, 1, store.Provenance("thing", SCENARIO, SCENARIO, "0" * 64))
        for p in (folder / store.VALUE_FILE, folder, folder.parent):
            os.utime(p, (now - age * 3600, now - age * 3600))
    (base / "runs").mkdir()
    removed = store.prune_snapshots(tmp_path, SCENARIO, keep=2, min_age_s=3 * 3600, now=now)
    assert sorted(p.name[0] for p in removed) == ["1", "2", "3"]
    assert sorted(p.name for p in base.iterdir()) == ["4" * 64, "5" * 64, "runs"]
    # nothing older than min_age_s beyond the newest two: a recent folder survives even beyond `keep`
    assert store.prune_snapshots(tmp_path, SCENARIO, keep=0, min_age_s=3 * 3600, now=now) == [base / ("4" * 64)]
    assert sorted(p.name for p in base.iterdir()) == ["5" * 64, "runs"]


def test_a_lazy_raster_is_stored_without_being_read_and_comes_back_lazy(tmp_path: Path) -> None:
    from geodata.grid import RasterWriter

    data = np.linspace(0, 50, 600, dtype="float32").reshape(20, 30)
    scratch = tmp_path / "scratch" / "x1"
    with RasterWriter(scratch / "depth.tif", grid(), "float32", nodata=math.nan, attrs={"units": "m"}) as out:
        out.write_rows(slice(0, 10), data[:10])
        out.write_rows(slice(10, 20), data[10:])
    lazy = out.raster(scratch=True)
    folder = store.value_dir(tmp_path, SCENARIO, "bathymetry", snapshot=SNAP)
    store.write_value(folder, lazy, store.Provenance("bathymetry", SCENARIO, SCENARIO, "0" * 64))
    assert not lazy.loaded
    assert not (scratch / "depth.tif").exists()  # a stage's scratch file is moved into the value's folder
    assert not scratch.exists()
    assert lazy.file.path.parent == folder
    back = store.read_value(folder, asset="bathymetry", partition=SCENARIO).value
    assert isinstance(back, LazyRaster)
    assert not back.loaded
    assert back.grid == grid()
    assert back.attrs == {"units": "m"}
    assert np.array_equal(back.read_rows(slice(5, 7)), data[5:7])
    assert not back.loaded
    assert np.array_equal(back.data, data)


def test_a_lazy_raster_that_is_not_scratch_is_copied_and_a_bool_mask_keeps_its_dtype(tmp_path: Path) -> None:
    from geodata.grid import RasterFile

    mask = np.eye(20, 30, dtype=bool)
    path = Raster(mask, grid(), None, {}).write(tmp_path / "user.tif")
    lazy = RasterFile.open(path).raster(bool)
    folder = store.value_dir(tmp_path, SCENARIO, "mask", snapshot=SNAP)
    store.write_value(folder, lazy, store.Provenance("mask", SCENARIO, SCENARIO, "0" * 64))
    assert path.exists()  # not the store's to move
    back = store.read_value(folder, asset="mask", partition=SCENARIO).value
    assert back.data.dtype == np.bool_
    assert np.array_equal(back.data, mask)


def test_a_raster_sidecar_of_another_shape_is_refused(tmp_path: Path) -> None:
    folder = store.value_dir(tmp_path, SCENARIO, "bathymetry", snapshot=SNAP)
    store.write_value(
        folder,
        Raster(np.zeros((20, 30), "float32"), grid(), None, {}),
        store.Provenance("bathymetry", SCENARIO, SCENARIO, "0" * 64),
    )
    record = json.loads((folder / "value.json").read_text())
    tif = folder / record["value"]["file"]
    Raster(np.zeros((5, 30), "float32"), grid(5, 30), None, {}).write(tif)
    record["value"]["size"] = tif.stat().st_size
    record["value"]["sha256"] = store._sha256(tif)
    record["value_digest"] = store._digest(record["value"])
    (folder / "value.json").write_text(json.dumps(record))
    with pytest.raises(store.StoreFormatError, match="shape"):
        store.read_value(folder, asset="bathymetry", partition=SCENARIO)


@pytest.mark.parametrize("asset_name", ["route_weight_sweep", "refined_route"])
def test_the_optional_sections_steps_take_their_inputs_deferred(asset_name: str) -> None:
    """The steps of optional scenario sections (`sweep:`, `survey:`) take every stored input as a Deferred, so that
    without their section they read nothing (route_weight_sweep loaded and hashed the 100 m cost surface for
    nothing); the mechanism itself is tested above."""
    import assets.routing as routing_assets

    defs = getattr(routing_assets, asset_name).node_def.input_defs
    stored = [d for d in defs if d.name not in ("settings", "dask")]
    assert stored
    assert all(d.metadata == DEFERRED for d in stored), [(d.name, d.metadata) for d in stored]
