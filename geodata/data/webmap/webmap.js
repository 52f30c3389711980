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
  style: { version: 8, sources, layers: [{ id: "background", type: "background",
    paint: { "background-color": config.land || "#dfe6ea" } }, ...config.layers] },
  bounds: config.bounds,
  hash: true, // #zoom/lat/lon in the URL: a shared or reloaded link restores the view
  fitBoundsOptions: { padding: { top: 30, bottom: 30, left: 300, right: 30 } },
  attributionControl: false,
  preserveDrawingBuffer: true,
});
state.map = map;
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
map.addControl(new maplibregl.AttributionControl({ compact: true, customAttribution: config.attribution }), "bottom-right");
map.on("error", (e) => state.errors.push(String((e.error && e.error.message) || e)));

// -- degrees and minutes, as the RPL prints them ------------------------------------------------------------------
function dm(value, pos, neg, degWidth) {
  const hemi = value < 0 ? neg : pos;
  let deg = Math.floor(Math.abs(value));
  let min = (Math.abs(value) - deg) * 60;
  if (Number(min.toFixed(3)) >= 60) { deg += 1; min = 0; }
  return `${String(deg).padStart(degWidth, "0")}°${min.toFixed(3).padStart(6, "0")}'${hemi}`;
}
const latDM = (v) => dm(v, "N", "S", 2);
const lonDM = (v) => dm(v, "E", "W", 3);
state.dm = { lat: latDM, lon: lonDM };

// -- KP index: jump to a KP, KP labels ----------------------------------------------------------------------------
const kpIndex = config.kp || []; // [[kp_km, lon, lat], ...] sorted by KP
function kpPosition(kp) {
  if (!kpIndex.length || !Number.isFinite(kp)) return null;
  if (kp < kpIndex[0][0] || kp > kpIndex[kpIndex.length - 1][0]) return null;
  let i = kpIndex.findIndex((row) => row[0] >= kp);
  if (kpIndex[i][0] === kp || i === 0) return [kpIndex[i][1], kpIndex[i][2]];
  const [k0, x0, y0] = kpIndex[i - 1], [k1, x1, y1] = kpIndex[i];
  const t = (kp - k0) / (k1 - k0); // between two KP points (1 km apart at most): linear is within centimetres
  return [x0 + t * (x1 - x0), y0 + t * (y1 - y0)];
}
state.kpPosition = kpPosition;
const jumpStatus = document.getElementById("kp-jump-status");
document.getElementById("kp-jump").addEventListener("submit", (e) => {
  e.preventDefault();
  const kp = Number(document.getElementById("kp-input").value);
  const at = kpPosition(kp);
  if (!at) {
    jumpStatus.textContent = kpIndex.length
      ? `KP ${kp} is off the route (KP ${kpIndex[0][0]} to ${kpIndex[kpIndex.length - 1][0]})` : "no KP points published";
    return;
  }
  jumpStatus.textContent = `KP ${kp.toFixed(3)}: ${latDM(at[1])} ${lonDM(at[0])}`;
  state.jumpTarget = at;
  map.flyTo({ center: at, zoom: Math.max(map.getZoom(), 13), essential: true });
});

const kpMarkers = new Map();
function kpStep(zoom) {
  for (const [minZoom, step] of config.kpLabelZooms || []) if (zoom >= minZoom) return step;
  return null;
}
function updateKpLabels() {
  const step = kpStep(map.getZoom());
  const bounds = map.getBounds();
  const want = new Set();
  if (step !== null) {
    for (const [kp, lon, lat] of kpIndex) {
      const q = kp / step;
      if (Math.abs(q - Math.round(q)) > 1e-6 || !bounds.contains([lon, lat])) continue;
      want.add(kp);
      if (!kpMarkers.has(kp)) {
        const el = document.createElement("div");
        el.className = "kp-label";
        el.textContent = `KP ${Number.isInteger(kp) ? kp : kp.toFixed(3)}`;
        kpMarkers.set(kp, new maplibregl.Marker({ element: el, anchor: "left", offset: [7, 0] })
          .setLngLat([lon, lat]).addTo(map));
      }
    }
  }
  for (const [kp, marker] of kpMarkers) if (!want.has(kp)) { marker.remove(); kpMarkers.delete(kp); }
  state.kpLabels = [...want];
}
map.on("moveend", updateKpLabels);

// -- place names (landing stations, ports) from the publication, no glyphs or tiles to fetch -----------------------
for (const place of config.places || []) {
  const el = document.createElement("div");
  el.className = `place-label ${place.kind}`;
  el.textContent = place.name;
  new maplibregl.Marker({ element: el, anchor: "bottom", offset: [0, -8] }).setLngLat([place.lon, place.lat]).addTo(map);
}

// -- panel: title, toggles and legend ------------------------------------------------------------------------------
document.getElementById("title").textContent = config.title;
document.getElementById("subtitle").textContent = config.subtitle || "";
document.getElementById("licence").textContent = config.licence || "";
document.getElementById("provenance").textContent = config.provenance || "";

function swatch(row) {
  const el = document.createElement("span");
  // points are MapLibre circle layers whatever their QGIS marker shape: the swatch shows the circle that is drawn
  el.className = `swatch ${row.family}` + (row.dash ? " dash" : "");
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
// trade precision: positions to 0.001' (about 2 m), KP to the metre, depths to the metre
function fmt(v, key = "") {
  if (typeof v !== "number") return String(v);
  if (key === "lat_deg") return `${latDM(v)} (${v.toFixed(6)}°)`;
  if (key === "lon_deg") return `${lonDM(v)} (${v.toFixed(6)}°)`;
  if (key.startsWith("kp") || key.endsWith("_km")) return v.toFixed(3);
  if (key === "water_depth_m" || key === "depth_m") return v.toFixed(0);
  if (key.endsWith("_m")) return v.toFixed(Math.abs(v) >= 100 ? 0 : 1);
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
}
state.fmt = fmt;
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
    .map(([k, v]) => `<tr><th>${escapeHtml(fieldLabel(k))}</th><td>${escapeHtml(fmt(v, k))}</td></tr>`).join("");
  new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(e.lngLat)
    .setHTML(`<h3>${escapeHtml(title)}</h3><table>${rows}</table>`).addTo(map);
});
for (const id of config.interactive) {
  map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
}

map.once("load", () => {
  // the attribution starts collapsed to its (i) button, and opens on a click
  const attrib = document.querySelector(".maplibregl-ctrl-attrib");
  if (attrib) attrib.classList.remove("maplibregl-compact-show");
  updateKpLabels();
  map.once("idle", () => { state.ready = true; });
});
