"""Atomic, versioned publication with a verifiable manifest.

Layout of ``<root>/<scenario>/``::

    versions/20260101T120000Z-1a2b3c4d/   complete, validated publications (the newest ``keep_versions`` are kept)
    latest -> versions/20260101T120000Z-1a2b3c4d
    corridor.gpkg -> latest/corridor.gpkg  (and index.html, manifest.json, tiles, lib, ...: stable links)
    .staging/                              work in progress; never pointed to, swept by the next publish
    .lock                                  one publisher at a time (the next waits for it, up to lock_wait_s)

A publication is built into ``.staging/<version>/``, gets its ``manifest.json`` (every file with size and sha256,
the scenario and its digest, every input with its checksum, licence and attribution, the code version, the run id,
and the licence terms the outputs inherit), is verified and validated, fsynced, renamed into ``versions/`` and only
then made live by replacing the ``latest`` symlink in one ``rename(2)``. A crash or kill at any point leaves the
previous publication live and intact; at worst a staging folder remains, which the next publish removes.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geodata.errors import ConfigError, PublishError, StorageError
from geodata.preflight import storage_error
from geodata.sources.provenance import InputRecord, sha256_of

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
LATEST = "latest"
STAGING = ".staging"
LOCK_WAIT_S = 900.0
"""How long a publish waits for another publish of the same scenario before giving up (seconds)."""
LOCK_POLL_S = 0.2
VERSIONS = "versions"

# Licence restrictions in the order they are stated; an output inherits every restriction of every input.
RESTRICTION_WORDS: dict[str, str] = {
    "non-commercial": "NON-COMMERCIAL: the outputs may be used for education, research and non-profit purposes "
    "only; commercial use needs the permission of the owners of",
    "share-alike": "SHARE-ALIKE: adapted outputs that you distribute must be shared under the same licence as",
    "no-derivatives": "NO-DERIVATIVES: the terms of these inputs forbid distributing adapted material:",
    "attribution": "ATTRIBUTION: credit the sources as given below whenever the outputs are shown or shared:",
    "unknown": "UNKNOWN TERMS: check the licence of these inputs before redistributing the outputs:",
}


@dataclass(frozen=True)
class LicenceTerms:
    """The terms a publication inherits: the union of its inputs' restrictions, in plain words."""

    restrictions: tuple[str, ...]
    statement: str
    attribution: str
    by_restriction: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "restrictions": list(self.restrictions),
            "statement": self.statement,
            "attribution": self.attribution,
            "inputs_by_restriction": self.by_restriction,
        }


@dataclass
class PublishResult:
    """A publication made live: where it is, its manifest, what was pruned, and how long it took."""

    scenario: str
    version: str
    version_dir: Path
    live_dir: Path
    manifest: dict[str, Any]
    pruned: list[Path]
    elapsed_s: float

    @property
    def size_bytes(self) -> int:
        return sum(int(f["size_bytes"]) for f in self.manifest["files"])


# -- inputs and licences ------------------------------------------------------------------------------------------


def input_record(source: Any) -> InputRecord:
    """The :class:`~geodata.sources.provenance.InputRecord` of a resolved catalogue source (anything with
    ``record()``), a record, or a mapping with at least ``name``, ``sha256``, ``licence`` and ``attribution``."""
    if isinstance(source, InputRecord):
        return source
    if hasattr(source, "record"):
        return InputRecord.from_mapping(source.record().to_dict())
    if not isinstance(source, Mapping):
        raise ConfigError(f"input {source!r} is neither a resolved source nor a mapping; pass catalogue.resolve(...)")
    return InputRecord.from_mapping(source)


