"""The cost surface: cost per metre of cable route in every cell, and the reasons cells are impassable.

Every term is kept on its own (:attr:`CostSurface.terms`, :attr:`CostSurface.barriers`) so an analyst can publish and
inspect why the route goes where it goes. With ``d`` the water depth below the Caspian surface in metres (positive
down), ``s`` the seabed slope in degrees and ``w`` the :class:`~geodata.scenario.CostWeights`:

- ``length  = w.base`` everywhere: the cost of one metre of cable.
- ``shallow = w.shallow_weight * max(0, 1 - d / w.shallow_limit_m)``: anchors, trawling and (in the north) ice scour
  threaten a cable in shallow water; the penalty is largest at the shore and fades to zero at ``shallow_limit_m``.
- ``deep    = w.deep_weight * clip((d - w.deep_start_m) / (w.deep_limit_m - w.deep_start_m), 0, 1)``: deep water makes
  repair slower and costlier; the penalty ramps up between ``deep_start_m`` and ``deep_limit_m``.
- ``slope   = w.slope_weight * s``: steep seabed means free spans and unstable ground.
- ``hazards = w.hazard_weight * sum_k soft_k`` and ``shipping = w.shipping_weight * soft_shipping_lane``, the soft
  hazard proximity costs (each hazard kind decays with distance; see :mod:`geodata.hazards`).

The total cost per metre is the sum of the terms. Cells are impassable (``inf``) for any of the barrier reasons:
``land`` (not sea in the coastline mask), ``too_steep`` (``s > max_slope_deg``), ``too_shallow`` / ``too_deep``
(outside ``[min_depth_m, max_depth_m]``; a sea cell of the coastline mask that the bathymetry puts above the water
surface counts as 0 m deep), ``hazard_exclusion`` (inside a hard hazard buffer), ``foreign_sector``
(a seabed sector other than the allowed ones), ``nodata`` (no bathymetry).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange

from geodata.errors import InputDataError
from geodata.grid import (
    INTERMEDIATE_COMPRESS,
    GeoGrid,
    Raster,
    RasterFile,
    RasterWriter,
    nodata_is_nan,
    raster_read_rows,
    row_blocks,
)
from geodata.hazards.raster import HazardPlan, hazard_rows
from geodata.scenario import CostWeights, Limits

TERM_OF_WEIGHT: dict[str, str] = {
    "base": "length",
    "shallow_weight": "shallow",
    "deep_weight": "deep",
    "slope_weight": "slope",
    "hazard_weight": "hazards",
    "shipping_weight": "shipping",
}
"""The :attr:`CostSurface.terms` entry each multiplicative :class:`~geodata.scenario.CostWeights` field scales: a
term is proportional to its weight, so scaling the weight by ``f`` scales the term by ``f`` (a weight sweep)."""


DEFAULT_BAND_BUDGET = 256 * 1024 * 1024
"""Working memory of one band when the caller gives no budget."""

LayerValue = np.ndarray | Raster | RasterFile
"""A term or barrier: an in-memory array, or a tiled GeoTIFF read band by band (a :class:`~geodata.grid.LazyRaster`
as built and as the store hands it on, or a :class:`~geodata.grid.RasterFile`)."""


@dataclass
class CostSurface:
    """Total cost per metre (``inf`` where impassable, float32), its terms and its barriers, all on one grid.

    ``total`` is in memory (the router needs all of it); each term (float32) and barrier (bool, stored as uint8) is
    an array or, when the surface was built into a folder, a tiled GeoTIFF on disk read band by band, so the memory
    of a surface does not grow with the number of terms it keeps apart. :meth:`term` and :meth:`barrier` give an
    array either way."""

    grid: GeoGrid
    total: np.ndarray
    terms: dict[str, LayerValue] = field(default_factory=dict)
    barriers: dict[str, LayerValue] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    allowed_sectors: tuple[str, ...] = ()
    """ISO3 codes of the seabed sectors the route may use (every other sector is a barrier)."""
    counted: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)
    """Barrier cell counts and term sums over passable cells, gathered while the bands were built (not stored: a
    surface read back counts again in :meth:`summary`)."""

    @property
    def impassable(self) -> np.ndarray:
        return ~np.isfinite(self.total)

    def term(self, name: str, rows: slice | None = None) -> np.ndarray:
        """One term as a float32 array (all rows, or ``rows``)."""
        return _layer_rows(self.terms[name], rows, self.grid).astype(np.float32, copy=False)

    def barrier(self, name: str, rows: slice | None = None) -> np.ndarray:
        """One barrier as a bool array (all rows, or ``rows``)."""
        return _layer_rows(self.barriers[name], rows, self.grid).astype(bool, copy=False)

    def term_arrays(self) -> dict[str, np.ndarray]:
        """Every term in memory (a weight sweep rescales them)."""
        return {name: self.term(name) for name in self.terms}

    def raster(self, name: str = "total") -> Raster:
        """One layer as a :class:`Raster`: ``total``, a term name or ``barrier:<reason>``."""
        if name == "total":
            data = np.where(np.isfinite(self.total), self.total, np.nan).astype("float32")
            sectors = {"allowed_sectors": list(self.allowed_sectors)} if self.allowed_sectors else {}
            return Raster(data, self.grid, float("nan"), {"units": "cost per metre", **self.attrs, **sectors})
        if name.startswith("barrier:"):
            blocked = self.barrier(name.split(":", 1)[1]).astype("uint8")
            return Raster(blocked, self.grid, None, {"units": "1=blocked"})
        return Raster(self.term(name), self.grid, None, {"units": "cost per metre"})

    def summary(self, budget_bytes: int = DEFAULT_BAND_BUDGET) -> dict[str, Any]:
        """Cell counts per barrier and the mean of each term over passable cells (for Dagster metadata), read band
        by band."""
        passable = np.isfinite(self.total)
        n_pass = int(passable.sum())
        out: dict[str, Any] = {
            "cells": int(self.total.size),
            "passable_cells": n_pass,
            "passable_fraction": round(float(passable.mean()), 4),
        }
        if self.counted is not None:
            counts, sums = self.counted["barriers"], self.counted["terms"]
        else:
            counts, sums = dict.fromkeys(self.barriers, 0), dict.fromkeys(self.terms, 0.0)
            for block in row_blocks(self.grid, bytes_per_cell=16, budget_bytes=budget_bytes):
                _count(counts, sums, passable[block.rows], self.term, self.barrier, block.rows)
        for reason, n in counts.items():
            out[f"barrier_{reason}_cells"] = n
        for name, total in sums.items():
            out[f"term_{name}_mean"] = round(total / n_pass, 4) if n_pass else None
        if n_pass:
            out["total_min"] = round(float(self.total[passable].min()), 4)
            out["total_max"] = round(float(self.total[passable].max()), 4)
        return out


COST_BAND_BYTES_PER_CELL = 230
"""Working bytes per cell of a band of :func:`build_cost_surface`, at its worst: the raw inputs (9), the weighted
hazard and shipping sums (16), one kind's float64 sum and hard cells (9) on each of the two kind threads (18), a
line's window (touched cells, column distances, kept excesses and their exponentials: up to about 50 where the halo
is wide), the kinds of the band and of the next one, computed ahead, as float32 and bool (5 per kind and band: 60
for the six kinds of the default hazards in two bands), the band's float32 terms and barriers (31) and the previous
band's still being compressed (31). Measured at 100 m the stage's peak is 0.7 GB below the float64 formulas' it
replaced (1.8 GB); computing the next band's kinds ahead added 0.05-0.2 GB to the step's peak (1.07-1.15 -> 1.16-1.25
GB), and the bands keep their height (1024 rows at 100 m, the same for 200 and 230 bytes)."""


def _count(counts: dict[str, int], sums: dict[str, float], ok: np.ndarray, term: Any, barrier: Any, rows: Any) -> None:
    """Add one band's barrier cells and its terms' sums over passable cells (``term(name, rows)`` as float32)."""
    for reason in counts:
        counts[reason] += int(barrier(reason, rows).sum())
    for name in sums:
        sums[name] += float(term(name, rows)[ok].sum(dtype=np.float64))


def _layer_rows(value: LayerValue, rows: slice | None, grid: GeoGrid) -> np.ndarray:
    rows = slice(0, grid.shape[0]) if rows is None else rows
    if isinstance(value, (Raster, RasterFile)):
        return raster_read_rows(value, rows)
    return np.asarray(value)[rows]


def _check_grid(name: str, raster: Raster | RasterFile, grid: GeoGrid) -> None:
    if raster.grid.shape != grid.shape or raster.grid.transform != grid.transform or raster.grid.crs != grid.crs:
        raise InputDataError(f"{name} is on grid {raster.grid}, expected {grid}; reproject it onto the analysis grid")


def _check_shape(name: str, arr: Any, grid: GeoGrid) -> None:
    if np.shape(arr) != grid.shape:
        raise InputDataError(f"{name} has shape {np.shape(arr)}, expected {grid.shape} (the analysis grid)")


def _valid_rows(raster: Raster | RasterFile, rows: slice) -> np.ndarray:
    """Rows of a raster as float64 with NaN where it holds no data (as :meth:`Raster.valid`)."""
    data = raster_read_rows(raster, rows)
    valid = np.ones(data.shape, dtype=bool)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data)
    nodata = raster.nodata
    if not nodata_is_nan(nodata):
        valid &= data != nodata
    return np.where(valid, data, np.nan).astype("float64")


def build_cost_surface(
    depth: Raster | RasterFile,
    slope: Raster | RasterFile,
    sea_mask: Raster | RasterFile,
    weights: CostWeights,
    limits: Limits,
    *,
    hazard_soft: Mapping[str, np.ndarray] | None = None,
    hazard_hard: np.ndarray | None = None,
    hazards: HazardPlan | None = None,
    allowed_sector: np.ndarray | None = None,
    allowed_sectors: tuple[str, ...] = (),
    folder: Path | None = None,
    budget_bytes: int | None = None,
) -> CostSurface:
    """Combine the terms documented in the module docstring into a :class:`CostSurface`, band by band.

    Parameters
    ----------
    depth, slope, sea_mask
        Water depth below the Caspian surface (m, positive down), seabed slope (degrees) and sea mask (1 = sea), all
        on the analysis grid, in memory or on disk (read band by band).
    weights, limits
        The scenario's cost weights and hard limits.
    hazard_soft
        Soft hazard cost per metre by hazard kind (unweighted, whole-grid arrays); ``shipping_lane`` is weighted by
        ``weights.shipping_weight``, every other kind by ``weights.hazard_weight``.
    hazard_hard
        Cells inside a hard hazard exclusion buffer.
    hazards
        Instead of ``hazard_soft`` and ``hazard_hard``: the hazards placed on the grid
        (:func:`geodata.hazards.plan_hazards`), computed band by band here (never a whole-grid array per kind);
        the same values as ``rasterize_hazards`` would give.
    allowed_sector
        Cells in a seabed sector the route may use; others are barriers.
    folder
        Write each term and barrier there as a tiled GeoTIFF (``<name>.tif``, ``barrier_<reason>.tif``), band by
        band, and keep only the total in memory; None = every layer in memory.
    budget_bytes
        Working memory of a band (default :data:`DEFAULT_BAND_BUDGET`); the bands' results are those of one band.
    """
    grid = depth.grid
    for name, r in (("depth", depth), ("slope", slope), ("sea_mask", sea_mask)):
        _check_grid(name, r, grid)
    if weights.deep_limit_m <= weights.deep_start_m:
        raise InputDataError(
            f"cost.deep_limit_m ({weights.deep_limit_m}) must exceed cost.deep_start_m ({weights.deep_start_m})"
        )
    if hazards is not None and (hazard_soft is not None or hazard_hard is not None):
        raise InputDataError("pass the hazards either as a plan (hazards=) or as arrays (hazard_soft/hazard_hard)")
    arrays: dict[str, np.ndarray | None] = {f"hazard soft cost '{kind}'": v for kind, v in (hazard_soft or {}).items()}
    arrays.update({"hazard exclusion mask": hazard_hard, "allowed sector mask": allowed_sector})
    for name, arr in arrays.items():
        if arr is not None:
            _check_shape(name, arr, grid)
    if hazards is not None and hazards.grid != grid:
        raise InputDataError(f"the hazards were placed on {hazards.grid}, expected {grid}; plan them on the grid")
    with_hard = hazard_hard is not None or hazards is not None
    names = [*TERMS, *_barrier_names(with_hard, allowed_sector is not None)]
    layers = _Layers(grid, names, folder)
    total = np.empty(grid.shape, dtype=np.float32)
    budget = DEFAULT_BAND_BUDGET if budget_bytes is None else budget_bytes
    counts: dict[str, int] = {n.split(":", 1)[1]: 0 for n in names if n.startswith("barrier:")}
    sums: dict[str, float] = dict.fromkeys(TERMS, 0.0)
    # the hazards' halo rows are read by each object's distance window only, not by the band's arrays
    blocks = [b.rows for b in row_blocks(grid, bytes_per_cell=COST_BAND_BYTES_PER_CELL, budget_bytes=budget)]
    with layers, _KindBands(hazards, blocks) as kind_bands:
        for index, rows in enumerate(blocks):
            shape = (rows.stop - rows.start, grid.shape[1])
            # the inputs first: read while the worker threads compute the band's hazards
            inputs = [_kernel_input(r, rows) for r in (depth, slope, sea_mask)]
            band_kinds = kind_bands.band(index)
            haz_sum, ship_sum, band_hard = _band_hazards(shape, weights, band_kinds, hazard_soft, hazard_hard, rows)
            allowed = None if allowed_sector is None else np.asarray(allowed_sector)[rows].astype(bool, copy=False)
            n_barriers = len(names) - len(TERMS)
            terms_out = np.empty((len(TERMS), *shape), dtype=np.float32)
            barriers_out = np.empty((n_barriers, *shape), dtype=bool)
            row_counts = np.zeros((shape[0], n_barriers), dtype=np.int64)
            row_sums = np.zeros((shape[0], len(TERMS)))
            _band_kernel(
                inputs[0][0],
                inputs[1][0],
                inputs[2][0],
                np.array([inputs[0][1], inputs[1][1], inputs[2][1]]),
                haz_sum,
                ship_sum,
                _EMPTY if band_hard is None else band_hard,
                _EMPTY if allowed is None else allowed,
                _kernel_params(weights, limits),
                terms_out,
                barriers_out,
                total[rows],
                row_counts,
                row_sums,
            )
            del inputs, haz_sum, ship_sum, band_hard, allowed
            reasons = list(counts)
            for j, reason in enumerate(reasons):
                counts[reason] += int(row_counts[:, j].sum())
            for j, name in enumerate(TERMS):
                sums[name] += float(row_sums[:, j].sum())
            band = {name: terms_out[j] for j, name in enumerate(TERMS)}
            band.update({f"barrier:{reason}": barriers_out[j] for j, reason in enumerate(reasons)})
            layers.write(rows, band)
            del band, terms_out, barriers_out
    attrs = {"weights": weights.model_dump(), "limits": limits.model_dump()}
    term_values = {n: layers.value(n) for n in TERMS}
    barrier_values = {n.split(":", 1)[1]: layers.value(n) for n in names if n.startswith("barrier:")}
    surface = CostSurface(grid, total, term_values, barrier_values, attrs, allowed_sectors=tuple(allowed_sectors))
    surface.counted = {"barriers": counts, "terms": sums}
    return surface


def _band_hazards(
    shape: tuple[int, int],
    weights: CostWeights,
    kinds: Iterator[tuple[str, np.ndarray, np.ndarray]] | None,
    soft_arrays: Mapping[str, np.ndarray] | None,
    hard_array: np.ndarray | None,
    rows: slice,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One band's weighted hazard and shipping sums (float64) and hard cells (None without hazard exclusions),
    from the plan's kinds of the band (:meth:`_KindBands.band`: one float64 band at a time, the same per-kind sums)
    or the whole-grid arrays."""
    haz_sum, ship_sum = np.zeros(shape), np.zeros(shape)
    if kinds is not None:
        band_hard = np.zeros(shape, dtype=bool)
        for kind, soft, kind_hard in kinds:  # in the plan's order of kinds: the same sums
            _add_soft(ship_sum if kind == "shipping_lane" else haz_sum, soft, weights, kind, True)
            np.logical_or(band_hard, kind_hard, out=band_hard)
            del soft, kind_hard
        return haz_sum, ship_sum, band_hard
    for kind, value in (soft_arrays or {}).items():
        _add_soft(ship_sum if kind == "shipping_lane" else haz_sum, np.asarray(value)[rows], weights, kind)
    hard = None if hard_array is None else np.asarray(hard_array)[rows].astype(bool, copy=False)
    return haz_sum, ship_sum, hard


