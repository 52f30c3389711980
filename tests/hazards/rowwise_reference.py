"""The row-by-row hazard code as it was before issue #10 (one Python step per row), kept verbatim as a reference.

Two users: the equality tests (``tests/hazards/test_vectorised_equals_rowwise.py``) compare the vectorised library
against it, problems, messages and tables alike; and ``benchmarks/hazards_scale.py`` measures it in the same run as
the library (:func:`rowwise` swaps it in). Not part of the library: nothing in ``geodata`` imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.errors import InputDataError
from geodata.hazards import raster, readers, schema
from geodata.hazards.raster import _MULTIPOINT, _POINT, _isnan, _Object
from geodata.hazards.readers import _ALIASES
from geodata.hazards.schema import (
    _MAX_LISTED,
    ALLOWED_GEOMETRIES,
    COLUMNS,
    HAZARD_KINDS,
    RULE_FIELDS,
    _check_table_shape,
    _crs_problems,
    _extract_dimension,
    _is_blank,
    _row_problems,
    _typed_table,
    kind_error,
    normalise_kind,
)
from geodata.scenario import HazardRule


@contextmanager
def rowwise() -> Iterator[None]:
    """Run the library with the row-by-row functions below in place of the vectorised ones (for the benchmark)."""
    swaps: list[tuple[Any, str, Any]] = [
        (schema, "repair_geometries", repair_geometries),
        (schema, "validate_hazards", validate_hazards),
        (readers, "repair_geometries", repair_geometries),
        (readers, "validate_hazards", validate_hazards),
        (readers, "_wkt_geometries", _wkt_geometries),
        (readers, "_lonlat_points", _lonlat_points),
        (readers, "_to_hazard_rows", _to_hazard_rows),
        (raster, "_hazard_objects", _hazard_objects),
        (raster, "CONVOLUTION_MAX_EXACT_WORK", sys.maxsize),  # the count was the only rule
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in swaps]
    try:
        for module, name, function in swaps:
            setattr(module, name, function)
        yield
    finally:
        for module, name, function in saved:
            setattr(module, name, function)


def repair_geometries(
    gdf: gpd.GeoDataFrame, *, labels: Sequence[str] | None = None
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]], list[dict[str, Any]]]:
    """Make geometries usable: drop Z, repair invalid ones, drop null, empty and unusable ones.

    Invalid geometries are repaired with ``shapely.make_valid(method="structure")`` and only the parts of the
    original dimension are kept (a self-intersecting polygon stays a polygon; a collapsed one is dropped).

    Parameters
    ----------
    gdf
        Any GeoDataFrame.
    labels
        How to name each row in the records (e.g. ``"row 3"``, a hazard_id); default ``"row i"`` (1-based).

    Returns
    -------
    tuple
        ``(kept, repaired, dropped)``: the usable rows (index kept), and one record per repaired and per dropped row
        with ``row``, ``reason`` and ``action``.
    """
    labels = list(labels) if labels is not None else [f"row {i + 1}" for i in range(len(gdf))]
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    keep = np.ones(len(geoms), dtype=bool)
    repaired: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    out = geoms.copy()
    for i, geom in enumerate(geoms):
        if geom is None:
            keep[i] = False
            dropped.append({"row": labels[i], "reason": "no geometry", "action": "dropped"})
            continue
        if shapely.has_z(geom):
            geom = shapely.force_2d(geom)
        if geom.is_empty:
            keep[i] = False
            dropped.append({"row": labels[i], "reason": "empty geometry", "action": "dropped"})
            continue
        gtype = geom.geom_type
        if gtype not in ALLOWED_GEOMETRIES:
            keep[i] = False
            dropped.append({"row": labels[i], "reason": f"unsupported geometry type {gtype}", "action": "dropped"})
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            fixed = _extract_dimension(shapely.make_valid(geom, method="structure", keep_collapsed=False), gtype)
            if fixed is None:
                keep[i] = False
                dropped.append(
                    {"row": labels[i], "reason": f"invalid ({reason}), nothing left after repair", "action": "dropped"}
                )
                continue
            repaired.append(
                {
                    "row": labels[i],
                    "reason": f"invalid ({reason})",
                    "action": f"repaired with make_valid, now a valid {fixed.geom_type}",
                }
            )
            geom = fixed
        out[i] = geom
    result = gdf.copy()
    result = result.set_geometry(gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs))
    return result.loc[keep], repaired, dropped


def validate_hazards(
    gdf: gpd.GeoDataFrame, origin: str, *, row_labels: Sequence[str] | None = None
) -> gpd.GeoDataFrame:
    """Check a hazard table against the schema; raise ONE error listing every problem with its fix.

    Parameters
    ----------
    gdf
        A table with the columns of :data:`COLUMNS` (extra columns are dropped from the result).
    origin
        What the table came from (a file path, a layer name): named in the error.
    row_labels
        How to name each row in the error (e.g. ``"row 3 (line 4)"`` of a CSV); default ``"row i"`` (1-based).

    Returns
    -------
    geopandas.GeoDataFrame
        The table with the columns of :data:`COLUMNS` in order, numeric columns as floats, a fresh RangeIndex.

    Raises
    ------
    InputDataError
        With one line per problem: the row, the column, what is wrong and how to fix it.
    """
    _check_table_shape(gdf, origin)
    problems = _crs_problems(gdf)
    labels = list(row_labels) if row_labels is not None else [f"row {i + 1}" for i in range(len(gdf))]
    if len(labels) != len(gdf):
        raise ValueError(f"row_labels has {len(labels)} entries for {len(gdf)} rows")
    seen: dict[str, str] = {}
    out: dict[str, list[Any]] = {c: [] for c in COLUMNS if c != "geometry"}
    records = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    for i, (rec, geom) in enumerate(zip(records, gdf.geometry.values, strict=True)):
        row_problems, nums = _row_problems(rec, geom, labels[i], seen)
        problems.extend(row_problems)
        for col in out:
            out[col].append(nums[col] if col in nums else (None if _is_blank(rec[col]) else rec[col]))
    if problems:
        listed = problems[:_MAX_LISTED]
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise InputDataError(
            f"hazard table {origin} has {len(problems)} problem(s):\n  - " + "\n  - ".join(listed) + more
        )
    return _typed_table(out, gdf)


def _wkt_geometries(texts: pd.Series, wkt_col: str, labels: list[str]) -> tuple[list[Any], list[str]]:
    """``(geometries, problems)`` of a WKT column: None for an empty cell, None and a problem for text that is not
    WKT."""
    problems: list[str] = []
    geoms: list[Any] = []
    for label, text in zip(labels, texts, strict=True):
        if text is None:
            geoms.append(None)
            continue
        try:
            geoms.append(shapely.from_wkt(text))
        except shapely.errors.GEOSException:
            problems.append(
                f"{label}: column '{wkt_col}' is not WKT ('{str(text)[:40]}'); write e.g. "
                "'LINESTRING (50.1 41.2, 50.3 41.4)'"
            )
            geoms.append(None)
    return geoms, problems


def _lonlat_points(table: pd.DataFrame, lon_col: str, lat_col: str, labels: list[str]) -> tuple[list[Any], list[str]]:
    """``(points, problems)`` of lon/lat columns: None and a problem for a row whose values are not numbers or not
    WGS84 degrees."""
    problems: list[str] = []
    geoms: list[Any] = []
    lon = pd.to_numeric(table[lon_col], errors="coerce")
    lat = pd.to_numeric(table[lat_col], errors="coerce")
    for i, label in enumerate(labels):
        x, y = lon.iloc[i], lat.iloc[i]
        if pd.isna(x) or pd.isna(y):
            problems.append(
                f"{label}: '{lon_col}'/'{lat_col}' = '{table[lon_col].iloc[i]}'/"
                f"'{table[lat_col].iloc[i]}' are not numbers; write decimal degrees, e.g. 50.25"
            )
            geoms.append(None)
        elif not (-180 <= x <= 180 and -90 <= y <= 90):
            problems.append(
                f"{label}: ({x}, {y}) is not a lon/lat position in degrees; the CSV must hold WGS84 "
                "degrees (convert projected x/y, or give a GeoPackage with its CRS)"
            )
            geoms.append(None)
        else:
            geoms.append(shapely.Point(float(x), float(y)))
    return geoms, problems


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
    problems: list[str] = []
    geoms = list(frame.geometry.values)
    for label, geom in zip(labels, geoms, strict=True):
        if geom is None or geom.is_empty:
            problems.append(f"{label}: no geometry; give it a position or delete the row")
    repaired_frame, repaired, dropped = repair_geometries(frame, labels=labels)
    problems.extend(
        f"{d['row']}: {d['reason']}; fix the geometry or delete the row"
        for d in dropped
        if d["reason"] not in ("no geometry", "empty geometry")
    )
    report["repaired"].extend(repaired)
    fixed = {i: g for i, g in zip(repaired_frame.index, repaired_frame.geometry.values, strict=True)}
    rows: dict[str, list[Any]] = {
        c: []
        for c in ("hazard_id", "kind", "name", "source", "licence", "attribution", "magnitude", *RULE_FIELDS, "remarks")
    }
    out_geoms: list[Any] = []
    for i, label in enumerate(labels):
        rec = frame.iloc[i]
        raw_kind = rec[found["kind"]] if found["kind"] is not None else None
        row_kind = normalise_kind(raw_kind) or normalise_kind(kind)
        if row_kind is None:
            problems.append(
                f"{label}: column '{found['kind']}' is empty; write one of {', '.join(HAZARD_KINDS)} or "
                "set `kind:` in the scenario's hazards.inputs entry"
            )
        elif row_kind not in HAZARD_KINDS:
            problems.append(f"{label}: column '{found['kind']}': {kind_error(raw_kind)}")
        rule = rules.get(row_kind) if row_kind else None
        for field in RULE_FIELDS:
            value = rec[found[field]] if found[field] is not None else None
            rows[field].append(value if not _is_blank(value) else (getattr(rule, field) if rule else None))
        hid = rec[found["hazard_id"]] if found["hazard_id"] is not None else None
        rows["hazard_id"].append(str(hid) if not _is_blank(hid) else f"{stem_layer}:{rec['_fid']}")
        rows["kind"].append(row_kind if row_kind in HAZARD_KINDS else raw_kind)
        for key in ("name", "remarks"):
            value = rec[found[key]] if found[key] is not None else None
            rows[key].append(None if _is_blank(value) else str(value))
        for key in ("source", "licence", "attribution"):
            value = rec[found[key]] if found[key] is not None else None
            rows[key].append(defaults[key] if _is_blank(value) else str(value))
        mag = rec[found["magnitude"]] if found["magnitude"] is not None and row_kind == "earthquake" else None
        rows["magnitude"].append(None if _is_blank(mag) else mag)
        out_geoms.append(fixed.get(frame.index[i], geoms[i]))
    if problems:
        raise InputDataError(
            f"hazard inventory {origin} has {len(problems)} problem(s):\n  - " + "\n  - ".join(problems)
        )
    table = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(out_geoms), crs="EPSG:4326")
    return validate_hazards(table, origin, row_labels=labels)


def _objects(work: gpd.GeoDataFrame, weights: np.ndarray) -> list[_Object]:
    """Rows -> hazard objects; lines/polygons of one (kind, source, name, rule) grouped.

    Columns are read once as plain lists (no per-row pandas access), so a table of a million points stays cheap.
    """
    geometry = np.asarray(work.geometry.array, dtype=object) if len(work) else np.array([], dtype=object)
    type_id = shapely.get_type_id(geometry)
    empty = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    columns = zip(
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
    for geom, tid, is_empty, kind, angle, buffer, decay, name, source, weight in columns:
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
        )
        if not points and name is not None and not _isnan(name):
            key = (obj.kind, source, name, obj.weight, obj.decay_m, obj.band_m, obj.hard_m)
            if key in grouped:
                objects[grouped[key]].geoms.append(geom)
                continue
            grouped[key] = len(objects)
        objects.append(obj)
    return objects


def _hazard_objects(work: gpd.GeoDataFrame, weights: np.ndarray) -> tuple[int, dict[raster.HazardClass, Any]]:
    """What rasterize_hazards did before: an object per row (:func:`_objects`), then :func:`raster.hazard_classes`."""
    objects = _objects(work, weights)
    return len(objects), dict(raster.hazard_classes(objects))
