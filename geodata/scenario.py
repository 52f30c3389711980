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
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
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


def _known_crs(value: str | None) -> str | None:
    if value is not None:
        _parse_crs(value)
    return value


KnownCRS = Annotated[str | None, AfterValidator(_known_crs)]
"""An optional CRS string that PROJ must know (checked when the scenario loads)."""


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


DEFAULT_AOI_MARGIN_KM = 100.0
"""Margin of a derived area of interest around the landing stations' box: room for the route to bend round a
headland, a hazard field or a foreign sector."""

CASPIAN_BOUNDS: tuple[float, float, float, float] = (46.55, 36.55, 55.45, 47.45)
"""The Caspian region in degrees (west, south, east, north): the extent of the default bathymetry source
(``srtm30plus_caspian``, 46.5..55.5 E, 36.5..47.5 N) less 0.05 degrees, so that the analysis grid's edge cells still
hold data. A derived area of interest is clipped to it; the Caspian's water (GSHHG) spans 46.68..54.77 E,
36.58..47.12 N."""

AOI_BOUND_KEYS = ("west_deg", "south_deg", "east_deg", "north_deg")


class AreaOfInterest(_Strict):
    """The lon/lat box analysed, in degrees (EPSG:4326).

    Omit the section (or give only ``margin_km``) to derive it: the landing stations' box widened by ``margin_km`` on
    every side and clipped to the Caspian region (:data:`CASPIAN_BOUNDS`). ``margin_km`` is then recorded; it is
    None for a box given in full."""

    west_deg: float = Field(ge=-180, le=180)
    south_deg: float = Field(ge=-90, le=90)
    east_deg: float = Field(ge=-180, le=180)
    north_deg: float = Field(ge=-90, le=90)
    margin_km: float | None = Field(
        None,
        gt=0,
        le=1000,
        description=f"derive the box: the stations' box widened by this many km and clipped to the Caspian "
        f"(default {DEFAULT_AOI_MARGIN_KM:.0f} km when the section is omitted); leave out when giving the four bounds",
    )

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
    crs: KnownCRS = Field(None, description="CRS to assume when the file has none")

    licence: str = Field(
        "unknown", description="licence of this file (goes into the manifest; 'unknown' marks the outputs)"
    )
    attribution: str = Field("unknown", description="how to credit this file's source")
    licence_restrictions: list[Literal["non-commercial", "share-alike", "no-derivatives", "attribution"]] = Field(
        [], description="restrictions the outputs inherit from this file"
    )


DEFAULT_BATHYMETRY_SOURCE = "srtm30plus_caspian"
"""The catalogue's bathymetry of the whole Caspian (geodata/data/sources.yaml), used when a scenario names none."""


def _default_bathymetry_sources() -> list[BathymetrySource]:
    return [BathymetrySource(source=DEFAULT_BATHYMETRY_SOURCE, priority=0)]


TREATY_WATER_LEVEL_M = -28.0
"""The Caspian surface of the seabed delimitation agreements: -28 m in the Baltic height system (about ocean mean
sea level for this purpose). A convention, not an observation: the observed level was about -26.5 m in the 1990s and
fell to about -29 m by 2025."""
TREATY_WATER_LEVEL_SOURCE = (
    "Caspian seabed delimitation agreements (Kazakhstan-Russia 1998, Azerbaijan-Russia 2002, Azerbaijan-Kazakhstan "
    "2003): the surface taken at -28 m in the Baltic height system (see the data mirror's SOURCES.md)"
)
TREATY_WATER_LEVEL_DATE = "1998/2003"
"""When the default level was fixed (the agreements' dates), as an ISO 8601 interval of years."""


