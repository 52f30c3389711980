"""The static web map of a publication: ``index.html`` + MapLibre GL JS + the PMTiles protocol, self-contained.

The page, its script and stylesheet are package data (``geodata/data/webmap/``); MapLibre GL JS and pmtiles come from
the npm registry (``package.json`` at the repository root, ``npm ci``) and are copied from ``node_modules`` into
``<out>/lib/`` with their licences, so the published folder needs no CDN and no network. The map style has no text
layers, hence no glyphs or sprites to fetch: KP labels and place names (landing stations, ports) are HTML markers
placed from the page's own KP index and place list, attributes live in the click popups, and the land/sea basemap
is the background (land) under the seabed sectors' union (sea). The style layers, legend rows and
colours come from :mod:`geodata.publish.styles`, the same palette as the QGIS styles in the GeoPackage.
"""

from __future__ import annotations

import functools
import html
import http.server
import io
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from geodata.errors import ConfigError, InputDataError
from geodata.publish import styles
from geodata.publish.tiles import TilesetInfo

NODE_MODULES_ENV = "CORRIDOR_NODE_MODULES"
LIB_FILES: dict[str, str] = {
    "maplibre-gl/dist/maplibre-gl.mjs": "maplibre-gl.mjs",
    "maplibre-gl/dist/maplibre-gl-worker.mjs": "maplibre-gl-worker.mjs",
    "maplibre-gl/dist/maplibre-gl-shared.mjs": "maplibre-gl-shared.mjs",
    "maplibre-gl/dist/maplibre-gl.css": "maplibre-gl.css",
    "maplibre-gl/LICENSE.txt": "LICENSE-maplibre-gl.txt",
    "pmtiles/dist/pmtiles.js": "pmtiles.js",
}
TEMPLATE_FILES = ("index.html", "webmap.js", "webmap.css")

# Draw order, bottom to top; layers not named here go just below the route.
DRAW_ORDER: tuple[str, ...] = (
    "seabed_sectors", "territorial_waters", "corridor", "boundary_lines", "hazards_polygons", "hazards_lines",
    "hazards", "hazards_points", "route", "kp_points", "rpl", "alter_courses", "crossings", "landing_stations",
)  # fmt: skip
HIDDEN_BY_DEFAULT: frozenset[str] = frozenset({"cost", "rpl", "monte_carlo_routes"})
INTERACTIVE_FAMILIES = ("point", "line")

# Basemap drawn from the publication's own data, no network: land is the map background, the sea the union of the
# seabed sectors (the Caspian water polygon split by state), under every other layer.
LAND_COLOR = "#efe8d8"
SEA_COLOR = "#cfe3ee"
BASEMAP_LAYER = "seabed_sectors"
KP_LABEL_ZOOMS: tuple[tuple[float, float], ...] = ((12.0, 1.0), (10.0, 5.0), (8.0, 10.0), (6.5, 50.0))
"""(minimum zoom, KP step in km) of the KP labels: every km from zoom 12, every 5 km from 10, and so on."""
PLACE_KINDS = ("landing_station", "port")


def kp_index(kp_points: Any) -> list[list[float]]:
    """``[[kp_km, lon, lat], ...]`` of the KP points (EPSG:4326), sorted by KP, rounded to the metre / 1e-6 deg: the
    web map's jump-to-KP and KP labels read it from the page, so they work before any tile has loaded."""
    if kp_points is None or not len(kp_points):
        return []
    gdf = kp_points.to_crs(4326) if kp_points.crs is not None else kp_points
    rows = [
        [round(float(kp), 3), round(float(g.x), 7), round(float(g.y), 7)]
        for kp, g in zip(gdf["kp_km"], gdf.geometry, strict=True)
        if g is not None and not g.is_empty
    ]
    return sorted(rows)


