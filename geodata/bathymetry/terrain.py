"""Rasters derived from the depth grid for the cost model: seabed slope in degrees and the land/sea mask."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit
from pyproj import CRS
from rasterio import features
from rasterio.warp import transform_bounds

from geodata.bathymetry.read import TRANSFORM_BOUNDS_ERRORS
from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster

__all__ = ["land_sea_mask", "metres_per_degree", "sea_depth", "slope_deg"]

LAND, SEA = 0, 1

SHELF_NOTE = (
    "the coastline layer wins over the depth sign: on the mirror's SRTM30_PLUS grid the North-Caspian shelf "
    "(true depth 0-10 m) is noisy by a few metres about the water level, and land below the Caspian level "
    "(Karagiye, the Caspian Depression) has a positive 'depth'"
)


def metres_per_degree(lat_deg: np.ndarray | float, crs: Any = "EPSG:4326") -> tuple[np.ndarray, np.ndarray]:
    """Metres per degree of latitude and of longitude at the given latitudes, on the CRS's ellipsoid.

    Uses the meridional radius of curvature ``M`` and the prime-vertical radius ``N``:
    ``m/deg lat = M * pi/180`` and ``m/deg lon = N cos(lat) * pi/180``.
    """
    ell = CRS.from_user_input(crs).ellipsoid
    a = ell.semi_major_metre if ell is not None else 6378137.0
    inv_f = ell.inverse_flattening if ell is not None and ell.inverse_flattening else 298.257223563
    e2 = (2 - 1 / inv_f) / inv_f
    phi = np.radians(np.asarray(lat_deg, dtype=float))
    s2 = np.sin(phi) ** 2
    m = a * (1 - e2) / (1 - e2 * s2) ** 1.5
    n = a / np.sqrt(1 - e2 * s2)
    return m * math.pi / 180.0, n * np.cos(phi) * math.pi / 180.0


def _cell_size_m(grid: GeoGrid) -> tuple[np.ndarray, np.ndarray]:
    """Cell height and width in metres, one value per row (broadcastable to the grid)."""
    dy, dx = grid.res
    crs = grid.crs
    if crs.is_geographic:
        lat, _ = grid.coords()
        mlat, mlon = metres_per_degree(lat, crs)
        if np.any(mlon <= 1.0):
            raise InputDataError(f"grid {grid} reaches a pole; slope on a geographic grid needs latitudes below 90")
        return (dy * mlat)[:, None], (dx * mlon)[:, None]
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full((grid.shape[0], 1), dy * factor), np.full((grid.shape[0], 1), dx * factor)


def _slope_values(z: np.ndarray, hy: np.ndarray, hx: np.ndarray) -> np.ndarray:
    """Slope in degrees (float32) of ``z`` (float64, NaN = none; at least 2 rows) with per-row cell sizes in metres."""
    dz_row, dz_col = np.gradient(z)  # per cell
    gy = dz_row / hy
    gx = dz_col / hx
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype("float32")
    slope[~np.isfinite(z)] = np.nan  # central differences skip the cell itself
    return slope


def slope_band(z: np.ndarray, hy: np.ndarray, hx: np.ndarray) -> np.ndarray:
    """:func:`_slope_values` of ``z`` in one compiled pass (the same float64 operations cell by cell, so the same
    float32 slopes; tests/bathymetry/test_stream.py holds them equal): ``z`` is float64, or float32 with NaN as its
    only nodata (read as float64, non-finite values as NaN, as :func:`~geodata.grid.valid_values` does), with
    per-row cell sizes ``hy``, ``hx`` in metres (shape ``(rows, 1)``). numpy's version makes ten float64
    temporaries of the band (2.4 CPU s at 100 m against 0.8 s)."""
    if min(z.shape) < 2:
        raise InputDataError(f"depth band of shape {z.shape} is too small for a slope (needs at least 2 x 2 cells)")
    out = np.empty(z.shape, dtype=np.float32)
    _slope_kernel(
        z, np.ascontiguousarray(hy[:, 0], dtype=np.float64), np.ascontiguousarray(hx[:, 0], dtype=np.float64), out
    )
    return out


_DEGREES = 180.0 / math.pi  # numpy's degrees(): x * (180.0 / NPY_PI)


@njit(cache=True, nogil=True)
def _finite_or_nan(v: float) -> float:  # pragma: no cover - compiled
    return v if math.isfinite(v) else np.nan


@njit(cache=True, nogil=True)
def _slope_kernel(z: np.ndarray, hy: np.ndarray, hx: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out = _slope_values(z, hy, hx)``: np.gradient's central differences ``(f[i+1] - f[i-1]) / 2.0`` inside and
    one-sided ``(f[1] - f[0]) / 1.0`` at the edges, divided by the cell sizes, ``degrees(arctan(hypot(gx, gy)))``
    rounded to float32, NaN where the cell itself has no value."""
    n, m = z.shape
    for i in range(n):
        up, down = (i - 1 if i > 0 else 0), (i + 1 if i < n - 1 else n - 1)
        half_row = 1.0 if i == 0 or i == n - 1 else 2.0
        hyi, hxi = hy[i], hx[i]
        for j in range(m):
            centre = np.float64(z[i, j])
            if not math.isfinite(centre):
                out[i, j] = np.nan
                continue
            left, right = (j - 1 if j > 0 else 0), (j + 1 if j < m - 1 else m - 1)
            half_col = 1.0 if j == 0 or j == m - 1 else 2.0
            dz_row = (_finite_or_nan(np.float64(z[down, j])) - _finite_or_nan(np.float64(z[up, j]))) / half_row
            dz_col = (_finite_or_nan(np.float64(z[i, right])) - _finite_or_nan(np.float64(z[i, left]))) / half_col
            gy = dz_row / hyi
            gx = dz_col / hxi
            out[i, j] = np.float32(math.atan(math.hypot(gx, gy)) * _DEGREES)


