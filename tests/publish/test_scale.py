"""Publishing at scale (#14): rasters written band by band equal the whole-raster result, raster tiles come from one
pyramid for every archive format, and tippecanoe's vector tiles keep every route, KP, RPL and crossing feature at
every zoom."""

from __future__ import annotations

import io
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from affine import Affine
from PIL import Image
from pyproj import CRS

from geodata.errors import InputDataError, PublishError, TilerMissingError
from geodata.grid import GeoGrid, Raster, RasterFile, row_blocks
from geodata.publish import gpkg as gpkg_module
from geodata.publish import tiles
from geodata.publish.gpkg import (
    RASTER_NODATA,
    LayerMeta,
    RasterLayer,
    overview_factors,
    prepare_layers,
    validate_gpkg,
    write_gpkg,
)

UTM39 = CRS.from_epsg(32639)
SMALL_BUDGET = 1  # the smallest band (8 MiB): a 1100 x 700 grid is written in several bands


def _large(tmp_path: Path) -> tuple[Raster, RasterFile]:
    """A 1100 x 700 grid of 250 m cells (SYNTHETIC depths with land, NaN gaps and inf) in memory and on disk."""
    grid = GeoGrid(UTM39, Affine(250.0, 0, 300_000.0, 0, -250.0, 4_800_000.0), (1100, 700))
    rows, cols = np.mgrid[0:1100, 0:700]
    depth = (300 + 250 * np.sin(rows / 90.0) * np.cos(cols / 70.0) - 0.3 * cols).astype("float32")
    depth[:, :40] = -20.0  # land in the west
    depth[500:520, 300:330] = np.nan  # a hole without data
    depth[700, 650] = np.inf  # an impassable cell stays a value
    raster = Raster(depth, grid, float("nan"), {"units": "m", "synthetic": True})
    return raster, RasterFile.open(raster.write(tmp_path / "depth.tif"))


def test_a_coverage_written_band_by_band_reads_back_equal_to_its_source(tmp_path: Path) -> None:
    raster, on_disk = _large(tmp_path)
    assert len(row_blocks(raster.grid, bytes_per_cell=16, budget_bytes=tiles.band_bytes(SMALL_BUDGET))) > 1
    meta = {"a_memory": LayerMeta("depth in memory"), "b_file": LayerMeta("depth from a file")}
    layers = {
        "a_memory": RasterLayer(raster, meta["a_memory"], "m"),
        "b_file": RasterLayer(on_disk, meta["b_file"], "m"),
    }
    path = tmp_path / "c.gpkg"
    report = write_gpkg(path, {}, layers, metadata=meta, budget_bytes=SMALL_BUDGET)
    assert report.raster_tables == {"a_memory": (1100, 700), "b_file": (1100, 700)}
    expect = np.where(np.isnan(raster.data), RASTER_NODATA, raster.data).astype("float32")
    expect[np.isposinf(expect)] = np.finfo("float32").max
    for table in layers:
        with rasterio.open(f"GPKG:{path}:{table}") as src:
            assert src.nodata == RASTER_NODATA
            assert src.transform == raster.grid.transform
            np.testing.assert_array_equal(src.read(1), expect)
    assert validate_gpkg(path, gdal_validator=False) == []


