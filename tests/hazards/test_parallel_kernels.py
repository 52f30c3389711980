"""The parallel hazard kernels give the numbers of the serial formulas they replaced, bit for bit (SYNTHETIC
features and points): the kept cells and excesses of a line's window, the parallel column pass, and the exact
point pass whose rows run in parallel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from geodata.hazards import _kernels
from geodata.hazards.raster import _soft_contribution


def _features(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    feature = np.zeros(shape, dtype=bool)
    for _ in range(3):  # a few straight strokes, as a rasterised line touches cells
        r0, c0, r1, c1 = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(0, shape[0]), 0
        c1 = rng.integers(0, shape[1])
        n = max(abs(r1 - r0), abs(c1 - c0)) + 1
        feature[np.linspace(r0, r1, n).round().astype(int), np.linspace(c0, c1, n).round().astype(int)] = True
    return feature


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parallel_column_pass_equals_the_serial_one(seed: int) -> None:
    feature = _features(seed, (150, 203))  # not a whole number of strips
    far = sum(feature.shape) + 1
    assert np.array_equal(_kernels._column_pass_parallel(feature, far), _kernels._column_pass(feature, far))
    empty = np.zeros((40, 70), dtype=bool)
    assert np.array_equal(_kernels._column_pass_parallel(empty, 111), _kernels._column_pass(empty, 111))


# decays of one to three cells: the row pass leaves most of the window's parabolas and columns out (beyond the reach)
@pytest.mark.parametrize(
    ("seed", "band", "decay"), [(1, 0.0, 100.0), (2, 300.0, 150.0), (3, 0.0, 250.0), (4, 120.0, 40.0), (5, 0.0, 15.0)]
)
def test_kept_excess_is_what_the_soft_contribution_keeps(seed: int, band: float, decay: float) -> None:
    feature = _features(seed, (160, 120))
    dy, dx, rf = 100.0, 80.0, math.log(1000.0)
    rows, cols = (23, 131), (7, 111)
    distance = _kernels.distance_to_cells(feature, dy, dx)[rows[0] : rows[1], cols[0] : cols[1]]
    expected = _soft_contribution(distance, 1.7, band, decay, rf)
    index, excess = _kernels.kept_excess(feature, dy, dx, rows, cols, band, decay, rf)
    got = np.zeros(distance.shape)
    _kernels.scatter_add(got, index, 1.7 * np.exp(-excess))
    assert np.array_equal(got, expected)
    assert np.all(np.diff(index) > 0)  # row-major, each cell once
    kept = np.zeros(distance.size, dtype=bool)
    kept[index] = True
    assert np.array_equal(kept.reshape(distance.shape), np.maximum(distance - band, 0.0) / decay <= rf)
    assert 0 < index.size < distance.size


@njit(cache=False)
def _serial_point_soft(
    soft: np.ndarray,
    row0: int,
    params: np.ndarray,
    xy: np.ndarray,
    weight: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    c0: np.ndarray,
    c1: np.ndarray,
    which: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """The point pass as it was before its rows ran in parallel (verbatim): point by point over each one's rows."""
    left, top, dy, dx = params[0], params[1], params[2], params[3]
    band, decay, rf = params[4], params[5], params[6]
    reach = band + rf * decay
    h = soft.shape[0]
    for k in which:
        w = weight[k]
        if w <= 0.0:
            continue
        px, py = xy[k, 0], xy[k, 1]
        ra, rb = max(r0[k], row0), min(r1[k], row0 + h)
        for r in range(ra, rb):
            ey = (top - (r + 0.5) * dy) - py
            if abs(ey) > reach + dy:
                continue
            half = math.sqrt(max((reach + dx) ** 2 - ey * ey, 0.0))
            ca = max(c0[k], math.floor((px - half - left) / dx - 0.5))
            cb = min(c1[k], math.ceil((px + half - left) / dx + 0.5) + 1)
            for c in range(ca, cb):
                d = math.hypot((left + (c + 0.5) * dx) - px, ey)
                e = max(d - band, 0.0) / decay
                if e <= rf:
                    soft[r - row0, c] += w * math.exp(-e)


def test_row_parallel_point_pass_sums_each_cell_in_point_order() -> None:
    rng = np.random.default_rng(4)
    shape, row0 = (37, 45), 11
    left, top, dy, dx = 1000.0, 9000.0, 100.0, 100.0
    xy = np.column_stack([rng.uniform(left - 500, left + 5000, 25), rng.uniform(top - 5500, top - 500, 25)])
    weight = rng.uniform(0.1, 3.0, 25)
    params = np.array([left, top, dy, dx, 150.0, 400.0, math.log(1000.0)])
    n = len(weight)
    big = np.int64(10**6)
    r0, r1 = rng.integers(0, 30, n), np.where(np.arange(n) % 3 == 0, big, rng.integers(20, 60, n))
    c0, c1 = rng.integers(0, 10, n), rng.integers(30, shape[1] + 1, n)
    which = np.flatnonzero(np.arange(n) % 5 != 4)
    weight[7] = 0.0
    ours, serial = np.zeros(shape), np.zeros(shape)
    _kernels.add_point_soft(ours, row0, params, xy, weight, r0, r1, c0, c1, which)
    _serial_point_soft(serial, row0, params, xy, weight, r0, r1, c0, c1, which)
    assert np.array_equal(ours, serial)
    assert (ours > 0).mean() > 0.3
