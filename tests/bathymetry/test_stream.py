"""The streamed bathymetry stage (geodata/bathymetry/stream.py) equals the whole-array one, band height by band height.

All rasters and polygons are SYNTHETIC: smooth depth fields with gaps (nodata blocks, some at band edges) in EPSG:4326
and on UTM grids, and a synthetic land polygon.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geodata.bathymetry.mosaic import aoi_mask, aoi_mask_rows, build_depth_mosaic, source_index_of
from geodata.bathymetry.stream import stream_depth, stream_land_sea_mask, stream_slope
from geodata.bathymetry.terrain import land_sea_mask, slope_deg
from geodata.grid import GeoGrid, LazyRaster, Raster

UTM = CRS.from_epsg(32639)
BUDGET = 8 * 1024**3
# (align, band bytes): bands of 1, 3, 7 and 16 rows on a 45-row grid, and one band for the whole grid
BANDS = [(1, 1), (3, 1), (7, 1), (16, 1), (256, None)]


def _grid(rows: int = 45, cols: int = 38, res: float = 2000.0) -> GeoGrid:
    return GeoGrid(UTM, Affine(res, 0, 204_000.0, 0, -res, 4_566_000.0), (rows, cols))


def _source(seed: int, shape: tuple[int, int], bounds: tuple[float, float, float, float], gaps: bool) -> Raster:
    """SYNTHETIC elevations (m, positive up) on a lon/lat grid, NaN blocks where ``gaps``."""
    rng = np.random.default_rng(seed)
    w, s, e, n = bounds
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    z = -200 + 150 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + rng.normal(0, 3, shape)
    z = z.astype("float32")
    if gaps:
        z[10:14, 5:30] = np.nan
        z[rows // 2 :, cols - 6 :] = -9999.0
        z[0, :] = np.nan
    transform = Affine((e - w) / cols, 0, w, 0, -(n - s) / rows, n)
    return Raster(z, GeoGrid(CRS.from_epsg(4326), transform, shape), -9999.0, {})


def _inputs(two: bool = True) -> list[tuple[Raster, SimpleNamespace, dict[str, str]]]:
    regional = _source(1, (60, 70), (47.4, 40.2, 48.6, 41.3), gaps=True)
    out = [(regional, SimpleNamespace(source="regional", priority=0, vertical_reference_m=0.0, positive="up"), {})]
    if two:
        survey = _source(2, (40, 30), (47.7, 40.5, 48.1, 40.9), gaps=True)
        cfg = SimpleNamespace(source="survey", priority=5, vertical_reference_m=-28.0, positive="up")
        out.append((survey, cfg, {"name": "survey"}))
    return out


AOI = (47.6, 40.3, 48.4, 41.0)


@pytest.mark.parametrize(("align", "band_bytes"), BANDS)
@pytest.mark.parametrize("blend", [0, 2])
def test_streamed_mosaic_equals_the_whole_grid_mosaic(tmp_path: Path, align: int, band_bytes: int, blend: int) -> None:
    grid = _grid()
    kw = {"water_level_m": -28.0, "resampling": "bilinear", "aoi_bounds_lonlat": AOI, "blend_cells": blend}
    whole = build_depth_mosaic(_inputs(), grid, **kw)
    lazy = stream_depth(
        _inputs(), grid, tmp_path / "d.tif", budget_bytes=BUDGET, align=align, band_bytes=band_bytes, **kw
    )
    assert isinstance(lazy, LazyRaster)
    assert not lazy.loaded
    expected = whole.depth.data
    assert np.isnan(expected).any()
    assert np.isfinite(expected).any()
    np.testing.assert_allclose(lazy.data, expected, rtol=0, atol=1e-4, equal_nan=True)
    assert np.array_equal(source_index_of(lazy), whole.source_index.data)
    got, want = dict(lazy.attrs), dict(whole.depth.attrs)
    got.pop("source_index"), want.pop("source_index")
    assert got == want


def test_streamed_mosaic_refuses_a_source_off_the_grid_and_leaves_no_file(tmp_path: Path) -> None:
    far = _source(3, (10, 10), (10.0, 10.0, 11.0, 11.0), gaps=False)
    inputs = [(far, SimpleNamespace(source="far", priority=0, vertical_reference_m=0.0, positive="up"), {})]
    with pytest.raises(ValueError, match="no valid cell"):
        stream_depth(inputs, _grid(), tmp_path / "d.tif", water_level_m=-28.0, budget_bytes=BUDGET, align=4)
    assert not (tmp_path / "d.tif").exists()


def _depth(tmp_path: Path) -> Raster:
    """A SYNTHETIC mosaic with nodata cells, some on band edges (rows 3, 6, 7, 15, 16)."""
    d = build_depth_mosaic(_inputs(), _grid(), water_level_m=-28.0).depth
    data = d.data.copy()
    data[[3, 6, 7, 15, 16], 4:9] = np.nan
    data[20:23, 0] = np.nan
    return Raster(data, d.grid, float("nan"), d.attrs)


@pytest.mark.parametrize("budget", [BUDGET, 1024])  # the median's slopes kept in memory, or read from the file again
@pytest.mark.parametrize(("align", "band_bytes"), BANDS)
def test_streamed_slope_equals_the_whole_grid_slope(tmp_path: Path, align: int, band_bytes: int, budget: int) -> None:
    depth = _depth(tmp_path)
    whole = slope_deg(depth)
    on_disk = Raster(depth.data, depth.grid, depth.nodata, depth.attrs).write(tmp_path / "depth.tif")
    from geodata.grid import RasterFile

    for source in (depth, RasterFile.open(on_disk).raster()):
        out = stream_slope(source, tmp_path / "s.tif", budget_bytes=budget, align=align, band_bytes=band_bytes)
        assert np.array_equal(out.data, whole.data, equal_nan=True)
        finite = whole.data[np.isfinite(whole.data)]
        assert out.attrs == {
            **whole.attrs,
            "max_slope_deg": float(finite.max()),
            "median_slope_deg": float(np.median(finite.astype("float64"))),
        }


def test_streamed_slope_on_a_geographic_grid(tmp_path: Path) -> None:
    src = _source(4, (30, 40), (47.0, 40.0, 48.0, 41.0), gaps=True)
    depth = Raster(np.where(src.valid(), src.data, np.nan), src.grid, float("nan"), {})
    whole = slope_deg(depth)
    out = stream_slope(depth, tmp_path / "s.tif", budget_bytes=BUDGET, align=4, band_bytes=1)
    assert np.array_equal(out.data, whole.data, equal_nan=True)


def _land(grid: GeoGrid) -> gpd.GeoDataFrame:
    """SYNTHETIC land: a wiggly coast in lon/lat with an island, thinner than a band in places."""
    coast = shapely.Polygon([(47.0, 40.0), (47.9, 40.0), (47.75, 40.45), (48.05, 40.47), (47.8, 40.9), (47.0, 41.5)])
    island = shapely.Point(48.2, 40.75).buffer(0.03)
    return gpd.GeoDataFrame({"name": ["coast", "island"]}, geometry=[coast, island], crs="EPSG:4326")


@pytest.mark.parametrize(("align", "band_bytes"), BANDS)
@pytest.mark.parametrize("all_touched", [False, True])
def test_streamed_mask_equals_the_whole_grid_mask(
    tmp_path: Path, align: int, band_bytes: int, all_touched: bool
) -> None:
    depth = _depth(tmp_path)
    land = _land(depth.grid)
    whole = land_sea_mask(depth, land, all_touched=all_touched)
    out = stream_land_sea_mask(
        depth,
        land,
        tmp_path / "m.tif",
        budget_bytes=BUDGET,
        all_touched=all_touched,
        align=align,
        band_bytes=band_bytes,
    )
    assert 0 < whole.data.mean() < 1
    assert np.array_equal(out.data, whole.data)
    assert out.data.dtype == np.uint8
    assert out.attrs == whole.attrs


def test_streamed_mask_without_coastline_follows_the_depth_sign(tmp_path: Path) -> None:
    depth = _depth(tmp_path)
    whole = land_sea_mask(depth, None)
    out = stream_land_sea_mask(depth, None, tmp_path / "m.tif", budget_bytes=BUDGET, align=5, band_bytes=1)
    assert np.array_equal(out.data, whole.data)
    assert out.attrs == whole.attrs


@pytest.mark.parametrize("res", [500.0, 3000.0])
def test_aoi_mask_equals_transforming_every_cell(res: float) -> None:
    grid = GeoGrid(UTM, Affine(res, 0, 150_000.0, 0, -res, 4_620_000.0), (int(2e5 / res), int(1.6e5 / res)))
    aoi = (46.8, 40.2, 48.3, 41.4)
    ys, xs = grid.coords()
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = grid.xy_to_lonlat(xx, yy)
    brute = (lon >= aoi[0]) & (lon <= aoi[2]) & (lat >= aoi[1]) & (lat <= aoi[3])
    assert 0.2 < brute.mean() < 0.9
    assert np.array_equal(aoi_mask(grid, aoi), brute)
    assert np.array_equal(aoi_mask_rows(grid, aoi, slice(37, 101)), brute[37:101])


def test_lazy_raster_samples_only_what_it_needs_and_equals_the_loaded_values(tmp_path: Path) -> None:
    depth = _depth(tmp_path)
    from geodata.grid import RasterFile

    lazy = RasterFile.open(depth.write(tmp_path / "d.tif")).raster()
    rng = np.random.default_rng(5)
    x = rng.uniform(depth.grid.bounds[0] - 3000, depth.grid.bounds[2] + 3000, 300)
    y = rng.uniform(depth.grid.bounds[1] - 3000, depth.grid.bounds[3] + 3000, 300)
    for method in ("bilinear", "nearest"):
        got = lazy.sample(x, y, method=method)
        assert not lazy.loaded
        want = depth.sample(x, y, method=method)
        assert np.isnan(want).any()
        assert np.isfinite(want).any()
        assert np.array_equal(got, want, equal_nan=True)
    assert math.isnan(float(lazy.sample(0.0, 0.0)[0]))


def test_order_statistics_and_percentiles_equal_numpy() -> None:
    from geodata.bathymetry.bands import order_statistics, percentiles

    rng = np.random.default_rng(7)
    parts = [rng.normal(50, 200, n) for n in (0, 1, 999, 5000, 37)] + [np.full(300, 12.5)]
    values = np.concatenate(parts)
    ranks = [0, 1, 17, values.size // 2, values.size - 1]
    assert order_statistics(lambda: iter(parts), ranks) == [float(v) for v in np.sort(values)[ranks]]
    qs = [0, 1, 5, 50, 95, 99, 100]
    np.testing.assert_allclose(percentiles(lambda: iter(parts), values.size, qs), np.percentile(values, qs), rtol=1e-12)
    assert order_statistics(lambda: iter([np.full(4, 3.0)]), [0, 3]) == [3.0, 3.0]


def _inland(mask: Raster) -> tuple[float, float]:
    """lon/lat of the land cell farthest from the sea."""
    from scipy import ndimage

    d = ndimage.distance_transform_edt(mask.data == 0)
    r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    lon, lat = mask.grid.xy_to_lonlat(*mask.grid.xy(r, c))
    return float(lon), float(lat)


def _checks(depth: Raster, mask: Raster, inland: tuple[float, float]) -> dict:
    from geodata.bathymetry import checks

    stations = [("inland", *inland), ("coast", 47.85, 40.45)]
    return {
        "coverage": checks.check_coverage(depth, AOI, stations, sea_mask=mask, sea_only=True),
        "coverage_no_mask": checks.check_coverage(depth, AOI, stations, max_station_to_sea_m=2000.0),
        "nodata": checks.check_nodata_share(depth, 0.05, aoi_bounds_lonlat=AOI, sea_mask=mask),
        "range": checks.check_depth_range(depth, mask, (-5.0, 150.0)),
        "signs": checks.source_sign_agreement(depth, mask),
        "summary": checks.summary_metadata(depth, mask, AOI),
    }


@pytest.mark.parametrize("align", [1, 4, 9])
def test_checks_band_by_band_equal_one_band_and_read_lazy_rasters_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, align: int
) -> None:
    from geodata.bathymetry import bands

    depth = _depth(tmp_path)
    mask = land_sea_mask(depth, _land(depth.grid))
    inland = _inland(mask)
    whole = _checks(depth, mask, inland)
    assert not whole["range"].passed  # outliers beyond -5..150 m, located
    assert whole["range"].metadata["outliers_lonlat"]
    assert not whole["coverage"].passed  # the inland station is too far from the sea
    assert whole["coverage"].metadata["stations"][0]["distance_to_sea_m"] > 4000
    assert whole["signs"][0]["cells"] > 0
    from geodata.grid import RasterFile

    lazy_depth = RasterFile.open(
        Raster(depth.data, depth.grid, depth.nodata, {**depth.attrs}).write(tmp_path / "dd.tif")
    ).raster()
    lazy_mask = stream_land_sea_mask(depth, _land(depth.grid), tmp_path / "m.tif", budget_bytes=BUDGET)
    monkeypatch.setattr(bands, "CHECK_BAND_BYTES", 1)
    monkeypatch.setattr(bands, "CHECK_ALIGN", align)
    banded = _checks(lazy_depth, lazy_mask, inland)
    assert not lazy_depth.loaded
    assert not lazy_mask.loaded
    assert banded == whole


def test_a_raster_is_held_when_it_fits_an_eighth_of_the_budget(tmp_path: Path) -> None:
    """held() reads a lazy raster into memory when it needs at most 1/8 of the run's budget (the checks then read
    it once, not once per pass), whatever one band's cap, and leaves a larger one on disk."""
    from geodata.bathymetry.stream import held
    from geodata.grid import RasterWriter

    grid = _grid()
    data = np.arange(grid.cell_count, dtype="float32").reshape(grid.shape)
    with RasterWriter(tmp_path / "d.tif", grid, "float32", nodata=float("nan")) as w:
        w.write_rows(slice(0, grid.shape[0]), data)
    nbytes = grid.cell_count * 4
    lazy = w.raster()
    kept = held(lazy, 8 * nbytes)
    assert not isinstance(kept, LazyRaster)
    assert np.array_equal(kept.data, data)
    assert not lazy.loaded  # a copy: the lazy raster is still stored by moving its file
    assert held(lazy, 8 * nbytes - 1) is lazy


