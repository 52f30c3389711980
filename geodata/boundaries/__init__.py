"""Caspian maritime boundaries: seabed sectors by equidistance, treaty points, and the 2018 Convention zones.

The Caspian is neither an ocean nor (legally) a lake: its seabed is divided between the five littoral states by
bilateral and trilateral agreements built on modified median lines, and the 2018 Convention on its legal status gives
each state 15 nautical miles of territorial waters and a further 10 nautical miles of exclusive fishing rights.

This module derives, from a coastline and a set of country polygons:

* :func:`load_caspian` / :func:`build_caspian_coast`: the Caspian water polygon (islands removed) and its coast split
  by littoral state;
* :func:`median_line_sectors`: an equidistance (median-line) partition of the water between the states, adjusted so
  that the boundaries pass through the treaty points given (:func:`load_treaty_points` ships the 2003 AZ-KZ ones);
* :func:`boundary_lines`: the boundary between each pair of neighbouring sectors, classified ``median_line`` or
  ``treaty``;
* :func:`convention_zones`: geodesic 15 nm territorial-sea and 10 nm fishing-zone bands;
* checks returning ``(passed, description, metadata)``: :func:`check_sectors_partition`,
  :func:`check_station_in_own_sector`, :func:`check_median_equidistance`.

Geodesy. The equidistance partition is a Voronoi diagram of densely sampled coast points computed in an azimuthal
equidistant projection centred on the water body. Its scale error is below 0.2 % within 650 km of the centre (the
whole Caspian), which moves a median line between coasts 150 km apart by at most about 0.15 km; the point sampling of
the coast adds at most ``spacing²/8d``. :func:`check_median_equidistance` measures the result geodesically (WGS84,
``pyproj.Geod``) and reports the worst difference of distance to the two coasts; 0.5 km is the accepted tolerance,
well below the coastline's own uncertainty (GSHHG vs Natural Earth: median 0.27 km, up to 1.3 km). Buffers are built
per state in a local azimuthal equidistant projection and verified geodesically (:func:`buffer_geodesic_error`).
Areas and lengths reported (``area_km2``, ``length_km``) are geodesic on WGS84.

Kara-Bogaz-Gol. GSHHG includes the Kara-Bogaz-Gol lagoon in the Caspian polygon. Turkmenistan treats it as internal
waters, and the 2018 Convention lets a state close such an inlet by a baseline, so by default it is cut off at its
strait (:data:`KARA_BOGAZ_GOL_CLOSING_LINE`) and excluded from the sea that is partitioned; the closing line becomes
Turkmen coast. ``kara_bogaz_gol="include"`` keeps it (it then falls wholly in the Turkmen sector).

Everything returned is in EPSG:4326.
"""

from __future__ import annotations

from geodata.boundaries.checks import check_median_equidistance, check_sectors_partition, check_station_in_own_sector
from geodata.boundaries.coast import CaspianCoast, build_caspian_coast, load_caspian
from geodata.boundaries.geometry import (
    ISO_NUMERIC_TO_ISO3,
    KARA_BOGAZ_GOL_CLOSING_LINE,
    LITTORAL_STATES,
    NM_M,
    geodesic_area_km2,
    geodesic_length_km,
    metric_crs_for,
)
from geodata.boundaries.lines import boundary_lines
from geodata.boundaries.sectors import median_line_sectors
from geodata.boundaries.treaty import load_treaty_points, treaty_points_for
from geodata.boundaries.validate import validate_layer
from geodata.boundaries.zones import buffer_geodesic_error, convention_zones

__all__ = [
    "ISO_NUMERIC_TO_ISO3",
    "KARA_BOGAZ_GOL_CLOSING_LINE",
    "LITTORAL_STATES",
    "NM_M",
    "CaspianCoast",
    "boundary_lines",
    "buffer_geodesic_error",
    "build_caspian_coast",
    "check_median_equidistance",
    "check_sectors_partition",
    "check_station_in_own_sector",
    "convention_zones",
    "geodesic_area_km2",
    "geodesic_length_km",
    "load_caspian",
    "load_treaty_points",
    "median_line_sectors",
    "metric_crs_for",
    "treaty_points_for",
    "validate_layer",
]