class Bathymetry(_Strict):
    sources: list[BathymetrySource] = Field(
        default_factory=_default_bathymetry_sources,
        min_length=1,
        description=f"default: the catalogue's '{DEFAULT_BATHYMETRY_SOURCE}' (SRTM30_PLUS, 1 arc-minute)",
    )
    water_level_m: float = Field(
        TREATY_WATER_LEVEL_M,
        ge=-40,
        le=-15,
        description="Caspian water surface relative to ocean MSL (Baltic height system); depths and cable bands are "
        "measured below it. Default: the treaties' -28 m; the observed level was about -29 m in 2025, and each metre "
        "lower makes every depth 1 m shallower",
    )
    water_level_source: str = Field(
        TREATY_WATER_LEVEL_SOURCE, description="where water_level_m comes from (recorded in the manifest)"
    )
    water_level_date: str = Field(
        TREATY_WATER_LEVEL_DATE,
        description="date (ISO 8601: year, date or interval) of water_level_m (recorded in the manifest)",
    )

    @model_validator(mode="after")
    def _level_has_its_source(self) -> Bathymetry:
        default = (
            self.water_level_source == TREATY_WATER_LEVEL_SOURCE or self.water_level_date == TREATY_WATER_LEVEL_DATE
        )
        if self.water_level_m != TREATY_WATER_LEVEL_M and default:
            raise ValueError(
                f"bathymetry.water_level_m is {self.water_level_m} m, not the treaties' {TREATY_WATER_LEVEL_M} m, but "
                "water_level_source or water_level_date still describe the treaties' level: give the source and date "
                "of your level (e.g. water_level_source: 'gauge at Baku, monthly mean', water_level_date: '2025-06')"
            )
        return self

    def water_level_record(self) -> dict[str, Any]:
        """The water level with its source and date and its effect on depths, as the manifest records it."""
        offset = self.water_level_m - TREATY_WATER_LEVEL_M
        lower = offset < 0
        effect = (
            "the treaties' level: depths as the delimitation agreements measure them"
            if offset == 0
            else f"{abs(offset):g} m {'lower' if lower else 'higher'} than the treaties' level: every depth is "
            f"{abs(offset):g} m {'shallower' if lower else 'deeper'} than at {TREATY_WATER_LEVEL_M:g} m, so each depth "
            f"limit and cable band limit (engineering.cable_bands) falls on seabed {abs(offset):g} m "
            f"{'lower' if lower else 'higher'}"
        )
        return {
            "water_level_m": self.water_level_m,
            "height_system": "Baltic (about ocean mean sea level)",
            "source": self.water_level_source,
            "date": self.water_level_date,
            "treaty_level_m": TREATY_WATER_LEVEL_M,
            "offset_from_treaty_level_m": offset,
            "effect": effect,
            "depth_formula": "depth_m = water_level_m - (source height above ocean MSL)",
        }

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
    resolution_m: float | None = Field(
        500.0,
        gt=0,
        description="cell size of the sweep grid: samples are re-costed and re-routed on the analysis grid coarsened "
        "by the largest whole factor whose cell is at most this (never finer than the analysis grid: factor 1 at "
        "1 km); null: the analysis grid itself",
    )

    @field_validator("weights")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        repeated = sorted({w for w in v if v.count(w) > 1})
        if repeated:
            raise ValueError(f"sweep.weights names {repeated} more than once; list each weight once")
        return v


class SurveySource(_Strict):
    """One survey bathymetry grid (GeoTIFF/COG at 1-50 m covering part of the corridor, any CRS) and its vertical
    reference, as a regional source states it (:class:`BathymetrySource`)."""

    path: str = Field(description="path of the GeoTIFF/COG (relative paths: from the folder the pipeline runs in)")
    vertical_reference_m: float = Field(
        description="height of the survey's zero above ocean MSL (Baltic system), e.g. -28 for a grid reduced to the "
        "treaties' Caspian level, 0 for ocean MSL; required: a survey without its datum is not usable"
    )
    vertical_datum: str = Field("unknown", description="name of the survey's vertical datum (recorded in the report)")
    positive: Literal["up", "down"] = Field("up", description="'up' = elevations, 'down' = depths below the datum")
    crs: KnownCRS = Field(None, description="CRS to assume when the file has none")
    licence: str = Field("unknown", description="licence of this file (goes into the manifest)")
    attribution: str = Field("unknown", description="how to credit this file's source")


DEFAULT_SURVEY_MAX_BAND_CELLS = 400_000_000
"""Largest refinement band, in fine cells, when ``survey.resolution_m`` is left to default (about 18 GB at the 45
bytes per band cell the refinement peaks at, ``geodata.preflight.REFINE_BYTES_PER_BAND_CELL``); a finer survey is
then routed at the coarsest resolution that fits. The memory budget (``CORRIDOR_MEMORY_BUDGET_GB``) caps the band
too: the default cell size is coarsened to fit it, and a given ``survey.resolution_m`` that cannot fit is refused."""


