"""The diagnostics GeoPackage of a failed run (geodata/publish/diagnostics.py), on a small synthetic sea: its layers
open with pyogrio (GDAL, as QGIS reads them), measure what they say, and the live publication is never touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import LineString

from geodata.grid import GeoGrid, Raster
from geodata.publish.atomic import live_version, publish, verify_manifest
from geodata.publish.diagnostics import DIAGNOSTICS, Failure, diagnostics_folder, write_diagnostics
from geodata.scenario import parse_scenario

UTM39 = CRS.from_epsg(32639)
TO_LL = Transformer.from_crs(UTM39, "EPSG:4326", always_xy=True)


def _sea() -> Raster:
    """Synthetic (not real data): 40 x 60 cells of 1 km; land in the west (columns 0-11), the sea east of it, and a
    lagoon of 3 x 3 sea cells cut off by land at rows 5-7, columns 3-5."""
    grid = GeoGrid(UTM39, Affine(1000.0, 0, 500_000.0, 0, -1000.0, 4_640_000.0), (40, 60))
    sea = np.zeros(grid.shape, dtype=np.uint8)
    sea[:, 12:] = 1
    sea[5:8, 3:6] = 1
    return Raster(sea, grid, None)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_LL.transform(x, y)
    return round(float(lon), 6), round(float(lat), 6)


def _scenario(a: tuple[float, float], b: tuple[float, float]):  # type: ignore[no-untyped-def]
    return parse_scenario(
        {
            "name": "synthetic",
            "landing_stations": [
                {"name": "Lagoon", "country": "AZE", "lon_deg": a[0], "lat_deg": a[1]},
                {"name": "Coast", "country": "KAZ", "lon_deg": b[0], "lat_deg": b[1]},
            ],
        }
    )


def test_layers_open_and_say_where_and_why(tmp_path: Path) -> None:
    sea = _sea()
    lagoon_station = _lonlat(502_500, 4_633_500)  # on land, 1 km west of the lagoon (row 6, column 2)
    coast_station = _lonlat(509_500, 4_620_500)  # on land, 3 km west of the open sea (row 19, column 9)
    sc = _scenario(lagoon_station, coast_station)
    failure = Failure(
        "least_cost_route",
        "GoalUnreachable",
        f"'Lagoon' ({lagoon_station[1]} N, {lagoon_station[0]} E) is cut off from the open sea",
        kind="error",
    )
    route = LineString([(502_500, 4_633_500), (530_000, 4_620_000)])
    path = write_diagnostics(
        tmp_path, sc, [failure], sea_mask=sea, routes={"engineered": (route, UTM39)}, summary="the run failed"
    )
    layers = dict(pyogrio.list_layers(path))
    assert {
        "stations": "Point",
        "nearest_sea_cell": "Point",
        "station_to_sea": "LineString",
        "reachable_region": "Polygon",
        "area_of_interest": "Polygon",
        "rejected_route": "LineString",
        "failure_positions": "Point",
    }.items() <= layers.items()
    assert layers["failures"] is None  # a table without geometry
    for name, geometry_type in layers.items():
        if geometry_type is not None:
            assert pyogrio.read_info(path, layer=name)["crs"] == "EPSG:4326", name
    st = pyogrio.read_dataframe(path, layer="stations").set_index("name")
    assert st.loc["Lagoon", "distance_to_sea_km"] == pytest.approx(1.0, abs=0.02)  # to the lagoon's centre cell
    assert st.loc["Coast", "distance_to_sea_km"] == pytest.approx(3.0, abs=0.03)
    assert not st.loc["Lagoon", "joins_main_sea"]  # its sea is the 9-cell lagoon
    assert st.loc["Lagoon", "region_area_km2"] == pytest.approx(9.0)
    assert st.loc["Coast", "joins_main_sea"]
    assert st.loc["Coast", "region_area_km2"] == pytest.approx(48 * 40)
    assert "GoalUnreachable" in st.loc["Lagoon", "problem"]
    assert st.loc["Coast", "problem"] == ""
    regions = pyogrio.read_dataframe(path, layer="reachable_region")
    assert sorted(regions["stations"]) == ["Coast", "Lagoon"]  # two regions: the stations cannot be joined
    pos = pyogrio.read_dataframe(path, layer="failure_positions")
    assert len(pos) == 1
    assert (pos.geometry.x.iloc[0], pos.geometry.y.iloc[0]) == pytest.approx(lagoon_station)
    table = pyogrio.read_dataframe(path, layer="failures")
    assert list(table["name"]) == ["GoalUnreachable"]
    aoi = pyogrio.read_dataframe(path, layer="area_of_interest")
    assert bool(aoi["derived"].iloc[0])
    assert (tmp_path / "failures.txt").read_text() == "the run failed\n"


@pytest.mark.integration  # opens the layers with PyQGIS in a subprocess
def test_diagnostics_open_in_qgis(tmp_path: Path, qgis_open_layers: Callable[..., dict[str, Any]]) -> None:
    """What the analyst does with the diagnostics of a failed run: drag diagnostics.gpkg into QGIS. Every layer
    is valid there, the spatial ones in EPSG:4326 with their features, and they draw."""
    sea = _sea()
    a, b = _lonlat(502_500, 4_633_500), _lonlat(509_500, 4_620_500)
    failure = Failure("least_cost_route", "GoalUnreachable", f"'Lagoon' ({a[1]} N, {a[0]} E) is cut off", kind="error")
    route = LineString([(502_500, 4_633_500), (530_000, 4_620_000)])
    path = write_diagnostics(
        tmp_path, _scenario(a, b), [failure], sea_mask=sea, routes={"engineered": (route, UTM39)}, summary="failed"
    )
    out = qgis_open_layers(path, tmp_path / "diagnostics.png")
    layers = out["layers"]
    assert set(layers) == {name for name, _ in pyogrio.list_layers(path)}
    for name, info in layers.items():
        assert info["valid"], name
        assert info["count"] >= 1, name
        if info["spatial"]:
            assert info["crs"] == "EPSG:4326", name
    assert not layers["failures"]["spatial"]
    # the styles stored in the GeoPackage are the ones QGIS applies: what failed is red, not the default grey
    assert layers["failure_positions"]["color"] == "#d7191c"
    assert layers["rejected_route"]["color"] == "#d7191c"
    assert layers["nearest_sea_cell"]["color"] == "#2b83ba"
    assert out["painted_samples"] > 100, "the layers drew nothing"


def test_without_a_sea_mask_the_stations_and_area_are_still_written(tmp_path: Path) -> None:
    sc = _scenario(_lonlat(502_500, 4_633_500), _lonlat(509_500, 4_620_500))
    path = write_diagnostics(tmp_path, sc, [Failure("bathymetry", "SourceUnavailable", "no mirror", kind="error")])
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"stations", "area_of_interest", "failures"} <= layers
    assert "reachable_region" not in layers


def test_diagnostics_go_beside_the_live_publication_and_leave_it_untouched(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "corridor.gpkg").write_bytes(b"the live publication")

    first = publish("synthetic", build, root=tmp_path, run_id="good-run", scenario_digest="d")
    before = {p: p.read_bytes() for p in first.version_dir.rglob("*") if p.is_file()}
    link = os.readlink(tmp_path / "synthetic" / "latest")
    sc = _scenario(_lonlat(502_500, 4_633_500), _lonlat(509_500, 4_620_500))
    folders = []
    for i in range(7):
        folder = diagnostics_folder(tmp_path, "synthetic", f"failed{i:02d}-run", keep=5)
        write_diagnostics(folder, sc, [Failure("sea_mask", "coverage", "failed")], sea_mask=_sea())
        folders.append(folder)
    assert folders[-1].parent == tmp_path / "synthetic" / DIAGNOSTICS
    assert os.readlink(tmp_path / "synthetic" / "latest") == link
    assert live_version(tmp_path / "synthetic") == first.version_dir
    assert verify_manifest(first.version_dir) == []
    assert {p: p.read_bytes() for p in first.version_dir.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in (tmp_path / "synthetic" / DIAGNOSTICS).iterdir()) == sorted(
        f.name for f in folders[-5:]
    )  # the newest five kept
    # and the next publication keeps the diagnostics folder (the publisher only touches its links)
    publish("synthetic", build, root=tmp_path, run_id="next-run", scenario_digest="d")
    assert folders[-1].is_dir()
    assert (folders[-1] / "diagnostics.gpkg").is_file()


def test_grid_cells_in_routing_errors_get_their_position() -> None:
    from geodata.publish.diagnostics import locate_cells

    grid = _sea().grid
    msg = "no passable route joins start=(row 6, col 2) and goal=(row 19, col 9): ...; or (row 99, col 1)"
    located = locate_cells(msg, grid)
    lon, lat = _lonlat(502_500, 4_633_500)
    assert f"start=(row 6, col 2: {lat:.5f} N, {lon:.5f} E)" in located
    assert "(row 99, col 1)" in located  # off the grid: left as it is
    positions = Failure("least_cost_route", "GoalUnreachable", located, kind="error").positions()
    assert positions[0] == pytest.approx((lon, lat), abs=1e-5)
    assert len(positions) == 2
