// The map: an offline Natural Earth basemap, the bundled places, the agreement's lines and zones, the
// incidents and, on demand, raw observations. Leaflet draws everything on canvas (preferCanvas): tens of
// thousands of circles stay fast, and no tile server is needed.

import * as L from "../vendor/leaflet/leaflet-src.esm.js";

export const STATUS_COLOURS = {
  detected: "#4a6fa5", corroborated: "#e08a00", verified: "#c0392b", dismissed: "#9a9a9a",
};
const PARTY_PALETTE = ["#0057b7", "#b8322a", "#2e7d32", "#6a1b9a", "#00838f"];
export const NO_VIOLATION = "no rule broken";
export const PENDING = "not judged yet";
const FIXED_PARTY_COLOURS = { undetermined: "#333333", [NO_VIOLATION]: "#c4c4c4", [PENDING]: "#e0e0e0" };

// How the agreement's layers are drawn, and what the map's legend calls them: one table for both, so the
// legend cannot disagree with the map. Keys are a contact line's `layer` or a zone's `kind`.
export const AGREEMENT_STYLES = {
  "contact-line": { label: "line of contact", line: true, style: { color: "#111", weight: 2.5 } },
  "security-strip": { label: "security strip", style: { color: "#d35400", weight: 1, fillColor: "#f5b041", fillOpacity: 0.18 } },
  withdrawal: { label: "withdrawal lines (by weapon class)", line: true, style: { color: "#7d3c98", weight: 1, dashArray: "4 4", fill: false } },
  "no-fly": { label: "no-fly area", style: { color: "#117a65", weight: 1.5, fillColor: "#48c9b0", fillOpacity: 0.2 } },
  "maritime-exclusion": { label: "maritime exclusion zone", style: { color: "#b03a2e", weight: 1.5, dashArray: "6 3", fillColor: "#f1948a", fillOpacity: 0.12 } },
  corridor: { label: "sea corridor", style: { color: "#1f618d", weight: 1, fillColor: "#85c1e9", fillOpacity: 0.15 } },
};
const OTHER_ZONE_STYLE = { color: "#555", weight: 1, fill: false };

// 95 % of a 2-D Gaussian lies within this many standard deviations (sqrt of chi-square(2) at 0.95).
const K95 = Math.sqrt(5.991);
const EARTH_RADIUS_M = 6371008.8;

