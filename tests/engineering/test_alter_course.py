"""Alter courses: zig-zags become a few clear legs, and each leg rule is honoured."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString

from geodata.engineering.alter_course import (
    grid_segment_cost,
    mask_clearance,
    segment_cells,
    simplify_to_legs,
    turn_deg,
)
from geodata.grid import GeoGrid

GRID = GeoGrid("EPSG:32639", Affine(1000.0, 0, 0.0, 0, -1000.0, 100_000.0), (100, 100))


def obstacle_world() -> tuple[np.ndarray, np.ndarray, LineString]:
    mask = np.zeros(GRID.shape, bool)
    mask[40:60, 45:55] = True  # x 45-55 km, y 40-60 km
    cost = np.where(mask, np.inf, 1.0)
    xs = np.arange(5000.0, 95_001.0, 1000.0)
    ys = 50_000 + np.where((xs > 38_000) & (xs < 62_000), 15_000, 0) + np.where(np.arange(len(xs)) % 2 == 0, 400, -400)
    return mask, cost, LineString(np.column_stack([xs, ys]))


def legs_clear(line: LineString, mask: np.ndarray) -> bool:
    clear = mask_clearance(mask, GRID)
    c = np.asarray(line.coords)
    return all(clear(*c[i], *c[i + 1]) for i in range(len(c) - 1))


def total_cost(line: LineString, cost: np.ndarray) -> float:
    f = grid_segment_cost(cost, GRID)
    c = np.asarray(line.coords)
    return sum(f(*c[i], *c[i + 1]) for i in range(len(c) - 1))


def test_segment_cells_is_exact() -> None:
    rows, cols, lengths = segment_cells(GRID, 500.0, 99_500.0, 3500.0, 96_500.0)  # a diagonal through corners
    assert lengths.sum() == pytest.approx(math.hypot(3000, 3000))
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {(0, 0), (1, 1), (2, 2), (3, 3)}
    rows, cols, _ = segment_cells(GRID, 100.0, 99_900.0, 1900.0, 99_100.0)  # clips cell (0, 1)
    assert (0, 1) in set(zip(rows.tolist(), cols.tolist(), strict=True))


def test_zigzag_reduces_to_few_clear_legs_within_the_cost_bound() -> None:
    mask, cost, line = obstacle_world()
    assert legs_clear(line, mask)
    plan = simplify_to_legs(
        line,
        mask_clearance(mask, GRID),
        min_leg_length_m=3000,
        max_course_change_deg=30,
        segment_cost=grid_segment_cost(cost, GRID),
        max_cost_increase=0.02,
    )
    assert len(line.coords) == 91
    assert len(plan.line.coords) <= 6
    assert plan.violations == []
    assert legs_clear(plan.line, mask)
    assert total_cost(plan.line, cost) <= 1.02 * total_cost(line, cost)
    for ac in plan.alter_courses:
        assert abs(ac.course_change_deg) <= 30 + 1e-6
        assert ac.leg_in_m >= 3000 - 1e-6
        assert ac.leg_out_m >= 3000 - 1e-6
    assert plan.line.coords[0] == line.coords[0]
    assert plan.line.coords[-1] == line.coords[-1]


def test_without_the_mask_the_shortcut_would_cross_the_obstacle() -> None:
    mask, _, line = obstacle_world()
    plan = simplify_to_legs(
        line, lambda *a: True, min_leg_length_m=0, max_course_change_deg=180
    )  # nothing to respect: one leg, through the obstacle
    assert len(plan.line.coords) == 2
    assert not legs_clear(plan.line, mask)


def test_sharp_turn_is_split_into_several_alter_courses() -> None:
    line = LineString([(10_000, 10_000), (50_000, 10_000), (50_000, 50_000)])  # a 90 degree turn round a block
    block = np.zeros(GRID.shape, bool)
    block[55:86, 20:46] = True  # x 20-46 km, y 15-45 km: no shortcut across the corner
    plan = simplify_to_legs(line, mask_clearance(block, GRID), min_leg_length_m=2000, max_course_change_deg=30)
    assert legs_clear(plan.line, block)
    assert plan.violations == []
    changes = [ac.course_change_deg for ac in plan.alter_courses]
    assert len(changes) == 3
    assert sum(changes) == pytest.approx(-90.0)  # a left turn, in three steps
    assert all(abs(c) <= 30 + 1e-6 for c in changes)
    c = np.asarray(plan.line.coords)
    assert np.hypot(*np.diff(c, axis=0).T).min() >= 2000 - 1e-6


def test_short_leg_is_removed_and_rule_breaks_are_reported() -> None:
    line = LineString([(10_000, 10_000), (30_000, 10_000), (30_500, 10_600), (60_000, 12_000)])
    free = np.zeros(GRID.shape, bool)
    plan = simplify_to_legs(line, mask_clearance(free, GRID), min_leg_length_m=2000, max_course_change_deg=60)
    c = np.asarray(plan.line.coords)
    assert np.hypot(*np.diff(c, axis=0).T).min() >= 2000
    # a wall forces the zig and a 1 km leg: the violation is reported, not hidden
    wall = np.zeros(GRID.shape, bool)
    wall[60:99, 20] = True  # x 20-21 km, y below 40 km
    wall[50:58, 15:26] = True  # x 15-26 km, y 42-50 km: the legs cannot meet above the wall either
    detour = LineString([(10_000, 10_000), (19_500, 41_500), (21_500, 41_500), (30_000, 10_000)])
    plan = simplify_to_legs(detour, mask_clearance(wall, GRID), min_leg_length_m=3000, max_course_change_deg=180)
    assert legs_clear(plan.line, wall)
    assert any("min_leg_length_m" in v for v in plan.violations)


def test_kept_vertices_stay() -> None:
    line = LineString([(10_000, 10_000), (11_000, 10_100), (12_000, 10_000), (40_000, 10_000)])
    free = np.zeros(GRID.shape, bool)
    plan = simplify_to_legs(
        line, mask_clearance(free, GRID), min_leg_length_m=0, max_course_change_deg=90, keep=(0, 1, -1)
    )
    assert (11_000, 10_100) in list(plan.line.coords)


def test_turn_sign_convention() -> None:
    assert turn_deg(np.array([0, 0]), np.array([1, 0]), np.array([1, -1])) == pytest.approx(90.0)  # starboard
    assert turn_deg(np.array([0, 0]), np.array([1, 0]), np.array([1, 1])) == pytest.approx(-90.0)  # port
