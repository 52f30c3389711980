"""Route comparison (geodata.deliverables.compare) on synthetic routes with known distances."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from geodata.deliverables import aslaid
from geodata.deliverables.compare import RouteRecord, frechet_m, hausdorff_m, kp_translation, metrics_table
from geodata.errors import InputDataError
from geodata.geodesy import Chainage

A = LineString([(49.2, 41.1), (50.2, 42.3), (51.1, 43.6)])


def _shifted(offset_m: float) -> LineString:
    return aslaid.offset_route(A, lambda kp: np.full_like(kp, offset_m), step_m=250.0)[0]


def test_parallel_routes_are_their_offset_apart() -> None:
    b = _shifted(1500.0)
    assert hausdorff_m(A, b) == pytest.approx(1500.0, rel=0.02)
    assert frechet_m(A, b, step_m=250.0) == pytest.approx(1500.0, rel=0.05)


def test_frechet_sees_order_that_hausdorff_does_not() -> None:
    plain = LineString([(49.2, 41.1), (50.0, 42.0), (51.1, 43.6)])
    lon, lat = Chainage(plain).point_at(Chainage(plain).vertex_kp_km[1] * 500.0)  # half-way along the first leg
    back = (float(lon[0]), float(lat[0]))
    there_and_back = LineString([(49.2, 41.1), (50.0, 42.0), back, (50.0, 42.0), (51.1, 43.6)])
    assert hausdorff_m(plain, there_and_back) < 100.0
    assert frechet_m(plain, there_and_back, step_m=1000.0) > 20_000.0


def test_kp_translation_recovers_kp_and_signed_offset() -> None:
    tr = kp_translation(A, _shifted(-700.0), interval_m=5000.0)
    inner = tr[(tr["kp_km"] > 5) & (tr["kp_km"] < tr["kp_km"].max() - 5)]
    inner = inner[np.min(np.abs(inner["kp_km"].to_numpy()[:, None] - Chainage(A).vertex_kp_km), axis=1) > 3]
    np.testing.assert_allclose(inner["offset_m"], -700.0, atol=2.0)  # to port
    # KP on the other route runs with KP on A; past the A/C the parallel route on the inside of the turn is shorter
    # by 2 d tan(turn / 2) (a corner offset inwards)
    ch = Chainage(A)
    turn = np.radians(abs(ch.course_changes_deg()[1]))
    drift = (inner["other_kp_km"] - inner["kp_km"]).to_numpy()
    before = inner["kp_km"].to_numpy() < ch.vertex_kp_km[1]
    np.testing.assert_allclose(drift[before], 0.0, atol=0.002)
    np.testing.assert_allclose(drift[~before], -2 * 0.7 * np.tan(turn / 2), atol=0.003)
    assert tr["kp_km"].iloc[0] == 0.0


def _record(name: str, line: LineString, crossings: list[tuple[str, str, float]]) -> RouteRecord:
    kp = Chainage(line).vertex_kp_km
    ll = np.asarray(line.coords)
    pos = pd.DataFrame({"lon_deg": ll[:, 0], "lat_deg": ll[:, 1], "kp_km": kp, "cable_kp_km": kp * 1.02})
    pos["event"] = ["landing", *["A/C"] * (len(ll) - 2), "landing"]
    seg = pd.DataFrame(
        {"distance_km": np.diff(kp), "cable_code": ["DA", *["SA"] * (len(kp) - 2)], "sector": ["AZE"] * (len(kp) - 1)}
    )
    dense, dist = Chainage(line).densified(100.0)
    xy = np.asarray(dense.coords)
    prof = pd.DataFrame(
        {"kp_km": dist / 1000, "lon_deg": xy[:, 0], "lat_deg": xy[:, 1], "water_depth_m": 100.0 + dist / 1000,
         "slope_deg": 1.0, "surface": "sea"}
    )  # fmt: skip
    cr = pd.DataFrame(crossings, columns=["kind", "name", "kp_km"])
    cr["feature_id"] = cr["name"]
    hz = gpd.GeoDataFrame({"kind": ["wreck"]}, geometry=[Point(49.7, 41.7)], crs="EPSG:4326")
    return RouteRecord(name, line, pos, seg, prof, cr, cost=1000.0 + kp[-1], hazards=hz)


def test_metrics_table_compares_every_metric() -> None:
    a = _record("a", A, [("pipeline", "P1", 10.0), ("cable", "C1", 50.0)])
    b = _record("b", _shifted(3000.0), [("pipeline", "P1", 11.0)])
    table = metrics_table([a, b], hazard_distance_m=5000.0).set_index("metric")
    assert list(table.columns) == ["a", "b", "difference"]
    assert table.loc["crossing_count", "a"] == 2
    assert table.loc["crossings_cable_count", "b"] == 0
    assert table.loc["crossings_cable_count", "difference"] == -1
    assert table.loc["alter_course_count", "a"] == 1
    assert table.loc["hausdorff_from_first_km", "b"] == pytest.approx(3.0, rel=0.03)
    assert table.loc["length_km", "a"] == pytest.approx(Chainage(A).length_m / 1000, abs=0.001)
    assert table.loc["cable_length_km", "a"] == pytest.approx(table.loc["length_km", "a"] * 1.02, abs=0.01)
    assert table.loc["cable_SA_km", "a"] + table.loc["cable_DA_km", "a"] == pytest.approx(
        table.loc["length_km", "a"], abs=0.002
    )
    assert table.index[:5].tolist() == ["length_km", "cable_length_km", "cost", "alter_course_count", "crossing_count"]
    assert table.index[-1] == "frechet_from_first_km"
    assert "km_within_5000_m_of_wreck" in table.index
    with pytest.raises(InputDataError, match="at least two"):
        metrics_table([a])
    with pytest.raises(InputDataError, match="distinct names"):
        metrics_table([a, a])
