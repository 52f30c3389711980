"""A synthetic survey grid for tests and benchmarks: the regional surface plus seeded fractal detail, in a corridor.

**Synthetic, never real data**: the file name must contain ``synthetic``, its GeoTIFF tags say ``SYNTHETIC=true``
with the generator and seed (``corridor_attrs``, ``TIFFTAG_IMAGEDESCRIPTION``), and the run's provenance record of
the file names it synthetic (:mod:`geodata.sources.snapshot`).

The detail is spectral synthesis: a periodic field of ``period_cells`` squared cells whose Fourier amplitudes fall as
``k^-(hurst + 1)`` with seeded random phases (a fractional Brownian surface of Hurst exponent ``hurst``), scaled to
``amplitude_m`` rms and tiled over the survey grid. Cells are written tile by tile (256 x 256), and only the tiles that
meet the corridor, so a 10 m grid along a 400 km diagonal route is a sparse file of the corridor's size, not of its
bounding box.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from pyproj import CRS
from rasterio.features import rasterize
from rasterio.windows import Window
from scipy import ndimage
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geodata.errors import ConfigError
from geodata.geodesy import transformer
from geodata.grid import BLOCK_ALIGN, GeoGrid, Raster

SYNTHETIC_NODATA = -9999.0
GENERATOR = "geodata.bathymetry.synthetic.write_synthetic_survey"


@dataclass(frozen=True)
class SyntheticSurvey:
    """What :func:`write_synthetic_survey` wrote: the file, its grid (in the requested CRS) and its tags."""

    path: Path
    grid: GeoGrid
    valid_cells: int
    tiles_written: int
    attrs: dict[str, Any] = field(default_factory=dict)


def fractal_field(period_cells: int, *, hurst: float = 0.8, seed: int = 0) -> np.ndarray:
    """A periodic ``period_cells`` square field of zero mean and unit rms with a ``k^-(hurst+1)`` amplitude spectrum
    (spectral synthesis with seeded phases); float32."""
    if period_cells < 8:
        raise ConfigError(f"period_cells={period_cells} is too small for fractal detail; use at least 8")
    if not 0.0 < hurst < 1.0:
        raise ConfigError(f"hurst={hurst} must lie in (0, 1) (0.8 is a typical seabed)")
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(period_cells)
    kk = np.hypot(k[:, None], k[None, :])
    kk[0, 0] = np.inf  # no mean
    amp = kk ** -(hurst + 1.0)
    phase = np.exp(2j * np.pi * rng.random(kk.shape))
    f = np.fft.ifft2(amp * phase).real
    f -= f.mean()
    return (f / f.std()).astype("float32")


def _metric_resolution(resolution_m: float, crs: CRS, lat_deg: float) -> tuple[float, float]:
    """``(dy, dx)`` in the CRS's units for cells of ``resolution_m`` metres."""
    if crs.is_geographic:
        dy = resolution_m / 111_320.0
        return (dy, dy / max(math.cos(math.radians(lat_deg)), 0.05))
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    r = resolution_m / unit
    return (r, r)


