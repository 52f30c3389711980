"""Reading one bathymetry source: GeoTIFF/COG (rasterio) or netCDF (xarray), any CRS, optionally only the window
that covers an area of interest.

Every reader returns a :class:`~geodata.grid.Raster` of ``float32`` heights or depths exactly as stored in the file
(scale and offset applied, nodata as NaN), north-up, with what was found or assumed about it in ``attrs``. The
vertical conversion to depth below the Caspian surface is the mosaic's job (:mod:`geodata.bathymetry.mosaic`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import rasterio
import rasterio.errors
import rasterio.windows
from affine import Affine
from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio._err import CPLE_BaseError
from rasterio.warp import transform_bounds

from geodata.errors import ConfigError, InputDataError, SourceUnavailable
from geodata.grid import GeoGrid, Raster
from geodata.sources.catalogue import get_source, load_catalogue, resolve, sha256_of

__all__ = [
    "MAX_READ_CELLS",
    "NETCDF_VARIABLE_GUESSES",
    "TRANSFORM_BOUNDS_ERRORS",
    "read_bathymetry_source",
    "resolve_bathymetry_source",
    "user_path",
]

#: Variable names tried, in order, when a netCDF file is read without ``variable``.
NETCDF_VARIABLE_GUESSES = ("elevation", "z", "Band1", "depth", "bathymetry", "topo", "altitude", "height", "elev")

_LAT_NAMES = {"lat", "latitude", "nav_lat", "lats"}
_LON_NAMES = {"lon", "longitude", "nav_lon", "lons", "long"}
_LAT_UNITS = {"degrees_north", "degree_north", "degrees_n", "degree_n", "degreesn", "degreen"}
_LON_UNITS = {"degrees_east", "degree_east", "degrees_e", "degree_e", "degreese", "degreee"}
_METRE_UNITS = {"m", "metre", "metres", "meter", "meters", "m above sea level", "m below sea level"}
_NETCDF_SUFFIXES = {".nc", ".nc4", ".cdf", ".netcdf", ".grd", ".nc3"}

#: Margin, in source cells, kept around the area of interest when reading a window (room for the resampling kernel).
WINDOW_PAD_CELLS = 3

#: A source window larger than this many cells is refused before it is read (about 0.8 GB as float32, several GB
#: with the mask and the copies the reader and the mosaic make): resample the file first. The same figure as the
#: analysis grid's limit (``geodata.bathymetry.mosaic.MAX_ANALYSIS_CELLS``).
MAX_READ_CELLS = 200_000_000

#: What ``rasterio.warp.transform_bounds`` raises for CRSs or bounds it cannot transform: ``rasterio.errors.CRSError``
#: (a ``ValueError``) for a CRS it cannot parse, ``ValueError`` for bad arguments, the ``CPLE_*`` errors of GDAL
#: (``rasterio._err.CPLE_BaseError``, e.g. no coordinate operation from an engineering CRS) and rasterio's own errors.
TRANSFORM_BOUNDS_ERRORS: tuple[type[Exception], ...] = (ValueError, rasterio.errors.RasterioError, CPLE_BaseError)


# -- resolving a configured source -----------------------------------------------------------------------------------


def resolve_bathymetry_source(
    source: str,
    *,
    mirror: Path | None = None,
    cache: Path | None = None,
    verify: bool = True,
    base_dir: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Find the file of a configured bathymetry source and describe it.

    Parameters
    ----------
    source
        A catalogue name (``geodata/data/sources.yaml``) or a path to a GeoTIFF/COG/netCDF file.
    mirror, cache, verify
        Passed to :func:`geodata.sources.catalogue.resolve` for catalogue names.
    base_dir
        Folder that relative paths are taken from (default: the working directory).

    Returns
    -------
    (path, provenance)
        ``provenance`` holds ``name``, ``path``, ``origin``, ``sha256`` and, for catalogue sources, the catalogue's
        ``vertical_reference_m`` and ``positive`` when it states them.
    """
    if source in load_catalogue():
        resolved = resolve(source, mirror=mirror, cache=cache, verify=verify)
        extra = get_source(source).extra
        prov = resolved.provenance()
        for key in ("vertical_reference_m", "positive"):
            if key in extra:
                prov[key] = extra[key]
        return resolved.path, prov
    path = user_path(source, base_dir=base_dir)
    return path, {"name": path.name, "path": str(path), "origin": "path", "sha256": sha256_of(path)}


