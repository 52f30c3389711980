"""The executor of the corridor jobs: in one process by default, its independent steps on threads side by side;
Dagster's multiprocess executor when configured.

Dagster's own ``multi_or_in_process_executor`` offers both places but defaults to multiprocess, and its in-process
executor runs one step at a time. This one defaults to the deployment's choice (``CORRIDOR_EXECUTOR``, read by
:mod:`assets.config`: ``in_process`` unless the team profile sets ``multiprocess``), and a run's config overrides
it::

    execution:
      config:
        in_process:
          max_concurrent: 1     # one step at a time (Dagster's own in-process executor)
        # or
        multiprocess:
          max_concurrent: 2

**In process, steps side by side.** ``in_process`` runs up to ``max_concurrent`` steps at once (default
:data:`DEFAULT_MAX_CONCURRENT`, fewer on fewer cores), each on a thread of this process, as soon as their inputs are
stored; ``max_concurrent: 1`` is Dagster's own in-process executor. A step's heavy work runs in compiled code that
releases the GIL (numba ``nogil`` kernels, GDAL, GEOS, numpy), so two steps use two cores, while they share the
interpreter, Dagster, GDAL and numba (about 0.6 GB that a process per step would hold again per step) and start
without a process launch. Dagster has no threaded executor of its own (dagster-io/dagster#4041): this one is
Dagster's in-process plan loop (``dagster._core.execution.plan.execute_plan.inner_plan_execution_iterator``) with
the step bodies on a thread pool and every event handed to the plan's bookkeeping on the calling thread, as the
multiprocess executor does with its children's events. Steps share the resources (the settings, the store's IO
manager, the dask client), which hold no per-step state. An interrupt (Ctrl-C, a run termination) stops new steps
from starting; the steps already running finish, as threads cannot be killed.

The multiprocess mode is Dagster's own executor.
"""

from __future__ import annotations

import gc
import itertools
import os
import queue
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, cast

import dagster as dg
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import (
    _handle_compute_log_setup_error,
    _handle_compute_log_teardown_error,
    _trigger_hook,
    dagster_event_sequence_for_step,
)
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor
from dagster._utils.error import serializable_error_info_from_exc_info

from assets.config import EXECUTOR_ENV, EXECUTOR_MODES
from geodata.errors import ConfigError

POLL_SECONDS = 0.5
"""How often the plan loop looks for an interrupt while every running step is busy."""


STEP_SECONDS: dict[str, float] = {
    "bathymetry": 4.1,
    "coastline": 0.6,
    "hazards": 0.8,
    "seabed_slope": 1.6,
    "sea_mask": 2.5,
    "seabed_sectors": 1.1,
    "boundary_lines": 0.2,
    "cost_surface": 9.4,
    "territorial_waters": 1.4,
    "landfalls": 0.6,
    "least_cost_route": 2.4,
    "route_corridor": 2.9,
    "route_weight_sweep": 0.1,
    "refined_route": 0.1,
    "route_alternatives": 5.1,
    "engineered_route": 1.0,
    "route_position_list": 0.7,
    "route_robustness": 3.5,
    "straight_line_diagram": 5.0,
    "published_corridor": 13.4,
}
"""Seconds per step of the default scenario at 100 m, one step at a time (``benchmarks/pipeline.py --resolutions 100
--no-nested`` before steps ran side by side, 2026-12-04): only their proportions matter, to order the ready steps (a
step not listed counts 1 s)."""


def critical_path_key(plan: ExecutionPlan) -> Callable[[Any], float]:
    """The order in which ready steps start: the highest ``dagster/priority`` tag first, then the longest path of
    :data:`STEP_SECONDS` from the step to the end of the plan (the step and everything that must run after it), so
    that the chain the run waits for is never queued behind a step that can run beside it later (list scheduling
    by upward rank, as HEFT does)."""
    deps = plan.get_executable_step_deps()
    after: dict[str, list[str]] = {key: [] for key in deps}
    for step_key, before in deps.items():
        for upstream in before:
            after.setdefault(upstream, []).append(step_key)
    rank: dict[str, float] = {}

    def path(key: str) -> float:
        if key not in rank:
            rank[key] = STEP_SECONDS.get(key, 1.0) + max((path(k) for k in after.get(key, [])), default=0.0)
        return rank[key]

    def order(step: Any) -> float:
        priority = int(step.tags.get("dagster/priority", 0))
        return -(priority * 1e6 + path(step.key))

    return order


DEFAULT_MAX_CONCURRENT = 2
"""Steps at once by default, on a machine with that many cores or more: what the pre-flight's memory figures
(:data:`geodata.preflight.BYTES_PER_CELL`) were measured with. More is a run's choice (``max_concurrent``): each step
beside another holds its own working set (routing steps load their own cost surface)."""


