"""The landing-pair battery (issue #13): every pair of ``tests/battery.yaml`` through the whole Dagster graph on the
real mirror, one pair after the other, and a table of what came out.

    python scripts/battery.py [--only NAME ...] [--out FOLDER] [--mirror FOLDER]

A pair's scenario is the packaged default with the two stations swapped in, the area of interest derived from the
stations (their box with ``AOI_MARGIN_DEG`` round it, clipped to the bathymetry's extent) and, for pairs whose states'
sectors do not touch, the allowed sectors the pair names. Each pair is materialised in-process (as
``tests/pipelines/test_integration.py`` does) with its own store and publication folder under ``--out``; the table
prints per pair: status, route length, geodesic distance, their ratio, A/C count, crossings, sectors crossed, KP
count, wall time and, for a failure, its class and message (the failed step's error or the failed blocking check).
Exit status 1 when any pair did not publish.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's packages, not whichever the shared editable install points at
PAIRS_FILE = ROOT / "tests" / "battery.yaml"
AOI_MARGIN_DEG = 1.0
"""Margin round the two stations' lon/lat box: room for the route to bend round a peninsula or a shelf."""
BATHYMETRY_SOURCE = "srtm30plus_caspian"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
"""Run config keeping Dagster's per-event log lines off the terminal (the table says what happened)."""


@dataclass(frozen=True)
class Pair:
    name: str
    case: str
    stations: tuple[dict[str, Any], dict[str, Any]]
    allowed_sectors: list[str] | None
    resolution_m: float | None = None


