"""Four diverse pairs of the landing-pair battery (tests/battery.yaml, `make battery` runs them all) through the whole
Dagster graph on the real mirror: each publishes, passes every blocking check, starts and ends at its stations,
stays off the vector land beyond its shore ends and keeps its land sections on land.

The pairs: Baku-Turkmenbashi (a port inside a bay behind a spit: the route used to cross the spit), Makhachkala-Aktau
(the landfall used to put a 7.7 km "land" section across water), Lagan-Bautino (the northern shallow shelf: its sea
cells read above the water surface) and Ekerem-Bandar Torkaman (Gorgan bay behind the Miankaleh spit, entered by a
channel under 2 km wide: the route crossed the spit).
About two minutes.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import pytest
import shapely

import assets.common
import assets.config
from geodata.geodesy import GEOD, transformer
from geodata.publish.atomic import verify_manifest
from pipelines.definitions import STAGES

pytestmark = pytest.mark.integration
PAIRS = (
    "battery-baku-turkmenbashi",
    "battery-makhachkala-aktau",
    "battery-lagan-bautino",
    "battery-ekerem-bandar-torkaman",
)


def _battery_module(root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("battery_script", root / "scripts" / "battery.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["battery_script"] = module
    spec.loader.exec_module(module)
    return module


def _reload_stages() -> list[ModuleType]:
    """Re-read the scenario partitions (fixed when the modules load) and rebuild the asset modules."""
    importlib.reload(assets.config)
    importlib.reload(assets.common)
    return [importlib.reload(m) for m in STAGES]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, root: Path, mirror: Path, node_modules: Path) -> Iterator[Any]:
    battery = _battery_module(root)
    pairs = [p for p in battery.load_pairs() if p.name in PAIRS]
    assert sorted(p.name for p in pairs) == sorted(PAIRS)
    out = tmp_path_factory.mktemp("battery")
    scenarios = out / "scenarios"
    battery.write_scenarios(pairs, scenarios, mirror)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORRIDOR_SCENARIOS", str(scenarios))
        stages = _reload_stages()
        defs = dg.load_assets_from_modules(stages)
        runs: dict[str, Any] = {
            p.name: battery.run_pair(p, out, mirror, scenarios, str(node_modules), assets=list(defs)) for p in pairs
        }
        yield {**runs, "_out": out}
    _reload_stages()


@pytest.mark.parametrize("name", PAIRS)
def test_pair_publishes_with_every_blocking_check_passed(outcomes: dict[str, Any], name: str) -> None:
    o = outcomes[name]
    assert o.published, o.failure
    checks = [
        e.asset_check_evaluation_data for e in o.result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = [
        (c.check_name, c.description) for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []
    names = {c.check_name for c in checks}
    assert {"coverage", "depth_range", "route_clear_of_land", "route_within_allowed_sectors"} <= names
    live = outcomes["_out"] / name / "published" / name / "latest"
    assert verify_manifest(live) == []
    assert (live / "corridor.gpkg").stat().st_size > 0


def geodesy_lonlat(crs: Any, xy: tuple[float, ...]) -> tuple[float, float]:
    lon, lat = transformer(crs, "EPSG:4326").transform(xy[0], xy[1])
    return (float(lon), float(lat))


@pytest.mark.parametrize("name", PAIRS)
def test_route_joins_the_stations_stays_off_land_and_is_plausible(outcomes: dict[str, Any], name: str) -> None:
    o = outcomes[name]
    er = o.result.asset_value("engineered_route")
    coast = o.result.asset_value("coastline")
    line = er.line_lonlat
    for (lon, lat), st in ((line.coords[0], o.pair.stations[0]), (line.coords[-1], o.pair.stations[1])):
        assert GEOD.inv(lon, lat, st["lon_deg"], st["lat_deg"])[2] < 1.0
    # beyond the two shore ends (station, BMH, shore crossing: three vertices each) the route is at sea
    marine = shapely.LineString(line.coords[2:-2])
    over = marine.difference(coast.water_geometry)
    assert over.is_empty or GEOD.geometry_length(over) < 5.0, GEOD.geometry_length(over)
    # the land sections stay on land (no bay or lagoon crossed on the way to the shore), the approach within 30 deg
    # of the coast normal
    for lf in er.landfalls:
        section = shapely.LineString([lf.station_xy, lf.shore_crossing_xy])
        section_ll = shapely.LineString([geodesy_lonlat(er.crs, xy) for xy in section.coords])
        wet = section_ll.intersection(coast.water_geometry)
        assert wet.is_empty or GEOD.geometry_length(wet) < 50.0, (lf.station_name, GEOD.geometry_length(wet))
        assert math.dist(lf.station_xy, lf.shore_crossing_xy) < 10_000
        assert 60.0 <= lf.angle_to_coast_deg <= 90.0
    assert 1.0 <= o.ratio <= 1.35, (o.route_km, o.geodesic_km)
    assert o.kp_count >= int(o.route_km)
