"""Readers of hazard inventories: user files (GeoPackage, GeoJSON, Shapefile, CSV with lon/lat) and the curated file.

A user file is read, its lines densified in their own CRS (so they keep their course once reprojected), reprojected to
EPSG:4326, its geometries repaired, every row checked, and only then either returned as a hazard table or refused with
ONE error that names the file, every bad row and the fix. What was repaired or reprojected is recorded in
``gdf.attrs["hazard_report"]`` and emitted as a ``UserWarning``.

Recognised columns (case-insensitive; only ``kind`` is needed, and not even that when ``kind=`` is given):

========================  ==============================================================================
``kind``                  one of :data:`HAZARD_KINDS` (``'Shipping lane'`` is read as ``shipping_lane``)
``name``                  free text (also ``title``)
``hazard_id``             stable id (also ``id``); default ``<file stem>:<layer>:<fid or row>``
``source``, ``licence``   provenance (also ``license``); default the file path and ``not stated``
``attribution``           credit line
``magnitude``             earthquakes only (also ``mw``, ``mag``)
``remarks``               free text (also ``notes``, ``description``)
rule columns              ``exclusion_buffer_m``, ``soft_cost``, ``decay_m``, ``crossing_min_angle_deg``: a value in
                          a row overrides the kind's rule for that row only (the most specific setting wins)
lon / lat (CSV)           ``lon``, ``lng``, ``long``, ``longitude``, ``x`` / ``lat``, ``latitude``, ``y``, WGS84
                          degrees; or a ``wkt`` (``geometry``) column for lines and polygons
========================  ==============================================================================
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyproj.exceptions
import shapely
import yaml
from pyproj import CRS

from geodata.errors import InputDataError
from geodata.geodesy import densify_frame
from geodata.hazards.schema import (
    HAZARD_KINDS,
    KIND_FIX_ARGUMENT,
    RULE_FIELDS,
    _is_blank,
    effective_rules,
    empty_hazards,
    kind_error,
    normalise_kind,
    repair_geometries,
    validate_hazards,
)
from geodata.scenario import HazardRule

LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry", "geom")
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".zip")
CSV_SUFFIXES = (".csv", ".txt")
_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("kind", "hazard_kind"),
    "name": ("name", "title"),
    "hazard_id": ("hazard_id", "id"),
    "source": ("source",),
    "licence": ("licence", "license"),
    "attribution": ("attribution",),
    "magnitude": ("magnitude", "mw", "mag"),
    "remarks": ("remarks", "notes", "description"),
    **{f: (f,) for f in RULE_FIELDS},
}
CURATED_FILE = "data/curated_hazards.yaml"

#: ``(west, south, east, north)`` in degrees: the Caspian Sea and its shores with a margin, where the hazards of any
#: scenario of this project lie. A file none of whose features falls in it is checked for the two mistakes that put
#: features elsewhere without any error: degrees stored under a metric CRS, and lon/lat columns swapped.
CASPIAN_REGION_LONLAT = (44.0, 35.0, 57.0, 48.5)


def load_user_inventory(
    path: str | Path,
    *,
    layer: str | None = None,
    kind: str | None = None,
    rules: Mapping[str, HazardRule] | None = None,
    source: str | None = None,
    licence: str | None = None,
    attribution: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a user hazard inventory (see :func:`read_user_inventory`); repairs and reprojection are recorded in
    ``attrs["hazard_report"]`` and emitted as one ``UserWarning`` (the pipeline uses :func:`read_user_inventory`,
    which returns the report for its checks instead)."""
    table, report = read_user_inventory(
        path, layer=layer, kind=kind, rules=rules, source=source, licence=licence, attribution=attribution
    )
    table.attrs["hazard_report"] = report
    notes = report["warnings"] + [f"{r['row']}: {r['reason']} -> {r['action']}" for r in report["repaired"]]
    if notes:
        warnings.warn(f"hazard inventory {report['origin']}: " + "; ".join(notes), UserWarning, stacklevel=2)
    return table


