"""The named steps of the depth mosaic, each on its own. All arrays are SYNTHETIC."""

from __future__ import annotations

import numpy as np

from geodata.bathymetry.mosaic import composite_by_priority, encode_source_index, to_depth


def test_to_depth_converts_elevations_and_depths_to_depth_below_the_caspian_surface() -> None:
    values = np.array([-128.0, 50.0], dtype="float32")
    up = to_depth(values, positive="up", vertical_reference_m=0.0, water_level_m=-28.0)
    assert up.dtype == np.float32
    assert up.tolist() == [100.0, -78.0]  # sea 100 m deep, land 78 m above the water
    down = to_depth(np.array([40.0], dtype="float32"), positive="down", vertical_reference_m=-28.0, water_level_m=-28.0)
    assert down.tolist() == [40.0]


def test_composite_by_priority_puts_the_higher_priority_on_top_and_fills_its_gaps() -> None:
    low = np.full((2, 3), 10.0, dtype="float32")
    high = np.array([[5.0, np.nan, 5.0], [np.nan, np.nan, 5.0]], dtype="float32")
    depth, index = composite_by_priority([low, high], [(0, 0), (-10, 1)])  # sort key: (-priority, order)
    assert depth.tolist() == [[5.0, 10.0, 5.0], [10.0, 10.0, 5.0]]
    assert index.tolist() == [[1, 0, 1], [0, 0, 1]]
    assert index.dtype == np.int16


def test_composite_blend_feathers_the_higher_source_into_the_lower() -> None:
    low = np.zeros((1, 7), dtype="float32")
    high = np.array([[np.nan, 10, 10, 10, 10, 10, np.nan]], dtype="float32")
    hard, _ = composite_by_priority([low, high], [(0, 0), (-1, 1)])
    soft, _ = composite_by_priority([low, high], [(0, 0), (-1, 1)], blend_cells=2)
    assert hard[0, 1] == 10.0
    assert 0.0 < soft[0, 1] < 10.0
    assert soft[0, 3] == 10.0


def test_source_index_encoding_is_compact() -> None:
    index = np.zeros((500, 500), dtype="int16")
    index[100:200, 100:300] = 1
    enc = encode_source_index(index)
    assert enc["shape"] == [500, 500]
    assert len(enc["data"]) < 2_000
