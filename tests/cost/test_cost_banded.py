"""The cost surface built band by band into tiled GeoTIFFs equals the whole-array surface (SYNTHETIC inputs), and
it goes through the store as files (moved from the store's scratch folder, read lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geodata.cost import COST_BAND_BYTES_PER_CELL, CostSurface, build_cost_surface
from geodata.grid import GeoGrid, LazyRaster, Raster, row_blocks
from geodata.hazards import plan_hazards, rasterize_hazards
from geodata.scenario import CostWeights, Limits
from pipelines import store
from tests.hazards.test_banded import UTM39, _table

GRID = GeoGrid(UTM39, Affine(100.0, 0, 400_000.0, 0, -100.0, 4_600_000.0), (600, 40))


def _inputs() -> tuple[Raster, Raster, Raster, np.ndarray]:
    rng = np.random.default_rng(5)
    depth = rng.uniform(-20, 1500, GRID.shape).astype("float32")
    depth[10:20, 5:9] = np.nan
    slope = rng.uniform(0, 30, GRID.shape).astype("float32")
    sea = (rng.random(GRID.shape) > 0.1).astype("uint8")
    allowed = np.ones(GRID.shape, dtype=bool)
    allowed[:, :4] = False
    return Raster(depth, GRID, float("nan")), Raster(slope, GRID), Raster(sea, GRID), allowed


def _whole() -> CostSurface:
    depth, slope, sea, allowed = _inputs()
    haz = rasterize_hazards(_table(), GRID)
    return build_cost_surface(
        depth, slope, sea, CostWeights(), Limits(), hazard_soft=haz.soft_by_kind, hazard_hard=haz.hard_mask,
        allowed_sector=allowed,
    )  # fmt: skip


@pytest.mark.parametrize("band_rows", [256, 600])
def test_banded_files_equal_the_whole_arrays(tmp_path: Path, band_rows: int) -> None:
    depth, slope, sea, allowed = _inputs()
    budget = COST_BAND_BYTES_PER_CELL * GRID.shape[1] * band_rows
    plan = plan_hazards(_table(), GRID)
    assert len(row_blocks(GRID, bytes_per_cell=COST_BAND_BYTES_PER_CELL, budget_bytes=budget)) == (
        3 if band_rows == 256 else 1
    )
    banded = build_cost_surface(
        depth, slope, sea, CostWeights(), Limits(), hazards=plan, allowed_sector=allowed, folder=tmp_path / "layers",
        budget_bytes=budget,
    )  # fmt: skip
    whole = _whole()
    assert banded.total.dtype == np.float32
    assert np.array_equal(banded.total, whole.total)
    assert set(banded.terms) == set(whole.terms)
    assert set(banded.barriers) == set(whole.barriers)
    for name in whole.terms:
        assert isinstance(banded.terms[name], LazyRaster)
        assert not banded.terms[name].loaded
        assert np.array_equal(banded.term(name), whole.term(name)), name
    for reason in whole.barriers:
        assert np.array_equal(banded.barrier(reason), whole.barrier(reason)), reason
    assert banded.barrier("hazard_exclusion").any()
    assert banded.barrier("foreign_sector").any()
    assert np.isinf(banded.total).any()
    assert np.isfinite(banded.total).any()
    assert banded.summary(budget) == whole.summary()


def test_a_surface_of_files_goes_through_the_store_as_files(tmp_path: Path) -> None:
    depth, slope, sea, allowed = _inputs()
    root = tmp_path / "store"
    scratch = root / ".scratch" / "cost_surface-x"  # assets.common.scratch_file
    surface = build_cost_surface(
        depth, slope, sea, CostWeights(), Limits(), hazards=plan_hazards(_table(), GRID), allowed_sector=allowed,
        folder=scratch,
    )  # fmt: skip
    expected = {name: surface.term(name) for name in surface.terms}
    counted = surface.summary()
    blocked = {reason: surface.barrier(reason) for reason in surface.barriers}
    folder = store.value_dir(root, "sc", "cost_surface", snapshot="0" * 64)
    store.write_value(folder, surface, store.Provenance("cost_surface", "sc", "sc", "0" * 64))
    assert not scratch.exists()  # moved, not copied
    back = store.read_value(folder, asset="cost_surface", partition="sc").value
    assert isinstance(back.terms["hazards"], LazyRaster)
    assert back.terms["hazards"].file.path.parent == folder
    assert np.array_equal(back.total, surface.total)
    assert back.counted is None
    assert back.summary() == counted  # counted again from the files, band by band
    for name, term in expected.items():
        assert np.array_equal(back.term(name), term)
    for reason, mask in blocked.items():
        assert np.array_equal(back.barrier(reason), mask)
    other = store.value_dir(root, "sc", "copy", snapshot="0" * 64)
    store.write_value(other, back, store.Provenance("copy", "sc", "sc", "0" * 64))
    assert back.terms["hazards"].file.path.exists()  # a file outside the scratch folder is copied
    assert not any(t.loaded for t in back.terms.values())  # stored and read again without loading a pixel


def test_kinds_computed_side_by_side_give_the_same_surface(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hazard kinds of a band are computed at once on worker threads (numba's omp or tbb layer), each kernel on
    one core, the largest first; the kinds are still added in the plan's order, so the surface is the one computed
    kind by kind, bit for bit."""
    import threading

    from geodata import cost

    depth, slope, sea, allowed = _inputs()
    plan = plan_hazards(_table(), GRID)
    budget = COST_BAND_BYTES_PER_CELL * GRID.shape[1] * 256
    seen: list[str] = []
    rows_of = cost.hazard_rows

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(threading.current_thread().name)
        return rows_of(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cost, "hazard_rows", spy)
    surfaces = {}
    for threads in (1, 2):
        monkeypatch.setattr(cost, "KIND_THREADS", threads)
        seen.clear()
        surfaces[threads] = build_cost_surface(
            depth, slope, sea, CostWeights(), Limits(), hazards=plan, allowed_sector=allowed,
            folder=tmp_path / f"layers{threads}", budget_bytes=budget,
        )  # fmt: skip
        on_workers = all(name.startswith("hazard-kinds") for name in seen)
        assert len(seen) == 3 * len(plan.kinds)  # three bands, each kind once
        assert on_workers == (threads == 2 and cost.concurrent_kernels())
    one, two = surfaces[1], surfaces[2]
    assert np.array_equal(one.total, two.total)
    for name in one.terms:
        assert np.array_equal(one.term(name), two.term(name)), name
    for reason in one.barriers:
        assert np.array_equal(one.barrier(reason), two.barrier(reason)), reason
    work = plan.kind_work(slice(0, 256))
    assert set(work) == set(plan.kinds)
    assert work["earthquake"] > 0