def read_user_inventory(
    path: str | Path,
    *,
    layer: str | None = None,
    kind: str | None = None,
    rules: Mapping[str, HazardRule] | None = None,
    source: str | None = None,
    licence: str | None = None,
    attribution: str | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Read a user hazard inventory into the hazard table, or refuse it with every problem and its fix; returns
    ``(table, report)``: the report (reprojection, ``repaired`` rows with reason and action, ``warnings``, ``origin``)
    goes to the pipeline's checks instead of standard error.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, Shapefile (or anything else GDAL reads) or a CSV with lon/lat (or WKT) columns.
        Leading CSV lines starting with ``#`` are comments.
    layer
        Layer of a multi-layer file (GeoPackage); needed when the file has more than one.
    kind
        Kind of every row whose ``kind`` column is empty, or of every row when the file has no such column.
    rules
        Rule of each kind (:func:`effective_rules`); default the packaged defaults.
    source, licence, attribution
        Provenance of rows whose own columns are empty; default the file path, ``'not stated'`` and ``''``.

    Returns
    -------
    tuple
        ``(table, report)``: the hazard table (EPSG:4326) and what was reprojected and repaired.

    Raises
    ------
    InputDataError
        The file is missing, unreadable or corrupt, has several layers and none chosen, has no CRS, is empty, lacks
        lon/lat columns, or has rows with an unknown kind, no geometry or bad values (all rows listed at once).
    """
    path = Path(path)
    rules = dict(rules) if rules is not None else effective_rules()
    if kind is not None and normalise_kind(kind) not in HAZARD_KINDS:
        raise InputDataError(f"hazard inventory {path}: kind={kind!r}: {kind_error(kind, KIND_FIX_ARGUMENT)}")
    if not path.exists():
        raise InputDataError(
            f"hazard inventory {path} does not exist; check `hazards.inputs[].path` in the scenario "
            "(relative paths are relative to the working directory)"
        )
    report: dict[str, Any] = {
        "file": str(path),
        "layer": layer,
        "reprojected_from": None,
        "repaired": [],
        "warnings": [],
    }
    if path.suffix.lower() in CSV_SUFFIXES:
        frame, labels = _read_csv(path)
        frame = densify_frame(frame)  # WKT lines are straight in EPSG:4326: densified before the analysis CRS
        origin = str(path)
    else:
        frame, labels, layer = _read_vector(path, layer, report)
        origin = f"{path} (layer '{layer}')" if layer else str(path)
    stem_layer = f"{path.stem}:{layer}" if layer and layer != path.stem else path.stem
    table = _to_hazard_rows(
        frame,
        labels,
        origin,
        stem_layer,
        kind=kind,
        rules=rules,
        defaults={"source": source or str(path), "licence": licence or "not stated", "attribution": attribution or ""},
        report=report,
    )
    report["origin"] = origin
    return table, report


# -- readers ----------------------------------------------------------------------------------------------------------


def _read_vector(
    path: Path, layer: str | None, report: dict[str, Any]
) -> tuple[gpd.GeoDataFrame, list[str], str | None]:
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise InputDataError(
            f"hazard inventory {path} cannot be read ({_first_line(exc)}); the file is corrupt, truncated or not in a "
            f"vector format GDAL reads: re-export it as GeoPackage (.gpkg), GeoJSON or Shapefile, or give a CSV with "
            "lon/lat columns"
        ) from None
    if not layers:
        raise InputDataError(f"hazard inventory {path} holds no layer; export the hazards into it")
    if layer is None:
        if len(layers) > 1:
            raise InputDataError(
                f"hazard inventory {path} has {len(layers)} layers ({', '.join(layers)}); choose one "
                "with `layer:` in the scenario's hazards.inputs entry"
            )
        layer = layers[0]
    elif layer not in layers:
        close = difflib.get_close_matches(layer, layers, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise InputDataError(
            f"hazard inventory {path} has no layer '{layer}'.{hint} Layers: {', '.join(layers)}; set `layer:` in "
            "the scenario's hazards.inputs entry to one of them"
        )
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FeatureError,
        pyogrio.errors.GeometryError,
        OSError,
    ) as exc:
        raise InputDataError(
            f"hazard inventory {path} (layer '{layer}') cannot be read ({_first_line(exc)}); "
            "re-export it from the original data"
        ) from None
    where = f"hazard inventory {path} (layer '{layer}')"
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        raise InputDataError(
            f"{where} has no geometry column; give it point, line or polygon geometries, or use a "
            "CSV with lon/lat columns"
        )
    if len(frame) == 0:
        raise InputDataError(
            f"{where} is empty (0 features); export the hazards into it or remove it from the scenario's hazards.inputs"
        )
    if frame.crs is None:
        raise InputDataError(
            f"{where} has no CRS, so its coordinates cannot be placed; assign the CRS it was drawn in, e.g. "
            f"`ogr2ogr -a_srs EPSG:4326 fixed{path.suffix} {path.name}` (for a Shapefile, restore its .prj file)"
        )
    frame = densify_frame(frame)  # straight lines of the source CRS keep their course once reprojected
    crs = CRS.from_user_input(frame.crs)
    if not crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        _check_degrees_under_metric_crs(frame, crs, where, path)
        report["reprojected_from"] = crs.to_string()
        report["warnings"].append(f"reprojected from {crs.to_string()} to EPSG:4326")
        try:
            frame = frame.to_crs("EPSG:4326")
        except (pyproj.exceptions.ProjError, ValueError) as exc:  # pyproj: no transformation; geopandas: bad target
            raise InputDataError(
                f"{where} cannot be reprojected from {crs.to_string()} to EPSG:4326 ({_first_line(exc)}); check its CRS"
            ) from None
    fids = list(frame.index)
    has_fid = path.suffix.lower() in (".gpkg", ".shp", ".fgb")
    labels = [f"feature {i + 1} (fid {fid})" if has_fid else f"feature {i + 1}" for i, fid in enumerate(fids)]
    frame = frame.reset_index(drop=True)
    frame["_fid"] = fids if has_fid else list(range(1, len(frame) + 1))
    return frame, labels, layer


def _in_region(x: Any, y: Any) -> Any:
    """Whether lon/lat values (scalars or arrays) lie in :data:`CASPIAN_REGION_LONLAT`."""
    west, south, east, north = CASPIAN_REGION_LONLAT
    return (x >= west) & (x <= east) & (y >= south) & (y <= north)


def _check_degrees_under_metric_crs(frame: gpd.GeoDataFrame, crs: CRS, where: str, path: Path) -> None:
    """:class:`InputDataError` when a file with a projected CRS holds only coordinates that read as degrees and,
    reprojected, none of its features lands in :data:`CASPIAN_REGION_LONLAT`: the coordinates are lon/lat degrees
    under a wrong CRS (they would come out metres from the CRS's origin, near 0 E, 0 N for UTM), so the CRS must be
    assigned, not the data reprojected."""
    if not crs.is_projected:
        return
    x0, y0, x1, y1 = (float(v) for v in frame.geometry.total_bounds)
    if not (-180.0 <= x0 <= x1 <= 180.0 and -90.0 <= y0 <= y1 <= 90.0):
        return
    sample = frame.geometry.dropna()
    try:
        pts = sample.representative_point().to_crs("EPSG:4326")
    except (pyproj.exceptions.ProjError, ValueError):
        return  # the reprojection below reports it
    if bool(_in_region(pts.x.to_numpy(), pts.y.to_numpy()).any()):
        return
    lon, lat = pts.x.mean(), pts.y.mean()
    raise InputDataError(
        f"{where} declares CRS {crs.to_string()} (metres) but every coordinate lies within "
        f"x {x0:g}..{x1:g}, y {y0:g}..{y1:g}, which are lon/lat degrees: reprojected, the features land near "
        f"{lon:.3f} E, {lat:.3f} N, far from the Caspian. Assign the CRS the coordinates are in instead of "
        f"reprojecting, e.g. `ogr2ogr -a_srs EPSG:4326 fixed{path.suffix} {path.name}`"
    )


def _check_swapped_lonlat(points: list[Any], labels: list[str], lon_col: str, lat_col: str, path: Path) -> None:
    """:class:`InputDataError` naming the rows when no point of the CSV lies in :data:`CASPIAN_REGION_LONLAT` as
    written but some do with lon and lat exchanged: the columns are swapped (they would be silently dropped later
    as outside the area). A file with any point in the region is taken as written."""
    have = [(label, p) for label, p in zip(labels, points, strict=True) if p is not None]
    if not have or any(_in_region(p.x, p.y) for _, p in have):
        return
    swapped = [label for label, p in have if _in_region(p.y, p.x)]
    if not swapped:
        return
    west, south, east, north = CASPIAN_REGION_LONLAT
    shown = ", ".join(swapped[:10]) + (f" and {len(swapped) - 10} more" if len(swapped) > 10 else "")
    p = next(p for label, p in have if label == swapped[0])
    raise InputDataError(
        f"hazard inventory {path}: no row lies in the Caspian region (lon {west:g}..{east:g} E, lat "
        f"{south:g}..{north:g} N) as written, but {shown} do with '{lon_col}' and '{lat_col}' exchanged (e.g. "
        f"{lon_col}={p.x:g}, {lat_col}={p.y:g} reads as {p.y:g} E, {p.x:g} N): the columns look swapped; swap "
        f"them so that '{lon_col}' holds the east-west degrees and '{lat_col}' the north-south degrees"
    )


def _read_csv(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a CSV inventory with lon/lat (or WKT) columns into a frame in EPSG:4326 and a label per row; every bad
    position is reported in one :class:`InputDataError`."""
    skip = _csv_comment_lines(path)
    table = _csv_table(path, skip)
    header_line = skip + 1
    labels = [f"row {i + 1} (line {header_line + 1 + int(pos)})" for i, pos in enumerate(table.index)]
    table = table.reset_index(drop=True)
    cols = {c.strip().lower(): c for c in table.columns}
    wkt_col = next((cols[n] for n in WKT_NAMES if n in cols), None)
    lon_col = next((cols[n] for n in LON_NAMES if n in cols), None)
    lat_col = next((cols[n] for n in LAT_NAMES if n in cols), None)
    if wkt_col is not None:
        geoms, problems = _wkt_geometries(table[wkt_col], wkt_col, labels)
    elif lon_col is None or lat_col is None:
        raise InputDataError(
            f"hazard inventory {path} has no {'longitude' if lon_col is None else 'latitude'} column (found columns: "
            f"{', '.join(table.columns)}); name them lon and lat (also accepted: {', '.join(LON_NAMES)} / "
            f"{', '.join(LAT_NAMES)}) holding WGS84 degrees, or give a 'wkt' column"
        )
    else:
        geoms, problems = _lonlat_points(table, lon_col, lat_col, labels)
        if not problems:
            _check_swapped_lonlat(geoms, labels, lon_col, lat_col, path)
    if problems:
        raise InputDataError(f"hazard inventory {path} has {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    drop = [c for c in (wkt_col, lon_col, lat_col) if c is not None]
    frame = gpd.GeoDataFrame(table.drop(columns=drop), geometry=gpd.GeoSeries(geoms), crs="EPSG:4326")
    frame["_fid"] = np.arange(1, len(frame) + 1)
    return frame, labels


def _csv_comment_lines(path: Path) -> int:
    """How many leading lines of the CSV are comments (``#``) or blank; :class:`InputDataError` when the file cannot
    be read as UTF-8 text."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            lines = fh.readlines()
    except (UnicodeDecodeError, OSError) as exc:
        raise InputDataError(
            f"hazard inventory {path} is not a UTF-8 text CSV ({_first_line(exc)}); save it as CSV UTF-8"
        ) from None
    skip = 0
    while skip < len(lines) and (lines[skip].lstrip().startswith("#") or not lines[skip].strip()):
        skip += 1
    return skip


def _csv_table(path: Path, skip: int) -> pd.DataFrame:
    """The CSV after its ``skip`` comment lines, as text cells with empty cells as None and empty rows dropped (the
    index keeps each row's position after the header); :class:`InputDataError` when it cannot be parsed or holds no
    data row."""
    try:
        table = pd.read_csv(
            path, skiprows=skip, encoding="utf-8-sig", dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputDataError(
            f"hazard inventory {path} is not a readable CSV ({_first_line(exc)}); check the "
            "delimiter is a comma and every row has as many fields as the header"
        ) from None
    table = table.replace({"": None})
    table = table.dropna(how="all")
    if table.empty:
        raise InputDataError(f"hazard inventory {path} has a header but no data rows; add the hazards, one a row")
    return table


def _wkt_geometries(texts: pd.Series, wkt_col: str, labels: list[str]) -> tuple[list[Any], list[str]]:
    """``(geometries, problems)`` of a WKT column: None for an empty cell, None and a problem for text that is not
    WKT (parsed in one vectorised call; only the failures are described one by one)."""
    values = np.array([None if pd.isna(v) else v for v in texts.tolist()], dtype=object)
    given = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    geoms = np.full(len(values), None, dtype=object)
    geoms[given] = shapely.from_wkt(values[given], on_invalid="ignore")
    problems = [
        f"{labels[i]}: column '{wkt_col}' is not WKT ('{str(values[i])[:40]}'); write e.g. "
        "'LINESTRING (50.1 41.2, 50.3 41.4)'"
        for i in np.flatnonzero(given & shapely.is_missing(geoms))
    ]
    return list(geoms), problems


def _lonlat_points(table: pd.DataFrame, lon_col: str, lat_col: str, labels: list[str]) -> tuple[list[Any], list[str]]:
    """``(points, problems)`` of lon/lat columns: None and a problem for a row whose values are not numbers or not
    WGS84 degrees (points made in one vectorised call; only the bad rows are described one by one)."""
    lon = pd.to_numeric(table[lon_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lat = pd.to_numeric(table[lat_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    not_numbers = np.isnan(lon) | np.isnan(lat)
    with np.errstate(invalid="ignore"):
        out_of_range = ~not_numbers & ~((-180 <= lon) & (lon <= 180) & (-90 <= lat) & (lat <= 90))
    good = ~(not_numbers | out_of_range)
    geoms = np.full(len(lon), None, dtype=object)
    geoms[good] = shapely.points(lon[good], lat[good])
    problems: list[str] = []
    for i in np.flatnonzero(~good):
        if not_numbers[i]:
            problems.append(
                f"{labels[i]}: '{lon_col}'/'{lat_col}' = '{table[lon_col].iloc[i]}'/"
                f"'{table[lat_col].iloc[i]}' are not numbers; write decimal degrees, e.g. 50.25"
            )
        else:
            problems.append(
                f"{labels[i]}: ({lon[i]}, {lat[i]}) is not a lon/lat position in degrees; the CSV must hold WGS84 "
                "degrees (convert projected x/y, or give a GeoPackage with its CRS)"
            )
    return list(geoms), problems


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- rows of the schema ---------------------------------------------------------------------------------------------


def _to_hazard_rows(
    frame: gpd.GeoDataFrame,
    labels: list[str],
    origin: str,
    stem_layer: str,
    *,
    kind: str | None,
    rules: Mapping[str, HazardRule],
    defaults: dict[str, str],
    report: dict[str, Any],
) -> gpd.GeoDataFrame:
    cols = {str(c).strip().lower(): c for c in frame.columns if c != frame.geometry.name}
    found = {key: next((cols[a] for a in aliases if a in cols), None) for key, aliases in _ALIASES.items()}
    if found["kind"] is None and kind is None:
        raise InputDataError(
            f"hazard inventory {origin} has no 'kind' column (found columns: {', '.join(map(str, cols.values()))}); "
            f"add one with a kind per row ({', '.join(HAZARD_KINDS)}) or set `kind:` in the scenario's hazards.inputs "
            "entry to give every row the same kind"
        )
    n = len(labels)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    no_geometry = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    problems = [f"{labels[i]}: no geometry; give it a position or delete the row" for i in np.flatnonzero(no_geometry)]
    repaired_frame, repaired, dropped = repair_geometries(frame, labels=labels)
    problems.extend(
        f"{d['row']}: {d['reason']}; fix the geometry or delete the row"
        for d in dropped
        if d["reason"] not in ("no geometry", "empty geometry")
    )
    report["repaired"].extend(repaired)
    out_geoms = geoms.copy()
    out_geoms[frame.index.get_indexer(repaired_frame.index)] = np.asarray(repaired_frame.geometry.values, dtype=object)

    def cells(key: str) -> list[Any] | None:
        return _row_cells(frame[found[key]]) if found[key] is not None else None

    raw_kinds = cells("kind") or [None] * n
    default_kind = normalise_kind(kind)
    row_kinds = [k or default_kind for k in _normalised_kinds(raw_kinds)]
    valid = frozenset(HAZARD_KINDS)
    for i in (i for i, k in enumerate(row_kinds) if k not in valid):
        if row_kinds[i] is None:
            problems.append(
                f"{labels[i]}: column '{found['kind']}' is empty; write one of {', '.join(HAZARD_KINDS)} or "
                "set `kind:` in the scenario's hazards.inputs entry"
            )
        else:
            problems.append(f"{labels[i]}: column '{found['kind']}': {kind_error(raw_kinds[i])}")
    if problems:
        raise InputDataError(
            f"hazard inventory {origin} has {len(problems)} problem(s):\n  - " + "\n  - ".join(problems)
        )
    rows: dict[str, list[Any]] = {}
    for field in RULE_FIELDS:
        default = {k: getattr(rules[k], field) if k is not None and k in rules else None for k in set(row_kinds)}
        values = cells(field)
        rows[field] = (
            [default[k] for k in row_kinds]
            if values is None
            else [default[k] if _is_blank(v) else v for v, k in zip(values, row_kinds, strict=True)]
        )
    fids = _row_cells(frame["_fid"])
    hids = cells("hazard_id")
    rows["hazard_id"] = (
        [f"{stem_layer}:{fid}" for fid in fids]
        if hids is None
        else [f"{stem_layer}:{fid}" if _is_blank(h) else str(h) for h, fid in zip(hids, fids, strict=True)]
    )
    rows["kind"] = row_kinds
    for key in ("name", "remarks"):
        values = cells(key)
        rows[key] = [None] * n if values is None else [None if _is_blank(v) else str(v) for v in values]
    for key in ("source", "licence", "attribution"):
        values = cells(key)
        rows[key] = (
            [defaults[key]] * n if values is None else [defaults[key] if _is_blank(v) else str(v) for v in values]
        )
    mags = cells("magnitude")
    rows["magnitude"] = (
        [None] * n
        if mags is None
        else [None if k != "earthquake" or _is_blank(m) else m for m, k in zip(mags, row_kinds, strict=True)]
    )
    columns = ("hazard_id", "kind", "name", "source", "licence", "attribution", "magnitude", *RULE_FIELDS, "remarks")
    table = gpd.GeoDataFrame({c: rows[c] for c in columns}, geometry=gpd.GeoSeries(out_geoms), crs="EPSG:4326")
    return validate_hazards(table, origin, row_labels=labels)


def _row_cells(column: pd.Series) -> list[Any]:
    """The column's values as ``frame.iloc[i][column]`` gives them row by row (numpy scalars from numpy columns,
    Timestamps from datetime columns), without a per-row pandas access."""
    values = column.array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return list(values.to_numpy())
    return list(values.tolist())


def _normalised_kinds(values: list[Any]) -> list[str | None]:
    """:func:`normalise_kind` of every value, computed once per distinct value (and type: ``1`` and ``1.0`` differ)."""
    done: dict[tuple[type, Any], str | None] = {}
    out: list[str | None] = []
    for value in values:
        try:
            key = (type(value), value)
            if key not in done:
                done[key] = normalise_kind(value)
            out.append(done[key])
        except TypeError:  # unhashable
            out.append(normalise_kind(value))
    return out


# -- curated inventory ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _curated_document() -> dict[str, Any]:
    text = resources.files("geodata").joinpath(CURATED_FILE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    return dict(doc)


_CURATED_REQUIRED = ("id", "kind", "name", "lon", "lat", "source_url", "citation", "licence", "verified")


def load_curated_hazards(
    *, rules: Mapping[str, HazardRule] | None = None, document: Mapping[str, Any] | None = None
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The packaged curated inventory (``geodata/data/curated_hazards.yaml``) as a hazard table, and a report.

    Every record must cite the public source of its position (``source_url``, ``citation``) and say how it was
    verified. The file ships EMPTY at present, because no platform or mud-volcano position near the route could be
    verified (see the file's header); the report then carries a warning saying so.

    Parameters
    ----------
    rules
        Rule of each kind (:func:`effective_rules`); default the packaged defaults.
    document
        A parsed curated document to use instead of the packaged one (for tests and user-maintained copies).

    Returns
    -------
    tuple
        ``(table, report)``; ``report`` has ``count``, ``by_kind``, ``warnings`` and ``notes`` (the file's note).

    Raises
    ------
    InputDataError
        A record lacks a required field or a citation, or has a bad kind or position.
    """
    rules = dict(rules) if rules is not None else effective_rules()
    doc = dict(document) if document is not None else _curated_document()
    records = doc.get("records") or []
    origin = "geodata/data/curated_hazards.yaml" if document is None else "curated hazard document"
    report: dict[str, Any] = {
        "count": len(records),
        "by_kind": {},
        "warnings": [],
        "notes": " ".join(str(doc.get("notes", "")).split()),
    }
    if not records:
        report["warnings"].append(
            "the curated inventory is empty: no offshore platform or mud-volcano position near the route could be "
            "verified against a public source, so none is modelled; add them as a user inventory (hazards.inputs)"
        )
        return empty_hazards(), report
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        where = f"record {i + 1} ({rec.get('id', 'no id')})" if isinstance(rec, Mapping) else f"record {i + 1}"
        if not isinstance(rec, Mapping):
            problems.append(f"{where}: is not a mapping of fields")
            continue
        missing = [f for f in _CURATED_REQUIRED if _is_blank(rec.get(f))]
        if missing:
            problems.append(
                f"{where}: lacks {', '.join(missing)}; every curated record must cite where its position "
                "comes from and how it was verified"
            )
            continue
        kind = normalise_kind(rec["kind"])
        rule = rules.get(kind or "")
        if rule is None:
            problems.append(f"{where}: {kind_error(rec['kind'])}")
            continue
        try:
            point = shapely.Point(float(rec["lon"]), float(rec["lat"]))
        except (TypeError, ValueError):
            problems.append(f"{where}: lon/lat must be decimal degrees")
            continue
        rows.append(
            {
                "hazard_id": f"curated:{rec['id']}",
                "kind": kind,
                "name": str(rec["name"]),
                "source": f"curated: {rec['source_url']}",
                "licence": str(rec["licence"]),
                "attribution": str(rec["citation"]),
                "magnitude": rec.get("magnitude"),
                **{f: rec.get(f, getattr(rule, f)) for f in RULE_FIELDS},
                "remarks": f"verified: {rec['verified']}" + (f"; {rec['remarks']}" if rec.get("remarks") else ""),
                "geometry": point,
            }
        )
    if problems:
        raise InputDataError(f"{origin} has {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    table = validate_hazards(gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326"), origin)
    report["by_kind"] = {str(k): int(v) for k, v in table["kind"].value_counts().items()}
    return table, report
