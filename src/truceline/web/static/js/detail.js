// The incident detail panel: what fused into it (observations with sources and grades), where it is and
// how sure, why it counts as corroborated, which rule it breaks and who is held responsible, its ledger
// references, and the review controls (enabled only for keys whoami says may review — analysts of COALITION
// organisations and the admin — otherwise disabled with the server's reason).

import { api, ApiError } from "./api.js";
import { attributionText, corroborationText, duration, el, grade, metres, number, utc } from "./format.js";

const MAX_OBSERVATIONS = 30; // fetched one by one; more are listed by id only

/**
 * Fill `panel` for `incident`. `ctx` gives: whoami, agreement (or null), violations (of this incident),
 * review(decision, reason) → Promise, close(), and open(incidentId) to show another incident (an engagement's
 * other end).
 */
/** A visible SIMULATED marker for an incident or violation that rests on simulated observations, else null. */
export function simulatedBadge(simulated) {
  if (simulated !== "true" && simulated !== "partly") return null;
  const why = simulated === "true" ? "All of its evidence comes from a simulation" : "Part of its evidence comes from a simulation";
  return el("span", { class: "badge simulated", title: `${why}; it did not happen.`, "data-testid": "simulated" },
    simulated === "true" ? "SIMULATED" : "PARTLY SIMULATED");
}

export function renderDetail(panel, incident, ctx) {
  const p = incident.properties;
  const keptReason = panel.querySelector("#review-reason")?.value || "";
  const observationsBox = el("div", { class: "observations" }, el("p", { class: "muted" }, "Loading observations…"));
  const locateBox = el("span", { class: "muted" }, "…");
  panel.replaceChildren(
    el("div", { class: "detail-head" },
      el("h2", { id: "detail-title", tabindex: "-1" }, `${p.kind} incident`),
      el("button", { type: "button", class: "close", "aria-label": "Close the detail (Esc)", onclick: ctx.close }, "×")),
    el("p", { class: "incident-id" }, incident.id),
    el("p", {},
      el("span", { class: `badge status-${p.status}`, "data-testid": "detail-status" }, p.status),
      " ", simulatedBadge(p.attributes?.simulated), " ", el("span", { class: "muted" }, p.review?.note || "not reviewed")),
    el("dl", {},
      el("dt", {}, "Time"), el("dd", {}, `${utc(p.time)} ± ${duration(p.time_uncertainty_s || 0)}`),
      el("dt", {}, "Fused location"),
      el("dd", {}, `${incident.geometry.coordinates[1].toFixed(5)} N, ${incident.geometry.coordinates[0].toFixed(5)} E; ` +
        `1-σ ${metres(p.sigma_m)} (the map shows the 95 % ellipse)`),
      el("dt", {}, "Relative to the line"), el("dd", {}, locateBox),
      p.origin ? [el("dt", {}, "Estimated origin"),
        el("dd", {}, `${p.origin.lat.toFixed(5)} N, ${p.origin.lon.toFixed(5)} E (dashed ellipse)`)] : null),
    el("h3", {}, "Corroboration"),
    el("p", {}, corroborationText(p)),
    el("h3", {}, "Agreement"),
    agreementSection(ctx),
    el("h3", {}, `Observations (${number(p.observation_ids.length)})`),
    observationsBox,
    el("h3", {}, "Review"),
    reviewSection(incident, ctx, keptReason),
  );
  fillObservations(observationsBox, p.observation_ids, p.review, p.observation_orgs);
  fillLocate(locateBox, incident, ctx);
}

function agreementSection(ctx) {
  if (!ctx.agreement) return el("p", { class: "muted" }, "No agreement is in force, so no rule applies.");
  if (ctx.violations === null) return el("p", { class: "muted" }, "The agreement's rules are still being applied…");
  if (!ctx.violations.length) {
    return el("p", {}, `Breaks no rule of “${ctx.agreement.title}” (version ${ctx.agreement.version}), judged from the evidence your key may read.`);
  }
  const rules = Object.fromEntries((ctx.agreement.rules || []).map((r) => [r.id, r]));
  return el("ul", { class: "violations" }, ctx.violations.map((v) =>
    el("li", {},
      simulatedBadge(v.simulated), v.simulated ? " " : null,
      el("strong", {}, `Breaks rule ${v.rule_id}`),
      rules[v.rule_id]?.description ? `: ${rules[v.rule_id].description}` : "",
      el("p", {}, attributionText(v)),
      engagementList(v, ctx),
      el("details", {}, el("summary", {}, "Basis, in full"), el("p", {}, v.basis)))));
}

