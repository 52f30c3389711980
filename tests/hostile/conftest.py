"""Fixtures of the hostile-input suite: the cases' registry on sys.path, root for tmpfs, and one materialised
publication of the default scenario (the "previous publication" that pipeline-level cases must leave intact)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, mirror: Path, node_modules: Path) -> dict:
    """The default scenario materialised once (every asset), into a session folder: root, store, publication."""
    from pipelines.runner import folder_settings, materialize_scenario

    root = tmp_path_factory.mktemp("hostile-e2e")
    settings = folder_settings(root, mirror=mirror)
    result = materialize_scenario("siyazan-aktau", settings)
    assert result.success
    return {"root": root, "settings": settings, "base": root / "published" / "siyazan-aktau"}
