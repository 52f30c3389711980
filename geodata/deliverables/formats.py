"""The surveyor's files of the deliverables: CSVs Excel opens on Windows, an Excel workbook and KML/KMZ for
Google Earth.

- **CSV**: UTF-8 with a byte-order mark (Excel on Windows then reads ``°`` and ``'`` right), comma-separated, one
  header row of snake_case names that carry their unit (``kp_km``, ``water_depth_m``), every number rounded to the
  trade's precision (:func:`geodata.deliverables.rpl.rounded`); an empty cell is a value that does not apply (no
  water depth on land).
- **Excel** (``rpl.xlsx``, openpyxl): one sheet per table (positions, segments, sector spans, sector boundaries,
  notes), headers in words with their units, the header row frozen, column widths fitted and number formats of
  the same precision as the CSVs.
- **KML/KMZ**: the route as a line densified along its geodesic legs (every 500 m), the KP points, the A/C
  points, the crossings and the other RPL positions as placemarks with names and descriptions, one folder each
  (GDAL's KML driver reads every folder as a layer).

Every table uses the one KP basis of :data:`geodata.deliverables.rpl.KP_BASIS`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from shapely.geometry import LineString

from geodata.deliverables.compose import RouteDeliverables
from geodata.deliverables.rpl import KP_BASIS, POSITION_COLUMNS, SEGMENT_COLUMNS, decimals_of, rounded
from geodata.geodesy import Chainage

CSV_FILES = {
    "rpl.csv": "RPL position table",
    "rpl_segments.csv": "RPL segment table",
    "sector_crossings.csv": "sector spans (entry and exit of each seabed sector)",
    "route_profile.csv": "depth and slope along the route",
}
XLSX_FILE = "rpl.xlsx"
KML_FILE = "route.kml"
KMZ_FILE = "route.kmz"
SURVEYOR_FILES = (*CSV_FILES, XLSX_FILE, KML_FILE, KMZ_FILE)
"""Every file :func:`write_surveyor_files` writes (the publication's validator checks them)."""

# Headers in words with their units, as the Excel sheets print them (other columns: see :func:`header`).
HEADERS = {
    "pos_no": "Pos no",
    "event": "Event (first)",
    "events": "Events",
    "name": "Name",
    "lat_deg": "Latitude (° WGS84)",
    "lon_deg": "Longitude (° WGS84)",
    "lat_dm": "Latitude (DD°MM.mmm')",
    "lon_dm": "Longitude (DDD°MM.mmm')",
    "kp_km": "Route KP (km)",
    "cable_kp_km": "Cable KP (km)",
    "water_depth_m": "Water depth (m)",
    "surface": "Land/shore/sea",
    "course_change_deg": "Course change (°, + starboard)",
    "slope_deg": "Seabed slope (°)",
    "cable_type": "Cable type at position",
    "remarks": "Remarks",
    "seg_no": "Seg no",
    "from_pos": "From pos",
    "to_pos": "To pos",
    "from_kp_km": "From KP (km)",
    "to_kp_km": "To KP (km)",
    "bearing_deg": "Bearing (° true)",
    "distance_km": "Distance (km)",
    "slack_pct": "Slack (%)",
    "cable_length_km": "Cable length (km)",
    "cable_code": "Cable code",
    "burial_depth_m": "Target burial (m)",
    "sector": "Seabed sector",
}
SEGMENT_HEADERS = {"cable_type": "Cable type", "surface": "Land/sea"}
_UNITS = {"_km": "km", "_m": "m", "_deg": "°", "_pct": "%"}


def header(column: str) -> str:
    """The Excel header of a column: from :data:`HEADERS`, else its name in words with its unit."""
    if column in HEADERS:
        return HEADERS[column]
    for suffix, unit in _UNITS.items():
        if column.endswith(suffix):
            return f"{column[: -len(suffix)].replace('_', ' ').capitalize()} ({unit})"
    return column.replace("_", " ").capitalize()


def _number_format(column: str) -> str | None:
    nd = decimals_of(column)
    if nd is None:
        return None
    return "0" if nd == 0 else "0." + "0" * nd


def _table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The frame without geometry, in ``columns`` order when given, rounded."""
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    if columns is not None:
        out = out[[c for c in columns if c in out.columns]]
    return rounded(out)


def surveyor_tables(dl: RouteDeliverables) -> dict[str, pd.DataFrame]:
    """The tables of the surveyor's files, by sheet name: positions, segments, sector spans and boundaries."""
    tables = {"Positions": _table(dl.rpl, POSITION_COLUMNS)}
    if dl.segments is not None:
        tables["Segments"] = _table(dl.segments, SEGMENT_COLUMNS)
    tables["Sector spans"] = _table(dl.sector_spans)
    tables["Sector boundaries"] = _table(dl.sector_points)
    return tables


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` (geometry dropped, rounded) as a CSV Excel on Windows opens: UTF-8 with BOM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _table(frame).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def write_xlsx(tables: Mapping[str, pd.DataFrame], path: Path, *, notes: Sequence[str] = ()) -> Path:
    """The tables as an Excel workbook: headers with units, header row frozen, widths fitted, number formats."""
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for sheet_name, frame in tables.items():
        ws = wb.create_sheet(sheet_name[:31])
        cols = [str(c) for c in frame.columns]
        names = {**HEADERS, **SEGMENT_HEADERS} if sheet_name == "Segments" else HEADERS
        ws.append([names.get(c, header(c)) for c in cols])
        for row in frame.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        ws.freeze_panes = "A2"
        for j, col in enumerate(cols, start=1):
            letter = get_column_letter(j)
            fmt = _number_format(col)
            if fmt is not None:
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
            texts = [names.get(col, header(col)), *(str(v) for v in frame[col].head(500))]
            ws.column_dimensions[letter].width = min(max(len(t) for t in texts) + 2, 60)
        for cell in ws[1]:
            cell.font = Font(bold=True)
    ws = wb.create_sheet("Notes")
    for line in (f"KP basis: {KP_BASIS}.", *notes):
        ws.append([line])
    ws.column_dimensions["A"].width = 120
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _cell(v: object) -> object:
    """A value as an Excel cell: NaN and None empty, numpy scalars as Python numbers."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, np.generic):
        return _cell(v.item())
    return v


# -- KML ----------------------------------------------------------------------------------------------------------

KML_NS = "http://www.opengis.net/kml/2.2"


def _placemark(folder: ET.Element, name: str, description: str, coords: str, *, kind: str = "Point") -> None:
    pm = ET.SubElement(folder, "Placemark")
    ET.SubElement(pm, "name").text = name
    ET.SubElement(pm, "description").text = description
    ET.SubElement(pm, "styleUrl").text = "#route" if kind == "LineString" else "#position"
    geom = ET.SubElement(pm, kind)
    if kind == "LineString":
        ET.SubElement(geom, "tessellate").text = "1"
    ET.SubElement(geom, "coordinates").text = coords


def _fmt(v: object, nd: int, unit: str) -> str:
    return f"{float(v):.{nd}f} {unit}" if isinstance(v, (int, float)) and np.isfinite(float(v)) else "n/a"


def _position_description(r: pd.Series) -> str:
    lines = [
        f"Events: {r['events']}",
        f"Route KP {_fmt(r['kp_km'], 3, 'km')}, cable KP {_fmt(r['cable_kp_km'], 3, 'km')}",
        f"{r['lat_dm']} {r['lon_dm']} ({r['lat_deg']:.6f}, {r['lon_deg']:.6f})",
        f"Water depth {_fmt(r['water_depth_m'], 0, 'm')} ({r['surface']})",
    ]
    if r["remarks"]:
        lines.append(f"Remarks: {r['remarks']}")
    return "\n".join(lines)


def kml_document(dl: RouteDeliverables, *, title: str, step_m: float = 500.0) -> ET.Element:
    """The KML of the route: the line densified along its geodesic legs every ``step_m``, the KP points, the A/C
    points, the crossings and the other RPL positions, one folder each."""
    ET.register_namespace("", KML_NS)
    root = ET.Element("kml", xmlns=KML_NS)
    doc = ET.SubElement(root, "Document")
    ET.SubElement(doc, "name").text = title
    ET.SubElement(doc, "description").text = f"KP basis: {KP_BASIS}. Legs are WGS84 geodesics."
    for sid, colour, width in (("route", "ff0000ff", "3"), ("position", "ff00ffff", "1")):
        style = ET.SubElement(doc, "Style", id=sid)
        line = ET.SubElement(style, "LineStyle")
        ET.SubElement(line, "color").text = colour
        ET.SubElement(line, "width").text = width
    pos = dl.rpl
    ch = Chainage(_route_line(pos))
    dense, _ = ch.densified(step_m)
    route_folder = ET.SubElement(doc, "Folder")
    ET.SubElement(route_folder, "name").text = "Route"
    length = float(pos["kp_km"].max())
    cable = float(pos["cable_kp_km"].max()) if "cable_kp_km" in pos else float("nan")
    _placemark(
        route_folder,
        title,
        f"Route length {length:.3f} km, cable length {_fmt(cable, 3, 'km')}",
        " ".join(f"{x:.7f},{y:.7f},0" for x, y in dense.coords),
        kind="LineString",
    )
    kp_folder = ET.SubElement(doc, "Folder")
    ET.SubElement(kp_folder, "name").text = "KP"
    for _, r in dl.kp_points.iterrows():
        _placemark(
            kp_folder,
            str(r["label"]),
            f"KP {r['kp_km']:.3f} km; {r['lat_dm']} {r['lon_dm']}; water depth {_fmt(r['water_depth_m'], 0, 'm')}",
            f"{r['lon_deg']:.7f},{r['lat_deg']:.7f},0",
        )
    groups = {"Alter courses": "A/C", "Crossings": "crossing", "Other positions": None}
    kinds = [str(e).split("; ") for e in pos["events"]]
    used = np.zeros(len(pos), dtype=bool)
    for folder_name, kind in groups.items():
        folder = ET.SubElement(doc, "Folder")
        ET.SubElement(folder, "name").text = folder_name
        for i, (_, r) in enumerate(pos.iterrows()):
            take = (kind in kinds[i]) if kind is not None else not used[i]
            if not take or (kind is not None and used[i]):
                continue
            used[i] = True
            _placemark(
                folder,
                f"{int(r['pos_no'])} {r['name'] or r['event']}",
                _position_description(r),
                f"{r['lon_deg']:.7f},{r['lat_deg']:.7f},0",
            )
    return root


def _route_line(positions: pd.DataFrame) -> LineString:
    """The route through the RPL positions (every vertex of the route is a position)."""
    return LineString(np.column_stack([positions["lon_deg"], positions["lat_deg"]]))


def write_kml(dl: RouteDeliverables, kml_path: Path, kmz_path: Path | None = None, *, title: str) -> list[Path]:
    """Write the route's KML and, when ``kmz_path`` is given, the same document zipped as ``doc.kml`` (KMZ)."""
    text = ET.tostring(kml_document(dl, title=title), encoding="utf-8", xml_declaration=True)
    kml_path.parent.mkdir(parents=True, exist_ok=True)
    kml_path.write_bytes(text)
    out = [kml_path]
    if kmz_path is not None:
        with zipfile.ZipFile(kmz_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("doc.kml", text)
        out.append(kmz_path)
    return out


def write_surveyor_files(folder: Path, dl: RouteDeliverables, *, title: str) -> list[str]:
    """Write every file of :data:`SURVEYOR_FILES` into ``folder``; returns their names."""
    folder = Path(folder)
    write_csv(_table(dl.rpl, POSITION_COLUMNS), folder / "rpl.csv")
    if dl.segments is not None:
        write_csv(_table(dl.segments, SEGMENT_COLUMNS), folder / "rpl_segments.csv")
    else:
        write_csv(pd.DataFrame(columns=SEGMENT_COLUMNS), folder / "rpl_segments.csv")
    write_csv(dl.sector_spans, folder / "sector_crossings.csv")
    write_csv(dl.profile, folder / "route_profile.csv")
    notes = [
        "Legs are WGS84 geodesics; bearings are true, the initial bearing of each segment's geodesic.",
        "Water depth below the Caspian surface (-28 m Baltic), positive down; none on land, 0 at the coastline.",
        f"Positions where the bathymetry contradicts the coastline: {dl.surface_disagreements}.",
    ]
    write_xlsx(surveyor_tables(dl), folder / XLSX_FILE, notes=notes)
    write_kml(dl, folder / KML_FILE, folder / KMZ_FILE, title=title)
    return list(SURVEYOR_FILES)