KIND_THREADS = 2
"""Hazard kinds computed at once (the machine's two cores): the exact point pass of the earthquakes and the lines'
distance windows each keep one core only part of the time (serial rasterising, scatter, small windows)."""


def _kind_soft(plan: HazardPlan, rows: slice, kind: str, serial: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One kind's soft cost (rounded to float32, as :func:`_add_soft` adds it: the same bits) and hard cells in the
    band ``rows``; ``serial``: this thread's numba kernels on one core (the kinds run side by side)."""
    if serial:
        import numba

        numba.set_num_threads(1)
    soft, hard = hazard_rows(plan, rows, kinds=(kind,))
    return soft[kind].astype(np.float32), hard[kind]


class _KindBands:
    """Each band's hazard kinds (:meth:`band`), computed by :data:`KIND_THREADS` worker threads one band ahead: a
    band's kinds are submitted when the band before it is taken, so the threads go on to the next band's kinds while
    the last kinds of a band finish and while the band's terms are computed and written (no barrier between bands;
    at most two bands of float32 and bool per kind are held). Within a band the kinds that visit the most cells go
    first (:meth:`HazardPlan.kind_work`), each thread's kernels on one core (numba's thread count is per thread; two
    parallel kernels side by side only spin against each other). Used when numba's threading layer runs kernels
    launched from several threads (``omp``, ``tbb``; not ``workqueue``); else each kind is computed when its band
    is taken, each kernel on every core. Either way a band's kinds come in the plan's order: the same sums."""

    def __init__(self, plan: HazardPlan | None, blocks: list[slice]) -> None:
        self.plan, self.blocks = plan, blocks
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[int, dict[str, Future[tuple[np.ndarray, np.ndarray]]]] = {}

    def __enter__(self) -> _KindBands:
        plan = self.plan
        if plan is not None and KIND_THREADS >= 2 and len(plan.kinds) >= 2 and concurrent_kernels():
            self._pool = ThreadPoolExecutor(max_workers=KIND_THREADS, thread_name_prefix="hazard-kinds")
            self._submit(0)
        return self

    def _submit(self, index: int) -> None:
        if self._pool is None or self.plan is None or index >= len(self.blocks) or index in self._futures:
            return
        plan, rows = self.plan, self.blocks[index]
        work = plan.kind_work(rows)  # the largest first: the two threads then finish about together
        order = sorted(plan.kinds, key=lambda k: -work[k])
        self._futures[index] = {k: self._pool.submit(_kind_soft, plan, rows, k, True) for k in order}

    def band(self, index: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]] | None:
        """The band's kinds in the plan's order (None without a plan); submits the next band's kinds."""
        if self.plan is None:
            return None
        self._submit(index)
        self._submit(index + 1)
        return self._kinds(self.plan, index)

    def _kinds(self, plan: HazardPlan, index: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        rows = self.blocks[index]
        if self._pool is None:
            for kind in plan.kinds:
                yield (kind, *_kind_soft(plan, rows, kind))
            return
        futures = self._futures.pop(index)
        for kind in plan.kinds:
            yield (kind, *futures.pop(kind).result())

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()


@njit(cache=True, parallel=True)
def _start_threads(out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in prange(out.size):
        out[i] = i


def concurrent_kernels() -> bool:
    """Whether numba's threading layer runs parallel kernels launched from several threads at once (the
    ``workqueue`` layer aborts the process on a concurrent launch)."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # not started yet: start it
        _start_threads(np.zeros(2, dtype=np.int64))
        layer = numba.threading_layer()
    return layer in ("omp", "tbb")


_EMPTY = np.zeros((0, 0), dtype=bool)
"""An absent mask, for the kernel."""


def _kernel_params(weights: CostWeights, limits: Limits) -> np.ndarray:
    """The weights and limits :func:`_band_kernel` reads, in its order (``deep_limit_m - deep_start_m`` computed as
    :func:`_band_reference` computes it)."""
    w = weights
    span = w.deep_limit_m - w.deep_start_m
    return np.array(
        [
            w.base,
            w.shallow_weight,
            w.shallow_limit_m,
            w.deep_weight,
            w.deep_start_m,
            span,
            w.slope_weight,
            limits.max_slope_deg,
            limits.min_depth_m,
            limits.max_depth_m,
        ],
        dtype=np.float64,
    )


def _kernel_input(raster: Raster | RasterFile, rows: slice) -> tuple[np.ndarray, float]:
    """Rows of an input as the kernel reads them: the raw values and the nodata value they are compared with as
    :func:`_valid_rows` compares them (NaN = none besides NaN); other types go through :func:`_valid_rows`."""
    data = raster_read_rows(raster, rows)
    nodata = raster.nodata
    if data.dtype.kind not in "fiub" or data.dtype.itemsize > 8 or data.dtype == np.float16:
        return _valid_rows(raster, rows), math.nan
    if data.dtype == bool:
        data = data.view(np.uint8)
    if nodata_is_nan(nodata):
        return data, math.nan
    try:
        cast = data.dtype.type(nodata)  # numpy compares a Python scalar in the array's type (NEP 50)
    except (OverflowError, ValueError):
        return _valid_rows(raster, rows), math.nan
    if data.dtype.kind != "f" and cast != nodata:
        return _valid_rows(raster, rows), math.nan
    if data.dtype.kind == "f" and not math.isfinite(float(cast)):
        return _valid_rows(raster, rows), math.nan
    return data, float(cast)


def _add_soft(acc: np.ndarray, value: np.ndarray, weights: CostWeights, kind: str, as_float32: bool = False) -> None:
    """``acc += weight * value`` (the hazard or shipping weight) as numpy computes it for a float32 (``as_float32``:
    the value rounded to float32 first, as the plan's per-kind sums are) or float64 value: the product in the
    value's type, the sum in float64."""
    weight = weights.shipping_weight if kind == "shipping_lane" else weights.hazard_weight
    if as_float32 or value.dtype == np.float32:
        _add_weighted(acc, value, np.float32(weight), True)
    elif value.dtype == np.float64:
        _add_weighted(acc, value, np.float64(weight), False)
    else:
        acc += weight * value


TERMS = ("length", "shallow", "deep", "slope", "hazards", "shipping")
"""The terms of :class:`CostSurface`, in the order they are summed."""


def _barrier_names(hard: bool, sectors: bool) -> list[str]:
    names = ["nodata", "land", "too_steep", "too_shallow", "too_deep"]
    names += ["hazard_exclusion"] if hard else []
    names += ["foreign_sector"] if sectors else []
    return [f"barrier:{n}" for n in names]


def _band_reference(
    inputs: tuple[np.ndarray, np.ndarray, np.ndarray],
    weights: CostWeights,
    limits: Limits,
    soft: Mapping[str, np.ndarray],
    hard: np.ndarray | None,
    allowed: np.ndarray | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The terms (float64) and barriers (bool) of one band of rows (the formulas of the module docstring), in
    numpy: the reference :func:`_band_kernel` computes bit for bit (tests/cost/test_cost_kernel.py)."""
    d, s, sea = inputs
    dz = np.nan_to_num(d, nan=0.0)
    # The coastline decides sea or land: a sea cell the bathymetry puts above the water surface (a coarse grid over
    # a shallow shelf, the northern Caspian on the mirror) is water of no depth, not land.
    is_sea = np.nan_to_num(sea, nan=0.0) > 0
    dz = np.where(is_sea & (dz < 0.0), 0.0, dz)
    s0 = np.nan_to_num(s, nan=0.0)
    terms: dict[str, np.ndarray] = {
        "length": np.full(d.shape, weights.base, dtype="float64"),
        "shallow": weights.shallow_weight * np.clip(1.0 - dz / weights.shallow_limit_m, 0.0, 1.0),
        "deep": weights.deep_weight
        * np.clip((dz - weights.deep_start_m) / (weights.deep_limit_m - weights.deep_start_m), 0.0, 1.0),
        "slope": weights.slope_weight * s0,
    }
    hazards = np.zeros(d.shape)
    shipping = np.zeros(d.shape)
    for kind, value in soft.items():
        if kind == "shipping_lane":
            shipping += weights.shipping_weight * value
        else:
            hazards += weights.hazard_weight * value
    terms["hazards"] = hazards
    terms["shipping"] = shipping
    barriers: dict[str, np.ndarray] = {
        "nodata": ~np.isfinite(d) | ~np.isfinite(s),
        "land": ~is_sea,
        "too_steep": s0 > limits.max_slope_deg,
        "too_shallow": dz < limits.min_depth_m,
        "too_deep": dz > limits.max_depth_m,
    }
    if hard is not None:
        barriers["hazard_exclusion"] = hard.astype(bool)
    if allowed is not None:
        barriers["foreign_sector"] = ~allowed.astype(bool)
    return terms, barriers


@njit(cache=True, nogil=True, parallel=True)
def _band_kernel(
    d: np.ndarray,
    s: np.ndarray,
    sea: np.ndarray,
    nodata: np.ndarray,
    hazards: np.ndarray,
    shipping: np.ndarray,
    hard: np.ndarray,
    allowed: np.ndarray,
    p: np.ndarray,
    terms: np.ndarray,
    barriers: np.ndarray,
    total: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """The formulas of :func:`_band_reference` fused into one pass over the band, row-parallel, with the same
    float64 operations in the same order (so the same bits): ``d``, ``s``, ``sea`` the raw input rows (their
    nodata values in ``nodata``: depth, slope, sea; NaN = none besides NaN), ``hazards``/``shipping`` the weighted
    soft sums (float64), ``hard``/``allowed`` empty when absent; ``p`` the weights and limits (see
    :func:`_kernel_params`). Writes the float32 terms (TERMS order), the barriers, the float32 total and per row
    the barrier counts and the terms' float64 sums over passable cells."""
    h, w = total.shape
    base, sh_w, sh_lim, dp_w, dp_start, dp_span, sl_w = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    max_slope, min_depth, max_depth = p[7], p[8], p[9]
    has_hard, has_allowed = hard.shape[0] > 0, allowed.shape[0] > 0
    nb = barriers.shape[0]
    for r in prange(h):
        for c in range(w):
            dv = np.float64(d[r, c])
            sv = np.float64(s[r, c])
            mv = np.float64(sea[r, c])
            if not np.isfinite(dv) or dv == nodata[0]:
                dv = np.float64(np.nan)
            if not np.isfinite(sv) or sv == nodata[1]:
                sv = np.float64(np.nan)
            if not np.isfinite(mv) or mv == nodata[2]:
                mv = np.float64(np.nan)
            dz = 0.0 if np.isnan(dv) else dv
            is_sea = (0.0 if np.isnan(mv) else mv) > 0
            if is_sea and dz < 0.0:
                dz = 0.0
            s0 = 0.0 if np.isnan(sv) else sv
            t_shallow = sh_w * min(max(1.0 - dz / sh_lim, 0.0), 1.0)
            t_deep = dp_w * min(max((dz - dp_start) / dp_span, 0.0), 1.0)
            t_slope = sl_w * s0
            t_haz = hazards[r, c]
            t_ship = shipping[r, c]
            b_nodata = np.isnan(dv) or np.isnan(sv)
            b_land = not is_sea
            b_steep = s0 > max_slope
            b_shallow = dz < min_depth
            b_deep = dz > max_depth
            blocked = b_nodata or b_land or b_steep or b_shallow or b_deep
            barriers[0, r, c] = b_nodata
            barriers[1, r, c] = b_land
            barriers[2, r, c] = b_steep
            barriers[3, r, c] = b_shallow
            barriers[4, r, c] = b_deep
            k = 5
            if has_hard:
                b = hard[r, c] != 0
                barriers[k, r, c] = b
                blocked = blocked or b
                k += 1
            if has_allowed:
                b = allowed[r, c] == 0
                barriers[k, r, c] = b
                blocked = blocked or b
            for j in range(nb):
                if barriers[j, r, c]:
                    counts[r, j] += 1
            tot = 0.0 + base
            tot += t_shallow
            tot += t_deep
            tot += t_slope
            tot += t_haz
            tot += t_ship
            f = np.float32(np.inf) if blocked else np.float32(tot)
            total[r, c] = f
            v0 = np.float32(base)
            v1 = np.float32(t_shallow)
            v2 = np.float32(t_deep)
            v3 = np.float32(t_slope)
            v4 = np.float32(t_haz)
            v5 = np.float32(t_ship)
            terms[0, r, c] = v0
            terms[1, r, c] = v1
            terms[2, r, c] = v2
            terms[3, r, c] = v3
            terms[4, r, c] = v4
            terms[5, r, c] = v5
            if np.isfinite(f):
                sums[r, 0] += v0
                sums[r, 1] += v1
                sums[r, 2] += v2
                sums[r, 3] += v3
                sums[r, 4] += v4
                sums[r, 5] += v5


@njit(cache=True, nogil=True, parallel=True)
def _add_weighted(acc: np.ndarray, soft: np.ndarray, weight: Any, as_float32: bool) -> None:  # pragma: no cover
    """``acc += weight * soft`` with the product in the type of ``weight`` (float32 or float64, the value's type, as
    numpy computes a Python float times an array: NEP 50) and the sum in float64; ``as_float32`` rounds each
    value to float32 first."""
    h, w = acc.shape
    for r in prange(h):
        for c in range(w):
            v = soft[r, c]
            if as_float32:
                acc[r, c] += np.float64(weight * np.float32(v))
            else:
                acc[r, c] += np.float64(weight * v)


WRITER_THREADS = 2
"""Threads compressing the layers' bands into their files (the machine's two cores)."""


class _Layers:
    """Where the terms and barriers of a surface being built go: whole arrays in memory, or one tiled GeoTIFF
    each in ``folder`` (written band by band with :class:`~geodata.grid.RasterWriter`)."""

    def __init__(self, grid: GeoGrid, names: list[str], folder: Path | None) -> None:
        self.grid, self.names, self.folder = grid, names, folder
        self.arrays: dict[str, np.ndarray] = {}
        self.writers: dict[str, RasterWriter] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    @staticmethod
    def _dtype(name: str) -> Any:
        return np.dtype(bool) if name.startswith("barrier:") else np.dtype(np.float32)

    def __enter__(self) -> _Layers:
        for name in self.names:
            if self.folder is None:
                self.arrays[name] = np.empty(self.grid.shape, dtype=self._dtype(name))
                continue
            file = self.folder / (name.replace(":", "_") + ".tif")
            units = "1=blocked" if name.startswith("barrier:") else "cost per metre"
            attrs = {"units": units, "layer": name}
            # zstd: a third of deflate's time for the same size on these layers
            writer = RasterWriter(file, self.grid, self._dtype(name), attrs=attrs, compress=INTERMEDIATE_COMPRESS)
            self.writers[name] = writer.__enter__()
        if self.folder is not None:
            self._pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="cost-layers")
        return self

    def write(self, rows: slice, band: Mapping[str, np.ndarray]) -> None:
        """Store one band of every layer. Into files, in the background (GDAL compresses without the GIL) while
        the next band is computed: the previous band's writes are waited for first, so at most two bands are
        held, and each file is written by one thread at a time, band after band."""
        if self._pool is None:
            for name, data in band.items():
                self.arrays[name][rows] = data
            return
        self._wait()
        for name, data in band.items():
            out = data.view(np.uint8) if data.dtype == bool else data.astype(self._dtype(name), copy=False)
            self._pending.append(self._pool.submit(self.writers[name].write_rows, rows, out))

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._pool is not None:
                try:
                    if exc_type is None:
                        self._wait()
                finally:
                    self._pool.shutdown(wait=True, cancel_futures=True)
        except BaseException as err:
            exc_type, exc, tb = type(err), err, err.__traceback__
            for writer in self.writers.values():
                writer.__exit__(exc_type, exc, tb)
            raise
        for writer in self.writers.values():
            writer.__exit__(exc_type, exc, tb)

    def value(self, name: str) -> LayerValue:
        """The layer: its array, or its file as a lazy raster the store moves into the value's folder."""
        if self.folder is None:
            return self.arrays[name]
        return self.writers[name].raster(self._dtype(name), scratch=True)


def rasterize_polygons(polygons: Any, grid: GeoGrid) -> np.ndarray:
    """Boolean mask of the cells whose centre lies in any of ``polygons`` (a GeoDataFrame, reprojected to the grid)."""
    from rasterio.features import rasterize

    gdf = polygons.to_crs(grid.crs) if polygons.crs is not None else polygons
    shapes = [(geom, 1) for geom in gdf.geometry if geom is not None and not geom.is_empty]
    if not shapes:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8").astype(bool)


def allowed_sector_mask(sectors: Any, grid: GeoGrid, countries: list[str]) -> np.ndarray:
    """Cells in the seabed sectors of ``countries`` (ISO3), from a sectors GeoDataFrame with a ``country`` column."""
    known = set(sectors["country"])
    missing = [c for c in countries if c not in known]
    if missing:
        raise InputDataError(
            f"allowed sectors {missing} are not among the seabed sectors {sorted(known)}; "
            "fix boundaries.allowed_sectors in the scenario"
        )
    return rasterize_polygons(sectors[sectors["country"].isin(countries)], grid)