def user_path(source: str, *, base_dir: Path | None = None) -> Path:
    """The file of a bathymetry source given as a path (``~`` expanded, relative to ``base_dir`` or the working
    directory); :class:`SourceUnavailable` naming the closest catalogue source when there is no such file."""
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.is_file():
        import difflib

        close = difflib.get_close_matches(source, list(load_catalogue()), n=1)
        hint = f" Did you mean the catalogue source '{close[0]}'?" if close else ""
        raise SourceUnavailable(
            f"bathymetry source '{source}' is neither a catalogue name nor an existing file ({path.resolve()}).{hint} "
            "Give a catalogue name from geodata/data/sources.yaml or the path of a GeoTIFF/COG/netCDF grid."
        )
    return path


# -- reading ---------------------------------------------------------------------------------------------------------


def read_bathymetry_source(
    path: str | Path,
    *,
    variable: str | None = None,
    crs: Any = None,
    bounds_lonlat: tuple[float, float, float, float] | None = None,
) -> Raster:
    """Read a bathymetry/topography grid from a GeoTIFF/COG or a netCDF file (GEBCO, ETOPO or GMT style).

    Parameters
    ----------
    path
        The file. netCDF is recognised by its signature (classic or HDF5), anything else goes to GDAL.
    variable
        netCDF variable to read; by default the first of :data:`NETCDF_VARIABLE_GUESSES` present, else the only
        2-D variable.
    crs
        CRS to assume when the file states none (any ``pyproj`` input, e.g. ``"EPSG:4326"``). A CRS stated in
        the file always wins; a disagreement is recorded in ``attrs["warnings"]``.
    bounds_lonlat
        ``(west, south, east, north)`` in degrees: read only the window covering this box (plus a margin of
        :data:`WINDOW_PAD_CELLS` cells), so that a global GEBCO file can be used as it is. A file that does not
        intersect the box raises :class:`InputDataError` naming both.

    Returns
    -------
    Raster
        ``float32`` values as stored (scale/offset applied), NaN for nodata, north-up. ``attrs`` records the
        path, format, variable, CRS origin (``file``, ``argument`` or ``assumed``), whether rows were flipped,
        the native resolution, the file's ``positive`` attribute when it has one, and ``warnings``.

    Raises
    ------
    InputDataError
        Missing, empty, truncated or corrupt file; no CRS and none given; irregular or rotated grid; no valid
        cell (in the window).
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"bathymetry file {path} does not exist; check its path in the scenario's bathymetry")
    if path.stat().st_size == 0:
        raise InputDataError(f"bathymetry file {path} is empty (0 bytes); the download or copy failed, fetch it again")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    is_netcdf = magic[:3] == b"CDF" or magic == b"\x89HDF\r\n\x1a\n"
    if not is_netcdf and path.suffix.lower() in _NETCDF_SUFFIXES and not magic.startswith((b"II", b"MM")):
        raise InputDataError(
            f"bathymetry file {path} has a netCDF name but not a netCDF signature (starts with {magic!r}); the file "
            "is corrupt or truncated: fetch it again"
        )
    user_crs = _parse_crs(crs, path) if crs is not None else None
    if is_netcdf:
        raster = _read_netcdf(path, variable, user_crs, bounds_lonlat)
    else:
        raster = _read_gdal(path, user_crs, bounds_lonlat)
        if variable is not None:
            raster.attrs["warnings"].append(f"variable '{variable}' ignored: {path.name} is not a netCDF file")
    if not raster.valid().any():
        where = f" inside {_fmt_box(bounds_lonlat)}" if bounds_lonlat else ""
        raise InputDataError(
            f"bathymetry file {path} holds no valid cell{where} (all nodata); it is an empty layer or the wrong "
            "variable/band: check the file, or remove it from bathymetry.sources"
        )
    return raster


def _parse_crs(crs: Any, path: Path) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise ConfigError(
            f"crs '{crs}' given for {path} is not a CRS pyproj knows ({exc}); use e.g. EPSG:4326"
        ) from None


def _fmt_box(b: tuple[float, float, float, float] | None) -> str:
    if b is None:
        return "(whole file)"
    return f"the area of interest {b[0]:g}..{b[2]:g} E, {b[1]:g}..{b[3]:g} N"


def _no_cover(path: Path, bounds_lonlat: tuple[float, float, float, float], src: tuple[float, ...]) -> InputDataError:
    return InputDataError(
        f"bathymetry source {path} ({src[0]:.3f}..{src[2]:.3f} E, {src[1]:.3f}..{src[3]:.3f} N) "
        f"does not cover {_fmt_box(bounds_lonlat)}; use a grid of this area or correct the area of interest"
    )


def _lonlat_bounds(crs: CRS, bounds: tuple[float, float, float, float]) -> tuple[float, ...]:
    try:
        return tuple(transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21))
    except TRANSFORM_BOUNDS_ERRORS:  # only used to word an error message
        return (math.nan,) * 4


# -- GDAL (GeoTIFF, COG, anything else GDAL reads) ---------------------------------------------------------------------


class _GdalBand(NamedTuple):
    """Band 1 of a GDAL raster as read, with what the rest of :func:`_read_gdal` needs to know about it."""

    data: np.ma.MaskedArray
    transform: Affine
    crs: CRS
    crs_origin: str
    south_up: bool
    scale: float | None
    offset: float | None
    native_res: tuple[float, float]
    driver: str


def _read_gdal(path: Path, user_crs: CRS | None, bounds_lonlat: tuple[float, float, float, float] | None) -> Raster:
    """Read band 1 of a GeoTIFF/COG (or anything else GDAL reads), only the window of ``bounds_lonlat`` when given,
    with scale/offset applied and rows north-up."""
    warnings: list[str] = []
    try:
        with rasterio.open(path) as src:
            band = _read_gdal_band(src, path, user_crs, bounds_lonlat, warnings)
    except rasterio.errors.RasterioError as exc:
        raise InputDataError(
            f"cannot read raster {path}: {exc}. The file is corrupt, truncated or not a raster: fetch it again "
            "(`gdalinfo -checksum` reads every block and shows where it breaks)"
        ) from exc
    values = _apply_scale_offset(band.data, band.scale, band.offset, warnings)
    transform = band.transform
    if band.south_up:
        values, transform = _flip_south_up(values, transform, band.crs, bounds_lonlat)
    grid = GeoGrid(band.crs, transform, values.shape)
    attrs = {
        "path": str(path),
        "format": band.driver,
        "variable": "band 1",
        "crs": band.crs.to_string(),
        "crs_origin": band.crs_origin,
        "flipped_rows": band.south_up,
        "native_resolution": list(band.native_res),
        "warnings": warnings,
    }
    return Raster(values, grid, float("nan"), attrs)


def _read_gdal_band(
    src: Any,
    path: Path,
    user_crs: CRS | None,
    bounds_lonlat: tuple[float, float, float, float] | None,
    warnings: list[str],
) -> _GdalBand:
    """Check the open dataset ``src`` (CRS, north-up geotransform, area covered) and read band 1 of it, only the
    window of ``bounds_lonlat`` when the rows run north to south."""
    file_crs, crs_origin = _gdal_crs(src, path, user_crs, warnings)
    t = src.transform
    _check_gdal_geotransform(t, path, file_crs)
    if src.count > 1:
        warnings.append(f"{src.count} bands in the file; band 1 was read")
    south_up = bool(t.e > 0)
    window = _gdal_window(src, path, file_crs, bounds_lonlat, south_up)
    rows, cols = (int(window.height), int(window.width)) if window is not None else (src.height, src.width)
    _check_read_size(path, (src.height, src.width), (rows, cols), (abs(t.e), abs(t.a)), file_crs)
    data = src.read(1, window=window, masked=True)
    transform = src.transform
    if window is not None:
        transform = transform @ Affine.translation(window.col_off, window.row_off)
    return _GdalBand(
        data=data,
        transform=transform,
        crs=file_crs,
        crs_origin=crs_origin,
        south_up=south_up,
        scale=src.scales[0],
        offset=src.offsets[0],
        native_res=(abs(t.e), abs(t.a)),
        driver=src.driver,
    )


def _gdal_crs(src: Any, path: Path, user_crs: CRS | None, warnings: list[str]) -> tuple[CRS, str]:
    """The CRS of a GDAL raster and where it came from: the file's own (``file``; a different configured one is
    recorded as ignored), else the configured one (``argument``); :class:`InputDataError` when there is neither."""
    if src.crs is not None:
        file_crs = CRS.from_wkt(src.crs.to_wkt())
        _warn_crs_ignored(file_crs, user_crs, warnings)
        return file_crs, "file"
    if user_crs is not None:
        return user_crs, "argument"
    raise InputDataError(
        f"raster {path} has no CRS; assign one (e.g. `gdal_edit.py -a_srs EPSG:4326 {path.name}`) or set "
        "`crs: EPSG:4326` on this source in the scenario's bathymetry.sources"
    )


def _warn_crs_ignored(file_crs: CRS, user_crs: CRS | None, warnings: list[str]) -> None:
    """Record that a configured CRS differing from the one the file states was ignored."""
    if user_crs is not None and not file_crs.equals(user_crs, ignore_axis_order=True):
        warnings.append(
            f"the file states CRS {file_crs.to_string()}; the configured crs {user_crs.to_string()} applies only "
            "to files without one and was ignored"
        )


def _check_gdal_geotransform(t: Affine, path: Path, file_crs: CRS) -> None:
    """:class:`InputDataError` unless the geotransform is north-up (no rotation/shear) and runs west to east."""
    if t.b != 0 or t.d != 0:
        raise InputDataError(
            f"raster {path} has a rotated/sheared geotransform {tuple(t)[:6]}; warp it north-up first "
            f"(`gdalwarp -t_srs {file_crs.to_string()} {path.name} out.tif`)"
        )
    if t.a < 0:
        raise InputDataError(f"raster {path} runs east to west (negative x step); warp it first with gdalwarp")


def _gdal_window(
    src: Any,
    path: Path,
    file_crs: CRS,
    bounds_lonlat: tuple[float, float, float, float] | None,
    south_up: bool,
) -> rasterio.windows.Window | None:
    """The window of the raster to read: None for the whole file (no area of interest, or rows running south to
    north, which are cropped after flipping); :class:`InputDataError` when the file misses the area of interest."""
    if bounds_lonlat is None:
        return None
    full = (src.bounds.left, src.bounds.bottom, src.bounds.right, src.bounds.top)
    aoi_src = transform_bounds("EPSG:4326", file_crs, *bounds_lonlat, densify_pts=21)
    if not _intersects(full, aoi_src):
        raise _no_cover(path, bounds_lonlat, _lonlat_bounds(file_crs, full))
    if south_up:
        return None
    return _window(src.transform, src.height, src.width, aoi_src)


def _check_read_size(
    path: Path, declared: tuple[int, int], window: tuple[int, int], res: tuple[float, float], file_crs: CRS
) -> None:
    """:class:`InputDataError` when the ``window`` (rows, columns) about to be read exceeds :data:`MAX_READ_CELLS`,
    naming the file, its declared size and a resolution that would fit (``gdalwarp -tr``)."""
    rows, cols = window
    if rows * cols <= MAX_READ_CELLS:
        return
    factor = math.sqrt(rows * cols / MAX_READ_CELLS) * 1.05
    unit = "degrees" if file_crs.is_geographic else "CRS units"
    tr_x, tr_y = (f"{r * factor:.3g}" for r in (res[1], res[0]))
    part = "" if window == declared else f", of which the area of interest needs {rows:,} x {cols:,}"
    gb = rows * cols * 4 / 1e9
    size = f"{gb:,.0f}" if gb >= 10 else f"{gb:.2g}"
    raise InputDataError(
        f"raster {path} declares {declared[0]:,} x {declared[1]:,} cells (rows x columns) of {res[1]:.3g} x "
        f"{res[0]:.3g} {unit}{part}: {rows * cols:,} cells, over the limit of {MAX_READ_CELLS:,} cells "
        f"(about {size} GB as float32); warp it to a coarser resolution first, e.g. "
        f"`gdalwarp -tr {tr_x} {tr_y} -r average {path.name} smaller.tif`, and list smaller.tif in the scenario"
    )


def _apply_scale_offset(
    data: np.ma.MaskedArray, scale: float | None, offset: float | None, warnings: list[str]
) -> np.ndarray:
    """``float32`` values of a band with nodata as NaN and the band's scale and offset applied (and recorded)."""
    values = np.ma.filled(data.astype("float32"), np.nan)
    if scale not in (None, 1.0) or offset not in (None, 0.0):
        values = values * np.float32(scale if scale is not None else 1.0) + np.float32(offset or 0.0)
        warnings.append(f"band scale {scale} and offset {offset} applied")
    return values


