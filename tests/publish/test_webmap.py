"""The static web map in headless Chromium: layers render, features can be queried and clicked, no console error.

The browser test (marker ``browser``) needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y
chromium chromium-driver``), selenium (pip) and ``npm ci`` at the repository root; it skips without them, and fails in
CI (tests/conftest.py). The screenshot is kept in the test's tmp dir and copied to ``/tmp/webmap_screenshot.png``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from geodata.publish import tiles, webmap
from geodata.publish.gpkg import prepare_layers

SCREENSHOT_COPY = Path("/tmp/webmap_screenshot.png")


def build_site(out: Path, synthetic: SimpleNamespace) -> dict[str, tiles.TilesetInfo]:
    layers = prepare_layers(synthetic.layers())
    (out / "tiles").mkdir(parents=True)
    vector = tiles.write_vector_tiles(layers, out / "tiles" / "corridor.pmtiles", min_zoom=4, max_zoom=10)
    bathy, cost = synthetic.rasters()
    rb = tiles.write_raster_tiles(tiles.render_bathymetry(bathy), out / "tiles" / "bathymetry.pmtiles", min_zoom=4)
    rc = tiles.write_raster_tiles(tiles.render_cost(cost), out / "tiles" / "cost.pmtiles", min_zoom=4)
    webmap.write_webmap(
        out,
        title="Siyazan - Aktau (synthetic)",
        subtitle="Test publication · scenario digest 1234abcd",
        vector=vector,
        rasters={
            "bathymetry": webmap.RasterOverlay(rb, "Water depth", "SRTM30_PLUS (test)"),
            "cost": webmap.RasterOverlay(rc, "Routing cost"),
        },
        attribution="Synthetic test data",
        licence="Licence: test data, no restrictions.",
        provenance="Run test-run · code test",
    )
    return {"vector": vector, "bathymetry": rb, "cost": rc}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, synthetic: SimpleNamespace, node_modules: Path, serve_folder: Any
) -> Iterator[tuple[str, Path]]:
    out = tmp_path_factory.mktemp("site")
    build_site(out, synthetic)
    with serve_folder(out) as url:
        yield url, out


@pytest.mark.browser
def test_webmap_renders_layers_without_errors(site: tuple[str, Path], browser: Any, wait_for: Any) -> None:
    url, out = site
    driver = browser
    assert not any(
        "http" in s and "127.0.0.1" not in s
        for s in (out / "index.html").read_text().split('"')
        if s.startswith("http")
    )  # fmt: skip - no CDN or remote URL in the page
    driver.get(url)
    wait_for(driver, "return !!(window.__webmap && window.__webmap.ready)")
    counts = driver.execute_script(
        """const m = window.__webmap.map;
        const n = (ids) => m.queryRenderedFeatures({layers: ids}).length;
        return {route: n(['route']), kp: n(['kp_points']), hazards: n(['hazards_points', 'hazards_lines']),
                corridor: n(['corridor']), sectors: n(['seabed_sectors']), boundary: n(['boundary_lines']),
                landing: n(['landing_stations']), bathyLoaded: m.isSourceLoaded('bathymetry'),
                bathyRequests: performance.getEntriesByType('resource')
                    .filter(e => e.name.endsWith('bathymetry.pmtiles')).length};"""
    )
    for layer in ("route", "kp", "hazards", "corridor", "sectors", "boundary", "bathyRequests"):
        assert counts[layer] > 0, (layer, counts)
    assert counts["bathyLoaded"], counts
    # click on KP 150 and read the popup: the attributes of the feature with units in the field names
    xy = driver.execute_script(
        """const m = window.__webmap.map;
        const f = m.queryRenderedFeatures({layers: ['kp_points']}).find(f => f.properties.kp_km === 150);
        const p = m.project(f.geometry.coordinates); return [p.x, p.y];"""
    )
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.CSS_SELECTOR, "#map canvas")
    size = canvas.size
    ActionChains(driver).move_to_element_with_offset(
        canvas, round(xy[0] - size["width"] / 2), round(xy[1] - size["height"] / 2)
    ).click().perform()
    time.sleep(0.5)
    popup = driver.find_element(By.CSS_SELECTOR, ".maplibregl-popup-content").text
    for text in ("KP points", "kp (km)", "150"):
        assert text in popup, popup
    # the legend and a toggle: hiding the route removes its features from the rendering
    legend = driver.find_element(By.ID, "layers").text
    assert "Cable route" in legend
    assert "Mud volcano" in legend
    assert "Azerbaijan sector" in legend
    shot = out.parent / "webmap.png"
    driver.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY)
    driver.find_element(By.CSS_SELECTOR, 'input[data-group="route"]').click()
    time.sleep(0.3)
    hidden = driver.execute_script("return window.__webmap.map.queryRenderedFeatures({layers: ['route']}).length")
    assert hidden == 0
    errors = driver.execute_script("return window.__webmap.errors")
    logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert (errors, logs) == ([], []), json.dumps({"page": errors, "console": logs}, indent=1)
    # a rendered map, not a blank page: the bathymetry paints a large share of the map area in sea blues
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)[:, 320:]
    blue = (rgb[..., 2] > rgb[..., 0] + 40) & (rgb[..., 2] > 120)
    assert blue.mean() > 0.25, f"only {blue.mean():.0%} of the map area is sea-blue"


def test_missing_npm_packages_are_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(webmap, "REPO_ROOT", tmp_path)
    with pytest.raises(webmap.ConfigError, match="npm ci"):
        webmap.node_modules_dir(tmp_path / "elsewhere")
