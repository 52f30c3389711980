"""Diagnostics of a run that did not publish: a GeoPackage an analyst opens in QGIS to see why.

When a blocking check fails or a step raises, the run's last publication stays live and untouched; the diagnostics
go beside it, into ``<output>/<scenario>/diagnostics/<UTC time>-<run id>/`` (never into ``versions/`` nor over
``latest``: :mod:`geodata.publish.atomic` only ever switches ``latest`` and the top-level links, and leaves a real
folder alone). The folder holds ``diagnostics.gpkg`` and ``failures.txt`` (the run's final error, as printed).

Layers (EPSG:4326; each written only when the run got far enough to know it):

``stations``
    the landing stations as given, with the distance to the nearest sea cell of the analysis grid, whether that
    cell joins the sea the route can use, and the problem found (empty when none);
``area_of_interest``
    the box analysed (``derived`` = from the stations, with ``margin_km``);
``nearest_sea_cell`` / ``station_to_sea``
    the centre of each station's nearest sea cell, and the line from the station to it;
``reachable_region``
    the passable cells (cost surface finite, or the sea mask before the cost surface exists) connected to each
    station's nearest sea cell, as polygons, with their area: two stations in different regions cannot be joined;
``rejected_route``
    the route the failed checks rejected (engineered, or else least-cost), when one was built;
``failure_positions``
    every position a failure message names (``41.07 N, 49.11 E``), with the message;
``failures``
    a table (no geometry) of every failure: where (asset, check or error class), the message.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio.features
from pyproj import Geod
from scipy import ndimage
from shapely.geometry import LineString, Point, box, shape
from shapely.geometry.base import BaseGeometry

from geodata.grid import Raster
from geodata.publish.gpkg import LayerMeta, write_gpkg
from geodata.scenario import Scenario

DIAGNOSTICS = "diagnostics"
"""Folder of a scenario's diagnostics, beside ``latest`` and ``versions/`` in ``<output>/<scenario>/``."""
GPKG_NAME = "diagnostics.gpkg"
FAILURES_TXT = "failures.txt"
KEEP_DIAGNOSTICS = 5
"""Diagnostics folders kept per scenario (the newest; older ones are removed when a new one is written)."""

_GEOD = Geod(ellps="WGS84")
_POSITION = re.compile(r"(-?\d{1,2}(?:\.\d+)?)\s*°?\s*N,?\s+(-?\d{1,3}(?:\.\d+)?)\s*°?\s*E")


@dataclass(frozen=True)
class Failure:
    """One reason a run did not publish: a failed blocking check or an error a step raised."""

    asset: str
    name: str
    """The check's name, or the error's class name."""
    message: str
    kind: str = "check"
    """``check`` or ``error``."""

    def positions(self) -> list[tuple[float, float]]:
        """Every ``(lon, lat)`` the message names as ``<lat> N, <lon> E``."""
        out = []
        for lat, lon in _POSITION.findall(self.message):
            la, lo = float(lat), float(lon)
            if -90 <= la <= 90 and -180 <= lo <= 180:
                out.append((lo, la))
        return out

    def line(self) -> str:
        what = f"check {self.asset}.{self.name}" if self.kind == "check" else f"{self.name} in {self.asset}"
        return f"{what}: {self.message}"


_CELL = re.compile(r"\(row (\d+), col (\d+)\)")


def locate_cells(message: str, grid: Any) -> str:
    """``message`` with every grid cell it names, ``(row R, col C)`` as the routing engine writes them, followed by
    the cell centre's position: ``(row R, col C: 41.07000 N, 49.11000 E)``; cells off the grid stay as they are."""

    def one(m: re.Match[str]) -> str:
        r, c = int(m.group(1)), int(m.group(2))
        if not (0 <= r < grid.shape[0] and 0 <= c < grid.shape[1]):
            return m.group(0)
        x, y = grid.xy(r, c)
        lon, lat = (float(v) for v in grid.xy_to_lonlat(x, y))
        return f"(row {r}, col {c}: {lat:.5f} N, {lon:.5f} E)"

    return _CELL.sub(one, message)