def combine_licences(inputs: Sequence[InputRecord]) -> LicenceTerms:
    """The most restrictive terms of ``inputs`` -- every restriction of any input applies to the outputs -- stated
    in plain words, naming the inputs that impose each one."""
    by: dict[str, list[str]] = {}
    for rec in inputs:
        for r in rec.licence_restrictions:
            by.setdefault(r, []).append(rec.name)
    ordered = tuple(r for r in RESTRICTION_WORDS if r in by)
    licences = {rec.name: rec.licence for rec in inputs}
    lines = []
    if ordered:
        lines.append(
            "These outputs are derived from the inputs listed and inherit the most restrictive of their terms."
        )
    else:
        lines.append("No input restricts the use of these outputs beyond its licence; credit the sources below.")
    for r in ordered:
        names = "; ".join(f"{n} ({licences[n]})" for n in by[r])
        lines.append(f"{RESTRICTION_WORDS[r]} {names}.")
    if "share-alike" in by and len({licences[n] for n in by["share-alike"]}) > 1:
        lines.append(
            "The share-alike licences above differ; an output combining them may only be redistributed where their "
            "terms are compatible: check before redistributing."
        )
    attribution = "; ".join(dict.fromkeys(rec.attribution for rec in inputs if rec.attribution))
    return LicenceTerms(ordered, " ".join(lines), attribution, by)


# -- manifest -----------------------------------------------------------------------------------------------------


sha256_file = sha256_of


HASH_THREADS = 2
"""Files hashed at once for the manifest (hashlib releases the GIL: a 100 m publication's 220 MB take half the time
on two cores)."""


def _hashes(paths: Sequence[Path]) -> list[str]:
    """The sha256 of each of ``paths``, the largest first across :data:`HASH_THREADS` threads, in their order."""
    if len(paths) < 2:
        return [sha256_file(p) for p in paths]
    with ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="sha256") as pool:
        order = sorted(range(len(paths)), key=lambda i: -paths[i].stat().st_size)
        done = dict(zip(order, pool.map(lambda i: sha256_file(paths[i]), order), strict=True))
    return [done[i] for i in range(len(paths))]


def _listing(folder: Path) -> list[dict[str, Any]]:
    paths = [
        p
        for p in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        if p.relative_to(folder).as_posix() != MANIFEST
    ]
    return [
        {"path": p.relative_to(folder).as_posix(), "size_bytes": p.stat().st_size, "sha256": digest}
        for p, digest in zip(paths, _hashes(paths), strict=True)
    ]


def code_version() -> str:
    """``git describe --always --dirty --tags`` of the source tree, else the installed package version."""
    repo = Path(__file__).resolve().parents[2]
    try:
        # git from PATH with fixed arguments and no shell: a code version, nothing user-supplied reaches it
        out = subprocess.run(  # noqa: S603
            ["git", "-C", str(repo), "describe", "--always", "--dirty", "--tags"],  # noqa: S607
            capture_output=True, text=True, timeout=20, check=True,
        )  # fmt: skip
        if out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"caspian-corridor=={version('caspian-corridor')}"
    except PackageNotFoundError:
        return "unknown"


