"""The mirror's hazard and infrastructure layers as one hazard table, with a report of what was done to them.

Layer -> kind, and the decisions taken on the real data (see SOURCES.md of the mirror):

=========================================  ==============  ==========================================================
``earthquakes_iscgem_v7``                   earthquake      one row per event, id = ISC event id, ``magnitude`` = Mw
                                                            (22 supplement events have no Mw: magnitude left empty)
``active_faults_gem_2021_harmonized_...``   fault           the newer harmonised traces are the geometry kept; each
``active_faults_gem_2017_attrs``                            takes the name and slip type of the 2017 trace it follows
                                                            (>= 50 % of its length within 5 km); a 2017 trace that no
                                                            2021 trace follows is kept as well, so no fault is lost
``pipelines_gem_routes``                    pipeline        one row per route feature (GEM project id in the name)
``submarine_cables_telegeography``          cable           schematic route
``shipping_network_searoute_marnet``        shipping_lane   one row per graph edge
``ports_searoute``                          port            records of one port (names alike, < 30 km apart, e.g.
                                                            Turkmenbashy/Turkmenbasy) merged into one MultiPoint that
                                                            keeps every listed position, as which is right is unknown
=========================================  ==============  ==========================================================

``cable_landing_points_telegeography`` is not a hazard (landing points) and is not read.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from geodata.errors import InputDataError
from geodata.geodesy import GEOD, densify_frame
from geodata.hazards.schema import (
    RULE_FIELDS,
    _is_blank,
    effective_rules,
    empty_hazards,
    hazard_summary,
    repair_geometries,
    validate_hazards,
)
from geodata.scenario import HazardRule

HAZARDS_SOURCE = "hazards_caspian"
INFRASTRUCTURE_SOURCE = "infrastructure_caspian"
FAULTS_2017 = "active_faults_gem_2017_attrs"
FAULTS_2021 = "active_faults_gem_2021_harmonized_geomonly"
FAULT_MATCH_DISTANCE_M = 5000.0
FAULT_MATCH_SHARE = 0.5
PORT_MERGE_DISTANCE_M = 30_000.0
PORT_NAME_SIMILARITY = 0.85


@dataclass(frozen=True)
class _Layer:
    source: str
    layer: str
    kind: str
    licence: str
    attribution: str


_ISC = _Layer(
    HAZARDS_SOURCE,
    "earthquakes_iscgem_v7",
    "earthquake",
    "CC-BY-SA 3.0",
    "ISC-GEM Global Instrumental Earthquake Catalogue v7.0, (c) ISC and GEM Foundation (Storchak et al. 2013, "
    "2015; Di Giacomo et al. 2018)",
)
_GAF_ATTRIBUTION = "GEM Global Active Faults Database (Styron & Pagani 2020, Earthquake Spectra)"
_F17 = _Layer(HAZARDS_SOURCE, FAULTS_2017, "fault", "CC-BY-SA 4.0", _GAF_ATTRIBUTION)
_F21 = _Layer(HAZARDS_SOURCE, FAULTS_2021, "fault", "CC-BY-SA 4.0", _GAF_ATTRIBUTION)
_PIPES = _Layer(
    INFRASTRUCTURE_SOURCE,
    "pipelines_gem_routes",
    "pipeline",
    "not stated in the repository (GEM publishes its trackers under CC BY 4.0; not verified)",
    "Global Energy Monitor, GOIT/GGIT pipeline routes",
)
_CABLES = _Layer(
    INFRASTRUCTURE_SOURCE,
    "submarine_cables_telegeography",
    "cable",
    "CC BY-NC-SA 3.0 (non-commercial)",
    "TeleGeography Submarine Cable Map (snapshot 2021-06-29)",
)
_SEAROUTE_LICENCE = "Apache-2.0 (searoute package); upstream Eurostat MARNET licence not checked"
_LANES = _Layer(
    INFRASTRUCTURE_SOURCE,
    "shipping_network_searoute_marnet",
    "shipping_lane",
    _SEAROUTE_LICENCE,
    "Eurostat SeaRoute MARNET network via the searoute package",
)
_PORTS = _Layer(INFRASTRUCTURE_SOURCE, "ports_searoute", "port", _SEAROUTE_LICENCE, "searoute package port list")
MIRROR_LAYERS: dict[str, str] = {spec.layer: spec.kind for spec in (_ISC, _F17, _F21, _PIPES, _CABLES, _LANES, _PORTS)}


def load_mirror_hazards(
    hazards_gpkg_path: str | Path,
    infrastructure_gpkg_path: str | Path,
    *,
    rules: Mapping[str, HazardRule] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Read the mirror's earthquakes, faults, pipelines, cable, shipping network and ports into the hazard table.

    Parameters
    ----------
    hazards_gpkg_path
        ``hazards_caspian.gpkg`` (catalogue source ``hazards_caspian``).
    infrastructure_gpkg_path
        ``infrastructure_caspian.gpkg`` (catalogue source ``infrastructure_caspian``).
    rules
        Rule of each kind (:func:`effective_rules`); default the packaged defaults.
    provenance
        What to record about the files, e.g. ``{"hazards_caspian": resolved.provenance(), ...}``; copied into the
        report as it is.

    Returns
    -------
    tuple
        ``(table, report)``. ``report`` holds ``counts_by_kind``, per-layer ``layers`` (features read and kept,
        licence), ``repaired`` and ``dropped`` (one record each, with the reason), ``merged`` (fault and port
        de-duplication), ``warnings`` and ``provenance``.

    Raises
    ------
    InputDataError
        A file is missing, corrupt or lacks an expected layer; a layer has no CRS.
    """
    rules = dict(rules) if rules is not None else effective_rules()
    report: dict[str, Any] = {
        "counts_by_kind": {},
        "layers": {},
        "repaired": [],
        "dropped": [],
        "merged": [],
        "warnings": [],
        "provenance": dict(provenance or {}),
    }
    paths = {HAZARDS_SOURCE: Path(hazards_gpkg_path), INFRASTRUCTURE_SOURCE: Path(infrastructure_gpkg_path)}
    frames = {
        spec.layer: _read_layer(paths[spec.source], spec, report)
        for spec in (_ISC, _F17, _F21, _PIPES, _CABLES, _LANES, _PORTS)
    }
    rows: list[dict[str, Any]] = []
    rows += _earthquakes(frames[_ISC.layer], rules)
    rows += _faults(frames[_F17.layer], frames[_F21.layer], rules, report)
    rows += _simple(frames[_PIPES.layer], _PIPES, rules, _pipeline_fields)
    rows += _simple(frames[_CABLES.layer], _CABLES, rules, _cable_fields)
    rows += _simple(frames[_LANES.layer], _LANES, rules, _lane_fields)
    rows += _ports(frames[_PORTS.layer], rules, report)
    if not rows:
        table = empty_hazards()
    else:
        gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        table = validate_hazards(
            gdf,
            f"mirror layers of {paths[HAZARDS_SOURCE].name} and {paths[INFRASTRUCTURE_SOURCE].name}",
            row_labels=list(gdf["hazard_id"]),
        )
    report["counts_by_kind"] = {k: v for k, v in hazard_summary(table)["by_kind"].items() if v}
    for layer, info in report["layers"].items():
        source_name = f"{info['source']}/{layer}"
        info["kept"] = int((table["source"] == source_name).sum())
    return table, report


