// Small, pure helpers: building DOM safely, and saying figures in words.
// Everything shown comes from contributors, so text is always set with textContent, never as HTML.

/** Create an element: el("td", {class: "n"}, "text", childNode, ...). `null` children are skipped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const number = (n) => Number(n).toLocaleString("en");

/** "2023-04-02 03:15 UTC" from an ISO time. */
export function utc(iso) {
  return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?(Z|\+00:00)$/, " UTC") : "unknown";
}

/** "YYYY-MM-DD" of a Date (UTC). */
export const isoDay = (date) => date.toISOString().slice(0, 10);

/** A duration in seconds as the largest sensible unit: "± 12 h", "± 40 s". */
export function duration(seconds) {
  if (seconds >= 86400) return `${(seconds / 86400).toFixed(1)} days`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 60) return `${(seconds / 60).toFixed(1)} min`;
  return `${seconds.toFixed(0)} s`;
}

/** A distance in metres: "850 m", "12.4 km". */
export function metres(m) {
  return m >= 1000 ? `${(m / 1000).toFixed(m >= 10000 ? 0 : 1)} km` : `${Math.round(m)} m`;
}

// NATO Admiralty code (STANAG 2511): source reliability A–F, information credibility 1–6.
const RELIABILITY = {
  A: "completely reliable", B: "usually reliable", C: "fairly reliable",
  D: "not usually reliable", E: "unreliable", F: "reliability cannot be judged",
};
const CREDIBILITY = {
  1: "confirmed by other sources", 2: "probably true", 3: "possibly true",
  4: "doubtful", 5: "improbable", 6: "truth cannot be judged",
};

/** "B2: source usually reliable, information probably true". */
export function grade(reliability, credibility) {
  return `${reliability}${credibility}: source ${RELIABILITY[reliability] || "?"}, information ${CREDIBILITY[credibility] || "?"}`;
}

/** Corroboration of an incident explained in words (see truceline.fuse.corroboration). */
export function corroborationText(p) {
  const groups = p.source_groups || [];
  const n = p.independent_sources;
  if (n <= 1) {
    return `One independent source group${groups.length ? ` (${groups[0]})` : ""}: nothing confirms it yet, so its corroboration score is 0.`;
  }
  return `${n} independent source groups (${groups.join(", ")}) — sources count as independent when they differ in organisation or sensor type. ` +
    `Corroboration ${p.corroboration.toFixed(2)}: how strongly the groups other than the strongest confirm it (0 none, 1 certain), weighted by their Admiralty grades.`;
}

/** Attribution of a violation in words. */
export function attributionText(v) {
  if (v.party === "undetermined") {
    return `Party undetermined (method: ${v.attribution_method}): the evidence does not say who acted, and truceline does not guess.`;
  }
  const probs = Object.entries(v.probabilities || {})
    .map(([party, p]) => `${party} ${(p * 100).toFixed(1)} %`).join(", ");
  return `Held responsible: ${v.party}, confidence ${(v.confidence * 100).toFixed(1)} % (method: ${v.attribution_method}${probs ? `; ${probs}` : ""}).`;
}
