"""Refinement of the regional route on a fine grid inside a band round it, with survey depth where it exists.

The regional route (``least_cost_route``) is found on the analysis grid as always. With a scenario ``survey:``
section it is then re-routed on a fine grid (``survey.resolution_m``; default the survey's native cell size)
only inside a band of ``survey.buffer_m`` round it:

1. **Fine grid** over the regional route's box plus the buffer, in the analysis CRS, aligned to whole multiples of
   the fine cell size. It is never materialised: the fine cost and the search state are zero-page arrays
   (:func:`geodata.routing.core.lazy_array`), written only in the square windows (``block_cells``) that meet the band,
   so a 10 m grid along a 400 km diagonal route costs memory for its band only.
2. **Per window** (with a halo for the slope and the feather): depth from :func:`geodata.bathymetry.nested.blend_depth`
   (survey warped in, regional resampled, feathered seam), slope (:func:`~geodata.bathymetry.terrain.slope_deg`),
   the coastline's land (:func:`~geodata.bathymetry.terrain.land_sea_mask`), hazards
   (:func:`~geodata.hazards.rasterize_hazards`, no finer than :data:`HAZARD_RESOLUTION_M`), the allowed sectors,
   and the cost from the public :func:`geodata.cost.build_cost_surface` with the scenario's weights and limits.
   Two more barriers: cells outside the band, and cells whose regional cell is impassable (``regional_exclusion``:
   the refinement works inside the regional grid's passable cells, so every blocking check made on the regional
   grid still holds for it).
3. **Search** restricted to the band cells (the banded machinery of :mod:`geodata.routing.coarse`: ~9 bytes per band
   cell), then the provably safe any-angle post-optimisation; the regional route itself, moved onto the fine grid and
   post-optimised there, is the other candidate, and the cheaper wins. Cells next to the band are impassable, so the
   post-optimisation can never leave it.

The report gives the refined route's cost against the regional route evaluated on the same fine grid (the refined
must cost no more: :func:`check_refined_route`), both lengths, the largest offset between them, the band and its
memory, and the seam (width and largest depth difference).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry import LineString

from geodata import hazards as haz
from geodata import routing
from geodata.bathymetry import nested
from geodata.bathymetry.terrain import land_sea_mask, slope_deg
from geodata.checks import CheckResult
from geodata.cost import CostSurface, allowed_sector_mask, build_cost_surface
from geodata.engineering import landfall
from geodata.errors import CorridorError
from geodata.grid import GeoGrid, Raster
from geodata.preflight import (
    REFINE_BYTES_PER_BAND_CELL,
    check_refinement_budget,
    refinement_band_cells,
    refinement_room,
)
from geodata.routing import _kernels as K
from geodata.routing.core import Surface, finish_route, lazy_array, refine_path, run_search, table_for
from geodata.scenario import Scenario, Survey
from geodata.sources.snapshot import resolve_user_path

HAZARD_RESOLUTION_M = 40.0
"""Hazard proximity and exclusion buffers are rasterised no finer than this (then repeated onto the fine cells):
they vary over hundreds of metres to kilometres, and their distance passes dominate a 10 m band otherwise (16 times
the work at 10 m). Hard buffer edges are then placed to within half this size."""


HAZARD_TILE_CELLS = 512
"""Hazard cells a side of one hazard tile (four 512-cell windows at 10 m). Each hazard object costs a distance pass
per tile, so tiles should be few, but its work also grows with the tile, and square tiles over a diagonal band cover
more than the band: on the 10 m nested case 512 took 85 s for 27 tiles, 1024 108 s for 12, one window each (40 m,
145 windows) 182 s."""


def hazard_factor(res: float) -> int:
    """Fine cells per hazard cell (a power of two, so that windows of ``block_cells`` split evenly)."""
    ratio = HAZARD_RESOLUTION_M / res
    return int(2 ** math.floor(math.log2(ratio))) if ratio >= 2 else 1


class RefinementError(CorridorError):
    """The route could not be refined on the survey grid (no passable way through the band)."""


@dataclass
class RefinedRoute:
    """The route refined on the fine grid (analysis CRS), the regional route it came from, and the comparison."""

    path_xy: np.ndarray
    coarse_xy: np.ndarray
    fine_grid: GeoGrid
    cost: float
    coarse_cost_on_fine: float
    length_m: float
    coarse_length_m: float
    max_offset_m: float
    surveys: tuple[nested.SurveyGrid, ...]
    water_level_m: float
    feather_m: float
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def line(self) -> LineString:
        return LineString(self.path_xy)

    def depth(self, regional: Raster) -> nested.NestedDepth:
        """The regional depth sampled through the surveys (what the route's deliverables read)."""
        return nested.nested_depth(
            regional,
            self.surveys,
            water_level_m=self.water_level_m,
            feather_m=self.feather_m,
            resolution_m=self.fine_grid.res[0],
        )

    def summary(self) -> dict[str, Any]:
        return {
            "cost": self.cost,
            "refined_cost": self.cost,
            "coarse_cost_on_fine": self.coarse_cost_on_fine,
            "cost_ratio": self.cost / self.coarse_cost_on_fine if math.isfinite(self.coarse_cost_on_fine) else None,
            "length_km": round(self.length_m / 1000, 3),
            "coarse_length_km": round(self.coarse_length_m / 1000, 3),
            "max_offset_m": round(self.max_offset_m, 1),
            **self.report,
        }


@dataclass
class RouteRefinement:
    """The ``refined_route`` asset's value: the refined route, or None (and why) for a scenario without a survey."""

    route: RefinedRoute | None = None
    reason: str = ""

    def routed_line(self, regional: LineString) -> LineString:
        """The line the engineering starts from: the refined route when there is one, else ``regional``."""
        return self.route.line if self.route is not None else regional

    def depth(self, regional: Raster) -> Raster:
        """The depth the deliverables read: through the surveys when refined, else ``regional``."""
        return self.route.depth(regional) if self.route is not None else regional


def _fine_resolution(
    scenario: Scenario,
    cfg: Survey,
    surveys: Sequence[nested.SurveyGrid],
    length_m: float,
    room_bytes: int | None = None,
) -> tuple[float, str]:
    """The fine cell size and where it comes from: ``survey.resolution_m``, else the finest survey's native size,
    coarsened as far as the band must to hold at most ``survey.max_band_cells`` cells and, with ``room_bytes``
    (the memory the budget leaves, :func:`geodata.preflight.refinement_room`), to fit in it."""
    if cfg.resolution_m is not None:
        return float(cfg.resolution_m), "survey.resolution_m"
    native = min(s.resolution_m for s in surveys)
    cap, bound = float(cfg.max_band_cells), f"{cfg.max_band_cells} cells (survey.max_band_cells)"
    if room_bytes is not None and room_bytes / REFINE_BYTES_PER_BAND_CELL < cap:
        cap = max(room_bytes / REFINE_BYTES_PER_BAND_CELL, 1.0)
        bound = f"the {room_bytes / 1e9:.1f} GB the memory budget leaves ({cap / 1e6:.0f} M cells)"
    need = math.sqrt(refinement_band_cells(length_m, cfg.buffer_m, 1.0) / cap)
    if need > native:
        return need, f"the survey's native {native:g} m coarsened to keep the band within {bound}"
    if native >= scenario.analysis.resolution_m:
        raise RefinementError(
            f"the survey's native cell size ({native:g} m) is not finer than analysis.resolution_m "
            f"({scenario.analysis.resolution_m:g} m); set survey.resolution_m finer or lower the regional resolution"
        )
    return native, "the survey's native cell size"


def _sized_band(
    scenario: Scenario,
    cfg: Survey,
    surveys: Sequence[nested.SurveyGrid],
    line: LineString,
    regional: GeoGrid,
    budget_bytes: int | None,
) -> tuple[float, str, Any]:
    """The fine cell size, where it comes from, and the band round ``line``, checked against the budget."""
    room = None if budget_bytes is None else refinement_room(budget_bytes, regional.cell_count)
    res, why = _fine_resolution(scenario, cfg, surveys, line.length, room)
    band = line.buffer(cfg.buffer_m)
    if room is not None:
        check_refinement_budget(band.area / res**2, room, resolution_m=res, buffer_m=cfg.buffer_m)
    return res, why, band


def _blocks(grid: GeoGrid, band: Any, size: int) -> list[tuple[int, int, int, int]]:
    """(r0, c0, h, w) of the square windows of ``grid`` that meet ``band`` (a prepared polygon)."""
    H, W = grid.shape
    t = grid.transform
    out = []
    for r0 in range(0, H, size):
        for c0 in range(0, W, size):
            h, w = min(size, H - r0), min(size, W - c0)
            x0, y0 = t.c + c0 * t.a, t.f + r0 * t.e
            if band.intersects(shapely.box(x0, y0 + h * t.e, x0 + w * t.a, y0)):
                out.append((r0, c0, h, w))
    return out


def _sub(grid: GeoGrid, r0: int, c0: int, h: int, w: int) -> GeoGrid:
    return GeoGrid(grid.crs, grid.transform @ grid.transform.translation(c0, r0), (h, w))


@dataclass
class _Inputs:
    scenario: Scenario
    survey: Survey
    regional: Raster
    regional_z: np.ndarray
    regional_blocked: np.ndarray
    regional_grid: GeoGrid
    surveys: Sequence[nested.SurveyGrid]
    hazards: gpd.GeoDataFrame
    sectors: gpd.GeoDataFrame
    allowed: list[str]
    land: gpd.GeoDataFrame | None
    hazard_tiles: _HazardTiles | None = None


def _window_cost(
    inp: _Inputs, grid: GeoGrid, win: tuple[int, int, int, int], halo: int, band: Any
) -> tuple[np.ndarray, np.ndarray, nested.SeamStats, dict[str, int]]:
    """Cost (float32, inf where blocked or off the band) and band mask of one window, its seam and barrier counts."""
    cfg = inp.survey
    r0, c0, h, w = win
    H, W = grid.shape
    hr0, hc0 = max(0, r0 - halo), max(0, c0 - halo)
    hr1, hc1 = min(H, r0 + h + halo), min(W, c0 + w + halo)
    hgrid = _sub(grid, hr0, hc0, hr1 - hr0, hc1 - hc0)
    core = (slice(r0 - hr0, r0 - hr0 + h), slice(c0 - hc0, c0 - hc0 + w))
    cgrid = _sub(grid, r0, c0, h, w)
    in_band = rasterize([(band, 1)], out_shape=(h, w), transform=cgrid.transform, fill=0, dtype="uint8") > 0
    blend = nested.blend_depth(
        hgrid,
        inp.regional,
        inp.surveys,
        water_level_m=inp.scenario.bathymetry.water_level_m,
        feather_m=cfg.feather_m,
        regional_z=inp.regional_z,
        core=core,
        within=in_band,
    )
    slope = slope_deg(Raster(blend.depth, hgrid, float("nan"))).data[core]
    depth = Raster(np.ascontiguousarray(blend.depth[core]), cgrid, float("nan"))
    sea = land_sea_mask(depth, inp.land) if inp.land is not None else land_sea_mask(depth, None)
    soft, hard = inp.hazard_tiles.window(r0, c0, h, w) if inp.hazard_tiles is not None else (None, None)
    surface = build_cost_surface(
        depth,
        Raster(np.ascontiguousarray(slope), cgrid, float("nan")),
        sea,
        inp.scenario.cost,
        inp.scenario.limits,
        hazard_soft=soft,
        hazard_hard=hard,
        allowed_sector=allowed_sector_mask(inp.sectors, cgrid, inp.allowed),
        allowed_sectors=tuple(inp.allowed),
    )
    ys, xs = cgrid.coords()
    X, Y = np.meshgrid(xs, ys)
    rr, cc = inp.regional_grid.rowcol(X, Y)
    ri = np.clip(np.floor(rr + 0.5).astype(np.int64), 0, inp.regional_grid.shape[0] - 1)
    ci = np.clip(np.floor(cc + 0.5).astype(np.int64), 0, inp.regional_grid.shape[1] - 1)
    regional_blocked = inp.regional_blocked[ri, ci]
    total = np.where(regional_blocked | ~in_band, np.inf, surface.total).astype("float32")
    counts = {f"barrier_{k}_cells": int((v & in_band).sum()) for k, v in surface.barriers.items()}
    counts["barrier_regional_exclusion_cells"] = int((regional_blocked & in_band).sum())
    return total, in_band, blend.seam, counts


class _HazardTiles:
    """Hazard rasters of the fine grid, computed once per tile of ``tile`` fine cells at ``factor`` times coarser
    (:data:`HAZARD_RESOLUTION_M`) and repeated onto the fine cells of each window inside it. Tiles hold
    :data:`HAZARD_TILE_CELLS` hazard cells a side (whole windows), so one distance pass per hazard object serves every
    window of the tile; a tile is dropped once the windows (visited row by row) have moved below it."""

    def __init__(self, hazards: gpd.GeoDataFrame, grid: GeoGrid, factor: int, block_cells: int) -> None:
        self.hazards, self.grid, self.f = hazards, grid, factor
        self.tile = max(block_cells, (HAZARD_TILE_CELLS * factor // block_cells) * block_cells)
        self._cache: dict[tuple[int, int], tuple[dict[str, np.ndarray], np.ndarray]] = {}
        self.tiles_computed = 0

    def _tile(self, tr: int, tc: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        for key in [k for k in self._cache if k[0] < tr]:
            del self._cache[key]
        if (tr, tc) not in self._cache:
            T, f = self.tile, self.f
            H, W = self.grid.shape
            th, tw = min(T, H - tr * T), min(T, W - tc * T)
            origin = self.grid.transform @ Affine.translation(tc * T, tr * T) @ Affine.scale(f)
            hgrid = GeoGrid(self.grid.crs, origin, (-(-th // f), -(-tw // f)))
            r = haz.rasterize_hazards(self.hazards, hgrid)
            self._cache[(tr, tc)] = (dict(r.soft_by_kind), r.hard_mask)
            self.tiles_computed += 1
        return self._cache[(tr, tc)]

    def window(self, r0: int, c0: int, h: int, w: int) -> tuple[dict[str, np.ndarray] | None, np.ndarray | None]:
        """Soft hazard cost by kind and the hard mask on the window ``(r0, c0, h, w)`` of the fine grid."""
        if not len(self.hazards):
            return None, None
        T, f = self.tile, self.f
        tr, tc = r0 // T, c0 // T
        soft, hard = self._tile(tr, tc)
        a0, b0 = (r0 - tr * T) // f, (c0 - tc * T) // f
        sl = (slice(a0, a0 - (-h // f)), slice(b0, b0 - (-w // f)))

        def up(a: np.ndarray) -> np.ndarray:
            part = a[sl]
            return part if f == 1 else np.repeat(np.repeat(part, f, axis=0), f, axis=1)[:h, :w]

        return {k: up(v) for k, v in soft.items()}, up(hard)


def _fine_cell(grid: GeoGrid, cost: np.ndarray, xy: tuple[float, float], name: str) -> tuple[int, int]:
    cell = grid.cell_of(*xy)
    if cell is None:
        raise RefinementError(f"the route's {name} {xy} lies off the fine grid; widen survey.buffer_m")
    r, c = cell
    if np.isfinite(cost[r, c]):
        return cell
    for rad in (2, 4, 8, 16, 32, 64):
        r0, r1 = max(0, r - rad), min(grid.shape[0], r + rad + 1)
        c0, c1 = max(0, c - rad), min(grid.shape[1], c + rad + 1)
        ok = np.isfinite(cost[r0:r1, c0:c1])
        if ok.any():
            rr, cc = np.nonzero(ok)
            k = int(np.argmin((rr + r0 - r) ** 2 + (cc + c0 - c) ** 2))
            return int(rr[k] + r0), int(cc[k] + c0)
    raise RefinementError(
        f"the route's {name} lies on an impassable fine cell with no passable cell within 64 cells; check the "
        "survey's depths there (datum: vertical_reference_m) or the limits"
    )


def max_offset_m(a: np.ndarray, b: np.ndarray, step_m: float) -> float:
    """Largest distance between two polylines (both directions; ``a`` sampled every ``step_m``)."""
    la, lb = LineString(a), LineString(b)
    pa = shapely.get_coordinates(shapely.segmentize(la, step_m))
    pb = shapely.get_coordinates(shapely.segmentize(lb, step_m))
    d1 = shapely.distance(shapely.points(pa), lb)
    d2 = shapely.distance(shapely.points(pb), la)
    return float(max(np.max(d1), np.max(d2)))


def _in_band(path: np.ndarray, state: np.ndarray) -> bool:
    """Whether ``path`` (fine row, col) runs through band cells only: sampled at the middles of quarter-cell pieces of
    each segment (a segment may touch a cell off the band at a corner, which costs nothing and is no crossing)."""
    steps = np.diff(path, axis=0)
    n = np.maximum(np.ceil(np.abs(steps).max(axis=1) * 4).astype(int), 1)
    pieces = [p + d * ((np.arange(k)[:, None] + 0.5) / k) for p, d, k in zip(path[:-1], steps, n, strict=True)]
    pts = np.concatenate(pieces)
    r = np.floor(pts[:, 0] + 0.5).astype(np.int64)
    c = np.floor(pts[:, 1] + 0.5).astype(np.int64)
    if (r < 0).any() or (c < 0).any() or (r >= state.shape[0]).any() or (c >= state.shape[1]).any():
        return False
    return bool(np.all(state[r, c] & K.ALLOWED))


def refine_route(
    scenario: Scenario,
    coarse: routing.RouteResult,
    surface: CostSurface,
    ends: landfall.Landfalls,
    regional: Raster,
    hazards: gpd.GeoDataFrame,
    sectors: gpd.GeoDataFrame,
    land: gpd.GeoDataFrame | None,
    *,
    base_dir: Path | None = None,
    block_cells: int = 512,
    memory_budget_bytes: int | None = None,
) -> RefinedRoute:
    """Refine ``coarse`` (the regional route on ``surface``) on the scenario's survey grids (module docstring).

    With ``memory_budget_bytes`` the band is sized against it before any fine cell is computed: the default fine
    cell size is coarsened to fit, and a given ``survey.resolution_m`` that cannot fit raises
    :class:`~geodata.errors.ResourceBudgetExceeded` naming the cell size that would."""
    cfg = scenario.survey
    if cfg is None:
        raise RefinementError(f"scenario '{scenario.name}' has no survey section: nothing to refine on")
    t0 = time.perf_counter()
    surveys = [nested.open_survey(s, resolve_user_path(s.path, "survey", base_dir=base_dir)) for s in cfg.sources]
    crs = surface.grid.crs
    a_xy, b_xy = ends[0].approach_end_xy, ends[1].approach_end_xy
    coarse_xy = np.vstack([a_xy, routing.path_xy(coarse.path, surface.grid.transform), b_xy])
    line = LineString(coarse_xy)
    res, why, band = _sized_band(scenario, cfg, surveys, line, surface.grid, memory_budget_bytes)
    guard = line.buffer(cfg.buffer_m + 2.0 * res)  # windows reach one cell past the band: its rim is impassable
    shapely.prepare(guard)
    grid = GeoGrid.from_bounds(guard.bounds, res, crs)
    halo = math.ceil(cfg.feather_m / res) + 2
    cost = lazy_array(grid.shape, np.float32)
    state = lazy_array(grid.shape, np.uint8)
    bbox = shapely.box(*grid.bounds)
    land_local = None
    if land is not None:
        land_local = land.to_crs(crs)
        land_local = land_local[land_local.intersects(bbox)].clip(bbox)
        if len(land_local) == 0:
            land_local = land.to_crs(crs).iloc[:0]
    inp = _Inputs(
        scenario=scenario,
        survey=cfg,
        regional=regional,
        regional_z=np.where(regional.valid(), regional.data, np.nan).astype("float64"),
        regional_blocked=surface.impassable,
        regional_grid=surface.grid,
        surveys=surveys,
        hazards=hazards.to_crs(crs) if len(hazards) else hazards,
        sectors=sectors,
        allowed=list(surface.allowed_sectors) or sorted({s.country for s in scenario.landing_stations}),
        land=land_local,
    )
    inp.hazard_tiles = _HazardTiles(inp.hazards, grid, hazard_factor(res), block_cells)
    seam = nested.SeamStats(cfg.feather_m)
    barriers: dict[str, int] = {}
    band_cells = passable = 0
    cmin, csum = math.inf, 0.0
    windows = _blocks(grid, guard, block_cells)
    for win in windows:
        r0, c0, h, w = win
        total, in_band, s, counts = _window_cost(inp, grid, win, halo, band)
        cost[r0 : r0 + h, c0 : c0 + w] = total
        st = state[r0 : r0 + h, c0 : c0 + w]
        st[in_band] = K.ALLOWED
        seam.add(s)
        for k, v in counts.items():
            barriers[k] = barriers.get(k, 0) + v
        band_cells += int(in_band.sum())
        ok = np.isfinite(total)
        if ok.any():
            passable += int(ok.sum())
            cmin = min(cmin, float(total[ok].min()))
            csum += float(total[ok].sum(dtype=np.float64))
    t_cost = time.perf_counter() - t0
    if passable == 0:
        raise RefinementError("no cell of the refinement band is passable; check the survey's datum and the limits")
    s_cell = _fine_cell(grid, cost, a_xy, "start (first approach end)")
    g_cell = _fine_cell(grid, cost, b_xy, "goal (second approach end)")
    fine = Surface(cost, res, res, cmin, passable, csum / passable)
    table = table_for(scenario.routing.method, None)
    heuristic = fine.astar_pays()
    t1 = time.perf_counter()
    H, W = grid.shape
    found = run_search(fine, table, np.array([s_cell]), g_cell, heuristic=heuristic, window=(0, 0, H, W), state=state)
    t_search = time.perf_counter() - t1
    if not found.found:
        raise RefinementError(
            f"no passable route joins the approach ends inside the {cfg.buffer_m:g} m band on the {res:g} m survey "
            "grid (the fine exclusions close it); widen survey.buffer_m"
        )
    cells = K.trace(found.state, g_cell[0], g_cell[1], table.dr, table.dc)
    settled, heap_peak = found.settled, found.heap_peak
    del found
    t2 = time.perf_counter()
    best = finish_route(fine, cells, s_cell, g_cell, f"d{table.n}+band", settled, True, {}, {})
    # the regional route on the fine grid, between the same two fine cells
    rr, cc = grid.rowcol(coarse_xy[:, 0], coarse_xy[:, 1])
    coarse_fine = np.column_stack([rr, cc])
    coarse_fine = np.vstack([np.array(s_cell, float), coarse_fine, np.array(g_cell, float)])
    coarse_cost = routing.path_cost(cost, coarse_fine, (res, res))
    winner = "band search"
    path, fine_cost = best.path, best.cost
    if math.isfinite(coarse_cost):
        polished, pcost, _ = refine_path(fine, coarse_fine)
        if pcost < fine_cost:
            path, fine_cost, winner = polished, pcost, "regional route post-optimised on the fine grid"
    if not _in_band(path, state):
        raise RefinementError("internal: the refined route leaves the band; report this with the scenario")
    t_refine = time.perf_counter() - t2
    path_xy = routing.path_xy(path, grid.transform)
    offset = max_offset_m(path_xy, coarse_xy, step_m=max(res, 1.0) * 5)
    report = {
        "fine_resolution_m": res,
        "fine_resolution_from": why,
        "fine_grid_shape": list(grid.shape),
        "fine_grid_cells": grid.cell_count,
        "buffer_m": cfg.buffer_m,
        "reaches_band_edge": bool(offset >= cfg.buffer_m - 2.0 * res),  # True: a wider buffer_m might pay
        "band_cells": band_cells,
        "band_fraction_of_fine_box": round(band_cells / grid.cell_count, 6),
        "band_peak_bytes_estimate": band_cells * REFINE_BYTES_PER_BAND_CELL,
        "windows": len(windows),
        "window_cells": block_cells,
        "hazard_resolution_m": res * hazard_factor(res),
        "hazard_tiles": inp.hazard_tiles.tiles_computed,
        "passable_band_cells": passable,
        "cells_settled": settled,
        "open_list_peak": heap_peak,
        "astar": heuristic,
        "winner": winner,
        "graph_cost": best.graph_cost,
        "band_search_cost": best.cost,
        "coarse_cost_regional_grid": coarse.cost,
        "coarse_on_fine_passable": bool(math.isfinite(coarse_cost)),
        "surveys": [s.describe() for s in surveys],
        "synthetic_survey": any(s.synthetic for s in surveys),
        **seam.summary(),
        **barriers,
        "timings_s": {
            "fine_cost": round(t_cost, 3),
            "search": round(t_search, 3),
            "post_optimise": round(t_refine, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }
    return RefinedRoute(
        path_xy=path_xy,
        coarse_xy=coarse_xy,
        fine_grid=grid,
        cost=float(fine_cost),
        coarse_cost_on_fine=float(coarse_cost),
        length_m=float(LineString(path_xy).length),
        coarse_length_m=float(line.length),
        max_offset_m=offset,
        surveys=tuple(surveys),
        water_level_m=scenario.bathymetry.water_level_m,
        feather_m=cfg.feather_m,
        report=report,
    )


def check_refined_route(refined: RefinedRoute, *, tolerance: float = 1e-9) -> CheckResult:
    """The refined route costs no more than the regional route evaluated on the same fine grid."""
    ok = refined.cost <= refined.coarse_cost_on_fine * (1.0 + tolerance)
    detail = (
        f"refined {refined.cost:.6g} <= regional-on-fine {refined.coarse_cost_on_fine:.6g}"
        if ok
        else f"refined {refined.cost:.6g} > regional-on-fine {refined.coarse_cost_on_fine:.6g}: the band search "
        "missed a cheaper route; report this with the scenario"
    )
    return CheckResult(
        "refined_no_costlier",
        bool(ok),
        detail,
        {"cost": refined.cost, "coarse_cost_on_fine": refined.coarse_cost_on_fine},
    )
