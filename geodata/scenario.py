"""Scenarios: everything an analyst changes between runs, in one validated file.

A scenario is a YAML file: the packaged ones live in ``geodata/data/scenarios/``, and analysts may add their own
folder with ``CORRIDOR_SCENARIOS``. Every value carries its unit in its name (``max_slope_deg``, ``buffer_m``).
Validation is strict: an unknown or misspelt key is an error that names the key, its place in the file and the
closest known key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pyproj import CRS, Geod
from pyproj.exceptions import CRSError

from geodata.errors import ConfigError

SCENARIOS_ENV = "CORRIDOR_SCENARIOS"
DEFAULT_SCENARIO = "siyazan-aktau"


def _parse_crs(value: str) -> CRS:
    """A CRS from a user string, or a ValueError naming the string and the forms that work."""
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise ValueError(
            f"'{value}' is not a CRS that PROJ knows; give an EPSG code such as 'EPSG:32639', a PROJ string or WKT"
        ) from None


MIN_STATION_SEPARATION_M = 1000.0
"""Landing stations closer than this are one station given twice: a route between them is no cable route."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LandingStation(_Strict):
    """A cable landing station (the beach manhole is derived from it by the landfall step)."""

    name: str
    country: str = Field(description="ISO 3166-1 alpha-3 code of the landing state, e.g. AZE, KAZ")
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)

    @field_validator("country")
    @classmethod
    def _iso3(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-3 code (e.g. AZE, KAZ, TKM, IRN, RUS)")
        return value.upper()


class AreaOfInterest(_Strict):
    """The lon/lat box analysed, in degrees (EPSG:4326)."""

    west_deg: float = Field(ge=-180, le=180)
    south_deg: float = Field(ge=-90, le=90)
    east_deg: float = Field(ge=-180, le=180)
    north_deg: float = Field(ge=-90, le=90)

    @model_validator(mode="after")
    def _ordered(self) -> AreaOfInterest:
        if self.west_deg >= self.east_deg or self.south_deg >= self.north_deg:
            raise ValueError("area_of_interest needs west_deg < east_deg and south_deg < north_deg")
        return self

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west_deg, self.south_deg, self.east_deg, self.north_deg)


class Analysis(_Strict):
    """The analysis grid: a metric CRS and a cell size."""

    crs: str = Field("auto", description="'auto' = the UTM zone of the landing stations' midpoint, or any CRS string")
    resolution_m: float = Field(1000.0, gt=0)
    resampling: Literal["bilinear", "cubic", "average", "nearest"] = "bilinear"

    @field_validator("crs")
    @classmethod
    def _metric_crs(cls, value: str) -> str:
        if value == "auto":
            return value
        crs = _parse_crs(value)
        if not crs.is_projected or (crs.axis_info and crs.axis_info[0].unit_name not in ("metre", "meter")):
            raise ValueError(
                f"'{value}' ({crs.name}) is not a projected CRS in metres; use 'auto' (the UTM zone of the stations) "
                "or a metric CRS such as EPSG:32639"
            )
        return value


class BathymetrySource(_Strict):
    """One bathymetry input: a catalogue name or a file path, and how its heights relate to the Caspian surface."""

    source: str = Field(description="catalogue name (geodata/data/sources.yaml) or path to a GeoTIFF/COG/netCDF")
    priority: int = Field(0, description="higher wins where sources overlap (a survey grid over a regional grid)")
    vertical_reference_m: float | None = Field(
        None, description="height of the source's zero above ocean MSL; None = the catalogue's value, else 0"
    )
    positive: Literal["up", "down"] | None = Field(None, description="'up' = elevations, 'down' = depths")
    variable: str | None = Field(None, description="netCDF variable name (default: guessed)")
    crs: str | None = Field(None, description="CRS to assume when the file has none")

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_crs(value)
        return value

    licence: str = Field(
        "unknown", description="licence of this file (goes into the manifest; 'unknown' marks the outputs)"
    )
    attribution: str = Field("unknown", description="how to credit this file's source")
    licence_restrictions: list[Literal["non-commercial", "share-alike", "no-derivatives", "attribution"]] = Field(
        [], description="restrictions the outputs inherit from this file"
    )


class Bathymetry(_Strict):
    sources: list[BathymetrySource] = Field(min_length=1)
    water_level_m: float = Field(
        -28.0, description="Caspian water surface relative to ocean MSL (the treaties use -28 m Baltic)"
    )
    max_nodata_fraction: float = Field(0.05, ge=0, le=1)
    min_depth_range_m: tuple[float, float] = (-50.0, 1100.0)


