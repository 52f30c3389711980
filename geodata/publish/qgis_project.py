"""The QGIS project of a publication, stored inside ``corridor.gpkg`` so the GeoPackage opens ready in QGIS.

QGIS lists projects kept in a GeoPackage (Browser > GeoPackage > corridor.gpkg > project ``corridor``; or
Project > Open From > GeoPackage) from the ``qgis_projects`` table (``name TEXT PRIMARY KEY, metadata BLOB,
content BLOB``; ``content`` is the zipped ``.qgz`` as hexadecimal text, the way QGIS's own GeoPackage project
storage writes and reads it). The same project is shipped beside the GeoPackage as ``corridor.qgz`` for QGIS releases
or tools that do not read projects from GeoPackages.

The project fixes what QGIS would otherwise guess: layer order (points over lines over areas over rasters),
visibility (the 100 m profile samples off), labels (KP on the KP points, station, A/C and crossing names), the raster
styles (QGIS 3.22 does not apply ``layer_styles`` to rasters, so they opened grey) with their declared nodata, and
EPSG:4326 as the project CRS with the view on the route. Layer paths are relative (``./corridor.gpkg``).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyproj import CRS

from geodata.publish import styles

PROJECT_NAME = "corridor"
QGIS_PROJECTS_SQL = "CREATE TABLE IF NOT EXISTS qgis_projects (name TEXT PRIMARY KEY, metadata BLOB, content BLOB)"

# Top of the layer list first; a table not named here goes between the lines and the areas.
LAYER_ORDER: tuple[str, ...] = (
    "landing_stations",
    "crossings",
    "alter_courses",
    "kp_points",
    "sector_crossings",
    "zone_crossings",
    "rpl",
    "route",
    "close_approaches",
    "route_alternatives",
    "hazards_points",
    "hazards_lines",
    "boundary_lines",
    "hazards_polygons",
    "corridor",
    "territorial_waters",
    "seabed_sectors",
    "route_profile",
    "cost",
    "bathymetry",
)
HIDDEN: frozenset[str] = frozenset({"route_profile", "rpl", "cost", "route_alternatives"})
"""Layers off when the project opens: the 3,365 profile samples would bury the KP markers, the RPL repeats the A/Cs,
the cost surface hides the bathymetry; they are one click away."""


@dataclass(frozen=True)
class Label:
    """A layer's labels: a field or a QGIS expression, font size (pt) and placement (``around`` a point, ``line``)."""

    text: str
    expression: bool = False
    size_pt: float = 8.0
    bold: bool = False
    placement: str = "around"


LABELS: dict[str, Label] = {
    "kp_points": Label("label", size_pt=7.0),
    "landing_stations": Label("name", size_pt=9.0, bold=True),
    "alter_courses": Label("name", size_pt=8.0, bold=True),
    "crossings": Label(
        "'X' || \"crossing_no\" || ' ' || \"name\" || ' ' || format_number(\"angle_deg\", 0) || '°'",
        expression=True,
        size_pt=8.0,
    ),
    "sector_crossings": Label('"from_country" || \' > \' || "to_country"', expression=True, size_pt=7.0),
    "zone_crossings": Label('"from_zone" || \' > \' || "to_zone"', expression=True, size_pt=7.0),
    "close_approaches": Label(
        "'CA ' || \"name\" || ' ' || format_number(\"min_distance_m\", 0) || ' m'",
        expression=True,
        size_pt=7.0,
        placement="line",
    ),
    "route": Label("name", size_pt=9.0, bold=True, placement="line"),
}


@dataclass(frozen=True)
class ProjectLayer:
    """One table of the GeoPackage as the project shows it."""

    table: str
    kind: str  # "vector" or "raster"
    title: str
    style_qml: str  # the layer's QML (vector_qml / raster_qml)
    geometry_type: str = ""  # OGR name for vectors: Point, LineString, MultiPolygon ...
    crs: str = "EPSG:4326"


def _el(tag: str, parent: ET.Element | None = None, text: str | None = None, /, **attrs: str) -> ET.Element:
    el = ET.Element(tag, attrs) if parent is None else ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _srs(parent: ET.Element, crs: str) -> None:
    c = CRS.from_user_input(crs)
    ref = _el("spatialrefsys", parent)
    _el("wkt", ref, c.to_wkt())
    _el("proj4", ref, c.to_proj4() if c.is_geographic or c.is_projected else "")
    _el("authid", ref, crs)
    _el("description", ref, c.name)
    _el("geographicflag", ref, "true" if c.is_geographic else "false")


