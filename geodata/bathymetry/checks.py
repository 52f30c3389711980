"""Checks of the depth grid, as plain results that the Dagster layer turns into asset checks.

Each function returns the project's one :class:`geodata.checks.CheckResult` (``passed``, a one-line ``description``
that names the fix, JSON-friendly ``metadata``, and ``blocking``: True for the ERROR checks, those that would
otherwise give a wrong route, False for WARN ones).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from numba import njit

from geodata.bathymetry.bands import (
    blocks_of,
    order_statistics,
    percentiles,
    rows_of,
    source_index_bands,
    valid_float64,
)
from geodata.bathymetry.mosaic import aoi_mask_rows
from geodata.checks import CheckResult
from geodata.errors import ConfigError, InputDataError
from geodata.grid import Block, GeoGrid, LazyRaster, Raster, nodata_is_nan, raster_read_rows, valid_values

__all__ = [
    "CheckResult",
    "InvertedDepthSource",
    "check_coverage",
    "check_crs",
    "check_depth_range",
    "check_nodata_share",
    "check_source_signs",
    "source_sign_agreement",
    "summary_metadata",
    "validate_source_signs",
]

ERROR, WARN = "ERROR", "WARN"
_PCT_NAMES = ("p0", "p1", "p5", "p50", "p95", "p99", "p100")
_SOURCE_SUMMARY_KEYS = ("name", "priority", "vertical_reference_m", "positive", "resampling", "cells_supplied")


def _result(name: str, passed: bool, severity: str, description: str, metadata: dict[str, Any]) -> CheckResult:
    """A :class:`geodata.checks.CheckResult`; ``severity`` ERROR is blocking, WARN is not."""
    return CheckResult(name, passed, description, metadata, blocking=severity == ERROR)


def _depth_rows(depth: Raster, block: Block) -> np.ndarray:
    """The depth of a band as float64, NaN where the cell holds no data."""
    return valid_float64(rows_of(depth, block), depth.nodata)


def _sea_rows(sea_mask: Raster | None, z: np.ndarray, block: Block) -> np.ndarray:
    """Sea cells of a band: the mask's, or (without one) cells with data deeper than the water surface."""
    if sea_mask is not None:
        return np.asarray(rows_of(sea_mask, block)).astype(bool)
    with np.errstate(invalid="ignore"):
        return np.isfinite(z) & (z > 0)


def _cell_value(raster: Raster, r: int, c: int) -> float:
    """One cell's value as float (NaN = nodata), without loading a lazy raster."""
    if isinstance(raster, LazyRaster) and not raster.loaded:
        return float(raster.file.cells(np.array([r]), np.array([c]))[0])
    return float(valid_values(raster.data[r : r + 1, c : c + 1], raster.nodata)[0, 0])


def _nearest_sea(
    sea_of_rows: Any, grid: GeoGrid, r: int, c: int, reach_m: float
) -> tuple[float, tuple[int, int]] | None:
    """Distance (m, between cell centres) from cell ``(r, c)`` to the nearest sea cell and that cell, searching a
    window that grows until the nearest sea cell found is nearer than the window's edge (or the window is the
    grid): what a Euclidean distance transform of the whole grid gives at that cell. None when there is no sea."""
    dy, dx = grid.res
    rows, cols = grid.shape
    half = max(math.ceil(reach_m / min(dy, dx)) + 2, 8)
    while True:
        r0, r1 = max(r - half, 0), min(r + half + 1, rows)
        c0, c1 = max(c - half, 0), min(c + half + 1, cols)
        sea = sea_of_rows(slice(r0, r1))[:, c0:c1]
        whole = r0 == 0 and c0 == 0 and r1 == rows and c1 == cols
        rr, cc = np.nonzero(sea)
        if rr.size:
            d = np.hypot((rr + r0 - r) * dy, (cc + c0 - c) * dx)
            i = int(np.argmin(d))
            if whole or d[i] <= half * min(dy, dx):
                return float(d[i]), (int(rr[i] + r0), int(cc[i] + c0))
        elif whole:
            return None
        half *= 2


def check_crs(raster: Raster, expected_crs: Any = None) -> CheckResult:
    """The raster has a CRS, it is projected in metres, and (when given) it is the analysis CRS."""
    crs = raster.grid.crs
    meta: dict[str, Any] = {"crs": crs.to_string() if crs is not None else None}
    if crs is None:
        return _result("crs_present", False, ERROR, "the raster has no CRS; rebuild it on the analysis grid", meta)
    unit = crs.axis_info[0].unit_name if crs.axis_info else "unknown"
    meta.update(is_projected=bool(crs.is_projected), axis_unit=unit)
    problems = []
    if not crs.is_projected or (crs.axis_info and crs.axis_info[0].unit_conversion_factor != 1.0):
        problems.append(f"{crs.to_string()} is not a projected CRS in metres (unit {unit})")
    if expected_crs is not None:
        from pyproj import CRS

        expected = CRS.from_user_input(expected_crs)
        meta["expected_crs"] = expected.to_string()
        if not crs.equals(expected, ignore_axis_order=True):
            problems.append(f"it is in {crs.to_string()}, the analysis CRS is {expected.to_string()}")
    if problems:
        description = "; ".join(problems) + ": reproject it onto the analysis grid"
        return _result("crs_present", False, ERROR, description, meta)
    return _result("crs_present", True, ERROR, f"CRS {crs.to_string()} (metres)", meta)