def test_next_band_kinds_start_while_a_band_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker threads go on to the next band's kinds while a band's terms are computed (no barrier between
    bands): the first band's kernel waits here until a kind of the second band has started (with the barrier it
    would wait forever); an error in a kind stops the build, is raised and leaves no worker thread behind."""
    import threading

    from geodata import cost

    if not cost.concurrent_kernels():
        pytest.skip("numba's threading layer runs one kernel launch at a time")
    depth, slope, sea, allowed = _inputs()
    plan = plan_hazards(_table(), GRID)
    budget = COST_BAND_BYTES_PER_CELL * GRID.shape[1] * 256
    second_band = threading.Event()
    waited: list[bool] = []
    rows_of, kernel = cost.hazard_rows, cost._band_kernel

    def spy_rows(plan_: object, rows: slice, **kwargs: object) -> object:
        if rows.start == 256:
            second_band.set()
        return rows_of(plan_, rows, **kwargs)  # type: ignore[arg-type]

    def spy_kernel(*args: object) -> None:
        if not waited:
            waited.append(second_band.wait(timeout=60))
        kernel(*args)

    monkeypatch.setattr(cost, "hazard_rows", spy_rows)
    monkeypatch.setattr(cost, "_band_kernel", spy_kernel)
    surface = build_cost_surface(
        depth, slope, sea, CostWeights(), Limits(), hazards=plan, allowed_sector=allowed,
        folder=tmp_path / "layers", budget_bytes=budget,
    )  # fmt: skip
    assert waited == [True]
    assert np.array_equal(surface.total, _whole().total)

    def failing(plan_: object, rows: slice, **kwargs: object) -> object:
        if rows.start == 256:
            raise RuntimeError("kind failed")
        return rows_of(plan_, rows, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cost, "hazard_rows", failing)
    monkeypatch.setattr(cost, "_band_kernel", kernel)
    with pytest.raises(RuntimeError, match="kind failed"):
        build_cost_surface(
            depth, slope, sea, CostWeights(), Limits(), hazards=plan, allowed_sector=allowed,
            folder=tmp_path / "failed", budget_bytes=budget,
        )  # fmt: skip
    assert not [t for t in threading.enumerate() if t.name.startswith("hazard-kinds")]
