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
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
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


def _strip(
    ax: Axes, spans: Sequence[tuple[float, float, str]], colours: dict[str, str], label: str, xspan: float
) -> None:
    """A band of coloured spans along KP, each labelled with its name (or its short name) where it fits."""
    for a, b, name in spans:
        ax.add_patch(Rectangle((a, 0), b - a, 1, facecolor=colours.get(name, "#dddddd"), edgecolor="white", lw=0.8))
        short = name.split(" (")[0]
        for text in (name, short):
            if (b - a) > (len(text) + 2) * 0.0052 * xspan:
                ax.text((a + b) / 2, 0.5, text, ha="center", va="center", fontsize=7.5, clip_on=True)
                break
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8.5)


# -- steps of the diagram -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SldAxes:
    """The figure of the diagram and its panels, top to bottom; all but the title block share the KP axis."""

    figure: Figure
    events: Axes
    depth: Axes
    slope: Axes
    cable: Axes
    sector: Axes
    proximity: Axes | None
    title_block: Axes


@dataclass(frozen=True)
class KpRange:
    """The KP extent drawn (km): from ``x0`` to ``x1``; ``span`` is never below a metre."""

    x0: float
    x1: float

    @property
    def span(self) -> float:
        """Width of the range in km (at least a metre, so that proportions of it never vanish)."""
        return max(self.x1 - self.x0, 1e-3)


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


def _layout(title: str, *, with_proximity: bool) -> SldAxes:
    """The page: 16.5 x 11 in, panels stacked on one KP axis, a spacer for the KP label and the title block."""
    heights = [1.5, 5.0, 1.4, 0.45, 0.45]
    if with_proximity:
        heights.append(1.6)
    heights += [0.45, 1.15]  # a spacer for the KP axis label, then the title block
    fig = Figure(figsize=(16.5, 11.0), dpi=110)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(
        len(heights), 1, height_ratios=heights, hspace=0.12, left=0.1, right=0.97, top=0.93, bottom=0.03
    )
    ax_ev = fig.add_subplot(gs[0])
    ax_z = fig.add_subplot(gs[1], sharex=ax_ev)
    ax_s = fig.add_subplot(gs[2], sharex=ax_ev)
    ax_c = fig.add_subplot(gs[3], sharex=ax_ev)
    ax_sec = fig.add_subplot(gs[4], sharex=ax_ev)
    ax_p = fig.add_subplot(gs[5], sharex=ax_ev) if with_proximity else None
    fig.add_subplot(gs[-2]).axis("off")
    ax_tb = fig.add_subplot(gs[-1])
    fig.suptitle(title, fontsize=14, fontweight="bold", x=0.1, y=0.99, ha="left")
    return SldAxes(fig, ax_ev, ax_z, ax_s, ax_c, ax_sec, ax_p, ax_tb)


def _depth_panel(ax: Axes, kp: FloatArray, z: FloatArray, kp_range: KpRange) -> None:
    """Water over seabed, depth increasing downwards, the Caspian surface as the zero line; sets the KP limits."""
    zmax = float(np.nanmax(z)) if np.isfinite(z).any() else 10.0
    zmin = float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    bottom = zmax * 1.08 + 5
    top = min(zmin, 0.0) - 0.04 * (bottom - min(zmin, 0.0))
    ax.fill_between(kp, 0, np.where(z > 0, z, 0), color=WATER, lw=0)
    ax.fill_between(kp, z, bottom, color=SEABED, lw=0, alpha=0.9)
    ax.plot(kp, z, color="#5a4630", lw=1.2)
    ax.axhline(0, color="#2c7fb8", lw=0.8)
    ax.set_ylim(bottom, top)
    ax.set_ylabel("Water depth (m)", fontsize=9)
    ax.grid(True, color="white", lw=0.5, alpha=0.7)
    ax.set_xlim(kp_range.x0, kp_range.x1)


def _event_label(event: pd.Series, kp_km: float) -> str:
    """The text of an event's label: its name and KP; for a crossing, what is crossed and at which angle."""
    name = str(event["name"])
    remarks = event.get("remarks")
    if event["event"] == CROSSING and isinstance(remarks, str) and " at " in remarks:
        angle = remarks.split(" at ")[-1].split("°")[0]
        crossed = remarks.split("crossing of ")[-1].split(" at ")[0]
        label = f"{name.split(' ')[0]} {crossed}"
        return f"{label[:22]} ({angle}°)  KP {kp_km:.3f}"
    return f"{name[:24]}  KP {kp_km:.3f}"


