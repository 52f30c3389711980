"""Landfall: perpendicular shore-end legs, the fan round islands, and the assembled route."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from affine import Affine
from shapely.geometry import LineString, Polygon, box

from geodata.engineering.landfall import assemble_route, landfall_keep_indices, plan_landfall
from geodata.errors import InputDataError, LandingPointError
from geodata.grid import GeoGrid, Raster
from geodata.scenario import LandingStation

GRID = GeoGrid("EPSG:32639", Affine(500.0, 0, 300_000.0, 0, -500.0, 4_600_000.0), (200, 200))
# a straight coast running NNE (x = 339 500 + (y - 4 499 000) / 2), land to the west
LAND = Polygon([(299_000, 4_499_000), (339_500, 4_499_000), (390_500, 4_601_000), (299_000, 4_601_000)])
NORMAL_DEG = math.degrees(math.atan2(2, -1)) % 360  # seaward normal (2, -1)/sqrt(5) as a bearing: 116.6


def sea_mask(land: shapely.Geometry) -> Raster:
    ys, xs = GRID.coords()
    x, y = np.meshgrid(xs, ys)
    return Raster((~shapely.contains_xy(land, x, y)).astype("uint8"), GRID)


def station(x: float, y: float) -> LandingStation:
    lon, lat = GRID.xy_to_lonlat(x, y)
    return LandingStation(name="Alpha", country="AZE", lat_deg=float(lat), lon_deg=float(lon))


def test_straight_coast_gives_a_perpendicular_leg() -> None:
    lf = plan_landfall(station(362_000, 4_550_000), sea_mask(LAND), LAND, approach_m=3000)
    assert lf.angle_to_coast_deg == pytest.approx(90.0, abs=0.5)
    assert lf.approach_bearing_deg == pytest.approx(NORMAL_DEG, abs=0.5)
    assert math.dist(lf.shore_crossing_xy, lf.approach_end_xy) == pytest.approx(3000.0)
    assert LAND.distance(shapely.Point(lf.shore_crossing_xy)) < 1.0
    assert LAND.contains(shapely.Point(lf.beach_manhole_xy))
    assert math.dist(lf.beach_manhole_xy, lf.shore_crossing_xy) == pytest.approx(100.0)
    assert sea_mask(LAND).data[GRID.cell_of(*lf.approach_end_xy)] == 1
    # the shore point is the foot of the perpendicular from the station (within the coast sampling step)
    foot = LAND.exterior.interpolate(LAND.exterior.project(shapely.Point(362_000, 4_550_000)))
    assert math.dist(lf.shore_crossing_xy, (foot.x, foot.y)) < 100.0


def test_island_in_front_makes_the_leg_fan_out_without_touching_it() -> None:
    island = box(366_500, 4_547_000, 369_000, 4_551_000)
    land = LAND.union(island)
    lf = plan_landfall(
        station(363_500, 4_550_000), sea_mask(land), land, approach_m=3000, deviation_penalty_m_per_deg=10
    )
    leg = LineString([lf.shore_crossing_xy, lf.approach_end_xy])
    assert not leg.intersects(island)
    assert 0 < lf.deviation_deg <= 30 + 1e-9
    events = lf.events()
    assert [e.kind for e in events] == ["landing", "beach_manhole", "shore_crossing"]


def test_blocked_approach_everywhere_is_a_clear_error() -> None:
    with pytest.raises(LandingPointError, match="landfall_approach_m"):
        plan_landfall(
            station(362_000, 4_550_000), sea_mask(LAND), LAND, approach_m=3000, blocked=np.ones(GRID.shape, bool)
        )


def test_station_far_from_any_coast_is_refused() -> None:
    with pytest.raises(LandingPointError, match="coastline"):
        plan_landfall(station(310_000, 4_550_000), sea_mask(LAND), LAND, approach_m=3000, search_radius_m=5000)


def test_assemble_route_joins_both_shore_ends_in_order() -> None:
    mask = sea_mask(LAND)
    a = plan_landfall(station(362_000, 4_540_000), mask, LAND, approach_m=3000)
    b = plan_landfall(station(380_000, 4_580_000), mask, LAND, approach_m=3000)
    routed = LineString([b.approach_end_xy, (392_000, 4_560_000), a.approach_end_xy])  # reversed on purpose
    full = assemble_route(a, routed, b)
    c = list(full.coords)
    assert c[0] == pytest.approx(a.station_xy)
    assert c[-1] == pytest.approx(b.station_xy)
    assert c[3] == pytest.approx(a.approach_end_xy)
    assert c[-4] == pytest.approx(b.approach_end_xy)
    assert len(c) == 9
    assert landfall_keep_indices(full) == (0, 1, 2, 3, 5, 6, 7, 8)
    with pytest.raises(InputDataError, match="approach_end_xy"):
        assemble_route(a, LineString([(300_500, 4_500_500), (301_000, 4_501_000)]), b)


def _coast_x(y: float) -> float:
    return 339_500 + (y - 4_499_000) / 2


def test_land_section_never_crosses_a_lagoon_to_reach_the_shore() -> None:
    """Synthetic: a lagoon 1 km wide behind a barrier spit, open to the sea at its south end, lies between the
    station and the open coast. The planner used to take the nearest shore point with a clear approach leg, the
    spit's seaward shore, although the straight "land" section to it ran over the lagoon (found on the real
    Makhachkala landing: a 7.7 km land section across water); now the land section stays on land."""

    def strip(x0: float, x1: float, y0: float, y1: float) -> Polygon:
        return Polygon(
            [(_coast_x(y0) + x0, y0), (_coast_x(y0) + x1, y0), (_coast_x(y1) + x1, y1), (_coast_x(y1) + x0, y1)]
        )

    lagoon = strip(-2_000, -1_000, 4_530_000, 4_570_000).union(strip(-2_000, 500, 4_530_000, 4_531_000))
    land = LAND.difference(lagoon)
    st = (_coast_x(4_550_000) - 4_000, 4_550_000)
    lf = plan_landfall(station(*st), sea_mask(land), land, approach_m=3000)
    section = LineString([st, lf.shore_crossing_xy])
    assert section.intersection(lagoon).length < 20.0, section.intersection(lagoon).length
    assert land.buffer(1.0).contains(section)


def _scalar_seaward_normal(land, x: float, y: float, tx: float, ty: float, probe: float):
    """The former per-point test (two Point objects per shore point): the reference of the vectorised one."""
    norm = math.hypot(tx, ty)
    if norm == 0:
        return None
    tx, ty = tx / norm, ty / norm
    nx, ny = ty, -tx
    if land.contains(shapely.Point(x + nx * probe, y + ny * probe)):
        nx, ny = -nx, -ny
        if land.contains(shapely.Point(x + nx * probe, y + ny * probe)):
            return None
    return nx, ny


def test_vectorised_seaward_normals_equal_the_per_point_test() -> None:
    from geodata.engineering.landfall import _seaward_normals

    sliver = box(350_000, 4_520_000, 350_060, 4_560_000)  # land on both sides 50 m out: no normal
    land = LAND.union(sliver)
    shapely.prepare(land)
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(330_000, 370_000, 400), np.full(20, 350_030.0)])
    y = np.concatenate([rng.uniform(4_500_000, 4_600_000, 400), np.linspace(4_525_000, 4_555_000, 20)])
    tx, ty = rng.normal(size=x.size), rng.normal(size=x.size)
    tx[:5] = ty[:5] = 0.0  # degenerate directions
    nx, ny, ok = _seaward_normals(land, x, y, tx, ty, 50.0)
    want = [_scalar_seaward_normal(land, *v, 50.0) for v in zip(x, y, tx, ty, strict=True)]
    assert ok.tolist() == [w is not None for w in want]
    assert not ok[:5].any()
    assert not ok[-20:].any()  # the sliver
    assert ok.sum() > 50
    for k in np.flatnonzero(ok):
        assert (nx[k], ny[k]) == want[k]


def test_landfall_on_a_sea_mask_on_disk_reads_cells_only(tmp_path) -> None:
    from geodata.grid import RasterWriter

    mem = sea_mask(LAND)
    with RasterWriter(tmp_path / "sea.tif", GRID, "uint8") as out:
        out.write_rows(slice(0, GRID.shape[0]), mem.data)
    lazy = out.raster(bool)
    a = plan_landfall(station(362_000, 4_550_000), lazy, LAND, approach_m=3000)
    assert not lazy.loaded
    assert a == plan_landfall(station(362_000, 4_550_000), mem, LAND, approach_m=3000)
