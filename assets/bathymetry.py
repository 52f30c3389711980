"""Bathymetry stage: water depth below the Caspian surface on the analysis grid, the land/sea mask and the seabed
slope, each checked before use (no CRS, landing stations off the data or a wrong datum stop the run)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.common import check_results, check_specs, metadata, scenario_of, scratch_file
from assets.config import PARTITIONS, CorridorSettings
from geodata import bathymetry as bathy
from geodata.grid import Raster

BATHYMETRY_CHECKS = {
    "crs_present": "The depth grid carries the projected, metric analysis CRS.",
    "nodata_share": "The share of cells without data in the area stays under bathymetry.max_nodata_fraction.",
}
SEA_MASK_CHECKS = {
    "coverage": "The sea cells of the area of interest hold depth data and both landing stations lie on data within "
    "reach of the sea.",
    "depth_range": "Sea depths lie within bathymetry.min_depth_range_m (datum, units and sign are right).",
    "source_sign": "Each bathymetry source on its own has sea deeper and land higher than the water surface "
    "(its positive up/down is right).",
}


@dg.asset(partitions_def=PARTITIONS, group_name="bathymetry", check_specs=check_specs("bathymetry", BATHYMETRY_CHECKS))
def bathymetry(context: dg.AssetExecutionContext, settings: CorridorSettings) -> Iterator[Any]:
    """Water depth below the Caspian surface (m, positive down; land negative) on the scenario's analysis grid: each
    configured source read (GeoTIFF/COG/netCDF, any CRS), moved from its vertical reference to the Caspian level,
    reprojected and mosaicked by priority, band by band within the memory budget into a tiled GeoTIFF."""
    sc = scenario_of(context, settings)
    aoi = sc.area_of_interest.bounds
    grid = bathy.analysis_grid(aoi, sc.analysis_crs(), sc.analysis.resolution_m)
    inputs = bathy.load_bathymetry_inputs(
        sc.bathymetry.sources, grid, mirror=settings.mirror, cache=settings.cache, verify=sc.verify_checksums
    )
    depth = bathy.stream_depth(
        inputs,
        grid,
        scratch_file(settings, "bathymetry"),
        water_level_m=sc.bathymetry.water_level_m,
        budget_bytes=settings.memory_budget_bytes,
        resampling=sc.analysis.resampling,
        aoi_bounds_lonlat=aoi,
        overviews=False,
    )
    held = bathy.held(depth, settings.memory_budget_bytes)  # the checks read it several times
    yield dg.Output(depth, metadata=metadata(bathy.summary_metadata(held, aoi_bounds_lonlat=aoi)))
    yield from check_results(
        [
            bathy.check_crs(held, sc.analysis_crs()),
            bathy.check_nodata_share(held, sc.bathymetry.max_nodata_fraction, aoi_bounds_lonlat=aoi),
        ]
    )
    depth.kept = None  # the run keeps the output value: not the copy its checks read


@dg.asset(partitions_def=PARTITIONS, group_name="bathymetry", check_specs=check_specs("sea_mask", SEA_MASK_CHECKS))
def sea_mask(
    context: dg.AssetExecutionContext, settings: CorridorSettings, bathymetry: Raster, coastline: Any
) -> Iterator[Any]:
    """Land/sea mask on the analysis grid (uint8, 1 = sea) rasterised from the coastline's land polygons, so that it
    agrees with the coastline layer; the share of cells where the depth sign disagrees is recorded."""
    sc = scenario_of(context, settings)
    land = coastline.land(sc.area_of_interest.bounds)
    budget = settings.memory_budget_bytes
    depth = bathy.held(bathymetry, budget)  # read once for the mask and the checks when it fits one band
    mask = bathy.stream_land_sea_mask(depth, land, scratch_file(settings, "sea_mask"), budget_bytes=budget)
    sea = bathy.held(mask, budget)
    stations = [(s.name, s.lon_deg, s.lat_deg) for s in sc.landing_stations]
    yield dg.Output(mask, metadata=metadata(bathy.summary_metadata(depth, sea_mask=sea)))
    yield from check_results(
        [
            bathy.check_coverage(depth, sc.area_of_interest.bounds, stations, sea_mask=sea, sea_only=True),
            bathy.check_depth_range(depth, sea, sc.bathymetry.min_depth_range_m),
            bathy.check_source_signs(depth, sea),
        ]
    )
    mask.kept = None  # the run keeps the output value: not the copy its checks read


@dg.asset(partitions_def=PARTITIONS, group_name="bathymetry")
def seabed_slope(settings: CorridorSettings, bathymetry: Raster) -> dg.Output[Raster]:
    """Seabed slope in degrees on the analysis grid, from depth differences over cell sizes in metres (band by band,
    a one-row halo)."""
    out = scratch_file(settings, "seabed_slope")
    slope = bathy.stream_slope(bathymetry, out, budget_bytes=settings.memory_budget_bytes, overviews=False)
    return dg.Output(
        slope, metadata={k: slope.attrs[k] for k in ("max_slope_deg", "median_slope_deg") if slope.attrs[k] is not None}
    )
