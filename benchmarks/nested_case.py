"""The nested survey case of the pipeline benchmark (issue #14): the regional 1 km default scenario plus a SYNTHETIC
survey grid in a corridor along its route, written as a scenario folder.

``build(workdir)`` materialises the regional stages up to ``least_cost_route`` once (in process, in a store under
``workdir``) to know where the route runs, writes a synthetic survey GeoTIFF (``geodata.bathymetry.synthetic``: the
regional surface plus seeded fractal detail, labelled synthetic in its name and tags) in a ``width_m`` corridor
along it, and a scenario file with a ``survey:`` section naming it. ``benchmarks/pipeline.py`` runs the returned
scenario like the others; the integration test (``tests/pipelines/test_nested_survey.py``) builds a small one.

Run on its own (a fresh process per case is the benchmark's job)::

    CORRIDOR_MIRROR=/work/shared/geodata-mirror python benchmarks/nested_case.py /tmp/nested --run
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from importlib import resources as pkg_resources
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BASE_SCENARIO = "siyazan-aktau"
DEFAULT_MIRROR = Path("/work/shared/geodata-mirror")


def _mirror() -> Path:
    env = os.environ.get("CORRIDOR_MIRROR")
    return Path(env) if env else DEFAULT_MIRROR


def _settings(root: Path, scenarios: Path) -> Any:
    from pipelines.runner import folder_settings

    return folder_settings(root, mirror=_mirror(), scenarios_dir=str(scenarios))


def base_scenario(overrides: dict[str, Any] | None = None, *, name: str) -> dict[str, Any]:
    """The packaged default scenario as a mapping, renamed and with ``overrides`` merged one level deep."""
    text = (pkg_resources.files("geodata") / "data" / "scenarios" / f"{BASE_SCENARIO}.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    data["name"] = name
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def regional_route(workdir: Path, scenario: dict[str, Any]) -> tuple[Any, Any]:
    """(regional depth Raster, route LineString in the analysis CRS) of ``scenario`` (materialised up to
    least_cost_route in a store under ``workdir/regional``)."""
    import dagster as dg

    from geodata.engineering.compose import route_line
    from pipelines.runner import materialize_scenario

    folder = workdir / "regional" / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{scenario['name']}.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    selection = dg.AssetSelection.assets("least_cost_route").upstream()
    result = materialize_scenario(scenario["name"], _settings(workdir / "regional", folder), selection=selection)
    depth = result.asset_value("bathymetry")
    line = route_line(result.asset_value("least_cost_route"), result.asset_value("cost_surface"))
    return depth, line


def write_case(
    workdir: Path,
    *,
    name: str,
    survey_resolution_m: float,
    width_m: float,
    along: tuple[float, float] = (0.0, 1.0),
    survey_crs: str | None = None,
    overrides: dict[str, Any] | None = None,
    survey_section: dict[str, Any] | None = None,
    seed: int = 14,
    amplitude_m: float = 1.5,
) -> tuple[Path, str, Any]:
    """Write ``workdir/scenarios/<name>.yaml`` and its synthetic survey; returns (folder, name, SyntheticSurvey)."""
    from geodata.bathymetry.synthetic import write_synthetic_survey

    workdir = Path(workdir).resolve()
    data = base_scenario(overrides, name=name)
    depth, line = regional_route(workdir, {**data, "name": f"{name}-regional"})
    vref = -28.0  # the survey reduced to the treaties' Caspian level, as a contractor's grid would be
    survey_path = workdir / "surveys" / f"synthetic_survey_{name}_{survey_resolution_m:g}m.tif"
    survey = write_synthetic_survey(
        survey_path,
        depth,
        line,
        width_m=width_m,
        resolution_m=survey_resolution_m,
        crs=survey_crs,
        along=along,
        seed=seed,
        amplitude_m=amplitude_m,
        water_level_m=float(data.get("bathymetry", {}).get("water_level_m", -28.0)),
        vertical_reference_m=vref,
        vertical_datum="Caspian level -28 m (Baltic), synthetic",
    )
    source = {
        "path": str(survey_path),
        "vertical_reference_m": vref,
        "vertical_datum": "Caspian level -28 m (Baltic), synthetic",
        "licence": "synthetic test data (generated)",
        "attribution": "geodata.bathymetry.synthetic (SYNTHETIC, not a survey)",
    }
    data["survey"] = {"sources": [source], "buffer_m": width_m / 2.0, **(survey_section or {})}
    data["description"] = (
        f"Nested survey case: the default scenario with a SYNTHETIC {survey_resolution_m:g} m survey grid in a "
        f"{width_m / 1000:g} km corridor along the regional route (issue #14 benchmark; not real data)."
    )
    folder = workdir / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder, name, survey


def build(workdir: Path, *, survey_resolution_m: float = 10.0, width_m: float = 5000.0) -> tuple[Path, str]:
    """The benchmark's nested case: the regional 1 km default scenario plus a synthetic ``survey_resolution_m``
    survey in a ``width_m`` corridor along the whole regional route; returns (scenario folder, scenario name)."""
    name = f"nested-{survey_resolution_m:g}m"
    folder, name, _ = write_case(
        Path(workdir), name=name, survey_resolution_m=survey_resolution_m, width_m=width_m, along=(0.0, 1.0)
    )
    return folder, name


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--resolution", type=float, default=10.0)
    parser.add_argument("--width", type=float, default=5000.0)
    parser.add_argument("--run", action="store_true", help="then materialise the whole graph for the case")
    parser.add_argument("--profile", type=Path, help="with --run: write cProfile statistics of the run here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    folder, name = build(args.workdir, survey_resolution_m=args.resolution, width_m=args.width)
    print(f"built {name} in {folder} in {time.perf_counter() - t0:.1f} s (peak RSS {_peak_rss_gb():.2f} GB)")
    if not args.run:
        return
    import cProfile

    from pipelines.runner import materialize_scenario

    t1 = time.perf_counter()
    prof = cProfile.Profile() if args.profile else None
    if prof is not None:
        prof.enable()
    result = materialize_scenario(name, _settings(Path(args.workdir).resolve() / "run", folder))
    if prof is not None:
        prof.disable()
        prof.dump_stats(str(args.profile))
    refined = result.asset_value("refined_route").route
    s = refined.summary()
    print(f"run {name}: {time.perf_counter() - t1:.1f} s, peak RSS {_peak_rss_gb():.2f} GB")
    for key in (
        "cost", "coarse_cost_on_fine", "cost_ratio", "length_km", "coarse_length_km", "max_offset_m",
        "fine_resolution_m", "fine_grid_cells", "band_cells", "windows", "winner", "seam_width_m",
        "seam_max_depth_difference_m", "survey_share", "timings_s",
    ):  # fmt: skip
        print(f"  {key}: {s.get(key)}")


if __name__ == "__main__":
    main()
