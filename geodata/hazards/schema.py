"""The one hazard table: its columns, the default rule of each kind, validation and geometry repair.

Every hazard, whatever its origin (mirror layer, curated file, user inventory), becomes one row of a GeoDataFrame in
EPSG:4326 with the columns of :data:`COLUMNS`. The constraint columns (``exclusion_buffer_m``, ``soft_cost``,
``decay_m``, ``crossing_min_angle_deg``) are filled from :func:`effective_rules` when a row is built, so a table
carries the rules it was built with and can be published and audited as it is.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from pandas.core.dtypes.cast import maybe_box_native  # type: ignore[attr-defined]
from pyproj import CRS

from geodata.errors import ConfigError, InputDataError
from geodata.scenario import HazardKind, HazardRule, Hazards

#: Every hazard kind, in the order of :data:`geodata.scenario.HazardKind`.
HAZARD_KINDS: tuple[str, ...] = tuple(get_args(HazardKind))

#: Columns of the hazard table, in order (``geometry`` last).
COLUMNS: tuple[str, ...] = (
    "hazard_id",
    "kind",
    "name",
    "source",
    "licence",
    "attribution",
    "magnitude",
    "exclusion_buffer_m",
    "soft_cost",
    "decay_m",
    "crossing_min_angle_deg",
    "remarks",
    "geometry",
)

RULE_FIELDS: tuple[str, ...] = ("exclusion_buffer_m", "soft_cost", "decay_m", "crossing_min_angle_deg")
ALLOWED_GEOMETRIES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"})
_DIMENSION = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}
_MAX_LISTED = 40
_ALLOWED_TYPE_IDS = np.array([0, 1, 3, 4, 5, 6])  # shapely.get_type_id of ALLOWED_GEOMETRIES


# -- default rules ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _defaults_document() -> dict[str, Any]:
    text = resources.files("geodata").joinpath("data/hazard_defaults.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    missing = [k for k in HAZARD_KINDS if k not in doc.get("rules", {})]
    if missing:  # a packaging error, not a user error: say where to add the kinds
        raise ConfigError(f"geodata/data/hazard_defaults.yaml has no rule for kind(s) {', '.join(missing)}; add them")
    return dict(doc)


def default_rules() -> dict[str, HazardRule]:
    """The packaged rule of every kind (``geodata/data/hazard_defaults.yaml``), without the justifications.

    Returns
    -------
    dict[str, HazardRule]
        One rule per kind of :data:`HAZARD_KINDS`.
    """
    rules = _defaults_document()["rules"]
    return {kind: HazardRule(**{k: v for k, v in rules[kind].items() if k != "why"}) for kind in HAZARD_KINDS}


def rule_justifications() -> dict[str, str]:
    """The one-line reason behind each kind's default rule, for reports and documentation."""
    rules = _defaults_document()["rules"]
    return {kind: " ".join(str(rules[kind].get("why", "")).split()) for kind in HAZARD_KINDS}


def earthquake_weighting() -> dict[str, float]:
    """The magnitude weighting of earthquakes: ``reference_mw``, ``per_mw_log10`` and ``unknown_mw``."""
    return {k: float(v) for k, v in _defaults_document()["earthquake_weighting"].items()}


def effective_rules(
    config: Hazards | Mapping[str, HazardRule | Mapping[str, Any]] | None = None,
) -> dict[str, HazardRule]:
    """The rule of every kind: the packaged default, overridden field by field by the scenario.

    Only the fields the scenario actually writes override the default: ``rules: {port: {exclusion_buffer_m: 5000}}``
    keeps the port's default ``soft_cost`` and ``decay_m`` (pydantic's ``model_fields_set`` tells which were written).

    Parameters
    ----------
    config
        The scenario's :class:`~geodata.scenario.Hazards` section, or a mapping ``kind -> HazardRule`` (or dict of
        rule fields), or None for the defaults.

    Returns
    -------
    dict[str, HazardRule]
        One rule per kind of :data:`HAZARD_KINDS`.

    Raises
    ------
    ConfigError
        A kind in ``config`` is not a hazard kind, or a field value is invalid.
    """
    rules = default_rules()
    overrides: Mapping[str, Any] = {}
    if isinstance(config, Hazards):
        overrides = {str(k): v for k, v in config.rules.items()}
    elif config is not None:
        overrides = config
    for kind, rule in overrides.items():
        if kind not in rules:
            raise ConfigError(f"hazards.rules has unknown kind '{kind}'{_did_you_mean(str(kind), HAZARD_KINDS)}")
        if isinstance(rule, HazardRule):
            written = {f: getattr(rule, f) for f in rule.model_fields_set}
        else:
            written = dict(rule)
        try:
            rules[kind] = HazardRule(**{**rules[kind].model_dump(), **written})
        except ValueError as exc:
            raise ConfigError(f"hazards.rules.{kind} is invalid: {exc}") from None
    return rules


