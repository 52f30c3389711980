"""Routing benchmark (issue #4): this engine vs skimage's MCP_Geometric (8-connected) vs scikit-fmm.

Usage::

    python benchmarks/routing.py                 # 1, 4, 16 and 64 million cells (several minutes, GBs for MCP)
    python benchmarks/routing.py --sizes 1,4     # a subset (millions of cells)

For each size it generates one seeded synthetic cost surface (smooth noise like a bathymetry-derived cost, plus
impassable blobs like hazard buffers; float32, 100 m cells), routes from near one corner to near the opposite
corner, and prints wall time, cells per second (grid cells / wall time, and cells settled / search time), peak
extra memory per cell (resident-set high-water mark above the loaded surface, read from /proc in a fresh
subprocess per run, so nothing is shared between methods), path cost (all by ``geodata.routing.path_cost``) and
path length. ``skfmm.travel_time`` (second order) on the same surface is the continuous-space reference for the
cost. It then measures the worst-direction length error on a uniform surface. Numba compile time is kept out of
every figure (each worker warms up first). This is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CELL = 100.0  # metres


# ------------------------------------------------------------------------------------------------------------------
# surfaces
# ------------------------------------------------------------------------------------------------------------------
def make_surface(n: int, seed: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Seeded n x n float32 cost surface (cost per metre in [1, ~6]) with impassable blobs, and end points."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)

    def smooth(scale_cells: float) -> np.ndarray:
        # smooth noise at a coarse resolution, then upsampled: realistic and fast at 64 M cells
        k = max(1, int(scale_cells // 4))
        m = -(-n // k) + 4
        z = ndimage.gaussian_filter(rng.standard_normal((m, m)).astype(np.float32), scale_cells / k, mode="wrap")
        z = ndimage.zoom(z, k, order=1)[:n, :n]
        z -= z.mean()
        z /= z.std()
        return z

    depth = smooth(n / 25.0)  # large features
    slope = smooth(n / 200.0)  # small features
    cost = (1.0 + 2.5 / (1.0 + np.exp(-1.5 * depth)) + 0.5 * slope * slope).astype(np.float32)
    del depth, slope
    hazards = smooth(n / 80.0)
    cost[hazards > 2.3] = np.nan
    del hazards
    s = (n // 20, n // 20)
    g = (n - 1 - n // 20, n - 1 - n // 20)
    rad = max(3, n // 50)
    for p in (s, g):
        win = cost[p[0] - rad : p[0] + rad, p[1] - rad : p[1] + rad]
        win[np.isnan(win)] = 3.0
    return np.ascontiguousarray(cost), s, g


# ------------------------------------------------------------------------------------------------------------------
# workers (one fresh process per measurement)
# ------------------------------------------------------------------------------------------------------------------
def _rss() -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes."""
    vals = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                vals[k] = int(v.split()[0]) * 1024
    return vals["VmRSS"], vals["VmHWM"]


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def worker(args: argparse.Namespace) -> None:
    from geodata.routing import least_cost_path, path_cost

    cost = np.load(args.surface)
    s = tuple(int(v) for v in args.start.split(","))
    g = tuple(int(v) for v in args.goal.split(","))
    cs = (CELL, CELL)
    out: dict[str, object] = {}
    # warm up compiled code on a small surface of the same dtype (compile time is not measured)
    tiny = np.ones((40, 40), cost.dtype)
    least_cost_path(tiny, (1, 1), (38, 30), cell_size=cs)
    least_cost_path(tiny, (1, 1), (38, 30), cell_size=cs, coarse_factor=4)
    path_cost(tiny, np.array([[0.0, 0.0], [3.0, 7.0]]), cs)
    if args.method == "mcp":
        from skimage.graph import MCP_Geometric

        mcp_in = np.where(np.isnan(cost), np.inf, cost).astype(np.float64)  # MCP's input, prepared beforehand
        m = MCP_Geometric(np.ones((40, 40)))
        m.find_costs([(1, 1)], [(38, 30)])
    elif args.method == "fmm":
        import skfmm

        phi0 = np.ones((40, 40))
        phi0[1, 1] = -1.0
        skfmm.travel_time(np.ma.MaskedArray(phi0, np.zeros((40, 40), bool)), np.ones((40, 40)), dx=1)
    base, _ = _rss()
    exact_peak = _reset_peak()
    t0 = time.perf_counter()
    if args.method == "engine":
        r = least_cost_path(cost, s, g, cell_size=cs)
        wall = time.perf_counter() - t0
        out.update(path=r.path.tolist(), settled=r.cells_settled, search_s=r.timings["search"],
                   graph_cost=r.graph_cost, astar=r.stats["astar"])  # fmt: skip
    elif args.method == "coarse":
        r = least_cost_path(cost, s, g, cell_size=cs, coarse_factor=args.factor)
        wall = time.perf_counter() - t0
        out.update(path=r.path.tolist(), settled=r.cells_settled, search_s=r.timings["search"],
                   coarse=r.stats["coarse"])  # fmt: skip
    elif args.method == "mcp":
        m = MCP_Geometric(mcp_in, sampling=cs)
        cum, _ = m.find_costs([s], [g])
        p = np.asarray(m.traceback(g), dtype=np.float64)
        wall = time.perf_counter() - t0
        out.update(path=p.tolist(), settled=int(np.count_nonzero(np.isfinite(cum))), search_s=wall,
                   own_cost=float(cum[g]))  # fmt: skip
        del m, cum
    elif args.method == "fmm":
        import skfmm

        phi = np.ones(cost.shape)
        phi[s] = -1.0
        speed = np.ma.MaskedArray(1.0 / np.where(np.isfinite(cost), cost, 1.0), ~np.isfinite(cost))
        tt = skfmm.travel_time(np.ma.MaskedArray(phi, speed.mask), speed, dx=[CELL, CELL], order=2)
        wall = time.perf_counter() - t0
        out.update(fmm_cost=float(tt[g]), settled=int(np.count_nonzero(~np.ma.getmaskarray(tt))), search_s=wall)
        del tt, speed, phi
    else:  # pragma: no cover
        raise SystemExit(f"unknown method {args.method}")
    rss, hwm = _rss()
    out["wall_s"] = wall
    out["extra_bytes"] = (hwm if exact_peak else max(hwm, rss)) - base
    out["peak_exact"] = exact_peak
    if "path" in out:
        p = np.asarray(out.pop("path"))
        out["cost"] = path_cost(cost, p, cs)
        d = np.diff(p, axis=0) * CELL
        out["length_m"] = float(np.hypot(d[:, 0], d[:, 1]).sum())
        out["vertices"] = len(p)
    Path(args.out).write_text(json.dumps(out))


