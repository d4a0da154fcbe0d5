// Aircraft and vessel layers: each track's latest position (GET /api/v1/tracks) and, for the tracks in view,
// a trail of its recent positions (GET /api/v1/tracks/{id}); the live feeds' state beside the layer switches.
// Refreshed every REFRESH_MS. Drawn on their own canvas panes under the incidents, never taking clicks.

import * as L from "../vendor/leaflet/leaflet-src.esm.js";

const REFRESH_MS = 15000;
const MAX_TRAILS = 60; // trails fetched per refresh (the tracks in view, most recently heard first)
const TRAIL_POINTS = 300;
const COLOURS = { aircraft: "#1565c0", vessel: "#00838f" };

export function createTrackLayers(map, api, { aircraftBox, vesselBox, feedsNote }) {
  const panes = { trails: 392, tracks: 395 };
  const renderers = {};
  for (const [name, z] of Object.entries(panes)) {
    map.createPane(name).style.zIndex = z;
    map.getPane(name).style.pointerEvents = "none";
    renderers[name] = L.canvas({ pane: name, padding: 0.3 });
  }
  const groups = { aircraft: L.layerGroup().addTo(map), vessel: L.layerGroup().addTo(map) };
  const boxes = { aircraft: aircraftBox, vessel: vesselBox };
  let timer = null;

  function label(p) {
    const name = p.kind === "aircraft" ? (p.callsign || p.icao24) : (p.name || p.mmsi);
    return `${p.kind} ${name} · ${p.state || "no valid state"} · last ${p.last_time}`;
  }

  async function drawKind(kind) {
    const group = groups[kind];
    if (!boxes[kind].checked) {
      group.clearLayers();
      return 0;
    }
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(4)).join(",");
    const body = await api(`/api/v1/tracks?kind=${kind}&bbox=${bbox}&limit=5000`);
    const trails = await Promise.all(body.features.slice(0, MAX_TRAILS).map((f) =>
      api(`/api/v1/tracks/${encodeURIComponent(f.id)}?limit=${TRAIL_POINTS}`).catch(() => null)));
    group.clearLayers();
    for (const t of trails) {
      const pts = (t?.properties.points || []).map((p) => [p.lat, p.lon]);
      if (pts.length > 1) {
        L.polyline(pts, { renderer: renderers.trails, color: COLOURS[kind], weight: 1.5, opacity: 0.6, interactive: false })
          .addTo(group);
      }
    }
    for (const f of body.features) {
      if (!f.geometry) continue;
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lon], {
        renderer: renderers.tracks, radius: kind === "aircraft" ? 4 : 3.5, weight: 1, color: "#fff",
        fillColor: COLOURS[kind], fillOpacity: 0.95, interactive: false, title: label(f.properties),
      }).addTo(group);
    }
    return body.features.length;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const [aircraft, vessels, feeds] = await Promise.all([
        drawKind("aircraft"), drawKind("vessel"), api("/api/v1/feeds"),
      ]);
      const states = feeds.feeds.map((f) => `${f.name} ${f.status}${f.last_error ? ` (${f.last_error})` : ""}`);
      feedsNote.textContent = `${aircraft} aircraft, ${vessels} vessels in view` + (states.length ? ` · feeds: ${states.join(", ")}` : "");
    } catch (err) {
      feedsNote.textContent = `tracks could not load: ${err.message}`;
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  aircraftBox.addEventListener("change", refresh);
  vesselBox.addEventListener("change", refresh);
  map.on("moveend", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  return { refresh, groups };
}
