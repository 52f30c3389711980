from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster


def test_from_bounds_snaps_outwards_and_keeps_alignment() -> None:
    grid = GeoGrid.from_bounds((1234.0, 5678.0, 9876.0, 15432.0), 1000.0, "EPSG:32639")
    assert grid.bounds == (1000.0, 5000.0, 10000.0, 16000.0)
    assert grid.shape == (11, 9)
    assert grid.res == (1000.0, 1000.0)


def test_xy_rowcol_round_trip(utm_grid: GeoGrid) -> None:
    x, y = utm_grid.xy([0, 3.5], [0, 7.25])
    assert x[0] == 400_500.0
    assert y[0] == 4_699_500.0
    row, col = utm_grid.rowcol(x, y)
    np.testing.assert_allclose(row, [0, 3.5])
    np.testing.assert_allclose(col, [0, 7.25])
    assert utm_grid.cell_of(400_999.0, 4_699_001.0) == (0, 0)
    assert utm_grid.cell_of(399_999.0, 4_699_001.0) is None


def test_lonlat_round_trip(utm_grid: GeoGrid) -> None:
    x, y = utm_grid.lonlat_to_xy(51.15, 43.65)
    lon, lat = utm_grid.xy_to_lonlat(x, y)
    assert abs(float(lon) - 51.15) < 1e-9
    assert abs(float(lat) - 43.65) < 1e-9


def test_rotated_transform_is_refused() -> None:
    with pytest.raises(InputDataError, match="north-up"):
        GeoGrid("EPSG:32639", Affine(1000, 5, 0, 0, -1000, 0), (2, 2))


def test_raster_write_read_keeps_attrs_and_nodata(tmp_path, utm_grid: GeoGrid) -> None:
    data = np.arange(600, dtype="float32").reshape(20, 30)
    data[0, 0] = -9999
    raster = Raster(data, utm_grid, -9999.0, {"units": "m", "datum": "Caspian -28 m"})
    back = Raster.read(raster.write(tmp_path / "r.tif"))
    assert back.grid == utm_grid
    assert back.attrs == {"units": "m", "datum": "Caspian -28 m"}
    assert not back.valid()[0, 0]
    assert back.valid().sum() == 599


def test_raster_without_crs_is_refused_with_the_fix(tmp_path) -> None:
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32", transform=Affine(1, 0, 0, 0, -1, 2)
    ) as dst:
        dst.write(np.zeros((1, 2, 2), "float32"))
    with pytest.raises(InputDataError, match=r"has no CRS; assign one"):
        Raster.read(path)


def test_corrupt_raster_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.tif"
    path.write_bytes(b"II*\x00garbage")
    with pytest.raises(InputDataError, match=r"broken\.tif"):
        Raster.read(path)


def test_sample_bilinear_and_nearest(utm_grid: GeoGrid) -> None:
    rows, cols = np.mgrid[0:20, 0:30]
    raster = Raster((rows * 10 + cols).astype(float), utm_grid)
    x, y = utm_grid.xy([2.5, 5.0], [3.5, 7.0])
    np.testing.assert_allclose(raster.sample(x, y), [28.5, 57.0])
    np.testing.assert_allclose(raster.sample(x, y, method="nearest"), [34.0, 57.0])
    assert np.isnan(raster.sample(0.0, 0.0))[0]
