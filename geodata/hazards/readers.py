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
        raise InputDataError(f"hazard inventory {path}: kind={kind!r}: {kind_error(kind)}")
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
        raise InputDataError(f"hazard inventory {path} has no layer '{layer}'.{hint} Layers: {', '.join(layers)}")
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
