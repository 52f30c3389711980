"""Blocking checks of a final route: the engineering rules it must meet before anyone works from it.

Each check returns a :class:`geodata.checks.CheckResult` (blocking) with figures for the UI:

- ``route_clear_of_hard_exclusions``: no cell the route passes through (exact cell traversal) is in the hard mask;
- ``route_clear_of_land``: beyond its shore ends the route stays off the coastline's vector land polygons (a spit or
  island thinner than a cell is sea to the hard mask, not to this check);
- ``route_within_slope_limit``: no cell the route passes through is steeper than ``max_slope_deg`` (the rule the
  hard mask applies, cell by cell); the largest bilinear profile sample (every ``profile_interval_m``) is reported
  alongside, for information, since interpolation next to a steep cell can exceed the limit in a cell that meets it;
- ``route_within_allowed_sectors``: every stretch of the route lies in an allowed seabed sector (stretches in no
  sector are allowed only at the two ends, i.e. on land and in coastal waters the sector polygons do not cover);
- ``crossing_angles``: every pipeline/cable crossing meets its minimum angle;
- ``separation_from_existing_infrastructure``: away from its crossings, the route keeps the required separation
  (:mod:`geodata.engineering.approaches`) from every existing cable and pipeline not named in
  ``Engineering.allow_close_approach``.

The shore ends (station -> beach manhole -> shore -> approach end) run over land cells on purpose; pass them as
``exempt`` (e.g. the union of :meth:`geodata.engineering.landfall.Landfall.shore_end` lines) so that the grid
checks skip them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from geodata.checks import CheckResult
from geodata.engineering.alter_course import segment_cells
from geodata.engineering.crossings import CROSSABLE_KINDS
from geodata.engineering.land import land_stretches
from geodata.engineering.sectors import sector_crossing_report
from geodata.errors import InputDataError
from geodata.geodesy import Chainage, to_lonlat, transformer
from geodata.grid import GeoGrid, LazyRaster, Raster, nodata_is_nan


def _checked_parts(route: LineString, exempt: BaseGeometry | None) -> list[LineString]:
    if exempt is None or exempt.is_empty:
        return [route]
    rest = route.difference(exempt.buffer(1.0))
    return [g for g in getattr(rest, "geoms", [rest]) if g.geom_type == "LineString" and not g.is_empty]


def _traversed(grid: GeoGrid, parts: Sequence[LineString]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows, cols, lengths and mid-points (x, y stacked) of every cell piece the parts pass through."""
    rows, cols, lens, mids = [], [], [], []
    for part in parts:
        c = np.asarray(part.coords, dtype=float)[:, :2]
        for (x0, y0), (x1, y1) in itertools.pairwise(c):
            r, k, seg = segment_cells(grid, x0, y0, x1, y1)
            rows.append(r)
            cols.append(k)
            lens.append(seg)
            xs, ys = grid.xy(r, k)
            mids.append(np.column_stack([xs, ys]))
    if not rows:
        return np.array([], int), np.array([], int), np.array([]), np.empty((0, 2))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(lens), np.concatenate(mids)


def _where(grid: GeoGrid, xy: np.ndarray) -> list[list[float]]:
    lon, lat = grid.xy_to_lonlat(xy[:, 0], xy[:, 1])
    return [[round(float(a), 5), round(float(b), 5)] for a, b in zip(lat, lon, strict=True)][:10]


