"""``/api/v1/incidents``: fused incidents as GeoJSON, each reader's view computed from what it may read.

Which incidents a reader sees, and how, is decided by :mod:`truceline.access.views` (shared with the
reports and exports): an incident resting partly on observations the reader may not read is fused again
from the readable ones only; one resting on none does not exist for that reader.

Reviews are applied with the two-person rule (``domain/review.py``), counting only the decisions of
keys with review authority (``access.policy.decision_authority``: analysts of COALITION organisations and
the admin); only such keys may post a review (``review_authority``; anyone else gets 403 and nothing is
stored). Who reviewed and why (analysts' key ids, organisations, reasons, ledger salts, whether each
decision counts) is shown to coalition staff only (``access.policy.is_coalition_staff``); every other
reader gets the outcome, the time of the last decision and a note that names no one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal, is_coalition_staff, review_authority
from truceline.access.views import MAX_INCIDENTS, reader_view, with_reviews
from truceline.api.auth import require
from truceline.api.routes_observations import json_response, parse_bbox
from truceline.domain.incident import Incident, IncidentStatus, base_incident_id
from truceline.domain.review import Decision
from truceline.domain.strict import PlainInt
from truceline.service.fusion import incident_feature
from truceline.store.ports import IncidentQuery

router = APIRouter(prefix="/api/v1", tags=["incidents"])
def _feature(incident: Incident, review: dict[str, Any]) -> dict[str, Any]:
    feature = incident_feature(incident)
    feature["properties"]["review"] = review
    return feature


def _feature_collection(items: list[tuple[Incident, dict[str, Any]]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [_feature(i, r) for i, r in items]}


@router.get("/incidents", summary="Incidents as a GeoJSON FeatureCollection, in time order")
async def list_incidents(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    since: Annotated[datetime | None, Query(description="inclusive lower bound on incident time")] = None,
    until: Annotated[datetime | None, Query(description="exclusive upper bound on incident time")] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    status_: Annotated[list[IncidentStatus] | None, Query(alias="status")] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=MAX_INCIDENTS)] = 1000,
) -> Response:
    """Each feature lists its supporting observation ids, independent sources, corroboration and uncertainty."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must carry a UTC offset")
    wanted = {s for s in status_ or ()}
    # Status depends on reviews as well as on fusion, so it is filtered after both are applied.
    query = IncidentQuery(
        since=since, until=until, bbox=parse_bbox(bbox) if bbox else None, limit=MAX_INCIDENTS if wanted else limit
    )

    def load() -> list[tuple[Incident, dict[str, Any]]]:
        store = request.app.state.store
        items = with_reviews(store, reader_view(store, principal, store.list_incidents(query)), with_reviewers=is_coalition_staff(principal))
        return [(i, r) for i, r in items if not wanted or i.status in wanted][:limit]

    return json_response(_feature_collection(await run_in_threadpool(load)))


@router.get("/incidents/{incident_id}", summary="One incident as a GeoJSON Feature")
async def get_incident(
    request: Request, incident_id: str, principal: Annotated[Principal, Depends(require(Permission.READ))]
) -> Response:
    """404 when unknown or resting on nothing the caller may read."""

    found = await run_in_threadpool(_visible, request, principal, incident_id)
    if len(found) > 1:
        return json_response(_feature_collection(found))
    return json_response(_feature(*found[0]))


def _visible(request: Request, principal: Principal, incident_id: str) -> list[tuple[Incident, dict[str, Any]]]:
    store = request.app.state.store
    found = with_reviews(
        store,
        reader_view(store, principal, store.list_incidents(IncidentQuery(ids=(incident_id,), limit=1))),
        with_reviewers=is_coalition_staff(principal),
    )
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident with id {incident_id!r}")
    return found


class ReviewRequest(BaseModel):
    """One analyst's decision; a dismissal needs a reason others can read."""

    model_config = ConfigDict(extra="forbid")
    decision: Decision
    reason: Annotated[str, Field(max_length=4000)] = ""

    @model_validator(mode="after")
    def _reason_for_dismissal(self) -> ReviewRequest:
        if self.decision is Decision.DISMISS and len(self.reason.strip()) < 3:
            raise ValueError("a dismissal needs a reason (at least 3 characters)")
        return self


@router.post("/incidents/{incident_id}/review", summary="Verify, dismiss or reopen an incident (coalition analysts)")
async def review(
    request: Request,
    incident_id: str,
    body: ReviewRequest,
    principal: Annotated[Principal, Depends(require(Permission.REVIEW))],
) -> Response:
    """Record the decision (a ledger leaf); verified needs two different analysts (two-person rule).

    Only analysts of COALITION organisations and the admin key may review: an analyst of any other
    organisation (a party's) gets 403 naming its organisation and role, and nothing is stored.
    """
    authority = review_authority(principal)
    if not authority.allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, authority.detail)

    # A partial view (inc-….2) is reviewed as the incident it belongs to: the decision is about the event.
    view_id, incident_id = incident_id, base_incident_id(incident_id)

    def act() -> dict[str, Any]:
        _visible(request, principal, incident_id)  # 404 unless the analyst may see some of it
        store = request.app.state.store
        record = store.add_review(incident_id, body.decision.value, body.reason, principal.key_id, principal.org)
        views = _visible(request, principal, incident_id)
        incident, summary = next(((i, s) for i, s in views if i.id == view_id), views[0])
        # The stream reaches every reader of the evidence, staff or not: it carries the whole incident (not
        # this analyst's view, which may be partial) with the outcome only; staff pages fetch it again to see
        # who decided and why, and partial readers re-fetch their own view.
        ((whole, outcome),) = with_reviews(store, store.list_incidents(IncidentQuery(ids=(incident_id,), limit=1)), with_reviewers=False)
        request.app.state.fusion.announce_review(incident_id, _feature(whole, outcome))
        return {"recorded": record, "incident": _feature(incident, summary)}

    return json_response(await run_in_threadpool(act), 201)


@router.get(
    "/exports/acled",
    summary="Incidents as ACLED-codebook CSV (one row per incident the caller may see)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "ACLED codebook columns; see docs/formats.md"}},
)
async def export_acled(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    since: Annotated[datetime | None, Query(description="inclusive lower bound on incident time")] = None,
    until: Annotated[datetime | None, Query(description="exclusive upper bound on incident time")] = None,
    violations: Annotated[bool, Query(description="judge against the agreement in force; responsible party as actor1")] = False,
) -> Response:
    """The same reader's view as ``GET /incidents``, in the columns ACLED users' tools read."""
    from truceline.report.acled_export import acled_csv, gather_rows

    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must carry a UTC offset")

    def load() -> str:
        in_force = request.app.state.agreement.get() if violations else None
        if violations and in_force is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no agreement in force to judge violations against")
        return acled_csv(gather_rows(request.app.state.store, principal, since, until, in_force))

    body = await run_in_threadpool(load)
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="truceline-acled.csv"'})
