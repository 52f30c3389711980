"""Checks of the boundary stage: the sectors partition the water, stations face their own sector, median lines are
equidistant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import Point

from geodata.boundaries.coast import coast_frame, water_geometry
from geodata.boundaries.geometry import (
    aeqd_crs,
    area_only,
    equal_area_km2,
    geodesic_area_km2,
    laea_for,
    metric_crs_for,
    transform_geometry,
)
from geodata.boundaries.sectors import sector_map
from geodata.boundaries.validate import validate_layer
from geodata.checks import CheckResult
from geodata.errors import InputDataError
from geodata.geodesy import GEOD, WGS84, transformer

# -- checks ----------------------------------------------------------------------------------------------------------


def check_sectors_partition(sectors: gpd.GeoDataFrame, water: Any, *, tolerance_km2: float = 1.0) -> CheckResult:
    """Do the sectors cover the water without gaps, overlaps or spill onto land?

    Gap, overlap and spill areas are measured in a Lambert azimuthal equal-area projection centred on the water
    (geodesic polygon sums lose precision on slivers); the water and sector totals are geodesic.

    Parameters
    ----------
    sectors
        ``country`` + polygons, EPSG:4326.
    water
        The water they must partition.
    tolerance_km2
        Largest gap, overlap and spill accepted, km² each (geodesic).

    Returns
    -------
    CheckResult
        metadata: ``gap_km2``, ``overlap_km2``, ``outside_water_km2``, ``water_km2``, ``sectors_km2``, ``countries``.
    """
    report: list[str] = []
    sea = water_geometry(water, report)
    frame = validate_layer(sectors, "sectors", report=report)
    geoms = list(frame.geometry)
    union = shapely.union_all(geoms)
    laea = laea_for(shapely.union_all([sea, union]))
    # gap and spill on a second thread while the overlaps are summed here (GEOS and PROJ release the GIL)
    with ThreadPoolExecutor(max_workers=1) as pool:
        gap_f = pool.submit(lambda: equal_area_km2(area_only(sea.difference(union)), laea))
        outside_f = pool.submit(lambda: equal_area_km2(area_only(union.difference(sea)), laea))
        overlap = 0.0
        for i in range(len(geoms)):
            for j in range(i + 1, len(geoms)):
                if geoms[i].intersects(geoms[j]):
                    overlap += equal_area_km2(area_only(geoms[i].intersection(geoms[j])), laea)
        gap, outside = gap_f.result(), outside_f.result()
    meta = {
        "gap_km2": round(gap, 6),
        "overlap_km2": round(overlap, 6),
        "outside_water_km2": round(outside, 6),
        "water_km2": round(geodesic_area_km2(sea), 3),
        "sectors_km2": round(sum(geodesic_area_km2(g) for g in geoms), 3),
        "countries": [str(c) for c in frame.get("country", [])],
        "tolerance_km2": tolerance_km2,
    }
    passed = gap <= tolerance_km2 and overlap <= tolerance_km2 and outside <= tolerance_km2
    desc = (
        f"sectors partition the water: gap {gap:.4f} km², overlap {overlap:.4f} km², outside the water "
        f"{outside:.4f} km² (tolerance {tolerance_km2} km² each)"
    )
    return CheckResult("partition", passed, desc, meta)


def check_station_in_own_sector(
    sectors: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | Sequence[Any],
    *,
    max_distance_km: float = 25.0,
) -> CheckResult:
    """Does each landing station face its own state's sector?

    A landing station is on land, so it "lies in" the sector that is nearest to it: the check passes when, for each
    station, the nearest sector is its own state's and lies within ``max_distance_km``.

    Parameters
    ----------
    sectors
        ``country`` + polygons, EPSG:4326.
    stations
        GeoDataFrame with ``name``, ``country`` and points, or :class:`~geodata.scenario.LandingStation` objects.
    max_distance_km
        Largest accepted distance from a station to its own sector.

    Returns
    -------
    CheckResult
        metadata: per station ``country``, ``nearest_sector``, ``distance_to_own_km``, ``distance_to_nearest_other_km``.
    """
    report: list[str] = []
    by = sector_map(sectors, report)
    if isinstance(stations, gpd.GeoDataFrame):
        st = validate_layer(stations, "stations", kinds=("Point",), report=report)
        for col in ("name", "country"):
            if col not in st.columns:
                raise InputDataError(f"stations has no `{col}` column; give each station a name and ISO3 country")
        items = [(str(r["name"]), str(r["country"]).upper(), r.geometry.x, r.geometry.y) for _, r in st.iterrows()]
    else:
        items = [(s.name, s.country.upper(), s.lon_deg, s.lat_deg) for s in stations]
    if not items:
        raise InputDataError("stations is empty; pass the scenario's landing stations")
    results = {}
    failures = []
    for name, country, lon, lat in items:
        local = aeqd_crs(lon, lat)
        p = Point(0.0, 0.0)
        dist = {c: transform_geometry(g, WGS84, local).distance(p) / 1e3 for c, g in by.items()}
        nearest = min(dist, key=lambda c: dist[c])
        others = [d for c, d in dist.items() if c != country]
        own = dist.get(country, math.inf)
        results[name] = {
            "country": country,
            "nearest_sector": nearest,
            "inside_own_sector": own == 0.0,
            "distance_to_own_km": round(own, 3) if math.isfinite(own) else None,
            "distance_to_nearest_other_km": round(min(others), 3) if others else None,
        }
        where = f"{name} ({country}, {lat:.5f} N, {lon:.5f} E)"
        if nearest != country:
            failures.append(
                f"{where} is nearest to the {nearest} sector ({dist[nearest]:.1f} km), {own:.1f} km from its own "
                f"{country} sector: correct the station's country or its coordinates (lon/lat swapped?)"
            )
        elif own > max_distance_km:
            failures.append(
                f"{where} lies {own:.1f} km from its own {country} sector (limit {max_distance_km:g} km): it is "
                f"inland or its coordinates are wrong; give the station on the {country} coast"
            )
    passed = not failures
    desc = "every landing station faces its own state's sector" if passed else "; ".join(failures)
    return CheckResult(
        "stations_in_own_sector", passed, desc, {"stations": results, "max_distance_km": max_distance_km}
    )


def check_median_equidistance(
    lines: gpd.GeoDataFrame,
    coast: Any,
    *,
    tolerance_km: float = 0.5,
    sample_km: float = 5.0,
    min_distance_km: float = 2.0,
) -> CheckResult:
    """Are the pure median lines really equidistant, geodesically, from the two coasts?

    Points every ``sample_km`` along each ``equidistance`` line (:func:`boundary_lines`) are measured on WGS84 to the
    nearest coast sample (every 100 m) of the states on either side; the check passes when the two distances differ
    by at most ``tolerance_km`` everywhere. Points closer than ``min_distance_km`` to the coast are skipped (the line
    meets the coast there, where the difference is bounded by the sampling).

    Returns
    -------
    CheckResult
        metadata: ``max_difference_km``, ``p95_difference_km``, ``worst_lon_deg``/``worst_lat_deg``, ``samples``.
    """

    report: list[str] = []
    coast_f = coast_frame(coast, report)
    if "method" in lines.columns:
        lines = lines[lines["method"] == "equidistance"]
    union = shapely.union_all(list(lines.geometry) + list(coast_f.geometry))
    metric = metric_crs_for(union)
    to_ll = transformer(metric, WGS84)
    trees = {}
    for country, grp in coast_f.groupby("country"):
        xy = shapely.get_coordinates(
            shapely.segmentize(transform_geometry(shapely.union_all(grp.geometry.to_numpy()), WGS84, metric), 100.0)
        )
        lon, lat = to_ll.transform(xy[:, 0], xy[:, 1])
        trees[str(country)] = (cKDTree(xy), np.asarray(lon), np.asarray(lat))

    def geodesic_min(country: str, pts: np.ndarray) -> np.ndarray:
        tree, lon, lat = trees[country]
        k = min(16, len(lon))
        _, idx = tree.query(pts, k=k)
        idx = np.asarray(idx).reshape(len(pts), k)
        plon, plat = to_ll.transform(pts[:, 0], pts[:, 1])
        _, _, d = GEOD.inv(np.repeat(plon, k), np.repeat(plat, k), lon[idx.ravel()], lat[idx.ravel()])
        return np.asarray(d).reshape(len(pts), k).min(axis=1) / 1e3

    diffs, where = [], []
    for _, row in lines.iterrows():
        line_m = transform_geometry(row.geometry, WGS84, metric)
        n = max(int(line_m.length // (sample_km * 1e3)), 1)
        pts = np.array([line_m.interpolate(f, normalized=True).coords[0] for f in np.linspace(0, 1, n + 1)])
        da = geodesic_min(str(row["left_country"]), pts)
        db = geodesic_min(str(row["right_country"]), pts)
        keep = np.minimum(da, db) >= min_distance_km
        diffs.append(np.abs(da - db)[keep])
        where.append(pts[keep])
    alld = np.concatenate(diffs) if diffs else np.array([])
    if alld.size == 0:
        return CheckResult("median_equidistance", True, "no equidistance line to measure", {"samples": 0})
    allp = np.vstack(where)
    i = int(np.argmax(alld))
    wlon, wlat = to_ll.transform(*allp[i])
    meta = {
        "max_difference_km": round(float(alld.max()), 4),
        "p95_difference_km": round(float(np.percentile(alld, 95)), 4),
        "worst_lon_deg": round(float(wlon), 5),
        "worst_lat_deg": round(float(wlat), 5),
        "samples": int(alld.size),
        "tolerance_km": tolerance_km,
    }
    passed = float(alld.max()) <= tolerance_km
    desc = (
        f"median lines are equidistant to {meta['max_difference_km']} km at worst (95 %: {meta['p95_difference_km']} "
        f"km; tolerance {tolerance_km} km, geodesic on WGS84)"
    )
    return CheckResult("median_equidistance", passed, desc, meta)
