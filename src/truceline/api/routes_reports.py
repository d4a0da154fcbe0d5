"""``POST /api/v1/reports/text``: a report from people becomes located, timed observations.

The observations extracted from one report are stored atomically, like a batch of ``/observations``;
the answer also says what was read (places with their precision, times, events, unresolved names) so
that the sender can see why each observation exists or why none does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal
from truceline.api.auth import require
from truceline.api.routes_observations import json_response, read_body, store_batch
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.text.reports import ReportError, ReportIn, extract

router = APIRouter(prefix="/api/v1", tags=["reports"])

def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace ``#/$defs/X`` references by the definitions themselves: the schema stands alone in OpenAPI."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_RAW_SCHEMA = ReportIn.model_json_schema()
_REQUEST_SCHEMA = _inline(_RAW_SCHEMA, _RAW_SCHEMA.get("$defs", {}))


def _process(request: Request, principal: Principal, report: ReportIn) -> tuple[int, dict[str, Any]]:
    extraction = extract(report.to_report())
    records = extraction.records()
    summary = extraction.summary()
    if not records:
        return status.HTTP_200_OK, {"accepted": [], "stored": 0, "duplicates": [], "conflicts": [], **summary,
                                    "detail": "no event in a place of the theatre was found; nothing was stored"}
    settings = request.app.state.settings
    observations, errors = validate_all_or_nothing(records, validation_context(datetime.now(UTC), settings.clock_skew))
    if errors:
        return status.HTTP_422_UNPROCESSABLE_CONTENT, {
            "detail": "the observations extracted from this report are invalid; nothing was stored",
            "errors": [e.as_dict() for e in errors],
            **summary,
        }
    result = store_batch(request, principal, observations)
    return status.HTTP_201_CREATED, {
        "accepted": result.accepted,
        "stored": len(result.stored),
        "duplicates": result.duplicates,
        "conflicts": result.conflicts,
        "observations": [o.model_dump(mode="json", exclude_none=True) for o in observations],
        **summary,
    }


@router.post(
    "/reports/text",
    summary="Extract and store the observations of a free-text report (de, en, uk, ru)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}},
        "responses": {
            "200": {"description": "Read, but no event in Ukraine or Russia found: nothing stored"},
            "201": {"description": "Observations stored (ids already stored are accepted unchanged)"},
            "400": {"description": "Body is not JSON"},
            "413": {"description": "Body too large"},
            "422": {"description": "Report invalid (one error per field); nothing stored"},
        },
    },
)
async def post_text_report(
    request: Request, principal: Annotated[Principal, Depends(require(Permission.WRITE_OBSERVATIONS))]
) -> Response:
    """Read one report: places with honest precision, times against ``published_at``, events, claims."""
    settings = request.app.state.settings
    body = await read_body(request, settings.max_body_bytes)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        report = ReportIn.model_validate(doc)
        report.to_report()
    except ValidationError as exc:
        errors = [
            {"index": 0, "field": ".".join(str(p) for p in e["loc"]) or "(report)", "message": e["msg"], "rule": e["type"]}
            for e in exc.errors(include_url=False)
        ]
        return json_response({"detail": "the report is invalid; nothing was stored", "errors": errors}, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except ReportError as exc:
        return json_response(
            {"detail": "the report is invalid; nothing was stored", "errors": [{"index": 0, "field": "(report)", "message": str(exc), "rule": "report"}]},
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    code, payload = await run_in_threadpool(_process, request, principal, report)
    return json_response(payload, code)
