"""``corridor``: the analyst's loop on the command line.

``corridor new NAME --from LON,LAT --to LON,LAT`` writes a scenario file, ``corridor validate NAME`` checks it
(schema, files, memory, folders, stations against the Caspian's water: every problem at once, with its position and
fix), ``corridor run NAME`` materialises it with Dagster in this process (the run is recorded in ``DAGSTER_HOME``,
so ``make dev`` shows it) and prints where the publication is; ``corridor list``, ``corridor schema`` and
``corridor serve`` list the scenarios, print the JSON Schema of a scenario file and serve a published web map.

Every setting comes from the environment through :mod:`assets.config` (``CORRIDOR_MIRROR``, ``CORRIDOR_SCENARIOS``,
``CORRIDOR_OUTPUT`` ...), exactly as for ``dagster dev``. Exit status: 0 done, 1 a run did not publish, 2 a scenario
or setting is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geodata.errors import CorridorError
from geodata.scenario import (
    LandingStation,
    Scenario,
    closest_first,
    load_scenario,
    load_yaml,
    parse_scenario,
    scenario_files,
    scenario_json_schema,
    scenario_template,
)

if TYPE_CHECKING:
    from assets.config import CorridorSettings

app = typer.Typer(
    name="corridor",
    help="Plan a submarine cable corridor across the Caspian: new, validate, run, list, schema, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

EXIT_RUN_FAILED = 1
EXIT_INVALID = 2


def _fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> CorridorSettings:
    """The code location's settings, read from the environment when first asked (so that a wrong setting, such as
    CORRIDOR_SCENARIOS naming no folder, is one error message from :func:`main`, not a traceback at import)."""
    from assets.config import SETTINGS

    return SETTINGS


def _load(ref: str, settings: CorridorSettings) -> Scenario:
    """A scenario by name (packaged or in CORRIDOR_SCENARIOS) or by path to its YAML file."""
    return load_scenario(ref, folder=settings.scenarios)


def _is_path(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml")) or "/" in ref


# -- validate ------------------------------------------------------------------------------------------------------


def preflight_problems(scenario: Scenario, settings: CorridorSettings) -> list[str]:
    """Every problem a run of ``scenario`` would hit before its first result, each with its position and fix: user
    files (missing, unreadable), catalogue sources (not in the mirror or cache), memory and folders, and landing
    stations far from the Caspian's water."""
    from assets.common import preflight
    from geodata.boundaries.stations import read_caspian_water, station_reach
    from geodata.sources.snapshot import take_snapshot

    problems: list[str] = []
    try:
        snap = take_snapshot(scenario)
        preflight(settings, snap)
    except CorridorError as exc:
        problems.append(str(exc))
    needed = [s.source for s in scenario.bathymetry.sources] + [
        scenario.coastline.source,
        scenario.coastline.countries_source,
    ]
    resolved = {}
    from geodata.sources.catalogue import load_catalogue

    catalogue = load_catalogue()
    for name in dict.fromkeys(n for n in needed if n in catalogue):
        try:
            resolved[name] = settings.resolve(name, scenario)
        except CorridorError as exc:
            problems.append(f"source '{name}': {exc}")
    coast = resolved.get(scenario.coastline.source)
    if coast is not None:
        try:
            water = read_caspian_water(coast.path)
        except CorridorError as exc:
            problems.append(str(exc))
        else:
            stations = [(s.name, s.lon_deg, s.lat_deg) for s in scenario.landing_stations]
            problems += [r.problem for r in station_reach(stations, water) if r.problem]
    return problems


@app.command()
def validate(
    scenarios: Annotated[list[str], typer.Argument(help="scenario names or paths to scenario YAML files")],
    schema_only: Annotated[bool, typer.Option("--schema-only", help="check the file only, no pre-flight")] = False,
) -> None:
    """Check scenario files: the schema (every problem at once, with its line and the fix), then the pre-flight
    checks a run would make (files, sources, memory, folders, stations within reach of the Caspian's water)."""
    settings = _settings()
    bad = 0
    for ref in scenarios:
        try:
            scenario = _load(ref, settings)
        except CorridorError as exc:
            typer.echo(f"✗ {ref}\n{exc}", err=True)
            bad += 1
            continue
        problems = [] if schema_only else preflight_problems(scenario, settings)
        if problems:
            typer.echo(f"✗ {scenario.name}: {len(problems)} problem(s) before a run could start:", err=True)
            for p in problems:
                typer.echo("  - " + p.replace("\n", "\n    "), err=True)
            bad += 1
            continue
        aoi = scenario.area_of_interest
        how = f"derived, margin {aoi.margin_km:g} km" if aoi.margin_km is not None else "given"
        typer.echo(
            f"✓ {scenario.name}: {scenario.title}; area {aoi.west_deg}..{aoi.east_deg} E, "
            f"{aoi.south_deg}..{aoi.north_deg} N ({how}); {scenario.analysis.resolution_m:g} m cells in "
            f"{scenario.analysis_crs()}"
        )
    if bad:
        raise typer.Exit(EXIT_INVALID)


