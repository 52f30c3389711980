"""The executor of the corridor jobs: in-process by default, the multiprocess executor when configured.

Dagster's own ``multi_or_in_process_executor`` offers the same two modes but defaults to multiprocess; this one
defaults to the deployment's choice (``CORRIDOR_EXECUTOR``, read by :mod:`assets.config`: ``in_process`` unless the
team profile sets ``multiprocess``), and a run's config overrides it::

    execution:
      config:
        multiprocess:
          max_concurrent: 2

Both modes are Dagster's own executors; only the default differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import dagster as dg

from assets.config import EXECUTOR_ENV, EXECUTOR_MODES
from geodata.errors import ConfigError


def build_corridor_executor(default_mode: str) -> dg.ExecutorDefinition:
    """The executor offering ``in_process`` and ``multiprocess``, with ``default_mode`` (one of
    :data:`assets.config.EXECUTOR_MODES`) when the run config names neither."""
    if default_mode not in EXECUTOR_MODES:
        raise ConfigError(
            f"executor mode {default_mode!r} is not one of {', '.join(EXECUTOR_MODES)}; set {EXECUTOR_ENV} to one"
        )
    executors = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}

    def requirements(config: Mapping[str, object]) -> Sequence[dg.ExecutorRequirement]:
        return dg.multiple_process_executor_requirements() if "multiprocess" in config else []

    @dg.executor(
        name="corridor_executor",
        config_schema=dg.Field(
            dg.Selector({mode: e.config_schema.as_field() for mode, e in executors.items()}),
            default_value={default_mode: {}},
        ),
        requirements=requirements,
    )
    def corridor_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
        # the selector holds one key, the mode, whose value is the chosen executor's own config
        ((mode, config),) = init_context.executor_config.items()
        create = cast(Callable[[dg.InitExecutorContext], dg.Executor], executors[mode].executor_creation_fn)
        return create(init_context._replace(executor_config=cast(Mapping[str, object], config)))

    return corridor_executor
