"""Hazards on the analysis grid: a hard mask of impassable cells and a soft cost per metre, per kind and in total.

The cost model (``geodata/cost.py``) adds ``soft_cost`` (times ``CostWeights.hazard_weight``) to its cost per metre
and makes ``hard_mask`` cells impassable. How each hazard object contributes:

* **Soft cost** = ``w * exp(-max(d - band, 0) / decay_m)`` where ``d`` is the distance from the cell centre to the
  object, ``w`` its ``soft_cost`` (times the magnitude weight for earthquakes, see :func:`earthquake_weights`),
  ``band`` its ``exclusion_buffer_m`` for crossable objects and 0 otherwise. Contributions are SUMMED over objects
  (two parallel pipelines cost twice one; a cluster of epicentres costs more than a lone one) and cut to zero where
  they fall below ``truncate * w`` (by default 0.1 %, i.e. beyond 6.9 decay lengths).
* **Hard mask** = cells whose centre lies within ``exclusion_buffer_m`` of the object, plus every cell the object
  itself touches (so a point hazard smaller than a cell is never missed), for objects that are NOT crossable.
* **Crossable** objects (a ``crossing_min_angle_deg`` is set: pipelines, cables) are never in the hard mask: their
  ``exclusion_buffer_m`` becomes a flat band at full soft cost, so a route crosses them, square-on being the
  cheapest, and pays for every metre it would run alongside. The crossing angle itself is checked on the route.

An object is one row, except that line and polygon rows of the same kind, source and name (and rule) are one object
(the 7 route pieces of one GEM pipeline project must not be counted seven times where they join).

Distances are computed in a window around each object (object bounds plus the reach of its cost), never over the
whole grid: exact for points (cell centres at ``left + (c + 1/2) dx``, ``top - (r + 1/2) dy`` of the grid); for
lines and polygons a Euclidean distance transform
(``scipy.ndimage.distance_transform_edt``) to the cells the feature touches, good to about half a cell.

The work is organised per *class*: the objects of one kind that share a geometry family (points, or lines and
polygons) and the rule parameters ``decay_m``, band and hard buffer (:class:`HazardClass`). Point classes are
computed in one vectorised pass (:func:`_burn_point_class`: one exact distance pass per class, however many points,
no per-point Python work), and their hard cells by rasterising all their buffers together (in chunks of
:data:`HARD_CHUNK_GEOMS`). Because soft costs are SUMMED over objects, a line, polygon or multi-point still needs
its own distance transform (one per object, :func:`_burn_object`): a single transform per class would give the
distance to the nearest object only, not the sum. ``info["distance_passes"]`` counts the passes (one per point
class plus one per other object on the grid); the result is bit for bit that of the per-object loop.

**Large point classes** (more than :data:`CONVOLUTION_MIN_POINTS` points, or more than
:data:`CONVOLUTION_WORK_MIN_POINTS` whose exact pass would evaluate more than :data:`CONVOLUTION_MAX_EXACT_WORK`
point x window cells) take a convolution path instead (:func:`_convolve_point_class`), whose cost grows with the
grid, not with points x cells:

* soft cost: each point's weight is splatted bilinearly onto the 4 nearest nodes of a lattice
  :data:`CONVOLUTION_SUBCELLS` times finer than the grid (keeping its sub-cell position to first order), the lattice
  is split into its ``s * s`` phases (each a grid-sized array) and every phase is convolved (``scipy.signal.
  oaconvolve``) with the class's weight-free kernel ``exp(-max(d - band, 0) / decay)`` truncated at the same reach,
  sampled at the offsets of that phase. This is the sum over points up to the sub-cell position error: every term
  is off by at most a factor ``exp(h / decay)`` (``h`` the lattice cell diagonal; measured far smaller, see
  ``benchmarks/hazards.py``), and a point within ``h`` of the reach may be cut (or kept) where the exact path keeps
  (or cuts) a term below ``truncate * w``. Cells farther than the reach (plus ``h``) from every weighted point are 0
  exactly, as on the exact path (no FFT round-off there), and the sum is never negative.
* hard mask: the cells holding a point (both cells when it lies on their border) dilated by a disk of radius
  ``hard buffer + half the cell diagonal`` (a Euclidean distance transform thresholded at the radius). This is
  conservative: every cell whose centre is within the hard buffer of a point is excluded (the exact path's cells
  are a subset), plus a rim of at most a cell.

``info["convolution_classes"]`` counts the classes that took it (each also counts as one distance pass).
Classes under both rules, which is every class of the mirror's hazards, take the exact path unchanged.

**Band by band** (issue #14): :func:`plan_hazards` places the objects once (classes, windows, geometry clipped to
each window); :func:`hazard_rows` computes any band of rows from the plan. An exact point class is one compiled pass
(``geodata/hazards/_kernels.py``) over the disc of each point's reach within the band; a line, polygon or multi-point
is measured in a window holding the band's cells it writes and every cell its geometry touches within its pad (the
halo rows beyond the band); a convolution class is computed over the whole grid once and cut per band. Objects add
in the plan's order, so any split into bands gives the whole grid's sums bit for bit, and :func:`rasterize_hazards`
is the plan computed in bands of ``budget_bytes``. One exception, as for object windows before: a line through a
cell's exact corner may be marked touched in one window and not another (GDAL decides by the window's origin).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio import windows
from rasterio.features import rasterize
from rasterio.transform import rowcol
from scipy.ndimage import distance_transform_edt

from geodata.errors import ConfigError, InputDataError
from geodata.grid import Block, GeoGrid, row_blocks
from geodata.hazards import _kernels
from geodata.hazards.schema import COLUMNS, earthquake_weighting

DEFAULT_TRUNCATE = 1e-3

#: Cells x points evaluated at once by the vectorised point pass (bounds its memory to a few hundred MB).
POINT_CHUNK_CELLS = 4_000_000
#: Buffers rasterised at once for the hard cells of a point class.
HARD_CHUNK_GEOMS = 20_000
#: Point classes with more points than this take the convolution path (:func:`_convolve_point_class`). The exact
#: path costs ~60 ns per point x window cell plus ~45 us per hard buffer (rasterio geometry conversion), so 20,000
#: points take about a second on a typical window (20,000 x 29 x 29 cells); beyond that the convolution, whose cost
#: is a few grid-sized FFTs whatever the count, wins by orders of magnitude. Wide windows make the exact pass
#: dearer per point, hence the second, cost-based rule below (with a floor on the count, so that real inventories,
#: whose largest point class in the mirror has 124 earthquakes, stay on the exact path at every resolution).
CONVOLUTION_MIN_POINTS = 20_000
#: A point class of more than :data:`CONVOLUTION_WORK_MIN_POINTS` points also takes the convolution path when its
#: exact pass would evaluate more than :data:`CONVOLUTION_MAX_EXACT_WORK` point x window cells (several seconds at
#: ~60 ns each): 20,000 earthquakes on a 1 km grid reach 104 km, 44,000 cells each, 0.9 G evaluations (about a
#: minute), where the convolution takes well under a second. The floor keeps every class of a few thousand points
#: or fewer (the mirror's largest has 124) on the exact, bit-for-bit path at every resolution.
CONVOLUTION_WORK_MIN_POINTS = 2_000
CONVOLUTION_MAX_EXACT_WORK = 50_000_000
#: Lattice nodes per cell side for the convolution path's splatting (``s``): ``s * s`` grid-sized convolutions per
#: class, bounding the position error by a cell diagonal / s (see the module docstring).
CONVOLUTION_SUBCELLS = 2


class HazardRasters(NamedTuple):
    """The hazards on a grid. Arrays have the grid's shape; soft costs are float32, masks bool."""

    hard_mask: np.ndarray
    soft_cost: np.ndarray
    soft_by_kind: dict[str, np.ndarray]
    hard_by_kind: dict[str, np.ndarray]
    info: dict[str, Any]


