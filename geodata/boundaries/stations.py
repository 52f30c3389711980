"""Landing stations against the Caspian's water, before any grid exists: how far each station is from the water and
where the nearest water is, so that ``corridor validate`` names a station far inland (or with swapped coordinates)
with its position and the point to move it to, in a second rather than after a run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyogrio
import pyogrio.errors
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geodata.bathymetry.checks import MAX_STATION_TO_SEA_M
from geodata.boundaries.geometry import aeqd_crs, transform_geometry
from geodata.errors import InputDataError

WATER_LAYER = "caspian_sea_water"
"""The layer of the GSHHG extract (catalogue entry ``gshhg_coast``) holding the Caspian's water polygon."""

_WGS84 = CRS.from_epsg(4326)
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class StationReach:
    """One landing station and the nearest point of the Caspian's water (degrees; 0 m when in the water)."""

    index: int
    name: str
    lon_deg: float
    lat_deg: float
    distance_m: float
    nearest_lon_deg: float
    nearest_lat_deg: float
    limit_m: float = MAX_STATION_TO_SEA_M
    swapped_fits: bool = False
    """The station with latitude and longitude swapped lies within ``limit_m`` of the water."""

    @property
    def problem(self) -> str | None:
        """What is wrong with the station and how to fix it, or None when it is within ``limit_m`` of the water."""
        if self.distance_m <= self.limit_m:
            return None
        hint = "; its lat_deg and lon_deg look swapped (swapped, it lies by the water)" if self.swapped_fits else ""
        return (
            f"landing_stations.{self.index} '{self.name}' ({self.lat_deg:.6f} N, {self.lon_deg:.6f} E) lies "
            f"{self.distance_m / 1000:.1f} km from the Caspian's water (limit {self.limit_m / 1000:.0f} km){hint}. "
            f"Fix: give the landing station on the coast; the nearest water is at {self.nearest_lat_deg:.5f} N, "
            f"{self.nearest_lon_deg:.5f} E"
        )


def read_caspian_water(gshhg_path: str | Path, layer: str = WATER_LAYER) -> BaseGeometry:
    """The Caspian's water polygon (EPSG:4326) from the GSHHG extract."""
    try:
        frame = pyogrio.read_dataframe(gshhg_path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputDataError(
            f"{gshhg_path}: cannot read layer '{layer}' ({exc}); point CORRIDOR_MIRROR at the data mirror holding "
            "the catalogue's gshhg_coast file"
        ) from None
    if frame.empty:
        raise InputDataError(f"{gshhg_path}: layer '{layer}' is empty; restore the catalogue's gshhg_coast file")
    return frame.to_crs(_WGS84).geometry.union_all()


def _distance_m(water: BaseGeometry, lon: float, lat: float) -> float:
    """Geodesic distance from (lon, lat) to ``water`` (0 inside)."""
    if water.covers(Point(lon, lat)):
        return 0.0
    local = aeqd_crs(lon, lat)
    return float(transform_geometry(water, _WGS84, local).distance(Point(0.0, 0.0)))


def station_reach(
    stations: Iterable[tuple[str, float, float]], water: BaseGeometry, limit_m: float = MAX_STATION_TO_SEA_M
) -> list[StationReach]:
    """For each ``(name, lon, lat)``: the geodesic distance to ``water`` (EPSG:4326) and its nearest point, measured
    in an azimuthal equidistant projection centred on the station (distances from the centre are exact)."""
    out = []
    for i, (name, lon, lat) in enumerate(stations):
        if water.covers(Point(lon, lat)):
            out.append(StationReach(i, name, lon, lat, 0.0, lon, lat, limit_m))
            continue
        local = aeqd_crs(lon, lat)
        near = nearest_points(Point(0.0, 0.0), transform_geometry(water, _WGS84, local))[1]
        near_lon, near_lat = Transformer.from_crs(local, _WGS84, always_xy=True).transform(near.x, near.y)
        dist = _GEOD.inv(lon, lat, near_lon, near_lat)[2]
        swapped = -90 <= lon <= 90 and _distance_m(water, lat, lon) <= limit_m
        out.append(
            StationReach(i, name, lon, lat, float(dist), float(near_lon), float(near_lat), limit_m, bool(swapped))
        )
    return out
