"""Geodesy shared by every stage: one WGS84 ``Geod``, a cache of transformers, chainage (KP) along routes whose
legs are WGS84 geodesics, and degrees-and-decimal-minutes formatting as charts and RPLs print it."""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np
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