class Survey(_Strict):
    """Nested survey grids: the route found on the regional grid is refined on a fine grid inside a band of
    ``buffer_m`` around it (the ``refined_route`` asset), the depth there being the survey where it exists and the
    regional surface elsewhere, feathered over ``feather_m`` at the seam."""

    sources: list[SurveySource] = Field(
        min_length=1, description="survey grids; the first listed wins where they overlap"
    )
    buffer_m: float = Field(2500.0, gt=0, description="half-width of the refinement band around the regional route")
    resolution_m: float | None = Field(
        None,
        gt=0,
        description="fine grid cell size; default: the finest survey's native cell size, coarsened only as far as the "
        "band must to stay within max_band_cells",
    )
    max_band_cells: int = Field(
        DEFAULT_SURVEY_MAX_BAND_CELLS, ge=10_000, description="cap on the band's fine cells for the default resolution"
    )
    feather_m: float = Field(
        200.0, ge=0, description="width inside the survey's edge over which survey and regional depths are blended"
    )


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
    title: str = Field(description="default: '<first station> - <second station>'")
    description: str = ""
    landing_stations: list[LandingStation] = Field(min_length=2, max_length=2)
    area_of_interest: AreaOfInterest = Field(
        description=f"default: derived from the stations ({DEFAULT_AOI_MARGIN_KM:.0f} km margin, clipped to the "
        "Caspian)"
    )
    analysis: Analysis = Analysis()
    bathymetry: Bathymetry = Bathymetry()
    coastline: Coastline = Coastline()
    boundaries: Boundaries = Boundaries()
    hazards: Hazards = Hazards()
    cost: CostWeights = CostWeights()
    limits: Limits = Limits()
    routing: Routing = Routing()
    sweep: WeightSweep | None = None
    """A weight sensitivity sweep (the ``route_weight_sweep`` asset); none when absent."""
    survey: Survey | None = None
    """Nested survey grids along the corridor (the ``refined_route`` asset); none when absent."""
    engineering: Engineering = Engineering()
    publish: Publish = Publish()
    montecarlo: MonteCarlo = MonteCarlo()
    verify_checksums: bool = True

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_stations(cls, data: Any) -> Any:
        """Fill the title and the area of interest from the landing stations when the file leaves them out."""
        if not isinstance(data, dict):
            return data
        stations = _station_positions(data.get("landing_stations"))
        if stations is None:
            return data  # the stations' own errors are reported; nothing can be derived from them
        out = dict(data)
        if "title" not in out:
            out["title"] = " - ".join(name for name, _, _ in stations)
        aoi = out.get("area_of_interest", {})
        if not isinstance(aoi, dict):
            return out
        margin = aoi.get("margin_km")
        given = any(k in aoi for k in AOI_BOUND_KEYS)
        if given and margin is None:
            return out
        margin = DEFAULT_AOI_MARGIN_KM if margin is None else margin
        if not (isinstance(margin, (int, float)) and not isinstance(margin, bool) and 0 < margin <= 1000):
            return out  # the field's own validation reports it
        box = dict(
            zip(AOI_BOUND_KEYS, derive_area_of_interest([(lo, la) for _, lo, la in stations], margin), strict=True)
        )
        if given and any(aoi.get(k) != v for k, v in box.items()):
            # a dumped scenario (the run snapshot) holds its derived box with its margin: that is consistent
            raise ValueError(
                "area_of_interest gives both bounds and margin_km, and the bounds are not the box derived with that "
                "margin: give the four bounds (west_deg, south_deg, east_deg, north_deg) or only margin_km"
            )
        out["area_of_interest"] = {**box, "margin_km": margin}
        return out

    @model_validator(mode="after")
    def _survey_finer(self) -> Scenario:
        res = self.survey.resolution_m if self.survey is not None else None
        if res is not None and res >= self.analysis.resolution_m:
            raise ValueError(
                f"survey.resolution_m ({res:g} m) is not finer than analysis.resolution_m "
                f"({self.analysis.resolution_m:g} m): a refinement needs a finer grid; lower survey.resolution_m or "
                "leave it out (the survey's native cell size)"
            )
        return self

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
                if self.area_of_interest.margin_km is not None:
                    cw, cs, ce, cn = CASPIAN_BOUNDS
                    raise ValueError(
                        f"landing station '{st.name}' ({st.lat_deg} N, {st.lon_deg} E) lies outside the Caspian "
                        f"region ({cw}..{ce} E, {cs}..{cn} N) that the area of interest is derived within; correct "
                        "the station (lat_deg/lon_deg swapped?) or give area_of_interest with a bathymetry source "
                        "covering it"
                    )
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


