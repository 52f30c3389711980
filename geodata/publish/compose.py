"""What one scenario publishes, assembled from the pipeline's results: the GeoPackage layers and their metadata, the
RPL and profile as CSV, the straight-line diagram, vector and raster tiles and the web map.

:func:`build_publication` writes all of it into a folder (the staging folder of :func:`geodata.publish.publish`);
:func:`validate_publication` is the check that must pass before that folder goes live.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from shapely.geometry import Point

from geodata.cost import CostSurface
from geodata.deliverables import formats
from geodata.deliverables.compose import RouteDeliverables
from geodata.deliverables.rpl import KP_BASIS, rounded
from geodata.engineering.compose import EngineeredRoute
from geodata.engineering.montecarlo import MonteCarloResult
from geodata.errors import InputDataError, PublishError
from geodata.geodesy import GEOD
from geodata.grid import Raster, RasterFile, RasterWriter, raster_read_rows, row_blocks
from geodata.publish import tiles, webmap
from geodata.publish._kernels import reconciled_band
from geodata.publish.atomic import LicenceTerms, combine_licences, input_record
from geodata.publish.gpkg import (
    SYSTEM_PYTHON,
    VECTOR_LAYERS,
    GpkgReport,
    LayerMeta,
    RasterLayer,
    base_layer_name,
    default_stops,
    gdal_validator_command,
    prepare_layers,
    validate_early,
    validate_gpkg,
    write_gpkg,
)
from geodata.publish.styles import raster_qml
from geodata.scenario import Scenario
from geodata.sources.catalogue import ResolvedSource
from geodata.sources.provenance import InputRecord

# Vector layers left out of the web map's tiles: A/Cs are already RPL rows, the 100 m profile samples would only
# crowd the KP points, and sector- and zone-crossing positions are RPL rows too.
NOT_TILED = frozenset({"alter_courses", "route_profile", "sector_crossings", "zone_crossings"})

# Land (negative depth = height above the Caspian surface) in browns, water from pale to deep blue; the break sits at
# the waterline so low-lying land (the Caspian Depression) never looks like sea.
BATHYMETRY_STOPS: list[tuple[float, str]] = [
    (-500.0, "#7f5f3a"),
    (-0.01, "#e3d3a8"),
    (0.0, "#eaf6fb"),
    (50.0, "#bfe3f0"),
    (200.0, "#74b3d8"),
    (500.0, "#3b7dbf"),
    (1000.0, "#1d3f8c"),
]


@dataclass
class PublicationContent:
    """Everything a publication is made of (all results of the pipeline's derive and ingest stages)."""

    scenario: Scenario
    route: EngineeredRoute
    deliverables: RouteDeliverables
    hazards: gpd.GeoDataFrame
    sectors: gpd.GeoDataFrame
    boundary_lines: gpd.GeoDataFrame
    territorial_waters: gpd.GeoDataFrame
    bathymetry: Raster | RasterFile
    cost: CostSurface
    diagram: Mapping[str, bytes]
    inputs: Sequence[InputRecord | ResolvedSource | Mapping[str, Any]] = ()
    corridor: gpd.GeoDataFrame | None = None
    alternatives: gpd.GeoDataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    montecarlo: MonteCarloResult | None = None
    """The Monte Carlo of the route (None: not computed, nothing of it published)."""
    node_modules: Path | None = None
    """Where the web map's JavaScript libraries are (None: the repository's ``node_modules``)."""
    sea_mask: Raster | RasterFile | None = None
    """The land/sea mask of the analysis grid (1 = sea, from the coastline): the published depth follows it."""
    scenario_digest: str = ""
    """The run's snapshot digest (scenario and user files); default: the scenario's own digest."""
    memory_budget_bytes: int | None = None
    """The run's memory budget: every raster is published in bands of rows sized from it (see
    :func:`geodata.publish.tiles.band_bytes`; None: the largest band)."""
    gdal_python: str = SYSTEM_PYTHON
    """The Python that runs GDAL's ``validate_gpkg.py`` (``CORRIDOR_GDAL_PYTHON``): the GeoPackage is validated
    with it as soon as it is written, beside the tiles, and :func:`validate_publication` with the same interpreter
    takes that verdict while the file is unchanged (:func:`geodata.publish.gpkg.validate_early`)."""


def _geodesic_km(line: Any) -> float:
    return float(GEOD.geometry_length(line)) / 1000.0


def input_source_names(scenario: Scenario) -> list[str]:
    """Catalogue sources a scenario's publication derives from (its provenance and licence terms)."""
    from geodata.sources.catalogue import load_catalogue

    names = [s.source for s in scenario.bathymetry.sources if s.source in load_catalogue()]
    names += [scenario.coastline.source, scenario.coastline.countries_source]
    if scenario.hazards.use_mirror_layers:
        names += ["hazards_caspian", "infrastructure_caspian"]
    if scenario.boundaries.use_packaged_treaty_points:
        names.append("maritime_boundaries_caspian")
    return list(dict.fromkeys(names))


def manifest_extra(scenario: Scenario) -> dict[str, Any]:
    """What ``manifest.json`` records beyond the files and inputs: the Caspian water level the depths are measured
    below, with its source, date and effect on the depth bands, and the area of interest (derived or given)."""
    aoi = scenario.area_of_interest
    return {
        "water_level": scenario.bathymetry.water_level_record(),
        "area_of_interest": {
            "bounds_deg": list(aoi.bounds),
            "derived_from_stations": aoi.margin_km is not None,
            "margin_km": aoi.margin_km,
        },
    }


def route_layer(content: PublicationContent) -> gpd.GeoDataFrame:
    sc, er, dl = content.scenario, content.route, content.deliverables
    line = er.line_lonlat
    slack = dl.rpl["cable_length_km"].max() if "cable_length_km" in dl.rpl else np.nan
    return gpd.GeoDataFrame(
        {
            "name": [f"{sc.start.name} - {sc.end.name}"],
            "scenario": [sc.name],
            "length_km": [_geodesic_km(line)],
            "cable_length_km": [float(slack)],
            "cost": [er.final_cost],
            "routed_cost": [er.routed_cost],
            "alter_course_count": [len(er.alter_courses)],
            "crossing_count": [len(er.crossings)],
        },
        geometry=[line],
        crs="EPSG:4326",
    )


def corridor_layer(content: PublicationContent) -> gpd.GeoDataFrame:
    """The survey corridor (``routing.survey_corridor_width_m`` wide, centred on the route) and, when computed, the
    near-optimal band (cells within ``routing.corridor_tolerance`` of the optimum)."""
    sc, er = content.scenario, content.route
    half = sc.routing.survey_corridor_width_m / 2
    survey = er.line.buffer(half, cap_style="flat", join_style="round")
    rows = [
        {
            "kind": "survey_corridor",
            "width_m": sc.routing.survey_corridor_width_m,
            "tolerance_pct": np.nan,
            "geometry": survey,
        }
    ]
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=er.crs).to_crs(4326)
    if content.corridor is not None and len(content.corridor):
        band = content.corridor.to_crs(4326)
        band = gpd.GeoDataFrame(
            {
                "kind": ["near_optimal_band"],
                "width_m": [np.nan],
                "tolerance_pct": [sc.routing.corridor_tolerance * 100],
            },
            geometry=[shapely.union_all(band.geometry.to_numpy())],
            crs="EPSG:4326",
        )
        frame = pd.concat([band, frame], ignore_index=True)
    frame["area_km2"] = [abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in frame.geometry]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def landing_layer(content: PublicationContent) -> gpd.GeoDataFrame:
    rows = []
    for station, lf in zip(content.scenario.landing_stations, content.route.landfalls, strict=True):
        info = lf.to_dict()
        for kind, xy in (("landing_station", lf.station_xy), ("beach_manhole", lf.beach_manhole_xy)):
            rows.append(
                {
                    "name": station.name if kind == "landing_station" else f"BMH {station.name}",
                    "kind": kind,
                    "country": station.country,
                    "angle_to_coast_deg": info["angle_to_coast_deg"],
                    "approach_bearing_deg": info["approach_bearing_deg"],
                    "geometry": Point(xy),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=content.route.crs).to_crs(4326)


def vector_layers(content: PublicationContent) -> dict[str, gpd.GeoDataFrame]:
    """The GeoPackage's vector layers, named as surveyors expect them (see
    :data:`geodata.publish.gpkg.VECTOR_LAYERS`)."""
    dl = content.deliverables
    rpl = dl.rpl
    layers = {
        "route": route_layer(content),
        "corridor": corridor_layer(content),
        "rpl": rpl,
        "alter_courses": rpl[rpl["event"] == "A/C"].copy(),
        "kp_points": dl.kp_points,
        "crossings": content.route.crossings if len(content.route.crossings) else _empty_points(),
        "hazards": content.hazards,
        "seabed_sectors": content.sectors,
        "boundary_lines": content.boundary_lines,
        "territorial_waters": content.territorial_waters,
        "landing_stations": landing_layer(content),
        "route_profile": dl.profile,
        "sector_crossings": dl.sector_points if len(dl.sector_points) else _empty_points(),
    }
    er = content.route
    if er.close_approaches is not None and len(er.close_approaches):
        layers["close_approaches"] = er.close_approaches
    if er.zone_crossings is not None and len(er.zone_crossings):
        layers["zone_crossings"] = er.zone_crossings
    if content.alternatives is not None and len(content.alternatives):
        layers["route_alternatives"] = content.alternatives
    layers |= montecarlo_layers(content.montecarlo)
    return {name: _publishable(gdf) for name, gdf in layers.items()}


MONTECARLO_CSV: dict[str, str] = {
    "route_robustness.csv": "robust_ranges",
    "kp_spread.csv": "kp_spread",
    "route_ranking.csv": "ranking",
}
"""The Monte Carlo tables published as CSV: file -> :class:`MonteCarloResult` attribute."""


def montecarlo_layers(mc: MonteCarloResult | None) -> dict[str, gpd.GeoDataFrame]:
    """The Monte Carlo's vector layers: robust corridor, KP robustness points and the realisations' routes."""
    if mc is None:
        return {}
    layers = {"kp_robustness": mc.kp_spread, "monte_carlo_routes": mc.routes}
    if len(mc.corridor):
        layers["robust_corridor"] = mc.corridor
    return layers


def robustness_summary(mc: MonteCarloResult, scenario: Scenario) -> dict[str, Any]:
    """The route-robustness summary of the manifest: the model's parameters, which KP ranges are robust and which
    are not, and the design route's standing among its alternatives."""
    ranges = mc.robust_ranges
    rank0 = mc.ranking[mc.ranking["candidate"] == "rank_0"]

    def kp_ranges(robust: bool) -> list[list[float]]:
        part = ranges[ranges["robust"] == robust]
        return [
            [round(float(a), 3), round(float(b), 3)] for a, b in zip(part["kp_from_km"], part["kp_to_km"], strict=True)
        ]

    return {
        "model": scenario.montecarlo.model_dump(),
        "realisations_succeeded": mc.stats["succeeded"],
        "robust_kp_ranges_km": kp_ranges(True),
        "variable_kp_ranges_km": kp_ranges(False),
        "robust_length_km": round(float(ranges.loc[ranges["robust"], "length_km"].sum()), 3),
        "route_length_km": round(float(ranges["length_km"].sum()), 3),
        "max_p90_offset_m": mc.stats["max_p90_offset_m"],
        "design_route_cheapest_pct": round(float(rank0["cheapest_pct"].iloc[0]), 1) if len(rank0) else None,
        "design_route_mean_excess_pct": round(float(rank0["mean_excess_pct"].iloc[0]), 2) if len(rank0) else None,
        "files": sorted(MONTECARLO_CSV),
    }


def _empty_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": pd.Series([], dtype=str)}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def _publishable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop helper columns the formats cannot hold (lists, dicts), round every number to the trade's precision of
    its unit (:func:`geodata.deliverables.rpl.rounded`: KP 0.001 km, depth 1 m, angles 0.1 deg, positions 1e-6 deg)
    and keep the geometry column named geometry."""
    keep = [
        c
        for c in gdf.columns
        if c == gdf.geometry.name or not gdf[c].map(lambda v: isinstance(v, (list, dict, tuple, set))).any()
    ]
    out = gpd.GeoDataFrame(rounded(pd.DataFrame(gdf[keep])), geometry=gdf.geometry.name, crs=gdf.crs)
    return out.rename_geometry("geometry") if out.geometry.name != "geometry" else out


def licence_terms(content: PublicationContent) -> LicenceTerms | None:
    """The licence terms the publication inherits from its inputs (None when no input is recorded)."""
    return combine_licences([input_record(s) for s in content.inputs]) if content.inputs else None


def layer_metadata(
    content: PublicationContent, names: Sequence[str], terms: LicenceTerms | None
) -> dict[str, LayerMeta]:
    licence = terms.statement if terms is not None else ""
    attribution = terms.attribution if terms is not None else ""
    sc = content.scenario
    abstracts = {
        "route": "Engineered cable route, station to station; legs are WGS84 geodesics.",
        "corridor": "Survey corridor centred on the route, and the near-optimal band of the least-cost analysis.",
        "rpl": f"Route Position List: A/C points and events with KP; {KP_BASIS}.",
        "alter_courses": "Alter-course points of the route.",
        "kp_points": f"Kilometre points every {sc.engineering.kp_interval_m:.0f} m.",
        "crossings": "Crossings of pipelines, cables, shipping lanes and faults with their angles.",
        "close_approaches": (
            "Stretches of route within the required separation of an existing cable or pipeline (the larger of the "
            f"configured minimum, {sc.engineering.min_separation_m:.0f} m, and "
            f"{sc.engineering.separation_depth_factor:g} x the water depth), with the least distance and whether the "
            "scenario allows it."
        ),
        "zone_crossings": "Where the route crosses a limit of the 2018 Convention zones (territorial sea, fishing).",
        "hazards": "Seabed hazards with the rule each imposes on the cable.",
        "seabed_sectors": "Median-line seabed sectors of the littoral states, adjusted through the treaty points.",
        "boundary_lines": "Lines between seabed sectors (median line or treaty).",
        "territorial_waters": "2018 Caspian Convention zones: 15 nm territorial sea and 10 nm fishing zone.",
        "landing_stations": "Landing stations and beach manholes.",
        "route_profile": f"Depth and slope along the route every {sc.engineering.profile_interval_m:.0f} m.",
        "sector_crossings": "Where the route crosses a sector boundary: positions to notify.",
        "route_alternatives": "Ranked alternative routes with their separation from the best.",
        "robust_corridor": f"Cells passed by at least {sc.montecarlo.corridor_min_share:.0%} of the Monte Carlo "
        "realisations of the route (geodata/engineering/montecarlo.py).",
        "kp_robustness": "Per KP of the route: cross-track offsets of the Monte Carlo realisations; robust where at "
        f"least {sc.montecarlo.robust_min_share:.0%} pass within {sc.montecarlo.robust_offset_m:.0f} m.",
        "monte_carlo_routes": "The route of every Monte Carlo realisation (perturbed depth, hazard positions, "
        "weights), shore ends included.",
    }
    return {
        name: LayerMeta(
            title=f"{sc.title}: {name.replace('_', ' ')}",
            abstract=abstracts.get(name.split("_points")[0].split("_lines")[0], abstracts.get(name, "")),
            source=f"caspian-corridor scenario {sc.name} (digest {sc.digest()[:12]})",
            licence=licence,
            attribution=attribution,
        )
        for name in names
    }


SCRATCH = "none"
"""Compression of the publication's scratch rasters: none (each is written once and read three or four times, and
deflate costs more CPU than the disk it saves; about 16 bytes per cell of disk while publishing)."""


def _reconciled_band(
    z: np.ndarray, depth_nodata: float | int | None, sea: np.ndarray, sea_nodata: float | int | None
) -> tuple[np.ndarray, int, int]:
    """One band of :func:`coast_reconciled_depth` (one compiled pass: 0.05 s CPU where the numpy expressions took
    0.77 s at 100 m)."""
    z_fill, z_has = _nodata_args(depth_nodata)
    sea_fill, sea_has = _nodata_args(sea_nodata)
    return reconciled_band(np.ascontiguousarray(z), z_fill, z_has, np.ascontiguousarray(sea), sea_fill, sea_has)


def _nodata_args(nodata: float | int | None) -> tuple[float, bool]:
    """A nodata value as the compiled kernels take it: the value and whether there is one (NaN is no value)."""
    if nodata is None or math.isnan(nodata):
        return 0.0, False
    return float(nodata), True


def _same_grid(depth: Raster | RasterFile, sea_mask: Raster | RasterFile) -> None:
    if sea_mask.grid.shape != depth.grid.shape or sea_mask.grid.transform != depth.grid.transform:
        raise InputDataError(
            f"the sea mask grid {sea_mask.grid.shape} is not the bathymetry grid {depth.grid.shape}; rebuild sea_mask "
            "from this bathymetry"
        )


def coast_reconciled_depth(depth: Raster, sea_mask: Raster | None) -> tuple[Raster, dict[str, int]]:
    """The depth raster as published: where the coastline (``sea_mask``, 1 = sea) and the depth's sign disagree,
    no value (NaN), so no water depth shows on land (land depressions below the Caspian surface, such as
    Mangyshlak's, read as positive depths) and no land height at sea. Returns the raster and the cells blanked of
    each kind; without a mask the depth is published as it is. In memory; :func:`coast_reconciled_depth_file` is
    the same band by band into a file."""
    if sea_mask is None:
        return depth, {"land_below_water_cells": 0, "sea_above_water_cells": 0}
    _same_grid(depth, sea_mask)
    out, wet, dry = _reconciled_band(depth.data, depth.nodata, sea_mask.data, sea_mask.nodata)
    attrs = {**depth.attrs, "coast_reconciled": True}
    return Raster(out, depth.grid, float("nan"), attrs), {"land_below_water_cells": wet, "sea_above_water_cells": dry}


def coast_reconciled_depth_file(
    depth: Raster | RasterFile,
    sea_mask: Raster | RasterFile | None,
    path: Path,
    *,
    budget_bytes: int | None = None,
) -> tuple[Raster | RasterFile, dict[str, int]]:
    """:func:`coast_reconciled_depth` band by band (bands sized from ``budget_bytes``) into the tiled GeoTIFF
    ``path``; without a mask the depth is published as it is (no file written)."""
    if sea_mask is None:
        return depth, {"land_below_water_cells": 0, "sea_above_water_cells": 0}
    _same_grid(depth, sea_mask)
    counts = {"land_below_water_cells": 0, "sea_above_water_cells": 0}
    attrs = {**depth.attrs, "coast_reconciled": True}
    with RasterWriter(path, depth.grid, "float32", nodata=float("nan"), attrs=attrs, compress=SCRATCH) as out:
        for block in row_blocks(depth.grid, bytes_per_cell=16, budget_bytes=tiles.band_bytes(budget_bytes)):
            band, wet, dry = _reconciled_band(
                raster_read_rows(depth, block.rows), depth.nodata, raster_read_rows(sea_mask, block.rows),
                sea_mask.nodata,
            )  # fmt: skip
            out.write_rows(block.rows, band)
            counts["land_below_water_cells"] += wet
            counts["sea_above_water_cells"] += dry
    return out.file(), counts


def cost_total_file(cost: CostSurface, path: Path, *, budget_bytes: int | None = None) -> RasterFile:
    """``cost.raster("total")`` band by band into the tiled GeoTIFF ``path`` (float32, impassable cells NaN)."""
    sectors = {"allowed_sectors": list(cost.allowed_sectors)} if cost.allowed_sectors else {}
    attrs = {"units": "cost per metre", **cost.attrs, **sectors}
    with RasterWriter(path, cost.grid, "float32", nodata=float("nan"), attrs=attrs, compress=SCRATCH) as out:
        for block in row_blocks(cost.grid, bytes_per_cell=16, budget_bytes=tiles.band_bytes(budget_bytes)):
            total = np.asarray(cost.total[block.rows])
            out.write_rows(block.rows, np.where(np.isfinite(total), total, np.nan).astype("float32"))
    return out.file()


def frequency_file(frequency: Raster | RasterFile, path: Path, *, budget_bytes: int | None = None) -> RasterFile:
    """:func:`frequency_for_display` band by band into the tiled GeoTIFF ``path``."""
    attrs = dict(frequency.attrs)
    with RasterWriter(path, frequency.grid, "float32", nodata=float("nan"), attrs=attrs, compress=SCRATCH) as out:
        for block in row_blocks(frequency.grid, bytes_per_cell=12, budget_bytes=tiles.band_bytes(budget_bytes)):
            values = raster_read_rows(frequency, block.rows)
            out.write_rows(block.rows, np.where(values > 0, values, np.nan).astype("float32"))
    return out.file()


def write_tile_archives(
    prepared: Mapping[str, gpd.GeoDataFrame],
    bathymetry: Raster | RasterFile,
    cost_raster: Raster | RasterFile,
    sc: Scenario,
    tile_dir: Path,
    fmt: tiles.TileFormat,
    *,
    budget_bytes: int | None = None,
) -> tuple[tiles.TilesetInfo, tiles.TilesetInfo, tiles.TilesetInfo]:
    """The vector, bathymetry and cost tile archives of a publication in one archive format."""
    out = write_all_tile_archives(
        prepared, {"bathymetry": ("bathymetry", bathymetry), "cost": ("cost", cost_raster)}, sc, tile_dir, [fmt],
        budget_bytes=budget_bytes,
    )[fmt]  # fmt: skip
    return out["corridor"], out["bathymetry"], out["cost"]


def write_all_tile_archives(
    prepared: Mapping[str, gpd.GeoDataFrame],
    rasters: Mapping[str, tuple[tiles.RenderKind, Raster | RasterFile]],
    sc: Scenario,
    tile_dir: Path,
    formats: Sequence[tiles.TileFormat],
    *,
    budget_bytes: int | None = None,
) -> dict[tiles.TileFormat, dict[str, tiles.TilesetInfo]]:
    """The vector archive (``corridor``) and one raster archive per entry of ``rasters`` (name -> how to render it,
    values) in each of ``formats``: each raster is rendered band by band into a file once and tiled once, its tiles
    written to every format's archive.

    The vector archives are cut on a thread of their own while the rasters are rendered: that thread mostly waits for
    tippecanoe's processes (at 100 m about 1.8 s of the step's wall time, in which the rasters waited before)."""
    pub = sc.publish
    out: dict[tiles.TileFormat, dict[str, tiles.TilesetInfo]] = {fmt: {} for fmt in formats}

    def vector_archives() -> dict[tiles.TileFormat, tiles.TilesetInfo]:
        return {
            fmt: tiles.write_vector_tiles(
                prepared,
                tile_dir / f"corridor.{fmt}",
                min_zoom=pub.tiles_min_zoom,
                max_zoom=pub.tiles_max_zoom,
                name=sc.name,
                tile_format=fmt,
            )
            for fmt in formats
        }

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-tiles") as pool:
        vector_job = pool.submit(vector_archives)
        try:
            with tempfile.TemporaryDirectory(prefix="render-", dir=tile_dir) as work:
                for name, (kind, values) in rasters.items():
                    rendered = tiles.render_file(kind, values, Path(work) / f"{name}.tif", budget_bytes=budget_bytes)
                    infos = tiles.write_raster_archives(
                        rendered, {fmt: tile_dir / f"{name}.{fmt}" for fmt in formats},
                        min_zoom=pub.tiles_min_zoom, name=name, budget_bytes=budget_bytes,
                    )  # fmt: skip
                    Path(rendered.path).unlink()
                    for fmt, info in infos.items():
                        out[fmt][name] = info
        finally:
            wait([vector_job])  # never leave tippecanoe writing into the folder after a failure here
        for fmt, info in vector_job.result().items():
            out[fmt] = {"corridor": info, **out[fmt]}
    return out


PUBLISH_GDAL_CACHE_BYTES = 64 * 2**20
"""GDAL's block cache while a publication is written. rasterio hands an integer ``GDAL_CACHEMAX`` to
``GDALSetCacheMax64``, so it is bytes, not GDAL's megabytes: this code once passed one band's size in MB (a cache of
a few hundred bytes). A cache of one band (``tiles.band_bytes``) instead was no faster at 100 m (published_corridor
11.5/11.8 s wall, 14.8/14.5 CPU-s with the near-empty cache against 12.0/11.3 s, 15.5/14.1 CPU-s; 2026-12-04,
benchmarks/publish_profile.py) and held 0.06 GB more."""


def build_publication(folder: Path, content: PublicationContent) -> dict[str, Any]:
    """Write the whole publication into ``folder``: ``corridor.gpkg``, the surveyor's files
    (:data:`geodata.deliverables.formats.SURVEYOR_FILES`), ``straight_line_diagram.png/.pdf``,
    ``tiles/*.pmtiles`` and the web map."""
    # GDAL's block cache (default 5 % of the machine's memory) is held to PUBLISH_GDAL_CACHE_BYTES: the writers stream
    # their own bands, so a larger cache only holds memory (see the constant)
    cache_bytes = PUBLISH_GDAL_CACHE_BYTES
    with tempfile.TemporaryDirectory(prefix=".rasters-", dir=folder) as work, rasterio.Env(GDAL_CACHEMAX=cache_bytes):
        return _build_publication(folder, content, Path(work))


def _build_publication(folder: Path, content: PublicationContent, work: Path) -> dict[str, Any]:
    """:func:`build_publication` with a scratch folder ``work`` for the rasters as published (tiled GeoTIFFs written
    band by band, read band by band by the GeoPackage writer and the renderer)."""
    budget = content.memory_budget_bytes
    half = half_band_budget(budget)
    # the scratch rasters are written from the first moment, on two threads (the depth on one, the cost and the
    # passage frequency on the other: reads, kernels and writes release the GIL, each thread has half a band of the
    # budget), while this thread prepares the vector layers (Python, about 0.4 s at 100 m that one core used to
    # spend alone); the GeoPackage is then written on a thread of its own beside the tiles: all of them spend their
    # time in GDAL, zlib and numba, which release the GIL; the GeoPackage's vector layers go in while the scratch
    # rasters are still being written, its coverages once they are
    # leaving the pool's block waits for its threads, so none is left writing into the scratch folder after a failure
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="scratch") as scratch:
        files = _start_scratch_rasters(scratch, content, work, half)
        layers = vector_layers(content)
        terms = licence_terms(content)
        prepared = prepare_layers(layers)  # once: validated, in EPSG:4326, densified, mixed layers split
        meta = layer_metadata(content, [*prepared, "bathymetry", "cost"], terms)
        return _publish_files(folder, content, layers, prepared, terms, meta, files)


def _publish_files(
    folder: Path,
    content: PublicationContent,
    layers: dict[str, gpd.GeoDataFrame],
    prepared: dict[str, gpd.GeoDataFrame],
    terms: LicenceTerms | None,
    meta: dict[str, LayerMeta],
    files: _ScratchJobs,
) -> dict[str, Any]:
    """The GeoPackage on a thread of its own, its coverages from the scratch rasters of ``files``
    (:func:`_start_scratch_rasters`, all finished), and beside it everything else of the publication."""
    budget = content.memory_budget_bytes
    ready: Future[dict[str, RasterLayer]] = Future()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpkg") as pool:
        gpkg_job = pool.submit(
            _write_and_check_gpkg, folder / "corridor.gpkg", layers, ready.result, meta, prepared,
            budget_bytes=half_band_budget(budget), gdal_python=content.gdal_python,
        )  # fmt: skip
        try:
            try:
                rasters, depth, cost_raster, frequency, blanked = _scratch_layers(content, meta, files)
            except BaseException as exc:
                ready.set_exception(exc)  # the GeoPackage thread stops waiting and gives up
                raise
            ready.set_result(rasters)
            out = _files_and_tiles(
                folder, content, layers, prepared, terms, rasters, depth, cost_raster, frequency, budget
            )  # fmt: skip
        finally:
            wait([gpkg_job])  # never leave the thread writing while the scratch rasters are removed
        gpkg = gpkg_job.result()
    return {"gpkg": gpkg, **out, "depth_blanked_cells": blanked}


class _ScratchJobs(NamedTuple):
    """The scratch rasters being written (:func:`_start_scratch_rasters`)."""

    depth: Future[tuple[Raster | RasterFile, dict[str, int]]]
    """:func:`coast_reconciled_depth_file`: the depth as published and its blanked cells."""
    cost_and_frequency: Future[tuple[Raster | RasterFile, Raster | RasterFile | None]]
    """:func:`_cost_and_frequency_files`."""


def _start_scratch_rasters(
    pool: ThreadPoolExecutor, content: PublicationContent, work: Path, half: int
) -> _ScratchJobs:
    """Start writing the rasters as published into the scratch folder ``work`` (bands of the budget ``half``): the
    depth (:func:`coast_reconciled_depth_file`) on one thread of ``pool``, the cost and the passage frequency on
    the other (:func:`_cost_and_frequency_files`)."""
    depth_job = pool.submit(
        coast_reconciled_depth_file, content.bathymetry, content.sea_mask, work / "depth.tif", budget_bytes=half
    )
    return _ScratchJobs(depth_job, pool.submit(_cost_and_frequency_files, content, work, half))


def _cost_and_frequency_files(
    content: PublicationContent, work: Path, half: int
) -> tuple[Raster | RasterFile, Raster | RasterFile | None]:
    cost_raster = cost_total_file(content.cost, work / "cost.tif", budget_bytes=half)
    frequency = (
        frequency_file(content.montecarlo.frequency, work / "passage_frequency.tif", budget_bytes=half)
        if content.montecarlo is not None
        else None
    )
    return cost_raster, frequency


def _scratch_layers(
    content: PublicationContent, meta: dict[str, LayerMeta], files: _ScratchJobs
) -> tuple[
    dict[str, RasterLayer], Raster | RasterFile, Raster | RasterFile, Raster | RasterFile | None, dict[str, int]
]:
    """The scratch rasters of ``files`` (:func:`_start_scratch_rasters`) as the GeoPackage's raster layers; and the
    depth, cost and passage frequency for the tiles, with the depth's blanked cells."""
    sc = content.scenario
    depth, blanked = files.depth.result()
    cost_raster, frequency = files.cost_and_frequency.result()
    rasters = {
        "bathymetry": RasterLayer(
            depth,
            replace(
                meta["bathymetry"],
                title="Water depth below the Caspian surface (m)",
                abstract="Depth positive down, land negative (height above the water); the Caspian surface is taken at "
                f"{sc.bathymetry.water_level_m} m relative to ocean MSL (Baltic height system; source: "
                f"{sc.bathymetry.water_level_source}, {sc.bathymetry.water_level_date}). Where the coastline and the "
                "depth's sign disagree the cell is empty: land below the Caspian surface (depressions) shows no water "
                f"depth ({blanked['land_below_water_cells']} cells), sea shows no land height "
                f"({blanked['sea_above_water_cells']} cells).",
            ),
            units="m",
            stops=BATHYMETRY_STOPS,
        ),
        "cost": RasterLayer(
            cost_raster,
            replace(
                meta["cost"],
                title="Cost per metre of route",
                abstract="Sum of the cost terms of geodata/cost.py; impassable cells are empty (NaN).",
            ),
            units="cost per metre",
        ),
    }
    if frequency is not None:
        rasters["passage_frequency"] = RasterLayer(
            frequency,
            LayerMeta(
                title="Passage frequency (Monte Carlo)",
                abstract="Share of the Monte Carlo realisations whose route crosses the cell (0..1); empty where none "
                "does.",
                source=meta["cost"].source,
                licence=meta["cost"].licence,
                attribution=meta["cost"].attribution,
            ),
            units="share",
            stops=tiles.SHARE_STOPS,
        )
    # the colour ramp of a raster without stops is sampled once, for the GeoPackage's style and the sidecar's
    rasters = {n: replace(r, stops=r.stops or default_stops(r.raster, r.units)) for n, r in rasters.items()}
    return rasters, depth, cost_raster, frequency, blanked


def _write_and_check_gpkg(
    path: Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    rasters: Callable[[], Mapping[str, RasterLayer]],
    meta: Mapping[str, LayerMeta],
    prepared: Mapping[str, gpd.GeoDataFrame],
    *,
    budget_bytes: int,
    gdal_python: str,
) -> GpkgReport:
    """Write the publication's GeoPackage, then validate it at once, GDAL's validator included (the verdict is kept
    for :func:`validate_publication`). Whether ``gdal_python`` has the validator is probed while the GeoPackage is
    written (a Python start importing GDAL, 0.3-0.4 s that the validation then no longer waits for)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gdal-probe") as probe:
        probed = probe.submit(gdal_validator_command, gdal_python)  # kept by gdal_validator_command
        report = write_gpkg(
            path, layers, rasters, metadata=meta, required=VECTOR_LAYERS, budget_bytes=budget_bytes, prepared=prepared
        )
        wait([probed])  # a failed probe is tried again, and reported, by the validation
    validate_early(path, expect_layers=VECTOR_LAYERS, gdal_python=gdal_python)  # as validate_publication does
    return report


def half_band_budget(budget_bytes: int | None) -> int:
    """A memory budget whose band (:func:`geodata.publish.tiles.band_bytes`) is half the band of ``budget_bytes``:
    what each of two concurrent band-by-band writers gets, so that together they hold one band."""
    return 4 * tiles.band_bytes(budget_bytes)


def _files_and_tiles(
    folder: Path,
    content: PublicationContent,
    layers: dict[str, gpd.GeoDataFrame],
    prepared: dict[str, gpd.GeoDataFrame],
    terms: LicenceTerms | None,
    rasters: Mapping[str, RasterLayer],
    depth: Raster | RasterFile,
    cost_raster: Raster | RasterFile,
    frequency: Raster | RasterFile | None,
    budget: int | None,
) -> dict[str, Any]:
    """Everything of a publication but the GeoPackage: the raster styles, the surveyor's files, the diagram, the
    tile archives and the web map."""
    sc = content.scenario
    for name, layer in rasters.items():  # QGIS 3.22 does not read raster styles from layer_styles: ship sidecars
        (folder / f"{name}.qml").write_text(raster_qml(layer.stops or [], label_units=layer.units), encoding="utf-8")
    # the surveyor's files: RPL positions/segments, sector spans and profile as CSV, rpl.xlsx, route.kml/.kmz
    surveyor_files = formats.write_surveyor_files(folder, content.deliverables, title=sc.title)
    if content.montecarlo is not None:
        for name, attr in MONTECARLO_CSV.items():
            surveyor_files.append(formats.write_csv(getattr(content.montecarlo, attr), folder / name).name)
    for fmt, data in content.diagram.items():
        (folder / f"straight_line_diagram.{fmt}").write_bytes(data)
    tile_dir = folder / "tiles"
    tile_dir.mkdir(exist_ok=True)
    pub = sc.publish
    # the tiled layers: those prepared for the GeoPackage but the untiled and the empty ones
    tiled = {
        name: gdf
        for name, gdf in prepared.items()
        if (base := base_layer_name(name, layers)) not in NOT_TILED and len(layers[base])
    }
    # the web map reads PMTiles; publish.tile_format "mbtiles" adds MBTiles archives for desktop and mobile GIS
    tile_formats: list[tiles.TileFormat] = list(dict.fromkeys(["pmtiles", pub.tile_format]))
    to_tile: dict[str, tuple[tiles.RenderKind, Raster | RasterFile]] = {
        "bathymetry": ("bathymetry", depth),
        "cost": ("cost", cost_raster),
    }
    if frequency is not None:
        to_tile["passage_frequency"] = ("share", frequency)
    archives = write_all_tile_archives(
        tiled, to_tile, sc, tile_dir, tile_formats, budget_bytes=half_band_budget(budget)
    )["pmtiles"]
    vec = archives["corridor"]
    overlays = {
        "bathymetry": webmap.RasterOverlay(archives["bathymetry"], "Water depth"),
        "cost": webmap.RasterOverlay(archives["cost"], "Cost surface"),
    }
    if frequency is not None:
        overlays["passage_frequency"] = webmap.RasterOverlay(
            archives["passage_frequency"], "Passage frequency (Monte Carlo)"
        )
    webmap.write_webmap(
        folder,
        title=sc.title,
        subtitle=f"Scenario {sc.name}",
        vector=vec,
        rasters=overlays,
        licence=terms.statement if terms is not None else "",
        attribution=terms.attribution if terms is not None else "",
        provenance=f"scenario digest {(content.scenario_digest or sc.digest())[:12]}",
        node_modules=content.node_modules,
        # from the layers as published, not from corridor.gpkg: the GeoPackage is written on its own thread and may
        # not be in the folder yet (the 100 m web map then had no KP index and no place names)
        kp_points=prepared.get("kp_points", _empty_points()),
        places=webmap.place_names(
            *(prepared[n] for n in ("landing_stations", "hazards", "hazards_points") if n in prepared)
        ),
    )
    return {"vector_tiles": vec, "layers": sorted(tiled), "surveyor_files": surveyor_files}


def frequency_for_display(frequency: Raster) -> Raster:
    """The passage frequency with never-passed cells as nodata (NaN), so that maps show only where routes went."""
    data = np.where(frequency.data > 0, frequency.data, np.nan).astype("float32")
    return Raster(data, frequency.grid, float("nan"), dict(frequency.attrs))


def validate_publication(folder: Path, *, gdal_python: str = SYSTEM_PYTHON) -> None:
    """Raise :class:`PublishError` listing every problem of a built publication (GeoPackage validation with GDAL's
    validator run by ``gdal_python`` included)."""
    problems = validate_gpkg(folder / "corridor.gpkg", expect_layers=VECTOR_LAYERS, gdal_python=gdal_python)
    for name in (
        *formats.SURVEYOR_FILES,
        "straight_line_diagram.png",
        "straight_line_diagram.pdf",
        "index.html",
        "bathymetry.qml",
        "cost.qml",
    ):
        if not (folder / name).is_file() or (folder / name).stat().st_size == 0:
            problems.append(f"{name} is missing or empty")
    if problems:
        raise PublishError(
            f"publication in {folder} is invalid; the previous one stays live:\n  - " + "\n  - ".join(problems)
        )