def _flip_south_up(
    values: np.ndarray,
    transform: Affine,
    file_crs: CRS,
    bounds_lonlat: tuple[float, float, float, float] | None,
) -> tuple[np.ndarray, Affine]:
    """Turn rows stored south to north north-up, then crop them to ``bounds_lonlat`` (plus the margin) when given."""
    values = values[::-1]
    top = transform.f + transform.e * values.shape[0]
    transform = Affine(transform.a, 0.0, transform.c, 0.0, -transform.e, top)
    if bounds_lonlat is not None:
        aoi_src = transform_bounds("EPSG:4326", file_crs, *bounds_lonlat, densify_pts=21)
        values, transform = _crop(values, transform, aoi_src)
    return values, transform


def _intersects(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _window(transform: Affine, height: int, width: int, bounds: tuple[float, ...]) -> rasterio.windows.Window:
    left, bottom, right, top = bounds
    col0 = max(math.floor((left - transform.c) / transform.a) - WINDOW_PAD_CELLS, 0)
    col1 = min(math.ceil((right - transform.c) / transform.a) + WINDOW_PAD_CELLS, width)
    row0 = max(math.floor((top - transform.f) / transform.e) - WINDOW_PAD_CELLS, 0)
    row1 = min(math.ceil((bottom - transform.f) / transform.e) + WINDOW_PAD_CELLS, height)
    return rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)


