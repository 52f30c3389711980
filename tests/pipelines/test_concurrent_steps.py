"""The corridor executor's in-process mode runs independent steps side by side on threads of one process
(``pipelines/executors.py``), and ``run_scenario`` runs on it.

No timing: two steps meet at a barrier that only two steps running at once can pass, so the tests fail if the
steps run one after the other (and pass on any machine speed).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.utils import make_new_run_id

from geodata.errors import ConfigError
from pipelines.executors import ConcurrentInProcessExecutor, build_corridor_executor
from pipelines.runner import execute_with_job_executor
from tests.conftest import fresh_run_env

MEETING = threading.Barrier(2, timeout=20)
SEEN: dict[str, tuple[int, str, bool]] = {}
"""Per step: its process, its thread and whether it passed the barrier (met the other step there)."""


def _meet(name: str) -> bool:
    try:
        MEETING.wait()
        met = True
    except threading.BrokenBarrierError:
        met = False
    SEEN[name] = (os.getpid(), threading.current_thread().name, met)
    return met


@dg.op
def left() -> bool:
    return _meet("left")


@dg.op
def right() -> bool:
    return _meet("right")


@dg.op
def both(a: bool, b: bool) -> tuple[bool, bool]:
    return a, b


@dg.job(executor_def=build_corridor_executor("in_process"))
def side_by_side() -> None:
    both(left(), right())


@dg.op
def breaks() -> int:
    MEETING.wait()
    raise ValueError("the left step's input is broken; fix it")


@dg.op
def lasts() -> int:
    MEETING.wait()
    return 2


@dg.op
def after(value: int) -> int:
    return value


@dg.job(executor_def=build_corridor_executor("in_process"))
def one_fails() -> None:
    after(breaks())
    after.alias("after_lasts")(lasts())


ATTEMPTS: list[int] = []


@dg.op(retry_policy=dg.RetryPolicy(max_retries=1))
def flaky() -> int:
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise RuntimeError("the first attempt fails")
    return len(ATTEMPTS)


@dg.op
def steady() -> int:
    return 0


@dg.op
def total(a: int, b: int) -> int:
    return a + b


@dg.job(executor_def=build_corridor_executor("in_process"))
def retried() -> None:
    total(flaky(), steady())


def _run(job: dg.JobDefinition, max_concurrent: int | None, wait_s: float = 20.0) -> dg.ExecuteInProcessResult:
    global MEETING  # the ops meet at the module's barrier
    MEETING = threading.Barrier(2, timeout=wait_s)
    SEEN.clear()
    config = (
        {} if max_concurrent is None else {"execution": {"config": {"in_process": {"max_concurrent": max_concurrent}}}}
    )
    with dg.instance_for_test() as instance:
        return execute_with_job_executor(job, None, instance, make_new_run_id(), config)  # type: ignore[no-any-return]


def test_independent_steps_run_at_once_on_threads_of_this_process() -> None:
    result = _run(side_by_side, 2)
    assert result.success
    assert [SEEN[s][2] for s in ("left", "right")] == [True, True]  # both passed the barrier: they ran at once
    assert {pid for pid, _, _ in SEEN.values()} == {os.getpid()}
    assert all(thread.startswith("corridor-step") for _, thread, _ in SEEN.values())


def test_the_default_runs_steps_at_once_on_a_machine_with_two_cores() -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the default is one step at a time")
    result = _run(side_by_side, None)
    assert result.success
    assert [SEEN[s][2] for s in ("left", "right")] == [True, True]


def test_max_concurrent_1_runs_one_step_at_a_time() -> None:
    result = _run(side_by_side, 1, wait_s=0.5)
    assert result.success
    assert [SEEN[s][2] for s in ("left", "right")] == [False, False]  # each waited alone at the barrier
    assert all(thread == threading.current_thread().name for _, thread, _ in SEEN.values())


def test_a_failing_step_stops_its_own_downstream_and_the_step_beside_it_finishes() -> None:
    result = _run(one_fails, 2)
    assert not result.success
    failures = result.get_step_failure_events()
    assert [f.step_key for f in failures] == ["breaks"]
    assert "fix it" in str(failures[0].step_failure_data.error)
    done = {e.step_key for e in result.get_step_success_events()}
    assert done == {"lasts", "after_lasts"}
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert "after" in skipped or "after" not in done


def test_max_concurrent_below_one_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="max_concurrent"):
        ConcurrentInProcessExecutor(RetryMode.DISABLED, 0, StepDependencyConfig.default())


def test_a_step_retried_at_once_runs_again_and_the_run_succeeds() -> None:
    """The retry is launched while the first attempt's thread is still ending: its end must not end the retry."""
    ATTEMPTS.clear()
    result = _run(retried, 2)
    assert result.success
    assert len(ATTEMPTS) == 2
    assert {e.step_key for e in result.get_step_success_events()} == {"flaky", "steady", "total"}