# -- reading ----------------------------------------------------------------------------------------------------------


def _read_layer(path: Path, spec: _Layer, report: dict[str, Any]) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise InputDataError(
            f"mirror file {path} does not exist; resolve it with geodata.catalogue.resolve"
            f"('{spec.source}') or set CORRIDOR_MIRROR to the mirror folder"
        )
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise InputDataError(
            f"mirror file {path} cannot be read ({str(exc).splitlines()[0]}); it is corrupt or not a "
            f"GeoPackage: fetch it again (catalogue source '{spec.source}')"
        ) from None
    if spec.layer not in layers:
        raise InputDataError(
            f"mirror file {path} has no layer '{spec.layer}' (layers: {', '.join(layers)}); it is "
            f"not the catalogued version of '{spec.source}': fetch it again and check its sha256"
        )
    try:
        frame = pyogrio.read_dataframe(path, layer=spec.layer, fid_as_index=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FeatureError) as exc:
        raise InputDataError(
            f"mirror file {path}, layer '{spec.layer}', cannot be read ({exc}); fetch it again"
        ) from None
    info: dict[str, Any] = {"source": spec.source, "kind": spec.kind, "read": len(frame), "licence": spec.licence}
    report["layers"][spec.layer] = info
    if frame.crs is None:
        raise InputDataError(
            f"mirror file {path}, layer '{spec.layer}', has no CRS; the mirror layers are EPSG:4326: "
            "fetch the file again"
        )
    # lines drawn straight in the source CRS (a 543 km pipeline segment in EPSG:4326) keep that course in every CRS
    # they are reprojected to (the analysis UTM zone, EPSG:4326, Web Mercator): densified before any reprojection
    frame = densify_frame(frame)
    crs = CRS.from_user_input(frame.crs)
    if not crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        frame = frame.to_crs("EPSG:4326")
        report["warnings"].append(f"{spec.layer}: reprojected from {crs.to_string()} to EPSG:4326")
    if len(frame) == 0:
        report["warnings"].append(f"{spec.layer}: the layer is empty, so no {spec.kind} hazard comes from it")
        return frame
    labels = [f"{spec.source}:{spec.layer}:{fid}" for fid in frame.index]
    kept, repaired, dropped = repair_geometries(frame, labels=labels)
    report["repaired"].extend(repaired)
    report["dropped"].extend(dropped)
    return kept


