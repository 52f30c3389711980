"""A source whose declared size would not fit in memory is refused before it is read. SYNTHETIC rasters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from geodata.bathymetry import read as bread
from geodata.bathymetry import read_bathymetry_source
from geodata.errors import InputDataError


def _tif(path: Path, n: int, res: float) -> Path:
    profile = {"driver": "GTiff", "height": n, "width": n, "count": 1, "dtype": "float32", "crs": "EPSG:4326"}
    with rasterio.open(path, "w", transform=Affine(res, 0, 48.0, 0, -res, 44.0), **profile) as dst:
        dst.write(np.full((n, n), -100.0, dtype="float32"), 1)
    return path


def test_window_over_the_limit_is_refused_with_the_warp_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bread, "MAX_READ_CELLS", 1000)
    path = _tif(tmp_path / "dense.tif", 200, 0.01)
    with pytest.raises(InputDataError, match=r"declares 200 x 200 cells.*gdalwarp -tr 0\.0664 0\.0664") as info:
        read_bathymetry_source(path)
    assert str(path) in str(info.value)


def test_only_the_window_of_the_area_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """200 x 200 cells declared, but the area of interest needs about 36 x 36 of them: read."""
    monkeypatch.setattr(bread, "MAX_READ_CELLS", 2000)
    path = _tif(tmp_path / "dense.tif", 200, 0.01)
    r = read_bathymetry_source(path, bounds_lonlat=(48.5, 43.0, 48.8, 43.3))
    assert r.data.size <= 2000
    with pytest.raises(InputDataError, match=r"of which the area of interest needs"):
        read_bathymetry_source(path, bounds_lonlat=(48.3, 42.5, 49.8, 43.8))


def test_netcdf_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bread, "MAX_READ_CELLS", 1000)
    y = np.linspace(44.0, 40.0, 81)
    x = np.linspace(48.0, 52.0, 81)
    xr.Dataset({"z": (("y", "x"), np.full((81, 81), -50.0, dtype="float32"))}, coords={"y": y, "x": x}).to_netcdf(
        tmp_path / "g.nc"
    )
    with pytest.raises(InputDataError, match=r"g\.nc declares 81 x 81 cells.*gdalwarp -tr"):
        read_bathymetry_source(tmp_path / "g.nc")
