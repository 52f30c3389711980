"""The hostile-input cases: one registry read by the pytest suite (``test_cases.py``) and by ``tally.py``.

Each :class:`Case` has a ``prepare(tmp)`` that builds its hostile input under ``tmp`` and returns the *core call*
(the one library or pipeline call that must catch the input), the strings its message must name (file path, key,
station...) and an optional cleanup. Nothing here imports pytest, and every ``geodata``/``assets``/``pipelines``
import is made inside a core call, so ``tally.py`` can run the same inputs through another code tree (``--tree
/tmp/base``, the code before the hardening work) with ``PYTHONPATH``. Where a case's API does not exist in that tree,
the core call falls back to the old code's observable behaviour for the same input (see ``_new_tree``).

Every raster, vector and scenario here is SYNTHETIC (written by the case) unless it is a copy of a mirror file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

MIRROR = Path(os.environ.get("CORRIDOR_MIRROR") or Path(__file__).resolve().parents[3] / "shared" / "geodata-mirror")
SRTM = "bathymetry_srtm30plus-webmerc-z6_1arcmin.tif"
SCENARIO = "siyazan-aktau"
AOI = (48.0, 39.8, 53.0, 45.0)

FIX_VERBS = re.compile(
    r"\b(set|use|give|correct|remove|rename|fix|point|delete|replace|add|choose|widen|raise|free|remount|move|"
    r"assign|check|fetch|re-export|rematerialise|materialise|run|keep|write|convert|export|declare|warp|shrink|"
    r"draw|save|restore|regrid|reproject|swap|wait|name|list|unset)\b",
    re.IGNORECASE,
)
"""A message 'names the fix' when it holds one of these verbs (what the user is told to do)."""

GOOD = "named error naming input and fix"
HANDLED = "handled as designed (repaired with a named warning / escaped / left intact)"
PARTIAL = "named error missing input or fix"
RAW = "raw exception"
SILENT = "silently accepted"
HANG = "hang (timeout)"
OUTCOMES = (GOOD, HANDLED, PARTIAL, RAW, SILENT, HANG)


class Unsafe(AssertionError):
    """Raised by a core call whose input was accepted but whose result is unsafe or damaged."""


@dataclass
class Prepared:
    call: Callable[[], object]
    needles: list[str]
    cleanup: Callable[[], None] | None = None


@dataclass(frozen=True)
class Case:
    id: str
    klass: str
    prepare: Callable[[Path], Prepared]
    error: str | None = None  # expected class name, somewhere in the raised error's MRO
    expect: str = "error"  # "error" | "warn" (repaired with a warning naming the input) | "safe" (no Unsafe raised)
    xfail: str | None = None  # the fix needed, when the case still fails in this tree
    isolate: bool = False  # run in a subprocess with a memory limit (a case that may exhaust memory)
    integration: bool = False  # slow: materialises Dagster assets
    needs_root: bool = False  # mounts a tmpfs
    notes: str = ""


CASES: list[Case] = []


def case(klass: str, error: str | None = None, **kw: Any) -> Callable[[Callable[[Path], Prepared]], Any]:
    def deco(fn: Callable[[Path], Prepared]) -> Callable[[Path], Prepared]:
        CASES.append(Case(fn.__name__.removeprefix("c_"), klass, fn, error, **kw))
        return fn

    return deco


def _new_tree() -> bool:
    """True in this tree (the hardened code), False in the code before it (/tmp/base)."""
    return importlib.util.find_spec("geodata.publish.atomic") is not None


# -- outcome of one case -------------------------------------------------------------------------------------------


def _unwrap(exc: BaseException) -> BaseException:
    """The user code's exception inside a Dagster wrapper (what the run's event log shows as the cause)."""
    seen = 0
    while type(exc).__module__.startswith("dagster") and seen < 5:
        inner = getattr(exc, "user_exception", None) or exc.__cause__
        if inner is None:
            break
        exc, seen = inner, seen + 1
    return exc


def run_case(c: Case, tmp: Path) -> dict[str, Any]:
    """Prepare and run ``c`` in this process; the raw outcome as a JSON-ready dict."""
    tmp.mkdir(parents=True, exist_ok=True)
    prep = c.prepare(tmp)
    out: dict[str, Any] = {"id": c.id, "needles": prep.needles}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                prep.call()
            except Unsafe as exc:
                out.update(kind="unsafe", message=str(exc))
            except Exception as exc:  # noqa: BLE001 - classifying every exception is the point
                exc = _unwrap(exc)
                mro = [k.__name__ for k in type(exc).__mro__]
                out.update(kind="raised", cls=type(exc).__name__, mro=mro, message=str(exc))
            else:
                out.update(kind="returned")
        out["warnings"] = [str(w.message) for w in caught]
    finally:
        if prep.cleanup is not None:
            prep.cleanup()
    return out


def classify(c: Case, out: dict[str, Any]) -> str:
    """One of :data:`OUTCOMES` for a raw outcome of :func:`run_case` (or ``{"kind": "timeout"}``)."""
    kind = out["kind"]
    if kind == "timeout":
        return HANG
    if kind == "unsafe":
        return SILENT
    if kind == "returned":
        if c.expect == "safe":
            return HANDLED
        if c.expect == "warn" and any(all(n in w for n in out["needles"]) for w in out.get("warnings", [])):
            return HANDLED
        return SILENT
    if kind == "crashed":
        return RAW
    if "CorridorError" not in out["mro"]:
        return RAW
    msg = out["message"]
    named = all(n in msg for n in out["needles"]) and bool(FIX_VERBS.search(msg))
    right_class = c.error is None or c.error in out["mro"]
    return GOOD if named and right_class and c.expect == "error" else PARTIAL


def problems(c: Case, out: dict[str, Any]) -> list[str]:
    """Why an outcome is not the designed one (for assertion messages)."""
    if classify(c, out) in (GOOD, HANDLED):
        return []
    msg = out.get("message", "")
    why = [f"outcome {classify(c, out)!r}: {out.get('cls', out['kind'])}: {msg[:600]}"]
    why += [f"message does not name {n!r}" for n in out["needles"] if n not in msg]
    if out["kind"] == "raised" and not FIX_VERBS.search(msg):
        why.append("message names no fix (no verb telling what to do)")
    if c.error and out["kind"] == "raised" and c.error not in out.get("mro", []):
        why.append(f"expected {c.error}, got {out.get('cls')}")
    return why


# -- helpers --------------------------------------------------------------------------------------------------------


def base_scenario(**over: Any) -> dict[str, Any]:
    """A minimal scenario both code trees accept (the default scenario's stations, area and source)."""
    doc: dict[str, Any] = {
        "name": "hostile",
        "title": "Hostile input",
        "landing_stations": [
            {"name": "Siyazan", "country": "AZE", "lat_deg": 41.0783, "lon_deg": 49.1125},
            {"name": "Aktau", "country": "KAZ", "lat_deg": 43.65, "lon_deg": 51.15},
        ],
        "area_of_interest": {"west_deg": 48.0, "south_deg": 39.8, "east_deg": 53.0, "north_deg": 45.0},
        "analysis": {"crs": "auto", "resolution_m": 1000},
        "bathymetry": {"sources": [{"source": "srtm30plus_caspian", "priority": 0}]},
    }
    doc.update(over)
    return doc


def scenario_file(tmp: Path, doc: Any = None, *, text: str | None = None, stem: str = "hostile") -> Path:
    path = tmp / f"{stem}.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def load_file(path: Path) -> Callable[[], object]:
    def call() -> object:
        from geodata.scenario import load_scenario_file

        return load_scenario_file(path)

    return call


def scenario_case(mutate: Callable[[dict[str, Any]], Any], needles: list[str], **kw: Any) -> Any:
    """A case: the minimal scenario with ``mutate`` applied, loaded from a file; the message names the file too."""

    def prepare(tmp: Path) -> Prepared:
        doc = base_scenario()
        mutate(doc)
        path = scenario_file(tmp, doc)
        return Prepared(load_file(path), [str(path), *needles])

    return prepare


def write_tif(
    path: Path, data: np.ndarray, *, crs: str | None = "EPSG:4326", transform: Any = None, nodata: Any = None
) -> Path:
    import rasterio
    from affine import Affine

    transform = transform or Affine(0.05, 0, 47.0, 0, -0.05, 46.0)
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1, "dtype": data.dtype}
    with rasterio.open(path, "w", crs=crs, transform=transform, nodata=nodata, **profile) as dst:
        dst.write(data, 1)
    return path


