"""One palette for every published layer, rendered as QGIS QML (stored in the GeoPackage) and MapLibre style layers.

A surveyor opening ``corridor.gpkg`` in QGIS and a reader of the web map see the same colours: both are generated here
from :data:`LAYER_STYLES`. Symbols follow the habits of cable route charts: the route a bold red line, the survey
corridor a dashed outline, the near-optimal band a translucent fill, alter-course points diamonds, KP points small
open circles, hazards categorised by kind, seabed sectors categorised by country.

The QML written is the small subset QGIS needs for symbology (``styleCategories="Symbology"``); each symbol layer
carries its properties both as the ``<Option type="Map">`` QGIS >= 3.26 writes and as the ``<prop k v>`` pairs older
QGIS 3 releases read, so the styles load in every QGIS 3 LTR.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

from geodata.errors import InputDataError

Family = Literal["point", "line", "polygon"]
QGIS_VERSION = "3.34.0-Prizren"


@dataclass(frozen=True)
class Symbol:
    """One symbol: colour as ``#rrggbb``, opacity 0..1, sizes in millimetres (QGIS) / pixels (web = mm * 3.78)."""

    color: str
    opacity: float = 1.0
    width_mm: float = 0.5
    size_mm: float = 2.0
    outline: str = "#202020"
    outline_width_mm: float = 0.2
    dash: bool = False
    shape: str = "circle"  # circle, square, diamond, triangle, cross2 (QGIS marker names)
    label: str = ""


@dataclass(frozen=True)
class LayerStyle:
    """The style of one layer: one symbol, or symbols categorised by the values of ``field``."""

    title: str
    symbol: Symbol
    field: str | None = None
    categories: dict[str, Symbol] = dc_field(default_factory=dict)


def _cat(color: str, label: str, **kw: Any) -> Symbol:
    return Symbol(color=color, label=label, **kw)


HAZARD_COLORS: dict[str, tuple[str, str]] = {
    "fault": ("#252525", "Active fault"),  # near-black, dashed (as geological maps draw them)
    "earthquake": ("#ff7f00", "Earthquake epicentre"),
    "mud_volcano": ("#6b4423", "Mud volcano"),
    "platform": ("#252525", "Oil/gas platform"),
    "well": ("#636363", "Well"),
    "pipeline": ("#1b9e77", "Pipeline"),  # teal: apart from epicentres and faults
    "cable": ("#984ea3", "Cable"),
    "wreck": ("#3f007d", "Wreck"),
    "anchorage": ("#6baed6", "Anchorage"),
    "shipping_lane": ("#9ecae1", "Shipping lane"),
    "port": ("#08519c", "Port"),
    "other": ("#969696", "Other hazard"),
}

COUNTRY_COLORS: dict[str, tuple[str, str]] = {
    "AZE": ("#1f78b4", "Azerbaijan sector"),
    "KAZ": ("#33a02c", "Kazakhstan sector"),
    "RUS": ("#e31a1c", "Russia sector"),
    "TKM": ("#ff7f00", "Turkmenistan sector"),
    "IRN": ("#6a3d9a", "Iran sector"),
}