def check_hard_exclusions(
    route: LineString, grid: GeoGrid, hard_mask: np.ndarray, *, exempt: BaseGeometry | None = None
) -> CheckResult:
    """Fails when the route (outside ``exempt``) passes through any hard-mask cell or leaves the grid."""
    if hard_mask.shape != grid.shape:
        raise InputDataError(f"hard mask of shape {hard_mask.shape} does not match the grid {grid.shape}")
    rows, cols, lens, mids = _traversed(grid, _checked_parts(route, exempt))
    off = (rows < 0) | (rows >= grid.shape[0]) | (cols < 0) | (cols >= grid.shape[1])
    bad = off.copy()
    bad[~off] = hard_mask[rows[~off], cols[~off]].astype(bool)
    length = float(lens[bad].sum())
    passed = not bad.any()
    return CheckResult(
        "route_clear_of_hard_exclusions",
        passed,
        "the route stays clear of every hard exclusion"
        if passed
        else f"the route runs {length:.0f} m through hard exclusions (land, hazard buffers, forbidden sectors or "
        "over-steep cells) or off the grid; re-route, or review the exclusion that blocks it",
        {
            "length_in_exclusion_m": round(length, 1),
            "cells": int(bad.sum()),
            "first_cells_lat_lon": _where(grid, mids[bad]),
        },
    )


def check_clear_of_land(
    route: LineString, crs: Any, land: BaseGeometry | None, *, exempt: BaseGeometry | None = None
) -> CheckResult:
    """Fails when the route (outside ``exempt``, the shore ends) runs over the vector land polygons: a spit,
    headland or island narrower than a grid cell that the cell-based hard mask cannot see."""
    pieces = land_stretches(route, land, exempt=exempt)
    length = float(sum(p.length for p in pieces))
    places = []
    if pieces:
        ll = to_lonlat(route, crs)
        chain = Chainage(ll)
        for p in pieces[:5]:
            mid = p.interpolate(0.5, normalized=True)
            lon, lat = (float(v) for v in transformer(crs, "EPSG:4326").transform(mid.x, mid.y))
            kp = float(chain.kp_km(chain.locate(lon, lat)))
            places.append(f"KP {kp:.3f} ({lat:.4f} N, {lon:.4f} E, {p.length:.0f} m)")
    return CheckResult(
        "route_clear_of_land",
        not pieces,
        "the route stays off the coastline's land polygons beyond its shore ends"
        if not pieces
        else f"the route runs {length:.0f} m over land beyond its shore ends, at {'; '.join(places)}: land narrower "
        "than a grid cell (a spit, headland or island) that the cell mask does not hold; re-route with a finer "
        "analysis.resolution_m, or report the route engineering step that moved the route there",
        {"length_on_land_m": round(length, 1), "stretches": len(pieces), "places": places},
    )


