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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geodata.errors import InputDataError
from geodata.grid import INTERMEDIATE_COMPRESS, GeoGrid, Raster, RasterFile, RasterWriter, raster_read_rows, row_blocks
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


COST_BAND_BYTES_PER_CELL = 200
"""Working bytes per cell of a band of :func:`build_cost_surface`: the inputs and the six terms as float64, the
per-kind hazard sums (float64 and float32), the barriers and the temporaries of the formulas."""


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
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
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
    with layers:
        # the hazards' halo rows are read by each object's distance window only, not by the band's arrays
        for block in row_blocks(grid, bytes_per_cell=COST_BAND_BYTES_PER_CELL, budget_bytes=budget):
            rows = block.rows
            if hazards is not None:
                soft, hard_by_kind = hazard_rows(hazards, rows)
                band_soft = {k: v.astype(np.float32) for k, v in soft.items()}
                band_hard = np.logical_or.reduce(list(hard_by_kind.values())) if hard_by_kind else None
                if band_hard is None and with_hard:
                    band_hard = np.zeros((rows.stop - rows.start, grid.shape[1]), dtype=bool)
            else:
                band_soft = {k: np.asarray(v)[rows] for k, v in (hazard_soft or {}).items()}
                band_hard = None if hazard_hard is None else np.asarray(hazard_hard)[rows]
            allowed = None if allowed_sector is None else np.asarray(allowed_sector)[rows]
            terms, barriers = _band(
                (_valid_rows(depth, rows), _valid_rows(slope, rows), _valid_rows(sea_mask, rows)),
                weights,
                limits,
                band_soft,
                band_hard,
                allowed,
            )
            band_total = np.zeros(terms["length"].shape)
            for term in terms.values():  # in TERMS order, as np.sum over the stacked terms would
                band_total += term
            blocked = np.zeros(band_total.shape, dtype=bool)
            for mask in barriers.values():
                blocked |= mask
            band_total[blocked] = np.inf
            total[rows] = band_total
            _count(
                counts,
                sums,
                np.isfinite(total[rows]),
                lambda n, _, t=terms: t[n].astype(np.float32),
                lambda n, _, b=barriers: b[n],
                rows,
            )
            layers.write(rows, {**terms, **{f"barrier:{k}": v for k, v in barriers.items()}})
    attrs = {"weights": weights.model_dump(), "limits": limits.model_dump()}
    term_values = {n: layers.value(n) for n in TERMS}
    barrier_values = {n.split(":", 1)[1]: layers.value(n) for n in names if n.startswith("barrier:")}
    surface = CostSurface(grid, total, term_values, barrier_values, attrs, allowed_sectors=tuple(allowed_sectors))
    surface.counted = {"barriers": counts, "terms": sums}
    return surface


TERMS = ("length", "shallow", "deep", "slope", "hazards", "shipping")
"""The terms of :class:`CostSurface`, in the order they are summed."""


def _barrier_names(hard: bool, sectors: bool) -> list[str]:
    names = ["nodata", "land", "too_steep", "too_shallow", "too_deep"]
    names += ["hazard_exclusion"] if hard else []
    names += ["foreign_sector"] if sectors else []
    return [f"barrier:{n}" for n in names]


def _band(
    inputs: tuple[np.ndarray, np.ndarray, np.ndarray],
    weights: CostWeights,
    limits: Limits,
    soft: Mapping[str, np.ndarray],
    hard: np.ndarray | None,
    allowed: np.ndarray | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The terms (float64) and barriers (bool) of one band of rows (the formulas of the module docstring)."""
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


class _Layers:
    """Where the terms and barriers of a surface being built go: whole arrays in memory, or one tiled GeoTIFF
    each in ``folder`` (written band by band with :class:`~geodata.grid.RasterWriter`)."""

    def __init__(self, grid: GeoGrid, names: list[str], folder: Path | None) -> None:
        self.grid, self.names, self.folder = grid, names, folder
        self.arrays: dict[str, np.ndarray] = {}
        self.writers: dict[str, RasterWriter] = {}

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
        return self

    def write(self, rows: slice, band: Mapping[str, np.ndarray]) -> None:
        for name, data in band.items():
            if self.folder is None:
                self.arrays[name][rows] = data
            else:
                self.writers[name].write_rows(rows, data.astype(self._dtype(name)))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
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