def _stations(stations: Iterable[Any]) -> list[tuple[str, float, float]]:
    out = []
    for i, st in enumerate(stations):
        if hasattr(st, "lon_deg") and hasattr(st, "lat_deg"):
            out.append((str(getattr(st, "name", f"station {i + 1}")), float(st.lon_deg), float(st.lat_deg)))
        elif isinstance(st, dict):
            out.append((str(st.get("name", f"station {i + 1}")), float(st["lon_deg"]), float(st["lat_deg"])))
        elif len(st) == 3 and isinstance(st[0], str):
            out.append((st[0], float(st[1]), float(st[2])))
        elif len(st) == 3 and isinstance(st[2], str):
            out.append((st[2], float(st[0]), float(st[1])))
        elif len(st) == 2:
            out.append((f"station {i + 1}", float(st[0]), float(st[1])))
        else:
            raise ConfigError(
                f"landing station {st!r} is not (lon, lat), (name, lon, lat), (lon, lat, name) or a LandingStation"
            )
    return out


MAX_STATION_TO_SEA_M = 10_000.0
"""Farthest a landing station may lie from the nearest sea cell (the coverage check) or from the Caspian's water
(``corridor validate``): a station given at its town is a few km inland (Siyazan: 6 km); tens of km means a wrong
position or swapped coordinates."""


def check_coverage(
    depth: Raster,
    aoi_bounds_lonlat: tuple[float, float, float, float] | GeoGrid | None,
    stations: Iterable[Any],
    *,
    sea_mask: Raster | None = None,
    min_aoi_fraction: float = 0.99,
    max_station_to_sea_m: float = MAX_STATION_TO_SEA_M,
    sea_only: bool = False,
) -> CheckResult:
    """The depth grid covers the area of interest and both landing stations.

    A landing station passes when its cell is on the grid, holds depth data, and lies within
    ``max_station_to_sea_m`` of a sea cell (a station far inland, or coordinates swapped, fails; on the mirror
    the Siyazan station, given at the town, is 6 km from the GSHHG sea). The area of
    interest passes when at least ``min_aoi_fraction`` of its cells hold data; with ``sea_only`` (and a
    ``sea_mask`` drawn from the coastline, so that a sea cell without data is still sea) only its sea cells count:
    the route runs at sea, and a source that stops at the shore, or a lon/lat box whose projected grid reaches past
    the source's extent over land, does not fail the check.

    Parameters
    ----------
    depth
        The depth raster.
    aoi_bounds_lonlat
        ``(west, south, east, north)`` in degrees, or None (or the grid itself) for the whole grid.
    stations
        ``LandingStation`` models, dicts with ``lon_deg``/``lat_deg``, ``(name, lon, lat)``, ``(lon, lat, name)``
        or ``(lon, lat)``.
    sea_mask
        The land/sea mask (1 = sea); without it, sea is ``depth > 0``.
    """
    grid = depth.grid
    n_aoi = n_hit = n_sea = 0
    counts_sea = sea_only and sea_mask is not None
    for b in blocks_of(grid):
        z = _depth_rows(depth, b)
        sea = _sea_rows(sea_mask, z, b)
        aoi = aoi_mask_rows(grid, aoi_bounds_lonlat, b.rows)
        counted = aoi & sea if counts_sea else aoi
        n_aoi += int(counted.sum())
        n_hit += int((np.isfinite(z) & counted).sum())
        n_sea += int(sea.sum())
    frac = float(n_hit / n_aoi) if n_aoi else 0.0

    def sea_of_rows(rows: slice) -> np.ndarray:
        block = Block(rows, rows)
        return _sea_rows(sea_mask, valid_values(raster_read_rows(depth, rows), depth.nodata), block)

    failures: list[str] = []
    meta: dict[str, Any] = {
        "aoi_valid_fraction": round(frac, 6),
        "aoi_cells": n_aoi,
        "aoi_cells_counted": "sea cells of the area of interest" if counts_sea else "area of interest",
        "min_aoi_fraction": min_aoi_fraction,
        "max_station_to_sea_m": max_station_to_sea_m,
    }
    if n_aoi == 0:
        failures.append("the area of interest has no cell on the grid")
    elif frac < min_aoi_fraction:
        failures.append(
            f"only {100 * frac:.2f} % of the {meta['aoi_cells_counted']} holds depth data "
            f"(need {100 * min_aoi_fraction:.1f} %)"
        )
    if n_sea == 0:
        failures.append("the grid has no sea cell")
    stations_meta = []
    for name, lon, lat in _stations(stations):
        x, y = grid.lonlat_to_xy(lon, lat)
        cell = grid.cell_of(float(x), float(y))
        info: dict[str, Any] = {"name": name, "lon_deg": lon, "lat_deg": lat}
        if cell is None:
            failures.append(f"landing station '{name}' ({lat} N, {lon} E) lies outside the depth grid")
            info["on_grid"] = False
            stations_meta.append(info)
            continue
        r, c = cell
        value = _cell_value(depth, r, c)
        in_aoi = bool(aoi_mask_rows(grid, aoi_bounds_lonlat, slice(r, r + 1))[0, c])
        info.update(on_grid=True, row=r, col=c, has_data=math.isfinite(value), in_aoi=in_aoi)
        if math.isfinite(value):
            info["depth_m"] = round(value, 2)
        else:
            failures.append(f"landing station '{name}' ({lat} N, {lon} E) falls on a nodata cell of the depth grid")
        info["on_sea_cell"] = bool(sea_of_rows(slice(r, r + 1))[0, c])
        nearest = _nearest_sea(sea_of_rows, grid, r, c, max_station_to_sea_m) if n_sea else None
        if nearest is not None:
            d, (sr, sc) = nearest
            info["distance_to_sea_m"] = round(d, 1)
            if d > max_station_to_sea_m:
                sx, sy = grid.xy(sr, sc)
                slon, slat = (float(v) for v in grid.xy_to_lonlat(sx, sy))
                info.update(nearest_sea_lon_deg=round(slon, 6), nearest_sea_lat_deg=round(slat, 6))
                failures.append(
                    f"landing station '{name}' ({lat} N, {lon} E) lies {d / 1000:.1f} km from the nearest sea cell "
                    f"(limit {max_station_to_sea_m / 1000:.1f} km): it is inland or its coordinates are wrong; "
                    f"give the station on the coast (the nearest sea cell is at {slat:.5f} N, {slon:.5f} E)"
                )
        stations_meta.append(info)
    meta["stations"] = stations_meta
    if failures:
        return _result(
            "coverage",
            False,
            ERROR,
            "; ".join(failures) + ". Add a source covering them, widen the area or correct the coordinates.",
            meta,
        )
    return _result(
        "coverage",
        True,
        ERROR,
        f"{100 * frac:.2f} % of the {meta['aoi_cells_counted']} has depth data; {len(stations_meta)} landing "
        "stations on data and near the sea",
        meta,
    )