def _cell_values(raster: Raster, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``raster``'s values at the cells ``(rows, cols)`` as float64, NaN where it holds no data: only those cells
    are read (no whole-grid copy; of a raster still on disk, only the tiles holding them)."""
    if isinstance(raster, LazyRaster) and not raster.loaded:
        return raster.file.cells(rows, cols)
    vals = np.asarray(raster.data[rows, cols]).astype(float)
    if not nodata_is_nan(raster.nodata):
        vals[vals == raster.nodata] = np.nan
    vals[~np.isfinite(vals)] = np.nan
    return vals


def check_slope(
    route: LineString,
    slope: Raster,
    max_slope_deg: float,
    *,
    exempt: BaseGeometry | None = None,
    profile_interval_m: float = 100.0,
) -> CheckResult:
    """Fails when a cell the route passes through is steeper than ``max_slope_deg`` (profile maximum reported)."""
    grid = slope.grid
    parts = _checked_parts(route, exempt)
    rows, cols, _, mids = _traversed(grid, parts)
    inside = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1])
    cell_vals = _cell_values(slope, rows[inside], cols[inside])
    samples = []
    for part in parts:
        n = max(int(np.ceil(part.length / profile_interval_m)), 1)
        pts = shapely.line_interpolate_point(part, np.linspace(0.0, part.length, n + 1))
        samples.append(slope.sample(shapely.get_x(pts), shapely.get_y(pts)))
    prof = np.concatenate(samples) if samples else np.array([])
    cell_max = float(np.nanmax(cell_vals)) if np.isfinite(cell_vals).any() else float("nan")
    prof_max = float(np.nanmax(prof)) if np.isfinite(prof).any() else float("nan")
    steep = cell_vals > max_slope_deg
    passed = not steep.any()
    return CheckResult(
        "route_within_slope_limit",
        passed,
        f"the seabed along the route is at most {np.nanmax([cell_max, prof_max]):.1f}° steep (limit {max_slope_deg:g}°)"
        if passed
        else f"the route crosses {int(steep.sum())} cells steeper than limits.max_slope_deg = {max_slope_deg:g}° "
        f"(up to {np.nanmax([cell_max, prof_max]):.1f}°); re-route round them or review the slope limit",
        {
            "max_slope_cells_deg": round(cell_max, 2),
            "max_slope_profile_deg": round(prof_max, 2),
            "limit_deg": max_slope_deg,
            "steep_cells_lat_lon": _where(grid, mids[inside][steep]),
        },
    )


def check_sectors(
    route: LineString,
    crs: Any,
    sectors: gpd.GeoDataFrame,
    allowed_countries: Sequence[str],
    *,
    country_col: str = "country",
) -> CheckResult:
    """Fails when a stretch of the route lies in a sector not in ``allowed_countries``, or in no sector away from the
    route's two ends."""
    spans = sector_crossing_report(to_lonlat(route, crs), sectors, country_col=country_col).spans
    allowed = {c.upper() for c in allowed_countries}
    bad = []
    for i, s in spans.reset_index(drop=True).iterrows():
        who = s["country"] if isinstance(s["country"], str) else None
        at_end = i in (0, len(spans) - 1)
        if (who is None and not at_end) or (who is not None and str(who).upper() not in allowed):
            bad.append(s)
    summary: dict[str, float] = {}
    for _, s in spans.iterrows():
        key = s["country"] if isinstance(s["country"], str) else "no sector"
        summary[key] = round(summary.get(key, 0.0) + float(s["length_km"]), 3)
    passed = not bad
    detail = "; ".join(
        f"{s['country'] if isinstance(s['country'], str) else 'no sector'} KP {s['kp_from_km']:.3f}-{s['kp_to_km']:.3f}"
        for s in bad
    )
    foreign = any(isinstance(s["country"], str) for s in bad)
    stray = len(bad) > sum(isinstance(s["country"], str) for s in bad)
    fixes = []
    if foreign:
        fixes.append("forbid those sectors in the cost surface or change boundaries.allowed_sectors")
    if stray:
        fixes.append(
            "a stretch in no sector away from the ends lies on land or in water no sector polygon covers: see "
            "route_clear_of_land for land the grid does not resolve, and the landfalls for a land section over water"
        )
    return CheckResult(
        "route_within_allowed_sectors",
        passed,
        f"the route stays in the allowed sectors {sorted(allowed)}"
        if passed
        else f"the route leaves the allowed sectors {sorted(allowed)}: {detail}; " + "; ".join(fixes),
        {"length_by_sector_km": summary, "violations": detail},
    )


def check_crossing_angles(
    crossings: pd.DataFrame, min_angle_deg: float, *, land_sections: BaseGeometry | None = None
) -> CheckResult:
    """Fails when a crossing is below its minimum angle (``min_angle_deg`` or the feature's own, if stricter).

    ``min_angle_deg`` applies to pipelines and cables (:data:`~geodata.engineering.crossings.CROSSABLE_KINDS`, or
    every row when the table has no ``kind``); crossings of other kinds (shipping lanes, faults) are held only to
    their own ``min_angle_deg`` and are not checked where it is NaN. Crossings on ``land_sections`` (station ->
    beach manhole -> shore crossing, analysis CRS; the table's ``x_m``/``y_m``) are not held to the marine minimum:
    on land a crossing is ducted where the land section runs, and the schematic routes of existing cables end at
    their landing point (found at Turkmenbashi: the land section crossed the Azerbaijan-Turkmenistan cable's
    drawing at 48 degrees). They are counted in the metadata."""
    on_land = pd.Series(False, index=crossings.index)
    if land_sections is not None and len(crossings) and {"x_m", "y_m"} <= set(crossings.columns):
        near = land_sections.buffer(1.0)
        on_land = pd.Series(
            shapely.contains_xy(near, crossings["x_m"].to_numpy(float), crossings["y_m"].to_numpy(float)),
            index=crossings.index,
        )
    n_land = int(on_land.sum())
    crossings = crossings[~on_land]
    own = crossings.get("min_angle_deg", pd.Series(np.nan, index=crossings.index)).astype(float)
    if "kind" in crossings.columns:
        crossable = crossings["kind"].isin(list(CROSSABLE_KINDS))
    else:
        crossable = pd.Series(True, index=crossings.index)
    crossings = crossings[crossable | own.notna()]
    if len(crossings) == 0:
        return CheckResult(
            "crossing_angles",
            True,
            "the route crosses no pipeline or cable at sea",
            {"crossings": 0, "land_section_crossings": n_land},
        )
    own, crossable = own[crossings.index], crossable[crossings.index]
    required = own.where(~crossable, np.maximum(own.fillna(min_angle_deg), min_angle_deg))
    low = crossings[crossings["angle_deg"] < required - 1e-9]
    passed = low.empty
    return CheckResult(
        "crossing_angles",
        passed,
        f"all {len(crossings)} crossings meet their minimum angle (smallest {crossings['angle_deg'].min():.1f}°)"
        if passed
        else f"{len(low)} of {len(crossings)} crossings are below the minimum angle: "
        + ", ".join(f"{r['feature_id']} at {r['angle_deg']:.0f}°" for _, r in low.iterrows())
        + "; run geodata.engineering.crossings.enforce_crossing_angles or re-route",
        {
            "crossings": len(crossings),
            "min_angle_found_deg": round(float(crossings["angle_deg"].min()), 1),
            "land_section_crossings": n_land,
        },
    )


def _approach_text(a: pd.Series) -> str:
    label = f"{str(a['kind']).replace('_', ' ')} {a['name'] or a['feature_id']}".strip()
    return (
        f"{label} (id {a['feature_id']}) {a['min_distance_m']:.0f} m from the route at {a['lat_deg']:.5f} N "
        f"{a['lon_deg']:.5f} E, KP {a['kp_min_km']:.3f} (required {a['required_separation_m']:.0f} m; within the "
        f"separation from KP {a['kp_from_km']:.3f} to {a['kp_to_km']:.3f}, {a['length_m']:.0f} m)"
    )


def check_separation(
    approaches: pd.DataFrame,
    allow: Sequence[str],
    *,
    min_separation_m: float,
    depth_factor: float,
) -> CheckResult:
    """Fails when the route comes closer to an existing cable or pipeline than the required separation (a
    :func:`geodata.engineering.approaches.find_close_approaches` table) and the feature is not in ``allow``
    (``Engineering.allow_close_approach``, ids or names). Approaches on the land sections (``section == "land"``)
    are counted but never fail it."""
    if "section" in approaches.columns:
        land = approaches[approaches["section"] == "land"]
        approaches = approaches[approaches["section"] != "land"]
    else:
        land = approaches.iloc[0:0]
    from_allow = [
        bool(str(a["feature_id"]) in allow or (isinstance(a["name"], str) and a["name"] in allow))
        for _, a in approaches.iterrows()
    ]
    ok = pd.Series(from_allow, index=approaches.index, dtype=bool)
    bad, allowed = approaches[~ok], approaches[ok]
    used = set(approaches["feature_id"].astype(str)) | {n for n in approaches["name"] if isinstance(n, str)}
    rule = f"max({min_separation_m:.0f} m, {depth_factor:g} x water depth)"
    figures = {
        "approaches": len(approaches),
        "not_allowed": len(bad),
        "allowed": len(allowed),
        "length_within_separation_m": round(float(approaches["length_m"].sum()), 1) if len(approaches) else 0.0,
        "min_distance_m": round(float(approaches["min_distance_m"].min()), 1) if len(approaches) else None,
        "required_separation": rule,
        "unused_allowances": sorted(set(allow) - used),
        "land_section_approaches": len(land),
    }
    if bad.empty:
        text = f"the route keeps {rule} from every existing cable and pipeline away from its crossings"
        if len(allowed):
            text += "; allowed by engineering.allow_close_approach: " + "; ".join(
                _approach_text(a) for _, a in allowed.iterrows()
            )
        return CheckResult("separation_from_existing_infrastructure", True, text, figures)
    return CheckResult(
        "separation_from_existing_infrastructure",
        False,
        f"{len(bad)} close approach(es) below the required separation {rule}: "
        + "; ".join(_approach_text(a) for _, a in bad.iterrows())
        + ". Re-route with a larger buffer on that feature (hazards.rules.<kind>.exclusion_buffer_m / soft_cost), or, "
        "with the owner's agreement, add its id or name to engineering.allow_close_approach",
        figures,
    )


def check_route(
    route: LineString,
    *,
    grid: GeoGrid,
    hard_mask: np.ndarray,
    slope: Raster,
    max_slope_deg: float,
    sectors: gpd.GeoDataFrame | None = None,
    allowed_countries: Sequence[str] | None = None,
    crossings: pd.DataFrame | None = None,
    min_angle_deg: float = 60.0,
    exempt: BaseGeometry | None = None,
    profile_interval_m: float = 100.0,
    approaches: pd.DataFrame | None = None,
    allow_close_approach: Sequence[str] = (),
    min_separation_m: float = 500.0,
    separation_depth_factor: float = 3.0,
    land: BaseGeometry | None = None,
    land_sections: BaseGeometry | None = None,
) -> list[CheckResult]:
    """All blocking checks of a final route (see the module docstring); a check whose input is None is skipped.

    Parameters
    ----------
    route
        The final route in the analysis CRS of ``grid``.
    grid, hard_mask
        The analysis grid and its impassable cells.
    slope, max_slope_deg
        Seabed slope raster (degrees) and ``Limits.max_slope_deg``.
    sectors, allowed_countries
        Sector polygons (``country`` column) and the ISO3 codes the route may use.
    crossings, min_angle_deg
        :func:`geodata.engineering.crossings.find_crossings` of the final route and
        ``Engineering.min_crossing_angle_deg``.
    exempt
        Geometry (analysis CRS) skipped by the grid checks: the shore ends.
    profile_interval_m
        Spacing of the bilinear slope samples.
    approaches, allow_close_approach, min_separation_m, separation_depth_factor
        :func:`geodata.engineering.approaches.find_close_approaches` of the final route and the ``Engineering``
        separation settings it was measured with.
    land
        The coastline's land polygons in the analysis CRS (:func:`geodata.engineering.land.land_geometry`): the
        route beyond its shore ends must stay off them (``route_clear_of_land``); None skips that check.
    land_sections
        The shore ends' land sections (station -> beach manhole -> shore crossing): crossings there are not held to
        the marine minimum angle.
    """
    results = [
        check_hard_exclusions(route, grid, hard_mask, exempt=exempt),
        check_slope(route, slope, max_slope_deg, exempt=exempt, profile_interval_m=profile_interval_m),
    ]
    if land is not None:
        results.append(check_clear_of_land(route, grid.crs, land, exempt=exempt))
    if sectors is not None:
        if not allowed_countries:
            raise InputDataError("check_route: sectors given without allowed_countries; pass the ISO3 codes")
        results.append(check_sectors(route, grid.crs, sectors, allowed_countries))
    if crossings is not None:
        results.append(check_crossing_angles(crossings, min_angle_deg, land_sections=land_sections))
    if approaches is not None:
        results.append(
            check_separation(
                approaches,
                allow_close_approach,
                min_separation_m=min_separation_m,
                depth_factor=separation_depth_factor,
            )
        )
    return results


def route_length_km(route: LineString, crs: Any) -> float:
    """Geodesic length of a route of the analysis CRS, in km."""
    return Chainage(to_lonlat(route, crs)).length_m / 1000.0