LAYER_STYLES: dict[str, LayerStyle] = {
    "route": LayerStyle("Cable route", Symbol("#d7191c", width_mm=0.8, size_mm=2.0)),
    "corridor": LayerStyle(
        "Corridor",
        Symbol("#fb9a29", opacity=0.4, outline="#f46d43"),
        field="kind",
        categories={
            "near_optimal_band": _cat("#fb9a29", "Near-optimal band", opacity=0.4, outline="#f46d43"),
            "survey_corridor": _cat(
                "#ffffbf", "Survey corridor", opacity=0.15, outline="#2b83ba", outline_width_mm=0.4, dash=True
            ),
        },
    ),
    "rpl": LayerStyle("Route Position List", Symbol("#000000", size_mm=1.4, outline="#ffffff", outline_width_mm=0.2)),
    "alter_courses": LayerStyle(
        "Alter-course points", Symbol("#ffd700", size_mm=3.0, shape="diamond", outline="#000000", outline_width_mm=0.3)
    ),
    "kp_points": LayerStyle("KP points", Symbol("#ffffff", size_mm=1.6, outline="#d7191c", outline_width_mm=0.35)),
    "crossings": LayerStyle(
        "Crossings",
        Symbol("#c51b8a", size_mm=3.2, shape="cross2", width_mm=0.6, outline="#c51b8a", outline_width_mm=0.6),
    ),
    "hazards": LayerStyle(
        "Hazards",
        Symbol("#969696", size_mm=2.2, width_mm=0.6, opacity=0.9),
        field="kind",
        categories={
            k: _cat(c, lab, size_mm=2.2, width_mm=0.6, opacity=0.9, dash=k == "fault")
            for k, (c, lab) in HAZARD_COLORS.items()
        },
    ),
    "seabed_sectors": LayerStyle(
        "Seabed sectors",
        Symbol("#bdbdbd", opacity=0.12, outline="#636363"),
        field="country",
        categories={
            k: _cat(c, lab, opacity=0.12, outline=c, outline_width_mm=0.3) for k, (c, lab) in COUNTRY_COLORS.items()
        },
    ),
    "boundary_lines": LayerStyle("Seabed boundary lines", Symbol("#54278f", width_mm=0.5, dash=True)),
    "territorial_waters": LayerStyle(
        "Territorial waters", Symbol("#9ecae1", opacity=0.25, outline="#3182bd", outline_width_mm=0.3, dash=True)
    ),
    "landing_stations": LayerStyle(
        "Landing stations", Symbol("#000000", size_mm=3.2, shape="square", outline="#ffffff", outline_width_mm=0.4)
    ),
    # a wide translucent band under the route: the stretch where it runs too close to an existing cable or pipeline
    "close_approaches": LayerStyle("Close approaches", Symbol("#f03b20", opacity=0.55, width_mm=2.2)),
    "zone_crossings": LayerStyle(
        "Zone limit crossings",
        Symbol("#3182bd", size_mm=2.6, shape="triangle", outline="#ffffff", outline_width_mm=0.3),
    ),
    "robust_corridor": LayerStyle(
        "Robust corridor (Monte Carlo)", Symbol("#1a9850", opacity=0.35, outline="#006837", outline_width_mm=0.3)
    ),
    "kp_robustness": LayerStyle(
        "KP robustness (Monte Carlo)",
        Symbol("#969696", size_mm=1.6, outline="#ffffff", outline_width_mm=0.2),
        field="status",
        categories={
            "robust": _cat("#1a9850", "Robust KP", size_mm=1.6, outline="#ffffff", outline_width_mm=0.2),
            "variable": _cat("#d73027", "Variable KP", size_mm=1.6, outline="#ffffff", outline_width_mm=0.2),
        },
    ),
    "monte_carlo_routes": LayerStyle("Monte Carlo routes", Symbol("#4d4d4d", opacity=0.35, width_mm=0.25)),
    "compared_routes": LayerStyle(
        "Compared routes",
        Symbol("#737373", width_mm=0.7),
        field="order",
        categories={
            str(i): _cat(c, f"Route {i}", width_mm=0.7)
            for i, c in enumerate(("#d7191c", "#2b83ba", "#1a9641", "#7b3294", "#fdae61"), start=1)
        },
    ),
    "kp_translation": LayerStyle("KP translation", Symbol("#ffffff", size_mm=1.2, outline="#2b83ba")),
    "design_route": LayerStyle("Design route", Symbol("#d7191c", width_mm=0.7)),
    "as_laid_route": LayerStyle("As-laid route", Symbol("#2b83ba", width_mm=0.5, dash=True)),
    "as_laid_offsets": LayerStyle("Offsets from design", Symbol("#ffffff", size_mm=1.4, outline="#d7191c")),
    # the diagnostics GeoPackage of a run that did not publish (geodata/publish/diagnostics.py): what failed stands out
    "stations": LayerStyle(
        "Landing stations (diagnostics)",
        Symbol("#000000", size_mm=3.4, shape="square", outline="#ffffff", outline_width_mm=0.4),
    ),
    "nearest_sea_cell": LayerStyle(
        "Nearest sea cell", Symbol("#2b83ba", size_mm=2.6, outline="#ffffff", outline_width_mm=0.3)
    ),
    "station_to_sea": LayerStyle("Station to nearest sea", Symbol("#f46d43", width_mm=0.6, dash=True)),
    "reachable_region": LayerStyle(
        "Region reachable from the station", Symbol("#9ecae1", opacity=0.3, outline="#3182bd", outline_width_mm=0.3)
    ),
    "area_of_interest": LayerStyle(
        "Area of interest", Symbol("#ffffff", opacity=0.0, outline="#636363", outline_width_mm=0.5, dash=True)
    ),
    "rejected_route": LayerStyle("Rejected route", Symbol("#d7191c", width_mm=0.8, dash=True)),
    "failure_positions": LayerStyle(
        "Failure positions",
        Symbol("#d7191c", size_mm=4.0, shape="cross2", width_mm=0.8, outline="#d7191c", outline_width_mm=0.8),
    ),
}