def load_pairs(path: Path = PAIRS_FILE) -> list[Pair]:
    """The battery's pairs, stations resolved from their keys."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    stations = data["stations"]
    pairs = []
    for entry in data["pairs"]:
        a, b = entry["stations"]
        pairs.append(
            Pair(
                name=f"battery-{a}-{b}",
                case=entry["case"],
                stations=(stations[a], stations[b]),
                allowed_sectors=entry.get("allowed_sectors"),
                resolution_m=entry.get("resolution_m"),
            )
        )
    return pairs


def data_extent(mirror: Path) -> tuple[float, float, float, float]:
    """The lon/lat bounds of the bathymetry the battery routes on."""
    import rasterio

    from geodata.sources.catalogue import resolve

    path = resolve(BATHYMETRY_SOURCE, mirror=mirror, cache=None, allow_download=False).path
    with rasterio.open(path) as src:
        b = src.bounds
    return (b.left, b.bottom, b.right, b.top)


def scenario_dict(pair: Pair, extent: tuple[float, float, float, float]) -> dict[str, Any]:
    """The scenario of one pair: stations, derived area of interest, the default everything else."""
    lons = [s["lon_deg"] for s in pair.stations]
    lats = [s["lat_deg"] for s in pair.stations]
    w, s, e, n = extent
    aoi = {
        "west_deg": round(max(w, min(lons) - AOI_MARGIN_DEG), 4),
        "south_deg": round(max(s, min(lats) - AOI_MARGIN_DEG), 4),
        "east_deg": round(min(e, max(lons) + AOI_MARGIN_DEG), 4),
        "north_deg": round(min(n, max(lats) + AOI_MARGIN_DEG), 4),
    }
    data: dict[str, Any] = {
        "name": pair.name,
        "title": f"Battery: {pair.stations[0]['name']} - {pair.stations[1]['name']}",
        "description": pair.case,
        "landing_stations": [{k: st[k] for k in ("name", "country", "lat_deg", "lon_deg")} for st in pair.stations],
        "area_of_interest": aoi,
        "bathymetry": {"sources": [{"source": BATHYMETRY_SOURCE, "priority": 0}]},
    }
    if pair.allowed_sectors:
        data["boundaries"] = {"allowed_sectors": list(pair.allowed_sectors)}
    if pair.resolution_m:
        data["analysis"] = {"resolution_m": float(pair.resolution_m)}
    return data


def write_scenarios(pairs: list[Pair], folder: Path, mirror: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    extent = data_extent(mirror)
    for pair in pairs:
        (folder / f"{pair.name}.yaml").write_text(yaml.safe_dump(scenario_dict(pair, extent), sort_keys=False))


@dataclass
class Outcome:
    pair: Pair
    published: bool
    wall_s: float
    route_km: float | None = None
    geodesic_km: float | None = None
    alter_courses: int | None = None
    crossings: int | None = None
    sectors: str = ""
    kp_count: int | None = None
    land_km: float | None = None
    failure: str = ""
    result: Any = None

    @property
    def ratio(self) -> float | None:
        if self.route_km is None or not self.geodesic_km:
            return None
        return self.route_km / self.geodesic_km


def _failure(result: Any) -> str:
    """The failed blocking checks ('check asset.name: description'), else the first failed step's error as
    'Class: message'."""
    import dagster as dg

    failed = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            c = event.asset_check_evaluation_data
            if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR:
                failed.append(f"check {c.asset_key.to_user_string()}.{c.check_name}: {c.description or ''}".strip())
    if failed:
        return " | ".join(failed)
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            err = event.event_specific_data.error
            while err.cause is not None and err.cls_name == "DagsterExecutionStepExecutionError":
                err = err.cause
            return f"{err.cls_name}: {err.message.strip()}"
    return "not published (no failed step or check reported)"


def run_pair(
    pair: Pair, out: Path, mirror: Path, scenarios: Path, node_modules: str = "", assets: list[Any] | None = None
) -> Outcome:
    """Materialise every asset of one pair (``assets``: the code location's unless given); what came out
    (``Outcome.result`` holds the in-process result for inspection)."""
    from pyproj import Geod

    from assets.config import CorridorSettings
    from pipelines.runner import materialize_scenario

    root = out / pair.name
    settings = CorridorSettings(
        mirror_dir=str(mirror),
        cache_dir=str(out / "cache"),
        output_dir=str(root / "published"),
        store_dir=str(root / "store"),
        scenarios_dir=str(scenarios),
        node_modules_dir=node_modules,
    )  # no pair has a sweep section: the sweep asset is skipped
    a, b = pair.stations
    geodesic_km = Geod(ellps="WGS84").inv(a["lon_deg"], a["lat_deg"], b["lon_deg"], b["lat_deg"])[2] / 1000
    t0 = time.perf_counter()
    try:
        result = materialize_scenario(pair.name, settings, raise_on_error=False, run_config=QUIET, assets=assets)
    except Exception as exc:  # noqa: BLE001 (a battery reports every failure and goes on to the next pair)
        return Outcome(pair, False, time.perf_counter() - t0, geodesic_km=geodesic_km, failure=_describe(exc))
    wall = time.perf_counter() - t0
    materialised = {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key is not None
    }
    outcome = Outcome(
        pair, "published_corridor" in materialised and result.success, wall, geodesic_km=geodesic_km, result=result
    )
    if "engineered_route" in materialised:
        er = result.asset_value("engineered_route")
        outcome.route_km = Geod(ellps="WGS84").geometry_length(er.line_lonlat) / 1000
        outcome.alter_courses = len(er.alter_courses)
        outcome.crossings = len(er.crossings)
        outcome.land_km = max(math.dist(lf.station_xy, lf.shore_crossing_xy) for lf in er.landfalls) / 1000
    if "route_position_list" in materialised:
        rd = result.asset_value("route_position_list")
        outcome.kp_count = len(rd.kp_points)
        if len(rd.sector_spans):
            outcome.sectors = ">".join(c if isinstance(c, str) else "none" for c in rd.sector_spans["country"])
    if not outcome.published:
        outcome.failure = _failure(result)
    return outcome


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip()}"


def _fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "-".rjust(int(spec.split(".")[0].rstrip("df")))


def print_table(outcomes: list[Outcome], width: int = 160) -> None:
    head = (
        f"{'pair':<34} {'status':<9} {'route km':>8} {'geod km':>8} {'ratio':>5} {'A/C':>4} {'X':>3} "
        f"{'KP':>4} {'land km':>7} {'wall s':>6}  sectors / failure"
    )
    print(head)
    print("-" * len(head))
    for o in outcomes:
        status = "published" if o.published else "FAILED"
        tail = o.sectors if o.published else o.failure.replace("\n", " ")
        print(
            f"{o.pair.name.removeprefix('battery-'):<34} {status:<9} {_fmt(o.route_km, '8.1f')} "
            f"{_fmt(o.geodesic_km, '8.1f')} {_fmt(o.ratio, '5.2f')} {_fmt(o.alter_courses, '4d')} "
            f"{_fmt(o.crossings, '3d')} {_fmt(o.kp_count, '4d')} {_fmt(o.land_km, '7.1f')} {o.wall_s:6.0f}  "
            f"{tail[: width - 92]}"
        )
    print(
        "A/C: alter courses; X: crossings (pipelines, cables, shipping lanes, faults); KP: KP points; land km: the "
        "longer station-to-shore land section; sectors: the seabed sectors crossed in order ('none': land and the "
        "coastal strip no sector polygon covers)"
    )
    failed = [o for o in outcomes if not o.published]
    if failed:
        print("\nfailures in full:")
        for o in failed:
            print(f"- {o.pair.name.removeprefix('battery-')}: {o.failure}")
    ok = sum(o.published for o in outcomes)
    print(f"\n{ok}/{len(outcomes)} published ({100 * ok / max(len(outcomes), 1):.0f} %)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=[], help="pair names (without 'battery-') or substrings")
    parser.add_argument("--out", type=Path, default=ROOT / ".battery", help="stores, publications, scenarios")
    parser.add_argument("--mirror", type=Path, default=ROOT.parent / "shared" / "geodata-mirror")
    parser.add_argument("--node-modules", default="", help="the web map's npm packages (default: the repository's)")
    args = parser.parse_args(argv)
    pairs = [p for p in load_pairs() if not args.only or any(s in p.name for s in args.only)]
    if not pairs:
        parser.error(f"no pair matches {args.only}")
    out = args.out.resolve()
    scenarios = out / "scenarios"
    write_scenarios(pairs, scenarios, args.mirror)
    # The scenario partitions are read when the code location loads: point it at the battery's scenarios first.
    os.environ["CORRIDOR_SCENARIOS"] = str(scenarios)
    outcomes = []
    for pair in pairs:
        outcome = run_pair(pair, out, args.mirror, scenarios, args.node_modules)
        status = "published" if outcome.published else f"FAILED {outcome.failure[:200]}"
        print(f"[{pair.name}] {status} in {outcome.wall_s:.0f} s", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    print_table(outcomes)
    return 0 if all(o.published for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
