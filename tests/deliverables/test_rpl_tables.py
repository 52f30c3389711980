"""RPL position and segment tables and the surveyor's files (CSV, Excel, KML/KMZ), checked row by row against an
expectation computed independently with pyproj on a small synthetic route (synthetic data throughout)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from affine import Affine
from pyproj import Geod, Transformer
from shapely.geometry import LineString, box

from geodata.deliverables import formats
from geodata.deliverables.compose import RouteDeliverables
from geodata.deliverables.rpl import (
    POSITION_COLUMNS,
    SEGMENT_COLUMNS,
    build_rpl_tables,
    classify_surface,
    kp_points,
    route_profile,
    sector_boundary_events,
    water_depth_on_surface,
)
from geodata.engineering.events import BEACH_MANHOLE, CROSSING, LANDING, SECTOR_BOUNDARY, SHORE_CROSSING, RouteEvent
from geodata.grid import GeoGrid, Raster
from geodata.scenario import Engineering
from tests.rpl_expectation import check_position_kp_and_depth, check_segments, expected_kp_km, raster_depth

G = Geod(ellps="WGS84")
TO_LL = Transformer.from_crs("EPSG:32639", "EPSG:4326", always_xy=True)
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32639", always_xy=True)
COAST_X = 310_000.0  # synthetic coastline: land west of x = 310 km, sea east of it
VERTICES_XY = [(301_000, 4_670_000), (306_000, 4_670_000), (330_000, 4_676_000), (600_000, 4_680_000)]


def ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_LL.transform(x, y)
    return float(lon), float(lat)


def synthetic_depth(lon: float, lat: float) -> float:
    """The synthetic ramp's depth at a point, from its formula (bilinear sampling of a linear ramp is exact)."""
    x, _ = TO_UTM.transform(lon, lat)
    return 2.0 * (x / 1000.0 - 300.5) - 20.0


@pytest.fixture
def case() -> dict:
    """A synthetic landfall and crossing: station and BMH on land, shore crossing and sector entry at one point."""
    grid = GeoGrid("EPSG:32639", Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_700_000.0), (60, 400))
    _, cols = np.mgrid[0:60, 0:400]
    depth = Raster((cols * 2.0 - 20.0).astype("float32"), grid)  # cell centre x = 300.5 + col km
    slope = Raster(np.full(grid.shape, 0.5, "float32"), grid)
    route = LineString([ll(*p) for p in VERTICES_XY])
    # the shore crossing on the second leg where it meets x = 310 km (on the geodesic, found independently)
    lon_b, lat_b = route.coords[1]
    lon_c, lat_c = route.coords[2]
    az, _, leg = G.inv(lon_b, lat_b, lon_c, lat_c)
    s = np.linspace(0, leg, 200_001)
    lons, lats, _ = G.fwd(np.full_like(s, lon_b), np.full_like(s, lat_b), np.full_like(s, az), s)
    xs, _ = TO_UTM.transform(lons, lats)
    k = int(np.argmin(np.abs(xs - COAST_X)))
    shore = (float(lons[k]), float(lats[k]))
    water = box(shore[0], 40.0, 60.0, 45.0)  # lon/lat box whose west edge is the coast at the shore crossing
    lon_x, lat_x, _ = G.fwd(*route.coords[2], G.inv(*route.coords[2], *route.coords[3])[0], 50_000.0)
    events = [
        RouteEvent(LANDING, "Alpha", *route.coords[0], "cable landing station"),
        RouteEvent(BEACH_MANHOLE, "BMH Alpha", *route.coords[1], "beach manhole"),
        RouteEvent(SHORE_CROSSING, "Shore Alpha", *shore, "coastline crossed"),
        RouteEvent(CROSSING, "X1 pipeline P", float(lon_x), float(lat_x), "crossing of pipeline P"),
        *sector_boundary_events(
            pd.DataFrame({"from_country": [None], "to_country": ["AZE"], "lon_deg": [shore[0]], "lat_deg": [shore[1]]})
        ),
    ]
    eng = Engineering()
    shore_kp = (G.inv(*route.coords[0], *route.coords[1])[2] + G.inv(*route.coords[1], *shore)[2]) / 1000.0
    spans = pd.DataFrame({"kp_from_km": [0.0, shore_kp], "country": [None, "AZE"]})
    tables = build_rpl_tables(route, events, depth, slope, eng, water=water, sector_spans=spans)
    return {
        "route": route,
        "depth": depth,
        "slope": slope,
        "eng": eng,
        "shore": shore,
        "crossing": (float(lon_x), float(lat_x)),
        "tables": tables,
        "water": water,
    }


