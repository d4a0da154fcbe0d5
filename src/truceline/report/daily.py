"""The facts of one day's report, gathered from the store for one reader and judged against the agreement.

Everything a report shows comes from :class:`DailyReport`, built here and nowhere else, so HTML, Markdown,
PDF and the HTTP endpoint cannot disagree. Incidents are taken as the reader may see them (re-fused from
readable evidence by :func:`~truceline.access.views.reader_view`), reviews applied with the two-person
rule, and violations judged with :func:`~truceline.verify.rules.judge` on
:func:`~truceline.domain.review.violation_candidates` exactly as ``GET /violations`` does, so incidents
analysts dismissed are not counted by either. Days are UTC calendar days.

The I/O is in :func:`gather_daily` (store reads and one checkpoint); :func:`summarise` is pure.
"""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from truceline.access.policy import Principal
from truceline.access.views import reader_view, with_reviews
from truceline.domain.agreement import UNDETERMINED, Agreement
from truceline.domain.incident import Incident, IncidentStatus
from truceline.domain.review import ReviewStatus, violation_candidates
from truceline.domain.violation import AttributionMethod, Violation
from truceline.ledger.checkpoint import SignedCheckpoint
from truceline.ledger.commitment import commitment
from truceline.report.airsea import gather_airsea
from truceline.report.sectors import SectorIndex
from truceline.store.ports import IncidentQuery, StoredObservation
from truceline.verify.geometry import AgreementGeometry
from truceline.verify.rules import judge_all

#: Days before the report day in the comparison.
HISTORY_DAYS = 7
#: Incidents singled out with their evidence.
NOTABLE_LIMIT = 8
#: Launch-to-impact links drawn on the day's map from this link probability up.
MAP_LINK_PROBABILITY = 0.5
#: Evidence items listed per notable incident (the rest are counted).
EVIDENCE_LIMIT = 20
#: Unverified incidents listed one by one (all are counted).
UNVERIFIED_LIMIT = 30
#: Upper bound on incidents read for the eight days; beyond it the report says it is incomplete.
MAX_INCIDENTS = 1_000_000

_STATUS_RANK = {IncidentStatus.VERIFIED: 0, IncidentStatus.CORROBORATED: 1, IncidentStatus.DETECTED: 2, IncidentStatus.DISMISSED: 3}


class ReportSource(Protocol):
    """What the report reads from a store (the SQLite store implements it)."""

    def list_incidents(self, query: IncidentQuery) -> list[Incident]: ...

    def member_documents(self, incident_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]: ...

    def reviews(self, incident_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]: ...

    def get_observation(
        self, observation_id: str, reader: Principal | None = None, org: str | None = None
    ) -> StoredObservation | None: ...


@dataclass(frozen=True)
class LedgerRef:
    """The signed checkpoint a report was made against: every leaf index it cites is below ``size``."""

    origin: str
    size: int
    root_b64: str
    note: str
    verifier_key: str

    @classmethod
    def from_signed(cls, signed: SignedCheckpoint, verifier_key: str) -> LedgerRef:
        """From the store's latest signed checkpoint and the data dir's public key."""
        return cls(signed.origin, signed.size, base64.b64encode(signed.root).decode(), signed.note, verifier_key)


@dataclass(frozen=True)
class Scope:
    """What the report covers and under which terms."""

    day: date
    audience: str
    reader_labels: tuple[str, ...]
    generated_at: datetime
    agreement_id: str
    agreement_version: int
    agreement_title: str
    agreement_digest: str
    effective_from: datetime
    parties: tuple[tuple[str, str], ...]  # (code, name)
    min_confidence: float
    samples: int


@dataclass(frozen=True)
class Breakdown:
    """Violations of one group (a sector, a kind, a day) per party held responsible."""

    label: str
    by_party: dict[str, int]
    total: int


@dataclass(frozen=True)
class PartyTally:
    """Violations a party is held responsible for on the day, and how sure the attributions are."""

    party: str
    name: str
    violations: int
    incidents: int
    mean_confidence: float | None  # None when undetermined or no violation
    min_confidence: float | None


@dataclass(frozen=True)
class Evidence:
    """One supporting observation and where its commitment sits in the ledger."""

    observation_id: str
    time: str
    kind: str
    source_type: str
    org: str
    grading: str  # Admiralty code, e.g. "B2"
    ledger_index: int | None
    salt_b64: str | None
    commitment: str | None


@dataclass(frozen=True)
class NotableIncident:
    """An incident singled out, with every verdict on it and the evidence behind it."""

    incident: Incident
    sector: str
    review_note: str
    violations: tuple[Violation, ...]
    evidence: tuple[Evidence, ...]
    evidence_omitted: int


