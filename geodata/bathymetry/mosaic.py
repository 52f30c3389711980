"""The analysis grid and the depth mosaic: every source reprojected onto one metric grid, converted to water depth
below the Caspian surface, and stacked by priority (a survey grid over a regional grid over a global one).

Vertical convention of the output: **metres below the Caspian water surface, positive down**. Cells above the
water surface (land) have negative depth. A source's values are turned into that depth with

* ``positive: up`` (elevations): ``depth = water_level_m - (value + vertical_reference_m)``
* ``positive: down`` (depths):    ``depth = water_level_m - (vertical_reference_m - value)``

where ``vertical_reference_m`` is the height of the source's zero above ocean mean sea level (0 for GEBCO, ETOPO
and SRTM30_PLUS; -28 for a survey reduced to the Caspian treaty level) and ``water_level_m`` the height of the
Caspian surface above ocean mean sea level (-28 m in the treaties, Baltic height system).
"""

from __future__ import annotations

import base64
import math
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from scipy import ndimage

from geodata.bathymetry.read import TRANSFORM_BOUNDS_ERRORS, read_bathymetry_source, resolve_bathymetry_source
from geodata.errors import ConfigError, InputDataError
from geodata.grid import GeoGrid, Raster
from geodata.sources.catalogue import load_catalogue

__all__ = [
    "MAX_ANALYSIS_CELLS",
    "BathymetryInput",
    "DepthMosaic",
    "analysis_grid",
    "aoi_mask",
    "aoi_mask_rows",
    "build_depth",
    "build_depth_mosaic",
    "composite_by_priority",
    "encode_source_index",
    "load_bathymetry_inputs",
    "reproject_onto",
    "source_index_of",
    "to_depth",
]

#: Analysis grids larger than this are refused (about 1.6 GB per float64 layer): choose a coarser resolution.
MAX_ANALYSIS_CELLS = 200_000_000

DATUM_DESCRIPTION = (
    "water depth in metres below the Caspian water surface, positive down (negative = height above the water "
    "surface, i.e. land); the Caspian surface is taken at water_level_m relative to ocean mean sea level "
    "(the 1998-2003 seabed treaties use -28 m in the Baltic height system)"
)


@dataclass
class BathymetryInput:
    """One source ready for the mosaic: the raster as read, its scenario entry and its provenance.

    ``config`` is a :class:`geodata.scenario.BathymetrySource` (or anything with the same attributes);
    ``provenance`` is the dict of :func:`resolve_bathymetry_source` (``name``, ``path``, ``sha256``, ...).
    """

    raster: Raster
    config: Any
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.provenance.get("name") or getattr(self.config, "source", None) or "source")

    @property
    def priority(self) -> int:
        return int(getattr(self.config, "priority", 0) or 0)


@dataclass
class DepthMosaic:
    """The mosaic: ``depth`` (float32, NaN = no data) and ``source_index`` (int16, index into ``depth.attrs
    ["sources"]`` of the source that supplied each cell, -1 = none)."""

    depth: Raster
    source_index: Raster


# -- the analysis grid -----------------------------------------------------------------------------------------------


def analysis_grid(
    aoi_bounds_lonlat: tuple[float, float, float, float], crs: Any, resolution_m: float, *, densify_pts: int = 51
) -> GeoGrid:
    """The metric analysis grid covering a lon/lat area of interest.

    Parameters
    ----------
    aoi_bounds_lonlat
        ``(west, south, east, north)`` in degrees.
    crs
        A projected CRS in metres (e.g. ``"EPSG:32639"``, UTM 39N).
    resolution_m
        Square cell size in metres.
    densify_pts
        Points added along each edge of the box before transforming it, so that the curved edges of the lon/lat
        box in the projected CRS are enclosed (corners alone miss the bulge of the parallels).

    Returns
    -------
    GeoGrid
        The box's projected bounding box, snapped outwards to whole multiples of ``resolution_m``.
    """
    w, s, e, n = aoi_bounds_lonlat
    if not (w < e and s < n and -180 <= w and e <= 180 and -90 <= s and n <= 90):
        raise ConfigError(f"area of interest {aoi_bounds_lonlat} is not a (west, south, east, north) box in degrees")
    if not (resolution_m > 0 and math.isfinite(resolution_m)):
        raise ConfigError(f"analysis resolution_m must be a positive number of metres, got {resolution_m}")
    target = CRS.from_user_input(crs)
    if not target.is_projected:
        raise ConfigError(
            f"analysis CRS {target.to_string()} is not projected; distances and slopes need metres: use a UTM zone "
            "(analysis.crs: auto) or another metric CRS"
        )
    unit = target.axis_info[0].unit_name if target.axis_info else ""
    if target.axis_info and target.axis_info[0].unit_conversion_factor != 1.0:
        raise ConfigError(f"analysis CRS {target.to_string()} is in {unit}, not metres; choose a metric CRS (UTM)")
    bounds = transform_bounds("EPSG:4326", target, w, s, e, n, densify_pts=densify_pts)
    grid = GeoGrid.from_bounds(bounds, float(resolution_m), target)
    if grid.cell_count > MAX_ANALYSIS_CELLS:
        raise ConfigError(
            f"analysis grid of {grid.shape[0]} x {grid.shape[1]} cells at {resolution_m} m is too large "
            f"(limit {MAX_ANALYSIS_CELLS:,}); raise analysis.resolution_m or shrink the area of interest"
        )
    return grid