def check_nodata_share(
    depth: Raster,
    max_fraction: float,
    *,
    aoi_bounds_lonlat: tuple[float, float, float, float] | None = None,
    sea_mask: Raster | None = None,
) -> CheckResult:
    """The share of nodata cells inside the area of interest is at most ``max_fraction``.

    The share over sea cells (where a route may go) is reported too, and must also be within the limit.
    """
    n = missing = ns = sea_missing = 0
    for b in blocks_of(depth.grid):
        gap = ~np.isfinite(_depth_rows(depth, b))
        aoi = aoi_mask_rows(depth.grid, aoi_bounds_lonlat, b.rows)
        n += int(aoi.sum())
        missing += int((gap & aoi).sum())
        if sea_mask is not None:
            sea = np.asarray(rows_of(sea_mask, b)).astype(bool) & aoi
            ns += int(sea.sum())
            sea_missing += int((gap & sea).sum())
    share = float(missing / n) if n else 1.0
    meta: dict[str, Any] = {"nodata_fraction": round(share, 6), "max_fraction": max_fraction, "cells": n}
    sea_share = None
    if sea_mask is not None:
        sea_share = float(sea_missing / ns) if ns else 0.0
        meta["sea_nodata_fraction"] = round(sea_share, 6)
    worst = max(share, sea_share or 0.0)
    if worst > max_fraction:
        return _result(
            "nodata_share",
            False,
            ERROR,
            f"{100 * share:.2f} % of the area of interest"
            + (f" and {100 * sea_share:.2f} % of its sea" if sea_share is not None else "")
            + f" has no depth (limit {100 * max_fraction:.1f} %): add a source that fills the gaps or shrink the area",
            meta,
        )
    return _result("nodata_share", True, ERROR, f"{100 * share:.2f} % nodata in the area of interest", meta)


