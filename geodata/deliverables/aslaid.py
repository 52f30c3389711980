"""Design against as-laid: read a Route Position List of the cable as laid (or as surveyed), validate it, and compare
it with the design route KP by KP.

**Input.** An RPL position table as this project writes it (``rpl.csv``, UTF-8 with or without BOM, the columns of
:data:`geodata.deliverables.rpl.POSITION_COLUMNS`; or the ``Positions`` sheet of ``rpl.xlsx`` with its worded
headers), or any CSV/Excel position log with the same information under common names (``latitude``/``lat``,
``longitude``/``lon``, ``kp``; see :data:`COLUMN_ALIASES`). Positions need ``lat_deg`` and ``lon_deg`` (or the
degrees-and-minutes ``lat_dm``/``lon_dm`` the RPL prints); ``kp_km`` and ``cable_kp_km`` are used when given.
Every problem is reported at once in one :class:`AsLaidError` naming the file, the column and the rows.

**Comparison** (:func:`compare_as_laid`): for each design KP (every ``interval_m``) the nearest as-laid point, its
as-laid KP and the signed cross-track offset (positive to starboard of the design), then per KP range of
``range_km`` the mean and largest offset and the slack used against the planned slack (cable length paid out over
route length, from the ``cable_kp_km`` columns of both RPLs).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import LineString

from geodata.deliverables.compare import RouteRecord, kp_translation
from geodata.deliverables.formats import HEADERS
from geodata.errors import InputDataError
from geodata.geodesy import GEOD, Chainage

REQUIRED = ("lat_deg", "lon_deg")
NUMERIC = ("lat_deg", "lon_deg", "kp_km", "cable_kp_km", "water_depth_m")
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "lat_deg": ("latitude", "lat", "latitude_deg", "lat_dd"),
    "lon_deg": ("longitude", "lon", "long", "longitude_deg", "lon_dd"),
    "kp_km": ("kp", "route_kp", "kp_route"),
    "cable_kp_km": ("cable_kp", "ckp", "kp_cable"),
    "water_depth_m": ("depth", "depth_m", "water_depth"),
    "event": ("event_type",),
}
"""Other names of the columns a position log may use (compared lower-case, spaces and dashes as underscores)."""
_DM = re.compile(r"^\s*(\d{1,3})\s*°\s*(\d{1,2}(?:\.\d+)?)\s*'?\s*([NSEW])\s*$", re.IGNORECASE)


class AsLaidError(InputDataError):
    """An as-laid or as-surveyed RPL cannot be read: a missing column, a bad value, KPs out of order."""


def parse_dm(text: Any) -> float:
    """Degrees from the RPL's degrees-and-minutes (``41°04.698'N``, ``049°06.750'E``); NaN when it is not one."""
    m = _DM.match(str(text))
    if m is None:
        return math.nan
    deg, minutes, hemi = int(m.group(1)), float(m.group(2)), m.group(3).upper()
    if minutes >= 60:
        return math.nan
    value = deg + minutes / 60.0
    return -value if hemi in "SW" else value