def _to_crs(geom: BaseGeometry, src: CRS, dst: CRS, step: float) -> BaseGeometry:
    if src == dst:
        return geom
    t = transformer(src, dst)
    dense = shapely.segmentize(geom, step)
    return shapely.transform(dense, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def corridor_polygon(route: LineString, width_m: float, *, along: tuple[float, float] = (0.0, 1.0)) -> BaseGeometry:
    """The corridor of ``width_m`` (full width) round the part ``along`` (fractions of its length) of ``route``."""
    a, b = along
    if not 0.0 <= a < b <= 1.0:
        raise ConfigError(f"along={along} must be two fractions 0 <= start < end <= 1 of the route's length")
    part = substring(route, a, b, normalized=True)
    return part.buffer(width_m / 2.0)


def write_synthetic_survey(
    path: str | Path,
    regional: Raster,
    route: LineString,
    *,
    width_m: float,
    resolution_m: float,
    crs: Any = None,
    along: tuple[float, float] = (0.0, 1.0),
    seed: int = 0,
    amplitude_m: float = 1.5,
    hurst: float = 0.8,
    period_cells: int = 1024,
    water_level_m: float = -28.0,
    vertical_reference_m: float = 0.0,
    vertical_datum: str = "ocean MSL (Baltic height system)",
    positive: str = "up",
) -> SyntheticSurvey:
    """Write a synthetic survey GeoTIFF: the regional depth (``regional``, m below the Caspian surface
    ``water_level_m``, positive down) resampled bilinearly plus seeded fractal detail, in a corridor of
    ``width_m`` round ``route`` (a line in ``regional``'s CRS; only the part ``along``),
    at ``resolution_m`` in ``crs`` (default the regional CRS).

    Values are heights (``positive='up'``) or depths (``'down'``) referred to a zero ``vertical_reference_m`` above
    ocean MSL, the inverse of :func:`geodata.bathymetry.mosaic.to_depth`, so that a scenario giving the same
    vertical reference reads the surface back. Cells outside the corridor are nodata (-9999); tiles that miss it
    are not written (a sparse file)."""
    path = Path(path)
    if "synthetic" not in path.name.lower():
        raise ConfigError(
            f"synthetic survey file name '{path.name}' lacks the word 'synthetic'; name it e.g. "
            f"'synthetic_{path.name}' so it can never pass for a real survey"
        )
    if positive not in ("up", "down"):
        raise ConfigError(f"positive={positive!r} must be 'up' or 'down'")
    if width_m <= 0 or resolution_m <= 0:
        raise ConfigError(f"width_m={width_m} and resolution_m={resolution_m} must be positive metres")
    src_crs = regional.grid.crs
    dst_crs = CRS.from_user_input(crs) if crs is not None else src_crs
    poly = corridor_polygon(route, width_m, along=along)
    _lon, lat = transformer(src_crs, "EPSG:4326").transform(poly.centroid.x, poly.centroid.y)
    res = _metric_resolution(resolution_m, dst_crs, float(lat))
    poly_dst = _to_crs(poly, src_crs, dst_crs, step=max(width_m / 4.0, 1.0))
    grid = GeoGrid.from_bounds(poly_dst.bounds, res, dst_crs)
    field_ = fractal_field(period_cells, hurst=hurst, seed=seed) * np.float32(amplitude_m)
    regional_z = np.where(regional.valid(), regional.data, np.nan).astype("float64")
    back = transformer(dst_crs, src_crs)
    shapely.prepare(poly_dst)
    attrs = {
        "synthetic": True,
        "description": "SYNTHETIC survey grid for tests and benchmarks: regional surface plus seeded fractal detail; "
        "not a real survey, never to be published as one",
        "generator": GENERATOR,
        "seed": seed,
        "amplitude_m": amplitude_m,
        "hurst": hurst,
        "period_cells": period_cells,
        "resolution_m": resolution_m,
        "width_m": width_m,
        "along": list(along),
        "crs": dst_crs.to_string(),
        "positive": positive,
        "vertical_reference_m": vertical_reference_m,
        "vertical_datum": vertical_datum,
        "water_level_m": water_level_m,
        "regional_attrs_sources": regional.attrs.get("sources", []),
    }
    profile = {
        "driver": "GTiff",
        "height": grid.shape[0],
        "width": grid.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": dst_crs.to_wkt(),
        "transform": grid.transform,
        "nodata": SYNTHETIC_NODATA,
        "compress": "deflate",
        "predictor": 3,
        "tiled": True,
        "blockxsize": BLOCK_ALIGN,
        "blockysize": BLOCK_ALIGN,
        "BIGTIFF": "IF_SAFER",
        "SPARSE_OK": "TRUE",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    valid = tiles = 0
    H, W = grid.shape
    t = grid.transform
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, H, BLOCK_ALIGN):
            for c0 in range(0, W, BLOCK_ALIGN):
                h, w = min(BLOCK_ALIGN, H - r0), min(BLOCK_ALIGN, W - c0)
                x0, y0 = t.c + c0 * t.a, t.f + r0 * t.e
                box = shapely.box(x0, y0 + h * t.e, x0 + w * t.a, y0)
                if not poly_dst.intersects(box):
                    continue
                wt = t @ t.translation(c0, r0)
                inside = rasterize([(poly_dst, 1)], out_shape=(h, w), transform=wt, fill=0, dtype="uint8") > 0
                if not inside.any():
                    continue
                cols, rows = np.meshgrid(np.arange(c0, c0 + w) + 0.5, np.arange(r0, r0 + h) + 0.5)
                xs, ys = t.c + cols * t.a, t.f + rows * t.e
                sx, sy = back.transform(xs, ys)
                rr, cc = regional.grid.rowcol(sx, sy)
                depth = ndimage.map_coordinates(regional_z, [rr, cc], order=1, mode="nearest", cval=np.nan)
                depth = (
                    depth + field_[np.arange(r0, r0 + h)[:, None] % period_cells, np.arange(c0, c0 + w) % period_cells]
                )
                value = (
                    (water_level_m - depth - vertical_reference_m)
                    if positive == "up"
                    else (depth - water_level_m + vertical_reference_m)
                )
                ok = inside & np.isfinite(value)
                out = np.where(ok, value, SYNTHETIC_NODATA).astype("float32")
                dst.write(out, 1, window=Window(c0, r0, w, h))
                valid += int(ok.sum())
                tiles += 1
        dst.update_tags(
            corridor_attrs=json.dumps(attrs, default=str),
            SYNTHETIC="true",
            TIFFTAG_IMAGEDESCRIPTION=str(attrs["description"]),
        )
    return SyntheticSurvey(path, grid, valid, tiles, attrs)


def is_synthetic(path: str | Path) -> bool:
    """Whether a raster file is labelled synthetic (its name or its ``SYNTHETIC`` tag)."""
    p = Path(path)
    if "synthetic" in p.name.lower():
        return True
    with rasterio.open(p) as src:
        return str(src.tags().get("SYNTHETIC", "")).lower() == "true"
