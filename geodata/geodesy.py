"""Geodesy shared by every stage: one WGS84 ``Geod``, a cache of transformers, chainage (KP) along routes whose
legs are WGS84 geodesics, and degrees-and-decimal-minutes formatting as charts and RPLs print it."""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString

from geodata.errors import ConfigError, InputDataError

GEOD = Geod(ellps="WGS84")
"""The one WGS84 ellipsoid every distance, bearing and area is measured on (Karney's algorithms)."""
WGS84 = CRS.from_epsg(4326)


# -- transformers -------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _cached_transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transformer(src: Any, dst: Any) -> Transformer:
    """An always-xy (lon, lat / x, y) transformer from ``src`` to ``dst`` (anything ``CRS.from_user_input`` takes),
    built once per pair and reused: building one costs milliseconds, and the pipeline asks for the same few pairs
    thousands of times."""
    return _cached_transformer(CRS.from_user_input(src), CRS.from_user_input(dst))


# -- degrees and minutes ------------------------------------------------------------------------------------------


def format_dm(value_deg: float, axis: Literal["lat", "lon"], *, decimals: int = 3) -> str:
    """Degrees and decimal minutes as charts and RPLs print them: ``41°04.698'N``, ``049°06.750'E``.

    Minutes are rounded once, on the whole value, so 41°59.9996' becomes 42°00.000' and never 41°60.000'.

    Parameters
    ----------
    value_deg
        Latitude or longitude in decimal degrees (WGS84).
    axis
        ``"lat"`` (hemisphere N/S, two-digit degrees) or ``"lon"`` (E/W, three-digit degrees).
    decimals
        Decimals of the minutes (3 = about 2 m).
    """
    if axis not in ("lat", "lon"):
        raise ValueError(f"axis must be 'lat' or 'lon', got {axis!r}")
    if not math.isfinite(value_deg) or abs(value_deg) > (90 if axis == "lat" else 180):
        raise InputDataError(f"{axis} {value_deg} is not a valid WGS84 {axis}itude in degrees")
    hemi = ("N" if value_deg >= 0 else "S") if axis == "lat" else ("E" if value_deg >= 0 else "W")
    scale = 10**decimals
    total = round(abs(value_deg) * 60 * scale)  # whole units of 10^-decimals minutes
    deg, rem = divmod(total, 60 * scale)
    width = 2 if axis == "lat" else 3
    minutes = f"{rem / scale:0{3 + decimals}.{decimals}f}" if decimals else f"{rem:02d}"
    return f"{deg:0{width}d}°{minutes}'{hemi}"


# -- chainage -----------------------------------------------------------------------------------------------------


def to_lonlat(line: LineString, crs: Any) -> LineString:
    """A line of the analysis CRS transformed vertex by vertex to WGS84 lon/lat (legs stay legs)."""
    if line.is_empty:
        raise InputDataError("the route is empty; route the corridor first")
    t = transformer(CRS.from_user_input(crs), WGS84)
    xy = np.asarray(line.coords)[:, :2]
    lon, lat = t.transform(xy[:, 0], xy[:, 1])
    return LineString(np.column_stack([lon, lat]))


def from_lonlat(line: LineString, crs: Any) -> LineString:
    """A WGS84 lon/lat line transformed vertex by vertex to a projected CRS."""
    t = transformer(WGS84, CRS.from_user_input(crs))
    ll = np.asarray(line.coords)[:, :2]
    x, y = t.transform(ll[:, 0], ll[:, 1])
    return LineString(np.column_stack([x, y]))