/** A Leaflet map with its layers, and the functions the page uses to fill them. */
export function createMap(container, { onIncidentClick }) {
  const map = L.map(container, {
    preferCanvas: true, zoomControl: true, attributionControl: true, keyboard: true,
    minZoom: 4, maxZoom: 14, worldCopyJump: false,
  }).setView([48.6, 34.5], 6);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Natural Earth (public domain) · places: GeoNames (CC BY 4.0)");

  // One pane (and canvas) per group, so their stacking order never depends on loading order.
  const panes = { basemap: 200, zones: 350, contact: 380, observations: 390, incidents: 400, selection: 450 };
  const renderers = {};
  for (const [name, z] of Object.entries(panes)) {
    map.createPane(name).style.zIndex = z;
    renderers[name] = L.canvas({ pane: name, padding: 0.3 });
  }
  // Every canvas covers the whole map; only the incidents' may take clicks, or the upper ones would eat them.
  for (const name of Object.keys(panes)) if (name !== "incidents") map.getPane(name).style.pointerEvents = "none";

  const layers = {
    basemap: L.layerGroup().addTo(map),
    zones: L.layerGroup().addTo(map),
    areas: L.layerGroup(),
    contact: L.layerGroup().addTo(map),
    observations: L.layerGroup().addTo(map),
    incidents: L.layerGroup().addTo(map),
    selection: L.layerGroup().addTo(map),
  };
  const markers = new Map(); // incident id → circle marker
  let partyColours = { ...FIXED_PARTY_COLOURS };
  let colourBy = "status";
  let selectedId = null;
  let placesVisible = true;
  let updatePlaces = () => {};

  /** Countries of the world-atlas topology near the area of interest, drawn once. */
  function drawBasemap(topology) {
    const countries = window.topojson.feature(topology, topology.objects.countries);
    const near = countries.features.filter((f) => intersects(bbox(f.geometry), [5, 30, 70, 70]));
    L.geoJSON({ type: "FeatureCollection", features: near }, {
      renderer: renderers.basemap, interactive: false,
      style: (f) => ({
        color: "#8a929c", weight: 0.8, fillOpacity: 1,
        fillColor: f.properties.name === "Ukraine" ? "#fbfbf8" : "#eceee8",
      }),
    }).addTo(layers.basemap);
  }

  /** Bundled places: a dot each, labels appearing with zoom by population. */
  function drawPlaces(collection) {
    const tiers = [[1e6, 5], [250e3, 7], [0, 9]]; // population ≥ … labelled from zoom …
    const groups = tiers.map(() => L.layerGroup());
    for (const f of collection.features) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties;
      const tier = tiers.findIndex(([min]) => p.population >= min);
      const dot = L.circleMarker([lat, lon], {
        renderer: renderers.basemap, radius: 2.5, weight: 1, color: "#2d3540", fillColor: "#fff", fillOpacity: 1,
        interactive: false,
      });
      dot.bindTooltip(p.name, { permanent: true, direction: "right", className: "place-label", offset: [4, 0] });
      groups[tier].addLayer(dot);
    }
    updatePlaces = () => {
      tiers.forEach(([, minZoom], i) => {
        const show = placesVisible && map.getZoom() >= minZoom;
        if (show && !map.hasLayer(groups[i])) groups[i].addTo(map);
        if (!show && map.hasLayer(groups[i])) map.removeLayer(groups[i]);
      });
    };
    map.on("zoomend", updatePlaces);
    updatePlaces();
  }

  /** Show or hide a named layer group ("places", "zones", "areas", "contact", "observations", "incidents"). */
  function setLayerVisible(name, visible) {
    if (name === "places") {
      placesVisible = visible;
      updatePlaces();
      return;
    }
    if (visible && !map.hasLayer(layers[name])) layers[name].addTo(map);
    if (!visible && map.hasLayer(layers[name])) map.removeLayer(layers[name]);
  }

  /** Line of contact, party areas, security strip, withdrawal lines and no-fly areas. */
  function drawAgreement(geojson) {
    for (const group of [layers.zones, layers.areas, layers.contact]) group.clearLayers();
    const drawn = new Set();
    for (const f of geojson.features) {
      const p = f.properties;
      if (p.layer === "contact-line") {
        L.geoJSON(f, { renderer: renderers.contact, style: AGREEMENT_STYLES["contact-line"].style, interactive: false })
          .addTo(layers.contact);
        drawn.add("contact-line");
      } else if (p.layer === "zone") {
        L.geoJSON(f, { renderer: renderers.zones, style: AGREEMENT_STYLES[p.kind]?.style || OTHER_ZONE_STYLE, interactive: false })
          .addTo(layers.zones);
        drawn.add(AGREEMENT_STYLES[p.kind] ? p.kind : "other");
      } else if (p.layer === "party-area") {
        L.geoJSON(f, { renderer: renderers.zones, style: { color: partyColour(p.party), weight: 0, fillOpacity: 0.06 }, interactive: false })
          .addTo(layers.areas);
      }
    }
    agreementLegend.show(drawn);
  }

  const agreementLegend = createLegend(map);

  function setParties(codes) {
    partyColours = { ...FIXED_PARTY_COLOURS };
    codes.forEach((code, i) => { partyColours[code] = PARTY_PALETTE[i % PARTY_PALETTE.length]; });
  }
  const partyColour = (party) => partyColours[party] || "#777";

  function styleOf(incident) {
    const p = incident.properties;
    const fill = colourBy === "party" ? partyColour(incident.party) : STATUS_COLOURS[p.status] || "#777";
    const selected = incident.id === selectedId;
    const simulated = Boolean(p.attributes?.simulated); // outlined purple, dashed: never passes for real
    return {
      renderer: renderers.incidents,
      radius: 3.5 + 7 * (p.corroboration || 0),
      color: selected ? "#000" : simulated ? "#6a1b9a" : "#1d2330",
      weight: selected ? 3 : simulated ? 1.6 : 0.6,
      dashArray: simulated && !selected ? "2 2" : null,
      fillColor: fill,
      fillOpacity: p.status === "dismissed" ? 0.35 : 0.85,
    };
  }

  /** Show exactly `incidents` (already filtered); markers are reused across calls. */
  function showIncidents(incidents) {
    const wanted = new Set();
    for (const incident of incidents) {
      wanted.add(incident.id);
      let marker = markers.get(incident.id);
      const [lon, lat] = incident.geometry.coordinates;
      if (!marker) {
        marker = L.circleMarker([lat, lon], styleOf(incident));
        marker.incidentId = incident.id;
        marker.on("click", () => onIncidentClick(marker.incidentId));
        markers.set(incident.id, marker);
      } else {
        marker.setLatLng([lat, lon]);
        marker.setStyle(styleOf(incident));
        marker.setRadius(styleOf(incident).radius);
      }
      if (!layers.incidents.hasLayer(marker)) layers.incidents.addLayer(marker);
    }
    for (const [id, marker] of markers) {
      if (!wanted.has(id) && layers.incidents.hasLayer(marker)) layers.incidents.removeLayer(marker);
    }
  }

  /** Drop an incident's marker for good (fusion merged it into another or dissolved it). */
  function forget(id) {
    const marker = markers.get(id);
    if (marker) layers.incidents.removeLayer(marker);
    markers.delete(id);
  }

  function setColourBy(mode) { colourBy = mode; }

  /**
   * Mark one incident selected and draw its fused position's 95 % ellipse (and origin, if known), and each
   * engagement it is part of as one act: the launch end (square), the trajectory (a line, solid when the
   * link is probable) and the impact end (ring).
   */
  function select(incident, engagements = []) {
    selectedId = incident ? incident.id : null;
    layers.selection.clearLayers();
    if (!incident) return;
    const [lon, lat] = incident.geometry.coordinates;
    const p = incident.properties;
    const cov = p.cov_m2 || [[p.sigma_m ** 2, 0], [0, p.sigma_m ** 2]];
    L.polygon(ellipse(lat, lon, cov), {
      renderer: renderers.selection, color: "#000", weight: 1.5, fillColor: "#000", fillOpacity: 0.08, interactive: false,
    }).addTo(layers.selection);
    if (p.origin) {
      L.polygon(ellipse(p.origin.lat, p.origin.lon, p.origin.cov_m2), {
        renderer: renderers.selection, color: "#6a1b9a", weight: 1.5, dashArray: "5 4", fill: false, interactive: false,
      }).addTo(layers.selection);
      L.polyline([[p.origin.lat, p.origin.lon], [lat, lon]], {
        renderer: renderers.selection, color: "#6a1b9a", weight: 1, dashArray: "2 4", interactive: false,
      }).addTo(layers.selection);
    }
    for (const e of engagements) drawEngagement(e);
  }

  function drawEngagement(e) {
    const launch = [e.launch_lat, e.launch_lon];
    const impact = [e.impact_lat, e.impact_lon];
    const probable = e.probability >= 0.5;
    L.polyline([launch, impact], {
      renderer: renderers.selection, color: "#b03a00", weight: probable ? 2.5 : 1.5,
      dashArray: probable ? null : "6 5", opacity: 0.9, interactive: false,
    }).addTo(layers.selection);
    const d = 0.012; // the launch end: a small square, a gun position
    L.rectangle([[launch[0] - d * 0.67, launch[1] - d], [launch[0] + d * 0.67, launch[1] + d]], {
      renderer: renderers.selection, color: "#b03a00", weight: 2, fillColor: "#b03a00", fillOpacity: 0.6, interactive: false,
    }).addTo(layers.selection);
    L.circleMarker(impact, {
      renderer: renderers.selection, radius: 7, color: "#b03a00", weight: 2.5, fill: false, interactive: false,
    }).addTo(layers.selection);
  }

  /** Raw observations as small squares-ish dots (what the reader may see in the current view). */
  function showObservations(items) {
    layers.observations.clearLayers();
    for (const o of items) {
      const loc = o.location || {};
      if (typeof loc.lat !== "number" || typeof loc.lon !== "number") continue;
      L.circleMarker([loc.lat, loc.lon], {
        renderer: renderers.observations, radius: 2, weight: 0, fillColor: "#00695c", fillOpacity: 0.9,
        interactive: false,
      }).addTo(layers.observations);
    }
  }

  return {
    map, layers, markers, drawBasemap, drawPlaces, drawAgreement, setParties, partyColour,
    showIncidents, forget, setLayerVisible, setColourBy, select, showObservations,
    /** Redraw every shown marker's style (after colour mode or party data changed). */
    restyle(incidentsById) {
      for (const [id, marker] of markers) {
        const incident = incidentsById.get(id);
        if (incident) marker.setStyle(styleOf(incident));
      }
    },
    flyTo(incident) {
      const [lon, lat] = incident.geometry.coordinates;
      map.setView([lat, lon], Math.max(map.getZoom(), 9));
    },
    /** Screen position of an incident within the map container (tests click there). */
    pointOf(id) {
      const marker = markers.get(id);
      return marker ? map.latLngToContainerPoint(marker.getLatLng()) : null;
    },
  };
}