/** The launch-to-impact links of a violation: one act, launch → trajectory → impact, each end reachable. */
function engagementList(v, ctx) {
  const links = v.engagements || [];
  if (!links.length) return null;
  const end = (id, label) => ctx.open && id !== v.incident_id
    ? el("button", { type: "button", class: "link", "data-incident": id, onclick: () => ctx.open(id) }, label)
    : el("span", {}, label);
  return el("div", { class: "engagements", "data-testid": "engagements" },
    el("h4", {}, links.length === 1 ? "Engagement" : `Engagements (${links.length} candidate links)`),
    el("ul", {}, links.map((e) => el("li", {},
      end(e.launch_incident_id, `${e.launch_kind} at ${e.launch_lat.toFixed(4)} N, ${e.launch_lon.toFixed(4)} E`),
      ` → ${Math.round(e.time_of_flight_s)} s of flight over ${metres(e.range_m)}` +
        `${e.weapon_classes.length ? ` (fits ${e.weapon_classes.join(", ")})` : ""} → `,
      end(e.impact_incident_id, `impact at ${e.impact_lat.toFixed(4)} N, ${e.impact_lon.toFixed(4)} E`),
      el("span", { class: "muted" }, `; link ${(e.probability * 100).toFixed(1)} %`)))));
}

async function fillLocate(box, incident, ctx) {
  if (!ctx.agreement) {
    box.textContent = "no agreement in force";
    return;
  }
  const [lon, lat] = incident.geometry.coordinates;
  try {
    const where = await api(`/api/v1/agreement/locate?lat=${lat}&lon=${lon}`);
    const zones = where.zones?.length ? `; inside ${where.zones.join(", ")}` : "";
    box.textContent = `${where.controlled_by ? `on ground controlled by ${where.controlled_by}` : "on ground of no party"}, ` +
      `${metres(where.distance_to_contact_line_m)} from the line of contact${zones}`;
    box.className = "";
  } catch (err) {
    box.textContent = `unknown (${err.message})`;
  }
}