@dataclass(frozen=True)
class Unverified:
    """An incident of the day that could not be verified or attributed, and why."""

    incident_id: str
    time: datetime
    kind: str
    sector: str
    status: str
    reasons: tuple[str, ...]  # keys of UNVERIFIED_REASONS
    details: tuple[str, ...]


#: Why an incident counts as unverified, in words for the report.
UNVERIFIED_REASONS: dict[str, str] = {
    "single-source": "rests on one independent source only; fusion found no corroboration",
    "no-origin": "a violation whose origin is unknown: where it was seen does not show who acted",
    "below-threshold": "a violation whose origin lies too close to the line: no party reaches the agreed confidence",
    "uncertain-link": "an impact whose candidate launches do not settle who fired (a weak link, or launches from both sides fit)",
    "review-open": "analysts have not concluded (one verification so far, or analysts disagree)",
    "dismissed": "dismissed by analysts; not counted as a violation",
}


@dataclass(frozen=True)
class MapPoint:
    """One incident on the day's map."""

    lat: float
    lon: float
    status: str
    party: str | None  # party held responsible when it is a violation, else None


@dataclass(frozen=True)
class MapEngagement:
    """One shot on the day's map: launch and impact joined, coloured by the party its impact names."""

    launch_lat: float
    launch_lon: float
    impact_lat: float
    impact_lon: float
    party: str
    probability: float


@dataclass(frozen=True)
class DailyReport:
    """Everything one edition of one day's report states."""

    scope: Scope
    ledger: LedgerRef
    incidents: int
    incidents_by_status: dict[str, int]
    violations: int
    violating_incidents: int
    by_party: tuple[PartyTally, ...]
    by_sector: tuple[Breakdown, ...]
    by_kind: tuple[Breakdown, ...]
    trend: tuple[Breakdown, ...]  # HISTORY_DAYS + 1 days, oldest first, the report day last
    notable: tuple[NotableIncident, ...]
    unverified: tuple[Unverified, ...]
    unverified_counts: dict[str, int]
    points: tuple[MapPoint, ...]
    truncated: bool = False
    party_order: tuple[str, ...] = field(default=())
    engagements: tuple[MapEngagement, ...] = ()  # launch-to-impact links (≥ 0.5) of the day's impacts
    simulated_violations: int = 0  # of the day's violations, those resting wholly or partly on simulated observations
    excused: tuple[Violation, ...] = ()  # acts of the day a notification of the agreement excuses
    airsea: Any = None  # report.airsea.AirSea: the "Airspace and sea lanes" section, when the store has tracks

    @property
    def previous_mean(self) -> dict[str, float]:
        """Mean violations per day and party over the days before the report day."""
        history = self.trend[:-1]
        if not history:
            return {}
        means = {p: sum(d.by_party.get(p, 0) for d in history) / len(history) for p in self.party_order}
        means["total"] = sum(d.total for d in history) / len(history)
        return means


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a UTC calendar day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def scope_for(agreement: Agreement, day: date, audience: str, reader: Principal, generated_at: datetime) -> Scope:
    """The scope block of a report."""
    return Scope(
        day=day,
        audience=audience,
        reader_labels=tuple(sorted(reader.labels)),
        generated_at=generated_at,
        agreement_id=agreement.id,
        agreement_version=agreement.version,
        agreement_title=agreement.title,
        agreement_digest=agreement.digest(),
        effective_from=agreement.effective_from,
        parties=tuple((p.code, p.name) for p in agreement.parties),
        min_confidence=agreement.attribution.min_confidence,
        samples=agreement.attribution.samples,
    )


def gather_daily(
    store: ReportSource,
    agreement: Agreement,
    geometry: AgreementGeometry,
    sectors: SectorIndex,
    reader: Principal,
    day: date,
    audience: str,
    sign_checkpoint: Callable[[], LedgerRef],
    generated_at: datetime | None = None,
) -> DailyReport:
    """Read, judge and summarise one day for ``reader``; the checkpoint is signed after every read.

    Signing last means every ledger index the report cites lies inside the checkpoint it names.
    """
    start, end = day_bounds(day)
    since = start - timedelta(days=HISTORY_DAYS)
    raw = store.list_incidents(IncidentQuery(since=since, until=end, limit=MAX_INCIDENTS))
    truncated = len(raw) >= MAX_INCIDENTS
    # The edition renders its own subset of the decisions (reasons in the coalition edition, never who).
    items = with_reviews(store, edition_status(reader_view(store, reader, raw)), with_reviewers=True)
    violations, excused = judge_all(agreement, geometry, violation_candidates(i for i, _ in items))
    report = summarise(
        scope_for(agreement, day, audience, reader, generated_at or datetime.now(UTC)),
        items,
        violations,
        sectors,
        include_review_reasons=audience != "public",
        excused=excused,
    )
    notable = tuple(
        NotableIncident(n.incident, n.sector, n.review_note, n.violations, *_evidence(store, reader, n.incident))
        for n in report.notable
    )
    airsea = gather_airsea(store, agreement, day) if hasattr(store, "_reader") else None
    return replace(report, notable=notable, ledger=sign_checkpoint(), truncated=truncated, airsea=airsea)


