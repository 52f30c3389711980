"""Shared fixtures: the data mirror beside the project, and small synthetic grids."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from geodata.grid import GeoGrid

ROOT = Path(__file__).resolve().parents[1]


def mirror_dir() -> Path:
    """The geodata mirror: ``CORRIDOR_MIRROR`` or ``../shared/geodata-mirror`` beside the project. Tests that use it
    fail (never skip) when it is missing, because CI always has it."""
    env = os.environ.get("CORRIDOR_MIRROR")
    path = Path(env) if env else ROOT.parent / "shared" / "geodata-mirror"
    if not (path / "SOURCES.md").is_file():
        raise RuntimeError(f"the geodata mirror is not at {path}; set CORRIDOR_MIRROR to its folder")
    return path


@pytest.fixture(scope="session")
def mirror() -> Path:
    return mirror_dir()


@pytest.fixture
def utm_grid() -> GeoGrid:
    """A 20 x 30 grid of 1 km cells in UTM 39N near the middle Caspian."""
    return GeoGrid(CRS.from_epsg(32639), Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_700_000.0), (20, 30))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)
