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

import pyogrio
import pyogrio.errors

from geodata.errors import ResourceBudgetExceeded, StorageError

STAGE_BYTES_PER_CELL: dict[str, int] = {
    "bathymetry": 15,
    "boundaries": 15,
    "cost": 50,
    "routing": 30,
    "engineering": 35,
    "deliverables": 20,
    "publish": 30,
}
"""Peak resident memory per analysis-grid cell of each stage's steps, above :data:`BASE_BYTES`: the growth of the
stage's dearest step's peak (``VmHWM``) between the 1000 m and the 100 m run of the default scenario (0.25 M and
24.9 M cells, only ``analysis.resolution_m`` changed), as ``benchmarks/pipeline.py`` prints it in its "peak memory
per cell by step" table (2026-12-03, main with the streamed rasters, cost surface and publishing of issue #14;
rounded up to 5). Measured per step: bathymetry 9.5 (sea_mask 11.3), territorial_waters 13.7, cost_surface 49.9,
least_cost_route 26.1 (corridor 26.0, alternatives 18.8, landfalls 13.9), engineered_route 27.2, route_robustness
31.3 (on its Monte Carlo grid; 360 before it: 8.95 GB at 100 m), route_position_list 15.3, straight_line_diagram
17.5, published_corridor 29.3. A step's peak includes what earlier steps left resident (the allocator keeps freed
memory), so these are upper bounds. Before issue #14 the dearest stages took 193 (cost) to 291 (publish) B/cell.
Re-measure with ``python benchmarks/pipeline.py --resolutions 1000,100 --no-nested`` when a stage's memory
changes."""
BYTES_PER_CELL = max(STAGE_BYTES_PER_CELL.values())
"""Peak resident memory per analysis-grid cell of a whole run: the dearest stage's (:data:`STAGE_BYTES_PER_CELL`;
the 100 m run above peaked at 1.84 GB, 74 B/cell; 0.65 GB + 50 B/cell x 24.9 M cells = 1.9 GB). With two steps at
once (the executor's default, ``pipelines/executors.py``) the 100 m run peaked at 1.53-1.71 GB over four runs
(61-69 B/cell; routing steps side by side), within the same estimate; more steps at once need more. Before issue #14
it was 230 (5.4 GB over 25 M cells at 100 m, measured before the Monte Carlo stage existed)."""
PEAK_STAGE = max(STAGE_BYTES_PER_CELL, key=lambda stage: STAGE_BYTES_PER_CELL[stage])
"""The stage whose steps set a run's peak memory."""
BASE_BYTES = 650_000_000
"""Peak resident memory of a run on a tiny grid: the interpreter, Dagster, GDAL and numba (0.55-0.62 GB measured at
1 km, 0.25 M cells, on the packaged scenarios)."""
BYTES_PER_HAZARD = 4_000
"""Resident memory per hazard feature through the hazards stage (the user file read, its normalised table, the
combined and clipped tables, the per-class arrays): 2.0 kB per point measured by ``benchmarks/hazards_scale.py``
(1 M synthetic points from a GeoPackage, peak +2.03 GB), doubled for lines and polygons, which hold more vertices."""
PUBLICATION_BYTES_PER_CELL = 12
"""Disk a publication takes per grid cell (three float32 coverages with their overviews in the GeoPackage, raster
tiles): 8.5 measured at 100 m (213 MB for 24.9 M cells, 2026-12-03, the corridor.gpkg 193 MB of it)."""
PUBLISH_SCRATCH_BYTES_PER_CELL = 13
"""Temporary disk per grid cell while a publication is written, in its staging folder under the output folder, on
top of the publication itself: the peak of the bytes on disk under the publication root during ``publish()`` of the
default scenario at 100 m (24.9 M cells) was 521 MB, 213 MB of it the publication and 308 MB (12.4 B/cell) the three
float32 rasters as published (uncompressed scratch GeoTIFFs; the raster tiles' own spill files are small beside
them), sampled every 50 ms on 2026-12-03 (``publish()`` of a captured PublicationContent with a thread summing
``st_blocks`` under the root; with the GDAL tile pipeline before, its RGBA rendering and web mercator pyramid added
8.9 B/cell)."""
MIN_FREE_BYTES = 50_000_000
"""Disk kept free beyond every estimate."""
CSV_SUFFIXES = (".csv", ".txt")


