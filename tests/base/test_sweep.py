"""The fan-out seam: serial runs keep task order and pass ``shared`` to every task."""

from __future__ import annotations

import numpy as np

from geodata.sweep import run_sweep


def _scaled_sum(task: tuple[int, float], shared: np.ndarray) -> float:
    seed, factor = task
    noise = np.random.default_rng(seed).normal(size=shared.shape)
    return float(((shared + noise) * factor).sum())


def test_serial_sweep_keeps_order_and_is_reproducible() -> None:
    shared = np.arange(12.0).reshape(3, 4)
    tasks = [(seed, 1.0 + seed / 10) for seed in range(5)]
    first = run_sweep(_scaled_sum, tasks, shared=shared)
    second = run_sweep(_scaled_sum, list(reversed(tasks)), shared=shared)
    assert first.where == "serial"
    assert first.retried == 0
    assert first.results == [_scaled_sum(t, shared) for t in tasks]
    assert second.results == list(reversed(first.results))