def read_raster(path: Path, **kw: Any) -> Callable[[], object]:
    def call() -> object:
        from geodata.bathymetry.read import read_bathymetry_source

        return read_bathymetry_source(path, bounds_lonlat=AOI, **kw)

    return call


def load_inventory(path: Path, **kw: Any) -> Callable[[], object]:
    def call() -> object:
        from geodata.hazards.readers import load_user_inventory

        return load_user_inventory(path, **kw)

    return call


def geojson(path: Path, features: list[dict[str, Any]], crs: str | None = None) -> Path:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def feature(geom: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geom}


def _catalogue() -> Any:
    try:
        from geodata.sources import catalogue
    except ImportError:
        from geodata import catalogue  # type: ignore[no-redef]
    return catalogue


def _atomic() -> Any:
    try:
        from geodata.publish import atomic
    except ImportError:
        import geodata.publish as atomic  # type: ignore[no-redef]
    return atomic


def small_build(text: str, extra: tuple[str, ...] = ()) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        (folder / "corridor.gpkg").write_text(f"gpkg {text}")
        (folder / "tiles").mkdir()
        (folder / "tiles" / "corridor.pmtiles").write_bytes(text.encode() * 100)
        for name in extra:
            (folder / name).write_text(f"{name} {text}")

    return build


def do_publish(root: Path, text: str, build: Callable[[Path], None] | None = None) -> Any:
    a = _atomic()
    return a.publish("demo", build or small_build(text), root=root, run_id=text, scenario_digest="d" * 64)


def publication_state(base: Path) -> tuple[Path | None, list[str]]:
    """(live version folder, problems of its manifest) of the publication folder ``base``."""
    a = _atomic()
    live = a.live_version(base)
    return live, (a.verify_manifest(base / "latest") if live is not None else ["nothing live"])


def mount_tmpfs(path: Path, size: str = "2m", *, ro: bool = False) -> Callable[[], None]:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if ro else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True)
    return lambda: subprocess.run(["umount", "-l", str(path)], check=False)


def remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def fill(path: Path, leave_bytes: int = 64 * 1024) -> None:
    """Fill the file system of ``path`` up to ``leave_bytes`` free."""
    free = shutil.disk_usage(path).free
    with open(path / ".filler", "wb") as fh:
        try:
            fh.write(b"\0" * max(free - leave_bytes, 0))
        except OSError:
            pass


# == 1. scenario files ================================================================================================


@case("scenario", "ConfigError")
def c_scenario_yaml_syntax(tmp: Path) -> Prepared:
    path = scenario_file(tmp, text="name: hostile\ntitle: [unclosed\nlanding_stations:\n  - {name: A\n")
    return Prepared(load_file(path), [str(path), "line"])


@case("scenario", "ConfigError")
def c_scenario_tab_indent(tmp: Path) -> Prepared:
    path = scenario_file(tmp, text="name: hostile\nanalysis:\n\tcrs: auto\n")
    return Prepared(load_file(path), [str(path), "line"])


@case("scenario", "ConfigError")
def c_scenario_duplicate_key(tmp: Path) -> Prepared:
    text = yaml.safe_dump(base_scenario(), sort_keys=False) + "title: Second title\n"
    path = scenario_file(tmp, text=text)
    return Prepared(load_file(path), [str(path), "title"])


@case("scenario", "ConfigError")
def c_scenario_not_a_mapping(tmp: Path) -> Prepared:
    path = scenario_file(tmp, text="- just\n- a list\n")
    return Prepared(load_file(path), [str(path)])


@case("scenario", "ConfigError")
def c_scenario_empty_file(tmp: Path) -> Prepared:
    path = scenario_file(tmp, text="")
    return Prepared(load_file(path), [str(path)])


@case("scenario", "ConfigError")
def c_scenario_binary_file(tmp: Path) -> Prepared:
    path = tmp / "hostile.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01\x89PNG\x00")
    return Prepared(load_file(path), [str(path)])