DEFAULT_STYLE = LayerStyle("Layer", Symbol("#737373", opacity=0.6, width_mm=0.4, size_mm=1.8))


def style_for(layer: str) -> LayerStyle:
    """The style of ``layer``; layers split by geometry (``hazards_lines``) use their base layer's style."""
    if layer in LAYER_STYLES:
        return LAYER_STYLES[layer]
    for suffix in ("_points", "_lines", "_polygons"):
        if layer.endswith(suffix) and layer[: -len(suffix)] in LAYER_STYLES:
            return LAYER_STYLES[layer[: -len(suffix)]]
    return LayerStyle(layer.replace("_", " ").capitalize(), DEFAULT_STYLE.symbol)


def family_of(geometry_type: str) -> Family:
    """``point``, ``line`` or ``polygon`` for an OGR/shapely geometry type name (``MultiLineString`` -> ``line``)."""
    name = geometry_type.lower().replace("multi", "").replace(" ", "").replace("3d", "").rstrip("zm")
    if name == "point":
        return "point"
    if name in ("linestring", "line"):
        return "line"
    if name == "polygon":
        return "polygon"
    raise InputDataError(
        f"geometry type '{geometry_type}' has no style; publish points, lines or polygons (split geometry collections)"
    )


# -- colours ------------------------------------------------------------------------------------------------------


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``#rrggbb`` -> ``(r, g, b)``; raises InputDataError naming the bad value."""
    value = color.lstrip("#")
    if len(value) != 6:
        raise InputDataError(f"colour '{color}' is not of the form #rrggbb")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _qgis_color(color: str, opacity: float = 1.0) -> str:
    r, g, b = hex_to_rgb(color)
    return f"{r},{g},{b},{round(255 * opacity)}"


# -- QML ----------------------------------------------------------------------------------------------------------


def _el(tag: str, parent: ET.Element | None = None, /, **attrs: str) -> ET.Element:
    """An XML element (a child of ``parent`` when given) with string attributes, escaped by ElementTree."""
    return ET.Element(tag, attrs) if parent is None else ET.SubElement(parent, tag, attrs)


def _options(parent: ET.Element, props: dict[str, str]) -> None:
    """Symbol-layer properties in both forms QGIS reads: the ``Option`` map (3.x) and legacy ``prop`` elements."""
    opts = _el("Option", parent, type="Map")
    for k, v in props.items():
        _el("Option", opts, name=k, value=v, type="QString")
    for k, v in props.items():
        _el("prop", parent, k=k, v=v)


