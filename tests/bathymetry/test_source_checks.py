"""Every bathymetry source judged on its own against the sea mask, and the project's one CheckResult shape.

All rasters here are SYNTHETIC: a 20 x 20 km UTM grid, land in the west half, sea in the east half.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from geodata import checks
from geodata.bathymetry import (
    BathymetryInput,
    InvertedDepthSource,
    build_depth_mosaic,
    check_crs,
    check_source_signs,
    source_index_of,
    validate_source_signs,
)
from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster

UTM39 = CRS.from_epsg(32639)
GRID = GeoGrid(UTM39, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_620_000.0), (20, 20))


def _sea_mask() -> Raster:
    """SYNTHETIC: columns 10..19 are sea (1), the rest land (0)."""
    data = np.zeros(GRID.shape, dtype="uint8")
    data[:, 10:] = 1
    return Raster(data, GRID, 255, {})


def _regional() -> BathymetryInput:
    """SYNTHETIC regional grid on the ocean datum, positive up: land +50 m, sea -128 m (100 m below the Caspian)."""
    elev = np.where(_sea_mask().data == 1, -128.0, 50.0).astype("float32")
    cfg = SimpleNamespace(source="synthetic_regional", priority=0, vertical_reference_m=0.0, positive="up")
    return BathymetryInput(Raster(elev, GRID, float("nan"), {}), cfg, {"name": "synthetic_regional"})


def _survey(positive: str | None) -> BathymetryInput:
    """SYNTHETIC survey patch at sea (rows 5..9, columns 12..17): depths of 40 m below the Caspian level,
    positive down, reduced to the treaty level (vertical_reference_m -28)."""
    data = np.full(GRID.shape, np.nan, dtype="float32")
    data[5:10, 12:18] = 40.0
    cfg = SimpleNamespace(source="synthetic_survey", priority=10, vertical_reference_m=-28.0, positive=positive)
    return BathymetryInput(Raster(data, GRID, float("nan"), {}), cfg, {"name": "synthetic_survey"})


def _mosaic(positive: str | None) -> Raster:
    return build_depth_mosaic([_regional(), _survey(positive)], GRID, water_level_m=-28.0).depth


def test_inverted_survey_patch_is_caught_and_named() -> None:
    depth = _mosaic(None)  # positive not declared: read as elevations, the patch comes out 40 m ABOVE the water
    result = check_source_signs(depth, _sea_mask())
    assert isinstance(result, checks.CheckResult)
    assert not result.passed
    assert result.blocking
    assert "'synthetic_survey' looks inverted" in result.description
    assert "100.0 %" in result.description
    assert "declare positive: down for source synthetic_survey in the scenario" in result.description.lower()
    assert "synthetic_regional" not in result.description
    with pytest.raises(InvertedDepthSource, match="synthetic_survey") as info:
        validate_source_signs(depth, _sea_mask())
    assert isinstance(info.value, InputDataError)


def test_correct_survey_patch_passes() -> None:
    depth = _mosaic("down")
    result = check_source_signs(depth, _sea_mask())
    assert result.passed
    stats = {s["name"]: s for s in result.metadata["sources"]}
    assert stats["synthetic_survey"]["cells"] == 30
    assert stats["synthetic_survey"]["disagreement_fraction"] == 0.0
    assert stats["synthetic_regional"]["disagreement_fraction"] == 0.0
    assert [s["name"] for s in validate_source_signs(depth, _sea_mask())] == ["synthetic_regional", "synthetic_survey"]


def test_depth_range_over_all_sources_alone_misses_the_inverted_patch() -> None:
    """The reason for the per-source check: 30 inverted cells of 200 sea cells hide in the pooled statistics."""
    from geodata.bathymetry import check_depth_range

    assert check_depth_range(_mosaic(None), _sea_mask(), (-50.0, 1100.0)).passed


def test_source_index_travels_with_the_depth_raster(tmp_path) -> None:
    depth = build_depth_mosaic([_regional(), _survey("down")], GRID, water_level_m=-28.0)
    back = Raster.read(depth.depth.write(tmp_path / "depth.tif"))
    assert np.array_equal(source_index_of(back), depth.source_index.data)


def test_bathymetry_checks_return_the_project_check_result() -> None:
    result = check_crs(_mosaic("down"), UTM39)
    assert type(result) is checks.CheckResult
    assert result.passed
    assert result.blocking
    assert result.name == "crs_present"