def slope_deg(depth: Raster) -> Raster:
    """Seabed slope in degrees, from the depth grid with cell sizes in metres.

    Central differences (``np.gradient``) in the interior, one-sided at the grid edges. On a projected grid the
    cell size is taken in metres (feet and other units converted); on a geographic grid the metres per degree of
    latitude and longitude are computed per row on the ellipsoid, so slopes are never in "degrees of latitude".
    The map scale of the projection (within 0.1 % inside a UTM zone) is neglected.

    Parameters
    ----------
    depth
        Depth or elevation raster (sign does not matter), NaN or ``nodata`` for missing cells.

    Returns
    -------
    Raster
        ``float32`` degrees in ``[0, 90)``, NaN where the cell or a neighbour used is missing.
    """
    if depth.grid.crs is None:
        raise InputDataError("depth raster has no CRS; slope needs the cell size in metres")
    z = np.where(depth.valid(), depth.data, np.nan).astype("float64")
    if min(z.shape) < 2:
        raise InputDataError(f"depth raster of shape {z.shape} is too small for a slope (needs at least 2 x 2 cells)")
    hy, hx = _cell_size_m(depth.grid)
    slope = _slope_values(z, hy, hx)
    attrs = {
        "quantity": "seabed_slope",
        "units": "degree",
        "method": "np.gradient central differences on the depth grid, cell sizes in metres"
        + (" (per-row metres per degree on the ellipsoid)" if depth.grid.crs.is_geographic else ""),
        "source_checksums": depth.attrs.get("source_checksums", {}),
    }
    return Raster(slope, depth.grid, float("nan"), attrs)


def rasterize_land(geoms: Sequence[Any], grid: GeoGrid, all_touched: bool) -> np.ndarray:
    """Boolean land cells of ``grid`` (or of one band of it) under the land polygons ``geoms`` (cell centre inside,
    or every touched cell with ``all_touched``); all False without a polygon."""
    if not geoms:
        return np.zeros(grid.shape, dtype=bool)
    return features.rasterize(
        ((g, 1) for g in geoms),
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    ).astype(bool)


def land_sea_mask(depth: Raster, land: Any | None, *, all_touched: bool = False) -> Raster:
    """Land/sea mask on the depth grid: ``uint8``, 1 = sea, 0 = land.

    With a coastline layer, a cell is land when its centre lies in a land polygon (``all_touched=False``), so the
    mask agrees with the coastline layer, and the coastline wins over the depth sign. Without one, sea is where
    the depth is positive (below the Caspian surface); nodata cells are then land.

    Parameters
    ----------
    depth
        The depth raster of :func:`~geodata.bathymetry.mosaic.build_depth` (positive down).
    land
        GeoDataFrame/GeoSeries of land polygons, in any CRS (on the mirror: GSHHG ``land_with_lakes_removed``,
        in which the Caspian is water), or None.
    all_touched
        Passed to :func:`rasterio.features.rasterize`: True makes every cell the coastline touches land.

    Returns
    -------
    Raster
        ``attrs``: ``method``, ``sea_fraction``, and ``depth_sign_disagreement_fraction`` (share of cells with data
        where ``depth > 0`` and the coastline disagree) split into ``sea_not_below_water_cells`` (coastline sea,
        depth <= 0) and ``land_below_water_cells`` (coastline land, depth > 0), and ``warnings``.
    """
    grid = depth.grid
    valid = depth.valid()
    z = np.where(valid, depth.data, np.nan)
    with np.errstate(invalid="ignore"):
        wet = valid & (z > 0)
    warnings: list[str] = []
    if land is None:
        mask = wet.astype("uint8")
        attrs: dict[str, Any] = {
            "quantity": "land_sea_mask",
            "legend": {"0": "land", "1": "sea"},
            "method": "depth sign (depth > 0 m below the Caspian surface is sea; nodata is land): no coastline given",
            "sea_fraction": round(float(mask.mean()), 6),
            "depth_sign_disagreement_fraction": 0.0,
            "warnings": ["no coastline layer: the mask follows the noisy depth sign; give a coastline layer"],
        }
        return Raster(mask, grid, None, attrs)
    geoms = _land_geometries(land, grid)
    land_cells = rasterize_land(geoms, grid, all_touched)
    if not geoms:
        warnings.append("no land polygon of the coastline layer reaches the grid: every cell is sea")
    mask = (~land_cells).astype("uint8")
    sea = mask.astype(bool)
    n_valid = int(valid.sum())
    sea_dry = int((sea & valid & ~wet).sum())
    land_wet = int((~sea & wet).sum())
    disagreement = (sea_dry + land_wet) / n_valid if n_valid else 0.0
    lb = _layer_bounds_in(land, grid)
    gb = grid.bounds
    if lb is not None and not (lb[0] <= gb[0] and lb[1] <= gb[1] and lb[2] >= gb[2] and lb[3] >= gb[3]):
        warnings.append(
            "the coastline layer does not span the whole grid; cells beyond it are taken as sea unless a land "
            "polygon covers them"
        )
    attrs = {
        "quantity": "land_sea_mask",
        "legend": {"0": "land", "1": "sea"},
        "method": "coastline land polygons rasterised (cell centre inside = land"
        + (", all touched" if all_touched else "")
        + "); "
        + SHELF_NOTE,
        "sea_fraction": round(float(sea.mean()), 6),
        "sea_cells": int(sea.sum()),
        "depth_sign_disagreement_fraction": round(disagreement, 6),
        "sea_not_below_water_cells": sea_dry,
        "land_below_water_cells": land_wet,
        "sea_nodata_cells": int((sea & ~valid).sum()),
        "warnings": warnings,
    }
    return Raster(mask, grid, None, attrs)


