"""From engineered route to the surveyor's deliverables: RPL (positions and segments), KP points, depth/slope
profile, sector report and the straight-line diagram, composed in order so the Dagster assets stay thin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geodata.deliverables import rpl, sld
from geodata.engineering import crossings
from geodata.engineering import sectors as sectors_report
from geodata.engineering.compose import EngineeredRoute
from geodata.grid import BLOCK_ALIGN, LazyRaster, Raster, _sample, valid_values
from geodata.scenario import Engineering, Scenario


# -- deliverables ----------------------------------------------------------------------------------------------------
@dataclass
class RouteDeliverables:
    """What surveyors work from: RPL positions and segments, KP points, depth/slope profile, sector spans and
    boundary points; one KP basis throughout (:data:`geodata.deliverables.rpl.KP_BASIS`)."""

    rpl: gpd.GeoDataFrame
    kp_points: gpd.GeoDataFrame
    profile: gpd.GeoDataFrame
    sector_spans: gpd.GeoDataFrame
    sector_points: gpd.GeoDataFrame
    proximity: pd.DataFrame | None = None
    segments: gpd.GeoDataFrame | None = None
    """The RPL's segment table (:data:`geodata.deliverables.rpl.SEGMENT_COLUMNS`)."""
    surface_disagreements: int = 0
    """RPL positions where the bathymetry's sign contradicts the coastline (they print no depth)."""

    def summary(self) -> dict[str, Any]:
        kinds = self.rpl["event"].value_counts().to_dict() if "event" in self.rpl else {}
        out: dict[str, Any] = {
            "kp_basis": rpl.KP_BASIS,
            "rpl_rows": len(self.rpl),
            "events": kinds,
            "route_length_km": round(float(self.rpl["kp_km"].max() - self.rpl["kp_km"].min()), 3),
            "kp_points": len(self.kp_points),
            "profile_samples": len(self.profile),
            "max_depth_m": round(float(np.nanmax(self.profile["water_depth_m"])), 0),
            "max_slope_deg": round(float(np.nanmax(self.profile["slope_deg"])), 1),
            "surface_disagreements": self.surface_disagreements,
            "sector_lengths_km": self.sector_spans.groupby("country", dropna=False)["length_km"]
            .sum()
            .round(3)
            .to_dict()
            if len(self.sector_spans)
            else {},
        }
        if "cable_kp_km" in self.rpl:
            out["cable_length_km"] = round(float(self.rpl["cable_kp_km"].max()), 3)
        if self.segments is not None and len(self.segments):
            seg = self.segments
            out["rpl_segments"] = len(seg)
            out["land_length_km"] = round(float(seg.loc[seg["surface"] == "land", "distance_km"].sum()), 3)
            out["marine_length_km"] = round(float(seg.loc[seg["surface"] != "land", "distance_km"].sum()), 3)
            out["cable_by_type_km"] = seg.groupby("cable_type")["cable_length_km"].sum().round(3).to_dict()
        return out


class _TileCache(LazyRaster):
    """A stored raster sampled many times along one route (profile, KP points, positions, sections): each 256 x 256
    tile it touches is read and decoded once, not once per sampling (the values :meth:`RasterFile.cells` gives)."""

    def __init__(self, raster: LazyRaster) -> None:
        super().__init__(raster.file, dtype=raster.dtype)
        self.attrs = raster.attrs
        self._tiles: dict[tuple[int, int], np.ndarray] = {}

    def sample(self, x: Any, y: Any, *, method: str = "bilinear") -> np.ndarray:
        if self.loaded:
            return super().sample(x, y, method=method)
        return _sample(self.grid, x, y, method, self._cells)

    def _cells(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        import rasterio
        from rasterio.windows import Window

        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        out = np.full(rows.shape, np.nan)
        if rows.size == 0:
            return out
        t, (H, W) = BLOCK_ALIGN, self.grid.shape
        tile = (rows // t) * (W // t + 1) + cols // t
        order = np.argsort(tile, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(tile[order])) + 1)
        corners = [(int(rows[g[0]] // t) * t, int(cols[g[0]] // t) * t) for g in groups]
        missing = [rc for rc in corners if rc not in self._tiles]
        if missing:
            with rasterio.open(self.file.path) as src:
                for r0, c0 in missing:
                    window = Window(c0, r0, min(t, W - c0), min(t, H - r0))
                    self._tiles[(r0, c0)] = valid_values(src.read(1, window=window), self.nodata)
        for g, (r0, c0) in zip(groups, corners, strict=True):
            out[g] = self._tiles[(r0, c0)][rows[g] - r0, cols[g] - c0]
        return out


def _cached(raster: Raster) -> Raster:
    """``raster`` with its tiles decoded once for the many samplings of one route, when it is a stored file."""
    return _TileCache(raster) if type(raster) is LazyRaster and not raster.loaded else raster


def build_deliverables(
    route: EngineeredRoute,
    depth: Raster,
    slope: Raster,
    sectors: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
    engineering: Engineering,
    *,
    water: BaseGeometry | None = None,
) -> RouteDeliverables:
    """RPL (positions and segments), KP points, profile every ``profile_interval_m``, sector-crossing report and
    the distance to the nearest hazard of each kind along the track, all with KP 0 at the first landing station
    (the route's start). ``water`` is the coastline's water polygon (EPSG:4326) that decides land and sea."""
    line = route.line_lonlat
    depth, slope = _cached(depth), _cached(slope)
    report = sectors_report.sector_crossing_report(line, sectors)
    events = [
        *route.landfalls[0].events(),
        *route.landfalls[1].events(),
        *crossings.crossing_events(route.crossings),
        *route.zone_and_approach_events(),
        *rpl.sector_boundary_events(report.boundary_points),
    ]
    tables = rpl.build_rpl_tables(
        line,
        events,
        depth,
        slope,
        engineering,
        water=water,
        sector_spans=report.spans,
        min_cable_section_m=engineering.min_cable_section_m,
    )
    profile = rpl.route_profile(line, depth, slope, engineering.profile_interval_m)
    profile["surface"] = rpl.classify_surface(
        profile["lon_deg"], profile["lat_deg"], water, profile["water_depth_m"], shore_tolerance_m=None
    )
    kps = rpl.kp_points(line, engineering.kp_interval_m, depth=depth, slope=slope)
    kps["surface"] = rpl.classify_surface(
        kps["lon_deg"], kps["lat_deg"], water, kps["water_depth_m"], shore_tolerance_m=None
    )
    kps["water_depth_m"] = rpl.water_depth_on_surface(kps["surface"], kps["water_depth_m"])[0]  # none on land
    proximity = sld.hazard_proximity(profile, hazards, crs=route.crs) if len(hazards) else None
    return RouteDeliverables(
        tables.positions,
        kps,
        profile,
        report.spans,
        report.boundary_points,
        proximity,
        segments=tables.segments,
        surface_disagreements=tables.surface_disagreements,
    )


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
