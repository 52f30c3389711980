"""The one seam for in-process materialisations (``pipelines.runner.materialize_scenario``): the resources it builds
name one store and one scenario folder, the scenario becomes a partition of the instance it runs on, and values go
through the store's IO manager under the settings' store folder."""

from pathlib import Path

import dagster as dg
import yaml

from assets.config import PARTITIONS, CorridorSettings
from pipelines import store
from pipelines.dask_resource import DaskResource
from pipelines.io_managers import CorridorIOManager
from pipelines.partitions import registered_scenarios
from pipelines.runner import folder_settings, materialize_scenario, scenario_resources


@dg.asset(partitions_def=PARTITIONS)
def seam_upstream(context: dg.AssetExecutionContext, settings: CorridorSettings) -> dict[str, str]:
    return {"scenario": context.partition_key, "store": settings.store_dir}


@dg.asset(partitions_def=PARTITIONS)
def seam_downstream(seam_upstream: dict[str, str]) -> str:
    return f"{seam_upstream['scenario']} in {seam_upstream['store']}"


def _settings(tmp_path: Path, root: Path, name: str, **kw: str) -> CorridorSettings:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    doc = yaml.safe_load((root / "geodata/data/scenarios/siyazan-aktau.yaml").read_text(encoding="utf-8"))
    doc["name"] = name
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return CorridorSettings(
        store_dir=str(tmp_path / "store"), output_dir=str(tmp_path / "pub"), scenarios_dir=str(folder), **kw
    )


def test_the_resources_name_the_settings_store_folder_and_scheduler(tmp_path: Path, root: Path) -> None:
    settings = _settings(tmp_path, root, "seam", dask_scheduler="tcp://10.0.0.5:8786")
    res = scenario_resources(settings)
    assert res["settings"] is settings
    io = res["io_manager"]
    assert isinstance(io, CorridorIOManager)
    assert (io.base_dir, io.scenarios_dir) == (settings.store_dir, settings.scenarios_dir)
    assert res["dask"].scheduler_address == "tcp://10.0.0.5:8786"
    assert scenario_resources(settings, dask=DaskResource())["dask"].scheduler_address == ""
    plain = scenario_resources(CorridorSettings(store_dir=str(tmp_path / "s")))["io_manager"]
    assert plain.scenarios_dir is None  # no folder of its own: the IO manager reads the code location's


def test_a_materialisation_registers_its_partition_and_stores_under_the_settings(tmp_path: Path, root: Path) -> None:
    settings = _settings(tmp_path, root, "seam-case")
    with dg.instance_for_test() as instance:
        result = materialize_scenario("seam-case", settings, instance=instance, assets=[seam_upstream, seam_downstream])
        assert registered_scenarios(instance) == ["seam-case"]
    assert result.success
    assert result.asset_value("seam_downstream") == f"seam-case in {settings.store_dir}"
    (snapshot,) = [p.name for p in (tmp_path / "store" / "seam-case").iterdir() if p.name != "runs"]
    folder = store.value_dir(tmp_path / "store", "seam-case", "seam_downstream", snapshot=snapshot)
    stored = store.read_value(folder, asset="seam_downstream", partition="seam-case")
    assert stored.value == result.asset_value("seam_downstream")


def test_a_selection_runs_only_the_selected_assets_on_a_fresh_instance(tmp_path: Path, root: Path) -> None:
    settings = _settings(tmp_path, root, "seam-one")
    result = materialize_scenario(
        "seam-one", settings, selection=["seam_upstream"], assets=[seam_upstream, seam_downstream]
    )
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"seam_upstream"}


def test_folder_settings_keep_what_a_run_writes_under_one_folder(tmp_path: Path) -> None:
    s = folder_settings(tmp_path, mirror="/data/mirror", scenarios_dir="/mine")
    assert (s.mirror_dir, s.scenarios_dir) == ("/data/mirror", "/mine")
    assert [s.cache_dir, s.output_dir, s.store_dir] == [str(tmp_path / n) for n in ("cache", "published", "store")]
    assert folder_settings(tmp_path, mirror="m", store_dir="/elsewhere").store_dir == "/elsewhere"
