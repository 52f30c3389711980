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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodata.errors import InputDataError
from geodata.grid import GeoGrid, Raster
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


@dataclass
class CostSurface:
    """Total cost per metre (``inf`` where impassable), its terms and its barriers, all on one grid."""

    grid: GeoGrid
    total: np.ndarray
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    barriers: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    allowed_sectors: tuple[str, ...] = ()
    """ISO3 codes of the seabed sectors the route may use (every other sector is a barrier)."""

    @property
    def impassable(self) -> np.ndarray:
        return ~np.isfinite(self.total)

    def raster(self, name: str = "total") -> Raster:
        """One layer as a :class:`Raster`: ``total``, a term name or ``barrier:<reason>``."""
        if name == "total":
            data = np.where(np.isfinite(self.total), self.total, np.nan).astype("float32")
            sectors = {"allowed_sectors": list(self.allowed_sectors)} if self.allowed_sectors else {}
            return Raster(data, self.grid, float("nan"), {"units": "cost per metre", **self.attrs, **sectors})
        if name.startswith("barrier:"):
            return Raster(self.barriers[name.split(":", 1)[1]].astype("uint8"), self.grid, None, {"units": "1=blocked"})
        return Raster(self.terms[name].astype("float32"), self.grid, None, {"units": "cost per metre"})

    def summary(self) -> dict[str, Any]:
        """Cell counts per barrier and the mean of each term over passable cells (for Dagster metadata)."""
        passable = np.isfinite(self.total)
        out: dict[str, Any] = {
            "cells": int(self.total.size),
            "passable_cells": int(passable.sum()),
            "passable_fraction": round(float(passable.mean()), 4),
        }
        for reason, mask in self.barriers.items():
            out[f"barrier_{reason}_cells"] = int(mask.sum())
        for name, term in self.terms.items():
            out[f"term_{name}_mean"] = round(float(term[passable].mean()), 4) if passable.any() else None
        if passable.any():
            out["total_min"] = round(float(self.total[passable].min()), 4)
            out["total_max"] = round(float(self.total[passable].max()), 4)
        return out


def _aligned(name: str, raster: Raster | np.ndarray, grid: GeoGrid) -> np.ndarray:
    if isinstance(raster, Raster):
        if raster.grid.shape != grid.shape or raster.grid.transform != grid.transform or raster.grid.crs != grid.crs:
            raise InputDataError(
                f"{name} is on grid {raster.grid}, expected {grid}; reproject it onto the analysis grid"
            )
        return np.where(raster.valid(), raster.data, np.nan).astype("float64")
    arr = np.asarray(raster)
    if arr.shape != grid.shape:
        raise InputDataError(f"{name} has shape {arr.shape}, expected {grid.shape} (the analysis grid)")
    return arr


def build_cost_surface(
    depth: Raster,
    slope: Raster,
    sea_mask: Raster,
    weights: CostWeights,
    limits: Limits,
    *,
    hazard_soft: Mapping[str, np.ndarray] | None = None,
    hazard_hard: np.ndarray | None = None,
    allowed_sector: np.ndarray | None = None,
    allowed_sectors: tuple[str, ...] = (),
) -> CostSurface:
    """Combine the terms documented in the module docstring into a :class:`CostSurface`.

    Parameters
    ----------
    depth, slope, sea_mask
        Water depth below the Caspian surface (m, positive down), seabed slope (degrees) and sea mask (1 = sea), all
        on the analysis grid.
    weights, limits
        The scenario's cost weights and hard limits.
    hazard_soft
        Soft hazard cost per metre by hazard kind (unweighted); ``shipping_lane`` is weighted by
        ``weights.shipping_weight``, every other kind by ``weights.hazard_weight``.
    hazard_hard
        Cells inside a hard hazard exclusion buffer.
    allowed_sector
        Cells in a seabed sector the route may use; others are barriers.
    """
    grid = depth.grid
    d = _aligned("depth", depth, grid)
    s = _aligned("slope", slope, grid)
    sea = _aligned("sea_mask", sea_mask, grid)
    if weights.deep_limit_m <= weights.deep_start_m:
        raise InputDataError(
            f"cost.deep_limit_m ({weights.deep_limit_m}) must exceed cost.deep_start_m ({weights.deep_start_m})"
        )

    dz = np.nan_to_num(d, nan=0.0)
    # The coastline decides sea or land: a sea cell the bathymetry puts above the water surface (a coarse grid over
    # a shallow shelf, the northern Caspian on the mirror) is water of no depth, not land.
    dz = np.where((np.nan_to_num(sea, nan=0.0) > 0) & (dz < 0.0), 0.0, dz)
    terms: dict[str, np.ndarray] = {
        "length": np.full(grid.shape, weights.base, dtype="float64"),
        "shallow": weights.shallow_weight * np.clip(1.0 - dz / weights.shallow_limit_m, 0.0, 1.0),
        "deep": weights.deep_weight
        * np.clip((dz - weights.deep_start_m) / (weights.deep_limit_m - weights.deep_start_m), 0.0, 1.0),
        "slope": weights.slope_weight * np.nan_to_num(s, nan=0.0),
    }
    hazards = np.zeros(grid.shape)
    shipping = np.zeros(grid.shape)
    for kind, soft in (hazard_soft or {}).items():
        soft = _aligned(f"hazard soft cost '{kind}'", soft, grid)
        if kind == "shipping_lane":
            shipping += weights.shipping_weight * soft
        else:
            hazards += weights.hazard_weight * soft
    terms["hazards"] = hazards
    terms["shipping"] = shipping

    barriers: dict[str, np.ndarray] = {
        "nodata": ~np.isfinite(d) | ~np.isfinite(s),
        "land": ~(np.nan_to_num(sea, nan=0.0) > 0),
        "too_steep": np.nan_to_num(s, nan=0.0) > limits.max_slope_deg,
        "too_shallow": dz < limits.min_depth_m,
        "too_deep": dz > limits.max_depth_m,
    }
    if hazard_hard is not None:
        barriers["hazard_exclusion"] = _aligned("hazard exclusion mask", hazard_hard, grid).astype(bool)
    if allowed_sector is not None:
        barriers["foreign_sector"] = ~_aligned("allowed sector mask", allowed_sector, grid).astype(bool)

    total = np.sum(list(terms.values()), axis=0)
    blocked = np.logical_or.reduce(list(barriers.values()))
    total = np.where(blocked, np.inf, total).astype("float64")
    attrs = {"weights": weights.model_dump(), "limits": limits.model_dump()}
    return CostSurface(grid, total, terms, barriers, attrs, allowed_sectors=tuple(allowed_sectors))


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
