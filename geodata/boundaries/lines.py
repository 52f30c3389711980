"""Boundary lines between neighbouring seabed sectors, classified median line or treaty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geodata.boundaries.geometry import geodesic_length_km, line_parts, metric_crs_for, transform_geometry
from geodata.boundaries.sectors import sector_map
from geodata.geodesy import WGS84

# -- boundary lines --------------------------------------------------------------------------------------------------


def boundary_lines(sectors: gpd.GeoDataFrame, *, crs: Any = None) -> gpd.GeoDataFrame:
    """The boundary between each pair of neighbouring sectors.

    Parameters
    ----------
    sectors
        Output of :func:`median_line_sectors` (its ``attrs["delimitation"]["segments"]`` tell treaty parts apart;
        without them every line is ``median_line``).
    crs
        Metric CRS used to orient and classify the lines; default as :func:`metric_crs_for`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``left_country`` and ``right_country`` (seen walking along the line's direction), ``kind`` (``median_line`` or
        ``treaty``: the part between two treaty points), ``method`` (``equidistance``, ``median line shifted onto
        treaty points`` ...), ``length_km`` (geodesic), line geometry, EPSG:4326.
    """
    report: list[str] = []
    by = sector_map(sectors, report)
    metric = CRS.from_user_input(crs) if crs is not None else metric_crs_for(shapely.union_all(list(by.values())))
    segs = (getattr(sectors, "attrs", {}) or {}).get("delimitation", {}).get("segments", [])
    by_m: dict[str, BaseGeometry] = {}
    rows = []
    names = sorted(by)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = line_parts(by[a].boundary.intersection(by[b].boundary))
            if not shared:
                continue
            shared_ll = shapely.line_merge(shapely.MultiLineString(shared))
            shared_m = transform_geometry(shared_ll, WGS84, metric)
            rest = shared_m
            pieces: list[tuple[str, str, BaseGeometry]] = []
            for seg in segs:
                if sorted(seg["countries"]) != [a, b]:
                    continue
                zone = transform_geometry(shapely.from_wkt(seg["wkt"]), WGS84, metric).buffer(1.0, cap_style="flat")
                part = rest.intersection(zone)
                if not part.is_empty:
                    pieces.append((seg["kind"], seg["method"], part))
                    rest = rest.difference(zone)
            pieces.append(("median_line", "equidistance", rest))
            for ab in (a, b):
                by_m.setdefault(ab, transform_geometry(by[ab], WGS84, metric))
            for kind, method, geom in pieces:
                merged = shapely.line_merge(shapely.MultiLineString(line_parts(geom))) if line_parts(geom) else None
                for line in line_parts(merged) if merged is not None else []:
                    if line.length < 1.0:
                        continue
                    left, right = _sides(line, a, b, by_m)
                    line_ll = transform_geometry(line, metric, WGS84)
                    rows.append(
                        {
                            "left_country": left,
                            "right_country": right,
                            "kind": kind,
                            "method": method,
                            "length_km": geodesic_length_km(line_ll),
                            "geometry": line_ll,
                        }
                    )
    cols = ["left_country", "right_country", "kind", "method", "length_km"]
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)[[*cols, "geometry"]]


def _sides(line: LineString, a: str, b: str, by_m: Mapping[str, BaseGeometry]) -> tuple[str, str]:
    """(left, right) country of a line, probing 5 m either side of its middle."""
    half = line.length / 2
    p0 = np.asarray(line.interpolate(max(half - 1.0, 0.0)).coords[0])
    p1 = np.asarray(line.interpolate(min(half + 1.0, line.length)).coords[0])
    t = (p1 - p0) / max(float(np.hypot(*(p1 - p0))), 1e-9)
    mid = np.asarray(line.interpolate(half).coords[0])
    probe = Point(mid + 5.0 * np.array([-t[1], t[0]]))
    if by_m[a].distance(probe) <= by_m[b].distance(probe):
        return a, b
    return b, a
