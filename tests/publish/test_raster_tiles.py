"""Raster tiles from the compiled kernels (#14): the tile set GDAL's pipeline wrote, the legend's colours, no fringe
at the alpha edge, every level the alpha-weighted mean of the one below, the same bytes on one thread or two and for
any band split, and valid PNGs. All rasters here are SYNTHETIC."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from PIL import Image
from pmtiles.reader import MmapSource, all_tiles
from pyproj import CRS, Transformer

from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster, RasterFile
from geodata.publish import tiles

UTM39 = CRS.from_epsg(32639)
GRID = GeoGrid(UTM39, Affine(250.0, 0, 300_000.0, 0, -250.0, 4_800_000.0), (1100, 700))  # 275 x 175 km


def _depth() -> np.ndarray:
    """SYNTHETIC depths on GRID: a basin with land in the west, a hole without data and an impassable cell."""
    rows, cols = np.mgrid[0:1100, 0:700]
    depth = (300 + 250 * np.sin(rows / 90.0) * np.cos(cols / 70.0) - 0.3 * cols).astype("float32")
    depth[:, :40] = -20.0
    depth[500:520, 300:330] = np.nan
    depth[700, 650] = np.inf
    return depth


def _tiles(path: Path) -> dict[tuple[int, int, int], np.ndarray]:
    with open(path, "rb") as fh:
        return {
            (z, x, y): np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")).astype(np.int64)
            for (z, x, y), data in all_tiles(MmapSource(fh))
        }


def _rect(x0: int, x1: int, y0: int, y1: int) -> set[tuple[int, int]]:
    return {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}


# the tiles the GDAL pipeline (main at e53687d: warp of the RGBA rendering, average overviews) wrote for GRID at
# min_zoom=2: every zoom a full rectangle of tiles; with the north and the east without data, fewer tiles
GDAL_FULL = {
    2: _rect(2, 2, 1, 1), 3: _rect(5, 5, 2, 3), 4: _rect(10, 10, 5, 6), 5: _rect(20, 20, 11, 12),
    6: _rect(40, 41, 23, 24), 7: _rect(81, 82, 46, 48), 8: _rect(162, 164, 93, 96), 9: _rect(325, 328, 187, 192),
}  # fmt: skip
GDAL_SOUTH_WEST = {
    2: _rect(2, 2, 1, 1), 3: _rect(5, 5, 2, 3), 4: _rect(10, 10, 5, 6), 5: _rect(20, 20, 11, 12),
    6: _rect(40, 40, 23, 24), 7: _rect(81, 81, 47, 48), 8: _rect(162, 163, 94, 96), 9: _rect(325, 326, 188, 192),
}  # fmt: skip


@pytest.mark.parametrize("south_west_only", [False, True])
def test_the_tile_set_is_the_one_gdal_wrote(tmp_path: Path, south_west_only: bool) -> None:
    depth = _depth()
    if south_west_only:
        depth[:, 350:] = np.nan
        depth[:300] = np.nan
    raster = Raster(depth, GRID, float("nan"), {})
    info = tiles.write_raster_tiles(tiles.render_bathymetry(raster), tmp_path / "b.pmtiles", min_zoom=2)
    assert (info.min_zoom, info.max_zoom) == (2, 9)
    got: dict[int, set[tuple[int, int]]] = {}
    for z, x, y in _tiles(info.path):
        got.setdefault(z, set()).add((x, y))
    assert got == (GDAL_SOUTH_WEST if south_west_only else GDAL_FULL)
    assert info.tile_count == sum(len(v) for v in got.values())


def _pixel(archive: dict[tuple[int, int, int], np.ndarray], z: int, x_m: float, y_m: float) -> np.ndarray:
    """The RGBA pixel of zoom ``z`` at UTM 39N point (x_m, y_m)."""
    lon, lat = Transformer.from_crs(UTM39, "EPSG:4326", always_xy=True).transform(x_m, y_m)
    n = 256 * 2**z
    px = (lon + 180) / 360 * n
    py = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    tile = archive[(z, int(px // 256), int(py // 256))]
    return tile[int(py) % 256, int(px) % 256]


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])


def _centre(r0: int, c0: int, size: int) -> tuple[float, float]:
    return 300_000.0 + (c0 + size / 2) * 250.0, 4_800_000.0 - (r0 + size / 2) * 250.0


def test_colours_at_sample_points_are_the_legend_ramp(tmp_path: Path) -> None:
    share = np.full(GRID.shape, np.nan, dtype="float32")
    blocks = {(100, 100): 0.25, (100, 400): 0.5, (500, 100): 0.75, (500, 400): 1.0}  # 150-cell (37 km) blocks
    for (r0, c0), v in blocks.items():
        share[r0 : r0 + 150, c0 : c0 + 150] = v
    rendered = tiles.render_file("share", Raster(share, GRID, float("nan"), {}), tmp_path / "s.bin")
    archive = _tiles(tiles.write_raster_tiles(rendered, tmp_path / "s.pmtiles", min_zoom=5).path)
    stops = dict(tiles.SHARE_STOPS)
    for (r0, c0), v in blocks.items():
        for z in (5, 7, 9):
            pixel = _pixel(archive, z, *_centre(r0, c0, 150))
            assert pixel[3] == 220, (v, z)
            assert np.abs(pixel[:3] - _hex(stops[v])).max() <= 3, (v, z, pixel)  # the 256-entry ramp
    # the cost ramp: a block at each legend value shows the legend's colour; impassable cells grey
    cost = np.full(GRID.shape, 1.0, dtype="float32")
    cost[:, 350:] = 3.0
    cost[700:900, 100:300] = np.inf
    cost_rendered = tiles.render_file("cost", Raster(cost, GRID, float("nan"), {}), tmp_path / "c.bin")
    legend = cost_rendered.legend
    archive = _tiles(tiles.write_raster_tiles(cost_rendered, tmp_path / "c.pmtiles", min_zoom=5).path)
    for (r0, c0), (value, colour) in [((100, 100), legend[0]), ((100, 450), legend[-1])]:
        pixel = _pixel(archive, 9, *_centre(r0, c0, 150))
        assert float(cost[r0 + 75, c0 + 75]) == pytest.approx(value)
        assert pixel[3] == 210
        assert np.abs(pixel[:3] - _hex(colour)).max() <= 3, (value, pixel)
    assert tuple(_pixel(archive, 9, *_centre(700, 100, 200))) == (60, 60, 60, 150)


def test_no_data_is_transparent_and_leaves_no_fringe(tmp_path: Path) -> None:
    share = np.full(GRID.shape, 0.75, dtype="float32")
    share[400:700, 200:500] = np.nan  # a hole without data
    share[100:130, 100:400] = 0.0  # a band at 0: transparent too
    rendered = tiles.render_file("share", Raster(share, GRID, float("nan"), {}), tmp_path / "s.bin")
    archive = _tiles(tiles.write_raster_tiles(rendered, tmp_path / "s.pmtiles", min_zoom=4).path)
    assert _pixel(archive, 9, *_centre(400, 200, 300))[3] == 0
    assert _pixel(archive, 9, *_centre(100, 100, 30))[3] == 0
    colour = _pixel(archive, 9, *_centre(800, 100, 100))[:3]
    assert np.abs(colour - _hex(dict(tiles.SHARE_STOPS)[0.75])).max() <= 3
    edge = 0
    for (z, _, _), tile in archive.items():
        seen = tile[..., 3] > 0
        # every visible pixel, the partly transparent ones at the edges of the hole, the band and the grid included,
        # has the colour of 0.75: the transparent cells lend it no colour (no darker or lighter fringe)
        assert np.abs(tile[seen][:, :3] - colour).max() <= 1, z
        edge += int(((tile[..., 3] > 0) & (tile[..., 3] < 220)).sum())
    assert edge > 1000  # there are partly transparent pixels to check


def _halved(children: np.ndarray) -> np.ndarray:
    """The alpha-weighted 2 x 2 mean (rounded half up, alpha the plain mean) of a (512, 512, 4) block, in numpy."""
    alpha = children[..., 3]

    def blocks(x: np.ndarray) -> np.ndarray:
        return x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2]

    sa = blocks(alpha)
    out = np.zeros((256, 256, 4), dtype=np.int64)
    for c in range(3):
        out[..., c] = np.where(sa > 0, (blocks(alpha * children[..., c]) + sa // 2) // np.maximum(sa, 1), 0)
    out[..., 3] = (sa + 2) // 4
    return out


@pytest.mark.parametrize("kind", ["bathymetry", "share"])
def test_every_level_is_the_alpha_weighted_mean_of_the_level_below(tmp_path: Path, kind: str) -> None:
    depth = _depth()
    values = np.clip(depth / 600, 0, 1).astype("float32") if kind == "share" else depth
    rendered = tiles.render_file(kind, Raster(values, GRID, float("nan"), {}), tmp_path / "t.bin")  # type: ignore[arg-type]
    info = tiles.write_raster_tiles(rendered, tmp_path / "t.pmtiles", min_zoom=2)
    archive = _tiles(info.path)
    checked = 0
    for (z, x, y), tile in archive.items():
        if z == info.max_zoom:
            continue
        children = np.zeros((512, 512, 4), dtype=np.int64)
        for dy in (0, 1):
            for dx in (0, 1):
                child = archive.get((z + 1, 2 * x + dx, 2 * y + dy))
                if child is not None:
                    children[dy * 256 : (dy + 1) * 256, dx * 256 : (dx + 1) * 256] = child
        np.testing.assert_array_equal(tile, _halved(children), err_msg=str((z, x, y)))
        checked += 1
    assert checked == sum(len(v) for k, v in GDAL_FULL.items() if k < 9)  # one-column zooms included


def test_threads_and_bands_do_not_change_a_byte(tmp_path: Path) -> None:
    raster = Raster(_depth(), GRID, float("nan"), {})
    on_disk = RasterFile.open(raster.write(tmp_path / "d.tif"))
    style = tiles.bathymetry_style(on_disk, budget_bytes=1)
    runs = {}
    for threads, budget in [(1, None), (2, None), (2, 1)]:  # budget 1: the smallest bands
        spill = tmp_path / f"t{threads}-{budget}.bin"
        index = tiles._render_tiles(
            GRID, tiles._style_painter(on_disk, style), spill, 4, 9, budget, threads=threads
        )  # fmt: skip
        runs[threads, budget] = (index, spill.read_bytes())
    assert len(runs[1, None][0]) > 30
    assert runs[1, None] == runs[2, None]  # the same spill, tile for tile and byte for byte

    def by_tile(run: tuple[list[tuple[int, int, int, int, int, int]], bytes]) -> dict[int, bytes]:
        index, data = run
        return {tile_id: data[offset : offset + length] for tile_id, _, _, _, offset, length in index}

    assert by_tile(runs[2, 1]) == by_tile(runs[2, None])  # other bands finish the rows of tiles in another order


def test_a_png_tile_decodes_to_its_pixels() -> None:
    rng = np.random.default_rng(7)
    tile = rng.integers(0, 256, (256, 256, 4), dtype=np.uint8)
    tile[:100, :50] = 0  # transparent corner
    tile[200:, :] = (10, 20, 30, 255)
    image = Image.open(io.BytesIO(tiles._png(tile)))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (256, 256))
    np.testing.assert_array_equal(np.asarray(image), tile)


def test_pixel_positions_are_within_the_mesh_error_of_the_exact_transformation() -> None:
    pyr = tiles._pyramid(GRID, 9, 7)
    mesh, step, lead_r, lead_c = tiles._mesh(GRID, pyr)
    rng = np.random.default_rng(3)
    rows = rng.integers(0, pyr.height, 400)
    cols = rng.integers(0, pyr.width, 400)
    exact = np.array(
        [
            tiles._source_positions(GRID, pyr, np.array([r]), np.array([c]))[0, 0]
            for r, c in zip(rows, cols, strict=True)
        ]
    )
    a, b = (rows + lead_r) // step, (cols + lead_c) // step
    fa, fb = ((rows + lead_r) % step / step)[:, None], ((cols + lead_c) % step / step)[:, None]
    interp = (1 - fa) * ((1 - fb) * mesh[a, b] + fb * mesh[a, b + 1]) + fa * (
        (1 - fb) * mesh[a + 1, b] + fb * mesh[a + 1, b + 1]
    )
    assert np.abs(interp - exact).max() <= tiles.MESH_ERROR_PX


def test_a_rendered_file_gives_other_zooms_from_its_source(tmp_path: Path) -> None:
    raster = Raster(_depth(), GRID, float("nan"), {})
    rendered = tiles.render_file("bathymetry", raster, tmp_path / "b.bin")
    assert rendered.zooms == (2, 9)
    coarser = tiles.write_raster_tiles(rendered, tmp_path / "c.pmtiles", min_zoom=4, max_zoom=7)
    assert (coarser.min_zoom, coarser.max_zoom) == (4, 7)
    assert {z for z, _, _ in _tiles(coarser.path)} == {4, 5, 6, 7}
    finer = tiles.write_raster_tiles(rendered, tmp_path / "f.pmtiles", min_zoom=10, max_zoom=11)
    assert (finer.min_zoom, finer.max_zoom) == (10, 10)  # a min_zoom above the native zoom: rendered from the source
    assert finer.tile_count > 0
    orphan = tiles.RenderedFile(rendered.path, rendered.grid, rendered.legend, rendered.units, rendered.zooms,
                                rendered.tiles)  # fmt: skip
    with pytest.raises(InputDataError, match="render it again with render_file"):
        tiles.write_raster_tiles(orphan, tmp_path / "o.pmtiles", min_zoom=4, max_zoom=7)
