"""Tally the hostile-input cases by outcome against a code tree.

    .venv/bin/python tests/hostile/tally.py                  # this tree
    .venv/bin/python tests/hostile/tally.py --tree /tmp/base  # the same inputs through the code before hardening

Every case of ``cases.py`` runs its core call in its own subprocess (``_runner.py``) with ``PYTHONPATH`` and the working
directory set to the tree, a memory limit and a timeout, and is counted in one outcome class: named error naming
input and fix / handled as designed / named error missing input or fix / raw exception / silently accepted /
hang (timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402


def run_one(c: cases.Case, tree: Path, tmp: Path, timeout: float, memory_gb: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "CORRIDOR_MIRROR": str(cases.MIRROR)}
    env.setdefault("NUMBA_CACHE_DIR", str(tmp / "numba"))
    work = tmp / c.id
    work.mkdir(parents=True)
    cmd = [sys.executable, str(HERE / "_runner.py"), c.id, str(work), str(memory_gb)]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"id": c.id, "kind": "timeout", "needles": []}
    marker = proc.stdout.rfind("@@OUTCOME@@")
    if marker < 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return {"id": c.id, "kind": "crashed", "message": tail[0], "needles": []}
    return json.loads(proc.stdout[marker + len("@@OUTCOME@@") :])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", type=Path, default=HERE.parents[1], help="code tree to run (default: this one)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit of each case's process")
    ap.add_argument("--only", default="", help="comma-separated case ids or classes")
    ap.add_argument("--json", type=Path, help="write every case's outcome here")
    args = ap.parse_args(argv)
    selected = [c for c in cases.CASES if not args.only or c.id in args.only.split(",") or c.klass in args.only]
    if os.geteuid() != 0:
        skipped = [c.id for c in selected if c.needs_root]
        selected = [c for c in selected if not c.needs_root]
        print(f"not root: {len(skipped)} tmpfs cases skipped", file=sys.stderr)
    tree = args.tree.resolve()
    with tempfile.TemporaryDirectory(prefix="hostile-tally-") as tmp:
        with ThreadPoolExecutor(args.jobs) as pool:
            outs = list(pool.map(lambda c: run_one(c, tree, Path(tmp), args.timeout, args.memory_gb), selected))
    rows = []
    for c, out in zip(selected, outs, strict=True):
        outcome = cases.classify(c, out)
        rows.append({"id": c.id, "class": c.klass, "outcome": outcome, "detail": out})
        print(f"{c.klass:13} {c.id:42} {outcome}")
    total = Counter(r["outcome"] for r in rows)
    klasses = sorted({r["class"] for r in rows}, key=[c.klass for c in cases.CASES].index)
    print(f"\ntally for {tree} ({len(rows)} cases)\n")
    print("| outcome | " + " | ".join(klasses) + " | total |")
    print("| --- | " + " | ".join("---:" for _ in klasses) + " | ---: |")
    for o in cases.OUTCOMES:
        per = [sum(1 for r in rows if r["class"] == k and r["outcome"] == o) for k in klasses]
        print(f"| {o} | " + " | ".join(str(n) for n in per) + f" | {total[o]} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