def _key(name: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns renamed to the RPL's names: worded Excel headers (:data:`geodata.deliverables.formats.HEADERS`) and
    :data:`COLUMN_ALIASES`; unknown columns are kept as they are."""
    worded = {_key(v): k for k, v in HEADERS.items()}
    aliases = {a: k for k, names in COLUMN_ALIASES.items() for a in names}
    rename: dict[str, str] = {}
    for col in frame.columns:
        key = _key(col)
        target = key if key in HEADERS else worded.get(key) or aliases.get(key)
        if target is not None and target not in rename.values():
            rename[col] = target
    return frame.rename(columns=rename)


def _coordinates_from_dm(frame: pd.DataFrame) -> pd.DataFrame:
    for axis in ("lat", "lon"):
        if f"{axis}_deg" not in frame and f"{axis}_dm" in frame:
            frame[f"{axis}_deg"] = [parse_dm(v) for v in frame[f"{axis}_dm"]]
    return frame


def _rows(mask: np.ndarray) -> str:
    rows = (np.flatnonzero(mask) + 2).tolist()  # +1 for the header row, +1 for 1-based rows
    shown = ", ".join(map(str, rows[:8]))
    return f"row{'s' if len(rows) > 1 else ''} {shown}{' ...' if len(rows) > 8 else ''}"


def validate_rpl(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """The positions with numeric columns as floats, or one :class:`AsLaidError` listing every problem."""
    frame = _coordinates_from_dm(normalise_columns(frame.copy()))
    missing = [c for c in REQUIRED if c not in frame]
    if missing:
        raise AsLaidError(
            f"as-laid RPL {origin} has no {' or '.join(missing)} column (columns: {', '.join(map(str, frame.columns))})"
            "; give positions as lat_deg/lon_deg (decimal degrees WGS84) or lat_dm/lon_dm as the RPL prints them"
        )
    problems = []
    for col in (c for c in NUMERIC if c in frame):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna().to_numpy() & frame[col].notna().to_numpy() | (col in REQUIRED and values.isna().to_numpy())
        if bad.any():
            problems.append(f"{col}: not a number at {_rows(bad)}")
        frame[col] = values.astype(float)
    for col, limit in (("lat_deg", 90.0), ("lon_deg", 180.0)):
        out = (frame[col].abs() > limit).to_numpy()
        if out.any():
            problems.append(f"{col}: outside +-{limit:g} degrees at {_rows(out)}")
    for col in ("kp_km", "cable_kp_km"):
        if col in frame:
            v = frame[col].to_numpy(dtype=float)
            back = np.concatenate([[False], np.diff(v) < -1e-9])
            if back.any():
                problems.append(f"{col}: decreases at {_rows(back)} (positions must be in KP order)")
    if len(frame) < 2:
        problems.append(f"only {len(frame)} position(s); a route needs at least two")
    if problems:
        raise AsLaidError(f"as-laid RPL {origin} is invalid:\n  - " + "\n  - ".join(problems) + "\nCorrect the file.")
    return frame.reset_index(drop=True)


def read_rpl(path: str | Path) -> pd.DataFrame:
    """Read and validate an RPL position table: CSV (``.csv``/``.txt``) or Excel (``.xlsx``, the ``Positions`` sheet
    or else the first)."""
    path = Path(path)
    if not path.is_file():
        raise AsLaidError(f"as-laid RPL {path} does not exist; give the path of the CSV or Excel file")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            sheets = pd.read_excel(path, sheet_name=None)
            frame = sheets.get("Positions", next(iter(sheets.values())))
        else:
            frame = pd.read_csv(path, encoding="utf-8-sig", comment=None)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise AsLaidError(
            f"as-laid RPL {path} cannot be read as {path.suffix or 'CSV'} ({exc}); save it as CSV"
        ) from exc
    return validate_rpl(frame, str(path))


def rpl_record(positions: pd.DataFrame, name: str) -> RouteRecord:
    """A route record from validated RPL positions (its line through the positions, legs geodesic)."""
    ll = positions[["lon_deg", "lat_deg"]].to_numpy(dtype=float)
    keep = np.concatenate([[True], np.any(np.abs(np.diff(ll, axis=0)) > 1e-9, axis=1)])
    if keep.sum() < 2:
        raise AsLaidError(f"RPL {name} has fewer than two distinct positions; it is no route")
    return RouteRecord(name, LineString(ll[keep]), positions)


def _stated(record: RouteRecord, column: str, geometric_km: np.ndarray) -> np.ndarray:
    """A KP column of the record's RPL (``kp_km``, ``cable_kp_km``) at geometric KPs along its line (NaN without
    the column)."""
    pos = record.positions
    if column not in pos or pos[column].isna().all():
        return np.full(len(geometric_km), np.nan)
    ch = Chainage(record.line)
    at = np.array([ch.locate(lo, la) for lo, la in zip(pos["lon_deg"], pos["lat_deg"], strict=True)]) / 1000.0
    ok = pos[column].notna().to_numpy()
    return np.interp(geometric_km, at[ok], pos[column].to_numpy(dtype=float)[ok])


@dataclass
class AsLaidComparison:
    """Design against as-laid: per design KP and per KP range."""

    offsets: pd.DataFrame
    """Per design KP: position, nearest as-laid point, its KP (geometric and as stated in the RPL), offset."""
    ranges: pd.DataFrame
    """Per KP range of the design: mean and largest offset, route and cable length, slack used and planned."""

    def summary(self) -> dict[str, Any]:
        size = self.offsets["offset_m"].abs()
        return {
            "kp_points": len(self.offsets),
            "mean_abs_offset_m": round(float(size.mean()), 1),
            "max_abs_offset_m": round(float(size.max()), 1),
            "max_offset_at_kp_km": round(float(self.offsets["kp_km"].iloc[int(size.argmax())]), 3),
        }


def compare_as_laid(
    design: RouteRecord, as_laid: RouteRecord, *, interval_m: float = 1000.0, range_km: float = 10.0
) -> AsLaidComparison:
    """Translate KP between ``design`` and ``as_laid``, the cross-course distance per KP and per KP range, and the
    slack used against planned (module docstring)."""
    if not range_km > 0 or not interval_m > 0:
        raise InputDataError(f"interval_m ({interval_m}) and range_km ({range_km}) must be positive")
    tr = kp_translation(design.line, as_laid.line, interval_m=interval_m)
    tr = tr.rename(
        columns={
            "other_kp_km": "as_laid_kp_km",
            "other_lon_deg": "as_laid_lon_deg",
            "other_lat_deg": "as_laid_lat_deg",
        }
    )
    tr["as_laid_stated_kp_km"] = _stated(as_laid, "kp_km", tr["as_laid_kp_km"].to_numpy())
    tr["as_laid_cable_kp_km"] = _stated(as_laid, "cable_kp_km", tr["as_laid_kp_km"].to_numpy())
    tr["design_cable_kp_km"] = _stated(design, "cable_kp_km", tr["kp_km"].to_numpy())
    kp = tr["kp_km"].to_numpy()
    edges = np.unique(np.concatenate([np.arange(0.0, kp[-1], range_km), [kp[-1]]]))
    rows = []
    for k0, k1 in itertools.pairwise(edges):
        part = tr[(tr["kp_km"] >= k0 - 1e-9) & (tr["kp_km"] <= k1 + 1e-9)]
        if len(part) < 2:
            continue
        a, b = part.iloc[0], part.iloc[-1]
        design_km = b["kp_km"] - a["kp_km"]
        laid_km = b["as_laid_kp_km"] - a["as_laid_kp_km"]
        laid_cable = b["as_laid_cable_kp_km"] - a["as_laid_cable_kp_km"]
        design_cable = b["design_cable_kp_km"] - a["design_cable_kp_km"]
        rows.append(
            {
                "kp_from_km": float(a["kp_km"]),
                "kp_to_km": float(b["kp_km"]),
                "as_laid_kp_from_km": float(a["as_laid_kp_km"]),
                "as_laid_kp_to_km": float(b["as_laid_kp_km"]),
                "mean_offset_m": float(part["offset_m"].mean()),
                "max_abs_offset_m": float(part["offset_m"].abs().max()),
                "design_length_km": float(design_km),
                "as_laid_length_km": float(laid_km),
                "planned_slack_pct": float((design_cable / design_km - 1) * 100) if design_km > 0 else math.nan,
                "slack_used_pct": float((laid_cable / laid_km - 1) * 100) if laid_km > 0 else math.nan,
            }
        )
    return AsLaidComparison(tr, pd.DataFrame(rows))


def offset_route(line: LineString, offset_m: Any, *, step_m: float = 500.0) -> tuple[LineString, np.ndarray]:
    """The lon/lat route ``line`` moved sideways: points every ``step_m`` of KP (KP 0 at its first vertex), each moved
    by ``offset_m(kp_km)`` metres to starboard (negative: to port) along the geodesic normal. Returns the moved line
    and the KPs of its points: how a synthetic as-laid route is made from a design route with known offsets."""
    ch = Chainage(line)
    d = np.unique(np.concatenate([np.arange(0.0, ch.length_m, step_m), [ch.length_m]]))
    lon, lat = ch.point_at(d)
    i = np.clip(np.searchsorted(ch.cum_m, d, side="right") - 1, 0, len(ch.leg_m) - 1)
    ahead, _, to_end = GEOD.inv(lon, lat, ch.lon[i + 1], ch.lat[i + 1])
    _, behind, _ = GEOD.inv(ch.lon[i], ch.lat[i], lon, lat)
    # the geodesic's heading at the point: towards the leg's end, or (at the end itself) from the leg's start
    heading = np.where(np.asarray(to_end) > 1.0, np.asarray(ahead), np.asarray(behind) + 180.0)
    off = np.asarray(offset_m(d / 1000.0), dtype=float)
    mlon, mlat, _ = GEOD.fwd(lon, lat, heading + 90.0, off)
    return LineString(np.column_stack([mlon, mlat])), d / 1000.0
