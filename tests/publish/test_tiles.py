"""Tile archives: one multi-layer vector archive, raster archives of rendered surfaces, zooms suited to the data."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from PIL import Image
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import TileType
from shapely.geometry import LineString, Point

from geodata.errors import InputDataError
from geodata.publish import tiles
from geodata.publish.gpkg import prepare_layers


def _header(path: Path) -> dict:
    with open(path, "rb") as fh:
        return Reader(MmapSource(fh)).header()


def test_native_zoom_follows_resolution() -> None:
    assert tiles.native_zoom(1000, 42.0) == 7  # 1 km cells: z7 pixels are ~907 m at 42 N
    assert tiles.native_zoom(2000, 42.0) == 6
    assert tiles.native_zoom(250, 42.0) == 9  # z9 pixels ~227 m
    assert tiles.native_zoom(100, 42.0) == 10  # z10 pixels ~114 m: nearest the cell (z11's 57 m would only upsample)
    assert tiles.native_zoom(10, 42.0) == 14  # a 10 m survey grid: z14 pixels ~7 m (z13: ~14 m)
    with pytest.raises(InputDataError):
        tiles.native_zoom(0, 42.0)


def test_raster_zoom_range_from_resolution_and_extent() -> None:
    caspian = (48.0, 39.8, 53.0, 45.0)
    assert tiles.raster_zoom_range(caspian, 1000, min_zoom=4) == (4, 7)
    assert tiles.raster_zoom_range(caspian, 250, min_zoom=4) == (4, 9)
    assert tiles.raster_zoom_range(caspian, 100, min_zoom=4) == (4, 10)
    assert tiles.raster_zoom_range(caspian, 100, min_zoom=4, max_zoom=8) == (4, 8)
    assert tiles.raster_zoom_range(caspian, 100, min_zoom=0) == (1, 10)  # at z0 the area would be under 8 px
    survey = (50.0, 42.0, 50.05, 42.3)  # a 4 km x 33 km survey strip at 10 m
    low, top = tiles.raster_zoom_range(survey, 10, min_zoom=4)
    assert top == 14
    assert low == tiles.extent_min_zoom(survey) == 5  # at z4 it would be a speck of under 8 px


def test_vector_archive_holds_every_layer(tmp_path: Path, synthetic: SimpleNamespace) -> None:
    layers = prepare_layers(synthetic.layers())
    layers["crossings"] = layers["crossings"].iloc[0:0]  # an empty layer is left out
    info = tiles.write_vector_tiles(layers, tmp_path / "corridor.pmtiles", min_zoom=4, max_zoom=9, name="demo")
    head = _header(info.path)
    assert head["tile_type"] == TileType.MVT
    assert (head["min_zoom"], head["max_zoom"]) == (4, 9)
    assert info.tile_count == head["addressed_tiles_count"] > 0
    names = {n for n, _ in pyogrio.list_layers(info.path)}
    assert names == set(layers) - {"crossings"}
    assert info.layers["route"] == "line"
    assert info.layers["seabed_sectors"] == "polygon"
    assert info.values["hazards_points"] == ["mud_volcano", "platform"]
    # GDAL decodes the merged tiles: every KP point comes back with its attributes (at the max zoom, unclipped)
    kp = pyogrio.read_dataframe(info.path, layer="kp_points")
    assert sorted(set(kp["kp_km"].astype(float))) == [10.0 * i for i in range(21)]  # KP 0-200 of the 200.9 km route
    w, s, e, n = info.bounds
    assert 47 < w < e < 51
    assert 42 < s < n < 44


def test_vector_mbtiles_option(tmp_path: Path, synthetic: SimpleNamespace) -> None:
    layers = prepare_layers(synthetic.layers())
    info = tiles.write_vector_tiles(
        {k: layers[k] for k in ("route", "kp_points")}, tmp_path / "c.mbtiles", max_zoom=8, tile_format="mbtiles"
    )
    assert {n for n, _ in pyogrio.list_layers(info.path)} == {"route", "kp_points"}
    con = sqlite3.connect(info.path)
    meta = dict(con.execute("SELECT name, value FROM metadata"))
    assert meta["format"] == "pbf"
    assert "vector_layers" in meta["json"]


def test_vector_tiles_refuse_bad_layers(tmp_path: Path) -> None:
    mixed = gpd.GeoDataFrame({"kind": ["a", "b"]}, geometry=[Point(50, 42), LineString([(50, 42), (51, 43)])], crs=4326)
    with pytest.raises(InputDataError, match="mixes"):
        tiles.write_vector_tiles({"hazards": mixed}, tmp_path / "x.pmtiles")
    with pytest.raises(InputDataError, match="zoom range"):
        tiles.write_vector_tiles({"route": mixed.iloc[1:]}, tmp_path / "x.pmtiles", min_zoom=9, max_zoom=3)
    with pytest.raises(InputDataError, match="every layer passed is empty"):
        tiles.write_vector_tiles({"route": mixed.iloc[0:0]}, tmp_path / "x.pmtiles")


def test_bathymetry_rendering_and_raster_archive(tmp_path: Path, synthetic: SimpleNamespace) -> None:
    bathy, _ = synthetic.rasters()
    r = tiles.render_bathymetry(bathy)
    rgb = r.rgba[:3].astype(int)
    sea_shallow, sea_deep, land = (5, 20), (50, 55), (40, 3)  # ~25 m, ~720 m, land strip
    assert rgb[2][sea_deep] < rgb[2][sea_shallow]
    assert rgb[0][sea_deep] < rgb[0][sea_shallow]
    assert rgb[0][land] > rgb[2][land]  # land in earth tones
    assert r.rgba[3][88, 105] == 0
    assert r.rgba[3][sea_deep] == 255
    info = tiles.write_raster_tiles(r, tmp_path / "bathymetry.pmtiles", min_zoom=4)
    head = _header(info.path)
    assert head["tile_type"] == TileType.PNG
    assert (info.min_zoom, info.max_zoom) == (4, 6)
    assert (head["min_zoom"], head["max_zoom"]) == (4, 6)
    tile = tiles.read_tile(info.path, 6, 40, 23)  # the z6 tile over 49 E 43 N
    assert tile is not None
    img = np.asarray(Image.open(io.BytesIO(tile)).convert("RGBA"))
    assert img.shape == (256, 256, 4)
    opaque = img[img[..., 3] == 255]
    assert len(opaque) > 1000
    assert (opaque[:, 2] > opaque[:, 0]).mean() > 0.5


def test_cost_rendering_and_mbtiles_option(tmp_path: Path, synthetic: SimpleNamespace) -> None:
    _, cost = synthetic.rasters()
    r = tiles.render_cost(cost)
    assert tuple(r.rgba[:, 40, 3]) == (60, 60, 60, 150)  # impassable land: grey
    assert r.legend[0][0] < r.legend[-1][0]
    assert r.units == "cost per m"
    info = tiles.write_raster_tiles(r, tmp_path / "cost.mbtiles", min_zoom=3, max_zoom=5, tile_format="mbtiles")
    assert (info.min_zoom, info.max_zoom) == (3, 5)
    with rasterio.open(info.path) as src:
        assert src.count == 4
        assert src.crs.to_epsg() == 3857
        assert src.read(4).max() > 0  # GDAL reads the archive back with data
    con = sqlite3.connect(info.path)
    zooms = [z for (z,) in con.execute("SELECT DISTINCT zoom_level FROM tiles ORDER BY 1")]
    con.close()
    assert zooms == [3, 4, 5]  # every zoom, the coarse ones included
    finer = tiles.write_raster_tiles(r, tmp_path / "cost.pmtiles", min_zoom=4, max_zoom=12)
    assert finer.max_zoom == 6  # never finer than the data's native zoom: the web map over-zooms
