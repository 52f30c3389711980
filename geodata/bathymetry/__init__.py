"""Bathymetry: read grids (GeoTIFF/COG, GEBCO/ETOPO netCDF), mosaic them by priority onto the metric analysis grid
as water depth below the Caspian surface, derive slope and the land/sea mask, and check the result.

Modules, one concept each:

* :mod:`~geodata.bathymetry.read` - one source file to a :class:`~geodata.grid.Raster` (any CRS, south-up flipped).
* :mod:`~geodata.bathymetry.mosaic` - the analysis grid, vertical datum conversion, priority mosaic.
* :mod:`~geodata.bathymetry.terrain` - slope in degrees (metric cell sizes) and the land/sea mask.
* :mod:`~geodata.bathymetry.stream` - the mosaic, slope and mask band by band within a memory budget, into tiled
  GeoTIFFs (what the Dagster assets run); the same values as the whole-grid functions above.
* :mod:`~geodata.bathymetry.bands` - statistics gathered band by band (exact order statistics, the source index).
* :mod:`~geodata.bathymetry.checks` - structured checks for the Dagster asset checks, and summary metadata.

Typical use (what the Dagster assets do)::

    aoi = scenario.area_of_interest.bounds
    grid = analysis_grid(aoi, scenario.analysis_crs(), scenario.analysis.resolution_m)
    inputs = load_bathymetry_inputs(scenario.bathymetry.sources, grid, verify=scenario.verify_checksums)
    depth = build_depth(inputs, grid, water_level_m=scenario.bathymetry.water_level_m,
                        resampling=scenario.analysis.resampling, aoi_bounds_lonlat=aoi)
    sea = land_sea_mask(depth, land_gdf)
    slope = slope_deg(depth)
"""

from __future__ import annotations

from geodata.bathymetry.bands import raster_stats
from geodata.bathymetry.checks import (
    CheckResult,
    InvertedDepthSource,
    check_coverage,
    check_crs,
    check_depth_range,
    check_nodata_share,
    check_source_signs,
    source_sign_agreement,
    summary_metadata,
    validate_source_signs,
)
from geodata.bathymetry.mosaic import (
    BathymetryInput,
    DepthMosaic,
    analysis_grid,
    aoi_mask,
    build_depth,
    build_depth_mosaic,
    load_bathymetry_inputs,
    source_index_of,
)
from geodata.bathymetry.read import read_bathymetry_source, resolve_bathymetry_source, user_path
from geodata.bathymetry.stream import held, stream_depth, stream_land_sea_mask, stream_slope
from geodata.bathymetry.terrain import land_sea_mask, metres_per_degree, sea_depth, slope_deg

__all__ = [
    "BathymetryInput",
    "CheckResult",
    "DepthMosaic",
    "InvertedDepthSource",
    "analysis_grid",
    "aoi_mask",
    "build_depth",
    "build_depth_mosaic",
    "check_coverage",
    "check_crs",
    "check_depth_range",
    "check_nodata_share",
    "check_source_signs",
    "held",
    "land_sea_mask",
    "load_bathymetry_inputs",
    "metres_per_degree",
    "raster_stats",
    "read_bathymetry_source",
    "resolve_bathymetry_source",
    "sea_depth",
    "slope_deg",
    "source_index_of",
    "source_sign_agreement",
    "stream_depth",
    "stream_land_sea_mask",
    "stream_slope",
    "summary_metadata",
    "user_path",
    "validate_source_signs",
]