def earthquake_weights(
    magnitude: Any,
    *,
    reference_mw: float | None = None,
    per_mw_log10: float | None = None,
    unknown_mw: float | None = None,
) -> np.ndarray:
    """Weight of each earthquake: ``10 ** (per_mw_log10 * (Mw - reference_mw))``, unknown Mw counted as unknown_mw.

    With the packaged values (``reference_mw`` 6, ``per_mw_log10`` 0.5, ``unknown_mw`` 5, from
    ``geodata/data/hazard_defaults.yaml``) the weight grows as the linear size of the rupture (seismic moment to the
    power 1/3): Mw 5.5 -> 0.56, Mw 6 -> 1, Mw 7 -> 3.16.

    Parameters
    ----------
    magnitude
        Moment magnitudes; NaN or None = unknown.
    reference_mw, per_mw_log10, unknown_mw
        Override the packaged weighting.

    Returns
    -------
    numpy.ndarray
        One weight per magnitude, float64.
    """
    packaged = earthquake_weighting()
    ref = packaged["reference_mw"] if reference_mw is None else reference_mw
    slope = packaged["per_mw_log10"] if per_mw_log10 is None else per_mw_log10
    unknown = packaged["unknown_mw"] if unknown_mw is None else unknown_mw
    mw = np.array([np.nan if m is None else m for m in np.atleast_1d(np.asarray(magnitude, dtype=object))], dtype=float)
    mw = np.where(np.isfinite(mw), mw, unknown)
    return np.asarray(10.0 ** (slope * (mw - ref)), dtype=float)


class _Object(NamedTuple):
    kind: str
    geoms: list[Any]
    points: bool
    weight: float
    decay_m: float
    band_m: float
    hard_m: float
    single_point: bool = False
    row: int = -1  # the table row it starts at (its first piece's), for the order of classes


class _Points:
    """The single-point objects of one class as arrays, in row order: what the class passes need of them, without
    an :class:`_Object` per point."""

    __slots__ = ("first_row", "weight", "xy")

    def __init__(self, xy: np.ndarray, weight: np.ndarray, first_row: int) -> None:
        self.xy, self.weight, self.first_row = xy, weight, first_row

    def __len__(self) -> int:
        return len(self.weight)


_POINT, _MULTIPOINT = 0, 4  # shapely.get_type_id


def _objects(work: gpd.GeoDataFrame, weights: np.ndarray, rows: np.ndarray | None = None) -> list[_Object]:
    """Rows -> hazard objects; lines/polygons of one (kind, source, name, rule) grouped; ``rows`` numbers the rows
    (default 0, 1, ...) for each object's ``row``.

    Columns are read once as plain lists (no per-row pandas access), so a table of a million points stays cheap.
    """
    geometry = np.asarray(work.geometry.array, dtype=object) if len(work) else np.array([], dtype=object)
    type_id = shapely.get_type_id(geometry)
    empty = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    columns = zip(
        (np.arange(len(work)) if rows is None else rows).tolist(),
        geometry,
        type_id.tolist(),
        empty.tolist(),
        work["kind"].tolist(),
        work["crossing_min_angle_deg"].tolist(),
        work["exclusion_buffer_m"].tolist(),
        work["decay_m"].tolist(),
        work["name"].tolist(),
        work["source"].tolist(),
        weights.tolist(),
        strict=True,
    )
    objects: list[_Object] = []
    grouped: dict[tuple[Any, ...], int] = {}
    for row, geom, tid, is_empty, kind, angle, buffer, decay, name, source, weight in columns:
        if is_empty:
            continue
        points = tid in (_POINT, _MULTIPOINT)
        crossable = angle is not None and not _isnan(angle)
        buffer_m = float(buffer)
        obj = _Object(
            str(kind),
            [geom],
            points,
            float(weight),
            float(decay),
            buffer_m if crossable else 0.0,
            0.0 if crossable else buffer_m,
            tid == _POINT,
            row,
        )
        if not points and name is not None and not _isnan(name):
            key = (obj.kind, source, name, obj.weight, obj.decay_m, obj.band_m, obj.hard_m)
            if key in grouped:
                objects[grouped[key]].geoms.append(geom)
                continue
            grouped[key] = len(objects)
        objects.append(obj)
    return objects


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


class HazardClass(NamedTuple):
    """Objects computed in one pass: one kind, one geometry family and one set of rule parameters.

    ``points`` is True for single-point objects (vectorised exact distances); lines, polygons and multi-points
    are computed object by object. Weights may differ inside a class (earthquake magnitudes).
    """

    kind: str
    points: bool
    decay_m: float
    band_m: float
    hard_m: float