def default_concurrency() -> int:
    """Steps at once by default: :data:`DEFAULT_MAX_CONCURRENT`, or the cores this process may run on if fewer, and
    one at a time when numba's threading layer cannot launch parallel kernels from two threads at once (its
    ``workqueue`` layer aborts the process on a concurrent launch; ``omp`` and ``tbb`` can)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    from geodata.cost import concurrent_kernels

    return max(1, min(DEFAULT_MAX_CONCURRENT, cores)) if concurrent_kernels() else 1


IN_PROCESS_CONFIG = dg.Field(
    {
        **cast(Mapping[str, Any], dg.in_process_executor.config_schema.as_field().config_type.fields),  # type: ignore[attr-defined]
        "max_concurrent": dg.Field(
            dg.Noneable(dg.Int),
            default_value=None,
            description="Steps run at once, each on a thread of the run's process (default 2, or the cores this "
            "process may use if fewer; 1 runs one step at a time).",
        ),
    },
    description="Execute every step in one process, independent steps side by side on threads.",
)


class ConcurrentInProcessExecutor(Executor):
    """Every step in this process, up to ``max_concurrent`` at once on threads (see the module docstring)."""

    def __init__(self, retries: RetryMode, max_concurrent: int, step_dependency_config: StepDependencyConfig) -> None:
        if max_concurrent < 1:
            raise ConfigError(f"in_process max_concurrent is {max_concurrent}; set 1 or more (1: one step at a time)")
        self._retries = retries
        self.max_concurrent = max_concurrent
        self._step_dependency_config = step_dependency_config

    @property
    def retries(self) -> RetryMode:
        return self._retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._step_dependency_config

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        keys = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {os.getpid()}), up to {self.max_concurrent} at once on threads",
            event_specific_data=EngineEventData.in_process(os.getpid(), keys),
        )
        limit = self.max_concurrent

        def iterator(job_context: PlanExecutionContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
            return _concurrent_plan_iterator(job_context, execution_plan, limit)

        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=iterator,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        )
        yield DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), keys),
        )


def _freeze_what_is_loaded() -> None:
    """Move every object alive when the run starts (Dagster, GDAL's and numba's modules, the definitions: about 290 k
    objects) out of the garbage collector's reach (``gc.freeze``): they live as long as the process, and every full
    collection during the run would walk them again. At 100 m the run's 9-10 full collections took 1.58 CPU-s, 0.93
    with them frozen (gc.callbacks, 2026-12-04)."""
    gc.collect()
    gc.freeze()


_DONE = object()
"""Put on the event queue by a step's thread when its step has no more events."""


def _concurrent_plan_iterator(
    job_context: PlanExecutionContext, execution_plan: ExecutionPlan, limit: int
) -> Iterator[DagsterEvent]:
    """Dagster's in-process plan loop with up to ``limit`` step bodies on threads; the plan's bookkeeping
    (``ActiveExecution``) stays on this thread."""
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    events: queue.Queue[tuple[int, object]] = queue.Queue()

    def run_step(launch: int, step_context: Any) -> None:
        try:
            for event in dagster_event_sequence_for_step(step_context):
                events.put((launch, event))
        except BaseException:  # noqa: BLE001 - a framework error: raised again on the plan's thread
            events.put((launch, sys.exc_info()))
        finally:
            events.put((launch, _DONE))

    with ExitStack() as stack:
        concurrency = stack.enter_context(InstanceConcurrencyContext(job_context.instance, job_context.dagster_run))
        active = stack.enter_context(
            execution_plan.start(
                retry_mode=job_context.retry_mode,
                sort_key_fn=critical_path_key(execution_plan),
                max_concurrent=limit,
                instance_concurrency_context=concurrency,
                step_dependency_config=job_context.step_dependency_config,
            )
        )
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=limit, thread_name_prefix="corridor-step"))
        capture = stack.enter_context(ExitStack())
        yield from _capture_logs(job_context, capture, step_keys)

        running: dict[int, _Launch] = {}  # by launch: a step retried at once runs again before its first ends
        launches = itertools.count()
        stopping = False
        while running or (not stopping and not active.is_complete):
            if not stopping and active.check_for_interrupts():
                stopping = True
                active.mark_interrupted()
                yield DagsterEvent.engine_event(
                    job_context,
                    "received a termination request: no more steps start; the running ones finish",
                    EngineEventData.interrupted([run.key for run in running.values()]),
                )
            if not stopping:
                steps = active.get_steps_to_execute(limit=limit - len(running))
                yield from active.concurrency_event_iterator(job_context)
                for step in steps:
                    step_context = job_context.for_step(step, active.get_known_state())
                    launch = next(launches)
                    running[launch] = _Launch(step.key, step_context)
                    pool.submit(run_step, launch, step_context)
                if not running:
                    active.sleep_til_ready()
                    continue
            try:
                launch, item = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            try:
                yield from _handle(job_context, active, running, launch, item)
            except Exception:
                yield DagsterEvent.engine_event(
                    job_context,
                    "the plan stopped on an error; the steps still running finish first: "
                    + ", ".join(run.key for run in running.values()),
                    EngineEventData(error=serializable_error_info_from_exc_info(sys.exc_info())),
                )
                raise
        try:
            capture.close()
        except Exception:  # noqa: BLE001 - as above
            yield from _handle_compute_log_teardown_error(job_context, sys.exc_info())