def _crop(values: np.ndarray, transform: Affine, bounds: tuple[float, ...]) -> tuple[np.ndarray, Affine]:
    """Crop a north-up array to ``bounds`` (in its CRS) plus the margin."""
    win = _window(transform, values.shape[0], values.shape[1], bounds)
    r0, c0 = int(win.row_off), int(win.col_off)
    out = values[r0 : r0 + int(win.height), c0 : c0 + int(win.width)]
    return out, transform @ Affine.translation(c0, r0)


# -- netCDF (GEBCO, ETOPO, GMT) ---------------------------------------------------------------------------------------


def _read_netcdf(
    path: Path, variable: str | None, user_crs: CRS | None, bounds_lonlat: tuple[float, float, float, float] | None
) -> Raster:
    """Read one 2-D variable of a netCDF file (GEBCO, ETOPO, GMT style), only the window of ``bounds_lonlat`` when
    given, north-up with longitudes in -180..180."""
    warnings: list[str] = []
    ds = _open_netcdf(path)
    with ds:
        name = _pick_variable(ds, variable, path)
        da = _squeeze_to_2d(ds[name], name, path)
        ydim, xdim = (str(d) for d in da.dims)
        ys = _coord_values(ds, da, ydim, path)
        xs = _coord_values(ds, da, xdim, path)
        file_crs, crs_origin = _netcdf_crs(ds, da, xdim, ydim, xs, ys, user_crs, path, warnings)
        order_x, xs, order_y, ys, south_up = _orient_axes(xs, ys, file_crs, warnings)
        if xs.size < 2 or ys.size < 2:
            raise InputDataError(
                f"netCDF variable '{name}' in {path} has shape {da.shape}; a grid needs at least 2 x 2 cells"
            )
        dx = _regular_step(xs, xdim, name, path)
        dy = _regular_step(ys, ydim, name, path)
        if bounds_lonlat is not None:
            order_x, xs, order_y, ys = _netcdf_window(
                (order_x, xs, order_y, ys), (dx, dy), file_crs, bounds_lonlat, path
            )
        _check_read_size(path, (da.sizes[ydim], da.sizes[xdim]), (order_y.size, order_x.size), (dy, dx), file_crs)
        values = _load_variable(da, name, path, ydim, xdim, order_y, order_x)
        units = str(da.attrs.get("units", "")).strip()
        _check_units(units, name, path)
        positive = _positive_attribute(da, warnings)
    transform = Affine(dx, 0.0, float(xs[0]) - dx / 2, 0.0, -dy, float(ys[0]) + dy / 2)
    grid = GeoGrid(file_crs, transform, values.shape)
    attrs: dict[str, Any] = {
        "path": str(path),
        "format": "netCDF",
        "variable": name,
        "units": units or None,
        "crs": file_crs.to_string(),
        "crs_origin": crs_origin,
        "flipped_rows": bool(south_up),
        "native_resolution": [dy, dx],
        "warnings": warnings,
    }
    if positive:
        attrs["positive"] = positive
    return Raster(values, grid, float("nan"), attrs)