def _qml_body(qml: str) -> ET.Element:
    """The ``qgis`` root of a QML document written by :mod:`geodata.publish.styles`."""
    return ET.fromstring(qml.split("\n", 1)[1])  # noqa: S314 (QML this package just generated)


def label_xml(label: Label) -> ET.Element:
    """QGIS simple labeling (``<labeling type="simple">``) for ``label``: dark text with a white halo."""
    labeling = _el("labeling", type="simple")
    settings = _el("settings", labeling, calloutType="simple")
    style = _el(
        "text-style", settings, fieldName=label.text, isExpression="1" if label.expression else "0",
        fontSize=f"{label.size_pt:g}", fontSizeUnit="Point", fontFamily="Sans Serif",
        fontWeight="75" if label.bold else "50", namedStyle="Bold" if label.bold else "Regular",
        textColor="20,20,20,255", textOpacity="1", multilineHeight="1", allowHtml="0",
    )  # fmt: skip
    _el("text-buffer", style, bufferDraw="1", bufferSize="0.7", bufferSizeUnits="MM", bufferColor="255,255,255,255",
        bufferOpacity="0.9", bufferJoinStyle="128")  # fmt: skip
    _el("text-format", settings, wrapChar="", multilineAlign="0", plussign="0", formatNumbers="0")
    # placement 6 = around point (cartographic), 2 = parallel to a line (QgsPalLayerSettings::Placement)
    _el("placement", settings, placement="2" if label.placement == "line" else "6", dist="1.2", distUnits="MM",
        placementFlags="10", repeatDistance="0", priority="5", overrunDistance="0")  # fmt: skip
    _el("rendering", settings, obstacle="1", obstacleType="1", displayAll="0", upsidedownLabels="0",
        limitNumLabels="0", mergeLines="0", scaleVisibility="0", drawLabels="1", fontLimitPixelSize="0")  # fmt: skip
    return labeling


def _family(geometry_type: str) -> str:
    return {"point": "Point", "line": "Line", "polygon": "Polygon"}[styles.family_of(geometry_type)]


def _maplayer(parent: ET.Element, layer: ProjectLayer, gpkg_name: str) -> str:
    lid = f"{layer.table}_corridor"
    label = LABELS.get(layer.table)
    attrs = {"type": layer.kind, "hasScaleBasedVisibilityFlag": "0", "minScale": "1e+08", "maxScale": "0",
             "autoRefreshEnabled": "0", "refreshOnNotifyEnabled": "0",
             "styleCategories": "AllStyleCategories"}  # fmt: skip
    if layer.kind == "vector":
        attrs |= {"geometry": _family(layer.geometry_type), "wkbType": layer.geometry_type.replace(" ", ""),
                  "labelsEnabled": "1" if label else "0", "readOnly": "0", "simplifyDrawingHints": "0"}  # fmt: skip
    ml = _el("maplayer", parent, **attrs)
    _el("id", ml, lid)
    source = f"./{gpkg_name}|layername={layer.table}" if layer.kind == "vector" else f"GPKG:./{gpkg_name}:{layer.table}"
    _el("datasource", ml, source)
    _el("layername", ml, layer.title)
    _srs(_el("srs", ml), layer.crs)
    _el("provider", ml, "ogr" if layer.kind == "vector" else "gdal", encoding="UTF-8")
    body = _qml_body(layer.style_qml)
    for child in body:
        ml.append(child)
    if layer.kind == "vector" and label:
        ml.append(label_xml(label))
    if layer.kind == "raster":
        nodata = _el("noData", ml)
        _el("noDataList", nodata, bandNo="1", useSrcNoData="1")
    return lid


def _order_key(table: str) -> int:
    if table in LAYER_ORDER:
        return LAYER_ORDER.index(table)
    return LAYER_ORDER.index("hazards_polygons")


