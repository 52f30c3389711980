"""The synthetic survey generator (seeded, labelled synthetic, any CRS) and the nested survey depth (warp, feathered
seam, survey wins where it exists)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.transform
from shapely.geometry import LineString

from geodata.bathymetry.nested import blend_depth, feather_weight, nested_depth, open_survey
from geodata.bathymetry.synthetic import fractal_field, is_synthetic, write_synthetic_survey
from geodata.errors import ConfigError, InputDataError
from geodata.grid import GeoGrid, Raster
from geodata.scenario import SurveySource

CRS = "EPSG:32639"
LEVEL = -28.0


@pytest.fixture
def regional() -> Raster:
    """A 1 km regional depth ramp (50 m at the west edge, 2 m deeper per km eastwards)."""
    grid = GeoGrid.from_bounds((400_000, 4_500_000, 450_000, 4_550_000), 1000, CRS)
    _, cols = np.mgrid[0:50, 0:50]
    return Raster((50.0 + 2.0 * cols).astype("float32"), grid, float("nan"))


LINE = LineString([(405_000, 4_505_000), (445_000, 4_545_000)])


def _survey(path: Path, regional: Raster, **kw: object) -> object:
    args: dict = {"width_m": 4000.0, "resolution_m": 50.0, "seed": 7, "water_level_m": LEVEL}
    args.update(kw)
    return write_synthetic_survey(path, regional, LINE, **args)


def _values(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def test_the_generator_is_seeded(tmp_path: Path, regional: Raster) -> None:
    _survey(tmp_path / "synthetic_a.tif", regional, seed=7)
    _survey(tmp_path / "synthetic_b.tif", regional, seed=7)
    _survey(tmp_path / "synthetic_c.tif", regional, seed=8)
    a, b, c = (_values(tmp_path / f"synthetic_{k}.tif") for k in "abc")
    assert np.array_equal(a, b)
    ok = a != -9999
    assert ok.any()
    assert not np.array_equal(a[ok], c[ok])


def test_the_survey_is_labelled_synthetic_in_name_and_tags(tmp_path: Path, regional: Raster) -> None:
    with pytest.raises(ConfigError, match="lacks the word 'synthetic'"):
        _survey(tmp_path / "survey.tif", regional)
    s = _survey(tmp_path / "synthetic_survey.tif", regional)
    with rasterio.open(s.path) as src:  # type: ignore[attr-defined]
        tags = src.tags()
    assert tags["SYNTHETIC"] == "true"
    assert "SYNTHETIC" in tags["TIFFTAG_IMAGEDESCRIPTION"]
    attrs = json.loads(tags["corridor_attrs"])
    assert attrs["synthetic"] is True
    assert attrs["seed"] == 7
    assert attrs["generator"].endswith("write_synthetic_survey")
    renamed = tmp_path / "grid.tif"  # the tag alone still marks it
    renamed.write_bytes(Path(s.path).read_bytes())  # type: ignore[attr-defined]
    assert is_synthetic(renamed)


def test_fractal_field_is_zero_mean_unit_rms_and_red(tmp_path: Path) -> None:
    f = fractal_field(256, hurst=0.8, seed=1).astype("float64")
    assert abs(f.mean()) < 1e-6
    assert abs(f.std() - 1.0) < 1e-5
    p = np.abs(np.fft.fft2(f)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256)))
    low, high = p[(k > 0) & (k < 0.05)].mean(), p[k > 0.3].mean()
    assert low > 100 * high  # a k^-(2H+2) spectrum: long wavelengths dominate


@pytest.mark.parametrize("crs", ["EPSG:4326", CRS, "EPSG:32638"])
def test_survey_reads_back_as_regional_plus_detail_in_any_crs(tmp_path: Path, regional: Raster, crs: str) -> None:
    """Written in ``crs`` with a -28 m vertical reference and read back onto the analysis grid, the survey is the
    regional surface plus the detail (about amplitude_m rms), and only inside the corridor."""
    path = tmp_path / "synthetic_survey.tif"
    s = _survey(path, regional, crs=crs, vertical_reference_m=-28.0, amplitude_m=1.5)
    assert s.grid.crs.to_string() == crs  # type: ignore[attr-defined]
    survey = open_survey(SurveySource(path=str(path), vertical_reference_m=-28.0), path)
    assert survey.synthetic
    assert abs(survey.resolution_m - 50.0) < 1.0
    fine = GeoGrid.from_bounds((415_000, 4_515_000, 435_000, 4_535_000), 50.0, CRS)
    b = blend_depth(fine, regional, [survey], water_level_m=LEVEL, feather_m=0.0)
    ys, xs = fine.coords()
    X, Y = np.meshgrid(xs, ys)
    reg = regional.sample(X.ravel(), Y.ravel()).reshape(fine.shape)
    on = b.weight == 1.0
    detail = (b.depth - reg)[on]
    assert on.mean() > 0.2  # the corridor crosses the window
    assert 0.2 < detail.std()
    assert np.abs(detail).max() < 10 * 1.5
    d = np.abs((Y - 4_505_000) - (X - 405_000)) / np.sqrt(2)  # distance to the route line (a 45-degree diagonal)
    assert d[on].max() <= 2000.0 + 100.0  # nothing outside the 4 km corridor
    assert np.allclose(b.depth[~on], reg[~on], atol=1e-3)  # regional elsewhere


def test_survey_on_its_own_grid_is_regional_plus_the_seeded_field(tmp_path: Path, regional: Raster) -> None:
    path = tmp_path / "synthetic_own.tif"
    s = _survey(path, regional, amplitude_m=2.0, period_cells=256, positive="down", vertical_reference_m=0.0)
    grid = s.grid  # type: ignore[attr-defined]
    values = _values(path).astype("float64")
    ok = values != -9999
    depth = values + LEVEL  # positive down from ocean MSL: depth below the Caspian surface = value + level
    ys, xs = grid.coords()
    X, Y = np.meshgrid(xs, ys)
    reg = regional.sample(X.ravel(), Y.ravel()).reshape(grid.shape)
    field = np.tile(fractal_field(256, seed=7), (grid.shape[0] // 256 + 1, grid.shape[1] // 256 + 1))
    field = field[: grid.shape[0], : grid.shape[1]] * 2.0
    assert np.allclose((depth - reg)[ok], field[ok], atol=1e-3)


def test_feather_weight_is_a_ramp_over_feather_m() -> None:
    valid = np.zeros((5, 40), bool)
    valid[:, 10:] = True
    w = feather_weight(valid, (10.0, 10.0), 100.0)
    assert np.allclose(w[2, 10:20], np.arange(1, 11) / 10.0)
    assert (w[:, 20:] == 1.0).all()
    assert (w[:, :10] == 0.0).all()
    assert (feather_weight(valid, (10.0, 10.0), 0.0) == valid).all()


def test_blend_survey_wins_beyond_the_seam_and_the_seam_is_reported(tmp_path: Path, regional: Raster) -> None:
    """A survey 3 m deeper than the regional surface: inside, beyond feather_m from its edge, the depth is the
    survey's; outside the regional; in the seam between; the seam's width and largest difference are reported."""
    grid = GeoGrid.from_bounds((420_000, 4_520_000, 425_000, 4_525_000), 50.0, CRS)
    ys, xs = grid.coords()
    X, Y = np.meshgrid(xs, ys)
    reg = regional.sample(X.ravel(), Y.ravel()).reshape(grid.shape)
    heights = (LEVEL - (reg + 3.0) + 28.0).astype("float32")  # vertical reference -28: depth = level - (h - 28)
    heights[:, : grid.shape[1] // 2] = -9999.0  # survey on the eastern half only
    path = tmp_path / "east.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=grid.shape[0], width=grid.shape[1], count=1, dtype="float32",
        crs=CRS, transform=grid.transform, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(heights, 1)
    survey = open_survey(SurveySource(path=str(path), vertical_reference_m=-28.0), path)
    b = blend_depth(grid, regional, [survey], water_level_m=LEVEL, feather_m=500.0)
    half = grid.shape[1] // 2
    assert np.allclose(b.depth[:, :half], reg[:, :half], atol=1e-3)
    assert np.allclose(b.depth[:, half + 12 :], reg[:, half + 12 :] + 3.0, atol=1e-3)  # beyond 500 m: the survey
    seam = b.depth[:, half + 1 : half + 9] - reg[:, half + 1 : half + 9]
    assert ((seam > 0.0) & (seam < 3.0)).all()
    s = b.seam.summary()
    assert s["seam_width_m"] == 500.0
    assert s["seam_cells"] > 0
    assert abs(s["seam_max_depth_difference_m"] - 3.0) < 0.05
    sampled = nested_depth(regional, [survey], water_level_m=LEVEL, feather_m=500.0, resolution_m=50.0)
    x_in, x_out = 424_500.0, 420_500.0
    got = sampled.sample([x_in, x_out], [4_522_500.0, 4_522_500.0])
    want = regional.sample([x_in, x_out], [4_522_500.0, 4_522_500.0])
    assert abs(got[0] - (want[0] + 3.0)) < 0.05
    assert abs(got[1] - want[1]) < 1e-3


def test_a_survey_without_crs_needs_the_sources_crs_and_then_takes_it(tmp_path: Path) -> None:
    """Option `survey.sources[].crs`: a file that carries no CRS is refused by name until the scenario gives one,
    which is then the survey's grid CRS (synthetic 20 x 30 cells of 50 m)."""
    path = tmp_path / "synthetic_no_crs.tif"
    profile = {"driver": "GTiff", "height": 20, "width": 30, "count": 1, "dtype": "float32"}
    transform = rasterio.transform.from_origin(410_000, 4_540_000, 50.0, 50.0)
    with rasterio.open(path, "w", transform=transform, **profile) as dst:
        dst.write(np.full((20, 30), -40.0, dtype="float32"), 1)
    bare = SurveySource(path=str(path), vertical_reference_m=-28.0)
    with pytest.raises(InputDataError, match=r"has no CRS; set `crs` of this survey source"):
        open_survey(bare, path)
    given = open_survey(SurveySource(path=str(path), vertical_reference_m=-28.0, crs=CRS), path)
    assert given.grid.crs.to_epsg() == 32639
    assert given.grid.shape == (20, 30)
    assert given.resolution_m == pytest.approx(50.0)