class Coastline(_Strict):
    source: str = "gshhg_coast"
    land_layer: str = "land_with_lakes_removed"
    countries_source: str = "naturalearth_10m"
    countries_layer: str = "ne10m_admin0_countries"


class TreatyPoint(_Strict):
    name: str
    lat_deg: float
    lon_deg: float
    countries: list[str]
    citation: str


class Boundaries(_Strict):
    littoral_states: list[str] = ["AZE", "IRN", "KAZ", "RUS", "TKM"]
    territorial_sea_nm: float = Field(15.0, ge=0)
    fishing_zone_nm: float = Field(10.0, ge=0, description="width beyond the territorial sea")
    use_packaged_treaty_points: bool = True
    treaty_points: list[TreatyPoint] = []
    allowed_sectors: list[str] | None = Field(
        None, description="sectors the route may use; None = the landing states' sectors"
    )


HazardKind = Literal[
    "fault",
    "earthquake",
    "mud_volcano",
    "platform",
    "well",
    "pipeline",
    "cable",
    "wreck",
    "anchorage",
    "shipping_lane",
    "port",
    "other",
]


class HazardRule(_Strict):
    """How one kind of hazard constrains the cable. All distances in metres."""

    exclusion_buffer_m: float = Field(0.0, ge=0, description="hard exclusion: impassable within this distance")
    soft_cost: float = Field(0.0, ge=0, description="extra cost per metre at the hazard, decaying with distance")
    decay_m: float = Field(1000.0, gt=0, description="e-folding distance of the soft cost")
    crossing_min_angle_deg: float | None = Field(None, ge=0, le=90, description="for pipelines and cables")


class HazardInput(_Strict):
    """A user-supplied hazard inventory: GeoPackage, GeoJSON, Shapefile or CSV with lon/lat columns."""

    path: str
    layer: str | None = None
    kind: HazardKind | None = Field(None, description="kind for every row when the file has no `kind` column")
    licence: str = Field(
        "unknown", description="licence of this file (goes into the manifest; 'unknown' marks the outputs)"
    )
    attribution: str = Field("unknown", description="how to credit this file's source")
    licence_restrictions: list[Literal["non-commercial", "share-alike", "no-derivatives", "attribution"]] = Field(
        [], description="restrictions the outputs inherit from this file"
    )


class Hazards(_Strict):
    use_mirror_layers: bool = True
    include_curated: bool = True
    inputs: list[HazardInput] = []
    rules: dict[HazardKind, HazardRule] = {}


class CostWeights(_Strict):
    """Weights of the cost-per-metre terms; the formulas are in geodata/cost.py."""

    base: float = Field(1.0, gt=0, description="cost per metre of route everywhere (length term)")
    shallow_weight: float = Field(2.0, ge=0, description="extra cost at zero depth, fading to 0 at shallow_limit_m")
    shallow_limit_m: float = Field(30.0, gt=0, description="depth below which anchors and trawling threaten the cable")
    deep_weight: float = Field(0.5, ge=0, description="extra cost per metre at deep_limit_m and beyond")
    deep_start_m: float = Field(600.0, ge=0)
    deep_limit_m: float = Field(1000.0, gt=0)
    slope_weight: float = Field(0.2, ge=0, description="extra cost per degree of seabed slope")
    hazard_weight: float = Field(1.0, ge=0, description="multiplier of every hazard rule's soft cost")
    shipping_weight: float = Field(0.5, ge=0, description="extra cost inside shipping lanes")


SweptWeight = Literal["base", "shallow_weight", "deep_weight", "slope_weight", "hazard_weight", "shipping_weight"]
"""The multiplicative :class:`CostWeights` a weight sweep may perturb (the shape parameters, such as
``shallow_limit_m``, are not weights)."""


