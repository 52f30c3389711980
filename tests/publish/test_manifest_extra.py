"""manifest.json records the Caspian water level (value, source, date, effect) and the area of interest."""

from __future__ import annotations

import json
from pathlib import Path

from geodata.publish.atomic import publish
from geodata.publish.compose import manifest_extra
from geodata.scenario import load_scenario, parse_scenario


def test_manifest_records_the_water_level_and_the_area(tmp_path: Path) -> None:
    sc = load_scenario("siyazan-aktau")
    result = publish(
        sc.name,
        lambda folder: (folder / "x.txt").write_text("x"),
        root=tmp_path,
        run_id="r1",
        scenario_digest=sc.digest(),
        extra=manifest_extra(sc),
    )
    manifest = json.loads((result.version_dir / "manifest.json").read_text())
    level = manifest["extra"]["water_level"]
    assert level["water_level_m"] == sc.bathymetry.water_level_m == -28.0
    assert level["source"] == sc.bathymetry.water_level_source
    assert level["date"] == "1998/2003"
    assert "treaties' level" in level["effect"]
    assert manifest["extra"]["area_of_interest"] == {
        "bounds_deg": [48.0, 39.8, 53.0, 45.0],  # as written in siyazan-aktau.yaml
        "derived_from_stations": False,
        "margin_km": None,
    }
    derived = parse_scenario(
        {
            "name": "derived",
            "landing_stations": [
                {"name": "A", "country": "AZE", "lat_deg": 40.37, "lon_deg": 49.87},
                {"name": "B", "country": "TKM", "lat_deg": 40.02, "lon_deg": 52.97},
            ],
        }
    )
    assert manifest_extra(derived)["area_of_interest"]["derived_from_stations"] is True