def test_a_coverage_refuses_the_nodata_value_as_data_in_any_band(tmp_path: Path) -> None:
    raster, _ = _large(tmp_path)
    raster.data[1000, 10] = RASTER_NODATA  # in the last band
    with pytest.raises(InputDataError, match="holds the nodata value"):
        write_gpkg(tmp_path / "x.gpkg", {}, {"d": RasterLayer(raster, LayerMeta("d"), "m")}, budget_bytes=1)
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.parametrize("kind", ["bathymetry", "cost", "share"])
def test_a_rendering_band_by_band_equals_the_whole_raster_rendering(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raster, on_disk = _large(tmp_path)
    if kind == "share":
        raster = Raster(np.clip(raster.data / 600, 0, 1).astype("float32"), raster.grid, float("nan"), {})
        on_disk = RasterFile.open(raster.write(tmp_path / "share.tif"))
    renderers: dict[str, Callable[[Raster], tiles.Rendering]] = {
        "bathymetry": tiles.render_bathymetry,
        "cost": tiles.render_cost,
        "share": tiles.render_share,
    }
    whole = renderers[kind](raster)
    reads: list[int] = []  # rows of every read of the source
    painted: list[int] = []  # rows of every band painted for the tiles
    read_rows, style_painter = tiles.raster_read_rows, tiles._style_painter

    def recorded(source: Raster | RasterFile, rows: slice) -> np.ndarray:
        reads.append(rows.stop - rows.start)
        return read_rows(source, rows)

    def painter(source: tiles.RasterSource, style: tiles._Style) -> Callable[[int, int], np.ndarray]:
        paint = style_painter(source, style)

        def recorded_paint(start: int, stop: int) -> np.ndarray:
            painted.append(stop - start)
            return paint(start, stop)

        return recorded_paint

    monkeypatch.setattr(tiles, "raster_read_rows", recorded)
    monkeypatch.setattr(tiles, "_style_painter", painter)
    rendered = tiles.render_file(kind, on_disk, tmp_path / "tiles.bin", budget_bytes=SMALL_BUDGET)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert rendered.legend == whole.legend
    # the source is read band by band within the small budget (statistics at 4 bytes a cell, painting at
    # RENDER_BYTES_PER_CELL), never whole for the tiles, and the tiles cut band by band from the file equal those cut
    # from the whole rendering in memory
    cols = raster.grid.shape[1]
    assert max(reads) * cols * 4 <= tiles.band_bytes(SMALL_BUDGET)
    assert len(painted) > 3
    assert (max(painted) + 2) * cols * tiles.RENDER_BYTES_PER_CELL <= tiles.band_bytes(SMALL_BUDGET)
    streamed = tiles.write_raster_tiles(rendered, tmp_path / "streamed.pmtiles", min_zoom=5)
    in_memory = tiles.write_raster_tiles(whole, tmp_path / "memory.pmtiles", min_zoom=5)
    assert (streamed.min_zoom, streamed.max_zoom) == (in_memory.min_zoom, in_memory.max_zoom) == (5, 9)
    assert streamed.tile_count == in_memory.tile_count > 20
    assert streamed.path.read_bytes() == in_memory.path.read_bytes()


def test_statistics_of_a_large_raster_come_from_a_regular_sample(tmp_path: Path) -> None:
    grid = GeoGrid(UTM39, Affine(10.0, 0, 0.0, 0, -10.0, 0.0), (3000, 2000))  # 6 M cells: every 2nd row and column
    data = np.arange(6_000_000, dtype="float32").reshape(3000, 2000)
    sample = tiles.value_sample(Raster(data, grid, None, {}), budget_bytes=SMALL_BUDGET)
    np.testing.assert_array_equal(sample, data[::2, ::2].ravel())
    small = Raster(data[:1000], GeoGrid(UTM39, grid.transform, (1000, 2000)), None, {})
    assert tiles.value_sample(small).size == 2_000_000  # every cell


def test_raster_tiles_are_cut_once_for_both_formats_from_the_overview_pyramid(
    tmp_path: Path, synthetic: SimpleNamespace
) -> None:
    bathy, _ = synthetic.rasters()
    rendered = tiles.render_file("bathymetry", bathy, tmp_path / "rgba.tif")
    infos = tiles.write_raster_archives(
        rendered, {"pmtiles": tmp_path / "b.pmtiles", "mbtiles": tmp_path / "b.mbtiles"}, min_zoom=2
    )
    pm, mb = infos["pmtiles"], infos["mbtiles"]
    assert (pm.min_zoom, pm.max_zoom) == (mb.min_zoom, mb.max_zoom) == (3, 6)  # z2: the 220 km area under 8 px
    assert pm.tile_count == mb.tile_count > 0
    with sqlite3.connect(mb.path) as con:
        rows = con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
    assert sorted({r[0] for r in rows}) == [3, 4, 5, 6]
    for z, x, tms_y, data in rows:
        assert tiles.read_tile(pm.path, z, x, (1 << z) - 1 - tms_y) == data  # the same PNG in both archives
    # a coarser zoom is the average of the finer one: the z5 tile over the deep basin is blue like its z6 children
    img = np.asarray(Image.open(io.BytesIO(tiles.read_tile(pm.path, 5, 20, 11) or b"")).convert("RGBA"))
    opaque = img[img[..., 3] == 255]
    assert len(opaque) > 1000
    assert (opaque[:, 2] > opaque[:, 0]).mean() > 0.5


# -- vector tiles with tippecanoe ---------------------------------------------------------------------------------


def _features(path: Path, layer: str, zoom: int, column: str) -> set[str]:
    gdf = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, ZOOM_LEVEL=str(zoom))
    return {str(v) for v in gdf[column]}


