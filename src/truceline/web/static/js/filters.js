// Filtering incidents by time and by facets (kind, status, party, source type, organisation), and the
// counts shown beside each choice. Facets keep the set of *excluded* values, so a value that first
// appears live (a new organisation, say) is shown rather than silently hidden.

const DAY_MS = 86400000;

/** Source groups are "ORG/type" (see truceline.fuse.corroboration); an incident may have several. */
const groupParts = (incident, index) =>
  [...new Set((incident.properties.source_groups || []).map((g) => g.split("/")[index] || "?"))];

export const FACETS = [
  { name: "status", label: "Status", values: (i) => [i.properties.status] },
  { name: "kind", label: "Kind", values: (i) => [i.properties.kind] },
  { name: "party", label: "Party held responsible", values: (i) => [i.party] },
  { name: "source_type", label: "Source type", values: (i) => groupParts(i, 1) },
  { name: "org", label: "Organisation", values: (i) => groupParts(i, 0) },
];

export function emptyFilters() {
  return { excluded: Object.fromEntries(FACETS.map((f) => [f.name, new Set()])), from: -Infinity, to: Infinity };
}

const passesFacet = (facet, incident, excluded) => facet.values(incident).some((v) => !excluded.has(v));
const inTime = (incident, filters) => incident.t >= filters.from && incident.t < filters.to;

/**
 * One pass over the incidents: those passing every filter, and per facet the count of each value among
 * incidents passing the time filter and every *other* facet (so a count says what ticking it would add).
 */
export function applyFilters(incidents, filters) {
  const shown = [];
  const counts = Object.fromEntries(FACETS.map((f) => [f.name, new Map()]));
  for (const incident of incidents) {
    if (!inTime(incident, filters)) continue;
    const passes = FACETS.map((f) => passesFacet(f, incident, filters.excluded[f.name]));
    const failing = passes.filter((ok) => !ok).length;
    if (failing === 0) shown.push(incident);
    FACETS.forEach((facet, k) => {
      if (failing === 0 || (failing === 1 && !passes[k])) {
        const bucket = counts[facet.name];
        for (const value of facet.values(incident)) bucket.set(value, (bucket.get(value) || 0) + 1);
      }
    });
  }
  return { shown, counts };
}

/** Every value each facet takes over all incidents (the choices to offer), sorted. */
export function facetValues(incidents) {
  const out = Object.fromEntries(FACETS.map((f) => [f.name, new Set()]));
  for (const incident of incidents) for (const f of FACETS) for (const v of f.values(incident)) out[f.name].add(v);
  return Object.fromEntries(Object.entries(out).map(([k, s]) => [k, [...s].sort()]));
}

/** UTC midnights from the first to the last incident's day (the slider's stops). */
export function dayStops(incidents) {
  if (!incidents.length) return [];
  let min = Infinity, max = -Infinity;
  for (const i of incidents) {
    if (i.t < min) min = i.t;
    if (i.t > max) max = i.t;
  }
  const first = Math.floor(min / DAY_MS) * DAY_MS;
  const last = Math.floor(max / DAY_MS) * DAY_MS;
  const stops = [];
  for (let t = first; t <= last; t += DAY_MS) stops.push(t);
  return stops;
}

/** [from, to) in ms for the day shown and a window of `days` ending with it ("all": from the start). */
export function timeRange(dayStart, windowDays) {
  const to = dayStart + DAY_MS;
  return { from: windowDays === "all" ? -Infinity : to - Number(windowDays) * DAY_MS, to };
}