def test_positions_match_an_independent_expectation(case: dict) -> None:
    pos = case["tables"].positions
    route = case["route"]
    assert list(pos.columns[: len(POSITION_COLUMNS)]) == POSITION_COLUMNS
    # events at one position are one row: shore crossing and sector entry
    merged = pos[pos["events"].str.contains(SHORE_CROSSING)]
    assert len(merged) == 1
    row = merged.iloc[0]
    assert row["events"] == f"{SHORE_CROSSING}; {SECTOR_BOUNDARY}"
    assert row["name"] == "Shore Alpha; Enter AZE sector"
    assert "coastline crossed" in row["remarks"]
    assert "enters the AZE seabed sector" in row["remarks"]
    assert not pos["name"].str.contains("no sector").any()
    for lonlat, event in ((route.coords[0], LANDING), (case["shore"], SHORE_CROSSING), (case["crossing"], CROSSING)):
        r = pos[pos["event"] == event].iloc[0]
        assert (r["lon_deg"], r["lat_deg"]) == pytest.approx(lonlat, abs=1.5e-6)
    # KP, degrees and minutes and depth row by row against pyproj and the ramp's formula (tests/rpl_expectation.py)
    check_position_kp_and_depth(pos, route, synthetic_depth)
    for _, r in pos.iterrows():
        x, _ = TO_UTM.transform(r["lon_deg"], r["lat_deg"])
        assert {"land": x < COAST_X, "shore": abs(x - COAST_X) < 10, "sea": x > COAST_X}[r["surface"]]
    assert (pos["kp_km"] >= 0).all()
    assert pos.loc[pos["event"] == BEACH_MANHOLE, "kp_km"].item() == pytest.approx(5.0, abs=0.01)
    # the ramp reads land (< 0 m) west of x = 310.5 km, so no land row reads water and nothing disagrees
    assert case["tables"].surface_disagreements == 0


def test_the_independent_raster_depth_reads_the_ramp(case: dict) -> None:
    """The expectation's own depth sampler (scipy, its own transformer) reads the synthetic ramp's formula."""
    depth_at = raster_depth(case["depth"])
    for x in (302_000.0, 317_250.0, 455_500.0, 650_000.0):
        lon, lat = ll(x, 4_672_345.0)
        assert depth_at(lon, lat) == pytest.approx(synthetic_depth(lon, lat), abs=1e-3)
    assert np.isnan(depth_at(*ll(800_000.0, 4_672_345.0)))  # off the grid


def test_depth_follows_the_coastline_and_disagreements_are_counted() -> None:
    surface = ["land", "land", "shore", "sea", "sea"]
    depth, disagrees = water_depth_on_surface(surface, [-4.0, 15.0, -3.0, 20.0, -2.0])
    assert np.isnan(depth[[0, 1, 4]]).all()
    assert depth[2] == 0.0
    assert depth[3] == 20.0
    assert disagrees.tolist() == [False, True, False, False, True]
    assert classify_surface([49.0, 51.0], [42.0, 42.0], None, [-5.0, 30.0]) == ["land", "sea"]
    water = box(50.0, 41.0, 52.0, 43.0)
    assert classify_surface([49.0, 50.0, 51.0], [42.0, 42.0, 42.0], water, [1.0, 1.0, 1.0]) == ["land", "shore", "sea"]


def test_segments_match_an_independent_expectation(case: dict) -> None:
    pos, seg = case["tables"].positions, case["tables"].segments
    assert list(seg.columns[: len(SEGMENT_COLUMNS)]) == SEGMENT_COLUMNS
    # bearing, distance, slack, cable length and cable KP row by row against pyproj (tests/rpl_expectation.py)
    check_segments(pos, seg, case["eng"].cable_bands)
    assert (seg.loc[seg["surface"] == "land", "sector"] == "").all()
    assert (seg.loc[seg["surface"] == "sea", "sector"] == "AZE").all()
    assert set(seg["surface"]) == {"land", "sea"}
    # cable types change where the synthetic depth reaches the 50 m and 400 m band limits
    changes = pos[pos["event"] == "cable_type_change"]
    assert [synthetic_depth(r.lon_deg, r.lat_deg) for r in changes.itertuples()] == pytest.approx([50, 400], abs=1.5)