def test_tippecanoe_keeps_every_route_feature_at_every_zoom_and_every_hazard_at_the_max_zoom(
    tmp_path: Path, synthetic: SimpleNamespace
) -> None:
    layers = prepare_layers(synthetic.layers())
    rng = np.random.default_rng(3)
    n = 30_000  # a SYNTHETIC dense hazard inventory over the corridor
    dense = gpd.GeoDataFrame(
        {"kind": ["well"] * n, "name": [f"synthetic well {i}" for i in range(n)]},
        geometry=gpd.points_from_xy(rng.uniform(48.5, 50.5, n), rng.uniform(42.3, 43.3, n)),
        crs="EPSG:4326",
    )
    layers["hazards_points"] = pd_concat(layers["hazards_points"], dense)
    info = tiles.write_vector_tiles(layers, tmp_path / "c.pmtiles", min_zoom=4, max_zoom=10, engine="tippecanoe")
    assert set(info.layers) == set(layers)
    keep = {
        "route": ("name", {"Siyazan-Aktau"}),
        "kp_points": ("kp_km", {str(10.0 * i) for i in range(21)}),
        "rpl": ("pos", {"AC0", "AC1", "AC2", "AC3"}),
        "crossings": ("name", {"BTC-X"}),
        "landing_stations": ("name", set(layers["landing_stations"]["name"].astype(str))),
    }
    for zoom in range(4, 11):
        for layer, (column, expect) in keep.items():
            assert _features(info.path, layer, zoom, column) == expect, (layer, zoom)
    every = set(layers["hazards_points"]["name"].astype(str))
    assert _features(info.path, "hazards_points", 10, "name") == every  # all of them where they are told apart


def pd_concat(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat([a, b], ignore_index=True), geometry="geometry", crs="EPSG:4326")


@pytest.mark.parametrize("engine", ["tippecanoe", "gdal"])
def test_both_vector_engines_write_the_same_layers(tmp_path: Path, synthetic: SimpleNamespace, engine: str) -> None:
    layers = prepare_layers({k: v for k, v in synthetic.layers().items() if k in ("route", "kp_points", "corridor")})
    info = tiles.write_vector_tiles(layers, tmp_path / "c.pmtiles", min_zoom=4, max_zoom=8, engine=engine)  # type: ignore[arg-type]
    assert {n for n, _ in pyogrio.list_layers(info.path)} == set(layers)
    assert _features(info.path, "kp_points", 8, "kp_km") == {str(10.0 * i) for i in range(21)}


def test_a_missing_tippecanoe_is_a_named_error(
    tmp_path: Path, synthetic: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(TilerMissingError, match="tippecanoe is not installed beside"):
        tiles.write_vector_tiles(prepare_layers({"route": synthetic.layers()["route"]}), tmp_path / "c.pmtiles")
    gdal = tiles.write_vector_tiles(
        prepare_layers({"route": synthetic.layers()["route"]}), tmp_path / "c.pmtiles", engine="gdal"
    )
    assert gdal.tile_count > 0


# -- overviews of the coverages -----------------------------------------------------------------------------------


def test_overview_factors_go_down_to_one_tile() -> None:
    assert overview_factors((200, 256)) == []
    assert overview_factors((257, 10)) == [2]
    assert overview_factors((1100, 700)) == [2, 4, 8]
    assert overview_factors((5819, 4282)) == [2, 4, 8, 16, 32]  # the 100 m grid: zoom levels 0..5


def _cascade(level: np.ndarray) -> np.ndarray:
    """The next level as gdaladdo -r average builds it, independently of the library: the mean of the cells with data
    of each 2 x 2 block of the level below (an odd edge padded with no data), no data where the block has none."""
    h, w = level.shape
    padded = np.full((h + h % 2, w + w % 2), RASTER_NODATA, dtype="float64")
    padded[:h, :w] = level
    blocks = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2)
    valid = blocks != RASTER_NODATA
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0.0).sum(axis=(1, 3))
    return np.where(count > 0, total / np.maximum(count, 1), RASTER_NODATA).astype("float32")


