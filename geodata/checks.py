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
