// The analyst's page: loads what the key may read, draws it, follows the live stream, and lets
// analysts review. State lives here; map.js draws, filters.js counts, detail.js explains one incident,
// live.js follows the stream.

import { api, apiBlob, ApiError, forgetKey, getKey, setKey, takeKeyFromFragment } from "./js/api.js";
import { renderDetail, simulatedBadge } from "./js/detail.js";
import { applyFilters, dayStops, emptyFilters, facetValues, FACETS, timeRange } from "./js/filters.js";
import { el, isoDay, number, utc } from "./js/format.js";
import { createLive } from "./js/live.js";
import { startFederation } from "./js/federation.js";
import { createMap, NO_VIOLATION, PENDING, STATUS_COLOURS } from "./js/map.js";
import { createTrackLayers } from "./js/tracks.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// `?incidents=off` draws everything but the incidents (the baseline of `truceline bench page`).
const INCIDENTS_ON = params.get("incidents") !== "off";
// `?day=YYYY-MM-DD` opens the page on that day alone (the demo's suggested day); later loads follow the analyst.
let startDay = /^\d{4}-\d{2}-\d{2}$/.test(params.get("day") || "") ? params.get("day") : null;
const LIST_LIMIT = 100;
const OBSERVATION_LIMIT = 5000;

const state = {
  whoami: null,
  agreement: null,
  incidents: new Map(), // id → GeoJSON feature + {t: ms, party}
  violations: new Map(), // incident id → [violation properties]
  violationsLoaded: false,
  filters: emptyFilters(),
  stops: [],
  selected: null,
  liveChanges: 0,
};
let view = null; // the map

// -- messages and empty states ---------------------------------------------------------------------

function notice(text, kind = "error") {
  const box = $("notice");
  box.hidden = !text;
  box.className = kind;
  box.textContent = text || "";
}

function askForKey(why) {
  $("key-section").hidden = false;
  $("key-why").textContent = why || "Enter your API key once; it stays in this browser only.";
  $("key-input").focus();
}

// -- loading ---------------------------------------------------------------------------------------

async function loadStatic() {
  // No key needed: the basemap and places are static files of the page.
  const [topology, places] = await Promise.all([
    fetch("/static/vendor/world-atlas/countries-50m.json").then(okJson),
    fetch("/static/data/places.geojson").then(okJson),
  ]);
  performance.mark("static-fetched");
  view.drawBasemap(topology);
  view.drawPlaces(places);
  performance.mark("static-drawn");
}

async function okJson(response) {
  if (!response.ok) throw new Error(`${response.url} answered ${response.status}`);
  return response.json();
}

async function loadAgreement() {
  try {
    state.agreement = await api("/api/v1/agreement?simplify_m=200");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      state.agreement = null;
      $("agreement-title").textContent = "no agreement in force";
      return;
    }
    throw err;
  }
  $("agreement-title").textContent = `${state.agreement.title} (v${state.agreement.version}, in force from ${utc(state.agreement.effective_from)})`;
  view.setParties(state.agreement.parties.map((p) => p.code));
  view.drawAgreement(state.agreement.geojson);
}

function remember(feature) {
  feature.t = Date.parse(feature.properties.time);
  feature.party = partyOf(feature.id);
  state.incidents.set(feature.id, feature);
  if (feature.properties.attributes?.simulated) $("simulated-banner").hidden = false;
}

function partyOf(id) {
  if (!state.agreement) return NO_VIOLATION;
  if (!state.violationsLoaded && !state.violations.has(id)) return PENDING;
  const found = state.violations.get(id);
  return found && found.length ? found[0].party : NO_VIOLATION;
}

async function loadIncidents() {
  const collection = await api("/api/v1/incidents?limit=100000");
  performance.mark("incidents-fetched");
  state.incidents.clear();
  for (const feature of collection.features) remember(feature);
  state.stops = dayStops([...state.incidents.values()]);
  setupSlider(true);
}

