"""Straight-line diagram to plot: ISO sheets, labels that stay on the page and apart, the vertical exaggeration
stated, burial and cable bands, the RPL summary, PDF metadata and long routes split by KP range (synthetic)."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from geodata.deliverables import sld
from geodata.engineering.events import ALTER_COURSE, BEACH_MANHOLE, CROSSING, LANDING, SHORE_CROSSING


def _route() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A 330 km route with six events crowded within 7 km of each landfall, as real landfalls are."""
    kp = np.arange(-6.0, 330.0, 0.25)
    depth = np.clip(np.minimum(kp + 6, 330 - kp) * 4.0 - 5.0, -20, 700)
    profile = pd.DataFrame({"kp_km": kp, "water_depth_m": depth, "slope_deg": np.full_like(kp, 0.4)})
    events = [
        (-6.0, LANDING, "Siyazan landing station"), (-0.4, SHORE_CROSSING, "Shore crossing Siyazan"),
        (0.0, BEACH_MANHOLE, "BMH Siyazan"), (0.3, ALTER_COURSE, "A/C 1"), (0.9, ALTER_COURSE, "A/C 2"),
        (1.2, CROSSING, "X1"), (160.0, ALTER_COURSE, "A/C 3"), (322.9, ALTER_COURSE, "A/C 4"),
        (323.5, ALTER_COURSE, "A/C 5"), (323.9, BEACH_MANHOLE, "BMH Aktau"), (324.2, SHORE_CROSSING, "Shore Aktau"),
        (329.9, LANDING, "Aktau landing station"),
    ]  # fmt: skip
    rpl = pd.DataFrame(
        {
            "pos_no": range(1, len(events) + 1),
            "kp_km": [e[0] for e in events],
            "event": [e[1] for e in events],
            "name": [e[2] for e in events],
            "lat_dm": ["41°04.698'N"] * len(events),
            "lon_dm": ["049°06.750'E"] * len(events),
            "water_depth_m": np.interp([e[0] for e in events], kp, depth),
            "cable_type": ["DA (double armoured)"] * 4 + ["LW (lightweight)"] * 4 + ["DA (double armoured)"] * 4,
            "remarks": ["crossing of Pipeline A at 88°" if e[1] == CROSSING else "" for e in events],
        }
    )
    segments = pd.DataFrame(
        {
            "from_kp_km": [-6.0, 0.0, 20.0, 300.0],
            "to_kp_km": [0.0, 20.0, 300.0, 329.9],
            "burial_depth_m": [np.nan, 1.5, 0.0, 1.5],
        }
    )
    return profile, rpl, segments


@pytest.fixture(scope="module")
def sheets() -> list[Figure]:
    profile, rpl, segments = _route()
    return sld.straight_line_diagram_sheets(
        profile, rpl, segments=segments, max_km_per_sheet=150, title="Siyazan - Aktau", scenario="unit",
        date=dt.date(2026, 1, 2), notes=("Revision (scenario digest): 0123456789ab",),
    )  # fmt: skip


def _texts(fig: Figure) -> list[Text]:
    """Every text drawn on the sheet: texts, labels, table cells, and the tick labels of ticks in view (matplotlib
    keeps labels of ticks outside the view limits, undrawn, at stale positions)."""
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    out = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in undrawn]
    for ax in fig.axes:
        for table in ax.tables:
            out += [c.get_text() for c in table.get_celld().values() if c.get_text().get_text().strip()]
    return out


def test_sheets_are_a3_landscape_and_split_by_kp(sheets: list[Figure]) -> None:
    assert len(sheets) == 3  # 336 km at most 150 km a sheet
    for fig in sheets:
        w, h = fig.get_size_inches() * 25.4
        assert (round(w), round(h)) == (420, 297)
    ranges = [fig.axes[sld.DEPTH_AXES_INDEX].get_xlim() for fig in sheets]
    assert ranges[0][0] == pytest.approx(-6.0)
    assert ranges[-1][1] == pytest.approx(329.9)
    for (_, a1), (b0, _) in itertools.pairwise(ranges):
        assert a1 == pytest.approx(b0)  # contiguous, no gap and no overlap
    assert all(b - a <= 150.0 for a, b in ranges)