@dataclass(frozen=True)
class RunEstimate:
    """What a run is expected to need, from its grid and its inputs; ``hazard_files`` names the user hazard files
    and their feature counts (``hazard_features`` includes them)."""

    cells: int
    hazard_features: int
    memory_bytes: int
    publication_bytes: int
    hazard_files: tuple[tuple[str, int], ...] = ()
    publish_scratch_bytes: int = 0
    """Temporary disk while the publication is written (:data:`PUBLISH_SCRATCH_BYTES_PER_CELL`)."""

    @property
    def output_bytes(self) -> int:
        """Free disk the output folder needs: the new publication and its scratch while it is written (older
        versions are pruned only once the new one is live, and they are already on the disk)."""
        return self.publication_bytes + self.publish_scratch_bytes

    @property
    def grid_bytes(self) -> int:
        """The part of the memory estimate that grows with the grid."""
        return BYTES_PER_CELL * self.cells

    @property
    def hazard_bytes(self) -> int:
        """The part of the memory estimate that grows with the hazard features."""
        return BYTES_PER_HAZARD * self.hazard_features

    def describe(self) -> str:
        return (
            f"{self.cells / 1e6:.1f} M cells and {self.hazard_features} hazard features need about "
            f"{self.memory_bytes / 1e9:.1f} GB of memory (at its peak, in the {PEAK_STAGE} stage) and "
            f"{self.output_bytes / 1e6:.0f} MB of disk in the output folder ({self.disk_detail()})"
        )

    def disk_detail(self) -> str:
        """What the output folder's disk is for."""
        return (
            f"the publication about {self.publication_bytes / 1e6:.0f} MB and, while it is written, "
            f"{self.publish_scratch_bytes / 1e6:.0f} MB of temporary rasters and tiles in its staging folder"
        )


def estimate_run(
    cells: int, hazard_features: int = 0, *, hazard_files: tuple[tuple[str, int], ...] = ()
) -> RunEstimate:
    """The memory and disk a run of ``cells`` grid cells with ``hazard_features`` hazards is expected to need."""
    memory = BASE_BYTES + BYTES_PER_CELL * cells + BYTES_PER_HAZARD * hazard_features
    return RunEstimate(
        cells,
        hazard_features,
        int(memory),
        int(PUBLICATION_BYTES_PER_CELL * cells),
        hazard_files,
        int(PUBLISH_SCRATCH_BYTES_PER_CELL * cells),
    )


def check_memory_budget(estimate: RunEstimate, budget_bytes: int, *, resolution_m: float) -> None:
    """Refuse a run whose estimate exceeds ``budget_bytes``, saying by how much and what to change: a coarser
    resolution when that alone would fit, else fewer hazard features (naming the largest user file)."""
    if estimate.memory_bytes <= budget_bytes:
        return
    over = (
        f"this run would need about {estimate.memory_bytes / 1e9:.1f} GB of memory ({estimate.describe()}), over "
        f"the budget of {budget_bytes / 1e9:.1f} GB"
    )
    raise_budget = "raise the budget (CORRIDOR_MEMORY_BUDGET_GB) on a larger machine"
    room = budget_bytes - BASE_BYTES
    if room <= 0:
        raise ResourceBudgetExceeded(f"{over}; the program alone needs about {BASE_BYTES / 1e9:.2f} GB: {raise_budget}")
    largest = max(estimate.hazard_files, key=lambda item: item[1], default=None)
    named = f" ({largest[0]} holds {largest[1]:,})" if largest else ""

    def resolution(cell_room: float) -> str:
        coarser = math.ceil(resolution_m * math.sqrt(estimate.grid_bytes / cell_room))
        return f"set analysis.resolution_m to {coarser:.0f} m or more, draw a smaller area_of_interest"

    def features(feature_room: float) -> str:
        return (
            f"keep about {int(feature_room // BYTES_PER_HAZARD):,} hazard features or fewer (drop those outside the "
            "area_of_interest, thin dense point clouds, or split the inventory between scenarios in hazards.inputs)"
        )

    hazards = f"the {estimate.hazard_features:,} hazard features take about {estimate.hazard_bytes / 1e9:.1f} GB{named}"
    if estimate.grid_bytes >= estimate.hazard_bytes and room > estimate.hazard_bytes:
        raise ResourceBudgetExceeded(f"{over}; {resolution(room - estimate.hazard_bytes)}, or {raise_budget}")
    if room > estimate.grid_bytes:
        raise ResourceBudgetExceeded(f"{over}; {hazards}: {features(room - estimate.grid_bytes)}, or {raise_budget}")
    raise ResourceBudgetExceeded(
        f"{over}; {hazards}, the grid the rest: {resolution(room / 2)}, and {features(room / 2)}, or {raise_budget}"
    )