# -- run -----------------------------------------------------------------------------------------------------------


def _partition_name(ref: str, settings: CorridorSettings) -> str:
    """The partition a scenario reference runs as; a file outside the scenario folders is refused with the fix."""
    scenario = _load(ref, settings)
    if not _is_path(ref):
        return scenario.name
    known = scenario_files(settings.scenarios)
    entry = known.get(scenario.name)
    if entry is None or Path(str(entry)).resolve() != Path(ref).resolve():
        folder = Path(ref).resolve().parent
        raise CorridorError(
            f"{ref} is not in a scenario folder this code location reads, so Dagster has no partition for it; "
            f"export CORRIDOR_SCENARIOS={folder} and run `corridor run {scenario.name}`"
        )
    return scenario.name


@app.command()
def run(
    scenarios: Annotated[list[str], typer.Argument(help="scenario names (or their files in CORRIDOR_SCENARIOS)")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Dagster's logs and check warnings too")] = False,
) -> None:
    """Materialise every asset of each scenario with Dagster in this process (recorded in DAGSTER_HOME, shown by
    `make dev`), one line per asset; print where the publication is, or each failure with its position and fix
    and the diagnostics GeoPackage."""
    from pipelines.runner import run_scenario

    settings = _settings()
    names = []
    for ref in scenarios:
        try:
            names.append(_partition_name(ref, settings))
        except CorridorError as exc:
            raise _fail(str(exc)) from None
    failed = 0
    for name in names:
        scenario = _load(name, settings)
        typer.echo(f"{name}: {scenario.title}")
        outcome = run_scenario(scenario, echo=typer.echo, verbose=verbose)
        if outcome.success:
            live = settings.output_root / name
            typer.echo(f"published {name} in {outcome.seconds:.0f} s: {live.resolve()}/")
            typer.echo(f"  version {outcome.publication.name if outcome.publication else '?'} (latest -> versions/)")
            typer.echo(f"  open {live.resolve() / 'corridor.gpkg'} in QGIS; web map: corridor serve {name}")
        else:
            failed += 1
            err = outcome.error()
            typer.echo(f"error: {type(err).__name__}: {err}", err=True)
    if failed:
        raise typer.Exit(EXIT_RUN_FAILED)


# -- list, schema, new, serve --------------------------------------------------------------------------------------


@app.command("list")
def list_scenarios() -> None:
    """The scenarios this code location knows: name, title, where the file is, and the live publication."""
    from geodata.publish.atomic import live_version

    settings = _settings()
    for name, entry in scenario_files(settings.scenarios).items():
        path = Path(str(entry))
        where = "packaged" if "geodata/data/scenarios" in path.as_posix() else str(path.parent)
        try:
            title = _load(name, settings).title
        except CorridorError as exc:
            title = "INVALID: " + str(exc).splitlines()[1].strip() if "\n" in str(exc) else f"INVALID: {exc}"
        live = live_version(settings.output_root / name)
        published = f"published {live.name}" if live else "not published"
        typer.echo(f"{name:<28} {title}  [{where}; {published}]")


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file instead")] = None,
) -> None:
    """The JSON Schema of a scenario file (editors such as VS Code validate and complete YAML with it)."""
    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


