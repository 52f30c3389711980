"""The vectorised hazard code gives what the row-by-row code before issue #10 gave: the same tables, the same repair
records, and the same problems, word for word and in the same order (tests/hazards/rowwise_reference.py holds the
old code verbatim). Small SYNTHETIC inputs, hand-made and random."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geodata.errors import InputDataError
from geodata.hazards import (
    default_rules,
    hazards_in_area,
    read_user_inventory,
    repair_geometries,
    validate_hazards,
)
from geodata.hazards.schema import RULE_FIELDS
from tests.hazards import rowwise_reference as ref

BOW_TIE = shapely.Polygon([(50, 41), (51, 42), (51, 41), (50, 42)])
SPIKE = shapely.Polygon([(50, 41), (50.5, 41), (50, 41)])  # collapses to nothing when repaired


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("error", message)`` or ``("ok", value)`` of a call."""
    try:
        return "ok", call()
    except InputDataError as exc:
        return "error", str(exc)


def _same_table(new: gpd.GeoDataFrame, old: gpd.GeoDataFrame) -> None:
    assert list(new.columns) == list(old.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(new.drop(columns="geometry")), pd.DataFrame(old.drop(columns="geometry")), check_exact=True
    )
    assert new.crs == old.crs
    assert len(new) == len(old)
    for a, b in zip(new.geometry.values, old.geometry.values, strict=True):
        assert (a is None and b is None) or shapely.equals_exact(a, b, tolerance=0.0), (a, b)


def _same_outcome(new: tuple[str, Any], old: tuple[str, Any]) -> None:
    assert new[0] == old[0], (new, old)
    if new[0] == "error":
        assert new[1] == old[1]
    else:
        _same_table(new[1], old[1])


def _rows(n: int) -> list[dict[str, Any]]:
    rules = default_rules()
    kinds = ["platform", "earthquake", "pipeline", "well"]
    return [
        {
            "hazard_id": f"t:{i}",
            "kind": kinds[i % 4],
            "name": f"synthetic {i}",
            "source": "synthetic",
            "licence": "CC0",
            "attribution": "",
            "magnitude": 5.5 if kinds[i % 4] == "earthquake" else None,
            "remarks": None,
            **rules[kinds[i % 4]].model_dump(),
            "geometry": shapely.Point(50 + i / 100, 41),
        }
        for i in range(n)
    ]