def rasterize_hazards(
    gdf: gpd.GeoDataFrame,
    grid: GeoGrid,
    *,
    truncate: float = DEFAULT_TRUNCATE,
    weighting: Mapping[str, float] | None = None,
    budget_bytes: int | None = None,
) -> HazardRasters:
    """Burn a hazard table into a hard mask and soft-cost rasters on a metric grid.

    Parameters
    ----------
    gdf
        A hazard table (columns of :data:`COLUMNS`, any CRS; see :func:`validate_hazards`). Hazards outside the
        grid still count where their cost reaches into it.
    grid
        The analysis grid; its CRS must be projected in metres (e.g. the scenario's UTM zone).
    truncate
        Relative level below which a soft-cost contribution is cut to zero (sets the reach: decay * ln(1/truncate)).
    weighting
        Earthquake weighting overrides: ``reference_mw``, ``per_mw_log10``, ``unknown_mw``.
    budget_bytes
        Working memory of the band-by-band computation (:func:`hazard_rows`); None = one band. The result is the
        same whatever the bands (the whole-grid arrays returned here are the caller's).

    Returns
    -------
    HazardRasters
        ``hard_mask`` (bool), ``soft_cost`` (float32, the sum of every kind), ``soft_by_kind`` and ``hard_by_kind``
        (one array per kind present in the table) and ``info`` (object and class counts, distance passes,
        truncation, weighting).

    Raises
    ------
    ConfigError
        The grid is not in a metric CRS, or ``truncate`` is not in (0, 1).
    InputDataError
        The table lacks columns or CRS.
    """
    plan = plan_hazards(gdf, grid, truncate=truncate, weighting=weighting)
    soft = {k: np.zeros(grid.shape, dtype=np.float64) for k in plan.kinds}
    hard = {k: np.zeros(grid.shape, dtype=bool) for k in plan.kinds}
    for block in plan.blocks(budget_bytes):
        band_soft, band_hard = hazard_rows(plan, block.rows)
        for k in plan.kinds:
            soft[k][block.rows] = band_soft[k]
            hard[k][block.rows] = band_hard[k]
    return _assemble(soft, hard, grid.shape, info=dict(plan.info))


def _check_inputs(gdf: gpd.GeoDataFrame, grid: GeoGrid, truncate: float) -> None:
    """Refuse a grid that is not metric, a truncation outside (0, 1), and a table without columns or CRS."""
    crs = grid.crs
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise ConfigError(
            f"rasterize_hazards needs a grid in a projected CRS in metres, not {crs.to_string()}; use "
            "the scenario's analysis CRS (Scenario.analysis_crs())"
        )
    if not 0 < truncate < 1:
        raise ConfigError(f"truncate = {truncate} must lie strictly between 0 and 1")
    missing = [c for c in COLUMNS if c not in gdf.columns and c != "geometry"]
    if missing:
        raise InputDataError(f"hazard table lacks column(s) {', '.join(missing)}; build it with geodata.hazards")
    if gdf.crs is None and len(gdf):
        raise InputDataError("hazard table has no CRS; it must be EPSG:4326 (validate_hazards)")


def _object_weights(gdf: gpd.GeoDataFrame, weighting: Mapping[str, float]) -> np.ndarray:
    """Each row's soft-cost weight: its ``soft_cost``, times the magnitude weight for earthquakes."""
    weights = np.asarray(gdf["soft_cost"], dtype=float).copy()
    quake = np.asarray(gdf["kind"] == "earthquake")
    if quake.any():
        weights[quake] *= earthquake_weights(np.asarray(gdf.loc[quake, "magnitude"], dtype=float), **weighting)
    return weights


def _hazard_objects(
    work: gpd.GeoDataFrame, weights: np.ndarray
) -> tuple[int, dict[HazardClass, list[_Object] | _Points]]:
    """``(number of objects, classes)`` of a table: single points grouped into classes column by column
    (:func:`_point_classes`), every other row through :func:`_objects` and :func:`hazard_classes`; the classes in
    order of first appearance, as :func:`hazard_classes` would order them all."""
    geometry = np.asarray(work.geometry.array, dtype=object) if len(work) else np.array([], dtype=object)
    single = (shapely.get_type_id(geometry) == _POINT) & ~shapely.is_empty(geometry)
    rows = np.flatnonzero(~single)
    objects = _objects(work.iloc[rows], weights[rows], rows)
    point_classes = _point_classes(work, weights, np.flatnonzero(single))
    ordered: list[tuple[int, HazardClass, list[_Object] | _Points]] = [
        (members[0].row, cls, members) for cls, members in hazard_classes(objects).items()
    ]
    ordered += [(members.first_row, cls, members) for cls, members in point_classes.items()]
    ordered.sort(key=lambda item: item[0])
    return len(objects) + int(single.sum()), {cls: members for _, cls, members in ordered}


def _point_classes(work: gpd.GeoDataFrame, weights: np.ndarray, rows: np.ndarray) -> dict[HazardClass, _Points]:
    """The single-point rows ``rows`` grouped by class, with the values :func:`_objects` would give their objects
    (``float`` of each cell, the band or hard buffer by crossability), points without soft cost or hard buffer left
    out as :func:`hazard_classes` does."""
    if not len(rows):
        return {}
    kinds = [str(k) for k in work["kind"].to_numpy(dtype=object)[rows]]
    angles = work["crossing_min_angle_deg"].to_numpy(dtype=object)[rows]
    crossable = np.fromiter((a is not None and not _isnan(a) for a in angles), dtype=bool, count=len(rows))
    buffer = np.array([float(b) for b in work["exclusion_buffer_m"].to_numpy(dtype=object)[rows]], dtype=float)
    decay = np.array([float(d) for d in work["decay_m"].to_numpy(dtype=object)[rows]], dtype=float)
    weight = np.asarray(weights, dtype=float)[rows]
    band, hard = np.where(crossable, buffer, 0.0), np.where(crossable, 0.0, buffer)
    keep = ~((weight <= 0) & (hard <= 0))
    keys = pd.DataFrame({"kind": kinds, "decay": decay, "band": band, "hard": hard})[keep]
    if keys.empty:
        return {}
    group = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(group.max() + 2))
    kept = np.flatnonzero(keep)
    geometry = np.asarray(work.geometry.array, dtype=object)
    out: dict[HazardClass, _Points] = {}
    for g in range(len(starts) - 1):
        take = kept[order[starts[g] : starts[g + 1]]]  # positions in rows, ascending
        i = int(take[0])
        cls = HazardClass(kinds[i], True, float(decay[i]), float(band[i]), float(hard[i]))
        xy = shapely.get_coordinates(geometry[rows[take]])
        out[cls] = _Points(xy, weight[take], int(rows[i]))
    return out