# -- helpers --------------------------------------------------------------------------------------------------------


def _did_you_mean(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def normalise_kind(value: Any) -> str | None:
    """``'Shipping Lane'`` -> ``'shipping_lane'``; None/NaN/blank -> None. Does not check the kind exists."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return text or None


#: The fix :func:`kind_error` gives for a kind read from a file's kind column.
KIND_FIX_COLUMN = "write one of the valid kinds in the file's kind column"

#: The fix :func:`kind_error` gives for the kind configured for a whole file in the scenario.
KIND_FIX_ARGUMENT = "set hazards.inputs[].kind to one of the valid kinds"


def kind_error(value: Any, fix: str = KIND_FIX_COLUMN) -> str:
    """The explanation of an unknown kind: the closest valid kind, the list of all of them and ``fix`` (what to
    do: :data:`KIND_FIX_COLUMN` for a file's value, :data:`KIND_FIX_ARGUMENT` for the scenario's ``kind:``)."""
    norm = normalise_kind(value) or ""
    valid = ", ".join(HAZARD_KINDS)
    return f"'{value}' is not a hazard kind{_did_you_mean(norm, HAZARD_KINDS)} (valid kinds: {valid}); {fix}"


def empty_hazards() -> gpd.GeoDataFrame:
    """A hazard table with no rows, the right columns and CRS."""
    data: dict[str, Any] = {c: pd.Series([], dtype=object) for c in COLUMNS if c != "geometry"}
    for col in ("magnitude", *RULE_FIELDS):
        data[col] = pd.Series([], dtype=float)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def is_crossable(gdf: pd.DataFrame) -> pd.Series:
    """Rows whose kind may be crossed (a ``crossing_min_angle_deg`` is set): never a hard exclusion."""
    return gdf["crossing_min_angle_deg"].notna()


def repair_geometries(
    gdf: gpd.GeoDataFrame, *, labels: Sequence[str] | None = None
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]], list[dict[str, Any]]]:
    """Make geometries usable: drop Z, repair invalid ones, drop null, empty and unusable ones.

    Invalid geometries are repaired with ``shapely.make_valid(method="structure")`` and only the parts of the
    original dimension are kept (a self-intersecting polygon stays a polygon; a collapsed one is dropped).

    The rows are screened with shapely's vectorised predicates (missing, Z, empty, type, validity), so a million
    valid points cost no Python step per row; only the rows to repair or drop are handled one by one.

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
        with ``row``, ``reason`` and ``action``, each list in row order.
    """
    labels = list(labels) if labels is not None else [f"row {i + 1}" for i in range(len(gdf))]
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms)
    flat = geoms.copy()
    with_z = shapely.has_z(geoms)
    flat[with_z] = shapely.force_2d(geoms[with_z])
    empty = ~missing & shapely.is_empty(flat)
    unsupported = ~missing & ~empty & ~np.isin(shapely.get_type_id(flat), _ALLOWED_TYPE_IDS)
    usable = ~(missing | empty | unsupported)
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[usable] = ~shapely.is_valid(flat[usable])
    events: list[tuple[int, dict[str, Any]]] = [
        (int(i), {"row": labels[i], "reason": "no geometry", "action": "dropped"}) for i in np.flatnonzero(missing)
    ]
    events += [
        (int(i), {"row": labels[i], "reason": "empty geometry", "action": "dropped"}) for i in np.flatnonzero(empty)
    ]
    events += [
        (
            int(i),
            {"row": labels[i], "reason": f"unsupported geometry type {flat[i].geom_type}", "action": "dropped"},
        )
        for i in np.flatnonzero(unsupported)
    ]
    keep = usable.copy()
    repaired: list[dict[str, Any]] = []
    for i in np.flatnonzero(invalid):
        geom = flat[i]
        gtype = geom.geom_type
        reason = shapely.is_valid_reason(geom)
        fixed = _extract_dimension(shapely.make_valid(geom, method="structure", keep_collapsed=False), gtype)
        if fixed is None:
            keep[i] = False
            events.append(
                (
                    int(i),
                    {"row": labels[i], "reason": f"invalid ({reason}), nothing left after repair", "action": "dropped"},
                )
            )
            continue
        repaired.append(
            {
                "row": labels[i],
                "reason": f"invalid ({reason})",
                "action": f"repaired with make_valid, now a valid {fixed.geom_type}",
            }
        )
        flat[i] = fixed
    out = geoms.copy()
    out[keep] = flat[keep]
    dropped = [record for _, record in sorted(events, key=lambda event: event[0])]
    result = gdf.copy()
    result = result.set_geometry(gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs))
    return result.loc[keep], repaired, dropped


def _extract_dimension(geom: shapely.Geometry, original_type: str) -> shapely.Geometry | None:
    """The parts of ``geom`` of the original type's dimension, as one (multi) geometry, or None."""
    dim = _DIMENSION[original_type]
    parts = [p for p in shapely.get_parts(geom) if not p.is_empty and _DIMENSION.get(p.geom_type) == dim]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    merged = shapely.union_all(parts) if dim == 2 else {0: shapely.MultiPoint, 1: shapely.MultiLineString}[dim](parts)
    return merged if merged.is_valid and not merged.is_empty else None


# -- validation -----------------------------------------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value))


def _number(value: Any) -> float | None:
    """``value`` as a float, None when missing; raises ValueError when not a number."""
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError
    out = float(value)
    return None if math.isnan(out) else out


def validate_hazards(
    gdf: gpd.GeoDataFrame, origin: str, *, row_labels: Sequence[str] | None = None
) -> gpd.GeoDataFrame:
    """Check a hazard table against the schema; raise ONE error listing every problem with its fix.

    Every check runs on whole columns at once (numpy and shapely's vectorised predicates), so a million rows take
    about a second; only the rows with a problem are then described one by one (:func:`_row_problems`), and only as
    many as the error lists.

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
    cells = {c: _record_cells(gdf[c]) for c in COLUMNS if c != "geometry"}
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    blank = {c: _blank_cells(cells[c]) for c in ("hazard_id", "kind", "name", "source", "licence", "attribution")}
    blank["remarks"] = _blank_cells(cells["remarks"])
    first_of, repeats = _repeated_ids(cells["hazard_id"], blank["hazard_id"])
    nums = {c: _number_cells(gdf[c], cells[c]) for c in ("magnitude", *RULE_FIELDS)}
    count = (blank["hazard_id"] | repeats).astype(np.int64)
    for flags in (_not_a_kind(cells["kind"]), blank["source"], blank["licence"]):
        count += flags  # one problem each (bool + bool would be "or", not a count)
    count += _number_problem_counts(nums, cells["kind"]) + _geometry_problem_counts(geoms)
    total = len(problems) + int(count.sum())
    if total:
        for i in np.flatnonzero(count):
            if len(problems) >= _MAX_LISTED:
                break
            rec = {c: cells[c][i] for c in cells}
            hid = str(rec["hazard_id"])
            seen = {hid: labels[first_of[hid]]} if repeats[i] else {}
            problems.extend(_row_problems(rec, geoms[i], labels[i], seen)[0])
        listed = problems[:_MAX_LISTED]
        more = f"\n  ... and {total - _MAX_LISTED} more" if total > _MAX_LISTED else ""
        raise InputDataError(f"hazard table {origin} has {total} problem(s):\n  - " + "\n  - ".join(listed) + more)
    out: dict[str, Any] = {c: nums[c][0] for c in nums}
    for col in ("hazard_id", "kind", "name", "source", "licence", "attribution", "remarks"):
        out[col] = [None if b else v for v, b in zip(cells[col], blank[col].tolist(), strict=True)]
    return _typed_table({c: out[c] for c in COLUMNS if c != "geometry"}, gdf)


def _record_cells(column: pd.Series) -> list[Any]:
    """The column's values as ``DataFrame.to_dict("records")`` gives them: Python scalars, not numpy ones."""
    values: list[Any] = column.tolist()
    boxed = column.dtype == object or (
        isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and not isinstance(column.dtype, pd.StringDtype)
    )
    if boxed and any(issubclass(t, np.generic) for t in set(map(type, values))):
        return [maybe_box_native(v) for v in values]
    return values


def _blank_cells(values: list[Any]) -> np.ndarray:
    """:func:`_is_blank` of every value, as a bool array."""
    return np.fromiter(map(_is_blank, values), dtype=bool, count=len(values))


def _repeated_ids(ids: list[Any], blank: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    """``(first_of, repeats)``: the row of each id's first occurrence (ids as text) and the rows whose non-blank id
    an earlier row already has."""
    rows = np.flatnonzero(~blank)
    text = [str(ids[i]) for i in rows]
    codes, uniques = pd.factorize(pd.Series(text, dtype=object))
    first = np.full(len(uniques), len(ids), dtype=np.int64)
    np.minimum.at(first, codes, rows)
    repeats = np.zeros(len(ids), dtype=bool)
    repeats[rows] = rows != first[codes]
    repeated_codes = np.unique(codes[repeats[rows]])
    return {str(uniques[c]): int(first[c]) for c in repeated_codes}, repeats


def _not_a_kind(kinds: list[Any]) -> np.ndarray:
    """Rows whose ``kind`` is not one of :data:`HAZARD_KINDS` (compared as ``kind not in HAZARD_KINDS``)."""
    return np.fromiter((k not in HAZARD_KINDS for k in kinds), dtype=bool, count=len(kinds))


def _number_cells(column: pd.Series, values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, unreadable)`` of a numeric column as :func:`_number` reads each value: floats with NaN for
    empty or unreadable values, and the rows whose value is not a number (a bool is not one)."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if kind in "fiu":
        return column.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(values), dtype=bool)
    out = np.full(len(values), np.nan)
    unreadable = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        try:
            number = _number(value)
        except (TypeError, ValueError):
            unreadable[i] = True
            continue
        if number is not None:
            out[i] = number
    return out, unreadable


def _number_problem_counts(nums: dict[str, tuple[np.ndarray, np.ndarray]], kinds: list[Any]) -> np.ndarray:
    """Problems per row of :func:`_row_numbers`, :func:`_rule_value_problems` and :func:`_magnitude_problems`."""
    count = np.zeros(len(kinds), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for col, (value, unreadable) in nums.items():
            count += unreadable
            if col in ("exclusion_buffer_m", "soft_cost", "decay_m"):
                empty = np.isnan(value) & ~unreadable
                bad = ~np.isnan(value) & (~np.isfinite(value) | (value < 0.0) | ((col == "decay_m") & (value == 0.0)))
                count += empty | bad
        angle = nums["crossing_min_angle_deg"][0]
        count += ~np.isnan(angle) & ~((angle >= 0) & (angle <= 90))
        mag = nums["magnitude"][0]
        quake = np.fromiter((k == "earthquake" for k in kinds), dtype=bool, count=len(kinds))
        count += ~np.isnan(mag) & (~quake | ~((mag >= -2) & (mag <= 10)))
    return count


def _geometry_problem_counts(geoms: np.ndarray) -> np.ndarray:
    """Problems per row of :func:`_geometry_problems`: none, empty or unsupported geometry (one each), else an
    invalid geometry and coordinates outside lon/lat degrees (one each)."""
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    unsupported = ~missing & ~empty & ~np.isin(shapely.get_type_id(geoms), _ALLOWED_TYPE_IDS)
    usable = ~(missing | empty | unsupported)
    count = (missing | empty | unsupported).astype(np.int64)
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[usable] = ~shapely.is_valid(geoms[usable])
    bounds = shapely.bounds(geoms[usable])
    with np.errstate(invalid="ignore"):
        inside = (-180 <= bounds[:, 0]) & (bounds[:, 2] <= 180) & (-90 <= bounds[:, 1]) & (bounds[:, 3] <= 90)
    outside = np.zeros(len(geoms), dtype=bool)
    outside[usable] = ~inside
    return count + invalid + outside


def _check_table_shape(gdf: Any, origin: str) -> None:
    """:class:`InputDataError` unless ``gdf`` is a GeoDataFrame with every column of :data:`COLUMNS`."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputDataError(f"hazard table {origin} is a {type(gdf).__name__}, not a GeoDataFrame")
    missing = [c for c in COLUMNS if c != "geometry" and c not in gdf.columns]
    if missing:
        raise InputDataError(
            f"hazard table {origin} lacks column(s) {', '.join(missing)}; build it with the readers of "
            "geodata.hazards, which fill every column of geodata.hazards.COLUMNS"
        )


def _crs_problems(gdf: gpd.GeoDataFrame) -> list[str]:
    """The problem of a table without CRS or not in EPSG:4326, if any."""
    if gdf.crs is None:
        return ["the table has no CRS: set it to EPSG:4326 (gdf.set_crs) or reproject (gdf.to_crs)"]
    if not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return [
            f"the table is in {CRS.from_user_input(gdf.crs).to_string()}: reproject it with gdf.to_crs('EPSG:4326')"
        ]
    return []


def _row_problems(
    rec: dict[str, Any], geom: Any, where: str, seen: dict[str, str]
) -> tuple[list[str], dict[str, float | None]]:
    """``(problems, numbers)`` of one row: its id (recorded in ``seen``), kind, provenance, numeric columns and
    geometry, in that order, and its numeric columns as floats (None when empty or unreadable)."""
    problems = _id_problems(rec["hazard_id"], where, seen)
    problems += _kind_and_provenance_problems(rec, where)
    nums, unreadable, number_problems = _row_numbers(rec, where)
    problems += number_problems
    problems += _rule_value_problems(nums, unreadable, where)
    problems += _magnitude_problems(nums["magnitude"], rec["kind"], where)
    problems += _geometry_problems(geom, where)
    return problems, nums


def _id_problems(hid: Any, where: str, seen: dict[str, str]) -> list[str]:
    """The problem of an empty or repeated ``hazard_id``; a new id is recorded in ``seen`` with its row."""
    if _is_blank(hid):
        return [f"{where}: column 'hazard_id' is empty; give every row a unique id (source:layer:fid)"]
    if str(hid) in seen:
        return [f"{where}: column 'hazard_id' '{hid}' repeats {seen[str(hid)]}; make ids unique"]
    seen[str(hid)] = where
    return []


def _kind_and_provenance_problems(rec: dict[str, Any], where: str) -> list[str]:
    """The problems of an unknown ``kind`` and of an empty ``source`` or ``licence``."""
    problems = []
    kind = rec["kind"]
    if kind not in HAZARD_KINDS:
        problems.append(f"{where}: column 'kind': {kind_error(kind)}")
    for col in ("source", "licence"):
        if _is_blank(rec[col]):
            problems.append(f"{where}: column '{col}' is empty; state it (write 'not stated' if unknown)")
    return problems


def _row_numbers(rec: dict[str, Any], where: str) -> tuple[dict[str, float | None], set[str], list[str]]:
    """``(numbers, unreadable, problems)``: the magnitude and rule columns of a row as floats (None when empty or
    not a number), the columns that are not numbers, and one problem for each of them."""
    nums: dict[str, float | None] = {}
    unreadable: set[str] = set()
    problems = []
    for col in ("magnitude", *RULE_FIELDS):
        try:
            nums[col] = _number(rec[col])
        except (TypeError, ValueError):
            problems.append(
                f"{where}: column '{col}' value '{rec[col]}' is not a number; write a number or leave it empty"
            )
            nums[col] = None
            unreadable.add(col)
    return nums, unreadable, problems


def _rule_value_problems(nums: dict[str, float | None], unreadable: set[str], where: str) -> list[str]:
    """The problems of rule values out of range: an empty or negative buffer or soft cost, a decay that is not
    positive (unreadable columns are already reported), a crossing angle outside 0..90 degrees."""
    problems = []
    for col, low, strict in (("exclusion_buffer_m", 0.0, False), ("soft_cost", 0.0, False), ("decay_m", 0.0, True)):
        value = nums[col]
        if col in unreadable:
            continue
        if value is None:
            problems.append(f"{where}: column '{col}' is empty; fill it from the kind's rule (effective_rules)")
        elif not math.isfinite(value) or value < low or (strict and value == low):
            problems.append(
                f"{where}: column '{col}' = {value} must be a finite number {'>' if strict else '>='} {low:g}"
            )
    angle = nums["crossing_min_angle_deg"]
    if angle is not None and not 0 <= angle <= 90:
        problems.append(
            f"{where}: column 'crossing_min_angle_deg' = {angle} must lie in 0..90 degrees, or be "
            "empty for kinds that are not crossed"
        )
    return problems


def _magnitude_problems(mag: float | None, kind: Any, where: str) -> list[str]:
    """The problem of a magnitude set on a kind other than earthquake, or outside -2..10."""
    if mag is None:
        return []
    if kind != "earthquake":
        return [
            f"{where}: column 'magnitude' = {mag} is set on a '{kind}'; only earthquakes carry a "
            "magnitude: clear it or set kind to 'earthquake'"
        ]
    if not -2 <= mag <= 10:
        return [f"{where}: column 'magnitude' = {mag} is not a plausible moment magnitude (-2..10)"]
    return []


def _typed_table(out: dict[str, list[Any]], gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The checked columns as the hazard table: numeric columns as floats, text columns as objects with None for
    missing values, ``gdf``'s geometries in EPSG:4326, columns in the order of :data:`COLUMNS`."""
    frame = pd.DataFrame({c: out[c] for c in ("magnitude", *RULE_FIELDS)})
    for col in ("magnitude", *RULE_FIELDS):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in ("hazard_id", "kind", "name", "source", "licence", "attribution", "remarks"):
        frame[col] = _object_column(out[col])
    geometry = gpd.GeoSeries(np.asarray(gdf.geometry.values, dtype=object), crs="EPSG:4326")
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")[list(COLUMNS)]


def _object_column(values: Sequence[Any]) -> pd.Series:
    """A text column as objects with None for missing values; texts and None are copied as they are, anything
    else goes through pandas' inference first (``[1, 2.5]`` becomes ``[1.0, 2.5]``, as it always has)."""
    if set(map(type, values)) <= {str, type(None)}:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return pd.Series(array, dtype=object)
    column = pd.Series(list(values))
    return column.astype(object).where(column.notna(), None)


def _geometry_problems(geom: Any, where: str) -> list[str]:
    if geom is None:
        return [f"{where}: no geometry; give the row a point, line or polygon, or delete it"]
    if geom.is_empty:
        return [f"{where}: the geometry is empty; give the row a point, line or polygon, or delete it"]
    if geom.geom_type not in ALLOWED_GEOMETRIES:
        return [f"{where}: geometry type {geom.geom_type} is not supported; split it into points, lines or polygons"]
    found = []
    if not geom.is_valid:
        found.append(
            f"{where}: invalid geometry ({shapely.is_valid_reason(geom)}); repair it "
            "(geodata.hazards.repair_geometries, or QGIS 'Fix geometries')"
        )
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        found.append(
            f"{where}: coordinates ({minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g}) are not lon/lat degrees; "
            "the table must be in EPSG:4326"
        )
    return found


# -- small helpers on a table ---------------------------------------------------------------------------------------


def hazards_in_area(
    gdf: gpd.GeoDataFrame, bounds_lonlat: tuple[float, float, float, float], *, margin_m: float = 0.0, clip: bool = True
) -> gpd.GeoDataFrame:
    """The hazards touching a lon/lat box, optionally widened by a margin, with geometries clipped to it.

    Use a margin of at least the largest ``exclusion_buffer_m + 7 * decay_m`` when the result feeds
    :func:`rasterize_hazards`, so hazards just outside the area still push the route away from its edge.

    Parameters
    ----------
    gdf
        A hazard table (EPSG:4326).
    bounds_lonlat
        ``(west, south, east, north)`` in degrees.
    margin_m
        Widen the box by about this many metres on every side (converted to degrees at the box's widest latitude).
    clip
        Clip geometries to the (widened) box; when False, whole features touching it are kept.

    Returns
    -------
    geopandas.GeoDataFrame
        The selected rows, index reset.
    """
    west, south, east, north = bounds_lonlat
    if not (west < east and south < north):
        raise ConfigError(f"bounds {bounds_lonlat} must be (west, south, east, north) with west < east, south < north")
    if margin_m < 0:
        raise ConfigError(f"margin_m = {margin_m} must be >= 0")
    dlat = margin_m / 111_320.0
    coslat = max(math.cos(math.radians(max(abs(south - dlat), abs(north + dlat)))), 0.01)
    dlon = margin_m / (111_320.0 * coslat)
    box = shapely.box(max(west - dlon, -180), max(south - dlat, -90), min(east + dlon, 180), min(north + dlat, 90))
    if gdf.empty:
        return gdf.copy()
    selected = gdf[gdf.geometry.intersects(box)]
    if clip and not selected.empty:
        geoms = np.asarray(selected.geometry.values, dtype=object)
        clipped = geoms.copy()
        cut = (shapely.get_type_id(geoms) != 0) | shapely.has_z(geoms)  # a flat point touching the box is itself
        clipped[cut] = shapely.intersection(geoms[cut], box)
        selected = selected.set_geometry(gpd.GeoSeries(clipped, index=selected.index, crs=selected.crs))
        selected = selected[~selected.geometry.is_empty]
    return selected.reset_index(drop=True)


def combine_hazards(tables: Sequence[gpd.GeoDataFrame], origin: str = "combined hazard tables") -> gpd.GeoDataFrame:
    """Stack hazard tables (mirror, curated, user inventories) into one, checked as a whole.

    Parameters
    ----------
    tables
        Hazard tables; empty ones are skipped.
    origin
        Named in the error.

    Returns
    -------
    geopandas.GeoDataFrame
        One validated table with a fresh index.

    Raises
    ------
    InputDataError
        Two tables share a ``hazard_id`` (e.g. two user files with the same name in different folders: rename one
        or give it a ``hazard_id`` column), or a table breaks the schema; rows named ``table t row i``.
    """
    parts = [t for t in tables if len(t)]
    if not parts:
        return empty_hazards()
    labels = [f"table {t + 1} row {i + 1}" for t, part in enumerate(tables) if len(part) for i in range(len(part))]
    frame = pd.concat([p.to_crs("EPSG:4326") if p.crs is not None else p for p in parts], ignore_index=True)
    return validate_hazards(gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326"), origin, row_labels=labels)


def hazard_summary(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """Counts of a hazard table: total, by kind (every kind listed, zeros included), by source, and the licences.

    Returns
    -------
    dict
        ``{"total", "by_kind", "by_source", "licences", "magnitude_range"}``; JSON-serialisable, for Dagster metadata.
    """
    by_kind = {k: 0 for k in HAZARD_KINDS}
    for kind, count in gdf["kind"].value_counts().items():
        by_kind[str(kind)] = int(count)
    mags = pd.to_numeric(gdf["magnitude"], errors="coerce").dropna() if "magnitude" in gdf else pd.Series([])
    return {
        "total": len(gdf),
        "by_kind": by_kind,
        "by_source": {str(k): int(v) for k, v in gdf["source"].value_counts().sort_index().items()},
        "licences": sorted({str(v) for v in gdf["licence"].dropna()}),
        "magnitude_range": [float(mags.min()), float(mags.max())] if len(mags) else None,
    }
