"""The 2018 Convention zones: geodesic 15 nm territorial-sea and 10 nm fishing-zone bands, and their buffer check."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from geodata.boundaries.coast import coast_frame, water_geometry
from geodata.boundaries.geometry import NM_M, aeqd_crs, area_only, geodesic_area_km2, transform_geometry
from geodata.boundaries.sectors import median_line_sectors, sector_map
from geodata.errors import InputDataError
from geodata.geodesy import GEOD, WGS84, transformer

# -- 2018 Convention zones -------------------------------------------------------------------------------------------


def convention_zones(
    coast: Any,
    water: Any,
    *,
    sectors: gpd.GeoDataFrame | None = None,
    territorial_sea_nm: float = 15.0,
    fishing_zone_nm: float = 10.0,
    quad_segs: int = 16,
) -> gpd.GeoDataFrame:
    """Territorial sea and fishing zone of each state under the 2018 Caspian Convention.

    The zones are measured from the coast (no baselines are given): each state's coast is buffered in an azimuthal
    equidistant projection centred on that coast (radius error below 0.1 % within 500 km of its centre; see
    :func:`buffer_geodesic_error`), then clipped to the water and to the state's own seabed sector, which splits at
    the boundary any band two states' zones would share.

    Parameters
    ----------
    coast, water
        As for :func:`median_line_sectors`.
    sectors
        The seabed sectors to clip to (e.g. the treaty-adjusted output of :func:`median_line_sectors`); default the
        pure equidistance sectors.
    territorial_sea_nm
        Breadth of the territorial sea, nautical miles (Convention art. 7: 15).
    fishing_zone_nm
        Breadth of the fishing zone beyond the territorial sea, nautical miles (art. 9: 10).
    quad_segs
        Segments per quarter circle of the buffers.

    Returns
    -------
    geopandas.GeoDataFrame
        ``country``, ``zone`` (``territorial_sea`` or ``fishing_zone``), ``width_nm``, ``inner_limit_nm``,
        ``outer_limit_nm``, ``area_km2`` (geodesic), polygon geometry, EPSG:4326. ``attrs["buffer_check"]`` holds the
        geodesic verification of each state's outer limit (:func:`buffer_geodesic_error`).
    """
    report: list[str] = []
    if territorial_sea_nm <= 0 or fishing_zone_nm < 0:
        raise InputDataError(
            f"zone widths must be territorial_sea_nm > 0 and fishing_zone_nm >= 0, got {territorial_sea_nm}, "
            f"{fishing_zone_nm}"
        )
    sea = water_geometry(water, report)
    coast_f = coast_frame(coast, report)
    if sectors is None:
        sectors = median_line_sectors(sea, coast_f)
    own = sector_map(sectors, report)
    ts_m = territorial_sea_nm * NM_M
    outer_m = (territorial_sea_nm + fishing_zone_nm) * NM_M
    work = []
    for country, grp in coast_f.groupby("country"):
        country = str(country)
        if country not in own:
            report.append(f"{country}: no sector, no zone")
            continue
        work.append((country, shapely.union_all(grp.geometry.to_numpy())))

    def project(item: tuple[str, BaseGeometry]) -> tuple[Any, BaseGeometry, BaseGeometry]:
        country, line_ll = item
        w, s, e, n = line_ll.bounds
        local = aeqd_crs((w + e) / 2, (s + n) / 2)
        line_m = transform_geometry(line_ll, WGS84, local)
        return local, line_m, transform_geometry(shapely.intersection(sea, own[country]), WGS84, local)

    def assemble(i: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
        (country, line_ll), (local, _, clip) = work[i], projected[i]
        inner = buffers[(i, ts_m)]
        outer = buffers[(i, outer_m)] if fishing_zone_nm > 0 else inner
        zones = [("territorial_sea", territorial_sea_nm, 0.0, territorial_sea_nm, inner.intersection(clip))]
        if fishing_zone_nm > 0:
            zones.append(
                (
                    "fishing_zone",
                    fishing_zone_nm,
                    territorial_sea_nm,
                    territorial_sea_nm + fishing_zone_nm,
                    outer.difference(inner).intersection(clip),
                )
            )
        rows = []
        for zone, width, lo, hi, geom_m in zones:
            geom = area_only(transform_geometry(area_only(geom_m), local, WGS84))
            rows.append(
                {
                    "country": country,
                    "zone": zone,
                    "width_nm": width,
                    "inner_limit_nm": lo,
                    "outer_limit_nm": hi,
                    "area_km2": geodesic_area_km2(geom),
                    "geometry": geom,
                }
            )
        check = buffer_geodesic_error(line_ll, outer_m, crs=local, quad_segs=quad_segs, buffer=outer)
        return rows, check

    # GEOS and PROJ release the GIL: on both cores, the buffers (most of the time) as tasks of their own, the
    # longest coasts' outer buffers first (a state at a time left one core idle behind Kazakhstan's and Russia's)
    distances = [ts_m, outer_m] if fishing_zone_nm > 0 else [ts_m]
    jobs = sorted(
        ((i, d) for i in range(len(work)) for d in distances),
        key=lambda job: -shapely.get_num_coordinates(work[job[0]][1]) * job[1],
    )
    with ThreadPoolExecutor(max_workers=min(2, max(len(work), 1))) as pool:
        projected = list(pool.map(project, work))
        shapes = pool.map(lambda job: projected[job[0]][1].buffer(job[1], quad_segs=quad_segs), jobs)
        buffers = dict(zip(jobs, shapes, strict=True))
        done = list(pool.map(assemble, range(len(work))))
    rows = [r for state_rows, _ in done for r in state_rows]
    checks = {country: check for (country, _), (_, check) in zip(work, done, strict=True)}
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    out.attrs["buffer_check"] = checks
    out.attrs["input_report"] = report
    return out


def buffer_geodesic_error(
    line: BaseGeometry,
    distance_m: float,
    *,
    crs: Any = None,
    quad_segs: int = 16,
    samples: int = 2000,
    buffer: BaseGeometry | None = None,
) -> dict[str, float]:
    """How far from ``distance_m`` (geodesically) the projected buffer of ``line`` really lies.

    The buffer is built in ``crs`` (default a local azimuthal equidistant projection) as in :func:`convention_zones`;
    up to ``samples`` vertices of its outline are taken back to lon/lat and their geodesic distance to the line
    (sampled every 100 m, WGS84) is compared with ``distance_m``.

    Parameters
    ----------
    line
        A (multi)line in EPSG:4326.
    distance_m
        Buffer distance, metres.
    buffer
        The buffer of ``line`` by ``distance_m`` in ``crs`` when the caller has built it already (with the same
        ``quad_segs``); default: built here.

    Returns
    -------
    dict
        ``max_rel_error`` (fraction), ``max_abs_error_m``, ``mean_distance_m``, ``samples``.
    """

    if crs is None:
        w, s, e, n = line.bounds
        crs = aeqd_crs((w + e) / 2, (s + n) / 2)
    local = CRS.from_user_input(crs)
    line_m = transform_geometry(line, WGS84, local)
    if buffer is None:
        buffer = line_m.buffer(distance_m, quad_segs=quad_segs)
    outline = shapely.get_coordinates(buffer.boundary)
    step = max(1, len(outline) // samples)
    probe = outline[::step]
    dense = shapely.get_coordinates(shapely.segmentize(line_m, 100.0))
    k = min(16, len(dense))
    _, idx = cKDTree(dense).query(probe, k=k)
    idx = np.asarray(idx).reshape(len(probe), k)
    to_ll = transformer(local, WGS84)
    plon, plat = to_ll.transform(probe[:, 0], probe[:, 1])
    dlon, dlat = to_ll.transform(dense[:, 0], dense[:, 1])
    _, _, d = GEOD.inv(
        np.repeat(plon, k), np.repeat(plat, k), np.asarray(dlon)[idx.ravel()], np.asarray(dlat)[idx.ravel()]
    )
    dist = np.asarray(d).reshape(len(probe), k).min(axis=1)
    err = np.abs(dist - distance_m)
    return {
        "max_rel_error": float(err.max() / distance_m),
        "max_abs_error_m": float(err.max()),
        "mean_distance_m": float(dist.mean()),
        "samples": len(probe),
    }