def test_a_coverage_has_average_overviews_built_level_by_level_without_nodata(tmp_path: Path) -> None:
    _raster, on_disk = _large(tmp_path)  # 1100 x 700: levels of 550 x 350, 275 x 175 and 138 x 88 (odd halves)
    path = tmp_path / "o.gpkg"
    layers = {"depth": RasterLayer(on_disk, LayerMeta("depth"), "m")}
    report = write_gpkg(path, {}, layers, budget_bytes=SMALL_BUDGET)  # several bands: levels are stacked band by band
    assert report.raster_overviews == {"depth": [2, 4, 8]}
    con = sqlite3.connect(path)
    zooms = dict(con.execute('SELECT zoom_level, count(*) FROM "depth" GROUP BY zoom_level').fetchall())
    declared = [r[0] for r in con.execute("SELECT zoom_level FROM gpkg_tile_matrix WHERE table_name = 'depth'")]
    con.close()
    assert sorted(zooms) == sorted(declared) == [0, 1, 2, 3]  # every level of the tile matrix holds tiles
    with rasterio.open(f"GPKG:{path}:depth") as src:
        assert src.overviews(1) == [2, 4, 8]
        level = src.read(1)
    assert (level == RASTER_NODATA).any()
    assert (level == np.finfo("float32").max).any()
    for i in range(3):
        expect = _cascade(level)
        with rasterio.open(f"GPKG:{path}:depth", overview_level=i) as ov:
            assert ov.nodata == RASTER_NODATA
            got = ov.read(1)
        assert got.shape == expect.shape
        np.testing.assert_allclose(got, expect, rtol=1e-6)  # no nodata pulled into a mean, no cell left out
        assert ((got == RASTER_NODATA) == (expect == RASTER_NODATA)).all()
        assert np.isfinite(got).all()  # the impassable cell's largest float32 does not overflow the mean
        level = got
    # the hole (rows 500:520, columns 300:330) has no data at the first level only where a whole 2 x 2 block is in it
    with rasterio.open(f"GPKG:{path}:depth", overview_level=0) as ov:
        first = ov.read(1)
    assert (first[250:260, 150:165] == RASTER_NODATA).all()
    assert (first[249, 150:165] != RASTER_NODATA).all()
    assert validate_gpkg(path) == []  # GDAL's validate_gpkg.py too, when installed


