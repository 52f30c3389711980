"""The repository's dagster.yaml loads as an instance with no telemetry and no newsletter (NUX) modal."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def test_instance_loads_with_nux_and_telemetry_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert instance.get_settings("nux") == {"enabled": False}
        assert instance.nux_enabled is False  # what the UI's shouldShowNux reads
        assert instance.get_settings("telemetry") == {"enabled": False}