def edition_status(incidents: Iterable[Incident]) -> list[Incident]:
    """Fusion's status as this edition's evidence supports it.

    A re-fused view keeps the status fusion published from all the evidence; "corroborated" resting on
    fewer than two independent sources the edition may show would reveal the hidden ones, so it reads
    "detected" here. Analysts' decisions (verified, dismissed) stand: they are applied afterwards.
    """
    return [
        i.model_copy(update={"status": IncidentStatus.DETECTED})
        if i.status is IncidentStatus.CORROBORATED and i.independent_sources < 2 else i
        for i in incidents
    ]


def _evidence(store: ReportSource, reader: Principal, incident: Incident) -> tuple[tuple[Evidence, ...], int]:
    """The incident's observations with their ledger references, as the reader may read them."""
    out: list[Evidence] = []
    for org, observation_id in incident.observation_refs()[:EVIDENCE_LIMIT]:
        stored = store.get_observation(observation_id, reader, org)
        if stored is None:  # re-fused views name only readable observations; a vanished one is skipped
            continue
        doc = stored.document
        salt = stored.ledger_salt
        out.append(Evidence(
            observation_id=stored.id,
            time=str(doc.get("time", "")),
            kind=str(doc.get("kind", "")),
            source_type=str(doc.get("source", {}).get("type", "")),
            org=str(doc.get("source", {}).get("org", "")),
            grading=f"{doc.get('reliability', '?')}{doc.get('credibility', '?')}",
            ledger_index=stored.ledger_index,
            salt_b64=None if salt is None else base64.b64encode(salt).decode(),
            commitment=None if salt is None else commitment(salt, doc),
        ))
    return tuple(out), max(0, len(incident.observation_ids) - EVIDENCE_LIMIT)


def _breakdowns(keys: Iterable[tuple[str, str]], order: Sequence[str] | None = None) -> tuple[Breakdown, ...]:
    """(label, party) pairs → one Breakdown per label, most violations first unless ``order`` is given."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for label, party in keys:
        counts[label][party] += 1
    labels = list(order) if order is not None else sorted(counts, key=lambda k: (-sum(counts[k].values()), k))
    return tuple(Breakdown(label, dict(counts.get(label, Counter())), sum(counts.get(label, Counter()).values())) for label in labels)


def summarise(
    scope: Scope,
    items: Sequence[tuple[Incident, dict[str, Any]]],
    violations: Sequence[Violation],
    sectors: SectorIndex,
    *,
    include_review_reasons: bool,
    excused: Sequence[Violation] = (),
) -> DailyReport:
    """The report's figures from the reader's incidents (with reviews) and their violations; pure.

    ``excused``: acts a notification excuses (``verify.rules.judge_all``), listed apart, never counted.
    """
    start, end = day_bounds(scope.day)
    today = [(i, r) for i, r in items if start <= i.time < end]
    incident_sector = dict(zip((i.id for i, _ in today), sectors.sectors_of([i.lat for i, _ in today], [i.lon for i, _ in today]), strict=True))
    by_incident: dict[str, list[Violation]] = defaultdict(list)
    for v in violations:
        if start <= v.time < end:
            by_incident[v.incident_id].append(v)
    todays_violations = [v for vs in by_incident.values() for v in vs]
    party_order = tuple(code for code, _ in scope.parties) + (UNDETERMINED,)
    names = dict(scope.parties) | {UNDETERMINED: "party undetermined"}

    tallies = []
    for party in party_order:
        mine = [v for v in todays_violations if v.party == party]
        confidences = [v.confidence for v in mine] if party != UNDETERMINED else []
        tallies.append(PartyTally(
            party=party,
            name=names[party],
            violations=len(mine),
            incidents=len({v.incident_id for v in mine}),
            mean_confidence=sum(confidences) / len(confidences) if confidences else None,
            min_confidence=min(confidences) if confidences else None,
        ))

    days = [scope.day - timedelta(days=k) for k in range(HISTORY_DAYS, -1, -1)]
    trend = _breakdowns(((v.time.date().isoformat(), v.party) for v in violations), order=[d.isoformat() for d in days])

    ranked = sorted(
        (i for i, _ in today if i.id in by_incident),
        key=lambda i: (
            _STATUS_RANK[i.status],
            all(v.party == UNDETERMINED for v in by_incident[i.id]),
            -max(v.confidence for v in by_incident[i.id]),
            -i.independent_sources,
            -i.corroboration,
            i.time,
            i.id,
        ),
    )
    reviews = {i.id: r for i, r in today}
    notable = tuple(
        NotableIncident(i, incident_sector[i.id], str(reviews[i.id].get("note", "")), tuple(by_incident[i.id]), (), 0)
        for i in ranked[:NOTABLE_LIMIT]
    )

    unverified = [u for i, r in today if (u := _unverified(i, r, by_incident.get(i.id, []), incident_sector[i.id], include_review_reasons))]
    unverified_counts = Counter(reason for u in unverified for reason in u.reasons)

    points = tuple(
        MapPoint(i.lat, i.lon, i.status.value, by_incident[i.id][0].party if i.id in by_incident else None) for i, _ in today
    )
    return DailyReport(
        engagements=_engagements(todays_violations),
        scope=scope,
        ledger=LedgerRef("", 0, "", "", ""),
        incidents=len(today),
        incidents_by_status={s.value: n for s in IncidentStatus if (n := sum(1 for i, _ in today if i.status is s))},
        violations=len(todays_violations),
        violating_incidents=len(by_incident),
        by_party=tuple(tallies),
        by_sector=_breakdowns((incident_sector[v.incident_id], v.party) for v in todays_violations),
        by_kind=_breakdowns((v.kind.value, v.party) for v in todays_violations),
        trend=trend,
        notable=notable,
        unverified=tuple(sorted(unverified, key=lambda u: (u.time, u.incident_id))),
        unverified_counts={k: unverified_counts[k] for k in UNVERIFIED_REASONS if unverified_counts[k]},
        points=points,
        party_order=party_order,
        simulated_violations=sum(1 for v in todays_violations if v.simulated),
        excused=tuple(sorted((v for v in excused if start <= v.time < end), key=lambda v: (v.time, v.id))),
    )


def _engagements(violations: Sequence[Violation]) -> tuple[MapEngagement, ...]:
    """The probable launch-to-impact links of the day's impact violations, once each."""
    out: dict[tuple[str, str], MapEngagement] = {}
    for v in violations:
        for e in v.engagements:
            if e.impact_incident_id == v.incident_id and e.probability >= MAP_LINK_PROBABILITY:
                out.setdefault((e.launch_incident_id, e.impact_incident_id), MapEngagement(
                    e.launch_lat, e.launch_lon, e.impact_lat, e.impact_lon, v.party, e.probability))
    return tuple(out.values())


