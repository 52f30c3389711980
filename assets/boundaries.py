"""Boundaries stage: the Caspian coastline, the seabed sectors of the five littoral states, the lines between them
and the 2018 Convention zones (sectors with gaps or stations facing a foreign sector stop the run)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import geopandas as gpd

from assets.common import check_results, check_specs, metadata, scenario_of
from assets.config import PARTITIONS, CorridorSettings
from geodata import boundaries as bnd
from geodata.boundaries import CaspianCoast


@dg.asset(partitions_def=PARTITIONS, group_name="boundaries")
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
    group_name="boundaries",
    check_specs=check_specs(
        "seabed_sectors",
        {
            "partition": "Sectors cover the Caspian water without gaps, overlaps or spill onto land.",
            "stations_in_own_sector": "Each landing station faces its own state's sector.",
        },
    ),
)
def seabed_sectors(
    context: dg.AssetExecutionContext, settings: CorridorSettings, coastline: CaspianCoast
) -> Iterator[Any]:
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
            bnd.check_sectors_partition(sectors, coastline),
            bnd.check_station_in_own_sector(sectors, list(sc.landing_stations)),
        ]
    )


@dg.asset(partitions_def=PARTITIONS, group_name="boundaries")
def boundary_lines(seabed_sectors: gpd.GeoDataFrame) -> dg.Output[Any]:
    """Lines between neighbouring seabed sectors (EPSG:4326): `left_country`, `right_country`, `kind` (median line or
    treaty), `length_km`."""
    lines = bnd.boundary_lines(seabed_sectors)
    return dg.Output(lines, metadata={"lines": len(lines), "total_length_km": float(lines["length_km"].sum())})


@dg.asset(partitions_def=PARTITIONS, group_name="boundaries")
def territorial_waters(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    coastline: CaspianCoast,
    seabed_sectors: gpd.GeoDataFrame,
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