async function fillObservations(box, ids, review, orgs) {
  const fetched = await Promise.all(ids.slice(0, MAX_OBSERVATIONS).map(async (id, i) => {
    // Ids are per organisation: observation_orgs[i] says whose id this is (absent on older incidents).
    const org = orgs?.[i];
    try {
      return await api(`/api/v1/observations/${encodeURIComponent(id)}` + (org ? `?org=${org}` : ""));
    } catch (err) {
      return { id, error: err instanceof ApiError && err.status === 404 ? "not readable with this key" : err.message };
    }
  }));
  const rows = fetched.map((o) => o.error
    ? el("tr", {}, el("td", {}, o.id), el("td", { colspan: "4", class: "muted" }, o.error))
    : el("tr", {},
      el("td", {}, el("span", { class: "mono" }, o.id), el("br"), el("span", { class: "muted" }, `${o.kind} · ${utc(o.time)}`)),
      el("td", {}, o.source.id, el("br"), el("span", { class: "muted" }, `${o.source.type} · ${o.source.org}`)),
      el("td", { title: grade(o.reliability, o.credibility) }, `${o.reliability}${o.credibility}`,
        el("br"), el("span", { class: "muted small" }, grade(o.reliability, o.credibility).split(": ")[1])),
      el("td", { class: "n" }, o.ledger ? `#${number(o.ledger.index)}` : "—")));
  const reviewRefs = (review?.decisions || []).map((d) =>
    el("li", {}, `${d.decision} by ${d.org}/${d.analyst} at ${utc(d.at)}: ledger leaf #${number(d.ledger.index)}`));
  const noRefs = review && !review.decisions && review.at
    ? "Review decisions are ledger leaves too; which ones, and who decided, is shown to coalition staff only."
    : "No review decisions recorded yet.";
  box.replaceChildren(
    el("table", { class: "obs-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "observation"), el("th", {}, "source"), el("th", {}, "grade"), el("th", { class: "n" }, "ledger"))),
      el("tbody", {}, rows)),
    ids.length > MAX_OBSERVATIONS ? el("p", { class: "muted" }, `… and ${number(ids.length - MAX_OBSERVATIONS)} more: ${ids.slice(MAX_OBSERVATIONS).join(", ")}`) : null,
    el("h4", {}, "Ledger references"),
    el("p", { class: "muted small" }, "Each observation and each review decision is a leaf of the evidence ledger; " +
      "prove its inclusion with GET /api/v1/ledger/inclusion?index=…"),
    reviewRefs.length ? el("ul", { class: "ledger-refs" }, reviewRefs) : el("p", { class: "muted small" }, noRefs),
  );
}

function reviewSection(incident, ctx, keptReason) {
  // The server decides (role and COALITION membership): an analyst of a party's organisation may not review.
  const mayReview = ctx.whoami.may_review === true;
  const why = mayReview ? null
    : `Your key (${ctx.whoami.org}, role ${ctx.whoami.role}) may not review incidents: ` +
      `${ctx.whoami.review_reason || "analysts of COALITION organisations review"}.`;
  const message = el("p", { id: "review-message", role: "status", "aria-live": "polite" });
  const reason = el("textarea", {
    id: "review-reason", rows: "2", maxlength: "4000", disabled: !mayReview,
    placeholder: "Reason (needed to dismiss)", "aria-label": "Reason for dismissing",
  });
  reason.value = keptReason;
  const act = async (decision, button) => {
    if (decision === "dismiss" && reason.value.trim().length < 3) {
      message.textContent = "A dismissal needs a reason of at least 3 characters.";
      message.className = "error";
      reason.focus();
      return;
    }
    button.disabled = true;
    message.textContent = "Recording…";
    message.className = "muted";
    try {
      await ctx.review(decision, reason.value.trim());
      reason.value = "";
      const note = document.querySelector("#review-message");
      if (note) { note.textContent = `Recorded: ${decision}.`; note.className = ""; }
    } catch (err) {
      const note = document.querySelector("#review-message") || message;
      note.textContent = `Not recorded: ${err.message}`;
      note.className = "error";
      button.disabled = false;
    }
  };
  const button = (decision, label) => {
    const b = el("button", {
      type: "button", class: `review-${decision}`, disabled: !mayReview, "aria-describedby": why ? "review-why" : null,
    }, label);
    b.addEventListener("click", () => act(decision, b));
    return b;
  };
  const review = incident.properties.review;
  const history = (review?.decisions || []).map((d) =>
    el("li", d.counted === false ? { class: "not-counted", title: d.not_counted || "" } : {},
      `${utc(d.at)}: ${d.org}/${d.analyst} — ${d.decision}${d.reason ? ` (“${d.reason}”)` : ""}`,
      d.counted === false ? el("span", { class: "muted" },
        ` — not counted: ${/compromised/.test(d.not_counted || "") ? "its key was revoked as compromised" : "no review authority"}`) : null));
  // Readers other than coalition staff get the outcome and its time only: no decisions, no reviewers.
  const outcome = review && !review.decisions && review.at
    ? el("p", { class: "review-outcome" }, `Review ${review.status || "pending"} as of ${utc(review.at)}; ` +
      "who reviewed and why is shown to coalition staff only.")
    : null;
  return el("div", { class: "review" },
    history.length ? el("ul", { class: "review-history" }, history) : outcome,
    el("p", { class: "muted small" }, "Verified needs two different coalition analysts; one dismissal (with a reason) dismisses."),
    reason,
    el("div", { class: "buttons" }, button("verify", "Verify"), button("dismiss", "Dismiss"), button("reopen", "Reopen")),
    why ? el("p", { id: "review-why", class: "muted" }, why) : null,
    message);
}