def test_a1_option_and_unknown_paper() -> None:
    profile, rpl, _ = _route()
    fig = sld.straight_line_diagram(profile, rpl, paper="A1")
    assert tuple(np.round(fig.get_size_inches() * 25.4)) == (841, 594)
    with pytest.raises(Exception, match="A3"):
        sld.straight_line_diagram(profile, rpl, paper="B")


def test_sheet_ranges() -> None:
    assert [(r.x0, r.x1) for r in sld.sheet_ranges(-6.0, 329.9, 400)] == [(-6.0, 329.9)]
    rs = sld.sheet_ranges(-6.0, 329.9, 100)
    assert len(rs) == 4
    assert all(r.x1 - r.x0 <= 100 for r in rs)
    assert all(float(r.x1).is_integer() for r in rs[:-1])  # breaks on whole km


@pytest.mark.parametrize("paper", ["A3", "A1"])
def test_no_text_leaves_the_page_and_no_labels_overlap(paper: str) -> None:
    profile, rpl, segments = _route()
    figs = sld.straight_line_diagram_sheets(profile, rpl, segments=segments, paper=paper, max_km_per_sheet=150)
    for fig in figs:
        fig.canvas.draw()  # axis labels and tick labels are placed at draw time
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        page = Bbox.from_bounds(0, 0, fig.bbox.width, fig.bbox.height)
        for t in _texts(fig):
            box = t.get_window_extent(renderer)
            inside = page.containsx(box.x0) and page.containsx(box.x1)
            assert inside, f"'{t.get_text()}' leaves the page sideways"
            inside = page.containsy(box.y0) and page.containsy(box.y1)
            assert inside, f"'{t.get_text()}' leaves the page vertically"
        events = fig.axes[0]
        labels = [t for t in events.texts if "KP" in t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        panel = events.get_window_extent(renderer)
        for t, box in zip(labels, boxes, strict=True):
            assert box.x0 >= panel.x0 - 0.5, f"'{t.get_text()}' outside its panel"
            assert box.x1 <= panel.x1 + 0.5, f"'{t.get_text()}' outside its panel"
            assert box.y1 <= panel.y1 + 0.5, f"'{t.get_text()}' above its panel"
        for (ta, a), (tb, b) in itertools.combinations(zip(labels, boxes, strict=True), 2):
            assert not a.overlaps(b), f"labels '{ta.get_text()}' and '{tb.get_text()}' overlap"
        # the title block's and the RPL table's text stays inside its frame
        for frame in fig.axes[-2:]:
            fb = frame.get_window_extent(renderer)
            for t in _texts(fig):
                if t.axes is frame and t is not frame.title:
                    tb = t.get_window_extent(renderer)
                    inside = (
                        fb.x0 - 0.5 <= tb.x0 and tb.x1 <= fb.x1 + 0.5 and fb.y0 - 0.5 <= tb.y0 <= tb.y1 <= fb.y1 + 0.5
                    )
                    assert inside, f"'{t.get_text()[:40]}' overflows its frame"


def test_landfall_labels_are_spread_with_leaders(sheets: list[Figure]) -> None:
    fig = sheets[0]
    events = fig.axes[0]
    labels = [t for t in events.texts if "KP" in t.get_text()]
    assert len(labels) == 6  # every event of the first 112 km is labelled
    assert len(events.lines) == 6  # one leader line per label
    # the labels fit side by side on one row, so no leader passes behind another label
    assert len({round(t.get_position()[1], 3) for t in labels}) == 1
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, line in enumerate(events.lines):
        xy = events.transData.transform(np.column_stack(line.get_data()))
        leader = shapely.LineString(xy)
        for j, b in enumerate(boxes):
            own = leader.distance(shapely.Point((b.x0 + b.x1) / 2, b.y0)) < 1.0  # the leader ends under its label
            if not own:
                assert not leader.intersects(shapely.box(b.x0, b.y0, b.x1, b.y1)), (i, labels[j].get_text())


def test_spread_row_keeps_labels_apart_near_their_kp_and_inside() -> None:
    kps = [0.0, 0.1, 0.2, 50.0, 99.0, 99.5]
    widths = [3.0, 4.0, 2.0, 3.0, 3.0, 5.0]
    centres = sld.spread_row(kps, widths, -1.0, 100.0, 0.2)
    for (a, wa), (b, wb) in itertools.pairwise(zip(centres, widths, strict=True)):
        assert b - a >= (wa + wb) / 2 + 0.2 - 1e-9
    assert centres[3] == pytest.approx(50.0)  # a label with room stays on its KP
    assert centres[0] - widths[0] / 2 >= -1.0 - 0.1 - 1e-9
    assert centres[-1] + widths[-1] / 2 <= 100.0 + 0.1 + 1e-9
    assert sld.shorten("X5 shipping lane MARNET edge 14", 20) == "X5 shipping lane\u2026"
    assert sld.merged_name("Shore Aktau; Leave KAZ sector; Zone limit", 30) == "Shore Aktau (+2)"


def test_stagger_labels_rows_never_overlap() -> None:
    kps = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 50.0]
    placed = sld.stagger_labels(kps, [3.0] * 7, -1.0, 100.0, n_tiers=3, gap=0.2)
    for (xa, ta), (xb, tb) in itertools.combinations(placed, 2):
        if ta == tb:
            assert abs(xa - xb) >= 3.0 + 0.2 - 1e-9
    assert {t for _, t in placed[:3]} == {0, 1, 2}
    assert placed[-1] == (50.0, 0)
    assert all(-1.0 + 1.5 <= x for x, _ in placed)  # kept inside the axis