/** Points of the k·σ ellipse of an east/north covariance (m²) around a position, as [lat, lon]. */
export function ellipse(lat, lon, cov, k = K95, steps = 72) {
  const [[a, b], [, d]] = cov;
  // Eigen-decomposition of the symmetric 2×2 matrix [[a, b], [b, d]].
  const mean = (a + d) / 2;
  const spread = Math.sqrt(((a - d) / 2) ** 2 + b * b);
  const major = Math.sqrt(Math.max(mean + spread, 0)) * k;
  const minor = Math.sqrt(Math.max(mean - spread, 0)) * k;
  const angle = 0.5 * Math.atan2(2 * b, a - d); // of the major axis, from east towards north
  const points = [];
  const latRad = (lat * Math.PI) / 180;
  for (let i = 0; i < steps; i++) {
    const t = (2 * Math.PI * i) / steps;
    const e = major * Math.cos(t) * Math.cos(angle) - minor * Math.sin(t) * Math.sin(angle);
    const n = major * Math.cos(t) * Math.sin(angle) + minor * Math.sin(t) * Math.cos(angle);
    points.push([
      lat + ((n / EARTH_RADIUS_M) * 180) / Math.PI,
      lon + ((e / (EARTH_RADIUS_M * Math.cos(latRad))) * 180) / Math.PI,
    ]);
  }
  return points;
}

