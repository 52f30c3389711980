"""The source catalogue: which inputs exist, where they come from, their licences, and how each is resolved to a file.

A source resolves, in order, to: a file in the configured mirror directory (``CORRIDOR_MIRROR``), a file in the local
download cache (``CORRIDOR_CACHE``, default ``.corridor_cache/`` in the working directory), or a fresh download of its
canonical URL into that cache (sources whose catalogue entry says ``fetch: direct``). Offline with no mirror, the
resolution fails at once with a message that says how to set ``CORRIDOR_MIRROR``.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from geodata.errors import ChecksumMismatch, ConfigError, SourceUnavailable
from geodata.scenario import load_yaml
from geodata.sources.provenance import InputRecord, sha256_of

MIRROR_ENV = "CORRIDOR_MIRROR"
CACHE_ENV = "CORRIDOR_CACHE"


@dataclass(frozen=True)
class Source:
    """One catalogue entry."""

    name: str
    title: str
    kind: str
    file: str
    url: str
    fetch: str
    licence: str
    attribution: str
    sha256: str | None = None
    licence_restrictions: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """What the manifest and Dagster metadata record about this source."""
        return {
            "name": self.name,
            "title": self.title,
            "url": self.url,
            "licence": self.licence,
            "licence_restrictions": list(self.licence_restrictions),
            "attribution": self.attribution,
            "expected_sha256": self.sha256,
        }


@dataclass(frozen=True)
class ResolvedSource:
    """A source found on disk: the path, how it was found and the checksum actually read."""

    source: Source
    path: Path
    origin: str  # "mirror", "cache", "download" or "path"
    sha256: str

    def record(self) -> InputRecord:
        """The provenance record of this input (the one the manifest and the licence terms use)."""
        src = self.source
        return InputRecord(
            name=src.name,
            sha256=self.sha256,
            licence=src.licence,
            attribution=src.attribution,
            licence_restrictions=tuple(src.licence_restrictions),
            title=src.title,
            url=src.url,
            path=str(self.path),
            origin=self.origin,
            size_bytes=self.path.stat().st_size if self.path.exists() else None,
        )

    def provenance(self) -> dict[str, Any]:
        """The record as a mapping, with the checksum the catalogue expects."""
        return {**self.record().to_dict(), "expected_sha256": self.source.sha256}


_KNOWN_KEYS = {
    "title",
    "kind",
    "file",
    "url",
    "fetch",
    "licence",
    "attribution",
    "sha256",
    "licence_restrictions",
    "layers",
    "notes",
}


@lru_cache(maxsize=1)
def load_catalogue() -> dict[str, Source]:
    """The catalogue shipped as package data (``geodata/data/sources.yaml``)."""
    text = resources.files("geodata").joinpath("data/sources.yaml").read_text(encoding="utf-8")
    raw = load_yaml(text, "geodata/data/sources.yaml")
    out: dict[str, Source] = {}
    for name, entry in raw.items():
        extra = {k: v for k, v in entry.items() if k not in _KNOWN_KEYS}
        out[name] = Source(
            name=name,
            title=entry["title"],
            kind=entry["kind"],
            file=entry["file"],
            url=entry["url"],
            fetch=entry.get("fetch", "derived"),
            licence=entry["licence"],
            attribution=entry["attribution"],
            sha256=entry.get("sha256"),
            licence_restrictions=tuple(entry.get("licence_restrictions") or ()),
            layers=tuple(entry.get("layers") or ()),
            notes=(entry.get("notes") or "").strip(),
            extra=extra,
        )
    return out


def get_source(name: str) -> Source:
    catalogue = load_catalogue()
    if name not in catalogue:
        import difflib

        close = difflib.get_close_matches(name, catalogue, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"unknown source '{name}'.{hint} Known sources: {', '.join(sorted(catalogue))}; use one of them, or add "
            "the source to geodata/data/sources.yaml"
        )
    return catalogue[name]


DEFAULT_CACHE = Path(".corridor_cache")
"""The download cache when none is given (``CORRIDOR_CACHE`` in the pipeline)."""


def resolve(
    name: str,
    *,
    mirror: Path | None = None,
    cache: Path | None = None,
    verify: bool = True,
    allow_download: bool = True,
    timeout_s: float = 30.0,
) -> ResolvedSource:
    """Find the file of source ``name``: mirror, then cache, then download. Raises :class:`SourceUnavailable` with the
    fix when none works, and :class:`ChecksumMismatch` when the file found is not the one the catalogue expects."""
    source = get_source(name)
    if mirror is not None and not Path(mirror).is_dir():
        raise SourceUnavailable(
            f"{MIRROR_ENV}={mirror} is not a directory; point it at the folder holding the mirror files"
        )
    cache = Path(cache) if cache is not None else DEFAULT_CACHE
    tried: list[str] = []
    for origin, folder in (("mirror", mirror), ("cache", cache)):
        if folder is None:
            tried.append(f"{origin}: not configured")
            continue
        candidate = Path(folder) / source.file
        if candidate.is_file():
            return _checked(source, candidate, origin, verify)
        tried.append(f"{origin}: no {candidate}")
    if source.fetch == "direct" and allow_download:
        target = cache / source.file
        try:
            _download(source.url, target, timeout_s)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            tried.append(f"download of {source.url}: {exc}")
        else:
            return _checked(source, target, "download", verify)
    elif source.fetch != "direct":
        tried.append(f"download: '{name}' is a derived extract of {source.url}, not a single downloadable file")
    raise SourceUnavailable(
        f"source '{name}' ({source.file}) is not available ({'; '.join(tried)}). "
        f"Set {MIRROR_ENV} to a folder holding {source.file}, e.g. `export {MIRROR_ENV}=../shared/geodata-mirror`."
    )


def _checked(source: Source, path: Path, origin: str, verify: bool) -> ResolvedSource:
    digest = sha256_of(path)
    if verify and source.sha256 and digest != source.sha256:
        raise ChecksumMismatch(
            f"source '{source.name}' at {path} has sha256 {digest}, the catalogue expects {source.sha256}; "
            "replace the file with the catalogued one, or set `verify_checksums: false` in the scenario to accept it"
        )
    return ResolvedSource(source, path, origin, digest)


def _download(url: str, target: Path, timeout_s: float) -> None:
    """Download atomically: into a temporary file beside the target, renamed only when complete."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise SourceUnavailable(f"download URL {url} is not http(s); fix the source's url in the catalogue")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
            while block := response.read(1 << 20):
                out.write(block)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
