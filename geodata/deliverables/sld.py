"""Straight-line diagram (SLD): the route unrolled along KP, as route engineers and surveyors draw it.

One picture, KP along the bottom, with stacked bands sharing that axis:

- events: beach manholes, A/C points, crossings and sector boundaries, labelled with their KP;
- the depth profile, depth increasing downwards, below the Caspian surface (datum noted in the title block);
- the seabed slope along the track with the slope limit;
- the cable type (armour) by section, and the seabed sector by stretch;
- the distance to the nearest hazard of each kind (hazard proximity);
- a title block: title, scenario, route and cable length, date, datum and conventions.

Drawn with Matplotlib's object API on the Agg canvas (no pyplot, no global state, safe in worker processes).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from pyproj import CRS

from geodata.engineering.events import (
    ALTER_COURSE,
    BEACH_MANHOLE,
    CABLE_TYPE_CHANGE,
    CROSSING,
    LANDING,
    SECTOR_BOUNDARY,
    SHORE_CROSSING,
)
from geodata.errors import InputDataError

SEABED = "#b99b6b"
WATER = "#dcebf5"
BAND_COLOURS = ["#c0392b", "#e67e22", "#f1c40f", "#27ae60", "#2980b9", "#8e44ad"]
SECTOR_COLOURS = ["#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99"]
KIND_COLOURS = {
    "pipeline": "#d62728",
    "cable": "#9467bd",
    "fault": "#8c564b",
    "earthquake": "#e377c2",
    "mud_volcano": "#7f7f7f",
    "platform": "#bcbd22",
    "well": "#17becf",
    "shipping_lane": "#1f77b4",
    "wreck": "#2ca02c",
    "port": "#ff7f0e",
    "anchorage": "#393b79",
    "other": "#000000",
}
DATUM_NOTE = (
    "Depths in metres below the Caspian Sea surface, taken at -28 m Baltic height system (about 28 m below ocean MSL); "
    "negative = height of land above it."
)
EVENT_STYLE = {
    LANDING: ("#333333", "s", "-"),
    BEACH_MANHOLE: ("#000000", "D", "-"),
    SHORE_CROSSING: ("#2c7fb8", "v", ":"),
    ALTER_COURSE: ("#444444", "^", "--"),
    CROSSING: ("#d62728", "X", "-"),
    SECTOR_BOUNDARY: ("#1b9e77", "|", "-."),
}
"""Colour, marker and line style of each event kind labelled on the diagram (other kinds are not labelled)."""

FloatArray = npt.NDArray[np.float64]

MM_PER_INCH = 25.4
PAPER_MM: dict[str, tuple[float, float]] = {"A3": (420.0, 297.0), "A1": (841.0, 594.0)}
"""ISO 216 sheet sizes, landscape (width, height) in millimetres."""
DEFAULT_MAX_KM_PER_SHEET = 150.0
RPL_TABLE_ROWS = 12
"""Rows of the RPL summary table on one sheet (the events within its KP range; the rest are in rpl.csv)."""
BURIAL_COLOURS = ["#f7f4f0", "#e0d3bf", "#c4a982", "#9c7a4f", "#6e5233"]


def hazard_proximity(
    profile: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
    *,
    crs: CRS | str | int,
    kinds: Sequence[str] | None = None,
    max_distance_m: float = 20_000.0,
) -> pd.DataFrame:
    """Distance from each profile sample to the nearest hazard of each kind.

    Parameters
    ----------
    profile
        :func:`geodata.deliverables.rpl.route_profile` output (EPSG:4326 points with ``kp_km``).
    hazards
        Hazards with a ``kind`` column (any CRS).
    crs
        A metric CRS to measure in (the analysis CRS).
    kinds
        Kinds to report (default: every kind present).
    max_distance_m
        Distances are clipped to this value (the strip shows nothing beyond).

    Returns
    -------
    DataFrame with ``kp_km`` and one ``<kind>_m`` column per kind.
    """
    if "kind" not in hazards.columns:
        raise InputDataError("the hazards table has no 'kind' column; load it with the hazards module")
    if hazards.crs is None or profile.crs is None:
        raise InputDataError("hazards and profile need a CRS (EPSG:4326)")
    pts = np.asarray(profile.to_crs(crs).geometry.values)
    hz = hazards.to_crs(crs)
    out = pd.DataFrame({"kp_km": profile["kp_km"].to_numpy()})
    for kind in kinds if kinds is not None else sorted(hz["kind"].dropna().unique()):
        geoms = hz.loc[hz["kind"] == kind].geometry
        geoms = geoms[geoms.notna() & ~geoms.is_empty]
        if geoms.empty:
            out[f"{kind}_m"] = np.nan
            continue
        tree = shapely.STRtree(np.asarray(geoms.values))
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        out[f"{kind}_m"] = np.minimum(dist, max_distance_m)
    return out


def _spans_from_rpl(rpl: pd.DataFrame, column: str) -> list[tuple[float, float, str]]:
    """Stretches ``(kp_from, kp_to, value)`` over which ``column`` of the RPL keeps one value (each row's value
    holds on the leg that starts at it)."""
    kp = rpl["kp_km"].to_numpy()
    vals = rpl[column].astype(str).to_numpy()
    spans: list[tuple[float, float, str]] = []
    for i in range(len(kp) - 1):
        if spans and spans[-1][2] == vals[i]:
            spans[-1] = (spans[-1][0], kp[i + 1], vals[i])
        else:
            spans.append((kp[i], kp[i + 1], vals[i]))
    return spans


def _spread(x: np.ndarray, gap: float, lo: float, hi: float) -> np.ndarray:
    """Label positions near ``x`` (sorted) at least ``gap`` apart, kept within ``[lo, hi]`` where possible."""
    out = np.asarray(x, dtype=float).copy()
    if len(out) < 2:
        return out
    for _ in range(200):
        moved = False
        for i in range(1, len(out)):
            overlap = gap - (out[i] - out[i - 1])
            if overlap > 1e-9 * max(gap, 1.0):
                out[i - 1] -= overlap / 2
                out[i] += overlap / 2
                moved = True
        if out[0] < lo:
            out += min(lo - out[0], max(hi - out[-1], 0.0))
        if out[-1] > hi:
            out -= min(out[-1] - hi, max(out[0] - lo, 0.0))
        if not moved:
            break
    return out


def spread_row(kps: Sequence[float], widths: Sequence[float], lo: float, hi: float, gap: float) -> list[float]:
    """Centres of labels of the given widths (KP units, sorted by KP) side by side on one row, each as near its KP
    as the others allow (clusters of touching labels centred on the mean of their KPs) and the row kept inside
    ``[lo, hi]``; labels never overlap (they keep ``gap`` between them) when their widths and gaps fit the row."""
    w = [float(v) + gap for v in widths]
    # clusters: [first index, last index, left edge]
    clusters: list[list[float]] = []
    for i, k in enumerate(kps):
        clusters.append([i, i, float(k) - w[i] / 2])
        while True:
            c = clusters[-1]
            a, b = int(c[0]), int(c[1])
            width = sum(w[a : b + 1])
            # the left edge that puts the cluster's label centres, on average, on their KPs
            offsets = np.cumsum([0.0, *w[a:b]]) + np.array(w[a : b + 1]) / 2
            left = float(np.mean(np.asarray(kps[a : b + 1], dtype=float) - offsets))
            c[2] = min(max(left, lo), max(hi - width, lo))
            if len(clusters) > 1:
                p = clusters[-2]
                p_right = p[2] + sum(w[int(p[0]) : int(p[1]) + 1])
                if p_right > c[2] + 1e-12:
                    clusters[-2:] = [[p[0], c[1], p[2]]]
                    continue
            break
    centres: list[float] = []
    for first, last, left_edge in clusters:
        x = left_edge
        for i in range(int(first), int(last) + 1):
            centres.append(x + w[i] / 2)
            x += w[i]
    return centres


def _strip(
    ax: Axes, spans: Sequence[tuple[float, float, str]], colours: dict[str, str], label: str, kp_range: KpRange
) -> None:
    """A band of coloured spans along KP, each labelled with its name (or its short name) where it fits; spans are
    cut to the sheet's KP range and labels centred on the visible part."""
    axes_width_pt = ax.get_position().width * _figure_size_mm(ax)[0] / MM_PER_INCH * 72.0
    fontsize = 7.0 * _font_scale(ax)
    km_per_char = 0.62 * fontsize / axes_width_pt * kp_range.span
    for a, b, name in spans:
        ax.add_patch(Rectangle((a, 0), b - a, 1, facecolor=colours.get(name, "#dddddd"), edgecolor="white", lw=0.8))
        lo, hi = max(a, kp_range.x0), min(b, kp_range.x1)
        if hi <= lo:
            continue
        short = name.split(" (")[0]
        for text in (name, short):
            if (hi - lo) > (len(text) + 2) * km_per_char:
                ax.text((lo + hi) / 2, 0.5, text, ha="center", va="center", fontsize=fontsize, clip_on=True)
                break
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8.0 * _font_scale(ax))


