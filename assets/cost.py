"""Cost stage: cost per metre of route in every cell, with every term and barrier kept apart."""

import dagster as dg
import geopandas as gpd

from assets.common import metadata, scenario_of
from assets.config import PARTITIONS, CorridorSettings
from geodata import hazards as haz
from geodata.cost import CostSurface, allowed_sector_mask, build_cost_surface
from geodata.grid import Raster


@dg.asset(partitions_def=PARTITIONS, group_name="cost")
def cost_surface(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    bathymetry: Raster,
    seabed_slope: Raster,
    sea_mask: Raster,
    hazards: gpd.GeoDataFrame,
    seabed_sectors: gpd.GeoDataFrame,
) -> dg.Output[CostSurface]:
    """Cost per metre of route in every cell (length, shallow and deep water, slope, hazard proximity, shipping
    lanes), with impassable cells for land, slope and depth limits, hard hazard buffers and foreign seabed sectors.
    Every term and barrier is kept so it can be published on its own (formulas in geodata/cost.py)."""
    sc = scenario_of(context, settings)
    rasters = haz.rasterize_hazards(hazards, bathymetry.grid)
    allowed = sc.boundaries.allowed_sectors or sorted({s.country for s in sc.landing_stations})
    surface = build_cost_surface(
        bathymetry,
        seabed_slope,
        sea_mask,
        sc.cost,
        sc.limits,
        hazard_soft=rasters.soft_by_kind,
        hazard_hard=rasters.hard_mask,
        allowed_sector=allowed_sector_mask(seabed_sectors, bathymetry.grid, allowed),
        allowed_sectors=tuple(allowed),
    )
    return dg.Output(surface, metadata=metadata({**surface.summary(), "allowed_sectors": allowed}))
