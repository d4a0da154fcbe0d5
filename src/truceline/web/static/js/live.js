// Live updates: follows the server's stream and keeps the page's incidents current — fusion's changes,
// reviews, merges and partial views (`id.1`, `id.2`… for a key that may read only part of an incident) —
// asking the server again whenever only it can say what this key may see.

import { api, ApiError, followStream } from "./api.js";
import { dayStops } from "./filters.js";
import { number } from "./format.js";

const $ = (id) => document.getElementById(id);

/**
 * The live half of the page. `ctx` gives the page's `state`, `view()` (the map, once drawn) and the page's
 * own steps: render, showDetail, closeDetail, remember, setupSlider, loadIncidents, loadViolations, notice.
 * Returns `applyIncident(feature, action)` (also used for review answers) and `start()`.
 */
export function createLive(ctx) {
  const { state, render, showDetail, closeDetail, remember, setupSlider, loadIncidents, loadViolations, notice } = ctx;

  const refetch = new Map(); // incident id → the action its fresh views are taken in with ("reviewed" or "changed")
  let refetchTimer = null;
  const pendingViolations = new Set();
  let violationsTimer = null;

  /** The keys this page holds incident `id` under: the id itself, or the partial views `id.1`, `id.2`… */
  function viewsOf(id) {
    const keys = state.incidents.has(id) ? [id] : [];
    for (let k = 1; state.incidents.has(`${id}.${k}`); k += 1) keys.push(`${id}.${k}`); // numbered from 1, no gaps
    return keys;
  }

  function forgetViews(keys) {
    for (const k of keys) {
      state.incidents.delete(k);
      state.violations.delete(k);
      ctx.view().forget(k);
    }
  }

  function countLiveChange() {
    state.liveChanges += 1;
    $("live-count").textContent = `${number(state.liveChanges)} live change${state.liveChanges === 1 ? "" : "s"}`;
  }

  /** Ask the server again, soon, for this key's view of incident `id` (changes in a row make one fetch). */
  function scheduleRefetch(id, action) {
    if (refetch.get(id) !== "changed") refetch.set(id, action); // "changed" also re-judges it
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(refetchIncidents, 300);
  }

  /** Take in one incident feature from the stream, a fetch or a review answer. */
  function applyIncident(feature, action) {
    const streamed = "action" in feature.properties; // only server-sent events carry an action
    delete feature.properties.action;
    const known = state.incidents.get(feature.id) || state.incidents.get(viewsOf(feature.id)[0]);
    if (streamed && (action === "reviewed" || known?.properties.review?.at)) {
      // Fusion's event carries fusion's status and a review event only the outcome (never who or why):
      // reviews decide the shown status and this key's view of them, so ask the server again.
      scheduleRefetch(feature.id, "reviewed");
      return;
    }
    if (!feature.properties.review) feature.properties.review = known?.properties.review || { note: "not reviewed", decisions: [] };
    // The whole incident replaces the partial views this key had of it (when evidence it may not read left).
    if (!feature.id.includes(".")) forgetViews(viewsOf(feature.id).filter((k) => k !== feature.id));
    remember(feature);
    if (state.selected?.startsWith(`${feature.id}.`) && !state.incidents.has(state.selected)) state.selected = feature.id;
    if (action !== "reviewed") {
      pendingViolations.add(feature.t);
      clearTimeout(violationsTimer);
      violationsTimer = setTimeout(judgeNew, 1000);
    }
    countLiveChange();
    const before = state.stops.length;
    const stops = dayStops([...state.incidents.values()]);
    if (stops.length !== before || stops[0] !== state.stops[0]) {
      state.stops = stops;
      setupSlider(false);
    }
    render();
    if (state.selected === feature.id) showDetail(feature.id, { keepFocus: true });
  }

  /**
   * Fetch this key's view of each incident a review or `incident.changed` named: one feature, its partial
   * views (a FeatureCollection of `id.1`, `id.2`…), or 404 when nothing of it is left that the key may read.
   */
  async function refetchIncidents() {
    const wanted = [...refetch];
    refetch.clear();
    for (const [id, action] of wanted) {
      let features;
      try {
        const found = await api(`/api/v1/incidents/${encodeURIComponent(id)}`);
        features = found.type === "FeatureCollection" ? found.features : [found];
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          console.warn("could not refresh", id, err);
          if (state.selected === id && !state.incidents.has(id)) closeDetail();
          continue;
        }
        features = [];
      }
      replaceViews(id, features, action);
    }
  }

  /** This key's views of incident `id` are now `features`: drop the others; the open detail follows. */
  function replaceViews(id, features, action) {
    const fresh = new Set(features.map((f) => f.id));
    const stale = viewsOf(id).filter((k) => !fresh.has(k));
    forgetViews(stale);
    for (const feature of features) applyIncident(feature, action);
    if (!features.length && stale.length) {
      countLiveChange();
      render();
    }
    const open = state.selected;
    if (open !== null && (open === id || open.startsWith(`${id}.`)) && !state.incidents.has(open)) {
      if (features.length) {
        state.selected = features[0].id;
        showDetail(features[0].id, { keepFocus: true });
        render();
      } else {
        closeDetail();
      }
    }
  }

  /** Judge the incidents that arrived live against the agreement (only their time span is asked for). */
  async function judgeNew() {
    const times = [...pendingViolations];
    pendingViolations.clear();
    if (!times.length || !state.agreement) return;
    const since = new Date(Math.min(...times)).toISOString();
    const until = new Date(Math.max(...times) + 1000).toISOString();
    try {
      await loadViolations(`&since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`);
    } catch (err) {
      console.warn("could not judge new incidents", err);
    }
  }

  /**
   * Fusion folded incident `id` into `into` (null when this key may not see that one) or dissolved it:
   * drop it, with the partial views `id.1`, `id.2`… the API shows a reader who sees only part of it.
   */
  function removeIncident(id, into) {
    const gone = viewsOf(id);
    if (!gone.length) return;
    forgetViews(gone);
    countLiveChange();
    render();
    if (!gone.includes(state.selected)) return;
    if (into && state.incidents.has(into)) {
      state.selected = into; // the detail follows the incident the shown one went into
      showDetail(into, { keepFocus: true });
    } else if (into && refetch.has(into)) {
      state.selected = into; // this key's view of it is on its way (`incident.changed`): the detail follows then
    } else {
      closeDetail();
    }
  }

  function startLive() {
    let connectedBefore = false;
    followStream((type, data) => {
      if (type === "incident") applyIncident(data, data.properties.action);
      else if (type === "incident.changed") scheduleRefetch(data.id, "changed"); // this key sees part of it
      else if (type === "incident.merged" || type === "incident.removed") removeIncident(data.id, data.into);
      else if (type === "lost") reloadAll("Some live changes were missed; reloaded.");
    }, (link, why) => {
      const badge = $("live");
      badge.dataset.state = link;
      badge.textContent = link === "live" ? "● live" : link === "connecting" ? "○ connecting…" : "○ offline";
      badge.title = why || "";
      if (link === "live") {
        if (connectedBefore) reloadAll(); // what happened while the link was down is not replayed
        connectedBefore = true;
      }
    });
  }

  async function reloadAll(message) {
    await loadIncidents();
    render();
    loadViolations().catch((err) => notice(`Could not apply the agreement's rules: ${err.message}`));
    if (message) notice(message, "info");
  }

  return { applyIncident, start: startLive };
}