def write_manifest(
    folder: Path,
    *,
    scenario: str,
    scenario_digest: str,
    run_id: str,
    version: str,
    inputs: Sequence[InputRecord],
    code: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``folder/manifest.json`` listing every file of ``folder`` and return it."""
    terms = combine_licences(inputs)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "scenario": {"name": scenario, "digest": scenario_digest},
        "run_id": run_id,
        "version": version,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "code_version": code,
        "licence": terms.to_dict(),
        "inputs": [rec.to_dict() for rec in inputs],
        "files": _listing(folder),
        **({"extra": dict(extra)} if extra else {}),
    }
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return manifest


def verify_manifest(folder: str | Path) -> list[str]:
    """Problems of the publication in ``folder`` against its manifest: missing, changed or unlisted files, and
    missing manifest fields. An empty list means it verifies."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return [f"{path} is missing"]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [f"{path} is not valid JSON: {exc}"]
    problems = [
        f"manifest lacks '{key}'"
        for key in ("manifest_version", "scenario", "run_id", "version", "created_at", "code_version", "licence",
                    "inputs", "files")
        if key not in manifest
    ]  # fmt: skip
    for rec in manifest.get("inputs", []):
        for key in ("name", "sha256", "licence", "attribution"):
            if not rec.get(key):
                problems.append(f"input '{rec.get('name', '?')}' lacks '{key}'")
    listed = {entry.get("path", "") for entry in manifest.get("files", [])}
    problems += _listed_file_problems(folder, manifest.get("files", []))
    for path_ in folder.rglob("*"):
        rel = path_.relative_to(folder).as_posix()
        if path_.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: present but not in the manifest")
    return problems


def _listed_file_problems(folder: Path, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Files of the manifest's listing that are missing, or whose size or sha256 differs from it."""
    problems = []
    to_hash: list[tuple[str, Path, Any]] = []
    for entry in entries:
        rel = entry.get("path", "")
        target = folder / rel
        if not target.is_file():
            problems.append(f"{rel}: listed but missing")
        elif target.stat().st_size != entry.get("size_bytes"):
            problems.append(
                f"{rel}: size {target.stat().st_size} differs from the manifest's {entry.get('size_bytes')}"
            )
        else:
            to_hash.append((rel, target, entry.get("sha256")))
    for (rel, _, listed_sha), digest in zip(to_hash, _hashes([t for _, t, _ in to_hash]), strict=True):
        if digest != listed_sha:
            problems.append(f"{rel}: sha256 differs from the manifest's")
    return problems


# -- publishing ---------------------------------------------------------------------------------------------------


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(d)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _version_name(run_id: str, versions: Path, staging: Path) -> str:
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    short = re.sub(r"[^A-Za-z0-9]", "", run_id)[:8] or "run"
    name = f"{stamp}-{short}"
    n = 1
    while (versions / name).exists() or (staging / name).exists():
        n += 1
        name = f"{stamp}-{short}-{n}"
    return name


def live_version(scenario_dir: str | Path) -> Path | None:
    """The version folder ``latest`` points to, or None when nothing is published."""
    link = Path(scenario_dir) / LATEST
    if not link.is_symlink():
        return None
    return (link.parent / os.readlink(link)).resolve()


def publish(
    scenario: str,
    build: Callable[[Path], object],
    *,
    root: str | Path,
    run_id: str,
    scenario_digest: str,
    inputs: Iterable[Any] = (),
    keep_versions: int = 3,
    validate: Callable[[Path], None] | None = None,
    code: str | None = None,
    extra: Mapping[str, Any] | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> PublishResult:
    """Build, verify and switch a new publication of ``scenario`` live in one atomic step.

    Parameters
    ----------
    scenario
        Scenario name (the folder under ``root``).
    build
        Writes the publication's files into the (empty) folder it is given; an exception aborts the publication.
    root
        The publication root, e.g. ``published/`` (``CORRIDOR_OUTPUT``).
    run_id, scenario_digest
        The orchestrator's run id and ``Scenario.digest()``, recorded in the manifest.
    inputs
        ``catalogue.ResolvedSource`` objects or mappings (see :func:`input_record`); their licences decide the terms
        the outputs inherit.
    keep_versions
        Versions kept after the switch (the live one always is).
    validate
        Called with the staged folder, on a thread of its own while the manifest is written and verified (it must
        only read the folder); raise to refuse the publication (e.g. run :func:`geodata.publish.gpkg.validate_gpkg`
        and raise on problems). The publication goes live only when both the manifest verified and this passed.
    code
        Code version; default :func:`code_version`.
    lock_wait_s
        How long to wait for another publish of the same scenario (the ``.lock``) to finish before giving up; two
        runs of one scenario that reach their publish step together are published one after the other, and
        ``latest`` points at the second. 0 refuses at once.

    Raises
    ------
    PublishError
        The build failed, or the staged publication did not verify or validate, or another publish of the scenario
        held the lock for longer than ``lock_wait_s``. The previous publication stays live.
    """
    t0 = time.perf_counter()
    if keep_versions < 1:
        raise ConfigError(f"keep_versions={keep_versions}: keep at least the live version (1)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", scenario):
        raise ConfigError(f"scenario name '{scenario}' is not a valid folder name (lower-case, digits, - and _)")
    records = [input_record(s) for s in inputs]
    base = Path(root) / scenario
    try:
        return _publish_locked(
            scenario, build, base, run_id=run_id, scenario_digest=scenario_digest, records=records,
            keep_versions=keep_versions, validate=validate, code=code, extra=extra, t0=t0, lock_wait_s=lock_wait_s,
        )  # fmt: skip
    except OSError as exc:
        raise storage_error(exc, getattr(exc, "filename", None) or base, f"publication of '{scenario}'") from exc


def _check_layout(base: Path) -> None:
    """Refuse a publication folder whose fixed entries are not what the publisher maintains (before any work)."""
    if base.exists() and not base.is_dir():
        raise StorageError(f"{base} is a file, not the publication folder of its scenario; move it away")
    latest = base / LATEST
    if latest.exists() and not latest.is_symlink():
        raise StorageError(
            f"{latest} is a {'folder' if latest.is_dir() else 'file'}, not the link to the live version that the "
            "publisher switches; move it away (the versions are kept under versions/)"
        )


def _publish_locked(
    scenario: str,
    build: Callable[[Path], object],
    base: Path,
    *,
    run_id: str,
    scenario_digest: str,
    records: list[InputRecord],
    keep_versions: int,
    validate: Callable[[Path], None] | None,
    code: str | None,
    extra: Mapping[str, Any] | None,
    t0: float,
    lock_wait_s: float,
) -> PublishResult:
    _check_layout(base)
    versions, staging = base / VERSIONS, base / STAGING
    for d in (versions, staging):
        d.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        _acquire(lock, base / ".lock", scenario, lock_wait_s)
        for stale in staging.iterdir():  # left by a crashed or killed publish
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        version = _version_name(run_id, versions, staging)
        work = staging / version
        work.mkdir()
        try:
            try:
                build(work)
            except OSError:
                raise
            except Exception as exc:
                raise PublishError(f"building publication {version} of '{scenario}' failed: {exc}") from exc
            if (work / MANIFEST).exists():
                raise PublishError(f"the build wrote its own {MANIFEST}; leave it to publish()")
            # the validation (GDAL's validator is a child process) runs while the manifest is written and
            # verified: both only read the staged files, and both must pass before the folder goes live
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate") as pool:
                checked = pool.submit(validate, work) if validate is not None else None
                try:
                    manifest = write_manifest(
                        work, scenario=scenario, scenario_digest=scenario_digest, run_id=run_id, version=version,
                        inputs=records, code=code or code_version(), extra=extra,
                    )  # fmt: skip
                    problems = verify_manifest(work)
                finally:
                    if checked is not None:
                        wait([checked])
            if problems:
                raise PublishError(f"publication {version} does not verify: {'; '.join(problems[:10])}")
            if checked is not None:
                try:
                    checked.result()
                except OSError:
                    raise
                except Exception as exc:
                    raise PublishError(f"publication {version} of '{scenario}' failed validation: {exc}") from exc
            _fsync_tree(work)
            final = versions / version
            os.rename(work, final)
            _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        _switch_latest(base, version)
        _refresh_links(base, final)
        pruned = _prune(versions, keep_versions, final)
    return PublishResult(scenario, version, final, base / LATEST, manifest, pruned, time.perf_counter() - t0)


def _acquire(lock: Any, path: Path, scenario: str, wait_s: float) -> None:
    """Take the exclusive lock of the publication folder, waiting up to ``wait_s`` for another publisher."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise PublishError(
                    f"another publish of '{scenario}' held the lock {path} for more than {wait_s:.0f} s; wait for "
                    "it to finish and run again (the lock is released when its holder exits, even when killed)"
                ) from None
            time.sleep(LOCK_POLL_S)


def _switch_latest(base: Path, version: str) -> None:
    tmp = base / f".{LATEST}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{VERSIONS}/{version}", tmp)
    os.replace(tmp, base / LATEST)  # atomic: readers see the old or the new target, never neither
    _fsync_dir(base)


def _refresh_links(base: Path, final: Path) -> None:
    """Stable top-level links ``name -> latest/name`` for every entry of the live version; links whose target the
    live version lacks are removed."""
    names = {p.name for p in final.iterdir()}
    for name in names:
        link = base / name
        if link.is_symlink() or not link.exists():
            if not link.is_symlink():
                os.symlink(f"{LATEST}/{name}", link)
    for link in base.iterdir():
        if link.is_symlink() and link.name != LATEST and link.name not in names:
            link.unlink()


def _prune(versions: Path, keep: int, live: Path) -> list[Path]:
    ordered = sorted((p for p in versions.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    pruned = []
    for old in ordered[keep:]:
        if old.resolve() == live.resolve():
            continue
        shutil.rmtree(old, ignore_errors=True)
        pruned.append(old)
    return pruned