def _gdf(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


# -- validate_hazards -------------------------------------------------------------------------------------------------

BAD_CELLS: list[dict[str, Any]] = [
    {"hazard_id": ""},
    {"hazard_id": None},
    {"hazard_id": "t:0"},  # repeats row 1
    {"hazard_id": "t:0"},  # and again
    {"kind": "platfrom"},
    {"kind": None},
    {"kind": 3},
    {"source": " "},
    {"licence": None},
    {"licence": float("nan")},
    {"exclusion_buffer_m": "lots"},
    {"exclusion_buffer_m": None},
    {"exclusion_buffer_m": -1},
    {"exclusion_buffer_m": float("inf")},
    {"soft_cost": True},
    {"soft_cost": "2.5"},  # a number as text is read
    {"decay_m": 0},
    {"decay_m": float("nan")},
    {"decay_m": "1e3"},
    {"crossing_min_angle_deg": 120},
    {"crossing_min_angle_deg": -1},
    {"crossing_min_angle_deg": "steep"},
    {"crossing_min_angle_deg": float("inf")},
    {"magnitude": 5.0},  # on a platform
    {"kind": "earthquake", "magnitude": 11.0, "crossing_min_angle_deg": None},
    {"kind": "earthquake", "magnitude": "big", "crossing_min_angle_deg": None},
    {"geometry": None},
    {"geometry": shapely.Point()},
    {"geometry": shapely.GeometryCollection([shapely.Point(50, 41)])},
    {"geometry": BOW_TIE},
    {"geometry": shapely.Point(500000, 41)},
    {"geometry": shapely.Polygon([(500, 41), (501, 42), (501, 41), (500, 42)])},  # invalid and out of range
    {"geometry": shapely.LinearRing([(50, 41), (51, 41), (51, 42)])},
]


@pytest.mark.parametrize("bad", BAD_CELLS, ids=lambda b: ",".join(f"{k}={v!r}"[:30] for k, v in b.items()))
def test_every_single_problem_reads_as_before(bad: dict[str, Any]) -> None:
    rows = _rows(4)
    rows[2] = {**rows[2], **bad}
    table = _gdf(rows)
    _same_outcome(
        _outcome(lambda: validate_hazards(table, "t.gpkg")), _outcome(lambda: ref.validate_hazards(table, "t.gpkg"))
    )


def test_all_problems_at_once_and_the_listing_cap_read_as_before() -> None:
    rows = _rows(len(BAD_CELLS) * 3)
    for i, bad in enumerate(BAD_CELLS * 3):
        rows[i] = {**rows[i], **bad}
    table = _gdf(rows)
    labels = [f"feature {i + 1} (fid {i + 7})" for i in range(len(rows))]
    new = _outcome(lambda: validate_hazards(table, "t.gpkg", row_labels=labels))
    old = _outcome(lambda: ref.validate_hazards(table, "t.gpkg", row_labels=labels))
    assert new[0] == "error"
    assert "... and" in new[1]  # more problems than are listed
    _same_outcome(new, old)


def test_a_table_in_the_wrong_crs_reads_as_before() -> None:
    table = _gdf(_rows(3)).set_crs(3857, allow_override=True)
    _same_outcome(_outcome(lambda: validate_hazards(table, "x")), _outcome(lambda: ref.validate_hazards(table, "x")))


def test_clean_tables_come_out_identical() -> None:
    rows = _rows(12)
    rows[1]["remarks"] = "  "
    rows[2]["name"] = ""
    rows[3]["hazard_id"] = 17  # not text: kept as it is
    rows[4]["exclusion_buffer_m"] = "750"  # text numbers become floats
    table = _gdf(rows)
    _same_table(validate_hazards(table, "x"), ref.validate_hazards(table, "x"))
    typed = table.astype({"hazard_id": str}).assign(soft_cost=np.arange(12, dtype=np.int64))
    _same_table(validate_hazards(typed, "x"), ref.validate_hazards(typed, "x"))


@pytest.mark.parametrize("seed", range(6))
def test_random_tables_read_as_before(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = _rows(60)
    for i in rng.choice(60, size=int(rng.integers(0, 25)), replace=False):
        bad = BAD_CELLS[int(rng.integers(len(BAD_CELLS)))]
        rows[i] = {**rows[i], **bad}
    table = _gdf(rows)
    _same_outcome(_outcome(lambda: validate_hazards(table, "r")), _outcome(lambda: ref.validate_hazards(table, "r")))


# -- repair_geometries ------------------------------------------------------------------------------------------------


def test_repairs_and_drops_read_as_before() -> None:
    geoms = [
        shapely.Point(50, 41),
        None,
        shapely.Point(50, 41, 7),
        shapely.LineString(),
        BOW_TIE,
        SPIKE,
        shapely.GeometryCollection([shapely.Point(1, 1)]),
        shapely.Polygon([(50, 41, 1), (51, 42, 1), (51, 41, 1), (50, 42, 1)]),
        shapely.LineString([(50, 41), (51, 42)]),
        shapely.LinearRing([(50, 41), (51, 41), (51, 42)]),
    ]
    frame = gpd.GeoDataFrame({"n": range(len(geoms))}, geometry=geoms, crs="EPSG:4326", index=range(5, 5 + len(geoms)))
    kept, repaired, dropped = repair_geometries(frame)
    kept_old, repaired_old, dropped_old = ref.repair_geometries(frame)
    assert repaired == repaired_old
    assert dropped == dropped_old
    assert list(kept.index) == list(kept_old.index)
    pd.testing.assert_series_equal(kept["n"], kept_old["n"])
    for a, b in zip(kept.geometry.values, kept_old.geometry.values, strict=True):
        assert shapely.equals_exact(a, b, tolerance=0.0)
        assert shapely.has_z(a) == shapely.has_z(b)


# -- read_user_inventory ----------------------------------------------------------------------------------------------


def _both(path: Path, **kw: Any) -> tuple[tuple[str, Any], tuple[str, Any]]:
    new = _outcome(lambda: read_user_inventory(path, **kw))
    with ref.rowwise():
        old = _outcome(lambda: read_user_inventory(path, **kw))
    return new, old


def _same_read(path: Path, **kw: Any) -> tuple[str, Any]:
    new, old = _both(path, **kw)
    assert new[0] == old[0], (new, old)
    if new[0] == "error":
        assert new[1] == old[1]
    else:
        _same_table(new[1][0], old[1][0])
        assert new[1][1] == old[1][1]  # the report: reprojection, repairs, warnings
    return new


def test_csv_inventories_read_as_before(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "# SYNTHETIC inventory\n"
        "id,Kind,Title,Longitude,Latitude,mw,notes,licence,exclusion_buffer_m\n"
        "a,platform,P1,50.1,41.2,,,CC0,\n"
        ",Earthquake,,50.2,41.3,6.1,deep,,\n"
        "c,Shipping Lane,L,50.3,41.4,5,x,CC-BY,900\n"
        "\n"
        "d,well,,50.4,41.5,,  ,CC0,1e3\n",
        encoding="utf-8",
    )
    assert _same_read(good, source="synthetic")[0] == "ok"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "kind,lon,lat,magnitude\nplatform,50.1,41.2,\nvolcano,abc,41,\n,50,41,\nwell,500,41,\nmud volcano,50,95,3\n",
        encoding="utf-8",
    )
    assert _same_read(bad)[0] == "error"
    assert _same_read(bad, kind="wreck")[0] == "error"
    wkt = tmp_path / "wkt.csv"
    wkt.write_text(
        'kind,wkt\npipeline,"LINESTRING (50 41, 51 42)"\ncable,NOT WKT\n'
        'anchorage,"POLYGON ((50 41, 51 42, 51 41, 50 42, 50 41))"\nport,\n',
        encoding="utf-8",
    )
    assert _same_read(wkt)[0] == "error"
    wkt.write_text(
        'kind,wkt\npipeline,"LINESTRING (50 41, 51 42)"\nanchorage,"POLYGON ((50 41, 51 42, 51 41, 50 42, 50 41))"\n'
    )
    assert _same_read(wkt)[0] == "ok"


def test_vector_inventories_read_as_before(tmp_path: Path) -> None:
    n = 30
    rng = np.random.default_rng(3)
    kinds = np.array(["platform", "Earthquake", "well", "wreck", "mud-volcano"])[np.arange(n) % 5]
    frame = gpd.GeoDataFrame(
        {
            "kind": kinds,
            "name": [f"synthetic {i}" if i % 3 else None for i in range(n)],
            "mag": np.where(kinds == "Earthquake", rng.uniform(4, 7, n), np.nan),
            "soft_cost": np.where(np.arange(n) % 4 == 0, 3.0, np.nan),
            "count": np.arange(n, dtype=np.int32),
            "flag": np.arange(n) % 2 == 0,
            "when": pd.date_range("2020-01-01", periods=n, freq="D"),
            "licence": ["CC0"] * n,
        },
        geometry=list(shapely.points(rng.uniform(49, 52, n), rng.uniform(40, 44, n))),
        crs="EPSG:4326",
    )
    frame.loc[5, "geometry"] = BOW_TIE
    gpkg = tmp_path / "synthetic.gpkg"
    frame.to_file(gpkg, layer="hazards")
    assert _same_read(gpkg)[0] == "ok"
    renamed = frame.rename(columns={"when": "remarks", "count": "hazard_id", "flag": "attribution"})
    geojson = tmp_path / "synthetic.geojson"
    renamed.to_crs(3857).to_file(geojson)
    assert _same_read(geojson)[0] == "ok"  # reprojected, ids from an integer column, text from dates and booleans
    broken = frame.copy()
    broken.loc[2, "kind"] = "platfrom"
    broken.loc[3, "kind"] = None
    broken.loc[7, "geometry"] = None
    broken.loc[8, "geometry"] = SPIKE
    broken.loc[9, "soft_cost"] = -2.0
    path = tmp_path / "broken.gpkg"
    broken.to_file(path)
    assert _same_read(path)[0] == "error"
    flagged = frame.assign(decay_m=frame["flag"])  # a boolean rule column is not a number
    path = tmp_path / "flagged.gpkg"
    flagged.to_file(path)
    assert _same_read(path)[0] == "error"


def test_area_clip_keeps_what_the_intersection_gave() -> None:
    rows = _rows(8)
    rows[1]["geometry"] = shapely.LineString([(49, 41), (52, 41)])
    rows[2]["geometry"] = shapely.Point(50.2, 41, 3)
    rows[3]["geometry"] = shapely.MultiPoint([(50, 41), (60, 41)])
    rows[4]["geometry"] = shapely.Point(48.0, 41)  # on the box's edge
    rows[5]["geometry"] = shapely.Point(10, 10)  # outside
    table = _gdf(rows)
    box = (48.0, 40.0, 51.0, 42.0)
    out = hazards_in_area(table, box)
    selected = table[table.geometry.intersects(shapely.box(*box))]
    clipped = selected.set_geometry(selected.geometry.intersection(shapely.box(*box)))
    old = clipped[~clipped.geometry.is_empty].reset_index(drop=True)
    _same_table(out, old)
    assert all(shapely.has_z(a) == shapely.has_z(b) for a, b in zip(out.geometry, old.geometry, strict=True))


def test_rule_fields_are_the_ones_compared() -> None:
    assert RULE_FIELDS == ("exclusion_buffer_m", "soft_cost", "decay_m", "crossing_min_angle_deg")


# -- rasterize_hazards ------------------------------------------------------------------------------------------------


def test_rasterised_classes_are_bit_for_bit_those_of_an_object_per_row() -> None:
    """SYNTHETIC mix: points of several kinds and per-row rules interleaved with lines, polygons, multi-points, empty
    rows, crossable points and points that constrain nothing; the classes come in the same order, so the per-kind
    sums are identical, not merely close."""
    from affine import Affine
    from pyproj import CRS, Transformer

    from geodata.grid import GeoGrid
    from geodata.hazards import rasterize_hazards

    utm = CRS.from_epsg(32639)
    grid = GeoGrid(utm, Affine(1000.0, 0, 400_000.0, 0, -1000.0, 4_560_000.0), (30, 30))
    to_lonlat = Transformer.from_crs(utm, "EPSG:4326", always_xy=True)
    rng = np.random.default_rng(11)
    rows = _rows(160)
    for i, row in enumerate(rows):
        x, y = rng.uniform(395_000, 435_000), rng.uniform(4_525_000, 4_565_000)
        lon, lat = to_lonlat.transform(x, y)
        row["geometry"] = shapely.Point(lon, lat)
        if i % 7 == 0:
            row["decay_m"] = 1500.0  # a second class of the same kind
        if i % 11 == 0:
            lon2, lat2 = to_lonlat.transform(x + 5000, y + 3000)
            row["geometry"] = shapely.LineString([(lon, lat), (lon2, lat2)])
            row["name"] = "line"
        if i % 13 == 0:
            row["geometry"] = shapely.MultiPoint([(lon, lat), to_lonlat.transform(x + 2000, y)])
        if i % 17 == 0:
            row["geometry"] = shapely.Point()
        if i % 19 == 0:
            row.update(kind="cable", crossing_min_angle_deg=60.0, exclusion_buffer_m=500.0)
        if i % 23 == 0:
            row.update(soft_cost=0.0, exclusion_buffer_m=0.0)
    table = _gdf(rows)
    new = rasterize_hazards(table, grid)
    with ref.rowwise():
        old = rasterize_hazards(table, grid)
    assert new.info == old.info
    assert new.info["classes"] >= 8
    assert np.array_equal(new.hard_mask, old.hard_mask)
    assert np.array_equal(new.soft_cost, old.soft_cost)
    assert new.soft_by_kind.keys() == old.soft_by_kind.keys()
    for kind in new.soft_by_kind:
        assert np.array_equal(new.soft_by_kind[kind], old.soft_by_kind[kind])
        assert np.array_equal(new.hard_by_kind[kind], old.hard_by_kind[kind])