def _sea_reach(sea: np.ndarray, grid: Any, lon: float, lat: float) -> dict[str, Any]:
    """The station's cell, its nearest sea cell and the distance to it (metres)."""
    x, y = grid.lonlat_to_xy(lon, lat)
    cell = grid.cell_of(float(x), float(y))
    if cell is None or not sea.any():
        return {"on_grid": cell is not None}
    dy, dx = grid.res
    _, (ri, ci) = ndimage.distance_transform_edt(~sea, sampling=(dy, dx), return_indices=True)
    r, c = cell
    nr, nc = int(ri[r, c]), int(ci[r, c])
    sx, sy = grid.xy(nr, nc)
    slon, slat = grid.xy_to_lonlat(sx, sy)
    return {
        "on_grid": True,
        "on_sea_cell": bool(sea[r, c]),
        "sea_cell": (nr, nc),
        "sea_lon": float(slon),
        "sea_lat": float(slat),
        "distance_m": float(_GEOD.inv(lon, lat, float(slon), float(slat))[2]),
    }


def _components(passable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4-connected components of ``passable`` (the connectivity of the routing graph) and their sizes in cells."""
    labels, n = ndimage.label(passable)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels, sizes


def _region(labels: np.ndarray, label: int, grid: Any) -> BaseGeometry:
    mask = labels == label
    polys = [shape(g) for g, v in rasterio.features.shapes(mask.astype("uint8"), mask=mask, transform=grid.transform)]
    return gpd.GeoSeries(polys, crs=grid.crs).union_all()


def station_layers(
    scenario: Scenario,
    sea_mask: Raster | None,
    passable: np.ndarray | None = None,
    problems: dict[str, str] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """``stations``, ``nearest_sea_cell``, ``station_to_sea`` and ``reachable_region`` from the sea mask and, when
    the run built it, the passable cells of the cost surface (both on the analysis grid)."""
    problems = problems or {}
    rows, nearest, lines = [], [], []
    layers: dict[str, gpd.GeoDataFrame] = {}
    grid = sea_mask.grid if sea_mask is not None else None
    sea = sea_mask.data.astype(bool) if sea_mask is not None else None
    usable = passable if passable is not None else sea
    labels, sizes = _components(usable) if usable is not None else (None, None)
    regions: dict[int, list[str]] = {}
    cell_km2 = grid.res[0] * grid.res[1] / 1e6 if grid is not None else 0.0
    main = int(np.argmax(sizes)) if sizes is not None and sizes.any() else 0
    for st in scenario.landing_stations:
        row: dict[str, Any] = {
            "name": st.name,
            "country": st.country,
            "lon_deg": st.lon_deg,
            "lat_deg": st.lat_deg,
            "problem": problems.get(st.name, ""),
        }
        if grid is not None and sea is not None:
            reach = _sea_reach(sea, grid, st.lon_deg, st.lat_deg)
            row["on_grid"] = reach["on_grid"]
            if "sea_cell" in reach:
                row["on_sea_cell"] = reach["on_sea_cell"]
                row["distance_to_sea_km"] = round(reach["distance_m"] / 1000, 3)
                row["nearest_sea_lon_deg"] = round(reach["sea_lon"], 6)
                row["nearest_sea_lat_deg"] = round(reach["sea_lat"], 6)
                nearest.append({"station": st.name, "geometry": Point(reach["sea_lon"], reach["sea_lat"])})
                lines.append(
                    {
                        "station": st.name,
                        "distance_km": round(reach["distance_m"] / 1000, 3),
                        "geometry": LineString([(st.lon_deg, st.lat_deg), (reach["sea_lon"], reach["sea_lat"])]),
                    }
                )
                if labels is not None and sizes is not None:
                    r, c = reach["sea_cell"]
                    label = int(labels[r, c])
                    row["region_area_km2"] = round(float(sizes[label]) * cell_km2, 1)
                    row["joins_main_sea"] = bool(label != 0 and label == main)
                    if label:
                        regions.setdefault(label, []).append(st.name)
        rows.append(row)
    layers["stations"] = gpd.GeoDataFrame(
        rows, geometry=[Point(st.lon_deg, st.lat_deg) for st in scenario.landing_stations], crs="EPSG:4326"
    )
    if nearest:
        layers["nearest_sea_cell"] = gpd.GeoDataFrame(nearest, crs="EPSG:4326")
        layers["station_to_sea"] = gpd.GeoDataFrame(lines, crs="EPSG:4326")
    if regions and labels is not None and sizes is not None and grid is not None:
        basis = "cost surface (passable cells)" if passable is not None else "sea mask"
        layers["reachable_region"] = gpd.GeoDataFrame(
            [
                {
                    "stations": ", ".join(names),
                    "area_km2": round(float(sizes[label]) * cell_km2, 1),
                    "basis": basis,
                    "geometry": _region(labels, label, grid),
                }
                for label, names in regions.items()
            ],
            crs=grid.crs,
        ).to_crs("EPSG:4326")
    return layers


def area_layer(scenario: Scenario) -> gpd.GeoDataFrame:
    aoi = scenario.area_of_interest
    return gpd.GeoDataFrame(
        [{"derived": aoi.margin_km is not None, "margin_km": aoi.margin_km}],
        geometry=[box(*aoi.bounds)],
        crs="EPSG:4326",
    )


def failure_layer(failures: Sequence[Failure]) -> gpd.GeoDataFrame | None:
    """A point at every position the failure messages name, or None when they name none."""
    rows = [
        {"asset": f.asset, "name": f.name, "kind": f.kind, "message": f.message, "geometry": Point(lon, lat)}
        for f in failures
        for lon, lat in f.positions()
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326") if rows else None


LAYER_META = {
    "stations": LayerMeta("Landing stations", "The stations as given, the nearest sea cell and the problem found."),
    "area_of_interest": LayerMeta("Area of interest", "The box analysed; derived = from the stations (margin_km)."),
    "nearest_sea_cell": LayerMeta("Nearest sea cell", "Centre of each station's nearest sea cell on the grid."),
    "station_to_sea": LayerMeta("Station to sea", "From each station to its nearest sea cell."),
    "reachable_region": LayerMeta(
        "Reachable region", "Passable cells connected to each station's nearest sea cell (4-connected)."
    ),
    "rejected_route": LayerMeta("Rejected route", "The route the failed checks rejected."),
    "failure_positions": LayerMeta("Failure positions", "Every position a failure message names."),
}


def write_diagnostics(
    folder: str | Path,
    scenario: Scenario,
    failures: Sequence[Failure],
    *,
    sea_mask: Raster | None = None,
    passable: np.ndarray | None = None,
    routes: dict[str, tuple[LineString, Any]] | None = None,
    summary: str = "",
) -> Path:
    """Write ``folder/diagnostics.gpkg`` (layers above) and ``folder/failures.txt``; returns the GeoPackage's path.

    ``routes`` maps a label (``engineered``, ``least_cost``) to a line and its CRS; the first is the rejected
    route."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    problems: dict[str, str] = {}
    for f in failures:
        for st in scenario.landing_stations:
            if f"'{st.name}'" in f.message:
                problems[st.name] = (problems.get(st.name, "") + " " + f.line()).strip()
    layers = station_layers(scenario, sea_mask, passable, problems)
    layers["area_of_interest"] = area_layer(scenario)
    if routes:
        layers["rejected_route"] = pd.concat(
            [
                gpd.GeoDataFrame([{"route": label}], geometry=[line], crs=crs).to_crs("EPSG:4326")
                for label, (line, crs) in routes.items()
            ],
            ignore_index=True,
        )
    if (positions := failure_layer(failures)) is not None:
        layers["failure_positions"] = positions
    path = folder / GPKG_NAME
    meta = {name: LAYER_META[name] for name in layers if name in LAYER_META}
    write_gpkg(path, layers, metadata=meta, require_units=False)
    table = pd.DataFrame(
        [{"asset": f.asset, "name": f.name, "kind": f.kind, "message": f.message} for f in failures]
        or [{"asset": "", "name": "", "kind": "", "message": "no failure recorded"}]
    )
    pyogrio.write_dataframe(table, path, layer="failures", driver="GPKG")
    (folder / FAILURES_TXT).write_text((summary or "\n".join(f.line() for f in failures)) + "\n", encoding="utf-8")
    return path


def diagnostics_folder(output_root: str | Path, scenario: str, run_id: str, *, keep: int = KEEP_DIAGNOSTICS) -> Path:
    """A new folder ``<output_root>/<scenario>/diagnostics/<UTC time>-<run id[:8]>/`` (created); older diagnostics
    folders beyond the newest ``keep`` are removed. The publication (``latest``, ``versions/``) is not touched."""
    import shutil

    base = Path(output_root) / scenario / DIAGNOSTICS
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = base / f"{stamp}-{run_id[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted((p for p in base.iterdir() if p.is_dir()), reverse=True)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return folder
