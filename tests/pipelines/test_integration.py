"""The whole graph materialised on the real mirror data for the default scenario, and properties of the result."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from geodata.publish import compose
from geodata.publish.atomic import verify_manifest
from geodata.publish.qgis_project import read_from_gpkg
from geodata.publish.webmap import PLACE_KINDS
from geodata.scenario import load_scenario
from pipelines.runner import folder_settings, materialize_scenario
from tests.rpl_expectation import check_position_kp_and_depth, check_segments, raster_depth, read_xlsx_sheet

pytestmark = pytest.mark.integration
SCENARIO = "siyazan-aktau"
GEOD = Geod(ellps="WGS84")


def _after_the_web_map(write: Callable[..., Any]) -> Callable[..., Any]:
    """``compose._write_and_check_gpkg`` started only once the web map is in the folder: the GeoPackage, written on
    its own thread, then comes last, as it did at 100 m (the web map must not depend on which comes first)."""

    def later(path: Path, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 300
        while not (path.parent / "index.html").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return write(path, *args, **kwargs)

    return later


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path) -> dict:
    """The default scenario materialised once for the module (the publication copies the web map's npm packages),
    its GeoPackage written after the web map (:func:`_after_the_web_map`)."""
    root = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compose, "_write_and_check_gpkg", _after_the_web_map(compose._write_and_check_gpkg))
        result = materialize_scenario(SCENARIO, folder_settings(root, mirror=mirror))
    checks = [
        e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {"root": root, "result": result, "checks": checks}


def _load(run: dict, name: str):
    """The value an asset returned in the run (held by the in-process result, whatever the store's file format)."""
    return run["result"].asset_value(name)


def test_run_succeeds_and_every_blocking_check_passes(run: dict) -> None:
    assert run["result"].success
    failed = [
        (c.asset_key.to_user_string(), c.check_name, c.description)
        for c in run["checks"]
        if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []
    names = {c.check_name for c in run["checks"]}
    assert {"coverage", "partition", "route_clear_of_hard_exclusions", "crossing_angles"} <= names


def test_route_starts_and_ends_at_the_landing_stations(run: dict) -> None:
    sc = load_scenario(SCENARIO)
    line = _load(run, "engineered_route").line_lonlat
    start, end = line.coords[0], line.coords[-1]
    for (lon, lat), st in ((start, sc.start), (end, sc.end)):
        _, _, dist = GEOD.inv(lon, lat, st.lon_deg, st.lat_deg)
        assert dist < 1.0, f"route end {dist:.1f} m from {st.name}"


def test_marine_route_never_crosses_land(run: dict) -> None:
    er = _load(run, "engineered_route")
    coast = _load(run, "coastline")
    coords = np.asarray(er.line_lonlat.coords)
    marine = shapely.LineString(coords[3:-3])  # between the two approach ends
    land = coast.land(load_scenario(SCENARIO).area_of_interest.bounds).geometry.iloc[0]
    over_land_m = GEOD.geometry_length(marine.intersection(land)) if marine.intersects(land) else 0.0
    assert over_land_m < 500.0, f"the marine route runs {over_land_m:.0f} m over land"


def test_route_length_is_plausible_against_the_geodesic(run: dict) -> None:
    sc = load_scenario(SCENARIO)
    _, _, direct_m = GEOD.inv(sc.start.lon_deg, sc.start.lat_deg, sc.end.lon_deg, sc.end.lat_deg)
    length_m = GEOD.geometry_length(_load(run, "engineered_route").line_lonlat)
    # the Siyazan-Aktau geodesic is 331.3 km; a detour of a quarter round the Absheron shelf is the most plausible
    assert 1.0 <= length_m / direct_m <= 1.25, (length_m, direct_m)


def test_publication_is_complete_verified_and_opens(run: dict) -> None:
    live = run["root"] / "published" / SCENARIO
    gpkg = live / "corridor.gpkg"
    assert gpkg.exists()
    assert verify_manifest(live / "latest") == []
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["scenario"]["name"] == SCENARIO
    assert {i["name"] for i in manifest["inputs"]} >= {"srtm30plus_caspian", "gshhg_coast"}
    level = manifest["extra"]["water_level"]  # the level depths are measured below, with its source and date
    assert (level["water_level_m"], level["date"]) == (-28.0, "1998/2003")
    route = gpd.read_file(gpkg, layer="route")
    assert route.crs.to_epsg() == 4326
    assert len(route) == 1
    assert route["length_km"].iloc[0] > 250  # never shorter than the 331.3 km geodesic, with margin for KP rounding
    with sqlite3.connect(gpkg) as con:
        styled = {r[0] for r in con.execute("select f_table_name from layer_styles")}
    assert {"route", "rpl", "kp_points", "seabed_sectors"} <= styled
    for name in ("rpl.csv", "straight_line_diagram.png", "straight_line_diagram.pdf", "index.html"):
        assert (live / name).stat().st_size > 0


def test_the_web_map_carries_the_published_kp_index_and_place_names(run: dict) -> None:
    """The page's jump-to-KP index and place names are those of the published layers, even when the GeoPackage is
    written after the web map (they are written on two threads; the 100 m map once had neither)."""
    import re

    live = run["root"] / "published" / SCENARIO
    html = (live / "index.html").read_text(encoding="utf-8")
    blob = re.search(r'<script id="webmap-config" type="application/json">(.*?)</script>', html, re.S)
    assert blob is not None
    config = json.loads(blob.group(1))
    kp = gpd.read_file(live / "corridor.gpkg", layer="kp_points")
    assert len(kp) > 100
    assert len(config["kp"]) == len(kp)
    assert [row[0] for row in config["kp"]] == sorted(round(float(v), 3) for v in kp["kp_km"])
    stations = gpd.read_file(live / "corridor.gpkg", layer="landing_stations")
    named = set(stations.loc[stations["kind"].isin(PLACE_KINDS), "name"])  # the stations, not the beach manholes
    assert {"Siyazan", "Aktau"} <= named
    assert named <= {p["name"] for p in config["places"]}


def test_published_rpl_keeps_the_surveyor_invariants(run: dict) -> None:
    """The real route's RPL files: one KP basis from 0, no zero-length or duplicate rows, no depth on land (by the
    coastline), no land height at sea, rounded numbers, Excel and KML that open."""
    import openpyxl
    import pandas as pd
    import pyogrio

    from geodata.deliverables.formats import SURVEYOR_FILES

    live = run["root"] / "published" / SCENARIO / "latest"
    for name in SURVEYOR_FILES:
        assert (live / name).stat().st_size > 0, name
    assert (live / "rpl.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    pos = pd.read_csv(live / "rpl.csv", encoding="utf-8-sig")
    seg = pd.read_csv(live / "rpl_segments.csv", encoding="utf-8-sig")
    assert pos["kp_km"].iloc[0] == 0.0
    assert (pos["kp_km"].diff().dropna() > 0).all()
    assert (pos["cable_kp_km"] >= 0).all()
    assert (seg["distance_km"] >= 0.001).all()
    assert len(seg) == len(pos) - 1
    assert seg["distance_km"].sum() == pytest.approx(pos["kp_km"].iloc[-1], abs=0.001 * len(seg))
    assert not pos["name"].str.contains("no sector").any()
    land = pos["surface"] == "land"
    assert land.iloc[0]
    assert land.iloc[-1]
    assert pos.loc[land, "water_depth_m"].isna().all()
    assert (pos.loc[pos["surface"] == "sea", "water_depth_m"].dropna() >= 0).all()
    water = _load(run, "coastline").water_geometry
    inside = [water.contains(shapely.Point(x, y)) for x, y in zip(pos["lon_deg"], pos["lat_deg"], strict=True)]
    assert [s == "sea" for s in pos["surface"]] == [
        i and s != "shore" for i, s in zip(inside, pos["surface"], strict=True)
    ]
    wb = openpyxl.load_workbook(live / "rpl.xlsx")
    assert wb["Positions"].freeze_panes == "A2"
    assert wb["Positions"].max_row - 1 == len(pos)
    assert len(pyogrio.read_dataframe(live / "route.kml", layer="Route")) == 1
    assert len(pyogrio.read_dataframe(f"/vsizip/{live / 'route.kmz'}/doc.kml", layer="KP")) > 300


def test_published_rpl_matches_an_independent_expectation_row_by_row(run: dict) -> None:
    """The published RPL (CSV and Excel) of the real route against tests/rpl_expectation.py: every position on the
    engineered route's geodesic legs with the pyproj KP, the water depth the bathymetry raster's (scipy bilinear) at
    sea, the landing stations the scenario's, and every segment's bearing, distance, cable length and cable KP
    pyproj's between the printed positions with the scenario's slack."""
    import pandas as pd

    from geodata.deliverables.rpl import POSITION_COLUMNS, SEGMENT_COLUMNS

    sc = load_scenario(SCENARIO)
    live = run["root"] / "published" / SCENARIO / "latest"
    route = _load(run, "engineered_route").line_lonlat
    depth_at = raster_depth(_load(run, "bathymetry"))
    csv_pos = pd.read_csv(live / "rpl.csv", encoding="utf-8-sig")
    csv_seg = pd.read_csv(live / "rpl_segments.csv", encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    xls_pos = read_xlsx_sheet(live / "rpl.xlsx", "Positions", POSITION_COLUMNS)
    xls_seg = read_xlsx_sheet(live / "rpl.xlsx", "Segments", SEGMENT_COLUMNS)
    assert len(csv_pos) > 20
    for pos, seg in ((csv_pos, csv_seg), (xls_pos, xls_seg)):
        assert list(pos["pos_no"]) == list(range(1, len(pos) + 1))
        check_position_kp_and_depth(pos, route, depth_at)
        check_segments(pos, seg, sc.engineering.cable_bands)
        for row, station in ((pos.iloc[0], sc.start), (pos.iloc[-1], sc.end)):
            assert GEOD.inv(row["lon_deg"], row["lat_deg"], station.lon_deg, station.lat_deg)[2] < 0.2
        # every A/C of the engineered route is a position, at its own coordinates to the printed 1e-6 degree
        for lon, lat in route.coords:
            near = ((pos["lon_deg"] - lon).abs() <= 1.5e-6) & ((pos["lat_deg"] - lat).abs() <= 1.5e-6)
            assert near.sum() == 1, (lon, lat)
    # the Excel cells hold the CSV's numbers and texts
    for a, b in ((csv_pos, xls_pos), (csv_seg, xls_seg)):
        for col in a.columns:
            if pd.api.types.is_numeric_dtype(a[col]):
                assert b[col].to_numpy(dtype=float) == pytest.approx(
                    a[col].to_numpy(dtype=float), abs=1e-9, nan_ok=True
                ), col
            else:
                assert [x if isinstance(x, str) else "" for x in b[col]] == [
                    x if isinstance(x, str) else "" for x in a[col]
                ], col


def test_close_approaches_and_zone_crossings_are_published_and_styled(run: dict) -> None:
    """The engineered route's close approaches (lines) and 2018 zone-limit crossings (points) are GeoPackage layers
    with their QGIS style, in the stored QGIS project, with numbers at the trade's precision and no water depth on
    land."""
    er = _load(run, "engineered_route")
    gpkg = run["root"] / "published" / SCENARIO / "corridor.gpkg"
    with sqlite3.connect(gpkg) as con:
        styled = {r[0] for r in con.execute("select f_table_name from layer_styles")}
    project = read_from_gpkg(gpkg)
    assert project is not None
    for name, table in (("close_approaches", er.close_approaches), ("zone_crossings", er.zone_crossings)):
        assert table is not None
        assert len(table) > 0, name  # the default route has both (shared landing at Siyazan; six zone limits)
        layer = gpd.read_file(gpkg, layer=name)
        assert len(layer) == len(table), name
        assert name in styled
        assert f"|layername={name}<" in project, name
        kp = layer["kp_km"] if "kp_km" in layer else layer["kp_from_km"]
        assert (kp.round(3) == kp).all(), name
    ca = gpd.read_file(gpkg, layer="close_approaches")
    assert ca.loc[ca["section"] == "land", "water_depth_m"].isna().all()
    assert (ca["length_m"].round(1) == ca["length_m"]).all()
    kp = gpd.read_file(gpkg, layer="kp_points")
    assert kp.loc[kp["surface"] == "land", "water_depth_m"].isna().all()
    assert (kp.loc[kp["surface"] == "sea", "water_depth_m"].dropna() >= 0).all()


def test_no_water_depth_shows_on_land(run: dict) -> None:
    """The Karagiye depression near Aktau (43.45 N, 51.75 E, about 104 m below the Caspian surface, so the grid reads a
    'depth' of +104 m there) is land by the coastline: the published bathymetry holds no value there, while the sea
    off Aktau keeps its depth."""
    import rasterio

    gpkg = run["root"] / "published" / SCENARIO / "corridor.gpkg"
    raw = _load(run, "bathymetry")
    x, y = Transformer.from_crs("EPSG:4326", raw.grid.crs, always_xy=True).transform(51.75, 43.45)
    assert raw.sample(x, y)[0] > 50  # what the grid reads on land
    with rasterio.open(f"GPKG:{gpkg}:bathymetry") as src:
        to_src = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        (on_land,), (at_sea,) = src.sample([to_src.transform(51.75, 43.45), to_src.transform(50.9, 43.4)])
        assert on_land == src.nodata or np.isnan(on_land)
        assert 20 < at_sea < 200


def test_the_stored_qgis_project_opens_and_draws_the_crossing_on_the_pipeline(
    run: dict, tmp_path: Path, qgis_render: Any
) -> None:
    """PyQGIS opens the project stored in the real corridor.gpkg: every layer valid, the new layers in it, rasters
    with their nodata; rendered round the pipeline crossing (EPSG:4326, as QGIS opens it), the crossing marker sits
    on the pipeline as drawn (the teal line passes within 20 px, about 65 m, of the marker's centre; undensified it
    ran kilometres away)."""
    from PIL import Image

    from geodata.publish.styles import HAZARD_COLORS, hex_to_rgb

    gpkg = run["root"] / "published" / SCENARIO / "corridor.gpkg"
    out = qgis_render(gpkg, tmp_path / "corridor.png", 1200)
    assert out["read"]
    assert out["crs"] == "EPSG:4326"
    layers = out["layers"]
    assert all(v["valid"] for v in layers.values()), {k for k, v in layers.items() if not v["valid"]}
    assert {"close_approaches", "zone_crossings", "crossings", "kp_points"} <= set(layers)
    assert layers["bathymetry"]["nodata"] is not None
    assert layers["bathymetry"]["renderer"] == "singlebandpseudocolor"
    xs = _load(run, "engineered_route").crossings
    pipe = xs[xs["kind"] == "pipeline"].iloc[0]
    lon, lat = float(pipe["lon_deg"]), float(pipe["lat_deg"])
    png = tmp_path / "crossing.png"
    qgis_render(gpkg, png, 1000, (lon - 0.02, lat - 0.015, lon + 0.02, lat + 0.015))
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    teal = np.all(np.abs(img - np.array(hex_to_rgb(HAZARD_COLORS["pipeline"][0]))) < 40, axis=2)
    rows, cols = np.nonzero(teal)
    assert len(rows) > 100, "the pipeline is not drawn round its crossing"
    centre = np.array(img.shape[:2]) / 2
    nearest_px = float(np.min(np.hypot(rows - centre[0], cols - centre[1])))
    assert nearest_px < 20, f"the pipeline passes {nearest_px:.0f} px from its crossing marker"
