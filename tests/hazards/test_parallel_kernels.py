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
        r0, c0, r1 = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(0, shape[0])
        c1 = rng.integers(0, shape[1])
        n = max(abs(r1 - r0), abs(c1 - c0)) + 1
        feature[np.linspace(r0, r1, n).round().astype(int), np.linspace(c0, c1, n).round().astype(int)] = True
    return feature


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_band_rows_of_the_column_pass_are_the_serial_ones(seed: int) -> None:
    """The parallel column pass of a band's rows only (the halo scanned, not written) gives those rows of the serial
    whole pass: the whole window (150 x 203, not a whole number of strips), bands at the top, the bottom, inside,
    one row, empty, and windows with empty columns (SYNTHETIC)."""
    rng = np.random.default_rng(seed)
    for shape in ((150, 203), (1, 70), (61, 1)):
        feature = _features(seed, shape) if min(shape) > 1 else rng.random(shape) < 0.2
        far = sum(shape) + 1
        whole = _kernels._column_pass(feature, far)
        for lo, hi in ((0, shape[0]), (0, 1), (shape[0] - 1, shape[0]), (shape[0] // 3, shape[0] // 2), (5, 5)):
            lo, hi = min(lo, shape[0]), min(hi, shape[0])
            assert np.array_equal(_kernels._column_pass_rows(feature, far, lo, hi), whole[lo:hi])
    empty = np.zeros((40, 70), dtype=bool)
    assert np.array_equal(_kernels._column_pass_rows(empty, 111, 10, 30), _kernels._column_pass(empty, 111)[10:30])


@pytest.mark.parametrize("ascending", [True, False])
def test_scatter_add_is_numpy_s(ascending: bool) -> None:
    """``scatter_add`` into a strided view adds as numpy's flat indexing does, ascending (what kept_excess gives,
    rows skipped included) or in any order (SYNTHETIC)."""
    rng = np.random.default_rng(7)
    for h, w in ((13, 17), (1, 9), (9, 1)):
        base = rng.random((h + 3, w + 5))
        index = rng.choice(h * w, (h * w) // 3 + 1, replace=False)
        index = np.sort(index) if ascending else index
        values = rng.random(index.size)
        ours, expected = base.copy(), base.copy()
        _kernels.scatter_add(ours[1 : h + 1, 2 : w + 2], index.astype(np.int64), values)
        flat = expected[1 : h + 1, 2 : w + 2].ravel()  # a copy: the view is strided
        np.add.at(flat, index, values)
        expected[1 : h + 1, 2 : w + 2] = flat.reshape(h, w)
        assert np.array_equal(ours, expected)


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


@njit(cache=False, error_model="numpy")  # as the point pass: 0 / 0 is a NaN the select leaves out
def _hypots(x: np.ndarray, y: np.ndarray, ours: np.ndarray, out: np.ndarray, lib: np.ndarray) -> None:
    for i in range(x.size):
        ours[i], out[i] = _kernels._hypot_common(x[i], y[i])
        lib[i] = math.hypot(x[i], y[i])


def test_the_vectorisable_hypot_is_the_library_s_bit_for_bit() -> None:
    """glibc's hypot as :func:`_kernels._hypot_common` computes it, against ``math.hypot``: SYNTHETIC pairs of grid
    offsets (what the point pass measures), of every magnitude, and the edges (zeros, equal, a vanishing smaller
    one); outside the common range it says so (the point pass then calls ``math.hypot``)."""
    rng = np.random.default_rng(11)
    n = 400_000
    c, r = rng.integers(0, 5000, n), rng.integers(0, 6000, n)
    grid_x = (243100.0 + (c + 0.5) * 100.0) - rng.uniform(2e5, 8e5, n)
    grid_y = (4987400.0 - (r + 0.5) * 100.0) - rng.uniform(4.3e6, 5.1e6, n)
    wide_x = rng.standard_normal(n) * 10.0 ** rng.uniform(-300, 300, n)
    wide_y = rng.standard_normal(n) * 10.0 ** rng.uniform(-300, 300, n)
    near = rng.uniform(1.0, 1e6, n)
    edges = np.array([0.0, -0.0, 1.0, 3.0, 1e-300, 5e-324, 1e300, 2.0**-459, 2.0**511, 2.0**-54, 7.0])
    ex, ey = np.meshgrid(edges, edges)
    x = np.concatenate([grid_x, wide_x, near, near, ex.ravel()])
    y = np.concatenate([grid_y, wide_y, near * (1.0 + rng.uniform(-1e-8, 1e-8, n)), near * 1e-17, ey.ravel()])
    ours, out, lib = np.empty(x.size), np.empty(x.size, dtype=np.bool_), np.empty(x.size)
    _hypots(x, y, ours, out, lib)
    common = ~out
    assert common[:n].all()
    assert common[2 * n : 4 * n].all()
    assert 0.2 < common[n : 2 * n].mean() < 0.9
    assert np.array_equal(ours[common].view(np.int64), lib[common].view(np.int64))
    ax, ay = np.maximum(np.abs(x), np.abs(y)), np.minimum(np.abs(x), np.abs(y))
    assert np.array_equal(out, (ax > 2.0**511) | (ay < 2.0**-459))


def test_point_pass_on_cell_centres_takes_the_library_hypot() -> None:
    """Points exactly on a row or column of cell centres (an offset of exactly 0 in that row or column: outside
    the vectorised hypot's range) get the serial pass's numbers too (SYNTHETIC)."""
    shape, row0 = (30, 41), 5
    left, top, dy, dx = 1000.0, 9000.0, 100.0, 100.0
    on_centres = [[10.5, 12.5], [20.5, 17.3], [7.1, 20.5]]  # cells right and down from the corner
    xy = np.array([[left + c * dx, top - r * dy] for c, r in on_centres])
    weight = np.array([1.0, 0.5, 2.0])
    params = np.array([left, top, dy, dx, 0.0, 600.0, math.log(1000.0)])
    n = len(weight)
    r0, r1 = np.zeros(n, np.int64), np.full(n, 100, np.int64)
    c0, c1 = np.zeros(n, np.int64), np.full(n, shape[1], np.int64)
    which = np.arange(n)
    ours, serial = np.zeros(shape), np.zeros(shape)
    _kernels.add_point_soft(ours, row0, params, xy, weight, r0, r1, c0, c1, which)
    _serial_point_soft(serial, row0, params, xy, weight, r0, r1, c0, c1, which)
    assert np.array_equal(ours, serial)
    assert ours[12 - row0, 10] > 1.0  # the first point's own cell: its full weight, and the others' terms
    library = np.zeros(shape)
    _kernels.add_point_soft(library, row0, params, xy, weight, r0, r1, c0, c1, which, False)
    assert np.array_equal(library, serial)


def test_the_vectorised_hypot_is_this_libm_s() -> None:
    assert _kernels.hypot_is_libm()
