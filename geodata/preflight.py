"""Checks made before any compute: will the run fit in its memory budget, and can it write where it must?

A run that would die after minutes of work (a numpy ``MemoryError`` on a 40 m grid, an ``OSError`` from a read-only
output folder after the whole route is computed) is refused here, up front, with the estimate, the budget and the
fix. The figures are measured, not guessed (see :data:`BYTES_PER_CELL`).
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from geodata.errors import ResourceBudgetExceeded, StorageError

BYTES_PER_CELL = 230
"""Peak resident memory per analysis-grid cell of a whole run. Measured on the default scenario (siyazan-aktau) with
only ``analysis.resolution_m`` changed: 5.4 GB peak RSS over 25 M cells at 100 m (about 216 B/cell), rounded up."""
BASE_BYTES = 650_000_000
"""Peak resident memory of a run on a tiny grid: the interpreter, Dagster, GDAL and numba (0.55-0.62 GB measured at
1 km, 0.25 M cells, on the packaged scenarios)."""
BYTES_PER_HAZARD = 4_000
"""Resident memory per hazard feature in the normalised table (geometry, attributes, rule columns), rounded up."""
PUBLICATION_BYTES_PER_CELL = 12
"""Disk a publication takes per grid cell (two float32 coverages in the GeoPackage, raster tiles, overviews)."""
MIN_FREE_BYTES = 50_000_000
"""Disk kept free beyond every estimate."""


@dataclass(frozen=True)
class RunEstimate:
    """What a run is expected to need, from its grid and its inputs."""

    cells: int
    hazard_features: int
    memory_bytes: int
    publication_bytes: int

    def describe(self) -> str:
        return (
            f"{self.cells / 1e6:.1f} M cells and {self.hazard_features} hazard features need about "
            f"{self.memory_bytes / 1e9:.1f} GB of memory and {self.publication_bytes / 1e6:.0f} MB of disk"
        )


def estimate_run(cells: int, hazard_features: int = 0) -> RunEstimate:
    """The memory and disk a run of ``cells`` grid cells with ``hazard_features`` hazards is expected to need."""
    memory = BASE_BYTES + BYTES_PER_CELL * cells + BYTES_PER_HAZARD * hazard_features
    return RunEstimate(cells, hazard_features, int(memory), int(PUBLICATION_BYTES_PER_CELL * cells))


def check_memory_budget(estimate: RunEstimate, budget_bytes: int, *, resolution_m: float) -> None:
    """Refuse a run whose estimate exceeds ``budget_bytes``, saying by how much and what to change."""
    if estimate.memory_bytes <= budget_bytes:
        return
    factor = (estimate.memory_bytes - BASE_BYTES) / max(budget_bytes - BASE_BYTES, 1)
    coarser = math.ceil(resolution_m * max(factor, 1.0) ** 0.5)
    raise ResourceBudgetExceeded(
        f"this run would need about {estimate.memory_bytes / 1e9:.1f} GB of memory ({estimate.describe()}), over "
        f"the budget of {budget_bytes / 1e9:.1f} GB; set analysis.resolution_m to {coarser:.0f} m or more, draw a "
        "smaller area_of_interest, or raise the budget (CORRIDOR_MEMORY_BUDGET_GB) on a larger machine"
    )


def default_memory_budget() -> int:
    """80 % of the machine's physical memory (the rest is for the operating system and other processes)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8_000_000_000
    return int(0.8 * pages * size)


def check_writable_folder(path: Path, role: str, *, need_bytes: int = 0) -> Path:
    """Make sure ``path`` is (or can be created as) a writable folder with ``need_bytes`` free; returns it resolved.

    ``role`` names the folder in the error ("output folder (CORRIDOR_OUTPUT)"), so the message says what to fix.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise StorageError(f"the {role} {path} is a file, not a folder; point it at a folder or remove the file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StorageError(
            f"the {role} {path} is not writable ({exc.strerror or exc}); fix its permissions, remount it "
            "read-write, or point the setting at a writable folder"
        ) from None
    free = shutil.disk_usage(path).free
    if free < need_bytes + MIN_FREE_BYTES:
        raise StorageError(
            f"the {role} {path} has {free / 1e6:.0f} MB free, and this run needs about "
            f"{(need_bytes + MIN_FREE_BYTES) / 1e6:.0f} MB; free some space or point the setting at a larger disk"
        )
    return path.resolve()


def storage_error(exc: OSError, path: Path | str, role: str) -> StorageError:
    """A file-system error met while writing ``path`` as a :class:`StorageError` that names the path and the fix."""
    if exc.errno == errno.ENOSPC:
        fix = "free some space or point the setting at a larger disk"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = "fix the folder's permissions, remount it read-write, or point the setting at a writable folder"
    elif exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        fix = "remove or rename what stands in the way, or point the setting at another folder"
    else:
        fix = "check the disk and the folder, then run again"
    return StorageError(f"writing the {role} at {path} failed: {exc.strerror or exc}; {fix}")