def _base(spec: _Layer, key: Any, rule: HazardRule) -> dict[str, Any]:
    return {
        "hazard_id": f"{spec.source}:{spec.layer}:{key}",
        "kind": spec.kind,
        "source": f"{spec.source}/{spec.layer}",
        "licence": spec.licence,
        "attribution": spec.attribution,
        "magnitude": None,
        **{f: getattr(rule, f) for f in RULE_FIELDS},
    }


def _text(value: Any) -> str | None:
    return None if _is_blank(value) else str(value).strip()


# -- per layer --------------------------------------------------------------------------------------------------------


def _earthquakes(frame: gpd.GeoDataFrame, rules: Mapping[str, HazardRule]) -> list[dict[str, Any]]:
    rows = []
    for fid, rec in frame.iterrows():
        mw = pd.to_numeric(pd.Series([rec.get("mw")]), errors="coerce").iloc[0]
        date = str(rec.get("origin_time") or "")[:10]
        key = rec.get("eventid") if not _is_blank(rec.get("eventid")) else f"fid{fid}"
        row = _base(_ISC, key, rules["earthquake"])
        mag_text = f"Mw {mw:.2f}" if not math.isnan(mw) else "Mw unknown"
        row["name"] = f"{mag_text}, {date}"
        row["magnitude"] = None if math.isnan(mw) else float(mw)
        parts = [
            str(rec.get("catalogue") or "ISC-GEM v7.0"),
            f"depth {rec.get('depth_km')} km",
            f"location quality {rec.get('loc_quality')}",
        ]
        parts.append(
            f"Mw {rec.get('mw_type')}, quality {rec.get('mw_quality')}"
            if not math.isnan(mw)
            else f"no Mw in the catalogue (quality {rec.get('mw_quality')}); weighted as the catalogue floor"
        )
        row["remarks"] = "; ".join(parts)
        row["geometry"] = rec.geometry
        rows.append(row)
    return rows


def _local_metric_crs(*frames: gpd.GeoDataFrame) -> CRS:
    bounds = np.array([f.total_bounds for f in frames if len(f)])
    lon = float((bounds[:, 0].min() + bounds[:, 2].max()) / 2)
    lat = float((bounds[:, 1].min() + bounds[:, 3].max()) / 2)
    return CRS.from_proj4(f"+proj=aeqd +lat_0={lat:.4f} +lon_0={lon:.4f} +datum=WGS84 +units=m")


