"""The weight sweep's per-sample work on a synthetic (seeded) surface: re-costing, seeded samples, and one sample
equal to the library's own route and corridor on the re-weighted surface, serially and on an in-process cluster."""

from __future__ import annotations

import numpy as np
import pytest
from distributed import Client, LocalCluster

from geodata import routing
from geodata.routing.sweep import (
    SweepInputError,
    WeightSample,
    WeightSweepInput,
    corridor_frequency,
    perturbed_samples,
    reweighted_cost,
    route_sample,
)
from geodata.sweep import run_sweep

CELL = (100.0, 100.0)


@pytest.fixture(scope="module")
def shared() -> WeightSweepInput:
    """Synthetic terms on 60 x 80 cells: length 1, a 'shallow' band, noisy 'slope', and an impassable block."""
    rng = np.random.default_rng(7)
    shape = (60, 80)
    rows = np.arange(shape[0])[:, None] * np.ones(shape)
    terms = {
        "length": np.ones(shape),
        "shallow": 2.0 * np.exp(-(((rows - 30) / 8) ** 2)),
        "slope": 0.2 * rng.uniform(0, 5, size=shape),
    }
    blocked = np.zeros(shape, dtype=bool)
    blocked[10:45, 35:40] = True
    baseline = routing.least_cost_path(sum(terms.values()), (30, 5), (30, 75), cell_size=CELL).path
    return WeightSweepInput(terms, blocked, (30, 5), (30, 75), CELL, tolerance=0.05, baseline=baseline)


def test_factor_one_gives_back_the_surface(shared: WeightSweepInput) -> None:
    total = reweighted_cost(shared, {})
    expected = np.where(shared.blocked, np.inf, sum(shared.terms.values()))
    assert np.array_equal(total, expected)
    doubled = reweighted_cost(shared, {"shallow": 2.0})
    free = ~shared.blocked
    assert np.allclose(doubled[free] - total[free], shared.terms["shallow"][free])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strip_cells", [1, 80 * 7, 1 << 16])
def test_reweighting_by_strips_equals_the_whole_array_sum(
    shared: WeightSweepInput, dtype: str, strip_cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The strip-wise re-cost gives the whole-array formula's values exactly (strips of 1 row, of 7 rows with a
    remainder (60 rows), and the whole grid in one strip), for float32 terms (as the cost surface holds them) and
    float64."""
    import geodata.routing.sweep as sweep_module

    monkeypatch.setattr(sweep_module, "RECOST_CELLS", strip_cells)
    terms = {name: np.asarray(t, dtype=dtype) for name, t in shared.terms.items()}
    typed = WeightSweepInput(terms, shared.blocked, shared.start, shared.goal, CELL)
    factors = {"shallow": 1.1734, "slope": 0.8123}
    expected = np.zeros(shared.blocked.shape, dtype="float64")
    for name, term in terms.items():
        expected += float(factors.get(name, 1.0)) * term
    expected[shared.blocked] = np.inf
    got = reweighted_cost(typed, factors)
    assert got.dtype == np.float64
    assert np.array_equal(got, expected)
    assert got.tobytes() == expected.tobytes()


def test_samples_are_seeded_per_index_and_within_the_spread() -> None:
    few = perturbed_samples(["shallow", "slope"], 3, 0.25, seed=11)
    many = perturbed_samples(["shallow", "slope"], 10, 0.25, seed=11)
    assert few[0] == WeightSample(0, {"shallow": 1.0, "slope": 1.0})
    assert few == many[:4]
    factors = np.array([list(s.factors.values()) for s in many[1:]])
    assert factors.min() >= 0.75
    assert factors.max() <= 1.25
    assert len(np.unique(factors)) == factors.size
    assert perturbed_samples(["shallow", "slope"], 3, 0.25, seed=12)[1] != few[1]


@pytest.mark.parametrize(
    ("terms", "spread", "match"),
    [([], 0.2, "at least one term"), (["a", "a"], 0.2, "repeat"), (["a"], 1.0, "spread=1.0")],
)
def test_bad_sample_settings_are_refused(terms: list[str], spread: float, match: str) -> None:
    with pytest.raises(SweepInputError, match=match):
        perturbed_samples(terms, 2, spread, seed=0)


def test_unknown_or_negative_factors_are_refused(shared: WeightSweepInput) -> None:
    with pytest.raises(SweepInputError, match=r"\['shalow'\] match no cost term"):
        reweighted_cost(shared, {"shalow": 1.1})
    with pytest.raises(SweepInputError, match="non-negative"):
        reweighted_cost(shared, {"slope": -1.0})


def test_misaligned_terms_are_refused() -> None:
    with pytest.raises(SweepInputError, match="one grid shape"):
        WeightSweepInput({"length": np.ones((3, 4))}, np.zeros((4, 3), bool), (0, 0), (2, 2), CELL)


def test_a_sample_is_the_route_and_corridor_of_its_reweighted_surface(shared: WeightSweepInput) -> None:
    sample = WeightSample(1, {"shallow": 0.1, "slope": 1.2})
    got = route_sample(sample, shared)
    cost = reweighted_cost(shared, sample.factors)
    route = routing.least_cost_path(cost, shared.start, shared.goal, cell_size=CELL)
    corridor = routing.least_cost_corridor(cost, shared.start, shared.goal, cell_size=CELL, tolerance=0.05)
    assert got.cost == route.cost
    assert np.array_equal(got.path, route.path)
    assert np.array_equal(got.corridor_mask(cost.shape), corridor.mask)
    assert got.corridor_cells == int(corridor.mask.sum())
    assert got.baseline_regret is not None
    assert got.baseline_regret >= 0
    baseline = route_sample(WeightSample(0, {}), shared)
    assert baseline.hausdorff_m == pytest.approx(0.0, abs=1e-6)
    assert baseline.baseline_regret == pytest.approx(0.0, abs=1e-9)


def test_the_sweep_on_a_cluster_equals_the_serial_sweep(shared: WeightSweepInput) -> None:
    samples = perturbed_samples(["shallow", "slope"], 7, 0.5, seed=3)
    serial = run_sweep(route_sample, samples, shared=shared)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        remote = run_sweep(route_sample, samples, shared=shared, client=client)
    assert [r.index for r in remote.results] == list(range(8))
    for a, b in zip(serial.results, remote.results, strict=True):
        assert (a.cost, a.length_m, a.corridor_cells, a.factors) == (b.cost, b.length_m, b.corridor_cells, b.factors)
        assert np.array_equal(a.path, b.path)
        assert np.array_equal(a.corridor, b.corridor)
    freq = corridor_frequency(serial.results, shared.blocked.shape)
    assert freq.max() == len(samples)
    assert not freq[shared.blocked].any()
