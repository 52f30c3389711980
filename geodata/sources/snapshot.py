"""The immutable snapshot a run works on: the validated scenario and the checksum of every file of the analyst's own
that it reads (survey grids, hazard inventories).

A run takes one snapshot when it starts and every step of the run uses it, so a scenario file edited mid-run, or two
scenario folders that both define the same name, can never mix in one publication. The snapshot's digest covers the
scenario's content *and* its user files' content: a survey grid replaced under the same path gives a new digest.
The intermediate store is keyed by it and the manifest records it.

The snapshot is plain JSON validated against :class:`ScenarioSnapshot` on load; nothing in it can execute code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geodata.errors import ConfigError, SourceUnavailable
from geodata.scenario import Scenario
from geodata.sources.catalogue import load_catalogue
from geodata.sources.provenance import InputRecord, sha256_of


class UserInput(BaseModel):
    """A file of the analyst's own that the scenario reads, with its checksum and declared terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["bathymetry", "hazards", "survey"]
    path: str
    sha256: str
    size_bytes: int = Field(ge=0)
    licence: str
    attribution: str
    licence_restrictions: tuple[str, ...] = ()

    def record(self) -> InputRecord:
        """The provenance record of this input (manifest, licence terms)."""
        return InputRecord.from_mapping(
            {
                "name": f"{self.role}:{Path(self.path).name}",
                "title": (
                    f"SYNTHETIC user {self.role} file {Path(self.path).name} (generated test data, not a real survey)"
                    if "synthetic" in Path(self.path).name.lower()
                    else f"user {self.role} file {Path(self.path).name}"
                ),
                "path": self.path,
                "origin": "path",
                "size_bytes": self.size_bytes,
                "sha256": self.sha256,
                "licence": self.licence,
                "attribution": self.attribution,
                "licence_restrictions": list(self.licence_restrictions),
            }
        )


class ScenarioSnapshot(BaseModel):
    """A scenario and the checksums of its user files, as one run sees them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: Scenario
    inputs: tuple[UserInput, ...] = ()
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str, origin: str) -> ScenarioSnapshot:
        """Parse and validate a stored snapshot; a snapshot whose digest does not match its content is refused."""
        try:
            snap = cls.model_validate_json(text)
        except ValidationError as exc:
            raise ConfigError(
                f"stored scenario snapshot {origin} is not valid ({exc.error_count()} errors); delete it and run again"
            ) from None
        if snap.digest != snapshot_digest(snap.scenario, snap.inputs):
            raise ConfigError(
                f"stored scenario snapshot {origin} does not match its own digest; delete it and run again"
            )
        return snap


def resolve_user_path(path: str, role: str, *, base_dir: Path | None = None) -> Path:
    """The file of a user input given as a path (``~`` expanded, relative to ``base_dir`` or the working directory)."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.is_file():
        raise SourceUnavailable(
            f"{role} file '{path}' does not exist ({p.resolve()}); correct the path in the scenario (relative paths "
            "are taken from the folder the pipeline runs in)"
        )
    return p.resolve()


def user_files(scenario: Scenario) -> list[tuple[Literal["bathymetry", "hazards", "survey"], str, object]]:
    """(role, path, the scenario entry) of every user file the scenario reads (catalogue names excluded)."""
    catalogue = load_catalogue()
    out: list[tuple[Literal["bathymetry", "hazards", "survey"], str, object]] = []
    out += [("bathymetry", s.source, s) for s in scenario.bathymetry.sources if s.source not in catalogue]
    out += [("hazards", h.path, h) for h in scenario.hazards.inputs]
    out += [("survey", s.path, s) for s in (scenario.survey.sources if scenario.survey is not None else [])]
    return out


def snapshot_digest(scenario: Scenario, inputs: tuple[UserInput, ...]) -> str:
    """sha256 over the scenario's digest and each user file's path and checksum."""
    h = hashlib.sha256(scenario.digest().encode())
    for item in inputs:
        h.update(f"\n{item.role}\t{item.path}\t{item.sha256}".encode())
    return h.hexdigest()


def take_snapshot(scenario: Scenario, *, base_dir: Path | None = None) -> ScenarioSnapshot:
    """Checksum every user file of ``scenario`` now and return the run's snapshot."""
    inputs = []
    for role, path, entry in user_files(scenario):
        file = resolve_user_path(path, role, base_dir=base_dir)
        inputs.append(
            UserInput(
                role=role,
                path=str(file),
                sha256=sha256_of(file),
                size_bytes=file.stat().st_size,
                licence=str(getattr(entry, "licence", "unknown")),
                attribution=str(getattr(entry, "attribution", "unknown")),
                licence_restrictions=tuple(getattr(entry, "licence_restrictions", ())),
            )
        )
    items = tuple(inputs)
    return ScenarioSnapshot(scenario=scenario, inputs=items, digest=snapshot_digest(scenario, items))