def deliverables(case: dict) -> RouteDeliverables:
    t = case["tables"]
    route = case["route"]
    profile = route_profile(route, case["depth"], case["slope"], 1000.0)
    kps = kp_points(route, 50_000.0, depth=case["depth"], slope=case["slope"])
    spans = gpd.GeoDataFrame({"span_no": [1], "country": ["AZE"], "kp_from_km": [0.0], "length_km": [1.0]})
    points = gpd.GeoDataFrame({"point_no": [1], "kp_km": [6.1]})
    return RouteDeliverables(t.positions, kps, profile, spans, points, segments=t.segments)


def test_csv_and_excel_hold_the_same_rounded_rows(case: dict, tmp_path: Path) -> None:
    dl = deliverables(case)
    files = formats.write_surveyor_files(tmp_path, dl, title="Synthetic route")
    assert set(files) == set(formats.SURVEYOR_FILES)
    for name in files:
        assert (tmp_path / name).stat().st_size > 0
    raw = (tmp_path / "rpl.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel on Windows
    assert "°".encode() in raw
    for name in ("rpl.csv", "rpl_segments.csv", "route_profile.csv"):
        table = pd.read_csv(tmp_path / name, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for col in table.columns:
            numeric = pd.to_numeric(table[col], errors="coerce").notna()
            for cell in table.loc[numeric, col]:
                # no exponent, at most 6 decimals (the positions): never a 15-digit float
                assert re.fullmatch(r"-?\d+(\.\d{1,6})?", cell), (name, col, cell)
    back = pd.read_csv(tmp_path / "rpl.csv", encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    pos = dl.rpl
    assert list(back.columns) == POSITION_COLUMNS
    for col in ("kp_km", "cable_kp_km", "lat_deg", "lon_deg"):
        assert back[col].to_numpy() == pytest.approx(pos[col].to_numpy(), abs=1e-9)
    assert back["water_depth_m"].isna().tolist() == pos["water_depth_m"].isna().tolist()
    wb = openpyxl.load_workbook(tmp_path / formats.XLSX_FILE)
    assert wb.sheetnames[:2] == ["Positions", "Segments"]
    assert "Notes" in wb.sheetnames
    ws = wb["Positions"]
    assert ws.freeze_panes == "A2"
    heads = [c.value for c in ws[1]]
    assert "Route KP (km)" in heads
    assert "Water depth (m)" in heads
    assert "Latitude (° WGS84)" in heads
    kp_col = heads.index("Route KP (km)") + 1
    depth_col = heads.index("Water depth (m)") + 1
    assert ws.cell(2, kp_col).number_format == "0.000"
    for i, r in enumerate(pos.itertuples(), start=2):
        assert ws.cell(i, kp_col).value == pytest.approx(r.kp_km, abs=1e-9)
        cell = ws.cell(i, depth_col).value
        assert (cell is None) == bool(np.isnan(r.water_depth_m))
    segs = wb["Segments"]
    sheads = [c.value for c in segs[1]]
    assert "Distance (km)" in sheads
    assert "Bearing (° true)" in sheads
    assert segs.max_row - 1 == len(dl.segments)
    assert segs.column_dimensions["A"].width >= len("Seg no")


def test_kml_and_kmz_open_in_gdal_with_the_expected_features(case: dict, tmp_path: Path) -> None:
    dl = deliverables(case)
    kml, kmz = formats.write_kml(dl, tmp_path / "route.kml", tmp_path / "route.kmz", title="Synthetic route")
    for source in (str(kml), f"/vsizip/{kmz}/doc.kml"):
        layers = [name for name, _ in pyogrio.list_layers(source)]
        assert layers == ["Route", "KP", "Alter courses", "Crossings", "Other positions"]
        line = pyogrio.read_dataframe(source, layer="Route")
        assert len(line) == 1
        assert line.geometry.iloc[0].geom_type == "LineString"
        coords = np.asarray(line.geometry.iloc[0].coords)[:, :2]
        assert len(coords) > 500  # densified: 300 km every 500 m
        assert coords[0] == pytest.approx(case["route"].coords[0], abs=1e-6)
        # every densified vertex lies on the route's geodesic legs
        for lon, lat in coords[::50]:
            expected_kp_km(case["route"], lon, lat)
        kps = pyogrio.read_dataframe(source, layer="KP")
        assert kps["Name"].tolist() == dl.kp_points["label"].tolist()
        xs = pyogrio.read_dataframe(source, layer="Crossings")
        assert len(xs) == 1
        assert "X1 pipeline P" in xs["Name"].iloc[0]
        assert "Route KP" in xs["description"].iloc[0]
        other = pyogrio.read_dataframe(source, layer="Other positions")
        acs = pyogrio.read_dataframe(source, layer="Alter courses")
        assert len(other) + len(acs) + len(xs) == len(dl.rpl)