def _station_positions(raw: Any) -> list[tuple[str, float, float]] | None:
    """(name, lon, lat) of the two landing stations as written, or None when they are not two valid stations."""
    if not isinstance(raw, list) or len(raw) != 2:
        return None
    try:
        stations = [LandingStation.model_validate(item) for item in raw]
    except ValidationError:
        return None
    return [(st.name, st.lon_deg, st.lat_deg) for st in stations]


def derive_area_of_interest(
    points_lonlat: list[tuple[float, float]], margin_km: float = DEFAULT_AOI_MARGIN_KM
) -> tuple[float, float, float, float]:
    """The box round ``points_lonlat`` widened by ``margin_km`` on every side (geodesic: north/south along the
    meridian, east/west along the parallel at the box's widest latitude) and clipped to :data:`CASPIAN_BOUNDS`, in
    degrees rounded outwards to 0.01. Points outside the Caspian region stay outside (the caller refuses them)."""
    lons = [p[0] for p in points_lonlat]
    lats = [p[1] for p in points_lonlat]
    geod = Geod(ellps="WGS84")
    d = margin_km * 1000.0
    _, north, _ = geod.fwd(0.0, max(lats), 0.0, d)
    _, south, _ = geod.fwd(0.0, min(lats), 180.0, d)
    widest = max(abs(north), abs(south))
    east_shift, _, _ = geod.fwd(0.0, widest, 90.0, d)
    west, east = min(lons) - east_shift, max(lons) + east_shift
    cw, cs, ce, cn = CASPIAN_BOUNDS
    box = (
        max(math.floor(west * 100) / 100, cw),
        max(math.floor(south * 100) / 100, cs),
        min(math.ceil(east * 100) / 100, ce),
        min(math.ceil(north * 100) / 100, cn),
    )
    if box[0] >= box[2] or box[1] >= box[3]:  # every point outside the region: keep the raw box, refused later
        return (min(lons), min(lats), max(lons) + 1e-6, max(lats) + 1e-6)
    return box


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


DERIVED_FROM_STATIONS = ("title", "area_of_interest")
"""Top-level keys a scenario may omit because they are derived from the landing stations."""


def _errors(exc: ValidationError) -> list[Any]:
    """The validation errors worth showing: a derived key reported missing only because the stations are invalid
    (nothing to derive it from) is left out, the stations' own errors say what to fix."""
    errs = exc.errors()
    stations_bad = any(e["loc"][:1] == ("landing_stations",) for e in errs)
    return [
        e
        for e in errs
        if not (stations_bad and e["type"] == "missing" and tuple(e["loc"]) in {(k,) for k in DERIVED_FROM_STATIONS})
    ]


def _line_of(loc: tuple[Any, ...], key_lines: dict[tuple[Any, ...], int] | None) -> str:
    """``"line N: "`` of the deepest part of ``loc`` the file holds, or "" (no file, or a key the file lacks)."""
    if not key_lines:
        return ""
    for n in range(len(loc), -1, -1):
        if loc[:n] in key_lines:
            return f"line {key_lines[loc[:n]]}: "
    return ""


