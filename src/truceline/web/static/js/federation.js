// Federation on the page: a national node's outbox to the coalition hub, and the hub's register of nodes.
// Both come from the API with the reader's key: `/api/v1/outbox` (404 when this server has no upstream)
// and `/api/v1/nodes` (403 unless coalition staff). Nothing is shown that the key may not ask for itself.

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

/** Add the federation panel to the top of `sidebar` and keep it current; hidden where it does not apply. */
export function startFederation(sidebar) {
  const section = el("section", { id: "federation", "aria-label": "Federation", hidden: true });
  sidebar.prepend(section);
  async function refresh() {
    const [outbox, nodes] = await Promise.all([optional("/api/v1/outbox"), optional("/api/v1/nodes")]);
    const parts = [...(outbox ? outboxView(outbox) : []), ...(nodes ? nodesView(nodes) : [])];
    section.replaceChildren(...parts);
    section.hidden = parts.length === 0;
    setTimeout(refresh, POLL_MS);
  }
  refresh();
}