def _faults(
    f17: gpd.GeoDataFrame, f21: gpd.GeoDataFrame, rules: Mapping[str, HazardRule], report: dict[str, Any]
) -> list[dict[str, Any]]:
    rule = rules["fault"]
    rows: list[dict[str, Any]] = []
    if len(f21) == 0 and len(f17) == 0:
        return rows
    metric = _local_metric_crs(*(f for f in (f17, f21) if len(f)))
    g17 = list(f17.to_crs(metric).geometry.values) if len(f17) else []
    g21 = list(f21.to_crs(metric).geometry.values) if len(f21) else []
    buf17 = [g.buffer(FAULT_MATCH_DISTANCE_M) for g in g17]
    tree17 = shapely.STRtree(buf17) if buf17 else None
    matched17: set[int] = set()
    attributed = 0
    for fid, geom in zip(f21.index, g21, strict=True):
        best, share = None, 0.0
        if tree17 is not None and geom.length > 0:
            for j in tree17.query(geom):
                s = geom.intersection(buf17[j]).length / geom.length
                if s > share:
                    best, share = int(j), s
        row = _base(_F21, fid, rule)
        if best is not None and share >= FAULT_MATCH_SHARE:
            attributed += 1
            matched17.add(best)
            old = f17.iloc[best]
            row["name"] = _text(old.get("name"))
            row["remarks"] = (
                f"GEM 2021 harmonised trace; attributes of 2017 trace fid {f17.index[best]} "
                f"({share:.0%} of this trace within {FAULT_MATCH_DISTANCE_M / 1000:g} km): "
                f"{_fault_attributes(old)}"
            )
        else:
            row["name"] = None
            row["remarks"] = "GEM 2021 harmonised trace with no 2017 counterpart: name and slip type unknown"
        row["geometry"] = f21.geometry.loc[fid]
        rows.append(row)
    union21 = shapely.union_all([g.buffer(FAULT_MATCH_DISTANCE_M) for g in g21]) if g21 else None
    kept17 = []
    for (fid, rec), geom in zip(f17.iterrows(), g17, strict=True):
        covered = geom.intersection(union21).length / geom.length if union21 is not None and geom.length else 0.0
        if covered >= FAULT_MATCH_SHARE:
            continue
        row = _base(_F17, fid, rule)
        row["name"] = _text(rec.get("name"))
        row["remarks"] = (
            f"GEM 2017 trace that no 2021 trace follows (only {covered:.0%} within "
            f"{FAULT_MATCH_DISTANCE_M / 1000:g} km): kept; {_fault_attributes(rec)}"
        )
        row["geometry"] = rec.geometry
        rows.append(row)
        kept17.append(f"{fid}")
    report["merged"].append(
        {
            "kind": "fault",
            "rule": (
                f"2021 harmonised traces kept ({len(g21)}); a 2021 trace takes the attributes of the 2017 trace it "
                f"follows (>= {FAULT_MATCH_SHARE:.0%} of its length within {FAULT_MATCH_DISTANCE_M / 1000:g} km); "
                "2017 traces not followed by any 2021 trace are kept too"
            ),
            "fault_2021_kept": len(g21),
            "fault_2021_with_2017_attributes": attributed,
            "fault_2017_replaced_by_2021": len(g17) - len(kept17),
            "fault_2017_kept_as_well": kept17,
        }
    )
    return rows


def _fault_attributes(rec: pd.Series) -> str:
    parts = []
    for key, label in (
        ("slip_type", "slip"),
        ("average_dip", "dip"),
        ("average_rake", "rake"),
        ("catalog_name", "catalogue"),
    ):
        value = _text(rec.get(key))
        if value is not None:
            parts.append(f"{label} {value}")
    return ", ".join(parts) or "no attributes"


def _pipeline_fields(fid: Any, rec: pd.Series) -> dict[str, Any]:
    project = _text(rec.get("project_id")) or f"fid {fid}"
    category = {"gas-pipelines": "gas", "liquid-pipelines": "oil/liquids"}.get(
        str(rec.get("category")), _text(rec.get("category")) or "?"
    )
    crosses = rec.get("crosses_caspian_water")
    where = "crosses Caspian water" if crosses is True or str(crosses).lower() in ("1", "true") else "onshore route"
    return {
        "key": fid,
        "name": f"GEM {project} ({category})",
        "remarks": f"{where}; route only, status/name not in the mirror (may be a proposed project)",
    }