def _symbol_props(sym: Symbol, family: Family) -> tuple[str, dict[str, str]]:
    """The QGIS symbol-layer class and its properties for a symbol of a geometry family."""
    if family == "line":
        return "SimpleLine", {
            "line_color": _qgis_color(sym.color, sym.opacity),
            "line_width": f"{sym.width_mm:g}",
            "line_width_unit": "MM",
            "line_style": "dash" if sym.dash else "solid",
            "capstyle": "round",
            "joinstyle": "round",
        }
    if family == "polygon":
        return "SimpleFill", {
            "color": _qgis_color(sym.color, sym.opacity),
            "style": "solid",
            "outline_color": _qgis_color(sym.outline),
            "outline_style": "dash" if sym.dash else "solid",
            "outline_width": f"{sym.outline_width_mm:g}",
            "outline_width_unit": "MM",
            "joinstyle": "round",
        }
    return "SimpleMarker", {
        "name": sym.shape,
        "color": _qgis_color(sym.color, sym.opacity),
        "outline_color": _qgis_color(sym.outline),
        "outline_style": "solid",
        "outline_width": f"{sym.outline_width_mm:g}",
        "outline_width_unit": "MM",
        "size": f"{sym.size_mm:g}",
        "size_unit": "MM",
        "angle": "0",
        "scale_method": "diameter",
    }