def _point_arrays(members: list[_Object] | _Points) -> tuple[np.ndarray, np.ndarray]:
    """``(xy, weight)`` of a point class's members, from arrays or from :class:`_Object` s."""
    if isinstance(members, _Points):
        return members.xy, members.weight
    xy = shapely.get_coordinates([obj.geoms[0] for obj in members])
    return xy, np.array([obj.weight for obj in members], dtype=float)


def hazard_classes(objects: list[_Object]) -> dict[HazardClass, list[_Object]]:
    """Objects grouped by class (kind, single point or not, decay, band, hard buffer), in order of appearance.

    Objects with neither a soft cost nor a hard buffer are left out (a rule that constrains nothing).
    """
    out: dict[HazardClass, list[_Object]] = {}
    for obj in objects:
        if obj.weight <= 0 and obj.hard_m <= 0:
            continue
        key = HazardClass(obj.kind, obj.single_point, obj.decay_m, obj.band_m, obj.hard_m)
        out.setdefault(key, []).append(obj)
    return out


def _reach(weight: Any, band_m: float, decay_m: float, hard_m: float, reach_factor: float) -> Any:
    """How far an object's cost reaches: the band plus ``decay * ln(1/truncate)`` (if it has a weight), or its
    hard buffer if that is farther. Works on scalars and arrays of weights."""
    soft_reach = np.where(np.asarray(weight) > 0, band_m + decay_m * reach_factor, 0.0)
    return np.maximum(soft_reach, hard_m)


def _cell_range(grid: GeoGrid, bounds: Any, margin: Any) -> tuple[np.ndarray, ...]:
    """Rows ``r0:r1`` and columns ``c0:c1`` of the grid within ``margin`` of the bounds ``(minx, miny, maxx, maxy)``
    (each may be an array), clipped to the grid; ``r0 >= r1`` or ``c0 >= c1`` means off the grid."""
    minx, miny, maxx, maxy = (np.asarray(b, dtype=float) for b in bounds)
    r0, c0 = rowcol(grid.transform, minx - margin, maxy + margin, op=np.floor)
    r1, c1 = rowcol(grid.transform, maxx + margin, miny - margin, op=np.ceil)
    rows, cols = grid.shape
    return (
        np.maximum(np.asarray(r0, dtype=np.int64), 0),
        np.minimum(np.asarray(r1, dtype=np.int64), rows),
        np.maximum(np.asarray(c0, dtype=np.int64), 0),
        np.minimum(np.asarray(c1, dtype=np.int64), cols),
    )


def _soft_contribution(distance: np.ndarray, weight: Any, band_m: float, decay_m: float, reach_factor: float) -> Any:
    """``weight * exp(-max(d - band, 0) / decay)``, cut to zero beyond the reach."""
    excess = np.maximum(distance - band_m, 0.0) / decay_m
    if np.ndim(weight) == 0:  # only where the level is kept: most of a long object's window is beyond its reach
        keep = excess <= reach_factor
        contribution = np.zeros(excess.shape)
        contribution[keep] = weight * np.exp(-excess[keep])
        return contribution
    contribution = weight * np.exp(-excess)
    contribution[excess > reach_factor] = 0.0
    return contribution


def _window_box(window: windows.Window, transform: Affine) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of a window, as :func:`rasterio.windows.bounds` (with ``@``, not ``*``)."""
    left, bottom = transform @ (window.col_off, window.row_off + window.height)
    right, top = transform @ (window.col_off + window.width, window.row_off)
    return left, bottom, right, top


def _geoms_in_box(obj: _Object, box: tuple[float, float, float, float]) -> list[Any]:
    """The object's geometries inside the window box: lines and polygons clipped to it, points kept if inside."""
    if obj.points:
        return [g for g in obj.geoms if not g.is_empty and shapely.intersects(g, shapely.box(*box))]
    return [g for g in (shapely.clip_by_rect(g, *box) for g in obj.geoms) if not g.is_empty]


def _burn(geoms: Any, shape: tuple[int, int], transform: Affine, *, all_touched: bool) -> np.ndarray:
    """Cells covered by any of ``geoms`` (cell centre inside, or every cell touched) as a bool array."""
    return rasterize(
        [(g, 1) for g in geoms], out_shape=shape, transform=transform, all_touched=all_touched, fill=0, dtype="uint8"
    ).astype(bool)


def _touched(geoms: Any, shape: tuple[int, int], transform: Affine) -> np.ndarray:
    """Every cell the geometries touch (so a point hazard smaller than a cell still marks its cell)."""
    return _burn(geoms, shape, transform, all_touched=True)


def _takes_convolution(cls: HazardClass, members: list[_Object] | _Points, grid: GeoGrid, reach_factor: float) -> bool:
    """Whether a point class takes the convolution path: more than :data:`CONVOLUTION_MIN_POINTS` points, or more
    than :data:`CONVOLUTION_WORK_MIN_POINTS` whose exact pass would exceed :data:`CONVOLUTION_MAX_EXACT_WORK`."""
    if len(members) > CONVOLUTION_MIN_POINTS:
        return True
    if len(members) <= CONVOLUTION_WORK_MIN_POINTS:
        return False
    return _exact_point_work(cls, members, grid, reach_factor) > CONVOLUTION_MAX_EXACT_WORK


def _exact_point_work(cls: HazardClass, members: list[_Object] | _Points, grid: GeoGrid, reach_factor: float) -> int:
    """Point x window cells the exact pass (:func:`_add_point_soft`) would evaluate for the class's points on the
    grid: every point is evaluated over the largest window of the class."""
    xy, weight = _point_arrays(members)
    dy, dx = grid.res
    margin = _reach(weight, cls.band_m, cls.decay_m, cls.hard_m, reach_factor) + max(dx, dy)
    r0, r1, c0, c1 = _cell_range(grid, (xy[:, 0], xy[:, 1], xy[:, 0], xy[:, 1]), margin)
    on = (c0 < c1) & (r0 < r1) & (weight > 0)
    if not on.any():
        return 0
    return int(on.sum()) * int((r1 - r0)[on].max()) * int((c1 - c0)[on].max())


