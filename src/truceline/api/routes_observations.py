"""``/api/v1/observations``: atomic, idempotent batch intake and reads."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal, may_write_for
from truceline.api.auth import require, require_key
from truceline.bus.ports import Bus, Event
from truceline.domain.observation import Observation
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.store.ports import AddResult, BBox, ObservationQuery, StoredObservation
from truceline.store.sqlite import StoreError

router = APIRouter(prefix="/api/v1", tags=["observations"], dependencies=[Depends(require_key)])

_MAX_ERRORS_LISTED = 1000
_REQUEST_SCHEMA = TypeAdapter(Observation | list[Observation]).json_schema(
    ref_template="#/components/schemas/{model}", mode="validation"
)


def json_response(payload: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON via orjson: several times faster than the default encoder on large pages."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it exceeds ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _ingest(request: Request, principal: Principal, items: list[Any]) -> AddResult | list[dict[str, Any]]:
    settings = request.app.state.settings
    observations, errors = validate_all_or_nothing(items, validation_context(datetime.now(timezone.utc), settings.clock_skew))
    if errors:
        return [error.as_dict() for error in errors]
    return store_batch(request, principal, observations)


def store_batch(request: Request, principal: Principal, observations: list[Observation]) -> AddResult:
    """Store validated observations atomically for ``principal`` (403 if any is not its organisation's),
    and announce the new ones to live readers. Shared by every route that accepts observations."""
    foreign = [(i, obs.source.org) for i, obs in enumerate(observations) if not may_write_for(principal, obs.source.org)]
    if foreign:
        listed = ", ".join(f"item {i} ({org})" for i, org in foreign[:20])
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a {principal.org} key may only submit observations whose source.org is {principal.org}: {listed}; nothing was stored",
        )
    result: AddResult = request.app.state.store.add_observations(observations)
    if result.stored:
        request.app.state.fusion.notify()
        if request.app.state.bus.has_subscribers:
            _announce(request.app.state.bus, observations, set(result.stored))
    return result


def _announce(bus: Bus, observations: list[Observation], stored: set[str]) -> None:
    """Publish each newly stored observation to live readers (each filtered later by releasability)."""
    for obs in observations:
        if obs.id in stored:
            stored.discard(obs.id)  # a batch may repeat an id; announce it once
            bus.publish(Event("observation", obs.model_dump(mode="json", exclude_none=True), obs.source.org, tuple(obs.releasable_to)))


@router.post(
    "/observations",
    status_code=status.HTTP_201_CREATED,
    summary="Submit one observation or an atomic batch",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}},
        "responses": {
            "201": {"description": "All accepted; ids already stored are accepted unchanged"},
            "400": {"description": "Body is not JSON"},
            "413": {"description": "Body or batch too large"},
            "422": {"description": "Nothing stored; one error per bad item and field"},
        },
    },
)
async def post_observations(
    request: Request, principal: Annotated[Principal, Depends(require(Permission.WRITE_OBSERVATIONS))]
) -> Response:
    """Store every observation of the batch, or none: 422 lists each bad item, field, value and rule."""
    settings = request.app.state.settings
    metrics = request.app.state.metrics
    body = await read_body(request, settings.max_body_bytes)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        metrics.batches_rejected.labels("malformed_json").inc()
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the batch is empty")
    if len(items) > settings.max_batch_items:
        metrics.batches_rejected.labels("too_many_items").inc()
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"batch has {len(items)} items; the limit is {settings.max_batch_items}"
        )
    outcome = await run_in_threadpool(_ingest, request, principal, items)
    if isinstance(outcome, list):
        metrics.batches_rejected.labels("invalid").inc()
        bad_items = len({e["index"] for e in outcome})
        return json_response(
            {
                "detail": f"{bad_items} of {len(items)} observations are invalid; nothing was stored",
                "errors": outcome[:_MAX_ERRORS_LISTED],
                "errors_total": len(outcome),
            },
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    metrics.observations_stored.inc(len(outcome.stored))
    metrics.observations_duplicate.inc(len(outcome.duplicates))
    metrics.observations_conflicting.inc(len(outcome.conflicts))
    return json_response(
        {
            "accepted": outcome.accepted,
            "stored": len(outcome.stored),
            "duplicates": outcome.duplicates,
            "conflicts": outcome.conflicts,
        },
        status.HTTP_201_CREATED,
    )


def _public(stored: StoredObservation) -> dict[str, Any]:
    """The document plus where it sits in the evidence log and the salt that opens its commitment."""
    ledger = None
    if stored.ledger_index is not None and stored.ledger_salt is not None:
        ledger = {"index": stored.ledger_index, "salt": base64.b64encode(stored.ledger_salt).decode()}
    return {**stored.document, "received_at": stored.received_at.isoformat().replace("+00:00", "Z"), "ledger": ledger}


@router.get("/observations/{observation_id}", summary="One observation as stored")
async def get_observation(
    request: Request, observation_id: str, principal: Annotated[Principal, Depends(require(Permission.READ))]
) -> Response:
    """The stored document with ``received_at`` and its ledger index; 404 if unknown or not releasable."""
    stored = await run_in_threadpool(request.app.state.store.get_observation, observation_id, principal)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no observation with id {observation_id!r}")
    return json_response(_public(stored))


@router.get("/observations", summary="Observations in time order, filtered and paginated")
async def list_observations(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    since: Annotated[datetime | None, Query(description="inclusive lower bound on observation time (ISO 8601 with offset)")] = None,
    until: Annotated[datetime | None, Query(description="exclusive upper bound on observation time")] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat; min_lon > max_lon crosses the antimeridian")] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    source_type: Annotated[list[str] | None, Query()] = None,
    org: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    """A page of observations; follow ``next_cursor`` for the rest."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must carry a UTC offset, e.g. 2023-04-01T00:00:00Z")
    query = ObservationQuery(
        since=since,
        until=until,
        bbox=parse_bbox(bbox) if bbox else None,
        kinds=tuple(kind or ()),
        source_types=tuple(source_type or ()),
        orgs=tuple(org or ()),
        limit=limit,
        cursor=cursor,
        reader=principal,
    )
    try:
        page = await run_in_threadpool(request.app.state.store.list_observations, query)
    except StoreError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return json_response({"items": [_public(item) for item in page.items], "next_cursor": page.next_cursor})


def parse_bbox(text: str) -> BBox:
    """``min_lon,min_lat,max_lon,max_lat`` → :class:`BBox`, or 422 saying what is wrong."""
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError(f"bbox needs 4 comma-separated numbers, got {len(parts)}")
        return BBox(*(float(p) for p in parts))
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bad bbox {text!r}: {exc}") from None


@router.get("/summary", tags=["observations"], summary="What the store holds: counts by kind, source type and organisation")
async def summary(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """Counts for the overview page, of what the caller may see."""
    return json_response(await run_in_threadpool(request.app.state.store.summarize_observations, principal))
