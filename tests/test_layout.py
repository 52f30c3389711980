"""The mandated layout and the rule that the pure library never imports dagster."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mandated_top_level_exists() -> None:
    for name in ("pipelines", "assets", "geodata", "tests", "workspace.yaml", "pyproject.toml", "ARCHITECTURE.md"):
        assert (ROOT / name).exists(), name


def test_geodata_sources_never_import_dagster() -> None:
    offenders = []
    for path in (ROOT / "geodata").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0].startswith("dagster")]
    assert not offenders, offenders


def test_importing_geodata_does_not_load_dagster() -> None:
    code = (
        "import sys, pkgutil, importlib, geodata\n"
        "for m in pkgutil.walk_packages(geodata.__path__, 'geodata.'):\n"
        "    importlib.import_module(m.name)\n"
        "print([m for m in sys.modules if m.split('.')[0].startswith('dagster')])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
