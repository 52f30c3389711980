"""Pre-flight checks refuse, before any compute, a run that would not fit its memory budget or could not write."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from geodata.errors import ResourceBudgetExceeded, StorageError
from geodata.preflight import (
    BASE_BYTES,
    BYTES_PER_CELL,
    PEAK_STAGE,
    PUBLICATION_BYTES_PER_CELL,
    PUBLISH_SCRATCH_BYTES_PER_CELL,
    STAGE_BYTES_PER_CELL,
    check_memory_budget,
    check_output_folder,
    check_writable_folder,
    estimate_run,
    storage_error,
)


def test_a_40_m_grid_is_refused_under_an_8_gb_budget_with_the_fix() -> None:
    # 156 M cells: the 40 m grid of the default scenario's area that used to die with a numpy MemoryError
    est = estimate_run(156_000_000, hazard_features=500)
    assert est.memory_bytes == BASE_BYTES + BYTES_PER_CELL * 156_000_000 + 4_000 * 500
    gb = re.escape(f"{est.memory_bytes / 1e9:.1f}")
    with pytest.raises(ResourceBudgetExceeded, match=rf"about {gb} GB.*budget of 8\.0 GB; set analysis\.resolution_m"):
        check_memory_budget(est, 8_000_000_000, resolution_m=40.0)


def test_the_run_peak_is_the_dearest_stage_and_the_measured_100_m_run_fits_it() -> None:
    assert BYTES_PER_CELL == max(STAGE_BYTES_PER_CELL.values())
    assert STAGE_BYTES_PER_CELL[PEAK_STAGE] == BYTES_PER_CELL
    assert PEAK_STAGE in estimate_run(1_000_000).describe()
    # benchmarks/pipeline.py, default scenario at 100 m (24.9 M cells): 1.84 GB peak; the estimate is within 5 %
    assert estimate_run(24_920_000, 500).memory_bytes == pytest.approx(1.84e9, rel=0.05)
    # and the 1 km run (0.25 M cells, 0.86 GB) is not refused on a small machine
    check_memory_budget(estimate_run(250_000, 500), 2_000_000_000, resolution_m=1000.0)


def test_the_suggested_resolution_fits_the_budget() -> None:
    est = estimate_run(156_000_000)
    with pytest.raises(ResourceBudgetExceeded) as info:
        check_memory_budget(est, 8_000_000_000, resolution_m=40.0)
    suggested = float(str(info.value).split("resolution_m to ")[1].split(" m")[0])
    cells = 156_000_000 * (40.0 / suggested) ** 2
    check_memory_budget(estimate_run(int(cells)), 8_000_000_000, resolution_m=suggested)


def test_a_small_run_passes() -> None:
    check_memory_budget(estimate_run(250_000, 400), 8_000_000_000, resolution_m=1000.0)


def test_output_path_that_is_a_file_is_named(tmp_path: Path) -> None:
    target = tmp_path / "published"
    target.write_text("not a folder")
    with pytest.raises(StorageError, match=rf"output folder {target} is a file, not a folder; point it at a folder"):
        check_writable_folder(target, "output folder")


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder the process cannot write: a read-only tmpfs mount as root (root ignores permission bits), else a
    folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], check=False)
    if mounted.returncode != 0:
        pytest.skip("root cannot mount a read-only tmpfs here, and ignores permission bits")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_read_only_folder_is_named(read_only_folder: Path) -> None:
    with pytest.raises(StorageError, match=rf"store {read_only_folder} is not writable .*remount it read-write"):
        check_writable_folder(read_only_folder, "store")


def test_not_enough_free_space_is_named(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(StorageError, match=r"MB free, and this run needs about .* free some space"):
        check_writable_folder(tmp_path, "output folder", need_bytes=free * 2)


def test_creates_a_missing_folder(tmp_path: Path) -> None:
    assert check_writable_folder(tmp_path / "a" / "b", "store").is_dir()


@pytest.mark.parametrize(
    ("errno_name", "fix"),
    [("ENOSPC", "free some space"), ("EROFS", "remount it read-write"), ("EISDIR", "remove or rename")],
)
def test_file_system_errors_name_the_path_and_the_fix(errno_name: str, fix: str) -> None:
    import errno

    code = getattr(errno, errno_name)
    err = storage_error(OSError(code, os.strerror(code)), "/x/y.gpkg", "publication")
    assert "/x/y.gpkg" in str(err)
    assert fix in str(err)


def test_a_huge_hazard_inventory_is_refused_naming_the_file_and_how_many_fit() -> None:
    # SYNTHETIC figures: a 1 km grid (250 k cells) and 3 M hazard features under an 8 GB budget
    est = estimate_run(250_000, 3_000_500, hazard_files=(("quakes.gpkg", 3_000_000),))
    with pytest.raises(ResourceBudgetExceeded) as info:
        check_memory_budget(est, 8_000_000_000, resolution_m=1000.0)
    message = str(info.value)
    assert "about 12.7 GB" in message
    assert "budget of 8.0 GB" in message
    assert "the 3,000,500 hazard features take about 12.0 GB (quakes.gpkg holds 3,000,000)" in message
    assert "resolution_m" not in message  # a coarser grid would not help
    fit = int(message.split("keep about ")[1].split(" hazard")[0].replace(",", ""))
    check_memory_budget(estimate_run(250_000, fit), 8_000_000_000, resolution_m=1000.0)
    with pytest.raises(ResourceBudgetExceeded):
        check_memory_budget(estimate_run(250_000, fit + 1_000), 8_000_000_000, resolution_m=1000.0)


def test_a_fine_grid_and_a_huge_inventory_get_both_fixes_and_both_together_fit() -> None:
    est = estimate_run(156_000_000, 2_000_000, hazard_files=(("a.csv", 2_000_000),))
    with pytest.raises(ResourceBudgetExceeded) as info:
        check_memory_budget(est, 8_000_000_000, resolution_m=40.0)
    message = str(info.value)
    resolution = float(message.split("resolution_m to ")[1].split(" m")[0])
    fit = int(message.split("keep about ")[1].split(" hazard")[0].replace(",", ""))
    cells = int(156_000_000 * (40.0 / resolution) ** 2)
    check_memory_budget(estimate_run(cells, fit), 8_000_000_000, resolution_m=resolution)


def test_a_budget_below_the_program_itself_says_so() -> None:
    with pytest.raises(ResourceBudgetExceeded, match=r"the program alone needs about 0\.65 GB"):
        check_memory_budget(estimate_run(1000), 500_000_000, resolution_m=1000.0)


def test_features_are_counted_per_layer_and_per_csv_data_row(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    from geodata.preflight import count_features

    gpkg = tmp_path / "two_layers.gpkg"
    gpd.GeoDataFrame({"kind": ["well"] * 3}, geometry=[shapely.Point(50, 41)] * 3, crs=4326).to_file(gpkg, layer="a")
    gpd.GeoDataFrame({"kind": ["well"] * 5}, geometry=[shapely.Point(50, 41)] * 5, crs=4326).to_file(gpkg, layer="b")
    assert count_features(gpkg, "a") == 3
    assert count_features(gpkg, "b") == 5
    csv = tmp_path / "synthetic.csv"
    csv.write_text("# SYNTHETIC\n\nkind,lon,lat\nwell,50,41\n\nwell,50.1,41\nwell,50.2,41\n", encoding="utf-8")
    assert count_features(csv) == 3
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"not a geopackage")
    assert count_features(broken) == 0  # the reader refuses it later, with the fix
    assert count_features(tmp_path / "missing.geojson") == 0


def test_the_output_folder_needs_room_for_the_publication_and_its_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    est = estimate_run(24_916_958)  # the 100 m grid of the default scenario
    assert est.publication_bytes == int(PUBLICATION_BYTES_PER_CELL * est.cells)
    assert est.publish_scratch_bytes == int(PUBLISH_SCRATCH_BYTES_PER_CELL * est.cells) > 300_000_000  # 308 MB measured
    assert est.output_bytes == est.publication_bytes + est.publish_scratch_bytes
    assert f"{est.output_bytes / 1e6:.0f} MB of disk in the output folder" in est.describe()
    usage = shutil.disk_usage(tmp_path)
    # room for the publication alone, not for its scratch: refused before any compute, naming folder, need and fix
    room = est.publication_bytes + est.publish_scratch_bytes // 2
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=room))
    with pytest.raises(StorageError) as err:
        check_output_folder(tmp_path, est)
    message = str(err.value)
    assert f"the output folder (CORRIDOR_OUTPUT) {tmp_path} has {room / 1e6:.0f} MB free" in message
    assert f"{est.publish_scratch_bytes / 1e6:.0f} MB of temporary rasters and tiles in its staging folder" in message
    assert "free some space, set analysis.resolution_m coarser" in message
    assert "point the setting at a larger disk" in message
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=est.output_bytes + 10**9))
    assert check_output_folder(tmp_path, est) == tmp_path.resolve()
