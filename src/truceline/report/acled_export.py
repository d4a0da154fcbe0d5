"""Incidents (and optionally violations) as ACLED-codebook CSV, so analysts can set them beside ACLED's data.

Each incident a reader may see becomes one row. The reader's view is the one ``GET /incidents`` gives
(:func:`~truceline.access.views.reader_view`, reviews applied), so an export reveals nothing the
reader could not read directly; of the reviews it carries the outcome and its note, never who reviewed or
why, whoever asks. The mapping (docs/formats.md) states truceline's uncertainty in ACLED's
terms rather than inventing detail ACLED rows usually have:

* ``geo_precision`` from the 1-σ radius: ≤ 2 km → 1, ≤ 8 km → 2, else 3; ``latitude``/``longitude`` to 5
  decimals; ``location`` is the coordinate pair; ``country`` and ``admin1`` (the oblast) come from the point
  (:mod:`truceline.report.acled_places`), ``admin2..3`` are empty.
* ``event_date`` is the UTC date; ``time_precision`` from the time uncertainty: ≤ 12 h → 1, ≤ 3.5 days → 2,
  else 3.
* ``event_type``/``sub_event_type`` from the kind (:data:`KIND_EVENT_TYPES`).
* ``actor1`` is the party held responsible by a violation when violations are included and the
  attribution is not ``undetermined``; ``notes`` give its confidence and basis. Otherwise it is the
  codebook's name for an actor nobody has identified, ``Unidentified Armed Group (<country>)``
  (:func:`unidentified_actor`); ``actor2`` is empty.
  Violations are those ``GET /violations`` and the daily report count: a dismissed incident has none.
* ``fatalities`` is 0: truceline does not count casualties; ``notes`` and ``tags`` carry the incident id,
  status, independent sources and corroboration.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

from truceline.access.policy import Principal
from truceline.access.views import MAX_INCIDENTS, reader_view, with_reviews
from truceline.domain.incident import Incident
from truceline.domain.review import violation_candidates
from truceline.domain.violation import LAUNCH_PHASE_KINDS, UNDETERMINED, Violation
from truceline.ingest.acled import REQUIRED_COLUMNS
from truceline.report.acled_places import acled_place
from truceline.store.ports import IncidentQuery

EXPORT_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "year", "country", "tags")
#: kind → (event_type, sub_event_type), the ACLED category nearest to what truceline observed.
KIND_EVENT_TYPES: dict[str, tuple[str, str]] = {
    "explosion": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "impact": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "launch": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "muzzle-flash": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "mine": ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
    "small-arms-fire": ("Battles", "Armed clash"),
    "damage": ("Strategic developments", "Looting/property destruction"),
    "troop-movement": ("Strategic developments", "Headquarters or base established"),
    "casualty-report": ("Violence against civilians", "Attack"),
}
_OTHER = ("Strategic developments", "Other")
EXACT_SIGMA_M = 2_000.0
NEAR_SIGMA_M = 8_000.0
DAY_S = 12 * 3600.0
WEEK_S = 3.5 * 86400.0


def unidentified_actor(country: str) -> str:
    """ACLED's name for an actor not identified, by the country of the event (e.g. ``Unidentified Armed Group (Ukraine)``)."""
    return f"Unidentified Armed Group ({country})" if country else "Unidentified Armed Group"


def geo_precision(sigma_m: float) -> int:
    """ACLED geo_precision for a 1-σ horizontal uncertainty."""
    return 1 if sigma_m <= EXACT_SIGMA_M else 2 if sigma_m <= NEAR_SIGMA_M else 3


def time_precision(uncertainty_s: float, at: datetime) -> int:
    """ACLED time_precision: 1 when the interval stays within the UTC day of ``at``, 2 within a week, else 3."""
    seconds_into_day = at.hour * 3600 + at.minute * 60 + at.second
    within_day = seconds_into_day - uncertainty_s >= 0 and seconds_into_day + uncertainty_s <= 86400
    return 1 if within_day or uncertainty_s <= 0 else 2 if uncertainty_s <= WEEK_S else 3


