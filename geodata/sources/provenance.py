"""The one provenance record of an input: what the manifest, the licence terms and the Dagster metadata say about a
file the pipeline read (a catalogue source found on disk, or a file of the analyst's own), and its checksum."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geodata.errors import ConfigError

RESTRICTIONS = ("non-commercial", "share-alike", "no-derivatives", "attribution", "unknown")
"""Licence restrictions an input may carry; an output inherits every restriction of every input."""


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's content (streamed by :func:`hashlib.file_digest`)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class InputRecord:
    """One input: its name, where it was read and how it was found, its checksum and size, and its terms."""

    name: str
    sha256: str
    licence: str
    attribution: str
    licence_restrictions: tuple[str, ...] = ()
    title: str = ""
    url: str = ""
    path: str = ""
    origin: str = ""
    """``mirror``, ``cache``, ``download`` or ``path`` (a file of the analyst's own)."""
    size_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "url": self.url,
            "path": self.path,
            "origin": self.origin,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "licence": self.licence,
            "licence_restrictions": list(self.licence_restrictions),
            "attribution": self.attribution,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> InputRecord:
        """A record from a mapping with at least ``name``, ``sha256``, ``licence`` and ``attribution``; a licence of
        ``unknown`` adds the ``unknown`` restriction. Raises :class:`ConfigError` naming what is missing or unknown."""
        missing = [k for k in ("name", "sha256", "licence", "attribution") if not data.get(k)]
        if missing:
            raise ConfigError(
                f"input '{data.get('name', '?')}' lacks {missing}; every published input needs its checksum, licence "
                "and attribution (use licence 'unknown' and attribution 'unknown' for a user file of unknown terms)"
            )
        restrictions = tuple(data.get("licence_restrictions") or ())
        if str(data["licence"]).strip().lower() == "unknown" and "unknown" not in restrictions:
            restrictions += ("unknown",)
        unknown = [r for r in restrictions if r not in RESTRICTIONS]
        if unknown:
            raise ConfigError(
                f"input '{data['name']}' has licence restrictions {unknown} that are not known; "
                f"use {sorted(RESTRICTIONS)}"
            )
        size = data.get("size_bytes")
        return cls(
            name=str(data["name"]),
            sha256=str(data["sha256"]),
            licence=str(data["licence"]),
            attribution=str(data["attribution"]),
            licence_restrictions=restrictions,
            title=str(data.get("title") or ""),
            url=str(data.get("url") or ""),
            path=str(data.get("path") or ""),
            origin=str(data.get("origin") or ""),
            size_bytes=int(size) if size is not None else None,
        )