def _font_scale(ax: Axes) -> float:
    """Font scale of the sheet ``ax`` is on: 1 on A3, the square root of the page-width ratio on larger paper."""
    return float(np.sqrt(_figure_size_mm(ax)[0] / PAPER_MM["A3"][0]))


def _figure_size_mm(ax: Axes) -> tuple[float, float]:
    """Width and height in millimetres of the page ``ax`` is drawn on."""
    fig = ax.get_figure(root=True)
    if not isinstance(fig, Figure):
        raise InputDataError("the axes are not on a figure")
    w_in, h_in = fig.get_size_inches()
    return float(w_in) * MM_PER_INCH, float(h_in) * MM_PER_INCH


# -- steps of the diagram -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SldAxes:
    """The figure of one sheet and its panels, top to bottom; all but the title block and RPL table share the KP
    axis."""

    figure: Figure
    events: Axes
    depth: Axes
    slope: Axes
    burial: Axes
    cable: Axes
    sector: Axes
    proximity: Axes | None
    title_block: Axes
    rpl_table: Axes
    scale: float


@dataclass(frozen=True)
class KpRange:
    """The KP extent drawn (km): from ``x0`` to ``x1``; ``span`` is never below a metre."""

    x0: float
    x1: float

    @property
    def span(self) -> float:
        """Width of the range in km (at least a metre, so that proportions of it never vanish)."""
        return max(self.x1 - self.x0, 1e-3)


@dataclass(frozen=True)
class Sheet:
    """One sheet of the diagram: its KP range and its place in the set (``number`` of ``count``)."""

    kp_range: KpRange
    number: int = 1
    count: int = 1


def sheet_ranges(x0: float, x1: float, max_km_per_sheet: float = DEFAULT_MAX_KM_PER_SHEET) -> list[KpRange]:
    """Split KP ``x0..x1`` into the fewest equal sheets of at most ``max_km_per_sheet`` km, inner breaks rounded to
    the whole km (so a sheet may be up to a km longer than the limit only when the limit is below 2 km)."""
    if max_km_per_sheet <= 0:
        raise InputDataError(f"max_km_per_sheet must be positive, got {max_km_per_sheet}")
    span = max(x1 - x0, 1e-3)
    n = max(1, int(np.ceil(span / max_km_per_sheet - 1e-9)))
    breaks = [x0, *[float(round(x0 + i * span / n)) for i in range(1, n)], x1]
    if max_km_per_sheet < 2.0:  # whole-km rounding would break the limit: keep the exact equal split
        breaks = [x0 + i * span / n for i in range(n)] + [x1]
    return [KpRange(a, b) for a, b in itertools.pairwise(breaks)]


