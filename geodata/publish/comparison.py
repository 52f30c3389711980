"""Comparison publications: scenarios side by side, and a design against its as-laid route.

Both read what was *published* (``<output>/<scenario>/latest/``: ``rpl.csv``, ``rpl_segments.csv``,
``route_profile.csv``, ``corridor.gpkg`` and ``manifest.json``), so they compare the products the analysts and the
surveyors received, whatever code version made them. Each writes its own atomic, versioned publication
(:func:`geodata.publish.atomic.publish`) whose manifest inherits the licence terms of every input of the
publications it compares:

- ``<output>/_comparisons/<A>__vs__<B>[...]/``: ``comparison.gpkg`` (``compared_routes`` overlaid, ``kp_translation``
  points on the first route, every route's ``crossings``), ``metrics.csv``, ``kp_translation.csv``,
  ``crossings_diff.csv`` (which route crosses which feature) and a web map of all routes overlaid;
- ``<output>/_as_laid/<scenario>/``: ``as_laid.gpkg`` (the design route, the as-laid route and the per-KP offsets),
  ``as_laid_offsets.csv`` and ``as_laid_ranges.csv``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geodata.deliverables import aslaid
from geodata.deliverables.compare import RouteRecord, kp_translation, metrics_table
from geodata.deliverables.formats import write_csv
from geodata.errors import InputDataError
from geodata.publish import tiles, webmap
from geodata.publish.atomic import LATEST, MANIFEST, PublishResult, combine_licences, publish
from geodata.publish.gpkg import LayerMeta, validate_gpkg, write_gpkg
from geodata.sources.provenance import InputRecord

COMPARISONS = "_comparisons"
AS_LAID = "_as_laid"
"""Folders under the output root (a leading underscore: no scenario name can take them)."""
COMPARISON_LAYERS = ("compared_routes", "kp_translation")
AS_LAID_LAYERS = ("design_route", "as_laid_route", "as_laid_offsets")
MAX_ROUTES = 5
"""Routes in one comparison (the ``compared_routes`` style has a colour for each)."""


@dataclass
class Published:
    """One scenario's publication as a comparison reads it."""

    record: RouteRecord
    manifest: dict[str, Any]
    folder: Path

    @property
    def inputs(self) -> list[InputRecord]:
        return [InputRecord.from_mapping(r) for r in self.manifest.get("inputs", [])]

    @property
    def digest(self) -> str:
        return str(self.manifest.get("scenario", {}).get("digest", ""))


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig")


def _hazards(gpkg: Path) -> gpd.GeoDataFrame | None:
    names = [n for n, _ in pyogrio.list_layers(gpkg) if n == "hazards" or n.startswith("hazards_")]
    parts = [gpd.read_file(gpkg, layer=n) for n in names]
    parts = [p[["kind", "geometry"]] for p in parts if len(p) and "kind" in p]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326") if parts else None


def read_publication(output_root: str | Path, scenario: str) -> Published:
    """The live publication of ``scenario`` under ``output_root`` as a :class:`RouteRecord`."""
    folder = Path(output_root) / scenario / LATEST
    needed = ["rpl.csv", "rpl_segments.csv", "route_profile.csv", "corridor.gpkg", MANIFEST]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise InputDataError(
            f"scenario {scenario} has no complete publication in {folder} (missing {', '.join(missing)}); publish it "
            f"first: make run SCENARIO={scenario}"
        )
    positions = aslaid.read_rpl(folder / "rpl.csv")
    record = aslaid.rpl_record(positions, scenario)
    gpkg = folder / "corridor.gpkg"
    route = gpd.read_file(gpkg, layer="route")
    record.segments = _read_csv(folder / "rpl_segments.csv")
    record.profile = _read_csv(folder / "route_profile.csv")
    record.crossings = gpd.read_file(gpkg, layer="crossings")
    record.cost = float(route["cost"].iloc[0]) if "cost" in route and len(route) else float("nan")
    record.hazards = _hazards(gpkg)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return Published(record, manifest, folder.resolve())


