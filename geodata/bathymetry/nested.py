"""Nested survey grids: survey bathymetry (GeoTIFF/COG, any CRS, its own vertical reference) over the regional depth.

On any fine grid (a window of the refinement band, or the few cells round a profile point) the depth is

    depth = w * survey + (1 - w) * regional,    w = clip(distance inside the survey's edge / feather_m, 0, 1)

with the survey warped (bilinear) into the fine grid from only the window of the file that the grid needs and moved
to depth below the Caspian surface like a regional source (:func:`geodata.bathymetry.mosaic.to_depth`), and the
regional depth resampled bilinearly. The survey wins wherever it exists beyond ``feather_m`` from its edge (the
first listed survey where several overlap); the seam (``0 < w < 1``) is reported with its width and the largest
difference between survey and regional depth in it (:class:`SeamStats`). Cells round the grid need a halo of
``feather_m`` for the distance to the edge to be exact; :func:`blend_depth` callers pass grids with that halo.

:class:`NestedDepth` is the same surface as a :class:`~geodata.grid.Raster` of the regional grid whose ``sample``
answers from the survey where it exists, so the Route Position List and profile read survey depths along the route.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds
from scipy import ndimage

from geodata.bathymetry.mosaic import to_depth
from geodata.errors import InputDataError
from geodata.geodesy import transformer
from geodata.grid import GeoGrid, Raster
from geodata.scenario import SurveySource


@dataclass(frozen=True)
class SurveyGrid:
    """One survey file as the refinement reads it: path, native grid, nodata and vertical reference."""

    path: str
    name: str
    grid: GeoGrid
    nodata: float | None
    vertical_reference_m: float
    positive: str
    vertical_datum: str
    resolution_m: float
    synthetic: bool

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "crs": self.grid.crs.to_string(),
            "shape": list(self.grid.shape),
            "resolution_m": round(self.resolution_m, 3),
            "vertical_reference_m": self.vertical_reference_m,
            "vertical_datum": self.vertical_datum,
            "positive": self.positive,
            "synthetic": self.synthetic,
        }


def _native_resolution_m(grid: GeoGrid) -> float:
    dy, dx = grid.res
    if grid.crs.is_geographic:
        lat = (grid.bounds[1] + grid.bounds[3]) / 2.0
        return float(min(dy * 111_320.0, dx * 111_320.0 * math.cos(math.radians(lat))))
    unit = grid.crs.axis_info[0].unit_conversion_factor if grid.crs.axis_info else 1.0
    return float(min(dy, dx) * unit)


def open_survey(source: SurveySource, path: str | Path) -> SurveyGrid:
    """Open one survey file (``path``: the resolved file of ``source``) and check it has a CRS and a north-up grid."""
    p = Path(path)
    try:
        with rasterio.open(p) as src:
            if src.crs is None and source.crs is None:
                raise InputDataError(
                    f"survey {p} has no CRS; set `crs` of this survey source in the scenario (e.g. crs: EPSG:32639)"
                )
            crs = CRS.from_user_input(source.crs) if src.crs is None else CRS.from_wkt(src.crs.to_wkt())
            grid = GeoGrid(crs, src.transform, (src.height, src.width))
            nodata = None if src.nodata is None else float(src.nodata)
            tagged = str(src.tags().get("SYNTHETIC", "")).lower() == "true"
    except rasterio.errors.RasterioIOError as exc:
        raise InputDataError(f"cannot read survey {p}: {exc}; give a complete GeoTIFF/COG") from exc
    return SurveyGrid(
        path=str(p),
        name=p.name,
        grid=grid,
        nodata=nodata,
        vertical_reference_m=source.vertical_reference_m,
        positive=source.positive,
        vertical_datum=source.vertical_datum,
        resolution_m=_native_resolution_m(grid),
        synthetic=tagged or "synthetic" in p.name.lower(),
    )


def _survey_on(grid: GeoGrid, survey: SurveyGrid, water_level_m: float) -> np.ndarray | None:
    """The survey's depth on ``grid`` (NaN off it), reading only the window of the file the grid needs."""
    sb = transform_bounds(grid.crs, survey.grid.crs, *grid.bounds, densify_pts=21)
    left, bottom, right, top = survey.grid.bounds
    if sb[0] >= right or sb[2] <= left or sb[1] >= top or sb[3] <= bottom:
        return None
    win = from_bounds(*sb, transform=survey.grid.transform)
    r0 = max(0, math.floor(win.row_off) - 2)
    c0 = max(0, math.floor(win.col_off) - 2)
    r1 = min(survey.grid.shape[0], math.ceil(win.row_off + win.height) + 2)
    c1 = min(survey.grid.shape[1], math.ceil(win.col_off + win.width) + 2)
    if r1 <= r0 or c1 <= c0:
        return None
    window = Window(c0, r0, c1 - c0, r1 - r0)
    with rasterio.open(survey.path) as src:
        values = src.read(1, window=window, masked=False).astype("float32")
        wt = src.window_transform(window)
    if survey.nodata is not None:
        values[values == np.float32(survey.nodata)] = np.nan
    if not np.isfinite(values).any():
        return None
    out = np.full(grid.shape, np.nan, dtype="float32")
    reproject(
        source=values,
        destination=out,
        src_transform=wt,
        src_crs=survey.grid.crs.to_wkt(),
        src_nodata=np.nan,
        dst_transform=grid.transform,
        dst_crs=grid.crs.to_wkt(),
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return to_depth(
        out, positive=survey.positive, vertical_reference_m=survey.vertical_reference_m, water_level_m=water_level_m
    )


def regional_on(grid: GeoGrid, regional: Raster, regional_z: np.ndarray | None = None) -> np.ndarray:
    """The regional depth resampled bilinearly at ``grid``'s cell centres (NaN next to regional nodata or off it)."""
    z = regional_z if regional_z is not None else np.where(regional.valid(), regional.data, np.nan).astype("float64")
    ys, xs = grid.coords()
    X, Y = np.meshgrid(xs, ys)
    if grid.crs != regional.grid.crs:
        X, Y = transformer(grid.crs, regional.grid.crs).transform(X, Y)
    rr, cc = regional.grid.rowcol(X, Y)
    return ndimage.map_coordinates(z, [rr, cc], order=1, mode="nearest").astype("float32")


@dataclass
class SeamStats:
    """The seam between survey and regional depth on the cells seen so far (accumulates over windows)."""

    feather_m: float
    survey_cells: int = 0
    cells: int = 0
    seam_cells: int = 0
    max_abs_difference_m: float = 0.0
    sum_abs_difference_m: float = 0.0

    def add(self, other: SeamStats) -> None:
        self.survey_cells += other.survey_cells
        self.cells += other.cells
        self.seam_cells += other.seam_cells
        self.max_abs_difference_m = max(self.max_abs_difference_m, other.max_abs_difference_m)
        self.sum_abs_difference_m += other.sum_abs_difference_m

    def summary(self) -> dict[str, Any]:
        return {
            "seam_width_m": self.feather_m,
            "seam_cells": self.seam_cells,
            "seam_max_depth_difference_m": round(self.max_abs_difference_m, 3),
            "seam_mean_depth_difference_m": round(self.sum_abs_difference_m / self.seam_cells, 3)
            if self.seam_cells
            else 0.0,
            "survey_cells": self.survey_cells,
            "survey_share": round(self.survey_cells / self.cells, 4) if self.cells else 0.0,
        }


@dataclass
class Blend:
    """Depth on a fine grid: the blended surface, the survey's weight in it and the seam statistics."""

    depth: np.ndarray
    weight: np.ndarray
    seam: SeamStats


def feather_weight(valid: np.ndarray, cell_m: tuple[float, float], feather_m: float) -> np.ndarray:
    """Survey weight: distance of each valid cell to the nearest cell without survey, over ``feather_m``, clipped
    to [0, 1]; 0 off the survey; 1 everywhere on it when ``feather_m`` is 0."""
    if feather_m <= 0 or not valid.any():
        return valid.astype("float32")
    if valid.all():
        return np.ones(valid.shape, dtype="float32")
    dist = ndimage.distance_transform_edt(valid, sampling=cell_m)
    return np.clip(np.asarray(dist) / feather_m, 0.0, 1.0).astype("float32")


def blend_depth(
    grid: GeoGrid,
    regional: Raster,
    surveys: Sequence[SurveyGrid],
    *,
    water_level_m: float,
    feather_m: float,
    regional_z: np.ndarray | None = None,
    core: tuple[slice, slice] | None = None,
    within: np.ndarray | None = None,
) -> Blend:
    """Fine depth on ``grid`` (see the module docstring); seam statistics over ``core`` (the window's own cells,
    without its halo; default all), and there only over the cells of ``within`` (a boolean mask of ``core``'s shape)
    when given."""
    reg = regional_on(grid, regional, regional_z)
    survey = np.full(grid.shape, np.nan, dtype="float32")
    for s in surveys:
        d = _survey_on(grid, s, water_level_m)
        if d is not None:
            fill = ~np.isfinite(survey) & np.isfinite(d)
            survey[fill] = d[fill]
    valid = np.isfinite(survey)
    w = feather_weight(valid, grid.res, feather_m)
    w = np.where(np.isfinite(reg), w, valid.astype("float32"))  # no regional value: the survey alone
    depth = np.where(valid, w * np.nan_to_num(survey) + (1.0 - w) * np.nan_to_num(reg), reg).astype("float32")
    depth[~valid & ~np.isfinite(reg)] = np.nan
    sl = core if core is not None else (slice(None), slice(None))
    keep = within if within is not None else np.ones(valid[sl].shape, dtype=bool)
    seam = SeamStats(feather_m, survey_cells=int((valid[sl] & keep).sum()), cells=int(keep.sum()))
    in_seam = valid[sl] & keep & (w[sl] < 1.0) & np.isfinite(reg[sl])
    if in_seam.any():
        diff = np.abs(survey[sl][in_seam] - reg[sl][in_seam]).astype("float64")
        seam.seam_cells = int(in_seam.sum())
        seam.max_abs_difference_m = float(diff.max())
        seam.sum_abs_difference_m = float(diff.sum())
    return Blend(depth, w, seam)


@dataclass
class NestedDepth(Raster):
    """The regional depth raster, sampled through the survey where it exists (``sample``: a fine grid is built round
    each run of points, blended as in :func:`blend_depth`, and sampled). ``data`` and ``grid`` stay the regional
    ones, so everything that reads the raster as a grid sees the regional surface."""

    surveys: tuple[SurveyGrid, ...] = ()
    water_level_m: float = -28.0
    feather_m: float = 0.0
    resolution_m: float = 10.0
    max_window_cells: int = field(default=256)

    def sample(self, x: Any, y: Any, *, method: str = "bilinear") -> np.ndarray:
        xs, ys = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(y, dtype=float))
        out = Raster.sample(self, xs, ys, method=method)
        if not self.surveys or xs.size == 0:
            return out
        span = self.max_window_cells * self.resolution_m
        pad = self.feather_m + 3 * self.resolution_m
        regional_z = np.where(self.valid(), self.data, np.nan).astype("float64")
        i = 0
        n = xs.size
        while i < n:
            j = i + 1
            x0 = x1 = xs[i]
            y0 = y1 = ys[i]
            while j < n:
                nx0, nx1 = min(x0, xs[j]), max(x1, xs[j])
                ny0, ny1 = min(y0, ys[j]), max(y1, ys[j])
                if nx1 - nx0 > span or ny1 - ny0 > span:
                    break
                x0, x1, y0, y1 = nx0, nx1, ny0, ny1
                j += 1
            if np.isfinite([x0, x1, y0, y1]).all():
                g = GeoGrid.from_bounds((x0 - pad, y0 - pad, x1 + pad, y1 + pad), self.resolution_m, self.grid.crs)
                b = blend_depth(
                    g, self, self.surveys, water_level_m=self.water_level_m, feather_m=self.feather_m,
                    regional_z=regional_z,
                )  # fmt: skip
                fine = Raster(b.depth, g, float("nan")).sample(xs[i:j], ys[i:j], method=method)
                weight = Raster(b.weight, g, None).sample(xs[i:j], ys[i:j], method="nearest")
                use = np.isfinite(fine) & (weight > 0)
                out[i:j] = np.where(use, fine, out[i:j])
            i = j
        return out


def nested_depth(
    regional: Raster, surveys: Sequence[SurveyGrid], *, water_level_m: float, feather_m: float, resolution_m: float
) -> NestedDepth:
    """``regional`` sampled through ``surveys`` (see :class:`NestedDepth`)."""
    attrs = {**regional.attrs, "surveys": [s.describe() for s in surveys], "feather_m": feather_m}
    return NestedDepth(
        regional.data,
        regional.grid,
        regional.nodata,
        attrs,
        surveys=tuple(surveys),
        water_level_m=water_level_m,
        feather_m=feather_m,
        resolution_m=resolution_m,
    )