def run_worker(method: str, surface: Path, s: tuple[int, int], g: tuple[int, int], factor: int = 8) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [sys.executable, __file__, "--worker", method, "--surface", str(surface), "--start", f"{s[0]},{s[1]}",
           "--goal", f"{g[0]},{g[1]}", "--out", str(out), "--factor", str(factor)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    res = json.loads(out.read_text())
    out.unlink()
    return res


# ------------------------------------------------------------------------------------------------------------------
# uniform surface: worst-direction length error
# ------------------------------------------------------------------------------------------------------------------
def uniform_errors(n: int = 401, radius: int = 190, step_deg: float = 2.5) -> dict[str, tuple[float, float]]:
    from skimage.graph import MCP_Geometric

    from geodata.routing import least_cost_path

    cost = np.ones((n, n))
    c = n // 2
    worst: dict[str, tuple[float, float]] = {"engine": (0.0, 0.0), "engine d16 graph": (0.0, 0.0),
                                             "MCP_Geometric": (0.0, 0.0)}  # fmt: skip
    mcp = MCP_Geometric(cost)
    for ang in np.arange(0.0, 360.0, step_deg):
        g = (round(c - radius * math.sin(math.radians(ang))), round(c + radius * math.cos(math.radians(ang))))
        straight = math.hypot(g[0] - c, g[1] - c)
        r = least_cost_path(cost, (c, c), g)
        rg = least_cost_path(cost, (c, c), g, refine=False)
        mcp.find_costs([(c, c)], [g])
        p = np.asarray(mcp.traceback(g), float)
        for key, length in (("engine", r.length_m), ("engine d16 graph", rg.length_m),
                            ("MCP_Geometric", float(np.hypot(*np.diff(p, axis=0).T).sum()))):  # fmt: skip
            err = length / straight - 1.0
            if err > worst[key][0]:
                worst[key] = (err, float(ang))
    return worst


# ------------------------------------------------------------------------------------------------------------------
def _parse_args() -> argparse.Namespace:
    """The command line: sizes, seed, coarse factor, methods to skip, and the hidden worker options."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,4,16,64", help="comma-separated sizes in millions of cells")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--factor", type=int, default=8, help="coarse-to-fine factor")
    ap.add_argument("--skip", default="", help="comma-separated methods to skip: mcp,fmm,coarse")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--surface", help=argparse.SUPPRESS)
    ap.add_argument("--start", help=argparse.SUPPRESS)
    ap.add_argument("--goal", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    return ap.parse_args()


#: (cells, speed vs MCP, engine extra bytes per cell, engine cost, MCP cost, FMM cost or None)
Check = tuple[int, float, float, float, float, float | None]


def _bench_size(
    size: float, args: argparse.Namespace, skip: set[str], tmp: str
) -> tuple[list[list[str]], Check | None]:
    """Measure every method not skipped on one seeded surface of ``size`` million cells (printing each result):
    the table rows, and ``(cells, speed vs MCP, engine bytes per cell, engine, MCP and FMM cost)`` when both the
    engine and MCP ran."""
    n = round(math.sqrt(size * 1e6))
    t0 = time.perf_counter()
    cost, s, g = make_surface(n, args.seed)
    path = Path(tmp) / f"surface_{n}.npy"
    np.save(path, cost)
    frac_wall = float(np.mean(np.isnan(cost)))
    del cost
    print(f"\n# {n} x {n} = {n * n / 1e6:.1f} M cells ({frac_wall:.1%} impassable), start {s}, goal {g}; "
          f"generated in {time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    res = {}
    for method in ("engine", "coarse", "mcp", "fmm"):
        if method in skip:
            continue
        res[method] = run_worker(method, path, s, g, args.factor)
        print(f"  {method}: {json.dumps(res[method])}", flush=True)
    path.unlink()
    rows = _result_rows(n, res, args.factor)
    check = None
    if "engine" in res and "mcp" in res and "error" not in res["engine"] and "error" not in res["mcp"]:
        speed = res["mcp"]["wall_s"] / res["engine"]["wall_s"]
        # a worker that found a path always reports its cost
        eng, mcp, fmm = res["engine"]["cost"], res["mcp"]["cost"], res.get("fmm", {}).get("fmm_cost")
        check = (n * n, speed, res["engine"]["extra_bytes"] / (n * n), eng, mcp, fmm)
    return rows, check


def _result_rows(n: int, res: dict[str, dict], factor: int) -> list[list[str]]:
    """One table row per method measured on the n x n surface: wall time, throughput, memory, path cost against
    FMM and 8-connected MCP, length (and for coarse-to-fine, the excess over the full search); ERROR rows for
    workers that failed."""
    fmm = res.get("fmm", {}).get("fmm_cost")
    mcp = res.get("mcp", {}).get("cost")
    eng = res.get("engine", {}).get("cost")
    search = "A*" if res.get("engine", {}).get("astar") else "Dijkstra"
    names = {"engine": f"engine (d16 {search} + refine)", "coarse": f"engine coarse-to-fine f={factor}",
             "mcp": "skimage MCP_Geometric (8-conn)", "fmm": "skfmm travel_time (order 2)"}  # fmt: skip
    rows = []
    for method, r in res.items():
        if "error" in r:
            rows.append([f"{n * n / 1e6:.3g}M", names[method], "ERROR " + " ".join(r["error"])])
            continue
        c = r.get("cost", r.get("fmm_cost"))
        row = [
            f"{n * n / 1e6:.3g}M",
            names[method],
            f"{r['wall_s']:.2f}",
            f"{n * n / r['wall_s'] / 1e6:.2f}",
            f"{r['settled'] / r['search_s'] / 1e6:.2f}" if r.get("search_s") else "",
            f"{r['extra_bytes'] / (n * n):.1f}",
            f"{c:.6g}",
            f"{(c / fmm - 1) * 100:+.2f}%" if fmm else "",
            f"{(c / mcp - 1) * 100:+.2f}%" if mcp else "",
            f"{r['length_m'] / 1000:.2f}" if "length_m" in r else "",
        ]
        if method == "coarse" and eng:
            row.append(f"excess {(c / eng - 1) * 100:+.3f}% vs full, band {r['coarse']['band_fraction']:.1%}")
        rows.append(row)
    return rows


def _print_table(rows: list[list[str]]) -> None:
    """The results as a Markdown table."""
    print("\n| cells | method | wall s | Mcells/s (grid/wall) | Msettled/s (search) | peak extra B/cell | path cost "
          "| vs FMM | vs 8-conn | length km | note |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row + [""] * (11 - len(row))) + " |")


def _print_targets(checks: list[Check]) -> None:
    """Per size: speed against MCP_Geometric, engine memory per cell, engine cost against FMM and 8-connected MCP."""
    print("\nTargets:")
    for cells, speed, bpc, eng, mcp, fmm in checks:
        line = f"  {cells / 1e6:.0f}M: speed {speed:.2f}x MCP_Geometric, engine extra {bpc:.1f} B/cell"
        if fmm:
            line += f", cost vs FMM {(eng / fmm - 1) * 100:+.2f}%"
        line += f", cost vs 8-conn {(eng / mcp - 1) * 100:+.2f}% ({'OK' if eng <= mcp else 'ABOVE'})"
        print(line)


def _print_uniform() -> None:
    """The worst-direction length error on a uniform surface (:func:`uniform_errors`)."""
    t0 = time.perf_counter()
    worst = uniform_errors()
    print(f"\nUniform surface (401 x 401, radius 190 cells, every 2.5 degrees; {time.perf_counter() - t0:.0f} s): "
          "worst-direction length error")  # fmt: skip
    for k, (err, ang) in worst.items():
        print(f"  {k:>18}: {err * 100:.3f}% (at {ang:g} deg)")


def main() -> None:
    """Run the benchmark (or, with ``--worker``, one measurement in this process) and print the tables."""
    args = _parse_args()
    if args.worker:
        args.method = args.worker
        worker(args)
        return
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sizes = [float(v) for v in args.sizes.split(",")]
    rows = []
    checks = []
    print(f"routing benchmark: seed {args.seed}, cells {CELL:g} m, cpu count {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            size_rows, check = _bench_size(size, args, skip, tmp)
            rows.extend(size_rows)
            if check is not None:
                checks.append(check)
    _print_table(rows)
    _print_targets(checks)
    _print_uniform()


if __name__ == "__main__":
    main()
