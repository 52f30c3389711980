"""The web map for the field: a land/sea basemap and place names from the publication (no network), KP labels at
sensible zooms, popups at trade precision, a collapsed attribution, a URL hash that restores the view, jump to a KP,
and a legend that lists what is drawn.

The config tests are fast; the browser test (marker ``browser``) drives headless Chromium as test_webmap.py does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from geodata.publish import styles, tiles, webmap
from geodata.publish.gpkg import prepare_layers


def _site(out: Path, synthetic: SimpleNamespace) -> dict:
    layers = prepare_layers(synthetic.layers())
    (out / "tiles").mkdir(parents=True)
    vector = tiles.write_vector_tiles(layers, out / "tiles" / "corridor.pmtiles", min_zoom=4, max_zoom=10)
    bathy, _ = synthetic.rasters()
    rb = tiles.write_raster_tiles(tiles.render_bathymetry(bathy), out / "tiles" / "bathymetry.pmtiles", min_zoom=4)
    raw = synthetic.layers()
    webmap.write_webmap(
        out, title="Field map (synthetic)", vector=vector,
        rasters={"bathymetry": webmap.RasterOverlay(rb, "Water depth", "SRTM30_PLUS (test)")},
        attribution="Synthetic test data", kp_points=raw["kp_points"],
        places=webmap.place_names(raw["landing_stations"].assign(kind="landing_station")),
    )  # fmt: skip
    return {"vector": vector, "raw": raw}


def _config(out: Path) -> dict:
    import json
    import re

    html = (out / "index.html").read_text()
    blob = re.search(r'<script id="webmap-config" type="application/json">(.*?)</script>', html, re.S)
    assert blob is not None
    return json.loads(blob.group(1))


def test_config_has_kp_index_places_and_basemap(tmp_path: Path, synthetic: SimpleNamespace, node_modules: Path) -> None:
    built = _site(tmp_path, synthetic)
    cfg = _config(tmp_path)
    kp = built["raw"]["kp_points"].to_crs(4326)
    assert [row[0] for row in cfg["kp"]] == sorted(kp["kp_km"].tolist())
    assert cfg["kp"][1][1:] == pytest.approx([kp.geometry.iloc[1].x, kp.geometry.iloc[1].y], abs=1e-6)
    assert {p["name"] for p in cfg["places"]} == {"Siyazan", "Aktau"}
    assert cfg["layers"][0]["id"] == "basemap-sea"  # under every other layer
    assert cfg["layers"][0]["source-layer"] == "seabed_sectors"
    assert any(g["id"] == "basemap" for g in cfg["groups"])
    assert all(z > 0 for z, _ in cfg["kpLabelZooms"])
    assert all("http" not in str(v) for v in cfg["sources"].values())


def test_place_names_keep_stations_and_ports_only() -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame(
        {"name": ["Aktau port", "MV-1", "Siyazan"], "kind": ["port", "mud_volcano", "landing_station"]},
        geometry=[Point(51.1, 43.6), Point(50.0, 42.0), Point(49.1, 41.1)],
        crs=4326,
    )
    assert [p["name"] for p in webmap.place_names(gdf)] == ["Aktau port", "Siyazan"]


@pytest.fixture(scope="module")
def field_site(
    tmp_path_factory: pytest.TempPathFactory, synthetic: SimpleNamespace, node_modules: Path, serve_folder: Any
) -> Iterator[tuple[str, Path, dict]]:
    out = tmp_path_factory.mktemp("field-site")
    built = _site(out, synthetic)
    with serve_folder(out) as url:
        yield url, out, built


@pytest.mark.browser
def test_field_web_map(field_site: tuple[str, Path, dict], browser: Any, wait_for: Any) -> None:
    from selenium.webdriver.common.by import By

    url, _, built = field_site
    driver = browser
    # -- the URL hash restores the view ---------------------------------------------------------------------------
    driver.get(url + "#11.5/42.7/49.9")
    wait_for(driver, "return window.__webmap && window.__webmap.ready")
    view = driver.execute_script(
        "const m = window.__webmap.map, c = m.getCenter(); return [m.getZoom(), c.lat, c.lng, location.hash];"
    )
    assert view[0] == pytest.approx(11.5, abs=1e-6)
    assert view[1:3] == pytest.approx([42.7, 49.9], abs=1e-4)
    driver.execute_script("window.__webmap.map.jumpTo({center: [50.3, 42.9], zoom: 9.25});")
    hash_now = wait_for(driver, "return location.hash.startsWith('#9.25/') && location.hash")
    assert hash_now == "#9.25/42.9/50.3"
    driver.get(url + str(hash_now))  # a reload with that link comes back to the view
    wait_for(driver, "return window.__webmap && window.__webmap.ready")
    back = driver.execute_script(
        "const m = window.__webmap.map, c = m.getCenter(); return [m.getZoom(), c.lat, c.lng];"
    )
    assert back == pytest.approx([9.25, 42.9, 50.3], abs=1e-4)
    # -- jump to a KP: the map flies to that KP's point --------------------------------------------------------------
    kp = built["raw"]["kp_points"].to_crs(4326)
    target = kp.loc[kp["kp_km"] == 100.0].geometry.iloc[0]
    box = driver.find_element(By.ID, "kp-input")
    box.clear()
    box.send_keys("100")
    driver.find_element(By.CSS_SELECTOR, "#kp-jump button").click()
    centre = wait_for(
        driver,
        """const m = window.__webmap.map; if (m.isMoving()) return null;
        const c = m.getCenter(); return [c.lng, c.lat, m.getZoom()];""",
    )
    assert centre[0] == pytest.approx(target.x, abs=1e-5)  # about a metre
    assert centre[1] == pytest.approx(target.y, abs=1e-5)
    assert centre[2] >= 13
    status = driver.find_element(By.ID, "kp-jump-status").text
    assert "KP 100.000" in status
    # -- KP labels at this zoom: KP 100 is labelled, and none when zoomed far out ------------------------------------
    labels = wait_for(
        driver, "const l = [...document.querySelectorAll('.kp-label')].map(e => e.textContent); return l.length && l"
    )
    assert "KP 100" in labels
    driver.execute_script("window.__webmap.map.jumpTo({zoom: 5});")
    wait_for(driver, "return document.querySelectorAll('.kp-label').length === 0")
    # -- off-route KP: a message, no move ----------------------------------------------------------------------------
    box.clear()
    box.send_keys("9999")
    driver.find_element(By.CSS_SELECTOR, "#kp-jump button").click()
    assert "off the route" in driver.find_element(By.ID, "kp-jump-status").text
    # -- place names from the publication ----------------------------------------------------------------------------
    places = driver.execute_script("return [...document.querySelectorAll('.place-label')].map(e => e.textContent)")
    assert sorted(places) == ["Aktau", "Siyazan"]
    # -- popups at trade precision ---------------------------------------------------------------------------------
    fmt = driver.execute_script(
        """const f = window.__webmap.fmt; return [f(41.0783, 'lat_deg'), f(49.1125, 'lon_deg'), f(12.34567, 'kp_km'),
        f(123.456, 'water_depth_m'), f(1.5, 'burial_depth_m'), f(-0.5, 'lat_deg')];"""
    )
    assert fmt[0].startswith("41°04.698'N")
    assert fmt[1].startswith("049°06.750'E")
    assert fmt[2:5] == ["12.346", "123", "1.5"]
    assert fmt[5].startswith("00°30.000'S")
    # -- attribution collapsed, opens on a click -------------------------------------------------------------------
    attrib = driver.find_element(By.CSS_SELECTOR, ".maplibregl-ctrl-attrib")
    assert "maplibregl-compact-show" not in attrib.get_attribute("class")
    driver.find_element(By.CSS_SELECTOR, ".maplibregl-ctrl-attrib-button").click()
    assert "maplibregl-compact-show" in attrib.get_attribute("class")
    # -- the legend lists every layer drawn, with the style table's titles -----------------------------------------
    drawn = driver.execute_script(
        """const m = window.__webmap.map, cfg = window.__webmap.config;
        return cfg.groups.filter(g => g.layerIds.some(id => m.getLayer(id))).map(g => g.title);"""
    )
    legend = driver.find_element(By.ID, "layers").text
    for title in drawn:
        assert title in legend
    for layer in ("route", "kp_points", "landing_stations", "seabed_sectors"):
        assert styles.style_for(layer).title in legend
    assert "Sea (Caspian)" in legend
    # point layers are drawn as circles, so no legend swatch may show a square or a diamond
    shapes = driver.execute_script("return document.querySelectorAll('#layers .swatch.point').length")
    odd = driver.execute_script(
        "return document.querySelectorAll('#layers .swatch.square, #layers .swatch.diamond').length"
    )
    assert shapes > 0
    assert odd == 0
    assert "Land" in legend
    errors = driver.execute_script("return window.__webmap.errors")
    assert errors == []
    driver.save_screenshot("/tmp/webmap_field.png")


ROUTE_OFFSET_JS = """
const [lon, lat] = arguments;
const m = window.__webmap.map;
if (m.isMoving() || !m.areTilesLoaded()) return null;
const feats = m.queryRenderedFeatures({layers: ['route']});
if (!feats.length) return null;
const p = m.project([lon, lat]);
let best = Infinity;
const seg = (a, b) => {
  const dx = b.x - a.x, dy = b.y - a.y, L = dx * dx + dy * dy;
  const t = L ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / L)) : 0;
  best = Math.min(best, Math.hypot(a.x + t * dx - p.x, a.y + t * dy - p.y));
};
for (const f of feats) {
  const lines = f.geometry.type === 'LineString' ? [f.geometry.coordinates] : f.geometry.coordinates;
  for (const line of lines) {
    const px = line.map(c => m.project(c));
    for (let i = 1; i < px.length; i++) seg(px[i - 1], px[i]);
  }
}
const metresPerPx = 40075016.686 * Math.cos(lat * Math.PI / 180) / (512 * 2 ** m.getZoom());
return [best * metresPerPx, m.getZoom(), feats.length];
"""


@pytest.mark.browser
def test_route_and_kp_points_agree_within_10_m_at_zoom_14(
    field_site: tuple[str, Path, dict], browser: Any, wait_for: Any
) -> None:
    """In the browser, at zoom 14 on each of several KP points, the route as MapLibre renders it (from the vector
    tiles) passes within 10 m of the KP point."""
    url, _, built = field_site
    driver = browser
    driver.get(url + "#6/42.7/50")
    wait_for(driver, "return window.__webmap && window.__webmap.ready")
    kp = built["raw"]["kp_points"].to_crs(4326)
    worst = 0.0
    for _, r in kp.iloc[:: max(1, len(kp) // 8)].iterrows():
        lon, lat = float(r.geometry.x), float(r.geometry.y)
        driver.execute_script(f"window.__webmap.map.jumpTo({{center: [{lon}, {lat}], zoom: 14}});")
        off_m, zoom, _ = wait_for(driver, ROUTE_OFFSET_JS.replace("arguments", f"[{lon}, {lat}]"))
        assert zoom == pytest.approx(14.0)
        assert off_m <= 10.0, f"KP {r['kp_km']}: the rendered route is {off_m:.1f} m from its KP point"
        worst = max(worst, off_m)
    print(f"\nworst KP point to rendered route at zoom 14: {worst:.2f} m")
