"""``/api/v1/observations``: atomic, idempotent batch intake and reads."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal
from truceline.api.auth import require, require_key
from truceline.api.integrity import check_stored
from truceline.domain.observation import Observation
from truceline.domain.strict import PlainInt, is_ascii_digits, parse_decimal
from truceline.service import batch_parser
from truceline.service.intake import ForeignOrganisation, accept_prepared
from truceline.store.ports import AddResult, BBox, ObservationQuery, StoredObservation
from truceline.store.sqlite import PreparedObservation, StoreError, prepare_batch

router = APIRouter(prefix="/api/v1", tags=["observations"], dependencies=[Depends(require_key)])

_REQUEST_SCHEMA = TypeAdapter(Observation | list[Observation]).json_schema(
    ref_template="#/components/schemas/{model}", mode="validation"
)


def json_response(payload: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON via orjson: several times faster than the default encoder on large pages."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it exceeds ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and is_ascii_digits(declared) and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    """415 unless the body is declared ``application/json`` (parameters: at most ``charset=utf-8``).

    What a body is must be said, not guessed: a batch sent as ``text/plain`` or ``application/xml`` (or with
    no type at all) is a client that will misread our answer too, and sniffing would let a form post from a
    browser pass as an API call. JSON Lines (``application/x-ndjson``) is for ``truceline ingest`` files;
    the API takes one object or an array (docs/observations.md#http).
    """
    declared = request.headers.get("content-type")
    if declared is None or not declared.strip():
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Content-Type is missing; send the batch as application/json")
    media, *params = (part.strip() for part in declared.split(";"))
    if media.lower() != "application/json":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"Content-Type {media[:80]!r} is not accepted; send the batch as application/json"
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"Content-Type parameter {param[:80]!r} is not accepted: send application/json, which is UTF-8 (charset=utf-8 or no parameter)"
            )


def store_batch(request: Request, principal: Principal, observations: list[Observation]) -> AddResult:
    """Store validated observations atomically for ``principal`` (403 if any is not its organisation's)."""
    return store_prepared(request, principal, prepare_batch(observations, datetime.now(UTC)))


def store_prepared(request: Request, principal: Principal, items: Sequence[PreparedObservation]) -> AddResult:
    """HTTP face of :func:`truceline.service.intake.accept_prepared`: a foreign organisation is a 403."""
    try:
        return accept_prepared(request.app.state, principal, items)
    except ForeignOrganisation as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc


@router.post(
    "/observations",
    status_code=status.HTTP_201_CREATED,
    summary="Submit one observation or an atomic batch",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}},
        "responses": {
            "201": {"description": "All accepted; ids already stored are accepted unchanged"},
            "400": {"description": "Body is not JSON"},
            "403": {"description": "Role may not write, or an item belongs to another organisation"},
            "413": {"description": "Body or batch too large"},
            "415": {"description": "Content-Type is not application/json (charset=utf-8 allowed)"},
            "422": {"description": "Nothing stored; one error per bad item and field (also NaN, Infinity, strings or booleans for numbers)"},
        },
    },
)
async def post_observations(
    request: Request, principal: Annotated[Principal, Depends(require(Permission.WRITE_OBSERVATIONS))]
) -> Response:
    """Store every observation of the batch, or none: 422 lists each bad item, field, value and rule."""
    settings = request.app.state.settings
    metrics = request.app.state.metrics
    try:
        require_json(request)
    except HTTPException:
        metrics.batches_rejected.labels("media_type").inc()
        raise
    body = await read_body(request, settings.max_body_bytes)
    arguments = (body, batch_parser.now(), settings.clock_skew.total_seconds(), settings.max_batch_items)
    pool = request.app.state.parser_pool
    if pool is not None:
        parsed = await asyncio.get_running_loop().run_in_executor(pool, batch_parser.parse_batch, *arguments)
    else:
        parsed = await run_in_threadpool(batch_parser.parse_batch, *arguments)
    if parsed.status:
        metrics.batches_rejected.labels(parsed.reason).inc()
        return json_response(parsed.payload, parsed.status)
    outcome = await run_in_threadpool(store_prepared, request, principal, parsed.items)
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
    out = {**stored.document, "received_at": stored.received_at.isoformat().replace("+00:00", "Z"), "ledger": ledger}
    if stored.excluded:  # only coalition staff are served such an observation at all
        out["excluded"] = stored.excluded
    return out


@router.get(
    "/observations/{observation_id}",
    summary="One observation as stored",
    responses={
        300: {"description": "The reader may see observations of several organisations under this id; pick one with ?org="},
        404: {"description": "No observation under this id that the reader may see"},
    },
)
async def get_observation(
    request: Request,
    observation_id: str,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    org: Annotated[
        str | None,
        Query(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$", description="the organisation whose id this is (ids are per organisation)"),
    ] = None,
) -> Response:
    """The stored document with ``received_at`` and its ledger index; 404 if unknown or not releasable.

    An id is an organisation's own: it resolves in the reader's organisation first. A reader who may see
    observations of several other organisations under the same id (an admin, coalition staff) gets 300 with
    one ``candidates`` entry per organisation and reads each with ``?org=``. Ids the reader may not see are
    never counted, so the answer reveals nothing about other organisations' ids.
    """
    found = await run_in_threadpool(request.app.state.store.find_observations, observation_id, principal, org)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no observation with id {observation_id!r}")
    first_org = found[0].document["source"]["org"]
    if org is None and first_org != principal.org and len(found) > 1:
        candidates = [
            {"org": item.document["source"]["org"], "id": item.id, "href": f"{request.url.path}?org={item.document['source']['org']}"}
            for item in found
        ]
        return json_response(
            {"detail": f"{len(found)} organisations use id {observation_id!r}; choose one with ?org=", "candidates": candidates},
            status.HTTP_300_MULTIPLE_CHOICES,
        )
    await run_in_threadpool(check_stored, request.app.state.store, [found[0]])  # an edited document is never served
    return json_response(_public(found[0]))


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
    limit: Annotated[PlainInt, Query(ge=1, le=10_000)] = 100,
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
    await run_in_threadpool(check_stored, request.app.state.store, page.items)
    return json_response({"items": [_public(item) for item in page.items], "next_cursor": page.next_cursor})


def parse_bbox(text: str) -> BBox:
    """``min_lon,min_lat,max_lon,max_lat`` → :class:`BBox`, or 422 saying what is wrong."""
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError(f"bbox needs 4 comma-separated numbers, got {len(parts)}")
        # Not float(): it reads "١", "1_0", "nan". Spaces around a comma are layout ("30, 44, 40, 52"), not a value.
        return BBox(*(parse_decimal(p.strip(" ")) for p in parts))
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bad bbox {text!r}: {exc}") from None


@router.get("/summary", tags=["observations"], summary="What the store holds: counts by kind, source type and organisation")
async def summary(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """Counts for the overview page, of what the caller may see."""
    return json_response(await run_in_threadpool(request.app.state.store.summarize_observations, principal))
