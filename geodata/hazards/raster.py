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

Distances are computed per object in a window around it (object bounds plus the reach of its cost), never over the
whole grid: exact for points; for lines and polygons a Euclidean distance transform
(``scipy.ndimage.distance_transform_edt``) to the cells the feature touches, good to about half a cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy.ndimage import distance_transform_edt

from geodata.errors import ConfigError, InputDataError
from geodata.grid import GeoGrid
from geodata.hazards.schema import COLUMNS, earthquake_weighting

DEFAULT_TRUNCATE = 1e-3


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


def _objects(work: gpd.GeoDataFrame, weights: np.ndarray) -> list[_Object]:
    """Rows -> hazard objects; lines/polygons of one (kind, source, name, rule) grouped."""
    objects: list[_Object] = []
    grouped: dict[tuple[Any, ...], int] = {}
    for i, rec in enumerate(work.itertuples(index=False)):
        geom = rec.geometry
        if geom is None or geom.is_empty:
            continue
        points = geom.geom_type in ("Point", "MultiPoint")
        crossable = rec.crossing_min_angle_deg is not None and not _isnan(rec.crossing_min_angle_deg)
        buffer_m = float(rec.exclusion_buffer_m)
        obj = _Object(
            str(rec.kind),
            [geom],
            points,
            float(weights[i]),
            float(rec.decay_m),
            buffer_m if crossable else 0.0,
            0.0 if crossable else buffer_m,
        )
        name = rec.name
        if not points and name is not None and not _isnan(name):
            key = (obj.kind, rec.source, name, obj.weight, obj.decay_m, obj.band_m, obj.hard_m)
            if key in grouped:
                objects[grouped[key]].geoms.append(geom)
                continue
            grouped[key] = len(objects)
        objects.append(obj)
    return objects


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def rasterize_hazards(
    gdf: gpd.GeoDataFrame,
    grid: GeoGrid,
    *,
    truncate: float = DEFAULT_TRUNCATE,
    weighting: Mapping[str, float] | None = None,
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

    Returns
    -------
    HazardRasters
        ``hard_mask`` (bool), ``soft_cost`` (float32, the sum of every kind), ``soft_by_kind`` and ``hard_by_kind``
        (one array per kind present in the table) and ``info`` (object counts, truncation, weighting).

    Raises
    ------
    ConfigError
        The grid is not in a metric CRS, or ``truncate`` is not in (0, 1).
    InputDataError
        The table lacks columns or CRS.
    """
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
    rows, cols = grid.shape
    kinds = list(dict.fromkeys(str(k) for k in gdf["kind"]))
    soft = {k: np.zeros(grid.shape, dtype=np.float64) for k in kinds}
    hard = {k: np.zeros(grid.shape, dtype=bool) for k in kinds}
    weighting = dict(weighting or {})
    weights = np.asarray(gdf["soft_cost"], dtype=float).copy()
    quake = np.asarray(gdf["kind"] == "earthquake")
    if quake.any():
        weights[quake] *= earthquake_weights(np.asarray(gdf.loc[quake, "magnitude"], dtype=float), **weighting)
    work = gdf.to_crs(crs) if len(gdf) else gdf
    objects = _objects(work, weights)
    dy, dx = grid.res
    left, top = grid.transform.c, grid.transform.f
    reach_factor = math.log(1.0 / truncate)
    burned = 0
    for obj in objects:
        soft_reach = obj.band_m + obj.decay_m * reach_factor if obj.weight > 0 else 0.0
        reach = max(soft_reach, obj.hard_m)
        if obj.weight <= 0 and obj.hard_m <= 0:
            continue  # a rule with neither cost nor exclusion
        minx, miny, maxx, maxy = shapely.total_bounds(obj.geoms)
        margin = reach + max(dx, dy)
        c0 = max(math.floor((minx - margin - left) / dx), 0)
        c1 = min(math.ceil((maxx + margin - left) / dx), cols)
        r0 = max(math.floor((top - maxy - margin) / dy), 0)
        r1 = min(math.ceil((top - miny + margin) / dy), rows)
        if c0 >= c1 or r0 >= r1:
            continue  # the object and its reach lie off the grid
        pad_c = math.ceil(margin / dx)
        pad_r = math.ceil(margin / dy)
        wc0, wr0 = c0 - pad_c, r0 - pad_r
        shape = (r1 - r0 + 2 * pad_r, c1 - c0 + 2 * pad_c)
        transform = Affine(dx, 0.0, left + wc0 * dx, 0.0, -dy, top - wr0 * dy)
        window_box = (left + wc0 * dx, top - (wr0 + shape[0]) * dy, left + (wc0 + shape[1]) * dx, top - wr0 * dy)
        geoms = [
            g
            for g in (shapely.clip_by_rect(g, *window_box) if not obj.points else g for g in obj.geoms)
            if not g.is_empty
        ]
        if obj.points:
            geoms = [g for g in geoms if shapely.intersects(g, shapely.box(*window_box))]
        if not geoms:
            continue
        touched = rasterize(
            [(g, 1) for g in geoms], out_shape=shape, transform=transform, all_touched=True, fill=0, dtype="uint8"
        ).astype(bool)
        if obj.points:
            distance = _point_distance(geoms, shape, transform)
        elif touched.any():
            distance = distance_transform_edt(~touched, sampling=(dy, dx))
        else:
            continue
        inner = (slice(pad_r, pad_r + r1 - r0), slice(pad_c, pad_c + c1 - c0))
        out = (slice(r0, r1), slice(c0, c1))
        burned += 1
        if obj.weight > 0:
            excess = np.maximum(distance[inner] - obj.band_m, 0.0) / obj.decay_m
            contribution = obj.weight * np.exp(-excess)
            contribution[excess > reach_factor] = 0.0
            soft[obj.kind][out] += contribution
        if obj.hard_m > 0:
            buffered = [shapely.buffer(g, obj.hard_m) for g in geoms]
            inside = rasterize(
                [(g, 1) for g in buffered],
                out_shape=shape,
                transform=transform,
                all_touched=False,
                fill=0,
                dtype="uint8",
            ).astype(bool)
            hard[obj.kind][out] |= (inside | touched)[inner]
    soft_by_kind = {k: v.astype(np.float32) for k, v in soft.items()}
    hard_by_kind = hard
    total = np.zeros(grid.shape, dtype=np.float64)
    for v in soft.values():
        total += v
    mask = np.zeros(grid.shape, dtype=bool)
    for m in hard.values():
        mask |= m
    info = {
        "objects": len(objects),
        "objects_on_grid": burned,
        "rows": len(gdf),
        "truncate": truncate,
        "earthquake_weighting": {**earthquake_weighting(), **weighting},
        "hard_cells_by_kind": {k: int(m.sum()) for k, m in hard.items()},
        "max_soft_cost_by_kind": {k: float(v.max()) if v.size else 0.0 for k, v in soft.items()},
    }
    return HazardRasters(mask, total.astype(np.float32), soft_by_kind, hard_by_kind, info)


def _point_distance(geoms: list[Any], shape: tuple[int, int], transform: Affine) -> np.ndarray:
    """Exact distance from every cell centre of the window to the nearest point of ``geoms``."""
    xs = transform.c + (np.arange(shape[1]) + 0.5) * transform.a
    ys = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
    coords = np.concatenate([shapely.get_coordinates(g) for g in geoms])
    best = np.full(shape, np.inf)
    for px, py in coords:
        best = np.minimum(best, np.hypot((xs - px)[None, :], (ys - py)[:, None]))
    return best
