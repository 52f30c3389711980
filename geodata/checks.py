"""One shape for every validation result, so the pipeline can turn any of them into a Dagster asset check.

Library functions that validate return :class:`CheckResult` (or a list of them); the Dagster layer maps ``blocking``
results that failed to blocking ERROR checks, which stop everything downstream, and the others to warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named check: ``passed``, a sentence for people, figures for the UI."""

    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    blocking: bool = True


def as_check(obj: Any, name: str | None = None) -> CheckResult:
    """Normalise the validation results of the library's modules into a :class:`CheckResult`.

    Accepts a :class:`CheckResult`, any object with ``passed`` and ``description`` (and optionally ``name``,
    ``metadata``, ``blocking`` or ``severity``) attributes, or a tuple ``(name, passed, description[, metadata])``.
    """
    if isinstance(obj, CheckResult):
        return obj
    if isinstance(obj, tuple):
        if len(obj) == 3 and isinstance(obj[0], bool):
            passed, description, metadata = obj
            return CheckResult(name or "check", bool(passed), str(description), dict(metadata or {}))
        metadata = obj[3] if len(obj) > 3 else {}
        return CheckResult(str(obj[0]), bool(obj[1]), str(obj[2]), dict(metadata or {}))
    severity = str(getattr(obj, "severity", "error")).lower()
    return CheckResult(
        name=str(getattr(obj, "name", None) or name or "check"),
        passed=bool(obj.passed),
        description=str(obj.description),
        metadata=dict(getattr(obj, "metadata", None) or {}),
        blocking=bool(getattr(obj, "blocking", severity not in ("warn", "warning"))),
    )