class Chainage:
    """Geodesic distance along a route whose legs are WGS84 geodesics, and KP relative to an origin.

    Parameters
    ----------
    route_lonlat
        The route in WGS84 ``(lon, lat)``; consecutive duplicate vertices are dropped.
    origin
        ``(lon, lat)`` of KP 0, located on the route (e.g. the first beach manhole); None = the first vertex.
    """

    def __init__(self, route_lonlat: LineString, origin: tuple[float, float] | None = None) -> None:
        ll = np.asarray(route_lonlat.coords, dtype=float)[:, :2] if not route_lonlat.is_empty else np.empty((0, 2))
        if len(ll) < 2 or not np.isfinite(ll).all():
            raise InputDataError("the route needs at least two finite lon/lat vertices; route the corridor first")
        if (np.abs(ll[:, 0]) > 180).any() or (np.abs(ll[:, 1]) > 90).any():
            raise InputDataError(
                "the route's coordinates are not lon/lat degrees; "
                "transform it with geodata.geodesy.to_lonlat(line, crs)"
            )
        az, _, dist = GEOD.inv(ll[:-1, 0], ll[:-1, 1], ll[1:, 0], ll[1:, 1])
        keep = np.concatenate([[True], np.asarray(dist) > 1e-6])
        ll = ll[keep]
        if len(ll) < 2:
            raise InputDataError("the route has no length; its vertices all coincide")
        az, back_az, dist = GEOD.inv(ll[:-1, 0], ll[:-1, 1], ll[1:, 0], ll[1:, 1])
        self.lon = ll[:, 0]
        self.lat = ll[:, 1]
        self.leg_az = np.mod(np.asarray(az, dtype=float), 360.0)
        self.leg_back_az = np.asarray(back_az, dtype=float)
        self.leg_m = np.asarray(dist, dtype=float)
        self.cum_m = np.concatenate([[0.0], np.cumsum(self.leg_m)])
        self.origin_m = 0.0 if origin is None else self.locate(*origin)

    @property
    def length_m(self) -> float:
        return float(self.cum_m[-1])

    @property
    def vertex_kp_km(self) -> np.ndarray:
        return (self.cum_m - self.origin_m) / 1000.0

    def kp_km(self, distance_m: Any) -> np.ndarray:
        """KP in km of distances from the route's start."""
        return (np.asarray(distance_m, dtype=float) - self.origin_m) / 1000.0

    def locate(self, lon: float, lat: float) -> float:
        """Distance in metres from the route's start of the route point nearest to ``(lon, lat)``."""
        # Nearest leg in a local equirectangular plane, then the exact geodesic distance from that leg's start.
        k = math.cos(math.radians(lat))
        ax, ay = (self.lon[:-1] - lon) * k, self.lat[:-1] - lat
        bx, by = (self.lon[1:] - lon) * k, self.lat[1:] - lat
        dx, dy = bx - ax, by - ay
        den = np.where(dx * dx + dy * dy > 0, dx * dx + dy * dy, 1.0)
        t = np.clip(-(ax * dx + ay * dy) / den, 0.0, 1.0)
        d2 = (ax + t * dx) ** 2 + (ay + t * dy) ** 2
        i = int(np.argmin(d2))
        if t[i] <= 0.0:
            return float(self.cum_m[i])
        if t[i] >= 1.0:
            return float(self.cum_m[i + 1])
        # project on the geodesic leg: the along-leg distance of the foot point
        az_p, _, d_p = GEOD.inv(self.lon[i], self.lat[i], lon, lat)
        along = d_p * math.cos(math.radians(az_p - self.leg_az[i]))
        return float(self.cum_m[i] + min(max(along, 0.0), self.leg_m[i]))

    def point_at(self, distance_m: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(lon, lat)`` of points at distances from the route's start (clipped to the route)."""
        d = np.clip(np.atleast_1d(np.asarray(distance_m, dtype=float)), 0.0, self.length_m)
        i = np.clip(np.searchsorted(self.cum_m, d, side="right") - 1, 0, len(self.leg_m) - 1)
        lon, lat, _ = GEOD.fwd(self.lon[i], self.lat[i], self.leg_az[i], d - self.cum_m[i])
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)

    def stations(self, interval_m: float, *, include_vertices: bool = True) -> np.ndarray:
        """Distances from the start: every ``interval_m`` from KP 0 (both ways), plus the vertices and both ends."""
        if not interval_m > 0:
            raise ConfigError(f"sampling interval {interval_m} m must be positive")
        lo = -math.floor(self.origin_m / interval_m)
        hi = math.floor((self.length_m - self.origin_m) / interval_m)
        d = self.origin_m + np.arange(lo, hi + 1) * interval_m
        parts: list[np.ndarray] = [d, np.array([0.0, self.length_m])]
        if include_vertices:
            parts.append(self.cum_m)
        d = np.unique(np.clip(np.concatenate(parts), 0.0, self.length_m))
        # drop points within a millimetre of each other (vertex next to an interval mark)
        return d[np.concatenate([[True], np.diff(d) > 1e-3])]

    def densified(self, max_step_m: float = 100.0) -> tuple[LineString, np.ndarray]:
        """The route with geodesic intermediate points every ``max_step_m`` or less, and their distances."""
        lons, lats, dists = [self.lon[0]], [self.lat[0]], [0.0]
        for i, leg in enumerate(self.leg_m):
            n = max(math.ceil(leg / max_step_m) - 1, 0)
            if n:
                pts = GEOD.fwd_intermediate(
                    self.lon[i], self.lat[i], self.leg_az[i], n, del_s=leg / (n + 1), return_back_azimuth=False
                )
                lons += list(pts.lons)
                lats += list(pts.lats)
                dists += list(self.cum_m[i] + leg / (n + 1) * np.arange(1, n + 1))
            lons.append(self.lon[i + 1])
            lats.append(self.lat[i + 1])
            dists.append(self.cum_m[i + 1])
        return LineString(np.column_stack([lons, lats])), np.asarray(dists)

    def course_changes_deg(self) -> np.ndarray:
        """Signed course change at each vertex (positive = to starboard / clockwise); 0 at both ends."""
        incoming = np.mod(self.leg_back_az + 180.0, 360.0)  # forward azimuth at the end of each leg
        change = (self.leg_az[1:] - incoming[:-1] + 180.0) % 360.0 - 180.0
        return np.concatenate([[0.0], change, [0.0]])