def _cable_fields(fid: Any, rec: pd.Series) -> dict[str, Any]:
    extra = [
        f"{label} {_text(rec.get(key))}"
        for key, label in (("rfs", "RFS"), ("owners", "owners"), ("length", "length"))
        if _text(rec.get(key))
    ]
    return {
        "key": _text(rec.get("slug")) or fid,
        "name": _text(rec.get("name")),
        "remarks": "; ".join([_text(rec.get("note")) or "schematic route", *extra]),
    }


def _lane_fields(fid: Any, rec: pd.Series) -> dict[str, Any]:
    passage = _text(rec.get("passage"))
    return {
        "key": fid,
        "name": f"MARNET edge {fid}" + (f" ({passage})" if passage else ""),
        "remarks": "coarse shipping routing-graph edge, not an AIS lane",
    }


def _simple(
    frame: gpd.GeoDataFrame,
    spec: _Layer,
    rules: Mapping[str, HazardRule],
    fields: Callable[[Any, pd.Series], dict[str, Any]],
) -> list[dict[str, Any]]:
    rows = []
    for fid, rec in frame.iterrows():
        extra = fields(fid, rec)
        row = _base(spec, extra.pop("key"), rules[spec.kind])
        row.update(extra)
        row["geometry"] = rec.geometry
        rows.append(row)
    return rows


def _port_key(name: Any) -> str:
    return re.sub(r"[^a-z]", "", str(name or "").lower())


def _ports(frame: gpd.GeoDataFrame, rules: Mapping[str, HazardRule], report: dict[str, Any]) -> list[dict[str, Any]]:
    n = len(frame)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pts = [(g.centroid.x, g.centroid.y) for g in frame.geometry.values]
    names = [_port_key(v) for v in frame.get("name", pd.Series([None] * n))]
    for i in range(n):
        for j in range(i + 1, n):
            distance = GEOD.inv(pts[i][0], pts[i][1], pts[j][0], pts[j][1])[2]
            alike = names[i] and difflib.SequenceMatcher(None, names[i], names[j]).ratio() >= PORT_NAME_SIMILARITY
            if alike and distance <= PORT_MERGE_DISTANCE_M:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    rows = []
    for members in groups.values():
        recs = [frame.iloc[i] for i in members]
        codes = [_text(r.get("port")) or f"fid{frame.index[i]}" for r, i in zip(recs, members, strict=True)]
        names_here = list(dict.fromkeys(_text(r.get("name")) or "?" for r in recs))
        row = _base(_PORTS, "+".join(codes), rules["port"])
        row["name"] = " / ".join(names_here)
        country = _text(recs[0].get("cty"))
        if len(members) == 1:
            row["remarks"] = f"{country or 'country unknown'}; port code {codes[0]}"
            row["geometry"] = recs[0].geometry
        else:
            distance = max(GEOD.inv(*pts[a], *pts[b])[2] for a in members for b in members)
            row["geometry"] = shapely.MultiPoint([pts[i] for i in members])
            row["remarks"] = (
                f"{country or 'country unknown'}; {len(members)} records of one port ({', '.join(codes)}) "
                f"{distance / 1000:.1f} km apart: every listed position kept, as which is right is "
                "unknown"
            )
            report["merged"].append(
                {
                    "kind": "port",
                    "kept": row["hazard_id"],
                    "records": codes,
                    "names": names_here,
                    "distance_km": round(distance / 1000, 2),
                    "rule": f"names alike (>= {PORT_NAME_SIMILARITY:.0%}) and < "
                    f"{PORT_MERGE_DISTANCE_M / 1000:g} km apart: one MultiPoint",
                }
            )
        rows.append(row)
    return rows


def report_json(report: Mapping[str, Any]) -> str:
    """The report as indented JSON (for Dagster metadata or a log)."""
    return json.dumps(report, indent=2, default=str)