def _convolve_point_class(
    cls: HazardClass,
    members: list[_Object] | _Points,
    grid: GeoGrid,
    reach_factor: float,
    soft: np.ndarray,
    hard: np.ndarray,
) -> int:
    """The soft cost and hard cells of a large point class by convolution (see the module docstring).

    Adds to ``soft`` and ``hard`` in place; memory is a few grid-sized arrays plus a few per point (no points x
    cells array). Returns the number of points on the grid, counted as :func:`_burn_point_class` does.
    """
    points = _point_set(cls, members, grid, reach_factor)
    if points is None:
        return 0
    xy, weight = points.xy, points.weight
    dy, dx = grid.res
    rows_f = (grid.transform.f - xy[:, 1]) / dy - 0.5  # fractional row and column, cell centres at whole numbers
    cols_f = (xy[:, 0] - grid.transform.c) / dx - 0.5
    soft_reach = cls.band_m + cls.decay_m * reach_factor
    pad = math.ceil(max(soft_reach, cls.hard_m + math.hypot(dx, dy)) / min(dx, dy)) + 2
    if (weight > 0).any():
        soft += _convolved_soft(cls, grid, reach_factor, (rows_f, cols_f), weight, pad)
    if cls.hard_m > 0:
        hard |= _dilated_hard(cls.hard_m, grid, (rows_f, cols_f), pad)
    return len(xy)


def _convolved_soft(
    cls: HazardClass,
    grid: GeoGrid,
    reach_factor: float,
    rc: tuple[np.ndarray, np.ndarray],
    weight: np.ndarray,
    pad: int,
) -> np.ndarray:
    """The class's summed soft cost on the grid: bilinear splatting on a lattice of ``s`` nodes per cell side,
    one convolution per lattice phase (cropped to the grid), zero beyond the reach of every weighted point."""
    from scipy.signal import oaconvolve  # scipy.signal (and scipy.stats) take a second to import: only here

    s = CONVOLUTION_SUBCELLS
    dy, dx = grid.res
    rows, cols = grid.shape
    padded = (rows + 2 * pad, cols + 2 * pad)
    phase, flat, value = _splat(rc, weight, s, pad, padded)
    order = np.argsort(phase, kind="stable")
    bounds = np.searchsorted(phase[order], np.arange(s * s + 1))
    soft_reach = cls.band_m + cls.decay_m * reach_factor
    half = math.ceil(soft_reach / min(dx, dy)) + 1
    out = np.zeros(grid.shape, dtype=np.float64)
    occupied = np.zeros(padded[0] * padded[1], dtype=bool)
    for p in range(s * s):
        take = order[bounds[p] : bounds[p + 1]]
        if not len(take):
            continue
        bins = np.bincount(flat[take], weights=value[take], minlength=occupied.size)
        occupied |= bins > 0
        kernel = _phase_kernel(cls, (dy, dx), reach_factor, half, (divmod(p, s)[0] / s, divmod(p, s)[1] / s))
        full = oaconvolve(bins.reshape(padded), kernel, mode="full")
        out += full[pad + half : pad + half + rows, pad + half : pad + half + cols]
    # cells beyond the reach of every weighted lattice node hold FFT round-off only: zero them, as the exact path
    lattice_offset = (s - 1) / s * math.hypot(dx, dy)
    far = _beyond(occupied.reshape(padded), (dy, dx), soft_reach + lattice_offset, pad, grid.shape)
    out[far] = 0.0
    return np.maximum(out, 0.0)


def _splat(
    rc: tuple[np.ndarray, np.ndarray], weight: np.ndarray, s: int, pad: int, padded: tuple[int, int]
) -> tuple[np.ndarray, ...]:
    """Bilinear weights of each point on its 4 lattice nodes: ``(phase, flat padded-cell index, weight)`` of every
    node inside the padded grid (the nodes outside are beyond the reach of every cell)."""
    u, v = rc[0] * s, rc[1] * s
    fu, fv = np.floor(u), np.floor(v)
    tu, tv = u - fu, v - fv
    iu, iv = fu.astype(np.int64), fv.astype(np.int64)
    phases, flats, values = [], [], []
    for du, wu in ((0, 1.0 - tu), (1, tu)):
        for dv, wv in ((0, 1.0 - tv), (1, tv)):
            ru, rv = np.divmod(iu + du, s), np.divmod(iv + dv, s)
            r, c = ru[0] + pad, rv[0] + pad
            keep = (r >= 0) & (r < padded[0]) & (c >= 0) & (c < padded[1])
            phases.append((ru[1] * s + rv[1])[keep])
            flats.append((r * padded[1] + c)[keep])
            values.append((weight * wu * wv)[keep])
    return np.concatenate(phases), np.concatenate(flats), np.concatenate(values)


def _phase_kernel(
    cls: HazardClass, res: tuple[float, float], reach_factor: float, half: int, phase: tuple[float, float]
) -> np.ndarray:
    """The weight-free class kernel ``exp(-max(d - band, 0) / decay)`` (0 beyond the reach) at offsets
    ``(i - phase_row, j - phase_col)`` cells, ``i, j`` in ``-half..half``: what a lattice node of that phase adds
    to the cell ``i, j`` cells away."""
    dy, dx = res
    offsets = np.arange(-half, half + 1, dtype=float)
    distance = np.hypot(((offsets - phase[0]) * dy)[:, None], ((offsets - phase[1]) * dx)[None, :])
    return np.asarray(_soft_contribution(distance, 1.0, cls.band_m, cls.decay_m, reach_factor))


def _beyond(
    occupied: np.ndarray, res: tuple[float, float], radius: float, pad: int, shape: tuple[int, int]
) -> np.ndarray:
    """Grid cells whose centre is farther than ``radius`` from the centre of every occupied padded cell."""
    distance = distance_transform_edt(~occupied, sampling=res)
    far: np.ndarray = distance[pad : pad + shape[0], pad : pad + shape[1]] > radius * (1.0 + 1e-9)
    return far