@pytest.mark.parametrize(("align", "band_bytes"), [(3, 1), (256, None)])
def test_depth_and_mask_keep_what_they_wrote_for_their_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, align: int, band_bytes: int | None
) -> None:
    """The depth and the mask keep their values as written when held() would hold them (it then hands them to the
    stage's checks without reading the file back); the file holds the same values and stays unloaded (the store
    moves it); with a budget too small to hold them nothing is kept and held() leaves the raster on disk."""
    from geodata.bathymetry.stream import held
    from geodata.grid import RasterFile

    grid = _grid()
    kw = {"water_level_m": -28.0, "aoi_bounds_lonlat": AOI, "align": align, "band_bytes": band_bytes}
    depth = stream_depth(_inputs(), grid, tmp_path / "d.tif", budget_bytes=BUDGET, **kw)
    mask = stream_land_sea_mask(depth, _land(grid), tmp_path / "m.tif", budget_bytes=BUDGET, align=align)
    on_disk = {"d": RasterFile.open(tmp_path / "d.tif").load().data, "m": RasterFile.open(tmp_path / "m.tif").load()}
    assert depth.kept is not None
    assert mask.kept is not None
    assert np.array_equal(depth.kept, on_disk["d"], equal_nan=True)
    assert np.array_equal(mask.kept, on_disk["m"].data)
    assert mask.kept.dtype == np.uint8

    def no_read(self: RasterFile, rows: slice) -> np.ndarray:
        raise AssertionError("held() read back a file its stage kept")

    monkeypatch.setattr(RasterFile, "read_rows", no_read)
    for lazy in (depth, mask):
        copy = held(lazy, BUDGET)
        assert not isinstance(copy, LazyRaster)
        assert copy.data is lazy.kept
        assert not lazy.loaded
    monkeypatch.undo()
    small = grid.cell_count * 4 * 8 - 1  # a byte short of what held() needs for the depth
    depth = stream_depth(_inputs(), grid, tmp_path / "d2.tif", budget_bytes=small, **kw)
    assert depth.kept is None
    assert held(depth, small) is depth
    mask = stream_land_sea_mask(depth, _land(grid), tmp_path / "m2.tif", budget_bytes=grid.cell_count * 8 - 1)
    assert mask.kept is None