def _event_markers(axes: SldAxes, rpl: pd.DataFrame, kp: FloatArray, z: FloatArray, kp_range: KpRange) -> None:
    """Each labelled event as a line across the depth panel and a marker on the seabed, with its label above,
    labels spread apart where events crowd."""
    axes.events.set_ylim(0, 1)
    axes.events.axis("off")
    labelled = rpl[rpl["event"].isin(list(EVENT_STYLE))].sort_values("kp_km")
    kps = labelled["kp_km"].to_numpy(dtype=float)
    label_x = _spread(kps, 0.0105 * kp_range.span, kp_range.x0, kp_range.x1)
    seabed = np.nan_to_num(z, nan=0.0)
    for (_, r), k, lx in zip(labelled.iterrows(), kps, label_x, strict=True):
        colour, marker, ls = EVENT_STYLE[r["event"]]
        axes.depth.axvline(k, color=colour, lw=0.6, ls=ls, alpha=0.5)
        depth_here = float(np.interp(k, kp, seabed))
        axes.depth.plot([k], [depth_here], marker=marker, color=colour, ms=6, mec="white", mew=0.6, zorder=5)
        axes.events.plot([k, k, lx], [0.0, 0.06, 0.2], color=colour, lw=0.6, alpha=0.8)
        axes.events.text(
            lx,
            0.22,
            _event_label(r, k),
            rotation=90,
            fontsize=6.3,
            ha="center",
            va="bottom",
            color=colour,
            clip_on=False,
        )


def _slope_panel(ax: Axes, profile: pd.DataFrame, max_slope_deg: float | None) -> None:
    """Seabed slope (and the along-track slope of the profile when given) with the slope limit."""
    kp = profile["kp_km"].to_numpy(dtype=float)
    ax.plot(kp, profile["slope_deg"], color="#636363", lw=0.9, label="seabed slope")
    if "along_track_slope_deg" in profile.columns:
        ax.plot(kp, profile["along_track_slope_deg"], color="#fd8d3c", lw=0.8, alpha=0.9, label="along track")
    if max_slope_deg is not None:
        ax.axhline(max_slope_deg, color="#d62728", lw=1.0, ls="--", label=f"limit {max_slope_deg:g}°")
    ax.set_ylabel("Slope (°)", fontsize=9)
    ax.set_ylim(
        0,
        max(np.nanmax(profile["slope_deg"].to_numpy(dtype=float), initial=1.0) * 1.2, (max_slope_deg or 0) * 1.1, 1.0),
    )
    ax.legend(loc="upper left", fontsize=7, ncol=3, framealpha=0.85, edgecolor="none")
    ax.grid(True, alpha=0.3)


def _cable_band(ax: Axes, rpl: pd.DataFrame, cable_types: Sequence[str] | None, kp_range: KpRange) -> None:
    """Cable type by section, coloured in band order, with a line at every cable-type change."""
    for kp_change in rpl.loc[rpl["event"] == CABLE_TYPE_CHANGE, "kp_km"]:
        ax.axvline(float(kp_change), color="black", lw=0.8)
    order = list(cable_types) if cable_types else list(dict.fromkeys(rpl["cable_type"].astype(str)))
    band_colours = {name: BAND_COLOURS[i % len(BAND_COLOURS)] for i, name in enumerate(order)}
    _strip(ax, _spans_from_rpl(rpl, "cable_type"), band_colours, "Cable type", kp_range.span)


def _sector_band(ax: Axes, sector_spans: pd.DataFrame | None, kp_range: KpRange) -> None:
    """Seabed sector by stretch (grey where no sector applies), or a note that none were given."""
    if sector_spans is None or not len(sector_spans):
        _strip(ax, [], {}, "Seabed sector", kp_range.span)
        ax.text(
            kp_range.x0 + kp_range.span / 2,
            0.5,
            "no sectors given",
            ha="center",
            va="center",
            fontsize=7,
            color="grey",
        )
        return
    names = [str(c) if isinstance(c, str) else "no sector" for c in sector_spans["country"]]
    palette = {n: SECTOR_COLOURS[i % len(SECTOR_COLOURS)] for i, n in enumerate(dict.fromkeys(names))}
    palette["no sector"] = "#eeeeee"
    spans = list(zip(sector_spans["kp_from_km"], sector_spans["kp_to_km"], names, strict=True))
    _strip(ax, spans, palette, "Seabed sector", kp_range.span)


def _proximity_panel(ax: Axes, proximity: pd.DataFrame) -> None:
    """Distance (km) to the nearest hazard of each kind along KP, one line per kind."""
    cols = [c for c in proximity.columns if c.endswith("_m") and c != "kp_m"]
    for c in cols:
        kind = c[:-2]
        ax.plot(proximity["kp_km"], proximity[c] / 1000.0, lw=1.0, color=KIND_COLOURS.get(kind), label=kind)
    ax.set_ylabel("Nearest hazard (km)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", fontsize=7, ncol=min(len(cols), 6), framealpha=0.85, edgecolor="none")
    ax.grid(True, alpha=0.3)


