"""Monte Carlo of the route under input uncertainty: which parts of the route are robust, which would move.

One realisation ``i`` (its random generator seeded with ``SeedSequence([seed, i])``, so realisation ``i`` draws the
same numbers whatever the number of realisations and wherever it runs, serially or on a dask cluster):

1. **Depth.** ``d' = d + sigma(d) e`` with ``sigma(d) = sqrt(a^2 + (b d)^2)``, the form of the IHO S-44 total
   vertical uncertainty (``a`` = ``montecarlo.depth_sigma_constant_m``, ``b`` = ``montecarlo.depth_sigma_fraction``;
   ``d`` is taken as ``|d|``), and ``e`` a unit-variance Gaussian random field with a Gaussian autocorrelation: white
   noise filtered by a normalised Gaussian kernel of standard deviation ``correlation_length_m`` (separable), divided
   by the kernel's L2 norm. The field is smooth over many cells, so it is drawn on a lattice of
   :data:`LATTICE_NODES_PER_SIGMA` nodes per kernel sigma (never finer than the grid; white noise over the lattice and
   the kernel's reach round it, so the field is stationary up to the grid's edges) and interpolated linearly to the
   cells, the weights scaled so that every cell has unit variance exactly (:func:`lattice_axis`): at the default
   10 km on 500 m cells a lattice of 2.5 km, 1/25 of the cells (the filter over the whole grid was a third of a
   realisation). The error never moves the coastline: a cell at least
   ``limits.min_depth_m`` deep stays at least that deep (the sea mask and the landfalls decide where the water is).
   The slope is recomputed from ``d'`` (:func:`geodata.bathymetry.slope_deg`).
2. **Hazard positions.** Each hazard kind's soft cost and hard exclusion rasters are shifted by one random offset
   ``N(0, hazard_position_sigma_m^2)`` per axis (a layer's position error is mostly systematic: its datum,
   digitising scale, survey era); soft costs bilinearly, exclusions to the nearest cell.
3. **Weights.** Every cost weight but ``base`` (the cost of a metre, the unit of all the others) is drawn uniformly
   within ``+- weight_range_fraction`` of its scenario value.
4. **Re-cost, re-route.** The total of :func:`geodata.cost.build_cost_surface` (the one cost definition) on the
   perturbed inputs (:func:`perturbed_surface` builds it so, with every term), computed for the realisations by the
   compiled kernels of :mod:`geodata.engineering._mckernels` (:func:`perturbed_total`: perturbed depth, slope, depth
   and slope terms and barriers in one pass over the grid, float32; each hazard layer moved and added only over the
   non-zero span of its rows; tested equal), then :func:`geodata.routing.least_cost_path` between the design route's
   approach cells with the scenario's routing method. A realisation whose ends become impassable or unreachable is
   counted as failed, not dropped silently. Realisations run on the process's cores as threads
   (:func:`geodata.sweep.local_threads`; the kernels and the search release the GIL) or on a dask cluster: the same
   realisations either way.

**The Monte Carlo grid.** Realisations are re-costed and re-routed on the analysis grid coarsened by the integer
factor :func:`monte_carlo_factor` whose cell is at most the model's own finest scale: the hazard position error
``hazard_position_sigma_m`` and a quarter of ``robust_offset_m`` (500 m with the defaults), never finer than the
analysis grid. At the default 1 km analysis grid the factor is 1 (the realisations are those of the analysis grid,
unchanged); at 100 m it is 5, so a realisation costs what one on a 500 m grid does instead of 25 times that (a
100 m run spent 1446 s in 40 realisations, 36 s each, against 3 s for its whole routing step; a realisation's
depth error is correlated over 10 km and its hazard layers move by 500 m, which a 500 m cell resolves). Coarse
cells (:func:`coarsen_inputs`): depth is the mean of the valid sea cells of the block (of its valid cells when it
has no sea), sea where any cell of the block is sea, a hazard's soft cost the block mean, its exclusion and the
allowed sectors where any cell has them (optimistic, as in the routing's coarse-to-fine search: a narrow passage
stays open). The passage frequency is counted on the Monte Carlo grid and given on the analysis grid (each coarse
cell's share on its fine cells; the robust corridor is traced on the coarse cells and clipped to the analysis grid,
the same cells); the spread is measured on lines in map coordinates, the design's routed path at the analysis
resolution.

From the realisations: the **passage frequency** (share of realisations whose routed path crosses each cell), the
**robust corridor** (cells passed by at least ``corridor_min_share`` of them), the **per-KP lateral spread** (at
every KP of the design route, the signed cross-track offset of each realisation, joined to the same shore ends,
positive to starboard) with the **robust KP ranges** (KPs where at least ``robust_min_share`` of the realisations
pass within ``robust_offset_m``), and the **ranking** of the design route and its alternatives, each costed on
every realisation's surface.

The spread is measured around the *unperturbed routed path* of the design (``least_cost_route`` with its shore
ends), at the point of it nearest to each design KP: the realisations are routed paths too, while the engineered
design replaces the routed path by straight legs that may run kilometres to one side of it (within
``engineering.leg_max_cost_increase_fraction`` of its cost). Measured against the straight legs, that straightening
would count as uncertainty even with none; it is published apart, per KP, as ``design_offset_m``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import LineString

from geodata import routing
from geodata.bathymetry import slope_deg
from geodata.bathymetry.terrain import _cell_size_m
from geodata.cost import CostSurface, build_cost_surface
from geodata.engineering import _mckernels as K
from geodata.engineering import landfall
from geodata.errors import ConfigError, InputDataError
from geodata.geodesy import Chainage, cross_track, line_tangents, to_lonlat, transformer
from geodata.grid import BLOCK_ALIGN, INTERMEDIATE_COMPRESS, GeoGrid, LazyRaster, Raster, RasterWriter, nodata_is_nan
from geodata.hazards.raster import HazardRasters, rasterize_hazards
from geodata.scenario import CostWeights, Limits, MonteCarlo
from geodata.sweep import local_threads, run_sweep

PERTURBED_WEIGHTS: tuple[str, ...] = (
    "shallow_weight",
    "deep_weight",
    "slope_weight",
    "hazard_weight",
    "shipping_weight",
)
"""The cost weights drawn per realisation (``base`` is the unit of cost and stays fixed)."""
KERNEL_TRUNCATE = 4.0
"""The correlation kernel is cut at this many standard deviations."""
TANGENT_STEP_M = 50.0
"""Half the chord used for the design route's direction at a KP."""


