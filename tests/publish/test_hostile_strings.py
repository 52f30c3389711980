"""User strings reach HTML, JSON inside HTML, QML/XML and file names escaped for their context."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from geodata.errors import ConfigError
from geodata.publish import styles, tiles, webmap
from geodata.publish.atomic import publish
from geodata.publish.gpkg import prepare_layers

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<!-- <script>",
    '"><img src=x onerror=alert(1)>',
    "__CONFIG_JSON__ and __TITLE__",
    'Tom & Jerry\'s "cable" <b>',
    "\u2028line\u2029separators",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_web_page_carries_hostile_titles_as_text(tmp_path: Path, synthetic: SimpleNamespace, text: str) -> None:
    layers = prepare_layers({"route": synthetic.layers()["route"]})
    vec = tiles.write_vector_tiles(layers, tmp_path / "corridor.pmtiles", min_zoom=4, max_zoom=5, name="x")
    page = webmap.write_webmap(tmp_path, title=text, subtitle=text, vector=vec, licence=text, attribution=text)
    html = page.read_text(encoding="utf-8")
    head = re.search(r"<title>(.*?)</title>", html, re.S)
    assert head is not None
    assert "<" not in head.group(1)
    blob = re.search(r'<script id="webmap-config" type="application/json">(.*?)</script>', html, re.S)
    assert blob is not None
    assert "<" not in blob.group(1)
    assert ">" not in blob.group(1)
    config = json.loads(blob.group(1))
    assert config["title"] == text
    assert config["subtitle"] == text
    template = (webmap.REPO_ROOT / "geodata/data/webmap/index.html").read_text(encoding="utf-8")
    assert html.count("<script") == template.count("<script")  # nothing injected


@pytest.mark.parametrize("text", HOSTILE)
def test_qml_labels_stay_well_formed(text: str) -> None:
    qml = styles.raster_qml([(0.0, "#000000"), (100.0, "#ffffff")], label_units=text)
    root = ET.fromstring(qml.split("\n", 1)[1] if qml.startswith("<!DOCTYPE") else qml)
    labels = [e.get("label") for e in root.iter("item")]
    assert any(text.strip() in (label or "") for label in labels)


@pytest.mark.parametrize("name", ["../evil", "a b", "UPPER", "x/y", "", ".hidden"])
def test_scenario_names_that_are_not_folder_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid folder name"):
        publish(name, lambda folder: None, root=tmp_path, run_id="r", scenario_digest="d" * 64)
    assert list(tmp_path.iterdir()) == []