def check_depth_range(
    depth: Raster,
    sea_mask: Raster | None,
    depth_range_m: tuple[float, float],
    *,
    max_outlier_fraction: float = 0.005,
    max_dry_sea_fraction: float = 0.2,
    dry_tolerance_m: float = 5.0,
) -> CheckResult:
    """Sea cells have depths inside the plausible range ``(min, max)`` (metres below the Caspian surface).

    Depths beyond the range over more than ``max_outlier_fraction`` of the sea mean a wrong vertical reference,
    sign (``positive``) or unit, which would send the route over false deeps or shoals: the check fails with a
    hint at the likely cause. A few outliers are expected where a coarse grid meets a fine coastline at a cliff
    (on the mirror: ~0.1 % of the sea, on the Mangyshlak escarpments, up to ~150 m above the water): they are
    counted and located in the metadata, and the check passes. A large share of sea cells more than
    ``dry_tolerance_m`` above the water surface (more than ``max_dry_sea_fraction``) also fails: the datum is
    probably off. Sea cells a few metres above the surface are not a datum error: a coarse grid over a shallow shelf
    reads so (on the mirror, a quarter to a half of the northern Caspian's sea cells, true depth 0-10 m, read 0-5 m
    above it; SOURCES.md), and a datum error moves the sea by tens of metres. Their share is reported.
    """
    lo, hi = float(depth_range_m[0]), float(depth_range_m[1])
    if not lo < hi:
        raise ConfigError(f"depth range {depth_range_m} must be (min, max) with min < max, in metres")
    blocks = blocks_of(depth.grid)

    def sea_values() -> Any:
        for b in blocks:
            yield _sea_depths(depth, sea_mask, b, without_mask="all")

    size, too_shallow, too_deep, n_dry, n_at_or_above, z_lo, z_hi = _range_tally(
        depth, sea_mask, blocks, lo, hi, dry_tolerance_m
    )
    meta: dict[str, Any] = {"range_m": [lo, hi], "sea_cells_with_data": size}
    if size == 0:
        return _result(
            "depth_range", False, ERROR, "no sea cell holds depth data: check the coastline layer and the sources", meta
        )
    pct = np.array(percentiles(sea_values, size, [0, 1, 5, 50, 95, 99, 100], bounds=(z_lo, z_hi)))
    dry = float(n_dry / size)
    at_or_above = float(n_at_or_above / size)
    meta.update(
        depth_min_m=round(float(pct[0]), 2),
        depth_max_m=round(float(pct[-1]), 2),
        depth_median_m=round(float(pct[3]), 2),
        depth_percentiles_m={k: round(float(v), 2) for k, v in zip(_PCT_NAMES, pct, strict=True)},
        cells_shallower_than_min=too_shallow,
        cells_deeper_than_max=too_deep,
        sea_at_or_above_water_fraction=round(at_or_above, 6),
        sea_above_water_beyond_tolerance_fraction=round(dry, 6),
        dry_tolerance_m=dry_tolerance_m,
    )
    outlier_fraction = (too_shallow + too_deep) / size
    meta.update(outlier_fraction=round(outlier_fraction, 6), max_outlier_fraction=max_outlier_fraction)
    if too_shallow or too_deep:
        meta["outliers_lonlat"] = _outlier_places(depth, sea_mask, blocks, lo, hi)
    outliers = []
    if too_shallow:
        outliers.append(f"{too_shallow} sea cells are shallower than {lo:g} m (down to {pct[0]:.1f} m)")
    if too_deep:
        outliers.append(f"{too_deep} sea cells are deeper than {hi:g} m (down to {pct[-1]:.1f} m)")
    problems = []
    median_out = not lo <= float(pct[3]) <= hi
    if outliers and (outlier_fraction > max_outlier_fraction or median_out):
        problems.extend(outliers)
    if dry > max_dry_sea_fraction:
        problems.append(f"{100 * dry:.1f} % of sea cells are more than {dry_tolerance_m:g} m above the water surface")
    if problems:
        hint = _hint(pct, depth)
        return _result("depth_range", False, ERROR, "; ".join(problems) + f". {hint}", meta)
    if outliers:
        return _result(
            "depth_range",
            True,
            ERROR,
            f"sea depths {pct[1]:.1f}..{pct[-2]:.1f} m (1st-99th percentile) within {lo:g}..{hi:g} m; "
            + "; ".join(outliers)
            + f" ({100 * outlier_fraction:.2f} % of the sea, within the {100 * max_outlier_fraction:.1f} % allowed "
            "for coarse-grid cells at the coast)",
            meta,
        )
    return _result(
        "depth_range", True, ERROR, f"sea depths {pct[0]:.1f}..{pct[-1]:.1f} m within {lo:g}..{hi:g} m", meta
    )


def _range_counts(
    values: Iterable[np.ndarray], lo: float, hi: float, dry_tolerance_m: float
) -> tuple[int, int, int, int, int, float, float]:
    """Sea cells with data; shallower than ``lo``; deeper than ``hi``; above the water beyond the tolerance; at or
    above the water; the least and greatest depth."""
    counts = np.zeros(5, dtype=np.int64)
    z_lo, z_hi = math.inf, -math.inf
    for z in values:
        counts += (z.size, (z < lo).sum(), (z > hi).sum(), (z < -dry_tolerance_m).sum(), (z <= 0).sum())
        if z.size:
            z_lo, z_hi = min(z_lo, float(z.min())), max(z_hi, float(z.max()))
    n, shallow, deep, dry, at_or_above = (int(c) for c in counts)
    return n, shallow, deep, dry, at_or_above, z_lo, z_hi


def _range_tally(
    depth: Raster, sea_mask: Raster | None, blocks: list[Block], lo: float, hi: float, dry_tolerance_m: float
) -> tuple[int, int, int, int, int, float, float]:
    """:func:`_range_counts` of the sea depths of every band (``without_mask="all"``), in one compiled pass per
    band as stored when its only nodata is NaN and the mask is boolean or bytes (the same float64 comparisons on
    the same values, without gathering them first), else numpy's."""
    counts = np.zeros(5, dtype=np.int64)
    extremes = np.array([math.inf, -math.inf])
    for b in blocks:
        raw = rows_of(depth, b)
        sea = rows_of(sea_mask, b) if sea_mask is not None else None
        if _compiled_band(depth, raw, sea):
            _range_kernel(raw, _kernel_mask(sea), sea is not None, lo, hi, -dry_tolerance_m, counts, extremes)
            continue
        n, shallow, deep, dry, at_or_above, z_lo, z_hi = _range_counts(
            [_sea_depths(depth, sea_mask, b, without_mask="all")], lo, hi, dry_tolerance_m
        )
        counts += (n, shallow, deep, dry, at_or_above)
        extremes[:] = (min(float(extremes[0]), z_lo), max(float(extremes[1]), z_hi))
    n, shallow, deep, dry, at_or_above = (int(c) for c in counts)
    return n, shallow, deep, dry, at_or_above, float(extremes[0]), float(extremes[1])