def _land_geometries(land: Any, grid: GeoGrid) -> list[Any]:
    import geopandas as gpd
    from shapely import box, make_valid

    if isinstance(land, gpd.GeoDataFrame):
        series = land.geometry
    elif isinstance(land, gpd.GeoSeries):
        series = land
    else:
        raise InputDataError(f"coastline layer must be a GeoDataFrame of land polygons, got {type(land).__name__}")
    if len(series) == 0:
        raise InputDataError(
            "coastline layer is empty; give the land polygons (on the mirror: coast_gshhg_f_2.3.6.gpkg layer "
            "land_with_lakes_removed)"
        )
    if series.crs is None:
        raise InputDataError("coastline layer has no CRS; set it (e.g. `gdf.set_crs('EPSG:4326')`) before masking")
    series = series[~series.is_empty & series.notna()]
    kinds = set(series.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputDataError(
            f"coastline layer holds {sorted(kinds)}; the land mask needs land polygons, not coast lines (on the "
            "mirror: layer land_with_lakes_removed, in which the Caspian is water)"
        )
    projected = series.to_crs(grid.crs)
    projected = projected.where(projected.is_valid, projected.apply(make_valid))
    frame = box(*grid.bounds)
    geoms = [g for g in projected.clip(frame).geometry if g is not None and not g.is_empty]
    return [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon", "GeometryCollection")]


def _layer_bounds_in(land: Any, grid: GeoGrid) -> tuple[float, float, float, float] | None:
    """Bounds of the (already checked: GeoDataFrame/GeoSeries with a CRS) coastline layer in the grid's CRS, None
    when they cannot be transformed (only used for a warning)."""
    b = land.total_bounds
    try:
        return tuple(transform_bounds(land.crs, grid.crs, *b, densify_pts=21))  # type: ignore[return-value]
    except TRANSFORM_BOUNDS_ERRORS:  # only used for a warning
        return None


def sea_depth(depth: Raster, sea_mask: Raster, *, min_depth_m: float = 0.0) -> Raster:
    """Depth as the cost model should see it: sea cells only, never shallower than ``min_depth_m``.

    Where the coastline says sea but the grid says the seabed is at or above the water surface (the noisy
    North-Caspian shelf, coarse cells at cliff coasts), the depth is raised to ``min_depth_m``, so the coastline
    wins consistently; land cells become NaN.

    Parameters
    ----------
    depth
        Depth raster (positive down) of :func:`~geodata.bathymetry.mosaic.build_depth`.
    sea_mask
        :func:`land_sea_mask` on the same grid (1 = sea).
    min_depth_m
        The depth given to sea cells that the grid puts at or above the surface.

    Returns
    -------
    Raster
        ``float32``, NaN on land and on nodata; ``attrs["clipped_sea_cells"]`` counts the raised cells.
    """
    if sea_mask.grid != depth.grid:
        raise InputDataError(
            f"sea mask grid {sea_mask.grid} differs from the depth grid {depth.grid}; build both on one"
        )
    sea = sea_mask.data.astype(bool)
    valid = depth.valid()
    z = np.where(valid & sea, depth.data, np.nan).astype("float32")
    with np.errstate(invalid="ignore"):
        shallow = np.isfinite(z) & (z < min_depth_m)
    z[shallow] = np.float32(min_depth_m)
    attrs = {
        **depth.attrs,
        "quantity": "sea_water_depth",
        "clipped_sea_cells": int(shallow.sum()),
        "min_depth_m": float(min_depth_m),
        "note": "land = NaN; sea cells the grid puts shallower than min_depth_m raised to it (" + SHELF_NOTE + ")",
    }
    return Raster(z, depth.grid, float("nan"), attrs)
