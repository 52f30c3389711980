"""The deliverables' tile cache: a stored raster sampled many times along a route gives the file's own samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from geodata.deliverables.compose import _cached, _TileCache
from geodata.grid import GeoGrid, Raster, RasterWriter


def test_cached_tiles_sample_as_the_file_does(tmp_path: Path) -> None:
    grid = GeoGrid(CRS.from_epsg(32639), Affine(100.0, 0.0, 400_000.0, 0.0, -100.0, 4_600_000.0), (700, 530))
    rng = np.random.default_rng(5)
    data = rng.normal(100.0, 30.0, grid.shape).astype("float32")
    data[rng.random(grid.shape) < 0.02] = np.nan  # nodata next to sampled points
    with RasterWriter(tmp_path / "depth.tif", grid, "float32", nodata=float("nan"), compress="zstd") as out:
        out.write_rows(slice(0, grid.shape[0]), data)
    stored = out.raster()
    cached = _cached(stored)
    assert isinstance(cached, _TileCache)
    assert _cached(Raster(data, grid, float("nan"), {})).__class__ is Raster  # in memory: nothing to cache
    w, s, e, n = grid.bounds
    for method in ("bilinear", "nearest"):
        for _ in range(3):  # again and again: from the cache
            x = rng.uniform(w - 500, e + 500, 2000)
            y = rng.uniform(s - 500, n + 500, 2000)
            np.testing.assert_array_equal(cached.sample(x, y, method=method), stored.sample(x, y, method=method))
    assert not cached.loaded
    assert 0 < len(cached._tiles) <= 3 * 3  # 700 x 530 cells: 3 x 3 tiles, each read once
