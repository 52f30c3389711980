"""caspian-corridor's pure library: reading, reprojecting, cost surfaces, routing, RPL, GeoPackage and tiles.

This package never imports dagster, so that every algorithm can be tested on small arrays.
"""

from __future__ import annotations

__version__ = "0.1.0"