CASES.append(
    Case(
        "scenario_unknown_top_key_typo",
        "scenario",
        scenario_case(
            lambda d: d.update(landing_station=d.pop("landing_stations")), ["landing_station", "landing_stations"]
        ),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_unknown_nested_key_typo",
        "scenario",
        scenario_case(lambda d: d["analysis"].update(resolutoin_m=500), ["resolutoin_m", "resolution_m"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_wrong_type_number",
        "scenario",
        scenario_case(lambda d: d["analysis"].update(resolution_m="fine"), ["resolution_m"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_wrong_type_list",
        "scenario",
        scenario_case(lambda d: d.update(landing_stations="Siyazan to Aktau"), ["landing_stations"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_out_of_range_slope",
        "scenario",
        scenario_case(lambda d: d.update(limits={"max_slope_deg": 120}), ["max_slope_deg"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_negative_resolution",
        "scenario",
        scenario_case(lambda d: d["analysis"].update(resolution_m=-5), ["resolution_m"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_latitude_out_of_range",
        "scenario",
        scenario_case(lambda d: d["landing_stations"][1].update(lat_deg=143.65), ["lat_deg"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_area_inverted",
        "scenario",
        scenario_case(lambda d: d["area_of_interest"].update(west_deg=54.0), ["area_of_interest"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_station_outside_area",
        "scenario",
        scenario_case(lambda d: d["landing_stations"][1].update(lon_deg=55.5), ["Aktau", "area_of_interest"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_identical_stations",
        "scenario",
        scenario_case(
            lambda d: d["landing_stations"][1].update(lat_deg=41.0783, lon_deg=49.1125), ["Siyazan", "Aktau"]
        ),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_unknown_crs",
        "scenario",
        scenario_case(lambda d: d["analysis"].update(crs="EPSG:999999"), ["EPSG:999999"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_non_metric_crs",
        "scenario",
        scenario_case(lambda d: d["analysis"].update(crs="EPSG:4326"), ["EPSG:4326"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_unknown_source_crs",
        "scenario",
        scenario_case(lambda d: d["bathymetry"]["sources"][0].update(crs="WGS85"), ["WGS85"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_bad_country_code",
        "scenario",
        scenario_case(lambda d: d["landing_stations"][0].update(country="AZERB"), ["AZERB"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_no_bathymetry_source",
        "scenario",
        scenario_case(lambda d: d["bathymetry"].update(sources=[]), ["sources"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_unknown_hazard_kind_rule",
        "scenario",
        scenario_case(lambda d: d.update(hazards={"rules": {"volcano": {"exclusion_buffer_m": 500}}}), ["volcano"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_name_with_space",
        "scenario",
        scenario_case(lambda d: d.update(name="my scenario"), ["my scenario"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_name_uppercase",
        "scenario",
        scenario_case(lambda d: d.update(name="Siyazan-Aktau"), ["Siyazan-Aktau"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_name_path_separator",
        "scenario",
        scenario_case(lambda d: d.update(name="../evil"), ["../evil"]),
        "ConfigError",
    )
)
CASES.append(
    Case(
        "scenario_name_differs_from_file",
        "scenario",
        scenario_case(lambda d: d.update(name="other"), ["other"]),
        "ConfigError",
    )
)


@case("scenario", "ConfigError")
def c_scenario_unknown_name(tmp: Path) -> Prepared:
    def call() -> object:
        from geodata.scenario import load_scenario

        return load_scenario("siyazan-aktua")

    return Prepared(call, ["siyazan-aktua", "siyazan-aktau"])


@case("scenario", "ConfigError")
def c_scenario_name_with_spaces_by_name(tmp: Path) -> Prepared:
    def call() -> object:
        from geodata.scenario import load_scenario

        return load_scenario("siyazan aktau")

    return Prepared(call, ["siyazan aktau"])


@case("scenario", expect="safe")
def c_scenario_title_html_js(tmp: Path) -> Prepared:
    """A title with HTML/JS is a legal title: accepted, and the web page carries it as text, never as markup."""
    hostile = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    path = scenario_file(tmp, base_scenario(title=hostile))

    def call() -> None:
        import geopandas as gpd
        import shapely

        from geodata.scenario import load_scenario_file

        sc = load_scenario_file(path)
        try:
            from geodata.publish import tiles, webmap
            from geodata.publish.gpkg import prepare_layers
        except ImportError:
            from geodata.gpkg import prepare_layers  # type: ignore[no-redef]

            from geodata import tiles, webmap  # type: ignore[no-redef]
        route = gpd.GeoDataFrame({"name": ["r"]}, geometry=[shapely.LineString([(49.1, 41.1), (51.1, 43.6)])], crs=4326)
        vec = tiles.write_vector_tiles(prepare_layers({"route": route}), tmp / "c.pmtiles", min_zoom=4, max_zoom=5)
        html = webmap.write_webmap(tmp, title=sc.title, vector=vec).read_text(encoding="utf-8")
        if "<script>alert" in html or "<img src=x" in html:
            raise Unsafe("the scenario title reached the web page as markup")

    return Prepared(call, [])


@case("scenario", expect="safe")
def c_scenario_station_name_dollar_mathtext(tmp: Path) -> Prepared:
    """A '$' in a station name (matplotlib mathtext) is legal: the diagram draws it as written."""
    name = "Port $\\frac{1}{0}$$ Aktau"
    path = scenario_file(tmp, base_scenario())

    def call() -> None:
        import pandas as pd

        from geodata.scenario import load_scenario_file

        load_scenario_file(path)
        try:
            from geodata.deliverables.sld import figure_bytes, straight_line_diagram
        except ImportError:
            from geodata.sld import figure_bytes, straight_line_diagram  # type: ignore[no-redef]
        profile = pd.DataFrame({"kp_km": [0.0, 10.0, 20.0], "water_depth_m": [5.0, 50.0, 5.0], "slope_deg": [0.1] * 3})
        rpl = pd.DataFrame(
            {"kp_km": [0.0, 20.0], "event": ["BMH", "BMH"], "name": [name, "$x$"], "cable_type": ["DA", "DA"]}
        )
        from geodata import deliverables

        sld = getattr(deliverables, "sld", None) or sys.modules.get("geodata.sld")
        for col, _ in getattr(sld, "RPL_COLUMNS", ()):  # columns a newer diagram's RPL table reads, as numbers
            if col not in rpl.columns:
                rpl[col] = 0.0
        fig = straight_line_diagram(profile, rpl, title=name, scenario=name)
        try:
            figure_bytes(fig)
        except ValueError as exc:  # matplotlib's mathtext parser
            raise Unsafe(f"the diagram cannot be drawn with a '$' in a name: {exc}") from None
        texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
        if not any(name in t for t in texts):
            raise Unsafe("the station name is not drawn as written")

    return Prepared(call, [])


@case("scenario", "ConfigError")
def c_scenario_memory_budget_not_a_number(tmp: Path) -> Prepared:
    def call() -> object:
        if not _new_tree():
            return None  # the old code has no memory budget: CORRIDOR_MEMORY_BUDGET_GB is ignored
        from assets.config import settings_from_env

        return settings_from_env({"CORRIDOR_MEMORY_BUDGET_GB": "lots"}).memory_budget_bytes

    return Prepared(call, ["CORRIDOR_MEMORY_BUDGET_GB", "lots"])


@case("scenario", "ConfigError")
def c_scenario_memory_budget_negative(tmp: Path) -> Prepared:
    def call() -> object:
        if not _new_tree():
            return None
        from assets.config import settings_from_env

        return settings_from_env({"CORRIDOR_MEMORY_BUDGET_GB": "-2"}).memory_budget_bytes

    return Prepared(call, ["CORRIDOR_MEMORY_BUDGET_GB"])


@case("scenario", "ConfigError")
def c_scenario_folder_is_a_file(tmp: Path) -> Prepared:
    f = tmp / "scenarios.txt"
    f.write_text("not a folder")

    def call() -> object:
        from geodata import scenario

        if "folder" not in scenario.scenario_names.__code__.co_varnames:
            os.environ["CORRIDOR_SCENARIOS"] = str(f)  # the old code read the variable itself (or not at all)
            try:
                return scenario.scenario_names()
            finally:
                del os.environ["CORRIDOR_SCENARIOS"]
        return scenario.scenario_names(folder=f)

    return Prepared(call, [str(f), "CORRIDOR_SCENARIOS"])


# == 2. rasters =======================================================================================================


def _depths(shape: tuple[int, int] = (200, 200)) -> np.ndarray:
    """SYNTHETIC elevations, -200 m at sea."""
    return np.full(shape, -200.0, dtype="float32")


@case("raster", "InputDataError")
def c_raster_no_crs(tmp: Path) -> Prepared:
    path = write_tif(tmp / "nocrs.tif", _depths(), crs=None)
    return Prepared(read_raster(path), [str(path), "CRS"])


@case("raster", "InputDataError")
def c_raster_empty_file(tmp: Path) -> Prepared:
    path = tmp / "empty.tif"
    path.write_bytes(b"")
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_truncated(tmp: Path) -> Prepared:
    path = tmp / "truncated.tif"
    path.write_bytes((MIRROR / SRTM).read_bytes()[:4096])
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_wrong_format(tmp: Path) -> Prepared:
    path = tmp / "depths.tif"
    path.write_text("lon,lat,depth\n50.1,41.2,-200\n", encoding="utf-8")
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_netcdf_name_not_netcdf(tmp: Path) -> Prepared:
    path = tmp / "gebco.nc"
    path.write_bytes(b"<html>404 Not Found</html>")
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_all_nodata(tmp: Path) -> Prepared:
    path = write_tif(tmp / "nodata.tif", np.full((200, 200), -32768, dtype="int16"), nodata=-32768)
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_nan_only(tmp: Path) -> Prepared:
    path = write_tif(tmp / "nan.tif", np.full((200, 200), np.nan, dtype="float32"))
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_patch_outside_area(tmp: Path) -> Prepared:
    from affine import Affine

    path = write_tif(tmp / "baltic.tif", _depths((50, 50)), transform=Affine(0.01, 0, 19.0, 0, -0.01, 58.0))
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InputDataError")
def c_raster_rotated(tmp: Path) -> Prepared:
    from affine import Affine

    path = write_tif(tmp / "rotated.tif", _depths(), transform=Affine(0.05, 0.01, 47.0, 0.01, -0.05, 46.0))
    return Prepared(read_raster(path), [str(path)])


@case("raster", "ConfigError")
def c_raster_unknown_assumed_crs(tmp: Path) -> Prepared:
    path = write_tif(tmp / "nocrs.tif", _depths(), crs=None)
    return Prepared(read_raster(path, crs="WGS85"), [str(path), "WGS85"])


@case("raster", "SourceUnavailable")
def c_raster_source_path_missing(tmp: Path) -> Prepared:
    missing = tmp / "survey_2024.tif"

    def call() -> object:
        from geodata.bathymetry.read import resolve_bathymetry_source

        return resolve_bathymetry_source(str(missing))

    return Prepared(call, ["survey_2024.tif"])


@case("raster", "SourceUnavailable")
def c_raster_source_is_a_folder(tmp: Path) -> Prepared:
    folder = tmp / "survey.tif"
    folder.mkdir()

    def call() -> object:
        from geodata.bathymetry.read import resolve_bathymetry_source

        return resolve_bathymetry_source(str(folder))

    return Prepared(call, [str(folder)])


@case(
    "raster",
    "InputDataError",
    isolate=True,
)
def c_raster_huge_declared_size(tmp: Path) -> Prepared:
    """A sparse GeoTIFF that declares 600 000 x 600 000 cells of 1e-5 degrees over the Caspian (a few kB on disk)."""
    import rasterio
    from affine import Affine

    path = tmp / "huge.tif"
    profile = {"driver": "GTiff", "width": 600_000, "height": 600_000, "count": 1, "dtype": "float32",
               "tiled": True, "blockxsize": 512, "blockysize": 512, "SPARSE_OK": True, "BIGTIFF": "YES"}  # fmt: skip
    with rasterio.open(path, "w", crs="EPSG:4326", transform=Affine(1e-5, 0, 47.0, 0, -1e-5, 46.0), **profile):
        pass
    return Prepared(read_raster(path), [str(path)])


@case("raster", "InvertedDepthSource")
def c_raster_positive_down_undeclared(tmp: Path) -> Prepared:
    """SYNTHETIC: a survey patch of positive-down depths (40 m) listed without `positive: down` over a regional grid."""
    from types import SimpleNamespace

    from affine import Affine
    from pyproj import CRS

    def call() -> object:
        from geodata.bathymetry import BathymetryInput, build_depth_mosaic
        from geodata.grid import GeoGrid, Raster

        grid = GeoGrid(CRS.from_epsg(32639), Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_620_000.0), (20, 20))
        sea = np.zeros(grid.shape, dtype="uint8")
        sea[:, 10:] = 1
        elev = np.where(sea == 1, -128.0, 50.0).astype("float32")
        reg = SimpleNamespace(source="regional", priority=0, vertical_reference_m=0.0, positive="up")
        patch = np.full(grid.shape, np.nan, dtype="float32")
        patch[5:10, 12:18] = 40.0
        cfg = SimpleNamespace(source="survey_patch", priority=10, vertical_reference_m=-28.0, positive=None)
        inputs = [BathymetryInput(Raster(elev, grid, float("nan"), {}), reg, {"name": "regional"}),
                  BathymetryInput(Raster(patch, grid, float("nan"), {}), cfg, {"name": "survey_patch"})]  # fmt: skip
        depth = build_depth_mosaic(inputs, grid, water_level_m=-28.0).depth
        mask = Raster(sea, grid, 255, {})
        from geodata import bathymetry as b

        if hasattr(b, "validate_source_signs"):
            return b.validate_source_signs(depth, mask)
        result = b.check_depth_range(depth, mask, (-50.0, 1100.0))  # the old code's only sign check
        if not result.passed:
            from geodata.errors import InputDataError

            raise InputDataError(result.description)
        return result

    return Prepared(call, ["survey_patch", "positive"])


# == 3. vectors (hazard inventories) ==================================================================================

_PT = {"type": "Point", "coordinates": [50.5, 41.5]}


@case("vector", "InputDataError")
def c_vector_missing_kind(tmp: Path) -> Prepared:
    path = geojson(tmp / "wells.geojson", [feature(_PT, name="W-1")])
    return Prepared(load_inventory(path), [str(path), "kind"])


@case(
    "vector",
    "InputDataError",
)
def c_vector_unknown_kind(tmp: Path) -> Prepared:
    path = geojson(tmp / "hz.geojson", [feature(_PT, name="V-1", kind="volcano")])
    return Prepared(load_inventory(path), [str(path), "volcano"])


@case(
    "vector",
    "InputDataError",
)
def c_vector_unknown_kind_argument(tmp: Path) -> Prepared:
    path = geojson(tmp / "hz.geojson", [feature(_PT, name="W-1")])
    return Prepared(load_inventory(path, kind="wel"), [str(path), "wel"])


@case("vector", expect="warn")
def c_vector_self_intersecting_polygon(tmp: Path) -> Prepared:
    bowtie = {"type": "Polygon", "coordinates": [[[50, 41], [51, 42], [51, 41], [50, 42], [50, 41]]]}
    path = geojson(tmp / "bowtie.geojson", [feature(bowtie, name="Zone A", kind="anchorage")])
    return Prepared(load_inventory(path), [str(path)])


@case("vector", expect="warn")
def c_vector_hole_outside_shell(tmp: Path) -> Prepared:
    poly = {"type": "Polygon", "coordinates": [[[50, 41], [50.5, 41], [50.5, 41.5], [50, 41.5], [50, 41]],
                                               [[51, 42], [51.2, 42], [51.2, 42.2], [51, 42.2], [51, 42]]]}  # fmt: skip
    path = geojson(tmp / "hole.geojson", [feature(poly, name="Zone B", kind="anchorage")])
    return Prepared(load_inventory(path), [str(path)])


@case("vector", expect="warn")
def c_vector_self_intersecting_line_ring(tmp: Path) -> Prepared:
    """A figure-eight ring in a MultiPolygon (two bowties): repaired, with a warning naming the file."""
    a = [[[50, 41], [50.4, 41.4], [50.4, 41], [50, 41.4], [50, 41]]]
    b = [[[51, 42], [51.4, 42.4], [51.4, 42], [51, 42.4], [51, 42]]]
    path = geojson(tmp / "mp.geojson", [feature({"type": "MultiPolygon", "coordinates": [a, b]}, kind="platform")])
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_empty_file(tmp: Path) -> Prepared:
    path = tmp / "hz.gpkg"
    path.write_bytes(b"")
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_empty_collection(tmp: Path) -> Prepared:
    path = geojson(tmp / "hz.geojson", [])
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_garbage_gpkg(tmp: Path) -> Prepared:
    path = tmp / "hz.gpkg"
    path.write_bytes(os.urandom(5000))
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_missing_file(tmp: Path) -> Prepared:
    path = tmp / "nowhere.gpkg"
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_shapefile_without_prj(tmp: Path) -> Prepared:
    import geopandas as gpd
    import shapely

    path = tmp / "wells.shp"
    gpd.GeoDataFrame({"kind": ["well"]}, geometry=[shapely.Point(50.5, 41.5)], crs=4326).to_file(path)
    path.with_suffix(".prj").unlink()
    return Prepared(load_inventory(path), [str(path), "CRS"])


@case(
    "vector",
    "InputDataError",
)
def c_vector_wrong_crs(tmp: Path) -> Prepared:
    """Degrees written into a GeoPackage that declares UTM 39N: reprojected, they land in the Gulf of Guinea."""
    import geopandas as gpd
    import shapely

    path = tmp / "wells.gpkg"
    gpd.GeoDataFrame({"kind": ["well"], "name": ["W-1"]}, geometry=[shapely.Point(50.5, 41.5)], crs=32639).to_file(path)
    return Prepared(load_inventory(path), [str(path), "CRS"])


@case("vector", "InputDataError")
def c_vector_multilayer_without_layer(tmp: Path) -> Prepared:
    import geopandas as gpd
    import shapely

    path = tmp / "hz.gpkg"
    for layer in ("wells", "wrecks"):
        gpd.GeoDataFrame({"kind": ["well"]}, geometry=[shapely.Point(50.5, 41.5)], crs=4326).to_file(path, layer=layer)
    return Prepared(load_inventory(path), [str(path), "layer"])


@case(
    "vector",
    "InputDataError",
)
def c_vector_unknown_layer(tmp: Path) -> Prepared:
    import geopandas as gpd
    import shapely

    path = tmp / "hz.gpkg"
    gpd.GeoDataFrame({"kind": ["well"]}, geometry=[shapely.Point(50.5, 41.5)], crs=4326).to_file(path, layer="wells")
    return Prepared(load_inventory(path, layer="wels"), [str(path), "wels"])


@case("vector", "InputDataError")
def c_vector_csv_without_lonlat(tmp: Path) -> Prepared:
    path = tmp / "hz.csv"
    path.write_text("name,kind,pos_e,pos_n\nW-1,well,50.5,41.5\n", encoding="utf-8")
    return Prepared(load_inventory(path), [str(path), "lon"])


@case("vector", "InputDataError")
def c_vector_csv_projected_coordinates(tmp: Path) -> Prepared:
    path = tmp / "hz.csv"
    path.write_text("name,kind,lon,lat\nW-1,well,541000,4595000\n", encoding="utf-8")
    return Prepared(load_inventory(path), [str(path), "row 1"])


@case(
    "vector",
    "InputDataError",
)
def c_vector_csv_lonlat_swapped(tmp: Path) -> Prepared:
    path = tmp / "hz.csv"
    path.write_text("name,kind,lon,lat\nW-1,well,41.5,50.5\nW-2,well,41.6,50.4\n", encoding="utf-8")
    return Prepared(load_inventory(path), [str(path), "swap"])


@case("vector", "InputDataError")
def c_vector_csv_lonlat_not_numbers(tmp: Path) -> Prepared:
    path = tmp / "hz.csv"
    path.write_text("name,kind,lon,lat\nW-1,well,50°30'E,41°30'N\n", encoding="utf-8")
    return Prepared(load_inventory(path), [str(path), "row 1"])


@case("vector", "InputDataError")
def c_vector_csv_header_only(tmp: Path) -> Prepared:
    path = tmp / "hz.csv"
    path.write_text("name,kind,lon,lat\n", encoding="utf-8")
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_csv_not_utf8(tmp: Path) -> Prepared:
    path = tmp / "hz.csv"
    path.write_bytes("name,kind,lon,lat\nBakı,well,50.5,41.5\n".encode("utf-16"))
    return Prepared(load_inventory(path), [str(path)])


@case("vector", "InputDataError")
def c_vector_null_geometry(tmp: Path) -> Prepared:
    path = geojson(tmp / "hz.geojson", [{"type": "Feature", "properties": {"kind": "well"}, "geometry": None}])
    return Prepared(load_inventory(path), [str(path)])


# == 4. mirror faults =================================================================================================


def _mirror_copy(tmp: Path, skip: str | None = None) -> Path:
    m = tmp / "mirror"
    m.mkdir()
    for f in MIRROR.iterdir():
        if f.name != skip:
            (m / f.name).symlink_to(f)
    return m


def resolve_call(name: str, mirror: Path | None, cache: Path) -> Callable[[], object]:
    def call() -> object:
        return _catalogue().resolve(name, mirror=mirror, cache=cache, verify=True)

    return call


@case("mirror", "SourceUnavailable")
def c_mirror_missing_file(tmp: Path) -> Prepared:
    m = _mirror_copy(tmp, skip=SRTM)
    return Prepared(resolve_call("srtm30plus_caspian", m, tmp / "cache"), [SRTM, "CORRIDOR_MIRROR"])


@case("mirror", "ChecksumMismatch")
def c_mirror_checksum_mismatch(tmp: Path) -> Prepared:
    m = _mirror_copy(tmp, skip=SRTM)
    data = bytearray((MIRROR / SRTM).read_bytes())
    data[-100] ^= 0xFF
    (m / SRTM).write_bytes(bytes(data))
    return Prepared(resolve_call("srtm30plus_caspian", m, tmp / "cache"), [str(m / SRTM), "verify_checksums"])


@case("mirror", "SourceUnavailable")
def c_mirror_path_is_a_file(tmp: Path) -> Prepared:
    f = tmp / "mirror.tar"
    f.write_bytes(b"not a folder")
    return Prepared(resolve_call("srtm30plus_caspian", f, tmp / "cache"), [str(f), "CORRIDOR_MIRROR"])


@case("mirror", "SourceUnavailable")
def c_mirror_path_missing(tmp: Path) -> Prepared:
    m = tmp / "no-such-mirror"
    return Prepared(resolve_call("gshhg_coast", m, tmp / "cache"), [str(m)])


@case("mirror", "ConfigError")
def c_mirror_unknown_source_name(tmp: Path) -> Prepared:
    return Prepared(resolve_call("srtm30plus", MIRROR, tmp / "cache"), ["srtm30plus", "srtm30plus_caspian"])


@case("mirror", "ChecksumMismatch")
def c_mirror_file_truncated_in_cache(tmp: Path) -> Prepared:
    cache = tmp / "cache"
    cache.mkdir()
    (cache / "coast_gshhg_f_2.3.6.gpkg").write_bytes((MIRROR / "coast_gshhg_f_2.3.6.gpkg").read_bytes()[:10000])
    return Prepared(resolve_call("gshhg_coast", None, cache), [str(cache / "coast_gshhg_f_2.3.6.gpkg")])


# == 5. store tampering ===============================================================================================


def _settings_cls() -> Any:
    try:
        from assets.config import CorridorSettings
    except ImportError:
        from pipelines.resources import CorridorSettings  # type: ignore[no-redef]
    return CorridorSettings


def settings(root: Path, **kw: Any) -> Any:
    cls = _settings_cls()
    values = {"mirror_dir": str(MIRROR), "cache_dir": str(root / "cache"), "output_dir": str(root / "published"),
              "store_dir": str(root / "store"), **kw}  # fmt: skip
    return cls(**{k: v for k, v in values.items() if k in cls.model_fields})


def materialise(root: Path, selection: list[str], **kw: Any) -> Any:
    """Materialise ``selection`` of the default scenario with this tree's definitions; store under ``root/store``
    (the IO manager reads the scenario from the settings' folder)."""
    from pipelines.runner import materialize_scenario

    return materialize_scenario(SCENARIO, settings(root, **kw), selection=selection)


EXPLOIT_MARKER = "pickle-was-executed"


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (Path(self.marker), "pwned"))


def store_case(tamper: Callable[[Path, Path], list[str]], **kw: Any) -> Any:
    def prepare(tmp: Path) -> Prepared:
        materialise(tmp, ["bathymetry"])
        part = tmp / "store" / SCENARIO
        needles = tamper(part, tmp / EXPLOIT_MARKER)

        def call() -> object:
            materialise(tmp, ["seabed_slope"])
            if (tmp / EXPLOIT_MARKER).exists():
                raise Unsafe("a pickle placed in the store was unpickled (it ran code)")
            return None

        return Prepared(call, needles)

    return prepare


def _value_folder(part: Path, asset: str) -> Path:
    """The folder of ``asset``'s value in the partition folder ``part``: ``<snapshot digest>/<asset>/`` in this
    tree (the store keyed by the run's scenario snapshot), ``<asset>/`` in the trees before it."""
    found = sorted(part.glob(f"*/{asset}/value.json"))
    return found[0].parent if found else part / asset


def _exploit_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Exploit(str(marker)))


def _t_pickle_replaces_value(part: Path, marker: Path) -> list[str]:
    """The value's folder/file removed and a pickle of the old layout placed where the old code read it."""
    for p in [*part.glob("bathymetry*"), *part.glob("*/bathymetry")]:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    (part / "bathymetry.pickle").write_bytes(_exploit_bytes(marker))
    return ["bathymetry", "rematerialise"]


def _t_pickle_in_value_file(part: Path, marker: Path) -> list[str]:
    folder = _value_folder(part, "bathymetry")
    if folder.is_dir():
        (folder / "value.json").write_bytes(_exploit_bytes(marker))
    else:
        (part / "bathymetry.tif").write_bytes(_exploit_bytes(marker))
    return ["bathymetry", "rematerialise"]


def _t_sidecar_arbitrary_bytes(part: Path, marker: Path) -> list[str]:
    folder = _value_folder(part, "bathymetry")
    targets = [p for p in folder.iterdir() if p.name != "value.json"] if folder.is_dir() else [part / "bathymetry.tif"]
    for p in targets:
        p.write_bytes(os.urandom(max(p.stat().st_size, 1024)))
    return ["bathymetry", "rematerialise"]


def _t_value_json_garbage(part: Path, marker: Path) -> list[str]:
    folder = _value_folder(part, "bathymetry")
    target = folder / "value.json" if folder.is_dir() else part / "bathymetry.tif"
    target.write_text('{"format": "corridor-store", "tree": ', encoding="utf-8")
    return ["bathymetry", "rematerialise"]


def _t_class_outside_geodata(part: Path, marker: Path) -> list[str]:
    folder = _value_folder(part, "bathymetry")
    if folder.is_dir():
        value = folder / "value.json"
        text = re.sub(r'"geodata\.[A-Za-z_.:]+"', '"subprocess:Popen"', value.read_text(encoding="utf-8"))
        value.write_text(text, encoding="utf-8")
    else:  # the old layout: a pickle whose class is outside geodata
        (part / "bathymetry.tif").unlink()
        (part / "bathymetry.pickle").write_bytes(_exploit_bytes(marker))
    return ["bathymetry", "rematerialise"]


for _name, _t in (("store_pickle_replaces_value", _t_pickle_replaces_value),
                  ("store_pickle_as_value_file", _t_pickle_in_value_file),
                  ("store_sidecar_arbitrary_bytes", _t_sidecar_arbitrary_bytes),
                  ("store_value_file_garbage", _t_value_json_garbage),
                  ("store_class_outside_geodata", _t_class_outside_geodata)):  # fmt: skip
    CASES.append(Case(_name, "store", store_case(_t), "StoreError", integration=True))


@case("store", "StaleValueError", integration=True)
def c_store_value_of_another_scenario_folder(tmp: Path) -> Prepared:
    """`bathymetry` materialised from another scenario folder that redefines the default scenario (another title),
    then `seabed_slope` alone from the packaged one: the other folder's value must not be used."""
    from importlib import resources

    folder = tmp / "other-scenarios"
    folder.mkdir()
    doc = yaml.safe_load(resources.files("geodata").joinpath(f"data/scenarios/{SCENARIO}.yaml").read_text("utf-8"))
    doc["title"] = "Another analyst's variant"
    (folder / f"{SCENARIO}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    materialise(tmp, ["bathymetry"], scenarios_dir=str(folder))
    return Prepared(lambda: materialise(tmp, ["seabed_slope"]), ["bathymetry", SCENARIO, "rematerialise"])


@case("store", "ConfigError")
def c_store_tampered_run_snapshot(tmp: Path) -> Prepared:
    """A run's snapshot edited mid-run (a finer grid slipped in): the run's later steps refuse it."""
    s = settings(tmp)
    run_id = "0123abcd-hostile"
    path = tmp / "store" / SCENARIO / "runs" / f"{run_id}.json"

    def call() -> object:
        if not _new_tree():
            return None  # the old code re-read the scenario file at every step: an edit mid-run was taken silently
        from assets import common

        common.run_snapshot(s, SCENARIO, run_id)
        common._SNAPSHOTS.clear()
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["scenario"]["analysis"]["resolution_m"] = 50.0
        path.write_text(json.dumps(doc), encoding="utf-8")
        return common.run_snapshot(s, SCENARIO, run_id)

    return Prepared(call, [str(path), "delete"])


@case("store", "ConfigError")
def c_store_run_snapshot_garbage(tmp: Path) -> Prepared:
    s = settings(tmp)
    run_id = "0123abcd-garbage"
    path = tmp / "store" / SCENARIO / "runs" / f"{run_id}.json"

    def call() -> object:
        if not _new_tree():
            return None
        from assets import common

        path.parent.mkdir(parents=True)
        path.write_bytes(b"\x80\x04K\x01.")  # a pickle, not JSON
        common._SNAPSHOTS.clear()
        return common.run_snapshot(s, SCENARIO, run_id)

    return Prepared(call, [str(path), "delete"])


# == 6. file-system faults ============================================================================================


@case("fs", "StorageError", needs_root=True)
def c_fs_publish_read_only(tmp: Path) -> Prepared:
    root = tmp / "ro"
    umount = mount_tmpfs(root, "4m")
    do_publish(root, "good")
    remount_ro(root)
    before = publication_state(root / "demo")

    def call() -> object:
        try:
            return do_publish(root, "new")
        finally:
            if publication_state(root / "demo") != before:
                raise Unsafe("the previous publication changed")

    return Prepared(call, [str(root), "remount"], umount)


@case("fs", "StorageError", needs_root=True)
def c_fs_publish_disk_full(tmp: Path) -> Prepared:
    root = tmp / "full"
    umount = mount_tmpfs(root, "2m")
    do_publish(root, "good")
    before = publication_state(root / "demo")

    def big(folder: Path) -> None:
        small_build("new")(folder)
        (folder / "tiles" / "bathymetry.pmtiles").write_bytes(os.urandom(3_000_000))

    def call() -> object:
        try:
            return do_publish(root, "new", big)
        finally:
            if publication_state(root / "demo") != before:
                raise Unsafe("the previous publication changed")
            if list((root / "demo" / ".staging").iterdir()):
                raise Unsafe("a half-written staging folder was left on the full disk")

    return Prepared(call, [str(root), "free"], umount)


@case("fs", "StorageError")
def c_fs_publication_folder_is_a_file(tmp: Path) -> Prepared:
    (tmp / "demo").write_text("I am a file")
    return Prepared(lambda: do_publish(tmp, "new"), [str(tmp / "demo"), "move"])


@case("fs", "StorageError")
def c_fs_output_root_is_a_file(tmp: Path) -> Prepared:
    root = tmp / "published"
    root.write_text("I am a file")
    return Prepared(lambda: do_publish(root, "new"), [str(root)])


@case("fs", "StorageError")
def c_fs_latest_is_a_directory(tmp: Path) -> Prepared:
    do_publish(tmp, "good")
    latest = tmp / "demo" / "latest"
    target = Path(os.path.realpath(latest))
    latest.unlink()
    shutil.copytree(target, latest)

    def call() -> object:
        try:
            return do_publish(tmp, "new")
        finally:
            if not latest.is_dir() or latest.is_symlink() or not (latest / "corridor.gpkg").exists():
                raise Unsafe("the folder standing in for 'latest' was replaced or emptied")

    return Prepared(call, [str(latest), "move"])


def preflight_call(s: Any, resolution_m: float = 1000.0) -> Callable[[], object]:
    def call() -> object:
        if not _new_tree():  # the old code had no pre-flight: the bathymetry step ran on the folders as they were
            raise _OldCodePath("no pre-flight in this tree")
        from assets.common import preflight
        from geodata.scenario import load_scenario, parse_scenario
        from geodata.sources.snapshot import take_snapshot

        sc = load_scenario(SCENARIO)
        if resolution_m != sc.analysis.resolution_m:
            doc = sc.model_dump(mode="json")
            doc["analysis"]["resolution_m"] = resolution_m
            sc = parse_scenario(doc)
        return preflight(s, take_snapshot(sc))

    return call


class _OldCodePath(Exception):
    pass


def old_or_new(new: Callable[[], object], old: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        try:
            return new()
        except _OldCodePath:
            return old()

    return call


@case("fs", "StorageError", needs_root=True)
def c_fs_store_disk_full(tmp: Path) -> Prepared:
    store = tmp / "store"
    umount = mount_tmpfs(store, "2m")
    fill(store)
    s = settings(tmp)
    return Prepared(
        old_or_new(preflight_call(s), lambda: materialise(tmp, ["bathymetry"])), [str(store), "free"], umount
    )


@case("fs", "StorageError", needs_root=True)
def c_fs_output_disk_full(tmp: Path) -> Prepared:
    out = tmp / "published"
    umount = mount_tmpfs(out, "2m")
    s = settings(tmp)
    old = lambda: do_publish(out, "x", lambda f: (f / "big.bin").write_bytes(os.urandom(3_000_000)))  # noqa: E731
    return Prepared(old_or_new(preflight_call(s), old), [str(out), "free"], umount)


@case("fs", "StorageError", needs_root=True)
def c_fs_output_read_only(tmp: Path) -> Prepared:
    out = tmp / "published"
    umount = mount_tmpfs(out, "2m", ro=True)
    s = settings(tmp)
    return Prepared(old_or_new(preflight_call(s), lambda: do_publish(out, "x")), [str(out), "remount"], umount)


@case("fs", "StorageError")
def c_fs_store_is_a_file(tmp: Path) -> Prepared:
    (tmp / "store").write_text("I am a file")
    s = settings(tmp)
    return Prepared(old_or_new(preflight_call(s), lambda: materialise(tmp, ["bathymetry"])), [str(tmp / "store")])


# == 7. resource estimates ============================================================================================


def _old_fine_grid(resolution_m: float) -> Callable[[], object]:
    """The old code's bathymetry step at ``resolution_m``: grid, read, mosaic (run under a memory limit)."""

    def call() -> object:
        from geodata import bathymetry as b
        from geodata.scenario import load_scenario

        sc = load_scenario(SCENARIO)
        grid = b.analysis_grid(sc.area_of_interest.bounds, sc.analysis_crs(), resolution_m)
        inputs = b.load_bathymetry_inputs(sc.bathymetry.sources, grid, mirror=MIRROR, cache=Path(".corridor_cache"))
        return b.build_depth(inputs, grid, water_level_m=-28.0)

    return call


@case("resource", "ResourceBudgetExceeded", isolate=True)
def c_resource_grid_over_budget(tmp: Path) -> Prepared:
    s = settings(tmp, memory_budget_gb="1")  # 100 m: 24.9 M cells, about 1.9 GB (geodata/preflight.py)
    return Prepared(
        old_or_new(preflight_call(s, 100.0), _old_fine_grid(100.0)), ["resolution_m", "CORRIDOR_MEMORY_BUDGET_GB"]
    )


@case("resource", "ResourceBudgetExceeded", isolate=True)
def c_resource_fine_grid_default_budget(tmp: Path) -> Prepared:
    """40 m over the default area: 156 M cells, about 8.5 GB (geodata/preflight.py), over an 8 GB budget."""
    s = settings(tmp, memory_budget_gb="8")
    return Prepared(old_or_new(preflight_call(s, 40.0), _old_fine_grid(40.0)), ["resolution_m", "8.0 GB"])


@case("resource", "ConfigError")
def c_resource_grid_over_cell_limit(tmp: Path) -> Prepared:
    def call() -> object:
        from geodata.bathymetry import analysis_grid

        return analysis_grid(AOI, "EPSG:32639", 5.0)

    return Prepared(call, ["resolution_m"])


# == 8. kill -9 in every publish window ===============================================================================

KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    try:
        from geodata.publish import atomic as A
    except ImportError:
        import geodata.publish as A
    window, root = sys.argv[1], Path(sys.argv[2])
    def die():
        os.kill(os.getpid(), signal.SIGKILL)
    def build(folder):
        (folder / "corridor.gpkg").write_text("gpkg killed")
        (folder / "tiles").mkdir()
        (folder / "tiles" / "corridor.pmtiles").write_bytes(b"k" * 200_000)
        (folder / "index.html").write_text("<html>killed</html>")
        (folder / "rpl.csv").write_text("kp_km\\n0\\n")
        if window == "staging":
            die()
    if window == "manifest":
        real = A.write_manifest
        def write_manifest(*a, **k):
            real(*a, **k)
            die()
        A.write_manifest = write_manifest
    elif window == "switch":
        A._switch_latest = lambda *a, **k: die()
    elif window == "links":
        real_refresh, real_symlink, calls = A._refresh_links, os.symlink, []
        def symlink(*a, **k):
            calls.append(a)
            if len(calls) >= 2:
                die()
            return real_symlink(*a, **k)
        def refresh(base, final):
            os.symlink = symlink
            real_refresh(base, final)
        A._refresh_links = refresh
    A.publish("demo", build, root=root, run_id="killed", scenario_digest="d" * 64)
    """
)


def _tree_root() -> str:
    import geodata

    return str(Path(geodata.__file__).resolve().parents[1])


def kill_case(window: str) -> Callable[[Path], Prepared]:
    def prepare(tmp: Path) -> Prepared:
        good = do_publish(tmp, "good")
        base = tmp / "demo"
        good_dir = Path(good.version_dir).resolve()

        def call() -> None:
            env = {**os.environ, "PYTHONPATH": _tree_root()}
            proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, window, str(tmp)], env=env, timeout=120)
            if proc.returncode != -signal.SIGKILL:
                raise Unsafe(f"the publishing subprocess was not killed in window {window!r} (rc {proc.returncode})")
            a = _atomic()
            live = a.live_version(base)
            if window == "links":  # the switch happened: the new version is live, complete, and the old one kept
                if live is None or live == good_dir or a.verify_manifest(base / "latest"):
                    raise Unsafe(f"after a kill while refreshing the links, latest -> {live} does not verify")
            elif live != good_dir or a.verify_manifest(base / "latest"):
                raise Unsafe(f"after a kill in window {window!r} latest -> {live}, not the previous {good_dir}")
            if a.verify_manifest(good_dir):
                raise Unsafe("the previous version folder was damaged")
            if (base / "corridor.gpkg").read_text() not in ("gpkg good", "gpkg killed"):
                raise Unsafe("the top-level link corridor.gpkg does not resolve to a published file")
            nxt = do_publish(tmp, "after", small_build("after", ("index.html", "rpl.csv")))
            if a.live_version(base) != Path(nxt.version_dir).resolve() or a.verify_manifest(base / "latest"):
                raise Unsafe("the publish after the kill did not go live")
            if list((base / ".staging").iterdir()):
                raise Unsafe("the killed publish's staging folder was not swept by the next one")
            broken = [p.name for p in base.iterdir() if p.is_symlink() and not p.exists()]
            if broken:
                raise Unsafe(f"dangling top-level links after the next publish: {broken}")

        return Prepared(call, [])

    return prepare


for _w in ("staging", "manifest", "switch", "links"):
    CASES.append(Case(f"kill_during_{_w}", "publish-kill", kill_case(_w), expect="safe"))


BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
