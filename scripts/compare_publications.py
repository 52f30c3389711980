"""Compare two publication roots scenario by scenario: the RPL, profile and sector CSVs byte for byte, the GeoPackage
layer lists and the file lists. Used to show that a refactoring changed no deliverable.

    python scripts/compare_publications.py OLD_ROOT NEW_ROOT [SCENARIO ...]

Exit status 1 when anything differs.
"""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

import pyogrio

FILES = ("rpl.csv", "route_profile.csv", "sector_crossings.csv")


def compare(old: Path, new: Path) -> list[str]:
    """What differs between two published scenario folders (``latest`` of each)."""
    problems = []
    for name in FILES:
        if not filecmp.cmp(old / name, new / name, shallow=False):
            problems.append(f"{name} differs")
    layers_old = sorted(layer for layer, _ in pyogrio.list_layers(old / "corridor.gpkg"))
    layers_new = sorted(layer for layer, _ in pyogrio.list_layers(new / "corridor.gpkg"))
    if layers_old != layers_new:
        problems.append(f"GeoPackage layers differ: {layers_old} vs {layers_new}")
    files_old = sorted(str(p.relative_to(old)) for p in old.rglob("*") if p.is_file())
    files_new = sorted(str(p.relative_to(new)) for p in new.rglob("*") if p.is_file())
    if files_old != files_new:
        problems.append(f"file lists differ: {sorted(set(files_old) ^ set(files_new))}")
    return problems


def main(argv: list[str]) -> int:
    old_root, new_root = Path(argv[0]), Path(argv[1])
    scenarios = argv[2:] or sorted(p.name for p in old_root.iterdir() if (p / "latest").is_dir())
    failed = False
    for scenario in scenarios:
        problems = compare(old_root / scenario / "latest", new_root / scenario / "latest")
        failed |= bool(problems)
        print(f"{scenario}: " + ("; ".join(problems) if problems else f"identical ({', '.join(FILES)}, layers, files)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
