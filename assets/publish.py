"""Publish stage: the scenario's GeoPackage, CSVs, straight-line diagram, tiles, web map and manifest, built in a new
version folder, validated, then switched live in one atomic step (the previous publication stays intact otherwise).

It runs only when every blocking check upstream passed.
"""

import functools
from collections.abc import Iterator
from typing import Any

import dagster as dg
import geopandas as gpd

from assets.common import check_specs, metadata, run_snapshot
from assets.config import PARTITIONS, CorridorSettings
from geodata.cost import CostSurface
from geodata.deliverables.compose import RouteDeliverables
from geodata.engineering.compose import CorridorPolygons, EngineeredRoute
from geodata.engineering.montecarlo import MonteCarloResult
from geodata.grid import Raster
from geodata.publish import compose as publication
from geodata.publish import gpkg
from geodata.publish.atomic import publish

PUBLISH_CHECKS = {
    "gpkg_validated_by_gdal": "GDAL's own validate_gpkg.py checked the GeoPackage (a warning when it is not "
    "installed: the project's own checks still ran)."
}


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="publish",
    check_specs=check_specs("published_corridor", PUBLISH_CHECKS, blocking=False),
)
def published_corridor(
    context: dg.AssetExecutionContext,
    settings: CorridorSettings,
    engineered_route: EngineeredRoute,
    route_position_list: RouteDeliverables,
    straight_line_diagram: dict[str, bytes],
    route_corridor: CorridorPolygons,
    route_alternatives: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
    seabed_sectors: gpd.GeoDataFrame,
    boundary_lines: gpd.GeoDataFrame,
    territorial_waters: gpd.GeoDataFrame,
    bathymetry: Raster,
    sea_mask: Raster,
    cost_surface: CostSurface,
    route_robustness: MonteCarloResult,
) -> Iterator[Any]:
    """`published/<scenario>/`: a standards-clean, styled GeoPackage (route, corridor, RPL, A/Cs, KP points, crossings,
    hazards, sectors, boundaries, zones, landing stations, bathymetry and cost rasters; the Monte Carlo's passage
    frequency, robust corridor, KP robustness and routes), RPL, profile and route-robustness CSVs, the
    straight-line diagram, PMTiles and a static MapLibre web map, with a manifest of checksums, inputs and licences."""
    snap = run_snapshot(settings, context.partition_key, context.run)
    sc = snap.scenario
    catalogue = [settings.resolve(name, sc).record() for name in publication.input_source_names(sc)]
    inputs = [*catalogue, *(u.record() for u in snap.inputs)]
    content = publication.PublicationContent(
        sc,
        engineered_route,
        route_position_list,
        hazards,
        seabed_sectors,
        boundary_lines,
        territorial_waters,
        bathymetry,
        cost_surface,
        straight_line_diagram,
        inputs,
        corridor=route_corridor.polygons,
        alternatives=route_alternatives,
        montecarlo=route_robustness,
        node_modules=settings.node_modules,
        sea_mask=sea_mask,
        scenario_digest=snap.digest,
        memory_budget_bytes=settings.memory_budget_bytes,
        gdal_python=settings.gdal_python,
    )
    result = publish(
        sc.name,
        lambda folder: publication.build_publication(folder, content),
        root=settings.output_root,
        run_id=context.run.run_id,
        scenario_digest=snap.digest,
        inputs=inputs,
        keep_versions=sc.publish.keep_versions,
        validate=functools.partial(publication.validate_publication, gdal_python=settings.gdal_python),
        extra={
            **publication.manifest_extra(sc),
            "route_robustness": publication.robustness_summary(route_robustness, sc),
        },
    )
    files = {f["path"]: f["size_bytes"] for f in result.manifest["files"]}
    yield dg.Output(
        result,
        metadata=metadata(
            {
                "version_dir": dg.MetadataValue.path(str(result.version_dir)),
                "publish_time_s": round(result.elapsed_s, 2),
                "size_mb": round(result.size_bytes / 1e6, 2),
                "files_bytes": files,
                "licence": result.manifest.get("licence", {}),
            }
        ),
    )
    yield gdal_validation_check(settings.gdal_python)


def gdal_validation_check(gdal_python: str) -> dg.AssetCheckResult:
    """Whether GDAL's validator was available to the publication's validation (it is skipped when it is not)."""
    ran = gpkg.gdal_validator_command(gdal_python) is not None
    return dg.AssetCheckResult(
        check_name="gpkg_validated_by_gdal",
        passed=ran,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"validate_gpkg.py run by {gdal_python}"
        if ran
        else f"GDAL's validate_gpkg.py is not available to {gdal_python}; install it with `{gpkg.GDAL_APT_HINT}` "
        "or set CORRIDOR_GDAL_PYTHON to a Python that has osgeo_utils",
    )