class WeightSweep(_Strict):
    """A sensitivity sweep of the cost weights: the route (and its corridor) re-solved for perturbed weight sets.

    Sample 0 is the scenario's own weights; samples ``1..samples`` scale each weight in ``weights`` by a factor drawn
    uniformly from ``[1 - spread, 1 + spread]`` with a generator seeded by ``(seed, sample)``, so a sample's weights
    do not depend on how many samples there are, nor on where the sweep runs (serially or on a dask cluster).
    """

    samples: int = Field(ge=1, le=1000, description="perturbed weight sets routed besides the scenario's own")
    spread: float = Field(0.25, gt=0, lt=1, description="largest relative change of a swept weight (0.25 = +-25 %)")
    seed: int = Field(0, ge=0, description="seed of the perturbations")
    weights: list[SweptWeight] = Field(
        ["shallow_weight", "deep_weight", "slope_weight", "hazard_weight", "shipping_weight"],
        min_length=1,
        description="the cost weights perturbed (each independently)",
    )

    @field_validator("weights")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        repeated = sorted({w for w in v if v.count(w) > 1})
        if repeated:
            raise ValueError(f"sweep.weights names {repeated} more than once; list each weight once")
        return v


class Limits(_Strict):
    max_slope_deg: float = Field(15.0, gt=0, le=90, description="hard limit: steeper cells are impassable")
    min_depth_m: float = Field(0.0, description="shallower water is land for routing (beyond the landfall)")
    max_depth_m: float = Field(2000.0, gt=0)


class Routing(_Strict):
    method: str = "auto"
    corridor_tolerance: float = Field(0.05, ge=0, le=1, description="near-optimal band: cost within this fraction")
    alternatives: int = Field(3, ge=1, le=10)
    survey_corridor_width_m: float = Field(1000.0, gt=0, description="full width of the survey corridor")


class CableBand(_Strict):
    """A cable type used between two water depths, with its target burial."""

    cable_type: str
    min_depth_m: float = Field(ge=0)
    max_depth_m: float = Field(gt=0)
    burial_depth_m: float = Field(ge=0)
    slack_pct: float = Field(ge=0, le=20)


def _default_bands() -> list[CableBand]:
    return [
        CableBand(cable_type="DA (double armoured)", min_depth_m=0, max_depth_m=50, burial_depth_m=1.5, slack_pct=1.5),
        CableBand(
            cable_type="SA (single armoured)", min_depth_m=50, max_depth_m=400, burial_depth_m=1.0, slack_pct=2.0
        ),
        CableBand(
            cable_type="LWP (lightweight protected)",
            min_depth_m=400,
            max_depth_m=1500,
            burial_depth_m=0.0,
            slack_pct=3.0,
        ),
        CableBand(
            cable_type="LW (lightweight)", min_depth_m=1500, max_depth_m=12000, burial_depth_m=0.0, slack_pct=4.0
        ),
    ]


class Engineering(_Strict):
    min_leg_length_m: float = Field(2000.0, ge=0)
    max_course_change_deg: float = Field(60.0, gt=0, le=180)
    min_crossing_angle_deg: float = Field(60.0, ge=0, le=90)
    landfall_approach_m: float = Field(3000.0, ge=0, description="length of the shore-end leg normal to the coast")
    kp_interval_m: float = Field(1000.0, gt=0)
    profile_interval_m: float = Field(100.0, gt=0)
    cable_bands: list[CableBand] = Field(default_factory=_default_bands)
    leg_max_cost_increase_fraction: float = Field(
        0.02, ge=0, le=1, description="a straight leg may replace a stretch of routed path costing at most this more"
    )
    landfall_max_deviation_deg: float = Field(
        30.0, ge=0, le=80, description="largest deviation of the shore-end leg from the coast normal"
    )
    beach_manhole_setback_m: float = Field(
        100.0, ge=0, description="distance of the beach manhole inland of the shore crossing"
    )
    min_cable_section_m: float = Field(
        1000.0, ge=0, description="shortest run of one cable type; shorter runs take the more protective type"
    )
    min_separation_m: float = Field(
        500.0,
        ge=0,
        description="closest a route may run to an existing cable or pipeline (away from crossings) in shallow water",
    )
    separation_depth_factor: float = Field(
        3.0, ge=0, description="in deeper water the separation is at least this many times the water depth (ICPC)"
    )
    allow_close_approach: list[str] = Field(
        [],
        description="ids or names of cables/pipelines the route may run closer to than the separation (with the "
        "owner's agreement)",
    )