def aoi_mask(grid: GeoGrid, aoi_bounds_lonlat: tuple[float, float, float, float] | GeoGrid | None) -> np.ndarray:
    """Cells of ``grid`` whose centre lies inside the lon/lat box (all cells when the box is None or a grid)."""
    return aoi_mask_rows(grid, aoi_bounds_lonlat, slice(0, grid.shape[0]))


AOI_LATTICE = 8
"""Spacing in cells of the lattice on which :func:`aoi_mask_rows` transforms every point."""


def aoi_mask_rows(
    grid: GeoGrid, aoi_bounds_lonlat: tuple[float, float, float, float] | GeoGrid | None, rows: slice
) -> np.ndarray:
    """:func:`_aoi_mask_rows` for any band, cut from the whole grid's mask computed once per grid and box and kept
    as bits (1 bit per cell: 3 MB for 25 M cells), so that the stage and each of its checks, whatever their bands,
    transform the grid only once; the array is read-only."""
    if aoi_bounds_lonlat is None or isinstance(aoi_bounds_lonlat, GeoGrid):
        return np.ones((min(rows.stop, grid.shape[0]) - (rows.start or 0), grid.shape[1]), dtype=bool)
    box = tuple(float(v) for v in aoi_bounds_lonlat)
    bits = _aoi_bits(grid, box)  # type: ignore[arg-type]
    start, stop = rows.start or 0, min(rows.stop, grid.shape[0])
    out = np.unpackbits(bits[start:stop], axis=1, count=grid.shape[1]).view(bool)
    out.setflags(write=False)
    return out


AOI_BITS_ROWS = 1024
"""Rows of the bands in which :func:`_aoi_bits` computes the whole grid's mask (the mask of a cell does not depend
on the band: :func:`_aoi_mask_rows` is exact)."""


AOI_BITS_KEPT = 8
"""Masks :func:`_aoi_bits` keeps (the most recently used)."""

_aoi_kept: list[tuple[GeoGrid, tuple[float, float, float, float], np.ndarray]] = []
_aoi_lock = threading.Lock()


def _aoi_bits(grid: GeoGrid, box: tuple[float, float, float, float]) -> np.ndarray:
    """The whole grid's mask as bits, computed once per grid and box and kept (:data:`AOI_BITS_KEPT` of them).

    Grids are matched by equality, not by hash: a grid read back from a GeoTIFF equals the analysis grid it was
    written from, but its CRS (the file's WKT, DATUM where the analysis CRS has ENSEMBLE) hashes differently, so an
    ``lru_cache`` computed the bathymetry's mask twice in the one step (its bands on the analysis grid, its
    summary on the written file's grid: 0.5 CPU-s of transforms at 100 m; the two masks are the same bits). Under a
    lock, so that steps side by side compute a mask once."""
    with _aoi_lock:
        for i, (g, b, bits) in enumerate(_aoi_kept):
            if b == box and g == grid:
                _aoi_kept.append(_aoi_kept.pop(i))
                return bits
        bits = _aoi_bits_of(grid, box)
        _aoi_kept.append((grid, box, bits))
        del _aoi_kept[:-AOI_BITS_KEPT]
        return bits