def _dilated_hard(hard_m: float, grid: GeoGrid, rc: tuple[np.ndarray, np.ndarray], pad: int) -> np.ndarray:
    """Cells within ``hard_m`` + half a cell diagonal of a cell holding a point (both cells for a point on their
    border): a superset of the cells whose centre lies within ``hard_m`` of a point, and of the points' cells."""
    rows, cols = grid.shape
    padded = (rows + 2 * pad, cols + 2 * pad)
    occupied = np.zeros(padded, dtype=bool)
    # cell centres at whole numbers: a point at fractional position f lies in cells round(f) (both on a tie)
    for r_cell in (np.floor(rc[0] + 0.5), np.ceil(rc[0] - 0.5)):
        for c_cell in (np.floor(rc[1] + 0.5), np.ceil(rc[1] - 0.5)):
            r, c = r_cell.astype(np.int64) + pad, c_cell.astype(np.int64) + pad
            keep = (r >= 0) & (r < padded[0]) & (c >= 0) & (c < padded[1])
            occupied[r[keep], c[keep]] = True
    dy, dx = grid.res
    inside: np.ndarray = ~_beyond(occupied, (dy, dx), hard_m + 0.5 * math.hypot(dx, dy), pad, grid.shape)
    return inside


def _assemble(
    soft: dict[str, np.ndarray], hard: dict[str, np.ndarray], shape: tuple[int, int], *, info: dict[str, Any]
) -> HazardRasters:
    """Per-kind float64 sums and masks -> the float32 totals and per-kind layers of :class:`HazardRasters`."""
    total = np.zeros(shape, dtype=np.float64)
    for v in soft.values():
        total += v
    mask = np.zeros(shape, dtype=bool)
    for m in hard.values():
        mask |= m
    info["hard_cells_by_kind"] = {k: int(m.sum()) for k, m in hard.items()}
    info["max_soft_cost_by_kind"] = {k: float(v.max()) if v.size else 0.0 for k, v in soft.items()}
    soft_by_kind = {k: v.astype(np.float32) for k, v in soft.items()}
    return HazardRasters(mask, total.astype(np.float32), soft_by_kind, hard, info)


def _info(
    gdf: gpd.GeoDataFrame,
    n_objects: int,
    classes: Mapping[HazardClass, Any],
    stats: dict[str, int],
    truncate: float,
    weighting: Mapping[str, float],
) -> dict[str, Any]:
    return {
        "objects": n_objects,
        "objects_on_grid": stats["objects_on_grid"],
        "classes": len(classes),
        "distance_passes": stats["distance_passes"],
        "convolution_classes": stats["convolution_classes"],
        "rows": len(gdf),
        "truncate": truncate,
        "earthquake_weighting": {**earthquake_weighting(), **weighting},
    }


class _ObjectWindow(NamedTuple):
    """A line, polygon or multi-point object placed on the grid: the cells it writes (``inner``, clipped to the
    grid), how far its distances are measured (``pad`` cells beyond them), the cells its geometry can touch
    (``touch``, unclipped) and its geometry clipped to the padded window."""

    obj: _Object
    geoms: list[Any]
    inner: tuple[int, int, int, int]
    pad: tuple[int, int]
    touch: tuple[int, int, int, int]


class _PointSet(NamedTuple):
    """A point class on the exact path, as arrays: coordinates, weights and the rows/columns each one writes."""

    cls: HazardClass
    xy: np.ndarray
    weight: np.ndarray
    cells: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class HazardPlan:
    """Everything :func:`hazard_rows` needs to compute any band of rows: the objects placed on the grid, class by
    class in table order (the per-cell summation order, so every band sums exactly as the whole grid does)."""

    def __init__(self, grid: GeoGrid, kinds: list[str], items: list[Any], info: dict[str, Any], rf: float) -> None:
        self.grid, self.kinds, self.items, self.info, self.reach_factor = grid, kinds, items, info, rf
        self._convolved: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def halo_rows(self) -> int:
        """The most rows any object's distances are measured beyond the rows it writes (sizes the bands)."""
        pads = [it.pad[0] for it in self.items if isinstance(it, _ObjectWindow)]
        return max(pads, default=0)

    def blocks(self, budget_bytes: int | None) -> list[Block]:
        rows = self.grid.shape[0]
        if budget_bytes is None:
            return [Block(slice(0, rows), slice(0, rows))]
        per_cell = HAZARD_BAND_BYTES_PER_CELL + 8 * len(self.kinds)
        return row_blocks(self.grid, bytes_per_cell=per_cell, budget_bytes=budget_bytes, halo=self.halo_rows)

    def kind_work(self, rows: slice) -> dict[str, int]:
        """Cells each kind's items visit in the band ``rows`` (points: their boxes; lines and polygons: their
        distance windows with the pad rows; convolution classes: the band): how long :func:`hazard_rows` takes per
        kind, roughly, for scheduling kinds side by side."""
        work = dict.fromkeys(self.kinds, 0)
        width = self.grid.shape[1]
        for item in self.items:
            if isinstance(item, _PointSet):
                r0, r1, c0, c1 = item.cells
                h = np.clip(np.minimum(r1, rows.stop) - np.maximum(r0, rows.start), 0, None)
                work[item.cls.kind] += int((h * np.clip(c1 - c0, 0, None)).sum())
            elif isinstance(item, _ObjectWindow):
                i0, i1, j0, j1 = item.inner
                n = min(i1, rows.stop) - max(i0, rows.start)
                if n > 0:
                    work[item.obj.kind] += (n + 2 * item.pad[0]) * (j1 - j0 + 2 * item.pad[1])
            else:
                work[str(item[0].kind)] += (rows.stop - rows.start) * width
        return work

    def convolved(self, index: int, item: tuple[HazardClass, _Points | list[_Object]]) -> tuple[np.ndarray, np.ndarray]:
        """A convolution class's whole-grid soft cost and hard cells, computed once (its FFTs are grid-wide)."""
        if index not in self._convolved:
            cls, members = item
            soft, hard = np.zeros(self.grid.shape), np.zeros(self.grid.shape, dtype=bool)
            _convolve_point_class(cls, members, self.grid, self.reach_factor, soft, hard)
            self._convolved[index] = (soft, hard)
        return self._convolved[index]


#: Working bytes per cell of a band besides the per-kind float64 sums: the distance window of an object (bool,
#: float64 distances, scipy's int32 feature indices) and the contribution temporaries.
HAZARD_BAND_BYTES_PER_CELL = 48


