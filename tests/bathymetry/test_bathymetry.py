"""Tests of geodata.bathymetry: readers, analysis grid, datum conversion, priority mosaic, slope, land/sea mask,
checks. Synthetic rasters are built in code; one integration test runs on the mirror's real SRTM30_PLUS grid."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, box

from geodata.bathymetry import (
    BathymetryInput,
    analysis_grid,
    aoi_mask,
    build_depth,
    build_depth_mosaic,
    check_coverage,
    check_crs,
    check_depth_range,
    check_nodata_share,
    land_sea_mask,
    load_bathymetry_inputs,
    metres_per_degree,
    read_bathymetry_source,
    resolve_bathymetry_source,
    sea_depth,
    slope_deg,
    summary_metadata,
)
from geodata.errors import ConfigError, InputDataError, SourceUnavailable
from geodata.grid import GeoGrid, Raster
from geodata.scenario import BathymetrySource, load_scenario

UTM39 = "EPSG:32639"
AOI = (49.5, 41.5, 50.5, 42.5)  # a 1 x 1 degree box in the middle Caspian


def _cfg(**kw: object) -> BathymetrySource:
    kw.setdefault("source", "synthetic.tif")
    return BathymetrySource(**kw)  # type: ignore[arg-type]


def _write_tif(path: Path, data: np.ndarray, transform: Affine, crs: str | None, nodata: float | None = None) -> Path:
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def _lonlat_raster(
    f: Callable[..., np.ndarray],
    bounds: tuple[float, float, float, float] = (49.0, 41.0, 51.0, 43.0),
    res: float = 1 / 60,
    crs: str = "EPSG:4326",
) -> Raster:
    """A lon/lat raster holding f(lon, lat) at cell centres."""
    grid = GeoGrid.from_bounds(bounds, res, crs)
    lat, lon = grid.coords()
    lon2, lat2 = np.meshgrid(lon, lat)
    return Raster(f(lon2, lat2).astype("float32"), grid, float("nan"))


def _inp(raster: Raster, name: str = "src", **cfg: object) -> BathymetryInput:
    return BathymetryInput(raster, _cfg(source=name, **cfg), {"name": name, "sha256": f"sha-{name}"})


# -- reading ---------------------------------------------------------------------------------------------------------


def test_geotiff_in_web_mercator_reprojects_onto_utm_grid(tmp_path: Path) -> None:
    # elevation linear in Web-Mercator metres, so bilinear resampling is exact and any misplacement shows
    to_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    left, bottom = to_3857.transform(49.0, 41.0)
    right, top = to_3857.transform(51.0, 43.0)
    res = 1000.0
    cols, rows = int((right - left) // res), int((top - bottom) // res)
    transform = Affine(res, 0, left, 0, -res, top)
    xs = left + (np.arange(cols) + 0.5) * res
    ys = top - (np.arange(rows) + 0.5) * res

    def elev(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -600.0 + 2e-3 * (x - left) - 1e-3 * (y - bottom)

    data = elev(*np.meshgrid(xs, ys)).astype("float32")
    path = _write_tif(tmp_path / "merc.tif", data, transform, "EPSG:3857", nodata=-32768.0)
    src = read_bathymetry_source(path)
    assert src.grid.crs.to_epsg() == 3857
    assert src.attrs["crs_origin"] == "file"
    assert not src.attrs["flipped_rows"]

    grid = analysis_grid(AOI, UTM39, 2000.0)
    depth = build_depth([_inp(src)], grid, water_level_m=-28.0, aoi_bounds_lonlat=AOI)
    assert depth.grid == grid
    assert check_crs(depth, UTM39).passed
    # expected: transform each UTM cell centre to 3857 and evaluate the plane, then convert to depth
    ys_u, xs_u = grid.coords()
    xx, yy = np.meshgrid(xs_u, ys_u)
    mx, my = Transformer.from_crs(UTM39, "EPSG:3857", always_xy=True).transform(xx, yy)
    expected = -28.0 - elev(mx, my)
    # GDAL's warper approximates the transformation to 1/8 source pixel: 0.125 px x |(2, 1)| m/px = 0.28 m
    assert np.nanmax(np.abs(depth.data - expected)) < 0.3
    assert depth.attrs["sources"][0]["crs"] == "EPSG:3857"
    assert depth.attrs["aoi_coverage_fraction"] == 1.0


def _nc_gebco(path: Path, *, south_up: bool = True) -> tuple[Path, Callable[..., np.ndarray]]:
    lat = np.arange(41.0 + 1 / 480, 43.0, 1 / 240)  # 15 arc-second cell centres, ascending (south-up) like GEBCO
    lon = np.arange(49.0 + 1 / 480, 51.0, 1 / 240)
    if not south_up:
        lat = lat[::-1]

    def f(lo: np.ndarray, la: np.ndarray) -> np.ndarray:
        return np.round(-900 + 100 * (lo - 49) + 300 * (la - 41))

    z = f(*np.meshgrid(lon, lat)).astype("int16")
    ds = xr.Dataset(
        {"elevation": (("lat", "lon"), z, {"units": "m", "standard_name": "height_above_mean_sea_level"})},
        coords={
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
    )
    ds.to_netcdf(path)
    return path, f


def test_gebco_style_netcdf_south_up_is_flipped_and_placed(tmp_path: Path) -> None:
    path, f = _nc_gebco(tmp_path / "gebco_2024_subset.nc")
    r = read_bathymetry_source(path)
    assert r.attrs["variable"] == "elevation"
    assert r.attrs["flipped_rows"] is True
    assert r.attrs["crs_origin"] == "assumed"
    assert r.grid.crs.to_epsg() == 4326
    assert r.grid.transform.e < 0
    assert r.grid.bounds == pytest.approx((49.0, 41.0, 51.0, 43.0), abs=1e-9)
    lon = np.array([49.3021, 50.7, 49.05])
    lat = np.array([42.9, 41.2, 41.6])
    assert np.allclose(r.sample(lon, lat, method="nearest"), f(lon, lat), atol=1.0 + 400 / 240)
    # the top row is the north
    assert r.data[0, 0] > r.data[-1, 0]


def test_etopo_style_netcdf_z_on_yx_and_window(tmp_path: Path) -> None:
    y = np.linspace(44.0, 40.0, 241)  # north-up, 1 arc-minute nodes, no units (GMT style)
    x = np.linspace(48.0, 52.0, 241)
    z = (-500.0 - 50 * (x[None, :] - 48) + 0 * y[:, None]).astype("float32")
    z[0, 0] = np.nan
    xr.Dataset({"z": (("y", "x"), z)}, coords={"y": y, "x": x}).to_netcdf(tmp_path / "etopo.nc")
    r = read_bathymetry_source(tmp_path / "etopo.nc", bounds_lonlat=AOI)
    assert r.attrs["variable"] == "z"
    assert r.attrs["flipped_rows"] is False
    assert r.grid.crs.to_epsg() == 4326
    assert r.attrs["crs_origin"] == "assumed"
    assert any("EPSG:4326 assumed" in w for w in r.attrs["warnings"])
    # only the window of the area of interest (plus a 3-cell margin) was read
    w, s, e, n = r.grid.bounds
    assert 49.4 < w < 49.5
    assert 50.5 < e < 50.6
    assert 41.4 < s < 41.5
    assert 42.5 < n < 42.6
    assert r.sample([50.0], [42.0])[0] == pytest.approx(-500.0 - 50 * 2.0, abs=1e-3)
    # explicit variable that does not exist: the error lists the variables
    with pytest.raises(InputDataError, match=r"no variable 'elevation'.*z"):
        read_bathymetry_source(tmp_path / "etopo.nc", variable="elevation")


def test_netcdf_with_projected_axes_needs_a_crs(tmp_path: Path) -> None:
    x = np.arange(500_000.0, 520_000.0, 1000.0)
    y = np.arange(4_660_000.0, 4_640_000.0, -1000.0)
    da = xr.DataArray(np.full((y.size, x.size), -100.0, "float32"), dims=("y", "x"), coords={"y": y, "x": x})
    da.x.attrs["units"] = "m"
    da.to_dataset(name="depth").to_netcdf(tmp_path / "survey.nc")
    with pytest.raises(InputDataError, match=r"CRS is unknown.*set `crs`"):
        read_bathymetry_source(tmp_path / "survey.nc")
    r = read_bathymetry_source(tmp_path / "survey.nc", crs=UTM39)
    assert r.grid.crs == CRS(UTM39)
    assert r.attrs["crs_origin"] == "argument"
    # a CF grid_mapping in the file is used, and wins over a configured crs (with a recorded warning)
    ds = da.to_dataset(name="depth")
    ds["depth"].attrs["grid_mapping"] = "spatial_ref"
    ds["spatial_ref"] = xr.DataArray(0, attrs={"crs_wkt": CRS(UTM39).to_wkt()})
    ds.to_netcdf(tmp_path / "survey_cf.nc")
    r = read_bathymetry_source(tmp_path / "survey_cf.nc", crs="EPSG:32638")
    assert r.grid.crs == CRS(UTM39)
    assert r.attrs["crs_origin"] == "file"
    assert any("EPSG:32638" in w and "ignored" in w for w in r.attrs["warnings"])
    assert r.grid.bounds == (499_500.0, 4_640_500.0, 519_500.0, 4_660_500.0)


def test_netcdf_longitudes_0_to_360_and_feet(tmp_path: Path) -> None:
    lon = np.arange(0.5, 360.0, 1.0)
    lat = np.arange(-89.5, 90.0, 1.0)
    z = np.where(lon[None, :] > 180, lon[None, :] - 360.0, lon[None, :]) + 0 * lat[:, None]
    xr.Dataset({"z": (("lat", "lon"), z.astype("float32"))}, coords={"lat": lat, "lon": lon}).to_netcdf(
        tmp_path / "g.nc"
    )
    r = read_bathymetry_source(tmp_path / "g.nc", bounds_lonlat=(-10.0, 0.0, 10.0, 5.0))
    assert r.grid.bounds[0] < -10
    assert r.grid.bounds[2] > 10
    assert r.sample([-7.5, 7.5], [2.5, 2.5], method="nearest").tolist() == [-7.5, 7.5]
    ds = xr.Dataset({"depth": (("lat", "lon"), np.ones((3, 3), "float32"), {"units": "ft"})},
                    coords={"lat": [41.0, 41.5, 42.0], "lon": [50.0, 50.5, 51.0]})  # fmt: skip
    ds.to_netcdf(tmp_path / "feet.nc")
    with pytest.raises(InputDataError, match="in 'ft', not metres"):
        read_bathymetry_source(tmp_path / "feet.nc")


def test_truncated_files_raise_input_data_error_naming_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(-300, 50, (512, 512)).astype("float32")
    good = tmp_path / "good.tif"
    with rasterio.open(
        good, "w", driver="GTiff", height=512, width=512, count=1, dtype="float32", crs="EPSG:4326",
        transform=Affine(1 / 60, 0, 49, 0, -1 / 60, 43), tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    blob = good.read_bytes()
    for name, cut in (("half.tif", len(blob) // 2), ("head.tif", 200)):
        bad = tmp_path / name
        bad.write_bytes(blob[:cut])
        with pytest.raises(InputDataError, match=name):
            read_bathymetry_source(bad)
    nc, _ = _nc_gebco(tmp_path / "g.nc")
    nc_blob = nc.read_bytes()
    (tmp_path / "cut.nc").write_bytes(nc_blob[: len(nc_blob) // 3])
    with pytest.raises(InputDataError, match=r"cut\.nc"):
        read_bathymetry_source(tmp_path / "cut.nc")
    (tmp_path / "empty.nc").write_bytes(b"")
    with pytest.raises(InputDataError, match="empty"):
        read_bathymetry_source(tmp_path / "empty.nc")
    with pytest.raises(InputDataError, match="does not exist"):
        read_bathymetry_source(tmp_path / "missing.tif")


def test_geotiff_without_crs(tmp_path: Path) -> None:
    path = _write_tif(tmp_path / "nocrs.tif", np.full((10, 10), -50, "int16"), Affine(0.01, 0, 50, 0, -0.01, 42), None)
    with pytest.raises(InputDataError, match=r"nocrs.tif has no CRS.*crs: EPSG:4326"):
        read_bathymetry_source(path)
    r = read_bathymetry_source(path, crs="EPSG:4326")
    assert r.grid.crs.to_epsg() == 4326
    assert r.attrs["crs_origin"] == "argument"


def test_empty_layer_and_source_outside_the_area(tmp_path: Path) -> None:
    empty = _write_tif(
        tmp_path / "allnodata.tif", np.full((10, 10), -32768, "int16"), Affine(0.1, 0, 49, 0, -0.1, 43), "EPSG:4326",
        nodata=-32768,
    )  # fmt: skip
    with pytest.raises(InputDataError, match=r"allnodata\.tif holds no valid cell"):
        read_bathymetry_source(empty)
    far = _write_tif(
        tmp_path / "black_sea.tif", np.full((10, 10), -500, "int16"), Affine(0.1, 0, 30, 0, -0.1, 44), "EPSG:4326"
    )
    with pytest.raises(InputDataError, match=r"black_sea.tif .*does not cover the area of interest 49.5..50.5 E"):
        read_bathymetry_source(far, bounds_lonlat=AOI)
    # the mosaic names the source and the area when a source misses the grid, after checking every source
    grid = analysis_grid(AOI, UTM39, 5000.0)
    good = _lonlat_raster(lambda lo, la: -500 + 0 * lo)
    with pytest.raises(
        InputDataError, match=r"'black_sea'.*no valid cell on the analysis grid \(area of interest 49.5"
    ):
        build_depth(
            [_inp(good, "regional"), _inp(read_bathymetry_source(far), "black_sea")], grid, water_level_m=-28.0,
            aoi_bounds_lonlat=AOI,
        )  # fmt: skip


def test_load_inputs_reports_every_bad_source_at_once(tmp_path: Path, mirror: Path) -> None:
    nocrs = _write_tif(tmp_path / "nocrs.tif", np.zeros((4, 4), "int16"), Affine(0.5, 0, 49, 0, -0.5, 43), None)
    far = _write_tif(tmp_path / "far.tif", np.zeros((4, 4), "int16"), Affine(0.1, 0, 30, 0, -0.1, 44), "EPSG:4326")
    sources = [_cfg(source=str(nocrs)), _cfg(source=str(far)), _cfg(source="srtm30plus_caspian")]
    with pytest.raises(InputDataError, match=r"(?s)2 bathymetry sources failed.*nocrs.tif has no CRS.*far.tif"):
        load_bathymetry_inputs(sources, AOI, mirror=mirror)


def test_resolve_bathymetry_source(tmp_path: Path, mirror: Path) -> None:
    path, prov = resolve_bathymetry_source("srtm30plus_caspian", mirror=mirror)
    assert prov["vertical_reference_m"] == 0.0
    assert prov["positive"] == "up"
    assert len(prov["sha256"]) == 64
    assert path.name == "bathymetry_srtm30plus-webmerc-z6_1arcmin.tif"
    with pytest.raises(SourceUnavailable, match="srtm30plus_caspian"):
        resolve_bathymetry_source("srtm30plus_caspain", mirror=mirror)
    f = _write_tif(tmp_path / "mine.tif", np.zeros((4, 4), "int16"), Affine(0.1, 0, 49, 0, -0.1, 43), "EPSG:4326")
    path, prov = resolve_bathymetry_source("mine.tif", base_dir=tmp_path)
    assert path == f
    assert prov["origin"] == "path"
    assert len(prov["sha256"]) == 64


# -- analysis grid, datum, mosaic ------------------------------------------------------------------------------------


def test_analysis_grid_encloses_the_curved_box() -> None:
    grid = analysis_grid(AOI, UTM39, 1000.0)
    assert grid.res == (1000.0, 1000.0)
    assert grid.crs == CRS(UTM39)
    # points along the edges (the parallels bulge in UTM) are all inside
    lon = np.concatenate(
        [np.linspace(49.5, 50.5, 50), np.linspace(49.5, 50.5, 50), np.full(50, 49.5), np.full(50, 50.5)]
    )
    lat = np.concatenate(
        [np.full(50, 42.5), np.full(50, 41.5), np.linspace(41.5, 42.5, 50), np.linspace(41.5, 42.5, 50)]
    )
    x, y = grid.lonlat_to_xy(lon, lat)
    left, bottom, right, top = grid.bounds
    assert np.all((x >= left) & (x <= right) & (y >= bottom) & (y <= top))
    assert all(v % 1000.0 == 0 for v in grid.bounds)
    inside = aoi_mask(grid, AOI)
    assert 0.9 < inside.mean() < 1.0
    with pytest.raises(ConfigError, match="not projected"):
        analysis_grid(AOI, "EPSG:4326", 1000.0)
    with pytest.raises(ConfigError, match="US survey foot"):
        analysis_grid(AOI, "EPSG:2264", 1000.0)
    with pytest.raises(ConfigError, match="too large"):
        analysis_grid((40.0, 30.0, 60.0, 50.0), UTM39, 1.0)


def test_datum_conversion_with_vertical_reference() -> None:
    grid = analysis_grid(AOI, UTM39, 5000.0)
    elev = _lonlat_raster(lambda lo, la: -228.0 + 0 * lo)  # 228 m below ocean level
    # ocean-datum elevation (vref 0): depth = -28 - (-228) = 200
    d = build_depth([_inp(elev, vertical_reference_m=0.0)], grid, water_level_m=-28.0)
    assert np.nanmin(d.data) == pytest.approx(200.0)
    assert np.nanmax(d.data) == pytest.approx(200.0)
    assert d.attrs["sources"][0]["vertical_reference_origin"] == "scenario"
    # the same numbers as heights above a zero 28 m below ocean level (a survey reduced to the Caspian level)
    d = build_depth([_inp(elev, vertical_reference_m=-28.0)], grid, water_level_m=-28.0)
    assert np.nanmax(np.abs(d.data - 228.0)) < 1e-3
    # depths (positive down) below a zero at the Caspian level are depths below the Caspian surface as they are
    depths = _lonlat_raster(lambda lo, la: 150.0 + 0 * lo)
    d = build_depth([_inp(depths, positive="down", vertical_reference_m=-28.0)], grid, water_level_m=-28.0)
    assert np.nanmax(np.abs(d.data - 150.0)) < 1e-3
    # positive-down depths below ocean level: 150 m below MSL is 122 m below the Caspian surface
    d = build_depth([_inp(depths, positive="down")], grid, water_level_m=-28.0)
    assert np.nanmax(np.abs(d.data - 122.0)) < 1e-3
    rec = d.attrs["sources"][0]
    assert rec["positive"] == "down"
    assert rec["vertical_reference_m"] == 0.0
    assert rec["vertical_reference_origin"].startswith("default")
    assert d.attrs["water_level_m"] == -28.0
    assert d.attrs["units"] == "m"
    assert d.attrs["positive"] == "down"
    assert "-28 m in the Baltic height system" in d.attrs["datum"]
    assert d.attrs["source_checksums"] == {"src": "sha-src"}
    # the catalogue's vertical reference is used when the scenario gives none
    cat = BathymetryInput(elev, _cfg(source="srtm30plus_caspian"), {"name": "srtm"})
    d = build_depth([cat], grid, water_level_m=-28.0)
    assert d.attrs["sources"][0]["vertical_reference_origin"] == "catalogue"


def test_mosaic_priority_survey_over_regional() -> None:
    grid = analysis_grid(AOI, UTM39, 2000.0)
    regional = _lonlat_raster(lambda lo, la: -528.0 + 0 * lo)  # depth 500
    survey = _lonlat_raster(lambda lo, la: -328.0 + 0 * lo, bounds=(49.9, 41.9, 50.1, 42.1), res=0.002)  # depth 300
    survey.data[:10, :10] = np.nan  # a hole in the survey: the regional grid fills it
    sources = [(regional, _cfg(source="regional.nc", priority=0), {"name": "regional", "sha256": "a"}),
               (survey, _cfg(source="survey.tif", priority=1), {"name": "survey", "sha256": "b"})]  # fmt: skip
    mosaic = build_depth_mosaic(sources, grid, water_level_m=-28.0, aoi_bounds_lonlat=AOI)
    depth, index = mosaic.depth, mosaic.source_index
    x, y = grid.lonlat_to_xy([50.0, 49.7, 49.9015], [42.0, 41.7, 42.0985])
    centre, outside, hole = depth.sample(x, y, method="nearest")
    assert centre == pytest.approx(300.0)
    assert outside == pytest.approx(500.0)
    assert hole == pytest.approx(500.0)
    assert set(np.unique(index.data)) == {0, 1}
    assert index.attrs["legend"] == {"0": "regional", "1": "survey"}
    recs = {r["name"]: r for r in depth.attrs["sources"]}
    assert recs["survey"]["cells_supplied"] > 0
    assert recs["regional"]["cells_supplied"] > recs["survey"]["cells_supplied"]
    assert any("survey: covers" in w for w in depth.attrs["warnings"])
    # reversing the priorities hides the survey entirely, and says so
    flipped = [(regional, _cfg(priority=2), {"name": "regional"}), (survey, _cfg(priority=1), {"name": "survey"})]
    d2 = build_depth(flipped, grid, water_level_m=-28.0)
    assert np.nanmax(d2.data) == pytest.approx(500.0)
    assert np.nanmin(d2.data) == pytest.approx(500.0)
    assert any("survey: every cell" in w for w in d2.attrs["warnings"])
    # feathering: a transition instead of a 200 m step at the survey's edge
    blended = build_depth(sources, grid, water_level_m=-28.0, blend_cells=3).data
    inner = np.isclose(blended, 300.0)
    between = (blended > 300.5) & (blended < 499.5)
    assert inner.any()
    assert between.sum() > 0


def test_resampling_choices() -> None:
    grid = analysis_grid(AOI, UTM39, 5000.0)
    fine = _lonlat_raster(lambda lo, la: -300 + 0 * lo, res=0.005)
    d = build_depth([_inp(fine)], grid, water_level_m=-28.0, resampling="auto")
    assert d.attrs["sources"][0]["resampling"] == "average"
    d = build_depth([_inp(fine)], grid, water_level_m=-28.0, resampling="bilinear")
    assert any("finer than the grid" in w for w in d.attrs["warnings"])
    with pytest.raises(ConfigError, match="unknown resampling 'bicubic'"):
        build_depth([_inp(fine)], grid, water_level_m=-28.0, resampling="bicubic")


# -- slope and mask --------------------------------------------------------------------------------------------------


def test_slope_on_metric_plane() -> None:
    grid = GeoGrid.from_bounds((500_000, 4_600_000, 550_000, 4_650_000), 500.0, UTM39)
    ys, xs = grid.coords()
    xx, yy = np.meshgrid(xs, ys)
    plane = Raster((0.01 * (xx - 500_000)).astype("float32"), grid, float("nan"))  # 1 in 100
    s = slope_deg(plane)
    assert np.allclose(s.data, math.degrees(math.atan(0.01)), atol=1e-4)  # 0.573 deg
    diagonal = Raster((0.01 * xx + 0.01 * yy - 0.01 * (500_000 + 4_600_000)).astype("float64"), grid, None)
    assert np.allclose(slope_deg(diagonal).data, math.degrees(math.atan(0.01 * math.sqrt(2))), atol=1e-4)
    assert s.attrs["units"] == "degree"


def test_slope_on_geographic_grid_uses_metres() -> None:
    geod = Geod(ellps="WGS84")
    grid = GeoGrid.from_bounds((49.0, 41.0, 50.0, 42.0), 1 / 120, "EPSG:4326")
    lat, lon = grid.coords()
    lon2, lat2 = np.meshgrid(lon, lat)
    # 1 in 100 northwards: depth proportional to the geodesic distance along the meridian
    _, _, north_m = geod.inv(lon2, np.full_like(lat2, 41.0), lon2, lat2)
    s = slope_deg(Raster(0.01 * north_m, grid, None))
    assert np.allclose(s.data, 0.5729, atol=0.002)
    # 1 in 100 eastwards: distance along each parallel (N cos(lat) per radian)
    _, mlon = metres_per_degree(lat2)
    s = slope_deg(Raster(0.01 * (lon2 - 49.0) * mlon, grid, None))
    assert np.allclose(s.data, 0.5729, atol=0.002)
    # degrees of latitude per degree would have given ~45 deg: make sure that is not what happens
    assert np.nanmax(s.data) < 1.0
    # nodata holes propagate to neighbours only
    z = 0.01 * north_m
    z[50, 50] = np.nan
    s = slope_deg(Raster(z, grid, None))
    assert np.isnan(s.data[50, 50])
    assert np.isnan(s.data[50, 51])
    assert not np.isnan(s.data[50, 53])


def _bowl(grid: GeoGrid) -> Raster:
    """Depth 100 m in the middle, rising to -20 m (land) towards the west; a noisy shelf of -1 m at x cols 10-11."""
    cols = np.arange(grid.shape[1])
    profile = np.where(cols < 10, -20.0, 100.0).astype("float32")
    data = np.tile(profile, (grid.shape[0], 1))
    data[:, 10:12] = -1.0  # the coastline says sea, the grid says just above water
    return Raster(data, grid, float("nan"), {"water_level_m": -28.0})


def test_land_sea_mask_coastline_wins_and_reports_disagreement() -> None:
    grid = GeoGrid.from_bounds((500_000, 4_600_000, 530_000, 4_620_000), 1000.0, UTM39)
    depth = _bowl(grid)
    # land polygon: the 10 western columns, given in lon/lat to exercise the reprojection
    w, s, _, n = grid.bounds
    land_utm = box(w - 5000, s - 5000, w + 10_000, n + 5000)
    land = gpd.GeoDataFrame(geometry=[land_utm], crs=UTM39).to_crs("EPSG:4326")
    mask = land_sea_mask(depth, land)
    assert mask.data.dtype == np.uint8
    assert mask.data[:, :10].max() == 0
    assert mask.data[:, 10:].min() == 1
    # the -1 m shelf columns are sea by the coastline: 2 of 30 columns disagree with the depth sign
    assert mask.attrs["sea_not_below_water_cells"] == 2 * grid.shape[0]
    assert mask.attrs["depth_sign_disagreement_fraction"] == pytest.approx(2 / 30, abs=1e-6)
    assert "coastline layer wins" in mask.attrs["method"]
    cleaned = sea_depth(depth, mask)
    assert np.all(np.isnan(cleaned.data[:, :10]))
    assert np.all(cleaned.data[:, 10:12] == 0.0)
    assert cleaned.attrs["clipped_sea_cells"] == 2 * grid.shape[0]
    # without a coastline, the depth sign decides
    by_sign = land_sea_mask(depth, None)
    assert by_sign.data[:, :12].max() == 0
    assert by_sign.data[:, 12:].min() == 1
    # bad coastline layers
    with pytest.raises(InputDataError, match="empty"):
        land_sea_mask(depth, land.iloc[0:0])
    with pytest.raises(InputDataError, match="land polygons, not coast lines"):
        land_sea_mask(depth, gpd.GeoDataFrame(geometry=[LineString([(49, 41), (50, 42)])], crs="EPSG:4326"))
    with pytest.raises(InputDataError, match="no CRS"):
        land_sea_mask(depth, gpd.GeoDataFrame(geometry=[land_utm]))


# -- checks ----------------------------------------------------------------------------------------------------------


def test_check_coverage_stations() -> None:
    grid = GeoGrid.from_bounds((500_000, 4_600_000, 560_000, 4_640_000), 1000.0, UTM39)
    depth = _bowl(grid)
    depth.data[30:, 40:] = np.nan  # a hole in the data
    sea = land_sea_mask(depth, None)
    to_ll = Transformer.from_crs(UTM39, "EPSG:4326", always_xy=True)
    coast = to_ll.transform(508_500, 4_620_500)  # column 8, land; the first sea column by depth sign is 12
    inland = to_ll.transform(500_500, 4_620_500)  # 12 km from the sea
    on_hole = to_ll.transform(550_500, 4_605_500)
    outside = to_ll.transform(600_000, 4_620_000)
    ok = check_coverage(depth, None, [("A", *coast), ("B", *to_ll.transform(530_500, 4_610_500))], sea_mask=sea)
    assert not ok.passed  # the hole makes the coverage fall short
    assert ok.metadata["aoi_valid_fraction"] < 0.99
    res = check_coverage(depth, None, [("A", *coast)], sea_mask=sea, min_aoi_fraction=0.5)
    assert res.passed, res.description
    station = res.metadata["stations"][0]
    assert station["on_sea_cell"] is False
    assert station["distance_to_sea_m"] == pytest.approx(4000.0)
    far = check_coverage(
        depth, None, [("Inland", *inland)], sea_mask=sea, min_aoi_fraction=0.5, max_station_to_sea_m=5000
    )
    assert not far.passed
    assert "'Inland'" in far.description
    assert "km from the nearest sea cell" in far.description
    # stations as (lon, lat, name) tuples and the grid itself as the area work too
    bad = check_coverage(depth, grid, [(*on_hole, "Hole"), (*outside, "Away")], sea_mask=sea, min_aoi_fraction=0.5)
    assert not bad.passed
    assert bad.blocking  # geodata.checks.CheckResult: blocking is what severity ERROR was
    assert "'Hole'" in bad.description
    assert "nodata" in bad.description
    assert "'Away'" in bad.description
    assert "outside the depth grid" in bad.description


def test_check_nodata_crs_and_depth_range() -> None:
    grid = GeoGrid.from_bounds((500_000, 4_600_000, 530_000, 4_620_000), 1000.0, UTM39)
    depth = _bowl(grid)
    sea = land_sea_mask(depth, None)
    assert check_nodata_share(depth, 0.05, sea_mask=sea).passed
    holed = Raster(depth.data.copy(), grid, float("nan"), depth.attrs)
    holed.data[:5, 15:] = np.nan
    res = check_nodata_share(holed, 0.05, sea_mask=sea)
    assert not res.passed
    assert res.metadata["nodata_fraction"] == pytest.approx(5 * 15 / 600)
    # CRS: a geographic raster, or one in another CRS than the analysis, fails
    assert not check_crs(_lonlat_raster(lambda lo, la: lo)).passed
    assert not check_crs(depth, "EPSG:32638").passed
    assert check_crs(depth, UTM39).passed
    # depth range: plausible passes; the sign reversed (positive up/down confused) fails with a hint
    ok = check_depth_range(depth, sea, (-50.0, 1100.0))
    assert ok.passed
    assert ok.metadata["depth_max_m"] == 100.0
    reversed_ = Raster(-depth.data, grid, float("nan"), depth.attrs)
    bad = check_depth_range(reversed_, sea, (-50.0, 1100.0))
    assert not bad.passed
    assert "positive" in bad.description
    feet = Raster(depth.data * 40, grid, float("nan"), depth.attrs)
    bad = check_depth_range(feet, sea, (-50.0, 1100.0))
    assert not bad.passed
    assert "units" in bad.description
    # one outlying cell in a large sea is reported, not blocking
    spike = Raster(depth.data.copy(), grid, float("nan"), depth.attrs)
    spike.data[0, 20] = 5000.0
    res = check_depth_range(spike, sea, (-50.0, 1100.0), max_outlier_fraction=0.01)
    assert res.passed
    assert res.metadata["cells_deeper_than_max"] == 1
    assert len(res.metadata["outliers_lonlat"]) == 1
    meta = summary_metadata(depth, sea)
    assert meta["cell_count"] == 600
    assert meta["resolution_m"] == [1000.0, 1000.0]
    assert meta["depth_sea_max_m"] == 100.0
    assert meta["depth_sea_median_m"] == 100.0


def test_depth_range_tells_a_shallow_shelf_from_a_datum_error() -> None:
    """Synthetic: a third of the sea is a shelf that a coarse grid reads up to 4 m above the water surface (the northern
    Caspian on the mirror: 24-46 % of the sea cells of a northern area, which failed the check). That is no datum
    error and passes; the same sea lifted 28 m (a datum applied twice) fails."""
    grid = GeoGrid.from_bounds((500_000, 4_600_000, 530_000, 4_620_000), 1000.0, UTM39)
    data = np.full(grid.shape, 60.0, dtype="float32")
    data[:, :10] = np.linspace(-4.0, 1.0, 10)[None, :]  # the shelf: 4 m above to 1 m below the surface
    depth = Raster(data, grid, float("nan"), {"water_level_m": -28.0})
    sea = Raster(np.ones(grid.shape, "uint8"), grid)
    shelf = check_depth_range(depth, sea, (-50.0, 1100.0))
    assert shelf.passed, shelf.description
    assert shelf.metadata["sea_at_or_above_water_fraction"] > 0.25
    assert shelf.metadata["sea_above_water_beyond_tolerance_fraction"] == 0.0
    lifted = Raster(data - 28.0, grid, float("nan"), depth.attrs)
    bad = check_depth_range(lifted, sea, (-50.0, 1100.0))
    assert not bad.passed
    assert "above the water surface" in bad.description


def test_coverage_is_measured_over_the_lonlat_area_not_the_projected_box() -> None:
    """Synthetic: a lon/lat source covering exactly the area of interest, read onto the UTM grid enclosing it. The
    grid's corners outside the lon/lat box hold no data (on the mirror, 96-98 % of a box clipped to the data
    extent, which failed); measured over the area of interest, as the sea_mask asset does, coverage is complete."""
    aoi = (50.0, 40.0, 51.0, 41.0)
    grid = analysis_grid(aoi, UTM39, 2000.0)
    lon, lat = grid.xy_to_lonlat(*np.meshgrid(grid.coords()[1], grid.coords()[0]))
    inside = (lon >= aoi[0]) & (lon <= aoi[2]) & (lat >= aoi[1]) & (lat <= aoi[3])
    depth = Raster(np.where(inside, 100.0, np.nan).astype("float32"), grid, float("nan"), {})
    sea = Raster(np.ones(grid.shape, "uint8"), grid)
    stations = [("A", 50.5, 40.5)]
    assert not check_coverage(depth, grid, stations, sea_mask=sea).passed
    ok = check_coverage(depth, aoi, stations, sea_mask=sea)
    assert ok.passed, ok.description
    assert ok.metadata["aoi_valid_fraction"] == 1.0


# -- the real mirror -------------------------------------------------------------------------------------------------


# Regression values below were measured on the mirror's bathymetry_srtm30plus-webmerc-z6_1arcmin.tif and
# coast_gshhg_f_2.3.6.gpkg at commit ed07429 (2026-12-02); the bounds leave room for resampling changes, not for a
# different datum, sign or source.
@pytest.mark.integration
def test_siyazan_aktau_on_the_mirror(mirror: Path) -> None:
    scenario = load_scenario("siyazan-aktau")
    aoi = scenario.area_of_interest.bounds
    assert aoi == (48.0, 39.8, 53.0, 45.0)  # geodata/data/scenarios/siyazan-aktau.yaml
    assert scenario.analysis_crs() == UTM39
    grid = analysis_grid(aoi, UTM39, scenario.analysis.resolution_m)
    inputs = load_bathymetry_inputs(scenario.bathymetry.sources, grid, mirror=mirror)
    depth = build_depth(
        inputs, grid, water_level_m=-28.0, resampling=scenario.analysis.resampling, aoi_bounds_lonlat=aoi
    )
    land = gpd.read_file(mirror / "coast_gshhg_f_2.3.6.gpkg", layer="land_with_lakes_removed")
    sea = land_sea_mask(depth, land)
    slope = slope_deg(depth)
    assert grid.shape == (583, 429)  # 1 km cells enclosing the AOI in UTM 39N (measured)
    # the catalogue's checksum of the mirror file (geodata/data/sources.yaml, srtm30plus_caspian)
    assert depth.attrs["sources"][0]["sha256"] == "36215cd6f7257ffd4cb875d5f0baae3a8a798c0709d8fed0a885a18a7bcd20c4"
    meta = summary_metadata(depth, sea, aoi)
    # the AOI reaches the Derbent basin of the middle Caspian (charted ~788 m; measured 784.9 m) but not the South
    # Caspian deep
    assert 700 < meta["depth_sea_max_m"] < 850
    assert meta["nodata_fraction"] == 0.0
    assert 0.6 < meta["sea_fraction"] < 0.75  # measured 0.687
    assert sea.attrs["depth_sign_disagreement_fraction"] < 0.06  # measured 0.038 (SOURCES.md: the shallow north)
    for check in (
        check_crs(depth, UTM39),
        check_coverage(depth, aoi, scenario.landing_stations, sea_mask=sea),
        check_nodata_share(depth, scenario.bathymetry.max_nodata_fraction, aoi_bounds_lonlat=aoi, sea_mask=sea),
        check_depth_range(depth, sea, scenario.bathymetry.min_depth_range_m),
    ):
        assert check.passed, check.description
    stations = check_coverage(depth, aoi, scenario.landing_stations, sea_mask=sea).metadata["stations"]
    assert all(s["distance_to_sea_m"] < 8000 for s in stations)  # measured 6.1 km (Siyazan) and 2.8 km (Aktau)
    assert np.nanpercentile(slope.data[sea.data == 1], 99) < 5.0  # measured 1.87 degrees
    # the whole mirror box reaches the South Caspian deep: ~975 m below the Caspian surface (-1003 m ocean datum);
    # measured 966.8 m on the 5 km grid
    full = (46.6, 36.6, 55.4, 47.4)
    grid_all = analysis_grid(full, UTM39, 5000.0)
    deep = build_depth(load_bathymetry_inputs(scenario.bathymetry.sources, grid_all, mirror=mirror), grid_all,
                       water_level_m=-28.0, resampling="average")  # fmt: skip
    deep_sea = land_sea_mask(deep, land)
    assert 900 < summary_metadata(deep, deep_sea)["depth_sea_max_m"] < 1000


def test_check_coverage_over_sea_cells_only() -> None:
    """A source that stops at the shore fails the whole-area coverage but passes over the sea cells; a hole at sea
    fails both."""
    grid = GeoGrid.from_bounds((500_000, 4_600_000, 560_000, 4_640_000), 1000.0, UTM39)
    depth = _bowl(grid)
    coast_sea = np.zeros(grid.shape, dtype=np.uint8)
    coast_sea[:, 12:] = 1  # the coastline's sea: columns 12 onwards
    sea = Raster(coast_sea, grid)
    to_ll = Transformer.from_crs(UTM39, "EPSG:4326", always_xy=True)
    station = ("A", *to_ll.transform(530_500, 4_610_500))
    depth.data[:, :10] = np.nan  # no data on land (a third of the area's land and all of it beyond the coast)
    whole = check_coverage(depth, None, [station], sea_mask=sea)
    assert not whole.passed
    over_sea = check_coverage(depth, None, [station], sea_mask=sea, sea_only=True)
    assert over_sea.passed, over_sea.description
    assert over_sea.metadata["aoi_cells"] == int(coast_sea.sum())
    assert "sea cells" in over_sea.description
    depth.data[20:25, 30:35] = np.nan  # a hole at sea: 25 of 1920 sea cells = 1.3 %
    holed = check_coverage(depth, None, [station], sea_mask=sea, sea_only=True)
    assert not holed.passed
    assert "of the sea cells of the area of interest holds depth data" in holed.description
