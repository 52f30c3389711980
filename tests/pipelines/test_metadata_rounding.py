"""Dagster metadata numbers are rounded to the precision of their unit (no 15-digit floats); synthetic values."""

from __future__ import annotations

import dagster as dg

from assets.common import metadata, round_for


def test_floats_are_rounded_by_the_unit_in_their_name() -> None:
    md = metadata(
        {
            "route_length_km": 329.49268421365700,
            "max_depth_m": 764.4385584125473,
            "burial_depth_m": 1.5,
            "leg_m": 5.036507622739957e-08,
            "max_slope_deg": 1.316949958923303,
            "lat_deg": 41.078300000000006,
            "plain": 0.1000113932511158,
            "sector_lengths_km": {"AZE": 159.40460299999998, "KAZ": 168.222005},
            "rows": 20,
            "flag": True,
        }
    )
    assert md["route_length_km"] == 329.493
    assert md["max_depth_m"] == 764.0
    assert md["burial_depth_m"] == 1.5
    assert md["leg_m"] == 0.0
    assert md["max_slope_deg"] == 1.3
    assert md["lat_deg"] == 41.0783
    assert md["plain"] == 0.100011
    assert isinstance(md["sector_lengths_km"], dg.JsonMetadataValue)
    assert md["sector_lengths_km"].data == {"AZE": 159.405, "KAZ": 168.222}
    assert md["rows"] == 20
    assert md["flag"] is True
    assert round_for("kp_km", -0.0001) == 0.0  # never a negative zero
    assert str(round_for("length_km", 0.1 + 0.2)) == "0.3"