class Publish(_Strict):
    keep_versions: int = Field(3, ge=1)
    tiles_min_zoom: int = Field(4, ge=0, le=22)
    tiles_max_zoom: int = Field(10, ge=0, le=22)
    tile_format: Literal["pmtiles", "mbtiles"] = Field(
        "pmtiles",
        description="pmtiles: the tile archives the web map reads; mbtiles: MBTiles archives for desktop and mobile "
        "GIS as well, beside the PMTiles the web map reads",
    )
    sld_paper: Literal["A3", "A1"] = Field(
        "A3", description="sheet size of the straight-line diagram, landscape: A3 (420 x 297 mm) or A1 (841 x 594 mm)"
    )
    sld_max_km_per_sheet: float = Field(
        150.0, gt=0, description="longest KP range on one sheet of the straight-line diagram; longer routes are split"
    )


class MonteCarlo(_Strict):
    """Monte Carlo of the route under input uncertainty (geodata/engineering/montecarlo.py documents the model).

    Each realisation perturbs the water depth by ``N(0, sigma(d)^2)`` with ``sigma(d) = sqrt(a^2 + (b d)^2)`` (the
    IHO S-44 form of a total vertical uncertainty: ``a`` = ``depth_sigma_constant_m``, ``b`` =
    ``depth_sigma_fraction``), spatially correlated over ``correlation_length_m``; shifts each hazard kind's layer by
    a random offset of ``hazard_position_sigma_m`` per axis; draws every cost weight (but ``base``) uniformly within
    ``weight_range_fraction`` of its value; then re-costs and re-routes.
    """

    realisations: int = Field(40, ge=2, le=10000, description="number of realisations")
    seed: int = Field(2026, ge=0, description="seed of the whole run; realisation i always gets the same draw")
    depth_sigma_constant_m: float = Field(5.0, ge=0, description="a: depth-independent vertical uncertainty (1 sigma)")
    depth_sigma_fraction: float = Field(
        0.05, ge=0, le=1, description="b: depth-proportional vertical uncertainty (1 sigma, fraction of depth)"
    )
    correlation_length_m: float = Field(
        10000.0, gt=0, description="correlation length of the depth error (Gaussian kernel sigma)"
    )
    hazard_position_sigma_m: float = Field(
        500.0, ge=0, description="position uncertainty of each hazard layer (1 sigma per axis)"
    )
    weight_range_fraction: float = Field(
        0.2, ge=0, lt=1, description="each cost weight is drawn uniformly within +- this fraction of its value"
    )
    corridor_min_share: float = Field(
        0.5, gt=0, le=1, description="robust corridor: cells passed by at least this share of realisations"
    )
    robust_offset_m: float = Field(
        2000.0, gt=0, description="a KP is robust when realisations pass within this distance of it ..."
    )
    robust_min_share: float = Field(0.8, gt=0, le=1, description="... in at least this share of realisations")


