"""Design against as-laid (geodata.deliverables.aslaid): synthetic as-laid RPLs made from a known design route with
known offsets, written in the RPL format the project publishes, read back and compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

from geodata.deliverables import aslaid
from geodata.deliverables.formats import write_xlsx
from geodata.deliverables.rpl import POSITION_COLUMNS, write_rpl_csv
from geodata.geodesy import Chainage, format_dm

# A synthetic design route across the middle Caspian: three geodesic legs, about 330 km, KP 0 at its first vertex.
DESIGN = LineString([(49.11, 41.08), (49.9, 41.6), (50.6, 42.7), (51.15, 43.65)])
GRID_CELL_M = 1000.0  # the default scenario's analysis resolution


def known_offset(kp_km: np.ndarray) -> np.ndarray:
    """Synthetic offsets (m, + starboard): 0 near the ends, +400 m from KP 20 to 100, -800 m from KP 150 to 250,
    with 5 km linear ramps between."""
    kp = np.asarray(kp_km, dtype=float)
    up = np.interp(kp, [15, 20, 100, 105], [0, 400, 400, 0])
    down = np.interp(kp, [145, 150, 250, 255], [0, -800, -800, 0])
    return up + down


def _positions(line: LineString, kp_km: np.ndarray, *, slack_pct: float) -> pd.DataFrame:
    """An RPL position table with every published column (synthetic values where the comparison needs none)."""
    ll = np.asarray(line.coords)
    frame = pd.DataFrame({c: [None] * len(ll) for c in POSITION_COLUMNS})
    frame["pos_no"] = np.arange(1, len(ll) + 1)
    frame["event"] = "A/C"
    frame["lon_deg"], frame["lat_deg"] = ll[:, 0], ll[:, 1]
    frame["lat_dm"] = [format_dm(v, "lat") for v in ll[:, 1]]
    frame["lon_dm"] = [format_dm(v, "lon") for v in ll[:, 0]]
    frame["kp_km"] = kp_km
    frame["cable_kp_km"] = kp_km * (1 + slack_pct / 100.0)
    return frame


def _design_record() -> aslaid.RouteRecord:
    ch = Chainage(DESIGN)
    return aslaid.rpl_record(_positions(DESIGN, ch.vertex_kp_km, slack_pct=2.0), "design")


def _as_laid_csv(tmp_path: Path, *, slack_pct: float = 3.0) -> Path:
    line, _ = aslaid.offset_route(DESIGN, known_offset, step_m=500.0)
    kp = Chainage(line).vertex_kp_km
    return write_rpl_csv(_positions(line, kp, slack_pct=slack_pct), tmp_path / "as_laid_rpl.csv")


def test_as_laid_offsets_are_recovered_within_a_grid_cell(tmp_path: Path) -> None:
    laid = aslaid.rpl_record(aslaid.read_rpl(_as_laid_csv(tmp_path)), "as laid")
    result = aslaid.compare_as_laid(_design_record(), laid, interval_m=1000.0, range_km=10.0)
    off = result.offsets
    expected = known_offset(off["kp_km"].to_numpy())
    error = np.abs(off["offset_m"].to_numpy() - expected)
    assert error.max() < GRID_CELL_M
    # away from the ramps and the A/C points the recovery is far better than a cell (RPL rounding is 1e-6 deg)
    kp = off["kp_km"].to_numpy()
    near_ac = np.min(np.abs(kp[:, None] - Chainage(DESIGN).vertex_kp_km[None, :]), axis=1) < 3.0
    plateau = (off["kp_km"].between(30, 90) | off["kp_km"].between(160, 240)).to_numpy() & ~near_ac
    assert plateau.sum() > 100
    assert error[plateau].max() < 1.0
    assert off.loc[off["kp_km"].between(30, 90), "offset_m"].mean() == pytest.approx(400.0, abs=2.0)
    assert off.loc[off["kp_km"].between(160, 240), "offset_m"].mean() == pytest.approx(-800.0, abs=2.0)
    # KP translation: on the plateaux the as-laid KP tracks the design KP (offsets are sideways)
    drift = (off["as_laid_kp_km"] - off["kp_km"]).abs()
    assert drift[off["kp_km"] < 15].max() < 0.01
    summary = result.summary()
    assert summary["max_abs_offset_m"] == pytest.approx(800.0, abs=5.0)
    assert 150.0 <= summary["max_offset_at_kp_km"] <= 250.0


def test_slack_used_against_planned(tmp_path: Path) -> None:
    laid = aslaid.rpl_record(aslaid.read_rpl(_as_laid_csv(tmp_path, slack_pct=3.0)), "as laid")
    ranges = aslaid.compare_as_laid(_design_record(), laid, range_km=50.0).ranges
    np.testing.assert_allclose(ranges["planned_slack_pct"], 2.0, atol=0.01)
    np.testing.assert_allclose(ranges["slack_used_pct"], 3.0, atol=0.05)
    assert ranges["kp_from_km"].iloc[0] == 0.0
    assert ranges["kp_to_km"].iloc[-1] == pytest.approx(Chainage(DESIGN).length_m / 1000.0, abs=0.01)


def test_excel_and_degrees_minutes_and_aliases_read_alike(tmp_path: Path) -> None:
    csv = aslaid.read_rpl(_as_laid_csv(tmp_path))
    xlsx = write_xlsx({"Positions": csv}, tmp_path / "as_laid.xlsx")
    from_xlsx = aslaid.read_rpl(xlsx)
    np.testing.assert_allclose(from_xlsx["lat_deg"], csv["lat_deg"])
    dm_only = csv.drop(columns=["lat_deg", "lon_deg"])
    dm_only.to_csv(tmp_path / "dm.csv", index=False)
    from_dm = aslaid.read_rpl(tmp_path / "dm.csv")
    np.testing.assert_allclose(from_dm["lat_deg"], csv["lat_deg"], atol=1e-5)  # 0.001' = 1.7e-5 deg
    log = pd.DataFrame({"Latitude": csv["lat_deg"], "Longitude": csv["lon_deg"], "KP": csv["kp_km"]})
    log.to_csv(tmp_path / "log.csv", index=False)
    assert list(aslaid.read_rpl(tmp_path / "log.csv")[["lat_deg", "lon_deg", "kp_km"]].columns) == [
        "lat_deg", "lon_deg", "kp_km"
    ]  # fmt: skip


def test_parse_dm() -> None:
    assert aslaid.parse_dm("41°04.698'N") == pytest.approx(41 + 4.698 / 60)
    assert aslaid.parse_dm("049°06.750'W") == pytest.approx(-(49 + 6.75 / 60))
    assert np.isnan(aslaid.parse_dm("41 N"))


def test_invalid_rpls_are_named_errors(tmp_path: Path) -> None:
    with pytest.raises(aslaid.AsLaidError, match="does not exist"):
        aslaid.read_rpl(tmp_path / "missing.csv")
    pd.DataFrame({"kp_km": [0, 1]}).to_csv(tmp_path / "nocoords.csv", index=False)
    with pytest.raises(aslaid.AsLaidError, match="no lat_deg or lon_deg column"):
        aslaid.read_rpl(tmp_path / "nocoords.csv")
    bad = pd.DataFrame({"lat_deg": [41.0, "x", 95.0, 41.3], "lon_deg": [49.0, 49.1, 49.2, 49.3], "kp_km": [0, 2, 1, 3]})
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(aslaid.AsLaidError) as err:
        aslaid.read_rpl(tmp_path / "bad.csv")
    text = str(err.value)
    assert "lat_deg: not a number at row 3" in text
    assert "lat_deg: outside +-90 degrees at row 4" in text
    assert "kp_km: decreases at row 4" in text
    one = pd.DataFrame({"lat_deg": [41.0], "lon_deg": [49.0]})
    with pytest.raises(aslaid.AsLaidError, match="at least two"):
        aslaid.validate_rpl(one, "one.csv")
