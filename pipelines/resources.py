"""Resources: where inputs come from and where outputs go, read from the environment with sensible defaults."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from geodata.catalogue import ResolvedSource, resolve
from geodata.scenario import Scenario, load_scenario


class CorridorSettings(dg.ConfigurableResource):
    """Paths the pipeline uses.

    ``mirror_dir`` (``CORRIDOR_MIRROR``) is a local folder holding the catalogue's files, read before the cache and
    before any download; ``cache_dir`` (``CORRIDOR_CACHE``) holds downloads; ``output_dir`` (``CORRIDOR_OUTPUT``) is
    the root of ``<scenario>/`` publications.
    """

    mirror_dir: str = ""
    cache_dir: str = ".corridor_cache"
    output_dir: str = "published"

    def scenario(self, name: str) -> Scenario:
        return load_scenario(name)

    @property
    def mirror(self) -> Path | None:
        """The mirror folder, or None when not configured."""
        return Path(self.mirror_dir).expanduser() if self.mirror_dir else None

    def resolve(self, source_name: str, scenario: Scenario) -> ResolvedSource:
        return resolve(source_name, mirror=self.mirror, cache=Path(self.cache_dir), verify=scenario.verify_checksums)

    @property
    def output_root(self) -> Path:
        return Path(self.output_dir).expanduser()


def settings_from_env() -> CorridorSettings:
    return CorridorSettings(
        mirror_dir=os.environ.get("CORRIDOR_MIRROR", ""),
        cache_dir=os.environ.get("CORRIDOR_CACHE", ".corridor_cache"),
        output_dir=os.environ.get("CORRIDOR_OUTPUT", "published"),
    )