def _check_inputs(profile: pd.DataFrame, rpl: pd.DataFrame) -> None:
    """Raise :class:`InputDataError` unless the profile and the RPL carry the columns the diagram reads."""
    for name, frame, cols in (
        ("profile", profile, ["kp_km", "water_depth_m", "slope_deg"]),
        ("rpl", rpl, ["kp_km", "event", "name", "cable_type"]),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InputDataError(f"{name} lacks columns {missing}; build it with geodata.deliverables.rpl")
    if len(profile) < 2:
        raise InputDataError("the profile has fewer than two samples; sample the route with route_profile first")


def _layout(title: str, *, with_proximity: bool, paper: str) -> SldAxes:
    """One landscape ISO sheet (A3 420 x 297 mm, or A1): a frame, the title, the panels stacked on one KP axis from
    the top, and along the bottom the title block (left) beside the RPL summary table (right).

    Placed in millimetres of the A3 sheet and scaled to the paper, fonts by the square root of the scale."""
    if paper not in PAPER_MM:
        raise InputDataError(f"paper '{paper}' is not one of {sorted(PAPER_MM)}")
    w_mm, h_mm = PAPER_MM[paper]
    k = w_mm / PAPER_MM["A3"][0]  # millimetres of A3 -> of this paper
    fig = Figure(figsize=(w_mm / MM_PER_INCH, h_mm / MM_PER_INCH), dpi=100)
    FigureCanvasAgg(fig)
    W, H = PAPER_MM["A3"]

    def rect(left: float, bottom: float, width: float, height: float) -> tuple[float, float, float, float]:
        return (left / W, bottom / H, width / W, height / H)

    fig.add_artist(Rectangle((8 / W, 8 / H), 1 - 16 / W, 1 - 16 / H, transform=fig.transFigure, fill=False, lw=1.0))
    left, right = 42.0, W - 14.0
    strip_bottom, strip_height, kp_label_room = 12.0, 44.0, 13.0
    heights = {"events": 40.0, "depth": 0.0, "slope": 19.0, "burial": 6.5, "cable": 6.5, "sector": 6.5}
    if with_proximity:
        heights["proximity"] = 21.0
    gaps = {"depth": 1.0, "slope": 3.0, "burial": 2.5, "cable": 1.2, "sector": 1.2, "proximity": 2.5}
    top = H - 20.0
    room = top - (strip_bottom + strip_height + kp_label_room)
    heights["depth"] = room - sum(heights.values()) - sum(gaps[k] for k in heights if k in gaps)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for name, height in heights.items():
        top -= gaps.get(name, 0.0)
        boxes[name] = rect(left, top - height, right - left, height)
        top -= height
    ax_ev = fig.add_axes(boxes["events"])
    ax_z = fig.add_axes(boxes["depth"], sharex=ax_ev)
    ax_s = fig.add_axes(boxes["slope"], sharex=ax_ev)
    ax_b = fig.add_axes(boxes["burial"], sharex=ax_ev)
    ax_c = fig.add_axes(boxes["cable"], sharex=ax_ev)
    ax_sec = fig.add_axes(boxes["sector"], sharex=ax_ev)
    ax_p = fig.add_axes(boxes["proximity"], sharex=ax_ev) if with_proximity else None
    ax_tb = fig.add_axes(rect(12.0, strip_bottom, 196.0, strip_height))
    ax_tab = fig.add_axes(rect(212.0, strip_bottom, W - 12.0 - 212.0, strip_height))
    scale = float(np.sqrt(k))
    fig.text(12 / W, 1 - 10.5 / H, title, fontsize=13 * scale, fontweight="bold", ha="left", va="top")
    return SldAxes(fig, ax_ev, ax_z, ax_s, ax_b, ax_c, ax_sec, ax_p, ax_tb, ax_tab, scale)


def depth_limits(z: FloatArray) -> tuple[float, float]:
    """Depth axis (bottom, top) in metres for depths ``z``: a margin below the deepest point, the Caspian surface
    (or the highest land) a little below the top; the same on every sheet."""
    zmax = float(np.nanmax(z)) if np.isfinite(z).any() else 10.0
    zmin = float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    bottom = zmax * 1.08 + 5
    top = min(zmin, 0.0) - 0.04 * (bottom - min(zmin, 0.0))
    return bottom, top


def _depth_panel(ax: Axes, kp: FloatArray, z: FloatArray, kp_range: KpRange, ylim: tuple[float, float]) -> None:
    """Water over seabed, depth increasing downwards, the Caspian surface as the zero line; sets the KP limits."""
    bottom, top = ylim
    ax.fill_between(kp, 0, np.where(z > 0, z, 0), color=WATER, lw=0)
    ax.fill_between(kp, z, bottom, color=SEABED, lw=0, alpha=0.9)
    ax.plot(kp, z, color="#5a4630", lw=1.2)
    ax.axhline(0, color="#2c7fb8", lw=0.8)
    ax.set_ylim(bottom, top)
    ax.set_ylabel("Water depth (m)", fontsize=8.5 * _font_scale(ax))
    ax.grid(True, color="white", lw=0.5, alpha=0.7)
    ax.set_xlim(kp_range.x0, kp_range.x1)


def metres_per_mm(ax: Axes) -> tuple[float, float]:
    """Scale of a KP/depth axes on paper: (metres along track per mm, metres of depth per mm)."""
    pos = ax.get_position()
    page_w, page_h = _figure_size_mm(ax)
    width_mm, height_mm = pos.width * page_w, pos.height * page_h
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return abs(x1 - x0) * 1000.0 / width_mm, abs(y1 - y0) / height_mm


def vertical_exaggeration(ax: Axes) -> float:
    """How many times the depth axis is stretched against the KP axis: horizontal over vertical metres per mm."""
    h, v = metres_per_mm(ax)
    return h / v


def _scale_note(ax: Axes) -> str:
    """The depth panel's scales stated in words: vertical exaggeration and metres per millimetre each way."""
    h, v = metres_per_mm(ax)
    return f"Vertical exaggeration x{h / v:,.0f}  (1 mm = {h:,.0f} m along track, {v:,.1f} m of depth)"


LABEL_CHARS = 36
"""Longest event name on the profile (cut at a word); the RPL table below it and rpl.csv give it in full."""
LABEL_LINE_CHARS = 18


def _event_label(event: pd.Series, kp_km: float) -> str:
    """The text of an event's label, two lines: its name (for a crossing, what is crossed and at which angle) and
    its KP."""
    name = str(event["name"])
    remarks = event.get("remarks")
    if event["event"] == CROSSING and isinstance(remarks, str) and " at " in remarks:
        angle = remarks.split(" at ")[-1].split("°")[0]
        crossed = remarks.split("crossing of ")[-1].split(" at ")[0]
        label = f"{shorten(name.split(' ')[0] + ' ' + crossed, LABEL_CHARS)} ({angle}°)"
    else:
        label = merged_name(name, LABEL_CHARS)
    # names over two lines of at most LABEL_LINE_CHARS: narrow labels stay near their KP where events cluster
    lines = textwrap.wrap(label, LABEL_LINE_CHARS, break_long_words=False) or [""]
    return "\n".join([*lines, f"KP {kp_km:.3f}"])


def stagger_labels(
    kps: Sequence[float], widths: Sequence[float], lo: float, hi: float, n_tiers: int, gap: float
) -> list[tuple[float, int]]:
    """Place labels of the given widths (KP units, sorted by KP) on ``n_tiers`` rows: each label centred on its KP
    (kept inside ``[lo, hi]``) on the lowest row where it clears the previous label by ``gap``; when every row is
    taken there, on the row that frees up first, pushed along KP just past its last label. Returns ``(centre,
    tier)`` per label; labels on one row never overlap."""
    right_edges = [-np.inf] * max(n_tiers, 1)
    out: list[tuple[float, int]] = []
    for kp, w in zip(kps, widths, strict=True):
        centre = min(max(kp, lo + w / 2), hi - w / 2) if hi - lo > w else (lo + hi) / 2
        free = [t for t, edge in enumerate(right_edges) if edge + gap <= centre - w / 2]
        if free:
            tier = free[0]
        else:
            tier = int(np.argmin(right_edges))
            centre = right_edges[tier] + gap + w / 2
        right_edges[tier] = centre + w / 2
        out.append((centre, tier))
    return out


def _event_markers(axes: SldAxes, rpl: pd.DataFrame, kp: FloatArray, z: FloatArray, kp_range: KpRange) -> list[Text]:
    """Each labelled event of the sheet as a line across the depth panel and a marker on the seabed; its label
    above, side by side on one row with slanted leader lines when they fit (else on staggered rows), none overlapping
    another nor leaving the panel."""
    ax = axes.events
    ax.set_ylim(0, 1)
    ax.axis("off")
    labelled = rpl[rpl["event"].isin(list(EVENT_STYLE))].sort_values("kp_km")
    labelled = labelled[(labelled["kp_km"] >= kp_range.x0 - 1e-9) & (labelled["kp_km"] <= kp_range.x1 + 1e-9)]
    kps = labelled["kp_km"].to_numpy(dtype=float)
    seabed = np.nan_to_num(z, nan=0.0)
    fontsize = 6.3 * axes.scale
    texts = []
    for (_, r), k in zip(labelled.iterrows(), kps, strict=True):
        colour, marker, ls = EVENT_STYLE[r["event"]]
        axes.depth.axvline(k, color=colour, lw=0.6, ls=ls, alpha=0.5)
        axes.depth.plot(
            [k],
            [float(np.interp(k, kp, seabed))],
            marker=marker,
            color=colour,
            ms=6 * axes.scale,
            mec="white",
            mew=0.6,
            zorder=5,
        )
        texts.append(
            ax.text(
                k,
                0.0,
                _event_label(r, k),
                fontsize=fontsize,
                ha="center",
                va="bottom",
                color=colour,
                linespacing=1.05,
                zorder=4,
                bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
            )
        )
    if not texts:
        return texts
    renderer = axes.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    box = ax.get_window_extent(renderer)
    extents = [t.get_window_extent(renderer) for t in texts]
    widths = [e.width / box.width * kp_range.span for e in extents]
    tier_h = max(e.height for e in extents) / box.height + 0.03
    base = 0.14
    n_tiers = max(1, int((1.0 - base) / tier_h))
    gap = 0.004 * kp_range.span
    if sum(widths) + gap * len(widths) <= kp_range.span:
        # side by side on one row with slanted leaders: no leader passes behind another label
        placed = [(c, 0) for c in spread_row(kps.tolist(), widths, kp_range.x0, kp_range.x1, gap)]
    else:
        placed = stagger_labels(kps.tolist(), widths, kp_range.x0, kp_range.x1, n_tiers, gap)
    for t, k, (x, tier), (_, r) in zip(texts, kps, placed, labelled.iterrows(), strict=True):
        y = base + tier * tier_h
        t.set_position((x, y))
        colour = EVENT_STYLE[r["event"]][0]
        ax.plot(
            [k, k, x, x], [0.0, base * 0.45, base * 0.8, y], color=colour, lw=0.6, alpha=0.8, zorder=2, clip_on=False
        )
    return texts


def _slope_panel(ax: Axes, profile: pd.DataFrame, max_slope_deg: float | None) -> None:
    """Seabed slope (and the along-track slope of the profile when given) with the slope limit."""
    s = _font_scale(ax)
    kp = profile["kp_km"].to_numpy(dtype=float)
    ax.plot(kp, profile["slope_deg"], color="#636363", lw=0.9, label="seabed slope")
    if "along_track_slope_deg" in profile.columns:
        ax.plot(kp, profile["along_track_slope_deg"], color="#fd8d3c", lw=0.8, alpha=0.9, label="along track")
    if max_slope_deg is not None:
        ax.axhline(max_slope_deg, color="#d62728", lw=1.0, ls="--", label=f"limit {max_slope_deg:g}°")
    ax.set_ylabel("Slope (°)", fontsize=8.5 * s)
    ax.set_ylim(
        0,
        max(np.nanmax(profile["slope_deg"].to_numpy(dtype=float), initial=1.0) * 1.2, (max_slope_deg or 0) * 1.1, 1.0),
    )
    ax.legend(loc="upper left", fontsize=6.5 * s, ncol=3, framealpha=0.85, edgecolor="none")
    ax.grid(True, alpha=0.3)


def burial_spans(rpl: pd.DataFrame, segments: pd.DataFrame | None = None) -> list[tuple[float, float, str]]:
    """Stretches ``(kp_from, kp_to, label)`` of one target burial depth: from the RPL's segment table
    (``from_kp_km, to_kp_km, burial_depth_m``) when given, else from a ``burial_depth_m`` column of the RPL; a depth
    of zero is "surface laid", none (land) "no burial"."""

    def label(v: float) -> str:
        if not np.isfinite(v):
            return "no burial"
        return "surface laid" if v <= 0 else f"buried {v:g} m"

    if segments is not None and {"from_kp_km", "to_kp_km", "burial_depth_m"} <= set(segments.columns):
        spans: list[tuple[float, float, str]] = []
        for a, b, v in segments[["from_kp_km", "to_kp_km", "burial_depth_m"]].itertuples(index=False):
            name = label(float(v))
            if spans and spans[-1][2] == name and abs(spans[-1][1] - float(a)) < 1e-6:
                spans[-1] = (spans[-1][0], float(b), name)
            else:
                spans.append((float(a), float(b), name))
        return spans
    if "burial_depth_m" in rpl.columns:
        values = pd.to_numeric(rpl["burial_depth_m"], errors="coerce").to_numpy(dtype=float)
        return _spans_from_rpl(rpl.assign(_burial=[label(v) for v in values]), "_burial")
    return []


def _burial_band(ax: Axes, spans: Sequence[tuple[float, float, str]], kp_range: KpRange) -> None:
    """Target burial depth by section, darker for deeper burial."""
    depths = sorted({float(n.split()[1]) for _, _, n in spans if n.startswith("buried ")})
    palette = {"no burial": "#ffffff", "surface laid": BURIAL_COLOURS[0]}
    for i, d in enumerate(depths):
        palette[f"buried {d:g} m"] = BURIAL_COLOURS[min(i + 1, len(BURIAL_COLOURS) - 1)]
    _strip(ax, spans, palette, "Burial", kp_range)
    if not spans:
        ax.text(
            kp_range.x0 + kp_range.span / 2,
            0.5,
            "no burial given",
            ha="center",
            va="center",
            fontsize=7 * _font_scale(ax),
            color="grey",
        )


def _cable_band(ax: Axes, rpl: pd.DataFrame, cable_types: Sequence[str] | None, kp_range: KpRange) -> None:
    """Cable type by section, coloured in band order, with a line at every cable-type change."""
    for kp_change in rpl.loc[rpl["event"] == CABLE_TYPE_CHANGE, "kp_km"]:
        ax.axvline(float(kp_change), color="black", lw=0.8)
    order = list(cable_types) if cable_types else list(dict.fromkeys(rpl["cable_type"].astype(str)))
    band_colours = {name: BAND_COLOURS[i % len(BAND_COLOURS)] for i, name in enumerate(order)}
    _strip(ax, _spans_from_rpl(rpl, "cable_type"), band_colours, "Cable type", kp_range)


def _sector_band(ax: Axes, sector_spans: pd.DataFrame | None, kp_range: KpRange) -> None:
    """Seabed sector by stretch (grey where no sector applies), or a note that none were given."""
    if sector_spans is None or not len(sector_spans):
        _strip(ax, [], {}, "Seabed sector", kp_range)
        ax.text(
            kp_range.x0 + kp_range.span / 2,
            0.5,
            "no sectors given",
            ha="center",
            va="center",
            fontsize=7 * _font_scale(ax),
            color="grey",
        )
        return
    names = [str(c) if isinstance(c, str) else "no sector" for c in sector_spans["country"]]
    palette = {n: SECTOR_COLOURS[i % len(SECTOR_COLOURS)] for i, n in enumerate(dict.fromkeys(names))}
    palette["no sector"] = "#eeeeee"
    spans = list(zip(sector_spans["kp_from_km"], sector_spans["kp_to_km"], names, strict=True))
    _strip(ax, spans, palette, "Seabed sector", kp_range)


def _proximity_panel(ax: Axes, proximity: pd.DataFrame) -> None:
    """Distance (km) to the nearest hazard of each kind along KP, one line per kind."""
    s = _font_scale(ax)
    cols = [c for c in proximity.columns if c.endswith("_m") and c != "kp_m"]
    for c in cols:
        kind = c[:-2]
        ax.plot(proximity["kp_km"], proximity[c] / 1000.0, lw=1.0, color=KIND_COLOURS.get(kind), label=kind)
    ax.set_ylabel("Nearest\nhazard (km)", fontsize=8.0 * s, linespacing=1.0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", fontsize=6.5 * s, ncol=min(len(cols), 6) or 1, framealpha=0.85, edgecolor="none")
    ax.grid(True, alpha=0.3)


def _kp_axis(axes: SldAxes) -> None:
    """KP tick labels and the KP axis label on the bottom panel only."""
    bottom_axis: Axes = axes.proximity if axes.proximity is not None else axes.sector
    for ax in (axes.depth, axes.slope, axes.burial, axes.cable, axes.sector):
        if ax is not bottom_axis:
            ax.tick_params(labelbottom=False)
    for panel in (axes.depth, axes.slope, axes.proximity):
        if panel is not None:
            panel.tick_params(labelsize=7.5 * axes.scale)
    bottom_axis.tick_params(labelsize=7.5 * axes.scale)
    bottom_axis.set_xlabel("KP (km, geodesic on WGS84; KP 0 as in the RPL)", fontsize=8.5 * axes.scale, labelpad=2)


def _title_block_text(
    rpl: pd.DataFrame,
    title: str,
    scenario: str,
    date: dt.date,
    notes: Sequence[str],
    sheet: Sheet,
    scale_note: str,
    paper: str,
    width_chars: int = 60,
) -> tuple[list[str], list[str]]:
    """The two columns of the title block (identification and sheet; route figures, datum and conventions), each
    line wrapped to ``width_chars``."""
    route_km = float(rpl["kp_km"].max() - rpl["kp_km"].min())
    wet = rpl[rpl["surface"] != "land"]["kp_km"] if "surface" in rpl.columns else rpl["kp_km"]
    marine_km = float(wet.max() - wet.min()) if len(wet) else float("nan")
    cable_col = next((c for c in ("cable_kp_km", "cable_length_km") if c in rpl.columns), None)
    cable_km = float(rpl[cable_col].max()) if cable_col else float("nan")
    n_ac = int((rpl["event"] == ALTER_COURSE).sum())
    n_x = int((rpl["event"] == CROSSING).sum())
    r = sheet.kp_range
    continues = []
    if sheet.number > 1:
        continues.append(f"continued from sheet {sheet.number - 1}")
    if sheet.number < sheet.count:
        continues.append(f"continues on sheet {sheet.number + 1}")
    left = [
        f"Title: {title}",
        f"Scenario: {scenario or '-'}",
        f"Sheet {sheet.number} of {sheet.count}: KP {r.x0:.3f} to {r.x1:.3f}"
        + (f" ({', '.join(continues)})" if continues else ""),
        f"Paper: ISO {paper} landscape; scales hold when printed at 100 %",
        f"Date: {date.isoformat()}",
        "Status: desktop study, not for construction",
        *notes,
    ]
    right = [
        f"Route length (station to station): {route_km:.3f} km",
        f"Marine route (shore to shore): {marine_km:.3f} km;  cable incl. slack (cable KP at the end, as in the "
        f"RPL): {cable_km:.3f} km",
        f"A/C points: {n_ac}    crossings: {n_x}",
        scale_note,
        DATUM_NOTE,
        "Legs are WGS84 geodesics; bearings true; positions WGS84.",
    ]
    wrap = functools.partial(textwrap.wrap, width=width_chars, subsequent_indent="  ")
    return [w for line in left for w in wrap(line)], [w for line in right for w in wrap(line)]


def _title_block(ax: Axes, columns: tuple[list[str], list[str]], scale: float) -> list[Text]:
    """A framed box with the two title-block columns, separated by a rule."""
    ax.axis("off")
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, lw=1.0))
    ax.axvline(0.5, color="black", lw=0.6)
    return [
        ax.text(
            x,
            0.96,
            "\n".join(lines),
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=7.2 * scale,
            linespacing=1.3,
        )
        for lines, x in zip(columns, (0.012, 0.512), strict=True)
    ]