def _lonlat(text: str, option: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise _fail(f"{option} {text!r}: give longitude,latitude in degrees, e.g. {option} 49.87,40.37") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _fail(f"{option} {text}: longitude must be in -180..180 and latitude in -90..90 (lon,lat order)")
    return lon, lat


def _country_of(lon: float, lat: float, settings: CorridorSettings, option: str) -> str:
    """ISO3 of the Natural Earth country nearest the point (the catalogue's countries, from the mirror)."""
    import geopandas as gpd
    import numpy as np
    import pyogrio
    from shapely.geometry import Point

    from geodata.boundaries.validate import iso3_column

    sc = Scenario.model_fields["coastline"].get_default(call_default_factory=True)
    try:
        src = settings.resolve(sc.countries_source, _load("siyazan-aktau", settings))
    except CorridorError as exc:
        raise _fail(f"{option}: cannot look up the country ({exc}); give it with {option}-country ISO3") from None
    frame = pyogrio.read_dataframe(src.path, layer=sc.countries_layer, bbox=(lon - 5, lat - 5, lon + 5, lat + 5))
    if frame.empty:
        raise _fail(f"{option} {lon},{lat}: no country within 5 degrees; give it with {option}-country ISO3")
    codes = iso3_column(frame, sc.countries_layer)
    local = gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326").estimate_utm_crs()
    dist = frame.to_crs(local).distance(gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326").to_crs(local).iloc[0])
    return str(np.asarray(codes)[int(dist.to_numpy().argmin())])


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="scenario name: lower-case letters, digits, - and _")],
    from_: Annotated[str, typer.Option("--from", help="first landing station: longitude,latitude (degrees)")],
    to: Annotated[str, typer.Option("--to", help="second landing station: longitude,latitude (degrees)")],
    from_name: Annotated[str, typer.Option(help="name of the first station")] = "Station A",
    to_name: Annotated[str, typer.Option(help="name of the second station")] = "Station B",
    from_country: Annotated[str | None, typer.Option(help="ISO3 of the first station (default: nearest)")] = None,
    to_country: Annotated[str | None, typer.Option(help="ISO3 of the second station (default: nearest)")] = None,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="folder to write to (default: CORRIDOR_SCENARIOS, else ./scenarios)")
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a scenario file for two landing stations: the required keys, then every other key commented out at
    its default with its unit and range. Countries default to the nearest Natural Earth country."""
    settings = _settings()
    a_lon, a_lat = _lonlat(from_, "--from")
    b_lon, b_lat = _lonlat(to, "--to")
    a_iso = from_country or _country_of(a_lon, a_lat, settings, "--from")
    b_iso = to_country or _country_of(b_lon, b_lat, settings, "--to")
    try:
        stations = [
            LandingStation(name=from_name, country=a_iso, lon_deg=a_lon, lat_deg=a_lat),
            LandingStation(name=to_name, country=b_iso, lon_deg=b_lon, lat_deg=b_lat),
        ]
    except ValueError as exc:
        raise _fail(str(exc)) from None
    target_dir = folder or settings.scenarios or Path("scenarios")
    target = target_dir / f"{name}.yaml"
    if target.exists() and not force:
        raise _fail(f"{target} exists; pick another name or pass --force to overwrite it")
    text = scenario_template(name, stations)
    try:
        parse_scenario(load_yaml(text, str(target)), str(target))
    except CorridorError as exc:
        raise _fail(str(exc)) from None
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    typer.echo(f"wrote {target} ({stations[0].name} {a_iso} -> {stations[1].name} {b_iso})")
    in_folder = settings.scenarios is not None and settings.scenarios.resolve() == target_dir.resolve()
    if not in_folder:
        typer.echo(
            "  validate and run find it by name once CORRIDOR_SCENARIOS names its folder: "
            f"export CORRIDOR_SCENARIOS={target_dir.resolve()}"
        )
    typer.echo(f"  next: corridor validate {name}   then: corridor run {name}")


@app.command()
def serve(
    scenario: Annotated[str, typer.Argument(help="a published scenario")],
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = any free port)")] = 8000,
) -> None:
    """Serve the published web map of a scenario on localhost (PMTiles needs HTTP range requests)."""
    from geodata.publish.webmap import serve as serve_folder
    from geodata.publish.webmap import serve_until_interrupted

    settings = _settings()
    folder = settings.output_root / scenario
    if not (folder / "index.html").exists():
        known = (
            [p.name for p in settings.output_root.iterdir() if (p / "index.html").exists()]
            if (settings.output_root.is_dir())
            else []
        )
        order = ", ".join(closest_first(scenario, known)) or "none yet"
        raise _fail(f"{folder} holds no published web map; published (closest first): {order}. Run: corridor run NAME")
    serve_until_interrupted(serve_folder(folder, port=port), folder, typer.echo)


def main() -> None:
    """Entry point of the ``corridor`` console script: library errors print as one message, not a traceback."""
    try:
        app()
    except CorridorError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(EXIT_INVALID) from None


if __name__ == "__main__":
    main()