# -- the inputs every realisation shares -----------------------------------------------------------------------------
@dataclass(frozen=True)
class MonteCarloInputs:
    """The read-only inputs of every realisation (scattered once to a cluster's workers)."""

    depth: Raster
    sea_mask: Raster
    hazard_soft: dict[str, np.ndarray]
    hazard_hard: dict[str, np.ndarray]
    allowed_sector: np.ndarray | None
    allowed_sectors: tuple[str, ...]
    weights: CostWeights
    limits: Limits
    config: MonteCarlo
    start: tuple[int, int]
    goal: tuple[int, int]
    method: str
    candidates: dict[str, np.ndarray]
    """Route name -> ``(N, 2)`` ``(row, col)`` vertices on the Monte Carlo grid, costed on every realisation's
    surface."""
    factor: int = 1
    """The Monte Carlo grid is the analysis grid coarsened this many times (:func:`monte_carlo_factor`)."""
    analysis_grid: GeoGrid | None = None
    """The analysis grid (None: the Monte Carlo grid itself, factor 1)."""
    design_path: np.ndarray | None = None
    """The design's routed path on the analysis grid (``(row, col)``), the reference of the spread."""

    @cached_property
    def plan(self) -> RealisationPlan:
        """What every realisation derives from these inputs (:func:`realisation_plan`), once per process (a dask
        worker derives it from the scattered inputs)."""
        return realisation_plan(self)


def monte_carlo_factor(resolution_m: float, config: MonteCarlo) -> int:
    """The integer factor coarsening an analysis grid of ``resolution_m`` cells into the Monte Carlo grid: the
    largest whose cell is at most ``min(hazard_position_sigma_m, robust_offset_m / 4)`` (the model's finest scale;
    ``robust_offset_m / 4`` alone without a position error), at least 1 (module docstring)."""
    target = config.robust_offset_m / 4.0
    if config.hazard_position_sigma_m > 0:
        target = min(target, config.hazard_position_sigma_m)
    return max(1, math.floor(target / float(resolution_m) + 1e-9))


