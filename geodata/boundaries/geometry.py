"""Constants of the Caspian boundaries and the small geometry helpers every boundary module uses: metric CRSs,
reprojection of densified geometries, geodesic areas and lengths."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from geodata.geodesy import GEOD, WGS84, transformer

NM_M = 1852.0
"""One international nautical mile in metres."""

LITTORAL_STATES: tuple[str, ...] = ("AZE", "IRN", "KAZ", "RUS", "TKM")

ISO_NUMERIC_TO_ISO3: dict[str, str] = {
    "031": "AZE",
    "364": "IRN",
    "398": "KAZ",
    "643": "RUS",
    "795": "TKM",
    "051": "ARM",
    "268": "GEO",
    "860": "UZB",
}
"""ISO 3166-1 numeric -> alpha-3 for the countries round the Caspian (Natural Earth's ``id`` field)."""

KARA_BOGAZ_GOL_CLOSING_LINE: tuple[tuple[float, float], tuple[float, float]] = ((52.865, 41.090), (52.935, 41.040))
"""(lon, lat) ends of a segment across the Kara-Bogaz-Gol strait, both ends on land in GSHHG 2.3.6 (the spit north of
the strait and the mainland south of it). It crosses the 3.5 km wide channel at about 41.065 N, 52.90 E."""

KARA_BOGAZ_GOL_REFERENCE: tuple[float, float] = (53.5, 41.5)
"""(lon, lat) of a point in the middle of the Kara-Bogaz-Gol lagoon, used to tell which side of the cut it is."""

ISO3_FIELDS = ("iso_a3", "ISO_A3", "adm0_a3", "ADM0_A3", "isoA3", "A3", "iso3", "ISO3", "country")
OVERSHOOT_M = 25.0  # edges are clipped to the water grown by this much, so that they cross the coast and node cleanly


# -- small geometry helpers ------------------------------------------------------------------------------------------


def metric_crs_for(geometry: BaseGeometry) -> CRS:
    """An azimuthal equidistant CRS (WGS84, metres) centred on the centre of ``geometry``'s lon/lat bounds.

    Parameters
    ----------
    geometry
        A geometry in EPSG:4326.

    Returns
    -------
    pyproj.CRS
        Distances from the centre are exact; other distances are stretched by at most ``(ρ/R)²/6`` (0.17 % at 650 km).
    """
    w, s, e, n = geometry.bounds
    return aeqd_crs((w + e) / 2.0, (s + n) / 2.0)


def aeqd_crs(lon: float, lat: float) -> CRS:
    return CRS.from_proj4(f"+proj=aeqd +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m +no_defs")


_DENSIFY_DEG = 0.01  # lon/lat segments are densified to this before projection (a straight lon/lat segment is curved)


def transform_geometry(geom: BaseGeometry, src: CRS, dst: CRS) -> BaseGeometry:
    """Reproject vertex by vertex, densifying lon/lat input first so that its segments keep their shape."""
    tr = transformer(src, dst)
    if CRS.from_user_input(src).is_geographic and not CRS.from_user_input(dst).is_geographic:
        geom = shapely.segmentize(geom, _DENSIFY_DEG)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """Geodesic area on WGS84 of a (multi)polygon in EPSG:4326, in km²."""
    total = 0.0
    for poly in polygon_parts(geom):
        area, _ = GEOD.geometry_area_perimeter(orient(poly, 1.0))
        total += abs(area)
    return total / 1e6


def equal_area_km2(geom: BaseGeometry, crs: CRS) -> float:
    """Area in km² in an equal-area CRS: robust for slivers, where geodesic polygon sums lose precision."""
    return float(transform_geometry(geom, WGS84, crs).area) / 1e6 if not geom.is_empty else 0.0


def laea_for(geom: BaseGeometry) -> CRS:
    w, s, e, n = geom.bounds
    return CRS.from_proj4(
        f"+proj=laea +lat_0={(s + n) / 2:.6f} +lon_0={(w + e) / 2:.6f} +datum=WGS84 +units=m +no_defs"
    )


def geodesic_length_km(geom: BaseGeometry) -> float:
    """Geodesic length on WGS84 of a (multi)line in EPSG:4326, in km."""
    if geom.is_empty:
        return 0.0
    return float(GEOD.geometry_length(geom)) / 1e3


def flat_parts(geom: BaseGeometry | None) -> list[BaseGeometry]:
    """The single-part, non-empty geometries of ``geom``, however deeply multi-parts and collections nest."""
    if geom is None or geom.is_empty:
        return []
    parts = np.array([geom], dtype=object)
    while np.isin(shapely.get_type_id(parts), (4, 5, 6, 7)).any():
        parts = shapely.get_parts(parts)
    return [p for p in parts if not p.is_empty]


def polygon_parts(geom: BaseGeometry | None) -> list[Polygon]:
    """The polygons of ``geom`` (lines and points dropped)."""
    return [p for p in flat_parts(geom) if isinstance(p, Polygon)]


def line_parts(geom: BaseGeometry | None) -> list[LineString]:
    """The lines of ``geom`` (polygons and points dropped)."""
    return [p for p in flat_parts(geom) if isinstance(p, LineString)]


def area_only(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (drops the points and lines an overlay may leave)."""
    polys = polygon_parts(geom)
    if not polys:
        return Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