def comparison_name(scenarios: Sequence[str]) -> str:
    return "__vs__".join(scenarios)


def combined_digest(published: Sequence[Published]) -> str:
    """sha256 of the compared publications' scenario digests, in order (the comparison's own digest)."""
    return hashlib.sha256("|".join(p.digest for p in published).encode()).hexdigest()


def crossings_diff(records: Sequence[RouteRecord]) -> pd.DataFrame:
    """One row per crossed feature (``feature_id``, else kind and name): its kind and name, and for each route
    whether and at which KP it crosses it."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        cr = rec.crossings if rec.crossings is not None else pd.DataFrame()
        for _, c in cr.iterrows():
            key = (str(c.get("kind", "")), str(c.get("feature_id") or c.get("name", "")))
            row = rows.setdefault(key, {"kind": key[0], "feature": str(c.get("name", key[1]))})
            row[f"{rec.name}_kp_km"] = float(c["kp_km"]) if "kp_km" in c else float("nan")
    frame = pd.DataFrame(list(rows.values()))
    for rec in records:
        col = f"{rec.name}_kp_km"
        if col not in frame:
            frame[col] = np.nan
    if len(frame):
        crossed = np.column_stack([frame[f"{r.name}_kp_km"].notna() for r in records])
        frame["crossed_by"] = [
            "all" if row.all() else ", ".join(r.name for r, x in zip(records, row, strict=True) if x) for row in crossed
        ]
        frame = frame.sort_values(["crossed_by", "kind", "feature"]).reset_index(drop=True)
    return frame


def _routes_layer(records: Sequence[RouteRecord], metrics: pd.DataFrame) -> gpd.GeoDataFrame:
    by = {str(m): row for m, row in zip(metrics["metric"], metrics.to_dict("records"), strict=True)}
    columns = ("length_km", "cable_length_km", "cost", "hausdorff_from_first_km", "frechet_from_first_km")
    rows = []
    for i, rec in enumerate(records, start=1):
        row: dict[str, Any] = {"scenario": rec.name, "order": str(i)}
        row |= {c: float(by[c][rec.name]) for c in columns}
        row["crossing_count"] = int(by["crossing_count"][rec.name])
        rows.append({**row, "geometry": rec.line})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _points(frame: pd.DataFrame, lon: str = "lon_deg", lat: str = "lat_deg") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame[lon], frame[lat]), crs="EPSG:4326")


def _meta(title: str, abstract: str, terms: Any, source: str) -> LayerMeta:
    return LayerMeta(title, abstract, source, terms.statement, terms.attribution)


def _webmap(
    folder: Path, layers: Mapping[str, gpd.GeoDataFrame], title: str, terms: Any, node_modules: Path | None
) -> None:
    (folder / "tiles").mkdir(exist_ok=True)
    vec = tiles.write_vector_tiles(
        {k: v for k, v in layers.items() if len(v)}, folder / "tiles" / "comparison.pmtiles", name="comparison"
    )
    webmap.write_webmap(
        folder, title=title, vector=vec, licence=terms.statement, attribution=terms.attribution,
        node_modules=node_modules,
    )  # fmt: skip


def build_comparison(
    folder: Path,
    published: Sequence[Published],
    *,
    hazard_distance_m: float = 2000.0,
    interval_m: float = 1000.0,
    node_modules: Path | None = None,
) -> dict[str, Any]:
    """Write the comparison of ``published`` (two to :data:`MAX_ROUTES` scenarios) into ``folder`` and return its
    summary (the metrics table as records)."""
    if not 2 <= len(published) <= MAX_ROUTES:
        raise InputDataError(f"compare 2 to {MAX_ROUTES} scenarios, got {len(published)}")
    records = [p.record for p in published]
    metrics = metrics_table(records, hazard_distance_m=hazard_distance_m)
    first = records[0]
    translations = []
    for other in records[1:]:
        tr = kp_translation(first.line, other.line, interval_m=interval_m)
        tr.insert(0, "other", other.name)
        translations.append(tr)
    translation = pd.concat(translations, ignore_index=True)
    diff = crossings_diff(records)
    write_csv(metrics, folder / "metrics.csv")
    write_csv(translation, folder / "kp_translation.csv")
    write_csv(diff, folder / "crossings_diff.csv")
    crossings = [
        gpd.GeoDataFrame(r.crossings[["kind", "name", "kp_km", "geometry"]].assign(scenario=r.name), crs="EPSG:4326")
        for r in records
        if r.crossings is not None and len(r.crossings)
    ]
    layers = {
        "compared_routes": _routes_layer(records, metrics),
        "kp_translation": _points(translation.rename(columns={"other": "other_scenario"})),
    }
    if crossings:
        layers["crossings"] = gpd.GeoDataFrame(pd.concat(crossings, ignore_index=True), crs="EPSG:4326")
    terms = combine_licences([r for p in published for r in p.inputs])
    names = ", ".join(r.name for r in records)
    source = f"caspian-corridor publications of {names}"
    meta = {
        "compared_routes": _meta(
            f"Routes compared: {names}", "Each scenario's published route with its metrics.", terms, source
        ),
        "kp_translation": _meta(
            f"KP translation from {first.name}",
            f"For each KP of {first.name}, the nearest point of the other route, its KP and the cross-track offset "
            "(m, + to starboard of the first route).",
            terms,
            source,
        ),
        "crossings": _meta("Crossings of every route", "Each route's crossings, by scenario.", terms, source),
    }
    write_gpkg(folder / "comparison.gpkg", layers, metadata=meta, required=COMPARISON_LAYERS)
    _webmap(folder, layers, f"Comparison: {names}", terms, node_modules)
    return {
        "routes": names,
        "metrics": metrics.to_dict("records"),
        "crossings_not_shared": int((diff["crossed_by"] != "all").sum()) if len(diff) else 0,
    }


def validate_comparison(folder: Path, *, gdal_python: str = "/usr/bin/python3") -> None:
    """Raise :class:`InputDataError` listing what is wrong with a built comparison publication."""
    problems = validate_gpkg(folder / "comparison.gpkg", expect_layers=COMPARISON_LAYERS, gdal_python=gdal_python)
    for name in ("metrics.csv", "kp_translation.csv", "crossings_diff.csv", "index.html"):
        if not (folder / name).is_file():
            problems.append(f"{name} is missing")
    if problems:
        raise InputDataError(f"comparison in {folder} is invalid:\n  - " + "\n  - ".join(problems))


def build_as_laid(
    folder: Path,
    design: Published,
    as_laid: RouteRecord,
    *,
    interval_m: float = 1000.0,
    range_km: float = 10.0,
) -> dict[str, Any]:
    """Write the design-against-as-laid comparison into ``folder`` and return its summary."""
    result = aslaid.compare_as_laid(design.record, as_laid, interval_m=interval_m, range_km=range_km)
    write_csv(result.offsets, folder / "as_laid_offsets.csv")
    write_csv(result.ranges, folder / "as_laid_ranges.csv")
    terms = combine_licences(design.inputs)
    source = f"caspian-corridor publication of {design.record.name} and the as-laid RPL {as_laid.name}"
    layers = {
        "design_route": gpd.GeoDataFrame(
            {"name": [design.record.name]}, geometry=[design.record.line], crs="EPSG:4326"
        ),
        "as_laid_route": gpd.GeoDataFrame({"name": [as_laid.name]}, geometry=[as_laid.line], crs="EPSG:4326"),
        "as_laid_offsets": _points(result.offsets),
    }
    meta = {
        "design_route": _meta("Design route", "The published design route, station to station.", terms, source),
        "as_laid_route": _meta("As-laid route", "The route through the as-laid RPL's positions.", terms, source),
        "as_laid_offsets": _meta(
            "Design against as-laid, per KP",
            "For each design KP: the nearest as-laid point, its KP and the cross-course offset (m, + to starboard).",
            terms,
            source,
        ),
    }
    write_gpkg(folder / "as_laid.gpkg", layers, metadata=meta, required=AS_LAID_LAYERS)
    return {"design": design.record.name, "as_laid": as_laid.name, **result.summary()}


def validate_as_laid(folder: Path, *, gdal_python: str = "/usr/bin/python3") -> None:
    problems = validate_gpkg(folder / "as_laid.gpkg", expect_layers=AS_LAID_LAYERS, gdal_python=gdal_python)
    for name in ("as_laid_offsets.csv", "as_laid_ranges.csv"):
        if not (folder / name).is_file():
            problems.append(f"{name} is missing")
    if problems:
        raise InputDataError(f"as-laid comparison in {folder} is invalid:\n  - " + "\n  - ".join(problems))


def publish_comparison(
    output_root: str | Path,
    scenarios: Sequence[str],
    *,
    run_id: str,
    node_modules: Path | None = None,
    gdal_python: str = "/usr/bin/python3",
    keep_versions: int = 3,
    hazard_distance_m: float = 2000.0,
) -> PublishResult:
    """Read the live publications of ``scenarios`` and publish their comparison atomically under
    ``<output_root>/_comparisons/<A>__vs__<B>...`` (summary in the manifest's ``extra``)."""
    if len(set(scenarios)) != len(scenarios):
        raise InputDataError(f"scenarios to compare must be distinct, got {list(scenarios)}")
    published = [read_publication(output_root, s) for s in scenarios]
    summary: dict[str, Any] = {}

    def build(folder: Path) -> None:
        summary.update(
            build_comparison(folder, published, hazard_distance_m=hazard_distance_m, node_modules=node_modules)
        )

    return publish(
        comparison_name(scenarios),
        build,
        root=Path(output_root) / COMPARISONS,
        run_id=run_id,
        scenario_digest=combined_digest(published),
        inputs=[r for p in published for r in p.inputs],
        keep_versions=keep_versions,
        validate=lambda folder: validate_comparison(folder, gdal_python=gdal_python),
        extra={"compared": [{"scenario": p.record.name, "publication": str(p.folder)} for p in published]},
    )


def publish_as_laid(
    output_root: str | Path,
    scenario: str,
    rpl_path: str | Path,
    *,
    run_id: str,
    gdal_python: str = "/usr/bin/python3",
    keep_versions: int = 3,
    interval_m: float = 1000.0,
    range_km: float = 10.0,
) -> PublishResult:
    """Compare the live publication of ``scenario`` with the as-laid RPL ``rpl_path`` and publish the comparison
    atomically under ``<output_root>/_as_laid/<scenario>``."""
    design = read_publication(output_root, scenario)
    laid = aslaid.rpl_record(aslaid.read_rpl(rpl_path), Path(rpl_path).name)
    summary: dict[str, Any] = {}

    def build(folder: Path) -> None:
        summary.update(build_as_laid(folder, design, laid, interval_m=interval_m, range_km=range_km))

    sha = hashlib.sha256(Path(rpl_path).read_bytes()).hexdigest()
    return publish(
        scenario,
        build,
        root=Path(output_root) / AS_LAID,
        run_id=run_id,
        scenario_digest=hashlib.sha256(f"{design.digest}|{sha}".encode()).hexdigest(),
        inputs=design.inputs,
        keep_versions=keep_versions,
        validate=lambda folder: validate_as_laid(folder, gdal_python=gdal_python),
        extra={"design": str(design.folder), "as_laid_rpl": {"path": str(Path(rpl_path).resolve()), "sha256": sha}},
    )