# -- the whole graph, side by side and one at a time (integration tier) ---------------------------------------------

DRIVER = """
import sys, warnings
warnings.simplefilter("ignore")
from assets.config import SETTINGS
from geodata.scenario import load_scenario
from pipelines.runner import run_scenario
outcome = run_scenario(load_scenario("siyazan-aktau", folder=SETTINGS.scenarios), max_concurrent=int(sys.argv[1]))
print("@@", outcome.success, outcome.failures)
"""


@pytest.mark.integration
def test_the_default_scenario_publishes_the_same_with_steps_side_by_side(
    tmp_path: Path, root: Path, mirror: Path, node_modules: Path
) -> None:
    """``corridor run``'s path (``run_scenario``) on the default scenario, two steps at once and one at a time, each
    from a fresh environment: both publish, and every deliverable a surveyor opens is the same (the tables byte for
    byte, every GeoPackage vector layer and raster coverage value for value)."""
    import subprocess
    import sys

    import numpy as np
    import pyogrio
    import rasterio

    published = {}
    for steps in (2, 1):
        base = tmp_path / f"steps{steps}"
        env = fresh_run_env(tmp_path, base, mirror, CORRIDOR_NODE_MODULES=str(node_modules))
        (base / "dagster_home").mkdir(parents=True)
        (base / "dagster_home" / "dagster.yaml").write_text((root / "dagster.yaml").read_text(encoding="utf-8"))
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, str(steps)], cwd=root, env=env, capture_output=True, text=True, timeout=900
        )
        assert "@@ True []" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]
        published[steps] = (base / "published" / "siyazan-aktau" / "latest").resolve()
    side, alone = published[2], published[1]
    for name in ("rpl.csv", "rpl_segments.csv", "route_profile.csv", "sector_crossings.csv", "kp_spread.csv"):
        assert (side / name).read_bytes() == (alone / name).read_bytes(), name
    layers = [name for name, _ in pyogrio.list_layers(alone / "corridor.gpkg") if name != "layer_styles"]
    assert len(layers) >= 10
    for layer in layers:
        a = pyogrio.read_dataframe(side / "corridor.gpkg", layer=layer)
        b = pyogrio.read_dataframe(alone / "corridor.gpkg", layer=layer)
        if "geometry" in a.columns:
            assert (a.geometry.to_wkb() == b.geometry.to_wkb()).all(), layer
            a, b = a.drop(columns="geometry"), b.drop(columns="geometry")
        assert a.equals(b), layer
    for coverage in ("bathymetry", "cost", "passage_frequency"):
        with (
            rasterio.open(f"GPKG:{side / 'corridor.gpkg'}:{coverage}") as a,
            rasterio.open(f"GPKG:{alone / 'corridor.gpkg'}:{coverage}") as b,
        ):
            assert np.array_equal(a.read(1), b.read(1), equal_nan=True), coverage