@pytest.mark.parametrize("shape", [(513, 346), (346, 513), (512, 257), (1025, 300)])
def test_a_coverage_of_one_row_more_than_whole_tiles_keeps_its_full_resolution(
    tmp_path: Path, shape: tuple[int, int]
) -> None:
    """GDAL declares a zoom level while a side shifted right by the level count exceeds a tile (513 rows: one
    overview, not two); the overview levels are the ones GDAL declares, so no level is ever written into the full
    resolution (the battery's Siyazan - Aktau grid, 513 x 346 cells, lost its eastern tiles that way)."""
    h, w = shape
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_800_000.0), shape)
    rows, cols = np.mgrid[0:h, 0:w]
    depth = (100 + rows + 0.5 * cols).astype("float32")  # SYNTHETIC
    depth[:, : w // 4] = np.nan
    path = tmp_path / "edge.gpkg"
    report = write_gpkg(path, {}, {"depth": RasterLayer(Raster(depth, grid, float("nan"), {}), LayerMeta("d"), "m")})
    con = sqlite3.connect(path)
    declared = [r[0] for r in con.execute("SELECT zoom_level FROM gpkg_tile_matrix WHERE table_name = 'depth'")]
    tiles_n = con.execute('SELECT count(*) FROM "depth"').fetchone()[0]
    ancillary = con.execute("SELECT count(*) FROM gpkg_2d_gridded_tile_ancillary").fetchone()[0]
    con.close()
    assert len(declared) == len(report.raster_overviews["depth"]) + 1
    assert tiles_n == ancillary
    with rasterio.open(f"GPKG:{path}:depth") as src:
        got = src.read(1)
    assert got.shape == shape
    np.testing.assert_array_equal(np.where(got == RASTER_NODATA, np.nan, got), depth)
    level = got
    for i in range(len(declared) - 1):  # each overview the 2 x 2 average of the level above, edge cells included
        expect = _cascade(level)
        with rasterio.open(f"GPKG:{path}:depth", overview_level=i) as ov:
            level = ov.read(1)
        h_ov, w_ov = level.shape
        assert abs(h_ov - expect.shape[0]) <= 1  # GDAL rounds odd halves
        assert abs(w_ov - expect.shape[1]) <= 1
        np.testing.assert_allclose(level, expect[:h_ov, :w_ov], rtol=1e-6)
    assert validate_gpkg(path) == []


def test_a_coverage_gdal_wrote_a_row_short_is_a_validation_problem(tmp_path: Path) -> None:
    path = tmp_path / "short.gpkg"
    with rasterio.open(
        path,
        "w",
        driver="GPKG",
        height=513,
        width=346,
        count=1,
        dtype="float32",
        crs=UTM39.to_wkt(),
        transform=Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_800_000.0),
        TILE_FORMAT="TIFF",
        RASTER_TABLE="depth",
    ) as dst:  # GDAL's own tile matrix: 2 x 256 rows for 513
        dst.write(np.ones((513, 346), dtype="float32"), 1)
    problems = validate_gpkg(path, gdal_validator=False)
    assert any("short of its extent" in p and "'depth'" in p for p in problems), problems


def test_an_overview_is_never_written_into_the_full_resolution(tmp_path: Path) -> None:
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_800_000.0), (300, 300))
    path = tmp_path / "g.gpkg"
    data = np.ones((300, 300), dtype="float32")
    write_gpkg(path, {}, {"depth": RasterLayer(Raster(data, grid, float("nan"), {}), LayerMeta("d"), "m")})
    with pytest.raises(PublishError, match="not an overview level"):
        gpkg_module._write_level(path, "depth", zoom=1, data=np.zeros((150, 150), dtype="float32"))
    with rasterio.open(f"GPKG:{path}:depth") as src:
        assert (src.read(1) == 1).all()


def test_a_coverage_without_its_overviews_is_a_validation_problem(tmp_path: Path) -> None:
    raster, _ = _large(tmp_path)
    path = tmp_path / "o.gpkg"
    write_gpkg(path, {}, {"depth": RasterLayer(raster, LayerMeta("depth"), "m")}, budget_bytes=SMALL_BUDGET)
    assert validate_gpkg(path, gdal_validator=False) == []
    con = sqlite3.connect(path)
    with con:
        con.execute('DELETE FROM "depth" WHERE zoom_level = 1')
    con.close()
    problems = validate_gpkg(path, gdal_validator=False)
    assert any("no tiles at zoom levels [1]" in p and "overviews were not built" in p for p in problems)


