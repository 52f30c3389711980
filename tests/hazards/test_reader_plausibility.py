"""Hazard inventories whose coordinates are valid numbers but land far from the Caspian without any error: degrees
under a metric CRS, and swapped lon/lat columns. Every file here is SYNTHETIC."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geodata.errors import InputDataError
from geodata.hazards import load_user_inventory
from geodata.hazards.readers import CASPIAN_REGION_LONLAT


def _gpkg(path: Path, geoms: list[shapely.Geometry], crs: int | str) -> Path:
    gpd.GeoDataFrame({"kind": ["well"] * len(geoms)}, geometry=geoms, crs=crs).to_file(path)
    return path


def test_degrees_under_utm_are_refused_with_the_assign_fix(tmp_path: Path) -> None:
    path = _gpkg(tmp_path / "wells.gpkg", [shapely.Point(50.5, 41.5), shapely.Point(50.7, 41.6)], 32639)
    with pytest.raises(InputDataError, match=r"EPSG:32639.*lon/lat degrees.*ogr2ogr -a_srs EPSG:4326") as info:
        load_user_inventory(path)
    assert str(path) in str(info.value)


def test_real_utm_metres_are_reprojected(tmp_path: Path) -> None:
    lonlat = gpd.GeoSeries([shapely.Point(50.5, 41.5)], crs=4326)
    path = _gpkg(tmp_path / "wells.gpkg", list(lonlat.to_crs(32639)), 32639)
    with pytest.warns(UserWarning, match="reprojected from EPSG:32639"):
        table = load_user_inventory(path)
    assert table.geometry.iloc[0].distance(shapely.Point(50.5, 41.5)) < 1e-6


def test_small_metric_values_in_the_region_are_not_mistaken_for_degrees(tmp_path: Path) -> None:
    """A local metric CRS whose origin is in the Caspian: values under 180 m are legitimate and reproject there."""
    local = "+proj=tmerc +lat_0=41.5 +lon_0=50.5 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    path = _gpkg(tmp_path / "wells.gpkg", [shapely.Point(50.0, 41.0)], local)
    with pytest.warns(UserWarning, match="reprojected"):
        table = load_user_inventory(path)
    assert table.geometry.iloc[0].distance(shapely.Point(50.5, 41.5)) < 0.01


def test_swapped_csv_columns_name_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "hz.csv"
    path.write_text("name,kind,lon,lat\nW-1,well,41.5,50.5\nW-2,well,41.6,50.4\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"row 1 \(line 2\), row 2 \(line 3\).*swap them") as info:
        load_user_inventory(path)
    assert str(path) in str(info.value)


def test_csv_with_rows_in_the_region_is_taken_as_written(tmp_path: Path) -> None:
    """One point in the region means the columns are the right way round; a far point is kept (clipped later)."""
    path = tmp_path / "hz.csv"
    path.write_text("name,kind,lon,lat\nW-1,well,50.5,41.5\nW-2,well,41.6,50.4\n", encoding="utf-8")
    table = load_user_inventory(path)
    assert len(table) == 2


def test_csv_far_from_the_caspian_and_not_swapped_is_accepted(tmp_path: Path) -> None:
    """Points that are outside the region either way round are not guessed at (the area clip reports them)."""
    path = tmp_path / "hz.csv"
    path.write_text("name,kind,lon,lat\nW-1,well,10.0,60.0\n", encoding="utf-8")
    assert len(load_user_inventory(path)) == 1
    west, south, east, north = CASPIAN_REGION_LONLAT
    for lon, lat in ((49.1125, 41.0783), (51.15, 43.65)):  # Siyazan, Aktau
        assert west < lon < east
        assert south < lat < north


def test_unknown_kind_and_layer_name_the_fix(tmp_path: Path) -> None:
    path = _gpkg(tmp_path / "hz.gpkg", [shapely.Point(50.5, 41.5)], 4326)
    with pytest.raises(InputDataError, match=r"'wel' is not a hazard kind.*set hazards\.inputs\[\]\.kind"):
        load_user_inventory(path, kind="wel")
    with pytest.raises(InputDataError, match=r"no layer 'hz2'.*set `layer:`"):
        load_user_inventory(path, layer="hz2")
