"""Ingest stage: bathymetry, coastline and maritime boundaries, and seabed hazards, each checked before use.

Every asset is partitioned by scenario. Blocking checks stop the derive stage when an input would make the route
wrong (no CRS, a landing station off the data, sectors with gaps, a hazard inventory that does not validate).
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import numpy as np

from assets.common import PARTITIONS, check_results, check_specs, metadata, scenario_of
from geodata import bathymetry as bathy
from geodata import boundaries as bnd
from geodata import hazards as haz
from geodata.grid import Raster
from pipelines.resources import CorridorSettings

BATHYMETRY_CHECKS = {
    "crs_present": "The depth grid carries the projected, metric analysis CRS.",
    "nodata_share": "The share of cells without data in the area stays under bathymetry.max_nodata_fraction.",
}
SEA_MASK_CHECKS = {
    "coverage": "The area of interest is covered and both landing stations lie on data within reach of the sea.",
    "depth_range": "Sea depths lie within bathymetry.min_depth_range_m (datum, units and sign are right).",
}


@dg.asset(
    partitions_def=PARTITIONS, group_name="ingest_bathymetry", check_specs=check_specs("bathymetry", BATHYMETRY_CHECKS)
)
def bathymetry(context: dg.AssetExecutionContext, settings: CorridorSettings) -> Iterator[Any]:
    """Water depth below the Caspian surface (m, positive down; land negative) on the scenario's analysis grid: each
    configured source read (GeoTIFF/COG/netCDF, any CRS), moved from its vertical reference to the Caspian level,
    reprojected and mosaicked by priority."""
    sc = scenario_of(context, settings)
    aoi = sc.area_of_interest.bounds
    grid = bathy.analysis_grid(aoi, sc.analysis_crs(), sc.analysis.resolution_m)
    inputs = bathy.load_bathymetry_inputs(
        sc.bathymetry.sources, grid, mirror=settings.mirror, verify=sc.verify_checksums
    )
    depth = bathy.build_depth(
        inputs,
        grid,
        water_level_m=sc.bathymetry.water_level_m,
        resampling=sc.analysis.resampling,
        aoi_bounds_lonlat=aoi,
    )
    yield dg.Output(depth, metadata=metadata(bathy.summary_metadata(depth, aoi_bounds_lonlat=aoi)))
    yield from check_results(
        [
            bathy.check_crs(depth, sc.analysis_crs()),
            bathy.check_nodata_share(depth, sc.bathymetry.max_nodata_fraction, aoi_bounds_lonlat=aoi),
        ]
    )


@dg.asset(
    partitions_def=PARTITIONS, group_name="ingest_bathymetry", check_specs=check_specs("sea_mask", SEA_MASK_CHECKS)
)
def sea_mask(
    context: dg.AssetExecutionContext, settings: CorridorSettings, bathymetry: Raster, coastline: Any
) -> Iterator[Any]:
    """Land/sea mask on the analysis grid (uint8, 1 = sea) rasterised from the coastline's land polygons, so that it
    agrees with the coastline layer; the share of cells where the depth sign disagrees is recorded."""
    sc = scenario_of(context, settings)
    mask = bathy.land_sea_mask(bathymetry, coastline.land(sc.area_of_interest.bounds))
    stations = [(s.name, s.lon_deg, s.lat_deg) for s in sc.landing_stations]
    yield dg.Output(mask, metadata=metadata(bathy.summary_metadata(bathymetry, sea_mask=mask)))
    yield from check_results(
        [
            bathy.check_coverage(bathymetry, bathymetry.grid, stations, sea_mask=mask),
            bathy.check_depth_range(bathymetry, mask, sc.bathymetry.min_depth_range_m),
        ]
    )


@dg.asset(partitions_def=PARTITIONS, group_name="ingest_bathymetry")
def seabed_slope(bathymetry: Raster) -> dg.Output[Raster]:
    """Seabed slope in degrees on the analysis grid, from depth differences over cell sizes in metres."""
    slope = bathy.slope_deg(bathymetry)
    finite = slope.data[slope.valid()]
    return dg.Output(
        slope, metadata={"max_slope_deg": float(finite.max()), "median_slope_deg": float(np.median(finite))}
    )


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="ingest_hazards",
    check_specs=check_specs(
        "hazards",
        {
            "inventory_warnings": "Hazard layers loaded without repairs, drops or "
            "warnings (a warning does not block the route)."
        },
        blocking=False,
    ),
)
def hazards(context: dg.AssetExecutionContext, settings: CorridorSettings) -> Iterator[Any]:
    """Every seabed hazard in one normalised, validated table (EPSG:4326): the mirror's faults, earthquakes, pipelines,
    cable, shipping lanes and ports, the curated inventory, and the scenario's own inventories, each row carrying the
    rule that constrains the cable (hard buffer, soft cost and decay, minimum crossing angle)."""
    sc = scenario_of(context, settings)
    rules = haz.effective_rules(sc.hazards)
    tables, reports = [], {}
    if sc.hazards.use_mirror_layers:
        h, i = settings.resolve("hazards_caspian", sc), settings.resolve("infrastructure_caspian", sc)
        table, reports["mirror"] = haz.load_mirror_hazards(
            h.path,
            i.path,
            rules=rules,
            provenance={"hazards_caspian": h.provenance(), "infrastructure_caspian": i.provenance()},
        )
        tables.append(table)
    if sc.hazards.include_curated:
        table, reports["curated"] = haz.load_curated_hazards(rules=rules)
        tables.append(table)
    for item in sc.hazards.inputs:
        tables.append(haz.load_user_inventory(item.path, layer=item.layer, kind=item.kind, rules=rules))
    margin = max((r.exclusion_buffer_m + 7 * r.decay_m for r in rules.values()), default=0.0)
    table = haz.hazards_in_area(haz.combine_hazards(tables), sc.area_of_interest.bounds, margin_m=margin)
    warnings = [w for r in reports.values() for w in r.get("warnings", [])]
    yield dg.Output(
        table,
        metadata=metadata(
            {**haz.hazard_summary(table), "rules": {k: v.model_dump() for k, v in rules.items()}, "reports": reports}
        ),
    )
    yield dg.AssetCheckResult(
        check_name="inventory_warnings",
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(map(str, warnings)) or "no warnings",
    )


@dg.asset(partitions_def=PARTITIONS, group_name="ingest_boundaries")
def coastline(context: dg.AssetExecutionContext, settings: CorridorSettings) -> dg.Output[Any]:
    """The Caspian water body (GSHHG lake polygon less islands; Kara-Bogaz-Gol excluded as Turkmen internal waters)
    and its coast split by littoral state (nearest Natural Earth country), with every repair recorded."""
    sc = scenario_of(context, settings)
    gshhg = settings.resolve(sc.coastline.source, sc)
    countries = settings.resolve(sc.coastline.countries_source, sc)
    coast = bnd.load_caspian(
        gshhg.path,
        countries.path,
        countries_layer=sc.coastline.countries_layer,
        littoral_states=tuple(sc.boundaries.littoral_states),
    )
    lengths = coast.coast.groupby("country")["length_km"].sum().round(1).to_dict()
    return dg.Output(
        coast,
        metadata=metadata(
            {
                "water_area_km2": round(float(coast.water["area_km2"].iloc[0]), 1),
                "coast_length_km": lengths,
                "report": list(coast.report),
                "sources": [gshhg.provenance(), countries.provenance()],
            }
        ),
    )


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="ingest_boundaries",
    check_specs=check_specs(
        "seabed_sectors",
        {
            "partition": "Sectors cover the Caspian water without gaps, overlaps or spill onto land.",
            "stations_in_own_sector": "Each landing station faces its own state's sector.",
        },
    ),
)
def seabed_sectors(context: dg.AssetExecutionContext, settings: CorridorSettings, coastline: Any) -> Iterator[Any]:
    """Seabed sectors of the five littoral states (EPSG:4326, `country`, `area_km2`): an equidistance (median-line)
    partition of the Caspian seabed from the coastline, adjusted to pass through the treaty points (the packaged
    2003 Azerbaijan-Kazakhstan protocol points and any the scenario adds)."""
    sc = scenario_of(context, settings)
    sectors = bnd.median_line_sectors(coastline, coastline, treaty_points=bnd.treaty_points_for(sc.boundaries))
    yield dg.Output(
        sectors,
        metadata=metadata(
            {
                "area_km2": dict(zip(sectors["country"], sectors["area_km2"].round(0), strict=True)),
                "delimitation": sectors.attrs.get("delimitation", {}),
            }
        ),
    )
    yield from check_results(
        [
            ("partition", *bnd.check_sectors_partition(sectors, coastline)),
            ("stations_in_own_sector", *bnd.check_station_in_own_sector(sectors, list(sc.landing_stations))),
        ]
    )


@dg.asset(partitions_def=PARTITIONS, group_name="ingest_boundaries")
def boundary_lines(seabed_sectors: Any) -> dg.Output[Any]:
    """Lines between neighbouring seabed sectors (EPSG:4326): `left_country`, `right_country`, `kind` (median line or
    treaty), `length_km`."""
    lines = bnd.boundary_lines(seabed_sectors)
    return dg.Output(lines, metadata={"lines": len(lines), "total_length_km": float(lines["length_km"].sum())})


@dg.asset(partitions_def=PARTITIONS, group_name="ingest_boundaries")
def territorial_waters(
    context: dg.AssetExecutionContext, settings: CorridorSettings, coastline: Any, seabed_sectors: Any
) -> dg.Output[Any]:
    """The 2018 Convention zones (EPSG:4326): 15 nm territorial sea and a further 10 nm fishing zone from each state's
    coast, measured geodesically (local azimuthal equidistant buffers) and split at the sector boundaries."""
    sc = scenario_of(context, settings)
    zones = bnd.convention_zones(
        coastline,
        coastline,
        sectors=seabed_sectors,
        territorial_sea_nm=sc.boundaries.territorial_sea_nm,
        fishing_zone_nm=sc.boundaries.fishing_zone_nm,
    )
    return dg.Output(
        zones, metadata=metadata({"zones": len(zones), "buffer_check": zones.attrs.get("buffer_check", {})})
    )