def test_compiled_histogram_bins_as_numpy_does() -> None:
    """Ranks bins float64 values with a compiled kernel: the same bins as its numpy formula (values at the range's
    ends, below and above it, ties), so the order statistics are the same; other dtypes keep the numpy path."""
    from geodata.bathymetry import bands

    rng = np.random.default_rng(7)
    lo, hi = -31.5, 1024.25
    v = np.concatenate(
        [rng.uniform(lo, hi, 200_000), [lo, hi, lo - 5.0, hi + 7.0, np.nextafter(lo, -1), np.nextafter(hi, 2000)]]
    )
    v = np.concatenate([v, v[:1000]])  # ties
    ranks = bands.Ranks(lo, hi)
    ranks.add(v)
    assert np.array_equal(ranks.counts, np.bincount(ranks._bins(v), minlength=bands.HIST_BINS))
    wanted = np.array([0, 1, 4097, bands.HIST_BINS - 1])
    values, which = bands._in_bins(v, lo, hi - lo, wanted)
    for j, b in enumerate(wanted):
        assert np.array_equal(values[which == j], v[ranks._bins(v) == b])
    k = [0, v.size // 3, v.size - 1]
    assert ranks.values_at(lambda: iter([v[:70_000], v[70_000:]]), k) == [float(x) for x in np.sort(v)[k]]
    f32 = v.astype(np.float32)
    assert not ranks._compiled(f32)
    assert bands.order_statistics(lambda: iter([f32]), [5]) == [float(np.sort(f32)[5])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 2), (2, 7), (9, 2), (31, 17)])