def incident_row(incident: Incident, review: dict[str, Any] | None = None, violations: Sequence[Violation] = ()) -> dict[str, str]:
    """One ACLED row for one incident (as the reader sees it) and the violations judged on it."""
    event_type, sub_event_type = KIND_EVENT_TYPES.get(incident.kind.value, _OTHER)
    when = incident.time
    responsible = [v for v in violations if v.party != UNDETERMINED]
    place = acled_place(incident.lat, incident.lon)
    summary = (
        f"truceline incident {incident.id}: {incident.kind.value}, {incident.status.value}; "
        f"{incident.independent_sources} independent source(s), corroboration {incident.corroboration:.2f}; "
        f"1-sigma {incident.sigma_m:.0f} m; time ±{incident.time_uncertainty_s:.0f} s"
    )
    notes = [summary]
    notes += [f"violation of rule {v.rule_id}: {v.party} held responsible, confidence {v.confidence:.2f} ({v.basis})" for v in violations]
    if review and review.get("note"):
        notes.append(str(review["note"]))
    return {
        "event_id_cnty": incident.id,
        "event_date": when.date().isoformat(),
        "event_type": event_type,
        "sub_event_type": sub_event_type,
        "actor1": responsible[0].party if responsible else unidentified_actor(place.country),
        "actor2": "",
        "admin1": place.admin1,
        "admin2": "",
        "admin3": "",
        "location": f"{incident.lat:.5f}, {incident.lon:.5f}",
        "latitude": f"{incident.lat:.5f}",
        "longitude": f"{incident.lon:.5f}",
        "geo_precision": str(geo_precision(incident.sigma_m)),
        "time_precision": str(time_precision(incident.time_uncertainty_s, when)),
        "source": "truceline",
        "notes": " | ".join(notes),
        "fatalities": "0",
        "year": str(when.year),
        "country": place.country,
        "tags": f"truceline kind={incident.kind.value}; status={incident.status.value}; sources={incident.independent_sources}",
    }


def write_acled_csv(rows: Iterable[dict[str, str]], out: TextIO) -> int:
    """Write the header and rows to a text stream; returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def gather_rows(
    store: Any,
    reader: Principal,
    since: datetime | None = None,
    until: datetime | None = None,
    in_force: Any | None = None,
) -> list[dict[str, str]]:
    """Rows for the incidents ``reader`` may see in [since, until); with violations when ``in_force`` is given.

    ``in_force`` is the agreement in force with its geometry (``AgreementHolder.get()``); violations are
    judged on the reader's view with reviews applied, exactly as ``GET /violations`` does.
    """
    incidents = reader_view(store, reader, store.list_incidents(IncidentQuery(since=since, until=until, limit=MAX_INCIDENTS)))
    items = with_reviews(store, incidents, with_reviewers=False)  # rows carry the review note, never who or why
    by_incident: dict[str, list[Violation]] = {}
    if in_force is not None:
        from truceline.verify.engagement import LINK_LOOKBACK_S
        from truceline.verify.rules import judge

        context: list[Incident] = []
        if since is not None:  # launches just before the window may have fired its first impacts
            earlier = [i for i in store.list_incidents(IncidentQuery(since=since - timedelta(seconds=LINK_LOOKBACK_S), until=since,
                                                                     limit=MAX_INCIDENTS)) if i.kind in LAUNCH_PHASE_KINDS]
            if earlier:
                seen = with_reviews(store, reader_view(store, reader, earlier), with_reviewers=False)
                context = [i for i in violation_candidates(i for i, _ in seen) if i.kind in LAUNCH_PHASE_KINDS]
        for violation in judge(in_force.agreement, in_force.geometry, violation_candidates(i for i, _ in items), context):
            by_incident.setdefault(violation.incident_id, []).append(violation)
    return [incident_row(i, review, by_incident.get(i.id, ())) for i, review in items]


def acled_csv(rows: Iterable[dict[str, str]]) -> str:
    """The CSV text of ``rows`` (for HTTP responses)."""
    out = io.StringIO()
    write_acled_csv(rows, out)
    return out.getvalue()