RPL_COLUMNS = (
    ("pos_no", "Pos"),
    ("event", "Event"),
    ("name", "Name"),
    ("lat_dm", "Latitude"),
    ("lon_dm", "Longitude"),
    ("kp_km", "KP (km)"),
    ("cable_kp_km", "Cable KP (km)"),
    ("water_depth_m", "Depth (m)"),
    ("cable_type", "Cable"),
)
RPL_COLUMN_WIDTHS = (0.04, 0.12, 0.27, 0.105, 0.115, 0.075, 0.095, 0.07, 0.06)
"""Shares of the table width; the name column is the widest so that names are shortened only at a word."""
NAME_CHARS = 44


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` at a word boundary, with an ellipsis when cut (never mid-word)."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0].rstrip(" ;,/-")
    return (cut or text[: max_chars - 1]) + "\u2026"


def merged_name(name: str, max_chars: int) -> str:
    """The label of a position where several events are merged (``"A; B; C"``): the first, and how many more (the
    RPL table and rpl.csv list them all)."""
    parts = [p for p in name.split("; ") if p]
    first = shorten(parts[0], max_chars - 6) if parts else ""
    return first if len(parts) <= 1 else f"{first} (+{len(parts) - 1})"


def rpl_summary_rows(rpl: pd.DataFrame, kp_range: KpRange, max_rows: int = RPL_TABLE_ROWS) -> list[list[str]]:
    """The RPL rows of a sheet's KP range as table cells (position, event, name, lat/lon in degrees and decimal
    minutes, KP to the metre, depth to the metre, cable type); past ``max_rows`` the last row says how many more
    there are in ``rpl.csv``."""
    inside = rpl[(rpl["kp_km"] >= kp_range.x0 - 1e-9) & (rpl["kp_km"] <= kp_range.x1 + 1e-9)]
    rows = []
    for _, r in inside.iterrows():
        cells = []
        for col, _ in RPL_COLUMNS:
            v = r.get(col, "")
            if col in ("kp_km", "cable_kp_km"):
                cells.append(f"{float(v):.3f}" if pd.notna(v) and v != "" else "")
            elif col == "water_depth_m":
                cells.append(f"{float(v):.0f}" if pd.notna(v) else "")
            elif col == "cable_type":
                cells.append(str(v).split(" (")[0])
            elif col == "pos_no" and isinstance(v, int | float | np.integer) and pd.notna(v):
                cells.append(str(int(v)))
            elif col == "name":
                cells.append(shorten(str(v), NAME_CHARS) if pd.notna(v) else "")
            else:
                cells.append(str(v) if pd.notna(v) else "")
        rows.append(cells)
    if len(rows) > max_rows:
        more = len(rows) - (max_rows - 1)
        rows = [*rows[: max_rows - 1], ["", "", f"... {more} more rows in rpl.csv", *[""] * (len(RPL_COLUMNS) - 3)]]
    return rows


def _rpl_table(ax: Axes, rpl: pd.DataFrame, kp_range: KpRange, scale: float) -> None:
    """The RPL summary of the sheet as a table filling the axes (header and up to :data:`RPL_TABLE_ROWS` rows)."""
    ax.axis("off")
    rows = rpl_summary_rows(rpl, kp_range)
    header = [h for _, h in RPL_COLUMNS]
    caption = f"Route Position List, KP {kp_range.x0:.3f} to {kp_range.x1:.3f} (full RPL: rpl.csv)"
    ax.text(0.0, 1.0, caption, transform=ax.transAxes, fontsize=7 * scale, ha="left", va="top", fontweight="bold")
    if not rows:
        ax.text(0.5, 0.5, "no RPL positions on this sheet", ha="center", va="center", fontsize=7 * scale)
        return
    n = RPL_TABLE_ROWS + 1
    height = min(1.0, (len(rows) + 1) / n) * 0.9  # below the caption
    table = ax.table(
        cellText=rows,
        colLabels=header,
        cellLoc="left",
        colLoc="left",
        bbox=Bbox.from_bounds(0.0, 0.92 - height, 1.0, height),
        colWidths=list(RPL_COLUMN_WIDTHS),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(6.0 * scale)
    for (row, _), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        cell.PAD = 0.04
        if row == 0:
            cell.set_facecolor("#e8e8e8")
            cell.get_text().set_fontweight("bold")


def straight_line_diagram(
    profile: pd.DataFrame,
    rpl: pd.DataFrame,
    *,
    proximity: pd.DataFrame | None = None,
    sector_spans: pd.DataFrame | None = None,
    cable_types: Sequence[str] | None = None,
    max_slope_deg: float | None = None,
    title: str = "Straight-line diagram",
    scenario: str = "",
    date: dt.date | None = None,
    notes: Sequence[str] = (),
    paper: str = "A3",
    sheet: Sheet | None = None,
    segments: pd.DataFrame | None = None,
) -> Figure:
    """Draw one sheet of the straight-line diagram of a route (the whole route unless ``sheet`` says otherwise).

    Parameters
    ----------
    profile
        :func:`geodata.deliverables.rpl.route_profile` (``kp_km, water_depth_m, slope_deg``;
        ``along_track_slope_deg`` if present).
    rpl
        :func:`geodata.deliverables.rpl.build_rpl`: events, A/C points, burial and cable types by section.
    proximity
        :func:`hazard_proximity` (``kp_km`` and ``<kind>_m`` columns), or None to leave the strip out.
    sector_spans
        ``spans`` of :func:`geodata.engineering.sectors.sector_crossing_report`, or None.
    cable_types
        Cable types in band order (shallow to deep) to fix their colours; default: order of appearance.
    max_slope_deg
        ``Limits.max_slope_deg``, drawn on the slope panel.
    title, scenario, date, notes
        Title block content (date defaults to today, in the local time zone).
    paper
        ``A3`` (420 x 297 mm) or ``A1`` (841 x 594 mm), landscape.
    segments
        The RPL's segment table (``from_kp_km, to_kp_km, burial_depth_m``) for the burial band; default: the RPL's
        own ``burial_depth_m`` column, if any.
    sheet
        The KP range of this sheet and its number in the set (:func:`straight_line_diagram_sheets` makes them);
        default: one sheet for the whole route.

    Returns
    -------
    matplotlib.figure.Figure on an Agg canvas; save it with :func:`save_sld` or :func:`figure_bytes`.
    """
    _check_inputs(profile, rpl)
    # Every string drawn comes from the scenario or the data (station, hazard and sector names, the title): drawn
    # as it is written, never as mathtext, so a '$' in a name cannot break or alter the diagram.
    with matplotlib.rc_context({"text.parse_math": False}):
        return _draw(
            profile,
            rpl,
            proximity,
            sector_spans,
            cable_types,
            max_slope_deg,
            title,
            scenario,
            date,
            notes,
            paper,
            sheet,
            segments,
        )


def straight_line_diagram_sheets(
    profile: pd.DataFrame,
    rpl: pd.DataFrame,
    *,
    max_km_per_sheet: float = DEFAULT_MAX_KM_PER_SHEET,
    **kwargs: Any,
) -> list[Figure]:
    """The diagram split across sheets by KP range (at most ``max_km_per_sheet`` km each, equal lengths); keyword
    arguments as :func:`straight_line_diagram`."""
    _check_inputs(profile, rpl)
    kp = profile["kp_km"].to_numpy(dtype=float)
    x0, x1 = float(min(kp.min(), rpl["kp_km"].min())), float(max(kp.max(), rpl["kp_km"].max()))
    ranges = sheet_ranges(x0, x1, max_km_per_sheet)
    return [
        straight_line_diagram(profile, rpl, sheet=Sheet(r, i + 1, len(ranges)), **kwargs) for i, r in enumerate(ranges)
    ]


def _draw(
    profile: pd.DataFrame,
    rpl: pd.DataFrame,
    proximity: pd.DataFrame | None,
    sector_spans: pd.DataFrame | None,
    cable_types: Sequence[str] | None,
    max_slope_deg: float | None,
    title: str,
    scenario: str,
    date: dt.date | None,
    notes: Sequence[str],
    paper: str,
    sheet: Sheet | None,
    segments: pd.DataFrame | None,
) -> Figure:
    """The panels of one sheet, in drawing order."""
    kp = profile["kp_km"].to_numpy(dtype=float)
    z = profile["water_depth_m"].to_numpy(dtype=float)
    if sheet is None:
        sheet = Sheet(KpRange(float(min(kp.min(), rpl["kp_km"].min())), float(max(kp.max(), rpl["kp_km"].max()))))
    kp_range = sheet.kp_range
    page_title = title if sheet.count == 1 else f"{title}  (sheet {sheet.number} of {sheet.count})"
    axes = _layout(page_title, with_proximity=proximity is not None, paper=paper)
    _depth_panel(axes.depth, kp, z, kp_range, depth_limits(z))
    _event_markers(axes, rpl, kp, z, kp_range)
    _slope_panel(axes.slope, profile, max_slope_deg)
    _burial_band(axes.burial, burial_spans(rpl, segments), kp_range)
    _cable_band(axes.cable, rpl, cable_types, kp_range)
    _sector_band(axes.sector, sector_spans, kp_range)
    if axes.proximity is not None and proximity is not None:
        _proximity_panel(axes.proximity, proximity)
    _kp_axis(axes)
    note = _scale_note(axes.depth)
    axes.depth.text(
        0.005,
        0.03,
        note,
        transform=axes.depth.transAxes,
        fontsize=6.5 * axes.scale,
        ha="left",
        va="bottom",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
    )
    when = date or dt.datetime.now().astimezone().date()
    _title_block(axes.title_block, _title_block_text(rpl, title, scenario, when, notes, sheet, note, paper), axes.scale)
    _rpl_table(axes.rpl_table, rpl, kp_range, axes.scale)
    return axes.figure


DEPTH_AXES_INDEX = 1
"""Index of the depth panel in ``Figure.axes`` of a sheet (added second, after the event labels)."""


@dataclass
class SldDocument:
    """The diagram as issued: its sheets (one Figure per KP range), the PDF's document information and the paper."""

    sheets: list[Figure]
    metadata: dict[str, Any]
    paper: str = "A3"

    def to_bytes(self, *, dpi: int = 150) -> dict[str, bytes]:
        """``{"png": first sheet, "pdf": every sheet}`` (:func:`figure_bytes`)."""
        return figure_bytes(self.sheets, dpi=dpi, metadata=self.metadata)

    def summary(self) -> dict[str, Any]:
        """Sheets, paper and each sheet's KP range and vertical exaggeration, rounded for display."""
        ranges = []
        for fig in self.sheets:
            depth = fig.axes[DEPTH_AXES_INDEX]
            x0, x1 = depth.get_xlim()
            ranges.append(
                {
                    "kp_from_km": round(float(x0), 3),
                    "kp_to_km": round(float(x1), 3),
                    "vertical_exaggeration": round(vertical_exaggeration(depth)),
                }
            )
        w, h = PAPER_MM[self.paper]
        return {
            "sheets": len(self.sheets),
            "paper": f"ISO {self.paper} landscape, {w:g} x {h:g} mm",
            "sheet_ranges": ranges,
        }


def pdf_metadata(
    *, title: str, scenario: str, revision: str = "", date: dt.datetime | dt.date | None = None
) -> dict[str, Any]:
    """The PDF document information of the diagram: Title, Subject (with the scenario), Keywords (with the
    revision, the scenario digest), Author, Creator and CreationDate."""
    when = date or dt.datetime.now().astimezone()
    if not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time(0, 0), tzinfo=dt.UTC)
    return {
        "Title": f"{title} - straight-line diagram",
        "Subject": f"Straight-line diagram of the cable route, scenario {scenario}",
        "Keywords": f"straight-line diagram, SLD, RPL, scenario {scenario}, revision {revision or '-'}",
        "Author": "caspian-corridor",
        "Creator": "caspian-corridor geodata.deliverables.sld (matplotlib)",
        "CreationDate": when,
    }


def save_sld(
    fig: Figure | Sequence[Figure],
    png_path: str | Path,
    pdf_path: str | Path | None = None,
    *,
    dpi: int = 150,
    metadata: dict[str, Any] | None = None,
) -> list[Path]:
    """Save the diagram: the first sheet as PNG, every sheet in one PDF when a path is given; returns the paths."""
    files = figure_bytes(fig, dpi=dpi, metadata=metadata)
    out = []
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        if path is None:
            continue
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(files[fmt])
        out.append(p)
    return out


def figure_bytes(
    fig: Figure | Sequence[Figure], *, dpi: int = 150, metadata: dict[str, Any] | None = None
) -> dict[str, bytes]:
    """The diagram rendered in memory as ``{"png": ..., "pdf": ...}`` bytes (for stores that hold values, not
    files): the PNG of the first sheet (the preview in the Dagster UI and the web map), the PDF of every sheet, one
    page each, with ``metadata`` (:func:`pdf_metadata`) as its document information."""
    sheets = [fig] if isinstance(fig, Figure) else list(fig)
    if not sheets:
        raise InputDataError("no sheets to render; draw the diagram first")
    png = io.BytesIO()
    sheets[0].savefig(png, format="png", dpi=dpi)
    pdf = io.BytesIO()
    with PdfPages(pdf, metadata=metadata or {}) as pages:
        for sheet in sheets:
            pages.savefig(sheet)
    return {"png": png.getvalue(), "pdf": pdf.getvalue()}