@njit(cache=True, nogil=True)
def _range_kernel(
    raw: np.ndarray,
    sea: np.ndarray,
    has_sea: bool,
    lo: float,
    hi: float,
    dry_below: float,
    counts: np.ndarray,
    extremes: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Adds to ``counts`` the finite depths over the sea (the mask's non-zero cells, every cell without one), those
    below ``lo``, above ``hi``, below ``dry_below`` and at or above the water (<= 0); to ``extremes`` their least
    and greatest."""
    n = shallow = deep = dry = at_or_above = 0
    z_lo, z_hi = extremes[0], extremes[1]
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            z = np.float64(raw[i, j])
            if not math.isfinite(z) or (has_sea and sea[i, j] == 0):
                continue
            n += 1
            shallow += int(z < lo)
            deep += int(z > hi)
            dry += int(z < dry_below)
            at_or_above += int(z <= 0)
            z_lo = min(z_lo, z)
            z_hi = max(z_hi, z)
    counts[0] += n
    counts[1] += shallow
    counts[2] += deep
    counts[3] += dry
    counts[4] += at_or_above
    extremes[0], extremes[1] = z_lo, z_hi


class InvertedDepthSource(InputDataError):
    """A bathymetry source whose depth sign disagrees with the coastline: its ``positive`` direction is reversed."""


#: A source fails the sign check when more than this share of its sea and land cells have the wrong depth sign.
MAX_SIGN_DISAGREEMENT = 0.5
#: Below this many judged cells (sea or land, with data, supplied by the source) a source is not judged.
MIN_SIGN_CELLS = 10


def source_sign_agreement(depth: Raster, sea_mask: Raster) -> list[dict[str, Any]]:
    """Per source of a mosaic, how its depth sign agrees with the land/sea mask over the cells it supplied.

    Sea cells should be deeper than the water surface (depth > 0), land cells above it (depth < 0); cells at
    exactly 0 are not judged. Returns one dict per source of ``depth.attrs["sources"]`` with ``name``, ``positive``,
    ``positive_origin``, ``cells``, ``sea_cells``, ``sea_wrong`` (at or above the water), ``land_cells``,
    ``land_wrong`` (below the water) and ``disagreement_fraction`` (None when nothing could be judged). An empty
    list when the raster does not say which source supplied each cell (see :func:`source_index_of`).
    """
    blocks = blocks_of(depth.grid)
    bands = source_index_bands(depth, blocks)
    if bands is None:
        return []
    sources = depth.attrs.get("sources", [])
    tally = np.zeros((len(sources), 5), dtype=np.int64)  # cells, sea, sea wrong, land, land wrong
    for b, index in zip(blocks, bands, strict=False):
        raw, sea_raw = rows_of(depth, b), rows_of(sea_mask, b)
        if _compiled_band(depth, raw, sea_raw):  # one compiled pass instead of numpy's dozen per source
            _sign_kernel(raw, sea_raw.view(np.uint8), index, tally)
            continue
        z = _depth_rows(depth, b)
        with np.errstate(invalid="ignore"):
            judged = np.isfinite(z) & (z != 0)
        sea = np.asarray(rows_of(sea_mask, b)).astype(bool)
        for i in range(len(sources)):
            supplied = index == i
            mine = judged & supplied
            on_sea, on_land = mine & sea, mine & ~sea
            tally[i] += (
                int(supplied.sum()),
                int(on_sea.sum()),
                int((z[on_sea] < 0).sum()),
                int(on_land.sum()),
                int((z[on_land] > 0).sum()),
            )
    out = []
    for i, rec in enumerate(sources):
        cells, n_sea, sea_wrong, n_land, land_wrong = (int(v) for v in tally[i])
        judged_n = n_sea + n_land
        out.append(
            {
                "name": rec.get("name", f"source {i}"),
                "positive": rec.get("positive"),
                "positive_origin": rec.get("positive_origin"),
                "cells": cells,
                "sea_cells": n_sea,
                "sea_wrong": sea_wrong,
                "land_cells": n_land,
                "land_wrong": land_wrong,
                "disagreement_fraction": round((sea_wrong + land_wrong) / judged_n, 6) if judged_n else None,
            }
        )
    return out


@njit(cache=True, nogil=True)
def _sign_kernel(
    raw: np.ndarray, sea: np.ndarray, index: np.ndarray, tally: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Adds a band's counts per source (the cell's ``index``; -1 = none) to ``tally``: cells supplied, judged sea
    cells (finite, not 0), those above the water (< 0), judged land cells, those below the water (> 0)."""
    n = tally.shape[0]
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            k = index[i, j]
            if k < 0 or k >= n:
                continue
            tally[k, 0] += 1
            z = np.float64(raw[i, j])
            if not math.isfinite(z) or z == 0:
                continue
            if sea[i, j] != 0:
                tally[k, 1] += 1
                if z < 0:
                    tally[k, 2] += 1
            else:
                tally[k, 3] += 1
                if z > 0:
                    tally[k, 4] += 1


def _inverted_message(s: dict[str, Any]) -> str:
    other = "down" if s["positive"] == "up" else "up"
    return (
        f"bathymetry source '{s['name']}' looks inverted: {100 * s['disagreement_fraction']:.1f} % of the cells it "
        f"supplies disagree with the coastline's sea mask ({s['sea_wrong']} of {s['sea_cells']} sea cells above the "
        f"water, {s['land_wrong']} of {s['land_cells']} land cells below it), read as positive: {s['positive']} "
        f"({s['positive_origin']}). Declare positive: {other} for source {s['name']} in the scenario "
        f"(bathymetry.sources), or positive: {s['positive']} explicitly if the file really holds "
        f"{'elevations' if s['positive'] == 'up' else 'depths'}, and check its vertical_reference_m"
    )


def _inverted(stats: list[dict[str, Any]], max_disagreement: float, min_cells: int) -> list[dict[str, Any]]:
    return [
        s
        for s in stats
        if s["disagreement_fraction"] is not None
        and s["sea_cells"] + s["land_cells"] >= min_cells
        and s["disagreement_fraction"] > max_disagreement
    ]


def check_source_signs(
    depth: Raster,
    sea_mask: Raster,
    *,
    max_disagreement: float = MAX_SIGN_DISAGREEMENT,
    min_cells: int = MIN_SIGN_CELLS,
) -> CheckResult:
    """Every source of the mosaic, on its own, has the depth sign the coastline expects (blocking).

    The depth-range check looks at all sources together, so a small survey patch of positive-down depths read as
    elevations (no ``positive`` declared) hides in the regional grid's statistics; this one judges each source over
    the cells it supplied: more than ``max_disagreement`` of them with the wrong sign (sea above the water, land
    below it) fails and names the source and the fix.
    """
    stats = source_sign_agreement(depth, sea_mask)
    meta: dict[str, Any] = {"sources": stats, "max_disagreement": max_disagreement, "min_cells": min_cells}
    if not stats:
        return _result(
            "source_sign",
            True,
            ERROR,
            "the depth raster does not record which source supplied each cell; sources were not judged one by one",
            meta,
        )
    bad = _inverted(stats, max_disagreement, min_cells)
    if bad:
        return _result("source_sign", False, ERROR, "; ".join(_inverted_message(s) for s in bad), meta)
    judged = [s for s in stats if s["disagreement_fraction"] is not None]
    worst = max((s["disagreement_fraction"] for s in judged), default=0.0)
    return _result(
        "source_sign",
        True,
        ERROR,
        f"{len(stats)} source(s) judged one by one against the sea mask: at most {100 * worst:.1f} % of a "
        f"source's cells have the wrong depth sign (limit {100 * max_disagreement:.0f} %)",
        meta,
    )


def validate_source_signs(
    depth: Raster,
    sea_mask: Raster,
    *,
    max_disagreement: float = MAX_SIGN_DISAGREEMENT,
    min_cells: int = MIN_SIGN_CELLS,
) -> list[dict[str, Any]]:
    """:func:`check_source_signs` that raises :class:`InvertedDepthSource` (naming every inverted source, its
    share of disagreeing cells and the fix) instead of returning a failed result; returns the per-source figures."""
    stats = source_sign_agreement(depth, sea_mask)
    bad = _inverted(stats, max_disagreement, min_cells)
    if bad:
        raise InvertedDepthSource("; ".join(_inverted_message(s) for s in bad))
    return stats


def _outlier_places(
    depth: Raster, sea_mask: Raster | None, blocks: list[Block], lo: float, hi: float, limit: int = 20
) -> list[list[float]]:
    """``[lon, lat, depth]`` of up to ``limit`` sea cells with data outside ``lo..hi``, the most extreme first (the
    ``limit`` most extreme of each band kept, then of all)."""
    found_r, found_c, found_v = [], [], []
    for b in blocks:
        raw = rows_of(depth, b)
        sea_raw = rows_of(sea_mask, b) if sea_mask is not None else None
        if _compiled_band(depth, raw, sea_raw):  # the same cells in the same (row-major) order as np.nonzero's
            rows, cols, values = _outliers_kernel(raw, _kernel_mask(sea_raw), sea_raw is not None, lo, hi)
        else:
            rows, cols, values = _outliers_numpy(depth, sea_mask, b, lo, hi)
        keep = np.argsort(-np.abs(values), kind="stable")[:limit]
        found_r.append(rows[keep] + b.rows.start)
        found_c.append(cols[keep])
        found_v.append(values[keep])
    rows, cols, values = np.concatenate(found_r), np.concatenate(found_c), np.concatenate(found_v)
    order = np.argsort(-np.abs(values), kind="stable")[:limit]
    x, y = depth.grid.xy(rows[order], cols[order])
    lon, lat = depth.grid.xy_to_lonlat(x, y)
    return [
        [round(float(a), 4), round(float(b), 4), round(float(v), 1)]
        for a, b, v in zip(lon, lat, values[order], strict=True)
    ]


def _outliers_numpy(
    depth: Raster, sea_mask: Raster | None, b: Block, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns (in the band) and float64 depths of the band's sea cells with data outside ``lo..hi``."""
    z = _depth_rows(depth, b)
    sea = np.asarray(rows_of(sea_mask, b)).astype(bool) if sea_mask is not None else True
    with np.errstate(invalid="ignore"):
        rows, cols = np.nonzero(np.isfinite(z) & sea & ((z < lo) | (z > hi)))
    return rows, cols, z[rows, cols]


@njit(cache=True, nogil=True)
def _outliers_kernel(
    raw: np.ndarray, sea: np.ndarray, has_sea: bool, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """:func:`_outliers_numpy` of a band as stored (NaN the only nodata; the mask's non-zero cells, or every cell
    without one), in row-major order."""
    n = 0
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            z = np.float64(raw[i, j])
            if math.isfinite(z) and (not has_sea or sea[i, j] != 0) and (z < lo or z > hi):
                n += 1
    rows = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    values = np.empty(n, dtype=np.float64)
    k = 0
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            z = np.float64(raw[i, j])
            if math.isfinite(z) and (not has_sea or sea[i, j] != 0) and (z < lo or z > hi):
                rows[k], cols[k], values[k] = i, j, z
                k += 1
    return rows, cols, values


def _hint(pct: np.ndarray, depth: Raster) -> str:
    median = float(pct[3])
    if median < 0:
        return "Most sea is above water: the source's `positive` (up/down) is probably reversed."
    if float(pct[-1]) > 3000:
        return "Depths exceed the Caspian's ~1025 m: check the units (feet?) and vertical_reference_m."
    level = depth.attrs.get("water_level_m")
    return (
        f"Check vertical_reference_m of each source and water_level_m ({level} m): the Caspian surface is about "
        "-28 m relative to ocean level."
    )


def _compiled_band(depth: Raster, raw: np.ndarray, sea: np.ndarray | None) -> bool:
    """Whether a band's depths ``raw`` and sea mask ``sea`` go to the compiled passes: a float band whose only
    nodata is NaN, and a boolean or byte mask (or none); other bands take numpy's path."""
    return (
        nodata_is_nan(depth.nodata)
        and raw.dtype in (np.float32, np.float64)
        and (sea is None or sea.dtype in (np.bool_, np.uint8))
    )


_NO_MASK = np.zeros((1, 1), dtype=np.uint8)
"""What the compiled passes take for a mask when there is none (they test their ``has_sea`` flag first)."""


def _kernel_mask(sea: np.ndarray | None) -> np.ndarray:
    """A band's sea mask as the compiled passes read it: its bytes (boolean or uint8, :func:`_compiled_band`), or
    :data:`_NO_MASK`."""
    return sea.view(np.uint8) if sea is not None else _NO_MASK


def _sea_depths(depth: Raster, sea_mask: Raster | None, b: Block, *, without_mask: str) -> np.ndarray:
    """The band's depths with data over the sea (float64, in row order): the mask's non-zero cells, or without a
    mask every cell (``without_mask="all"``) or those deeper than 0 (``"deeper"``). One compiled pass over the band
    as stored when its only nodata is NaN and the mask is boolean or bytes, else numpy's."""
    raw = rows_of(depth, b)
    sea = rows_of(sea_mask, b) if sea_mask is not None else None
    if _compiled_band(depth, raw, sea):
        mode = 0 if sea is not None else (2 if without_mask == "all" else 1)
        return _sea_depths_kernel(raw, _kernel_mask(sea), mode)
    z = valid_values(raw, depth.nodata)
    if sea is None and without_mask == "all":
        return z[np.isfinite(z)]
    return z[np.isfinite(z) & _sea_rows(sea_mask, z, b)]


@njit(cache=True, nogil=True)
def _sea_depths_kernel(raw: np.ndarray, sea: np.ndarray, mode: int) -> np.ndarray:  # pragma: no cover - compiled
    """Finite values of ``raw`` as float64 where ``sea`` is non-zero (mode 0), where deeper than 0 (1) or all (2)."""
    out = np.empty(raw.size, dtype=np.float64)
    n = 0
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            z = np.float64(raw[i, j])
            if math.isfinite(z) and (sea[i, j] != 0 if mode == 0 else (z > 0 if mode == 1 else True)):
                out[n] = z
                n += 1
    return out[:n].copy()


def _summary_band(
    depth: Raster, sea_mask: Raster | None, aoi: np.ndarray, b: Block
) -> tuple[tuple[int, int, int, int, int], tuple[float, float, float, float]]:
    """A band's figures for :func:`summary_metadata`: counts of sea cells, area-of-interest cells, those without
    data, cells with data and sea cells with data; least and greatest depth with data and over the sea (inf and -inf
    without any). One compiled pass over the band as stored when its only nodata is NaN and the mask is boolean or
    bytes (0.3 CPU s of numpy's passes at 100 m), else numpy's."""
    raw = rows_of(depth, b)
    sea = rows_of(sea_mask, b) if sea_mask is not None else None
    if _compiled_band(depth, raw, sea):
        counts = np.zeros(5, dtype=np.int64)
        extremes = np.array([math.inf, -math.inf, math.inf, -math.inf])
        _summary_kernel(raw, _kernel_mask(sea), sea is not None, aoi, counts, extremes)
        return (
            (int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3]), int(counts[4])),
            (float(extremes[0]), float(extremes[1]), float(extremes[2]), float(extremes[3])),
        )
    z = valid_values(raw, depth.nodata)
    ok = np.isfinite(z)
    in_sea = _sea_rows(sea_mask, z, b)
    zs = z[ok & in_sea]
    lo_hi = (float(z[ok].min()), float(z[ok].max())) if ok.any() else (math.inf, -math.inf)
    sea_lo_hi = (float(zs.min()), float(zs.max())) if zs.size else (math.inf, -math.inf)
    counts5 = (int(in_sea.sum()), int(aoi.sum()), int((~ok & aoi).sum()), int(ok.sum()), int(zs.size))
    return counts5, (*lo_hi, *sea_lo_hi)


@njit(cache=True, nogil=True)
def _summary_kernel(
    raw: np.ndarray, sea: np.ndarray, has_sea: bool, aoi: np.ndarray, counts: np.ndarray, extremes: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Adds a band's counts (sea, aoi, aoi without data, with data, sea with data) and extremes (least and greatest
    depth with data, then over the sea) to ``counts`` and ``extremes``; sea is the mask's non-zero cells, or cells
    with data deeper than 0 without one."""
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            z = np.float64(raw[i, j])
            ok = math.isfinite(z)
            wet = (sea[i, j] != 0) if has_sea else (ok and z > 0)
            if wet:
                counts[0] += 1
            if aoi[i, j]:
                counts[1] += 1
                if not ok:
                    counts[2] += 1
            if ok:
                counts[3] += 1
                extremes[0] = min(extremes[0], z)
                extremes[1] = max(extremes[1], z)
                if wet:
                    counts[4] += 1
                    extremes[2] = min(extremes[2], z)
                    extremes[3] = max(extremes[3], z)


def summary_metadata(
    depth: Raster, sea_mask: Raster | None = None, aoi_bounds_lonlat: tuple[float, float, float, float] | None = None
) -> dict[str, Any]:
    """JSON-friendly figures of the depth grid for Dagster metadata: grid, resolution, cell counts, depth over sea
    (min/max/median), sea share, nodata share, sources and their checksums."""
    grid = depth.grid
    blocks = blocks_of(grid)

    def sea_values() -> Any:
        for b in blocks:
            yield _sea_depths(depth, sea_mask, b, without_mask="deeper")

    tally = [0, 0, 0, 0, 0]
    all_lo, all_hi = z_min, z_max = math.inf, -math.inf
    for b in blocks:
        counts, extremes = _summary_band(depth, sea_mask, aoi_mask_rows(grid, aoi_bounds_lonlat, b.rows), b)
        tally = [t + c for t, c in zip(tally, counts, strict=True)]
        all_lo, all_hi = min(all_lo, extremes[0]), max(all_hi, extremes[1])
        z_min, z_max = min(z_min, extremes[2]), max(z_max, extremes[3])
    n_sea, n_aoi, n_gap_aoi, n_valid, n_z = tally
    if n_z:
        mid = order_statistics(sea_values, [(n_z - 1) // 2, n_z // 2], bounds=(z_min, z_max))
        z_median = (mid[0] + mid[1]) / 2.0

    def r(v: float) -> float | None:
        return round(float(v), 2) if math.isfinite(v) else None

    out: dict[str, Any] = {
        "crs": grid.crs.to_string(),
        "resolution_m": list(grid.res),
        "shape": list(grid.shape),
        "cell_count": grid.cell_count,
        "bounds": [round(b, 3) for b in grid.bounds],
        "units": depth.attrs.get("units", "m"),
        "positive": depth.attrs.get("positive", "down"),
        "water_level_m": depth.attrs.get("water_level_m"),
        "datum": depth.attrs.get("datum"),
        "sea_cells": n_sea,
        "sea_fraction": round(n_sea / grid.cell_count, 6),
        "nodata_fraction": round(n_gap_aoi / max(n_aoi, 1), 6),
        "depth_sea_min_m": r(z_min) if n_z else None,
        "depth_sea_max_m": r(z_max) if n_z else None,
        "depth_sea_median_m": r(z_median) if n_z else None,
        "depth_all_min_m": r(all_lo) if n_valid else None,
        "depth_all_max_m": r(all_hi) if n_valid else None,
        "source_checksums": dict(depth.attrs.get("source_checksums", {})),
        "sources": [{k: s.get(k) for k in _SOURCE_SUMMARY_KEYS} for s in depth.attrs.get("sources", [])],
        "warnings": list(depth.attrs.get("warnings", [])),
    }
    if sea_mask is not None:
        out["depth_sign_disagreement_fraction"] = sea_mask.attrs.get("depth_sign_disagreement_fraction")
    return out