def test_coverages_given_by_a_function_are_written_after_the_vector_layers(
    tmp_path: Path, synthetic: SimpleNamespace
) -> None:
    """The publication hands the coverages over once its scratch rasters are written (on another thread): the
    GeoPackage is the same as with the coverages given at once, and a failure to produce them leaves no file."""
    raster, _ = _large(tmp_path)
    layers = {"depth": RasterLayer(raster, LayerMeta("depth"), "m")}
    calls: list[bool] = []

    def later() -> dict[str, RasterLayer]:
        calls.append((tmp_path / f".b.{os.getpid()}.tmp.gpkg").exists())  # the vector layers are in
        return layers

    route = {"route": synthetic.layers()["route"]}
    a = write_gpkg(tmp_path / "a.gpkg", route, layers, budget_bytes=SMALL_BUDGET)
    b = write_gpkg(tmp_path / "b.gpkg", route, later, budget_bytes=SMALL_BUDGET)
    assert calls == [True]
    assert a.raster_tables == b.raster_tables == {"depth": (1100, 700)}
    assert a.raster_overviews == b.raster_overviews == {"depth": [2, 4, 8]}
    for level in (None, 0, 2):
        opts = {} if level is None else {"overview_level": level}
        with rasterio.open(f"GPKG:{a.path}:depth", **opts) as x, rasterio.open(f"GPKG:{b.path}:depth", **opts) as y:
            np.testing.assert_array_equal(x.read(1), y.read(1))

    def failed() -> dict[str, RasterLayer]:
        raise InputDataError("the scratch depth could not be written")

    with pytest.raises(InputDataError, match="scratch depth"):
        write_gpkg(tmp_path / "c.gpkg", route, failed)
    assert not list(tmp_path.glob("*c.*gpkg"))
    with pytest.raises(InputDataError, match="used by both"):
        write_gpkg(tmp_path / "d.gpkg", {"depth": synthetic.layers()["route"]}, lambda: layers)
    assert not list(tmp_path.glob("*d.*gpkg"))


def test_a_coverage_stores_the_tiles_lzw_shortens_compressed_the_others_uncompressed_and_none_without_data(
    tmp_path: Path,
) -> None:
    """Tiles of noisy values are stored as uncompressed TIFFs, tiles of runs as LZW TIFFs (GDAL's), tiles without data
    not at all; all read back the values written, with GDAL's tile statistics, and the file validates. The last
    column of tiles holds 248 of 256 columns (padded with nodata: still noise), the last row 88 of 256 rows (mostly
    padding: runs)."""
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_800_000.0), (600, 760))  # 3 x 3 tiles
    rng = np.random.default_rng(7)
    depth = rng.uniform(10.0, 500.0, size=(600, 760)).astype("float32")  # SYNTHETIC noise: LZW gains nothing
    depth[:, 256:512] = 42.0  # a flat middle column of tiles: runs
    depth[512:, 512:] = np.nan  # the bottom-right (edge) tile holds no data
    depth[100, 100] = np.nan  # a hole in a noisy tile
    path = tmp_path / "kinds.gpkg"
    write_gpkg(path, {}, {"depth": RasterLayer(Raster(depth, grid, float("nan"), {}), LayerMeta("d"), "m")})
    con = sqlite3.connect(path)
    full = con.execute("SELECT max(zoom_level) FROM gpkg_tile_matrix WHERE table_name = 'depth'").fetchone()[0]
    rows = con.execute(
        "SELECT t.tile_row, t.tile_column, t.tile_data, a.scale, a.offset, a.min, a.max, a.mean, a.std_dev "
        "FROM \"depth\" t JOIN gpkg_2d_gridded_tile_ancillary a ON a.tpudt_id = t.id AND a.tpudt_name = 'depth' "
        "WHERE t.zoom_level = ?",
        (full,),
    ).fetchall()
    con.close()
    kinds = {}
    for row, col, blob, scale, offset, lo, hi, mean, std in rows:
        with rasterio.MemoryFile(blob) as mem, mem.open() as tile:
            kinds[(row, col)] = tile.compression.value if tile.compression else "none"
            assert (tile.count, tile.dtypes[0], tile.width, tile.height) == (1, "float32", 256, 256)
        cells = depth[row * 256 : (row + 1) * 256, col * 256 : (col + 1) * 256]
        valid = cells[np.isfinite(cells)].astype("float64")
        assert (scale, offset) == (1.0, 0.0)
        expect_stats = [valid.min(), valid.max(), valid.mean(), valid.std()]
        np.testing.assert_allclose([lo, hi, mean, std], expect_stats, rtol=1e-9)
    expect = {(r, c): "LZW" if c == 1 or r == 2 else "none" for r in range(3) for c in range(3) if (r, c) != (2, 2)}
    assert kinds == expect
    with rasterio.open(f"GPKG:{path}:depth") as src:
        np.testing.assert_array_equal(np.where(src.read(1) == RASTER_NODATA, np.nan, src.read(1)), depth)
    assert validate_gpkg(path) == []  # GDAL's validate_gpkg.py too, when installed