def _format_errors(exc: ValidationError, origin: str, key_lines: dict[tuple[Any, ...], int] | None = None) -> str:
    lines = []
    for err in _errors(exc):
        loc = tuple(err["loc"])
        where = _line_of(loc, key_lines) + (".".join(str(p) for p in loc) or "(top level)")
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
        + f"\nFix these entries in {origin} (every key with its unit, default and range: docs/sumgait-aktau-own.yaml, "
        "`corridor new` writes them all, `corridor schema` prints the JSON Schema)."
    )


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, for editors that validate and complete YAML: the keys
    derived from the landing stations (title, area_of_interest) are optional, as in the file."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["required"] = [k for k in schema.get("required", []) if k not in DERIVED_FROM_STATIONS]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (
        "A caspian-corridor scenario file (YAML). Only name and landing_stations are required; every other key has "
        "the default shown. Units are in the key names."
    )
    return schema


def parse_scenario(
    data: dict[str, Any], origin: str = "<dict>", key_lines: dict[tuple[Any, ...], int] | None = None
) -> Scenario:
    """Validate a scenario document; :class:`ConfigError` lists every problem at once, each with its key (and its
    line, given ``key_lines`` from :func:`yaml_key_lines`) and the fix."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"scenario {origin} must be a mapping of keys to values, got {type(data).__name__}; write it as "
            "`key: value` lines like the packaged geodata/data/scenarios/siyazan-aktau.yaml"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin, key_lines)) from None


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


def yaml_key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The 1-based line of every key and list item of a YAML document, by its path (``("routing", "alternatives")``,
    ``("landing_stations", 1, "lon_deg")``); empty when the text does not parse (:func:`load_yaml` says why)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                out[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                out[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return out


@lru_cache(maxsize=64)
def _parse_text(text: str, origin: str, expected_name: str) -> Scenario:
    """Validate a scenario file's text; cached on the text, so an edited file is parsed again."""
    data = load_yaml(text, f"scenario {origin}")
    scenario = parse_scenario(data, origin, yaml_key_lines(text) if isinstance(data, dict) else None)
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
        if not folder.exists():
            raise ConfigError(
                f"{SCENARIOS_ENV}={folder} does not exist; create it (mkdir -p {folder}) for your scenario files, "
                "or unset it"
            )
        if not folder.is_dir():
            raise ConfigError(f"{SCENARIOS_ENV}={folder} is not a directory of scenario YAML files; fix or unset it")
        for path in sorted(folder.glob("*.y*ml")):
            files[path.stem] = path
    return dict(sorted(files.items()))


def scenario_names(folder: str | Path | None = None) -> list[str]:
    """Names of the packaged scenarios and those in ``folder``."""
    return list(scenario_files(folder))


def closest_first(name: str, known: Iterable[str]) -> list[str]:
    """``known`` ordered by similarity to ``name`` (difflib's ratio, then alphabetically)."""
    return sorted(known, key=lambda k: (-difflib.SequenceMatcher(None, name, k).ratio(), k))


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
            f"unknown scenario '{name}'.{hint} Known (closest first): {', '.join(closest_first(name, files))}. Add a "
            f"YAML file to a folder and point {SCENARIOS_ENV} at it to define your own."
        )
    entry = files[name]
    return _parse_text(entry.read_text(encoding="utf-8"), str(entry), name)


# -- an annotated scenario file ------------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    """``value`` as one line of YAML flow style."""
    return (
        str(yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000))
        .strip()
        .removesuffix("...")
        .strip()
    )


def _field_note(field: Any) -> str:
    """The trailing comment of a key: its description, its choices and its range."""
    parts = [field.description] if field.description else []
    ann = field.annotation
    if getattr(ann, "__origin__", None) is Literal:
        parts.append("one of: " + ", ".join(str(a) for a in ann.__args__))
    bounds = []
    for m in field.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{sign} {getattr(m, attr)}")
    if bounds:
        parts.append(" and ".join(bounds))
    return "; ".join(parts)


def _dumpable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, (list, tuple)):
        return [_dumpable(v) for v in value]
    if isinstance(value, dict):
        return {k: _dumpable(v) for k, v in value.items()}
    return value


