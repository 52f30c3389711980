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


# -- dependency direction --------------------------------------------------------------------------------------------
BASE = ("errors", "checks", "geodesy", "grid", "scenario", "preflight", "sweep")
"""Modules at the base of ``geodata``: any stage may import them; they import no stage."""
STAGES = ("sources", "bathymetry", "boundaries", "hazards", "cost", "routing", "engineering", "deliverables", "publish")
"""The stages of ``geodata`` in pipeline order: a stage imports the base and earlier stages, never a later one."""


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at module level or inside functions (``from a import b`` counts as
    ``a.b`` when ``a/b`` is a module, else as ``a``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (ROOT / sub.replace(".", "/")).with_suffix(".py").is_file() or (
                    ROOT / sub.replace(".", "/") / "__init__.py"
                ).is_file()
                out.add(sub if is_module else node.module)
    return {m for m in out if m.split(".")[0] in ("geodata", "assets", "pipelines")}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for top in ("geodata", "assets", "pipelines"):
        for path in (ROOT / top).rglob("*.py"):
            graph[_module_name(path)] = _imports(path)
    return graph


def _unit(module: str) -> str:
    """The stage (or base module) a geodata module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "geodata"


def test_geodata_stages_import_only_the_base_and_earlier_stages() -> None:
    order = {name: -1 for name in (*BASE, "geodata")} | {name: i for i, name in enumerate(STAGES)}
    graph = _graph()
    units = {_unit(m) for m in graph if m.startswith("geodata.")}
    assert units <= set(order), f"{sorted(units - set(order))}: add them to BASE or STAGES (in pipeline order)"
    offenders = []
    for module, deps in graph.items():
        if not module.startswith("geodata."):
            continue
        offenders += [f"{module} -> {d}" for d in deps if not d.startswith("geodata")]
        mine = order[_unit(module)]
        for dep in deps:
            if not dep.startswith("geodata."):
                continue
            theirs = order[_unit(dep)]
            base_to_base = mine == -1 and theirs == -1
            if (not base_to_base and theirs > mine) or (mine == -1 and theirs >= 0):
                offenders.append(f"{module} -> {dep}")
    assert not offenders, "imports against the stage order:\n" + "\n".join(sorted(offenders))


def test_assets_never_import_pipelines_and_stage_modules_not_each_other() -> None:
    graph = _graph()
    shared = {"assets", "assets.common", "assets.config"}
    offenders = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        if m.startswith("assets")
        for d in deps
        if d.startswith("pipelines") or (d.startswith("assets") and d not in shared and m not in shared)
    ]
    assert not offenders, offenders


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = []
    for top in ("geodata", "assets", "pipelines"):
        for path in (ROOT / top).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "getenv(" in text:
                readers.append(str(path.relative_to(ROOT)))
    assert readers == ["assets/config.py"], readers