def plan_hazards(
    gdf: gpd.GeoDataFrame,
    grid: GeoGrid,
    *,
    truncate: float = DEFAULT_TRUNCATE,
    weighting: Mapping[str, float] | None = None,
) -> HazardPlan:
    """Place a hazard table's objects on ``grid`` once (classes, windows, clipped geometry), for
    :func:`hazard_rows` to compute any band of rows. Same checks and parameters as :func:`rasterize_hazards`."""
    _check_inputs(gdf, grid, truncate)
    weighting = dict(weighting or {})
    kinds = list(dict.fromkeys(str(k) for k in gdf["kind"].unique()))  # unique first: cheap for a million rows
    work = gdf.to_crs(grid.crs) if len(gdf) else gdf
    n_objects, classes = _hazard_objects(work, _object_weights(gdf, weighting))
    reach_factor = math.log(1.0 / truncate)
    stats = {"objects_on_grid": 0, "distance_passes": 0, "convolution_classes": 0}
    items: list[Any] = []
    for cls, members in classes.items():
        if cls.points:
            if _takes_convolution(cls, members, grid, reach_factor):
                on = _points_on_grid(cls, members, grid, reach_factor)
                if on:
                    items.append((cls, members))
                    stats["convolution_classes"] += 1
            else:
                pset = _point_set(cls, members, grid, reach_factor)
                on = 0 if pset is None else len(pset.weight)
                if pset is not None:
                    items.append(pset)
            stats["distance_passes"] += 1 if on else 0
            stats["objects_on_grid"] += on
            continue
        for obj in members if isinstance(members, list) else []:  # point classes went above
            window = _object_window(obj, grid, reach_factor)
            if window is not None:
                items.append(window)
                stats["distance_passes"] += 1
                stats["objects_on_grid"] += 1
    return HazardPlan(grid, kinds, items, _info(gdf, n_objects, classes, stats, truncate, weighting), reach_factor)