def _section_lines(model: BaseModel, indent: str) -> list[str]:
    """``key: default  # note`` for every field of ``model``, nested sections indented below their key."""
    out: list[str] = []
    for key, field in type(model).model_fields.items():
        value = getattr(model, key)
        note = _field_note(field)
        if isinstance(value, BaseModel):
            out.append(f"{indent}{key}:" + (f"  # {note}" if note else ""))
            out += _section_lines(value, indent + "  ")
            continue
        plain = _dumpable(value)
        if isinstance(plain, list) and plain and all(isinstance(v, dict) for v in plain):
            out.append(f"{indent}{key}:" + (f"  # {note}" if note else ""))
            out += [f"{indent}  - {_flow(v)}" for v in plain]
            continue
        out.append(f"{indent}{key}: {_flow(plain)}" + (f"  # {note}" if note else ""))
    return out


OPTIONAL_SECTIONS = (
    "analysis",
    "bathymetry",
    "coastline",
    "boundaries",
    "hazards",
    "cost",
    "limits",
    "routing",
    "engineering",
    "publish",
    "montecarlo",
)
"""The sections of a scenario file that every scenario may leave out (each at the defaults of its class)."""


def scenario_template(name: str, stations: list[LandingStation], title: str | None = None) -> str:
    """A scenario file for ``stations``: the required keys, then every optional key commented out at its default
    with its unit, choices and range (lines starting ``# `` uncomment as they stand; ``## `` lines are notes).
    The result parses (:func:`parse_scenario`) to the same scenario with or without the defaults uncommented."""
    a, b = stations
    lines = [
        f"## Scenario {name}: the required keys first; below them every other key at its default, commented out.",
        "## Uncomment a line (and its section's line) to change it. Units are in the key names.",
        f"## Check the file with `corridor validate {name}`; `corridor schema` prints its JSON Schema for editors.",
        f"name: {name}",
        f"title: {_flow(title or f'{a.name} - {b.name}')}",
        "landing_stations:  # two stations: latitude/longitude in degrees (WGS84), country as ISO 3166-1 alpha-3",
        *(f"  - {_flow(st.model_dump(mode='json'))}" for st in stations),
        "",
        f"## area_of_interest: derived from the stations when left out, the stations' box widened by margin_km on "
        f"every side and clipped to the Caspian ({', '.join(str(v) for v in CASPIAN_BOUNDS)} W,S,E,N degrees);",
        "## or give the box in degrees: {west_deg: .., south_deg: .., east_deg: .., north_deg: ..} (without margin_km)",
        "# area_of_interest:",
        f"#   margin_km: {DEFAULT_AOI_MARGIN_KM}",
    ]
    for key in OPTIONAL_SECTIONS:
        field = Scenario.model_fields[key]
        default = field.get_default(call_default_factory=True)
        note = _field_note(field)
        lines.append(f"# {key}:" + (f"  # {note}" if note else ""))
        lines += ["# " + line for line in _section_lines(default, "  ")]
    lines.append(
        "## a sensitivity sweep of the cost weights (the route_weight_sweep asset) is off unless given; to run one, "
        "remove the '## ' of the next lines (samples is required):"
    )
    lines.append("## sweep:")
    for key, field in WeightSweep.model_fields.items():
        value = 8 if field.is_required() else field.get_default(call_default_factory=True)
        note = _field_note(field) + ("; required (8 is an example)" if field.is_required() else "")
        lines.append(f"##   {key}: {_flow(value)}  # {note}")
    lines.append(
        "## nested survey grids (the refined_route asset) are off unless given; to refine the route on a survey, "
        "remove the '#~ ' of the next lines (path and vertical_reference_m are required; the path is an example):"
    )
    lines.append("#~ survey:")
    lines.append("#~   sources:  # " + _field_note(Survey.model_fields["sources"]))
    example = {"path": "surveys/synthetic_survey.tif", "vertical_reference_m": -28.0}
    lines.append(f"#~     - {_flow(example)}")
    for key, field in SurveySource.model_fields.items():
        if not field.is_required():
            default = _flow(field.get_default(call_default_factory=True))
            lines.append(f"#~       # {key}: {default}  # {_field_note(field)}")
    for key, field in Survey.model_fields.items():
        if key != "sources":
            lines.append(f"#~   {key}: {_flow(field.get_default(call_default_factory=True))}  # {_field_note(field)}")
    verify = Scenario.model_fields["verify_checksums"]
    lines.append(f"# verify_checksums: {_flow(verify.default)}  # check every catalogue file's sha256 before use")
    return "\n".join(lines) + "\n"
