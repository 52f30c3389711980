"""``publish.tile_format`` works end to end: the web map always reads PMTiles, and ``mbtiles`` adds MBTiles archives."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from geodata.publish import webmap
from geodata.publish.compose import write_tile_archives
from geodata.publish.gpkg import prepare_layers
from geodata.scenario import load_scenario


@pytest.mark.parametrize("fmt", ["pmtiles", "mbtiles"])
def test_web_map_reads_pmtiles_whatever_the_format(tmp_path: Path, synthetic: SimpleNamespace, fmt: str) -> None:
    sc = load_scenario("siyazan-aktau")
    sc = sc.model_copy(update={"publish": sc.publish.model_copy(update={"tile_format": fmt, "tiles_max_zoom": 6})})
    bathy, cost = synthetic.rasters()
    layers = prepare_layers({k: v for k, v in synthetic.layers().items() if k in ("route", "kp_points")})
    archives = {f: write_tile_archives(layers, bathy, cost, sc, tmp_path, f) for f in dict.fromkeys(["pmtiles", fmt])}
    vec, b, _ = archives["pmtiles"]
    page = webmap.write_webmap(
        tmp_path, title="t", subtitle="s", vector=vec, rasters={"bathymetry": webmap.RasterOverlay(b, "Depth")}
    )
    html = page.read_text(encoding="utf-8")
    assert "corridor.pmtiles" in html
    assert "bathymetry.pmtiles" in html
    assert ".mbtiles" not in html
    for name in ("corridor", "bathymetry", "cost"):
        assert (tmp_path / f"{name}.pmtiles").stat().st_size > 0
        mbtiles = tmp_path / f"{name}.mbtiles"
        assert mbtiles.exists() == (fmt == "mbtiles")
        if fmt == "mbtiles":
            with sqlite3.connect(mbtiles) as con:
                assert con.execute("SELECT count(*) FROM tiles").fetchone()[0] > 0