def test_compiled_slope_band_is_numpys_slope_bit_for_bit(shape: tuple[int, int], dtype: str) -> None:
    from geodata.bathymetry.terrain import _slope_values, slope_band

    rng = np.random.default_rng(7)
    z = (rng.normal(0.0, 50.0, shape) + np.linspace(0.0, 400.0, shape[1])).astype(dtype)
    z[rng.random(shape) < 0.15] = np.nan
    z[0, 0] = np.inf
    hy = np.linspace(90.0, 110.0, shape[0])[:, None]
    hx = np.linspace(70.0, 130.0, shape[0])[:, None]
    expected = _slope_values(np.where(np.isfinite(z), z, np.nan).astype("float64"), hy, hx)
    got = slope_band(z, hy, hx)
    assert got.dtype == np.float32
    assert got.tobytes() == expected.tobytes()


def test_compiled_valid_float64_is_valid_values() -> None:
    from geodata.bathymetry.bands import valid_float64
    from geodata.grid import valid_values

    z = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, -2.25]], dtype="float32")
    for nodata in (None, float("nan")):
        got = valid_float64(z, nodata)
        assert got.dtype == np.float64
        assert got.tobytes() == valid_values(z, nodata).tobytes()
    assert valid_float64(z, -2.25).tobytes() == valid_values(z, -2.25).tobytes()  # other nodata: numpy's own path