def _unverified(incident: Incident, review: dict[str, Any], violations: Sequence[Violation], sector: str,
                include_review_reasons: bool) -> Unverified | None:
    """Why the incident could not be verified or attributed, or None when nothing is open."""
    reasons: list[str] = []
    details: list[str] = []
    if incident.status is IncidentStatus.DISMISSED:
        reasons.append("dismissed")
        note = str(review.get("note", ""))
        if include_review_reasons:
            why = [str(d.get("reason", "")) for d in review.get("decisions", [])
                   if d.get("decision") == "dismiss" and d.get("counted", True)]  # not a party analyst's
            note += (": " + "; ".join(w for w in why if w)) if any(why) else ""
        details.append(note)
    else:
        if incident.status is IncidentStatus.DETECTED and incident.independent_sources <= 1:
            reasons.append("single-source")
        if review.get("at") and review.get("status") == ReviewStatus.PENDING.value:
            reasons.append("review-open")
            # A verification set aside because its key was revoked as compromised: say so (staff editions).
            lost = [str(d["not_counted"]) for d in review.get("decisions", []) if include_review_reasons
                    and d.get("counted") is False and "compromised" in str(d.get("not_counted", ""))]
            details.append("; ".join([str(review.get("note", "")), *lost]))
        for v in violations:
            if v.party != UNDETERMINED:
                continue
            if v.attribution_method is AttributionMethod.NO_ORIGIN:
                reasons.append("no-origin")
            elif v.attribution_method is AttributionMethod.LAUNCH_LINK:
                reasons.append("uncertain-link")
                shares = ", ".join(f"{k} {p:.0%}" for k, p in sorted(v.probabilities.items(), key=lambda kv: -kv[1]) if p > 0)
                details.append(f"rule {v.rule_id}: {len(v.engagements)} candidate launch(es); shares {shares}")
            else:
                reasons.append("below-threshold")
                shares = ", ".join(f"{k} {p:.0%}" for k, p in sorted(v.probabilities.items(), key=lambda kv: -kv[1]) if p > 0)
                details.append(f"rule {v.rule_id}: origin shares {shares}")
    if not reasons:
        return None
    return Unverified(
        incident_id=incident.id,
        time=incident.time,
        kind=incident.kind.value,
        sector=sector,
        status=incident.status.value,
        reasons=tuple(dict.fromkeys(reasons)),
        details=tuple(d for d in details if d),
    )