# -- densification: drawn lines that stay on the true line ----------------------------------------------------------

DRAWN_IN: tuple[str, ...] = ("EPSG:4326", "EPSG:3857", "geodesic")
"""How a published line is drawn between its vertices: straight in EPSG:4326 (QGIS's default view), straight in Web
Mercator (the web map, at every zoom: a straight segment stays straight when zoomed) and as a geodesic (what a
low-distortion projection such as the analysis UTM zone draws, to a few centimetres over the short pieces left)."""

_MAX_PIECES = 100_000


def _chord_midpoints(lon0: Any, lat0: Any, lon1: Any, lat1: Any, drawn: str) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the middle of the segments from point 0 to point 1 as drawn ``drawn`` (see :data:`DRAWN_IN`)."""
    if drawn == "geodesic":
        az, _, dist = GEOD.inv(lon0, lat0, lon1, lat1)
        lon, lat, _ = GEOD.fwd(lon0, lat0, az, np.asarray(dist) / 2)
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if CRS.from_user_input(drawn).equals(WGS84):
        return (np.asarray(lon0) + np.asarray(lon1)) / 2, (np.asarray(lat0) + np.asarray(lat1)) / 2
    fwd, back = transformer(WGS84, drawn), transformer(drawn, WGS84)
    x0, y0 = fwd.transform(lon0, lat0)
    x1, y1 = fwd.transform(lon1, lat1)
    lon, lat = back.transform((np.asarray(x0) + x1) / 2, (np.asarray(y0) + y1) / 2)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _off_line_m(lon: Any, lat: Any, qlon: Any, qlat: Any, tangent_az: Any) -> np.ndarray:
    """Distance (m) of points from a line through ``(qlon, qlat)`` with azimuth ``tangent_az`` there: the cross-track
    part of the geodesic from the line point to the point (the along-track part is no error)."""
    az, _, d = GEOD.inv(qlon, qlat, lon, lat)
    return np.abs(np.asarray(d) * np.sin(np.radians(np.asarray(az) - np.asarray(tangent_az))))


def _densify_params(point_at: Any, n_segments: int, max_error_m: float, drawn_in: tuple[str, ...]) -> list[np.ndarray]:
    """Per segment, the parameters ``0 < t < 1`` of the points to insert: evenly spaced, as many as needed for every
    piece's drawn middle to be within half of ``max_error_m`` of the true line in every ``drawn_in`` way (the error
    of a short piece grows with the square of its length, so the other half is margin; tests sample whole pieces).

    ``point_at(i, t)`` gives ``(lon, lat, tangent_azimuth)`` of the true line of segment ``i`` at parameters ``t``."""
    if not max_error_m > 0:
        raise ConfigError(f"max_error_m {max_error_m} must be positive")
    target = max_error_m / 2
    n = np.ones(n_segments, dtype=np.int64)
    todo = np.arange(n_segments)
    for _ in range(30):
        if not len(todo):
            break
        seg = np.repeat(todo, n[todo])
        k = np.concatenate([np.arange(m) for m in n[todo]])
        t0, t1 = k / n[seg], (k + 1) / n[seg]
        lon0, lat0, _ = point_at(seg, t0)
        lon1, lat1, _ = point_at(seg, t1)
        qlon, qlat, qaz = point_at(seg, (t0 + t1) / 2)
        err = np.zeros(len(seg))
        for drawn in drawn_in:
            mlon, mlat = _chord_midpoints(lon0, lat0, lon1, lat1, drawn)
            err = np.maximum(err, _off_line_m(mlon, mlat, qlon, qlat, qaz))
        worst = np.zeros(n_segments)
        np.maximum.at(worst, seg, err)
        bad = todo[worst[todo] > target]
        if (n[bad] >= _MAX_PIECES).any():
            raise InputDataError(f"a line segment needs more than {_MAX_PIECES} pieces to stay within {max_error_m} m")
        # pieces of length L/n err about e/n^2: enough pieces at once, at least twice as many as before
        factor = np.sqrt(worst[bad] / target) * 1.1
        n[bad] = np.minimum(np.maximum(np.ceil(n[bad] * factor), 2 * n[bad]).astype(np.int64), _MAX_PIECES)
        todo = bad
    return [np.arange(1, m) / m for m in n]


def densify_geodesic(
    line_lonlat: Any, max_error_m: float = 10.0, *, drawn_in: tuple[str, ...] = DRAWN_IN
) -> LineString:
    """The WGS84 lon/lat line ``line_lonlat`` (a LineString, LinearRing or ``(n, 2)`` array) whose segments are
    geodesics, with points inserted on each geodesic so that the line drawn straight between its vertices in
    EPSG:4326 or Web Mercator (``drawn_in``) is nowhere more than ``max_error_m`` from the true geodesic.

    The original vertices are kept exactly; inserted points are evenly spaced along each geodesic
    (``Geod.inv_intermediate``). A 170 km leg at 41-43°N needs about 20 points, a 10 km one none. Lines crossing the
    antimeridian are not supported (the Caspian is far from it).
    """
    ll = np.asarray(line_lonlat.coords if hasattr(line_lonlat, "coords") else line_lonlat, dtype=float)[:, :2]
    if len(ll) < 2:
        return LineString(ll) if len(ll) else LineString()
    if not np.isfinite(ll).all() or (np.abs(ll[:, 0]) > 180).any() or (np.abs(ll[:, 1]) > 90).any():
        raise InputDataError("densify_geodesic needs finite WGS84 lon/lat degrees; transform with to_lonlat first")
    az, _, dist = GEOD.inv(ll[:-1, 0], ll[:-1, 1], ll[1:, 0], ll[1:, 1])
    az, dist = np.asarray(az, dtype=float), np.asarray(dist, dtype=float)

    def point_at(i: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lon, lat, back = GEOD.fwd(ll[i, 0], ll[i, 1], az[i], t * dist[i])
        return np.asarray(lon), np.asarray(lat), np.asarray(back) + 180.0

    params = _densify_params(point_at, len(dist), max_error_m, drawn_in)
    parts = [ll[:1]]
    for i, t in enumerate(params):
        if len(t) and dist[i] > 0:
            g = GEOD.inv_intermediate(
                ll[i, 0],
                ll[i, 1],
                ll[i + 1, 0],
                ll[i + 1, 1],
                npts=len(t),
                initial_idx=1,
                terminus_idx=1,
                return_back_azimuth=True,
            )
            parts.append(np.column_stack([g.lons, g.lats]))
        parts.append(ll[i + 1 : i + 2])
    return LineString(np.concatenate(parts))


def densify_straight(
    line: Any, crs: Any, max_error_m: float = 10.0, *, drawn_in: tuple[str, ...] = DRAWN_IN
) -> LineString:
    """The line ``line`` (coordinates in ``crs``, whose segments are straight in ``crs``), with points inserted
    along its straight segments (in ``crs``) so that, once reprojected vertex by vertex, the line drawn straight in
    EPSG:4326 or Web Mercator or as geodesics (``drawn_in``) stays within ``max_error_m`` of the line of ``crs``.

    Use it on input lines before any reprojection: a feature drawn straight in its source CRS (a 543 km pipeline
    segment in EPSG:4326) then keeps that shape in the analysis CRS, so crossings computed there lie on the line
    drawn in QGIS and in the web map. The coordinates returned are in ``crs``; original vertices are kept."""
    xy = np.asarray(line.coords if hasattr(line, "coords") else line, dtype=float)[:, :2]
    if len(xy) < 2:
        return LineString(xy) if len(xy) else LineString()
    src = CRS.from_user_input(crs)
    to_ll = None if src.equals(WGS84) else transformer(src, WGS84)
    d = xy[1:] - xy[:-1]

    def lonlat(i: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = xy[i] + d[i] * np.asarray(t)[:, None]
        if to_ll is None:
            return p[:, 0], p[:, 1]
        lon, lat = to_ll.transform(p[:, 0], p[:, 1])
        return np.asarray(lon), np.asarray(lat)

    def point_at(i: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h = np.full(len(t), 1e-4)
        lon, lat = lonlat(i, t)
        alon, alat = lonlat(i, np.clip(t - h, 0.0, 1.0))
        blon, blat = lonlat(i, np.clip(t + h, 0.0, 1.0))
        az, _, _ = GEOD.inv(alon, alat, blon, blat)
        return lon, lat, np.asarray(az)

    params = _densify_params(point_at, len(d), max_error_m, drawn_in)
    parts = [xy[:1]]
    for i, t in enumerate(params):
        if len(t):
            parts.append(xy[i] + d[i] * t[:, None])
        parts.append(xy[i + 1 : i + 2])
    return LineString(np.concatenate(parts))


def densify_geometry(geom: Any, crs: Any = None, max_error_m: float = 10.0) -> Any:
    """A (multi)line or (multi)polygon with every line and ring densified: geodesic segments when ``crs`` is None
    (lon/lat, :func:`densify_geodesic`), else segments straight in ``crs`` (:func:`densify_straight`). Points and
    empty geometries come back unchanged."""
    from shapely.geometry import LinearRing, MultiLineString, MultiPolygon, Polygon

    if geom is None or geom.is_empty:
        return geom

    def line(coords: Any) -> np.ndarray:
        out = densify_geodesic(coords, max_error_m) if crs is None else densify_straight(coords, crs, max_error_m)
        return np.asarray(out.coords)

    if isinstance(geom, LinearRing):
        return LinearRing(line(geom))
    if isinstance(geom, LineString):
        return LineString(line(geom))
    if isinstance(geom, Polygon):
        return Polygon(line(geom.exterior), [line(r) for r in geom.interiors])
    if isinstance(geom, MultiLineString):
        return MultiLineString([LineString(line(g)) for g in geom.geoms])
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([densify_geometry(g, crs, max_error_m) for g in geom.geoms])
    return geom


def densify_frame(frame: Any, *, geodesic: bool = False, max_error_m: float = 10.0) -> Any:
    """A copy of the GeoDataFrame ``frame`` with its lines and polygon rings densified in the frame's own CRS:
    straight segments of that CRS (input data, before any reprojection) or, with ``geodesic`` (lon/lat frames only),
    geodesic segments. Points are unchanged; the frame's CRS is kept."""
    if frame.crs is None:
        raise InputDataError("the frame has no CRS; set it before densifying its lines")
    crs = CRS.from_user_input(frame.crs)
    if geodesic and not crs.equals(WGS84, ignore_axis_order=True):
        raise InputDataError(f"geodesic densification needs EPSG:4326 lon/lat, the frame is in {crs.to_string()}")
    kind = None if geodesic else crs
    out = frame.copy()
    out[frame.geometry.name] = [densify_geometry(g, kind, max_error_m) for g in frame.geometry]
    return out.set_geometry(frame.geometry.name, crs=frame.crs)