async function loadViolations(query = "") {
  if (!state.agreement) return;
  // The server pages violations (next_cursor); follow every page so no violation of a busy day is left out.
  const features = [];
  let cursor = null;
  do {
    const page = await api(`/api/v1/violations?limit=100000${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    features.push(...page.features);
    cursor = page.next_cursor;
  } while (cursor);
  const fresh = new Map();
  for (const f of features) {
    const list = fresh.get(f.properties.incident_id) || [];
    list.push({ ...f.properties, id: f.id });
    fresh.set(f.properties.incident_id, list);
  }
  if (query) {
    for (const [id, list] of fresh) state.violations.set(id, list);
  } else {
    state.violations = fresh;
    state.violationsLoaded = true;
  }
  for (const incident of state.incidents.values()) incident.party = partyOf(incident.id);
  render();
  if (state.selected) showDetail(state.selected, { keepFocus: true });
}

// -- time slider and filters -----------------------------------------------------------------------

function setupSlider(toEnd) {
  const slider = $("day");
  const atEnd = Number(slider.value) >= Number(slider.max);
  slider.max = String(Math.max(state.stops.length - 1, 0));
  slider.disabled = state.stops.length === 0;
  if (toEnd || atEnd) slider.value = slider.max; // follow the newest day unless the analyst moved away
  if (startDay && state.stops.length) {
    const upTo = state.stops.filter((stop) => isoDay(new Date(stop)) <= startDay).length;
    slider.value = String(Math.max(upTo - 1, 0));
    $("window").value = "1";
    startDay = null;
  }
  updateTime();
}

function shownDay() {
  const stop = state.stops[Number($("day").value)];
  return stop === undefined ? new Date() : new Date(stop);
}

function updateTime() {
  const day = shownDay();
  const windowDays = $("window").value;
  if (!state.stops.length) {
    Object.assign(state.filters, { from: -Infinity, to: Infinity });
    $("day-label").textContent = "no incidents yet";
  } else {
    Object.assign(state.filters, timeRange(day.getTime(), windowDays));
    const from = windowDays === "all" ? "the start" : isoDay(new Date(state.filters.from));
    $("day-label").textContent = `${isoDay(day)} (from ${from} to the end of ${isoDay(day)}, UTC)`;
  }
  updateReportLink();
}

function buildFacets() {
  const values = facetValues([...state.incidents.values()]);
  const host = $("facets");
  for (const facet of FACETS) {
    let fieldset = host.querySelector(`fieldset[data-facet="${facet.name}"]`);
    if (!fieldset) {
      fieldset = el("fieldset", { "data-facet": facet.name },
        el("legend", {}, facet.label),
        el("div", { class: "options" }),
        el("button", { type: "button", class: "link", onclick: () => toggleAll(facet.name) }, "all / none"));
      host.append(fieldset);
    }
    const options = fieldset.querySelector(".options");
    const have = new Set([...options.querySelectorAll("input")].map((i) => i.value));
    for (const value of values[facet.name]) {
      if (have.has(value)) continue;
      const id = `f-${facet.name}-${value.replace(/[^a-z0-9]+/gi, "_")}`;
      const input = el("input", { type: "checkbox", id, value, checked: !state.filters.excluded[facet.name].has(value) });
      input.addEventListener("change", () => {
        const excluded = state.filters.excluded[facet.name];
        if (input.checked) excluded.delete(value); else excluded.add(value);
        render();
      });
      options.append(el("label", { for: id, class: "option" }, input,
        facet.name === "status" ? el("span", { class: "swatch", style: `background:${STATUS_COLOURS[value] || "#777"}` }) : null,
        facet.name === "party" ? el("span", { class: "swatch", style: `background:${view.partyColour(value)}` }) : null,
        el("span", { class: "value" }, value), el("span", { class: "count", "data-value": value }, "")));
    }
  }
}

function toggleAll(name) {
  const inputs = [...document.querySelectorAll(`fieldset[data-facet="${name}"] input`)];
  const check = inputs.some((i) => !i.checked);
  for (const input of inputs) {
    input.checked = check;
    if (check) state.filters.excluded[name].delete(input.value); else state.filters.excluded[name].add(input.value);
  }
  render();
}

// -- rendering -------------------------------------------------------------------------------------

let renderQueued = false;
/** Re-filter and redraw at most once per frame, however many changes arrive. */
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const all = [...state.incidents.values()];
  buildFacets();
  const { shown, counts } = applyFilters(all, state.filters);
  for (const facet of FACETS) {
    for (const span of document.querySelectorAll(`fieldset[data-facet="${facet.name}"] .count`)) {
      span.textContent = number(counts[facet.name].get(span.dataset.value) || 0);
    }
  }
  $("count").textContent = `${number(shown.length)} of ${number(all.length)} incidents shown`;
  $("count").dataset.shown = String(shown.length);
  if (INCIDENTS_ON) view.showIncidents(shown);
  renderList(shown, all.length);
}

function renderList(shown, total) {
  const list = $("incident-list");
  if (!total) {
    list.replaceChildren(el("p", { class: "empty" },
      "No incidents yet. They appear here live as observations are posted (POST /api/v1/observations) and fused."));
    return;
  }
  if (!shown.length) {
    list.replaceChildren(el("p", { class: "empty" }, "No incident matches the time and filters chosen. ",
      el("button", { type: "button", class: "link", onclick: resetFilters }, "Show all")));
    return;
  }
  const newest = shown.slice().sort((a, b) => b.t - a.t).slice(0, LIST_LIMIT);
  // Live updates rebuild the list: a keyboard user's focus stays on the incident it was on.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset?.id : null;
  list.replaceChildren(
    el("ol", {}, newest.map((i) => el("li", {},
      el("button", {
        type: "button", class: "incident", "data-id": i.id, "aria-current": i.id === state.selected ? "true" : null,
        onclick: () => select(i.id, { fly: true }),
      },
      el("span", { class: "swatch", style: `background:${STATUS_COLOURS[i.properties.status]}` }),
      simulatedBadge(i.properties.attributes?.simulated),
      `${i.properties.kind} · ${utc(i.properties.time)}`,
      el("span", { class: "muted" }, ` · ${i.properties.status} · ${i.party}`))))),
    shown.length > LIST_LIMIT ? el("p", { class: "muted small" }, `Newest ${LIST_LIMIT} listed; narrow the time or filters for the rest.`) : null);
  if (focused) list.querySelector(`button.incident[data-id="${CSS.escape(focused)}"]`)?.focus();
}

function resetFilters() {
  state.filters = { ...emptyFilters(), from: state.filters.from, to: state.filters.to };
  $("window").value = "all";
  $("day").value = $("day").max;
  updateTime();
  for (const input of document.querySelectorAll("#facets input")) input.checked = true;
  render();
}

// -- selection and detail --------------------------------------------------------------------------

function select(id, { fly = false } = {}) {
  const incident = state.incidents.get(id);
  if (!incident) return;
  state.selected = id;
  if (fly) view.flyTo(incident);
  showDetail(id);
  render();
}

function showDetail(id, { keepFocus = false } = {}) {
  const incident = state.incidents.get(id);
  const panel = $("detail");
  if (!incident) {
    closeDetail();
    return;
  }
  const violations = state.violationsLoaded || state.violations.has(id) ? state.violations.get(id) || [] : null;
  // A re-render (violations arriving, a live update) replaces the panel's elements: a keyboard user's focus
  // inside it would fall back to the page, so note where it was and put it back afterwards.
  const focusedInside = keepFocus && panel.contains(document.activeElement) ? document.activeElement.id || "detail-title" : null;
  view.select(incident, engagementsOf(violations));
  view.restyle(state.incidents);
  panel.hidden = false;
  renderDetail(panel, incident, {
    whoami: state.whoami,
    agreement: state.agreement,
    violations,
    open: (other) => { if (state.incidents.has(other)) select(other, { fly: true }); },
    review: (decision, reason) => review(id, decision, reason),
    close: closeDetail,
  });
  if (!keepFocus) $("detail-title").focus();
  else if (focusedInside) ($(focusedInside) || $("detail-title")).focus();
}

/** The launch-to-impact links of an incident's violations, once each (several rules may list the same one). */
function engagementsOf(violations) {
  const seen = new Map();
  for (const v of violations || []) {
    for (const e of v.engagements || []) seen.set(`${e.launch_incident_id}>${e.impact_incident_id}`, e);
  }
  return [...seen.values()];
}

function closeDetail() {
  const previous = state.selected;
  state.selected = null;
  $("detail").hidden = true;
  view.select(null);
  view.restyle(state.incidents);
  renderNow(); // now, not next frame: the list is rebuilt before focus returns to it
  const button = previous && document.querySelector(`#incident-list button[data-id="${CSS.escape(previous)}"]`);
  if (button) button.focus();
}

async function review(id, decision, reason) {
  const answer = await api(`/api/v1/incidents/${encodeURIComponent(id)}/review`, {
    method: "POST", body: { decision, reason },
  });
  applyIncident(answer.incident, "reviewed");
}

// -- live updates (js/live.js) --------------------------------------------------------------------

const { applyIncident, start: startLive } = createLive({
  state, view: () => view, render, showDetail, closeDetail, remember, setupSlider, loadIncidents, loadViolations, notice,
});

// -- observations on demand ------------------------------------------------------------------------

let observationsTimer = null;
async function loadObservations() {
  if (!$("layer-observations").checked) {
    view.showObservations([]);
    $("observations-note").textContent = "";
    return;
  }
  const b = view.map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(4)).join(",");
  let query = `bbox=${bbox}&limit=${OBSERVATION_LIMIT}`;
  if (Number.isFinite(state.filters.from)) query += `&since=${new Date(state.filters.from).toISOString()}`;
  if (Number.isFinite(state.filters.to)) query += `&until=${new Date(state.filters.to).toISOString()}`;
  $("observations-note").textContent = "loading…";
  try {
    const page = await api(`/api/v1/observations?${query}`);
    view.showObservations(page.items);
    $("observations-note").textContent = `${number(page.items.length)}${page.next_cursor ? "+ (first " + number(OBSERVATION_LIMIT) + ")" : ""} in view`;
  } catch (err) {
    $("observations-note").textContent = `could not load: ${err.message}`;
  }
}
const scheduleObservations = () => {
  clearTimeout(observationsTimer);
  observationsTimer = setTimeout(loadObservations, 300);
};

// -- daily report ----------------------------------------------------------------------------------

function reportUrl() {
  const q = new URLSearchParams({ date: isoDay(shownDay()), format: $("report-format").value, audience: $("report-audience").value });
  return `/api/v1/reports/daily?${q}`;
}

function updateReportLink() {
  const link = $("report-link");
  link.href = reportUrl();
  link.textContent = `Daily report ${isoDay(shownDay())}`;
}

async function openReport(event) {
  event.preventDefault();
  // Opened before the fetch so that popup blockers see it as the click's own window.
  const target = window.open("", "_blank");
  try {
    const blob = await apiBlob(reportUrl());
    const url = URL.createObjectURL(blob);
    if ($("report-format").value === "md" || !target) {
      const a = el("a", { href: url, download: `truceline-${isoDay(shownDay())}.md` });
      document.body.append(a);
      a.click();
      a.remove();
      if (target) target.close();
    } else {
      target.location = url;
    }
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    if (target) target.close();
    notice(err instanceof ApiError && err.status === 404 && /not found/i.test(err.message)
      ? "This server has no daily report yet (GET /api/v1/reports/daily answered 404)."
      : `Daily report: ${err.message}`);
  }
}

// -- start -----------------------------------------------------------------------------------------

function wireControls() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey($("key-input").value);
    $("key-input").value = "";
    $("key-section").hidden = true;
    start();
  });
  $("forget-key").addEventListener("click", () => {
    forgetKey();
    location.reload();
  });
  $("day").addEventListener("input", () => { updateTime(); render(); scheduleObservations(); });
  $("window").addEventListener("change", () => { updateTime(); render(); scheduleObservations(); });
  $("colour-by").addEventListener("change", () => {
    view.setColourBy($("colour-by").value);
    view.restyle(state.incidents);
    $("legend-status").hidden = $("colour-by").value !== "status";
    $("legend-party").hidden = $("colour-by").value !== "party";
  });
  for (const name of ["places", "zones", "areas", "contact"]) {
    $(`layer-${name}`).addEventListener("change", (e) => view.setLayerVisible(name, e.target.checked));
  }
  $("layer-observations").addEventListener("change", loadObservations);
  view.map.on("moveend", () => { if ($("layer-observations").checked) scheduleObservations(); });
  $("report-link").addEventListener("click", openReport);
  for (const id of ["report-format", "report-audience"]) $(id).addEventListener("change", updateReportLink);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("detail").hidden) closeDetail();
  });
}

