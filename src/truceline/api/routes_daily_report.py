"""``GET /api/v1/reports/daily``: the daily report as HTML, Markdown or PDF, for an audience.

The public edition (the default) rests only on observations releasable to PUBLIC; the coalition edition
on those releasable to COALITION or PUBLIC and is refused (403) to a caller whose organisation is not in
COALITION. Either way the edition is computed for the audience capped at what the caller may read, so a
report never shows a caller more than ``/incidents`` would.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal
from truceline.api.auth import require
from truceline.api.routes_ledger import current_ledger_key
from truceline.report.audience import AudienceError, edition_reader
from truceline.report.build import daily_report
from truceline.report.render import MEDIA_TYPES

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get(
    "/reports/daily",
    summary="The daily report for a UTC day (HTML, Markdown or PDF), public or coalition edition",
    responses={200: {"content": {"text/html": {}, "text/markdown": {}, "application/pdf": {}}}},
)
async def daily(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    day: Annotated[date, Query(alias="date", description="UTC day, YYYY-MM-DD")],
    fmt: Annotated[Literal["html", "md", "pdf"], Query(alias="format")] = "html",
    audience: Annotated[Literal["public", "coalition"], Query(description="coalition needs a COALITION member")] = "public",
) -> Response:
    """Violations by party, sector and kind; the previous 7 days; map; notable incidents with ledger leaves;
    what could not be verified; method. 404 when no agreement is in force."""
    try:
        edition_reader(audience, principal)
    except AudienceError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    current = request.app.state.agreement.get()
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no agreement loaded: start the server with --agreement FILE or PUT /api/v1/agreement")
    built = await run_in_threadpool(
        daily_report, request.app.state.store, current_ledger_key(request), day, audience, fmt, principal,
        (current.agreement, current.geometry),
    )
    filename = f"truceline-daily-{day.isoformat()}-{audience}.{fmt}"
    return Response(built.content, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": f'inline; filename="{filename}"'})