def count_features(path: Path | str, layer: str | None = None) -> int:
    """Features of a vector file's layer (data rows of a CSV) without reading them, for the estimate; 0 when the file
    cannot be opened (its reader says why, with the fix)."""
    path = Path(path)
    try:
        if path.suffix.lower() in CSV_SUFFIXES:
            with open(path, "rb") as fh:
                rows = sum(1 for line in fh if line.strip() and not line.lstrip().startswith(b"#"))
            return max(rows - 1, 0)  # less the header
        info = pyogrio.read_info(path, layer=layer, force_feature_count=True)
        return max(int(info["features"]), 0)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError, KeyError):
        return 0


def default_memory_budget() -> int:
    """80 % of the machine's physical memory (the rest is for the operating system and other processes)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8_000_000_000
    return int(0.8 * pages * size)


def check_writable_folder(path: Path, role: str, *, need_bytes: int = 0, need: str = "", fix: str = "") -> Path:
    """Make sure ``path`` is (or can be created as) a writable folder with ``need_bytes`` free; returns it resolved.

    ``role`` names the folder in the error ("output folder (CORRIDOR_OUTPUT)"), so the message says what to fix;
    ``need`` says what the space is for and ``fix`` adds a remedy to the message of a full disk.
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
            f"{(need_bytes + MIN_FREE_BYTES) / 1e6:.0f} MB{f' ({need})' if need else ''}; free some space"
            f"{f', {fix}' if fix else ''} or point the setting at a larger disk"
        )
    return path.resolve()


def check_output_folder(path: Path, estimate: RunEstimate, *, role: str = "output folder (CORRIDOR_OUTPUT)") -> Path:
    """:func:`check_writable_folder` for the publication's folder: free space for the new publication and for the
    temporary files written while it is built (:attr:`RunEstimate.output_bytes`), the message saying what they are."""
    return check_writable_folder(
        path,
        role,
        need_bytes=estimate.output_bytes,
        need=estimate.disk_detail(),
        fix="set analysis.resolution_m coarser (the disk grows with the grid's cells)",
    )


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


REFINE_BYTES_PER_BAND_CELL = 45
"""Peak resident memory per fine cell of the refinement band (the ``refined_route`` step of a scenario with a
``survey:`` section), above what the regional run holds: the nested case of ``benchmarks/pipeline.py`` (regional
1 km, a SYNTHETIC 10 m survey, ``survey.buffer_m`` 2500 m along a 324 km route: 16.4 M band cells) rose from 0.61 to
1.32 GB in that step (2026-12-03), 43 B per band cell. The working arrays alone take 13 (float32 cost, uint8 state,
float64 distance, on the cells settled); the rest is the square windows that meet the band (page-granular) and the
per-window depth, slope, hazard and cost terms."""


def refinement_band_cells(length_m: float, buffer_m: float, resolution_m: float) -> float:
    """Fine cells of a band of half-width ``buffer_m`` round a line of ``length_m`` (its round ends included)."""
    return (2.0 * buffer_m * length_m + math.pi * buffer_m**2) / resolution_m**2


def refinement_room(budget_bytes: int, regional_cells: int) -> int:
    """Memory left for the refinement band: the budget less the program and what the regional run keeps resident
    while the band is routed (the routing stage's share of :data:`STAGE_BYTES_PER_CELL` on the regional grid)."""
    return budget_bytes - BASE_BYTES - STAGE_BYTES_PER_CELL["routing"] * regional_cells


def check_refinement_budget(
    band_cells: float, room_bytes: int, *, resolution_m: float, buffer_m: float, lower_bound: bool = False
) -> None:
    """Refuse a refinement band whose estimate exceeds ``room_bytes`` (:func:`refinement_room`), saying which
    ``survey.resolution_m`` would fit. ``lower_bound``: ``band_cells`` is the least the band can hold (the pre-flight,
    before the route is known), so the refusal is certain."""
    need = band_cells * REFINE_BYTES_PER_BAND_CELL
    if need <= room_bytes:
        return
    least = "at least " if lower_bound else "about "
    head = (
        f"the survey refinement band of {least}{band_cells / 1e6:,.0f} M cells ({resolution_m:g} m cells, "
        f"survey.buffer_m {buffer_m:g} m) would need {least}{need / 1e9:.1f} GB of memory"
    )
    if room_bytes <= 0:
        raise ResourceBudgetExceeded(
            f"{head}, and the regional run alone fills the budget; raise CORRIDOR_MEMORY_BUDGET_GB on a larger "
            "machine or set analysis.resolution_m coarser"
        )
    fit = math.ceil(resolution_m * math.sqrt(need / room_bytes) * 10.0) / 10.0
    raise ResourceBudgetExceeded(
        f"{head}, over the {room_bytes / 1e9:.1f} GB the budget leaves for it; set survey.resolution_m to {fit:g} m "
        "or more, narrow survey.buffer_m, or raise CORRIDOR_MEMORY_BUDGET_GB on a larger machine"
    )
