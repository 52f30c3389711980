"""Geometry repairs of a user inventory reach the pipeline as a report (and a counted warning check), not stderr."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Polygon

from assets.hazards import geometry_repairs_check
from geodata.hazards import read_user_inventory


def _bow_tie_inventory(tmp_path: Path) -> Path:
    """A synthetic platform-exclusion polygon that crosses itself (a bow tie): invalid, repairable."""
    path = tmp_path / "synthetic_zones.geojson"
    bow = Polygon([(50.0, 41.0), (50.2, 41.2), (50.2, 41.0), (50.0, 41.2), (50.0, 41.0)])
    gpd.GeoDataFrame({"kind": ["platform"], "name": ["Z1"]}, geometry=[bow], crs=4326).to_file(path)
    return path


def test_repairs_are_reported_not_printed(tmp_path: Path) -> None:
    path = _bow_tie_inventory(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a UserWarning would fail the test
        table, report = read_user_inventory(path, licence="CC0", attribution="synthetic")
    assert len(table) == 1
    assert table.geometry.iloc[0].is_valid
    assert len(report["repaired"]) == 1
    assert "hazard_report" not in table.attrs


def test_repair_check_counts_per_source(tmp_path: Path) -> None:
    _, report = read_user_inventory(_bow_tie_inventory(tmp_path))
    check = geometry_repairs_check({"mirror": {"repaired": [], "dropped": []}, "inputs[0] zones": report})
    assert check.passed is False
    assert "inputs[0] zones: 1 repaired, 0 dropped" in (check.description or "")
    clean = geometry_repairs_check({"mirror": {"repaired": [], "dropped": []}})
    assert clean.passed is True
