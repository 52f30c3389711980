"""A weight sensitivity sweep: the least-cost route and corridor re-solved on cost surfaces re-weighted per sample.

Pure arrays, like the rest of :mod:`geodata.routing`: the cost surface arrives as its weighted terms (cost per metre,
one array per term, as :attr:`geodata.cost.CostSurface.terms` holds them) and the mask of impassable cells. A sample
is a set of **factors** applied to those terms (``{"shallow": 1.2}`` makes shallow water 20 % dearer; an absent term
keeps factor 1), so a term the scenario weighted 0 stays 0. Each sample, :func:`route_sample`:

1. re-costs: ``total = sum_k factor_k * term_k``, ``inf`` where blocked (the barriers never change with weights);
2. routes: :func:`~geodata.routing.least_cost_path` between the two cells;
3. finds the near-optimal corridor (:func:`~geodata.routing.least_cost_corridor`, two accumulated-cost searches
   bounded by the corridor's threshold, the heavy part), and measures the route's separation from the baseline route
   and the baseline route's cost on the re-weighted surface (its *regret*: how much dearer keeping the baseline route
   would be under these weights).

:func:`route_sample` is a top-level function of ``(sample, shared)``, so :func:`geodata.sweep.run_sweep` runs it
serially or on a dask cluster with the terms scattered once. A sample's factors come from its own seed
(:func:`perturbed_samples`), so the sweep is the same, seed for seed, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from geodata.routing.alternatives import separation
from geodata.routing.core import path_cost
from geodata.routing.corridor import least_cost_corridor
from geodata.routing.errors import RoutingError
from geodata.routing.path import least_cost_path


class SweepInputError(RoutingError):
    """A weight sweep's terms, factors or settings are inconsistent (unknown term, bad spread, misaligned array)."""


@dataclass(frozen=True)
class WeightSweepInput:
    """What every sample shares (scattered once to a cluster): the weighted terms, the barriers and the ends."""

    terms: Mapping[str, np.ndarray]
    """Cost per metre of each term at the scenario's weights (all one shape)."""
    blocked: np.ndarray
    """bool, True where impassable whatever the weights."""
    start: tuple[int, int]
    goal: tuple[int, int]
    cell_size: tuple[float, float]
    tolerance: float = 0.05
    """Corridor tolerance (fraction above the optimum)."""
    method: str = "auto"
    baseline: np.ndarray | None = None
    """The baseline route's ``(row, col)`` polyline, to measure separation and regret against (None: not measured)."""
    share_distance_m: float = 1000.0
    """Distance under which a sample's route counts as sharing ground with the baseline."""

    def __post_init__(self) -> None:
        if not self.terms:
            raise SweepInputError("a weight sweep needs at least one cost term; pass the cost surface's terms")
        shapes = {name: np.shape(t) for name, t in self.terms.items()}
        if len(set(shapes.values()) | {np.shape(self.blocked)}) != 1:
            raise SweepInputError(
                f"cost terms {shapes} and the blocked mask {np.shape(self.blocked)} must share one grid shape; "
                "pass the terms and barriers of one cost surface"
            )


@dataclass(frozen=True)
class WeightSample:
    """One task: its index (0 = the scenario's own weights) and the factor of each perturbed term."""

    index: int
    factors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepRoute:
    """The result of one sample."""

    index: int
    factors: dict[str, float]
    cost: float
    """The route's cost on the sample's surface."""
    length_m: float
    path: np.ndarray
    """(N, 2) ``(row, col)`` polyline of the route."""
    corridor: np.ndarray
    """The corridor mask, bit-packed (``np.packbits`` of the flattened bool mask; :meth:`corridor_mask` unpacks)."""
    corridor_cells: int
    hausdorff_m: float | None
    """Symmetric Hausdorff distance to the baseline route (None without a baseline)."""
    shared_fraction: float | None
    """Fraction of the route within ``share_distance_m`` of the baseline route."""
    baseline_regret: float | None
    """Cost of the baseline route on this sample's surface over this sample's optimum, minus 1 (>= 0)."""

    def corridor_mask(self, shape: tuple[int, int]) -> np.ndarray:
        return np.unpackbits(self.corridor, count=shape[0] * shape[1]).reshape(shape).astype(bool)


