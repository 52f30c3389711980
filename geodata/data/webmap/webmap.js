// Static web map of a published corridor: MapLibre GL JS + PMTiles, no network access beyond this folder.
import * as maplibregl from "./lib/maplibre-gl.mjs";

const config = JSON.parse(document.getElementById("webmap-config").textContent);
const state = { ready: false, errors: [], map: null, config };
window.__webmap = state;
window.addEventListener("error", (e) => state.errors.push(String(e.message || e)));
window.addEventListener("unhandledrejection", (e) => state.errors.push(String(e.reason)));

if (location.protocol === "file:") document.getElementById("file-warning").hidden = false;

const protocol = new pmtiles.Protocol();
maplibregl.addProtocol("pmtiles", protocol.tile);

const sources = {};
for (const [id, src] of Object.entries(config.sources)) {
  const url = "pmtiles://" + new URL(src.path, location.href).href;
  sources[id] = src.type === "raster"
    ? { type: "raster", url, tileSize: 256, attribution: src.attribution || "" }
    : { type: "vector", url, attribution: src.attribution || "" };
}

const map = new maplibregl.Map({
  container: "map",
  style: { version: 8, sources, layers: [{ id: "background", type: "background", paint: { "background-color": "#dfe6ea" } },
    ...config.layers] },
  bounds: config.bounds,
  fitBoundsOptions: { padding: { top: 30, bottom: 30, left: 300, right: 30 } },
  attributionControl: false,
  preserveDrawingBuffer: true,
});
state.map = map;
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
map.addControl(new maplibregl.AttributionControl({ compact: true, customAttribution: config.attribution }), "bottom-right");
map.on("error", (e) => state.errors.push(String((e.error && e.error.message) || e)));

// -- panel: title, toggles and legend ------------------------------------------------------------------------------
document.getElementById("title").textContent = config.title;
document.getElementById("subtitle").textContent = config.subtitle || "";
document.getElementById("licence").textContent = config.licence || "";
document.getElementById("provenance").textContent = config.provenance || "";

function swatch(row) {
  const el = document.createElement("span");
  el.className = `swatch ${row.family}` + (row.dash ? " dash" : "") + (row.shape && row.family === "point" ? ` ${row.shape}` : "");
  if (row.family === "line") el.style.borderTopColor = row.color;
  else if (row.family === "polygon") {
    el.style.background = hexA(row.color, Math.max(row.opacity, 0.25));
    el.style.borderColor = row.outline;
  } else {
    el.style.background = row.color;
    el.style.borderColor = row.outline;
  }
  return el;
}
function hexA(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}
const panel = document.getElementById("layers");
for (const group of config.groups) {
  const div = document.createElement("div");
  div.className = "group";
  const label = document.createElement("label");
  label.className = "toggle";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = group.visible;
  box.dataset.group = group.id;
  box.addEventListener("change", () => {
    for (const id of group.layerIds) map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
  });
  label.append(box);
  const single = !group.ramp && group.legend.length === 1 && group.legend[0].label === group.title;
  if (single) label.append(swatch(group.legend[0]));
  label.append(document.createTextNode(group.title));
  div.append(label);
  if (group.ramp) {
    const ramp = document.createElement("div");
    ramp.className = "ramp";
    const lo = group.ramp.stops[0][0], hi = group.ramp.stops[group.ramp.stops.length - 1][0];
    ramp.style.background = `linear-gradient(to right, ${group.ramp.stops
      .map(([v, c]) => `${c} ${(100 * (v - lo)) / (hi - lo)}%`).join(", ")})`;
    const labels = document.createElement("div");
    labels.className = "ramp-labels";
    for (const t of group.ramp.labels) {
      const s = document.createElement("span");
      s.textContent = t;
      labels.append(s);
    }
    div.append(ramp, labels);
  } else if (group.legend.length && !single) {
    const ul = document.createElement("ul");
    for (const row of group.legend) {
      const li = document.createElement("li");
      li.append(swatch(row), document.createTextNode(row.label));
      ul.append(li);
    }
    div.append(ul);
  }
  panel.append(div);
}

// -- popups ----------------------------------------------------------------------------------------------------------
const UNITS = [["_per_m", "per m"], ["_deg", "°"], ["_km", "km"], ["_nm", "NM"], ["_pct", "%"], ["_m", "m"], ["_s", "s"]];
function fieldLabel(key) {
  for (const [suffix, unit] of UNITS) {
    if (key.endsWith(suffix)) return `${key.slice(0, -suffix.length).replace(/_/g, " ")} (${unit})`;
  }
  return key.replace(/_/g, " ");
}
function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
  return String(v);
}
function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
map.on("click", (e) => {
  const box = [[e.point.x - 4, e.point.y - 4], [e.point.x + 4, e.point.y + 4]];
  const feats = map.queryRenderedFeatures(box, { layers: config.interactive.filter((id) => map.getLayer(id)) });
  if (!feats.length) return;
  const f = feats[0];
  const title = config.titles[f.layer.id] || f.layer.id;
  const rows = Object.entries(f.properties)
    .filter(([k]) => k !== "mvt_id")
    .map(([k, v]) => `<tr><th>${escapeHtml(fieldLabel(k))}</th><td>${escapeHtml(fmt(v))}</td></tr>`).join("");
  new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(e.lngLat)
    .setHTML(`<h3>${escapeHtml(title)}</h3><table>${rows}</table>`).addTo(map);
});
for (const id of config.interactive) {
  map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
}

map.once("load", () => {
  map.once("idle", () => { state.ready = true; });
});
