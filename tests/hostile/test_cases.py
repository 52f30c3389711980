"""Every hostile-input case of cases.py: a named CorridorError naming the input and the fix (or, for legal but
dangerous input, a repair with a warning naming the file / output escaped / publication intact)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cases
import pytest

HERE = Path(__file__).resolve().parent


def _param(c: cases.Case) -> object:
    marks = []
    if c.integration or c.isolate or c.klass == "publish-kill":  # Dagster runs, big allocations, subprocesses
        marks.append(pytest.mark.integration)
    if c.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=c.xfail))
    if c.needs_root and os.geteuid() != 0:
        marks.append(pytest.mark.skip(reason="mounting a tmpfs needs root; run the suite as root (CI does)"))
    return pytest.param(c, id=c.id, marks=marks)


def _isolated(c: cases.Case, tmp: Path) -> dict:
    """Run a case that may exhaust memory in a subprocess limited to 6 GB of address space, importing this tree's
    code (``PYTHONPATH``: a script's own folder comes first on ``sys.path``, so without it the editable install's
    tree would be tested, which is another checkout's in a git worktree)."""
    tree = HERE.parents[1]
    cmd = [sys.executable, str(HERE / "_runner.py"), c.id, str(tmp), "6"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tree)
    marker = proc.stdout.rfind("@@OUTCOME@@")
    assert marker >= 0, proc.stderr[-2000:]
    return json.loads(proc.stdout[marker + len("@@OUTCOME@@") :])


@pytest.mark.parametrize("c", [_param(c) for c in cases.CASES])
def test_hostile_case(c: cases.Case, tmp_path: Path, mirror: Path) -> None:
    out = _isolated(c, tmp_path) if c.isolate else cases.run_case(c, tmp_path)
    assert cases.classify(c, out) in (cases.GOOD, cases.HANDLED), "\n".join(cases.problems(c, out))


def test_suite_covers_every_input_class() -> None:
    by_class: dict[str, int] = {}
    for c in cases.CASES:
        by_class[c.klass] = by_class.get(c.klass, 0) + 1
    assert set(by_class) >= {"scenario", "raster", "vector", "mirror", "store", "fs", "resource", "publish-kill"}
    assert len(cases.CASES) >= 60