function bbox(geometry) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === "number") {
      minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0]);
      minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1]);
    } else c.forEach(walk);
  };
  if (geometry) walk(geometry.coordinates);
  return [minX, minY, maxX, maxY];
}

const intersects = (a, b) => a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];

/** The map's legend for the agreement's lines and zones: only what the agreement in force draws. */
function createLegend(map) {
  const control = L.control({ position: "bottomleft" });
  const box = L.DomUtil.create("div", "map-legend");
  box.id = "map-legend";
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Legend of the agreement's lines and zones");
  control.onAdd = () => box;
  control.addTo(map);
  box.hidden = true;
  return {
    show(drawn) {
      const entries = Object.entries(AGREEMENT_STYLES).filter(([key]) => drawn.has(key));
      if (drawn.has("other")) entries.push(["other", { label: "other zone", line: true, style: OTHER_ZONE_STYLE }]);
      box.replaceChildren(...entries.map(([key, entry]) => legendRow(key, entry)));
      box.hidden = entries.length === 0;
    },
  };
}

function legendRow(key, { label, line, style }) {
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  const mark = document.createElementNS(svgNs, line ? "line" : "rect");
  const attrs = line
    ? { x1: 1, y1: 6, x2: 25, y2: 6 }
    : { x: 1, y: 1, width: 24, height: 10, fill: style.fillColor, "fill-opacity": Math.min(1, 2.5 * style.fillOpacity) };
  Object.assign(attrs, { stroke: style.color, "stroke-width": Math.max(1, style.weight) });
  if (style.dashArray) attrs["stroke-dasharray"] = style.dashArray;
  for (const [name, value] of Object.entries(attrs)) mark.setAttribute(name, String(value));
  svg.append(mark);
  const row = document.createElement("div");
  row.className = "map-legend-row";
  row.dataset.kind = key;
  row.append(svg, document.createTextNode(label));
  return row;
}