def _open_netcdf(path: Path) -> Any:
    """The file opened lazily with xarray; :class:`InputDataError` when its header cannot be read."""
    import xarray as xr

    try:
        return xr.open_dataset(path, decode_times=False, mask_and_scale=True, cache=False)
    except Exception as exc:  # netCDF4/h5py raise OSError, RuntimeError, ValueError, KeyError...
        raise InputDataError(
            f"cannot open netCDF file {path}: {type(exc).__name__}: {exc}. The file is corrupt, truncated or not "
            "netCDF: fetch it again (`ncdump -h` shows whether the header is readable)"
        ) from exc


def _squeeze_to_2d(da: Any, name: str, path: Path) -> Any:
    """The variable without its leading dimensions of length 1 (time, band); :class:`InputDataError` when one of
    them holds more than one layer (ambiguous) or what is left is not a non-empty 2-D grid."""
    for d in list(da.dims[:-2]):
        if da.sizes[d] != 1:
            raise InputDataError(
                f"netCDF variable '{name}' in {path} has {da.sizes[d]} layers along '{d}'; extract one 2-D layer "
                f"first (e.g. `ncks -d {d},0 {path.name} out.nc`)"
            )
        da = da.isel({d: 0})
    if da.ndim != 2 or da.size == 0:
        raise InputDataError(
            f"netCDF variable '{name}' in {path} has shape {da.shape}, not a non-empty 2-D grid; it is an empty "
            "layer or the wrong variable"
        )
    return da


