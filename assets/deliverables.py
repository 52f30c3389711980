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
from geodata.engineering.compose import EngineeredRoute
from geodata.engineering.refine import RouteRefinement
from geodata.grid import Raster


@dg.asset(partitions_def=PARTITIONS, group_name="deliverables")
def route_position_list(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    engineered_route: EngineeredRoute,
    refined_route: RouteRefinement,
    bathymetry: Raster,
    seabed_slope: Raster,
    seabed_sectors: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
    coastline: Any,
) -> dg.Output[Any]:
    """The Route Position List (positions and segments; KP geodesic on WGS84, KP 0 at the first landing station;
    land and sea from the coastline), KP points every kp_interval_m, the depth and slope profile every
    profile_interval_m, and the sector-crossing report. Depths come from the survey grids where the scenario has them
    (refined_route), from the regional bathymetry elsewhere."""
    sc = scenario_of(context, settings)
    out = deliver.build_deliverables(
        engineered_route,
        refined_route.depth(bathymetry),
        seabed_slope,
        seabed_sectors,
        hazards,
        sc.engineering,
        water=coastline.water_geometry,
    )
    preview = out.rpl.drop(columns="geometry").head(40)
    return dg.Output(
        out, metadata=metadata({**out.summary(), "rpl_preview": dg.MetadataValue.md(preview.to_markdown(index=False))})
    )


@dg.asset(partitions_def=PARTITIONS, group_name="deliverables")
def straight_line_diagram(
    context: dg.AssetExecutionContext, settings: CorridorSettings, route_position_list: RouteDeliverables
) -> dg.Output[dict[str, bytes]]:
    """The straight-line diagram (PNG of sheet 1, PDF of every sheet): depth against KP with events, burial, cable
    types, sector crossings, hazard proximity and the RPL summary along the track."""
    snap = run_snapshot(settings, context.partition_key, context.run)
    document = deliver.draw_straight_line_diagram(route_position_list, snap.scenario, digest=snap.digest)
    files = document.to_bytes()
    png = base64.b64encode(files["png"]).decode()
    summary = document.summary()
    ranges = "\n".join(
        f"| {i} | {r['kp_from_km']:.3f} | {r['kp_to_km']:.3f} | x{r['vertical_exaggeration']:,} |"
        for i, r in enumerate(summary["sheet_ranges"], start=1)
    )
    return dg.Output(
        files,
        metadata={
            "diagram": dg.MetadataValue.md(f"![straight-line diagram, sheet 1](data:image/png;base64,{png})"),
            "sheets": summary["sheets"],
            "paper": summary["paper"],
            "sheet_ranges": dg.MetadataValue.md(
                "| sheet | KP from (km) | KP to (km) | vertical exaggeration |\n| --- | --- | --- | --- |\n" + ranges
            ),
            "png_kib": round(len(files["png"]) / 1024, 1),
            "pdf_kib": round(len(files["pdf"]) / 1024, 1),
        },
    )
