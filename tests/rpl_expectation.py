"""An RPL expectation computed independently of ``geodata.deliverables.rpl``: KP by summing pyproj geodesic legs,
bearings and distances by pyproj between the printed positions, depths by bilinear interpolation with scipy in the
raster's own CRS (a fresh pyproj transformer), cable KP by summing the slacked legs, and the Excel sheets read back
into the CSV's column names.

A helper module, not a test module (pytest collects ``test_*.py`` only): the synthetic RPL tests
(``tests/deliverables/test_rpl_tables.py``) and the real default scenario (``tests/pipelines/test_integration.py``)
check their tables with the same code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pyproj import Geod, Transformer
from scipy import ndimage
from shapely.geometry import LineString

from geodata.deliverables.formats import HEADERS, SEGMENT_HEADERS, header
from geodata.grid import Raster
from geodata.scenario import CableBand

G = Geod(ellps="WGS84")
KM = 1.5e-3  # a printed 0.001 km, with room for the rounding of both sides
ON_LEG_M = 0.05  # printed positions are rounded to 1e-6 degree (at most 0.08 m), off their leg by far less


def expected_kp_km(route: LineString, lon: float, lat: float) -> float:
    """KP of a point on the route, independently: geodesic legs summed up to the leg it lies on (pyproj.Geod).

    Fails when the point is on none of the route's geodesic legs."""
    v = list(route.coords)
    best, cum = None, 0.0
    for a, b in itertools.pairwise(v):
        leg = G.inv(*a, *b)[2]
        d_a, d_b = G.inv(*a, lon, lat)[2], G.inv(lon, lat, *b)[2]
        off = d_a + d_b - leg  # 0 for a point on this geodesic leg
        if best is None or off < best[0]:
            best = (off, cum + d_a)
        cum += leg
    assert best is not None
    assert best[0] < ON_LEG_M, f"({lon}, {lat}) is {best[0]:.3f} m off the route's geodesic legs"
    return best[1] / 1000.0


def raster_depth(raster: Raster) -> Callable[[float, float], float]:
    """Depth at a lon/lat point by bilinear interpolation between cell centres (scipy's ``map_coordinates``, order
    1, NaN where a neighbour is nodata), in the raster's CRS reached with a transformer of its own."""
    to_grid = Transformer.from_crs("EPSG:4326", raster.grid.crs, always_xy=True)
    data = np.asarray(raster.data, dtype=float)
    if raster.nodata is not None and np.isfinite(raster.nodata):
        data = np.where(data == raster.nodata, np.nan, data)
    t = raster.grid.transform
    assert t.b == 0, "a north-up grid"
    assert t.d == 0, "a north-up grid"

    def depth(lon: float, lat: float) -> float:
        x, y = to_grid.transform(lon, lat)
        col = (x - t.c) / t.a - 0.5
        row = (y - t.f) / t.e - 0.5
        if not (-0.5 <= row <= data.shape[0] - 0.5 and -0.5 <= col <= data.shape[1] - 0.5):
            return float("nan")
        return float(ndimage.map_coordinates(data, [[row], [col]], order=1, mode="nearest")[0])

    return depth


def check_position_kp_and_depth(
    pos: pd.DataFrame, route: LineString, depth_at: Callable[[float, float], float]
) -> None:
    """Row by row: every position on the route's geodesic legs, its KP the pyproj sum of the legs to it, the
    degrees and minutes agreeing with the decimal degrees, and the printed water depth the raster's (rounded to the
    metre) at sea, 0 on the shore, none on land or where the raster reads land at sea."""
    for _, r in pos.iterrows():
        where = f"position {r['pos_no']} ({r['name']})"
        kp = expected_kp_km(route, r["lon_deg"], r["lat_deg"])
        assert r["kp_km"] == pytest.approx(round(kp, 3), abs=KM), where
        for axis in ("lat", "lon"):
            deg, minutes = str(r[f"{axis}_dm"])[:-1].rstrip("'").split("°")
            assert int(deg) + float(minutes) / 60 == pytest.approx(r[f"{axis}_deg"], abs=0.0011 / 60 + 1e-6), where
        if r["surface"] == "land":
            assert np.isnan(r["water_depth_m"]), where
        elif r["surface"] == "shore":
            assert r["water_depth_m"] == 0.0, where
        else:
            z = depth_at(r["lon_deg"], r["lat_deg"])
            if np.isfinite(z) and z >= 0:
                assert r["water_depth_m"] == pytest.approx(round(z), abs=1.0), (where, z)
            else:
                assert np.isnan(r["water_depth_m"]), (where, z)
    assert pos["kp_km"].iloc[0] == 0.0
    assert (np.diff(pos["kp_km"]) > 0).all()
    assert (pos["cable_kp_km"] >= 0).all()


def check_segments(pos: pd.DataFrame, seg: pd.DataFrame, bands: Sequence[CableBand]) -> None:
    """Row by row: each segment joins consecutive positions, its bearing and distance are pyproj's between them,
    its cable length the distance with its band's slack, the cable KP their running sum, and land segments carry
    no burial or sector."""
    by_type = {b.cable_type: b for b in bands}
    assert len(seg) == len(pos) - 1
    cable = 0.0
    for k, s in seg.reset_index(drop=True).iterrows():
        a, b = pos.iloc[k], pos.iloc[k + 1]
        where = f"segment {s['seg_no']}"
        az, _, dist = G.inv(a["lon_deg"], a["lat_deg"], b["lon_deg"], b["lat_deg"])
        assert (s["from_pos"], s["to_pos"]) == (a["pos_no"], b["pos_no"]), where
        assert (s["from_kp_km"], s["to_kp_km"]) == (a["kp_km"], b["kp_km"]), where
        bearing = round(az % 360, 1)
        assert min(abs(s["bearing_deg"] - bearing), 360 - abs(s["bearing_deg"] - bearing)) <= 0.11, where
        assert s["distance_km"] == pytest.approx(round(dist / 1000, 3), abs=KM), where
        assert s["distance_km"] >= 0.001, where  # no zero-length rows
        assert s["distance_km"] == pytest.approx(b["kp_km"] - a["kp_km"], abs=KM), where
        band = by_type[s["cable_type"]]
        assert s["slack_pct"] == band.slack_pct, where
        assert s["cable_length_km"] == pytest.approx(dist / 1000 * (1 + band.slack_pct / 100), abs=KM), where
        assert s["cable_code"] == s["cable_type"].split(" ")[0], where
        cable += dist / 1000 * (1 + band.slack_pct / 100)
        assert b["cable_kp_km"] == pytest.approx(cable, abs=KM * (k + 1) ** 0.5), where
        if s["surface"] == "land":
            assert s["sector"] in ("", None) or (isinstance(s["sector"], float) and np.isnan(s["sector"])), where
            assert np.isnan(s["burial_depth_m"]), where
        else:
            assert s["burial_depth_m"] == band.burial_depth_m, where


def read_xlsx_sheet(path: Path, sheet: str, columns: Sequence[str]) -> pd.DataFrame:
    """A sheet of the surveyor's workbook as a frame with the CSV's column names (each header mapped back through
    the writer's header table); empty cells NaN. Fails if a column's header is missing."""
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    heads = list(rows[0])
    names = {**HEADERS, **SEGMENT_HEADERS} if sheet == "Segments" else HEADERS
    index = {c: heads.index(names.get(c, header(c))) for c in columns}
    data = {c: [r[i] for r in rows[1:]] for c, i in index.items()}
    return pd.DataFrame(data).infer_objects()