class Scenario(_Strict):
    """A whole scenario. ``name`` is also the Dagster partition key."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    description: str = ""
    landing_stations: list[LandingStation] = Field(min_length=2, max_length=2)
    area_of_interest: AreaOfInterest
    analysis: Analysis = Analysis()
    bathymetry: Bathymetry
    coastline: Coastline = Coastline()
    boundaries: Boundaries = Boundaries()
    hazards: Hazards = Hazards()
    cost: CostWeights = CostWeights()
    limits: Limits = Limits()
    routing: Routing = Routing()
    sweep: WeightSweep | None = None
    """A weight sensitivity sweep (the ``route_weight_sweep`` asset); none when absent."""
    engineering: Engineering = Engineering()
    publish: Publish = Publish()
    montecarlo: MonteCarlo = MonteCarlo()
    verify_checksums: bool = True

    @model_validator(mode="after")
    def _stations_apart(self) -> Scenario:
        a, b = self.landing_stations
        _, _, dist = Geod(ellps="WGS84").inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
        if dist < MIN_STATION_SEPARATION_M:
            raise ValueError(
                f"landing stations '{a.name}' and '{b.name}' are {dist:.0f} m apart ({a.lat_deg} N, {a.lon_deg} E); "
                f"a cable route needs two stations at least {MIN_STATION_SEPARATION_M:.0f} m apart: correct one of them"
            )
        return self

    @model_validator(mode="after")
    def _stations_inside(self) -> Scenario:
        w, s, e, n = self.area_of_interest.bounds
        for st in self.landing_stations:
            if not (w <= st.lon_deg <= e and s <= st.lat_deg <= n):
                raise ValueError(
                    f"landing station '{st.name}' ({st.lat_deg} N, {st.lon_deg} E) lies outside area_of_interest "
                    f"({w}..{e} E, {s}..{n} N); widen the area or correct the station"
                )
        return self

    @property
    def start(self) -> LandingStation:
        return self.landing_stations[0]

    @property
    def end(self) -> LandingStation:
        return self.landing_stations[1]

    def analysis_crs(self) -> str:
        """The metric CRS of the analysis: the configured one, or the UTM zone of the stations' midpoint."""
        if self.analysis.crs != "auto":
            return self.analysis.crs
        lon = (self.start.lon_deg + self.end.lon_deg) / 2
        lat = (self.start.lat_deg + self.end.lat_deg) / 2
        zone = math.floor((lon + 180) / 6) + 1
        return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"

    def digest(self) -> str:
        """sha256 of the canonical JSON of the validated scenario: equal digests mean equal analyses."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


# -- loading ------------------------------------------------------------------------------------------------------


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model reached by ``loc`` (best effort, for 'did you mean' hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        nested = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    return list(getattr(current, "model_fields", {}))


def _format_errors(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            known = _known_keys(Scenario, loc)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys here: {', '.join(known)}"
            lines.append(f"  - {where}: unknown key{hint}")
        else:
            got = err.get("input")
            scalar = isinstance(got, (str, int, float, bool)) and repr(got) not in err["msg"]
            shown = f" (got {got!r})" if scalar else ""
            lines.append(f"  - {where}: {err['msg'].removeprefix('Value error, ')}{shown}")
    return (
        f"scenario {origin} is invalid:\n"
        + "\n".join(lines)
        + f"\nFix these entries in {origin} (every key, its unit and its range are documented in geodata/scenario.py)."
    )


def parse_scenario(data: dict[str, Any], origin: str = "<dict>") -> Scenario:
    if not isinstance(data, dict):
        raise ConfigError(
            f"scenario {origin} must be a mapping of keys to values, got {type(data).__name__}; write it as "
            "`key: value` lines like the packaged geodata/data/scenarios/siyazan-aktau.yaml"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin)) from None


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader (plain data only: no tags that build objects) that refuses a key given twice in one
    mapping, instead of silently keeping the last value."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key '{key}' is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_yaml(text: str, origin: str) -> Any:
    """Parse YAML text as plain data, refusing duplicate keys; :class:`ConfigError` names ``origin`` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}\nCorrect the YAML at the line shown.") from None


@lru_cache(maxsize=64)
def _parse_text(text: str, origin: str, expected_name: str) -> Scenario:
    """Validate a scenario file's text; cached on the text, so an edited file is parsed again."""
    data = load_yaml(text, f"scenario {origin}")
    scenario = parse_scenario(data, origin)
    if scenario.name != expected_name:
        raise ConfigError(f"scenario {origin} has name '{scenario.name}'; rename the file or the name so they agree")
    return scenario


def load_scenario_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"scenario {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 YAML"
        ) from None
    return _parse_text(text, str(path), path.stem)


def scenario_files(folder: str | Path | None = None) -> dict[str, Path | Any]:
    """Scenario name -> file, packaged scenarios first, then the YAML files of ``folder`` (the analyst's own,
    ``CORRIDOR_SCENARIOS`` in the pipeline), which may override them by name."""
    files: dict[str, Any] = {}
    for entry in resources.files("geodata").joinpath("data/scenarios").iterdir():
        if entry.name.endswith((".yaml", ".yml")):
            files[entry.name.rsplit(".", 1)[0]] = entry
    if folder:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"{SCENARIOS_ENV}={folder} is not a directory of scenario YAML files; fix or unset it")
        for path in sorted(folder.glob("*.y*ml")):
            files[path.stem] = path
    return dict(sorted(files.items()))


def scenario_names(folder: str | Path | None = None) -> list[str]:
    """Names of the packaged scenarios and those in ``folder``."""
    return list(scenario_files(folder))


def load_scenario(name: str = DEFAULT_SCENARIO, *, folder: str | Path | None = None) -> Scenario:
    """Load a scenario by name (packaged or from ``folder``, the pipeline's ``CORRIDOR_SCENARIOS``), or by path to a
    YAML file."""
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        return load_scenario_file(name)
    files = scenario_files(folder)
    if name not in files:
        close = difflib.get_close_matches(name, files, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"unknown scenario '{name}'.{hint} Known: {', '.join(files)}. Add a YAML file to a folder and point "
            f"{SCENARIOS_ENV} at it to define your own."
        )
    entry = files[name]
    return _parse_text(entry.read_text(encoding="utf-8"), str(entry), name)