# -- points along a line ----------------------------------------------------------------------------------------------


def interpolate_along(line: Any, distances: Any) -> np.ndarray:
    """``(n, 2)`` points at ``distances`` along ``line`` from its start (negative: from its end), exactly as
    ``shapely.line_interpolate_point`` places them, but in O(n log n): GEOS walks the line from its first vertex for
    every distance (quadratic: thousands of points along a coast of thousands of vertices). The same arithmetic as
    GEOS's ``LengthLocationMap``: segment lengths ``sqrt(dx * dx + dy * dy)``, their running sum, the first segment
    whose end lies beyond the distance (zero-length segments never), the fraction ``(d - start) / length`` and the
    point ``(p1 - p0) * fraction + p0`` (the start below 0, the end beyond 1). Anything but a non-empty
    LineString goes to shapely."""
    d = np.asarray(distances, dtype=np.float64)
    if not isinstance(line, LineString) or line.is_empty:
        return np.asarray(shapely.get_coordinates(shapely.line_interpolate_point(line, d))).reshape(-1, 2)
    xy = np.asarray(shapely.get_coordinates(line), dtype=np.float64)
    flat = d.reshape(-1)
    if len(xy) < 2:
        return np.repeat(xy[:1], len(flat), axis=0)
    dx, dy = np.diff(xy[:, 0]), np.diff(xy[:, 1])
    seg = np.sqrt(dx * dx + dy * dy)
    cum = np.cumsum(seg)  # cum[i]: the sum up to the end of segment i, added in order as GEOS adds it
    start = np.concatenate([[0.0], cum[:-1]])
    fwd = np.where(flat < 0.0, cum[-1] + flat, flat)  # GEOS: line length (its own sum) plus a negative distance
    i = np.searchsorted(cum, fwd, side="right")  # the first segment whose end lies beyond the distance
    end = i >= len(seg)
    j = np.minimum(i, len(seg) - 1)
    p0, p1 = xy[j], xy[j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero-length segment is only ever picked past the end
        frac = (fwd - start[j]) / seg[j]
        out = (p1 - p0) * frac[:, None] + p0
    out = np.where((frac >= 1.0)[:, None], p1, out)
    out = np.where((frac <= 0.0)[:, None], p0, out)
    out = np.where(end[:, None], xy[-1], out)
    out = np.where((fwd <= 0.0)[:, None], xy[0], out)
    return np.asarray(out)


# -- cross-track offsets between routes (in a projected CRS) --------------------------------------------------------


def line_tangents(line: LineString, along_m: Any, half_chord_m: float = 50.0) -> np.ndarray:
    """``(n, 2)`` unit directions of a projected ``line`` at distances ``along_m`` from its start: the chord
    between the points ``half_chord_m`` before and after (clipped to the line's ends)."""
    along = np.asarray(along_m, dtype=float)
    lo = np.clip(along - half_chord_m, 0.0, line.length)
    hi = np.clip(along + half_chord_m, 0.0, line.length)
    a = np.asarray(shapely.get_coordinates(shapely.line_interpolate_point(line, lo)))
    b = np.asarray(shapely.get_coordinates(shapely.line_interpolate_point(line, hi)))
    t = b - a
    return np.asarray(t / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-12)[:, None])


def cross_track(points_xy: np.ndarray, tangents: np.ndarray, other: LineString) -> tuple[np.ndarray, np.ndarray]:
    """For points of a route with the route's unit ``tangents`` there (projected CRS): the nearest points of
    ``other`` and their signed distances, positive to starboard (right of the route's direction)."""
    pts = shapely.points(points_xy)
    foot = np.asarray(
        shapely.get_coordinates(shapely.line_interpolate_point(other, shapely.line_locate_point(other, pts)))
    )
    v = foot - points_xy
    dist = np.hypot(v[:, 0], v[:, 1])
    port = tangents[:, 0] * v[:, 1] - tangents[:, 1] * v[:, 0] > 0
    return np.asarray(np.where(port, -dist, dist)), foot