def _kp_axis(axes: SldAxes) -> None:
    """KP tick labels and the KP axis label on the bottom panel only."""
    bottom_axis = axes.proximity if axes.proximity is not None else axes.sector
    for ax in (axes.depth, axes.slope, axes.cable, axes.sector):
        if ax is not bottom_axis:
            ax.tick_params(labelbottom=False)
    bottom_axis.set_xlabel("KP (km, geodesic on WGS84, KP 0 at the first beach manhole)", fontsize=9)


def _title_block_text(
    rpl: pd.DataFrame, title: str, scenario: str, date: dt.date, notes: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """The three columns of the title block: identification, route figures, datum and conventions."""
    route_km = float(rpl["kp_km"].max() - rpl["kp_km"].min())
    marine_km = float(rpl["kp_km"].max())
    cable_km = float(rpl["cable_length_km"].max()) if "cable_length_km" in rpl.columns else float("nan")
    n_ac = int((rpl["event"] == ALTER_COURSE).sum())
    n_x = int((rpl["event"] == CROSSING).sum())
    left = [
        f"Title: {title}",
        f"Scenario: {scenario or '-'}",
        f"Date: {date.isoformat()}",
        "Status: desktop study, not for construction",
    ]
    middle = [
        f"Route length (station to station): {route_km:.3f} km",
        f"Marine route (KP 0 to end): {marine_km:.3f} km",
        f"Cable length incl. planned slack: {cable_km:.3f} km",
        f"A/C points: {n_ac}    crossings: {n_x}",
    ]
    right = [
        textwrap.fill(line, 100)
        for line in (DATUM_NOTE, "Legs are WGS84 geodesics; bearings true; positions WGS84.", *notes)
    ]
    return left, middle, right


def _title_block(ax: Axes, columns: tuple[list[str], list[str], list[str]]) -> None:
    """A framed box with the three title-block columns, separated by rules."""
    ax.axis("off")
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, lw=1.0))
    for lines, x in zip(columns, (0.01, 0.27, 0.55), strict=True):
        ax.text(x, 0.88, "\n".join(lines), transform=ax.transAxes, va="top", ha="left", fontsize=8.5)
    for x in (0.26, 0.54):
        ax.axvline(x, color="black", lw=0.6)


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
) -> Figure:
    """Draw the straight-line diagram of a route.

    Parameters
    ----------
    profile
        :func:`geodata.deliverables.rpl.route_profile` (``kp_km, water_depth_m, slope_deg``;
        ``along_track_slope_deg`` if present).
    rpl
        :func:`geodata.deliverables.rpl.build_rpl`: events, A/C points and cable types by section.
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

    Returns
    -------
    matplotlib.figure.Figure on an Agg canvas; save it with :func:`save_sld`.
    """
    _check_inputs(profile, rpl)
    # Every string drawn comes from the scenario or the data (station, hazard and sector names, the title): drawn
    # as it is written, never as mathtext, so a '$' in a name cannot break or alter the diagram.
    with matplotlib.rc_context({"text.parse_math": False}):
        return _draw(profile, rpl, proximity, sector_spans, cable_types, max_slope_deg, title, scenario, date, notes)


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
) -> Figure:
    """The panels of the diagram, in drawing order."""
    kp = profile["kp_km"].to_numpy(dtype=float)
    z = profile["water_depth_m"].to_numpy(dtype=float)
    kp_range = KpRange(float(min(kp.min(), rpl["kp_km"].min())), float(max(kp.max(), rpl["kp_km"].max())))
    axes = _layout(title, with_proximity=proximity is not None)
    _depth_panel(axes.depth, kp, z, kp_range)
    _event_markers(axes, rpl, kp, z, kp_range)
    _slope_panel(axes.slope, profile, max_slope_deg)
    _cable_band(axes.cable, rpl, cable_types, kp_range)
    _sector_band(axes.sector, sector_spans, kp_range)
    if axes.proximity is not None and proximity is not None:
        _proximity_panel(axes.proximity, proximity)
    _kp_axis(axes)
    when = date or dt.datetime.now().astimezone().date()
    _title_block(axes.title_block, _title_block_text(rpl, title, scenario, when, notes))
    return axes.figure


def save_sld(fig: Figure, png_path: str | Path, pdf_path: str | Path | None = None, *, dpi: int = 150) -> list[Path]:
    """Save the diagram as PNG (and PDF when a path is given); returns the written paths."""
    out = []
    for path in (png_path, pdf_path):
        if path is None:
            continue
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=dpi)
        out.append(p)
    return out


def figure_bytes(fig: Figure, *, dpi: int = 150) -> dict[str, bytes]:
    """The diagram rendered in memory as ``{"png": ..., "pdf": ...}`` bytes (for stores that hold values, not files)."""
    out = {}
    for fmt in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
        out[fmt] = buf.getvalue()
    return out
