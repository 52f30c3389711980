"""The windowed access seam of geodata/grid.py: row bands from a budget, lazy reads, band-by-band writes (synthetic)."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from geodata.grid import GeoGrid, Raster, RasterFile, RasterWriter, raster_read_rows, row_blocks


def _grid(rows: int = 1000, cols: int = 700) -> GeoGrid:
    return GeoGrid("EPSG:32639", Affine(100.0, 0, 300_000.0, 0, -100.0, 4_800_000.0), (rows, cols))


def test_row_blocks_cover_every_row_once_within_budget() -> None:
    grid = _grid()
    blocks = row_blocks(grid, bytes_per_cell=8, budget_bytes=8 * 700 * 300, halo=3)
    owned = np.concatenate([np.arange(b.rows.start, b.rows.stop) for b in blocks])
    assert np.array_equal(owned, np.arange(1000))
    assert len(blocks) == 4
    assert all(b.height == 256 for b in blocks[:-1])
    assert blocks[0].read == slice(0, 259)
    assert blocks[1].read == slice(253, 515)
    assert blocks[1].core == slice(3, 259)


def test_row_blocks_one_band_when_it_fits() -> None:
    blocks = row_blocks(_grid(), bytes_per_cell=4, budget_bytes=10**9, halo=5)
    assert len(blocks) == 1
    assert blocks[0].rows == slice(0, 1000)
    assert blocks[0].read == slice(0, 1000)
    with pytest.raises(ValueError, match="positive"):
        row_blocks(_grid(), bytes_per_cell=0, budget_bytes=1)


def test_writer_and_lazy_file_round_trip(tmp_path) -> None:
    grid = _grid()
    rng = np.random.default_rng(1)
    full = rng.normal(size=grid.shape).astype("float32")
    with RasterWriter(tmp_path / "x.tif", grid, "float32", nodata=-9999.0, attrs={"units": "m"}, overviews=True) as w:
        for b in row_blocks(grid, bytes_per_cell=4, budget_bytes=4 * 700 * 256):
            w.write_rows(b.rows, full[b.rows])
    lazy = RasterFile.open(tmp_path / "x.tif")
    assert lazy.grid == grid
    assert lazy.attrs == {"units": "m"}
    assert lazy.nodata == -9999.0
    assert np.array_equal(raster_read_rows(lazy, slice(300, 600)), full[300:600])
    assert np.array_equal(lazy.load().data, full)
    mem = Raster(full, grid)
    assert np.array_equal(raster_read_rows(mem, slice(0, 10)), full[:10])


def test_writer_leaves_no_file_after_an_error(tmp_path) -> None:
    grid = _grid(300, 300)
    with pytest.raises(ValueError, match="does not fit"):
        with RasterWriter(tmp_path / "y.tif", grid, "float32") as w:
            w.write_rows(slice(0, 10), np.zeros((5, 300)))
    assert not (tmp_path / "y.tif").exists()