def _orient_axes(
    xs: np.ndarray, ys: np.ndarray, file_crs: CRS, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(order_x, xs, order_y, ys, south_up)``: the order in which to take the columns and rows so that x ascends
    (longitudes 0..360 shifted to -180..180, so that they meet lon/lat boxes) and y descends (north-up), the axes
    in that order, and whether the rows were stored south to north."""
    order_x = np.arange(xs.size)
    if file_crs.is_geographic and xs.max() > 180.0:
        shifted = np.where(xs > 180.0, xs - 360.0, xs)
        order_x = np.argsort(shifted, kind="stable")
        xs = shifted[order_x]
        warnings.append("longitudes 0..360 shifted to -180..180")
    if xs.size > 1 and xs[1] < xs[0]:
        order_x, xs = order_x[::-1], xs[::-1]
    south_up = ys.size > 1 and ys[1] > ys[0]
    order_y = np.arange(ys.size)
    if south_up:
        order_y, ys = order_y[::-1], ys[::-1]
    return order_x, xs, order_y, ys, south_up


def _netcdf_window(
    axes: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    steps: tuple[float, float],
    file_crs: CRS,
    bounds_lonlat: tuple[float, float, float, float],
    path: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The oriented ``(order_x, xs, order_y, ys)`` cut to the columns and rows covering ``bounds_lonlat`` plus
    :data:`WINDOW_PAD_CELLS`; :class:`InputDataError` when the grid misses the area of interest."""
    order_x, xs, order_y, ys = axes
    dx, dy = steps
    full = (xs[0] - dx / 2, ys[-1] - dy / 2, xs[-1] + dx / 2, ys[0] + dy / 2)
    aoi = transform_bounds("EPSG:4326", file_crs, *bounds_lonlat, densify_pts=21)
    if not _intersects(full, aoi):
        raise _no_cover(path, bounds_lonlat, _lonlat_bounds(file_crs, full))
    c = (xs >= aoi[0] - (WINDOW_PAD_CELLS + 0.5) * dx) & (xs <= aoi[2] + (WINDOW_PAD_CELLS + 0.5) * dx)
    r = (ys >= aoi[1] - (WINDOW_PAD_CELLS + 0.5) * dy) & (ys <= aoi[3] + (WINDOW_PAD_CELLS + 0.5) * dy)
    ci, ri = np.flatnonzero(c), np.flatnonzero(r)
    if ci.size == 0 or ri.size == 0:
        raise _no_cover(path, bounds_lonlat, _lonlat_bounds(file_crs, full))
    return (
        order_x[ci[0] : ci[-1] + 1],
        xs[ci[0] : ci[-1] + 1],
        order_y[ri[0] : ri[-1] + 1],
        ys[ri[0] : ri[-1] + 1],
    )


def _load_variable(
    da: Any, name: str, path: Path, ydim: str, xdim: str, order_y: np.ndarray, order_x: np.ndarray
) -> np.ndarray:
    """:func:`_load` of the variable; :class:`InputDataError` when the data of a truncated file cannot be decoded."""
    try:
        return _load(da, ydim, xdim, order_y, order_x)
    except Exception as exc:  # decoding errors of a truncated file surface here
        raise InputDataError(
            f"cannot read variable '{name}' of netCDF file {path}: {type(exc).__name__}: {exc}. The file is "
            "truncated or corrupt: fetch it again"
        ) from exc


def _positive_attribute(da: Any, warnings: list[str]) -> str | None:
    """The variable's ``positive`` attribute (``up`` or ``down``), None when absent or not understood (recorded)."""
    positive = str(da.attrs.get("positive", "")).strip().lower() or None
    if positive not in (None, "up", "down"):
        warnings.append(f"attribute positive='{positive}' not understood; ignored")
        positive = None
    return positive


def _pick_variable(ds: Any, variable: str | None, path: Path) -> str:
    names = [str(v) for v in ds.data_vars]
    if variable is not None:
        if variable not in ds.variables:
            raise InputDataError(
                f"netCDF file {path} has no variable '{variable}'; its variables are: {', '.join(names) or '(none)'}. "
                "Set `variable` on this source in the scenario to one of them"
            )
        return variable
    for guess in NETCDF_VARIABLE_GUESSES:
        if guess in ds.data_vars and ds[guess].ndim >= 2:
            return guess
    grids = [n for n in names if ds[n].ndim >= 2]
    if len(grids) == 1:
        return grids[0]
    raise InputDataError(
        f"cannot tell which variable of netCDF file {path} holds the heights: 2-D variables {grids or '(none)'}; "
        "set `variable` on this source in the scenario"
    )


def _coord_values(ds: Any, da: Any, dim: str, path: Path) -> np.ndarray:
    if dim not in ds.coords:
        raise InputDataError(
            f"dimension '{dim}' of netCDF file {path} has no coordinate variable, so the grid cannot be placed; "
            "add lon/lat (or x/y) coordinate variables (GMT: `gmt grdconvert`, GDAL: `gdal_translate -of netCDF`)"
        )
    values = np.asarray(ds[dim].values, dtype="float64")
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise InputDataError(f"coordinate '{dim}' of netCDF file {path} is not a 1-D finite axis; regrid it first")
    return values


def _regular_step(values: np.ndarray, dim: str, var: str, path: Path) -> float:
    """Size of the step of an evenly spaced, strictly monotonic axis (tolerance: 1 % of a step, so float32
    coordinates pass)."""
    step = (values[-1] - values[0]) / (values.size - 1)
    if step == 0 or np.max(np.abs(values - (values[0] + step * np.arange(values.size)))) > 0.01 * abs(step):
        raise InputDataError(
            f"axis '{dim}' of variable '{var}' in {path} is not evenly spaced; resample it to a regular grid first "
            "(`gdalwarp` or `gmt grdsample`)"
        )
    return float(abs(step))


def _is_lat(ds: Any, dim: str) -> bool:
    attrs = ds[dim].attrs
    return (
        dim.lower() in _LAT_NAMES
        or str(attrs.get("units", "")).lower().replace(" ", "") in _LAT_UNITS
        or str(attrs.get("standard_name", "")).lower() == "latitude"
    )


def _is_lon(ds: Any, dim: str) -> bool:
    attrs = ds[dim].attrs
    return (
        dim.lower() in _LON_NAMES
        or str(attrs.get("units", "")).lower().replace(" ", "") in _LON_UNITS
        or str(attrs.get("standard_name", "")).lower() == "longitude"
    )


def _netcdf_crs(
    ds: Any,
    da: Any,
    xdim: str,
    ydim: str,
    xs: np.ndarray,
    ys: np.ndarray,
    user_crs: CRS | None,
    path: Path,
    warnings: list[str],
) -> tuple[CRS, str]:
    """The CRS of a netCDF grid: its grid_mapping (CF), else the configured one, else EPSG:4326 for lon/lat axes."""
    file_crs = _grid_mapping_crs(ds, da, warnings)
    if file_crs is not None:
        _warn_crs_ignored(file_crs, user_crs, warnings)
        return file_crs, "file"
    if user_crs is not None:
        return user_crs, "argument"
    return _assumed_lonlat_crs(ds, xdim, ydim, xs, ys, path, warnings), "assumed"


def _grid_mapping_crs(ds: Any, da: Any, warnings: list[str]) -> CRS | None:
    """The CRS stated by the variable's grid_mapping, else by a ``spatial_ref`` or ``crs`` variable; None when no
    candidate states one that pyproj reads (a named but missing grid_mapping is recorded)."""
    gm_name = da.attrs.get("grid_mapping") or da.encoding.get("grid_mapping")
    candidates = [gm_name] if gm_name else []
    candidates += [n for n in ("spatial_ref", "crs") if n in ds.variables and n not in candidates]
    for cand in candidates:
        if cand not in ds.variables:
            warnings.append(f"grid_mapping '{cand}' named by the variable is missing from the file")
            continue
        file_crs = _grid_mapping_variable_crs(dict(ds[cand].attrs), cand, warnings)
        if file_crs is not None:
            return file_crs
    return None


def _grid_mapping_variable_crs(attrs: dict[str, Any], cand: str, warnings: list[str]) -> CRS | None:
    """The CRS of one grid-mapping variable's attributes: the first readable of its WKT/EPSG/PROJ attributes, else
    its CF parameters (a failure recorded); None when it states none."""
    for key in ("crs_wkt", "spatial_ref", "epsg_code", "proj4", "proj4text", "proj4_params"):
        if attrs.get(key):
            try:
                return CRS.from_user_input(attrs[key])
            except CRSError:
                continue
    if attrs.get("grid_mapping_name"):
        try:
            return CRS.from_cf(attrs)
        except CRSError as exc:
            warnings.append(f"grid_mapping '{cand}' could not be interpreted ({exc})")
    return None


def _assumed_lonlat_crs(
    ds: Any, xdim: str, ydim: str, xs: np.ndarray, ys: np.ndarray, path: Path, warnings: list[str]
) -> CRS:
    """EPSG:4326 (the assumption recorded) for a grid without CRS whose axes are named or unitless longitude/latitude
    and whose values fit degrees; :class:`InputDataError` asking for ``crs`` otherwise."""
    geographic_names = _is_lon(ds, xdim) and _is_lat(ds, ydim)
    in_degree_range = (
        xs.min() >= -180.0 - 1e-6 and xs.max() <= 360.0 + 1e-6 and ys.min() >= -90.0 - 1e-6 and ys.max() <= 90.0 + 1e-6
    )
    if geographic_names and in_degree_range:
        warnings.append("no grid_mapping: lon/lat axes taken as EPSG:4326 (WGS 84)")
        return CRS.from_epsg(4326)
    units = str(ds[xdim].attrs.get("units", "")).strip().lower()
    if units in {"", "degrees", "degree", "deg", "longitude"} and in_degree_range:
        warnings.append(
            f"no grid_mapping on '{xdim}'/'{ydim}' (units '{units}'): values fit degrees, EPSG:4326 assumed"
        )
        return CRS.from_epsg(4326)
    raise InputDataError(
        f"netCDF file {path} has no grid_mapping and its axes '{xdim}'/'{ydim}' are not longitude/latitude "
        f"(units '{units}'), so its CRS is unknown; set `crs` on this source in the scenario (e.g. EPSG:32639)"
    )


def _load(da: Any, ydim: str, xdim: str, order_y: np.ndarray, order_x: np.ndarray) -> np.ndarray:
    """Load the needed rows/columns in the wanted order, reading one contiguous slab from the file."""
    y0, y1 = int(order_y.min()), int(order_y.max()) + 1
    x0, x1 = int(order_x.min()), int(order_x.max()) + 1
    slab = np.asarray(da.isel({ydim: slice(y0, y1), xdim: slice(x0, x1)}).values, dtype="float32")
    return np.ascontiguousarray(slab[np.ix_(order_y - y0, order_x - x0)])


def _check_units(units: str, name: str, path: Path) -> None:
    u = units.lower()
    if not u or u in _METRE_UNITS or u.startswith(("m ", "metre", "meter")):
        return
    raise InputDataError(
        f"variable '{name}' of {path} is in '{units}', not metres; convert it to metres first "
        "(e.g. `gdal_calc.py --calc 'A*0.3048'` for feet)"
    )
