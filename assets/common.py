"""What every stage's assets share: the scenario of the partition, and library results as Dagster metadata/checks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg
import numpy as np

from assets.config import CorridorSettings
from geodata.checks import as_check
from geodata.scenario import Scenario


def scenario_of(context: dg.AssetExecutionContext, settings: CorridorSettings) -> Scenario:
    """The validated scenario named by the run's partition key."""
    return settings.scenario(context.partition_key)


def _value(v: Any) -> Any:
    if isinstance(v, dg.MetadataValue):
        return v
    if isinstance(v, (Mapping, list, tuple)):
        return dg.MetadataValue.json(_jsonable(v))
    return _jsonable(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    """Library summaries (numbers, strings, nested dicts) as Dagster metadata values."""
    return {str(k): _value(v) for k, v in values.items() if v is not None}


def check_specs(asset: str, names: Mapping[str, str], *, blocking: bool = True) -> list[dg.AssetCheckSpec]:
    """Blocking check specs for ``asset``: ``names`` maps each check's name to its description."""
    return [dg.AssetCheckSpec(n, asset=asset, description=d, blocking=blocking) for n, d in names.items()]


def check_results(results: Iterable[Any], *, asset: str | None = None) -> list[dg.AssetCheckResult]:
    """Library check results as Dagster check results: failed blocking checks are ERRORs (they stop downstream)."""
    out = []
    for item in results:
        r = as_check(item)
        severity = dg.AssetCheckSeverity.ERROR if r.blocking else dg.AssetCheckSeverity.WARN
        out.append(
            dg.AssetCheckResult(
                check_name=r.name,
                asset_key=asset,
                passed=r.passed,
                severity=severity,
                description=r.description,
                metadata=metadata(r.metadata),
            )
        )
    return out