def monte_carlo_grid(grid: GeoGrid, config: MonteCarlo) -> GeoGrid:
    """The grid the realisations are computed on: ``grid`` coarsened by :func:`monte_carlo_factor` (``grid`` itself
    when the factor is 1); the hazards are best rasterised on it directly (``rasterize_hazards(table, it)``)."""
    f = monte_carlo_factor(max(grid.res), config)
    if f == 1:
        return grid
    shape = (-(-grid.shape[0] // f), -(-grid.shape[1] // f))
    return GeoGrid(grid.crs, grid.transform @ Affine.scale(f), shape)


BLOCK_STRIP_ROWS = 256
"""Coarse rows reduced at a time by :func:`block_reduce` (bounds its temporaries to a strip of the grid)."""


def block_reduce(a: np.ndarray, f: int, how: str) -> np.ndarray:
    """``f x f`` blocks of ``a`` reduced by ``how``: ``"sum"`` (float64) or ``"any"`` (bool); the partial blocks of
    the bottom and right edges reduce the cells they have. Works on views, a strip of :data:`BLOCK_STRIP_ROWS`
    coarse rows at a time, so it holds no whole-grid temporary."""
    H, W = a.shape
    hc, wc = -(-H // f), -(-W // f)
    wf = W // f  # whole column blocks
    out = np.zeros((hc, wc), dtype=np.float64 if how == "sum" else bool)

    def reduce(view: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.asarray(view.sum(axis=axes, dtype=np.float64) if how == "sum" else view.any(axis=axes))

    for r0 in range(0, hc, BLOCK_STRIP_ROWS):
        strip = a[r0 * f : min(hc, r0 + BLOCK_STRIP_ROWS) * f]
        whole = strip.shape[0] // f
        parts = [(strip[: whole * f], whole, f, r0)]
        if whole * f < strip.shape[0]:
            parts.append((strip[whole * f :], 1, strip.shape[0] - whole * f, r0 + whole))
        for rows, nb, h, dest in parts:
            if nb == 0:
                continue
            if wf:
                out[dest : dest + nb, :wf] = reduce(rows[:, : wf * f].reshape(nb, h, wf, f), (1, 3))
            if wf < wc:
                out[dest : dest + nb, wf] = reduce(rows[:, wf * f :].reshape(nb, h, W - wf * f), (1, 2))
    return out


def block_mean(a: np.ndarray, weight: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean of ``a`` over the cells of each ``f x f`` block where ``weight`` is True (float32, NaN where none)
    and the count of those cells."""
    count = block_reduce(weight, f, "sum")
    total = block_reduce(np.where(weight, a, 0.0).astype(np.float32), f, "sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean.astype(np.float32), count


def coarsen_inputs(depth: Raster, sea_mask: Raster, grid: GeoGrid, f: int) -> tuple[Raster, Raster]:
    """Depth and sea mask on the Monte Carlo grid ``grid`` (``f`` times coarser): depth the mean of the block's valid
    sea cells (of its valid cells when it holds no sea), sea where any cell of the block is sea. Reads the inputs a
    strip of :data:`BLOCK_STRIP_ROWS` coarse rows at a time (a lazily read raster is never whole in memory, and no
    whole-grid mask is made), each strip in one compiled pass (:func:`geodata.engineering._mckernels.coarsen_depth`)."""
    H = depth.grid.shape[0]
    coarse_depth = np.empty(grid.shape, dtype=np.float32)
    coarse_sea = np.empty(grid.shape, dtype=np.uint8)
    nodata = depth.nodata
    use_nodata = not nodata_is_nan(nodata)  # as Raster.valid
    for r0 in range(0, grid.shape[0], BLOCK_STRIP_ROWS):
        r1 = min(grid.shape[0], r0 + BLOCK_STRIP_ROWS)
        rows = slice(r0 * f, min(H, r1 * f))
        data = np.asarray(depth.data[rows])
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
        sea = np.asarray(sea_mask.data[rows]) == 1
        value = float(nodata) if use_nodata and nodata is not None else 0.0
        K.coarsen_depth(data, sea, value, use_nodata, f, coarse_depth[r0:r1], coarse_sea[r0:r1])
    attrs = {**depth.attrs, "monte_carlo_factor": f}
    return (
        Raster(coarse_depth, grid, float("nan"), attrs),
        Raster(coarse_sea, grid, sea_mask.nodata, {**sea_mask.attrs, "monte_carlo_factor": f}),
    )


def coarse_path(path: np.ndarray, f: int) -> np.ndarray:
    """``(row, col)`` vertices of the analysis grid on the ``f`` times coarser grid (same map positions)."""
    return (np.asarray(path, dtype=float) + 0.5) / f - 0.5


def _coarse_inputs(
    depth: Raster, sea_mask: Raster, surface: CostSurface, grid: GeoGrid, f: int
) -> tuple[Raster, Raster, np.ndarray | None]:
    """Depth, sea mask and allowed-sector mask (None: every sector allowed) on the Monte Carlo grid ``grid``."""
    foreign = surface.barrier("foreign_sector") if "foreign_sector" in surface.barriers else None
    allowed = None if foreign is None else ~np.asarray(foreign)
    if f > 1:
        depth, sea_mask = coarsen_inputs(depth, sea_mask, grid, f)
        allowed = None if allowed is None else block_reduce(allowed, f, "any")
    return depth, sea_mask, allowed


def monte_carlo_inputs(
    depth: Raster,
    sea_mask: Raster,
    hazards: HazardRasters | gpd.GeoDataFrame,
    surface: CostSurface,
    config: MonteCarlo,
    weights: CostWeights,
    limits: Limits,
    *,
    start: Sequence[int],
    goal: Sequence[int],
    method: str,
    design_path: np.ndarray,
    alternatives: gpd.GeoDataFrame | None = None,
) -> MonteCarloInputs:
    """Gather the shared inputs on the Monte Carlo grid (:func:`monte_carlo_grid`): the unperturbed depth and sea
    mask (coarsened, :func:`coarsen_inputs`), the hazard rasters (``hazards`` on the Monte Carlo grid, or on the
    analysis grid, then coarsened), the allowed-sector mask of ``surface``, the approach cells and the candidate
    routes (the design's routed path, ``rank_0``, and the alternatives' lines of ``route_alternatives``,
    ``rank_<k>``). ``start``, ``goal`` and ``design_path`` are on the analysis grid. ``hazards`` may be the hazard
    table instead: it is then rasterised on the Monte Carlo grid here (``rasterize_hazards(table, grid)``), while a
    second thread coarsens the depth, the sea mask and the allowed sectors (GDAL decoding and a ``nogil`` kernel:
    the two overlap; the same values as one after the other)."""
    grid = surface.grid
    for name, r in (("bathymetry", depth), ("sea_mask", sea_mask)):
        if r.grid.shape != grid.shape or r.grid.transform != grid.transform:
            raise InputDataError(f"{name} is on grid {r.grid}, the cost surface on {grid}; rematerialise {name}")
    mc_grid = monte_carlo_grid(grid, config)
    f = monte_carlo_factor(max(grid.res), config)
    coarse = None
    if isinstance(hazards, gpd.GeoDataFrame):
        with ThreadPoolExecutor(max_workers=1) as pool:
            coarse = pool.submit(_coarse_inputs, depth, sea_mask, surface, mc_grid, f)
            hazards = rasterize_hazards(hazards, mc_grid)
            depth, sea_mask, allowed = coarse.result()
    hazard_shape = np.shape(hazards.hard_mask)
    if hazard_shape not in (grid.shape, mc_grid.shape):
        raise InputDataError(
            f"the hazard rasters have shape {hazard_shape}, neither the analysis grid's {grid.shape} nor the Monte "
            f"Carlo grid's {mc_grid.shape}; rasterise the hazards on monte_carlo_grid(cost_surface.grid, config)"
        )
    coarsen = f > 1 and hazard_shape == grid.shape
    soft = {k: np.asarray(v, dtype="float32") for k, v in hazards.soft_by_kind.items()}
    hard = {k: np.asarray(v, dtype=bool) for k, v in hazards.hard_by_kind.items()}
    if coarse is None:
        depth, sea_mask, allowed = _coarse_inputs(depth, sea_mask, surface, mc_grid, f)
    if f > 1:
        if coarsen:
            every = np.ones(grid.shape, dtype=bool)
            soft = {k: block_mean(v, every, f)[0] for k, v in soft.items()}
            hard = {k: block_reduce(v, f, "any") for k, v in hard.items()}
    design = np.asarray(design_path, dtype=float)
    candidates = {"rank_0": coarse_path(design, f) if f > 1 else design}
    if alternatives is not None:
        for rank, geom in zip(alternatives["rank"], alternatives.to_crs(grid.crs).geometry, strict=True):
            if int(rank) != 0:
                candidates[f"rank_{int(rank)}"] = line_to_cells(geom, mc_grid)
    return MonteCarloInputs(
        depth=depth,
        sea_mask=sea_mask,
        hazard_soft=soft,
        hazard_hard=hard,
        allowed_sector=allowed,
        allowed_sectors=surface.allowed_sectors,
        weights=weights,
        limits=limits,
        config=config,
        start=(int(start[0]) // f, int(start[1]) // f),
        goal=(int(goal[0]) // f, int(goal[1]) // f),
        method=method,
        candidates=candidates,
        factor=f,
        analysis_grid=grid if f > 1 else None,
        design_path=design,
    )


def line_to_cells(line: LineString, grid: GeoGrid) -> np.ndarray:
    """``(N, 2)`` fractional ``(row, col)`` of a line in the grid's CRS (cell centres at whole numbers)."""
    xy = np.asarray(line.coords, dtype=float)[:, :2]
    t = grid.transform  # north-up (GeoGrid refuses any other)
    col = (xy[:, 0] - t.c) / t.a - 0.5
    row = (xy[:, 1] - t.f) / t.e - 0.5
    return np.column_stack([row, col])


# -- one realisation ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealisationTask:
    """One realisation: its index and the run's seed (its generator is ``SeedSequence([seed, index])``)."""

    index: int
    seed: int

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.index]))


@dataclass
class RealisationResult:
    """What one realisation found: its routed path (None when it failed), its drawn parameters and the cost of every
    candidate route on its surface."""

    index: int
    path: np.ndarray | None
    cost: float
    length_m: float
    weights: dict[str, float]
    hazard_offsets_m: dict[str, tuple[float, float]]
    candidate_costs: dict[str, float] = field(default_factory=dict)
    error: str = ""


def gaussian_kernel(sigma_cells: float) -> np.ndarray:
    """Normalised 1-D Gaussian kernel (sum 1) of standard deviation ``sigma_cells``, cut at
    :data:`KERNEL_TRUNCATE` sigma."""
    radius = max(math.ceil(KERNEL_TRUNCATE * sigma_cells), 1)
    x = np.arange(-radius, radius + 1, dtype=float)
    k = np.exp(-0.5 * (x / max(sigma_cells, 1e-9)) ** 2)
    return k / k.sum()


LATTICE_NODES_PER_SIGMA = 4.0
"""The depth error is drawn on a lattice with this many nodes per kernel standard deviation (never finer than the
grid), then interpolated to the cells."""


@dataclass(frozen=True)
class LatticeAxis:
    """One axis of the noise lattice: its step in cells (at least 1; node ``m`` sits ``(m - 0.5) * step`` cells from
    the grid's edge), the Gaussian kernel in lattice steps, the number of nodes, and for every cell the lattice node
    before it (``first``; the cell lies between ``first`` and ``first + 1``) with the two interpolation weights,
    scaled so that every cell has unit variance."""

    step: float
    kernel: np.ndarray
    nodes: int
    first: np.ndarray
    w0: np.ndarray
    w1: np.ndarray


def lattice_axis(cells: int, sigma_cells: float) -> LatticeAxis:
    """The lattice along an axis of ``cells`` cells for a kernel of ``sigma_cells`` (see :class:`LatticeAxis`).

    Linear interpolation between nodes of correlation ``rho`` has variance ``(1-t)^2 + t^2 + 2 t (1-t) rho`` at
    fraction ``t``; the weights are divided by its square root (the lattice field's covariance is separable, so the
    product of the two axes' scales makes every cell's variance exactly 1)."""
    step = max(1.0, sigma_cells / LATTICE_NODES_PER_SIGMA)
    kernel = gaussian_kernel(sigma_cells / step)
    u = (np.arange(cells, dtype=float) + 0.5) / step - 0.5  # lattice coordinate of each cell centre
    lo = np.floor(u)
    t = u - lo
    rho = float((kernel[:-1] * kernel[1:]).sum() / (kernel**2).sum())
    scale = 1.0 / np.sqrt((1.0 - t) ** 2 + t**2 + 2.0 * t * (1.0 - t) * rho)
    first = lo.astype(np.int64) + 1  # node 0 lies before the first cell centre
    return LatticeAxis(step, kernel, int(first.max()) + 2, first, (1.0 - t) * scale, t * scale)


def lattice_noise(rng: np.random.Generator, rows: LatticeAxis, cols: LatticeAxis) -> np.ndarray:
    """The unit-variance lattice field: white noise (drawn over the lattice and the kernel's reach round it, so that
    the field is stationary up to the grid's edges) filtered by the separable kernels, divided by their L2 norm."""
    kr, kc = rows.kernel, cols.kernel
    hr, hc = len(kr) // 2, len(kc) // 2
    white = rng.standard_normal((rows.nodes + 2 * hr, cols.nodes + 2 * hc))
    field = ndimage.correlate1d(white, kr, axis=0, mode="constant")[hr : hr + rows.nodes]
    field = ndimage.correlate1d(field, kc, axis=1, mode="constant")[:, hc : hc + cols.nodes]
    return np.ascontiguousarray(field / math.sqrt(float((kr**2).sum()) * float((kc**2).sum())))


def _lattice_axes(shape: tuple[int, int], grid_res: tuple[float, float], config: MonteCarlo) -> tuple[LatticeAxis, ...]:
    return (
        lattice_axis(shape[0], config.correlation_length_m / grid_res[0]),
        lattice_axis(shape[1], config.correlation_length_m / grid_res[1]),
    )


def _perturb(
    depth: np.ndarray, sigma: np.ndarray, lattice: np.ndarray, axes: Sequence[LatticeAxis], min_depth: float
) -> np.ndarray:
    rows, cols = axes
    out = np.empty(depth.shape, dtype=np.float32)
    K.perturb_depth(depth, sigma, lattice, rows.first, rows.w0, rows.w1, cols.first, cols.w0, cols.w1, min_depth, out)
    return out


def correlated_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_cells: tuple[float, float]) -> np.ndarray:
    """A unit-variance Gaussian random field on a grid of ``shape`` with the Gaussian autocorrelation of white noise
    filtered by a kernel of ``sigma_cells`` = ``(rows, cols)`` standard deviations (``exp(-lag^2 / (4 s^2))``): drawn
    on the lattice of :func:`lattice_axis` and interpolated to the cells (float32)."""
    axes = (lattice_axis(shape[0], sigma_cells[0]), lattice_axis(shape[1], sigma_cells[1]))
    lattice = lattice_noise(rng, *axes)
    zero, one = np.zeros(shape, dtype=np.float32), np.ones(shape, dtype=np.float32)
    return _perturb(zero, one, lattice, axes, math.inf)


def depth_sigma_m(depth_m: np.ndarray, config: MonteCarlo) -> np.ndarray:
    """One-sigma vertical uncertainty ``sqrt(a^2 + (b |d|)^2)`` in metres."""
    d = np.abs(np.nan_to_num(depth_m, nan=0.0))
    return np.asarray(np.hypot(config.depth_sigma_constant_m, config.depth_sigma_fraction * d))


def _depth_and_sigma(depth: Raster, config: MonteCarlo) -> tuple[np.ndarray, np.ndarray]:
    d = np.where(depth.valid(), depth.data, np.nan).astype(np.float32)
    return d, depth_sigma_m(d, config).astype(np.float32)


def perturbed_depth(depth: Raster, config: MonteCarlo, limits: Limits, rng: np.random.Generator) -> Raster:
    """The depth with one draw of the vertical error (module docstring, step 1)."""
    grid = depth.grid
    axes = _lattice_axes(grid.shape, grid.res, config)
    d, sigma = _depth_and_sigma(depth, config)
    out = _perturb(d, sigma, lattice_noise(rng, *axes), axes, limits.min_depth_m)
    return Raster(out, grid, float("nan"), {"quantity": "depth", "units": "m", "perturbed": True})


def shifted(array: np.ndarray, offset_cells: tuple[float, float], *, order: int) -> np.ndarray:
    """``array`` moved by ``(rows, cols)`` cells (0 beyond the grid): ``scipy.ndimage.shift`` (``order`` 1 bilinear,
    0 nearest, constant 0 outside), computed only over the window of ``array``'s non-zero cells widened by the
    offset and two cells (everything outside it is 0 before and after the move, so the result is the same as the
    whole-grid shift, cell for cell). An all-zero layer is returned as it is."""
    if offset_cells == (0.0, 0.0):
        return array
    window = nonzero_window(array, offset_cells)
    if window is None:
        return array
    out = np.zeros(array.shape, dtype="float32")
    part = np.asarray(array[window], dtype="float32")
    out[window] = ndimage.shift(part, offset_cells, order=order, mode="constant", cval=0.0)
    return out


def nonzero_window(array: np.ndarray, offset_cells: tuple[float, float]) -> tuple[slice, slice] | None:
    """Rows and columns holding every non-zero cell of ``array``, before and after a move by ``offset_cells``, with a
    margin of two cells (None: ``array`` is all zero)."""
    rows = np.flatnonzero(np.any(array, axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(np.any(array, axis=0))
    out = []
    for idx, off, n in ((rows, offset_cells[0], array.shape[0]), (cols, offset_cells[1], array.shape[1])):
        pad = math.ceil(abs(off)) + 2
        out.append(slice(max(0, int(idx[0]) - pad), min(n, int(idx[-1]) + 1 + pad)))
    return out[0], out[1]


@dataclass(frozen=True)
class RealisationPlan:
    """What every realisation of one :class:`MonteCarloInputs` derives from it, once per process: the depth and its
    vertical uncertainty (float32), the cells blocked whatever the draw (land, foreign sector), the sea cells, the
    per-row cell sizes of the slope, the noise lattice and each hazard layer's non-zero column span per row."""

    depth: np.ndarray
    sigma: np.ndarray
    fixed: np.ndarray
    is_sea: np.ndarray
    hy: np.ndarray
    hx: np.ndarray
    axes: tuple[LatticeAxis, LatticeAxis]
    soft_spans: dict[str, tuple[np.ndarray, np.ndarray]]
    hard_spans: dict[str, tuple[np.ndarray, np.ndarray]]


def realisation_plan(shared: MonteCarloInputs) -> RealisationPlan:
    w = shared.weights
    if w.deep_limit_m <= w.deep_start_m:
        raise InputDataError(f"cost.deep_limit_m ({w.deep_limit_m}) must exceed cost.deep_start_m ({w.deep_start_m})")
    grid = shared.depth.grid
    depth, sigma = _depth_and_sigma(shared.depth, shared.config)
    sea = shared.sea_mask
    is_sea = sea.valid() & (np.asarray(sea.data) > 0)
    fixed = ~is_sea
    if shared.allowed_sector is not None:
        fixed |= ~np.asarray(shared.allowed_sector, dtype=bool)
    hy, hx = _cell_size_m(grid)
    return RealisationPlan(
        depth=depth,
        sigma=sigma,
        fixed=fixed,
        is_sea=is_sea,
        hy=np.ascontiguousarray(hy[:, 0], dtype=np.float64),
        hx=np.ascontiguousarray(hx[:, 0], dtype=np.float64),
        axes=_lattice_axes(grid.shape, grid.res, shared.config),  # type: ignore[arg-type]
        soft_spans={k: K.row_spans(v) for k, v in shared.hazard_soft.items()},
        hard_spans={k: K.row_spans(v) for k, v in shared.hazard_hard.items()},
    )


@dataclass(frozen=True)
class Draw:
    """One realisation's random draw: the depth error's lattice field, each hazard kind's offset ``(east, north)`` in
    metres and the drawn weights (in this order from the realisation's generator)."""

    lattice: np.ndarray
    offsets: dict[str, tuple[float, float]]
    weights: dict[str, float]

    def offset_cells(self, kind: str, grid: GeoGrid) -> tuple[float, float]:
        east, north = self.offsets[kind]
        return (-north / grid.res[0], east / grid.res[1])  # rows grow southwards


def draw(shared: MonteCarloInputs, rng: np.random.Generator) -> Draw:
    """Draw one realisation's depth error, hazard offsets and weights (module docstring, steps 1-3)."""
    cfg = shared.config
    lattice = lattice_noise(rng, *shared.plan.axes)
    offsets: dict[str, tuple[float, float]] = {}
    for kind in sorted(set(shared.hazard_soft) | set(shared.hazard_hard)):
        east, north = (float(v) for v in rng.normal(0.0, cfg.hazard_position_sigma_m, 2))
        offsets[kind] = (east, north)
    f = cfg.weight_range_fraction
    base = shared.weights.model_dump()
    drawn = {name: float(base[name] * rng.uniform(1.0 - f, 1.0 + f)) for name in PERTURBED_WEIGHTS}
    return Draw(lattice, offsets, drawn)


def realisation_depth(shared: MonteCarloInputs, d: Draw) -> np.ndarray:
    """The draw's perturbed depth (float32, NaN where none) on the Monte Carlo grid."""
    plan = shared.plan
    return _perturb(plan.depth, plan.sigma, d.lattice, plan.axes, shared.limits.min_depth_m)


def perturbed_total(shared: MonteCarloInputs, d: Draw) -> np.ndarray:
    """The draw's total cost per metre (float32, ``inf`` where impassable): the cost of
    :func:`geodata.cost.build_cost_surface` on the perturbed inputs (:func:`perturbed_surface`), computed by the
    compiled kernels in one pass over the grid plus one over each hazard layer's window, no term kept."""
    plan, grid = shared.plan, shared.depth.grid
    z = realisation_depth(shared, d)
    w = shared.weights.model_copy(update=d.weights)
    lim = shared.limits
    total = np.empty(grid.shape, dtype=np.float32)
    weights = (w.base, w.shallow_weight, w.shallow_limit_m, w.deep_weight, w.deep_start_m, w.deep_limit_m)
    K.cost_total(
        z,
        plan.is_sea,
        plan.fixed,
        plan.hy,
        plan.hx,
        np.array([*weights, w.slope_weight]),
        np.array([lim.max_slope_deg, lim.min_depth_m, lim.max_depth_m]),
        total,
    )
    del z
    for kind in sorted(shared.hazard_soft):
        lo, hi = plan.soft_spans[kind]
        weight = w.shipping_weight if kind == "shipping_lane" else w.hazard_weight
        if weight and (hi > lo).any():
            K.add_shifted(total, shared.hazard_soft[kind], lo, hi, *d.offset_cells(kind, grid), float(weight))
    for kind in sorted(shared.hazard_hard):
        lo, hi = plan.hard_spans[kind]
        if (hi > lo).any():
            K.block_shifted(total, shared.hazard_hard[kind], lo, hi, *d.offset_cells(kind, grid))
    return total


def perturbed_surface(
    shared: MonteCarloInputs, rng: np.random.Generator
) -> tuple[CostSurface, dict[str, float], dict[str, tuple[float, float]]]:
    """One realisation's cost surface with every term and barrier (:func:`geodata.cost.build_cost_surface`, the one
    cost definition, on the perturbed depth, its slope and the moved hazard layers), the weights drawn and each hazard
    kind's offset ``(east, north)`` in metres. The realisations use :func:`perturbed_total`, the same total."""
    d = draw(shared, rng)
    grid = shared.depth.grid
    depth = Raster(realisation_depth(shared, d), grid, float("nan"), {"quantity": "depth", "perturbed": True})
    soft: dict[str, np.ndarray] = {}
    hard = np.zeros(grid.shape, dtype=bool)
    for kind in d.offsets:
        cells = d.offset_cells(kind, grid)
        if kind in shared.hazard_soft:
            soft[kind] = shifted(shared.hazard_soft[kind], cells, order=1)
        if kind in shared.hazard_hard:
            hard |= shifted(shared.hazard_hard[kind], cells, order=0) > 0.5
    surface = build_cost_surface(
        depth,
        slope_deg(depth),
        shared.sea_mask,
        shared.weights.model_copy(update=d.weights),
        shared.limits,
        hazard_soft=soft,
        hazard_hard=hard,
        allowed_sector=shared.allowed_sector,
        allowed_sectors=shared.allowed_sectors,
    )
    return surface, d.weights, d.offsets


def run_realisation(task: RealisationTask, shared: MonteCarloInputs) -> RealisationResult:
    """One realisation (the top-level task function of :func:`geodata.sweep.run_sweep`): draw, re-cost
    (:func:`perturbed_total`), cost the candidates, re-route."""
    d = draw(shared, task.rng())
    total = perturbed_total(shared, d)
    res_m = shared.depth.grid.res
    costs = {name: routing.path_cost(total, path, res_m) for name, path in shared.candidates.items()}
    try:
        res = routing.least_cost_path(total, shared.start, shared.goal, cell_size=res_m, method=shared.method)
    except routing.RoutingError as exc:
        return RealisationResult(task.index, None, math.inf, math.nan, d.weights, d.offsets, costs, str(exc))
    return RealisationResult(task.index, res.path, float(res.cost), float(res.length_m), d.weights, d.offsets, costs)


# -- the result --------------------------------------------------------------------------------------------------------
@dataclass
class MonteCarloResult:
    """Passage frequency, robust corridor, per-KP spread, robust KP ranges, ranking and the realisations' routes."""

    frequency: Raster
    """Share of successful realisations whose routed path crosses each cell (0..1)."""
    corridor: gpd.GeoDataFrame
    """The robust corridor (EPSG:4326): cells passed by at least ``corridor_min_share`` of the realisations."""
    kp_spread: gpd.GeoDataFrame
    """Per KP of the design route (points, EPSG:4326): offsets of the realisations and whether it is robust."""
    robust_ranges: pd.DataFrame
    """Consecutive KP ranges, robust or not."""
    ranking: pd.DataFrame
    """The design route (``rank_0``) and its alternatives, costed on every realisation."""
    routes: gpd.GeoDataFrame
    """Every successful realisation's route (EPSG:4326, shore ends included) with its cost and each drawn weight as a
    ratio to the scenario's (``<weight>_ratio``)."""
    stats: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Figures for the asset metadata and the manifest."""
        robust = self.robust_ranges[self.robust_ranges["robust"]] if len(self.robust_ranges) else self.robust_ranges
        return {
            **self.stats,
            "robust_kp_ranges": [
                f"KP {a:.1f}-{b:.1f}" for a, b in zip(robust["kp_from_km"], robust["kp_to_km"], strict=True)
            ],
            "robust_length_km": round(float(robust["length_km"].sum()), 1) if len(robust) else 0.0,
            "corridor_area_km2": round(float(self.corridor["area_km2"].sum()), 1) if len(self.corridor) else 0.0,
        }


def cells_crossed(path: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Flat indices of the cells a ``(row, col)`` polyline passes through (sampled at a quarter cell: each segment at
    ``n + 1`` points ``k / n``, ``n = ceil(4 x its longer side in cells)``, at least 1)."""
    p = np.asarray(path, dtype=float)
    if len(p) == 1:
        samples = p
    else:
        a, delta = p[:-1], np.diff(p, axis=0)
        n = np.maximum(np.ceil(np.abs(delta).max(axis=1) * 4.0), 1.0).astype(np.int64)
        seg = np.repeat(np.arange(len(n)), n + 1)
        k = np.arange(len(seg)) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
        t = k * (1.0 / n[seg])  # as np.linspace(0, 1, n + 1) steps, its last point exactly 1
        t[k == n[seg]] = 1.0
        samples = a[seg] + t[:, None] * delta[seg]
    rc = np.rint(samples).astype(np.int64)
    ok = (rc[:, 0] >= 0) & (rc[:, 0] < shape[0]) & (rc[:, 1] >= 0) & (rc[:, 1] < shape[1])
    return np.unique(rc[ok, 0] * shape[1] + rc[ok, 1])


def passage_frequency(paths: Sequence[np.ndarray], grid: GeoGrid) -> Raster:
    """Share of ``paths`` crossing each cell of ``grid``."""
    counts = np.zeros(grid.shape[0] * grid.shape[1], dtype=np.int64)
    for path in paths:
        counts[cells_crossed(path, grid.shape)] += 1
    share = (counts / max(len(paths), 1)).reshape(grid.shape).astype("float32")
    attrs = {"quantity": "passage_frequency", "units": "share of realisations", "realisations": len(paths)}
    return Raster(share, grid, None, attrs)


def refined_raster(coarse: Raster, grid: GeoGrid, f: int) -> Raster:
    """``coarse`` (on ``grid`` coarsened ``f`` times) on ``grid``: each coarse cell's value on its fine cells
    (written a block row at a time: no whole-grid temporary)."""
    src = np.asarray(coarse.data)
    H, W = grid.shape
    data = np.empty((H, W), dtype=src.dtype)
    for i in range(min(src.shape[0], -(-H // f))):
        data[i * f : (i + 1) * f] = np.repeat(src[i], f)[:W]
    return Raster(data, grid, coarse.nodata, {**coarse.attrs, "monte_carlo_factor": f})


REFINED_WRITE_THREADS = 2
"""GDAL threads compressing the tiles of :func:`refined_raster_file` (``GDAL_NUM_THREADS``)."""


def refined_raster_file(coarse: Raster, grid: GeoGrid, f: int, path: str | Path) -> LazyRaster:
    """:func:`refined_raster` written to the tiled GeoTIFF ``path`` (the store's format: ``INTERMEDIATE_COMPRESS``) a
    strip of tile rows at a time, its tiles compressed on GDAL's threads, and handed on as a scratch
    :class:`LazyRaster` (the store moves the file instead of compressing the array again). The same cells; no
    whole-grid array in memory."""
    src = np.asarray(coarse.data)
    H, W = grid.shape
    step = BLOCK_ALIGN * f  # whole tile rows and whole coarse rows
    attrs = {**coarse.attrs, "monte_carlo_factor": f}
    with (
        rasterio.Env(GDAL_NUM_THREADS=str(REFINED_WRITE_THREADS)),
        RasterWriter(path, grid, src.dtype, nodata=coarse.nodata, attrs=attrs, compress=INTERMEDIATE_COMPRESS) as out,
    ):
        for r0 in range(0, H, step):
            r1 = min(H, r0 + step)
            rows = src[r0 // f : -(-r1 // f)]
            out.write_rows(slice(r0, r1), np.repeat(np.repeat(rows, f, axis=0)[: r1 - r0], f, axis=1)[:, :W])
    frequency = out.raster(scratch=True)
    frequency.attrs = attrs
    return frequency


def fine_cells(coarse_mask: np.ndarray, grid: GeoGrid, f: int) -> int:
    """How many cells of ``grid`` lie in the True cells of ``coarse_mask`` (on ``grid`` coarsened ``f`` times; the
    bottom and right blocks partial): ``(refined_raster(mask) != 0).sum()`` without the fine grid."""
    H, W = grid.shape
    rows = np.minimum(f, H - np.arange(coarse_mask.shape[0]) * f).clip(0)
    cols = np.minimum(f, W - np.arange(coarse_mask.shape[1]) * f).clip(0)
    return int(rows @ np.asarray(coarse_mask, dtype=np.int64) @ cols)


def corridor_polygons(frequency: Raster, min_share: float, within: GeoGrid | None = None) -> gpd.GeoDataFrame:
    """Cells passed by at least ``min_share`` of the realisations, as polygons (EPSG:4326) with their area.
    ``within``: the finer grid ``frequency`` is the coarsened form of (the analysis grid), whose extent the polygons
    are clipped to: the same polygons as those of the frequency refined onto it, traced on the coarse cells."""
    mask = frequency.data >= min_share
    polys = routing.mask_to_polygons(mask, frequency.grid.transform) if mask.any() else []
    if within is not None and polys:
        box = shapely.box(*within.bounds)
        polys = sorted((p.intersection(box) for p in polys), key=lambda p: -p.area)
        polys = [p for p in polys if not p.is_empty]
    frame = gpd.GeoDataFrame(
        {"min_share_pct": [min_share * 100.0] * len(polys), "area_km2": [p.area / 1e6 for p in polys]},
        geometry=polys,
        crs=frequency.grid.crs,
    )
    return frame.to_crs(4326)


@dataclass(frozen=True)
class KpStations:
    """The design route's KP stations (KP, lon/lat) and where the spread is measured at each: the nearest point of
    the reference route (analysis CRS), the reference's unit direction there, and the signed offset of the design
    from it (m, positive to starboard of the reference)."""

    kp_km: np.ndarray
    lonlat: np.ndarray
    xy: np.ndarray
    tangent: np.ndarray
    design_offset_m: np.ndarray


def kp_stations(design: LineString, crs: CRS, interval_m: float, reference: LineString | None = None) -> KpStations:
    """Stations every ``interval_m`` of KP along ``design`` (analysis CRS; KP 0 at its first vertex, the first
    landing station, as in the RPL: :data:`geodata.deliverables.rpl.KP_BASIS`, KP geodesic), each placed on the
    nearest point of ``reference`` (None: the design itself)."""
    ch = Chainage(to_lonlat(design, crs))
    d = ch.stations(interval_m, include_vertices=False)
    lon, lat = ch.point_at(d)
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    on_design = np.column_stack([x, y])
    ref = design if reference is None else reference
    along = shapely.line_locate_point(ref, shapely.points(on_design))
    xy = np.asarray(shapely.get_coordinates(shapely.line_interpolate_point(ref, along)))
    t = line_tangents(ref, along, TANGENT_STEP_M)
    design_offset = cross_track(xy, t, design)[0] if reference is not None else np.zeros(len(xy))
    return KpStations(np.asarray(ch.kp_km(d)), np.column_stack([lon, lat]), xy, t, design_offset)


def cross_track_offsets(stations: KpStations, line: LineString) -> np.ndarray:
    """Signed distance (m) from each station to the nearest point of ``line``; positive to starboard of the
    reference route's direction of increasing KP."""
    return cross_track(stations.xy, stations.tangent, line)[0]


def kp_spread_table(stations: KpStations, offsets: np.ndarray, config: MonteCarlo) -> gpd.GeoDataFrame:
    """Per KP: mean and standard deviation of the signed offsets, 90th percentile and maximum of their size, the
    share within ``robust_offset_m`` and whether the KP is robust. ``offsets`` is ``(realisations, stations)``."""
    size = np.abs(offsets)
    within = (size <= config.robust_offset_m).mean(axis=0)
    frame = pd.DataFrame(
        {
            "kp_km": stations.kp_km,
            "lon_deg": stations.lonlat[:, 0],
            "lat_deg": stations.lonlat[:, 1],
            "mean_offset_m": offsets.mean(axis=0),
            "std_offset_m": offsets.std(axis=0),
            "p90_offset_m": np.percentile(size, 90, axis=0),
            "max_offset_m": size.max(axis=0),
            "within_pct": within * 100.0,
            "robust": within >= config.robust_min_share,
            "design_offset_m": stations.design_offset_m,
        }
    )
    frame["status"] = np.where(frame["robust"], "robust", "variable")
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon_deg"], frame["lat_deg"]), crs="EPSG:4326")


def robust_ranges(spread: pd.DataFrame) -> pd.DataFrame:
    """Consecutive KP ranges of equal robustness: KP from/to, length, the lowest share within the robust offset and
    the largest 90th-percentile offset."""
    cols = ["kp_from_km", "kp_to_km", "length_km", "robust", "min_within_pct", "max_p90_offset_m"]
    if not len(spread):
        return pd.DataFrame({c: pd.Series([], dtype=float) for c in cols}).astype({"robust": bool})
    flag = spread["robust"].to_numpy(dtype=bool)
    starts = np.flatnonzero(np.concatenate([[True], flag[1:] != flag[:-1]]))
    ends = np.concatenate([starts[1:], [len(flag)]])
    kp = spread["kp_km"].to_numpy()
    rows = []
    for s, e in zip(starts, ends, strict=True):
        part = spread.iloc[s:e]
        kp_to = kp[e] if e < len(kp) else kp[-1]  # a range runs to the next range's first KP
        rows.append(
            {
                "kp_from_km": float(kp[s]),
                "kp_to_km": float(kp_to),
                "length_km": float(kp_to - kp[s]),
                "robust": bool(flag[s]),
                "min_within_pct": float(part["within_pct"].min()),
                "max_p90_offset_m": float(part["p90_offset_m"].max()),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def ranking_table(results: Sequence[RealisationResult], tolerance: float) -> pd.DataFrame:
    """Each candidate route costed on every successful realisation: mean and spread of its cost, its excess over
    the realisation's own optimum, how often it is the cheapest candidate and within ``tolerance`` of the optimum,
    and its mean rank among the candidates (1 = cheapest)."""
    ok = [r for r in results if r.path is not None]
    names = list(ok[0].candidate_costs) if ok else []
    costs = np.array([[r.candidate_costs[n] for n in names] for r in ok], dtype=float).reshape(len(ok), len(names))
    optimum = np.array([r.cost for r in ok], dtype=float)[:, None]
    excess = costs / optimum - 1.0
    ranks = costs.argsort(axis=1).argsort(axis=1) + 1
    best = costs.argmin(axis=1) if len(names) else np.array([], dtype=int)
    rows = []
    for j, name in enumerate(names):
        finite = np.isfinite(costs[:, j])
        rows.append(
            {
                "candidate": name,
                "base_rank": int(name.removeprefix("rank_")),
                "mean_cost": float(costs[finite, j].mean()) if finite.any() else math.inf,
                "std_cost": float(costs[finite, j].std()) if finite.any() else math.nan,
                "blocked_pct": float((~finite).mean() * 100.0),
                "mean_excess_pct": float(excess[finite, j].mean() * 100.0) if finite.any() else math.inf,
                "within_tolerance_pct": float((excess[:, j] <= tolerance).mean() * 100.0),
                "cheapest_pct": float((best == j).mean() * 100.0),
                "mean_rank": float(ranks[:, j].mean()),
            }
        )
    frame = pd.DataFrame(rows)
    return frame.sort_values(["mean_rank", "base_rank"]).reset_index(drop=True) if len(frame) else frame


def realisation_tasks(config: MonteCarlo) -> list[RealisationTask]:
    return [RealisationTask(i, config.seed) for i in range(config.realisations)]


def monte_carlo_route(
    shared: MonteCarloInputs,
    design: LineString,
    crs: CRS,
    ends: landfall.Landfalls | None,
    *,
    kp_interval_m: float,
    corridor_tolerance: float,
    client: Any | None = None,
    threads: int | None = None,
    frequency_path: str | Path | None = None,
) -> MonteCarloResult:
    """Run ``shared.config.realisations`` realisations (here on ``threads`` threads, None:
    :func:`geodata.sweep.local_threads`; or on the dask ``client``: the same realisations either way) and summarise
    them against the design route ``design`` (analysis CRS, station to station; KP 0 at its start). Each
    realisation's routed path is joined to the shore ends ``ends`` (None: ``design`` is the routed path itself,
    without shore ends). ``frequency_path``: a scratch GeoTIFF the passage frequency refined to the analysis grid
    is written to (:func:`refined_raster_file`; only when the Monte Carlo grid is coarser); else it is an array."""
    cfg = shared.config
    threads = local_threads() if threads is None else threads
    if client is None:
        shared.plan  # noqa: B018  # derived once, before the threads share it
    outcome = run_sweep(run_realisation, realisation_tasks(cfg), shared=shared, client=client, threads=threads)
    ok = [r for r in outcome.results if r.path is not None]
    failed = [f"realisation {r.index}: {r.error}" for r in outcome.results if r.path is None]
    if len(ok) < 2:
        raise ConfigError(
            f"only {len(ok)} of {cfg.realisations} Monte Carlo realisations found a route ({'; '.join(failed[:3])}); "
            "reduce montecarlo.depth_sigma_* or montecarlo.hazard_position_sigma_m in the scenario"
        )
    grid = shared.depth.grid
    base = shared.weights.model_dump()
    coarse_frequency = passage_frequency([r.path for r in ok if r.path is not None], grid)
    frequency = coarse_frequency
    passed, robust = coarse_frequency.data > 0, coarse_frequency.data >= cfg.corridor_min_share
    cells_passed, cells_robust = int(passed.sum()), int(robust.sum())
    if shared.analysis_grid is not None:
        fine, f = shared.analysis_grid, shared.factor
        if frequency_path is not None:
            frequency = refined_raster_file(coarse_frequency, fine, f, frequency_path)
        else:
            frequency = refined_raster(coarse_frequency, fine, f)
        cells_passed, cells_robust = fine_cells(passed, fine, f), fine_cells(robust, fine, f)
    fine = shared.analysis_grid or grid
    routed = shared.design_path if shared.design_path is not None else shared.candidates["rank_0"]
    lines = [LineString(routing.path_xy(routed, fine.transform))]
    lines += [LineString(routing.path_xy(r.path, grid.transform)) for r in ok if r.path is not None]
    if ends is not None:
        lines = [landfall.assemble_route(ends[0], line, ends[1]) for line in lines]
    reference, lines = lines[0], lines[1:]
    stations = kp_stations(design, crs, kp_interval_m, reference)
    offsets = np.vstack([cross_track_offsets(stations, line) for line in lines])
    spread = kp_spread_table(stations, offsets, cfg)
    routes = gpd.GeoDataFrame(
        {
            "realisation_index": [r.index for r in ok],
            "cost": [r.cost for r in ok],
            "length_km": [r.length_m / 1000.0 for r in ok],
            **{f"{w}_ratio": [r.weights[w] / base[w] if base[w] else 1.0 for r in ok] for w in PERTURBED_WEIGHTS},
        },
        geometry=lines,
        crs=crs,
    ).to_crs(4326)
    stats = {
        "realisations": cfg.realisations,
        "succeeded": len(ok),
        "failed": failed,
        "seed": cfg.seed,
        "monte_carlo_factor": shared.factor,
        "monte_carlo_cell_m": round(max(grid.res), 1),
        "where": outcome.where,
        "wall_s": round(outcome.wall_s, 3),
        "realisations_per_s": round(cfg.realisations / outcome.wall_s, 3) if outcome.wall_s > 0 else math.inf,
        "cells_passed": cells_passed,
        "cells_robust": cells_robust,
        "max_p90_offset_m": round(float(spread["p90_offset_m"].max()), 1),
        "max_design_offset_m": round(float(np.abs(stations.design_offset_m).max()), 1),
    }
    return MonteCarloResult(
        frequency=frequency,
        corridor=corridor_polygons(coarse_frequency, cfg.corridor_min_share, within=shared.analysis_grid),
        kp_spread=spread,
        robust_ranges=robust_ranges(spread),
        ranking=ranking_table(ok, corridor_tolerance),
        routes=routes,
        stats=stats,
    )