def _symbol(parent: ET.Element, sym: Symbol, family: Family, name: str) -> None:
    kind = {"point": "marker", "line": "line", "polygon": "fill"}[family]
    symbol = _el("symbol", parent, type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    cls, props = _symbol_props(sym, family)
    _options(_el("layer", symbol, **{"class": cls, "enabled": "1", "locked": "0", "pass": "0"}), props)


def _qgis_document(body: ET.Element) -> str:
    """A whole QML document: the DOCTYPE QGIS writes, the ``qgis`` root with ``body`` and the blending defaults."""
    root = _el("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    root.append(body)
    for tag, text in (("blendMode", "0"), ("featureBlendMode", "0"), ("layerOpacity", "1")):
        _el(tag, root).text = text
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


RENDERER_DEFAULTS = {"forceraster": "0", "symbollevels": "0", "enableorderby": "0", "referencescale": "-1"}


def vector_qml(layer: str, geometry_type: str, values: list[str] | None = None) -> str:
    """QML of ``layer`` for its geometry type; a categorised style lists the known categories plus any other value
    found in ``values`` (drawn with the default symbol), so no feature is left unstyled."""
    style = style_for(layer)
    family = family_of(geometry_type)
    if not style.field:
        renderer = _el("renderer-v2", type="singleSymbol", **RENDERER_DEFAULTS)
        _symbol(_el("symbols", renderer), style.symbol, family, "0")
    else:
        cats = dict(style.categories)
        for value in sorted(set(values or []) - set(cats)):
            cats[value] = Symbol(**{**style.symbol.__dict__, "label": value})
        renderer = _el("renderer-v2", type="categorizedSymbol", attr=style.field, **RENDERER_DEFAULTS)
        categories, symbols = _el("categories", renderer), _el("symbols", renderer)
        for i, (value, sym) in enumerate(cats.items()):
            _el("category", categories, value=value, symbol=str(i), label=sym.label or value, render="true")
            _symbol(symbols, sym, family, str(i))
        _symbol(_el("source-symbol", renderer), style.symbol, family, "0")
    _el("rotation", renderer)
    _el("sizescale", renderer)
    return _qgis_document(renderer)


def raster_qml(stops: list[tuple[float, str]], *, label_units: str = "") -> str:
    """QML of a single-band pseudocolour raster (gridded coverage) with linear interpolation between ``stops``
    ``[(value, '#rrggbb'), ...]`` in ascending value order."""
    if len(stops) < 2 or any(b[0] <= a[0] for a, b in itertools.pairwise(stops)):
        raise InputDataError(f"raster colour stops {stops} must be at least two, in strictly ascending value order")
    lo, hi = f"{stops[0][0]:g}", f"{stops[-1][0]:g}"
    pipe = _el("pipe")
    renderer = _el(
        "rasterrenderer", pipe, type="singlebandpseudocolor", band="1", opacity="1", alphaBand="-1",
        classificationMin=lo, classificationMax=hi, nodataColor="",
    )  # fmt: skip
    _el("rasterTransparency", renderer)
    limits = _el("minMaxOrigin", renderer)
    for tag, text in (
        ("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"), ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"), ("stdDevFactor", "2"),
    ):  # fmt: skip
        _el(tag, limits).text = text
    ramp = _el(
        "colorrampshader", _el("rastershader", renderer), colorRampType="INTERPOLATED", classificationMode="1",
        clip="0", minimumValue=lo, maximumValue=hi,
    )  # fmt: skip
    for v, c in stops:
        _el("item", ramp, value=f"{v:g}", color=c, alpha="255", label=f"{v:g} {label_units}".strip())
    _el("brightnesscontrast", pipe, brightness="0", contrast="0")
    _el("huesaturation", pipe, saturation="0", grayscaleMode="0", colorizeOn="0")
    _el("rasterresampler", pipe, maxOversampling="2")
    return _qgis_document(pipe)


# -- MapLibre -----------------------------------------------------------------------------------------------------

PX_PER_MM = 3.78


def _match(field_name: str, categories: dict[str, Symbol], attr: str, default: Any) -> Any:
    expr: list[Any] = ["match", ["to-string", ["get", field_name]]]
    for value, sym in categories.items():
        expr += [value, getattr(sym, attr) if attr != "px" else sym.size_mm * PX_PER_MM / 2]
    return [*expr, default]


def maplibre_layers(layer: str, family: Family, source: str, source_layer: str) -> list[dict[str, Any]]:
    """MapLibre GL style layers drawing ``layer`` (a vector-tile layer ``source_layer`` of ``source``) like QGIS.
    Ids are ``<layer>`` for the main layer and ``<layer>-outline`` for polygon outlines."""
    style = style_for(layer)
    sym = style.symbol
    common = {"source": source, "source-layer": source_layer}

    def paint(attr: str) -> Any:
        if style.field and style.categories:
            return _match(style.field, style.categories, attr, getattr(sym, attr))
        return getattr(sym, attr)

    if family == "polygon":
        outline_paint: dict[str, Any] = {"line-color": paint("outline"), "line-width": sym.outline_width_mm * PX_PER_MM}
        if sym.dash or any(c.dash for c in style.categories.values()):
            outline_paint["line-dasharray"] = [3, 2]
        return [
            {
                "id": layer,
                "type": "fill",
                **common,
                "paint": {"fill-color": paint("color"), "fill-opacity": paint("opacity")},
            },
            {"id": f"{layer}-outline", "type": "line", **common, "paint": outline_paint},
        ]
    if family == "line":
        line_paint: dict[str, Any] = {
            "line-color": paint("color"),
            "line-width": max(sym.width_mm * PX_PER_MM, 1.0),
            "line-opacity": paint("opacity"),
        }
        if sym.dash:
            line_paint["line-dasharray"] = [4, 2]
        return [
            {
                "id": layer,
                "type": "line",
                **common,
                "layout": {"line-cap": "round", "line-join": "round"},
                "paint": line_paint,
            }
        ]
    radius: Any = sym.size_mm * PX_PER_MM / 2
    if style.field and style.categories:
        radius = _match(style.field, style.categories, "px", radius)
    return [
        {
            "id": layer,
            "type": "circle",
            **common,
            "paint": {
                "circle-color": paint("color"),
                "circle-opacity": paint("opacity"),
                "circle-radius": radius,
                "circle-stroke-color": paint("outline"),
                "circle-stroke-width": max(sym.outline_width_mm * PX_PER_MM, 1.0),
            },
        }
    ]


def legend_entries(layer: str, family: Family, values: list[str] | None = None) -> list[dict[str, Any]]:
    """Legend rows ``{label, color, outline, family, opacity, dash}`` of ``layer``; for a categorised layer only the
    categories present in ``values`` (all when None)."""
    style = style_for(layer)

    def row(sym: Symbol, label: str) -> dict[str, Any]:
        return {
            "label": label,
            "color": sym.color,
            "outline": sym.outline,
            "family": family,
            "opacity": sym.opacity,
            "dash": sym.dash,
            "shape": sym.shape,
        }

    if style.field and style.categories:
        present = style.categories if values is None else {k: v for k, v in style.categories.items() if k in values}
        rows = [row(s, s.label or k) for k, s in present.items()]
        rows += [row(style.symbol, v) for v in sorted(set(values or []) - set(style.categories))]
        return rows
    return [row(style.symbol, style.title)]