def place_names(*layers: Any) -> list[dict[str, Any]]:
    """Place names of the basemap: landing stations and ports (``name``, ``kind``, ``lon``, ``lat``) from layers with
    ``name`` and ``kind`` columns (the landing-station layer, the hazards)."""
    out: list[dict[str, Any]] = []
    for gdf in layers:
        if gdf is None or not len(gdf) or "name" not in gdf.columns:
            continue
        g4326 = gdf.to_crs(4326) if gdf.crs is not None else gdf
        kinds = g4326["kind"] if "kind" in g4326.columns else ["landing_station"] * len(g4326)
        for name, kind, geom in zip(g4326["name"], kinds, g4326.geometry, strict=True):
            if kind not in PLACE_KINDS or geom is None or geom.is_empty or not isinstance(name, str):
                continue
            pt = geom.representative_point()
            out.append({"name": name, "kind": kind, "lon": round(pt.x, 6), "lat": round(pt.y, 6)})
    return out


def _from_gpkg(folder: Path) -> tuple[Any, list[dict[str, Any]]]:
    """KP points and place names from the publication's ``corridor.gpkg`` when it is there (else none)."""
    gpkg = folder / "corridor.gpkg"
    if not gpkg.is_file():
        return None, []
    import pyogrio

    names = {str(row[0]) for row in pyogrio.list_layers(gpkg)}
    read = functools.partial(pyogrio.read_dataframe, gpkg)
    kp = read(layer="kp_points") if "kp_points" in names else None
    places = place_names(*(read(layer=n) for n in ("landing_stations", "hazards", "hazards_points") if n in names))
    return kp, places


@dataclass(frozen=True)
class RasterOverlay:
    """A raster tile archive shown on the map: its tiles, title and legend labels."""

    tiles: TilesetInfo
    title: str
    attribution: str = ""


REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (beside ``package.json``) of a source checkout or editable install."""


def node_modules_dir(override: Path | None = None) -> Path:
    """The ``node_modules`` holding maplibre-gl and pmtiles: ``override`` (the pipeline's ``CORRIDOR_NODE_MODULES``),
    else the repository root's (beside ``package.json``), else the working directory's."""
    candidates = [override] if override else []
    candidates += [REPO_ROOT / "node_modules", Path.cwd() / "node_modules"]
    for folder in candidates:
        if (folder / "maplibre-gl" / "dist" / "maplibre-gl.mjs").is_file() and (folder / "pmtiles").is_dir():
            return folder
    raise ConfigError(
        f"maplibre-gl and pmtiles are not installed (looked in {', '.join(map(str, candidates))}); run `npm ci` at "
        f"the repository root, or set {NODE_MODULES_ENV} to a node_modules folder holding them"
    )


def copy_libraries(out_dir: Path, node_modules: Path | None = None) -> list[Path]:
    """Copy the browser builds of MapLibre GL JS and pmtiles (with their licences) into ``out_dir/lib``."""
    node_modules = node_modules_dir(node_modules)
    lib = out_dir / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    copied = []
    for rel, name in LIB_FILES.items():
        src = node_modules / rel
        if not src.is_file():
            raise ConfigError(f"{src} is missing; reinstall the web-map packages with `npm ci` at the repository root")
        copied.append(Path(shutil.copy2(src, lib / name)))
    pm_licence = lib / "LICENSE-pmtiles.txt"
    pm_licence.write_text("pmtiles (npm package) - BSD-3-Clause licence, (c) Protomaps LLC. See the npm registry.\n")
    copied.append(pm_licence)
    return copied


def _ordered(layers: Sequence[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(DRAW_ORDER)}
    default = rank["route"] - 0.5
    return sorted(layers, key=lambda n: rank.get(n, default))


def build_config(
    *,
    title: str,
    subtitle: str,
    vector: TilesetInfo,
    vector_path: str,
    rasters: Mapping[str, tuple[RasterOverlay, str]],
    attribution: str,
    licence: str,
    provenance: str = "",
    kp: Sequence[Sequence[float]] = (),
    places: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The page's configuration: sources, MapLibre style layers (a land/sea basemap first), legend groups with
    toggles, popup layers, the KP index (jump to a KP, KP labels) and the place names."""
    if vector.kind != "vector":
        raise InputDataError(f"{vector.path} is a {vector.kind} tileset; pass the vector tiles as `vector`")
    sources: dict[str, Any] = {"corridor": {"type": "vector", "path": vector_path, "attribution": ""}}
    layers: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    interactive: list[str] = []
    for name, (overlay, path) in rasters.items():
        if overlay.tiles.kind != "raster":
            raise InputDataError(f"{overlay.tiles.path} is not a raster tileset; pass it under vector")
        sources[name] = {"type": "raster", "path": path, "attribution": overlay.attribution}
        visible = name not in HIDDEN_BY_DEFAULT
        layers.append({
            "id": name, "type": "raster", "source": name, "layout": {"visibility": "visible" if visible else "none"},
            "paint": {"raster-opacity": 1.0 if name == "bathymetry" else 0.8, "raster-resampling": "linear"},
            "maxzoom": 24,
        })  # fmt: skip
        stops = overlay.tiles.legend
        units = overlay.tiles.units
        ramp = {"stops": [[v, c] for v, c in stops], "labels": [f"{stops[0][0]:.4g}", f"{stops[-1][0]:.4g} {units}"]}
        groups.append({"id": name, "title": overlay.title, "visible": visible, "layerIds": [name], "legend": [],
                       "ramp": ramp})  # fmt: skip
    for name in _ordered(list(vector.layers)):
        family = vector.layers[name]  # type: ignore[assignment]
        style_layers = styles.maplibre_layers(name, family, "corridor", name)  # type: ignore[arg-type]
        visible = name not in HIDDEN_BY_DEFAULT
        for sl in style_layers:
            sl.setdefault("layout", {})["visibility"] = "visible" if visible else "none"
            titles[sl["id"]] = styles.style_for(name).title
        layers += style_layers
        if family in INTERACTIVE_FAMILIES or name == "corridor":
            interactive.append(name)
        legend = styles.legend_entries(name, family, vector.values.get(name))  # type: ignore[arg-type]
        base = _base(name)
        group = next((g for g in groups if g["id"] == base), None)
        if group is None:  # the parts of a split layer (hazards_points, hazards_lines) share one toggle
            group = {"id": base, "title": styles.style_for(name).title, "visible": visible, "layerIds": [],
                     "legend": []}  # fmt: skip
            groups.append(group)
        group["layerIds"] += [sl["id"] for sl in style_layers]
        group["legend"] = legend + group["legend"]
    # points on top of lines on top of areas for clicks: query order is the reverse draw order
    interactive = list(reversed(interactive))
    # the rasters are drawn first, the vector groups are listed top-down in the panel
    raster_groups = [g for g in groups if g.get("ramp")]
    vector_groups = [g for g in groups if not g.get("ramp")][::-1]
    if BASEMAP_LAYER in vector.layers:
        layers.insert(0, {"id": "basemap-sea", "type": "fill", "source": "corridor", "source-layer": BASEMAP_LAYER,
                          "paint": {"fill-color": SEA_COLOR, "fill-antialias": False}})  # fmt: skip
        legend = [
            {"label": "Sea (Caspian)", "family": "polygon", "color": SEA_COLOR, "outline": SEA_COLOR, "opacity": 1.0},
            {"label": "Land", "family": "polygon", "color": LAND_COLOR, "outline": LAND_COLOR, "opacity": 1.0},
        ]
        raster_groups.append(
            {"id": "basemap", "title": "Basemap", "visible": True, "layerIds": ["basemap-sea"], "legend": legend}
        )
    w, s, e, n = vector.bounds
    return {
        "title": title,
        "subtitle": subtitle,
        "bounds": [[w, s], [e, n]],
        "sources": sources,
        "layers": layers,
        "groups": vector_groups + raster_groups,
        "titles": titles,
        "interactive": interactive,
        "attribution": attribution,
        "licence": licence,
        "provenance": provenance,
        "land": LAND_COLOR,
        "kp": [list(row) for row in kp],
        "kpLabelZooms": [list(z) for z in KP_LABEL_ZOOMS],
        "places": [dict(p) for p in places],
    }


def write_webmap(
    out_dir: str | Path,
    *,
    title: str,
    vector: TilesetInfo,
    rasters: Mapping[str, RasterOverlay] | None = None,
    subtitle: str = "",
    attribution: str = "",
    licence: str = "",
    provenance: str = "",
    node_modules: Path | None = None,
    kp_points: Any = None,
    places: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write the static web map into ``out_dir`` (which must already hold the tile archives) and return the path of
    its ``index.html``.

    Parameters
    ----------
    out_dir
        The publication folder; tile paths in the page are relative to it.
    title, subtitle
        Shown in the panel and the page title.
    vector
        The vector tileset (:func:`geodata.publish.tiles.write_vector_tiles`) inside ``out_dir``.
    rasters
        Name (``bathymetry``, ``cost``) -> :class:`RasterOverlay` of raster tilesets inside ``out_dir``; ``cost`` and
        ``rpl`` start hidden, every layer has a toggle.
    attribution, licence, provenance
        Shown on the map (attribution control) and in the panel footer: credit the sources and state the terms.
    kp_points, places
        The KP points (``kp_km``, points) for jump-to-KP and the KP labels, and the place names
        (:func:`place_names`); by default both from ``out_dir/corridor.gpkg`` when it is there.
    """
    out = Path(out_dir)
    if kp_points is None or places is None:
        gpkg_kp, gpkg_places = _from_gpkg(out)
        kp_points = gpkg_kp if kp_points is None else kp_points
        places = gpkg_places if places is None else places
    rel = _relative(vector.path, out)
    raster_entries = {k: (v, _relative(v.tiles.path, out)) for k, v in (rasters or {}).items()}
    config = build_config(
        title=title, subtitle=subtitle, vector=vector, vector_path=rel, rasters=raster_entries,
        attribution=attribution, licence=licence, provenance=provenance, kp=kp_index(kp_points), places=places,
    )  # fmt: skip
    copy_libraries(out, node_modules)
    template = resources.files("geodata").joinpath("data/webmap")
    for name in TEMPLATE_FILES:
        text = template.joinpath(name).read_text(encoding="utf-8")
        if name == "index.html":
            # JSON inside <script>: no '<', '>' or '&' survives literally, so no user string can end the element or
            # open a comment; JSON.parse turns the escapes back into the characters
            blob = (
                json.dumps(config, ensure_ascii=False, allow_nan=False)
                .replace("<", "\\u003c")
                .replace(">", "\\u003e")
                .replace("&", "\\u0026")
            )
            values = {"__TITLE__": html.escape(title, quote=True), "__CONFIG_JSON__": blob}
            # one pass, so a placeholder inside a user string is never substituted
            text = re.sub("__TITLE__|__CONFIG_JSON__", functools.partial(_placeholder, values), text)
        (out / name).write_text(text, encoding="utf-8")
    return out / "index.html"


def _placeholder(values: Mapping[str, str], match: re.Match[str]) -> str:
    return values[match.group(0)]


def _base(name: str) -> str:
    for suffix in ("_points", "_lines", "_polygons"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise InputDataError(
            f"tile archive {path} is not inside the publication folder {root}; write the tiles there first"
        ) from None


# -- local preview server -----------------------------------------------------------------------------------------


class RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    """``http.server``'s file handler plus single-range ``Range: bytes=a-b`` requests, which PMTiles needs (the
    standard library's handler ignores Range). For previews on localhost; any web server with byte serving (nginx,
    Apache, object stores) serves a publication as it is."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not path.is_file():
            return super().send_head()
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
        size = path.stat().st_size
        if not match or (not match.group(1) and not match.group(2)):
            self.send_error(416, "only single byte ranges are supported")
            return None
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(data)


def serve(folder: str | Path, *, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """A threaded preview server of ``folder`` with byte ranges (call ``serve_forever()``; port 0 = any free port,
    read ``server.server_address``)."""
    handler = functools.partial(RangeRequestHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve_until_interrupted(server: http.server.ThreadingHTTPServer, folder: str | Path, echo: Any) -> None:
    """Say where ``server`` serves ``folder`` (through ``echo``), serve until Ctrl-C, then close the socket."""
    host, port = str(server.server_address[0]), int(server.server_address[1])
    echo(f"serving {folder} at http://{host}:{port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m geodata.publish.webmap PUBLICATION_FOLDER [PORT]``: preview a published web map on localhost."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit("usage: python -m geodata.publish.webmap PUBLICATION_FOLDER [PORT]")
    serve_until_interrupted(serve(args[0], port=int(args[1]) if len(args) > 1 else 8000), args[0], print)


if __name__ == "__main__":
    main()