def test_compiled_summary_figures_are_numpys(tmp_path: Path) -> None:
    """summary_metadata's and check_depth_range's compiled band passes give what numpy's give (a float64 depth with
    a nodata value that is not NaN takes numpy's path: the two compared)."""
    from geodata.bathymetry import checks

    depth = _depth(tmp_path)
    sea = Raster((np.nan_to_num(depth.data, nan=0.0) > 10).astype(bool), depth.grid, None, {})
    other = Raster(np.where(np.isfinite(depth.data), depth.data, -9999.0), depth.grid, -9999.0, depth.attrs)
    for mask in (None, sea):
        assert checks.summary_metadata(depth, sea_mask=mask) == checks.summary_metadata(other, sea_mask=mask)
        for b in checks.blocks_of(depth.grid):
            for mode in ("all", "deeper"):
                fast = checks._sea_depths(depth, mask, b, without_mask=mode)
                slow = checks._sea_depths(other, mask, b, without_mask=mode)
                assert fast.tobytes() == slow.tobytes()
    limits = (-50.0, 1100.0)
    assert checks.check_depth_range(depth, sea, limits) == checks.check_depth_range(other, sea, limits)


def test_compiled_range_outlier_and_sign_passes_are_numpys(tmp_path: Path) -> None:
    """check_depth_range's counts and outlier places, the per-source sign tally and the sea mask's counts in their
    compiled passes give what numpy's give (a nodata value that is not NaN takes numpy's path), with and without a
    mask, with outliers on both sides of the range."""
    from geodata.bathymetry import checks

    depth = _depth(tmp_path)
    assert len(depth.attrs["sources"]) == 2
    sea = Raster((np.nan_to_num(depth.data, nan=0.0) > 10).astype(np.uint8), depth.grid, None, {})
    other = Raster(np.where(np.isfinite(depth.data), depth.data, -9999.0), depth.grid, -9999.0, depth.attrs)
    finite = depth.data[np.isfinite(depth.data)]
    limits = (float(np.percentile(finite, 10)), float(np.percentile(finite, 90)))
    for mask in (None, sea):
        fast = checks.check_depth_range(depth, mask, limits)
        assert fast.metadata["cells_shallower_than_min"]
        assert fast.metadata["cells_deeper_than_max"]
        assert len(fast.metadata["outliers_lonlat"]) == 20
        assert fast == checks.check_depth_range(other, mask, limits)
    signs = checks.source_sign_agreement(depth, sea)
    assert [s["cells"] > 0 for s in signs] == [True, True]
    assert signs == checks.source_sign_agreement(other, sea)
    land = _land(depth.grid)
    fast_mask = stream_land_sea_mask(depth, land, tmp_path / "m1.tif", budget_bytes=BUDGET, align=5, band_bytes=1)
    slow_mask = stream_land_sea_mask(other, land, tmp_path / "m2.tif", budget_bytes=BUDGET, align=5, band_bytes=1)
    assert fast_mask.attrs == slow_mask.attrs
    assert np.array_equal(fast_mask.data, slow_mask.data)
