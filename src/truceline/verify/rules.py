"""The violation engine: incidents × the agreement's rules → violations, each with its attribution.

A rule is broken by an incident when the incident happened at or after ``effective_from``, is of one of
the rule's kinds, lies in one of its zones (or anywhere), meets the zone's conditions (the weapon class of a
withdrawal zone, the altitude band of a no-fly zone) and no exception of the rule applies (e.g. a demining
explosion notified in advance). ``judge`` is a pure function of its inputs: the same incidents under the
same agreement version give the same violations, ids included.

An impact without an origin of its own is linked to the launch-phase incidents of the same batch that may
have fired it (``verify.engagement``); its party is then the launches' side weighted by the link
probability, and an impact no launch explains stays undetermined. So the batch should hold the minutes
before its first impact: callers pass earlier incidents as ``context`` (linked to, never judged).

An incident that breaks a rule but matches one of the agreement's ``notifications`` (a party announced the
activity in advance: its kind, inside its circle, during its window) is *excused*: :func:`judge_all` returns it
apart from the violations, with ``excused_by`` set and the notification named in its basis; :func:`judge`
returns only the violations, so every count of violations leaves excused acts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from truceline.domain.agreement import Agreement, Notification, Rule, Zone, ZoneKind
from truceline.domain.geo import geodesic_distance
from truceline.domain.strict import parse_decimal
from truceline.domain.violation import LAUNCH_PHASE_KINDS, Attribution, AttributionMethod, Engagement, JudgedEvent, Violation
from truceline.verify.attribution import attribute_many
from truceline.verify.engagement import ImpactLinks, attribute_by_link, engagement, link_impacts
from truceline.verify.geometry import AgreementGeometry, Located

#: Incident attribute naming the weapon class of sighted equipment (matched against withdrawal zones).
WEAPON_CLASS = "weapon_class"
#: Incident attribute with the altitude in metres above mean sea level (for no-fly zones).
ALTITUDE = "alt_m"
#: A launch's violation lists the impacts linked to it at least this probably (an impact lists all its candidates).
SHOWN_LINK_PROBABILITY = 0.5


def as_event(item: JudgedEvent | Any) -> JudgedEvent:
    """Accept a :class:`JudgedEvent` or anything shaped like ``truceline.domain.incident.Incident``."""
    return item if isinstance(item, JudgedEvent) else JudgedEvent.from_incident(item)


def zone_conditions(zone: Zone, event: JudgedEvent) -> tuple[bool, str]:
    """Whether the event meets the zone's extra conditions, and a note for the basis."""
    if zone.kind is ZoneKind.WITHDRAWAL:
        declared = event.attributes.get(WEAPON_CLASS, "").strip().lower()
        if declared != zone.weapon_class:
            return False, ""
        return True, f"{zone.weapon_class} equipment inside its {zone.distance_m / 1e3:g} km withdrawal zone" if zone.distance_m else ""
    if zone.kind is ZoneKind.NO_FLY and zone.altitude is not None:
        raw = event.attributes.get(ALTITUDE)
        if raw is None:
            return True, f"inside no-fly zone {zone.id} (altitude not reported; the zone applies from {zone.altitude.min_m:g} to {zone.altitude.max_m:g} m)"
        try:
            alt = parse_decimal(raw)  # not float(): "nan" would put every altitude outside the band, "١٠٠" read as 100
        except ValueError:
            return True, f"inside no-fly zone {zone.id} (altitude {raw!r} unreadable, treated as unknown)"
        if not (zone.altitude.min_m <= alt <= zone.altitude.max_m):
            return False, ""
        return True, f"inside no-fly zone {zone.id} at {alt:g} m (band {zone.altitude.min_m:g}–{zone.altitude.max_m:g} m)"
    return True, f"inside zone {zone.id}"


def rule_applies(rule: Rule, agreement: Agreement, event: JudgedEvent, zones_here: Sequence[str]) -> tuple[bool, str]:
    """Whether ``event`` breaks ``rule`` (location already resolved to ``zones_here``), with the reason."""
    if event.time < agreement.effective_from:
        return False, "before effective_from"
    if event.kind not in rule.kinds:
        return False, "kind not covered"
    for exception in rule.exceptions:
        if exception.applies(event.attributes):
            return False, f"exception {exception.id}"
    if rule.where == "anywhere":
        return True, "anywhere"
    notes = []
    for zone_id in rule.where:
        if zone_id not in zones_here:
            continue
        ok, note = zone_conditions(agreement.zone(zone_id), event)
        if ok:
            notes.append(note)
    if not notes:
        return False, "not in the rule's zones"
    return True, "; ".join(notes)


def notification_for(agreement: Agreement, rule: Rule, event: JudgedEvent) -> tuple[Notification, float] | None:
    """The first notification that excuses ``event`` under ``rule``, with the event's distance from its centre.

    The estimated time and position must lie inside the notified window and circle: a notice covers what it
    announced, not whatever happened nearby, and the estimate is what the evidence says happened.
    """
    for notice in agreement.notifications:
        if rule.id not in notice.rules or event.kind not in notice.kinds or not notice.starts <= event.time <= notice.ends:
            continue
        distance = float(geodesic_distance(notice.lon, notice.lat, event.lon, event.lat))
        if distance <= notice.radius_m:
            return notice, distance
    return None