def test_vertical_exaggeration_from_metres_per_mm(sheets: list[Figure]) -> None:
    fig = sheets[0]
    depth = fig.axes[sld.DEPTH_AXES_INDEX]
    x0, x1 = depth.get_xlim()
    y0, y1 = depth.get_ylim()
    pos = depth.get_position()
    w_mm, h_mm = pos.width * 420.0, pos.height * 297.0
    expected = ((x1 - x0) * 1000 / w_mm) / (abs(y1 - y0) / h_mm)
    assert sld.vertical_exaggeration(depth) == pytest.approx(expected)
    assert 5 < expected < 500
    stated = " ".join(" ".join(t.get_text().split()) for t in _texts(fig))
    assert f"Vertical exaggeration x{expected:,.0f}" in stated


def test_burial_and_cable_bands_and_rpl_table(sheets: list[Figure]) -> None:
    fig = sheets[0]
    text = [t.get_text() for t in _texts(fig)]
    assert "buried 1.5 m" in text
    assert "surface laid" in text
    assert any(t.startswith("DA (double armoured)") or t == "DA" for t in text)
    assert "Route Position List, KP -6.000 to 106.000 (full RPL: rpl.csv)" in text
    cells = {t for t in text}
    assert {"Pos", "KP (km)", "Depth (m)", "BMH Siyazan", "0.000", "41°04.698'N"} <= cells
    assert "160.000" not in cells  # the A/C at KP 160 is on sheet 2
    assert any("Sheet 1 of 3: KP -6.000 to 106.000" in t for t in text)
    assert any("0123456789ab" in t for t in text)


def test_rpl_summary_rows_cap() -> None:
    _, rpl, _ = _route()
    rows = sld.rpl_summary_rows(rpl, sld.KpRange(-10, 400), max_rows=5)
    assert len(rows) == 5
    assert rows[-1][2] == "... 8 more rows in rpl.csv"


def test_pdf_has_every_sheet_and_metadata(sheets: list[Figure]) -> None:
    meta = sld.pdf_metadata(title="Siyazan - Aktau", scenario="siyazan-aktau", revision="0123456789ab",
                            date=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))  # fmt: skip
    doc = sld.SldDocument(sheets, meta)
    files = doc.to_bytes(dpi=30)
    pdf = files["pdf"]
    assert pdf.startswith(b"%PDF")
    assert files["png"].startswith(b"\x89PNG")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 3
    assert re.search(rb"/MediaBox \[ 0 0 1190\.55\d* 841\.88\d* \]", pdf)  # A3 in points
    info = pdf[pdf.rindex(b"/CreationDate") - 2000 :]
    assert b"(Straight-line diagram of the cable route, scenario siyazan-aktau)" in info
    assert b"revision 0123456789ab" in info
    assert b"(D:20260102000000Z)" in info
    summary = doc.summary()
    assert summary["sheets"] == 3
    assert summary["paper"].startswith("ISO A3")
    assert all(isinstance(r["vertical_exaggeration"], int) for r in summary["sheet_ranges"])