def hazard_rows(
    plan: HazardPlan, rows: slice, *, kinds: Sequence[str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The soft cost (float64) and hard cells (bool) of every kind (or of ``kinds`` only) in rows ``rows`` of the
    plan's grid.

    Objects add in the plan's order, each only where it reaches the band, so every cell gets the same terms in the
    same order as over the whole grid: any split into bands, and any choice of kinds, gives the whole-grid sums
    bit for bit (a kind's sum only holds its own objects)."""
    grid = plan.grid
    shape = (rows.stop - rows.start, grid.shape[1])
    wanted = list(plan.kinds) if kinds is None else [k for k in plan.kinds if k in set(kinds)]
    soft = {k: np.zeros(shape) for k in wanted}
    hard = {k: np.zeros(shape, dtype=bool) for k in wanted}
    for index, item in enumerate(plan.items):
        if _item_kind(item) not in soft:
            continue
        if isinstance(item, _PointSet):
            _point_set_rows(item, grid, plan.reach_factor, rows, soft[item.cls.kind], hard[item.cls.kind])
        elif isinstance(item, _ObjectWindow):
            _object_rows(item, grid, plan.reach_factor, rows, soft[item.obj.kind], hard[item.obj.kind])
        else:
            whole_soft, whole_hard = plan.convolved(index, item)
            soft[item[0].kind] += whole_soft[rows]
            hard[item[0].kind] |= whole_hard[rows]
    return soft, hard


def _item_kind(item: Any) -> str:
    """The hazard kind of a plan item (a point set, an object window or a convolution class)."""
    if isinstance(item, _PointSet):
        return item.cls.kind
    if isinstance(item, _ObjectWindow):
        return item.obj.kind
    return str(item[0].kind)


def _points_on_grid(cls: HazardClass, members: list[_Object] | _Points, grid: GeoGrid, reach_factor: float) -> int:
    """How many of a point class's points reach the grid (with their soft reach or hard buffer, plus a cell)."""
    xy, weight = _point_arrays(members)
    dy, dx = grid.res
    margin = _reach(weight, cls.band_m, cls.decay_m, cls.hard_m, reach_factor) + max(dx, dy)
    r0, r1, c0, c1 = _cell_range(grid, (xy[:, 0], xy[:, 1], xy[:, 0], xy[:, 1]), margin)
    return int(((c0 < c1) & (r0 < r1)).sum())


def _point_set(
    cls: HazardClass, members: list[_Object] | _Points, grid: GeoGrid, reach_factor: float
) -> _PointSet | None:
    """The points of a class that reach the grid, with the cells each writes; None when none does."""
    xy, weight = _point_arrays(members)
    dy, dx = grid.res
    margin = _reach(weight, cls.band_m, cls.decay_m, cls.hard_m, reach_factor) + max(dx, dy)
    r0, r1, c0, c1 = _cell_range(grid, (xy[:, 0], xy[:, 1], xy[:, 0], xy[:, 1]), margin)
    on = (c0 < c1) & (r0 < r1)
    if not on.any():
        return None
    cells = (r0[on], r1[on], c0[on], c1[on])
    return _PointSet(cls, np.ascontiguousarray(xy[on]), np.ascontiguousarray(weight[on]), cells)


def _point_set_rows(
    pset: _PointSet, grid: GeoGrid, reach_factor: float, rows: slice, soft: np.ndarray, hard: np.ndarray
) -> None:
    """Add a point class's soft cost (exact distances, one compiled pass in point order) and hard cells to the band
    ``rows`` (``soft``, ``hard`` are the band's arrays)."""
    cls = pset.cls
    r0, r1, c0, c1 = pset.cells
    touches = (r0 < rows.stop) & (r1 > rows.start)
    if not touches.any():
        return
    if (pset.weight[touches] > 0).any():
        left, top = grid.transform.c, grid.transform.f
        dy, dx = grid.res
        params = np.array([left, top, dy, dx, cls.band_m, cls.decay_m, reach_factor], dtype=np.float64)
        which = np.flatnonzero(touches)
        vector_hypot = _kernels.hypot_is_libm()
        _kernels.add_point_soft(soft, rows.start, params, pset.xy, pset.weight, r0, r1, c0, c1, which, vector_hypot)
    if cls.hard_m > 0:
        _add_point_hard_rows(cls.hard_m, grid, rows, hard, pset.xy)


def _add_point_hard_rows(hard_m: float, grid: GeoGrid, rows: slice, hard: np.ndarray, xy: np.ndarray) -> None:
    """Mark in the band ``hard`` the cells within ``hard_m`` of any point, and the cell of each point."""
    dy = grid.res[0]
    top = grid.transform.f - rows.start * dy
    bottom = grid.transform.f - rows.stop * dy
    near = (xy[:, 1] <= top + hard_m + dy) & (xy[:, 1] >= bottom - hard_m - dy)
    if not near.any():
        return
    points = shapely.points(xy[near])
    transform = grid.transform @ Affine.translation(0, rows.start)
    shape = hard.shape
    for s in range(0, len(points), HARD_CHUNK_GEOMS):
        part = points[s : s + HARD_CHUNK_GEOMS]
        hard |= _burn(shapely.buffer(part, hard_m), shape, transform, all_touched=False)
        hard |= _touched(part, shape, transform)


def _object_window(obj: _Object, grid: GeoGrid, reach_factor: float) -> _ObjectWindow | None:
    """Place one line, polygon or multi-point object: the cells it writes (its bounds plus its reach and a cell,
    clipped to the grid), the pad its distances are measured over and its geometry clipped to the padded window.
    None when the object and its reach lie off the grid."""
    dy, dx = grid.res
    margin = float(_reach(obj.weight, obj.band_m, obj.decay_m, obj.hard_m, reach_factor)) + max(dx, dy)
    r0, r1, c0, c1 = (int(v) for v in _cell_range(grid, shapely.total_bounds(obj.geoms), margin))
    if c0 >= c1 or r0 >= r1:
        return None
    pad_r, pad_c = math.ceil(margin / dy), math.ceil(margin / dx)
    padded = windows.Window(c0 - pad_c, r0 - pad_r, c1 - c0 + 2 * pad_c, r1 - r0 + 2 * pad_r)
    geoms = _geoms_in_box(obj, _window_box(padded, grid.transform))
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    t = grid.transform
    touch = (
        math.floor((t.f - maxy) / dy) - 1,
        math.ceil((t.f - miny) / dy) + 1,
        math.floor((minx - t.c) / dx) - 1,
        math.ceil((maxx - t.c) / dx) + 1,
    )
    return _ObjectWindow(obj, geoms, (r0, r1, c0, c1), (pad_r, pad_c), touch)


def _object_rows(
    win: _ObjectWindow, grid: GeoGrid, reach_factor: float, rows: slice, soft: np.ndarray, hard: np.ndarray
) -> None:
    """Add one object's soft cost and hard cells to the band ``rows``.

    The distances are measured in a window holding the band's cells the object writes plus every cell its geometry
    touches within ``pad`` of them (the touched cells lie in ``touch``, so the window stops there rather than a full
    pad out): a Euclidean distance transform to the touched cells, or exact distances to a multi-point's points."""
    r0, r1, c0, c1 = win.inner
    o0, o1 = max(r0, rows.start), min(r1, rows.stop)
    if o0 >= o1:
        return
    obj = win.obj
    pad_r, pad_c = win.pad
    t0, t1, u0, u1 = win.touch
    w0, w1 = max(o0 - pad_r, min(o0, t0)), min(o1 + pad_r, max(o1, t1))
    v0, v1 = max(c0 - pad_c, min(c0, u0)), min(c1 + pad_c, max(c1, u1))
    dy, dx = grid.res
    shape = (w1 - w0, v1 - v0)
    transform = grid.transform @ Affine.translation(v0, w0)
    geoms = win.geoms  # clipped once to the padded window: a clip per band would move the cut ends by round-off
    touched = _touched(geoms, shape, transform)
    within = (slice(o0 - w0, o1 - w0), slice(c0 - v0, c1 - v0))
    out = (slice(o0 - rows.start, o1 - rows.start), slice(c0, c1))
    if obj.points:
        distance = _point_distance(geoms, shape, transform)
        if obj.weight > 0:
            soft[out] += _soft_contribution(distance[within], obj.weight, obj.band_m, obj.decay_m, reach_factor)
    elif touched.any():
        if obj.weight > 0:
            # the distances of scipy's distance_transform_edt(~touched, sampling=(dy, dx)), bit for bit, for the
            # band's rows only; only the cells within the reach get a term (as _soft_contribution keeps them)
            index, excess = _kernels.kept_excess(
                touched, dy, dx, (o0 - w0, o1 - w0), (c0 - v0, c1 - v0), obj.band_m, obj.decay_m, reach_factor
            )
            _kernels.scatter_add(soft[out], index, obj.weight * np.exp(-excess))
    else:
        return  # nothing touched within the pad: every cell written is beyond the object's reach
    if obj.hard_m > 0:
        inside = _burn([shapely.buffer(g, obj.hard_m) for g in geoms], shape, transform, all_touched=False)
        hard[out] |= (inside | touched)[within]


def _burn_object(obj: _Object, grid: GeoGrid, reach_factor: float, soft: np.ndarray, hard: np.ndarray) -> bool:
    """Add one object's soft cost to ``soft`` and its hard cells to ``hard`` (whole-grid arrays, in place), as
    :func:`rasterize_hazards` adds it: single points through the class kernel, every other object through its
    window. Returns False when the object and its reach lie off the grid."""
    everything = slice(0, grid.shape[0])
    if obj.single_point:
        cls = HazardClass(obj.kind, True, obj.decay_m, obj.band_m, obj.hard_m)
        pset = _point_set(cls, [obj], grid, reach_factor)
        if pset is None:
            return False
        _point_set_rows(pset, grid, reach_factor, everything, soft, hard)
        return True
    window = _object_window(obj, grid, reach_factor)
    if window is None:
        return False
    _object_rows(window, grid, reach_factor, everything, soft, hard)
    return True


def _point_distance(geoms: list[Any], shape: tuple[int, int], transform: Affine) -> np.ndarray:
    """Exact distance from every cell centre of the window to the nearest point of ``geoms``."""
    xs = transform.c + (np.arange(shape[1]) + 0.5) * transform.a
    ys = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
    coords = np.concatenate([shapely.get_coordinates(g) for g in geoms])
    best = np.full(shape, np.inf)
    for px, py in coords:
        best = np.minimum(best, np.hypot((xs - px)[None, :], (ys - py)[:, None]))
    return best
