"""The published depth follows the coastline (synthetic grid): no water depth on land, no land height at sea."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster
from geodata.publish.compose import coast_reconciled_depth
from geodata.publish.tiles import render_bathymetry


def _case() -> tuple[Raster, Raster]:
    grid = GeoGrid("EPSG:32639", Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_700_000.0), (4, 5))
    depth = np.array(
        [
            [-30.0, -10.0, 5.0, 40.0, 80.0],
            [-50.0, 104.0, -2.0, 60.0, 90.0],  # 104 m: a land depression below the Caspian surface
            [-20.0, -5.0, 10.0, np.nan, 100.0],
            [-40.0, -15.0, 20.0, 70.0, 110.0],
        ],
        dtype="float32",
    )
    sea = np.array([[0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1]], dtype="uint8")
    return Raster(depth, grid, float("nan"), {"units": "m"}), Raster(sea, grid, None, {})


def test_land_depressions_and_land_heights_at_sea_are_blanked() -> None:
    depth, sea = _case()
    out, counts = coast_reconciled_depth(depth, sea)
    assert counts == {"land_below_water_cells": 1, "sea_above_water_cells": 1}
    assert np.isnan(out.data[1, 1])  # the depression shows no water depth
    assert np.isnan(out.data[1, 2])  # the -2 m cell at sea shows no land height
    keep = np.ones(depth.data.shape, bool)
    keep[1, 1] = keep[1, 2] = keep[2, 3] = False
    assert (out.data[keep] == depth.data[keep]).all()  # every other value as it was, land heights included
    assert out.grid == depth.grid
    # the tiles are rendered from it: the depression is transparent (the map's land shows), not blue
    rgba = render_bathymetry(out).rgba
    assert rgba[3, 1, 1] == 0
    assert rgba[3, 0, 0] == 255


def test_without_a_mask_the_depth_is_published_as_it_is_and_a_wrong_grid_is_refused() -> None:
    depth, sea = _case()
    same, counts = coast_reconciled_depth(depth, None)
    assert same is depth
    assert counts == {"land_below_water_cells": 0, "sea_above_water_cells": 0}
    other = Raster(sea.data[:, :4], GeoGrid(sea.grid.crs, sea.grid.transform, (4, 4)), None, {})
    with pytest.raises(InputDataError, match="rebuild sea_mask"):
        coast_reconciled_depth(depth, other)


@pytest.mark.parametrize(
    ("depth_dtype", "depth_nodata", "mask_dtype", "mask_nodata"),
    [("float32", float("nan"), "uint8", None), ("float64", -32768.0, "float32", 255.0), ("int16", -32768, "uint8", 9)],
)
def test_the_compiled_band_equals_the_rule_written_out(
    depth_dtype: str, depth_nodata: float | None, mask_dtype: str, mask_nodata: float | None
) -> None:
    """The kernel against the rule in numpy: no data where the depth has none (not finite or its nodata), blanked
    where a positive depth lies on land (mask not 1, or the mask's nodata) or a negative one at sea."""
    from geodata.publish.compose import _reconciled_band

    rng = np.random.default_rng(14)
    z = rng.normal(0, 40, (301, 257)).astype(depth_dtype)
    sea = rng.integers(0, 2, (301, 257)).astype(mask_dtype)
    if np.issubdtype(z.dtype, np.floating):
        z[::17, ::13] = np.nan
        z[5, 5] = np.inf
    z[::19, ::7] = -32768 if depth_nodata == -32768 else z[::19, ::7]
    if mask_nodata is not None:
        sea[::11, ::23] = mask_nodata
    if np.issubdtype(sea.dtype, np.floating):
        sea[::29, ::31] = np.nan
    zf = z.astype("float64")
    has = np.isfinite(zf) & ~(zf == depth_nodata if depth_nodata is not None else False)
    is_sea = (sea == 1) & ~(sea == mask_nodata if mask_nodata is not None else False)
    wet, dry = has & ~is_sea & (zf > 0), has & is_sea & (zf < 0)
    expect = np.where(has & ~wet & ~dry, zf, np.nan).astype("float32")
    got, n_wet, n_dry = _reconciled_band(z, depth_nodata, sea, mask_nodata)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expect)
    assert (n_wet, n_dry) == (int(wet.sum()), int(dry.sum()))
    assert n_wet > 1000
    assert n_dry > 1000
