"""Cost stage: cost per metre of route in every cell, with every term and barrier kept apart."""

import dagster as dg
import geopandas as gpd

from assets.common import metadata, scenario_of, scratch_file
from assets.config import PARTITIONS, CorridorSettings
from geodata import hazards as haz
from geodata.cost import CostSurface, allowed_sector_mask, build_cost_surface
from geodata.grid import Raster

STAGE_BUDGET_SHARE = 8
"""The cost stage's bands use this fraction of the run's memory budget (the rest holds the total and the inputs)."""
BAND_BUDGET_CAP = 1 << 30
"""...and at most this much: bands of about a thousand rows at 100 m already cost little more than one band."""


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
    Every term and barrier is kept so it can be published on its own (formulas in geodata/cost.py): each is a tiled
    GeoTIFF written band by band within the memory budget, and only the total is held in memory."""
    sc = scenario_of(context, settings)
    grid = bathymetry.grid
    allowed = sc.boundaries.allowed_sectors or sorted({s.country for s in sc.landing_stations})
    budget = min(settings.memory_budget_bytes // STAGE_BUDGET_SHARE, BAND_BUDGET_CAP)
    folder = scratch_file(settings, "cost_surface").parent  # the store moves the layers into the value's folder
    surface = build_cost_surface(
        bathymetry,
        seabed_slope,
        sea_mask,
        sc.cost,
        sc.limits,
        hazards=haz.plan_hazards(hazards, grid),
        allowed_sector=allowed_sector_mask(seabed_sectors, grid, allowed),
        allowed_sectors=tuple(allowed),
        folder=folder,
        budget_bytes=budget,
    )
    return dg.Output(surface, metadata=metadata({**surface.summary(budget), "allowed_sectors": allowed}))
