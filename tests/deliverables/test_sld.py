"""Straight-line diagram: renders PNG and PDF from synthetic route products."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from matplotlib.figure import Figure
from shapely.geometry import LineString, Point, box

from geodata.deliverables.rpl import build_rpl, route_profile
from geodata.deliverables.sld import _spread, figure_bytes, hazard_proximity, save_sld, straight_line_diagram
from geodata.engineering.events import BEACH_MANHOLE, LANDING, RouteEvent
from geodata.engineering.sectors import sector_crossing_report, sector_events
from geodata.errors import InputDataError
from geodata.geodesy import to_lonlat
from geodata.grid import GeoGrid, Raster
from geodata.scenario import Engineering

GRID = GeoGrid("EPSG:32639", Affine(1000.0, 0, 300_000.0, 0, -1000.0, 4_700_000.0), (60, 200))


@pytest.fixture(scope="module")
def products() -> dict:
    _, cols = np.mgrid[0:60, 0:200]
    depth = Raster((np.minimum(cols, 199 - cols) * 6.0 - 10.0).astype("float32"), GRID)
    slope = Raster(np.full(GRID.shape, 0.3, "float32"), GRID)
    xy = LineString(
        [(301_000, 4_670_000), (304_000, 4_670_000), (400_000, 4_660_000), (496_000, 4_672_000), (499_000, 4_672_000)]
    )
    route = to_lonlat(xy, GRID.crs)
    c = list(route.coords)
    sectors = gpd.GeoDataFrame(
        {"country": ["AZE", "KAZ"]},
        geometry=[box(290_000, 4_600_000, 410_000, 4_720_000), box(410_000, 4_600_000, 510_000, 4_720_000)],
        crs=GRID.crs,
    ).to_crs(4326)
    rep = sector_crossing_report(route, sectors, kp_origin=c[1])
    events = [
        RouteEvent(LANDING, "West", *c[0]),
        RouteEvent(BEACH_MANHOLE, "BMH West", *c[1]),
        RouteEvent(BEACH_MANHOLE, "BMH East", *c[-2]),
        RouteEvent(LANDING, "East", *c[-1]),
        *sector_events(rep),
    ]
    rpl = build_rpl(route, events, depth, slope, Engineering())
    prof = route_profile(route, depth, slope, 100.0, kp_origin=c[1])
    hazards = gpd.GeoDataFrame(
        {"kind": ["pipeline", "earthquake"]},
        geometry=[LineString([(380_000, 4_600_000), (390_000, 4_700_000)]), Point(450_000, 4_665_000)],
        crs=GRID.crs,
    ).to_crs(4326)
    return {"rpl": rpl, "profile": prof, "spans": rep.spans, "hazards": hazards}


def test_hazard_proximity_distances(products: dict) -> None:
    prox = hazard_proximity(products["profile"], products["hazards"], crs=GRID.crs)
    assert list(prox.columns) == ["kp_km", "earthquake_m", "pipeline_m"]
    assert prox.pipeline_m.min() < 100.0  # the route crosses the pipeline
    assert prox.earthquake_m.min() == pytest.approx(1250 * np.cos(np.arctan(12 / 96)), abs=5.0)
    assert prox.max(numeric_only=True).max() <= 20_000.0


def test_sld_renders_png_and_pdf(products: dict, tmp_path) -> None:
    prox = hazard_proximity(products["profile"], products["hazards"], crs=GRID.crs)
    fig = straight_line_diagram(
        products["profile"],
        products["rpl"],
        proximity=prox,
        sector_spans=products["spans"],
        max_slope_deg=15,
        title="Test SLD",
        scenario="unit-test",
        date=dt.date(2026, 1, 2),
    )
    assert isinstance(fig, Figure)
    texts = [" ".join(t.get_text().split()) for ax in fig.axes for t in ax.texts]  # title-block lines are wrapped
    assert any("Sector AZE / KAZ" in t for t in texts)
    assert any("-28 m Baltic" in t for t in texts)
    assert any("2026-01-02" in t for t in texts)
    assert fig.axes[1].yaxis_inverted()  # depth increases downwards
    png, pdf = save_sld(fig, tmp_path / "sld.png", tmp_path / "sld.pdf", dpi=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_sld_refuses_bad_inputs(products: dict) -> None:
    with pytest.raises(InputDataError, match="route_profile"):
        straight_line_diagram(products["profile"].iloc[:1], products["rpl"])
    with pytest.raises(InputDataError, match="lacks columns"):
        straight_line_diagram(products["profile"].drop(columns="slope_deg"), products["rpl"])


def test_labels_are_spread_apart() -> None:
    x = np.array([10.0, 10.1, 10.2, 50.0])
    out = _spread(x, 1.0, 0.0, 100.0)
    assert np.diff(out).min() >= 1.0 - 1e-9
    assert out[-1] == pytest.approx(50.0)


@pytest.mark.parametrize("hostile", ["Cost $100 $", r"a_b^c \frac{1}{0}", "$$", "unbalanced $x^"])
def test_names_with_mathtext_characters_are_drawn_as_written(products: dict, hostile: str) -> None:
    rpl = products["rpl"].copy()
    rpl.loc[rpl.index[0], "name"] = hostile
    fig = straight_line_diagram(products["profile"], rpl, title=hostile, scenario=hostile, notes=(hostile,))
    texts = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]
    assert any(hostile in t for t in texts)
    out = figure_bytes(fig)  # rendering parses every text: mathtext would raise on an unbalanced '$'
    assert out["png"].startswith(b"\x89PNG")
    assert out["pdf"].startswith(b"%PDF")