def perturbed_samples(terms: Sequence[str], samples: int, spread: float, seed: int) -> list[WeightSample]:
    """Sample 0 with every factor 1, then ``samples`` samples scaling each of ``terms`` by a factor drawn uniformly
    from ``[1 - spread, 1 + spread]`` by ``numpy.random.default_rng((seed, index))``."""
    if not terms:
        raise SweepInputError("perturbed_samples needs at least one term to perturb (e.g. ['shallow', 'slope'])")
    if len(set(terms)) != len(terms):
        raise SweepInputError(f"terms {list(terms)} repeat a name; list each term once")
    if not (0 < spread < 1):
        raise SweepInputError(f"spread={spread} must lie in (0, 1) so that every factor stays positive")
    if samples < 0:
        raise SweepInputError(f"samples={samples} must be 0 or more")
    out = [WeightSample(0, {name: 1.0 for name in terms})]
    for index in range(1, samples + 1):
        draws = np.random.default_rng((seed, index)).uniform(1.0 - spread, 1.0 + spread, size=len(terms))
        out.append(WeightSample(index, {name: float(f) for name, f in zip(terms, draws, strict=True)}))
    return out


RECOST_CELLS = 1 << 16
"""Cells per strip of :func:`reweighted_cost` (64 Ki cells: 512 KiB of float64 sum, well inside a core's cache)."""


def reweighted_cost(shared: WeightSweepInput, factors: Mapping[str, float]) -> np.ndarray:
    """``sum_k factors[k] * terms[k]`` (factor 1 for absent terms), ``inf`` where blocked, float64."""
    unknown = sorted(set(factors) - set(shared.terms))
    if unknown:
        raise SweepInputError(f"factors for {unknown} match no cost term; the terms are {sorted(shared.terms)}")
    bad = {k: f for k, f in factors.items() if not (np.isfinite(f) and f >= 0)}
    if bad:
        raise SweepInputError(f"factors {bad} must be finite and non-negative")
    shape = np.shape(shared.blocked)
    total = np.empty(shape, dtype="float64")
    weighted = [(term, float(factors.get(name, 1.0))) for name, term in shared.terms.items()]
    # A strip of rows at a time (about RECOST_CELLS cells), so the partial sums and each term's product stay in the
    # core's cache: one pass over the terms and one write of the total, instead of a whole-grid temporary and a
    # read-modify-write of the whole total per term. Per cell the same operations in the same order as
    # ``sum_k factor_k * term_k`` on whole arrays (the product in the term's dtype, added to a float64 sum starting
    # at 0), so the values are identical (tested).
    rows = max(1, RECOST_CELLS // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    for r0 in range(0, shape[0], rows):
        part = total[r0 : r0 + rows]
        part.fill(0.0)
        for term, factor in weighted:
            part += factor * term[r0 : r0 + rows]
        part[shared.blocked[r0 : r0 + rows]] = np.inf
    return total


def route_sample(sample: WeightSample, shared: WeightSweepInput) -> SweepRoute:
    """Re-cost with the sample's factors, route, find the corridor and compare with the baseline (see the module)."""
    cost = reweighted_cost(shared, sample.factors)
    route = least_cost_path(cost, shared.start, shared.goal, cell_size=shared.cell_size, method=shared.method)
    corridor = least_cost_corridor(
        cost, shared.start, shared.goal, cell_size=shared.cell_size, tolerance=shared.tolerance, method=shared.method
    )
    hausdorff = shared_fraction = regret = None
    if shared.baseline is not None:
        sep = separation(route.path, shared.baseline, shared.cell_size, shared.share_distance_m)
        hausdorff, shared_fraction = sep.hausdorff_m, sep.shared_fraction
        regret = path_cost(cost, shared.baseline, shared.cell_size) / route.cost - 1.0 if route.cost > 0 else 0.0
    return SweepRoute(
        index=sample.index,
        factors=dict(sample.factors),
        cost=float(route.cost),
        length_m=float(route.length_m),
        path=np.asarray(route.path, dtype="float64"),
        corridor=np.packbits(corridor.mask.ravel()),
        corridor_cells=int(corridor.mask.sum()),
        hausdorff_m=hausdorff,
        shared_fraction=shared_fraction,
        baseline_regret=max(0.0, regret) if regret is not None else None,
    )


def corridor_frequency(results: Sequence[SweepRoute], shape: tuple[int, int]) -> np.ndarray:
    """How many samples' corridors hold each cell (uint16)."""
    count = np.zeros(shape, dtype="uint16")
    for res in results:
        count += res.corridor_mask(shape)
    return count
