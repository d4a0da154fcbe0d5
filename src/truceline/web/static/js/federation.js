// Federation on the page: a national node's outbox to the coalition hub, and the hub's register of nodes.
// All come from the API with the reader's key: `/api/v1/outbox` (404 when this server has no upstream),
// `/api/v1/coalition` (the hub's picture as released to this nation, 404 until pulled, 403 for other
// organisations) and `/api/v1/nodes` (403 unless coalition staff). Nothing is shown that the key may not
// ask for itself.

import { api, ApiError } from "./api.js";
import { el, number, utc } from "./format.js";

const POLL_MS = 5000;

const age = (s) => (s === null || s === undefined ? "none" : s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

/** Ask, or null when the server says this view does not apply to it or to this key (404, 403). */
async function optional(path) {
  try {
    return await api(path);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return null;
    return { error: err.message };
  }
}

function outboxView(o) {
  if (o.error) return [el("p", { class: "small" }, `Outbox: ${o.error}`)];
  const rows = [
    el("h2", {}, `Forwarding to the coalition hub as ${o.nation || "?"}`),
    el("p", { class: "small" }, `Pending ${number(o.pending)} · oldest ${age(o.oldest_pending_age_s)} · sent ${number(o.sent)}`
      + ` · refused ${number(o.refused)} · kept national ${number(o.local)}`),
    el("p", { class: "small muted" }, `Last success: ${o.last_success ? utc(o.last_success) : "never"}`),
  ];
  if (o.last_error) rows.push(el("p", { class: "small muted" }, `Last error (${utc(o.last_error_at)}): ${o.last_error}`));
  if (o.alert) {
    rows.unshift(el("p", { class: "federation-alert", role: "alert" },
      `⚠ The hub has not taken this node's observations for ${age(o.oldest_pending_age_s)} (alert after ${age(o.alert_after_s)}).`));
  }
  if (o.refused_items?.length) {
    rows.push(el("details", {}, el("summary", { class: "small" }, `${o.refused_items.length} refused by the hub`),
      el("ul", { class: "small" }, o.refused_items.map((r) => el("li", {}, `${r.id}: ${r.reason}`)))));
  }
  return rows;
}

function nodesView(n) {
  if (n.error) return [el("p", { class: "small" }, `Nodes: ${n.error}`)];
  if (!n.nodes.length) return [el("h2", {}, "National nodes"), el("p", { class: "small muted" }, "No node has reported yet.")];
  return [
    el("h2", {}, "National nodes"),
    el("ul", { class: "small" }, n.nodes.map((row) => el("li", {},
      `${row.org} · ${row.node}: last contact ${age(row.silent_for_s)} ago, pending ${row.pending ?? "?"}`
      + (row.oldest_pending_age_s ? ` (oldest ${age(row.oldest_pending_age_s)})` : "")
      + (row.refused ? `, refused ${row.refused}` : "")))),
  ];
}

function coalitionView(c) {
  if (c.error) return [el("p", { class: "small" }, `Coalition picture: ${c.error}`)];
  const features = c.incidents?.features || [];
  const violations = c.violations?.features || [];
  const latest = [...features].sort((a, b) => String(b.properties.time).localeCompare(String(a.properties.time))).slice(0, 8);
  return [
    el("h2", {}, "Coalition picture (from the hub)"),
    el("p", { class: "small muted" }, `${c.label}; fetched ${utc(c.fetched_at)}. Not part of this node's own incidents.`),
    el("p", { class: "small" }, `${number(features.length)} incidents · ${c.violations ? number(violations.length) : "?"} violations`
      + (c.violations_note ? ` (${c.violations_note})` : "")),
    el("ul", { class: "small coalition-incidents" }, latest.map((f) => el("li", {},
      `${utc(f.properties.time)} · ${f.properties.kind} · ${f.properties.status} · ${f.properties.independent_sources} sources`))),
  ];
}

/** Add the federation panel to the top of `sidebar` and keep it current; hidden where it does not apply. */
export function startFederation(sidebar) {
  const section = el("section", { id: "federation", "aria-label": "Federation", hidden: true });
  sidebar.prepend(section);
  async function refresh() {
    const [outbox, nodes, coalition] = await Promise.all(
      [optional("/api/v1/outbox"), optional("/api/v1/nodes"), optional("/api/v1/coalition")]);
    const parts = [...(outbox ? outboxView(outbox) : []), ...(coalition ? coalitionView(coalition) : []),
      ...(nodes ? nodesView(nodes) : [])];
    section.replaceChildren(...parts);
    section.hidden = parts.length === 0;
    setTimeout(refresh, POLL_MS);
  }
  refresh();
}