def judge(agreement: Agreement, geometry: AgreementGeometry, incidents: Iterable[JudgedEvent | Any],
          context: Iterable[JudgedEvent | Any] = ()) -> list[Violation]:
    """Violations of ``agreement`` by the incidents, in input order then rule order (excused acts left out).

    ``geometry`` must be the geometry of this very agreement (``geometry_for(agreement)``). ``context`` holds
    incidents that are not judged but whose launches may have fired the judged impacts (the minutes before a
    page or a day starts); one with the id of a judged incident is ignored.
    """
    return judge_all(agreement, geometry, incidents, context)[0]


def judge_all(agreement: Agreement, geometry: AgreementGeometry, incidents: Iterable[JudgedEvent | Any],
              context: Iterable[JudgedEvent | Any] = ()) -> tuple[list[Violation], list[Violation]]:
    """(violations, excused): every incident × rule broken, split by whether a notification excuses it.

    An excused act keeps its evidence-based attribution (who the evidence says acted) beside the notice.
    """
    if geometry.agreement.digest() != agreement.digest():
        raise ValueError("geometry was built for a different agreement version")
    events = [as_event(item) for item in incidents]
    if not events:
        return [], []
    judged_ids = {e.id for e in events}
    n_judged = len(events)
    events += [e for e in (as_event(item) for item in context) if e.id not in judged_ids]
    located: Located = geometry.locate_many([e.lat for e in events], [e.lon for e in events], exact=True)
    # First every (event, rule) that applies, then all attributions in one batch: per-event geometry calls
    # were ~90% of the cost of judging a week of incidents (see verify/attribution.py).
    broken: list[tuple[int, Rule, str, list[str]]] = []
    wanted: dict[tuple[int, Literal["origin", "location"]], int] = {}
    for i, event in enumerate(events[:n_judged]):
        zones_here = located.zones_of(i)
        for rule in agreement.rules:
            applies, why = rule_applies(rule, agreement, event, zones_here)
            if applies:
                broken.append((i, rule, why, zones_here))
                wanted.setdefault((i, rule.attribution), len(wanted))
    # Impacts without an origin of their own are linked to the launches that may have fired them; each
    # candidate launch is attributed by its firing point in the same batch (verify/engagement.py).
    links: dict[int, ImpactLinks] = {}
    if any(e.kind in LAUNCH_PHASE_KINDS for e in events):
        links = link_impacts(events, sorted({i for i, _, _, _ in broken}), [located.controlled_by(i) for i in range(len(events))])
    for found in links.values():
        for cand in found.candidates:
            wanted.setdefault((cand.launch, "origin"), len(wanted))
    attributions: list[Attribution] = attribute_many([(events[i], how) for (i, how) in wanted], geometry, agreement.attribution)
    fired: dict[int, list[Engagement]] = {}
    for i, found in links.items():
        for cand in found.candidates:
            if cand.probability >= SHOWN_LINK_PROBABILITY:
                fired.setdefault(cand.launch, []).append(engagement(events, i, cand))
    violations: list[Violation] = []
    excused: list[Violation] = []
    for i, rule, why, zones_here in broken:
        event = events[i]
        attribution = attributions[wanted[(i, rule.attribution)]]
        link = links.get(i)
        engagements = tuple(fired.get(i, ()))
        if link is not None:
            engagements = tuple(engagement(events, i, c) for c in link.candidates)
            if rule.attribution == "origin" and attribution.method is AttributionMethod.NO_ORIGIN:
                sides = [attributions[wanted[(c.launch, "origin")]] for c in link.candidates]
                attribution = attribute_by_link(events, link, sides, agreement.attribution)
        place = located.controlled_by(i)
        distance = float(located.distance_m[i])
        where = "the rule applies anywhere" if why == "anywhere" else why
        basis = (f"Rule {rule.id} ({rule.description or 'no description'}): {event.kind.value} at "
                 f"{event.time.isoformat()} — on or after {agreement.effective_from.isoformat()} — at {event.lat:.5f} N, "
                 f"{event.lon:.5f} E on {('ground controlled by ' + place) if place else 'ground of no party'}, "
                 f"{distance / 1e3:,.2f} km from the line of contact; {where}. {attribution.basis}")
        marked = event.attributes.get("simulated")
        simulated: Literal["true", "partly"] | None = "true" if marked == "true" else "partly" if marked == "partly" else None
        if simulated is not None:
            basis = f"SIMULATED ({'all' if simulated == 'true' else 'part'} of the evidence comes from a simulation). {basis}"
        notice = notification_for(agreement, rule, event)
        if notice is not None:
            n, off = notice
            basis = (f"Excused by notification {n.id}: {n.party} announced {n.activity} "
                     f"({n.description or 'no description'}) from {n.starts.isoformat()} until {n.ends.isoformat()} within "
                     f"{n.radius_m / 1e3:g} km of {n.lat:.5f} N, {n.lon:.5f} E; this {event.kind.value} lies {off / 1e3:,.2f} km "
                     f"from that point within the window. Otherwise: {basis}")
        (excused if notice is not None else violations).append(Violation(
            id=f"{agreement.id}/v{agreement.version}/{rule.id}/{event.id}",
            incident_id=event.id,
            rule_id=rule.id,
            agreement_id=agreement.id,
            agreement_version=agreement.version,
            time=event.time,
            kind=event.kind,
            lat=event.lat,
            lon=event.lon,
            zones=tuple(zones_here),
            controlled_by=place,
            distance_to_contact_line_m=distance,
            party=attribution.party,
            confidence=attribution.confidence,
            basis=basis,
            probabilities=attribution.probabilities,
            attribution_method=attribution.method,
            engagements=engagements,
            excused_by=notice[0].id if notice is not None else None,
            simulated=simulated,
        ))
    return violations, excused