function legend() {
  $("legend-status").replaceChildren(...Object.entries(STATUS_COLOURS).map(([s, c]) =>
    el("span", { class: "legend-item" }, el("span", { class: "swatch", style: `background:${c}` }), s)));
  const parties = [...(state.agreement?.parties || []).map((p) => p.code), "undetermined", NO_VIOLATION];
  $("legend-party").replaceChildren(...parties.map((p) =>
    el("span", { class: "legend-item" }, el("span", { class: "swatch", style: `background:${view.partyColour(p)}` }), p)));
}

async function start() {
  if (!getKey()) {
    askForKey();
    return;
  }
  notice("");
  try {
    state.whoami = await api("/api/v1/whoami");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forgetKey();
      askForKey("That key was refused (unknown or revoked). Enter a valid key.");
    } else {
      notice(`Could not reach the server: ${err.message}`);
    }
    return;
  }
  $("who").textContent = `${state.whoami.org} · ${state.whoami.role}`;
  $("forget-key").hidden = false;
  startFederation($("sidebar"));
  try {
    await Promise.all([loadAgreement(), loadIncidents()]);
  } catch (err) {
    notice(`Could not load incidents: ${err.message}`);
    return;
  }
  legend();
  renderNow();
  performance.mark("incidents-drawn");
  await staticReady;
  // Ready once the browser has painted the drawn canvases (two frames: layout, then paint).
  requestAnimationFrame(() => requestAnimationFrame(() => {
    window.trucelineReadyAt = performance.now();
    document.body.dataset.ready = "1";
  }));
  loadViolations()
    .catch((err) => notice(`Could not apply the agreement's rules: ${err.message}`))
    .finally(() => { document.body.dataset.judged = "1"; });
  startLive();
  tracks.refresh();
}

takeKeyFromFragment();
view = createMap($("map"), { onIncidentClick: (id) => select(id) });
const tracks = createTrackLayers(view.map, api, { aircraftBox: $("layer-aircraft"), vesselBox: $("layer-vessels"), feedsNote: $("tracks-note") });
const staticReady = loadStatic().catch((err) => notice(`The basemap could not be loaded: ${err.message}`));
wireControls();
window.truceline = { state, view, select, tracks }; // for tests and the curious: read-only use please
start();