def _aoi_bits_of(grid: GeoGrid, box: tuple[float, float, float, float]) -> np.ndarray:
    rows, cols = grid.shape
    bits = np.empty((rows, (cols + 7) // 8), dtype=np.uint8)
    for start in range(0, rows, AOI_BITS_ROWS):
        stop = min(start + AOI_BITS_ROWS, rows)
        bits[start:stop] = np.packbits(_aoi_mask_rows(grid, box, slice(start, stop)), axis=1)
    bits.setflags(write=False)
    return bits


def _aoi_mask_rows(
    grid: GeoGrid, aoi_bounds_lonlat: tuple[float, float, float, float] | GeoGrid | None, rows: slice
) -> np.ndarray:
    """:func:`aoi_mask` for a band of rows, transforming only a lattice and the cells near the box's edges.

    The centres are transformed to lon/lat on a lattice every :data:`AOI_LATTICE` cells. Every cell of a lattice
    block lies within half a lattice step (in rows and in columns) of one of its four corners, so its distance to
    the box's edges differs from that corner's by at most the largest change of lon or lat between lattice
    neighbours in the band; a block whose four corners lie inside (outside) the box by more than twice that (a
    safety factor for the curvature of the projection) is wholly inside (outside). The cells of the other blocks (a
    strip along the edges of the box) are transformed one by one, exactly as a whole-grid transform would, so the
    mask is the one transforming every cell gives (tested), at a few per cent of the cost and memory (a 25 M-cell
    grid: 800 MB of coordinates and 6 s of transforms before).
    """
    start, stop = rows.start or 0, min(rows.stop, grid.shape[0])
    height, width = stop - start, grid.shape[1]
    if aoi_bounds_lonlat is None or isinstance(aoi_bounds_lonlat, GeoGrid):
        return np.ones((height, width), dtype=bool)
    ys, xs = grid.coords()
    ys = ys[start:stop]
    w, s, e, n = aoi_bounds_lonlat

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lon, lat = grid.xy_to_lonlat(x, y)
        return np.asarray((lon >= w) & (lon <= e) & (lat >= s) & (lat <= n))

    k = AOI_LATTICE
    if height < 2 * k or width < 2 * k:
        xx, yy = np.meshgrid(xs, ys)
        return inside(xx, yy)
    ri = np.unique(np.r_[np.arange(0, height, k), height - 1])
    ci = np.unique(np.r_[np.arange(0, width, k), width - 1])
    lx, ly = np.meshgrid(xs[ci], ys[ri])
    lon, lat = grid.xy_to_lonlat(lx, ly)
    margin = np.minimum.reduce([lon - w, e - lon, lat - s, n - lat])
    steps = [np.abs(np.diff(v, axis=a)) for v in (lon, lat) for a in (0, 1)]
    change = max(float(np.nanmax(d)) if d.size else 0.0 for d in steps)
    if not (np.isfinite(margin).all() and math.isfinite(change)):
        xx, yy = np.meshgrid(xs, ys)
        return inside(xx, yy)
    bound = 2.0 * change
    corners = np.stack([margin[:-1, :-1], margin[:-1, 1:], margin[1:, :-1], margin[1:, 1:]])
    nbr, nbc = len(ri) - 1, len(ci) - 1
    status = np.full((nbr, nbc), -1, dtype=np.int8)  # -1 undecided, 0 outside, 1 inside
    status[(corners > bound).all(axis=0)] = 1
    status[(corners < -bound).all(axis=0)] = 0
    block_r = np.minimum(np.arange(height) // k, nbr - 1)
    block_c = np.minimum(np.arange(width) // k, nbc - 1)
    # each block's status repeated over its cells (the last block takes the remainder): the gather
    # status[block_r[:, None], block_c[None, :]] as two repeats, a sixth of its time
    cell = np.repeat(
        np.repeat(status, np.bincount(block_r, minlength=nbr), axis=0), np.bincount(block_c, minlength=nbc), axis=1
    )
    out = cell == 1
    rr, cc = np.nonzero(cell == -1)
    if rr.size:
        out[rr, cc] = inside(xs[cc], ys[rr])
    return out


# -- reading every configured source ---------------------------------------------------------------------------------


def load_bathymetry_inputs(
    sources: Iterable[Any],
    area: GeoGrid | tuple[float, float, float, float],
    *,
    mirror: Path | None = None,
    cache: Path | None = None,
    verify: bool = True,
    base_dir: Path | None = None,
) -> list[BathymetryInput]:
    """Resolve and read every configured source (``scenario.bathymetry.sources``) over an area.

    ``area`` is the analysis grid (preferred: the window read then covers the whole grid, including the corners
    of the projected box that stick out of the lon/lat area of interest) or a ``(west, south, east, north)`` box
    in degrees. Every source is tried; the problems of all of them are raised together in one :class:`InputDataError`
    (a :class:`~geodata.errors.SourceUnavailable` or :class:`~geodata.errors.ChecksumMismatch` of a single
    failing source is re-raised as it is).
    """
    if isinstance(area, GeoGrid):
        w, s, e, n = transform_bounds(area.crs, "EPSG:4326", *area.bounds, densify_pts=51)
        bounds_lonlat = (max(w, -180.0), max(s, -90.0), min(e, 180.0), min(n, 90.0))
    else:
        bounds_lonlat = tuple(area)  # type: ignore[assignment]
    out: list[BathymetryInput] = []
    errors: list[Exception] = []
    for cfg in sources:
        try:
            path, prov = resolve_bathymetry_source(
                cfg.source, mirror=mirror, cache=cache, verify=verify, base_dir=base_dir
            )
            variable, crs = getattr(cfg, "variable", None), getattr(cfg, "crs", None)
            raster = read_bathymetry_source(path, variable=variable, crs=crs, bounds_lonlat=bounds_lonlat)
        except (InputDataError, ConfigError, ValueError) as exc:
            errors.append(exc)
            continue
        out.append(BathymetryInput(raster, cfg, prov))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputDataError(f"{len(errors)} bathymetry sources failed:\n" + "\n".join(f"  - {e}" for e in errors))
    return out


# -- the mosaic ------------------------------------------------------------------------------------------------------


def build_depth(
    sources: Sequence[BathymetryInput | tuple[Raster, Any, dict[str, Any]]],
    grid: GeoGrid,
    *,
    water_level_m: float,
    resampling: str = "bilinear",
    aoi_bounds_lonlat: tuple[float, float, float, float] | None = None,
    blend_cells: int = 0,
) -> Raster:
    """Water depth below the Caspian surface on the analysis grid; see :func:`build_depth_mosaic`."""
    return build_depth_mosaic(
        sources,
        grid,
        water_level_m=water_level_m,
        resampling=resampling,
        aoi_bounds_lonlat=aoi_bounds_lonlat,
        blend_cells=blend_cells,
    ).depth


def build_depth_mosaic(
    sources: Sequence[BathymetryInput | tuple[Raster, Any, dict[str, Any]]],
    grid: GeoGrid,
    *,
    water_level_m: float,
    resampling: str = "bilinear",
    aoi_bounds_lonlat: tuple[float, float, float, float] | None = None,
    blend_cells: int = 0,
) -> DepthMosaic:
    """Reproject every source onto ``grid``, convert it to depth below the Caspian surface and mosaic by priority.

    Parameters
    ----------
    sources
        :class:`BathymetryInput` items or ``(raster, BathymetrySource config, provenance)`` tuples. The config's
        ``priority`` orders them (higher wins where it has data, lower ones fill its gaps; equal priorities: the
        one listed first wins); ``vertical_reference_m`` and ``positive`` (None = the provenance's/catalogue's
        value, then the file's ``positive`` attribute, then 0 m and ``up``) set the vertical conversion.
    grid
        The analysis grid (:func:`analysis_grid`).
    water_level_m
        Height of the Caspian surface above ocean mean sea level (``scenario.bathymetry.water_level_m``, -28).
    resampling
        A rasterio resampling name (``bilinear``, ``cubic``, ``average``, ``nearest``...) or ``auto``:
        ``average`` for a source more than twice finer than the grid, else ``bilinear``.
    aoi_bounds_lonlat
        The lon/lat area of interest; when given, the share of it each source covers is recorded.
    blend_cells
        Feather a higher-priority source into the lower ones over this many cells inside its edge (0 = a hard
        seam), so that a survey patch does not leave a step that the slope would turn into a wall.

    Returns
    -------
    DepthMosaic
        ``depth`` (float32, NaN = no data) with ``attrs``: units, datum, water_level_m, resampling, the grid, and
        per source its path, checksum, priority, vertical reference (and where it came from), positive
        direction, resampling, coverage and the cells it supplied; ``warnings``.

    Raises
    ------
    InputDataError
        A source with no valid cell on the grid (all such sources are named at once), a raster without CRS.
    ConfigError
        No source, an unknown resampling name.
    """
    inputs = _checked_inputs(sources, blend_cells)
    aoi = aoi_mask(grid, aoi_bounds_lonlat)
    layers: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    problems: list[str] = []
    for inp in inputs:
        if inp.raster.grid.crs is None:
            problems.append(f"source '{inp.name}' has no CRS")
            continue
        vref, vref_origin = _vertical_reference(inp)
        positive, positive_origin = _positive(inp)
        method = _resampling_for(inp.raster, grid, resampling)
        elev = reproject_onto(inp.raster, grid, method)
        valid = np.isfinite(elev)
        if not valid.any():
            problems.append(_no_valid_cell(inp, grid, aoi_bounds_lonlat))
            continue
        layers.append(to_depth(elev, positive=positive, vertical_reference_m=vref, water_level_m=water_level_m))
        cover = _coverage(valid, aoi)
        warnings.extend(_source_warnings(inp, grid, method, cover, aoi_given=aoi_bounds_lonlat is not None))
        record = _source_record(inp, method, int(valid.sum()), cover, (vref, vref_origin), (positive, positive_origin))
        records.append({**record, "_priority_key": (-inp.priority, len(records))})
    if problems:
        raise InputDataError(
            "bathymetry sources do not cover the area:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nUse sources that cover the area of interest, or correct the area of interest / the source's CRS."
        )
    out, index = composite_by_priority(layers, [rec.pop("_priority_key") for rec in records], blend_cells)
    warnings.extend(_record_supply(records, index))
    covered = _coverage(np.isfinite(out), aoi)
    if aoi_bounds_lonlat is not None and covered < 1.0:
        warnings.append(f"the mosaic covers {100 * covered:.2f} % of the area of interest; the rest is nodata")
    attrs = _mosaic_attrs(grid, water_level_m, resampling, blend_cells, aoi_bounds_lonlat, covered, records, warnings)
    attrs["source_index"] = encode_source_index(index)
    depth = Raster(out, grid, float("nan"), attrs)
    legend = {str(i): rec["name"] for i, rec in enumerate(records)}
    idx_attrs = {"quantity": "source_index", "legend": legend, "nodata": -1}
    return DepthMosaic(depth, Raster(index, grid, -1, idx_attrs))


# -- the steps of the mosaic -----------------------------------------------------------------------------------------


def _checked_inputs(
    sources: Sequence[BathymetryInput | tuple[Raster, Any, dict[str, Any]]], blend_cells: int
) -> list[BathymetryInput]:
    inputs = [_as_input(s) for s in sources]
    if not inputs:
        raise ConfigError("no bathymetry source given; list at least one under bathymetry.sources in the scenario")
    if blend_cells < 0:
        raise ConfigError(f"blend_cells must be >= 0, got {blend_cells}")
    return inputs


def reproject_onto(raster: Raster, grid: GeoGrid, method: str) -> np.ndarray:
    """A source's values on the analysis grid (float32, NaN where it has no data), resampled with ``method``."""
    values = np.where(raster.valid(), raster.data, np.nan).astype("float32")
    return warp_values(raster, values, grid, method, warp_scales(raster, grid))


def warp_values(
    raster: Raster, values: np.ndarray, target: GeoGrid, method: str, scales: dict[str, float]
) -> np.ndarray:
    """``values`` (on ``raster``'s grid, NaN = no data) warped onto ``target`` (the analysis grid, or one band of it
    with the whole grid's fixed ``scales``, so a band resamples exactly as the whole grid does)."""
    out = np.full(target.shape, np.nan, dtype="float32")
    reproject(
        source=values,
        destination=out,
        src_transform=raster.grid.transform,
        src_crs=raster.grid.crs.to_wkt(),
        src_nodata=np.nan,
        dst_transform=target.transform,
        dst_crs=target.crs.to_wkt(),
        dst_nodata=np.nan,
        resampling=Resampling[method],
        num_threads=WARP_THREADS,
        **scales,
    )
    return out


WARP_THREADS = 2
"""GDAL warp threads (``NUM_THREADS``): each destination cell is computed from its own coordinates and the fixed
scales, so the threads change no cell (checked on the mirror's 100 m grid)."""


def to_depth(values: np.ndarray, *, positive: str, vertical_reference_m: float, water_level_m: float) -> np.ndarray:
    """Source values -> depth below the Caspian surface (float32, positive down); see the module docstring."""
    level, vref = np.float32(water_level_m), np.float32(vertical_reference_m)
    layer = level - (values + vref) if positive == "up" else level - (vref - values)
    return layer.astype("float32")


def _coverage(valid: np.ndarray, aoi: np.ndarray) -> float:
    """Share of the area-of-interest cells that are valid (0 for an empty area)."""
    aoi_cells = int(aoi.sum())
    return float((valid & aoi).sum() / aoi_cells) if aoi_cells else 0.0


def _no_valid_cell(inp: BathymetryInput, grid: GeoGrid, aoi_bounds_lonlat: Any) -> str:
    r = inp.raster
    return (
        f"source '{inp.name}' ({inp.provenance.get('path', r.attrs.get('path', '?'))}, "
        f"{_describe_lonlat(r.grid)}) has no valid cell on the analysis grid ({_describe_aoi(grid, aoi_bounds_lonlat)})"
    )


def _source_warnings(inp: BathymetryInput, grid: GeoGrid, method: str, cover: float, *, aoi_given: bool) -> list[str]:
    """The source's own read warnings, a sampling (not averaging) resampling, a partial cover of the area."""
    r = inp.raster
    out = [f"{inp.name}: {wmsg}" for wmsg in r.attrs.get("warnings", [])]
    if method in ("bilinear", "nearest", "cubic") and _finer_ratio(r, grid) > 2.0:
        out.append(
            f"{inp.name}: source cells are {_finer_ratio(r, grid):.1f}x finer than the grid and '{method}' "
            "resampling samples rather than averages them; 'average' (or 'auto') is the better choice"
        )
    if aoi_given and cover < 0.999:
        out.append(f"{inp.name}: covers {100 * cover:.1f} % of the area of interest")
    return out


def _source_record(
    inp: BathymetryInput,
    method: str,
    valid_cells: int,
    cover: float,
    vref: tuple[float, str],
    positive: tuple[str, str],
) -> dict[str, Any]:
    """What the mosaic records of one source: provenance, vertical conversion, resampling and coverage."""
    r = inp.raster
    return {
        "name": inp.name,
        "path": inp.provenance.get("path", r.attrs.get("path")),
        "sha256": inp.provenance.get("sha256"),
        "priority": inp.priority,
        "vertical_reference_m": vref[0],
        "vertical_reference_origin": vref[1],
        "positive": positive[0],
        "positive_origin": positive[1],
        "resampling": method,
        "crs": r.grid.crs.to_string(),
        "crs_origin": r.attrs.get("crs_origin"),
        "variable": r.attrs.get("variable"),
        "native_resolution": list(r.grid.res),
        "flipped_rows": r.attrs.get("flipped_rows", False),
        "valid_cells_on_grid": int(valid_cells),
        "aoi_coverage_fraction": round(cover, 6),
        "licence": inp.provenance.get("licence"),
    }


def composite_by_priority(
    layers: Sequence[np.ndarray], priority_keys: Sequence[Any], blend_cells: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack depth layers: the lowest priority first, so higher priorities end on top (sort keys ascending = higher
    priority). Returns the depth (float32, NaN = none) and the index of the layer that supplied each cell (int16,
    -1 = none); with ``blend_cells`` > 0 a layer is feathered into those below over that many cells inside its edge.
    """
    shape = layers[0].shape
    if len(layers) == 1:  # one source: nothing to stack
        alone = np.asarray(layers[0], dtype="float32")
        index = np.isfinite(alone).view(np.int8).astype(np.int16)  # 0 / -1 without an int64 temporary
        index -= 1
        return alone.copy(), index
    order = sorted(range(len(layers)), key=lambda i: priority_keys[i])
    out = np.full(shape, np.nan, dtype="float32")
    index = np.full(shape, -1, dtype="int16")
    for i in reversed(order):
        d = layers[i]
        v = np.isfinite(d)
        both = v & np.isfinite(out)
        if blend_cells > 0 and both.any():
            # a layer without a gap has no edge to feather (scipy's transform of an all-True array is not that)
            inside = ndimage.distance_transform_edt(v) if not v.all() else np.full(v.shape, np.inf)
            w = np.clip(inside / (blend_cells + 1), 0.0, 1.0).astype("float32")
            out[both] = w[both] * d[both] + (1 - w[both]) * out[both]
            out[v & ~both] = d[v & ~both]
        else:
            out[v] = d[v]
        index[v] = i
    return out, index


def _record_supply(records: list[dict[str, Any]], index: np.ndarray) -> list[str]:
    """Add ``cells_supplied`` to each record; a warning for each source that supplies no cell."""
    warnings = []
    for i, rec in enumerate(records):
        rec["cells_supplied"] = int((index == i).sum())
        if rec["cells_supplied"] == 0:
            warnings.append(f"{rec['name']}: every cell it covers is covered by a higher-priority source; it is unused")
    return warnings


def _mosaic_attrs(
    grid: GeoGrid,
    water_level_m: float,
    resampling: str,
    blend_cells: int,
    aoi_bounds_lonlat: tuple[float, float, float, float] | None,
    covered: float,
    records: list[dict[str, Any]],
    warnings: list[str],
) -> dict[str, Any]:
    return {
        "quantity": "water_depth",
        "units": "m",
        "positive": "down",
        "datum": DATUM_DESCRIPTION,
        "water_level_m": float(water_level_m),
        "resampling": resampling,
        "blend_cells": int(blend_cells),
        "grid": grid.to_dict(),
        "aoi_bounds_lonlat": list(aoi_bounds_lonlat) if aoi_bounds_lonlat is not None else None,
        "aoi_coverage_fraction": round(covered, 6),
        "sources": records,
        "source_checksums": {rec["name"]: rec["sha256"] for rec in records},
        "warnings": warnings,
    }


def encode_source_index(index: np.ndarray) -> dict[str, Any]:
    """The per-cell source index as a compact JSON-friendly value (zlib + base64 of int16), so that it travels in
    the depth raster's ``attrs`` (and its GeoTIFF tag) without a second band; :func:`source_index_of` reads it."""
    raw = np.ascontiguousarray(index, dtype="<i2").tobytes()
    return {
        "encoding": "zlib+base64",
        "dtype": "<i2",
        "shape": list(index.shape),
        "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii"),
    }


def source_index_of(depth: Raster) -> np.ndarray | None:
    """Which source supplied each cell of a mosaic depth raster (int16, -1 = none), from its ``attrs``.

    None when the raster does not carry it (not built by :func:`build_depth_mosaic`). A single-source raster
    without it is attributed wholly to its source.
    """
    enc = depth.attrs.get("source_index")
    if isinstance(enc, dict) and enc.get("encoding") == "zlib+base64":
        raw = zlib.decompress(base64.b64decode(enc["data"]))
        return np.frombuffer(raw, dtype=enc.get("dtype", "<i2")).reshape(enc["shape"]).astype("int16")
    if len(depth.attrs.get("sources", [])) == 1:
        return np.where(depth.valid(), 0, -1).astype("int16")
    return None


def _as_input(item: BathymetryInput | tuple[Raster, Any, dict[str, Any]]) -> BathymetryInput:
    if isinstance(item, BathymetryInput):
        return item
    try:
        raster, cfg, prov = item
    except (TypeError, ValueError):
        raise ConfigError(
            f"bathymetry source {item!r} is neither a BathymetryInput nor a (Raster, config, provenance) tuple"
        ) from None
    if not isinstance(raster, Raster):
        raise ConfigError(f"bathymetry source tuple starts with {type(raster).__name__}, expected a Raster")
    return BathymetryInput(raster, cfg, dict(prov or {}))


def _catalogue_extra(inp: BathymetryInput, key: str) -> Any:
    name = getattr(inp.config, "source", None)
    if name and name in load_catalogue():
        return load_catalogue()[name].extra.get(key)
    return None


def _vertical_reference(inp: BathymetryInput) -> tuple[float, str]:
    value = getattr(inp.config, "vertical_reference_m", None)
    if value is not None:
        return float(value), "scenario"
    if inp.provenance.get("vertical_reference_m") is not None:
        return float(inp.provenance["vertical_reference_m"]), "catalogue"
    cat = _catalogue_extra(inp, "vertical_reference_m")
    if cat is not None:
        return float(cat), "catalogue"
    return 0.0, "default (ocean mean sea level)"


def _positive(inp: BathymetryInput) -> tuple[str, str]:
    value = getattr(inp.config, "positive", None)
    if value:
        return _checked_positive(value, inp), "scenario"
    if inp.provenance.get("positive"):
        return _checked_positive(inp.provenance["positive"], inp), "catalogue"
    cat = _catalogue_extra(inp, "positive")
    if cat:
        return _checked_positive(cat, inp), "catalogue"
    if inp.raster.attrs.get("positive"):
        return _checked_positive(inp.raster.attrs["positive"], inp), "file attribute"
    return "up", "default (elevations)"


def _checked_positive(value: Any, inp: BathymetryInput) -> str:
    v = str(value).lower()
    if v not in ("up", "down"):
        raise ConfigError(f"bathymetry source '{inp.name}': positive must be 'up' or 'down', got '{value}'")
    return v


def _source_cell_in_grid_units(raster: Raster, grid: GeoGrid) -> tuple[float, float]:
    """Width and height of a source cell, in grid units, at the grid centre."""
    ys, xs = grid.coords()
    cx, cy = float(xs[xs.size // 2]), float(ys[ys.size // 2])
    to_src = Transformer.from_crs(grid.crs, raster.grid.crs, always_xy=True)
    to_dst = Transformer.from_crs(raster.grid.crs, grid.crs, always_xy=True)
    sx, sy = to_src.transform(cx, cy)
    dy, dx = raster.grid.res
    px, py = to_dst.transform(np.array([sx, sx + dx, sx]), np.array([sy, sy, sy + dy]))
    return math.hypot(px[1] - px[0], py[1] - py[0]), math.hypot(px[2] - px[0], py[2] - py[0])


def warp_scales(raster: Raster, grid: GeoGrid) -> dict[str, float]:
    """GDAL's ``XSCALE``/``YSCALE`` warp options (grid cells per source cell) for a source, fixed once per grid.

    GDAL otherwise derives them per processing chunk from the chunk's source and destination windows, so a
    warp of a band of rows (or of a large grid, which GDAL cuts into chunks of its own) would resample with a
    kernel of another width than a warp of the whole grid; fixed, every band gives the cells a whole-grid warp gives.
    """
    size_x, size_y = _source_cell_in_grid_units(raster, grid)
    gdy, gdx = grid.res
    if not (math.isfinite(size_x) and math.isfinite(size_y) and size_x > 0 and size_y > 0):
        return {}
    return {"XSCALE": size_x / gdx, "YSCALE": size_y / gdy}


def _finer_ratio(raster: Raster, grid: GeoGrid) -> float:
    """How many times finer the source cells are than the grid's, measured at the grid centre in grid units."""
    size_x, size_y = _source_cell_in_grid_units(raster, grid)
    src = math.sqrt(max(size_x * size_y, 1e-12))
    gdy, gdx = grid.res
    if not math.isfinite(src):
        return 1.0
    return math.sqrt(gdx * gdy) / src


def _resampling_for(raster: Raster, grid: GeoGrid, resampling: str) -> str:
    name = str(resampling).lower()
    if name == "auto":
        return "average" if _finer_ratio(raster, grid) > 2.0 else "bilinear"
    if name not in Resampling.__members__:
        known = ", ".join(["auto", *Resampling.__members__])
        raise ConfigError(f"unknown resampling '{resampling}'; use one of {known}")
    return name


def _describe_aoi(grid: GeoGrid, aoi: tuple[float, float, float, float] | None) -> str:
    if aoi is not None:
        return f"area of interest {aoi[0]:g}..{aoi[2]:g} E, {aoi[1]:g}..{aoi[3]:g} N"
    return f"grid bounds {tuple(round(b) for b in grid.bounds)} in {grid.crs.to_string()}"


def _describe_lonlat(g: GeoGrid) -> str:
    try:
        w, s, e, n = transform_bounds(g.crs, "EPSG:4326", *g.bounds, densify_pts=21)
    except TRANSFORM_BOUNDS_ERRORS:  # wording only
        return f"bounds {g.bounds} in {g.crs.to_string()}"
    return f"covers {w:.3f}..{e:.3f} E, {s:.3f}..{n:.3f} N"