def project_xml(
    layers: Sequence[ProjectLayer],
    *,
    title: str,
    gpkg_name: str = "corridor.gpkg",
    extent: tuple[float, float, float, float] | None = None,
    crs: str = "EPSG:4326",
) -> str:
    """The ``.qgs`` document of a project showing ``layers`` (any order: they are sorted by :data:`LAYER_ORDER`),
    their data read from ``./<gpkg_name>``, in project CRS ``crs`` with the view on ``extent`` (lon/lat)."""
    ordered = sorted(layers, key=lambda lay: (_order_key(lay.table), lay.table))
    root = _el("qgis", projectname=title, version="3.22.16-Białowieża", saveUser="caspian-corridor")
    _el("homePath", root, path="")
    _el("title", root, title)
    _srs(_el("projectCrs", root), crs)
    tree = _el("layer-tree-group", root)
    _el("customproperties", tree)
    projectlayers = _el("projectlayers")
    order = _el("layerorder")
    for lay in ordered:
        lid = _maplayer(projectlayers, lay, gpkg_name)
        source = f"./{gpkg_name}|layername={lay.table}" if lay.kind == "vector" else f"GPKG:./{gpkg_name}:{lay.table}"
        node = _el("layer-tree-layer", tree, id=lid, name=lay.title, source=source, expanded="0",
                   providerKey="ogr" if lay.kind == "vector" else "gdal",
                   checked="Qt::Unchecked" if lay.table in HIDDEN else "Qt::Checked")  # fmt: skip
        _el("customproperties", node)
        _el("layer", order, id=lid)
    if extent is not None:
        canvas = _el("mapcanvas", root, name="theMapCanvas", annotationsVisible="1")
        _el("units", canvas, "degrees")
        box = _el("extent", canvas)
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
            _el(tag, box, f"{v:.6f}")
        _el("rotation", canvas, "0")
        _srs(_el("destinationsrs", canvas), crs)
    root.append(projectlayers)
    root.append(order)
    props = _el("properties", root)
    paths = _el("Paths", props)
    _el("Absolute", paths, "false", type="bool")
    _el("ProjectionsEnabled", _el("SpatialRefSys", props), "1", type="int")  # else QGIS ignores projectCrs
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def qgz_bytes(qgs: str, name: str = PROJECT_NAME) -> bytes:
    """A ``.qgz``: the zip QGIS writes, holding ``<name>.qgs``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.qgs", qgs)
    return buf.getvalue()


def store_in_gpkg(con: sqlite3.Connection, qgs: str, name: str = PROJECT_NAME) -> None:
    """Store the project ``qgs`` in the GeoPackage open as ``con`` (table ``qgis_projects``, replaced if present)."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    con.execute(QGIS_PROJECTS_SQL)
    con.execute(
        "INSERT OR REPLACE INTO qgis_projects (name, metadata, content) VALUES (?, ?, ?)",
        (name, json.dumps({"last_modified_time": now, "last_modified_user": "caspian-corridor"}),
         qgz_bytes(qgs, name).hex()),
    )  # fmt: skip


def read_from_gpkg(path: str | Path, name: str = PROJECT_NAME) -> str | None:
    """The ``.qgs`` text of project ``name`` stored in the GeoPackage ``path`` (None when there is none)."""
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name='qgis_projects'").fetchone():
            return None
        row = con.execute("SELECT content FROM qgis_projects WHERE name=?", (name,)).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    with zipfile.ZipFile(io.BytesIO(bytes.fromhex(str(row[0])))) as z:
        return z.read(f"{name}.qgs").decode("utf-8")


def project_layers(
    vector: Mapping[str, tuple[str, str, str]], raster: Mapping[str, tuple[str, str, str]]
) -> list[ProjectLayer]:
    """Project layers from ``{table: (title, geometry_type, qml)}`` and ``{table: (title, crs, qml)}``."""
    out = [ProjectLayer(t, "vector", title, qml, geometry_type=g) for t, (title, g, qml) in vector.items()]
    out += [ProjectLayer(t, "raster", title, qml, crs=crs) for t, (title, crs, qml) in raster.items()]
    return out


__all__ = [
    "HIDDEN",
    "LABELS",
    "LAYER_ORDER",
    "PROJECT_NAME",
    "Label",
    "ProjectLayer",
    "label_xml",
    "project_layers",
    "project_xml",
    "qgz_bytes",
    "read_from_gpkg",
    "store_in_gpkg",
]
