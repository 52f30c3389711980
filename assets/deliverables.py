"""Deliverables stage: the Route Position List, KP points, depth/slope profile, sector report and the straight-line
diagram."""

import base64
from typing import Any

import dagster as dg
import geopandas as gpd

from assets.common import metadata, run_snapshot, scenario_of
from assets.config import PARTITIONS, CorridorSettings
from geodata.deliverables import compose as deliver
from geodata.deliverables.compose import RouteDeliverables
from geodata.deliverables.sld import figure_bytes as sld_bytes
from geodata.engineering.compose import EngineeredRoute
from geodata.grid import Raster


@dg.asset(partitions_def=PARTITIONS, group_name="deliverables")
def route_position_list(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    engineered_route: EngineeredRoute,
    bathymetry: Raster,
    seabed_slope: Raster,
    seabed_sectors: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
) -> dg.Output[Any]:
    """The Route Position List (one row per A/C and event, KP geodesic on WGS84 from the first beach manhole), KP
    points every kp_interval_m, the depth and slope profile every profile_interval_m, and the sector-crossing
    report."""
    sc = scenario_of(context, settings)
    out = deliver.build_deliverables(
        engineered_route, bathymetry, seabed_slope, seabed_sectors, hazards, sc.engineering
    )
    preview = out.rpl.drop(columns="geometry").head(40)
    return dg.Output(
        out, metadata=metadata({**out.summary(), "rpl_preview": dg.MetadataValue.md(preview.to_markdown(index=False))})
    )


@dg.asset(partitions_def=PARTITIONS, group_name="deliverables")
def straight_line_diagram(
    context: dg.AssetExecutionContext, settings: CorridorSettings, route_position_list: RouteDeliverables
) -> dg.Output[dict[str, bytes]]:
    """The straight-line diagram (PNG and PDF): depth against KP with events, cable types, sector crossings and
    hazard proximity along the track."""
    snap = run_snapshot(settings, context.partition_key, context.run.run_id)
    figure = deliver.draw_straight_line_diagram(route_position_list, snap.scenario, digest=snap.digest)
    files = sld_bytes(figure)
    png = base64.b64encode(files["png"]).decode()
    return dg.Output(
        files,
        metadata={
            "diagram": dg.MetadataValue.md(f"![straight-line diagram](data:image/png;base64,{png})"),
            "png_bytes": len(files["png"]),
            "pdf_bytes": len(files["pdf"]),
        },
    )
