"""From engineered route to the surveyor's deliverables: RPL, KP points, depth/slope profile, sector report and
the straight-line diagram, composed in order so the Dagster assets stay thin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geodata.deliverables import rpl, sld
from geodata.engineering import crossings
from geodata.engineering import sectors as sectors_report
from geodata.engineering.compose import EngineeredRoute
from geodata.grid import Raster
from geodata.scenario import Engineering, Scenario


# -- deliverables ----------------------------------------------------------------------------------------------------
@dataclass
class RouteDeliverables:
    """What surveyors work from: RPL, KP points, depth/slope profile, sector spans and boundary points."""

    rpl: gpd.GeoDataFrame
    kp_points: gpd.GeoDataFrame
    profile: gpd.GeoDataFrame
    sector_spans: gpd.GeoDataFrame
    sector_points: gpd.GeoDataFrame
    proximity: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        kinds = self.rpl["event"].value_counts().to_dict() if "event" in self.rpl else {}
        return {
            "rpl_rows": len(self.rpl),
            "events": kinds,
            "route_length_km": round(float(self.rpl["kp_km"].max() - self.rpl["kp_km"].min()), 3),
            "kp_points": len(self.kp_points),
            "profile_samples": len(self.profile),
            "max_depth_m": round(float(np.nanmax(self.profile["water_depth_m"])), 1),
            "max_slope_deg": round(float(np.nanmax(self.profile["slope_deg"])), 2),
            "sector_lengths_km": self.sector_spans.groupby("country", dropna=False)["length_km"]
            .sum()
            .round(3)
            .to_dict()
            if len(self.sector_spans)
            else {},
        }


def build_deliverables(
    route: EngineeredRoute,
    depth: Raster,
    slope: Raster,
    sectors: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
    engineering: Engineering,
) -> RouteDeliverables:
    """RPL (one row per A/C and event), KP points, profile every ``profile_interval_m``, sector-crossing report and
    the distance to the nearest hazard of each kind along the track."""
    line, origin = route.line_lonlat, route.kp_origin
    report = sectors_report.sector_crossing_report(line, sectors, kp_origin=origin)
    events = [
        *route.landfalls[0].events(),
        *route.landfalls[1].events(),
        *crossings.crossing_events(route.crossings),
        *sectors_report.sector_events(report),
    ]
    table = rpl.build_rpl(
        line, events, depth, slope, engineering, kp_origin=origin, min_cable_section_m=engineering.min_cable_section_m
    )
    profile = rpl.route_profile(line, depth, slope, engineering.profile_interval_m, kp_origin=origin)
    kps = rpl.kp_points(line, engineering.kp_interval_m, depth=depth, slope=slope, kp_origin=origin)
    proximity = sld.hazard_proximity(profile, hazards, crs=route.crs) if len(hazards) else None
    return RouteDeliverables(table, kps, profile, report.spans, report.boundary_points, proximity)


def draw_straight_line_diagram(
    deliverables: RouteDeliverables, scenario: Scenario, *, date: dt.date | None = None, digest: str = ""
) -> sld.SldDocument:
    """The straight-line diagram of the scenario's route (depth against KP with events, burial, cable types, sectors,
    hazard proximity and the RPL summary) on ``publish.sld_paper`` sheets of at most ``publish.sld_max_km_per_sheet``
    km each, with the PDF's document information."""
    revision = (digest or scenario.digest())[:12]
    sheets = sld.straight_line_diagram_sheets(
        deliverables.profile,
        deliverables.rpl,
        max_km_per_sheet=scenario.publish.sld_max_km_per_sheet,
        paper=scenario.publish.sld_paper,
        segments=getattr(deliverables, "segments", None),  # the RPL's segment table, where it has one
        proximity=deliverables.proximity,
        sector_spans=deliverables.sector_spans,
        cable_types=[b.cable_type for b in scenario.engineering.cable_bands],
        max_slope_deg=scenario.limits.max_slope_deg,
        title=scenario.title,
        scenario=scenario.name,
        date=date,
        notes=(f"Revision (scenario digest): {revision}",),
    )
    when = dt.datetime.combine(date, dt.time(0, 0), tzinfo=dt.UTC) if date else None
    meta = sld.pdf_metadata(title=scenario.title, scenario=scenario.name, revision=revision, date=when)
    return sld.SldDocument(sheets, meta, scenario.publish.sld_paper)
