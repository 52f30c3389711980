"""Comparison jobs and their command line: scenarios side by side (``compare_job``) and a design against its
as-laid RPL (``as_laid_job``). Both read the live publications (``CORRIDOR_OUTPUT/<scenario>/latest``) and write
their own atomic publications (:mod:`geodata.publish.comparison`); each run records an asset materialisation
(``comparisons/<A>__vs__<B>``, ``as_laid/<scenario>``) with the summary as metadata.

Command line (the same functions, outside Dagster)::

    python -m pipelines.comparison compare siyazan-aktau sumgait-aktau
    python -m pipelines.comparison as-laid siyazan-aktau path/to/as_laid_rpl.csv
"""

import argparse
import uuid
from collections.abc import Sequence
from typing import Any

import dagster as dg

from assets.common import metadata
from assets.config import CorridorSettings, settings_from_env
from geodata.publish import comparison
from geodata.publish.atomic import PublishResult
from geodata.scenario import DEFAULT_SCENARIO, scenario_names

PACKAGED = sorted(scenario_names(), key=lambda n: (n != DEFAULT_SCENARIO, n))
"""The packaged scenarios, the default first: what ``compare_job`` compares unless told otherwise."""


class CompareConfig(dg.Config):  # type: ignore[misc]
    scenarios: list[str] = PACKAGED
    """Two to five published scenarios; the first is the reference of the KP translation and the distances."""
    hazard_distance_m: float = 2000.0
    """The metrics count the km of each route within this distance of each hazard kind."""


class AsLaidConfig(dg.Config):  # type: ignore[misc]
    scenario: str = DEFAULT_SCENARIO
    rpl_path: str
    """The as-laid (or as-surveyed) RPL: CSV or Excel in the project's RPL format, or a position log."""
    interval_m: float = 1000.0
    range_km: float = 10.0


def _summary(result: PublishResult) -> dict[str, Any]:
    return {
        "version_dir": str(result.version_dir),
        "files": sorted(f["path"] for f in result.manifest["files"]),
        "publish_time_s": round(result.elapsed_s, 2),
    }


def run_compare(settings: CorridorSettings, scenarios: Sequence[str], *, run_id: str, **kw: Any) -> PublishResult:
    return comparison.publish_comparison(
        settings.output_root, list(scenarios), run_id=run_id, node_modules=settings.node_modules,
        gdal_python=settings.gdal_python, **kw,
    )  # fmt: skip


def run_as_laid(settings: CorridorSettings, scenario: str, rpl_path: str, *, run_id: str, **kw: Any) -> PublishResult:
    return comparison.publish_as_laid(
        settings.output_root, scenario, rpl_path, run_id=run_id, gdal_python=settings.gdal_python, **kw
    )


@dg.op(description="Publish the comparison of two to five published scenarios (metrics, distances, KP translation, "
       "crossings differences, GeoPackage and web map).")  # fmt: skip
def compare_scenarios(context: dg.OpExecutionContext, config: CompareConfig, settings: CorridorSettings) -> None:
    result = run_compare(settings, config.scenarios, run_id=context.run_id, hazard_distance_m=config.hazard_distance_m)
    key = ["comparisons", comparison.comparison_name(config.scenarios)]
    context.log_event(dg.AssetMaterialization(asset_key=key, metadata=metadata(_summary(result))))


@dg.op(description="Publish a design route against its as-laid RPL: per-KP cross-course offset, KP translation, "
       "slack used against planned.")  # fmt: skip
def compare_as_laid(context: dg.OpExecutionContext, config: AsLaidConfig, settings: CorridorSettings) -> None:
    result = run_as_laid(
        settings, config.scenario, config.rpl_path, run_id=context.run_id, interval_m=config.interval_m,
        range_km=config.range_km,
    )  # fmt: skip
    context.log_event(
        dg.AssetMaterialization(asset_key=["as_laid", config.scenario], metadata=metadata(_summary(result)))
    )


@dg.job(description="Compare published scenarios (default: the packaged ones) and publish the comparison.")
def compare_job() -> None:
    compare_scenarios()


@dg.job(description="Compare a published design route with an as-laid RPL and publish the comparison.")
def as_laid_job() -> None:
    compare_as_laid()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.comparison", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="compare published scenarios (the first is the reference)")
    cmp.add_argument("scenarios", nargs="+", default=PACKAGED)
    cmp.add_argument("--hazard-distance-m", type=float, default=2000.0)
    lay = sub.add_parser("as-laid", help="compare a published design with an as-laid RPL")
    lay.add_argument("scenario")
    lay.add_argument("rpl_path")
    lay.add_argument("--interval-m", type=float, default=1000.0)
    lay.add_argument("--range-km", type=float, default=10.0)
    args = parser.parse_args(argv)
    settings = settings_from_env()
    run_id = f"cli-{uuid.uuid4().hex[:12]}"
    if args.command == "compare":
        result = run_compare(settings, args.scenarios, run_id=run_id, hazard_distance_m=args.hazard_distance_m)
    else:
        result = run_as_laid(
            settings, args.scenario, args.rpl_path, run_id=run_id, interval_m=args.interval_m, range_km=args.range_km
        )
    print(f"published {result.version_dir}")


if __name__ == "__main__":
    main()
