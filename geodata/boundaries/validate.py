"""Validation of the vector inputs of the boundary stage (layers, ISO codes, water and coast frames)."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geodata.boundaries.geometry import ISO3_FIELDS, ISO_NUMERIC_TO_ISO3, area_only
from geodata.errors import InputDataError
from geodata.geodesy import WGS84

# -- input validation ------------------------------------------------------------------------------------------------


def validate_layer(
    gdf: gpd.GeoDataFrame,
    name: str,
    *,
    kinds: Sequence[str] = ("Polygon", "MultiPolygon"),
    report: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Check a vector layer and bring it to EPSG:4326 with valid geometries.

    Parameters
    ----------
    gdf
        The layer.
    name
        How to name the input in messages (e.g. ``"coast_gshhg_f_2.3.6.gpkg layer caspian_sea_water"``).
    kinds
        Geometry types accepted (after repair).
    report
        A list to which every repair or conversion is appended, as a sentence.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326, null and empty geometries dropped, invalid ones repaired with ``make_valid``.

    Raises
    ------
    InputDataError
        The layer is empty, has no CRS, or holds no geometry of the accepted kinds.
    """
    report = report if report is not None else []
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputDataError(f"{name}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if len(gdf) == 0:
        raise InputDataError(f"{name} is empty (no features); check the file and layer name")
    if gdf.crs is None:
        raise InputDataError(
            f"{name} has no CRS; define it (e.g. `gdf.set_crs('EPSG:4326')`, or `ogr2ogr -a_srs EPSG:4326`) "
            "before passing it"
        )
    out = gdf.copy()
    if not CRS.from_user_input(out.crs).equals(WGS84):
        report.append(f"{name}: reprojected from {out.crs.to_string()} to EPSG:4326")
        out = out.to_crs(WGS84)
    null = out.geometry.isna() | out.geometry.is_empty
    if null.any():
        report.append(f"{name}: dropped {int(null.sum())} null or empty geometries")
        out = out.loc[~null].copy()
    invalid = ~out.geometry.is_valid
    if invalid.any():
        reasons = sorted({shapely.is_valid_reason(g).split("[")[0] for g in out.geometry[invalid]})
        before = float(shapely.area(out.geometry[invalid].to_numpy()).sum())
        fixed = shapely.make_valid(out.geometry[invalid].to_numpy())
        if set(kinds) <= {"Polygon", "MultiPolygon"}:
            fixed = np.array([area_only(g) for g in fixed], dtype=object)
        out.loc[invalid, out.geometry.name] = fixed
        after = float(shapely.area(out.geometry[invalid].to_numpy()).sum())
        report.append(
            f"{name}: repaired {int(invalid.sum())} invalid geometries with make_valid ({'; '.join(reasons)}); "
            f"area {before:.6g} -> {after:.6g} deg²"
        )
    ok = out.geometry.geom_type.isin(kinds) & ~out.geometry.is_empty
    if not ok.any():
        raise InputDataError(
            f"{name} holds no {'/'.join(kinds)} geometry (found {sorted(set(gdf.geometry.geom_type.dropna()))}); "
            "pass the right layer"
        )
    if not ok.all():
        report.append(f"{name}: ignored {int((~ok).sum())} features that are not {'/'.join(kinds)}")
        out = out.loc[ok].copy()
    return out


def iso3_column(countries: gpd.GeoDataFrame, name: str) -> np.ndarray:
    for col in ISO3_FIELDS:
        if col in countries.columns:
            return countries[col].astype(str).str.upper().to_numpy()
    if "id" in countries.columns:
        codes = countries["id"].astype(str).str.zfill(3)
        return codes.map(lambda c: ISO_NUMERIC_TO_ISO3.get(c, f"N{c}")).to_numpy()
    raise InputDataError(
        f"{name} has no country code field; expected one of {', '.join(ISO3_FIELDS)} (ISO alpha-3) or `id` "
        "(ISO numeric)"
    )