def _capture_logs(
    job_context: PlanExecutionContext, capture: ExitStack, step_keys: list[str]
) -> Iterator[DagsterEvent]:
    """The process's output captured for the whole plan (closed with ``capture``), as Dagster's in-process loop
    does; a capture that cannot start is reported as Dagster reports it, and the steps run."""
    manager = job_context.instance.compute_log_manager
    log_key = manager.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
    try:
        log_context = capture.enter_context(manager.capture_logs(log_key))
        yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
    except Exception:  # noqa: BLE001 - reported, not raised
        yield from _handle_compute_log_setup_error(job_context, sys.exc_info())


@dataclass
class _Launch:
    """One launch of a step on a thread: its key, its context and the events it has sent so far."""

    key: str
    context: Any
    events: list[DagsterEvent] = field(default_factory=list)


def _handle(
    job_context: PlanExecutionContext, active: Any, running: dict[int, _Launch], launch: int, item: object
) -> Iterator[DagsterEvent]:
    """One item from a step's thread, on the plan's thread: an event (handed to the plan's bookkeeping), the end
    of the launch (the step's completion verified unless a retry of it runs already, skips of the steps its failure
    stops, hooks), or a framework error."""
    run = running[launch]
    if item is _DONE:
        del running[launch]
        if not any(other.key == run.key for other in running.values()):
            active.verify_complete(job_context, run.key)
        for event in active.plan_events_iterator(job_context):
            run.events.append(event)
            yield event
        yield from _trigger_hook(run.context, run.events)
    elif isinstance(item, DagsterEvent):
        run.events.append(item)
        yield item
        active.handle_event(item)
    else:
        _, error, trace = cast(tuple[type[BaseException], BaseException, Any], item)
        raise error.with_traceback(trace)


def _in_process(config: Mapping[str, Any]) -> Executor:
    """The in-process executor for a run, created in the run's process as the run starts (so the objects alive
    then are frozen here, whether the steps run side by side or one at a time)."""
    _freeze_what_is_loaded()
    limit = config.get("max_concurrent")
    if limit is None:
        limit = default_concurrency()
    elif limit > 1:
        from geodata.cost import concurrent_kernels

        if not concurrent_kernels():
            raise ConfigError(
                f"in_process max_concurrent is {limit}, but numba's threading layer cannot run kernels of two steps "
                "at once (it is 'workqueue'); install tbb or an OpenMP runtime (NUMBA_THREADING_LAYER=omp or tbb), "
                "or set max_concurrent: 1"
            )
    retries = RetryMode.from_config(cast(dict[str, Any], config["retries"])) or RetryMode.ENABLED
    dependency = StepDependencyConfig.from_config(cast(dict[str, Any] | None, config.get("step_dependency_config")))
    if limit == 1:
        from dagster._core.executor.in_process import InProcessExecutor

        return InProcessExecutor(retries=retries, step_dependency_config=dependency)
    return ConcurrentInProcessExecutor(retries, limit, dependency)


def build_corridor_executor(default_mode: str) -> dg.ExecutorDefinition:
    """The executor offering ``in_process`` (steps side by side on threads) and ``multiprocess``, with
    ``default_mode`` (one of :data:`assets.config.EXECUTOR_MODES`) when the run config names neither."""
    if default_mode not in EXECUTOR_MODES:
        raise ConfigError(
            f"executor mode {default_mode!r} is not one of {', '.join(EXECUTOR_MODES)}; set {EXECUTOR_ENV} to one"
        )
    fields = {"in_process": IN_PROCESS_CONFIG, "multiprocess": dg.multiprocess_executor.config_schema.as_field()}

    def requirements(config: Mapping[str, object]) -> Sequence[dg.ExecutorRequirement]:
        return dg.multiple_process_executor_requirements() if "multiprocess" in config else []

    @dg.executor(
        name="corridor_executor",
        config_schema=dg.Field(dg.Selector(fields), default_value={default_mode: {}}),
        requirements=requirements,
    )
    def corridor_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
        # the selector holds one key, the mode, whose value is the chosen executor's own config
        ((mode, config),) = init_context.executor_config.items()
        if mode == "in_process":
            return _in_process(cast(Mapping[str, Any], config))
        create = cast(Callable[[dg.InitExecutorContext], dg.Executor], dg.multiprocess_executor.executor_creation_fn)
        return create(init_context._replace(executor_config=cast(Mapping[str, object], config)))

    return corridor_executor
